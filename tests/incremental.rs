//! Differential test of incremental rule evaluation: after every edit of long random edit scripts
//! over real Keras files, the engine's findings (cached units reused) equal a from-scratch analysis.

use keras_lsp::analysis::analyze;
use keras_lsp::analysis::incremental::Engine;
use keras_lsp::document::{Document, TextChange};
use keras_lsp::finding::Finding;
use keras_lsp::line_index::{Encoding, LineIndex};
use keras_lsp::settings::Settings;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Text that makes edits meaningful to the rules: names the cross-statement analyses follow,
/// mixed precision, pipelines, imports, definitions, suppressions.
const SNIPPETS: &[&str] = &[
    "x",
    "\n",
    "    ",
    "(",
    ")",
    ",",
    "#",
    "'",
    "\"",
    ":",
    "=",
    "model",
    "opt",
    "ds",
    "optimizer",
    ".prefetch(2)",
    ".cache()",
    ".shuffle(100)",
    ".batch(32)",
    ".map(f)",
    "\nmodel = keras.Sequential([keras.layers.Dense(3, activation='softmax')])\n",
    "\nmodel.add(keras.layers.Dense(1, activation='sigmoid'))\n",
    "\nmodel.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))\n",
    "\nkeras.mixed_precision.set_global_policy('mixed_float16')\n",
    "\npolicy = 'mixed_float16'\n",
    "\nopt = keras.optimizers.Adam()\n",
    "\nopt = keras.mixed_precision.LossScaleOptimizer(keras.optimizers.Adam())\n",
    "\nwith tf.GradientTape() as tape:\n    loss = f()\ngrads = tape.gradient(loss, w)\nopt.apply_gradients(zip(grads, w))\n",
    "\nds = tf.data.Dataset.from_tensor_slices(x).shuffle(10).batch(32)\n",
    "\nds = ds.cache()\n",
    "\nmodel.fit(ds, batch_size=64, epochs=3)\n",
    "\nfor step in range(10):\n    model.predict(x)\n",
    "\ndef build():\n    return keras.Sequential([keras.layers.Dense(2, activation='softmax')])\n",
    "\ndef step(opt):\n    opt.apply_gradients([])\n",
    "\nimport tf_keras\n",
    "\nfrom tensorflow.keras import mixed_precision\n",
    "\nfrom tensorflow.data import AUTOTUNE, Dataset\n",
    "\nimport numpy as tf\n",
    "\nfrom keras.utils import PyDataset\n",
    "\nckpt = keras.callbacks.ModelCheckpoint('m.keras', save_freq=1)\n",
    "\nx = keras.layers.Dense(8, kernel_initializer='random_normal')(x)\n",
    "  # noqa",
    "  # noqa: KRS201",
    "\r\n",
    "中",
];

fn corpus(names: &[&str]) -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/");
    let mut text = String::new();
    for name in names {
        text.push_str(&std::fs::read_to_string(format!("{dir}{name}")).expect("corpus file"));
        text.push('\n');
    }
    text
}

/// A char boundary at or before `offset` that does not split a `\r\n` pair.
fn snap(text: &str, offset: usize) -> usize {
    let mut o = offset.min(text.len());
    while !text.is_char_boundary(o)
        || (o > 0 && text.as_bytes()[o - 1] == b'\r' && text.as_bytes().get(o) == Some(&b'\n'))
    {
        o -= 1;
    }
    o
}

/// One random edit: mostly small (a character at a line end, like typing), sometimes a snippet,
/// a deletion, or a replaced range.
fn random_edit(rng: &mut Rng, text: &str) -> (usize, usize, String) {
    match rng.below(10) {
        0..=3 => {
            // Type at the end of a random line.
            let lines: Vec<usize> = std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect();
            let line = lines[rng.below(lines.len())];
            let end = text[line..].find('\n').map_or(text.len(), |i| line + i);
            let end = snap(text, end);
            let ch = SNIPPETS[rng.below(12)].to_string();
            (end, end, ch)
        }
        4..=6 => {
            let at = snap(text, rng.below(text.len() + 1));
            (at, at, SNIPPETS[rng.below(SNIPPETS.len())].to_string())
        }
        7 | 8 => {
            let start = snap(text, rng.below(text.len() + 1));
            let end = snap(text, start + rng.below(40)).max(start);
            (start, end, String::new())
        }
        _ => {
            let start = snap(text, rng.below(text.len() + 1));
            let end = snap(text, start + rng.below(12)).max(start);
            (start, end, SNIPPETS[rng.below(SNIPPETS.len())].to_string())
        }
    }
}

fn run(seed: u64, files: &[&str], edits: usize, settings: &Settings) -> (usize, usize) {
    let mut rng = Rng(seed);
    let start = corpus(files);
    let mut doc = Document::new(start.clone(), 1);
    let mut engine = Engine::default();
    let mut expected = start.clone();
    let encoding = Encoding::Utf16;
    let (mut incremental, mut reruns) = (0, 0);
    let mut previous = start.clone();
    for step in 0..edits {
        let (from, to, new) = random_edit(&mut rng, &expected);
        let index = LineIndex::new(&expected);
        let (sl, sc) = index.position(&expected, from, encoding);
        let (el, ec) = index.position(&expected, to, encoding);
        let mut changes = vec![TextChange {
            range: Some(((sl, sc), (el, ec))),
            text: new.clone(),
        }];
        expected.replace_range(from..to, &new);
        if rng.below(8) == 0 {
            // A second change in the same notification.
            let (from, to, new) = random_edit(&mut rng, &expected);
            let index = LineIndex::new(&expected);
            let (sl, sc) = index.position(&expected, from, encoding);
            let (el, ec) = index.position(&expected, to, encoding);
            changes.push(TextChange {
                range: Some(((sl, sc), (el, ec))),
                text: new.clone(),
            });
            expected.replace_range(from..to, &new);
        }
        doc.apply_changes(step as i32 + 2, &changes, encoding);
        assert_eq!(doc.text(), expected);
        // Analyse only some versions, so the engine also sees several edits at once.
        if rng.below(4) == 0 {
            continue;
        }
        let snapshot = doc.take_snapshot();
        let got = engine.update(
            &snapshot.text,
            &snapshot.forest,
            &snapshot.edits,
            settings,
            0,
        );
        let want = analyze(doc.text(), &doc.forest(), settings);
        if *got != want {
            if let Ok(dir) = std::env::var("KERAS_LSP_DUMP") {
                std::fs::write(format!("{dir}/prev.py"), &previous).unwrap();
                std::fs::write(format!("{dir}/cur.py"), &expected).unwrap();
            }
            let missing: Vec<_> = want.iter().filter(|f| !got.contains(f)).collect();
            let extra: Vec<_> = got.iter().filter(|f| !want.contains(f)).collect();
            panic!(
                "seed {seed:#x} step {step}: incremental findings differ from a fresh analysis\n\
                 stats: {:?}\nmissing: {missing:#?}\nextra: {extra:#?}",
                engine.stats
            );
        }
        previous = expected.clone();
        if !engine.stats.full {
            incremental += 1;
            reruns += engine.stats.rerun;
        }
        // Keep the document from growing without bound.
        if expected.len() > 3 * start.len() {
            doc = Document::new(start.clone(), step as i32 + 2);
            expected = start.clone();
        }
    }
    (incremental, reruns)
}

const FILES_A: &[&str] = &[
    "keras3_cifar10_functional_tfdata.py",
    "tf23_experimental_mixed_precision.py",
    "keras3_subclassed_scale_loss.py",
    "tfrecord_mobilenet_pipeline.py",
];

const FILES_B: &[&str] = &[
    "tfkeras_bf16_distributed_loop.py",
    "keras3_mnist_mlp.py",
    "dcgan_fashion_mnist.py",
    "nbexport_landcover_pitfalls.py",
    "tfkeras_conv_vae.py",
];

/// `KERAS_LSP_STRESS=N`: N more seeds over every corpus pair, for soak runs.
#[test]
fn incremental_stress_when_asked() {
    let Some(n) = std::env::var("KERAS_LSP_STRESS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return;
    };
    let names: Vec<String> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus"))
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".py"))
            .collect();
    for seed in 0..n {
        let a = names[(seed as usize * 7) % names.len()].as_str();
        let b = names[(seed as usize * 13 + 5) % names.len()].as_str();
        run(seed * 0x9e37_79b9 + 17, &[a, b], 800, &Settings::default());
    }
}

#[test]
fn incremental_equals_from_scratch_a() {
    let (incremental, _) = run(0x1234_5678, FILES_A, 1200, &Settings::default());
    assert!(
        incremental > 300,
        "most updates are incremental ({incremental})"
    );
}

#[test]
fn incremental_equals_from_scratch_b() {
    let (incremental, _) = run(0x9e37_79b9, FILES_B, 1200, &Settings::default());
    assert!(
        incremental > 300,
        "most updates are incremental ({incremental})"
    );
}

#[test]
fn incremental_equals_from_scratch_with_options() {
    let settings = Settings::from_layers(&[serde_json::json!({
        "ignore": ["KRS101"],
        "rules": {"KRS201": {"severity": "error"}},
    })])
    .0;
    run(0xdead_beef, FILES_A, 600, &settings);
}

/// Replaces the first `old` in the document by `new`, updates the engine and checks it against a
/// from-scratch analysis; returns the findings.
fn edit_and_compare(doc: &mut Document, engine: &mut Engine, old: &str, new: &str) -> Vec<Finding> {
    let text = doc.text().to_string();
    let from = text.find(old).expect("the text to replace is there");
    let index = LineIndex::new(&text);
    let start = index.position(&text, from, Encoding::Utf16);
    let end = index.position(&text, from + old.len(), Encoding::Utf16);
    let version = doc.version() + 1;
    doc.apply_changes(
        version,
        &[TextChange {
            range: Some((start, end)),
            text: new.to_string(),
        }],
        Encoding::Utf16,
    );
    let settings = Settings::default();
    let snapshot = doc.take_snapshot();
    let got = engine.update(
        &snapshot.text,
        &snapshot.forest,
        &snapshot.edits,
        &settings,
        0,
    );
    assert!(
        !engine.stats.full,
        "an edit inside a statement stays incremental"
    );
    assert_eq!(*got, analyze(doc.text(), &doc.forest(), &settings));
    got.to_vec()
}

fn codes(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.code).collect()
}

/// KRS402 checks each `predict` call alone and records what the names it resolves read: an
/// edit in another statement that changes what a name holds must re-run it.
#[test]
fn predict_in_loop_follows_edits_to_the_model_factory() {
    let source = "import keras\n\n\ndef build():\n    return keras.Sequential([keras.layers.Dense(2)])\n\n\nmodel = build()\n\nfor batch in batches:\n    model.predict(batch)\n";
    let mut doc = Document::new(source.to_string(), 1);
    let mut engine = Engine::default();
    let snapshot = doc.take_snapshot();
    let first = engine.update(
        &snapshot.text,
        &snapshot.forest,
        &snapshot.edits,
        &Settings::default(),
        0,
    );
    assert_eq!(first.iter().map(|f| f.code).collect::<Vec<_>>(), ["KRS402"]);
    // `build` no longer returns a Keras model: the loop's `predict` is not reported.
    let found = edit_and_compare(
        &mut doc,
        &mut engine,
        "keras.Sequential([keras.layers.Dense(2)])",
        "make_forest()",
    );
    assert!(found.is_empty(), "{found:?}");
    // And back.
    let found = edit_and_compare(
        &mut doc,
        &mut engine,
        "make_forest()",
        "keras.Sequential([])",
    );
    assert_eq!(codes(&found), ["KRS402"]);
}

/// A pipeline file: KRS403 names the line of the `.batch` that makes `batch_size` moot.
const PIPELINE: &str = "import tensorflow as tf\nimport keras\n\n\ndef helper(a):\n    return a + 1\n\n\nprint('hello')\n\nds = tf.data.Dataset.range(8).batch(32)\nmodel = keras.Sequential([])\nmodel.fit(ds, batch_size=64)\n";

fn open_and_analyse(source: &str) -> (Document, Engine, Vec<Finding>) {
    let mut doc = Document::new(source.to_string(), 1);
    let mut engine = Engine::default();
    let snapshot = doc.take_snapshot();
    let first = engine.update(
        &snapshot.text,
        &snapshot.forest,
        &snapshot.edits,
        &Settings::default(),
        0,
    );
    (doc, engine, first.to_vec())
}

/// A `predict` site depends on the module's bindings of its receiver only through the
/// statements spelling the name at module level or defining it there: an edit to a function
/// that merely spells it re-runs that function alone, while a new module-level binding (an
/// assignment, or a `class` of that name) re-runs the site.
#[test]
fn predict_sites_rerun_only_when_module_bindings_of_their_receiver_may_change() {
    let source = "import keras\n\nmodel = keras.Sequential([])\n\n\ndef report(model):\n    print(model)\n\n\nfor x in range(3):\n    model.predict(x)\n";
    let (mut doc, mut engine, first) = open_and_analyse(source);
    assert_eq!(codes(&first), ["KRS402"], "{first:?}");
    edit_and_compare(&mut doc, &mut engine, "print(model)", "print(model, 1)");
    let stats = &engine.stats;
    assert_eq!((stats.dirty, stats.rerun), (1, 1), "{stats:?}");
    // A module-level use that is no binding: the site runs again and stays reported.
    let found = edit_and_compare(
        &mut doc,
        &mut engine,
        "\n\n\ndef report",
        "\nmodel.summary()\n\n\ndef report",
    );
    assert_eq!(codes(&found), ["KRS402"], "{found:?}");
    let stats = &engine.stats;
    assert_eq!(stats.rerun, stats.dirty + 1, "{stats:?}");
    // A module-level `class model` rebinds the name to something else.
    let found = edit_and_compare(
        &mut doc,
        &mut engine,
        "model.summary()\n",
        "class model:\n    pass\n",
    );
    assert!(found.is_empty(), "{found:?}");
    let found = edit_and_compare(
        &mut doc,
        &mut engine,
        "class model:\n    pass\n",
        "model.summary()\n",
    );
    assert_eq!(codes(&found), ["KRS402"], "{found:?}");
}

/// The rules that read the dataflow re-run only when its signature changes: an edit to a
/// statement outside every pipeline (or to a helper that builds none) re-runs that statement
/// alone, while one to the pipeline re-runs its readers.
#[test]
fn dataflow_readers_rerun_only_when_the_dataflow_changes() {
    let (mut doc, mut engine, first) = open_and_analyse(PIPELINE);
    assert!(first.iter().any(|f| f.code == "KRS403"), "{first:?}");
    // Neither statement can touch the dataflow: it is not even rebuilt to compare.
    edit_and_compare(&mut doc, &mut engine, "'hello'", "'hellox'");
    assert_eq!((engine.stats.rerun, engine.stats.module_rerun), (1, 0));
    assert!(!engine.stats.dataflow_built);
    edit_and_compare(&mut doc, &mut engine, "a + 1", "a + 2");
    assert_eq!((engine.stats.rerun, engine.stats.module_rerun), (1, 0));
    assert!(!engine.stats.dataflow_built);
    let found = edit_and_compare(&mut doc, &mut engine, ".batch(32)", ".map(abs)");
    assert!(engine.stats.module_rerun > 0, "{:?}", engine.stats);
    // KRS403's statement did not change, but what it says about the pipeline did.
    let krs403 = found.iter().find(|f| f.code == "KRS403").expect("KRS403");
    assert!(
        krs403.message.contains("never batched"),
        "{}",
        krs403.message
    );
}

/// A rebuilt dataflow analyses again only the function scopes that built something last time,
/// or whose text changed; the others are reused from the previous build.
#[test]
fn a_rebuilt_dataflow_reuses_the_scopes_that_built_nothing() {
    let source = "import tensorflow as tf\n\n\ndef report(x):\n    print(x)\n\n\ndef load():\n    return tf.data.Dataset.range(8).batch(2)\n\n\ndef train(model):\n    model.fit(load())\n";
    let (mut doc, mut engine, first) = open_and_analyse(source);
    assert!(engine.stats.dataflow_built);
    let reported = |engine: &Engine| {
        (
            engine.stats.dataflow_built,
            engine.stats.scopes_analysed,
            engine.stats.scopes_reused,
        )
    };
    // The first build found `report` inert; `load` and `train` build a pipeline and consume it.
    assert_eq!(reported(&engine), (true, 3, 0), "{first:?}");
    edit_and_compare(&mut doc, &mut engine, ".batch(2)", ".batch(4)");
    assert_eq!(reported(&engine), (true, 2, 1));
    edit_and_compare(
        &mut doc,
        &mut engine,
        "model.fit(load())",
        "model.fit(load(), epochs=2)",
    );
    assert_eq!(reported(&engine), (true, 2, 1));
    // `report` starts building something: analysed (twice: it looks `load` up before it is
    // summarised), and nothing is reused.
    edit_and_compare(
        &mut doc,
        &mut engine,
        "print(x)",
        "x.batch(2).prefetch(1)\n    model.fit(load().map(abs))",
    );
    assert_eq!(reported(&engine), (true, 4, 0));
}

/// Rules that only ask what consumes the data at a call (`fit` of arrays or of a pipeline?)
/// run again when the consumers at that call changed, not whenever any pipeline did.
#[test]
fn consumer_questions_rerun_only_where_the_consumers_changed() {
    let source = "import keras\nimport tensorflow as tf\n\nmodel = keras.Sequential([])\nds = tf.data.Dataset.range(8)\nmodel.fit(x_train, batch_size=4096)\n";
    let (mut doc, mut engine, first) = open_and_analyse(source);
    assert_eq!(codes(&first), ["KRS401"], "{first:?}");
    // The pipeline changed; what `fit` is given did not: its statement does not run again.
    edit_and_compare(&mut doc, &mut engine, "range(8)", "range(8).batch(2)");
    assert!(engine.stats.dataflow_changed, "{:?}", engine.stats);
    assert_eq!(engine.stats.rerun, 1, "{:?}", engine.stats);
    // Now `fit` is given the pipeline: KRS401 leaves it to KRS403 (and KRS301 sees the
    // pipeline consumed).
    let found = edit_and_compare(
        &mut doc,
        &mut engine,
        "\nmodel.fit(x_train",
        "\nmodel.fit(ds",
    );
    assert_eq!(codes(&found), ["KRS301", "KRS403"], "{found:?}");
    // The pipeline is gone: the consumer at `fit` is too, so its statement runs again.
    let found = edit_and_compare(
        &mut doc,
        &mut engine,
        "ds = tf",
        "ds = list_of_arrays  # tf",
    );
    assert_eq!(codes(&found), ["KRS401"], "{found:?}");
    // The edited statement, its new comment, and `fit`'s.
    assert_eq!(engine.stats.rerun, 3, "{:?}", engine.stats);
    // A helper stops returning a pipeline: `predict` in the loop is given arrays now, which
    // a call of the model can take (KRS402's fix, which asks only what consumes at `predict`),
    // though the loop's statement did not change.
    let source = "import keras\nimport numpy as np\nimport tensorflow as tf\n\nmodel = keras.Sequential([])\n\n\ndef load():\n    return tf.data.Dataset.range(8)\n\n\nbatch = load()\nfor i in range(3):\n    model.predict(batch.skip(i), verbose=0)\n";
    let fixable = |findings: &[Finding]| {
        findings
            .iter()
            .filter(|f| f.code == "KRS402")
            .map(|f| f.fix.is_some())
            .collect::<Vec<_>>()
    };
    let (mut doc, mut engine, first) = open_and_analyse(source);
    assert_eq!(fixable(&first), [false], "{first:?}");
    let found = edit_and_compare(
        &mut doc,
        &mut engine,
        "tf.data.Dataset.range(8)",
        "np.zeros(8)",
    );
    assert_eq!(fixable(&found), [true], "{found:?}");
}

/// The rules that read the mixed-precision policy run again when the policy settings changed,
/// not whenever a statement that holds a setter did.
#[test]
fn policy_readers_rerun_only_when_the_settings_change() {
    let source = "import keras\nfrom keras import layers, mixed_precision\n\n\ndef setup(verbose):\n    mixed_precision.set_global_policy(\"mixed_float16\")\n    print(verbose)\n\n\nmodel = keras.Sequential([layers.Dense(10, activation=\"softmax\")])\n";
    let (mut doc, mut engine, first) = open_and_analyse(source);
    assert_eq!(codes(&first), ["KRS503"], "{first:?}");
    // The setter's statement changed, the settings did not: only it runs again.
    edit_and_compare(&mut doc, &mut engine, "print(verbose)", "print(verbose, 1)");
    assert_eq!(engine.stats.rerun, 1, "{:?}", engine.stats);
    // Another policy: the model's statement runs again and its finding goes.
    let found = edit_and_compare(
        &mut doc,
        &mut engine,
        "\"mixed_float16\"",
        "\"mixed_bfloat16\"",
    );
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(engine.stats.rerun, 2, "{:?}", engine.stats);
}

/// KRS503 runs only in files that spell `mixed_` (its `requires_text`): a statement it skipped
/// must run again once another statement brings the text in, and its finding go when it leaves.
#[test]
fn rules_skipped_for_want_of_their_text_run_once_an_edit_elsewhere_brings_it() {
    let source = "import keras\nfrom keras import layers\n\n\ndef setup(verbose):\n    print(verbose)\n\n\nmodel = keras.Sequential([layers.Dense(10, activation=\"softmax\")])\n";
    let (mut doc, mut engine, first) = open_and_analyse(source);
    assert!(first.is_empty(), "{first:?}");
    let policy = "keras.mixed_precision.set_global_policy(\"mixed_float16\")";
    let found = edit_and_compare(&mut doc, &mut engine, "print(verbose)", policy);
    assert_eq!(codes(&found), ["KRS503"], "{found:?}");
    let found = edit_and_compare(&mut doc, &mut engine, policy, "print(verbose)");
    assert!(found.is_empty(), "{found:?}");
}

/// Likewise KRS501 (`mixed_precision`): the call spells only an alias, the import the module.
#[test]
fn a_removed_api_reached_through_an_alias_is_found_once_the_import_names_it() {
    let source =
        "from tensorflow.keras import layers as mp\n\n\nmp.set_policy(\"mixed_float16\")\n";
    let (mut doc, mut engine, first) = open_and_analyse(source);
    assert!(first.is_empty(), "{first:?}");
    let found = edit_and_compare(
        &mut doc,
        &mut engine,
        "layers as mp",
        "mixed_precision as mp",
    );
    assert_eq!(codes(&found), ["KRS501"], "{found:?}");
}

/// A layer stack followed through a function body read only that body: edits to other
/// statements of the file re-run nothing of the function (before, the scan counted as reading
/// everything before or after it when it reached the start or end of the body).
#[test]
fn layer_stacks_inside_a_function_depend_on_its_body_only() {
    let source = "import keras\nfrom keras import layers\n\nsize = 1\n\n\ndef tower(x):\n    x = layers.Dense(8, kernel_initializer=\"he_normal\")(x)\n    y = layers.Dense(4, activation=\"tanh\", kernel_initializer=\"he_normal\")(x)\n    return y\n\n\nother = 1\n";
    let (mut doc, mut engine, first) = open_and_analyse(source);
    assert!(!first.is_empty(), "{first:?}");
    for (old, new) in [("other = 1", "other = 2"), ("size = 1", "size = 2")] {
        let found = edit_and_compare(&mut doc, &mut engine, old, new);
        assert_eq!(engine.stats.rerun, 1, "{new}: {:?}", engine.stats);
        assert_eq!(found.len(), first.len(), "{found:?}");
    }
    // An edit of the body re-runs the function.
    edit_and_compare(&mut doc, &mut engine, "Dense(8,", "Dense(16,");
    assert_eq!(engine.stats.rerun, 1, "{:?}", engine.stats);
}

/// Messages that name the line of a pipeline step elsewhere follow line breaks added above it,
/// though neither statement changed.
#[test]
fn line_numbers_in_messages_follow_line_breaks() {
    let (mut doc, mut engine, first) = open_and_analyse(PIPELINE);
    let message = |findings: &[Finding]| {
        findings
            .iter()
            .find(|f| f.code == "KRS403")
            .map(|f| f.message.clone())
            .unwrap_or_default()
    };
    assert!(
        message(&first).contains("on line 11"),
        "{}",
        message(&first)
    );
    let now = edit_and_compare(&mut doc, &mut engine, "print('hello')", "print('hello')\n");
    assert!(message(&now).contains("on line 12"), "{}", message(&now));
}

/// A helper that hands back its parameter carries the pipeline through its call sites: an
/// edit to its body alone changes what `fit` receives, so the dataflow is rebuilt and compared.
#[test]
fn helpers_that_pass_pipelines_through_are_never_skipped() {
    let source = "import tensorflow as tf\nimport keras\n\n\ndef passthrough(a):\n    return a\n\n\nds = tf.data.Dataset.range(8).batch(32)\nds2 = passthrough(ds)\nmodel = keras.Sequential([])\nmodel.fit(ds2, batch_size=64)\n";
    let (mut doc, mut engine, first) = open_and_analyse(source);
    assert!(codes(&first).contains(&"KRS403"), "{first:?}");
    let found = edit_and_compare(&mut doc, &mut engine, "return a", "return None");
    assert!(engine.stats.dataflow_built);
    assert!(!codes(&found).contains(&"KRS403"), "{found:?}");
    let found = edit_and_compare(&mut doc, &mut engine, "return None", "return a");
    assert!(codes(&found).contains(&"KRS403"), "{found:?}");
}

/// An edit to an import stays incremental: only the statements spelling a name whose binding
/// changed run again, and fixes spelled with the file's imports follow new imports.
#[test]
fn import_edits_rerun_only_the_statements_that_spell_a_rebound_name() {
    let source = "import keras\nfrom keras import layers\n\n\ndef helper(a):\n    return a + 1\n\n\nother = helper(3)\nmodel = keras.Sequential([layers.Dense(8, activation=\"tanh\", kernel_initializer=keras.initializers.HeNormal())])\n";
    let (mut doc, mut engine, first) = open_and_analyse(source);
    assert_eq!(codes(&first), ["KRS104"]);
    let fix_text = |findings: &[Finding]| {
        findings[0].fix.as_ref().expect("a fix").edits[0]
            .content
            .clone()
    };
    assert_eq!(fix_text(&first), "keras.initializers.GlorotUniform()");
    // `layers` no longer names Keras layers: the untouched model statement runs again.
    let found = edit_and_compare(&mut doc, &mut engine, "import layers", "import layersx");
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(engine.stats.rerun, 2, "{:?}", engine.stats);
    let found = edit_and_compare(&mut doc, &mut engine, "import layersx", "import layers");
    assert_eq!(codes(&found), ["KRS104"]);
    // A new module-level name binds nothing an import did: only its statement runs again.
    edit_and_compare(&mut doc, &mut engine, "other = ", "otherx = ");
    assert_eq!(engine.stats.rerun, 1, "{:?}", engine.stats);
    // A new import changes how the fix spells the initializer, though its statement neither
    // changed nor spells the new name.
    let found = edit_and_compare(
        &mut doc,
        &mut engine,
        "import keras\n",
        "import keras\nfrom keras.initializers import GlorotUniform\n",
    );
    assert_eq!(codes(&found), ["KRS104"]);
    assert_eq!(fix_text(&found), "GlorotUniform()");
}

/// Statements that can neither hold nor change any of the dataflow are told apart without
/// building it: imports, classes and functions that build nothing alone,
/// names the dataflow knows spelled only as attributes or keywords, names bound to a pipeline
/// only inside a function, method names, and calls of helpers that give something only when passed one.
#[test]
fn statements_that_cannot_change_the_dataflow_do_not_rebuild_it() {
    let source = "import os\nimport tensorflow as tf\nimport keras\n\n\ndef load_data():\n    return tf.data.Dataset.range(8)\n\n\ndef build_model(hidden):\n    for width in hidden:\n        print(width)\n    return keras.Sequential([])\n\n\nclass Logger(keras.callbacks.Callback):\n    def on_epoch_end(self, epoch, logs=None):\n        print(epoch)\n\n\nclass Loader:\n    def data(self):\n        return tf.data.Dataset.range(2)\n\n\ndef main():\n    ds = load_data().batch(32)\n    model = build_model((8,))\n    model.fit(ds, batch_size=64)\n\n\nmodel = build_model((4,))\nsummary = model.load_data(load_data=1)\nprint(ds)\ndata = 3\n";
    let (mut doc, mut engine, first) = open_and_analyse(source);
    assert!(codes(&first).contains(&"KRS403"), "{first:?}");
    for (old, new) in [
        ("print(epoch)", "print(epochx)"),
        ("model = build_model((4,))", "model = build_model((4,))x"),
        (
            "model.load_data(load_data=1)",
            "model.load_data(load_data=2)",
        ),
        ("print(ds)", "print(ds)x"),
        ("data = 3", "data = 3x"),
    ] {
        let found = edit_and_compare(&mut doc, &mut engine, old, new);
        assert!(!engine.stats.dataflow_built, "{new}: {:?}", engine.stats);
        assert!(codes(&found).contains(&"KRS403"), "{new}: {found:?}");
    }
    // Calling the helper that returns a real pipeline does build it (and changes it).
    edit_and_compare(&mut doc, &mut engine, "print(ds)x", "print(load_data())");
    assert!(engine.stats.dataflow_built, "{:?}", engine.stats);
    // With no finding that reads the imports (nothing to fix here), an import edit re-runs
    // only its statement.
    let source = "import os\nimport tensorflow as tf\n\nds = tf.data.Dataset.range(8).batch(4).prefetch(tf.data.AUTOTUNE)\nfor batch in ds:\n    print(batch)\n";
    let (mut doc, mut engine, first) = open_and_analyse(source);
    assert!(first.is_empty(), "{first:?}");
    edit_and_compare(&mut doc, &mut engine, "import os\n", "import os, sys\n");
    assert!(!engine.stats.dataflow_built, "{:?}", engine.stats);
}

/// A big file is analysed from scratch on two cores, each half of its statements in its own
/// context: the findings, and what later edits re-run, are those of one analysis.
#[test]
fn a_big_file_analysed_on_two_cores_finds_what_one_analysis_finds() {
    let mut names: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .collect();
    names.sort();
    // Not the file that asks to be ignored whole, nor those calling `predict` (one is added).
    names.retain(|p| {
        let text = std::fs::read_to_string(p).unwrap();
        !text.contains("ignore-file") && !text.contains("predict")
    });
    let mut source = String::new();
    let mut copies = 0;
    while source.len() < 200_000 {
        source.push_str(&format!("# copy {copies}\n"));
        copies += 1;
        for name in &names {
            source.push_str(&std::fs::read_to_string(name).unwrap());
            source.push('\n');
        }
    }
    let (mut doc, mut engine, first) = open_and_analyse(&source);
    assert!(engine.stats.parallel_halves, "{:?}", engine.stats);
    assert_eq!(
        first,
        analyze(doc.text(), &doc.forest(), &Settings::default())
    );
    assert!(first.len() > 50, "{}", first.len());
    // A file-wide fact changed in either half: the units of both re-run from their reads.
    for copy in [0, copies - 1] {
        let marker = format!("# copy {copy}\n");
        let policy = format!(
            "{marker}import keras\nkeras.mixed_precision.set_global_policy(\"mixed_float16\")\n"
        );
        let found = edit_and_compare(&mut doc, &mut engine, &marker, &policy);
        assert_ne!(found, first);
    }
    // The first `predict` of the file (in the second half).
    let found = edit_and_compare(
        &mut doc,
        &mut engine,
        "# copy 1\n",
        "# copy 1\nmodel = keras.Sequential([])\nfor x in range(3):\n    model.predict(x)\n",
    );
    assert!(codes(&found).contains(&"KRS402"), "{found:?}");
}

/// Only a change of the imports' table re-runs its readers as a whole (a fix spelling
/// `tf.data.AUTOTUNE` with the names the imports bind): an edited import statement that binds
/// the same names re-runs only the statements edited.
#[test]
fn import_edits_that_bind_the_same_names_rerun_no_reader_of_the_imports() {
    let source = "import os\nimport tensorflow as tf\n\nds = tf.data.Dataset.range(8).map(lambda x: x * 2).batch(4)\nfor batch in ds:\n    print(batch)\n";
    let (mut doc, mut engine, first) = open_and_analyse(source);
    assert_eq!(codes(&first), ["KRS302"], "{first:?}");
    edit_and_compare(&mut doc, &mut engine, "import os\n", "import os  # paths\n");
    let stats = &engine.stats;
    assert_eq!(
        (stats.rerun, stats.module_rerun),
        (stats.dirty, 0),
        "{stats:?}"
    );
    // A new binding may spell the fix differently: its readers run again.
    let found = edit_and_compare(
        &mut doc,
        &mut engine,
        "import os  # paths\n",
        "import os  # paths\nfrom tensorflow import data\n",
    );
    assert!(engine.stats.module_rerun > 0, "{:?}", engine.stats);
    assert_eq!(codes(&found), ["KRS302"], "{found:?}");
    // A binding under another top-level module is no spelling of `tensorflow.data.AUTOTUNE`.
    edit_and_compare(
        &mut doc,
        &mut engine,
        "import os  # paths\n",
        "import json\n",
    );
    let stats = &engine.stats;
    assert_eq!(
        (stats.rerun, stats.module_rerun),
        (stats.dirty, 0),
        "{stats:?}"
    );
}

/// A fix that adds an import puts it after the last import: an edit that moves that place
/// and changes no binding re-runs the rules whose fixes add one (`Key::ImportPlace`),
/// so the import goes where a fresh analysis puts it.
#[test]
fn fixes_that_add_an_import_follow_where_imports_go() {
    let source = "from tensorflow.data import Dataset\n\nprint(\"start\")\nds = Dataset.range(8).map(lambda x: x * 2).batch(4)\nfor batch in ds:\n    print(batch)\n";
    let (mut doc, mut engine, first) = open_and_analyse(source);
    assert_eq!(codes(&first), ["KRS302"], "{first:?}");
    let import_at = |found: &[Finding]| {
        let fix = found[0].fix.as_ref().expect("a fix");
        let edit = fix
            .edits
            .iter()
            .find(|e| e.content.contains("import tensorflow as tf"))
            .expect("an import edit");
        edit.range.start
    };
    assert_eq!(import_at(&first), source.find("\n").unwrap());
    // A later import of a module no fix spells, in a statement that builds no pipeline and far
    // from the finding: the last import is now that one.
    let found = edit_and_compare(
        &mut doc,
        &mut engine,
        "print(\"start\")",
        "import os; print(\"start\")",
    );
    assert_eq!(import_at(&found), doc.text().find("import os").unwrap() + 9);
    // KRS302 reads the pipelines from the module: that run alone went again.
    assert_eq!(engine.stats.module_rerun, 1, "{:?}", engine.stats);
}

/// A new binding under `keras` may spell an initializer fix more briefly: the statement whose
/// fix spells one runs again, though it spells no name the edit bound.
#[test]
fn a_new_binding_respells_fixes_under_its_module() {
    let source = "import keras\nfrom keras import layers\n\nmodel = keras.Sequential([layers.Dense(10, activation=\"tanh\", kernel_initializer=keras.initializers.HeNormal())])\n";
    let (mut doc, mut engine, first) = open_and_analyse(source);
    assert_eq!(codes(&first), ["KRS104"], "{first:?}");
    let found = edit_and_compare(
        &mut doc,
        &mut engine,
        "from keras import layers\n",
        "from keras import layers, initializers as ki\n",
    );
    let fix = found[0].fix.as_ref().expect("a fix");
    assert_eq!(fix.edits[0].content, "ki.GlorotUniform()", "{found:?}");
}

/// A name newly bound to a mixed-precision setter makes its calls set the policy: the
/// statements reading the policy run again, though none spells that name.
#[test]
fn binding_a_name_to_a_policy_setter_reruns_the_policy_readers() {
    let source = "import keras\nfrom keras import layers\n\nsgp(\"mixed_float16\")\nmodel = keras.Sequential([layers.Dense(10, activation=\"softmax\")])\n";
    let (mut doc, mut engine, first) = open_and_analyse(source);
    assert!(first.is_empty(), "{first:?}");
    let found = edit_and_compare(
        &mut doc,
        &mut engine,
        "from keras import layers\n",
        "from keras import layers\nfrom keras.mixed_precision import set_global_policy as sgp\n",
    );
    assert_eq!(codes(&found), ["KRS503"], "{found:?}");
}

/// The imports' table is collected again only when an edited statement may change it: it
/// holds an import, defines other names than before, or comes before the first code.
#[test]
fn imports_are_collected_again_only_when_an_edit_may_change_them() {
    let source = "\"\"\"Layers.\"\"\"\nimport tensorflow as tf\nfrom tensorflow import keras\n\n\ndef build():\n    return keras.Sequential([keras.layers.Dense(4, activation=\"selu\")])\n\n\nlayers = 3\nmodel = build()\n";
    let (mut doc, mut engine, first) = open_and_analyse(source);
    assert_eq!(codes(&first), ["KRS103"], "{first:?}");
    for (old, new, collected) in [
        // Same statements, same names defined.
        ("Dense(4,", "Dense(5,", false),
        ("layers = 3", "layers = 4", false),
        ("model = build()", "model = build()  # x", false),
        // Another name, an import, the first code.
        ("layers = 4", "layerz = 4", true),
        ("def build():\n", "def build():\n    import os\n", true),
        ("import os\n", "import sys as os\n", true),
        ("\"\"\"Layers.\"\"\"\n", "print()\n", true),
    ] {
        let found = edit_and_compare(&mut doc, &mut engine, old, new);
        assert_eq!(
            engine.stats.imports_collected, collected,
            "{new}: {:?}",
            engine.stats
        );
        assert_eq!(codes(&found), ["KRS103"], "{new}: {found:?}");
    }
    // Shadowing the import changes what `keras.layers.Dense` is.
    let found = edit_and_compare(&mut doc, &mut engine, "layerz = 4", "keras = 4");
    assert!(engine.stats.imports_collected, "{:?}", engine.stats);
    assert!(found.is_empty(), "{found:?}");
}

/// With the dataflow unchanged, whether a call consumes a pipeline is answered without
/// building it when nothing that may hold one reaches its arguments; a parameter, or a local
/// assigned from one, may (a call site passes a pipeline), so then it is built and asked.
#[test]
fn consumer_questions_build_the_dataflow_only_when_a_pipeline_may_reach_the_call() {
    let source = "import numpy as np\nimport tensorflow as tf\nimport keras\n\nmodel = keras.Sequential([])\n\n\ndef score(d):\n    ds = d\n    for step in range(3):\n        model.predict(ds.skip(step), verbose=0)\n\n\ndef live():\n    frames = np.zeros((4, 8))\n    for t in range(4):\n        model.predict(frames[None, t], verbose=0)\n\n\nscore(tf.data.Dataset.range(8).batch(2))\nmodel.summary()\n";
    let (mut doc, mut engine, first) = open_and_analyse(source);
    let fixable = |findings: &[Finding]| {
        findings
            .iter()
            .filter(|f| f.code == "KRS402")
            .map(|f| f.fix.is_some())
            .collect::<Vec<_>>()
    };
    // The pipeline passed to `score` cannot be called as `model(ds)`: no fix there.
    assert_eq!(fixable(&first), [false, true], "{first:?}");
    // KRS402 runs again (it reads `model`), the dataflow is unchanged.
    let found = edit_and_compare(&mut doc, &mut engine, "model.summary()", "model.summary()x");
    assert_eq!(fixable(&found), [false, true], "{found:?}");
    assert!(engine.stats.dataflow_built, "{:?}", engine.stats);
    // Without `score`'s pipeline to ask about, nothing builds it.
    edit_and_compare(
        &mut doc,
        &mut engine,
        "model.predict(ds.skip(step), verbose=0)",
        "print(ds)",
    );
    let found = edit_and_compare(&mut doc, &mut engine, "model.summary()x", "model.summary()");
    assert_eq!(fixable(&found), [true], "{found:?}");
    assert!(!engine.stats.dataflow_built, "{:?}", engine.stats);
}

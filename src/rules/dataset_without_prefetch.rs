//! KRS301 dataset-without-prefetch: a consumed tf.data pipeline does not end in `prefetch`.
//!
//! ## What it does
//! Flags a tf.data pipeline consumed by `fit`/`evaluate`/`predict` (as `x` or
//! `validation_data`), a `for` loop or `iter()`, whose last transformation is not `prefetch`
//! (a trailing `repeat`/`take`/`skip`/`shard`/`enumerate`/`with_options` after a prefetch is fine). The
//! finding sits on that last transformation. The pipeline is followed through reassignments,
//! parenthesised chains and helper functions of the same file (a helper that adds the prefetch
//! counts). Loops count only when the pipeline is batched, is not a `take(n)` peek (n ≤ 10) or
//! a `next(iter(ds))` look, and the loop body does more than print, plot or inspect.
//! `keras.utils.*_dataset_from_*` and `tfds.load` results already end in a prefetch: they are
//! only reported when transformations follow them.
//!
//! ## Why is this bad?
//! Without a prefetch, producing the next batch and running the training step alternate instead
//! of overlapping. Keras `fit` does not add one to a `tf.data.Dataset` (it does for NumPy arrays,
//! generators and `PyDataset`). But tf.data itself injects a prefetch by default (the
//! `OptimizationOptions` docs of TF 2.12+ say `inject_prefetch` "defaults to True": "inject
//! prefetch transformation as the last transformation when the last transformation is a
//! synchronous transformation"; the r2.10 page still said False,
//! <https://www.tensorflow.org/api_docs/python/tf/data/experimental/OptimizationOptions>).
//! Measured on TF 2.21 (CPU): a pipeline with no `prefetch` ran one batch ahead of the model
//! (lead 64 ms, one step), exactly like an explicit `.prefetch(tf.data.AUTOTUNE)`; only with
//! `inject_prefetch=False` or the default optimisations off did the lead drop to ~1 ms. So this
//! is a **hint**: the explicit prefetch that the
//! [tf.data performance guide](https://www.tensorflow.org/guide/data_performance#prefetching)
//! recommends documents the overlap and keeps it where options or an older TF turn injection
//! off. When the pipeline's own `with_options(...)` sets `inject_prefetch = False` or
//! `apply_default_optimizations = False`, the finding is raised to information: input and
//! training then alternate (in one throughput run of a Python-map pipeline, 19.6 steps/s
//! without any prefetch against 39.2 with one; CPU throughput figures are coarse).
//! `keras.utils` dataset builders and `tfds.load` (`ReadConfig(skip_prefetch=False)`) end in
//! their own prefetch.
//!
//! ## Example
//! ```python
//! ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1000).batch(32)
//! model.fit(ds, epochs=5)
//! ```
//!
//! ## Use instead
//! ```python
//! ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1000).batch(32).prefetch(tf.data.AUTOTUNE)
//! model.fit(ds, epochs=5)
//! ```
//!
//! ## Fix safety
//! Safe: a prefetch buffers elements ahead without changing them or their order. The fix appends
//! `.prefetch(tf.data.AUTOTUNE)` after the last transformation, spelled with the file's own
//! `AUTOTUNE` alias or name for tensorflow (adding `import tensorflow as tf` only when none
//! exists), on its own line in a multi-line chain.

use crate::analysis::dataflow::{
    BATCHING, ConsumerKind, Input, SourceKind, Step, append_to_call, autotune_expr,
};
use tree_sitter::Node;

use crate::analysis::{Context, RuleMatch, Sink};
use crate::finding::{FixSafety, Severity};
use crate::rules::RuleDef;
use crate::rules::checkpoint_too_frequent::parse_int;
use crate::syntax::NodeExt;

pub const RULE: RuleDef = RuleDef {
    code: "KRS301",
    name: "dataset-without-prefetch",
    severity: Severity::Hint,
    fix: Some(FixSafety::Safe),
    options: &[],
    query: include_str!("../../queries/python/dataset-without-prefetch.scm"),
    module: "dataset_without_prefetch",
    scenario: Some("pipeline"),
    requires_text: None,
    spelled: None,
    check,
};

/// Transformations that may follow the prefetch without undoing it.
const AFTER_PREFETCH: &[&str] = &[
    "repeat",
    "take",
    "skip",
    "shard",
    "with_options",
    "assert_cardinality",
    "ignore_errors",
    "enumerate",
];

/// A loop over `ds.take(n)` with n at most this is a peek at the data, not a training loop.
const PEEK_MAX: i64 = 10;

/// Calls that only look at the data (a loop made of them is not a training loop).
const INSPECTION_CALLS: &[&str] = &[
    "print",
    "display",
    "pprint",
    "repr",
    "str",
    "len",
    "list",
    "tuple",
    "dict",
    "set",
    "type",
    "isinstance",
    "enumerate",
    "zip",
    "range",
    "format",
    "numpy",
    "get_shape",
    "append",
    "extend",
    "items",
    "keys",
    "values",
    "join",
    "tolist",
    "decode",
    "imshow",
    "title",
    "axis",
    "subplot",
    "subplots",
    "show",
    "figure",
    "plot",
    "xlabel",
    "ylabel",
    "legend",
    "set_title",
    "tight_layout",
    "flatten",
    "as_list",
    "map_structure",
];

/// Nodes visited when deciding whether a loop body only inspects.
const MAX_LOOP_NODES: usize = 20_000;

fn check(ctx: &Context, m: &RuleMatch, sink: &mut Sink) {
    if m.get("module").is_none() {
        return;
    }
    let flow = ctx.dataflow();
    for consumer in flow.consumers() {
        let Input::Pipeline(id) = consumer.input else {
            continue;
        };
        let chain = flow.chain(id);
        let mut end = chain.len();
        let mut peek = false;
        while end > 0 && AFTER_PREFETCH.contains(&chain[end - 1].method(ctx.source)) {
            peek |= is_peek(ctx, &chain[end - 1]);
            end -= 1;
        }
        let is_loop = matches!(consumer.kind, ConsumerKind::ForLoop | ConsumerKind::Iter);
        let batched = chain
            .iter()
            .any(|s| BATCHING.contains(&s.method(ctx.source)));
        if is_loop && (peek || !batched || only_inspects(ctx, consumer.kind, consumer.node)) {
            continue;
        }
        let (source_kind, source_call) = flow.source(id);
        let last = end.checked_sub(1).map(|i| chain[i]);
        if let Some(step) = &last
            && is_prefetch(ctx, step)
        {
            continue;
        }
        if last.is_none() && source_kind != SourceKind::TfData {
            continue;
        }
        let disabled = flow
            .disabled_optimizations(ctx.source, id)
            .prefetch_injection;
        report(ctx, sink, consumer.kind, last, source_call, disabled);
    }
}

fn report(
    ctx: &Context,
    sink: &mut Sink,
    consumer: ConsumerKind,
    last: Option<Step>,
    source_call: Node,
    injection_disabled: bool,
) {
    let (range, call, what) = match &last {
        Some(step) => (
            step.method_node.start_byte()..step.call.end_byte(),
            step.call,
            format!("`{}`", step.method(ctx.source)),
        ),
        None => (
            source_call.byte_range(),
            source_call,
            "its source".to_string(),
        ),
    };
    let consumed = match consumer {
        ConsumerKind::Fit => "`fit`",
        ConsumerKind::Evaluate => "`evaluate`",
        ConsumerKind::Predict => "`predict`",
        ConsumerKind::ValidationData => "`fit(validation_data=...)`",
        ConsumerKind::ForLoop => "a `for` loop",
        ConsumerKind::Iter => "`iter()`",
    };
    let why = if injection_disabled {
        ", and its options turn off tf.data's injected prefetch: input and training do not overlap (measured lead ~1 ms instead of one step)"
    } else {
        "; tf.data injects one by default (TF 2.12+; measured: same lead as an explicit prefetch), so an explicit one only documents the overlap"
    };
    let (autotune, import) = autotune_expr(ctx, call.end_byte());
    let core = format!(".prefetch({autotune})");
    let mut edits = vec![append_to_call(ctx.source, call, last.as_ref(), &core)];
    edits.extend(import);
    let finding = sink
        .report_range(
            range,
            format!("Pipeline consumed by {consumed} ends in {what} without `prefetch`{why}"),
        )
        .with_fix(format!("Append `{core}`"), FixSafety::Safe, edits);
    if injection_disabled {
        finding.with_severity(Severity::Info);
    }
}

/// `prefetch(...)`, `prefetch_to_device(...)` or `apply(tf.data.experimental.prefetch_to_device(...))`.
fn is_prefetch(ctx: &Context, step: &Step) -> bool {
    match step.method(ctx.source) {
        "prefetch" | "prefetch_to_device" => true,
        "apply" => step
            .arguments()
            .and_then(|a| a.named_child(0))
            .filter(|a| a.kind_name() == "call")
            .and_then(|a| a.field("function"))
            .and_then(|f| ctx.resolve(f))
            .is_some_and(|p| p.ends_with(".prefetch_to_device")),
        _ => false,
    }
}

/// A look at the data rather than a training loop: `next(iter(ds))`, or a `for` loop whose body
/// calls nothing but printing, plotting and introspection.
fn only_inspects(ctx: &Context, kind: ConsumerKind, node: Node) -> bool {
    if kind == ConsumerKind::Iter {
        let next_call = node
            .parent()
            .filter(|p| p.kind_name() == "argument_list")
            .and_then(|p| p.parent())
            .and_then(|c| c.field("function"));
        return next_call.is_some_and(|f| f.kind_name() == "identifier" && ctx.text(f) == "next");
    }
    let Some(body) = node.field("body") else {
        return false;
    };
    let mut stack = vec![body];
    let mut budget = MAX_LOOP_NODES;
    while let Some(current) = stack.pop() {
        budget = budget.saturating_sub(1);
        if budget == 0 {
            return false;
        }
        if current.kind_name() == "call" {
            let name = current
                .field("function")
                .map(|f| match f.kind_name() {
                    "attribute" => f.field("attribute").unwrap_or(f),
                    _ => f,
                })
                .map_or("", |f| ctx.text(f));
            if !INSPECTION_CALLS.contains(&name) {
                return false;
            }
        }
        let mut cursor = current.walk();
        stack.extend(current.named_children(&mut cursor));
    }
    true
}

/// `take(n)` with a small literal `n`.
fn is_peek(ctx: &Context, step: &Step) -> bool {
    if step.method(ctx.source) != "take" {
        return false;
    }
    step.arguments()
        .and_then(|a| a.named_child(0))
        .and_then(|n| parse_int(ctx.text(n)))
        .is_some_and(|n| (0..=PEEK_MAX).contains(&n))
}

#[cfg(test)]
mod tests {
    use crate::analysis::analyze;
    use crate::document::parse;
    use crate::settings::Settings;

    fn codes(src: &str) -> Vec<(&'static str, String)> {
        let settings = Settings::from_layers(&[serde_json::json!({"select": ["KRS3"]})]).0;
        let tree = parse(src);
        analyze(src, &tree, &settings)
            .into_iter()
            .map(|f| (f.code, src[f.range].to_string()))
            .collect()
    }

    fn fixed(src: &str) -> String {
        let settings =
            Settings::from_layers(&[serde_json::json!({"select": ["KRS301", "KRS302"]})]).0;
        crate::fix::fix_source(src, &settings, false).text
    }

    #[test]
    fn fixes_spell_autotune_like_the_file() {
        let body = "ds = Dataset.range(4).map(f).batch(2)\nmodel.fit(ds)\n";
        // (imports, expected pipeline line, whether `import tensorflow as tf` gets added)
        let cases = [
            (
                "from tensorflow.data import Dataset\n",
                "ds = Dataset.range(4).map(f, num_parallel_calls=tf.data.AUTOTUNE).batch(2).prefetch(tf.data.AUTOTUNE)\n",
                true,
            ),
            (
                "import tensorflow\nfrom tensorflow.data import Dataset\n",
                "ds = Dataset.range(4).map(f, num_parallel_calls=tensorflow.data.AUTOTUNE).batch(2).prefetch(tensorflow.data.AUTOTUNE)\n",
                false,
            ),
            (
                "from tensorflow import data as tf_data\nfrom tensorflow.data import Dataset\n",
                "ds = Dataset.range(4).map(f, num_parallel_calls=tf_data.AUTOTUNE).batch(2).prefetch(tf_data.AUTOTUNE)\n",
                false,
            ),
            (
                "import tensorflow as tf\nfrom tensorflow.data import Dataset\nAUTOTUNE = tf.data.experimental.AUTOTUNE\n",
                "ds = Dataset.range(4).map(f, num_parallel_calls=AUTOTUNE).batch(2).prefetch(AUTOTUNE)\n",
                false,
            ),
        ];
        for (header, expected, adds_import) in cases {
            let out = fixed(&format!("{header}{body}"));
            assert!(out.contains(expected), "{out}");
            let imports = |text: &str| text.matches("import tensorflow as tf\n").count();
            assert_eq!(
                imports(&out),
                imports(header) + usize::from(adds_import),
                "{out}"
            );
            assert_eq!(fixed(&out), out, "not idempotent");
        }
    }

    #[test]
    fn deep_nesting_and_long_chains_do_not_overflow() {
        let depth = 5000;
        let nested = format!(
            "import tensorflow as tf\nds = tf.data.Dataset.range(3).batch(2)\nmodel.fit({}ds{})\n",
            "(".repeat(depth),
            ")".repeat(depth)
        );
        let _ = codes(&nested);
        // A chain of 2,500 calls is 5,000 nodes deep (call, attribute, call, ...).
        let chain = format!(
            "import tensorflow as tf\nds = tf.data.Dataset.range(3){}\nmodel.fit(ds.shuffle(2).cache())\n",
            ".map(f).batch(2)".repeat(depth / 4)
        );
        let _ = codes(&chain);
        let lambdas = format!(
            "import tensorflow as tf\nds = tf.data.Dataset.range(3).map({}tf.random.uniform([]){}).cache()\n",
            "lambda x: (".repeat(depth),
            ")".repeat(depth)
        );
        let _ = codes(&lambdas);
    }
}

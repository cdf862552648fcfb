//! KRS403 batch-size-ignored-with-dataset: `batch_size=` has no effect when the input batches itself.
//!
//! ## What it does
//! Flags `batch_size=` on `fit`/`evaluate`/`predict` when `x` is a tf.data pipeline, a Python
//! generator or a `keras.utils.PyDataset` (`Sequence`) instance of this file, and
//! `validation_batch_size=` on `fit` when `validation_data` is one. The message says where the
//! batching really happens (e.g. the pipeline's `.batch(64)`).
//!
//! ## Why is this bad?
//! The `fit`/`evaluate`/`predict` docstrings: "Do not specify the `batch_size` if your input
//! data `x` is a `keras.utils.PyDataset`, `tf.data.Dataset`, `torch.utils.data.DataLoader` or
//! Python generator function since they generate batches" (`keras/src/trainers/trainer.py`).
//! Keras 3 silently ignores the argument for those inputs (verified in
//! `keras/src/trainers/data_adapters/__init__.py`), so a reader, or the author tuning memory or
//! speed, believes the batch size is one thing while the pipeline uses another.
//!
//! ## Example
//! ```python
//! train_ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1000).batch(64)
//! model.fit(train_ds, batch_size=256, epochs=10)
//! ```
//!
//! ## Use instead
//! ```python
//! train_ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1000).batch(256)
//! model.fit(train_ds, epochs=10)
//! ```
//!
//! ## Fix safety
//! Safe: the fix removes the argument, which Keras ignores for these inputs. Change the batch
//! size where the message says batching happens.

use crate::analysis::dataflow::{ConsumerKind, Dataflow, Input, SourceKind, ValueId};
use crate::analysis::{Context, RuleMatch, Sink, call};
use crate::finding::{FixSafety, Severity};
use crate::rules::RuleDef;
use crate::rules::large_batch_size::last_batching;
use crate::syntax::NodeExt;

pub const RULE: RuleDef = RuleDef {
    code: "KRS403",
    name: "batch-size-ignored-with-dataset",
    severity: Severity::Warning,
    fix: Some(FixSafety::Safe),
    options: &[],
    query: include_str!("../../queries/python/batch-size-ignored-with-dataset.scm"),
    module: "batch_size_ignored_with_dataset",
    scenario: None,
    requires_text: None,
    spelled: None,
    check,
};

fn check<'t>(ctx: &Context<'t>, m: &RuleMatch<'t>, sink: &mut Sink) {
    let (Some(call_node), Some(argument)) = (m.get("call"), m.get("argument")) else {
        return;
    };
    let Some(name) = argument.field("name") else {
        return;
    };
    let keyword = ctx.text(name);
    let validation = keyword == "validation_batch_size";
    let consumer = ctx.consumers_at(call_node).into_iter().find(|c| {
        if validation {
            c.kind == ConsumerKind::ValidationData
        } else {
            matches!(
                c.kind,
                ConsumerKind::Fit | ConsumerKind::Evaluate | ConsumerKind::Predict
            )
        }
    });
    let Some(consumer) = consumer else {
        return;
    };
    let input = if validation {
        "`validation_data`"
    } else {
        "`x`"
    };
    let batching = match consumer.input {
        Input::Pipeline(id) => pipeline_batching(ctx, ctx.dataflow(), id),
        Input::Generator => "a generator: each item it yields is one batch".to_string(),
        Input::PyDataset => "a `PyDataset`: each `__getitem__` returns one batch".to_string(),
    };
    sink.report(
        argument,
        format!("`{keyword}` is ignored: {input} is {batching}"),
    )
    .with_fix(
        format!("Remove `{}`", ctx.text(argument)),
        FixSafety::Safe,
        vec![call::remove_argument(ctx.source, argument)],
    );
}

/// Where a pipeline is batched, in words (after "`x` is ").
fn pipeline_batching(ctx: &Context, flow: &Dataflow, id: ValueId) -> String {
    if let Some(step) = last_batching(ctx, flow, id) {
        let method = step.method(ctx.source);
        let line = ctx.line_of(step.call);
        if method == "unbatch" {
            return format!(
                "a tf.data pipeline unbatched by `.unbatch()` on line {line}: add `.batch(...)` after it"
            );
        }
        let args = step.arguments().map_or("()", |a| ctx.text(a));
        let args = if args.len() > 40 || args.contains('\n') {
            "(...)"
        } else {
            args
        };
        return format!("a tf.data pipeline batched by `.{method}{args}` on line {line}");
    }
    let (source, source_call) = flow.source(id);
    let line = ctx.line_of(source_call);
    let callee = source_call.field("function").map_or("", |f| ctx.text(f));
    // `make_csv_dataset(file_pattern, batch_size, ...)` may take it second, positionally.
    let second_is_batch_size =
        callee.ends_with("make_csv_dataset") || callee.ends_with("make_batched_features_dataset");
    let size = call::keyword(ctx.source, source_call, "batch_size").or_else(|| {
        second_is_batch_size
            .then(|| call::positional(source_call, 1))
            .flatten()
    });
    match (source, size) {
        (_, Some(size)) if ctx.text(size) == "None" => format!(
            "a tf.data pipeline of single elements (`{callee}(..., batch_size=None)` on line {line}): add `.batch(...)`"
        ),
        (_, Some(size)) => format!(
            "a tf.data pipeline batched by `{callee}(..., batch_size={})` on line {line}",
            ctx.text(size)
        ),
        (SourceKind::KerasUtils, None) => {
            format!("a tf.data pipeline batched by `{callee}(...)` on line {line} (32 by default)")
        }
        (SourceKind::TfData | SourceKind::Tfds, None) => format!(
            "a tf.data pipeline (line {line}) that is never batched, so each element is one batch: add `.batch(...)`"
        ),
    }
}

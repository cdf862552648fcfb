//! KRS601 run-eagerly-in-training: `compile(run_eagerly=True)` turns off graph compilation.
//!
//! ## What it does
//! Flags `model.compile(..., run_eagerly=True)`.
//!
//! ## Why is this bad?
//! The Keras `compile` docstring: "If `True`, this model's logic will not be wrapped in a
//! `tf.function`. Recommended to leave this as `None` unless your model cannot be run inside a
//! `tf.function`." Eager execution runs every op from Python, one at a time, so training is
//! several times slower (the bundled `eager` benchmark measures the ratio on your machine). It is
//! a debugging switch that is easy to forget in a training script.
//!
//! ## Example
//! ```python
//! model.compile(optimizer="adam", loss="mse", run_eagerly=True)
//! ```
//!
//! ## Use instead
//! ```python
//! model.compile(optimizer="adam", loss="mse")
//! ```
//!
//! ## Fix safety
//! Unsafe: code that only works eagerly (Python side effects, `.numpy()` calls inside the model)
//! may fail or behave differently once compiled.

use crate::analysis::{Context, RuleMatch, Sink, call};
use crate::finding::{FixSafety, Severity};
use crate::rules::RuleDef;

pub const RULE: RuleDef = RuleDef {
    code: "KRS601",
    name: "run-eagerly-in-training",
    severity: Severity::Warning,
    fix: Some(FixSafety::Unsafe),
    options: &[],
    query: include_str!("../../queries/python/run-eagerly-in-training.scm"),
    module: "run_eagerly_in_training",
    scenario: Some("eager"),
    requires_text: None,
    spelled: None,
    check,
};

fn check<'t>(ctx: &Context<'t>, m: &RuleMatch<'t>, sink: &mut Sink) {
    let Some(argument) = m.get("argument") else {
        return;
    };
    sink.report(
        argument,
        "`run_eagerly=True` disables graph compilation; training runs op by op from Python",
    )
    .with_fix(
        "Remove `run_eagerly=True`",
        FixSafety::Unsafe,
        vec![call::remove_argument(ctx.source, argument)],
    );
}

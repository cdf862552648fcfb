//! KRS504 loss-scale-optimizer-static: `LossScaleOptimizer(..., dynamic=False)` raises in Keras 3.
//!
//! ## What it does
//! Flags the `dynamic=False` argument of `LossScaleOptimizer` (`keras.mixed_precision`,
//! `keras.optimizers`, `tf.keras.mixed_precision`). Not reported for `tf_keras` or when the file
//! opts into legacy Keras (`TF_USE_LEGACY_KERAS=1`), where a fixed loss scale is still valid.
//!
//! ## Why is this bad?
//! Keras 3 (and `tf.keras` since TF 2.16) raises at construction: "LossScaleOptimizer no longer
//! supports `dynamic=False`. Instead, simply set `loss_scale_factor` directly on the
//! `inner_optimizer`." (verified on Keras 3.15). `dynamic=True` is silently accepted. A fixed
//! loss scale is now a property of any optimizer: `Adam(loss_scale_factor=S)` multiplies the
//! loss by `S` in `scale_loss` and divides the gradients by `S` in `apply`
//! (<https://keras.io/api/optimizers/loss_scale_optimizer/>).
//!
//! ## Example
//! ```python
//! optimizer = keras.mixed_precision.LossScaleOptimizer(
//!     keras.optimizers.Adam(1e-3), dynamic=False, initial_scale=1024
//! )
//! ```
//!
//! ## Use instead
//! ```python
//! optimizer = keras.optimizers.Adam(1e-3, loss_scale_factor=1024)
//! ```
//! Or keep dynamic scaling, the recommended default: `LossScaleOptimizer(keras.optimizers.Adam(1e-3))`.
//! Without `initial_scale` there is no fixed scale to carry over, so no fix is offered: choose
//! between the two. With `compile`/`fit` under `mixed_float16`, `compile` wraps a plain optimizer
//! in a dynamic `LossScaleOptimizer` again unless you pass `auto_scale_loss=False`.
//!
//! ## Fix safety
//! Unsafe. With `initial_scale=S`, the fix replaces the wrapper with its inner optimizer built
//! with `loss_scale_factor=S` (the wrapper is dropped too: a `LossScaleOptimizer` resets its inner
//! optimizer's `loss_scale_factor` to `None`, so keeping it would silently turn the scale
//! dynamic). The optimizer's type and checkpoint layout change, and custom loops must call
//! `optimizer.scale_loss(loss)` for the factor to apply.

use tree_sitter::Node;

use crate::analysis::imports::KerasRoot;
use crate::analysis::model::assigned_value;
use crate::analysis::policy::{self, KerasFlavor};
use crate::analysis::{Context, RuleMatch, Sink, call};
use crate::finding::{Edit, FixSafety, Severity};
use crate::rules::RuleDef;
use crate::syntax::NodeExt;

pub const RULE: RuleDef = RuleDef {
    code: "KRS504",
    name: "loss-scale-optimizer-static",
    severity: Severity::Error,
    fix: Some(FixSafety::Unsafe),
    options: &[],
    query: include_str!("../../queries/python/loss-scale-optimizer-static.scm"),
    module: "loss_scale_optimizer_static",
    scenario: None,
    requires_text: None,
    spelled: None,
    check,
};

/// Arguments of the wrapper that the fix may drop along with it.
const DROPPABLE: [&str; 4] = [
    "inner_optimizer",
    "dynamic",
    "initial_scale",
    "dynamic_growth_steps",
];

fn check<'t>(ctx: &Context<'t>, m: &RuleMatch<'t>, sink: &mut Sink) {
    let (Some(lso), Some(dynamic)) = (m.get("call"), m.get("dynamic")) else {
        return;
    };
    let Some(symbol) = policy::keras_callee(ctx, lso) else {
        return;
    };
    if !policy::is_loss_scale_optimizer(&symbol) || symbol.path.contains("experimental") {
        return;
    }
    if symbol.root == KerasRoot::TfKerasLegacy
        || policy::keras_flavor(ctx, symbol.root) == KerasFlavor::Keras2
    {
        return;
    }
    let finding = sink.report(
        dynamic,
        "`LossScaleOptimizer(dynamic=False)` raises ValueError in Keras 3 (\"no longer supports `dynamic=False`\"): set `loss_scale_factor` on the inner optimizer instead",
    );
    if let Some((title, edits)) = static_factor_fix(ctx, lso) {
        finding.with_fix(title, FixSafety::Unsafe, edits);
    }
}

/// `LossScaleOptimizer(inner, dynamic=False, initial_scale=S)` → `inner` with
/// `loss_scale_factor=S`, when the inner optimizer's construction is at hand.
fn static_factor_fix<'t>(ctx: &Context<'t>, lso: Node<'t>) -> Option<(String, Vec<Edit>)> {
    let scale = call::keyword(ctx.source, lso, "initial_scale")?;
    let args = lso.field("arguments")?;
    let mut cursor = args.walk();
    let droppable = args
        .named_children(&mut cursor)
        .all(|a| match a.kind_name() {
            "keyword_argument" => a
                .field("name")
                .is_some_and(|n| DROPPABLE.contains(&ctx.text(n))),
            "comment" => false,
            _ => true,
        });
    let inner = call::argument(ctx.source, lso, 0, "inner_optimizer")?;
    if !droppable || call::positional(lso, 1).is_some() {
        return None;
    }
    let factor = format!("loss_scale_factor={}", ctx.text(scale));
    let title = format!("Use the inner optimizer with `{factor}`");
    match inner.kind_name() {
        "call" => {
            let append = call::append_argument(ctx.source, inner, &factor)?;
            let mut text = ctx.text(inner).to_string();
            let at = append.range.start.checked_sub(inner.start_byte())?;
            text.insert_str(at, &append.content);
            Some((title, vec![Edit::replace(lso.byte_range(), text)]))
        }
        "identifier" => {
            let construction = assigned_value(ctx, ctx.text(inner), lso)?;
            let is_optimizer = construction.kind_name() == "call"
                && policy::keras_callee(ctx, construction).is_some_and(|s| {
                    s.module() == "optimizers" && !policy::is_loss_scale_optimizer(&s)
                });
            if !is_optimizer || construction.end_byte() > lso.start_byte() {
                return None;
            }
            if call::keyword(ctx.source, construction, "loss_scale_factor").is_some() {
                return None;
            }
            Some((
                title,
                vec![
                    call::append_argument(ctx.source, construction, &factor)?,
                    Edit::replace(lso.byte_range(), ctx.text(inner)),
                ],
            ))
        }
        _ => None,
    }
}

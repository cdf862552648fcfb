//! KRS602 softmax-output-with-from-logits: a model ending in softmax/sigmoid trained on a `from_logits=True` loss.
//!
//! ## What it does
//! Flags the loss argument of `model.compile(...)` when the loss is a Keras loss built with
//! `from_logits=True` (inline or through a variable) and the model, built in the same file
//! (`Sequential`, `model.add`, functional `Model(inputs, outputs)`, or returned by a helper
//! function), ends in a softmax or sigmoid layer.
//!
//! ## Why is this bad?
//! `from_logits=True` tells the loss its input is unnormalised logits, so it applies the
//! softmax (or sigmoid) itself. On probabilities that squashes twice: the loss is computed on
//! `softmax(softmax(z))`, whose values are compressed towards uniform, so the loss never
//! approaches 0 and gradients shrink. Keras documents the argument as "whether `y_pred` is
//! expected to be a logits tensor" (<https://keras.io/api/losses/probabilistic_losses/>), and
//! tf.keras even warns at run time that the output "was produced by a Softmax activation and
//! thus does not represent logits".
//!
//! ## Example
//! ```python
//! model = keras.Sequential([
//!     keras.layers.Dense(64, activation="relu"),
//!     keras.layers.Dense(10, activation="softmax"),
//! ])
//! model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
//! ```
//!
//! ## Use instead
//! ```python
//! model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=False))
//! ```
//! Or drop the final activation and keep `from_logits=True` (slightly more stable numerically);
//! then `predict` returns logits.
//!
//! ## Fix safety
//! Unsafe: the loss values and the gradients change (that is the point), and a loss object
//! shared with another model that does output logits would change for it too.

use crate::analysis::model::{compiled_loss, final_layer, model_construction};
use crate::analysis::{Context, RuleMatch, Sink};
use crate::finding::{Edit, FixSafety, Severity};
use crate::rules::RuleDef;
use crate::syntax::NodeExt;

pub const RULE: RuleDef = RuleDef {
    code: "KRS602",
    name: "softmax-output-with-from-logits",
    severity: Severity::Warning,
    fix: Some(FixSafety::Unsafe),
    options: &[],
    query: include_str!("../../queries/python/softmax-output-with-from-logits.scm"),
    module: "softmax_output_with_from_logits",
    scenario: None,
    requires_text: None,
    spelled: None,
    check,
};

fn check<'t>(ctx: &Context<'t>, m: &RuleMatch<'t>, sink: &mut Sink) {
    let (Some(compile), Some(model_ref)) = (m.get("compile"), m.get("model_ref")) else {
        return;
    };
    let Some(loss) = compiled_loss(ctx, compile) else {
        return;
    };
    let Some(from_logits) = loss.from_logits else {
        return;
    };
    if from_logits.kind_name() != "true" {
        return;
    }
    let Some(model) = model_construction(ctx, model_ref) else {
        return;
    };
    let Some(layer) = final_layer(ctx, model) else {
        return;
    };
    let Some(activation) = layer.activation else {
        return;
    };
    sink.report(
        loss.argument,
        format!(
            "`{}(from_logits=True)` on a model whose final `{}` already applies {}: the outputs are squashed twice",
            loss.symbol.name(),
            layer.symbol.name(),
            activation.name()
        ),
    )
    .with_fix(
        "Treat the outputs as probabilities (`from_logits=False`)",
        FixSafety::Unsafe,
        vec![Edit::replace(from_logits.byte_range(), "False")],
    );
}

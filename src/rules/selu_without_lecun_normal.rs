//! KRS103 selu-without-lecun-normal: a SELU layer whose kernel is not LeCun-normal initialized.
//!
//! ## What it does
//! Flags `activation="selu"` (also `activation=tf.nn.selu`, `keras.activations.selu`,
//! `Dense(64, "selu")`, or an `Activation("selu")` layer right after a linear weight layer in a
//! visible stack) when the weight layer's kernel initializer is not LeCun normal. The Keras
//! default, `glorot_uniform`, counts as not LeCun normal.
//!
//! Not reported: `lecun_uniform` (same variance, `1 / fan_in`, which is what the SELU derivation
//! requires), `VarianceScaling(...)` and initializers held in variables (not statically known),
//! and fixed-scale or constant initializers that KRS101/KRS102 already report with the LeCun fix.
//!
//! ## Why is this bad?
//! SELU keeps activations at zero mean and unit variance through a deep stack only when the
//! weights have variance `1 / fan_in`. The Keras `selu` docstring: "the mean and variance of the
//! inputs are preserved between two consecutive layers as long as the weights are initialized
//! correctly (see `keras.initializers.LecunNormal` initializer)", and in its notes: "To be used
//! together with the `keras.initializers.LecunNormal` initializer" (keras/src/activations/
//! activations.py; <https://keras.io/api/layers/activations/>; Klambauer et al. 2017). The
//! default Glorot uniform has variance `2 / (fan_in + fan_out)`: smaller than needed when a layer
//! widens, larger when it narrows, so the self-normalization drifts layer by layer. In the
//! measured 20-layer probe (width 128, Keras 3.15), `lecun_normal` reached the best Adam accuracy
//! of all initializers (0.92, loss 0.191) while a fixed-scale init did not learn at all.
//!
//! ## Example
//! ```python
//! layers.Dense(256, activation="selu")
//! ```
//!
//! ## Use instead
//! ```python
//! layers.Dense(256, activation="selu", kernel_initializer="lecun_normal")
//! ```
//! An existing initializer is replaced in its own spelling (a class stays a class).
//!
//! ## Fix safety
//! Unsafe: the initial weights change, so training results change.

use tree_sitter::Node;

use crate::analysis::layers::initializers::{InitKind, Initializer, initializer, replacement};
use crate::analysis::layers::stack::stack_of;
use crate::analysis::layers::{
    Activation, ActivationFamily, Arg, WeightLayer, activation_layer, activation_of,
    call_of_argument, weight_layer,
};
use crate::analysis::{Context, RuleMatch, Sink, call};
use crate::finding::{Edit, FixSafety, Severity};
use crate::rules::{RuleDef, constant_kernel_initializer, unscaled_kernel_initializer};
use crate::syntax::NodeExt;

pub const RULE: RuleDef = RuleDef {
    code: "KRS103",
    name: "selu-without-lecun-normal",
    severity: Severity::Info,
    fix: Some(FixSafety::Unsafe),
    options: &[],
    query: include_str!("../../queries/python/selu-without-lecun-normal.scm"),
    module: "selu_without_lecun_normal",
    scenario: Some("init"),
    requires_text: None,
    spelled: None,
    check,
};

/// A kernel keyword whose initializer is wrong: the initializer, or `None` when it is absent.
type Wrong<'t> = (&'static str, Option<Initializer<'t>>);

fn check<'t>(ctx: &Context<'t>, m: &RuleMatch<'t>, sink: &mut Sink) {
    let Some(argument) = m.get("activation") else {
        return;
    };
    // `activation=...` sits in a keyword argument; a positional value directly in the list.
    let slot = argument
        .parent()
        .filter(|p| p.kind_name() == "keyword_argument")
        .unwrap_or(argument);
    let Some(call) = call_of_argument(slot) else {
        return;
    };
    if activation_of(ctx, argument).family != ActivationFamily::Selu {
        return;
    }
    let Some(layer) = selu_layer(ctx, call, argument) else {
        return;
    };
    let Some(wrong) = wrong_initializers(ctx, layer) else {
        return;
    };
    if wrong.is_empty() || reported_elsewhere(ctx, layer) {
        return;
    }
    let current = match &wrong[0].1 {
        Some(init) => format!("`{}`", init.display(ctx)),
        None => "the default `glorot_uniform`".to_string(),
    };
    let finding = sink.report(
        argument,
        format!(
            "SELU self-normalizes only with LeCun normal weights (variance `1 / fan_in`); this layer's kernel uses {current}"
        ),
    );
    let Some(edits) = fix_edits(ctx, layer, &wrong) else {
        return;
    };
    finding.with_fix(
        "Initialize the kernel with LeCun normal",
        FixSafety::Unsafe,
        edits,
    );
}

/// The weight layer that `argument` (a SELU activation) applies to.
fn selu_layer<'t>(
    ctx: &Context<'t>,
    call: Node<'t>,
    argument: Node<'t>,
) -> Option<WeightLayer<'t>> {
    if let Some(layer) = weight_layer(ctx, call) {
        return match layer.activation_argument(ctx) {
            Arg::Given(node) if node.id() == argument.id() => Some(layer),
            _ => None,
        };
    }
    // `Activation("selu")` right after a linear weight layer.
    activation_layer(ctx, call)?;
    if call::argument(ctx.source, call, 0, "activation").map(|a| a.id()) != Some(argument.id()) {
        return None;
    }
    let stack = stack_of(ctx, call)?;
    let layer = stack.weight_before(stack.index)?;
    (layer.own_activation(ctx) == Activation::LINEAR).then_some(layer)
}

/// The kernel keywords whose initializer is not LeCun; `None` when one cannot be known.
fn wrong_initializers<'t>(ctx: &Context, layer: WeightLayer<'t>) -> Option<Vec<Wrong<'t>>> {
    let mut wrong = Vec::new();
    for &keyword in layer.family.kernel_keywords() {
        match layer.kernel_initializer(ctx, keyword) {
            Arg::Given(node) => {
                let init = initializer(ctx, node)?;
                match init.kind {
                    InitKind::LecunNormal | InitKind::LecunUniform => {}
                    InitKind::VarianceScaling => return None,
                    _ => wrong.push((keyword, Some(init))),
                }
            }
            Arg::Absent => wrong.push((keyword, None)),
            Arg::Unknown => return None,
        }
    }
    Some(wrong)
}

/// Whether KRS101 or KRS102 (when enabled) already report this layer's kernel with the fix.
fn reported_elsewhere<'t>(ctx: &Context<'t>, layer: WeightLayer<'t>) -> bool {
    let settings = ctx.settings;
    layer.family.kernel_keywords().iter().any(|keyword| {
        let Arg::Given(value) = layer.kernel_initializer(ctx, keyword) else {
            return false;
        };
        let unscaled = &unscaled_kernel_initializer::RULE;
        let constant = &constant_kernel_initializer::RULE;
        (settings.is_enabled(unscaled.code, unscaled.name)
            && unscaled_kernel_initializer::reports(ctx, layer, value))
            || (settings.is_enabled(constant.code, constant.name)
                && constant_kernel_initializer::assess(ctx, layer, value).is_some())
    })
}

/// Replaces each wrong initializer in its own spelling and adds the missing ones as strings.
fn fix_edits(ctx: &Context, layer: WeightLayer, wrong: &[Wrong]) -> Option<Vec<Edit>> {
    let mut edits = Vec::new();
    let mut missing = Vec::new();
    for (keyword, init) in wrong {
        match init {
            Some(init) => {
                let (expr, import) = replacement(ctx, init, InitKind::LecunNormal)?;
                edits.push(Edit::replace(init.node.byte_range(), expr));
                edits.extend(import);
            }
            None => missing.push(format!(
                "{keyword}={}",
                ctx.string_literal_near(layer.call, InitKind::LecunNormal.alias())
            )),
        }
    }
    if !missing.is_empty() {
        edits.push(call::append_argument(
            ctx.source,
            layer.call,
            &missing.join(", "),
        )?);
    }
    Some(edits)
}

#[cfg(test)]
mod tests {
    use crate::analysis::analyze;
    use crate::document::parse;
    use crate::settings::Settings;

    fn codes(src: &str, select: &str) -> Vec<&'static str> {
        let settings = Settings::from_layers(&[serde_json::json!({ "select": [select] })]).0;
        let tree = parse(src);
        analyze(src, &tree, &settings)
            .iter()
            .map(|f| f.code)
            .collect()
    }

    #[test]
    fn defers_to_the_initializer_rules_when_they_report() {
        let src = "from keras import layers\na = layers.Dense(64, activation='selu', kernel_initializer='random_normal')\nb = layers.Dense(64, activation='selu', kernel_initializer='zeros')\nc = layers.Dense(64, activation='selu')\n";
        assert_eq!(codes(src, "KRS1"), vec!["KRS101", "KRS102", "KRS103"]);
        assert_eq!(codes(src, "KRS103"), vec!["KRS103", "KRS103", "KRS103"]);
    }
}

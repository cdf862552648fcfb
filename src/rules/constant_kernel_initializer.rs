//! KRS102 constant-kernel-initializer: a constant kernel makes every unit start identical.
//!
//! ## What it does
//! Flags `zeros` / `zero`, `ones` / `one`, `Zeros()`, `Ones()`, `Constant(<number>)`,
//! `tf.zeros_initializer()`, `tf.ones_initializer()` and `tf.constant_initializer(<number>)` as
//! the kernel initializer of a weight layer (`Dense`, `EinsumDense`, `Conv*`, `Conv*Transpose`,
//! `SeparableConv*`, `DepthwiseConv*`, `SimpleRNN`/`LSTM`/`GRU`), whatever the activation.
//!
//! Not reported: `Constant(array)` / `Constant(pretrained)` (loading fixed or pretrained weights
//! on purpose), frozen layers (`trainable=False`: the initial weights are the weights), layers
//! with a single unit (nothing to be symmetric with), and a zero kernel on a layer without a
//! non-linearity (a zero-initialized output head or residual projection is a deliberate
//! technique: the kernel's gradient `xᵀ·δ` still differs per unit, so the layer trains).
//!
//! ## Why is this bad?
//! With a constant kernel every unit of the layer has the same incoming weights, so every unit
//! computes the same output, and the units' updates differ only by what the weights after the
//! layer feed back: the symmetry that random initialization exists to break. A stack of
//! constant layers never breaks it (each layer behaves like a single unit), and even behind a
//! random layer the units start from one identical, wasted state. Zeros with ReLU are worse:
//! every pre-activation is 0, ReLU's gradient at 0 is 0 (TensorFlow, JAX and PyTorch all define
//! it so), and the layer never trains at all. `ones` also has the wrong scale: the
//! pre-activation is the sum of all inputs, at least `sqrt(fan_in)` times larger than a scaled
//! initializer gives, which saturates tanh and sigmoid. Keras' default `glorot_uniform` draws
//! random weights scaled by fan-in and fan-out (<https://keras.io/api/layers/initializers/>).
//!
//! ## Example
//! ```python
//! layers.Dense(64, activation="relu", kernel_initializer="zeros")
//! ```
//!
//! ## Use instead
//! ```python
//! layers.Dense(64, activation="relu", kernel_initializer="he_normal")
//! ```
//! The initializer matches the activation as in KRS101: He normal for the ReLU family, Glorot
//! uniform for tanh/sigmoid/softmax-like and linear layers, LeCun normal for selu.
//!
//! ## Fix safety
//! Unsafe: the initial weights change, so training results change.

use tree_sitter::Node;

use crate::analysis::layers::initializers::{InitKind, initializer, replacement};
use crate::analysis::layers::stack::stack_around;
use crate::analysis::layers::{
    Activation, ActivationFamily, WeightLayer, call_of_argument, weight_layer,
};
use crate::analysis::{Context, RuleMatch, Sink};
use crate::finding::{Edit, FixSafety, Severity};
use crate::rules::RuleDef;
use crate::rules::unscaled_kernel_initializer::scheme;

pub const RULE: RuleDef = RuleDef {
    code: "KRS102",
    name: "constant-kernel-initializer",
    severity: Severity::Warning,
    fix: Some(FixSafety::Unsafe),
    options: &[],
    query: include_str!("../../queries/python/constant-kernel-initializer.scm"),
    module: "constant_kernel_initializer",
    scenario: Some("init"),
    requires_text: None,
    spelled: None,
    check,
};

fn check<'t>(ctx: &Context<'t>, m: &RuleMatch<'t>, sink: &mut Sink) {
    let Some(value) = m.get("value") else {
        return;
    };
    let Some(call) = m.get("argument").and_then(call_of_argument) else {
        return;
    };
    let Some(layer) = weight_layer(ctx, call) else {
        return;
    };
    let Some((constant, activation)) = assess(ctx, layer, value) else {
        return;
    };
    let Some(init) = initializer(ctx, value) else {
        return;
    };
    let Some(target) = InitKind::for_activation(activation.family) else {
        return;
    };
    let shown = init.display(ctx);
    let dead_relu = constant == 0.0 && matches!(activation.name, "relu" | "relu6");
    let message = if dead_relu {
        format!(
            "`{shown}` kernel with `{}`: every unit outputs 0 and ReLU's gradient at 0 is 0, so this layer never trains",
            activation.name
        )
    } else {
        format!(
            "`{shown}` kernel: every unit of this layer starts with the same weights and computes the same output (a symmetric start that only the weights after it can break)"
        )
    };
    let finding = sink.report(value, message);
    let Some((expr, import)) = replacement(ctx, &init, target) else {
        return;
    };
    let mut edits = vec![Edit::replace(value.byte_range(), expr.clone())];
    edits.extend(import);
    let scaled_for = match activation.family {
        ActivationFamily::Linear => "a linear layer".to_string(),
        _ => format!("`{}`", activation.name),
    };
    finding.with_fix(
        format!(
            "Use `{expr}` ({}, random and scaled for {scaled_for})",
            scheme(target)
        ),
        FixSafety::Unsafe,
        edits,
    );
}

/// The constant value and the activation when KRS102 reports `value` (other rules defer to it).
pub(crate) fn assess<'t>(
    ctx: &Context<'t>,
    layer: WeightLayer<'t>,
    value: Node<'t>,
) -> Option<(f64, Activation)> {
    // A frozen layer keeps its initial weights on purpose; one unit cannot be symmetric.
    if layer.is_frozen(ctx) || layer.width(ctx) == Some(1) {
        return None;
    }
    let init = initializer(ctx, value)?;
    if !init.kind.is_constant() {
        return None;
    }
    // `Constant(weights)`: an array or a variable loads chosen weights.
    let constant = init.constant_value(ctx)?;
    let activation = match layer.own_activation(ctx) {
        own if own.family == ActivationFamily::Linear => {
            let stack = stack_around(ctx, layer.call);
            stack
                .activation_after(stack.index)
                .filter(|a| a.is_nonlinear())
                .unwrap_or(own)
        }
        own => own,
    };
    match activation.family {
        ActivationFamily::Unknown | ActivationFamily::Other => None,
        // A zero-initialized linear projection or output head is deliberate and trains.
        ActivationFamily::Linear if constant == 0.0 => None,
        _ => Some((constant, activation)),
    }
}

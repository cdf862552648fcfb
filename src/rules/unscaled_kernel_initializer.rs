//! KRS101 unscaled-kernel-initializer: a fixed-scale kernel initializer before a non-linearity.
//!
//! ## What it does
//! Flags `random_normal` / `normal`, `random_uniform` / `uniform`, `truncated_normal`, their
//! classes `RandomNormal(...)`, `RandomUniform(...)`, `TruncatedNormal(...)` (from `keras`,
//! `tf.keras`, `tf_keras`, `tensorflow.keras`) and `tf.random_normal_initializer()` when they
//! initialize the kernel of a `Dense`, `EinsumDense`, `Conv*`, `Conv*Transpose`,
//! `SeparableConv*` or `DepthwiseConv*` layer whose output goes through a non-linearity: its own
//! `activation=` (a string, `keras.activations.relu`, `tf.nn.relu`), or the next layer of a
//! visible stack (`Activation`, `ReLU`, `LeakyReLU`, `PReLU`, `ELU`). The finding is a warning
//! when `warning-layers` (default 6) such layers stand in one visible stack
//! (`Sequential([...])`, `model.add(...)` statements, a functional chain), information otherwise.
//!
//! It stays silent where the scale does not compound or was chosen: a layer without activation
//! of its own (the DCGAN recipe: `RandomNormal(stddev=0.02)` followed by `BatchNormalization`),
//! a layer followed by `BatchNormalization`/`LayerNormalization` (or by a custom layer that may
//! rescale, e.g. a `Lambda` normalizing channels), any explicitly written scale
//! (`RandomNormal(stddev=0.02)`, `RandomUniform(-0.1, 0.1)`, `stddev=1 / math.sqrt(n)`: chosen
//! values are the author's call), a shallow model whose every layer is visible (a
//! `Sequential([...])` list, `model.add(...)` after `Sequential()`, or a functional chain from
//! `Input` to `Model`) with fewer than `min-layers` (default 4) weight layers, a layer whose
//! known fan-in makes std 0.05 He-scaled already (fan-in ≈ 800), frozen layers
//! (`trainable=False`, e.g. a fixed random projection), bias and embedding initializers, and the
//! input kernel of `SimpleRNN`/`LSTM`/`GRU` (its gates are sigmoid/tanh within one layer; the
//! signal through time is governed by the orthogonal `recurrent_kernel`, so the depth argument
//! below does not apply).
//!
//! ## Why is this bad?
//! `'random_normal'` means `RandomNormal(mean=0.0, stddev=0.05)`: the std does not depend on the
//! layer's fan-in, so with ReLU each layer multiplies the activation variance by
//! `fan_in · 0.05² / 2`. Below a fan-in of 800 the signal vanishes, above it explodes. Measured
//! over 20 `Dense(128, activation="relu")` layers (Keras 3.15, TF 2.21): with `random_normal` the
//! activation std at layer 20 was 8.8e-9 and the gradients about 1.5e-8, and neither SGD nor Adam
//! learned anything (loss 0.693, accuracy 0.49–0.51); at width 2048 the std reached 1e4 and the
//! gradients 2e5. With `he_normal` the same stack kept an activation std of 1.55 at layer 20 and
//! reached 0.82 (SGD) / 0.89 (Adam) accuracy; `lecun_normal` with Adam 0.92.
//!
//! The Keras docs describe the scaled initializers: `HeNormal` "draws samples from a truncated
//! normal distribution centered on 0 with `stddev = sqrt(2 / fan_in)`" (He et al. 2015,
//! <https://keras.io/api/layers/initializers/>), and the `selu` docstring asks for weights
//! "initialized correctly (see `keras.initializers.LecunNormal` initializer)". The default,
//! `glorot_uniform`, is already scaled by fan-in and fan-out.
//!
//! ## Example
//! ```python
//! model = keras.Sequential([
//!     layers.Dense(128, activation="relu", kernel_initializer="random_normal"),
//!     layers.Dense(128, activation="tanh", kernel_initializer=initializers.RandomNormal(seed=1)),
//!     ...
//! ])
//! ```
//!
//! ## Use instead
//! ```python
//! model = keras.Sequential([
//!     layers.Dense(128, activation="relu", kernel_initializer="he_normal"),
//!     layers.Dense(128, activation="tanh", kernel_initializer=initializers.GlorotUniform(seed=1)),
//!     ...
//! ])
//! ```
//! The initializer matches the activation: He normal for the ReLU family (relu, relu6,
//! leaky_relu, elu, gelu, silu/swish, mish), Glorot uniform for tanh, sigmoid, softmax, softsign,
//! softplus, LeCun normal for selu. A string stays a string; a class stays a class spelled with
//! the module the file already uses (keeping `seed=`), imported only when no name exists.
//!
//! ## Fix safety
//! Unsafe: the initial weights change, so training results (and any result that depends on the
//! seed) change.

use tree_sitter::Node;

use crate::analysis::layers::initializers::{InitKind, Initializer, initializer, replacement};
use crate::analysis::layers::stack::{Role, Stack, stack_around};
use crate::analysis::layers::{
    Activation, ActivationFamily, LayerFamily, WeightLayer, call_of_argument, weight_layer,
};
use crate::analysis::{Context, RuleMatch, Sink};
use crate::finding::{Edit, FixSafety, Severity};
use crate::rules::{RuleDef, RuleOption};

pub const RULE: RuleDef = RuleDef {
    code: "KRS101",
    name: "unscaled-kernel-initializer",
    severity: Severity::Info,
    fix: Some(FixSafety::Unsafe),
    options: &[
        RuleOption {
            name: "warning-layers",
            default: 6,
            description: "a visible stack with at least this many reported layers makes each finding a warning",
        },
        RuleOption {
            name: "min-layers",
            default: 4,
            description: "a fully visible model with fewer weight layers than this is not reported (shallow nets train fine); 1 reports them all",
        },
    ],
    query: include_str!("../../queries/python/unscaled-kernel-initializer.scm"),
    module: "unscaled_kernel_initializer",
    scenario: Some("init"),
    requires_text: None,
    spelled: None,
    check,
};

/// A weight variance within this factor of the activation's ideal counts as scaled.
const SCALED_TOLERANCE: f64 = 1.5;

/// Why one kernel initializer is reported.
struct Unscaled<'t> {
    init: Initializer<'t>,
    activation: Activation,
    target: InitKind,
}

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
    // Cheap checks first: most kernel initializers in real code are already scaled.
    if !is_candidate(ctx, layer, value) {
        return;
    }
    let stack = stack_around(ctx, call);
    let facts = StackFacts::new(ctx, &stack);
    let Some(unscaled) = assess(ctx, &facts, stack.index, layer, value) else {
        return;
    };
    let warn_at = usize::try_from(ctx.int_option(&RULE, "warning-layers")).unwrap_or(usize::MAX);
    let count = facts.reported_layers(ctx, warn_at);
    let init = &unscaled.init;
    let scale = init.std(ctx).map_or(String::from("a fixed scale"), |std| {
        format!("a fixed std ({})", short_number(std))
    });
    let effect = match unscaled.activation.family {
        ActivationFamily::Rectifier => {
            "the signal vanishes or explodes layer by layer (20 ReLU layers of width 128 measured activation std 9e-9 and no learning)"
        }
        _ => "the signal shrinks or grows layer by layer instead of keeping its scale",
    };
    let mut message = format!(
        "`{}` draws the kernel with {scale} that ignores the layer's fan-in; with `{}` {effect}",
        init.display(ctx),
        unscaled.activation.name,
    );
    if count >= warn_at {
        message.push_str(&format!("; {warn_at} or more such layers in this stack"));
    }
    let finding = sink.report(value, message);
    if count >= warn_at {
        finding.with_severity(Severity::Warning);
    }
    let Some((expr, import)) = replacement(ctx, init, unscaled.target) else {
        return;
    };
    let mut edits = vec![Edit::replace(value.byte_range(), expr.clone())];
    edits.extend(import);
    finding.with_fix(
        format!(
            "Use `{expr}` ({}, scaled for `{}`)",
            scheme(unscaled.target),
            unscaled.activation.name
        ),
        FixSafety::Unsafe,
        edits,
    );
}

/// `0.05`, `0.029`, `1`: three decimals without trailing zeros.
fn short_number(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The name of the scaling scheme of an initializer, for fix titles.
pub(crate) fn scheme(kind: InitKind) -> &'static str {
    match kind {
        InitKind::HeNormal | InitKind::HeUniform => "He",
        InitKind::LecunNormal | InitKind::LecunUniform => "LeCun",
        _ => "Glorot",
    }
}

/// Whether KRS101 reports the kernel initializer `value` of `layer` (other rules defer to it).
pub(crate) fn reports<'t>(ctx: &Context<'t>, layer: WeightLayer<'t>, value: Node<'t>) -> bool {
    let stack = stack_around(ctx, layer.call);
    let facts = StackFacts::new(ctx, &stack);
    let index = facts.index_of(layer).unwrap_or(stack.index);
    assess(ctx, &facts, index, layer, value).is_some()
}

/// What the rule needs to know about a stack, computed once per finding.
struct StackFacts<'s, 't> {
    stack: &'s Stack<'t>,
    /// Whether each item is a weight layer with a fixed-scale kernel initializer.
    fixed: Vec<bool>,
    /// The whole model is visible and has fewer weight layers than `min-layers`.
    shallow: bool,
}

impl<'s, 't> StackFacts<'s, 't> {
    fn new(ctx: &Context, stack: &'s Stack<'t>) -> StackFacts<'s, 't> {
        let fixed: Vec<bool> = stack
            .items
            .iter()
            .map(|item| match item.role {
                Role::Weight(layer) => has_fixed_scale_kernel(ctx, layer),
                _ => false,
            })
            .collect();
        let min_layers = usize::try_from(ctx.int_option(&RULE, "min-layers")).unwrap_or(0);
        let shallow = stack.complete_start
            && stack.complete_end
            && stack.weight_layers().count() < min_layers;
        StackFacts {
            stack,
            fixed,
            shallow,
        }
    }

    fn index_of(&self, layer: WeightLayer) -> Option<usize> {
        self.stack
            .weight_layers()
            .find_map(|(i, l)| (l.call.id() == layer.call.id()).then_some(i))
    }

    /// How many layers of the stack this rule reports, counting up to `limit`.
    fn reported_layers(&self, ctx: &Context, limit: usize) -> usize {
        self.stack
            .weight_layers()
            .filter(|&(i, layer)| {
                self.fixed[i]
                    && layer.family.kernel_keywords().iter().any(|keyword| {
                        crate::analysis::call::keyword(ctx.source, layer.call, keyword)
                            .is_some_and(|value| assess(ctx, self, i, layer, value).is_some())
                    })
            })
            .take(limit)
            .count()
    }
}

fn has_fixed_scale_kernel(ctx: &Context, layer: WeightLayer) -> bool {
    layer.family != LayerFamily::Recurrent
        && layer.family.kernel_keywords().iter().any(|keyword| {
            crate::analysis::call::keyword(ctx.source, layer.call, keyword)
                .and_then(|value| initializer(ctx, value))
                .is_some_and(|init| init.kind.is_fixed_scale())
        })
}

/// The checks of [`assess`] that need no stack: a fixed-scale initializer at its default scale
/// on a trainable, non-recurrent layer.
fn is_candidate(ctx: &Context, layer: WeightLayer, value: Node) -> bool {
    layer.family != LayerFamily::Recurrent
        && !layer.is_frozen(ctx)
        && initializer(ctx, value)
            .is_some_and(|init| init.kind.is_fixed_scale() && !init.explicit_scale(ctx))
}

/// Decides whether the kernel initializer `value` of the layer at `index` is reported.
fn assess<'t>(
    ctx: &Context,
    facts: &StackFacts<'_, 't>,
    index: usize,
    layer: WeightLayer<'t>,
    value: Node<'t>,
) -> Option<Unscaled<'t>> {
    if !is_candidate(ctx, layer, value) || facts.shallow {
        return None;
    }
    let init = initializer(ctx, value)?;
    let stack = facts.stack;
    let activation = match layer.own_activation(ctx) {
        own if own.is_nonlinear() => own,
        own if own.family == ActivationFamily::Linear => {
            stack.activation_after(index).filter(|a| a.is_nonlinear())?
        }
        _ => return None,
    };
    if stack.rescaled_after(index) {
        return None;
    }
    let target = InitKind::for_activation(activation.family)?;
    let ideal_gain = match activation.family {
        ActivationFamily::Rectifier => 2.0,
        _ => 1.0,
    };
    if let (Some(std), Some(fan_in)) = (init.std(ctx), stack.fan_in(ctx, index)) {
        let ratio = std * std * fan_in as f64 / ideal_gain;
        if (1.0 / SCALED_TOLERANCE..=SCALED_TOLERANCE).contains(&ratio) {
            return None;
        }
    }
    Some(Unscaled {
        init,
        activation,
        target,
    })
}

#[cfg(test)]
mod tests {
    use crate::analysis::analyze;
    use crate::document::parse;
    use crate::finding::Severity;
    use crate::settings::Settings;

    fn severities(src: &str, options: serde_json::Value) -> Vec<Severity> {
        let (settings, warnings) = Settings::from_layers(&[serde_json::json!({
            "select": ["KRS101"],
            "rules": { "unscaled-kernel-initializer": options },
        })]);
        assert!(warnings.is_empty(), "{warnings:?}");
        let tree = parse(src);
        analyze(src, &tree, &settings)
            .iter()
            .map(|f| f.severity)
            .collect()
    }

    const SHALLOW: &str = "import keras\nfrom keras import layers\nm = keras.Sequential([\n    layers.Dense(32, activation='relu', kernel_initializer='random_normal'),\n    layers.Dense(32, activation='relu', kernel_initializer='random_normal'),\n    layers.Dense(1, activation='sigmoid', kernel_initializer='random_normal'),\n])\n";

    #[test]
    fn options_tune_depth_and_escalation() {
        assert!(severities(SHALLOW, serde_json::json!({})).is_empty());
        assert_eq!(
            severities(SHALLOW, serde_json::json!({ "min-layers": 1 })),
            vec![Severity::Info; 3]
        );
        assert_eq!(
            severities(
                SHALLOW,
                serde_json::json!({ "min-layers": 3, "warning-layers": 3 })
            ),
            vec![Severity::Warning; 3]
        );
        assert_eq!(
            severities(
                SHALLOW,
                serde_json::json!({ "min-layers": 1, "severity": "hint" })
            ),
            vec![Severity::Hint; 3]
        );
    }
}

//! The file's mixed-precision setup: the global dtype policy it sets and the Keras it targets.
//!
//! Recognises every spelling of the policy setters (`mixed_precision.set_global_policy`,
//! `set_dtype_policy`, `keras.config.set_dtype_policy`, the removed `experimental.set_policy`)
//! with a policy name string, a `Policy(...)`/`DTypePolicy(...)` object, or a variable holding
//! one; and whether the file's Keras has `scale_loss` (Keras 3) or `get_scaled_loss` (Keras 2).

use tree_sitter::Node;

use super::imports::{KerasRoot, KerasSymbol, keras_symbol_from_path};
use super::model::assigned_value;
use super::{Context, call, string_value};
use crate::syntax::NodeExt;

/// How many variables or wrappers are followed from a setter's argument to the policy name.
const MAX_DEPTH: usize = 8;

/// A mixed-precision dtype policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MixedPolicy {
    /// `mixed_float16`: needs loss scaling in custom loops and float32 outputs.
    Float16,
    /// `mixed_bfloat16`: float32's exponent range, no loss scaling needed.
    BFloat16,
}

impl MixedPolicy {
    /// Parses a policy name (`"mixed_float16"`, `"mixed_bfloat16"`).
    pub fn from_name(name: &str) -> Option<MixedPolicy> {
        match name {
            "mixed_float16" => Some(MixedPolicy::Float16),
            "mixed_bfloat16" => Some(MixedPolicy::BFloat16),
            _ => None,
        }
    }
}

/// One call that sets the global dtype policy to a mixed policy.
#[derive(Debug, Clone)]
pub struct PolicySetting<'t> {
    pub call: Node<'t>,
    pub policy: MixedPolicy,
}

/// Which Keras API the file's code runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KerasFlavor {
    /// Keras 3 (`keras`, and `tf.keras` on TF >= 2.16): `optimizer.scale_loss(loss)`.
    Keras3,
    /// Keras 2 (`tf_keras`, `tf.keras` with `TF_USE_LEGACY_KERAS=1` or legacy optimizers):
    /// `get_scaled_loss` + `get_unscaled_gradients`.
    Keras2,
}

/// A name's canonical path with `tensorflow.compat.v1.`/`v2.` folded into `tensorflow.`.
pub fn resolve(ctx: &Context, node: Node) -> Option<String> {
    let path = ctx.resolve(node)?;
    for compat in ["tensorflow.compat.v1.", "tensorflow.compat.v2."] {
        if let Some(rest) = path.strip_prefix(compat) {
            return Some(format!("tensorflow.{rest}"));
        }
    }
    Some(path)
}

/// The Keras symbol a name refers to, also through `tf.compat.v1.keras`.
pub fn keras_symbol(ctx: &Context, node: Node) -> Option<KerasSymbol> {
    keras_symbol_from_path(&resolve(ctx, node)?)
}

/// The Keras symbol of a call's callee (see [`keras_symbol`]).
pub fn keras_callee(ctx: &Context, call: Node) -> Option<KerasSymbol> {
    keras_symbol(ctx, call.field("function")?)
}

/// For a path inside a TensorFlow/Keras `mixed_precision` module, what follows the module
/// (`experimental.set_policy` for `tensorflow.keras.mixed_precision.experimental.set_policy`).
pub fn mixed_precision_member(path: &str) -> Option<&str> {
    let root = path.split('.').next()?;
    if !matches!(root, "tensorflow" | "keras" | "tf_keras") {
        return None;
    }
    let index = path.find(".mixed_precision.")?;
    Some(&path[index + ".mixed_precision.".len()..])
}

/// The names of the policy setters.
const SETTERS: [&str; 3] = ["set_policy", "set_global_policy", "set_dtype_policy"];

/// `set_global_policy`, `set_dtype_policy`, `config.set_dtype_policy`, `experimental.set_policy`.
pub fn is_policy_setter(symbol: &KerasSymbol) -> bool {
    SETTERS.contains(&symbol.name()) && matches!(symbol.module(), "mixed_precision" | "config")
}

/// `mixed_precision.Policy`, `DTypePolicy` (top level, `dtype_policies.` or `mixed_precision.`).
pub fn is_policy_class(symbol: &KerasSymbol) -> bool {
    matches!(symbol.name(), "Policy" | "DTypePolicy" | "FloatDTypePolicy")
        && (!symbol.path.contains('.')
            || matches!(symbol.module(), "mixed_precision" | "dtype_policies"))
}

/// `mixed_precision.LossScaleOptimizer`, `optimizers.LossScaleOptimizer` (also experimental).
pub fn is_loss_scale_optimizer(symbol: &KerasSymbol) -> bool {
    symbol.name().starts_with("LossScaleOptimizer")
        && matches!(symbol.module(), "mixed_precision" | "optimizers")
}

/// Every call in the file that sets a mixed global policy (a conditional argument such as
/// `"mixed_bfloat16" if tpu else "mixed_float16"` yields one setting per possible policy).
/// Computed once per analysis.
pub fn policy_settings<'c, 't>(ctx: &'c Context<'t>) -> &'c [PolicySetting<'t>] {
    ctx.policy_settings()
}

/// Computes [`policy_settings`] (use that: it is cached).
pub(super) fn collect_settings<'t>(ctx: &Context<'t>) -> Vec<PolicySetting<'t>> {
    if !ctx.source_contains("mixed_") {
        return Vec::new();
    }
    // Only calls that can name a setter: `<x>.setter(...)`, `setter(...)`, or a name an import
    // binds to a setter (`from ... import set_global_policy as sgp`).
    let mut names: Vec<&str> = SETTERS.to_vec();
    names.extend(ctx.names_bound_to_any_of(&SETTERS));
    let mut calls: Vec<Node<'t>> = Vec::new();
    for name in &names {
        calls.extend(ctx.calls_of(name));
    }
    for setter in SETTERS {
        calls.extend(ctx.method_calls(setter));
    }
    calls.extend(ctx.paren_calls());
    calls.sort_by_key(|n| (n.start_byte(), std::cmp::Reverse(n.end_byte())));
    calls.dedup_by_key(|n| n.id());
    let mut settings = Vec::new();
    for node in calls {
        let Some(symbol) = keras_callee(ctx, node) else {
            continue;
        };
        if !is_policy_setter(&symbol) {
            continue;
        }
        let Some(argument) = call::argument(ctx.source, node, 0, "policy") else {
            continue;
        };
        let mut policies = Vec::new();
        policies_of(ctx, argument, 0, &mut policies);
        policies.dedup();
        settings.extend(
            policies
                .into_iter()
                .map(|policy| PolicySetting { call: node, policy }),
        );
    }
    settings
}

/// The first call that may set `mixed_float16` as the global policy.
pub fn mixed_float16<'t>(ctx: &Context<'t>) -> Option<Node<'t>> {
    policy_settings(ctx)
        .iter()
        .find(|s| s.policy == MixedPolicy::Float16)
        .map(|s| s.call)
}

/// The mixed policies an expression may evaluate to: a name string, a policy object, a
/// conditional expression or a variable holding one of those.
pub fn policies_of<'t>(
    ctx: &Context<'t>,
    expr: Node<'t>,
    depth: usize,
    out: &mut Vec<MixedPolicy>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    match expr.kind_name() {
        "string" => {
            if let Some(policy) = string_value(ctx.source, expr).and_then(MixedPolicy::from_name) {
                out.push(policy);
            }
        }
        "conditional_expression" | "parenthesized_expression" => {
            let mut cursor = expr.walk();
            for child in expr.named_children(&mut cursor) {
                policies_of(ctx, child, depth + 1, out);
            }
        }
        "call" => {
            let is_policy = keras_callee(ctx, expr).is_some_and(|s| is_policy_class(&s));
            if !is_policy {
                return;
            }
            if let Some(name) = call::argument(ctx.source, expr, 0, "name") {
                policies_of(ctx, name, depth + 1, out);
            }
        }
        "identifier" => {
            if let Some(value) = assigned_value(ctx, ctx.text(expr), expr) {
                policies_of(ctx, value, depth + 1, out);
            }
        }
        _ => {}
    }
}

/// Which Keras an optimizer or layer spelled from `root` runs on in this file. `tensorflow.keras`
/// is Keras 3 (TF >= 2.16) unless the file opts into legacy Keras (`TF_USE_LEGACY_KERAS`).
pub fn keras_flavor(ctx: &Context, root: KerasRoot) -> KerasFlavor {
    match root {
        KerasRoot::TfKerasLegacy => KerasFlavor::Keras2,
        KerasRoot::Keras => KerasFlavor::Keras3,
        KerasRoot::TfKeras if ctx.uses_legacy_keras() => KerasFlavor::Keras2,
        KerasRoot::TfKeras => KerasFlavor::Keras3,
    }
}

/// `os.environ["TF_USE_LEGACY_KERAS"] = "1"` (or `True`). Calls of Keras 2's loss-scaling API
/// are no evidence: a `tf_keras` loop beside a `tf.keras` one has them too.
pub(super) fn uses_legacy_keras(source: &str) -> bool {
    source.match_indices("TF_USE_LEGACY_KERAS").any(|(i, _)| {
        let rest = &source[i..];
        let line = rest.lines().next().unwrap_or("");
        let value = line.split_once('=').map_or("", |(_, v)| v);
        let value = value
            .trim()
            .trim_matches(|c| c == '"' || c == '\'' || c == ')');
        matches!(value, "1" | "True" | "true")
            || line.contains(", \"1\")")
            || line.contains(", '1')")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::parse;
    use crate::settings::Settings;

    fn settings_of(src: &str) -> Vec<MixedPolicy> {
        let tree = parse(src);
        let settings = Settings::default();
        let ctx = Context::new(src, &tree, &settings);
        policy_settings(&ctx).iter().map(|s| s.policy).collect()
    }

    #[test]
    fn every_setter_spelling() {
        use MixedPolicy::*;
        let cases: &[(&str, &[MixedPolicy])] = &[
            (
                "import tensorflow as tf\ntf.keras.mixed_precision.set_global_policy('mixed_float16')",
                &[Float16],
            ),
            (
                "import keras\nkeras.config.set_dtype_policy(\"mixed_bfloat16\")",
                &[BFloat16],
            ),
            (
                "from keras import mixed_precision\nmixed_precision.set_dtype_policy('mixed_float16')",
                &[Float16],
            ),
            (
                "from tensorflow.keras.mixed_precision import experimental as mixed_precision\npolicy = mixed_precision.Policy('mixed_float16')\nmixed_precision.set_policy(policy)",
                &[Float16],
            ),
            (
                "import tf_keras\ntf_keras.mixed_precision.set_global_policy(tf_keras.mixed_precision.Policy(name='mixed_float16'))",
                &[Float16],
            ),
            (
                "import keras\nkeras.config.set_dtype_policy(keras.DTypePolicy('mixed_float16'))",
                &[Float16],
            ),
            (
                "import tensorflow as tf\ntf.compat.v1.keras.mixed_precision.set_global_policy('mixed_float16')",
                &[Float16],
            ),
            (
                "import keras\nname = 'mixed_bfloat16' if tpu else 'mixed_float16'\nkeras.mixed_precision.set_global_policy(name)",
                &[BFloat16, Float16],
            ),
            (
                "import keras\nkeras.config.set_dtype_policy('float32')",
                &[],
            ),
            ("set_global_policy('mixed_float16')", &[]),
        ];
        for (src, expected) in cases {
            assert_eq!(settings_of(src), *expected, "{src}");
        }
    }

    #[test]
    fn flavour_follows_the_root_and_legacy_opt_in() {
        let src = "import tensorflow as tf\n";
        let tree = parse(src);
        let settings = Settings::default();
        let ctx = Context::new(src, &tree, &settings);
        assert_eq!(keras_flavor(&ctx, KerasRoot::TfKeras), KerasFlavor::Keras3);
        assert_eq!(
            keras_flavor(&ctx, KerasRoot::TfKerasLegacy),
            KerasFlavor::Keras2
        );
        assert!(uses_legacy_keras(
            "os.environ['TF_USE_LEGACY_KERAS'] = '1'\n"
        ));
        assert!(uses_legacy_keras(
            "os.environ.setdefault(\"TF_USE_LEGACY_KERAS\", \"1\")\n"
        ));
        assert!(!uses_legacy_keras(
            "os.environ['TF_USE_LEGACY_KERAS'] = '0'\n"
        ));
    }

    #[test]
    fn mixed_precision_members() {
        assert_eq!(
            mixed_precision_member("tensorflow.keras.mixed_precision.experimental.set_policy"),
            Some("experimental.set_policy")
        );
        assert_eq!(
            mixed_precision_member("tensorflow.mixed_precision.experimental.LossScale"),
            Some("experimental.LossScale")
        );
        assert_eq!(mixed_precision_member("apex.mixed_precision.x"), None);
    }
}

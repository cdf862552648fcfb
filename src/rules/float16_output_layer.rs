//! KRS503 float16-output-layer: under `mixed_float16` the model's softmax/sigmoid runs in float16.
//!
//! ## What it does
//! When the file sets the `mixed_float16` policy, flags the final layer of a model built in the
//! file (the last layer of a `Sequential([...])` list or of its `model.add(...)` calls, or the
//! layer producing the `outputs` of a functional `Model(inputs, outputs)`) when it applies a
//! softmax or sigmoid (`activation="softmax"`, `Activation("sigmoid")`, `Softmax()`,
//! `keras.activations.softmax`, `tf.nn.sigmoid`) and has no `dtype="float32"`.
//!
//! Not reported for `mixed_bfloat16`, or when the output is made float32 further downstream
//! (a last `Activation("linear", dtype="float32")` layer, or a `tf.cast` producing the outputs).
//!
//! ## Why is this bad?
//! Under a mixed policy every layer computes in float16 unless told otherwise; verified: with
//! the default dtype the model's output is float16. The TensorFlow mixed-precision guide: "A
//! softmax activation at the end of the model should be float32", because float16 softmax and
//! sigmoid outputs lose precision (three decimal digits, probabilities below 6e-8 become 0)
//! and feed a loss computed from rounded values
//! (<https://www.tensorflow.org/guide/mixed_precision>).
//!
//! ## Example
//! ```python
//! keras.mixed_precision.set_global_policy("mixed_float16")
//! model = keras.Sequential([
//!     keras.layers.Dense(64, activation="relu"),
//!     keras.layers.Dense(10, activation="softmax"),
//! ])
//! ```
//!
//! ## Use instead
//! ```python
//! model = keras.Sequential([
//!     keras.layers.Dense(64, activation="relu"),
//!     keras.layers.Dense(10, activation="softmax", dtype="float32"),
//! ])
//! ```
//! The guide's split (`Dense(10)` then `Activation("softmax", dtype="float32")`) is
//! equivalent; the fix adds the argument, which needs no import.
//!
//! ## Fix safety
//! Unsafe: the layer's computation and output switch to float32, which changes the numbers
//! (that is the point) and the dtype of everything consuming the model's output.

use crate::analysis::model::{self, FinalLayer};
use crate::analysis::{Context, RuleMatch, Sink, call, string_value};
use crate::analysis::{model::assigned_value, model::model_kind, policy};
use crate::finding::{Edit, FixSafety, Severity};
use crate::rules::RuleDef;
use crate::syntax::NodeExt;

pub const RULE: RuleDef = RuleDef {
    code: "KRS503",
    name: "float16-output-layer",
    severity: Severity::Warning,
    fix: Some(FixSafety::Unsafe),
    options: &[],
    query: include_str!("../../queries/python/float16-output-layer.scm"),
    module: "float16_output_layer",
    scenario: Some("mixed_precision"),
    // It reports only under a `mixed_float16` policy, which `policy::mixed_float16` reads off a string.
    requires_text: Some("mixed_"),
    spelled: Some(spelled_names),
    check,
};

/// The names a model construction's callee resolves to (see `model::model_kind`).
const MODEL_CLASSES: [&str; 2] = ["Sequential", "Model"];

/// What every match it reports from spells: `Sequential` or `Model`, or an alias an import
/// binds to a path ending in one (a callee's path is its first name's import binding followed
/// by the attribute names it spells), or the `add` of `model.add(...)`. A star import can bind
/// any name: `None` (every match runs).
fn spelled_names(ctx: &Context) -> Option<Vec<String>> {
    if ctx.imports.has_star_imports() {
        return None;
    }
    let mut names: Vec<String> = MODEL_CLASSES.iter().map(|name| name.to_string()).collect();
    names.push("add".to_string());
    names.extend(
        ctx.imports
            .imported_paths()
            .filter(|(name, path)| {
                !name.is_empty()
                    && path
                        .rsplit('.')
                        .next()
                        .is_some_and(|last| MODEL_CLASSES.contains(&last))
            })
            .map(|(name, _)| name.to_string()),
    );
    Some(names)
}

fn check<'t>(ctx: &Context<'t>, m: &RuleMatch<'t>, sink: &mut Sink) {
    let model_call = if let Some(model_call) = m.get("model") {
        model_call
    } else {
        let (Some(add), Some(added)) = (m.get("add"), m.get("added")) else {
            return;
        };
        // Cheap first: only `model.add(<Keras layer>(...))` leads to a model.
        if model::layer(ctx, added).is_none() {
            return;
        }
        let Some(receiver) = add.field("function").and_then(|f| f.field("object")) else {
            return;
        };
        let Some(value) = assigned_value(ctx, ctx.text(receiver), add) else {
            return;
        };
        value
    };
    if model_kind(ctx, model_call).is_none() {
        return;
    }
    let Some(layer) = model::final_layer(ctx, model_call) else {
        return;
    };
    let Some(activation) = layer.activation else {
        return;
    };
    if !runs_in_float16(ctx, &layer) || policy::mixed_float16(ctx).is_none() {
        return;
    }
    let float32 = ctx.string_literal_near(layer.call, "float32");
    let edit = match layer.dtype {
        Some(dtype) => Some(Edit::replace(dtype.byte_range(), float32.clone())),
        None => call::append_argument(ctx.source, layer.call, &format!("dtype={float32}")),
    };
    let finding = sink.report(
        layer.call,
        format!(
            "under `mixed_float16` this final `{}` computes its {} in float16; the model's output should be float32 (TF mixed-precision guide)",
            layer.symbol.name(),
            activation.name()
        ),
    );
    if let Some(edit) = edit {
        finding.with_fix(
            format!("Compute the output in float32 (`dtype={float32}`)"),
            FixSafety::Unsafe,
            vec![edit],
        );
    }
}

/// No `dtype=`, or an explicit float16 one (`"mixed_float16"`, `"float16"`).
fn runs_in_float16(ctx: &Context, layer: &FinalLayer) -> bool {
    let Some(dtype) = layer.dtype else {
        return true;
    };
    if let Some(value) = string_value(ctx.source, dtype) {
        return matches!(value, "mixed_float16" | "float16");
    }
    ctx.resolve(dtype)
        .is_some_and(|p| p == "tensorflow.float16" || p.ends_with(".float16"))
}

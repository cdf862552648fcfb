//! KRS502 custom-loop-without-loss-scaling: a float16 GradientTape loop applies unscaled gradients.
//!
//! ## What it does
//! When the file sets the `mixed_float16` policy (any spelling: `set_global_policy`,
//! `keras.config.set_dtype_policy`, a `Policy` object, a variable holding the name), flags a
//! custom training step (a function, or the module, with a `tf.GradientTape` block) that calls
//! `optimizer.apply_gradients(...)` or `optimizer.apply(...)` where `optimizer` is not a
//! `LossScaleOptimizer`. The finding sits on the optimizer's construction when it is in the
//! file, else on the `apply_gradients` call.
//!
//! Never reported for `mixed_bfloat16`, for `compile`/`fit` (they wrap the optimizer
//! themselves), for `self.optimizer`/`model.optimizer` set by `compile`, or when the step already
//! scales the loss (`scale_loss`, `get_scaled_loss`) or the optimizer has a `loss_scale_factor`.
//!
//! ## Why is this bad?
//! float16 cannot represent gradients below about 6e-8: they flush to zero. Measured with a
//! GradientTape step and `loss = 1e-5 * mean(output)`: without loss scaling **100%** of the
//! first layer's float16 gradients were 0; with a 2^15 loss scale the error against float32 was
//! 0.9%; bfloat16 without scaling had no zeros. `fit` scales the loss for you (`compile` wraps the
//! optimizer in a `LossScaleOptimizer` under `mixed_float16`), but "if a `tf.GradientTape` is
//! used ... you must scale the loss and gradients manually"
//! (<https://keras.io/2/api/mixed_precision/loss_scale_optimizer>,
//! <https://www.tensorflow.org/guide/mixed_precision>).
//!
//! ## Example
//! ```python
//! keras.mixed_precision.set_global_policy("mixed_float16")
//! optimizer = keras.optimizers.Adam()
//!
//! with tf.GradientTape() as tape:
//!     loss = loss_fn(y, model(x, training=True))
//! grads = tape.gradient(loss, model.trainable_variables)
//! optimizer.apply_gradients(zip(grads, model.trainable_variables))
//! ```
//!
//! ## Use instead
//! Keras 3 (and `tf.keras` on TF 2.16 or later): scale the loss inside the tape; `apply_gradients`
//! unscales and skips steps with non-finite gradients.
//! ```python
//! optimizer = keras.mixed_precision.LossScaleOptimizer(keras.optimizers.Adam())
//!
//! with tf.GradientTape() as tape:
//!     loss = loss_fn(y, model(x, training=True))
//!     scaled_loss = optimizer.scale_loss(loss)
//! grads = tape.gradient(scaled_loss, model.trainable_variables)
//! optimizer.apply_gradients(zip(grads, model.trainable_variables))
//! ```
//! tf_keras / Keras 2 (`TF_USE_LEGACY_KERAS=1`): `get_scaled_loss` and `get_unscaled_gradients`.
//! ```python
//! optimizer = tf_keras.mixed_precision.LossScaleOptimizer(tf_keras.optimizers.Adam())
//!
//! with tf.GradientTape() as tape:
//!     loss = loss_fn(y, model(x, training=True))
//!     scaled_loss = optimizer.get_scaled_loss(loss)
//! scaled_grads = tape.gradient(scaled_loss, model.trainable_variables)
//! grads = optimizer.get_unscaled_gradients(scaled_grads)
//! optimizer.apply_gradients(zip(grads, model.trainable_variables))
//! ```
//!
//! ## Fix safety
//! Unsafe: it changes the numbers training computes (that is the point) and the optimizer's
//! type and checkpoint layout. It wraps the construction and rewrites every step that uses the
//! optimizer, in the style of the file's Keras; when one of those steps cannot be rewritten
//! (the loss is not assigned in the tape's block, gradients are not `tape.gradient(loss, ...)`)
//! no fix is offered, because a wrapped optimizer with an unscaled loss would be wrong in Keras 3.

use tree_sitter::Node;

use crate::analysis::imports::{KerasRoot, KerasSymbol};
use crate::analysis::model::{assigned_value, enclosing_scope};
use crate::analysis::policy::{self, KerasFlavor};
use crate::analysis::{Context, RuleMatch, Sink, call};
use crate::finding::{Edit, FixSafety, Severity};
use crate::rules::RuleDef;
use crate::syntax::NodeExt;

pub const RULE: RuleDef = RuleDef {
    code: "KRS502",
    name: "custom-loop-without-loss-scaling",
    severity: Severity::Warning,
    fix: Some(FixSafety::Unsafe),
    options: &[],
    query: include_str!("../../queries/python/custom-loop-without-loss-scaling.scm"),
    module: "custom_loop_without_loss_scaling",
    scenario: Some("mixed_precision"),
    requires_text: None,
    spelled: None,
    check,
};

const MESSAGE: &str = "custom GradientTape loop under `mixed_float16` applies gradients without loss scaling: small float16 gradients flush to zero (measured: 100% of first-layer gradients were 0)";

/// What the optimizer used by a step was built from.
enum Built<'t> {
    /// A Keras optimizer without loss scaling.
    Plain(Node<'t>, KerasSymbol),
    /// Some other optimizer class (TF1, Addons): reported without a fix.
    Foreign(Node<'t>),
    /// A `LossScaleOptimizer`, or an optimizer with `loss_scale_factor=`.
    Scaled,
    /// Not known (a helper function of this file, a non-optimizer value).
    Unknown,
}

fn check<'t>(ctx: &Context<'t>, m: &RuleMatch<'t>, sink: &mut Sink) {
    let (Some(apply), Some(receiver)) = (m.get("apply"), m.get("optimizer")) else {
        return;
    };
    if !matches!(receiver.kind_name(), "identifier" | "attribute") {
        return;
    }
    // The file's policy is computed once per analysis: the cheapest test first.
    if policy::mixed_float16(ctx).is_none() {
        return;
    }
    let scope = enclosing_scope(apply);
    if tapes(ctx, scope).is_empty() || scales_loss(ctx, scope, ctx.text(receiver)) {
        return;
    }
    let name = ctx.text(receiver);
    let Some(value) = assigned_value(ctx, name, apply) else {
        report_unresolved(ctx, apply, receiver, sink);
        return;
    };
    match classify(ctx, value) {
        Built::Plain(construction, symbol) => {
            let fix = wrap_and_scale(ctx, construction, &symbol, name);
            let finding = sink.report(construction, MESSAGE);
            if let Some((title, edits)) = fix {
                finding.with_fix(title, FixSafety::Unsafe, edits);
            }
        }
        Built::Foreign(construction) => {
            sink.report(construction, MESSAGE);
        }
        Built::Unknown
            if value.kind_name() == "identifier"
                && is_parameter(ctx, value)
                && plain_self_attribute(ctx, apply, receiver) =>
        {
            // `self.optimizer = optimizer` from the constructor: built by the caller.
            sink.report(apply, MESSAGE);
        }
        Built::Scaled | Built::Unknown => {}
    }
}

/// An optimizer whose construction is not in the file: `self.optimizer`/`model.optimizer` come
/// from `compile` (already wrapped); a bare name (a parameter, an import) is reported at the
/// call unless the file passes that parameter a `LossScaleOptimizer` or something unknown.
fn report_unresolved<'t>(ctx: &Context<'t>, apply: Node<'t>, receiver: Node<'t>, sink: &mut Sink) {
    if receiver.kind_name() == "attribute" {
        if plain_self_attribute(ctx, apply, receiver) {
            sink.report(apply, MESSAGE);
        }
        return;
    }
    if receiver.kind_name() != "identifier" {
        return;
    }
    let method = apply
        .field("function")
        .and_then(|f| f.field("attribute"))
        .map_or("", |a| ctx.text(a));
    let name = ctx.text(receiver);
    if method != "apply_gradients" && !name.to_ascii_lowercase().contains("opt") {
        return;
    }
    let passed = passed_arguments(ctx, apply, name);
    let covered = passed.into_iter().any(|argument| {
        let value = match argument.kind_name() {
            "identifier" => assigned_value(ctx, ctx.text(argument), argument),
            _ => Some(argument),
        };
        value.is_none_or(|v| matches!(classify(ctx, v), Built::Scaled | Built::Unknown))
    });
    if covered {
        return;
    }
    sink.report(apply, MESSAGE);
}

/// `self.optimizer` in a plain class (no base class, so no Keras `compile` wrapped it).
fn plain_self_attribute(ctx: &Context, apply: Node, receiver: Node) -> bool {
    let is_self = receiver.kind_name() == "attribute"
        && receiver
            .field("object")
            .is_some_and(|o| ctx.text(o) == "self");
    is_self
        && crate::analysis::model::enclosing_class(apply).is_some_and(|c| {
            c.field("superclasses").is_none_or(|b| {
                let mut cursor = b.walk();
                b.named_children(&mut cursor)
                    .all(|base| ctx.text(base) == "object")
            })
        })
}

/// Whether `value` is a parameter of the function it appears in (`self.opt = opt` in `__init__`).
fn is_parameter(ctx: &Context, value: Node) -> bool {
    let function = enclosing_scope(value);
    let Some(parameters) = function.field("parameters") else {
        return false;
    };
    let name = ctx.text(value);
    let mut cursor = parameters.walk();
    parameters.named_children(&mut cursor).any(|p| {
        let id = if p.kind_name() == "identifier" {
            Some(p)
        } else {
            p.field("name").or_else(|| p.named_child(0))
        };
        id.is_some_and(|i| ctx.text(i) == name)
    })
}

/// When `name` is a parameter of the function around `node`, the arguments the file's calls of
/// that function pass for it.
fn passed_arguments<'t>(ctx: &Context<'t>, node: Node<'t>, name: &str) -> Vec<Node<'t>> {
    let function = enclosing_scope(node);
    if function.kind_name() != "function_definition" {
        return Vec::new();
    }
    let (Some(function_name), Some(parameters)) =
        (function.field("name"), function.field("parameters"))
    else {
        return Vec::new();
    };
    let mut cursor = parameters.walk();
    let index = parameters.named_children(&mut cursor).position(|p| {
        let id = match p.kind_name() {
            "identifier" => Some(p),
            "default_parameter" | "typed_default_parameter" => p.field("name"),
            "typed_parameter" => p.named_child(0),
            _ => None,
        };
        id.is_some_and(|id| ctx.text(id) == name)
    });
    let Some(index) = index else {
        return Vec::new();
    };
    ctx.calls_of(ctx.text(function_name))
        .into_iter()
        .filter_map(|c| call::argument(ctx.source, c, index, name))
        .collect()
}

fn classify<'t>(ctx: &Context<'t>, value: Node<'t>) -> Built<'t> {
    if value.kind_name() != "call" {
        return Built::Unknown;
    }
    if let Some(symbol) = policy::keras_callee(ctx, value) {
        if policy::is_loss_scale_optimizer(&symbol) {
            return Built::Scaled;
        }
        if symbol.module() != "optimizers" {
            return Built::Unknown;
        }
        if call::keyword(ctx.source, value, "loss_scale_factor").is_some() {
            return Built::Scaled;
        }
        return Built::Plain(value, symbol);
    }
    let Some(callee) = value.field("function") else {
        return Built::Unknown;
    };
    match policy::resolve(ctx, callee) {
        Some(path) if path.to_ascii_lowercase().contains("optimizer") => Built::Foreign(value),
        _ => Built::Unknown,
    }
}

/// `with tf.GradientTape() as <name>:` statements of a scope, with the tape's name.
fn tapes<'t>(ctx: &Context<'t>, scope: Node<'t>) -> Vec<(Node<'t>, String)> {
    let mut out = Vec::new();
    for node in ctx.scope(scope, false).with_items() {
        let Some(value) = node.field("value") else {
            continue;
        };
        let (expr, alias) = if value.kind_name() == "as_pattern" {
            let alias = value
                .field("alias")
                .and_then(|a| a.named_child(0))
                .map_or("", |a| ctx.text(a));
            (value.named_child(0), alias)
        } else {
            (Some(value), "")
        };
        let is_tape = expr
            .filter(|e| e.kind_name() == "call")
            .and_then(|e| e.field("function"))
            .and_then(|f| policy::resolve(ctx, f))
            .is_some_and(|p| p.starts_with("tensorflow.") && p.ends_with(".GradientTape"));
        let with_statement = node.parent().and_then(|clause| clause.parent());
        if let (true, Some(statement)) = (is_tape, with_statement) {
            out.push((statement, alias.to_string()));
        }
    }
    out
}

/// Whether the step already scales its loss or unscales its gradients with this optimizer.
fn scales_loss<'t>(ctx: &Context<'t>, scope: Node<'t>, optimizer: &str) -> bool {
    let index = ctx.scope(scope, false);
    ["scale_loss", "get_scaled_loss", "get_unscaled_gradients"]
        .iter()
        .flat_map(|method| index.attributes(method))
        .any(|n| n.field("object").is_some_and(|o| ctx.text(o) == optimizer))
}

/// The fix: wrap the construction in `LossScaleOptimizer(...)` and scale the loss in every
/// step that applies gradients with this optimizer. `None` when a step cannot be rewritten.
fn wrap_and_scale<'t>(
    ctx: &Context<'t>,
    construction: Node<'t>,
    symbol: &KerasSymbol,
    optimizer: &str,
) -> Option<(String, Vec<Edit>)> {
    let flavor = if symbol.path.contains("legacy") {
        KerasFlavor::Keras2
    } else {
        policy::keras_flavor(ctx, symbol.root)
    };
    let (import, bound) = match symbol.root {
        KerasRoot::Keras => ("from keras import mixed_precision", "mixed_precision"),
        KerasRoot::TfKeras => (
            "from tensorflow.keras import mixed_precision",
            "mixed_precision",
        ),
        KerasRoot::TfKerasLegacy => ("from tf_keras import mixed_precision", "mixed_precision"),
    };
    let path = format!(
        "{}.mixed_precision.LossScaleOptimizer",
        symbol.root.module()
    );
    let (lso, import_edit) = ctx.expr_or_import(&path, import, bound, "LossScaleOptimizer");
    let mut edits = vec![
        Edit::insert(construction.start_byte(), format!("{lso}(")),
        Edit::insert(construction.end_byte(), ")"),
    ];
    edits.extend(import_edit);
    // A plain name's `.apply*` calls are among its attributes (far fewer statements than
    // every `.apply(` of the file, pandas' included); `self.opt` has no such key.
    let candidates: Vec<Node> = if optimizer.contains('.') {
        ctx.method_calls("apply_gradients")
            .into_iter()
            .chain(ctx.method_calls("apply"))
            .collect()
    } else {
        ctx.attributes_of(optimizer)
            .into_iter()
            .filter_map(|attribute| attribute.parent())
            .collect()
    };
    let mut steps: Vec<Node> = candidates
        .into_iter()
        .filter(|n| is_apply_on(ctx, *n, optimizer))
        .filter(|n| assigned_value(ctx, optimizer, *n).is_some_and(|v| v.id() == construction.id()))
        .collect();
    // Document order (an outer call before the calls nested in it).
    steps.sort_by_key(|n| (n.start_byte(), std::cmp::Reverse(n.end_byte())));
    if steps.is_empty() {
        return None;
    }
    for apply in steps {
        edits.extend(scale_step(ctx, apply, optimizer, flavor)?);
    }
    let title = match flavor {
        KerasFlavor::Keras3 => {
            format!("Wrap in `{lso}` and scale the loss with `{optimizer}.scale_loss`")
        }
        KerasFlavor::Keras2 => {
            format!("Wrap in `{lso}` and use `get_scaled_loss`/`get_unscaled_gradients` (Keras 2)")
        }
    };
    Some((title, edits))
}

fn is_apply_on(ctx: &Context, node: Node, optimizer: &str) -> bool {
    if node.kind_name() != "call" {
        return false;
    }
    let Some(function) = node.field("function") else {
        return false;
    };
    function.kind_name() == "attribute"
        && function
            .field("attribute")
            .is_some_and(|a| matches!(ctx.text(a), "apply_gradients" | "apply"))
        && function
            .field("object")
            .is_some_and(|o| ctx.text(o) == optimizer)
}

/// Edits scaling the loss of one step:
/// `loss = ...` in the tape's block gets `scaled_loss = opt.scale_loss(loss)` after it, and
/// `tape.gradient(loss, ...)` differentiates `scaled_loss` (Keras 2: then unscales the gradients).
fn scale_step<'t>(
    ctx: &Context<'t>,
    apply: Node<'t>,
    optimizer: &str,
    flavor: KerasFlavor,
) -> Option<Vec<Edit>> {
    let scope = enclosing_scope(apply);
    let grads = gradients_argument(ctx, apply)?;
    let grads_name = ctx.text(grads);
    let gradient_call = assigned_value(ctx, grads_name, apply)?;
    let assignment = gradient_call
        .parent()
        .filter(|p| p.kind_name() == "assignment")?;
    let gradient_statement = assignment
        .parent()
        .filter(|p| p.kind_name() == "expression_statement")?;
    let (tape, loss) = tape_gradient(ctx, gradient_call)?;
    let loss_name = ctx.text(loss);
    let with_statement = tapes(ctx, scope)
        .into_iter()
        .rev()
        .find(|(w, alias)| *alias == tape && w.start_byte() < gradient_call.start_byte())
        .map(|(w, _)| w)?;
    let loss_statement = last_assignment_in_block(ctx, with_statement, loss_name)?;
    if loss_statement.end_byte() > gradient_call.start_byte()
        || !starts_line(ctx.source, loss_statement.start_byte())
        || !starts_line(ctx.source, gradient_statement.start_byte())
    {
        return None;
    }
    let scaled_loss = format!("scaled_{loss_name}");
    let scaled_grads = format!("scaled_{grads_name}");
    if name_used(ctx, scope, &scaled_loss) || name_used(ctx, scope, &scaled_grads) {
        return None;
    }
    let newline = ctx.newline();
    let indent = call::line_indent(ctx.source, loss_statement.start_byte());
    let scale = match flavor {
        KerasFlavor::Keras3 => "scale_loss",
        KerasFlavor::Keras2 => "get_scaled_loss",
    };
    let mut edits = vec![
        Edit::insert(
            line_end(ctx.source, loss_statement.end_byte()),
            format!("{newline}{indent}{scaled_loss} = {optimizer}.{scale}({loss_name})"),
        ),
        Edit::replace(loss.byte_range(), scaled_loss.clone()),
    ];
    if flavor == KerasFlavor::Keras2 {
        let target = assignment.field("left")?;
        let indent = call::line_indent(ctx.source, gradient_statement.start_byte());
        edits.push(Edit::replace(target.byte_range(), scaled_grads.clone()));
        edits.push(Edit::insert(
            line_end(ctx.source, gradient_statement.end_byte()),
            format!(
                "{newline}{indent}{grads_name} = {optimizer}.get_unscaled_gradients({scaled_grads})"
            ),
        ));
    }
    Some(edits)
}

/// `grads` in `apply_gradients(zip(grads, vars))` or `apply(grads, vars)`.
fn gradients_argument<'t>(ctx: &Context, apply: Node<'t>) -> Option<Node<'t>> {
    let first = call::argument(ctx.source, apply, 0, "grads_and_vars")
        .or_else(|| call::keyword(ctx.source, apply, "grads"))?;
    let grads = if first.kind_name() == "call" {
        let function = first.field("function")?;
        if ctx.text(function) != "zip" {
            return None;
        }
        call::positional(first, 0)?
    } else {
        first
    };
    (grads.kind_name() == "identifier").then_some(grads)
}

/// `tape.gradient(loss, ...)`: the tape's name and the loss identifier.
fn tape_gradient<'t>(ctx: &Context, gradient_call: Node<'t>) -> Option<(String, Node<'t>)> {
    if gradient_call.kind_name() != "call" {
        return None;
    }
    let function = gradient_call.field("function")?;
    let method = function.field("attribute")?;
    let tape = function.field("object")?;
    if ctx.text(method) != "gradient" || tape.kind_name() != "identifier" {
        return None;
    }
    let loss = call::argument(ctx.source, gradient_call, 0, "target")?;
    (loss.kind_name() == "identifier").then_some((ctx.text(tape).to_string(), loss))
}

/// The last statement directly in a `with` block that assigns `name` (`=` or `+=`).
fn last_assignment_in_block<'t>(
    ctx: &Context,
    with_statement: Node<'t>,
    name: &str,
) -> Option<Node<'t>> {
    let body = with_statement.field("body")?;
    let mut cursor = body.walk();
    body.named_children(&mut cursor)
        .filter(|statement| {
            statement.kind_name() == "expression_statement"
                && statement.named_child(0).is_some_and(|a| {
                    matches!(a.kind_name(), "assignment" | "augmented_assignment")
                        && a.field("left").is_some_and(|l| ctx.text(l) == name)
                })
        })
        .last()
}

fn name_used<'t>(ctx: &Context<'t>, scope: Node<'t>, name: &str) -> bool {
    !ctx.scope(scope, false).identifiers(name).is_empty()
}

/// Whether only whitespace precedes `offset` on its line.
fn starts_line(source: &str, offset: usize) -> bool {
    let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    source[line_start..offset].trim().is_empty()
}

/// Where the line holding `offset` ends (before its `\r\n`/`\n`), after any trailing comment.
fn line_end(source: &str, offset: usize) -> usize {
    let end = source[offset..]
        .find('\n')
        .map_or(source.len(), |i| offset + i);
    if end > 0 && source.as_bytes()[end - 1] == b'\r' {
        end - 1
    } else {
        end
    }
}

#[cfg(test)]
mod tests {
    use crate::fix::fix_source;
    use crate::settings::Settings;

    fn fixed(src: &str) -> String {
        let settings = Settings::from_layers(&[serde_json::json!({"select": ["KRS502"]})]).0;
        fix_source(src, &settings, true).text
    }

    #[test]
    fn keras3_loop_scales_inside_the_tape() {
        let src = "import keras\nimport tensorflow as tf\n\nkeras.mixed_precision.set_global_policy(\"mixed_float16\")\nopt = keras.optimizers.SGD(0.1)\n\n\ndef step(model, x, y):\n    with tf.GradientTape() as tape:\n        loss = model.compute_loss(x, y, model(x))  # loss\n    grads = tape.gradient(loss, model.trainable_variables)\n    opt.apply(grads, model.trainable_variables)\n";
        let expected = "import keras\nimport tensorflow as tf\n\nkeras.mixed_precision.set_global_policy(\"mixed_float16\")\nopt = keras.mixed_precision.LossScaleOptimizer(keras.optimizers.SGD(0.1))\n\n\ndef step(model, x, y):\n    with tf.GradientTape() as tape:\n        loss = model.compute_loss(x, y, model(x))  # loss\n        scaled_loss = opt.scale_loss(loss)\n    grads = tape.gradient(scaled_loss, model.trainable_variables)\n    opt.apply(grads, model.trainable_variables)\n";
        assert_eq!(fixed(src), expected);
    }

    #[test]
    fn keras2_loop_unscales_the_gradients() {
        let src = "import tensorflow as tf\nimport tf_keras\n\ntf_keras.mixed_precision.set_global_policy('mixed_float16')\noptimizer = tf_keras.optimizers.Adam()\n\n\n@tf.function\ndef train_step(x, y):\n    with tf.GradientTape() as tape:\n        loss = loss_fn(y, model(x, training=True))\n    gradients = tape.gradient(loss, model.trainable_variables)\n    optimizer.apply_gradients(zip(gradients, model.trainable_variables))\n";
        let expected = "import tensorflow as tf\nimport tf_keras\n\ntf_keras.mixed_precision.set_global_policy('mixed_float16')\noptimizer = tf_keras.mixed_precision.LossScaleOptimizer(tf_keras.optimizers.Adam())\n\n\n@tf.function\ndef train_step(x, y):\n    with tf.GradientTape() as tape:\n        loss = loss_fn(y, model(x, training=True))\n        scaled_loss = optimizer.get_scaled_loss(loss)\n    scaled_gradients = tape.gradient(scaled_loss, model.trainable_variables)\n    gradients = optimizer.get_unscaled_gradients(scaled_gradients)\n    optimizer.apply_gradients(zip(gradients, model.trainable_variables))\n";
        assert_eq!(fixed(src), expected);
    }

    #[test]
    fn crlf_sources_keep_their_line_endings() {
        let src = "import keras\r\nimport tensorflow as tf\r\nkeras.config.set_dtype_policy('mixed_float16')\r\nopt = keras.optimizers.Adam()\r\nwith tf.GradientTape() as tape:\r\n    loss = f()\r\ngrads = tape.gradient(loss, w)\r\nopt.apply_gradients(zip(grads, w))\r\n";
        let out = fixed(src);
        assert!(
            out.contains("    loss = f()\r\n    scaled_loss = opt.scale_loss(loss)\r\n"),
            "{out}"
        );
        assert!(!out.replace("\r\n", "").contains('\n'), "{out}");
    }
}

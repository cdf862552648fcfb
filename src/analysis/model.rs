//! Models as written in a file: their construction, final layer (activation, `dtype=`), compiled loss.
//!
//! Also the small scope helpers this needs: the value last assigned to a name before a point, in
//! the enclosing function (falling back to module level) or, for `self.x`, in the enclosing class.

use tree_sitter::Node;

use super::imports::KerasSymbol;
pub use super::index::scope_nodes;
use super::{Context, call, string_value};
use crate::syntax::NodeExt;

/// How many assignments or helper calls are followed from a name to its value.
const MAX_HOPS: usize = 16;

/// An activation that squashes outputs into probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Squash {
    Softmax,
    Sigmoid,
}

impl Squash {
    pub fn name(self) -> &'static str {
        match self {
            Squash::Softmax => "softmax",
            Squash::Sigmoid => "sigmoid",
        }
    }
}

/// How a model is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// `Sequential([...])`, possibly followed by `model.add(layer)` calls.
    Sequential,
    /// `Model(inputs, outputs)`.
    Functional,
}

/// The layer that produces a model's output.
#[derive(Debug, Clone)]
pub struct FinalLayer<'t> {
    /// The layer's constructor call (`layers.Dense(10, activation="softmax")`).
    pub call: Node<'t>,
    pub symbol: KerasSymbol,
    /// Softmax or sigmoid, when the layer applies one.
    pub activation: Option<Squash>,
    /// The value of its `dtype=` argument.
    pub dtype: Option<Node<'t>>,
}

/// The loss object passed to `compile`, when it is a Keras loss built with `from_logits=...`.
#[derive(Debug, Clone)]
pub struct CompiledLoss<'t> {
    /// The argument of `compile` (`loss=...` value or second positional argument).
    pub argument: Node<'t>,
    /// The loss constructor call (`keras.losses.SparseCategoricalCrossentropy(...)`).
    pub constructor: Node<'t>,
    pub symbol: KerasSymbol,
    /// The value of its `from_logits=` argument, when given.
    pub from_logits: Option<Node<'t>>,
}

/// Whether `call` constructs a Keras model, and which kind.
pub fn model_kind(ctx: &Context, call: Node) -> Option<ModelKind> {
    if call.kind_name() != "call" {
        return None;
    }
    let symbol = ctx.keras_callee(call)?;
    let top_level = !symbol.path.contains('.');
    let in_models = symbol.module() == "models";
    match symbol.name() {
        "Sequential" if top_level || in_models => Some(ModelKind::Sequential),
        "Model" if top_level || in_models => Some(ModelKind::Functional),
        _ => None,
    }
}

/// The model construction call that `reference` (e.g. `model` in `model.compile`) refers to,
/// through assignments and helper functions of this file (`model = build_model()`).
pub fn model_construction<'t>(ctx: &Context<'t>, reference: Node<'t>) -> Option<Node<'t>> {
    let mut current = reference;
    for _ in 0..MAX_HOPS {
        match current.kind_name() {
            "call" => {
                if model_kind(ctx, current).is_some() {
                    return Some(current);
                }
                current = helper_return(ctx, current)?;
            }
            "identifier" | "attribute" => {
                current = assigned_value(ctx, ctx.text(current), current)?;
            }
            "parenthesized_expression" => current = current.named_child(0)?,
            _ => return None,
        }
    }
    None
}

/// For a call of a function defined in this file, the expression its last `return` gives.
fn helper_return<'t>(ctx: &Context<'t>, call: Node<'t>) -> Option<Node<'t>> {
    let callee = call.field("function")?;
    if callee.kind_name() != "identifier" {
        return None;
    }
    let function = ctx.function(ctx.text(callee))?;
    let body = function.field("body")?;
    ctx.scope(body, false)
        .returns()
        .last()
        .and_then(|r| r.named_child(0))
}

/// The layer producing the output of the model built by `model_call`.
pub fn final_layer<'t>(ctx: &Context<'t>, model_call: Node<'t>) -> Option<FinalLayer<'t>> {
    let producer = match model_kind(ctx, model_call)? {
        ModelKind::Sequential => last_sequential_layer(ctx, model_call)?,
        ModelKind::Functional => {
            let outputs = call::argument(ctx.source, model_call, 1, "outputs")?;
            output_layer(ctx, outputs)?
        }
    };
    layer(ctx, producer)
}

/// The last layer of a Sequential model: its last `.add(layer)` call, else its list's last item.
fn last_sequential_layer<'t>(ctx: &Context<'t>, model_call: Node<'t>) -> Option<Node<'t>> {
    if let Some(added) = last_added_layer(ctx, model_call) {
        return Some(added);
    }
    let list = call::argument(ctx.source, model_call, 0, "layers")?;
    if list.kind_name() != "list" {
        return None;
    }
    let mut cursor = list.walk();
    let last = list
        .named_children(&mut cursor)
        .filter(|n| n.kind_name() != "comment")
        .last()?;
    Some(last)
}

/// `model = Sequential(...)` followed by `model.add(x)`: the argument of the last such call.
fn last_added_layer<'t>(ctx: &Context<'t>, model_call: Node<'t>) -> Option<Node<'t>> {
    let assignment = model_call
        .parent()
        .filter(|p| p.kind_name() == "assignment")?;
    let target = ctx.text(assignment.field("left")?);
    let scope = enclosing_scope(model_call);
    let descend = target.starts_with("self.");
    ctx.scope(scope, descend)
        .attributes("add")
        .into_iter()
        .filter(|f| {
            f.start_byte() > model_call.end_byte()
                && f.field("object").is_some_and(|o| ctx.text(o) == target)
        })
        .filter_map(|f| {
            f.parent().filter(|c| {
                c.kind_name() == "call" && c.field("function").is_some_and(|g| g.id() == f.id())
            })
        })
        .last()
        .and_then(|add| call::positional(add, 0))
}

/// Follows a functional model's `outputs` expression back to the layer constructor producing it.
fn output_layer<'t>(ctx: &Context<'t>, outputs: Node<'t>) -> Option<Node<'t>> {
    let mut current = outputs;
    for _ in 0..MAX_HOPS {
        match current.kind_name() {
            "identifier" => current = assigned_value(ctx, ctx.text(current), current)?,
            "parenthesized_expression" => current = current.named_child(0)?,
            "call" => {
                // `layers.Dense(10)(x)`: the function is the layer.
                let function = current.field("function")?;
                return match function.kind_name() {
                    "call" => Some(function),
                    // `head(x)` with `head = layers.Dense(...)`.
                    "identifier" => assigned_value(ctx, ctx.text(function), function),
                    _ => None,
                };
            }
            _ => return None,
        }
    }
    None
}

/// Describes a Keras layer constructor call; `None` for anything else.
pub fn layer<'t>(ctx: &Context, node: Node<'t>) -> Option<FinalLayer<'t>> {
    if node.kind_name() != "call" {
        return None;
    }
    let symbol = ctx.keras_callee(node)?;
    if symbol.module() != "layers" {
        return None;
    }
    let activation = layer_activation(ctx, node, &symbol);
    Some(FinalLayer {
        call: node,
        activation,
        dtype: call::keyword(ctx.source, node, "dtype"),
        symbol,
    })
}

/// The squashing activation a layer applies (`activation=`, `Activation(...)`, `Softmax()`).
fn layer_activation(ctx: &Context, layer: Node, symbol: &KerasSymbol) -> Option<Squash> {
    let value = match symbol.name() {
        "Softmax" => return Some(Squash::Softmax),
        "Activation" => call::argument(ctx.source, layer, 0, "activation")?,
        "Dense" => call::argument(ctx.source, layer, 1, "activation")?,
        _ => call::keyword(ctx.source, layer, "activation")?,
    };
    activation_of(ctx, value)
}

/// Reads an activation value: `"softmax"`, `keras.activations.sigmoid`, `tf.nn.softmax`, ...
pub fn activation_of(ctx: &Context, value: Node) -> Option<Squash> {
    let name = match value.kind_name() {
        "string" => string_value(ctx.source, value)?.to_string(),
        "identifier" | "attribute" => {
            let path = ctx.resolve(value)?;
            let root = path.split('.').next().unwrap_or("");
            if !matches!(root, "tensorflow" | "keras" | "tf_keras") {
                return None;
            }
            path.rsplit('.').next().unwrap_or("").to_string()
        }
        _ => return None,
    };
    match name.as_str() {
        "softmax" => Some(Squash::Softmax),
        "sigmoid" => Some(Squash::Sigmoid),
        _ => None,
    }
}

/// The Keras loss object passed to `compile` (directly or through a variable).
pub fn compiled_loss<'t>(ctx: &Context<'t>, compile_call: Node<'t>) -> Option<CompiledLoss<'t>> {
    let argument = call::argument(ctx.source, compile_call, 1, "loss")?;
    let mut current = argument;
    for _ in 0..MAX_HOPS {
        match current.kind_name() {
            "identifier" | "attribute" => {
                current = assigned_value(ctx, ctx.text(current), current)?;
            }
            "parenthesized_expression" => current = current.named_child(0)?,
            "call" => {
                let symbol = ctx.keras_callee(current)?;
                if symbol.module() != "losses" {
                    return None;
                }
                return Some(CompiledLoss {
                    argument,
                    constructor: current,
                    from_logits: call::keyword(ctx.source, current, "from_logits"),
                    symbol,
                });
            }
            _ => return None,
        }
    }
    None
}

/// The function, class or module whose names are visible at `node` without a lookup upwards.
pub fn enclosing_scope(node: Node) -> Node {
    let mut current = node;
    while let Some(parent) = current.parent() {
        if matches!(parent.kind_name(), "function_definition" | "module") {
            return parent;
        }
        current = parent;
    }
    current
}

/// The root (module) node of the tree holding `node`.
pub fn root_of(node: Node) -> Node {
    let mut current = node;
    while let Some(parent) = current.parent() {
        current = parent;
    }
    current
}

/// The class definition `node` sits in, if any.
pub fn enclosing_class(node: Node) -> Option<Node> {
    let mut current = node.parent();
    while let Some(n) = current {
        if n.kind_name() == "class_definition" {
            return Some(n);
        }
        current = n.parent();
    }
    None
}

/// The value last assigned to `name` (an identifier or `self.attr` text) before `at`: in the
/// enclosing function, then at module level; for `self.attr`, anywhere in the enclosing class.
pub fn assigned_value<'t>(ctx: &Context<'t>, name: &str, at: Node<'t>) -> Option<Node<'t>> {
    if name.starts_with("self.") {
        let class = enclosing_class(at)?;
        return ctx.scope(class, true).last_assignment(name, usize::MAX);
    }
    if name.contains('.') {
        return None;
    }
    let scope = enclosing_scope(at);
    if let Some(value) = ctx
        .scope(scope, false)
        .last_assignment(name, at.start_byte())
    {
        return Some(value);
    }
    if scope.kind_name() == "module" {
        return None;
    }
    // A module-level name read inside a function: any module-level assignment counts.
    ctx.scope(ctx.forest.root_at(0), false)
        .last_assignment(name, usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::descendants;
    use crate::document::parse;
    use crate::settings::Settings;

    /// Runs `f` on the context of `src` and the last call in the file whose text starts with
    /// `prefix`.
    fn with_call<R>(
        src: &str,
        prefix: &str,
        f: impl for<'t> FnOnce(&Context<'t>, Node<'t>) -> R,
    ) -> R {
        let tree = parse(src);
        let settings = Settings::default();
        let ctx = Context::new(src, &tree, &settings);
        let node = tree
            .roots()
            .flat_map(descendants)
            .filter(|n| n.kind_name() == "call" && ctx.text(*n).starts_with(prefix))
            .last()
            .expect("call present");
        f(&ctx, node)
    }

    fn final_of(src: &str, prefix: &str) -> Option<(String, Option<Squash>, Option<String>)> {
        with_call(src, prefix, |ctx, call| {
            final_layer(ctx, call).map(|l| {
                (
                    ctx.text(l.call).to_string(),
                    l.activation,
                    l.dtype.map(|d| ctx.text(d).to_string()),
                )
            })
        })
    }

    #[test]
    fn sequential_literal_and_added_layers() {
        let src = "import keras\nfrom keras import layers\nm = keras.Sequential([\n    layers.Dense(8, activation='relu'),\n    layers.Dense(3, 'softmax'),  # out\n])\n";
        assert_eq!(
            final_of(src, "keras.Sequential"),
            Some((
                "layers.Dense(3, 'softmax')".into(),
                Some(Squash::Softmax),
                None
            ))
        );
        let src = "import tensorflow as tf\nm = tf.keras.models.Sequential()\nm.add(tf.keras.layers.Dense(4))\nm.add(tf.keras.layers.Activation(tf.nn.sigmoid, dtype='float32'))\n";
        assert_eq!(
            final_of(src, "tf.keras.models.Sequential"),
            Some((
                "tf.keras.layers.Activation(tf.nn.sigmoid, dtype='float32')".into(),
                Some(Squash::Sigmoid),
                Some("'float32'".into())
            ))
        );
    }

    #[test]
    fn functional_outputs_are_followed_through_names() {
        let src = "from tensorflow import keras\ninputs = keras.Input((4,))\nx = keras.layers.Dense(8)(inputs)\nhead = keras.layers.Dense(1, activation=keras.activations.sigmoid)\nx = head(x)\noutputs = x\nmodel = keras.Model(inputs=inputs, outputs=outputs)\n";
        let got = final_of(src, "keras.Model");
        assert_eq!(
            got.map(|(t, a, _)| (t, a)),
            Some((
                "keras.layers.Dense(1, activation=keras.activations.sigmoid)".into(),
                Some(Squash::Sigmoid)
            ))
        );
        // A cast after the last layer: no layer produces the output.
        let src = "import tensorflow as tf\nfrom tensorflow.keras import layers, Model\ni = layers.Input((4,))\nx = layers.Dense(3, activation='softmax')(i)\nout = tf.cast(x, tf.float32)\nm = Model(i, out)\n";
        assert_eq!(final_of(src, "Model("), None);
    }

    #[test]
    fn model_construction_follows_helper_functions() {
        let src = "import keras\ndef build():\n    m = keras.Sequential([keras.layers.Dense(1)])\n    return m\nmodel = build()\nmodel.compile(loss='mse')\n";
        let found = with_call(src, "model.compile", |ctx, compile| {
            let object = compile
                .field("function")
                .and_then(|f| f.field("object"))
                .unwrap();
            model_construction(ctx, object).map(|c| ctx.text(c).to_string())
        });
        assert_eq!(
            found.as_deref(),
            Some("keras.Sequential([keras.layers.Dense(1)])")
        );
    }

    #[test]
    fn compiled_loss_through_a_variable() {
        let src = "import keras\nloss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)\nmodel.compile('adam', loss_fn)\n";
        let got = with_call(src, "model.compile", |ctx, compile| {
            compiled_loss(ctx, compile).map(|l| {
                (
                    ctx.text(l.argument).to_string(),
                    l.symbol.name().to_string(),
                    l.from_logits.map(|f| ctx.text(f).to_string()),
                )
            })
        });
        assert_eq!(
            got,
            Some((
                "loss_fn".into(),
                "SparseCategoricalCrossentropy".into(),
                Some("True".into())
            ))
        );
    }

    #[test]
    fn assignments_are_scoped() {
        let src = "import keras\nopt = keras.optimizers.SGD()\ndef step():\n    opt.apply([])\nclass T:\n    def __init__(self):\n        self.opt = keras.optimizers.Adam()\n    def step(self):\n        self.opt.apply([])\n";
        let got = with_call(src, "opt.apply", |ctx, c| {
            let recv = c.field("function").and_then(|f| f.field("object")).unwrap();
            assigned_value(ctx, ctx.text(recv), recv).map(|v| ctx.text(v).to_string())
        });
        assert_eq!(got.as_deref(), Some("keras.optimizers.SGD()"));
        let got = with_call(src, "self.opt.apply", |ctx, c| {
            let recv = c.field("function").and_then(|f| f.field("object")).unwrap();
            assigned_value(ctx, ctx.text(recv), recv).map(|v| ctx.text(v).to_string())
        });
        assert_eq!(got.as_deref(), Some("keras.optimizers.Adam()"));
    }
}

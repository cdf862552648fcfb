//! Keras layer knowledge shared by rules: weight layers, their kernel arguments and activations.
//!
//! A *weight layer* is a Keras `Dense`, `EinsumDense`, `Conv*`, `Conv*Transpose`,
//! `SeparableConv*`, `DepthwiseConv*`, `SimpleRNN`, `LSTM` or `GRU` constructor call, from any
//! Keras spelling (keras 3, tf.keras, tf_keras, any import style). Initializer expressions are in
//! [`initializers`], visible layer stacks (`Sequential([...])`, `model.add(...)`, functional
//! chains) in [`stack`].

pub mod initializers;
pub mod stack;

use tree_sitter::Node;

use super::imports::KerasSymbol;
use super::{Context, call};
use crate::syntax::NodeExt;

/// The kinds of weight layer, which decide the kernel keywords and the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerFamily {
    Dense,
    EinsumDense,
    /// `Conv1D/2D/3D` (and the `Convolution*` aliases).
    Conv,
    /// `Conv1D/2D/3DTranspose`.
    ConvTranspose,
    /// `SeparableConv1D/2D`: `depthwise_initializer` and `pointwise_initializer`.
    SeparableConv,
    /// `DepthwiseConv1D/2D`: `depthwise_initializer`.
    DepthwiseConv,
    /// `SimpleRNN`, `LSTM`, `GRU`: the input `kernel` (not the recurrent kernel).
    Recurrent,
}

impl LayerFamily {
    /// The keyword arguments that hold this layer's kernel initializers.
    pub fn kernel_keywords(self) -> &'static [&'static str] {
        match self {
            LayerFamily::SeparableConv => &["depthwise_initializer", "pointwise_initializer"],
            LayerFamily::DepthwiseConv => &["depthwise_initializer"],
            _ => &["kernel_initializer"],
        }
    }

    /// The activation a layer has when none is given.
    pub fn default_activation(self) -> Activation {
        match self {
            LayerFamily::Recurrent => Activation::named("tanh"),
            _ => Activation::LINEAR,
        }
    }
}

/// Classifies a Keras layer class name (`Conv2D`) as a weight layer: family and spatial rank.
pub fn weight_layer_family(class: &str) -> Option<(LayerFamily, u8)> {
    let rank = |s: &str| {
        s.chars()
            .find(|c| c.is_ascii_digit())
            .map(|c| c as u8 - b'0')
    };
    let family = match class {
        "Dense" => return Some((LayerFamily::Dense, 0)),
        "EinsumDense" => return Some((LayerFamily::EinsumDense, 0)),
        "SimpleRNN" | "LSTM" | "GRU" => return Some((LayerFamily::Recurrent, 0)),
        "Conv1D" | "Conv2D" | "Conv3D" | "Convolution1D" | "Convolution2D" | "Convolution3D" => {
            LayerFamily::Conv
        }
        "Conv1DTranspose"
        | "Conv2DTranspose"
        | "Conv3DTranspose"
        | "Convolution1DTranspose"
        | "Convolution2DTranspose"
        | "Convolution3DTranspose" => LayerFamily::ConvTranspose,
        "SeparableConv1D"
        | "SeparableConv2D"
        | "SeparableConvolution1D"
        | "SeparableConvolution2D" => LayerFamily::SeparableConv,
        "DepthwiseConv1D" | "DepthwiseConv2D" => LayerFamily::DepthwiseConv,
        _ => return None,
    };
    Some((family, rank(class)?))
}

/// What an argument slot of a call holds.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'t> {
    /// Written out, keyword or positional.
    Given(Node<'t>),
    /// Not passed: the layer's default applies.
    Absent,
    /// Cannot be told (`**kwargs`, or more positional arguments than we can map).
    Unknown,
}

/// A weight-layer constructor call, e.g. `layers.Dense(64, activation="relu")`.
#[derive(Debug, Clone, Copy)]
pub struct WeightLayer<'t> {
    pub call: Node<'t>,
    pub family: LayerFamily,
    /// Spatial rank of convolutions (1, 2, 3); 0 for the others.
    pub rank: u8,
}

/// The weight layer constructed by `call`, if its callee resolves to one.
pub fn weight_layer<'t>(ctx: &Context, call: Node<'t>) -> Option<WeightLayer<'t>> {
    if call.kind_name() != "call" {
        return None;
    }
    let symbol = ctx.keras_callee(call)?;
    if symbol.module() != "layers" {
        return None;
    }
    let (family, rank) = weight_layer_family(symbol.name())?;
    Some(WeightLayer { call, family, rank })
}

impl<'t> WeightLayer<'t> {
    /// The kernel initializer passed as `keyword` (one of [`LayerFamily::kernel_keywords`]).
    pub fn kernel_initializer(&self, ctx: &Context, keyword: &str) -> Arg<'t> {
        let position = match (self.family, keyword) {
            // Dense(units, activation, use_bias, kernel_initializer)
            (LayerFamily::Dense, "kernel_initializer") => Some(3),
            _ => None,
        };
        self.argument(ctx, keyword, position)
    }

    /// The activation argument (keyword, or positional where the signature is stable).
    pub fn activation_argument(&self, ctx: &Context) -> Arg<'t> {
        let position = match self.family {
            LayerFamily::Dense | LayerFamily::Recurrent => Some(1),
            _ => None,
        };
        self.argument(ctx, "activation", position)
    }

    /// The layer's own activation (its `activation=` argument, else the default).
    pub fn own_activation(&self, ctx: &Context) -> Activation {
        match self.activation_argument(ctx) {
            Arg::Given(node) => activation_of(ctx, node),
            Arg::Absent => self.family.default_activation(),
            Arg::Unknown => Activation::UNKNOWN,
        }
    }

    /// The literal `units` / `filters` (the output width), if written as an integer.
    pub fn width(&self, ctx: &Context) -> Option<u64> {
        let keyword = match self.family {
            LayerFamily::Dense | LayerFamily::Recurrent => "units",
            LayerFamily::Conv | LayerFamily::ConvTranspose | LayerFamily::SeparableConv => {
                "filters"
            }
            LayerFamily::EinsumDense | LayerFamily::DepthwiseConv => return None,
        };
        let node = call::argument(ctx.source, self.call, 0, keyword)?;
        int_literal(ctx.text(node))
    }

    /// The literal number of weights in the kernel's receptive field (`kernel_size`), 1 for
    /// Dense.
    pub fn receptive_field(&self, ctx: &Context) -> Option<u64> {
        match self.family {
            LayerFamily::Dense => return Some(1),
            LayerFamily::Conv => {}
            _ => return None,
        }
        let node = call::argument(ctx.source, self.call, 1, "kernel_size")?;
        if let Some(k) = int_literal(ctx.text(node)) {
            return Some(k.pow(u32::from(self.rank)));
        }
        if !matches!(node.kind_name(), "tuple" | "list") {
            return None;
        }
        let mut cursor = node.walk();
        let sizes: Option<Vec<u64>> = node
            .named_children(&mut cursor)
            .filter(|n| n.kind_name() != "comment")
            .map(|n| int_literal(ctx.text(n)))
            .collect();
        let sizes = sizes?;
        (sizes.len() == usize::from(self.rank)).then(|| sizes.iter().product())
    }

    /// Whether the layer is frozen (`trainable=False`): its initial weights are its weights.
    pub fn is_frozen(&self, ctx: &Context) -> bool {
        call::keyword(ctx.source, self.call, "trainable").is_some_and(|v| v.kind_name() == "false")
    }

    /// The input width declared on the layer itself: `input_dim=N` or `input_shape=(..., N)`.
    pub fn declared_input_width(&self, ctx: &Context) -> Option<u64> {
        if let Some(dim) = call::keyword(ctx.source, self.call, "input_dim") {
            return int_literal(ctx.text(dim));
        }
        let shape = call::keyword(ctx.source, self.call, "input_shape")?;
        last_shape_dim(ctx, shape)
    }

    fn argument(&self, ctx: &Context, keyword: &str, position: Option<usize>) -> Arg<'t> {
        if let Some(node) = call::keyword(ctx.source, self.call, keyword) {
            return Arg::Given(node);
        }
        let Some(args) = self.call.field("arguments") else {
            return Arg::Unknown;
        };
        let mut cursor = args.walk();
        let children: Vec<Node<'t>> = args
            .named_children(&mut cursor)
            .filter(|a| a.kind_name() != "comment")
            .collect();
        if children
            .iter()
            .any(|a| matches!(a.kind_name(), "dictionary_splat" | "list_splat"))
        {
            return Arg::Unknown;
        }
        let positional = children
            .iter()
            .filter(|a| a.kind_name() != "keyword_argument")
            .count();
        match position {
            Some(index) if index < positional => {
                call::positional(self.call, index).map_or(Arg::Unknown, Arg::Given)
            }
            // More positional arguments than we map: the slot may be among them.
            None if positional > 2 => Arg::Unknown,
            _ => Arg::Absent,
        }
    }
}

/// The call whose argument list holds `argument` (a keyword argument or a positional value).
pub fn call_of_argument(argument: Node) -> Option<Node> {
    argument
        .parent()
        .filter(|p| p.kind_name() == "argument_list")?
        .parent()
        .filter(|c| c.kind_name() == "call")
}

/// The last dimension of a literal shape tuple `(28, 28, 3)` / `[784]`.
pub fn last_shape_dim(ctx: &Context, shape: Node) -> Option<u64> {
    if !matches!(shape.kind_name(), "tuple" | "list") {
        return None;
    }
    let mut cursor = shape.walk();
    let last = shape
        .named_children(&mut cursor)
        .filter(|n| n.kind_name() != "comment")
        .last()?;
    int_literal(ctx.text(last))
}

/// Parses a non-negative Python integer literal (`64`, `1_024`).
pub fn int_literal(literal: &str) -> Option<u64> {
    let cleaned: String = literal.trim().chars().filter(|&c| c != '_').collect();
    if cleaned.is_empty() || !cleaned.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    cleaned.parse().ok()
}

/// Parses a numeric literal, possibly signed or parenthesized (`0.05`, `-1`, `(1e-2)`).
pub fn float_literal(ctx: &Context, node: Node) -> Option<f64> {
    let mut node = node;
    let mut sign = 1.0;
    // Peel `-`, `+` and parentheses iteratively (bounded: no deep recursion on `-(-(-...))`).
    for _ in 0..16 {
        match node.kind_name() {
            "integer" | "float" => {
                let value: f64 = ctx.text(node).replace('_', "").parse().ok()?;
                return Some(sign * value);
            }
            "unary_operator" => {
                match ctx.text(node).trim_start().chars().next()? {
                    '-' => sign = -sign,
                    '+' => {}
                    _ => return None,
                }
                node = node.field("argument")?;
            }
            "parenthesized_expression" => node = node.named_child(0)?,
            _ => return None,
        }
    }
    None
}

/// The content of a plain string literal (no f-string interpolation, no concatenation).
pub fn string_content<'s>(source: &'s str, node: Node) -> Option<&'s str> {
    if node.kind_name() != "string" {
        return None;
    }
    let mut cursor = node.walk();
    let mut start = None;
    let mut end = None;
    for child in node.children(&mut cursor) {
        match child.kind_name() {
            "string_start" => start = Some(child.end_byte()),
            "string_end" => end = Some(child.start_byte()),
            "interpolation" => return None,
            _ => {}
        }
    }
    source.get(start?..end?)
}

/// How a non-linearity treats the signal, which decides the matching initializer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivationFamily {
    /// No activation (`None`, `"linear"`).
    Linear,
    /// ReLU and its relatives (relu6, leaky_relu, elu, gelu, silu/swish, mish): He init.
    Rectifier,
    /// tanh, sigmoid, softmax, softsign, softplus and relatives: Glorot init.
    Smooth,
    /// selu: LeCun normal.
    Selu,
    /// A known activation outside those families (e.g. `exponential`).
    Other,
    /// Not statically known (a variable, a lambda, `**kwargs`).
    Unknown,
}

/// An activation with a display name for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activation {
    pub family: ActivationFamily,
    /// The canonical name (`relu`), `linear`, or `?` when unknown.
    pub name: &'static str,
}

/// Known activation names and their families.
const ACTIVATIONS: &[(&str, ActivationFamily)] = &[
    ("linear", ActivationFamily::Linear),
    ("relu", ActivationFamily::Rectifier),
    ("relu6", ActivationFamily::Rectifier),
    ("leaky_relu", ActivationFamily::Rectifier),
    ("elu", ActivationFamily::Rectifier),
    ("celu", ActivationFamily::Rectifier),
    ("gelu", ActivationFamily::Rectifier),
    ("silu", ActivationFamily::Rectifier),
    ("swish", ActivationFamily::Rectifier),
    ("mish", ActivationFamily::Rectifier),
    ("hard_silu", ActivationFamily::Rectifier),
    ("hard_swish", ActivationFamily::Rectifier),
    ("tanh", ActivationFamily::Smooth),
    ("sigmoid", ActivationFamily::Smooth),
    ("hard_sigmoid", ActivationFamily::Smooth),
    ("hard_tanh", ActivationFamily::Smooth),
    ("softmax", ActivationFamily::Smooth),
    ("log_softmax", ActivationFamily::Smooth),
    ("softplus", ActivationFamily::Smooth),
    ("softsign", ActivationFamily::Smooth),
    ("selu", ActivationFamily::Selu),
    ("exponential", ActivationFamily::Other),
];

/// Activations whose output flattens out at both ends (He init pushes them into saturation).
const SATURATING: &[&str] = &[
    "tanh",
    "sigmoid",
    "hard_sigmoid",
    "hard_tanh",
    "softmax",
    "log_softmax",
    "softsign",
];

impl Activation {
    pub const LINEAR: Activation = Activation {
        family: ActivationFamily::Linear,
        name: "linear",
    };
    pub const UNKNOWN: Activation = Activation {
        family: ActivationFamily::Unknown,
        name: "?",
    };

    /// The activation called `name` (Keras spelling), or [`Activation::UNKNOWN`].
    pub fn named(name: &str) -> Activation {
        ACTIVATIONS.iter().find(|(n, _)| *n == name).map_or(
            Activation::UNKNOWN,
            |&(name, family)| Activation { family, name },
        )
    }

    /// Whether this activation is a known non-linearity.
    pub fn is_nonlinear(self) -> bool {
        !matches!(
            self.family,
            ActivationFamily::Linear | ActivationFamily::Unknown
        )
    }

    /// tanh, sigmoid, softmax and the like.
    pub fn is_saturating(self) -> bool {
        SATURATING.contains(&self.name)
    }
}

/// Classifies an activation expression: `"relu"`, `None`, `keras.activations.relu`,
/// `tf.nn.relu`, `layers.LeakyReLU(0.2)`.
pub fn activation_of(ctx: &Context, node: Node) -> Activation {
    match node.kind_name() {
        "none" => Activation::LINEAR,
        "string" => string_content(ctx.source, node).map_or(Activation::UNKNOWN, |s| {
            Activation::named(&s.to_ascii_lowercase())
        }),
        "identifier" | "attribute" => ctx
            .resolve(node)
            .map_or(Activation::UNKNOWN, |path| activation_function(&path)),
        "call" => activation_layer(ctx, node).unwrap_or(Activation::UNKNOWN),
        _ => Activation::UNKNOWN,
    }
}

/// The activation a canonical path names: `keras.activations.relu`, `tensorflow.nn.relu`,
/// `tensorflow.math.tanh`, `keras.ops.gelu`.
pub fn activation_function(path: &str) -> Activation {
    let (module, name) = path.rsplit_once('.').unwrap_or(("", path));
    let name = match name {
        "leaky_relu" | "leakyrelu" => "leaky_relu",
        other => other,
    };
    if let Some(symbol) = super::imports::keras_symbol_from_path(path) {
        let module = symbol.module();
        if symbol.path.contains('.') && (module == "activations" || module == "ops") {
            return Activation::named(name);
        }
        return Activation::UNKNOWN;
    }
    let Some(rest) = module
        .strip_prefix("tensorflow")
        .filter(|r| r.is_empty() || r.starts_with('.'))
    else {
        return Activation::UNKNOWN;
    };
    let allowed = ["nn", "math", "compat", "v1", "v2", "keras", "activations"];
    if rest.split('.').skip(1).all(|seg| allowed.contains(&seg)) {
        return Activation::named(name);
    }
    Activation::UNKNOWN
}

/// The activation applied by an activation layer call: `Activation("relu")`, `ReLU()`,
/// `LeakyReLU(0.2)`, `PReLU()`, `ELU()`, `ThresholdedReLU()`, `Softmax()`.
pub fn activation_layer(ctx: &Context, call: Node) -> Option<Activation> {
    let symbol = ctx.keras_callee(call)?;
    activation_layer_symbol(ctx, &symbol, call)
}

fn activation_layer_symbol(ctx: &Context, symbol: &KerasSymbol, call: Node) -> Option<Activation> {
    if symbol.module() != "layers" {
        return None;
    }
    let name = match symbol.name() {
        "ReLU" | "ThresholdedReLU" => "relu",
        "LeakyReLU" | "PReLU" => "leaky_relu",
        "ELU" => "elu",
        "Softmax" => "softmax",
        "Activation" => {
            let Some(arg) = call::argument(ctx.source, call, 0, "activation") else {
                return Some(Activation::UNKNOWN);
            };
            // `Activation(Activation(...))` is not a thing; only plain values are read.
            if arg.kind_name() == "call" {
                return Some(Activation::UNKNOWN);
            }
            return Some(activation_of(ctx, arg));
        }
        _ => return None,
    };
    Some(Activation::named(name))
}

/// Normalization layers: they rescale what the previous layers produced.
pub fn is_normalization(symbol: &KerasSymbol) -> bool {
    symbol.module() == "layers"
        && matches!(
            symbol.name(),
            "BatchNormalization"
                | "SyncBatchNormalization"
                | "LayerNormalization"
                | "GroupNormalization"
                | "UnitNormalization"
                | "RMSNormalization"
                | "SpectralNormalization"
        )
}

/// Keras wrappers whose first argument is the wrapped layer.
pub fn is_wrapper(symbol: &KerasSymbol) -> bool {
    symbol.module() == "layers" && matches!(symbol.name(), "TimeDistributed" | "Bidirectional")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::parse;
    use crate::settings::Settings;

    /// Runs `f` on the last expression statement of `src`.
    pub(crate) fn with_last_expr<R>(src: &str, f: impl FnOnce(&Context, Node) -> R) -> R {
        let tree = parse(src);
        let settings = Settings::default();
        let ctx = Context::new(src, &tree, &settings);
        let last = *tree.statements().last().unwrap();
        f(&ctx, last.named_child(0).unwrap())
    }

    fn activation(src: &str) -> (ActivationFamily, &'static str) {
        with_last_expr(src, |ctx, node| {
            let a = activation_of(ctx, node);
            (a.family, a.name)
        })
    }

    #[test]
    fn activations_from_every_spelling() {
        let imports = "import tensorflow as tf\nimport keras\nfrom keras import layers, activations\nfrom tensorflow.nn import relu as r\n";
        let cases = [
            ("'relu'", ActivationFamily::Rectifier, "relu"),
            ("\"tanh\"", ActivationFamily::Smooth, "tanh"),
            ("'SELU'", ActivationFamily::Selu, "selu"),
            ("None", ActivationFamily::Linear, "linear"),
            ("'linear'", ActivationFamily::Linear, "linear"),
            ("tf.nn.relu", ActivationFamily::Rectifier, "relu"),
            (
                "tf.nn.leaky_relu",
                ActivationFamily::Rectifier,
                "leaky_relu",
            ),
            ("tf.math.tanh", ActivationFamily::Smooth, "tanh"),
            ("tf.sigmoid", ActivationFamily::Smooth, "sigmoid"),
            (
                "keras.activations.gelu",
                ActivationFamily::Rectifier,
                "gelu",
            ),
            ("activations.selu", ActivationFamily::Selu, "selu"),
            (
                "tf.keras.activations.softmax",
                ActivationFamily::Smooth,
                "softmax",
            ),
            ("r", ActivationFamily::Rectifier, "relu"),
            (
                "layers.LeakyReLU(0.2)",
                ActivationFamily::Rectifier,
                "leaky_relu",
            ),
            (
                "layers.Activation('swish')",
                ActivationFamily::Rectifier,
                "swish",
            ),
            ("my_activation", ActivationFamily::Unknown, "?"),
            ("tf.data.relu", ActivationFamily::Unknown, "?"),
            ("lambda x: x", ActivationFamily::Unknown, "?"),
            ("f'{name}'", ActivationFamily::Unknown, "?"),
        ];
        for (expr, family, name) in cases {
            let got = activation(&format!("{imports}{expr}\n"));
            assert_eq!(got, (family, name), "{expr}");
        }
    }

    #[test]
    fn saturating_activations() {
        assert!(Activation::named("tanh").is_saturating());
        assert!(Activation::named("softmax").is_saturating());
        assert!(!Activation::named("softplus").is_saturating());
        assert!(!Activation::named("relu").is_saturating());
        assert!(!Activation::LINEAR.is_nonlinear());
        assert!(Activation::named("selu").is_nonlinear());
    }

    #[test]
    fn weight_layers_from_any_spelling() {
        let imports = "import tensorflow as tf\nimport keras\nimport tf_keras\nfrom keras import layers as L\nfrom tensorflow.keras.layers import Conv2D as C\n";
        let cases = [
            ("keras.layers.Dense(3)", Some((LayerFamily::Dense, 0))),
            ("tf.keras.layers.Conv2D(3, 3)", Some((LayerFamily::Conv, 2))),
            ("C(3, 3)", Some((LayerFamily::Conv, 2))),
            (
                "L.Conv1DTranspose(3, 3)",
                Some((LayerFamily::ConvTranspose, 1)),
            ),
            (
                "tf_keras.layers.SeparableConv2D(3, 3)",
                Some((LayerFamily::SeparableConv, 2)),
            ),
            (
                "L.DepthwiseConv2D(3)",
                Some((LayerFamily::DepthwiseConv, 2)),
            ),
            ("L.LSTM(3)", Some((LayerFamily::Recurrent, 0))),
            (
                "L.EinsumDense('ab,bc->ac', 3)",
                Some((LayerFamily::EinsumDense, 0)),
            ),
            (
                "tf.keras.layers.experimental.EinsumDense('ab,bc->ac', 3)",
                Some((LayerFamily::EinsumDense, 0)),
            ),
            ("L.Embedding(10, 3)", None),
            ("Dense(3)", None),
            ("L.BatchNormalization()", None),
        ];
        for (expr, expected) in cases {
            let got = with_last_expr(&format!("{imports}{expr}\n"), |ctx, node| {
                weight_layer(ctx, node).map(|l| (l.family, l.rank))
            });
            assert_eq!(got, expected, "{expr}");
        }
    }

    #[test]
    fn layer_arguments() {
        let imports = "from keras import layers\n";
        let own = |expr: &str| {
            with_last_expr(&format!("{imports}{expr}\n"), |ctx, node| {
                let layer = weight_layer(ctx, node).unwrap();
                (
                    layer.own_activation(ctx).name,
                    layer.width(ctx),
                    layer.receptive_field(ctx),
                    matches!(
                        layer.kernel_initializer(ctx, "kernel_initializer"),
                        Arg::Given(_)
                    ),
                )
            })
        };
        assert_eq!(
            own("layers.Dense(64, 'relu')"),
            ("relu", Some(64), Some(1), false)
        );
        assert_eq!(
            own("layers.Dense(units=8, activation=None, kernel_initializer='ones')"),
            ("linear", Some(8), Some(1), true)
        );
        assert_eq!(
            own("layers.Dense(8, 'tanh', True, 'zeros')"),
            ("tanh", Some(8), Some(1), true)
        );
        assert_eq!(own("layers.Dense(8, **kw)"), ("?", Some(8), Some(1), false));
        assert_eq!(own("layers.LSTM(8)"), ("tanh", Some(8), None, false));
        assert_eq!(
            own("layers.Conv2D(32, 3)"),
            ("linear", Some(32), Some(9), false)
        );
        assert_eq!(
            own("layers.Conv3D(32, (3, 3, 1))"),
            ("linear", Some(32), Some(9), false)
        );
        assert_eq!(
            own("layers.Conv2D(32, k, activation='elu')"),
            ("elu", Some(32), None, false)
        );
        let unknown = with_last_expr(
            &format!("{imports}layers.Conv2D(32, 3, 1, 'same', None, 1, 1, 'relu')\n"),
            |ctx, node| {
                matches!(
                    weight_layer(ctx, node).unwrap().activation_argument(ctx),
                    Arg::Unknown
                )
            },
        );
        assert!(unknown);
    }

    #[test]
    fn declared_input_width() {
        let got = with_last_expr(
            "from keras import layers\nlayers.Dense(8, input_shape=(784,))\n",
            |ctx, node| weight_layer(ctx, node).unwrap().declared_input_width(ctx),
        );
        assert_eq!(got, Some(784));
        let got = with_last_expr(
            "from keras import layers\nlayers.Dense(8, input_dim=1_000)\n",
            |ctx, node| weight_layer(ctx, node).unwrap().declared_input_width(ctx),
        );
        assert_eq!(got, Some(1000));
    }

    #[test]
    fn literals() {
        assert_eq!(int_literal("1_024"), Some(1024));
        assert_eq!(int_literal("0x10"), None);
        let got = with_last_expr("-0.05\n", float_literal);
        assert_eq!(got, Some(-0.05));
        let got = with_last_expr("-(+(-2))\n", float_literal);
        assert_eq!(got, Some(2.0));
        let deep = format!("{}1\n", "-".repeat(5_000));
        assert_eq!(with_last_expr(&deep, float_literal), None);
        let got = with_last_expr("'he' 'llo'\n", |ctx, node| {
            string_content(ctx.source, node).map(str::to_string)
        });
        assert_eq!(got, None);
        let got = with_last_expr("r'he_normal'\n", |ctx, node| {
            string_content(ctx.source, node).map(str::to_string)
        });
        assert_eq!(got.as_deref(), Some("he_normal"));
    }
}

//! Initializer expressions: which initializer (`'random_normal'`, `RandomNormal(...)`,
//! `tf.random_normal_initializer()`), its scale, and the expression that replaces it.

use tree_sitter::Node;

use super::{ActivationFamily, float_literal, string_content};
use crate::analysis::imports::keras_symbol_from_path;
use crate::analysis::{Context, call};
use crate::finding::Edit;
use crate::syntax::NodeExt;

/// The Keras initializers (every alias maps onto one of these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitKind {
    RandomNormal,
    RandomUniform,
    TruncatedNormal,
    Zeros,
    Ones,
    Constant,
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    LecunNormal,
    LecunUniform,
    Orthogonal,
    VarianceScaling,
    Identity,
}

/// Canonical string alias and class name of each initializer.
const NAMES: &[(InitKind, &str, &str)] = &[
    (InitKind::RandomNormal, "random_normal", "RandomNormal"),
    (InitKind::RandomUniform, "random_uniform", "RandomUniform"),
    (
        InitKind::TruncatedNormal,
        "truncated_normal",
        "TruncatedNormal",
    ),
    (InitKind::Zeros, "zeros", "Zeros"),
    (InitKind::Ones, "ones", "Ones"),
    (InitKind::Constant, "constant", "Constant"),
    (InitKind::GlorotNormal, "glorot_normal", "GlorotNormal"),
    (InitKind::GlorotUniform, "glorot_uniform", "GlorotUniform"),
    (InitKind::HeNormal, "he_normal", "HeNormal"),
    (InitKind::HeUniform, "he_uniform", "HeUniform"),
    (InitKind::LecunNormal, "lecun_normal", "LecunNormal"),
    (InitKind::LecunUniform, "lecun_uniform", "LecunUniform"),
    (InitKind::Orthogonal, "orthogonal", "Orthogonal"),
    (
        InitKind::VarianceScaling,
        "variance_scaling",
        "VarianceScaling",
    ),
    (InitKind::Identity, "identity", "Identity"),
];

/// Extra string aliases (Keras 3.15 and tf_keras 2.21).
const ALIASES: &[(&str, InitKind)] = &[
    ("normal", InitKind::RandomNormal),
    ("uniform", InitKind::RandomUniform),
    ("zero", InitKind::Zeros),
    ("one", InitKind::Ones),
];

/// `tf.*_initializer` functions.
const TF_FUNCTIONS: &[(&str, InitKind)] = &[
    ("random_normal_initializer", InitKind::RandomNormal),
    ("random_uniform_initializer", InitKind::RandomUniform),
    ("truncated_normal_initializer", InitKind::TruncatedNormal),
    ("zeros_initializer", InitKind::Zeros),
    ("ones_initializer", InitKind::Ones),
    ("constant_initializer", InitKind::Constant),
    ("glorot_normal_initializer", InitKind::GlorotNormal),
    ("glorot_uniform_initializer", InitKind::GlorotUniform),
    ("orthogonal_initializer", InitKind::Orthogonal),
    ("variance_scaling_initializer", InitKind::VarianceScaling),
];

/// The default std of Keras' fixed-scale initializers (`RandomNormal(stddev=0.05)`,
/// `RandomUniform(-0.05, 0.05)`, `TruncatedNormal(stddev=0.05)`).
const KERAS_DEFAULT_SCALE: f64 = 0.05;

/// The std of a normal truncated at two standard deviations, relative to the untruncated one.
const TRUNCATION_FACTOR: f64 = 0.879_569_3;

impl InitKind {
    /// The canonical string alias (`he_normal`).
    pub fn alias(self) -> &'static str {
        NAMES.iter().find(|n| n.0 == self).map_or("", |n| n.1)
    }

    /// The class name (`HeNormal`).
    pub fn class(self) -> &'static str {
        NAMES.iter().find(|n| n.0 == self).map_or("", |n| n.2)
    }

    /// Parses a Keras alias or class name: `random_normal`, `normal`, `RandomNormal`.
    pub fn from_name(name: &str) -> Option<InitKind> {
        NAMES
            .iter()
            .find(|n| n.1 == name || n.2 == name)
            .map(|n| n.0)
            .or_else(|| ALIASES.iter().find(|a| a.0 == name).map(|a| a.1))
    }

    /// Initializers whose scale ignores the layer's fan-in.
    pub fn is_fixed_scale(self) -> bool {
        matches!(
            self,
            InitKind::RandomNormal | InitKind::RandomUniform | InitKind::TruncatedNormal
        )
    }

    /// Initializers that give every weight the same value.
    pub fn is_constant(self) -> bool {
        matches!(self, InitKind::Zeros | InitKind::Ones | InitKind::Constant)
    }

    pub fn is_he(self) -> bool {
        matches!(self, InitKind::HeNormal | InitKind::HeUniform)
    }

    /// The initializer scaled for an activation: He normal for ReLU-like, Glorot uniform for
    /// tanh/sigmoid/softmax-like and linear, LeCun normal for SELU.
    pub fn for_activation(family: ActivationFamily) -> Option<InitKind> {
        match family {
            ActivationFamily::Rectifier => Some(InitKind::HeNormal),
            ActivationFamily::Smooth | ActivationFamily::Linear => Some(InitKind::GlorotUniform),
            ActivationFamily::Selu => Some(InitKind::LecunNormal),
            ActivationFamily::Other | ActivationFamily::Unknown => None,
        }
    }

    /// Positions of the scale/value/seed parameters in the Keras class signature.
    fn seed_position(self) -> Option<usize> {
        match self {
            InitKind::RandomNormal | InitKind::RandomUniform | InitKind::TruncatedNormal => Some(2),
            InitKind::GlorotNormal
            | InitKind::GlorotUniform
            | InitKind::HeNormal
            | InitKind::HeUniform
            | InitKind::LecunNormal
            | InitKind::LecunUniform => Some(0),
            InitKind::Orthogonal => Some(1),
            InitKind::VarianceScaling => Some(3),
            InitKind::Zeros | InitKind::Ones | InitKind::Constant | InitKind::Identity => None,
        }
    }
}

/// How an initializer is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spelling {
    /// A string alias: `"random_normal"`.
    String,
    /// A Keras initializer class (or its lower-case alias) from `module`
    /// (`keras.initializers`, `tensorflow.keras.initializers`, ...), called or not.
    Class { module: String, called: bool },
    /// A TensorFlow function, `tf.random_normal_initializer(...)`; `compat_v1` for
    /// `tf.compat.v1.*` (whose defaults differ).
    TfFunction { compat_v1: bool },
}

/// An initializer expression.
#[derive(Debug, Clone)]
pub struct Initializer<'t> {
    pub kind: InitKind,
    pub node: Node<'t>,
    pub spelling: Spelling,
}

/// Classifies an initializer expression; `None` for anything not statically known.
pub fn initializer<'t>(ctx: &Context, node: Node<'t>) -> Option<Initializer<'t>> {
    let (target, called) = match node.kind_name() {
        "string" => {
            let kind = InitKind::from_name(string_content(ctx.source, node)?)?;
            return Some(Initializer {
                kind,
                node,
                spelling: Spelling::String,
            });
        }
        "call" => (node.field("function")?, true),
        "identifier" | "attribute" => (node, false),
        _ => return None,
    };
    let path = ctx.resolve(target)?;
    let (module, name) = path.rsplit_once('.')?;
    if let Some(symbol) = keras_symbol_from_path(&path) {
        if symbol.module() != "initializers" || !symbol.path.contains('.') {
            return None;
        }
        let kind = InitKind::from_name(name)?;
        return Some(Initializer {
            kind,
            node,
            spelling: Spelling::Class {
                module: initializers_module(module),
                called,
            },
        });
    }
    if !path.starts_with("tensorflow.") {
        return None;
    }
    let compat_v1 = path.contains(".compat.v1.");
    if let Some(&(_, kind)) = TF_FUNCTIONS.iter().find(|f| f.0 == name) {
        if !called {
            return None;
        }
        return Some(Initializer {
            kind,
            node,
            spelling: Spelling::TfFunction { compat_v1 },
        });
    }
    // `tf.initializers.RandomNormal`, `tf.compat.v1.keras.initializers.he_normal`.
    if !module.split('.').any(|seg| seg == "initializers") {
        return None;
    }
    let kind = InitKind::from_name(name)?;
    Some(Initializer {
        kind,
        node,
        spelling: Spelling::Class {
            module: "tensorflow.keras.initializers".to_string(),
            called,
        },
    })
}

/// `keras.src.initializers.random_initializers` -> `keras.src.initializers` (where every class
/// is exported).
fn initializers_module(module: &str) -> String {
    let mut out = Vec::new();
    for segment in module.split('.') {
        out.push(segment);
        if segment == "initializers" {
            break;
        }
    }
    out.join(".")
}

impl<'t> Initializer<'t> {
    /// The call node when the initializer is constructed here (`RandomNormal(...)`).
    fn call(&self) -> Option<Node<'t>> {
        let called = match &self.spelling {
            Spelling::String => false,
            Spelling::Class { called, .. } => *called,
            Spelling::TfFunction { .. } => true,
        };
        called.then_some(self.node)
    }

    fn parameter(&self, ctx: &Context, position: usize, name: &str) -> Option<Node<'t>> {
        call::argument(ctx.source, self.call()?, position, name)
    }

    /// Whether the scale was written out (`stddev=`, `minval=`, `maxval=`): a chosen value.
    pub fn explicit_scale(&self, ctx: &Context) -> bool {
        match self.kind {
            InitKind::RandomNormal | InitKind::TruncatedNormal => {
                self.parameter(ctx, 1, "stddev").is_some()
            }
            InitKind::RandomUniform => {
                self.parameter(ctx, 0, "minval").is_some()
                    || self.parameter(ctx, 1, "maxval").is_some()
            }
            _ => false,
        }
    }

    /// The standard deviation of the drawn weights, when it is known statically.
    pub fn std(&self, ctx: &Context) -> Option<f64> {
        let compat_v1 = matches!(self.spelling, Spelling::TfFunction { compat_v1: true });
        let literal = |node: Option<Node>, default: f64| match node {
            Some(n) => float_literal(ctx, n),
            None => Some(default),
        };
        match self.kind {
            InitKind::RandomNormal => {
                let default = if compat_v1 { 1.0 } else { KERAS_DEFAULT_SCALE };
                literal(self.parameter(ctx, 1, "stddev"), default).map(f64::abs)
            }
            InitKind::TruncatedNormal => {
                // `tf.truncated_normal_initializer` defaults to 1.0, the Keras class to 0.05.
                let default = match self.spelling {
                    Spelling::TfFunction { .. } => 1.0,
                    _ => KERAS_DEFAULT_SCALE,
                };
                let std = literal(self.parameter(ctx, 1, "stddev"), default)?;
                Some(std.abs() * TRUNCATION_FACTOR)
            }
            InitKind::RandomUniform => {
                let (low, high) = if compat_v1 {
                    (0.0, 1.0)
                } else {
                    (-KERAS_DEFAULT_SCALE, KERAS_DEFAULT_SCALE)
                };
                let min = literal(self.parameter(ctx, 0, "minval"), low)?;
                let max = match self.parameter(ctx, 1, "maxval") {
                    Some(n) if ctx.text(n) == "None" => 1.0,
                    other => literal(other, high)?,
                };
                Some((max - min).abs() / 12f64.sqrt())
            }
            _ => None,
        }
    }

    /// The value every weight gets, for constant initializers with a scalar value; `None` for
    /// an array or anything not literal (`Constant(pretrained)` loads weights on purpose).
    pub fn constant_value(&self, ctx: &Context) -> Option<f64> {
        match self.kind {
            InitKind::Zeros => Some(0.0),
            InitKind::Ones => Some(1.0),
            InitKind::Constant => match self.parameter(ctx, 0, "value") {
                Some(value) => float_literal(ctx, value),
                // `Constant()` / `tf.constant_initializer()` default to 0; the string too.
                None => Some(0.0),
            },
            _ => None,
        }
    }

    /// The `seed=` argument, keyword or positional.
    pub fn seed(&self, ctx: &Context) -> Option<Node<'t>> {
        let position = self.kind.seed_position()?;
        self.parameter(ctx, position, "seed")
    }

    /// A short spelling for messages: the alias of a string, the source of a short call.
    pub fn display(&self, ctx: &Context) -> String {
        match self.spelling {
            Spelling::String => string_content(ctx.source, self.node)
                .unwrap_or(self.kind.alias())
                .to_string(),
            _ => {
                let text = ctx.text(self.node);
                if text.len() <= 48 && !text.contains('\n') {
                    text.to_string()
                } else {
                    format!("{}(...)", self.kind.class())
                }
            }
        }
    }
}

/// The expression that writes `target` the way `init` is written (a string stays a string, a
/// class a class, keeping `seed=`), plus an import edit when the file has no name for it.
/// `None` when no usable name exists (the class name is taken by something else).
pub fn replacement(
    ctx: &Context,
    init: &Initializer,
    target: InitKind,
) -> Option<(String, Option<Edit>)> {
    let (module, called) = match &init.spelling {
        Spelling::String => {
            return Some((quoted_like(ctx.text(init.node), target.alias()), None));
        }
        Spelling::Class { module, called } => (module.as_str(), *called),
        Spelling::TfFunction { .. } => ("tensorflow.keras.initializers", true),
    };
    let (expr, import) = class_expression(ctx, module, target.class())?;
    if !called {
        return Some((expr, import));
    }
    let arguments = init
        .seed(ctx)
        .map_or(String::new(), |seed| format!("seed={}", ctx.text(seed)));
    Some((format!("{expr}({arguments})"), import))
}

/// `module.class` spelled with the file's bindings, or the bare class with a new
/// `from module import class`.
pub fn class_expression(
    ctx: &Context,
    module: &str,
    class: &str,
) -> Option<(String, Option<Edit>)> {
    if let Some(expr) = ctx.expr_for(&format!("{module}.{class}")) {
        return Some((expr, None));
    }
    if ctx.is_bound(class) {
        return None;
    }
    Some((
        class.to_string(),
        Some(import_name_edit(ctx, module, class)),
    ))
}

/// Imports `name` from `module`: appended to an existing module-level `from module import ...`
/// when there is one, else a new statement where imports belong.
fn import_name_edit(ctx: &Context, module: &str, name: &str) -> Edit {
    // Reads the module's import statements (`add_import_edit` records where imports go).
    ctx.record(crate::analysis::units::Read::everywhere(
        crate::analysis::units::Key::ImportStatement,
    ));
    let existing = ctx.statements().iter().copied().find(|statement| {
        statement.kind_name() == "import_from_statement"
            && statement
                .field("module_name")
                .is_some_and(|m| ctx.text(m).split_whitespace().collect::<String>() == module)
    });
    let last_name = existing.and_then(|statement| {
        let mut names = statement.walk();
        statement.children_by_field_name("name", &mut names).last()
    });
    match last_name {
        Some(last) => Edit::insert(last.end_byte(), format!(", {name}")),
        None => ctx.add_import_edit(&format!("from {module} import {name}")),
    }
}

/// `value` in the quotes (and `r`/`u` prefix) of the string literal `original`.
pub fn quoted_like(original: &str, value: &str) -> String {
    let body_start = original.find(['\'', '"']).unwrap_or(original.len());
    let prefix: String = original[..body_start]
        .chars()
        .filter(|c| matches!(c, 'r' | 'R' | 'u' | 'U'))
        .collect();
    let body = &original[body_start..];
    let quote = ["\"\"\"", "'''", "\"", "'"]
        .into_iter()
        .find(|q| body.starts_with(q))
        .unwrap_or("\"");
    format!("{prefix}{quote}{value}{quote}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::layers::tests::with_last_expr;

    const IMPORTS: &str = "import tensorflow as tf\nimport keras\nimport tf_keras\nfrom keras import initializers\nfrom tensorflow.keras.initializers import RandomNormal as RN\nfrom keras.src.initializers.random_initializers import TruncatedNormal\n";

    fn classify(expr: &str) -> Option<(InitKind, Spelling)> {
        with_last_expr(&format!("{IMPORTS}{expr}\n"), |ctx, node| {
            initializer(ctx, node).map(|i| (i.kind, i.spelling))
        })
    }

    fn class(module: &str, called: bool) -> Spelling {
        Spelling::Class {
            module: module.to_string(),
            called,
        }
    }

    #[test]
    fn string_aliases_and_class_names() {
        for (expr, kind) in [
            ("'random_normal'", InitKind::RandomNormal),
            ("\"normal\"", InitKind::RandomNormal),
            ("'RandomNormal'", InitKind::RandomNormal),
            ("'uniform'", InitKind::RandomUniform),
            ("'truncated_normal'", InitKind::TruncatedNormal),
            ("'zero'", InitKind::Zeros),
            ("'Ones'", InitKind::Ones),
            ("'he_normal'", InitKind::HeNormal),
            ("'LecunNormal'", InitKind::LecunNormal),
        ] {
            assert_eq!(classify(expr), Some((kind, Spelling::String)), "{expr}");
        }
        assert_eq!(classify("'randomnormal'"), None);
        assert_eq!(classify("f'{x}_normal'"), None);
    }

    #[test]
    fn classes_from_every_root() {
        let cases = [
            (
                "keras.initializers.RandomNormal(stddev=0.02)",
                InitKind::RandomNormal,
                class("keras.initializers", true),
            ),
            (
                "initializers.random_uniform()",
                InitKind::RandomUniform,
                class("keras.initializers", true),
            ),
            (
                "tf.keras.initializers.Zeros()",
                InitKind::Zeros,
                class("tensorflow.keras.initializers", true),
            ),
            (
                "tf_keras.initializers.HeNormal",
                InitKind::HeNormal,
                class("tf_keras.initializers", false),
            ),
            (
                "RN(0.0, 1.0)",
                InitKind::RandomNormal,
                class("tensorflow.keras.initializers", true),
            ),
            (
                "TruncatedNormal()",
                InitKind::TruncatedNormal,
                class("keras.src.initializers", true),
            ),
            (
                "tf.initializers.Constant(2.0)",
                InitKind::Constant,
                class("tensorflow.keras.initializers", true),
            ),
            (
                "tf.random_normal_initializer()",
                InitKind::RandomNormal,
                Spelling::TfFunction { compat_v1: false },
            ),
            (
                "tf.compat.v1.random_normal_initializer()",
                InitKind::RandomNormal,
                Spelling::TfFunction { compat_v1: true },
            ),
            (
                "tf.zeros_initializer()",
                InitKind::Zeros,
                Spelling::TfFunction { compat_v1: false },
            ),
        ];
        for (expr, kind, spelling) in cases {
            assert_eq!(classify(expr), Some((kind, spelling)), "{expr}");
        }
        assert_eq!(classify("np.random.normal(0, 1)"), None);
        assert_eq!(classify("tf.random.normal([3])"), None);
        assert_eq!(classify("keras.layers.Dense(3)"), None);
        assert_eq!(classify("my_init"), None);
    }

    fn scale(expr: &str) -> (Option<f64>, bool, Option<f64>) {
        with_last_expr(&format!("{IMPORTS}{expr}\n"), |ctx, node| {
            let init = initializer(ctx, node).unwrap();
            (
                init.std(ctx).map(|s| (s * 1e4).round() / 1e4),
                init.explicit_scale(ctx),
                init.constant_value(ctx),
            )
        })
    }

    #[test]
    fn scales_and_constants() {
        assert_eq!(scale("'random_normal'"), (Some(0.05), false, None));
        assert_eq!(scale("RN(0.0, 1.0)"), (Some(1.0), true, None));
        assert_eq!(
            scale("initializers.RandomNormal(stddev=x)"),
            (None, true, None)
        );
        assert_eq!(scale("'uniform'"), (Some(0.0289), false, None));
        assert_eq!(
            scale("TruncatedNormal(stddev=0.1)"),
            (Some(0.088), true, None)
        );
        assert_eq!(
            scale("tf.random_normal_initializer()"),
            (Some(0.05), false, None)
        );
        assert_eq!(
            scale("tf.compat.v1.random_normal_initializer()"),
            (Some(1.0), false, None)
        );
        assert_eq!(scale("'zeros'"), (None, false, Some(0.0)));
        assert_eq!(
            scale("initializers.Constant(-0.5)"),
            (None, false, Some(-0.5))
        );
        assert_eq!(scale("initializers.Constant(weights)"), (None, false, None));
        assert_eq!(scale("tf.constant_initializer()"), (None, false, Some(0.0)));
    }

    fn replace(
        extra_imports: &str,
        expr: &str,
        target: InitKind,
    ) -> Option<(String, Option<String>)> {
        with_last_expr(&format!("{extra_imports}{expr}\n"), |ctx, node| {
            let init = initializer(ctx, node).unwrap();
            replacement(ctx, &init, target).map(|(e, i)| (e, i.map(|i| i.content)))
        })
    }

    #[test]
    fn replacements_keep_the_spelling() {
        let r = replace("import keras\n", "'random_normal'", InitKind::HeNormal);
        assert_eq!(r, Some(("'he_normal'".into(), None)));
        let r = replace("import keras\n", "\"normal\"", InitKind::LecunNormal);
        assert_eq!(r, Some(("\"lecun_normal\"".into(), None)));
        let r = replace(
            "from keras import initializers\n",
            "initializers.RandomNormal(mean=0.0, stddev=0.05, seed=42)",
            InitKind::HeNormal,
        );
        assert_eq!(r, Some(("initializers.HeNormal(seed=42)".into(), None)));
        let r = replace(
            "import tensorflow as tf\n",
            "tf.keras.initializers.RandomUniform(-1, 1, 7)",
            InitKind::GlorotUniform,
        );
        assert_eq!(
            r,
            Some(("tf.keras.initializers.GlorotUniform(seed=7)".into(), None))
        );
        let r = replace(
            "import tensorflow as tf\n",
            "tf.random_normal_initializer()",
            InitKind::HeNormal,
        );
        assert_eq!(r, Some(("tf.keras.initializers.HeNormal()".into(), None)));
        let r = replace(
            "from tensorflow.keras.initializers import RandomNormal\n",
            "RandomNormal",
            InitKind::HeNormal,
        );
        assert_eq!(r, Some(("HeNormal".into(), Some(", HeNormal".into()))));
        let r = replace(
            "import keras\nfrom tensorflow.keras import layers\n",
            "keras.initializers.Zeros()",
            InitKind::HeNormal,
        );
        assert_eq!(r, Some(("keras.initializers.HeNormal()".into(), None)));
        let r = replace(
            "from tensorflow import zeros_initializer\n",
            "zeros_initializer()",
            InitKind::HeNormal,
        );
        assert_eq!(
            r,
            Some((
                "HeNormal()".into(),
                Some("\nfrom tensorflow.keras.initializers import HeNormal".into())
            ))
        );
        let r = replace(
            "from tf_keras.initializers import Zeros, HeNormal\n",
            "Zeros()",
            InitKind::HeNormal,
        );
        assert_eq!(r, Some(("HeNormal()".into(), None)));
        let r = replace(
            "from keras.initializers import Zeros\nHeNormal = 3\n",
            "Zeros()",
            InitKind::HeNormal,
        );
        assert_eq!(r, None);
    }

    #[test]
    fn quoting() {
        assert_eq!(quoted_like("'x'", "he_normal"), "'he_normal'");
        assert_eq!(quoted_like("r\"x\"", "he_normal"), "r\"he_normal\"");
        assert_eq!(quoted_like("'''x'''", "he_normal"), "'''he_normal'''");
    }

    #[test]
    fn activation_matched_targets() {
        assert_eq!(
            InitKind::for_activation(ActivationFamily::Rectifier),
            Some(InitKind::HeNormal)
        );
        assert_eq!(
            InitKind::for_activation(ActivationFamily::Smooth),
            Some(InitKind::GlorotUniform)
        );
        assert_eq!(
            InitKind::for_activation(ActivationFamily::Selu),
            Some(InitKind::LecunNormal)
        );
        assert_eq!(InitKind::for_activation(ActivationFamily::Unknown), None);
    }
}

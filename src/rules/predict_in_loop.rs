//! KRS402 predict-in-loop: `model.predict(...)` is called once per iteration of a loop.
//!
//! ## What it does
//! Flags `model.predict(...)` inside the body of a `for` or `while` loop, or inside a
//! comprehension (its element, its conditions or an inner `for`), when the loop feeds it a
//! different input each iteration and `model` is known to be a Keras model.
//!
//! "A different input each iteration": the arguments use a name the loop binds (its target, or
//! an assignment or mutation in its body), e.g. `for frame in frames: model.predict(frame)`.
//! Predicting the same validation set once per epoch is not reported, nor is a loop that
//! re-creates the model before predicting (k-fold, hyper-parameter sweeps): those call
//! `predict` once per model on a whole dataset, which is what it is for.
//!
//! The receiver counts as a Keras model only with evidence from this file, because other
//! libraries' models (scikit-learn, XGBoost, ...) also have `predict` and often sit in the same
//! scripts:
//! - it is assigned from `Model(...)`/`Sequential(...)`, `models.load_model`/`saving.load_model`,
//!   `model_from_json`, `clone_model`, a `keras.applications` constructor (`ResNet50(...)`), a
//!   KerasHub/KerasNLP/KerasCV `models.*.from_preset(...)`, a class of this file that subclasses
//!   a Keras `Model`, or a function of this file whose returns are all such values;
//! - or it is compiled in the same scope (`model.compile(optimizer=..., loss=...)`), or its
//!   `trainable_variables`/`trainable_weights` are used there (a custom training loop);
//! - or it is a parameter annotated `keras.Model`/`Sequential`;
//! - or it is `self.model` in a Keras `Callback` subclass, or `self` in a Keras `Model`
//!   subclass, or `self.<attr>` assigned such a value in the class.
//!
//! Every assignment of the name in its scope must be such evidence (a name that is also bound by
//! a `for` target, a tuple assignment or an unknown call is not reported), unless it is compiled
//! or trained there. A `predict` in a function that a loop calls is not followed.
//!
//! ## Why is this bad?
//! The Keras `Model.predict` docstring: "Computation is done in batches. This method is designed
//! for batch processing of large numbers of inputs. It is not intended for use inside of loops
//! that iterate over your data and process small numbers of inputs at a time. For small numbers
//! of inputs that fit in one batch, directly use `__call__()` for faster execution, e.g.,
//! `model(x)`, or `model(x, training=False)` if you have layers such as `BatchNormalization` that
//! behave differently during inference." (`keras/src/trainers/trainer.py`). Each `predict` call
//! builds a data adapter, an epoch iterator and callbacks before computing anything, so calling
//! it per sample or per small batch spends most of the time on that set-up.
//!
//! ## Example
//! ```python
//! for frame in frames:
//!     scores = model.predict(frame[None, ...])
//! ```
//!
//! ## Use instead
//! ```python
//! for frame in frames:
//!     scores = model(frame[None, ...], training=False)
//! ```
//! Or one `model.predict(all_frames)` outside the loop when all inputs are known up front.
//!
//! ## Fix safety
//! Unsafe: `model(x, training=False)` returns a tensor where `predict` returned a NumPy array
//! (code using NumPy methods on the result may need `.numpy()`), and runs `x` as one batch. The
//! fix is only offered for `predict(x)` and `predict(x, verbose=...)` when `x` is not a dataset
//! or generator.

use tree_sitter::Node;

use crate::analysis::dataflow::ConsumerKind;
use crate::analysis::imports::KerasSymbol;
use crate::analysis::{Context, RuleMatch, Sink, call};
use crate::finding::{Edit, FixSafety, Severity};
use crate::rules::RuleDef;

pub const RULE: RuleDef = RuleDef {
    code: "KRS402",
    name: "predict-in-loop",
    severity: Severity::Warning,
    fix: Some(FixSafety::Unsafe),
    options: &[],
    query: include_str!("../../queries/python/predict-in-loop.scm"),
    module: "predict_in_loop",
    scenario: None,
    check,
};

/// How many assignments/returns deep the model evidence is followed.
const MAX_DEPTH: usize = 4;
/// Ancestors climbed at most (deeply nested code is not analysed further).
const MAX_ANCESTORS: usize = 500;
/// Nodes visited at most when scanning one scope for bindings.
const MAX_SCAN: usize = 200_000;

fn check(ctx: &Context, m: &RuleMatch, sink: &mut Sink) {
    let (Some(call_node), Some(receiver)) = (m.get("call"), m.get("receiver")) else {
        return;
    };
    let Some(loop_kind) = varying_loop(ctx, call_node, receiver) else {
        return;
    };
    if !is_keras_model(ctx, receiver, call_node, 0) {
        return;
    }
    let receiver_text = ctx.text(receiver);
    let finding = sink.report(
        call_node,
        format!(
            "`{receiver_text}.predict()` inside a {loop_kind}: `predict` is \"not intended for use \
             inside of loops\" and sets up a whole prediction loop per call; call \
             `{receiver_text}(x, training=False)` for small inputs"
        ),
    );
    if let Some(edits) = direct_call_edits(ctx, call_node, receiver) {
        finding.with_fix(
            format!(
                "Call the model directly (`{receiver_text}(x, training=False)`, returns a tensor)"
            ),
            FixSafety::Unsafe,
            edits,
        );
    }
}

/// The innermost loop (in the same function) that calls `predict` on a different input at each
/// iteration with the same model: the arguments use a name the loop (re)binds (its target, or
/// an assignment in its body) and the receiver is not re-created in that loop.
fn varying_loop(ctx: &Context, call_node: Node, receiver: Node) -> Option<&'static str> {
    let args = call_node.child_by_field_name("arguments")?;
    let used = used_names(ctx, args);
    let receiver_name = ctx.text(receiver);
    let mut child = call_node;
    for _ in 0..MAX_ANCESTORS {
        let parent = child.parent()?;
        let (kind, bound) = match parent.kind() {
            "function_definition" | "lambda" | "class_definition" | "module" => return None,
            "for_statement" if is_field(parent, "body", child) => {
                let mut bound = Vec::new();
                if let Some(left) = parent.child_by_field_name("left") {
                    target_names(ctx, left, &mut bound);
                }
                assigned_names(ctx, child, &mut bound);
                ("`for` loop", bound)
            }
            "while_statement" if is_field(parent, "body", child) => {
                let mut bound = Vec::new();
                assigned_names(ctx, child, &mut bound);
                ("`while` loop", bound)
            }
            "list_comprehension"
            | "set_comprehension"
            | "dictionary_comprehension"
            | "generator_expression" => {
                // The first `for ... in <iterable>` is evaluated once; all else per element.
                let mut cursor = parent.walk();
                let clauses: Vec<Node> = parent
                    .named_children(&mut cursor)
                    .filter(|c| c.kind() == "for_in_clause")
                    .collect();
                if clauses.first().is_some_and(|c| c.id() == child.id()) {
                    child = parent;
                    continue;
                }
                let mut bound = Vec::new();
                for clause in clauses {
                    if let Some(left) = clause.child_by_field_name("left") {
                        target_names(ctx, left, &mut bound);
                    }
                }
                ("comprehension", bound)
            }
            _ => {
                child = parent;
                continue;
            }
        };
        if used.iter().any(|u| bound.contains(u)) {
            // A model re-created per iteration (k-fold, sweeps) predicts once per model.
            return (!bound.contains(&receiver_name)).then_some(kind);
        }
        child = parent;
    }
    None
}

/// Names and `a.b` chains an expression reads (not attribute names on their own).
fn used_names<'s>(ctx: &Context<'s>, expr: Node) -> Vec<&'s str> {
    let mut names = Vec::new();
    scan_scope(expr, |node| {
        let is_attribute_name = node.parent().is_some_and(|p| {
            (p.kind() == "attribute" && is_field(p, "attribute", node))
                || (p.kind() == "keyword_argument" && is_field(p, "name", node))
        });
        if matches!(node.kind(), "identifier" | "attribute") && !is_attribute_name {
            names.push(ctx.text(node));
        }
    });
    names
}

/// Names (and `self.x` chains) bound or mutated by an assignment target.
fn target_names<'s>(ctx: &Context<'s>, target: Node, out: &mut Vec<&'s str>) {
    let mut stack = vec![target];
    while let Some(node) = stack.pop() {
        match node.kind() {
            "identifier" => out.push(ctx.text(node)),
            "attribute" => {
                out.push(ctx.text(node));
                stack.extend(node.child_by_field_name("object"));
            }
            // `x[i] = v` mutates `x`.
            "subscript" => stack.extend(node.child_by_field_name("value")),
            _ => {
                let mut cursor = node.walk();
                stack.extend(node.named_children(&mut cursor));
            }
        }
    }
}

/// Everything assigned inside a loop body (not inside nested functions).
fn assigned_names<'s>(ctx: &Context<'s>, body: Node, out: &mut Vec<&'s str>) {
    scan_scope(body, |node| {
        let target = match node.kind() {
            "assignment" | "augmented_assignment" | "for_statement" | "for_in_clause" => {
                node.child_by_field_name("left")
            }
            "named_expression" => node.child_by_field_name("name"),
            "as_pattern" => node.child_by_field_name("alias"),
            _ => None,
        };
        if let Some(target) = target {
            target_names(ctx, target, out);
        }
    });
}

fn is_field(parent: Node, field: &str, child: Node) -> bool {
    parent
        .child_by_field_name(field)
        .is_some_and(|f| f.id() == child.id())
}

/// Edits turning `model.predict(x)` / `model.predict(x=x, verbose=0)` into
/// `model(x, training=False)`, keeping the argument layout (and comments); `None` for other
/// arguments (`batch_size`, `steps`, `callbacks`, splats) and for dataset or generator inputs.
fn direct_call_edits(ctx: &Context, call_node: Node, receiver: Node) -> Option<Vec<Edit>> {
    let args = call_node.child_by_field_name("arguments")?;
    let mut cursor = args.walk();
    let mut x = None;
    let mut verbose = None;
    for arg in args.named_children(&mut cursor) {
        match arg.kind() {
            "comment" => {}
            "keyword_argument" => match ctx.text(arg.child_by_field_name("name")?) {
                "verbose" if verbose.is_none() => verbose = Some(arg),
                "x" if x.is_none() => x = Some(arg),
                _ => return None,
            },
            "list_splat" | "dictionary_splat" => return None,
            _ if x.is_none() => x = Some(arg),
            _ => return None,
        }
    }
    let x = x?;
    // A dataset or generator cannot be passed to `__call__`.
    let batches_itself = ctx
        .dataflow()
        .consumers()
        .iter()
        .any(|c| c.node.id() == call_node.id() && c.kind == ConsumerKind::Predict);
    if batches_itself {
        return None;
    }
    // `model.predict(` -> `model(`.
    let mut edits = vec![Edit::delete(receiver.end_byte()..args.start_byte())];
    if x.kind() == "keyword_argument" {
        let value = x.child_by_field_name("value")?;
        edits.push(Edit::replace(x.byte_range(), ctx.text(value)));
    }
    match verbose {
        Some(verbose) => edits.push(Edit::replace(verbose.byte_range(), "training=False")),
        None => edits.push(call::append_argument(
            ctx.source,
            call_node,
            "training=False",
        )?),
    }
    Some(edits)
}

/// Whether `expr`, evaluated at `at`, is known to be a Keras model.
fn is_keras_model(ctx: &Context, expr: Node, at: Node, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    match expr.kind() {
        "parenthesized_expression" => expr
            .named_child(0)
            .is_some_and(|inner| is_keras_model(ctx, inner, at, depth + 1)),
        "call" => is_model_construction(ctx, expr, depth),
        "identifier" if ctx.text(expr) == "self" => {
            enclosing_class(at).is_some_and(|class| class_is_keras_model(ctx, class, depth))
        }
        "identifier" => name_is_model(ctx, ctx.text(expr), at, depth),
        "attribute" => self_attribute_is_model(ctx, expr, at, depth),
        _ => false,
    }
}

/// `Model(...)`, `load_model(...)`, `ResNet50(...)`, `LocalModel(...)`, `build_model()`, ...
fn is_model_construction(ctx: &Context, call_node: Node, depth: usize) -> bool {
    let Some(callee) = call_node.child_by_field_name("function") else {
        return false;
    };
    if let Some(symbol) = ctx.keras(callee) {
        return is_model_factory(&symbol);
    }
    if let Some(path) = ctx.resolve(callee) {
        let hub = ["keras_hub.", "keras_nlp.", "keras_cv."]
            .iter()
            .any(|p| path.starts_with(p));
        return hub && path.contains(".models.") && path.ends_with(".from_preset");
    }
    if callee.kind() != "identifier" {
        return false;
    }
    let name = ctx.text(callee);
    let root = ctx.tree.root_node();
    if let Some(class) = find_definition(ctx, root, "class_definition", name) {
        return class_is_keras_model(ctx, class, depth + 1);
    }
    let Some(function) = find_definition(ctx, root, "function_definition", name) else {
        return false;
    };
    let Some(body) = function.child_by_field_name("body") else {
        return false;
    };
    let mut returns = Vec::new();
    scan_scope(body, |node| {
        if node.kind() == "return_statement" {
            returns.push(node);
        }
    });
    !returns.is_empty()
        && returns.iter().all(|ret| {
            ret.named_child(0)
                .is_some_and(|value| is_keras_model(ctx, value, *ret, depth + 1))
        })
}

/// Keras callables that return a model.
fn is_model_factory(symbol: &KerasSymbol) -> bool {
    let name = symbol.name();
    let module = symbol.module();
    if is_model_class(symbol) {
        return true;
    }
    let loader = matches!(
        name,
        "load_model" | "model_from_json" | "model_from_yaml" | "model_from_config" | "clone_model"
    );
    if loader && matches!(module, "models" | "saving") {
        return true;
    }
    // `applications.ResNet50(...)`, not `applications.resnet50.preprocess_input(...)`.
    module == "applications" && name.starts_with(|c: char| c.is_ascii_uppercase())
}

/// `Model`, `Sequential` or `Functional` of any Keras spelling.
fn is_model_class(symbol: &KerasSymbol) -> bool {
    matches!(symbol.name(), "Model" | "Sequential" | "Functional")
        && (symbol.path == symbol.name() || matches!(symbol.module(), "models" | "engine"))
}

/// Whether a class of this file subclasses a Keras model (directly or through local classes).
fn class_is_keras_model(ctx: &Context, class: Node, depth: usize) -> bool {
    base_classes(class).into_iter().any(|base| {
        if let Some(symbol) = ctx.keras(base) {
            return is_model_class(&symbol);
        }
        if depth >= MAX_DEPTH || base.kind() != "identifier" {
            return false;
        }
        let root = ctx.tree.root_node();
        find_definition(ctx, root, "class_definition", ctx.text(base))
            .is_some_and(|parent| class_is_keras_model(ctx, parent, depth + 1))
    })
}

/// Whether a class of this file subclasses a Keras callback (where `self.model` is the model).
fn class_is_keras_callback(ctx: &Context, class: Node) -> bool {
    base_classes(class)
        .into_iter()
        .any(|base| ctx.keras(base).is_some_and(|s| s.module() == "callbacks"))
}

fn base_classes(class: Node) -> Vec<Node> {
    let Some(bases) = class.child_by_field_name("superclasses") else {
        return Vec::new();
    };
    let mut cursor = bases.walk();
    bases
        .named_children(&mut cursor)
        .filter(|b| b.kind() != "keyword_argument")
        .collect()
}

/// The class whose method contains `node`.
fn enclosing_class(node: Node) -> Option<Node> {
    let mut current = node;
    for _ in 0..MAX_ANCESTORS {
        current = current.parent()?;
        if current.kind() == "class_definition" {
            return Some(current);
        }
    }
    None
}

/// A binding of a name (or `self.<attr>`) found in a scope.
enum Binding<'t> {
    /// `name = value` (or `name := value`).
    Value(Node<'t>),
    /// A parameter annotated with a Keras model class.
    ModelParameter,
    /// Anything else: `for` targets, tuple targets, plain parameters, imports, ...
    Unknown,
}

/// Whether the local or global `name`, seen at `at`, only ever holds Keras models.
fn name_is_model(ctx: &Context, name: &str, at: Node, depth: usize) -> bool {
    let Some(scope) = binding_scope(ctx, name, at) else {
        return false;
    };
    let mut bindings = Vec::new();
    if scope.kind() == "function_definition" || scope.kind() == "lambda" {
        parameter_bindings(ctx, scope, name, &mut bindings);
    }
    let body = scope.child_by_field_name("body").unwrap_or(scope);
    let mut compiled = false;
    scan_scope(body, |node| {
        if is_keras_usage(ctx, node, |receiver| {
            receiver.kind() == "identifier" && ctx.text(receiver) == name
        }) {
            compiled = true;
        }
        name_binding(ctx, node, name, &mut bindings);
    });
    compiled || all_models(ctx, &bindings, depth)
}

/// `self.<attr>` in a class: the Keras callback's `self.model`, or attributes assigned models.
fn self_attribute_is_model(ctx: &Context, attr: Node, at: Node, depth: usize) -> bool {
    let (Some(object), Some(name)) = (
        attr.child_by_field_name("object"),
        attr.child_by_field_name("attribute"),
    ) else {
        return false;
    };
    if object.kind() != "identifier" || ctx.text(object) != "self" {
        return false;
    }
    let Some(class) = enclosing_class(at) else {
        return false;
    };
    let name = ctx.text(name);
    if name == "model" && class_is_keras_callback(ctx, class) {
        return true;
    }
    let Some(body) = class.child_by_field_name("body") else {
        return false;
    };
    let is_target = |node: Node| {
        node.kind() == "attribute"
            && node
                .child_by_field_name("object")
                .is_some_and(|o| ctx.text(o) == "self")
            && node
                .child_by_field_name("attribute")
                .is_some_and(|a| ctx.text(a) == name)
    };
    let mut bindings = Vec::new();
    let mut compiled = false;
    scan_class(body, |node| {
        if is_keras_usage(ctx, node, is_target) {
            compiled = true;
        }
        if node.kind() != "assignment" {
            return;
        }
        let (Some(left), Some(right)) = (
            node.child_by_field_name("left"),
            node.child_by_field_name("right"),
        ) else {
            return;
        };
        if is_target(left) {
            bindings.push(Binding::Value(final_value(right)));
        } else if contains_node(left, &is_target) {
            bindings.push(Binding::Unknown);
        }
    });
    compiled || all_models(ctx, &bindings, depth)
}

fn all_models(ctx: &Context, bindings: &[Binding], depth: usize) -> bool {
    !bindings.is_empty()
        && bindings.iter().all(|b| match b {
            Binding::Value(value) => is_keras_model(ctx, *value, *value, depth + 1),
            Binding::ModelParameter => true,
            Binding::Unknown => false,
        })
}

/// Usage only a Keras model has: `<receiver>.compile(optimizer=..., loss=...)` (not
/// `torch.nn.Module.compile()`), or `<receiver>.trainable_variables` / `.trainable_weights` (a
/// TensorFlow object that also has `predict`).
fn is_keras_usage(ctx: &Context, node: Node, is_receiver: impl Fn(Node) -> bool) -> bool {
    match node.kind() {
        "attribute" => {
            node.child_by_field_name("attribute")
                .is_some_and(|a| matches!(ctx.text(a), "trainable_variables" | "trainable_weights"))
                && node.child_by_field_name("object").is_some_and(is_receiver)
        }
        "call" => {
            let Some(func) = node.child_by_field_name("function") else {
                return false;
            };
            let is_compile = func.kind() == "attribute"
                && func
                    .child_by_field_name("attribute")
                    .is_some_and(|a| ctx.text(a) == "compile")
                && func.child_by_field_name("object").is_some_and(is_receiver);
            is_compile
                && (call::keyword(ctx.source, node, "optimizer").is_some()
                    || call::keyword(ctx.source, node, "loss").is_some())
        }
        _ => false,
    }
}

/// The innermost function (or lambda) binding `name` around `at`, else the module; `None` when a
/// comprehension binds it (a loop variable).
fn binding_scope<'t>(ctx: &Context, name: &str, at: Node<'t>) -> Option<Node<'t>> {
    let mut current = at;
    for _ in 0..MAX_ANCESTORS {
        let Some(parent) = current.parent() else {
            return Some(current);
        };
        current = parent;
        match current.kind() {
            "module" => return Some(current),
            "list_comprehension"
            | "set_comprehension"
            | "dictionary_comprehension"
            | "generator_expression" => {
                let mut cursor = current.walk();
                let binds = current
                    .named_children(&mut cursor)
                    .filter(|c| c.kind() == "for_in_clause")
                    .filter_map(|c| c.child_by_field_name("left"))
                    .any(|left| binds_identifier(ctx, left, name));
                if binds {
                    return None;
                }
            }
            "function_definition" | "lambda" => {
                let mut bindings = Vec::new();
                parameter_bindings(ctx, current, name, &mut bindings);
                if let Some(body) = current.child_by_field_name("body") {
                    scan_scope(body, |node| name_binding(ctx, node, name, &mut bindings));
                }
                if !bindings.is_empty() {
                    return Some(current);
                }
            }
            _ => {}
        }
    }
    None
}

/// Parameters of a function or lambda named `name`.
fn parameter_bindings<'t>(
    ctx: &Context,
    function: Node<'t>,
    name: &str,
    bindings: &mut Vec<Binding<'t>>,
) {
    let Some(params) = function.child_by_field_name("parameters") else {
        return;
    };
    let mut cursor = params.walk();
    for param in params.named_children(&mut cursor) {
        let (target, annotation) = match param.kind() {
            "identifier" => (Some(param), None),
            "typed_parameter" => (param.named_child(0), param.child_by_field_name("type")),
            "typed_default_parameter" => (
                param.child_by_field_name("name"),
                param.child_by_field_name("type"),
            ),
            "default_parameter" => (param.child_by_field_name("name"), None),
            _ => (param.named_child(0), None),
        };
        if !target.is_some_and(|t| t.kind() == "identifier" && ctx.text(t) == name) {
            continue;
        }
        let annotated_model = annotation
            .and_then(|t| t.named_child(0))
            .and_then(|t| ctx.keras(t))
            .is_some_and(|s| is_model_class(&s));
        bindings.push(if annotated_model {
            Binding::ModelParameter
        } else {
            Binding::Unknown
        });
    }
}

/// Records what `node` binds to `name`, if anything.
fn name_binding<'t>(ctx: &Context, node: Node<'t>, name: &str, bindings: &mut Vec<Binding<'t>>) {
    let is_name = |n: Node| n.kind() == "identifier" && ctx.text(n) == name;
    match node.kind() {
        "assignment" => {
            let Some(left) = node.child_by_field_name("left") else {
                return;
            };
            if is_name(left) {
                // `x: T` alone binds nothing.
                if let Some(right) = node.child_by_field_name("right") {
                    bindings.push(Binding::Value(final_value(right)));
                }
            } else if binds_identifier(ctx, left, name) {
                bindings.push(Binding::Unknown);
            }
        }
        "named_expression" => {
            if node.child_by_field_name("name").is_some_and(is_name)
                && let Some(value) = node.child_by_field_name("value")
            {
                bindings.push(Binding::Value(value));
            }
        }
        kind => {
            let target = match kind {
                "augmented_assignment" | "for_statement" => node.child_by_field_name("left"),
                "as_pattern" => node.child_by_field_name("alias"),
                "function_definition" | "class_definition" => node.child_by_field_name("name"),
                "global_statement"
                | "nonlocal_statement"
                | "import_statement"
                | "import_from_statement" => Some(node),
                _ => None,
            };
            if target.is_some_and(|t| binds_identifier(ctx, t, name)) {
                bindings.push(Binding::Unknown);
            }
        }
    }
}

/// Whether a binding target (or statement) binds `name` itself: `name`, `(name, other)`,
/// `import name`, not `name.attr = ...` or `name[i] = ...` (which mutate it).
fn binds_identifier(ctx: &Context, target: Node, name: &str) -> bool {
    let mut stack = vec![target];
    let mut visited = 0;
    while let Some(node) = stack.pop() {
        visited += 1;
        if visited > MAX_SCAN {
            return false;
        }
        match node.kind() {
            "identifier" if ctx.text(node) == name => return true,
            "attribute" | "subscript" => {}
            _ => {
                let mut cursor = node.walk();
                stack.extend(node.named_children(&mut cursor));
            }
        }
    }
    false
}

/// `a = b = value` -> `value`.
fn final_value(mut value: Node) -> Node {
    for _ in 0..MAX_ANCESTORS {
        if value.kind() != "assignment" {
            break;
        }
        match value.child_by_field_name("right") {
            Some(right) => value = right,
            None => break,
        }
    }
    value
}

fn contains_node(node: Node, predicate: &impl Fn(Node) -> bool) -> bool {
    let mut stack = vec![node];
    let mut visited = 0;
    while let Some(n) = stack.pop() {
        visited += 1;
        if predicate(n) {
            return true;
        }
        if visited > MAX_SCAN {
            return false;
        }
        let mut cursor = n.walk();
        stack.extend(n.named_children(&mut cursor));
    }
    false
}

/// A function or class definition of this file named `name` (the last one wins).
fn find_definition<'t>(ctx: &Context, root: Node<'t>, kind: &str, name: &str) -> Option<Node<'t>> {
    let mut found = None;
    let mut stack = vec![root];
    let mut visited = 0;
    while let Some(node) = stack.pop() {
        visited += 1;
        if visited > MAX_SCAN {
            break;
        }
        if node.kind() == kind
            && node
                .child_by_field_name("name")
                .is_some_and(|n| ctx.text(n) == name)
            && found.is_none_or(|f: Node| f.start_byte() < node.start_byte())
        {
            found = Some(node);
        }
        // Definitions live in statements, never inside expressions.
        if matches!(
            node.kind(),
            "module"
                | "block"
                | "if_statement"
                | "elif_clause"
                | "else_clause"
                | "try_statement"
                | "except_clause"
                | "finally_clause"
                | "with_statement"
                | "for_statement"
                | "while_statement"
                | "class_definition"
                | "function_definition"
                | "decorated_definition"
        ) {
            let mut cursor = node.walk();
            stack.extend(node.named_children(&mut cursor));
        }
    }
    found
}

/// Visits the nodes of one scope, not entering nested functions, lambdas or classes (whose
/// definitions themselves are visited).
fn scan_scope<'t>(body: Node<'t>, mut visit: impl FnMut(Node<'t>)) {
    scan(
        body,
        &mut visit,
        &["function_definition", "lambda", "class_definition"],
    );
}

/// Visits a class body including its methods, not entering nested classes.
fn scan_class<'t>(body: Node<'t>, mut visit: impl FnMut(Node<'t>)) {
    scan(body, &mut visit, &["class_definition"]);
}

fn scan<'t>(body: Node<'t>, visit: &mut impl FnMut(Node<'t>), opaque: &[&str]) {
    let mut stack = vec![body];
    let mut visited = 0;
    while let Some(node) = stack.pop() {
        visited += 1;
        if visited > MAX_SCAN {
            return;
        }
        visit(node);
        if node.id() != body.id() && opaque.contains(&node.kind()) {
            continue;
        }
        let mut cursor = node.walk();
        stack.extend(node.named_children(&mut cursor));
    }
}

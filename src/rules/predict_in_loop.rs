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
//! builds an epoch iterator over a new data adapter and a callback list before computing
//! anything (verified in `keras/src/backend/tensorflow/trainer.py`), so calling it per sample or
//! per small batch spends much of the time on that set-up. (Not measured by the bundled
//! benchmarks.)
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

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use tree_sitter::Node;

use crate::analysis::dataflow::{ConsumerKind, is_statement_container};
use crate::analysis::imports::KerasSymbol;
use crate::analysis::units::Key;
use crate::analysis::{Context, RuleMatch, Sink, call};
use crate::finding::{Edit, FixSafety, Severity};
use crate::rules::RuleDef;
use crate::syntax::NodeExt;

pub const RULE: RuleDef = RuleDef {
    code: "KRS402",
    name: "predict-in-loop",
    severity: Severity::Warning,
    fix: Some(FixSafety::Unsafe),
    options: &[],
    query: include_str!("../../queries/python/predict-in-loop.scm"),
    module: "predict_in_loop",
    scenario: Some("predict_loop"),
    requires_text: None,
    spelled: None,
    check,
};

/// How many assignments/returns deep the model evidence is followed.
const MAX_DEPTH: usize = 4;
/// Calls nested deeper than this in the tree are not analysed.
const MAX_NESTING: usize = 400;
/// Nodes visited at most by one scan (of a scope, a loop body, a target).
const MAX_SCAN: usize = 500_000;

fn check<'t>(ctx: &Context<'t>, m: &RuleMatch<'t>, sink: &mut Sink) {
    let (Some(call), Some(receiver)) = (m.get("call"), m.get("receiver")) else {
        return;
    };
    // Each `predict` call is checked alone, so an edit re-runs only the calls in the edited
    // statement and those whose answer read what the edit changed. Everything of a site is
    // inside its statement (its loops and enclosing scopes), except what names resolve to
    // outside it: the module's bindings of a name (read through `Key::Ident(name)`) and the
    // definitions of called functions and base classes (`FileAnalysis::uses_name`).
    let Some(site) = Site::at(call, receiver) else {
        return;
    };
    let roots: Vec<Node<'t>> = ctx.forest.roots().take(1).collect();
    let mut file = FileAnalysis::new(ctx, &roots);
    file.check_site(&site, sink);
}

/// A `<receiver>.predict(...)` call with its ancestors (innermost first, up to its scope).
struct Site<'t> {
    call: Node<'t>,
    receiver: Node<'t>,
    ancestors: Vec<Node<'t>>,
}

impl<'t> Site<'t> {
    /// The site of `receiver.predict(...)`; `None` nested deeper than [`MAX_NESTING`].
    fn at(call: Node<'t>, receiver: Node<'t>) -> Option<Site<'t>> {
        let mut ancestors = Vec::new();
        let mut in_scope = true;
        let mut depth = 0;
        let mut node = call;
        while let Some(parent) = node.parent() {
            depth += 1;
            if depth >= MAX_NESTING {
                return None;
            }
            if in_scope {
                ancestors.push(parent);
                in_scope = !is_scope(parent.kind_name());
            }
            node = parent;
        }
        Some(Site {
            call,
            receiver,
            ancestors,
        })
    }
}

/// A binding of a name (or `self.<attr>`) found in a scope.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Binding<'t> {
    /// `name = value` (or `name := value`), with the scope chain the value is evaluated in.
    Value(Node<'t>, usize),
    /// A parameter annotated with a Keras model class.
    ModelParameter,
    /// Anything else: `for` targets, tuple targets, plain parameters, imports, ...
    Unknown,
}

/// What one scope says about one name: its bindings, and whether it is used like a Keras model.
#[derive(Clone, Debug, Default, PartialEq)]
struct NameFacts<'t> {
    bindings: Vec<Binding<'t>>,
    keras_usage: bool,
}

/// What the checks of one site found out: scope chains, definitions, and memoised answers.
struct FileAnalysis<'c, 'a, 't> {
    ctx: &'c Context<'a>,
    /// The last `def`/`class` of a name in the file (any depth), by kind and name.
    definitions: HashMap<(&'static str, &'a str), Option<Node<'t>>>,
    /// Scope chains (innermost first: functions, lambdas, classes, the module), interned; the
    /// first is the module's (the forest's first root stands for it).
    chains: Vec<Vec<Node<'t>>>,
    /// The chain of each scope (starting with the scope itself), by node id.
    definition_chain: HashMap<usize, usize>,
    /// Bindings of every name per function or lambda scope, by scope node id.
    scope_facts: HashMap<usize, Facts<'a, 't>>,
    /// Module-level bindings of one name each, from the statements spelling it.
    module_facts: HashMap<&'a str, Option<NameFacts<'t>>>,
    /// Assignments to every `self.<attr>` per class, by class node id.
    attribute_facts: HashMap<usize, Facts<'a, 't>>,
    function_returns_model: HashMap<(usize, usize), bool>,
    models: HashMap<(usize, &'a str, usize), bool>,
    loop_bindings: HashMap<usize, HashSet<&'a str>>,
}

/// What a scope says about each name.
type Facts<'a, 't> = HashMap<&'a str, NameFacts<'t>>;

fn is_scope(kind: &str) -> bool {
    matches!(
        kind,
        "function_definition" | "lambda" | "class_definition" | "module"
    )
}

fn is_comprehension(kind: &str) -> bool {
    matches!(
        kind,
        "list_comprehension"
            | "set_comprehension"
            | "dictionary_comprehension"
            | "generator_expression"
    )
}

impl<'c, 'a: 't, 't> FileAnalysis<'c, 'a, 't> {
    /// `roots`: the first root of the file's forest, which stands for the module.
    fn new(ctx: &'c Context<'a>, roots: &[Node<'t>]) -> Self {
        FileAnalysis {
            ctx,
            definitions: HashMap::default(),
            chains: vec![roots.iter().take(1).copied().collect()],
            definition_chain: HashMap::default(),
            scope_facts: HashMap::default(),
            module_facts: HashMap::default(),
            attribute_facts: HashMap::default(),
            function_returns_model: HashMap::default(),
            models: HashMap::default(),
            loop_bindings: HashMap::default(),
        }
    }

    /// The chain of scopes `scope` (a function, lambda, class or module node) is the first
    /// of: found by walking up its ancestors, interned.
    fn chain_of(&mut self, scope: Node<'t>) -> usize {
        if scope.kind_name() == "module" {
            return 0;
        }
        if let Some(&known) = self.definition_chain.get(&scope.id()) {
            return known;
        }
        let mut outer = scope.parent();
        while let Some(node) = outer.filter(|n| !is_scope(n.kind_name())) {
            outer = node.parent();
        }
        let outer_chain = outer.map_or(0, |outer| self.chain_of(outer));
        let mut chain = vec![scope];
        chain.extend(self.chains[outer_chain].iter().copied());
        self.chains.push(chain);
        let id = self.chains.len() - 1;
        self.definition_chain.insert(scope.id(), id);
        id
    }

    /// The last `def` (`kind` "function_definition") or `class` (`"class_definition"`) named
    /// `name` in the file, at any depth. Reads `Key::Ident(name)`: only the statements
    /// spelling `name` can define it.
    fn definition(&mut self, kind: &'static str, name: &'a str) -> Option<Node<'t>> {
        if let Some(&known) = self.definitions.get(&(kind, name)) {
            return known;
        }
        let ctx = self.ctx;
        let units = ctx.units_holding(Key::Ident(name.into()));
        let found = units
            .iter()
            .rev()
            .find_map(|&unit| last_definition(ctx, unit, kind, name));
        self.definitions.insert((kind, name), found);
        found
    }

    fn text(&self, node: Node) -> &'a str {
        self.ctx.text(node)
    }

    fn check_site(&mut self, site: &Site<'t>, sink: &mut Sink) {
        let Some(loop_kind) = self.varying_loop(site) else {
            return;
        };
        // A comprehension variable (`[m.predict(x) for m in models]`) is not a known model.
        let receiver_root = root_name(self.ctx, site.receiver);
        let comprehension_bound = site.ancestors.iter().any(|a| {
            is_comprehension(a.kind_name()) && comprehension_binds(self.ctx, *a, receiver_root)
        });
        if comprehension_bound {
            return;
        }
        let Some(&scope) = site.ancestors.iter().find(|a| is_scope(a.kind_name())) else {
            return;
        };
        let chain = self.chain_of(scope);
        if !self.is_keras_model(site.receiver, chain, 0) {
            return;
        }
        let receiver_text = self.text(site.receiver);
        let finding = sink.report(
            site.call,
            format!(
                "`{receiver_text}.predict()` inside a {loop_kind}: `predict` is \"not intended \
                 for use inside of loops\" and sets up a whole prediction loop per call; call \
                 `{receiver_text}(x, training=False)` for small inputs"
            ),
        );
        if let Some(edits) = direct_call_edits(self.ctx, site.call, site.receiver) {
            finding.with_fix(
                format!(
                    "Call the model directly (`{receiver_text}(x, training=False)`, returns a \
                     tensor)"
                ),
                FixSafety::Unsafe,
                edits,
            );
        }
    }

    /// The innermost loop (in the same function) that calls `predict` on a different input at
    /// each iteration with the same model: the arguments use a name the loop (re)binds (its
    /// target, or an assignment in its body) and the receiver is not re-created in that loop.
    fn varying_loop(&mut self, site: &Site<'t>) -> Option<&'static str> {
        let args = site.call.field("arguments")?;
        let used = used_names(self.ctx, args);
        let receiver = self.text(site.receiver);
        let mut child = site.call;
        for &parent in &site.ancestors {
            let kind = match parent.kind_name() {
                kind if is_scope(kind) => return None,
                "for_statement" if is_field(parent, "body", child) => "`for` loop",
                "while_statement" if is_field(parent, "body", child) => "`while` loop",
                kind if is_comprehension(kind) => {
                    // The first `for ... in <iterable>` is evaluated once; all else per element.
                    let mut cursor = parent.walk();
                    let first = parent
                        .named_children(&mut cursor)
                        .find(|c| c.kind_name() == "for_in_clause");
                    if first.is_some_and(|c| c.id() == child.id()) {
                        child = parent;
                        continue;
                    }
                    "comprehension"
                }
                _ => {
                    child = parent;
                    continue;
                }
            };
            let bound = self.loop_bindings(parent);
            if used.iter().any(|u| bound.contains(u)) {
                // A model re-created per iteration (k-fold, sweeps) predicts once per model.
                return (!bound.contains(&receiver)).then_some(kind);
            }
            child = parent;
        }
        None
    }

    /// Names a loop binds per iteration: its targets and everything assigned in its body.
    fn loop_bindings(&mut self, loop_node: Node<'t>) -> &HashSet<&'a str> {
        let ctx = self.ctx;
        self.loop_bindings.entry(loop_node.id()).or_insert_with(|| {
            let mut bound = Vec::new();
            if is_comprehension(loop_node.kind_name()) {
                let mut cursor = loop_node.walk();
                for clause in loop_node.named_children(&mut cursor) {
                    if clause.kind_name() == "for_in_clause"
                        && let Some(left) = clause.field("left")
                    {
                        target_names(ctx, left, &mut bound);
                    }
                }
            } else {
                if let Some(left) = loop_node.field("left") {
                    target_names(ctx, left, &mut bound);
                }
                if let Some(body) = loop_node.field("body") {
                    assigned_names(ctx, body, &mut bound);
                }
            }
            bound.into_iter().collect()
        })
    }

    /// Whether `expr`, evaluated in scope chain `chain`, is known to be a Keras model.
    fn is_keras_model(&mut self, expr: Node<'t>, chain: usize, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        match expr.kind_name() {
            "parenthesized_expression" => expr
                .named_child(0)
                .is_some_and(|inner| self.is_keras_model(inner, chain, depth + 1)),
            "call" => self.is_model_construction(expr, depth),
            "identifier" if self.text(expr) == "self" => self
                .enclosing_class(chain)
                .is_some_and(|class| self.class_is_keras_model(class, depth)),
            "identifier" => self.name_is_model(self.text(expr), chain, depth),
            "attribute" => self.self_attribute_is_model(expr, chain, depth),
            _ => false,
        }
    }

    /// `Model(...)`, `load_model(...)`, `ResNet50(...)`, `LocalModel(...)`, `build_model()`, ...
    fn is_model_construction(&mut self, call_node: Node<'t>, depth: usize) -> bool {
        let Some(callee) = call_node.field("function") else {
            return false;
        };
        if let Some(symbol) = self.ctx.keras(callee) {
            return is_model_factory(&symbol);
        }
        if let Some(path) = self.ctx.resolve(callee) {
            let hub = ["keras_hub.", "keras_nlp.", "keras_cv."]
                .iter()
                .any(|p| path.starts_with(p));
            return hub && path.contains(".models.") && path.ends_with(".from_preset");
        }
        if callee.kind_name() != "identifier" {
            return false;
        }
        let name = self.text(callee);
        if let Some(class) = self.definition("class_definition", name) {
            return self.class_is_keras_model(class, depth + 1);
        }
        let Some(function) = self.definition("function_definition", name) else {
            return false;
        };
        let Some(body) = function.field("body") else {
            return false;
        };
        let chain = self.chain_of(function);
        let key = (function.id(), depth);
        if let Some(&known) = self.function_returns_model.get(&key) {
            return known;
        }
        // Provisional answer while evaluating (breaks recursion).
        self.function_returns_model.insert(key, false);
        let mut returns = Vec::new();
        scan_scope(body, |node| {
            if node.kind_name() == "return_statement" {
                returns.push(node);
            }
        });
        let answer = !returns.is_empty()
            && returns.into_iter().all(|ret| {
                ret.named_child(0)
                    .is_some_and(|value| self.is_keras_model(value, chain, depth + 1))
            });
        self.function_returns_model.insert(key, answer);
        answer
    }

    /// Whether a class of this file subclasses a Keras model (directly or through local classes).
    fn class_is_keras_model(&mut self, class: Node<'t>, depth: usize) -> bool {
        base_classes(class).into_iter().any(|base| {
            if let Some(symbol) = self.ctx.keras(base) {
                return is_model_class(&symbol);
            }
            if depth >= MAX_DEPTH || base.kind_name() != "identifier" {
                return false;
            }
            self.definition("class_definition", self.text(base))
                .is_some_and(|parent| self.class_is_keras_model(parent, depth + 1))
        })
    }

    /// The class whose method the chain is in.
    fn enclosing_class(&self, chain: usize) -> Option<Node<'t>> {
        self.chains[chain]
            .iter()
            .find(|s| s.kind_name() == "class_definition")
            .copied()
    }

    /// Whether the local or global `name` only ever holds Keras models, seen from `chain`.
    fn name_is_model(&mut self, name: &'a str, chain: usize, depth: usize) -> bool {
        // Python resolves names through functions and the module, never through class bodies.
        let scopes: Vec<Node<'t>> = self.chains[chain]
            .iter()
            .filter(|s| s.kind_name() != "class_definition")
            .copied()
            .collect();
        for scope in scopes {
            let Some(facts) = self.facts_of(scope, name) else {
                continue;
            };
            let key = (scope.id(), name, depth);
            if let Some(&known) = self.models.get(&key) {
                return known;
            }
            // Provisional answer while evaluating (breaks `a = b; b = a` cycles).
            self.models.insert(key, false);
            let answer = facts.keras_usage || self.all_models(&facts.bindings, depth);
            self.models.insert(key, answer);
            return answer;
        }
        false
    }

    /// What `scope` (a function, lambda or the module) says about `name`; the module always
    /// answers (a global is only ever bound there).
    fn facts_of(&mut self, scope: Node<'t>, name: &'a str) -> Option<NameFacts<'t>> {
        let ctx = self.ctx;
        if scope.kind_name() == "module" {
            // Only statements spelling `name` at module level, or defining it there, can bind
            // it or use it as a model there, so only they are scanned (every root of the
            // forest is the module), and only their keys are read. Every other scope of a
            // chain is inside the statement of the scope it starts with, whose own reads
            // brought the analysis there.
            let facts = self.module_facts.entry(name).or_insert_with(|| {
                let mut units = ctx.units_holding(Key::ModuleIdent(name.into()));
                units.extend(ctx.units_holding(Key::ModuleDef(name.into())));
                units.sort_by_key(|unit| unit.start_byte());
                units.dedup_by_key(|unit| unit.id());
                module_name_facts(ctx, &units, name)
            });
            return Some(facts.clone().unwrap_or_default());
        }
        let chain = self.chain_of(scope);
        self.scope_facts
            .entry(scope.id())
            .or_insert_with(|| {
                let body = scope.field("body").unwrap_or(scope);
                collect_scope_facts(ctx, Some(scope), &[body], chain)
            })
            .get(name)
            .cloned()
    }

    /// `self.<attr>` in a class: the Keras callback's `self.model`, or attributes assigned
    /// models in the class's methods.
    fn self_attribute_is_model(&mut self, attr: Node<'t>, chain: usize, depth: usize) -> bool {
        let (Some(object), Some(name)) = (attr.field("object"), attr.field("attribute")) else {
            return false;
        };
        if object.kind_name() != "identifier" || self.text(object) != "self" {
            return false;
        }
        let Some(class) = self.enclosing_class(chain) else {
            return false;
        };
        let name = self.text(name);
        if name == "model" && class_is_keras_callback(self.ctx, class) {
            return true;
        }
        let key = (class.id(), name, depth);
        if let Some(&known) = self.models.get(&key) {
            return known;
        }
        self.models.insert(key, false);
        let facts = self.facts_in_class(class).get(name).cloned();
        let answer =
            facts.is_some_and(|facts| facts.keras_usage || self.all_models(&facts.bindings, depth));
        self.models.insert(key, answer);
        answer
    }

    /// Assignments to every `self.<attr>` in the methods of `class` (computed once).
    fn facts_in_class(&mut self, class: Node<'t>) -> &Facts<'a, 't> {
        if !self.attribute_facts.contains_key(&class.id()) {
            let chains: HashMap<usize, usize> = class_methods(class)
                .into_iter()
                .map(|method| (method.id(), self.chain_of(method)))
                .collect();
            let facts = collect_class_facts(self.ctx, class, &chains);
            self.attribute_facts.insert(class.id(), facts);
        }
        &self.attribute_facts[&class.id()]
    }

    fn all_models(&mut self, bindings: &[Binding<'t>], depth: usize) -> bool {
        !bindings.is_empty()
            && bindings.iter().all(|b| match *b {
                Binding::Value(value, chain) => self.is_keras_model(value, chain, depth + 1),
                Binding::ModelParameter => true,
                Binding::Unknown => false,
            })
    }
}

/// The root identifier of `a` or `a.b.c` (`""` for anything else).
fn root_name<'a>(ctx: &Context<'a>, expr: Node) -> &'a str {
    let mut node = expr;
    for _ in 0..MAX_NESTING {
        match node.kind_name() {
            "identifier" => return ctx.text(node),
            "attribute" => match node.field("object") {
                Some(object) => node = object,
                None => return "",
            },
            _ => return "",
        }
    }
    ""
}

fn comprehension_binds(ctx: &Context, comprehension: Node, name: &str) -> bool {
    let mut cursor = comprehension.walk();
    comprehension
        .named_children(&mut cursor)
        .filter(|c| c.kind_name() == "for_in_clause")
        .filter_map(|c| c.field("left"))
        .any(|left| bound_identifiers(ctx, left).contains(&name))
}

fn is_field(parent: Node, field: &str, child: Node) -> bool {
    parent.field(field).is_some_and(|f| f.id() == child.id())
}

/// Names and `a.b` chains an expression reads (not attribute or keyword names on their own).
fn used_names<'a>(ctx: &Context<'a>, expr: Node) -> Vec<&'a str> {
    let mut names = Vec::new();
    let mut stack = vec![expr];
    let mut visited = 0;
    while let Some(node) = stack.pop() {
        visited += 1;
        if visited > MAX_SCAN {
            break;
        }
        match node.kind_name() {
            "identifier" => names.push(ctx.text(node)),
            "attribute" => {
                names.push(ctx.text(node));
                stack.extend(node.field("object"));
            }
            "keyword_argument" => stack.extend(node.field("value")),
            _ => {
                let mut cursor = node.walk();
                stack.extend(node.named_children(&mut cursor));
            }
        }
    }
    names
}

/// Names (and `self.x` chains) bound or mutated by an assignment target.
fn target_names<'a>(ctx: &Context<'a>, target: Node, out: &mut Vec<&'a str>) {
    let mut stack = vec![target];
    let mut visited = 0;
    while let Some(node) = stack.pop() {
        visited += 1;
        if visited > MAX_SCAN {
            break;
        }
        match node.kind_name() {
            "identifier" => out.push(ctx.text(node)),
            "attribute" => {
                out.push(ctx.text(node));
                stack.extend(node.field("object"));
            }
            // `x[i] = v` mutates `x`.
            "subscript" => stack.extend(node.field("value")),
            _ => {
                let mut cursor = node.walk();
                stack.extend(node.named_children(&mut cursor));
            }
        }
    }
}

/// Everything assigned inside a loop body (not inside nested functions).
fn assigned_names<'a>(ctx: &Context<'a>, body: Node, out: &mut Vec<&'a str>) {
    scan_scope(body, |node| {
        let target = match node.kind_name() {
            "assignment" | "augmented_assignment" | "for_statement" | "for_in_clause" => {
                node.field("left")
            }
            "named_expression" => node.field("name"),
            "as_pattern" => node.field("alias"),
            _ => None,
        };
        if let Some(target) = target {
            target_names(ctx, target, out);
        }
    });
}

/// Edits turning `model.predict(x)` / `model.predict(x=x, verbose=0)` into
/// `model(x, training=False)`, keeping the argument layout (and comments); `None` for other
/// arguments (`batch_size`, `steps`, `callbacks`, splats) and for dataset or generator inputs.
fn direct_call_edits(ctx: &Context, call_node: Node, receiver: Node) -> Option<Vec<Edit>> {
    let args = call_node.field("arguments")?;
    let mut cursor = args.walk();
    let mut x = None;
    let mut verbose = None;
    for arg in args.named_children(&mut cursor) {
        match arg.kind_name() {
            "comment" => {}
            "keyword_argument" => match ctx.text(arg.field("name")?) {
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
        .consumers_at(call_node)
        .iter()
        .any(|c| c.kind == ConsumerKind::Predict);
    if batches_itself {
        return None;
    }
    // `model.predict(` -> `model(`.
    let mut edits = vec![Edit::delete(receiver.end_byte()..args.start_byte())];
    if x.kind_name() == "keyword_argument" {
        let value = x.field("value")?;
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

/// Whether a class of this file subclasses a Keras callback (where `self.model` is the model).
fn class_is_keras_callback(ctx: &Context, class: Node) -> bool {
    base_classes(class)
        .into_iter()
        .any(|base| ctx.keras(base).is_some_and(|s| s.module() == "callbacks"))
}

fn base_classes(class: Node) -> Vec<Node> {
    let Some(bases) = class.field("superclasses") else {
        return Vec::new();
    };
    let mut cursor = bases.walk();
    bases
        .named_children(&mut cursor)
        .filter(|b| b.kind_name() != "keyword_argument")
        .collect()
}

/// `a = b = value` -> `value`.
fn final_value(mut value: Node) -> Node {
    for _ in 0..MAX_NESTING {
        if value.kind_name() != "assignment" {
            break;
        }
        match value.field("right") {
            Some(right) => value = right,
            None => break,
        }
    }
    value
}

/// Bindings of every name in a function or lambda (`function`, whose body is `bodies`), or in
/// the module (`bodies`: top-level statements): parameters, assignments, other binders (as
/// unknown values), and Keras-only usage.
fn collect_scope_facts<'a, 't>(
    ctx: &Context<'a>,
    function: Option<Node<'t>>,
    bodies: &[Node<'t>],
    chain: usize,
) -> Facts<'a, 't> {
    let mut facts: Facts<'a, 't> = HashMap::default();
    if let Some(params) = function.and_then(|f| f.field("parameters")) {
        let mut cursor = params.walk();
        for param in params.named_children(&mut cursor) {
            let annotation = match param.kind_name() {
                "typed_parameter" | "typed_default_parameter" => param.field("type"),
                _ => None,
            };
            let annotated_model = annotation
                .and_then(|t| t.named_child(0))
                .and_then(|t| ctx.keras(t))
                .is_some_and(|s| is_model_class(&s));
            // The default value is not a binding target.
            let target = param.field("name").unwrap_or(param);
            let target = if param.kind_name() == "typed_parameter" {
                param.named_child(0).unwrap_or(param)
            } else {
                target
            };
            for name in bound_identifiers(ctx, target) {
                let binding = if annotated_model {
                    Binding::ModelParameter
                } else {
                    Binding::Unknown
                };
                facts.entry(name).or_default().bindings.push(binding);
            }
        }
    }
    let mut visit = |node: Node<'t>| visit_binder(ctx, node, chain, &mut facts);
    for &body in bodies {
        if function.is_none() && is_scope(body.kind_name()) {
            // A top-level `def`/`class` binds its name; its body is another scope.
            visit(body);
        } else {
            scan_scope(body, &mut visit);
        }
    }
    facts
}

/// [`collect_scope_facts`] of the module (`units`: top-level statements), for one name only.
/// Only nodes that hold an identifier spelled `name` can bind it or use it like a model, so
/// instead of scanning every statement spelling a common name (`model` is in most of a
/// script's), this visits only the nodes such a scan reaches on the way down to each such
/// identifier, in the scan's order: the same facts, for a fraction of the nodes.
fn module_name_facts<'a, 't>(
    ctx: &Context<'a>,
    units: &[Node<'t>],
    name: &'a str,
) -> Option<NameFacts<'t>> {
    let mut facts: Facts<'a, 't> = HashMap::default();
    let finder = memchr::memmem::Finder::new(name.as_bytes());
    let mut path: Vec<Node<'t>> = Vec::new();
    for &unit in units {
        // A scan stops after `MAX_SCAN` nodes, which a statement this short cannot hold; a longer
        // one is scanned, so that the limit cuts it where it always did.
        if unit.byte_range().len() > MAX_SCAN / 16 || name.is_empty() {
            if is_scope(unit.kind_name()) {
                visit_binder(ctx, unit, 0, &mut facts);
            } else {
                scan_scope(unit, |node| visit_binder(ctx, node, 0, &mut facts));
            }
            continue;
        }
        // (node, its depth below the unit): the scan visits a node before the nodes inside it,
        // and of two apart the later one first.
        let mut reached: Vec<(Node<'t>, usize)> = Vec::new();
        let mut seen: HashSet<usize> = HashSet::default();
        let text = &ctx.source.as_bytes()[unit.byte_range()];
        for at in finder.find_iter(text) {
            let start = unit.start_byte() + at;
            let end = start + name.len();
            // Down from the unit to the identifier at `start..end` (none in a string or comment,
            // or where the name is part of a longer one).
            let mut cursor = unit.walk();
            path.clear();
            let found = loop {
                let node = cursor.node();
                path.push(node);
                if node.start_byte() == start
                    && node.end_byte() == end
                    && node.kind_name() == "identifier"
                {
                    break true;
                }
                if cursor.goto_first_child_for_byte(start).is_none()
                    || cursor.node().start_byte() > start
                {
                    break false;
                }
            };
            if !found {
                continue;
            }
            // A top-level `def`/`class` is visited alone; a scan enters no other scope, but
            // visits the scope's node itself.
            let reach = if is_scope(unit.kind_name()) {
                1
            } else {
                path.iter()
                    .skip(1)
                    .position(|node| is_scope(node.kind_name()))
                    .map_or(path.len(), |i| i + 2)
            };
            for (depth, &node) in path[..reach].iter().enumerate() {
                if seen.insert(node.id()) {
                    reached.push((node, depth));
                }
            }
        }
        reached.sort_by_key(|&(node, depth)| {
            (std::cmp::Reverse(node.end_byte()), node.start_byte(), depth)
        });
        for (node, _) in reached {
            visit_binder(ctx, node, 0, &mut facts);
        }
    }
    facts.remove(name)
}

/// What one node visited in a scope says: the names it binds (with their values where known),
/// and the name it uses like a Keras model.
fn visit_binder<'a, 't>(
    ctx: &Context<'a>,
    node: Node<'t>,
    chain: usize,
    facts: &mut Facts<'a, 't>,
) {
    if let Some(receiver) = keras_usage_receiver(ctx, node)
        && receiver.kind_name() == "identifier"
    {
        facts.entry(ctx.text(receiver)).or_default().keras_usage = true;
    }
    let mut push = |name: &'a str, binding: Binding<'t>| {
        facts.entry(name).or_default().bindings.push(binding);
    };
    match node.kind_name() {
        "assignment" => {
            let Some(left) = node.field("left") else {
                return;
            };
            if left.kind_name() == "identifier" {
                // `x: T` alone binds nothing.
                if let Some(right) = node.field("right") {
                    push(ctx.text(left), Binding::Value(final_value(right), chain));
                }
                return;
            }
            for name in bound_identifiers(ctx, left) {
                push(name, Binding::Unknown);
            }
        }
        "named_expression" => {
            if let (Some(name), Some(value)) = (node.field("name"), node.field("value")) {
                push(ctx.text(name), Binding::Value(value, chain));
            }
        }
        kind => {
            let target = match kind {
                "augmented_assignment" | "for_statement" => node.field("left"),
                "as_pattern" => node.field("alias"),
                "function_definition" | "class_definition" => node.field("name"),
                "global_statement"
                | "nonlocal_statement"
                | "import_statement"
                | "import_from_statement" => Some(node),
                _ => None,
            };
            for name in target.map_or_else(Vec::new, |t| bound_identifiers(ctx, t)) {
                push(name, Binding::Unknown);
            }
        }
    }
}

/// Assignments to every `self.<attr>` in the methods of a class, and Keras-only usage of them.
fn collect_class_facts<'a, 't>(
    ctx: &Context<'a>,
    class: Node<'t>,
    chains: &HashMap<usize, usize>,
) -> Facts<'a, 't> {
    let mut facts: Facts<'a, 't> = HashMap::default();
    // `self.<attr>` -> `attr`.
    let self_attribute = |node: Node| -> Option<&'a str> {
        if node.kind_name() != "attribute" {
            return None;
        }
        let object = node.field("object")?;
        if object.kind_name() != "identifier" || ctx.text(object) != "self" {
            return None;
        }
        Some(ctx.text(node.field("attribute")?))
    };
    for method in class_methods(class) {
        let (Some(method_body), Some(&chain)) = (method.field("body"), chains.get(&method.id()))
        else {
            continue;
        };
        scan_scope(method_body, |node| {
            if let Some(name) = keras_usage_receiver(ctx, node).and_then(self_attribute) {
                facts.entry(name).or_default().keras_usage = true;
            }
            if node.kind_name() != "assignment" {
                return;
            }
            let (Some(left), Some(right)) = (node.field("left"), node.field("right")) else {
                return;
            };
            if let Some(name) = self_attribute(left) {
                let binding = Binding::Value(final_value(right), chain);
                facts.entry(name).or_default().bindings.push(binding);
                return;
            }
            // `self.a, self.b = ...`
            let mut stack = vec![left];
            while let Some(target) = stack.pop() {
                if let Some(name) = self_attribute(target) {
                    facts
                        .entry(name)
                        .or_default()
                        .bindings
                        .push(Binding::Unknown);
                } else if matches!(
                    target.kind_name(),
                    "pattern_list" | "tuple_pattern" | "list_pattern" | "tuple" | "list"
                ) {
                    let mut cursor = target.walk();
                    stack.extend(target.named_children(&mut cursor));
                }
            }
        });
    }
    facts
}

/// The methods defined in a class body (decorated or not).
fn class_methods(class: Node) -> Vec<Node> {
    let Some(body) = class.field("body") else {
        return Vec::new();
    };
    let mut cursor = body.walk();
    body.named_children(&mut cursor)
        .filter_map(|statement| match statement.kind_name() {
            "decorated_definition" => statement.field("definition"),
            "function_definition" => Some(statement),
            _ => None,
        })
        .filter(|method| method.kind_name() == "function_definition")
        .collect()
}

/// The last definition of `kind` named `name` in `unit` (a top-level statement), at any depth:
/// statements inside statements, and inside what the parser could not make sense of.
fn last_definition<'t>(ctx: &Context, unit: Node<'t>, kind: &str, name: &str) -> Option<Node<'t>> {
    let mut found = None;
    let mut stack = vec![(unit, 0)];
    while let Some((node, depth)) = stack.pop() {
        let node_kind = node.kind_name();
        if node_kind == kind
            && node.field("name").is_some_and(|n| ctx.text(n) == name)
            && found.is_none_or(|f: Node| f.start_byte() < node.start_byte())
        {
            found = Some(node);
        }
        if depth < MAX_NESTING
            && (is_statement_container(node_kind) || node.is_error() || node.has_error())
        {
            let mut cursor = node.walk();
            stack.extend(
                node.named_children(&mut cursor)
                    .map(|child| (child, depth + 1)),
            );
        }
    }
    found
}

/// The names a binding target (or binding statement) binds: `name`, `(name, other)`,
/// `import name`; not `name.attr = ...` or `name[i] = ...` (which mutate `name`).
fn bound_identifiers<'a>(ctx: &Context<'a>, target: Node) -> Vec<&'a str> {
    let mut names = Vec::new();
    let mut stack = vec![target];
    let mut visited = 0;
    while let Some(node) = stack.pop() {
        visited += 1;
        if visited > MAX_SCAN {
            break;
        }
        match node.kind_name() {
            "identifier" => names.push(ctx.text(node)),
            "attribute" | "subscript" => {}
            _ => {
                let mut cursor = node.walk();
                stack.extend(node.named_children(&mut cursor));
            }
        }
    }
    names
}

/// The receiver of usage only a Keras model has: `<receiver>.compile(optimizer=..., loss=...)`
/// (not `torch.nn.Module.compile()`), or `<receiver>.trainable_variables` /
/// `.trainable_weights` (a TensorFlow object that also has `predict`).
fn keras_usage_receiver<'t>(ctx: &Context, node: Node<'t>) -> Option<Node<'t>> {
    match node.kind_name() {
        "attribute" => {
            let attribute = ctx.text(node.field("attribute")?);
            matches!(attribute, "trainable_variables" | "trainable_weights")
                .then(|| node.field("object"))
                .flatten()
        }
        "call" => {
            let func = node.field("function")?;
            if func.kind_name() != "attribute" || ctx.text(func.field("attribute")?) != "compile" {
                return None;
            }
            let keras_arguments = call::keyword(ctx.source, node, "optimizer").is_some()
                || call::keyword(ctx.source, node, "loss").is_some();
            keras_arguments.then(|| func.field("object")).flatten()
        }
        _ => None,
    }
}

/// Visits the nodes of one scope, not entering nested functions, lambdas or classes (whose
/// definitions themselves are visited).
fn scan_scope<'t>(body: Node<'t>, mut visit: impl FnMut(Node<'t>)) {
    let mut stack = vec![body];
    let mut visited = 0;
    while let Some(node) = stack.pop() {
        visited += 1;
        if visited > MAX_SCAN {
            return;
        }
        visit(node);
        if node.id() != body.id() && is_scope(node.kind_name()) {
            continue;
        }
        let mut cursor = node.walk();
        stack.extend(node.named_children(&mut cursor));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::parse;
    use crate::settings::Settings;

    /// Statements that bind, use or merely mention names in every way the scan tells apart.
    const TRICKY: &str = r#"import keras, model_zoo
from keras import models as model
model = keras.Sequential()  # model in a comment
"model is only a string here"
my_model, (model, other) = build(), (1, 2)
model.compile(optimizer="adam", loss="mse")
x = model.trainable_variables
for model in range(3):
    model += 1
with open("f") as model, open("g") as g:
    pass
if (model := keras.Model()):
    print(lambda model: model.predict(model))
def model(model=model):
    global model
    model = 1
@decorate(model)
class model(keras.Model):
    model = keras.Sequential()
result = [model.predict(b) for b in batches] + [model for model in ms]
模型 = keras.Sequential(); 模型.compile(loss="mse")
model = model = keras.Model()
model: keras.Model
"#;

    /// The facts [`module_name_facts`] finds for each name equal a scan of every statement
    /// holding it, on crafted statements and on every corpus file.
    #[test]
    fn module_facts_of_one_name_equal_a_full_scan() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
        let mut sources = vec![TRICKY.to_string()];
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "py") {
                sources.push(std::fs::read_to_string(path).unwrap());
            }
        }
        let settings = Settings::default();
        let mut compared = 0;
        for source in &sources {
            let forest = parse(source);
            let ctx = Context::new(source, &forest, &settings);
            let units = forest.statements();
            let mut names: Vec<&str> = Vec::new();
            let mut cursor = forest.roots().next().unwrap().walk();
            for root in forest.roots() {
                cursor.reset(root);
                loop {
                    let node = cursor.node();
                    if node.kind_name() == "identifier" {
                        names.push(ctx.text(node));
                    }
                    if cursor.goto_first_child() || cursor.goto_next_sibling() {
                        continue;
                    }
                    while cursor.goto_parent() && !cursor.goto_next_sibling() {}
                    if cursor.node().id() == root.id() {
                        break;
                    }
                }
            }
            names.sort_unstable();
            names.dedup();
            let mut full = collect_scope_facts(&ctx, None, &units, 0);
            for name in names {
                let holding: Vec<Node> = units
                    .iter()
                    .copied()
                    .filter(|unit| ctx.text(*unit).contains(name))
                    .collect();
                assert_eq!(
                    module_name_facts(&ctx, &holding, name),
                    full.remove(name),
                    "{name}"
                );
                compared += 1;
            }
        }
        assert!(compared > 1000, "{compared}");
    }
}

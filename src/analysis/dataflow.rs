//! tf.data dataflow: follows datasets through assignments and chains to where they are consumed.
//!
//! Only values that come from tf.data (Dataset constructors, TFRecordDataset, `list_files`,
//! `keras.utils.*_dataset_from_*`, `tfds.load`) are pipelines; pandas `.map` or builtin `map`
//! never are. The analysis is flow-insensitive inside branches (a later assignment wins) and
//! follows helper functions of the same file that return a pipeline.

use std::collections::HashMap;

use tree_sitter::Node;

use super::imports::{Imports, keras_symbol_from_path, text};

/// Where a pipeline starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A tf.data constructor (`Dataset.from_tensor_slices`, `TFRecordDataset`, ...).
    TfData,
    /// `keras.utils.*_dataset_from_*`: already ends in `.prefetch(AUTOTUNE)`.
    KerasUtils,
    /// `tfds.load(...)`.
    Tfds,
}

/// One transformation applied to a pipeline: `.map(f)`, `.batch(32)`, ...
#[derive(Debug, Clone, Copy)]
pub struct Step<'t> {
    /// The call node, e.g. `ds.map(f)`.
    pub call: Node<'t>,
    /// The attribute node holding the method name.
    pub method_node: Node<'t>,
}

impl<'t> Step<'t> {
    pub fn method<'s>(&self, source: &'s str) -> &'s str {
        text(source, self.method_node)
    }

    /// The argument list node of the call.
    pub fn arguments(&self) -> Option<Node<'t>> {
        self.call.child_by_field_name("arguments")
    }

    /// The receiver expression (`ds` in `ds.map(f)`).
    pub fn receiver(&self) -> Option<Node<'t>> {
        self.call
            .child_by_field_name("function")
            .and_then(|f| f.child_by_field_name("object"))
    }
}

/// Identifies a pipeline value (a dataset at one point of its construction).
pub type ValueId = usize;

#[derive(Debug, Clone)]
struct Value<'t> {
    parent: Option<ValueId>,
    source: SourceKind,
    source_call: Node<'t>,
    step: Option<Step<'t>>,
}

/// How a pipeline (or other input) is consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerKind {
    Fit,
    Evaluate,
    Predict,
    /// `fit(..., validation_data=ds)`.
    ValidationData,
    /// `for batch in ds:` (also through `enumerate(ds)`).
    ForLoop,
    /// `iter(ds)`.
    Iter,
}

/// What kind of input a consumer received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Pipeline(ValueId),
    /// A generator object (a call of a generator function of this file, or a generator expression).
    Generator,
    /// An instance of a `keras.utils.PyDataset` / `Sequence` subclass of this file.
    PyDataset,
}

/// A place where an input is consumed.
#[derive(Debug, Clone, Copy)]
pub struct Consumer<'t> {
    pub kind: ConsumerKind,
    /// The consuming call (`model.fit(...)`, `iter(ds)`) or `for` statement.
    pub node: Node<'t>,
    /// The expression that was passed or iterated.
    pub arg: Node<'t>,
    pub input: Input,
}

/// The result of the dataflow pass over one file.
#[derive(Debug, Default)]
pub struct Dataflow<'t> {
    values: Vec<Value<'t>>,
    consumers: Vec<Consumer<'t>>,
    /// Call node id -> the value it produces.
    by_call: HashMap<usize, ValueId>,
}

impl<'t> Dataflow<'t> {
    pub fn consumers(&self) -> &[Consumer<'t>] {
        &self.consumers
    }

    /// The steps of a value from its source to itself, in application order.
    pub fn chain(&self, id: ValueId) -> Vec<Step<'t>> {
        let mut steps = Vec::new();
        let mut current = Some(id);
        let mut guard = 0;
        while let Some(i) = current {
            let value = &self.values[i];
            if let Some(step) = value.step {
                steps.push(step);
            }
            current = value.parent;
            guard += 1;
            if guard > 100_000 {
                break;
            }
        }
        steps.reverse();
        steps
    }

    pub fn source(&self, id: ValueId) -> (SourceKind, Node<'t>) {
        let value = &self.values[id];
        (value.source, value.source_call)
    }

    /// Every distinct transformation seen on any pipeline, with the value it produced.
    pub fn steps(&self) -> impl Iterator<Item = (ValueId, Step<'t>)> + '_ {
        self.values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.step.map(|s| (i, s)))
    }

    /// The value a call node produces, if it is a pipeline step or source.
    pub fn value_of_call(&self, call: Node) -> Option<ValueId> {
        self.by_call.get(&call.id()).copied()
    }

    /// The value this one was derived from (its receiver).
    pub fn parent(&self, id: ValueId) -> Option<ValueId> {
        self.values[id].parent
    }

    /// The step that produced this value, if any (sources and aliases have none).
    pub fn step(&self, id: ValueId) -> Option<Step<'t>> {
        self.values[id].step
    }
}

/// Dataset methods that return a new dataset.
const TRANSFORMS: &[&str] = &[
    "apply",
    "batch",
    "bucket_by_sequence_length",
    "cache",
    "concatenate",
    "enumerate",
    "filter",
    "flat_map",
    "group_by_window",
    "ignore_errors",
    "interleave",
    "map",
    "padded_batch",
    "parallel_interleave",
    "prefetch",
    "ragged_batch",
    "rebatch",
    "rejection_resample",
    "repeat",
    "scan",
    "shard",
    "shuffle",
    "skip",
    "snapshot",
    "sparse_batch",
    "take",
    "take_while",
    "unbatch",
    "unique",
    "window",
    "with_options",
    "map_with_legacy_function",
    "distribute",
    "assert_cardinality",
    "prefetch_to_device",
];

/// tf.data constructors, as canonical paths after `tensorflow.data.`.
const TF_DATA_SOURCES: &[&str] = &[
    "Dataset.from_tensor_slices",
    "Dataset.from_tensors",
    "Dataset.from_generator",
    "Dataset.range",
    "Dataset.list_files",
    "Dataset.zip",
    "Dataset.sample_from_datasets",
    "Dataset.choose_from_datasets",
    "Dataset.load",
    "Dataset.counter",
    "Dataset.random",
    "TFRecordDataset",
    "TextLineDataset",
    "FixedLengthRecordDataset",
    "experimental.make_csv_dataset",
    "experimental.CsvDataset",
    "experimental.SqlDataset",
    "experimental.sample_from_datasets",
    "experimental.choose_from_datasets",
    "experimental.load",
    "experimental.make_batched_features_dataset",
];

const CONSUMER_METHODS: &[(&str, ConsumerKind)] = &[
    ("fit", ConsumerKind::Fit),
    ("fit_generator", ConsumerKind::Fit),
    ("evaluate", ConsumerKind::Evaluate),
    ("evaluate_generator", ConsumerKind::Evaluate),
    ("predict", ConsumerKind::Predict),
    ("predict_generator", ConsumerKind::Predict),
];

/// Chains deeper than this are not followed (keeps pathological input cheap).
const MAX_DEPTH: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Val {
    Pipeline(ValueId),
    Generator,
    PyDataset,
}

#[derive(Default, Clone)]
struct Env {
    names: HashMap<String, Val>,
}

struct Builder<'a, 't> {
    source: &'a str,
    imports: &'a Imports,
    flow: Dataflow<'t>,
    /// Functions of this file returning a pipeline, by name.
    returns: HashMap<String, ValueId>,
    generator_functions: Vec<String>,
    py_dataset_classes: Vec<String>,
    functions: Vec<Node<'t>>,
    seen_consumers: std::collections::HashSet<(usize, usize)>,
}

/// Runs the dataflow pass over a whole module.
pub fn build<'t>(source: &str, root: Node<'t>, imports: &Imports) -> Dataflow<'t> {
    let mut builder = Builder {
        source,
        imports,
        flow: Dataflow::default(),
        returns: HashMap::new(),
        generator_functions: Vec::new(),
        py_dataset_classes: Vec::new(),
        functions: Vec::new(),
        seen_consumers: Default::default(),
    };
    builder.collect_definitions(root);
    // Functions first (with their own locals) so module code can call pipeline helpers,
    // then the module, then functions again seeing the module's datasets.
    let functions = builder.functions.clone();
    for &func in &functions {
        builder.function_scope(func, &Env::default());
    }
    let mut module_env = Env::default();
    builder.block(root, &mut module_env);
    for &func in &functions {
        builder.function_scope(func, &module_env);
    }
    builder.flow
}

impl<'a, 't> Builder<'a, 't> {
    fn text(&self, node: Node) -> &'a str {
        text(self.source, node)
    }

    /// Finds functions (any depth), generator functions and PyDataset subclasses.
    fn collect_definitions(&mut self, root: Node<'t>) {
        let mut stack = vec![root];
        while let Some(node) = stack.pop() {
            match node.kind() {
                "function_definition" => {
                    self.functions.push(node);
                    if let Some(name) = node.child_by_field_name("name")
                        && node
                            .child_by_field_name("body")
                            .is_some_and(|b| contains_yield(b))
                    {
                        self.generator_functions.push(self.text(name).to_string());
                    }
                }
                "class_definition" => {
                    if let (Some(name), Some(bases)) = (
                        node.child_by_field_name("name"),
                        node.child_by_field_name("superclasses"),
                    ) {
                        let mut cursor = bases.walk();
                        let is_py_dataset = bases.named_children(&mut cursor).any(|b| {
                            self.imports.keras_symbol(self.source, b).is_some_and(|s| {
                                matches!(s.name(), "PyDataset" | "Sequence")
                                    && s.module() == "utils"
                            })
                        });
                        if is_py_dataset {
                            self.py_dataset_classes.push(self.text(name).to_string());
                        }
                    }
                }
                _ => {}
            }
            if is_statement_container(node.kind()) {
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    stack.push(child);
                }
            }
        }
    }

    fn function_scope(&mut self, func: Node<'t>, outer: &Env) {
        let Some(body) = func.child_by_field_name("body") else {
            return;
        };
        let mut env = outer.clone();
        // Parameters shadow outer names.
        if let Some(params) = func.child_by_field_name("parameters") {
            let mut cursor = params.walk();
            for param in params.named_children(&mut cursor) {
                let name_node = if param.kind() == "identifier" {
                    Some(param)
                } else {
                    param
                        .child_by_field_name("name")
                        .or_else(|| param.named_child(0))
                };
                if let Some(n) = name_node {
                    env.names.remove(self.text(n));
                }
            }
        }
        let returned = self.block(body, &mut env);
        if let (Some(id), Some(name)) = (returned, func.child_by_field_name("name")) {
            self.returns.insert(self.text(name).to_string(), id);
        }
    }

    /// Processes the statements of a block in order; returns the pipeline a `return` yields.
    fn block(&mut self, block: Node<'t>, env: &mut Env) -> Option<ValueId> {
        let mut returned = None;
        let mut cursor = block.walk();
        let children: Vec<Node<'t>> = block.named_children(&mut cursor).collect();
        for stmt in children {
            if let Some(r) = self.statement(stmt, env) {
                returned = Some(r);
            }
        }
        returned
    }

    fn statement(&mut self, stmt: Node<'t>, env: &mut Env) -> Option<ValueId> {
        match stmt.kind() {
            "function_definition" | "class_definition" | "decorated_definition" => None,
            "expression_statement" => {
                let inner = stmt.named_child(0)?;
                if inner.kind() == "assignment" {
                    self.assignment(inner, env);
                } else {
                    self.scan_calls(inner, env);
                }
                None
            }
            "return_statement" => {
                let value = stmt.named_child(0)?;
                self.scan_calls(value, env);
                match self.eval(value, env, 0) {
                    Some(Val::Pipeline(id)) => Some(id),
                    _ => None,
                }
            }
            "for_statement" => {
                if let Some(right) = stmt.child_by_field_name("right") {
                    self.scan_calls(right, env);
                    let iterated = unwrap_enumerate(self.source, right).unwrap_or(right);
                    if let Some(val) = self.eval(iterated, env, 0) {
                        self.consume(ConsumerKind::ForLoop, stmt, iterated, val);
                    }
                }
                let mut returned = None;
                for field in ["body", "alternative"] {
                    if let Some(b) = stmt.child_by_field_name(field) {
                        returned = self.block(b, env).or(returned);
                    }
                }
                returned
            }
            "if_statement" | "while_statement" | "try_statement" | "with_statement" | "block"
            | "else_clause" | "elif_clause" | "except_clause" | "finally_clause"
            | "with_clause" | "match_statement" | "case_clause" => {
                let mut returned = None;
                let mut cursor = stmt.walk();
                let children: Vec<Node<'t>> = stmt.named_children(&mut cursor).collect();
                for child in children {
                    if is_statement_container(child.kind()) || child.kind().ends_with("statement") {
                        returned = self.statement(child, env).or(returned);
                    } else {
                        self.scan_calls(child, env);
                    }
                }
                returned
            }
            _ => {
                self.scan_calls(stmt, env);
                None
            }
        }
    }

    fn assignment(&mut self, assign: Node<'t>, env: &mut Env) {
        let Some(right) = assign.child_by_field_name("right") else {
            return;
        };
        self.scan_calls(right, env);
        let Some(left) = assign.child_by_field_name("left") else {
            return;
        };
        match left.kind() {
            "identifier" => {
                let name = self.text(left).to_string();
                match self.eval(right, env, 0) {
                    Some(val) => {
                        env.names.insert(name, val);
                    }
                    None => {
                        env.names.remove(&name);
                    }
                }
            }
            "pattern_list" | "tuple_pattern" => {
                // `ds, info = tfds.load(..., with_info=True)`: the first target is the dataset.
                let first = left.named_child(0);
                let is_tfds_with_info =
                    right.kind() == "call" && self.source_kind(right) == Some(SourceKind::Tfds);
                let mut cursor = left.walk();
                for target in left.named_children(&mut cursor) {
                    if target.kind() == "identifier" {
                        env.names.remove(self.text(target));
                    }
                }
                if is_tfds_with_info
                    && let Some(first) = first.filter(|f| f.kind() == "identifier")
                    && let Some(val) = self.eval(right, env, 0)
                {
                    env.names.insert(self.text(first).to_string(), val);
                }
            }
            _ => {}
        }
    }

    /// Visits every call inside an expression to find consumers and build chains.
    fn scan_calls(&mut self, expr: Node<'t>, env: &Env) {
        let mut stack = vec![(expr, 0usize)];
        while let Some((node, depth)) = stack.pop() {
            if depth > MAX_DEPTH {
                continue;
            }
            match node.kind() {
                "lambda" | "function_definition" | "class_definition" => continue,
                "call" => {
                    self.eval(node, env, 0);
                    self.consumer_call(node, env);
                }
                _ => {}
            }
            let mut cursor = node.walk();
            for child in node.named_children(&mut cursor) {
                stack.push((child, depth + 1));
            }
        }
    }

    fn consumer_call(&mut self, call: Node<'t>, env: &Env) {
        let Some(func) = call.child_by_field_name("function") else {
            return;
        };
        let Some(args) = call.child_by_field_name("arguments") else {
            return;
        };
        if func.kind() == "identifier" && self.text(func) == "iter" {
            if let Some(arg) = args.named_child(0)
                && let Some(val) = self.eval(arg, env, 0)
            {
                self.consume(ConsumerKind::Iter, call, arg, val);
            }
            return;
        }
        if func.kind() != "attribute" {
            return;
        }
        let Some(method) = func.child_by_field_name("attribute") else {
            return;
        };
        let Some(&(_, kind)) = CONSUMER_METHODS
            .iter()
            .find(|(m, _)| *m == self.text(method))
        else {
            return;
        };
        // A pipeline's own methods are not consumers (there is no Dataset.fit), but guard anyway.
        let mut cursor = args.walk();
        let mut positional = 0;
        for arg in args.named_children(&mut cursor) {
            let (target_kind, value) = if arg.kind() == "keyword_argument" {
                let (Some(name), Some(value)) = (
                    arg.child_by_field_name("name"),
                    arg.child_by_field_name("value"),
                ) else {
                    continue;
                };
                match self.text(name) {
                    "x" | "generator" => (kind, value),
                    "validation_data" => (ConsumerKind::ValidationData, value),
                    _ => continue,
                }
            } else if arg.kind() == "comment" {
                continue;
            } else {
                positional += 1;
                if positional != 1 {
                    continue;
                }
                (kind, arg)
            };
            if let Some(val) = self.eval(value, env, 0) {
                self.consume(target_kind, call, value, val);
            }
        }
    }

    fn consume(&mut self, kind: ConsumerKind, node: Node<'t>, arg: Node<'t>, val: Val) {
        if !self.seen_consumers.insert((node.id(), arg.id())) {
            return;
        }
        let input = match val {
            Val::Pipeline(id) => Input::Pipeline(id),
            Val::Generator => Input::Generator,
            Val::PyDataset => Input::PyDataset,
        };
        self.flow.consumers.push(Consumer {
            kind,
            node,
            arg,
            input,
        });
    }

    /// What an expression denotes, if it is a pipeline, generator or PyDataset.
    fn eval(&mut self, node: Node<'t>, env: &Env, depth: usize) -> Option<Val> {
        if depth > MAX_DEPTH {
            return None;
        }
        match node.kind() {
            "identifier" => env.names.get(self.text(node)).copied(),
            "parenthesized_expression" => self.eval(node.named_child(0)?, env, depth + 1),
            "generator_expression" => Some(Val::Generator),
            "call" => {
                if let Some(&id) = self.flow.by_call.get(&node.id()) {
                    return Some(Val::Pipeline(id));
                }
                self.eval_call(node, env, depth)
            }
            _ => None,
        }
    }

    fn eval_call(&mut self, call: Node<'t>, env: &Env, depth: usize) -> Option<Val> {
        let func = call.child_by_field_name("function")?;
        if func.kind() == "attribute"
            && let (Some(object), Some(method)) = (
                func.child_by_field_name("object"),
                func.child_by_field_name("attribute"),
            )
            && let Some(Val::Pipeline(parent)) = self.eval(object, env, depth + 1)
        {
            if !TRANSFORMS.contains(&self.text(method)) {
                return None;
            }
            let (source, source_call) = self.flow.source(parent);
            let id = self.push_value(Value {
                parent: Some(parent),
                source,
                source_call,
                step: Some(Step {
                    call,
                    method_node: method,
                }),
            });
            self.flow.by_call.insert(call.id(), id);
            return Some(Val::Pipeline(id));
        }
        if let Some(kind) = self.source_kind(call) {
            let id = self.push_value(Value {
                parent: None,
                source: kind,
                source_call: call,
                step: None,
            });
            self.flow.by_call.insert(call.id(), id);
            return Some(Val::Pipeline(id));
        }
        if func.kind() == "identifier" {
            let name = self.text(func);
            if env.names.contains_key(name) {
                return None;
            }
            if let Some(&returned) = self.returns.get(name) {
                // The helper's returned pipeline, seen through an alias value.
                let (source, source_call) = self.flow.source(returned);
                let id = self.push_value(Value {
                    parent: Some(returned),
                    source,
                    source_call,
                    step: None,
                });
                self.flow.by_call.insert(call.id(), id);
                return Some(Val::Pipeline(id));
            }
            if self.generator_functions.iter().any(|g| g == name) {
                return Some(Val::Generator);
            }
            if self.py_dataset_classes.iter().any(|c| c == name) {
                return Some(Val::PyDataset);
            }
        }
        None
    }

    fn push_value(&mut self, value: Value<'t>) -> ValueId {
        self.flow.values.push(value);
        self.flow.values.len() - 1
    }

    /// Whether a call constructs a tf.data pipeline, and of which kind.
    fn source_kind(&self, call: Node<'t>) -> Option<SourceKind> {
        let func = call.child_by_field_name("function")?;
        let path = self.imports.resolve(self.source, func)?;
        if let Some(rest) = path.strip_prefix("tensorflow.data.") {
            return TF_DATA_SOURCES
                .contains(&rest)
                .then_some(SourceKind::TfData);
        }
        if let Some(rest) = path
            .strip_prefix("tensorflow.compat.v2.data.")
            .or_else(|| path.strip_prefix("tensorflow.compat.v1.data."))
        {
            return TF_DATA_SOURCES
                .contains(&rest)
                .then_some(SourceKind::TfData);
        }
        if path == "tensorflow_datasets.load" {
            return Some(SourceKind::Tfds);
        }
        if let Some(symbol) = keras_symbol_from_path(&path) {
            let name = symbol.name();
            let is_utils = matches!(symbol.module(), "utils" | "preprocessing");
            if is_utils && name.contains("_dataset_from_") {
                return Some(SourceKind::KerasUtils);
            }
        }
        None
    }
}

/// `enumerate(ds)` -> `ds`.
fn unwrap_enumerate<'t>(source: &str, node: Node<'t>) -> Option<Node<'t>> {
    if node.kind() != "call" {
        return None;
    }
    let func = node.child_by_field_name("function")?;
    if func.kind() != "identifier" || text(source, func) != "enumerate" {
        return None;
    }
    node.child_by_field_name("arguments")?.named_child(0)
}

fn contains_yield(body: Node) -> bool {
    let mut stack = vec![(body, 0usize)];
    while let Some((node, depth)) = stack.pop() {
        if node.kind() == "yield" {
            return true;
        }
        if depth > MAX_DEPTH
            || matches!(
                node.kind(),
                "function_definition" | "class_definition" | "lambda"
            )
        {
            continue;
        }
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            stack.push((child, depth + 1));
        }
    }
    false
}

fn is_statement_container(kind: &str) -> bool {
    matches!(
        kind,
        "module"
            | "block"
            | "if_statement"
            | "elif_clause"
            | "else_clause"
            | "for_statement"
            | "while_statement"
            | "try_statement"
            | "except_clause"
            | "finally_clause"
            | "with_statement"
            | "function_definition"
            | "class_definition"
            | "decorated_definition"
            | "match_statement"
            | "case_clause"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::parse;

    fn consumed_chains(src: &str) -> Vec<(ConsumerKind, Vec<String>)> {
        let tree = parse(src, None);
        let imports = Imports::collect(src, &tree);
        let flow = build(src, tree.root_node(), &imports);
        flow.consumers()
            .iter()
            .filter_map(|c| match c.input {
                Input::Pipeline(id) => Some((
                    c.kind,
                    flow.chain(id)
                        .iter()
                        .map(|s| s.method(src).to_string())
                        .collect(),
                )),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn follows_reassignments_into_fit() {
        let src = "import tensorflow as tf\nds = tf.data.Dataset.from_tensor_slices(x)\nds = ds.map(f)\nds = ds.batch(32)\nmodel.fit(ds, validation_data=ds.take(2))\n";
        assert_eq!(
            consumed_chains(src),
            vec![
                (
                    ConsumerKind::Fit,
                    vec!["map".to_string(), "batch".to_string()]
                ),
                (
                    ConsumerKind::ValidationData,
                    vec!["map".into(), "batch".into(), "take".into()]
                ),
            ]
        );
    }

    #[test]
    fn pandas_and_builtin_map_are_not_pipelines() {
        let src = "import pandas as pd\nimport tensorflow as tf\ndf = pd.read_csv('a')\ns = df['a'].map(str)\nm = map(int, s)\nmodel.fit(s)\nfor v in m:\n    pass\n";
        assert!(consumed_chains(src).is_empty());
    }

    #[test]
    fn helper_functions_and_loops() {
        let src = "import tensorflow as tf\ndef make():\n    ds = tf.data.TFRecordDataset(files)\n    return ds.batch(8).prefetch(2)\ndef main():\n    train = make()\n    for step, batch in enumerate(train):\n        pass\n";
        assert_eq!(
            consumed_chains(src),
            vec![(
                ConsumerKind::ForLoop,
                vec!["batch".to_string(), "prefetch".to_string()]
            )]
        );
    }
}

//! tf.data dataflow: follows datasets through assignments and chains to where they are consumed.
//!
//! Only values that come from tf.data (Dataset constructors, TFRecordDataset, `list_files`,
//! `keras.utils.*_dataset_from_*`, `tfds.load`) are pipelines; pandas `.map` or builtin `map`
//! never are. The analysis is flow-insensitive inside branches (a later assignment wins) and
//! follows helper functions of the same file: ones that return a pipeline, and ones that take a
//! pipeline as a parameter (`def prepare(ds): return ds.batch(32)`, `ds.apply(prepare)`,
//! `def train(ds): model.fit(ds)`), whose steps and consumers are replayed at each call site.
//! It also records what the fixes of tf.data rules need: `tf.data.Options` that disable
//! optimisations, the file's own `AUTOTUNE` spelling, and the text layout of each step.

mod definitions;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::ops::Range;
use std::rc::Rc;
use std::sync::Arc;

use tree_sitter::Node;

use super::Context;
use super::call::line_indent;
use super::imports::{Imports, keras_symbol_from_path, text};
use super::occurrences::Occurrences;
use super::units::{Key, KeyHash, Read};
use crate::finding::Edit;
use crate::forest::Forest;
use crate::syntax::NodeExt;
use definitions::TreeDefinitions;

/// Where a pipeline starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A tf.data constructor (`Dataset.from_tensor_slices`, `TFRecordDataset`, ...).
    TfData,
    /// `keras.utils.*_dataset_from_*`: already ends in `.prefetch(AUTOTUNE)`.
    KerasUtils,
    /// `tfds.load(...)`: also ends in a prefetch (TFDS `ReadConfig.skip_prefetch=False`).
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
        self.call.field("arguments")
    }

    /// The receiver expression (`ds` in `ds.map(f)`).
    pub fn receiver(&self) -> Option<Node<'t>> {
        self.call.field("function").and_then(|f| f.field("object"))
    }

    /// Byte offset of the `.` before the method name.
    pub fn dot_start(&self) -> usize {
        let Some(function) = self.call.field("function") else {
            return self.method_node.start_byte();
        };
        let mut cursor = function.walk();
        let dot = function
            .children(&mut cursor)
            .find(|c| c.kind_name() == ".")
            .map(|d| d.start_byte());
        dot.unwrap_or(self.method_node.start_byte())
    }

    /// The text this step adds to its receiver: `.method(args)`.
    pub fn core(&self) -> Range<usize> {
        self.dot_start()..self.call.end_byte()
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
    /// `Some(i)`: derived from parameter `i` of a helper function: a template that is replayed
    /// onto the real pipeline at each call site, never a pipeline of its own.
    param: Option<usize>,
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

/// tf.data optimisations a pipeline's `with_options(...)` turns off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DisabledOptimizations {
    /// `inject_prefetch = False` or `apply_default_optimizations = False`: no automatic prefetch.
    pub prefetch_injection: bool,
    /// `map_parallelization = False` or `apply_default_optimizations = False`: stateless maps
    /// stay sequential.
    pub map_parallelization: bool,
}

impl DisabledOptimizations {
    fn union(self, other: DisabledOptimizations) -> DisabledOptimizations {
        DisabledOptimizations {
            prefetch_injection: self.prefetch_injection || other.prefetch_injection,
            map_parallelization: self.map_parallelization || other.map_parallelization,
        }
    }
}

/// The result of the dataflow pass over one file.
#[derive(Debug, Default)]
pub struct Dataflow<'t> {
    values: Vec<Value<'t>>,
    consumers: Vec<Consumer<'t>>,
    /// Call node id -> the call and the pipeline values it produces (a helper's step: one per
    /// call site).
    by_call: HashMap<usize, (Node<'t>, Vec<ValueId>)>,
    /// Functions of this file by name (module-level ones win over methods).
    functions: HashMap<String, Node<'t>>,
    /// The forest the flow was built from, and what each of its trees defines, by the tree's
    /// start: `name = value` statements are found in them when a rule asks for a name.
    forest: Option<&'t Forest>,
    definitions: Vec<(usize, Arc<TreeDefinitions>)>,
    /// `options.experimental_optimization.<opt> = False`: options variable -> what it disables.
    options: HashMap<String, DisabledOptimizations>,
    /// Module-level names bound to `tf.data.AUTOTUNE` (or `-1`), with the statement's offset.
    autotune_names: Vec<(String, usize)>,
    /// How the file's pipelines already spell the autotune constant (`tf.data.experimental.AUTOTUNE`).
    autotune_spelling: Option<String>,
    /// See [`Dataflow::vocabulary`].
    vocabulary: Option<Vec<String>>,
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

    /// The values of a chain from its source to `id` that carry a step, in application order
    /// (parallel to `chain(id)`).
    pub fn chain_values(&self, id: ValueId) -> Vec<ValueId> {
        let mut ids = Vec::new();
        let mut current = Some(id);
        while let Some(i) = current {
            if self.values[i].step.is_some() {
                ids.push(i);
            }
            current = self.values[i].parent;
            if ids.len() > 100_000 {
                break;
            }
        }
        ids.reverse();
        ids
    }

    pub fn source(&self, id: ValueId) -> (SourceKind, Node<'t>) {
        let value = &self.values[id];
        (value.source, value.source_call)
    }

    /// Every distinct transformation seen on any pipeline, with the (first) value it produced.
    pub fn steps(&self) -> impl Iterator<Item = (ValueId, Step<'t>)> + '_ {
        let mut seen = HashSet::default();
        self.values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.param.is_none())
            .filter_map(|(i, v)| v.step.map(|s| (i, s)))
            .filter(move |(_, s)| seen.insert(s.call.id()))
    }

    /// The value a call node produces, if it is a pipeline step or source.
    pub fn value_of_call(&self, call: Node) -> Option<ValueId> {
        self.values_of_call(call).first().copied()
    }

    /// Every value a call node produces: a step inside a helper function produces one per
    /// call site of the helper.
    pub fn values_of_call(&self, call: Node) -> &[ValueId] {
        self.by_call
            .get(&call.id())
            .map_or(&[], |(_, ids)| ids.as_slice())
    }

    /// The value this one was derived from (its receiver).
    pub fn parent(&self, id: ValueId) -> Option<ValueId> {
        self.values[id].parent
    }

    /// The step that produced this value, if any (sources and aliases have none).
    pub fn step(&self, id: ValueId) -> Option<Step<'t>> {
        self.values[id].step
    }

    /// The optimisations that the `with_options(...)` steps of this pipeline turn off.
    pub fn disabled_optimizations(&self, source: &str, id: ValueId) -> DisabledOptimizations {
        let mut disabled = DisabledOptimizations::default();
        for step in self.chain(id) {
            if step.method(source) != "with_options" {
                continue;
            }
            let Some(arg) = step.arguments().and_then(|a| a.named_child(0)) else {
                continue;
            };
            if let Some(&options) = self.options.get(text(source, arg)) {
                disabled = disabled.union(options);
            }
        }
        disabled
    }

    /// Whether some pipeline derived from `id` (in any later chain) has a step that satisfies
    /// `pred`, with no step satisfying `barrier` between `id` and it.
    pub fn later_step(
        &self,
        id: ValueId,
        mut pred: impl FnMut(&Step<'t>) -> bool,
        mut barrier: impl FnMut(&Step<'t>) -> bool,
    ) -> bool {
        self.values.iter().enumerate().any(|(index, value)| {
            if value.param.is_some() || index == id || !value.step.is_some_and(|s| pred(&s)) {
                return false;
            }
            let mut current = value.parent;
            let mut guard = 0;
            while let Some(parent) = current {
                if parent == id {
                    return true;
                }
                if self.values[parent].step.is_some_and(|s| barrier(&s)) {
                    return false;
                }
                current = self.values[parent].parent;
                guard += 1;
                if guard > 100_000 {
                    break;
                }
            }
            false
        })
    }

    /// The steps from `ancestor` (excluded) to `id` (included) when `id` derives from
    /// `ancestor`.
    pub fn steps_between(&self, ancestor: ValueId, id: ValueId) -> Option<Vec<Step<'t>>> {
        let mut steps = Vec::new();
        let mut current = Some(id);
        while let Some(i) = current {
            if i == ancestor {
                steps.reverse();
                return Some(steps);
            }
            if let Some(step) = self.values[i].step {
                steps.push(step);
            }
            current = self.values[i].parent;
            if steps.len() > 100_000 {
                break;
            }
        }
        None
    }

    /// A function of this file by name. Recorded as a read of every `def` of that name: the
    /// functions and assignments are looked up by name, outside [`Dataflow::signature`].
    pub fn function(&self, ctx: &Context, name: &str) -> Option<Node<'t>> {
        ctx.record(Read::everywhere(Key::Def(name.into())));
        self.functions.get(name).copied()
    }

    /// The right-hand sides of every `name = ...` statement of the file (recorded as a read of
    /// the assignments of the name everywhere).
    pub fn assigned_values(&self, ctx: &Context, name: &str) -> Vec<Node<'t>> {
        ctx.record(Read::everywhere(Key::Assign(name.into())));
        let mut values = Vec::new();
        if let Some(forest) = self.forest {
            for (start, definitions) in &self.definitions {
                if definitions.assigns(name) {
                    definitions.assigned_values(forest.root_at(*start), name, &mut values);
                }
            }
        }
        values
    }

    /// The function a `map`/`interleave`/`filter` step applies when it can be seen: a lambda,
    /// a function of this file (also as `self.f` or `functools.partial(f, ...)`).
    pub fn mapped_function(&self, ctx: &Context, step: &Step<'t>) -> Option<Node<'t>> {
        let source = ctx.source;
        let args = step.arguments()?;
        let mut cursor = args.walk();
        let first = args.named_children(&mut cursor).find(|a| {
            a.kind_name() != "comment"
                && (a.kind_name() != "keyword_argument"
                    || a.field("name")
                        .is_some_and(|n| text(source, n) == "map_func"))
        })?;
        let mut func = if first.kind_name() == "keyword_argument" {
            first.field("value")?
        } else {
            first
        };
        for _ in 0..4 {
            match func.kind_name() {
                "lambda" => return Some(func),
                "identifier" => return self.function(ctx, text(source, func)),
                "attribute" => {
                    let object = func.field("object")?;
                    if !matches!(text(source, object), "self" | "cls") {
                        return None;
                    }
                    return self.function(ctx, text(source, func.field("attribute")?));
                }
                "call" => {
                    // `functools.partial(f, ...)`.
                    let callee = func.field("function")?;
                    if !text(source, callee).ends_with("partial") {
                        return None;
                    }
                    func = func.field("arguments")?.named_child(0)?;
                }
                "parenthesized_expression" => func = func.named_child(0)?,
                _ => return None,
            }
        }
        None
    }

    /// Whether `pred` holds for any node inside a function (lambda or `def`, its decorators
    /// included), following calls of this file's functions a few levels deep (`self.f(...)`
    /// included).
    pub fn function_uses(
        &self,
        ctx: &Context,
        function: Node<'t>,
        pred: &mut dyn FnMut(Node<'t>) -> bool,
    ) -> bool {
        const MAX_FUNCTIONS: usize = 16;
        const MAX_NODES: usize = 200_000;
        let mut visited: Vec<usize> = vec![function.id()];
        let mut stack: Vec<Node<'t>> = Vec::new();
        push_function(&mut stack, function);
        let mut budget = MAX_NODES;
        while let Some(node) = stack.pop() {
            budget = budget.saturating_sub(1);
            if budget == 0 {
                return false;
            }
            if pred(node) {
                return true;
            }
            if node.kind_name() == "class_definition" {
                continue;
            }
            if node.kind_name() == "call"
                && visited.len() < MAX_FUNCTIONS
                && let Some(callee) = self.called_function(ctx, node)
                && !visited.contains(&callee.id())
            {
                visited.push(callee.id());
                push_function(&mut stack, callee);
            }
            let mut cursor = node.walk();
            stack.extend(node.named_children(&mut cursor));
        }
        false
    }

    /// The function of this file a call invokes (`f(...)`, `self.f(...)`).
    fn called_function(&self, ctx: &Context, call: Node<'t>) -> Option<Node<'t>> {
        let source = ctx.source;
        let callee = call.field("function")?;
        match callee.kind_name() {
            "identifier" => self.function(ctx, text(source, callee)),
            "attribute" => {
                let object = callee.field("object")?;
                if !matches!(text(source, object), "self" | "cls") {
                    return None;
                }
                self.function(ctx, text(source, callee.field("attribute")?))
            }
            _ => None,
        }
    }
}

/// One consumer as [`Context::consumers_at`](super::Context::consumers_at) tells it: the unit
/// holding its node and the node's offset in it, and a hash of the rest (the node's end and
/// kind, its kind, its argument and its kind of input).
pub type ConsumerMark = (u64, usize, u64);

/// Builds a [`Dataflow::signature`]: nodes as (unit, offsets in the unit, kind), strings by
/// their bytes.
struct Signature<'u> {
    unit_of: &'u dyn Fn(usize) -> (u64, usize),
    words: Vec<u64>,
}

impl Signature<'_> {
    fn node(&mut self, node: Node) {
        let (unit, start) = (self.unit_of)(node.start_byte());
        self.words.extend([
            unit,
            (node.start_byte() - start) as u64,
            (node.end_byte() - start) as u64,
            u64::from(node.kind_id()),
        ]);
    }

    fn offset(&mut self, offset: usize) {
        let (unit, start) = (self.unit_of)(offset);
        self.words.extend([unit, (offset - start) as u64]);
    }

    fn str(&mut self, s: &str) {
        self.words.push(s.len() as u64);
        self.words.extend(s.as_bytes().chunks(8).map(|chunk| {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            u64::from_le_bytes(word)
        }));
    }
}

impl Dataflow<'_> {
    /// Names whose absence as bare identifiers from a top-level statement (before and after an
    /// edit) proves the statement neither holds nor affects any of the dataflow, given it also
    /// holds no [`Summary::flow_syntax`](super::units::Summary::flow_syntax) (or only inert
    /// definitions or imports), no source call ([`source_kind_of`]) and no
    /// [`OPTION_ATTRIBUTES`] in any position. They are the functions whose call gives something
    /// whatever it is passed (returns a real pipeline, or may be a generator), PyDataset classes,
    /// names a module-level statement bound to a pipeline/generator/PyDataset, and imported
    /// names of `AUTOTUNE`.
    ///
    /// Without them a statement can produce no source, step, consumer, binding, option or
    /// autotune alias: the dataflow reads imports only to find sources, `AUTOTUNE` and PyDataset
    /// bases; values flow through bound names and function calls (by bare name), generators
    /// through functions or generator expressions; what a function does with a parameter
    /// reaches a call site only through a pipeline passed there; attribute and keyword names
    /// matter only next to such a value. A name bound only inside functions matters only inside them, and
    /// a statement holding such a function holds the binding's value too. `None` under star
    /// imports.
    pub fn vocabulary(&self) -> Option<&[String]> {
        self.vocabulary.as_deref()
    }

    /// Each consumer as [`ConsumerMark`]s (sorted), `unit_of` as for [`Dataflow::signature`]:
    /// where two builds' marks differ, [`Context::consumers_at`](super::Context::consumers_at)
    /// answers differently.
    pub fn consumer_marks(&self, unit_of: &dyn Fn(usize) -> (u64, usize)) -> Vec<ConsumerMark> {
        use std::hash::BuildHasher;
        let mut marks: Vec<ConsumerMark> = self
            .consumers
            .iter()
            .map(|consumer| {
                let mut sig = Signature {
                    unit_of,
                    words: Vec::with_capacity(12),
                };
                sig.node(consumer.node);
                sig.node(consumer.arg);
                sig.words.extend([
                    consumer.kind as u64,
                    match consumer.input {
                        Input::Pipeline(_) => 0,
                        Input::Generator => 1,
                        Input::PyDataset => 2,
                    },
                ]);
                let (unit, offset) = (sig.words[0], sig.words[1] as usize);
                (unit, offset, rustc_hash::FxBuildHasher.hash_one(&sig.words))
            })
            .collect();
        marks.sort_unstable();
        marks
    }

    /// Everything the dataflow tells its readers, free of absolute positions, for an
    /// incremental analysis to tell whether an edit changed it: equal signatures mean equal
    /// values, steps, consumers, options and autotune names, at the same places of the same
    /// (unchanged) top-level statements. `unit_of(offset)` names the top-level statement holding
    /// `offset` (an id that changes whenever its text does) and gives its start. The functions
    /// and assignments are not in it: their lookups record reads by name instead.
    pub fn signature(&self, unit_of: &dyn Fn(usize) -> (u64, usize)) -> Vec<u64> {
        let mut sig = Signature {
            unit_of,
            words: Vec::new(),
        };
        // Values readers can reach: real ones (templates of helper parameters are only replayed
        // at call sites, so an edit to a helper that builds no pipeline leaves this unchanged),
        // and whatever those or a consumer derive from. Ids are renumbered over these.
        let mut reachable = vec![false; self.values.len()];
        let mut stack: Vec<ValueId> = (0..self.values.len())
            .filter(|&i| self.values[i].param.is_none())
            .chain(self.consumers.iter().filter_map(|c| match c.input {
                Input::Pipeline(id) => Some(id),
                _ => None,
            }))
            .collect();
        while let Some(id) = stack.pop() {
            if id < reachable.len() && !reachable[id] {
                reachable[id] = true;
                stack.extend(self.values[id].parent);
            }
        }
        let mut number = vec![u64::MAX; self.values.len()];
        let mut next = 0u64;
        for (i, &r) in reachable.iter().enumerate() {
            if r {
                number[i] = next;
                next += 1;
            }
        }
        let id_word = |id: ValueId| number.get(id).copied().unwrap_or(u64::MAX - 1);
        sig.words.push(next);
        for (value, _) in self.values.iter().zip(&reachable).filter(|(_, r)| **r) {
            sig.words.extend([
                value.parent.map_or(u64::MAX, id_word),
                value.source as u64,
                value.param.map_or(u64::MAX, |p| p as u64),
            ]);
            sig.node(value.source_call);
            match value.step {
                Some(step) => {
                    sig.node(step.call);
                    sig.node(step.method_node);
                }
                None => sig.words.push(u64::MAX),
            }
        }
        sig.words.push(self.consumers.len() as u64);
        for consumer in &self.consumers {
            sig.words.push(consumer.kind as u64);
            sig.node(consumer.node);
            sig.node(consumer.arg);
            sig.words.extend(match consumer.input {
                Input::Pipeline(id) => [0, id_word(id)],
                Input::Generator => [1, 0],
                Input::PyDataset => [2, 0],
            });
        }
        let mut calls: Vec<&(Node, Vec<ValueId>)> = self.by_call.values().collect();
        calls
            .sort_unstable_by_key(|(call, _)| (call.start_byte(), call.end_byte(), call.kind_id()));
        sig.words.push(calls.len() as u64);
        for (call, ids) in calls {
            sig.node(*call);
            sig.words.push(ids.len() as u64);
            sig.words.extend(ids.iter().map(|&id| id_word(id)));
        }
        let mut options: Vec<(&String, &DisabledOptimizations)> = self.options.iter().collect();
        options.sort_unstable_by_key(|(name, _)| *name);
        sig.words.push(options.len() as u64);
        for (name, disabled) in options {
            sig.str(name);
            sig.words.extend([
                u64::from(disabled.prefetch_injection),
                u64::from(disabled.map_parallelization),
            ]);
        }
        sig.words.push(self.autotune_names.len() as u64);
        for (name, offset) in &self.autotune_names {
            sig.str(name);
            sig.offset(*offset);
        }
        match &self.autotune_spelling {
            Some(spelling) => sig.str(spelling),
            None => sig.words.push(u64::MAX),
        }
        sig.words
    }
}

/// Pushes a function's body and its decorators (`@tf.py_function(Tout=...)`).
fn push_function<'t>(stack: &mut Vec<Node<'t>>, function: Node<'t>) {
    stack.extend(function.field("body"));
    if let Some(decorated) = function
        .parent()
        .filter(|p| p.kind_name() == "decorated_definition")
    {
        let mut cursor = decorated.walk();
        stack.extend(
            decorated
                .named_children(&mut cursor)
                .filter(|c| c.kind_name() == "decorator"),
        );
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

/// Methods that group elements into batches.
pub const BATCHING: &[&str] = &[
    "batch",
    "padded_batch",
    "ragged_batch",
    "sparse_batch",
    "bucket_by_sequence_length",
    "rebatch",
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

/// Whether a canonical path names the tf.data autotune constant.
pub fn is_autotune_path(path: &str) -> bool {
    path.starts_with("tensorflow")
        && (path.ends_with(".data.AUTOTUNE") || path.ends_with(".data.experimental.AUTOTUNE"))
}

/// An expression for `tf.data.AUTOTUNE` usable at byte `at`, in the file's own spelling: a
/// module-level `AUTOTUNE = tf.data.AUTOTUNE` defined before it (or any, inside a function),
/// else how the file's pipelines already spell it, else the file's name for tensorflow (with an
/// `import tensorflow as tf` edit only when no name for it exists).
pub fn autotune_expr(ctx: &Context, at: usize) -> (String, Option<Edit>) {
    let flow = ctx.dataflow();
    let in_function = inside_function(ctx.forest.root_at(at), at);
    if let Some((name, _)) = flow
        .autotune_names
        .iter()
        .find(|(_, defined)| in_function || *defined < at)
    {
        return (name.clone(), None);
    }
    if let Some(spelling) = &flow.autotune_spelling {
        return (spelling.clone(), None);
    }
    ctx.expr_or_import(
        "tensorflow.data.AUTOTUNE",
        "import tensorflow as tf",
        "tf",
        "data.AUTOTUNE",
    )
}

/// Whether byte `at` lies inside a `def` (descends from the root along the nodes holding it).
fn inside_function(root: Node, at: usize) -> bool {
    let mut cursor = root.walk();
    loop {
        let node = cursor.node();
        if node.kind_name() == "function_definition" && node.byte_range().contains(&at) {
            return true;
        }
        if cursor.goto_first_child_for_byte(at).is_none() || cursor.node().start_byte() > at {
            return false;
        }
    }
}

/// The first autotune constant passed to a pipeline step, as written.
fn autotune_spelling(source: &str, imports: &Imports, flow: &Dataflow) -> Option<String> {
    for (_, step) in flow.steps() {
        let Some(args) = step.arguments() else {
            continue;
        };
        let mut cursor = args.walk();
        for arg in args.named_children(&mut cursor) {
            let value = if arg.kind_name() == "keyword_argument" {
                arg.field("value")
            } else {
                Some(arg)
            };
            if let Some(value) = value
                && matches!(value.kind_name(), "attribute" | "identifier")
                && imports
                    .resolve(source, value)
                    .is_some_and(|p| is_autotune_path(&p))
            {
                return Some(text(source, value).to_string());
            }
        }
    }
    None
}

/// The statement (child of a block or the module) that contains `node`. Descends from the root
/// with a cursor: `Node::parent` costs the node's depth, so walking up would be quadratic.
pub fn statement_of<'t>(forest: &'t Forest, node: Node<'t>) -> Node<'t> {
    let root = forest.root_at(node.start_byte());
    let mut cursor = root.walk();
    let mut statement = node;
    let mut in_block = true;
    for _ in 0..1_000_000 {
        let current = cursor.node();
        if in_block && current.id() != root.id() {
            statement = current;
        }
        if current.id() == node.id() {
            break;
        }
        in_block = matches!(current.kind_name(), "block" | "module");
        if cursor
            .goto_first_child_for_byte(node.start_byte())
            .is_none()
        {
            break;
        }
        while cursor.node().end_byte() < node.end_byte()
            || cursor.node().start_byte() > node.start_byte()
        {
            if !cursor.goto_next_sibling() {
                return statement;
            }
        }
    }
    statement
}

/// The block a statement sits in (`usize::MAX` for the module: every root of the forest),
/// found from the root like `statement_of`.
fn block_of<'t>(forest: &'t Forest, node: Node<'t>) -> Option<usize> {
    let statement = statement_of(forest, node);
    let root = forest.root_at(node.start_byte());
    let mut cursor = root.walk();
    let mut block = None;
    for _ in 0..1_000_000 {
        let current = cursor.node();
        if current.id() == statement.id() {
            return block;
        }
        match current.kind_name() {
            "block" => block = Some(current.id()),
            "module" => block = Some(usize::MAX),
            _ => {}
        }
        cursor.goto_first_child_for_byte(statement.start_byte())?;
        while cursor.node().end_byte() < statement.end_byte()
            || cursor.node().start_byte() > statement.start_byte()
        {
            if !cursor.goto_next_sibling() {
                return None;
            }
        }
    }
    None
}

/// `expr` without enclosing parentheses.
pub fn unparenthesized(expr: Node) -> Node {
    let mut current = expr;
    while current.kind_name() == "parenthesized_expression" {
        match current.named_child(0) {
            Some(inner) => current = inner,
            None => break,
        }
    }
    current
}

/// How a multi-line chain separates `step` from its receiver: `""` when it is inline, else the
/// line break (after a ` \` when the chain uses continuations) and the indentation of its line.
pub fn chain_separator(source: &str, step: &Step) -> String {
    let Some(receiver) = step.receiver() else {
        return String::new();
    };
    let dot = step.dot_start();
    let gap = source.get(receiver.end_byte()..dot).unwrap_or("");
    let Some(last_newline) = gap.rfind('\n') else {
        return String::new();
    };
    let newline = if gap.contains("\r\n") { "\r\n" } else { "\n" };
    let indent = line_indent(source, dot);
    let before = gap[..last_newline].trim_end_matches(['\r', ' ', '\t']);
    if before.ends_with('\\') {
        format!(" \\{newline}{indent}")
    } else {
        format!("{newline}{indent}")
    }
}

/// Inserts `core` (e.g. `.prefetch(AUTOTUNE)`) right after `call`, on its own line when `call`
/// is a step that starts its own line of a multi-line chain (after a comment ending that line).
pub fn append_to_call(source: &str, call: Node, step: Option<&Step>, core: &str) -> Edit {
    let separator = step.map(|s| chain_separator(source, s)).unwrap_or_default();
    let end = call.end_byte();
    if separator.starts_with(['\r', '\n']) {
        let line_end = source[end..].find('\n').map_or(source.len(), |i| end + i);
        let line_end = if source[..line_end].ends_with('\r') {
            line_end - 1
        } else {
            line_end
        };
        if source[end..line_end].trim_start().starts_with('#') {
            return Edit::insert(line_end, format!("{separator}{core}"));
        }
    }
    Edit::insert(end, format!("{separator}{core}"))
}

/// Inserts `core` (e.g. `.cache()`) just before `step`, keeping the chain's layout.
pub fn insert_before_step(source: &str, step: &Step, core: &str) -> Edit {
    let separator = chain_separator(source, step);
    Edit::insert(step.dot_start(), format!("{core}{separator}"))
}

/// Removes `step` from its chain: the whole statement when it is `name = name.step(...)`
/// alone on its line, else the `.step(...)` text with the line break before it.
pub fn remove_step(source: &str, step: &Step) -> Edit {
    if let Some(edit) = remove_step_statement(source, step) {
        return edit;
    }
    let Some(receiver) = step.receiver() else {
        return Edit::delete(step.core());
    };
    let floor = receiver.end_byte();
    let dot = step.dot_start();
    let end = step.call.end_byte();
    // `    .cache()  # note` alone on a line of a bracketed chain: delete the line.
    let line_start = source[..dot].rfind('\n').map_or(0, |i| i + 1);
    if line_start > floor && source[line_start..dot].trim().is_empty() {
        let line_end = source[end..]
            .find('\n')
            .map_or(source.len(), |i| end + i + 1);
        let tail = source[end..line_end].trim();
        let continued = source[..line_start].trim_end().ends_with('\\');
        if (tail.is_empty() || tail.starts_with('#')) && !continued {
            return Edit::delete(line_start..line_end);
        }
    }
    let bytes = source.as_bytes();
    let mut start = dot;
    while start > floor && matches!(bytes[start - 1], b' ' | b'\t' | b'\r' | b'\n' | b'\\') {
        start -= 1;
    }
    Edit::delete(start..step.call.end_byte())
}

fn remove_step_statement(source: &str, step: &Step) -> Option<Edit> {
    let assignment = step.call.parent()?;
    if assignment.kind_name() != "assignment" {
        return None;
    }
    let statement = assignment.parent()?;
    if statement.kind_name() != "expression_statement" {
        return None;
    }
    let (left, receiver) = (assignment.field("left")?, unparenthesized(step.receiver()?));
    let right = assignment.field("right")?;
    if right.id() != step.call.id()
        || left.kind_name() != "identifier"
        || receiver.kind_name() != "identifier"
        || text(source, left) != text(source, receiver)
    {
        return None;
    }
    // Alone in its block's statement list would leave the block empty (an empty module is
    // fine, and a tree of the forest holds one top-level statement).
    let block = statement.parent()?;
    if block.kind_name() != "module" && block.named_child_count() < 2 {
        return None;
    }
    let line_start = source[..statement.start_byte()]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    if !source[line_start..statement.start_byte()].trim().is_empty() {
        return None;
    }
    let rest = &source[statement.end_byte()..];
    let line_end = rest
        .find('\n')
        .map_or(source.len(), |i| statement.end_byte() + i + 1);
    let tail = source[statement.end_byte()..line_end].trim();
    if !(tail.is_empty() || tail.starts_with('#')) {
        return None;
    }
    Some(Edit::delete(line_start..line_end))
}

/// Whether the statements holding these steps all sit in one block, so that moving text
/// between them keeps the control flow (no step in a helper function or in a branch of its own).
pub fn in_one_block(forest: &Forest, steps: &[Step]) -> bool {
    let mut blocks = steps.iter().map(|s| block_of(forest, s.call));
    let Some(first) = blocks.next() else {
        return true;
    };
    first.is_some() && blocks.all(|b| b == first)
}

/// In `chain` (ending with the step being checked), the index of the earliest step before the
/// last one that satisfies `pred`, looking back only to the previous step named in `stop` (e.g.
/// the first `shuffle` since the previous `cache` or `take`).
pub fn earliest_since<'t>(
    chain: &[Step<'t>],
    source: &str,
    stop: &[&str],
    mut pred: impl FnMut(&Step<'t>) -> bool,
) -> Option<usize> {
    let (_, earlier) = chain.split_last()?;
    let mut found = None;
    for (index, step) in earlier.iter().enumerate().rev() {
        if stop.contains(&step.method(source)) {
            break;
        }
        if pred(step) {
            found = Some(index);
        }
    }
    found
}

/// Edits that move `moved` (e.g. `.cache()`) to just before `target`, an earlier step of the
/// same chain.
pub fn move_step_before(source: &str, target: &Step, moved: &Step) -> Vec<Edit> {
    let core = source.get(moved.core()).unwrap_or("");
    vec![
        insert_before_step(source, target, core),
        remove_step(source, moved),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Val {
    Pipeline(ValueId),
    Generator,
    PyDataset,
}

/// What a function returns, in terms of real values or of its parameters.
#[derive(Debug, Clone)]
enum Returned {
    One(ValueId),
    Tuple(Vec<Option<ValueId>>),
}

/// What a call site of a function of this file needs to know about it.
#[derive(Debug, Clone, Default)]
struct Summary<'t> {
    /// Parameter names, in order.
    params: Vec<String>,
    returned: Option<Returned>,
    /// Consumers of values derived from parameters: (kind, node, arg, template value).
    consumes: Vec<(ConsumerKind, Node<'t>, Node<'t>, ValueId)>,
}

#[derive(Default, Clone)]
struct Env {
    names: HashMap<String, Val>,
}

struct Builder<'a, 't> {
    source: &'a str,
    imports: &'a Imports,
    flow: Dataflow<'t>,
    summaries: HashMap<String, Summary<'t>>,
    /// Bodies of the functions of this file by name (any depth), and which names are
    /// generator functions (a body with `yield`), found on first use.
    function_bodies: HashMap<String, Vec<Node<'t>>>,
    generator_functions: HashMap<String, bool>,
    py_dataset_classes: Vec<String>,
    functions: Vec<Node<'t>>,
    /// Call node id -> the real value it evaluated to.
    memo: HashMap<usize, ValueId>,
    /// Call node id -> the template value it evaluated to (cleared per function scope).
    template_memo: HashMap<usize, ValueId>,
    /// Consumers of templates seen in the function scope being analysed.
    template_consumes: Vec<(ConsumerKind, Node<'t>, Node<'t>, ValueId)>,
    seen_consumers: HashSet<(usize, usize, ValueId)>,
    /// Call node id -> whether it constructs a pipeline (imports only, so computed once).
    source_kinds: HashMap<&'a str, Option<SourceKind>>,
    /// (call site, template, actual value) whose consumers were already replayed.
    replayed: HashSet<(usize, ValueId, ValueId)>,
    /// Expression node id -> the calls inside it in visiting order (the passes scan the same
    /// statements several times; the walk is done once).
    calls_in: HashMap<usize, Rc<Vec<Node<'t>>>>,
    /// Every `(`: a subtree without one holds no call.
    parens: Occurrences,
    /// Ids of the functions defined at module level.
    module_functions: HashSet<usize>,
    /// Names a module-level assignment bound to a pipeline, generator or PyDataset.
    module_bound_names: HashSet<String>,
    /// Functions some analysis of which returned a real pipeline (not one derived from a
    /// parameter): their call sites get something from them whatever they pass.
    flowing_functions: HashSet<String>,
    /// Whether a function scope is being analysed (else the module is).
    in_function: bool,
    /// Ids of the functions defined in a class body: no bare name calls them, so they have no
    /// summary.
    methods: HashSet<usize>,
    /// What the function scope being analysed looked up, while one is.
    recording: Option<ScopeReads<'a>>,
    /// Function node id -> what its last analysis looked up.
    function_reads: HashMap<usize, ScopeReads<'a>>,
    /// Counts summary writes: the clock when each summary was last written.
    clock: u64,
    summary_written: HashMap<String, u64>,
    /// Function scopes analysed (skipped ones not counted).
    scope_runs: usize,
    /// Inert scopes of the previous build of this document, by [`scope_key`], and those of
    /// this build, to keep for the next. Those of a text that spells a name `rebound` finds
    /// are not reused.
    inert_before: HashMap<u64, Arc<InertScope>>,
    rebound: Rebound,
    inert_now: HashMap<u64, Arc<InertScope>>,
    /// Function scopes skipped because the previous build found them inert.
    scopes_reused: usize,
    /// Module statements analysed, and skipped because the previous build found them inert.
    statement_runs: usize,
    statements_reused: usize,
}

/// Function scopes that built nothing, kept from one build of a document's dataflow to the
/// next: most functions of a Keras file have nothing to do with tf.data, and analysing them
/// again on each keystroke was half of a build. Shared by reference; a build takes it whole.
#[derive(Default)]
pub struct ScopeCache {
    inner: std::sync::Mutex<ScopeCacheInner>,
}

#[derive(Default)]
struct ScopeCacheInner {
    /// [`Imports::resolution_fingerprint`] of the build that filled it, and its
    /// [`Imports::resolution_table`].
    imports: u64,
    table: Imports,
    scopes: HashMap<u64, Arc<InertScope>>,
    /// What each tree of the last build defines, by [`statement_key`] of its text.
    definitions: HashMap<u64, Arc<TreeDefinitions>>,
    /// Of the last build: function scopes analysed, and skipped as inert.
    last_runs: usize,
    last_reused: usize,
    /// Of the last build: module statements analysed, and skipped as inert.
    last_statement_runs: usize,
    last_statements_reused: usize,
    /// Of the last build: trees of the forest walked for their definitions, and kept.
    last_trees_walked: usize,
    last_trees_kept: usize,
}

impl ScopeCache {
    /// Of the last build that used it: the function scopes analysed, and those skipped
    /// because the build before found them inert.
    pub fn last_build(&self) -> (usize, usize) {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        (inner.last_runs, inner.last_reused)
    }

    /// Of the last build that used it: the module statements (other than `def` and `class`)
    /// analysed, and those skipped because the build before found them inert.
    pub fn last_module_statements(&self) -> (usize, usize) {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        (inner.last_statement_runs, inner.last_statements_reused)
    }

    /// Of the last build that used it: the trees of the forest walked for their definitions,
    /// and those whose definitions were kept from the build before (same text and imports).
    pub fn last_definitions(&self) -> (usize, usize) {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        (inner.last_trees_walked, inner.last_trees_kept)
    }
}

/// One analysis of a function scope that built nothing: no real pipeline, generator, PyDataset
/// or consumer, and nothing returned or consumed from its parameters. Its lookups are kept as
/// spans of the function's own text (start, length from the function's start), so they hold
/// wherever the function moved. The analysis is a function of the scope's text, the imports
/// and what those lookups found; analysed again with the same text and imports where the
/// lookups find the same (the names bound nowhere outside, the summaries empty or absent, the
/// callees no generator function or PyDataset class), it builds nothing again.
#[derive(Clone)]
struct InertScope {
    names: Vec<(u32, u32)>,
    summaries: Vec<(u32, u32)>,
    callees: Vec<(u32, u32)>,
}

/// What a function scope's analysis depends on besides its lookups: its text, and whether it
/// is a method (which writes no summary).
fn scope_key(text: &str, method: bool) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one((text, Some(method)))
}

/// [`scope_key`] of a module statement (the tree of one top-level statement): a key of its own
/// kind, as the same text analysed as a statement and as a function builds different things.
fn statement_key(text: &str) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one((text, None::<bool>))
}

/// The names the imports bind differently from those of the previous build. What the dataflow
/// reads of the imports is [`Imports::resolve`] of expressions in the text it analyses, and
/// that reads only the binding of the expression's first name: an analysis (or a walk for
/// definitions) of a text that spells none of these names, as any substring, resolves every
/// expression as it did. (Star imports may change what any name resolves to: then nothing is
/// kept, see [`build_counting`].)
#[derive(Default)]
struct Rebound(Vec<memchr::memmem::Finder<'static>>);

impl Rebound {
    fn new(names: &[String]) -> Rebound {
        Rebound(
            names
                .iter()
                .map(|name| memchr::memmem::Finder::new(name.as_bytes()).into_owned())
                .collect(),
        )
    }

    /// Whether `text` may spell one of the names.
    fn spelled_in(&self, text: &str) -> bool {
        self.0
            .iter()
            .any(|name| name.find(text.as_bytes()).is_some())
    }
}

/// The names one analysis of a function scope looked up, to tell whether analysing it again
/// could come out differently.
#[derive(Default)]
struct ScopeReads<'a> {
    /// The clock when the analysis started.
    started: u64,
    /// Whether it ran in an empty outer environment.
    empty_outer: bool,
    /// Names looked up in the environment (found or not), but for those the function scope
    /// being analysed had bound or unbound itself by then: what `outer` binds cannot reach
    /// those lookups.
    names: HashSet<&'a str>,
    /// In a function scope: its parameters and the names its assignments bound or unbound so
    /// far.
    bound_here: HashSet<&'a str>,
    /// Function names whose summary was looked up (found or not).
    summaries: HashSet<&'a str>,
    /// Whether one of those lookups found a summary that gives something (a returned
    /// pipeline or consumers): a lookup that found none, or an empty one, reads the same.
    summary_gave: bool,
    /// Names called that were checked for being a generator function or PyDataset class.
    callees: HashSet<&'a str>,
    /// Whether it met anything but templates of its parameters (a real pipeline, generator,
    /// PyDataset, a consumer, or a summary that gives something): see [`InertScope`].
    touched: bool,
}

/// The calls inside `expr` in the order the passes visit them: depth-first, last child first,
/// not entering lambdas, functions or classes, nor nodes nested deeper than [`MAX_DEPTH`].
/// They are found from the `(` that opens each call's arguments: a cursor goes down from `expr`
/// to each `(` in its text, so only the nodes on those paths are visited, not the whole
/// subtree. (A call whose `(` the parser invented while recovering from an error is no call the
/// user wrote.)
fn calls_inside<'t>(expr: Node<'t>, parens: &Occurrences) -> Vec<Node<'t>> {
    let mut calls: Vec<Node<'t>> = Vec::new();
    let mut cursor = expr.walk();
    // The nodes from `expr` down to the cursor's node (the cursor cannot go up cheaply past
    // where it started, so each descent starts again from `expr`).
    let mut path: Vec<Node<'t>> = Vec::new();
    'parens: for &paren in parens.inside(expr.byte_range()) {
        cursor.reset(expr);
        path.clear();
        loop {
            let node = cursor.node();
            if path.len() > MAX_DEPTH + 2
                || matches!(
                    node.kind_name(),
                    "lambda" | "function_definition" | "class_definition"
                )
            {
                continue 'parens;
            }
            path.push(node);
            if node.start_byte() == paren && node.kind_name() == "(" {
                break;
            }
            if cursor.goto_first_child_for_byte(paren).is_none()
                || cursor.node().start_byte() > paren
            {
                continue 'parens;
            }
        }
        // `(` <- arguments <- call, the call at most `MAX_DEPTH` below `expr`.
        let [.., call, arguments, _] = path.as_slice() else {
            continue;
        };
        if call.kind_name() == "call"
            && path.len() - 3 <= MAX_DEPTH
            && call
                .field("arguments")
                .is_some_and(|a| a.id() == arguments.id())
        {
            calls.push(*call);
        }
    }
    // The order of the walk: an enclosing call before the calls inside it (it ends later, or
    // where they do only in a broken file, and then its `(` came first: the sort is stable), a
    // later call before an earlier one.
    calls.sort_by_key(|call| std::cmp::Reverse(call.end_byte()));
    calls
}

/// Runs the dataflow pass over a whole module.
pub fn build<'t>(source: &str, forest: &'t Forest, imports: &Imports) -> Dataflow<'t> {
    build_counting(source, forest, imports, None).0
}

/// [`build`] for a document built before: function scopes the previous build found inert are
/// not analysed again where that still holds (see [`InertScope`]), and this build's are kept
/// in `cache` for the next.
pub fn build_cached<'t>(
    source: &str,
    forest: &'t Forest,
    imports: &Imports,
    cache: &ScopeCache,
) -> Dataflow<'t> {
    build_counting(source, forest, imports, Some(cache)).0
}

/// [`build`], and how many function scopes it analysed.
fn build_counting<'t>(
    source: &str,
    forest: &'t Forest,
    imports: &Imports,
    cache: Option<&ScopeCache>,
) -> (Dataflow<'t>, usize) {
    let mut builder = Builder::new(source, imports, 0..source.len());
    let fingerprint = imports.resolution_fingerprint();
    let mut definitions_before = HashMap::default();
    if let Some(cache) = cache {
        let mut inner = cache.inner.lock().unwrap_or_else(|e| e.into_inner());
        // An edit of the imports keeps what was built from texts that spell none of the names
        // it rebinds (most of a file, for an edited import line).
        let rebound = if inner.imports == fingerprint {
            Some(Vec::new())
        } else {
            imports.rebound_names(&inner.table)
        };
        if let Some(rebound) = rebound {
            builder.inert_before = std::mem::take(&mut inner.scopes);
            builder.rebound = Rebound::new(&rebound);
            definitions_before = std::mem::take(&mut inner.definitions);
        }
    }
    let roots: Vec<Node<'t>> = forest.roots().collect();
    let keys: Vec<u64> = roots
        .iter()
        .map(|&root| statement_key(text(source, root)))
        .collect();
    let mut definitions_now = HashMap::default();
    let mut trees_kept = 0;
    for (&root, &key) in roots.iter().zip(&keys) {
        let kept = definitions_before
            .get(&key)
            .filter(|_| !builder.rebound.spelled_in(text(source, root)))
            .and_then(|definitions| {
                let functions = TreeDefinitions::function_nodes(definitions, root)?;
                Some((Arc::clone(definitions), functions))
            });
        trees_kept += usize::from(kept.is_some());
        let (definitions, functions) = kept.unwrap_or_else(|| {
            let (definitions, functions) = TreeDefinitions::collect(source, imports, root);
            (Arc::new(definitions), functions)
        });
        builder.add_definitions(root, &definitions, functions);
        if cache.is_some() {
            definitions_now.insert(key, definitions);
        }
    }
    builder.flow.forest = Some(forest);
    builder.functions.sort_by_key(|f| f.start_byte());
    builder
        .flow
        .autotune_names
        .sort_by_key(|(_, offset)| *offset);
    // Functions first (twice, so helpers defined after their callers are summarised too), then
    // the module, then functions again seeing the module's datasets, then the module again
    // seeing helpers that read module-level datasets. Values are memoised per call node, so
    // later passes find the same values and consumers are not duplicated.
    let functions = builder.functions.clone();
    for _ in 0..2 {
        for &func in &functions {
            builder.function_scope(func, &Env::default());
        }
    }
    let mut module_env = Env::default();
    builder.module(&roots, &keys, &mut module_env);
    let before = builder.summary_fingerprint();
    for &func in &functions {
        builder.function_scope(func, &module_env);
    }
    if builder.summary_fingerprint() != before {
        builder.module(&roots, &keys, &mut Env::default());
    }
    if let Some(cache) = cache {
        let mut inner = cache.inner.lock().unwrap_or_else(|e| e.into_inner());
        *inner = ScopeCacheInner {
            imports: fingerprint,
            table: imports.resolution_table(),
            scopes: std::mem::take(&mut builder.inert_now),
            definitions: definitions_now,
            last_runs: builder.scope_runs,
            last_reused: builder.scopes_reused,
            last_statement_runs: builder.statement_runs,
            last_statements_reused: builder.statements_reused,
            last_trees_walked: roots.len() - trees_kept,
            last_trees_kept: trees_kept,
        };
    }
    let mut flow = builder.flow;
    flow.autotune_spelling = autotune_spelling(source, imports, &flow);
    flow.vocabulary = (!imports.has_star_imports()).then(|| {
        // A function whose call gives nothing unless it is passed a pipeline (which the call
        // site then names) is no part of it, unless it may be a generator (a body that spells
        // `yield` anywhere counts).
        let mut names: Vec<String> = builder
            .function_bodies
            .into_iter()
            .filter(|(name, bodies)| {
                builder.flowing_functions.contains(name)
                    || bodies.iter().any(|&b| text(source, b).contains("yield"))
            })
            .map(|(name, _)| name)
            .collect();
        names.extend(builder.py_dataset_classes);
        names.extend(builder.module_bound_names);
        names.extend(
            imports
                .imported_paths()
                .filter(|(_, path)| is_autotune_path(path))
                .map(|(name, _)| name.to_string()),
        );
        names
    });
    (flow, builder.scope_runs)
}

/// Whether a function, analysed alone, builds nothing: no pipeline or consumer of its own, and
/// a summary that returns and consumes nothing, so its call sites get nothing from it either.
/// Exact for a function that names nothing of the file's [`Dataflow::vocabulary`] but itself
/// (its analysis cannot depend on other functions or module-level values then).
pub fn function_is_inert(source: &str, imports: &Imports, func: Node) -> bool {
    // Only the function is analysed: look for calls in its text alone.
    let mut builder = Builder::new(source, imports, func.byte_range());
    builder.collect_function(func, true);
    builder.function_scope(func, &Env::default());
    builder.flow.values.iter().all(|v| v.param.is_some())
        && builder.flow.consumers.is_empty()
        && builder
            .summaries
            .values()
            .all(|s| s.returned.is_none() && s.consumes.is_empty())
}

/// Whether `call` provably consumes nothing of the dataflow, given its
/// [vocabulary](Dataflow::vocabulary) (as `Key::Ident` hashes) is valid: no argument may hold a
/// pipeline (see [`may_hold_flow`]), inside a function counting its parameters and the locals
/// assigned from what may hold one. Nothing else can bind a pipeline: `for` and `with`
/// targets never do, and a nested function sees only the module's names. Not a call: false.
pub fn call_cannot_consume(
    source: &str,
    imports: &Imports,
    call: Node,
    vocabulary: &HashSet<KeyHash>,
) -> bool {
    if call.kind_name() != "call" {
        return false;
    }
    let Some(arguments) = call.field("arguments") else {
        return true;
    };
    let mut scope = call.parent();
    while let Some(node) = scope {
        if node.kind_name() == "function_definition" {
            break;
        }
        scope = node.parent();
    }
    let locals = scope.map_or_else(Vec::new, |function| {
        flow_capable_locals(source, imports, function, vocabulary)
    });
    !may_hold_flow(source, imports, arguments, vocabulary, &locals)
}

/// Whether an expression may evaluate to a pipeline, generator or PyDataset: it spells a bare
/// name of the vocabulary or of `locals`, calls a pipeline source, or holds a generator
/// expression, lambda, walrus or `yield`. (Attribute and keyword names are no names in scope.)
fn may_hold_flow(
    source: &str,
    imports: &Imports,
    expr: Node,
    vocabulary: &HashSet<KeyHash>,
    locals: &[&str],
) -> bool {
    let mut stack = vec![expr];
    while let Some(node) = stack.pop() {
        match node.kind_name() {
            "generator_expression" | "lambda" | "named_expression" | "yield" => return true,
            "call" if source_kind_of(source, imports, node).is_some() => return true,
            "identifier" => {
                let name = text(source, node);
                if locals.contains(&name) || vocabulary.contains(&Key::Ident(name.into()).hash64())
                {
                    return true;
                }
            }
            "attribute" => {
                stack.extend(node.field("object"));
                continue;
            }
            "keyword_argument" => {
                stack.extend(node.field("value"));
                continue;
            }
            _ => {}
        }
        let mut cursor = node.walk();
        stack.extend(node.named_children(&mut cursor));
    }
    false
}

/// The names in a function (nested functions and classes aside) that may hold a pipeline: its
/// parameters (a call site may pass one), and the targets of assignments whose value may hold
/// one, to a fixed point.
fn flow_capable_locals<'s>(
    source: &'s str,
    imports: &Imports,
    function: Node,
    vocabulary: &HashSet<KeyHash>,
) -> Vec<&'s str> {
    let mut locals: Vec<&'s str> = Vec::new();
    // Any identifier among the parameters (defaults included: more than needed, never less).
    let mut stack: Vec<Node> = function.field("parameters").into_iter().collect();
    while let Some(node) = stack.pop() {
        if node.kind_name() == "identifier" {
            locals.push(text(source, node));
        }
        let mut cursor = node.walk();
        stack.extend(node.named_children(&mut cursor));
    }
    let mut assignments: Vec<(Node, Node)> = Vec::new();
    let mut stack: Vec<Node> = function.field("body").into_iter().collect();
    while let Some(node) = stack.pop() {
        match node.kind_name() {
            "function_definition" | "class_definition" | "lambda" => continue,
            "assignment" | "augmented_assignment" => {
                if let (Some(left), Some(right)) = (node.field("left"), node.field("right")) {
                    assignments.push((left, right));
                }
            }
            _ => {}
        }
        let mut cursor = node.walk();
        stack.extend(node.named_children(&mut cursor));
    }
    loop {
        let before = locals.len();
        assignments.retain(|&(left, right)| {
            if !may_hold_flow(source, imports, right, vocabulary, &locals) {
                return true;
            }
            target_names(source, left, &mut locals);
            false
        });
        if locals.len() == before {
            return locals;
        }
    }
}

/// The names an assignment target binds (not attributes or subscripts).
fn target_names<'s>(source: &'s str, target: Node, out: &mut Vec<&'s str>) {
    let mut stack = vec![target];
    while let Some(node) = stack.pop() {
        match node.kind_name() {
            "identifier" => out.push(text(source, node)),
            "pattern_list"
            | "tuple_pattern"
            | "list_pattern"
            | "list_splat_pattern"
            | "parenthesized_expression"
            | "expression_list"
            | "tuple"
            | "list" => {
                let mut cursor = node.walk();
                stack.extend(node.named_children(&mut cursor));
            }
            _ => {}
        }
    }
}

/// Whether a class with these bases subclasses `keras.utils.PyDataset` (or `Sequence`).
fn is_py_dataset_class(source: &str, imports: &Imports, bases: Node) -> bool {
    let mut cursor = bases.walk();
    bases.named_children(&mut cursor).any(|b| {
        imports
            .keras_symbol(source, b)
            .is_some_and(|s| matches!(s.name(), "PyDataset" | "Sequence") && s.module() == "utils")
    })
}

/// Whether every function among these `def`/`class` nodes builds nothing analysed alone (see
/// [`function_is_inert`]) and no class is a PyDataset.
pub fn definitions_are_inert(source: &str, imports: &Imports, definitions: &[Node]) -> bool {
    definitions.iter().all(|&node| match node.kind_name() {
        "function_definition" => function_is_inert(source, imports, node),
        _ => !node
            .field("superclasses")
            .is_some_and(|bases| is_py_dataset_class(source, imports, bases)),
    })
}

/// The attributes of `tf.data.Options` whose assignment to `False` the dataflow records (part
/// of the [vocabulary](Dataflow::vocabulary) in any position).
pub const OPTION_ATTRIBUTES: &[&str] = &[
    "inject_prefetch",
    "map_parallelization",
    "apply_default_optimizations",
];

impl<'a, 't> Builder<'a, 't> {
    /// `analysed`: the part of the source the builder will look at.
    fn new(source: &'a str, imports: &'a Imports, analysed: Range<usize>) -> Builder<'a, 't> {
        Builder {
            source,
            imports,
            flow: Dataflow::default(),
            summaries: HashMap::default(),
            function_bodies: HashMap::default(),
            generator_functions: HashMap::default(),
            py_dataset_classes: Vec::new(),
            functions: Vec::new(),
            memo: HashMap::default(),
            template_memo: HashMap::default(),
            template_consumes: Vec::new(),
            seen_consumers: HashSet::default(),
            source_kinds: HashMap::default(),
            replayed: HashSet::default(),
            calls_in: HashMap::default(),
            parens: Occurrences::in_range(source, "(", analysed),
            module_functions: HashSet::default(),
            module_bound_names: HashSet::default(),
            flowing_functions: HashSet::default(),
            in_function: false,
            methods: HashSet::default(),
            recording: None,
            function_reads: HashMap::default(),
            clock: 0,
            summary_written: HashMap::default(),
            scope_runs: 0,
            inert_before: HashMap::default(),
            rebound: Rebound::default(),
            inert_now: HashMap::default(),
            scopes_reused: 0,
            statement_runs: 0,
            statements_reused: 0,
        }
    }

    fn text(&self, node: Node) -> &'a str {
        text(self.source, node)
    }

    /// Takes in what one tree of the forest defines (`functions`: its function nodes).
    fn add_definitions(
        &mut self,
        root: Node<'t>,
        definitions: &Arc<TreeDefinitions>,
        functions: Vec<Node<'t>>,
    ) {
        for (defined, node) in definitions.functions.iter().zip(functions) {
            if defined.method {
                self.methods.insert(node.id());
            }
            self.collect_function(node, defined.at_module);
        }
        let base = root.start_byte();
        for (name, disabled) in &definitions.options {
            let entry = self.flow.options.entry(name.clone()).or_default();
            *entry = entry.union(*disabled);
        }
        self.flow.autotune_names.extend(
            definitions
                .autotune_names
                .iter()
                .map(|(name, offset)| (name.clone(), base + offset)),
        );
        self.py_dataset_classes
            .extend(definitions.py_dataset_classes.iter().cloned());
        self.flow.definitions.push((base, Arc::clone(definitions)));
    }

    /// What module code can see of the helpers: which return pipelines and how many consumers
    /// they replay (a later module pass is needed only when this changes).
    fn summary_fingerprint(&self) -> (usize, usize, usize) {
        self.summaries
            .values()
            .fold((0, 0, 0), |(one, tuple, consumes), summary| {
                match summary.returned {
                    Some(Returned::One(_)) => (one + 1, tuple, consumes + summary.consumes.len()),
                    Some(Returned::Tuple(_)) => (one, tuple + 1, consumes + summary.consumes.len()),
                    None => (one, tuple, consumes + summary.consumes.len()),
                }
            })
    }

    /// `at_module`: the function (or its decorated definition) is a statement of the module.
    fn collect_function(&mut self, node: Node<'t>, at_module: bool) {
        self.functions.push(node);
        let Some(name) = node.field("name") else {
            return;
        };
        let name = self.text(name).to_string();
        if let Some(body) = node.field("body") {
            self.function_bodies
                .entry(name.clone())
                .or_default()
                .push(body);
        }
        // A module-level definition wins over nested ones of the same name.
        match self.flow.functions.get(&name) {
            Some(&existing) if self.module_functions.contains(&existing.id()) || !at_module => {}
            _ => {
                self.flow.functions.insert(name, node);
            }
        }
        if at_module {
            self.module_functions.insert(node.id());
        }
    }

    /// Analyses a function in `outer` (the module's names, or none) unless its last analysis
    /// would come out the same: it ran in an empty environment, looked up no name `outer`
    /// binds, and no summary it looked up has been written since. (A new run would only
    /// renumber its parameter templates.)
    fn function_scope(&mut self, func: Node<'t>, outer: &Env) {
        // (Checked before anything of the node is read: most calls stop here.)
        if let Some(last) = self.function_reads.get(&func.id())
            && last.empty_outer
            && last
                .names
                .iter()
                .all(|name| !outer.names.contains_key(*name))
            && last.summaries.iter().all(|name| {
                // Unchanged since, or (when every summary it met gave nothing) still giving
                // nothing: no summary and an empty one read alike.
                self.summary_written
                    .get(*name)
                    .is_none_or(|&written| written <= last.started)
                    || (!last.summary_gave
                        && self
                            .summaries
                            .get(*name)
                            .is_none_or(|s| s.returned.is_none() && s.consumes.is_empty()))
            })
        {
            return;
        }
        let Some(body) = func.field("body") else {
            return;
        };
        let method = self.methods.contains(&func.id());
        let key = scope_key(self.text(func), method);
        if let Some(reads) = self.still_inert(func, key, outer) {
            self.scopes_reused += 1;
            self.function_reads.insert(func.id(), reads);
            if let Some(name) = func.field("name").filter(|_| !method) {
                let name = self.text(name).to_string();
                self.clock += 1;
                self.summary_written.insert(name.clone(), self.clock);
                // A summary's parameters are read only to replay what it returns or consumes:
                // nothing, here.
                self.summaries.insert(
                    name,
                    Summary {
                        params: Vec::new(),
                        returned: None,
                        consumes: Vec::new(),
                    },
                );
            }
            return;
        }
        self.scope_runs += 1;
        self.start_recording(outer);
        let mut env = outer.clone();
        self.template_memo.clear();
        let params = self.parameters(func);
        for (index, &name) in params.iter().enumerate() {
            self.note_bound_here(name);
            let template = self.push_value(Value {
                parent: None,
                source: SourceKind::TfData,
                source_call: func,
                step: None,
                param: Some(index),
            });
            env.names.insert(name.to_string(), Val::Pipeline(template));
        }
        let outer_consumes = std::mem::take(&mut self.template_consumes);
        self.in_function = true;
        let returned = self.block(body, &mut env);
        self.in_function = false;
        let consumes = std::mem::replace(&mut self.template_consumes, outer_consumes);
        if let Some(reads) = self.recording.take() {
            if returned.is_none()
                && consumes.is_empty()
                && let Some(inert) = self.inert_scope(func, &reads, outer)
            {
                self.inert_now.insert(key, Arc::new(inert));
            }
            self.function_reads.insert(func.id(), reads);
        }
        if let Some(name) = func
            .field("name")
            .filter(|_| !self.methods.contains(&func.id()))
        {
            let name = self.text(name).to_string();
            // What a function does with its parameters' templates happens only at call sites
            // that pass it a pipeline; a real pipeline it returns reaches every call site.
            let real = |id: &ValueId| self.flow.values[*id].param.is_none();
            let returns_real = match &returned {
                Some(Returned::One(id)) => real(id),
                Some(Returned::Tuple(ids)) => ids.iter().flatten().any(real),
                None => false,
            };
            if returns_real {
                self.flowing_functions.insert(name.clone());
            }
            self.clock += 1;
            self.summary_written.insert(name.clone(), self.clock);
            self.summaries.insert(
                name,
                Summary {
                    params: params.iter().map(|p| p.to_string()).collect(),
                    returned,
                    consumes,
                },
            );
        }
    }

    /// The reads of an analysis of `func` in `outer` that would build nothing, when the
    /// previous build found a scope of the same text inert and its lookups find the same now.
    fn still_inert(&mut self, func: Node<'t>, key: u64, outer: &Env) -> Option<ScopeReads<'a>> {
        let inert = self.inert_before(func, key)?;
        let source = self.source;
        let start = func.start_byte();
        let span = |&(offset, len): &(u32, u32)| -> Option<&'a str> {
            let from = start + offset as usize;
            source.get(from..from + len as usize)
        };
        let names: HashSet<&'a str> = inert.names.iter().map(span).collect::<Option<_>>()?;
        let summaries: HashSet<&'a str> =
            inert.summaries.iter().map(span).collect::<Option<_>>()?;
        let callees: HashSet<&'a str> = inert.callees.iter().map(span).collect::<Option<_>>()?;
        if names.iter().any(|name| outer.names.contains_key(*name))
            || summaries.iter().any(|name| {
                self.summaries
                    .get(*name)
                    .is_some_and(|s| s.returned.is_some() || !s.consumes.is_empty())
            })
            || callees.iter().any(|&name| {
                self.is_generator_function(name)
                    || self.py_dataset_classes.iter().any(|c| c == name)
            })
        {
            return None;
        }
        self.inert_now.insert(key, inert);
        Some(ScopeReads {
            started: self.clock,
            empty_outer: true,
            names,
            summaries,
            callees,
            // Only read while a scope is being analysed.
            bound_here: HashSet::default(),
            // Inert: every summary it looked up gave nothing.
            summary_gave: false,
            touched: false,
        })
    }

    /// The previous build's inert analysis of a scope of `node`'s text (`key`), unless the
    /// imports now resolve a name it spells differently.
    fn inert_before(&self, node: Node, key: u64) -> Option<Arc<InertScope>> {
        let inert = self.inert_before.get(&key)?;
        (!self.rebound.spelled_in(self.text(node))).then(|| Arc::clone(inert))
    }

    /// Whether the lookups `inert` kept of an analysis of `node` (a scope of the same text)
    /// find nothing now: no name bound in `env`, no summary that gives something, no callee
    /// that is a generator function or PyDataset class. (See [`Builder::still_inert`], which
    /// also gives the reads.)
    fn lookups_find_nothing(&mut self, node: Node, inert: &InertScope, env: &Env) -> bool {
        let source = self.source;
        let start = node.start_byte();
        let span = |&(offset, len): &(u32, u32)| -> Option<&'a str> {
            let from = start + offset as usize;
            source.get(from..from + len as usize)
        };
        inert
            .names
            .iter()
            .all(|name| span(name).is_some_and(|name| !env.names.contains_key(name)))
            && inert.summaries.iter().all(|name| {
                span(name).is_some_and(|name| {
                    self.summaries
                        .get(name)
                        .is_none_or(|s| s.returned.is_none() && s.consumes.is_empty())
                })
            })
            && inert.callees.iter().all(|name| {
                span(name).is_some_and(|name| {
                    !self.is_generator_function(name)
                        && !self.py_dataset_classes.iter().any(|c| c == name)
                })
            })
    }

    /// What to keep of an analysis of `func` in `outer` that returned and consumed nothing of
    /// its parameters, when it built nothing else either and found no name in `outer` (it
    /// came out as in an empty environment).
    fn inert_scope(&self, func: Node, reads: &ScopeReads, outer: &Env) -> Option<InertScope> {
        if reads.touched
            || reads
                .names
                .iter()
                .any(|name| outer.names.contains_key(*name))
        {
            return None;
        }
        let range = func.byte_range();
        let base = self.source.as_ptr() as usize;
        // Every name looked up is spelled in the function's own text.
        let span = |name: &&str| -> Option<(u32, u32)> {
            let at = (name.as_ptr() as usize).checked_sub(base)?;
            (at >= range.start && at + name.len() <= range.end)
                .then(|| Some(((at - range.start) as u32, u32::try_from(name.len()).ok()?)))?
        };
        Some(InertScope {
            names: reads.names.iter().map(span).collect::<Option<_>>()?,
            summaries: reads.summaries.iter().map(span).collect::<Option<_>>()?,
            callees: reads.callees.iter().map(span).collect::<Option<_>>()?,
        })
    }

    /// Starts recording the lookups of a scope's analysis in `outer`.
    fn start_recording(&mut self, outer: &Env) {
        self.recording = Some(ScopeReads {
            started: self.clock,
            empty_outer: outer.names.is_empty(),
            ..ScopeReads::default()
        });
    }

    /// Notes, while a function scope is analysed, that it met something real.
    fn touch(&mut self) {
        if let Some(reads) = &mut self.recording {
            reads.touched = true;
        }
    }

    /// Records a name bound to a pipeline, generator or PyDataset (see [`Dataflow::vocabulary`]).
    fn note_binding(&mut self, name: &str) {
        if !self.in_function && !self.module_bound_names.contains(name) {
            self.module_bound_names.insert(name.to_string());
        }
    }

    /// Records a name looked up in the environment.
    fn note_name(&mut self, name: &'a str) {
        if let Some(reads) = &mut self.recording
            && !reads.bound_here.contains(name)
        {
            reads.names.insert(name);
        }
    }

    /// Records that the function scope being analysed binds or unbinds `name` itself: from
    /// here on its lookups of `name` read what the scope put there, whatever `outer` holds.
    fn note_bound_here(&mut self, name: &'a str) {
        if let Some(reads) = &mut self.recording {
            reads.bound_here.insert(name);
        }
    }

    /// Records, at module level, a name an assignment rebinds: a module statement's effect on
    /// the module's names depends on whether they were bound before (see
    /// [`Builder::module_statement`]). A function's targets are its own locals.
    fn note_target(&mut self, name: &'a str) {
        if !self.in_function {
            self.note_name(name);
        }
    }

    fn env_binds(&mut self, env: &Env, name: &'a str) -> bool {
        self.note_name(name);
        env.names.contains_key(name)
    }

    /// The summary of the function named `name`, recording the lookup.
    fn summary(&mut self, name: &'a str) -> Option<Summary<'t>> {
        let summary = self.summaries.get(name).cloned();
        if let Some(reads) = &mut self.recording {
            reads.summaries.insert(name);
            let gave = summary
                .as_ref()
                .is_some_and(|s| s.returned.is_some() || !s.consumes.is_empty());
            reads.touched |= gave;
            reads.summary_gave |= gave;
        }
        summary
    }

    /// Parameter names of a function, in order (splats and separators skipped).
    fn parameters(&self, func: Node<'t>) -> Vec<&'a str> {
        let Some(params) = func.field("parameters") else {
            return Vec::new();
        };
        let mut names = Vec::new();
        let mut cursor = params.walk();
        for param in params.named_children(&mut cursor) {
            let name = match param.kind_name() {
                "identifier" => Some(param),
                "default_parameter" | "typed_default_parameter" => param.field("name"),
                "typed_parameter" => param
                    .named_child(0)
                    .filter(|n| n.kind_name() == "identifier"),
                _ => None,
            };
            if let Some(name) = name {
                names.push(self.text(name));
            }
        }
        names
    }

    /// Processes the statements of a block in order; returns what a `return` yields.
    /// The module's statements: those of every root of the forest, in order.
    /// `keys`: [`statement_key`] of each root.
    fn module(&mut self, roots: &[Node<'t>], keys: &[u64], env: &mut Env) {
        for (&root, &key) in roots.iter().zip(keys) {
            self.module_statement(root, key, env);
        }
    }

    /// One tree of the forest (a top-level statement and the comments after it), skipped when
    /// the previous build found a statement of the same text inert and its lookups find the same
    /// now (see [`InertScope`]): most statements of a script have nothing to do with tf.data.
    /// Its assignment targets count as lookups: such a statement still unbinds them.
    fn module_statement(&mut self, root: Node<'t>, key: u64, env: &mut Env) {
        let mut cursor = root.walk();
        let defines_only = root.named_children(&mut cursor).all(|child| {
            matches!(
                child.kind_name(),
                "function_definition" | "class_definition" | "decorated_definition" | "comment"
            )
        });
        if defines_only {
            // `statement` does nothing with these.
            return;
        }
        if let Some(inert) = self.inert_before(root, key)
            && self.lookups_find_nothing(root, &inert, env)
        {
            self.inert_now.insert(key, inert);
            self.statements_reused += 1;
            return;
        }
        self.statement_runs += 1;
        self.start_recording(env);
        self.block(root, env);
        if let Some(reads) = self.recording.take()
            && let Some(inert) = self.inert_scope(root, &reads, env)
        {
            self.inert_now.insert(key, Arc::new(inert));
        }
    }

    fn block(&mut self, block: Node<'t>, env: &mut Env) -> Option<Returned> {
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

    fn statement(&mut self, stmt: Node<'t>, env: &mut Env) -> Option<Returned> {
        match stmt.kind_name() {
            "function_definition" | "class_definition" | "decorated_definition" => None,
            "expression_statement" => {
                let inner = stmt.named_child(0)?;
                if inner.kind_name() == "assignment" {
                    self.assignment(inner, env);
                } else {
                    self.scan_calls(inner, env);
                }
                None
            }
            "return_statement" => {
                let value = stmt.named_child(0)?;
                self.scan_calls(value, env);
                let value = unparenthesized_tuple(value);
                if matches!(value.kind_name(), "expression_list" | "tuple") {
                    let mut cursor = value.walk();
                    let items: Vec<Node<'t>> = value.named_children(&mut cursor).collect();
                    let ids: Vec<Option<ValueId>> = items
                        .into_iter()
                        .map(|item| match self.eval(item, env, 0) {
                            Some(Val::Pipeline(id)) => Some(id),
                            _ => None,
                        })
                        .collect();
                    return ids
                        .iter()
                        .any(Option::is_some)
                        .then_some(Returned::Tuple(ids));
                }
                match self.eval(value, env, 0) {
                    Some(Val::Pipeline(id)) => Some(Returned::One(id)),
                    _ => None,
                }
            }
            "for_statement" => {
                if let Some(right) = stmt.field("right") {
                    self.scan_calls(right, env);
                    let iterated = unwrap_enumerate(self.source, right).unwrap_or(right);
                    if let Some(val) = self.eval(iterated, env, 0) {
                        self.consume(ConsumerKind::ForLoop, stmt, iterated, val);
                    }
                }
                let mut returned = None;
                for field in ["body", "alternative"] {
                    if let Some(b) = stmt.field(field) {
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
                    if is_statement_container(child.kind_name())
                        || child.kind_name().ends_with("statement")
                    {
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
        let Some(right) = assign.field("right") else {
            return;
        };
        self.scan_calls(right, env);
        let Some(left) = assign.field("left") else {
            return;
        };
        match left.kind_name() {
            "identifier" => {
                self.note_target(self.text(left));
                let name = self.text(left).to_string();
                match self.eval(right, env, 0) {
                    Some(val) => {
                        self.note_binding(&name);
                        env.names.insert(name, val);
                    }
                    None => {
                        env.names.remove(&name);
                    }
                }
                if self.in_function {
                    self.note_bound_here(self.text(left));
                }
            }
            "pattern_list" | "tuple_pattern" => {
                let mut targets = Vec::new();
                pattern_identifiers(left, &mut targets);
                for target in &targets {
                    self.note_target(self.text(*target));
                    env.names.remove(self.text(*target));
                    if self.in_function {
                        self.note_bound_here(self.text(*target));
                    }
                }
                for (target, val) in self.unpack(left, right, env) {
                    self.note_binding(self.text(target));
                    env.names.insert(self.text(target).to_string(), val);
                }
            }
            _ => {}
        }
    }

    /// The pipeline each identifier of a tuple target receives.
    fn unpack(&mut self, left: Node<'t>, right: Node<'t>, env: &Env) -> Vec<(Node<'t>, Val)> {
        let mut cursor = left.walk();
        let targets: Vec<Node<'t>> = left.named_children(&mut cursor).collect();
        let right = unparenthesized_tuple(right);
        let mut out = Vec::new();
        // `a, b = x, y`.
        if matches!(right.kind_name(), "expression_list" | "tuple") {
            let mut cursor = right.walk();
            let items: Vec<Node<'t>> = right.named_children(&mut cursor).collect();
            if items.len() == targets.len() {
                for (target, item) in targets.into_iter().zip(items) {
                    if target.kind_name() == "identifier"
                        && let Some(val) = self.eval(item, env, 0)
                    {
                        out.push((target, val));
                    }
                }
            }
            return out;
        }
        if right.kind_name() != "call" {
            return out;
        }
        // `train, val = make_datasets()`: a helper returning a tuple.
        if let Some(func) = right.field("function")
            && func.kind_name() == "identifier"
            && !self.env_binds(env, self.text(func))
            && let Some(summary) = self.summary(self.text(func))
            && let Some(Returned::Tuple(items)) = &summary.returned
        {
            if items.len() == targets.len() {
                for (target, item) in targets.into_iter().zip(items) {
                    if target.kind_name() == "identifier"
                        && let Some(id) = item
                        && let Some(id) = self.bind_returned(right, &summary, *id, env)
                    {
                        out.push((target, Val::Pipeline(id)));
                    }
                }
            }
            return out;
        }
        // `ds, info = tfds.load(..., with_info=True)`, `(train, test), info = ...`,
        // `train, val = image_dataset_from_directory(..., subset="both")`.
        let Some(kind) = self.source_kind(right) else {
            return out;
        };
        let Some(Val::Pipeline(id)) = self.eval(right, env, 0) else {
            return out;
        };
        let with_info =
            kind == SourceKind::Tfds && keyword_is_true(self.source, right, "with_info");
        let mut identifiers = Vec::new();
        if with_info {
            if let Some(first) = targets.first() {
                pattern_identifiers(*first, &mut identifiers);
            }
        } else {
            pattern_identifiers(left, &mut identifiers);
        }
        out.extend(identifiers.into_iter().map(|t| (t, Val::Pipeline(id))));
        out
    }

    /// Visits every call inside an expression to find consumers and build chains.
    fn scan_calls(&mut self, expr: Node<'t>, env: &Env) {
        let calls = match self.calls_in.get(&expr.id()) {
            Some(calls) => calls.clone(),
            None => {
                let calls = Rc::new(calls_inside(expr, &self.parens));
                self.calls_in.insert(expr.id(), calls.clone());
                calls
            }
        };
        for &call in calls.iter() {
            self.eval(call, env, 0);
            self.consumer_call(call, env);
        }
    }

    fn consumer_call(&mut self, call: Node<'t>, env: &Env) {
        let Some(func) = call.field("function") else {
            return;
        };
        if func.kind_name() == "identifier" && self.text(func) == "iter" {
            if let Some(arg) = call.field("arguments").and_then(|args| args.named_child(0))
                && let Some(val) = self.eval(arg, env, 0)
            {
                self.consume(ConsumerKind::Iter, call, arg, val);
            }
            return;
        }
        if func.kind_name() != "attribute" {
            return;
        }
        let Some(method) = func.field("attribute") else {
            return;
        };
        let Some(&(_, kind)) = CONSUMER_METHODS
            .iter()
            .find(|(m, _)| *m == self.text(method))
        else {
            return;
        };
        let Some(args) = call.field("arguments") else {
            return;
        };
        // A pipeline's own methods are not consumers (there is no Dataset.fit), but guard anyway.
        let mut cursor = args.walk();
        let mut positional = 0;
        for arg in args.named_children(&mut cursor) {
            let (target_kind, value) = if arg.kind_name() == "keyword_argument" {
                let (Some(name), Some(value)) = (arg.field("name"), arg.field("value")) else {
                    continue;
                };
                match self.text(name) {
                    "x" | "generator" => (kind, value),
                    "validation_data" => (ConsumerKind::ValidationData, value),
                    _ => continue,
                }
            } else if arg.kind_name() == "comment" {
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
        self.touch();
        let key_value = match val {
            Val::Pipeline(id) => id,
            Val::Generator | Val::PyDataset => usize::MAX,
        };
        if !self.seen_consumers.insert((node.id(), arg.id(), key_value)) {
            return;
        }
        let input = match val {
            Val::Pipeline(id) if self.flow.values[id].param.is_some() => {
                self.template_consumes.push((kind, node, arg, id));
                return;
            }
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
        let val = self.eval_node(node, env, depth);
        match val {
            Some(Val::Pipeline(id)) if self.flow.values[id].param.is_some() => {}
            Some(_) => self.touch(),
            None => {}
        }
        val
    }

    fn eval_node(&mut self, node: Node<'t>, env: &Env, depth: usize) -> Option<Val> {
        if depth > MAX_DEPTH {
            return None;
        }
        match node.kind_name() {
            "identifier" => {
                let name = self.text(node);
                self.note_name(name);
                env.names.get(name).copied()
            }
            "parenthesized_expression" => self.eval(node.named_child(0)?, env, depth + 1),
            "generator_expression" => Some(Val::Generator),
            // `ds.shuffle(n) if training else ds`.
            "conditional_expression" => {
                let consequence = node.named_child(0)?;
                let alternative = node.named_child(2);
                self.eval(consequence, env, depth + 1)
                    .or_else(|| alternative.and_then(|a| self.eval(a, env, depth + 1)))
            }
            // `tfds.load(name)["train"]`, `image_dataset_from_directory(..., subset="both")[0]`.
            "subscript" => {
                let value = node.field("value")?;
                match self.eval(value, env, depth + 1)? {
                    Val::Pipeline(id)
                        if self.flow.values[id].step.is_none()
                            && self.flow.values[id].param.is_none()
                            && self.flow.values[id].source != SourceKind::TfData =>
                    {
                        Some(Val::Pipeline(id))
                    }
                    _ => None,
                }
            }
            "call" => {
                if let Some(&id) = self
                    .memo
                    .get(&node.id())
                    .or_else(|| self.template_memo.get(&node.id()))
                {
                    return Some(Val::Pipeline(id));
                }
                self.eval_call(node, env, depth)
            }
            _ => None,
        }
    }

    fn eval_call(&mut self, call: Node<'t>, env: &Env, depth: usize) -> Option<Val> {
        let func = call.field("function")?;
        if func.kind_name() == "attribute"
            && let (Some(object), Some(method)) = (func.field("object"), func.field("attribute"))
        {
            let method_name = self.text(method);
            if method_name == "experimental_distribute_dataset" {
                // `strategy.experimental_distribute_dataset(ds)` iterates `ds` as it is.
                let arg = call.field("arguments")?.named_child(0)?;
                return self.eval(arg, env, depth + 1);
            }
            if let Some(Val::Pipeline(parent)) = self.eval(object, env, depth + 1) {
                if !TRANSFORMS.contains(&method_name) {
                    return None;
                }
                if method_name == "apply"
                    && let Some(id) = self.apply_helper(call, parent)
                {
                    self.remember(call, id);
                    return Some(Val::Pipeline(id));
                }
                let id = self.derive(
                    parent,
                    Step {
                        call,
                        method_node: method,
                    },
                );
                self.remember(call, id);
                return Some(Val::Pipeline(id));
            }
        }
        if let Some(kind) = self.source_kind(call) {
            let id = self.push_value(Value {
                parent: None,
                source: kind,
                source_call: call,
                step: None,
                param: None,
            });
            self.flow
                .by_call
                .entry(call.id())
                .or_insert_with(|| (call, Vec::new()))
                .1
                .push(id);
            self.memo.insert(call.id(), id);
            return Some(Val::Pipeline(id));
        }
        if func.kind_name() == "identifier" {
            let name = self.text(func);
            if self.env_binds(env, name) {
                return None;
            }
            if let Some(summary) = self.summary(name) {
                self.replay_consumers(call, &summary, env, None);
                if let Some(Returned::One(returned)) = summary.returned
                    && let Some(id) = self.bind_returned(call, &summary, returned, env)
                {
                    self.remember(call, id);
                    return Some(Val::Pipeline(id));
                }
            }
            if let Some(reads) = &mut self.recording {
                reads.callees.insert(name);
            }
            if self.is_generator_function(name) {
                return Some(Val::Generator);
            }
            if self.py_dataset_classes.iter().any(|c| c == name) {
                return Some(Val::PyDataset);
            }
        }
        None
    }

    /// Whether a function of this file named `name` contains `yield` (memoised).
    fn is_generator_function(&mut self, name: &str) -> bool {
        if let Some(&known) = self.generator_functions.get(name) {
            return known;
        }
        let generator = self
            .function_bodies
            .get(name)
            .is_some_and(|bodies| bodies.iter().any(|&body| contains_yield(self.source, body)));
        self.generator_functions.insert(name.to_string(), generator);
        generator
    }

    /// `ds.apply(helper)` with a helper of this file that transforms its parameter.
    fn apply_helper(&mut self, call: Node<'t>, parent: ValueId) -> Option<ValueId> {
        let arg = call.field("arguments")?.named_child(0)?;
        if arg.kind_name() != "identifier" {
            return None;
        }
        let summary = self.summary(self.text(arg))?;
        self.replay_consumers(call, &summary, &Env::default(), Some(parent));
        let Some(Returned::One(template)) = summary.returned else {
            return None;
        };
        if self.flow.values[template].param != Some(0) {
            return None;
        }
        Some(self.replay(template, parent))
    }

    /// The value a call of a function of this file returns: an alias of a real pipeline, or
    /// the template replayed onto the pipeline passed for its parameter.
    fn bind_returned(
        &mut self,
        call: Node<'t>,
        summary: &Summary<'t>,
        returned: ValueId,
        env: &Env,
    ) -> Option<ValueId> {
        let Some(param) = self.flow.values[returned].param else {
            let (source, source_call) = self.flow.source(returned);
            return Some(self.push_value(Value {
                parent: Some(returned),
                source,
                source_call,
                step: None,
                param: None,
            }));
        };
        let actual = self.actual_argument(call, &summary.params, param, env)?;
        Some(self.replay(returned, actual))
    }

    /// Replays a helper's consumers of its parameters at a call site.
    fn replay_consumers(
        &mut self,
        call: Node<'t>,
        summary: &Summary<'t>,
        env: &Env,
        first: Option<ValueId>,
    ) {
        for &(kind, node, arg, template) in &summary.consumes {
            let Some(param) = self.flow.values[template].param else {
                continue;
            };
            let actual = match (param, first) {
                (0, Some(first)) => Some(first),
                (_, Some(_)) => None,
                (_, None) => self.actual_argument(call, &summary.params, param, env),
            };
            let Some(actual) = actual else {
                continue;
            };
            if !self.replayed.insert((call.id(), template, actual)) {
                continue;
            }
            let id = self.replay(template, actual);
            self.consume(kind, node, arg, Val::Pipeline(id));
        }
    }

    /// The pipeline passed for parameter `index` at a call site.
    fn actual_argument(
        &mut self,
        call: Node<'t>,
        params: &[String],
        index: usize,
        env: &Env,
    ) -> Option<ValueId> {
        let args = call.field("arguments")?;
        let mut cursor = args.walk();
        let mut positional = 0;
        let mut found = None;
        for arg in args.named_children(&mut cursor) {
            match arg.kind_name() {
                "comment" => {}
                "keyword_argument" => {
                    if arg.field("name").is_some_and(|n| {
                        Some(self.text(n)) == params.get(index).map(String::as_str)
                    }) {
                        found = arg.field("value");
                    }
                }
                "list_splat" | "dictionary_splat" => positional = usize::MAX / 2,
                _ => {
                    if positional == index {
                        found = Some(arg);
                    }
                    positional += 1;
                }
            }
        }
        match self.eval(found?, env, 1)? {
            Val::Pipeline(id) => Some(id),
            _ => None,
        }
    }

    /// Applies a template's steps onto `actual`.
    fn replay(&mut self, template: ValueId, actual: ValueId) -> ValueId {
        let steps = self.flow.chain(template);
        let mut current = actual;
        for step in steps {
            current = self.derive(current, step);
        }
        current
    }

    /// A new value: `step` applied to `parent`.
    fn derive(&mut self, parent: ValueId, step: Step<'t>) -> ValueId {
        let (source, source_call) = self.flow.source(parent);
        let param = self.flow.values[parent].param;
        let id = self.push_value(Value {
            parent: Some(parent),
            source,
            source_call,
            step: Some(step),
            param,
        });
        if param.is_none() {
            self.flow
                .by_call
                .entry(step.call.id())
                .or_insert_with(|| (step.call, Vec::new()))
                .1
                .push(id);
        }
        id
    }

    fn remember(&mut self, call: Node<'t>, id: ValueId) {
        if self.flow.values[id].param.is_some() {
            self.template_memo.insert(call.id(), id);
        } else {
            self.memo.insert(call.id(), id);
        }
    }

    fn push_value(&mut self, value: Value<'t>) -> ValueId {
        self.flow.values.push(value);
        self.flow.values.len() - 1
    }

    /// Whether a call constructs a tf.data pipeline, and of which kind. Memoised by the
    /// callee's text: a name or attribute chain that parsed without an error resolves through
    /// the imports alone, so the same text gives the same answer (`layers.Dense` is asked
    /// about hundreds of times in a big file).
    fn source_kind(&mut self, call: Node<'t>) -> Option<SourceKind> {
        let callee = call
            .field("function")
            .filter(|f| matches!(f.kind_name(), "identifier" | "attribute") && !f.has_error());
        let Some(callee) = callee else {
            return self.resolve_source_kind(call);
        };
        let callee = self.text(callee);
        if let Some(&known) = self.source_kinds.get(callee) {
            return known;
        }
        let kind = self.resolve_source_kind(call);
        self.source_kinds.insert(callee, kind);
        kind
    }

    fn resolve_source_kind(&self, call: Node<'t>) -> Option<SourceKind> {
        source_kind_of(self.source, self.imports, call)
    }
}

/// Whether a call constructs a pipeline, and which kind (through the file's imports).
pub fn source_kind_of(source: &str, imports: &Imports, call: Node) -> Option<SourceKind> {
    let func = call.field("function")?;
    let path = imports.resolve(source, func)?;
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

/// `(a, b)` stays a tuple; `((a, b))` is unwrapped to it.
fn unparenthesized_tuple(node: Node) -> Node {
    let inner = unparenthesized(node);
    if inner.kind_name() == "tuple" || inner.kind_name() == "expression_list" {
        inner
    } else {
        node
    }
}

/// The identifiers bound by a target pattern (`a`, `(a, b)`, `[a, (b, c)]`).
fn pattern_identifiers<'t>(pattern: Node<'t>, out: &mut Vec<Node<'t>>) {
    let mut stack = vec![pattern];
    while let Some(node) = stack.pop() {
        match node.kind_name() {
            "identifier" => out.push(node),
            "pattern_list" | "tuple_pattern" | "list_pattern" => {
                let mut cursor = node.walk();
                let children: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
                stack.extend(children.into_iter().rev());
            }
            _ => {}
        }
        if out.len() > 64 {
            break;
        }
    }
}

fn keyword_is_true(source: &str, call: Node, name: &str) -> bool {
    super::call::keyword(source, call, name).is_some_and(|v| v.kind_name() == "true")
}

/// `enumerate(ds)` -> `ds`.
fn unwrap_enumerate<'t>(source: &str, node: Node<'t>) -> Option<Node<'t>> {
    if node.kind_name() != "call" {
        return None;
    }
    let func = node.field("function")?;
    if func.kind_name() != "identifier" || text(source, func) != "enumerate" {
        return None;
    }
    node.field("arguments")?.named_child(0)
}

fn contains_yield(source: &str, body: Node) -> bool {
    // A `yield` node starts with the keyword, so a body without the word has none (a keyword
    // the parser invented while recovering from an error is none the user wrote).
    if !text(source, body).contains("yield") {
        return false;
    }
    let mut stack = vec![(body, 0usize)];
    let mut cursor = body.walk();
    while let Some((node, depth)) = stack.pop() {
        let kind = node.kind_name();
        if kind == "yield" {
            return true;
        }
        if depth > MAX_DEPTH
            || matches!(kind, "function_definition" | "class_definition" | "lambda")
        {
            continue;
        }
        cursor.reset(node);
        if cursor.goto_first_child() {
            loop {
                let child = cursor.node();
                if child.is_named() {
                    stack.push((child, depth + 1));
                }
                if !cursor.goto_next_sibling() {
                    break;
                }
            }
        }
    }
    false
}

/// Node kinds that can hold statements (so a `def` or `class` can be inside).
pub fn is_statement_container(kind: &str) -> bool {
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
        let tree = parse(src);
        let imports = Imports::collect(src, &tree);
        let flow = build(src, &tree, &imports);
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

    #[test]
    fn functions_are_analysed_again_only_when_that_could_change_them() {
        let runs = |src: &str| {
            let tree = parse(src);
            let imports = Imports::collect(src, &tree);
            build_counting(src, &tree, &imports, None).1
        };
        // Nothing links these three: one analysis each, not one per pass.
        let alone =
            "def a(x):\n    return x.map(f)\ndef b():\n    print(1)\ndef c(y):\n    y.fit(z)\n";
        assert_eq!(runs(alone), 3);
        // `train` looks up `make` before it is summarised, so it is analysed again.
        let later = "import tensorflow as tf\ndef train():\n    model.fit(make())\ndef make():\n    return tf.data.Dataset.range(8).batch(2)\n";
        assert_eq!(runs(later), 3);
        assert_eq!(
            consumed_chains(later),
            vec![(ConsumerKind::Fit, vec!["batch".to_string()])]
        );
        // `train` looks `report` up before it is summarised, but `report` gives nothing, as
        // no summary did: not analysed again.
        let empty_later = "import tensorflow as tf\ndef train():\n    model.fit(tf.data.Dataset.range(8))\n    report()\ndef report():\n    print(1)\n";
        assert_eq!(runs(empty_later), 2);
        // `fit_all` reads `ds`, which the module binds: analysed again in the module's names.
        let module = "import tensorflow as tf\ndef fit_all():\n    model.fit(ds)\nds = tf.data.Dataset.range(8).shuffle(8)\n";
        assert_eq!(runs(module), 2);
        assert_eq!(
            consumed_chains(module),
            vec![(ConsumerKind::Fit, vec!["shuffle".to_string()])]
        );
        // `main` binds `ds` (and its parameter `n`) before reading them: the module's `ds` and
        // `n` cannot reach those reads, so it is not analysed again in the module's names.
        let local = "import tensorflow as tf\ndef main(n):\n    ds = tf.data.Dataset.range(n).batch(2)\n    model.fit(ds)\n    ds = None\n    print(ds, n)\nds = tf.data.Dataset.range(8).shuffle(8)\nn = tf.data.Dataset.range(2)\n";
        assert_eq!(runs(local), 1);
        assert_eq!(
            consumed_chains(local),
            vec![(ConsumerKind::Fit, vec!["batch".to_string()])]
        );
        // Read before its own assignment (the builder reads in order), `ds` is the module's
        // there: analysed again, and the module's pipeline is consumed.
        let before = "import tensorflow as tf\ndef main():\n    model.fit(ds)\n    ds = tf.data.Dataset.range(4)\nds = tf.data.Dataset.range(8).shuffle(8)\n";
        assert_eq!(runs(before), 2);
        assert_eq!(
            consumed_chains(before),
            vec![(ConsumerKind::Fit, vec!["shuffle".to_string()])]
        );
    }

    /// Builds `before` then `after` with one [`ScopeCache`]: the second build equals a fresh
    /// build of `after` (consumers and signature). Returns the consumers and how many scopes
    /// the second build reused.
    fn build_after(before: &str, after: &str) -> (Vec<(ConsumerKind, usize)>, usize) {
        let (consumers, cache) = build_after_with(before, after);
        (consumers, cache.last_build().1)
    }

    /// [`build_after`], returning the cache.
    fn build_after_with(before: &str, after: &str) -> (Vec<(ConsumerKind, usize)>, ScopeCache) {
        let cache = ScopeCache::default();
        let tree = parse(before);
        build_cached(before, &tree, &Imports::collect(before, &tree), &cache);
        let tree = parse(after);
        let imports = Imports::collect(after, &tree);
        let cached = build_cached(after, &tree, &imports, &cache);
        let fresh = build(after, &tree, &imports);
        let unit_of = |_: usize| (0, 0);
        assert_eq!(
            cached.signature(&unit_of),
            fresh.signature(&unit_of),
            "{after}"
        );
        let consumers = cached
            .consumers()
            .iter()
            .map(|c| (c.kind, c.node.start_byte()))
            .collect();
        drop(cached);
        (consumers, cache)
    }

    #[test]
    fn module_statements_that_built_nothing_are_reused_while_their_lookups_find_the_same() {
        let fit = |src: &str| vec![(ConsumerKind::Fit, src.find("model.fit").unwrap())];
        let statements = |before: &str, after: &str| {
            let (consumers, cache) = build_after_with(before, after);
            (consumers, cache.last_module_statements())
        };
        // `model.fit(ds)` looked `ds` up while nothing bound it; `print` is reused throughout.
        let before = "import tensorflow as tf\nprint(1)\nds = None\nmodel.fit(ds)\n";
        let after = before.replace("None", "tf.data.Dataset.range(8)");
        assert_eq!(statements(before, &after), (fit(&after), (2, 2)));
        // `ds = 5` unbinds `ds`: reused only while nothing bound it before.
        let before = "import tensorflow as tf\nds = None\nds = 5\nmodel.fit(ds)\n";
        let after = before.replace("None", "tf.data.Dataset.range(8)");
        assert_eq!(statements(before, &after), (vec![], (2, 2)));
        // `model.fit(make())` looked up `make`'s summary while it gave nothing.
        let before = "import tensorflow as tf\ndef make():\n    return None\nmodel.fit(make())\n";
        let after = before.replace("None", "tf.data.Dataset.range(8)");
        assert_eq!(statements(before, &after), (fit(&after), (1, 1)));
        // `for b in gen()` called `gen` while it was no generator function.
        let before = "import keras\ndef gen():\n    return 1\nfor b in gen():\n    pass\n";
        let after = before.replace("return", "yield");
        let (consumers, (analysed, _)) = statements(before, &after);
        assert_eq!((consumers.len(), analysed), (1, 1));
    }

    #[test]
    fn kept_definitions_are_those_a_fresh_walk_finds() {
        let before = "import keras\nimport tensorflow as tf\nfrom keras import layers\n\naugment = keras.Sequential([layers.RandomFlip()])\nAUTOTUNE = tf.data.AUTOTUNE\n\n\nclass Loader(keras.utils.PyDataset):\n    def load(self, x):\n        augment = 2\n        return x\n\n\ndef load(x):\n    def inner(y):\n        return y\n    options.experimental_optimization.map_parallelization = False\n    return inner(x)\n\n\nds = tf.data.Dataset.range(8).map(load, num_parallel_calls=AUTOTUNE)\n";
        // An edit of the first tree moves every other one.
        let after = before.replace("import keras\n", "import keras  # the API\n");
        let (_, cache) = build_after_with(before, &after);
        assert_eq!(cache.last_definitions(), (1, 7));
        let tree = parse(&after);
        let settings = crate::settings::Settings::default();
        let fresh_ctx = Context::new(&after, &tree, &settings);
        let fresh = fresh_ctx.dataflow();
        let imports = Imports::collect(&after, &tree);
        let cached = build_cached(&after, &tree, &imports, &cache);
        assert_eq!(cache.last_definitions(), (0, 8));
        let ranges = |nodes: &[Node]| nodes.iter().map(|n| n.byte_range()).collect::<Vec<_>>();
        for name in ["augment", "AUTOTUNE", "ds", "x"] {
            let kept = cached.assigned_values(&fresh_ctx, name);
            assert_eq!(
                ranges(&kept),
                ranges(&fresh.assigned_values(&fresh_ctx, name))
            );
            assert_eq!(
                kept.len(),
                if name == "augment" {
                    2
                } else {
                    1 - usize::from(name == "x")
                }
            );
        }
        for name in ["load", "inner", "Loader"] {
            assert_eq!(
                cached.function(&fresh_ctx, name).map(|f| f.byte_range()),
                fresh.function(&fresh_ctx, name).map(|f| f.byte_range()),
                "{name}"
            );
        }
        assert_eq!(
            cached.function(&fresh_ctx, "load").map(|f| f.start_byte()),
            after.find("def load(x)")
        );
        assert_eq!(cached.vocabulary(), fresh.vocabulary());
        assert_eq!(cached.options, fresh.options);
        assert_eq!(cached.autotune_names, fresh.autotune_names);
    }

    #[test]
    fn inert_scopes_are_reused_only_while_their_lookups_find_the_same() {
        let fit = |src: &str| vec![(ConsumerKind::Fit, src.find("model.fit").unwrap())];
        // An unrelated helper is reused throughout.
        let report = "def report():\n    print(1)\n";
        // `train` looked up `make`'s summary while it gave nothing.
        let before = format!(
            "import tensorflow as tf\n{report}def train():\n    model.fit(make())\ndef make():\n    return None\n"
        );
        let after = before.replace("None", "tf.data.Dataset.range(8)");
        assert_eq!(build_after(&before, &after), (fit(&after), 2));
        // `fit_all` looked up `ds` while the module bound it to nothing.
        let before = format!(
            "import tensorflow as tf\n{report}def fit_all():\n    model.fit(ds)\nds = None\n"
        );
        let after = before.replace("None", "tf.data.Dataset.range(8)");
        assert_eq!(build_after(&before, &after), (fit(&after), 2));
        // `train` called `gen` and `Seq` while they were no generator function or PyDataset.
        for (old, new) in [
            ("def gen():\n    return 1\n", "def gen():\n    yield 1\n"),
            (
                "class gen(object):\n    pass\n",
                "class gen(keras.utils.PyDataset):\n    pass\n",
            ),
        ] {
            let train = "def train():\n    model.fit(gen())\n";
            let before = format!("import keras\n{report}{train}{old}");
            let after = format!("import keras\n{report}{train}{new}");
            let (consumers, reused) = build_after(&before, &after);
            assert_eq!(consumers.len(), 1, "{after}");
            assert!(reused >= 1, "{after}");
        }
        // A scope that builds something is analysed again, whatever else changed.
        let before = format!(
            "import tensorflow as tf\n{report}def train():\n    model.fit(tf.data.Dataset.range(3))\n"
        );
        let after = before.replace("print(1)", "print(2)");
        assert_eq!(build_after(&before, &after), (fit(&after), 0));
        // An import binds `Dataset`: `train`, which spells it, is analysed again; `report` is
        // reused. Unbinding it again does the same the other way.
        let train = "def train():\n    model.fit(Dataset.range(3))\n";
        let before = format!("import tensorflow as tf\n{report}{train}");
        let after = format!(
            "import tensorflow as tf\nfrom tensorflow.data import Dataset\n{report}{train}"
        );
        assert_eq!(build_after(&before, &after), (fit(&after), 1));
        assert_eq!(build_after(&after, &before), (vec![], 1));
        // Rebinding `tf` to another module: every scope spelling `tf` is analysed again.
        let train = "def train():\n    model.fit(tf.data.Dataset.range(3))\n";
        let before = format!("import numpy as tf\n{report}{train}");
        let after = before.replace("numpy", "tensorflow");
        assert_eq!(build_after(&before, &after), (fit(&after), 1));
        // Star imports may rebind any name: nothing is reused.
        let before = format!("from tensorflow.data import *\n{report}{train}");
        let after = format!("import tensorflow as tf\n{before}");
        assert_eq!(build_after(&before, &after), (fit(&after), 0));
    }

    #[test]
    fn an_import_edit_keeps_the_definitions_of_trees_that_spell_no_rebound_name() {
        let before = "import keras\nfrom keras import utils\n\nclass Loader(utils.PyDataset):\n    pass\n\n\nclass Other(keras.utils.PyDataset):\n    pass\n\n\nds = Dataset.range(8).map(f, num_parallel_calls=AUTOTUNE)\n";
        // Besides the edited import, the trees walked again are those spelling a rebound name.
        for (old, new, walked_kept) in [
            // `utils` now names another module: `Loader` is walked again, and is no PyDataset;
            // so is `Other`, whose `keras.utils` spells the name too (a substring is enough).
            ("from keras import utils", "from numpy import utils", (3, 2)),
            // `AUTOTUNE` is bound now: of the old trees, only the last one is walked again.
            (
                "import keras\n",
                "import keras\nfrom tensorflow.data import AUTOTUNE\n",
                (2, 4),
            ),
        ] {
            let after = before.replace(old, new);
            let (_, cache) = build_after_with(before, &after);
            assert_eq!(cache.last_definitions(), walked_kept, "{after}");
            let tree = parse(&after);
            let imports = Imports::collect(&after, &tree);
            let fresh = build(&after, &tree, &imports);
            let cached = build_cached(&after, &tree, &imports, &cache);
            assert_eq!(cached.vocabulary(), fresh.vocabulary(), "{after}");
            assert_eq!(cached.autotune_names, fresh.autotune_names, "{after}");
        }
    }

    /// The plain walk `calls_inside` stands for: every node of `expr` that holds a `(`.
    fn calls_by_walk<'t>(expr: Node<'t>, parens: &Occurrences) -> Vec<Node<'t>> {
        let mut calls = Vec::new();
        if !parens.within(expr) {
            return calls;
        }
        let mut stack = vec![(expr, 0usize)];
        let mut cursor = expr.walk();
        while let Some((node, depth)) = stack.pop() {
            if depth > MAX_DEPTH {
                continue;
            }
            match node.kind_name() {
                "lambda" | "function_definition" | "class_definition" => continue,
                "call" => calls.push(node),
                _ => {}
            }
            cursor.reset(node);
            if cursor.goto_first_child() {
                loop {
                    let child = cursor.node();
                    if child.is_named() && parens.within(child) {
                        stack.push((child, depth + 1));
                    }
                    if !cursor.goto_next_sibling() {
                        break;
                    }
                }
            }
        }
        calls
    }

    /// Every node of the test corpus and fixtures (broken files included): the calls found
    /// from their parens are the walk's, in the walk's order.
    #[test]
    fn calls_found_from_parens_are_those_of_a_full_walk() {
        let mut files = Vec::new();
        for dir in ["tests/corpus", "tests/fixtures"] {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "py") {
                    files.push(std::fs::read_to_string(&path).unwrap());
                }
            }
        }
        files.push("f(g(1)(2), (h)(3), lambda: k(4), [m(5) for m in n(6)])\nx = (\n".into());
        assert!(files.len() > 20);
        let mut calls = 0;
        for src in &files {
            let forest = parse(src);
            let parens = Occurrences::of(src, "(");
            for root in forest.roots() {
                let mut stack = vec![root];
                while let Some(node) = stack.pop() {
                    let found = calls_inside(node, &parens);
                    assert_eq!(found, calls_by_walk(node, &parens), "{}", text(src, node));
                    calls += found.len();
                    let mut cursor = node.walk();
                    stack.extend(node.named_children(&mut cursor));
                }
            }
        }
        assert!(calls > 1000, "{calls}");
    }

    #[test]
    fn calls_without_a_written_paren_are_skipped_quickly_but_none_is_missed() {
        let src = "x = [a, b.c, 'f(']\ny = g(h(1), [k(2) for _ in r], lambda: m(3))\n";
        let tree = parse(src);
        let parens = Occurrences::of(src, "(");
        let statements = tree.statements();
        let texts = |node: Node| -> Vec<&str> {
            calls_inside(node, &parens)
                .iter()
                .map(|c| text(src, c.field("function").unwrap()))
                .collect()
        };
        // The string's `(` makes the first statement a candidate, but it holds no call.
        assert!(texts(statements[0]).is_empty());
        // Lambdas are not entered.
        let mut found = texts(statements[1]);
        found.sort();
        assert_eq!(found, vec!["g", "h", "k"]);
    }

    #[test]
    fn parenthesised_and_continued_chains() {
        let src = "import tensorflow as tf\nds = (\n    tf.data.Dataset.range(8)\n    # a comment\n    .map(f)\n    .batch(2)\n)\nval = tf.data.Dataset.range(4) \\\n    .batch(2)\nmodel.fit((ds), validation_data=val)\n";
        assert_eq!(
            consumed_chains(src),
            vec![
                (ConsumerKind::Fit, vec!["map".to_string(), "batch".into()]),
                (ConsumerKind::ValidationData, vec!["batch".to_string()]),
            ]
        );
    }

    #[test]
    fn helpers_taking_a_pipeline_are_replayed_at_each_call_site() {
        let src = "import tensorflow as tf\ndef prepare(ds, shuffle=False):\n    ds = ds.map(f)\n    if shuffle:\n        ds = ds.shuffle(10)\n    return ds.batch(2)\ndef add_prefetch(ds):\n    return ds.prefetch(1)\ndef train(model, ds):\n    model.fit(ds)\nraw = tf.data.Dataset.range(8)\ntrain(m, prepare(raw, shuffle=True).apply(add_prefetch))\nfor b in prepare(ds=raw.take(4)):\n    pass\n";
        assert_eq!(
            consumed_chains(src),
            vec![
                (
                    ConsumerKind::Fit,
                    vec![
                        "map".to_string(),
                        "shuffle".into(),
                        "batch".into(),
                        "prefetch".into()
                    ]
                ),
                (
                    ConsumerKind::ForLoop,
                    vec![
                        "take".to_string(),
                        "map".into(),
                        "shuffle".into(),
                        "batch".into()
                    ]
                ),
            ]
        );
    }

    #[test]
    fn helpers_given_other_values_make_no_pipeline() {
        let src = "import pandas as pd\nimport tensorflow as tf\ndef to_text(frame):\n    return frame.map(str)\ndef loop(items):\n    for i in items:\n        pass\nt = to_text(pd.DataFrame())\nloop([1, 2])\nmodel.fit(t)\n";
        let tree = parse(src);
        let imports = Imports::collect(src, &tree);
        let flow = build(src, &tree, &imports);
        assert!(flow.consumers().is_empty());
        assert_eq!(flow.steps().count(), 0);
    }

    #[test]
    fn tuples_conditionals_subscripts_and_strategies() {
        let src = "import tensorflow as tf\nimport tensorflow_datasets as tfds\nimport keras\ntr, va = keras.utils.image_dataset_from_directory('d', subset='both')\n(a, b), info = tfds.load('m', split=['train', 'test'], with_info=True)\nc, d = a.batch(1), b.batch(2)\ndef make():\n    return tr.take(1), va.take(2)\np, q = make()\ne = c.shuffle(3) if training else c\nf = tfds.load('m')['train'].batch(4)\ng = strategy.experimental_distribute_dataset(d.repeat())\nfor name in [tr, va, info, e, f, g, p, q]:\n    pass\nfor x in e:\n    pass\nfor x in f:\n    pass\nfor x in g:\n    pass\nfor x in q:\n    pass\n";
        let chains: Vec<Vec<String>> = consumed_chains(src).into_iter().map(|(_, c)| c).collect();
        assert_eq!(
            chains,
            vec![
                vec!["batch".to_string(), "shuffle".into()],
                vec!["batch".to_string()],
                vec!["batch".to_string(), "repeat".into()],
                vec!["take".to_string()],
            ]
        );
    }

    #[test]
    fn options_that_disable_optimizations() {
        let src = "import tensorflow as tf\nopts = tf.data.Options()\nopts.experimental_optimization.inject_prefetch = False\nall_off = tf.data.Options()\nall_off.experimental_optimization.apply_default_optimizations = False\na = tf.data.Dataset.range(2).with_options(opts)\nb = tf.data.Dataset.range(2).batch(1).with_options(all_off)\nc = tf.data.Dataset.range(2)\nmodel.fit(a)\nmodel.fit(b)\nmodel.fit(c)\n";
        let tree = parse(src);
        let imports = Imports::collect(src, &tree);
        let flow = build(src, &tree, &imports);
        let disabled: Vec<DisabledOptimizations> = flow
            .consumers()
            .iter()
            .filter_map(|c| match c.input {
                Input::Pipeline(id) => Some(flow.disabled_optimizations(src, id)),
                _ => None,
            })
            .collect();
        assert_eq!(
            disabled,
            vec![
                DisabledOptimizations {
                    prefetch_injection: true,
                    map_parallelization: false
                },
                DisabledOptimizations {
                    prefetch_injection: true,
                    map_parallelization: true
                },
                DisabledOptimizations::default(),
            ]
        );
    }

    #[test]
    fn mapped_functions_are_found_and_searched() {
        let src = "import functools\nimport tensorflow as tf\ndef inner(x):\n    return tf.py_function(g, [x], tf.float32)\ndef outer(x, k):\n    return inner(x)\nclass P:\n    def aug(self, x):\n        return x\n    def build(self, ds):\n        return ds.map(self.aug)\nds = tf.data.Dataset.range(3)\na = ds.map(outer)\nb = ds.map(lambda x: x + 1)\nc = ds.map(map_func=functools.partial(outer, k=1))\nd = ds.map(tf.io.decode_png)\n";
        let tree = parse(src);
        let settings = crate::settings::Settings::default();
        let ctx = Context::new(src, &tree, &settings);
        let flow = ctx.dataflow();
        let uses_py = |step: &Step| {
            flow.mapped_function(&ctx, step)
                .map(|f| flow.function_uses(&ctx, f, &mut |n| text(src, n) == "tf.py_function"))
        };
        ctx.start_recording();
        let found: Vec<Option<bool>> = flow.steps().map(|(_, s)| uses_py(&s)).collect();
        assert_eq!(found, vec![Some(true), Some(false), Some(true), None]);
        // The lookups by name are reads an incremental analysis follows (the dataflow's
        // signature leaves the functions out).
        let reads = ctx.take_reads();
        for name in ["outer", "inner"] {
            assert!(
                reads.contains(&Read::everywhere(Key::Def(name.into()))),
                "{name} read"
            );
        }
    }

    #[test]
    fn autotune_aliases_and_statements() {
        let src = "import tensorflow as tf\nAUTOTUNE = tf.data.experimental.AUTOTUNE\nautotune = -1\nds = tf.data.Dataset.range(3)\nif x:\n    ds = ds.map(f).batch(2)\n";
        let tree = parse(src);
        let imports = Imports::collect(src, &tree);
        let flow = build(src, &tree, &imports);
        let names: Vec<&str> = flow
            .autotune_names
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(names, vec!["AUTOTUNE", "autotune"]);
        let steps: Vec<Step> = flow.steps().map(|(_, s)| s).collect();
        let statement = statement_of(&tree, steps[0].call);
        assert_eq!(text(src, statement), "ds = ds.map(f).batch(2)");
        assert!(in_one_block(&tree, &steps));
        let source_statement = statement_of(
            &tree,
            flow.source(flow.value_of_call(steps[0].call).unwrap()).1,
        );
        assert_eq!(text(src, source_statement), "ds = tf.data.Dataset.range(3)");
    }

    #[test]
    fn step_edits_keep_the_layout() {
        let src = "ds = (\n    tf.data.Dataset.range(3)\n    .shuffle(4)  # order\n    .cache()  # keep\n    .batch(2)\n)\nds = ds.shuffle(2)\nds = ds.cache()\nother = tf.data.Dataset.range(3).shuffle(1) \\\n    .cache()\n";
        let src = format!("import tensorflow as tf\n{src}");
        let tree = parse(&src);
        let imports = Imports::collect(&src, &tree);
        let flow = build(&src, &tree, &imports);
        let steps: Vec<Step> = flow.steps().map(|(_, s)| s).collect();
        let methods: Vec<&str> = steps.iter().map(|s| s.method(&src)).collect();
        assert_eq!(
            methods,
            vec![
                "shuffle", "cache", "batch", "shuffle", "cache", "shuffle", "cache"
            ]
        );
        let apply = |edits: Vec<Edit>| {
            crate::fix::apply_fixes(
                &src,
                [&crate::finding::Fix::new(
                    "t",
                    crate::finding::FixSafety::Safe,
                    edits,
                )],
            )
            .0
        };
        let moved = apply(move_step_before(&src, &steps[0], &steps[1]));
        assert!(moved.contains("    tf.data.Dataset.range(3)\n    .cache()\n    .shuffle(4)  # order\n    .batch(2)\n)"), "{moved}");
        let moved = apply(move_step_before(&src, &steps[3], &steps[4]));
        assert!(
            moved.contains("ds = ds.cache().shuffle(2)\nother"),
            "{moved}"
        );
        let moved = apply(move_step_before(&src, &steps[5], &steps[6]));
        assert!(
            moved.ends_with("other = tf.data.Dataset.range(3).cache().shuffle(1)\n"),
            "{moved}"
        );
        let appended = apply(vec![append_to_call(
            &src,
            steps[2].call,
            Some(&steps[2]),
            ".prefetch(1)",
        )]);
        assert!(
            appended.contains("    .batch(2)\n    .prefetch(1)\n)"),
            "{appended}"
        );
        let appended = apply(vec![append_to_call(
            &src,
            steps[6].call,
            Some(&steps[6]),
            ".prefetch(1)",
        )]);
        assert!(
            appended.ends_with("    .cache() \\\n    .prefetch(1)\n"),
            "{appended}"
        );
    }
}

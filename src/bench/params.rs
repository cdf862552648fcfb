//! Scenario parameters read statically from the user's source near a finding (tree-sitter-python),
//! each with where it came from; anything not readable is left to the scenario's stated default.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use tree_sitter::{Node, Parser, Tree};

use super::{Scenario, parse_target};

/// Activations the init scenario accepts (mirrors `bench/init.py`).
const ACTIVATIONS: &[&str] = &[
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "celu",
    "gelu",
    "silu",
    "swish",
    "mish",
    "hard_silu",
    "hard_swish",
    "tanh",
    "sigmoid",
    "hard_sigmoid",
    "softmax",
    "log_softmax",
    "softplus",
    "softsign",
    "linear",
    "selu",
];

/// Initializer names the init scenario accepts (mirrors `bench/init.py`).
const INITIALIZERS: &[&str] = &[
    "random_normal",
    "normal",
    "truncated_normal",
    "random_uniform",
    "uniform",
    "glorot_uniform",
    "glorot_normal",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
    "orthogonal",
    "variance_scaling",
];

const DEFAULT_DEPTH: usize = 20;
const MAX_LAYERS: usize = 64;

type Params = (Map<String, Value>, BTreeMap<String, String>);

/// Read what can be read statically for the scenario of `code_or_scenario` near `line`
/// (1-based) of `source`. Returns the parameters and, for each, where it came from
/// (`"code, line N"`); parameters not returned use the scenario's defaults.
pub fn params_from_source(code_or_scenario: &str, source: &str, line: usize) -> Params {
    let mut out = (Map::new(), BTreeMap::new());
    let Some((scenario, _)) = parse_target(code_or_scenario) else {
        return out;
    };
    let Some(tree) = parse(source) else {
        return out;
    };
    let cx = Cx {
        src: source.as_bytes(),
        tree: &tree,
        row: line.saturating_sub(1),
    };
    match scenario {
        Scenario::Init => init(&cx, &mut out),
        Scenario::Callbacks => callbacks(&cx, &mut out),
        Scenario::Pipeline => pipeline(&cx, &mut out),
        Scenario::Batch => batch(&cx, &mut out),
        Scenario::MixedPrecision => mixed_precision(&cx, &mut out),
        Scenario::Eager => {
            if let Some((b, l)) = nearest_fit_batch_size(&cx) {
                set(&mut out, "batch_size", json!(b.clamp(1, 4096)), l);
            }
        }
        // Loop lengths in user code are often large; the quick default keeps this bounded.
        Scenario::PredictLoop => {}
    }
    out
}

fn parse(source: &str) -> Option<Tree> {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .ok()?;
    parser.parse(source, None)
}

struct Cx<'a> {
    src: &'a [u8],
    tree: &'a Tree,
    /// 0-based row of the finding.
    row: usize,
}

impl<'a> Cx<'a> {
    fn text(&self, n: Node<'a>) -> &'a str {
        n.utf8_text(self.src).unwrap_or("")
    }

    /// Every node of `kind`, in source order.
    fn all(&self, kind: &str) -> Vec<Node<'a>> {
        let mut out = Vec::new();
        let mut stack = vec![self.tree.root_node()];
        while let Some(n) = stack.pop() {
            if n.kind() == kind {
                out.push(n);
            }
            let mut cursor = n.walk();
            let children: Vec<Node<'a>> = n.named_children(&mut cursor).collect();
            stack.extend(children.into_iter().rev());
        }
        out
    }

    /// Calls whose span covers the finding's row, innermost first.
    fn calls_at(&self) -> Vec<Node<'a>> {
        let mut calls: Vec<Node<'a>> = self
            .all("call")
            .into_iter()
            .filter(|c| c.start_position().row <= self.row && self.row <= c.end_position().row)
            .collect();
        calls.sort_by_key(|c| c.end_byte() - c.start_byte());
        calls
    }

    /// The call nearest to the finding's row that satisfies `pred`: one covering the row
    /// first, else the closest by line anywhere in the file.
    fn nearest_call(&self, pred: impl Fn(Node<'a>) -> bool) -> Option<Node<'a>> {
        if let Some(c) = self.calls_at().into_iter().find(|c| pred(*c)) {
            return Some(c);
        }
        self.all("call")
            .into_iter()
            .filter(|c| pred(*c))
            .min_by_key(|c| c.start_position().row.abs_diff(self.row))
    }

    /// Last identifier of a call's callee: `tf.keras.layers.Dense` → `Dense`.
    fn callee(&self, call: Node<'a>) -> Option<&'a str> {
        let f = call.child_by_field_name("function")?;
        match f.kind() {
            "identifier" => Some(self.text(f)),
            "attribute" => Some(self.text(f.child_by_field_name("attribute")?)),
            _ => None,
        }
    }

    fn args(&self, call: Node<'a>) -> Vec<Node<'a>> {
        let Some(list) = call.child_by_field_name("arguments") else {
            return Vec::new();
        };
        let mut cursor = list.walk();
        list.named_children(&mut cursor)
            .filter(|n| n.kind() != "comment")
            .collect()
    }

    fn kwarg(&self, call: Node<'a>, name: &str) -> Option<Node<'a>> {
        self.args(call).into_iter().find_map(|a| {
            (a.kind() == "keyword_argument"
                && a.child_by_field_name("name").map(|n| self.text(n)) == Some(name))
            .then(|| a.child_by_field_name("value"))
            .flatten()
        })
    }

    fn positional(&self, call: Node<'a>, i: usize) -> Option<Node<'a>> {
        self.args(call)
            .into_iter()
            .filter(|a| a.kind() != "keyword_argument")
            .nth(i)
    }

    fn int(&self, n: Node<'a>) -> Option<i64> {
        match n.kind() {
            "integer" => self.text(n).replace('_', "").parse().ok(),
            "unary_operator" if self.text(n).starts_with('-') => {
                Some(-self.int(n.child_by_field_name("argument")?)?)
            }
            "parenthesized_expression" => self.int(n.named_child(0)?),
            _ => None,
        }
    }

    fn number(&self, n: Node<'a>) -> Option<f64> {
        match n.kind() {
            "integer" => self.int(n).map(|i| i as f64),
            "float" => self.text(n).replace('_', "").parse().ok(),
            "parenthesized_expression" => self.number(n.named_child(0)?),
            "binary_operator" => {
                let l = self.number(n.child_by_field_name("left")?)?;
                let r = self.number(n.child_by_field_name("right")?)?;
                match self.text(n.child_by_field_name("operator")?) {
                    "**" => Some(l.powf(r)),
                    "*" => Some(l * r),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// A plain string literal's value (no f-string interpolation).
    fn string(&self, n: Node<'a>) -> Option<String> {
        if n.kind() != "string" {
            return None;
        }
        let mut cursor = n.walk();
        let mut out = String::new();
        for c in n.named_children(&mut cursor) {
            match c.kind() {
                "string_content" => out.push_str(self.text(c)),
                "string_start" | "string_end" => {}
                _ => return None,
            }
        }
        Some(out)
    }

    fn boolean(&self, n: Node<'a>) -> Option<bool> {
        match n.kind() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    /// `N` of `range(N)` / `range(0, N)`, when literal.
    fn range_count(&self, n: Node<'a>) -> Option<usize> {
        if n.kind() != "call" || self.callee(n) != Some("range") {
            return None;
        }
        let args = self.args(n);
        let v = match args.as_slice() {
            [end] => self.int(*end)?,
            [start, end] => self.int(*end)? - self.int(*start)?,
            _ => return None,
        };
        usize::try_from(v).ok()
    }

    fn line_of(&self, n: Node<'a>) -> usize {
        n.start_position().row + 1
    }
}

fn set(out: &mut Params, name: &str, value: Value, line: usize) {
    set_src(out, name, value, format!("code, line {line}"));
}

fn set_src(out: &mut Params, name: &str, value: Value, source: String) {
    out.0.insert(name.to_string(), value);
    out.1.insert(name.to_string(), source);
}

// ---------------------------------------------------------------- init (KRS101–104)

fn is_weight_layer(name: &str) -> bool {
    name == "Dense"
        || name == "EinsumDense"
        || name.starts_with("Conv")
        || name.starts_with("SeparableConv")
        || name.starts_with("DepthwiseConv")
}

/// Activation implied by an activation layer (`Activation('relu')`, `ReLU()`, ...).
fn activation_layer(cx: &Cx<'_>, call: Node<'_>) -> Option<String> {
    match cx.callee(call)? {
        "Activation" => activation_value(cx, cx.positional(call, 0)?),
        "ReLU" => Some("relu".into()),
        "LeakyReLU" | "PReLU" => Some("leaky_relu".into()),
        "ELU" => Some("elu".into()),
        "Softmax" => Some("softmax".into()),
        _ => None,
    }
}

/// `'relu'`, `tf.nn.relu`, `keras.activations.relu` → `relu`.
fn activation_value(cx: &Cx<'_>, n: Node<'_>) -> Option<String> {
    let name = match n.kind() {
        "string" => cx.string(n)?,
        "attribute" => cx.text(n.child_by_field_name("attribute")?).to_string(),
        "identifier" => cx.text(n).to_string(),
        "none" => "linear".into(),
        _ => return None,
    };
    let name = name.to_ascii_lowercase();
    Some(if name == "none" {
        "linear".into()
    } else {
        name
    })
}

/// `RandomNormal` → `random_normal`.
fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, ch) in name.chars().enumerate() {
        if ch.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// The initializer name and an explicit scale (stddev / maxval), when readable.
fn initializer_value(cx: &Cx<'_>, n: Node<'_>) -> Option<(String, Option<f64>)> {
    match n.kind() {
        "string" => {
            let s = cx.string(n)?;
            let name = if s.chars().any(|c| c.is_ascii_uppercase()) {
                snake(&s)
            } else {
                s
            };
            Some((name, None))
        }
        "call" => {
            let callee = cx.callee(n)?;
            let name = match callee {
                "random_normal_initializer" => "random_normal".to_string(),
                "truncated_normal_initializer" => "truncated_normal".to_string(),
                "random_uniform_initializer" => "random_uniform".to_string(),
                other => snake(other),
            };
            let scale = ["stddev", "maxval"]
                .iter()
                .find_map(|k| cx.kwarg(n, k).and_then(|v| cx.number(v)));
            Some((name, scale))
        }
        _ => None,
    }
}

struct Layer {
    units: Option<i64>,
    activation: Option<String>,
    init: Option<(String, Option<f64>)>,
    flagged: bool,
    conv: bool,
    line: usize,
}

enum Item {
    Weight(Layer),
    Act(String),
    Norm,
}

fn layer_item(cx: &Cx<'_>, call: Node<'_>, flagged: Node<'_>) -> Option<Item> {
    let name = cx.callee(call)?;
    if is_weight_layer(name) {
        let units = cx
            .kwarg(call, "units")
            .or_else(|| cx.kwarg(call, "filters"))
            .or_else(|| cx.positional(call, 0))
            .and_then(|v| cx.int(v));
        let init_kw = if name.starts_with("DepthwiseConv") {
            "depthwise_initializer"
        } else if name.starts_with("SeparableConv") {
            "pointwise_initializer"
        } else {
            "kernel_initializer"
        };
        return Some(Item::Weight(Layer {
            units,
            activation: cx
                .kwarg(call, "activation")
                .and_then(|v| activation_value(cx, v)),
            init: cx
                .kwarg(call, init_kw)
                .and_then(|v| initializer_value(cx, v)),
            flagged: call.id() == flagged.id(),
            conv: name != "Dense" && name != "EinsumDense",
            line: cx.line_of(call),
        }));
    }
    if let Some(act) = activation_layer(cx, call) {
        return Some(Item::Act(act));
    }
    if name.ends_with("Normalization") {
        return Some(Item::Norm);
    }
    None
}

/// Flatten a `Sequential([...])` argument: lists, `+` of lists, comprehensions over `range(N)`.
fn flatten<'a>(cx: &Cx<'a>, n: Node<'a>, rep: usize, out: &mut Vec<(Node<'a>, usize)>) {
    match n.kind() {
        "list" | "tuple" | "parenthesized_expression" => {
            let mut cursor = n.walk();
            for c in n.named_children(&mut cursor) {
                flatten(cx, c, rep, out);
            }
        }
        "binary_operator" => {
            if let (Some(l), Some(r)) = (
                n.child_by_field_name("left"),
                n.child_by_field_name("right"),
            ) {
                flatten(cx, l, rep, out);
                flatten(cx, r, rep, out);
            }
        }
        "list_comprehension" => {
            let mut cursor = n.walk();
            let count = n
                .named_children(&mut cursor)
                .find(|c| c.kind() == "for_in_clause")
                .and_then(|f| f.child_by_field_name("right"))
                .and_then(|r| cx.range_count(r))
                .unwrap_or(1);
            if let Some(body) = n.child_by_field_name("body") {
                flatten(cx, body, rep.saturating_mul(count), out);
            }
        }
        "call" => out.push((n, rep)),
        _ => {}
    }
}

/// Layer calls of the statements of a block, in order: `model.add(L)`, `x = L(x)`,
/// `for _ in range(N): ...` (repeated N times).
fn block_layers<'a>(cx: &Cx<'a>, block: Node<'a>, rep: usize, out: &mut Vec<(Node<'a>, usize)>) {
    let mut cursor = block.walk();
    for stmt in block.named_children(&mut cursor) {
        match stmt.kind() {
            "for_statement" => {
                let count = stmt
                    .child_by_field_name("right")
                    .and_then(|r| cx.range_count(r))
                    .unwrap_or(1);
                if let Some(body) = stmt.child_by_field_name("body") {
                    block_layers(cx, body, rep.saturating_mul(count), out);
                }
            }
            "expression_statement" => {
                let Some(e) = stmt.named_child(0) else {
                    continue;
                };
                let call = if e.kind() == "assignment" {
                    e.child_by_field_name("right")
                } else {
                    Some(e)
                };
                let Some(call) = call.filter(|c| c.kind() == "call") else {
                    continue;
                };
                if cx.callee(call) == Some("add") {
                    if let Some(arg) = cx.positional(call, 0).filter(|a| a.kind() == "call") {
                        out.push((arg, rep));
                    }
                } else if let Some(inner) = call
                    .child_by_field_name("function")
                    .filter(|f| f.kind() == "call")
                {
                    out.push((inner, rep));
                }
            }
            _ => {}
        }
    }
}

fn enclosing<'a>(n: Node<'a>, kinds: &[&str]) -> Option<Node<'a>> {
    let mut cur = n.parent();
    while let Some(p) = cur {
        if kinds.contains(&p.kind()) {
            return Some(p);
        }
        cur = p.parent();
    }
    None
}

/// The outermost block (function body or module) around `n`, skipping loop bodies.
fn scope_block(n: Node<'_>) -> Option<Node<'_>> {
    let mut cur = n.parent();
    while let Some(p) = cur {
        if p.kind() == "module" {
            return Some(p);
        }
        if p.kind() == "block"
            && p.parent()
                .is_some_and(|pp| matches!(pp.kind(), "function_definition" | "class_definition"))
        {
            return Some(p);
        }
        cur = p.parent();
    }
    None
}

fn init(cx: &Cx<'_>, out: &mut Params) {
    let Some(flagged) = cx
        .calls_at()
        .into_iter()
        .find(|c| cx.callee(*c).is_some_and(is_weight_layer))
    else {
        return;
    };
    // The stack the flagged layer sits in.
    let mut calls = Vec::new();
    let sequential = {
        let mut cur = flagged.parent();
        let mut found = None;
        while let Some(p) = cur {
            if p.kind() == "argument_list"
                && let Some(call) = p.parent().filter(|c| cx.callee(*c) == Some("Sequential"))
            {
                found = cx.positional(call, 0).or_else(|| cx.kwarg(call, "layers"));
                break;
            }
            cur = p.parent();
        }
        found
    };
    if let Some(arg) = sequential {
        flatten(cx, arg, 1, &mut calls);
    } else if let Some(block) = scope_block(flagged) {
        block_layers(cx, block, 1, &mut calls);
    }
    let mut items: Vec<(Item, usize)> = calls
        .into_iter()
        .filter_map(|(c, rep)| layer_item(cx, c, flagged).map(|i| (i, rep)))
        .collect();
    if !items
        .iter()
        .any(|(i, _)| matches!(i, Item::Weight(l) if l.flagged))
    {
        items = layer_item(cx, flagged, flagged)
            .map(|i| vec![(i, 1)])
            .unwrap_or_default();
    }
    // An activation layer right after a weight layer supplies its activation.
    let mut layers: Vec<(Layer, usize)> = Vec::new();
    let mut norm = false;
    for (item, rep) in items {
        match item {
            Item::Weight(l) => layers.push((l, rep)),
            Item::Act(a) => {
                if let Some((last, _)) = layers.last_mut()
                    && last.activation.as_deref().is_none_or(|x| x == "linear")
                {
                    last.activation = Some(a);
                }
            }
            Item::Norm => norm = true,
        }
    }
    let Some((flag, _)) = layers.iter().find(|(l, _)| l.flagged) else {
        return;
    };
    let line = flag.line;
    let act = flag.activation.clone();
    if let Some(a) = act.as_deref().filter(|a| ACTIVATIONS.contains(a)) {
        set(out, "activation", json!(a), line);
    }
    if let Some((name, scale)) = &flag.init
        && INITIALIZERS.contains(&name.as_str())
    {
        set(out, "initializer", json!(name), line);
        if let Some(s) = scale.filter(|s| (1e-6..=100.0).contains(s)) {
            set(out, "init_scale", json!(s), line);
        }
    }
    // Drop an output layer whose activation differs from the stack's.
    if layers.len() >= 2 {
        let (last, rep) = &layers[layers.len() - 1];
        if *rep == 1 && !last.flagged && last.activation != act {
            layers.pop();
        }
    }
    let first_line = layers.first().map_or(line, |(l, _)| l.line);
    let last_line = layers.last().map_or(line, |(l, _)| l.line);
    let units: Option<Vec<i64>> = layers
        .iter()
        .map(|(l, rep)| l.units.map(|u| (u.clamp(1, 4096), *rep)))
        .collect::<Option<Vec<_>>>()
        .map(|v| {
            v.into_iter()
                .flat_map(|(u, rep)| std::iter::repeat_n(u, rep))
                .collect()
        });
    let Some(mut widths) = units.filter(|w| !w.is_empty()) else {
        return;
    };
    let mut caveats = Vec::new();
    if layers.iter().any(|(l, _)| l.conv) {
        caveats.push("conv layers simulated as Dense of the same width");
    }
    if norm {
        caveats.push("normalization layers not simulated");
    }
    if widths.len() > MAX_LAYERS {
        widths.truncate(MAX_LAYERS);
        caveats.push("truncated to 64 layers");
    }
    let mut source = if widths.len() == 1 {
        widths = vec![widths[0]; DEFAULT_DEPTH];
        format!("code, line {line} (units); depth {DEFAULT_DEPTH} is a default")
    } else if first_line == last_line {
        format!("code, line {first_line}")
    } else {
        format!("code, lines {first_line}–{last_line}")
    };
    if !caveats.is_empty() {
        source = format!("{source}; {}", caveats.join("; "));
    }
    set_src(out, "widths", json!(widths), source);
}

// ---------------------------------------------------------------- callbacks (KRS201–203)

fn nearest_fit_batch_size(cx: &Cx<'_>) -> Option<(i64, usize)> {
    let call = cx.nearest_call(|c| {
        cx.callee(c) == Some("fit") && cx.kwarg(c, "batch_size").and_then(|v| cx.int(v)).is_some()
    })?;
    let v = cx.int(cx.kwarg(call, "batch_size")?)?;
    Some((v, cx.line_of(call)))
}

fn callbacks(cx: &Cx<'_>, out: &mut Params) {
    let cb = cx.nearest_call(|c| matches!(cx.callee(c), Some("ModelCheckpoint" | "TensorBoard")));
    if let Some(cb) = cb {
        let line = cx.line_of(cb);
        if cx.callee(cb) == Some("ModelCheckpoint") {
            set(out, "callback", json!("checkpoint"), line);
            if let Some(v) = cx.kwarg(cb, "save_freq").and_then(|v| cx.int(v)) {
                set(out, "save_freq", json!(v.clamp(1, 1_000_000)), line);
            }
            let weights_only = cx
                .kwarg(cb, "save_weights_only")
                .and_then(|v| cx.boolean(v))
                .or_else(|| {
                    cx.kwarg(cb, "filepath")
                        .or_else(|| cx.positional(cb, 0))
                        .and_then(|v| cx.string(v))
                        .map(|s| {
                            s.ends_with(".weights.h5")
                                || s.ends_with(".h5") && !s.ends_with(".keras")
                        })
                });
            if let Some(w) = weights_only {
                set(out, "save_weights_only", json!(w), line);
            }
        } else {
            set(out, "callback", json!("tensorboard"), line);
            if let Some(v) = cx.kwarg(cb, "update_freq") {
                let freq = match cx.string(v).as_deref() {
                    Some("batch") => Some(1),
                    _ => cx.int(v),
                };
                if let Some(f) = freq {
                    set(out, "update_freq", json!(f.clamp(1, 1_000_000)), line);
                }
            }
            if let Some(v) = cx.kwarg(cb, "histogram_freq").and_then(|v| cx.int(v)) {
                set(out, "histogram_freq", json!(v.clamp(0, 1000)), line);
            }
        }
    }
    if let Some((b, l)) = nearest_fit_batch_size(cx) {
        set(out, "batch_size", json!(b.clamp(1, 4096)), l);
    }
}

// ---------------------------------------------------------------- pipeline (KRS301–304)

const DATASET_METHODS: &[&str] = &[
    "map",
    "batch",
    "padded_batch",
    "shuffle",
    "cache",
    "prefetch",
    "interleave",
    "repeat",
    "take",
    "filter",
    "unbatch",
];

struct Op {
    name: &'static str,
    arg: Option<i64>,
}

fn op_of(cx: &Cx<'_>, call: Node<'_>) -> Option<Op> {
    let method = cx.callee(call)?;
    let parallel = cx
        .kwarg(call, "num_parallel_calls")
        .is_some_and(|v| v.kind() != "none");
    let name = match method {
        "map" if parallel => "map_parallel",
        "map" => "map",
        "interleave" if parallel => "interleave_parallel",
        "interleave" => "interleave",
        "batch" | "padded_batch" => "batch",
        "shuffle" => "shuffle",
        "cache" => "cache",
        "prefetch" => "prefetch",
        "repeat" => "repeat",
        "take" => "take",
        "filter" => "filter",
        "unbatch" => "unbatch",
        _ => "other",
    };
    let arg = match name {
        "batch" => cx
            .kwarg(call, "batch_size")
            .or_else(|| cx.positional(call, 0)),
        "shuffle" => cx
            .kwarg(call, "buffer_size")
            .or_else(|| cx.positional(call, 0)),
        _ => None,
    }
    .and_then(|v| cx.int(v));
    Some(Op { name, arg })
}

/// Unwind `a.b(..).c(..)` into its method calls (innermost first) and the chain's root.
fn unwind<'a>(cx: &Cx<'a>, outer: Node<'a>) -> (Vec<Node<'a>>, Node<'a>) {
    let mut calls = Vec::new();
    let mut cur = outer;
    loop {
        if cur.kind() == "call" {
            let Some(f) = cur.child_by_field_name("function") else {
                break;
            };
            if f.kind() == "attribute" {
                let is_method = cx
                    .callee(cur)
                    .is_some_and(|m| DATASET_METHODS.contains(&m) || m == "with_options");
                let Some(obj) = f.child_by_field_name("object") else {
                    break;
                };
                if is_method {
                    calls.push(cur);
                    cur = obj;
                    continue;
                }
            }
        }
        break;
    }
    calls.reverse();
    (calls, cur)
}

/// The `var = <expr>` assignment statements of the block containing `stmt`.
fn assignments<'a>(cx: &Cx<'a>, block: Node<'a>) -> Vec<(Node<'a>, &'a str, Node<'a>)> {
    let mut cursor = block.walk();
    block
        .named_children(&mut cursor)
        .filter_map(|s| {
            let e = s.named_child(0).filter(|e| e.kind() == "assignment")?;
            let left = e
                .child_by_field_name("left")
                .filter(|l| l.kind() == "identifier")?;
            Some((s, cx.text(left), e.child_by_field_name("right")?))
        })
        .collect()
}

fn pipeline(cx: &Cx<'_>, out: &mut Params) {
    let Some(inner) = cx.calls_at().into_iter().find(|c| {
        cx.callee(*c).is_some_and(|m| DATASET_METHODS.contains(&m))
            && c.child_by_field_name("function")
                .is_some_and(|f| f.kind() == "attribute")
    }) else {
        return;
    };
    // Climb to the outermost call of the chain.
    let mut outer = inner;
    while let Some(attr) = outer.parent().filter(|p| p.kind() == "attribute") {
        match attr.parent().filter(|c| c.kind() == "call") {
            Some(call) => outer = call,
            None => break,
        }
    }
    let (mut calls, root) = unwind(cx, outer);
    let mut first_line = cx.line_of(outer);
    let mut last_line = first_line;
    // Follow `ds = ds.x()` reassignments backwards and forwards in the same block.
    let stmt = enclosing(outer, &["expression_statement"]);
    let block = stmt.and_then(|s| s.parent());
    if let (Some(stmt), Some(block)) = (stmt, block) {
        let assigns = assignments(cx, block);
        let here = assigns.iter().position(|(s, _, _)| s.id() == stmt.id());
        let mut root_name = (root.kind() == "identifier").then(|| cx.text(root));
        if let Some(here) = here {
            let mut i = here;
            while let Some(name) = root_name {
                let Some(j) = assigns[..i].iter().rposition(|(_, n, _)| *n == name) else {
                    break;
                };
                let (s, _, right) = assigns[j];
                let (before, r) = unwind(cx, right);
                if before.is_empty() {
                    break;
                }
                calls.splice(0..0, before);
                first_line = cx.line_of(s);
                root_name = (r.kind() == "identifier").then(|| cx.text(r));
                i = j;
            }
            let var = assigns[here].1;
            for (s, name, right) in &assigns[here + 1..] {
                if *name != var {
                    continue;
                }
                let (more, r) = unwind(cx, *right);
                if more.is_empty() || r.kind() != "identifier" || cx.text(r) != var {
                    break;
                }
                calls.extend(more);
                last_line = cx.line_of(*s);
            }
        }
    }
    let ops: Vec<Op> = calls
        .into_iter()
        .filter(|c| cx.callee(*c) != Some("with_options"))
        .filter_map(|c| op_of(cx, c))
        .take(32)
        .collect();
    if ops.is_empty() {
        return;
    }
    let lines = if first_line == last_line {
        format!("code, line {first_line}")
    } else {
        format!("code, lines {first_line}–{last_line}")
    };
    let names: Vec<&str> = ops.iter().map(|o| o.name).collect();
    set_src(out, "steps", json!(names), lines.clone());
    if let Some(b) = ops.iter().find(|o| o.name == "batch").and_then(|o| o.arg) {
        set_src(out, "batch_size", json!(b.clamp(1, 4096)), lines.clone());
    }
    if let Some(b) = ops.iter().find(|o| o.name == "shuffle").and_then(|o| o.arg) {
        set_src(out, "shuffle_buffer", json!(b.clamp(1, 1_000_000)), lines);
    }
}

// ---------------------------------------------------------------- batch (KRS401)

fn batch(cx: &Cx<'_>, out: &mut Params) {
    for key in ["batch_size", "validation_batch_size"] {
        let found = cx
            .calls_at()
            .into_iter()
            .find_map(|c| cx.kwarg(c, key).and_then(|v| cx.int(v)).map(|v| (v, c)));
        if let Some((v, c)) = found {
            set(out, "batch_size", json!(v.clamp(1, 65536)), cx.line_of(c));
            return;
        }
    }
}

// ---------------------------------------------------------------- mixed precision (KRS501–503)

fn mixed_precision(cx: &Cx<'_>, out: &mut Params) {
    let policies: Vec<(String, usize)> = cx
        .all("string")
        .into_iter()
        .filter_map(|s| cx.string(s).map(|v| (v, cx.line_of(s))))
        .filter(|(v, _)| v == "mixed_float16" || v == "mixed_bfloat16")
        .collect();
    if let Some((v, line)) = policies.iter().min_by_key(|(_, l)| l.abs_diff(cx.row + 1)) {
        let dtype = v.trim_start_matches("mixed_");
        set(out, "dtype", json!(dtype), *line);
    }
    let lso = cx.nearest_call(|c| {
        cx.callee(c) == Some("LossScaleOptimizer")
            && cx
                .kwarg(c, "initial_scale")
                .and_then(|v| cx.number(v))
                .is_some()
    });
    if let Some(c) = lso
        && let Some(s) = cx.kwarg(c, "initial_scale").and_then(|v| cx.number(v))
    {
        set(
            out,
            "loss_scale",
            json!(s.clamp(1.0, 16_777_216.0)),
            cx.line_of(c),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(target: &str, src: &str, line: usize) -> (Value, BTreeMap<String, String>) {
        let (p, s) = params_from_source(target, src, line);
        (Value::Object(p), s)
    }

    #[test]
    fn init_reads_a_literal_sequential_with_a_comprehension() {
        let src = "\
import keras
model = keras.Sequential(
    [keras.Input((32,))]
    + [keras.layers.Dense(128, activation='relu', kernel_initializer='random_normal') for _ in range(20)]
    + [keras.layers.Dense(1, activation='sigmoid')]
)
";
        let (p, s) = check("KRS101", src, 4);
        assert_eq!(p["widths"], json!(vec![128; 20]));
        assert_eq!(p["activation"], json!("relu"));
        assert_eq!(p["initializer"], json!("random_normal"));
        assert_eq!(s["widths"], "code, line 4");
        assert_eq!(s["initializer"], "code, line 4");
    }

    #[test]
    fn init_reads_list_elements_and_activation_layers() {
        let src = "\
from tensorflow.keras import layers, initializers
import tensorflow as tf
m = tf.keras.Sequential([
    layers.Dense(64, kernel_initializer=initializers.RandomNormal(stddev=0.05)),
    layers.ReLU(),
    layers.Dense(32, activation=tf.nn.relu, kernel_initializer='RandomNormal'),
    layers.Dense(10, activation='softmax'),
])
";
        let (p, s) = check("KRS101", src, 4);
        assert_eq!(p["widths"], json!([64, 32]));
        assert_eq!(p["activation"], json!("relu"));
        assert_eq!(p["initializer"], json!("random_normal"));
        assert_eq!(p["init_scale"], json!(0.05));
        assert_eq!(s["widths"], "code, lines 4–6");
        let (p, _) = check("init", src, 6);
        assert_eq!(p["initializer"], json!("random_normal"));
        assert!(p.get("init_scale").is_none());
    }

    #[test]
    fn init_reads_add_calls_in_a_loop_and_functional_stacks() {
        let src = "\
def build():
    model = Sequential()
    model.add(Input((16,)))
    for _ in range(8):
        model.add(Dense(256, activation='elu', kernel_initializer='random_uniform'))
    model.add(Dense(3))
    return model

def functional(x):
    h = layers.Dense(100, activation='relu', kernel_initializer='truncated_normal')(x)
    h = layers.Dense(50, activation='relu')(h)
    h = layers.BatchNormalization()(h)
    return layers.Dense(1)(h)
";
        let (p, s) = check("KRS102", src, 5);
        assert_eq!(p["widths"], json!(vec![256; 8]));
        assert_eq!(p["activation"], json!("elu"));
        assert_eq!(p["initializer"], json!("random_uniform"));
        assert_eq!(s["widths"], "code, line 5");
        let (p, s) = check("KRS101", src, 10);
        assert_eq!(p["widths"], json!([100, 50]));
        assert_eq!(p["initializer"], json!("truncated_normal"));
        assert!(
            s["widths"].contains("normalization layers not simulated"),
            "{s:?}"
        );
    }

    #[test]
    fn init_single_layer_gets_default_depth() {
        let (p, s) = check(
            "KRS101",
            "layer = Dense(512, activation='relu', kernel_initializer='normal')\n",
            1,
        );
        assert_eq!(p["widths"], json!(vec![512; 20]));
        assert!(s["widths"].contains("depth 20 is a default"));
        assert_eq!(p["initializer"], json!("normal"));
    }

    #[test]
    fn init_without_a_layer_on_the_line_reads_nothing() {
        let (p, s) = check("KRS101", "x = 1\n", 1);
        assert_eq!(p, json!({}));
        assert!(s.is_empty());
    }

    #[test]
    fn callbacks_read_checkpoint_and_fit() {
        let src = "\
ckpt = keras.callbacks.ModelCheckpoint('m.weights.h5', save_freq=10)
tb = keras.callbacks.TensorBoard('logs', update_freq='batch', histogram_freq=1)
model.fit(x, y, batch_size=64, callbacks=[ckpt, tb])
";
        let (p, s) = check("KRS201", src, 1);
        assert_eq!(p["callback"], json!("checkpoint"));
        assert_eq!(p["save_freq"], json!(10));
        assert_eq!(p["save_weights_only"], json!(true));
        assert_eq!(p["batch_size"], json!(64));
        assert_eq!(s["batch_size"], "code, line 3");
        let (p, _) = check("KRS202", src, 2);
        assert_eq!(p["callback"], json!("tensorboard"));
        assert_eq!(p["update_freq"], json!(1));
        assert_eq!(p["histogram_freq"], json!(1));
    }

    #[test]
    fn pipeline_reads_a_chain_and_its_reassignments() {
        let src = "\
ds = tf.data.Dataset.from_tensor_slices((x, y))
ds = ds.shuffle(10_000)
ds = ds.map(load).batch(64)
ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
other = 3
";
        let (p, s) = check("KRS301", src, 3);
        assert_eq!(
            p["steps"],
            json!(["shuffle", "map", "batch", "map_parallel"])
        );
        assert_eq!(p["batch_size"], json!(64));
        assert_eq!(p["shuffle_buffer"], json!(10000));
        assert_eq!(s["steps"], "code, lines 2–4");
    }

    #[test]
    fn pipeline_reads_a_multiline_chain() {
        let src = "\
train = (tf.data.TFRecordDataset(files)
         .interleave(read, cycle_length=4)
         .map(parse)
         .batch(32)
         .prefetch(tf.data.AUTOTUNE))
";
        let (p, s) = check("pipeline", src, 3);
        assert_eq!(
            p["steps"],
            json!(["interleave", "map", "batch", "prefetch"])
        );
        assert_eq!(s["steps"], "code, line 1");
    }

    #[test]
    fn batch_reads_the_calls_batch_size() {
        let (p, s) = check("KRS401", "model.fit(x, y,\n  batch_size=1024)\n", 2);
        assert_eq!(p["batch_size"], json!(1024));
        assert_eq!(s["batch_size"], "code, line 1");
    }

    #[test]
    fn mixed_precision_reads_policy_and_scale() {
        let src = "\
mixed_precision.set_global_policy('mixed_bfloat16')
opt = keras.optimizers.LossScaleOptimizer(opt, initial_scale=2 ** 12)
";
        let (p, _) = check("KRS502", src, 1);
        assert_eq!(p["dtype"], json!("bfloat16"));
        assert_eq!(p["loss_scale"], json!(4096.0));
    }

    #[test]
    fn eager_reads_fit_batch_size_and_unknown_targets_read_nothing() {
        let src = "model.compile(run_eagerly=True)\nmodel.fit(x, y, batch_size=16)\n";
        let (p, _) = check("KRS601", src, 1);
        assert_eq!(p["batch_size"], json!(16));
        let (p, _) = check("KRS999", src, 1);
        assert_eq!(p, json!({}));
    }
}

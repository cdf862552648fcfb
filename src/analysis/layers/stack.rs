//! Layer stacks visible in one place: a `Sequential([...])` list, `model.add(...)` statements,
//! or a functional chain (`x = layers.Dense(64)(x)`), with the role of every layer in them.
//!
//! Stacks answer "what comes right after this layer" (an activation, a normalization), "what
//! feeds it" (its fan-in) and "is the whole model visible". Walks are iterative and bounded, so
//! deeply nested or very long code cannot exhaust the stack or take quadratic time.

use tree_sitter::Node;

use super::{
    Activation, WeightLayer, activation_function, activation_layer_symbol, is_normalization,
    is_wrapper, last_shape_dim, weight_layer_family,
};
use crate::analysis::{Context, call};
use crate::syntax::NodeExt;

/// Most steps a functional chain is followed in each direction.
const MAX_CHAIN: usize = 32;
/// Most layers of a list or `add` stack kept on each side of the layer asked about; beyond
/// that, the stack counts as having invisible ends (keeps very long stacks linear to analyse).
const MAX_WINDOW: usize = 32;
/// Most statements searched for the next use of a variable.
const MAX_LOOKAHEAD: usize = 64;
/// Most nodes visited when searching one statement for a name.
const MAX_NODES: usize = 4_000;
/// Most wrapper levels (`TimeDistributed(Bidirectional(...))`).
const MAX_WRAPPERS: usize = 4;

/// Where a stack was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackKind {
    /// The list given to `Sequential([...])`.
    Sequential,
    /// Consecutive `model.add(layer)` statements.
    Add,
    /// `x = Layer(...)(x)` statements threading one value.
    Functional,
    /// No visible stack: the layer alone (e.g. `self.dense = layers.Dense(...)`).
    Alone,
}

/// How a layer of a stack affects the signal's scale and shape.
#[derive(Debug, Clone, Copy)]
pub enum Role<'t> {
    Weight(WeightLayer<'t>),
    /// BatchNormalization, LayerNormalization and relatives: rescale what came before.
    Normalization,
    /// An activation layer (`Activation("relu")`, `ReLU()`) or function (`tf.nn.relu(x)`).
    Activation(Activation),
    /// `Input(shape=...)` / `InputLayer(...)`, with the literal last dimension.
    Input(Option<u64>),
    /// A Keras layer without weights that matter here (Dropout, pooling, Flatten, ...).
    PassThrough(Shape),
    /// Weight, activation or pass-through layers added in a loop or a branch
    /// (`for _ in range(n): model.add(Dense(64))`): no rescaling, but an unknown number.
    Branch,
    /// Anything else: a variable, a custom layer, a `Lambda`, a nested model.
    Unknown,
}

/// What a pass-through layer keeps of its input's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Every dimension (Dropout, GaussianNoise, ...).
    Same,
    /// The channel (last) dimension (pooling, padding, upsampling, cropping).
    Channels,
    /// Neither (Flatten, Reshape, global pooling, ...).
    Changed,
}

/// One layer of a stack: the node (a layer constructor call, or the value) and its role.
#[derive(Debug, Clone, Copy)]
pub struct Item<'t> {
    pub node: Node<'t>,
    pub role: Role<'t>,
}

/// Layers in order, the position of the layer asked about, and whether the model's ends are
/// visible (nothing unseen can come before the first or after the last layer).
#[derive(Debug, Clone)]
pub struct Stack<'t> {
    pub kind: StackKind,
    pub items: Vec<Item<'t>>,
    pub index: usize,
    pub complete_start: bool,
    pub complete_end: bool,
}

/// The role of a stack item (a layer constructor or an activation call).
pub fn role<'t>(ctx: &Context, node: Node<'t>) -> Role<'t> {
    let mut node = node;
    for _ in 0..MAX_WRAPPERS {
        if node.kind_name() != "call" {
            return Role::Unknown;
        }
        let Some(symbol) = ctx.keras_callee(node) else {
            let path = node.field("function").and_then(|f| ctx.resolve(f));
            let Some(path) = path else {
                return Role::Unknown;
            };
            let activation = activation_function(&path);
            if activation.is_nonlinear() {
                return Role::Activation(activation);
            }
            // `tfa.layers.InstanceNormalization`, `keras_contrib...GroupNormalization`.
            if path.ends_with("Normalization") {
                return Role::Normalization;
            }
            return Role::Unknown;
        };
        if symbol.module() == "layers"
            && let Some((family, rank)) = weight_layer_family(symbol.name())
        {
            return Role::Weight(WeightLayer {
                call: node,
                family,
                rank,
            });
        }
        if is_wrapper(&symbol) {
            let Some(inner) = call::argument(ctx.source, node, 0, "layer") else {
                return Role::Unknown;
            };
            node = inner;
            continue;
        }
        if is_normalization(&symbol) {
            return Role::Normalization;
        }
        if let Some(activation) = activation_layer_symbol(ctx, &symbol, node) {
            return Role::Activation(activation);
        }
        if symbol.module() != "layers" {
            if symbol.name() == "Input" {
                return Role::Input(input_width(ctx, node, "shape"));
            }
            return Role::Unknown;
        }
        return match symbol.name() {
            "Input" => Role::Input(input_width(ctx, node, "shape")),
            "InputLayer" => Role::Input(input_width(ctx, node, "input_shape")),
            "Lambda" => Role::Unknown,
            name => Role::PassThrough(pass_through_shape(name)),
        };
    }
    Role::Unknown
}

fn input_width(ctx: &Context, call: Node, keyword: &str) -> Option<u64> {
    let shape = call::argument(ctx.source, call, 0, keyword)
        .or_else(|| call::keyword(ctx.source, call, "shape"))?;
    last_shape_dim(ctx, shape)
}

fn pass_through_shape(name: &str) -> Shape {
    let keeps_all = [
        "Dropout",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "SpatialDropout3D",
        "GaussianNoise",
        "GaussianDropout",
        "AlphaDropout",
        "ActivityRegularization",
        "Masking",
    ];
    if keeps_all.contains(&name) {
        return Shape::Same;
    }
    let keeps_channels = [
        "MaxPooling",
        "AveragePooling",
        "MaxPool",
        "AvgPool",
        "ZeroPadding",
        "UpSampling",
        "Cropping",
    ];
    if keeps_channels.iter().any(|p| name.starts_with(p)) {
        return Shape::Channels;
    }
    Shape::Changed
}

/// The stack `layer_call` stands in, if it stands in one.
pub fn stack_of<'t>(ctx: &Context<'t>, layer_call: Node<'t>) -> Option<Stack<'t>> {
    let item = lift_wrappers(ctx, layer_call);
    sequential_stack(ctx, item)
        .or_else(|| add_stack(ctx, item))
        .or_else(|| functional_stack(ctx, item))
}

/// The stack `layer_call` stands in, or a stack of that layer alone with invisible ends.
pub fn stack_around<'t>(ctx: &Context<'t>, layer_call: Node<'t>) -> Stack<'t> {
    stack_of(ctx, layer_call).unwrap_or_else(|| Stack {
        kind: StackKind::Alone,
        items: vec![Item {
            node: layer_call,
            role: role(ctx, layer_call),
        }],
        index: 0,
        complete_start: false,
        complete_end: false,
    })
}

/// `TimeDistributed(Dense(...))`: the stack holds the wrapper.
fn lift_wrappers<'t>(ctx: &Context, node: Node<'t>) -> Node<'t> {
    let mut node = node;
    for _ in 0..MAX_WRAPPERS {
        let Some(args) = node.parent().filter(|p| p.kind_name() == "argument_list") else {
            break;
        };
        let Some(wrapper) = args.parent() else {
            break;
        };
        let wraps = ctx.keras_callee(wrapper).is_some_and(|s| is_wrapper(&s))
            && call::positional(wrapper, 0).is_some_and(|first| first.id() == node.id());
        if !wraps {
            break;
        }
        node = wrapper;
    }
    node
}

fn is_sequential(ctx: &Context, call: Node) -> bool {
    call.kind_name() == "call"
        && ctx
            .keras_callee(call)
            .is_some_and(|s| s.name() == "Sequential")
}

/// The list literal of layers given to a `Sequential(...)` call, if any.
fn sequential_list<'t>(ctx: &Context, call: Node<'t>) -> Option<Node<'t>> {
    call::argument(ctx.source, call, 0, "layers").filter(|l| l.kind_name() == "list")
}

/// A stack entry before classification: a layer expression, or a compound statement that adds
/// layers out of sight (`if ...: model.add(...)`, a loop).
#[derive(Clone, Copy)]
enum Entry<'t> {
    Layer(Node<'t>),
    Hidden(Node<'t>),
}

/// The entries of a `Sequential` list literal, and whether it is plain (no `*splat`).
fn list_entries<'t>(list: Node<'t>) -> (Vec<Entry<'t>>, bool) {
    let mut cursor = list.walk();
    let nodes: Vec<Node<'t>> = list
        .named_children(&mut cursor)
        .filter(|n| n.kind_name() != "comment")
        .collect();
    let plain = nodes.iter().all(|n| n.kind_name() != "list_splat");
    (nodes.into_iter().map(Entry::Layer).collect(), plain)
}

/// Classifies the entries within [`MAX_WINDOW`] of the layer at `index`; a stack cut by the
/// window has invisible ends there. `receiver` names the model of `model.add(...)` stacks.
fn classify<'t>(
    ctx: &Context,
    kind: StackKind,
    entries: &[Entry<'t>],
    index: usize,
    complete: bool,
    receiver: &str,
) -> Stack<'t> {
    let low = index.saturating_sub(MAX_WINDOW);
    let high = (index + MAX_WINDOW + 1).min(entries.len());
    let mut items = Vec::with_capacity(high - low);
    let mut position = 0;
    let mut hidden = false;
    for (i, entry) in entries.iter().enumerate().take(high).skip(low) {
        if i == index {
            position = items.len();
        }
        match *entry {
            Entry::Layer(node) => items.push(Item {
                node,
                role: role(ctx, node),
            }),
            Entry::Hidden(statement) => match hidden_role(ctx, statement, receiver) {
                Ok(adds) => items.extend(adds),
                Err(role) => {
                    hidden = true;
                    items.push(Item {
                        node: statement,
                        role,
                    });
                }
            },
        }
    }
    let complete = complete && !hidden;
    Stack {
        kind,
        items,
        index: position,
        complete_start: complete && low == 0,
        complete_end: complete && high == entries.len(),
    }
}

/// What a compound statement adding layers contributes: its layers when it only adds
/// pass-through layers conditionally (`if drop: model.add(Dropout(0.2))` changes neither depth
/// nor scale), else one [`Role::Branch`] or [`Role::Unknown`] item.
fn hidden_role<'t>(
    ctx: &Context,
    statement: Node<'t>,
    receiver: &str,
) -> Result<Vec<Item<'t>>, Role<'t>> {
    let Some((adds, repeated)) = nested_adds(ctx, statement, receiver) else {
        return Err(Role::Unknown);
    };
    if !repeated && adds.iter().all(|a| matches!(a.role, Role::PassThrough(_))) {
        return Ok(adds);
    }
    let plain = adds.iter().all(|a| {
        matches!(
            a.role,
            Role::Weight(_) | Role::PassThrough(_) | Role::Activation(_)
        )
    });
    Err(if plain { Role::Branch } else { Role::Unknown })
}

fn sequential_stack<'t>(ctx: &Context, item: Node<'t>) -> Option<Stack<'t>> {
    let list = item.parent().filter(|p| p.kind_name() == "list")?;
    let mut owner = list.parent()?;
    if owner.kind_name() == "keyword_argument" {
        owner = owner.parent()?;
    }
    let call = owner
        .parent()
        .filter(|_| owner.kind_name() == "argument_list")?;
    if !is_sequential(ctx, call) || sequential_list(ctx, call).map(|l| l.id()) != Some(list.id()) {
        return None;
    }
    let (entries, plain) = list_entries(list);
    let index = entries
        .iter()
        .position(|e| matches!(e, Entry::Layer(n) if n.id() == item.id()))?;
    Some(classify(
        ctx,
        StackKind::Sequential,
        &entries,
        index,
        plain,
        "",
    ))
}

/// `receiver.add(layer)` as a statement: the receiver's text and the layer.
fn add_call<'t>(ctx: &Context, statement: Node<'t>) -> Option<(String, Node<'t>)> {
    if statement.kind_name() != "expression_statement" {
        return None;
    }
    let call = statement
        .named_child(0)
        .filter(|c| c.kind_name() == "call")?;
    let function = call
        .field("function")
        .filter(|f| f.kind_name() == "attribute")?;
    let method = function.field("attribute")?;
    if ctx.text(method) != "add" {
        return None;
    }
    let receiver = function.field("object")?;
    let layer = call::positional(call, 0)?;
    Some((ctx.text(receiver).to_string(), layer))
}

/// `receiver = Sequential(...)` as a statement: the `Sequential` call.
fn sequential_assignment<'t>(
    ctx: &Context,
    statement: Node<'t>,
    receiver: &str,
) -> Option<Node<'t>> {
    if statement.kind_name() != "expression_statement" {
        return None;
    }
    let assignment = statement
        .named_child(0)
        .filter(|a| a.kind_name() == "assignment")?;
    let left = assignment.field("left")?;
    let right = assignment.field("right")?;
    (ctx.text(left) == receiver && is_sequential(ctx, right)).then_some(right)
}

fn add_stack<'t>(ctx: &Context<'t>, item: Node<'t>) -> Option<Stack<'t>> {
    let args = item.parent().filter(|p| p.kind_name() == "argument_list")?;
    let statement = args.parent()?.parent()?;
    let (receiver, layer) = add_call(ctx, statement)?;
    if layer.id() != item.id() {
        return None;
    }
    let block = statement
        .parent()
        .filter(|b| matches!(b.kind_name(), "block" | "module"))?;
    // Every statement of the block is read (at module level: the whole file).
    if block.kind_name() == "module" {
        ctx.depends_on_everything();
    } else {
        ctx.depends_on_range(block.byte_range());
    }
    let statements: Vec<Node<'t>> = if block.kind_name() == "module" {
        ctx.statements().to_vec()
    } else {
        let mut cursor = block.walk();
        block.named_children(&mut cursor).collect()
    };
    let statements: Vec<Node<'t>> = statements
        .into_iter()
        .filter(|n| n.is_named() && n.kind_name() != "comment")
        .collect();
    let marker = format!("{receiver}.add(");
    let mut entries = Vec::new();
    let mut complete = false;
    for &statement in &statements {
        if let Some(sequential) = sequential_assignment(ctx, statement, &receiver) {
            // A (re)assignment starts the model afresh.
            entries.clear();
            complete = true;
            if let Some(list) = sequential_list(ctx, sequential) {
                let (listed, plain) = list_entries(list);
                entries = listed;
                complete = plain;
            }
            continue;
        }
        match add_call(ctx, statement) {
            Some((r, layer)) if r == receiver => entries.push(Entry::Layer(layer)),
            _ if ctx.text(statement).contains(&marker) => entries.push(Entry::Hidden(statement)),
            _ => {}
        }
    }
    let index = entries
        .iter()
        .position(|e| matches!(e, Entry::Layer(n) if n.id() == item.id()))?;
    Some(classify(
        ctx,
        StackKind::Add,
        &entries,
        index,
        complete,
        &receiver,
    ))
}

/// The layers a compound statement adds to `receiver` (`if drop: model.add(Dropout(0.2))`,
/// a loop of `model.add(...)`) and whether they sit in a loop or a nested function; `None` when
/// the search is cut short.
fn nested_adds<'t>(
    ctx: &Context,
    statement: Node<'t>,
    receiver: &str,
) -> Option<(Vec<Item<'t>>, bool)> {
    let mut found = Vec::new();
    let mut repeated = false;
    let mut stack = vec![statement];
    let mut visited = 0;
    while let Some(node) = stack.pop() {
        visited += 1;
        if visited > MAX_NODES {
            return None;
        }
        if matches!(
            node.kind_name(),
            "for_statement" | "while_statement" | "function_definition"
        ) {
            repeated = true;
        }
        if node.kind_name() == "expression_statement"
            && let Some((r, layer)) = add_call(ctx, node)
        {
            if r == receiver {
                found.push(Item {
                    node: layer,
                    role: role(ctx, layer),
                });
            }
            continue;
        }
        let mut cursor = node.walk();
        stack.extend(node.named_children(&mut cursor));
    }
    Some((found, repeated))
}

/// The statement (a child of a block or the module) that contains `node`, if it is at most
/// [`MAX_CHAIN`] levels up (`Node::parent` costs the node's depth, so deep walks are avoided).
/// What a scan of `statement`'s siblings can reach: its block, or the whole file at module
/// level (where the scan goes on into the statements of the other trees). Only the unit
/// holding a block can change it: a read of no more spares the other units' edits.
fn sibling_scan_bounds(statement: Node) -> std::ops::Range<usize> {
    match statement.parent() {
        Some(block) if block.kind_name() == "block" => block.byte_range(),
        _ => 0..usize::MAX,
    }
}

fn enclosing_statement(node: Node) -> Option<Node> {
    let mut current = node;
    for _ in 0..MAX_CHAIN {
        let parent = current.parent()?;
        if matches!(parent.kind_name(), "block" | "module") {
            return Some(current);
        }
        current = parent;
    }
    None
}

/// `layer(...)(value)` or `tf.nn.relu(value)`: the stack item it applies and its input.
fn applied<'t>(ctx: &Context, call_node: Node<'t>) -> Option<(Node<'t>, Node<'t>)> {
    if call_node.kind_name() != "call" {
        return None;
    }
    let function = call_node.field("function")?;
    let input = call::positional(call_node, 0)?;
    if function.kind_name() == "call" {
        return Some((function, input));
    }
    let path = ctx.resolve(function)?;
    activation_function(&path)
        .is_nonlinear()
        .then_some((call_node, input))
}

/// The value assigned by `statement` when it is `name = value`.
fn assigned_value<'t>(ctx: &Context, statement: Node<'t>, name: &str) -> Option<Node<'t>> {
    if statement.kind_name() != "expression_statement" {
        return None;
    }
    let assignment = statement
        .named_child(0)
        .filter(|a| a.kind_name() == "assignment")?;
    let left = assignment
        .field("left")
        .filter(|l| l.kind_name() == "identifier")?;
    if ctx.text(left) != name {
        return None;
    }
    assignment.field("right")
}

/// Whether `node`'s subtree mentions the identifier `name` (true when the search is cut short).
fn mentions(ctx: &Context, node: Node, name: &str) -> bool {
    let mut stack = vec![node];
    let mut visited = 0;
    while let Some(current) = stack.pop() {
        visited += 1;
        if visited > MAX_NODES {
            return true;
        }
        if current.kind_name() == "identifier" && ctx.text(current) == name {
            return true;
        }
        let mut cursor = current.walk();
        stack.extend(current.named_children(&mut cursor));
    }
    false
}

fn is_keras_named(ctx: &Context, call_node: Node, name: &str) -> bool {
    call_node.kind_name() == "call"
        && ctx
            .keras_callee(call_node)
            .is_some_and(|s| s.name() == name)
}

/// Whether `statement` builds a `Model` from (among others) `name`.
fn builds_model(ctx: &Context, statement: Node, name: &str) -> bool {
    let mut stack = vec![statement];
    let mut visited = 0;
    while let Some(current) = stack.pop() {
        visited += 1;
        if visited > MAX_NODES {
            return false;
        }
        if is_keras_named(ctx, current, "Model") {
            return mentions(ctx, current, name);
        }
        let mut cursor = current.walk();
        stack.extend(current.named_children(&mut cursor));
    }
    false
}

/// The layers `value` applies to the variable `name`, innermost first: `Dense(2)(y)` gives
/// `[Dense(2)]`, `Softmax()(Dense(2)(y))` gives `[Dense(2), Softmax()]`.
fn applied_to<'t>(ctx: &Context, value: Node<'t>, name: &str) -> Option<Vec<Node<'t>>> {
    let mut layers = Vec::new();
    let mut current = value;
    for _ in 0..MAX_CHAIN {
        let (layer, input) = applied(ctx, current)?;
        layers.push(layer);
        if input.kind_name() == "identifier" {
            if ctx.text(input) != name {
                return None;
            }
            layers.reverse();
            return Some(layers);
        }
        current = input;
    }
    None
}

fn functional_stack<'t>(ctx: &Context<'t>, item: Node<'t>) -> Option<Stack<'t>> {
    let application = item
        .parent()
        .filter(|p| p.kind_name() == "call")
        .filter(|p| p.field("function").map(|f| f.id()) == Some(item.id()))?;
    let mut before: Vec<Item<'t>> = Vec::new();
    let mut complete_start = false;
    let mut current = application;
    for _ in 0..MAX_CHAIN {
        let Some(input) = call::positional(current, 0) else {
            break;
        };
        if let Some((layer, _)) = applied(ctx, input) {
            before.push(Item {
                node: layer,
                role: role(ctx, layer),
            });
            current = input;
            continue;
        }
        if input.kind_name() != "identifier" {
            break;
        }
        let name = ctx.text(input);
        let Some(statement) = enclosing_statement(current) else {
            break;
        };
        let mut previous = ctx.forest.prev_named_sibling(statement);
        let mut value = None;
        let mut scanned_from = sibling_scan_bounds(statement).start;
        while let Some(candidate) = previous {
            if let Some(v) = assigned_value(ctx, candidate, name) {
                value = Some(v);
                scanned_from = candidate.start_byte();
                break;
            }
            previous = ctx.forest.prev_named_sibling(candidate);
        }
        // The statements scanned (they may be other top-level statements).
        ctx.depends_on_range(scanned_from..statement.end_byte());
        let Some(value) = value else {
            break;
        };
        if is_keras_named(ctx, value, "Input") {
            before.push(Item {
                node: value,
                role: role(ctx, value),
            });
            complete_start = true;
            break;
        }
        let Some((layer, _)) = applied(ctx, value) else {
            break;
        };
        before.push(Item {
            node: layer,
            role: role(ctx, layer),
        });
        current = value;
    }
    let mut items: Vec<Item<'t>> = before.into_iter().rev().collect();
    let index = items.len();
    items.push(Item {
        node: item,
        role: role(ctx, item),
    });
    let mut complete_end = false;
    let mut current = application;
    for _ in 0..MAX_CHAIN {
        let Some(parent) = current.parent() else {
            break;
        };
        if parent.kind_name() == "argument_list" {
            let Some(consumer) = parent.parent() else {
                break;
            };
            let first = call::positional(consumer, 0).is_some_and(|f| f.id() == current.id());
            match applied(ctx, consumer) {
                Some((layer, _)) if first => {
                    items.push(Item {
                        node: layer,
                        role: role(ctx, layer),
                    });
                    current = consumer;
                    continue;
                }
                _ => {
                    complete_end = is_keras_named(ctx, consumer, "Model");
                    break;
                }
            }
        }
        if parent.kind_name() != "assignment"
            || parent.field("right").map(|r| r.id()) != Some(current.id())
        {
            break;
        }
        let Some(target) = parent
            .field("left")
            .filter(|l| l.kind_name() == "identifier")
        else {
            break;
        };
        let name = ctx.text(target);
        let Some(statement) = parent
            .parent()
            .filter(|s| s.kind_name() == "expression_statement")
        else {
            break;
        };
        let mut next = ctx.forest.next_named_sibling(statement);
        let mut user = None;
        let mut scanned_to = usize::MAX;
        for _ in 0..MAX_LOOKAHEAD {
            let Some(candidate) = next else {
                break;
            };
            scanned_to = candidate.end_byte();
            if candidate.kind_name() != "comment" && mentions(ctx, candidate, name) {
                user = Some(candidate);
                break;
            }
            next = ctx.forest.next_named_sibling(candidate);
        }
        if next.is_none() {
            scanned_to = sibling_scan_bounds(statement).end;
        }
        ctx.depends_on_range(statement.start_byte()..scanned_to);
        let Some(user) = user else {
            break;
        };
        let returned = user.kind_name() == "return_statement";
        let consumer = if returned {
            user.named_child(0)
        } else {
            user.named_child(0)
                .filter(|a| {
                    user.kind_name() == "expression_statement" && a.kind_name() == "assignment"
                })
                .and_then(|a| a.field("right"))
        };
        let Some((consumer, layers)) = consumer.and_then(|c| Some((c, applied_to(ctx, c, name)?)))
        else {
            complete_end = builds_model(ctx, user, name);
            break;
        };
        items.extend(layers.into_iter().map(|layer| Item {
            node: layer,
            role: role(ctx, layer),
        }));
        if returned {
            break;
        }
        current = consumer;
    }
    Some(Stack {
        kind: StackKind::Functional,
        items,
        index,
        complete_start,
        complete_end,
    })
}

impl<'t> Stack<'t> {
    /// The weight layers of the stack with their positions.
    pub fn weight_layers(&self) -> impl Iterator<Item = (usize, WeightLayer<'t>)> + '_ {
        self.items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| match item.role {
                Role::Weight(layer) => Some((i, layer)),
                _ => None,
            })
    }

    /// The activation applied right after item `i` (skipping Dropout, pooling and the like).
    pub fn activation_after(&self, i: usize) -> Option<Activation> {
        for item in self.items.iter().skip(i + 1) {
            match item.role {
                Role::Activation(activation) => return Some(activation),
                Role::PassThrough(_) => continue,
                _ => return None,
            }
        }
        None
    }

    /// Whether the signal may be rescaled after item `i` before the next weight layer: a
    /// normalization layer follows, or a layer we cannot see into (a custom layer, a `Lambda`).
    pub fn rescaled_after(&self, i: usize) -> bool {
        for item in self.items.iter().skip(i + 1) {
            match item.role {
                Role::Normalization | Role::Unknown => return true,
                Role::PassThrough(_) | Role::Activation(_) => continue,
                Role::Weight(_) | Role::Input(_) | Role::Branch => return false,
            }
        }
        false
    }

    /// The weight layer right before item `i`, with only pass-through layers between.
    pub fn weight_before(&self, i: usize) -> Option<WeightLayer<'t>> {
        for item in self.items[..i.min(self.items.len())].iter().rev() {
            match item.role {
                Role::Weight(layer) => return Some(layer),
                Role::PassThrough(Shape::Same) => continue,
                _ => return None,
            }
        }
        None
    }

    /// The number of input channels of weight layer `i` (its fan-in per receptive-field
    /// position): the previous weight layer's width, or the declared input shape.
    pub fn input_width(&self, ctx: &Context, i: usize) -> Option<u64> {
        let Role::Weight(layer) = self.items.get(i)?.role else {
            return None;
        };
        if let Some(width) = layer.declared_input_width(ctx) {
            return Some(width);
        }
        for item in self.items[..i].iter().rev() {
            match item.role {
                Role::Weight(previous) => return previous.width(ctx),
                Role::Input(width) => return width,
                Role::Normalization
                | Role::Activation(_)
                | Role::PassThrough(Shape::Same | Shape::Channels) => {}
                Role::PassThrough(Shape::Changed) | Role::Unknown | Role::Branch => return None,
            }
        }
        None
    }

    /// The fan-in of weight layer `i`: input channels times the receptive field.
    pub fn fan_in(&self, ctx: &Context, i: usize) -> Option<u64> {
        let Role::Weight(layer) = self.items.get(i)?.role else {
            return None;
        };
        Some(self.input_width(ctx, i)? * layer.receptive_field(ctx)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::parse;
    use crate::settings::Settings;

    type Facts = (StackKind, usize, usize, bool, bool, String);

    /// Runs `f` on the stack of the call starting at the `nth` occurrence of `marker`.
    fn with_stack<R>(
        src: &str,
        marker: &str,
        nth: usize,
        f: impl FnOnce(&Context, &Stack) -> R,
    ) -> Option<R> {
        let tree = parse(src);
        let settings = Settings::default();
        let ctx = Context::new(src, &tree, &settings);
        let (offset, _) = src.match_indices(marker).nth(nth)?;
        let mut node = tree.descendant_for_byte_range(offset, offset + 1)?;
        while node.kind_name() != "call" || node.start_byte() != offset {
            node = node.parent()?;
        }
        let stack = stack_of(&ctx, node)?;
        Some(f(&ctx, &stack))
    }

    fn facts(src: &str, marker: &str, nth: usize) -> Option<Facts> {
        with_stack(src, marker, nth, |_, stack| {
            let roles: String = stack
                .items
                .iter()
                .map(|i| match i.role {
                    Role::Weight(_) => 'W',
                    Role::Normalization => 'N',
                    Role::Activation(_) => 'A',
                    Role::Input(_) => 'I',
                    Role::PassThrough(_) => 'P',
                    Role::Branch => 'B',
                    Role::Unknown => '?',
                })
                .collect();
            (
                stack.kind,
                stack.index,
                stack.items.len(),
                stack.complete_start,
                stack.complete_end,
                roles,
            )
        })
    }

    #[test]
    fn sequential_list() {
        let src = "from keras import layers, Sequential\nm = Sequential([\n    layers.Input((8,)),\n    layers.Dense(4),  # c\n    layers.BatchNormalization(),\n    layers.ReLU(),\n    layers.Dropout(0.1),\n    layers.TimeDistributed(layers.Dense(2)),\n    custom,\n])\n";
        let expected = |index| {
            Some((
                StackKind::Sequential,
                index,
                7,
                true,
                true,
                "IWNAPW?".to_string(),
            ))
        };
        assert_eq!(facts(src, "layers.Dense(4)", 0), expected(1));
        assert_eq!(facts(src, "layers.Dense(2)", 0), expected(5));
        let splat = "import keras\nm = keras.Sequential(layers=[keras.layers.Dense(4), *rest])\n";
        assert_eq!(
            facts(splat, "keras.layers.Dense(4)", 0),
            Some((StackKind::Sequential, 0, 2, false, false, "W?".into()))
        );
        let other = "import keras\nm = make([keras.layers.Dense(4)])\n";
        assert_eq!(facts(other, "keras.layers.Dense(4)", 0), None);
    }

    #[test]
    fn add_statements() {
        let src = "from tensorflow.keras.models import Sequential\nfrom tensorflow.keras.layers import Dense, Activation\nmodel = Sequential()\nmodel.add(Dense(4, input_dim=3))\nmodel.add(Activation('relu'))\nprint(1)\nmodel.add(Dense(1))\nother.add(Dense(9))\n";
        assert_eq!(
            facts(src, "Dense(", 0),
            Some((StackKind::Add, 0, 3, true, true, "WAW".into()))
        );
        let looped = "from keras.models import Sequential\nfrom keras.layers import Dense\nmodel = Sequential()\nmodel.add(Dense(4))\nfor _ in range(9):\n    model.add(Dense(4))\n";
        assert_eq!(
            facts(looped, "Dense(4)", 0),
            Some((StackKind::Add, 0, 2, false, false, "WB".into()))
        );
        let parameter =
            "from keras.layers import Dense\ndef block(model):\n    model.add(Dense(4))\n";
        assert_eq!(
            facts(parameter, "Dense(4)", 0),
            Some((StackKind::Add, 0, 1, false, false, "W".into()))
        );
    }

    #[test]
    fn functional_chain() {
        let src = "import keras\nimport tensorflow as tf\nfrom keras import layers\ninputs = keras.Input(shape=(16,))\nx = layers.Dense(8)(inputs)\nx = layers.BatchNormalization()(x)\n# comment\nx = tf.nn.relu(x)\ny = layers.Dense(4)(x)\nout = layers.Softmax()(layers.Dense(2)(y))\nmodel = keras.Model(inputs, out)\n";
        let expected = |index| {
            Some((
                StackKind::Functional,
                index,
                7,
                true,
                true,
                "IWNAWWA".to_string(),
            ))
        };
        assert_eq!(facts(src, "layers.Dense(8)", 0), expected(1));
        assert_eq!(facts(src, "layers.Dense(2)", 0), expected(5));
        let returned = "from keras import layers\ndef block(x):\n    x = layers.Dense(8)(x)\n    return layers.ReLU()(x)\n";
        assert_eq!(
            facts(returned, "layers.Dense(8)", 0),
            Some((StackKind::Functional, 0, 2, false, false, "WA".into()))
        );
        let open = "from keras import layers\ndef block(x):\n    x = layers.Dense(8)(x)\n    return x + 1\n";
        assert_eq!(
            facts(open, "layers.Dense(8)", 0),
            Some((StackKind::Functional, 0, 1, false, false, "W".into()))
        );
    }

    #[test]
    fn runs_and_neighbours() {
        let src = "from keras import layers, Sequential\nm = Sequential([\n    layers.Dense(8, input_shape=(100,)),\n    layers.Dropout(0.1),\n    layers.Dense(8),\n    layers.BatchNormalization(),\n    layers.Activation('relu'),\n    layers.Dense(4),\n    layers.LeakyReLU(),\n])\n";
        with_stack(src, "layers.Dense(8", 0, |ctx, stack| {
            assert!(!stack.rescaled_after(0));
            assert!(stack.rescaled_after(2));
            assert_eq!(stack.activation_after(0), None);
            assert_eq!(
                stack.activation_after(5).map(|a| a.name),
                Some("leaky_relu")
            );
            assert_eq!(stack.fan_in(ctx, 0), Some(100));
            assert_eq!(stack.fan_in(ctx, 2), Some(8));
            assert_eq!(stack.fan_in(ctx, 5), Some(8));
            assert!(stack.weight_before(2).is_some());
            assert!(stack.weight_before(4).is_none());
        })
        .expect("a stack");
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let depth = 5_000;
        let src = format!(
            "from keras import layers\ny = {}layers.Dense(8)(x){}\n",
            "f(".repeat(depth),
            ")".repeat(depth)
        );
        let len = with_stack(&src, "layers.Dense", 0, |_, stack| stack.items.len());
        assert_eq!(len, Some(1));
    }
}

//! KRS304 cache-after-random-augmentation: a random augmentation `map` runs before `cache`.
//!
//! ## What it does
//! Flags `.cache()` on a tf.data pipeline when an earlier `.map(f)` (since the previous `cache`
//! or `take`: caching a `take(n)` sample freezes it on purpose)
//! applies a function `f` (a lambda or a function of this file, followed into the file's
//! functions it calls) that uses a random operation: `tf.random.*` (not the deterministic
//! `stateless_*`, `set_seed`, `fold_in`, `split`), `tf.image.random_*`, TF 1 `tf.random_*`, or a
//! Keras random preprocessing layer (`RandomFlip`, `RandomRotation`, ..., `RandAugment`,
//! `AugMix`, `MixUp`, `CutMix`, `Solarization`), also when the layer is built elsewhere in the
//! file (`augment = keras.Sequential([layers.RandomFlip(...)])`). A name the function takes as
//! a parameter or assigns itself is its own, whatever the file assigns to that name elsewhere.
//!
//! ## Why is this bad?
//! `cache` stores what the first epoch produced and replays it: the random augmentation before it
//! runs once, so every epoch sees exactly the first epoch's flips, crops and rotations. The data
//! augmentation then adds no variety at all, which is what it was for. The
//! [tf.data performance guide](https://www.tensorflow.org/guide/data_performance#caching)
//! caches after the expensive deterministic work and keeps random transformations after the
//! cache; the canonical order is
//! `.map(load).cache().shuffle(N).batch(B).map(augment).prefetch(AUTOTUNE)`.
//!
//! ## Example
//! ```python
//! ds = ds.map(lambda x, y: (tf.image.random_flip_left_right(x), y)).cache()
//! ```
//!
//! ## Use instead
//! ```python
//! ds = ds.cache().map(lambda x, y: (tf.image.random_flip_left_right(x), y))
//! ```
//!
//! ## Fix safety
//! Unsafe: the augmentation now runs every epoch, so training results change (and, when the map
//! also did expensive deterministic work, each epoch redoes it: split that part into its own
//! `map` before the cache). Offered when the map and the `cache` sit in one expression or in
//! statements of one block; `cache(...)` moves, arguments and layout kept, to just before the
//! earliest random map.

use std::cell::RefCell;
use std::collections::HashMap;

use tree_sitter::Node;

use crate::analysis::dataflow::{Step, earliest_since, in_one_block, move_step_before};
use crate::analysis::units::{Key, Read};
use crate::analysis::{Context, RuleMatch, Sink};
use crate::finding::{FixSafety, Severity};
use crate::rules::RuleDef;
use crate::syntax::NodeExt;

pub const RULE: RuleDef = RuleDef {
    code: "KRS304",
    name: "cache-after-random-augmentation",
    severity: Severity::Warning,
    fix: Some(FixSafety::Unsafe),
    options: &[],
    query: include_str!("../../queries/python/cache-after-random-augmentation.scm"),
    module: "cache_after_random_augmentation",
    scenario: Some("pipeline"),
    requires_text: None,
    spelled: None,
    check,
};

/// Keras random preprocessing layers whose names do not start with `Random`.
const RANDOM_LAYERS: &[&str] = &["RandAugment", "AugMix", "MixUp", "CutMix", "Solarization"];

/// `tf.random.*` functions that are deterministic.
const DETERMINISTIC_RANDOM: &[&str] = &["set_seed", "fold_in", "split", "create_rng_state"];

/// Nodes visited when looking for a random layer in an assigned value.
const MAX_VALUE_NODES: usize = 10_000;

/// What one check has found out, for every `cache` of the file: whether a name (by the function
/// binding it, or 0 at module level) holds a random layer, and whether a function (by node id)
/// uses a random operation.
#[derive(Default)]
struct Known {
    names: RefCell<HashMap<(usize, String), bool>>,
    functions: RefCell<HashMap<usize, bool>>,
}

fn check(ctx: &Context, m: &RuleMatch, sink: &mut Sink) {
    if m.get("module").is_none() {
        return;
    }
    let known = Known::default();
    for (_, step) in ctx.dataflow().steps() {
        if step.method(ctx.source) == "cache" {
            check_cache(ctx, sink, &step, &known);
        }
    }
}

fn check_cache(ctx: &Context, sink: &mut Sink, step: &Step, known: &Known) {
    let node = step.call;
    let flow = ctx.dataflow();
    for &value in flow.values_of_call(node) {
        let chain = flow.chain(value);
        // A `take` between them caches a sample frozen on purpose.
        let Some(index) = earliest_since(&chain, ctx.source, &["cache", "take"], |step| {
            step.method(ctx.source) == "map" && is_random_map(ctx, step, known)
        }) else {
            continue;
        };
        let (map, cache) = (chain[index], chain[chain.len() - 1]);
        let finding = sink.report_range(
            cache.method_node.start_byte()..cache.call.end_byte(),
            "`cache` after a random augmentation `map` freezes it: every epoch sees the first epoch's augmented data; cache before the augmentation",
        );
        if in_one_block(ctx.forest, &chain[index..]) {
            finding.with_fix(
                "Move `cache` before the augmentation `map`",
                FixSafety::Unsafe,
                move_step_before(ctx.source, &map, &cache),
            );
        }
        return;
    }
}

/// Whether the function a `map` applies uses a random operation.
fn is_random_map<'a>(ctx: &Context<'a>, step: &Step<'a>, known: &Known) -> bool {
    let flow = ctx.dataflow();
    let Some(function) = flow.mapped_function(ctx, step) else {
        return false;
    };
    if let Some(&random) = known.functions.borrow().get(&function.id()) {
        return random;
    }
    let names = &known.names;
    // A function's parameters and locals name what it is given or computes, whatever the file
    // assigns to those names elsewhere (by function node id).
    let mut locals: HashMap<usize, Vec<&str>> = HashMap::new();
    let random = flow.function_uses(ctx, function, &mut |node| match node.kind_name() {
        "call" => is_random_call(ctx, node),
        "identifier" => {
            let name = ctx.text(node);
            if !is_reference(node) {
                return false;
            }
            if let Some(scope) = enclosing_function(node) {
                let local = locals
                    .entry(scope.id())
                    .or_insert_with(|| local_names(ctx, scope));
                if local.contains(&name) {
                    return false;
                }
            }
            // Free here: bound by an enclosing function, else at module level.
            let mut binder = enclosing_function(node).and_then(enclosing_function);
            while let Some(function) = binder {
                ctx.record(Read::new(&Key::Assign(name.into()), function.byte_range()));
                let local = locals
                    .entry(function.id())
                    .or_insert_with(|| local_names(ctx, function));
                if local.contains(&name) {
                    break;
                }
                binder = enclosing_function(function);
            }
            let memo = (binder.map_or(0, |f| f.id()), name.to_string());
            if let Some(&known) = names.borrow().get(&memo) {
                return known;
            }
            let values = match binder {
                Some(function) => own_assigned_values(ctx, function, name),
                None => ctx.module_assigned_values(name),
            };
            let random = holds_random_layer(ctx, &values);
            names.borrow_mut().insert(memo, random);
            random
        }
        _ => false,
    });
    known.functions.borrow_mut().insert(function.id(), random);
    random
}

/// The `def` or `lambda` an identifier is in (its decorators and defaults included).
fn enclosing_function(node: Node) -> Option<Node> {
    let mut current = node.parent();
    while let Some(ancestor) = current {
        match ancestor.kind_name() {
            "function_definition" | "lambda" => return Some(ancestor),
            "class_definition" | "module" => return None,
            _ => current = ancestor.parent(),
        }
    }
    None
}

/// The names local to a `def` or `lambda`: its parameters, and the names its own body assigns
/// (not in nested functions or classes), unless declared `global` or `nonlocal` there.
fn local_names<'a>(ctx: &Context<'a>, function: Node) -> Vec<&'a str> {
    let mut names = parameter_names(ctx, function);
    let Some(body) = function.field("body") else {
        return names;
    };
    let mut declared_outer = Vec::new();
    let mut stack = vec![body];
    let mut budget = MAX_VALUE_NODES;
    while let Some(node) = stack.pop() {
        budget = budget.saturating_sub(1);
        if budget == 0 {
            // Too big to tell: nothing counts as local.
            return parameter_names(ctx, function);
        }
        let target = match node.kind_name() {
            "function_definition" | "class_definition" | "lambda" if node.id() != body.id() => {
                names.extend(node.field("name").map(|n| ctx.text(n)));
                continue;
            }
            "global_statement" | "nonlocal_statement" => {
                let mut cursor = node.walk();
                declared_outer.extend(node.named_children(&mut cursor).map(|n| ctx.text(n)));
                continue;
            }
            "assignment" | "augmented_assignment" | "for_statement" => node.field("left"),
            "named_expression" => node.field("name"),
            "as_pattern" => node.field("alias"),
            _ => None,
        };
        if let Some(target) = target {
            let mut targets = vec![target];
            while let Some(t) = targets.pop() {
                match t.kind_name() {
                    "identifier" => names.push(ctx.text(t)),
                    "pattern_list"
                    | "tuple_pattern"
                    | "list_pattern"
                    | "tuple"
                    | "list"
                    | "as_pattern_target"
                    | "parenthesized_expression" => {
                        let mut cursor = t.walk();
                        targets.extend(t.named_children(&mut cursor));
                    }
                    _ => {}
                }
            }
        }
        let mut cursor = node.walk();
        stack.extend(node.named_children(&mut cursor));
    }
    names.retain(|name| !declared_outer.contains(name));
    names
}

/// The names a `def` or `lambda` binds as parameters.
fn parameter_names<'a>(ctx: &Context<'a>, function: Node) -> Vec<&'a str> {
    let Some(parameters) = function.field("parameters") else {
        return Vec::new();
    };
    let mut cursor = parameters.walk();
    parameters
        .named_children(&mut cursor)
        .filter_map(|parameter| match parameter.kind_name() {
            "identifier" => Some(parameter),
            "default_parameter" | "typed_default_parameter" => parameter.field("name"),
            "typed_parameter" | "list_splat_pattern" | "dictionary_splat_pattern" => parameter
                .named_child(0)
                .filter(|n| n.kind_name() == "identifier"),
            _ => None,
        })
        .map(|name| ctx.text(name))
        .collect()
}

/// Whether an identifier can name a variable: not an attribute's name (`image` in
/// `tf.image`) nor a keyword argument's name.
fn is_reference(identifier: Node) -> bool {
    let Some(parent) = identifier.parent() else {
        return true;
    };
    let field = match parent.kind_name() {
        "attribute" => "attribute",
        "keyword_argument" => "name",
        _ => return true,
    };
    parent
        .field(field)
        .is_none_or(|named| named.id() != identifier.id())
}

/// A call of a random TensorFlow op or a Keras random preprocessing layer constructor.
fn is_random_call(ctx: &Context, call: Node) -> bool {
    let Some(function) = call.field("function") else {
        return false;
    };
    if let Some(symbol) = ctx.keras(function) {
        return symbol.module() == "layers" && is_random_layer(symbol.name());
    }
    let Some(path) = ctx.resolve(function) else {
        return false;
    };
    if !path.starts_with("tensorflow.") {
        return false;
    }
    let segments: Vec<&str> = path.split('.').collect();
    let Some(last) = segments.last() else {
        return false;
    };
    if last.starts_with("stateless_") || DETERMINISTIC_RANDOM.contains(last) {
        return false;
    }
    // `tf.random.uniform`, `tf.random.Generator...`, `tf.image.random_flip_left_right`,
    // TF 1 `tf.random_uniform`.
    segments.contains(&"random") || last.starts_with("random_")
}

fn is_random_layer(name: &str) -> bool {
    name.starts_with("Random") || RANDOM_LAYERS.contains(&name)
}

/// The values a function's own body (not the functions or classes in it) assigns to `name`.
fn own_assigned_values<'a>(ctx: &Context<'a>, function: Node<'a>, name: &str) -> Vec<Node<'a>> {
    let mut values = Vec::new();
    let Some(body) = function.field("body") else {
        return values;
    };
    let mut stack = vec![body];
    let mut budget = MAX_VALUE_NODES;
    while let Some(node) = stack.pop() {
        budget = budget.saturating_sub(1);
        if budget == 0 {
            break;
        }
        match node.kind_name() {
            "function_definition" | "class_definition" | "lambda" if node.id() != body.id() => {
                continue;
            }
            "assignment" => {
                if let (Some(left), Some(right)) = (node.field("left"), node.field("right"))
                    && left.kind_name() == "identifier"
                    && ctx.text(left) == name
                {
                    values.push(right);
                }
            }
            _ => {}
        }
        let mut cursor = node.walk();
        stack.extend(node.named_children(&mut cursor));
    }
    values
}

/// Whether one of `values` (assigned to a name the mapped function reads) builds a Keras random
/// layer (`augment = keras.Sequential([layers.RandomFlip("horizontal")])`).
fn holds_random_layer(ctx: &Context, values: &[Node]) -> bool {
    values.iter().any(|&value| {
        let mut stack = vec![value];
        let mut budget = MAX_VALUE_NODES;
        while let Some(node) = stack.pop() {
            budget = budget.saturating_sub(1);
            if budget == 0 {
                return false;
            }
            if node.kind_name() == "call"
                && node
                    .field("function")
                    .and_then(|f| ctx.keras(f))
                    .is_some_and(|s| s.module() == "layers" && is_random_layer(s.name()))
            {
                return true;
            }
            let mut cursor = node.walk();
            stack.extend(node.named_children(&mut cursor));
        }
        false
    })
}

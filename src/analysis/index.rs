//! Indexes of function and class scopes, built once per analysis on first use (the module's own scope is answered from its units).

use rustc_hash::FxHashMap as HashMap;

use tree_sitter::Node;

use super::imports::text;
use crate::syntax::NodeExt;

/// How many `a = b = value` links are followed to the assigned value.
const MAX_CHAIN: usize = 16;

/// The nodes of one scope (see [`scope_nodes`]) with lookups by name.
pub struct ScopeIndex<'t> {
    /// `name = value` by target text (`x`, `self.x`): (assignment start, value), in order.
    assignments: HashMap<&'t str, Vec<(usize, Node<'t>)>>,
    /// Identifiers by text.
    identifiers: HashMap<&'t str, Vec<Node<'t>>>,
    /// `with` items, `return` statements, calls and attributes (`x.m`, by `m`).
    pub with_items: Vec<Node<'t>>,
    pub returns: Vec<Node<'t>>,
    pub calls: Vec<Node<'t>>,
    attributes: HashMap<&'t str, Vec<Node<'t>>>,
}

impl<'t> ScopeIndex<'t> {
    /// Indexes the nodes of `scopes` (one scope, or every root of a forest for the module).
    pub fn build(source: &'t str, scopes: &[Node<'t>], enter_functions: bool) -> ScopeIndex<'t> {
        let nodes: Vec<Node<'t>> = scopes
            .iter()
            .flat_map(|&scope| scope_nodes(scope, enter_functions))
            .collect();
        let mut index = ScopeIndex {
            assignments: HashMap::default(),
            identifiers: HashMap::default(),
            with_items: Vec::new(),
            returns: Vec::new(),
            calls: Vec::new(),
            attributes: HashMap::default(),
        };
        for &node in &nodes {
            match node.kind_name() {
                "assignment" => {
                    if let Some(left) = node.field("left")
                        && let Some(value) = assigned(node)
                    {
                        index
                            .assignments
                            .entry(text(source, left))
                            .or_default()
                            .push((node.start_byte(), value));
                    }
                }
                "identifier" => index
                    .identifiers
                    .entry(text(source, node))
                    .or_default()
                    .push(node),
                "with_item" => index.with_items.push(node),
                "return_statement" => index.returns.push(node),
                "call" => index.calls.push(node),
                "attribute" => {
                    if let Some(attribute) = node.field("attribute") {
                        index
                            .attributes
                            .entry(text(source, attribute))
                            .or_default()
                            .push(node);
                    }
                }
                _ => {}
            }
        }
        index
    }

    /// The value last assigned to `target` by an assignment starting before `before`.
    pub fn last_assignment(&self, target: &str, before: usize) -> Option<Node<'t>> {
        let list = self.assignments.get(target)?;
        let end = list.partition_point(|&(start, _)| start < before);
        end.checked_sub(1).map(|i| list[i].1)
    }

    /// Every assignment to `target`: (assignment start, value).
    pub fn assignments(&self, target: &str) -> &[(usize, Node<'t>)] {
        self.assignments.get(target).map_or(&[], Vec::as_slice)
    }

    /// Identifiers spelled `name`.
    pub fn identifiers(&self, name: &str) -> &[Node<'t>] {
        self.identifiers.get(name).map_or(&[], Vec::as_slice)
    }

    /// Attributes `<object>.attribute`.
    pub fn attributes(&self, attribute: &str) -> &[Node<'t>] {
        self.attributes.get(attribute).map_or(&[], Vec::as_slice)
    }
}

/// The value of an assignment, through `a = b = value`; `None` for annotations without one.
fn assigned(assignment: Node) -> Option<Node> {
    let mut right = assignment.field("right")?;
    let mut guard = 0;
    while right.kind_name() == "assignment" && guard < MAX_CHAIN {
        right = right.field("right")?;
        guard += 1;
    }
    Some(right)
}

/// The nodes of a scope in document order, not entering nested classes, nor nested functions
/// unless `enter_functions` (used for `self.x`, assigned in one method and used in another).
pub fn scope_nodes(scope: Node, enter_functions: bool) -> Vec<Node> {
    let mut out = Vec::new();
    let mut cursor = scope.walk();
    out.push(scope);
    if !cursor.goto_first_child() {
        return out;
    }
    loop {
        let node = cursor.node();
        let mut descend = false;
        if node.is_named() {
            let nested = match node.kind_name() {
                "class_definition" => true,
                "function_definition" => !enter_functions,
                _ => false,
            };
            if !nested {
                out.push(node);
                descend = true;
            }
        }
        if descend && cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() || cursor.node().id() == scope.id() {
                return out;
            }
        }
    }
}

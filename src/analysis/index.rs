//! Indexes of the file and of its scopes, built once per analysis on first use, so no rule walks the whole file per match.

use std::collections::HashMap;

use tree_sitter::Node;

use super::imports::text;

/// How many `a = b = value` links are followed to the assigned value.
const MAX_CHAIN: usize = 16;

/// Whole-file lookups by name, from one walk of the tree (document order everywhere).
#[derive(Default)]
pub struct FileIndex<'t> {
    /// Every call.
    pub calls: Vec<Node<'t>>,
    /// Calls whose callee is a plain name (`f(...)`), by that name.
    calls_by_name: HashMap<&'t str, Vec<Node<'t>>>,
    /// Calls whose callee is an attribute (`x.m(...)`), by the attribute's name (`m`).
    calls_by_method: HashMap<&'t str, Vec<Node<'t>>>,
    /// The first `def` of each name, anywhere in the file (methods and nested functions too).
    functions: HashMap<&'t str, Node<'t>>,
    /// Identifiers by text.
    identifiers: HashMap<&'t str, Vec<Node<'t>>>,
    /// Attributes whose object is a plain name (`m.x`), by that name (`m`).
    attributes_by_object: HashMap<&'t str, Vec<Node<'t>>>,
    /// `import` and `from ... import` statements.
    pub imports: Vec<Node<'t>>,
}

impl<'t> FileIndex<'t> {
    pub fn build(source: &'t str, root: Node<'t>) -> FileIndex<'t> {
        let mut index = FileIndex::default();
        let mut cursor = root.walk();
        loop {
            let node = cursor.node();
            if node.is_named() {
                index.add(source, node);
            }
            if cursor.goto_first_child() {
                continue;
            }
            loop {
                if cursor.goto_next_sibling() {
                    break;
                }
                if !cursor.goto_parent() {
                    return index;
                }
            }
        }
    }

    fn add(&mut self, source: &'t str, node: Node<'t>) {
        match node.kind() {
            "call" => {
                self.calls.push(node);
                let Some(function) = node.child_by_field_name("function") else {
                    return;
                };
                match function.kind() {
                    "identifier" => self
                        .calls_by_name
                        .entry(text(source, function))
                        .or_default()
                        .push(node),
                    "attribute" => {
                        if let Some(method) = function.child_by_field_name("attribute") {
                            self.calls_by_method
                                .entry(text(source, method))
                                .or_default()
                                .push(node);
                        }
                    }
                    _ => {}
                }
            }
            "identifier" => self
                .identifiers
                .entry(text(source, node))
                .or_default()
                .push(node),
            "attribute" => {
                if let Some(object) = node.child_by_field_name("object")
                    && object.kind() == "identifier"
                {
                    self.attributes_by_object
                        .entry(text(source, object))
                        .or_default()
                        .push(node);
                }
            }
            "function_definition" => {
                if let Some(name) = node.child_by_field_name("name") {
                    self.functions.entry(text(source, name)).or_insert(node);
                }
            }
            "import_statement" | "import_from_statement" => self.imports.push(node),
            _ => {}
        }
    }

    /// Calls `name(...)`.
    pub fn calls_of(&self, name: &str) -> &[Node<'t>] {
        self.calls_by_name.get(name).map_or(&[], Vec::as_slice)
    }

    /// Calls `<anything>.method(...)`.
    pub fn method_calls(&self, method: &str) -> &[Node<'t>] {
        self.calls_by_method.get(method).map_or(&[], Vec::as_slice)
    }

    /// The first `def name` in the file.
    pub fn function(&self, name: &str) -> Option<Node<'t>> {
        self.functions.get(name).copied()
    }

    /// Every identifier spelled `name`.
    pub fn identifiers(&self, name: &str) -> &[Node<'t>] {
        self.identifiers.get(name).map_or(&[], Vec::as_slice)
    }

    /// Every attribute `name.<x>`.
    pub fn attributes_of(&self, name: &str) -> &[Node<'t>] {
        self.attributes_by_object
            .get(name)
            .map_or(&[], Vec::as_slice)
    }
}

/// The nodes of one scope (see [`scope_nodes`]) with lookups by name.
pub struct ScopeIndex<'t> {
    /// Every named node of the scope, in document order.
    pub nodes: Vec<Node<'t>>,
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
    pub fn build(source: &'t str, scope: Node<'t>, enter_functions: bool) -> ScopeIndex<'t> {
        let nodes = scope_nodes(scope, enter_functions);
        let mut index = ScopeIndex {
            nodes: Vec::new(),
            assignments: HashMap::new(),
            identifiers: HashMap::new(),
            with_items: Vec::new(),
            returns: Vec::new(),
            calls: Vec::new(),
            attributes: HashMap::new(),
        };
        for &node in &nodes {
            match node.kind() {
                "assignment" => {
                    if let Some(left) = node.child_by_field_name("left")
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
                    if let Some(attribute) = node.child_by_field_name("attribute") {
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
        index.nodes = nodes;
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
    let mut right = assignment.child_by_field_name("right")?;
    let mut guard = 0;
    while right.kind() == "assignment" && guard < MAX_CHAIN {
        right = right.child_by_field_name("right")?;
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
            let nested = match node.kind() {
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

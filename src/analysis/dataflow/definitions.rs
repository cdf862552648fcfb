//! What the dataflow starts from in one tree of the forest (functions, assignments, tf.data options, AUTOTUNE aliases, PyDataset classes), kept between builds.
//!
//! Finding these walks every statement of the file, which cost a quarter of a build of a
//! 5,000-line file. What one tree holds is a function of its text and the imports, so it is
//! kept in offsets from the tree's start (it holds wherever the tree moved) and only the trees
//! whose text changed are walked again. The function nodes are found again by their spans
//! at once (every build analyses them); assigned values only when a rule asks for a name.

use rustc_hash::FxHashSet as HashSet;

use tree_sitter::Node;

use super::{DisabledOptimizations, is_autotune_path, is_py_dataset_class, is_statement_container};
use crate::analysis::imports::{Imports, text};
use crate::syntax::NodeExt;

/// Where a node is in its tree: its start, as an offset from the tree's start, and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    start: u32,
    len: u32,
}

impl Span {
    fn of(node: Node, base: usize) -> Option<Span> {
        Some(Span {
            start: u32::try_from(node.start_byte().checked_sub(base)?).ok()?,
            len: u32::try_from(node.byte_range().len()).ok()?,
        })
    }

    /// The node of this span and kind in `root`, a tree of the text the span was taken from.
    fn find<'t>(self, root: Node<'t>, kind: &str) -> Option<Node<'t>> {
        let start = root.start_byte() + self.start as usize;
        let end = start + self.len as usize;
        let mut cursor = root.walk();
        // Down the path of nodes holding `start`: nodes of one span nest (an expression
        // statement and its call), so the kind picks the one.
        for _ in 0..super::MAX_DEPTH * 8 {
            let node = cursor.node();
            if node.start_byte() == start && node.end_byte() == end && node.kind_name() == kind {
                return Some(node);
            }
            if node.start_byte() > start
                || node.end_byte() < end
                || cursor.goto_first_child_for_byte(start).is_none()
            {
                return None;
            }
        }
        None
    }
}

/// A function definition (any depth).
#[derive(Debug)]
pub(super) struct DefinedFunction {
    span: Span,
    /// It (or its decorated definition) is a statement of the module.
    pub at_module: bool,
    /// It is a statement of a class body (a method).
    pub method: bool,
}

/// `name = value`.
#[derive(Debug)]
struct Assigned {
    name: String,
    value: Span,
    kind: &'static str,
}

/// The definitions of one tree of the forest, in walk order (a module-level definition wins
/// over nested ones of the same name, and the first of them wins: the order matters).
#[derive(Debug, Default)]
pub(super) struct TreeDefinitions {
    pub functions: Vec<DefinedFunction>,
    assignments: Vec<Assigned>,
    /// `options.experimental_optimization.<opt> = False`: options variable -> what it disables.
    pub options: Vec<(String, DisabledOptimizations)>,
    /// Module-level names bound to `tf.data.AUTOTUNE` (or `-1`), with the statement's offset
    /// from the tree's start.
    pub autotune_names: Vec<(String, usize)>,
    /// Classes that subclass `keras.utils.PyDataset` (or `Sequence`).
    pub py_dataset_classes: Vec<String>,
}

impl TreeDefinitions {
    /// Walks `root`, one tree of the forest; also gives the function nodes, in the order of
    /// [`TreeDefinitions::functions`].
    pub fn collect<'t>(
        source: &str,
        imports: &Imports,
        root: Node<'t>,
    ) -> (TreeDefinitions, Vec<Node<'t>>) {
        let base = root.start_byte();
        let mut found = TreeDefinitions::default();
        let mut function_nodes = Vec::new();
        let mut methods: HashSet<usize> = HashSet::default();
        // (node, its parent's kind, whether its parent is the root, its grandparent's kind,
        // whether it is the root): `Node::parent` searches down from the root, so the walk
        // carries what it needs.
        let mut stack: Vec<(Node<'t>, &str, bool, &str, bool)> = vec![(root, "", false, "", true)];
        let mut cursor = root.walk();
        while let Some((node, parent_kind, parent_is_root, grandparent_kind, is_root)) = stack.pop()
        {
            let kind = node.kind_name();
            match kind {
                "function_definition" => {
                    let at_module = if parent_kind == "decorated_definition" {
                        grandparent_kind == "module"
                    } else {
                        parent_kind == "module"
                    };
                    if let Some(span) = Span::of(node, base) {
                        found.functions.push(DefinedFunction {
                            span,
                            at_module,
                            method: methods.contains(&node.id()),
                        });
                        function_nodes.push(node);
                    }
                }
                "class_definition" => found.class(source, imports, node, &mut methods),
                "expression_statement" => {
                    if let Some(assign) = node
                        .named_child(0)
                        .filter(|n| n.kind_name() == "assignment")
                    {
                        found.assignment(source, imports, assign, parent_is_root, base);
                    }
                }
                _ => {}
            }
            if is_statement_container(kind) {
                let mut children = Vec::new();
                cursor.reset(node);
                if cursor.goto_first_child() {
                    loop {
                        let child = cursor.node();
                        if child.is_named() {
                            children.push((child, kind, is_root, parent_kind, false));
                        }
                        if !cursor.goto_next_sibling() {
                            break;
                        }
                    }
                }
                stack.extend(children);
            }
        }
        (found, function_nodes)
    }

    /// The function nodes in `root`, a tree of the text these were collected from (wherever
    /// it is now); `None` if one is not found there.
    pub fn function_nodes<'t>(&self, root: Node<'t>) -> Option<Vec<Node<'t>>> {
        self.functions
            .iter()
            .map(|f| f.span.find(root, "function_definition"))
            .collect()
    }

    /// Whether the tree has a `name = value` statement.
    pub fn assigns(&self, name: &str) -> bool {
        self.assignments.iter().any(|a| a.name == name)
    }

    /// The values assigned to `name` in `root` (a tree of the text these were collected from).
    pub fn assigned_values<'t>(&self, root: Node<'t>, name: &str, out: &mut Vec<Node<'t>>) {
        for assigned in self.assignments.iter().filter(|a| a.name == name) {
            out.extend(assigned.value.find(root, assigned.kind));
        }
    }

    /// Notes a class's methods (for the walk to flag them) and whether it is a PyDataset.
    fn class(&mut self, source: &str, imports: &Imports, node: Node, methods: &mut HashSet<usize>) {
        if let Some(body) = node.field("body") {
            let mut cursor = body.walk();
            for child in body.named_children(&mut cursor) {
                let def = match child.kind_name() {
                    "decorated_definition" => child.field("definition"),
                    _ => Some(child),
                };
                if let Some(def) = def.filter(|d| d.kind_name() == "function_definition") {
                    methods.insert(def.id());
                }
            }
        }
        let (Some(name), Some(bases)) = (node.field("name"), node.field("superclasses")) else {
            return;
        };
        if is_py_dataset_class(source, imports, bases) {
            self.py_dataset_classes.push(text(source, name).to_string());
        }
    }

    fn assignment(
        &mut self,
        source: &str,
        imports: &Imports,
        assign: Node,
        module_level: bool,
        base: usize,
    ) {
        let (Some(left), Some(right)) = (assign.field("left"), assign.field("right")) else {
            return;
        };
        match left.kind_name() {
            "identifier" => {
                let name = text(source, left).to_string();
                // Only a name/attribute can resolve to `AUTOTUNE`; `-1` is a short text.
                let is_autotune = (matches!(
                    right.kind_name(),
                    "identifier" | "attribute" | "parenthesized_expression"
                ) && imports
                    .resolve(source, right)
                    .is_some_and(|p| is_autotune_path(&p)))
                    || (right.byte_range().len() <= 16
                        && name.eq_ignore_ascii_case("autotune")
                        && text(source, right).replace(' ', "") == "-1");
                if module_level && is_autotune {
                    self.autotune_names
                        .push((name.clone(), assign.start_byte() - base));
                }
                if let Some(value) = Span::of(right, base) {
                    self.assignments.push(Assigned {
                        name,
                        value,
                        kind: right.kind_name(),
                    });
                }
            }
            "attribute" if right.kind_name() == "false" => {
                // `options.experimental_optimization.inject_prefetch = False`.
                let Some(option) = left.field("attribute") else {
                    return;
                };
                let disabled = match text(source, option) {
                    "inject_prefetch" => DisabledOptimizations {
                        prefetch_injection: true,
                        map_parallelization: false,
                    },
                    "map_parallelization" => DisabledOptimizations {
                        prefetch_injection: false,
                        map_parallelization: true,
                    },
                    "apply_default_optimizations" => DisabledOptimizations {
                        prefetch_injection: true,
                        map_parallelization: true,
                    },
                    _ => return,
                };
                let mut root = left;
                let mut guard = 0;
                while root.kind_name() == "attribute" && guard < 32 {
                    let Some(object) = root.field("object") else {
                        return;
                    };
                    root = object;
                    guard += 1;
                }
                if root.kind_name() == "identifier" {
                    self.options
                        .push((text(source, root).to_string(), disabled));
                }
            }
            _ => {}
        }
    }
}

//! Import resolution: maps local names to canonical dotted paths (`L.Dense` -> `keras.layers.Dense`).

use std::collections::HashMap;

use crate::syntax::NodeExt;
use tree_sitter::Node;

use crate::forest::Forest;

/// Which Keras distribution a path comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KerasRoot {
    /// `keras` (Keras 3).
    Keras,
    /// `tensorflow.keras` (Keras 3 in TF >= 2.16, Keras 2 before).
    TfKeras,
    /// `tf_keras` (Keras 2, maintained).
    TfKerasLegacy,
}

impl KerasRoot {
    /// The dotted module prefix of this root.
    pub fn module(self) -> &'static str {
        match self {
            KerasRoot::Keras => "keras",
            KerasRoot::TfKeras => "tensorflow.keras",
            KerasRoot::TfKerasLegacy => "tf_keras",
        }
    }
}

/// A resolved reference into a Keras namespace, e.g. root `TfKeras`, path `layers.Dense`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KerasSymbol {
    pub root: KerasRoot,
    pub path: String,
}

impl KerasSymbol {
    /// The last dotted segment (`Dense`).
    pub fn name(&self) -> &str {
        self.path.rsplit('.').next().unwrap_or(&self.path)
    }

    /// The first dotted segment (`layers`).
    pub fn module(&self) -> &str {
        self.path.split('.').next().unwrap_or(&self.path)
    }

    /// True for `<module>.<...>.<name>`, e.g. `is("layers", "Dense")` matches `layers.core.Dense`.
    pub fn is(&self, module: &str, name: &str) -> bool {
        self.module() == module && self.name() == name && self.path.contains('.')
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Binding {
    /// Bound by an import to this canonical dotted path.
    Import(String),
    /// Defined in this file (class, def, assignment): never Keras.
    Local,
}

/// Local names bound by imports and definitions in one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imports {
    bindings: HashMap<String, Binding>,
    star_modules: Vec<String>,
    /// Byte offset just after the last module-level import (where new imports go).
    last_import_end: Option<usize>,
    /// Byte offset where the first statement that is not a docstring or `__future__` import starts.
    first_code_start: usize,
}

impl Imports {
    pub fn collect(source: &str, forest: &Forest) -> Imports {
        let mut imports = Imports::default();
        let statements: Vec<Node> = forest
            .statements()
            .into_iter()
            .filter(|n| n.is_named())
            .collect();
        imports.first_code_start = first_code_offset(forest, &statements);
        imports.add_statements(source, statements);
        imports
    }

    /// [`Imports::collect`] from the module's top-level nodes (`statements`, document order)
    /// and, for each, the names it defines when it holds no import (`local_names`, as
    /// [`Imports::local_names_of`] gives them; `None`: walk that statement). The table is the
    /// statements' parts in order, each later binding of a name replacing an earlier one, so
    /// an engine that keeps each statement's names walks only the statements with imports.
    pub fn from_units<'n>(
        source: &str,
        forest: &Forest,
        statements: &[Node],
        local_names: impl Iterator<Item = Option<&'n [Box<str>]>>,
    ) -> Imports {
        let mut imports = Imports::default();
        let named: Vec<Node> = statements
            .iter()
            .copied()
            .filter(|n| n.is_named())
            .collect();
        imports.first_code_start = first_code_offset(forest, &named);
        for (&statement, names) in statements.iter().zip(local_names) {
            if !statement.is_named() {
                continue;
            }
            match names {
                Some(names) => {
                    for name in names {
                        imports.bind_local(name);
                    }
                }
                None => imports.add_statements(source, vec![statement]),
            }
        }
        imports
    }

    /// What one top-level statement puts in the table when it holds no import: the names it
    /// defines locally (sorted); `None` when it holds an import.
    pub fn local_names_of(source: &str, statement: Node) -> Option<Vec<String>> {
        let mut part = Imports::default();
        part.add_statements(source, vec![statement]);
        if part.last_import_end.is_some()
            || part.has_star_imports()
            || part.imported_paths().next().is_some()
        {
            return None;
        }
        let mut names: Vec<String> = part.bindings.into_keys().collect();
        names.sort_unstable();
        Some(names)
    }

    /// Where the first statement that is not a docstring or `__future__` import starts.
    pub fn first_code_start(&self) -> usize {
        self.first_code_start
    }

    /// Adds the bindings of top-level `statements`, in document order. A statement-level walk
    /// only (no expressions): cheap even for big files.
    fn add_statements(&mut self, source: &str, statements: Vec<Node>) {
        let imports = self;
        let mut stack: Vec<(Node, bool)> =
            statements.into_iter().rev().map(|n| (n, true)).collect();
        while let Some((node, module_level)) = stack.pop() {
            match node.kind_name() {
                "import_statement" | "import_from_statement" => {
                    imports.add_import(source, node);
                    if module_level {
                        imports.last_import_end = Some(node.end_byte());
                    }
                }
                "future_import_statement" if module_level => {
                    imports.last_import_end = Some(node.end_byte());
                }
                "class_definition" | "function_definition" => {
                    if module_level && let Some(name) = node.field("name") {
                        imports.bind_local(text(source, name));
                    }
                    if let Some(body) = node.field("body") {
                        push_children(&mut stack, body, false);
                    }
                }
                "decorated_definition" => {
                    if let Some(def) = node.field("definition") {
                        stack.push((def, module_level));
                    }
                }
                "expression_statement" if module_level => {
                    if let Some(assign) = node
                        .named_child(0)
                        .filter(|n| n.kind_name() == "assignment")
                        && let Some(left) = assign.field("left")
                        && left.kind_name() == "identifier"
                    {
                        imports.bind_local(text(source, left));
                    }
                }
                "if_statement" | "try_statement" | "with_statement" | "for_statement"
                | "while_statement" | "block" | "else_clause" | "elif_clause" | "except_clause"
                | "finally_clause" | "match_statement" | "case_clause" => {
                    push_children(&mut stack, node, module_level);
                }
                _ => {}
            }
        }
    }

    fn bind_local(&mut self, name: &str) {
        self.bindings.insert(name.to_string(), Binding::Local);
    }

    fn add_import(&mut self, source: &str, node: Node) {
        let mut cursor = node.walk();
        if node.kind_name() == "import_statement" {
            for name in node.children_by_field_name("name", &mut cursor) {
                match name.kind_name() {
                    "dotted_name" => {
                        // `import a.b.c` binds `a` to the module `a`.
                        let full = text(source, name);
                        let first = full.split('.').next().unwrap_or(full).trim();
                        self.bindings
                            .insert(first.to_string(), Binding::Import(first.to_string()));
                    }
                    "aliased_import" => {
                        if let (Some(module), Some(alias)) =
                            (name.field("name"), name.field("alias"))
                        {
                            self.bindings.insert(
                                text(source, alias).to_string(),
                                Binding::Import(dotted(source, module)),
                            );
                        }
                    }
                    _ => {}
                }
            }
            return;
        }
        let Some(module) = node.field("module_name") else {
            return;
        };
        if module.kind_name() == "relative_import" {
            return; // A local package: never Keras.
        }
        let module = dotted(source, module);
        let mut inner = node.walk();
        if node
            .named_children(&mut inner)
            .any(|c| c.kind_name() == "wildcard_import")
        {
            self.star_modules.push(module.clone());
        }
        for name in node.children_by_field_name("name", &mut cursor) {
            let (imported, local) = match name.kind_name() {
                "dotted_name" => (name, name),
                "aliased_import" => match (name.field("name"), name.field("alias")) {
                    (Some(n), Some(a)) => (n, a),
                    _ => continue,
                },
                _ => continue,
            };
            self.bindings.insert(
                text(source, local).to_string(),
                Binding::Import(format!("{module}.{}", dotted(source, imported))),
            );
        }
    }

    /// A hash of what [`Imports::resolve`] reads: the import bindings and the star modules
    /// (and, under star imports, the local names, which decide whether a name falls through
    /// to a star module; without them a local name resolves like an unknown one). Tables with
    /// equal fingerprints resolve every expression alike.
    pub fn resolution_fingerprint(&self) -> u64 {
        use std::hash::BuildHasher;
        let hasher = rustc_hash::FxBuildHasher;
        let stars = !self.star_modules.is_empty();
        // A sum: the order of the map's entries does not matter.
        let mut sum = hasher.hash_one(&self.star_modules);
        for (name, binding) in &self.bindings {
            let path = match binding {
                Binding::Import(path) => Some(path.as_str()),
                Binding::Local if stars => None,
                Binding::Local => continue,
            };
            sum = sum.wrapping_add(hasher.hash_one((name, path)));
        }
        sum
    }

    /// The part of the table [`Imports::rebound_names`] compares: the import bindings and the
    /// star modules, without the local definitions (which, without star imports, resolve like
    /// unknown names, and with them make `rebound_names` give up anyway).
    pub fn resolution_table(&self) -> Imports {
        Imports {
            bindings: self
                .bindings
                .iter()
                .filter(|(_, binding)| matches!(binding, Binding::Import(_)))
                .map(|(name, binding)| (name.clone(), binding.clone()))
                .collect(),
            star_modules: self.star_modules.clone(),
            last_import_end: None,
            first_code_start: 0,
        }
    }

    /// Moves the recorded offsets through an edit of the text (`map` sends an old offset to
    /// its new place).
    pub fn shift(&mut self, map: impl Fn(usize) -> usize) {
        self.last_import_end = self.last_import_end.map(&map);
        self.first_code_start = map(self.first_code_start);
    }

    /// The names whose import binding differs between `self` and `other` (bound by an import to
    /// another path, or by an import in one only), when that is all that differs for name
    /// resolution; `None` when star imports are involved (any binding may then change what a
    /// name resolves to). Local definitions matter only to [`Imports::is_bound`].
    pub fn rebound_names(&self, other: &Imports) -> Option<Vec<String>> {
        if self.has_star_imports() || other.has_star_imports() {
            return None;
        }
        let mut names: Vec<String> = self
            .bindings
            .keys()
            .chain(other.bindings.keys())
            .filter(|name| self.binding(name) != other.binding(name))
            .cloned()
            .collect();
        names.sort_unstable();
        names.dedup();
        Some(names)
    }

    /// Whether the offsets where imports go differ (see [`Imports::import_insertion_offset`]).
    pub fn insertion_differs(&self, other: &Imports) -> bool {
        (self.last_import_end, self.first_code_start)
            != (other.last_import_end, other.first_code_start)
    }

    /// The local names that imports bind to a path satisfying `test`.
    pub fn names_bound_to(&self, test: impl Fn(&str) -> bool) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .bindings
            .iter()
            .filter_map(|(name, binding)| match binding {
                Binding::Import(path) if test(path) => Some(name.as_str()),
                _ => None,
            })
            .collect();
        names.sort_unstable();
        names
    }

    /// The canonical dotted path a local name is bound to by an import.
    pub fn binding(&self, name: &str) -> Option<&str> {
        match self.bindings.get(name) {
            Some(Binding::Import(path)) => Some(path),
            Some(Binding::Local) => None,
            None => None,
        }
    }

    /// The names imports bind, with what they name (`tf`, `tensorflow`).
    pub fn imported_paths(&self) -> impl Iterator<Item = (&str, &str)> {
        self.bindings.iter().filter_map(|(name, b)| match b {
            Binding::Import(path) => Some((name.as_str(), path.as_str())),
            Binding::Local => None,
        })
    }

    /// Whether a `from m import *` exists.
    pub fn has_star_imports(&self) -> bool {
        !self.star_modules.is_empty()
    }

    /// Whether `name` is bound at all (import or local definition).
    pub fn is_bound(&self, name: &str) -> bool {
        self.bindings.contains_key(name)
    }

    /// Resolves an identifier or attribute chain (`L.Dense`, `tf.keras.layers.Dense`) to a
    /// canonical dotted path, or `None` when its root is not an import.
    pub fn resolve(&self, source: &str, node: Node) -> Option<String> {
        let mut parts: Vec<&str> = Vec::new();
        let mut current = node;
        loop {
            match current.kind_name() {
                "identifier" => {
                    let name = text(source, current);
                    let base = match self.bindings.get(name) {
                        Some(Binding::Import(path)) => path.clone(),
                        Some(Binding::Local) => return None,
                        None => self.star_resolve(name)?,
                    };
                    let mut out = base;
                    for part in parts.iter().rev() {
                        out.push('.');
                        out.push_str(part);
                    }
                    return Some(out);
                }
                "attribute" => {
                    let attr = current.field("attribute")?;
                    parts.push(text(source, attr));
                    current = current.field("object")?;
                }
                "parenthesized_expression" => current = current.named_child(0)?,
                _ => return None,
            }
            if parts.len() > 32 {
                return None;
            }
        }
    }

    /// `from keras.layers import *` makes `Dense` resolve to `keras.layers.Dense` (when the
    /// name looks like a public class or function and only Keras star imports exist).
    fn star_resolve(&self, name: &str) -> Option<String> {
        let module = self
            .star_modules
            .iter()
            .find(|m| keras_symbol_from_path(m).is_some())?;
        Some(format!("{module}.{name}"))
    }

    /// Resolves a node into a Keras namespace.
    pub fn keras_symbol(&self, source: &str, node: Node) -> Option<KerasSymbol> {
        keras_symbol_from_path(&self.resolve(source, node)?)
    }

    /// The shortest expression that names `path` (e.g. `tf.data.AUTOTUNE` for
    /// `tensorflow.data.AUTOTUNE` when `tf` is bound to `tensorflow`), using existing bindings.
    pub fn expr_for(&self, path: &str) -> Option<String> {
        let mut best: Option<String> = None;
        for (name, binding) in &self.bindings {
            let Binding::Import(bound) = binding else {
                continue;
            };
            let rest = if path == bound {
                ""
            } else if let Some(rest) = path.strip_prefix(bound.as_str()) {
                match rest.strip_prefix('.') {
                    Some(r) => r,
                    None => continue,
                }
            } else {
                continue;
            };
            let candidate = if rest.is_empty() {
                name.clone()
            } else {
                format!("{name}.{rest}")
            };
            if best.as_ref().is_none_or(|b| {
                candidate.len() < b.len() || (candidate.len() == b.len() && candidate < *b)
            }) {
                best = Some(candidate);
            }
        }
        best
    }

    /// The Keras roots this file imports from (in a stable order).
    pub fn keras_roots(&self) -> Vec<KerasRoot> {
        let mut roots = Vec::new();
        for root in [
            KerasRoot::Keras,
            KerasRoot::TfKeras,
            KerasRoot::TfKerasLegacy,
        ] {
            let used = self.bindings.values().any(|b| match b {
                Binding::Import(p) => {
                    keras_symbol_from_path(p).is_some_and(|s| s.root == root)
                        || (root == KerasRoot::TfKeras && p == "tensorflow")
                }
                Binding::Local => false,
            });
            if used {
                roots.push(root);
            }
        }
        roots
    }

    /// Where a new import statement goes: after the last module-level import, else before the
    /// first statement (after a module docstring and `__future__` imports).
    pub fn import_insertion_offset(&self) -> (usize, bool) {
        match self.last_import_end {
            Some(end) => (end, true),
            None => (self.first_code_start, false),
        }
    }
}

/// Maps a canonical dotted path to a Keras symbol when it is inside a Keras namespace.
pub fn keras_symbol_from_path(path: &str) -> Option<KerasSymbol> {
    const ROOTS: [(&str, KerasRoot); 6] = [
        ("tensorflow.python.keras", KerasRoot::TfKeras),
        ("tensorflow.keras", KerasRoot::TfKeras),
        ("tensorflow._api.v2.keras", KerasRoot::TfKeras),
        ("keras.src", KerasRoot::Keras),
        ("keras", KerasRoot::Keras),
        ("tf_keras", KerasRoot::TfKerasLegacy),
    ];
    for (prefix, root) in ROOTS {
        if path == prefix {
            return Some(KerasSymbol {
                root,
                path: String::new(),
            });
        }
        if let Some(rest) = path.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) {
            return Some(KerasSymbol {
                root,
                path: rest.to_string(),
            });
        }
    }
    None
}

fn push_children<'t>(stack: &mut Vec<(Node<'t>, bool)>, node: Node<'t>, module_level: bool) {
    let mut cursor = node.walk();
    let children: Vec<Node> = node.named_children(&mut cursor).collect();
    for child in children.into_iter().rev() {
        stack.push((child, module_level));
    }
}

fn first_code_offset(forest: &Forest, statements: &[Node]) -> usize {
    for &child in statements {
        let is_docstring = child.kind_name() == "expression_statement"
            && child
                .named_child(0)
                .is_some_and(|n| n.kind_name() == "string");
        if child.kind_name() == "comment"
            || is_docstring
            || child.kind_name() == "future_import_statement"
        {
            continue;
        }
        return child.start_byte();
    }
    forest.roots().last().map_or(0, |r| r.end_byte())
}

fn dotted(source: &str, node: Node) -> String {
    text(source, node).split_whitespace().collect::<String>()
}

/// The source text of a node ("" when out of range).
pub fn text<'s>(source: &'s str, node: Node) -> &'s str {
    source.get(node.byte_range()).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::parse;

    /// The table built from each statement's part equals one walk over the file, also where
    /// imports and local definitions rebind the same names in turn.
    #[test]
    fn the_table_from_statement_parts_equals_the_whole_walk() {
        let mut sources = vec![
            "\"\"\"Doc.\"\"\"\nfrom __future__ import annotations\nimport keras\nkeras = 1\nif x:\n    from tensorflow import keras\n\n\ndef keras():\n    import numpy as np\n\n\nfrom tf_keras import *\nlayers = keras.layers\n".to_string(),
        ];
        let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");
        for entry in std::fs::read_dir(corpus).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "py") {
                sources.push(std::fs::read_to_string(path).unwrap());
            }
        }
        for source in &sources {
            let forest = parse(source);
            let statements = forest.statements();
            let names: Vec<Option<Box<[Box<str>]>>> = statements
                .iter()
                .map(|&n| {
                    Imports::local_names_of(source, n)
                        .map(|names| names.into_iter().map(String::into_boxed_str).collect())
                })
                .collect();
            let parts = Imports::from_units(
                source,
                &forest,
                &statements,
                names.iter().map(|n| n.as_deref()),
            );
            assert_eq!(parts, Imports::collect(source, &forest), "{source}");
        }
    }

    fn resolve_all(src: &str, exprs: &[&str]) -> Vec<Option<String>> {
        let full = format!("{src}\n{}\n", exprs.join("\n"));
        let tree = parse(&full);
        let imports = Imports::collect(&full, &tree);
        let statements = tree.statements();
        let n = statements.len();
        (n - exprs.len()..n)
            .map(|i| {
                let stmt = statements[i];
                imports.resolve(&full, stmt.named_child(0).unwrap())
            })
            .collect()
    }

    #[test]
    fn every_import_style_resolves() {
        let got = resolve_all(
            "import tensorflow as tf\nfrom tensorflow.keras.layers import Dense as D\nfrom keras import layers, initializers as I\nimport tf_keras\nimport keras.layers as L\nfrom tensorflow import keras as K",
            &[
                "tf.keras.layers.Dense",
                "D",
                "layers.Conv2D",
                "I.HeNormal",
                "tf_keras.layers.Dense",
                "L.Dense",
                "K.callbacks.TensorBoard",
                "np.zeros",
            ],
        );
        assert_eq!(
            got,
            vec![
                Some("tensorflow.keras.layers.Dense".into()),
                Some("tensorflow.keras.layers.Dense".into()),
                Some("keras.layers.Conv2D".into()),
                Some("keras.initializers.HeNormal".into()),
                Some("tf_keras.layers.Dense".into()),
                Some("keras.layers.Dense".into()),
                Some("tensorflow.keras.callbacks.TensorBoard".into()),
                None,
            ]
        );
    }

    #[test]
    fn local_definitions_shadow_imports() {
        let got = resolve_all(
            "from keras.layers import Dense\nclass Dense:\n    pass",
            &["Dense"],
        );
        assert_eq!(got, vec![None]);
    }

    #[test]
    fn expr_for_uses_existing_bindings() {
        let src = "import tensorflow as tf\nfrom keras import initializers\n";
        let tree = parse(src);
        let imports = Imports::collect(src, &tree);
        assert_eq!(
            imports.expr_for("tensorflow.data.AUTOTUNE").as_deref(),
            Some("tf.data.AUTOTUNE")
        );
        assert_eq!(
            imports.expr_for("keras.initializers.HeNormal").as_deref(),
            Some("initializers.HeNormal")
        );
        assert_eq!(imports.expr_for("numpy.zeros"), None);
        assert_eq!(imports.import_insertion_offset(), (src.len() - 1, true));
    }
}

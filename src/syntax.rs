//! Fast node kinds and fields: lookups in tables built once from the grammar, instead of tree-sitter's per-call C-string conversion and field-name scan.
//!
//! `Node::kind()` measures the C string and checks its UTF-8 on every call, and
//! `Node::child_by_field_name` compares the name against every field of the grammar; rules ask
//! both for almost every node they look at (about a tenth of the analysis time before this).
//! [`NodeExt::kind_name`] and [`NodeExt::field`] answer the same from tables.

use std::sync::LazyLock;

use tree_sitter::{Language, Node};

static LANGUAGE: LazyLock<Language> = LazyLock::new(|| tree_sitter_python::LANGUAGE.into());

/// Node kind names by kind id.
static KIND_NAMES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let language: &'static Language = &LANGUAGE;
    (0..language.node_kind_count())
        .map(|id| language.node_kind_for_id(id as u16).unwrap_or(""))
        .collect()
});

/// Field names with their ids.
static FIELDS: LazyLock<Vec<(&'static str, std::num::NonZeroU16)>> = LazyLock::new(|| {
    let language: &'static Language = &LANGUAGE;
    (1..=language.field_count())
        .filter_map(|id| {
            let id = std::num::NonZeroU16::new(id as u16)?;
            Some((language.field_name_for_id(id.get())?, id))
        })
        .collect()
});

/// Table-backed replacements for [`Node::kind`] and [`Node::child_by_field_name`].
pub trait NodeExt<'t> {
    /// The node's kind, as [`Node::kind`] spells it.
    fn kind_name(&self) -> &'static str;
    /// The child in field `name`, as [`Node::child_by_field_name`] finds it.
    fn field(&self, name: &str) -> Option<Node<'t>>;
}

impl<'t> NodeExt<'t> for Node<'t> {
    #[inline]
    fn kind_name(&self) -> &'static str {
        match KIND_NAMES.get(usize::from(self.kind_id())) {
            Some(name) if !name.is_empty() => name,
            // ERROR nodes and anything else outside the table: ask tree-sitter.
            _ => builtin_kind(self.kind()),
        }
    }

    #[inline]
    fn field(&self, name: &str) -> Option<Node<'t>> {
        let id = FIELDS.iter().find(|(field, _)| *field == name)?.1;
        self.child_by_field_id(id.get())
    }
}

/// The `'static` spelling of a kind tree-sitter names itself (`ERROR`, `_ERROR`).
fn builtin_kind(kind: &str) -> &'static str {
    match kind {
        "ERROR" => "ERROR",
        "_ERROR" => "_ERROR",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every node of a varied file, including ERROR and MISSING ones, gets the same kind and
    /// the same field children through the tables as through tree-sitter.
    #[test]
    fn tables_agree_with_tree_sitter() {
        let source = "import keras as k\nclass A(B):\n    def f(self, x: int = 1, *a, **kw):\n        return [y for y in x if y] + k.layers.Dense(3)(x)\nwith open('f') as g: pass\nx = (1 +\ndef broken(:\n";
        let mut parser = tree_sitter::Parser::new();
        parser.set_language(&LANGUAGE).unwrap();
        let tree = parser.parse(source, None).unwrap();
        assert!(tree.root_node().has_error());
        let mut cursor = tree.walk();
        let mut seen = 0;
        loop {
            let node = cursor.node();
            assert_eq!(node.kind_name(), node.kind(), "{node:?}");
            for (name, _) in FIELDS.iter() {
                assert_eq!(
                    node.field(name),
                    node.child_by_field_name(name),
                    "{name} of {node:?}"
                );
            }
            seen += 1;
            if cursor.goto_first_child() || cursor.goto_next_sibling() {
                continue;
            }
            loop {
                if !cursor.goto_parent() {
                    assert!(seen > 100);
                    return;
                }
                if cursor.goto_next_sibling() {
                    break;
                }
            }
        }
    }
}

//! A text document with its tree-sitter tree, updated and re-parsed incrementally on every edit.

use std::cell::RefCell;

use tree_sitter::{InputEdit, Parser, Point, Tree};

use crate::line_index::{Encoding, LineIndex};

thread_local! {
    static PARSER: RefCell<Parser> = RefCell::new(new_parser());
}

fn new_parser() -> Parser {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .expect("the bundled tree-sitter-python grammar matches the tree-sitter ABI");
    parser
}

/// Parses `text`, reusing `old` (already edited) when given.
pub fn parse(text: &str, old: Option<&Tree>) -> Tree {
    PARSER.with(|parser| {
        parser
            .borrow_mut()
            .parse(text, old)
            .expect("parsing without a timeout or cancellation flag always yields a tree")
    })
}

/// One change from the client: a range in wire coordinates (or none for a full replacement).
#[derive(Debug, Clone)]
pub struct TextChange {
    pub range: Option<((u32, u32), (u32, u32))>,
    pub text: String,
}

/// An open document.
#[derive(Debug, Clone)]
pub struct Document {
    text: String,
    version: i32,
    tree: Tree,
    line_index: LineIndex,
}

impl Document {
    pub fn new(text: String, version: i32) -> Document {
        let tree = parse(&text, None);
        let line_index = LineIndex::new(&text);
        Document {
            text,
            version,
            tree,
            line_index,
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn version(&self) -> i32 {
        self.version
    }

    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    pub fn line_index(&self) -> &LineIndex {
        &self.line_index
    }

    /// Applies changes in order, editing the old tree, then re-parses once with it.
    pub fn apply_changes(&mut self, version: i32, changes: &[TextChange], encoding: Encoding) {
        let mut full_replace = false;
        for change in changes {
            match change.range {
                None => {
                    self.text.clone_from(&change.text);
                    self.line_index = LineIndex::new(&self.text);
                    full_replace = true;
                }
                Some(((sl, sc), (el, ec))) => {
                    let start = self.line_index.offset(&self.text, sl, sc, encoding);
                    let end = self
                        .line_index
                        .offset(&self.text, el, ec, encoding)
                        .max(start);
                    self.replace(start..end, &change.text);
                }
            }
        }
        self.tree = if full_replace {
            parse(&self.text, None)
        } else {
            parse(&self.text, Some(&self.tree))
        };
        self.version = version;
    }

    /// Replaces a byte range, keeping the tree's positions in step (no re-parse).
    fn replace(&mut self, range: std::ops::Range<usize>, new_text: &str) {
        let start_position = self.point(range.start);
        let old_end_position = self.point(range.end);
        self.text.replace_range(range.clone(), new_text);
        self.line_index.apply_edit(range.clone(), new_text);
        let new_end_byte = range.start + new_text.len();
        let new_end_position = self.point(new_end_byte);
        self.tree.edit(&InputEdit {
            start_byte: range.start,
            old_end_byte: range.end,
            new_end_byte,
            start_position,
            old_end_position,
            new_end_position,
        });
    }

    /// tree-sitter point (row, byte column) of an offset in the current text.
    fn point(&self, offset: usize) -> Point {
        let line = self.line_index.line_of(offset);
        Point::new(line, offset - self.line_index.line_start(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremental_edit_equals_fresh_parse() {
        let mut doc = Document::new("import keras\nx = 1\n".into(), 1);
        doc.apply_changes(
            2,
            &[TextChange {
                range: Some(((1, 4), (1, 5))),
                text: "keras.layers.Dense(3)  # 中文".into(),
            }],
            Encoding::Utf16,
        );
        assert_eq!(
            doc.text(),
            "import keras\nx = keras.layers.Dense(3)  # 中文\n"
        );
        let fresh = parse(doc.text(), None);
        assert_eq!(
            doc.tree().root_node().to_sexp(),
            fresh.root_node().to_sexp()
        );
        assert_eq!(doc.version(), 2);
    }
}

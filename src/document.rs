//! A text document with its syntax forest, updated and re-parsed incrementally on every edit.

use std::sync::Arc;

use tree_sitter::{InputEdit, Point};

pub use crate::forest::{Forest, parse};
use crate::line_index::{Encoding, LineIndex};

/// One change from the client: a range in wire coordinates (or none for a full replacement).
#[derive(Debug, Clone)]
pub struct TextChange {
    pub range: Option<((u32, u32), (u32, u32))>,
    pub text: String,
}

/// How the text changed since an analysis last looked at the document (see [`Document::take_snapshot`]).
#[derive(Debug, Clone, Default)]
pub enum EditLog {
    /// The tree-sitter edits applied since, in order.
    Edits(Vec<InputEdit>),
    /// Replaced wholesale (or too many edits to replay): analyse from scratch.
    #[default]
    Reset,
}

/// Edits remembered between two analyses before the log gives up and asks for a full one.
const MAX_LOGGED_EDITS: usize = 4096;

/// An open document. Text and line index are shared (`Arc`) with analyses in flight and copied
/// on write only while one still holds them; cloning a document copies no text.
///
/// The trees may be dropped ([`Document::evict_tree`]) to bound memory: a tree-sitter tree takes
/// about 40 times the text's size. They come back, parsed from scratch, on the next edit or
/// snapshot.
#[derive(Debug, Clone)]
pub struct Document {
    text: Arc<String>,
    version: i32,
    /// Shared with the snapshot being analysed, if any: an edit copies the trees only while an
    /// analysis still reads them (copying ~1,000 trees per keystroke cost more than the edit).
    forest: Option<Arc<Forest>>,
    line_index: Arc<LineIndex>,
    log: EditLog,
}

/// What an analysis needs of one version of a document (cheap: shared text, trees copy-on-write).
#[derive(Clone)]
pub struct Snapshot {
    pub text: Arc<String>,
    pub forest: Arc<Forest>,
    pub line_index: Arc<LineIndex>,
    pub version: i32,
    /// Edits since the previous snapshot (the one analysed before this one).
    pub edits: EditLog,
}

impl Document {
    pub fn new(text: String, version: i32) -> Document {
        let forest = parse(&text);
        let line_index = LineIndex::new(&text);
        Document {
            text: Arc::new(text),
            version,
            forest: Some(Arc::new(forest)),
            line_index: Arc::new(line_index),
            log: EditLog::Reset,
        }
    }

    /// This version for an analysis, with the edits logged since the last call (which it clears).
    pub fn take_snapshot(&mut self) -> Snapshot {
        let forest = self
            .forest
            .get_or_insert_with(|| Arc::new(parse(&self.text)))
            .clone();
        Snapshot {
            text: self.text.clone(),
            forest,
            line_index: self.line_index.clone(),
            version: self.version,
            edits: std::mem::replace(&mut self.log, EditLog::Edits(Vec::new())),
        }
    }

    /// The shared text (no copy).
    pub fn shared_text(&self) -> Arc<String> {
        self.text.clone()
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn version(&self) -> i32 {
        self.version
    }

    /// The current trees: shared (no copy) when held, else parsed now and not kept.
    pub fn forest(&self) -> Forest {
        self.forest
            .as_deref()
            .cloned()
            .unwrap_or_else(|| parse(&self.text))
    }

    /// Whether the trees are held (not evicted).
    pub fn has_tree(&self) -> bool {
        self.forest.is_some()
    }

    /// Drops the trees to save memory; the next analysis starts from scratch.
    pub fn evict_tree(&mut self) {
        self.forest = None;
        self.log = EditLog::Reset;
    }

    pub fn line_index(&self) -> &LineIndex {
        &self.line_index
    }

    /// The shared line index (no copy).
    pub fn shared_line_index(&self) -> Arc<LineIndex> {
        self.line_index.clone()
    }

    /// Applies changes in order, editing the trees, then re-parses the statements they touched.
    pub fn apply_changes(&mut self, version: i32, changes: &[TextChange], encoding: Encoding) {
        let mut full_replace = false;
        for change in changes {
            match change.range {
                None => {
                    self.text = Arc::new(change.text.clone());
                    self.line_index = Arc::new(LineIndex::new(&self.text));
                    self.log = EditLog::Reset;
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
        match &mut self.forest {
            Some(forest) if !full_replace => Arc::make_mut(forest).reparse(&self.text),
            _ => self.forest = Some(Arc::new(parse(&self.text))),
        }
        self.version = version;
    }

    /// Replaces a byte range, keeping the trees' positions in step (no re-parse).
    fn replace(&mut self, range: std::ops::Range<usize>, new_text: &str) {
        let start_position = self.point(range.start);
        let old_end_position = self.point(range.end);
        // In place unless an analysis in flight still reads this version.
        Arc::make_mut(&mut self.text).replace_range(range.clone(), new_text);
        Arc::make_mut(&mut self.line_index).apply_edit(range.clone(), new_text);
        let new_end_byte = range.start + new_text.len();
        let new_end_position = self.point(new_end_byte);
        let edit = InputEdit {
            start_byte: range.start,
            old_end_byte: range.end,
            new_end_byte,
            start_position,
            old_end_position,
            new_end_position,
        };
        let Some(forest) = &mut self.forest else {
            self.log = EditLog::Reset;
            return;
        };
        Arc::make_mut(forest).edit(&edit);
        if let EditLog::Edits(edits) = &mut self.log {
            if edits.len() < MAX_LOGGED_EDITS {
                edits.push(edit);
            } else {
                self.log = EditLog::Reset;
            }
        }
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
        let fresh = parse(doc.text());
        assert_eq!(doc.forest().to_sexp(), fresh.to_sexp());
        assert_eq!(doc.version(), 2);
    }
}

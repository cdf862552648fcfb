//! A Python module parsed as a forest: one tree-sitter tree per top-level statement, so an edit re-parses only the statements it touches.
//!
//! tree-sitter does not reuse subtrees built while recovering from a syntax error, so an
//! incremental re-parse of one tree costs more with every error in the file (a 5,000-line file
//! with a few hundred half-typed lines re-parses in ~20 ms). Here each top-level statement, with
//! the comments and blank lines after it, is its own tree over the same text (tree-sitter's
//! included ranges), so nodes keep document offsets and an error stays inside its statement.
//!
//! Statement starts are found lexically ([`next_statement`]): a line at column 0 outside any
//! string, bracket or line continuation, not `else`/`elif`/`except`/`finally` and not the `def`
//! of a decorator above. For valid Python that is exactly where the grammar starts a top-level
//! statement, so each tree is the subtree one whole-file parse would build. After an edit the
//! statements are found again from the one before the edit until a start lines up with an old
//! one; the result is the same as chunking the new text from scratch.

use std::cell::RefCell;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use tree_sitter::{InputEdit, Node, Parser, Point, Tree};

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

/// Parses `text` as a forest of top-level statements.
pub fn parse(text: &str) -> Forest {
    Forest::parse(text)
}

/// One tree for the whole text: the plain tree-sitter parse (the raw-parse baseline of the
/// throughput benchmark; the analysis uses [`parse`]).
pub fn parse_whole(text: &str) -> Tree {
    PARSER.with(|parser| {
        let mut parser = parser.borrow_mut();
        parser
            .set_included_ranges(&[])
            .expect("no included ranges is always valid");
        parser
            .parse(text, None)
            .expect("parsing without a timeout or cancellation flag always yields a tree")
    })
}

/// Texts at least this big are parsed on every core (smaller ones are not worth the hand-off).
const PARALLEL_PARSE_BYTES: usize = 64 * 1024;

/// Ids of parsed chunks: a chunk's id changes exactly when it is parsed again.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One top-level statement (with the comments and blank lines after it) and its tree.
#[derive(Clone)]
struct Chunk {
    range: Range<usize>,
    /// The row of `range.start` (its column is 0).
    row: usize,
    tree: Tree,
    id: u64,
    /// An edit changed its text since it was parsed.
    stale: bool,
}

/// The trees of a module's top-level statements, in order; their ranges tile the text.
#[derive(Clone)]
pub struct Forest {
    chunks: Vec<Chunk>,
    /// The text edited since the last parse, in current offsets.
    dirty: Option<Range<usize>>,
}

impl std::fmt::Debug for Forest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forest")
            .field("chunks", &self.chunks.len())
            .field("dirty", &self.dirty)
            .finish()
    }
}

impl Forest {
    /// Parses `text` from scratch (a big text on every core: the trees are independent).
    pub fn parse(text: &str) -> Forest {
        let bytes = text.as_bytes();
        let mut starts = vec![(0, 0)];
        let mut row = 0;
        while let Some(next) = next_statement(bytes, starts[starts.len() - 1].0) {
            row += memchr::memchr_iter(b'\n', &bytes[starts[starts.len() - 1].0..next]).count();
            starts.push((next, row));
        }
        let chunk = |i: usize| {
            let (start, row) = starts[i];
            let end = starts.get(i + 1).map_or(text.len(), |s| s.0);
            parse_chunk(text, start..end, row, None)
        };
        let chunks = if text.len() >= PARALLEL_PARSE_BYTES {
            use rayon::prelude::*;
            (0..starts.len()).into_par_iter().map(chunk).collect()
        } else {
            (0..starts.len()).map(chunk).collect()
        };
        Forest {
            chunks,
            dirty: None,
        }
    }

    /// Moves the trees' positions for an edit of the text (no re-parse; see [`Forest::reparse`]).
    pub fn edit(&mut self, edit: &InputEdit) {
        let shift = |offset: usize| shift_offset(offset, edit);
        self.dirty = Some(match self.dirty.take() {
            Some(dirty) => {
                shift(dirty.start).min(edit.start_byte)..shift(dirty.end).max(edit.new_end_byte)
            }
            None => edit.start_byte..edit.new_end_byte,
        });
        let rows_added = edit.new_end_position.row as isize - edit.old_end_position.row as isize;
        // Chunks that end before the edit keep everything.
        let first = self
            .chunks
            .partition_point(|c| c.range.end < edit.start_byte);
        for chunk in &mut self.chunks[first..] {
            if chunk.range.start > edit.old_end_byte {
                chunk.row = chunk.row.saturating_add_signed(rows_added);
            }
            // Its text changed: bytes of it were replaced, or text was inserted at its start
            // (which does not move, so the insertion lands inside it).
            chunk.stale |= (chunk.range.end > edit.start_byte
                && chunk.range.start < edit.old_end_byte)
                || (chunk.range.start == edit.start_byte && edit.new_end_byte > edit.start_byte);
            chunk.range = shift(chunk.range.start)..shift(chunk.range.end);
            chunk.tree.edit(edit);
        }
    }

    /// Brings the forest up to date with `text` after [`Forest::edit`]s: finds the statements
    /// again around the edits and parses those that changed (incrementally where a statement
    /// still starts where it did).
    pub fn reparse(&mut self, text: &str) {
        let Some(dirty) = self.dirty.take() else {
            return;
        };
        if self.chunks.is_empty() {
            *self = Forest::parse(text);
            return;
        }
        // From the statement before the first one touched: its start is still a statement
        // start (nothing before it or on its first line changed).
        let touched = self.chunks.partition_point(|c| c.range.end < dirty.start);
        let first = touched.saturating_sub(1);
        let (start, row) = (self.chunks[first].range.start, self.chunks[first].row);
        let Chunked(fresh, resumed) =
            chunk_and_parse(text, start, row, Some(dirty), &self.chunks[first..]);
        let end = resumed.map_or(self.chunks.len(), |k| first + k);
        self.chunks.splice(first..end, fresh);
    }

    /// The root of each tree (a `module`, or an `ERROR` for a statement that does not parse).
    pub fn roots(&self) -> impl DoubleEndedIterator<Item = Node<'_>> + ExactSizeIterator + '_ {
        self.chunks.iter().map(|c| c.tree.root_node())
    }

    /// The module's top-level nodes (statements and comments), in document order.
    pub fn statements(&self) -> Vec<Node<'_>> {
        let mut out = Vec::with_capacity(self.chunks.len());
        for root in self.roots() {
            // Most trees hold one statement: indexing their few children is cheaper than
            // allocating a cursor for each of thousands of trees on every keystroke.
            let count = root.child_count();
            if count <= 4 {
                out.extend((0..count).filter_map(|i| root.child(i)));
            } else {
                let mut cursor = root.walk();
                out.extend(root.children(&mut cursor));
            }
        }
        out
    }

    /// The root of the tree holding byte `offset` (the last tree past the end).
    pub fn root_at(&self, offset: usize) -> Node<'_> {
        let index = self
            .chunks
            .partition_point(|c| c.range.start <= offset)
            .saturating_sub(1);
        self.chunks[index].tree.root_node()
    }

    /// The roots of the trees overlapping `range`.
    pub fn roots_in(&self, range: Range<usize>) -> impl Iterator<Item = Node<'_>> + '_ {
        let first = self.chunks.partition_point(|c| c.range.end <= range.start);
        self.chunks[first.min(self.chunks.len())..]
            .iter()
            .take_while(move |c| c.range.start < range.end || c.range.start == range.start)
            .map(|c| c.tree.root_node())
    }

    /// Whether `node` is the root of one of the trees.
    pub fn is_root(&self, node: Node) -> bool {
        self.root_at(node.start_byte()).id() == node.id()
    }

    /// The named sibling before `node`; for a top-level node, continuing into the trees before.
    pub fn prev_named_sibling<'t>(&'t self, node: Node<'t>) -> Option<Node<'t>> {
        if let Some(previous) = node.prev_named_sibling() {
            return Some(previous);
        }
        let index = self.top_level_chunk(node)?;
        self.chunks[..index].iter().rev().find_map(|c| {
            let root = c.tree.root_node();
            root.named_child(root.named_child_count().checked_sub(1)? as u32)
        })
    }

    /// The named sibling after `node`; for a top-level node, continuing into the trees after.
    pub fn next_named_sibling<'t>(&'t self, node: Node<'t>) -> Option<Node<'t>> {
        if let Some(next) = node.next_named_sibling() {
            return Some(next);
        }
        let index = self.top_level_chunk(node)?;
        self.chunks[index + 1..]
            .iter()
            .find_map(|c| c.tree.root_node().named_child(0))
    }

    /// The index of the tree whose root is `node`'s parent, if it is a top-level node.
    fn top_level_chunk(&self, node: Node) -> Option<usize> {
        let index = self
            .chunks
            .partition_point(|c| c.range.start <= node.start_byte())
            .saturating_sub(1);
        let root = self.chunks.get(index)?.tree.root_node();
        (node.parent()?.id() == root.id()).then_some(index)
    }

    /// The smallest node spanning `start..end` (within the tree holding `start`).
    pub fn descendant_for_byte_range(&self, start: usize, end: usize) -> Option<Node<'_>> {
        self.root_at(start).descendant_for_byte_range(start, end)
    }

    /// Whether any tree has a syntax error.
    pub fn has_error(&self) -> bool {
        self.roots().any(|r| r.has_error())
    }

    /// The trees as S-expressions, one per line (for tests).
    pub fn to_sexp(&self) -> String {
        self.roots()
            .map(|r| r.to_sexp())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Each tree's id (new whenever it is parsed again) and range.
    pub fn chunk_ids(&self) -> impl Iterator<Item = (u64, Range<usize>)> + '_ {
        self.chunks.iter().map(|c| (c.id, c.range.clone()))
    }

    /// How many trees there are.
    pub fn len(&self) -> usize {
        self.chunks.len()
    }

    /// Always false: even empty text has one (empty) tree.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }
}

/// Where `offset` of the old text is after `edit` (inside the replaced range: its new end).
fn shift_offset(offset: usize, edit: &InputEdit) -> usize {
    if offset <= edit.start_byte {
        offset
    } else if offset >= edit.old_end_byte {
        offset - edit.old_end_byte + edit.new_end_byte
    } else {
        edit.new_end_byte
    }
}

/// Chunks parsed by [`chunk_and_parse`], and the index (in the `old` slice it was given) of the
/// first old chunk that lines up with a new statement start, when it stopped there.
struct Chunked(Vec<Chunk>, Option<usize>);

/// Splits `text` into statements from `start` (a statement start at `row`) and parses each.
/// With `dirty` (the edited text), stops at the first statement start past it where one of
/// `old` (chunks of the previous text, already moved by the edits) whose text no edit changed
/// starts too. Such an old chunk with the same range is kept as it is; a new chunk that starts
/// where an old one did is re-parsed incrementally from it.
fn chunk_and_parse(
    text: &str,
    start: usize,
    row: usize,
    dirty: Option<Range<usize>>,
    old: &[Chunk],
) -> Chunked {
    let bytes = text.as_bytes();
    let mut chunks = Vec::new();
    let mut chunk_start = start;
    let mut chunk_row = row;
    let mut resumed = None;
    loop {
        let next = next_statement(bytes, chunk_start);
        let chunk_end = next.unwrap_or(text.len());
        let rows = memchr::memchr_iter(b'\n', &bytes[chunk_start..chunk_end]).count();
        let same_start = old
            .binary_search_by_key(&chunk_start, |c| c.range.start)
            .ok()
            .map(|k| &old[k]);
        let untouched = |c: &&Chunk| c.range.end == chunk_end && !c.stale;
        chunks.push(match same_start.filter(untouched) {
            Some(kept) => kept.clone(),
            None => parse_chunk(
                text,
                chunk_start..chunk_end,
                chunk_row,
                same_start.map(|c| &c.tree),
            ),
        });
        let Some(next) = next else {
            break;
        };
        chunk_row += rows;
        chunk_start = next;
        // Resume at an old statement starting here whose text no edit changed: every one after
        // it starts later still, past the edits, so the rest is as it was.
        let k = old.partition_point(|c| c.range.start < next);
        if dirty.as_ref().is_some_and(|d| next >= d.end)
            && old
                .get(k)
                .is_some_and(|c| c.range.start == next && !c.stale)
        {
            resumed = Some(k);
            break;
        }
    }
    Chunked(chunks, resumed)
}

/// Parses one statement's range of `text` (incrementally from `base`, already edited).
fn parse_chunk(text: &str, range: Range<usize>, row: usize, base: Option<&Tree>) -> Chunk {
    let whole = range.start == 0 && range.end == text.len();
    let tree = PARSER.with(|parser| {
        let mut parser = parser.borrow_mut();
        let included = if whole {
            Vec::new()
        } else {
            let last_break = memchr::memrchr(b'\n', &text.as_bytes()[range.clone()]);
            let rows = memchr::memchr_iter(b'\n', &text.as_bytes()[range.clone()]).count();
            let end_column = match last_break {
                Some(i) => range.end - (range.start + i + 1),
                None => range.end - range.start,
            };
            vec![tree_sitter::Range {
                start_byte: range.start,
                end_byte: range.end,
                start_point: Point::new(row, 0),
                end_point: Point::new(row + rows, end_column),
            }]
        };
        parser
            .set_included_ranges(&included)
            .expect("one range inside the text is a valid set of included ranges");
        parser
            .parse(text, base)
            .expect("parsing without a timeout or cancellation flag always yields a tree")
    });
    Chunk {
        range,
        row,
        tree,
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        stale: false,
    }
}

/// Where the top-level statement after the one starting at `start` begins (a line start), or
/// `None` when it runs to the end. `start` must be a statement start (or 0).
///
/// A conservative lexer: a start it misses only makes a tree bigger. Inside an unclosed bracket
/// a line starting `def`, `class` or `import` (which no bracket can hold) still starts a
/// statement, so a half-typed call does not swallow the rest of the file.
pub fn next_statement(text: &[u8], start: usize) -> Option<usize> {
    let n = text.len();
    let mut i = start;
    let mut depth: u32 = 0;
    // (quote byte, triple-quoted)
    let mut string: Option<(u8, bool)> = None;
    let mut decorated = text.get(start) == Some(&b'@');
    while i < n {
        let b = text[i];
        if let Some((quote, triple)) = string {
            match b {
                b'\\' => {
                    i += escape_len(text, i);
                    continue;
                }
                b'\n' if !triple => string = None,
                b'\n' => {}
                _ if b == quote => {
                    if !triple {
                        string = None;
                        i += 1;
                    } else if text.get(i..i + 3) == Some(&[quote; 3]) {
                        string = None;
                        i += 3;
                    } else {
                        i += 1;
                    }
                    continue;
                }
                _ => {
                    i += 1;
                    continue;
                }
            }
        } else {
            match b {
                b'#' => {
                    i = memchr::memchr(b'\n', &text[i..]).map_or(n, |k| i + k);
                    continue;
                }
                b'\'' | b'"' => {
                    let triple = text.get(i + 1) == Some(&b) && text.get(i + 2) == Some(&b);
                    string = Some((b, triple));
                    i += if triple { 3 } else { 1 };
                    continue;
                }
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    i += 1;
                    continue;
                }
                b')' | b']' | b'}' => {
                    depth = depth.saturating_sub(1);
                    i += 1;
                    continue;
                }
                // A line continuation: the next line belongs to this one.
                b'\\' => {
                    i += escape_len(text, i);
                    continue;
                }
                b'\n' => {}
                _ => {
                    i += 1;
                    continue;
                }
            }
        }
        // At a line break outside any escape.
        i += 1;
        if i >= n || string.is_some() {
            continue;
        }
        let line = &text[i..];
        if depth == 0 && starts_statement(line) {
            if decorated {
                // The decorated `def`/`class` (or another decorator) belongs to this statement.
                decorated = line[0] == b'@';
                continue;
            }
            return Some(i);
        }
        if depth > 0 && starts_definition(line) {
            return Some(i);
        }
    }
    None
}

/// Bytes taken by a backslash and what it escapes (`\r\n` counts as one character).
fn escape_len(text: &[u8], at: usize) -> usize {
    match (text.get(at + 1), text.get(at + 2)) {
        (Some(b'\r'), Some(b'\n')) => 3,
        (Some(_), _) => 2,
        (None, _) => 1,
    }
}

/// Whether a line (at column 0, outside strings and brackets) starts a new statement.
fn starts_statement(line: &[u8]) -> bool {
    match line.first() {
        None | Some(b' ' | b'\t' | b'\x0c' | b'\r' | b'\n' | b'#') => false,
        Some(_) => !["else", "elif", "except", "finally"]
            .iter()
            .any(|k| starts_with_keyword(line, k)),
    }
}

/// Whether a line starts with a keyword no bracket can hold.
fn starts_definition(line: &[u8]) -> bool {
    ["def", "class", "import"]
        .iter()
        .any(|k| starts_with_keyword(line, k))
        || (starts_with_keyword(line, "async")
            && starts_with_keyword(line[5..].trim_ascii_start(), "def"))
}

fn starts_with_keyword(line: &[u8], keyword: &str) -> bool {
    line.starts_with(keyword.as_bytes())
        && line
            .get(keyword.len())
            .is_none_or(|&b| !(b == b'_' || b.is_ascii_alphanumeric() || b >= 0x80))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starts(text: &str) -> Vec<usize> {
        let mut out = vec![0];
        while let Some(next) = next_statement(text.as_bytes(), *out.last().unwrap()) {
            out.push(next);
        }
        out
    }

    fn lines_of(text: &str, offsets: &[usize]) -> Vec<String> {
        offsets
            .iter()
            .map(|&o| text[o..].lines().next().unwrap_or("").to_string())
            .collect()
    }

    #[test]
    fn statements_start_at_column_zero_outside_strings_brackets_and_continuations() {
        let text = "import a\n\
                    # comment\n\
                    x = (1,\n\
                    2)\n\
                    s = '''\n\
                    def not_code(): pass\n\
                    '''\n\
                    t = 'it''s' \\\n\
                    + 'joined'\n\
                    @dec(\n\
                    1)\n\
                    @other\n\
                    def f():\n\
                    \x20   pass\n\
                    # trailing\n\
                    if a:\n\
                    \x20   pass\n\
                    elif b:\n\
                    \x20   pass\n\
                    else:\n\
                    \x20   pass\n\
                    try:\n\
                    \x20   pass\n\
                    except E:\n\
                    \x20   pass\n\
                    finally:\n\
                    \x20   pass\n\
                    else_ = 1\n\
                    u = \"a\\\"b\" # \"\n\
                    v = 1\n";
        assert_eq!(
            lines_of(text, &starts(text)),
            [
                "import a",
                "x = (1,",
                "s = '''",
                "t = 'it''s' \\",
                "@dec(",
                "if a:",
                "try:",
                "else_ = 1",
                "u = \"a\\\"b\" # \"",
                "v = 1",
            ]
        );
    }

    #[test]
    fn an_unclosed_bracket_stops_at_the_next_definition() {
        let text = "x = f(\ny = 1\ndef g():\n    pass\nz = [\nfor a in b]\n";
        assert_eq!(
            lines_of(text, &starts(text)),
            ["x = f(", "def g():", "z = ["]
        );
    }

    /// Each tree of a valid file is the subtree a whole-file parse builds for that statement.
    #[test]
    fn trees_equal_the_statements_of_one_whole_parse() {
        let text = "import keras\n\n\n@keras.saving.register_keras_serializable()\nclass A(keras.layers.Layer):\n    '''Doc.\ndef x(): pass\n'''\n    def call(self, x):\n        return x\n# between\nx = [1,\n2]\nif x:\n    pass\nelse:\n    pass\n";
        let forest = parse(text);
        let mut parser = new_parser();
        let whole = parser.parse(text, None).unwrap();
        let mut cursor = whole.walk();
        let want: Vec<String> = whole
            .root_node()
            .children(&mut cursor)
            .map(|n| format!("{:?} {}", n.byte_range(), n.to_sexp()))
            .collect();
        let got: Vec<String> = forest
            .statements()
            .iter()
            .map(|n| format!("{:?} {}", n.byte_range(), n.to_sexp()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(forest.len(), 4);
        assert!(!forest.has_error());
        let node = forest
            .descendant_for_byte_range(text.find("call").unwrap(), text.find("call").unwrap())
            .unwrap();
        assert_eq!(node.kind(), "identifier");
        assert_eq!(node.start_position().row, 8);
    }

    /// Random edits, each followed by a re-parse: the forest always equals a fresh parse of the
    /// text (same chunks, same trees), and an edit re-parses only a few statements.
    #[test]
    fn reparsing_after_edits_equals_parsing_from_scratch() {
        let mut text = String::from(
            "import tensorflow as tf\n\ndef f(x):\n    return x\n\nds = tf.data.Dataset.range(3)\nds = ds.map(f)\n'''doc'''\nclass C:\n    pass\n",
        );
        let pieces = [
            "x",
            "\n",
            "(",
            ")",
            "'''",
            "\"",
            "#",
            "def g():\n    pass\n",
            "\\\n",
            "  ",
            "@d\n",
            "else:\n",
            "[",
            "",
            "é",
        ];
        let mut forest = parse(&text);
        let mut seed = 7u64;
        let mut next = |bound: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as usize) % bound.max(1)
        };
        for step in 0..400 {
            let mut start = next(text.len() + 1);
            while !text.is_char_boundary(start) {
                start -= 1;
            }
            let mut end = (start + next(4)).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            let piece = pieces[next(pieces.len())];
            let point = |t: &str, o: usize| {
                let before = &t[..o];
                let row = before.matches('\n').count();
                Point::new(row, o - before.rfind('\n').map_or(0, |i| i + 1))
            };
            let (start_position, old_end_position) = (point(&text, start), point(&text, end));
            text.replace_range(start..end, piece);
            let edit = InputEdit {
                start_byte: start,
                old_end_byte: end,
                new_end_byte: start + piece.len(),
                start_position,
                old_end_position,
                new_end_position: point(&text, start + piece.len()),
            };
            forest.edit(&edit);
            // Sometimes a line inserted at the very start too (the start of a statement).
            if step % 5 == 0 {
                text.insert_str(0, "#\n");
                forest.edit(&InputEdit {
                    start_byte: 0,
                    old_end_byte: 0,
                    new_end_byte: 2,
                    start_position: Point::new(0, 0),
                    old_end_position: Point::new(0, 0),
                    new_end_position: Point::new(1, 0),
                });
            }
            // Sometimes two edits before one re-parse, as a client batching changes.
            if step % 3 == 0 {
                continue;
            }
            forest.reparse(&text);
            let fresh = parse(&text);
            let ranges = |f: &Forest| f.chunk_ids().map(|(_, r)| r).collect::<Vec<_>>();
            assert_eq!(ranges(&forest), ranges(&fresh), "step {step}: {text:?}");
            // tree-sitter's error recovery may settle differently when it reuses nodes, so the
            // trees themselves must match where the statement parses.
            for (a, b) in forest.roots().zip(fresh.roots()) {
                if !b.has_error() {
                    assert_eq!(a.to_sexp(), b.to_sexp(), "step {step}: {text:?}");
                }
                assert_eq!(a.start_position(), b.start_position(), "step {step}");
                assert_eq!(a.end_position(), b.end_position(), "step {step}");
            }
        }
    }

    #[test]
    fn an_edit_reparses_only_the_statements_around_it() {
        let text: String = (0..200).map(|i| format!("x{i} = f({i})\n")).collect();
        let mut forest = parse(&text);
        let before: Vec<u64> = forest.chunk_ids().map(|(id, _)| id).collect();
        let at = text.find("x100 = f(100)").unwrap() + "x100 = f(100)".len();
        let mut edited = text.clone();
        edited.insert(at, 'x');
        forest.edit(&InputEdit {
            start_byte: at,
            old_end_byte: at,
            new_end_byte: at + 1,
            start_position: Point::new(100, 13),
            old_end_position: Point::new(100, 13),
            new_end_position: Point::new(100, 14),
        });
        forest.reparse(&edited);
        let after: Vec<u64> = forest.chunk_ids().map(|(id, _)| id).collect();
        let reparsed = before.iter().zip(&after).filter(|(a, b)| a != b).count();
        assert_eq!(after.len(), 200);
        assert!(reparsed <= 2, "{reparsed} statements re-parsed");
        assert_eq!(forest.to_sexp(), parse(&edited).to_sexp());
    }
}

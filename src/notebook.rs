//! Jupyter notebooks: `.ipynb` parsing that keeps the raw JSON, IPython masking, one virtual program per notebook, findings and fixes mapped to cells, source splicing.
//!
//! The analysis sees a notebook as one Python program: its code cells in order, joined by
//! newlines. IPython syntax (`%magic`, `!shell`, `?help`, `obj?`, `%%cell` magics) is masked in
//! place with text of the same byte length (a comment, or `0` where a statement is needed), so a
//! byte offset in the program is a cell's start plus the same offset in the cell's own text.
//! Nothing here knows about LSP; the CLI and the server both use it.

use crate::syntax::NodeExt;
use std::ops::Range;

use serde_json::Value;

use crate::analysis::{analyze, imports::Imports};
use crate::document::{Forest, parse};
use crate::finding::{Edit, Finding, FixSafety};
use crate::fix::error_count;
use crate::line_index::LineIndex;
use crate::settings::Settings;

// ---------------------------------------------------------------------------------------------
// IPython masking
// ---------------------------------------------------------------------------------------------

/// Cell magics whose body the kernel runs as Python.
const PYTHON_CELL_MAGICS: &[&str] = &["time", "timeit", "capture", "prun", "debug"];

/// Line magics followed by a Python statement that the kernel runs (`%time x = f()`).
const STATEMENT_LINE_MAGICS: &[&str] = &["time", "timeit", "prun"];

/// Options of `%timeit`/`%prun` that take a value (`-n 10`).
const VALUED_OPTIONS: &[&str] = &["-n", "-r", "-p", "-s", "-T", "-D", "-l"];

/// One cell's text with IPython syntax masked (same byte length, same line breaks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskedCell {
    pub text: String,
    /// Offset where the Python body starts (after a `%%time` line; 0 otherwise).
    pub body_start: usize,
    /// False for cells the kernel does not run as Python (`%%bash`, `%%writefile`, ...).
    pub is_python: bool,
}

/// A region of a cell to overwrite: `fill` first, then spaces up to the end.
struct Mask {
    range: Range<usize>,
    fill: &'static str,
}

/// Masks IPython syntax in one cell's source.
pub fn mask_cell(source: &str) -> MaskedCell {
    let lines = line_spans(source);
    let first = lines
        .iter()
        .position(|l| !source[l.clone()].trim().is_empty());
    let mut masks = Vec::new();
    let mut body_line = 0;
    let mut is_python = true;
    if let Some(first) = first {
        let line = &source[lines[first].clone()];
        if let Some(magic) = line.strip_prefix("%%") {
            let name = magic
                .split(|c: char| c.is_whitespace())
                .next()
                .unwrap_or("");
            if PYTHON_CELL_MAGICS.contains(&name) {
                masks.push(Mask {
                    range: lines[first].clone(),
                    fill: "#",
                });
                body_line = first + 1;
            } else {
                is_python = false;
                for l in &lines[first..] {
                    if !source[l.clone()].trim().is_empty() {
                        masks.push(Mask {
                            range: l.clone(),
                            fill: "#",
                        });
                    }
                }
                body_line = lines.len();
            }
        }
    }
    let body_start = lines.get(body_line).map_or(source.len(), |l| l.start);
    if is_python {
        mask_python_lines(source, &lines[body_line.min(lines.len())..], &mut masks);
    }
    MaskedCell {
        text: apply_masks(source, &masks),
        body_start: if body_line > 0 { body_start } else { 0 },
        is_python,
    }
}

/// Byte ranges of each line without its line break (`\n`, `\r\n`).
fn line_spans(source: &str) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    let mut start = 0;
    for (i, b) in source.bytes().enumerate() {
        if b == b'\n' {
            let end = if i > start && source.as_bytes()[i - 1] == b'\r' {
                i - 1
            } else {
                i
            };
            spans.push(start..end);
            start = i + 1;
        }
    }
    if start < source.len() {
        spans.push(start..source.len());
    }
    spans
}

/// Lexer state carried from one physical line to the next.
#[derive(Debug, Clone, Copy, Default)]
struct LexState {
    depth: u32,
    /// Inside a string: its quote byte and whether it is triple-quoted.
    string: Option<(u8, bool)>,
    /// The previous line ended with a backslash.
    continued: bool,
}

impl LexState {
    fn at_statement_start(&self) -> bool {
        self.depth == 0 && self.string.is_none() && !self.continued
    }
}

/// What the lexer learned about one line.
struct LineScan {
    /// The last byte of code (outside strings and comments), if any.
    last_code: Option<u8>,
}

/// Scans one line, updating the state (brackets, strings, comments, continuation).
fn scan_line(line: &str, state: &mut LexState) -> LineScan {
    let bytes = line.as_bytes();
    let mut i = 0;
    let mut last_code = None;
    state.continued = false;
    while i < bytes.len() {
        let b = bytes[i];
        if let Some((quote, triple)) = state.string {
            if b == b'\\' {
                if i + 1 == bytes.len() {
                    state.continued = true;
                }
                i += 2;
                continue;
            }
            if b == quote {
                if !triple {
                    state.string = None;
                    last_code = Some(quote);
                } else if bytes[i..].starts_with(&[quote, quote, quote]) {
                    state.string = None;
                    last_code = Some(quote);
                    i += 3;
                    continue;
                }
            }
            i += 1;
            continue;
        }
        match b {
            b'#' => break,
            b'\'' | b'"' => {
                let triple = bytes[i..].starts_with(&[b, b, b]);
                state.string = Some((b, triple));
                i += if triple { 3 } else { 1 };
                continue;
            }
            b'(' | b'[' | b'{' => state.depth += 1,
            b')' | b']' | b'}' => state.depth = state.depth.saturating_sub(1),
            b'\\' if i + 1 == bytes.len() => {
                state.continued = true;
                break;
            }
            _ => {}
        }
        if !b.is_ascii_whitespace() {
            last_code = Some(b);
        }
        i += 1;
    }
    // A single-quoted string ends at the line break unless the line is continued.
    if let Some((_, false)) = state.string
        && !state.continued
    {
        state.string = None;
    }
    LineScan { last_code }
}

fn mask_python_lines(source: &str, lines: &[Range<usize>], masks: &mut Vec<Mask>) {
    let mut state = LexState::default();
    // The indent of the last logical line that opened a block (ended with `:`).
    let mut opener: Option<usize> = None;
    // The indent of the logical line being scanned.
    let mut logical_indent = 0;
    let mut i = 0;
    while i < lines.len() {
        let span = lines[i].clone();
        let line = &source[span.clone()];
        if !state.at_statement_start() {
            let scan = scan_line(line, &mut state);
            if state.at_statement_start() {
                opener = (scan.last_code == Some(b':')).then_some(logical_indent);
            }
            i += 1;
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let rest = &line[indent..];
        if rest.is_empty() || rest.starts_with('#') {
            i += 1;
            continue;
        }
        logical_indent = indent;
        // A masked line alone in a block must stay a statement.
        let fill = if opener.is_some_and(|o| indent > o) {
            "0"
        } else {
            "#"
        };
        let start = span.start + indent;
        let mut probe = state;
        let (masked_from, code) = if let Some(stmt) = statement_magic(rest) {
            // `%time x = f()`: keep the statement, mask the magic as `0;`.
            masks.push(Mask {
                range: start..start + stmt,
                fill: "0;",
            });
            (None, &rest[stmt..])
        } else if rest.starts_with(['!', '%', '?', '/', ',', ';']) {
            (Some((start, fill)), "")
        } else if let Some(value) = assigned_magic(rest) {
            (Some((start + value, "0")), "")
        } else {
            (None, line)
        };
        if let Some((from, fill)) = masked_from {
            i = mask_escaped(source, lines, i, from, fill, masks);
            opener = None;
            continue;
        }
        let scan = scan_line(code, &mut probe);
        if scan.last_code == Some(b'?') && probe.at_statement_start() {
            // `obj?` / `obj??`: help, not code.
            masks.push(Mask {
                range: start..span.end,
                fill,
            });
            opener = None;
            i += 1;
            continue;
        }
        state = probe;
        if state.at_statement_start() {
            opener = (scan.last_code == Some(b':')).then_some(indent);
        }
        i += 1;
    }
}

/// Masks an escaped line from `from` to its end, and the lines it continues with `\`.
/// Returns the index of the next line to look at.
fn mask_escaped(
    source: &str,
    lines: &[Range<usize>],
    mut i: usize,
    from: usize,
    fill: &'static str,
    masks: &mut Vec<Mask>,
) -> usize {
    masks.push(Mask {
        range: from..lines[i].end,
        fill,
    });
    while source[lines[i].clone()].ends_with('\\') && i + 1 < lines.len() {
        i += 1;
        let next = lines[i].clone();
        let indent = source[next.clone()].len() - source[next.clone()].trim_start().len();
        masks.push(Mask {
            range: next.start + indent..next.end,
            fill: "#",
        });
    }
    i + 1
}

/// For `%time stmt` / `%timeit -n 3 stmt`: the offset of `stmt` in `rest`.
fn statement_magic(rest: &str) -> Option<usize> {
    let magic = rest.strip_prefix('%')?;
    let name_len = magic
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(magic.len());
    if !STATEMENT_LINE_MAGICS.contains(&&magic[..name_len]) {
        return None;
    }
    let mut pos = 1 + name_len;
    if !rest[pos..].starts_with([' ', '\t']) {
        return None;
    }
    let mut expect_value = false;
    loop {
        let after = &rest[pos..];
        let trimmed = after.trim_start();
        if trimmed.is_empty() {
            return None;
        }
        let token_start = pos + after.len() - trimmed.len();
        let token_len = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
        let token = &trimmed[..token_len];
        if expect_value {
            expect_value = false;
        } else if token.len() > 1
            && token.starts_with('-')
            && token[1..].starts_with(|c: char| c.is_ascii_alphabetic())
        {
            expect_value = VALUED_OPTIONS.contains(&token);
        } else {
            return Some(token_start);
        }
        pos = token_start + token_len;
    }
}

/// For `files = !ls` / `out = %sx ls`: the offset of `!`/`%` in `rest`.
fn assigned_magic(rest: &str) -> Option<usize> {
    let eq = rest.find('=')?;
    let lhs = &rest[..eq];
    if lhs.trim().is_empty()
        || !lhs
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | ',' | ' ' | '\t'))
    {
        return None;
    }
    let after = &rest[eq + 1..];
    let value = after.trim_start();
    if value.starts_with(['!', '%']) && !value.starts_with("%=") {
        Some(eq + 1 + after.len() - value.len())
    } else {
        None
    }
}

/// Overwrites each mask with its fill then spaces, char by char (so UTF-8 stays valid).
fn apply_masks(source: &str, masks: &[Mask]) -> String {
    if masks.is_empty() {
        return source.to_string();
    }
    let mut out = String::with_capacity(source.len());
    let mut pos = 0;
    let mut sorted: Vec<&Mask> = masks.iter().collect();
    sorted.sort_by_key(|m| m.range.start);
    for mask in sorted {
        if mask.range.start < pos || mask.range.end > source.len() {
            continue;
        }
        out.push_str(&source[pos..mask.range.start]);
        let masked = &source[mask.range.clone()];
        let mut written = 0;
        for ch in masked.chars() {
            for _ in 0..ch.len_utf8() {
                let fill = mask.fill.as_bytes();
                out.push(if written < fill.len() {
                    fill[written] as char
                } else {
                    ' '
                });
                written += 1;
            }
        }
        pos = mask.range.end;
    }
    out.push_str(&source[pos..]);
    out
}

// ---------------------------------------------------------------------------------------------
// The virtual program
// ---------------------------------------------------------------------------------------------

/// One code cell's place in the virtual program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualCell {
    /// The caller's identifier of the cell: its index in the notebook (`id + 1` names the cell
    /// in messages).
    pub id: usize,
    /// Byte offset of the cell's first byte in the program.
    pub start: usize,
    /// Byte length of the cell's text (the separator newline, if any, follows it).
    pub len: usize,
    /// Offset in the cell where the Python body starts (after a `%%time` line).
    pub body_start: usize,
}

/// The code cells of a notebook as one Python program.
#[derive(Debug, Clone)]
pub struct VirtualProgram {
    /// The program the analysis sees (IPython syntax masked).
    pub text: String,
    /// The same bytes without masking (offsets are identical).
    original: String,
    pub cells: Vec<VirtualCell>,
}

impl VirtualProgram {
    /// Joins code cells `(id, source)` in order; a newline separates cells that lack one.
    pub fn build<'a>(cells: impl IntoIterator<Item = (usize, &'a str)>) -> VirtualProgram {
        let mut text = String::new();
        let mut original = String::new();
        let mut placed = Vec::new();
        for (id, source) in cells {
            let masked = mask_cell(source);
            let start = text.len();
            text.push_str(&masked.text);
            original.push_str(source);
            if !source.is_empty() && !source.ends_with('\n') {
                text.push('\n');
                original.push('\n');
            }
            placed.push(VirtualCell {
                id,
                start,
                len: source.len(),
                body_start: masked.body_start,
            });
        }
        VirtualProgram {
            text,
            original,
            cells: placed,
        }
    }

    /// The cell (position in `cells`) holding `offset`, and the offset inside it. An offset just
    /// past a cell's text belongs to that cell.
    pub fn locate(&self, offset: usize) -> Option<(usize, usize)> {
        let after = self.cells.partition_point(|c| c.start <= offset);
        let pos = after.checked_sub(1)?;
        let cell = &self.cells[pos];
        (offset <= cell.start + cell.len).then(|| (pos, offset - cell.start))
    }

    /// A program range as a range inside one cell (the end clamped to that cell).
    fn cell_range(&self, range: &Range<usize>) -> Option<(usize, Range<usize>)> {
        let (pos, start) = self.locate(range.start)?;
        let cell = &self.cells[pos];
        let end = range.end.clamp(range.start, cell.start + cell.len) - cell.start;
        Some((pos, start..end))
    }

    /// A program range inside one cell whose bytes were not masked (so an edit there is safe).
    fn editable(&self, range: &Range<usize>) -> Option<(usize, Range<usize>)> {
        let (pos, local) = self.locate(range.start)?;
        let cell = &self.cells[pos];
        if range.end > cell.start + cell.len || range.end < range.start {
            return None;
        }
        let unmasked = self.text.get(range.clone()) == self.original.get(range.clone());
        unmasked.then(|| (pos, local..local + range.len()))
    }
}

/// A finding placed in a cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellFinding {
    /// The cell's id.
    pub cell: usize,
    /// The finding, its range relative to the cell; `fix` holds the edits in this cell only.
    pub finding: Finding,
    /// The whole fix, whose edits may touch other cells (an import goes to the imports cell).
    pub fix: Option<CellFix>,
}

/// A fix whose edits are placed in cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellFix {
    pub title: String,
    pub safety: FixSafety,
    pub edits: Vec<CellEdit>,
    /// The smallest program range covering every edit (for choosing non-overlapping fixes).
    span: Range<usize>,
}

/// One edit inside one cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellEdit {
    pub cell: usize,
    pub edit: Edit,
}

/// Analyses the program and places every finding in its cell.
pub fn analyze_program(program: &VirtualProgram, settings: &Settings) -> Vec<CellFinding> {
    let tree = parse(&program.text);
    let findings = analyze(&program.text, &tree, settings);
    if findings.is_empty() {
        return Vec::new();
    }
    let imports = ImportPlacement::new(program, &tree);
    let lines = LineIndex::new(&program.text);
    findings
        .into_iter()
        .filter_map(|finding| place_finding(program, &imports, &lines, finding))
        .collect()
}

/// Rewrites `line N` in a message (a line of the program) as a line of its cell: `line R`
/// in the finding's own cell, `line R of cell C` in another (C counts from 1 by id).
fn cell_line_refs(
    message: &str,
    program: &VirtualProgram,
    lines: &LineIndex,
    own: usize,
) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(pos) = rest.find("line ") {
        let word_start = pos == 0 || !rest.as_bytes()[pos - 1].is_ascii_alphanumeric();
        let after = &rest[pos + 5..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        out.push_str(&rest[..pos + 5]);
        rest = after;
        let number: Option<usize> = after[..digits].parse().ok();
        let target = number
            .filter(|n| word_start && *n >= 1 && *n <= lines.line_count())
            .and_then(|n| program.locate(lines.line_start(n - 1)));
        let Some((cell, offset)) = target else {
            continue;
        };
        let start = program.cells[cell].start;
        let row = program.original[start..start + offset]
            .matches('\n')
            .count()
            + 1;
        out.push_str(&row.to_string());
        if cell != own {
            out.push_str(&format!(" of cell {}", program.cells[cell].id + 1));
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

fn place_finding(
    program: &VirtualProgram,
    imports: &ImportPlacement,
    lines: &LineIndex,
    mut finding: Finding,
) -> Option<CellFinding> {
    let (pos, range) = program.cell_range(&finding.range)?;
    let id = program.cells[pos].id;
    if finding.message.contains("line ") {
        finding.message = cell_line_refs(&finding.message, program, lines, pos);
    }
    let fix = finding
        .fix
        .take()
        .and_then(|fix| place_fix(program, imports, fix));
    finding.range = range;
    finding.fix = fix.as_ref().map(|f| {
        crate::finding::Fix::new(
            f.title.clone(),
            f.safety,
            f.edits
                .iter()
                .filter(|e| e.cell == id)
                .map(|e| e.edit.clone())
                .collect(),
        )
    });
    Some(CellFinding {
        cell: id,
        finding,
        fix,
    })
}

/// Places a fix's edits in cells (moving an added import to the notebook's imports cell);
/// `None` when an edit would cross a cell boundary or touch masked IPython syntax.
fn place_fix(
    program: &VirtualProgram,
    imports: &ImportPlacement,
    fix: crate::finding::Fix,
) -> Option<CellFix> {
    let code_edits: Vec<&Edit> = fix.edits.iter().filter(|e| !imports.is_import(e)).collect();
    let first_code_cell = code_edits
        .iter()
        .filter_map(|e| program.locate(e.range.start).map(|(p, _)| p))
        .min();
    let mut placed = Vec::new();
    let mut span: Option<Range<usize>> = None;
    for edit in &fix.edits {
        let range = if imports.is_import(edit) {
            imports.target(program, first_code_cell)
        } else {
            edit.range.clone()
        };
        let content = if imports.is_import(edit) {
            imports.content_at(program, &range, &edit.content)
        } else {
            edit.content.clone()
        };
        let (pos, local) = program.editable(&range)?;
        span = Some(match span {
            Some(s) => s.start.min(range.start)..s.end.max(range.end),
            None => range.clone(),
        });
        placed.push(CellEdit {
            cell: program.cells[pos].id,
            edit: Edit::replace(local, content),
        });
    }
    Some(CellFix {
        title: fix.title,
        safety: fix.safety,
        edits: placed,
        span: span.unwrap_or(0..0),
    })
}

/// Where imports added by fixes go: after the last top-level import of the first code cell
/// that has imports.
struct ImportPlacement {
    /// Where the engine inserts imports in the program, and whether after an import.
    engine_offset: usize,
    after_import: bool,
    /// (cell position, program offset just after the cell's last top-level import).
    imports_cell: Option<(usize, usize)>,
}

impl ImportPlacement {
    fn new(program: &VirtualProgram, forest: &Forest) -> ImportPlacement {
        let (engine_offset, after_import) =
            Imports::collect(&program.text, forest).import_insertion_offset();
        let mut imports_cell: Option<(usize, usize)> = None;
        for child in forest.statements().into_iter().filter(|n| n.is_named()) {
            if !matches!(
                child.kind_name(),
                "import_statement" | "import_from_statement" | "future_import_statement"
            ) {
                continue;
            }
            let Some((pos, _)) = program.locate(child.start_byte()) else {
                continue;
            };
            match imports_cell {
                None => imports_cell = Some((pos, child.end_byte())),
                Some((p, _)) if p == pos => imports_cell = Some((pos, child.end_byte())),
                Some(_) => break,
            }
        }
        ImportPlacement {
            engine_offset,
            after_import,
            imports_cell,
        }
    }

    /// An insertion the engine made to add an import statement.
    fn is_import(&self, edit: &Edit) -> bool {
        let statement = edit.content.trim_start_matches(['\r', '\n']);
        edit.range.is_empty()
            && edit.range.start == self.engine_offset
            && (statement.starts_with("import ") || statement.starts_with("from "))
    }

    /// Where an import goes, given the first cell (position) the fix edits otherwise.
    fn target(&self, program: &VirtualProgram, first_code_cell: Option<usize>) -> Range<usize> {
        match (self.imports_cell, first_code_cell) {
            (Some((pos, end)), Some(first)) if pos <= first => end..end,
            (Some((_, end)), None) => end..end,
            (_, Some(first)) if self.after_import => {
                // The imports come after the code that needs them: top of that code's cell.
                let cell = &program.cells[first];
                let at = cell.start + cell.body_start;
                at..at
            }
            _ => self.engine_offset..self.engine_offset,
        }
    }

    /// The import statement text for insertion at `range` (after an import, or before code).
    fn content_at(&self, program: &VirtualProgram, range: &Range<usize>, content: &str) -> String {
        let newline = if program.text.contains("\r\n") {
            "\r\n"
        } else {
            "\n"
        };
        let statement = content.trim_matches(['\r', '\n']);
        let after_import = self.imports_cell.is_some_and(|(_, end)| end == range.start)
            || (self.after_import && range.start == self.engine_offset);
        if after_import {
            format!("{newline}{statement}")
        } else {
            format!("{statement}{newline}")
        }
    }
}

/// Applies every applicable fix to the cells, iterating to a fixed point (at most 10 rounds);
/// a round that would add syntax errors is rolled back. `only` restricts fixes to findings in
/// that cell (by id). Returns the new sources (same order as `cells`) and the number applied.
pub fn fix_cells(
    cells: &[(usize, String)],
    settings: &Settings,
    include_unsafe: bool,
    only: Option<usize>,
) -> (Vec<String>, usize) {
    let mut sources: Vec<String> = cells.iter().map(|(_, s)| s.clone()).collect();
    let ids: Vec<usize> = cells.iter().map(|(id, _)| *id).collect();
    let build = |sources: &[String]| {
        VirtualProgram::build(ids.iter().copied().zip(sources.iter().map(String::as_str)))
    };
    let baseline_errors = error_count(&build(&sources).text);
    let mut applied = 0;
    for _ in 0..10 {
        let program = build(&sources);
        let findings = analyze_program(&program, settings);
        let mut fixes: Vec<&CellFix> = findings
            .iter()
            .filter(|f| only.is_none_or(|c| f.cell == c))
            .filter_map(|f| f.fix.as_ref())
            .filter(|f| f.safety == FixSafety::Safe || include_unsafe)
            .filter(|f| !f.edits.is_empty())
            .collect();
        fixes.sort_by_key(|f| (f.span.start, f.span.end));
        let mut per_cell: Vec<Vec<&Edit>> = vec![Vec::new(); sources.len()];
        let mut last_end: Option<usize> = None;
        let mut count = 0;
        for fix in fixes {
            let span = &fix.span;
            if last_end
                .is_some_and(|end| span.start < end || (span.start == end && span.is_empty()))
            {
                continue;
            }
            for edit in &fix.edits {
                if let Some(i) = ids.iter().position(|&id| id == edit.cell) {
                    per_cell[i].push(&edit.edit);
                }
            }
            last_end = Some(span.end);
            count += 1;
        }
        if count == 0 {
            break;
        }
        let new_sources: Vec<String> = sources
            .iter()
            .zip(&per_cell)
            .map(|(source, edits)| apply_edits(source, edits))
            .collect();
        if new_sources == sources {
            break;
        }
        if error_count(&build(&new_sources).text) > baseline_errors {
            tracing::warn!(
                "a notebook fix round would introduce syntax errors; it was not applied"
            );
            break;
        }
        sources = new_sources;
        applied += count;
    }
    (sources, applied)
}

/// Applies non-overlapping edits (sorted here) to one text.
fn apply_edits(source: &str, edits: &[&Edit]) -> String {
    let mut edits: Vec<&Edit> = edits.to_vec();
    edits.sort_by_key(|e| (e.range.start, e.range.end));
    let mut out = String::with_capacity(source.len() + 64);
    let mut pos = 0;
    for edit in edits {
        let r = &edit.range;
        if r.start < pos
            || r.end > source.len()
            || !source.is_char_boundary(r.start)
            || !source.is_char_boundary(r.end)
        {
            continue;
        }
        out.push_str(&source[pos..r.start]);
        out.push_str(&edit.content);
        pos = r.end;
    }
    out.push_str(&source[pos..]);
    out
}

// ---------------------------------------------------------------------------------------------
// The .ipynb file
// ---------------------------------------------------------------------------------------------

/// The kind of a notebook cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    Code,
    Markdown,
    Raw,
}

/// How a cell's `source` is written in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SourceForm {
    /// `"source": "one string"`.
    String,
    /// `"source": ["line\n", "line"]`, with the whitespace found around its items.
    Lines {
        /// Before the first item (e.g. `"\n   "`), `None` when the array was empty.
        lead: Option<String>,
        /// Between items, after the comma.
        between: Option<String>,
        /// After the last item, before `]`.
        trail: Option<String>,
    },
}

/// One cell of a notebook file.
#[derive(Debug, Clone)]
pub struct NotebookCell {
    pub kind: CellKind,
    pub source: String,
    /// Whether this is a code cell in Python (the notebook's and the cell's language).
    pub python: bool,
    /// Byte span of the `source` value in the raw JSON.
    span: Range<usize>,
    form: SourceForm,
}

/// A notebook file, parsed but kept as text so unchanged parts are written back untouched.
#[derive(Debug, Clone)]
pub struct Notebook {
    raw: String,
    pub cells: Vec<NotebookCell>,
    style: JsonStyle,
}

/// How the file writes JSON.
#[derive(Debug, Clone)]
struct JsonStyle {
    /// One level of indentation, `None` for compact JSON.
    indent: Option<String>,
    newline: &'static str,
    /// Non-ASCII written as `\uXXXX`.
    ensure_ascii: bool,
}

impl Notebook {
    /// Parses nbformat 4 JSON; a clear message for anything else.
    pub fn parse(raw: &str) -> Result<Notebook, String> {
        let body = raw.strip_prefix('\u{feff}').unwrap_or(raw);
        let bom = raw.len() - body.len();
        let value: Value = serde_json::from_str(body).map_err(|e| {
            format!(
                "not a valid notebook: invalid JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            )
        })?;
        let top = value
            .as_object()
            .ok_or("not a valid notebook: the top level is not a JSON object")?;
        match top.get("nbformat") {
            Some(Value::Number(n)) if n.as_u64() == Some(4) => {}
            Some(Value::Number(n)) => {
                return Err(format!(
                    "nbformat {n} notebooks are not supported; convert with `jupyter nbconvert --to notebook --nbformat 4`"
                ));
            }
            Some(_) => return Err("not a valid notebook: `nbformat` is not a number".into()),
            None if top.contains_key("worksheets") => {
                return Err(
                    "nbformat 3 notebooks are not supported; convert with `jupyter nbconvert --to notebook --nbformat 4`"
                        .into(),
                );
            }
            None => return Err("not a valid notebook: missing `nbformat`".into()),
        }
        let cells = match top.get("cells") {
            Some(Value::Array(cells)) => cells,
            Some(_) => return Err("not a valid notebook: `cells` is not an array".into()),
            None => return Err("not a valid notebook: missing `cells`".into()),
        };
        let notebook_python = notebook_language(&value).is_none_or(|l| is_python(&l));
        let spans = find_source_spans(body)
            .map_err(|e| format!("not a valid notebook: {e}"))?
            .ok_or("not a valid notebook: missing `cells`")?;
        if spans.len() != cells.len() {
            return Err("not a valid notebook: could not locate every cell's `source`".into());
        }
        let mut parsed = Vec::with_capacity(cells.len());
        for (i, (cell, span)) in cells.iter().zip(spans).enumerate() {
            let n = i + 1;
            let obj = cell
                .as_object()
                .ok_or_else(|| format!("not a valid notebook: cell {n} is not an object"))?;
            let kind = match obj.get("cell_type").and_then(Value::as_str) {
                Some("code") => CellKind::Code,
                Some("markdown") => CellKind::Markdown,
                Some("raw") => CellKind::Raw,
                Some(other) => {
                    return Err(format!(
                        "not a valid notebook: cell {n} has unknown cell_type `{other}`"
                    ));
                }
                None => {
                    return Err(format!("not a valid notebook: cell {n} has no `cell_type`"));
                }
            };
            let (source, form) = match obj.get("source") {
                Some(Value::String(s)) => (s.clone(), SourceForm::String),
                Some(Value::Array(items)) => {
                    let mut s = String::new();
                    for item in items {
                        s.push_str(item.as_str().ok_or_else(|| {
                            format!("not a valid notebook: cell {n} has a `source` line that is not a string")
                        })?);
                    }
                    (s, lines_form(body, span.clone().unwrap_or(0..0)))
                }
                Some(_) => {
                    return Err(format!(
                        "not a valid notebook: cell {n} has a `source` that is neither a string nor a list of strings"
                    ));
                }
                None => {
                    return Err(format!("not a valid notebook: cell {n} has no `source`"));
                }
            };
            let span =
                span.ok_or_else(|| format!("not a valid notebook: cell {n} has no `source`"))?;
            let cell_language = obj
                .get("metadata")
                .and_then(|m| m.get("vscode"))
                .and_then(|v| v.get("languageId"))
                .and_then(Value::as_str);
            let python =
                kind == CellKind::Code && notebook_python && cell_language.is_none_or(is_python);
            parsed.push(NotebookCell {
                kind,
                source,
                python,
                span: span.start + bom..span.end + bom,
                form,
            });
        }
        Ok(Notebook {
            raw: raw.to_string(),
            cells: parsed,
            style: JsonStyle::detect(body),
        })
    }

    /// The file's text as read.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The Python code cells as `(index in cells, source)`.
    pub fn code_cells(&self) -> impl Iterator<Item = (usize, &str)> {
        self.cells
            .iter()
            .enumerate()
            .filter(|(_, c)| c.python)
            .map(|(i, c)| (i, c.source.as_str()))
    }

    /// The code cells as one program (cell ids are indexes in `cells`).
    pub fn program(&self) -> VirtualProgram {
        VirtualProgram::build(self.code_cells())
    }

    /// Findings of the notebook, placed in cells.
    pub fn analyze(&self, settings: &Settings) -> Vec<CellFinding> {
        analyze_program(&self.program(), settings)
    }

    /// The new sources of the cells that fixes change, as `(index in cells, source)`, and the
    /// number of fixes applied.
    pub fn fixed_sources(
        &self,
        settings: &Settings,
        include_unsafe: bool,
    ) -> (Vec<(usize, String)>, usize) {
        let cells: Vec<(usize, String)> =
            self.code_cells().map(|(i, s)| (i, s.to_string())).collect();
        let (sources, applied) = fix_cells(&cells, settings, include_unsafe, None);
        let changes = cells
            .iter()
            .zip(sources)
            .filter(|((_, old), new)| old != new)
            .map(|((i, _), new)| (*i, new))
            .collect();
        (changes, applied)
    }

    /// The fixed file text and the number of fixes applied; `None` when nothing changes.
    pub fn fix(&self, settings: &Settings, include_unsafe: bool) -> Option<(String, usize)> {
        let (changes, applied) = self.fixed_sources(settings, include_unsafe);
        (!changes.is_empty()).then(|| (self.with_sources(&changes), applied))
    }

    /// The file text with the given cells' sources replaced; everything else byte-identical.
    pub fn with_sources(&self, changes: &[(usize, String)]) -> String {
        let mut changes: Vec<&(usize, String)> = changes
            .iter()
            .filter(|(i, s)| self.cells.get(*i).is_some_and(|c| c.source != *s))
            .collect();
        changes.sort_by_key(|(i, _)| self.cells[*i].span.start);
        let mut out = String::with_capacity(self.raw.len() + 256);
        let mut pos = 0;
        for (i, source) in changes {
            let cell = &self.cells[*i];
            if cell.span.start < pos {
                continue;
            }
            out.push_str(&self.raw[pos..cell.span.start]);
            out.push_str(&self.source_json(cell, source));
            pos = cell.span.end;
        }
        out.push_str(&self.raw[pos..]);
        out
    }

    /// A cell's new `source` value written in the file's own style.
    fn source_json(&self, cell: &NotebookCell, source: &str) -> String {
        let ascii = self.style.ensure_ascii;
        let SourceForm::Lines {
            lead,
            between,
            trail,
        } = &cell.form
        else {
            return json_string(source, ascii);
        };
        let lines = split_lines(source);
        if lines.is_empty() {
            return "[]".to_string();
        }
        let (lead, trail) = match (lead, trail) {
            (Some(lead), Some(trail)) => (lead.clone(), trail.clone()),
            _ => match &self.style.indent {
                // An empty array: indent like nbformat, one level below the `"source"` key.
                Some(unit) => {
                    let key_indent = line_indent_at(&self.raw, cell.span.start);
                    let nl = self.style.newline;
                    (
                        format!("{nl}{key_indent}{unit}"),
                        format!("{nl}{key_indent}"),
                    )
                }
                None => (String::new(), String::new()),
            },
        };
        let between = between.clone().unwrap_or_else(|| {
            if lead.contains('\n') {
                lead.clone()
            } else {
                " ".to_string()
            }
        });
        let mut out = String::from("[");
        out.push_str(&lead);
        for (k, line) in lines.iter().enumerate() {
            if k > 0 {
                out.push(',');
                out.push_str(&between);
            }
            out.push_str(&json_string(line, ascii));
        }
        out.push_str(&trail);
        out.push(']');
        out
    }
}

fn is_python(language: &str) -> bool {
    let l = language.to_ascii_lowercase();
    l == "python" || l == "python3" || l == "ipython" || l == "ipython3"
}

/// The notebook's language from its metadata (`language_info.name`, `kernelspec.language`).
fn notebook_language(value: &Value) -> Option<String> {
    let metadata = value.get("metadata")?;
    metadata
        .get("language_info")
        .and_then(|l| l.get("name"))
        .or_else(|| metadata.get("kernelspec").and_then(|k| k.get("language")))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The indentation of the line holding `offset`.
fn line_indent_at(raw: &str, offset: usize) -> &str {
    let start = raw[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = &raw[start..];
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

impl JsonStyle {
    fn detect(raw: &str) -> JsonStyle {
        let newline = if raw.contains("\r\n") { "\r\n" } else { "\n" };
        // The whitespace between the opening `{` and the first key.
        let after_brace = raw.trim_start().strip_prefix('{').unwrap_or("");
        let gap = &after_brace[..after_brace.len() - after_brace.trim_start().len()];
        let indent = gap
            .rfind('\n')
            .map(|i| gap[i + 1..].to_string())
            .filter(|s| !s.is_empty());
        JsonStyle {
            indent,
            newline,
            ensure_ascii: detect_ensure_ascii(raw),
        }
    }
}

/// Whether the file escapes non-ASCII (`ensure_ascii=True`): it has `\uXXXX` escapes of
/// non-ASCII characters and no raw non-ASCII text. nbformat's default is raw UTF-8.
fn detect_ensure_ascii(raw: &str) -> bool {
    if !raw.is_ascii() {
        return false;
    }
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i + 5 < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes[i + 1] == b'u'
                && let Some(code) = raw
                    .get(i + 2..i + 6)
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                && code >= 0x80
            {
                return true;
            }
            i += 2;
            continue;
        }
        i += 1;
    }
    false
}

/// The layout of an existing `source` array: whitespace before, between and after its items.
fn lines_form(raw: &str, span: Range<usize>) -> SourceForm {
    let text = &raw[span];
    let mut scanner = Scanner::new(text);
    let mut items: Vec<Range<usize>> = Vec::new();
    if scanner.eat(b'[') {
        loop {
            scanner.ws();
            if scanner.peek() != Some(b'"') {
                break;
            }
            let start = scanner.pos;
            if scanner.string().is_err() {
                break;
            }
            items.push(start..scanner.pos);
            scanner.ws();
            if !scanner.eat(b',') {
                break;
            }
        }
    }
    let Some(first) = items.first() else {
        return SourceForm::Lines {
            lead: None,
            between: None,
            trail: None,
        };
    };
    let last = items.last().map_or(first.clone(), Clone::clone);
    let lead = text[1..first.start].to_string();
    let trail = text[last.end..text.len() - 1].to_string();
    let between = items.get(1).map(|second| {
        let gap = &text[first.end..second.start];
        gap.trim_start()
            .strip_prefix(',')
            .unwrap_or(gap)
            .to_string()
    });
    SourceForm::Lines {
        lead: Some(lead),
        between,
        trail: Some(trail),
    }
}

/// Python's `str.splitlines(keepends=True)`, as nbformat uses to write sources.
pub fn split_lines(s: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut iter = s.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let end = match c {
            '\r' => {
                if let Some(&(j, '\n')) = iter.peek() {
                    iter.next();
                    j + 1
                } else {
                    i + 1
                }
            }
            '\n' | '\u{0b}' | '\u{0c}' | '\u{1c}' | '\u{1d}' | '\u{1e}' | '\u{85}' | '\u{2028}'
            | '\u{2029}' => i + c.len_utf8(),
            _ => continue,
        };
        lines.push(&s[start..end]);
        start = end;
    }
    if start < s.len() {
        lines.push(&s[start..]);
    }
    lines
}

/// A JSON string literal as Python's `json.dumps` writes it.
pub fn json_string(s: &str, ensure_ascii: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if ensure_ascii && !c.is_ascii() => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A small JSON scanner over text already validated by serde_json, used to find byte spans.
struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Scanner<'a> {
        Scanner { text, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), String> {
        self.ws();
        if self.eat(b) {
            Ok(())
        } else {
            Err(format!("expected `{}` at byte {}", b as char, self.pos))
        }
    }

    /// Skips a string literal; returns its decoded value.
    fn string(&mut self) -> Result<String, String> {
        let start = self.pos;
        if !self.eat(b'"') {
            return Err(format!("expected a string at byte {}", self.pos));
        }
        let bytes = self.text.as_bytes();
        while let Some(&b) = bytes.get(self.pos) {
            self.pos += 1;
            match b {
                b'\\' => self.pos += 1,
                b'"' => {
                    return serde_json::from_str(&self.text[start..self.pos])
                        .map_err(|e| e.to_string());
                }
                _ => {}
            }
        }
        Err("unterminated string".into())
    }

    /// Skips any value (iteratively: nesting depth is only counted).
    fn skip_value(&mut self) -> Result<(), String> {
        self.ws();
        let mut depth = 0usize;
        loop {
            match self.peek() {
                None => return Err("unexpected end of JSON".into()),
                Some(b'"') => {
                    self.string()?;
                }
                Some(b'[' | b'{') => {
                    depth += 1;
                    self.pos += 1;
                }
                Some(b']' | b'}') => {
                    depth = depth
                        .checked_sub(1)
                        .ok_or_else(|| format!("unexpected bracket at byte {}", self.pos))?;
                    self.pos += 1;
                }
                Some(_) => {
                    // A scalar (number, true, false, null) or separators inside a container.
                    self.pos += 1;
                    if depth == 0 {
                        while self
                            .peek()
                            .is_some_and(|b| !b",]}".contains(&b) && !b.is_ascii_whitespace())
                        {
                            self.pos += 1;
                        }
                        return Ok(());
                    }
                    continue;
                }
            }
            if depth == 0 {
                return Ok(());
            }
        }
    }

    /// Visits the members of an object, calling `member(key, scanner)` positioned at each value,
    /// which must consume the value.
    fn object(
        &mut self,
        mut member: impl FnMut(&str, &mut Scanner<'a>) -> Result<(), String>,
    ) -> Result<(), String> {
        self.expect(b'{')?;
        self.ws();
        if self.eat(b'}') {
            return Ok(());
        }
        loop {
            self.ws();
            let key = self.string()?;
            self.expect(b':')?;
            self.ws();
            member(&key, self)?;
            self.ws();
            if self.eat(b',') {
                continue;
            }
            return self.expect(b'}');
        }
    }
}

/// The span of every cell's `source` value (`None` for a cell without one); `None` without `cells`.
type SourceSpans = Option<Vec<Option<Range<usize>>>>;

fn find_source_spans(raw: &str) -> Result<SourceSpans, String> {
    let mut scanner = Scanner::new(raw);
    let mut result = None;
    scanner.object(|key, s| {
        if key != "cells" {
            return s.skip_value();
        }
        let mut spans = Vec::new();
        s.expect(b'[')?;
        s.ws();
        if !s.eat(b']') {
            loop {
                s.ws();
                let mut span = None;
                if s.peek() == Some(b'{') {
                    s.object(|key, s| {
                        let start = s.pos;
                        s.skip_value()?;
                        if key == "source" {
                            span = Some(start..s.pos);
                        }
                        Ok(())
                    })?;
                } else {
                    s.skip_value()?;
                }
                spans.push(span);
                s.ws();
                if s.eat(b',') {
                    continue;
                }
                s.expect(b']')?;
                break;
            }
        }
        result = Some(spans);
        Ok(())
    })?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(source: &str) -> String {
        let m = mask_cell(source);
        assert_eq!(m.text.len(), source.len(), "masking keeps the length");
        m.text
    }

    #[test]
    fn masks_line_magics_shell_and_help() {
        let src = "%matplotlib inline\n!pip install -q \"keras>=3\"\nimport keras\n?keras.Sequential\nkeras.Model.fit??\nx = 1  # what?\n";
        let out = masked(src);
        assert_eq!(
            out,
            "#                 \n#                         \nimport keras\n#                \n#                \nx = 1  # what?\n"
        );
        assert!(!parse(&out).has_error());
    }

    #[test]
    fn keeps_statements_of_time_magics_and_masks_assigned_shell() {
        let out = masked(
            "files = !ls data/*.csv\n%time loss, acc = model.evaluate(x)\n%timeit -n 1 -r 3 next(it)\n",
        );
        assert_eq!(
            out,
            "files = 0             \n0;    loss, acc = model.evaluate(x)\n0;                next(it)\n"
        );
        assert!(!parse(&out).has_error());
    }

    #[test]
    fn python_cell_magics_keep_their_body_others_are_masked() {
        let time = mask_cell("%%time\nmodel.fit(x, y)\n");
        assert_eq!(time.text, "#     \nmodel.fit(x, y)\n");
        assert_eq!(time.body_start, 7);
        assert!(time.is_python);
        let bash = mask_cell("%%writefile a.py\nimport keras\nkeras.fit(\n");
        assert_eq!(bash.text, "#               \n#           \n#         \n");
        assert!(!bash.is_python);
    }

    #[test]
    fn magic_only_block_keeps_a_statement() {
        let out = masked("for i in range(3):\n    !echo {i}\nprint(1)\n");
        assert_eq!(out, "for i in range(3):\n    0        \nprint(1)\n");
        assert!(!parse(&out).has_error());
    }

    #[test]
    fn strings_and_brackets_are_not_magics() {
        let src = "s = \"\"\"\n%not a magic\n!nor this\n\"\"\"\nx = (1,\n% 2)\ny = 'a?'\n";
        assert_eq!(masked(src), src);
        let cont = "!pip install a \\\n    b\nimport keras\n";
        assert_eq!(masked(cont), "#               \n    #\nimport keras\n");
    }

    #[test]
    fn non_ascii_masks_keep_utf8_and_length() {
        let src = "!echo 中文\nx = 1\n";
        let out = masked(src);
        assert!(out.starts_with("#  "));
        assert!(out.ends_with("\nx = 1\n"));
    }

    #[test]
    fn program_maps_offsets_to_cells() {
        let program = VirtualProgram::build([(1, "import keras"), (3, "x = 1\n"), (4, "")]);
        assert_eq!(program.text, "import keras\nx = 1\n");
        assert_eq!(program.locate(0), Some((0, 0)));
        assert_eq!(program.locate(12), Some((0, 12)));
        assert_eq!(program.locate(13), Some((1, 0)));
        assert_eq!(program.locate(18), Some((1, 5)));
        assert_eq!(program.cells[2].start, 19);
        assert_eq!(program.locate(19), Some((2, 0)));
        assert_eq!(program.locate(25), None);
    }

    #[test]
    fn line_numbers_in_messages_name_the_cell() {
        let program = VirtualProgram::build([(0, "a = 1\nb = 2"), (2, "c = 3\n\nd = 4\n")]);
        let lines = LineIndex::new(&program.text);
        let own = 1;
        assert_eq!(
            cell_line_refs(
                "set on line 2, used on line 5 (not pipeline 3)",
                &program,
                &lines,
                own
            ),
            "set on line 2 of cell 1, used on line 3 (not pipeline 3)"
        );
        assert_eq!(
            cell_line_refs("line 99; deadline 2", &program, &lines, own),
            "line 99; deadline 2"
        );
    }

    #[test]
    fn added_imports_go_to_the_first_imports_cell_unless_it_comes_later() {
        let settings = Settings::default();
        let pipeline = "train_ds = tfds.load(\"mnist\").map(f).batch(2)\nmodel.fit(train_ds)\n";
        let cells = vec![
            (0, "!pip install tfds\n".to_string()),
            (
                1,
                "import tensorflow_datasets as tfds\nimport keras".to_string(),
            ),
            (2, "import numpy as np\n".to_string()),
            (4, pipeline.to_string()),
        ];
        let (fixed, applied) = fix_cells(&cells, &settings, false, None);
        assert!(applied >= 1);
        assert_eq!(fixed[0], cells[0].1);
        assert_eq!(
            fixed[1],
            "import tensorflow_datasets as tfds\nimport keras\nimport tensorflow as tf"
        );
        assert_eq!(fixed[2], cells[2].1);
        assert!(fixed[3].contains("tf.data.AUTOTUNE"), "{}", fixed[3]);
        // Only cell 4 may change when fixes are restricted to it; the import still goes to 1.
        let (only, _) = fix_cells(&cells, &settings, false, Some(4));
        assert_eq!(only, fixed);
        let (none, applied) = fix_cells(&cells, &settings, false, Some(2));
        assert_eq!(
            (none.as_slice(), applied),
            (
                cells
                    .iter()
                    .map(|c| c.1.clone())
                    .collect::<Vec<_>>()
                    .as_slice(),
                0
            )
        );
        // The imports come after the code that needs them: the import goes on top of that code.
        let late = vec![
            (0, pipeline.to_string()),
            (1, "import tensorflow_datasets as tfds\n".to_string()),
        ];
        let (fixed, _) = fix_cells(&late, &settings, false, None);
        assert!(
            fixed[0].starts_with("import tensorflow as tf\ntrain_ds = "),
            "{}",
            fixed[0]
        );
        assert_eq!(fixed[1], late[1].1);
    }

    #[test]
    fn json_strings_match_python() {
        assert_eq!(
            json_string("a\"b\\\n\t\u{1}é", false),
            "\"a\\\"b\\\\\\n\\t\\u0001é\""
        );
        assert_eq!(json_string("é😀", true), "\"\\u00e9\\ud83d\\ude00\"");
        assert_eq!(split_lines("a\nb\r\nc\rd"), ["a\n", "b\r\n", "c\r", "d"]);
        assert!(split_lines("").is_empty());
    }

    const NB: &str = "{\n \"cells\": [\n  {\n   \"cell_type\": \"code\",\n   \"source\": [\n    \"import keras\\n\",\n    \"x = 1\"\n   ]\n  },\n  {\n   \"cell_type\": \"markdown\",\n   \"source\": []\n  },\n  {\n   \"cell_type\": \"code\",\n   \"source\": []\n  }\n ],\n \"metadata\": {},\n \"nbformat\": 4,\n \"nbformat_minor\": 5\n}\n";

    #[test]
    fn splices_sources_in_the_files_style() {
        let nb = Notebook::parse(NB).unwrap();
        assert_eq!(nb.cells.len(), 3);
        assert_eq!(nb.cells[0].source, "import keras\nx = 1");
        let same = nb.with_sources(&[(0, "import keras\nx = 1".into())]);
        assert_eq!(same, NB);
        let changed = nb.with_sources(&[(0, "import keras\nx = 2\n".into()), (2, "y".into())]);
        assert_eq!(
            changed,
            NB.replace("\"x = 1\"", "\"x = 2\\n\"").replacen(
                "\"source\": []\n  }\n ]",
                "\"source\": [\n    \"y\"\n   ]\n  }\n ]",
                1
            )
        );
        let reparsed = Notebook::parse(&changed).unwrap();
        assert_eq!(reparsed.cells[2].source, "y");
    }

    #[test]
    fn string_sources_and_ensure_ascii_are_kept() {
        let raw = "{\"cells\": [{\"cell_type\": \"code\", \"source\": \"x = \\\"\\u00e9\\\"\"}], \"nbformat\": 4}";
        let nb = Notebook::parse(raw).unwrap();
        assert_eq!(nb.cells[0].source, "x = \"é\"");
        let out = nb.with_sources(&[(0, "y = \"é\"".into())]);
        assert_eq!(out, raw.replace("x = ", "y = "));
    }

    #[test]
    fn bad_notebooks_give_clear_errors() {
        let cases = [
            ("{", "invalid JSON"),
            ("[]", "not a JSON object"),
            ("{\"nbformat\": 3, \"worksheets\": []}", "nbformat 3"),
            ("{\"worksheets\": []}", "nbformat 3"),
            ("{\"nbformat\": 4}", "missing `cells`"),
            ("{\"nbformat\": 4, \"cells\": {}}", "not an array"),
            (
                "{\"nbformat\": 4, \"cells\": [{\"source\": \"\"}]}",
                "no `cell_type`",
            ),
            (
                "{\"nbformat\": 4, \"cells\": [{\"cell_type\": \"code\"}]}",
                "no `source`",
            ),
            (
                "{\"nbformat\": 4, \"cells\": [{\"cell_type\": \"code\", \"source\": [1]}]}",
                "not a string",
            ),
            ("{\"nbformat\": 4, \"cells\": [7]}", "not an object"),
        ];
        for (raw, expected) in cases {
            let err = Notebook::parse(raw).unwrap_err();
            assert!(err.contains(expected), "{raw}: {err}");
        }
    }
}

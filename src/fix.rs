//! Applying fixes: non-overlapping edits, iterated to a fixed point, never producing new syntax errors.

use crate::analysis::analyze;
use crate::document::parse;
use crate::finding::{Finding, Fix, FixSafety};
use crate::settings::Settings;

/// Result of fixing one source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixOutcome {
    pub text: String,
    /// How many fixes were applied in total.
    pub applied: usize,
}

/// Applies every fix that does not overlap an earlier one; returns the new text and the count.
pub fn apply_fixes<'f>(source: &str, fixes: impl IntoIterator<Item = &'f Fix>) -> (String, usize) {
    let mut fixes: Vec<&Fix> = fixes.into_iter().filter(|f| !f.edits.is_empty()).collect();
    fixes.sort_by_key(|f| (f.span().start, f.span().end));
    let mut edits = Vec::new();
    let mut last_end: Option<usize> = None;
    let mut applied = 0;
    for fix in fixes {
        let span = fix.span();
        if span.end > source.len() || fix.edits.iter().any(|e| !valid_range(source, &e.range)) {
            continue;
        }
        // Two insertions at one point, or overlapping replacements, conflict.
        if last_end.is_some_and(|end| span.start < end || (span.start == end && span.is_empty())) {
            continue;
        }
        edits.extend(fix.edits.iter());
        last_end = Some(span.end);
        applied += 1;
    }
    edits.sort_by_key(|e| (e.range.start, e.range.end));
    let mut out = String::with_capacity(source.len() + 64);
    let mut pos = 0;
    for edit in edits {
        if edit.range.start < pos {
            continue;
        }
        out.push_str(&source[pos..edit.range.start]);
        out.push_str(&edit.content);
        pos = edit.range.end;
    }
    out.push_str(&source[pos..]);
    (out, applied)
}

fn valid_range(source: &str, range: &std::ops::Range<usize>) -> bool {
    range.start <= range.end
        && range.end <= source.len()
        && source.is_char_boundary(range.start)
        && source.is_char_boundary(range.end)
}

/// Whether a finding's fix is applied at this safety level.
pub fn is_applicable(finding: &Finding, include_unsafe: bool) -> bool {
    finding
        .fix
        .as_ref()
        .is_some_and(|f| f.safety == FixSafety::Safe || include_unsafe)
}

/// Number of syntax errors in the parse of a text.
pub fn error_count(source: &str) -> usize {
    let forest = parse(source);
    forest.roots().map(errors_under).sum()
}

fn errors_under(root: tree_sitter::Node) -> usize {
    let mut count = 0;
    let mut cursor = root.walk();
    let mut descend = true;
    loop {
        let node = cursor.node();
        if descend && node.has_error() {
            if node.is_error() || node.is_missing() {
                count += 1;
            }
            if cursor.goto_first_child() {
                continue;
            }
        }
        if cursor.goto_next_sibling() {
            descend = true;
            continue;
        }
        if !cursor.goto_parent() {
            break;
        }
        descend = false;
    }
    count
}

/// Fixes a source text: analyse, apply, repeat until nothing changes (at most 10 rounds).
/// A round that would add syntax errors is rolled back.
pub fn fix_source(source: &str, settings: &Settings, include_unsafe: bool) -> FixOutcome {
    let mut text = source.to_string();
    let mut applied = 0;
    let baseline_errors = error_count(source);
    for _ in 0..10 {
        let tree = parse(&text);
        let findings = analyze(&text, &tree, settings);
        let fixes = findings
            .iter()
            .filter(|f| is_applicable(f, include_unsafe))
            .filter_map(|f| f.fix.as_ref());
        let (new_text, count) = apply_fixes(&text, fixes);
        if count == 0 || new_text == text {
            break;
        }
        if error_count(&new_text) > baseline_errors {
            tracing::warn!("a fix round would introduce syntax errors; it was not applied");
            break;
        }
        text = new_text;
        applied += count;
    }
    FixOutcome { text, applied }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Edit;

    #[test]
    fn overlapping_fixes_apply_first_only() {
        let a = Fix::new("a", FixSafety::Safe, vec![Edit::replace(0..3, "AAA")]);
        let b = Fix::new("b", FixSafety::Safe, vec![Edit::replace(2..5, "BBB")]);
        let c = Fix::new("c", FixSafety::Safe, vec![Edit::insert(6, "C")]);
        let (text, n) = apply_fixes("0123456789", [&a, &b, &c]);
        assert_eq!((text.as_str(), n), ("AAA345C6789", 2));
    }
}

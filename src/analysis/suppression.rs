//! Suppression comments: `# noqa`, `# noqa: KRS101`, `# keras-lsp: ignore[KRS101]`, and
//! `# keras-lsp: ignore-file`. Only real comments count (not text inside strings).

use std::ops::Range;

use tree_sitter::Node;

use crate::forest::Forest;

use crate::finding::Finding;
use crate::syntax::NodeExt;

/// A parsed suppression comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    /// Silences every code on the line.
    All,
    /// Silences these codes (prefix-free, upper case).
    Codes(Vec<String>),
}

/// Parses the directive in one comment's text (starting with `#`).
pub fn parse_directive(comment: &str) -> Option<Directive> {
    let lower = comment.to_ascii_lowercase();
    if let Some(pos) = lower.find("noqa") {
        let rest = comment[pos + 4..].trim_start();
        let Some(rest) = rest.strip_prefix(':') else {
            return Some(Directive::All);
        };
        let codes = codes_in(rest);
        return Some(if codes.is_empty() {
            Directive::All
        } else {
            Directive::Codes(codes)
        });
    }
    if let Some(pos) = lower.find("keras-lsp:") {
        let rest = comment[pos + "keras-lsp:".len()..].trim_start();
        let rest_lower = rest.to_ascii_lowercase();
        if rest_lower.starts_with("ignore-file") {
            return None;
        }
        let after = rest_lower.strip_prefix("ignore")?;
        let after = &rest[rest.len() - after.len()..];
        let Some(inner) = after.trim_start().strip_prefix('[') else {
            return Some(Directive::All);
        };
        let inner = inner.split(']').next().unwrap_or(inner);
        return Some(Directive::Codes(codes_in(inner)));
    }
    None
}

/// Codes listed after `noqa:` or inside `ignore[...]`: `KRS101, KRS2` style tokens.
fn codes_in(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .map(str::trim)
        .take_while(|t| t.is_empty() || t.chars().all(|c| c.is_ascii_alphanumeric()))
        .filter(|t| !t.is_empty())
        .map(|t| t.to_ascii_uppercase())
        .collect()
}

/// Byte ranges of comment nodes whose text matches a directive, by line.
pub struct Suppressions {
    /// (line start, line end, directive) for each directive comment.
    lines: Vec<(usize, usize, Directive)>,
}

impl Suppressions {
    /// The directives on the lines holding `offsets` (where findings start). A finding is
    /// suppressed only by its own line's, so the other comments of the file are not read (a
    /// scan of every comment of a 5,000-line file was 2% of each keystroke's update).
    pub fn on_lines_of(
        source: &str,
        forest: &Forest,
        offsets: impl IntoIterator<Item = usize>,
    ) -> Suppressions {
        let bytes = source.as_bytes();
        let mut offsets: Vec<usize> = offsets
            .into_iter()
            .filter(|&at| at <= source.len())
            .collect();
        offsets.sort_unstable();
        let mut lines = Vec::new();
        let mut last_line = None;
        for at in offsets {
            let line_start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |i| i + 1);
            if last_line == Some(line_start) {
                continue;
            }
            last_line = Some(line_start);
            let line_end = memchr::memchr(b'\n', &bytes[line_start..])
                .map_or(source.len(), |i| line_start + i);
            if let Some(directive) = directive_on_line(source, forest, line_start..line_end) {
                lines.push((line_start, line_end, directive));
            }
        }
        Suppressions { lines }
    }

    /// A finding is suppressed by a directive on the line where it starts.
    pub fn is_suppressed(&self, _source: &str, finding: &Finding) -> bool {
        let at = finding.range.start;
        self.lines.iter().any(|(start, end, directive)| {
            *start <= at
                && at <= *end
                && match directive {
                    Directive::All => true,
                    Directive::Codes(codes) => {
                        codes.iter().any(|c| finding.code.starts_with(c.as_str()))
                    }
                }
        })
    }
}

/// The directive of the first real comment on a line that holds one.
fn directive_on_line(source: &str, forest: &Forest, line: Range<usize>) -> Option<Directive> {
    let mut search = line.start;
    while let Some(rel) = source[search..line.end].find('#') {
        let hash = search + rel;
        // A comment runs to the end of its line: text there without a directive holds none
        // (most comments), so only those with one are looked up in the tree.
        parse_directive(&source[hash..line.end])?;
        // A `#` inside a string is no comment; a real one may follow on the line.
        let Some(comment) = comment_at(forest, hash) else {
            search = hash + 1;
            continue;
        };
        return parse_directive(&source[comment.byte_range()]);
    }
    None
}

/// The comment node starting at `offset`, if the `#` there really starts a comment.
fn comment_at(forest: &Forest, offset: usize) -> Option<Node<'_>> {
    let node = forest.descendant_for_byte_range(offset, offset + 1)?;
    (node.kind_name() == "comment" && node.start_byte() == offset).then_some(node)
}

/// `# keras-lsp: ignore-file` in a real comment anywhere in the file.
pub fn ignores_file(source: &str, forest: &Forest) -> bool {
    // memchr's SIMD search: this runs over the whole text on every keystroke.
    memchr::memmem::find_iter(source.as_bytes(), "keras-lsp: ignore-file").any(|pos| {
        let line_start = memchr::memrchr(b'\n', &source.as_bytes()[..pos]).map_or(0, |i| i + 1);
        source[line_start..pos]
            .find('#')
            .is_some_and(|hash| comment_at(forest, line_start + hash).is_some())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives() {
        assert_eq!(parse_directive("# noqa"), Some(Directive::All));
        assert_eq!(
            parse_directive("# noqa: KRS101, krs2 -- because"),
            Some(Directive::Codes(vec!["KRS101".into(), "KRS2".into()]))
        );
        assert_eq!(
            parse_directive("# keras-lsp: ignore[KRS201]"),
            Some(Directive::Codes(vec!["KRS201".into()]))
        );
        assert_eq!(parse_directive("# keras-lsp: ignore"), Some(Directive::All));
        assert_eq!(parse_directive("# a normal comment"), None);
        assert_eq!(parse_directive("# keras-lsp: ignore-file"), None);
    }

    #[test]
    fn only_real_comments_count_even_after_a_hash_in_a_string() {
        let source = "a = \"# noqa\"\nb = \"#\"  # noqa: KRS101\nc = 1  # a note\n";
        let forest = crate::forest::parse(source);
        let lines: Vec<usize> = Suppressions::on_lines_of(source, &forest, 0..source.len())
            .lines
            .iter()
            .map(|(start, _, _)| source[..*start].matches('\n').count())
            .collect();
        assert_eq!(lines, [1]);
    }

    #[test]
    fn a_file_is_ignored_only_by_a_directive_in_a_real_comment() {
        let ignored = |source: &str| ignores_file(source, &crate::forest::parse(source));
        let in_string = "s = \"# keras-lsp: ignore-file\"\n";
        assert!(!ignored(in_string));
        assert!(!ignored("x = 1\n"));
        // Found after an occurrence that does not count.
        assert!(ignored(&format!(
            "{in_string}x = 1  # keras-lsp: ignore-file\n"
        )));
        assert!(ignored("# keras-lsp: ignore-file\nimport keras\n"));
    }
}

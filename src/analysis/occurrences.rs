//! Where a word occurs in the source, to skip subtrees whose text cannot hold it.

use std::ops::Range;

use memchr::memmem;
use tree_sitter::Node;

/// The sorted offsets of every occurrence of one needle in a source text.
pub struct Occurrences {
    offsets: Vec<usize>,
    len: usize,
}

impl Occurrences {
    pub fn of(source: &str, needle: &str) -> Occurrences {
        Occurrences::in_range(source, needle, 0..source.len())
    }

    /// The occurrences inside `range` of the source only (offsets still count from its start).
    pub fn in_range(source: &str, needle: &str, range: Range<usize>) -> Occurrences {
        let start = range.start;
        let offsets = source.as_bytes().get(range).map_or_else(Vec::new, |part| {
            memmem::find_iter(part, needle).map(|p| p + start).collect()
        });
        Occurrences {
            offsets,
            len: needle.len(),
        }
    }

    /// The offsets of the occurrences that lie whole inside `range`.
    pub fn inside(&self, range: Range<usize>) -> &[usize] {
        let first = self.offsets.partition_point(|&p| p < range.start);
        let last = self.offsets.partition_point(|&p| p + self.len <= range.end);
        &self.offsets[first..last.max(first)]
    }

    /// Whether the needle occurs whole inside `node`'s text.
    pub fn within(&self, node: Node) -> bool {
        let first = self.offsets.partition_point(|&p| p < node.start_byte());
        self.offsets
            .get(first)
            .is_some_and(|&p| p + self.len <= node.end_byte())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::parse;

    #[test]
    fn finds_the_needle_only_whole_inside_a_node() {
        let src = "a = predict\nb = pred\nc = x.predict(1)\n";
        let tree = parse(src);
        let statements = tree.statements();
        let found = Occurrences::of(src, "predict");
        let within: Vec<bool> = statements.iter().map(|&s| found.within(s)).collect();
        assert_eq!(within, vec![true, false, true]);
        // `pred` at the end of line 2 runs on into line 3 only as far as `\nc = x.`.
        assert!(!Occurrences::of(src, "pred\nc").within(statements[1]));
        // Only the part searched counts.
        let third = statements[2];
        assert!(Occurrences::in_range(src, "predict", third.byte_range()).within(third));
        let first = statements[0];
        assert!(!Occurrences::in_range(src, "predict", third.byte_range()).within(first));
    }
}

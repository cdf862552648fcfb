//! Where a word occurs in the source, to skip subtrees whose text cannot hold it.

use memchr::memmem;
use tree_sitter::Node;

/// The sorted offsets of every occurrence of one needle in a source text.
pub struct Occurrences {
    offsets: Vec<usize>,
    len: usize,
}

impl Occurrences {
    pub fn of(source: &str, needle: &str) -> Occurrences {
        Occurrences {
            offsets: memmem::find_iter(source.as_bytes(), needle).collect(),
            len: needle.len(),
        }
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
        let tree = parse(src, None);
        let found = Occurrences::of(src, "predict");
        let statements: Vec<bool> = (0..3)
            .map(|i| found.within(tree.root_node().named_child(i).unwrap()))
            .collect();
        assert_eq!(statements, vec![true, false, true]);
        // `pred` at the end of line 2 runs on into line 3 only as far as `\nc = x.`.
        assert!(!Occurrences::of(src, "pred\nc").within(tree.root_node().named_child(1).unwrap()));
    }
}

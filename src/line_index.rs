//! Byte offsets <-> (line, column) in UTF-8 or UTF-16 code units, clamped so bad positions never panic.

/// How columns are counted on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf16,
    /// Unicode scalar values (used for 1-based columns in CLI output).
    Utf32,
}

/// Line start offsets of one text.
#[derive(Debug, Clone, Default)]
pub struct LineIndex {
    line_starts: Vec<usize>,
    len: usize,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut line_starts = Vec::with_capacity(text.len() / 32 + 1);
        line_starts.push(0);
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex {
            line_starts,
            len: text.len(),
        }
    }

    /// Updates the index after `old_range` of the text was replaced by `new_text`,
    /// rescanning only the inserted text.
    pub fn apply_edit(&mut self, old_range: std::ops::Range<usize>, new_text: &str) {
        let first_affected = self.line_starts.partition_point(|&s| s <= old_range.start);
        let last_affected = self.line_starts.partition_point(|&s| s <= old_range.end);
        let delta = new_text.len() as isize - (old_range.end - old_range.start) as isize;
        let inserted = new_text
            .bytes()
            .enumerate()
            .filter(|&(_, b)| b == b'\n')
            .map(|(i, _)| old_range.start + i + 1);
        let shifted: Vec<usize> = self.line_starts[last_affected..]
            .iter()
            .map(|&s| (s as isize + delta) as usize)
            .collect();
        self.line_starts.truncate(first_affected);
        self.line_starts.extend(inserted);
        self.line_starts.extend(shifted);
        self.len = (self.len as isize + delta) as usize;
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// Byte offset where `line` starts (clamped to the end of the text).
    pub fn line_start(&self, line: usize) -> usize {
        self.line_starts.get(line).copied().unwrap_or(self.len)
    }

    /// Byte offset where `line` ends, excluding its line break.
    pub fn line_end(&self, text: &str, line: usize) -> usize {
        let next = self.line_starts.get(line + 1).copied().unwrap_or(self.len);
        let mut end = next.min(text.len());
        let bytes = text.as_bytes();
        if end > 0 && end == next && line + 1 < self.line_starts.len() && bytes[end - 1] == b'\n' {
            end -= 1;
            if end > 0 && bytes[end - 1] == b'\r' {
                end -= 1;
            }
        }
        end.max(self.line_start(line).min(end))
    }

    /// Zero-based line containing `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        self.line_starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1)
    }

    /// (line, column) of a byte offset; the column counts `encoding` units.
    pub fn position(&self, text: &str, offset: usize, encoding: Encoding) -> (u32, u32) {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let line = self.line_of(offset);
        let start = self.line_start(line).min(offset);
        let segment = &text[start..offset];
        let col = match encoding {
            Encoding::Utf8 => segment.len(),
            Encoding::Utf16 => segment.encode_utf16().count(),
            Encoding::Utf32 => segment.chars().count(),
        };
        (line as u32, col as u32)
    }

    /// Byte offset of (line, column); positions past a line's end or the text's end are clamped,
    /// and a column inside a multi-byte character snaps to that character's start.
    pub fn offset(&self, text: &str, line: u32, col: u32, encoding: Encoding) -> usize {
        let line = line as usize;
        if line >= self.line_starts.len() {
            return text.len();
        }
        let start = self.line_start(line).min(text.len());
        let end = self.line_end(text, line).max(start);
        let line_text = &text[start..end];
        let col = col as usize;
        match encoding {
            Encoding::Utf8 => start + floor_char_boundary(line_text, col.min(line_text.len())),
            Encoding::Utf16 => {
                let mut units = 0;
                for (i, ch) in line_text.char_indices() {
                    if units >= col {
                        return start + i;
                    }
                    units += ch.len_utf16();
                    if units > col {
                        return start + i;
                    }
                }
                end
            }
            Encoding::Utf32 => line_text
                .char_indices()
                .nth(col)
                .map_or(end, |(i, _)| start + i),
        }
    }
}

/// The largest char boundary not after `offset`.
pub fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_columns_count_surrogate_pairs() {
        let text = "a = '😀x'\nb = 1\n";
        let index = LineIndex::new(text);
        let x = text.find('x').unwrap();
        assert_eq!(index.position(text, x, Encoding::Utf16), (0, 7));
        assert_eq!(index.position(text, x, Encoding::Utf8), (0, 9));
        assert_eq!(index.position(text, x, Encoding::Utf32), (0, 6));
        assert_eq!(index.offset(text, 0, 7, Encoding::Utf16), x);
        // Inside the surrogate pair snaps to the emoji's start.
        assert_eq!(
            index.offset(text, 0, 6, Encoding::Utf16),
            text.find('😀').unwrap()
        );
    }

    #[test]
    fn out_of_range_positions_clamp() {
        let text = "ab\ncd";
        let index = LineIndex::new(text);
        assert_eq!(index.offset(text, 0, 99, Encoding::Utf16), 2);
        assert_eq!(index.offset(text, 9, 0, Encoding::Utf16), text.len());
        assert_eq!(index.position(text, 999, Encoding::Utf8), (1, 2));
    }

    #[test]
    fn incremental_update_matches_rebuild() {
        let mut text = String::from("one\ntwo\nthree\n");
        let mut index = LineIndex::new(&text);
        for (range, new) in [
            (2..6, "X\nY\nZ"),
            (0..0, "\n"),
            (5..9, ""),
            (3..3, "中\r\n"),
        ] {
            index.apply_edit(range.clone(), new);
            text.replace_range(range, new);
            assert_eq!(index.line_starts, LineIndex::new(&text).line_starts);
        }
    }
}

//! Byte offsets (what spans hold) to LSP positions (line, UTF-16 column) and
//! back. Lines end at `\n`, `\r\n` or a lone `\r`, as the protocol says.

use lsp_types::{Position, Range};

use crate::syntax::ast::Span;

/// Where each line of a text starts.
#[derive(Clone, Debug, Default)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        for (i, &b) in bytes.iter().enumerate() {
            let ends = b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n'));
            if ends {
                starts.push(i + 1);
            }
        }
        LineIndex { starts }
    }

    /// The line holding byte `offset` (clamped to the text).
    fn line_of(&self, offset: usize) -> usize {
        self.starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1)
    }

    /// The bytes of line `line` without its line break.
    fn line_text<'a>(&self, text: &'a str, line: usize) -> &'a str {
        let start = self.starts.get(line).copied().unwrap_or(text.len());
        let end = self.starts.get(line + 1).copied().unwrap_or(text.len());
        text.get(start..end)
            .unwrap_or("")
            .trim_end_matches(['\n', '\r'])
    }

    /// The position of byte `offset` (clamped, and moved back to a character boundary).
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_of(offset);
        let start = self.starts[line];
        let col: usize = text[start..offset].chars().map(char::len_utf16).sum();
        Position::new(line as u32, col as u32)
    }

    /// The byte offset of a position; a column past the line's end means its end.
    pub fn offset(&self, text: &str, pos: Position) -> usize {
        let line = pos.line as usize;
        let Some(&start) = self.starts.get(line) else {
            return text.len();
        };
        let mut units = 0usize;
        for (i, c) in self.line_text(text, line).char_indices() {
            if units >= pos.character as usize {
                return start + i;
            }
            units += c.len_utf16();
        }
        start + self.line_text(text, line).len()
    }

    /// The range of a span.
    pub fn range(&self, text: &str, span: Span) -> Range {
        Range::new(
            self.position(text, span.start),
            self.position(text, span.end.max(span.start)),
        )
    }

    /// The span of a range.
    pub fn span(&self, text: &str, range: Range) -> Span {
        let start = self.offset(text, range.start);
        Span::new(start, self.offset(text, range.end).max(start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_positions_round_trip() {
        let text = "let X = 1\nprint X\n";
        let idx = LineIndex::new(text);
        assert_eq!(idx.position(text, 10), Position::new(1, 0));
        assert_eq!(idx.position(text, 16), Position::new(1, 6));
        for offset in 0..=text.len() {
            assert_eq!(idx.offset(text, idx.position(text, offset)), offset);
        }
    }

    #[test]
    fn columns_count_utf16_units() {
        // `é` is 2 bytes and 1 unit; `𝕏` is 4 bytes and 2 units (a surrogate pair)
        let text = "# é𝕏\nlet Y = 2";
        let idx = LineIndex::new(text);
        let y = text.find('Y').unwrap_or(0);
        assert_eq!(idx.position(text, y), Position::new(1, 4));
        let after = text.find('\n').unwrap_or(0);
        assert_eq!(idx.position(text, after), Position::new(0, 5));
        assert_eq!(idx.offset(text, Position::new(0, 3)), "# é".len());
        // a column inside a surrogate pair means the end of that character
        assert_eq!(idx.offset(text, Position::new(0, 4)), "# é𝕏".len());
        assert_eq!(idx.position(text, "# é".len() + 1), Position::new(0, 3));
    }

    #[test]
    fn every_line_break_counts_and_positions_clamp() {
        let text = "a\r\nb\rc\nd";
        let idx = LineIndex::new(text);
        assert_eq!(idx.position(text, text.len()), Position::new(3, 1));
        assert_eq!(idx.offset(text, Position::new(1, 0)), 3);
        assert_eq!(idx.offset(text, Position::new(2, 0)), 5);
        assert_eq!(idx.offset(text, Position::new(0, 99)), 1);
        assert_eq!(idx.offset(text, Position::new(99, 0)), text.len());
        assert_eq!(idx.position(text, 999), Position::new(3, 1));
    }
}

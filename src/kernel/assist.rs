//! Help while typing: completion (the REPL's candidates), whether a cell is
//! complete (the REPL's rule for continuing an entry), and cursor offsets,
//! which Jupyter counts in Unicode code points.

use serde_json::{json, Value};

use crate::repl::helper::candidates;
use crate::repl::{continues, Session};

/// The byte offset of code point `cp` (the end when past it).
pub fn byte_offset(code: &str, cp: usize) -> usize {
    code.char_indices().nth(cp).map_or(code.len(), |(i, _)| i)
}

/// The code point offset of byte `byte`.
pub fn cp_offset(code: &str, byte: usize) -> usize {
    code[..byte.min(code.len())].chars().count()
}

/// A cell's entries as the REPL reads them, line by line: lines join while
/// a bracket is open or a line ends in `->`. Each comes with the index of
/// its first line.
pub fn entries(code: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    let mut first = 0;
    for (i, line) in code.split_inclusive('\n').enumerate() {
        if pending.is_empty() {
            first = i;
        }
        pending.push_str(line);
        if !continues(&pending) {
            out.push((first, finished(&pending)));
            pending.clear();
        }
    }
    if !pending.is_empty() {
        out.push((first, finished(&pending)));
    }
    out
}

fn finished(entry: &str) -> String {
    let entry = entry.strip_suffix('\n').unwrap_or(entry);
    entry.strip_suffix('\r').unwrap_or(entry).to_string()
}

/// `complete_request`: the REPL's candidates for the word at the cursor.
pub fn complete(session: &Session, code: &str, cursor: usize) -> Value {
    let pos = byte_offset(code, cursor);
    let line_start = code[..pos].rfind('\n').map_or(0, |i| i + 1);
    let line_end = code[pos..].find('\n').map_or(code.len(), |i| pos + i);
    let (start, matches) = candidates(
        &code[line_start..line_end],
        pos - line_start,
        &session.names(),
    );
    json!({
        "status": "ok",
        "matches": matches,
        "cursor_start": cp_offset(code, line_start + start),
        "cursor_end": cp_offset(code, pos),
        "metadata": {},
    })
}

/// `is_complete_request`: incomplete while the last entry waits for more.
pub fn is_complete(code: &str) -> Value {
    let waiting = entries(code)
        .last()
        .is_some_and(|(_, last)| continues(last));
    if waiting {
        json!({"status": "incomplete", "indent": "  "})
    } else {
        json!({"status": "complete"})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Style;

    #[test]
    fn cells_split_as_the_repl_reads_them() {
        let cell = "let X = ones(6x8)\nmodel m(x: 1x1x6x8) {\n  conv(out=1, k=1x2)\n}\n\nX\n";
        let e = entries(cell);
        let texts: Vec<&str> = e.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(
            texts,
            [
                "let X = ones(6x8)",
                "model m(x: 1x1x6x8) {\n  conv(out=1, k=1x2)\n}",
                "",
                "X"
            ]
        );
        assert_eq!(e.iter().map(|(l, _)| *l).collect::<Vec<_>>(), [0, 1, 4, 5]);
        let arrow = entries("shape 8x8 -> conv(out=1, k=3) ->\n  relu");
        assert_eq!(arrow.len(), 1);
    }

    #[test]
    fn open_blocks_are_incomplete() {
        assert_eq!(is_complete("model m(x: 8x8) {")["status"], "incomplete");
        assert_eq!(is_complete("let a = [1,\n 2")["status"], "incomplete");
        assert_eq!(
            is_complete("model m(x: 8x8) = conv(k=3) ->")["status"],
            "incomplete"
        );
        assert_eq!(is_complete("let a = [1,\n 2]")["status"], "complete");
        assert_eq!(is_complete(":help")["status"], "complete");
    }

    #[test]
    fn completion_counts_code_points() {
        let session = Session::new(Style::Plain);
        // "é" is two bytes but one code point
        let code = "# é\nmodel m(x: 8x8) = maxp";
        let r = complete(&session, code, code.chars().count());
        assert_eq!(r["matches"], json!(["maxpool"]));
        assert_eq!(r["cursor_start"], json!(code.chars().count() - 4));
        assert_eq!(r["cursor_end"], json!(code.chars().count()));
    }

    #[test]
    fn offsets_round_trip() {
        let code = "aé b";
        assert_eq!(byte_offset(code, 2), 3);
        assert_eq!(cp_offset(code, 3), 2);
        assert_eq!(byte_offset(code, 99), code.len());
    }
}

//! Property: whatever the text (valid scripts, half-typed lines, broken
//! brackets, non-ASCII), and wherever the cursor, no feature panics and every
//! position the server sends lies inside the document.

use lsp_types::{Position, Range};
use proptest::prelude::*;

use super::analysis::Analysis;
use super::{completion, diagnostics, edits, hints, hover, navigation, semantic};

/// Pieces scripts are made of, and some they should not contain.
const PIECES: &[&str] = &[
    "model m(x: Nx1x8x8) ",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "= ",
    "-> ",
    ", ",
    ": ",
    "\n",
    "\n  ",
    "conv(out=2, k=3)",
    "conv",
    "maxp",
    "out=",
    "k=",
    "3x",
    "p=same",
    "relu ",
    "a = x ",
    "add(x, a)",
    "let X = ones(2x1x8x8)",
    "m(X)",
    "m.0.weight",
    "m.c1.bias",
    "c1: ",
    "shape 8x8 -> ",
    "summary m",
    "assert params m == 5",
    "print X",
    "# é𝕏 comment",
    "\"𝕏é\"",
    "é",
    "𝕏",
    "\r\n",
    " ",
    "==",
    ";",
];

fn script() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..40).prop_map(|p| p.concat())
}

/// The position just past the end of the document, the largest valid one.
fn end_of(an: &Analysis) -> Position {
    an.lines.position(&an.text, an.text.len())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn no_feature_panics_and_positions_stay_in_the_text(
        text in script(),
        line in 0u32..12,
        character in 0u32..60,
    ) {
        let an = Analysis::new(text);
        let end = end_of(&an);
        let inside = |p: Position| (p.line, p.character) <= (end.line, end.character);
        let at = Position::new(line, character);
        let all = Range::new(Position::new(0, 0), Position::new(999, 0));
        let uri: lsp_types::Uri = "file:///t.cnn".parse().map_err(|_| TestCaseError::fail("uri"))?;
        for d in diagnostics::diagnostics(&an, &uri) {
            prop_assert!(inside(d.range.start) && inside(d.range.end));
        }
        for h in hints::inlay_hints(&an, all) {
            prop_assert!(inside(h.position));
        }
        if let Some(h) = hover::hover(&an, at) {
            prop_assert!(h.range.is_some_and(|r| inside(r.end)));
        }
        for item in completion::completion(&an, at) {
            prop_assert!(!item.label.is_empty());
        }
        if let Some(span) = navigation::definition(&an, at) {
            prop_assert!(span.end <= an.text.len());
        }
        navigation::symbols(&an);
        semantic::tokens(&an);
        if let Some(fmt_edits) = edits::format(&an) {
            prop_assert!(fmt_edits.len() <= 1);
        }
        edits::code_actions(&an, &uri, all);
    }
}

//! Edits: formatting with `cnnscript fmt`'s layout, and one quick fix per
//! diagnostic that carries a [`Fix`](crate::diag::Fix).

use std::collections::HashMap;

use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, Range, TextEdit, Uri, WorkspaceEdit,
};

use super::analysis::Analysis;
use super::diagnostics::{convert, primary_span};
use crate::fmt::format_source;
use crate::syntax::ast::Span;

/// The edits that put the document in canonical layout: `None` when it does
/// not parse, empty when it is already formatted.
pub fn format(an: &Analysis) -> Option<Vec<TextEdit>> {
    let formatted = format_source(&an.text).ok()?;
    if formatted == an.text {
        return Some(vec![]);
    }
    let (span, text) = changed_part(&an.text, &formatted);
    Some(vec![TextEdit::new(an.range(span), text.to_string())])
}

/// The smallest span of `old` whose replacement gives `new`, and that replacement.
fn changed_part<'a>(old: &str, new: &'a str) -> (Span, &'a str) {
    let (a, b) = (old.as_bytes(), new.as_bytes());
    let boundary = |p: usize| old.is_char_boundary(p) && new.is_char_boundary(p);
    let mut prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    while !boundary(prefix) {
        prefix -= 1;
    }
    let room = a.len().min(b.len()) - prefix;
    let mut suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(room)
        .take_while(|(x, y)| x == y)
        .count();
    while !(old.is_char_boundary(a.len() - suffix) && new.is_char_boundary(b.len() - suffix)) {
        suffix -= 1;
    }
    (
        Span::new(prefix, a.len() - suffix),
        &new[prefix..b.len() - suffix],
    )
}

/// Quick fixes for the diagnostics that touch `range`.
pub fn code_actions(an: &Analysis, uri: &Uri, range: Range) -> Vec<CodeActionOrCommand> {
    let want = an.lines.span(&an.text, range);
    let mut out = Vec::new();
    for p in an.problems() {
        let Some(fix) = p.fix else { continue };
        let at = primary_span(&p);
        if at.start > want.end || want.start > at.end {
            continue;
        }
        let old = &an.text[fix.span.start.min(an.text.len())..fix.span.end.min(an.text.len())];
        let title = if old.is_empty() {
            format!("Insert `{}`", fix.replacement.trim_end())
        } else {
            format!("Replace `{old}` with `{}`", fix.replacement)
        };
        let edit = TextEdit::new(an.range(fix.span), fix.replacement.clone());
        out.push(CodeActionOrCommand::CodeAction(CodeAction {
            title,
            kind: Some(CodeActionKind::QUICKFIX),
            diagnostics: Some(vec![convert(an, uri, &p)]),
            edit: Some(WorkspaceEdit {
                changes: Some(HashMap::from([(uri.clone(), vec![edit])])),
                ..WorkspaceEdit::default()
            }),
            is_preferred: Some(true),
            ..CodeAction::default()
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::changed_part;

    #[test]
    fn the_changed_part_is_minimal_and_whole_characters() {
        let (span, text) = changed_part("let X=1\n", "let X = 1\n");
        assert_eq!((span.start, span.end, text), (5, 6, " = "));
        // é (c3 a9) and è (c3 a8) share a first byte: the edit keeps whole characters
        let (span, text) = changed_part("# é\n", "# è\n");
        assert_eq!((span.start, span.end, text), (2, 4, "è"));
        let (span, text) = changed_part("aa", "aaa");
        assert_eq!((span.start, span.end, text), (2, 2, "a"));
    }
}

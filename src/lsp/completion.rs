//! Completion: the REPL's completion (statements, layers, arguments and
//! their values, models and tensors) run on the statement being typed, each
//! candidate described from the layer table.

use lsp_types::{
    CompletionItem, CompletionItemKind, CompletionTextEdit, Documentation, MarkupContent,
    MarkupKind, Position, Range, TextEdit,
};

use super::analysis::Analysis;
use super::index::{occurrences, What};
use super::table;
use crate::repl::helper::{candidates, spot, Names, Spot};
use crate::repl::lexer::{lex, Token};

/// The candidates at `pos`.
pub fn completion(an: &Analysis, pos: Position) -> Vec<CompletionItem> {
    let offset = an.offset(pos);
    let start = statement_start(an, offset);
    let context = &an.text[start..offset];
    let names = names_before(an, offset);
    let (word_start, where_) = spot(context, context.len());
    if matches!(where_, Spot::MetaName | Spot::Path) {
        return vec![];
    }
    let (_, words) = candidates(context, context.len(), &names);
    let range = Range::new(
        an.lines.position(&an.text, start + word_start),
        an.lines.position(&an.text, offset),
    );
    words
        .into_iter()
        .enumerate()
        .map(|(i, w)| {
            let (kind, detail, doc) = describe(&w, &where_, &names);
            CompletionItem {
                label: w.clone(),
                kind: Some(kind),
                detail,
                documentation: doc.map(|value| {
                    Documentation::MarkupContent(MarkupContent {
                        kind: MarkupKind::Markdown,
                        value,
                    })
                }),
                sort_text: Some(format!("{i:04}")),
                text_edit: Some(CompletionTextEdit::Edit(TextEdit::new(range, w))),
                ..CompletionItem::default()
            }
        })
        .collect()
}

/// Where the statement holding `offset` starts: completion reads the text
/// from there (a layer call may span lines), not the whole file.
fn statement_start(an: &Analysis, offset: usize) -> usize {
    let Some(script) = &an.script else {
        // nothing parses (a bracket is open): the last line that starts a
        // statement, i.e. that is not indented
        let before = &an.text[..offset];
        return before
            .rmatch_indices('\n')
            .map(|(i, _)| i + 1)
            .find(|&i| before[i..].starts_with(|c: char| !c.is_whitespace()))
            .unwrap_or(0);
    };
    let mut start = 0;
    for stmt in &script.stmts {
        if stmt.span.start > offset {
            break;
        }
        start = if offset <= stmt.span.end {
            stmt.span.start
        } else {
            stmt.span.end
        };
    }
    start
}

/// The models and tensors defined before `offset`.
fn names_before(an: &Analysis, offset: usize) -> Names {
    let mut names = Names::default();
    let Some(script) = &an.script else {
        return names;
    };
    for occ in occurrences(script) {
        if occ.span.end > offset {
            break;
        }
        let name = an.text[occ.span.start..occ.span.end].to_string();
        match occ.what {
            What::ModelDecl { .. } => names.models.push(name),
            What::TensorDef { .. } => names.tensors.push(name),
            _ => {}
        }
    }
    names
}

type Described = (CompletionItemKind, Option<String>, Option<String>);

fn describe(word: &str, where_: &Spot, names: &Names) -> Described {
    match where_ {
        Spot::ArgName { layer, .. } => {
            let name = word.trim_end_matches('=');
            let a = layer.args.iter().find(|a| a.name == name);
            (CompletionItemKind::PROPERTY, a.map(table::arg_doc), None)
        }
        Spot::ArgValue(ty) => (
            CompletionItemKind::ENUM_MEMBER,
            Some(ty.describe().to_string()),
            None,
        ),
        _ => describe_word(word, names),
    }
}

fn describe_word(word: &str, names: &Names) -> Described {
    if let Some(spec) = table::layer(word) {
        return (
            CompletionItemKind::FUNCTION,
            Some(spec.help.to_string()),
            Some(table::layer_doc(spec)),
        );
    }
    if names.models.iter().any(|m| m == word) {
        return (CompletionItemKind::CLASS, Some("model".into()), None);
    }
    if names.tensors.iter().any(|t| t == word) {
        return (CompletionItemKind::VARIABLE, Some("tensor".into()), None);
    }
    if crate::ir::builtins::function(word).is_some() {
        return (CompletionItemKind::FUNCTION, Some("builtin".into()), None);
    }
    let keyword = matches!(lex(word).as_slice(), [t] if t.token == Token::Keyword);
    if keyword {
        return (CompletionItemKind::KEYWORD, Some("statement".into()), None);
    }
    (CompletionItemKind::TEXT, None, None)
}

//! The canonical layout of a token list: the user's line breaks are kept
//! (runs of blank lines become one), statements joined with `;` and one-line
//! `{ ... }` blocks are split one per line, indentation follows blocks,
//! brackets and `->` continuations, spacing follows the tokens' rules (two
//! spaces between layers side by side), and trailing comments on
//! consecutive lines line up.

use super::tokens::{Kind, Tok};
use crate::syntax::grammar::Rule;

/// Spaces per indentation level.
const INDENT: usize = 2;
/// Least gap between code and a trailing comment.
const COMMENT_GAP: usize = 2;

/// One output line: code tokens and a trailing comment, or a comment alone.
#[derive(Default)]
struct Line<'a> {
    toks: Vec<Tok<'a>>,
    comment: Option<&'a str>,
    blank_before: bool,
    indent: usize,
}

impl Line<'_> {
    fn is_empty(&self) -> bool {
        self.toks.is_empty() && self.comment.is_none()
    }
}

/// Lay tokens out as text, ending in one newline (empty for an empty script).
pub fn layout(toks: &[Tok]) -> String {
    let mut lines = split_lines(toks);
    indent(&mut lines);
    render(&lines)
}

fn split_lines<'a>(toks: &[Tok<'a>]) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    let mut cur = Line::default();
    // newlines since the last line with content ended
    let mut newlines = 0usize;
    // after `;` or `{`, the next code starts a new line (a comment stays)
    let mut break_next = false;
    let finish = |cur: &mut Line<'a>, lines: &mut Vec<Line<'a>>| {
        if !cur.is_empty() {
            lines.push(std::mem::take(cur));
        }
    };
    for tok in toks {
        match tok.kind {
            Kind::Newline => {
                if cur.is_empty() {
                    newlines += 1;
                } else {
                    finish(&mut cur, &mut lines);
                    newlines = 1;
                }
                break_next = false;
            }
            Kind::Comment => {
                if cur.is_empty() {
                    cur.blank_before = newlines >= 2;
                }
                cur.comment = Some(tok.text.trim_end());
            }
            Kind::Punct if tok.is(";") && is_separator(tok.rule) => break_next = true,
            _ => {
                let empty_block = tok.is("}") && cur.toks.last().is_some_and(|t| t.is("{"));
                if (break_next || tok.is("}")) && !empty_block && !cur.toks.is_empty() {
                    finish(&mut cur, &mut lines);
                    newlines = 0;
                }
                if cur.is_empty() {
                    cur.blank_before = newlines >= 2;
                }
                cur.toks.push(*tok);
                break_next = tok.is("{");
            }
        }
    }
    finish(&mut cur, &mut lines);
    lines
}

/// The rules in which `;` separates statements (or model lines).
fn is_separator(rule: Rule) -> bool {
    matches!(rule, Rule::script | Rule::repl_line | Rule::model_block)
}

fn is_opener(t: &Tok) -> bool {
    t.is("(") || t.is("[") || t.is("{")
}

fn is_closer(t: &Tok) -> bool {
    t.is(")") || t.is("]") || t.is("}")
}

/// An open bracket: whether it is a block, and the indent it closes at.
struct Frame {
    brace: bool,
    indent: usize,
}

/// Indentation: a block's lines one level deeper than the statement that
/// opens it, a bracket's continuation lines one level deeper than the line
/// holding it, and a line continuing a chain (after `->`, or after a model's
/// `=`) one level deeper than the chain's first line.
fn indent(lines: &mut [Line]) {
    let mut frames: Vec<Frame> = Vec::new();
    let mut continues = false;
    // indent of the line that began the current statement (or model line)
    let mut stmt_indent = 0;
    for line in lines.iter_mut() {
        let top = frames.last();
        let closes = line.toks.first().is_some_and(is_closer);
        let in_brackets = top.is_some_and(|f| !f.brace);
        line.indent = match top {
            Some(f) if closes => f.indent,
            Some(f) if !f.brace => f.indent + 1,
            _ => top.map_or(0, |f| f.indent + 1) + usize::from(continues),
        };
        if line.toks.is_empty() {
            continue;
        }
        if !in_brackets && !closes && !continues {
            stmt_indent = line.indent;
        }
        for t in &line.toks {
            if is_opener(t) {
                let brace = t.is("{");
                let indent = if brace { stmt_indent } else { line.indent };
                frames.push(Frame { brace, indent });
            } else if is_closer(t) {
                if let Some(f) = frames.pop() {
                    if f.brace {
                        stmt_indent = f.indent;
                    }
                }
            }
        }
        let in_brackets = frames.last().is_some_and(|f| !f.brace);
        continues = !in_brackets && line.toks.last().is_some_and(|t| t.is("->") || t.is("="));
    }
}

/// Whether a blank line is written before each line: where the source had
/// one, but not first, right after a `{` or right before a `}`.
fn blank_lines(lines: &[Line]) -> Vec<bool> {
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let after_open = i > 0 && lines[i - 1].toks.last().is_some_and(|t| t.is("{"));
            let before_close = line.toks.first().is_some_and(|t| t.is("}"));
            line.blank_before && i > 0 && !after_open && !before_close
        })
        .collect()
}

/// Operators written with a space on each side.
const SPACED_OPS: [&str; 12] = [
    "->", "==", "!=", "<=", ">=", "<", ">", "@", "+", "-", "*", "/",
];

fn is_binary(t: &Tok) -> bool {
    t.kind == Kind::Punct && !t.is_unary() && SPACED_OPS.contains(&t.text)
}

/// The spaces between `a` and `b` on a line: layers side by side get two,
/// so that a line's layers stand apart.
fn gap_between(a: &Tok, b: &Tok) -> usize {
    if b.starts_layer && (a.kind == Kind::Word || a.is(")")) {
        2
    } else {
        usize::from(space_between(a, b))
    }
}

/// Whether one space separates `a` and `b` on a line.
fn space_between(a: &Tok, b: &Tok) -> bool {
    // `0 .5` is the field `5` of 0 and `2 .T` a transpose: written together,
    // the number would take the dot (`0.5`, `2.`)
    if b.is(".") && matches!(a.rule, Rule::number | Rule::unsigned) {
        return true;
    }
    if [")", "]", "}", ",", ";", "."].iter().any(|p| b.is(p)) {
        return false;
    }
    if ["(", "[", "{", "."].iter().any(|p| a.is(p)) || a.is_unary() {
        return false;
    }
    if a.is(",") {
        return true;
    }
    if b.is(":") {
        return false;
    }
    if a.is(":") {
        return a.rule != Rule::slice;
    }
    if let Some(eq) = [a, b].into_iter().find(|t| t.is("=")) {
        return !matches!(eq.rule, Rule::kv | Rule::option | Rule::named_arg);
    }
    if b.is("(") || b.is("[") {
        // a call, index, layer's or merge's arguments hug their name
        return !matches!(
            b.rule,
            Rule::call_suffix
                | Rule::index_suffix
                | Rule::layer_args
                | Rule::merge
                | Rule::model_decl
        );
    }
    if b.is("{") || is_binary(a) || is_binary(b) || b.is_unary() {
        return true;
    }
    let closes_value = a.is(")") || a.is("]");
    if b.kind == Kind::Word && (a.kind == Kind::Word || closes_value) {
        return true;
    }
    b.spaced
}

fn code_text(line: &Line) -> String {
    let mut out = " ".repeat(line.indent * INDENT);
    let mut prev: Option<&Tok> = None;
    for t in &line.toks {
        if let Some(p) = prev {
            out.push_str(&" ".repeat(gap_between(p, t)));
        }
        out.push_str(t.text);
        prev = Some(t);
    }
    out
}

fn render(lines: &[Line]) -> String {
    let codes: Vec<String> = lines
        .iter()
        .map(|l| {
            if l.toks.is_empty() {
                " ".repeat(l.indent * INDENT)
            } else {
                code_text(l)
            }
        })
        .collect();
    let blanks = blank_lines(lines);
    let columns = comment_columns(lines, &codes, &blanks);
    let mut out = String::new();
    for (i, (line, code)) in lines.iter().zip(&codes).enumerate() {
        if blanks[i] {
            out.push('\n');
        }
        out.push_str(code);
        if let Some(comment) = line.comment {
            if !line.toks.is_empty() {
                let width = code.chars().count();
                out.push_str(&" ".repeat(columns[i].saturating_sub(width)));
            }
            out.push_str(comment);
        }
        out.push('\n');
    }
    out
}

/// The column of each trailing comment: lines in a row that all carry one
/// align them two spaces after the longest code among them.
fn comment_columns(lines: &[Line], codes: &[String], blanks: &[bool]) -> Vec<usize> {
    let trailing = |i: usize| !lines[i].toks.is_empty() && lines[i].comment.is_some();
    let mut columns = vec![0; lines.len()];
    let mut i = 0;
    while i < lines.len() {
        if !trailing(i) {
            i += 1;
            continue;
        }
        let mut end = i + 1;
        while end < lines.len() && trailing(end) && !blanks[end] {
            end += 1;
        }
        let widest = (i..end)
            .map(|j| codes[j].chars().count())
            .max()
            .unwrap_or(0);
        columns[i..end].fill(widest + COMMENT_GAP);
        i = end;
    }
    columns
}

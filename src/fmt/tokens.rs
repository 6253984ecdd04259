//! A parsed script as a flat list of tokens, newlines and comments, read off
//! the pest tree. Leaf rules (names, numbers, dims, strings, operators) come
//! with their rule; the text between leaves (punctuation, whitespace and
//! comments) is scanned here and tagged with the rule that wrote it, so `=`
//! knows whether it is a `kv`'s or a `let`'s.

use pest::iterators::Pair;

use crate::syntax::grammar::Rule;

/// What a token is, for layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A name, keyword, number, dims literal or string.
    Word,
    /// Brackets, separators and operators.
    Punct,
    /// The end of a source line.
    Newline,
    /// `# ...` to the end of the line.
    Comment,
}

/// One token of the source.
#[derive(Clone, Copy, Debug)]
pub struct Tok<'a> {
    pub kind: Kind,
    pub text: &'a str,
    /// The token's own rule (words, operators) or the rule whose literal it is.
    pub rule: Rule,
    /// Whitespace stood right before it in the source.
    pub spaced: bool,
    /// The first token of a layer (its label or its name).
    pub starts_layer: bool,
}

impl Tok<'_> {
    /// Punctuation with exactly this text.
    pub fn is(&self, text: &str) -> bool {
        self.kind == Kind::Punct && self.text == text
    }
    /// A prefix minus.
    pub fn is_unary(&self) -> bool {
        self.kind == Kind::Punct && self.rule == Rule::neg
    }
}

/// Every token of a parsed script, in source order.
pub fn tokens<'a>(top: Pair<'a, Rule>, src: &'a str) -> Vec<Tok<'a>> {
    let mut out = Vec::new();
    walk(top, src, &mut out);
    out
}

fn walk<'a>(pair: Pair<'a, Rule>, src: &'a str, out: &mut Vec<Tok<'a>>) {
    let rule = pair.as_rule();
    let (start, end) = (pair.as_span().start(), pair.as_span().end());
    let mut children = pair.into_inner().peekable();
    let text = &src[start..end];
    let word = matches!(rule, Rule::string | Rule::number)
        || (children.peek().is_none() && starts_word(text));
    if word {
        if !text.is_empty() {
            push(out, src, Kind::Word, start, end, rule);
        }
        return;
    }
    if rule == Rule::layer {
        let first = out.len();
        walk_children(children, rule, start, end, src, out);
        if let Some(t) = out.get_mut(first) {
            t.starts_layer = true;
        }
    } else {
        walk_children(children, rule, start, end, src, out);
    }
}

fn walk_children<'a>(
    children: impl Iterator<Item = Pair<'a, Rule>>,
    rule: Rule,
    start: usize,
    end: usize,
    src: &'a str,
    out: &mut Vec<Tok<'a>>,
) {
    let mut pos = start;
    for child in children {
        let span = child.as_span();
        scan(src, pos, span.start(), rule, out);
        pos = span.end();
        walk(child, src, out);
    }
    scan(src, pos, end, rule, out);
}

fn starts_word(text: &str) -> bool {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) if c.is_alphanumeric() || c == '_' || c == '"' => true,
        Some('.') => chars.next().is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    }
}

fn push<'a>(
    out: &mut Vec<Tok<'a>>,
    src: &'a str,
    kind: Kind,
    start: usize,
    end: usize,
    rule: Rule,
) {
    let spaced = src[..start]
        .chars()
        .next_back()
        .is_some_and(|c| matches!(c, ' ' | '\t' | '\u{FEFF}'));
    out.push(Tok {
        kind,
        text: &src[start..end],
        rule,
        spaced,
        starts_layer: false,
    });
}

/// Operators of two characters, matched before single ones.
const PAIRS: [&str; 5] = ["->", "==", "!=", "<=", ">="];

/// Tokens of the text between two leaves: `[from, to)` of `src`.
fn scan<'a>(src: &'a str, from: usize, to: usize, rule: Rule, out: &mut Vec<Tok<'a>>) {
    let mut i = from;
    while i < to {
        let rest = &src[i..to];
        let Some(c) = rest.chars().next() else { break };
        let len = match c {
            ' ' | '\t' | '\u{FEFF}' => c.len_utf8(),
            '\n' | '\r' => {
                let len = if rest.starts_with("\r\n") { 2 } else { 1 };
                push(out, src, Kind::Newline, i, i + len, rule);
                len
            }
            '#' => {
                let len = rest.find(['\n', '\r']).unwrap_or(rest.len());
                push(out, src, Kind::Comment, i, i + len, rule);
                len
            }
            _ if c.is_alphanumeric() || c == '_' => {
                let len = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                push(out, src, Kind::Word, i, i + len, rule);
                len
            }
            _ => {
                let len = match PAIRS.iter().find(|p| rest.starts_with(**p)) {
                    Some(p) => p.len(),
                    None => c.len_utf8(),
                };
                push(out, src, Kind::Punct, i, i + len, rule);
                len
            }
        };
        i += len;
    }
}

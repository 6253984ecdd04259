//! The REPL's lexer: tokens for highlighting, completion and deciding whether
//! an entry is finished. It never fails: anything it does not know becomes an
//! [`Token::Error`] token, and every byte that is not whitespace lies in some
//! token. Parsing proper is the pest grammar's job; this only has to be right
//! enough to colour a line and to count brackets.

use logos::Logos;

use crate::ir::builtins;
use crate::layers::layer_spec;
use crate::syntax::keywords::is_keyword;

/// One token kind. Layer names lex as [`Token::Ident`]; [`class_of`] tells
/// them apart by looking them up in the layer table.
#[derive(Logos, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[logos(skip r"[ \t\r\n\f\u{FEFF}]+")]
pub enum Token {
    /// A statement keyword: `let`, `model`, `shape`, `explain`... (lexed as
    /// a name, then looked up in [`KEYWORDS`](crate::syntax::keywords::KEYWORDS)).
    Keyword,
    /// A name: a layer, model, tensor, argument or builtin.
    #[regex(r"[A-Za-z_][A-Za-z0-9_]*")]
    Ident,
    /// A number: `3`, `0.01`, `1e-3` (a leading `-` is an [`Token::Op`]).
    #[regex(r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")]
    Number,
    /// A dims literal or pair: `6x8`, `3x5`, `Nx1x28x28`. A symbolic part
    /// must start with a capital, so `maxpool` stays a name.
    #[regex(
        r"([0-9]+|[A-Z][A-Za-wyz0-9_]*)(x([0-9]+|[A-Z][A-Za-wyz0-9_]*))+",
        priority = 5
    )]
    Dims,
    /// A string, possibly not yet closed: `"digits.npz"`.
    #[regex(r#""([^"\\\n]|\\[^\n])*"?"#)]
    Str,
    /// `# ...` to the end of the line.
    #[regex(r"#[^\n]*")]
    Comment,
    /// A meta command at the start of an entry: `:help`, `:load`.
    #[regex(r":[A-Za-z_]+")]
    Meta,
    /// `(`
    #[token("(")]
    LParen,
    /// `)`
    #[token(")")]
    RParen,
    /// `[`
    #[token("[")]
    LBracket,
    /// `]`
    #[token("]")]
    RBracket,
    /// `{`
    #[token("{")]
    LBrace,
    /// `}`
    #[token("}")]
    RBrace,
    /// `,`
    #[token(",")]
    Comma,
    /// `=`
    #[token("=")]
    Eq,
    /// `:`
    #[token(":")]
    Colon,
    /// `->`
    #[token("->")]
    Arrow,
    /// `;`
    #[token(";")]
    Semi,
    /// `.`
    #[token(".")]
    Dot,
    /// Arithmetic, matmul and comparisons: `+ - * / @ == != < <= > >=`.
    #[token("+")]
    #[token("-")]
    #[token("*")]
    #[token("/")]
    #[token("@")]
    #[token("==")]
    #[token("!=")]
    #[token("<")]
    #[token("<=")]
    #[token(">")]
    #[token(">=")]
    Op,
    /// Anything else (`$`, a stray `\`...).
    Error,
}

/// A token with its byte range in the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lexeme {
    /// What the text is.
    pub token: Token,
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Lexeme {
    /// The token's text in `src`.
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        &src[self.start..self.end]
    }
}

/// Lex a whole entry. Never fails and never panics.
///
/// `:name` counts as a meta command only as the entry's first token; elsewhere
/// (`c1:conv`, `X[:n]`) it is split back into `:` and a name.
pub fn lex(src: &str) -> Vec<Lexeme> {
    let mut out: Vec<Lexeme> = Vec::new();
    let mut lexer = Token::lexer(src);
    while let Some(result) = lexer.next() {
        let span = lexer.span();
        let token = result.unwrap_or(Token::Error);
        if token == Token::Meta && !out.is_empty() {
            out.push(Lexeme {
                token: Token::Colon,
                start: span.start,
                end: span.start + 1,
            });
            let rest = &src[span.start + 1..span.end];
            out.push(Lexeme {
                token: name_token(rest),
                start: span.start + 1,
                end: span.end,
            });
        } else {
            let token = match token {
                Token::Ident => name_token(&src[span.clone()]),
                other => other,
            };
            out.push(Lexeme {
                token,
                start: span.start,
                end: span.end,
            });
        }
    }
    out
}

/// A name is a keyword when the keyword table lists it.
fn name_token(text: &str) -> Token {
    if is_keyword(text) {
        Token::Keyword
    } else {
        Token::Ident
    }
}

/// What a token is drawn as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// A statement keyword.
    Keyword,
    /// A name in the layer table.
    Layer,
    /// A builtin function (`ones`, `load`...).
    Builtin,
    /// Any other name (models, tensors, arguments).
    Name,
    /// A number.
    Number,
    /// A dims literal or pair.
    Dims,
    /// A string.
    Str,
    /// A comment.
    Comment,
    /// A meta command.
    Meta,
    /// Brackets, separators and operators.
    Punct,
    /// Text the lexer does not know.
    Error,
}

/// The class of a token, looking layer names up in the layer table.
pub fn class_of(token: Token, text: &str) -> Class {
    match token {
        Token::Keyword => Class::Keyword,
        Token::Ident if layer_spec(text).is_some() => Class::Layer,
        Token::Ident if builtins::function(text).is_some() => Class::Builtin,
        Token::Ident => Class::Name,
        Token::Number => Class::Number,
        Token::Dims => Class::Dims,
        Token::Str => Class::Str,
        Token::Comment => Class::Comment,
        Token::Meta => Class::Meta,
        Token::LParen
        | Token::RParen
        | Token::LBracket
        | Token::RBracket
        | Token::LBrace
        | Token::RBrace
        | Token::Comma
        | Token::Eq
        | Token::Colon
        | Token::Arrow
        | Token::Semi
        | Token::Dot
        | Token::Op => Class::Punct,
        Token::Error => Class::Error,
    }
}

/// Whether an entry needs another line: a `(`, `[` or `{` is still open, or
/// the last token is `->`. A mismatched closer (`(]`) ends the entry so the
/// parser can report it.
pub fn needs_more(src: &str) -> bool {
    let tokens = lex(src);
    if tokens.first().map(|t| t.token) == Some(Token::Meta) {
        return false;
    }
    let mut open: Vec<Token> = Vec::new();
    for t in &tokens {
        match t.token {
            Token::LParen | Token::LBracket | Token::LBrace => open.push(t.token),
            Token::RParen | Token::RBracket | Token::RBrace => {
                let want = match t.token {
                    Token::RParen => Token::LParen,
                    Token::RBracket => Token::LBracket,
                    _ => Token::LBrace,
                };
                if open.pop() != Some(want) {
                    return false;
                }
            }
            _ => {}
        }
    }
    let last = tokens.iter().rev().find(|t| t.token != Token::Comment);
    !open.is_empty() || last.map(|t| t.token) == Some(Token::Arrow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kinds(src: &str) -> Vec<(Token, &str)> {
        lex(src).iter().map(|l| (l.token, l.text(src))).collect()
    }

    #[test]
    fn keywords_and_names() {
        assert_eq!(
            kinds("let letter model summary lenet explain"),
            vec![
                (Token::Keyword, "let"),
                (Token::Ident, "letter"),
                (Token::Keyword, "model"),
                (Token::Keyword, "summary"),
                (Token::Ident, "lenet"),
                (Token::Keyword, "explain"),
            ]
        );
    }

    #[test]
    fn layer_names_are_idents_classed_by_the_table() {
        let src = "conv maxpool relu convo ones X";
        let classes: Vec<Class> = lex(src)
            .iter()
            .map(|l| class_of(l.token, l.text(src)))
            .collect();
        assert_eq!(
            classes,
            vec![
                Class::Layer,
                Class::Layer,
                Class::Layer,
                Class::Name,
                Class::Builtin,
                Class::Name
            ]
        );
        for layer in crate::layers::LAYERS {
            assert_eq!(kinds(layer.name), vec![(Token::Ident, layer.name)]);
            assert_eq!(class_of(Token::Ident, layer.name), Class::Layer);
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(
            kinds("3 0.01 1e-3 2.5E+4"),
            vec![
                (Token::Number, "3"),
                (Token::Number, "0.01"),
                (Token::Number, "1e-3"),
                (Token::Number, "2.5E+4"),
            ]
        );
        assert_eq!(kinds("-1"), vec![(Token::Op, "-"), (Token::Number, "1")]);
    }

    #[test]
    fn dims_and_pairs() {
        assert_eq!(
            kinds("6x8 4x2x3x5 Nx1x28x28 k=3x5"),
            vec![
                (Token::Dims, "6x8"),
                (Token::Dims, "4x2x3x5"),
                (Token::Dims, "Nx1x28x28"),
                (Token::Ident, "k"),
                (Token::Eq, "="),
                (Token::Dims, "3x5"),
            ]
        );
        // an incomplete pair is a number and a name; `maxpool` is never dims
        assert_eq!(kinds("3x"), vec![(Token::Number, "3"), (Token::Ident, "x")]);
        assert_eq!(kinds("maxpool"), vec![(Token::Ident, "maxpool")]);
        assert_eq!(kinds("Nx1abc"), vec![(Token::Ident, "Nx1abc")]);
    }

    #[test]
    fn strings_and_comments() {
        assert_eq!(
            kinds(r#"load("a \"b\".npz") # done"#),
            vec![
                (Token::Keyword, "load"),
                (Token::LParen, "("),
                (Token::Str, r#""a \"b\".npz""#),
                (Token::RParen, ")"),
                (Token::Comment, "# done"),
            ]
        );
        assert_eq!(kinds(r#""open"#), vec![(Token::Str, r#""open"#)]);
        assert_eq!(
            kinds("\"a\nb"),
            vec![(Token::Str, "\"a"), (Token::Ident, "b")]
        );
    }

    #[test]
    fn punctuation() {
        assert_eq!(
            kinds("( ) [ ] { } , = : -> ; . + - * /")
                .iter()
                .map(|(t, _)| *t)
                .collect::<Vec<_>>(),
            vec![
                Token::LParen,
                Token::RParen,
                Token::LBracket,
                Token::RBracket,
                Token::LBrace,
                Token::RBrace,
                Token::Comma,
                Token::Eq,
                Token::Colon,
                Token::Arrow,
                Token::Semi,
                Token::Dot,
                Token::Op,
                Token::Op,
                Token::Op,
                Token::Op,
            ]
        );
    }

    #[test]
    fn meta_commands_only_at_the_start() {
        assert_eq!(
            kinds(":load net.cnn"),
            vec![
                (Token::Meta, ":load"),
                (Token::Ident, "net"),
                (Token::Dot, "."),
                (Token::Ident, "cnn"),
            ]
        );
        assert_eq!(
            kinds("c1:conv X[:n]"),
            vec![
                (Token::Ident, "c1"),
                (Token::Colon, ":"),
                (Token::Ident, "conv"),
                (Token::Ident, "X"),
                (Token::LBracket, "["),
                (Token::Colon, ":"),
                (Token::Ident, "n"),
                (Token::RBracket, "]"),
            ]
        );
        assert_eq!(
            kinds("a :shape"),
            vec![
                (Token::Ident, "a"),
                (Token::Colon, ":"),
                (Token::Keyword, "shape")
            ]
        );
    }

    #[test]
    fn errors_are_tokens() {
        assert_eq!(
            kinds("a @ é $ >= !"),
            vec![
                (Token::Ident, "a"),
                (Token::Op, "@"),
                (Token::Error, "é"),
                (Token::Error, "$"),
                (Token::Op, ">="),
                (Token::Error, "!"),
            ]
        );
    }

    #[test]
    fn entries_continue_while_brackets_are_open() {
        assert!(needs_more("model m(x: 8x8) {"));
        assert!(needs_more("8x8 -> conv(out=1,"));
        assert!(needs_more("let X = [[1, 2],"));
        assert!(needs_more("8x8 -> conv(out=1, k=3) -> # more"));
        assert!(!needs_more("8x8 -> conv(out=1, k=3)"));
        assert!(!needs_more("model m(x: 8x8) {\n conv(out=1, k=3)\n}"));
        assert!(!needs_more("let s = \"(\""));
        assert!(!needs_more("# ( comment"));
        assert!(!needs_more("f(]"));
        assert!(!needs_more(")"));
        assert!(!needs_more(":load a(b"));
    }

    proptest! {
        #[test]
        fn never_fails_on_arbitrary_input(src in any::<String>()) {
            check_covers(&src);
        }

        #[test]
        fn never_fails_on_script_like_input(
            src in r#"[a-zA-Z0-9_ x(){}\[\],=:;.#"\\\n+*/@é-]{0,60}"#
        ) {
            check_covers(&src);
        }
    }

    fn is_skipped(c: char) -> bool {
        matches!(c, ' ' | '\t' | '\r' | '\n' | '\x0c' | '\u{FEFF}')
    }

    /// Tokens are in order, on char boundaries, and leave only whitespace between.
    fn check_covers(src: &str) {
        let tokens = lex(src);
        let mut at = 0;
        for t in &tokens {
            assert!(t.start >= at && t.start < t.end && t.end <= src.len());
            assert!(src.is_char_boundary(t.start) && src.is_char_boundary(t.end));
            assert!(src[at..t.start].chars().all(is_skipped));
            let _ = class_of(t.token, t.text(src));
            at = t.end;
        }
        assert!(src[at..].chars().all(is_skipped));
        let _ = needs_more(src);
    }
}

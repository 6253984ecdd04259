//! Syntax errors for habits brought from Python and PyTorch: when a parse
//! fails, the statement it failed in is lexed (with the REPL's lexer) and
//! matched against the slips newcomers make (`X = 1` without `let`,
//! `maxpool(2)`, `6 x 8`, `prnt X`, a model without an input type, a bare
//! `edge(X)`). A match replaces pest's list of expected rules with what went
//! wrong and the edit that repairs it.

use pest::Parser;

use super::ast::Span;
use super::error::SyntaxError;
use super::grammar::{CnnParser, Rule};
use super::keywords::{starts_statement, statement_list, KEYWORDS};
use crate::diag::Fix;
use crate::ir::error::did_you_mean;
use crate::layers::layer_spec;
use crate::repl::lexer::{lex, Lexeme, Token};

/// The habit behind a parse failure at `pos`, if one is recognised.
pub(super) fn recognize(src: &str, pos: usize) -> Option<SyntaxError> {
    let (start, end) = statement_at(src, pos);
    let text = &src[start..end];
    let toks: Vec<Lexeme> = lex(text)
        .into_iter()
        .filter(|t| t.token != Token::Comment)
        .map(|t| Lexeme {
            start: t.start + start,
            end: t.end + start,
            ..t
        })
        .collect();
    let st = Statement { src, toks, pos };
    st.toks.first()?;
    let checks: [fn(&Statement) -> Option<SyntaxError>; 9] = [
        compound_assignment,
        missing_let,
        import,
        misspelled_keyword,
        model_input,
        spaced_dims,
        tuple_dims,
        positional_args,
        bare_expression,
    ];
    checks
        .iter()
        .find_map(|check| check(&st))
        .or_else(|| not_a_statement(&st))
}

/// The byte range of the statement holding `pos`: statements end at a
/// newline or `;` outside brackets, comments and strings. A failure at the
/// end of a line belongs to the statement on that line.
fn statement_at(src: &str, pos: usize) -> (usize, usize) {
    let mut depth = 0usize;
    let mut start = 0;
    let (mut in_comment, mut in_string, mut escaped) = (false, false, false);
    for (i, c) in src.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            if c != '\n' {
                continue;
            }
            in_string = false;
        }
        if in_comment && c != '\n' {
            continue;
        }
        in_comment = false;
        match c {
            '#' => in_comment = true,
            '"' => in_string = true,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            '\n' | ';' if depth == 0 => {
                if pos <= i {
                    return (start, i);
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    (start, src.len())
}

/// The failing statement's tokens (comments left out), spans into the script.
struct Statement<'a> {
    src: &'a str,
    toks: Vec<Lexeme>,
    /// Where the parse failed.
    pos: usize,
}

impl Statement<'_> {
    fn text(&self, i: usize) -> &str {
        self.toks.get(i).map_or("", |t| &self.src[t.start..t.end])
    }
    fn is(&self, i: usize, token: Token) -> bool {
        self.toks.get(i).is_some_and(|t| t.token == token)
    }
    /// `=` alone, not the first half of `==`.
    fn is_assign(&self, i: usize) -> bool {
        self.is(i, Token::Eq) && !self.is(i + 1, Token::Eq)
    }
    fn span(&self, from: usize, to: usize) -> Span {
        Span::new(self.toks[from].start, self.toks[to].end)
    }
    /// The text from token `from` to the end of the statement.
    fn rest(&self, from: usize) -> &str {
        match (self.toks.get(from), self.toks.last()) {
            (Some(a), Some(b)) => &self.src[a.start..b.end],
            _ => "",
        }
    }
    /// The index of the bracket closing the one at `open`.
    fn closing(&self, open: usize) -> Option<usize> {
        let mut depth = 0usize;
        for (i, t) in self.toks.iter().enumerate().skip(open) {
            match t.token {
                Token::LParen | Token::LBracket | Token::LBrace => depth += 1,
                Token::RParen | Token::RBracket | Token::RBrace => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            }
        }
        None
    }
    /// The arguments between the brackets at `open` and `close`, as token
    /// ranges split at the commas of that level.
    fn args(&self, open: usize, close: usize) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let (mut depth, mut first) = (0usize, open + 1);
        for i in open + 1..close {
            match self.toks[i].token {
                Token::LParen | Token::LBracket | Token::LBrace => depth += 1,
                Token::RParen | Token::RBracket | Token::RBrace => depth -= 1,
                Token::Comma if depth == 0 => {
                    out.push((first, i));
                    first = i + 1;
                }
                _ => {}
            }
        }
        if first < close {
            out.push((first, close));
        }
        out
    }
}

fn habit(message: String, span: Span, label: &str, help: String, fix: Option<Fix>) -> SyntaxError {
    SyntaxError {
        message,
        span,
        label: label.into(),
        help: Some(help),
        fix,
    }
}

/// A statement shown in a help line, shortened when long.
fn quoted(text: &str) -> String {
    const MOST: usize = 60;
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(MOST) {
        Some((cut, _)) => format!("`{} ...`", &one_line[..cut]),
        None => format!("`{one_line}`"),
    }
}

/// `X = ones(6x8)`: a new name without `let`.
fn missing_let(st: &Statement) -> Option<SyntaxError> {
    if !st.is(0, Token::Ident) || !st.is_assign(1) || st.pos > st.toks[1].start {
        return None;
    }
    let name = st.text(0);
    let whole = st.rest(0);
    Some(habit(
        format!("`{name} = ...` needs `let` to bind a name"),
        st.span(0, 1),
        "no `let`",
        format!("did you mean {}?", quoted(&format!("let {whole}"))),
        Some(Fix::new(
            Span::new(st.toks[0].start, st.toks[0].start),
            "let ",
        )),
    ))
}

/// `X += 1`: no compound assignment; rebinding says the same.
fn compound_assignment(st: &Statement) -> Option<SyntaxError> {
    let op = st.toks.iter().position(|t| t.token == Token::Op)?;
    if op == 0 || !st.is(op + 1, Token::Eq) || !st.is(0, Token::Ident) {
        return None;
    }
    let target = &st.src[st.toks[0].start..st.toks[op - 1].end];
    let value = st.rest(op + 2);
    if value.is_empty() || st.pos > st.toks[op + 1].end {
        return None;
    }
    let simple = st.toks[op + 2..].iter().all(|t| t.token != Token::Op);
    let value = if simple {
        value.to_string()
    } else {
        format!("({value})")
    };
    let sym = st.text(op);
    let new = if op == 1 {
        format!("let {target} = {target} {sym} {value}")
    } else {
        format!("{target} = {target} {sym} {value}")
    };
    Some(habit(
        format!("there is no `{sym}=`: write the operation out"),
        st.span(op, op + 1),
        "not an operator here",
        format!("write {}", quoted(&new)),
        Some(Fix::new(st.span(0, st.toks.len() - 1), new)),
    ))
}

/// `import torch`: nothing to import.
fn import(st: &Statement) -> Option<SyntaxError> {
    let word = st.text(0);
    if !st.is(0, Token::Ident) || !(word == "import" || word == "from") || st.toks.len() < 2 {
        return None;
    }
    Some(habit(
        format!("there is nothing to `{word}`: layers and builtins are always available"),
        st.span(0, st.toks.len() - 1),
        "not a statement",
        "remove this line".into(),
        Some(Fix::new(st.span(0, st.toks.len() - 1), "")),
    ))
}

/// `prnt X`, `trian sgd ...`: a statement keyword misspelt.
fn misspelled_keyword(st: &Statement) -> Option<SyntaxError> {
    if !st.is(0, Token::Ident) || st.pos > st.toks.get(1).map_or(usize::MAX, |t| t.start) {
        return None;
    }
    let word = st.text(0);
    let keywords = KEYWORDS.iter().copied().filter(|k| starts_statement(k));
    let lower = word.to_ascii_lowercase();
    let keyword = did_you_mean(&lower, keywords)?;
    // `name = ...`, `name[...]`, `name.field`: a name, not a statement word;
    // `name(...)` is a call unless it is `print`'s
    let follows = st.toks.get(1).map(|t| t.token);
    match follows {
        Some(Token::Eq | Token::LBracket | Token::Dot) => return None,
        Some(Token::LParen) if keyword != "print" => return None,
        _ => {}
    }
    Some(habit(
        format!("unknown statement `{word}`: did you mean `{keyword}`?"),
        st.span(0, 0),
        "not a statement",
        format!("statements start with one of: {}", statement_list()),
        Some(Fix::new(st.span(0, 0), keyword)),
    ))
}

/// `model m = conv(...)`, `model m(1x1x6x8)`, `model m(x)`: the input type.
fn model_input(st: &Statement) -> Option<SyntaxError> {
    let head_end = st.toks.get(4).map_or(usize::MAX, |t| t.end);
    if st.text(0) != "model" || !st.is(1, Token::Ident) || st.pos > head_end {
        return None;
    }
    let name = st.text(1);
    let example = format!("`model {name}(x: Nx1x28x28) = ...`");
    if st.is(2, Token::Eq) || st.is(2, Token::LBrace) {
        return Some(habit(
            format!("model `{name}` needs its input type"),
            st.span(1, 1),
            "no input type",
            format!("a model names its input and its dims: {example}"),
            None,
        ));
    }
    if !st.is(2, Token::LParen) {
        return None;
    }
    if st.is(3, Token::Dims) || st.is(3, Token::Number) {
        let at = Span::new(st.toks[3].start, st.toks[3].start);
        return Some(habit(
            "the model's input needs a name".into(),
            st.span(3, 3),
            "no input name",
            format!("write `model {name}(x: {})`", st.text(3)),
            Some(Fix::new(at, "x: ")),
        ));
    }
    if st.is(3, Token::Ident) && st.is(4, Token::RParen) {
        return Some(habit(
            format!("the input `{}` needs its dims", st.text(3)),
            st.span(3, 3),
            "no dims",
            format!(
                "write `model {name}({}: Nx1x28x28)` with your sizes",
                st.text(3)
            ),
            None,
        ));
    }
    None
}

/// `6 x 8`: a dims literal with spaces.
fn spaced_dims(st: &Statement) -> Option<SyntaxError> {
    let part = |i: usize| {
        st.is(i, Token::Number)
            || st.is(i, Token::Dims)
            || (st.is(i, Token::Ident) && st.text(i).starts_with(|c: char| c.is_ascii_uppercase()))
    };
    let is_x = |i: usize| st.is(i, Token::Ident) && st.text(i) == "x";
    let first = (1..st.toks.len()).find(|&i| is_x(i) && part(i - 1) && part(i + 1))? - 1;
    let mut last = first;
    while is_x(last + 1) && part(last + 2) {
        last += 2;
    }
    let span = st.span(first, last);
    if st.pos < span.start || st.pos > span.end {
        return None;
    }
    let joined: String = (first..=last).map(|i| st.text(i)).collect();
    Some(habit(
        format!("dims are written without spaces: `{joined}`"),
        span,
        "spaces around `x`",
        format!("write `{joined}`"),
        Some(Fix::new(span, joined)),
    ))
}

/// `model m(x: (1, 1, 6, 8))`, `zeros((6, 8))`: Python's shape tuples.
fn tuple_dims(st: &Statement) -> Option<SyntaxError> {
    for open in 0..st.toks.len() {
        if !st.is(open, Token::LParen) {
            continue;
        }
        let Some(close) = st.closing(open) else {
            continue;
        };
        let args = st.args(open, close);
        let sizes = args.len() >= 2
            && args
                .iter()
                .all(|&(a, b)| b == a + 1 && st.is(a, Token::Number) && !st.text(a).contains('.'));
        // a tuple, standing where dims go: after `name:` or as a call's only argument
        let where_dims = st.is(open.wrapping_sub(1), Token::Colon)
            || (st.is(open.wrapping_sub(1), Token::LParen) && st.is(close + 1, Token::RParen));
        let span = st.span(open, close);
        if sizes && where_dims && st.pos >= span.start && st.pos <= span.end {
            let joined: Vec<&str> = args.iter().map(|&(a, _)| st.text(a)).collect();
            let joined = joined.join("x");
            return Some(habit(
                format!("dims are written `{joined}`, not as a tuple"),
                span,
                "a tuple",
                format!("write `{joined}`"),
                Some(Fix::new(span, joined)),
            ));
        }
    }
    None
}

/// PyTorch's positional order of each layer's arguments, as cnnscript names
/// them (`None`: PyTorch's argument has no counterpart here).
fn positional_names(layer: &str) -> &'static [Option<&'static str>] {
    match layer {
        "conv" => &[
            Some("in"),
            Some("out"),
            Some("k"),
            Some("s"),
            Some("p"),
            Some("d"),
            Some("groups"),
            Some("bias"),
        ],
        "maxpool" => &[Some("k"), Some("s"), Some("p"), Some("d")],
        "avgpool" => &[Some("k"), Some("s"), Some("p"), Some("ceil")],
        "linear" => &[Some("in"), Some("out"), Some("bias")],
        "batchnorm" => &[None, Some("eps"), Some("momentum")],
        "dropout" => &[Some("p")],
        _ => &[],
    }
}

/// `maxpool(2)`, `conv(1, 6, 5)`: layer arguments are named.
fn positional_args(st: &Statement) -> Option<SyntaxError> {
    let layers_here = st.text(0) == "model"
        || st.text(0) == "shape"
        || (st.is(0, Token::Dims) && st.is(1, Token::Arrow));
    if !layers_here {
        return None;
    }
    // the model's own `name(x: dims)` is not a layer call
    let from = if st.text(0) == "model" { 3 } else { 1 };
    for open in from..st.toks.len() {
        if !st.is(open, Token::LParen) || !st.is(open - 1, Token::Ident) {
            continue;
        }
        let Some(close) = st.closing(open) else {
            continue;
        };
        let span = st.span(open, close);
        if st.pos < span.start || st.pos > span.end {
            continue;
        }
        let layer = st.text(open - 1);
        let args = st.args(open, close);
        // an empty argument (`k=2, , s=1`) is another mistake: the parser's own error says it
        if args.iter().any(|&(a, b)| b <= a) {
            continue;
        }
        let positional = |&(a, b): &(usize, usize)| {
            !(st.is(a, Token::Ident) && st.is(a + 1, Token::Eq)) && b > a
        };
        let Some(first) = args.iter().position(positional) else {
            continue;
        };
        let (a, b) = args[first];
        if !(b == a + 1 && matches!(st.toks[a].token, Token::Number | Token::Dims)) {
            continue;
        }
        return Some(positional_error(st, layer, &args, first, span));
    }
    None
}

fn positional_error(
    st: &Statement,
    layer: &str,
    args: &[(usize, usize)],
    first: usize,
    span: Span,
) -> SyntaxError {
    let (a, b) = args[first];
    let value = &st.src[st.toks[a].start..st.toks[b - 1].end];
    let names = positional_names(layer);
    let message = "layer arguments are named, not positional".to_string();
    let at = st.span(a, b - 1);
    // every argument named: positional ones by PyTorch's order
    let mut rewritten = Vec::new();
    let mut missing = None;
    for (i, &(a, b)) in args.iter().enumerate() {
        let text = &st.src[st.toks[a].start..st.toks[b - 1].end];
        let named = st.is(a, Token::Ident) && st.is(a + 1, Token::Eq);
        match names.get(i).copied().flatten() {
            _ if named => rewritten.push(text.to_string()),
            Some(name) if layer_spec(layer).is_some_and(|s| s.arg(name).is_some()) => {
                rewritten.push(format!("{name}={text}"))
            }
            _ => {
                missing.get_or_insert(i);
            }
        }
    }
    match missing {
        None => {
            let call = format!("{layer}({})", rewritten.join(", "));
            let name = names.get(first).copied().flatten().unwrap_or("k");
            habit(
                message,
                at,
                "positional argument",
                format!("name it `{name}={value}`: `{call}`"),
                Some(Fix::new(span, format!("({})", rewritten.join(", ")))),
            )
        }
        Some(0) if layer == "batchnorm" => habit(
            message,
            at,
            "positional argument",
            "`batchnorm` takes its channel count from its input: leave it out".into(),
            None,
        ),
        Some(_) => {
            let example = layer_spec(layer).map_or("conv(out=6, k=5)", |s| s.example);
            habit(
                message,
                at,
                "positional argument",
                format!("write each argument as `name=value`, for example `{example}`"),
                None,
            )
        }
    }
}

/// `edge(X)` alone: an expression is not a statement in a script.
fn bare_expression(st: &Statement) -> Option<SyntaxError> {
    if st.is(0, Token::Keyword) {
        return None;
    }
    let (first, last) = (st.toks.first()?, st.toks.last()?);
    let text = &st.src[first.start..last.end];
    let parsed = CnnParser::parse(Rule::expr, text).ok()?.next()?;
    if parsed.as_str().len() != text.len() {
        return None;
    }
    let span = Span::new(first.start, last.end);
    Some(habit(
        "an expression on its own is not a statement".into(),
        span,
        "its value is not used",
        format!(
            "print it: {}, or bind it: {}",
            quoted(&format!("print {text}")),
            quoted(&format!("let Y = {text}"))
        ),
        Some(Fix::new(Span::new(first.start, first.start), "print ")),
    ))
}

/// `foo bar`: a name where a statement should start.
fn not_a_statement(st: &Statement) -> Option<SyntaxError> {
    let next = st.toks.get(1)?;
    if !st.is(0, Token::Ident) || st.pos != next.start {
        return None;
    }
    Some(habit(
        format!("a statement cannot start with `{}`", st.text(0)),
        st.span(0, 0),
        "not a statement",
        format!(
            "statements start with one of: {}; `let` binds a name",
            statement_list()
        ),
        None,
    ))
}

#[cfg(test)]
mod tests;

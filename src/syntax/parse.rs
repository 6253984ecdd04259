//! pest pairs to AST. One `lower_<rule>` function per grammar rule.

use std::sync::Mutex;

use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser;

use super::ast::*;
use super::error::{unclosed_bracket, SyntaxError};
use super::grammar::{CnnParser, Rule};

/// Parse a whole script. On failure, every syntax error found is returned:
/// after each one the offending line is blanked and parsing resumes, so a
/// script with three broken lines reports three errors.
pub fn parse_script(src: &str) -> Result<Script, Vec<SyntaxError>> {
    parse_with(src, Rule::script)
}

/// Parse one REPL entry: statements, or a bare shape question.
pub fn parse_repl_line(src: &str) -> Result<Script, Vec<SyntaxError>> {
    parse_with(src, Rule::repl_line)
}

/// Parse a whole script, also when it has syntax errors: the errors, and
/// the script without its broken lines (spans still into `src`) when the
/// rest parses. Editors use it to keep answering while a line is half typed.
pub fn parse_script_recovering(src: &str) -> (Option<Script>, Vec<SyntaxError>) {
    parse_recovering(src, Rule::script)
}

const MAX_SYNTAX_ERRORS: usize = 20;

fn parse_with(src: &str, rule: Rule) -> Result<Script, Vec<SyntaxError>> {
    match parse_recovering(src, rule) {
        (Some(script), errors) if errors.is_empty() => Ok(script),
        (_, errors) => Err(errors),
    }
}

fn parse_recovering(src: &str, rule: Rule) -> (Option<Script>, Vec<SyntaxError>) {
    if let Some(err) = unclosed_bracket(src) {
        // the one error reported; the script without that line is for editors
        let mut text = src.to_string();
        let blanked = blank_line_at(&mut text, err.span.start) && unclosed_bracket(&text).is_none();
        let script = if blanked {
            parse_lines(&text, rule).0
        } else {
            None
        };
        return (script, vec![err]);
    }
    parse_lines(src, rule)
}

/// Parse; after each syntax error, blank its line and parse again.
fn parse_lines(src: &str, rule: Rule) -> (Option<Script>, Vec<SyntaxError>) {
    let mut text = src.to_string();
    let mut errors: Vec<SyntaxError> = Vec::new();
    loop {
        match pest_parse(rule, &text) {
            Ok(mut pairs) => {
                let script = match pairs.next() {
                    Some(top) => lower_script(top),
                    None => Script { stmts: vec![] },
                };
                return (Some(script), errors);
            }
            Err(e) => {
                let err = SyntaxError::from_pest(&e, src);
                let pos = err.span.start;
                let repeated = errors.iter().any(|o| o.span.start == pos);
                if !repeated {
                    errors.push(err);
                }
                if repeated || errors.len() >= MAX_SYNTAX_ERRORS || !blank_line_at(&mut text, pos) {
                    return (None, errors);
                }
            }
        }
    }
}

/// Parses `text` as `rule`. pest's tracking of parse attempts (what a
/// syntax error's "expected ..." is made of) costs about half of a parse,
/// so a text is parsed without it and only a failed parse is repeated with
/// it. The switch is process-wide and read as a parse starts: it is on only
/// during such a repeat, which holds [`DETAIL`]; a parse on another thread
/// meanwhile tracks attempts it does not need, which is only slower.
fn pest_parse(rule: Rule, text: &str) -> Result<Pairs<'_, Rule>, pest::error::Error<Rule>> {
    CnnParser::parse(rule, text).or_else(|_| {
        let _held = DETAIL.lock().unwrap_or_else(|p| p.into_inner());
        pest::set_error_detail(true);
        let again = CnnParser::parse(rule, text);
        pest::set_error_detail(false);
        again
    })
}

static DETAIL: Mutex<()> = Mutex::new(());

/// Replace the line holding byte `pos` with spaces (keeping its length and
/// the newline), so the rest of the file can still be parsed.
fn blank_line_at(text: &mut String, pos: usize) -> bool {
    let pos = pos.min(text.len());
    let start = text[..pos].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let end = text[pos..]
        .find('\n')
        .map(|i| pos + i)
        .unwrap_or(text.len());
    if text[start..end].trim().is_empty() {
        return false;
    }
    let blank: String = text[start..end]
        .chars()
        .map(|c| " ".repeat(c.len_utf8()))
        .collect();
    text.replace_range(start..end, &blank);
    true
}

fn span_of(pair: &Pair<Rule>) -> Span {
    let s = pair.as_span();
    Span::new(s.start(), s.end())
}

fn lower_ident(pair: Pair<Rule>) -> Ident {
    Ident {
        name: pair.as_str().to_string(),
        span: span_of(&pair),
    }
}

fn lower_number(pair: Pair<Rule>) -> Number {
    let text = pair.as_str().to_string();
    Number {
        value: text.parse().unwrap_or(f64::NAN),
        text,
        span: span_of(&pair),
    }
}

fn lower_string(pair: Pair<Rule>) -> StrLit {
    let span = span_of(&pair);
    let body = pair.into_inner().next().map(|p| p.as_str()).unwrap_or("");
    let mut value = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => value.push('\n'),
                Some('t') => value.push('\t'),
                Some(other) => value.push(other),
                None => {}
            }
        } else {
            value.push(c);
        }
    }
    StrLit { value, span }
}

fn lower_dims(pair: Pair<Rule>) -> Dims {
    let span = span_of(&pair);
    let dims = pair
        .as_str()
        .split('x')
        .map(|part| match part.parse::<u64>() {
            Ok(n) => DimLit::Known(n),
            // digits too large for u64 stay symbolic text; the checker reports them
            Err(_) => DimLit::Sym(part.to_string()),
        })
        .collect();
    Dims { dims, span }
}

/// script = { SOI ~ sep* ~ (stmt ~ (sep+ ~ stmt)*)? ~ sep* ~ EOI }
fn lower_script(pair: Pair<Rule>) -> Script {
    let stmts = pair
        .into_inner()
        .filter(|p| p.as_rule() != Rule::EOI)
        .map(lower_stmt)
        .collect();
    Script { stmts }
}

fn lower_stmt(pair: Pair<Rule>) -> Stmt {
    let span = span_of(&pair);
    let rule = pair.as_rule();
    let mut inner = pair.into_inner();
    let mut next = || inner.next().expect("grammar guarantees this child");
    let kind = match rule {
        Rule::let_stmt => {
            next();
            let name = lower_ident(next());
            StmtKind::Let {
                name,
                value: lower_expr(next()),
            }
        }
        Rule::let_tuple => {
            let mut names = Vec::new();
            let mut value = None;
            for p in inner {
                match p.as_rule() {
                    Rule::ident => names.push(lower_ident(p)),
                    Rule::expr => value = Some(lower_expr(p)),
                    _ => {}
                }
            }
            StmtKind::LetTuple {
                names,
                value: value.expect("grammar guarantees an expression"),
            }
        }
        Rule::assign_stmt => {
            let target = lower_ident(next());
            let index = next();
            let index_span = span_of(&index);
            StmtKind::Assign {
                target,
                index: lower_index_items(index),
                index_span,
                value: lower_expr(next()),
            }
        }
        Rule::set_stmt => {
            // ident ~ field_suffix+ ~ "=" ~ expr: the fields build the target
            let mut target = lower_primary(next());
            let mut value = None;
            for p in inner {
                match p.as_rule() {
                    Rule::field_suffix => {
                        let span = target.span.join(span_of(&p));
                        let field = p.into_inner().next().expect("field name");
                        target = Expr {
                            kind: ExprKind::Field {
                                base: Box::new(target),
                                field: lower_ident(field),
                            },
                            span,
                        };
                    }
                    _ => value = Some(lower_expr(p)),
                }
            }
            StmtKind::SetParam {
                target,
                value: value.expect("grammar guarantees a value"),
            }
        }
        Rule::print_stmt => {
            next();
            StmtKind::Print(lower_expr(next()))
        }
        // a bare expression typed at the REPL prints its value
        Rule::bare_expr => StmtKind::Print(lower_expr(next())),
        Rule::save_stmt => {
            next();
            let value = lower_expr(next());
            StmtKind::Save {
                value,
                path: lower_string(next()),
            }
        }
        Rule::load_stmt => {
            next();
            let model = lower_ident(next());
            StmtKind::LoadModel {
                model,
                path: lower_string(next()),
            }
        }
        Rule::seed_stmt => {
            next();
            StmtKind::Seed {
                value: lower_number(next()),
            }
        }
        Rule::summary_stmt => {
            next();
            StmtKind::Summary {
                model: lower_ident(next()),
            }
        }
        Rule::eval_stmt => {
            next();
            StmtKind::Eval {
                model: inner.next().map(lower_ident),
            }
        }
        Rule::plot_stmt => {
            next();
            StmtKind::Plot {
                path: inner.next().map(lower_string),
            }
        }
        Rule::show_stmt => {
            next();
            let value = lower_expr(next());
            StmtKind::Show {
                value,
                path: inner.next().map(lower_string),
            }
        }
        Rule::export_stmt => {
            next();
            let model = lower_ident(next());
            StmtKind::Export {
                model,
                path: lower_string(next()),
            }
        }
        Rule::data_stmt => {
            next();
            let mut role = None;
            let mut exprs = Vec::new();
            for p in inner {
                match p.as_rule() {
                    Rule::data_role => role = p.into_inner().next().map(lower_ident),
                    Rule::expr => exprs.push(lower_expr(p)),
                    _ => {}
                }
            }
            let y = exprs.pop().expect("grammar guarantees two expressions");
            let x = exprs.pop().expect("grammar guarantees two expressions");
            StmtKind::Data { role, x, y }
        }
        Rule::train_stmt => {
            next();
            let mut words = Vec::new();
            let mut options = Vec::new();
            for p in inner {
                match p.as_rule() {
                    Rule::train_word => {
                        if let Some(i) = p.into_inner().next() {
                            words.push(lower_ident(i));
                        }
                    }
                    Rule::option => options.push(lower_kv(p)),
                    _ => {}
                }
            }
            let optimizer = words.pop().expect("grammar guarantees an optimizer");
            StmtKind::Train {
                model: words.pop(),
                optimizer,
                options,
            }
        }
        Rule::assert_stmt => {
            next();
            let what = match next().as_str() {
                "shape" => AssertWhat::Shape,
                "params" => AssertWhat::Params,
                _ => AssertWhat::Rf,
            };
            let model = lower_ident(next());
            StmtKind::Assert {
                what,
                model,
                value: lower_dims(next()),
            }
        }
        Rule::shape_stmt => {
            next();
            return lower_shape_query(next(), span);
        }
        Rule::shape_query => return lower_shape_query_pair(rule, inner, span),
        Rule::model_decl => StmtKind::Model(lower_model_decl(inner, span)),
        other => unreachable!("not a statement rule: {other:?}"),
    };
    Stmt { kind, span }
}

fn lower_shape_query(pair: Pair<Rule>, span: Span) -> Stmt {
    let rule = pair.as_rule();
    lower_shape_query_pair(rule, pair.into_inner(), span)
}

/// shape_query = { kw_explain? ~ dims ~ ("->" ~ nl ~ layer)+ }
fn lower_shape_query_pair(_rule: Rule, inner: pest::iterators::Pairs<Rule>, span: Span) -> Stmt {
    let mut explain = false;
    let mut input = None;
    let mut layers = Vec::new();
    for p in inner {
        match p.as_rule() {
            Rule::kw_explain => explain = true,
            Rule::dims => input = Some(lower_dims(p)),
            Rule::layer => layers.push(lower_layer(p)),
            _ => {}
        }
    }
    Stmt {
        kind: StmtKind::Shape {
            explain,
            input: input.expect("grammar guarantees dims"),
            layers,
        },
        span,
    }
}

/// model_decl = { kw_model ~ ident ~ "(" ~ ident ~ ":" ~ dims ~ ")" ~ (model_eq | model_block) }
fn lower_model_decl(mut inner: pest::iterators::Pairs<Rule>, span: Span) -> ModelDecl {
    inner.next(); // kw_model
    let name = lower_ident(inner.next().expect("model name"));
    let input_name = lower_ident(inner.next().expect("input name"));
    let input = lower_dims(inner.next().expect("input dims"));
    let body = inner.next().expect("model body");
    let lines = match body.as_rule() {
        Rule::model_eq => {
            let chain = body.into_inner().next().expect("chain");
            let line_span = span_of(&chain);
            vec![ModelLine {
                bind: None,
                source: None,
                layers: lower_chain(chain),
                span: line_span,
            }]
        }
        _ => body.into_inner().map(lower_model_line).collect(),
    };
    ModelDecl {
        name,
        input_name,
        input,
        lines,
        span,
    }
}

/// model_line = { bind_line | chain }
fn lower_model_line(pair: Pair<Rule>) -> ModelLine {
    let span = span_of(&pair);
    let inner = pair.into_inner().next().expect("line body");
    match inner.as_rule() {
        Rule::bind_line => {
            let mut parts = inner.into_inner();
            let bind = lower_ident(parts.next().expect("bound name"));
            let source = lower_source(parts.next().expect("source"));
            let layers = parts.next().map(lower_chain).unwrap_or_default();
            ModelLine {
                bind: Some(bind),
                source: Some(source),
                layers,
                span,
            }
        }
        _ => ModelLine {
            bind: None,
            source: None,
            layers: lower_chain(inner),
            span,
        },
    }
}

/// source = { merge | ident }
fn lower_source(pair: Pair<Rule>) -> Source {
    let inner = pair.into_inner().next().expect("source body");
    match inner.as_rule() {
        Rule::merge => {
            let span = span_of(&inner);
            let mut parts = inner.into_inner();
            let op = lower_ident(parts.next().expect("merge op"));
            Source::Merge {
                op,
                args: parts.map(lower_ident).collect(),
                span,
            }
        }
        _ => Source::Name(lower_ident(inner)),
    }
}

/// chain = { layer ~ (("->" ~ nl)? ~ layer)* }
fn lower_chain(pair: Pair<Rule>) -> Vec<LayerCall> {
    pair.into_inner().map(lower_layer).collect()
}

/// layer = { (label ~ ":")? ~ ident ~ layer_args? }
fn lower_layer(pair: Pair<Rule>) -> LayerCall {
    let span = span_of(&pair);
    let mut label = None;
    let mut name = None;
    let mut args = None;
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::label => label = p.into_inner().next().map(lower_ident),
            Rule::ident => name = Some(lower_ident(p)),
            Rule::layer_args => args = Some(p.into_inner().map(lower_kv).collect()),
            _ => {}
        }
    }
    LayerCall {
        label,
        name: name.expect("grammar guarantees a layer name"),
        args,
        span,
    }
}

/// kv = { ident ~ "=" ~ arg_value }
fn lower_kv(pair: Pair<Rule>) -> KeyValue {
    let span = span_of(&pair);
    let mut inner = pair.into_inner();
    let key = lower_ident(inner.next().expect("key"));
    let value = inner.next().expect("value");
    KeyValue {
        key,
        value: lower_arg_value(value),
        span,
    }
}

/// arg_value = { bad_pair | pair | number | string | word }
fn lower_arg_value(pair: Pair<Rule>) -> ArgValue {
    let inner = pair.into_inner().next().expect("value body");
    match inner.as_rule() {
        Rule::pair => ArgValue::Dims(lower_dims(inner)),
        Rule::number => ArgValue::Number(lower_number(inner)),
        Rule::string => ArgValue::Str(lower_string(inner)),
        Rule::word => ArgValue::Word(lower_ident(inner.into_inner().next().expect("word"))),
        _ => ArgValue::Bad {
            text: inner.as_str().to_string(),
            span: span_of(&inner),
        },
    }
}

fn pratt() -> PrattParser<Rule> {
    PrattParser::new()
        // Python's precedence: comparisons bind loosest, `@` as tightly as `*`
        .op(Op::infix(Rule::eq, Assoc::Left)
            | Op::infix(Rule::ne, Assoc::Left)
            | Op::infix(Rule::lt, Assoc::Left)
            | Op::infix(Rule::le, Assoc::Left)
            | Op::infix(Rule::gt, Assoc::Left)
            | Op::infix(Rule::ge, Assoc::Left))
        .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
        .op(Op::infix(Rule::mul, Assoc::Left)
            | Op::infix(Rule::div, Assoc::Left)
            | Op::infix(Rule::matmul, Assoc::Left))
        .op(Op::prefix(Rule::neg))
}

/// expr = { prefix* ~ postfix ~ (infix ~ prefix* ~ postfix)* }
fn lower_expr(pair: Pair<Rule>) -> Expr {
    thread_local! {
        static PRATT: PrattParser<Rule> = pratt();
    }
    PRATT.with(|pratt| {
        pratt
            .map_primary(lower_postfix)
            .map_prefix(|op, rhs| Expr {
                span: span_of(&op).join(rhs.span),
                kind: ExprKind::Neg(Box::new(rhs)),
            })
            .map_infix(|lhs, op, rhs| {
                let op = match op.as_rule() {
                    Rule::add => BinOp::Add,
                    Rule::sub => BinOp::Sub,
                    Rule::mul => BinOp::Mul,
                    Rule::matmul => BinOp::MatMul,
                    Rule::eq => BinOp::Eq,
                    Rule::ne => BinOp::Ne,
                    Rule::lt => BinOp::Lt,
                    Rule::le => BinOp::Le,
                    Rule::gt => BinOp::Gt,
                    Rule::ge => BinOp::Ge,
                    _ => BinOp::Div,
                };
                Expr {
                    span: lhs.span.join(rhs.span),
                    kind: ExprKind::Binary {
                        op,
                        lhs: Box::new(lhs),
                        rhs: Box::new(rhs),
                    },
                }
            })
            .parse(pair.into_inner())
    })
}

/// postfix = { primary ~ (call_suffix | index_suffix | field_suffix)* }
fn lower_postfix(pair: Pair<Rule>) -> Expr {
    let mut inner = pair.into_inner();
    let mut expr = lower_primary(inner.next().expect("primary"));
    for suffix in inner {
        let suffix_span = span_of(&suffix);
        let span = expr.span.join(suffix_span);
        let kind = match suffix.as_rule() {
            Rule::call_suffix => {
                let (named, args): (Vec<_>, Vec<_>) = suffix
                    .into_inner()
                    .partition(|p| p.as_rule() == Rule::named_arg);
                ExprKind::Call {
                    callee: Box::new(expr),
                    args: args.into_iter().map(lower_call_arg).collect(),
                    named: named.into_iter().map(lower_named_arg).collect(),
                    args_span: suffix_span,
                }
            }
            Rule::index_suffix => ExprKind::Index {
                base: Box::new(expr),
                items: lower_index_items(suffix),
            },
            _ => {
                let field = suffix.into_inner().next().expect("field name");
                ExprKind::Field {
                    base: Box::new(expr),
                    field: lower_ident(field),
                }
            }
        };
        expr = Expr { kind, span };
    }
    expr
}

/// named_arg = { ident ~ "=" ~ (dims_arg | expr) }
fn lower_named_arg(pair: Pair<Rule>) -> NamedArg {
    let span = span_of(&pair);
    let mut inner = pair.into_inner();
    let name = lower_ident(inner.next().expect("argument name"));
    let value = lower_call_arg(inner.next().expect("argument value"));
    NamedArg { name, value, span }
}

fn lower_call_arg(pair: Pair<Rule>) -> Expr {
    match pair.as_rule() {
        Rule::dims_arg => {
            let dims = lower_dims(pair);
            Expr {
                span: dims.span,
                kind: ExprKind::Dims(dims),
            }
        }
        _ => lower_expr(pair),
    }
}

fn lower_primary(pair: Pair<Rule>) -> Expr {
    let span = span_of(&pair);
    let kind = match pair.as_rule() {
        Rule::unsigned => ExprKind::Number(lower_number(pair)),
        Rule::string => ExprKind::Str(lower_string(pair)),
        Rule::list => ExprKind::List(pair.into_inner().map(lower_expr).collect()),
        Rule::paren => {
            return lower_expr(pair.into_inner().next().expect("inner expression"));
        }
        _ => ExprKind::Name(lower_ident(pair)),
    };
    Expr { kind, span }
}

/// index_suffix = { "[" ~ index_item ~ ("," ~ index_item)* ~ "]" }
fn lower_index_items(pair: Pair<Rule>) -> Vec<IndexItem> {
    pair.into_inner()
        .map(|item| match item.as_rule() {
            Rule::slice => {
                let span = span_of(&item);
                let (mut start, mut stop, mut step) = (None, None, None);
                for part in item.into_inner() {
                    let rule = part.as_rule();
                    let value = part.into_inner().next().map(lower_expr);
                    match rule {
                        Rule::slice_start => start = value,
                        Rule::slice_stop => stop = value,
                        _ => step = value,
                    }
                }
                IndexItem::Slice {
                    start,
                    stop,
                    step,
                    span,
                }
            }
            _ => IndexItem::Single(lower_expr(item)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(src: &str) -> Script {
        match parse_script(src) {
            Ok(s) => s,
            Err(e) => panic!("parse failed for {src:?}: {e:?}"),
        }
    }

    #[test]
    fn parses_the_chapter_examples() {
        let s = parse_ok(
            "model tiny(x: 4x2x3x5) = conv(in=2, out=3, k=3x5, p=1x2) -> maxpool(k=3, s=2x1, p=1)\n\
             summary tiny\ndata X -> Y\ntrain sgd lr=0.01 steps=30 loss=sse log=5\n",
        );
        assert_eq!(s.stmts.len(), 4);
        match &s.stmts[3].kind {
            StmtKind::Train {
                model,
                optimizer,
                options,
            } => {
                assert!(model.is_none());
                assert_eq!(optimizer.name, "sgd");
                assert_eq!(options.len(), 4);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dims_and_fields() {
        let s = parse_ok("let A = arange(32).reshape(1x2x4x4)\nprint edge.0.weight\nE[:, 2:6] = 0");
        assert_eq!(s.stmts.len(), 3);
        let StmtKind::Let { value, .. } = &s.stmts[0].kind else {
            panic!()
        };
        let ExprKind::Call { args, .. } = &value.kind else {
            panic!("{value:?}")
        };
        assert!(matches!(args[0].kind, ExprKind::Dims(_)));
    }

    #[test]
    fn graph_blocks() {
        let s = parse_ok(
            "model block(x: Nx64x56x56) {\n  a = x -> conv(out=64, k=3, p=1) -> batchnorm -> relu\n  b = a -> conv(out=64, k=3, p=1) ->\n    batchnorm\n  y = add(x, b) -> relu\n  maxpool(k=2)  flatten\n}\n",
        );
        let StmtKind::Model(m) = &s.stmts[0].kind else {
            panic!()
        };
        assert_eq!(m.lines.len(), 4);
        assert_eq!(m.lines[1].layers.len(), 2);
        assert!(matches!(m.lines[2].source, Some(Source::Merge { .. })));
        assert!(m.lines[3].bind.is_none());
    }

    #[test]
    fn reports_several_errors() {
        let errs = parse_script("let X ones(2x3)\nprint X\nlet Y = = 3\n").unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
    }
}

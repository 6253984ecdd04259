//! Syntax errors: pest's rule names translated into words, once, here.

use miette::Diagnostic;
use thiserror::Error;

use super::ast::Span;
use super::grammar::Rule;
use super::keywords::statement_list;
use crate::diag::Fix;

/// A syntax error at a span, with what was expected there.
#[derive(Debug, Error, Diagnostic, Clone, PartialEq)]
#[error("syntax error: {message}")]
#[diagnostic(code(cnnscript::syntax))]
pub struct SyntaxError {
    pub message: String,
    #[label("{label}")]
    pub span: Span,
    pub label: String,
    #[help]
    pub help: Option<String>,
    /// The edit the help line describes, when there is one.
    pub fix: Option<Fix>,
}

/// What a grammar rule means to a user.
fn rule_words(rule: &Rule) -> Option<String> {
    Some(
        match rule {
            Rule::EOI => "the end of the file",
            Rule::ident | Rule::label | Rule::word | Rule::train_word | Rule::data_role => {
                "a name (starting with a letter or _)"
            }
            Rule::number | Rule::unsigned => "a number",
            Rule::int_field => "a field name or index",
            Rule::string | Rule::str_body => "a string in double quotes",
            Rule::dims | Rule::dims_arg | Rule::dim_part | Rule::dim_sym | Rule::arg_dim => {
                "dims such as 6x8 or Nx1x28x28"
            }
            Rule::pair | Rule::bad_pair => "a size such as 3 or 3x5",
            Rule::arg_value => "a value (number, size such as 3x5, word or string)",
            Rule::kv | Rule::option => "an argument `name=value`",
            Rule::layer | Rule::chain => "a layer such as conv(out=6, k=5) or relu",
            Rule::layer_args => "layer arguments in parentheses",
            Rule::model_line | Rule::bind_line => "a layer or a binding `name = source -> layer`",
            Rule::source | Rule::merge => "a source: a name, add(a, b) or concat(a, b)",
            Rule::model_eq | Rule::model_block => "`= layers` or a `{ ... }` block",
            Rule::expr | Rule::postfix | Rule::paren | Rule::list | Rule::call_arg => {
                "an expression"
            }
            Rule::call_suffix => "call arguments",
            Rule::named_arg => "an argument `name=value`",
            Rule::index_suffix | Rule::slice | Rule::index_item => "an index such as [0] or [1:3]",
            Rule::field_suffix => "`.name`",
            Rule::add
            | Rule::sub
            | Rule::mul
            | Rule::div
            | Rule::matmul
            | Rule::eq
            | Rule::ne
            | Rule::lt
            | Rule::le
            | Rule::gt
            | Rule::ge
            | Rule::infix => "an operator",
            Rule::neg | Rule::prefix => "`-`",
            Rule::shape_query => "a shape question `dims -> layer -> ...`",
            Rule::kw_let
            | Rule::kw_print
            | Rule::kw_save
            | Rule::kw_load
            | Rule::kw_seed
            | Rule::kw_model
            | Rule::kw_shape
            | Rule::kw_summary
            | Rule::kw_data
            | Rule::kw_train
            | Rule::kw_eval
            | Rule::kw_plot
            | Rule::kw_show
            | Rule::kw_assert
            | Rule::kw_export
            | Rule::assert_stmt
            | Rule::export_stmt
            | Rule::let_stmt
            | Rule::let_tuple
            | Rule::assign_stmt
            | Rule::set_stmt
            | Rule::bare_expr
            | Rule::print_stmt
            | Rule::save_stmt
            | Rule::load_stmt
            | Rule::seed_stmt
            | Rule::summary_stmt
            | Rule::eval_stmt
            | Rule::plot_stmt
            | Rule::show_stmt
            | Rule::data_stmt
            | Rule::train_stmt
            | Rule::shape_stmt
            | Rule::model_decl
            | Rule::stmt => return Some(format!("a statement ({})", statement_list())),
            Rule::kw_explain => "`explain`",
            Rule::assert_what => "`shape`, `params` or `rf`",
            _ => return None,
        }
        .to_string(),
    )
}

impl SyntaxError {
    /// Translate a pest error into words, pointing at where it happened.
    pub fn from_pest(e: &pest::error::Error<Rule>, src: &str) -> SyntaxError {
        let mut pos = match e.location {
            pest::error::InputLocation::Pos(p) => p,
            pest::error::InputLocation::Span((s, _)) => s,
        }
        .min(src.len());
        // With error detail on, pest also records the literal tokens tried at
        // the furthest position (`=`, `->`), which its rule list leaves out.
        let mut tokens: Vec<String> = Vec::new();
        let mut further = false;
        if let Some(att) = e.parse_attempts() {
            if att.max_position > pos && att.max_position <= src.len() {
                pos = att.max_position;
                further = true;
            }
            if att.max_position == pos {
                for t in att.expected_tokens() {
                    let token = t.to_string();
                    // structural punctuation only: the characters inside numbers
                    // and strings are covered by the rule names
                    const STRUCTURAL: [&str; 12] =
                        ["=", "==", "->", "(", ")", "[", "]", "{", "}", ",", ":", ";"];
                    let literal = STRUCTURAL.contains(&token.as_str());
                    if literal && !tokens.contains(&format!("`{token}`")) {
                        tokens.push(format!("`{token}`"));
                    }
                }
            }
        }
        // underline the token that stands there (or one char)
        let rest = &src[pos..];
        let tok_len = rest
            .char_indices()
            .find(|&(i, c)| i > 0 && !(c.is_alphanumeric() || c == '_' || c == '.'))
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let tok_len = if rest.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
            tok_len
        } else {
            rest.chars().next().map(char::len_utf8).unwrap_or(0)
        };
        let found = match rest.chars().next() {
            None => "the end of the file".to_string(),
            Some('\n') | Some('\r') => "the end of the line".to_string(),
            Some(_) => format!("`{}`", &rest[..tok_len]),
        };
        let rules: Vec<Rule> = match &e.variant {
            _ if further => vec![],
            pest::error::ErrorVariant::ParsingError { positives, .. } => positives.clone(),
            pest::error::ErrorVariant::CustomError { .. } => vec![],
        };
        // `X = ...` stops where an index could follow the name
        let wants_index = rules.contains(&Rule::index_suffix) || tokens.iter().any(|t| t == "`[`");
        let mut expected: Vec<String> = Vec::new();
        for w in rules.iter().filter_map(rule_words) {
            if !expected.contains(&w) {
                expected.push(w);
            }
        }
        for t in tokens {
            if !expected.contains(&t) {
                expected.push(t);
            }
        }
        let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
        let (message, label) = if expected.is_empty() {
            (
                format!("unexpected {found}"),
                "not expected here".to_string(),
            )
        } else {
            let list = join_or(&expected);
            (
                format!("expected {list}, found {found}"),
                format!("expected {list}"),
            )
        };
        if let Some(habit) = super::habits::recognize(src, pos) {
            return habit;
        }
        let (help, fix) = hint_for(src, pos, wants_index);
        SyntaxError {
            message,
            span: Span::new(pos, pos + tok_len),
            label,
            help,
            fix,
        }
    }
}

fn join_or(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    }
}

/// A help line for common slips, judged from the text around the error,
/// with its edit when the slip has one obvious repair.
fn hint_for(src: &str, pos: usize, wants_index: bool) -> (Option<String>, Option<Fix>) {
    let line_start = src[..pos].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line = src[line_start..].lines().next().unwrap_or("");
    let trimmed = line.trim_start();
    let indent = line_start + (line.len() - trimmed.len());
    // the line up to the error is one name: `X = ...` or `let X ...`
    let before = src.get(indent..pos).unwrap_or("").trim_end();
    let one_name = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if trimmed.starts_with("let ") && !line.contains('=') {
        let fix = before
            .strip_prefix("let ")
            .filter(|name| one_name(name.trim_start()))
            .map(|_| Fix::new(Span::new(pos, pos), "= "));
        return (
            Some("a binding is written `let NAME = expression`".into()),
            fix,
        );
    }
    let assigns = src[pos..].starts_with('=') && !src[pos..].starts_with("==");
    if assigns && wants_index && one_name(before) {
        return (
            Some(format!("a new name is bound with `let {before} = ...`")),
            Some(Fix::new(Span::new(indent, indent), "let ")),
        );
    }
    if src[pos..].starts_with('x') && src[..pos].ends_with(|c: char| c.is_ascii_digit()) {
        return (
            Some("a size is written `3x5`, with a number on both sides of `x`".into()),
            None,
        );
    }
    (None, None)
}

/// An opening bracket without its closing one, reported at the opening
/// bracket (SPEC section 7), or a closing one that opens nothing.
/// Deepest bracket nesting a script may use.
pub const MAX_NESTING: usize = 256;
/// Most operators (`+ - * /`) one statement may hold.
pub const MAX_OPERATORS: usize = 4096;

pub fn unclosed_bracket(src: &str) -> Option<SyntaxError> {
    let mut stack: Vec<(char, usize)> = Vec::new();
    // operators since the last statement break, to bound expression depth
    let mut operators = 0usize;
    let mut in_comment = false;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in src.char_indices() {
        if in_comment {
            if c == '\n' {
                in_comment = false;
            }
            continue;
        }
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' | '\n' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '#' => in_comment = true,
            '"' => in_string = true,
            '\n' | ';' if stack.is_empty() => operators = 0,
            '+' | '-' | '*' | '/' if !src[i + 1..].starts_with('>') => {
                operators += 1;
                if operators > MAX_OPERATORS {
                    return Some(SyntaxError {
                        message: format!("this statement has more than {MAX_OPERATORS} operators"),
                        span: Span::new(i, i + 1),
                        label: "too many operators".into(),
                        help: Some("split the expression over several `let` statements".into()),
                        fix: None,
                    });
                }
            }
            '(' | '[' | '{' => {
                stack.push((c, i));
                if stack.len() > MAX_NESTING {
                    return Some(SyntaxError {
                        message: format!("brackets nest more than {MAX_NESTING} deep"),
                        span: Span::new(i, i + 1),
                        label: "too deep".into(),
                        help: Some("a tensor literal or expression this deep is not supported; load data from a file instead".into()),
                        fix: None,
                    });
                }
            }
            ')' | ']' | '}' => {
                let want = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                match stack.pop() {
                    Some((open, _)) if open == want => {}
                    Some((open, at)) => {
                        return Some(SyntaxError {
                            message: format!("`{open}` is closed by `{c}`"),
                            span: Span::new(at, at + 1),
                            label: "opened here".into(),
                            help: Some(format!(
                                "close it with `{}` before the `{c}` at byte {i}",
                                closing(open)
                            )),
                            fix: None,
                        });
                    }
                    None => {
                        return Some(SyntaxError {
                            message: format!("`{c}` closes nothing"),
                            span: Span::new(i, i + 1),
                            label: "no bracket open here".into(),
                            help: Some("remove it, or open the bracket it closes".into()),
                            fix: None,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    stack.pop().map(|(open, at)| SyntaxError {
        message: format!("`{open}` is never closed"),
        span: Span::new(at, at + 1),
        label: "opened here".into(),
        help: Some(format!("add the closing `{}`", closing(open))),
        fix: None,
    })
}

fn closing(open: char) -> char {
    match open {
        '(' => ')',
        '[' => ']',
        _ => '}',
    }
}

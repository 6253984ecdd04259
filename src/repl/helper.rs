//! The line editor's helper: highlighting, completion, argument hints and
//! multi-line entry, all driven by the REPL lexer and the layer, builtin
//! and keyword tables.

use std::borrow::Cow;

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::{Hint, Hinter};
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

use super::lexer::{class_of, lex, needs_more, Class, Lexeme, Token};
use super::META;
use crate::ir::builtins::{of_form, Form, BUILTINS};
use crate::ir::check::{check_stmts, Scope};
use crate::layers::{layer_spec, ArgType, Init, LayerSpec, LAYERS};
use crate::syntax::ast::StmtKind;
use crate::syntax::keywords::KEYWORDS;
use crate::syntax::parse::parse_repl_line;

/// Names defined in the session, for completion.
#[derive(Clone, Debug, Default)]
pub struct Names {
    /// Model names, in declaration order.
    pub models: Vec<String>,
    /// Tensor names, in definition order.
    pub tensors: Vec<String>,
}

/// The rustyline helper of the REPL.
pub struct ReplHelper {
    colour: bool,
    names: Names,
    files: FilenameCompleter,
}

impl ReplHelper {
    /// A helper; `colour` turns syntax highlighting on.
    pub fn new(colour: bool) -> ReplHelper {
        ReplHelper {
            colour,
            names: Names::default(),
            files: FilenameCompleter::new(),
        }
    }
    /// Replace the model and tensor names offered by completion.
    pub fn set_names(&mut self, names: Names) {
        self.names = names;
    }
}

impl Helper for ReplHelper {}

// ---------------------------------------------------------------- highlighting

fn colour_of(class: Class) -> Option<&'static str> {
    match class {
        Class::Keyword => Some("\x1b[1;35m"),
        Class::Layer => Some("\x1b[1;36m"),
        Class::Builtin => Some("\x1b[36m"),
        Class::Name | Class::Punct => None,
        Class::Number => Some("\x1b[33m"),
        Class::Dims => Some("\x1b[1;33m"),
        Class::Str => Some("\x1b[32m"),
        Class::Comment => Some("\x1b[90m"),
        Class::Meta => Some("\x1b[1;34m"),
        Class::Error => Some("\x1b[1;31m"),
    }
}

/// `line` with ANSI colours around every token (same display width).
pub fn highlight_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len() * 2);
    let mut at = 0;
    for t in lex(line) {
        out.push_str(&line[at..t.start]);
        let text = t.text(line);
        match colour_of(class_of(t.token, text)) {
            Some(code) => {
                out.push_str(code);
                out.push_str(text);
                out.push_str("\x1b[0m");
            }
            None => out.push_str(text),
        }
        at = t.end;
    }
    out.push_str(&line[at..]);
    out
}

impl Highlighter for ReplHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if self.colour {
            Cow::Owned(highlight_line(line))
        } else {
            Cow::Borrowed(line)
        }
    }

    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        default: bool,
    ) -> Cow<'b, str> {
        if self.colour && default {
            Cow::Owned(format!("\x1b[1;32m{prompt}\x1b[0m"))
        } else {
            Cow::Borrowed(prompt)
        }
    }

    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.colour {
            Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
        } else {
            Cow::Borrowed(hint)
        }
    }

    fn highlight_char(&self, _line: &str, _pos: usize, kind: CmdKind) -> bool {
        self.colour && kind != CmdKind::MoveCursor
    }
}

// ---------------------------------------------------------------- validation

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if needs_more(ctx.input()) {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Valid(None)
        })
    }
}

// ---------------------------------------------------------------- completion

/// Where the cursor stands, as far as completion cares (the language
/// server reads it too, to describe each candidate).
#[derive(Debug)]
pub enum Spot<'a> {
    /// Typing the meta command itself.
    MetaName,
    /// After `:load `: a file path.
    Path,
    /// After `:help `: a layer or builtin name.
    HelpTopic,
    /// An argument name inside `layer(...)`; `given` are the names already written.
    ArgName {
        layer: &'static LayerSpec,
        given: Vec<&'a str>,
    },
    /// An argument value after `name=` inside `layer(...)`.
    ArgValue(ArgType),
    /// After `->` or a label: a layer.
    Layer,
    /// After `summary`, `train`, `eval` or `load`: a model.
    Model,
    /// After `name.` or `).`: a method, unless `name` is a model.
    Method { base: Option<&'a str> },
    /// Anywhere else: any name.
    Any,
}

/// The word being typed (start byte) and where it stands.
pub fn spot(line: &str, pos: usize) -> (usize, Spot<'_>) {
    let before = &line[..pos];
    let tokens = lex(before);
    let typing = tokens
        .last()
        .filter(|t| t.end == pos && matches!(t.token, Token::Ident | Token::Keyword | Token::Meta));
    let start = typing.map(|t| t.start).unwrap_or(pos);
    let prior: &[Lexeme] = match typing {
        Some(_) => &tokens[..tokens.len() - 1],
        None => &tokens,
    };
    if let [only] = tokens.as_slice() {
        if only.token == Token::Colon && only.end == pos {
            return (only.start, Spot::MetaName);
        }
    }
    if let Some(first) = tokens.first().filter(|t| t.token == Token::Meta) {
        if prior.is_empty() {
            return (start, Spot::MetaName);
        }
        return match first.text(line) {
            ":load" => (start, Spot::Path),
            ":help" => (start, Spot::HelpTopic),
            _ => (start, Spot::Any),
        };
    }
    // the innermost `(` still open, and the name before it
    let mut open: Vec<usize> = Vec::new();
    for (i, t) in prior.iter().enumerate() {
        match t.token {
            Token::LParen | Token::LBracket | Token::LBrace => open.push(i),
            Token::RParen | Token::RBracket | Token::RBrace => {
                open.pop();
            }
            _ => {}
        }
    }
    let prev = prior.last().map(|t| t.token);
    if let Some(&paren) = open.last() {
        let layer = paren
            .checked_sub(1)
            .map(|i| prior[i])
            .filter(|t| prior[paren].token == Token::LParen && t.token == Token::Ident)
            .and_then(|t| layer_spec(t.text(line)));
        if let Some(layer) = layer {
            let inside = &prior[paren + 1..];
            match prev {
                Some(Token::LParen) | Some(Token::Comma) => {
                    let given = inside
                        .windows(2)
                        .filter(|w| w[0].token == Token::Ident && w[1].token == Token::Eq)
                        .map(|w| w[0].text(line))
                        .collect();
                    return (start, Spot::ArgName { layer, given });
                }
                Some(Token::Eq) => {
                    let key = inside
                        .len()
                        .checked_sub(2)
                        .map(|i| inside[i].text(line))
                        .unwrap_or("");
                    if let Some(arg) = layer.args.iter().find(|a| a.name == key) {
                        return (start, Spot::ArgValue(arg.ty));
                    }
                }
                _ => {}
            }
        }
    }
    let prev_text = prior.last().map(|t| t.text(line)).unwrap_or("");
    // a `:` in `(x: 8x8)` or `X[:n]` is not a label's
    let in_call = open
        .last()
        .is_some_and(|&i| matches!(prior[i].token, Token::LParen | Token::LBracket));
    let spot = match prev {
        Some(Token::Arrow) => Spot::Layer,
        Some(Token::Dot) => Spot::Method {
            base: prior
                .len()
                .checked_sub(2)
                .map(|i| prior[i])
                .filter(|t| t.token == Token::Ident)
                .map(|t| t.text(line)),
        },
        Some(Token::Colon) if !in_call => Spot::Layer,
        Some(Token::Keyword) if matches!(prev_text, "summary" | "train" | "eval" | "load") => {
            Spot::Model
        }
        _ => Spot::Any,
    };
    (start, spot)
}

/// Completion candidates for `line` at `pos` (file paths excepted): the start
/// of the word being replaced and the candidates, sorted.
pub fn candidates(line: &str, pos: usize, names: &Names) -> (usize, Vec<String>) {
    let (start, spot) = spot(line, pos);
    let prefix = &line[start..pos];
    let layers = || LAYERS.iter().map(|l| l.name.to_string());
    let models = || names.models.iter().cloned();
    let mut words: Vec<String> = match spot {
        Spot::MetaName => META.iter().map(|m| m.name.to_string()).collect(),
        Spot::Path => vec![],
        Spot::HelpTopic => layers()
            .chain(BUILTINS.iter().map(|b| b.name.to_string()))
            .collect(),
        Spot::ArgName { layer, given } => layer
            .args
            .iter()
            .filter(|a| !given.contains(&a.name))
            .map(|a| format!("{}=", a.name))
            .collect(),
        Spot::ArgValue(ty) => match ty {
            ArgType::Bool => vec!["true".into(), "false".into()],
            ArgType::Init => Init::ALL.map(|i| i.name().to_string()).to_vec(),
            ArgType::Padding => vec!["same".into(), "valid".into()],
            ArgType::Count | ArgType::Pair | ArgType::Real => vec![],
        },
        Spot::Layer => layers().collect(),
        Spot::Model => models().collect(),
        Spot::Method { base } if base.is_some_and(|b| names.models.iter().any(|m| m == b)) => {
            vec![]
        }
        Spot::Method { .. } => of_form(Form::Method)
            .chain(of_form(Form::Property))
            .map(|b| b.name.to_string())
            .collect(),
        Spot::Any => layers()
            .chain(models())
            .chain(names.tensors.iter().cloned())
            .chain(KEYWORDS.iter().map(|k| k.to_string()))
            .chain(of_form(Form::Function).map(|b| b.name.to_string()))
            .collect(),
    };
    words.retain(|w| w.starts_with(prefix) && w != prefix);
    words.sort();
    words.dedup();
    (start, words)
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        if matches!(spot(line, pos).1, Spot::Path) {
            return self.files.complete_path(line, pos);
        }
        let (start, words) = candidates(line, pos, &self.names);
        let pairs = words
            .into_iter()
            .map(|w| Pair {
                display: w.clone(),
                replacement: w,
            })
            .collect();
        Ok((start, pairs))
    }
}

// ---------------------------------------------------------------- hints

/// A hint that is only shown, never inserted.
pub struct ArgsHint(String);

impl Hint for ArgsHint {
    fn display(&self) -> &str {
        &self.0
    }
    fn completion(&self) -> Option<&str> {
        None
    }
}

/// At the end of `layer(...,` with nothing typed yet: the arguments still
/// free, with their defaults (`k, s=1, p=0, ...`).
pub fn args_hint(line: &str, pos: usize) -> Option<String> {
    if pos != line.len() {
        return None;
    }
    let (start, spot) = spot(line, pos);
    let Spot::ArgName { layer, given } = spot else {
        return None;
    };
    if start != pos {
        return None;
    }
    let free: Vec<String> = layer
        .args
        .iter()
        .filter(|a| !given.contains(&a.name))
        .map(|a| a.signature())
        .collect();
    if free.is_empty() {
        return None;
    }
    let pad = if line.ends_with([',']) { " " } else { "" };
    Some(format!("{pad}{}", free.join(", ")))
}

/// At the end of a complete, valid shape question: its output shape
/// (`  → 1x1x6x6`), so the answer shows while typing.
pub fn shape_hint(line: &str, pos: usize) -> Option<String> {
    if pos != line.len() || needs_more(line) {
        return None;
    }
    let script = parse_repl_line(line).ok()?;
    let [stmt] = script.stmts.as_slice() else {
        return None;
    };
    if !matches!(stmt.kind, StmtKind::Shape { explain: false, .. }) {
        return None;
    }
    let checked = check_stmts(&mut Scope::default(), std::slice::from_ref(stmt));
    if checked.has_errors() {
        return None;
    }
    // the last row of the `shape` answer is `layer -> output`
    let answer = checked.stmts.first()?.output.as_deref()?;
    let last_row = answer.lines().last()?;
    let (_, shape) = last_row.rsplit_once("-> ")?;
    Some(format!("  → {shape}"))
}

impl Hinter for ReplHelper {
    type Hint = ArgsHint;

    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<ArgsHint> {
        args_hint(line, pos)
            .or_else(|| shape_hint(line, pos))
            .map(ArgsHint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names {
            models: vec!["lenet".into(), "tiny".into()],
            tensors: vec!["X".into(), "lr_data".into()],
        }
    }

    fn complete(line: &str) -> (usize, Vec<String>) {
        candidates(line, line.len(), &names())
    }

    #[test]
    fn layer_names_after_an_arrow() {
        assert_eq!(complete("8x8 -> max"), (7, vec!["maxpool".into()]));
        let (_, all) = complete("8x8 -> ");
        let table: Vec<String> = {
            let mut v: Vec<String> = LAYERS.iter().map(|l| l.name.to_string()).collect();
            v.sort();
            v
        };
        assert_eq!(all, table);
    }

    #[test]
    fn argument_names_of_the_layer_being_typed() {
        assert_eq!(complete("8x8 -> conv(ou"), (12, vec!["out=".into()]));
        let (_, rest) = complete("8x8 -> conv(out=1, k=3, ");
        assert!(rest.contains(&"s=".to_string()) && !rest.contains(&"out=".to_string()));
        assert_eq!(
            complete("model m(x: 8x8) = maxpool(k=2, c"),
            (31, vec!["ceil=".into()])
        );
        // nothing from the table of another layer
        assert_eq!(complete("8x8 -> avgpool(d").1, Vec::<String>::new());
    }

    #[test]
    fn argument_values_by_type() {
        assert_eq!(
            complete("8x8 -> conv(out=1, k=3, bias=f").1,
            vec!["false".to_string()]
        );
        assert_eq!(
            complete("8x8 -> conv(out=1, k=3, p=").1,
            vec!["same".to_string(), "valid".to_string()]
        );
    }

    #[test]
    fn model_and_tensor_names() {
        assert_eq!(complete("summary l").1, vec!["lenet".to_string()]);
        assert_eq!(
            complete("print l").1,
            vec!["lenet", "let", "linear", "load", "lr_data"]
        );
        assert_eq!(complete("train t").1, vec!["tiny".to_string()]);
    }

    #[test]
    fn functions_and_methods_from_the_builtin_table() {
        assert_eq!(complete("let Y = ze").1, vec!["zeros".to_string()]);
        assert_eq!(complete("let Y = te").1, Vec::<String>::new());
        assert_eq!(complete("print X.su"), (8, vec!["sum".into()]));
        let (_, all) = complete("print ones(2x2).");
        assert_eq!(
            all,
            [
                "T", "argmax", "argmin", "flip", "float", "max", "mean", "min", "ndim", "numel",
                "permute", "reshape", "shape", "sum"
            ]
        );
        assert_eq!(complete("print lenet.").1, Vec::<String>::new());
    }

    #[test]
    fn meta_commands() {
        assert_eq!(complete(":mo"), (0, vec![":models".into()]));
        assert_eq!(complete(":help co").1, ["conv", "conv2d", "corr2d"]);
        assert!(matches!(spot(":load dir/fi", 12).1, Spot::Path));
        assert_eq!(complete(":").1.len(), META.len());
    }

    #[test]
    fn file_paths_after_load() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("net.cnn"), "").expect("write");
        let history = rustyline::history::DefaultHistory::new();
        let ctx = Context::new(&history);
        let line = format!(":load {}/ne", dir.path().display());
        let helper = ReplHelper::new(false);
        let (start, pairs) = helper
            .complete(&line, line.len(), &ctx)
            .expect("completion");
        assert_eq!(start, ":load ".len());
        let found: Vec<&str> = pairs.iter().map(|p| p.replacement.as_str()).collect();
        assert_eq!(found, vec![format!("{}/net.cnn", dir.path().display())]);
    }

    #[test]
    fn hints_list_the_free_arguments() {
        assert_eq!(
            args_hint("8x8 -> maxpool(", 15).as_deref(),
            Some("k, s=k, p=0, d=1, ceil=false")
        );
        assert_eq!(
            args_hint("8x8 -> linear(out=3,", 20).as_deref(),
            Some(" in, bias=true, init=default")
        );
        assert_eq!(args_hint("8x8 -> relu", 11), None);
        assert_eq!(args_hint("8x8 -> conv(o", 13), None);
    }

    #[test]
    fn hints_show_the_answer_of_a_valid_shape_question() {
        let q = "4x2x3x5 -> conv(out=3, k=3x5, p=1x2) -> maxpool(k=3, s=2x1, p=1)";
        assert_eq!(shape_hint(q, q.len()).as_deref(), Some("  → 4x3x2x5"));
        let q = "shape Nx1x28x28 -> conv(out=6, k=5)";
        assert_eq!(shape_hint(q, q.len()).as_deref(), Some("  → Nx6x24x24"));
        for no in [
            "8x8 -> conv(k=3)",
            "8x8 -> cnv(out=1, k=3)",
            "8x8 -> conv(out=1,",
            "explain 8x8 -> relu",
            "let X = ones(6x8)",
        ] {
            assert_eq!(shape_hint(no, no.len()), None, "{no}");
        }
        assert_eq!(shape_hint("8x8 -> relu", 3), None);
    }

    #[test]
    fn highlighting_keeps_the_text() {
        let line = "shape 8x8 -> conv(out=1, k=3) # q \"s\" @";
        let coloured = highlight_line(line);
        assert!(coloured.contains("\x1b[1;36mconv\x1b[0m"));
        assert!(coloured.contains("\x1b[1;33m8x8\x1b[0m"));
        let mut plain = String::new();
        let mut in_escape = false;
        for c in coloured.chars() {
            match c {
                '\x1b' => in_escape = true,
                'm' if in_escape => in_escape = false,
                _ if in_escape => {}
                _ => plain.push(c),
            }
        }
        assert_eq!(plain, line);
    }
}

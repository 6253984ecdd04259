//! `cnnscript repl`: statements as in a file, bare shape questions, meta
//! commands, with the checker's scope and the interpreter's environment
//! kept across entries.
//!
//! On a terminal the line editor highlights, completes, hints and continues
//! unfinished entries; with piped stdin the REPL reads entries line by line,
//! with no prompt and no colours. Answers go to stdout, diagnostics to stderr.

mod drive;
mod help;
pub mod helper;
pub mod lexer;

pub use drive::{continues, history_path, run, run_piped};
pub use help::{builtin_help, help_text, layer_help, MetaSpec, META};

use std::borrow::Cow;
use std::io::Write;
use std::path::PathBuf;

use miette::{Diagnostic, SourceSpan};
use thiserror::Error;

use crate::diag::{render, Style};
use crate::ir::builtins::BUILTINS;
use crate::ir::check::{check_stmts, Scope};
use crate::ir::error::{did_you_mean, CheckError};
use crate::ir::report;
use crate::layers::{layer_spec, LAYERS};
use crate::run::Output;
use crate::session::Source;
use crate::syntax::ast::{Span, Stmt};
use crate::syntax::parse::{parse_repl_line, parse_script};
use crate::value::Value;

/// The file name diagnostics give an entry typed at the prompt.
pub const REPL_FILE: &str = "<repl>";

/// An error of the REPL itself (a meta command, a file), drawn like the others.
#[derive(Debug, Error, Diagnostic)]
#[error("{message}")]
#[diagnostic(code(cnnscript::repl))]
struct ReplError {
    message: String,
    #[label("{label}")]
    span: Option<SourceSpan>,
    label: String,
    #[help]
    help: Option<String>,
}

impl ReplError {
    fn at(message: String, span: Span, label: &str, help: Option<String>) -> ReplError {
        ReplError {
            message,
            span: Some(span.into()),
            label: label.to_string(),
            help,
        }
    }
}

/// What became of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Answered (warnings, if any, printed).
    Done,
    /// An error was printed; the session state is as before the entry.
    Failed,
    /// `:quit`.
    Quit,
}

/// A REPL session: the names and models defined so far.
pub struct Session {
    scope: Scope,
    style: Style,
    interp: crate::run::Interp,
}

impl Session {
    /// An empty session; diagnostics are drawn in `style`.
    pub fn new(style: Style) -> Session {
        Session {
            scope: Scope::default(),
            style,
            interp: crate::run::Interp::new(),
        }
    }

    /// No progress bars while training (a notebook shows progress itself).
    pub fn without_progress_bars(mut self) -> Session {
        self.interp.progress = false;
        self
    }

    /// A checked model of the session.
    pub fn model(&self, name: &str) -> Option<&crate::ir::model::Model> {
        self.scope.models.get(name)
    }

    /// A tensor's current value.
    pub fn tensor(&self, name: &str) -> Option<&crate::value::Value> {
        self.interp.tensors.get(name)
    }

    /// Model names in declaration order.
    pub fn model_names(&self) -> Vec<String> {
        self.scope.model_order.clone()
    }

    /// Tensor names in definition order.
    pub fn tensor_names(&self) -> Vec<String> {
        self.scope.tensors.clone()
    }

    /// The names completion offers.
    pub fn names(&self) -> helper::Names {
        helper::Names {
            models: self.model_names(),
            tensors: self.tensor_names(),
        }
    }

    /// Handle one complete entry (one or more lines).
    pub fn entry(&mut self, text: &str, out: &mut dyn Output, err: &mut dyn Write) -> Outcome {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Outcome::Done;
        }
        if trimmed.starts_with(':') {
            return self.meta(text, out, err);
        }
        let bare = bare_name(text);
        let mut text = Cow::Borrowed(text);
        if let Some((name, span)) = bare {
            if let Some(model) = self.scope.models.get(name) {
                let _ = out.table(&report::summary_table(model));
                return Outcome::Done;
            }
            if self.scope.tensors.iter().any(|t| t == name) {
                // a tensor's name alone prints it, as `print NAME` would
                text = Cow::Owned(format!("print {name}"));
            } else if !crate::syntax::keywords::KEYWORDS.contains(&name) {
                let mut known = self.model_names();
                known.extend(self.tensor_names());
                let e = CheckError::unknown_name("model or tensor", name, span, &known);
                self.show(&e, REPL_FILE, &text, err);
                return Outcome::Failed;
            }
        }
        let script = match parse_repl_line(&text) {
            Ok(script) => script,
            Err(errors) => {
                if let Some((name, span)) = bare {
                    let mut known = self.model_names();
                    known.extend(self.tensor_names());
                    let e = CheckError::unknown_name("model or tensor", name, span, &known);
                    self.show(&e, REPL_FILE, &text, err);
                } else {
                    for e in &errors {
                        self.show(e, REPL_FILE, &text, err);
                    }
                }
                return Outcome::Failed;
            }
        };
        let src = Source {
            name: REPL_FILE.into(),
            text: text.into_owned(),
        };
        self.run_checked(&src, &script.stmts, out, err)
    }

    /// Check `stmts` against a copy of the scope; with no errors, keep the
    /// copy and execute them in order. A statement that fails at run time
    /// (or a Ctrl-C, at the next safe point) stops the rest, and the scope
    /// keeps only what ran before it.
    fn run_checked(
        &mut self,
        src: &Source,
        stmts: &[Stmt],
        out: &mut dyn Output,
        err: &mut dyn Write,
    ) -> Outcome {
        let mut scope = self.scope.clone();
        let checked = check_stmts(&mut scope, stmts);
        for d in &checked.diagnostics {
            self.show(d, &src.name, &src.text, err);
        }
        if checked.has_errors() {
            return Outcome::Failed;
        }
        let before = std::mem::replace(&mut self.scope, scope);
        // Ctrl-C stops the entry at a safe point and keeps the session
        let _region = crate::interrupt::Region::enter();
        for (i, (stmt, info)) in stmts.iter().zip(&checked.stmts).enumerate() {
            let ran = match crate::interrupt::check() {
                Ok(()) => self.interp.exec_stmt(stmt, info, out),
                Err(_) => Err(crate::run::error::RunError::interrupted(
                    "interrupted: the statements before this one ran, this one and the rest did not",
                    stmt.span,
                )),
            };
            if let Err(e) = ran {
                self.show(&e, &src.name, &src.text, err);
                let mut kept = before;
                check_stmts(&mut kept, &stmts[..i]);
                self.scope = kept;
                return Outcome::Failed;
            }
        }
        let _ = out.flush_output();
        Outcome::Done
    }

    fn show(&self, diag: &dyn Diagnostic, file: &str, text: &str, err: &mut dyn Write) {
        let _ = write!(err, "{}", render(diag, file, text, self.style));
        let _ = err.flush();
    }

    // ------------------------------------------------------------ meta commands

    fn meta(&mut self, text: &str, out: &mut dyn Output, err: &mut dyn Write) -> Outcome {
        let start = text.len() - text.trim_start().len();
        let line = text.trim();
        let (name, arg) = match line.find(char::is_whitespace) {
            Some(i) => (&line[..i], line[i..].trim()),
            None => (line, ""),
        };
        let name_span = Span::new(start, start + name.len());
        let arg_span = {
            let at = start + line.len() - arg.len();
            Span::new(at, at + arg.len())
        };
        let no_arg = |this: &Session, err: &mut dyn Write| {
            let e = ReplError::at(
                format!("`{name}` takes no argument"),
                arg_span,
                "not expected",
                Some(format!("write `{name}` alone")),
            );
            this.show(&e, REPL_FILE, text, err);
            Outcome::Failed
        };
        match name {
            ":help" | ":h" | ":?" => self.help(arg, arg_span, text, out, err),
            ":load" | ":l" => self.load(arg, arg_span, text, out, err),
            ":models" if arg.is_empty() => {
                let _ = write!(out, "{}", self.models_text());
                Outcome::Done
            }
            ":vars" if arg.is_empty() => {
                let _ = write!(out, "{}", self.vars_text());
                Outcome::Done
            }
            ":reset" if arg.is_empty() => {
                self.scope = Scope::default();
                let progress = self.interp.progress;
                self.interp = crate::run::Interp::new();
                self.interp.progress = progress;
                let _ = writeln!(out, "session cleared");
                Outcome::Done
            }
            ":quit" | ":q" | ":exit" if arg.is_empty() => Outcome::Quit,
            ":models" | ":vars" | ":reset" | ":quit" | ":q" | ":exit" => no_arg(self, err),
            _ => {
                let known = META.iter().map(|m| m.name);
                let help = match did_you_mean(name, known) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "the commands are {}",
                        META.iter().map(|m| m.name).collect::<Vec<_>>().join(", ")
                    ),
                };
                let e = ReplError::at(
                    format!("unknown command `{name}`"),
                    name_span,
                    "not a command",
                    Some(help),
                );
                self.show(&e, REPL_FILE, text, err);
                Outcome::Failed
            }
        }
    }

    /// `:vars`: each tensor with its shape and dtype, in definition order.
    pub fn vars_text(&self) -> String {
        let rows: Vec<[String; 3]> = self
            .scope
            .tensors
            .iter()
            .filter_map(|n| self.interp.tensors.get(n).map(|v| (n, v)))
            .map(|(name, v)| {
                let (shape, kind) = match v {
                    Value::Bundle(m) => (
                        format!("{} arrays", m.len()),
                        format!(
                            "bundle: {}",
                            m.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    ),
                    Value::Dims(_) | Value::Count(_) => (v.to_string(), v.type_name().to_string()),
                    t => (t.dims_string(), t.dtype_name().unwrap_or("").to_string()),
                };
                [name.clone(), shape, kind]
            })
            .collect();
        if rows.is_empty() {
            return "no tensors yet\n".into();
        }
        let w0 = rows.iter().map(|r| r[0].len()).max().unwrap_or(0);
        let w1 = rows.iter().map(|r| r[1].len()).max().unwrap_or(0);
        rows.iter()
            .map(|r| format!("{:w0$}  {:w1$}  {}\n", r[0], r[1], r[2]))
            .collect()
    }

    fn models_text(&self) -> String {
        if self.scope.model_order.is_empty() {
            return "no models yet\n".into();
        }
        let rows: Vec<[String; 3]> = self
            .scope
            .model_order
            .iter()
            .filter_map(|n| self.scope.models.get(n))
            .map(|m| {
                [
                    m.name.clone(),
                    format!("{} -> {}", m.input, m.output()),
                    format!("{} params", report::thousands(m.total_params())),
                ]
            })
            .collect();
        let w0 = rows.iter().map(|r| r[0].len()).max().unwrap_or(0);
        let w1 = rows.iter().map(|r| r[1].len()).max().unwrap_or(0);
        rows.iter()
            .map(|r| format!("{:w0$}  {:w1$}  {}\n", r[0], r[1], r[2]))
            .collect()
    }

    fn help(
        &self,
        topic: &str,
        topic_span: Span,
        text: &str,
        out: &mut dyn Output,
        err: &mut dyn Write,
    ) -> Outcome {
        if topic.is_empty() {
            let _ = write!(out, "{}", help_text());
            return Outcome::Done;
        }
        let builtin = BUILTINS
            .iter()
            .find(|b| b.name == topic.trim_start_matches('.'));
        match (layer_spec(topic), builtin) {
            (Some(layer), _) => {
                let _ = write!(out, "{}", layer_help(layer));
                Outcome::Done
            }
            (None, Some(spec)) => {
                let _ = write!(out, "{}", builtin_help(spec));
                Outcome::Done
            }
            (None, None) => {
                let names = LAYERS
                    .iter()
                    .map(|l| l.name)
                    .chain(BUILTINS.iter().map(|b| b.name));
                let help = match did_you_mean(topic, names) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "`:help` alone lists the layers and functions".to_string(),
                };
                let e = ReplError::at(
                    format!("no layer or function named `{topic}`"),
                    topic_span,
                    "not a layer or function",
                    Some(help),
                );
                self.show(&e, REPL_FILE, text, err);
                Outcome::Failed
            }
        }
    }

    /// `:load FILE`: parse and check the whole file against the session;
    /// on errors show them and change nothing, else run every statement.
    fn load(
        &mut self,
        arg: &str,
        arg_span: Span,
        text: &str,
        out: &mut dyn Output,
        err: &mut dyn Write,
    ) -> Outcome {
        if arg.is_empty() {
            let e = ReplError::at(
                "`:load` needs a file".into(),
                Span::new(arg_span.start, arg_span.start),
                "file name expected here",
                Some("write `:load net.cnn`".into()),
            );
            self.show(&e, REPL_FILE, text, err);
            return Outcome::Failed;
        }
        let path = expand_home(unquote(arg));
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) => {
                let e = ReplError::at(
                    format!("cannot read {}: {e}", path.display()),
                    arg_span,
                    "this file",
                    None,
                );
                self.show(&e, REPL_FILE, text, err);
                return Outcome::Failed;
            }
        };
        let src = match Source::from_bytes(path.display().to_string(), bytes) {
            Ok(src) => src,
            Err(bad) => {
                let (diag, shown) = *bad;
                self.show(&diag, &shown.name, &shown.text, err);
                return Outcome::Failed;
            }
        };
        let script = match parse_script(&src.text) {
            Ok(s) => s,
            Err(errors) => {
                for e in &errors {
                    self.show(e, &src.name, &src.text, err);
                }
                return Outcome::Failed;
            }
        };
        let outcome = self.run_checked(&src, &script.stmts, out, err);
        if outcome == Outcome::Done {
            let _ = writeln!(
                out,
                "loaded {} ({} statement{})",
                src.name,
                script.stmts.len(),
                if script.stmts.len() == 1 { "" } else { "s" }
            );
        }
        outcome
    }
}

/// The entry's only token when it is a name (`lenet`, `X  # input`).
fn bare_name(text: &str) -> Option<(&str, Span)> {
    let tokens: Vec<lexer::Lexeme> = lexer::lex(text)
        .into_iter()
        .filter(|t| t.token != lexer::Token::Comment)
        .collect();
    match tokens.as_slice() {
        [only] if only.token == lexer::Token::Ident => {
            Some((only.text(text), Span::new(only.start, only.end)))
        }
        _ => None,
    }
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(s)
}

fn expand_home(s: &str) -> PathBuf {
    match (s.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &str) -> (u8, String, String) {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let code = run_piped(input.as_bytes(), &mut out, &mut err);
        (
            code,
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        )
    }

    #[test]
    fn a_failed_entry_keeps_the_state() {
        let (code, out, err) = run("model m(x: 1x1x8x8) = conv(out=2, k=3)\n\
             model m(x: 1x1x8x8) = conv(out=2, k=30)\n\
             :models\n");
        assert_eq!(code, 1);
        assert!(out.contains("m  1x1x8x8 -> 1x2x6x6  20 params"), "{out}");
        assert!(err.contains("<repl>"), "{err}");
    }

    #[test]
    fn bare_expressions_print_their_value_and_vars_shows_shapes() {
        let (code, out, err) = run("let X = [[0.2, 0.7], [0.9, 0.1]]\n\
             X > 0.5\n\
             X.shape\n\
             X.argmax(dim=1)\n\
             model m(x: 2x2) = maxpool(k=2, s=1)\n\
             m(X)\n\
             let S = X.shape\n\
             let I = X.argmax(dim=1)\n\
             :vars\n");
        assert_eq!(code, 0, "{err}");
        // torch: X > 0.5 -> tensor([[False,  True], [ True, False]]); X.argmax(dim=1) -> tensor([1, 0])
        assert!(
            out.contains(
                "tensor([[False,  True],\n        [ True, False]])\n2x2\ntensor([1, 0])\n"
            ),
            "{out}"
        );
        assert!(out.contains("tensor([[[[0.9000]]]])"), "{out}");
        assert!(
            out.contains("X  2x2  float32\nS  2x2  shape\nI  2    int64\n"),
            "{out}"
        );
    }

    #[test]
    fn bare_names() {
        assert_eq!(bare_name(" lenet # net"), Some(("lenet", Span::new(1, 6))));
        assert_eq!(bare_name("_x1").map(|b| b.0), Some("_x1"));
        for not_bare in ["1x", "a b", "", "let", "6x8", "# x"] {
            assert_eq!(bare_name(not_bare), None, "{not_bare}");
        }
    }
}

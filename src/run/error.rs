//! Runtime diagnostics: every error points at the statement (or the part of
//! it) that caused it.

use miette::{Diagnostic, LabeledSpan};
use thiserror::Error;

use crate::syntax::ast::Span;

/// What a run error depends on besides the script's text. `check` exiting
/// 0 promises that `run` gets past every error of [`Depends::Script`]; the
/// others it cannot see (the fuzzer holds it to that, `src/bin/fuzz`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Depends {
    /// Nothing else: the checker could have found it.
    #[default]
    Script,
    /// The contents of files read, or the folder written to.
    Files,
    /// The memory guard's limit.
    Memory,
    /// Computed values (a loss that becomes NaN, a step that diverges).
    Values,
    /// Where the script runs (a picture without a file shows only in a notebook).
    FrontEnd,
}

/// An error while running a script.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{message}")]
pub struct RunError {
    pub message: String,
    pub span: Span,
    pub label: String,
    pub help: Option<String>,
    /// Further places that explain the error (the layer an `export` refuses).
    pub related: Vec<(Span, String)>,
    /// Stopped by Ctrl-C (`crate::interrupt`), not by a mistake: `run`
    /// exits 130 and the message says what state the model is in.
    pub interrupted: bool,
    /// What besides the script the error depends on.
    pub depends: Depends,
}

impl Diagnostic for RunError {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(if self.interrupted {
            "cnnscript::interrupted"
        } else {
            "cnnscript::run"
        }))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary = LabeledSpan::new_primary_with_span(Some(self.label.clone()), self.span);
        let related = self
            .related
            .iter()
            .map(|(span, label)| LabeledSpan::new_with_span(Some(label.clone()), *span));
        Some(Box::new(std::iter::once(primary).chain(related)))
    }
}

impl RunError {
    /// An error at `span` with a label saying what is wrong there.
    pub fn new(message: impl Into<String>, span: Span, label: impl Into<String>) -> Self {
        RunError {
            message: message.into(),
            span,
            label: label.into(),
            help: None,
            related: Vec::new(),
            interrupted: false,
            depends: Depends::Script,
        }
    }
    /// Say what besides the script the error depends on.
    pub fn depends(mut self, on: Depends) -> Self {
        self.depends = on;
        self
    }
    /// A statement stopped by Ctrl-C; `message` says what state it left.
    pub fn interrupted(message: impl Into<String>, span: Span) -> Self {
        RunError {
            interrupted: true,
            ..RunError::new(message, span, "interrupted here")
        }
    }
    /// Add a help line saying how to fix it.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    /// Point at another place with a label saying what it has to do with the error.
    pub fn also(mut self, span: Span, label: impl Into<String>) -> Self {
        self.related.push((span, label.into()));
        self
    }
    /// A shape rule of `crate::ir::feed` broken at `span`.
    pub fn feed(e: crate::ir::feed::FeedError, span: Span) -> Self {
        let r = RunError::new(e.message, span, e.label);
        match e.help {
            Some(h) => r.help(h),
            None => r,
        }
    }
    /// A file error (from `crate::io`) at the statement that touched the
    /// file; a refused allocation is labelled with what it was for (the
    /// tensor and its shape).
    pub fn io(err: &crate::io::IoError, span: Span) -> Self {
        use miette::Diagnostic as _;
        let help = err.help().map(|h| h.to_string());
        let label = match err {
            crate::io::IoError::OutOfMemory { what, .. } => what.clone(),
            _ => "this file".into(),
        };
        let depends = match err {
            crate::io::IoError::OutOfMemory { .. } => Depends::Memory,
            _ => Depends::Files,
        };
        RunError {
            message: err.to_string(),
            span,
            label,
            help,
            related: Vec::new(),
            interrupted: false,
            depends,
        }
    }

    /// A checker diagnostic met at run time (the same rule, judged again on real values).
    pub fn from_check(e: crate::ir::error::CheckError) -> Self {
        let help = e.help.as_deref().map(str::to_string);
        RunError {
            message: e.message,
            span: e.span,
            label: e.label,
            help,
            related: Vec::new(),
            interrupted: false,
            depends: Depends::Script,
        }
    }

    /// A tensor operation's error at the expression that asked for it.
    pub fn op(e: crate::tensor::OpError, span: Span) -> Self {
        use crate::tensor::OpError;
        match e {
            OpError::Shape(s) => RunError::new(s.message(), span, s.label()).help(s.help()),
            OpError::Dtype { message, help } => {
                RunError::new(message, span, "wrong dtype").help(help)
            }
            OpError::Alloc(io) => RunError::io(&io, span),
        }
    }
}

/// Result of a runtime operation.
pub type RunResult<T> = Result<T, RunError>;

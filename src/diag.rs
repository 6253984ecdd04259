//! Rendering diagnostics from any stage against the script text.

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, NamedSource};

use crate::syntax::ast::Span;

/// A machine-readable fix for a diagnostic: replace `span` (empty: insert
/// there) with `replacement`. Set beside the help line that describes it, so
/// editors offer it as a code action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fix {
    pub span: Span,
    pub replacement: String,
}

impl Fix {
    pub fn new(span: Span, replacement: impl Into<String>) -> Fix {
        Fix {
            span,
            replacement: replacement.into(),
        }
    }
}

/// How diagnostics are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Colours and Unicode boxes, for a terminal.
    Fancy,
    /// No colour (piped output, snapshots).
    Plain,
}

impl Style {
    /// Fancy on a terminal unless NO_COLOR is set; plain otherwise.
    pub fn for_stderr() -> Style {
        use std::io::IsTerminal;
        if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
            Style::Fancy
        } else {
            Style::Plain
        }
    }
}

/// A diagnostic with the script it points into.
#[derive(Debug, thiserror::Error)]
#[error("{inner}")]
struct WithSource<'a> {
    inner: &'a dyn Diagnostic,
    code: NamedSource<String>,
}

impl Diagnostic for WithSource<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.inner.code()
    }
    fn severity(&self) -> Option<miette::Severity> {
        self.inner.severity()
    }
    fn help<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.inner.help()
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.inner.labels()
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.code)
    }
}

/// Render one diagnostic against `src` (named `file`).
pub fn render(diag: &dyn Diagnostic, file: &str, src: &str, style: Style) -> String {
    let theme = match style {
        Style::Fancy => GraphicalTheme::unicode(),
        Style::Plain => GraphicalTheme::unicode_nocolor(),
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false);
    let wrapped = WithSource {
        inner: diag,
        code: NamedSource::new(file, src.to_string()),
    };
    let mut out = String::new();
    if handler.render_report(&mut out, &wrapped).is_err() {
        out = format!("error: {diag}\n");
    }
    out
}

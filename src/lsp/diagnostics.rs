//! miette diagnostics (syntax and checker, exactly as `check` reports them)
//! as LSP diagnostics: the primary label's span becomes the range, its text
//! and the help line join the message, other labels become related information.

use lsp_types::{
    Diagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, DiagnosticTag, Location,
    NumberOrString, Uri,
};
use miette::{LabeledSpan, Severity};

use super::analysis::{Analysis, Problem};
use crate::syntax::ast::Span;

/// Every diagnostic of a document.
pub fn diagnostics(an: &Analysis, uri: &Uri) -> Vec<Diagnostic> {
    an.problems().iter().map(|p| convert(an, uri, p)).collect()
}

fn span_of(label: &LabeledSpan) -> Span {
    Span::new(label.offset(), label.offset() + label.len())
}

/// The span a problem is reported at: its primary label (else its first).
pub fn primary_span(p: &Problem) -> Span {
    let labels: Vec<LabeledSpan> = p.diag.labels().map(Iterator::collect).unwrap_or_default();
    labels
        .iter()
        .find(|l| l.primary())
        .or(labels.first())
        .map(span_of)
        .unwrap_or_default()
}

/// One problem as an LSP diagnostic.
pub fn convert(an: &Analysis, uri: &Uri, p: &Problem) -> Diagnostic {
    let d = p.diag;
    let labels: Vec<LabeledSpan> = d.labels().map(Iterator::collect).unwrap_or_default();
    let primary = labels
        .iter()
        .position(|l| l.primary())
        .or((!labels.is_empty()).then_some(0));
    let mut message = d.to_string();
    if let Some(text) = primary.and_then(|i| labels[i].label()) {
        message.push('\n');
        message.push_str(text);
    }
    if let Some(help) = d.help() {
        message.push_str(&format!("\nhelp: {help}"));
    }
    let related: Vec<DiagnosticRelatedInformation> = labels
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != primary)
        .map(|(_, l)| DiagnosticRelatedInformation {
            location: Location::new(uri.clone(), an.range(span_of(l))),
            message: l.label().unwrap_or("here").to_string(),
        })
        .collect();
    let severity = match d.severity() {
        Some(Severity::Warning) => DiagnosticSeverity::WARNING,
        Some(Severity::Advice) => DiagnosticSeverity::HINT,
        Some(Severity::Error) | None => DiagnosticSeverity::ERROR,
    };
    let code = d.code().map(|c| c.to_string());
    let unused = code.as_deref() == Some("cnnscript::unused");
    Diagnostic {
        range: an.range(primary_span(p)),
        severity: Some(severity),
        code: code.map(NumberOrString::String),
        source: Some("cnnscript".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: unused.then(|| vec![DiagnosticTag::UNNECESSARY]),
        ..Diagnostic::default()
    }
}

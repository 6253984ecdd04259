//! One version of a document, parsed and checked by the same front end as
//! `cnnscript check`. Every request reads an `Analysis`; a change builds a new one.

use std::collections::HashMap;

use miette::Diagnostic;

use super::lines::LineIndex;
use crate::diag::Fix;
use crate::ir::check::{check_chain_question, check_model, check_script, Checked};
use crate::ir::model::{Layer, Model, Node};
use crate::syntax::ast::{ModelDecl, Script, Span, StmtKind};
use crate::syntax::error::SyntaxError;
use crate::syntax::parse::parse_script_recovering;

/// A document's text with everything the checker knows about it.
pub struct Analysis {
    pub text: String,
    pub lines: LineIndex,
    /// The script; with syntax errors, the script without its broken lines.
    pub script: Option<Script>,
    pub syntax: Vec<SyntaxError>,
    /// The checker's findings on `script`.
    pub checked: Checked,
    /// Checked `shape` questions, by statement index.
    chains: HashMap<usize, Model>,
    /// Models with an error: the part before it, checked, by statement index.
    partial: HashMap<usize, Model>,
}

/// One diagnostic as `check` reports it, with its fix when it has one.
pub struct Problem<'a> {
    pub diag: &'a dyn Diagnostic,
    pub fix: Option<&'a Fix>,
}

impl Analysis {
    pub fn new(text: String) -> Analysis {
        let lines = LineIndex::new(&text);
        let (script, syntax) = parse_script_recovering(&text);
        let checked = script.as_ref().map(check_script).unwrap_or_default();
        let mut chains = HashMap::new();
        let mut partial = HashMap::new();
        for (i, stmt) in script.iter().flat_map(|s| s.stmts.iter()).enumerate() {
            match &stmt.kind {
                StmtKind::Shape { input, layers, .. } => {
                    if let Ok(model) = check_chain_question(input, layers) {
                        chains.insert(i, model);
                    }
                }
                StmtKind::Model(decl)
                    if checked.stmts.get(i).is_some_and(|s| s.model.is_none()) =>
                {
                    if let Some(model) = before_first_error(decl, &checked) {
                        partial.insert(i, model);
                    }
                }
                _ => {}
            }
        }
        Analysis {
            text,
            lines,
            script,
            syntax,
            checked,
            chains,
            partial,
        }
    }

    /// What `check` prints: the syntax errors when there are any (the
    /// checker never runs then), else the checker's errors and warnings.
    pub fn problems(&self) -> Vec<Problem<'_>> {
        if !self.syntax.is_empty() {
            return self
                .syntax
                .iter()
                .map(|e| Problem {
                    diag: e,
                    fix: e.fix.as_ref(),
                })
                .collect();
        }
        self.checked
            .diagnostics
            .iter()
            .map(|e| Problem {
                diag: e,
                fix: e.fix_edit(),
            })
            .collect()
    }

    /// The checked model of statement `stmt`: a model declaration or a `shape` question.
    pub fn model(&self, stmt: usize) -> Option<&Model> {
        self.checked
            .stmts
            .get(stmt)
            .and_then(|s| s.model.as_ref())
            .or_else(|| self.chains.get(&stmt))
    }

    /// The shapes known in statement `stmt`: its checked model, or for a
    /// model with an error, the layers before the error.
    pub fn shapes(&self, stmt: usize) -> Option<&Model> {
        self.model(stmt).or_else(|| self.partial.get(&stmt))
    }

    /// The checked layer written at `call` in statement `stmt`.
    pub fn layer(&self, stmt: usize, call: Span) -> Option<(&Model, &Node, &Layer)> {
        let model = self.shapes(stmt)?;
        model
            .layers()
            .find(|(_, l)| l.span == call)
            .map(|(n, l)| (model, n, l))
    }

    /// Every statement's shapes (see [`Analysis::shapes`]).
    pub fn all_shapes(&self) -> impl Iterator<Item = (usize, &Model)> {
        let n = self.script.as_ref().map_or(0, |s| s.stmts.len());
        (0..n).filter_map(|i| self.shapes(i).map(|m| (i, m)))
    }

    pub fn range(&self, span: Span) -> lsp_types::Range {
        self.lines.range(&self.text, span)
    }

    pub fn offset(&self, pos: lsp_types::Position) -> usize {
        self.lines.offset(&self.text, pos)
    }
}

/// A model declaration that failed, cut before its first error and checked
/// again, so the layers above the error keep their shapes in the editor.
fn before_first_error(decl: &ModelDecl, checked: &Checked) -> Option<Model> {
    let first = checked
        .diagnostics
        .iter()
        .filter(|d| !d.warning && decl.span.start <= d.span.start && d.span.end <= decl.span.end)
        .map(|d| d.span.start)
        .min()?;
    let mut cut = decl.clone();
    cut.lines.retain(|l| l.span.start < first);
    for line in &mut cut.lines {
        line.layers.retain(|c| c.span.end <= first);
    }
    // a binding line whose source holds the error goes too
    cut.lines
        .retain(|l| l.source.as_ref().is_none_or(|s| s.span().end <= first));
    if cut
        .lines
        .iter()
        .all(|l| l.layers.is_empty() && l.bind.is_none())
    {
        return None;
    }
    check_model(&cut).ok().map(|(model, _)| model)
}

//! One version of a document, parsed and checked by the same front end as
//! `cnnscript check`. Every request reads an `Analysis`; a change builds a new one.

use std::collections::HashMap;

use miette::Diagnostic;

use super::lines::LineIndex;
use crate::diag::Fix;
use crate::ir::check::{check_chain_question, check_script, Checked};
use crate::ir::model::{Layer, Model, Node};
use crate::syntax::ast::{Script, Span, StmtKind};
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
        for (i, stmt) in script.iter().flat_map(|s| s.stmts.iter()).enumerate() {
            if let StmtKind::Shape { input, layers, .. } = &stmt.kind {
                if let Ok(model) = check_chain_question(input, layers) {
                    chains.insert(i, model);
                }
            }
        }
        Analysis {
            text,
            lines,
            script,
            syntax,
            checked,
            chains,
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

    /// The checked layer written at `call` in statement `stmt`.
    pub fn layer(&self, stmt: usize, call: Span) -> Option<(&Model, &Node, &Layer)> {
        let model = self.model(stmt)?;
        model
            .layers()
            .find(|(_, l)| l.span == call)
            .map(|(n, l)| (model, n, l))
    }

    /// Every checked model (declarations and `shape` questions) with its statement.
    pub fn models(&self) -> impl Iterator<Item = (usize, &Model)> {
        let n = self.script.as_ref().map_or(0, |s| s.stmts.len());
        (0..n).filter_map(|i| self.model(i).map(|m| (i, m)))
    }

    pub fn range(&self, span: Span) -> lsp_types::Range {
        self.lines.range(&self.text, span)
    }

    pub fn offset(&self, pos: lsp_types::Position) -> usize {
        self.lines.offset(&self.text, pos)
    }
}

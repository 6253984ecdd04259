//! The open documents: their text as the editor has it (full or
//! incremental changes applied), and the analysis of the latest version,
//! built once and only when something asks for it.

use std::rc::Rc;

use lsp_types::TextDocumentContentChangeEvent;

use super::analysis::Analysis;
use super::lines::LineIndex;

/// One open document.
pub struct Document {
    pub version: i32,
    text: String,
    analysis: Option<Rc<Analysis>>,
}

impl Document {
    pub fn new(text: String, version: i32) -> Document {
        Document {
            version,
            text,
            analysis: None,
        }
    }

    /// Apply the editor's changes, in order.
    pub fn change(&mut self, version: i32, changes: Vec<TextDocumentContentChangeEvent>) {
        for change in changes {
            match change.range {
                Some(range) => {
                    let span = LineIndex::new(&self.text).span(&self.text, range);
                    self.text.replace_range(span.start..span.end, &change.text);
                }
                None => self.text = change.text,
            }
        }
        self.version = version;
        self.analysis = None;
    }

    /// The analysis of the current text.
    pub fn analysis(&mut self) -> Rc<Analysis> {
        if let Some(a) = &self.analysis {
            return a.clone();
        }
        let a = Rc::new(Analysis::new(self.text.clone()));
        self.analysis = Some(a.clone());
        a
    }

    /// Forget the analysis (after a request panicked while reading it).
    pub fn forget_analysis(&mut self) {
        self.analysis = None;
    }
}

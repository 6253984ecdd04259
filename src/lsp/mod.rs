//! `cnnscript lsp`: a Language Server Protocol server over stdio. It runs
//! the same parser and checker as `cnnscript check` on every open document
//! and answers from what they found: diagnostics, shapes as inlay hints,
//! hover, completion, definitions, outline, semantic tokens, formatting
//! (`cnnscript fmt`'s layout) and quick fixes.

mod analysis;
mod capabilities;
mod completion;
mod diagnostics;
mod documents;
mod edits;
#[cfg(test)]
mod fix_tests;
mod handlers;
mod hints;
mod hover;
mod index;
mod lines;
mod navigation;
mod semantic;
mod server;
mod table;
#[cfg(test)]
mod tests;
pub mod transport;

pub use server::{serve, Ending};

/// What hovering over byte `offset` of a script shows in an editor
/// (Markdown), if anything; a notebook's inspector asks this too.
pub fn hover_at(text: &str, offset: usize) -> Option<String> {
    let an = analysis::Analysis::new(text.to_string());
    let pos = an.lines.position(&an.text, offset);
    match hover::hover(&an, pos)?.contents {
        lsp_types::HoverContents::Markup(m) => Some(m.value),
        _ => None,
    }
}

/// `cnnscript lsp`: serve the editor on stdin/stdout until it says `exit`.
/// Exit status 0 after `shutdown` then `exit`, 1 otherwise.
pub fn run() -> u8 {
    let (conn, io) = transport::stdio();
    let ending = serve(&conn);
    // serve returns after the reader stopped (exit, or end of input);
    // dropping our end lets the writer finish too
    drop(conn);
    if let Err(e) = io.join() {
        eprintln!("cnnscript lsp: {e}");
        return crate::session::EXIT_SCRIPT;
    }
    match ending {
        Ending::Clean => 0,
        Ending::Abrupt => crate::session::EXIT_SCRIPT,
    }
}

//! Where a running script's results go. The command line and the REPL
//! write text to a stream (any [`std::io::Write`] is an [`Output`]); the
//! notebook kernel draws tables and pictures and updates one display while
//! a model trains.

use std::fmt;
use std::io;

use crate::ir::report::Table;

/// What a `train` statement reports as it goes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Progress {
    /// Training begins: `total` steps (full batch) or batches (epochs).
    Start { total: usize, unit: &'static str },
    /// `done` of them are finished; the loss of the last one (for epochs,
    /// the epoch's running mean).
    Step {
        done: usize,
        epoch: Option<usize>,
        loss: f64,
    },
    /// Training ended normally.
    Finish,
}

/// A sink for results: text as `print` writes it, answer tables, PNG
/// pictures and training progress. Only `text` is required; the others
/// fall back to text or to nothing.
pub trait Output {
    /// Text, in whole lines.
    fn text(&mut self, text: &str) -> io::Result<()>;

    /// A `summary` or `shape` answer.
    fn table(&mut self, table: &Table) -> io::Result<()> {
        self.text(&table.text)
    }

    /// A picture `plot` or `show` drew (it is also written to its file).
    fn image(&mut self, _png: &[u8]) -> io::Result<()> {
        Ok(())
    }

    /// Whether pictures are shown (`plot` and `show` then need no file).
    fn shows_pictures(&self) -> bool {
        false
    }

    /// Training progress; lines `train` prints meanwhile still come as text.
    fn progress(&mut self, _progress: Progress) -> io::Result<()> {
        Ok(())
    }

    /// So that `write!`/`writeln!` work on an `Output`.
    fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> io::Result<()> {
        match args.as_str() {
            Some(s) => self.text(s),
            None => self.text(&args.to_string()),
        }
    }

    /// Send pending text on (a stream is flushed).
    fn flush_output(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: io::Write + ?Sized> Output for W {
    fn text(&mut self, text: &str) -> io::Result<()> {
        self.write_all(text.as_bytes())
    }

    fn flush_output(&mut self) -> io::Result<()> {
        self.flush()
    }
}

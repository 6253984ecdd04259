//! The interpreter: environment, autograd tape, optimizers, training, files.

use crate::cli::Source;
use crate::ir::check::Checked;
use crate::syntax::ast::Script;

/// Execute a checked script, printing results; returns the exit status.
pub fn run_checked(src: &Source, script: &Script, checked: &Checked) -> u8 {
    let _ = (src, script, checked);
    eprintln!("`run` is not built yet");
    1
}

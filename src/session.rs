//! What the command line, the interpreter and the REPL share: a script's
//! text with its display name, and the exit statuses.

/// Exit status for a script error.
pub const EXIT_SCRIPT: u8 = 1;
/// Exit status for a usage error.
pub const EXIT_USAGE: u8 = 2;

/// A script's text and the name diagnostics give it (a path, or `<repl>`).
pub struct Source {
    pub name: String,
    pub text: String,
}

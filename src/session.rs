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

/// A script that is not UTF-8: the first byte that is not, and where it is.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error(
    "{file} is not UTF-8 text: byte 0x{byte:02X} at line {line}, column {column} (byte offset {offset})"
)]
#[diagnostic(
    code(cnnscript::encoding),
    help("scripts are UTF-8: convert the file (e.g. `iconv -t UTF-8`) or remove the byte")
)]
pub struct NotUtf8 {
    pub file: String,
    pub byte: u8,
    pub line: usize,
    pub column: usize,
    pub offset: usize,
    /// The bad byte in the text shown with the diagnostic (it reads as U+FFFD there).
    #[label("not UTF-8")]
    pub span: crate::syntax::ast::Span,
}

impl Source {
    /// A script from its bytes. A byte that is not UTF-8 is an error naming
    /// its line, column and offset, with the text to show it in (bad bytes
    /// replaced by U+FFFD).
    pub fn from_bytes(name: String, bytes: Vec<u8>) -> Result<Source, Box<(NotUtf8, Source)>> {
        let err = match String::from_utf8(bytes) {
            Ok(text) => return Ok(Source { name, text }),
            Err(e) => e,
        };
        let offset = err.utf8_error().valid_up_to();
        let bytes = err.as_bytes();
        let line_start = bytes[..offset]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let diag = NotUtf8 {
            file: name.clone(),
            byte: bytes[offset],
            line: 1 + bytes[..offset].iter().filter(|b| **b == b'\n').count(),
            column: 1 + offset - line_start,
            offset,
            span: crate::syntax::ast::Span::new(
                offset,
                offset + char::REPLACEMENT_CHARACTER.len_utf8(),
            ),
        };
        let text = String::from_utf8_lossy(bytes).into_owned();
        Err(Box::new((diag, Source { name, text })))
    }
}

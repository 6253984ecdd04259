//! What a statement's file name says before anything runs: a format
//! cnnscript reads and writes (`io::check_name`), PNG for pictures.

use std::path::Path;

use crate::io::{check_name, Holds};
use crate::ir::error::CheckError;
use crate::syntax::ast::StrLit;

/// A file name whose extension cannot hold what the statement reads or writes.
pub fn file_name(path: &StrLit, holds: Holds) -> Option<CheckError> {
    let e = check_name(Path::new(&path.value), holds).err()?;
    let help = miette::Diagnostic::help(&e).map_or_else(String::new, |h| h.to_string());
    Some(CheckError::bad_value(
        e.to_string(),
        path.span,
        "not this kind of file",
        help,
    ))
}

/// `plot` and `show` write PNG images.
pub fn png_name(path: &StrLit, what: &str) -> Option<CheckError> {
    let is_png = Path::new(&path.value)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    (!is_png).then(|| {
        CheckError::bad_value(
            format!(
                "`{what}` writes PNG images, but \"{}\" does not end in .png",
                path.value
            ),
            path.span,
            "not a .png name",
            format!("name the file with .png, e.g. `{what} ... \"picture.png\"`"),
        )
    })
}

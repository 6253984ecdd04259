//! What `save`, `load`, `plot` and `show` can be given, known before
//! anything runs: a format cnnscript reads and writes (`io::check_name`),
//! PNG for pictures, a tensor `show` can draw.

use std::path::Path;

use crate::io::{check_name, Holds};
use crate::ir::error::CheckError;
use crate::syntax::ast::{Span, StrLit};

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

/// `show m`: a model is not a tensor (the interpreter says the same).
pub fn shown_model(name: &str, span: Span) -> CheckError {
    CheckError::other(
        "show_model",
        format!("`{name}` is a model; `show` draws a tensor"),
        span,
        "a model",
        format!("show its kernels with `show {name}.0.weight`, or feature maps with `show {name}[0:2](X[0:1])`"),
    )
}

/// `show X` with `X` of a known shape `show` cannot draw.
pub fn undrawable(shape: &[usize], span: Span) -> Option<CheckError> {
    let message = crate::picture::grid::drawable(shape).err()?;
    Some(CheckError::other(
        "show_shape",
        message,
        span,
        "cannot draw this",
        "show a vector, a HxW map, CxHxW channels or NxCxHxW feature maps".into(),
    ))
}

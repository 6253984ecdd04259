//! The pest parser generated from grammar/cnnscript.pest; its `Rule`s are
//! read by the lowering (`parse`) and by the error messages (`error`).

use pest_derive::Parser;

/// The generated parser.
#[derive(Parser)]
#[grammar = "../grammar/cnnscript.pest"]
pub struct CnnParser;

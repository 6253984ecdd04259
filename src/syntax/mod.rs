//! Surface syntax: the pest grammar (grammar/cnnscript.pest) and the AST.

pub mod ast;
pub mod error;
pub mod grammar;
mod habits;
pub mod keywords;
pub mod parse;
pub mod visit;

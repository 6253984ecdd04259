//! cnnscript: a small language, checker and interpreter for convolutional networks.

pub mod cli;
pub mod diag;
pub mod diff;
pub mod fmt;
pub mod io;
pub mod ir;
pub mod lsp;
pub mod ops;
pub mod repl;
pub mod run;
pub mod snapshot;
pub mod syntax;
pub mod value;

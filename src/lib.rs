//! cnnscript: a small language, checker and interpreter for convolutional networks.

pub mod cli;
pub mod diag;
pub mod diff;
pub mod export;
pub mod fmt;
pub mod interrupt;
pub mod io;
pub mod ir;
pub mod kernel;
pub mod layers;
pub mod lsp;
pub mod ops;
pub mod picture;
pub mod repl;
pub mod run;
pub mod session;
pub mod snapshot;
pub mod syntax;
pub mod tensor;
pub mod value;

//! cnnscript: a small language, checker and interpreter for convolutional networks.

pub mod cli;
pub mod diag;
pub mod export;
pub mod io;
pub mod ir;
pub mod ops;
pub mod repl;
pub mod run;
pub mod syntax;
pub mod value;

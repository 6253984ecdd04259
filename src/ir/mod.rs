//! Typed IR: lowering from the AST, shape inference, parameter counts and
//! receptive fields. Nothing here allocates a tensor.

pub mod assert;
pub mod builtins;
pub mod check;
pub mod dot;
pub mod error;
pub mod feed;
pub mod infer;
pub mod layer_fn;
pub mod model;
pub mod report;
pub mod shape;
pub mod sizes;
pub mod train_options;
pub mod value_shape;

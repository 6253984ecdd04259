//! Typed IR: lowering from the AST, shape inference, parameter counts and
//! receptive fields. Nothing here allocates a tensor.

pub mod layer;
pub mod model;
pub mod shape;

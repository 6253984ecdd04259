//! Models out of cnnscript: ONNX files (`export MODEL "file.onnx"`,
//! `cnnscript export FILE --onnx OUT`).

pub mod onnx;

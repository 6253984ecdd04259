//! Models and scripts out of cnnscript: ONNX files (`export MODEL "file.onnx"`,
//! `cnnscript export FILE --onnx OUT`) and whole scripts as PyTorch projects
//! (`cnnscript export FILE --torch DIR`).

pub mod onnx;
pub mod torch;

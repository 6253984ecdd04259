//! Models and scripts leaving cnnscript: a PyTorch project (`--torch`).

pub mod torch;

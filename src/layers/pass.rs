//! What a forward or backward pass hands one layer: its input and output
//! buffers, the model's tensors with the indices of the layer's own, and
//! whether it is training.

use super::tensors::Param;

/// Whether layers behave as in training (dropout drops, batchnorm uses batch
/// statistics and updates its running ones) or as PyTorch's `eval()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Train,
    Eval,
}

/// A tensor on the tape: shape and contiguous row-major data.
#[derive(Clone, Debug, Default)]
pub struct Buf {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Buf {
    /// Give the buffer `shape`, reusing its storage. No zeroing: every
    /// forward op overwrites its whole output.
    pub fn reshape(&mut self, shape: &[usize]) {
        let len: usize = shape.iter().product();
        self.shape.clear();
        self.shape.extend_from_slice(shape);
        self.data.resize(len, 0.0);
    }
}

/// A shape error found while running (the batch or a symbolic size differs
/// from what was checked and a window no longer fits).
pub type ForwardError = String;

/// One layer's forward: read `x`, shape and fill `y`.
pub struct Forward<'a> {
    pub x: &'a Buf,
    pub y: &'a mut Buf,
    /// Every tensor of the model; the layer's own are `params[ids[i]]`, in
    /// `LayerKind::tensors` order.
    pub params: &'a mut [Param],
    pub ids: &'a [usize],
    pub mode: Mode,
    /// Whether the pass may be cut short on a Ctrl-C (training): a long
    /// layer may then stop early, its output unfinished (see `run::tape`).
    pub cut_short: bool,
}

/// One layer's backward: accumulate (`+=`) into `dx` (or write it, when
/// `overwrite_dx`) and into the gradients of the layer's tensors.
pub struct Backward<'a> {
    pub x: &'a Buf,
    pub y: &'a Buf,
    pub dy: &'a [f32],
    /// dLoss/dx; `None` when the input needs no gradient (the model input).
    pub dx: Option<&'a mut [f32]>,
    /// `dx` holds stale values: write every element instead of adding. Set
    /// only for kinds whose `LayerKind::overwrites_dx` is true.
    pub overwrite_dx: bool,
    pub params: &'a mut [Param],
    pub ids: &'a [usize],
    /// As [`Forward::cut_short`]; the gradients are then unfinished.
    pub cut_short: bool,
}

/// `layer` needs an NCHW input.
pub fn need_4d(layer: &str, shape: &[usize]) -> Result<(), ForwardError> {
    if shape.len() == 4 {
        Ok(())
    } else {
        Err(format!(
            "`{layer}` needs a 4-D input, got {}",
            crate::value::dims_string(shape)
        ))
    }
}

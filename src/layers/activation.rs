//! Elementwise layers, any rank, shape unchanged: `relu`, `sigmoid`,
//! `tanh`, `dropout`; and `softmax` over dim 1.

use rand::Rng;

use super::args::{ArgDefault, ArgSpec, ArgType, ArgsText, InputRank, LayerSpec, Range, Val};
use super::call::Args;
use super::export::{py_float, OnnxAttr, OnnxInput, OnnxMapping, OnnxNode, TorchModule};
use super::pass::{Backward, Forward, Mode};
use super::{LayerInput, LayerKind, Lowered};
use crate::ir::error::CheckError;
use crate::ops::activation as act;

/// An elementwise layer without arguments.
const fn plain(name: &'static str, help: &'static str, lower: super::args::Lower) -> LayerSpec {
    LayerSpec {
        name,
        help,
        example: name,
        input: InputRank::Any,
        lower,
        args: &[],
    }
}

pub const RELU: LayerSpec = plain("relu", "max(0, x)", |_, at| Ok(same(LayerKind::Relu, at)));
pub const SIGMOID: LayerSpec = plain("sigmoid", "1 / (1 + exp(-x))", |_, at| {
    Ok(same(LayerKind::Sigmoid, at))
});
pub const TANH: LayerSpec = plain("tanh", "hyperbolic tangent", |_, at| {
    Ok(same(LayerKind::Tanh, at))
});
pub const SOFTMAX: LayerSpec = plain("softmax", "softmax over dim 1", lower_softmax);

pub const DROPOUT: LayerSpec = LayerSpec {
    name: "dropout",
    help: "zero elements with probability p while training",
    example: "dropout(p=0.5)",
    input: InputRank::Any,
    lower: lower_dropout,
    args: &[ArgSpec::new(
        "p",
        ArgType::Real,
        ArgDefault::real(0.5),
        "drop probability",
    )
    .within(Range::Probability)],
};

/// The input's shape and receptive field, unchanged.
fn same(kind: LayerKind, at: &LayerInput) -> Lowered {
    Lowered {
        kind,
        out_shape: at.shape.clone(),
        params: 0,
        macs: Some(0),
        rf: at.rf,
    }
}

fn lower_softmax(args: &Args, at: &LayerInput) -> Result<Lowered, Vec<CheckError>> {
    args.need_rank_at_least(at, 2, "a rank-2 or higher")?;
    Ok(same(LayerKind::Softmax, at))
}

fn lower_dropout(args: &Args, at: &LayerInput) -> Result<Lowered, Vec<CheckError>> {
    let p = args.real("p")?;
    Ok(same(LayerKind::Dropout { p }, at))
}

/// `dropout` always shows its probability, default or not.
pub(super) fn dropout_text(p: f64, t: &mut ArgsText) {
    t.always("p", Val::Real(p));
}

/// An elementwise function with its derivative, written in terms of the
/// output `y` (backward reads `y`, not `x`), and its ONNX operator and
/// PyTorch module.
pub(super) struct Elementwise {
    forward: fn(&[f32], &mut [f32]),
    backward: fn(&[f32], &[f32], &mut [f32], bool),
    onnx: &'static str,
    torch: &'static str,
}

pub(super) const RELU_FN: Elementwise = Elementwise {
    forward: act::relu_forward,
    backward: act::relu_backward,
    onnx: "Relu",
    torch: "nn.ReLU",
};
pub(super) const SIGMOID_FN: Elementwise = Elementwise {
    forward: act::sigmoid_forward,
    backward: act::sigmoid_backward,
    onnx: "Sigmoid",
    torch: "nn.Sigmoid",
};
pub(super) const TANH_FN: Elementwise = Elementwise {
    forward: act::tanh_forward,
    backward: act::tanh_backward,
    onnx: "Tanh",
    torch: "nn.Tanh",
};

impl Elementwise {
    pub(super) fn forward(&self, cx: Forward<'_>) {
        cx.y.reshape(&cx.x.shape);
        (self.forward)(&cx.x.data, &mut cx.y.data);
    }
    pub(super) fn backward(&self, cx: Backward<'_>) {
        if let Some(dx) = cx.dx {
            (self.backward)(&cx.y.data, cx.dy, dx, cx.overwrite_dx);
        }
    }
    /// The ONNX operator of the same name (`Relu`...).
    pub(super) fn onnx(&self) -> OnnxMapping {
        Ok(vec![OnnxNode::new(self.onnx, vec![OnnxInput::Input])])
    }
    /// `nn.ReLU()`...
    pub(super) fn torch(&self) -> TorchModule {
        TorchModule::nn(self.torch, vec![])
    }
}

/// `softmax` → `Softmax(axis=1)`: from opset 13 on, over dim 1 alone, whatever the rank.
pub(super) fn softmax_onnx() -> OnnxMapping {
    Ok(vec![
        OnnxNode::new("Softmax", vec![OnnxInput::Input]).attr("axis", OnnxAttr::Int(1))
    ])
}

/// Softmax over dim 1 (classes, or channels).
pub(super) fn softmax_torch() -> TorchModule {
    TorchModule::nn("nn.Softmax", vec!["dim=1".into()])
}

/// `dropout` is the identity outside training: no node, the input flows on.
pub(super) fn dropout_onnx() -> OnnxMapping {
    Ok(vec![])
}

pub(super) fn dropout_torch(p: f64) -> TorchModule {
    TorchModule::nn("nn.Dropout", vec![py_float(p)])
}

pub(super) fn softmax_forward(cx: Forward<'_>) {
    let s = &cx.x.shape;
    cx.y.reshape(s);
    let inner: usize = s[2..].iter().product();
    act::softmax_forward(s[0], s[1], inner, &cx.x.data, &mut cx.y.data);
}

pub(super) fn softmax_backward(cx: Backward<'_>) {
    if let Some(dx) = cx.dx {
        let s = &cx.y.shape;
        let inner: usize = s[2..].iter().product();
        act::softmax_backward(s[0], s[1], inner, &cx.y.data, cx.dy, dx);
    }
}

/// Dropout forward: in training, a fresh mask (0 or 1/(1−p)) kept for
/// backward; otherwise the identity, with a mask of ones.
pub(super) fn dropout_forward(p: f64, cx: Forward<'_>, rng: &mut impl Rng, mask: &mut Vec<f32>) {
    cx.y.reshape(&cx.x.shape);
    let (x, y) = (&cx.x.data, &mut cx.y.data);
    mask.clear();
    if cx.mode == Mode::Train && p > 0.0 {
        mask.resize(x.len(), 0.0);
        act::dropout_forward(x, y, mask, p as f32, rng);
    } else {
        mask.resize(x.len(), 1.0);
        y.copy_from_slice(x);
    }
}

pub(super) fn dropout_backward(cx: Backward<'_>, mask: &[f32]) {
    if let Some(dx) = cx.dx {
        act::dropout_backward(mask, cx.dy, dx);
    }
}

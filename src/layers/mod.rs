//! Layer kinds, one module per family. A module holds its kinds' whole
//! story: typed arguments with their defaults (its [`LayerSpec`], the one
//! table the checker, `:help`, completion, reports and exporters read),
//! lowering from a call to the kind with its output shape, parameter count,
//! MACs and receptive field, its tensors with their initialisation and
//! fan-in, forward with a typed saved state, backward, its text, and what
//! it is in ONNX and PyTorch (plain descriptions, see [`export`]).
//!
//! This file only dispatches: one exhaustive `match` over [`LayerKind`] per
//! stage, no `_ =>`, so a new kind makes the compiler name every stage it
//! still lacks. docs/ARCHITECTURE.md has the checklist for adding one.

/// The classes a layer's PyTorch module may need defined besides torch.nn's
/// ([`export::TorchModule::helper`]): exporters keep script names clear of them.
pub const TORCH_HELPER_CLASSES: [&str; 3] = ["ScriptConv2d", "ScriptMaxPool2d", "ScriptAvgPool2d"];

mod activation;
mod args;
mod batchnorm;
mod call;
mod conv;
pub mod export;
mod linear;
mod pass;
mod pool;
mod reshape;
mod tensors;
mod window;

use rand::Rng;

pub use args::{
    ArgDefault, ArgSpec, ArgType, ArgsText, InputRank, LayerSpec, Lower, PadSpec, Range, Val,
};
pub use batchnorm::{
    fold as fold_batchnorm, train_batch as batchnorm_train_batch, BatchNorm, BatchStats,
};
pub use call::{parse_args, Args};
pub use conv::{bias as conv_bias, forward_fused as conv_forward_fused, Conv};
pub use export::{OnnxMapping, Refusal, TorchModule};
pub use linear::Linear;
pub use pass::{Backward, Buf, Forward, ForwardError, Mode};
pub use pool::{max_forward_values as maxpool_forward_values, Pool};
pub use tensors::{Fill, Init, Param, Role, TensorSpec};
pub use window::{Pad4, Window};

/// Table entries by kind, for the layers applied as functions (`maxpool(X, k=2)`).
pub mod specs {
    pub use super::activation::{DROPOUT, RELU, SIGMOID, SOFTMAX, TANH};
    pub use super::batchnorm::SPEC as BATCHNORM;
    pub use super::conv::SPEC as CONV;
    pub use super::linear::SPEC as LINEAR;
    pub use super::pool::{AVGPOOL, GAP, MAXPOOL};
    pub use super::reshape::FLATTEN;
}

use crate::ir::shape::{Rf, Shape};

/// Every layer kind with its resolved arguments.
#[derive(Clone, Debug, PartialEq)]
pub enum LayerKind {
    Conv(Conv),
    MaxPool(Pool),
    AvgPool(Pool),
    Gap,
    Linear(Linear),
    Flatten,
    Relu,
    Sigmoid,
    Tanh,
    Softmax,
    Dropout { p: f64 },
    BatchNorm(BatchNorm),
}

/// The layer table, in the order `:help` lists it: every layer name with
/// its arguments, their defaults and its lowering.
pub const LAYERS: &[LayerSpec] = &[
    conv::SPEC,
    pool::MAXPOOL,
    pool::AVGPOOL,
    pool::GAP,
    linear::SPEC,
    reshape::FLATTEN,
    activation::RELU,
    activation::SIGMOID,
    activation::TANH,
    activation::SOFTMAX,
    activation::DROPOUT,
    batchnorm::SPEC,
];

/// The table entry of a layer name.
pub fn layer_spec(name: &str) -> Option<&'static LayerSpec> {
    LAYERS.iter().find(|l| l.name == name)
}

/// Where a layer stands when it is lowered.
pub struct LayerInput<'a> {
    pub shape: &'a Shape,
    pub rf: Rf,
    /// True once a `flatten` has run on this path (for a better message).
    pub after_flatten: bool,
    /// Position in its node's chain.
    pub index: usize,
}

/// A lowered layer: its kind and what inference reports about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Lowered {
    pub kind: LayerKind,
    pub out_shape: Shape,
    /// Learnable parameters (buffers excluded).
    pub params: u64,
    /// Multiply-accumulates per sample (bias excluded); `None` when a
    /// symbolic size leaves it unknown.
    pub macs: Option<u64>,
    pub rf: Rf,
}

/// What a layer's forward keeps for its backward, typed per kind. A tape
/// keeps it between passes, so a training step reuses the allocations.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Saved {
    #[default]
    Nothing,
    /// `conv` with `flip=true`: the flipped kernel it ran with.
    FlippedKernel(Vec<f32>),
    /// `maxpool`: the input position of each output.
    Argmax(Vec<u32>),
    /// `dropout`: 0 or 1/(1−p) per element.
    Mask(Vec<f32>),
    /// `batchnorm` in training: the batch statistics.
    BatchStats(BatchStats),
}

/// The saved state of variant `$v`, made that variant (empty) when it was
/// another: steps keep their storage from pass to pass.
macro_rules! saved_slot {
    ($saved:expr, $v:ident) => {{
        if !matches!($saved, Saved::$v(_)) {
            *$saved = Saved::$v(Default::default());
        }
        match $saved {
            Saved::$v(s) => s,
            _ => unreachable!("made {} just above", stringify!($v)),
        }
    }};
}

/// The saved state of variant `$v` that this step's forward recorded.
macro_rules! saved_by_forward {
    ($saved:expr, $v:ident) => {
        match $saved {
            Saved::$v(s) => s,
            other => unreachable!(
                "backward found {other:?} where forward saves {}",
                stringify!($v)
            ),
        }
    };
}

impl LayerKind {
    /// The table entry of this kind.
    pub fn spec(&self) -> &'static LayerSpec {
        match self {
            LayerKind::Conv(_) => &conv::SPEC,
            LayerKind::MaxPool(_) => &pool::MAXPOOL,
            LayerKind::AvgPool(_) => &pool::AVGPOOL,
            LayerKind::Gap => &pool::GAP,
            LayerKind::Linear(_) => &linear::SPEC,
            LayerKind::Flatten => &reshape::FLATTEN,
            LayerKind::Relu => &activation::RELU,
            LayerKind::Sigmoid => &activation::SIGMOID,
            LayerKind::Tanh => &activation::TANH,
            LayerKind::Softmax => &activation::SOFTMAX,
            LayerKind::Dropout { .. } => &activation::DROPOUT,
            LayerKind::BatchNorm(_) => &batchnorm::SPEC,
        }
    }

    /// The layer name as a script writes it (`conv`, `relu`...).
    pub fn name(&self) -> &'static str {
        self.spec().name
    }

    /// Learnable tensors and buffers in state-dict order, with how each starts.
    pub fn tensors(&self) -> Vec<TensorSpec> {
        match self {
            LayerKind::Conv(c) => conv::tensors(c),
            LayerKind::Linear(l) => linear::tensors(l),
            LayerKind::BatchNorm(b) => batchnorm::tensors(b),
            LayerKind::MaxPool(_)
            | LayerKind::AvgPool(_)
            | LayerKind::Gap
            | LayerKind::Flatten
            | LayerKind::Relu
            | LayerKind::Sigmoid
            | LayerKind::Tanh
            | LayerKind::Softmax
            | LayerKind::Dropout { .. } => vec![],
        }
    }

    /// Learnable tensors and buffers in state-dict order: (suffix, shape).
    pub fn param_shapes(&self) -> Vec<(&'static str, Vec<usize>)> {
        self.tensors()
            .into_iter()
            .map(|t| (t.suffix, t.shape))
            .collect()
    }

    /// The layer as a script writes it, defaults left out: `conv(in=1, out=6, k=5)`.
    pub fn text(&self) -> String {
        let mut t = ArgsText::new(self.spec());
        match self {
            LayerKind::Conv(c) => conv::text(c, &mut t),
            LayerKind::MaxPool(p) => pool::text(p, true, &mut t),
            LayerKind::AvgPool(p) => pool::text(p, false, &mut t),
            LayerKind::Linear(l) => linear::text(l, &mut t),
            LayerKind::Dropout { p } => activation::dropout_text(*p, &mut t),
            LayerKind::BatchNorm(b) => batchnorm::text(b, &mut t),
            LayerKind::Gap
            | LayerKind::Flatten
            | LayerKind::Relu
            | LayerKind::Sigmoid
            | LayerKind::Tanh
            | LayerKind::Softmax => {}
        }
        t.finish()
    }

    /// Work per sample other than multiply-accumulates, with its unit: a
    /// pool's comparisons or additions (`summary` shows them where a pool
    /// has no MACs). `None` for layers whose cost is their MACs.
    pub fn other_ops(
        &self,
        in_shape: &Shape,
        out_shape: &Shape,
    ) -> Option<(Option<u64>, &'static str)> {
        match self {
            LayerKind::MaxPool(p) => Some((pool::cost(Some(p.kernel), in_shape, out_shape), "cmp")),
            LayerKind::AvgPool(p) => Some((pool::cost(Some(p.kernel), in_shape, out_shape), "add")),
            LayerKind::Gap => Some((pool::cost(None, in_shape, out_shape), "add")),
            LayerKind::Conv(_)
            | LayerKind::Linear(_)
            | LayerKind::Flatten
            | LayerKind::Relu
            | LayerKind::Sigmoid
            | LayerKind::Tanh
            | LayerKind::Softmax
            | LayerKind::Dropout { .. }
            | LayerKind::BatchNorm(_) => None,
        }
    }

    /// `shape explain`'s lines under the layer: how each output size arises.
    pub fn explain(&self, in_shape: &Shape, out_shape: &Shape) -> String {
        match self {
            LayerKind::Conv(c) => window::explain(&c.window(), in_shape, out_shape),
            LayerKind::MaxPool(p) | LayerKind::AvgPool(p) => {
                window::explain(&p.window(), in_shape, out_shape)
            }
            LayerKind::Gap => pool::explain_gap(in_shape),
            LayerKind::Flatten => reshape::explain(in_shape, out_shape),
            LayerKind::Linear(_)
            | LayerKind::Relu
            | LayerKind::Sigmoid
            | LayerKind::Tanh
            | LayerKind::Softmax
            | LayerKind::Dropout { .. }
            | LayerKind::BatchNorm(_) => String::new(),
        }
    }

    /// Run the layer forward: shape `cx.y` from `cx.x` and fill it, keeping
    /// in `saved` what backward needs. `rng` draws dropout masks.
    pub fn forward(
        &self,
        cx: Forward<'_>,
        rng: &mut impl Rng,
        saved: &mut Saved,
    ) -> Result<(), ForwardError> {
        match self {
            LayerKind::Conv(c) => conv::forward(c, cx, saved_slot!(saved, FlippedKernel))?,
            LayerKind::MaxPool(p) => pool::max_forward(p, cx, saved_slot!(saved, Argmax))?,
            LayerKind::AvgPool(p) => pool::avg_forward(p, cx)?,
            LayerKind::Gap => pool::gap_forward(cx)?,
            LayerKind::Linear(l) => linear::forward(l, cx)?,
            LayerKind::Flatten => reshape::forward(cx),
            LayerKind::Relu => activation::RELU_FN.forward(cx),
            LayerKind::Sigmoid => activation::SIGMOID_FN.forward(cx),
            LayerKind::Tanh => activation::TANH_FN.forward(cx),
            LayerKind::Softmax => activation::softmax_forward(cx),
            LayerKind::Dropout { p } => {
                activation::dropout_forward(*p, cx, rng, saved_slot!(saved, Mask))
            }
            LayerKind::BatchNorm(b) => batchnorm::forward(b, cx, saved_slot!(saved, BatchStats))?,
        }
        Ok(())
    }

    /// Run the layer backward: accumulate into `cx.dx` and the gradients of
    /// its tensors, from what its forward left in `saved`.
    /// Whether `backward` honours `Backward::overwrite_dx` (writes dx
    /// instead of adding), so the tape need not zero dx first.
    pub fn overwrites_dx(&self) -> bool {
        matches!(
            self,
            LayerKind::Relu
                | LayerKind::Sigmoid
                | LayerKind::Tanh
                | LayerKind::BatchNorm(_)
                | LayerKind::Flatten
        )
    }

    pub fn backward(&self, cx: Backward<'_>, saved: &Saved) {
        match self {
            LayerKind::Conv(c) => conv::backward(c, cx, saved_by_forward!(saved, FlippedKernel)),
            LayerKind::MaxPool(p) => pool::max_backward(p, cx, saved_by_forward!(saved, Argmax)),
            LayerKind::AvgPool(p) => pool::avg_backward(p, cx),
            LayerKind::Gap => pool::gap_backward(cx),
            LayerKind::Linear(l) => linear::backward(l, cx),
            LayerKind::Flatten => reshape::backward(cx),
            LayerKind::Relu => activation::RELU_FN.backward(cx),
            LayerKind::Sigmoid => activation::SIGMOID_FN.backward(cx),
            LayerKind::Tanh => activation::TANH_FN.backward(cx),
            LayerKind::Softmax => activation::softmax_backward(cx),
            LayerKind::Dropout { .. } => {
                activation::dropout_backward(cx, saved_by_forward!(saved, Mask))
            }
            LayerKind::BatchNorm(b) => {
                batchnorm::backward(b, cx, saved_by_forward!(saved, BatchStats))
            }
        }
    }

    /// The ONNX nodes computing this layer, as plain data
    /// (`crate::export::onnx` writes them), or why ONNX cannot say it exactly.
    pub fn onnx(&self, in_shape: &Shape, out_shape: &Shape) -> OnnxMapping {
        match self {
            LayerKind::Conv(c) => conv::onnx(c),
            LayerKind::MaxPool(p) => pool::max_onnx(p, in_shape, out_shape),
            LayerKind::AvgPool(p) => pool::avg_onnx(p, in_shape),
            LayerKind::Gap => pool::gap_onnx(),
            LayerKind::Linear(l) => linear::onnx(l),
            LayerKind::Flatten => reshape::onnx(),
            LayerKind::Relu => activation::RELU_FN.onnx(),
            LayerKind::Sigmoid => activation::SIGMOID_FN.onnx(),
            LayerKind::Tanh => activation::TANH_FN.onnx(),
            LayerKind::Softmax => activation::softmax_onnx(),
            LayerKind::Dropout { .. } => activation::dropout_onnx(),
            LayerKind::BatchNorm(b) => batchnorm::onnx(b),
        }
    }

    /// The PyTorch module computing this layer (`crate::export::torch`
    /// writes it into model.py).
    pub fn torch(&self, in_shape: &Shape) -> TorchModule {
        match self {
            LayerKind::Conv(c) => conv::torch(c),
            LayerKind::MaxPool(p) => pool::max_torch(p),
            LayerKind::AvgPool(p) => pool::avg_torch(p),
            LayerKind::Gap => pool::gap_torch(),
            LayerKind::Linear(l) => linear::torch(l),
            LayerKind::Flatten => reshape::torch(),
            LayerKind::Relu => activation::RELU_FN.torch(),
            LayerKind::Sigmoid => activation::SIGMOID_FN.torch(),
            LayerKind::Tanh => activation::TANH_FN.torch(),
            LayerKind::Softmax => activation::softmax_torch(),
            LayerKind::Dropout { p } => activation::dropout_torch(*p),
            LayerKind::BatchNorm(b) => batchnorm::torch(b, in_shape.rank()),
        }
    }
}

#[cfg(test)]
mod tests;

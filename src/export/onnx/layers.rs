//! One function per layer kind: its typed arguments and tensors in, ONNX
//! nodes out. This table is the whole cnnscript → ONNX mapping; an ONNX
//! import would be its inverse (`op_type` and attributes back to a
//! `LayerKind`), and should live beside it.

use super::builder::{float, int, ints, GraphBuilder};
use super::pool;
use crate::ir::shape::Shape;
use crate::layers::{BatchNorm, Conv, LayerKind, Linear};

/// One layer as the mapping sees it.
#[derive(Clone, Copy, Debug)]
pub struct LayerIo<'a> {
    /// The state-dict prefix (`0`, `c1`, `a.1`): names the layer's
    /// initializers (`0.weight`) and its output value.
    pub prefix: &'a str,
    /// The ONNX value the layer reads.
    pub input: &'a str,
    pub in_shape: &'a Shape,
    pub out_shape: &'a Shape,
    /// The layer's tensors, in `LayerKind::param_shapes` order.
    pub tensors: &'a [&'a [f32]],
}

impl LayerIo<'_> {
    /// Tensor `i` of the layer, checked against the shape its kind declares.
    fn tensor(&self, i: usize, shape: &[usize]) -> Result<&[f32], Refusal> {
        let len: usize = shape.iter().product();
        match self.tensors.get(i) {
            Some(t) if t.len() == len => Ok(t),
            _ => Err(Refusal::new(
                format!(
                    "the tensors of layer `{}` do not match its shape",
                    self.prefix
                ),
                "this is a bug in cnnscript; please report it with the script",
            )),
        }
    }
}

/// Why a layer cannot be written as ONNX exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub message: String,
    pub help: String,
}

impl Refusal {
    pub fn new(message: impl Into<String>, help: impl Into<String>) -> Refusal {
        Refusal {
            message: message.into(),
            help: help.into(),
        }
    }
}

/// What a layer mapping returns: the name of the value holding its output.
pub type Mapped = Result<String, Refusal>;

/// Emit one layer's nodes. The one match over every layer kind.
pub fn layer(b: &mut GraphBuilder, kind: &LayerKind, io: &LayerIo) -> Mapped {
    match kind {
        LayerKind::Conv(c) => conv(b, c, io),
        LayerKind::MaxPool(p) => pool::max_pool(b, p, io),
        LayerKind::AvgPool(p) => pool::avg_pool(b, p, io),
        LayerKind::Gap => gap(b, io),
        LayerKind::Linear(l) => linear(b, l, io),
        LayerKind::Flatten => flatten(b, io),
        LayerKind::Relu => relu(b, io),
        LayerKind::Sigmoid => sigmoid(b, io),
        LayerKind::Tanh => tanh(b, io),
        LayerKind::Softmax => softmax(b, io),
        LayerKind::Dropout { p } => dropout(b, *p, io),
        LayerKind::BatchNorm(bn) => batch_norm(b, bn, io),
    }
}

/// `conv` → `Conv` with explicit per-side pads (`same`/`valid` are already
/// resolved to numbers); `flip=true` writes the flipped kernel, so the ONNX
/// cross-correlation computes the true convolution.
pub fn conv(b: &mut GraphBuilder, c: &Conv, io: &LayerIo) -> Mapped {
    let (out_ch, in_per_group) = (c.out_ch as usize, (c.in_ch / c.groups.max(1)) as usize);
    let (kh, kw) = (c.kernel[0] as usize, c.kernel[1] as usize);
    let w_shape = [out_ch, in_per_group, kh, kw];
    let weight = io.tensor(0, &w_shape)?;
    let w = if c.flip {
        let flipped = crate::ops::conv::flip_taps(weight, kh * kw);
        b.float_init(&format!("{}.weight.flipped", io.prefix), &w_shape, &flipped)
    } else {
        b.float_init(&format!("{}.weight", io.prefix), &w_shape, weight)
    };
    let mut inputs = vec![io.input.to_string(), w];
    if c.bias {
        let bias = io.tensor(1, &[out_ch])?;
        inputs.push(b.float_init(&format!("{}.bias", io.prefix), &[out_ch], bias));
    }
    let p = &c.pad;
    let attrs = vec![
        ints("kernel_shape", &c.kernel),
        ints("strides", &c.stride),
        ints("pads", &[p.top, p.left, p.bottom, p.right]),
        ints("dilations", &c.dilation),
        int("group", c.groups as i64),
    ];
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let out = b.node("Conv", io.prefix, &refs, attrs);
    if c.flip {
        b.doc("flip=true: the kernel is stored flipped, so this cross-correlation is the true convolution");
    }
    Ok(out)
}

/// `gap` → `GlobalAveragePool`.
pub fn gap(b: &mut GraphBuilder, io: &LayerIo) -> Mapped {
    Ok(b.node("GlobalAveragePool", io.prefix, &[io.input], vec![]))
}

/// `linear` → `Gemm(x, W, b, transB=1)`: y = x·Wᵀ + b, as `nn.Linear`.
pub fn linear(b: &mut GraphBuilder, l: &Linear, io: &LayerIo) -> Mapped {
    let (in_f, out_f) = (l.in_f as usize, l.out_f as usize);
    let weight = io.tensor(0, &[out_f, in_f])?;
    let mut inputs = vec![
        io.input.to_string(),
        b.float_init(&format!("{}.weight", io.prefix), &[out_f, in_f], weight),
    ];
    if l.bias {
        let bias = io.tensor(1, &[out_f])?;
        inputs.push(b.float_init(&format!("{}.bias", io.prefix), &[out_f], bias));
    }
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    Ok(b.node("Gemm", io.prefix, &refs, vec![int("transB", 1)]))
}

/// `flatten` → `Flatten(axis=1)`: all but the batch dim.
pub fn flatten(b: &mut GraphBuilder, io: &LayerIo) -> Mapped {
    Ok(b.node("Flatten", io.prefix, &[io.input], vec![int("axis", 1)]))
}

/// `relu` → `Relu`.
pub fn relu(b: &mut GraphBuilder, io: &LayerIo) -> Mapped {
    Ok(b.node("Relu", io.prefix, &[io.input], vec![]))
}

/// `sigmoid` → `Sigmoid`.
pub fn sigmoid(b: &mut GraphBuilder, io: &LayerIo) -> Mapped {
    Ok(b.node("Sigmoid", io.prefix, &[io.input], vec![]))
}

/// `tanh` → `Tanh`.
pub fn tanh(b: &mut GraphBuilder, io: &LayerIo) -> Mapped {
    Ok(b.node("Tanh", io.prefix, &[io.input], vec![]))
}

/// `softmax` → `Softmax(axis=1)`: from opset 13 on, over dim 1 alone, whatever the rank.
pub fn softmax(b: &mut GraphBuilder, io: &LayerIo) -> Mapped {
    Ok(b.node("Softmax", io.prefix, &[io.input], vec![int("axis", 1)]))
}

/// `dropout` is the identity outside training: no node, the input flows on.
pub fn dropout(_b: &mut GraphBuilder, _p: f64, io: &LayerIo) -> Mapped {
    Ok(io.input.to_string())
}

/// `batchnorm` → `BatchNormalization` in inference form (running statistics),
/// for NxC and NxCxHxW inputs alike. `num_batches_tracked` is not needed.
pub fn batch_norm(b: &mut GraphBuilder, bn: &BatchNorm, io: &LayerIo) -> Mapped {
    let c = bn.channels as usize;
    let mut inputs = vec![io.input.to_string()];
    for (i, suffix) in ["weight", "bias", "running_mean", "running_var"]
        .into_iter()
        .enumerate()
    {
        let data = io.tensor(i, &[c])?;
        inputs.push(b.float_init(&format!("{}.{suffix}", io.prefix), &[c], data));
    }
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    Ok(b.node(
        "BatchNormalization",
        io.prefix,
        &refs,
        vec![float("epsilon", bn.eps as f32)],
    ))
}

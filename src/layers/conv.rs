//! `conv`: 2-D cross-correlation (nn.Conv2d), or true convolution with
//! `flip=true` (the stored kernel is flipped before cross-correlating).

use super::args::{ArgDefault, ArgSpec, ArgType, ArgsText, InputRank, LayerSpec};
use super::call::{Args, IMAGE};
use super::export::{py_pair, OnnxAttr, OnnxInput, OnnxMapping, OnnxNode, TorchModule};
use super::pass::{need_4d, Backward, Buf, Forward, ForwardError};
use super::tensors::{weight_grads, Fill, Init, Param, Role, TensorSpec};
use super::window::{self, Pad4, Window};
use super::{LayerInput, LayerKind, Lowered};
use crate::ir::error::CheckError;
use crate::ir::shape::{Dim, Shape};
use crate::ops::{self, ConvGeom};

/// A `conv` layer with every argument resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Conv {
    pub in_ch: u64,
    pub out_ch: u64,
    /// (height, width)
    pub kernel: [u64; 2],
    pub stride: [u64; 2],
    pub pad: Pad4,
    pub dilation: [u64; 2],
    pub groups: u64,
    pub bias: bool,
    /// True convolution: the stored kernel is flipped before cross-correlating.
    pub flip: bool,
    pub init: Init,
}

pub const SPEC: LayerSpec = LayerSpec {
    name: "conv",
    help: "2-D cross-correlation (nn.Conv2d)",
    example: "conv(out=6, k=5)",
    input: InputRank::Image,
    lower,
    args: &[
        ArgSpec::new(
            "in",
            ArgType::Count,
            ArgDefault::Inferred,
            "input channels (inferred if omitted)",
        ),
        ArgSpec::new(
            "out",
            ArgType::Count,
            ArgDefault::Required,
            "output channels (required)",
        ),
        ArgSpec::new(
            "k",
            ArgType::Pair,
            ArgDefault::Required,
            "kernel size (required)",
        ),
        ArgSpec::new("s", ArgType::Pair, ArgDefault::pair(1), "stride"),
        ArgSpec::new(
            "p",
            ArgType::Padding,
            ArgDefault::pad(0),
            "padding per side",
        ),
        ArgSpec::new("d", ArgType::Pair, ArgDefault::pair(1), "dilation"),
        ArgSpec::new(
            "groups",
            ArgType::Count,
            ArgDefault::count(1),
            "channel groups",
        ),
        ArgSpec::new(
            "bias",
            ArgType::Bool,
            ArgDefault::flag(true),
            "learnable bias",
        ),
        ArgSpec::new(
            "flip",
            ArgType::Bool,
            ArgDefault::flag(false),
            "true convolution (kernel flipped)",
        ),
        ArgSpec::new(
            "init",
            ArgType::Init,
            ArgDefault::init(Init::Default),
            "weight initialisation",
        ),
    ],
};

impl Conv {
    pub fn window(&self) -> Window {
        Window {
            kernel: self.kernel,
            stride: self.stride,
            pad: self.pad,
            dilation: self.dilation,
            ceil: false,
        }
    }

    /// Inputs each output reads: `in/groups · kh · kw` (PyTorch's fan-in).
    fn fan_in(&self) -> Option<u64> {
        (self.in_ch / self.groups.max(1))
            .checked_mul(self.kernel[0])?
            .checked_mul(self.kernel[1])
    }
}

fn lower(args: &Args, at: &LayerInput) -> Result<Lowered, Vec<CheckError>> {
    args.need_rank(at, 4, IMAGE)?;
    let shape = at.shape;
    let incoming = args.known_channels(shape)?;
    let in_ch = args.declared_in(incoming, shape, "channels")?;
    let out_ch = args.count("out")?;
    let kernel = args.pair("k")?;
    let stride = args.pair("s")?;
    let dilation = args.pair("d")?;
    let groups = args.count("groups")?;
    if !in_ch.is_multiple_of(groups) || !out_ch.is_multiple_of(groups) {
        return Err(vec![CheckError::groups(
            in_ch,
            out_ch,
            groups,
            args.span("groups"),
        )]);
    }
    let pad = window::resolve_padding(args, kernel, stride, dilation, false)?;
    let conv = Conv {
        in_ch,
        out_ch,
        kernel,
        stride,
        pad,
        dilation,
        groups,
        bias: args.flag("bias")?,
        flip: args.flag("flip")?,
        init: args.init("init")?,
    };
    let (out_hw, rf) = window::infer(args, shape, &conv.window(), at.rf, false)?;
    let per_out = conv.fan_in();
    let params = per_out
        .and_then(|v| v.checked_mul(out_ch))
        .and_then(|v| v.checked_add(if conv.bias { out_ch } else { 0 }))
        .ok_or_else(|| vec![CheckError::overflow("the conv weight", args.call.span)])?;
    let macs = out_hw[0]
        .known()
        .and_then(|h| h.checked_mul(out_hw[1].known()?))
        .and_then(|s| s.checked_mul(out_ch))
        .and_then(|v| v.checked_mul(per_out?));
    let [out_h, out_w] = out_hw;
    Ok(Lowered {
        kind: LayerKind::Conv(conv),
        out_shape: Shape(vec![shape.0[0].clone(), Dim::Known(out_ch), out_h, out_w]),
        params,
        macs,
        rf,
    })
}

pub(super) fn tensors(c: &Conv) -> Vec<TensorSpec> {
    let u = |n: u64| n as usize;
    let fill = Fill::Init {
        init: c.init,
        fan_in: c.fan_in().unwrap_or(u64::MAX),
    };
    let weight = vec![
        u(c.out_ch),
        u(c.in_ch / c.groups.max(1)),
        u(c.kernel[0]),
        u(c.kernel[1]),
    ];
    let mut v = vec![TensorSpec::new("weight", weight, fill, Role::Learnable)];
    if c.bias {
        v.push(TensorSpec::new(
            "bias",
            vec![u(c.out_ch)],
            fill,
            Role::Learnable,
        ));
    }
    v
}

pub(super) fn text(c: &Conv, t: &mut ArgsText) {
    t.count("in", c.in_ch)
        .count("out", c.out_ch)
        .pair("k", c.kernel)
        .pair("s", c.stride)
        .pad("p", c.pad)
        .pair("d", c.dilation)
        .count("groups", c.groups)
        .flag("bias", c.bias)
        .flag("flip", c.flip);
    // `init` is left out: it says how the weights start, not what the layer computes
}

/// Conv geometry for an actual input; `None` when the kernel no longer fits.
fn geom(c: &Conv, s: &[usize]) -> Option<ConvGeom> {
    let [h, w] = c.window().axes(s[2], s[3])?;
    ConvGeom::new(s[0], s[1], c.out_ch as usize, c.groups as usize, h, w).ok()
}

/// Forward; with `flip`, the flipped kernel is kept for backward.
pub(super) fn forward(
    c: &Conv,
    cx: Forward<'_>,
    flipped: &mut Vec<f32>,
) -> Result<(), ForwardError> {
    let shape = &cx.x.shape;
    need_4d(SPEC.name, shape)?;
    let g = geom(c, shape).ok_or_else(|| {
        format!(
            "conv kernel does not fit the input {}",
            crate::value::dims_string(shape)
        )
    })?;
    cx.y.reshape(&g.output_shape());
    let weight = &cx.params[cx.ids[0]].data;
    let bias = c.bias.then(|| cx.params[cx.ids[1]].data.as_slice());
    let weight = if c.flip {
        *flipped = ops::conv::flip_kernel(&g, weight);
        flipped
    } else {
        weight
    };
    let runs = Runs::new(&g, weight.len(), cx.cut_short.then_some(RUN_MACS));
    runs.forward(&g, &cx.x.data, weight, bias, &mut cx.y.data);
    Ok(())
}

/// Inference forward with an output pass (`ops::conv::Epilogue`): a
/// folded batchnorm's scale, `shift` (which must already hold the conv's
/// own bias, see [`super::batchnorm::fold`]), a residual, a relu.
pub fn forward_fused(
    c: &Conv,
    x: &Buf,
    params: &[Param],
    ids: &[usize],
    e: &ops::conv::Epilogue,
    y: &mut Buf,
) -> Result<(), ForwardError> {
    need_4d(SPEC.name, &x.shape)?;
    let g = geom(c, &x.shape).ok_or_else(|| {
        format!(
            "conv kernel does not fit the input {}",
            crate::value::dims_string(&x.shape)
        )
    })?;
    y.reshape(&g.output_shape());
    if e.residual.is_some_and(|r| r.len() != y.data.len()) {
        return Err("add: shapes differ at run time".into());
    }
    let weight = &params[ids[0]].data;
    if c.flip {
        let flipped = ops::conv::flip_kernel(&g, weight);
        ops::conv::conv2d_forward_fused(&g, &x.data, &flipped, e, &mut y.data);
    } else {
        ops::conv::conv2d_forward_fused(&g, &x.data, weight, e, &mut y.data);
    }
    Ok(())
}

/// The conv's bias, if it has one.
pub fn bias<'a>(c: &Conv, params: &'a [Param], ids: &[usize]) -> Option<&'a [f32]> {
    c.bias.then(|| params[ids[1]].data.as_slice())
}

/// Multiply-accumulates above which a pass that may be cut short on a
/// Ctrl-C runs a convolution on a few items at a time, looking for the stop
/// between them: a large layer on a large batch takes seconds, each run
/// about a tenth of a second or less. (Splitting a smaller layer would only
/// cost speed.)
const RUN_MACS: usize = 1 << 29;

/// How a convolution's batch is split into runs of items.
struct Runs {
    batch: usize,
    /// Items per run (the whole batch unless the pass may be cut short).
    items: usize,
    cut_short: bool,
}

impl Runs {
    /// Runs of at most `budget` multiply-accumulates (at least one item);
    /// the whole batch without a budget.
    fn new(g: &ConvGeom, weights: usize, budget: Option<usize>) -> Runs {
        let [batch, _, h, w] = g.output_shape();
        let batch = batch.max(1);
        let per_item = weights.saturating_mul(h * w).max(1);
        Runs {
            batch,
            items: budget.map_or(batch, |b| (b / per_item).clamp(1, batch)),
            cut_short: budget.is_some(),
        }
    }
    fn forward(
        &self,
        g: &ConvGeom,
        x: &[f32],
        weight: &[f32],
        bias: Option<&[f32]>,
        y: &mut [f32],
    ) {
        let xs = x.chunks(self.size(x.len()));
        let ys = y.chunks_mut(self.size(y.len()));
        for (xr, yr) in xs.zip(ys) {
            if self.stop() {
                return;
            }
            let g = self.geom(g, xr.len(), x.len());
            ops::conv::conv2d_forward(&g, xr, weight, bias, yr);
        }
    }
    /// Accumulates the gradients as `conv2d_backward` does.
    #[allow(clippy::too_many_arguments)]
    fn backward(
        &self,
        g: &ConvGeom,
        x: &[f32],
        weight: &[f32],
        dy: &[f32],
        dx: Option<&mut [f32]>,
        dweight: &mut [f32],
        mut dbias: Option<&mut [f32]>,
    ) {
        let xs = x.chunks(self.size(x.len()));
        let dys = dy.chunks(self.size(dy.len()));
        let mut dxs = dx.map(|dx| dx.chunks_mut(self.size(x.len())));
        for (xr, dyr) in xs.zip(dys) {
            if self.stop() {
                return;
            }
            let dxr = dxs.as_mut().and_then(|d| d.next());
            let g = self.geom(g, xr.len(), x.len());
            ops::conv::conv2d_backward(&g, xr, weight, dyr, dxr, dweight, dbias.as_deref_mut());
        }
    }
    /// The values of one run in a tensor of `all` values over the batch.
    fn size(&self, all: usize) -> usize {
        (self.items * (all / self.batch)).max(1)
    }
    /// Whether a Ctrl-C asks to stop before the next run.
    fn stop(&self) -> bool {
        self.cut_short && crate::interrupt::requested()
    }
    /// The geometry of a run of `len` values of an input of `all` values.
    fn geom(&self, g: &ConvGeom, len: usize, all: usize) -> ConvGeom {
        let items = len * self.batch / all.max(1);
        if items == self.batch {
            return *g;
        }
        g.with_batch(items).unwrap_or(*g)
    }
}

pub(super) fn backward(c: &Conv, cx: Backward<'_>, flipped: &[f32]) {
    let Some(g) = geom(c, &cx.x.shape) else {
        return;
    };
    let (weight, dweight, dbias) = weight_grads(cx.params, cx.ids[0], cx.ids.get(1).copied());
    // the kernel used was the flipped copy: its gradient is flipped back
    let mut dflipped = if c.flip {
        vec![0.0; flipped.len()]
    } else {
        Vec::new()
    };
    let (weight, dw) = if c.flip {
        (flipped, &mut dflipped[..])
    } else {
        (weight, &mut dweight[..])
    };
    let runs = Runs::new(&g, weight.len(), cx.cut_short.then_some(RUN_MACS));
    runs.backward(&g, &cx.x.data, weight, cx.dy, cx.dx, dw, dbias);
    if c.flip {
        let back = ops::conv::flip_kernel(&g, &dflipped);
        dweight.iter_mut().zip(back).for_each(|(g, d)| *g += d);
    }
}

/// `Conv` with explicit per-side pads (`same`/`valid` are already numbers);
/// `flip=true` writes the flipped kernel, so ONNX's cross-correlation
/// computes the true convolution.
pub(super) fn onnx(c: &Conv) -> OnnxMapping {
    let weight = if c.flip {
        OnnxInput::Flipped("weight")
    } else {
        OnnxInput::Tensor("weight")
    };
    let mut inputs = vec![OnnxInput::Input, weight];
    if c.bias {
        inputs.push(OnnxInput::Tensor("bias"));
    }
    let node = OnnxNode::new("Conv", inputs)
        .attr("kernel_shape", OnnxAttr::ints(&c.kernel))
        .attr("strides", OnnxAttr::ints(&c.stride))
        .attr("pads", OnnxAttr::ints(&c.pad.onnx()))
        .attr("dilations", OnnxAttr::ints(&c.dilation))
        .attr("group", OnnxAttr::Int(c.groups as i64));
    Ok(vec![if c.flip {
        node.doc("flip=true: the kernel is stored flipped, so this cross-correlation is the true convolution")
    } else {
        node
    }])
}

/// `nn.Conv2d`, or `ScriptConv2d` for per-side padding and `flip=true`.
pub(super) fn torch(c: &Conv) -> TorchModule {
    let mut args = vec![
        c.in_ch.to_string(),
        c.out_ch.to_string(),
        format!("kernel_size={}", py_pair(c.kernel)),
    ];
    if c.stride != [1, 1] {
        args.push(format!("stride={}", py_pair(c.stride)));
    }
    args.extend(c.pad.torch_arg());
    if c.dilation != [1, 1] {
        args.push(format!("dilation={}", py_pair(c.dilation)));
    }
    if c.groups != 1 {
        args.push(format!("groups={}", c.groups));
    }
    if !c.bias {
        args.push("bias=False".into());
    }
    if c.flip {
        args.push("flip=True".into());
    }
    if c.pad.symmetric().is_none() || c.flip {
        TorchModule {
            class: "ScriptConv2d",
            args,
            helper: Some(SCRIPT_CONV2D),
        }
    } else {
        TorchModule::nn("nn.Conv2d", args)
    }
}

const SCRIPT_CONV2D: &str = r#"class ScriptConv2d(nn.Conv2d):
    """nn.Conv2d with cnnscript's extras: `pad=(left, right, top, bottom)` pads each
    side on its own (p=same with an even kernel puts the extra row and column at the
    bottom and right), and `flip=True` flips the stored kernel in both spatial dims
    before the cross-correlation (a true convolution; training updates the stored
    kernel)."""

    def __init__(self, *args, pad=None, flip=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.pad = pad
        self.flip = flip

    def forward(self, x):
        if self.pad is not None:
            x = F.pad(x, self.pad)
        weight = self.weight.flip(2, 3) if self.flip else self.weight
        return self._conv_forward(x, weight, self.bias)"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// A convolution run one item at a time computes what it does at once.
    #[test]
    fn runs_of_items_compute_the_whole_batch() {
        let axis = |input, kernel, stride, pad, output| ops::geom::Axis {
            input,
            kernel,
            stride,
            dilation: 1,
            pad_before: pad,
            pad_after: pad,
            output,
        };
        let g = ConvGeom::new(5, 3, 4, 1, axis(6, 3, 1, 1, 6), axis(5, 2, 2, 0, 2))
            .unwrap_or_else(|e| panic!("{e:?}"));
        let [_, wc, wh, ww] = g.weight_shape();
        let values = |n: usize, k: f32| (0..n).map(|i| (i as f32 * k).sin()).collect::<Vec<f32>>();
        let x = values(g.input_shape().iter().product(), 0.37);
        let weight = values(4 * wc * wh * ww, 0.91);
        let bias = values(4, 1.3);
        let y_len: usize = g.output_shape().iter().product();
        let dy = values(y_len, 0.53);
        let pass = |budget: Option<usize>| {
            let runs = Runs::new(&g, weight.len(), budget);
            let mut y = vec![0.0; y_len];
            runs.forward(&g, &x, &weight, Some(&bias), &mut y);
            let (mut dx, mut dw, mut db) =
                (vec![0.0; x.len()], vec![0.0; weight.len()], vec![0.0; 4]);
            runs.backward(&g, &x, &weight, &dy, Some(&mut dx), &mut dw, Some(&mut db));
            (runs.items, [y, dx, dw, db])
        };
        let (all, whole) = pass(None);
        let (one, split) = pass(Some(1));
        assert_eq!((all, one), (5, 1));
        for (a, b) in whole.iter().zip(&split) {
            assert_eq!(a.len(), b.len());
            for (u, v) in a.iter().zip(b) {
                assert!((u - v).abs() <= 1e-4 * u.abs().max(1.0), "{u} vs {v}");
            }
        }
    }
}

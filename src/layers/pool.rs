//! Pooling: `maxpool` (nn.MaxPool2d, which keeps each window's argmax for
//! backward, so any k/s/p/d works), `avgpool` (nn.AvgPool2d) and `gap`
//! (global average pooling to Cx1x1).
//!
//! ONNX: `ceil_mode` is not a safe target: ONNX's own shape inference keeps
//! windows that start in the right padding (PyTorch drops them), its
//! reference implementation divides ceil-mode overhang differently from
//! PyTorch, and runtimes differ among themselves. So `ceil=true` is written
//! as floor mode with extra end padding, which every runtime reads alike.
//! Where ONNX's pads still cannot say what PyTorch does, an explicit `Pad`
//! node comes first:
//!
//! - max: onnxruntime refuses pads ≥ the kernel (possible with dilation
//!   and ceil), so those become a `Pad` with −∞; and where a dilated window
//!   lies wholly in the padding, MaxPool gives the lowest float (onnxruntime,
//!   tract) where PyTorch gives −∞, so a constant −∞ is added at exactly
//!   those outputs.
//! - average with `count_pad=true` and ceil overhang: PyTorch divides by the
//!   window clipped to the padded input; zero padding made explicit and
//!   `count_include_pad=0` gives that divisor.

use super::args::{ArgDefault, ArgSpec, ArgType, ArgsText, InputRank, LayerSpec};
use super::call::{Args, IMAGE};
use super::export::{py_pair, OnnxAttr, OnnxInput, OnnxMapping, OnnxNode, Refusal, TorchModule};
use super::pass::{need_4d, Backward, Buf, Forward, ForwardError};
use super::window::{self, Pad4, Window};
use super::{LayerInput, LayerKind, Lowered};
use crate::ir::error::CheckError;
use crate::ir::shape::{window_out, Dim, Shape};
use crate::ops::{self, PoolGeom};

/// A `maxpool` or `avgpool` layer with every argument resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    pub kernel: [u64; 2],
    pub stride: [u64; 2],
    pub pad: Pad4,
    /// Always `[1, 1]` for average pooling.
    pub dilation: [u64; 2],
    pub ceil: bool,
    /// Average pooling only: divide by the window clipped to the padded input
    /// (true) or by the number of real pixels (false).
    pub count_pad: bool,
}

const K: ArgSpec = ArgSpec::new(
    "k",
    ArgType::Pair,
    ArgDefault::Required,
    "window size (required)",
);
const S: ArgSpec = ArgSpec::new("s", ArgType::Pair, ArgDefault::SameAs("k"), "stride");
const P: ArgSpec = ArgSpec::new(
    "p",
    ArgType::Padding,
    ArgDefault::pad(0),
    "padding per side, at most k/2",
);
const CEIL: ArgSpec = ArgSpec::new("ceil", ArgType::Bool, ArgDefault::flag(false), "ceil mode");

pub const MAXPOOL: LayerSpec = LayerSpec {
    name: "maxpool",
    help: "max pooling (nn.MaxPool2d)",
    example: "maxpool(k=2)",
    input: InputRank::Image,
    lower: lower_max,
    args: &[
        K,
        S,
        P,
        ArgSpec::new("d", ArgType::Pair, ArgDefault::pair(1), "dilation"),
        CEIL,
    ],
};

pub const AVGPOOL: LayerSpec = LayerSpec {
    name: "avgpool",
    help: "average pooling (nn.AvgPool2d)",
    example: "avgpool(k=2)",
    input: InputRank::Image,
    lower: lower_avg,
    args: &[
        K,
        S,
        P,
        CEIL,
        ArgSpec::new(
            "count_pad",
            ArgType::Bool,
            ArgDefault::flag(true),
            "count padding in the divisor",
        ),
    ],
};

pub const GAP: LayerSpec = LayerSpec {
    name: "gap",
    help: "global average pooling to Cx1x1",
    example: "gap",
    input: InputRank::Image,
    lower: lower_gap,
    args: &[],
};

impl Pool {
    pub fn window(&self) -> Window {
        Window {
            kernel: self.kernel,
            stride: self.stride,
            pad: self.pad,
            dilation: self.dilation,
            ceil: self.ceil,
        }
    }
}

/// What a pool costs per sample, since it has no multiply-accumulates:
/// `maxpool` compares `kh·kw − 1` times per output, `avgpool` adds
/// `kh·kw − 1` times (then divides once), `gap` adds `H·W − 1` times per
/// channel. `None` when a symbolic size leaves it unknown.
pub(super) fn cost(window: Option<[u64; 2]>, in_shape: &Shape, out_shape: &Shape) -> Option<u64> {
    let per_output = match window {
        Some([kh, kw]) => kh.checked_mul(kw)?.saturating_sub(1),
        None => {
            let (h, w) = (in_shape.0.get(2)?.known()?, in_shape.0.get(3)?.known()?);
            h.checked_mul(w)?.saturating_sub(1)
        }
    };
    out_shape.per_item()?.checked_mul(per_output)
}

fn lower_max(args: &Args, at: &LayerInput) -> Result<Lowered, Vec<CheckError>> {
    lower(args, at, true)
}

fn lower_avg(args: &Args, at: &LayerInput) -> Result<Lowered, Vec<CheckError>> {
    lower(args, at, false)
}

/// Both pools; only `maxpool` has `d` and only `avgpool` has `count_pad`,
/// so those read as their neutral values for the other.
fn lower(args: &Args, at: &LayerInput, max: bool) -> Result<Lowered, Vec<CheckError>> {
    args.need_rank(at, 4, IMAGE)?;
    let kernel = args.pair("k")?;
    let stride = args.pair("s")?;
    let dilation = if max { args.pair("d")? } else { [1, 1] };
    let ceil = args.flag("ceil")?;
    let pad = window::resolve_padding(args, kernel, stride, dilation, true)?;
    let pool = Pool {
        kernel,
        stride,
        pad,
        dilation,
        ceil,
        count_pad: max || args.flag("count_pad")?,
    };
    let shape = at.shape;
    let (out_hw, rf) = window::infer(args, shape, &pool.window(), at.rf, true)?;
    let [out_h, out_w] = out_hw;
    let kind = if max {
        LayerKind::MaxPool(pool)
    } else {
        LayerKind::AvgPool(pool)
    };
    Ok(Lowered {
        kind,
        out_shape: Shape(vec![shape.0[0].clone(), shape.0[1].clone(), out_h, out_w]),
        params: 0,
        macs: Some(0),
        rf,
    })
}

fn lower_gap(args: &Args, at: &LayerInput) -> Result<Lowered, Vec<CheckError>> {
    args.need_rank(at, 4, IMAGE)?;
    let shape = at.shape;
    Ok(Lowered {
        kind: LayerKind::Gap,
        out_shape: Shape(vec![
            shape.0[0].clone(),
            shape.0[1].clone(),
            Dim::Known(1),
            Dim::Known(1),
        ]),
        params: 0,
        macs: Some(0),
        rf: window::whole_map(shape, at.rf),
    })
}

pub(super) fn text(p: &Pool, max: bool, t: &mut ArgsText) {
    t.pair("k", p.kernel).pair("s", p.stride).pad("p", p.pad);
    if max {
        t.pair("d", p.dilation);
    }
    t.flag("ceil", p.ceil);
    if !max {
        t.flag("count_pad", p.count_pad);
    }
}

/// `shape explain` of `gap`.
pub(super) fn explain_gap(in_shape: &Shape) -> String {
    format!(
        "  average over each {}x{} map\n",
        in_shape.0[2], in_shape.0[3]
    )
}

/// Pool geometry for an actual input; `None` when the window no longer fits.
fn geom(p: &Pool, s: &[usize]) -> Option<PoolGeom> {
    let [h, w] = p.window().axes(s[2], s[3])?;
    PoolGeom::new(s[0], s[1], h, w).ok()
}

fn geom_for(p: &Pool, name: &str, shape: &[usize]) -> Result<PoolGeom, ForwardError> {
    need_4d(name, shape)?;
    geom(p, shape).ok_or_else(|| "pool window does not fit the input".to_string())
}

/// Max pooling forward; the argmax of each window is kept for backward.
pub(super) fn max_forward(
    p: &Pool,
    cx: Forward<'_>,
    argmax: &mut Vec<u32>,
) -> Result<(), ForwardError> {
    let g = geom_for(p, MAXPOOL.name, &cx.x.shape)?;
    cx.y.reshape(&g.output_shape());
    argmax.clear();
    argmax.resize(g.output_shape().iter().product(), 0);
    ops::pool::maxpool2d_forward(&g, &cx.x.data, &mut cx.y.data, argmax);
    Ok(())
}

/// Inference forward: the values only (no positions for a backward).
pub fn max_forward_values(p: &Pool, x: &Buf, y: &mut Buf) -> Result<(), ForwardError> {
    let g = geom_for(p, MAXPOOL.name, &x.shape)?;
    y.reshape(&g.output_shape());
    ops::pool::maxpool2d_forward_values(&g, &x.data, &mut y.data);
    Ok(())
}

pub(super) fn max_backward(p: &Pool, cx: Backward<'_>, argmax: &[u32]) {
    if let (Some(g), Some(dx)) = (geom(p, &cx.x.shape), cx.dx) {
        ops::pool::maxpool2d_backward(&g, argmax, cx.dy, dx);
    }
}

pub(super) fn avg_forward(p: &Pool, cx: Forward<'_>) -> Result<(), ForwardError> {
    let g = geom_for(p, AVGPOOL.name, &cx.x.shape)?;
    cx.y.reshape(&g.output_shape());
    ops::pool::avgpool2d_forward(&g, p.count_pad, &cx.x.data, &mut cx.y.data);
    Ok(())
}

pub(super) fn avg_backward(p: &Pool, cx: Backward<'_>) {
    if let (Some(g), Some(dx)) = (geom(p, &cx.x.shape), cx.dx) {
        ops::pool::avgpool2d_backward(&g, p.count_pad, cx.dy, dx);
    }
}

pub(super) fn gap_forward(cx: Forward<'_>) -> Result<(), ForwardError> {
    let s = &cx.x.shape;
    need_4d(GAP.name, s)?;
    cx.y.reshape(&[s[0], s[1], 1, 1]);
    ops::pool::gap_forward(s[0], s[1], s[2] * s[3], &cx.x.data, &mut cx.y.data);
    Ok(())
}

pub(super) fn gap_backward(cx: Backward<'_>) {
    if let Some(dx) = cx.dx {
        let s = &cx.x.shape;
        ops::pool::gap_backward(s[0], s[1], s[2] * s[3], cx.dy, dx);
    }
}

/// Per-side pads in ONNX's order: `[top, left, bottom, right]`.
type Pads = [u64; 4];

/// `maxpool` → `MaxPool`; its padding becomes a `Pad` with −∞ where
/// onnxruntime would refuse it (pads ≥ the kernel), and windows lying wholly
/// in the padding get −∞ added (MaxPool gives the lowest float there).
pub(super) fn max_onnx(p: &Pool, in_shape: &Shape, out_shape: &Shape) -> OnnxMapping {
    let pads = floor_pads(p, in_shape, "maxpool")?;
    let sizes = [in_shape.dims()[2].known(), in_shape.dims()[3].known()];
    let padded = pads != [0; 4];
    if padded && p.dilation != [1, 1] && sizes.contains(&None) {
        return Err(Refusal::new(
            "`maxpool` with dilation and padding over a symbolic height or width has no exact ONNX form",
            "a dilated window can lie wholly in the padding, where PyTorch gives −∞ and ONNX's MaxPool the lowest float; which windows do depends on the size: give the model a concrete height and width",
        ));
    }
    let mut nodes = Vec::new();
    let fits = (0..2).all(|i| pads[i] < p.kernel[i] && pads[i + 2] < p.kernel[i]);
    let pool_pads = if fits {
        pads
    } else {
        nodes.push(explicit_pad(pads, f32::NEG_INFINITY, in_shape).doc(
            "maxpool padding made explicit (−∞): onnxruntime needs pads smaller than the kernel",
        ));
        [0; 4]
    };
    let input = nodes
        .len()
        .checked_sub(1)
        .map_or(OnnxInput::Input, OnnxInput::Node);
    let pool = ceil_note(
        p,
        OnnxNode::new("MaxPool", vec![input])
            .attr("kernel_shape", OnnxAttr::ints(&p.kernel))
            .attr("strides", OnnxAttr::ints(&p.stride))
            .attr("pads", OnnxAttr::ints(&pool_pads))
            .attr("dilations", OnnxAttr::ints(&p.dilation)),
    );
    let empty = match sizes {
        [Some(h), Some(w)] if padded => [
            windows_in_padding(h, pads[0], pads[2], p, 0),
            windows_in_padding(w, pads[1], pads[3], p, 1),
        ],
        _ => [vec![], vec![]],
    };
    if !empty.iter().flatten().any(|e| *e) {
        nodes.push(pool);
        return Ok(nodes);
    }
    nodes.push(pool.inner("max", out_shape.clone()));
    let (rows, cols) = (&empty[0], &empty[1]);
    let mask: Vec<f32> = rows
        .iter()
        .flat_map(|r| {
            cols.iter()
                .map(move |c| if *r || *c { f32::NEG_INFINITY } else { 0.0 })
        })
        .collect();
    let mask = OnnxInput::Floats {
        name: "empty_windows",
        dims: vec![1, 1, rows.len(), cols.len()],
        values: mask,
    };
    let add = OnnxNode::new("Add", vec![OnnxInput::Node(nodes.len() - 1), mask])
        .doc("windows lying wholly in the padding give −∞, as in PyTorch");
    nodes.push(add);
    Ok(nodes)
}

/// `avgpool` → `AveragePool`; with `count_pad=true` and ceil overhang, the
/// padding goes into a `Pad` node so the divisor is the clipped window.
pub(super) fn avg_onnx(p: &Pool, in_shape: &Shape) -> OnnxMapping {
    let pads = floor_pads(p, in_shape, "avgpool")?;
    let declared = p.pad.onnx();
    let overhang = pads != declared;
    let mut nodes = Vec::new();
    let (pads, count_include_pad) = if !p.count_pad || !overhang {
        (pads, p.count_pad)
    } else if declared == [0; 4] {
        // no padding: the divisor is the window clipped to the input
        (pads, false)
    } else {
        nodes.push(explicit_pad(declared, 0.0, in_shape).doc(
            "avgpool padding made explicit: count_pad=true divides by the window clipped to the padded input",
        ));
        ([0, 0, pads[2] - declared[2], pads[3] - declared[3]], false)
    };
    let input = nodes
        .len()
        .checked_sub(1)
        .map_or(OnnxInput::Input, OnnxInput::Node);
    nodes.push(ceil_note(
        p,
        OnnxNode::new("AveragePool", vec![input])
            .attr("kernel_shape", OnnxAttr::ints(&p.kernel))
            .attr("strides", OnnxAttr::ints(&p.stride))
            .attr("pads", OnnxAttr::ints(&pads))
            .attr(
                "count_include_pad",
                OnnxAttr::Int(i64::from(count_include_pad)),
            ),
    ));
    Ok(nodes)
}

/// `gap` → `GlobalAveragePool`.
pub(super) fn gap_onnx() -> OnnxMapping {
    Ok(vec![OnnxNode::new(
        "GlobalAveragePool",
        vec![OnnxInput::Input],
    )])
}

fn ceil_note(p: &Pool, node: OnnxNode) -> OnnxNode {
    if p.ceil {
        node.doc("ceil=true written as floor mode with extra bottom/right padding")
    } else {
        node
    }
}

/// The pool's pads with `ceil=true` turned into floor mode: the end padding
/// grows until the floor formula reaches the ceil-mode output size (PyTorch's
/// rule, from `window_out`). Needs known spatial sizes.
fn floor_pads(p: &Pool, in_shape: &Shape, layer: &str) -> Result<Pads, Refusal> {
    let mut pads = p.pad.onnx();
    if !p.ceil {
        return Ok(pads);
    }
    for (i, dim) in ["height", "width"].into_iter().enumerate() {
        let n = match &in_shape.dims()[2 + i] {
            Dim::Known(n) => *n,
            Dim::Sym(s) => {
                return Err(Refusal::new(
                    format!("`{layer}` with ceil=true over a symbolic {dim} (`{s}`) has no exact ONNX form"),
                    "cnnscript writes ceil mode as extra end padding, which needs a known size (ONNX runtimes disagree on ceil_mode itself); give the model a concrete height and width, or use ceil=false",
                ))
            }
        };
        let (k, s, d) = (p.kernel[i], p.stride[i], p.dilation[i]);
        let out = window_out(n, pads[i], pads[i + 2], k, s, d, true).ok_or_else(|| {
            Refusal::new(
                format!("`{layer}` does not fit its input {in_shape}"),
                "check the model with `cnnscript check`",
            )
        })?;
        let k_eff = d.saturating_mul(k - 1).saturating_add(1);
        let reach = (out - 1).saturating_mul(s).saturating_add(k_eff);
        let padded = n + pads[i] + pads[i + 2];
        pads[i + 2] += reach.saturating_sub(padded);
    }
    Ok(pads)
}

/// For each window along dim `i` (floor mode, pads `before`/`after`),
/// whether every one of its taps falls in the padding.
fn windows_in_padding(n: u64, before: u64, after: u64, p: &Pool, i: usize) -> Vec<bool> {
    let (k, s, d) = (p.kernel[i], p.stride[i], p.dilation[i]);
    let out = window_out(n, before, after, k, s, d, false).unwrap_or(0);
    (0..out)
        .map(|o| {
            (0..k).all(|j| {
                let tap = o * s + j * d;
                tap < before || tap >= before + n
            })
        })
        .collect()
}

/// A `Pad` node (constant `value`) on the layer's input, an inner step
/// named `padded`.
fn explicit_pad(pads: Pads, value: f32, in_shape: &Shape) -> OnnxNode {
    let [top, left, bottom, right] = pads.map(|v| v as i64);
    let mut dims = in_shape.dims().to_vec();
    for (i, total) in [(2, pads[0] + pads[2]), (3, pads[1] + pads[3])] {
        dims[i] = match &dims[i] {
            Dim::Known(n) => Dim::Known(n + total),
            Dim::Sym(s) => Dim::Sym(format!("{s}+{total}")),
        };
    }
    let inputs = vec![
        OnnxInput::Input,
        OnnxInput::Ints {
            name: "pads",
            values: vec![0, 0, top, left, 0, 0, bottom, right],
        },
        OnnxInput::Floats {
            name: "pad_value",
            dims: vec![],
            values: vec![value],
        },
    ];
    OnnxNode::new("Pad", inputs).inner("padded", Shape(dims))
}

/// The arguments both pools give PyTorch: window, stride (when not the
/// window), padding; and whether `torch.nn`'s module can take the padding.
fn torch_args(p: &Pool) -> (Vec<String>, bool) {
    let mut args = vec![format!("kernel_size={}", py_pair(p.kernel))];
    if p.stride != p.kernel {
        args.push(format!("stride={}", py_pair(p.stride)));
    }
    args.extend(p.pad.torch_arg());
    (args, p.pad.symmetric().is_some())
}

/// `nn.MaxPool2d`, or `ScriptMaxPool2d` for per-side padding.
pub(super) fn max_torch(p: &Pool) -> TorchModule {
    let (mut args, symmetric) = torch_args(p);
    if p.dilation != [1, 1] {
        args.push(format!("dilation={}", py_pair(p.dilation)));
    }
    if p.ceil {
        args.push("ceil_mode=True".into());
    }
    if symmetric {
        TorchModule::nn("nn.MaxPool2d", args)
    } else {
        TorchModule {
            class: "ScriptMaxPool2d",
            args,
            helper: Some(SCRIPT_MAXPOOL2D),
        }
    }
}

/// `nn.AvgPool2d` (`count_include_pad` for `count_pad`), or
/// `ScriptAvgPool2d` for per-side padding.
pub(super) fn avg_torch(p: &Pool) -> TorchModule {
    let (mut args, symmetric) = torch_args(p);
    if p.ceil {
        args.push("ceil_mode=True".into());
    }
    if !p.count_pad {
        args.push("count_include_pad=False".into());
    }
    if symmetric {
        TorchModule::nn("nn.AvgPool2d", args)
    } else {
        TorchModule {
            class: "ScriptAvgPool2d",
            args,
            helper: Some(SCRIPT_AVGPOOL2D),
        }
    }
}

/// Global average pooling to `C x 1 x 1`.
pub(super) fn gap_torch() -> TorchModule {
    TorchModule::nn("nn.AdaptiveAvgPool2d", vec!["1".into()])
}

const SCRIPT_MAXPOOL2D: &str = r#"class ScriptMaxPool2d(nn.MaxPool2d):
    """nn.MaxPool2d with padding per side, `pad=(left, right, top, bottom)` (p=same
    with an even window): the padding is -inf, so it never wins."""

    def __init__(self, *args, pad, **kwargs):
        super().__init__(*args, **kwargs)
        self.pad = pad

    def forward(self, x):
        return super().forward(F.pad(x, self.pad, value=float("-inf")))"#;

const SCRIPT_AVGPOOL2D: &str = r#"class ScriptAvgPool2d(nn.AvgPool2d):
    """nn.AvgPool2d with padding per side, `pad=(left, right, top, bottom)` (p=same
    with an even window). The padding counts in the divisor unless
    count_include_pad=False, which divides by the real pixels of each window."""

    def __init__(self, *args, pad, **kwargs):
        super().__init__(*args, **kwargs)
        self.pad = pad

    def forward(self, x):
        total = super().forward(F.pad(x, self.pad))
        if self.count_include_pad:
            return total
        real = super().forward(F.pad(torch.ones_like(x[:1, :1]), self.pad))
        return total / real"#;

//! Pooling: `maxpool` (nn.MaxPool2d, which keeps each window's argmax for
//! backward, so any k/s/p/d works), `avgpool` (nn.AvgPool2d) and `gap`
//! (global average pooling to Cx1x1).

use super::args::{ArgDefault, ArgSpec, ArgType, ArgsText, InputRank, LayerSpec};
use super::call::{Args, IMAGE};
use super::pass::{need_4d, Backward, Forward, ForwardError};
use super::window::{self, Pad4, Window};
use super::{LayerInput, LayerKind, Lowered};
use crate::ir::error::CheckError;
use crate::ir::shape::{Dim, Shape};
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

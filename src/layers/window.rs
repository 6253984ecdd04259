//! Sliding windows, shared by `conv` and the pools: padding resolved per
//! side, output sizes from `ir::shape::window_out` (the one place the
//! formula is written), the receptive-field step, and the formula
//! `shape explain` prints.

use crate::ops::Axis;
use std::fmt::Write;

use super::args::PadSpec;
use super::call::Args;
use crate::ir::error::CheckError;
use crate::ir::shape::{window_out, Dim, Rf, Shape};

/// Padding per side after resolving `same`/`valid`/`p=1x2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Pad4 {
    pub top: u64,
    pub bottom: u64,
    pub left: u64,
    pub right: u64,
}

impl Pad4 {
    /// `h` above and below, `w` left and right.
    pub const fn hw(h: u64, w: u64) -> Pad4 {
        Pad4 {
            top: h,
            bottom: h,
            left: w,
            right: w,
        }
    }

    /// `[height, width]` when opposite sides are equal (what PyTorch's
    /// `padding=` can say).
    pub fn symmetric(&self) -> Option<[u64; 2]> {
        (self.top == self.bottom && self.left == self.right).then_some([self.top, self.left])
    }

    /// ONNX's order: `[top, left, bottom, right]`.
    pub fn onnx(&self) -> [u64; 4] {
        [self.top, self.left, self.bottom, self.right]
    }

    /// The PyTorch argument for padding: `padding=1`, `padding=(1, 2)`, or
    /// `pad=(left, right, top, bottom)` (`F.pad`'s order) for a helper
    /// module when the sides differ; `None` for no padding.
    pub fn torch_arg(&self) -> Option<String> {
        match self.symmetric() {
            Some([0, 0]) => None,
            Some(p) => Some(format!("padding={}", super::export::py_pair(p))),
            None => Some(format!(
                "pad=({}, {}, {}, {})",
                self.left, self.right, self.top, self.bottom
            )),
        }
    }
}

/// The window of a conv or pool layer, per dimension (height, width).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub kernel: [u64; 2],
    pub stride: [u64; 2],
    pub pad: Pad4,
    pub dilation: [u64; 2],
    pub ceil: bool,
}

impl Window {
    fn pads(&self) -> [(u64, u64); 2] {
        [
            (self.pad.top, self.pad.bottom),
            (self.pad.left, self.pad.right),
        ]
    }

    /// Output height and width for an actual input; `None` when the window
    /// no longer fits.
    pub fn out_hw(&self, in_h: usize, in_w: usize) -> Option<[usize; 2]> {
        let pads = self.pads();
        let out = |i: usize, n: usize| {
            let (before, after) = pads[i];
            window_out(
                n as u64,
                before,
                after,
                self.kernel[i],
                self.stride[i],
                self.dilation[i],
                self.ceil,
            )
            .map(|o| o as usize)
        };
        Some([out(0, in_h)?, out(1, in_w)?])
    }

    /// The window over an actual input as the kernels' two [`Axis`] values;
    /// `None` when it no longer fits.
    pub fn axes(&self, in_h: usize, in_w: usize) -> Option<[Axis; 2]> {
        let [out_h, out_w] = self.out_hw(in_h, in_w)?;
        let pads = self.pads();
        let u = |v: u64| v as usize;
        let axis = |i: usize, input: usize, output: usize| Axis {
            input,
            kernel: u(self.kernel[i]),
            stride: u(self.stride[i]),
            dilation: u(self.dilation[i]),
            pad_before: u(pads[i].0),
            pad_after: u(pads[i].1),
            output,
        };
        Some([axis(0, in_h, out_h), axis(1, in_w, out_w)])
    }
}

/// Resolve `p`: explicit per-side, `valid` (0) or `same` (stride 1 only;
/// total `d·(k−1)`, the odd one extra at the bottom/right, as PyTorch).
/// Pools also need `p ≤ ⌊k/2⌋` per dim (PyTorch's rule, on `k`, not the dilated kernel).
pub fn resolve_padding(
    args: &Args,
    kernel: [u64; 2],
    stride: [u64; 2],
    dilation: [u64; 2],
    pool: bool,
) -> Result<Pad4, Vec<CheckError>> {
    let pspan = args.span("p");
    let pad = match args.padding("p")? {
        PadSpec::Valid => Pad4::default(),
        PadSpec::Explicit(p) => p,
        PadSpec::Same => {
            if stride != [1, 1] {
                return Err(vec![CheckError::bad_value(
                    format!(
                        "p=same needs stride 1, but `{}` has s={}x{}",
                        args.spec.name, stride[0], stride[1]
                    ),
                    pspan,
                    "same padding with a stride",
                    "use s=1, or give the padding as a number".into(),
                )]);
            }
            let total = |i: usize| dilation[i].saturating_mul(kernel[i].saturating_sub(1));
            let (th, tw) = (total(0), total(1));
            Pad4 {
                top: th / 2,
                bottom: th - th / 2,
                left: tw / 2,
                right: tw - tw / 2,
            }
        }
    };
    if pool {
        for (i, dim, p) in [
            (0, "height", pad.top.max(pad.bottom)),
            (1, "width", pad.left.max(pad.right)),
        ] {
            if p > kernel[i] / 2 {
                return Err(vec![CheckError::pool_padding(dim, p, kernel[i], pspan)]);
            }
        }
    }
    Ok(pad)
}

/// Output spatial sizes and receptive field of a window over `shape`. A
/// pool's padding can only grow to `k/2`, so its help offers no padding fix
/// beyond that.
pub fn infer(
    args: &Args,
    shape: &Shape,
    w: &Window,
    rf_in: Rf,
    pool: bool,
) -> Result<([Dim; 2], Rf), Vec<CheckError>> {
    let (kernel, stride, dilation) = (w.kernel, w.stride, w.dilation);
    let pads = w.pads();
    let mut out: [Dim; 2] = [Dim::Known(0), Dim::Known(0)];
    let mut rf = rf_in;
    let mut errors = Vec::new();
    for i in 0..2 {
        let dim_name = if i == 0 { "height" } else { "width" };
        let (pb, pa) = pads[i];
        out[i] = match &shape.0[2 + i] {
            Dim::Known(n) => {
                match window_out(*n, pb, pa, kernel[i], stride[i], dilation[i], w.ceil) {
                    Some(o) => Dim::Known(o),
                    None => {
                        let k_eff = dilation[i]
                            .saturating_mul(kernel[i].saturating_sub(1))
                            .saturating_add(1);
                        let need = k_eff.saturating_sub(*n).div_ceil(2);
                        let fix = (!pool || need <= kernel[i] / 2).then_some(need);
                        errors.push(CheckError::kernel_too_big(
                            args.spec.name,
                            dim_name,
                            *n,
                            kernel[i],
                            dilation[i],
                            (pb, pa),
                            fix,
                            args.span("k"),
                        ));
                        continue;
                    }
                }
            }
            Dim::Sym(s) => Dim::Sym(sym_window(s, pb + pa, kernel[i], stride[i], dilation[i])),
        };
        // rf += (k_eff − 1)·jump; jump *= s (unclipped, padding ignored)
        let k_eff = dilation[i]
            .saturating_mul(kernel[i].saturating_sub(1))
            .saturating_add(1);
        rf.size[i] = rf.size[i].saturating_add((k_eff - 1).saturating_mul(rf.jump[i]));
        rf.jump[i] = rf.jump[i].saturating_mul(stride[i]);
    }
    if errors.len() == 2 {
        // both dims fail: one diagnostic at the kernel, naming both
        let width = errors.pop().map(|e| e.label).unwrap_or_default();
        if let Some(first) = errors.first_mut() {
            first.label = format!("{}; {width}", first.label);
        }
    }
    if errors.is_empty() {
        Ok((out, rf))
    } else {
        Err(errors)
    }
}

/// The output-size formula over a symbolic size, simplified where it can be.
fn sym_window(n: &str, pad_total: u64, kernel: u64, stride: u64, dilation: u64) -> String {
    let shrink = dilation.saturating_mul(kernel.saturating_sub(1)) as i128 - pad_total as i128;
    let inner = match shrink {
        0 => n.to_string(),
        s if s > 0 => format!("{n}-{s}"),
        s => format!("{n}+{}", -s),
    };
    if stride == 1 {
        inner
    } else if shrink == 0 {
        format!("({n}-1)/{stride}+1")
    } else {
        format!("({inner}-1)/{stride}+1")
    }
}

/// Receptive field of one window over the whole incoming map (gap, and
/// flatten of a CxHxW map): `rf += (H−1)·jump`, likewise W.
pub fn whole_map(shape: &Shape, rf: Rf) -> Rf {
    let mut out = rf;
    for (i, d) in shape.0[2..4].iter().enumerate() {
        if let Some(n) = d.known() {
            out.size[i] = rf.size[i].saturating_add(n.saturating_sub(1).saturating_mul(rf.jump[i]));
        }
    }
    out
}

/// `shape explain`: each spatial size's formula with the numbers substituted.
pub fn explain(w: &Window, in_shape: &Shape, out_shape: &Shape) -> String {
    let (k, s, d, ceil) = (w.kernel, w.stride, w.dilation, w.ceil);
    let mut out = String::new();
    for (i, name) in ["H", "W"].iter().enumerate() {
        let n = &in_shape.0[2 + i];
        let out_dim = &out_shape.0[2 + i];
        let (pb, pa) = w.pads()[i];
        let pad_term = if pb == pa {
            format!("2·{pb}")
        } else {
            format!("{pb} + {pa}")
        };
        let (open, close) = if ceil { ("⌈", "⌉") } else { ("⌊", "⌋") };
        let _ = write!(
            out,
            "  {name} = {open}({n} + {pad_term} − {}·({}−1) − 1) / {}{close} + 1 = {out_dim}",
            d[i], k[i], s[i]
        );
        if ceil {
            if let Dim::Known(nv) = n {
                let padded = nv + pb + pa;
                let k_eff = d[i] * (k[i] - 1) + 1;
                let raw = (padded - k_eff).div_ceil(s[i]) + 1;
                if Some(raw) != out_dim.known() {
                    let _ = write!(
                        out,
                        "  (the last window would start in the right padding, so one less)"
                    );
                }
            }
        }
        out.push('\n');
    }
    out
}

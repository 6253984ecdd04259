//! `maxpool` and `avgpool` → `MaxPool` / `AveragePool`, exactly.
//!
//! ONNX's `ceil_mode` is not a safe target: ONNX's own shape inference keeps
//! windows that start in the right padding (PyTorch drops them), its
//! reference implementation divides ceil-mode overhang differently from
//! PyTorch, and runtimes differ among themselves. So `ceil=true` is written
//! as floor mode with extra end padding, which every runtime reads alike.
//! Where ONNX's pads still cannot say what PyTorch does, an explicit `Pad`
//! node comes first:
//!
//! - max: onnxruntime refuses pads ≥ the kernel, and a window lying wholly
//!   in padding gives −FLT_MAX there (PyTorch: −∞); padding with −∞
//!   explicitly is exact in both cases.
//! - average with `count_pad=true` and ceil overhang: PyTorch divides by the
//!   window clipped to the padded input; zero padding made explicit and
//!   `count_include_pad=0` gives that divisor.

use super::builder::{int, ints, GraphBuilder};
use super::layers::{LayerIo, Mapped, Refusal};
use crate::ir::layer::{Pad4, Pool};
use crate::ir::shape::{window_out, Dim, Shape};

/// Per-side pads in ONNX's order: `[top, left, bottom, right]`.
type Pads = [u64; 4];

fn onnx_pads(p: &Pad4) -> Pads {
    [p.top, p.left, p.bottom, p.right]
}

/// `maxpool` → `MaxPool`, after a `Pad` with −∞ when ONNX's own pads would not be exact.
pub fn max_pool(b: &mut GraphBuilder, p: &Pool, io: &LayerIo) -> Mapped {
    let pads = floor_pads(p, io.in_shape, "maxpool")?;
    let fits = (0..2).all(|i| {
        pads[i] < p.kernel[i]
            && pads[i + 2] < p.kernel[i]
            && !window_in_padding(
                io.in_shape.dims()[2 + i].known(),
                pads[i],
                pads[i + 2],
                p,
                i,
            )
    });
    let (input, pads) = if pads == [0; 4] || fits {
        (io.input.to_string(), pads)
    } else {
        let x = explicit_pad(b, io, pads, f32::NEG_INFINITY);
        b.doc("maxpool padding made explicit (−∞), as PyTorch pads");
        (x, [0; 4])
    };
    let attrs = vec![
        ints("kernel_shape", &p.kernel),
        ints("strides", &p.stride),
        ints("pads", &pads),
        ints("dilations", &p.dilation),
    ];
    let out = b.node("MaxPool", io.prefix, &[&input], attrs);
    note_ceil(b, p);
    Ok(out)
}

/// `avgpool` → `AveragePool`; with `count_pad=true` and ceil overhang, the
/// padding goes into a `Pad` node so the divisor is the clipped window.
pub fn avg_pool(b: &mut GraphBuilder, p: &Pool, io: &LayerIo) -> Mapped {
    let pads = floor_pads(p, io.in_shape, "avgpool")?;
    let declared = onnx_pads(&p.pad);
    let overhang = pads != declared;
    let (input, pads, count_include_pad) = if !p.count_pad || !overhang {
        (io.input.to_string(), pads, p.count_pad)
    } else if declared == [0; 4] {
        // no padding: the divisor is the window clipped to the input
        (io.input.to_string(), pads, false)
    } else {
        let x = explicit_pad(b, io, declared, 0.0);
        b.doc("avgpool padding made explicit: count_pad=true divides by the window clipped to the padded input");
        let extra = [0, 0, pads[2] - declared[2], pads[3] - declared[3]];
        (x, extra, false)
    };
    let attrs = vec![
        ints("kernel_shape", &p.kernel),
        ints("strides", &p.stride),
        ints("pads", &pads),
        int("count_include_pad", i64::from(count_include_pad)),
    ];
    let out = b.node("AveragePool", io.prefix, &[&input], attrs);
    note_ceil(b, p);
    Ok(out)
}

fn note_ceil(b: &mut GraphBuilder, p: &Pool) {
    if p.ceil {
        b.doc("ceil=true written as floor mode with extra bottom/right padding");
    }
}

/// The pool's pads with `ceil=true` turned into floor mode: the end padding
/// grows until the floor formula reaches the ceil-mode output size (PyTorch's
/// rule, from `window_out`). Needs known spatial sizes.
fn floor_pads(p: &Pool, in_shape: &Shape, layer: &str) -> Result<Pads, Refusal> {
    let mut pads = onnx_pads(&p.pad);
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

/// Whether some window along dim `i` (floor mode, pads `before`/`after`)
/// has every tap in the padding. Unknown size: only possible with dilation.
fn window_in_padding(n: Option<u64>, before: u64, after: u64, p: &Pool, i: usize) -> bool {
    let (k, s, d) = (p.kernel[i], p.stride[i], p.dilation[i]);
    let Some(n) = n else {
        return d > 1 && before + after > 0;
    };
    let Some(out) = window_out(n, before, after, k, s, d, false) else {
        return false;
    };
    (0..out).any(|o| {
        let start = o * s;
        (0..k).all(|j| {
            let tap = start + j * d;
            tap < before || tap >= before + n
        })
    })
}

/// A `Pad` node (constant `value`) before the pool; returns the padded value.
fn explicit_pad(b: &mut GraphBuilder, io: &LayerIo, pads: Pads, value: f32) -> String {
    let [top, left, bottom, right] = pads.map(|v| v as i64);
    let pads_name = b.int_init(
        &format!("{}.pads", io.prefix),
        &[0, 0, top, left, 0, 0, bottom, right],
    );
    let value_name = b.float_init(&format!("{}.pad_value", io.prefix), &[], &[value]);
    let out = b.node(
        "Pad",
        &format!("{}.padded", io.prefix),
        &[io.input, &pads_name, &value_name],
        vec![],
    );
    let mut dims = io.in_shape.dims().to_vec();
    for (i, total) in [(2, pads[0] + pads[2]), (3, pads[1] + pads[3])] {
        dims[i] = match &dims[i] {
            Dim::Known(n) => Dim::Known(n + total),
            Dim::Sym(s) => Dim::Sym(format!("{s}+{total}")),
        };
    }
    b.shape(&out, &Shape(dims));
    out
}

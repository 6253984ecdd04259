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
//! - max: onnxruntime refuses pads ≥ the kernel (possible with dilation
//!   and ceil), so those become a `Pad` with −∞; and where a dilated window
//!   lies wholly in the padding, MaxPool gives the lowest float (onnxruntime,
//!   tract) where PyTorch gives −∞, so a constant −∞ is added at exactly
//!   those outputs.
//! - average with `count_pad=true` and ceil overhang: PyTorch divides by the
//!   window clipped to the padded input; zero padding made explicit and
//!   `count_include_pad=0` gives that divisor.

use super::builder::{int, ints, GraphBuilder};
use super::layers::{LayerIo, Mapped, Refusal};
use crate::ir::shape::{window_out, Dim, Shape};
use crate::layers::{Pad4, Pool};

/// Per-side pads in ONNX's order: `[top, left, bottom, right]`.
type Pads = [u64; 4];

fn onnx_pads(p: &Pad4) -> Pads {
    [p.top, p.left, p.bottom, p.right]
}

/// `maxpool` → `MaxPool`; its padding becomes a `Pad` with −∞ where
/// onnxruntime would refuse it (pads ≥ the kernel), and windows lying wholly
/// in the padding get −∞ added (MaxPool gives the lowest float there).
pub fn max_pool(b: &mut GraphBuilder, p: &Pool, io: &LayerIo) -> Mapped {
    let pads = floor_pads(p, io.in_shape, "maxpool")?;
    let sizes = [io.in_shape.dims()[2].known(), io.in_shape.dims()[3].known()];
    let padded = pads != [0; 4];
    if padded && p.dilation != [1, 1] && sizes.contains(&None) {
        return Err(Refusal::new(
            "`maxpool` with dilation and padding over a symbolic height or width has no exact ONNX form",
            "a dilated window can lie wholly in the padding, where PyTorch gives −∞ and ONNX's MaxPool the lowest float; which windows do depends on the size: give the model a concrete height and width",
        ));
    }
    let fits = (0..2).all(|i| pads[i] < p.kernel[i] && pads[i + 2] < p.kernel[i]);
    let (input, pool_pads) = if fits {
        (io.input.to_string(), pads)
    } else {
        let x = explicit_pad(b, io, pads, f32::NEG_INFINITY);
        b.doc("maxpool padding made explicit (−∞): onnxruntime needs pads smaller than the kernel");
        (x, [0; 4])
    };
    let attrs = vec![
        ints("kernel_shape", &p.kernel),
        ints("strides", &p.stride),
        ints("pads", &pool_pads),
        ints("dilations", &p.dilation),
    ];
    let empty = match sizes {
        [Some(h), Some(w)] if padded => [
            windows_in_padding(h, pads[0], pads[2], p, 0),
            windows_in_padding(w, pads[1], pads[3], p, 1),
        ],
        _ => [vec![], vec![]],
    };
    if !empty.iter().flatten().any(|e| *e) {
        let out = b.node("MaxPool", io.prefix, &[&input], attrs);
        note_ceil(b, p);
        return Ok(out);
    }
    let pooled = b.node("MaxPool", &format!("{}.max", io.prefix), &[&input], attrs);
    note_ceil(b, p);
    b.shape(&pooled, io.out_shape);
    let (rows, cols) = (&empty[0], &empty[1]);
    let mask: Vec<f32> = rows
        .iter()
        .flat_map(|r| {
            cols.iter()
                .map(move |c| if *r || *c { f32::NEG_INFINITY } else { 0.0 })
        })
        .collect();
    let mask_name = b.float_init(
        &format!("{}.empty_windows", io.prefix),
        &[1, 1, rows.len(), cols.len()],
        &mask,
    );
    let out = b.node("Add", io.prefix, &[&pooled, &mask_name], vec![]);
    b.doc("windows lying wholly in the padding give −∞, as in PyTorch");
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

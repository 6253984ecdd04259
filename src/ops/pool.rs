//! 2-D max and average pooling, and global average pooling, over NCHW data.
//!
//! Window of output (oh, ow): rows ih = oh·s_h − pad_top + i·d_h, columns
//! iw = ow·s_w − pad_left + j·d_w, for i < k_h, j < k_w. Every (batch,
//! channel) plane is pooled independently, so planes are the unit of
//! parallel work.

use super::geom::clip_range;
use super::isa::{self, Isa};
use super::vector;
use super::PoolGeom;
use rayon::prelude::*;

/// Planes × plane size below which pooling stays on the calling thread.
const PARALLEL_MIN_ELEMENTS: usize = 1 << 15;

fn use_pool(total: usize) -> bool {
    total >= PARALLEL_MIN_ELEMENTS && rayon::current_num_threads() > 1
}

fn check_lengths(g: &PoolGeom, x: usize, y: usize) {
    assert!(
        g.stride_h > 0 && g.stride_w > 0,
        "pool: stride must be positive"
    );
    let planes = g.batch * g.channels;
    assert_eq!(x, planes * g.in_h * g.in_w, "pool: input length");
    assert_eq!(y, planes * g.out_h * g.out_w, "pool: output length");
}

/// Run `f(x_plane, y_plane...)` over matching planes, in parallel when large.
fn for_each_plane<A: Send, B: Send>(
    total: usize,
    a: impl IndexedParallelIterator<Item = A>,
    b: impl IndexedParallelIterator<Item = B>,
    f: impl Fn(A, B) + Sync + Send,
) {
    if use_pool(total) {
        a.zip(b).for_each(|(a, b)| f(a, b));
    } else {
        // An unsplittable iterator runs on the calling thread, no pool hand-off.
        a.zip(b).with_min_len(usize::MAX).for_each(|(a, b)| f(a, b));
    }
}

/// Max pooling forward: taps outside the input count as −∞. `argmax` gets the
/// flat index `ih·in_w + iw` of each maximum within its plane (first maximum
/// in row-major window order; a NaN wins, as in PyTorch), or `u32::MAX` for a
/// window lying entirely in padding, whose output is −∞.
pub fn maxpool2d_forward(g: &PoolGeom, x: &[f32], y: &mut [f32], argmax: &mut [u32]) {
    check_lengths(g, x.len(), y.len());
    assert_eq!(argmax.len(), y.len(), "maxpool: argmax length");
    assert!(
        g.in_h * g.in_w <= u32::MAX as usize,
        "maxpool: plane too large for u32 indices"
    );
    let (in_plane, out_plane) = (g.in_h * g.in_w, g.out_h * g.out_w);
    if out_plane == 0 || in_plane == 0 {
        y.fill(f32::NEG_INFINITY);
        argmax.fill(u32::MAX);
        return;
    }
    let isa = isa::current();
    let plane = |x_plane: &[f32], (y_plane, arg_plane): (&mut [f32], &mut [u32])| {
        maxpool_plane::<true>(isa, g, x_plane, y_plane, arg_plane)
    };
    for_each_plane(
        x.len(),
        x.par_chunks(in_plane),
        y.par_chunks_mut(out_plane)
            .zip(argmax.par_chunks_mut(out_plane)),
        plane,
    );
}

/// Max pooling forward for inference: the values of [`maxpool2d_forward`]
/// without its positions.
pub fn maxpool2d_forward_values(g: &PoolGeom, x: &[f32], y: &mut [f32]) {
    check_lengths(g, x.len(), y.len());
    let (in_plane, out_plane) = (g.in_h * g.in_w, g.out_h * g.out_w);
    if out_plane == 0 || in_plane == 0 {
        y.fill(f32::NEG_INFINITY);
        return;
    }
    let isa = isa::current();
    let plane = |x_plane: &[f32], y_plane: &mut [f32]| {
        maxpool_plane::<false>(isa, g, x_plane, y_plane, &mut [])
    };
    for_each_plane(
        x.len(),
        x.par_chunks(in_plane),
        y.par_chunks_mut(out_plane),
        plane,
    );
}

/// One plane; with `ARG` false `arg_plane` is empty and only values are
/// kept (inference).
fn maxpool_plane<const ARG: bool>(
    isa: Isa,
    g: &PoolGeom,
    x_plane: &[f32],
    y_plane: &mut [f32],
    arg_plane: &mut [u32],
) {
    // Columns whose whole window row lies inside the input: there every
    // tap (i, j) is a strided run over the row, swept for all windows at
    // once. Visiting taps in (i, j) order keeps each window's row-major order.
    let span_w = (g.k_w - 1) * g.dil_w;
    let interior_lo = g.pad_left.div_ceil(g.stride_w).min(g.out_w);
    let interior_hi = if g.in_w + g.pad_left > span_w {
        (g.in_w + g.pad_left - span_w)
            .div_ceil(g.stride_w)
            .clamp(interior_lo, g.out_w)
    } else {
        interior_lo
    };
    let mut no_args: [u32; 0] = [];
    for (oh, y_row) in y_plane.chunks_exact_mut(g.out_w).enumerate() {
        let arg_row: &mut [u32] = if ARG {
            &mut arg_plane[oh * g.out_w..(oh + 1) * g.out_w]
        } else {
            &mut no_args
        };
        let h_start = (oh * g.stride_h) as isize - g.pad_top as isize;
        let taps_h = clip_range(g.k_h, g.dil_h, h_start, g.in_h);
        y_row.fill(f32::NEG_INFINITY);
        arg_row.fill(u32::MAX);
        if taps_h.is_empty() {
            continue;
        }
        let first_h = (h_start + (taps_h.start * g.dil_h) as isize) as usize;
        let border = (0..interior_lo).chain(interior_hi..g.out_w);
        for ow in border {
            let w_start = (ow * g.stride_w) as isize - g.pad_left as isize;
            let taps_w = clip_range(g.k_w, g.dil_w, w_start, g.in_w);
            if taps_w.is_empty() {
                continue;
            }
            // PyTorch starts from the first real tap, so an all −∞ window
            // still points at a pixel.
            let first_w = (w_start + (taps_w.start * g.dil_w) as isize) as usize;
            let (mut best, mut best_at) = (f32::NEG_INFINITY, (first_h * g.in_w + first_w) as u32);
            for i in taps_h.clone() {
                let ih = (h_start + (i * g.dil_h) as isize) as usize;
                for j in taps_w.clone() {
                    let at = ih * g.in_w + (w_start + (j * g.dil_w) as isize) as usize;
                    let v = x_plane[at];
                    if v > best || v.is_nan() {
                        best = v;
                        best_at = at as u32;
                    }
                }
            }
            y_row[ow] = best;
            if ARG {
                arg_row[ow] = best_at;
            }
        }
        if interior_lo == interior_hi {
            continue;
        }
        let y_run = &mut y_row[interior_lo..interior_hi];
        if !ARG {
            for i in taps_h {
                let ih = (h_start + (i * g.dil_h) as isize) as usize;
                for j in 0..g.k_w {
                    let iw = interior_lo * g.stride_w + j * g.dil_w - g.pad_left;
                    let x_run = &x_plane[ih * g.in_w + iw..(ih + 1) * g.in_w];
                    vector::max_update(isa, y_run, x_run, g.stride_w);
                }
            }
            continue;
        }
        let arg_run = &mut arg_row[interior_lo..interior_hi];
        for i in taps_h {
            let ih = (h_start + (i * g.dil_h) as isize) as usize;
            for j in 0..g.k_w {
                let iw = interior_lo * g.stride_w + j * g.dil_w - g.pad_left;
                let x_run = &x_plane[ih * g.in_w + iw..(ih + 1) * g.in_w];
                let base = (ih * g.in_w + iw) as u32;
                vector::argmax_update(isa, y_run, arg_run, x_run, g.stride_w, base);
            }
        }
        // Windows of only −∞ kept no index: point them at their first tap.
        for (w, at) in arg_run.iter_mut().enumerate() {
            if *at == u32::MAX {
                *at = (first_h * g.in_w + (interior_lo + w) * g.stride_w - g.pad_left) as u32;
            }
        }
    }
}

/// Max pooling backward: dx[argmax] += dy for every output, so overlapping
/// windows (any kernel, stride, padding, dilation, ceil mode) accumulate.
pub fn maxpool2d_backward(g: &PoolGeom, argmax: &[u32], dy: &[f32], dx: &mut [f32]) {
    check_lengths(g, dx.len(), dy.len());
    assert_eq!(argmax.len(), dy.len(), "maxpool: argmax length");
    let (in_plane, out_plane) = (g.in_h * g.in_w, g.out_h * g.out_w);
    if out_plane == 0 || in_plane == 0 {
        return;
    }
    let plane = |dx_plane: &mut [f32], (arg_plane, dy_plane): (&[u32], &[f32])| {
        for (&at, &grad) in arg_plane.iter().zip(dy_plane) {
            if at != u32::MAX {
                dx_plane[at as usize] += grad;
            }
        }
    };
    for_each_plane(
        dx.len(),
        dx.par_chunks_mut(in_plane),
        argmax.par_chunks(out_plane).zip(dy.par_chunks(out_plane)),
        plane,
    );
}

/// The window of (oh, ow) for average pooling, clipped to the input, and the
/// divisor PyTorch uses for it.
struct AvgWindow {
    h: (usize, usize),
    w: (usize, usize),
    divisor: usize,
}

/// PyTorch's rule: with `count_pad`, the divisor is the window clipped to the
/// padded input `[−pad, in + pad_after)` (ceil-mode overhang past that is not
/// counted); without, it is the number of real pixels in the window.
fn avg_window(g: &PoolGeom, count_pad: bool, oh: usize, ow: usize) -> AvgWindow {
    let h_start = (oh * g.stride_h) as isize - g.pad_top as isize;
    let w_start = (ow * g.stride_w) as isize - g.pad_left as isize;
    let h_end = (h_start + g.k_h as isize).min((g.in_h + g.pad_bottom) as isize);
    let w_end = (w_start + g.k_w as isize).min((g.in_w + g.pad_right) as isize);
    let padded_size = (h_end - h_start).max(0) * (w_end - w_start).max(0);
    let h = (
        h_start.max(0) as usize,
        h_end.clamp(0, g.in_h as isize) as usize,
    );
    let w = (
        w_start.max(0) as usize,
        w_end.clamp(0, g.in_w as isize) as usize,
    );
    let h = (h.0.min(h.1), h.1);
    let w = (w.0.min(w.1), w.1);
    let divisor = if count_pad {
        padded_size as usize
    } else {
        (h.1 - h.0) * (w.1 - w.0)
    };
    AvgWindow { h, w, divisor }
}

/// Average pooling forward (no dilation; the geometry's `dil_*` are ignored).
/// A window with divisor 0 (only possible without `count_pad`, entirely in
/// padding) outputs 0.
pub fn avgpool2d_forward(g: &PoolGeom, count_pad: bool, x: &[f32], y: &mut [f32]) {
    check_lengths(g, x.len(), y.len());
    let (in_plane, out_plane) = (g.in_h * g.in_w, g.out_h * g.out_w);
    if out_plane == 0 {
        return;
    }
    if in_plane == 0 {
        y.fill(0.0);
        return;
    }
    let plane = |x_plane: &[f32], y_plane: &mut [f32]| {
        for oh in 0..g.out_h {
            for ow in 0..g.out_w {
                let window = avg_window(g, count_pad, oh, ow);
                let mut sum = 0.0f32;
                for ih in window.h.0..window.h.1 {
                    sum += x_plane[ih * g.in_w + window.w.0..ih * g.in_w + window.w.1]
                        .iter()
                        .sum::<f32>();
                }
                y_plane[oh * g.out_w + ow] = if window.divisor == 0 {
                    0.0
                } else {
                    sum / window.divisor as f32
                };
            }
        }
    };
    for_each_plane(
        x.len(),
        x.par_chunks(in_plane),
        y.par_chunks_mut(out_plane),
        plane,
    );
}

/// Average pooling backward: every pixel of a window gets dy / divisor.
pub fn avgpool2d_backward(g: &PoolGeom, count_pad: bool, dy: &[f32], dx: &mut [f32]) {
    check_lengths(g, dx.len(), dy.len());
    let (in_plane, out_plane) = (g.in_h * g.in_w, g.out_h * g.out_w);
    if out_plane == 0 || in_plane == 0 {
        return;
    }
    let plane = |dx_plane: &mut [f32], dy_plane: &[f32]| {
        for oh in 0..g.out_h {
            for ow in 0..g.out_w {
                let window = avg_window(g, count_pad, oh, ow);
                if window.divisor == 0 {
                    continue;
                }
                let share = dy_plane[oh * g.out_w + ow] / window.divisor as f32;
                for ih in window.h.0..window.h.1 {
                    dx_plane[ih * g.in_w + window.w.0..ih * g.in_w + window.w.1]
                        .iter_mut()
                        .for_each(|d| *d += share);
                }
            }
        }
    };
    for_each_plane(
        dx.len(),
        dx.par_chunks_mut(in_plane),
        dy.par_chunks(out_plane),
        plane,
    );
}

/// Global average pool: y[n, c] = mean over the plane of x[n, c, ·].
pub fn gap_forward(batch: usize, channels: usize, plane: usize, x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), batch * channels * plane, "gap: input length");
    assert_eq!(y.len(), batch * channels, "gap: output length");
    if plane == 0 {
        y.fill(0.0);
        return;
    }
    for (mean, x_plane) in y.iter_mut().zip(x.chunks_exact(plane)) {
        *mean = (x_plane.iter().map(|&v| v as f64).sum::<f64>() / plane as f64) as f32;
    }
}

/// Global average pool backward: dx[n, c, ·] += dy[n, c] / plane.
pub fn gap_backward(batch: usize, channels: usize, plane: usize, dy: &[f32], dx: &mut [f32]) {
    assert_eq!(dx.len(), batch * channels * plane, "gap: input length");
    assert_eq!(dy.len(), batch * channels, "gap: output length");
    if plane == 0 {
        return;
    }
    for (&grad, dx_plane) in dy.iter().zip(dx.chunks_exact_mut(plane)) {
        let share = grad / plane as f32;
        dx_plane.iter_mut().for_each(|d| *d += share);
    }
}

#[cfg(test)]
mod tests;

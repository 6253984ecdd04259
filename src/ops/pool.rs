//! 2-D max and average pooling, and global average pooling, over NCHW data.
//!
//! Window of output (oh, ow): rows ih = oh·s_h − pad_top + i·d_h, columns
//! iw = ow·s_w − pad_left + j·d_w, for i < k_h, j < k_w. Every (batch,
//! channel) plane is pooled independently, so planes are the unit of
//! parallel work.

use super::vector;
use super::PoolGeom;
use rayon::prelude::*;

/// Planes × plane size below which pooling stays on the calling thread.
const PARALLEL_MIN_ELEMENTS: usize = 1 << 15;

fn use_pool(total: usize) -> bool {
    total >= PARALLEL_MIN_ELEMENTS && rayon::current_num_threads() > 1
}

/// Taps `[lo, hi)` of a window starting at `start` (may be negative) with
/// `k` taps spaced `dil` apart that land inside `0..in_len`.
fn tap_range(start: isize, k: usize, dil: usize, in_len: usize) -> (usize, usize) {
    let dil = dil as isize;
    let lo = if start >= 0 {
        0
    } else {
        (-start + dil - 1) / dil
    };
    let room = in_len as isize - start;
    let hi = if room <= 0 {
        0
    } else {
        ((room + dil - 1) / dil).min(k as isize)
    };
    (lo.min(hi) as usize, hi as usize)
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
    let plane = |x_plane: &[f32], (y_plane, arg_plane): (&mut [f32], &mut [u32])| {
        maxpool_plane(g, x_plane, y_plane, arg_plane)
    };
    for_each_plane(
        x.len(),
        x.par_chunks(in_plane),
        y.par_chunks_mut(out_plane)
            .zip(argmax.par_chunks_mut(out_plane)),
        plane,
    );
}

fn maxpool_plane(g: &PoolGeom, x_plane: &[f32], y_plane: &mut [f32], arg_plane: &mut [u32]) {
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
    let y_rows = y_plane.chunks_exact_mut(g.out_w);
    let arg_rows = arg_plane.chunks_exact_mut(g.out_w);
    for (oh, (y_row, arg_row)) in y_rows.zip(arg_rows).enumerate() {
        let h_start = (oh * g.stride_h) as isize - g.pad_top as isize;
        let (i_lo, i_hi) = tap_range(h_start, g.k_h, g.dil_h, g.in_h);
        y_row.fill(f32::NEG_INFINITY);
        arg_row.fill(u32::MAX);
        if i_lo == i_hi {
            continue;
        }
        let first_h = (h_start + (i_lo * g.dil_h) as isize) as usize;
        let border = (0..interior_lo).chain(interior_hi..g.out_w);
        for ow in border {
            let w_start = (ow * g.stride_w) as isize - g.pad_left as isize;
            let (j_lo, j_hi) = tap_range(w_start, g.k_w, g.dil_w, g.in_w);
            if j_lo == j_hi {
                continue;
            }
            // PyTorch starts from the first real tap, so an all −∞ window
            // still points at a pixel.
            let first_w = (w_start + (j_lo * g.dil_w) as isize) as usize;
            let (mut best, mut best_at) = (f32::NEG_INFINITY, (first_h * g.in_w + first_w) as u32);
            for i in i_lo..i_hi {
                let ih = (h_start + (i * g.dil_h) as isize) as usize;
                for j in j_lo..j_hi {
                    let at = ih * g.in_w + (w_start + (j * g.dil_w) as isize) as usize;
                    let v = x_plane[at];
                    if v > best || v.is_nan() {
                        best = v;
                        best_at = at as u32;
                    }
                }
            }
            y_row[ow] = best;
            arg_row[ow] = best_at;
        }
        if interior_lo == interior_hi {
            continue;
        }
        let (y_run, arg_run) = (
            &mut y_row[interior_lo..interior_hi],
            &mut arg_row[interior_lo..interior_hi],
        );
        for i in i_lo..i_hi {
            let ih = (h_start + (i * g.dil_h) as isize) as usize;
            for j in 0..g.k_w {
                let iw = interior_lo * g.stride_w + j * g.dil_w - g.pad_left;
                let x_run = &x_plane[ih * g.in_w + iw..(ih + 1) * g.in_w];
                vector::argmax_update(y_run, arg_run, x_run, g.stride_w, (ih * g.in_w + iw) as u32);
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
mod tests {
    use super::*;
    use crate::ops::testutil::{assert_close, dot, numeric_grad, random_vec, to_f64};
    use proptest::prelude::*;

    /// PyTorch's output length, floor or ceil mode; in ceil mode the last
    /// window must start inside the input or left padding.
    fn out_len(
        input: usize,
        pad_before: usize,
        pad_after: usize,
        dil: usize,
        k: usize,
        s: usize,
        ceil: bool,
    ) -> usize {
        let span = dil * (k - 1) + 1;
        let padded = input + pad_before + pad_after;
        if padded < span {
            return 0;
        }
        let mut out = if ceil {
            (padded - span).div_ceil(s) + 1
        } else {
            (padded - span) / s + 1
        };
        if ceil && (out - 1) * s >= input + pad_before {
            out -= 1;
        }
        out
    }

    prop_compose! {
        fn geometry()(batch in 1usize..3, channels in 1usize..3, in_h in 1usize..8,
                      in_w in 1usize..8, k_h in 1usize..4, k_w in 1usize..4,
                      stride_h in 1usize..4, stride_w in 1usize..4, pad_top in 0usize..3,
                      pad_bottom in 0usize..3, pad_left in 0usize..3, pad_right in 0usize..3,
                      dil_h in 1usize..3, dil_w in 1usize..3, ceil: bool) -> PoolGeom {
            PoolGeom {
                batch, channels, in_h, in_w, k_h, k_w, stride_h, stride_w,
                pad_top, pad_bottom, pad_left, pad_right, dil_h, dil_w,
                out_h: out_len(in_h, pad_top, pad_bottom, dil_h, k_h, stride_h, ceil),
                out_w: out_len(in_w, pad_left, pad_right, dil_w, k_w, stride_w, ceil),
            }
        }
    }

    /// Max pooling straight from the definition, in f64; −∞ for empty windows.
    fn reference_max(g: &PoolGeom, x: &[f64]) -> Vec<f64> {
        let mut y = Vec::new();
        for x_plane in x.chunks(g.in_h * g.in_w) {
            for oh in 0..g.out_h {
                for ow in 0..g.out_w {
                    let mut best = f64::NEG_INFINITY;
                    for i in 0..g.k_h {
                        for j in 0..g.k_w {
                            let ih = (oh * g.stride_h + i * g.dil_h) as isize - g.pad_top as isize;
                            let iw = (ow * g.stride_w + j * g.dil_w) as isize - g.pad_left as isize;
                            if ih >= 0
                                && iw >= 0
                                && (ih as usize) < g.in_h
                                && (iw as usize) < g.in_w
                            {
                                best = best.max(x_plane[ih as usize * g.in_w + iw as usize]);
                            }
                        }
                    }
                    y.push(best);
                }
            }
        }
        y
    }

    /// Average pooling from PyTorch's definition (`avg_pool2d` CPU kernel).
    fn reference_avg(g: &PoolGeom, count_pad: bool, x: &[f64]) -> Vec<f64> {
        let mut y = Vec::new();
        for x_plane in x.chunks(g.in_h * g.in_w) {
            for oh in 0..g.out_h {
                for ow in 0..g.out_w {
                    let h0 = (oh * g.stride_h) as isize - g.pad_top as isize;
                    let w0 = (ow * g.stride_w) as isize - g.pad_left as isize;
                    let h1 = (h0 + g.k_h as isize).min((g.in_h + g.pad_bottom) as isize);
                    let w1 = (w0 + g.k_w as isize).min((g.in_w + g.pad_right) as isize);
                    let pool_size = (h1 - h0) * (w1 - w0);
                    let (mut sum, mut count) = (0.0, 0);
                    for ih in h0.max(0)..h1.min(g.in_h as isize) {
                        for iw in w0.max(0)..w1.min(g.in_w as isize) {
                            sum += x_plane[ih as usize * g.in_w + iw as usize];
                            count += 1;
                        }
                    }
                    let divisor = if count_pad { pool_size } else { count };
                    y.push(if divisor == 0 {
                        0.0
                    } else {
                        sum / divisor as f64
                    });
                }
            }
        }
        y
    }

    /// Distinct values spaced ≥ 0.05 apart, so a finite-difference step of
    /// 1e-3 never changes which tap is the maximum.
    fn distinct_values(len: usize, seed: u64) -> Vec<f32> {
        let keys = random_vec(len, seed);
        let mut order: Vec<usize> = (0..len).collect();
        order.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]));
        let mut values = vec![0.0; len];
        for (rank, &at) in order.iter().enumerate() {
            values[at] = rank as f32 * 0.05 - 1.0;
        }
        values
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn maxpool_matches_reference_and_finite_differences(g in geometry(), seed: u64) {
            let x = distinct_values(g.batch * g.channels * g.in_h * g.in_w, seed);
            let out = g.batch * g.channels * g.out_h * g.out_w;
            let (mut y, mut argmax) = (vec![0.0; out], vec![0; out]);
            maxpool2d_forward(&g, &x, &mut y, &mut argmax);
            let expected = reference_max(&g, &to_f64(&x));
            for (a, e) in y.iter().zip(&expected) {
                prop_assert!((*a as f64 == *e) || (a.is_infinite() && e.is_infinite()));
            }
            // Backward: d(Σ dy·y)/dx by central differences, skipping −∞ outputs.
            let dy: Vec<f32> = random_vec(out, seed + 1)
                .into_iter().zip(&expected).map(|(d, e)| if e.is_finite() { d } else { 0.0 }).collect();
            let dy64 = to_f64(&dy);
            let mut dx = vec![0.25; x.len()];
            maxpool2d_backward(&g, &argmax, &dy, &mut dx);
            let fd = numeric_grad(|x| {
                let y = reference_max(&g, x);
                dy64.iter().zip(&y).filter(|(_, y)| y.is_finite()).map(|(d, y)| d * y).sum()
            }, &to_f64(&x), 1e-3);
            let fd: Vec<f64> = fd.into_iter().map(|v| v + 0.25).collect();
            assert_close(&dx, &fd, 1e-4);
        }

        #[test]
        fn avgpool_matches_reference_and_finite_differences(g in geometry(), count_pad: bool, seed: u64) {
            let g = PoolGeom { dil_h: 1, dil_w: 1, ..g };
            let x = random_vec(g.batch * g.channels * g.in_h * g.in_w, seed);
            let out = g.batch * g.channels * g.out_h * g.out_w;
            let mut y = vec![f32::NAN; out];
            avgpool2d_forward(&g, count_pad, &x, &mut y);
            let x64 = to_f64(&x);
            assert_close(&y, &reference_avg(&g, count_pad, &x64), 1e-5);
            let dy = random_vec(out, seed + 1);
            let dy64 = to_f64(&dy);
            let mut dx = vec![0.25; x.len()];
            avgpool2d_backward(&g, count_pad, &dy, &mut dx);
            let fd = numeric_grad(|x| dot(&dy64, &reference_avg(&g, count_pad, x)), &x64, 1e-3);
            let fd: Vec<f64> = fd.into_iter().map(|v| v + 0.25).collect();
            assert_close(&dx, &fd, 1e-4);
        }
    }

    #[test]
    fn maxpool_chapter_example() {
        // PyTorch: X = torch.arange(32.).reshape(1, 2, 4, 4)
        //          nn.MaxPool2d(3, stride=(2, 1), padding=1)(X).flatten()
        let g = PoolGeom {
            batch: 1,
            channels: 2,
            in_h: 4,
            in_w: 4,
            k_h: 3,
            k_w: 3,
            stride_h: 2,
            stride_w: 1,
            pad_top: 1,
            pad_bottom: 1,
            pad_left: 1,
            pad_right: 1,
            dil_h: 1,
            dil_w: 1,
            out_h: 2,
            out_w: 4,
        };
        let x: Vec<f32> = (0..32).map(|v| v as f32).collect();
        let (mut y, mut argmax) = (vec![0.0; 16], vec![0; 16]);
        maxpool2d_forward(&g, &x, &mut y, &mut argmax);
        let expected = [5, 6, 7, 7, 13, 14, 15, 15, 21, 22, 23, 23, 29, 30, 31, 31];
        assert_eq!(y, expected.map(|v| v as f32).to_vec());
        // Indices are within each 4×4 plane: second channel's 21 is 21 − 16.
        assert_eq!(argmax[..4], [5, 6, 7, 7]);
        assert_eq!(argmax[8..12], [5, 6, 7, 7]);
    }

    #[test]
    fn maxpool_ties_pick_first_and_nan_wins() {
        // One 2×2 window, stride 2: first of equal maxima (row-major), and NaN beats everything.
        let g = PoolGeom {
            batch: 1,
            channels: 2,
            in_h: 2,
            in_w: 2,
            k_h: 2,
            k_w: 2,
            stride_h: 2,
            stride_w: 2,
            pad_top: 0,
            pad_bottom: 0,
            pad_left: 0,
            pad_right: 0,
            dil_h: 1,
            dil_w: 1,
            out_h: 1,
            out_w: 1,
        };
        let x = [1.0, 3.0, 3.0, 2.0, 1.0, f32::NAN, 9.0, 2.0];
        let (mut y, mut argmax) = (vec![0.0; 2], vec![0; 2]);
        maxpool2d_forward(&g, &x, &mut y, &mut argmax);
        assert_eq!((y[0], argmax[0]), (3.0, 1));
        assert!(y[1].is_nan());
        assert_eq!(argmax[1], 1);
    }

    #[test]
    fn maxpool_all_neg_infinity_points_at_first_tap() {
        // PyTorch's CPU kernel starts each window's index at its first real
        // pixel, so a window of only −∞ still returns that pixel's index.
        let g = PoolGeom {
            batch: 1,
            channels: 1,
            in_h: 4,
            in_w: 5,
            k_h: 2,
            k_w: 2,
            stride_h: 2,
            stride_w: 1,
            pad_top: 0,
            pad_bottom: 0,
            pad_left: 1,
            pad_right: 0,
            dil_h: 1,
            dil_w: 1,
            out_h: 2,
            out_w: 5,
        };
        let x = vec![f32::NEG_INFINITY; 20];
        let (mut y, mut argmax) = (vec![0.0; 10], vec![0; 10]);
        maxpool2d_forward(&g, &x, &mut y, &mut argmax);
        assert!(y.iter().all(|&v| v == f32::NEG_INFINITY));
        assert_eq!(argmax, vec![0, 0, 1, 2, 3, 10, 10, 11, 12, 13]);
    }

    #[test]
    fn maxpool_window_in_padding_is_neg_infinity() {
        // 1×1 input, k=1, padding 1: the corner windows see only padding.
        let g = PoolGeom {
            batch: 1,
            channels: 1,
            in_h: 1,
            in_w: 1,
            k_h: 1,
            k_w: 1,
            stride_h: 1,
            stride_w: 1,
            pad_top: 1,
            pad_bottom: 1,
            pad_left: 1,
            pad_right: 1,
            dil_h: 1,
            dil_w: 1,
            out_h: 3,
            out_w: 3,
        };
        let (mut y, mut argmax) = (vec![0.0; 9], vec![0; 9]);
        maxpool2d_forward(&g, &[4.0], &mut y, &mut argmax);
        assert_eq!(y[4], 4.0);
        assert_eq!(y[0], f32::NEG_INFINITY);
        assert_eq!(argmax[0], u32::MAX);
        let mut dx = vec![0.0];
        maxpool2d_backward(&g, &argmax, &[1.0; 9], &mut dx);
        assert_eq!(dx, vec![1.0]);
    }

    #[test]
    fn avgpool_ceil_overhang_not_counted() {
        // PyTorch: F.avg_pool2d(torch.arange(9.).reshape(1,1,3,3), 2, stride=2,
        //          ceil_mode=True, count_include_pad=True) = [[2, 3.5], [6.5, 8]]:
        // the overhanging windows divide by the clipped size, not 4.
        let g = PoolGeom {
            batch: 1,
            channels: 1,
            in_h: 3,
            in_w: 3,
            k_h: 2,
            k_w: 2,
            stride_h: 2,
            stride_w: 2,
            pad_top: 0,
            pad_bottom: 0,
            pad_left: 0,
            pad_right: 0,
            dil_h: 1,
            dil_w: 1,
            out_h: 2,
            out_w: 2,
        };
        let x: Vec<f32> = (0..9).map(|v| v as f32).collect();
        let mut y = vec![0.0; 4];
        avgpool2d_forward(&g, true, &x, &mut y);
        assert_eq!(y, vec![2.0, 3.5, 6.5, 8.0]);
    }

    #[test]
    fn global_average_pool() {
        // Mean of each 2×2 plane; gradient is dy / 4 on every pixel.
        let x = [1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0, 8.0];
        let mut y = vec![0.0; 2];
        gap_forward(1, 2, 4, &x, &mut y);
        assert_eq!(y, vec![2.5, 2.0]);
        let mut dx = vec![1.0; 8];
        gap_backward(1, 2, 4, &[4.0, -8.0], &mut dx);
        assert_eq!(dx, vec![2.0, 2.0, 2.0, 2.0, -1.0, -1.0, -1.0, -1.0]);
    }
}

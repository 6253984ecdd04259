//! Vector primitives for the direct (non-GEMM) kernels, compiled twice: once
//! for the baseline target and once with AVX2+FMA, the copy chosen by the
//! caller's kernel family (`ops::isa`).
//!
//! The crate is built for generic x86-64 (SSE2), so without this the
//! compiler's auto-vectorised loops are 4 wide with separate multiply and
//! add; the AVX2+FMA copies are 8 wide with fused multiply-adds. (The
//! branch-free max-pool sweep gained most: 125 → 47 ms on the benchmark.)

use super::isa::Isa;

/// Defines `pub fn $name(isa, ...)` that runs `$body` compiled with
/// AVX2+FMA when `isa` allows them and as plain code otherwise. `$fused`
/// is true in the AVX2 copy, for bodies that want `mul_add` (a slow library
/// call without FMA).
macro_rules! dispatch {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?, $fused:ident => $body:block) => {
        $(#[$doc])*
        pub fn $name(isa: Isa, $($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body<const FUSED: bool>($($arg: $ty),*) $(-> $ret)? {
                let $fused: bool = FUSED;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    body::<true>($($arg),*)
                }
                if isa.avx2_fma() {
                    // SAFETY: `avx2` only needs the AVX2 and FMA instructions,
                    // and `ops::isa` grants an `Isa` that allows them only
                    // after detecting both on this CPU.
                    return unsafe { avx2($($arg),*) };
                }
            }
            let _ = isa;
            body::<false>($($arg),*)
        }
    };
}

/// a·b + c, fused when `FUSED` (the AVX2+FMA copy).
#[inline(always)]
fn multiply_add<const FUSED: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FUSED {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

dispatch! {
    /// Σ (p − t)² over the common length, vectorised (f32 lanes, f64
    /// between blocks); with `dpred` also dpred = scale·(p − t), or
    /// dpred += scale·(p − t) when `accumulate`.
    fn squared_error(pred: &[f32], target: &[f32], scale: f32, dpred: Option<&mut [f32]>, accumulate: bool) -> f64, fused => {
        let _ = fused;
        // f32 lanes over blocks of 256 (as PyTorch sums in f32), each
        // block's sum carried on in f64.
        let mut total = 0.0f64;
        for (p, t) in pred.chunks(256).zip(target.chunks(256)) {
            let mut lanes = [0.0f32; 16];
            let (p16, t16) = (p.chunks_exact(16), t.chunks_exact(16));
            let rest: f32 = (p16.remainder().iter().zip(t16.remainder()))
                .map(|(&p, &t)| (p - t) * (p - t))
                .sum();
            for (p, t) in p16.zip(t16) {
                for j in 0..16 {
                    lanes[j] += (p[j] - t[j]) * (p[j] - t[j]);
                }
            }
            total += lanes.iter().map(|&v| v as f64).sum::<f64>() + rest as f64;
        }
        if let Some(dpred) = dpred {
            let pairs = dpred.iter_mut().zip(pred).zip(target);
            if accumulate {
                pairs.for_each(|((d, &p), &t)| *d += scale * (p - t));
            } else {
                pairs.for_each(|((d, &p), &t)| *d = scale * (p - t));
            }
        }
        total
    }
}

dispatch! {
    /// y[i] += alpha · x[i] over the common length.
    fn axpy(y: &mut [f32], x: &[f32], alpha: f32), fused => {
        let fused_add = if fused { multiply_add::<true> } else { multiply_add::<false> };
        y.iter_mut().zip(x).for_each(|(y, &x)| *y = fused_add(alpha, x, *y));
    }
}

dispatch! {
    /// Σ a[i]·b[i] over the common length, with eight independent partial
    /// sums so the loop vectorises (one running sum cannot be reordered).
    fn dot(a: &[f32], b: &[f32]) -> f32, fused => {
        let fused_add = if fused { multiply_add::<true> } else { multiply_add::<false> };
        let len = a.len().min(b.len());
        let (a, b) = (&a[..len], &b[..len]);
        let mut partial = [0.0f32; 8];
        let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
        let mut tail = 0.0;
        for (&x, &y) in a_chunks.remainder().iter().zip(b_chunks.remainder()) {
            tail = fused_add(x, y, tail);
        }
        for (a8, b8) in a_chunks.zip(b_chunks) {
            for lane in 0..8 {
                partial[lane] = fused_add(a8[lane], b8[lane], partial[lane]);
            }
        }
        partial.iter().sum::<f32>() + tail
    }
}

/// One window run of [`argmax_update`] with the stride known at compile
/// time, so strides 1 and 2 vectorise (stride 2 as de-interleaving loads).
/// `|` rather than `||` and value selects keep the loop branch-free.
#[inline(always)]
fn argmax_run<const STRIDE: usize>(
    best: &mut [f32],
    best_at: &mut [u32],
    x: &[f32],
    stride: usize,
    base: u32,
) {
    let stride = if STRIDE == 0 { stride } else { STRIDE };
    let len = best.len().min(best_at.len());
    if len == 0 {
        return;
    }
    let (best, best_at) = (&mut best[..len], &mut best_at[..len]);
    let x = &x[..(len - 1) * stride + 1];
    for w in 0..len {
        let v = x[w * stride];
        #[allow(clippy::eq_op)] // v != v is the NaN test, branch-free.
        let take = (v > best[w]) | (v != v);
        best[w] = if take { v } else { best[w] };
        best_at[w] = if take {
            base + (w * stride) as u32
        } else {
            best_at[w]
        };
    }
}

dispatch! {
    /// Running max-pool update for a run of windows: for window w, the
    /// candidate is x[w·stride] at flat index base + w·stride; it replaces the
    /// best so far if larger or NaN (PyTorch's rule, so ties keep the first).
    fn argmax_update(best: &mut [f32], best_at: &mut [u32], x: &[f32], stride: usize, base: u32), fused => {
        let _ = fused;
        match stride {
            1 => argmax_run::<1>(best, best_at, x, stride, base),
            2 => argmax_run::<2>(best, best_at, x, stride, base),
            _ => argmax_run::<0>(best, best_at, x, stride, base),
        }
    }
}

/// One window run of [`max_update`] with the stride known at compile time.
#[inline(always)]
fn max_run<const STRIDE: usize>(best: &mut [f32], x: &[f32], stride: usize) {
    let stride = if STRIDE == 0 { stride } else { STRIDE };
    let len = best.len();
    if len == 0 {
        return;
    }
    let x = &x[..(len - 1) * stride + 1];
    for (w, best) in best.iter_mut().enumerate() {
        let v = x[w * stride];
        #[allow(clippy::eq_op)] // v != v is the NaN test, branch-free.
        let take = (v > *best) | (v != v);
        *best = if take { v } else { *best };
    }
}

dispatch! {
    /// [`argmax_update`] without the positions (max pooling for inference).
    fn max_update(best: &mut [f32], x: &[f32], stride: usize), fused => {
        let _ = fused;
        match stride {
            1 => max_run::<1>(best, x, stride),
            2 => max_run::<2>(best, x, stride),
            _ => max_run::<0>(best, x, stride),
        }
    }
}

/// dst[i] = src[i·stride] with the stride known at compile time when nonzero.
#[inline(always)]
fn gather_run<const STRIDE: usize>(dst: &mut [f32], src: &[f32], stride: usize) {
    let stride = if STRIDE == 0 { stride } else { STRIDE };
    if dst.is_empty() {
        return;
    }
    let src = &src[..(dst.len() - 1) * stride + 1];
    for (i, d) in dst.iter_mut().enumerate() {
        *d = src[i * stride];
    }
}

dispatch! {
    /// dst[i] = src[i·stride]: im2col's strided row copy (stride 2 vectorises
    /// as de-interleaving loads).
    fn gather_strided(dst: &mut [f32], src: &[f32], stride: usize), fused => {
        let _ = fused;
        match stride {
            2 => gather_run::<2>(dst, src, stride),
            _ => gather_run::<0>(dst, src, stride),
        }
    }
}

dispatch! {
    /// Σ x[i] with eight independent partial sums, so the loop vectorises.
    fn sum(x: &[f32]) -> f32, fused => {
        let _ = fused;
        let mut partial = [0.0f32; 8];
        let chunks = x.chunks_exact(8);
        let tail: f32 = chunks.remainder().iter().sum();
        for x8 in chunks {
            for lane in 0..8 {
                partial[lane] += x8[lane];
            }
        }
        partial.iter().sum::<f32>() + tail
    }
}

dispatch! {
    /// x[i] += value.
    fn add_scalar(x: &mut [f32], value: f32), fused => {
        let _ = fused;
        x.iter_mut().for_each(|v| *v += value);
    }
}

/// Σ f(a, b) over one block, in 16 f32 lanes.
#[inline(always)]
fn lanes_sum(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f64 {
    let mut lanes = [0.0f32; 16];
    let (a16, b16) = (a.chunks_exact(16), b.chunks_exact(16));
    let rest: f32 = (a16.remainder().iter().zip(b16.remainder()))
        .map(|(&x, &y)| f(x, y))
        .sum();
    for (a, b) in a16.zip(b16) {
        for j in 0..16 {
            lanes[j] += f(a[j], b[j]);
        }
    }
    lanes.iter().map(|&v| v as f64).sum::<f64>() + rest as f64
}

/// (Σ f(a, b), Σ h(a, b)) over the common length: f32 lanes over blocks of
/// 256, each block's sums carried on in f64 (as `squared_error`). The two
/// sums run one after the other over each block (still in L1): summed side
/// by side, the compiler paired them and left the loop scalar.
#[inline(always)]
fn pair_sums(
    a: &[f32],
    b: &[f32],
    f: impl Fn(f32, f32) -> f32,
    h: impl Fn(f32, f32) -> f32,
) -> (f64, f64) {
    let len = a.len().min(b.len());
    let (mut s0, mut s1) = (0.0f64, 0.0f64);
    for (a, b) in a[..len].chunks(256).zip(b[..len].chunks(256)) {
        s0 += lanes_sum(a, b, &f);
        s1 += lanes_sum(a, b, &h);
    }
    (s0, s1)
}

dispatch! {
    /// (Σ x, Σ (x − center)²), f32 lanes summed on in f64: with `center`
    /// the mean this is the second pass of a two-pass variance.
    fn sum_and_centered_squares(x: &[f32], center: f32) -> (f64, f64), fused => {
        let _ = fused;
        pair_sums(x, x, |x, _| x, |x, _| (x - center) * (x - center))
    }
}

dispatch! {
    /// (Σ dy, Σ dy·(x − center)) in one pass, f32 lanes summed on in f64.
    fn sum_and_centered_dot(dy: &[f32], x: &[f32], center: f32) -> (f64, f64), fused => {
        let _ = fused;
        pair_sums(dy, x, |dy, _| dy, |dy, x| dy * (x - center))
    }
}

dispatch! {
    /// y[i] = a·x[i] + b over the common length.
    fn affine(y: &mut [f32], x: &[f32], a: f32, b: f32), fused => {
        let fused_add = if fused { multiply_add::<true> } else { multiply_add::<false> };
        y.iter_mut().zip(x).for_each(|(y, &x)| *y = fused_add(a, x, b));
    }
}

dispatch! {
    /// out[i] = p·u[i] + q·(v[i] − center) + r, or `+=` when `accumulate`,
    /// over the common length (batchnorm's input gradient).
    fn affine2(out: &mut [f32], u: &[f32], v: &[f32], coef: [f32; 4], accumulate: bool), fused => {
        let fused_add = if fused { multiply_add::<true> } else { multiply_add::<false> };
        let [p, q, center, r] = coef;
        let terms = out.iter_mut().zip(u.iter().zip(v));
        if accumulate {
            terms.for_each(|(o, (&u, &v))| *o += fused_add(p, u, fused_add(q, v - center, r)));
        } else {
            terms.for_each(|(o, (&u, &v))| *o = fused_add(p, u, fused_add(q, v - center, r)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::{assert_close, for_each_isa, random_vec};

    #[test]
    fn axpy_and_dot_small_values() {
        for_each_isa(|isa| {
            // By hand: [1,2,3] + 2·[1,1,1] = [3,4,5]; Σ 1..=10 of i·1 = 55.
            let mut y = vec![1.0, 2.0, 3.0];
            axpy(isa, &mut y, &[1.0, 1.0, 1.0], 2.0);
            assert_eq!(y, vec![3.0, 4.0, 5.0]);
            let a: Vec<f32> = (1..=10).map(|v| v as f32).collect();
            assert_eq!(dot(isa, &a, &[1.0; 10]), 55.0);
            assert_eq!(sum(isa, &a), 55.0);
            let mut picked = vec![0.0; 3];
            gather_strided(isa, &mut picked, &a, 2);
            assert_eq!(picked, vec![1.0, 3.0, 5.0]);
            gather_strided(isa, &mut picked, &a, 3);
            assert_eq!(picked, vec![1.0, 4.0, 7.0]);
            let mut x = vec![1.0; 19];
            add_scalar(isa, &mut x, 0.5);
            assert!(x.iter().all(|&v| v == 1.5));
        });
    }

    #[test]
    fn long_runs_match_scalar_sums() {
        // 37 elements: four 8-lane blocks and a ragged tail.
        let (a, b) = (random_vec(37, 1), random_vec(37, 2));
        let dot64: f64 = a.iter().zip(&b).map(|(&x, &y)| x as f64 * y as f64).sum();
        let sum64: f64 = a.iter().map(|&x| x as f64).sum();
        let sse64: f64 = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
            .sum();
        for_each_isa(|isa| {
            assert!((dot(isa, &a, &b) as f64 - dot64).abs() < 1e-5);
            assert!((sum(isa, &a) as f64 - sum64).abs() < 1e-5);
            let mut grad = vec![9.0; 37];
            let sse = squared_error(isa, &a, &b, 2.0, Some(&mut grad), false);
            assert!((sse - sse64).abs() < 1e-5);
            assert_close(
                &grad,
                &a.iter()
                    .zip(&b)
                    .map(|(&x, &y)| 2.0 * (x as f64 - y as f64))
                    .collect::<Vec<_>>(),
                1e-6,
            );
            let mut y = b.clone();
            axpy(isa, &mut y, &a, -0.5);
            let expected: Vec<f64> = a
                .iter()
                .zip(&b)
                .map(|(&x, &y)| y as f64 - 0.5 * x as f64)
                .collect();
            assert_close(&y, &expected, 1e-6);
        });
    }

    #[test]
    fn batchnorm_primitives_match_f64() {
        // 613 elements: two full 256-blocks, 16-lane chunks and a ragged tail.
        let (x, dy) = (random_vec(613, 3), random_vec(613, 4));
        let c = 0.25f32;
        let sum64: f64 = x.iter().map(|&v| v as f64).sum();
        let sq64: f64 = x.iter().map(|&v| (v as f64 - c as f64).powi(2)).sum();
        let dy64: f64 = dy.iter().map(|&v| v as f64).sum();
        let dot64: f64 = (dy.iter().zip(&x))
            .map(|(&d, &v)| d as f64 * (v as f64 - c as f64))
            .sum();
        let coef = [0.5f32, -2.0, c, 0.125];
        let lin: Vec<f64> = (dy.iter().zip(&x))
            .map(|(&u, &v)| 0.5 * u as f64 - 2.0 * (v as f64 - c as f64) + 0.125)
            .collect();
        for_each_isa(|isa| {
            let (s, q) = sum_and_centered_squares(isa, &x, c);
            assert!(
                (s - sum64).abs() < 1e-4 && (q - sq64).abs() < 1e-4,
                "{s} {q}"
            );
            let (s, d) = sum_and_centered_dot(isa, &dy, &x, c);
            assert!(
                (s - dy64).abs() < 1e-4 && (d - dot64).abs() < 1e-4,
                "{s} {d}"
            );
            let mut y = vec![7.0; 613];
            affine(isa, &mut y, &x, 2.0, -1.0);
            let expected: Vec<f64> = x.iter().map(|&v| 2.0 * v as f64 - 1.0).collect();
            assert_close(&y, &expected, 1e-6);
            let mut out = vec![7.0; 613];
            affine2(isa, &mut out, &dy, &x, coef, false);
            assert_close(&out, &lin, 1e-6);
            affine2(isa, &mut out, &dy, &x, coef, true);
            let twice: Vec<f64> = lin.iter().map(|v| 2.0 * v).collect();
            assert_close(&out, &twice, 1e-6);
        });
    }

    #[test]
    fn argmax_keeps_first_maximum_and_takes_nan() {
        // Windows w = 0..4 over stride 2 runs, candidates x[2w] at base + 2w.
        let x = [1.0, 0.0, 5.0, 0.0, 2.0, 0.0, f32::NAN, 0.0];
        for_each_isa(|isa| {
            let mut best = vec![2.0, 5.0, 3.0, 1.0];
            let mut best_at = vec![100, 101, 102, 103];
            argmax_update(isa, &mut best, &mut best_at, &x, 2, 10);
            // 1 < 2 keeps; 5 == 5 keeps the first; 2 < 3 keeps; NaN wins.
            assert_eq!(best_at, vec![100, 101, 102, 16]);
            assert!(best[3].is_nan());
        });
    }
}

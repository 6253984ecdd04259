//! Batch normalisation over the channel dimension of N × C × inner data
//! (inner = H·W for BatchNorm2d, 1 for BatchNorm1d), as PyTorch.
//!
//! Training: per channel, over the M = N·inner values,
//!   μ = Σx / M,  σ² = Σ(x − μ)² / M (biased),  x̂ = (x − μ) / √(σ² + ε),
//!   y = γ·x̂ + β;
//!   running_mean ← (1 − m)·running_mean + m·μ,
//!   running_var  ← (1 − m)·running_var  + m·σ²·M/(M − 1) (unbiased).
//! Backward (training):
//!   dβ += Σ dy,  dγ += Σ dy·x̂,
//!   dx += γ/√(σ² + ε) · (dy − Σdy/M − x̂·Σ(dy·x̂)/M).
//! Sums run in f64: a channel can hold hundreds of thousands of values.

use super::{isa, vector, BatchNormGeom};
use rayon::prelude::*;

/// Learned per-channel scale γ and shift β.
#[derive(Clone, Copy)]
pub struct Affine<'a> {
    pub gamma: &'a [f32],
    pub beta: &'a [f32],
}

/// Gradients a backward pass accumulates into: dγ, dβ, and dx when wanted.
pub struct Grads<'a> {
    pub dx: Option<&'a mut [f32]>,
    /// `dx` holds stale values: write it (`=`) instead of adding to it.
    pub overwrite: bool,
    pub dgamma: &'a mut [f32],
    pub dbeta: &'a mut [f32],
}

/// Running statistics updated by a training-mode forward pass.
pub struct RunningStats<'a> {
    /// Per-channel running mean.
    pub mean: &'a mut [f32],
    /// Per-channel running (unbiased) variance.
    pub var: &'a mut [f32],
    /// Weight of the new batch statistic (PyTorch's `momentum`, default 0.1).
    pub momentum: f32,
}

fn check(g: &BatchNormGeom, x: usize, per_channel: &[usize]) {
    assert_eq!(
        x,
        g.batch * g.channels * g.inner,
        "batchnorm: tensor length"
    );
    for &len in per_channel {
        assert_eq!(len, g.channels, "batchnorm: per-channel parameter length");
    }
}

/// Run `f(plane, out_plane, a_plane, b_plane)` over every (batch, channel)
/// plane of `inner` values, in parallel when the tensor is large.
fn each_plane(
    inner: usize,
    out: &mut [f32],
    a: &[f32],
    b: &[f32],
    f: impl Fn(usize, &mut [f32], &[f32], &[f32]) + Sync,
) {
    if inner == 0 {
        return;
    }
    if out.len() >= 1 << 16 && rayon::current_num_threads() > 1 {
        let planes = out
            .par_chunks_mut(inner)
            .zip(a.par_chunks(inner).zip(b.par_chunks(inner)));
        planes
            .enumerate()
            .for_each(|(plane, (o, (a, b)))| f(plane, o, a, b));
    } else {
        let planes = out
            .chunks_mut(inner)
            .zip(a.chunks(inner).zip(b.chunks(inner)));
        planes
            .enumerate()
            .for_each(|(plane, (o, (a, b)))| f(plane, o, a, b));
    }
}

/// y[b, ch, i] = scale[ch]·x[b, ch, i] + shift[ch].
fn scale_shift(g: &BatchNormGeom, x: &[f32], scale: &[f32], shift: &[f32], y: &mut [f32]) {
    let (isa, c) = (isa::current(), g.channels);
    each_plane(g.inner, y, x, x, |plane, y, x, _| {
        vector::affine(isa, y, x, scale[plane % c], shift[plane % c])
    });
}

/// Σ over the planes of channel `ch` of `f(dy plane, x plane)`, a pair of sums.
fn channel_pair_sums(
    g: &BatchNormGeom,
    ch: usize,
    a: &[f32],
    b: &[f32],
    f: impl Fn(&[f32], &[f32]) -> (f64, f64),
) -> (f64, f64) {
    (0..g.batch).fold((0.0, 0.0), |(s0, s1), n| {
        let at = (n * g.channels + ch) * g.inner;
        let (t0, t1) = f(&a[at..at + g.inner], &b[at..at + g.inner]);
        (s0 + t0, s1 + t1)
    })
}

/// Training-mode forward: normalise with the batch statistics, save μ and
/// 1/√(σ² + ε) per channel for backward, and update `running` if given.
pub fn batchnorm_train_forward(
    g: &BatchNormGeom,
    x: &[f32],
    affine: Affine,
    y: &mut [f32],
    saved_mean: &mut [f32],
    saved_invstd: &mut [f32],
    running: Option<RunningStats>,
) {
    let Affine { gamma, beta } = affine;
    let lengths = [
        gamma.len(),
        beta.len(),
        saved_mean.len(),
        saved_invstd.len(),
    ];
    check(g, x.len(), &lengths);
    assert_eq!(y.len(), x.len(), "batchnorm: y length");
    let (c, eps) = (g.channels, g.eps);
    let count = (g.batch * g.inner) as f64;
    let isa = isa::current();
    // Two passes per channel (the mean, then squares about it), the second
    // while the channel's planes are still in cache.
    let stats: Vec<(f64, f64)> = (0..c)
        .into_par_iter()
        .map(|ch| {
            if count == 0.0 {
                return (0.0, 0.0);
            }
            let about = |center: f32| {
                move |x: &[f32], _: &[f32]| vector::sum_and_centered_squares(isa, x, center)
            };
            let mean = channel_pair_sums(g, ch, x, x, about(0.0)).0 / count;
            let center = mean as f32;
            let squares = channel_pair_sums(g, ch, x, x, about(center)).1;
            // squares are about the rounded mean: Σ(x − μ)² = Σ(x − c)² − M·(μ − c)²
            let off = mean - center as f64;
            (mean, (squares / count - off * off).max(0.0))
        })
        .collect();
    let mut scale = vec![0.0f32; c];
    let mut shift = vec![0.0f32; c];
    for (ch, &(mean, var)) in stats.iter().enumerate() {
        let invstd = 1.0 / (var + eps as f64).sqrt();
        saved_mean[ch] = mean as f32;
        saved_invstd[ch] = invstd as f32;
        scale[ch] = (gamma[ch] as f64 * invstd) as f32;
        shift[ch] = (beta[ch] as f64 - mean * gamma[ch] as f64 * invstd) as f32;
    }
    scale_shift(g, x, &scale, &shift, y);
    if let Some(running) = running {
        assert_eq!(running.mean.len(), c, "batchnorm: running_mean length");
        assert_eq!(running.var.len(), c, "batchnorm: running_var length");
        let m = running.momentum;
        // PyTorch refuses M = 1 in training; we keep the biased value instead of dividing by 0.
        let bessel = if count > 1.0 {
            count / (count - 1.0)
        } else {
            1.0
        };
        for (ch, &(mean, var)) in stats.iter().enumerate() {
            running.mean[ch] = (1.0 - m) * running.mean[ch] + m * mean as f32;
            running.var[ch] = (1.0 - m) * running.var[ch] + m * (var * bessel) as f32;
        }
    }
}

/// Evaluation-mode forward: y = γ·(x − running_mean)/√(running_var + ε) + β.
pub fn batchnorm_eval_forward(
    g: &BatchNormGeom,
    x: &[f32],
    affine: Affine,
    running_mean: &[f32],
    running_var: &[f32],
    y: &mut [f32],
) {
    let Affine { gamma, beta } = affine;
    let lengths = [
        gamma.len(),
        beta.len(),
        running_mean.len(),
        running_var.len(),
    ];
    check(g, x.len(), &lengths);
    assert_eq!(y.len(), x.len(), "batchnorm: y length");
    let invstd: Vec<f32> = running_var
        .iter()
        .map(|&v| 1.0 / (v + g.eps).sqrt())
        .collect();
    let scale: Vec<f32> = gamma.iter().zip(&invstd).map(|(g, s)| g * s).collect();
    let shift: Vec<f32> = (0..g.channels)
        .map(|ch| beta[ch] - running_mean[ch] * scale[ch])
        .collect();
    scale_shift(g, x, &scale, &shift, y);
}

/// Training-mode backward from the saved batch statistics; accumulates dγ,
/// dβ and (when given) dx.
pub fn batchnorm_backward(
    g: &BatchNormGeom,
    x: &[f32],
    gamma: &[f32],
    saved_mean: &[f32],
    saved_invstd: &[f32],
    dy: &[f32],
    grads: Grads,
) {
    let Grads {
        dx,
        overwrite,
        dgamma,
        dbeta,
    } = grads;
    let lengths = [
        gamma.len(),
        saved_mean.len(),
        saved_invstd.len(),
        dgamma.len(),
        dbeta.len(),
    ];
    check(g, x.len(), &lengths);
    assert_eq!(dy.len(), x.len(), "batchnorm: dy length");
    let (c, inner) = (g.channels, g.inner);
    let count = (g.batch * inner) as f64;
    let isa = isa::current();
    // Per channel: (Σ dy, Σ dy·x̂) in one pass.
    let sums: Vec<(f64, f64)> = (0..c)
        .into_par_iter()
        .map(|ch| {
            let (mean, invstd) = (saved_mean[ch], saved_invstd[ch] as f64);
            let pass = |dy: &[f32], x: &[f32]| vector::sum_and_centered_dot(isa, dy, x, mean);
            let (sum_dy, sum_dy_centered) = channel_pair_sums(g, ch, dy, x, pass);
            (sum_dy, sum_dy_centered * invstd)
        })
        .collect();
    for (ch, &(sum_dy, sum_dy_xhat)) in sums.iter().enumerate() {
        dbeta[ch] += sum_dy as f32;
        dgamma[ch] += sum_dy_xhat as f32;
    }
    let (Some(dx), true) = (dx, inner > 0 && count > 0.0) else {
        return;
    };
    assert_eq!(dx.len(), x.len(), "batchnorm: dx length");
    // dx = γ·invstd·(dy − Σdy/M − x̂·Σ(dy·x̂)/M), as p·dy + q·(x − μ) + r.
    let coef: Vec<[f32; 4]> = (0..c)
        .map(|ch| {
            let (invstd, scale) = (
                saved_invstd[ch] as f64,
                (gamma[ch] * saved_invstd[ch]) as f64,
            );
            let (mean_dy, mean_dy_xhat) = (sums[ch].0 / count, sums[ch].1 / count);
            let q = -scale * invstd * mean_dy_xhat;
            [
                scale as f32,
                q as f32,
                saved_mean[ch],
                (-scale * mean_dy) as f32,
            ]
        })
        .collect();
    each_plane(inner, dx, dy, x, |plane, dx, dy, x| {
        vector::affine2(isa, dx, dy, x, coef[plane % c], !overwrite)
    });
}

/// Evaluation-mode backward (statistics are constants):
/// dx += dy·γ/√(running_var + ε), dγ += Σ dy·x̂, dβ += Σ dy.
pub fn batchnorm_eval_backward(
    g: &BatchNormGeom,
    x: &[f32],
    gamma: &[f32],
    running_mean: &[f32],
    running_var: &[f32],
    dy: &[f32],
    grads: Grads,
) {
    let invstd: Vec<f32> = running_var
        .iter()
        .map(|&v| 1.0 / (v + g.eps).sqrt())
        .collect();
    check(g, x.len(), &[gamma.len(), running_mean.len(), invstd.len()]);
    assert_eq!(dy.len(), x.len(), "batchnorm: dy length");
    let (c, inner, isa) = (g.channels, g.inner, isa::current());
    for ch in 0..c {
        let pass =
            |dy: &[f32], x: &[f32]| vector::sum_and_centered_dot(isa, dy, x, running_mean[ch]);
        let (sum_dy, sum_dy_centered) = channel_pair_sums(g, ch, dy, x, pass);
        grads.dbeta[ch] += sum_dy as f32;
        grads.dgamma[ch] += (sum_dy_centered * invstd[ch] as f64) as f32;
    }
    if let (Some(dx), true) = (grads.dx, inner > 0) {
        assert_eq!(dx.len(), x.len(), "batchnorm: dx length");
        each_plane(inner, dx, dy, dy, |plane, dx, dy, _| {
            let scale = gamma[plane % c] * invstd[plane % c];
            if grads.overwrite {
                vector::affine(isa, dx, dy, scale, 0.0);
            } else {
                vector::axpy(isa, dx, dy, scale);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::{
        assert_close, dot, for_each_isa, numeric_grad, on_threads, random_vec, to_f64,
    };
    use proptest::prelude::*;

    /// Channel `ch`'s flat positions, mean and biased variance, in f64.
    fn channel_stats(
        (n, c, inner): (usize, usize, usize),
        x: &[f64],
        ch: usize,
    ) -> (Vec<usize>, f64, f64) {
        let at: Vec<usize> = (0..n)
            .flat_map(|b| (0..inner).map(move |i| (b * c + ch) * inner + i))
            .collect();
        let count = at.len() as f64;
        let mean = at.iter().map(|&p| x[p]).sum::<f64>() / count;
        let var = at.iter().map(|&p| (x[p] - mean).powi(2)).sum::<f64>() / count;
        (at, mean, var)
    }

    /// Training-mode batch norm in f64 straight from the formulas above.
    fn reference_train(
        n: usize,
        c: usize,
        inner: usize,
        x: &[f64],
        gamma: &[f64],
        beta: &[f64],
        eps: f64,
    ) -> Vec<f64> {
        let mut y = vec![0.0; x.len()];
        for ch in 0..c {
            let (positions, mean, var) = channel_stats((n, c, inner), x, ch);
            for &p in &positions {
                y[p] = gamma[ch] * (x[p] - mean) / (var + eps).sqrt() + beta[ch];
            }
        }
        y
    }

    /// Training-mode backward in f64 from the formula in the module doc:
    /// (dx, dγ, dβ).
    fn reference_backward(
        (n, c, inner): (usize, usize, usize),
        x: &[f64],
        gamma: &[f64],
        dy: &[f64],
        eps: f64,
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (mut dx, mut dgamma, mut dbeta) = (vec![0.0; x.len()], vec![0.0; c], vec![0.0; c]);
        let count = (n * inner) as f64;
        for ch in 0..c {
            let (at, mean, var) = channel_stats((n, c, inner), x, ch);
            let invstd = 1.0 / (var + eps).sqrt();
            let xhat = |p: usize| (x[p] - mean) * invstd;
            dbeta[ch] = at.iter().map(|&p| dy[p]).sum();
            dgamma[ch] = at.iter().map(|&p| dy[p] * xhat(p)).sum();
            for &p in &at {
                dx[p] =
                    gamma[ch] * invstd * (dy[p] - dbeta[ch] / count - xhat(p) * dgamma[ch] / count);
            }
        }
        (dx, dgamma, dbeta)
    }

    #[test]
    fn train_matches_reference_in_every_family_at_odd_sizes() {
        // inner 1, 37 and 301: the scalar tail, 16-lane chunks and more than
        // one 256-value block per plane; 70 planes of 301 use the parallel path.
        for (n, c, inner) in [(5, 3, 1), (3, 7, 37), (2, 35, 301)] {
            let len = n * c * inner;
            let x: Vec<f32> = random_vec(len, 9).iter().map(|v| 3.0 * v + 20.0).collect();
            let (gamma, beta, dy) = (random_vec(c, 10), random_vec(c, 11), random_vec(len, 12));
            let (x64, g64, b64, dy64) = (to_f64(&x), to_f64(&gamma), to_f64(&beta), to_f64(&dy));
            let y_ref = reference_train(n, c, inner, &x64, &g64, &b64, 1e-5);
            let (dx_ref, dg_ref, db_ref) =
                reference_backward((n, c, inner), &x64, &g64, &dy64, 1e-5);
            let g = BatchNormGeom::new(n, c, inner, 1e-5).expect("small sizes");
            for_each_isa(|_| {
                on_threads(2, || {
                    let affine = Affine {
                        gamma: &gamma,
                        beta: &beta,
                    };
                    let (mut y, mut mean, mut invstd) =
                        (vec![0.0; len], vec![0.0; c], vec![0.0; c]);
                    batchnorm_train_forward(&g, &x, affine, &mut y, &mut mean, &mut invstd, None);
                    assert_close(&y, &y_ref, 1e-4);
                    for overwrite in [true, false] {
                        let start = if overwrite { f32::NAN } else { 0.0 };
                        let (mut dx, mut dgamma, mut dbeta) =
                            (vec![start; len], vec![0.0; c], vec![0.0; c]);
                        let grads = Grads {
                            dx: Some(&mut dx),
                            overwrite,
                            dgamma: &mut dgamma,
                            dbeta: &mut dbeta,
                        };
                        batchnorm_backward(&g, &x, &gamma, &mean, &invstd, &dy, grads);
                        assert_close(&dx, &dx_ref, 1e-4);
                        assert_close(&dgamma, &dg_ref, 1e-4);
                        assert_close(&dbeta, &db_ref, 1e-4);
                    }
                })
            });
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn train_matches_reference_and_finite_differences(n in 1usize..4, c in 1usize..4,
                                                          inner in 1usize..6, seed: u64) {
            prop_assume!(n * inner > 1);
            let len = n * c * inner;
            let x: Vec<f32> = random_vec(len, seed).into_iter().map(|v| 2.0 * v + 0.5).collect();
            let gamma = random_vec(c, seed + 1);
            let beta = random_vec(c, seed + 2);
            let dy = random_vec(len, seed + 3);
            let eps = 1e-5;
            let (x64, g64, b64, dy64) = (to_f64(&x), to_f64(&gamma), to_f64(&beta), to_f64(&dy));
            let g = BatchNormGeom::new(n, c, inner, eps).expect("small sizes");
            let affine = Affine { gamma: &gamma, beta: &beta };
            let (mut y, mut mean, mut invstd) = (vec![0.0; len], vec![0.0; c], vec![0.0; c]);
            batchnorm_train_forward(&g, &x, affine, &mut y, &mut mean, &mut invstd, None);
            assert_close(&y, &reference_train(n, c, inner, &x64, &g64, &b64, eps as f64), 1e-4);

            let (mut dx, mut dgamma, mut dbeta) = (vec![1.0; len], vec![1.0; c], vec![1.0; c]);
            let grads = Grads { dx: Some(&mut dx), overwrite: false, dgamma: &mut dgamma, dbeta: &mut dbeta };
            batchnorm_backward(&g, &x, &gamma, &mean, &invstd, &dy, grads);
            let plus_one = |g: Vec<f64>| g.into_iter().map(|v| v + 1.0).collect::<Vec<_>>();
            let e = eps as f64;
            let fd_x = numeric_grad(|x| dot(&dy64, &reference_train(n, c, inner, x, &g64, &b64, e)), &x64, 1e-4);
            let fd_g = numeric_grad(|g| dot(&dy64, &reference_train(n, c, inner, &x64, g, &b64, e)), &g64, 1e-4);
            let fd_b = numeric_grad(|b| dot(&dy64, &reference_train(n, c, inner, &x64, &g64, b, e)), &b64, 1e-4);
            // Normalising a handful of values amplifies f32 rounding; 1e-3 is still tight.
            assert_close(&dx, &plus_one(fd_x), 1e-3);
            assert_close(&dgamma, &plus_one(fd_g), 1e-4);
            assert_close(&dbeta, &plus_one(fd_b), 1e-4);
        }

        #[test]
        fn eval_matches_finite_differences(n in 1usize..3, c in 1usize..4, inner in 1usize..5, seed: u64) {
            let len = n * c * inner;
            let x = random_vec(len, seed);
            let gamma = random_vec(c, seed + 1);
            let beta = random_vec(c, seed + 2);
            let running_mean = random_vec(c, seed + 3);
            let running_var: Vec<f32> = random_vec(c, seed + 4).into_iter().map(|v| v.abs() + 0.5).collect();
            let dy = random_vec(len, seed + 5);
            let eps = 1e-5f32;
            let reference = |x: &[f64], gamma: &[f64], beta: &[f64]| -> Vec<f64> {
                (0..len).map(|p| {
                    let ch = (p / inner) % c;
                    gamma[ch] * (x[p] - running_mean[ch] as f64) / (running_var[ch] as f64 + eps as f64).sqrt() + beta[ch]
                }).collect()
            };
            let (x64, g64, b64, dy64) = (to_f64(&x), to_f64(&gamma), to_f64(&beta), to_f64(&dy));
            let g = BatchNormGeom::new(n, c, inner, eps).expect("small sizes");
            let affine = Affine { gamma: &gamma, beta: &beta };
            let mut y = vec![0.0; len];
            batchnorm_eval_forward(&g, &x, affine, &running_mean, &running_var, &mut y);
            assert_close(&y, &reference(&x64, &g64, &b64), 1e-5);
            let (mut dx, mut dgamma, mut dbeta) = (vec![0.0; len], vec![0.0; c], vec![0.0; c]);
            let grads = Grads { dx: Some(&mut dx), overwrite: false, dgamma: &mut dgamma, dbeta: &mut dbeta };
            batchnorm_eval_backward(&g, &x, &gamma, &running_mean, &running_var, &dy, grads);
            assert_close(&dx, &numeric_grad(|x| dot(&dy64, &reference(x, &g64, &b64)), &x64, 1e-4), 1e-4);
            assert_close(&dgamma, &numeric_grad(|g| dot(&dy64, &reference(&x64, g, &b64)), &g64, 1e-4), 1e-4);
            assert_close(&dbeta, &numeric_grad(|b| dot(&dy64, &reference(&x64, &g64, b)), &b64, 1e-4), 1e-4);
        }
    }

    #[test]
    fn running_stats_follow_pytorch() {
        // One channel, x = [1, 2, 3, 4]: μ = 2.5, biased σ² = 1.25, unbiased = 5/3.
        // PyTorch with momentum 0.1 from (0, 1): running_mean = 0.25,
        // running_var = 0.9 + 0.1·5/3 = 1.0666…
        let x = [1.0, 2.0, 3.0, 4.0];
        let (mut y, mut mean, mut invstd) = (vec![0.0; 4], vec![0.0], vec![0.0]);
        let (mut running_mean, mut running_var) = (vec![0.0], vec![1.0]);
        let running = RunningStats {
            mean: &mut running_mean,
            var: &mut running_var,
            momentum: 0.1,
        };
        let g = BatchNormGeom::new(2, 1, 2, 0.0).expect("small sizes");
        let affine = Affine {
            gamma: &[1.0],
            beta: &[0.0],
        };
        batchnorm_train_forward(
            &g,
            &x,
            affine,
            &mut y,
            &mut mean,
            &mut invstd,
            Some(running),
        );
        assert!((running_mean[0] - 0.25).abs() < 1e-6);
        assert!((running_var[0] - (0.9 + 0.1 * 5.0 / 3.0)).abs() < 1e-6);
        assert_eq!(mean, vec![2.5]);
        assert!((invstd[0] - 1.0 / 1.25f32.sqrt()).abs() < 1e-6);
    }
}

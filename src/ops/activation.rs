//! Element-wise activations, softmax over the channel dimension, and dropout.
//!
//! Backward passes use the saved *output* y where the derivative is a
//! function of it: relu' = [y > 0], σ' = y(1 − y), tanh' = 1 − y².

use rayon::prelude::*;

/// Elements per parallel chunk; below two chunks the work stays on this thread.
const CHUNK: usize = 1 << 15;

/// y[i] = f(x[i]), split across the pool for large tensors.
fn map_into(x: &[f32], y: &mut [f32], f: impl Fn(f32) -> f32 + Sync) {
    assert_eq!(x.len(), y.len(), "activation: x and y lengths differ");
    let apply = |(y_chunk, x_chunk): (&mut [f32], &[f32])| {
        y_chunk
            .iter_mut()
            .zip(x_chunk)
            .for_each(|(y, &x)| *y = f(x));
    };
    if x.len() >= 2 * CHUNK && rayon::current_num_threads() > 1 {
        y.par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK))
            .for_each(apply);
    } else {
        apply((y, x));
    }
}

/// dx[i] += dy[i] · f'(y[i]) (or `=` when `overwrite`), split across the
/// pool for large tensors.
fn accumulate_grad(
    y: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    overwrite: bool,
    derivative: impl Fn(f32) -> f32 + Sync,
) {
    assert_eq!(y.len(), dy.len(), "activation: y and dy lengths differ");
    assert_eq!(y.len(), dx.len(), "activation: y and dx lengths differ");
    let apply = |(dx_chunk, (y_chunk, dy_chunk)): (&mut [f32], (&[f32], &[f32]))| {
        let terms = dx_chunk.iter_mut().zip(y_chunk).zip(dy_chunk);
        if overwrite {
            terms.for_each(|((dx, &y), &dy)| *dx = dy * derivative(y));
        } else {
            terms.for_each(|((dx, &y), &dy)| *dx += dy * derivative(y));
        }
    };
    if y.len() >= 2 * CHUNK && rayon::current_num_threads() > 1 {
        dx.par_chunks_mut(CHUNK)
            .zip(y.par_chunks(CHUNK).zip(dy.par_chunks(CHUNK)))
            .for_each(apply);
    } else {
        apply((dx, (y, dy)));
    }
}

/// ReLU forward: y = max(x, 0) (NaN stays NaN, as in PyTorch).
pub fn relu_forward(x: &[f32], y: &mut [f32]) {
    map_into(x, y, |v| if v < 0.0 { 0.0 } else { v });
}

/// ReLU backward from the saved output: dx += dy · [y > 0] (`=` when `overwrite`).
pub fn relu_backward(y: &[f32], dy: &[f32], dx: &mut [f32], overwrite: bool) {
    accumulate_grad(y, dy, dx, overwrite, |y| if y > 0.0 { 1.0 } else { 0.0 });
}

/// Logistic sigmoid forward: y = 1 / (1 + e^(−x)).
pub fn sigmoid_forward(x: &[f32], y: &mut [f32]) {
    map_into(x, y, |v| 1.0 / (1.0 + (-v).exp()));
}

/// Sigmoid backward from the saved output: dx += dy · y(1 − y) (`=` when `overwrite`).
pub fn sigmoid_backward(y: &[f32], dy: &[f32], dx: &mut [f32], overwrite: bool) {
    accumulate_grad(y, dy, dx, overwrite, |y| y * (1.0 - y));
}

/// Hyperbolic tangent forward.
pub fn tanh_forward(x: &[f32], y: &mut [f32]) {
    map_into(x, y, f32::tanh);
}

/// Tanh backward from the saved output: dx += dy · (1 − y²) (`=` when `overwrite`).
pub fn tanh_backward(y: &[f32], dy: &[f32], dx: &mut [f32], overwrite: bool) {
    accumulate_grad(y, dy, dx, overwrite, |y| 1.0 - y * y);
}

/// Softmax over dim 1 of a rows × classes × inner tensor (inner = H·W, or 1
/// for a matrix): y[r, c, i] = e^(x[r,c,i] − m) / Σ_k e^(x[r,k,i] − m) with m
/// the maximum over c, so large logits do not overflow.
pub fn softmax_forward(rows: usize, classes: usize, inner: usize, x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), rows * classes * inner, "softmax: x length");
    assert_eq!(y.len(), x.len(), "softmax: y length");
    let block = classes * inner;
    if block == 0 {
        return;
    }
    for (x_block, y_block) in x.chunks_exact(block).zip(y.chunks_exact_mut(block)) {
        for i in 0..inner {
            let max = (0..classes)
                .map(|c| x_block[c * inner + i])
                .fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0.0f32;
            for c in 0..classes {
                let e = (x_block[c * inner + i] - max).exp();
                y_block[c * inner + i] = e;
                sum += e;
            }
            for c in 0..classes {
                y_block[c * inner + i] /= sum;
            }
        }
    }
}

/// Softmax backward from the saved output:
/// dx[c] += y[c] · (dy[c] − Σ_k dy[k]·y[k]) along dim 1.
pub fn softmax_backward(
    rows: usize,
    classes: usize,
    inner: usize,
    y: &[f32],
    dy: &[f32],
    dx: &mut [f32],
) {
    assert_eq!(y.len(), rows * classes * inner, "softmax: y length");
    assert_eq!(dy.len(), y.len(), "softmax: dy length");
    assert_eq!(dx.len(), y.len(), "softmax: dx length");
    let block = classes * inner;
    if block == 0 {
        return;
    }
    let blocks = y
        .chunks_exact(block)
        .zip(dy.chunks_exact(block))
        .zip(dx.chunks_exact_mut(block));
    for ((y_block, dy_block), dx_block) in blocks {
        for i in 0..inner {
            let dot: f32 = (0..classes)
                .map(|c| dy_block[c * inner + i] * y_block[c * inner + i])
                .sum();
            for c in 0..classes {
                let at = c * inner + i;
                dx_block[at] += y_block[at] * (dy_block[at] - dot);
            }
        }
    }
}

/// Inverted dropout: each element is kept with probability 1 − p and scaled
/// by 1/(1 − p), so mask ∈ {0, 1/(1 − p)} and y = x · mask. p ≥ 1 drops all.
pub fn dropout_forward(
    x: &[f32],
    y: &mut [f32],
    mask: &mut [f32],
    p: f32,
    rng: &mut impl rand::Rng,
) {
    assert_eq!(x.len(), y.len(), "dropout: y length");
    assert_eq!(x.len(), mask.len(), "dropout: mask length");
    assert!(p >= 0.0, "dropout: p must be non-negative");
    let keep_scale = if p >= 1.0 { 0.0 } else { 1.0 / (1.0 - p) };
    for ((y, m), &v) in y.iter_mut().zip(mask.iter_mut()).zip(x) {
        *m = if rng.random::<f32>() < p {
            0.0
        } else {
            keep_scale
        };
        *y = v * *m;
    }
}

/// Dropout backward: dx += dy · mask.
pub fn dropout_backward(mask: &[f32], dy: &[f32], dx: &mut [f32]) {
    assert_eq!(mask.len(), dy.len(), "dropout: dy length");
    assert_eq!(mask.len(), dx.len(), "dropout: dx length");
    for ((dx, &m), &g) in dx.iter_mut().zip(mask).zip(dy) {
        *dx += g * m;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::{assert_close, dot, numeric_grad, random_vec, to_f64};
    use proptest::prelude::*;
    use rand::SeedableRng;

    /// Gradient of Σ dy·f(x) by central differences of an f64 reference f.
    fn fd_grad(f: impl Fn(f64) -> f64, x: &[f32], dy: &[f32]) -> Vec<f64> {
        let dy64 = to_f64(dy);
        numeric_grad(
            |x| dot(&dy64, &x.iter().map(|&v| f(v)).collect::<Vec<_>>()),
            &to_f64(x),
            1e-4,
        )
    }

    /// Values away from relu's kink at 0, where the derivative is undefined.
    fn off_kink(len: usize, seed: u64) -> Vec<f32> {
        random_vec(len, seed)
            .into_iter()
            .map(|v| if v.abs() < 0.01 { 0.5 } else { v * 3.0 })
            .collect()
    }

    type Forward = fn(&[f32], &mut [f32]);
    type Backward = fn(&[f32], &[f32], &mut [f32], bool);
    /// Forward kernel, backward kernel, f64 reference of the function.
    type Activation = (Forward, Backward, fn(f64) -> f64);

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn elementwise_match_finite_differences(len in 1usize..40, seed: u64) {
            let x = off_kink(len, seed);
            let dy = random_vec(len, seed + 1);
            let cases: [Activation; 3] = [
                (relu_forward, relu_backward, |v| v.max(0.0)),
                (sigmoid_forward, sigmoid_backward, |v| 1.0 / (1.0 + (-v).exp())),
                (tanh_forward, tanh_backward, f64::tanh),
            ];
            for (forward, backward, reference) in cases {
                let mut y = vec![0.0; len];
                forward(&x, &mut y);
                let expected: Vec<f64> = x.iter().map(|&v| reference(v as f64)).collect();
                assert_close(&y, &expected, 1e-6);
                let mut dx = vec![1.0; len];
                backward(&y, &dy, &mut dx, false);
                let fd = fd_grad(reference, &x, &dy);
                let plus_one: Vec<f64> = fd.iter().map(|g| g + 1.0).collect();
                assert_close(&dx, &plus_one, 1e-4);
                let mut fresh = vec![f32::NAN; len];
                backward(&y, &dy, &mut fresh, true);
                assert_close(&fresh, &fd, 1e-4);
            }
        }

        #[test]
        fn softmax_matches_finite_differences(rows in 1usize..3, classes in 1usize..6,
                                               inner in 1usize..4, seed: u64) {
            let len = rows * classes * inner;
            let x: Vec<f32> = random_vec(len, seed).into_iter().map(|v| v * 4.0).collect();
            let dy = random_vec(len, seed + 1);
            // Reference: e^x / Σ e^x along dim 1, in f64.
            let reference = |x: &[f64]| {
                let mut y = vec![0.0; len];
                for r in 0..rows {
                    for i in 0..inner {
                        let at = |c: usize| (r * classes + c) * inner + i;
                        let sum: f64 = (0..classes).map(|c| x[at(c)].exp()).sum();
                        (0..classes).for_each(|c| y[at(c)] = x[at(c)].exp() / sum);
                    }
                }
                y
            };
            let mut y = vec![0.0; len];
            softmax_forward(rows, classes, inner, &x, &mut y);
            assert_close(&y, &reference(&to_f64(&x)), 1e-5);
            let mut dx = vec![1.0; len];
            softmax_backward(rows, classes, inner, &y, &dy, &mut dx);
            let dy64 = to_f64(&dy);
            let fd: Vec<f64> = numeric_grad(|x| dot(&dy64, &reference(x)), &to_f64(&x), 1e-4)
                .into_iter().map(|g| g + 1.0).collect();
            assert_close(&dx, &fd, 1e-4);
        }
    }

    #[test]
    fn softmax_is_stable_for_huge_logits() {
        // e^1000 overflows f32; shifting by the max gives [0.5, 0.5].
        let mut y = vec![0.0; 2];
        softmax_forward(1, 2, 1, &[1000.0, 1000.0], &mut y);
        assert_eq!(y, vec![0.5, 0.5]);
    }

    #[test]
    fn large_tensor_uses_parallel_path_consistently() {
        let x = random_vec(3 * CHUNK + 7, 9);
        let mut y = vec![0.0; x.len()];
        relu_forward(&x, &mut y);
        assert!(y.iter().zip(&x).all(|(&y, &x)| y == x.max(0.0)));
        let mut dx = vec![0.0; x.len()];
        relu_backward(&y, &x, &mut dx, false);
        assert!(dx
            .iter()
            .zip(&x)
            .all(|(&d, &x)| d == if x > 0.0 { x } else { 0.0 }));
        // Overwriting ignores what dx held; accumulating doubles it.
        let mut stale = vec![f32::NAN; x.len()];
        relu_backward(&y, &x, &mut stale, true);
        assert_eq!(stale, dx);
        relu_backward(&y, &x, &mut stale, false);
        assert!(stale.iter().zip(&dx).all(|(&s, &d)| s == 2.0 * d));
    }

    #[test]
    fn dropout_mask_and_gradient() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let x = vec![2.0f32; 10_000];
        let (mut y, mut mask) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        dropout_forward(&x, &mut y, &mut mask, 0.25, &mut rng);
        // Mask values are 0 or 1/(1 − 0.25); about a quarter are dropped.
        assert!(mask
            .iter()
            .all(|&m| m == 0.0 || (m - 4.0 / 3.0).abs() < 1e-6));
        let dropped = mask.iter().filter(|&&m| m == 0.0).count();
        assert!((2200..2800).contains(&dropped), "dropped {dropped}");
        assert!(y.iter().zip(&mask).all(|(&y, &m)| y == 2.0 * m));
        let mut dx = vec![1.0; x.len()];
        dropout_backward(&mask, &x, &mut dx);
        assert!(dx.iter().zip(&mask).all(|(&d, &m)| d == 1.0 + 2.0 * m));
        // p = 1 drops everything without dividing by zero.
        dropout_forward(&x, &mut y, &mut mask, 1.0, &mut rng);
        assert!(y.iter().all(|&v| v == 0.0));
    }
}

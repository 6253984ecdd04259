//! Losses, each returning an f64 value (sums accumulate in f64) with a
//! backward that accumulates d loss / d pred into `dpred`; the fused
//! `*_with_grad` forms of the squared errors overwrite `dpred` instead (the
//! training step hands them the output gradient unzeroed).

use super::vector;
use rayon::prelude::*;

/// Elements per parallel piece of the squared-error pass; below two pieces
/// it stays on the calling thread.
const PIECE: usize = 1 << 15;

/// Σ (pred − target)², and, with `grad = Some((scale, dpred))`,
/// dpred = scale·(pred − target) in the same pass (`+=` when `accumulate`).
///
/// Large tensors run in parallel pieces whose sums are added in order: the
/// result does not depend on the thread count.
fn squared_error(
    pred: &[f32],
    target: &[f32],
    grad: Option<(f32, &mut [f32])>,
    accumulate: bool,
) -> f64 {
    assert_eq!(
        pred.len(),
        target.len(),
        "loss: pred and target lengths differ"
    );
    let isa = super::isa::current();
    let piece = |pred: &[f32], target: &[f32], grad: Option<(f32, &mut [f32])>| match grad {
        Some((scale, dpred)) => {
            vector::squared_error(isa, pred, target, scale, Some(dpred), accumulate)
        }
        None => vector::squared_error(isa, pred, target, 0.0, None, false),
    };
    if let Some((_, dpred)) = &grad {
        assert_eq!(pred.len(), dpred.len(), "loss: dpred length");
    }
    if pred.len() < 2 * PIECE || rayon::current_num_threads() == 1 {
        return piece(pred, target, grad);
    }
    let partial: Vec<f64> = match grad {
        Some((scale, dpred)) => pred
            .par_chunks(PIECE)
            .zip(target.par_chunks(PIECE))
            .zip(dpred.par_chunks_mut(PIECE))
            .map(|((p, t), d)| piece(p, t, Some((scale, d))))
            .collect(),
        None => pred
            .par_chunks(PIECE)
            .zip(target.par_chunks(PIECE))
            .map(|(p, t)| piece(p, t, None))
            .collect(),
    };
    partial.iter().sum()
}

/// Sum of squared errors Σ (pred − target)², the D2L chapter's
/// `((Y_hat - Y) ** 2).sum()`.
pub fn sse(pred: &[f32], target: &[f32]) -> f64 {
    squared_error(pred, target, None, false)
}

/// SSE backward: dpred += 2·(pred − target).
pub fn sse_backward(pred: &[f32], target: &[f32], dpred: &mut [f32]) {
    squared_error(pred, target, Some((2.0, dpred)), true);
}

/// [`sse`], and dpred = 2·(pred − target) (overwritten), in one pass.
pub fn sse_with_grad(pred: &[f32], target: &[f32], dpred: &mut [f32]) -> f64 {
    squared_error(pred, target, Some((2.0, dpred)), false)
}

/// Mean squared error Σ (pred − target)² / len, as `nn.MSELoss()`.
pub fn mse(pred: &[f32], target: &[f32]) -> f64 {
    if pred.is_empty() {
        assert!(target.is_empty(), "mse: pred and target lengths differ");
        return f64::NAN; // PyTorch: mean of an empty tensor.
    }
    sse(pred, target) / pred.len() as f64
}

/// MSE backward: dpred += 2·(pred − target) / len.
pub fn mse_backward(pred: &[f32], target: &[f32], dpred: &mut [f32]) {
    let scale = 2.0 / pred.len().max(1) as f32;
    squared_error(pred, target, Some((scale, dpred)), true);
}

/// [`mse`], and dpred = 2·(pred − target) / len (overwritten), in one pass.
pub fn mse_with_grad(pred: &[f32], target: &[f32], dpred: &mut [f32]) -> f64 {
    if pred.is_empty() {
        return mse(pred, target);
    }
    let scale = 2.0 / pred.len() as f32;
    squared_error(pred, target, Some((scale, dpred)), false) / pred.len() as f64
}

fn check_labels(logits: &[f32], labels: &[i64]) -> usize {
    let batch = labels.len();
    assert!(batch > 0, "cross entropy: empty batch");
    assert_eq!(logits.len() % batch, 0, "cross entropy: logits not N × C");
    let classes = logits.len() / batch;
    for &label in labels {
        assert!(
            (0..classes as i64).contains(&label),
            "cross entropy: label {label} outside 0..{classes}"
        );
    }
    classes
}

/// log Σ_c e^(z_c), shifted by the maximum so large logits do not overflow.
fn log_sum_exp(row: &[f32]) -> f64 {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
    max + row
        .iter()
        .map(|&v| (v as f64 - max).exp())
        .sum::<f64>()
        .ln()
}

/// Softmax cross-entropy over N × C logits, mean over the batch:
/// L = (1/N) Σ_n [log Σ_c e^(z_nc) − z_n,label_n], as `nn.CrossEntropyLoss()`.
pub fn softmax_cross_entropy(logits: &[f32], labels: &[i64]) -> f64 {
    let classes = check_labels(logits, labels);
    let total: f64 = logits
        .chunks_exact(classes)
        .zip(labels)
        .map(|(row, &label)| log_sum_exp(row) - row[label as usize] as f64)
        .sum();
    total / labels.len() as f64
}

/// Cross-entropy backward: dlogits += (softmax(z) − onehot(label)) / N.
pub fn softmax_cross_entropy_backward(logits: &[f32], labels: &[i64], dlogits: &mut [f32]) {
    let classes = check_labels(logits, labels);
    assert_eq!(dlogits.len(), logits.len(), "cross entropy: dlogits length");
    let inv_batch = 1.0 / labels.len() as f64;
    for ((row, &label), drow) in logits
        .chunks_exact(classes)
        .zip(labels)
        .zip(dlogits.chunks_exact_mut(classes))
    {
        let lse = log_sum_exp(row);
        for (c, (d, &z)) in drow.iter_mut().zip(row).enumerate() {
            let onehot = if c == label as usize { 1.0 } else { 0.0 };
            *d += (((z as f64 - lse).exp() - onehot) * inv_batch) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::{assert_close, for_each_isa, numeric_grad, random_vec, to_f64};
    use proptest::prelude::*;

    /// Evaluate an f32 loss on f64 inputs (rounded), for finite differences of
    /// size 1e-2 where f32 rounding is negligible next to the step.
    fn at(loss: impl Fn(&[f32]) -> f64) -> impl Fn(&[f64]) -> f64 {
        move |x: &[f64]| loss(&x.iter().map(|&v| v as f32).collect::<Vec<_>>())
    }

    #[test]
    fn squared_error_in_parallel_pieces_matches_one_sum() {
        // Past two pieces with a ragged end: parallel pieces, eight lanes
        // and the remainder must all be counted, once.
        let len = 2 * PIECE + 8 * 3 + 5;
        let (pred, target) = (random_vec(len, 1), random_vec(len, 2));
        let expected: f64 = pred
            .iter()
            .zip(&target)
            .map(|(&p, &t)| (p as f64 - t as f64).powi(2))
            .sum();
        for_each_isa(|_| {
            let mut dpred = vec![f32::NAN; len];
            let value = mse_with_grad(&pred, &target, &mut dpred);
            assert!((value - expected / len as f64).abs() < 1e-6 * expected / len as f64);
            assert!((sse(&pred, &target) - expected).abs() < 1e-6 * expected);
            let scale = 2.0 / len as f32;
            for ((d, &p), &t) in dpred.iter().zip(&pred).zip(&target) {
                assert_eq!(*d, scale * (p - t)); // overwritten, not added
            }
        });
    }

    #[test]
    fn known_values() {
        // pred [1, 2, 3] vs target [1, 0, 0]: SSE = 0 + 4 + 9 = 13, MSE = 13/3.
        assert_eq!(sse(&[1.0, 2.0, 3.0], &[1.0, 0.0, 0.0]), 13.0);
        assert!((mse(&[1.0, 2.0, 3.0], &[1.0, 0.0, 0.0]) - 13.0 / 3.0).abs() < 1e-12);
        // PyTorch: F.cross_entropy(torch.tensor([[1., 2., 3.]]), torch.tensor([2]))
        //          = 0.4076059644...
        assert!((softmax_cross_entropy(&[1.0, 2.0, 3.0], &[2]) - 0.407_605_964_4).abs() < 1e-7);
        // Huge logits stay finite thanks to the max shift: loss of the winning class ≈ 0.
        assert!(softmax_cross_entropy(&[1000.0, 0.0], &[0]).abs() < 1e-12);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn gradients_match_finite_differences(batch in 1usize..4, classes in 1usize..6, seed: u64) {
            let len = batch * classes;
            let pred = random_vec(len, seed);
            let target = random_vec(len, seed + 1);
            let labels: Vec<i64> = random_vec(batch, seed + 2).iter()
                .map(|v| ((v + 1.0) / 2.0 * classes as f32) as i64 % classes as i64).collect();
            let x64 = to_f64(&pred);
            let eps = 1e-2;

            for_each_isa(|_| {
                let mut dpred = vec![1.0; len];
                sse_backward(&pred, &target, &mut dpred);
                let fd = numeric_grad(at(|p| sse(p, &target)), &x64, eps);
                assert_close(&dpred, &fd.iter().map(|g| g + 1.0).collect::<Vec<_>>(), 1e-3);

                let mut dpred = vec![1.0; len];
                mse_backward(&pred, &target, &mut dpred);
                let fd = numeric_grad(at(|p| mse(p, &target)), &x64, eps);
                assert_close(&dpred, &fd.iter().map(|g| g + 1.0).collect::<Vec<_>>(), 1e-3);
            });

            let mut dlogits = vec![1.0; len];
            softmax_cross_entropy_backward(&pred, &labels, &mut dlogits);
            let fd = numeric_grad(at(|z| softmax_cross_entropy(z, &labels)), &x64, eps);
            assert_close(&dlogits, &fd.iter().map(|g| g + 1.0).collect::<Vec<_>>(), 1e-3);
        }
    }

    #[test]
    #[should_panic(expected = "label 3 outside 0..3")]
    fn out_of_range_label_panics() {
        softmax_cross_entropy(&[0.0; 3], &[3]);
    }
}

//! Fully connected layer, PyTorch's `nn.Linear` layout.
//!
//! y = x·Wᵀ + b with x: batch × in_f, W: out_f × in_f, y: batch × out_f.
//! Backward: dx += dy·W,  dW += dyᵀ·x,  db += Σ_batch dy.

use super::gemm::Gemm;
use super::LinearGeom;

/// Linear forward: y (batch × out_f) is overwritten with x·Wᵀ + b.
pub fn linear_forward(
    g: &LinearGeom,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
) {
    let LinearGeom { batch, in_f, out_f } = *g;
    assert_eq!(x.len(), batch * in_f, "linear: x length");
    assert_eq!(weight.len(), out_f * in_f, "linear: weight length");
    assert_eq!(y.len(), batch * out_f, "linear: y length");
    Gemm::new(batch, out_f, in_f)
        .b_transposed()
        .run(x, weight, y);
    if let Some(bias) = bias {
        assert_eq!(bias.len(), out_f, "linear: bias length");
        for row in y.chunks_exact_mut(out_f.max(1)) {
            row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
        }
    }
}

/// Linear backward: accumulates dW, and dx / db when given.
pub fn linear_backward(
    g: &LinearGeom,
    x: &[f32],
    weight: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dweight: &mut [f32],
    dbias: Option<&mut [f32]>,
) {
    let LinearGeom { batch, in_f, out_f } = *g;
    assert_eq!(x.len(), batch * in_f, "linear: x length");
    assert_eq!(weight.len(), out_f * in_f, "linear: weight length");
    assert_eq!(dy.len(), batch * out_f, "linear: dy length");
    assert_eq!(dweight.len(), weight.len(), "linear: dweight length");
    if let Some(dx) = dx {
        assert_eq!(dx.len(), x.len(), "linear: dx length");
        // dx (batch × in_f) += dy (batch × out_f) · W (out_f × in_f)
        Gemm::new(batch, in_f, out_f)
            .accumulate()
            .run(dy, weight, dx);
    }
    // dW (out_f × in_f) += dyᵀ (out_f × batch) · x (batch × in_f)
    Gemm::new(out_f, in_f, batch)
        .a_transposed()
        .accumulate()
        .run(dy, x, dweight);
    if let Some(dbias) = dbias {
        assert_eq!(dbias.len(), out_f, "linear: dbias length");
        for row in dy.chunks_exact(out_f.max(1)) {
            dbias.iter_mut().zip(row).for_each(|(d, g)| *d += g);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::{assert_close, dot, for_each_isa, numeric_grad, random_vec, to_f64};
    use proptest::prelude::*;

    /// y[n, o] = b[o] + Σ_i x[n, i]·W[o, i], in f64.
    fn reference(
        batch: usize,
        in_f: usize,
        out_f: usize,
        x: &[f64],
        w: &[f64],
        b: &[f64],
    ) -> Vec<f64> {
        let mut y = vec![0.0; batch * out_f];
        for n in 0..batch {
            for o in 0..out_f {
                y[n * out_f + o] = b[o]
                    + (0..in_f)
                        .map(|i| x[n * in_f + i] * w[o * in_f + i])
                        .sum::<f64>();
            }
        }
        y
    }

    #[test]
    fn known_values() {
        // W = [[1, 2], [3, 4], [5, 6]], b = [1, 0, -1], x = [1, 1] → [4, 7, 10] (by hand).
        let g = LinearGeom::new(1, 2, 3).expect("small sizes");
        for_each_isa(|_| {
            let mut y = vec![0.0; 3];
            let w = [1., 2., 3., 4., 5., 6.];
            linear_forward(&g, &[1.0, 1.0], &w, Some(&[1.0, 0.0, -1.0]), &mut y);
            assert_eq!(y, vec![4.0, 7.0, 10.0]);
        });
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn matches_reference_and_finite_differences(batch in 1usize..5, in_f in 1usize..9,
                                                    out_f in 1usize..9, seed: u64) {
            let x = random_vec(batch * in_f, seed);
            let w = random_vec(out_f * in_f, seed + 1);
            let b = random_vec(out_f, seed + 2);
            let dy = random_vec(batch * out_f, seed + 3);
            let (x64, w64, b64, dy64) = (to_f64(&x), to_f64(&w), to_f64(&b), to_f64(&dy));
            let g = LinearGeom::new(batch, in_f, out_f).expect("small sizes");
            let plus_one = |g: Vec<f64>| g.into_iter().map(|v| v + 1.0).collect::<Vec<_>>();
            let eps = 1e-3;
            let dx_fd = plus_one(numeric_grad(|x| dot(&dy64, &reference(batch, in_f, out_f, x, &w64, &b64)), &x64, eps));
            let dw_fd = plus_one(numeric_grad(|w| dot(&dy64, &reference(batch, in_f, out_f, &x64, w, &b64)), &w64, eps));
            let db_fd = plus_one(numeric_grad(|b| dot(&dy64, &reference(batch, in_f, out_f, &x64, &w64, b)), &b64, eps));
            for_each_isa(|_| {
                let mut y = vec![0.0; batch * out_f];
                linear_forward(&g, &x, &w, Some(&b), &mut y);
                assert_close(&y, &reference(batch, in_f, out_f, &x64, &w64, &b64), 1e-5);
                let (mut dx, mut dw, mut db) = (vec![1.0; x.len()], vec![1.0; w.len()], vec![1.0; b.len()]);
                linear_backward(&g, &x, &w, &dy, Some(&mut dx), &mut dw, Some(&mut db));
                assert_close(&dx, &dx_fd, 1e-4);
                assert_close(&dw, &dw_fd, 1e-4);
                assert_close(&db, &db_fd, 1e-4);
            });
        }
    }
}

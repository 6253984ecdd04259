//! Single-precision matrix product, the workhorse under conv and linear.
//!
//! Why the `gemm` crate: it is pure Rust (no BLAS to find or link), picks
//! AVX-512 / AVX2+FMA / NEON micro-kernels at run time, packs panels for
//! cache blocking like BLIS, and runs on the rayon pool we already use. On
//! this machine it reaches most of OpenBLAS's single-thread speed for the
//! shapes convolution produces, which is all we need.

use gemm::Parallelism;

/// Below this many multiply-adds (`m·n·k`) a product runs on one thread:
/// splitting work across the pool costs more than it saves. Measured with
/// `benches/ops.rs`-sized shapes on 2 cores: ~64³ is where two threads start
/// to win.
const PARALLEL_MIN_FLOPS: usize = 1 << 18;

/// C(m×n) = A·B, or C += A·B when `beta_accumulate`.
///
/// All matrices are row-major. A is m×k (stored k×m when `trans_a`), B is
/// k×n (stored n×k when `trans_b`). Runs on the rayon pool when the product
/// is large enough to pay for it.
#[allow(clippy::too_many_arguments)]
pub fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    trans_a: bool,
    b: &[f32],
    trans_b: bool,
    c: &mut [f32],
    beta_accumulate: bool,
) {
    let threads = rayon::current_num_threads();
    let parallel = threads > 1 && m.saturating_mul(n).saturating_mul(k) >= PARALLEL_MIN_FLOPS;
    sgemm_threads(
        if parallel { threads } else { 1 },
        m,
        n,
        k,
        a,
        trans_a,
        b,
        trans_b,
        c,
        beta_accumulate,
    );
}

/// [`sgemm`] with an explicit thread count; `threads == 1` stays on the
/// calling thread (used inside kernels that already parallelise over the batch).
#[allow(clippy::too_many_arguments)]
pub(crate) fn sgemm_threads(
    threads: usize,
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    trans_a: bool,
    b: &[f32],
    trans_b: bool,
    c: &mut [f32],
    beta_accumulate: bool,
) {
    assert!(
        a.len() >= m * k,
        "sgemm: A has {} elements, need {m}x{k}",
        a.len()
    );
    assert!(
        b.len() >= k * n,
        "sgemm: B has {} elements, need {k}x{n}",
        b.len()
    );
    assert!(
        c.len() >= m * n,
        "sgemm: C has {} elements, need {m}x{n}",
        c.len()
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // Empty sum: A·B is the zero matrix.
        if !beta_accumulate {
            c[..m * n].fill(0.0);
        }
        return;
    }
    // Strides (column stride, row stride) of each operand as the math sees it.
    let (a_cs, a_rs) = if trans_a { (m, 1) } else { (1, k) };
    let (b_cs, b_rs) = if trans_b { (k, 1) } else { (1, n) };
    let parallelism = if threads > 1 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    // SAFETY: the asserts above guarantee every index the strides can reach
    // (max row·rs + col·cs) lies inside `a`, `b` and `c`; `c` is borrowed
    // mutably, so it cannot alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            beta_accumulate,
            a.as_ptr(),
            a_cs as isize,
            a_rs as isize,
            b.as_ptr(),
            b_cs as isize,
            b_rs as isize,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::{assert_close, random_vec};
    use proptest::prelude::*;

    /// Textbook triple loop in f64: C[i][j] = Σ_p A[i][p]·B[p][j].
    fn naive(
        m: usize,
        n: usize,
        k: usize,
        a: &[f32],
        trans_a: bool,
        b: &[f32],
        trans_b: bool,
    ) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut sum = 0.0f64;
                for p in 0..k {
                    let a_ip = if trans_a { a[p * m + i] } else { a[i * k + p] };
                    let b_pj = if trans_b { b[j * k + p] } else { b[p * n + j] };
                    sum += a_ip as f64 * b_pj as f64;
                }
                c[i * n + j] = sum as f32;
            }
        }
        c
    }

    #[test]
    fn known_2x2() {
        // [[1,2],[3,4]]·[[5,6],[7,8]] = [[19,22],[43,50]] (by hand).
        let mut c = vec![1.0; 4];
        sgemm(
            2,
            2,
            2,
            &[1., 2., 3., 4.],
            false,
            &[5., 6., 7., 8.],
            false,
            &mut c,
            false,
        );
        assert_eq!(c, vec![19., 22., 43., 50.]);
        sgemm(
            2,
            2,
            2,
            &[1., 2., 3., 4.],
            false,
            &[5., 6., 7., 8.],
            false,
            &mut c,
            true,
        );
        assert_eq!(c, vec![38., 44., 86., 100.]);
    }

    #[test]
    fn empty_inner_dimension_zeroes_or_keeps() {
        let mut c = vec![3.0; 6];
        sgemm(2, 3, 0, &[], false, &[], false, &mut c, true);
        assert_eq!(c, vec![3.0; 6]);
        sgemm(2, 3, 0, &[], false, &[], false, &mut c, false);
        assert_eq!(c, vec![0.0; 6]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn matches_naive(m in 1usize..40, n in 1usize..40, k in 1usize..40,
                         trans_a: bool, trans_b: bool, accumulate: bool, seed: u64) {
            let a = random_vec(m * k, seed);
            let b = random_vec(k * n, seed + 1);
            let start = random_vec(m * n, seed + 2);
            let mut c = start.clone();
            sgemm(m, n, k, &a, trans_a, &b, trans_b, &mut c, accumulate);
            let mut expected = naive(m, n, k, &a, trans_a, &b, trans_b);
            if accumulate {
                expected.iter_mut().zip(&start).for_each(|(e, s)| *e += s);
            }
            assert_close(&c, &expected, 1e-4);
        }
    }

    #[test]
    fn large_parallel_matches_naive() {
        let (m, n, k) = (70, 90, 80);
        let a = random_vec(m * k, 7);
        let b = random_vec(n * k, 8);
        let mut c = vec![0.0; m * n];
        sgemm(m, n, k, &a, false, &b, true, &mut c, false);
        assert_close(&c, &naive(m, n, k, &a, false, &b, true), 1e-4);
    }
}

use super::*;
use crate::ops::testutil::{assert_close, for_each_isa, random_vec};
use proptest::prelude::*;

/// Textbook triple loop in f64: C[i][j] = Σ_p A[i][p]·B[p][j].
fn naive(p: &Gemm, a: &[f32], b: &[f32]) -> Vec<f32> {
    let Gemm { m, n, k, .. } = *p;
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut sum = 0.0f64;
            for q in 0..k {
                let a_iq = match p.a {
                    Stored::AsIs => a[i * k + q],
                    Stored::Transposed => a[q * m + i],
                };
                let b_qj = match p.b {
                    Stored::AsIs => b[q * n + j],
                    Stored::Transposed => b[j * k + q],
                };
                sum += a_iq as f64 * b_qj as f64;
            }
            c[i * n + j] = sum as f32;
        }
    }
    c
}

#[test]
fn known_2x2() {
    // [[1,2],[3,4]]·[[5,6],[7,8]] = [[19,22],[43,50]] (by hand).
    for_each_isa(|_| {
        let (a, b) = ([1., 2., 3., 4.], [5., 6., 7., 8.]);
        let mut c = vec![1.0; 4];
        Gemm::new(2, 2, 2).run(&a, &b, &mut c);
        assert_eq!(c, vec![19., 22., 43., 50.]);
        Gemm::new(2, 2, 2).accumulate().run(&a, &b, &mut c);
        assert_eq!(c, vec![38., 44., 86., 100.]);
    });
}

#[test]
fn empty_inner_dimension_zeroes_or_keeps() {
    for_each_isa(|_| {
        let mut c = vec![3.0; 6];
        Gemm::new(2, 3, 0).accumulate().run(&[], &[], &mut c);
        assert_eq!(c, vec![3.0; 6]);
        Gemm::new(2, 3, 0).run(&[], &[], &mut c);
        assert_eq!(c, vec![0.0; 6]);
    });
}

/// The product with the given layouts.
fn layout(m: usize, n: usize, k: usize, trans_a: bool, trans_b: bool, acc: bool) -> Gemm {
    let mut p = Gemm::new(m, n, k);
    if trans_a {
        p = p.a_transposed();
    }
    if trans_b {
        p = p.b_transposed();
    }
    if acc {
        p = p.accumulate();
    }
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn matches_naive(m in 1usize..40, n in 1usize..40, k in 1usize..40,
                     trans_a: bool, trans_b: bool, accumulate: bool, seed: u64) {
        let p = layout(m, n, k, trans_a, trans_b, accumulate);
        let a = random_vec(m * k, seed);
        let b = random_vec(k * n, seed + 1);
        let start = random_vec(m * n, seed + 2);
        let mut expected = naive(&p, &a, &b);
        if accumulate {
            expected.iter_mut().zip(&start).for_each(|(e, s)| *e += s);
        }
        for_each_isa(|_| {
            let mut c = start.clone();
            p.run(&a, &b, &mut c);
            assert_close(&c, &expected, 1e-4);
        });
    }
}

#[test]
fn crosses_every_block_boundary() {
    // m > MC, n > NC, k > KC (128, 2048, 256) with ragged edges, in the
    // transposed layouts conv backward uses, accumulating.
    let (m, n, k) = (137, 2085, 300);
    let a = random_vec(m * k, 21);
    let b = random_vec(n * k, 22);
    for (trans_a, trans_b) in [(false, false), (true, false), (false, true)] {
        let p = layout(m, n, k, trans_a, trans_b, true);
        let mut expected = naive(&p, &a, &b);
        expected.iter_mut().for_each(|e| *e += 1.0);
        for_each_isa(|_| {
            let mut c = vec![1.0; m * n];
            p.run(&a, &b, &mut c);
            assert_close(&c, &expected, 1e-4);
        });
    }
}

#[test]
fn strided_output_fills_a_column_block() {
    // C is the middle 5 columns of a 3×9 matrix (row stride 9); the other
    // columns must be untouched. Both the single- and multi-threaded paths.
    for (threads, m) in [(1, 3), (2, 130)] {
        let (n, k, ldc) = (5, 300, 9);
        let a = random_vec(m * k, 31);
        let b = random_vec(k * n, 32);
        let p = Gemm::new(m, n, k).ldc(ldc);
        let expected = naive(&Gemm::new(m, n, k), &a, &b);
        for_each_isa(|isa| {
            let mut c = vec![7.0; m * ldc];
            p.run_with(isa, threads, &a, &b, &mut c[2..]);
            for (row, c_row) in c.chunks(ldc).enumerate() {
                assert_close(&c_row[2..7], &expected[row * n..][..n], 1e-4);
                assert!(c_row[..2].iter().chain(&c_row[7..]).all(|&v| v == 7.0));
            }
        });
    }
}

#[test]
fn large_parallel_matches_naive() {
    // Past PARALLEL_MIN_FLOPS (and, on x86-64, SINGLE_THREAD_FLOPS) with
    // few rows: the `gemm` crate's threaded path; with many rows, the
    // AVX-512 kernel's row split.
    for (m, n, k) in [(100, 300, 300), (300, 100, 300)] {
        assert!(m * n * k >= PARALLEL_MIN_FLOPS.max(1 << 23));
        let a = random_vec(m * k, 7);
        let b = random_vec(n * k, 8);
        let p = Gemm::new(m, n, k).b_transposed();
        let expected = naive(&p, &a, &b);
        for_each_isa(|isa| {
            for threads in [1, 2] {
                let mut c = vec![0.0; m * n];
                p.run_with(isa, threads, &a, &b, &mut c);
                assert_close(&c, &expected, 1e-4);
            }
        });
    }
}

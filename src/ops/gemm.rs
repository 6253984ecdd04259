//! Single-precision matrix product, the workhorse under conv and linear.
//!
//! Why the `gemm` crate: it is pure Rust (no BLAS to find or link), picks
//! AVX-512 / AVX2+FMA / NEON micro-kernels at run time, packs panels for
//! cache blocking like BLIS, and splits work on the rayon pool we already
//! use. Its AVX-512 kernels need its `nightly` feature, though, so on stable
//! Rust it runs 8-wide AVX2 code; for AVX-512 machines this file adds its own
//! 16-wide packed kernel (module `avx512`) and keeps the crate as the
//! portable fallback.

use gemm::Parallelism;
use rayon::prelude::*;

/// Below this many multiply-adds (`m·n·k`, ~50 µs on one core) a product
/// runs on one thread: a rayon fork-join plus each thread packing its own
/// panels costs tens of µs. Chosen by that estimate, not a clean measurement
/// (the development machine was shared and heavily loaded).
const PARALLEL_MIN_FLOPS: usize = 1 << 21;

/// Multiply-adds below which the AVX-512 kernel runs on one thread rather
/// than handing a thin product to the `gemm` crate's threaded path.
#[cfg(target_arch = "x86_64")]
const SINGLE_THREAD_FLOPS: usize = 1 << 23;

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
    sgemm_strided(
        threads,
        m,
        n,
        k,
        a,
        trans_a,
        b,
        trans_b,
        c,
        n,
        beta_accumulate,
    );
}

/// [`sgemm_threads`] writing C rows `ldc` apart (ldc ≥ n), so a product can
/// fill a column block of a wider matrix.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sgemm_strided(
    threads: usize,
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    trans_a: bool,
    b: &[f32],
    trans_b: bool,
    c: &mut [f32],
    ldc: usize,
    beta_accumulate: bool,
) {
    assert!(ldc >= n, "sgemm: ldc {ldc} < n {n}");
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
    if m == 0 || n == 0 {
        return;
    }
    let c_len = (m - 1) * ldc + n;
    assert!(
        c.len() >= c_len,
        "sgemm: C has {} elements, need {m}x{n} with row stride {ldc}",
        c.len()
    );
    let c = &mut c[..c_len];
    if k == 0 {
        // Empty sum: A·B is the zero matrix.
        if !beta_accumulate {
            c.chunks_mut(ldc).for_each(|row| row[..n].fill(0.0));
        }
        return;
    }
    // Threads split C by rows and each packs all of B, so splitting only
    // pays with enough rows per thread; thinner products go to the `gemm`
    // crate, which splits along columns too.
    // A product this small (LeNet's linear layers: 3M multiply-adds, ~30 µs)
    // runs faster whole on one core than split by the crate across threads.
    #[cfg(target_arch = "x86_64")]
    let threads = if m.saturating_mul(n).saturating_mul(k) < SINGLE_THREAD_FLOPS {
        1
    } else {
        threads
    };
    #[cfg(target_arch = "x86_64")]
    if avx512::available() && (threads == 1 || m >= 64 * threads) {
        let rows_per_task = if threads > 1 {
            m.div_ceil(threads).max(1)
        } else {
            m
        };
        let run = |(task, c_rows): (usize, &mut [f32])| {
            let rows = rows_per_task.min(m - task * rows_per_task);
            // SAFETY: the CPU supports AVX-512F (checked just above).
            unsafe {
                avx512::sgemm(
                    rows,
                    n,
                    k,
                    task * rows_per_task,
                    a,
                    m,
                    trans_a,
                    b,
                    trans_b,
                    c_rows,
                    ldc,
                    beta_accumulate,
                )
            }
        };
        if threads > 1 && m > rows_per_task {
            c.par_chunks_mut(rows_per_task * ldc)
                .enumerate()
                .for_each(run);
        } else {
            run((0, c));
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
    // (max row·rs + col·cs) lies inside `a`, `b` and `c` (C's last index is
    // (m−1)·ldc + n − 1 < c.len()); `c` is borrowed
    // mutably, so it cannot alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            ldc as isize,
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

/// A BLIS-style single-precision GEMM for CPUs with AVX-512F.
///
/// The `gemm` crate only uses AVX-512 with its nightly feature, so on stable
/// Rust it runs 8-wide AVX2 kernels. On this machine (AVX-512, 2 cores) the
/// 16-wide kernel below measured 1.1–1.6× faster than the crate's AVX2 path
/// on the conv-c/conv-f benchmarks (A/B runs on a loaded 2-core machine).
///
/// Blocking: C is computed in MR×NR tiles held in 16 zmm accumulators; A
/// is packed into MR-row panels and B into NR-column panels (zero-padded, so
/// the kernel never branches on edges), in KC-deep slabs so a B panel stays
/// in L1 and an A block in L2.
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512 {
    use std::arch::x86_64::*;
    use std::cell::RefCell;

    pub(crate) const MR: usize = 8;
    pub(crate) const NR: usize = 32;
    const KC: usize = 256;
    const MC: usize = 128;
    const NC: usize = 2048;

    pub fn available() -> bool {
        use std::sync::OnceLock;
        static DETECTED: OnceLock<bool> = OnceLock::new();
        *DETECTED.get_or_init(|| std::arch::is_x86_feature_detected!("avx512f"))
    }

    thread_local! {
        /// Packed A and B panels, reused across calls on each thread.
        static PACKED: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
    }

    /// Operand view: element (row, col) of a row-major matrix, or of its
    /// transpose when `trans`.
    #[derive(Clone, Copy)]
    struct Operand<'a> {
        data: &'a [f32],
        trans: bool,
        /// Length of a stored row.
        stored_cols: usize,
    }

    impl Operand<'_> {
        #[inline(always)]
        fn at(&self, row: usize, col: usize) -> f32 {
            if self.trans {
                self.data[col * self.stored_cols + row]
            } else {
                self.data[row * self.stored_cols + col]
            }
        }
    }

    /// Pack rows `rows` × depth `depth` of A into MR-row panels, k-major.
    fn pack_a(
        a: Operand,
        rows: std::ops::Range<usize>,
        depth: std::ops::Range<usize>,
        out: &mut Vec<f32>,
    ) {
        let panels = rows.len().div_ceil(MR);
        // Every element is written below (edges zero-padded), so no clearing.
        out.resize(panels * MR * depth.len(), 0.0);
        for (panel, chunk) in out.chunks_exact_mut(MR * depth.len()).enumerate() {
            let row0 = rows.start + panel * MR;
            let valid = MR.min(rows.end - row0);
            for (p, slot) in depth.clone().zip(chunk.chunks_exact_mut(MR)) {
                for (r, value) in slot[..valid].iter_mut().enumerate() {
                    *value = a.at(row0 + r, p);
                }
                slot[valid..].fill(0.0);
            }
        }
    }

    /// Row-major A (m×k) as MR-row panels over its whole depth, k-major,
    /// the layout [`micro`] reads through packed operands.
    pub(crate) fn pack_rows(a: &[f32], m: usize, k: usize, out: &mut Vec<f32>) {
        assert!(
            a.len() >= m * k,
            "pack_rows: A has {} elements, need {m}x{k}",
            a.len()
        );
        let a = Operand {
            data: a,
            trans: false,
            stored_cols: k,
        };
        pack_a(a, 0..m, 0..k, out);
    }

    /// Pack depth `depth` × columns `cols` of B into NR-column panels, k-major.
    fn pack_b(
        b: Operand,
        depth: std::ops::Range<usize>,
        cols: std::ops::Range<usize>,
        out: &mut Vec<f32>,
    ) {
        let panel_len = NR * depth.len();
        // Every element is written below (edges zero-padded), so no clearing.
        out.resize(cols.len().div_ceil(NR) * panel_len, 0.0);
        if b.trans {
            // Column j of B is stored row j: read it in order and scatter
            // down the panel, which is small enough to stay in cache. (Filling
            // slots in order from 32 rows read side by side measured no faster.)
            for (panel, chunk) in out.chunks_exact_mut(panel_len).enumerate() {
                let col0 = cols.start + panel * NR;
                let valid = NR.min(cols.end - col0);
                for c in 0..NR {
                    if c < valid {
                        let stored_row = (col0 + c) * b.stored_cols;
                        let source = &b.data[stored_row + depth.start..stored_row + depth.end];
                        for (slot, &value) in chunk.chunks_exact_mut(NR).zip(source) {
                            slot[c] = value;
                        }
                    } else {
                        chunk.chunks_exact_mut(NR).for_each(|slot| slot[c] = 0.0);
                    }
                }
            }
            return;
        }
        // Row by row, so B (often far larger than the cache) streams through
        // memory in order instead of 32-float pieces of many rows.
        for (step, p) in depth.enumerate() {
            let row = &b.data[p * b.stored_cols + cols.start..p * b.stored_cols + cols.end];
            for (panel, piece) in row.chunks(NR).enumerate() {
                let slot = &mut out[panel * panel_len + step * NR..][..NR];
                if let (Ok(slot), Ok(piece)) = (
                    <&mut [f32; NR]>::try_from(&mut *slot),
                    <&[f32; NR]>::try_from(piece),
                ) {
                    // Constant length: inlined vector moves, not a memcpy call.
                    *slot = *piece;
                } else {
                    slot[..piece.len()].copy_from_slice(piece);
                    slot[piece.len()..].fill(0.0);
                }
            }
        }
    }

    /// Where the micro-kernel reads its operands at depth step `p`: A's
    /// value for tile row `r`, and the start of B's NR values.
    ///
    /// # Safety
    /// Implementations promise that for every `p < kc` and `r < MR` the
    /// kernel is called with, `a(p, r)` points to a readable f32 and `b(p)`
    /// to NR readable f32s.
    pub(crate) unsafe trait Operands {
        fn a(&self, p: usize, r: usize) -> *const f32;
        fn b(&self, p: usize) -> *const f32;
    }

    /// Both operands packed: A as MR-row panels, B as NR-column panels,
    /// k-major.
    struct Packed {
        a: *const f32,
        b: *const f32,
    }

    // SAFETY: built in `sgemm` from a packed A panel and a packed B panel
    // of the same depth, so p·MR + r and p·NR + NR − 1 stay inside them.
    unsafe impl Operands for Packed {
        #[inline(always)]
        fn a(&self, p: usize, r: usize) -> *const f32 {
            self.a.wrapping_add(p * MR + r)
        }
        #[inline(always)]
        fn b(&self, p: usize) -> *const f32 {
            self.b.wrapping_add(p * NR)
        }
    }

    /// Lane mask of the first `n` (≤ 16) lanes.
    #[inline(always)]
    fn lanes(n: usize) -> __mmask16 {
        if n >= 16 {
            0xffff
        } else {
            ((1u32 << n) - 1) as __mmask16
        }
    }

    /// C tile (`rows` ≤ MR × `cols` ≤ 16·NV, row stride `ldc`) = (C +) Σ_p
    /// A(p, ·)ᵀ B(p, ·) over `kc` depth steps, in MR·NV zmm accumulators
    /// (NV = 2 is the NR = 32 tile; 3 trades column granularity for fewer
    /// B loads per multiply-add).
    ///
    /// # Safety
    /// The CPU supports AVX-512F; `ops` satisfies [`Operands`] for `kc`
    /// with 16·NV values per B row; `c` points to a tile whose `rows` rows
    /// of `cols` floats, `ldc` apart, are writable (and readable when
    /// `accumulate`).
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    pub(crate) unsafe fn micro<O: Operands, const NV: usize>(
        ops: &O,
        kc: usize,
        c: *mut f32,
        ldc: usize,
        rows: usize,
        cols: usize,
        accumulate: bool,
    ) {
        let masks: [__mmask16; NV] = std::array::from_fn(|v| lanes(cols.saturating_sub(16 * v)));
        let mut acc = [[_mm512_setzero_ps(); NV]; MR];
        if accumulate {
            for (r, acc_r) in acc.iter_mut().enumerate() {
                if r < rows {
                    for (v, (acc_v, &mask)) in acc_r.iter_mut().zip(&masks).enumerate() {
                        if mask != 0 {
                            // SAFETY: row r < rows, lanes < cols of the tile;
                            // masked lanes are not read.
                            *acc_v =
                                unsafe { _mm512_maskz_loadu_ps(mask, c.add(r * ldc + 16 * v)) };
                        }
                    }
                }
            }
        }
        for p in 0..kc {
            let b = ops.b(p);
            // SAFETY: the `Operands` contract: 16·NV values at b(p), p < kc.
            let bv: [__m512; NV] =
                std::array::from_fn(|v| unsafe { _mm512_loadu_ps(b.add(16 * v)) });
            for (r, acc_r) in acc.iter_mut().enumerate() {
                // SAFETY: the `Operands` contract for p < kc, r < MR.
                let a_r = _mm512_set1_ps(unsafe { *ops.a(p, r) });
                for (acc_v, &b_v) in acc_r.iter_mut().zip(&bv) {
                    *acc_v = _mm512_fmadd_ps(a_r, b_v, *acc_v);
                }
            }
        }
        for (r, acc_r) in acc.iter().enumerate() {
            if r < rows {
                for (v, (&acc_v, &mask)) in acc_r.iter().zip(&masks).enumerate() {
                    if mask != 0 {
                        // SAFETY: row r < rows, lanes < cols of the tile;
                        // masked lanes are not written.
                        unsafe { _mm512_mask_storeu_ps(c.add(r * ldc + 16 * v), mask, acc_v) };
                    }
                }
            }
        }
    }

    /// C(m×n) = A·B (+ C when `accumulate`) on the calling thread, C rows
    /// `ldc` apart; `c` holds the rows `row_offset..row_offset + m` of A's rows.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub fn sgemm(
        m: usize,
        n: usize,
        k: usize,
        row_offset: usize,
        a: &[f32],
        a_rows_total: usize,
        trans_a: bool,
        b: &[f32],
        trans_b: bool,
        c: &mut [f32],
        ldc: usize,
        accumulate: bool,
    ) {
        let a = Operand {
            data: a,
            trans: trans_a,
            stored_cols: if trans_a { a_rows_total } else { k },
        };
        let b = Operand {
            data: b,
            trans: trans_b,
            stored_cols: if trans_b { k } else { n },
        };
        PACKED.with_borrow_mut(|(packed_a, packed_b)| {
            for col_block in (0..n).step_by(NC) {
                let cols = col_block..(col_block + NC).min(n);
                for depth_block in (0..k).step_by(KC) {
                    let depth = depth_block..(depth_block + KC).min(k);
                    let overwrite = depth_block == 0 && !accumulate;
                    pack_b(b, depth.clone(), cols.clone(), packed_b);
                    for row_block in (0..m).step_by(MC) {
                        let rows = row_block..(row_block + MC).min(m);
                        pack_a(
                            a,
                            row_offset + rows.start..row_offset + rows.end,
                            depth.clone(),
                            packed_a,
                        );
                        let b_panels = packed_b.chunks_exact(NR * depth.len());
                        for (j, b_panel) in b_panels.enumerate() {
                            let col0 = cols.start + j * NR;
                            let valid_cols = NR.min(cols.end - col0);
                            for (i, a_panel) in packed_a.chunks_exact(MR * depth.len()).enumerate()
                            {
                                let row0 = rows.start + i * MR;
                                let valid_rows = MR.min(rows.end - row0);
                                let ops = Packed {
                                    a: a_panel.as_ptr(),
                                    b: b_panel.as_ptr(),
                                };
                                // SAFETY: AVX-512F is enabled on this function; the
                                // panels hold depth.len() steps; the tile at
                                // (row0, col0) of valid_rows × valid_cols lies in
                                // `c` (asserted by the caller: (m−1)·ldc + n ≤ len).
                                unsafe {
                                    micro::<_, 2>(
                                        &ops,
                                        depth.len(),
                                        c.as_mut_ptr().add(row0 * ldc + col0),
                                        ldc,
                                        valid_rows,
                                        valid_cols,
                                        !overwrite,
                                    );
                                }
                            }
                        }
                    }
                }
            }
        });
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
    fn crosses_every_block_boundary() {
        // m > MC, n > NC, k > KC (128, 2048, 256) with ragged edges, in the
        // transposed layouts conv backward uses, accumulating.
        let (m, n, k) = (137, 2085, 300);
        let a = random_vec(m * k, 21);
        let b = random_vec(n * k, 22);
        for (trans_a, trans_b) in [(false, false), (true, false), (false, true)] {
            let mut c = vec![1.0; m * n];
            sgemm(m, n, k, &a, trans_a, &b, trans_b, &mut c, true);
            let mut expected = naive(m, n, k, &a, trans_a, &b, trans_b);
            expected.iter_mut().for_each(|e| *e += 1.0);
            assert_close(&c, &expected, 1e-4);
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
            let mut c = vec![7.0; m * ldc];
            sgemm_strided(
                threads,
                m,
                n,
                k,
                &a,
                false,
                &b,
                false,
                &mut c[2..],
                ldc,
                false,
            );
            let expected = naive(m, n, k, &a, false, &b, false);
            for (row, c_row) in c.chunks(ldc).enumerate() {
                assert_close(&c_row[2..7], &expected[row * n..][..n], 1e-4);
                assert!(c_row[..2].iter().chain(&c_row[7..]).all(|&v| v == 7.0));
            }
        }
    }

    #[test]
    fn large_parallel_matches_naive() {
        // Past PARALLEL_MIN_FLOPS (and, on x86-64, SINGLE_THREAD_FLOPS) with
        // few rows: the `gemm` crate's threaded path.
        let (m, n, k) = (100, 300, 300);
        assert!(m * n * k >= PARALLEL_MIN_FLOPS.max(1 << 23));
        let a = random_vec(m * k, 7);
        let b = random_vec(n * k, 8);
        let mut c = vec![0.0; m * n];
        sgemm(m, n, k, &a, false, &b, true, &mut c, false);
        assert_close(&c, &naive(m, n, k, &a, false, &b, true), 1e-4);
    }
}

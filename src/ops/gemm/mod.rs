//! Single-precision matrix product, the workhorse under conv and linear.
//!
//! Why the `gemm` crate: it is pure Rust (no BLAS to find or link), picks
//! AVX-512 / AVX2+FMA / NEON micro-kernels at run time, packs panels for
//! cache blocking like BLIS, and splits work on the rayon pool we already
//! use. Its AVX-512 kernels need its `nightly` feature, though, so on stable
//! Rust it runs 8-wide AVX2 code; for the `avx512` family (see `ops::isa`)
//! this module adds its own 16-wide packed kernel (`avx512`) and keeps the
//! crate for the other families.

use super::isa::{self, Isa};
use gemm::Parallelism;
#[cfg(target_arch = "x86_64")]
use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;

/// Below this many multiply-adds (`m·n·k`, ~50 µs on one core) a product
/// runs on one thread: a rayon fork-join plus each thread packing its own
/// panels costs tens of µs. Chosen by that estimate, not a clean measurement
/// (the development machine was shared and heavily loaded).
const PARALLEL_MIN_FLOPS: usize = 1 << 21;

/// Multiply-adds below which the AVX-512 kernel runs on one thread rather
/// than handing a thin product to the `gemm` crate's threaded path.
#[cfg(target_arch = "x86_64")]
const SINGLE_THREAD_FLOPS: usize = 1 << 23;

/// How an operand is stored, row-major.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// As the product reads it: A is m×k, B is k×n.
    AsIs,
    /// Transposed: A stored k×m, B stored n×k.
    Transposed,
}

/// What the product does to C.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// C = A·B.
    Overwrite,
    /// C += A·B.
    Accumulate,
}

/// A matrix product C (m×n) = A (m×k) · B (k×n), all row-major, described
/// once and run with [`Gemm::run`]:
/// `Gemm::new(m, n, k).b_transposed().accumulate().run(a, b, c)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gemm {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: Stored,
    pub b: Stored,
    pub c: Output,
    /// Distance between C's rows (≥ n), so a product can fill a column
    /// block of a wider matrix.
    pub ldc: usize,
}

impl Gemm {
    /// C = A·B with both operands as is and C's rows n apart.
    pub fn new(m: usize, n: usize, k: usize) -> Gemm {
        Gemm {
            m,
            n,
            k,
            a: Stored::AsIs,
            b: Stored::AsIs,
            c: Output::Overwrite,
            ldc: n,
        }
    }

    /// A is stored k×m.
    pub fn a_transposed(self) -> Gemm {
        Gemm {
            a: Stored::Transposed,
            ..self
        }
    }

    /// B is stored n×k.
    pub fn b_transposed(self) -> Gemm {
        Gemm {
            b: Stored::Transposed,
            ..self
        }
    }

    /// C += A·B.
    pub fn accumulate(self) -> Gemm {
        Gemm {
            c: Output::Accumulate,
            ..self
        }
    }

    /// C's rows are `ldc` apart.
    pub fn ldc(self, ldc: usize) -> Gemm {
        Gemm { ldc, ..self }
    }

    /// Run with this thread's kernel family, on the rayon pool when the
    /// product is large enough to pay for it.
    pub fn run(&self, a: &[f32], b: &[f32], c: &mut [f32]) {
        let threads = rayon::current_num_threads();
        let flops = self.m.saturating_mul(self.n).saturating_mul(self.k);
        let parallel = threads > 1 && flops >= PARALLEL_MIN_FLOPS;
        self.run_with(isa::current(), if parallel { threads } else { 1 }, a, b, c);
    }

    /// Run with kernel family `isa` on `threads` threads (1 stays on the
    /// calling thread: kernels that already split their work use that).
    pub(crate) fn run_with(&self, isa: Isa, threads: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
        let Gemm { m, n, k, ldc, .. } = *self;
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
            if self.c == Output::Overwrite {
                c.chunks_mut(ldc).for_each(|row| row[..n].fill(0.0));
            }
            return;
        }
        // A product this small (LeNet's linear layers: 3M multiply-adds,
        // ~30 µs) runs faster whole on one core than split by the crate
        // across threads.
        #[cfg(target_arch = "x86_64")]
        let threads = if m.saturating_mul(n).saturating_mul(k) < SINGLE_THREAD_FLOPS {
            1
        } else {
            threads
        };
        // Threads split C by rows and each packs all of B, so splitting only
        // pays with enough rows per thread; thinner products go to the `gemm`
        // crate, which splits along columns too.
        #[cfg(target_arch = "x86_64")]
        if isa.avx512() && (threads == 1 || m >= 64 * threads) {
            self.run_avx512(isa, threads, a, b, c);
            return;
        }
        let _ = isa;
        self.run_crate(threads, a, b, c);
    }

    /// The AVX-512 kernel, C split into row blocks on `threads` threads.
    #[cfg(target_arch = "x86_64")]
    fn run_avx512(&self, isa: Isa, threads: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
        assert!(
            isa.avx512(),
            "sgemm: the AVX-512 kernel needs the avx512 family"
        );
        let m = self.m;
        let rows_per_task = if threads > 1 {
            m.div_ceil(threads).max(1)
        } else {
            m
        };
        let run = |(task, c_rows): (usize, &mut [f32])| {
            let start = task * rows_per_task;
            let rows = start..start + rows_per_task.min(m - start);
            // SAFETY: `isa` has the avx512 family (asserted), which `ops::isa`
            // only grants after detecting AVX-512F on this CPU.
            unsafe { avx512::sgemm(self, rows, a, b, c_rows) }
        };
        if threads > 1 && m > rows_per_task {
            c.par_chunks_mut(rows_per_task * self.ldc)
                .enumerate()
                .for_each(run);
        } else {
            run((0, c));
        }
    }

    /// The `gemm` crate, which picks its own micro-kernel.
    fn run_crate(&self, threads: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
        let Gemm { m, n, k, ldc, .. } = *self;
        // Strides (column stride, row stride) of each operand as the math sees it.
        let (a_cs, a_rs) = match self.a {
            Stored::AsIs => (1, k),
            Stored::Transposed => (m, 1),
        };
        let (b_cs, b_rs) = match self.b {
            Stored::AsIs => (1, n),
            Stored::Transposed => (k, 1),
        };
        let parallelism = if threads > 1 {
            Parallelism::Rayon(threads)
        } else {
            Parallelism::None
        };
        // SAFETY: `run_with` asserted that every index the strides can reach
        // (max row·rs + col·cs) lies inside `a` and `b`, and cut `c` to
        // (m−1)·ldc + n elements, C's last index + 1; `c` is borrowed
        // mutably, so it cannot alias `a` or `b`.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                c.as_mut_ptr(),
                1,
                ldc as isize,
                self.c == Output::Accumulate,
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
}

#[cfg(test)]
mod tests;

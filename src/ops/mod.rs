//! Kernels on contiguous f32 NCHW data: forward and backward of each
//! operation family side by side, one file (or folder) per family.
//!
//! Backward functions *accumulate* (`+=`) into their gradient outputs, so a
//! tensor read twice receives both contributions (the activations' and
//! batchnorm's can also write dx, for a gradient's first contribution). Shapes come in as
//! geometries checked once when built (`geom`); which instruction set the
//! kernels use is decided in one place (`isa`).

pub mod activation;
pub mod batchnorm;
pub mod conv;
pub mod gemm;
pub mod geom;
pub mod isa;
pub mod linear;
pub mod loss;
pub mod pool;
mod vector;

#[cfg(test)]
pub(crate) mod testutil;

pub use geom::{Axis, BatchNormGeom, ConvGeom, GeomError, LinearGeom, PoolGeom};

/// Elements per parallel piece of the memory-bound helpers below: a second
/// thread's memory bandwidth pays for the fork only from two pieces on.
const PIECE: usize = 1 << 18;

/// `f(dst piece, a piece, b piece)` over matching pieces, in parallel when large.
fn zip_pieces(
    dst: &mut [f32],
    a: &[f32],
    b: &[f32],
    f: impl Fn(&mut [f32], &[f32], &[f32]) + Sync + Send,
) {
    use rayon::prelude::*;
    assert!(dst.len() == a.len() && a.len() == b.len(), "lengths differ");
    if dst.len() >= 2 * PIECE && rayon::current_num_threads() > 1 {
        dst.par_chunks_mut(PIECE)
            .zip(a.par_chunks(PIECE).zip(b.par_chunks(PIECE)))
            .for_each(|(d, (a, b))| f(d, a, b));
    } else {
        f(dst, a, b);
    }
}

/// `f((i, chunk))` over `data`'s chunks of `len` in order, on rayon's pool
/// when `parallel`.
pub fn for_each_chunk<T, F>(data: &mut [T], len: usize, parallel: bool, f: F)
where
    T: Send,
    F: Fn((usize, &mut [T])) + Send + Sync,
{
    use rayon::prelude::*;
    if parallel {
        data.par_chunks_mut(len).enumerate().for_each(f);
    } else {
        data.chunks_mut(len).enumerate().for_each(f);
    }
}

/// dst = src.
pub fn copy(dst: &mut [f32], src: &[f32]) {
    zip_pieces(dst, src, src, |d, s, _| d.copy_from_slice(s));
}

/// dst += src.
pub fn add_assign(dst: &mut [f32], src: &[f32]) {
    zip_pieces(dst, src, src, |d, s, _| {
        d.iter_mut().zip(s).for_each(|(d, s)| *d += s)
    });
}

/// dst = a + b.
pub fn add(dst: &mut [f32], a: &[f32], b: &[f32]) {
    zip_pieces(dst, a, b, |d, a, b| {
        d.iter_mut()
            .zip(a.iter().zip(b))
            .for_each(|(d, (a, b))| *d = a + b)
    });
}

/// dst = 0.
pub fn zero(dst: &mut [f32]) {
    use rayon::prelude::*;
    if dst.len() >= 2 * PIECE && rayon::current_num_threads() > 1 {
        dst.par_chunks_mut(PIECE).for_each(|d| d.fill(0.0));
    } else {
        dst.fill(0.0);
    }
}

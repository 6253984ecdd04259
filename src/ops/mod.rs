//! Kernels on contiguous f32 NCHW data: forward and backward of each
//! operation family side by side, one file (or folder) per family.
//!
//! Backward functions *accumulate* (`+=`) into their gradient outputs, so a
//! tensor read twice receives both contributions. Shapes come in as
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

/// dst = src, split across the rayon pool when it is large enough for a
/// second thread's memory bandwidth to pay for the fork.
pub fn copy(dst: &mut [f32], src: &[f32]) {
    use rayon::prelude::*;
    const PIECE: usize = 1 << 18;
    assert_eq!(dst.len(), src.len(), "copy: lengths differ");
    if dst.len() >= 2 * PIECE && rayon::current_num_threads() > 1 {
        dst.par_chunks_mut(PIECE)
            .zip(src.par_chunks(PIECE))
            .for_each(|(d, s)| d.copy_from_slice(s));
    } else {
        dst.copy_from_slice(src);
    }
}

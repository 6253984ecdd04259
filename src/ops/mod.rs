//! Kernels on contiguous f32 NCHW data: forward and backward of each
//! operation family side by side, one file per family.
//!
//! Backward functions *accumulate* (`+=`) into their gradient outputs, so a
//! tensor read twice receives both contributions.

pub mod activation;
pub mod batchnorm;
pub mod conv;
pub mod gemm;

// AVX-512 kernels (x86-64 only; each checks the CPU at run time). Other
// targets get stand-ins whose `suits` is always false.
#[cfg(target_arch = "x86_64")]
mod depthwise;
#[cfg(target_arch = "x86_64")]
mod implicit;
#[cfg(not(target_arch = "x86_64"))]
mod depthwise {
    use super::ConvGeom;
    pub fn suits(_: &ConvGeom) -> bool {
        false
    }
    pub fn forward_plane(_: &ConvGeom, _: &[f32], _: &[f32], _: f32, _: &mut [f32]) {
        unreachable!("depthwise::suits is false off x86-64")
    }
    pub fn weight_grad_planes<'a>(
        _: &ConvGeom,
        _: impl Iterator<Item = (&'a [f32], &'a [f32])> + Clone,
        _: &mut [f32],
    ) {
        unreachable!("depthwise::suits is false off x86-64")
    }
}
#[cfg(not(target_arch = "x86_64"))]
mod implicit {
    use super::ConvGeom;
    pub fn suits(_: &ConvGeom, _: usize) -> bool {
        false
    }
    pub fn forward(_: &ConvGeom, _: &[f32], _: &[f32], _: &mut [f32], _: usize) {
        unreachable!("implicit::suits is false off x86-64")
    }
    pub fn weight_grad(_: &ConvGeom, _: &[f32], _: &[f32], _: &mut [f32], _: usize) {
        unreachable!("implicit::suits is false off x86-64")
    }
}
pub mod linear;
pub mod loss;
pub mod pool;
mod vector;

#[cfg(test)]
mod testutil;

/// Geometry of a 2-D convolution over NCHW data. Output sizes come from
/// `crate::ir::shape::window_out` (via inference); the kernels never recompute them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeom {
    pub batch: usize,
    pub in_ch: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub out_ch: usize,
    pub k_h: usize,
    pub k_w: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    /// Zero padding before the first row / column. Padding after is implied
    /// by `out_h`/`out_w`: any tap outside the input reads zero.
    pub pad_top: usize,
    pub pad_left: usize,
    pub dil_h: usize,
    pub dil_w: usize,
    pub groups: usize,
    pub out_h: usize,
    pub out_w: usize,
}

/// Geometry of a 2-D pooling window over NCHW data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolGeom {
    pub batch: usize,
    pub channels: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub k_h: usize,
    pub k_w: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub pad_top: usize,
    pub pad_bottom: usize,
    pub pad_left: usize,
    pub pad_right: usize,
    pub dil_h: usize,
    pub dil_w: usize,
    pub out_h: usize,
    pub out_w: usize,
}

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

//! Depthwise convolutions (one input channel per group): the inner
//! dimension k_h·k_w is too small for GEMM packing to pay, so these run
//! direct kernels, one plane at a time:
//! - `avx512`: stride 1 on the avx512 family, masked loads straight from
//!   the unpadded planes;
//! - `planes`: stride 1 otherwise, wide rows (one axpy per tap);
//! - `direct`: any stride, loops over taps and output rows.

use super::{add_bias, parallel_sum, Dims};
use crate::ops::ConvGeom;
use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
mod avx512;
mod direct;
mod planes;

#[cfg(not(target_arch = "x86_64"))]
mod avx512 {
    //! Stand-ins off x86-64, where no `Isa` has the avx512 family.
    use crate::ops::isa::Isa;
    use crate::ops::ConvGeom;
    pub fn suits(_: &ConvGeom, _: Isa) -> bool {
        false
    }
    pub fn forward_plane(_: &ConvGeom, _: Isa, _: &[f32], _: &[f32], _: f32, _: &mut [f32]) {
        unreachable!("depthwise::avx512::suits is false off x86-64")
    }
    pub fn weight_grad_planes<'a>(
        _: &ConvGeom,
        _: Isa,
        _: impl Iterator<Item = (&'a [f32], &'a [f32])> + Clone,
        _: &mut [f32],
    ) {
        unreachable!("depthwise::avx512::suits is false off x86-64")
    }
}

/// Run `f(plane, y_plane)` over every output plane, on `d.threads` threads
/// with at least `min_len` planes per task.
fn each_plane(d: &Dims, y: &mut [f32], min_len: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    if d.threads > 1 {
        y.par_chunks_mut(d.out_plane)
            .enumerate()
            .with_min_len(min_len)
            .for_each(|(plane, y_plane)| f(plane, y_plane));
    } else {
        y.chunks_mut(d.out_plane)
            .enumerate()
            .for_each(|(plane, y_plane)| f(plane, y_plane));
    }
}

/// Forward with bias: y is overwritten.
pub(super) fn forward(
    g: &ConvGeom,
    d: &Dims,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
) {
    let min_len = (g.batch * g.out_ch).div_ceil(4 * d.threads);
    if avx512::suits(g, d.isa) {
        if let Some(bias) = bias {
            assert_eq!(bias.len(), g.out_ch, "conv2d: bias length");
        }
        // The kernel starts its accumulators at the bias.
        each_plane(d, y, min_len, |plane, y_plane| {
            let (n, o) = (plane / g.out_ch, plane % g.out_ch);
            let in_c = o / d.out_per_group;
            let x_plane = &x[(n * g.in_ch + in_c) * d.in_plane..][..d.in_plane];
            let kernel = &weight[o * d.taps..][..d.taps];
            let b = bias.map_or(0.0, |bias| bias[o]);
            avx512::forward_plane(g, d.isa, x_plane, kernel, b, y_plane);
        });
        return;
    }
    if g.stride_h == 1 && g.stride_w == 1 {
        let run = |scratch: &mut planes::WideScratch, (plane, y_plane): (usize, &mut [f32])| {
            planes::forward_plane(g, d, plane, (x, weight), y_plane, scratch)
        };
        if d.threads > 1 {
            y.par_chunks_mut(d.out_plane)
                .enumerate()
                .with_min_len(min_len)
                .for_each_init(planes::WideScratch::default, run);
        } else {
            let mut scratch = planes::WideScratch::default();
            y.chunks_mut(d.out_plane)
                .enumerate()
                .for_each(|item| run(&mut scratch, item));
        }
    } else {
        each_plane(d, y, 1, |plane, y_plane| {
            direct::forward_plane(g, d, plane, x, weight, y_plane)
        });
    }
    add_bias(g, d, bias, y);
}

/// Backward: dW += Σ dy·x per tap and, when given, dx.
pub(super) fn backward(
    g: &ConvGeom,
    d: &Dims,
    x: &[f32],
    weight: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dweight: &mut [f32],
) {
    if dx.is_none() && avx512::suits(g, d.isa) {
        // Output channels in parallel, each summing over the batch.
        let run = |(o, dkernel): (usize, &mut [f32])| {
            let in_c = o / d.out_per_group;
            let planes = (0..g.batch).map(|n| {
                (
                    &x[(n * g.in_ch + in_c) * d.in_plane..][..d.in_plane],
                    &dy[(n * g.out_ch + o) * d.out_plane..][..d.out_plane],
                )
            });
            avx512::weight_grad_planes(g, d.isa, planes, dkernel);
        };
        let parallel = d.threads > 1;
        crate::ops::for_each_chunk(&mut dweight[..], d.taps, parallel, run);
        return;
    }
    if g.stride_h == 1 && g.stride_w == 1 {
        backward_planes(g, d, (x, weight, dy), dx, dweight);
        return;
    }
    // Strided: two passes, each writing disjoint memory: dx by input plane,
    // dW by output channel.
    if let Some(dx) = dx {
        let run = |(plane, dx_plane): (usize, &mut [f32])| {
            direct::backward_dx_plane(g, d, plane, weight, dy, dx_plane)
        };
        let parallel = d.threads > 1;
        crate::ops::for_each_chunk(&mut dx[..], d.in_plane, parallel, run);
    }
    let run =
        |(o, dkernel): (usize, &mut [f32])| direct::backward_dw_channel(g, d, o, x, dy, dkernel);
    let parallel = d.threads > 1;
    crate::ops::for_each_chunk(&mut dweight[..], d.taps, parallel, run);
}

/// Stride-1 backward by wide-row planes, one input plane at a time.
fn backward_planes(
    g: &ConvGeom,
    d: &Dims,
    inputs: (&[f32], &[f32], &[f32]),
    dx: Option<&mut [f32]>,
    dweight: &mut [f32],
) {
    let planes = g.batch * g.in_ch;
    let dx_planes: Vec<Option<&mut [f32]>> = match dx {
        Some(dx) => dx.chunks_mut(d.in_plane).map(Some).collect(),
        None => (0..planes).map(|_| None).collect(),
    };
    if d.threads == 1 {
        let mut scratch = planes::WideScratch::default();
        for (plane, dx_plane) in dx_planes.into_iter().enumerate() {
            planes::backward_plane(g, d, plane, inputs, (dx_plane, dweight), &mut scratch);
        }
        return;
    }
    // Planes in parallel; each worker sums dW privately, then the partial
    // sums are added.
    let items = dx_planes
        .into_par_iter()
        .enumerate()
        .with_min_len(planes.div_ceil(4 * d.threads));
    let partial = parallel_sum(items, dweight.len(), |dw, scratch, (plane, dx_plane)| {
        planes::backward_plane(g, d, plane, inputs, (dx_plane, dw), scratch)
    });
    if let Some(partial) = partial {
        dweight.iter_mut().zip(&partial).for_each(|(w, p)| *w += p);
    }
}

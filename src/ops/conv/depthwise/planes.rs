//! Stride-1 depthwise planes in the wide-row layout (see `conv::wide`):
//! every kernel tap is one long axpy (forward, dx) or dot (dW) over the
//! whole padded plane instead of out_h short rows.

use crate::ops::conv::wide::WideRows;
use crate::ops::conv::Dims;
use crate::ops::{vector, ConvGeom};

/// Scratch for one worker of the wide-row depthwise kernels.
#[derive(Default)]
pub(super) struct WideScratch {
    padded: Vec<f32>,
    wide: Vec<f32>,
    dpadded: Vec<f32>,
}

/// Forward of one output plane (`plane` = n·out_ch + o), no bias.
pub(super) fn forward_plane(
    g: &ConvGeom,
    d: &Dims,
    plane: usize,
    (x, weight): (&[f32], &[f32]),
    y_plane: &mut [f32],
    scratch: &mut WideScratch,
) {
    let rows = WideRows::new(g);
    let (n, o) = (plane / g.out_ch, plane % g.out_ch);
    let in_c = o / d.out_per_group;
    rows.pad(
        g,
        &x[(n * g.in_ch + in_c) * d.in_plane..][..d.in_plane],
        &mut scratch.padded,
    );
    scratch.wide.clear();
    scratch.wide.resize(rows.out_len, 0.0);
    for (tap, &w) in weight[o * d.taps..][..d.taps].iter().enumerate() {
        let source = &scratch.padded[rows.tap_offset(g, tap)..][..rows.out_len];
        vector::axpy(d.isa, &mut scratch.wide, source, w);
    }
    for (y_row, wide_row) in y_plane
        .chunks_exact_mut(g.out_w)
        .zip(scratch.wide.chunks(rows.width))
    {
        y_row.copy_from_slice(&wide_row[..g.out_w]);
    }
}

/// Backward for one input plane (`plane` = n·in_ch + c) and the output
/// channels reading it: dW[o] += Σ dy·x per tap, dx += Σ_o,taps w·dy.
pub(super) fn backward_plane(
    g: &ConvGeom,
    d: &Dims,
    plane: usize,
    (x, weight, dy): (&[f32], &[f32], &[f32]),
    (dx_plane, dweight): (Option<&mut [f32]>, &mut [f32]),
    scratch: &mut WideScratch,
) {
    let rows = WideRows::new(g);
    let (n, in_c) = (plane / g.in_ch, plane % g.in_ch);
    rows.pad(
        g,
        &x[plane * d.in_plane..][..d.in_plane],
        &mut scratch.padded,
    );
    if dx_plane.is_some() {
        scratch.dpadded.clear();
        scratch.dpadded.resize(rows.padded_len, 0.0);
    }
    for o in in_c * d.out_per_group..(in_c + 1) * d.out_per_group {
        // dy in wide layout; the junk columns must be zero so they add nothing.
        scratch.wide.clear();
        scratch.wide.resize(rows.out_len, 0.0);
        let dy_plane = &dy[(n * g.out_ch + o) * d.out_plane..][..d.out_plane];
        for (wide_row, dy_row) in scratch
            .wide
            .chunks_mut(rows.width)
            .zip(dy_plane.chunks_exact(g.out_w))
        {
            wide_row[..g.out_w].copy_from_slice(dy_row);
        }
        for tap in 0..d.taps {
            let offset = rows.tap_offset(g, tap);
            let source = &scratch.padded[offset..][..rows.out_len];
            dweight[o * d.taps + tap] += vector::dot(d.isa, &scratch.wide, source);
            if dx_plane.is_some() {
                let w = weight[o * d.taps + tap];
                let target = &mut scratch.dpadded[offset..][..rows.out_len];
                vector::axpy(d.isa, target, &scratch.wide, w);
            }
        }
    }
    if let Some(dx_plane) = dx_plane {
        rows.unpad_add(g, &scratch.dpadded, dx_plane);
    }
}

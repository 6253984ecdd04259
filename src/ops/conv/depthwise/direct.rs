//! Depthwise convolution by direct loops over kernel taps and output rows:
//! any stride, dilation and padding.

use crate::ops::conv::Dims;
use crate::ops::geom::clip_range;
use crate::ops::{vector, ConvGeom};

/// Call `f(tap, ih, oh, ow_lo, ow_hi, iw_lo)` for every kernel tap and every
/// output row whose input row is inside x, with the valid output column run.
fn for_each_tap_row(g: &ConvGeom, mut f: impl FnMut(usize, usize, usize, usize, usize, usize)) {
    for ki in 0..g.k_h {
        let off_h = (ki * g.dil_h) as isize - g.pad_top as isize;
        let rows = clip_range(g.out_h, g.stride_h, off_h, g.in_h);
        for kj in 0..g.k_w {
            let off_w = (kj * g.dil_w) as isize - g.pad_left as isize;
            let cols = clip_range(g.out_w, g.stride_w, off_w, g.in_w);
            if cols.is_empty() {
                continue;
            }
            let iw_lo = ((cols.start * g.stride_w) as isize + off_w) as usize;
            for oh in rows.clone() {
                let ih = ((oh * g.stride_h) as isize + off_h) as usize;
                f(ki * g.k_w + kj, ih, oh, cols.start, cols.end, iw_lo);
            }
        }
    }
}

/// Forward for one output plane (`plane` indexes batch × out_ch), no bias.
pub(super) fn forward_plane(
    g: &ConvGeom,
    d: &Dims,
    plane: usize,
    x: &[f32],
    weight: &[f32],
    y_plane: &mut [f32],
) {
    let (n, o) = (plane / g.out_ch, plane % g.out_ch);
    let in_c = o / d.out_per_group;
    let x_plane = &x[(n * g.in_ch + in_c) * d.in_plane..][..d.in_plane];
    let kernel = &weight[o * d.taps..][..d.taps];
    y_plane.fill(0.0);
    for_each_tap_row(g, |tap, ih, oh, ow_lo, ow_hi, iw_lo| {
        let w = kernel[tap];
        let y_row = &mut y_plane[oh * g.out_w + ow_lo..oh * g.out_w + ow_hi];
        let x_row = &x_plane[ih * g.in_w..][..g.in_w];
        if g.stride_w == 1 {
            vector::axpy(d.isa, y_row, &x_row[iw_lo..], w);
        } else {
            let x_run = x_row[iw_lo..].iter().step_by(g.stride_w);
            y_row.iter_mut().zip(x_run).for_each(|(y, &v)| *y += w * v);
        }
    });
}

/// dx for one input plane (`plane` indexes batch × in_ch):
/// dx[ih, iw] += Σ_{o in group, taps} w[o, tap] · dy[o, oh, ow].
pub(super) fn backward_dx_plane(
    g: &ConvGeom,
    d: &Dims,
    plane: usize,
    weight: &[f32],
    dy: &[f32],
    dx_plane: &mut [f32],
) {
    let (n, in_c) = (plane / g.in_ch, plane % g.in_ch);
    for o in in_c * d.out_per_group..(in_c + 1) * d.out_per_group {
        let dy_plane = &dy[(n * g.out_ch + o) * d.out_plane..][..d.out_plane];
        let kernel = &weight[o * d.taps..][..d.taps];
        for_each_tap_row(g, |tap, ih, oh, ow_lo, ow_hi, iw_lo| {
            let w = kernel[tap];
            let dy_row = &dy_plane[oh * g.out_w + ow_lo..oh * g.out_w + ow_hi];
            let dx_row = &mut dx_plane[ih * g.in_w..][..g.in_w];
            if g.stride_w == 1 {
                let dx_run = &mut dx_row[iw_lo..iw_lo + dy_row.len()];
                dx_run
                    .iter_mut()
                    .zip(dy_row)
                    .for_each(|(a, &v)| *a += w * v);
            } else {
                let dx_run = dx_row[iw_lo..].iter_mut().step_by(g.stride_w);
                dx_run.zip(dy_row).for_each(|(a, &v)| *a += w * v);
            }
        });
    }
}

/// dW for one output channel: dw[o, tap] += Σ_{n, oh, ow} dy · x.
pub(super) fn backward_dw_channel(
    g: &ConvGeom,
    d: &Dims,
    o: usize,
    x: &[f32],
    dy: &[f32],
    dkernel: &mut [f32],
) {
    let in_c = o / d.out_per_group;
    for n in 0..g.batch {
        let x_plane = &x[(n * g.in_ch + in_c) * d.in_plane..][..d.in_plane];
        let dy_plane = &dy[(n * g.out_ch + o) * d.out_plane..][..d.out_plane];
        for_each_tap_row(g, |tap, ih, oh, ow_lo, ow_hi, iw_lo| {
            let dy_row = &dy_plane[oh * g.out_w + ow_lo..oh * g.out_w + ow_hi];
            let x_row = &x_plane[ih * g.in_w..][..g.in_w];
            let sum: f32 = if g.stride_w == 1 {
                let x_run = &x_row[iw_lo..iw_lo + dy_row.len()];
                dy_row.iter().zip(x_run).map(|(a, b)| a * b).sum()
            } else {
                let x_run = x_row[iw_lo..].iter().step_by(g.stride_w);
                dy_row.iter().zip(x_run).map(|(a, b)| a * b).sum()
            };
            dkernel[tap] += sum;
        });
    }
}

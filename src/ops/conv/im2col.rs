//! The general column layout: im2col builds col[(c, i, j), (oh, ow)] so
//! that a group's output is W_g · col, and col2im is its adjoint, scattering
//! a column-matrix gradient back into dx.

use super::chunked::{add_weight_grad, ChunkScratch};
use super::{Dims, BLOCK_FLOATS};
use crate::ops::gemm::Gemm;
use crate::ops::geom::clip_range;
use crate::ops::{vector, ConvGeom};
use std::ops::Range;

/// One kernel tap (ki, kj) of a channel, for output rows `oh_range`: its
/// input offsets and the output rows and columns that read inside the input.
struct Tap {
    off_h: isize,
    off_w: isize,
    /// Output rows of `oh_range` whose input row is inside the image.
    oh: Range<usize>,
    /// Output columns whose input column is inside the image.
    ow: Range<usize>,
}

impl Tap {
    /// The input column of output column `ow.start` (meaningful when `ow` is not empty).
    fn iw_lo(&self, g: &ConvGeom) -> usize {
        ((self.ow.start * g.stride_w) as isize + self.off_w) as usize
    }

    /// The input row of output row `oh` (one of `self.oh`).
    fn ih(&self, g: &ConvGeom, oh: usize) -> usize {
        ((oh * g.stride_h) as isize + self.off_h) as usize
    }
}

/// Every tap of a channel in column-matrix row order (ki, then kj).
fn taps(g: &ConvGeom, oh_range: Range<usize>) -> impl Iterator<Item = Tap> + '_ {
    (0..g.k_h).flat_map(move |ki| {
        let off_h = (ki * g.dil_h) as isize - g.pad_top as isize;
        let valid_h = clip_range(g.out_h, g.stride_h, off_h, g.in_h);
        let oh_lo = valid_h.start.clamp(oh_range.start, oh_range.end);
        let oh = oh_lo..valid_h.end.clamp(oh_lo, oh_range.end);
        (0..g.k_w).map(move |kj| {
            let off_w = (kj * g.dil_w) as isize - g.pad_left as isize;
            let ow = clip_range(g.out_w, g.stride_w, off_w, g.in_w);
            Tap {
                off_h,
                off_w,
                oh: oh.clone(),
                ow,
            }
        })
    })
}

/// Fill columns `first_col..first_col + rows·out_w` of `col` (col_rows
/// rows, `row_len` long) with output rows `oh_range` of one item's input
/// channels of one group.
pub(super) fn im2col(
    g: &ConvGeom,
    d: &Dims,
    x_group: &[f32],
    col: &mut [f32],
    row_len: usize,
    first_col: usize,
    oh_range: Range<usize>,
) {
    let (out_w, in_w) = (g.out_w, g.in_w);
    let oh0 = oh_range.start;
    let len = oh_range.len() * out_w;
    let mut rows = col
        .chunks_exact_mut(row_len)
        .map(|row| &mut row[first_col..first_col + len]);
    for x_channel in x_group.chunks_exact(d.in_plane) {
        for tap in taps(g, oh_range.clone()) {
            let row = rows.next().expect("col has col_rows rows");
            row[..(tap.oh.start - oh0) * out_w].fill(0.0);
            row[(tap.oh.end - oh0) * out_w..].fill(0.0);
            for oh in tap.oh.clone() {
                let x_row = &x_channel[tap.ih(g, oh) * in_w..][..in_w];
                let dst = &mut row[(oh - oh0) * out_w..][..out_w];
                dst[..tap.ow.start].fill(0.0);
                dst[tap.ow.end..].fill(0.0);
                if tap.ow.is_empty() {
                    continue;
                }
                let iw_lo = tap.iw_lo(g);
                let dst = &mut dst[tap.ow.clone()];
                if g.stride_w == 1 && dst.len() >= 64 {
                    dst.copy_from_slice(&x_row[iw_lo..iw_lo + dst.len()]);
                } else {
                    // Short rows (LeNet's 10-wide planes): a memcpy call per
                    // row cost more than the copy itself.
                    vector::gather_strided(d.isa, dst, &x_row[iw_lo..], g.stride_w);
                }
            }
        }
    }
}

/// Scatter-add the columns [`im2col`] filled back into one item's input
/// gradient of one group: the adjoint of [`im2col`].
pub(super) fn col2im(
    g: &ConvGeom,
    d: &Dims,
    col: &[f32],
    row_len: usize,
    first_col: usize,
    oh_range: Range<usize>,
    dx_group: &mut [f32],
) {
    let (out_w, in_w) = (g.out_w, g.in_w);
    let oh0 = oh_range.start;
    let len = oh_range.len() * out_w;
    let mut rows = col
        .chunks_exact(row_len)
        .map(|row| &row[first_col..first_col + len]);
    for dx_channel in dx_group.chunks_exact_mut(d.in_plane) {
        for tap in taps(g, oh_range.clone()) {
            let row = rows.next().expect("col has col_rows rows");
            if tap.ow.is_empty() {
                continue;
            }
            let iw_lo = tap.iw_lo(g);
            for oh in tap.oh.clone() {
                let dx_row = &mut dx_channel[tap.ih(g, oh) * in_w..][..in_w];
                let at = (oh - oh0) * out_w;
                let src = &row[at + tap.ow.start..at + tap.ow.end];
                if g.stride_w == 1 {
                    let dst = &mut dx_row[iw_lo..iw_lo + src.len()];
                    dst.iter_mut().zip(src).for_each(|(a, &v)| *a += v);
                } else {
                    let dst = dx_row[iw_lo..].iter_mut().step_by(g.stride_w);
                    dst.zip(src).for_each(|(a, &v)| *a += v);
                }
            }
        }
    }
}

/// One group's tensors for a single batch item.
pub(super) struct GroupItem<'a> {
    pub x: &'a [f32],
    pub w: &'a [f32],
    pub dy: &'a [f32],
    pub dx: Option<&'a mut [f32]>,
    pub dw: Option<&'a mut [f32]>,
}

/// Backward of one group for a single item (not wide, not pointwise),
/// one block of output rows at a time: im2col builds only that block's
/// columns, dW_g += dy_b · col_bᵀ, and if asked col2im scatters
/// W_gᵀ · dy_b into dx.
pub(super) fn backward_group_rows_blocked(
    g: &ConvGeom,
    d: &Dims,
    gemm_threads: usize,
    item: GroupItem,
    scratch: &mut ChunkScratch,
) {
    let GroupItem {
        x: x_group,
        w: w_group,
        dy: dy_group,
        mut dx,
        mut dw,
    } = item;
    let rows_per_block = (BLOCK_FLOATS / (d.col_rows * g.out_w).max(1)).clamp(1, g.out_h.max(1));
    for oh0 in (0..g.out_h).step_by(rows_per_block) {
        let oh_range = oh0..(oh0 + rows_per_block).min(g.out_h);
        let block_cols = oh_range.len() * g.out_w;
        scratch.col.resize(d.col_rows * block_cols, 0.0);
        im2col(
            g,
            d,
            x_group,
            &mut scratch.col,
            block_cols,
            0,
            oh_range.clone(),
        );
        let dy_block: &[f32] = if block_cols == d.out_plane {
            dy_group
        } else {
            scratch.out.resize(d.out_per_group * block_cols, 0.0);
            for (dst, dy_plane) in scratch
                .out
                .chunks_exact_mut(block_cols)
                .zip(dy_group.chunks_exact(d.out_plane))
            {
                dst.copy_from_slice(&dy_plane[oh0 * g.out_w..][..block_cols]);
            }
            &scratch.out
        };
        if let Some(dw_group) = dw.as_deref_mut() {
            add_weight_grad(
                d,
                gemm_threads,
                block_cols,
                dy_block,
                &scratch.col,
                dw_group,
            );
        }
        let Some(dx_group) = dx.as_deref_mut() else {
            continue;
        };
        scratch.dcol.resize(d.col_rows * block_cols, 0.0);
        Gemm::new(d.col_rows, block_cols, d.out_per_group)
            .a_transposed()
            .run_with(d.isa, gemm_threads, w_group, dy_block, &mut scratch.dcol);
        col2im(g, d, &scratch.dcol, block_cols, 0, oh_range, dx_group);
    }
}

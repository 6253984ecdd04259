//! The general column layout: im2col builds col[(c, i, j), (oh, ow)] so
//! that a group's output is W_g · col, and col2im is its adjoint, scattering
//! a column-matrix gradient back into dx.

use super::chunked::{add_weight_grad, ChunkScratch};
use super::{Dims, BLOCK_FLOATS};
use crate::ops::gemm::Gemm;
use crate::ops::geom::clip_range;
use crate::ops::{vector, ConvGeom};
use std::ops::Range;

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
        for ki in 0..g.k_h {
            let off_h = (ki * g.dil_h) as isize - g.pad_top as isize;
            let valid_h = clip_range(g.out_h, g.stride_h, off_h, g.in_h);
            for kj in 0..g.k_w {
                let off_w = (kj * g.dil_w) as isize - g.pad_left as isize;
                let Range {
                    start: ow_lo,
                    end: ow_hi,
                } = clip_range(out_w, g.stride_w, off_w, in_w);
                let row = rows.next().expect("col has col_rows rows");
                let oh_lo = valid_h.start.clamp(oh0, oh_range.end);
                let oh_hi = valid_h.end.clamp(oh_lo, oh_range.end);
                row[..(oh_lo - oh0) * out_w].fill(0.0);
                row[(oh_hi - oh0) * out_w..].fill(0.0);
                for oh in oh_lo..oh_hi {
                    let ih = ((oh * g.stride_h) as isize + off_h) as usize;
                    let x_row = &x_channel[ih * in_w..][..in_w];
                    let dst = &mut row[(oh - oh0) * out_w..][..out_w];
                    dst[..ow_lo].fill(0.0);
                    dst[ow_hi..].fill(0.0);
                    if ow_lo == ow_hi {
                        continue;
                    }
                    let iw_lo = ((ow_lo * g.stride_w) as isize + off_w) as usize;
                    let dst = &mut dst[ow_lo..ow_hi];
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
        for ki in 0..g.k_h {
            let off_h = (ki * g.dil_h) as isize - g.pad_top as isize;
            let valid_h = clip_range(g.out_h, g.stride_h, off_h, g.in_h);
            for kj in 0..g.k_w {
                let off_w = (kj * g.dil_w) as isize - g.pad_left as isize;
                let Range {
                    start: ow_lo,
                    end: ow_hi,
                } = clip_range(out_w, g.stride_w, off_w, in_w);
                let row = rows.next().expect("col has col_rows rows");
                if ow_lo == ow_hi {
                    continue;
                }
                let iw_lo = ((ow_lo * g.stride_w) as isize + off_w) as usize;
                let oh_lo = valid_h.start.clamp(oh0, oh_range.end);
                let oh_hi = valid_h.end.clamp(oh_lo, oh_range.end);
                for oh in oh_lo..oh_hi {
                    let ih = ((oh * g.stride_h) as isize + off_h) as usize;
                    let dx_row = &mut dx_channel[ih * in_w..][..in_w];
                    let at = (oh - oh0) * out_w;
                    let src = &row[at + ow_lo..at + ow_hi];
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

//! 2-D convolution over NCHW data (cross-correlation, as PyTorch's Conv2d).
//!
//! y[n, o, oh, ow] = b[o] + Σ_{c, i, j} w[o, c, i, j] · x[n, g·C_g + c, ih, iw]
//!   with ih = oh·s_h − pad_top + i·d_h, iw = ow·s_w − pad_left + j·d_w,
//!   g = o / O_g the group of output channel o, and taps outside x reading 0.
//!
//! The general path lowers each (batch item, group) to one matrix product:
//! im2col builds col[(c, i, j), (oh, ow)] so that y_g = W_g · col. Backward:
//!   dW_g += dy_g · colᵀ,   dcol = W_gᵀ · dy_g then col2im scatters dcol into dx,
//!   db[o] += Σ_{n, oh, ow} dy[n, o, oh, ow].
//! Depthwise convolutions (one input channel per group) have a tiny inner
//! dimension where GEMM packing costs more than the arithmetic, so they use
//! direct loops instead.
//!
//! Which path runs: on CPUs with AVX-512F the forward pass and the weight
//! gradient of every non-depthwise convolution go through the implicit GEMM
//! of `ops::implicit` (no column matrix at all), and stride-1 depthwise
//! planes through `ops::depthwise`; the input gradient, batches smaller
//! than the thread count, and every other CPU use the portable code here.

use super::gemm::{sgemm_strided, sgemm_threads};
use super::vector;
use super::ConvGeom;
use super::{depthwise, implicit};
use rayon::prelude::*;
use std::ops::Range;

/// Total multiply-adds below which a convolution runs on the calling thread.
const PARALLEL_MIN_FLOPS: usize = 1 << 20;

/// Elements below which the bias passes stay on the calling thread.
const PARALLEL_MIN_ELEMENTS: usize = 1 << 16;

/// Rotate each k_h×k_w kernel by 180° (w'[o, c, i, j] = w[o, c, k_h−1−i, k_w−1−j]),
/// turning cross-correlation into true convolution.
pub fn flip_kernel(
    weight: &[f32],
    out_ch: usize,
    in_per_group: usize,
    k_h: usize,
    k_w: usize,
) -> Vec<f32> {
    let taps = k_h * k_w;
    assert_eq!(
        weight.len(),
        out_ch * in_per_group * taps,
        "flip_kernel: weight length"
    );
    let mut flipped = Vec::with_capacity(weight.len());
    for kernel in weight.chunks_exact(taps.max(1)) {
        flipped.extend(kernel.iter().rev());
    }
    flipped
}

/// Plain valid 2-D cross-correlation with stride 1 (the D2L chapter's `corr2d`):
/// Y[i, j] = Σ_{a, b} X[i + a, j + b] · K[a, b], Y is (h − kh + 1) × (w − kw + 1).
pub fn corr2d(x: &[f32], h: usize, w: usize, k: &[f32], kh: usize, kw: usize) -> Vec<f32> {
    assert_eq!(x.len(), h * w, "corr2d: input length");
    assert_eq!(k.len(), kh * kw, "corr2d: kernel length");
    let out_h = (h + 1).saturating_sub(kh);
    let out_w = (w + 1).saturating_sub(kw);
    let mut y = vec![0.0; out_h * out_w];
    for i in 0..out_h {
        for j in 0..out_w {
            let mut sum = 0.0;
            for a in 0..kh {
                for b in 0..kw {
                    sum += x[(i + a) * w + j + b] * k[a * kw + b];
                }
            }
            y[i * out_w + j] = sum;
        }
    }
    y
}

/// Range `[lo, hi)` of output positions `o < out_len` whose input position
/// `o·stride + offset` falls inside `0..in_len`.
fn valid_range(out_len: usize, in_len: usize, stride: usize, offset: isize) -> (usize, usize) {
    let stride = stride as isize;
    let lo = if offset >= 0 {
        0
    } else {
        (-offset + stride - 1) / stride
    };
    let room = in_len as isize - offset;
    let hi = if room <= 0 {
        0
    } else {
        ((room + stride - 1) / stride).min(out_len as isize)
    };
    let lo = lo.min(hi);
    (lo as usize, hi as usize)
}

/// Derived sizes shared by the forward and backward passes.
#[derive(Clone, Copy)]
struct Dims {
    in_per_group: usize,
    out_per_group: usize,
    in_plane: usize,
    out_plane: usize,
    taps: usize,
    /// Rows of the column matrix: in_per_group · k_h · k_w.
    col_rows: usize,
    /// x already is its own column matrix (1×1 kernel, stride 1, no padding).
    pointwise: bool,
    depthwise: bool,
    /// Stride-1 GEMM path using wide rows (see [`WideRows`]): each column-
    /// matrix row is one contiguous copy instead of out_h short ones, at the
    /// price of computing (k_w−1)·d_w junk columns per output row.
    wide: bool,
    /// Columns one batch item takes in the column matrix.
    item_cols: usize,
}

impl Dims {
    fn new(g: &ConvGeom) -> Self {
        assert!(g.groups > 0, "conv2d: groups must be positive");
        assert!(
            g.in_ch.is_multiple_of(g.groups) && g.out_ch.is_multiple_of(g.groups),
            "conv2d: channels must divide into groups"
        );
        assert!(g.stride_h > 0 && g.stride_w > 0 && g.dil_h > 0 && g.dil_w > 0);
        let in_per_group = g.in_ch / g.groups;
        let taps = g.k_h * g.k_w;
        Dims {
            in_per_group,
            out_per_group: g.out_ch / g.groups,
            in_plane: g.in_h * g.in_w,
            out_plane: g.out_h * g.out_w,
            taps,
            col_rows: in_per_group * taps,
            pointwise: g.k_h == 1
                && g.k_w == 1
                && g.stride_h == 1
                && g.stride_w == 1
                && g.pad_top == 0
                && g.pad_left == 0
                && g.out_h == g.in_h
                && g.out_w == g.in_w,
            depthwise: in_per_group == 1 && taps > 1,
            wide: false,
            item_cols: g.out_h * g.out_w,
        }
        .with_layout(g)
    }

    /// Choose wide rows for stride 1 when the junk columns add at most half.
    fn with_layout(mut self, g: &ConvGeom) -> Self {
        let width = g.out_w + (g.k_w - 1) * g.dil_w;
        self.wide = g.stride_h == 1
            && g.stride_w == 1
            && !self.pointwise
            && !self.depthwise
            && 2 * width <= 3 * g.out_w;
        if self.wide {
            self.item_cols = g.out_h * width;
        }
        self
    }

    fn flops(&self, g: &ConvGeom) -> usize {
        g.batch * g.out_ch * self.col_rows * self.out_plane
    }
}

fn check_lengths(g: &ConvGeom, d: &Dims, x: usize, weight: usize, y: usize) {
    assert_eq!(x, g.batch * g.in_ch * d.in_plane, "conv2d: x length");
    assert_eq!(weight, g.out_ch * d.col_rows, "conv2d: weight length");
    assert_eq!(y, g.batch * g.out_ch * d.out_plane, "conv2d: y length");
}

/// Threads to use over the batch (1 = stay on this thread).
fn batch_threads(g: &ConvGeom, d: &Dims) -> usize {
    let threads = rayon::current_num_threads();
    if threads > 1 && g.batch > 1 && d.flops(g) >= PARALLEL_MIN_FLOPS {
        threads
    } else {
        1
    }
}

/// Fill columns `first_col..first_col + out_plane` of `col` (col_rows rows,
/// `row_len` long) from one item's input channels of one group.
fn im2col(
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
            let (oh_lo, oh_hi) = valid_range(g.out_h, g.in_h, g.stride_h, off_h);
            for kj in 0..g.k_w {
                let off_w = (kj * g.dil_w) as isize - g.pad_left as isize;
                let (ow_lo, ow_hi) = valid_range(out_w, in_w, g.stride_w, off_w);
                let row = rows.next().expect("col has col_rows rows");
                let oh_lo = oh_lo.clamp(oh0, oh_range.end);
                let oh_hi = oh_hi.clamp(oh_lo, oh_range.end);
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
                        vector::gather_strided(dst, &x_row[iw_lo..], g.stride_w);
                    }
                }
            }
        }
    }
}

/// Scatter-add columns `first_col..first_col + out_plane` of `col` back into
/// one item's input gradient of one group: the adjoint of [`im2col`].
#[allow(clippy::too_many_arguments)]
fn col2im(
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
            let (oh_lo, oh_hi) = valid_range(g.out_h, g.in_h, g.stride_h, off_h);
            for kj in 0..g.k_w {
                let off_w = (kj * g.dil_w) as isize - g.pad_left as isize;
                let (ow_lo, ow_hi) = valid_range(out_w, in_w, g.stride_w, off_w);
                let row = rows.next().expect("col has col_rows rows");
                if ow_lo == ow_hi {
                    continue;
                }
                let iw_lo = ((ow_lo * g.stride_w) as isize + off_w) as usize;
                let oh_lo = oh_lo.clamp(oh0, oh_range.end);
                let oh_hi = oh_hi.clamp(oh_lo, oh_range.end);
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

/// How the GEMM path splits the batch: `items` per chunk share one column
/// matrix (items side by side, so small output planes still give the GEMM
/// enough columns), chunks run on `workers` threads, each GEMM on
/// `gemm_threads`.
#[derive(Clone, Copy)]
struct ChunkPlan {
    items: usize,
    workers: usize,
    gemm_threads: usize,
}

impl ChunkPlan {
    /// Columns per GEMM worth reaching before stacking more items.
    const TARGET_COLUMNS: usize = 1024;
    /// Stop stacking once a worker's column matrix would pass 2 MB: beyond
    /// the cache, writing and re-reading it costs more than wider GEMMs save.
    const MAX_COL_FLOATS: usize = 1 << 19;

    fn new(g: &ConvGeom, d: &Dims) -> Self {
        let threads = rayon::current_num_threads();
        let big = d.flops(g) >= PARALLEL_MIN_FLOPS;
        let workers = if threads > 1 && g.batch > 1 && big {
            threads
        } else {
            1
        };
        let by_columns = Self::TARGET_COLUMNS.div_ceil(d.item_cols.max(1));
        let by_memory = Self::MAX_COL_FLOATS / (d.col_rows * d.item_cols).max(1);
        let items = by_columns
            .min(by_memory)
            .min(g.batch.div_ceil(workers))
            .max(1);
        // With a single chunk the batch cannot be split; the GEMM is.
        let gemm_threads = if workers == 1 && big { threads } else { 1 };
        ChunkPlan {
            items,
            workers,
            gemm_threads,
        }
    }
}

/// Column floats per block of the blocked column matrices: a block of about
/// 1 MB is still in cache when the GEMM packs it, where a whole column
/// matrix (7 MB for conv-c) would go out to memory and back.
const BLOCK_FLOATS: usize = 1 << 18;

/// Columns per block of a wide-row column matrix with `columns` columns.
/// At least 512: the other GEMM operand is repacked for every block, which
/// only pays while the blocks are much larger than it (conv-f's 2304-deep W
/// is not).
fn wide_block_cols(d: &Dims, columns: usize) -> usize {
    (BLOCK_FLOATS / d.col_rows.max(1)).max(512).min(columns)
}

/// Zero-pad every channel of every item of one group into
/// `padded[(c · items + item) · padded_len..]`.
fn pad_group_items<'x>(
    g: &ConvGeom,
    d: &Dims,
    rows: &WideRows,
    items: usize,
    x_group_of: &dyn Fn(usize) -> &'x [f32],
    padded: &mut Vec<f32>,
) {
    padded.clear();
    padded.resize(d.in_per_group * items * rows.padded_len, 0.0);
    for item in 0..items {
        for (c, x_channel) in x_group_of(item).chunks_exact(d.in_plane).enumerate() {
            let target = &mut padded[(c * items + item) * rows.padded_len..][..rows.padded_len];
            rows.pad_into(g, x_channel, target);
        }
    }
}

/// Visit the runs of columns `block_start..block_start + block_cols` of the
/// wide-row column matrix: `f(row, filled, source, run)` for column-matrix
/// row `row` = (c, tap), block columns `filled..filled + run`, which are
/// `padded[source..source + run]` (layout of [`pad_group_items`]).
fn for_each_wide_run(
    g: &ConvGeom,
    d: &Dims,
    rows: &WideRows,
    items: usize,
    block_start: usize,
    block_cols: usize,
    mut f: impl FnMut(usize, usize, usize, usize),
) {
    for row in 0..d.col_rows {
        let (c, tap) = (row / d.taps, row % d.taps);
        let offset = rows.tap_offset(g, tap);
        // Column t is item t / item_cols, wide position t % item_cols.
        let mut filled = 0;
        while filled < block_cols {
            let t = block_start + filled;
            let (item, within) = (t / d.item_cols, t % d.item_cols);
            let run = (d.item_cols - within).min(block_cols - filled);
            f(
                row,
                filled,
                (c * items + item) * rows.padded_len + offset + within,
                run,
            );
            filled += run;
        }
    }
}

/// Wide-row forward of one group over a chunk, into `scratch.out`
/// (O_g × items·item_cols), building the column matrix one column block at
/// a time (see [`BLOCK_FLOATS`]).
fn forward_group_wide_blocked<'x>(
    g: &ConvGeom,
    d: &Dims,
    gemm_threads: usize,
    items: usize,
    x_group_of: &dyn Fn(usize) -> &'x [f32],
    w_group: &[f32],
    scratch: &mut ChunkScratch,
) {
    let rows = WideRows::new(g);
    let columns = items * d.item_cols;
    pad_group_items(g, d, &rows, items, x_group_of, &mut scratch.padded);
    scratch.out.resize(d.out_per_group * columns, 0.0);
    let block = wide_block_cols(d, columns);
    for block_start in (0..columns).step_by(block) {
        let block_cols = block.min(columns - block_start);
        scratch.col.resize(d.col_rows * block_cols, 0.0);
        let (col, padded) = (&mut scratch.col, &scratch.padded);
        for_each_wide_run(
            g,
            d,
            &rows,
            items,
            block_start,
            block_cols,
            |row, at, src, run| {
                col[row * block_cols + at..][..run].copy_from_slice(&padded[src..src + run]);
            },
        );
        sgemm_strided(
            gemm_threads,
            d.out_per_group,
            block_cols,
            d.col_rows,
            w_group,
            false,
            &scratch.col,
            false,
            &mut scratch.out[block_start..],
            columns,
            false,
        );
    }
}

/// Wide-row backward of one group over a chunk, one column block at a time:
/// the column block and the matching dy block (O_g × block_cols, zero junk
/// columns) are built in cache, dW_g += dy_b · col_bᵀ, and if asked
/// dcol_b = W_gᵀ · dy_b is added back at its taps' shifts into padded
/// gradient planes, whose padding is dropped into dx at the end.
#[allow(clippy::too_many_arguments)]
fn backward_group_wide_blocked(
    g: &ConvGeom,
    d: &Dims,
    gemm_threads: usize,
    group: usize,
    x_chunk: &[f32],
    w_group: &[f32],
    dy_chunk: &[f32],
    dx_chunk: Option<&mut [f32]>,
    mut dw_group: Option<&mut [f32]>,
    scratch: &mut ChunkScratch,
) {
    let items = dy_chunk.len() / (g.out_ch * d.out_plane);
    let rows = WideRows::new(g);
    let columns = items * d.item_cols;
    let width = rows.width;
    let x_group_len = d.in_per_group * d.in_plane;
    let dy_group_len = d.out_per_group * d.out_plane;
    let x_group_of =
        |item: usize| &x_chunk[(item * g.groups + group) * x_group_len..][..x_group_len];
    pad_group_items(g, d, &rows, items, &x_group_of, &mut scratch.padded);
    let want_dx = dx_chunk.is_some();
    if want_dx {
        scratch.dpadded.clear();
        scratch
            .dpadded
            .resize(d.in_per_group * items * rows.padded_len, 0.0);
    }
    let block = wide_block_cols(d, columns);
    for block_start in (0..columns).step_by(block) {
        let block_cols = block.min(columns - block_start);
        scratch.col.resize(d.col_rows * block_cols, 0.0);
        let (col, padded) = (&mut scratch.col, &scratch.padded);
        for_each_wide_run(
            g,
            d,
            &rows,
            items,
            block_start,
            block_cols,
            |row, at, src, run| {
                col[row * block_cols + at..][..run].copy_from_slice(&padded[src..src + run]);
            },
        );
        // dy block in the wide layout. Junk columns must be zero: they
        // multiply real taps in the dW product.
        scratch.out.resize(d.out_per_group * block_cols, 0.0);
        for (o, dy_row) in scratch.out.chunks_exact_mut(block_cols).enumerate() {
            let mut filled = 0;
            while filled < block_cols {
                let t = block_start + filled;
                let (item, within) = (t / d.item_cols, t % d.item_cols);
                let (oh, ow) = (within / width, within % width);
                let run = (width - ow).min(block_cols - filled);
                let valid = g.out_w.saturating_sub(ow).min(run);
                let dy_plane =
                    &dy_chunk[(item * g.groups + group) * dy_group_len + o * d.out_plane..];
                dy_row[filled..filled + valid]
                    .copy_from_slice(&dy_plane[oh * g.out_w + ow..][..valid]);
                dy_row[filled + valid..filled + run].fill(0.0);
                filled += run;
            }
        }
        if let Some(dw_group) = dw_group.as_deref_mut() {
            add_weight_grad(
                gemm_threads,
                d,
                block_cols,
                &scratch.out,
                &scratch.col,
                dw_group,
            );
        }
        if !want_dx {
            continue;
        }
        // dcol_b (col_rows × block_cols) = W_gᵀ · dy_b; its junk columns are
        // zero because dy_b's are.
        scratch.dcol.resize(d.col_rows * block_cols, 0.0);
        sgemm_threads(
            gemm_threads,
            d.col_rows,
            block_cols,
            d.out_per_group,
            w_group,
            true,
            &scratch.out,
            false,
            &mut scratch.dcol,
            false,
        );
        let (dcol, dpadded) = (&scratch.dcol, &mut scratch.dpadded);
        for_each_wide_run(
            g,
            d,
            &rows,
            items,
            block_start,
            block_cols,
            |row, at, dst, run| {
                vector::axpy(
                    &mut dpadded[dst..dst + run],
                    &dcol[row * block_cols + at..][..run],
                    1.0,
                );
            },
        );
    }
    if let Some(dx_chunk) = dx_chunk {
        for item in 0..items {
            let dx_group = &mut dx_chunk[(item * g.groups + group) * x_group_len..][..x_group_len];
            for (c, dx_channel) in dx_group.chunks_exact_mut(d.in_plane).enumerate() {
                let source = &scratch.dpadded[(c * items + item) * rows.padded_len..];
                rows.unpad_add(g, &source[..rows.padded_len], dx_channel);
            }
        }
    }
}

/// dW_g (O_g × col_rows) += dy (O_g × columns) · colᵀ (columns × col_rows).
fn add_weight_grad(
    gemm_threads: usize,
    d: &Dims,
    columns: usize,
    dy: &[f32],
    col: &[f32],
    dw_group: &mut [f32],
) {
    sgemm_threads(
        gemm_threads,
        d.out_per_group,
        d.col_rows,
        columns,
        dy,
        false,
        col,
        true,
        dw_group,
        true,
    );
}

/// Backward of one group for a single item (not wide, not pointwise),
/// one block of output rows at a time: im2col builds only that block's
/// columns, dW_g += dy_b · col_bᵀ, and if asked col2im scatters
/// W_gᵀ · dy_b into dx.
#[allow(clippy::too_many_arguments)]
fn backward_group_rows_blocked(
    g: &ConvGeom,
    d: &Dims,
    gemm_threads: usize,
    x_group: &[f32],
    w_group: &[f32],
    dy_group: &[f32],
    mut dx_group: Option<&mut [f32]>,
    mut dw_group: Option<&mut [f32]>,
    scratch: &mut ChunkScratch,
) {
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
        if let Some(dw_group) = dw_group.as_deref_mut() {
            add_weight_grad(
                gemm_threads,
                d,
                block_cols,
                dy_block,
                &scratch.col,
                dw_group,
            );
        }
        let Some(dx_group) = dx_group.as_deref_mut() else {
            continue;
        };
        scratch.dcol.resize(d.col_rows * block_cols, 0.0);
        sgemm_threads(
            gemm_threads,
            d.col_rows,
            block_cols,
            d.out_per_group,
            w_group,
            true,
            dy_block,
            false,
            &mut scratch.dcol,
            false,
        );
        col2im(g, d, &scratch.dcol, block_cols, 0, oh_range, dx_group);
    }
}

/// Copy the valid out_w columns of each wide output row into y (NCHW).
fn scatter_wide_output(
    g: &ConvGeom,
    d: &Dims,
    items: usize,
    group: usize,
    out: &[f32],
    y_chunk: &mut [f32],
) {
    let columns = items * d.item_cols;
    let width = d.item_cols / g.out_h.max(1);
    let y_group_len = d.out_per_group * d.out_plane;
    for item in 0..items {
        let y_group = &mut y_chunk[(item * g.groups + group) * y_group_len..][..y_group_len];
        for (o, y_plane) in y_group.chunks_exact_mut(d.out_plane).enumerate() {
            let out_item = &out[o * columns + item * d.item_cols..][..d.item_cols];
            for (y_row, wide_row) in y_plane
                .chunks_exact_mut(g.out_w)
                .zip(out_item.chunks(width))
            {
                y_row.copy_from_slice(&wide_row[..g.out_w]);
            }
        }
    }
}

/// Forward pass for a chunk of consecutive batch items through im2col + GEMM.
#[allow(clippy::too_many_arguments)]
fn forward_chunk_gemm(
    g: &ConvGeom,
    d: &Dims,
    gemm_threads: usize,
    x_chunk: &[f32],
    weight: &[f32],
    y_chunk: &mut [f32],
    scratch: &mut ChunkScratch,
) {
    let items = y_chunk.len() / (g.out_ch * d.out_plane);
    let columns = items * d.item_cols;
    let x_group_len = d.in_per_group * d.in_plane;
    let y_group_len = d.out_per_group * d.out_plane;
    for group in 0..g.groups {
        let w_group =
            &weight[group * d.out_per_group * d.col_rows..][..d.out_per_group * d.col_rows];
        let x_group_of =
            |item: usize| &x_chunk[(item * g.groups + group) * x_group_len..][..x_group_len];
        if d.wide {
            forward_group_wide_blocked(g, d, gemm_threads, items, &x_group_of, w_group, scratch);
            scatter_wide_output(g, d, items, group, &scratch.out, y_chunk);
            continue;
        }
        let col_matrix: &[f32] = if d.pointwise && items == 1 {
            x_group_of(0)
        } else {
            scratch.col.resize(d.col_rows * columns, 0.0);
            for item in 0..items {
                im2col(
                    g,
                    d,
                    x_group_of(item),
                    &mut scratch.col,
                    columns,
                    item * d.item_cols,
                    0..g.out_h,
                );
            }
            &scratch.col
        };
        if items == 1 {
            let y_group = &mut y_chunk[group * y_group_len..][..y_group_len];
            sgemm_threads(
                gemm_threads,
                d.out_per_group,
                columns,
                d.col_rows,
                w_group,
                false,
                col_matrix,
                false,
                y_group,
                false,
            );
            continue;
        }
        // out (O_g × items·P), then each item's rows go to their NCHW place.
        scratch.out.resize(d.out_per_group * columns, 0.0);
        sgemm_threads(
            gemm_threads,
            d.out_per_group,
            columns,
            d.col_rows,
            w_group,
            false,
            col_matrix,
            false,
            &mut scratch.out,
            false,
        );
        for item in 0..items {
            let y_group = &mut y_chunk[(item * g.groups + group) * y_group_len..][..y_group_len];
            for (o, y_plane) in y_group.chunks_exact_mut(d.out_plane).enumerate() {
                y_plane.copy_from_slice(
                    &scratch.out[o * columns + item * d.item_cols..][..d.out_plane],
                );
            }
        }
    }
}

/// Depthwise forward for one output plane (`plane` indexes batch × out_ch).
fn forward_plane_depthwise(
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
            vector::axpy(y_row, &x_row[iw_lo..], w);
        } else {
            let x_run = x_row[iw_lo..].iter().step_by(g.stride_w);
            y_row.iter_mut().zip(x_run).for_each(|(y, &v)| *y += w * v);
        }
    });
}

/// Call `f(tap, ih, oh, ow_lo, ow_hi, iw_lo)` for every kernel tap and every
/// output row whose input row is inside x, with the valid output column run.
fn for_each_tap_row(g: &ConvGeom, mut f: impl FnMut(usize, usize, usize, usize, usize, usize)) {
    for ki in 0..g.k_h {
        let off_h = (ki * g.dil_h) as isize - g.pad_top as isize;
        let (oh_lo, oh_hi) = valid_range(g.out_h, g.in_h, g.stride_h, off_h);
        for kj in 0..g.k_w {
            let off_w = (kj * g.dil_w) as isize - g.pad_left as isize;
            let (ow_lo, ow_hi) = valid_range(g.out_w, g.in_w, g.stride_w, off_w);
            if ow_lo == ow_hi {
                continue;
            }
            let iw_lo = ((ow_lo * g.stride_w) as isize + off_w) as usize;
            for oh in oh_lo..oh_hi {
                let ih = ((oh * g.stride_h) as isize + off_h) as usize;
                f(ki * g.k_w + kj, ih, oh, ow_lo, ow_hi, iw_lo);
            }
        }
    }
}

fn add_bias(g: &ConvGeom, d: &Dims, bias: Option<&[f32]>, y: &mut [f32]) {
    let Some(bias) = bias else { return };
    assert_eq!(bias.len(), g.out_ch, "conv2d: bias length");
    if d.out_plane == 0 {
        return;
    }
    let add =
        |(plane, y_plane): (usize, &mut [f32])| vector::add_scalar(y_plane, bias[plane % g.out_ch]);
    if y.len() >= PARALLEL_MIN_ELEMENTS && rayon::current_num_threads() > 1 {
        y.par_chunks_mut(d.out_plane).enumerate().for_each(add);
    } else {
        y.chunks_mut(d.out_plane).enumerate().for_each(add);
    }
}

/// db[o] += Σ_{n, oh, ow} dy[n, o, oh, ow]
fn accumulate_dbias(g: &ConvGeom, d: &Dims, dy: &[f32], dbias: &mut [f32]) {
    assert_eq!(dbias.len(), g.out_ch, "conv2d: dbias length");
    if d.out_plane == 0 {
        return;
    }
    let plane_sums: Vec<f32> =
        if dy.len() >= PARALLEL_MIN_ELEMENTS && rayon::current_num_threads() > 1 {
            dy.par_chunks(d.out_plane).map(vector::sum).collect()
        } else {
            dy.chunks(d.out_plane).map(vector::sum).collect()
        };
    for (plane, plane_sum) in plane_sums.into_iter().enumerate() {
        dbias[plane % g.out_ch] += plane_sum;
    }
}

/// Convolution forward: y (batch × out_ch × out_h × out_w) is overwritten.
/// `weight` is out_ch × in_ch/groups × k_h × k_w.
pub fn conv2d_forward(
    g: &ConvGeom,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
) {
    let d = Dims::new(g);
    check_lengths(g, &d, x.len(), weight.len(), y.len());
    if y.is_empty() {
        return;
    }
    let threads = batch_threads(g, &d);
    if !d.pointwise && implicit::suits(g, threads) {
        implicit::forward(g, x, weight, y, threads);
    } else if d.depthwise && depthwise::suits(g) {
        let run = |(plane, y_plane): (usize, &mut [f32])| {
            let (n, o) = (plane / g.out_ch, plane % g.out_ch);
            let in_c = o / d.out_per_group;
            let x_plane = &x[(n * g.in_ch + in_c) * d.in_plane..][..d.in_plane];
            let kernel = &weight[o * d.taps..][..d.taps];
            let b = bias.map_or(0.0, |bias| bias[o]);
            depthwise::forward_plane(g, x_plane, kernel, b, y_plane);
        };
        if let Some(bias) = bias {
            assert_eq!(bias.len(), g.out_ch, "conv2d: bias length");
        }
        if threads > 1 {
            let min_len = (g.batch * g.out_ch).div_ceil(4 * threads);
            y.par_chunks_mut(d.out_plane)
                .enumerate()
                .with_min_len(min_len)
                .for_each(run);
        } else {
            y.chunks_mut(d.out_plane).enumerate().for_each(run);
        }
        return; // bias added by the kernel
    } else if d.depthwise && g.stride_h == 1 && g.stride_w == 1 {
        let rows = WideRows::new(g);
        let run = |scratch: &mut WideScratch, (plane, y_plane): (usize, &mut [f32])| {
            forward_plane_wide(g, &d, &rows, plane, x, weight, y_plane, scratch)
        };
        if threads > 1 {
            let min_len = (g.batch * g.out_ch).div_ceil(4 * threads);
            y.par_chunks_mut(d.out_plane)
                .enumerate()
                .with_min_len(min_len)
                .for_each_init(WideScratch::default, run);
        } else {
            let mut scratch = WideScratch::default();
            y.chunks_mut(d.out_plane)
                .enumerate()
                .for_each(|item| run(&mut scratch, item));
        }
    } else if d.depthwise {
        let run = |(plane, y_plane): (usize, &mut [f32])| {
            forward_plane_depthwise(g, &d, plane, x, weight, y_plane)
        };
        if threads > 1 {
            y.par_chunks_mut(d.out_plane).enumerate().for_each(run);
        } else {
            y.chunks_mut(d.out_plane).enumerate().for_each(run);
        }
    } else {
        let plan = ChunkPlan::new(g, &d);
        let in_chunk = plan.items * g.in_ch * d.in_plane;
        let out_chunk = plan.items * g.out_ch * d.out_plane;
        let run = |scratch: &mut ChunkScratch, (y_chunk, x_chunk): (&mut [f32], &[f32])| {
            forward_chunk_gemm(g, &d, plan.gemm_threads, x_chunk, weight, y_chunk, scratch)
        };
        if plan.workers > 1 {
            y.par_chunks_mut(out_chunk)
                .zip(x.par_chunks(in_chunk))
                .for_each_init(ChunkScratch::default, run);
        } else {
            let mut scratch = ChunkScratch::default();
            for chunk in y.chunks_mut(out_chunk).zip(x.chunks(in_chunk)) {
                run(&mut scratch, chunk);
            }
        }
    }
    add_bias(g, &d, bias, y);
}

/// Scratch buffers of one GEMM-path worker, reused across its chunks.
#[derive(Default)]
struct ChunkScratch {
    col: Vec<f32>,
    /// Forward output or gathered dy, O_g × items·P.
    out: Vec<f32>,
    dcol: Vec<f32>,
    /// Zero-padded channels (wide-row layout).
    padded: Vec<f32>,
    /// Gradient of `padded`.
    dpadded: Vec<f32>,
}

/// Backward for a chunk of consecutive batch items through GEMM:
/// dW += dy·colᵀ and, if asked, dx += col2im(Wᵀ·dy).
#[allow(clippy::too_many_arguments)]
fn backward_chunk_gemm(
    g: &ConvGeom,
    d: &Dims,
    gemm_threads: usize,
    x_chunk: &[f32],
    weight: &[f32],
    dy_chunk: &[f32],
    mut dx_chunk: Option<&mut [f32]>,
    dweight: &mut [f32],
    want_dw: bool,
    scratch: &mut ChunkScratch,
) {
    let items = dy_chunk.len() / (g.out_ch * d.out_plane);
    let columns = items * d.item_cols;
    let x_group_len = d.in_per_group * d.in_plane;
    let w_group_len = d.out_per_group * d.col_rows;
    let dy_group_len = d.out_per_group * d.out_plane;
    for group in 0..g.groups {
        let w_group = &weight[group * w_group_len..][..w_group_len];
        let dw_group = &mut dweight[group * w_group_len..][..w_group_len];
        if d.wide {
            backward_group_wide_blocked(
                g,
                d,
                gemm_threads,
                group,
                x_chunk,
                w_group,
                dy_chunk,
                dx_chunk.as_deref_mut(),
                want_dw.then_some(dw_group),
                scratch,
            );
            continue;
        }
        let x_group_of =
            |item: usize| &x_chunk[(item * g.groups + group) * x_group_len..][..x_group_len];
        if items == 1 && !d.pointwise {
            let dx_group = dx_chunk
                .as_deref_mut()
                .map(|dx| &mut dx[group * x_group_len..][..x_group_len]);
            backward_group_rows_blocked(
                g,
                d,
                gemm_threads,
                x_group_of(0),
                w_group,
                &dy_chunk[group * dy_group_len..][..dy_group_len],
                dx_group,
                want_dw.then_some(dw_group),
                scratch,
            );
            continue;
        }
        let col_matrix: &[f32] = if d.pointwise && items == 1 {
            x_group_of(0)
        } else {
            scratch.col.resize(d.col_rows * columns, 0.0);
            for item in 0..items {
                let (x_group, first_col) = (x_group_of(item), item * d.item_cols);
                im2col(
                    g,
                    d,
                    x_group,
                    &mut scratch.col,
                    columns,
                    first_col,
                    0..g.out_h,
                );
            }
            &scratch.col
        };
        // dy_g as one O_g × items·P matrix.
        let dy_matrix: &[f32] = if items == 1 {
            &dy_chunk[group * dy_group_len..][..dy_group_len]
        } else {
            scratch.out.resize(d.out_per_group * columns, 0.0);
            for item in 0..items {
                let dy_group =
                    &dy_chunk[(item * g.groups + group) * dy_group_len..][..dy_group_len];
                for (o, dy_plane) in dy_group.chunks_exact(d.out_plane).enumerate() {
                    scratch.out[o * columns + item * d.item_cols..][..d.item_cols]
                        .copy_from_slice(dy_plane);
                }
            }
            &scratch.out
        };
        if want_dw {
            add_weight_grad(gemm_threads, d, columns, dy_matrix, col_matrix, dw_group);
        }
        let Some(dx_chunk) = dx_chunk.as_deref_mut() else {
            continue;
        };
        // dcol (col_rows × items·P) = W_gᵀ (col_rows × O_g) · dy_g (O_g × items·P)
        if d.pointwise && items == 1 {
            let dx_group = &mut dx_chunk[group * x_group_len..][..x_group_len];
            sgemm_threads(
                gemm_threads,
                d.col_rows,
                columns,
                d.out_per_group,
                w_group,
                true,
                dy_matrix,
                false,
                dx_group,
                true,
            );
            continue;
        }
        scratch.dcol.resize(d.col_rows * columns, 0.0);
        sgemm_threads(
            gemm_threads,
            d.col_rows,
            columns,
            d.out_per_group,
            w_group,
            true,
            dy_matrix,
            false,
            &mut scratch.dcol,
            false,
        );
        for item in 0..items {
            let dx_group = &mut dx_chunk[(item * g.groups + group) * x_group_len..][..x_group_len];
            let first_col = item * d.item_cols;
            col2im(
                g,
                d,
                &scratch.dcol,
                columns,
                first_col,
                0..g.out_h,
                dx_group,
            );
        }
    }
}

/// Depthwise dx for one input plane (`plane` indexes batch × in_ch):
/// dx[ih, iw] += Σ_{o in group, taps} w[o, tap] · dy[o, oh, ow].
fn backward_dx_plane_depthwise(
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

/// Depthwise dW for one output channel: dw[o, tap] += Σ_{n, oh, ow} dy · x.
fn backward_dw_channel_depthwise(
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

/// Stride-1 depthwise planes laid out as "wide rows": the input plane is
/// copied into a zero-padded buffer `width` = out_w + (k_w−1)·d_w wide, and
/// the output is computed `width` wide too. Then every tap (i, j) is a single
/// long axpy, out_wide[t] += w · padded[t + i·d_h·width + j·d_w], over the
/// whole plane instead of out_h short rows; the columns ≥ out_w are junk and
/// are dropped when copying out. Long contiguous runs vectorise fully.
#[derive(Clone, Copy)]
struct WideRows {
    width: usize,
    /// Padded rows that valid outputs read: out_h + (k_h−1)·d_h.
    height: usize,
    /// Padded buffer length: the junk columns of the last row read up to
    /// (k_w−1)·d_w past height·width.
    padded_len: usize,
    /// out_h · width.
    out_len: usize,
}

impl WideRows {
    fn new(g: &ConvGeom) -> Self {
        let width = g.out_w + (g.k_w - 1) * g.dil_w;
        let height = g.out_h + (g.k_h - 1) * g.dil_h;
        WideRows {
            width,
            height,
            padded_len: height * width + (g.k_w - 1) * g.dil_w,
            out_len: g.out_h * width,
        }
    }

    /// Offset of tap `tap` in the padded buffer.
    fn tap_offset(&self, g: &ConvGeom, tap: usize) -> usize {
        (tap / g.k_w) * g.dil_h * self.width + (tap % g.k_w) * g.dil_w
    }

    /// padded[r, c] = x[r − pad_top, c − pad_left], zero outside x.
    fn pad(&self, g: &ConvGeom, x_plane: &[f32], padded: &mut Vec<f32>) {
        padded.clear();
        padded.resize(self.padded_len, 0.0);
        self.pad_into(g, x_plane, padded);
    }

    /// [`WideRows::pad`] into a zeroed slice of `padded_len`.
    fn pad_into(&self, g: &ConvGeom, x_plane: &[f32], padded: &mut [f32]) {
        let cols = g.in_w.min(self.width.saturating_sub(g.pad_left));
        for ih in 0..g.in_h.min(self.height.saturating_sub(g.pad_top)) {
            let start = (ih + g.pad_top) * self.width + g.pad_left;
            padded[start..start + cols].copy_from_slice(&x_plane[ih * g.in_w..][..cols]);
        }
    }

    /// Adjoint of [`WideRows::pad`]: dx[ih, iw] += dpadded[ih + pad_top, iw + pad_left].
    fn unpad_add(&self, g: &ConvGeom, dpadded: &[f32], dx_plane: &mut [f32]) {
        let cols = g.in_w.min(self.width.saturating_sub(g.pad_left));
        for ih in 0..g.in_h.min(self.height.saturating_sub(g.pad_top)) {
            let start = (ih + g.pad_top) * self.width + g.pad_left;
            let dx_row = &mut dx_plane[ih * g.in_w..][..cols];
            dx_row
                .iter_mut()
                .zip(&dpadded[start..start + cols])
                .for_each(|(d, &v)| *d += v);
        }
    }
}

/// Scratch for one worker of the wide-row depthwise kernels.
#[derive(Default)]
struct WideScratch {
    padded: Vec<f32>,
    wide: Vec<f32>,
    dpadded: Vec<f32>,
}

#[allow(clippy::too_many_arguments)]
fn forward_plane_wide(
    g: &ConvGeom,
    d: &Dims,
    rows: &WideRows,
    plane: usize,
    x: &[f32],
    weight: &[f32],
    y_plane: &mut [f32],
    scratch: &mut WideScratch,
) {
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
        vector::axpy(&mut scratch.wide, source, w);
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
#[allow(clippy::too_many_arguments)]
fn backward_plane_wide(
    g: &ConvGeom,
    d: &Dims,
    rows: &WideRows,
    plane: usize,
    x: &[f32],
    weight: &[f32],
    dy: &[f32],
    dx_plane: Option<&mut [f32]>,
    dweight: &mut [f32],
    scratch: &mut WideScratch,
) {
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
            dweight[o * d.taps + tap] += vector::dot(&scratch.wide, source);
            if dx_plane.is_some() {
                let w = weight[o * d.taps + tap];
                let target = &mut scratch.dpadded[offset..][..rows.out_len];
                vector::axpy(target, &scratch.wide, w);
            }
        }
    }
    if let Some(dx_plane) = dx_plane {
        rows.unpad_add(g, &scratch.dpadded, dx_plane);
    }
}

/// Convolution backward. Accumulates dW (and db, dx when given) from dy.
/// `dx: None` skips the input gradient entirely (first layer).
pub fn conv2d_backward(
    g: &ConvGeom,
    x: &[f32],
    weight: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dweight: &mut [f32],
    dbias: Option<&mut [f32]>,
) {
    let d = Dims::new(g);
    check_lengths(g, &d, x.len(), weight.len(), dy.len());
    assert_eq!(dweight.len(), weight.len(), "conv2d: dweight length");
    if let Some(dx) = dx.as_deref() {
        assert_eq!(dx.len(), x.len(), "conv2d: dx length");
    }
    if let Some(dbias) = dbias {
        accumulate_dbias(g, &d, dy, dbias);
    }
    if dy.is_empty() || x.is_empty() {
        return;
    }
    let threads = batch_threads(g, &d);
    // With the weight gradient done by the implicit path, the GEMM path
    // below only computes dx (the direct depthwise kernels do both at once).
    let want_dw = d.pointwise || !implicit::suits(g, threads) || (d.depthwise && dx.is_some());
    if d.depthwise && want_dw {
        backward_depthwise(g, &d, threads, x, weight, dy, dx, dweight);
        return;
    }
    if !want_dw {
        implicit::weight_grad(g, x, dy, dweight, threads);
        if dx.is_none() {
            return;
        }
    }
    let plan = ChunkPlan::new(g, &d);
    let in_chunk = plan.items * g.in_ch * d.in_plane;
    let out_chunk = plan.items * g.out_ch * d.out_plane;
    let chunks = g.batch.div_ceil(plan.items);
    let dx_chunks: Vec<Option<&mut [f32]>> = match dx {
        Some(dx) => dx.chunks_mut(in_chunk).map(Some).collect(),
        None => (0..chunks).map(|_| None).collect(),
    };
    if plan.workers > 1 {
        // Each worker sums its chunks' dW into a private buffer; the partial
        // sums are added at the end, so no two threads write the same memory.
        let partial = dx_chunks
            .into_par_iter()
            .zip(x.par_chunks(in_chunk))
            .zip(dy.par_chunks(out_chunk))
            .with_min_len(chunks.div_ceil(plan.workers))
            .fold(
                || (vec![0.0f32; weight.len()], ChunkScratch::default()),
                |(mut dw_partial, mut scratch), ((dx_chunk, x_chunk), dy_chunk)| {
                    backward_chunk_gemm(
                        g,
                        &d,
                        1,
                        x_chunk,
                        weight,
                        dy_chunk,
                        dx_chunk,
                        &mut dw_partial,
                        want_dw,
                        &mut scratch,
                    );
                    (dw_partial, scratch)
                },
            )
            .map(|(dw_partial, _)| dw_partial)
            .reduce_with(|mut sum, part| {
                sum.iter_mut().zip(&part).for_each(|(s, p)| *s += p);
                sum
            });
        if let Some(partial) = partial {
            dweight.iter_mut().zip(&partial).for_each(|(w, p)| *w += p);
        }
    } else {
        let mut scratch = ChunkScratch::default();
        let chunks = dx_chunks
            .into_iter()
            .zip(x.chunks(in_chunk))
            .zip(dy.chunks(out_chunk));
        for ((dx_chunk, x_chunk), dy_chunk) in chunks {
            backward_chunk_gemm(
                g,
                &d,
                plan.gemm_threads,
                x_chunk,
                weight,
                dy_chunk,
                dx_chunk,
                dweight,
                want_dw,
                &mut scratch,
            );
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn backward_depthwise(
    g: &ConvGeom,
    d: &Dims,
    threads: usize,
    x: &[f32],
    weight: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dweight: &mut [f32],
) {
    if dx.is_none() && depthwise::suits(g) {
        // Output channels in parallel, each summing over the batch.
        let run = |(o, dkernel): (usize, &mut [f32])| {
            let in_c = o / d.out_per_group;
            let planes = (0..g.batch).map(|n| {
                (
                    &x[(n * g.in_ch + in_c) * d.in_plane..][..d.in_plane],
                    &dy[(n * g.out_ch + o) * d.out_plane..][..d.out_plane],
                )
            });
            depthwise::weight_grad_planes(g, planes, dkernel);
        };
        if threads > 1 {
            dweight.par_chunks_mut(d.taps).enumerate().for_each(run);
        } else {
            dweight.chunks_mut(d.taps).enumerate().for_each(run);
        }
        return;
    }
    if g.stride_h == 1 && g.stride_w == 1 {
        let rows = WideRows::new(g);
        let planes = g.batch * g.in_ch;
        let dx_planes: Vec<Option<&mut [f32]>> = match dx {
            Some(dx) => dx.chunks_mut(d.in_plane).map(Some).collect(),
            None => (0..planes).map(|_| None).collect(),
        };
        if threads > 1 {
            // Planes in parallel; each worker sums dW privately, then the
            // partial sums are added.
            let partial = dx_planes
                .into_par_iter()
                .enumerate()
                .with_min_len(planes.div_ceil(4 * threads))
                .fold(
                    || (vec![0.0f32; weight.len()], WideScratch::default()),
                    |(mut dw_partial, mut scratch), (plane, dx_plane)| {
                        backward_plane_wide(
                            g,
                            d,
                            &rows,
                            plane,
                            x,
                            weight,
                            dy,
                            dx_plane,
                            &mut dw_partial,
                            &mut scratch,
                        );
                        (dw_partial, scratch)
                    },
                )
                .map(|(dw_partial, _)| dw_partial)
                .reduce_with(|mut sum, part| {
                    sum.iter_mut().zip(&part).for_each(|(s, p)| *s += p);
                    sum
                });
            if let Some(partial) = partial {
                dweight.iter_mut().zip(&partial).for_each(|(w, p)| *w += p);
            }
        } else {
            let mut scratch = WideScratch::default();
            for (plane, dx_plane) in dx_planes.into_iter().enumerate() {
                backward_plane_wide(
                    g,
                    d,
                    &rows,
                    plane,
                    x,
                    weight,
                    dy,
                    dx_plane,
                    dweight,
                    &mut scratch,
                );
            }
        }
        return;
    }
    // Strided: two passes, each writing disjoint memory: dx by input plane,
    // dW by output channel.
    if let Some(dx) = dx {
        let run = |(plane, dx_plane): (usize, &mut [f32])| {
            backward_dx_plane_depthwise(g, d, plane, weight, dy, dx_plane)
        };
        if threads > 1 {
            dx.par_chunks_mut(d.in_plane).enumerate().for_each(run);
        } else {
            dx.chunks_mut(d.in_plane).enumerate().for_each(run);
        }
    }
    let run =
        |(o, dkernel): (usize, &mut [f32])| backward_dw_channel_depthwise(g, d, o, x, dy, dkernel);
    if threads > 1 {
        dweight.par_chunks_mut(d.taps).enumerate().for_each(run);
    } else {
        dweight.chunks_mut(d.taps).enumerate().for_each(run);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::{assert_close, dot, numeric_grad, random_vec, to_f64};
    use proptest::prelude::*;

    /// Direct seven-loop convolution in f64, straight from the formula at
    /// the top of this file.
    fn reference_forward(g: &ConvGeom, x: &[f64], w: &[f64], b: Option<&[f64]>) -> Vec<f64> {
        let (ipg, opg) = (g.in_ch / g.groups, g.out_ch / g.groups);
        let mut y = vec![0.0; g.batch * g.out_ch * g.out_h * g.out_w];
        for n in 0..g.batch {
            for o in 0..g.out_ch {
                for oh in 0..g.out_h {
                    for ow in 0..g.out_w {
                        let mut sum = b.map_or(0.0, |b| b[o]);
                        for c in 0..ipg {
                            let in_c = (o / opg) * ipg + c;
                            for i in 0..g.k_h {
                                for j in 0..g.k_w {
                                    let ih = (oh * g.stride_h + i * g.dil_h) as isize
                                        - g.pad_top as isize;
                                    let iw = (ow * g.stride_w + j * g.dil_w) as isize
                                        - g.pad_left as isize;
                                    if ih < 0
                                        || iw < 0
                                        || ih >= g.in_h as isize
                                        || iw >= g.in_w as isize
                                    {
                                        continue;
                                    }
                                    let xi = ((n * g.in_ch + in_c) * g.in_h + ih as usize) * g.in_w
                                        + iw as usize;
                                    let wi = ((o * ipg + c) * g.k_h + i) * g.k_w + j;
                                    sum += w[wi] * x[xi];
                                }
                            }
                        }
                        y[((n * g.out_ch + o) * g.out_h + oh) * g.out_w + ow] = sum;
                    }
                }
            }
        }
        y
    }

    /// dx and dW of [`reference_forward`] for output gradient `dy`.
    fn reference_backward(g: &ConvGeom, x: &[f64], w: &[f64], dy: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let (ipg, opg) = (g.in_ch / g.groups, g.out_ch / g.groups);
        let (mut dx, mut dw) = (vec![0.0; x.len()], vec![0.0; w.len()]);
        for n in 0..g.batch {
            for o in 0..g.out_ch {
                for oh in 0..g.out_h {
                    for ow in 0..g.out_w {
                        let grad = dy[((n * g.out_ch + o) * g.out_h + oh) * g.out_w + ow];
                        for c in 0..ipg {
                            let in_c = (o / opg) * ipg + c;
                            for i in 0..g.k_h {
                                for j in 0..g.k_w {
                                    let ih = (oh * g.stride_h + i * g.dil_h) as isize
                                        - g.pad_top as isize;
                                    let iw = (ow * g.stride_w + j * g.dil_w) as isize
                                        - g.pad_left as isize;
                                    if ih < 0
                                        || iw < 0
                                        || ih >= g.in_h as isize
                                        || iw >= g.in_w as isize
                                    {
                                        continue;
                                    }
                                    let xi = ((n * g.in_ch + in_c) * g.in_h + ih as usize) * g.in_w
                                        + iw as usize;
                                    let wi = ((o * ipg + c) * g.k_h + i) * g.k_w + j;
                                    dw[wi] += grad * x[xi];
                                    dx[xi] += grad * w[wi];
                                }
                            }
                        }
                    }
                }
            }
        }
        (dx, dw)
    }

    /// Backward built one column block at a time, against the reference.
    fn check_backward_against_reference(g: &ConvGeom, seed: u64) {
        let c = case(g, seed);
        let (mut dx, mut dweight) = (vec![0.0; c.x.len()], vec![0.0; c.weight.len()]);
        conv2d_backward(g, &c.x, &c.weight, &c.dy, Some(&mut dx), &mut dweight, None);
        let (dx_ref, dw_ref) =
            reference_backward(g, &to_f64(&c.x), &to_f64(&c.weight), &to_f64(&c.dy));
        assert_close(&dx, &dx_ref, 1e-3);
        assert_close(&dweight, &dw_ref, 1e-3);
        // Without dx, dW is the same.
        let mut dweight_only = vec![0.0; c.weight.len()];
        conv2d_backward(g, &c.x, &c.weight, &c.dy, None, &mut dweight_only, None);
        assert_eq!(dweight, dweight_only);
    }

    #[test]
    fn blocked_backward_matches_reference() {
        // Wide rows: 24·26 = 624 columns per item in blocks of 512, so
        // blocks end inside items.
        check_backward_against_reference(&simple_geometry(3, 64, 8, 24, 3, 1), 12);
        // Stride 2 (not wide): 400·40 floats per output row give blocks of
        // 16 rows, the last one short (40 = 16 + 16 + 8).
        let strided = ConvGeom {
            stride_h: 2,
            stride_w: 2,
            out_h: 40,
            out_w: 40,
            ..simple_geometry(2, 16, 4, 80, 5, 2)
        };
        check_backward_against_reference(&strided, 13);
    }

    /// Output length as PyTorch computes it, plus `extra` rows/columns of
    /// bottom/right overhang to exercise asymmetric padding.
    fn out_len(input: usize, pad: usize, extra: usize, dil: usize, k: usize, s: usize) -> usize {
        let span = dil * (k - 1) + 1;
        let padded = input + pad + extra;
        if padded < span {
            0
        } else {
            (padded - span) / s + 1
        }
    }

    prop_compose! {
        fn geometry()(batch in 1usize..3, groups in 1usize..4, in_per_group in 1usize..3,
                      out_per_group in 1usize..3, in_h in 1usize..7, in_w in 1usize..7,
                      k_h in 1usize..4, k_w in 1usize..4, stride_h in 1usize..4,
                      stride_w in 1usize..4, pad_top in 0usize..4, pad_left in 0usize..4,
                      pad_bottom in 0usize..3, pad_right in 0usize..3,
                      dil_h in 1usize..3, dil_w in 1usize..3) -> ConvGeom {
            let out_h = out_len(in_h, pad_top, pad_bottom, dil_h, k_h, stride_h);
            let out_w = out_len(in_w, pad_left, pad_right, dil_w, k_w, stride_w);
            ConvGeom {
                batch, in_ch: groups * in_per_group, in_h, in_w,
                out_ch: groups * out_per_group, k_h, k_w, stride_h, stride_w,
                pad_top, pad_left, dil_h, dil_w, groups, out_h, out_w,
            }
        }
    }

    #[test]
    fn depthwise_rows_wider_than_one_vector() {
        // 37 output columns: three 16-lane runs, the last ragged; padding
        // and dilation put taps outside the row at both ends.
        let g = ConvGeom {
            batch: 2,
            in_ch: 3,
            in_h: 6,
            in_w: 37,
            out_ch: 6,
            k_h: 3,
            k_w: 4,
            stride_h: 1,
            stride_w: 1,
            pad_top: 2,
            pad_left: 3,
            dil_h: 1,
            dil_w: 2,
            groups: 3,
            out_h: out_len(6, 2, 2, 1, 3, 1),
            out_w: out_len(37, 3, 3, 2, 4, 1),
        };
        assert!(g.out_w > 32);
        check_against_reference(&g, 11);
    }

    #[test]
    fn implicit_path_crosses_panels_strips_and_slabs() {
        // 19 output channels (three row panels, the last ragged), depth
        // 20·9 = 180 (two slabs), hundreds of wide columns (many strips);
        // then strided and dilated, which splits the buffer into phases.
        let base = ConvGeom {
            batch: 2,
            in_ch: 20,
            in_h: 13,
            in_w: 37,
            out_ch: 19,
            k_h: 3,
            k_w: 3,
            stride_h: 1,
            stride_w: 1,
            pad_top: 1,
            pad_left: 1,
            dil_h: 1,
            dil_w: 1,
            groups: 1,
            out_h: 13,
            out_w: 37,
        };
        let strided = ConvGeom {
            in_ch: 4,
            out_ch: 10,
            k_h: 5,
            k_w: 4,
            stride_h: 2,
            stride_w: 3,
            pad_top: 3,
            pad_left: 2,
            dil_h: 2,
            dil_w: 1,
            groups: 2,
            out_h: out_len(13, 3, 3, 2, 5, 2),
            out_w: out_len(37, 2, 0, 1, 4, 3),
            ..base
        };
        for g in [base, strided] {
            for threads in [1, 2] {
                let c = case(&g, 5);
                let (x64, w64, dy64) = (to_f64(&c.x), to_f64(&c.weight), to_f64(&c.dy));
                let mut y = vec![f32::NAN; c.dy.len()];
                implicit::forward(&g, &c.x, &c.weight, &mut y, threads);
                assert_close(&y, &reference_forward(&g, &x64, &w64, None), 1e-4);
                let mut dweight = vec![0.0f32; c.weight.len()];
                implicit::weight_grad(&g, &c.x, &c.dy, &mut dweight, threads);
                assert_close(&dweight, &reference_backward(&g, &x64, &w64, &dy64).1, 1e-4);
            }
        }
    }

    struct Case {
        x: Vec<f32>,
        weight: Vec<f32>,
        bias: Vec<f32>,
        dy: Vec<f32>,
    }

    fn case(g: &ConvGeom, seed: u64) -> Case {
        let ipg = g.in_ch / g.groups;
        Case {
            x: random_vec(g.batch * g.in_ch * g.in_h * g.in_w, seed),
            weight: random_vec(g.out_ch * ipg * g.k_h * g.k_w, seed + 1),
            bias: random_vec(g.out_ch, seed + 2),
            dy: random_vec(g.batch * g.out_ch * g.out_h * g.out_w, seed + 3),
        }
    }

    /// Check forward against the reference and every gradient against
    /// central differences of the reference: d(Σ dy·y)/dθ.
    fn check_against_reference(g: &ConvGeom, seed: u64) {
        let c = case(g, seed);
        let (x64, w64, b64, dy64) = (
            to_f64(&c.x),
            to_f64(&c.weight),
            to_f64(&c.bias),
            to_f64(&c.dy),
        );
        let mut y = vec![f32::NAN; c.dy.len()];
        conv2d_forward(g, &c.x, &c.weight, Some(&c.bias), &mut y);
        assert_close(&y, &reference_forward(g, &x64, &w64, Some(&b64)), 1e-4);

        // Gradients start non-zero to check they accumulate.
        let start = 0.5f32;
        let mut dx = vec![start; c.x.len()];
        let mut dweight = vec![start; c.weight.len()];
        let mut dbias = vec![start; c.bias.len()];
        conv2d_backward(
            g,
            &c.x,
            &c.weight,
            &c.dy,
            Some(&mut dx),
            &mut dweight,
            Some(&mut dbias),
        );
        let shift = |grad: Vec<f64>| {
            grad.into_iter()
                .map(|v| v + start as f64)
                .collect::<Vec<_>>()
        };
        let eps = 1e-3;
        let dx_fd = numeric_grad(
            |x| dot(&dy64, &reference_forward(g, x, &w64, Some(&b64))),
            &x64,
            eps,
        );
        let dw_fd = numeric_grad(
            |w| dot(&dy64, &reference_forward(g, &x64, w, Some(&b64))),
            &w64,
            eps,
        );
        let db_fd = numeric_grad(
            |b| dot(&dy64, &reference_forward(g, &x64, &w64, Some(b))),
            &b64,
            eps,
        );
        assert_close(&dx, &shift(dx_fd), 1e-4);
        assert_close(&dweight, &shift(dw_fd.clone()), 1e-4);
        assert_close(&dbias, &shift(db_fd), 1e-4);

        // dx: None must give the same dW and leave nothing else touched.
        let mut dweight_only = vec![start; c.weight.len()];
        conv2d_backward(g, &c.x, &c.weight, &c.dy, None, &mut dweight_only, None);
        assert_close(&dweight_only, &shift(dw_fd), 1e-4);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn matches_reference_and_finite_differences(g in geometry(), seed: u64) {
            check_against_reference(&g, seed);
        }

        #[test]
        fn implicit_path_matches_reference(g in geometry(), threads in 1usize..3, seed: u64) {
            // Driven directly, whatever the dispatch would pick here.
            prop_assume!(implicit::suits(&g, threads));
            let c = case(&g, seed);
            let (x64, w64, dy64) = (to_f64(&c.x), to_f64(&c.weight), to_f64(&c.dy));
            let mut y = vec![f32::NAN; c.dy.len()];
            implicit::forward(&g, &c.x, &c.weight, &mut y, threads);
            assert_close(&y, &reference_forward(&g, &x64, &w64, None), 1e-4);
            let mut dweight = vec![0.5f32; c.weight.len()];
            implicit::weight_grad(&g, &c.x, &c.dy, &mut dweight, threads);
            let (_, dw) = reference_backward(&g, &x64, &w64, &dy64);
            let dw: Vec<f64> = dw.into_iter().map(|v| v + 0.5).collect();
            assert_close(&dweight, &dw, 1e-4);
        }

        #[test]
        fn depthwise_matches_reference(channels in 1usize..5, multiplier in 1usize..3,
                                       batch in 1usize..3, in_h in 1usize..8, in_w in 1usize..8,
                                       k_h in 1usize..4, k_w in 2usize..4, stride_h in 1usize..3,
                                       stride_w in 1usize..3, pad_top in 0usize..3,
                                       pad_left in 0usize..3, dil_h in 1usize..3,
                                       dil_w in 1usize..3, seed: u64) {
            let g = ConvGeom {
                batch, in_ch: channels, in_h, in_w, out_ch: channels * multiplier, k_h, k_w,
                stride_h, stride_w, pad_top, pad_left, dil_h, dil_w, groups: channels,
                out_h: out_len(in_h, pad_top, pad_top, dil_h, k_h, stride_h),
                out_w: out_len(in_w, pad_left, pad_left, dil_w, k_w, stride_w),
            };
            check_against_reference(&g, seed);
        }
    }

    fn simple_geometry(
        batch: usize,
        in_ch: usize,
        out_ch: usize,
        size: usize,
        k: usize,
        pad: usize,
    ) -> ConvGeom {
        let out = size + 2 * pad + 1 - k;
        ConvGeom {
            batch,
            in_ch,
            in_h: size,
            in_w: size,
            out_ch,
            k_h: k,
            k_w: k,
            stride_h: 1,
            stride_w: 1,
            pad_top: pad,
            pad_left: pad,
            dil_h: 1,
            dil_w: 1,
            groups: 1,
            out_h: out,
            out_w: out,
        }
    }

    /// Run the whole batch (parallel and item-stacking paths, since these
    /// sizes pass PARALLEL_MIN_FLOPS) and each item alone; results must agree,
    /// and the forward must match the reference.
    fn check_batch_matches_items(g: &ConvGeom, seed: u64) {
        assert!(Dims::new(g).flops(g) >= PARALLEL_MIN_FLOPS);
        let c = case(g, seed);
        let mut y = vec![0.0; c.dy.len()];
        conv2d_forward(g, &c.x, &c.weight, Some(&c.bias), &mut y);
        let reference =
            reference_forward(g, &to_f64(&c.x), &to_f64(&c.weight), Some(&to_f64(&c.bias)));
        assert_close(&y, &reference, 1e-4);
        let (mut dx, mut dweight, mut dbias) = (
            vec![0.0; c.x.len()],
            vec![0.0; c.weight.len()],
            vec![0.0; g.out_ch],
        );
        conv2d_backward(
            g,
            &c.x,
            &c.weight,
            &c.dy,
            Some(&mut dx),
            &mut dweight,
            Some(&mut dbias),
        );

        let single = ConvGeom { batch: 1, ..*g };
        let (in_item, out_item) = (c.x.len() / g.batch, c.dy.len() / g.batch);
        let (mut dx_items, mut dweight_items, mut dbias_items) = (
            vec![0.0; c.x.len()],
            vec![0.0; c.weight.len()],
            vec![0.0; g.out_ch],
        );
        for n in 0..g.batch {
            let x_item = &c.x[n * in_item..][..in_item];
            let mut y_item = vec![0.0; out_item];
            conv2d_forward(&single, x_item, &c.weight, Some(&c.bias), &mut y_item);
            assert_close(&y_item, &y[n * out_item..][..out_item], 1e-5);
            conv2d_backward(
                &single,
                x_item,
                &c.weight,
                &c.dy[n * out_item..][..out_item],
                Some(&mut dx_items[n * in_item..][..in_item]),
                &mut dweight_items,
                Some(&mut dbias_items),
            );
        }
        assert_close(&dx, &dx_items, 1e-4);
        assert_close(&dweight, &dweight_items, 1e-4);
        assert_close(&dbias, &dbias_items, 1e-4);
    }

    #[test]
    fn parallel_paths_match_per_item() {
        check_batch_matches_items(&simple_geometry(4, 16, 16, 16, 3, 1), 5);
        // Small planes: several items stacked into one column matrix.
        check_batch_matches_items(&simple_geometry(16, 6, 16, 10, 5, 0), 6);
        // Wide rows, two items per column matrix split into column blocks of
        // 512, the first block ending inside the second item.
        check_batch_matches_items(&simple_geometry(4, 64, 8, 20, 3, 1), 10);
        // Pointwise, grouped.
        let pointwise = ConvGeom {
            groups: 2,
            ..simple_geometry(8, 32, 32, 16, 1, 0)
        };
        check_batch_matches_items(&pointwise, 7);
        // Depthwise, stride 1 (wide rows) and stride 2 (direct loops).
        let depthwise = ConvGeom {
            groups: 64,
            ..simple_geometry(4, 64, 64, 24, 3, 1)
        };
        check_batch_matches_items(&depthwise, 8);
        let strided = ConvGeom {
            stride_h: 2,
            stride_w: 2,
            out_h: 24,
            out_w: 24,
            ..simple_geometry(4, 64, 64, 48, 3, 1)
        };
        check_batch_matches_items(
            &ConvGeom {
                groups: 64,
                ..strided
            },
            9,
        );
    }

    #[test]
    fn pointwise_matches_reference() {
        // 1×1 stride 1 skips im2col: x is already the column matrix.
        check_against_reference(&simple_geometry(2, 3, 4, 5, 1, 0), 11);
    }

    #[test]
    fn whole_window_in_padding_and_one_pixel_input() {
        // Padding 3 with a 2×2 kernel: border windows see only zeros.
        let g = ConvGeom {
            pad_top: 3,
            pad_left: 3,
            out_h: 7,
            out_w: 7,
            ..simple_geometry(1, 1, 1, 1, 2, 0)
        };
        check_against_reference(&g, 3);
    }

    #[test]
    fn corr2d_chapter_example() {
        // D2L 7.2: corr2d(X, K) with X = arange(9).reshape(3, 3), K = [[0, 1], [2, 3]]
        // gives [[19, 25], [37, 43]].
        let x: Vec<f32> = (0..9).map(|v| v as f32).collect();
        let k = [0.0, 1.0, 2.0, 3.0];
        assert_eq!(corr2d(&x, 3, 3, &k, 2, 2), vec![19.0, 25.0, 37.0, 43.0]);
    }

    #[test]
    fn flipped_kernel_gives_true_convolution() {
        // Rotating [[0,1],[2,3]] by 180° gives [[3,2],[1,0]]; flipping twice is the identity.
        let k = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
        let flipped = flip_kernel(&k, 2, 1, 2, 2);
        assert_eq!(flipped, vec![3.0, 2.0, 1.0, 0.0, 7.0, 6.0, 5.0, 4.0]);
        assert_eq!(flip_kernel(&flipped, 2, 1, 2, 2), k.to_vec());
    }
}

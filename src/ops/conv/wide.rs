//! The wide-row column layout for stride-1 convolutions. Each input plane
//! is copied once into a zero-padded buffer `width` = out_w + (k_w−1)·d_w
//! wide, and outputs are numbered `width` wide too (the columns ≥ out_w
//! are junk, computed and dropped). Then every tap (i, j) reads the padded
//! plane at one fixed shift, so a column-matrix row is one contiguous copy
//! (GEMM path) and a depthwise tap one long axpy, instead of out_h short
//! rows each.

use super::chunked::{add_weight_grad, ChunkScratch};
use super::{Dims, BLOCK_FLOATS};
use crate::ops::gemm::Gemm;
use crate::ops::{vector, ConvGeom};

/// Sizes of the wide-row layout of one plane.
#[derive(Clone, Copy)]
pub(super) struct WideRows {
    pub width: usize,
    /// Padded rows that valid outputs read: out_h + (k_h−1)·d_h.
    height: usize,
    /// Padded buffer length: the junk columns of the last row read up to
    /// (k_w−1)·d_w past height·width.
    pub padded_len: usize,
    /// out_h · width.
    pub out_len: usize,
}

impl WideRows {
    pub fn new(g: &ConvGeom) -> Self {
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
    pub fn tap_offset(&self, g: &ConvGeom, tap: usize) -> usize {
        (tap / g.k_w) * g.dil_h * self.width + (tap % g.k_w) * g.dil_w
    }

    /// padded[r, c] = x[r − pad_top, c − pad_left], zero outside x.
    pub fn pad(&self, g: &ConvGeom, x_plane: &[f32], padded: &mut Vec<f32>) {
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
    pub fn unpad_add(&self, g: &ConvGeom, dpadded: &[f32], dx_plane: &mut [f32]) {
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

/// Columns `start..start + cols` of the wide-row column matrix of `items`
/// items (item after item, `item_cols` columns each).
#[derive(Clone, Copy)]
struct Block {
    items: usize,
    start: usize,
    cols: usize,
}

/// Visit the runs of a block's columns: `f(row, filled, source, run)` for
/// column-matrix row `row` = (c, tap), block columns `filled..filled + run`,
/// which are `padded[source..source + run]` (layout of [`pad_group_items`]).
fn for_each_wide_run(
    g: &ConvGeom,
    d: &Dims,
    rows: &WideRows,
    block: Block,
    mut f: impl FnMut(usize, usize, usize, usize),
) {
    for row in 0..d.col_rows {
        let (c, tap) = (row / d.taps, row % d.taps);
        let offset = rows.tap_offset(g, tap);
        // Column t is item t / item_cols, wide position t % item_cols.
        let mut filled = 0;
        while filled < block.cols {
            let t = block.start + filled;
            let (item, within) = (t / d.item_cols, t % d.item_cols);
            let run = (d.item_cols - within).min(block.cols - filled);
            let source = (c * block.items + item) * rows.padded_len + offset + within;
            f(row, filled, source, run);
            filled += run;
        }
    }
}

/// Build a block of the column matrix (col_rows × block.cols) in `col`.
fn fill_col_block(
    g: &ConvGeom,
    d: &Dims,
    rows: &WideRows,
    block: Block,
    padded: &[f32],
    col: &mut Vec<f32>,
) {
    col.resize(d.col_rows * block.cols, 0.0);
    for_each_wide_run(g, d, rows, block, |row, at, src, run| {
        col[row * block.cols + at..][..run].copy_from_slice(&padded[src..src + run]);
    });
}

/// Wide-row forward of one group over a chunk, into `scratch.out`
/// (O_g × items·item_cols), building the column matrix one column block at
/// a time (see [`BLOCK_FLOATS`]).
pub(super) fn forward_group_wide_blocked<'x>(
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
    let block_len = wide_block_cols(d, columns);
    for start in (0..columns).step_by(block_len) {
        let block = Block {
            items,
            start,
            cols: block_len.min(columns - start),
        };
        fill_col_block(g, d, &rows, block, &scratch.padded, &mut scratch.col);
        Gemm::new(d.out_per_group, block.cols, d.col_rows)
            .ldc(columns)
            .run_with(
                d.isa,
                gemm_threads,
                w_group,
                &scratch.col,
                &mut scratch.out[start..],
            );
    }
}

/// One group's share of a chunk of batch items in backward: `x`, `dy` and
/// `dx` are the whole chunk (every group), `w` and `dw` the group's.
pub(super) struct GroupChunk<'a> {
    pub group: usize,
    pub items: usize,
    pub x: &'a [f32],
    pub w: &'a [f32],
    pub dy: &'a [f32],
    pub dx: Option<&'a mut [f32]>,
    pub dw: Option<&'a mut [f32]>,
}

impl<'a> GroupChunk<'a> {
    /// The group's input channels of each item of the chunk, by item.
    pub fn x_of(&self, g: &'a ConvGeom, d: &'a Dims) -> impl Fn(usize) -> &'a [f32] + 'a {
        let (x, group) = (self.x, self.group);
        move |item| &x[d.x_group(g, item, group)]
    }
}

/// Copy a block of the group's dy into `out` (O_g × block.cols) in the wide
/// layout. Junk columns must be zero: they multiply real taps in the dW
/// product.
fn gather_dy_block(
    g: &ConvGeom,
    d: &Dims,
    group: usize,
    dy: &[f32],
    block: Block,
    out: &mut Vec<f32>,
) {
    let width = WideRows::new(g).width;
    let dy_group_len = d.out_per_group * d.out_plane;
    out.resize(d.out_per_group * block.cols, 0.0);
    for (o, dy_row) in out.chunks_exact_mut(block.cols).enumerate() {
        let mut filled = 0;
        while filled < block.cols {
            let t = block.start + filled;
            let (item, within) = (t / d.item_cols, t % d.item_cols);
            let (oh, ow) = (within / width, within % width);
            let run = (width - ow).min(block.cols - filled);
            let valid = g.out_w.saturating_sub(ow).min(run);
            let dy_plane = &dy[(item * g.groups + group) * dy_group_len + o * d.out_plane..];
            dy_row[filled..filled + valid].copy_from_slice(&dy_plane[oh * g.out_w + ow..][..valid]);
            dy_row[filled + valid..filled + run].fill(0.0);
            filled += run;
        }
    }
}

/// Wide-row backward of one group over a chunk, one column block at a time:
/// the column block and the matching dy block (O_g × block_cols, zero junk
/// columns) are built in cache, dW_g += dy_b · col_bᵀ, and if asked
/// dcol_b = W_gᵀ · dy_b is added back at its taps' shifts into padded
/// gradient planes, whose padding is dropped into dx at the end.
pub(super) fn backward_group_wide_blocked(
    g: &ConvGeom,
    d: &Dims,
    gemm_threads: usize,
    part: GroupChunk,
    scratch: &mut ChunkScratch,
) {
    let x_group_of = part.x_of(g, d);
    let GroupChunk {
        group,
        items,
        w,
        dy,
        dx,
        mut dw,
        ..
    } = part;
    let rows = WideRows::new(g);
    let columns = items * d.item_cols;
    pad_group_items(g, d, &rows, items, &x_group_of, &mut scratch.padded);
    if dx.is_some() {
        scratch.dpadded.clear();
        scratch
            .dpadded
            .resize(d.in_per_group * items * rows.padded_len, 0.0);
    }
    let block_len = wide_block_cols(d, columns);
    for start in (0..columns).step_by(block_len) {
        let block = Block {
            items,
            start,
            cols: block_len.min(columns - start),
        };
        fill_col_block(g, d, &rows, block, &scratch.padded, &mut scratch.col);
        gather_dy_block(g, d, group, dy, block, &mut scratch.out);
        if let Some(dw) = dw.as_deref_mut() {
            add_weight_grad(d, gemm_threads, block.cols, &scratch.out, &scratch.col, dw);
        }
        if dx.is_none() {
            continue;
        }
        // dcol_b (col_rows × block_cols) = W_gᵀ · dy_b; its junk columns are
        // zero because dy_b's are.
        scratch.dcol.resize(d.col_rows * block.cols, 0.0);
        Gemm::new(d.col_rows, block.cols, d.out_per_group)
            .a_transposed()
            .run_with(d.isa, gemm_threads, w, &scratch.out, &mut scratch.dcol);
        let (dcol, dpadded) = (&scratch.dcol, &mut scratch.dpadded);
        for_each_wide_run(g, d, &rows, block, |row, at, dst, run| {
            let source = &dcol[row * block.cols + at..][..run];
            vector::axpy(d.isa, &mut dpadded[dst..dst + run], source, 1.0);
        });
    }
    if let Some(dx) = dx {
        for item in 0..items {
            let dx_group = &mut dx[d.x_group(g, item, group)];
            for (c, dx_channel) in dx_group.chunks_exact_mut(d.in_plane).enumerate() {
                let source = &scratch.dpadded[(c * items + item) * rows.padded_len..];
                rows.unpad_add(g, &source[..rows.padded_len], dx_channel);
            }
        }
    }
}

//! The batch-stacked column matrix, for small output planes (ResNet's 7×7
//! and 4×4 stages) and strided input gradients: the whole batch in one matrix
//! product per group, so the weights are read once per call instead of
//! once per item, and no column is junk.
//!
//! x is first copied into a zero-padded buffer with the batch innermost,
//! `xpad[c][r][q][n]`. Column t of the column matrix is output position
//! (oh, ow) of item n, numbered t = (oh·out_w + ow)·N + n, so for stride
//! 1 a column-matrix row over one output row is one contiguous run of
//! out_w·N floats of `xpad` (N floats per output column for larger
//! strides). Then
//!
//!   forward  y_g  = W_g · col,
//!   dW_g    += dyᵀ_g · colᵀ,
//!   dx      += col2im(W_gᵀ · dyᵀ_g),
//!
//! with dyᵀ_g the gradient in the same column order. The column matrix is
//! built a block of output rows at a time, each block at most
//! [`BLOCK_FLOATS`] floats.

use super::{Dims, Write, PARALLEL_MIN_FLOPS};
use crate::ops::gemm::Gemm;
use crate::ops::ConvGeom;
use rayon::prelude::*;
use std::cell::RefCell;
use std::ops::Range;

/// Largest column block, 4 MB: the 7×7 planes of ResNet-18 at batch 8
/// (3×3 kernels) fit in one block up to 256 input channels (not tuned).
const BLOCK_FLOATS: usize = 1 << 20;

/// Floats below which a copy pass stays on the calling thread.
const PARALLEL_MIN_FLOATS: usize = 1 << 16;

/// Output planes at most this large go through this path: 7×7. Measured
/// (process CPU time, binaries interleaved, BENCHMARKS.md): stacking the
/// 7×7 and 4×4 planes made a ResNet-18 training step 0.6× and a forward
/// 0.53× as long; also stacking 14×14 (conv-f) and 10×10 (LeNet's c3)
/// planes made those 1.55× and 2.7× slower than the implicit and chunked
/// paths, and ResNet-18 7–13% slower than stacking 7×7 only.
pub const SMALL_PLANE: usize = 7 * 7;

thread_local! {
    /// Scratch of the calling thread, reused from call to call: fresh
    /// multi-megabyte buffers cost page faults on every convolution.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Run `f` with this thread's scratch, or a fresh one if it is in use (a
/// rayon worker that stole another convolution while this one waits).
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => f(&mut scratch),
        Err(_) => f(&mut Scratch::default()),
    })
}

#[derive(Default)]
struct Scratch {
    /// x (or dx) padded, batch innermost.
    xpad: Vec<f32>,
    dxpad: Vec<f32>,
    col: Vec<f32>,
    dcol: Vec<f32>,
    /// Forward: one group's output, O_g × N·P. Backward: a block of dyᵀ.
    out: Vec<f32>,
}

/// Threads of the matrix products: all of them once the convolution is
/// big enough, whatever the batch (one GEMM spans the whole batch).
fn gemm_threads(g: &ConvGeom, d: &Dims) -> usize {
    if d.flops(g) >= PARALLEL_MIN_FLOPS {
        rayon::current_num_threads()
    } else {
        1
    }
}

/// Sizes of the padded, batch-innermost copy of x.
#[derive(Clone, Copy)]
struct Layout {
    batch: usize,
    /// Padded rows and columns that valid outputs read.
    rows: usize,
    width: usize,
    /// Output positions per item.
    plane: usize,
}

impl Layout {
    fn new(g: &ConvGeom) -> Self {
        Layout {
            batch: g.batch,
            rows: (g.out_h - 1) * g.stride_h + (g.k_h - 1) * g.dil_h + 1,
            width: (g.out_w - 1) * g.stride_w + (g.k_w - 1) * g.dil_w + 1,
            plane: g.out_h * g.out_w,
        }
    }

    fn len(&self, channels: usize) -> usize {
        channels * self.rows * self.width * self.batch
    }

    /// Output rows per column block for a column matrix `depth` rows deep.
    fn block_rows(&self, g: &ConvGeom, depth: usize) -> usize {
        let row_cols = g.out_w * self.batch;
        (BLOCK_FLOATS / (depth * row_cols).max(1)).clamp(1, g.out_h)
    }

    /// The input pixels the padded buffer holds, per axis: (input range,
    /// first padded index).
    fn inside(&self, g: &ConvGeom) -> [(Range<usize>, usize); 2] {
        let fit = |input: usize, pad: usize, extent: usize| {
            (0..input.min(extent.saturating_sub(pad)), pad)
        };
        let [h, w] = [
            fit(g.in_h, g.pad_top, self.rows),
            fit(g.in_w, g.pad_left, self.width),
        ];
        if h.0.is_empty() || w.0.is_empty() {
            // No input value is read (the padding can be wider than the
            // padded plane): nothing to copy, and the offsets may lie outside it.
            return [(0..0, h.1), (0..0, w.1)];
        }
        [h, w]
    }
}

/// xpad[c][r][q][n] = x[n][c][r − pad_top][q − pad_left], zero outside x.
fn pad_input(g: &ConvGeom, l: &Layout, x: &[f32], xpad: &mut Vec<f32>) {
    xpad.clear();
    xpad.resize(l.len(g.in_ch), 0.0);
    let [(rows, top), (cols, left)] = l.inside(g);
    let (n_items, in_plane) = (l.batch, g.in_h * g.in_w);
    let channel = |(c, dst): (usize, &mut [f32])| {
        for ih in rows.clone() {
            let dst_row = &mut dst[((ih + top) * l.width + left) * n_items..];
            for n in 0..n_items {
                let src = &x[(n * g.in_ch + c) * in_plane + ih * g.in_w..][cols.clone()];
                for (iw, &v) in src.iter().enumerate() {
                    dst_row[iw * n_items + n] = v;
                }
            }
        }
    };
    let per_channel = l.rows * l.width * n_items;
    if xpad.len() >= PARALLEL_MIN_FLOATS && rayon::current_num_threads() > 1 {
        xpad.par_chunks_mut(per_channel)
            .enumerate()
            .for_each(channel);
    } else {
        xpad.chunks_mut(per_channel).enumerate().for_each(channel);
    }
}

/// Adjoint of [`pad_input`]: dx[n][c][ih][iw] += dxpad[c][ih + pad_top][iw + pad_left][n].
fn unpad_add(g: &ConvGeom, l: &Layout, dxpad: &[f32], dx: &mut [f32]) {
    let [(rows, top), (cols, left)] = l.inside(g);
    let (n_items, in_plane) = (l.batch, g.in_h * g.in_w);
    let per_channel = l.rows * l.width * n_items;
    let plane = |(plane, dx_plane): (usize, &mut [f32])| {
        let (n, c) = (plane / g.in_ch, plane % g.in_ch);
        let src = &dxpad[c * per_channel..][..per_channel];
        for ih in rows.clone() {
            let src_row = &src[((ih + top) * l.width + left) * n_items..];
            let dst = &mut dx_plane[ih * g.in_w..][cols.clone()];
            for (iw, d) in dst.iter_mut().enumerate() {
                *d += src_row[iw * n_items + n];
            }
        }
    };
    let parallel = dx.len() >= PARALLEL_MIN_FLOATS && rayon::current_num_threads() > 1;
    crate::ops::for_each_chunk(&mut dx[..], in_plane, parallel, plane);
}

/// Visit the runs of the column block over output rows `oh_range` of group
/// `group`: `f(row, at, source, len)` for column-matrix row `row` =
/// (c, i, j), block columns `at..at + len`, which are
/// `xpad[source..source + len]`. Rows come in order, each exactly covered.
fn for_each_run(
    g: &ConvGeom,
    d: &Dims,
    l: &Layout,
    group: usize,
    rows: Range<usize>,
    oh_range: Range<usize>,
    mut f: impl FnMut(usize, usize, usize, usize),
) {
    let n_items = l.batch;
    let row_cols = g.out_w * n_items;
    for row in rows {
        let c = group * d.in_per_group + row / d.taps;
        let (i, j) = ((row % d.taps) / g.k_w, row % g.k_w);
        for (b, oh) in oh_range.clone().enumerate() {
            let r = oh * g.stride_h + i * g.dil_h;
            let start = ((c * l.rows + r) * l.width + j * g.dil_w) * n_items;
            if g.stride_w == 1 {
                f(row, b * row_cols, start, row_cols);
            } else {
                for ow in 0..g.out_w {
                    let source = start + ow * g.stride_w * n_items;
                    f(row, b * row_cols + ow * n_items, source, n_items);
                }
            }
        }
    }
}

/// Column-matrix rows per parallel task of im2col / col2im: whole input
/// channels, so col2im's tasks never add into the same padded plane.
fn rows_per_task(d: &Dims, block_cols: usize) -> usize {
    let channels = (PARALLEL_MIN_FLOATS / (d.taps * block_cols).max(1)).max(1);
    channels * d.taps
}

/// col (col_rows × block_cols) = the column block over `oh_range`.
fn im2col(
    g: &ConvGeom,
    d: &Dims,
    l: &Layout,
    group: usize,
    oh_range: Range<usize>,
    xpad: &[f32],
    col: &mut Vec<f32>,
) {
    let block_cols = oh_range.len() * g.out_w * l.batch;
    col.resize(d.col_rows * block_cols, 0.0);
    let task_rows = rows_per_task(d, block_cols);
    let fill = |(task, part): (usize, &mut [f32])| {
        let first = task * task_rows;
        let rows = first..first + part.len() / block_cols;
        for_each_run(
            g,
            d,
            l,
            group,
            rows,
            oh_range.clone(),
            |row, at, src, len| {
                part[(row - first) * block_cols + at..][..len]
                    .copy_from_slice(&xpad[src..src + len]);
            },
        );
    };
    let chunk = task_rows * block_cols;
    let parallel = d.threads > 1 && col.len() > chunk;
    crate::ops::for_each_chunk(&mut col[..], chunk, parallel, fill);
}

/// Adjoint of [`im2col`]: dxpad += the column block's gradient `dcol`.
fn col2im(
    g: &ConvGeom,
    d: &Dims,
    l: &Layout,
    group: usize,
    oh_range: Range<usize>,
    dcol: &[f32],
    dxpad: &mut [f32],
) {
    let block_cols = oh_range.len() * g.out_w * l.batch;
    let per_channel = l.rows * l.width * l.batch;
    let first_channel = group * d.in_per_group;
    let group_pad = &mut dxpad[first_channel * per_channel..][..d.in_per_group * per_channel];
    let task_rows = rows_per_task(d, block_cols);
    let task_channels = task_rows / d.taps;
    let add = |(task, part): (usize, &mut [f32])| {
        let first = task * task_rows;
        let rows = first..(first + task_rows).min(d.col_rows);
        // Sources in `for_each_run` count from the group's first channel.
        let base = (first_channel + task * task_channels) * per_channel;
        for_each_run(
            g,
            d,
            l,
            group,
            rows,
            oh_range.clone(),
            |row, at, dst, len| {
                let src = &dcol[row * block_cols + at..][..len];
                let dst = &mut part[dst - base..][..len];
                dst.iter_mut().zip(src).for_each(|(a, &v)| *a += v);
            },
        );
    };
    let chunk = task_channels * per_channel;
    let parallel = d.threads > 1 && group_pad.len() > chunk;
    crate::ops::for_each_chunk(&mut group_pad[..], chunk, parallel, add);
}

/// Output rows per column block (tests check that blocks split).
#[cfg(test)]
pub fn block_rows_for(g: &ConvGeom, d: &Dims) -> usize {
    Layout::new(g).block_rows(g, d.col_rows)
}

/// Forward: y (batch × out_ch × out_h × out_w) = conv(x) (+ bias), or
/// y += it.
pub fn forward(
    g: &ConvGeom,
    d: &Dims,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
    write: Write,
) {
    if g.batch * g.out_h * g.out_w == 0 {
        return;
    }
    let l = Layout::new(g);
    let columns = l.plane * l.batch;
    let block_rows = l.block_rows(g, d.col_rows);
    let threads = gemm_threads(g, d);
    with_scratch(|s| {
        pad_input(g, &l, x, &mut s.xpad);
        for group in 0..g.groups {
            let w_group =
                &weight[group * d.out_per_group * d.col_rows..][..d.out_per_group * d.col_rows];
            s.out.resize(d.out_per_group * columns, 0.0);
            for oh0 in (0..g.out_h).step_by(block_rows) {
                let oh_range = oh0..(oh0 + block_rows).min(g.out_h);
                let first_col = oh0 * g.out_w * l.batch;
                im2col(g, d, &l, group, oh_range.clone(), &s.xpad, &mut s.col);
                let block_cols = s.col.len() / d.col_rows;
                Gemm::new(d.out_per_group, block_cols, d.col_rows)
                    .ldc(columns)
                    .run_with(d.isa, threads, w_group, &s.col, &mut s.out[first_col..]);
            }
            scatter_output(g, d, &l, group, &s.out, bias, y, write);
        }
    });
}

/// y[n][group·O_g + o][pos] (=|+=) out[o][pos·N + n] (+ bias).
#[allow(clippy::too_many_arguments)]
fn scatter_output(
    g: &ConvGeom,
    d: &Dims,
    l: &Layout,
    group: usize,
    out: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
    write: Write,
) {
    let columns = l.plane * l.batch;
    let plane = |(plane, y_plane): (usize, &mut [f32])| {
        let (n, o) = (plane / g.out_ch, plane % g.out_ch);
        if o / d.out_per_group != group {
            return;
        }
        let b = bias.map_or(0.0, |b| b[o]);
        let src = &out[(o % d.out_per_group) * columns + n..];
        if let Write::Epilogue(e) = write {
            let residual = e.residual_at(plane * l.plane, l.plane);
            let values = src.iter().step_by(l.batch).map(|&v| v + b);
            return e.write(o, values, residual, y_plane);
        }
        let values = y_plane.iter_mut().zip(src.iter().step_by(l.batch));
        match write {
            Write::Overwrite => values.for_each(|(y, &v)| *y = v + b),
            Write::Accumulate => values.for_each(|(y, &v)| *y += v + b),
            Write::Epilogue(_) => unreachable!("written just above"),
        }
    };
    let parallel = y.len() >= PARALLEL_MIN_FLOATS && d.threads > 1;
    crate::ops::for_each_chunk(&mut y[..], l.plane, parallel, plane);
}

/// dyᵀ of one group over output rows `oh_range`: out[o][(pos − first)·N + n]
/// = dy[n][group·O_g + o][pos].
fn gather_dy(
    g: &ConvGeom,
    d: &Dims,
    l: &Layout,
    group: usize,
    oh_range: Range<usize>,
    dy: &[f32],
    out: &mut Vec<f32>,
) {
    let positions = oh_range.start * g.out_w..oh_range.end * g.out_w;
    let block_cols = positions.len() * l.batch;
    out.resize(d.out_per_group * block_cols, 0.0);
    for (o, row) in out.chunks_exact_mut(block_cols).enumerate() {
        let channel = group * d.out_per_group + o;
        for n in 0..l.batch {
            let src = &dy[(n * g.out_ch + channel) * l.plane..][positions.clone()];
            for (slot, &v) in row[n..].iter_mut().step_by(l.batch).zip(src) {
                *slot = v;
            }
        }
    }
}

/// Backward: dW += dyᵀ·colᵀ and dx += col2im(Wᵀ·dyᵀ), each when given
/// (db elsewhere).
pub fn backward(
    g: &ConvGeom,
    d: &Dims,
    x: &[f32],
    weight: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    mut dweight: Option<&mut [f32]>,
) {
    if g.batch * g.out_h * g.out_w == 0 {
        return;
    }
    let l = Layout::new(g);
    let block_rows = l.block_rows(g, d.col_rows);
    let w_len = d.out_per_group * d.col_rows;
    let threads = gemm_threads(g, d);
    with_scratch(|s| {
        if dweight.is_some() {
            pad_input(g, &l, x, &mut s.xpad);
        }
        if dx.is_some() {
            s.dxpad.clear();
            s.dxpad.resize(l.len(g.in_ch), 0.0);
        }
        for group in 0..g.groups {
            let w_group = &weight[group * w_len..][..w_len];
            let mut dw_group = dweight
                .as_deref_mut()
                .map(|dw| &mut dw[group * w_len..][..w_len]);
            for oh0 in (0..g.out_h).step_by(block_rows) {
                let oh_range = oh0..(oh0 + block_rows).min(g.out_h);
                let block_cols = oh_range.len() * g.out_w * l.batch;
                gather_dy(g, d, &l, group, oh_range.clone(), dy, &mut s.out);
                if let Some(dw_group) = dw_group.as_deref_mut() {
                    im2col(g, d, &l, group, oh_range.clone(), &s.xpad, &mut s.col);
                    Gemm::new(d.out_per_group, d.col_rows, block_cols)
                        .b_transposed()
                        .accumulate()
                        .run_with(d.isa, threads, &s.out, &s.col, dw_group);
                }
                if dx.is_none() {
                    continue;
                }
                s.dcol.resize(d.col_rows * block_cols, 0.0);
                Gemm::new(d.col_rows, block_cols, d.out_per_group)
                    .a_transposed()
                    .run_with(d.isa, threads, w_group, &s.out, &mut s.dcol);
                col2im(g, d, &l, group, oh_range, &s.dcol, &mut s.dxpad);
            }
        }
        if let Some(dx) = dx {
            unpad_add(g, &l, &s.dxpad, dx);
        }
    });
}

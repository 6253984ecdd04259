//! The GEMM path over chunks of the batch: each chunk's items share one
//! column matrix per group (x itself for pointwise convolutions, wide rows
//! for stride 1, im2col otherwise), multiplied by the group's weights.

use super::im2col::{backward_group_rows_blocked, col2im, im2col, GroupItem};
use super::wide::{backward_group_wide_blocked, forward_group_wide_blocked, GroupChunk};
use super::{parallel_sum, Dims, PARALLEL_MIN_FLOPS};
use crate::ops::gemm::Gemm;
use crate::ops::ConvGeom;
use rayon::prelude::*;

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

/// Scratch buffers of one GEMM-path worker, reused across its chunks.
#[derive(Default)]
pub(super) struct ChunkScratch {
    pub col: Vec<f32>,
    /// Forward output or gathered dy, O_g × items·P.
    pub out: Vec<f32>,
    pub dcol: Vec<f32>,
    /// Zero-padded channels (wide-row layout).
    pub padded: Vec<f32>,
    /// Gradient of `padded`.
    pub dpadded: Vec<f32>,
}

/// dW_g (O_g × col_rows) += dy (O_g × columns) · colᵀ (columns × col_rows).
pub(super) fn add_weight_grad(
    d: &Dims,
    gemm_threads: usize,
    columns: usize,
    dy: &[f32],
    col: &[f32],
    dw_group: &mut [f32],
) {
    Gemm::new(d.out_per_group, d.col_rows, columns)
        .b_transposed()
        .accumulate()
        .run_with(d.isa, gemm_threads, dy, col, dw_group);
}

/// Forward without bias: y is overwritten, chunk by chunk.
pub(super) fn forward(g: &ConvGeom, d: &Dims, x: &[f32], weight: &[f32], y: &mut [f32]) {
    let plan = ChunkPlan::new(g, d);
    let in_chunk = plan.items * g.in_ch * d.in_plane;
    let out_chunk = plan.items * g.out_ch * d.out_plane;
    let run = |scratch: &mut ChunkScratch, (y_chunk, x_chunk): (&mut [f32], &[f32])| {
        forward_chunk(g, d, plan.gemm_threads, x_chunk, weight, y_chunk, scratch)
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

/// Forward of a chunk of consecutive batch items, group by group.
fn forward_chunk(
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
    let y_group_len = d.out_per_group * d.out_plane;
    for group in 0..g.groups {
        let w_group =
            &weight[group * d.out_per_group * d.col_rows..][..d.out_per_group * d.col_rows];
        let x_group_of = |item: usize| &x_chunk[d.x_group(g, item, group)];
        if d.wide {
            forward_group_wide_blocked(g, d, gemm_threads, items, &x_group_of, w_group, scratch);
            scatter_items(g, d, items, group, &scratch.out, y_chunk);
            continue;
        }
        let col_matrix = column_matrix(g, d, items, &x_group_of, &mut scratch.col);
        let product = Gemm::new(d.out_per_group, columns, d.col_rows);
        if items == 1 {
            let y_group = &mut y_chunk[group * y_group_len..][..y_group_len];
            product.run_with(d.isa, gemm_threads, w_group, col_matrix, y_group);
            continue;
        }
        // out (O_g × items·P), then each item's rows go to their NCHW place.
        scratch.out.resize(d.out_per_group * columns, 0.0);
        product.run_with(d.isa, gemm_threads, w_group, col_matrix, &mut scratch.out);
        scatter_items(g, d, items, group, &scratch.out, y_chunk);
    }
}

/// The column matrix of one group over `items` items side by side
/// (col_rows × items·item_cols, not wide): x itself for one pointwise item,
/// else built by im2col in `col`.
fn column_matrix<'a>(
    g: &ConvGeom,
    d: &Dims,
    items: usize,
    x_group_of: &dyn Fn(usize) -> &'a [f32],
    col: &'a mut Vec<f32>,
) -> &'a [f32] {
    if d.pointwise && items == 1 {
        return x_group_of(0);
    }
    let columns = items * d.item_cols;
    col.resize(d.col_rows * columns, 0.0);
    for item in 0..items {
        let first_col = item * d.item_cols;
        im2col(g, d, x_group_of(item), col, columns, first_col, 0..g.out_h);
    }
    col
}

/// Copy the output rows of each item (O_g × items·item_cols, each item's
/// block `item_cols` wide: out_h rows of `item_cols / out_h`, of which the
/// first out_w are valid) to their NCHW place in `y_chunk`.
fn scatter_items(
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
            if width == g.out_w {
                y_plane.copy_from_slice(out_item);
                continue;
            }
            for (y_row, wide_row) in y_plane
                .chunks_exact_mut(g.out_w)
                .zip(out_item.chunks(width))
            {
                y_row.copy_from_slice(&wide_row[..g.out_w]);
            }
        }
    }
}

/// Backward through the GEMM path: dx += col2im(Wᵀ·dy) when `dx` is given,
/// dW += dy·colᵀ when `dweight` is.
pub(super) fn backward(
    g: &ConvGeom,
    d: &Dims,
    x: &[f32],
    weight: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    mut dweight: Option<&mut [f32]>,
) {
    let plan = ChunkPlan::new(g, d);
    let in_chunk = plan.items * g.in_ch * d.in_plane;
    let out_chunk = plan.items * g.out_ch * d.out_plane;
    let chunks = g.batch.div_ceil(plan.items);
    let dx_chunks: Vec<Option<&mut [f32]>> = match dx {
        Some(dx) => dx.chunks_mut(in_chunk).map(Some).collect(),
        None => (0..chunks).map(|_| None).collect(),
    };
    type Item<'a> = ((Option<&'a mut [f32]>, &'a [f32]), &'a [f32]);
    let run = |threads: usize, dw: Option<&mut [f32]>, scratch: &mut ChunkScratch, item: Item| {
        let ((dx, x), dy) = item;
        let chunk = Chunk { x, dy, dx, dw };
        backward_chunk(g, d, threads, weight, chunk, scratch);
    };
    if plan.workers == 1 {
        let mut scratch = ChunkScratch::default();
        let items = dx_chunks.into_iter().zip(x.chunks(in_chunk));
        for item in items.zip(dy.chunks(out_chunk)) {
            run(
                plan.gemm_threads,
                dweight.as_deref_mut(),
                &mut scratch,
                item,
            );
        }
        return;
    }
    let items = dx_chunks
        .into_par_iter()
        .zip(x.par_chunks(in_chunk))
        .zip(dy.par_chunks(out_chunk))
        .with_min_len(chunks.div_ceil(plan.workers));
    let Some(dweight) = dweight else {
        // dx alone: chunks write disjoint memory.
        items.for_each_init(ChunkScratch::default, |scratch, item| {
            run(1, None, scratch, item)
        });
        return;
    };
    // Each worker sums its chunks' dW privately; the sums are added at the end.
    let partial = parallel_sum(items, weight.len(), |dw, scratch, item| {
        run(1, Some(dw), scratch, item)
    });
    if let Some(partial) = partial {
        dweight.iter_mut().zip(&partial).for_each(|(w, p)| *w += p);
    }
}

/// A chunk of consecutive batch items (all groups) in backward; `dw` is
/// the whole weight gradient.
struct Chunk<'a> {
    x: &'a [f32],
    dy: &'a [f32],
    dx: Option<&'a mut [f32]>,
    dw: Option<&'a mut [f32]>,
}

/// Backward of one chunk, group by group, through the layout `d` chose.
fn backward_chunk(
    g: &ConvGeom,
    d: &Dims,
    gemm_threads: usize,
    weight: &[f32],
    chunk: Chunk,
    scratch: &mut ChunkScratch,
) {
    let Chunk {
        x,
        dy,
        mut dx,
        mut dw,
    } = chunk;
    let items = dy.len() / (g.out_ch * d.out_plane);
    let w_group_len = d.out_per_group * d.col_rows;
    let dy_group_len = d.out_per_group * d.out_plane;
    for group in 0..g.groups {
        let w = &weight[group * w_group_len..][..w_group_len];
        let dw = dw
            .as_deref_mut()
            .map(|dw| &mut dw[group * w_group_len..][..w_group_len]);
        if d.wide {
            let dx = dx.as_deref_mut();
            let part = GroupChunk {
                group,
                items,
                x,
                w,
                dy,
                dx,
                dw,
            };
            backward_group_wide_blocked(g, d, gemm_threads, part, scratch);
        } else if items == 1 && !d.pointwise {
            let item = GroupItem {
                x: &x[d.x_group(g, 0, group)],
                w,
                dy: &dy[group * dy_group_len..][..dy_group_len],
                dx: dx.as_deref_mut().map(|dx| &mut dx[d.x_group(g, 0, group)]),
                dw,
            };
            backward_group_rows_blocked(g, d, gemm_threads, item, scratch);
        } else {
            let dx = dx.as_deref_mut();
            let part = GroupChunk {
                group,
                items,
                x,
                w,
                dy,
                dx,
                dw,
            };
            backward_group_stacked(g, d, gemm_threads, part, scratch);
        }
    }
}

/// Backward of one group over a chunk whose items stand side by side in
/// one column matrix (or, pointwise with one item, x itself):
/// dW_g += dy_g · colᵀ, then dcol = W_gᵀ · dy_g scattered into dx.
fn backward_group_stacked(
    g: &ConvGeom,
    d: &Dims,
    gemm_threads: usize,
    part: GroupChunk,
    scratch: &mut ChunkScratch,
) {
    let x_group_of = part.x_of(g, d);
    let (group, items, w, dy) = (part.group, part.items, part.w, part.dy);
    let (dx, dw) = (part.dx, part.dw);
    let columns = items * d.item_cols;
    let dy_group_len = d.out_per_group * d.out_plane;
    let col_matrix = column_matrix(g, d, items, &x_group_of, &mut scratch.col);
    // dy_g as one O_g × items·P matrix.
    let dy_matrix: &[f32] = if items == 1 {
        &dy[group * dy_group_len..][..dy_group_len]
    } else {
        scratch.out.resize(d.out_per_group * columns, 0.0);
        for item in 0..items {
            let dy_group = &dy[(item * g.groups + group) * dy_group_len..][..dy_group_len];
            for (o, dy_plane) in dy_group.chunks_exact(d.out_plane).enumerate() {
                scratch.out[o * columns + item * d.item_cols..][..d.item_cols]
                    .copy_from_slice(dy_plane);
            }
        }
        &scratch.out
    };
    if let Some(dw) = dw {
        add_weight_grad(d, gemm_threads, columns, dy_matrix, col_matrix, dw);
    }
    let Some(dx) = dx else { return };
    // dcol (col_rows × items·P) = W_gᵀ (col_rows × O_g) · dy_g (O_g × items·P)
    let product = Gemm::new(d.col_rows, columns, d.out_per_group).a_transposed();
    if d.pointwise && items == 1 {
        let dx_group = &mut dx[d.x_group(g, 0, group)];
        product
            .accumulate()
            .run_with(d.isa, gemm_threads, w, dy_matrix, dx_group);
        return;
    }
    scratch.dcol.resize(d.col_rows * columns, 0.0);
    product.run_with(d.isa, gemm_threads, w, dy_matrix, &mut scratch.dcol);
    for item in 0..items {
        let dx_group = &mut dx[d.x_group(g, item, group)];
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

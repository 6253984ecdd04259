//! 2-D convolution over NCHW data (cross-correlation, as PyTorch's Conv2d).
//!
//! y[n, o, oh, ow] = b[o] + Σ_{c, i, j} w[o, c, i, j] · x[n, g·C_g + c, ih, iw]
//!   with ih = oh·s_h − pad_top + i·d_h, iw = ow·s_w − pad_left + j·d_w,
//!   g = o / O_g the group of output channel o, and taps outside x reading 0.
//!
//! The general path lowers each (batch item, group) to one matrix product
//! with a column matrix col[(c, i, j), (oh, ow)] so that y_g = W_g · col.
//! Backward: dW_g += dy_g · colᵀ,  dcol = W_gᵀ · dy_g scattered into dx,
//! db[o] += Σ_{n, oh, ow} dy[n, o, oh, ow].
//!
//! Which path runs (the kernel family comes from `ops::isa`):
//! - `stacked`: every output plane of at most `stacked::SMALL_PLANE`
//!   positions (ResNet's 7×7 and 4×4 stages), except
//!   grouped depthwise: the whole batch in one column matrix per group.
//! - `implicit`: on the avx512 family, the forward pass and the weight
//!   gradient of every larger non-depthwise convolution whose batch feeds
//!   every thread: the GEMM reads a phase-split copy of x, no column
//!   matrix. Its input gradient, for stride 1, is the forward of the
//!   transposed convolution (`transposed`), added into dx; for larger
//!   strides it goes through `stacked`.
//! - `depthwise`: one input channel per group, direct kernels.
//! - `chunked`: everything else: chunks of the batch through GEMM, the
//!   column matrix being x itself (pointwise), wide rows (`wide`,
//!   stride 1) or im2col (`im2col`).

use super::isa::{self, Isa};
use super::{vector, Axis, ConvGeom};
use rayon::prelude::*;

pub use epilogue::Epilogue;

mod chunked;
mod depthwise;
mod epilogue;
mod im2col;
mod stacked;
mod wide;

#[cfg(target_arch = "x86_64")]
mod implicit;
#[cfg(not(target_arch = "x86_64"))]
mod implicit {
    //! Stand-ins off x86-64, where no `Isa` has the avx512 family.
    use crate::ops::isa::Isa;
    use crate::ops::ConvGeom;
    pub fn suits(_: &ConvGeom, _: Isa, _: usize) -> bool {
        false
    }
    pub fn forward(
        _: &ConvGeom,
        _: Isa,
        _: &[f32],
        _: &[f32],
        _: &mut [f32],
        _: usize,
        _: super::Write,
    ) {
        unreachable!("implicit::suits is false off x86-64")
    }
    pub fn weight_grad(_: &ConvGeom, _: Isa, _: &[f32], _: &[f32], _: &mut [f32], _: usize) {
        unreachable!("implicit::suits is false off x86-64")
    }
}

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;

/// Total multiply-adds below which a convolution runs on the calling thread.
const PARALLEL_MIN_FLOPS: usize = 1 << 20;

/// Elements below which the bias passes stay on the calling thread.
const PARALLEL_MIN_ELEMENTS: usize = 1 << 16;

/// Column floats per block of the blocked column matrices: a block of about
/// 1 MB is still in cache when the GEMM packs it, where a whole column
/// matrix (7 MB for conv-c) would go out to memory and back.
const BLOCK_FLOATS: usize = 1 << 18;

/// Rotate each k_h×k_w kernel of a weight shaped as `g` says by 180°
/// (w'[o, c, i, j] = w[o, c, k_h−1−i, k_w−1−j]), turning cross-correlation
/// into true convolution.
pub fn flip_kernel(g: &ConvGeom, weight: &[f32]) -> Vec<f32> {
    let len = g.weight_shape().iter().product::<usize>();
    assert_eq!(weight.len(), len, "flip_kernel: weight length");
    flip_taps(weight, g.k_h * g.k_w)
}

/// Reverse each run of `taps` values (one k_h×k_w kernel, row-major): the
/// 180° rotation of [`flip_kernel`] for a weight whose geometry is not at hand.
pub fn flip_taps(weight: &[f32], taps: usize) -> Vec<f32> {
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

/// Derived sizes and choices shared by the forward and backward passes of
/// one call: the kernel family, the threads over the batch, the layout.
#[derive(Clone, Copy)]
struct Dims {
    isa: Isa,
    /// Threads over the batch (1 = stay on this thread).
    threads: usize,
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
    /// Stride-1 GEMM path using wide rows (see `wide`): each column-matrix
    /// row is one contiguous copy instead of out_h short ones, at the price
    /// of computing (k_w−1)·d_w junk columns per output row.
    wide: bool,
    /// Columns one batch item takes in the column matrix.
    item_cols: usize,
}

impl Dims {
    /// Where group `group` of batch item `item` (counted from the start of
    /// the slice) lies in input-shaped data (x or dx).
    fn x_group(&self, g: &ConvGeom, item: usize, group: usize) -> std::ops::Range<usize> {
        let len = self.in_per_group * self.in_plane;
        let start = (item * g.groups + group) * len;
        start..start + len
    }

    fn new(g: &ConvGeom, isa: Isa) -> Self {
        let in_per_group = g.in_ch / g.groups;
        let taps = g.k_h * g.k_w;
        let pointwise = g.k_h == 1
            && g.k_w == 1
            && g.stride_h == 1
            && g.stride_w == 1
            && g.pad_top == 0
            && g.pad_left == 0
            && g.out_h == g.in_h
            && g.out_w == g.in_w;
        let depthwise = in_per_group == 1 && taps > 1;
        // Wide rows for stride 1 when the junk columns add at most half.
        let width = g.out_w + (g.k_w - 1) * g.dil_w;
        let wide = g.stride_h == 1
            && g.stride_w == 1
            && !pointwise
            && !depthwise
            && 2 * width <= 3 * g.out_w;
        let mut d = Dims {
            isa,
            threads: 1,
            in_per_group,
            out_per_group: g.out_ch / g.groups,
            in_plane: g.in_h * g.in_w,
            out_plane: g.out_h * g.out_w,
            taps,
            col_rows: in_per_group * taps,
            pointwise,
            depthwise,
            wide,
            item_cols: g.out_h * if wide { width } else { g.out_w },
        };
        let threads = rayon::current_num_threads();
        if threads > 1 && g.batch > 1 && d.flops(g) >= PARALLEL_MIN_FLOPS {
            d.threads = threads;
        }
        d
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

/// Σ over `items` of what `add` accumulates into a zeroed buffer of `len`
/// floats: each rayon task sums into its own buffer (with its own scratch
/// `S`) and the buffers are added at the end, so no two threads write the
/// same memory. `None` when there are no items.
fn parallel_sum<T: Send, S: Default + Send>(
    items: impl IndexedParallelIterator<Item = T>,
    len: usize,
    add: impl Fn(&mut [f32], &mut S, T) + Sync + Send,
) -> Option<Vec<f32>> {
    items
        .fold(
            || (vec![0.0f32; len], S::default()),
            |(mut sum, mut scratch), item| {
                add(&mut sum, &mut scratch, item);
                (sum, scratch)
            },
        )
        .map(|(sum, _)| sum)
        .reduce_with(|mut sum, part| {
            sum.iter_mut().zip(&part).for_each(|(s, p)| *s += p);
            sum
        })
}

fn add_bias(g: &ConvGeom, d: &Dims, bias: Option<&[f32]>, y: &mut [f32]) {
    let Some(bias) = bias else { return };
    assert_eq!(bias.len(), g.out_ch, "conv2d: bias length");
    if d.out_plane == 0 {
        return;
    }
    let add = |(plane, y_plane): (usize, &mut [f32])| {
        vector::add_scalar(d.isa, y_plane, bias[plane % g.out_ch])
    };
    let parallel = y.len() >= PARALLEL_MIN_ELEMENTS && rayon::current_num_threads() > 1;
    crate::ops::for_each_chunk(&mut y[..], d.out_plane, parallel, add);
}

/// db[o] += Σ_{n, oh, ow} dy[n, o, oh, ow]
fn accumulate_dbias(g: &ConvGeom, d: &Dims, dy: &[f32], dbias: &mut [f32]) {
    assert_eq!(dbias.len(), g.out_ch, "conv2d: dbias length");
    if d.out_plane == 0 {
        return;
    }
    let sum = |plane: &[f32]| vector::sum(d.isa, plane);
    let plane_sums: Vec<f32> =
        if dy.len() >= PARALLEL_MIN_ELEMENTS && rayon::current_num_threads() > 1 {
            dy.par_chunks(d.out_plane).map(sum).collect()
        } else {
            dy.chunks(d.out_plane).map(sum).collect()
        };
    for (plane, plane_sum) in plane_sums.into_iter().enumerate() {
        dbias[plane % g.out_ch] += plane_sum;
    }
}

/// How a forward writes y.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Write<'a> {
    Overwrite,
    /// y += the convolution: an input gradient computed as a forward pass.
    Accumulate,
    /// y = the epilogue of the convolution (inference; implicit and stacked paths).
    Epilogue(Epilogue<'a>),
}

/// Which algorithm runs a convolution (forward and weight gradient).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    Implicit,
    Stacked,
    Depthwise,
    Chunked,
}

/// The path of a convolution, in the order of the module docs.
fn path(g: &ConvGeom, d: &Dims) -> Path {
    let grouped_depthwise = d.depthwise && g.groups > 1;
    if !grouped_depthwise && d.out_plane <= stacked::SMALL_PLANE {
        Path::Stacked
    } else if !d.pointwise && implicit::suits(g, d.isa, d.threads) {
        Path::Implicit
    } else if d.depthwise {
        Path::Depthwise
    } else {
        Path::Chunked
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
    let d = Dims::new(g, isa::current());
    check_lengths(g, &d, x.len(), weight.len(), y.len());
    if y.is_empty() {
        return;
    }
    forward_with(g, &d, x, weight, bias, y, Write::Overwrite);
}

/// Inference forward: y = `e` applied to the convolution (see [`Epilogue`];
/// a conv's bias goes in as its shift), in the output pass where the path
/// has one, else in one pass after it.
pub fn conv2d_forward_fused(g: &ConvGeom, x: &[f32], weight: &[f32], e: &Epilogue, y: &mut [f32]) {
    let d = Dims::new(g, isa::current());
    check_lengths(g, &d, x.len(), weight.len(), y.len());
    e.check(g.out_ch, y.len());
    if y.is_empty() {
        return;
    }
    if accumulates(g, &d) {
        forward_with(g, &d, x, weight, None, y, Write::Epilogue(*e));
    } else {
        forward_with(g, &d, x, weight, None, y, Write::Overwrite);
        epilogue::apply_in_place(e, g.out_ch, d.out_plane, y);
    }
}

/// The forward through the path `d` picks; `Accumulate` only on the
/// implicit and stacked paths (see [`accumulates`]).
fn forward_with(
    g: &ConvGeom,
    d: &Dims,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
    write: Write,
) {
    match path(g, d) {
        Path::Stacked => return stacked::forward(g, d, x, weight, bias, y, write),
        Path::Implicit => implicit::forward(g, d.isa, x, weight, y, d.threads, write),
        Path::Depthwise => {
            assert_eq!(write, Write::Overwrite, "depthwise forward overwrites");
            return depthwise::forward(g, d, x, weight, bias, y);
        }
        Path::Chunked => {
            assert_eq!(write, Write::Overwrite, "chunked forward overwrites");
            chunked::forward(g, d, x, weight, y);
        }
    }
    add_bias(g, d, bias, y);
}

/// Whether the forward of `g` can add into its output.
fn accumulates(g: &ConvGeom, d: &Dims) -> bool {
    matches!(path(g, d), Path::Implicit | Path::Stacked)
}

/// The convolution whose forward is the input gradient of `g` (stride 1
/// only): dx = conv(dy, W'), with W' each group's weights transposed
/// (in ↔ out channels) and every kernel rotated by 180°, and the padding
/// that makes its output the input's size.
fn transposed(g: &ConvGeom) -> Option<ConvGeom> {
    if g.stride_h != 1 || g.stride_w != 1 {
        return None;
    }
    let axis = |input: usize, output: usize, k: usize, dil: usize, pad: usize| {
        let span = (k - 1) * dil;
        let pad_before = span.checked_sub(pad)?;
        Some(Axis {
            input: output,
            kernel: k,
            stride: 1,
            dilation: dil,
            pad_before,
            pad_after: (input + span).saturating_sub(output + pad_before),
            output: input,
        })
    };
    let h = axis(g.in_h, g.out_h, g.k_h, g.dil_h, g.pad_top)?;
    let w = axis(g.in_w, g.out_w, g.k_w, g.dil_w, g.pad_left)?;
    ConvGeom::new(g.batch, g.out_ch, g.in_ch, g.groups, h, w).ok()
}

/// W' of [`transposed`]: w'[g·C_g + c][o][i][j] = w[g·O_g + o][c][k_h−1−i][k_w−1−j].
fn transpose_weight(g: &ConvGeom, weight: &[f32]) -> Vec<f32> {
    let (c_g, o_g, taps) = (g.in_ch / g.groups, g.out_ch / g.groups, g.k_h * g.k_w);
    let mut out = vec![0.0f32; weight.len()];
    for group in 0..g.groups {
        for o in 0..o_g {
            for c in 0..c_g {
                let src = &weight[((group * o_g + o) * c_g + c) * taps..][..taps];
                let dst = &mut out[((group * c_g + c) * o_g + o) * taps..][..taps];
                dst.iter_mut()
                    .zip(src.iter().rev())
                    .for_each(|(d, &s)| *d = s);
            }
        }
    }
    out
}

/// dx += the input gradient, as a forward convolution of dy when `g` has
/// stride 1 and that forward can accumulate, else through the column
/// matrix (`stacked`).
fn input_grad(g: &ConvGeom, d: &Dims, weight: &[f32], dy: &[f32], dx: &mut [f32]) {
    if let Some(t) = transposed(g) {
        let dt = Dims::new(&t, d.isa);
        if accumulates(&t, &dt) {
            let flipped = transpose_weight(g, weight);
            return forward_with(&t, &dt, dy, &flipped, None, dx, Write::Accumulate);
        }
    }
    stacked::backward(g, d, &[], weight, dy, Some(dx), None);
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
    let d = Dims::new(g, isa::current());
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
    let path = path(g, &d);
    // The direct depthwise kernels do dW and dx at once; with dx wanted they
    // beat the implicit dW plus a separate dx.
    if d.depthwise && (path != Path::Implicit || dx.is_some()) {
        return depthwise::backward(g, &d, x, weight, dy, dx, dweight);
    }
    match path {
        Path::Stacked => stacked::backward(g, &d, x, weight, dy, dx, Some(dweight)),
        Path::Implicit => {
            implicit::weight_grad(g, d.isa, x, dy, dweight, d.threads);
            if let Some(dx) = dx {
                input_grad(g, &d, weight, dy, dx);
            }
        }
        Path::Depthwise | Path::Chunked => {
            chunked::backward(g, &d, x, weight, dy, dx, Some(dweight))
        }
    }
}

//! Implicit-GEMM convolution for CPUs with AVX-512F: the matrix product of
//! im2col + GEMM without the column matrix.
//!
//! Each batch item's input channels (of one group) are copied once into a
//! zero-padded, *phase-split* buffer: for strides s_h × s_w every channel
//! becomes s_h·s_w planes, plane (a, b) holding padded rows a, a + s_h, …
//! and columns b, b + s_w, … Output positions are numbered "wide",
//! t = oh·W_b + ow with W_b the phase planes' width (columns ow ≥ out_w are
//! junk, computed and dropped). Then for every depth row p = (c, i, j) of
//! the column matrix there is one offset with
//!
//!   col[p, t] = buf[offset[p] + t]      for every valid t,
//!
//! because tap (i, j) of output (oh, ow) reads padded row oh·s_h + i·d_h,
//! i.e. phase (i·d_h mod s_h), row oh + ⌊i·d_h / s_h⌋ (columns alike). So
//! the GEMM micro-kernel reads its B operand straight from the buffer
//! (forward: y = W · col) or its A operand (weight gradient:
//! dWᵀ = col · dyᵀ), and nothing of size col_rows × positions is ever
//! written. This removed the im2col copy and the panel packing, about a
//! third of the time of the large convolutions.

use super::{parallel_sum, Write};
use crate::ops::gemm::avx512::{self, micro, Operands, MR, NR};
use crate::ops::isa::Isa;
use crate::ops::ConvGeom;
use rayon::prelude::*;

/// Depth steps per slab of the forward product.
const KC: usize = 256;

/// Vectors per B row in the forward product: strips of 16·FORWARD_NV
/// wide positions. Three (24 accumulators, 3 B loads per 24 multiply-adds)
/// beat two by 7–13% in best-of-4 A/B runs of conv-c and conv-f forward.
const FORWARD_NV: usize = 3;
const STRIP: usize = 16 * FORWARD_NV;

/// A panels per block in the forward product: their slab (8 × KC × MR
/// floats, 64 KB) stays in L2 while every B strip of the item passes, so
/// large weight matrices (conv-f's 2.4 MB) are read from memory once per
/// slab, not once per strip. (KC 64–256 and 2–8 panels measured within
/// the machine's noise of each other; this pair was best in one sweep.)
const BLOCK_PANELS: usize = 8;

/// Depth steps per slab of the weight-gradient product, whose depth is the
/// item's wide positions: one slab for small planes, so each dWᵀ tile is
/// loaded and stored once per item.
const KC_POSITIONS: usize = 512;

/// The phase-split buffer of one item of one group, and the column offsets.
struct Layout {
    in_per_group: usize,
    phases_h: usize,
    phases_w: usize,
    /// Phase plane rows and columns.
    rows: usize,
    width: usize,
    /// Wide output positions per item: out_h · width.
    cols: usize,
    /// offset[p] for p = (c, i, j) in weight order.
    offsets: Vec<usize>,
    /// Buffer length: every plane, and room for a whole STRIP read at the
    /// largest offset.
    len: usize,
}

/// Rows and columns of one phase plane: the padded extent the valid
/// outputs read, split by the strides. `None` when a size overflows.
fn phase_plane(g: &ConvGeom) -> Option<(usize, usize)> {
    let extent = |out: usize, s: usize, k: usize, d: usize| {
        (out - 1)
            .checked_mul(s)?
            .checked_add((k - 1).checked_mul(d)? + 1)
    };
    let padded_h = extent(g.out_h, g.stride_h, g.k_h, g.dil_h)?;
    let padded_w = extent(g.out_w, g.stride_w, g.k_w, g.dil_w)?;
    Some((padded_h.div_ceil(g.stride_h), padded_w.div_ceil(g.stride_w)))
}

/// Whether the phase-split buffer stays within a small multiple of the
/// input (plus a kernel's reach): it holds s_h·s_w planes, which a stride
/// far past the kernel with a single output, or padding far past the
/// input, makes huge (a stride of 21,000,000 on a 6x6 input asked for
/// 5 PB). Those convolutions go to the other kernels, which need no such
/// buffer.
fn buffer_fits(g: &ConvGeom) -> bool {
    let in_per_group = g.in_ch / g.groups;
    let reach = |input: usize, k: usize, d: usize| input.saturating_add(k.saturating_mul(d));
    let room = in_per_group
        .saturating_mul(16)
        .saturating_mul(reach(g.in_h, g.k_h, g.dil_h))
        .saturating_mul(reach(g.in_w, g.k_w, g.dil_w));
    let floats = phase_plane(g).and_then(|(rows, width)| {
        in_per_group
            .checked_mul(g.stride_h)?
            .checked_mul(g.stride_w)?
            .checked_mul(rows)?
            .checked_mul(width)
    });
    floats.is_some_and(|n| n <= room)
}

impl Layout {
    /// Only for geometries [`suits`] accepts (the buffer fits).
    fn new(g: &ConvGeom) -> Self {
        let in_per_group = g.in_ch / g.groups;
        let (s_h, s_w) = (g.stride_h, g.stride_w);
        let (rows, width) = phase_plane(g).unwrap_or((0, 0));
        let plane = rows * width;
        let mut offsets = Vec::with_capacity(in_per_group * g.k_h * g.k_w);
        for c in 0..in_per_group {
            for i in 0..g.k_h {
                let (a, shift_h) = ((i * g.dil_h) % s_h, (i * g.dil_h) / s_h);
                for j in 0..g.k_w {
                    let (b, shift_w) = ((j * g.dil_w) % s_w, (j * g.dil_w) / s_w);
                    let phase = (c * s_h + a) * s_w + b;
                    offsets.push(phase * plane + shift_h * width + shift_w);
                }
            }
        }
        let cols = g.out_h * width;
        let largest = offsets.iter().copied().max().unwrap_or(0);
        let len = (in_per_group * s_h * s_w * plane).max(largest + cols.div_ceil(STRIP) * STRIP);
        Layout {
            in_per_group,
            phases_h: s_h,
            phases_w: s_w,
            rows,
            width,
            cols,
            offsets,
            len,
        }
    }

    /// Fill `buf` from one item's channels of one group (`x_group`,
    /// in_per_group planes of in_h × in_w).
    fn fill(&self, g: &ConvGeom, x_group: &[f32], buf: &mut Vec<f32>) {
        buf.clear();
        buf.resize(self.len, 0.0);
        let plane = self.rows * self.width;
        let (s_h, s_w) = (self.phases_h, self.phases_w);
        for (c, x_channel) in x_group
            .chunks_exact(g.in_h * g.in_w)
            .take(self.in_per_group)
            .enumerate()
        {
            for (ih, x_row) in x_channel.chunks_exact(g.in_w).enumerate() {
                let r = ih + g.pad_top;
                let (a, row) = (r % s_h, r / s_h);
                if row >= self.rows {
                    break;
                }
                let phase_row = |b: usize| ((c * s_h + a) * s_w + b) * plane + row * self.width;
                if s_w == 1 {
                    let cols = g.in_w.min(self.width.saturating_sub(g.pad_left));
                    let start = phase_row(0) + g.pad_left;
                    buf[start..start + cols].copy_from_slice(&x_row[..cols]);
                } else {
                    // Phase b holds padded columns b, b + s_w, …: input
                    // columns iw ≡ b − pad_left (mod s_w), one strided run each.
                    for b in 0..s_w {
                        // The first padded column q ≥ pad_left with q ≡ b.
                        let iw0 = (b + s_w - g.pad_left % s_w) % s_w;
                        let first_q = g.pad_left + iw0;
                        if iw0 >= g.in_w {
                            continue;
                        }
                        let start = phase_row(b) + first_q / s_w;
                        let room = self.width.saturating_sub(first_q / s_w);
                        let source = x_row[iw0..].iter().step_by(s_w).take(room);
                        for (slot, &v) in buf[start..].iter_mut().zip(source) {
                            *slot = v;
                        }
                    }
                }
            }
        }
    }
}

/// B read through offsets: B(p, ·) = b + offsets[p].
struct IndirectB {
    a: *const f32,
    b: *const f32,
    offsets: *const usize,
}

// SAFETY: built only in `gemm_b_from_buffer_avx512`, at depth kb and strip
// start t0 < n, with `offsets` from kb; the kernel reads p < kc ≤ k − kb.
// `gemm_b_from_buffer` asserted that the packed A holds every panel's k
// steps (so a(p, r) stays in the panel) and that offsets[q] + n rounded up
// to STRIP ≤ buf.len() for every q (so b(p) has the STRIP floats the
// forward kernel reads).
unsafe impl Operands for IndirectB {
    #[inline(always)]
    fn a(&self, p: usize, r: usize) -> *const f32 {
        self.a.wrapping_add(p * MR + r)
    }
    #[inline(always)]
    fn b(&self, p: usize) -> *const f32 {
        // SAFETY: p < kc ≤ k − kb, the offsets left from this pointer
        // (see the impl's SAFETY).
        self.b.wrapping_add(unsafe { *self.offsets.add(p) })
    }
}

/// A read through row pointers: A(r, p) = rows[r] + p.
struct IndirectA {
    rows: [*const f32; MR],
    b: *const f32,
    /// B panel width: 16·NV of the kernel.
    width: usize,
}

// SAFETY: built only in `gemm_a_from_buffer_avx512`, its rows at
// buf[offsets[q] + kb..] and its B at panel j, depth kb; the kernel reads
// p < kc ≤ k − kb. `gemm_a_from_buffer` asserted offsets[q] + k ≤ buf.len()
// for every q (so a(p, r) is inside `buf`) and that the packed dy holds
// every panel's k steps of `width` floats (so b(p) has the 16·NV floats
// the kernel reads).
unsafe impl Operands for IndirectA {
    #[inline(always)]
    fn a(&self, p: usize, r: usize) -> *const f32 {
        self.rows[r].wrapping_add(p)
    }
    #[inline(always)]
    fn b(&self, p: usize) -> *const f32 {
        self.b.wrapping_add(p * self.width)
    }
}

/// out (m × cols, row stride cols) = A · B with A packed by
/// [`avx512::pack_rows`] (m rows, k = offsets.len() deep) and
/// B(p, t) = buf[offsets[p] + t].
fn gemm_b_from_buffer(
    isa: Isa,
    packed_a: &[f32],
    m: usize,
    layout: &Layout,
    buf: &[f32],
    out: &mut [f32],
) {
    let (k, n) = (layout.offsets.len(), layout.cols);
    assert!(isa.avx512(), "implicit conv needs the avx512 family");
    assert!(packed_a.len() >= m.div_ceil(MR) * MR * k);
    assert!(buf.len() >= layout.len && out.len() >= m * n);
    // Every strip reads offsets[p] + t0 .. + STRIP, t0 + STRIP ≤ n rounded up.
    assert!(layout
        .offsets
        .iter()
        .all(|&o| o + n.div_ceil(STRIP) * STRIP <= buf.len()));
    // SAFETY: the avx512 family (asserted) is granted by `ops::isa` only
    // after detecting AVX-512F; bounds asserted above.
    unsafe { gemm_b_from_buffer_avx512(packed_a, m, k, n, &layout.offsets, buf, out) }
}

/// The product of [`gemm_b_from_buffer`] once its checks passed.
///
/// # Safety
/// The CPU supports AVX-512F; `packed_a` holds ⌈m/MR⌉ panels of k steps;
/// offsets[p] + n rounded up to STRIP ≤ buf.len() for every p < k;
/// `out` holds m × n.
#[target_feature(enable = "avx512f")]
unsafe fn gemm_b_from_buffer_avx512(
    packed_a: &[f32],
    m: usize,
    k: usize,
    n: usize,
    offsets: &[usize],
    buf: &[f32],
    out: &mut [f32],
) {
    let panels = m.div_ceil(MR);
    for kb in (0..k).step_by(KC) {
        let kc = KC.min(k - kb);
        for block in (0..panels).step_by(BLOCK_PANELS) {
            for t0 in (0..n).step_by(STRIP) {
                let cols = STRIP.min(n - t0);
                for i in block..(block + BLOCK_PANELS).min(panels) {
                    let ops = IndirectB {
                        a: packed_a[i * MR * k + kb * MR..].as_ptr(),
                        b: buf[t0..].as_ptr(),
                        offsets: offsets[kb..].as_ptr(),
                    };
                    // SAFETY: the tile (rows i·MR.., cols t0..t0 + cols) lies in
                    // `out` (m × n); the operands are in bounds (this function's
                    // contract, see `IndirectB`); AVX-512F is enabled here.
                    unsafe {
                        micro::<_, FORWARD_NV>(
                            &ops,
                            kc,
                            out.as_mut_ptr().add(i * MR * n + t0),
                            n,
                            MR.min(m - i * MR),
                            cols,
                            kb > 0,
                        );
                    }
                }
            }
        }
    }
}

/// B panel width of the weight-gradient product for `o_g` output channels:
/// 16 when they fit one vector (LeNet's 6 and 16: half the work of 32-wide
/// panels, whose lanes would mostly multiply zeros), else 32.
fn dy_panel(o_g: usize) -> usize {
    if o_g <= 16 {
        16
    } else {
        NR
    }
}

/// dwt (col_rows × o_g, row stride o_g) += col · dyᵀ with
/// col(p, t) = buf[offsets[p] + t] and dyᵀ packed as [`dy_panel`]-column
/// panels of `layout.cols` steps (see [`pack_dy`]).
fn gemm_a_from_buffer(
    isa: Isa,
    layout: &Layout,
    buf: &[f32],
    packed_dy: &[f32],
    o_g: usize,
    dwt: &mut [f32],
) {
    let (m, k) = (layout.offsets.len(), layout.cols);
    assert!(isa.avx512(), "implicit conv needs the avx512 family");
    let width = dy_panel(o_g);
    assert!(packed_dy.len() >= o_g.div_ceil(width) * width * k);
    assert!(dwt.len() >= m * o_g);
    assert!(layout.offsets.iter().all(|&o| o + k <= buf.len()));
    // SAFETY: the avx512 family (asserted) is granted by `ops::isa` only
    // after detecting AVX-512F; bounds asserted above.
    unsafe {
        if width == 16 {
            gemm_a_from_buffer_avx512::<1>(m, k, o_g, &layout.offsets, buf, packed_dy, dwt)
        } else {
            gemm_a_from_buffer_avx512::<2>(m, k, o_g, &layout.offsets, buf, packed_dy, dwt)
        }
    }
}

/// The product of [`gemm_a_from_buffer`] once its checks passed, with
/// B panels 16·NV wide.
///
/// # Safety
/// The CPU supports AVX-512F; offsets[q] + k ≤ buf.len() for every q < m;
/// `packed_b` holds ⌈n/16·NV⌉ panels of k steps; `c` holds m × n.
#[target_feature(enable = "avx512f")]
unsafe fn gemm_a_from_buffer_avx512<const NV: usize>(
    m: usize,
    k: usize,
    n: usize,
    offsets: &[usize],
    buf: &[f32],
    packed_b: &[f32],
    c: &mut [f32],
) {
    for kb in (0..k).step_by(KC_POSITIONS) {
        let kc = KC_POSITIONS.min(k - kb);
        for i in 0..m.div_ceil(MR) {
            let rows = MR.min(m - i * MR);
            let width = 16 * NV;
            for j in 0..n.div_ceil(width) {
                let cols = width.min(n - j * width);
                // Rows past m repeat the last one; their results are not stored.
                let rows_at: [*const f32; MR] =
                    std::array::from_fn(|r| buf[offsets[(i * MR + r).min(m - 1)] + kb..].as_ptr());
                let ops = IndirectA {
                    rows: rows_at,
                    b: packed_b[(j * k + kb) * width..].as_ptr(),
                    width,
                };
                // SAFETY: the tile (rows i·MR.., cols j·width..) lies in `c`
                // (m × n); the operands are in bounds (this function's
                // contract, see `IndirectA`); AVX-512F is enabled here.
                unsafe {
                    micro::<_, NV>(
                        &ops,
                        kc,
                        c.as_mut_ptr().add(i * MR * n + j * width),
                        n,
                        rows,
                        cols,
                        true,
                    );
                }
            }
        }
    }
}

/// dy of one item of one group (o_g planes of out_h × out_w) as
/// [`dy_panel`]-column panels over the wide positions:
/// packed[j][t][q] = dy[j·width + q] at t,
/// zero at junk positions and past o_g. Every element is written.
fn pack_dy(g: &ConvGeom, layout: &Layout, dy_group: &[f32], o_g: usize, packed: &mut Vec<f32>) {
    /// Output columns transposed per block: width × BLOCK floats read,
    /// BLOCK slots of width written, all inside L1.
    const BLOCK: usize = 16;
    let (steps, out_plane) = (layout.cols, g.out_h * g.out_w);
    let width = dy_panel(o_g);
    packed.resize(o_g.div_ceil(width) * width * steps, 0.0);
    for (j, panel) in packed.chunks_exact_mut(width * steps).enumerate() {
        let planes: Vec<&[f32]> = dy_group
            .chunks_exact(out_plane)
            .skip(j * width)
            .take(width)
            .collect();
        for (oh, wide_row) in panel.chunks_exact_mut(width * layout.width).enumerate() {
            let (valid, junk) = wide_row.split_at_mut(width * g.out_w);
            junk.fill(0.0);
            for (block, slots) in valid.chunks_mut(width * BLOCK).enumerate() {
                let ow0 = block * BLOCK;
                for (q, plane) in planes.iter().enumerate() {
                    let dy_run = &plane[oh * g.out_w + ow0..][..slots.len() / width];
                    for (slot, &v) in slots.chunks_exact_mut(width).zip(dy_run) {
                        slot[q] = v;
                    }
                }
                if planes.len() < width {
                    for slot in slots.chunks_exact_mut(width) {
                        slot[planes.len()..].fill(0.0);
                    }
                }
            }
        }
    }
}

/// Per-worker scratch.
#[derive(Default)]
struct Scratch {
    buf: Vec<f32>,
    /// Forward: the wide output O_g × cols. Backward: packed dy.
    wide: Vec<f32>,
}

/// Whether the implicit path should run `g` (all but depthwise, on the
/// avx512 family, when the batch can feed every thread and the buffer fits).
pub fn suits(g: &ConvGeom, isa: Isa, threads: usize) -> bool {
    let in_per_group = g.in_ch / g.groups;
    isa.avx512()
        && in_per_group > 0
        && g.in_h > 0
        && g.in_w > 0
        && g.out_h > 0
        && g.out_w > 0
        && g.k_h > 0
        && g.k_w > 0
        // Depthwise groups have one input channel: a product of depth
        // k_h·k_w per group, where the direct kernels win.
        && !(g.groups > 1 && in_per_group == 1)
        && g.batch >= threads
        && buffer_fits(g)
}

fn packed_weights(g: &ConvGeom, weight: &[f32]) -> Vec<Vec<f32>> {
    let (o_g, k) = (g.out_ch / g.groups, g.in_ch / g.groups * g.k_h * g.k_w);
    weight
        .chunks_exact(o_g * k)
        .map(|w_group| {
            let mut packed = Vec::new();
            avx512::pack_rows(w_group, o_g, k, &mut packed);
            packed
        })
        .collect()
}

/// Forward without bias: y (batch × out_ch × out_h × out_w) is
/// overwritten, or added to.
pub fn forward(
    g: &ConvGeom,
    isa: Isa,
    x: &[f32],
    weight: &[f32],
    y: &mut [f32],
    threads: usize,
    write: Write,
) {
    let layout = Layout::new(g);
    let packed = packed_weights(g, weight);
    let (o_g, out_plane) = (g.out_ch / g.groups, g.out_h * g.out_w);
    let x_group_len = g.in_ch / g.groups * g.in_h * g.in_w;
    let (y_item_len, x_item_len) = (g.out_ch * out_plane, g.in_ch * g.in_h * g.in_w);
    let run = |scratch: &mut Scratch, (n, (y_item, x_item)): (usize, (&mut [f32], &[f32]))| {
        for (group, packed_w) in packed.iter().enumerate() {
            layout.fill(
                g,
                &x_item[group * x_group_len..][..x_group_len],
                &mut scratch.buf,
            );
            scratch.wide.resize(o_g * layout.cols, 0.0);
            gemm_b_from_buffer(isa, packed_w, o_g, &layout, &scratch.buf, &mut scratch.wide);
            let y_group = &mut y_item[group * o_g * out_plane..][..o_g * out_plane];
            let planes = y_group.chunks_exact_mut(out_plane);
            for (p, (y_plane, wide)) in planes
                .zip(scratch.wide.chunks_exact(layout.cols))
                .enumerate()
            {
                let o = group * o_g + p;
                let rows = y_plane.chunks_exact_mut(g.out_w);
                for (r, (y_row, wide_row)) in rows.zip(wide.chunks_exact(layout.width)).enumerate()
                {
                    let wide_row = &wide_row[..g.out_w];
                    match write {
                        Write::Overwrite => y_row.copy_from_slice(wide_row),
                        Write::Accumulate => {
                            y_row.iter_mut().zip(wide_row).for_each(|(y, &v)| *y += v)
                        }
                        Write::Epilogue(e) => {
                            let at = n * y_item_len + o * out_plane + r * g.out_w;
                            let residual = e.residual_at(at, g.out_w);
                            e.write(o, wide_row.iter().copied(), residual, y_row)
                        }
                    }
                }
            }
        }
    };
    if threads > 1 {
        y.par_chunks_mut(y_item_len)
            .zip(x.par_chunks(x_item_len))
            .enumerate()
            .for_each_init(Scratch::default, run);
    } else {
        let mut scratch = Scratch::default();
        y.chunks_mut(y_item_len)
            .zip(x.chunks(x_item_len))
            .enumerate()
            .for_each(|item| run(&mut scratch, item));
    }
}

/// dW += Σ_items dy · colᵀ (weight gradient only; dx and db elsewhere).
pub fn weight_grad(
    g: &ConvGeom,
    isa: Isa,
    x: &[f32],
    dy: &[f32],
    dweight: &mut [f32],
    threads: usize,
) {
    let layout = Layout::new(g);
    let (o_g, out_plane) = (g.out_ch / g.groups, g.out_h * g.out_w);
    let k = layout.offsets.len();
    let x_group_len = g.in_ch / g.groups * g.in_h * g.in_w;
    // Partial dWᵀ per group: k × o_g each.
    let add_item = |dwt: &mut [f32], scratch: &mut Scratch, (x_item, dy_item): (&[f32], &[f32])| {
        for group in 0..g.groups {
            layout.fill(
                g,
                &x_item[group * x_group_len..][..x_group_len],
                &mut scratch.buf,
            );
            let dy_group = &dy_item[group * o_g * out_plane..][..o_g * out_plane];
            pack_dy(g, &layout, dy_group, o_g, &mut scratch.wide);
            let dwt_group = &mut dwt[group * k * o_g..][..k * o_g];
            gemm_a_from_buffer(isa, &layout, &scratch.buf, &scratch.wide, o_g, dwt_group);
        }
    };
    let (x_item_len, dy_item_len) = (g.in_ch * g.in_h * g.in_w, g.out_ch * out_plane);
    let dwt_len = g.groups * k * o_g;
    let dwt = if threads > 1 {
        let items = x
            .par_chunks(x_item_len)
            .zip(dy.par_chunks(dy_item_len))
            .with_min_len(g.batch.div_ceil(threads));
        parallel_sum(items, dwt_len, add_item)
    } else {
        let (mut dwt, mut scratch) = (vec![0.0f32; dwt_len], Scratch::default());
        for item in x.chunks(x_item_len).zip(dy.chunks(dy_item_len)) {
            add_item(&mut dwt, &mut scratch, item);
        }
        Some(dwt)
    };
    let Some(dwt) = dwt else { return };
    for (dw_group, dwt_group) in dweight
        .chunks_exact_mut(o_g * k)
        .zip(dwt.chunks_exact(k * o_g))
    {
        for (o, dw_row) in dw_group.chunks_exact_mut(k).enumerate() {
            dw_row
                .iter_mut()
                .zip(dwt_group[o..].iter().step_by(o_g))
                .for_each(|(w, &v)| *w += v);
        }
    }
}

//! Stride-1 depthwise convolution planes on AVX-512F, straight from the
//! unpadded input: every kernel tap of a 16-wide run of outputs is one
//! masked load, the mask dropping the lanes whose input column lies in the
//! padding (or past the output row). No padded copy, no per-row memcpy
//! calls, which is what the portable wide-row kernels spend most of their
//! time on for small planes (14 × 14 and under).

use crate::ops::geom::clip_range;
use crate::ops::isa::Isa;
use crate::ops::ConvGeom;
use std::arch::x86_64::*;
use std::ops::Range;

/// Whether these kernels run the planes of `g` for `isa`: the avx512
/// family and stride 1.
pub fn suits(g: &ConvGeom, isa: Isa) -> bool {
    isa.avx512() && g.stride_h == 1 && g.stride_w == 1 && g.in_w > 0 && g.out_w > 0
}

/// Lanes of the 16-wide output run starting at `ow0` whose tap-`j` input
/// column is inside the row: ow0 + l < out_w and 0 ≤ ow0 + l + j·d_w − pad < in_w.
fn run_mask(g: &ConvGeom, ow0: usize, j: usize) -> u16 {
    let shift = (ow0 + j * g.dil_w) as isize - g.pad_left as isize;
    let lo = (-shift).clamp(0, 16) as usize;
    let hi = (g.in_w as isize - shift)
        .clamp(0, 16)
        .min((g.out_w - ow0).min(16) as isize) as usize;
    if hi <= lo {
        0
    } else {
        (((1u32 << hi) - 1) & !((1u32 << lo) - 1)) as u16
    }
}

/// Input rows that output row `oh` reads with tap row `i`, if inside x.
fn input_row(g: &ConvGeom, oh: usize, i: usize) -> Option<usize> {
    (oh + i * g.dil_h)
        .checked_sub(g.pad_top)
        .filter(|&ih| ih < g.in_h)
}

/// Per 16-wide output run and tap column: (mask, column shift) of the
/// masked load, shift = ow0 + j·d_w − pad_left (may be negative).
fn masks(g: &ConvGeom) -> Vec<(u16, isize)> {
    let mut out = Vec::with_capacity(g.out_w.div_ceil(16) * g.k_w);
    for ow0 in (0..g.out_w).step_by(16) {
        for j in 0..g.k_w {
            let shift = (ow0 + j * g.dil_w) as isize - g.pad_left as isize;
            out.push((run_mask(g, ow0, j), shift));
        }
    }
    out
}

/// Load the lanes of `mask` from `row[shift..shift + 16]`.
///
/// # Safety
/// AVX-512F is available, and every lane l in `mask` has
/// 0 ≤ shift + l < row.len() (lanes outside the mask are never read).
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn load_run(row: &[f32], shift: isize, mask: u16) -> __m512 {
    // SAFETY: the pointer may fall before the row, but only the unmasked
    // lanes, inside it by this function's contract, are accessed (AVX-512
    // masked loads suppress faults on the others); AVX-512F is enabled here.
    let at = row.as_ptr().wrapping_offset(shift);
    unsafe { _mm512_maskz_loadu_ps(mask, at) }
}

/// y_plane (out_h × out_w) = bias + Σ_taps kernel[tap] · x_plane at the
/// tap's shift.
pub fn forward_plane(
    g: &ConvGeom,
    isa: Isa,
    x_plane: &[f32],
    kernel: &[f32],
    bias: f32,
    y_plane: &mut [f32],
) {
    assert!(
        suits(g, isa),
        "depthwise AVX-512 kernel: geometry or family"
    );
    assert_eq!(x_plane.len(), g.in_h * g.in_w, "depthwise: x plane");
    assert_eq!(y_plane.len(), g.out_h * g.out_w, "depthwise: y plane");
    assert_eq!(kernel.len(), g.k_h * g.k_w, "depthwise: kernel");
    let masks = masks(g);
    // SAFETY: `suits` (asserted) checked the avx512 family, which `ops::isa`
    // grants only after detecting AVX-512F; the masks keep every load
    // inside its input row (see `run_mask`) and every store inside its
    // output row, whose lengths are asserted above.
    unsafe { forward_plane_avx512(g, x_plane, kernel, bias, y_plane, &masks) }
}

/// Output rows computed together: independent accumulator chains, so the
/// multiply-adds of a short kernel overlap instead of waiting on each
/// other's latency (a single chain ran at a tenth of the FMA throughput).
const ROWS: usize = 4;

/// [`forward_plane`] once its checks passed.
///
/// # Safety
/// The CPU supports AVX-512F; x_plane is in_h × in_w and y_plane
/// out_h × out_w of `g`; `masks` is `masks(g)`.
#[target_feature(enable = "avx512f")]
unsafe fn forward_plane_avx512(
    g: &ConvGeom,
    x_plane: &[f32],
    kernel: &[f32],
    bias: f32,
    y_plane: &mut [f32],
    masks: &[(u16, isize)],
) {
    for oh0 in (0..g.out_h).step_by(ROWS) {
        let rows = ROWS.min(g.out_h - oh0);
        for (run, ow0) in (0..g.out_w).step_by(16).enumerate() {
            let mut acc = [_mm512_set1_ps(bias); ROWS];
            for i in 0..g.k_h {
                for (j, &(mask, shift)) in masks[run * g.k_w..][..g.k_w].iter().enumerate() {
                    let w = _mm512_set1_ps(kernel[i * g.k_w + j]);
                    // Constant trip count: unrolled, acc stays in registers.
                    for (r, acc_r) in acc.iter_mut().enumerate() {
                        let Some(ih) = input_row(g, oh0 + r, i).filter(|_| r < rows) else {
                            continue;
                        };
                        let x_row = &x_plane[ih * g.in_w..][..g.in_w];
                        // SAFETY: `mask` keeps the lanes inside x_row.
                        let x = unsafe { load_run(x_row, shift, mask) };
                        *acc_r = _mm512_fmadd_ps(w, x, *acc_r);
                    }
                }
            }
            let lanes = (g.out_w - ow0).min(16);
            let store = ((1u32 << lanes) - 1) as u16;
            for (r, &acc_r) in acc.iter().enumerate().take(rows) {
                let y_run = &mut y_plane[(oh0 + r) * g.out_w + ow0..][..lanes];
                // SAFETY: the first `lanes` lanes are y_run.
                unsafe { _mm512_mask_storeu_ps(y_run.as_mut_ptr(), store, acc_r) };
            }
        }
    }
}

/// dkernel[tap] += Σ_{items, oh, ow} dy[item] · x[item] at the tap's shift,
/// over pairs of planes (x plane, dy plane) of one channel. The sums stay
/// in vector accumulators across all planes and are reduced once per tap.
pub fn weight_grad_planes<'a>(
    g: &ConvGeom,
    isa: Isa,
    planes: impl Iterator<Item = (&'a [f32], &'a [f32])> + Clone,
    dkernel: &mut [f32],
) {
    assert!(
        suits(g, isa),
        "depthwise AVX-512 kernel: geometry or family"
    );
    assert_eq!(dkernel.len(), g.k_h * g.k_w, "depthwise: dkernel");
    for (x_plane, dy_plane) in planes.clone() {
        assert_eq!(x_plane.len(), g.in_h * g.in_w, "depthwise: x plane");
        assert_eq!(dy_plane.len(), g.out_h * g.out_w, "depthwise: dy plane");
    }
    let masks = masks(g);
    for i in 0..g.k_h {
        // Output rows whose tap-row-i input row lies inside x.
        let rows = clip_range(
            g.out_h,
            1,
            (i * g.dil_h) as isize - g.pad_top as isize,
            g.in_h,
        );
        for j in 0..g.k_w {
            // SAFETY: `suits` (asserted) checked the avx512 family, which
            // `ops::isa` grants only after detecting AVX-512F; plane lengths
            // are asserted above; the masks keep every load inside its row.
            let sum = unsafe { tap_sum(g, planes.clone(), rows.clone(), i, j, &masks) };
            dkernel[i * g.k_w + j] += sum;
        }
    }
}

/// Σ dy · x for tap (i, j) over the planes, output rows `rows`.
///
/// # Safety
/// The CPU supports AVX-512F; every x plane is in_h × in_w and every dy
/// plane out_h × out_w of `g`; `rows` are output rows whose tap-row-`i`
/// input row lies inside x; `masks` is `masks(g)`.
#[target_feature(enable = "avx512f")]
unsafe fn tap_sum<'a>(
    g: &ConvGeom,
    planes: impl Iterator<Item = (&'a [f32], &'a [f32])>,
    rows: Range<usize>,
    i: usize,
    j: usize,
    masks: &[(u16, isize)],
) -> f32 {
    // One chain per output row of a group of ROWS (see ROWS).
    let mut acc = [_mm512_setzero_ps(); ROWS];
    for (x_plane, dy_plane) in planes {
        for oh0 in rows.clone().step_by(ROWS) {
            for (run, ow0) in (0..g.out_w).step_by(16).enumerate() {
                let (mask, shift) = masks[run * g.k_w + j];
                // Constant trip count: unrolled, acc stays in registers.
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    let oh = oh0 + r;
                    if oh >= rows.end {
                        continue;
                    }
                    let ih = oh + i * g.dil_h - g.pad_top;
                    let x_row = &x_plane[ih * g.in_w..][..g.in_w];
                    let dy_row = &dy_plane[oh * g.out_w..][..g.out_w];
                    // SAFETY: `mask` keeps x lanes inside x_row, and its lanes
                    // are < out_w − ow0, inside dy_row from ow0.
                    let (x, dy) = unsafe {
                        (
                            load_run(x_row, shift, mask),
                            load_run(dy_row, ow0 as isize, mask),
                        )
                    };
                    *acc_r = _mm512_fmadd_ps(dy, x, *acc_r);
                }
            }
        }
    }
    let sum = acc
        .iter()
        .fold(_mm512_setzero_ps(), |s, &a| _mm512_add_ps(s, a));
    _mm512_reduce_add_ps(sum)
}

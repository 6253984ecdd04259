//! A BLIS-style single-precision GEMM for CPUs with AVX-512F.
//!
//! The `gemm` crate only uses AVX-512 with its nightly feature, so on stable
//! Rust it runs 8-wide AVX2 code. On this machine (AVX-512, 2 cores) the
//! 16-wide kernel below measured 1.1–1.6× faster than the crate's AVX2 path
//! on the conv-c/conv-f benchmarks (A/B runs on a loaded 2-core machine).
//!
//! Blocking: C is computed in MR×NR tiles held in 16 zmm accumulators; A
//! is packed into MR-row panels and B into NR-column panels (zero-padded, so
//! the kernel never branches on edges), in KC-deep slabs so a B panel stays
//! in L1 and an A block in L2.

use super::{Gemm, Output, Stored};
use std::arch::x86_64::*;
use std::cell::RefCell;
use std::ops::Range;

pub(crate) const MR: usize = 8;
pub(crate) const NR: usize = 32;
const KC: usize = 256;
const MC: usize = 128;
const NC: usize = 2048;

thread_local! {
    /// Packed A and B panels, reused across calls on each thread.
    static PACKED: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Operand view: element (row, col) of a row-major matrix, or of its
/// transpose when `trans`.
#[derive(Clone, Copy)]
struct Operand<'a> {
    data: &'a [f32],
    trans: bool,
    /// Length of a stored row.
    stored_cols: usize,
}

/// Pack rows `rows` × depth `depth` of A into MR-row panels, k-major.
fn pack_a(
    a: Operand,
    rows: std::ops::Range<usize>,
    depth: std::ops::Range<usize>,
    out: &mut Vec<f32>,
) {
    let panels = rows.len().div_ceil(MR);
    // Every element is written below (edges zero-padded), so no clearing.
    out.resize(panels * MR * depth.len(), 0.0);
    let stride = a.stored_cols;
    for (panel, chunk) in out.chunks_exact_mut(MR * depth.len()).enumerate() {
        let row0 = rows.start + panel * MR;
        let valid = MR.min(rows.end - row0);
        if a.trans {
            // A's column p is stored row p: each slot is one contiguous run.
            for (p, slot) in depth.clone().zip(chunk.chunks_exact_mut(MR)) {
                let source = &a.data[p * stride + row0..];
                if valid == MR {
                    // A constant length: copying `valid` elements was a memcpy call per slot.
                    slot.copy_from_slice(&source[..MR]);
                } else {
                    slot[..valid].copy_from_slice(&source[..valid]);
                    slot[valid..].fill(0.0);
                }
            }
            continue;
        }
        // Row by row, each read in order and written down the panel (which
        // stays in L1): reading MR rows side by side, one element each, was
        // 6% of a ResNet-18 training step.
        for r in 0..MR {
            let slots = chunk[r..].iter_mut().step_by(MR);
            if r < valid {
                let row = &a.data[(row0 + r) * stride + depth.start..][..depth.len()];
                slots.zip(row).for_each(|(slot, &value)| *slot = value);
            } else {
                slots.for_each(|slot| *slot = 0.0);
            }
        }
    }
}

/// Row-major A (m×k) as MR-row panels over its whole depth, k-major,
/// the layout [`micro`] reads through packed operands.
pub(crate) fn pack_rows(a: &[f32], m: usize, k: usize, out: &mut Vec<f32>) {
    assert!(
        a.len() >= m * k,
        "pack_rows: A has {} elements, need {m}x{k}",
        a.len()
    );
    let a = Operand {
        data: a,
        trans: false,
        stored_cols: k,
    };
    pack_a(a, 0..m, 0..k, out);
}

/// Pack depth `depth` × columns `cols` of B into NR-column panels, k-major.
fn pack_b(
    b: Operand,
    depth: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    out: &mut Vec<f32>,
) {
    let panel_len = NR * depth.len();
    // Every element is written below (edges zero-padded), so no clearing.
    out.resize(cols.len().div_ceil(NR) * panel_len, 0.0);
    if b.trans {
        // Column j of B is stored row j: read it in order and scatter
        // down the panel, which is small enough to stay in cache. (Filling
        // slots in order from 32 rows read side by side measured no faster.)
        for (panel, chunk) in out.chunks_exact_mut(panel_len).enumerate() {
            let col0 = cols.start + panel * NR;
            let valid = NR.min(cols.end - col0);
            for c in 0..NR {
                if c < valid {
                    let stored_row = (col0 + c) * b.stored_cols;
                    let source = &b.data[stored_row + depth.start..stored_row + depth.end];
                    for (slot, &value) in chunk.chunks_exact_mut(NR).zip(source) {
                        slot[c] = value;
                    }
                } else {
                    chunk.chunks_exact_mut(NR).for_each(|slot| slot[c] = 0.0);
                }
            }
        }
        return;
    }
    // Row by row, so B (often far larger than the cache) streams through
    // memory in order instead of 32-float pieces of many rows.
    for (step, p) in depth.enumerate() {
        let row = &b.data[p * b.stored_cols + cols.start..p * b.stored_cols + cols.end];
        for (panel, piece) in row.chunks(NR).enumerate() {
            let slot = &mut out[panel * panel_len + step * NR..][..NR];
            if let (Ok(slot), Ok(piece)) = (
                <&mut [f32; NR]>::try_from(&mut *slot),
                <&[f32; NR]>::try_from(piece),
            ) {
                // Constant length: inlined vector moves, not a memcpy call.
                *slot = *piece;
            } else {
                slot[..piece.len()].copy_from_slice(piece);
                slot[piece.len()..].fill(0.0);
            }
        }
    }
}

/// Where the micro-kernel reads its operands at depth step `p`: A's
/// value for tile row `r`, and the start of B's NR values.
///
/// # Safety
/// Implementations promise that for every `p < kc` and `r < MR` the
/// kernel is called with, `a(p, r)` points to a readable f32 and `b(p)`
/// to NR readable f32s.
pub(crate) unsafe trait Operands {
    fn a(&self, p: usize, r: usize) -> *const f32;
    fn b(&self, p: usize) -> *const f32;
}

/// Both operands packed: A as MR-row panels, B as NR-column panels,
/// k-major.
struct Packed {
    a: *const f32,
    b: *const f32,
}

// SAFETY: built in `sgemm` from a packed A panel and a packed B panel
// of the same depth, so p·MR + r and p·NR + NR − 1 stay inside them.
unsafe impl Operands for Packed {
    #[inline(always)]
    fn a(&self, p: usize, r: usize) -> *const f32 {
        self.a.wrapping_add(p * MR + r)
    }
    #[inline(always)]
    fn b(&self, p: usize) -> *const f32 {
        self.b.wrapping_add(p * NR)
    }
}

/// A read in place (row-major, `lda` apart), B packed: no A packing, which
/// for a weight matrix read once per call (ResNet's 7×7 and 4×4 stages)
/// was a copy of every weight through memory (17% of a ResNet-18 forward).
struct RowsA {
    /// Row `r` of the tile at depth 0; rows past the matrix's edge repeat
    /// its last row (their results are never stored).
    rows: [*const f32; MR],
    b: *const f32,
}

// SAFETY: built in `sgemm` from rows of A that exist, each with the slab's
// depth readable from its pointer, and a packed B panel of that depth.
unsafe impl Operands for RowsA {
    #[inline(always)]
    fn a(&self, p: usize, r: usize) -> *const f32 {
        self.rows[r].wrapping_add(p)
    }
    #[inline(always)]
    fn b(&self, p: usize) -> *const f32 {
        self.b.wrapping_add(p * NR)
    }
}

/// Lane mask of the first `n` (≤ 16) lanes.
#[inline(always)]
fn lanes(n: usize) -> __mmask16 {
    if n >= 16 {
        0xffff
    } else {
        ((1u32 << n) - 1) as __mmask16
    }
}

/// C tile (`rows` ≤ MR × `cols` ≤ 16·NV, row stride `ldc`) = (C +) Σ_p
/// A(p, ·)ᵀ B(p, ·) over `kc` depth steps, in MR·NV zmm accumulators
/// (NV = 2 is the NR = 32 tile; 3 trades column granularity for fewer
/// B loads per multiply-add).
///
/// # Safety
/// The CPU supports AVX-512F; `ops` satisfies [`Operands`] for `kc`
/// with 16·NV values per B row; `c` points to a tile whose `rows` rows
/// of `cols` floats, `ldc` apart, are writable (and readable when
/// `accumulate`).
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn micro<O: Operands, const NV: usize>(
    ops: &O,
    kc: usize,
    c: *mut f32,
    ldc: usize,
    rows: usize,
    cols: usize,
    accumulate: bool,
) {
    let masks: [__mmask16; NV] = std::array::from_fn(|v| lanes(cols.saturating_sub(16 * v)));
    let mut acc = [[_mm512_setzero_ps(); NV]; MR];
    if accumulate {
        for (r, acc_r) in acc.iter_mut().enumerate() {
            if r < rows {
                for (v, (acc_v, &mask)) in acc_r.iter_mut().zip(&masks).enumerate() {
                    if mask != 0 {
                        // SAFETY: row r < rows, lanes < cols of the tile;
                        // masked lanes are not read.
                        *acc_v = unsafe { _mm512_maskz_loadu_ps(mask, c.add(r * ldc + 16 * v)) };
                    }
                }
            }
        }
    }
    for p in 0..kc {
        let b = ops.b(p);
        // SAFETY: the `Operands` contract: 16·NV values at b(p), p < kc.
        let bv: [__m512; NV] = std::array::from_fn(|v| unsafe { _mm512_loadu_ps(b.add(16 * v)) });
        for (r, acc_r) in acc.iter_mut().enumerate() {
            // SAFETY: the `Operands` contract for p < kc, r < MR.
            let a_r = _mm512_set1_ps(unsafe { *ops.a(p, r) });
            for (acc_v, &b_v) in acc_r.iter_mut().zip(&bv) {
                *acc_v = _mm512_fmadd_ps(a_r, b_v, *acc_v);
            }
        }
    }
    for (r, acc_r) in acc.iter().enumerate() {
        if r < rows {
            for (v, (&acc_v, &mask)) in acc_r.iter().zip(&masks).enumerate() {
                if mask != 0 {
                    // SAFETY: row r < rows, lanes < cols of the tile;
                    // masked lanes are not written.
                    unsafe { _mm512_mask_storeu_ps(c.add(r * ldc + 16 * v), mask, acc_v) };
                }
            }
        }
    }
}

/// Rows `task_rows` of the product `p` on the calling thread: `c` holds
/// those rows of C (row stride `p.ldc`), `a` and `b` the whole operands.
#[target_feature(enable = "avx512f")]
pub(super) fn sgemm(p: &Gemm, task_rows: Range<usize>, a: &[f32], b: &[f32], c: &mut [f32]) {
    let (m, n, k, ldc) = (task_rows.len(), p.n, p.k, p.ldc);
    if m == 0 || n == 0 {
        return;
    }
    // Every tile written below lies in these rows.
    assert!(
        ldc >= n && c.len() > (m - 1) * ldc + n - 1,
        "sgemm: C too short"
    );
    let row_offset = task_rows.start;
    let accumulate = p.c == Output::Accumulate;
    let a = Operand {
        data: a,
        trans: p.a == Stored::Transposed,
        stored_cols: if p.a == Stored::Transposed { p.m } else { k },
    };
    let b = Operand {
        data: b,
        trans: p.b == Stored::Transposed,
        stored_cols: if p.b == Stored::Transposed { k } else { n },
    };
    PACKED.with_borrow_mut(|(packed_a, packed_b)| {
        for col_block in (0..n).step_by(NC) {
            let cols = col_block..(col_block + NC).min(n);
            for depth_block in (0..k).step_by(KC) {
                let depth = depth_block..(depth_block + KC).min(k);
                let overwrite = depth_block == 0 && !accumulate;
                pack_b(b, depth.clone(), cols.clone(), packed_b);
                if !a.trans {
                    for row_block in (0..m).step_by(MC) {
                        let rows = row_block..(row_block + MC).min(m);
                        rows_a_block(
                            a,
                            row_offset,
                            rows,
                            depth.clone(),
                            cols.clone(),
                            packed_b,
                            c,
                            ldc,
                            overwrite,
                        );
                    }
                    continue;
                }
                for row_block in (0..m).step_by(MC) {
                    let rows = row_block..(row_block + MC).min(m);
                    pack_a(
                        a,
                        row_offset + rows.start..row_offset + rows.end,
                        depth.clone(),
                        packed_a,
                    );
                    let b_panels = packed_b.chunks_exact(NR * depth.len());
                    for (j, b_panel) in b_panels.enumerate() {
                        let col0 = cols.start + j * NR;
                        let valid_cols = NR.min(cols.end - col0);
                        for (i, a_panel) in packed_a.chunks_exact(MR * depth.len()).enumerate() {
                            let row0 = rows.start + i * MR;
                            let valid_rows = MR.min(rows.end - row0);
                            let ops = Packed {
                                a: a_panel.as_ptr(),
                                b: b_panel.as_ptr(),
                            };
                            // SAFETY: AVX-512F is enabled on this function; the
                            // panels hold depth.len() steps; the tile at
                            // (row0, col0) of valid_rows × valid_cols lies in
                            // `c` ((m−1)·ldc + n ≤ c.len(), asserted above).
                            unsafe {
                                micro::<_, 2>(
                                    &ops,
                                    depth.len(),
                                    c.as_mut_ptr().add(row0 * ldc + col0),
                                    ldc,
                                    valid_rows,
                                    valid_cols,
                                    !overwrite,
                                );
                            }
                        }
                    }
                }
            }
        }
    });
}

/// One MC block of rows of C over one slab when A is read in place
/// ([`RowsA`]): every packed B panel against every MR rows of the block.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
fn rows_a_block(
    a: Operand,
    row_offset: usize,
    rows: Range<usize>,
    depth: Range<usize>,
    cols: Range<usize>,
    packed_b: &[f32],
    c: &mut [f32],
    ldc: usize,
    overwrite: bool,
) {
    let b_panels = packed_b.chunks_exact(NR * depth.len());
    for (j, b_panel) in b_panels.enumerate() {
        let col0 = cols.start + j * NR;
        let valid_cols = NR.min(cols.end - col0);
        for row0 in rows.clone().step_by(MR) {
            let valid_rows = MR.min(rows.end - row0);
            let tile_rows = std::array::from_fn(|r| {
                let row = row_offset + row0 + r.min(valid_rows - 1);
                a.data[row * a.stored_cols + depth.start..][..depth.len()].as_ptr()
            });
            let ops = RowsA {
                rows: tile_rows,
                b: b_panel.as_ptr(),
            };
            // SAFETY: AVX-512F is enabled on this function; each row
            // pointer starts a slice of depth.len() floats of A (sliced
            // just above), the B panel holds depth.len() steps; the tile
            // at (row0, col0) of valid_rows × valid_cols lies in `c`
            // ((m−1)·ldc + n ≤ c.len(), asserted in `sgemm`).
            unsafe {
                micro::<_, 2>(
                    &ops,
                    depth.len(),
                    c.as_mut_ptr().add(row0 * ldc + col0),
                    ldc,
                    valid_rows,
                    valid_cols,
                    !overwrite,
                );
            }
        }
    }
}

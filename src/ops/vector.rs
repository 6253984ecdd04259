//! Vector primitives for the direct (non-GEMM) kernels, compiled twice: once
//! for the baseline target and once with AVX2+FMA, picked at run time.
//!
//! The crate is built for generic x86-64 (SSE2), so without this the
//! compiler's auto-vectorised loops are 4 wide with separate multiply and
//! add; the AVX2+FMA copies are 8 wide with fused multiply-adds, which
//! measured ~2× faster on the depthwise benchmark.

#[cfg(target_arch = "x86_64")]
fn has_avx2_fma() -> bool {
    use std::sync::OnceLock;
    static DETECTED: OnceLock<bool> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    })
}

/// Defines `pub fn $name` that runs `$body` compiled with AVX2+FMA when the
/// CPU has them and as plain code otherwise. `$fused` is true in the AVX2
/// copy, for bodies that want `mul_add` (a slow library call without FMA).
macro_rules! dispatch {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?, $fused:ident => $body:block) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body<const FUSED: bool>($($arg: $ty),*) $(-> $ret)? {
                let $fused: bool = FUSED;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    body::<true>($($arg),*)
                }
                if has_avx2_fma() {
                    // SAFETY: `avx2` only needs the AVX2 and FMA instructions,
                    // and the CPU was just checked to support both.
                    return unsafe { avx2($($arg),*) };
                }
            }
            body::<false>($($arg),*)
        }
    };
}

/// a·b + c, fused when `FUSED` (the AVX2+FMA copy).
#[inline(always)]
fn multiply_add<const FUSED: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FUSED {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

dispatch! {
    /// y[i] += alpha · x[i] over the common length.
    fn axpy(y: &mut [f32], x: &[f32], alpha: f32), fused => {
        let fused_add = if fused { multiply_add::<true> } else { multiply_add::<false> };
        y.iter_mut().zip(x).for_each(|(y, &x)| *y = fused_add(alpha, x, *y));
    }
}

dispatch! {
    /// Σ a[i]·b[i] over the common length, with eight independent partial
    /// sums so the loop vectorises (one running sum cannot be reordered).
    fn dot(a: &[f32], b: &[f32]) -> f32, fused => {
        let fused_add = if fused { multiply_add::<true> } else { multiply_add::<false> };
        let len = a.len().min(b.len());
        let (a, b) = (&a[..len], &b[..len]);
        let mut partial = [0.0f32; 8];
        let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
        let mut tail = 0.0;
        for (&x, &y) in a_chunks.remainder().iter().zip(b_chunks.remainder()) {
            tail = fused_add(x, y, tail);
        }
        for (a8, b8) in a_chunks.zip(b_chunks) {
            for lane in 0..8 {
                partial[lane] = fused_add(a8[lane], b8[lane], partial[lane]);
            }
        }
        partial.iter().sum::<f32>() + tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axpy_and_dot_small_values() {
        // By hand: [1,2,3] + 2·[1,1,1] = [3,4,5]; Σ 1..=10 of i·1 = 55.
        let mut y = vec![1.0, 2.0, 3.0];
        axpy(&mut y, &[1.0, 1.0, 1.0], 2.0);
        assert_eq!(y, vec![3.0, 4.0, 5.0]);
        let a: Vec<f32> = (1..=10).map(|v| v as f32).collect();
        assert_eq!(dot(&a, &[1.0; 10]), 55.0);
    }
}

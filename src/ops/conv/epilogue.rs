//! What the output pass of an inference convolution applies, so that a
//! conv followed by batchnorm (eval), the `add` of a residual block and a
//! relu cost no extra sweeps over the output:
//!
//!   y[n, o, ·] = act(scale[o] · conv[n, o, ·] + shift[o] + residual[n, o, ·])
//!
//! The implicit and stacked paths apply it while they copy each output row
//! out of their GEMM buffer (the row is in cache); the other paths run
//! their forward and then one pass over y ([`apply_in_place`]).

use super::PARALLEL_MIN_ELEMENTS;

/// Per output channel affine map, optional residual and relu (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Epilogue<'a> {
    /// Multiplies channel o (a folded batchnorm's γ/√(var + ε)); none: 1.
    pub scale: Option<&'a [f32]>,
    /// Added to channel o (the bias, or a folded batchnorm's shift); none: 0.
    pub shift: Option<&'a [f32]>,
    /// Added element-wise, y's shape (a residual block's shortcut).
    pub residual: Option<&'a [f32]>,
    /// max(·, 0) last (NaN stays NaN, as `ops::activation::relu_forward`).
    pub relu: bool,
}

impl Epilogue<'_> {
    /// Whether it changes nothing (a plain convolution without bias).
    pub fn is_identity(&self) -> bool {
        self.scale.is_none() && self.shift.is_none() && self.residual.is_none() && !self.relu
    }

    /// Check the lengths against an output of `out_ch` channels and `len` floats.
    pub(super) fn check(&self, out_ch: usize, len: usize) {
        for per_channel in [self.scale, self.shift].into_iter().flatten() {
            assert_eq!(per_channel.len(), out_ch, "conv epilogue: channel length");
        }
        if let Some(r) = self.residual {
            assert_eq!(r.len(), len, "conv epilogue: residual length");
        }
    }

    /// The residual's run at `offset` of y, `len` floats long.
    pub(super) fn residual_at(&self, offset: usize, len: usize) -> Option<&[f32]> {
        self.residual.map(|r| &r[offset..offset + len])
    }

    /// y[i] = act(scale[o]·v_i + shift[o] + residual[i]) for the values of
    /// one run of channel `o`.
    #[inline]
    pub(super) fn write(
        &self,
        o: usize,
        values: impl Iterator<Item = f32>,
        residual: Option<&[f32]>,
        y: &mut [f32],
    ) {
        let s = self.scale.map_or(1.0, |s| s[o]);
        let b = self.shift.map_or(0.0, |b| b[o]);
        let act = |v: f32| if self.relu && v < 0.0 { 0.0 } else { v };
        match residual {
            Some(r) => y
                .iter_mut()
                .zip(values)
                .zip(r)
                .for_each(|((y, v), &r)| *y = act(v * s + b + r)),
            None => y
                .iter_mut()
                .zip(values)
                .for_each(|(y, v)| *y = act(v * s + b)),
        }
    }
}

impl Epilogue<'_> {
    /// y[i] = act(scale[o]·y[i] + shift[o] + residual[i]), in place.
    fn update(&self, o: usize, residual: Option<&[f32]>, y: &mut [f32]) {
        let s = self.scale.map_or(1.0, |s| s[o]);
        let b = self.shift.map_or(0.0, |b| b[o]);
        let act = |v: f32| if self.relu && v < 0.0 { 0.0 } else { v };
        match residual {
            Some(r) => y
                .iter_mut()
                .zip(r)
                .for_each(|(y, &r)| *y = act(*y * s + b + r)),
            None => y.iter_mut().for_each(|y| *y = act(*y * s + b)),
        }
    }
}

/// Apply `e` to a y the forward already wrote (paths without an output pass
/// of their own), one plane of `plane` floats at a time.
pub(super) fn apply_in_place(e: &Epilogue, out_ch: usize, plane: usize, y: &mut [f32]) {
    if e.is_identity() || plane == 0 {
        return;
    }
    let run = |(p, y_plane): (usize, &mut [f32])| {
        let residual = e.residual_at(p * plane, plane);
        e.update(p % out_ch, residual, y_plane);
    };
    let parallel = y.len() >= PARALLEL_MIN_ELEMENTS && rayon::current_num_threads() > 1;
    crate::ops::for_each_chunk(&mut y[..], plane, parallel, run);
}

#[cfg(test)]
mod tests {
    use super::super::reference::{axis, geom};
    use super::super::{conv2d_forward, conv2d_forward_fused};
    use super::Epilogue;
    use crate::ops::testutil::{assert_close, for_each_isa, on_threads, random_vec};
    use crate::ops::ConvGeom;

    /// The fused forward against the plain forward followed by the same
    /// arithmetic in separate passes, for every epilogue shape.
    fn check(g: &ConvGeom, seed: u64) {
        let weight_len: usize = g.weight_shape().iter().product();
        let x = random_vec(g.batch * g.in_ch * g.in_h * g.in_w, seed);
        let weight = random_vec(weight_len, seed + 1);
        let y_len = g.batch * g.out_ch * g.out_h * g.out_w;
        let scale = random_vec(g.out_ch, seed + 2);
        let shift = random_vec(g.out_ch, seed + 3);
        let residual = random_vec(y_len, seed + 4);
        let mut plain = vec![0.0; y_len];
        conv2d_forward(g, &x, &weight, None, &mut plain);
        let plane = g.out_h * g.out_w;
        for (scaled, relu, with_residual) in [
            (true, true, true),
            (true, false, false),
            (false, true, false),
            (false, false, true),
        ] {
            let e = Epilogue {
                scale: scaled.then_some(scale.as_slice()),
                shift: Some(&shift),
                residual: with_residual.then_some(residual.as_slice()),
                relu,
            };
            let expected: Vec<f32> = (0..y_len)
                .map(|i| {
                    let o = (i / plane.max(1)) % g.out_ch;
                    let s = if scaled { scale[o] } else { 1.0 };
                    let r = if with_residual { residual[i] } else { 0.0 };
                    let v = plain[i] * s + shift[o] + r;
                    if relu {
                        v.max(0.0)
                    } else {
                        v
                    }
                })
                .collect();
            let mut y = vec![f32::NAN; y_len];
            conv2d_forward_fused(g, &x, &weight, &e, &mut y);
            // the same products summed by the same kernel: only the
            // epilogue's own rounding may differ
            assert_close(&y, &expected, 1e-5);
        }
    }

    #[test]
    fn fused_output_pass_matches_separate_passes_on_every_path() {
        // implicit (avx512) or wide/im2col (others), stacked (≤ 7×7
        // planes), pointwise, depthwise, grouped; odd sizes
        let odd = |k, s, pad: (usize, usize)| axis(9, k, s, pad, 1);
        let cases = [
            geom(2, 3, 5, 1, odd(3, 1, (1, 1)), axis(11, 3, 1, (0, 2), 1)),
            geom(3, 4, 6, 2, odd(3, 2, (2, 1)), axis(10, 2, 3, (1, 0), 1)),
            geom(3, 5, 3, 1, odd(1, 1, (0, 0)), odd(1, 1, (0, 0))),
            geom(2, 6, 6, 6, odd(3, 1, (1, 1)), odd(3, 1, (1, 1))),
            geom(
                2,
                7,
                9,
                1,
                axis(5, 3, 1, (1, 1), 1),
                axis(6, 3, 1, (1, 1), 1),
            ),
            geom(
                4,
                16,
                24,
                1,
                axis(33, 3, 1, (1, 1), 1),
                axis(31, 3, 1, (1, 1), 1),
            ),
        ];
        for_each_isa(|_| {
            for (seed, g) in cases.iter().enumerate() {
                check(g, seed as u64 * 10);
                on_threads(2, || check(g, seed as u64 * 10 + 5));
            }
        });
    }
}

//! Shapes the kernels work on, checked once when built: a geometry that
//! exists is one the kernels can run (channels divide into groups, strides
//! and dilations are positive, every length fits in memory arithmetic).
//!
//! Output sizes are given, not computed: they come from
//! `crate::ir::shape::window_out` (via inference), the one place the
//! formula is written. The constructors only check they are possible.

use std::ops::Range;

/// Why a geometry cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GeomError(String);

fn fail<T>(message: impl Into<String>) -> Result<T, GeomError> {
    Err(GeomError(message.into()))
}

/// Product of `sizes`, or an error naming `what` when it overflows.
fn product(what: &str, sizes: &[usize]) -> Result<usize, GeomError> {
    sizes
        .iter()
        .try_fold(1usize, |acc, &s| acc.checked_mul(s))
        .map_or_else(|| fail(format!("{what} is too large")), Ok)
}

/// One spatial axis of a sliding window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Axis {
    pub input: usize,
    /// Taps of the window.
    pub kernel: usize,
    pub stride: usize,
    /// Distance between taps.
    pub dilation: usize,
    /// Zero (or −∞) padding before the first and after the last input.
    pub pad_before: usize,
    pub pad_after: usize,
    pub output: usize,
}

impl Axis {
    /// Check the axis: positive kernel, stride and dilation, and every
    /// output window starting inside the padded input (when `whole`, also
    /// ending inside it: convolutions never overhang, ceil-mode pools may).
    fn check(&self, name: &str, whole: bool) -> Result<(), GeomError> {
        if self.kernel == 0 || self.stride == 0 || self.dilation == 0 {
            return fail(format!(
                "{name}: kernel, stride and dilation must be positive"
            ));
        }
        let padded = self
            .input
            .checked_add(self.pad_before)
            .and_then(|v| v.checked_add(self.pad_after));
        let Some(padded) = padded else {
            return fail(format!("{name}: padded input is too large"));
        };
        if self.output == 0 {
            return Ok(());
        }
        let last_start = (self.output - 1).checked_mul(self.stride);
        let span = (self.kernel - 1).checked_mul(self.dilation);
        let last_end = last_start.zip(span).and_then(|(a, b)| a.checked_add(b));
        let (Some(last_start), Some(last_end)) = (last_start, last_end) else {
            return fail(format!("{name}: window arithmetic overflows"));
        };
        let reach = if whole { last_end } else { last_start };
        if reach >= padded {
            return fail(format!(
                "{name}: {} outputs do not fit an input of {} padded by {}+{}",
                self.output, self.input, self.pad_before, self.pad_after
            ));
        }
        Ok(())
    }
}

/// Indices `i < count` for which `offset + i·step` lies in `0..len`: the
/// outputs whose tap lands inside the input, or the taps of a window that
/// do. `step` must be positive.
pub(crate) fn clip_range(count: usize, step: usize, offset: isize, len: usize) -> Range<usize> {
    let step = step as isize;
    let lo = if offset >= 0 {
        0
    } else {
        (-offset + step - 1) / step
    };
    let room = len as isize - offset;
    let hi = if room <= 0 {
        0
    } else {
        ((room + step - 1) / step).min(count as isize)
    };
    (lo.min(hi) as usize)..(hi as usize)
}

/// Geometry of a 2-D convolution over NCHW data.
///
/// Fields are readable inside `ops`; elsewhere a geometry comes only from
/// [`ConvGeom::new`] and is read through its shape methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeom {
    pub(in crate::ops) batch: usize,
    pub(in crate::ops) in_ch: usize,
    pub(in crate::ops) in_h: usize,
    pub(in crate::ops) in_w: usize,
    pub(in crate::ops) out_ch: usize,
    pub(in crate::ops) k_h: usize,
    pub(in crate::ops) k_w: usize,
    pub(in crate::ops) stride_h: usize,
    pub(in crate::ops) stride_w: usize,
    /// Zero padding before the first row / column. The kernels never read
    /// the padding after: any tap outside the input reads zero, and
    /// `out_h`/`out_w` say how far the windows go.
    pub(in crate::ops) pad_top: usize,
    pub(in crate::ops) pad_left: usize,
    pub(in crate::ops) dil_h: usize,
    pub(in crate::ops) dil_w: usize,
    pub(in crate::ops) groups: usize,
    pub(in crate::ops) out_h: usize,
    pub(in crate::ops) out_w: usize,
    /// Only [`ConvGeom::new`] builds one.
    checked: (),
}

impl ConvGeom {
    /// A convolution of `batch` items of `in_ch` channels into `out_ch`,
    /// channels split into `groups`, with windows `h` and `w`.
    pub fn new(
        batch: usize,
        in_ch: usize,
        out_ch: usize,
        groups: usize,
        h: Axis,
        w: Axis,
    ) -> Result<ConvGeom, GeomError> {
        if groups == 0 || !in_ch.is_multiple_of(groups) || !out_ch.is_multiple_of(groups) {
            return fail(format!(
                "conv: {in_ch} input and {out_ch} output channels do not divide into {groups} groups"
            ));
        }
        h.check("conv height", true)?;
        w.check("conv width", true)?;
        product("conv input", &[batch, in_ch, h.input, w.input])?;
        product("conv output", &[batch, out_ch, h.output, w.output])?;
        product("conv weight", &[out_ch, in_ch / groups, h.kernel, w.kernel])?;
        Ok(ConvGeom {
            batch,
            in_ch,
            in_h: h.input,
            in_w: w.input,
            out_ch,
            k_h: h.kernel,
            k_w: w.kernel,
            stride_h: h.stride,
            stride_w: w.stride,
            pad_top: h.pad_before,
            pad_left: w.pad_before,
            dil_h: h.dilation,
            dil_w: w.dilation,
            groups,
            out_h: h.output,
            out_w: w.output,
            checked: (),
        })
    }

    /// The same convolution over `batch` items.
    pub fn with_batch(&self, batch: usize) -> Result<ConvGeom, GeomError> {
        product("conv input", &[batch, self.in_ch, self.in_h, self.in_w])?;
        product("conv output", &[batch, self.out_ch, self.out_h, self.out_w])?;
        Ok(ConvGeom { batch, ..*self })
    }

    /// N × C × H × W of the input.
    pub fn input_shape(&self) -> [usize; 4] {
        [self.batch, self.in_ch, self.in_h, self.in_w]
    }

    /// N × C × H × W of the output.
    pub fn output_shape(&self) -> [usize; 4] {
        [self.batch, self.out_ch, self.out_h, self.out_w]
    }

    /// out_ch × in_ch/groups × k_h × k_w of the weight.
    pub fn weight_shape(&self) -> [usize; 4] {
        [self.out_ch, self.in_ch / self.groups, self.k_h, self.k_w]
    }
}

/// Geometry of a 2-D pooling window over NCHW data; built by [`PoolGeom::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolGeom {
    pub(in crate::ops) batch: usize,
    pub(in crate::ops) channels: usize,
    pub(in crate::ops) in_h: usize,
    pub(in crate::ops) in_w: usize,
    pub(in crate::ops) k_h: usize,
    pub(in crate::ops) k_w: usize,
    pub(in crate::ops) stride_h: usize,
    pub(in crate::ops) stride_w: usize,
    pub(in crate::ops) pad_top: usize,
    pub(in crate::ops) pad_bottom: usize,
    pub(in crate::ops) pad_left: usize,
    pub(in crate::ops) pad_right: usize,
    pub(in crate::ops) dil_h: usize,
    pub(in crate::ops) dil_w: usize,
    pub(in crate::ops) out_h: usize,
    pub(in crate::ops) out_w: usize,
    /// Only [`PoolGeom::new`] builds one.
    checked: (),
}

impl PoolGeom {
    /// Pooling of `batch` × `channels` planes with windows `h` and `w`
    /// (ceil-mode outputs may overhang the padding).
    pub fn new(batch: usize, channels: usize, h: Axis, w: Axis) -> Result<PoolGeom, GeomError> {
        h.check("pool height", false)?;
        w.check("pool width", false)?;
        product("pool input", &[batch, channels, h.input, w.input])?;
        product("pool output", &[batch, channels, h.output, w.output])?;
        Ok(PoolGeom {
            batch,
            channels,
            in_h: h.input,
            in_w: w.input,
            k_h: h.kernel,
            k_w: w.kernel,
            stride_h: h.stride,
            stride_w: w.stride,
            pad_top: h.pad_before,
            pad_bottom: h.pad_after,
            pad_left: w.pad_before,
            pad_right: w.pad_after,
            dil_h: h.dilation,
            dil_w: w.dilation,
            out_h: h.output,
            out_w: w.output,
            checked: (),
        })
    }

    /// N × C × H × W of the input.
    pub fn input_shape(&self) -> [usize; 4] {
        [self.batch, self.channels, self.in_h, self.in_w]
    }

    /// N × C × H × W of the output.
    pub fn output_shape(&self) -> [usize; 4] {
        [self.batch, self.channels, self.out_h, self.out_w]
    }
}

/// Sizes of a fully connected layer: x is batch × in_f, W is out_f × in_f.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearGeom {
    pub(in crate::ops) batch: usize,
    pub(in crate::ops) in_f: usize,
    pub(in crate::ops) out_f: usize,
}

impl LinearGeom {
    pub fn new(batch: usize, in_f: usize, out_f: usize) -> Result<LinearGeom, GeomError> {
        product("linear input", &[batch, in_f])?;
        product("linear output", &[batch, out_f])?;
        product("linear weight", &[out_f, in_f])?;
        Ok(LinearGeom { batch, in_f, out_f })
    }
}

/// Shape of a batch normalisation over N × C × inner data (inner = H·W
/// for BatchNorm2d, 1 for BatchNorm1d) and its ε (checked positive by the
/// checker, not here).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormGeom {
    pub(in crate::ops) batch: usize,
    pub(in crate::ops) channels: usize,
    pub(in crate::ops) inner: usize,
    pub(in crate::ops) eps: f32,
}

impl BatchNormGeom {
    pub fn new(
        batch: usize,
        channels: usize,
        inner: usize,
        eps: f32,
    ) -> Result<BatchNormGeom, GeomError> {
        product("batchnorm input", &[batch, channels, inner])?;
        Ok(BatchNormGeom {
            batch,
            channels,
            inner,
            eps,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn axis(input: usize, kernel: usize, stride: usize, pad: usize, output: usize) -> Axis {
        Axis {
            input,
            kernel,
            stride,
            dilation: 1,
            pad_before: pad,
            pad_after: pad,
            output,
        }
    }

    #[test]
    fn conv_rejects_what_cannot_run() {
        let a = axis(8, 3, 1, 1, 8);
        assert!(ConvGeom::new(2, 6, 4, 2, a, a).is_ok());
        // 6 channels do not split into 4 groups; zero groups; zero stride.
        assert!(ConvGeom::new(2, 6, 4, 4, a, a).is_err());
        assert!(ConvGeom::new(2, 6, 4, 0, a, a).is_err());
        assert!(ConvGeom::new(2, 6, 4, 2, Axis { stride: 0, ..a }, a).is_err());
        // A ninth output row would read past the padding.
        assert!(ConvGeom::new(2, 6, 4, 2, axis(8, 3, 1, 1, 9), a).is_err());
        // Sizes whose product overflows.
        let huge = axis(usize::MAX / 2, 1, 1, 0, 1);
        assert!(ConvGeom::new(4, 4, 4, 1, huge, a).is_err());
    }

    #[test]
    fn pool_allows_ceil_overhang_only_from_inside() {
        // 3 wide, k2 s2, ceil mode: 2 outputs, the last window overhangs.
        assert!(PoolGeom::new(1, 1, axis(3, 2, 2, 0, 2), axis(3, 2, 2, 0, 2)).is_ok());
        // A third would start past the input.
        assert!(PoolGeom::new(1, 1, axis(3, 2, 2, 0, 3), axis(3, 2, 2, 0, 2)).is_err());
        assert!(LinearGeom::new(usize::MAX, 2, 1).is_err());
        assert!(BatchNormGeom::new(usize::MAX, 3, 4, 1e-5).is_err());
    }

    proptest! {
        #[test]
        fn clip_range_is_the_brute_force_set(count in 0usize..12, step in 1usize..4,
                                             offset in -12isize..12, len in 0usize..12) {
            let inside: Vec<usize> = (0..count)
                .filter(|&i| (0..len as isize).contains(&(offset + (i * step) as isize)))
                .collect();
            let range = clip_range(count, step, offset, len);
            if inside.is_empty() {
                prop_assert!(range.is_empty());
            } else {
                prop_assert_eq!(range.collect::<Vec<_>>(), inside);
            }
        }
    }
}

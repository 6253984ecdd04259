//! Shapes whose sizes may be symbolic (`N`), with checked arithmetic.

use std::fmt;

/// One dimension: a known size or a symbol such as the batch `N`.
///
/// A symbol may also be a small expression (`N*4`, `H-2`) produced when
/// inference has to combine symbols; it is carried as text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    Known(u64),
    Sym(String),
}

impl Dim {
    pub fn known(self: &Dim) -> Option<u64> {
        match self {
            Dim::Known(n) => Some(*n),
            Dim::Sym(_) => None,
        }
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Known(n) => write!(f, "{n}"),
            Dim::Sym(s) => f.write_str(s),
        }
    }
}

impl From<u64> for Dim {
    fn from(n: u64) -> Self {
        Dim::Known(n)
    }
}

/// A tensor shape, outermost dimension first (NCHW for images).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Shape(pub Vec<Dim>);

impl Shape {
    pub fn rank(&self) -> usize {
        self.0.len()
    }
    pub fn dims(&self) -> &[Dim] {
        &self.0
    }
    /// All sizes, when none is symbolic.
    pub fn known(&self) -> Option<Vec<u64>> {
        self.0.iter().map(Dim::known).collect()
    }
    /// Number of elements per batch item (every dim but the first), when known.
    pub fn per_item(&self) -> Option<u64> {
        self.0
            .iter()
            .skip(1)
            .try_fold(1u64, |acc, d| acc.checked_mul(d.known()?))
    }
    /// The same shape with the batch dimension replaced.
    pub fn with_batch(&self, batch: Dim) -> Shape {
        let mut dims = self.0.clone();
        if let Some(first) = dims.first_mut() {
            *first = batch;
        }
        Shape(dims)
    }
    /// JSON form: numbers for known sizes, strings for symbols.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.0
                .iter()
                .map(|d| match d {
                    Dim::Known(n) => serde_json::Value::from(*n),
                    Dim::Sym(s) => serde_json::Value::from(s.as_str()),
                })
                .collect(),
        )
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("x")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl From<Vec<u64>> for Shape {
    fn from(v: Vec<u64>) -> Self {
        Shape(v.into_iter().map(Dim::Known).collect())
    }
}

/// Receptive field of one output element on the model input, per dimension
/// (height, width), with the jump (product of strides) that got there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Rf {
    pub size: [u64; 2],
    pub jump: [u64; 2],
}

impl Rf {
    /// The model input: one pixel, jump one.
    pub const INPUT: Rf = Rf {
        size: [1, 1],
        jump: [1, 1],
    };
}

/// Output size of a window op along one dimension, PyTorch's rule:
/// `⌊(n + pad_total − d·(k−1) − 1)/s⌋ + 1`; with `ceil`, the ceiling, less one
/// if the last window would start in the right padding (it must start inside
/// the input or the left padding).
///
/// `None` when the (dilated) kernel does not fit in the padded input or an
/// intermediate overflows. This is the one place the formula is written: the
/// checker, the kernels and their backward passes all size their outputs from
/// the value inference stores.
pub fn window_out(
    n: u64,
    pad_before: u64,
    pad_after: u64,
    kernel: u64,
    stride: u64,
    dilation: u64,
    ceil: bool,
) -> Option<u64> {
    let padded = n.checked_add(pad_before)?.checked_add(pad_after)?;
    let k_eff = dilation
        .checked_mul(kernel.checked_sub(1)?)?
        .checked_add(1)?;
    if stride == 0 || k_eff > padded {
        return None;
    }
    let span = padded - k_eff;
    let mut out = if ceil {
        span.div_ceil(stride) + 1
    } else {
        span / stride + 1
    };
    // PyTorch (pooling_output_shape): the last window must start inside the
    // input or the left padding, never in the right padding.
    if ceil && (out - 1).checked_mul(stride)? >= n.checked_add(pad_before)? {
        out -= 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_out_matches_pytorch_examples() {
        // the chapter: 8x8, k=3, p=1, s=2 -> 4
        assert_eq!(window_out(8, 1, 1, 3, 2, 1, false), Some(4));
        // nn.Conv2d(k=3x5, p=1x2) keeps 3x5
        assert_eq!(window_out(3, 1, 1, 3, 1, 1, false), Some(3));
        assert_eq!(window_out(5, 2, 2, 5, 1, 1, false), Some(5));
        // ceil: 5, k=2, s=2 -> 3 (floor 2)
        assert_eq!(window_out(5, 0, 0, 2, 2, 1, true), Some(3));
        // ceil with padding where the last window would start in the right padding:
        // n=4, p=1, k=2, s=2: floor=3, ceil=3 (window starting at 5 > 4 dropped)
        assert_eq!(window_out(4, 1, 1, 2, 2, 1, true), Some(3));
        // kernel larger than input
        assert_eq!(window_out(2, 0, 0, 3, 1, 1, false), None);
        assert_eq!(window_out(6, 0, 0, 3, 1, 3, false), None);
        assert_eq!(window_out(5, 0, 0, 3, 0, 1, false), None);
        assert_eq!(window_out(u64::MAX, 1, 1, 3, 1, 1, false), None);
    }
}

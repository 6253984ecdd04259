//! Shape rules of tensor values the checker and the interpreter share
//! (besides the operations' rules in `crate::tensor::shape`): constructor
//! sizes, indexing, slice assignment and `corr2d`. The checker applies them
//! to the shapes it can know, the interpreter before it computes; an error
//! carries the message both report.

use crate::syntax::ast::DimLit;
use crate::value::shape_words;

/// A size of a dims literal that makes a tensor (`ones(6x8)`): a number,
/// not a symbol; the message and help otherwise.
pub fn tensor_size(d: &DimLit) -> Result<usize, (String, &'static str, Option<&'static str>)> {
    match d {
        DimLit::Known(n) => usize::try_from(*n).map_err(|_| {
            (
                "these sizes are too large (their product overflows)".to_string(),
                "too large",
                None,
            )
        }),
        DimLit::Sym(s) => Err((
            format!("`{s}` is a symbolic size; a tensor needs concrete sizes"),
            "symbolic",
            Some("write the number, e.g. 4x1x28x28"),
        )),
    }
}

/// Whether a value of shape `from` can be written into a slice of shape
/// `to` (broadcasting one way, as ndarray's `broadcast`).
pub fn broadcasts_to(from: &[usize], to: &[usize]) -> bool {
    from.len() <= to.len()
        && from
            .iter()
            .rev()
            .zip(to.iter().rev())
            .all(|(f, t)| f == t || *f == 1)
}

/// Why a value cannot be written into a slice.
pub fn assign_message(value: &[usize], slice: &[usize]) -> String {
    format!(
        "cannot assign a {} value to a {} slice",
        shape_words(value),
        shape_words(slice)
    )
}

/// One index item with its values: `X[2]`, `X[1:3]`, `X[::2]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexSpec {
    Single(i64),
    Slice(Option<i64>, Option<i64>, i64),
}

/// What an index item picks from its dimension, after Python's rules
/// (negatives from the end, slice bounds clamped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Picked {
    /// One position: the dimension goes away.
    One(usize),
    /// `start..end` by `step`.
    Range {
        start: usize,
        end: usize,
        step: usize,
    },
}

impl Picked {
    /// The size the dimension keeps, if any.
    fn len(self) -> Option<usize> {
        match self {
            Picked::One(_) => None,
            Picked::Range { start, end, step } => Some((end - start).div_ceil(step)),
        }
    }
}

/// An index that does not fit: which item, the message and a label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexError {
    pub item: usize,
    pub message: String,
    pub label: &'static str,
}

/// Apply index items to a shape with Python's rules; dimensions without an
/// item are taken whole.
pub fn index(shape: &[usize], items: &[IndexSpec]) -> Result<Vec<Picked>, IndexError> {
    let fail = |item: usize, message: String, label| IndexError {
        item,
        message,
        label,
    };
    if items.len() > shape.len() {
        return Err(fail(
            shape.len(),
            format!(
                "too many indices: the tensor has {} dimensions",
                shape.len()
            ),
            "extra index",
        ));
    }
    let mut picked = Vec::with_capacity(shape.len());
    for (d, it) in items.iter().enumerate() {
        // a size past i64 (an absurd `arange`) is as long as any index can say
        let n = i64::try_from(shape[d]).unwrap_or(i64::MAX);
        match *it {
            IndexSpec::Single(i) => {
                let j = if i < 0 { n + i } else { i };
                if j < 0 || j >= n {
                    return Err(fail(
                        d,
                        format!("index {i} is out of range for dimension {d} of size {n}"),
                        "out of range",
                    ));
                }
                picked.push(Picked::One(j as usize));
            }
            IndexSpec::Slice(_, _, 0) => {
                return Err(fail(d, "slice step cannot be zero".into(), "zero step"))
            }
            IndexSpec::Slice(_, _, step) if step < 0 => {
                return Err(fail(
                    d,
                    "negative slice steps are not supported".into(),
                    "negative step",
                ))
            }
            IndexSpec::Slice(a, b, step) => {
                let clamp = |v: i64| if v < 0 { n + v } else { v }.clamp(0, n) as usize;
                let start = a.map_or(0, clamp);
                let end = b.map_or(n as usize, clamp).max(start);
                picked.push(Picked::Range {
                    start,
                    end,
                    step: step as usize,
                });
            }
        }
    }
    for &n in &shape[items.len()..] {
        picked.push(Picked::Range {
            start: 0,
            end: n,
            step: 1,
        });
    }
    Ok(picked)
}

/// The shape an index leaves.
pub fn indexed_shape(picked: &[Picked]) -> Vec<usize> {
    picked.iter().filter_map(|p| p.len()).collect()
}

/// `split(X, f)`: the rows (dim 0) to split.
pub fn split_rows(x: &[usize]) -> Result<usize, (String, &'static str)> {
    x.first().copied().ok_or_else(|| {
        (
            "split takes a tensor with rows (dim 0) to split, not a scalar".to_string(),
            "a scalar",
        )
    })
}

/// `corr2d(X, K)`: a 2-D input and a 2-D kernel no larger than it.
pub fn corr2d(x: &[usize], k: &[usize]) -> Result<Vec<usize>, (String, &'static str)> {
    let (&[h, w], &[kh, kw]) = (x, k) else {
        return Err((
            format!(
                "corr2d takes two 2-D tensors, got {} and {}",
                shape_words(x),
                shape_words(k)
            ),
            "not 2-D",
        ));
    };
    if kh > h || kw > w || kh == 0 || kw == 0 {
        return Err((
            format!("corr2d: the kernel {kh}x{kw} is larger than the input {h}x{w}"),
            "kernel too big",
        ));
    }
    Ok(vec![h - kh + 1, w - kw + 1])
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_size_past_i64_slices_without_overflow() {
        // fuzz seed 12, case 163952: `arange(9223372036854775807)[1:2]`
        let picked = index(&[1 << 63], &[IndexSpec::Slice(Some(1), Some(2), 1)]).expect("slices");
        assert!(matches!(
            picked[0],
            Picked::Range {
                start: 1,
                end: 2,
                step: 1
            }
        ));
    }

    use super::*;

    #[test]
    fn indexing_follows_python() {
        let shape = [6, 8];
        let cols = index(
            &shape,
            &[
                IndexSpec::Slice(None, None, 1),
                IndexSpec::Slice(Some(2), Some(6), 1),
            ],
        );
        assert_eq!(indexed_shape(&cols.expect("fits")), vec![6, 4]);
        let row = index(&shape, &[IndexSpec::Single(-1)]).expect("fits");
        assert_eq!(indexed_shape(&row), vec![8]);
        let clamped = index(&shape, &[IndexSpec::Slice(Some(4), Some(100), 3)]).expect("fits");
        assert_eq!(indexed_shape(&clamped), vec![1, 8]);
        let empty = index(&shape, &[IndexSpec::Slice(Some(5), Some(2), 1)]).expect("fits");
        assert_eq!(indexed_shape(&empty), vec![0, 8]);
        let e = index(&shape, &[IndexSpec::Single(6)]).expect_err("out of range");
        assert_eq!(
            e.message,
            "index 6 is out of range for dimension 0 of size 6"
        );
        let e = index(&shape, &[IndexSpec::Single(0); 3]).expect_err("too many");
        assert_eq!(e.item, 2);
        assert!(index(&shape, &[IndexSpec::Slice(None, None, 0)]).is_err());
    }

    #[test]
    fn corr2d_kernel_fits() {
        assert_eq!(corr2d(&[3, 3], &[2, 2]), Ok(vec![2, 2]));
        assert!(corr2d(&[3, 3], &[4, 1]).is_err());
        assert!(corr2d(&[3], &[1, 1]).is_err());
    }
}

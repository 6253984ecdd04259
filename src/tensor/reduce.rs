//! Reductions as PyTorch's: `sum`, `mean`, `max`, `min`, `argmax`, `argmin`,
//! over one `dim` (dropped, or kept as size 1 with `keepdim`) or over the
//! whole tensor (a scalar). `max`/`min` with a dim give the values
//! (PyTorch's `.values`); `arg*` give int64 indices of the first extreme;
//! NaN wins every comparison, as in PyTorch. Sums accumulate in f64.

use ndarray::{Array1, ArrayD, ArrayView1, Axis, IxDyn};

use super::{floats, ints, shape, Kind, OpError, ShapeError};
use crate::value::Value;

/// Which reduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    Sum,
    Mean,
    Max,
    Min,
    ArgMax,
    ArgMin,
}

impl Reduction {
    /// The method's name.
    pub fn name(self) -> &'static str {
        match self {
            Reduction::Sum => "sum",
            Reduction::Mean => "mean",
            Reduction::Max => "max",
            Reduction::Min => "min",
            Reduction::ArgMax => "argmax",
            Reduction::ArgMin => "argmin",
        }
    }

    /// Whether an empty reduction has no answer (there is no largest of nothing).
    fn needs_elements(self) -> bool {
        !matches!(self, Reduction::Sum | Reduction::Mean)
    }
}

/// The output shape of a reduction of `shape`, with the dim normalized.
pub fn reduced_shape(
    shape: &[usize],
    dim: Option<i64>,
    keepdim: bool,
) -> Result<Vec<usize>, ShapeError> {
    let dim = dim
        .map(|d| shape::normalize_dim(d, shape.len()))
        .transpose()?;
    Ok(shape::reduce(shape, dim, keepdim))
}

/// Reduce `v` over `dim` (or all of it).
pub fn reduce(v: &Value, r: Reduction, dim: Option<i64>, keepdim: bool) -> Result<Value, OpError> {
    let (Some(kind), Some(in_shape)) = (Kind::of(v), v.shape()) else {
        return Err(OpError::Dtype {
            message: format!("`.{}` needs a tensor", r.name()),
            help: "pick one of its arrays with `.name`".into(),
        });
    };
    let dim = match dim {
        Some(d) if !in_shape.is_empty() => Some(shape::normalize_dim(d, in_shape.len())?),
        Some(d) => {
            shape::normalize_dim(d, 0)?;
            None
        }
        None => None,
    };
    let lane_len = dim.map_or(v.len(), |d| in_shape[d]);
    if lane_len == 0 && r.needs_elements() {
        return Err(OpError::Dtype {
            message: format!(
                "`.{}` of an empty {}",
                r.name(),
                if dim.is_some() { "dim" } else { "tensor" }
            ),
            help: "there is no largest or smallest of no elements".into(),
        });
    }
    let ok = |a| Ok(a);
    match (r, kind) {
        (Reduction::Sum, Kind::Float) => ok(Value::Float(along(&floats(v), dim, keepdim, sum_f32))),
        (Reduction::Sum, _) => ok(Value::Int(along(&ints(v), dim, keepdim, |l| {
            l.iter().fold(0i64, |a, &x| a.wrapping_add(x))
        }))),
        (Reduction::Mean, _) => ok(Value::Float(along(&floats(v), dim, keepdim, |l| {
            (sum_f64(l) / l.len() as f64) as f32
        }))),
        (Reduction::ArgMax | Reduction::ArgMin, _) => {
            let max = r == Reduction::ArgMax;
            ok(Value::Int(match kind {
                Kind::Float => along(&floats(v), dim, keepdim, |l| best(l, max) as i64),
                _ => along(&ints(v), dim, keepdim, |l| best(l, max) as i64),
            }))
        }
        (Reduction::Max | Reduction::Min, _) => {
            let max = r == Reduction::Max;
            ok(match v {
                Value::Float(a) => Value::Float(along(a, dim, keepdim, |l| l[best(l, max)])),
                Value::Bool(a) => Value::Bool(along(a, dim, keepdim, |l| l[best(l, max)])),
                other => Value::Int(along(&ints(other), dim, keepdim, |l| l[best(l, max)])),
            })
        }
    }
}

/// `f` over every lane along `dim` (or over all elements), keeping the
/// reduced dims as size 1 when asked.
fn along<T: Clone, U: Clone>(
    a: &ArrayD<T>,
    dim: Option<usize>,
    keepdim: bool,
    f: impl Fn(ArrayView1<'_, T>) -> U,
) -> ArrayD<U> {
    match dim {
        None => {
            let all: Array1<T> = a.iter().cloned().collect();
            let out_shape = shape::reduce(a.shape(), None, keepdim);
            ArrayD::from_elem(IxDyn(&out_shape), f(all.view()))
        }
        Some(d) => {
            let out = a.map_axis(Axis(d), f);
            if keepdim {
                out.insert_axis(Axis(d))
            } else {
                out
            }
        }
    }
}

fn sum_f64(lane: ArrayView1<'_, f32>) -> f64 {
    lane.iter().map(|&x| f64::from(x)).sum()
}

fn sum_f32(lane: ArrayView1<'_, f32>) -> f32 {
    sum_f64(lane) as f32
}

/// An element that reductions compare; NaN beats everything.
trait Ordered: Copy + PartialOrd {
    fn is_nan(self) -> bool;
}

impl Ordered for f32 {
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
}

impl Ordered for i64 {
    fn is_nan(self) -> bool {
        false
    }
}

impl Ordered for bool {
    fn is_nan(self) -> bool {
        false
    }
}

/// The index of the first largest (`max`) or smallest element; the first NaN
/// if there is one. The lane is not empty.
fn best<T: Ordered>(lane: ArrayView1<'_, T>, max: bool) -> usize {
    let mut at = 0;
    for (i, &x) in lane.iter().enumerate() {
        if x.is_nan() {
            return i;
        }
        let better = if max { x > lane[at] } else { x < lane[at] };
        if better {
            at = i;
        }
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x() -> Value {
        // torch: x = torch.tensor([[1., 5., 5.], [7., 0., 7.]])
        Value::Float(ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![1., 5., 5., 7., 0., 7.]).unwrap())
    }

    fn floats_of(v: &Value) -> (Vec<usize>, Vec<f32>) {
        let a = v.to_float().unwrap();
        (a.shape().to_vec(), a.iter().copied().collect())
    }

    #[test]
    fn values_match_pytorch() {
        // x.sum() -> tensor(25.); x.sum(-1, True) -> [[11.], [14.]]; x.mean(dim=0) -> [4., 2.5, 6.]
        assert_eq!(
            floats_of(&reduce(&x(), Reduction::Sum, None, false).unwrap()),
            (vec![], vec![25.])
        );
        assert_eq!(
            floats_of(&reduce(&x(), Reduction::Sum, Some(-1), true).unwrap()),
            (vec![2, 1], vec![11., 14.])
        );
        assert_eq!(
            floats_of(&reduce(&x(), Reduction::Mean, Some(0), false).unwrap()),
            (vec![3], vec![4., 2.5, 6.])
        );
        // x.max(dim=1, keepdim=True).values -> [[5.], [7.]]; x.min(dim=0).values -> [1., 0., 5.]
        assert_eq!(
            floats_of(&reduce(&x(), Reduction::Max, Some(1), true).unwrap()),
            (vec![2, 1], vec![5., 7.])
        );
        assert_eq!(
            floats_of(&reduce(&x(), Reduction::Min, Some(0), false).unwrap()),
            (vec![3], vec![1., 0., 5.])
        );
    }

    #[test]
    fn indices_are_int64_and_first() {
        // x.argmax(dim=-1) -> tensor([1, 0]); torch.argmax(x, keepdim=True) -> tensor([[3]])
        // x.min(dim=0).indices -> tensor([0, 1, 0])
        let am = reduce(&x(), Reduction::ArgMax, Some(-1), false).unwrap();
        assert_eq!(
            am,
            Value::Int(ArrayD::from_shape_vec(IxDyn(&[2]), vec![1, 0]).unwrap())
        );
        let all = reduce(&x(), Reduction::ArgMax, None, true).unwrap();
        assert_eq!(
            all,
            Value::Int(ArrayD::from_shape_vec(IxDyn(&[1, 1]), vec![3]).unwrap())
        );
        let mins = reduce(&x(), Reduction::ArgMin, Some(0), false).unwrap();
        assert_eq!(
            mins,
            Value::Int(ArrayD::from_shape_vec(IxDyn(&[3]), vec![0, 1, 0]).unwrap())
        );
    }

    #[test]
    fn dtypes_nan_and_errors() {
        // torch.tensor([True, False]).sum(dim=0) -> tensor(1); tensor([nan, 1.]).max() -> nan, argmax 0
        let b = Value::Bool(ArrayD::from_shape_vec(IxDyn(&[2]), vec![true, false]).unwrap());
        assert_eq!(
            reduce(&b, Reduction::Sum, Some(0), false).unwrap(),
            Value::Int(ArrayD::from_elem(IxDyn(&[]), 1))
        );
        assert_eq!(
            reduce(&b, Reduction::Max, None, false).unwrap(),
            Value::Bool(ArrayD::from_elem(IxDyn(&[]), true))
        );
        let n = Value::Float(ArrayD::from_shape_vec(IxDyn(&[2]), vec![f32::NAN, 1.]).unwrap());
        assert!(floats_of(&reduce(&n, Reduction::Max, None, false).unwrap()).1[0].is_nan());
        assert_eq!(
            reduce(&n, Reduction::ArgMax, None, false).unwrap(),
            Value::Int(ArrayD::from_elem(IxDyn(&[]), 0))
        );
        // torch.tensor(3.).sum(dim=0) -> tensor(3.)
        let s = Value::Float(ArrayD::from_elem(IxDyn(&[]), 3.0));
        assert_eq!(
            floats_of(&reduce(&s, Reduction::Sum, Some(0), false).unwrap()),
            (vec![], vec![3.])
        );
        assert!(matches!(
            reduce(&x(), Reduction::Sum, Some(2), false),
            Err(OpError::Shape(ShapeError::DimRange { dim: 2, rank: 2 }))
        ));
        let empty = Value::Float(ArrayD::zeros(IxDyn(&[0])));
        assert!(reduce(&empty, Reduction::Max, None, false).is_err());
        assert_eq!(
            floats_of(&reduce(&empty, Reduction::Sum, None, false).unwrap()).1,
            [0.]
        );
    }
}

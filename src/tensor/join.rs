//! `cat([A, B], dim=1)` joins along an existing dim; `stack([A, B], dim=0)`
//! along a new one. As in PyTorch, the tensors' dtypes promote (an int
//! tensor joined with a float one gives floats).

use ndarray::{ArrayD, ArrayViewD, Axis};

use super::{bools, floats, guard, ints, shape, Kind, OpError};
use crate::value::Value;

/// Whether the tensors join along an existing dim or a new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Join {
    Cat,
    Stack,
}

impl Join {
    /// The function's name.
    pub fn name(self) -> &'static str {
        match self {
            Join::Cat => "cat",
            Join::Stack => "stack",
        }
    }

    /// The result's shape and the (normalized) dim, by the shape rule.
    pub fn shape(
        self,
        shapes: &[&[usize]],
        dim: i64,
    ) -> Result<(Vec<usize>, usize), shape::ShapeError> {
        match self {
            Join::Cat => shape::cat(shapes, dim),
            Join::Stack => shape::stack(shapes, dim),
        }
    }
}

/// Join `values` along `dim`.
pub fn join(how: Join, values: &[Value], dim: i64) -> Result<Value, OpError> {
    let mut shapes = Vec::with_capacity(values.len());
    let mut kind = Kind::Bool;
    for v in values {
        match (v.shape(), Kind::of(v)) {
            (Some(s), Some(k)) => {
                shapes.push(s);
                kind = kind.max(k);
            }
            _ => {
                return Err(OpError::Dtype {
                    message: format!("`{}` joins tensors, found a {}", how.name(), v.type_name()),
                    help: format!("write `{}([A, B], dim=0)` with tensors A and B", how.name()),
                })
            }
        }
    }
    let (out_shape, d) = how.shape(&shapes, dim)?;
    guard(
        &out_shape,
        kind.item_bytes(),
        &format!("the `{}` result", how.name()),
    )?;
    Ok(match kind {
        Kind::Float => Value::Float(run(how, &values.iter().map(floats).collect::<Vec<_>>(), d)?),
        Kind::Int => Value::Int(run(how, &values.iter().map(ints).collect::<Vec<_>>(), d)?),
        Kind::Bool => Value::Bool(run(how, &values.iter().map(bools).collect::<Vec<_>>(), d)?),
    })
}

fn run<T: Clone>(how: Join, arrays: &[ArrayD<T>], d: usize) -> Result<ArrayD<T>, OpError> {
    let views: Vec<ArrayViewD<'_, T>> = arrays.iter().map(|a| a.view()).collect();
    let joined = match how {
        Join::Cat => ndarray::concatenate(Axis(d), &views),
        Join::Stack => ndarray::stack(Axis(d), &views),
    };
    // the shape rule above already holds, so ndarray agrees
    joined.map_err(|_| OpError::Shape(shape::ShapeError::Overflow))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::IxDyn;

    fn f(shape: &[usize], v: Vec<f32>) -> Value {
        Value::Float(ArrayD::from_shape_vec(IxDyn(shape), v).unwrap())
    }

    #[test]
    fn cat_and_stack_match_pytorch() {
        // A = torch.arange(4.).reshape(2, 2); B = torch.arange(4., 6.).reshape(2, 1)
        // torch.cat([A, B], dim=1) -> [[0, 1, 4], [2, 3, 5]]
        let a = f(&[2, 2], vec![0., 1., 2., 3.]);
        let b = f(&[2, 1], vec![4., 5.]);
        let c = join(Join::Cat, &[a.clone(), b], 1).unwrap();
        assert_eq!(c, f(&[2, 3], vec![0., 1., 4., 2., 3., 5.]));
        // torch.stack([A, A + 10], dim=-1)[1] -> [[2, 12], [3, 13]]
        let a10 = f(&[2, 2], vec![10., 11., 12., 13.]);
        let s = join(Join::Stack, &[a.clone(), a10], -1).unwrap();
        assert_eq!(s.shape(), Some(&[2usize, 2, 2][..]));
        assert_eq!(
            s.to_float().unwrap().iter().copied().collect::<Vec<_>>()[4..],
            [2., 12., 3., 13.]
        );
        // an int tensor joined with a float one gives floats, as torch.cat
        let i = Value::Int(ArrayD::from_shape_vec(IxDyn(&[2, 1]), vec![7, 8]).unwrap());
        assert!(matches!(
            join(Join::Cat, &[a.clone(), i], 1).unwrap(),
            Value::Float(_)
        ));
        assert!(matches!(
            join(Join::Stack, &[a, f(&[2], vec![0., 0.])], 0),
            Err(OpError::Shape(shape::ShapeError::Join { index: 1, .. }))
        ));
    }
}

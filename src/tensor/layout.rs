//! Reordering elements: `flip` (reverse dims), `.T` (reverse the order of
//! dims: a 2-D transpose) and `permute` (any order). Every dtype keeps its
//! dtype; results are contiguous copies.

use ndarray::{ArrayD, Axis, IxDyn, Slice};

use super::{each_dtype, guard, shape, Kind, OpError};
use crate::value::Value;

/// `flip()` (every dim) or `flip(dims...)`.
pub fn flip(v: Value, dims: &[i64]) -> Result<Value, OpError> {
    copy_guard(&v, "flip")?;
    let rank = v.shape().map_or(0, <[usize]>::len);
    let dims = if dims.is_empty() {
        (0..rank).collect()
    } else {
        shape::normalize_dims(dims, rank)?
    };
    // a 0-d tensor takes dim 0 (or -1) as PyTorch does, and has nothing to reverse
    let dims = if rank == 0 { Vec::new() } else { dims };
    Ok(
        each_dtype!(v, a => flip_array(a, &dims), else other => return Err(not_tensor("flip", &other))),
    )
}

/// `.T`: the dims in reverse order.
pub fn transpose(v: Value) -> Result<Value, OpError> {
    copy_guard(&v, "T")?;
    Ok(
        each_dtype!(v, a => a.reversed_axes().as_standard_layout().into_owned(),
        else other => return Err(not_tensor("T", &other))),
    )
}

/// `permute(dims...)`.
pub fn permute(v: Value, dims: &[i64]) -> Result<Value, OpError> {
    copy_guard(&v, "permute")?;
    let shape = v.shape().unwrap_or(&[]).to_vec();
    let (_, order) = shape::permute(&shape, dims)?;
    Ok(
        each_dtype!(v, a => a.permuted_axes(IxDyn(&order)).as_standard_layout().into_owned(),
        else other => return Err(not_tensor("permute", &other))),
    )
}

/// The reordered copy is as large as the tensor.
fn copy_guard(v: &Value, what: &str) -> Result<(), OpError> {
    match (v.shape(), Kind::of(v)) {
        (Some(shape), Some(kind)) => {
            guard(shape, kind.item_bytes(), &format!("the `.{what}` copy"))
        }
        _ => Ok(()),
    }
}

fn flip_array<T: Clone>(mut a: ArrayD<T>, dims: &[usize]) -> ArrayD<T> {
    for &d in dims {
        a.slice_axis_inplace(Axis(d), Slice::new(0, None, -1));
    }
    a.as_standard_layout().into_owned()
}

fn not_tensor(what: &str, v: &Value) -> OpError {
    OpError::Dtype {
        message: format!("`.{what}` needs a tensor, found a {}", v.type_name()),
        help: "pick one of its arrays with `.name`".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flipping_a_scalar_keeps_it() {
        // fuzz seed 12, case 297677: `(3).float().flip(dim=0)`
        let v = Value::Float(ArrayD::from_elem(IxDyn(&[]), 3.0));
        let flipped = flip(v, &[0]).expect("flips");
        assert_eq!(flipped.shape(), Some(&[][..]));
        assert_eq!(flipped.to_float().expect("floats").sum(), 3.0);
    }

    fn x() -> Value {
        Value::Float(ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![1., 5., 5., 7., 0., 7.]).unwrap())
    }

    fn data(v: &Value) -> Vec<f32> {
        v.to_float().unwrap().iter().copied().collect()
    }

    #[test]
    fn match_pytorch() {
        // x = torch.tensor([[1., 5., 5.], [7., 0., 7.]])
        // x.flip(0) -> [[7, 0, 7], [1, 5, 5]]; x.flip(-1, 0) -> [[7, 0, 7], [5, 5, 1]]
        assert_eq!(data(&flip(x(), &[0]).unwrap()), [7., 0., 7., 1., 5., 5.]);
        assert_eq!(
            data(&flip(x(), &[-1, 0]).unwrap()),
            [7., 0., 7., 5., 5., 1.]
        );
        assert_eq!(data(&flip(x(), &[]).unwrap()), [7., 0., 7., 5., 5., 1.]);
        // x.T -> [[1, 7], [5, 0], [5, 7]]
        let t = transpose(x()).unwrap();
        assert_eq!(t.shape(), Some(&[3usize, 2][..]));
        assert_eq!(data(&t), [1., 7., 5., 0., 5., 7.]);
        // torch.arange(24).reshape(1, 2, 3, 4).permute(0, 2, 3, 1)[0, 1, 2] -> [6, 18]
        let a =
            Value::Int(ArrayD::from_shape_vec(IxDyn(&[1, 2, 3, 4]), (0..24).collect()).unwrap());
        let p = permute(a, &[0, 2, 3, 1]).unwrap();
        assert_eq!(p.shape(), Some(&[1usize, 3, 4, 2][..]));
        assert_eq!(&data(&p)[(4 + 2) * 2..(4 + 2) * 2 + 2], [6., 18.]);
        assert!(flip(x(), &[0, 0]).is_err());
        assert!(permute(x(), &[0]).is_err());
    }
}

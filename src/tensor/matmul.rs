//! `A @ B` and `matmul(A, B)` as `torch.matmul`: 1-D·1-D is a dot product,
//! a 1-D operand is a row (left) or column (right) dropped from the result,
//! leading dims broadcast as batches. Floats go through the project's SGEMM;
//! two integer tensors multiply in int64.

use ndarray::{ArrayD, IxDyn};

use super::{floats, guard, ints, shape, Kind, OpError};
use crate::value::Value;

/// `a @ b`.
pub fn matmul(a: &Value, b: &Value) -> Result<Value, OpError> {
    let (Some(ka), Some(kb), Some(sa), Some(sb)) = (Kind::of(a), Kind::of(b), a.shape(), b.shape())
    else {
        return Err(OpError::Dtype {
            message: "matmul needs two tensors".into(),
            help: "write `A @ B` with tensors A and B".into(),
        });
    };
    let out_shape = shape::matmul(sa, sb)?;
    let kind = if ka.max(kb) == Kind::Float {
        Kind::Float
    } else {
        Kind::Int
    };
    guard(&out_shape, kind.item_bytes(), "a matmul result")?;
    let plan = Plan::new(sa, sb, &out_shape);
    Ok(match kind {
        Kind::Float => {
            let (x, y) = (contiguous(floats(a)), contiguous(floats(b)));
            let mut out = vec![0.0f32; plan.out_len()];
            plan.run(&x, &y, &mut out, |n, p, k, x, y, c| {
                crate::ops::gemm::Gemm::new(n, p, k).run(x, y, c)
            });
            Value::Float(to_array(&out_shape, out)?)
        }
        _ => {
            let (x, y) = (contiguous(ints(a)), contiguous(ints(b)));
            let mut out = vec![0i64; plan.out_len()];
            plan.run(&x, &y, &mut out, int_gemm);
            Value::Int(to_array(&out_shape, out)?)
        }
    })
}

/// The operands as batches of matrices: `[batch.., n, k] @ [batch.., k, p]`.
struct Plan {
    n: usize,
    k: usize,
    p: usize,
    /// The broadcast batch dims of the result.
    batch: Vec<usize>,
    /// Each operand's batch dims, left-padded with 1s to `batch`'s rank.
    batch_a: Vec<usize>,
    batch_b: Vec<usize>,
}

impl Plan {
    fn new(sa: &[usize], sb: &[usize], out: &[usize]) -> Plan {
        // a 1-D left operand is one row, a 1-D right operand one column
        let (a_mats, n, k) = match sa {
            [k] => (&[][..], 1, *k),
            [b @ .., n, k] => (b, *n, *k),
            [] => (&[][..], 1, 1),
        };
        let (b_mats, p) = match sb {
            [_] => (&[][..], 1),
            [b @ .., _, p] => (b, *p),
            [] => (&[][..], 1),
        };
        let rank = a_mats.len().max(b_mats.len());
        let pad = |m: &[usize]| {
            let mut v = vec![1; rank - m.len()];
            v.extend_from_slice(m);
            v
        };
        let batch = out[..rank.min(out.len())].to_vec();
        Plan {
            n,
            k,
            p,
            batch,
            batch_a: pad(a_mats),
            batch_b: pad(b_mats),
        }
    }

    fn out_len(&self) -> usize {
        self.batch.iter().product::<usize>() * self.n * self.p
    }

    /// Run `gemm(n, p, k, a, b, c)` (c = a·b, row-major) for every batch.
    fn run<T: Copy + Default>(
        &self,
        a: &[T],
        b: &[T],
        out: &mut [T],
        gemm: impl Fn(usize, usize, usize, &[T], &[T], &mut [T]),
    ) {
        let (n, k, p) = (self.n, self.k, self.p);
        let count: usize = self.batch.iter().product();
        for (i, c) in out.chunks_mut((n * p).max(1)).enumerate().take(count) {
            if k == 0 {
                c.fill(T::default());
                continue;
            }
            let (ia, ib) = (self.offset(i, &self.batch_a), self.offset(i, &self.batch_b));
            gemm(
                n,
                p,
                k,
                &a[ia * n * k..(ia + 1) * n * k],
                &b[ib * k * p..(ib + 1) * k * p],
                c,
            );
        }
    }

    /// Which matrix of an operand with batch dims `dims` output batch `i` reads
    /// (a size-1 dim repeats).
    fn offset(&self, mut i: usize, dims: &[usize]) -> usize {
        let mut offset = 0;
        let mut stride = 1;
        for (&out, &own) in self.batch.iter().zip(dims).rev() {
            let at = i % out.max(1);
            i /= out.max(1);
            if own != 1 {
                offset += at * stride;
            }
            stride *= own;
        }
        offset
    }
}

fn contiguous<T: Clone>(a: ArrayD<T>) -> Vec<T> {
    if a.is_standard_layout() {
        a.into_raw_vec_and_offset().0
    } else {
        a.iter().cloned().collect()
    }
}

fn to_array<T>(shape: &[usize], data: Vec<T>) -> Result<ArrayD<T>, OpError> {
    ArrayD::from_shape_vec(IxDyn(shape), data)
        .map_err(|_| OpError::Shape(shape::ShapeError::Overflow))
}

/// c = a·b for int64 row-major matrices (n×k times k×p), wrapping as PyTorch.
fn int_gemm(n: usize, p: usize, k: usize, a: &[i64], b: &[i64], c: &mut [i64]) {
    for r in 0..n {
        for col in 0..p {
            c[r * p + col] = (0..k).fold(0i64, |acc, j| {
                acc.wrapping_add(a[r * k + j].wrapping_mul(b[j * p + col]))
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(shape: &[usize], v: Vec<f32>) -> Value {
        Value::Float(ArrayD::from_shape_vec(IxDyn(shape), v).unwrap())
    }

    fn data(v: &Value) -> Vec<f32> {
        v.to_float().unwrap().iter().copied().collect()
    }

    #[test]
    fn matches_torch_matmul() {
        // torch.arange(6.).reshape(2, 3) @ torch.arange(12.).reshape(3, 4)
        // -> [[20, 23, 26, 29], [56, 68, 80, 92]]
        let a = f(&[2, 3], (0..6).map(|v| v as f32).collect());
        let b = f(&[3, 4], (0..12).map(|v| v as f32).collect());
        let c = matmul(&a, &b).unwrap();
        assert_eq!(c.shape(), Some(&[2usize, 4][..]));
        assert_eq!(data(&c), [20., 23., 26., 29., 56., 68., 80., 92.]);
        // torch.arange(3.) @ torch.arange(3.) -> tensor(5.)
        let v = f(&[3], vec![0., 1., 2.]);
        let dot = matmul(&v, &v).unwrap();
        assert_eq!(dot.shape(), Some(&[][..]));
        assert_eq!(data(&dot), [5.]);
        // torch.arange(6.).reshape(2, 3) @ torch.arange(3.) -> [5, 14]
        assert_eq!(data(&matmul(&a, &v).unwrap()), [5., 14.]);
        // torch.tensor([1, 2]) @ torch.tensor([3, 4]) -> tensor(11) (int64)
        let i = Value::Int(ArrayD::from_shape_vec(IxDyn(&[2]), vec![1, 2]).unwrap());
        let j = Value::Int(ArrayD::from_shape_vec(IxDyn(&[2]), vec![3, 4]).unwrap());
        assert_eq!(
            matmul(&i, &j).unwrap(),
            Value::Int(ArrayD::from_elem(IxDyn(&[]), 11))
        );
    }

    #[test]
    fn batches_broadcast() {
        // A = torch.arange(12.).reshape(2, 1, 2, 3); B = torch.arange(18.).reshape(3, 3, 2)
        // (A @ B).shape == (2, 3, 2, 2); (A @ B)[1, 2].flatten() == [298, 319, 424, 454]
        let a = f(&[2, 1, 2, 3], (0..12).map(|v| v as f32).collect());
        let b = f(&[3, 3, 2], (0..18).map(|v| v as f32).collect());
        let c = matmul(&a, &b).unwrap();
        assert_eq!(c.shape(), Some(&[2usize, 3, 2, 2][..]));
        let all = data(&c);
        assert_eq!(&all[all.len() - 4..], [298., 319., 424., 454.]);
        // (A @ B)[0, 0].flatten() == [10, 13, 28, 40]
        assert_eq!(&all[..4], [10., 13., 28., 40.]);
    }
}

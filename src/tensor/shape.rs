//! The shape rules of the tensor operations, written once and used by the
//! checker (on shapes it can know) and by the operations themselves before
//! they allocate. Every rule is PyTorch's.

use crate::value::dims_string;

/// Why an operation cannot take these shapes: the facts, from which the
/// message and help are derived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShapeError {
    /// Elementwise `op` (`+`, `>`...) on shapes that do not broadcast.
    Broadcast {
        op: &'static str,
        a: Vec<usize>,
        b: Vec<usize>,
    },
    /// `matmul` of a 0-d tensor.
    MatmulScalar { a: Vec<usize>, b: Vec<usize> },
    /// `matmul` whose inner sizes differ (or whose batch dims do not broadcast).
    Matmul { a: Vec<usize>, b: Vec<usize> },
    /// A `dim` outside `[-rank, rank)`.
    DimRange { dim: i64, rank: usize },
    /// The same dim given twice (`flip`, `permute`).
    DimTwice { dim: usize },
    /// `permute` needs every dim once.
    Permutation { given: usize, rank: usize },
    /// `cat`/`stack` of no tensors.
    JoinEmpty { op: &'static str },
    /// `cat`/`stack`: tensor `index` does not fit the first.
    Join {
        op: &'static str,
        index: usize,
        first: Vec<usize>,
        other: Vec<usize>,
        dim: usize,
    },
    /// `cat` of a 0-d tensor.
    CatScalar { index: usize },
    /// The sizes multiply beyond 64 bits.
    Overflow,
}

impl ShapeError {
    /// A stable short name, the diagnostic's code.
    pub fn code(&self) -> &'static str {
        match self {
            ShapeError::Broadcast { .. } => "broadcast",
            ShapeError::MatmulScalar { .. } | ShapeError::Matmul { .. } => "matmul_shapes",
            ShapeError::DimRange { .. }
            | ShapeError::DimTwice { .. }
            | ShapeError::Permutation { .. } => "bad_dim",
            ShapeError::JoinEmpty { .. }
            | ShapeError::Join { .. }
            | ShapeError::CatScalar { .. } => "join_shapes",
            ShapeError::Overflow => "overflow",
        }
    }

    /// What is wrong, in one sentence.
    pub fn message(&self) -> String {
        let s = |d: &[usize]| shape_text(d);
        match self {
            ShapeError::Broadcast { op, a, b } => {
                format!("cannot apply `{op}` to tensors of shapes {} and {}", s(a), s(b))
            }
            ShapeError::MatmulScalar { a, b } => format!(
                "matmul needs tensors of at least 1 dimension, got {} and {}",
                s(a),
                s(b)
            ),
            ShapeError::Matmul { a, b } => {
                format!("cannot multiply {} by {} (matmul)", s(a), s(b))
            }
            ShapeError::DimRange { dim, rank } => format!(
                "dim {dim} is out of range for a tensor of {rank} dimension{}",
                if *rank == 1 { "" } else { "s" }
            ),
            ShapeError::DimTwice { dim } => format!("dim {dim} appears twice"),
            ShapeError::Permutation { given, rank } => format!(
                "permute needs all {rank} dims of the tensor in some order, found {given}"
            ),
            ShapeError::JoinEmpty { op } => format!("`{op}` needs at least one tensor"),
            ShapeError::Join {
                op,
                index,
                first,
                other,
                dim,
            } => match *op {
                "cat" if first.len() == other.len() => format!(
                    "cat along dim {dim}: tensor {index} is {} but tensor 0 is {}; sizes must match except in dim {dim}",
                    s(other),
                    s(first)
                ),
                "cat" => format!(
                    "cat: tensor {index} has {} dimensions but tensor 0 has {}",
                    other.len(),
                    first.len()
                ),
                _ => format!(
                    "{op}: tensor {index} is {} but tensor 0 is {}; all must have the same shape",
                    s(other),
                    s(first)
                ),
            },
            ShapeError::CatScalar { index } => {
                format!("cat: tensor {index} is a scalar, which has no dim to join along")
            }
            ShapeError::Overflow => "the result's size overflows".to_string(),
        }
    }

    /// The short label under the span.
    pub fn label(&self) -> &'static str {
        match self {
            ShapeError::Broadcast { .. } => "shapes do not broadcast",
            ShapeError::MatmulScalar { .. } => "a scalar",
            ShapeError::Matmul { .. } => "inner sizes differ",
            ShapeError::DimRange { .. } => "no such dim",
            ShapeError::DimTwice { .. } => "repeated dim",
            ShapeError::Permutation { .. } => "not a permutation",
            ShapeError::JoinEmpty { .. } => "empty list",
            ShapeError::Join { .. } | ShapeError::CatScalar { .. } => "shapes do not fit",
            ShapeError::Overflow => "too large",
        }
    }

    /// How to fix it.
    pub fn help(&self) -> String {
        match self {
            ShapeError::Broadcast { .. } => {
                "sizes must be equal or 1 in each dimension, counting from the right".into()
            }
            ShapeError::MatmulScalar { .. } => "multiply a scalar with `*`".into(),
            ShapeError::Matmul { a, b } => {
                let inner_a = if a.len() == 1 { a[0] } else { a[a.len() - 1] };
                let inner_b = if b.len() == 1 { b[0] } else { b[b.len() - 2] };
                if inner_a != inner_b {
                    format!(
                        "A @ B needs A's last size ({inner_a}) to equal B's {} ({inner_b})",
                        if b.len() == 1 {
                            "size"
                        } else {
                            "second-to-last size"
                        }
                    )
                } else {
                    "the leading (batch) dims must broadcast: equal or 1, counting from the right"
                        .into()
                }
            }
            ShapeError::DimRange { rank, .. } => {
                let r = (*rank).max(1) as i64;
                format!(
                    "dims go from {} to {} (negative dims count from the end)",
                    -r,
                    r - 1
                )
            }
            ShapeError::DimTwice { .. } => "name each dim once".into(),
            ShapeError::Permutation { rank, .. } => format!(
                "for example X.permute({})",
                (0..*rank)
                    .rev()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ShapeError::JoinEmpty { op } => format!("write `{op}([A, B], dim=0)`"),
            ShapeError::Join { op, .. } if *op == "cat" => {
                "cat joins along an existing dim; stack([A, B]) adds a new one".into()
            }
            ShapeError::Join { .. } => {
                "stack adds a new dim; cat joins along an existing one".into()
            }
            ShapeError::CatScalar { .. } => "stack scalars with stack([a, b])".into(),
            ShapeError::Overflow => "use smaller sizes".into(),
        }
    }
}

/// A shape in messages: `2x3`, or `a scalar`.
fn shape_text(d: &[usize]) -> String {
    if d.is_empty() {
        "a scalar".into()
    } else {
        dims_string(d)
    }
}

/// The number of elements of a shape, `None` when it overflows.
pub fn numel(shape: &[usize]) -> Option<u64> {
    shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
}

/// The broadcast of two shapes (NumPy's and PyTorch's rule), `None` when
/// they do not broadcast.
pub fn broadcast(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let at = |s: &[usize], i: usize| {
        if i + s.len() >= n {
            s[i + s.len() - n]
        } else {
            1
        }
    };
    (0..n)
        .map(|i| match (at(a, i), at(b, i)) {
            (x, y) if x == y || y == 1 => Some(x),
            (1, y) => Some(y),
            _ => None,
        })
        .collect()
}

/// [`broadcast`] as an error naming the operation.
pub fn broadcast_for(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>, ShapeError> {
    broadcast(a, b).ok_or_else(|| ShapeError::Broadcast {
        op,
        a: a.to_vec(),
        b: b.to_vec(),
    })
}

/// A `dim` argument in `[-rank, rank)` as an index; a 0-d tensor takes
/// dims 0 and -1, as in PyTorch.
pub fn normalize_dim(dim: i64, rank: usize) -> Result<usize, ShapeError> {
    let r = rank.max(1) as i64;
    let d = if dim < 0 { dim + r } else { dim };
    if (0..r).contains(&d) {
        Ok(d.min(rank.saturating_sub(1) as i64).max(0) as usize)
    } else {
        Err(ShapeError::DimRange { dim, rank })
    }
}

/// Several dims, each once.
pub fn normalize_dims(dims: &[i64], rank: usize) -> Result<Vec<usize>, ShapeError> {
    let mut out: Vec<usize> = Vec::with_capacity(dims.len());
    for &d in dims {
        let n = normalize_dim(d, rank)?;
        if out.contains(&n) {
            return Err(ShapeError::DimTwice { dim: n });
        }
        out.push(n);
    }
    Ok(out)
}

/// The shape of a reduction: `dim` dropped (kept as 1 with `keepdim`);
/// without a dim, a scalar (every dim kept as 1 with `keepdim`).
pub fn reduce(shape: &[usize], dim: Option<usize>, keepdim: bool) -> Vec<usize> {
    match (dim, keepdim) {
        (None, false) => vec![],
        (None, true) => vec![1; shape.len()],
        (Some(_), _) if shape.is_empty() => vec![],
        (Some(d), false) => [&shape[..d], &shape[d + 1..]].concat(),
        (Some(d), true) => {
            let mut s = shape.to_vec();
            s[d] = 1;
            s
        }
    }
}

/// `torch.matmul`'s shape: 1-D·1-D is a dot product, a 1-D left (right)
/// operand is a row (column) removed afterwards, and leading dims broadcast.
pub fn matmul(a: &[usize], b: &[usize]) -> Result<Vec<usize>, ShapeError> {
    let fail = || ShapeError::Matmul {
        a: a.to_vec(),
        b: b.to_vec(),
    };
    if a.is_empty() || b.is_empty() {
        return Err(ShapeError::MatmulScalar {
            a: a.to_vec(),
            b: b.to_vec(),
        });
    }
    let (n, k_a, batch_a) = match a {
        [k] => (None, *k, &[][..]),
        [batch @ .., n, k] => (Some(*n), *k, batch),
        [] => return Err(fail()),
    };
    let (k_b, p, batch_b) = match b {
        [k] => (*k, None, &[][..]),
        [batch @ .., k, p] => (*k, Some(*p), batch),
        [] => return Err(fail()),
    };
    if k_a != k_b {
        return Err(fail());
    }
    let mut out = broadcast(batch_a, batch_b).ok_or_else(fail)?;
    out.extend(n);
    out.extend(p);
    Ok(out)
}

/// `cat(tensors, dim)`: equal ranks, equal sizes except along `dim`.
pub fn cat(shapes: &[&[usize]], dim: i64) -> Result<(Vec<usize>, usize), ShapeError> {
    let first = shapes.first().ok_or(ShapeError::JoinEmpty { op: "cat" })?;
    if let Some(index) = shapes.iter().position(|s| s.is_empty()) {
        return Err(ShapeError::CatScalar { index });
    }
    let d = normalize_dim(dim, first.len())?;
    let mut out = first.to_vec();
    for (index, s) in shapes.iter().enumerate().skip(1) {
        let fits = s.len() == first.len()
            && s.iter()
                .zip(first.iter())
                .enumerate()
                .all(|(i, (x, y))| i == d || x == y);
        if !fits {
            return Err(ShapeError::Join {
                op: "cat",
                index,
                first: first.to_vec(),
                other: s.to_vec(),
                dim: d,
            });
        }
        out[d] = out[d].checked_add(s[d]).ok_or(ShapeError::Overflow)?;
    }
    Ok((out, d))
}

/// `stack(tensors, dim)`: equal shapes; a new dim of size `len` at `dim`
/// (in `[-(rank+1), rank]`).
pub fn stack(shapes: &[&[usize]], dim: i64) -> Result<(Vec<usize>, usize), ShapeError> {
    let first = shapes
        .first()
        .ok_or(ShapeError::JoinEmpty { op: "stack" })?;
    let d = normalize_dim(dim, first.len() + 1)?;
    if let Some(index) = shapes.iter().position(|s| s != first) {
        return Err(ShapeError::Join {
            op: "stack",
            index,
            first: first.to_vec(),
            other: shapes[index].to_vec(),
            dim: d,
        });
    }
    let mut out = first.to_vec();
    out.insert(d, shapes.len());
    Ok((out, d))
}

/// `permute(dims)`: every dim once, in a new order.
pub fn permute(shape: &[usize], dims: &[i64]) -> Result<(Vec<usize>, Vec<usize>), ShapeError> {
    if dims.len() != shape.len() {
        return Err(ShapeError::Permutation {
            given: dims.len(),
            rank: shape.len(),
        });
    }
    let order = normalize_dims(dims, shape.len())?;
    Ok((order.iter().map(|&d| shape[d]).collect(), order))
}

/// `.T`: the dims reversed (a 2-D transpose; 0-D and 1-D unchanged).
pub fn transpose(shape: &[usize]) -> Vec<usize> {
    shape.iter().rev().copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_counts_from_the_right() {
        assert_eq!(broadcast(&[2, 1, 3], &[4, 1]), Some(vec![2, 4, 3]));
        assert_eq!(broadcast(&[], &[2, 3]), Some(vec![2, 3]));
        assert_eq!(broadcast(&[2, 3], &[3, 2]), None);
        assert_eq!(broadcast(&[0], &[1]), Some(vec![0]));
    }

    #[test]
    fn matmul_follows_torch_matmul() {
        // shapes from torch.matmul: (3,)@(3,) -> (), (2,3)@(3,) -> (2,),
        // (3,)@(3,4) -> (4,), (5,1,2,3)@(4,3,6) -> (5,4,2,6)
        assert_eq!(matmul(&[3], &[3]), Ok(vec![]));
        assert_eq!(matmul(&[2, 3], &[3]), Ok(vec![2]));
        assert_eq!(matmul(&[3], &[3, 4]), Ok(vec![4]));
        assert_eq!(matmul(&[5, 1, 2, 3], &[4, 3, 6]), Ok(vec![5, 4, 2, 6]));
        assert!(matches!(
            matmul(&[2, 3], &[2, 3]),
            Err(ShapeError::Matmul { .. })
        ));
        assert!(matches!(
            matmul(&[], &[3]),
            Err(ShapeError::MatmulScalar { .. })
        ));
        let e = matmul(&[2, 3], &[4, 5]).unwrap_err();
        assert!(
            e.help().contains("(3)") && e.help().contains("(4)"),
            "{}",
            e.help()
        );
    }

    #[test]
    fn dims_wrap_as_in_pytorch() {
        assert_eq!(normalize_dim(-1, 3), Ok(2));
        assert_eq!(normalize_dim(0, 0), Ok(0));
        assert_eq!(normalize_dim(-1, 0), Ok(0));
        assert_eq!(
            normalize_dim(3, 3),
            Err(ShapeError::DimRange { dim: 3, rank: 3 })
        );
        assert_eq!(
            normalize_dims(&[0, -2], 2),
            Err(ShapeError::DimTwice { dim: 0 })
        );
        assert_eq!(reduce(&[2, 3, 4], Some(1), false), vec![2, 4]);
        assert_eq!(reduce(&[2, 3, 4], Some(1), true), vec![2, 1, 4]);
        assert_eq!(reduce(&[2, 3], None, true), vec![1, 1]);
        assert_eq!(reduce(&[], Some(0), true), Vec::<usize>::new());
    }

    #[test]
    fn cat_stack_and_permute() {
        assert_eq!(cat(&[&[2, 3], &[2, 4]], 1), Ok((vec![2, 7], 1)));
        assert!(matches!(
            cat(&[&[2, 3], &[3, 3]], 1),
            Err(ShapeError::Join { index: 1, .. })
        ));
        assert!(matches!(
            cat(&[&[2, 3], &[]], 0),
            Err(ShapeError::CatScalar { index: 1 })
        ));
        assert_eq!(stack(&[&[2], &[2]], -1), Ok((vec![2, 2], 1)));
        assert_eq!(
            stack(&[&[2, 3], &[2, 3], &[2, 3]], 0),
            Ok((vec![3, 2, 3], 0))
        );
        assert!(stack(&[], 0).is_err());
        assert_eq!(
            permute(&[1, 2, 3, 4], &[0, 2, 3, 1]),
            Ok((vec![1, 3, 4, 2], vec![0, 2, 3, 1]))
        );
        assert!(matches!(
            permute(&[1, 2], &[0]),
            Err(ShapeError::Permutation { given: 1, rank: 2 })
        ));
        assert_eq!(transpose(&[2, 3, 4]), vec![4, 3, 2]);
    }
}

//! Elementwise arithmetic (`+ - * /`) and comparisons (`== != < <= > >=`)
//! with broadcasting and PyTorch's dtype promotion: two operands compute in
//! the later of their kinds (bool < int < float); `/` is true division
//! (always float); comparisons give bool tensors; `+` and `*` of two bool
//! tensors are `or` and `and`, and `-` of bools is refused, as in PyTorch.

use ndarray::{ArrayD, IxDyn, Zip};

use super::shape::broadcast_for;
use super::{bools, floats, guard, ints, tensor_value, Kind, OpError, ShapeError};
use crate::syntax::ast::BinOp;
use crate::value::Value;

/// `a op b` for an arithmetic operator or a comparison (not `@`).
pub fn binary(op: BinOp, a: &Value, b: &Value) -> Result<Value, OpError> {
    let (Some(ka), Some(kb)) = (Kind::of(a), Kind::of(b)) else {
        return Err(OpError::Dtype {
            message: format!("`{}` needs tensors, not a bundle", op.symbol()),
            help: "pick one of its arrays with `.name`".into(),
        });
    };
    let (a, b) = (tensor_of(a), tensor_of(b));
    let shape = broadcast_for(op.symbol(), shape_of(&a), shape_of(&b))?;
    let kind = ka.max(kb);
    if op.is_comparison() {
        guard(&shape, Kind::Bool.item_bytes(), "a comparison")?;
        let out = match kind {
            Kind::Float => zip(&floats(&a), &floats(&b), &shape, |x, y| compare(op, x, y))?,
            Kind::Int | Kind::Bool => zip(&ints(&a), &ints(&b), &shape, |x, y| compare(op, x, y))?,
        };
        return Ok(Value::Bool(out));
    }
    let kind = if op == BinOp::Div { Kind::Float } else { kind };
    guard(
        &shape,
        kind.item_bytes(),
        &format!("the result of `{}`", op.symbol()),
    )?;
    Ok(match kind {
        Kind::Float => Value::Float(zip(&floats(&a), &floats(&b), &shape, |x, y| {
            float_arith(op, x, y)
        })?),
        Kind::Int => Value::Int(zip(&ints(&a), &ints(&b), &shape, |x, y| {
            int_arith(op, x, y)
        })?),
        Kind::Bool => {
            let (x, y) = (bools(&a), bools(&b));
            match op {
                BinOp::Add => Value::Bool(zip(&x, &y, &shape, |p, q| p || q)?),
                BinOp::Mul => Value::Bool(zip(&x, &y, &shape, |p, q| p && q)?),
                _ => {
                    return Err(OpError::Dtype {
                        message: format!("`{}` of two bool tensors is not defined", op.symbol()),
                        help: "convert them first: `A.float() - B.float()`".into(),
                    })
                }
            }
        }
    })
}

/// `-a`: integers and floats negate; a bool tensor is refused, as in PyTorch.
pub fn neg(a: Value) -> Result<Value, OpError> {
    match tensor_value(a) {
        Some(Value::Float(x)) => Ok(Value::Float(-x)),
        Some(Value::Int(x)) => Ok(Value::Int(x.mapv(i64::wrapping_neg))),
        Some(Value::Bool(_)) => Err(OpError::Dtype {
            message: "`-` of a bool tensor is not defined".into(),
            help: "to flip a 0/1 mask write `1 - M.float()`".into(),
        }),
        _ => Err(OpError::Dtype {
            message: "`-` needs a tensor".into(),
            help: "pick one of its arrays with `.name`".into(),
        }),
    }
}

/// A tensor value (shapes and counts as integer tensors).
fn tensor_of(v: &Value) -> Value {
    tensor_value(v.clone()).unwrap_or_else(|| Value::Float(ArrayD::zeros(IxDyn(&[0]))))
}

fn shape_of(v: &Value) -> &[usize] {
    v.shape().unwrap_or(&[])
}

/// `f` over the broadcast of `a` and `b` to `shape`.
fn zip<A: Copy, B: Copy, C>(
    a: &ArrayD<A>,
    b: &ArrayD<B>,
    shape: &[usize],
    f: impl Fn(A, B) -> C,
) -> Result<ArrayD<C>, OpError> {
    let fail = || {
        OpError::Shape(ShapeError::Broadcast {
            op: "elementwise",
            a: a.shape().to_vec(),
            b: b.shape().to_vec(),
        })
    };
    let av = a.broadcast(IxDyn(shape)).ok_or_else(fail)?;
    let bv = b.broadcast(IxDyn(shape)).ok_or_else(fail)?;
    Ok(Zip::from(&av).and(&bv).map_collect(|&x, &y| f(x, y)))
}

fn compare<T: PartialOrd>(op: BinOp, x: T, y: T) -> bool {
    match op {
        BinOp::Eq => x == y,
        BinOp::Ne => x != y,
        BinOp::Lt => x < y,
        BinOp::Le => x <= y,
        BinOp::Gt => x > y,
        BinOp::Ge => x >= y,
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::MatMul => {
            unreachable!("not a comparison")
        }
    }
}

fn float_arith(op: BinOp, x: f32, y: f32) -> f32 {
    match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x * y,
        _ => x / y,
    }
}

/// Integer arithmetic wraps on overflow, as PyTorch's int64 does.
fn int_arith(op: BinOp, x: i64, y: i64) -> i64 {
    match op {
        BinOp::Add => x.wrapping_add(y),
        BinOp::Sub => x.wrapping_sub(y),
        _ => x.wrapping_mul(y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(shape: &[usize], v: &[f32]) -> Value {
        Value::Float(ArrayD::from_shape_vec(IxDyn(shape), v.to_vec()).unwrap())
    }
    fn i(shape: &[usize], v: &[i64]) -> Value {
        Value::Int(ArrayD::from_shape_vec(IxDyn(shape), v.to_vec()).unwrap())
    }
    fn b(shape: &[usize], v: &[bool]) -> Value {
        Value::Bool(ArrayD::from_shape_vec(IxDyn(shape), v.to_vec()).unwrap())
    }

    #[test]
    fn promotion_follows_pytorch() {
        // torch: b=tensor([True,False]); i=tensor([1,2])
        // b+b -> tensor([ True, False]); b*b -> tensor([ True, False]); b+1 -> tensor([2, 1])
        // i/2 -> tensor([0.5000, 1.0000]); i+b -> tensor([2, 2]); i*f -> float
        let bb = b(&[2], &[true, false]);
        let ii = i(&[2], &[1, 2]);
        let one = i(&[], &[1]);
        assert_eq!(binary(BinOp::Add, &bb, &bb).unwrap(), bb);
        assert_eq!(binary(BinOp::Mul, &bb, &bb).unwrap(), bb);
        assert_eq!(binary(BinOp::Add, &bb, &one).unwrap(), i(&[2], &[2, 1]));
        assert_eq!(
            binary(BinOp::Div, &ii, &i(&[], &[2])).unwrap(),
            f(&[2], &[0.5, 1.0])
        );
        assert_eq!(binary(BinOp::Add, &ii, &bb).unwrap(), i(&[2], &[2, 2]));
        assert_eq!(
            binary(BinOp::Mul, &ii, &f(&[2], &[1.0, 2.0])).unwrap(),
            f(&[2], &[1.0, 4.0])
        );
        assert!(matches!(
            binary(BinOp::Sub, &bb, &bb),
            Err(OpError::Dtype { .. })
        ));
        assert!(matches!(neg(bb), Err(OpError::Dtype { .. })));
        assert_eq!(neg(ii).unwrap(), i(&[2], &[-1, -2]));
    }

    #[test]
    fn comparisons_broadcast_to_bool() {
        // torch: tensor([[0.2, 0.7], [0.9, 0.1]]) > 0.5 -> [[False, True], [True, False]]
        let x = f(&[2, 2], &[0.2, 0.7, 0.9, 0.1]);
        let half = f(&[], &[0.5]);
        assert_eq!(
            binary(BinOp::Gt, &x, &half).unwrap(),
            b(&[2, 2], &[false, true, true, false])
        );
        let col = f(&[2, 1], &[0.2, 0.1]);
        assert_eq!(
            binary(BinOp::Le, &x, &col).unwrap(),
            b(&[2, 2], &[true, false, false, true])
        );
        // torch: tensor([1, 2]) == 1.0 -> tensor([ True, False])
        assert_eq!(
            binary(BinOp::Eq, &i(&[2], &[1, 2]), &f(&[], &[1.0])).unwrap(),
            b(&[2], &[true, false])
        );
        let nan = f(&[1], &[f32::NAN]);
        assert_eq!(binary(BinOp::Ne, &nan, &nan).unwrap(), b(&[1], &[true]));
        assert!(matches!(
            binary(BinOp::Eq, &f(&[2, 3], &[0.0; 6]), &f(&[3, 2], &[0.0; 6])),
            Err(OpError::Shape(ShapeError::Broadcast { op: "==", .. }))
        ));
    }
}

//! Tensor operations on values, as PyTorch defines them: arithmetic and
//! comparisons with broadcasting and dtype promotion, `matmul`, reductions
//! with `dim`/`keepdim`, `cat`/`stack`, `flip`, `.T` and `permute`.
//! These are data-side operations: no gradients flow through them.
//!
//! Each operation checks its shapes with the rule in [`shape`] (the checker
//! uses the same rules) and asks the memory guard, [`guard`], before it
//! allocates its result.

pub mod elementwise;
pub mod join;
pub mod layout;
pub mod matmul;
pub mod reduce;
pub mod shape;

use ndarray::{ArrayD, IxDyn};

use crate::io::IoError;
use crate::value::{dims_string, Value};
pub use shape::ShapeError;

/// Why a tensor operation failed.
#[derive(Debug)]
pub enum OpError {
    /// The shapes do not fit the operation's rule.
    Shape(ShapeError),
    /// The operation does not take this dtype (`-` of bool tensors).
    Dtype { message: String, help: String },
    /// The result would not fit in memory.
    Alloc(IoError),
}

impl From<ShapeError> for OpError {
    fn from(e: ShapeError) -> Self {
        OpError::Shape(e)
    }
}

impl From<IoError> for OpError {
    fn from(e: IoError) -> Self {
        OpError::Alloc(e)
    }
}

/// The memory guard of every tensor operation: refuse a result of `shape`
/// (with `item_bytes` per element) that would not fit, naming it as `what`
/// of that shape.
pub fn guard(shape: &[usize], item_bytes: u64, what: &str) -> Result<(), OpError> {
    let n = shape::numel(shape).ok_or(ShapeError::Overflow)?;
    let bytes = n.checked_mul(item_bytes).ok_or(ShapeError::Overflow)?;
    crate::io::check_alloc_bytes(bytes, &format!("{what} of shape {}", dims_string(shape)))?;
    Ok(())
}

/// The dtypes, in PyTorch's promotion order: an operation on two of them
/// computes in the later one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Bool,
    Int,
    Float,
}

impl Kind {
    /// The kind of a value: shapes and counts are integers; `None` for a bundle.
    pub fn of(v: &Value) -> Option<Kind> {
        match v {
            Value::Bool(_) => Some(Kind::Bool),
            Value::Int(_) | Value::Dims(_) | Value::Count(_) => Some(Kind::Int),
            Value::Float(_) => Some(Kind::Float),
            Value::Bundle(_) => None,
        }
    }

    /// Bytes per element.
    pub fn item_bytes(self) -> u64 {
        match self {
            Kind::Bool => 1,
            Kind::Int => 8,
            Kind::Float => 4,
        }
    }
}

/// The value as a tensor: a shape is the 1-D integer tensor of its sizes, a
/// count a 0-d integer tensor; `None` for a bundle.
pub fn tensor_value(v: Value) -> Option<Value> {
    match v {
        Value::Dims(d) => Some(Value::Int(ArrayD::from_shape_fn(IxDyn(&[d.len()]), |i| {
            d[i[0]] as i64
        }))),
        Value::Count(n) => Some(Value::Int(ArrayD::from_elem(IxDyn(&[]), n))),
        Value::Bundle(_) => None,
        t => Some(t),
    }
}

/// The elements of a tensor value as `Kind::Float` (copied when converted).
pub fn floats(v: &Value) -> ArrayD<f32> {
    match v {
        Value::Float(a) => a.clone(),
        Value::Int(a) => a.mapv(|x| x as f32),
        Value::Bool(a) => a.mapv(|x| if x { 1.0 } else { 0.0 }),
        other => other
            .to_float()
            .unwrap_or_else(|| ArrayD::zeros(IxDyn(&[0]))),
    }
}

/// The elements of a tensor value as `Kind::Int` (floats truncate toward zero).
pub fn ints(v: &Value) -> ArrayD<i64> {
    match v {
        Value::Float(a) => a.mapv(|x| x as i64),
        Value::Int(a) => a.clone(),
        Value::Bool(a) => a.mapv(i64::from),
        other => match tensor_value(other.clone()) {
            Some(Value::Int(a)) => a,
            _ => ArrayD::zeros(IxDyn(&[0])),
        },
    }
}

/// The elements of a tensor value as `Kind::Bool` (nonzero is true).
pub fn bools(v: &Value) -> ArrayD<bool> {
    match v {
        Value::Bool(a) => a.clone(),
        Value::Float(a) => a.mapv(|x| x != 0.0),
        other => ints(other).mapv(|x| x != 0),
    }
}

/// A value converted to `kind` (a tensor value, see [`tensor_value`]).
pub fn to_kind(v: &Value, kind: Kind) -> Value {
    match kind {
        Kind::Float => Value::Float(floats(v)),
        Kind::Int => Value::Int(ints(v)),
        Kind::Bool => Value::Bool(bools(v)),
    }
}

/// Apply an expression generic over the element type to whichever tensor a
/// value holds, keeping its dtype: `each_dtype!(v, a => flip(a), else other => ...)`.
macro_rules! each_dtype {
    ($v:expr, $a:ident => $body:expr, else $other:ident => $fallback:expr) => {
        match $v {
            $crate::value::Value::Float($a) => $crate::value::Value::Float($body),
            $crate::value::Value::Int($a) => $crate::value::Value::Int($body),
            $crate::value::Value::Bool($a) => $crate::value::Value::Bool($body),
            $other => $fallback,
        }
    };
}
pub(crate) use each_dtype;

//! Runtime values: f32 tensors, integer tensors (class labels, indices),
//! bool tensors (comparisons), shapes and counts, and bundles of named arrays.

use std::collections::BTreeMap;
use std::fmt;

use ndarray::{ArrayD, ArrayViewD, IxDyn};

/// A value the interpreter holds: a tensor, an integer tensor or a bundle of named arrays.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An f32 tensor (every literal and computed tensor).
    Float(ArrayD<f32>),
    /// An integer tensor; class labels loaded from files stay integers.
    Int(ArrayD<i64>),
    /// A bool tensor, what a comparison gives (`X > 0.5`), as PyTorch's `torch.bool`.
    Bool(ArrayD<bool>),
    /// A tensor's shape (`X.shape`, PyTorch's `torch.Size`), written as dims: `6x8`.
    Dims(Vec<usize>),
    /// A plain integer (`X.ndim`, `X.numel`, `X.shape[0]`), printed as a number.
    Count(i64),
    /// The named arrays of an `.npz`, `.safetensors` or labelled `.csv` file.
    Bundle(BTreeMap<String, Value>),
}

/// A borrowed tensor, the unit every file writer works on (no copies needed).
#[derive(Debug, Clone)]
pub enum TensorRef<'a> {
    /// Stored as f32 (`<f4`, `F32`).
    Float(ArrayViewD<'a, f32>),
    /// Stored as i64 (`<i8`, `I64`), e.g. `num_batches_tracked`.
    Int(ArrayViewD<'a, i64>),
    /// Stored as one byte, 0 or 1 (`|b1`, `BOOL`).
    Bool(ArrayViewD<'a, bool>),
}

impl Value {
    /// The tensor's shape, or `None` for a bundle, a shape or a count.
    pub fn shape(&self) -> Option<&[usize]> {
        match self {
            Value::Float(a) => Some(a.shape()),
            Value::Int(a) => Some(a.shape()),
            Value::Bool(a) => Some(a.shape()),
            Value::Dims(_) | Value::Count(_) | Value::Bundle(_) => None,
        }
    }

    /// The kind of value in words, for messages: "tensor", "integer tensor", "bundle"...
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Float(_) => "tensor",
            Value::Int(_) => "integer tensor",
            Value::Bool(_) => "bool tensor",
            Value::Dims(_) => "shape",
            Value::Count(_) => "number",
            Value::Bundle(_) => "bundle",
        }
    }

    /// The dtype as PyTorch names it (`float32`, `int64`, `bool`), for tensors.
    pub fn dtype_name(&self) -> Option<&'static str> {
        match self {
            Value::Float(_) => Some("float32"),
            Value::Int(_) => Some("int64"),
            Value::Bool(_) => Some("bool"),
            Value::Dims(_) | Value::Count(_) | Value::Bundle(_) => None,
        }
    }

    /// The value as an f32 tensor, or `None` for a bundle: integers and bools
    /// convert, a shape is the 1-D tensor of its sizes, a count a scalar.
    pub fn to_float(&self) -> Option<ArrayD<f32>> {
        match self {
            Value::Float(a) => Some(a.clone()),
            other => other.clone().into_float(),
        }
    }

    /// [`Value::to_float`] without copying a float tensor.
    pub fn into_float(self) -> Option<ArrayD<f32>> {
        match self {
            Value::Float(a) => Some(a),
            Value::Int(a) => Some(a.mapv(|v| v as f32)),
            Value::Bool(a) => Some(a.mapv(|v| if v { 1.0 } else { 0.0 })),
            Value::Dims(d) => Some(ArrayD::from_shape_fn(IxDyn(&[d.len()]), |i| d[i[0]] as f32)),
            Value::Count(n) => Some(ArrayD::from_elem(IxDyn(&[]), n as f32)),
            Value::Bundle(_) => None,
        }
    }

    /// Number of elements of a tensor; for a bundle, the total over its arrays;
    /// a shape counts its sizes, a count is one.
    pub fn len(&self) -> usize {
        match self {
            Value::Float(a) => a.len(),
            Value::Int(a) => a.len(),
            Value::Bool(a) => a.len(),
            Value::Dims(d) => d.len(),
            Value::Count(_) => 1,
            Value::Bundle(m) => m.values().map(Value::len).sum(),
        }
    }

    /// True when the value holds no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The named array of a bundle (`D.x`), or `None`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Bundle(m) => m.get(name),
            _ => None,
        }
    }

    /// A compact shape such as `4x2x3x5` (`scalar` for rank 0, or the kind of a
    /// value that is not a tensor).
    pub fn dims_string(&self) -> String {
        match self.shape() {
            Some(shape) => dims_string(shape),
            None => self.type_name().to_string(),
        }
    }

    /// A borrowed view of a tensor, or `None` for other values.
    pub fn as_tensor_ref(&self) -> Option<TensorRef<'_>> {
        match self {
            Value::Float(a) => Some(TensorRef::Float(a.view())),
            Value::Int(a) => Some(TensorRef::Int(a.view())),
            Value::Bool(a) => Some(TensorRef::Bool(a.view())),
            Value::Dims(_) | Value::Count(_) | Value::Bundle(_) => None,
        }
    }
}

impl TensorRef<'_> {
    /// The tensor's shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            TensorRef::Float(a) => a.shape(),
            TensorRef::Int(a) => a.shape(),
            TensorRef::Bool(a) => a.shape(),
        }
    }

    /// Bytes per element.
    pub fn item_bytes(&self) -> u64 {
        match self {
            TensorRef::Float(_) => 4,
            TensorRef::Int(_) => 8,
            TensorRef::Bool(_) => 1,
        }
    }

    /// The numpy dtype string: `<f4`, `<i8`, `|b1`.
    pub fn npy_descr(&self) -> &'static str {
        match self {
            TensorRef::Float(_) => "<f4",
            TensorRef::Int(_) => "<i8",
            TensorRef::Bool(_) => "|b1",
        }
    }

    /// The safetensors dtype: `F32`, `I64`, `BOOL`.
    pub fn safetensors_dtype(&self) -> &'static str {
        match self {
            TensorRef::Float(_) => "F32",
            TensorRef::Int(_) => "I64",
            TensorRef::Bool(_) => "BOOL",
        }
    }
}

impl<'a> From<&'a ArrayD<f32>> for TensorRef<'a> {
    fn from(a: &'a ArrayD<f32>) -> Self {
        TensorRef::Float(a.view())
    }
}

impl<'a> From<&'a ArrayD<i64>> for TensorRef<'a> {
    fn from(a: &'a ArrayD<i64>) -> Self {
        TensorRef::Int(a.view())
    }
}

impl From<ArrayD<f32>> for Value {
    fn from(a: ArrayD<f32>) -> Self {
        Value::Float(a)
    }
}

impl From<ArrayD<bool>> for Value {
    fn from(a: ArrayD<bool>) -> Self {
        Value::Bool(a)
    }
}

impl From<ArrayD<i64>> for Value {
    fn from(a: ArrayD<i64>) -> Self {
        Value::Int(a)
    }
}

/// A shape written as dims, `4x2x3x5`; rank 0 is `scalar`. The one place
/// a shape becomes text in messages (sizes as `usize` or `u64`).
pub fn dims_string<D: fmt::Display>(shape: &[D]) -> String {
    if shape.is_empty() {
        return "scalar".to_string();
    }
    shape
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("x")
}

/// A shape in a sentence: [`dims_string`], but `a scalar` for rank 0.
pub fn shape_words<D: fmt::Display>(shape: &[D]) -> String {
    if shape.is_empty() {
        "a scalar".into()
    } else {
        dims_string(shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        let v = Value::Float(ArrayD::zeros(IxDyn(&[4, 2, 3, 5])));
        assert_eq!(v.dims_string(), "4x2x3x5");
        assert_eq!(v.type_name(), "tensor");
        assert_eq!(v.len(), 120);
        let i = Value::Int(ArrayD::from_shape_vec(IxDyn(&[3]), vec![1, 2, 3]).unwrap());
        assert_eq!(i.type_name(), "integer tensor");
        assert_eq!(i.to_float().unwrap().as_slice().unwrap(), &[1.0, 2.0, 3.0]);
        assert_eq!(i.clone().into_float(), i.to_float());
        let b = Value::Bundle(BTreeMap::from([("y".to_string(), i.clone())]));
        assert_eq!(b.type_name(), "bundle");
        assert_eq!(b.get("y"), Some(&i));
        assert!(b.shape().is_none() && b.to_float().is_none());
        assert_eq!(dims_string::<usize>(&[]), "scalar");
        assert_eq!(shape_words::<u64>(&[]), "a scalar");
        assert_eq!(shape_words(&[2u64, 3]), "2x3");
    }
}

//! Indexing and slicing with Python's rules: `X[0]`, `X[:, 1]`, `X[0:100]`,
//! negative indices from the end, out-of-range slice bounds clamped.

use ndarray::SliceInfoElem;

use super::error::{RunError, RunResult};
use super::Interp;
use crate::syntax::ast::{Expr, IndexItem, Span};
use crate::value::Value;

impl Interp {
    /// Evaluate index items to slice elements (Python rules, negatives from the end).
    pub fn eval_index(&mut self, items: &[IndexItem]) -> RunResult<Vec<(IndexSpec, Span)>> {
        let mut out = Vec::new();
        for it in items {
            match it {
                IndexItem::Single(e) => out.push((IndexSpec::Single(self.eval_int(e)?), e.span)),
                IndexItem::Slice {
                    start,
                    stop,
                    step,
                    span,
                } => {
                    let mut get = |e: &Option<Expr>| -> RunResult<Option<i64>> {
                        match e {
                            Some(e) => self.eval_int(e).map(Some),
                            None => Ok(None),
                        }
                    };
                    let (a, b, c) = (get(start)?, get(stop)?, get(step)?);
                    if c == Some(0) {
                        return Err(RunError::new(
                            "slice step cannot be zero",
                            *span,
                            "zero step",
                        ));
                    }
                    out.push((IndexSpec::Slice(a, b, c.unwrap_or(1)), *span));
                }
            }
        }
        Ok(out)
    }
}

/// One evaluated index item.
#[derive(Clone, Copy, Debug)]
pub enum IndexSpec {
    Single(i64),
    Slice(Option<i64>, Option<i64>, i64),
}

/// Convert to ndarray slice elements, checking bounds like Python.
pub fn slice_info(shape: &[usize], items: &[(IndexSpec, Span)]) -> RunResult<Vec<SliceInfoElem>> {
    if items.len() > shape.len() {
        let span = items[shape.len()].1;
        return Err(RunError::new(
            format!(
                "too many indices: the tensor has {} dimensions",
                shape.len()
            ),
            span,
            "extra index",
        ));
    }
    let mut elems = Vec::new();
    for (d, (it, span)) in items.iter().enumerate() {
        let n = shape[d] as i64;
        match *it {
            IndexSpec::Single(i) => {
                let j = if i < 0 { n + i } else { i };
                if j < 0 || j >= n {
                    return Err(RunError::new(
                        format!("index {i} is out of range for dimension {d} of size {n}"),
                        *span,
                        "out of range",
                    ));
                }
                elems.push(SliceInfoElem::Index(j as isize));
            }
            IndexSpec::Slice(a, b, step) => {
                // Python clamps slice bounds; ndarray takes start/end with negatives from the end.
                let clamp = |v: i64| -> i64 {
                    let v = if v < 0 { n + v } else { v };
                    v.clamp(0, n)
                };
                let (s, e) = if step > 0 {
                    (a.map(clamp).unwrap_or(0), b.map(clamp).unwrap_or(n))
                } else {
                    return Err(RunError::new(
                        "negative slice steps are not supported",
                        *span,
                        "negative step",
                    ));
                };
                let e = e.max(s);
                elems.push(SliceInfoElem::Slice {
                    start: s as isize,
                    end: Some(e as isize),
                    step: step as isize,
                });
            }
        }
    }
    for _ in items.len()..shape.len() {
        elems.push(SliceInfoElem::Slice {
            start: 0,
            end: None,
            step: 1,
        });
    }
    Ok(elems)
}

/// `v[items]`: a copy of the selected part; a bundle indexes every array
/// alike; a shape's items are counts (`X.shape[0]`).
pub(super) fn index_value(v: &Value, items: &[(IndexSpec, Span)]) -> RunResult<Value> {
    match v {
        Value::Float(a) => {
            let info = slice_info(a.shape(), items)?;
            Ok(Value::Float(a.slice(info.as_slice()).to_owned()))
        }
        Value::Int(a) => {
            let info = slice_info(a.shape(), items)?;
            Ok(Value::Int(a.slice(info.as_slice()).to_owned()))
        }
        Value::Bool(a) => {
            let info = slice_info(a.shape(), items)?;
            Ok(Value::Bool(a.slice(info.as_slice()).to_owned()))
        }
        Value::Dims(d) => {
            let sizes =
                ndarray::ArrayD::from_shape_fn(ndarray::IxDyn(&[d.len()]), |i| d[i[0]] as i64);
            let info = slice_info(sizes.shape(), items)?;
            let picked = sizes.slice(info.as_slice());
            Ok(match picked.ndim() {
                0 => Value::Count(picked.iter().next().copied().unwrap_or(0)),
                _ => Value::Dims(picked.iter().map(|&n| n as usize).collect()),
            })
        }
        Value::Count(_) => Err(RunError::new(
            "a number cannot be indexed",
            items.first().map_or(Span::default(), |i| i.1),
            "not a tensor",
        )),
        Value::Bundle(m) => {
            // index every array alike along its first dims: D[0:100]
            let mut out = std::collections::BTreeMap::new();
            for (k, a) in m {
                out.insert(k.clone(), index_value(a, items)?);
            }
            Ok(Value::Bundle(out))
        }
    }
}

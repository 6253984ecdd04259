//! Indexing and slicing with Python's rules: `X[0]`, `X[:, 1]`, `X[0:100]`,
//! negative indices from the end, out-of-range slice bounds clamped.

use ndarray::SliceInfoElem;

use super::error::{RunError, RunResult};
use super::Interp;
use crate::ir::value_shape::{self, Picked};
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
                    out.push((IndexSpec::Slice(a, b, c.unwrap_or(1)), *span));
                }
            }
        }
        Ok(out)
    }
}

pub use crate::ir::value_shape::IndexSpec;

/// Convert to ndarray slice elements, checking bounds like Python.
pub fn slice_info(shape: &[usize], items: &[(IndexSpec, Span)]) -> RunResult<Vec<SliceInfoElem>> {
    let specs: Vec<IndexSpec> = items.iter().map(|(s, _)| *s).collect();
    let picked = value_shape::index(shape, &specs).map_err(|e| {
        let span = items.get(e.item).map_or(Span::default(), |i| i.1);
        RunError::new(e.message, span, e.label)
    })?;
    Ok(picked
        .into_iter()
        .map(|p| match p {
            Picked::One(i) => SliceInfoElem::Index(i as isize),
            Picked::Range { start, end, step } => SliceInfoElem::Slice {
                start: start as isize,
                end: Some(end as isize),
                step: step as isize,
            },
        })
        .collect())
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

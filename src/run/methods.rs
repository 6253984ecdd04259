//! Tensor methods (`X.reshape(2x3)`, `X.sum()`...), dispatched from the
//! table in [`crate::ir::builtins`].

use ndarray::{ArrayD, IxDyn};

use super::builtins::Args;
use super::error::{RunError, RunResult};
use super::eval::{not_tensor, scalar};
use super::Interp;
use crate::ir::builtins::{BuiltinSpec, Method};
use crate::ir::value_shape;
use crate::syntax::ast::{Expr, Span};
use crate::value::{shape_words, Value};

impl Interp {
    /// Call method `m` (its table entry `spec`) on the value `v`.
    pub(super) fn call_method(
        &mut self,
        v: Value,
        (spec, m): (&'static BuiltinSpec, Method),
        args: &[Expr],
        args_span: Span,
        span: Span,
    ) -> RunResult<Value> {
        let args = self.eval_args(spec, args, args_span, span)?;
        match m {
            Method::Reshape => reshape(v, &args),
            Method::Sum => reduce(&v, spec, span, |a| {
                a.iter().map(|x| *x as f64).sum::<f64>() as f32
            }),
            Method::Mean => reduce(&v, spec, span, |a| {
                (a.iter().map(|x| *x as f64).sum::<f64>() / a.len() as f64) as f32
            }),
            Method::Max => reduce(&v, spec, span, |a| {
                a.iter().copied().fold(f32::NEG_INFINITY, f32::max)
            }),
            Method::Min => reduce(&v, spec, span, |a| {
                a.iter().copied().fold(f32::INFINITY, f32::min)
            }),
            Method::Float => Ok(Value::Float(v.to_float().ok_or_else(|| not_tensor(span))?)),
        }
    }
}

/// A reduction of every element to one number (sums in f64).
fn reduce(
    v: &Value,
    spec: &BuiltinSpec,
    span: Span,
    f: impl Fn(&ArrayD<f32>) -> f32,
) -> RunResult<Value> {
    let a = v.to_float().ok_or_else(|| not_tensor(span))?;
    if a.is_empty() {
        return Err(RunError::new(
            format!("`.{}` of an empty tensor", spec.name),
            span,
            "empty",
        ));
    }
    Ok(scalar(f(&a)))
}

/// `.reshape(D)`: the same elements in a new shape; one `-1` is inferred,
/// as in PyTorch.
fn reshape(v: Value, args: &Args) -> RunResult<Value> {
    let dims = args.shape(0)?;
    let span = args.span_of(0);
    let shape = value_shape::reshape(v.len(), dims).ok_or_else(|| reshape_error(&v, dims, span))?;
    let reshaped = match &v {
        Value::Float(a) => a
            .as_standard_layout()
            .to_owned()
            .into_shape_with_order(IxDyn(&shape))
            .map(Value::Float),
        Value::Int(a) => a
            .as_standard_layout()
            .to_owned()
            .into_shape_with_order(IxDyn(&shape))
            .map(Value::Int),
        Value::Bundle(_) => return Err(reshape_error(&v, dims, span)),
    };
    reshaped.map_err(|_| reshape_error(&v, dims, span))
}

fn reshape_error(v: &Value, dims: &[i64], span: Span) -> RunError {
    let shape = v
        .shape()
        .map(shape_words)
        .unwrap_or_else(|| "a bundle".into());
    RunError::new(
        value_shape::reshape_message(&shape, v.len(), dims),
        span,
        "element counts differ",
    )
    .help("the new shape must hold the same number of elements")
}

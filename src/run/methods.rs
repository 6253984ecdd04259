//! Tensor methods (`X.reshape(2x3)`, `X.sum(dim=1)`, `X.flip()`...),
//! dispatched from the table in [`crate::ir::builtins`]; the operations
//! themselves are in [`crate::tensor`].

use ndarray::IxDyn;

use super::builtins::Args;
use super::error::{RunError, RunResult};
use super::eval::not_tensor;
use super::Interp;
use crate::ir::builtins::{BuiltinSpec, Method};
use crate::syntax::ast::{Expr, NamedArg, Span};
use crate::tensor::reduce::{reduce, Reduction};
use crate::value::{shape_words, Value};

impl Interp {
    /// Call method `m` (its table entry `spec`) on the value `v`.
    pub(super) fn call_method(
        &mut self,
        v: Value,
        (spec, m): (&'static BuiltinSpec, Method),
        (args, named): (&[Expr], &[NamedArg]),
        args_span: Span,
        span: Span,
    ) -> RunResult<Value> {
        let args = self.eval_args(spec, (args, named), args_span, span)?;
        let op = |r| RunError::op(r, span);
        let reduction = |r: Reduction| -> RunResult<Value> {
            reduce(&v, r, args.int(0)?, args.flag(1)?).map_err(|e| RunError::op(e, args.span_of(0)))
        };
        match m {
            Method::Reshape => reshape(v, &args),
            Method::Sum => reduction(Reduction::Sum),
            Method::Mean => reduction(Reduction::Mean),
            Method::Max => reduction(Reduction::Max),
            Method::Min => reduction(Reduction::Min),
            Method::ArgMax => reduction(Reduction::ArgMax),
            Method::ArgMin => reduction(Reduction::ArgMin),
            Method::Float => Ok(Value::Float(
                v.into_float().ok_or_else(|| not_tensor(span))?,
            )),
            Method::Flip => crate::tensor::layout::flip(v, &args.ints(0)?).map_err(op),
            Method::Permute => crate::tensor::layout::permute(v, &args.ints(0)?).map_err(op),
            Method::Numel => Ok(Value::Count(v.len() as i64)),
        }
    }
}

/// `.reshape(D)`: the same elements in a new shape; one `-1` is inferred,
/// as in PyTorch.
fn reshape(v: Value, args: &Args) -> RunResult<Value> {
    let mut dims = args.shape(0)?.to_vec();
    let span = args.span_of(0);
    let len = v.len();
    let before = v.shape().map(<[usize]>::to_vec);
    let fail = |dims: &[i64]| reshape_error(before.as_deref(), len, dims, span);
    if let Some(pos) = dims.iter().position(|d| *d < 0) {
        let known: i64 = dims.iter().filter(|d| **d >= 0).product();
        if known == 0 || len as i64 % known != 0 {
            return Err(fail(&dims));
        }
        dims[pos] = len as i64 / known;
    }
    let shape: Vec<usize> = dims.iter().map(|d| *d as usize).collect();
    let ok = shape.iter().try_fold(1usize, |a, d| a.checked_mul(*d)) == Some(len);
    if !ok || before.is_none() {
        return Err(fail(&dims));
    }
    Ok(crate::tensor::each_dtype!(v, a => a
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order(IxDyn(&shape))
        .map_err(|_| fail(&dims))?,
        else _other => return Err(fail(&dims))))
}

fn reshape_error(before: Option<&[usize]>, len: usize, dims: &[i64], span: Span) -> RunError {
    let want: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    RunError::new(
        format!(
            "cannot reshape {} ({len} elements) to {}",
            before
                .map(shape_words)
                .unwrap_or_else(|| "this value".into()),
            want.join("x")
        ),
        span,
        "element counts differ",
    )
    .help("the new shape must hold the same number of elements")
}

//! Layers applied as functions at run time: plan the call on the real
//! shapes (`ir::layer_fn`, the rules the checker applies to known shapes),
//! then run the layer's own forward (`crate::layers`) on the tensor, with
//! the weight given as data (`conv2d`, `linear`). No gradients: nothing is
//! recorded, and the layer's tensors live only for the call.

use ndarray::{ArrayD, IxDyn};

use super::builtins::Args;
use super::error::{RunError, RunResult};
use super::Interp;
use crate::ir::builtins::{BuiltinSpec, Function};
use crate::ir::layer_fn::{plan, Operands, Spans};
use crate::layers::{Buf, Fill, Forward, LayerKind, Mode, Param, Saved};
use crate::syntax::ast::Span;

impl Interp {
    /// `maxpool(X, k=2)`, `conv2d(X, K, p=1)`, `linear(X, W, B)`...
    pub(super) fn layer_fn(
        &mut self,
        (spec, f): (&'static BuiltinSpec, Function),
        args: &Args<'_>,
        span: Span,
    ) -> RunResult<ArrayD<f32>> {
        let with_weight = matches!(f, Function::Conv2d | Function::Linear);
        let x = args.tensor(0)?;
        let weight = if with_weight {
            Some(args.tensor(1)?)
        } else {
            None
        };
        let bias = if with_weight && args.given(2) {
            Some(args.tensor(2)?)
        } else {
            None
        };
        let dim = if with_weight { None } else { args.int(1)? };
        let ops = Operands {
            x: x.shape(),
            weight: weight.as_ref().map(|w| w.shape()),
            bias: bias.as_ref().map(|b| b.shape()),
            dim,
        };
        let spans = Spans {
            call: span,
            callee: Span::new(span.start, span.start + spec.name.len()),
            x: args.span_of(0),
            weight: args.span_of(1),
            bias: args.span_of(2),
            dim: args.span_of(1),
        };
        let plan = plan(spec, f, &args.layer_args, ops, spans).map_err(|mut errors| {
            errors.truncate(1);
            errors.pop().map_or_else(
                || RunError::new("this call does not fit", span, "here"),
                RunError::from_check,
            )
        })?;
        crate::tensor::guard(&plan.out, 4, &format!("the `{}` result", spec.name))
            .map_err(|e| RunError::op(e, span))?;
        let kind = &plan.layer.kind;
        let given = [weight, bias];
        let mut params: Vec<Param> = kind
            .tensors()
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                let len: usize = t.shape.iter().product();
                let data = match (with_weight, given.get(i)) {
                    (true, Some(Some(a))) => contiguous(a),
                    _ => match t.fill {
                        Fill::Const(v) => vec![v; len],
                        Fill::Init { .. } => vec![0.0; len],
                    },
                };
                Param {
                    name: t.suffix.to_string(),
                    shape: t.shape,
                    data,
                    grad: Vec::new(),
                    learnable: false,
                    integer: false,
                }
            })
            .collect();
        let ids: Vec<usize> = (0..params.len()).collect();
        let input = Buf {
            shape: plan.layer_in.clone(),
            data: contiguous(&x),
        };
        let mut output = Buf::default();
        // batchnorm as a function normalizes with the tensor's own statistics
        let mode = match kind {
            LayerKind::BatchNorm(_) => Mode::Train,
            _ => Mode::Eval,
        };
        let cx = Forward {
            x: &input,
            y: &mut output,
            params: &mut params,
            ids: &ids,
            mode,
            cut_short: false,
        };
        kind.forward(cx, &mut self.rng, &mut Saved::Nothing)
            .map_err(|m| RunError::new(m, span, "while applying this layer"))?;
        ArrayD::from_shape_vec(IxDyn(&plan.out), output.data)
            .map_err(|e| RunError::new(e.to_string(), span, "here"))
    }
}

fn contiguous(a: &ArrayD<f32>) -> Vec<f32> {
    match a.as_slice() {
        Some(s) => s.to_vec(),
        None => a.iter().copied().collect(),
    }
}

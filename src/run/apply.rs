//! Models applied to tensors: `m(X)`, `m[0:K](X)`, the input's shape
//! against the model's type, and the memory a run needs.

use ndarray::{ArrayD, IxDyn};

use super::error::{RunError, RunResult};
use super::eval::Evaluated;
use super::Interp;
use crate::ir::error::CheckError;
use crate::ir::model::Model;
use crate::syntax::ast::{Expr, ExprKind, IndexItem, Span};
use crate::value::Value;

impl Interp {
    /// `m(X)`: a model applied to one tensor.
    pub(super) fn call_model(
        &mut self,
        name: &str,
        args: &[Expr],
        span: Span,
    ) -> RunResult<Evaluated> {
        if args.len() != 1 {
            return Err(RunError::new(
                format!("a model takes one tensor, found {} arguments", args.len()),
                span,
                "wrong number of arguments",
            ));
        }
        // `m(X)` with X bound: borrow X instead of copying a large input
        if let ExprKind::Name(arg) = &args[0].kind {
            let is_float = matches!(self.tensors.get(&arg.name), Some(Value::Float(_)));
            if is_float {
                if let Some(Value::Float(x)) = self.tensors.remove(&arg.name) {
                    let out = self.apply_model(name, &x, None, span);
                    self.tensors.insert(arg.name.clone(), Value::Float(x));
                    return Ok(Evaluated::Value(Value::Float(out?)));
                }
            }
        }
        let x = self.arg_float(args, 0, span, "a tensor")?;
        let out = self.apply_model(name, &x, None, span)?;
        Ok(Evaluated::Value(Value::Float(out)))
    }

    /// `m[0:K](X)`: the first K layers of a plain model applied to a tensor.
    pub(super) fn call_model_slice(
        &mut self,
        (base, items): (&Expr, &[IndexItem]),
        callee_span: Span,
        args: &[Expr],
        span: Span,
    ) -> RunResult<Evaluated> {
        let ExprKind::Name(id) = &base.kind else {
            return Err(RunError::new(
                "only a model slice can be called",
                callee_span,
                "not callable",
            ));
        };
        if !self.models.contains_key(&id.name) {
            return Err(RunError::new(
                format!("`{}` is not a model", id.name),
                id.span,
                "not a model",
            ));
        }
        let n_layers = self.models[&id.name].ir.layers().count();
        let end = match items {
            [IndexItem::Slice {
                start,
                stop,
                step: None,
                ..
            }] => {
                // the first layers only: `m[:K]` or `m[0:K]`
                if let Some(s) = start {
                    if self.eval_int(s)? != 0 {
                        return Err(RunError::new(
                            "a model slice must start at layer 0",
                            s.span,
                            "not 0",
                        )
                        .help("write m[0:K] to run the first K layers"));
                    }
                }
                match stop {
                    Some(e) => self.eval_int(e)?,
                    None => n_layers as i64,
                }
            }
            _ => {
                return Err(RunError::new(
                    "a model slice is written m[0:K] (its first K layers)",
                    callee_span,
                    "unsupported slice",
                ))
            }
        };
        let end =
            if end < 0 { n_layers as i64 + end } else { end }.clamp(0, n_layers as i64) as usize;
        if self.models[&id.name].ir.is_graph {
            return Err(RunError::from_check(CheckError::graph_slice(callee_span)));
        }
        let x = self.arg_float(args, 0, span, "a tensor")?;
        let out = self.apply_model(&id.name, &x, Some(end), span)?;
        Ok(Evaluated::Value(Value::Float(out)))
    }

    /// Evaluate argument `i` as a float tensor.
    fn arg_float(
        &mut self,
        args: &[Expr],
        i: usize,
        span: Span,
        what: &str,
    ) -> RunResult<ArrayD<f32>> {
        match args.get(i) {
            Some(e) => self.eval_float(e),
            None => Err(RunError::new(
                format!("missing argument {}: {what}", i + 1),
                span,
                "too few arguments",
            )),
        }
    }

    /// Check an input against a model's type (see [`conform_input`]).
    pub fn conform_input(&self, name: &str, x: ArrayD<f32>, span: Span) -> RunResult<ArrayD<f32>> {
        conform_input(&self.models[name].ir, x, span)
    }

    /// Run a model forward in eval mode (optionally only its first layers).
    /// The input is borrowed: it is copied once, into the first buffer of
    /// the inference pass (`run::infer`).
    pub fn apply_model(
        &mut self,
        name: &str,
        x: &ArrayD<f32>,
        layers: Option<usize>,
        span: Span,
    ) -> RunResult<ArrayD<f32>> {
        let ir = &self
            .models
            .get(name)
            .ok_or_else(|| RunError::new("unknown model", span, "here"))?
            .ir;
        let shape = input_shape(ir, x.shape(), span)?;
        let batch = shape[0];
        let estimate = activation_bytes(ir, &shape, false);
        crate::io::check_alloc_bytes(estimate, &format!("running `{name}` on a batch of {batch}"))
            .map_err(|e| RunError::io(&e, span))?;
        let model = self
            .models
            .get_mut(name)
            .ok_or_else(|| RunError::new("unknown model", span, "here"))?;
        let fill = |buf: &mut [f32]| match x.as_slice() {
            Some(data) => crate::ops::copy(buf, data),
            None => buf.iter_mut().zip(x.iter()).for_each(|(b, &v)| *b = v),
        };
        let b = self
            .infer
            .run(model, &shape, fill, layers, &mut self.rng)
            .map_err(|msg| RunError::new(msg, span, "while running this model"))?;
        ArrayD::from_shape_vec(IxDyn(&b.shape), b.data)
            .map_err(|e| RunError::new(e.to_string(), span, "here"))
    }
}

/// The shape an input takes in a model: rank 2/3 promoted to 4 with leading
/// 1s when the model is 4-D; only the batch (and symbolic sizes) may differ
/// from the model's type.
pub fn input_shape(ir: &Model, got: &[usize], span: Span) -> RunResult<Vec<usize>> {
    crate::ir::feed::input_shape(ir, got).map_err(|e| RunError::feed(e, span))
}

/// An input in the model's rank (see [`input_shape`]), without copying when
/// it is already contiguous.
pub fn conform_input(ir: &Model, x: ArrayD<f32>, span: Span) -> RunResult<ArrayD<f32>> {
    let shape = input_shape(ir, x.shape(), span)?;
    let x = if x.is_standard_layout() {
        x
    } else {
        x.as_standard_layout().to_owned()
    };
    x.into_shape_with_order(IxDyn(&shape))
        .map_err(|e| RunError::new(e.to_string(), span, "here"))
}

/// Bytes of a model's parameters (f32).
pub(super) fn params_bytes(model: &Model) -> u64 {
    model.total_params().saturating_mul(4)
}

/// Bytes a forward pass keeps for a batch (twice that when training: the gradients).
pub fn activation_bytes(model: &Model, input: &[usize], training: bool) -> u64 {
    // the input type's symbols take the input's sizes (a conv model's 2-D
    // input is one image as high as its `N`); a size inference wrote in a
    // form not evaluated counts as the input's largest
    let env = crate::ir::sizes::bind(&model.input, input);
    let largest = input.iter().copied().max().unwrap_or(1) as u64;
    let batch = input.first().copied().unwrap_or(1) as u64;
    let per_item: u64 = model
        .layers()
        .map(|(_, l)| {
            l.out_shape
                .0
                .iter()
                .skip(1)
                .map(|d| crate::ir::sizes::eval(d, &env).unwrap_or(largest))
                .fold(1u64, |a, b| a.saturating_mul(b))
        })
        .fold(0u64, |a, b| a.saturating_add(b));
    let bytes = per_item.saturating_mul(batch).saturating_mul(4);
    if training {
        bytes.saturating_mul(2)
    } else {
        bytes
    }
}

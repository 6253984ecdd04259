//! Training targets checked against the model's output and the loss, and
//! the loss of a batch with its gradient.

use ndarray::{ArrayD, Axis};
use rand_chacha::ChaCha8Rng;

use super::super::error::{RunError, RunResult};
use super::super::params::ModelState;
use super::super::tape::{Mode, Tape};
use super::super::DataPair;
use super::options::Loss;
use crate::ir::feed;
use crate::ir::shape::{Dim, Shape};
use crate::ops::loss;
use crate::syntax::ast::Span;
use crate::value::Value;

/// Targets in the form a loss wants.
pub(super) enum Targets {
    Float(Vec<f32>),
    Labels(Vec<i64>),
}

/// A batch's targets.
#[derive(Clone, Copy)]
pub(super) enum TargetSlice<'a> {
    Float(&'a [f32]),
    Labels(&'a [i64]),
}

pub(super) fn targets_all(t: &Targets) -> TargetSlice<'_> {
    match t {
        Targets::Float(v) => TargetSlice::Float(v),
        Targets::Labels(v) => TargetSlice::Labels(v),
    }
}

/// The model's output shape for the (conformed) input `x`: the checked
/// one, or, when it has symbolic sizes besides the batch (a conv model's
/// 2-D input is one image `N` rows high), the sizes one item's forward pass
/// gives (eval mode: no draw, no statistic updated).
pub(super) fn output_shape(
    tape: &mut Tape,
    model: &mut ModelState,
    rng: &mut ChaCha8Rng,
    x: &ArrayD<f32>,
    span: Span,
) -> RunResult<Shape> {
    let checked = model.ir.output().clone();
    if checked.per_item().is_some() || x.is_empty() {
        return Ok(checked);
    }
    let item = x.index_axis(Axis(0), 0);
    let mut shape = x.shape().to_vec();
    shape[0] = 1;
    // the probe is a forward pass like any other: held to the memory guard
    let estimate = crate::run::activation_bytes(&model.ir, &shape, false);
    crate::io::check_alloc_bytes(
        estimate,
        "running the model on one item to learn its output shape",
    )
    .map_err(|e| RunError::io(&e, span))?;
    tape.start(&shape, &item.iter().copied().collect::<Vec<f32>>());
    let out = tape
        .forward(model, Mode::Eval, rng, None)
        .map_err(|msg| RunError::new(msg, span, "while applying the model"))?;
    let mut dims: Vec<Dim> = tape
        .buf(out)
        .shape
        .iter()
        .map(|d| Dim::Known(*d as u64))
        .collect();
    if let (Some(first), Some(batch)) = (dims.first_mut(), checked.0.first()) {
        *first = batch.clone();
    }
    Ok(Shape(dims))
}

/// Classes of a model giving `NxC` class scores.
pub(super) fn classes(out: &Shape) -> Option<u64> {
    if out.rank() == 2 {
        out.0[1].known()
    } else {
        None
    }
}

/// Check the targets against the model's output and the loss: their shape
/// by the rule the checker also applies, then their values.
pub(super) fn targets_for(
    data: &DataPair,
    loss: Loss,
    n: usize,
    out_shape: &Shape,
    classes: Option<u64>,
) -> RunResult<Targets> {
    let y_shape = data
        .y
        .shape()
        .ok_or_else(|| RunError::new("the targets are a bundle", data.span, "not a tensor"))?;
    feed::targets(loss, y_shape, n, out_shape).map_err(|e| RunError::feed(e, data.span))?;
    match loss {
        Loss::Xent => {
            let labels: Vec<i64> = match &data.y {
                Value::Int(a) => a.iter().copied().collect(),
                Value::Bool(a) => a.iter().map(|&b| i64::from(b)).collect(),
                Value::Float(a) => {
                    if a.iter().any(|v| v.fract() != 0.0) {
                        return Err(RunError::new(feed::NOT_LABELS, data.span, "not labels"));
                    }
                    a.iter().map(|v| *v as i64).collect()
                }
                Value::Bundle(_) | Value::Dims(_) | Value::Count(_) => {
                    return Err(RunError::new(
                        "the targets are not a tensor",
                        data.span,
                        "not a tensor",
                    ))
                }
            };
            let classes = classes.unwrap_or(0);
            if let Some((i, l)) = labels
                .iter()
                .enumerate()
                .find(|(_, l)| **l < 0 || **l as u64 >= classes)
            {
                return Err(RunError::new(
                    format!("label {l} (item {i}) is out of range: the model has {classes} classes (0..{})", classes.saturating_sub(1)),
                    data.span,
                    "label out of range",
                ));
            }
            Ok(Targets::Labels(labels))
        }
        Loss::Sse | Loss::Mse => {
            let y = data.y.to_float().ok_or_else(|| {
                RunError::new("the targets are not a tensor", data.span, "not a tensor")
            })?;
            Ok(Targets::Float(y.iter().copied().collect()))
        }
    }
}

/// The loss of a batch and its gradient with respect to the predictions,
/// written over `dpred` (whatever it held).
pub(super) fn loss_and_grad(
    kind: Loss,
    pred: &[f32],
    shape: &[usize],
    targets: &TargetSlice,
    dpred: &mut [f32],
    span: Span,
) -> RunResult<(f64, usize)> {
    match (kind, targets) {
        (Loss::Sse, TargetSlice::Float(t)) => Ok((loss::sse_with_grad(pred, t, dpred), 0)),
        (Loss::Mse, TargetSlice::Float(t)) => Ok((loss::mse_with_grad(pred, t, dpred), 0)),
        (Loss::Xent, TargetSlice::Labels(l)) => {
            let (n, c) = (shape[0], shape[1]);
            if shape.len() != 2 {
                return Err(RunError::new(
                    "xent needs NxC class scores",
                    span,
                    "not class scores",
                ));
            }
            dpred.fill(0.0); // the backward accumulates; dpred arrives unzeroed
            loss::softmax_cross_entropy_backward(pred, l, dpred);
            let value = loss::softmax_cross_entropy(pred, l);
            let hits = (0..n)
                .filter(|&i| {
                    let row = &pred[i * c..(i + 1) * c];
                    let best = row
                        .iter()
                        .enumerate()
                        .fold(0usize, |b, (j, v)| if *v > row[b] { j } else { b });
                    best as i64 == l[i]
                })
                .count();
            Ok((value, hits))
        }
        _ => Err(RunError::new(
            "the loss does not fit these targets",
            span,
            "loss/target mismatch",
        )),
    }
}

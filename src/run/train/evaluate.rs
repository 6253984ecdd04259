//! Evaluation: the loss (and accuracy) of a model on a data pair, in eval
//! mode, 512 items at a time; `eval` can be stopped between those batches.

use super::super::error::{RunError, RunResult};
use super::super::params::ModelState;
use super::super::{DataPair, Interp};
use super::options::Loss;
use super::targets::{classes, loss_and_grad, output_shape, targets_for, TargetSlice, Targets};
use crate::interrupt;
use crate::syntax::ast::Span;
use crate::value::Value;

impl Interp {
    /// Loss (and accuracy for xent) of a model on a data pair, eval mode.
    /// When `stoppable`, a Ctrl-C stops it between batches.
    pub(super) fn measure(
        &mut self,
        model: &mut ModelState,
        data: &DataPair,
        loss: Loss,
        span: Span,
        stoppable: bool,
    ) -> RunResult<(f64, Option<f64>)> {
        let x = data.x.to_float().ok_or_else(|| {
            RunError::new("the inputs are not a tensor", data.span, "not a tensor")
        })?;
        let x = super::super::conform_input(&model.ir, x, data.span)?;
        let n = x.shape()[0];
        let out_shape = output_shape(&mut self.tape, model, &mut self.rng, &x, span)?;
        let classes = classes(&out_shape);
        let targets = targets_for(data, loss, n, &out_shape, classes)?;
        let xs: Vec<f32> = x.iter().copied().collect();
        let item: usize = x.shape()[1..].iter().product();
        let chunk = 512usize;
        let (mut loss_sum, mut hits) = (0.0f64, 0usize);
        let mut largest = x.shape().to_vec();
        largest[0] = n.min(chunk);
        let estimate = crate::run::activation_bytes(&model.ir, &largest, false);
        let items = match largest[0] {
            1 => "one item".to_string(),
            k => format!("{k} items"),
        };
        let what = format!("evaluating `{}` on {items} at a time", model.ir.name);
        crate::io::check_alloc_bytes(estimate, &what).map_err(|e| RunError::io(&e, span))?;
        let mut scratch = Vec::new();
        for start in (0..n).step_by(chunk) {
            if stoppable && interrupt::check().is_err() {
                return Err(RunError::interrupted(
                    format!("stopped evaluating after {start} of {n} items; nothing changed"),
                    span,
                ));
            }
            let end = (start + chunk).min(n);
            let mut shape = x.shape().to_vec();
            shape[0] = end - start;
            let items = &xs[start * item..end * item];
            let pred = self
                .infer
                .run(
                    model,
                    &shape,
                    |b| b.copy_from_slice(items),
                    None,
                    &mut self.rng,
                )
                .map_err(|msg| RunError::new(msg, span, "while evaluating"))?;
            scratch.clear();
            scratch.resize(pred.data.len(), 0.0);
            let t = match &targets {
                Targets::Float(t) => {
                    let per = t.len() / n.max(1);
                    TargetSlice::Float(&t[start * per..end * per])
                }
                Targets::Labels(l) => TargetSlice::Labels(&l[start..end]),
            };
            let (l, h) = loss_and_grad(loss, &pred.data, &pred.shape, &t, &mut scratch, span)?;
            self.infer.recycle(pred);
            loss_sum += l * (end - start) as f64;
            hits += h;
        }
        let acc = (loss == Loss::Xent).then(|| hits as f64 / n.max(1) as f64);
        Ok((loss_sum / n.max(1) as f64, acc))
    }

    /// `eval [model]`: loss and accuracy on the test data (or the training data).
    pub fn evaluate(
        &mut self,
        name: &str,
        span: Span,
        out: &mut dyn super::super::Output,
    ) -> RunResult<()> {
        let (data, which) = match (&self.test_data, &self.train_data) {
            (Some(t), _) => (t.clone(), "test"),
            (None, Some(t)) => (t.clone(), "train"),
            (None, None) => {
                return Err(RunError::new("no data to evaluate on", span, "needs data")
                    .help("declare it first: `data test = X -> Y`"))
            }
        };
        let mut model = self
            .models
            .remove(name)
            .ok_or_else(|| RunError::new("unknown model", span, "here"))?;
        let loss = eval_loss(&data.y, model.ir.output());
        let region = interrupt::Region::enter();
        let result = self.measure(&mut model, &data, loss, span, true);
        drop(region);
        self.models.insert(name.to_string(), model);
        let (l, acc) = result?;
        let line = match acc {
            Some(a) => format!("loss {l:.3}, {which} acc {a:.3}"),
            None => format!("loss {l:.3}"),
        };
        writeln!(out, "{line}")
            .map_err(|e| RunError::new(format!("cannot write output: {e}"), span, "here"))
    }
}

/// The loss `eval` measures: cross-entropy for class labels (integers, or
/// whole numbers written as a literal, which is f32, one per item for a
/// model giving class scores), else the mean squared error.
fn eval_loss(y: &Value, out: &crate::ir::shape::Shape) -> Loss {
    let scores = out.rank() == 2 && out.0[1].known().is_some_and(|c| c >= 2);
    match y {
        Value::Int(_) => Loss::Xent,
        Value::Float(t) if scores && t.ndim() == 1 => {
            if t.iter().all(|v| *v >= 0.0 && v.fract() == 0.0) {
                Loss::Xent
            } else {
                Loss::Mse
            }
        }
        _ => Loss::Mse,
    }
}

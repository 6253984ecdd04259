//! `train` and `eval`: the options of a `train` statement, the optimizers
//! (as torch.optim), the training loops and evaluation.

mod checkpoint;
mod evaluate;
mod loops;
mod optimizer;
pub mod options;
mod position;
mod targets;

use super::error::{RunError, RunResult};
use super::{activation_bytes, params_bytes, DataPair, Interp, Output};
use crate::syntax::ast::{ArgValue, Ident, KeyValue, Span};
use crate::value::Value;
pub use options::{plan, Loss, Optimizer, Schedule, TrainPlan};
use targets::{classes, output_shape, targets_for};

/// The first line of a logged `train`, naming the model (SPEC v1.1):
/// `Training edge: sgd lr=0.01, 30 steps`. The `Step`/`Epoch` lines follow unchanged.
pub fn header(name: &str, optimizer: &Ident, options: &[KeyValue], schedule: &Schedule) -> String {
    let mut text = format!("Training {name}: {}", optimizer.name);
    for kv in options
        .iter()
        .filter(|kv| options::is_hyperparameter(&kv.key.name))
    {
        let value = match &kv.value {
            ArgValue::Number(n) => n.text.clone(),
            ArgValue::Word(w) => w.name.clone(),
            ArgValue::Str(s) => format!("\"{}\"", s.value),
            ArgValue::Dims(d) => crate::value::dims_string(&d.dims),
            ArgValue::Bad { text, .. } => text.clone(),
        };
        text.push_str(&format!(" {}={value}", kv.key.name));
    }
    match schedule {
        Schedule::Steps(n) => {
            text.push_str(&format!(", {n} step{}", if *n == 1 { "" } else { "s" }))
        }
        Schedule::Epochs { epochs, batch } => text.push_str(&format!(
            ", {epochs} epoch{}, batch {batch}",
            if *epochs == 1 { "" } else { "s" }
        )),
    }
    text
}

/// One point of the training history.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Step (full-batch) or epoch number, from 1.
    pub at: usize,
    pub loss: f64,
    pub train_acc: Option<f64>,
    pub test_acc: Option<f64>,
}

/// Losses (and accuracies) of the last `train`, for `plot`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// "step" or "epoch".
    pub unit: &'static str,
    pub records: Vec<Record>,
}

/// The loss `train` uses without `loss=`: `xent` for integer labels, else `mse`.
pub fn default_loss(data: &DataPair) -> Loss {
    if matches!(data.y, Value::Int(_)) {
        Loss::Xent
    } else {
        Loss::Mse
    }
}

impl Interp {
    /// `train [model] optimizer key=value...`
    pub fn train(
        &mut self,
        name: &str,
        optimizer: &Ident,
        options: &[KeyValue],
        span: Span,
        out: &mut dyn Output,
    ) -> RunResult<()> {
        let data = self.train_data.clone().ok_or_else(|| {
            RunError::new("no training data", span, "needs data")
                .help("declare it first: `data X -> Y`")
        })?;
        let mut plan = plan(optimizer, options, default_loss(&data))?;
        if plan.log.is_some() || matches!(plan.schedule, Schedule::Epochs { .. }) {
            plan.header = Some(header(name, optimizer, options, &plan.schedule));
        }
        let x = data.x.to_float().ok_or_else(|| {
            RunError::new(
                "the training inputs are not a tensor",
                data.span,
                "not a tensor",
            )
        })?;
        let x = self.conform_input(name, x, data.span)?;
        let n = x.shape()[0];
        let batch = match plan.schedule {
            Schedule::Steps(_) => n,
            Schedule::Epochs { batch, .. } => batch.min(n),
        };
        // activations and their gradients, and the optimizer's three tensors
        // per parameter (moments, next weights); before any forward pass
        let ir = &self
            .models
            .get(name)
            .ok_or_else(|| RunError::new("unknown model", span, "here"))?
            .ir;
        let mut batch_shape = x.shape().to_vec();
        batch_shape[0] = batch;
        let estimate = activation_bytes(ir, &batch_shape, true)
            .saturating_add(params_bytes(ir).saturating_mul(3));
        crate::io::check_alloc_bytes(
            estimate,
            &format!("training `{name}` with batches of {batch}"),
        )
        .map_err(|e| RunError::io(&e, span))?;
        let out_shape = match self.models.get_mut(name) {
            Some(model) => output_shape(&mut self.tape, model, &mut self.rng, &x, span)?,
            None => return Err(RunError::new("unknown model", span, "here")),
        };
        let classes = classes(&out_shape);
        let targets = targets_for(&data, plan.loss, n, &out_shape, classes)?;
        let mut model = self
            .models
            .remove(name)
            .ok_or_else(|| RunError::new("unknown model", span, "here"))?;
        let result = self.train_loop(&mut model, &plan, &x, &targets, span, out);
        self.models.insert(name.to_string(), model);
        result
    }
}

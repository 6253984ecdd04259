//! The batches `train` makes, known once the item count is: a batchnorm
//! needs more than one value per channel in each (`layers::batchnorm_train_batch`,
//! the rule the layer applies when it runs).

use crate::ir::error::CheckError;
use crate::ir::model::Model;
use crate::ir::train_options::Schedule;
use crate::layers::LayerKind;
use crate::syntax::ast::{KeyValue, Span};

/// The batch sizes of `n` items: all of them (steps), or `min(B, n)` and
/// the epoch's last `n mod B`.
fn batch_sizes(n: usize, schedule: &Schedule) -> Vec<usize> {
    match *schedule {
        Schedule::Steps(_) => vec![n],
        Schedule::Epochs { batch, .. } => {
            let batch = batch.max(1);
            let mut sizes = vec![batch.min(n)];
            if !n.is_multiple_of(batch) && n > batch {
                sizes.push(n % batch);
            }
            sizes
        }
    }
}

/// The first batchnorm some batch of `train` would stop at, as an error at
/// the `train` statement; with epochs, the fix is a batch size that works.
pub(super) fn batchnorm(
    model: &Model,
    input: &[usize],
    schedule: &Schedule,
    options: &[KeyValue],
    span: Span,
) -> Option<CheckError> {
    let n = input.first().copied().unwrap_or(0);
    let sizes = batch_sizes(n, schedule);
    // symbolic sizes besides the batch take the input's
    let env = crate::ir::sizes::bind(&model.input, input);
    for (_, layer) in model.layers() {
        if !matches!(layer.kind, LayerKind::BatchNorm(_)) {
            continue;
        }
        // per-item sizes the checker knows (a symbolic one is the run's to judge)
        let item: Option<Vec<usize>> = layer
            .in_shape
            .0
            .iter()
            .skip(1)
            .map(|d| crate::ir::sizes::eval(d, &env).map(|v| v as usize))
            .collect();
        let Some(item) = item else { continue };
        let fails = |b: usize| {
            let mut shape = vec![b];
            shape.extend(&item);
            crate::layers::batchnorm_train_batch(&shape).err()
        };
        let Some(message) = sizes.iter().find_map(|&b| fails(b)) else {
            continue;
        };
        let works = |b: usize| {
            batch_sizes(
                n,
                &Schedule::Epochs {
                    epochs: 1,
                    batch: b,
                },
            )
            .iter()
            .all(|&s| fails(s).is_none())
        };
        let help = match schedule {
            Schedule::Epochs { .. } => {
                "every batch, the last of each epoch too, needs at least 2 items"
            }
            Schedule::Steps(_) => "each step takes every item: give `data` at least 2 items",
        };
        let mut err = CheckError::other(
            "batchnorm_batch",
            message,
            span,
            "a batch of one value per channel",
            help.into(),
        )
        .related(layer.span, "this batchnorm");
        let batch_opt = options.iter().find(|o| o.key.name == "batch");
        if let (Schedule::Epochs { batch, .. }, Some(opt)) = (schedule, batch_opt) {
            if let Some(b) = (2..=n).map(|d| (batch + d - 2).min(n)).find(|&b| works(b)) {
                err = err.fix(opt.span, format!("batch={b}"));
            }
        }
        return Some(err);
    }
    None
}

//! Training checkpoints: one `.safetensors` file holding the model (its
//! state-dict names), the optimizer state (under `optimizer/`), the item
//! order of epoch training (`schedule/order`) and, in the header metadata,
//! the schedule position and the random generator. docs/checkpoints.md is
//! the format's reference; a resumed `train` continues bit for bit.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use ndarray::{ArrayViewD, IxDyn};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::super::error::{RunError, RunResult};
use super::super::params::ModelState;
use super::optimizer::OptState;
use super::options::{Optimizer, Schedule, TrainPlan};
use super::position::{EpochSums, Position};
use crate::io::{IoError, Metadata};
use crate::ir::train_options::FileOption;
use crate::value::{shape_words, TensorRef, Value};

/// The prefix of optimizer tensors: `optimizer/<param>/<state>`.
pub const OPTIMIZER_PREFIX: &str = "optimizer/";
/// Epoch training's item order (int64, one entry per training item).
pub const ORDER_TENSOR: &str = "schedule/order";

/// Header metadata keys.
mod key {
    pub const VERSION: &str = "cnnscript.checkpoint";
    pub const MODEL: &str = "cnnscript.model";
    pub const OPTIMIZER: &str = "cnnscript.optimizer";
    pub const UPDATES: &str = "cnnscript.optimizer.steps";
    pub const SCHEDULE: &str = "cnnscript.schedule";
    pub const TOTAL: &str = "cnnscript.total";
    pub const DONE: &str = "cnnscript.done";
    pub const STEP: &str = "cnnscript.step";
    pub const ITEMS: &str = "cnnscript.items";
    pub const BATCH_SIZE: &str = "cnnscript.batch_size";
    pub const EPOCH_BATCHES: &str = "cnnscript.epoch.batches";
    pub const EPOCH_LOSS_SUM: &str = "cnnscript.epoch.loss_sum";
    pub const EPOCH_CORRECT: &str = "cnnscript.epoch.correct";
    pub const EPOCH_SEEN: &str = "cnnscript.epoch.seen";
    pub const RNG_SEED: &str = "cnnscript.rng.seed";
    pub const RNG_STREAM: &str = "cnnscript.rng.stream";
    pub const RNG_WORD_POS: &str = "cnnscript.rng.word_pos";
}

/// The version this build writes and reads.
const VERSION: &str = "1";

/// Everything a checkpoint records.
pub struct State<'a> {
    pub model: &'a ModelState,
    pub opt: &'a OptState,
    pub plan: &'a TrainPlan,
    pub at: &'a Position,
    pub rng: &'a ChaCha8Rng,
    pub items: usize,
}

/// The optimizer's per-tensor state names, as torch.optim calls them, and
/// whether each is the first (`m`) or the second (`v`) buffer.
fn state_names(opt: &Optimizer) -> &'static [(&'static str, bool)] {
    match *opt {
        Optimizer::Sgd { momentum: 0.0, .. } => &[],
        Optimizer::Sgd { .. } => &[("momentum_buffer", true)],
        Optimizer::Adam { .. } => &[("exp_avg", true), ("exp_avg_sq", false)],
    }
}

fn optimizer_name(opt: &Optimizer) -> &'static str {
    match opt {
        Optimizer::Sgd { .. } => "sgd",
        Optimizer::Adam { .. } => "adam",
    }
}

/// `optimizer/<param>/<state>`
fn state_tensor(param: &str, state: &str) -> String {
    format!("{OPTIMIZER_PREFIX}{param}/{state}")
}

/// Write the checkpoint atomically: the previous file stays whole until the
/// new one is complete.
pub fn save(path: &Path, s: &State) -> Result<(), IoError> {
    let order: Vec<i64> = s.at.order.iter().map(|&i| i as i64).collect();
    let ints = s.model.integer_copies();
    let mut entries = s.model.tensor_refs(&ints);
    if s.opt.t > 0 {
        for (i, p) in s.model.params.iter().enumerate() {
            if !p.learnable {
                continue;
            }
            for &(state, first) in state_names(&s.plan.optimizer) {
                let buf = if first { &s.opt.m[i] } else { &s.opt.v[i] };
                if let Ok(view) = ArrayViewD::from_shape(IxDyn(&p.shape), buf.as_slice()) {
                    entries.push((state_tensor(&p.name, state), TensorRef::Float(view)));
                }
            }
        }
    }
    if !order.is_empty() {
        if let Ok(view) = ArrayViewD::from_shape(IxDyn(&[order.len()]), order.as_slice()) {
            entries.push((ORDER_TENSOR.to_string(), TensorRef::Int(view)));
        }
    }
    crate::io::save_safetensors(path, &entries, &metadata(s))
}

fn metadata(s: &State) -> Metadata {
    let mut m = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        m.insert(k.to_string(), v);
    };
    put(key::VERSION, VERSION.into());
    put(key::MODEL, s.model.ir.name.clone());
    put(key::OPTIMIZER, optimizer_name(&s.plan.optimizer).into());
    put(key::UPDATES, s.opt.t.to_string());
    put(key::DONE, s.at.done.to_string());
    put(key::STEP, s.at.step.to_string());
    put(key::ITEMS, s.items.to_string());
    match s.plan.schedule {
        Schedule::Steps(total) => {
            put(key::SCHEDULE, "steps".into());
            put(key::TOTAL, total.to_string());
        }
        Schedule::Epochs { epochs, batch } => {
            put(key::SCHEDULE, "epochs".into());
            put(key::TOTAL, epochs.to_string());
            put(key::BATCH_SIZE, batch.to_string());
            put(key::EPOCH_BATCHES, s.at.batch.to_string());
            // Rust prints the shortest text that parses back to the same f64
            put(key::EPOCH_LOSS_SUM, s.at.sums.loss_sum.to_string());
            put(key::EPOCH_CORRECT, s.at.sums.correct.to_string());
            put(key::EPOCH_SEEN, s.at.sums.seen.to_string());
        }
    }
    let seed: String = s
        .rng
        .get_seed()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    put(key::RNG_SEED, seed);
    put(key::RNG_STREAM, s.rng.get_stream().to_string());
    put(key::RNG_WORD_POS, s.rng.get_word_pos().to_string());
    m
}

/// What `resume=` restores into.
pub struct Target<'a> {
    pub model: &'a mut ModelState,
    pub opt: &'a mut OptState,
    pub rng: &'a mut ChaCha8Rng,
    pub at: &'a mut Position,
}

/// Read a checkpoint and restore the model, the optimizer, the generator
/// and the position from it, or change nothing and say what does not fit
/// (at the `resume=` value).
pub fn resume(
    path: &Path,
    file: &FileOption,
    plan: &TrainPlan,
    items: usize,
    into: Target,
) -> RunResult<()> {
    let (entries, meta) =
        crate::io::load_safetensors(path).map_err(|e| RunError::io(&e, file.span))?;
    let r = Reader { meta: &meta, file };
    r.check_kind(plan, into.model)?;
    let mut at = r.position(plan, items)?;
    let rng = r.rng()?;
    let updates: i32 = r.number(key::UPDATES)?;
    if updates < 0 {
        return Err(r.corrupt(format!("\"{}\" is negative", key::UPDATES)));
    }
    let split = r.split(entries, plan, into.model, updates, items)?;
    at.order = split.order;
    into.model.set_data(split.model);
    into.opt.t = updates;
    for (i, buf) in split.m {
        into.opt.m[i] = buf;
    }
    for (i, buf) in split.v {
        into.opt.v[i] = buf;
    }
    *into.rng = rng;
    *into.at = at;
    Ok(())
}

/// A checkpoint's metadata, with errors at the `resume=` value.
struct Reader<'a> {
    meta: &'a Metadata,
    file: &'a FileOption,
}

impl Reader<'_> {
    fn error(&self, message: impl std::fmt::Display) -> RunError {
        RunError::new(
            format!("{}: {message}", self.file.path),
            self.file.span,
            "this checkpoint",
        )
        .depends(super::super::error::Depends::Files)
    }

    fn corrupt(&self, what: String) -> RunError {
        self.error(format!("not a valid checkpoint: {what}")).help(
            "the file was changed or damaged after it was written; resume from another checkpoint",
        )
    }

    fn text(&self, key: &str) -> RunResult<&str> {
        self.meta
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| self.corrupt(format!("its header has no \"{key}\"")))
    }

    fn number<T: FromStr>(&self, key: &str) -> RunResult<T> {
        let text = self.text(key)?;
        text.parse()
            .map_err(|_| self.corrupt(format!("\"{key}\" is \"{text}\", not a number in range")))
    }

    /// A checkpoint of this version, written by this optimizer and schedule.
    fn check_kind(&self, plan: &TrainPlan, model: &ModelState) -> RunResult<()> {
        match self.meta.get(key::VERSION).map(String::as_str) {
            Some(VERSION) => {}
            Some(other) => {
                return Err(self
                    .error(format!("a version {other} checkpoint; this cnnscript reads version {VERSION}"))
                    .help("resume with the cnnscript that wrote it"))
            }
            None => {
                return Err(self.error("not a training checkpoint (its header has no \"cnnscript.checkpoint\")").help(format!(
                    "checkpoints are written by `train ... checkpoint=\"{}\"`; to load a model's weights alone, write `load {} \"{}\"`",
                    self.file.path, model.ir.name, self.file.path
                )))
            }
        }
        let written = self.text(key::OPTIMIZER)?;
        let wanted = optimizer_name(&plan.optimizer);
        if written != wanted {
            return Err(self
                .error(format!("the checkpoint was written by `{written}` training, but this statement trains with `{wanted}`"))
                .help(format!("resume with `train {written} ...`, or train without `resume=`")));
        }
        let schedule = self.text(key::SCHEDULE)?;
        let (wanted, total) = match plan.schedule {
            Schedule::Steps(s) => ("steps", s),
            Schedule::Epochs { epochs, .. } => ("epochs", epochs),
        };
        if schedule != wanted {
            return Err(self
                .error(format!("the checkpoint counts {schedule}, but this statement trains for {wanted}={total}"))
                .help(format!("resume with `{schedule}=` as the training that wrote it")));
        }
        if let Schedule::Epochs { batch, .. } = plan.schedule {
            let written: usize = self.number(key::BATCH_SIZE)?;
            if written != batch {
                return Err(self
                    .error(format!("the checkpoint was written with batch={written}, but this statement has batch={batch}"))
                    .help(format!("resume with `batch={written}`")));
            }
        }
        Ok(())
    }

    /// The position, which must lie within this statement's total.
    fn position(&self, plan: &TrainPlan, items: usize) -> RunResult<Position> {
        let mut at = Position {
            done: self.number(key::DONE)?,
            step: self.number(key::STEP)?,
            ..Position::default()
        };
        let (total, unit, per_epoch) = match plan.schedule {
            Schedule::Steps(s) => (s, "step", 1),
            Schedule::Epochs { epochs, batch } => {
                (epochs, "epoch", Position::batches(items, batch))
            }
        };
        if let Schedule::Epochs { .. } = plan.schedule {
            let written: usize = self.number(key::ITEMS)?;
            if written != items {
                return Err(self
                    .error(format!("the checkpoint was written training on {written} items, but the training data has {items}"))
                    .help("resume on the data the checkpoint was trained on"));
            }
            at.batch = self.number(key::EPOCH_BATCHES)?;
            at.sums = EpochSums {
                loss_sum: self.number(key::EPOCH_LOSS_SUM)?,
                correct: self.number(key::EPOCH_CORRECT)?,
                seen: self.number(key::EPOCH_SEEN)?,
            };
            if at.batch >= per_epoch || at.sums.seen > items {
                return Err(self.corrupt(format!(
                    "it is at batch {} of an epoch of {per_epoch} batches",
                    at.batch
                )));
            }
        }
        if at.done > total || (at.done == total && at.batch > 0) {
            return Err(self
                .error(format!(
                    "the checkpoint is at {unit} {}, beyond this statement's {unit}s={total}",
                    at.done + usize::from(at.batch > 0)
                ))
                .help(format!("`{unit}s=` is the total to train to, counting the {unit}s before the checkpoint: raise it")));
        }
        Ok(at)
    }

    fn rng(&self) -> RunResult<ChaCha8Rng> {
        let hex = self.text(key::RNG_SEED)?;
        let bad = || self.corrupt(format!("\"{}\" is not 64 hex digits", key::RNG_SEED));
        if hex.len() != 64 || !hex.is_ascii() {
            return Err(bad());
        }
        let mut seed = [0u8; 32];
        for (i, b) in seed.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        let mut rng = ChaCha8Rng::from_seed(seed);
        rng.set_stream(self.number(key::RNG_STREAM)?);
        rng.set_word_pos(self.number(key::RNG_WORD_POS)?);
        Ok(rng)
    }

    /// The model's tensors (checked as `load` checks them), the optimizer
    /// buffers (each against its tensor) and the item order.
    fn split(
        &self,
        entries: Vec<(String, Value)>,
        plan: &TrainPlan,
        model: &ModelState,
        updates: i32,
        items: usize,
    ) -> RunResult<Split> {
        // torch.optim keeps no state before the first update
        let mut wanted = Vec::new();
        if updates > 0 {
            for (i, p) in model.params.iter().enumerate().filter(|(_, p)| p.learnable) {
                for &(state, first) in state_names(&plan.optimizer) {
                    wanted.push((state_tensor(&p.name, state), i, first));
                }
            }
        }
        let (model_entries, rest): (Vec<_>, Vec<_>) = entries
            .into_iter()
            .partition(|(n, _)| !n.starts_with(OPTIMIZER_PREFIX) && n != ORDER_TENSOR);
        let model_data = model
            .state_dict_data(model_entries)
            .map_err(|(msg, help)| {
                let help = match self.meta.get(key::MODEL) {
                    Some(m) if *m != model.ir.name => {
                        format!("{help}; the checkpoint was written for model `{m}`")
                    }
                    _ => help,
                };
                self.error(msg).help(help)
            })?;
        let settings = "a checkpoint continues the training that wrote it: the same optimizer, with momentum or without";
        let mut split = Split {
            model: model_data,
            ..Split::default()
        };
        let mut found = vec![false; wanted.len()];
        let mut order = None;
        for (name, value) in rest {
            if name == ORDER_TENSOR {
                order = Some(value);
                continue;
            }
            let Some(w) = wanted.iter().position(|w| w.0 == name) else {
                return Err(self
                    .error(format!("unexpected tensor `{name}` in the checkpoint"))
                    .help(settings));
            };
            let (_, i, first) = wanted[w];
            let shape = &model.params[i].shape;
            let data = match value {
                Value::Float(a) if a.shape() == shape.as_slice() => a.iter().copied().collect(),
                other => {
                    return Err(self.corrupt(format!(
                        "tensor `{name}` is {}, but `{}` is a float tensor of {}",
                        other
                            .shape()
                            .map(shape_words)
                            .unwrap_or_else(|| "a bundle".into()),
                        model.params[i].name,
                        shape_words(shape)
                    )))
                }
            };
            found[w] = true;
            if first { &mut split.m } else { &mut split.v }.push((i, data));
        }
        if let Some((name, ..)) = wanted
            .iter()
            .zip(&found)
            .find(|(_, f)| !**f)
            .map(|(w, _)| w)
        {
            return Err(self
                .error(format!("tensor `{name}` is missing from the checkpoint"))
                .help(settings));
        }
        match (plan.schedule, order) {
            (Schedule::Epochs { .. }, Some(v)) => split.order = self.order(v, items)?,
            (Schedule::Epochs { .. }, None) => {
                return Err(self.corrupt(format!("tensor `{ORDER_TENSOR}` is missing")))
            }
            (Schedule::Steps(_), Some(_)) => {
                return Err(self.corrupt(format!(
                    "tensor `{ORDER_TENSOR}` belongs to epoch training, but the header says steps"
                )))
            }
            (Schedule::Steps(_), None) => {}
        }
        Ok(split)
    }

    /// `schedule/order`: every item index once.
    fn order(&self, value: Value, items: usize) -> RunResult<Vec<usize>> {
        let bad = || {
            self.corrupt(format!(
                "tensor `{ORDER_TENSOR}` is not an order of {items} items"
            ))
        };
        let Value::Int(a) = value else {
            return Err(bad());
        };
        if a.shape() != [items] {
            return Err(bad());
        }
        let mut seen = vec![false; items];
        let mut order = Vec::with_capacity(items);
        for &i in a.iter() {
            let i = usize::try_from(i).map_err(|_| bad())?;
            match seen.get_mut(i) {
                Some(s) if !*s => *s = true,
                _ => return Err(bad()),
            }
            order.push(i);
        }
        Ok(order)
    }
}

/// A checkpoint's tensors sorted out and checked: the model's data (in
/// `params` order), and the optimizer buffers by parameter index (first
/// moment or momentum, second moment).
#[derive(Default)]
struct Split {
    model: Vec<Vec<f32>>,
    m: Vec<(usize, Vec<f32>)>,
    v: Vec<(usize, Vec<f32>)>,
    /// Epoch training's item order (empty for full-batch steps).
    order: Vec<usize>,
}

//! `train` and `eval`: losses, optimizers (as torch.optim) and the loops.

use std::io::Write;
use std::time::Instant;

use super::error::{RunError, RunResult};
use super::params::ModelState;
use super::tape::Mode;
use super::{activation_bytes, DataPair, Interp};
use crate::ir::error::did_you_mean;
use crate::ops::loss;
use crate::syntax::ast::{ArgValue, Ident, KeyValue, Span};
use crate::value::Value;

/// The loss being minimised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// Sum of squared errors (the chapter's).
    Sse,
    /// Mean squared error.
    Mse,
    /// Softmax cross-entropy over integer class labels, batch mean.
    Xent,
}

/// An optimizer, as torch.optim.
#[derive(Clone, Debug)]
pub enum Optimizer {
    Sgd {
        lr: f32,
        momentum: f32,
        weight_decay: f32,
    },
    Adam {
        lr: f32,
        b1: f32,
        b2: f32,
        eps: f32,
        weight_decay: f32,
    },
}

/// Full-batch steps or shuffled mini-batch epochs.
#[derive(Clone, Copy, Debug)]
pub enum Schedule {
    Steps(usize),
    Epochs { epochs: usize, batch: usize },
}

/// What one `train` statement asked for.
#[derive(Clone, Debug)]
pub struct TrainPlan {
    pub optimizer: Optimizer,
    pub loss: Loss,
    pub schedule: Schedule,
    pub log: Option<usize>,
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

const OPTION_NAMES: &[&str] = &[
    "lr",
    "momentum",
    "weight_decay",
    "b1",
    "b2",
    "eps",
    "steps",
    "epochs",
    "batch",
    "loss",
    "log",
];

/// Read `key=value` options into a plan, with diagnostics at the option.
pub fn plan(opt_name: &Ident, options: &[KeyValue], default_loss: Loss) -> RunResult<TrainPlan> {
    let get_num = |name: &str| -> RunResult<Option<(f64, Span)>> {
        match options.iter().find(|o| o.key.name == name) {
            None => Ok(None),
            Some(o) => match &o.value {
                ArgValue::Number(n) if n.value.is_finite() => Ok(Some((n.value, n.span))),
                other => Err(RunError::new(
                    format!("`{name}` must be a number"),
                    other.span(),
                    "not a number",
                )),
            },
        }
    };
    for o in options {
        if !OPTION_NAMES.contains(&o.key.name.as_str()) {
            let mut e = RunError::new(
                format!("unknown training option `{}`", o.key.name),
                o.key.span,
                "unknown option",
            );
            e = match did_you_mean(&o.key.name, OPTION_NAMES.iter().copied()) {
                Some(s) => e.help(format!("did you mean `{s}`?")),
                None => e.help(format!("options: {}", OPTION_NAMES.join(", "))),
            };
            return Err(e);
        }
    }
    let positive_int = |v: Option<(f64, Span)>, name: &str| -> RunResult<Option<usize>> {
        match v {
            None => Ok(None),
            Some((x, s)) if x >= 1.0 && x.fract() == 0.0 && x < 1e12 => {
                let _ = s;
                Ok(Some(x as usize))
            }
            Some((x, s)) => Err(RunError::new(
                format!("`{name}` must be a positive integer, found {x}"),
                s,
                "not a positive integer",
            )),
        }
    };
    let lr = match get_num("lr")? {
        Some((v, s)) if v <= 0.0 => {
            return Err(RunError::new(
                format!("learning rate must be positive, found {v}"),
                s,
                "not positive",
            ))
        }
        Some((v, _)) => v as f32,
        None => {
            return Err(
                RunError::new("`train` needs a learning rate", opt_name.span, "no lr=")
                    .help("for example `train sgd lr=0.01 steps=30`"),
            )
        }
    };
    let weight_decay = get_num("weight_decay")?.map(|v| v.0 as f32).unwrap_or(0.0);
    let optimizer = match opt_name.name.as_str() {
        "sgd" => Optimizer::Sgd {
            lr,
            momentum: get_num("momentum")?.map(|v| v.0 as f32).unwrap_or(0.0),
            weight_decay,
        },
        "adam" => Optimizer::Adam {
            lr,
            b1: get_num("b1")?.map(|v| v.0 as f32).unwrap_or(0.9),
            b2: get_num("b2")?.map(|v| v.0 as f32).unwrap_or(0.999),
            eps: get_num("eps")?.map(|v| v.0 as f32).unwrap_or(1e-8),
            weight_decay,
        },
        other => {
            let mut e = RunError::new(
                format!("unknown optimizer `{other}`"),
                opt_name.span,
                "not an optimizer",
            );
            e = match did_you_mean(other, ["sgd", "adam"]) {
                Some(s) => e.help(format!("did you mean `{s}`?")),
                None => e.help("the optimizers are sgd and adam"),
            };
            return Err(e);
        }
    };
    let loss = match options.iter().find(|o| o.key.name == "loss") {
        None => default_loss,
        Some(o) => match &o.value {
            ArgValue::Word(w) if w.name == "sse" => Loss::Sse,
            ArgValue::Word(w) if w.name == "mse" => Loss::Mse,
            ArgValue::Word(w) if w.name == "xent" => Loss::Xent,
            other => {
                return Err(RunError::new("unknown loss", other.span(), "not a loss")
                    .help("the losses are sse, mse and xent"))
            }
        },
    };
    let steps = positive_int(get_num("steps")?, "steps")?;
    let epochs = positive_int(get_num("epochs")?, "epochs")?;
    let batch = positive_int(get_num("batch")?, "batch")?;
    let log = positive_int(get_num("log")?, "log")?;
    let schedule = match (steps, epochs) {
        (Some(s), None) => Schedule::Steps(s),
        (None, Some(e)) => Schedule::Epochs {
            epochs: e,
            batch: batch.unwrap_or(64),
        },
        (Some(_), Some(_)) => {
            return Err(RunError::new(
                "give either steps= or epochs=, not both",
                opt_name.span,
                "both given",
            ))
        }
        (None, None) => {
            return Err(RunError::new(
                "`train` needs steps= or epochs=",
                opt_name.span,
                "how long?",
            )
            .help("full-batch: `steps=30`; mini-batch: `epochs=10 batch=64`"))
        }
    };
    Ok(TrainPlan {
        optimizer,
        loss,
        schedule,
        log,
    })
}

/// Optimizer state per learnable tensor.
struct OptState {
    /// SGD momentum buffer, or Adam's first moment.
    m: Vec<Vec<f32>>,
    /// Adam's second moment.
    v: Vec<Vec<f32>>,
    t: i32,
}

impl OptState {
    fn new(model: &ModelState) -> OptState {
        let zeros = |p: &super::params::Param| {
            if p.learnable {
                vec![0.0; p.data.len()]
            } else {
                vec![]
            }
        };
        OptState {
            m: model.params.iter().map(zeros).collect(),
            v: model.params.iter().map(zeros).collect(),
            t: 0,
        }
    }

    /// One update, as torch.optim's single-tensor implementations.
    fn step(&mut self, opt: &Optimizer, model: &mut ModelState) {
        self.t += 1;
        for (i, p) in model.params.iter_mut().enumerate() {
            if !p.learnable {
                continue;
            }
            match *opt {
                Optimizer::Sgd {
                    lr,
                    momentum,
                    weight_decay,
                } => {
                    let buf = &mut self.m[i];
                    for ((w, g), b) in p.data.iter_mut().zip(&p.grad).zip(buf.iter_mut()) {
                        let mut d = *g + weight_decay * *w;
                        if momentum != 0.0 {
                            // first step: buf = d; later: buf = momentum·buf + d (dampening 0)
                            *b = if self.t == 1 { d } else { momentum * *b + d };
                            d = *b;
                        }
                        *w -= lr * d;
                    }
                }
                Optimizer::Adam {
                    lr,
                    b1,
                    b2,
                    eps,
                    weight_decay,
                } => {
                    let bc1 = 1.0 - b1.powi(self.t);
                    let bc2_sqrt = (1.0 - b2.powi(self.t)).sqrt();
                    let step_size = lr / bc1;
                    let (m, v) = (&mut self.m[i], &mut self.v[i]);
                    for (((w, g), m), v) in p
                        .data
                        .iter_mut()
                        .zip(&p.grad)
                        .zip(m.iter_mut())
                        .zip(v.iter_mut())
                    {
                        let d = *g + weight_decay * *w;
                        *m += (d - *m) * (1.0 - b1);
                        *v = *v * b2 + (1.0 - b2) * d * d;
                        let denom = v.sqrt() / bc2_sqrt + eps;
                        *w -= step_size * *m / denom;
                    }
                }
            }
        }
    }
}

/// Targets in the form a loss wants.
enum Targets {
    Float(Vec<f32>),
    Labels(Vec<i64>),
}

impl Interp {
    /// `train [model] optimizer key=value...`
    pub fn train(
        &mut self,
        name: &str,
        optimizer: &Ident,
        options: &[KeyValue],
        span: Span,
        out: &mut dyn Write,
    ) -> RunResult<()> {
        let data = self.train_data.clone().ok_or_else(|| {
            RunError::new("no training data", span, "needs data")
                .help("declare it first: `data X -> Y`")
        })?;
        let default_loss = if matches!(data.y, Value::Int(_)) {
            Loss::Xent
        } else {
            Loss::Mse
        };
        let plan = plan(optimizer, options, default_loss)?;
        let x = data.x.to_float().ok_or_else(|| {
            RunError::new(
                "the training inputs are not a tensor",
                data.span,
                "not a tensor",
            )
        })?;
        let x = self.conform_input(name, x, data.span)?;
        let n = x.shape()[0];
        let (out_shape, classes) = {
            let ir = &self.models[name].ir;
            let o = ir.output().clone();
            let classes = if o.rank() == 2 { o.0[1].known() } else { None };
            (o, classes)
        };
        let targets = targets_for(&data, plan.loss, n, &out_shape, classes)?;
        let batch = match plan.schedule {
            Schedule::Steps(_) => n,
            Schedule::Epochs { batch, .. } => batch.min(n),
        } as u64;
        let estimate = activation_bytes(&self.models[name].ir, batch, true);
        crate::io::check_alloc_bytes(
            estimate,
            &format!("training `{name}` with batches of {batch}"),
        )
        .map_err(|e| RunError::io(&e, span))?;
        let mut model = self
            .models
            .remove(name)
            .ok_or_else(|| RunError::new("unknown model", span, "here"))?;
        let result = self.train_loop(&mut model, &plan, &x, &targets, span, out);
        self.models.insert(name.to_string(), model);
        result
    }

    fn train_loop(
        &mut self,
        model: &mut ModelState,
        plan: &TrainPlan,
        x: &ndarray::ArrayD<f32>,
        targets: &Targets,
        span: Span,
        out: &mut dyn Write,
    ) -> RunResult<()> {
        let wr =
            |e: std::io::Error| RunError::new(format!("cannot write output: {e}"), span, "here");
        let n = x.shape()[0];
        let item: usize = x.shape()[1..].iter().product();
        let xs = x
            .as_slice()
            .map(|s| s.to_vec())
            .unwrap_or_else(|| x.iter().copied().collect());
        let mut opt = OptState::new(model);
        let mut history = History::default();
        let mut tb_f: Vec<f32> = Vec::new();
        let mut tb_l: Vec<i64> = Vec::new();
        match plan.schedule {
            Schedule::Steps(steps) => {
                history.unit = "step";
                let mut shape = x.shape().to_vec();
                shape[0] = n;
                for step in 1..=steps {
                    // The whole data set is the input of every step: copied
                    // into the tape once.
                    if step == 1 {
                        self.tape.start(&shape, &xs);
                    } else {
                        self.tape.restart(&shape);
                    }
                    let (loss_value, _) =
                        self.step(model, targets_all(targets), plan, &mut opt, step, span)?;
                    if plan.log.is_some_and(|k| step.is_multiple_of(k)) {
                        writeln!(out, "Step {step}, loss {loss_value:.3}").map_err(wr)?;
                    }
                    history.records.push(Record {
                        at: step,
                        loss: loss_value,
                        train_acc: None,
                        test_acc: None,
                    });
                }
            }
            Schedule::Epochs { epochs, batch } => {
                history.unit = "epoch";
                let batch = batch.min(n).max(1);
                let mut order: Vec<usize> = (0..n).collect();
                let mut global_step = 0usize;
                let bar = self.progress_bar(epochs * n.div_ceil(batch));
                for epoch in 1..=epochs {
                    let started = Instant::now();
                    super::draws::shuffle(&mut self.rng, &mut order);
                    self.note_draw(span, || super::draws::Draw::Order(order.clone()));
                    let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
                    for chunk in order.chunks(batch) {
                        global_step += 1;
                        let bs = chunk.len();
                        let mut shape = x.shape().to_vec();
                        shape[0] = bs;
                        self.tape.start_with(&shape, |batch| {
                            if item > 0 {
                                let slots = batch.chunks_exact_mut(item);
                                for (&r, slot) in chunk.iter().zip(slots) {
                                    slot.copy_from_slice(&xs[r * item..(r + 1) * item]);
                                }
                            }
                        });
                        let tb = match targets {
                            Targets::Float(t) => {
                                let per = t.len() / n.max(1);
                                tb_f.clear();
                                for &r in chunk {
                                    tb_f.extend_from_slice(&t[r * per..(r + 1) * per]);
                                }
                                TargetSlice::Float(&tb_f)
                            }
                            Targets::Labels(l) => {
                                tb_l.clear();
                                tb_l.extend(chunk.iter().map(|&r| l[r]));
                                TargetSlice::Labels(&tb_l)
                            }
                        };
                        let (loss_value, hits) =
                            self.step(model, tb, plan, &mut opt, global_step, span)?;
                        loss_sum += loss_value * bs as f64;
                        correct += hits;
                        seen += bs;
                        if let Some(b) = &bar {
                            b.set_message(format!(
                                "epoch {epoch}, loss {:.3}",
                                loss_sum / seen as f64
                            ));
                            b.inc(1);
                        }
                        if plan.log.is_some_and(|k| global_step.is_multiple_of(k)) {
                            writeln!(out, "Step {global_step}, loss {loss_value:.3}")
                                .map_err(wr)?;
                        }
                    }
                    let loss_avg = loss_sum / seen.max(1) as f64;
                    let mut line = format!("Epoch {epoch}, loss {loss_avg:.3}");
                    let mut rec = Record {
                        at: epoch,
                        loss: loss_avg,
                        train_acc: None,
                        test_acc: None,
                    };
                    if plan.loss == Loss::Xent {
                        let acc = correct as f64 / seen.max(1) as f64;
                        line.push_str(&format!(", train acc {acc:.3}"));
                        rec.train_acc = Some(acc);
                        if let Some(test) = self.test_data.clone() {
                            let (_, acc) = self.measure(model, &test, Loss::Xent, span)?;
                            if let Some(acc) = acc {
                                line.push_str(&format!(", test acc {acc:.3}"));
                                rec.test_acc = Some(acc);
                            }
                        }
                    }
                    line.push_str(&format!(", time {:.2}s", started.elapsed().as_secs_f64()));
                    if let Some(b) = &bar {
                        b.suspend(|| writeln!(out, "{line}")).map_err(wr)?;
                    } else {
                        writeln!(out, "{line}").map_err(wr)?;
                    }
                    history.records.push(rec);
                }
                if let Some(b) = bar {
                    b.finish_and_clear();
                }
            }
        }
        self.history = Some(history);
        Ok(())
    }

    fn progress_bar(&self, total: usize) -> Option<indicatif::ProgressBar> {
        if !self.progress || total < 2 {
            return None;
        }
        let bar = indicatif::ProgressBar::new(total as u64);
        // indicatif's own {per_sec} prints four decimals; one is plenty
        let style = indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} batches  {msg}  {rate}  eta {eta}",
        )
        .ok()?
        .with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.1} batches/s", state.per_sec());
            },
        );
        bar.set_style(style);
        Some(bar)
    }

    /// One training step on the input already in the tape
    /// (`Tape::start*`/`restart`): forward (train mode), loss, backward,
    /// update. Returns the loss (before the update) and the number of
    /// correct predictions.
    fn step(
        &mut self,
        model: &mut ModelState,
        targets: TargetSlice,
        plan: &TrainPlan,
        opt: &mut OptState,
        step: usize,
        span: Span,
    ) -> RunResult<(f64, usize)> {
        let out = self
            .tape
            .forward(model, Mode::Train, &mut self.rng, None)
            .map_err(|msg| RunError::new(msg, span, "while training"))?;
        let (pred, dpred) = self.tape.seed_grad(out);
        let (value, hits) =
            loss_and_grad(plan.loss, &pred.data, &pred.shape, &targets, dpred, span)?;
        if !value.is_finite() {
            return Err(RunError::new(
                format!(
                    "the loss became {} at step {step}",
                    if value.is_nan() { "NaN" } else { "infinite" }
                ),
                span,
                "training diverged",
            )
            .help(
                "the parameters keep their values from before this step; lower the learning rate",
            ));
        }
        model.zero_grad();
        self.tape.backward_seeded(model, out);
        if let Some(p) = model
            .params
            .iter()
            .find(|p| p.learnable && p.grad.iter().any(|g| !g.is_finite()))
        {
            return Err(RunError::new(
                format!(
                    "the gradient of `{}` became NaN or infinite at step {step}",
                    p.name
                ),
                span,
                "training diverged",
            )
            .help(
                "the parameters keep their values from before this step; lower the learning rate",
            ));
        }
        opt.step(&plan.optimizer, model);
        Ok((value, hits))
    }

    /// Loss (and accuracy for xent) of a model on a data pair, eval mode.
    fn measure(
        &mut self,
        model: &mut ModelState,
        data: &DataPair,
        loss: Loss,
        span: Span,
    ) -> RunResult<(f64, Option<f64>)> {
        let x = data.x.to_float().ok_or_else(|| {
            RunError::new("the inputs are not a tensor", data.span, "not a tensor")
        })?;
        let x = super::conform_input(&model.ir, x, data.span)?;
        let n = x.shape()[0];
        let out_shape = model.ir.output().clone();
        let classes = if out_shape.rank() == 2 {
            out_shape.0[1].known()
        } else {
            None
        };
        let targets = targets_for(data, loss, n, &out_shape, classes)?;
        let xs: Vec<f32> = x.iter().copied().collect();
        let item: usize = x.shape()[1..].iter().product();
        let chunk = 512usize;
        let (mut loss_sum, mut hits) = (0.0f64, 0usize);
        let mut scratch = Vec::new();
        for start in (0..n).step_by(chunk) {
            let end = (start + chunk).min(n);
            let mut shape = x.shape().to_vec();
            shape[0] = end - start;
            self.tape.start(&shape, &xs[start * item..end * item]);
            let out = self
                .tape
                .forward(model, Mode::Eval, &mut self.rng, None)
                .map_err(|msg| RunError::new(msg, span, "while evaluating"))?;
            let pred = self.tape.buf(out);
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
            loss_sum += l * (end - start) as f64;
            hits += h;
        }
        let acc = (loss == Loss::Xent).then(|| hits as f64 / n.max(1) as f64);
        Ok((loss_sum / n.max(1) as f64, acc))
    }

    /// `eval [model]`: loss and accuracy on the test data (or the training data).
    pub fn evaluate(&mut self, name: &str, span: Span, out: &mut dyn Write) -> RunResult<()> {
        let (data, which) = match (&self.test_data, &self.train_data) {
            (Some(t), _) => (t.clone(), "test"),
            (None, Some(t)) => (t.clone(), "train"),
            (None, None) => {
                return Err(RunError::new("no data to evaluate on", span, "needs data")
                    .help("declare it first: `data test = X -> Y`"))
            }
        };
        let loss = if matches!(data.y, Value::Int(_)) {
            Loss::Xent
        } else {
            Loss::Mse
        };
        let mut model = self
            .models
            .remove(name)
            .ok_or_else(|| RunError::new("unknown model", span, "here"))?;
        let result = self.measure(&mut model, &data, loss, span);
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

/// A batch's targets.
#[derive(Clone, Copy)]
enum TargetSlice<'a> {
    Float(&'a [f32]),
    Labels(&'a [i64]),
}

fn targets_all(t: &Targets) -> TargetSlice<'_> {
    match t {
        Targets::Float(v) => TargetSlice::Float(v),
        Targets::Labels(v) => TargetSlice::Labels(v),
    }
}

/// Check the targets against the model's output and the loss.
fn targets_for(
    data: &DataPair,
    loss: Loss,
    n: usize,
    out_shape: &crate::ir::shape::Shape,
    classes: Option<u64>,
) -> RunResult<Targets> {
    let per_item: Option<u64> = out_shape.per_item();
    match loss {
        Loss::Xent => {
            let classes = classes.ok_or_else(|| {
                RunError::new(
                    format!("xent needs a model whose output is NxC (class scores), but it gives {out_shape}"),
                    data.span,
                    "not class scores",
                )
                .help("end the model with `flatten` and `linear(out=CLASSES)`")
            })?;
            let labels: Vec<i64> = match &data.y {
                Value::Int(a) => a.iter().copied().collect(),
                Value::Float(a) => {
                    if a.iter().any(|v| v.fract() != 0.0) {
                        return Err(RunError::new(
                            "xent needs integer class labels",
                            data.span,
                            "not labels",
                        ));
                    }
                    a.iter().map(|v| *v as i64).collect()
                }
                Value::Bundle(_) => {
                    return Err(RunError::new(
                        "the targets are a bundle",
                        data.span,
                        "not a tensor",
                    ))
                }
            };
            if labels.len() != n {
                return Err(RunError::new(
                    format!("{n} inputs but {} labels", labels.len()),
                    data.span,
                    "counts differ",
                ));
            }
            if let Some((i, l)) = labels
                .iter()
                .enumerate()
                .find(|(_, l)| **l < 0 || **l as u64 >= classes)
            {
                return Err(RunError::new(
                    format!("label {l} (item {i}) is out of range: the model has {classes} classes (0..{})", classes - 1),
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
            let want = per_item.map(|p| p as usize * n);
            if want != Some(y.len()) {
                return Err(RunError::new(
                    format!(
                        "the targets have shape {} ({} values) but the model gives {} per item for {n} items",
                        super::eval::shape_words(y.shape()),
                        y.len(),
                        out_shape
                    ),
                    data.span,
                    "targets do not match the model's output",
                )
                .help("the targets must have the model's output shape (a rank-2/3 target is promoted when its size fits)"));
            }
            Ok(Targets::Float(y.iter().copied().collect()))
        }
    }
}

/// The loss of a batch and its gradient with respect to the predictions,
/// written over `dpred` (whatever it held).
fn loss_and_grad(
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

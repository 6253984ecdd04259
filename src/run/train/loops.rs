//! The training loops (full-batch steps, shuffled mini-batch epochs), one
//! step (forward, loss, backward, update, or nothing when it diverges) and
//! evaluation.

use std::time::Instant;

use ndarray::ArrayD;
use rand::Rng;

use super::super::error::{RunError, RunResult};
use super::super::params::ModelState;
use super::super::tape::Mode;
use super::super::{DataPair, Interp, Output, Progress};
use super::optimizer::OptState;
use super::options::{Loss, Schedule, TrainPlan};
use super::targets::{loss_and_grad, targets_all, targets_for, TargetSlice, Targets};
use super::{History, Record};
use crate::syntax::ast::Span;
use crate::value::Value;

/// The inputs and targets of one `train`, and how to train on them.
struct Run<'a> {
    plan: &'a TrainPlan,
    /// The input shape (all items).
    shape: &'a [usize],
    /// The inputs, contiguous.
    xs: Vec<f32>,
    targets: &'a Targets,
    span: Span,
}

impl Run<'_> {
    fn items(&self) -> usize {
        self.shape[0]
    }
    /// Values per item.
    fn item_len(&self) -> usize {
        self.shape[1..].iter().product()
    }
    fn write_error(&self) -> impl Fn(std::io::Error) -> RunError {
        let span = self.span;
        move |e| RunError::new(format!("cannot write output: {e}"), span, "here")
    }
}

/// The buffers (batchnorm's running statistics) as they were before a step,
/// put back when the step diverges.
#[derive(Default)]
struct Buffers(Vec<Vec<f32>>);

impl Buffers {
    fn save(&mut self, model: &ModelState) {
        self.0.resize(model.params.len(), Vec::new());
        for (kept, p) in self.0.iter_mut().zip(&model.params) {
            if !p.learnable {
                kept.clone_from(&p.data);
            }
        }
    }
    fn restore(&self, model: &mut ModelState) {
        for (kept, p) in self.0.iter().zip(model.params.iter_mut()) {
            if !p.learnable {
                p.data.clone_from(kept);
            }
        }
    }
}

impl Interp {
    /// Train `model` on `x` as the plan says; the history goes to `self.history`.
    pub(super) fn train_loop(
        &mut self,
        model: &mut ModelState,
        plan: &TrainPlan,
        x: &ArrayD<f32>,
        targets: &Targets,
        span: Span,
        out: &mut dyn Output,
    ) -> RunResult<()> {
        let run = Run {
            plan,
            shape: x.shape(),
            xs: x
                .as_slice()
                .map(|s| s.to_vec())
                .unwrap_or_else(|| x.iter().copied().collect()),
            targets,
            span,
        };
        let mut opt = OptState::new(model);
        let history = match plan.schedule {
            Schedule::Steps(steps) => self.full_batch(model, &run, &mut opt, steps, out)?,
            Schedule::Epochs { epochs, batch } => {
                self.epochs(model, &run, &mut opt, epochs, batch, out)?
            }
        };
        self.history = Some(history);
        Ok(())
    }

    /// `steps=K`: the whole data set is the input of every step, copied into
    /// the tape once.
    fn full_batch(
        &mut self,
        model: &mut ModelState,
        run: &Run,
        opt: &mut OptState,
        steps: usize,
        out: &mut dyn Output,
    ) -> RunResult<History> {
        let mut history = History {
            unit: "step",
            records: Vec::new(),
        };
        let mut buffers = Buffers::default();
        let report = run.write_error();
        out.progress(Progress::Start {
            total: steps,
            unit: "step",
        })
        .map_err(&report)?;
        for step in 1..=steps {
            stop_if_interrupted(step - 1, "steps", run.span)?;
            if step == 1 {
                self.tape.start(run.shape, &run.xs);
            } else {
                self.tape.restart(run.shape);
            }
            let targets = targets_all(run.targets);
            let (loss, _) = self.step(model, targets, run, opt, &mut buffers, step)?;
            if run.plan.log.is_some_and(|k| step.is_multiple_of(k)) {
                writeln!(out, "Step {step}, loss {loss:.3}").map_err(run.write_error())?;
            }
            history.records.push(Record {
                at: step,
                loss,
                train_acc: None,
                test_acc: None,
            });
            out.progress(Progress::Step {
                done: step,
                epoch: None,
                loss,
            })
            .map_err(&report)?;
        }
        out.progress(Progress::Finish).map_err(&report)?;
        Ok(history)
    }

    /// `epochs=E batch=B`: each epoch shuffles the items and steps through
    /// them `B` at a time, then prints one line.
    fn epochs(
        &mut self,
        model: &mut ModelState,
        run: &Run,
        opt: &mut OptState,
        epochs: usize,
        batch: usize,
        out: &mut dyn Output,
    ) -> RunResult<History> {
        let mut history = History {
            unit: "epoch",
            records: Vec::new(),
        };
        let n = run.items();
        let batch = batch.min(n).max(1);
        let mut order: Vec<usize> = (0..n).collect();
        let mut global_step = 0usize;
        let mut scratch = BatchTargets::default();
        let mut buffers = Buffers::default();
        let total = epochs * n.div_ceil(batch);
        let bar = self.progress_bar(total);
        let report = run.write_error();
        out.progress(Progress::Start {
            total,
            unit: "batch",
        })
        .map_err(&report)?;
        for epoch in 1..=epochs {
            let started = Instant::now();
            for i in (1..n).rev() {
                let j = self.rng.random_range(0..=i);
                order.swap(i, j);
            }
            let mut sums = EpochSums::default();
            for chunk in order.chunks(batch) {
                stop_if_interrupted(global_step, "batches", run.span)?;
                global_step += 1;
                self.load_batch(run, chunk);
                let targets = scratch.gather(run.targets, chunk, n);
                let (loss, hits) =
                    self.step(model, targets, run, opt, &mut buffers, global_step)?;
                sums.add(loss, hits, chunk.len());
                if let Some(b) = &bar {
                    b.set_message(format!("epoch {epoch}, loss {:.3}", sums.loss()));
                    b.inc(1);
                }
                out.progress(Progress::Step {
                    done: global_step,
                    epoch: Some(epoch),
                    loss: sums.loss(),
                })
                .map_err(&report)?;
                if run.plan.log.is_some_and(|k| global_step.is_multiple_of(k)) {
                    writeln!(out, "Step {global_step}, loss {loss:.3}")
                        .map_err(run.write_error())?;
                }
            }
            let (mut line, record) = self.epoch_record(model, run, epoch, &sums)?;
            line.push_str(&format!(", time {:.2}s", started.elapsed().as_secs_f64()));
            match &bar {
                Some(b) => b.suspend(|| writeln!(out, "{line}")),
                None => writeln!(out, "{line}"),
            }
            .map_err(run.write_error())?;
            history.records.push(record);
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        out.progress(Progress::Finish).map_err(&report)?;
        Ok(history)
    }

    /// Copy the items of `chunk` into the tape as one batch.
    fn load_batch(&mut self, run: &Run, chunk: &[usize]) {
        let item = run.item_len();
        let mut shape = run.shape.to_vec();
        shape[0] = chunk.len();
        self.tape.start_with(&shape, |batch| {
            if item > 0 {
                let slots = batch.chunks_exact_mut(item);
                for (&r, slot) in chunk.iter().zip(slots) {
                    slot.copy_from_slice(&run.xs[r * item..(r + 1) * item]);
                }
            }
        });
    }

    /// An epoch's line (`Epoch 3, loss 0.412, train acc ..., test acc ...`)
    /// and record; accuracies only for `xent`, the test one with test data.
    fn epoch_record(
        &mut self,
        model: &mut ModelState,
        run: &Run,
        epoch: usize,
        sums: &EpochSums,
    ) -> RunResult<(String, Record)> {
        let mut line = format!("Epoch {epoch}, loss {:.3}", sums.loss());
        let mut record = Record {
            at: epoch,
            loss: sums.loss(),
            train_acc: None,
            test_acc: None,
        };
        if run.plan.loss == Loss::Xent {
            let acc = sums.correct as f64 / sums.seen.max(1) as f64;
            line.push_str(&format!(", train acc {acc:.3}"));
            record.train_acc = Some(acc);
            if let Some(test) = self.test_data.clone() {
                let (_, acc) = self.measure(model, &test, Loss::Xent, run.span)?;
                if let Some(acc) = acc {
                    line.push_str(&format!(", test acc {acc:.3}"));
                    record.test_acc = Some(acc);
                }
            }
        }
        Ok((line, record))
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
    /// correct predictions. When the loss, a gradient or the update is NaN
    /// or infinite, the model is left as it was before the step.
    fn step(
        &mut self,
        model: &mut ModelState,
        targets: TargetSlice,
        run: &Run,
        opt: &mut OptState,
        buffers: &mut Buffers,
        step: usize,
    ) -> RunResult<(f64, usize)> {
        let span = run.span;
        buffers.save(model);
        let diverged = |what: String, buffers: &Buffers, model: &mut ModelState| {
            buffers.restore(model);
            RunError::new(format!("{what} at step {step}"), span, "training diverged").help(
                "the parameters keep their values from before this step; lower the learning rate",
            )
        };
        let out = self
            .tape
            .forward(model, Mode::Train, &mut self.rng, None)
            .map_err(|msg| RunError::new(msg, span, "while training"))?;
        let (pred, dpred) = self.tape.seed_grad(out);
        let (value, hits) = loss_and_grad(
            run.plan.loss,
            &pred.data,
            &pred.shape,
            &targets,
            dpred,
            span,
        )?;
        if !value.is_finite() {
            let what = if value.is_nan() { "NaN" } else { "infinite" };
            return Err(diverged(format!("the loss became {what}"), buffers, model));
        }
        model.zero_grad();
        self.tape.backward_seeded(model, out);
        if let Some(p) = model
            .params
            .iter()
            .find(|p| p.learnable && p.grad.iter().any(|g| !g.is_finite()))
        {
            let what = format!("the gradient of `{}` became NaN or infinite", p.name);
            return Err(diverged(what, buffers, model));
        }
        if let Err(name) = opt.step(&run.plan.optimizer, model) {
            let what = format!("the update of `{name}` would make it NaN or infinite");
            return Err(diverged(what, buffers, model));
        }
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
        let x = super::super::conform_input(&model.ir, x, data.span)?;
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
    pub fn evaluate(&mut self, name: &str, span: Span, out: &mut dyn Output) -> RunResult<()> {
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

/// An error when an interrupt was asked for (a notebook's stop button,
/// SIGINT to the kernel): training stops between two steps.
fn stop_if_interrupted(done: usize, unit: &str, span: Span) -> RunResult<()> {
    crate::interrupt::check().map_err(|_| {
        RunError::new(
            format!("training interrupted after {done} {unit}"),
            span,
            "interrupted here",
        )
        .help("the model keeps the weights of the finished steps; `train` again to go on")
    })
}

/// What an epoch's batches add up to.
#[derive(Default)]
struct EpochSums {
    loss_sum: f64,
    correct: usize,
    seen: usize,
}

impl EpochSums {
    fn add(&mut self, loss: f64, hits: usize, items: usize) {
        self.loss_sum += loss * items as f64;
        self.correct += hits;
        self.seen += items;
    }
    /// The mean loss per item so far.
    fn loss(&self) -> f64 {
        self.loss_sum / self.seen.max(1) as f64
    }
}

/// The targets of the current batch, gathered from all targets.
#[derive(Default)]
struct BatchTargets {
    floats: Vec<f32>,
    labels: Vec<i64>,
}

impl BatchTargets {
    fn gather<'a>(&'a mut self, targets: &Targets, chunk: &[usize], n: usize) -> TargetSlice<'a> {
        match targets {
            Targets::Float(t) => {
                let per = t.len() / n.max(1);
                self.floats.clear();
                for &r in chunk {
                    self.floats.extend_from_slice(&t[r * per..(r + 1) * per]);
                }
                TargetSlice::Float(&self.floats)
            }
            Targets::Labels(l) => {
                self.labels.clear();
                self.labels.extend(chunk.iter().map(|&r| l[r]));
                TargetSlice::Labels(&self.labels)
            }
        }
    }
}

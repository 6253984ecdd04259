//! The training loops (full-batch steps, shuffled mini-batch epochs) and one
//! step (forward, loss, backward, update, or nothing when it diverges).
//! Between steps they can stop on Ctrl-C and write checkpoints.

use std::path::PathBuf;
use std::time::Instant;

use ndarray::ArrayD;

use super::super::draws::{shuffle, Draw};
use super::super::error::{Depends, RunError, RunResult};
use super::super::params::ModelState;
use super::super::tape::Mode;
use super::super::{Interp, Output, Progress};
use super::checkpoint;
use super::optimizer::OptState;
use super::options::{Loss, Schedule, TrainPlan};
use super::position::{EpochSums, Position, Stop};
use super::targets::{loss_and_grad, targets_all, TargetSlice, Targets};
use super::{History, Record};
use crate::interrupt;
use crate::io::IoError;
use crate::ir::train_options::FileOption;
use crate::syntax::ast::Span;

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
        move |e| {
            RunError::new(format!("cannot write output: {e}"), span, "here").depends(Depends::Files)
        }
    }
}

/// A training run in progress: its data and plan, the optimizer, where it
/// is, what it has recorded, and where the last checkpoint was written.
struct Trainer<'r, 'a> {
    run: &'r Run<'a>,
    opt: &'r mut OptState,
    at: &'r mut Position,
    history: &'r mut History,
    /// The step of the last checkpoint `every=` wrote.
    saved_at: Option<usize>,
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
    /// Train `model` on `x` as the plan says (resuming and writing
    /// checkpoints as it asks); the history goes to `self.history`. A
    /// Ctrl-C stops at a step boundary with an interrupted error that says
    /// which weights the model keeps.
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
        let mut at = Position::start(plan.schedule, run.items());
        if let Some(file) = &plan.checkpoints.resume {
            let path = self.path(&file.path);
            let target = checkpoint::Target {
                model,
                opt: &mut opt,
                rng: &mut self.rng,
                at: &mut at,
            };
            checkpoint::resume(&path, file, plan, run.items(), target)?;
        }
        if let Some(header) = &plan.header {
            let resumed = match &plan.checkpoints.resume {
                Some(file) => format!(", resumed from {} after step {}", file.path, at.step),
                None => String::new(),
            };
            writeln!(out, "{header}{resumed}").map_err(run.write_error())?;
        }
        let _region = interrupt::Region::enter();
        let mut history = History {
            unit: match plan.schedule {
                Schedule::Steps(_) => "step",
                Schedule::Epochs { .. } => "epoch",
            },
            records: Vec::new(),
        };
        let mut trainer = Trainer {
            run: &run,
            opt: &mut opt,
            at: &mut at,
            history: &mut history,
            saved_at: None,
        };
        let result = match plan.schedule {
            Schedule::Steps(steps) => self.full_batch(model, &mut trainer, steps, out),
            Schedule::Epochs { epochs, batch } => {
                self.epochs(model, &mut trainer, epochs, batch, out)
            }
        };
        let result = match result {
            Ok(()) => self.checkpoint(model, &trainer).map_err(Stop::Failed),
            other => other,
        };
        self.history = Some(history);
        match result {
            Ok(()) => Ok(()),
            Err(Stop::Failed(e)) => Err(e),
            Err(Stop::Interrupted) => Err(self.interrupted(model, &opt, &run, &at)),
        }
    }

    /// The error an interrupted `train` ends with, after writing the
    /// checkpoint when one is configured.
    fn interrupted(
        &self,
        model: &ModelState,
        opt: &OptState,
        run: &Run,
        at: &Position,
    ) -> RunError {
        let plan = run.plan;
        let e = RunError::interrupted(at.stopped(plan.schedule, run.items()), run.span);
        let Some(file) = &plan.checkpoints.save else {
            return e.help(
                "add `checkpoint=\"ck.safetensors\"` to keep the optimizer state too and continue later with `resume=`",
            );
        };
        match self.write_checkpoint(file, model, opt, run, at) {
            Ok(path) => e.help(format!(
                "checkpoint written to {}; continue with `resume=\"{}\"`",
                path.strip_prefix(".").unwrap_or(&path).display(),
                file.path
            )),
            Err(err) => e.help(format!("the checkpoint could not be written: {err}")),
        }
    }

    /// Write the checkpoint (when there is one and it does not hold this
    /// step already); a failure stops training.
    fn checkpoint(&self, model: &ModelState, t: &Trainer) -> RunResult<()> {
        let Some(file) = &t.run.plan.checkpoints.save else {
            return Ok(());
        };
        if t.saved_at == Some(t.at.step) {
            return Ok(());
        }
        self.write_checkpoint(file, model, t.opt, t.run, t.at)
            .map(|_| ())
            .map_err(|e| {
                let stopped = t.at.stopped(t.run.plan.schedule, t.run.items());
                RunError::io(&e, file.span).help(format!(
                    "{stopped}; {} keeps its previous contents",
                    file.path
                ))
            })
    }

    /// Write the training state to `file`; the path written.
    fn write_checkpoint(
        &self,
        file: &FileOption,
        model: &ModelState,
        opt: &OptState,
        run: &Run,
        at: &Position,
    ) -> Result<PathBuf, IoError> {
        let path = self.path(&file.path);
        let state = checkpoint::State {
            model,
            opt,
            plan: run.plan,
            at,
            rng: &self.rng,
            items: run.items(),
        };
        checkpoint::save(&path, &state).map(|()| path)
    }

    /// After a step or an epoch: the checkpoint when `every=` says so.
    fn checkpoint_if_due(&self, model: &ModelState, t: &mut Trainer) -> RunResult<()> {
        let plan = t.run.plan;
        let due = plan.checkpoints.save.is_some()
            && plan
                .checkpoints
                .every
                .is_some_and(|k| t.at.done.is_multiple_of(k));
        if due {
            self.checkpoint(model, t)?;
            t.saved_at = Some(t.at.step);
        }
        Ok(())
    }

    /// `steps=K`: the whole data set is the input of every step, copied into
    /// the tape once.
    fn full_batch(
        &mut self,
        model: &mut ModelState,
        t: &mut Trainer,
        steps: usize,
        out: &mut dyn Output,
    ) -> Result<(), Stop> {
        let run = t.run;
        let report = run.write_error();
        out.progress(Progress::Start {
            total: steps,
            unit: "step",
        })
        .map_err(&report)?;
        let mut buffers = Buffers::default();
        let mut started = false;
        while t.at.done < steps {
            interrupt::check()?;
            if started {
                self.tape.restart(run.shape);
            } else {
                self.tape.start(run.shape, &run.xs);
                started = true;
            }
            let targets = targets_all(run.targets);
            let step = t.at.step + 1;
            let (loss, _) = self.step(model, targets, run, t.opt, &mut buffers, step)?;
            t.at.done += 1;
            t.at.step = step;
            if run.plan.log.is_some_and(|k| step.is_multiple_of(k)) {
                writeln!(out, "Step {step}, loss {loss:.3}").map_err(run.write_error())?;
            }
            t.history.records.push(Record {
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
            self.checkpoint_if_due(model, t)?;
        }
        out.progress(Progress::Finish).map_err(&report)?;
        Ok(())
    }

    /// `epochs=E batch=B`: each epoch shuffles the items and steps through
    /// them `B` at a time, then prints one line.
    fn epochs(
        &mut self,
        model: &mut ModelState,
        t: &mut Trainer,
        epochs: usize,
        batch: usize,
        out: &mut dyn Output,
    ) -> Result<(), Stop> {
        let n = t.run.items();
        let per_epoch = Position::batches(n, batch);
        let total = epochs * per_epoch;
        let bar = self.progress_bar(total);
        if let Some(b) = &bar {
            b.set_position(t.at.step as u64);
        }
        let report = t.run.write_error();
        out.progress(Progress::Start {
            total,
            unit: "batch",
        })
        .map_err(&report)?;
        let result = self.epoch_loop(model, t, (epochs, batch.min(n).max(1)), &bar, out);
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        result?;
        out.progress(Progress::Finish).map_err(&report)?;
        Ok(())
    }

    fn epoch_loop(
        &mut self,
        model: &mut ModelState,
        t: &mut Trainer,
        (epochs, batch): (usize, usize),
        bar: &Option<indicatif::ProgressBar>,
        out: &mut dyn Output,
    ) -> Result<(), Stop> {
        let run = t.run;
        let n = run.items();
        let per_epoch = Position::batches(n, batch);
        let mut scratch = BatchTargets::default();
        let mut buffers = Buffers::default();
        while t.at.done < epochs {
            let epoch = t.at.done + 1;
            let started = Instant::now();
            if t.at.batch == 0 {
                // a stop here, before the shuffle, leaves a whole epoch to do
                interrupt::check()?;
                shuffle(&mut self.rng, &mut t.at.order);
                self.note_draw(run.span, || Draw::Order(t.at.order.clone()));
                t.at.sums = EpochSums::default();
            }
            while t.at.batch < per_epoch {
                if t.at.batch > 0 {
                    interrupt::check()?;
                }
                let start = t.at.batch * batch;
                let chunk = &t.at.order[start..(start + batch).min(n)];
                self.load_batch(run, chunk);
                let targets = scratch.gather(run.targets, chunk, n);
                let step = t.at.step + 1;
                let items = chunk.len();
                let (loss, hits) = self.step(model, targets, run, t.opt, &mut buffers, step)?;
                t.at.sums.add(loss, hits, items);
                t.at.batch += 1;
                t.at.step = step;
                if let Some(b) = bar {
                    b.set_message(format!("epoch {epoch}, loss {:.3}", t.at.sums.loss()));
                    b.inc(1);
                }
                out.progress(Progress::Step {
                    done: step,
                    epoch: Some(epoch),
                    loss: t.at.sums.loss(),
                })
                .map_err(run.write_error())?;
                if run.plan.log.is_some_and(|k| step.is_multiple_of(k)) {
                    let line = format!("Step {step}, loss {loss:.3}");
                    match bar {
                        Some(b) => b.suspend(|| writeln!(out, "{line}")),
                        None => writeln!(out, "{line}"),
                    }
                    .map_err(run.write_error())?;
                }
            }
            let (mut line, record) = self.epoch_record(model, run, epoch, &t.at.sums)?;
            line.push_str(&format!(", time {:.2}s", started.elapsed().as_secs_f64()));
            match bar {
                Some(b) => b.suspend(|| writeln!(out, "{line}")),
                None => writeln!(out, "{line}"),
            }
            .map_err(run.write_error())?;
            t.history.records.push(record);
            t.at.done += 1;
            t.at.batch = 0;
            self.checkpoint_if_due(model, t)?;
        }
        Ok(())
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
                let (_, acc) = self.measure(model, &test, Loss::Xent, run.span, false)?;
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
    /// or infinite, the model is left as it was before the step; so it is
    /// when a Ctrl-C stops the step between two layers, and the random
    /// generator too (a checkpoint then resumes as if the step never began).
    fn step(
        &mut self,
        model: &mut ModelState,
        targets: TargetSlice,
        run: &Run,
        opt: &mut OptState,
        buffers: &mut Buffers,
        step: usize,
    ) -> Result<(f64, usize), Stop> {
        buffers.save(model);
        let rng = self.rng.clone();
        self.tape.stoppable(true);
        let result = self.step_passes(model, targets, run, opt, buffers, step);
        self.tape.stoppable(false);
        if matches!(result, Err(Stop::Interrupted)) {
            buffers.restore(model);
            self.rng = rng;
        }
        result
    }

    /// The passes of [`Interp::step`], stopped early on a Ctrl-C.
    fn step_passes(
        &mut self,
        model: &mut ModelState,
        targets: TargetSlice,
        run: &Run,
        opt: &mut OptState,
        buffers: &mut Buffers,
        step: usize,
    ) -> Result<(f64, usize), Stop> {
        let span = run.span;
        let diverged = |what: String, buffers: &Buffers, model: &mut ModelState| {
            buffers.restore(model);
            RunError::new(format!("{what} at step {step}"), span, "training diverged")
                .help(
                    "the parameters keep their values from before this step; lower the learning rate",
                )
                .depends(Depends::Values)
        };
        let out = match self.tape.forward(model, Mode::Train, &mut self.rng, None) {
            Ok(out) => out,
            Err(_) if self.tape.cut() => return Err(Stop::Interrupted),
            Err(msg) => return Err(RunError::new(msg, span, "while training").into()),
        };
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
            return Err(diverged(format!("the loss became {what}"), buffers, model).into());
        }
        model.zero_grad();
        self.tape.backward_seeded(model, out);
        if self.tape.cut() {
            return Err(Stop::Interrupted);
        }
        // A NaN or infinite gradient always makes a non-finite update, so the
        // gradients are searched only when the optimizer refuses one.
        if let Err(name) = opt.step(&run.plan.optimizer, model) {
            let what = match model
                .params
                .iter()
                .find(|p| p.learnable && p.grad.iter().any(|g| !g.is_finite()))
            {
                Some(p) => format!("the gradient of `{}` became NaN or infinite", p.name),
                None => format!("the update of `{name}` would make it NaN or infinite"),
            };
            return Err(diverged(what, buffers, model).into());
        }
        Ok((value, hits))
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

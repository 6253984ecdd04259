//! How far a training run has come: what a checkpoint records beside the
//! tensors, and what an interrupted `train` says about the model.

use super::super::error::RunError;
use super::options::Schedule;
use crate::interrupt::Interrupted;
use crate::ir::report::thousands;

/// What an epoch's batches add up to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EpochSums {
    pub loss_sum: f64,
    pub correct: usize,
    pub seen: usize,
}

impl EpochSums {
    pub fn add(&mut self, loss: f64, hits: usize, items: usize) {
        self.loss_sum += loss * items as f64;
        self.correct += hits;
        self.seen += items;
    }
    /// The mean loss per item so far.
    pub fn loss(&self) -> f64 {
        self.loss_sum / self.seen.max(1) as f64
    }
}

/// The position of a training run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Position {
    /// Steps (full batch) or epochs finished.
    pub done: usize,
    /// Optimizer steps finished over the whole run (`log=` counts these).
    pub step: usize,
    /// Epochs: batches of epoch `done + 1` finished, and what they add up to.
    pub batch: usize,
    pub sums: EpochSums,
    /// Epochs: the order the items are visited in; every epoch reshuffles
    /// the previous epoch's order in place.
    pub order: Vec<usize>,
}

impl Position {
    /// The start of training on `items` items.
    pub fn start(schedule: Schedule, items: usize) -> Position {
        Position {
            order: match schedule {
                Schedule::Steps(_) => Vec::new(),
                Schedule::Epochs { .. } => (0..items).collect(),
            },
            ..Position::default()
        }
    }

    /// Batches per epoch on `items` items (at least 1).
    pub fn batches(items: usize, batch: usize) -> usize {
        items.div_ceil(batch.min(items).max(1)).max(1)
    }

    /// What an interrupted `train` says: "stopped after step 1,234 of 5,000;
    /// the model keeps the weights of step 1,234".
    pub fn stopped(&self, schedule: Schedule, items: usize) -> String {
        let (total, place) = match schedule {
            Schedule::Steps(steps) => (steps, String::new()),
            Schedule::Epochs { epochs, batch } => {
                let per_epoch = Position::batches(items, batch);
                let place = if self.batch > 0 {
                    format!(
                        " (epoch {} of {epochs}, batch {} of {per_epoch})",
                        self.done + 1,
                        self.batch
                    )
                } else if self.done > 0 {
                    format!(" (end of epoch {} of {epochs})", self.done)
                } else {
                    String::new()
                };
                (epochs.saturating_mul(per_epoch), place)
            }
        };
        let n = |v: usize| thousands(v as u64);
        if self.step == 0 {
            format!(
                "stopped before step 1 of {}; the model keeps the weights it had before `train`",
                n(total)
            )
        } else {
            format!(
                "stopped after step {} of {}{place}; the model keeps the weights of step {}",
                n(self.step),
                n(total),
                n(self.step)
            )
        }
    }
}

/// Why a training loop ended early.
pub enum Stop {
    /// Ctrl-C, at a step boundary.
    Interrupted,
    /// An error: divergence, data, output.
    Failed(RunError),
}

impl From<RunError> for Stop {
    fn from(e: RunError) -> Self {
        Stop::Failed(e)
    }
}

impl From<Interrupted> for Stop {
    fn from(_: Interrupted) -> Self {
        Stop::Interrupted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_which_weights_the_model_keeps() {
        let mut at = Position::start(Schedule::Steps(5000), 10);
        assert_eq!(
            at.stopped(Schedule::Steps(5000), 10),
            "stopped before step 1 of 5,000; the model keeps the weights it had before `train`"
        );
        at.step = 1234;
        at.done = 1234;
        assert_eq!(
            at.stopped(Schedule::Steps(5000), 10),
            "stopped after step 1,234 of 5,000; the model keeps the weights of step 1,234"
        );
        let epochs = Schedule::Epochs {
            epochs: 3,
            batch: 4,
        };
        let mut at = Position::start(epochs, 10);
        assert_eq!(at.order, (0..10).collect::<Vec<_>>());
        (at.done, at.batch, at.step) = (1, 2, 5);
        assert_eq!(
            at.stopped(epochs, 10),
            "stopped after step 5 of 9 (epoch 2 of 3, batch 2 of 3); the model keeps the weights of step 5"
        );
        (at.done, at.batch, at.step) = (2, 0, 6);
        assert!(at.stopped(epochs, 10).contains("(end of epoch 2 of 3)"));
    }
}

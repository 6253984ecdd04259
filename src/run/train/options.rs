//! A `train` statement's options, read by the one reader the checker also
//! uses ([`crate::ir::train_options`]); a mistake is a diagnostic at the option.

use super::super::error::{RunError, RunResult};
use crate::ir::train_options::{self, OptionError, OptionKind};
pub use crate::ir::train_options::{
    Checkpointing, FileOption, Loss, Optimizer, Schedule, TrainPlan,
};
use crate::syntax::ast::{Ident, KeyValue};

/// The optimizer's own options (`lr`, `momentum`...: the real-valued ones),
/// as the log's first line shows them.
pub fn is_hyperparameter(name: &str) -> bool {
    train_options::option(name).is_some_and(|o| matches!(o.kind, OptionKind::Real(_)))
}

/// Read `key=value` options into a plan, with diagnostics at the option.
pub fn plan(opt_name: &Ident, options: &[KeyValue], default_loss: Loss) -> RunResult<TrainPlan> {
    train_options::plan(opt_name, options, default_loss).map_err(option_error)
}

/// An option mistake the checker also reports, as a run-time error.
fn option_error(e: OptionError) -> RunError {
    RunError::new(e.message, e.span, e.label).help(e.help)
}

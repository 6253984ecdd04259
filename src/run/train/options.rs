//! A `train` statement's options, parsed and validated into a [`TrainPlan`];
//! every mistake is a diagnostic at the option.

use super::super::error::{RunError, RunResult};
use crate::ir::error::did_you_mean;
use crate::ir::train_options::{checkpointing, unknown_option, Checkpointing, OptionError};
use crate::syntax::ast::{ArgValue, Ident, KeyValue, Span};

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
    /// `checkpoint=`, `every=`, `resume=`.
    pub checkpoints: Checkpointing,
    /// The log's first line (`Training m: sgd lr=0.01, 30 steps`), when the
    /// statement logs; written once a `resume=` has been read.
    pub header: Option<String>,
}

/// The optimizer's own options (`lr`, `momentum`...), as the log's first line shows them.
pub fn is_hyperparameter(name: &str) -> bool {
    ["lr", "momentum", "weight_decay", "b1", "b2", "eps"].contains(&name)
}

/// Read `key=value` options into a plan, with diagnostics at the option.
pub fn plan(opt_name: &Ident, options: &[KeyValue], default_loss: Loss) -> RunResult<TrainPlan> {
    let opts = Options(options);
    opts.check_names()?;
    let optimizer = opts.optimizer(opt_name)?;
    let loss = opts.loss(default_loss)?;
    let steps = opts.positive_int("steps")?;
    let epochs = opts.positive_int("epochs")?;
    let batch = opts.positive_int("batch")?;
    let log = opts.positive_int("log")?;
    Ok(TrainPlan {
        optimizer,
        loss,
        schedule: schedule(steps, epochs, batch, opt_name)?,
        log,
        checkpoints: checkpointing(options).map_err(option_error)?,
        header: None,
    })
}

/// An option mistake the checker also reports, as a run-time error.
fn option_error(e: OptionError) -> RunError {
    RunError::new(e.message, e.span, e.label).help(e.help)
}

/// The options as written.
struct Options<'a>(&'a [KeyValue]);

impl Options<'_> {
    fn check_names(&self) -> RunResult<()> {
        match unknown_option(self.0) {
            Some(e) => Err(option_error(e)),
            None => Ok(()),
        }
    }

    /// A number option, when given.
    fn number(&self, name: &str) -> RunResult<Option<(f64, Span)>> {
        match self.0.iter().find(|o| o.key.name == name) {
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
    }

    /// A number option as f32, or its default.
    fn real(&self, name: &str, default: f32) -> RunResult<f32> {
        Ok(self.number(name)?.map(|v| v.0 as f32).unwrap_or(default))
    }

    /// A positive integer option, when given.
    fn positive_int(&self, name: &str) -> RunResult<Option<usize>> {
        match self.number(name)? {
            None => Ok(None),
            Some((x, _)) if x >= 1.0 && x.fract() == 0.0 && x < 1e12 => Ok(Some(x as usize)),
            Some((x, s)) => Err(RunError::new(
                format!("`{name}` must be a positive integer, found {x}"),
                s,
                "not a positive integer",
            )),
        }
    }

    fn optimizer(&self, opt_name: &Ident) -> RunResult<Optimizer> {
        let lr = match self.number("lr")? {
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
        let weight_decay = self.real("weight_decay", 0.0)?;
        match opt_name.name.as_str() {
            "sgd" => Ok(Optimizer::Sgd {
                lr,
                momentum: self.real("momentum", 0.0)?,
                weight_decay,
            }),
            "adam" => Ok(Optimizer::Adam {
                lr,
                b1: self.real("b1", 0.9)?,
                b2: self.real("b2", 0.999)?,
                eps: self.real("eps", 1e-8)?,
                weight_decay,
            }),
            other => {
                let e = RunError::new(
                    format!("unknown optimizer `{other}`"),
                    opt_name.span,
                    "not an optimizer",
                );
                Err(match did_you_mean(other, ["sgd", "adam"]) {
                    Some(s) => e.help(format!("did you mean `{s}`?")),
                    None => e.help("the optimizers are sgd and adam"),
                })
            }
        }
    }

    fn loss(&self, default_loss: Loss) -> RunResult<Loss> {
        match self.0.iter().find(|o| o.key.name == "loss") {
            None => Ok(default_loss),
            Some(o) => match &o.value {
                ArgValue::Word(w) if w.name == "sse" => Ok(Loss::Sse),
                ArgValue::Word(w) if w.name == "mse" => Ok(Loss::Mse),
                ArgValue::Word(w) if w.name == "xent" => Ok(Loss::Xent),
                other => Err(RunError::new("unknown loss", other.span(), "not a loss")
                    .help("the losses are sse, mse and xent")),
            },
        }
    }
}

/// `steps=` or `epochs=` (with `batch=`, default 64), exactly one of them.
fn schedule(
    steps: Option<usize>,
    epochs: Option<usize>,
    batch: Option<usize>,
    opt_name: &Ident,
) -> RunResult<Schedule> {
    match (steps, epochs) {
        (Some(s), None) => Ok(Schedule::Steps(s)),
        (None, Some(e)) => Ok(Schedule::Epochs {
            epochs: e,
            batch: batch.unwrap_or(64),
        }),
        (Some(_), Some(_)) => Err(RunError::new(
            "give either steps= or epochs=, not both",
            opt_name.span,
            "both given",
        )),
        (None, None) => Err(RunError::new(
            "`train` needs steps= or epochs=",
            opt_name.span,
            "how long?",
        )
        .help("full-batch: `steps=30`; mini-batch: `epochs=10 batch=64`")),
    }
}

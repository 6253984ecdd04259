//! A `train` statement's optimizer and options, read into a [`TrainPlan`].
//! Every option is one entry of [`TRAIN_OPTIONS`] (its name, the values it
//! takes, which optimizer reads it); [`plan`] checks names, types, domains,
//! checkpoint files and the required options against that table. The
//! checker and the interpreter both call [`plan`], so `check` fails exactly
//! where `train` would on its options.

mod read;
mod table;

pub use table::{
    option, Domain, OptionKind, OptionSpec, Reader, LOSSES, OPTIMIZERS, TRAIN_OPTIONS,
};

use super::error::did_you_mean;
use crate::diag::Fix;
use crate::syntax::ast::{ArgValue, Ident, KeyValue, Span};
use read::Options;

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

/// A file named by an option, as written, and where.
#[derive(Clone, Debug, PartialEq)]
pub struct FileOption {
    pub path: String,
    pub span: Span,
}

/// Where training saves its state and where it resumes from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checkpointing {
    /// `checkpoint="ck.safetensors"`: written every `every` steps or epochs,
    /// at the end, and when training is interrupted.
    pub save: Option<FileOption>,
    /// `every=K`: steps or epochs, whichever the schedule counts.
    pub every: Option<usize>,
    /// `resume="ck.safetensors"`: the state training starts from.
    pub resume: Option<FileOption>,
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
    /// statement logs; the interpreter fills it in and writes it once a
    /// `resume=` has been read.
    pub header: Option<String>,
}

/// A mistake in a `train` statement: where, what, and how to fix it.
#[derive(Clone, Debug, PartialEq)]
pub struct OptionError {
    pub message: String,
    pub span: Span,
    pub label: &'static str,
    pub help: String,
    /// The edit the help line describes, when there is one.
    pub fix: Option<Fix>,
}

impl OptionError {
    fn new(message: String, span: Span, label: &'static str, help: impl Into<String>) -> Self {
        OptionError {
            message,
            span,
            label,
            help: help.into(),
            fix: None,
        }
    }
    /// The same error with its edit: `span` replaced by `replacement`.
    fn fix(mut self, span: Span, replacement: impl Into<String>) -> Self {
        self.fix = Some(Fix::new(span, replacement));
        self
    }
}

/// The word meant by a misspelt or PyTorch-spelt `word`, among `known`.
fn suggestion<'a>(word: &str, known: impl IntoIterator<Item = &'a str> + Clone) -> Option<String> {
    let lower = word.to_ascii_lowercase();
    let alias = table::ALIASES
        .iter()
        .find(|(a, ours)| *a == lower && known.clone().into_iter().any(|k| k == *ours))
        .map(|(_, ours)| ours.to_string());
    alias.or_else(|| did_you_mean(&lower, known))
}

/// Read the optimizer and `key=value` options into a plan. `default_loss`
/// is used when there is no `loss=` (the interpreter knows it from the
/// labels' type).
pub fn plan(
    opt_name: &Ident,
    options: &[KeyValue],
    default_loss: Loss,
) -> Result<TrainPlan, OptionError> {
    let opts = Options(options);
    let optimizer = optimizer_word(opt_name)?;
    opts.check_names(optimizer)?;
    let lr = opts.real("lr")?.ok_or_else(|| {
        OptionError::new(
            "`train` needs a learning rate".into(),
            opt_name.span,
            "no lr=",
            format!("for example `train {optimizer} lr=0.01 steps=30`"),
        )
    })?;
    let real = |name: &str, default: f32| Ok::<_, OptionError>(opts.real(name)?.unwrap_or(default));
    let weight_decay = real("weight_decay", 0.0)?;
    let optimizer = match optimizer {
        "adam" => Optimizer::Adam {
            lr,
            b1: real("b1", 0.9)?,
            b2: real("b2", 0.999)?,
            eps: real("eps", 1e-8)?,
            weight_decay,
        },
        _ => Optimizer::Sgd {
            lr,
            momentum: real("momentum", 0.0)?,
            weight_decay,
        },
    };
    let loss = match opts.word("loss")? {
        Some("sse") => Loss::Sse,
        Some("mse") => Loss::Mse,
        Some(_) => Loss::Xent,
        None => default_loss,
    };
    Ok(TrainPlan {
        optimizer,
        loss,
        schedule: opts.schedule(opt_name)?,
        log: opts.count("log")?,
        checkpoints: opts.checkpointing()?,
        header: None,
    })
}

/// `sgd` or `adam`, or an error suggesting one.
fn optimizer_word(opt_name: &Ident) -> Result<&'static str, OptionError> {
    if let Some(o) = OPTIMIZERS.iter().find(|o| **o == opt_name.name) {
        return Ok(o);
    }
    let e = OptionError::new(
        format!("unknown optimizer `{}`", opt_name.name),
        opt_name.span,
        "not an optimizer",
        "the optimizers are sgd and adam: `train sgd lr=0.01 steps=30`",
    );
    Err(
        match suggestion(&opt_name.name, OPTIMIZERS.iter().copied()) {
            Some(s) => OptionError {
                help: format!("did you mean `{s}`? The optimizers are sgd and adam"),
                ..e
            }
            .fix(opt_name.span, s),
            None => e,
        },
    )
}

/// An option's value as a message quotes it.
fn value_text(v: &ArgValue) -> String {
    match v {
        ArgValue::Number(n) => n.text.clone(),
        ArgValue::Dims(d) => format!("`{}`", crate::value::dims_string(&d.dims)),
        ArgValue::Word(w) => format!("`{}`", w.name),
        ArgValue::Str(s) => format!("\"{}\"", s.value),
        ArgValue::Bad { text, .. } => format!("`{text}`"),
    }
}

#[cfg(test)]
mod tests;

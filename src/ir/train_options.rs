//! A `train` statement's optimizer and options, read into a [`TrainPlan`].
//! Every option is one entry of [`TRAIN_OPTIONS`] (its name, the values it
//! takes, which optimizer reads it); [`plan`] checks names, types, ranges
//! and the required options against that table. The checker and the
//! interpreter both call [`plan`], so `check` fails exactly where `train`
//! would on its options.

use super::error::did_you_mean;
use crate::diag::Fix;
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

/// The values an option takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionKind {
    /// A finite number within a domain.
    Real(Domain),
    /// A positive integer (steps, epochs, sizes).
    Count,
    /// One of these words.
    Word(&'static [&'static str]),
}

/// Which numbers a [`OptionKind::Real`] option accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    Any,
    /// More than zero.
    Positive,
}

/// Which optimizer reads an option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    /// Every `train` (schedule, loss, logging, and `lr`).
    All,
    /// This optimizer only.
    Only(&'static str),
}

/// One `train` option.
#[derive(Clone, Copy, Debug)]
pub struct OptionSpec {
    pub name: &'static str,
    pub kind: OptionKind,
    pub reader: Reader,
    pub help: &'static str,
}

const fn opt(
    name: &'static str,
    kind: OptionKind,
    reader: Reader,
    help: &'static str,
) -> OptionSpec {
    OptionSpec {
        name,
        kind,
        reader,
        help,
    }
}

/// The losses `loss=` names.
pub const LOSSES: &[&str] = &["sse", "mse", "xent"];

/// The optimizers, as the word after `train` names them.
pub const OPTIMIZERS: &[&str] = &["sgd", "adam"];

use OptionKind::{Count, Real, Word};
use Reader::{All, Only};

/// Every option `train` takes.
pub const TRAIN_OPTIONS: &[OptionSpec] = &[
    opt("lr", Real(Domain::Positive), All, "learning rate"),
    opt(
        "momentum",
        Real(Domain::Any),
        Only("sgd"),
        "momentum (default 0)",
    ),
    opt(
        "weight_decay",
        Real(Domain::Any),
        All,
        "L2 penalty (default 0)",
    ),
    opt(
        "b1",
        Real(Domain::Any),
        Only("adam"),
        "first moment decay (default 0.9)",
    ),
    opt(
        "b2",
        Real(Domain::Any),
        Only("adam"),
        "second moment decay (default 0.999)",
    ),
    opt(
        "eps",
        Real(Domain::Any),
        Only("adam"),
        "denominator term (default 1e-8)",
    ),
    opt("steps", Count, All, "full-batch steps"),
    opt("epochs", Count, All, "passes over shuffled mini-batches"),
    opt(
        "batch",
        Count,
        All,
        "mini-batch size with epochs= (default 64)",
    ),
    opt("loss", Word(LOSSES), All, "sse, mse or xent"),
    opt("log", Count, All, "print the loss every K steps"),
];

/// PyTorch's (and common) spellings, and the word cnnscript uses.
const ALIASES: &[(&str, &str)] = &[
    ("learning_rate", "lr"),
    ("batch_size", "batch"),
    ("num_epochs", "epochs"),
    ("n_epochs", "epochs"),
    ("iterations", "steps"),
    ("iters", "steps"),
    ("num_steps", "steps"),
    ("epsilon", "eps"),
    ("beta1", "b1"),
    ("beta2", "b2"),
    ("betas", "b1"),
    ("wd", "weight_decay"),
    ("criterion", "loss"),
    ("cross_entropy", "xent"),
    ("crossentropy", "xent"),
    ("crossentropyloss", "xent"),
    ("ce", "xent"),
    ("nll", "xent"),
    ("mseloss", "mse"),
    ("l2", "mse"),
];

/// The spec of option `name`.
pub fn option(name: &str) -> Option<&'static OptionSpec> {
    TRAIN_OPTIONS.iter().find(|o| o.name == name)
}

/// The word meant by a misspelt or PyTorch-spelt `word`, among `known`.
fn suggestion<'a>(word: &str, known: impl IntoIterator<Item = &'a str> + Clone) -> Option<String> {
    let lower = word.to_ascii_lowercase();
    let alias = ALIASES
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
    let real = |name: &str, default: f32| -> Result<f32, OptionError> {
        Ok(opts.real(name)?.map_or(default, |v| v as f32))
    };
    let weight_decay = real("weight_decay", 0.0)?;
    let optimizer = match optimizer {
        "adam" => Optimizer::Adam {
            lr: lr as f32,
            b1: real("b1", 0.9)?,
            b2: real("b2", 0.999)?,
            eps: real("eps", 1e-8)?,
            weight_decay,
        },
        _ => Optimizer::Sgd {
            lr: lr as f32,
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

/// The options as written.
struct Options<'a>(&'a [KeyValue]);

impl Options<'_> {
    /// Every name known, given once, and read by this optimizer.
    fn check_names(&self, optimizer: &'static str) -> Result<(), OptionError> {
        for (i, o) in self.0.iter().enumerate() {
            let name = o.key.name.as_str();
            let Some(spec) = option(name) else {
                let names = TRAIN_OPTIONS.iter().map(|o| o.name);
                let e = OptionError::new(
                    format!("unknown training option `{name}`"),
                    o.key.span,
                    "unknown option",
                    format!("options: {}", names.clone().collect::<Vec<_>>().join(", ")),
                );
                return Err(match suggestion(name, names) {
                    Some(s) => OptionError {
                        help: format!("did you mean `{s}`?"),
                        ..e
                    }
                    .fix(o.key.span, s),
                    None => e,
                });
            };
            if let Some(first) = self.0[..i].iter().find(|p| p.key.name == name) {
                return Err(OptionError::new(
                    format!("`{name}` is given twice"),
                    o.key.span,
                    "given again here",
                    format!(
                        "keep one of them (the first is `{name}={}`)",
                        value_text(&first.value)
                    ),
                ));
            }
            if let Reader::Only(reader) = spec.reader {
                if reader != optimizer {
                    let takes: Vec<&str> = TRAIN_OPTIONS
                        .iter()
                        .filter(|o| o.reader == Reader::Only(optimizer))
                        .map(|o| o.name)
                        .collect();
                    return Err(OptionError::new(
                        format!("`{name}` is an option of {reader}, not of {optimizer}"),
                        o.key.span,
                        "not read by this optimizer",
                        format!(
                            "{optimizer} takes lr and weight_decay, and {}",
                            takes.join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn find(&self, name: &str) -> Option<&KeyValue> {
        self.0.iter().find(|o| o.key.name == name)
    }

    /// A number option, when given: finite and in its domain.
    fn real(&self, name: &str) -> Result<Option<f64>, OptionError> {
        let Some(o) = self.find(name) else {
            return Ok(None);
        };
        let domain = match option(name).map(|s| s.kind) {
            Some(Real(d)) => d,
            _ => Domain::Any,
        };
        match &o.value {
            ArgValue::Number(n) if n.value.is_finite() => match domain {
                Domain::Positive if n.value <= 0.0 => Err(OptionError::new(
                    format!("`{name}` must be positive, found {}", n.text),
                    n.span,
                    "not positive",
                    format!("for example `{name}=0.01`"),
                )),
                _ => Ok(Some(n.value)),
            },
            other => Err(OptionError::new(
                format!("`{name}` must be a number, found {}", value_text(other)),
                other.span(),
                "not a number",
                format!("for example `{name}=0.01`"),
            )),
        }
    }

    /// A positive integer option, when given.
    fn count(&self, name: &str) -> Result<Option<usize>, OptionError> {
        let Some(o) = self.find(name) else {
            return Ok(None);
        };
        match &o.value {
            ArgValue::Number(n) if n.value >= 1.0 && n.value.fract() == 0.0 && n.value < 1e12 => {
                Ok(Some(n.value as usize))
            }
            other => Err(OptionError::new(
                format!(
                    "`{name}` must be a positive integer, found {}",
                    value_text(other)
                ),
                other.span(),
                "not a positive integer",
                format!("for example `{name}=10`"),
            )),
        }
    }

    /// A word option, when given: one of its words.
    fn word(&self, name: &str) -> Result<Option<&'static str>, OptionError> {
        let (Some(o), Some(Word(words))) = (self.find(name), option(name).map(|s| s.kind)) else {
            return Ok(None);
        };
        if let ArgValue::Word(w) = &o.value {
            if let Some(found) = words.iter().find(|x| **x == w.name) {
                return Ok(Some(found));
            }
        }
        let list = words.join(", ");
        let written = match &o.value {
            ArgValue::Word(w) => w.name.clone(),
            ArgValue::Str(s) => s.value.clone(),
            other => value_text(other),
        };
        let e = OptionError::new(
            format!("unknown {name} {}", value_text(&o.value)),
            o.value.span(),
            "not one of the choices",
            format!("the choices are {list}"),
        );
        Err(match suggestion(&written, words.iter().copied()) {
            Some(s) => OptionError {
                help: format!("did you mean `{s}`? The choices are {list}"),
                ..e
            }
            .fix(o.value.span(), s),
            None => e,
        })
    }

    /// `steps=` or `epochs=` (with `batch=`, default 64), exactly one of them.
    fn schedule(&self, opt_name: &Ident) -> Result<Schedule, OptionError> {
        let (steps, epochs, batch) = (
            self.count("steps")?,
            self.count("epochs")?,
            self.count("batch")?,
        );
        match (steps, epochs) {
            (Some(s), None) => match self.find("batch") {
                Some(b) => Err(OptionError::new(
                    "`batch=` goes with `epochs=`: each of the `steps=` uses all the data".into(),
                    b.key.span,
                    "no mini-batches with steps=",
                    "for mini-batches write `epochs=E batch=B`; for full-batch steps leave `batch=` out",
                )),
                None => Ok(Schedule::Steps(s)),
            },
            (None, Some(e)) => Ok(Schedule::Epochs {
                epochs: e,
                batch: batch.unwrap_or(64),
            }),
            (Some(_), Some(_)) => Err(OptionError::new(
                "give either steps= or epochs=, not both".into(),
                opt_name.span,
                "both given",
                "full-batch: `steps=30`; mini-batch: `epochs=10 batch=64`",
            )),
            (None, None) => Err(OptionError::new(
                "`train` needs steps= or epochs=".into(),
                opt_name.span,
                "how long?",
                "full-batch: `steps=30`; mini-batch: `epochs=10 batch=64`",
            )),
        }
    }
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

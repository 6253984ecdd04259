//! The one table of `train` options: each option's name, the values it
//! takes, which optimizer reads it and an example value; the words `loss=`
//! and the optimizer take; PyTorch's spellings of them.

/// The values an option takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionKind {
    /// A finite 32-bit number within a domain.
    Real(Domain),
    /// A positive integer (steps, epochs, sizes).
    Count,
    /// One of these words.
    Word(&'static [&'static str]),
    /// A `.safetensors` file name in quotes.
    File,
}

/// Which numbers a [`OptionKind::Real`] option accepts (torch.optim's ranges).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    /// More than 0 (learning rate, eps).
    Positive,
    /// 0 or more (momentum, weight decay).
    NonNegative,
    /// `[0, 1)`: Adam's betas.
    Below1,
}

impl Domain {
    /// Whether `v`, as the f32 training uses, is in the domain.
    pub fn holds(self, v: f64) -> bool {
        let v = f64::from(v as f32);
        match self {
            Domain::Positive => v > 0.0,
            Domain::NonNegative => v >= 0.0,
            Domain::Below1 => (0.0..1.0).contains(&v),
        }
    }

    /// The domain as a message says it.
    pub fn words(self) -> &'static str {
        match self {
            Domain::Positive => "positive",
            Domain::NonNegative => "0 or more",
            Domain::Below1 => "in [0, 1)",
        }
    }
}

/// Which optimizer reads an option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    /// Every `train` (schedule, loss, logging, checkpoints, `lr`).
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
    /// A value a help line can offer, as written in a script.
    pub example: &'static str,
    pub help: &'static str,
}

const fn opt(
    name: &'static str,
    kind: OptionKind,
    reader: Reader,
    example: &'static str,
    help: &'static str,
) -> OptionSpec {
    OptionSpec {
        name,
        kind,
        reader,
        example,
        help,
    }
}

/// The losses `loss=` names.
pub const LOSSES: &[&str] = &["sse", "mse", "xent"];

/// The optimizers, as the word after `train` names them.
pub const OPTIMIZERS: &[&str] = &["sgd", "adam"];

use Domain::{Below1, NonNegative, Positive};
use OptionKind::{Count, File, Real, Word};
use Reader::{All, Only};

/// Every option `train` takes.
pub const TRAIN_OPTIONS: &[OptionSpec] = &[
    opt("lr", Real(Positive), All, "0.01", "learning rate"),
    opt(
        "momentum",
        Real(NonNegative),
        Only("sgd"),
        "0.9",
        "momentum (default 0)",
    ),
    opt(
        "weight_decay",
        Real(NonNegative),
        All,
        "0.0001",
        "L2 penalty (default 0)",
    ),
    opt(
        "b1",
        Real(Below1),
        Only("adam"),
        "0.9",
        "first moment decay (default 0.9)",
    ),
    opt(
        "b2",
        Real(Below1),
        Only("adam"),
        "0.999",
        "second moment decay (default 0.999)",
    ),
    opt(
        "eps",
        Real(Positive),
        Only("adam"),
        "1e-8",
        "denominator term (default 1e-8)",
    ),
    opt("steps", Count, All, "30", "full-batch steps"),
    opt("epochs", Count, All, "10", "passes over shuffled mini-batches"),
    opt(
        "batch",
        Count,
        All,
        "64",
        "mini-batch size with epochs= (default 64)",
    ),
    opt("loss", Word(LOSSES), All, "mse", "sse, mse or xent"),
    opt("log", Count, All, "10", "print the loss every K steps"),
    opt(
        "checkpoint",
        File,
        All,
        "\"ck.safetensors\"",
        "write the training state to this file every `every=` steps or epochs, at the end and on Ctrl-C",
    ),
    opt(
        "every",
        Count,
        All,
        "100",
        "steps or epochs between checkpoints (needs checkpoint=)",
    ),
    opt(
        "resume",
        File,
        All,
        "\"ck.safetensors\"",
        "start from the training state in this file",
    ),
];

/// PyTorch's (and common) spellings, and the word cnnscript uses.
pub(super) const ALIASES: &[(&str, &str)] = &[
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
    ("save", "checkpoint"),
    ("save_every", "every"),
    ("checkpoint_every", "every"),
    ("resume_from", "resume"),
];

/// The spec of option `name`.
pub fn option(name: &str) -> Option<&'static OptionSpec> {
    TRAIN_OPTIONS.iter().find(|o| o.name == name)
}

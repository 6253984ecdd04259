//! Reading the options as written against [`super::TRAIN_OPTIONS`]: each
//! value checked for its kind and domain, and the rules between options.

use super::table::{option, OptionKind, Reader, TRAIN_OPTIONS};
use super::{suggestion, value_text, Checkpointing, FileOption, OptionError, Schedule};
use crate::ir::check::literal::number_overflow;
use crate::syntax::ast::{ArgValue, Ident, KeyValue};

/// The options as written.
pub(super) struct Options<'a>(pub &'a [KeyValue]);

/// "for example `name=value`", from the table.
fn example(name: &str) -> String {
    let value = option(name).map_or("1", |o| o.example);
    format!("for example `{name}={value}`")
}

impl Options<'_> {
    /// Every name known, given once, and read by this optimizer.
    pub fn check_names(&self, optimizer: &'static str) -> Result<(), OptionError> {
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

    pub fn find(&self, name: &str) -> Option<&KeyValue> {
        self.0.iter().find(|o| o.key.name == name)
    }

    /// A number option, when given: a 32-bit number in its domain.
    pub fn real(&self, name: &str) -> Result<Option<f32>, OptionError> {
        let Some(o) = self.find(name) else {
            return Ok(None);
        };
        let n = match &o.value {
            ArgValue::Number(n) => n,
            other => {
                return Err(OptionError::new(
                    format!("`{name}` must be a number, found {}", value_text(other)),
                    other.span(),
                    "not a number",
                    example(name),
                ))
            }
        };
        if let Some(e) = number_overflow(n) {
            return Err(OptionError {
                message: e.message,
                span: e.span,
                label: "too large",
                help: e.help.map(String::from).unwrap_or_default(),
                fix: None,
            });
        }
        match option(name).map(|s| s.kind) {
            Some(OptionKind::Real(domain)) if !domain.holds(n.value) => Err(OptionError::new(
                format!("`{name}` must be {}, found {}", domain.words(), n.text),
                n.span,
                "out of range",
                format!("as in torch.optim; {}", example(name)),
            )),
            _ => Ok(Some(n.value as f32)),
        }
    }

    /// A positive integer option, when given.
    pub fn count(&self, name: &str) -> Result<Option<usize>, OptionError> {
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
                example(name),
            )),
        }
    }

    /// A word option, when given: one of its words.
    pub fn word(&self, name: &str) -> Result<Option<&'static str>, OptionError> {
        let (Some(o), Some(OptionKind::Word(words))) =
            (self.find(name), option(name).map(|s| s.kind))
        else {
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

    /// A file option, when given: a `.safetensors` file name in quotes.
    pub fn file(&self, name: &str) -> Result<Option<FileOption>, OptionError> {
        let Some(o) = self.find(name) else {
            return Ok(None);
        };
        let help = format!("write `{name}=\"ck.safetensors\"`");
        match &o.value {
            ArgValue::Str(s) if s.value.to_ascii_lowercase().ends_with(".safetensors") => {
                Ok(Some(FileOption {
                    path: s.value.clone(),
                    span: s.span,
                }))
            }
            ArgValue::Str(s) => Err(OptionError::new(
                format!(
                    "a checkpoint is a .safetensors file, but \"{}\" does not end in .safetensors",
                    s.value
                ),
                s.span,
                "not a .safetensors file",
                help,
            )),
            other => Err(OptionError::new(
                format!(
                    "`{name}` takes a file name in quotes, found {}",
                    value_text(other)
                ),
                other.span(),
                "not a file name",
                help,
            )),
        }
    }

    /// `steps=` or `epochs=` (with `batch=`, default 64), exactly one of them.
    pub fn schedule(&self, opt_name: &Ident) -> Result<Schedule, OptionError> {
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

    /// `checkpoint=`, `every=` (only with `checkpoint=`) and `resume=`.
    pub fn checkpointing(&self) -> Result<Checkpointing, OptionError> {
        let save = self.file("checkpoint")?;
        let resume = self.file("resume")?;
        let every = self.count("every")?;
        if let (Some(o), None) = (self.find("every"), &save) {
            return Err(OptionError::new(
                "`every=` says how often to write a checkpoint, but there is no `checkpoint=`"
                    .into(),
                o.key.span,
                "no checkpoint file",
                "add `checkpoint=\"ck.safetensors\"`",
            ));
        }
        Ok(Checkpointing {
            save,
            every,
            resume,
        })
    }
}

//! What a `train` statement's options must be before anything runs: their
//! names, and the checkpoint options (`checkpoint=`, `every=`, `resume=`).
//! The checker reports these mistakes statically; the interpreter reads the
//! same options through the same functions.

use super::error::did_you_mean;
use crate::syntax::ast::{ArgValue, KeyValue, Span};

/// Every option `train` takes.
pub const TRAIN_OPTIONS: &[&str] = &[
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
    "checkpoint",
    "every",
    "resume",
];

/// A mistake in a `train` option: where, what, and how to fix it.
#[derive(Clone, Debug, PartialEq)]
pub struct OptionError {
    pub message: String,
    pub span: Span,
    pub label: &'static str,
    pub help: String,
}

impl OptionError {
    fn new(message: String, span: Span, label: &'static str, help: impl Into<String>) -> Self {
        OptionError {
            message,
            span,
            label,
            help: help.into(),
        }
    }
}

/// The first option whose name `train` does not know.
pub fn unknown_option(options: &[KeyValue]) -> Option<OptionError> {
    let o = options
        .iter()
        .find(|o| !TRAIN_OPTIONS.contains(&o.key.name.as_str()))?;
    let help = match did_you_mean(&o.key.name, TRAIN_OPTIONS.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("options: {}", TRAIN_OPTIONS.join(", ")),
    };
    Some(OptionError::new(
        format!("unknown training option `{}`", o.key.name),
        o.key.span,
        "unknown option",
        help,
    ))
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

/// Read `checkpoint=`, `every=` and `resume=`, each checked for its type.
pub fn checkpointing(options: &[KeyValue]) -> Result<Checkpointing, OptionError> {
    let find = |name: &str| options.iter().find(|o| o.key.name == name);
    let save = find("checkpoint").map(file_option).transpose()?;
    let resume = find("resume").map(file_option).transpose()?;
    let every = match find("every") {
        None => None,
        Some(o) => match &o.value {
            ArgValue::Number(n) if n.value >= 1.0 && n.value.fract() == 0.0 && n.value < 1e12 => {
                Some(n.value as usize)
            }
            other => {
                return Err(OptionError::new(
                    format!(
                        "`every` must be a positive integer (steps or epochs), found {}",
                        value_text(other)
                    ),
                    other.span(),
                    "not a positive integer",
                    "for example `every=100`",
                ))
            }
        },
    };
    if let (Some(o), None) = (find("every"), &save) {
        return Err(OptionError::new(
            "`every=` says how often to write a checkpoint, but there is no `checkpoint=`"
                .to_string(),
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

/// A `.safetensors` file name in quotes.
fn file_option(o: &KeyValue) -> Result<FileOption, OptionError> {
    let key = &o.key.name;
    match &o.value {
        ArgValue::Str(s) if s.value.to_ascii_lowercase().ends_with(".safetensors") => {
            Ok(FileOption {
                path: s.value.clone(),
                span: s.span,
            })
        }
        ArgValue::Str(s) => Err(OptionError::new(
            format!(
                "a checkpoint is a .safetensors file, but \"{}\" does not end in .safetensors",
                s.value
            ),
            s.span,
            "not a .safetensors file",
            format!("write `{key}=\"ck.safetensors\"`"),
        )),
        other => Err(OptionError::new(
            format!(
                "`{key}` takes a file name in quotes, found {}",
                value_text(other)
            ),
            other.span(),
            "not a file name",
            format!("write `{key}=\"ck.safetensors\"`"),
        )),
    }
}

/// An option's value as the message quotes it.
fn value_text(v: &ArgValue) -> String {
    match v {
        ArgValue::Number(n) => n.text.clone(),
        ArgValue::Dims(_) => "a size".to_string(),
        ArgValue::Word(w) => format!("`{}`", w.name),
        ArgValue::Str(s) => format!("\"{}\"", s.value),
        ArgValue::Bad { text, .. } => format!("`{text}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::ast::StmtKind;
    use crate::syntax::parse::parse_script;

    fn options(line: &str) -> Vec<KeyValue> {
        let script = parse_script(line).expect("parses");
        match &script.stmts[0].kind {
            StmtKind::Train { options, .. } => options.clone(),
            other => panic!("not a train statement: {other:?}"),
        }
    }

    #[test]
    fn reads_the_checkpoint_options() {
        let opts = options(
            "train sgd lr=0.1 steps=10 checkpoint=\"a.safetensors\" every=5 resume=\"b.SafeTensors\"",
        );
        let c = checkpointing(&opts).expect("valid");
        assert_eq!(c.save.map(|f| f.path).as_deref(), Some("a.safetensors"));
        assert_eq!(c.every, Some(5));
        assert_eq!(c.resume.map(|f| f.path).as_deref(), Some("b.SafeTensors"));
        assert_eq!(unknown_option(&opts), None);
    }

    #[test]
    fn each_mistake_is_reported_at_its_value() {
        let cases = [
            ("every=0", "`every` must be a positive integer", "0"),
            ("every=2.5", "`every` must be a positive integer", "2.5"),
            ("every=many", "`every` must be a positive integer", "many"),
            ("checkpoint=ck", "takes a file name in quotes", "ck"),
            (
                "checkpoint=\"ck.npz\"",
                "does not end in .safetensors",
                "\"ck.npz\"",
            ),
            ("resume=3", "`resume` takes a file name", "3"),
        ];
        for (opt, message, at) in cases {
            let line = format!("train sgd lr=0.1 steps=3 checkpoint=\"c.safetensors\" {opt}");
            let line = line.replacen("checkpoint=\"c.safetensors\" checkpoint", "checkpoint", 1);
            let e = checkpointing(&options(&line)).expect_err(opt);
            assert!(e.message.contains(message), "{opt}: {}", e.message);
            assert_eq!(&line[e.span.start..e.span.end], at, "{opt}");
        }
    }

    #[test]
    fn every_needs_a_checkpoint_file_and_names_are_checked() {
        let opts = options("train sgd lr=0.1 steps=3 every=2 checkpiont=\"c.safetensors\"");
        let e = checkpointing(&opts).expect_err("every alone");
        assert!(e.message.contains("no `checkpoint=`"), "{}", e.message);
        let e = unknown_option(&opts).expect("misspelt");
        assert_eq!(e.help, "did you mean `checkpoint`?");
    }
}

//! One case through the whole pipeline, in-process: a script through the
//! parser (and the editors' recovering parse), `fmt`, the checker and its
//! reports, and `run`; a data file through the readers. Every diagnostic is
//! rendered and must name a place. Panics are caught by the caller.

use std::path::Path;

use cnnscript::diag::{render, Style};
use cnnscript::ir::check::{check_script, Checked};
use cnnscript::run::error::Depends;
use cnnscript::run::Interp;
use cnnscript::session::Source;
use cnnscript::syntax::ast::{ArgValue, Script, Stmt, StmtKind};
use cnnscript::syntax::parse::parse_script_recovering;
use miette::Diagnostic;

/// How far a script got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Not UTF-8: a diagnostic at the first bad byte.
    NotUtf8,
    /// Syntax errors.
    Syntax,
    /// Parsed; the checker found errors.
    Check,
    /// Checked, but too costly to run within the time budget.
    Skipped,
    /// Checked; `run` stopped at a diagnostic.
    RunError,
    /// Checked; `run` stopped at a diagnostic `check` should have given,
    /// of a kind known and not fixed yet ([`KNOWN_DISAGREEMENTS`]).
    Disagrees,
    /// Checked and ran to the end.
    Ran,
}

impl Stage {
    pub const ALL: [Stage; 7] = [
        Stage::NotUtf8,
        Stage::Syntax,
        Stage::Check,
        Stage::Skipped,
        Stage::RunError,
        Stage::Disagrees,
        Stage::Ran,
    ];
    /// One letter for the worker protocol.
    pub fn code(self) -> char {
        match self {
            Stage::NotUtf8 => 'u',
            Stage::Syntax => 'p',
            Stage::Check => 'c',
            Stage::Skipped => 's',
            Stage::RunError => 'r',
            Stage::Disagrees => 'd',
            Stage::Ran => 'o',
        }
    }
    pub fn words(self) -> &'static str {
        match self {
            Stage::NotUtf8 => "not UTF-8 (diagnostic)",
            Stage::Syntax => "syntax errors",
            Stage::Check => "parsed, check errors",
            Stage::Skipped => "checked, too costly to run",
            Stage::RunError => "checked, run error (diagnostic)",
            Stage::Disagrees => "checked, run error (check misses)",
            Stage::Ran => "checked and ran to the end",
        }
    }
}

/// What makes a case fail.
#[derive(Debug)]
pub enum Failure {
    /// A diagnostic that names no place, or is too long to read.
    Diagnostic(String),
    /// `fmt` would change what a script says.
    Format(String),
    /// `check` accepted a generated valid script whose `run` failed with an
    /// error the checker could have found (one that depends on no file,
    /// memory limit or computed value).
    Disagreement(String),
}

/// Run errors of generated valid scripts that `check` does not find yet,
/// by a part of their message: each is a check/run disagreement to fix
/// in the checker (then its line goes). Any other is a failure.
const KNOWN_DISAGREEMENTS: &[&str] = &[];

/// A diagnostic longer than this is not readable.
const MAX_DIAGNOSTIC_BYTES: usize = 16 << 10;
/// Training is cut to this many steps (or one epoch) to keep cases fast.
const MAX_STEPS: f64 = 4.0;
/// A model with more parameters, or activations per item, is not run.
const MAX_MODEL_ELEMENTS: u64 = 1 << 21;

/// The file a case's script is read from (for relative paths in it).
pub const SCRIPT_NAME: &str = "case.cnn";

/// A script's bytes through the pipeline; `dir` holds its data files.
/// With `oracle` (a generated valid script), a run error `check` should
/// have found is a [`Failure::Disagreement`].
pub fn script(bytes: &[u8], dir: &Path, oracle: bool) -> Result<Stage, Failure> {
    let name = dir.join(SCRIPT_NAME).display().to_string();
    let src = match Source::from_bytes(name, bytes.to_vec()) {
        Ok(src) => src,
        Err(bad) => {
            let (diag, shown) = *bad;
            shown_well(&diag, &shown)?;
            return Ok(Stage::NotUtf8);
        }
    };
    let (script, syntax) = parse_script_recovering(&src.text);
    if !syntax.is_empty() {
        // editors keep checking what still parses
        if let Some(partial) = &script {
            check_script(partial);
        }
        for e in &syntax {
            shown_well(e, &src)?;
        }
        return Ok(Stage::Syntax);
    }
    let Some(script) = script else {
        return Err(Failure::Diagnostic("no script and no syntax error".into()));
    };
    formats(&src.text)?;
    let checked = check_script(&script);
    for d in &checked.diagnostics {
        shown_well(d, &src)?;
    }
    if checked.has_errors() {
        return Ok(Stage::Check);
    }
    let _ = cnnscript::ir::report::json(checked.models()).to_string();
    let _ = cnnscript::ir::dot::dot(checked.models());
    if !cheap(&script, &checked) {
        return Ok(Stage::Skipped);
    }
    let script = short_training(script);
    let mut interp = Interp::new();
    interp.base_dir = dir.to_path_buf();
    interp.progress = false;
    for (i, (stmt, info)) in script.stmts.iter().zip(&checked.stmts).enumerate() {
        if let Err(e) = interp.exec_stmt(stmt, info, &mut std::io::sink()) {
            shown_well(&e, &src)?;
            if oracle && e.depends == Depends::Script && !e.interrupted {
                let before = &script.stmts[..=i];
                if !before.iter().any(|s| reads_files(&src.text, s)) {
                    if KNOWN_DISAGREEMENTS.iter().any(|k| e.message.contains(k)) {
                        return Ok(Stage::Disagrees);
                    }
                    let text = render(&e, &src.name, &src.text, Style::Plain);
                    return Err(Failure::Disagreement(text));
                }
            }
            return Ok(Stage::RunError);
        }
    }
    Ok(Stage::Ran)
}

/// Whether a statement reads a file (`load`, `resume=`): what it computes
/// then depends on the file's contents, which `check` does not read.
fn reads_files(text: &str, stmt: &Stmt) -> bool {
    let said = text.get(stmt.span.start..stmt.span.end);
    said.is_none_or(|s| s.contains("load") || s.contains("resume"))
}

/// Whether a script writes files (its folder's data must then be restored).
pub fn writes_files(bytes: &[u8]) -> bool {
    ["save", "export", "show", "plot"]
        .iter()
        .any(|w| bytes.windows(w.len()).any(|b| b == w.as_bytes()))
}

/// A diagnostic must render naming its place, and stay readable.
fn shown_well(d: &dyn Diagnostic, src: &Source) -> Result<(), Failure> {
    let text = render(d, &src.name, &src.text, Style::Plain);
    if !text.contains("╭─[") {
        return Err(Failure::Diagnostic(format!("names no place:\n{text}")));
    }
    if text.len() > MAX_DIAGNOSTIC_BYTES {
        let head: String = text.chars().take(2000).collect();
        return Err(Failure::Diagnostic(format!(
            "{} bytes long:\n{head}…",
            text.len()
        )));
    }
    Ok(())
}

/// `fmt` either formats a script that parses, keeping what it says, or
/// leaves it alone when it cannot lay it out; it never changes meaning.
fn formats(text: &str) -> Result<(), Failure> {
    use cnnscript::fmt::{format_source, FormatError};
    match format_source(text) {
        Ok(once) => match format_source(&once) {
            Ok(twice) if twice == once => Ok(()),
            _ => Err(Failure::Format(format!(
                "formatting twice differs from once:\n{once}"
            ))),
        },
        Err(FormatError::Changed) => Err(Failure::Format("fmt would change the script".into())),
        Err(FormatError::Syntax(_)) => Err(Failure::Format(
            "fmt finds syntax errors in a script that parses".into(),
        )),
    }
}

/// Whether running the script fits the time budget: every model small,
/// and no file written outside the case's folder.
fn cheap(script: &Script, checked: &Checked) -> bool {
    let small = checked.models().all(|m| {
        let acts: u64 = m
            .layers()
            .map(|(_, l)| l.out_shape.per_item().unwrap_or(u64::MAX))
            .fold(0, u64::saturating_add);
        m.total_params() <= MAX_MODEL_ELEMENTS && acts <= MAX_MODEL_ELEMENTS
    });
    let local = |p: &str| !p.contains(['/', '\\']) && p != "." && p != "..";
    let paths_local = script.stmts.iter().all(|s| match &s.kind {
        StmtKind::Save { path, .. } | StmtKind::Export { path, .. } => local(&path.value),
        // without a file, a picture is shown in a notebook (an error elsewhere)
        StmtKind::Show { path, .. } | StmtKind::Plot { path } => {
            path.as_ref().is_none_or(|p| local(&p.value))
        }
        _ => true,
    });
    small && paths_local
}

/// The script with every `train` cut to a few steps or one epoch.
fn short_training(mut script: Script) -> Script {
    for stmt in &mut script.stmts {
        let StmtKind::Train { options, .. } = &mut stmt.kind else {
            continue;
        };
        for o in options {
            let cap = match o.key.name.as_str() {
                "steps" => MAX_STEPS,
                "epochs" => 1.0,
                _ => continue,
            };
            if let ArgValue::Number(n) = &mut o.value {
                if n.value > cap {
                    n.value = cap;
                    n.text = cap.to_string();
                }
            }
        }
    }
    script
}

/// How a data file fared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loaded {
    /// Refused with a diagnostic.
    Refused,
    /// Read.
    Read,
}

/// A data file through the readers: as a value, as a state dict (files of
/// named arrays), and through `load` and `print` in a script.
pub fn data_file(ext: &str, bytes: &[u8], dir: &Path) -> Result<Loaded, Failure> {
    let name = format!("case.{ext}");
    let path = dir.join(&name);
    std::fs::write(&path, bytes).map_err(|e| Failure::Diagnostic(format!("cannot write: {e}")))?;
    let value = cnnscript::io::load_value(&path);
    if let Err(e) = &value {
        if e.to_string().is_empty() {
            return Err(Failure::Diagnostic("an empty file error".into()));
        }
    }
    if ext == "npz" || ext == "safetensors" {
        let _ = cnnscript::io::load_state_dict(&path);
    }
    let text = format!("let D = load(\"{name}\")\nprint D\nsave D \"copy.{ext}\"\n");
    let _ = script(text.as_bytes(), dir, false)?;
    Ok(if value.is_ok() {
        Loaded::Read
    } else {
        Loaded::Refused
    })
}

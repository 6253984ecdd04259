//! The commands behind the command line: read a file, run the pipeline,
//! print results on stdout and diagnostics on stderr, return the exit status.

pub mod export;

use std::io::Write;
use std::path::Path;

use crate::diag::{render, Style};
use crate::ir::check::{check_script, Checked};
use crate::session::{Source, EXIT_SCRIPT, EXIT_USAGE};
use crate::syntax::ast::Script;
use crate::syntax::parse::parse_script;

/// Set the kernel thread count: `--threads`, else `CNNSCRIPT_THREADS`, else the cores.
pub fn init_threads(flag: Option<usize>) {
    let n = flag.or_else(|| {
        std::env::var("CNNSCRIPT_THREADS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
    });
    if let Some(n) = n.filter(|n| *n > 0) {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
}

/// Read a script, or print why not: a usage error when it cannot be read,
/// a diagnostic at the first byte that is not UTF-8.
pub fn read_source(path: &Path) -> Result<Source, u8> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", path.display());
            return Err(EXIT_USAGE);
        }
    };
    Source::from_bytes(path.display().to_string(), bytes).map_err(|bad| {
        let (diag, shown) = *bad;
        eprint!(
            "{}",
            render(&diag, &shown.name, &shown.text, Style::for_stderr())
        );
        EXIT_SCRIPT
    })
}

/// What a command printed and its exit status.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub code: u8,
}

/// Parse and check, rendering every diagnostic into `stderr`. `None` when
/// there were errors.
pub fn front_end(src: &Source, style: Style, stderr: &mut String) -> Option<(Script, Checked)> {
    let script = match parse_script(&src.text) {
        Ok(s) => s,
        Err(errors) => {
            for e in &errors {
                stderr.push_str(&render(e, &src.name, &src.text, style));
            }
            return None;
        }
    };
    let checked = check_script(&script);
    for d in &checked.diagnostics {
        stderr.push_str(&render(d, &src.name, &src.text, style));
    }
    if checked.has_errors() {
        None
    } else {
        Some((script, checked))
    }
}

/// What `check` prints on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckOutput {
    /// The text of `summary` and `shape` statements.
    Text,
    /// One JSON object describing every model (`--json`).
    Json,
    /// Every model as a Graphviz DOT graph (`--dot`).
    Dot,
}

/// `check` on a script's text: what it prints and its exit status.
pub fn check_source(src: &Source, json: bool, style: Style) -> Output {
    let output = if json {
        CheckOutput::Json
    } else {
        CheckOutput::Text
    };
    check_source_as(src, output, style)
}

/// `check` on a script's text with a chosen output: text, JSON or DOT.
pub fn check_source_as(src: &Source, output: CheckOutput, style: Style) -> Output {
    let mut out = Output::default();
    let Some((_, checked)) = front_end(src, style, &mut out.stderr) else {
        out.code = EXIT_SCRIPT;
        return out;
    };
    match output {
        CheckOutput::Json => {
            out.stdout = format!("{}\n", crate::ir::report::json(checked.models()));
        }
        CheckOutput::Dot => out.stdout = crate::ir::dot::dot(checked.models()),
        CheckOutput::Text => {
            for text in checked.stmts.iter().filter_map(|s| s.output.as_deref()) {
                out.stdout.push_str(text);
                out.stdout.push('\n');
            }
        }
    }
    out
}

/// Print an `Output` and return its status.
pub(crate) fn emit(out: &Output) -> u8 {
    eprint!("{}", out.stderr);
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    if lock
        .write_all(out.stdout.as_bytes())
        .and_then(|_| lock.flush())
        .is_err()
    {
        return EXIT_SCRIPT;
    }
    out.code
}

/// `cnnscript check FILE [--json | --dot]`
pub fn check_as(path: &Path, output: CheckOutput) -> u8 {
    match read_source(path) {
        Ok(src) => emit(&check_source_as(&src, output, Style::for_stderr())),
        Err(code) => code,
    }
}

/// `cnnscript run FILE`
pub fn run(path: &Path) -> u8 {
    let src = match read_source(path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut diags = String::new();
    let checked = front_end(&src, Style::for_stderr(), &mut diags);
    eprint!("{diags}");
    let Some((script, checked)) = checked else {
        return EXIT_SCRIPT;
    };
    install_interrupts(crate::interrupt::Mode::Exit);
    crate::run::run_checked(&src, &script, &checked)
}

/// `cnnscript repl`
pub fn repl() -> u8 {
    use std::io::IsTerminal;
    // at a terminal prompt the line editor reads Ctrl-C as a key
    install_interrupts(if std::io::stdin().is_terminal() {
        crate::interrupt::Mode::Prompt
    } else {
        crate::interrupt::Mode::Exit
    });
    crate::repl::run()
}

/// Ctrl-C stops training at a step boundary; without a handler it ends the
/// process, which is said once.
fn install_interrupts(mode: crate::interrupt::Mode) {
    if let Err(e) = crate::interrupt::install(mode) {
        eprintln!("note: Ctrl-C will end cnnscript at once (cannot handle it: {e})");
    }
}

//! `cnnscript fmt [--check] PATHS`: rewrite scripts in the canonical layout,
//! or (`--check`) show what would change and fail.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{format_source, FormatError};
use crate::cli::read_source;
use crate::diag::{render, Style};
use crate::session::{EXIT_SCRIPT, EXIT_USAGE};

/// What became of one file.
enum Outcome {
    Unchanged,
    Reformatted,
    /// Not formatted (with `--check`), or not formattable.
    Failed,
}

/// Format every script under `paths`; with `check`, change nothing, print
/// a diff per unformatted file and exit 1 if there is one.
pub fn run(paths: &[PathBuf], check: bool) -> u8 {
    let files = match crate::io::script_files(paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let colour = crate::diff::colour_stdout();
    let style = Style::for_stderr();
    let (mut changed, mut failed) = (0usize, 0usize);
    for file in &files {
        match format_file(file, check, colour, style) {
            Ok(Outcome::Unchanged) => {}
            Ok(Outcome::Reformatted) => changed += 1,
            Ok(Outcome::Failed) => failed += 1,
            Err(code) => return code,
        }
    }
    if check && failed > 0 {
        eprintln!(
            "fmt: {failed} of {} file(s) not formatted (run `cnnscript fmt` on them)",
            files.len()
        );
    } else if !check && changed > 0 {
        eprintln!("fmt: {changed} of {} file(s) reformatted", files.len());
    }
    if failed > 0 {
        EXIT_SCRIPT
    } else {
        0
    }
}

fn format_file(path: &Path, check: bool, colour: bool, style: Style) -> Result<Outcome, u8> {
    let src = read_source(path)?;
    let formatted = match format_source(&src.text) {
        Ok(f) => f,
        Err(FormatError::Syntax(errors)) => {
            for e in &errors {
                eprint!("{}", render(e, &src.name, &src.text, style));
            }
            return Ok(Outcome::Failed);
        }
        Err(e @ FormatError::Changed) => {
            eprintln!("error: {}: {e}", src.name);
            return Ok(Outcome::Failed);
        }
    };
    if formatted == src.text {
        return Ok(Outcome::Unchanged);
    }
    if check {
        let diff = crate::diff::unified(
            &src.text,
            &formatted,
            &src.name,
            &format!("{} (formatted)", src.name),
            colour,
        );
        let mut stdout = std::io::stdout().lock();
        if stdout.write_all(diff.as_bytes()).is_err() {
            return Err(EXIT_SCRIPT);
        }
        return Ok(Outcome::Failed);
    }
    match crate::io::atomic_write(path, |w| w.write_all(formatted.as_bytes())) {
        Ok(()) => Ok(Outcome::Reformatted),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(Outcome::Failed)
        }
    }
}

//! `cnnscript test [PATHS] [--accept]`: shape snapshots of users' own
//! models. Each script is checked (its `assert` statements included) and
//! every model's table, as `summary` prints it, is compared with
//! `NAME.cnn.snap` beside the script, a text file in insta's format.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::{front_end, read_source};
use crate::diag::Style;
use crate::diff::{paint, GREEN, RED, YELLOW};
use crate::ir::check::Checked;
use crate::session::{EXIT_SCRIPT, EXIT_USAGE};

/// What became of one script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Passed,
    Failed,
    New,
    Updated,
}

/// The tally printed at the end.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    new: usize,
    updated: usize,
}

/// Test every script under `paths`; with `accept`, write new and changed snapshots.
pub fn run(paths: &[PathBuf], accept: bool) -> u8 {
    let files = match crate::io::script_files(paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let colour = crate::diff::colour_stdout();
    let mut tally = Tally::default();
    let mut stdout = std::io::stdout().lock();
    for file in &files {
        let (outcome, report) = test_file(file, accept, colour);
        let word = match outcome {
            Outcome::Passed => paint("ok", GREEN, colour),
            Outcome::Failed => paint("FAILED", RED, colour),
            Outcome::New if accept => paint("new, written", YELLOW, colour),
            Outcome::New => paint("new (run with --accept to write it)", YELLOW, colour),
            Outcome::Updated => paint("updated", YELLOW, colour),
        };
        let line = format!("test {} ... {word}\n{report}", file.display());
        if stdout.write_all(line.as_bytes()).is_err() {
            return EXIT_SCRIPT;
        }
        match outcome {
            Outcome::Passed => tally.passed += 1,
            Outcome::Failed => tally.failed += 1,
            Outcome::New => tally.new += 1,
            Outcome::Updated => tally.updated += 1,
        }
    }
    let mut summary = format!(
        "test: {} passed, {} failed, {} new",
        tally.passed, tally.failed, tally.new
    );
    if accept {
        summary.push_str(&format!(", {} updated", tally.updated));
    }
    if writeln!(stdout, "{summary}").is_err() {
        return EXIT_SCRIPT;
    }
    let ok = tally.failed == 0 && (accept || tally.new == 0);
    if ok {
        0
    } else {
        EXIT_SCRIPT
    }
}

/// Check one script and compare its tables; returns what to print under its line.
fn test_file(path: &Path, accept: bool, colour: bool) -> (Outcome, String) {
    let Ok(src) = read_source(path) else {
        return (Outcome::Failed, String::new());
    };
    let mut diags = String::new();
    let checked = front_end(&src, Style::for_stderr(), &mut diags);
    eprint!("{diags}");
    let Some((_, checked)) = checked else {
        return (Outcome::Failed, String::new());
    };
    let now = snapshot_body(&checked);
    let snap = snapshot_path(path);
    let old = match std::fs::read_to_string(&snap) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return (
                Outcome::Failed,
                format!("cannot read {}: {e}\n", snap.display()),
            )
        }
    };
    let old_body = old.as_deref().map(body_of);
    if old_body.as_deref().map(trimmed) == Some(trimmed(&now)) || (old.is_none() && now.is_empty())
    {
        return (Outcome::Passed, String::new());
    }
    if accept {
        return match write_snapshot(path, &snap, &now) {
            Ok(()) if old.is_none() => (Outcome::New, String::new()),
            Ok(()) => (Outcome::Updated, String::new()),
            Err(e) => (Outcome::Failed, format!("{e}\n")),
        };
    }
    match old_body {
        None => (Outcome::New, String::new()),
        Some(before) => {
            let diff = crate::diff::unified(
                &before,
                &now,
                &snap.display().to_string(),
                &format!("{} (now)", path.display()),
                colour,
            );
            (Outcome::Failed, diff)
        }
    }
}

/// A script's snapshot: every model's `summary` table, in declaration order.
pub fn snapshot_body(checked: &Checked) -> String {
    checked
        .models()
        .map(crate::ir::report::summary)
        .collect::<Vec<_>>()
        .join("\n")
}

/// `NAME.cnn.snap` beside `NAME.cnn`.
pub fn snapshot_path(script: &Path) -> PathBuf {
    let mut name = script.as_os_str().to_owned();
    name.push(".snap");
    PathBuf::from(name)
}

/// A snapshot file: insta's header (so `cargo insta` can read it), then the body.
pub fn snapshot_file(script: &Path, body: &str) -> String {
    let name = script
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("---\nsource: cnnscript test\ninput_file: {name}\n---\n{body}")
}

/// The body of a snapshot file: what follows insta's `---` header, if any.
fn body_of(file: &str) -> String {
    let file = file.replace("\r\n", "\n");
    if let Some(rest) = file.strip_prefix("---\n") {
        if let Some(end) = rest.find("\n---\n") {
            return rest[end + 5..].to_string();
        }
    }
    file
}

fn trimmed(text: &str) -> &str {
    text.trim_end_matches('\n')
}

/// Write (or, when the script has no models any more, remove) a snapshot.
fn write_snapshot(script: &Path, snap: &Path, body: &str) -> Result<(), String> {
    if body.is_empty() {
        return std::fs::remove_file(snap)
            .map_err(|e| format!("error: cannot remove {}: {e}", snap.display()));
    }
    let text = snapshot_file(script, body);
    crate::io::atomic_write(snap, |w| w.write_all(text.as_bytes()))
        .map_err(|e| format!("error: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_follows_the_insta_header() {
        let file = snapshot_file(Path::new("dir/lenet.cnn"), "Model: lenet\n");
        assert_eq!(
            file,
            "---\nsource: cnnscript test\ninput_file: lenet.cnn\n---\nModel: lenet\n"
        );
        assert_eq!(body_of(&file), "Model: lenet\n");
        assert_eq!(body_of(&file.replace('\n', "\r\n")), "Model: lenet\n");
        assert_eq!(body_of("no header\n"), "no header\n");
        assert_eq!(
            snapshot_path(Path::new("a/b.cnn")),
            PathBuf::from("a/b.cnn.snap")
        );
    }
}

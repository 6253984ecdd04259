//! What several integration tests share: running scripts through the
//! binary, reading what they print and write, and a real terminal
//! (`tmux.rs`).

// each test crate uses a different part of this module
#![allow(dead_code)]

mod tmux;

use std::path::Path;
use std::process::Command;

#[allow(unused_imports)] // the crates without a terminal test
pub use tmux::Tmux;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_cnnscript");

/// Run `text` as `s.cnn` in `dir`: (status, stdout, stderr).
pub fn run_in(dir: &Path, text: &str) -> (i32, String, String) {
    std::fs::write(dir.join("s.cnn"), text).expect("write script");
    run_file(dir, Command::new(BIN).args(["run", "s.cnn"]))
}

/// Run a command in `dir`: (status, stdout, stderr made [`flat`]).
pub fn run_file(dir: &Path, cmd: &mut Command) -> (i32, String, String) {
    let out = cmd
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        flat(&String::from_utf8_lossy(&out.stderr)),
    )
}

/// Text with its whitespace runs (and the diagnostics' `│` margins, which
/// wrapped lines start with) made single spaces, so messages match whole.
pub fn flat(text: &str) -> String {
    text.split_whitespace()
        .filter(|w| *w != "│")
        .collect::<Vec<_>>()
        .join(" ")
}

/// Run and expect success: stdout.
pub fn ok(dir: &Path, text: &str) -> String {
    let (code, out, err) = run_in(dir, text);
    assert_eq!(code, 0, "{text}\n{err}");
    out
}

pub fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The files in a folder.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Full-batch SGD with momentum on a small regression.
pub fn sgd(steps: usize, options: &str, out: &str) -> String {
    sgd_width(8, steps, options, out)
}

/// [`sgd`] with `width` hidden units.
pub fn sgd_width(width: usize, steps: usize, options: &str, out: &str) -> String {
    format!(
        "seed 1\n\
         model m(x: Nx4) = linear(out={width}) -> relu -> linear(out=2)\n\
         let X = randn(32x4)\n\
         let Y = randn(32x2)\n\
         data X -> Y\n\
         train sgd lr=0.05 momentum=0.9 steps={steps} log=1 {options}\n\
         save m \"{out}\"\n"
    )
}

/// A `train` log split into its first line (`Training m: ...`) and the
/// `Step`/`Epoch` lines after it.
pub fn split_header(log: &str) -> (&str, &str) {
    assert!(log.starts_with("Training "), "a train header first: {log}");
    log.split_once('\n').unwrap_or((log, ""))
}

/// Output without the epoch times, which differ from run to run.
pub fn untimed(out: &str) -> String {
    out.lines()
        .map(|l| l.split(", time ").next().unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

//! `cnnscript fmt` and `cnnscript test` end to end, in temporary folders,
//! and the repository's own scripts in canonical layout.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use cnnscript::cli::check_source;
use cnnscript::diag::Style;
use cnnscript::fmt::{format_source, FormatError};
use cnnscript::session::Source;

fn cnnscript(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("cnnscript").expect("binary built");
    c.env("NO_COLOR", "1").current_dir(dir);
    c
}

/// (status, stdout, stderr) of `cnnscript ARGS` run in `dir`.
fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = cnnscript(dir).args(args).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).expect("readable")
}

const MESSY: &str = "model m(x:Nx1x8x8)=conv(out=2,k=3)->relu   # two maps\nsummary m;print 1\n";
const TIDY: &str =
    "model m(x: Nx1x8x8) = conv(out=2, k=3) -> relu  # two maps\nsummary m\nprint 1\n";

#[test]
fn fmt_check_prints_a_diff_fails_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.cnn"), MESSY).unwrap();
    let (code, stdout, stderr) = run(dir.path(), &["fmt", "--check", "s.cnn"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stdout.starts_with("--- s.cnn\n+++ s.cnn (formatted)\n@@ "),
        "{stdout}"
    );
    assert!(stdout.contains("\n-summary m;print 1\n"), "{stdout}");
    assert!(stdout.contains("\n+summary m\n+print 1\n"), "{stdout}");
    assert!(!stdout.contains('\u{1b}'), "no colour when piped");
    assert!(stderr.contains("1 of 1 file(s) not formatted"), "{stderr}");
    assert_eq!(read(dir.path().join("s.cnn")), MESSY);
}

#[test]
fn fmt_rewrites_files_in_folders_and_then_check_passes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/a.cnn"), MESSY).unwrap();
    std::fs::write(dir.path().join("b.cnn"), TIDY).unwrap();
    std::fs::write(dir.path().join("notes.txt"), MESSY).unwrap();
    let (code, _, stderr) = run(dir.path(), &["fmt", "."]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(read(dir.path().join("sub/a.cnn")), TIDY);
    assert_eq!(read(dir.path().join("b.cnn")), TIDY);
    assert_eq!(
        read(dir.path().join("notes.txt")),
        MESSY,
        "only .cnn files are searched"
    );
    let (code, stdout, _) = run(dir.path(), &["fmt", "--check", "."]);
    assert_eq!((code, stdout.as_str()), (0, ""));
}

#[test]
fn fmt_leaves_a_file_with_syntax_errors_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let broken = "let X = 1\nlet Y  ones(2x3)\n";
    std::fs::write(dir.path().join("bad.cnn"), broken).unwrap();
    for args in [&["fmt", "bad.cnn"][..], &["fmt", "--check", "bad.cnn"]] {
        let (code, stdout, stderr) = run(dir.path(), args);
        assert_eq!(code, 1);
        assert!(stdout.is_empty(), "{stdout}");
        assert!(
            stderr.contains("syntax error") && stderr.contains("bad.cnn:2:"),
            "{stderr}"
        );
    }
    assert_eq!(read(dir.path().join("bad.cnn")), broken);
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "no temporary file is left behind");
}

#[test]
fn fmt_and_test_usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run(dir.path(), &["fmt"]).0, 2, "fmt needs a path");
    assert_eq!(run(dir.path(), &["fmt", "nope.cnn"]).0, 2);
    assert_eq!(run(dir.path(), &["test", "nope"]).0, 2);
}

const NET: &str = "model net(x: Nx1x8x8) = conv(out=4, k=3) -> relu -> maxpool(k=2)\n";

#[test]
fn test_reports_new_snapshots_accepts_them_and_then_passes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join("deep")).unwrap();
    std::fs::write(root.join("a.cnn"), NET).unwrap();
    std::fs::write(root.join("deep/b.cnn"), NET.replace("net", "other")).unwrap();
    std::fs::write(root.join("plain.cnn"), "let X = ones(2x3)\nprint X\n").unwrap();

    let (code, stdout, _) = run(root, &["test"]);
    assert_eq!(code, 1, "new snapshots fail without --accept");
    assert!(stdout.contains("test ./a.cnn ... new"), "{stdout}");
    assert!(
        stdout.ends_with("test: 1 passed, 0 failed, 2 new\n"),
        "{stdout}"
    );
    assert!(!root.join("a.cnn.snap").exists());

    let (code, stdout, _) = run(root, &["test", "--accept", "."]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.ends_with("test: 1 passed, 0 failed, 2 new, 0 updated\n"),
        "{stdout}"
    );
    let snap = read(root.join("a.cnn.snap"));
    assert!(
        snap.starts_with(
            "---\nsource: cnnscript test\ninput_file: a.cnn\n---\nModel: net (input Nx1x8x8)\n"
        ),
        "{snap}"
    );
    assert!(
        snap.contains("Nx4x3x3") && snap.contains("Total params: 40"),
        "{snap}"
    );
    assert!(root.join("deep/b.cnn.snap").exists());
    assert!(
        !root.join("plain.cnn.snap").exists(),
        "a script without models needs none"
    );

    let (code, stdout, _) = run(root, &["test", "a.cnn", "deep"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.ends_with("test: 2 passed, 0 failed, 0 new\n"),
        "{stdout}"
    );
}

#[test]
fn test_shows_a_diff_when_a_shape_changes_and_accept_updates_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("a.cnn"), NET).unwrap();
    assert_eq!(run(root, &["test", "--accept", "a.cnn"]).0, 0);
    let before = read(root.join("a.cnn.snap"));
    std::fs::write(root.join("a.cnn"), NET.replace("k=3", "k=3, p=1")).unwrap();

    let (code, stdout, _) = run(root, &["test", "a.cnn"]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("test a.cnn ... FAILED\n--- a.cnn.snap\n+++ a.cnn (now)\n"),
        "{stdout}"
    );
    let line = |sign: char, shape: &str| {
        stdout
            .lines()
            .any(|l| l.starts_with(sign) && l.contains("maxpool(k=2)") && l.contains(shape))
    };
    assert!(line('-', "Nx4x3x3") && line('+', "Nx4x4x4"), "{stdout}");
    assert!(
        stdout.ends_with("test: 0 passed, 1 failed, 0 new\n"),
        "{stdout}"
    );
    assert_eq!(
        read(root.join("a.cnn.snap")),
        before,
        "nothing written without --accept"
    );

    let (code, stdout, _) = run(root, &["test", "--accept", "a.cnn"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("... updated") && stdout.contains("1 updated"),
        "{stdout}"
    );
    assert!(read(root.join("a.cnn.snap")).contains("Nx4x4x4"));
    assert_eq!(run(root, &["test", "a.cnn"]).0, 0);
}

#[test]
fn test_fails_on_a_false_assertion_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let text = format!("{NET}assert params net == 40\nassert shape net == Nx4x2x2\n");
    std::fs::write(root.join("a.cnn"), text).unwrap();
    let (code, stdout, stderr) = run(root, &["test", "--accept", "a.cnn"]);
    assert_eq!(code, 1);
    assert!(stdout.contains("test a.cnn ... FAILED"), "{stdout}");
    assert!(
        stderr.contains("assert shape net: the output is Nx4x3x3, the assertion says Nx4x2x2"),
        "{stderr}"
    );
    assert!(!root.join("a.cnn.snap").exists());
}

#[test]
fn run_checks_assertions_before_running_anything() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("print 7\n{NET}assert rf net == 5x5\n");
    std::fs::write(dir.path().join("a.cnn"), &text).unwrap();
    let (code, stdout, stderr) = run(dir.path(), &["run", "a.cnn"]);
    assert_eq!(code, 1);
    assert_eq!(stdout, "", "nothing ran");
    assert!(
        stderr.contains("assert rf net: the receptive field is 4x4, the assertion says 5x5"),
        "{stderr}"
    );
    std::fs::write(dir.path().join("a.cnn"), text.replace("5x5", "4")).unwrap();
    let (code, stdout, stderr) = run(dir.path(), &["run", "a.cnn"]);
    assert_eq!((code, stdout.as_str()), (0, "tensor(7.)\n"), "{stderr}");
}

fn repository_scripts() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dirs = ["examples", "tests/scripts", "tests/conformance"].map(|d| root.join(d));
    cnnscript::io::script_files(&dirs).expect("the repository's folders")
}

#[test]
fn every_script_in_the_repository_is_formatted() {
    let scripts = repository_scripts();
    assert!(scripts.len() > 100, "found {}", scripts.len());
    let mut broken = 0;
    for path in scripts {
        let text = read(&path);
        match format_source(&text) {
            Ok(formatted) => assert!(
                formatted == text,
                "{} is not formatted: run `cnnscript fmt` on it",
                path.display()
            ),
            Err(FormatError::Syntax(_)) => {
                // the syntax-error fixtures: check must fail on them too
                let src = Source {
                    name: path.display().to_string(),
                    text,
                };
                let out = check_source(&src, false, Style::Plain);
                assert!(out.code == 1 && out.stderr.contains("syntax error"));
                broken += 1;
            }
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }
    assert_eq!(broken, 14, "the known syntax-error fixtures");
}

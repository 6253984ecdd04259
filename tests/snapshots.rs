//! Snapshots of what `check` prints for every example and every script in
//! tests/scripts: the summary/shape text, the `--json` document, and the
//! rendered diagnostics (no colour). Each snapshot carries its source.

use std::path::Path;

use cnnscript::cli::check_source;
use cnnscript::diag::Style;
use cnnscript::session::Source;

fn load(path: &Path, root: &str) -> Source {
    let text = std::fs::read_to_string(path).expect("test script readable");
    let file = path
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or("script.cnn");
    Source {
        name: format!("{root}/{file}"),
        text,
    }
}

/// `check` and `check --json` of a script that must pass, snapshotted.
fn snapshot_ok(path: &Path, root: &str) {
    let src = load(path, root);
    let text = check_source(&src, false, Style::Plain);
    assert_eq!(text.code, 0, "{} failed:\n{}", src.name, text.stderr);
    let json = check_source(&src, true, Style::Plain);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("one JSON object");
    insta::with_settings!({ description => src.text.clone(), omit_expression => true }, {
        insta::assert_snapshot!("check", text.stdout);
        insta::assert_json_snapshot!("json", doc);
    });
}

#[test]
fn examples_check_and_json() {
    insta::glob!("../examples", "*.cnn", |path| snapshot_ok(path, "examples"));
}

#[test]
fn ok_scripts_check() {
    insta::glob!("scripts/ok", "*.cnn", |path| snapshot_ok(path, "ok"));
}

#[test]
fn error_scripts_fail_with_diagnostics() {
    insta::glob!("scripts/err", "*.cnn", |path| {
        let src = load(path, "err");
        let out = check_source(&src, false, Style::Plain);
        assert_eq!(out.code, 1, "{} should fail", src.name);
        assert!(
            out.stdout.is_empty(),
            "no results are printed when a script has errors"
        );
        assert!(
            !out.stderr.contains('\u{1b}'),
            "plain style has no colour codes"
        );
        insta::with_settings!({ description => src.text.clone(), omit_expression => true }, {
            insta::assert_snapshot!("diagnostics", out.stderr);
        });
        let json = check_source(&src, true, Style::Plain);
        assert_eq!(json.code, 1, "--json fails too");
        assert!(
            json.stdout.is_empty(),
            "--json prints nothing on stdout for a broken script"
        );
    });
}

//! `export MODEL "file.onnx"` and `cnnscript export FILE --onnx OUT` end to
//! end: the command writes what the statement writes, weights come from the
//! right place, and every error is a diagnostic with nothing left on disk.

use assert_cmd::Command;
use std::path::Path;

fn cnnscript() -> Command {
    let mut c = Command::cargo_bin("cnnscript").expect("binary built");
    c.env("NO_COLOR", "1");
    c
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

fn in_dir(dir: &Path, args: &[&str]) -> Ran {
    let out = cnnscript()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("runs");
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A fresh folder holding `s.cnn`.
fn script(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("s.cnn"), text).expect("write script");
    dir
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

const TWO_MODELS: &str = "seed 4
let A = rand(3x3)
model a(x: Nx1x6x6) = conv(out=2, k=3)
let (P, Q) = split(A, 0.5)
print randn(2) * 2
model m(x: Nx2x8x8) {
  conv(out=3, k=3, p=1) batchnorm relu
  maxpool(k=2)
  flatten
  linear(out=4)
}
";

#[test]
fn the_command_writes_what_the_statement_writes_right_after_the_declaration() {
    let dir = script(&format!(
        "{TWO_MODELS}export m \"stmt.onnx\"\nlet X = randn(2x2x8x8)\n"
    ));
    let ran = in_dir(dir.path(), &["run", "s.cnn"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let ran = in_dir(
        dir.path(),
        &["export", "s.cnn", "--onnx", "cmd.onnx", "--model", "m"],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stdout.contains("cmd.onnx"), "{}", ran.stdout);
    let stmt = std::fs::read(dir.path().join("stmt.onnx")).expect("statement's file");
    let cmd = std::fs::read(dir.path().join("cmd.onnx")).expect("command's file");
    assert!(stmt.len() > 200);
    assert!(stmt == cmd, "the command's weights differ from run's");
}

#[test]
fn weights_come_from_the_file_given() {
    let dir = script(&format!(
        "{TWO_MODELS}let X = randn(6x2x8x8)
let Y = randn(6x4)
data X -> Y
train m sgd lr=0.1 steps=3 loss=mse
save m \"w.safetensors\"
export m \"trained.onnx\"
"
    ));
    let ran = in_dir(dir.path(), &["run", "s.cnn"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let args = [
        "export",
        "s.cnn",
        "--model",
        "m",
        "--weights",
        "w.safetensors",
    ];
    let ran = in_dir(dir.path(), &[&args[..], &["--onnx", "cmd.onnx"]].concat());
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let trained = std::fs::read(dir.path().join("trained.onnx")).expect("statement's file");
    assert!(trained == std::fs::read(dir.path().join("cmd.onnx")).expect("command's file"));
    let ran = in_dir(
        dir.path(),
        &["export", "s.cnn", "--model", "m", "--onnx", "init.onnx"],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(trained != std::fs::read(dir.path().join("init.onnx")).expect("initial weights"));
}

#[test]
fn weights_that_do_not_fit_are_an_error_naming_the_tensor() {
    let dir = script("model m(x: Nx4) = linear(out=2)\nmodel k(x: Nx4) = linear(out=3)\nsave k \"k.safetensors\"\n");
    assert_eq!(in_dir(dir.path(), &["run", "s.cnn"]).code, 0);
    let ran = in_dir(
        dir.path(),
        &[
            "export",
            "s.cnn",
            "--model",
            "m",
            "--weights",
            "k.safetensors",
            "--onnx",
            "m.onnx",
        ],
    );
    assert_eq!(ran.code, 1);
    assert!(ran.stderr.contains("`0.weight`"), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("3x4") && ran.stderr.contains("2x4"),
        "{}",
        ran.stderr
    );
    assert!(!dir.path().join("m.onnx").exists());
}

#[test]
fn a_script_with_errors_prints_what_check_prints_and_writes_nothing() {
    let dir = script("model m(x: Nx1x4x4) {\n  conv(out=2, k=5)\n  relux\n}\n");
    let check = in_dir(dir.path(), &["check", "s.cnn"]);
    assert_eq!(check.code, 1);
    let ran = in_dir(dir.path(), &["export", "s.cnn", "--onnx", "m.onnx"]);
    assert_eq!(ran.code, 1);
    assert_eq!(ran.stderr, check.stderr);
    assert!(ran.stderr.contains("relux"), "{}", ran.stderr);
    assert_eq!(files(dir.path()), vec!["s.cnn"]);
}

#[test]
fn several_models_need_model_and_the_error_lists_them() {
    let dir = script(TWO_MODELS);
    let ran = in_dir(dir.path(), &["export", "s.cnn", "--onnx", "m.onnx"]);
    assert_eq!(ran.code, 2);
    assert!(ran.stderr.contains("--model"), "{}", ran.stderr);
    assert!(ran.stderr.contains("a, m"), "{}", ran.stderr);
    let ran = in_dir(
        dir.path(),
        &["export", "s.cnn", "--onnx", "m.onnx", "--model", "b"],
    );
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr.contains("no model `b`") && ran.stderr.contains("a, m"),
        "{}",
        ran.stderr
    );
    assert_eq!(files(dir.path()), vec!["s.cnn"]);
    let ran = in_dir(dir.path(), &["export", "s.cnn"]);
    assert_eq!(ran.code, 2, "a target is required");
}

#[test]
fn an_unwritable_path_is_a_clear_error_and_leaves_nothing() {
    let dir = script("model m(x: Nx4) = linear(out=2)\n");
    let ran = in_dir(dir.path(), &["export", "s.cnn", "--onnx", "no/such/m.onnx"]);
    assert_eq!(ran.code, 1);
    assert!(
        ran.stderr.contains("no/such/m.onnx") && ran.stderr.contains("does not exist"),
        "{}",
        ran.stderr
    );
    let ran = in_dir(dir.path(), &["export", "s.cnn", "--onnx", "."]);
    assert_eq!(ran.code, 1);
    assert!(ran.stderr.contains("folder"), "{}", ran.stderr);
    assert_eq!(files(dir.path()), vec!["s.cnn"]);
}

#[test]
fn a_train_before_the_model_is_run_dry_for_its_initial_weights() {
    // the training's shuffles and dropout masks move the generator before
    // `m` draws its weights: the dry run draws them too
    let dir = script(
        "model a(x: Nx3) = linear(out=4) -> dropout(p=0.3) -> linear(out=1)
data randn(6x3) -> ones(6x1)
train a sgd lr=0.1 epochs=2 batch=4 loss=mse
model m(x: Nx3) = linear(out=2)
export m \"stmt.onnx\"
",
    );
    assert_eq!(in_dir(dir.path(), &["run", "s.cnn"]).code, 0);
    let ran = in_dir(
        dir.path(),
        &["export", "s.cnn", "--model", "m", "--onnx", "m.onnx"],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let (exported, ran) = (
        std::fs::read(dir.path().join("m.onnx")).expect("exported"),
        std::fs::read(dir.path().join("stmt.onnx")).expect("run wrote it"),
    );
    assert!(exported == ran, "the same weights as `run` gives `m`");
}

#[test]
fn what_onnx_cannot_express_is_an_error_at_the_statement_and_the_layer() {
    let src = "model m(x: Nx3xHxW) {\n  conv(out=4, k=3)\n  maxpool(k=2, ceil=true)\n}\nprint 1\nexport m \"m.onnx\"\n";
    let dir = script(src);
    std::fs::write(dir.path().join("m.onnx"), b"old").expect("old file");
    let ran = in_dir(dir.path(), &["run", "s.cnn"]);
    assert_eq!(ran.code, 1);
    assert!(!ran.stdout.is_empty(), "statements before the export ran");
    for part in [
        "cannot export `m` to ONNX",
        "ceil=true",
        "this export",
        "this layer",
        "help:",
    ] {
        assert!(ran.stderr.contains(part), "{part}: {}", ran.stderr);
    }
    assert!(
        ran.stderr.contains("s.cnn:6:1"),
        "at the statement: {}",
        ran.stderr
    );
    assert_eq!(
        std::fs::read(dir.path().join("m.onnx")).expect("kept"),
        b"old"
    );
    let ran = in_dir(dir.path(), &["export", "s.cnn", "--onnx", "m.onnx"]);
    assert_eq!(ran.code, 1);
    assert!(
        ran.stderr.contains("s.cnn:3:3") && ran.stderr.contains("this layer"),
        "{}",
        ran.stderr
    );
    assert_eq!(
        std::fs::read(dir.path().join("m.onnx")).expect("kept"),
        b"old"
    );
}

#[test]
fn the_statement_is_checked_before_anything_runs() {
    let dir = script("model m(x: Nx4) = linear(out=2)\nprint 1\nexport m \"m.safetensors\"\nexport k \"k.onnx\"\n");
    let ran = in_dir(dir.path(), &["run", "s.cnn"]);
    assert_eq!(ran.code, 1);
    assert_eq!(ran.stdout, "");
    assert!(
        ran.stderr.contains("does not end in .onnx"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("unknown model `k`"), "{}", ran.stderr);
    assert_eq!(files(dir.path()), vec!["s.cnn"]);
}

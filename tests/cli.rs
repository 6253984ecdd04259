//! The binary end to end: the chapter's examples give the chapter's numbers,
//! and every error a user can cause exits 1 with a diagnostic (2 for usage).

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;

fn cnnscript() -> Command {
    let mut c = Command::cargo_bin("cnnscript").expect("binary built");
    c.env("NO_COLOR", "1");
    c
}

/// Run a script written into a fresh folder; returns (status, stdout, stderr, folder).
fn run_script(text: &str) -> (i32, String, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("s.cnn"), text).expect("write script");
    let out = cnnscript()
        .current_dir(dir.path())
        .args(["run", "s.cnn"])
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        dir,
    )
}

/// Numbers in a printed tensor, in order.
fn numbers(text: &str) -> Vec<f64> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e'))
        .filter_map(|t| t.trim_end_matches('.').parse::<f64>().ok())
        .collect()
}

#[test]
fn corr2d_example_gives_the_chapters_result() {
    // the chapter: corr2d(X, K) = [[19, 25], [37, 43]]
    cnnscript()
        .args(["run", "examples/corr2d.cnn"])
        .assert()
        .success()
        .stdout("tensor([[19., 25.],\n        [37., 43.]])\n");
}

#[test]
fn edge_example_learns_the_kernel() {
    let out = cnnscript()
        .args(["run", "examples/edge.cnn"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let losses: Vec<f64> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("Step "))
        .filter_map(|l| l.split("loss ").nth(1))
        .filter_map(|v| v.parse().ok())
        .collect();
    assert_eq!(
        losses.len(),
        6,
        "log=5 over 30 steps prints 6 lines:\n{stdout}"
    );
    assert!(
        losses.windows(2).all(|w| w[1] < w[0]),
        "loss falls: {losses:?}"
    );
    assert!(losses[5] < 0.05, "loss ends small: {losses:?}");
    // the last two printed tensors: the learned kernel and the bias
    let tail: Vec<&str> = stdout.lines().rev().take(2).collect();
    let kernel = numbers(tail[1]);
    let bias = numbers(tail[0]);
    assert!(
        (kernel[0] - 1.0).abs() < 0.05 && (kernel[1] + 1.0).abs() < 0.05,
        "kernel {kernel:?}"
    );
    assert!(bias[0].abs() < 0.05, "bias {bias:?}");
}

#[test]
fn conv2d_example_keeps_shape_and_weight_is_3x2x3x5() {
    // nn.Conv2d(2, 3, (3, 5), padding=(1, 2)) on 4x2x3x5: output 4x3x3x5, weight 3x2x3x5, bias 3
    let (code, _, err, dir) = run_script(
        "let X = rand(4x2x3x5)\nmodel c(x: 4x2x3x5) = conv(in=2, out=3, k=3x5, p=1x2)\nsave c(X) \"y.npy\"\nsave c \"w.safetensors\"\n",
    );
    assert_eq!(code, 0, "{err}");
    let y = cnnscript::io::load_value(&dir.path().join("y.npy")).expect("y.npy");
    assert_eq!(y.shape(), Some(&[4usize, 3, 3, 5][..]));
    let w = cnnscript::io::load_state_dict(&dir.path().join("w.safetensors")).expect("weights");
    let shapes: Vec<(String, Vec<usize>)> = w
        .iter()
        .map(|(n, v)| (n.clone(), v.shape().unwrap_or(&[]).to_vec()))
        .collect();
    assert!(
        shapes.contains(&("0.weight".into(), vec![3, 2, 3, 5])),
        "{shapes:?}"
    );
    assert!(shapes.contains(&("0.bias".into(), vec![3])), "{shapes:?}");
}

/// A copy of `examples/` and the `data/` they load, in a fresh folder: the
/// examples write their outputs beside themselves, never into the repository.
fn examples_layout() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for folder in ["examples", "data/digits"] {
        let to = dir.path().join(folder);
        std::fs::create_dir_all(&to).expect("mkdir");
        for entry in std::fs::read_dir(root.join(folder)).expect("folder") {
            let path = entry.expect("entry").path();
            if path.is_file() {
                let name = path.file_name().expect("a file name");
                std::fs::copy(&path, to.join(name)).expect("copy");
            }
        }
    }
    dir
}

#[test]
fn every_example_runs() {
    let dir = examples_layout();
    let mut ran = 0;
    for entry in std::fs::read_dir(dir.path().join("examples")).expect("examples folder") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("cnn") {
            continue;
        }
        let out = cnnscript()
            .current_dir(dir.path())
            .arg("run")
            .arg(&path)
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{} failed:\n{}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        ran += 1;
    }
    assert!(ran >= 9, "only {ran} examples");
}

#[test]
fn usage_errors_exit_2() {
    cnnscript().assert().code(2);
    cnnscript().args(["frobnicate"]).assert().code(2);
    cnnscript()
        .args(["run", "no/such/file.cnn"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no/such/file.cnn"));
}

#[test]
fn check_json_prints_only_json() {
    let out = cnnscript()
        .args(["check", "examples/lenet.cnn", "--json"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is one JSON object");
    assert_eq!(doc["models"][0]["params"], 61706);
    assert_eq!(
        doc["models"][0]["layers"][6]["output"],
        serde_json::json!(["N", 400])
    );
    assert_eq!(
        doc["models"][0]["layers"][6]["rf"],
        serde_json::json!([32, 32])
    );
}

/// The parameters a `.safetensors` file holds, by name.
fn tensors(path: &Path) -> Vec<(String, Vec<f32>)> {
    let dict = cnnscript::io::load_state_dict(path).expect("a state dict");
    dict.into_iter()
        .map(|(name, v)| {
            let values = v.to_float().expect("a tensor");
            (name, values.iter().copied().collect())
        })
        .collect()
}

/// Feed `text` to a piped REPL in `dir`: unlike `run`, it goes on after an
/// error, so what a model holds after a failed `train` can be saved.
fn repl_in(dir: &Path, text: &str) -> (i32, String) {
    let out = cnnscript()
        .current_dir(dir)
        .arg("repl")
        .write_stdin(text)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const DIVERGING: &str = "model m(x: 1x1x4x4) = conv(out=1, k=3, init=ones)\n\
    let X = ones(1x1x4x4)\nlet Y = zeros(1x1x2x2)\ndata X -> Y\n";

#[test]
fn a_diverging_step_stops_training_naming_the_step() {
    let (code, out, err, dir) = run_script(&format!(
        "{DIVERGING}train sgd lr=1e36 steps=5 loss=sse log=1\nsave m \"after.safetensors\"\n"
    ));
    assert_eq!(code, 1, "stdout: {out}");
    assert!(err.contains("the loss became infinite at step 2"), "{err}");
    // the first line names the model (SPEC v1.1), the step lines follow unchanged
    assert_eq!(
        out,
        "Training m: sgd lr=1e36, 5 steps\nStep 1, loss 400.000\n"
    );
    assert!(
        !dir.path().join("after.safetensors").exists(),
        "nothing after the error runs"
    );
}

#[test]
fn a_diverged_step_leaves_the_last_finite_parameters() {
    // lr=1e38: step 1's loss and gradient are finite, its update is not (-inf)
    let dir = tempfile::tempdir().expect("temp dir");
    let (code, err) = repl_in(
        dir.path(),
        &format!(
            "{DIVERGING}save m \"before.safetensors\"\n\
             train sgd lr=1e38 steps=5 loss=sse log=1\n\
             save m \"after.safetensors\"\n"
        ),
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("the update of `0.weight` would make it NaN or infinite at step 1"),
        "{err}"
    );
    let before = tensors(&dir.path().join("before.safetensors"));
    assert_eq!(tensors(&dir.path().join("after.safetensors")), before);

    // lr=1e36: step 1 is finite, step 2's loss overflows; the weights are step 1's
    let (code, err) = repl_in(
        dir.path(),
        &format!(
            "{DIVERGING}train sgd lr=1e36 steps=1 loss=sse\nsave m \"one.safetensors\"\n\
             {DIVERGING}train sgd lr=1e36 steps=5 loss=sse\nsave m \"kept.safetensors\"\n"
        ),
    );
    assert_eq!(code, 1);
    assert!(err.contains("at step 2"), "{err}");
    let one = tensors(&dir.path().join("one.safetensors"));
    assert_ne!(one, before, "step 1 changed the weights");
    assert!(one.iter().all(|(_, v)| v.iter().all(|x| x.is_finite())));
    assert_eq!(tensors(&dir.path().join("kept.safetensors")), one);

    // batchnorm's running statistics, updated by the forward pass, go back too
    let (code, err) = repl_in(
        dir.path(),
        "model b(x: Nx1x2x2) = batchnorm -> flatten -> linear(out=1, init=ones)\n\
         let X = rand(4x1x2x2)\nlet Y = zeros(4x1)\ndata X -> Y\n\
         save b \"bn-before.safetensors\"\n\
         train sgd lr=1e38 steps=2 loss=sse\nsave b \"bn-after.safetensors\"\n",
    );
    assert_eq!(code, 1);
    assert!(err.contains("at step 1"), "{err}");
    assert_eq!(
        tensors(&dir.path().join("bn-after.safetensors")),
        tensors(&dir.path().join("bn-before.safetensors"))
    );
}

#[test]
fn files_are_written_atomically_and_bad_paths_are_diagnostics() {
    let (code, _, err, dir) = run_script("let X = ones(2x2)\nsave X \"no_such_dir/x.npy\"\n");
    assert_eq!(code, 1);
    assert!(err.contains("no_such_dir"), "{err}");
    assert!(err.contains(":2:"), "points at line 2: {err}");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
    assert_eq!(leftovers.len(), 1, "only the script is left: {leftovers:?}");
}

#[test]
fn huge_tensors_are_refused_before_allocating() {
    let (code, _, err, _) = run_script("let X = ones(100000x100000x1000)\n");
    assert_eq!(code, 1);
    assert!(
        err.contains("GiB") || err.contains("TiB") || err.contains("bytes"),
        "gives the estimate: {err}"
    );
}

#[test]
fn a_model_on_the_wrong_shape_names_both_shapes() {
    let (code, _, err, _) =
        run_script("model m(x: Nx1x8x8) = conv(out=2, k=3)\nprint m(ones(2x3x8x8))\n");
    assert_eq!(code, 1);
    assert!(err.contains("Nx1x8x8") && err.contains("2x3x8x8"), "{err}");
    assert!(err.contains(":2:"), "{err}");
}

#[test]
fn labels_out_of_range_and_mismatched_targets_are_diagnostics() {
    let (code, _, err, _) = run_script(
        "model m(x: Nx4) = linear(out=3)\nlet X = ones(2x4)\nlet Y = [0, 3]\ndata X -> Y\ntrain adam lr=0.1 steps=1 loss=xent\n",
    );
    assert_eq!(code, 1);
    assert!(err.contains("label 3"), "{err}");
    let (code, _, err, _) = run_script(
        "model m(x: Nx1x4x4) = conv(out=2, k=3)\nlet X = ones(2x1x4x4)\nlet Y = zeros(2x5)\ndata X -> Y\ntrain sgd lr=0.1 steps=1 loss=mse\n",
    );
    assert_eq!(code, 1);
    assert!(err.contains("targets"), "{err}");
}

#[test]
fn strict_load_names_the_tensor_and_both_shapes() {
    let (code, _, err, dir) = run_script(
        "model a(x: Nx1x6x6) = conv(out=2, k=3)\nsave a \"w.safetensors\"\nmodel b(x: Nx1x6x6) = conv(out=3, k=3)\nload b \"w.safetensors\"\n",
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("0.weight") && err.contains("2x1x3x3") && err.contains("3x1x3x3"),
        "{err}"
    );
    assert!(Path::new(&dir.path().join("w.safetensors")).exists());
}

#[test]
fn missing_or_malformed_files_say_which_and_why() {
    let (code, _, err, _) = run_script("let X = load(\"nope.npz\")\n");
    assert_eq!(code, 1);
    assert!(err.contains("nope.npz"), "{err}");
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("bad.npy"), b"\x93NUMPY garbage").expect("write");
    std::fs::write(dir.path().join("s.cnn"), "let X = load(\"bad.npy\")\n").expect("write");
    let out = cnnscript()
        .current_dir(dir.path())
        .args(["run", "s.cnn"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.npy"));
}

#[test]
fn hostile_nesting_is_a_diagnostic_not_a_crash() {
    for text in [
        format!("let X = {}1{}\n", "[".repeat(100_000), "]".repeat(100_000)),
        format!("let X = {}1{}\n", "(".repeat(5_000), ")".repeat(5_000)),
        format!("let X = {}1\n", "-".repeat(100_000)),
    ] {
        let (code, _, err, _) = run_script(&text);
        assert_eq!(code, 1, "{}", &err[..err.len().min(300)]);
        assert!(
            err.contains("syntax error"),
            "{}",
            &err[..err.len().min(300)]
        );
    }
    // moderate depth still works
    let (code, out, err, _) =
        run_script(&format!("print {}1{}\n", "(".repeat(200), ")".repeat(200)));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "tensor(1.)\n");
}

#[test]
fn a_parameters_properties_read_as_a_tensors() {
    // the chapter's `conv2d.weight.shape`, checked and run
    let (code, stdout, stderr, _dir) = run_script(
        "model m(x: Nx2x3x5) = conv(out=3, k=3x5, p=1x2)\nprint m.0.weight.shape\nprint m.0.bias.ndim\nprint m.0.bias.T.shape\n",
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "3x2x3x5\n1\n3\n");
    let (code, _, stderr, _dir) =
        run_script("model m(x: 3x3) = conv(out=2, k=2)\nprint m.0.wieght.shape\n");
    assert_eq!(code, 1);
    assert!(stderr.contains("0.weight"), "{stderr}");
}

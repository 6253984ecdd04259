//! `cnnscript export FILE --torch DIR`: the generated project is pinned for
//! every example and every script in tests/scripts/torch (no Python needed),
//! its files are valid Python, and bad input writes nothing. When
//! CNNSCRIPT_TEST_PY points at a Python with torch, the projects also run:
//! against `cnnscript run` (printed lines and saved tensors), under
//! `torchrun` with two processes, and on the public conformance cases.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use cnnscript::diag::Style;
use cnnscript::export::torch::{generate, Options, Project};
use cnnscript::session::Source;
use cnnscript::value::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cnnscript() -> Command {
    let mut c = Command::cargo_bin("cnnscript").expect("binary built");
    c.env("NO_COLOR", "1");
    c
}

fn project_of(path: &Path) -> Project {
    let text = std::fs::read_to_string(path).expect("script readable");
    let src = Source {
        name: path.display().to_string(),
        text,
    };
    let opts = Options {
        dir: "torch_out",
        style: Style::Plain,
    };
    generate(&src, &opts).unwrap_or_else(|e| panic!("{} does not export:\n{e}", path.display()))
}

/// The generated files, pinned; init.safetensors by its tensors' names and shapes.
fn snapshot_project(path: &Path) {
    let p = project_of(path);
    let init: String = p
        .init
        .iter()
        .map(|(k, v)| format!("{k}: {} {}\n", v.type_name(), v.dims_string()))
        .collect();
    let source = std::fs::read_to_string(path).expect("script readable");
    insta::with_settings!({ description => source, omit_expression => true }, {
        insta::assert_snapshot!("model_py", p.model_py);
        insta::assert_snapshot!("train_py", p.train_py);
        insta::assert_snapshot!("readme", p.readme);
        insta::assert_snapshot!("init", init);
    });
}

#[test]
fn every_example_exports_as_pinned() {
    insta::glob!("../examples", "*.cnn", snapshot_project);
}

#[test]
fn torch_scripts_export_as_pinned() {
    insta::glob!("scripts/torch", "*.cnn", snapshot_project);
}

/// Every generated file parses as Python (python3 is already needed by the
/// conformance runner; this uses only its standard library).
#[test]
fn generated_files_are_python() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut files = Vec::new();
    for folder in ["examples", "tests/scripts/torch"] {
        for entry in std::fs::read_dir(repo().join(folder)).expect("folder") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "cnn") {
                let p = project_of(&path);
                let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
                for (name, text) in [("model", &p.model_py), ("train", &p.train_py)] {
                    let file = dir.path().join(format!("{stem}_{name}.py"));
                    std::fs::write(&file, text).expect("write");
                    files.push(file);
                }
            }
        }
    }
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg("import ast, sys\nfor f in sys.argv[1:]: ast.parse(open(f, encoding='utf-8').read(), f)")
        .args(&files)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Export `text` (as s.cnn in a fresh folder) to `dir`; (status, stdout, stderr, folder).
fn export(text: &str, dir: &str, extra: &[&str]) -> (i32, String, String, tempfile::TempDir) {
    let folder = tempfile::tempdir().expect("temp dir");
    std::fs::write(folder.path().join("s.cnn"), text).expect("write script");
    let out = cnnscript()
        .current_dir(folder.path())
        .args(["export", "s.cnn", "--torch", dir])
        .args(extra)
        .output()
        .expect("runs");
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        s(&out.stdout),
        s(&out.stderr),
        folder,
    )
}

/// The export's folder holds the script and nothing else.
fn assert_only_the_script(folder: &Path, what: &str) {
    let entries = std::fs::read_dir(folder).expect("the test folder").count();
    assert_eq!(entries, 1, "{what}");
}

#[test]
fn a_script_with_errors_prints_checks_diagnostics_and_writes_nothing() {
    let text = "model m(x: Nx1x4x4) = conv(out=2, k=9)\nlet Y = nosuch\n";
    let (code, stdout, stderr, folder) = export(text, "out", &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty());
    let check = cnnscript()
        .current_dir(folder.path())
        .args(["check", "s.cnn"])
        .output()
        .expect("runs");
    assert_eq!(stderr, String::from_utf8_lossy(&check.stderr));
    assert!(stderr.contains("nosuch"), "{stderr}");
    assert!(!folder.path().join("out").exists());
}

#[test]
fn what_has_no_translation_is_an_error_at_the_expression_and_writes_nothing() {
    // a file read inside the call: its shape is known only when the script runs
    let text = "let X = ones(1x1x4x4)\nsave X \"x.npy\"\nprint maxpool(X, k=2)\n\
                print maxpool(load(\"x.npy\"), k=2)\n";
    let (code, _, stderr, folder) = export(text, "out", &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "`maxpool` of a value whose shape is known only when the script runs has no PyTorch translation"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("s.cnn:4"), "{stderr}");
    assert_only_the_script(folder.path(), "only the script");
}

#[test]
fn checkpoints_are_refused_at_the_option_and_nothing_is_written() {
    let text = "model m(x: Nx2) = linear(out=1)\ndata ones(4x2) -> zeros(4x1)\n\
                train m sgd lr=0.1 steps=4 checkpoint=\"ck.safetensors\" every=2\n";
    let (code, _, stderr, folder) = export(text, "out", &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("checkpoints have no PyTorch translation yet"),
        "{stderr}"
    );
    assert!(stderr.contains("s.cnn:3"), "{stderr}");
    assert!(!folder.path().join("out").exists());
}

#[test]
fn a_run_time_error_of_the_dry_run_writes_nothing() {
    let (code, _, stderr, folder) = export("let X = load(\"missing.npy\")\n", "out", &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains("missing.npy"), "{stderr}");
    assert_only_the_script(
        folder.path(),
        "only the script: no DIR, no temporary folder",
    );
}

#[test]
fn a_full_folder_needs_force_and_keeps_other_files() {
    let text = "model m(x: Nx3) = linear(out=2)\n";
    let (code, stdout, _, folder) = export(text, "out", &[]);
    assert_eq!(code, 0);
    assert!(stdout.contains("out/train.py"), "{stdout}");
    let out = folder.path().join("out");
    std::fs::write(out.join("notes.md"), "mine").unwrap();
    std::fs::write(out.join("model.py"), "edited").unwrap();
    let again = |args: &[&str]| {
        cnnscript()
            .current_dir(folder.path())
            .args(["export", "s.cnn", "--torch", "out"])
            .args(args)
            .output()
            .expect("runs")
    };
    let refused = again(&[]);
    assert_eq!(refused.status.code(), Some(2));
    let msg = String::from_utf8_lossy(&refused.stderr);
    assert!(
        msg.contains("not empty") && msg.contains("--force"),
        "{msg}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("model.py")).unwrap(),
        "edited"
    );
    assert!(again(&["--force"]).status.success());
    assert!(std::fs::read_to_string(out.join("model.py"))
        .unwrap()
        .contains("class M(nn.Sequential)"));
    assert_eq!(
        std::fs::read_to_string(out.join("notes.md")).unwrap(),
        "mine"
    );
}

#[test]
fn unwritable_targets_are_clear_errors() {
    let (code, _, stderr, _) = export("seed 1\n", "no/such/out", &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("does not exist"), "{stderr}");
    let (code, _, stderr, _) = export("seed 1\n", "s.cnn", &["--force"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not a folder"), "{stderr}");
    cnnscript().args(["export", "x.cnn"]).assert().code(2);
}

#[test]
fn a_label_pytorch_reserves_is_a_diagnostic() {
    let text = "model m(x: Nx3) {\n  train: linear(out=2)\n}\n";
    let (code, _, stderr, folder) = export(text, "out", &[]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("`train` cannot name a PyTorch module"),
        "{stderr}"
    );
    assert!(stderr.contains("s.cnn:2"), "{stderr}");
    assert!(!folder.path().join("out").exists());
}

#[test]
fn init_holds_cnnscripts_own_draws() {
    // the initial weights and the rand draw equal what `run` prints
    let text =
        "seed 9\nmodel m(x: Nx3) = linear(out=2)\nlet R = rand(2x2)\nprint m.0.weight\nprint R\n";
    let (code, _, stderr, folder) = export(text, "out", &[]);
    assert_eq!(code, 0, "{stderr}");
    let init = cnnscript::io::load_state_dict(&folder.path().join("out/init.safetensors"))
        .expect("init.safetensors reads");
    let get = |k: &str| {
        init.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| cnnscript::io::format::format_value(v))
            .unwrap_or_else(|| panic!("{k} in {init:?}"))
    };
    let run = cnnscript()
        .current_dir(folder.path())
        .args(["run", "s.cnn"])
        .output()
        .expect("runs");
    let printed = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        printed,
        format!("{}\n{}\n", get("m@2/0.weight"), get("rand@3"))
    );
}

// ---------------------------------------------------------------- with torch

/// The Python with torch, or None (after saying loudly that the test is skipped).
fn python(test: &str) -> Option<PathBuf> {
    match std::env::var_os("CNNSCRIPT_TEST_PY") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            let msg =
                format!("SKIPPED: CNNSCRIPT_TEST_PY not set ({test} needs a Python with torch)");
            eprintln!("{msg}");
            println!("{msg}");
            None
        }
    }
}

/// A command with the test machine's settings: one OpenMP thread per
/// process (the machine is shared; torch's spinning thread pool then
/// crawls), no colour.
fn command(program: &Path, cwd: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(program);
    c.current_dir(cwd)
        .env("OMP_NUM_THREADS", "1")
        .env("NO_COLOR", "1");
    c
}

/// Run to success; stdout.
fn succeed(mut c: std::process::Command, what: &str) -> String {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `cnnscript export SCRIPT --torch torch_out [extra]` in `cwd`, to success.
fn export_torch_out(cwd: &Path, script: &str, extra: &[&str]) {
    let mut exp = command(&bin(), cwd);
    exp.args(["export", script, "--torch", "torch_out"])
        .args(extra);
    succeed(exp, &format!("export {script}"));
}

/// The binary under test.
fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cnnscript"))
}

/// Copy `files` (paths relative to the repository) into a fresh folder, in
/// the same layout; `edit` rewrites the script's text.
fn layout(files: &[&str], edit: &dyn Fn(&str) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for f in files {
        let to = dir.path().join(f);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        if f.ends_with(".cnn") {
            let text = std::fs::read_to_string(repo().join(f)).unwrap();
            std::fs::write(&to, edit(&text)).unwrap();
        } else {
            std::fs::copy(repo().join(f), &to).unwrap();
        }
    }
    dir
}

/// A printed line as text with `#` for each number, and the numbers; the
/// epoch's time field is dropped.
fn split_numbers(line: &str) -> (String, Vec<f64>) {
    let line = line.split(", time ").next().unwrap_or(line);
    let (mut text, mut nums, mut cur) = (String::new(), Vec::new(), String::new());
    let chars: Vec<char> = line.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let starts = c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()));
        let continues = !cur.is_empty()
            && (c.is_ascii_digit()
                || c == '.'
                || c == 'e'
                || ((c == '-' || c == '+') && cur.ends_with('e')));
        if starts || continues {
            cur.push(c);
        } else {
            if !cur.is_empty() {
                nums.push(cur.trim_end_matches(['e', '.']).parse().unwrap_or(f64::NAN));
                text.push('#');
                cur.clear();
            }
            text.push(c);
        }
    }
    if !cur.is_empty() {
        nums.push(cur.trim_end_matches(['e', '.']).parse().unwrap_or(f64::NAN));
        text.push('#');
    }
    (text, nums)
}

/// The same lines, numbers equal within `tol` (absolute and relative).
fn assert_same_output(what: &str, a: &str, b: &str, tol: f64) {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    assert_eq!(
        la.len(),
        lb.len(),
        "{what}: line counts differ\n{a}\n---\n{b}"
    );
    for (x, y) in la.iter().zip(&lb) {
        let ((tx, nx), (ty, ny)) = (split_numbers(x), split_numbers(y));
        let close = nx
            .iter()
            .zip(&ny)
            .all(|(u, v)| (u - v).abs() <= tol + tol * u.abs());
        assert!(
            tx == ty && close,
            "{what}:\n  cnnscript: {x}\n  pytorch:   {y}"
        );
    }
}

/// Tensors of a saved file, by name (a lone tensor as "").
fn tensors(path: &Path) -> Vec<(String, Value)> {
    match cnnscript::io::load_value(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())) {
        Value::Bundle(m) => m.into_iter().collect(),
        v => vec![(String::new(), v)],
    }
}

fn assert_same_file(what: &str, a: &Path, b: &Path, rtol: f32, atol: f32) {
    let (ta, tb) = (tensors(a), tensors(b));
    let names = |t: &[(String, Value)]| t.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&ta), names(&tb), "{what}: tensor names");
    for ((name, x), (_, y)) in ta.iter().zip(&tb) {
        assert_eq!(x.type_name(), y.type_name(), "{what} {name}: types");
        assert_eq!(x.shape(), y.shape(), "{what} {name}: shapes");
        let (fx, fy) = (x.to_float().unwrap(), y.to_float().unwrap());
        for (u, v) in fx.iter().zip(fy.iter()) {
            assert!(
                (u - v).abs() <= atol + rtol * u.abs(),
                "{what} {name}: {u} vs {v}"
            );
        }
    }
}

/// Two ONNX files of one model (cnnscript's `export`, and train.py's
/// `torch.onnx.export`): the second passes onnx.checker with opset 17 or
/// newer, both have the same input (name and symbolic sizes) and output
/// name, and onnxruntime gives the same values on one input whose batch
/// differs from the one PyTorch traced with.
fn assert_same_onnx(py: &Path, what: &str, a: &Path, b: &Path) {
    const CHECK: &str = r#"
import sys, numpy as np, onnx, onnxruntime as ort
a, b = onnx.load(sys.argv[1]), onnx.load(sys.argv[2])
onnx.checker.check_model(b, full_check=True)
assert max(o.version for o in b.opset_import if o.domain in ("", "ai.onnx")) >= 17
def dims(v):
    return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
def io(m):
    return m.graph.input[0].name, dims(m.graph.input[0]), m.graph.output[0].name
assert io(a) == io(b), (io(a), io(b))
name, shape = io(a)[0], dims(a.graph.input[0])
outs = []
for size in (8, 16, 32):
    x = np.random.default_rng(0).standard_normal(
        [3 if i == 0 and isinstance(d, str) else size if isinstance(d, str) else d
         for i, d in enumerate(shape)]).astype(np.float32)
    try:
        outs = [ort.InferenceSession(f, providers=["CPUExecutionProvider"]).run(None, {name: x})[0]
                for f in sys.argv[1:3]]
        break
    except Exception as e:
        error = e
else:
    raise error
np.testing.assert_allclose(outs[1], outs[0], rtol=1e-3, atol=1e-4)
"#;
    let mut c = command(py, Path::new("."));
    c.args(["-c", CHECK]).arg(a).arg(b);
    succeed(c, what);
}

/// Files a run wrote into `dir` (pictures aside: PyTorch does not draw them).
fn written(dir: &Path, inputs: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            !inputs
                .iter()
                .any(|i| Path::new(i).file_name() == Some(n.as_ref()))
        })
        .filter(|n| !n.ends_with(".png") && n != "torch_out")
        .collect();
    v.sort();
    v
}

/// `cnnscript run` and the exported train.py, each in its own copy of
/// `files` (the first is the script): the same lines and the same files.
fn compare(py: &Path, files: &[&str], edit: &dyn Fn(&str) -> String) {
    let script = Path::new(files[0]);
    let (folder, name) = (script.parent().unwrap(), script.file_name().unwrap());
    let (a, b) = (layout(files, edit), layout(files, edit));
    let (da, db) = (a.path().join(folder), b.path().join(folder));
    let mut run = command(&bin(), &da);
    run.arg("run").arg(name);
    let expected = succeed(run, &format!("cnnscript run {}", script.display()));
    export_torch_out(&db, &name.to_string_lossy(), &[]);
    let mut train = command(py, &db);
    train.arg("torch_out/train.py");
    let got = succeed(train, &format!("train.py of {}", script.display()));
    let what = script.display().to_string();
    assert_same_output(&what, &expected, &got, 2e-3);
    let (wa, wb) = (written(&da, files), written(&db, files));
    assert_eq!(wa, wb, "{what}: files written");
    for f in wa {
        if f.ends_with(".onnx") {
            assert_same_onnx(py, &format!("{what} {f}"), &da.join(&f), &db.join(&f));
            continue;
        }
        assert_same_file(
            &format!("{what} {f}"),
            &da.join(&f),
            &db.join(&f),
            1e-3,
            1e-4,
        );
    }
}

#[test]
fn exported_examples_print_and_save_what_cnnscript_does() {
    let Some(py) = python("comparing exported examples with cnnscript run") else {
        return;
    };
    for entry in std::fs::read_dir(repo().join("examples")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !name.ends_with(".cnn") {
            continue;
        }
        let script = format!("examples/{name}");
        // 45 Adam steps stay within the tolerance; 540 drift apart as
        // rounding differences compound (the accuracy test below runs them all)
        let one_epoch = |t: &str| t.replace("epochs=12", "epochs=1");
        compare(&py, &[&script, "data/digits/digits.npz"], &one_epoch);
    }
}

#[test]
fn exported_torch_scripts_print_and_save_what_cnnscript_does() {
    let Some(py) = python("comparing exported scripts with cnnscript run") else {
        return;
    };
    // every script with every data file of the folder
    let folder: Vec<String> = std::fs::read_dir(repo().join("tests/scripts/torch"))
        .unwrap()
        .map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            format!("tests/scripts/torch/{name}")
        })
        .collect();
    let (scripts, data): (Vec<&String>, Vec<&String>) =
        folder.iter().partition(|f| f.ends_with(".cnn"));
    for script in scripts {
        let mut files = vec![script.as_str()];
        files.extend(data.iter().map(|f| f.as_str()));
        compare(&py, &files, &|t| t.to_string());
    }
}

/// torchrun from the Python's own folder.
fn torchrun(py: &Path, cwd: &Path, procs: usize) -> std::process::Command {
    let mut c = command(py, cwd);
    c.args(["-m", "torch.distributed.run", "--standalone"])
        .arg(format!("--nproc_per_node={procs}"))
        .arg("torch_out/train.py");
    c
}

#[test]
fn torchrun_with_two_processes_trains_as_one_process_does() {
    let Some(py) = python("torchrun") else {
        return;
    };
    let files = [
        "tests/scripts/torch/ddp.cnn",
        "tests/scripts/torch/labels.npy",
    ];
    let dir = layout(&files, &|t| t.to_string());
    let here = dir.path().join("tests/scripts/torch");
    export_torch_out(&here, "ddp.cnn", &[]);
    let mut one = command(&py, &here);
    one.arg("torch_out/train.py");
    let single = succeed(one, "one process");
    std::fs::rename(here.join("net.safetensors"), here.join("one.safetensors")).unwrap();
    let two = succeed(torchrun(&py, &here, 2), "torchrun --nproc_per_node=2");
    assert_same_output("ddp.cnn under torchrun", &single, &two, 1e-6);
    let (a, b) = (here.join("one.safetensors"), here.join("net.safetensors"));
    assert_same_file("ddp.cnn weights", &a, &b, 1e-5, 1e-6);
    // a batch the processes cannot share is an error naming both numbers
    std::fs::write(here.join("odd.cnn"), "let X = randn(3x4)\nmodel m(x: Nx4) = linear(out=1)\ndata X -> randn(3x1)\ntrain sgd lr=0.1 steps=1\n").unwrap();
    export_torch_out(&here, "odd.cnn", &["--force"]);
    let out = torchrun(&py, &here, 2).output().expect("torchrun runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2 processes cannot share batches of 3 rows"),
        "{err}"
    );
}

/// The path docs/scale-out.md walks: digits under torchrun, back to cnnscript.
#[test]
fn digits_under_torchrun_reach_97_percent_and_load_back_into_cnnscript() {
    let Some(py) = python("digits under torchrun") else {
        return;
    };
    let files = [
        "examples/digits.cnn",
        "data/digits/digits.npz",
        "docs/digits_load.cnn",
    ];
    let dir = layout(&files, &|t| t.to_string());
    let here = dir.path().join("examples");
    export_torch_out(&here, "digits.cnn", &[]);
    let out = succeed(torchrun(&py, &here, 2), "torchrun digits");
    assert_eq!(out.matches("Epoch ").count(), 12, "{out}");
    let eval = |text: &str| -> (f64, f64) {
        let line = text.lines().rfind(|l| l.starts_with("loss ")).unwrap_or("");
        let (_, nums) = split_numbers(line);
        match nums.as_slice() {
            [loss, acc] => (*loss, *acc),
            _ => panic!("no eval line in:\n{text}"),
        }
    };
    let (loss, acc) = eval(&out);
    assert!(acc >= 0.97, "test accuracy {acc}:\n{out}");
    let docs = dir.path().join("docs");
    let mut back = command(&bin(), &docs);
    back.args(["run", "digits_load.cnn"]);
    let cnn = succeed(back, "cnnscript run digits_load.cnn");
    let (loss_back, acc_back) = eval(&cnn);
    assert_eq!(acc_back, acc, "the same accuracy in cnnscript:\n{cnn}");
    assert!((loss_back - loss).abs() <= 1e-3, "{loss_back} vs {loss}");
    assert!(docs.join("digits-torch-kernels.png").is_file());
}

#[test]
fn conformance_cases_pass_through_pytorch() {
    let Some(py) = python("the conformance cases through PyTorch") else {
        return;
    };
    let bin = env!("CARGO_BIN_EXE_cnnscript");
    let mut c = command(&py, &repo());
    c.args(["tests/conformance/export_check.py", "--bin", bin, "--py"])
        .arg(&py)
        .args(["--kind", "torch", "tests/conformance"]);
    let out = succeed(c, "export_check.py --kind torch");
    assert!(out.contains(" 0 failed"), "{out}");
}

//! Notebooks executed by Jupyter's own client: the kernelspec is installed
//! into a temporary prefix and `nbclient` (over pyzmq and libzmq) runs
//! every cell on `cnnscript kernel`; the outputs are compared with the
//! ones stored in the notebook (text with numbers within a tolerance,
//! tables, errors, the presence and size of every picture).
//!
//! Needs a Python with nbclient, jupyter_client and nbformat:
//! CNNSCRIPT_TEST_JUPYTER_PY=/path/to/python (.ci/run makes one).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_cnnscript");
const PY_ENV: &str = "CNNSCRIPT_TEST_JUPYTER_PY";

fn python() -> Option<PathBuf> {
    match std::env::var_os(PY_ENV) {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            // straight to the terminal: the test harness captures eprintln!
            let _ = std::io::stderr().write_all(
                format!(
                    "\nSKIPPED: notebook test; set {PY_ENV} to a Python with nbclient, \
                     jupyter_client and nbformat to run it\n"
                )
                .as_bytes(),
            );
            None
        }
    }
}

/// A notebook after nbclient ran it, and the folder its cells ran in.
struct Executed {
    notebook: Value,
    work: tempfile::TempDir,
}

fn execute(python: &Path, notebook: &str, allow_errors: bool) -> Executed {
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let prefix = tmp.path().join("prefix");
    let install = Command::new(BIN)
        .args(["kernel", "install", "--prefix"])
        .arg(&prefix)
        .output()
        .expect("cnnscript runs");
    assert!(install.status.success(), "{install:?}");
    let work = tempfile::tempdir().expect("a work folder");
    let out = tmp.path().join("out.ipynb");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new(python);
    cmd.arg(root.join("tests/notebook/execute.py"))
        .arg(root.join(notebook))
        .arg(&out)
        .arg("--cwd")
        .arg(work.path())
        .env("JUPYTER_PATH", prefix.join("share/jupyter"))
        .env("JUPYTER_RUNTIME_DIR", tmp.path().join("runtime"))
        .env("JUPYTER_CONFIG_DIR", tmp.path().join("config"))
        .env("JUPYTER_PLATFORM_DIRS", "1");
    if allow_errors {
        cmd.arg("--allow-errors");
    }
    let run = cmd.output().expect("Python runs");
    assert!(
        run.status.success(),
        "nbclient failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = std::fs::read_to_string(&out).expect("the executed notebook");
    Executed {
        notebook: serde_json::from_str(&text).expect("JSON"),
        work,
    }
}

fn stored(notebook: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(notebook);
    serde_json::from_str(&std::fs::read_to_string(path).expect("the notebook")).expect("JSON")
}

fn code_cells(nb: &Value) -> Vec<&Value> {
    nb["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .filter(|c| c["cell_type"] == "code")
        .collect()
}

/// Multi-line strings are stored as lists of lines.
fn joined(v: &Value) -> String {
    match v {
        Value::Array(parts) => parts.iter().filter_map(Value::as_str).collect(),
        Value::String(s) => s.clone(),
        _ => String::new(),
    }
}

/// Text split into words and numbers; times (`time 0.02s`) dropped.
fn tokens(text: &str) -> Vec<(String, Option<f64>)> {
    let mut out = Vec::new();
    let mut skip_time = false;
    for word in text.split_whitespace() {
        if skip_time {
            skip_time = false;
            continue;
        }
        if word == "time" {
            skip_time = true;
            continue;
        }
        let mut rest = word;
        while !rest.is_empty() {
            let digits = rest
                .char_indices()
                .take_while(|(i, c)| c.is_ascii_digit() || *c == '.' || (*i == 0 && *c == '-'))
                .last()
                .map_or(0, |(i, c)| i + c.len_utf8());
            match rest[..digits].parse::<f64>() {
                Ok(n) if digits > 0 => {
                    out.push((rest[..digits].to_string(), Some(n)));
                    rest = &rest[digits..];
                }
                _ => {
                    // up to the next number
                    let first = rest.chars().next().map_or(1, char::len_utf8);
                    let end = rest[first..]
                        .find(|c: char| c.is_ascii_digit() || c == '-')
                        .map_or(rest.len(), |i| first + i);
                    out.push((rest[..end].to_string(), None));
                    rest = &rest[end..];
                }
            }
        }
    }
    out
}

/// Equal words; integers equal; decimals within 0.002 + 1%.
fn same_text(fresh: &str, stored: &str, what: &str) {
    let (a, b) = (tokens(fresh), tokens(stored));
    let close = a.len() == b.len()
        && a.iter().zip(&b).all(|(x, y)| match (x.1, y.1) {
            (Some(p), Some(q)) if x.0.contains('.') || y.0.contains('.') => {
                (p - q).abs() <= 0.002 + 0.01 * q.abs()
            }
            _ => x.0 == y.0,
        });
    assert!(
        close,
        "{what} differs:\n--- now\n{fresh}\n--- stored\n{stored}"
    );
}

fn png_size(data: &Value) -> (u32, u32) {
    let png = base64::engine::general_purpose::STANDARD
        .decode(joined(&data["image/png"]).trim())
        .expect("base64");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let be = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    (be(16), be(20))
}

fn compare_outputs(fresh: &Value, stored: &Value, cell: &str) {
    let (a, b) = (
        fresh.as_array().expect("outputs"),
        stored.as_array().expect("outputs"),
    );
    assert_eq!(a.len(), b.len(), "number of outputs of cell\n{cell}");
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x["output_type"], y["output_type"], "cell\n{cell}");
        let what = format!("an output of cell\n{cell}\n");
        match x["output_type"].as_str() {
            Some("stream") => {
                assert_eq!(x["name"], y["name"], "{what}");
                same_text(&joined(&x["text"]), &joined(&y["text"]), &what);
            }
            Some("error") => {
                assert_eq!(x["ename"], y["ename"], "{what}");
                same_text(
                    x["evalue"].as_str().unwrap_or(""),
                    y["evalue"].as_str().unwrap_or(""),
                    &what,
                );
            }
            _ => {
                let (d, e) = (&x["data"], &y["data"]);
                let keys = |v: &Value| -> Vec<String> {
                    v.as_object()
                        .map(|o| o.keys().cloned().collect())
                        .unwrap_or_default()
                };
                assert_eq!(keys(d), keys(e), "{what}");
                if e["image/png"].is_null() {
                    same_text(&joined(&d["text/plain"]), &joined(&e["text/plain"]), &what);
                } else {
                    assert_eq!(png_size(d), png_size(e), "{what}");
                }
            }
        }
    }
}

/// Every code cell ran, in order, with the stored outputs.
fn compare(fresh: &Value, stored: &Value) {
    let (a, b) = (code_cells(fresh), code_cells(stored));
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let source = joined(&x["source"]);
        assert_eq!(source, joined(&y["source"]));
        assert_eq!(x["execution_count"], i + 1, "cell {source}");
        compare_outputs(&x["outputs"], &y["outputs"], &source);
    }
}

fn outputs_of<'a>(nb: &'a Value, source_start: &str) -> &'a Vec<Value> {
    code_cells(nb)
        .into_iter()
        .find(|c| joined(&c["source"]).starts_with(source_start))
        .and_then(|c| c["outputs"].as_array())
        .expect("the cell")
}

#[test]
fn the_chapter_notebook_runs_as_stored() {
    let Some(py) = python() else { return };
    let run = execute(&py, "examples/chapter.ipynb", false);
    compare(&run.notebook, &stored("examples/chapter.ipynb"));
    // the tables are HTML tables, the training one display
    let summary = &outputs_of(&run.notebook, "seed 0\nmodel edge")[0];
    assert!(joined(&summary["data"]["text/html"]).contains("<table"));
    // the header line naming the model, then one display updated in place
    let training = outputs_of(&run.notebook, "data X -> Y");
    assert_eq!(training.len(), 2);
    assert!(joined(&training[0]["text"]).starts_with("Training edge:"));
    assert!(joined(&training[1]["data"]["text/plain"]).contains("Step 30, loss"));
    for file in [
        "edge-loss.png",
        "edge-kernel.png",
        "edge-map.png",
        "pooled.png",
    ] {
        assert!(run.work.path().join(file).is_file(), "{file} written");
    }
}

#[test]
fn a_learners_session_with_a_typo_runs_as_stored() {
    let Some(py) = python() else { return };
    let run = execute(&py, "tests/notebook/session.ipynb", true);
    compare(&run.notebook, &stored("tests/notebook/session.ipynb"));
    let typo = &outputs_of(&run.notebook, "model lenet")[0];
    assert_eq!(typo["output_type"], "error");
    assert_eq!(typo["ename"], "unknown_layer");
    let traceback = joined(&typo["traceback"]);
    assert!(traceback.contains("did you mean `sigmoid`?"), "{traceback}");
    // K, from three cells back, after the failed cell
    let k = &outputs_of(&run.notebook, "print K")[0];
    assert_eq!(joined(&k["text"]), "tensor([[ 1., -1.]])\n");
    assert!(run.work.path().join("loss.png").is_file());
}

#[test]
fn numbers_compare_within_tolerance() {
    let t = tokens("Epoch 1, loss 0.412, time 0.02s\n1x1x6x8");
    let words: Vec<&str> = t.iter().map(|(w, _)| w.as_str()).collect();
    assert_eq!(
        words,
        ["Epoch", "1", ",", "loss", "0.412", ",", "1", "x", "1", "x", "6", "x", "8"]
    );
    same_text("loss 0.413, time 9.99s", "loss 0.412, time 0.01s", "close");
    let far = std::panic::catch_unwind(|| same_text("loss 0.5", "loss 0.412", "far"));
    assert!(far.is_err());
    let shape = std::panic::catch_unwind(|| same_text("1x2x6x7", "1x2x6x8", "shape"));
    assert!(shape.is_err());
}

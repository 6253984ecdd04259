//! Training checkpoints through the binary: `checkpoint=` then `resume=`
//! ends with the same weights, bit for bit, as one uninterrupted `train`
//! (and prints the same log lines after the resume); every bad checkpoint
//! is a diagnostic at the `resume=` value (tests/unwritable.rs: a
//! checkpoint that cannot be written).

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use common::{bytes, ok, run_file, run_in, sgd, split_header, untimed, BIN};

mod common;

/// A checkpoint's header metadata.
fn metadata(path: &Path) -> HashMap<String, String> {
    let data = bytes(path);
    let (_, meta) = safetensors::SafeTensors::read_metadata(&data).expect("safetensors");
    meta.metadata().clone().expect("metadata")
}

fn tensor_names(path: &Path) -> Vec<String> {
    let data = bytes(path);
    let st = safetensors::SafeTensors::deserialize(&data).expect("safetensors");
    let mut names: Vec<String> = st.names().into_iter().cloned().collect();
    names.sort();
    names
}

#[test]
fn sgd_with_momentum_resumes_bit_for_bit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let first = ok(
        d,
        &sgd(5, "checkpoint=\"ck.safetensors\"", "five.safetensors"),
    );
    let resumed = ok(
        d,
        &sgd(10, "resume=\"ck.safetensors\"", "resumed.safetensors"),
    );
    let whole = ok(d, &sgd(10, "", "whole.safetensors"));
    assert_eq!(
        bytes(&d.join("resumed.safetensors")),
        bytes(&d.join("whole.safetensors"))
    );
    assert_ne!(
        bytes(&d.join("five.safetensors")),
        bytes(&d.join("whole.safetensors"))
    );
    // the log goes on where it stopped, with the same losses
    let (_, first) = split_header(&first);
    let (resumed_header, resumed) = split_header(&resumed);
    let (whole_header, whole) = split_header(&whole);
    assert_eq!(format!("{first}{resumed}"), whole);
    assert!(resumed.starts_with("Step 6, loss "), "{resumed}");
    assert_eq!(
        resumed_header,
        format!("{whole_header}, resumed from ck.safetensors after step 5")
    );

    let ck = d.join("ck.safetensors");
    let meta = metadata(&ck);
    assert_eq!(meta["cnnscript.checkpoint"], "1");
    assert_eq!(meta["cnnscript.optimizer"], "sgd");
    assert_eq!(meta["cnnscript.schedule"], "steps");
    assert_eq!(meta["cnnscript.done"], "5");
    assert_eq!(meta["format"], "pt");
    let names = tensor_names(&ck);
    for name in [
        "0.weight",
        "2.bias",
        "optimizer/0.weight/momentum_buffer",
        "optimizer/2.bias/momentum_buffer",
    ] {
        assert!(names.contains(&name.to_string()), "{name} in {names:?}");
    }
}

/// Adam on shuffled mini-batches of digits, with batchnorm (running
/// statistics) and dropout (the random generator), accuracies per epoch.
fn adam(epochs: usize, options: &str, out: &str) -> String {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digits/digits.npz");
    format!(
        "seed 2\n\
         let D = load(\"{}\")\n\
         let (train, test) = split(D, 0.8)\n\
         data train = train.x[0:120] / 16 -> train.y[0:120]\n\
         data test = test.x[0:60] / 16 -> test.y[0:60]\n\
         model m(x: Nx1x8x8) {{\n\
           conv(out=4, k=3, p=1)  batchnorm  relu\n\
           maxpool(k=2)\n\
           flatten\n\
           dropout(p=0.2)\n\
           linear(out=10)\n\
         }}\n\
         train m adam lr=0.01 epochs={epochs} batch=16 log=5 {options}\n\
         save m \"{out}\"\n\
         print rand(3)\n",
        data.display()
    )
}

#[test]
fn adam_with_mini_batches_resumes_bit_for_bit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let first = ok(
        d,
        &adam(2, "checkpoint=\"ck.safetensors\"", "two.safetensors"),
    );
    let resumed = ok(
        d,
        &adam(4, "resume=\"ck.safetensors\"", "resumed.safetensors"),
    );
    let whole = ok(d, &adam(4, "", "whole.safetensors"));
    assert_eq!(
        bytes(&d.join("resumed.safetensors")),
        bytes(&d.join("whole.safetensors"))
    );
    assert!(resumed.contains("Epoch 3, loss "), "{resumed}");
    assert!(resumed.contains("test acc "), "{resumed}");
    assert!(!resumed.contains("Epoch 2,"), "{resumed}");
    // the log lines after the resume, and the generator after training
    // (`print rand(3)`), are the uninterrupted run's
    let (resumed_header, resumed) = split_header(&resumed);
    assert!(
        resumed_header.ends_with(", resumed from ck.safetensors after step 16"),
        "{resumed_header}"
    );
    let first_lines = untimed(split_header(&first).1);
    let first_epochs: Vec<&str> = first_lines
        .lines()
        .filter(|l| l.starts_with("Epoch"))
        .collect();
    let whole_lines = untimed(split_header(&whole).1);
    assert!(whole_lines.starts_with(first_lines.lines().next().unwrap_or("?")));
    assert_eq!(first_epochs.len(), 2);
    assert!(
        whole_lines.ends_with(&untimed(resumed)),
        "{whole}\n---\n{resumed}"
    );
    assert!(whole_lines.contains(first_epochs[1]));

    let ck = d.join("ck.safetensors");
    let meta = metadata(&ck);
    assert_eq!(meta["cnnscript.optimizer"], "adam");
    assert_eq!(meta["cnnscript.schedule"], "epochs");
    assert_eq!(meta["cnnscript.done"], "2");
    assert_eq!(meta["cnnscript.optimizer.steps"], "16");
    let names = tensor_names(&ck);
    for name in [
        "1.running_mean",
        "1.num_batches_tracked",
        "optimizer/0.weight/exp_avg",
        "optimizer/0.weight/exp_avg_sq",
        "schedule/order",
    ] {
        assert!(names.contains(&name.to_string()), "{name} in {names:?}");
    }
    assert!(!names.iter().any(|n| n.starts_with("optimizer/1.running")));
}

/// Where a diagnostic points: `s.cnn:LINE:COL`.
fn points_at(err: &str, line: usize, text: &str, needle: &str) -> bool {
    let col = text.lines().nth(line - 1).and_then(|l| l.find(needle));
    col.is_some_and(|c| err.contains(&format!("s.cnn:{line}:{}", c + 1)))
}

#[test]
fn bad_checkpoints_are_diagnostics_at_the_resume_option() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    ok(
        d,
        &sgd(5, "checkpoint=\"ck.safetensors\"", "five.safetensors"),
    );
    let ck = bytes(&d.join("ck.safetensors"));

    // a copy of the checkpoint without one tensor, or with one metadata entry changed
    let edited = |drop: &str, meta: Option<(&str, &str)>, name: &str| {
        let st = safetensors::SafeTensors::deserialize(&ck).expect("reads");
        let (_, header) = safetensors::SafeTensors::read_metadata(&ck).expect("reads");
        let mut m = header.metadata().clone().expect("metadata");
        if let Some((k, v)) = meta {
            m.insert(k.to_string(), v.to_string());
        }
        let kept: Vec<(String, safetensors::tensor::TensorView)> = st
            .tensors()
            .into_iter()
            .filter(|(n, _)| n != drop)
            .collect();
        let out = safetensors::serialize(kept, &Some(m)).expect("writes");
        std::fs::write(d.join(name), out).expect("write");
    };
    edited("0.bias", None, "no-bias.safetensors");
    edited(
        "optimizer/2.weight/momentum_buffer",
        None,
        "no-buffer.safetensors",
    );
    edited(
        "",
        Some(("cnnscript.rng.seed", "zz")),
        "bad-seed.safetensors",
    );
    std::fs::write(d.join("half.safetensors"), &ck[..ck.len() / 2]).expect("write");

    let resume = |train: &str, model: &str| {
        let text = format!(
            "seed 1\n\
             model m(x: Nx4) = {model}\n\
             let X = randn(32x4)\n\
             let Y = randn(32x2)\n\
             data X -> Y\n\
             {train}\n"
        );
        let (code, _, err) = run_in(d, &text);
        assert_eq!(code, 1, "{train}: {err}");
        assert!(points_at(&err, 6, &text, "\""), "at the file name: {err}");
        err
    };
    let layers = "linear(out=8) -> relu -> linear(out=2)";
    let cases = [
        (
            "train sgd lr=0.05 momentum=0.9 steps=10 resume=\"ck.safetensors\"",
            "linear(out=6) -> relu -> linear(out=2)",
            "tensor `0.weight` has shape 8x4 in the file, but the model needs 6x4",
        ),
        (
            "train sgd lr=0.05 momentum=0.9 steps=10 resume=\"no-bias.safetensors\"",
            layers,
            "tensor `0.bias` is missing",
        ),
        (
            "train sgd lr=0.05 momentum=0.9 steps=10 resume=\"no-buffer.safetensors\"",
            layers,
            "tensor `optimizer/2.weight/momentum_buffer` is missing",
        ),
        (
            "train sgd lr=0.05 steps=10 resume=\"ck.safetensors\"",
            layers,
            "unexpected tensor `optimizer/",
        ),
        (
            "train adam lr=0.05 steps=10 resume=\"ck.safetensors\"",
            layers,
            "written by `sgd` training, but this statement trains with `adam`",
        ),
        (
            "train sgd lr=0.05 momentum=0.9 epochs=3 resume=\"ck.safetensors\"",
            layers,
            "the checkpoint counts steps",
        ),
        (
            "train sgd lr=0.05 momentum=0.9 steps=4 resume=\"ck.safetensors\"",
            layers,
            "the checkpoint is at step 5, beyond this statement's steps=4",
        ),
        (
            "train sgd lr=0.05 momentum=0.9 steps=10 resume=\"half.safetensors\"",
            layers,
            "half.safetensors",
        ),
        (
            "train sgd lr=0.05 momentum=0.9 steps=10 resume=\"bad-seed.safetensors\"",
            layers,
            "not a valid checkpoint: \"cnnscript.rng.seed\" is not 64 hex digits",
        ),
        (
            "train sgd lr=0.05 momentum=0.9 steps=10 resume=\"five.safetensors\"",
            layers,
            "not a training checkpoint",
        ),
        (
            "train sgd lr=0.05 momentum=0.9 steps=10 resume=\"none.safetensors\"",
            layers,
            "no such file",
        ),
    ];
    for (train, model, message) in cases {
        let err = resume(train, model);
        assert!(err.contains(message), "{train}: {err}");
    }
}

#[test]
fn the_checker_validates_the_checkpoint_options() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = "model m(x: Nx4) = linear(out=1)\n\
                train sgd lr=0.1 steps=3 every=0 checkpoint=\"a.safetensors\"\n\
                train sgd lr=0.1 steps=3 every=2\n\
                train sgd lr=0.1 steps=3 checkpoint=\"a.npz\"\n\
                train sgd lr=0.1 steps=3 resume=ck\n\
                train sgd lr=0.1 steps=3 chekpoint=\"a.safetensors\"\n";
    std::fs::write(dir.path().join("s.cnn"), text).expect("write");
    let (code, out, err) = run_file(dir.path(), Command::new(BIN).args(["check", "s.cnn"]));
    assert_eq!(code, 1, "{out}{err}");
    for (line, needle, message) in [
        (2, "0 ", "`every` must be a positive integer, found 0"),
        (3, "every", "there is no `checkpoint=`"),
        (4, "\"a.npz\"", "does not end in .safetensors"),
        (5, "ck", "`resume` takes a file name in quotes"),
        (6, "chekpoint", "did you mean `checkpoint`?"),
    ] {
        assert!(err.contains(message), "{message}: {err}");
        assert!(points_at(&err, line, text, needle), "line {line}: {err}");
    }
}

#[test]
fn every_k_steps_and_the_end_are_saved() {
    use cnnscript::diag::Style;
    use cnnscript::repl::{Outcome, Session};

    /// Copies the checkpoint aside when a log line appears, as it is then.
    struct Snapshots<'a> {
        ck: &'a Path,
        seen: String,
        taken: Vec<(String, Option<HashMap<String, String>>)>,
    }
    impl std::io::Write for Snapshots<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.seen.push_str(&String::from_utf8_lossy(buf));
            while let Some(end) = self.seen.find('\n') {
                let line: String = self.seen.drain(..=end).collect();
                let meta = self.ck.exists().then(|| metadata(self.ck));
                self.taken.push((line.trim_end().to_string(), meta));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    let dir = tempfile::tempdir().expect("temp dir");
    let ck = dir.path().join("ck.safetensors");
    let mut out = Snapshots {
        ck: &ck,
        seen: String::new(),
        taken: Vec::new(),
    };
    let mut session = Session::new(Style::Plain);
    let mut err = Vec::new();
    let script = format!(
        "seed 1\nmodel m(x: Nx4) = linear(out=2)\nlet X = randn(8x4)\nlet Y = randn(8x2)\ndata X -> Y\n\
         train sgd lr=0.1 steps=7 log=1 checkpoint=\"{}\" every=3\n",
        ck.display()
    );
    for line in script.lines() {
        assert_eq!(session.entry(line, &mut out, &mut err), Outcome::Done);
    }
    let done_at = |line: &str| -> Option<String> {
        let (_, meta) = out.taken.iter().find(|(l, _)| l.starts_with(line))?;
        meta.as_ref().map(|m| m["cnnscript.done"].clone())
    };
    // a step's log line is printed before that step's checkpoint is written
    assert_eq!(done_at("Step 3,"), None);
    assert_eq!(done_at("Step 4,").as_deref(), Some("3"));
    assert_eq!(done_at("Step 6,").as_deref(), Some("3"));
    assert_eq!(done_at("Step 7,").as_deref(), Some("6"));
    // and at the end
    assert_eq!(metadata(&ck)["cnnscript.done"], "7");
}

/// The Python function docs/checkpoints.md shows, as written there.
fn documented_loader() -> &'static str {
    let doc = include_str!("../docs/checkpoints.md");
    let start = doc.find("```python\n").expect("a Python block") + "```python\n".len();
    let len = doc[start..].find("```").expect("its end");
    &doc[start..start + len]
}

/// Loads each checkpoint with the documented function, trains 5 more
/// full-batch steps in PyTorch and compares with cnnscript's 10 steps.
const PY_CONTINUE: &str = r#"
import sys
import numpy as np
from safetensors.torch import load_file

d = sys.argv[1]
X = torch.from_numpy(np.load(f"{d}/x.npy"))
Y = torch.from_numpy(np.load(f"{d}/y.npy"))
for opt in ("sgd", "adam"):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    if opt == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    meta = load_checkpoint(f"{d}/{opt}-ck.safetensors", model, optimizer)
    assert meta["cnnscript.done"] == "5", meta
    for _ in range(5):
        optimizer.zero_grad()
        loss = ((model(X) - Y) ** 2).mean()
        loss.backward()
        optimizer.step()
    want = load_file(f"{d}/{opt}-whole.safetensors")
    for name, value in model.state_dict().items():
        assert torch.allclose(value, want[name], rtol=1e-4, atol=1e-5), (opt, name, value, want[name])
    print(f"{opt} continued in torch")
"#;

#[test]
fn pytorch_continues_from_a_checkpoint_with_the_documented_loader() {
    let Some(py) = std::env::var_os("CNNSCRIPT_TEST_PY") else {
        eprintln!(
            "SKIPPED: CNNSCRIPT_TEST_PY not set (a Python with torch, numpy and safetensors): the documented PyTorch loader not run"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    for (name, optimizer) in [
        ("sgd", "sgd lr=0.05 momentum=0.9"),
        ("adam", "adam lr=0.05"),
    ] {
        let script = |steps: usize, options: &str, out: &str| {
            format!(
                "seed 1\n\
                 model m(x: Nx4) = linear(out=8) -> relu -> linear(out=2)\n\
                 let X = randn(32x4)\n\
                 let Y = randn(32x2)\n\
                 save X \"x.npy\"\n\
                 save Y \"y.npy\"\n\
                 data X -> Y\n\
                 train {optimizer} loss=mse steps={steps} {options}\n\
                 save m \"{out}\"\n"
            )
        };
        let ck = format!("checkpoint=\"{name}-ck.safetensors\"");
        ok(d, &script(5, &ck, "five.safetensors"));
        ok(d, &script(10, "", &format!("{name}-whole.safetensors")));
    }
    let program = format!("{}\n{PY_CONTINUE}", documented_loader());
    let out = Command::new(py)
        .args(["-c", &program])
        .arg(d)
        .output()
        .expect("CNNSCRIPT_TEST_PY runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("sgd continued in torch"), "{text}");
    assert!(text.contains("adam continued in torch"), "{text}");
}

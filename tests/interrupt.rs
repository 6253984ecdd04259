//! Ctrl-C: training stops at a step boundary and the session keeps its
//! models; a checkpoint written on the way out resumes to the same weights
//! as an uninterrupted run; a second Ctrl-C ends at once.
//!
//! In-process tests call `interrupt::request()` (what the SIGINT handler and
//! a Jupyter kernel's `interrupt_request` call) from the output writer when
//! a given log line appears, so the stop lands after a known step. The stop
//! flag is process-wide, so those tests take turns (`TURN`). Terminal tests
//! press Ctrl-C in a real pseudo-terminal through tmux.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::mpsc::Receiver;
use std::sync::Mutex;
use std::time::Duration;

use cnnscript::diag::Style;
use cnnscript::interrupt::{self, Region};
use cnnscript::repl::{Outcome, Session};
use common::{bytes, flat, ok, split_header, untimed, Tmux, BIN};

/// One in-process test at a time: the stop flag is shared.
static TURN: Mutex<()> = Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Collects the output; once `at` has been written, asks for a stop (as
/// Ctrl-C does) on every later write.
struct StopAt {
    at: Option<&'static str>,
    text: String,
}

impl StopAt {
    fn new(at: Option<&'static str>) -> StopAt {
        StopAt {
            at,
            text: String::new(),
        }
    }
}

impl Write for StopAt {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.text.push_str(&String::from_utf8_lossy(buf));
        if self.at.is_some_and(|at| self.text.contains(at)) {
            interrupt::request();
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Run the entries of `script` (one per line) in a fresh session; the
/// output, the diagnostics, and the outcome of the last entry.
fn session(script: &str, stop_at: Option<&'static str>) -> (String, String, Outcome) {
    let mut s = Session::new(Style::Plain);
    let mut out = StopAt::new(stop_at);
    let mut err = Vec::new();
    let mut last = Outcome::Done;
    for line in script.lines() {
        last = s.entry(line, &mut out, &mut err);
    }
    (out.text, String::from_utf8_lossy(&err).into_owned(), last)
}

/// A model and its data; `{train}` and `{save}` complete it.
fn script(dir: &Path, layers: &str, train: &str, save: &str) -> String {
    format!(
        "seed 5\n\
         model m(x: Nx4) = {layers}\n\
         let X = randn(23x4)\n\
         let Y = randn(23x2)\n\
         data X -> Y\n\
         {train}\n\
         save m \"{}\"\n",
        dir.join(save).display()
    )
}

#[test]
fn a_stop_ends_full_batch_training_after_that_step_and_the_session_goes_on() {
    let _turn = turn();
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let layers = "linear(out=8) -> relu -> linear(out=2)";
    let ck = d.join("ck.safetensors");
    let train = |steps: usize, more: &str| {
        format!("train sgd lr=0.05 momentum=0.9 steps={steps} log=1 {more}")
    };

    let stopped = script(
        d,
        layers,
        &train(10, &format!("checkpoint=\"{}\"", ck.display())),
        "after.safetensors",
    );
    let (out, err, last) = session(&stopped, Some("Step 3,"));
    let err = flat(&err);
    assert!(
        err.contains("stopped after step 3 of 10; the model keeps the weights of step 3"),
        "{err}"
    );
    assert!(err.contains("checkpoint written to"), "{err}");
    assert!(!out.contains("Step 4,"), "{out}");
    // the entry after the interrupted one ran: the session went on
    assert_eq!(last, Outcome::Done, "{err}");

    let (_, _, last) = session(&script(d, layers, &train(3, ""), "three.safetensors"), None);
    assert_eq!(last, Outcome::Done);
    assert_eq!(
        bytes(&d.join("after.safetensors")),
        bytes(&d.join("three.safetensors")),
        "the model keeps the weights of step 3"
    );

    let resume = format!("resume=\"{}\"", ck.display());
    let (resumed, _, _) = session(
        &script(d, layers, &train(10, &resume), "resumed.safetensors"),
        None,
    );
    let (whole, _, _) = session(
        &script(d, layers, &train(10, ""), "whole.safetensors"),
        None,
    );
    assert_eq!(
        bytes(&d.join("resumed.safetensors")),
        bytes(&d.join("whole.safetensors"))
    );
    let (_, out) = split_header(&out);
    let (resumed_header, resumed) = split_header(&resumed);
    let (whole_header, whole) = split_header(&whole);
    assert_eq!(format!("{out}{resumed}"), whole);
    assert!(
        resumed_header.starts_with(whole_header) && resumed_header.ends_with("after step 3"),
        "{resumed_header}"
    );
}

#[test]
fn a_stop_in_the_middle_of_an_epoch_resumes_to_the_same_weights() {
    let _turn = turn();
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    // 23 items in batches of 5: 5 batches per epoch, dropout draws from the generator
    let layers = "linear(out=8) -> relu -> dropout(p=0.3) -> linear(out=2)";
    let ck = d.join("ck.safetensors");
    let train = |more: &str| format!("train adam lr=0.01 epochs=3 batch=5 log=1 {more}");

    let checkpoint = format!("checkpoint=\"{}\" every=1", ck.display());
    let (out, err, _) = session(
        &script(d, layers, &train(&checkpoint), "after.safetensors"),
        Some("Step 7,"),
    );
    let err = flat(&err);
    assert!(
        err.contains(
            "stopped after step 7 of 15 (epoch 2 of 3, batch 2 of 5); the model keeps the weights of step 7"
        ),
        "{err}"
    );
    let resume = format!("resume=\"{}\"", ck.display());
    let (resumed, _, _) = session(
        &script(d, layers, &train(&resume), "resumed.safetensors"),
        None,
    );
    let (whole, _, _) = session(&script(d, layers, &train(""), "whole.safetensors"), None);
    assert_eq!(
        bytes(&d.join("resumed.safetensors")),
        bytes(&d.join("whole.safetensors"))
    );
    // Steps 1-7 and epoch 1 before the stop; steps 8-15 and epochs 2-3 after
    let (_, out) = split_header(&out);
    let (_, resumed) = split_header(&resumed);
    assert_eq!(
        format!("{}\n{}", untimed(out), untimed(resumed)),
        untimed(split_header(&whole).1)
    );
    assert!(resumed.starts_with("Step 8,"), "{resumed}");
}

#[test]
fn a_stop_between_the_statements_of_an_entry_runs_no_more_of_them() {
    let _turn = turn();
    let (out, err, last) = session("print 1; print 2; let x = 3", Some("1"));
    assert_eq!(last, Outcome::Failed);
    assert!(!out.contains('2'), "{out}");
    assert!(
        flat(&err).contains("interrupted: the statements before this one ran"),
        "{err}"
    );
    // `x` was never bound: the session's names are what ran
    let mut s = Session::new(Style::Plain);
    let mut sink = Vec::new();
    s.entry(
        "print 1; print 2; let x = 3",
        &mut StopAt::new(Some("1")),
        &mut sink,
    );
    assert!(s.tensor_names().is_empty(), "{:?}", s.tensor_names());
}

#[test]
fn regions_scope_a_stop_request() {
    let _turn = turn();
    // no front end installed a handler: the mode is the kernel's
    assert_eq!(interrupt::mode(), interrupt::Mode::Kernel);
    interrupt::request();
    assert!(interrupt::check().is_ok(), "no region runs: ignored");
    {
        let _outer = Region::enter();
        assert!(interrupt::check().is_ok());
        {
            let _inner = Region::enter();
            interrupt::request();
            interrupt::request(); // a kernel never ends the process
            assert!(interrupt::check().is_err());
        }
        assert!(
            interrupt::check().is_err(),
            "pending until the outermost ends"
        );
    }
    assert!(
        interrupt::check().is_ok(),
        "the next operation starts clean"
    );
}

/// Collects the output where another thread can read it.
#[derive(Clone, Default)]
struct Shared(std::sync::Arc<Mutex<String>>);

impl Shared {
    fn text(&self) -> String {
        self.0.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut t) = self.0.lock() {
            t.push_str(&String::from_utf8_lossy(buf));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_stop_inside_a_long_step_keeps_the_last_finished_step_and_resumes_to_the_same_weights() {
    let _turn = turn();
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let ck = d.join("ck.safetensors");
    // steps much longer than what lies between them; the stop is asked for
    // half a step's time into step 2, so most likely in a convolution, after
    // batchnorm updated its running statistics and dropout drew its mask:
    // both must be put back
    let text = |steps: usize, more: &str, save: &str| {
        format!(
            "seed 8\n\
             model m(x: Nx2x24x24) = batchnorm -> dropout(p=0.3) -> conv(out=16, k=3, p=1) -> \
             relu -> conv(out=16, k=3, p=1) -> relu -> flatten -> linear(out=2)\n\
             let X = randn(48x2x24x24)\n\
             let Y = randn(48x2)\n\
             data X -> Y\n\
             train sgd lr=0.01 momentum=0.9 steps={steps} log=1 {more}\n\
             save m \"{}\"\n",
            d.join(save).display()
        )
    };
    let out = Shared::default();
    let watched = out.clone();
    let watcher = std::thread::spawn(move || {
        let seen = |text: &str| {
            while !watched.text().contains(text) {
                std::thread::yield_now();
            }
            std::time::Instant::now()
        };
        let started = seen("Training m");
        let step = seen("Step 1,") - started;
        std::thread::sleep(step / 2);
        interrupt::request();
    });
    let mut s = Session::new(Style::Plain);
    let mut err = Vec::new();
    let mut sink = out.clone();
    let script = text(
        100_000,
        &format!("checkpoint=\"{}\"", ck.display()),
        "after.safetensors",
    );
    for line in script.lines() {
        s.entry(line, &mut sink, &mut err);
    }
    watcher.join().expect("watcher");
    let err = flat(&String::from_utf8_lossy(&err));
    let k: usize = err
        .split("stopped after step ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|k| k.replace(',', "").parse().ok())
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        err.contains(&format!("the model keeps the weights of step {k}")),
        "{err}"
    );
    assert!(!out.text().contains(&format!("Step {},", k + 1)));

    let (_, _, last) = session(&text(k, "", "k.safetensors"), None);
    assert_eq!(last, Outcome::Done);
    assert!(
        bytes(&d.join("after.safetensors")) == bytes(&d.join("k.safetensors")),
        "the model keeps the weights of step {k}"
    );
    let resume = format!("resume=\"{}\"", ck.display());
    session(&text(k + 2, &resume, "resumed.safetensors"), None);
    session(&text(k + 2, "", "whole.safetensors"), None);
    assert!(
        bytes(&d.join("resumed.safetensors")) == bytes(&d.join("whole.safetensors")),
        "the resumed run ends with other weights than an uninterrupted one"
    );
}

// ---------------------------------------------------------------- terminal

const PROMPT: &str = "cnn> ";

/// A FIFO `fifo.safetensors` in `dir` (read whole, so `load` waits for its
/// end), and its write end once a reader has opened it: the reader then
/// blocks in `load` until the writer goes (it never writes). `None`
/// (SKIPPED) without `mkfifo`.
fn fifo(dir: &Path) -> Option<Receiver<std::fs::File>> {
    let path = dir.join("fifo.safetensors");
    match Command::new("mkfifo").arg(&path).status() {
        Ok(s) if s.success() => {}
        _ => {
            eprintln!("SKIPPED: mkfifo is not available");
            return None;
        }
    }
    let (tx, rx) = std::sync::mpsc::channel();
    // opening the write end waits for the reader
    std::thread::spawn(move || {
        if let Ok(f) = std::fs::OpenOptions::new().write(true).open(&path) {
            let _ = tx.send(f);
        }
    });
    Some(rx)
}

/// Wait until the script is reading the FIFO.
fn reading(writer: &Receiver<std::fs::File>, tmux: &Tmux) -> std::fs::File {
    writer
        .recv_timeout(Duration::from_secs(120))
        .unwrap_or_else(|_| panic!("nothing opened the FIFO; the screen:\n{}", tmux.screen()))
}

/// Whether training has logged a step (with `log=K`, step K or later).
fn logged_a_step(screen: &str) -> bool {
    screen
        .lines()
        .any(|l| l.starts_with("Step ") && l.contains(", loss "))
}

/// The losses `eval` printed, in order.
fn eval_losses(screen: &str) -> Vec<f64> {
    screen
        .lines()
        .filter_map(|l| l.strip_prefix("loss "))
        .filter_map(|l| l.split(',').next()?.trim().parse().ok())
        .collect()
}

#[test]
fn terminal_ctrl_c_during_train_returns_to_the_prompt_with_the_trained_model() {
    let dir = tempfile::tempdir().expect("temp dir");
    let command = format!(
        "env XDG_DATA_HOME={} NO_COLOR=1 {BIN} repl",
        dir.path().display()
    );
    let Some(mut tmux) = Tmux::start("train", &command, dir.path(), false) else {
        return;
    };
    tmux.enter(
        PROMPT,
        "seed 1; let X = randn(64x4); let Y = X * 2 + 1; data X -> Y",
    );
    tmux.enter(
        PROMPT,
        "model m(x: Nx4) = linear(out=16) -> relu -> linear(out=4)",
    );
    tmux.enter(PROMPT, "eval m");
    tmux.wait_for("loss ", 1);
    tmux.enter(PROMPT, "train sgd lr=0.01 steps=100000000 log=100");
    tmux.wait_until("100 steps", logged_a_step);
    tmux.key("C-c");
    tmux.wait_for("the model keeps the weights of step", 1);
    // the session and its model are still there, and the model has learnt
    tmux.enter(PROMPT, "eval m");
    let screen = tmux.wait_until("a second eval", |s| eval_losses(s).len() >= 2);
    let losses = eval_losses(&screen);
    assert!(losses[1] < losses[0], "{losses:?}\n{screen}");
    tmux.enter(PROMPT, ":models");
    tmux.wait_for("m  Nx4 -> Nx4", 1);
    tmux.enter(PROMPT, ":quit");
    tmux.wait_until_gone();
}

/// Mini-batch Adam with dropout; the schedule and checkpoint options given.
fn long_run(options: &str, save: &str) -> String {
    format!(
        "seed 4\n\
         model m(x: Nx4) = linear(out=16) -> relu -> dropout(p=0.25) -> linear(out=2)\n\
         let X = randn(400x4)\n\
         let Y = randn(400x2)\n\
         data X -> Y\n\
         train adam lr=0.01 batch=8 log=100 {options}\n\
         save m \"{save}\"\n"
    )
}

#[test]
fn terminal_ctrl_c_during_run_leaves_a_checkpoint_that_resumes_to_the_same_weights() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let text = long_run(
        "epochs=100000000 checkpoint=\"ck.safetensors\"",
        "never.safetensors",
    );
    std::fs::write(d.join("s.cnn"), text).expect("write");
    let command = format!("env NO_COLOR=1 {BIN} run s.cnn");
    let Some(tmux) = Tmux::start("run", &command, d, true) else {
        return;
    };
    tmux.wait_until("100 steps", logged_a_step);
    tmux.key("C-c");
    assert_eq!(tmux.wait_exit(), 130, "{}", tmux.screen());
    let screen = flat(&tmux.screen());
    assert!(
        screen.contains("checkpoint written to ck.safetensors"),
        "{screen}"
    );
    assert!(!d.join("never.safetensors").exists());

    // continue two epochs past the checkpoint, and compare with a run that
    // was never interrupted
    let data = bytes(&d.join("ck.safetensors"));
    let (_, header) = safetensors::SafeTensors::read_metadata(&data).expect("safetensors");
    let meta = header.metadata().clone().expect("metadata");
    let done: usize = meta["cnnscript.done"].parse().expect("epochs done");
    let epochs = format!("epochs={}", done + 2);
    ok(
        d,
        &long_run(
            &format!("{epochs} resume=\"ck.safetensors\""),
            "resumed.safetensors",
        ),
    );
    ok(d, &long_run(&epochs, "whole.safetensors"));
    assert_eq!(
        bytes(&d.join("resumed.safetensors")),
        bytes(&d.join("whole.safetensors"))
    );
}

#[test]
fn terminal_a_second_ctrl_c_ends_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let Some(writer) = fifo(d) else {
        return;
    };
    let command = format!("env XDG_DATA_HOME={} NO_COLOR=1 {BIN} repl", d.display());
    let Some(mut tmux) = Tmux::start("twice", &command, d, true) else {
        return;
    };
    // reading a FIFO nobody writes never reaches a safe point
    tmux.enter(PROMPT, "let X = load(\"fifo.safetensors\")");
    let _writer = reading(&writer, &tmux);
    tmux.key("C-c");
    tmux.wait_for("stopping at the next safe point", 1);
    tmux.key("C-c");
    assert_eq!(tmux.wait_exit(), 130, "{}", tmux.screen());
    tmux.wait_for("interrupted again: ending at once", 1);
}

#[test]
fn terminal_ctrl_c_in_run_outside_training_ends_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let Some(writer) = fifo(d) else {
        return;
    };
    std::fs::write(d.join("s.cnn"), "let X = load(\"fifo.safetensors\")\n").expect("write");
    let command = format!("env NO_COLOR=1 {BIN} run s.cnn");
    let Some(tmux) = Tmux::start("idle", &command, d, true) else {
        return;
    };
    let _writer = reading(&writer, &tmux);
    tmux.key("C-c");
    assert_eq!(tmux.wait_exit(), 130, "{}", tmux.screen());
}

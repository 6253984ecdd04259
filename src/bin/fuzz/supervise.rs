//! Worker processes and their supervisor. A worker runs a range of cases
//! in-process and writes one line per case (`INDEX KIND VERDICT`); when it
//! dies (a stack overflow, an abort, a hang past its deadline) the
//! supervisor saves the case it was running and starts a new worker after
//! it. Each of `--jobs` supervisors takes every `jobs`-th case.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::cases::Plan;
use crate::runner::{Runner, Verdict};
use crate::Opts;

/// Counts by case kind and verdict letter, and the failures.
#[derive(Default)]
pub struct Tally {
    pub counts: BTreeMap<(char, char), u64>,
    /// Case number and what went wrong.
    pub failures: Vec<(u64, String)>,
    pub done: u64,
}

impl Tally {
    fn add(&mut self, kind: char, verdict: char) {
        *self.counts.entry((kind, verdict)).or_default() += 1;
        self.done += 1;
    }
}

/// Saves case `index` with what happened to it; returns the case's path.
pub fn save_failure(out: &Path, plan: &Plan, index: u64, what: &str, detail: &str) -> PathBuf {
    let case = plan.case(index);
    let slug: String = what
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '-' })
        .collect();
    let path = out.join(format!("{slug}-{index}.{}", case.kind.ext()));
    let _ = std::fs::create_dir_all(out);
    let _ = std::fs::write(&path, &case.bytes);
    let note = format!("{what} in case {index} (seed {})\n{detail}\n", plan.seed);
    let _ = std::fs::write(path.with_extension("txt"), note);
    path
}

/// The worker: cases `from, from + stride, ...` below `to`, one line each on stdout.
pub fn worker(opts: &Opts, plan: &Plan, from: u64, stride: u64, to: u64) -> i32 {
    let dir = opts.out.join(format!("work-{}", from % stride.max(1)));
    let budget = opts.memory_mib << 20;
    let mut runner = match Runner::new(&dir, budget, Duration::from_millis(opts.timeout_ms)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fuzz: {e}");
            return 2;
        }
    };
    let stdout = std::io::stdout();
    let mut lines = stdout.lock();
    let mut index = from;
    while index < to {
        let case = plan.case(index);
        match runner.run(&case) {
            Ok(verdict) => {
                let mut what_slug = String::new();
                if let Verdict::Failed(what, detail) = &verdict {
                    let path = save_failure(&opts.out, plan, index, what, detail);
                    eprintln!("fuzz: {what} in case {index}, saved as {}", path.display());
                    what_slug = what.replace(' ', "_");
                }
                let (kind, code) = (case.kind.code(), verdict.code());
                let _ = writeln!(lines, "{index} {kind} {code} {what_slug}");
                let _ = lines.flush();
            }
            Err(_hang) => {
                let detail = format!("still working after {} ms of CPU time", opts.timeout_ms);
                let path = save_failure(&opts.out, plan, index, "hang", &detail);
                eprintln!("fuzz: hang in case {index}, saved as {}", path.display());
                let _ = writeln!(lines, "{index} {} H", case.kind.code());
                let _ = lines.flush();
                // the case thread cannot be stopped: the supervisor starts a new worker
                return 3;
            }
        }
        index += stride;
    }
    0
}

/// Runs the plan's cases `[start, end)` in worker processes, `jobs` at a time.
pub fn supervise(opts: &Opts, plan: &Plan, tally: &Mutex<Tally>) {
    let deadline = (opts.seconds > 0).then(|| Instant::now() + Duration::from_secs(opts.seconds));
    let jobs = opts.jobs.max(1) as u64;
    std::thread::scope(|s| {
        for job in 0..jobs {
            s.spawn(move || supervise_job(opts, plan, job, jobs, deadline, tally));
        }
    });
}

fn supervise_job(
    opts: &Opts,
    plan: &Plan,
    job: u64,
    stride: u64,
    deadline: Option<Instant>,
    tally: &Mutex<Tally>,
) {
    let total = plan.total();
    let mut next = job;
    while next < total && deadline.is_none_or(|d| Instant::now() < d) {
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("fuzz"));
        let child = Command::new(exe)
            .args(opts.worker_args(next, stride))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                eprintln!("fuzz: cannot start a worker: {e}");
                return;
            }
        };
        let mut err = child.stderr.take();
        let tail = std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(e) = err.as_mut() {
                let _ = e.read_to_string(&mut text);
            }
            text
        });
        let mut last_hang = false;
        if let Some(out) = child.stdout.take() {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                let mut parts = line.split(' ');
                let index = parts.next().and_then(|i| i.parse::<u64>().ok());
                let kind = parts.next().and_then(|k| k.chars().next());
                let verdict = parts.next().and_then(|v| v.chars().next());
                let what = parts.next().unwrap_or("").replace('_', " ");
                let (Some(index), Some(kind), Some(verdict)) = (index, kind, verdict) else {
                    continue;
                };
                next = index + stride;
                last_hang = verdict == 'H';
                let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
                t.add(kind, verdict);
                if matches!(verdict, 'F' | 'H') {
                    let what = if verdict == 'H' {
                        "hang".to_string()
                    } else {
                        what
                    };
                    t.failures.push((index, what));
                }
                drop(t);
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    let _ = child.kill();
                    break;
                }
            }
        }
        let status = child.wait();
        let stderr = tail.join().unwrap_or_default();
        for line in stderr.lines().filter(|l| l.starts_with("fuzz:")) {
            eprintln!("{line}");
        }
        let timed_out = deadline.is_some_and(|d| Instant::now() >= d);
        let clean = status.as_ref().is_ok_and(|s| s.success());
        if clean || last_hang || timed_out || next >= total {
            if clean || timed_out {
                return;
            }
            continue;
        }
        // the worker died in case `next`: save it and go on after it
        let what = crash_kind(&stderr);
        let detail = &stderr[stderr.len() - stderr.len().min(3000)..];
        let path = save_failure(&opts.out, plan, next, what, detail);
        let status = status.map(|s| s.to_string()).unwrap_or_default();
        eprintln!(
            "fuzz: {what} in case {next} (worker {status}), saved as {}",
            path.display()
        );
        let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
        let kind = plan.case(next).kind;
        t.add(kind.code(), 'F');
        t.failures.push((next, what.to_string()));
        next += stride;
    }
}

/// What killed a worker, from the end of its stderr.
fn crash_kind(stderr: &str) -> &'static str {
    if stderr.contains("memory allocation of") {
        "over-budget allocation"
    } else if stderr.contains("overflowed its stack") {
        "stack overflow"
    } else {
        "crash"
    }
}

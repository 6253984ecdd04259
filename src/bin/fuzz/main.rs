//! `fuzz`: scripts generated from the grammar, mutated repository scripts
//! and mutated data files through the whole pipeline, in-process (parse,
//! `fmt`, check and its reports, `run`; the file readers), each case under a
//! memory budget and a deadline. Fails on any panic, hang, allocation past
//! the budget, or diagnostic that names no place. docs/fuzzing.md has the
//! commands and the figures.

mod alloc;
mod cases;
mod corpus;
mod files;
mod gen;
mod harness;
mod mutate;
mod report;
mod runner;
mod supervise;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::Parser;

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

/// Fuzz cnnscript: scripts and data files through the whole pipeline.
#[derive(Parser, Clone)]
#[command(name = "fuzz")]
pub struct Opts {
    /// Script cases (generated valid, near-valid and stress scripts, mutated repository scripts)
    #[arg(long, default_value_t = 10_000)]
    cases: u64,
    /// Mutated data files per format (npy, npz, safetensors, csv)
    #[arg(long, default_value_t = 0)]
    file_cases: u64,
    /// Seed of the run: case I of seed S is always the same
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Worker processes running at once
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Stop after this many seconds (0: run every case)
    #[arg(long, default_value_t = 0)]
    seconds: u64,
    /// Deadline of one case in milliseconds of CPU time; a case still running then is a hang
    #[arg(long, default_value_t = 20_000)]
    timeout_ms: u64,
    /// Memory budget in MiB: the memory guard's limit, and the largest single allocation
    #[arg(long, default_value_t = 256)]
    memory_mib: usize,
    /// Kernel threads per worker
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Folder for failing cases and the workers' data files
    #[arg(long, default_value = "target/fuzz")]
    out: PathBuf,
    /// Run one saved case (a script, or a data file by its extension) and say what happened
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// Write the bytes of case I to stdout and stop
    #[arg(long, value_name = "I")]
    print_case: Option<u64>,
    #[arg(long, hide = true, num_args = 3, value_names = ["FROM", "STRIDE", "TO"])]
    worker: Option<Vec<u64>>,
}

impl Opts {
    /// The command line of a worker running cases `from, from + stride, ...`.
    fn worker_args(&self, from: u64, stride: u64) -> Vec<String> {
        let plan_total = self.cases + self.file_cases * files::FORMATS.len() as u64;
        vec![
            format!("--cases={}", self.cases),
            format!("--file-cases={}", self.file_cases),
            format!("--seed={}", self.seed),
            format!("--timeout-ms={}", self.timeout_ms),
            format!("--memory-mib={}", self.memory_mib),
            format!("--threads={}", self.threads),
            format!("--out={}", self.out.display()),
            "--worker".into(),
            from.to_string(),
            stride.to_string(),
            plan_total.to_string(),
        ]
    }
}

fn main() -> ExitCode {
    let opts = Opts::parse();
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build_global();
    let plan = cases::Plan::new(opts.seed, opts.cases, opts.file_cases);
    if let Some(index) = opts.print_case {
        use std::io::Write;
        let case = plan.case(index);
        eprintln!("fuzz: case {index} of seed {}: {:?}", opts.seed, case.kind);
        let _ = std::io::stdout().write_all(&case.bytes);
        return ExitCode::SUCCESS;
    }
    if let Some(path) = &opts.replay {
        return replay(&opts, path);
    }
    if let Some(w) = &opts.worker {
        let code = supervise::worker(&opts, &plan, w[0], w[1], w[2]);
        return ExitCode::from(code as u8);
    }
    let started = Instant::now();
    let tally: &'static Mutex<supervise::Tally> = Box::leak(Box::default());
    let progress = report::Progress::start(tally, plan.total());
    supervise::supervise(&opts, &plan, tally);
    progress.stop();
    let tally = std::mem::take(&mut *tally.lock().unwrap_or_else(|p| p.into_inner()));
    let text = report::summary(&opts, &plan, &tally, started.elapsed());
    println!("{text}");
    if tally.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `--replay FILE`: one case, with what happened to it.
fn replay(opts: &Opts, path: &std::path::Path) -> ExitCode {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("fuzz: cannot read {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("cnn");
    let kind = match files::FORMATS.iter().position(|f| *f == ext) {
        Some(f) => cases::Kind::File(f),
        // as a generated valid script: a check/run disagreement shows too
        None => cases::Kind::Script(cases::Origin::Valid),
    };
    let dir = opts.out.join("replay");
    let timeout = Duration::from_millis(opts.timeout_ms);
    let mut runner = match runner::Runner::new(&dir, opts.memory_mib << 20, timeout) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fuzz: {e}");
            return ExitCode::from(2);
        }
    };
    match runner.run(&cases::Case { kind, bytes }) {
        Ok(runner::Verdict::Failed(what, detail)) => {
            println!("{what}:\n{detail}");
            ExitCode::FAILURE
        }
        Ok(v) => {
            println!("{v:?}");
            ExitCode::SUCCESS
        }
        Err(_) => {
            println!("hang: still running after {} ms", opts.timeout_ms);
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests;

//! Runs cases in-process on a thread of their own (the CLI's large stack),
//! each under the memory budget and a deadline: a panic is caught, an
//! allocation past the budget is trapped by the counting allocator, and a
//! case still running at its deadline is a hang. The deadline counts the
//! worker's CPU time where Linux tells it (a loaded machine stretches wall
//! time, not work), and wall time up to [`WALL_FACTOR`] times it besides
//! (a case blocked without working hangs too).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::cases::{Case, Kind, Origin};
use crate::files::FORMATS;
use crate::harness::{self, Failure, Loaded, Stage};

/// The stack a case runs on: the CLI's (parsing and evaluation recurse).
const STACK_BYTES: usize = 256 * 1024 * 1024;

/// A case past this many times its deadline in wall time hangs, however
/// little CPU it used.
const WALL_FACTOR: u32 = 10;
/// How often the deadline is looked at.
const TICK: Duration = Duration::from_millis(200);

/// CPU time of this process (all its threads), from `/proc/self/stat`
/// (utime and stime, in the USER_HZ = 100 ticks of Linux's ABI).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // the fields after the command name (which may hold spaces), from state on
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ').skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// What happened to a case.
#[derive(Debug)]
pub enum Verdict {
    Script(Stage),
    File(Loaded),
    /// A failure: what kind, and the details.
    Failed(&'static str, String),
}

impl Verdict {
    /// One letter for the worker protocol.
    pub fn code(&self) -> char {
        match self {
            Verdict::Script(s) => s.code(),
            Verdict::File(Loaded::Read) => 'L',
            Verdict::File(Loaded::Refused) => 'E',
            Verdict::Failed(..) => 'F',
        }
    }
}

/// A case still running at its deadline.
pub struct Hang;

static IN_CASE: AtomicBool = AtomicBool::new(false);
static PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Panics inside a case are kept for its verdict, not printed.
fn quiet_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if IN_CASE.load(Relaxed) {
            let text = format!("{info}");
            if let Ok(mut slot) = PANIC.lock() {
                slot.get_or_insert(text);
            }
        } else {
            default(info);
        }
    }));
}

/// Cases in a folder of their own, one at a time.
pub struct Runner {
    jobs: Sender<(Kind, Vec<u8>)>,
    verdicts: Receiver<Verdict>,
    timeout: Duration,
}

impl Runner {
    /// A runner working in `dir` (its data files are written there), with a
    /// budget in bytes for any single allocation and the memory guard.
    pub fn new(dir: &Path, budget: usize, timeout: Duration) -> Result<Runner, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        crate::corpus::write_fixtures(dir)?;
        static HOOK: std::sync::Once = std::sync::Once::new();
        HOOK.call_once(quiet_panics);
        let (jobs, job_rx) = channel::<(Kind, Vec<u8>)>();
        let (verdict_tx, verdicts) = channel();
        let work = dir.to_path_buf();
        std::thread::Builder::new()
            .name("case".into())
            .stack_size(STACK_BYTES)
            .spawn(move || {
                for (kind, bytes) in job_rx {
                    crate::alloc::set_budget(budget);
                    let verdict = run_one(kind, &bytes, &work);
                    crate::alloc::set_budget(0);
                    if verdict_tx.send(verdict).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(Runner {
            jobs,
            verdicts,
            timeout,
        })
    }

    /// Runs one case; `Err(Hang)` leaves the runner unusable.
    pub fn run(&mut self, case: &Case) -> Result<Verdict, Hang> {
        if self.jobs.send((case.kind, case.bytes.clone())).is_err() {
            return Ok(Verdict::Failed("crash", "the case thread is gone".into()));
        }
        let started = Instant::now();
        let cpu_start = cpu_time();
        loop {
            match self.verdicts.recv_timeout(TICK) {
                Ok(v) => return Ok(v),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Ok(Verdict::Failed("crash", "the case thread is gone".into()))
                }
            }
            let wall = started.elapsed();
            let work = match (cpu_start, cpu_time()) {
                (Some(a), Some(b)) => b.saturating_sub(a),
                _ => wall,
            };
            if work >= self.timeout || wall >= self.timeout * WALL_FACTOR {
                return Err(Hang);
            }
        }
    }
}

/// One case on the case thread.
fn run_one(kind: Kind, bytes: &[u8], dir: &Path) -> Verdict {
    if let Ok(mut slot) = PANIC.lock() {
        *slot = None;
    }
    crate::alloc::take_over_budget();
    IN_CASE.store(true, Relaxed);
    let result = std::panic::catch_unwind(|| match kind {
        Kind::Script(o) => harness::script(bytes, dir, o == Origin::Valid).map(Verdict::Script),
        Kind::File(f) => harness::data_file(FORMATS[f], bytes, dir).map(Verdict::File),
    });
    IN_CASE.store(false, Relaxed);
    let over = crate::alloc::take_over_budget();
    let wrote = matches!(kind, Kind::File(_)) || harness::writes_files(bytes);
    if wrote {
        if let Err(e) = crate::corpus::write_fixtures(dir) {
            return Verdict::Failed("harness", e);
        }
    }
    if let Some(size) = over {
        return Verdict::Failed(
            "over-budget allocation",
            format!("one allocation of {size} bytes, past the budget"),
        );
    }
    match result {
        Ok(Ok(v)) => v,
        Ok(Err(Failure::Diagnostic(d))) => Verdict::Failed("bad diagnostic", d),
        Ok(Err(Failure::Format(f))) => Verdict::Failed("fmt", f),
        Ok(Err(Failure::Disagreement(d))) => Verdict::Failed("check/run disagreement", d),
        Err(_) => {
            let text = PANIC.lock().ok().and_then(|mut s| s.take());
            Verdict::Failed("panic", text.unwrap_or_else(|| "a panic".into()))
        }
    }
}

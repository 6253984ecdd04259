//! What a run prints: progress while it runs, then the counts by stage and
//! origin for scripts, by format for files, and the failures.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cases::{Kind, Origin, Plan};
use crate::files::FORMATS;
use crate::harness::Stage;
use crate::supervise::Tally;
use crate::Opts;

/// A line on stderr every few seconds while cases run.
pub struct Progress {
    stop: Arc<AtomicBool>,
}

impl Progress {
    pub fn start(tally: &'static Mutex<Tally>, total: u64) -> Progress {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let mut ticks = 0u64;
            while !flag.load(Relaxed) {
                std::thread::sleep(Duration::from_millis(250));
                ticks += 1;
                if !ticks.is_multiple_of(40) {
                    continue;
                }
                let (done, failed) = tally
                    .lock()
                    .map(|t| (t.done, t.failures.len()))
                    .unwrap_or_default();
                let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-9);
                eprintln!("fuzz: {done}/{total} cases, {rate:.0}/s, {failed} failures");
            }
        });
        Progress { stop }
    }

    pub fn stop(self) {
        self.stop.store(true, Relaxed);
    }
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * part as f64 / whole as f64)
    }
}

/// The report of a finished run.
pub fn summary(opts: &Opts, plan: &Plan, tally: &Tally, elapsed: Duration) -> String {
    let count =
        |kind: char, verdict: char| tally.counts.get(&(kind, verdict)).copied().unwrap_or(0);
    let mut s = String::new();
    let secs = elapsed.as_secs_f64();
    let _ = writeln!(
        s,
        "fuzz: seed {}, {} cases in {secs:.0} s ({:.0}/s), budget {} MiB and {} ms of CPU per case, {} seed scripts",
        opts.seed,
        tally.done,
        tally.done as f64 / secs.max(1e-9),
        opts.memory_mib,
        opts.timeout_ms,
        plan.seed_count()
    );
    let origins: Vec<char> = Origin::ALL.iter().map(|o| o.code()).collect();
    let scripts: u64 = origins
        .iter()
        .map(|&o| {
            tally
                .counts
                .iter()
                .filter(|((k, _), _)| *k == o)
                .map(|(_, n)| n)
                .sum::<u64>()
        })
        .sum();
    if scripts > 0 {
        let _ = writeln!(s, "\nscripts: {scripts}");
        let _ = writeln!(s, "  {:<36} {:>10} {:>8}", "stage", "cases", "share");
        for stage in Stage::ALL {
            let n: u64 = origins.iter().map(|&o| count(o, stage.code())).sum();
            let _ = writeln!(
                s,
                "  {:<36} {n:>10} {:>8}",
                stage.words(),
                percent(n, scripts)
            );
        }
        let parsed: u64 = origins
            .iter()
            .map(|&o| {
                ['c', 's', 'r', 'd', 'o']
                    .iter()
                    .map(|&v| count(o, v))
                    .sum::<u64>()
            })
            .sum();
        let checked: u64 = origins
            .iter()
            .map(|&o| {
                ['s', 'r', 'd', 'o']
                    .iter()
                    .map(|&v| count(o, v))
                    .sum::<u64>()
            })
            .sum();
        let ran: u64 = origins.iter().map(|&o| count(o, 'o')).sum();
        let _ = writeln!(
            s,
            "  parsed {} , reached `check` without errors {} , ran to the end {} ({} of checked)",
            percent(parsed, scripts),
            percent(checked, scripts),
            percent(ran, scripts),
            percent(ran, checked)
        );
        let _ = writeln!(
            s,
            "\n  {:<30} {:>9} {:>8} {:>8} {:>8}",
            "by origin", "cases", "parsed", "checked", "ran"
        );
        for o in Origin::ALL {
            let c = o.code();
            let n: u64 = tally
                .counts
                .iter()
                .filter(|((k, _), _)| *k == c)
                .map(|(_, n)| n)
                .sum();
            let parsed: u64 = ['c', 's', 'r', 'd', 'o'].iter().map(|&v| count(c, v)).sum();
            let checked: u64 = ['s', 'r', 'd', 'o'].iter().map(|&v| count(c, v)).sum();
            let _ = writeln!(
                s,
                "  {:<30} {n:>9} {:>8} {:>8} {:>8}",
                o.words(),
                percent(parsed, n),
                percent(checked, n),
                percent(count(c, 'o'), n)
            );
        }
    }
    if plan.files > 0 {
        let _ = writeln!(
            s,
            "\n  {:<14} {:>9} {:>12} {:>12}",
            "data files", "cases", "read", "refused"
        );
        for (i, f) in FORMATS.iter().enumerate() {
            let c = Kind::File(i).code();
            let (read, refused) = (count(c, 'L'), count(c, 'E'));
            let n: u64 = tally
                .counts
                .iter()
                .filter(|((k, _), _)| *k == c)
                .map(|(_, n)| n)
                .sum();
            let _ = writeln!(
                s,
                "  {:<14} {n:>9} {:>12} {:>12}",
                format!(".{f}"),
                format!("{read} ({})", percent(read, n)),
                format!("{refused} ({})", percent(refused, n))
            );
        }
    }
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, what) in &tally.failures {
        *kinds.entry(what.as_str()).or_default() += 1;
    }
    let count_of = |what: &str| kinds.get(what).copied().unwrap_or(0);
    let _ = writeln!(
        s,
        "\nfailures: {} panics, {} hangs, {} over-budget allocations, {} others",
        count_of("panic"),
        count_of("hang"),
        count_of("over-budget allocation"),
        tally.failures.len()
            - count_of("panic")
            - count_of("hang")
            - count_of("over-budget allocation"),
    );
    for (what, n) in &kinds {
        let _ = writeln!(s, "  {what}: {n} (cases in {})", opts.out.display());
    }
    s
}

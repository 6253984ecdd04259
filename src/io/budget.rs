//! The memory guard: refuse an allocation the machine cannot hold, before making it.

use super::IoError;

/// The largest single array cnnscript will allocate or unpack (16 GiB), whatever the machine.
pub const MAX_ARRAY_BYTES: u64 = 16 << 30;

/// Allocations below this size are never checked (reading /proc costs more than they do).
const UNCHECKED_BYTES: u64 = 64 << 20;

/// Bytes as a short human figure with `decimals` places: `512 B`,
/// `3.2 MiB`, `16.00 GiB`. The one byte-size formatter of messages and reports.
pub fn human_bytes(bytes: u64, decimals: usize) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut size = bytes as f64 / 1024.0;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < UNITS.len() {
        size /= 1024.0;
        unit += 1;
    }
    format!("{size:.decimals$} {}", UNITS[unit])
}

/// A harness's own budget: the bytes it allows now.
static HARNESS_ROOM: std::sync::OnceLock<fn() -> u64> = std::sync::OnceLock::new();

/// Holds every allocation the guard checks to `room()`, the bytes a harness
/// (the fuzzer) allows at that moment, when that is less than the machine's
/// budget. Set once per process; `false` when it was already set.
pub fn set_harness_room(room: fn() -> u64) -> bool {
    HARNESS_ROOM.set(room).is_ok()
}

/// The memory budget in bytes and where it comes from: the smaller of [`MAX_ARRAY_BYTES`],
/// `MemAvailable` in /proc/meminfo and the cgroup's `memory.max - memory.current`
/// (and a harness's budget, see [`set_harness_room`]).
pub fn memory_limit() -> (u64, String) {
    let mut limit = (MAX_ARRAY_BYTES, "the 16 GiB cap per array".to_string());
    if let Some(room) = HARNESS_ROOM.get().map(|room| room()) {
        if room < limit.0 {
            limit = (room, "the harness's memory budget".to_string());
        }
    }
    if let Some(avail) = meminfo_available() {
        if avail < limit.0 {
            limit = (avail, "MemAvailable in /proc/meminfo".to_string());
        }
    }
    if let Some(room) = cgroup_room() {
        if room < limit.0 {
            limit = (room, "the cgroup's memory.max".to_string());
        }
    }
    limit
}

fn meminfo_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

fn cgroup_room() -> Option<u64> {
    let max: u64 = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()?
        .trim()
        .parse()
        .ok()?; // "max" (no limit) fails to parse: no constraint
    let current: u64 = std::fs::read_to_string("/sys/fs/cgroup/memory.current")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    Some(max.saturating_sub(current))
}

/// Refuses `bytes` of new memory for `what` when it exceeds [`memory_limit`]; the
/// error carries the estimate and the budget.
pub fn check_alloc_bytes(bytes: u64, what: &str) -> Result<(), IoError> {
    if bytes < UNCHECKED_BYTES {
        return Ok(());
    }
    let (limit, limit_source) = memory_limit();
    if bytes > limit {
        return Err(IoError::OutOfMemory {
            what: what.to_string(),
            bytes,
            limit,
            limit_source,
        });
    }
    Ok(())
}

/// Refuses an f32 tensor of `elements` elements for `what` that would not fit in memory.
pub fn check_alloc(elements: u64, what: &str) -> Result<(), IoError> {
    check_alloc_bytes(elements.saturating_mul(4), what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_allocations_pass_and_huge_ones_are_refused_with_the_estimate() {
        assert!(check_alloc(1000, "a small tensor").is_ok());
        let err = check_alloc(u64::MAX / 2, "tensor X").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("tensor X"), "{msg}");
        assert!(msg.contains("PiB") || msg.contains("TiB"), "{msg}");
        let err = check_alloc(5 << 30, "tensor Y").unwrap_err();
        assert!(err.to_string().contains("20.0 GiB"), "{err}");
    }

    #[test]
    fn the_limit_never_exceeds_the_cap() {
        let (limit, source) = memory_limit();
        assert!(limit <= MAX_ARRAY_BYTES);
        assert!(!source.is_empty());
    }
}

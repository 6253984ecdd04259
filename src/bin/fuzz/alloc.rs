//! A counting global allocator: the bytes live now (the memory budget the
//! library's guard sees, through `io::set_harness_room`) and a trap for any
//! single allocation past the budget, which the guard should have refused.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// The system allocator, counted.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
/// The budget while a case runs; 0 when none is enforced.
static BUDGET: AtomicUsize = AtomicUsize::new(0);
/// The largest allocation past the budget since the last [`take_over_budget`].
static OVER: AtomicUsize = AtomicUsize::new(0);

impl Counting {
    /// Records an allocation of `size` bytes; `false` refuses it (past the budget).
    fn admit(size: usize) -> bool {
        let budget = BUDGET.load(Relaxed);
        if budget != 0 && size > budget {
            OVER.fetch_max(size, Relaxed);
            return false;
        }
        true
    }
}

// SAFETY: every method forwards to `System` with the caller's layout and
// pointer unchanged, so `System`'s guarantees hold; the counters are atomics
// and never allocate. A refused request returns null, which `GlobalAlloc`
// allows (the caller reports the failure).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !Counting::admit(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded as is (see above).
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !Counting::admit(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded as is (see above).
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is (see above).
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !Counting::admit(new_size) {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded as is (see above).
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Relaxed);
            LIVE.fetch_add(new_size, Relaxed);
        }
        p
    }
}

/// Enforce `bytes` as the largest single allocation (0: none), and make it
/// the budget the library's memory guard sees, less what is live.
pub fn set_budget(bytes: usize) {
    BUDGET.store(bytes, Relaxed);
    cnnscript::io::set_harness_room(room);
}

fn room() -> u64 {
    let budget = BUDGET.load(Relaxed);
    if budget == 0 {
        return u64::MAX;
    }
    budget.saturating_sub(LIVE.load(Relaxed)) as u64
}

/// The largest allocation past the budget since the last call, if any.
pub fn take_over_budget() -> Option<usize> {
    match OVER.swap(0, Relaxed) {
        0 => None,
        n => Some(n),
    }
}

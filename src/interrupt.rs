//! Stopping long work at a safe point: a notebook's interrupt button, or
//! SIGINT sent to the kernel. Work that can stop (training) calls [`check`]
//! between steps; whoever starts a piece of work opens a [`Region`] so that
//! a request made while nothing ran is not taken for this work.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Ask the running work to stop at its next safe point.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Whether a stop has been asked for and not yet taken.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// The stop was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted;

/// `Err(Interrupted)` when a stop was asked for.
pub fn check() -> Result<(), Interrupted> {
    if requested() {
        Err(Interrupted)
    } else {
        Ok(())
    }
}

/// A stretch of interruptible work: requests from before it are forgotten
/// when it begins, and a request not taken is forgotten when it ends.
pub struct Region(());

impl Region {
    /// Begin interruptible work.
    pub fn enter() -> Region {
        REQUESTED.store(false, Ordering::SeqCst);
        Region(())
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        REQUESTED.store(false, Ordering::SeqCst);
    }
}

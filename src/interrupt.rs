//! Ctrl-C without losing work: one SIGINT handler, a "stop requested" flag
//! and the regions in which a stoppable operation runs.
//!
//! The API, for every front end (`run`, the REPL, the Jupyter kernel):
//!
//! - [`install`]`(mode)` installs the SIGINT handler (once per process;
//!   later calls only change the mode) and says what a Ctrl-C does; see
//!   [`Mode`]. [`set_mode`] changes the mode alone.
//! - [`request`] is what a Ctrl-C does, callable from any thread (a kernel
//!   calls it on `interrupt_request`). Inside a region it asks the running
//!   operation to stop at its next safe point; a second request while the
//!   first is pending ends the process at once with status 130, except in
//!   [`Mode::Kernel`]. Outside every region, [`Mode::Exit`] ends the process
//!   at once and the other modes ignore it.
//! - [`Region::enter`] returns a guard marking that a stoppable operation
//!   runs until it is dropped. Regions nest. Entering the outermost clears
//!   an old request, and leaving it clears a pending one, so a Ctrl-C never
//!   stops a later operation.
//! - [`check`] is called at safe points: `Err(Interrupted)` once a stop was
//!   requested. The request stays pending until the outermost region ends,
//!   so every level above the safe point stops too.
//!
//! The safe points: training step boundaries (the model then holds the
//! weights of the last finished step), the batches of `eval`, and the
//! statements of one REPL entry or `:load`.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Exit status after a Ctrl-C (128 + SIGINT), as shells report it.
pub const EXIT_INTERRUPTED: u8 = 130;

/// What a Ctrl-C does outside a region, and whether a second one ends the
/// process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `run` and a REPL reading piped stdin: outside a region Ctrl-C ends the
    /// process at once (status 130); inside, the first stops the operation
    /// and the second ends the process.
    Exit,
    /// The REPL on a terminal: the line editor reads Ctrl-C at the prompt as
    /// a key, so a signal outside a region is ignored; inside, as [`Mode::Exit`].
    Prompt,
    /// A Jupyter kernel: only stop requests, never an exit (the kernel and
    /// its state stay); outside a region a request is ignored. The default.
    Kernel,
}

/// A stoppable operation was asked to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

static REQUESTED: AtomicBool = AtomicBool::new(false);
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
static MODE: AtomicU8 = AtomicU8::new(Mode::Kernel as u8);
static HANDLER: OnceLock<Result<(), String>> = OnceLock::new();

/// Install the SIGINT handler (once per process) and set the mode. An error
/// says why the handler could not be installed (Ctrl-C then keeps its
/// default: the process ends).
pub fn install(mode: Mode) -> Result<(), String> {
    set_mode(mode);
    HANDLER
        .get_or_init(|| ctrlc::set_handler(request).map_err(|e| e.to_string()))
        .clone()
}

/// Change what a Ctrl-C does (see [`Mode`]).
pub fn set_mode(mode: Mode) {
    MODE.store(mode as u8, Ordering::SeqCst);
}

/// The current mode.
pub fn mode() -> Mode {
    match MODE.load(Ordering::SeqCst) {
        0 => Mode::Exit,
        1 => Mode::Prompt,
        _ => Mode::Kernel,
    }
}

/// Ask the running operation to stop at its next safe point, as a Ctrl-C
/// does (see the module doc for a second request and for no region).
pub fn request() {
    let mode = mode();
    if ACTIVE.load(Ordering::SeqCst) == 0 {
        if mode == Mode::Exit {
            end_now();
        }
        return;
    }
    let again = REQUESTED.swap(true, Ordering::SeqCst);
    match (mode, again) {
        (Mode::Kernel, _) => {}
        (_, true) => {
            say("\ninterrupted again: ending at once\n");
            end_now();
        }
        (_, false) => say("\nstopping at the next safe point (Ctrl-C again ends at once)\n"),
    }
}

/// End the process (status 130) without a half-written temporary file:
/// the files being written keep their previous contents.
fn end_now() -> ! {
    crate::io::remove_temporaries();
    std::process::exit(EXIT_INTERRUPTED.into())
}

/// Write to stderr without taking its lock: the interrupted thread may hold
/// it for as long as it runs (the REPL does, for a whole entry).
fn say(text: &str) {
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::fd::AsFd;
        // a second descriptor for the same stderr, unlocked
        if let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() {
            let _ = std::fs::File::from(fd).write_all(text.as_bytes());
        }
    }
    #[cfg(not(unix))]
    let _ = text;
}

/// Whether a stop was requested and is still pending.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// At a safe point: `Err(Interrupted)` once a stop was requested.
pub fn check() -> Result<(), Interrupted> {
    if requested() {
        Err(Interrupted)
    } else {
        Ok(())
    }
}

/// While this guard lives, a stoppable operation runs (see the module doc).
#[must_use = "the region ends when the guard is dropped"]
#[derive(Debug)]
pub struct Region {
    _private: (),
}

impl Region {
    /// Mark that a stoppable operation starts; it ends when the guard drops.
    pub fn enter() -> Region {
        if ACTIVE.fetch_add(1, Ordering::SeqCst) == 0 {
            REQUESTED.store(false, Ordering::SeqCst);
        }
        Region { _private: () }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        if ACTIVE.fetch_sub(1, Ordering::SeqCst) == 1 {
            REQUESTED.store(false, Ordering::SeqCst);
        }
    }
}

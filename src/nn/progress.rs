//! How long work tells how far it is: the command line draws progress bars,
//! a notebook or a test stays silent with `()`; Ctrl-C reaches every long
//! loop through [`interrupt`].

use std::sync::atomic::{AtomicBool, Ordering};

/// Hears about long work: stages of counted steps and lines of results.
pub trait Progress {
    /// A stage of `total` steps begins; `name` says what is being done.
    fn begin(&self, _name: &str, _total: usize) {}
    /// One more step of the stage is done; `message` says how it went.
    fn advance(&self, _message: &str) {}
    /// The stage is over.
    fn finish(&self) {}
    /// A result worth showing at once, such as a table row.
    fn report(&self, _line: &str) {}
}

/// Silence.
impl Progress for () {}

/// Set once the user asks the run to stop (the command line's Ctrl-C).
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Asks every long loop of the library to stop at its next step: training
/// keeps the weights it has, generation its last frame, a report stops.
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Whether the run was asked to stop.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// A run stopped by Ctrl-C; says what it saved, if anything. The command line
/// exits with 130 on it, as shells do for a stopped program.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by Ctrl-C: {0}")]
pub struct Interrupted(pub String);

/// An error once the run was asked to stop, `Ok` until then: long loops call
/// it once per step. `what` says what the interruption leaves behind.
pub fn stop_if_interrupted(what: &str) -> Result<(), Interrupted> {
    if interrupted() {
        Err(Interrupted(what.to_string()))
    } else {
        Ok(())
    }
}

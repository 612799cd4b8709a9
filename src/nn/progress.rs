//! How long work tells how far it is: the command line draws progress bars,
//! a notebook or a test stays silent with `()`.

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

//! What the benches share.
pub mod pytorch;

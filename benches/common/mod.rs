//! What the benches share.
// Each bench uses some of it.
#![allow(dead_code)]
pub mod measure;
pub mod pytorch;

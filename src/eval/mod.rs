//! Every measurement the course reports, graded by the independent judge or
//! the world's ground truth: the only library code that brings models and the
//! judge together. One [`table::Table`] type writes every table.

pub mod clip;
pub mod editing;
pub mod faces;
pub mod from_noise;
pub mod generation;
pub mod nada;
pub mod robust;
pub mod shapes;
pub mod table;

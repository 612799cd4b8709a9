//! Every measurement the course reports, graded by the independent judge or
//! the world's ground truth: the only library code that brings models and the
//! judge together.

pub mod faces;
pub mod generation;

//! Pictures and plots for people: grids, PNG and GIF files, line charts and
//! scatter panels.

pub mod picture;
pub mod plot;

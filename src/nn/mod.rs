//! The toolbox every model shares: devices, weight files, batches of pictures,
//! comparison with an oracle, the training loop with its step seeds, and
//! progress reports for long work.

pub mod batch;
pub mod compare;
pub mod device;
pub mod progress;
pub mod train;
pub mod weights;

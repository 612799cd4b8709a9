//! The toolbox every model shares: devices, weight files, batches of pictures,
//! layers with a backward of their own,
//! comparison with an oracle, the training loop with its step seeds, and
//! progress reports for long work.

pub mod attach;
pub mod batch;
pub mod compare;
pub mod conv;
pub mod cpu;
pub mod device;
pub mod group_norm;
pub mod im2col;
pub mod progress;
pub mod pth;
pub mod train;
pub mod upsample;
pub mod weights;
pub mod winograd;

//! The toolbox every model shares: devices, weight files, batches of pictures,
//! Adam and the training loop with its step seeds.

pub mod device;

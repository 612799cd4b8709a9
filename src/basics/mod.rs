//! Lecture parts 1–2 from scratch: pictures as tensors, one-hot encodings,
//! softmax and cross-entropy.

pub mod one_hot;
pub mod pixels;
pub mod softmax;

//! OpenAI's CLIP (ViT-B/32) as published: its byte-level BPE tokenizer, its
//! preprocessing, the model with Hugging Face's parameter names, and the frozen
//! layers and CPU kernels that make guidance through it fast.

pub mod frozen;
mod kernels;
pub mod preprocess;
pub mod tokenizer;
pub mod vit;

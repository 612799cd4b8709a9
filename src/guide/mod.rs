//! CLIP-guided generation (lecture part 6): the loop (engine), generators
//! (raw pixels, PixelDraw, Fourier, and a VQ decoder trained on scenes), the
//! peers' prompt syntax, the spherical-distance loss, cutouts with
//! augmentations, text → picture (`generate`) and its judged measurement,
//! editing and image prompts (`editing`).

pub mod cutouts;
pub mod editing;
pub mod engine;
pub mod generate;
pub mod generators;
pub mod loss;
pub mod prompts;
pub mod vq;

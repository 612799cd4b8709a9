//! CLIP-guided generation (lecture part 6), in progress: the loop (engine),
//! generators (raw pixels, PixelDraw, Fourier), the peers' prompt syntax, the
//! spherical-distance loss, and cutouts with augmentations.

pub mod cutouts;
pub mod engine;
pub mod generators;
pub mod loss;
pub mod prompts;

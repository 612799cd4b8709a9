//! CLIP-guided generation (lecture part 6), in progress: the pieces of the
//! loop that scores a picture against prompts — the peers' prompt syntax,
//! the spherical-distance loss, and cutouts with augmentations.

pub mod cutouts;
pub mod loss;
pub mod prompts;

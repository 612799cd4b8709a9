//! CLIP-guided generation (lecture parts 6–7): the loop (engine), generators
//! (raw pixels, PixelDraw, Fourier, a VQ decoder trained on scenes, a
//! scene prior whose every N(0, 1) sample is a scene, and a layered
//! generator of learned sprites with its search) and
//! their presets, VQGAN+CLIP's prompt syntax, the spherical-distance loss,
//! cutouts with augmentations, text → picture (`generate`), and editing and
//! image prompts (`editing`), and VQGAN+CLIP's own generator, the taming
//! VQGAN (`vqgan`); Big Sleep on the real BigGAN-deep (`biggan`).
//! [`crate::eval`] measures them with the judge.

pub mod augment;
pub mod big_sleep;
pub mod biggan;
pub mod cutouts;
pub mod editing;
pub mod engine;
pub mod generate;
pub mod generators;
pub mod layers;
pub mod loss;
pub mod nada;
pub mod presets;
pub mod prior;
pub mod prompts;
pub mod vq;
pub mod vqgan;

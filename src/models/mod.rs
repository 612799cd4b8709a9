//! Lecture parts 2–4: the shape classifier, the autoencoder, the VAE and
//! latent arithmetic; and the real generator of VQGAN+CLIP, the taming VQGAN.

pub mod autoencoder;
pub mod classifier;
pub mod latent;
pub mod vae;
pub mod vqgan;

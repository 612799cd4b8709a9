//! Lecture parts 2–4: the shape classifier, the autoencoder, the VAE and
//! latent arithmetic.

pub mod autoencoder;
pub mod classifier;
pub mod latent;
pub mod vae;

//! Lecture parts 2–4: the shape classifier, the autoencoder, the VAE and
//! latent arithmetic; and the real generators of VQGAN+CLIP and Big Sleep,
//! the taming VQGAN and BigGAN-deep.

pub mod autoencoder;
pub mod biggan;
pub mod classifier;
pub mod latent;
pub mod vae;
pub mod vqgan;

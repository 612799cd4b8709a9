//! Chapter 3 — a generator: the variational autoencoder.
//!
//! The lecture's generator maps a random N(0, 1) vector to a random element of
//! the data distribution. A plain autoencoder cannot do that: its latent vectors
//! sit wherever training put them, and a random vector decodes to a smudge. The
//! VAE's encoder outputs a mean μ and a log-variance log σ² per latent number,
//! training samples z = μ + σ·ε with ε ~ N(0, 1) (the *reparameterisation*, which
//! lets the gradient reach μ and σ), and a KL term pulls every encoding towards
//! N(0, 1). Then decoding fresh N(0, 1) samples gives new faces.

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::models::autoencoder::{Config, Decoder, Encoder, TrainConfig, fit_faces};
use crate::nn::weights::{self, seed_weights};

/// The trained VAE shipped with the course (see README: `clip-art train-faces`).
const SHIPPED_WEIGHTS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/weights/faces-vae.safetensors"
));

// ANCHOR: vae
pub struct Vae {
    pub encoder: Encoder,
    pub decoder: Decoder,
    pub latent: usize,
}

/// What one pass through the VAE produced.
pub struct VaeOutput {
    pub reconstructions: Tensor,
    pub mean: Tensor,
    pub log_variance: Tensor,
}
// ANCHOR_END: vae

// ANCHOR: vae_impl
impl Vae {
    pub fn new(vb: VarBuilder, cfg: &Config) -> candle_core::Result<Self> {
        Ok(Vae {
            // One mean and one log-variance per latent number.
            encoder: Encoder::new(vb.pp("encoder"), cfg, 2 * cfg.latent)?,
            decoder: Decoder::new(vb.pp("decoder"), cfg)?,
            latent: cfg.latent,
        })
    }

    /// The encoder's mean and log-variance, each `[n, latent]`.
    pub fn encode(
        &self,
        pictures: &Tensor,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let both = self.encoder.forward(pictures)?;
        Ok((
            both.narrow(1, 0, self.latent)?,
            both.narrow(1, self.latent, self.latent)?,
        ))
    }

    pub fn decode(&self, latents: &Tensor) -> candle_core::Result<Tensor> {
        self.decoder.forward(latents)
    }

    /// Encodes, samples z = μ + σ·ε with the given noise ε, decodes.
    pub fn forward(
        &self,
        pictures: &Tensor,
        noise: &Tensor,
    ) -> candle_core::Result<VaeOutput> {
        let (mean, log_variance) = self.encode(pictures)?;
        let z = reparameterise(&mean, &log_variance, noise)?;
        Ok(VaeOutput {
            reconstructions: self.decode(&z)?,
            mean,
            log_variance,
        })
    }

    /// The generator: `count` fresh N(0, 1) latents decoded into pictures.
    pub fn sample(
        &self,
        count: usize,
        rng: &mut impl Rng,
        device: &Device,
    ) -> candle_core::Result<Tensor> {
        self.decode(&standard_normal(count, self.latent, rng, device)?)
    }
}
// ANCHOR_END: vae_impl

// ANCHOR: vae_loss
/// z = μ + σ·ε, with σ = exp(½ log σ²): the randomness is in ε, so gradients flow
/// to μ and log σ².
pub fn reparameterise(
    mean: &Tensor,
    log_variance: &Tensor,
    noise: &Tensor,
) -> candle_core::Result<Tensor> {
    mean + (log_variance * 0.5)?.exp()? * noise
}

/// The VAE loss per picture, averaged over the batch: squared error summed over
/// the pixels plus β times KL(N(μ, σ²) ‖ N(0, 1)) = −½ Σ (1 + log σ² − μ² − σ²).
pub fn vae_loss(
    pictures: &Tensor,
    out: &VaeOutput,
    beta: f64,
) -> candle_core::Result<Tensor> {
    let n = pictures.dim(0)? as f64;
    let reconstruction = ((pictures - &out.reconstructions)?.sqr()?.sum_all()? / n)?;
    let kl = kl_divergence(&out.mean, &out.log_variance)?;
    reconstruction + (kl * beta)?
}

/// KL divergence from N(μ, σ²) to N(0, 1), summed over the latent and averaged
/// over the batch.
pub fn kl_divergence(
    mean: &Tensor,
    log_variance: &Tensor,
) -> candle_core::Result<Tensor> {
    let n = mean.dim(0)? as f64;
    let terms = ((log_variance + 1.0)? - mean.sqr()? - log_variance.exp()?)?;
    (terms.sum_all()? * (-0.5 / n))?.to_dtype(mean.dtype())
}
// ANCHOR_END: vae_loss

/// `[count, latent]` samples of N(0, 1) from a seeded generator (candle's own
/// random numbers cannot be seeded on the CPU).
pub fn standard_normal(
    count: usize,
    latent: usize,
    rng: &mut impl Rng,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let values: Vec<f32> = (0..count * latent)
        .map(|_| rng.sample(StandardNormal))
        .collect();
    Tensor::from_vec(values, (count, latent), device)
}

impl Vae {
    /// The trained VAE that ships with the course, for the default [`Config`].
    pub fn shipped(device: &Device) -> anyhow::Result<Vae> {
        weights::shipped(SHIPPED_WEIGHTS, "faces-vae.safetensors", device, Vae::new)
    }

    /// Loads a VAE saved by `clip-art train-faces`.
    pub fn load(
        path: &std::path::Path,
        cfg: &Config,
        device: &Device,
    ) -> anyhow::Result<Vae> {
        weights::load(path, cfg, device, Vae::new)
    }
}

/// How strongly the KL term pulls the encodings towards N(0, 1).
pub const DEFAULT_BETA: f64 = 0.3;

/// Trains a VAE on freshly drawn faces with Adam; calls `on_step` with each
/// step's loss. Returns the model, its variables (to save) and the losses.
pub fn train_vae(
    cfg: &Config,
    train: &TrainConfig,
    beta: f64,
    device: &Device,
    on_step: impl FnMut(usize, f32),
) -> anyhow::Result<(Vae, VarMap, Vec<f32>)> {
    let varmap = VarMap::new();
    let model = Vae::new(VarBuilder::from_varmap(&varmap, DType::F32, device), cfg)?;
    seed_weights(&varmap, train.seed)?;
    let mut rng = ChaCha8Rng::seed_from_u64(train.seed);
    let losses = fit_faces(
        cfg,
        train,
        &varmap,
        device,
        |pictures| {
            let noise =
                standard_normal(train.batch_size, cfg.latent, &mut rng, device)?;
            vae_loss(pictures, &model.forward(pictures, &noise)?, beta)
        },
        on_step,
    )?;
    Ok((model, varmap, losses))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kl_matches_the_closed_form_and_is_zero_at_the_prior() -> anyhow::Result<()> {
        let device = Device::Cpu;
        let zero = Tensor::zeros((2, 3), DType::F32, &device)?;
        assert_eq!(kl_divergence(&zero, &zero)?.to_scalar::<f32>()?, 0.0);
        // One latent number with μ = 1, σ² = e: ½(σ² + μ² − 1 − log σ²) = ½(e + 1 − 1 − 1).
        let mean = Tensor::new(&[[1.0f32]], &device)?;
        let log_variance = Tensor::new(&[[1.0f32]], &device)?;
        let expected = 0.5 * (std::f32::consts::E - 1.0);
        let kl = kl_divergence(&mean, &log_variance)?.to_scalar::<f32>()?;
        assert!((kl - expected).abs() < 1e-6, "{kl} vs {expected}");
        Ok(())
    }

    #[test]
    fn reparameterised_samples_have_the_right_moments_and_gradients()
    -> anyhow::Result<()> {
        let device = Device::Cpu;
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let noise = standard_normal(20_000, 1, &mut rng, &device)?;
        let mean = candle_core::Var::new(&[[2.0f32]], &device)?;
        let log_variance = candle_core::Var::new(&[[(0.25f32).ln()]], &device)?;
        let z = reparameterise(
            &mean.as_tensor().broadcast_as((20_000, 1))?,
            &log_variance.as_tensor().broadcast_as((20_000, 1))?,
            &noise,
        )?;
        let values: Vec<f32> = z.flatten_all()?.to_vec1()?;
        let m = values.iter().sum::<f32>() / values.len() as f32;
        let var = values.iter().map(|v| (v - m).powi(2)).sum::<f32>()
            / values.len() as f32;
        assert!(
            (m - 2.0).abs() < 0.02 && (var - 0.25).abs() < 0.01,
            "{m} {var}"
        );
        // d(mean z)/dμ = 1 and d(Σ z)/d log σ² = ½ σ Σ ε.
        let grads = z.sum_all()?.backward()?;
        let d_mean = grads
            .get(mean.as_tensor())
            .expect("grad")
            .flatten_all()?
            .to_vec1::<f32>()?[0];
        assert!((d_mean - 20_000.0).abs() < 1e-2);
        let eps_sum: f32 = noise.sum_all()?.to_scalar()?;
        let d_logvar = grads
            .get(log_variance.as_tensor())
            .expect("grad")
            .flatten_all()?
            .to_vec1::<f32>()?[0];
        assert!((d_logvar - 0.25 * eps_sum).abs() < 1e-2 * eps_sum.abs().max(1.0));
        Ok(())
    }

    #[test]
    fn the_shipped_vae_loads_and_generates() -> anyhow::Result<()> {
        let device = Device::Cpu;
        let vae = Vae::shipped(&device)?;
        let samples = vae.sample(3, &mut ChaCha8Rng::seed_from_u64(1), &device)?;
        assert_eq!(samples.dims(), &[3, 3, 32, 32]);
        Ok(())
    }
}

//! Exercise (chapter 3): the VAE's reparameterisation trick.
//!
//! The encoder gives a mean μ and a log-variance log σ² per latent number. Sample
//! z ~ N(μ, σ²) as z = μ + σ·ε, where ε ~ N(0, 1) is given to you as `noise` and
//! σ = exp(½·log σ²). Written this way the randomness sits in ε, so candle can
//! differentiate z with respect to μ and log σ².
//!
//! Check your work: `cargo run -p clip-art-exercises` (the tests are in tests/reparameterise.rs).

use candle_core::{Result, Tensor};

pub fn reparameterise(
    mean: &Tensor,
    log_variance: &Tensor,
    noise: &Tensor,
) -> Result<Tensor> {
    // TODO: z = μ + exp(½ log σ²) · ε, element by element.
    todo!(
        "z for μ {:?}, log σ² {:?}, ε {:?}",
        mean.dims(),
        log_variance.dims(),
        noise.dims()
    )
}

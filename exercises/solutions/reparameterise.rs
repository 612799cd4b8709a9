//! Solution (chapter 3): the VAE's reparameterisation trick.

use candle_core::{Result, Tensor};

pub fn reparameterise(
    mean: &Tensor,
    log_variance: &Tensor,
    noise: &Tensor,
) -> Result<Tensor> {
    mean + (log_variance * 0.5)?.exp()? * noise
}

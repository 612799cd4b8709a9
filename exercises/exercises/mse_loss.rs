//! Exercise (chapter 3): the autoencoder's reconstruction loss.
//!
//! L(x, x̂) = 1/n · Σᵢ (xᵢ − x̂ᵢ)², over every number of every picture in the batch.
//! Write it with candle tensor operations so that candle can differentiate it.
//!
//! Check your work: `cargo run -p clip-art-exercises` (the tests are in tests/mse_loss.rs).

use candle_core::{Result, Tensor};

pub fn mse(pictures: &Tensor, reconstructions: &Tensor) -> Result<Tensor> {
    // TODO: the mean of the squared differences, as a scalar tensor.
    todo!(
        "MSE of {:?} and {:?}",
        pictures.dims(),
        reconstructions.dims()
    )
}

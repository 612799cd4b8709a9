//! Solution (chapter 3): the autoencoder's reconstruction loss.

use candle_core::{Result, Tensor};

pub fn mse(pictures: &Tensor, reconstructions: &Tensor) -> Result<Tensor> {
    (pictures - reconstructions)?.sqr()?.mean_all()
}

//! Solution (chapter 5): CLIP's contrastive loss.

use candle_core::{D, Result, Tensor};

/// Rows scaled to unit length: x / ‖x‖.
fn l2_normalize(x: &Tensor) -> Result<Tensor> {
    x.broadcast_div(&x.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?)
}

/// ln softmax along `dim`. Subtracting the maximum keeps exp finite; it is a
/// constant shift that cancels, so it needs no gradient.
fn log_softmax(logits: &Tensor, dim: usize) -> Result<Tensor> {
    let shifted = logits.broadcast_sub(&logits.max_keepdim(dim)?.detach())?;
    shifted.broadcast_sub(&shifted.exp()?.sum_keepdim(dim)?.log()?)
}

pub fn contrastive_loss(
    image_embeddings: &Tensor,
    text_embeddings: &Tensor,
    temperature: &Tensor,
) -> Result<Tensor> {
    let n = image_embeddings.dim(0)?;
    let image_e = l2_normalize(image_embeddings)?;
    let text_e = l2_normalize(text_embeddings)?;
    let logits = image_e
        .matmul(&text_e.t()?)?
        .broadcast_mul(&temperature.exp()?)?;
    // labels = arange(n) as one-hot rows: the identity matrix.
    let labels = Tensor::eye(n, logits.dtype(), logits.device())?;
    // axis=0: for each text, which image? axis=1: for each image, which text?
    let loss_i = (&labels * log_softmax(&logits, 0)?)?
        .sum(0)?
        .neg()?
        .mean_all()?;
    let loss_t = (&labels * log_softmax(&logits, 1)?)?
        .sum(1)?
        .neg()?
        .mean_all()?;
    (loss_i + loss_t)? / 2.0
}

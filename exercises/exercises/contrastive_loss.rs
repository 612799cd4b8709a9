//! Exercise (chapter 5): CLIP's contrastive loss.
//!
//! The paper's pseudocode, as in the lecture:
//!
//! ```text
//! I_e = l2_normalize(np.dot(I_f, W_i), axis=1)
//! T_e = l2_normalize(np.dot(T_f, W_t), axis=1)
//! logits = np.dot(I_e, T_e.T) * np.exp(t)
//! labels = np.arange(n)
//! loss_i = cross_entropy_loss(logits, labels, axis=0)
//! loss_t = cross_entropy_loss(logits, labels, axis=1)
//! loss = (loss_i + loss_t)/2
//! ```
//!
//! Here the embeddings are already projected (`np.dot(I_f, W_i)` is done): you get
//! `image_embeddings` `[n, d]` and `text_embeddings` `[n, d]`, where row i of each
//! belongs together, and the scalar temperature `t`. Write the rest:
//!
//! 1. scale every row to length 1 (x / ‖x‖);
//! 2. logits `[n, n]` = I_e · T_eᵀ · e^t;
//! 3. cross-entropy with labels arange(n) along both axes — image i must pick
//!    text i among all texts, and text i must pick image i among all images —
//!    each averaged over the n examples, and the mean of the two.
//!
//! Use candle tensor operations only (no `to_vec` and back): the checks ask candle
//! for the gradient with respect to the embeddings *and* the temperature.
//!
//! Check your work: `cargo run -p clip-art-exercises` (the tests are in tests/contrastive_loss.rs).

use candle_core::{Result, Tensor};

pub fn contrastive_loss(
    image_embeddings: &Tensor,
    text_embeddings: &Tensor,
    temperature: &Tensor,
) -> Result<Tensor> {
    // TODO: normalise the rows, logits = I_e · T_eᵀ · e^t, and the symmetric
    // cross-entropy with labels arange(n), as a scalar tensor.
    todo!(
        "contrastive loss of images {:?} and texts {:?} at temperature {:?}",
        image_embeddings.dims(),
        text_embeddings.dims(),
        temperature.dims()
    )
}

//! Exercise (chapter 2): cross-entropy and its gradient, by hand.
//!
//! Each row of `logits` is one example's network output y; the same row of `targets`
//! is the known distribution t (one-hot for a hard label). Implement
//!
//!   loss = mean over rows of  −Σ_i t_i · ln softmax(y)_i
//!   grad = ∂loss/∂y           (same shape as `logits`)
//!
//! Derive the gradient on paper first. The checks compare it with candle's autograd
//! and with a finite difference. You may use `clip_art::basics::softmax::softmax`.
//!
//! Check your work: `cargo run -p clip-art-exercises` (the tests are in tests/cross_entropy_grad.rs).

use ndarray::{Array2, ArrayView2};

pub fn cross_entropy(logits: ArrayView2<f32>, targets: ArrayView2<f32>) -> f32 {
    // TODO: the batch-mean soft-label cross-entropy (use ln of softmax, computed stably).
    todo!(
        "cross-entropy of {:?} against {:?}",
        logits.dim(),
        targets.dim()
    )
}

pub fn cross_entropy_grad(
    logits: ArrayView2<f32>,
    targets: ArrayView2<f32>,
) -> Array2<f32> {
    // TODO: ∂(batch-mean loss)/∂logits.
    todo!("gradient of {:?} against {:?}", logits.dim(), targets.dim())
}

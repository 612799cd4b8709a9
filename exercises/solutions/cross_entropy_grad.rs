//! Solution (chapter 2): cross-entropy and its gradient, by hand.

use clip_art::basics::softmax::softmax;
use ndarray::{Array2, ArrayView2, Axis};

pub fn cross_entropy(logits: ArrayView2<f32>, targets: ArrayView2<f32>) -> f32 {
    let mut total = 0.0;
    for (y, t) in logits.rows().into_iter().zip(targets.rows()) {
        // ln softmax(y)_i = (y_i − max) − ln Σ_j e^{y_j − max}
        let max = y.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let log_sum = y.fold(0.0, |s, &v| s + (v - max).exp()).ln();
        total -= y
            .iter()
            .zip(t)
            .map(|(&yi, &ti)| ti * (yi - max - log_sum))
            .sum::<f32>();
    }
    total / logits.len_of(Axis(0)) as f32
}

pub fn cross_entropy_grad(
    logits: ArrayView2<f32>,
    targets: ArrayView2<f32>,
) -> Array2<f32> {
    // ∂L/∂y_k = p_k − t_k per example; the batch mean divides by the number of rows.
    (softmax(logits) - targets) / logits.nrows() as f32
}

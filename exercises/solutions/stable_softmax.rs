//! Solution (chapter 2): a softmax that never overflows.

use ndarray::{Array2, ArrayView2};

pub fn softmax(logits: ArrayView2<f32>) -> Array2<f32> {
    let mut p = logits.to_owned();
    for mut row in p.rows_mut() {
        // e^{y − max} / Σ e^{y − max}: the same fraction, and the largest term is e^0 = 1.
        let max = row.fold(f32::NEG_INFINITY, |m, &y| m.max(y));
        row.mapv_inplace(|y| (y - max).exp());
        let sum = row.sum();
        row /= sum;
    }
    p
}

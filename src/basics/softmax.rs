//! Chapter 2 — softmax and categorical cross-entropy, from scratch on `ndarray`.
//!
//! Every function works on a batch: one row of `logits` (the network's outputs
//! y) per example. The tests check each one against candle's own softmax and
//! cross-entropy, against candle's autograd gradient, and against a finite
//! difference.

use ndarray::{Array1, Array2, ArrayView2, Axis};

// ANCHOR: softmax
/// p_i = e^{y_i} / Σ_j e^{y_j}, row by row.
///
/// Subtracting the row's maximum first changes nothing mathematically (it
/// cancels in the fraction) but keeps `exp` from overflowing: the largest term
/// becomes e^0 = 1.
pub fn softmax(logits: ArrayView2<f32>) -> Array2<f32> {
    let mut p = logits.to_owned();
    for mut row in p.rows_mut() {
        let max = row.fold(f32::NEG_INFINITY, |m, &y| m.max(y));
        row.mapv_inplace(|y| (y - max).exp());
        let sum = row.sum();
        row /= sum;
    }
    p
}
// ANCHOR_END: softmax

// ANCHOR: log_softmax
/// ln p_i = (y_i − max) − ln Σ_j e^{y_j − max}: never takes the log of a
/// rounded-off 0.
pub fn log_softmax(logits: ArrayView2<f32>) -> Array2<f32> {
    let mut out = logits.to_owned();
    for mut row in out.rows_mut() {
        let max = row.fold(f32::NEG_INFINITY, |m, &y| m.max(y));
        let log_sum = row.fold(0.0, |s, &y| s + (y - max).exp()).ln();
        row.mapv_inplace(|y| y - max - log_sum);
    }
    out
}
// ANCHOR_END: log_softmax

// ANCHOR: cross_entropy
/// The general form: L = −Σ_i p_known,i · ln p_model,i, averaged over the batch.
pub fn cross_entropy_soft(logits: ArrayView2<f32>, targets: ArrayView2<f32>) -> f32 {
    let log_p = log_softmax(logits);
    let per_example = -(&log_p * &targets).sum_axis(Axis(1));
    per_example.mean().unwrap_or(0.0)
}

/// The hard-label special case: L = −ln p_i for the correct class i, averaged.
pub fn cross_entropy(logits: ArrayView2<f32>, labels: &[usize]) -> f32 {
    let log_p = log_softmax(logits);
    let total: f32 = labels
        .iter()
        .enumerate()
        .map(|(row, &label)| -log_p[[row, label]])
        .sum();
    total / labels.len() as f32
}
// ANCHOR_END: cross_entropy

// ANCHOR: gradient
/// ∂L/∂y for the batch-mean cross-entropy: (softmax(y) − p_known) / n.
///
/// Derivation for one example: L = −Σ_i t_i ln p_i with
/// ln p_i = y_i − ln Σ_j e^{y_j}, so
/// ∂L/∂y_k = −t_k + (Σ_i t_i) · e^{y_k}/Σ_j e^{y_j} = p_k − t_k,
/// since the targets sum to 1.
pub fn cross_entropy_grad(
    logits: ArrayView2<f32>,
    targets: ArrayView2<f32>,
) -> Array2<f32> {
    let n = logits.nrows() as f32;
    (softmax(logits) - targets) / n
}
// ANCHOR_END: gradient

/// Hard labels as one-hot target rows, so the soft form and its gradient apply.
pub fn one_hot_targets(labels: &[usize], classes: usize) -> Array2<f32> {
    crate::basics::one_hot::one_hot_rows(labels, classes)
}

/// The index of the largest entry of each row: the predicted class.
pub fn argmax_rows(scores: ArrayView2<f32>) -> Array1<usize> {
    scores
        .rows()
        .into_iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
                    if v > best.1 { (i, v) } else { best }
                })
                .0
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{D, Device, Tensor, Var};
    use ndarray::array;

    fn to_tensor(a: &Array2<f32>) -> Tensor {
        Tensor::from_slice(
            a.as_standard_layout().as_slice().unwrap(),
            a.dim(),
            &Device::Cpu,
        )
        .unwrap()
    }

    fn to_array(t: &Tensor) -> Array2<f32> {
        let (r, c) = t.dims2().unwrap();
        Array2::from_shape_vec((r, c), t.flatten_all().unwrap().to_vec1().unwrap())
            .unwrap()
    }

    fn assert_close(a: &Array2<f32>, b: &Array2<f32>, tolerance: f32) {
        assert_eq!(a.dim(), b.dim());
        for (x, y) in a.iter().zip(b.iter()) {
            assert!((x - y).abs() <= tolerance, "{x} vs {y}\n{a}\n{b}");
        }
    }

    fn sample_logits() -> Array2<f32> {
        array![
            [2.0, 1.0, 0.1, -1.0],
            [0.5, 0.5, 0.5, 0.5],
            [-3.0, 4.0, 1.5, 0.0]
        ]
    }

    /// Soft targets: each row sums to one, like `p_known` on the slide.
    fn sample_targets() -> Array2<f32> {
        array![
            [0.7, 0.2, 0.1, 0.0],
            [0.0, 0.0, 1.0, 0.0],
            [0.25, 0.25, 0.25, 0.25]
        ]
    }

    #[test]
    fn softmax_is_a_distribution_equal_to_candles() {
        let logits = sample_logits();
        let ours = softmax(logits.view());
        for row in ours.rows() {
            assert!(row.iter().all(|&p| p > 0.0 && p < 1.0));
            assert!((row.sum() - 1.0).abs() < 1e-6);
        }
        let candle =
            candle_nn::ops::softmax(&to_tensor(&logits), D::Minus1).unwrap();
        assert_close(&ours, &to_array(&candle), 1e-6);
        let candle_log =
            candle_nn::ops::log_softmax(&to_tensor(&logits), D::Minus1).unwrap();
        assert_close(&log_softmax(logits.view()), &to_array(&candle_log), 1e-6);
    }

    #[test]
    fn cross_entropy_equals_candles() {
        let logits = sample_logits();
        let labels = [0usize, 2, 1];
        let targets = Tensor::new(&[0u32, 2, 1], &Device::Cpu).unwrap();
        let candle = candle_nn::loss::cross_entropy(&to_tensor(&logits), &targets)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!((cross_entropy(logits.view(), &labels) - candle).abs() < 1e-6);
        // The hard form is the soft form with one-hot targets.
        let soft =
            cross_entropy_soft(logits.view(), one_hot_targets(&labels, 4).view());
        assert!((soft - candle).abs() < 1e-6);
    }

    /// −mean Σ t·log_softmax(y), written with candle ops (so autograd can differentiate it).
    fn candle_soft_cross_entropy(logits: &Tensor, targets: &Array2<f32>) -> Tensor {
        let log_p = candle_nn::ops::log_softmax(logits, D::Minus1).unwrap();
        (log_p * to_tensor(targets))
            .unwrap()
            .sum(1)
            .unwrap()
            .neg()
            .unwrap()
            .mean_all()
            .unwrap()
    }

    #[test]
    fn soft_cross_entropy_equals_the_formula_in_candle() {
        let logits = sample_logits();
        let targets = sample_targets();
        let candle = candle_soft_cross_entropy(&to_tensor(&logits), &targets)
            .to_scalar::<f32>()
            .unwrap();
        assert!(
            (cross_entropy_soft(logits.view(), targets.view()) - candle).abs()
                < 1e-6
        );
    }

    #[test]
    fn hand_gradient_equals_candle_autograd() {
        let logits = sample_logits();
        let targets = sample_targets();
        let y = Var::from_tensor(&to_tensor(&logits)).unwrap();
        let loss = candle_soft_cross_entropy(y.as_tensor(), &targets);
        let grads = loss.backward().unwrap();
        let autograd = to_array(grads.get(y.as_tensor()).unwrap());
        assert_close(
            &cross_entropy_grad(logits.view(), targets.view()),
            &autograd,
            1e-5,
        );
    }

    #[test]
    fn hand_gradient_equals_finite_difference() {
        // f64 would hide f32 rounding; a central difference with h = 1e-2 on f32 is
        // accurate to O(h²) ≈ 1e-4 here, far below the gradient's size.
        let logits = sample_logits();
        let targets = sample_targets();
        let grad = cross_entropy_grad(logits.view(), targets.view());
        let h = 1e-2;
        for index in ndarray::indices(logits.dim()) {
            let mut plus = logits.clone();
            plus[index] += h;
            let mut minus = logits.clone();
            minus[index] -= h;
            let numeric = (cross_entropy_soft(plus.view(), targets.view())
                - cross_entropy_soft(minus.view(), targets.view()))
                / (2.0 * h);
            assert!(
                (numeric - grad[index]).abs() < 2e-4,
                "{index:?}: numeric {numeric} vs hand {}",
                grad[index]
            );
        }
    }

    #[test]
    fn huge_logits_stay_finite() {
        let logits = array![[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]];
        let p = softmax(logits.view());
        assert!(p.iter().all(|v| v.is_finite()), "{p}");
        assert_eq!(p.row(0).to_vec(), vec![1.0, 0.0, 0.0]);
        let log_p = log_softmax(logits.view());
        assert!(log_p.iter().all(|v| v.is_finite()), "{log_p}");
        // The correct class far behind: the loss is large, but a number.
        let loss = cross_entropy(logits.view(), &[1, 0, 2]);
        assert!(loss.is_finite() && loss > 1e4, "{loss}");
        let grad =
            cross_entropy_grad(logits.view(), one_hot_targets(&[1, 0, 2], 3).view());
        assert!(grad.iter().all(|v| v.is_finite()));
        // The naive formula overflows: this is why we subtract the maximum.
        let naive = logits.mapv(f32::exp);
        assert!(naive.iter().any(|v| v.is_infinite()));
    }

    #[test]
    fn argmax_picks_the_largest() {
        assert_eq!(argmax_rows(sample_logits().view()).to_vec(), vec![0, 0, 1]);
    }
}

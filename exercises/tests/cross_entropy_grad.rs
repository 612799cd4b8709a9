//! Checks for the `cross_entropy_grad` exercise, against candle's loss and autograd and a
//! finite difference.

#[cfg_attr(
    not(feature = "solutions"),
    path = "../exercises/cross_entropy_grad.rs"
)]
#[cfg_attr(feature = "solutions", path = "../solutions/cross_entropy_grad.rs")]
mod exercise;

use candle_core::{D, Device, Tensor, Var};
use exercise::{cross_entropy, cross_entropy_grad};
use ndarray::{Array2, array};

fn logits() -> Array2<f32> {
    array![
        [2.0, 1.0, 0.1, -1.0],
        [-3.0, 4.0, 1.5, 0.0],
        [0.3, 0.3, 0.3, 0.3]
    ]
}

fn targets() -> Array2<f32> {
    array![
        [0.7, 0.2, 0.1, 0.0],
        [0.0, 0.0, 1.0, 0.0],
        [0.25, 0.25, 0.25, 0.25]
    ]
}

fn tensor(a: &Array2<f32>) -> Tensor {
    Tensor::from_slice(a.as_slice().unwrap(), a.dim(), &Device::Cpu).unwrap()
}

/// candle's loss and its autograd gradient for the same logits and targets.
fn candle_loss_and_grad() -> (f32, Vec<f32>) {
    let y = Var::from_tensor(&tensor(&logits())).unwrap();
    let log_p = candle_nn::ops::log_softmax(y.as_tensor(), D::Minus1).unwrap();
    let loss = (log_p * tensor(&targets()))
        .unwrap()
        .sum(1)
        .unwrap()
        .neg()
        .unwrap()
        .mean_all()
        .unwrap();
    let grad = loss
        .backward()
        .unwrap()
        .get(y.as_tensor())
        .unwrap()
        .flatten_all()
        .unwrap();
    (loss.to_scalar().unwrap(), grad.to_vec1().unwrap())
}

#[test]
fn loss_equals_candles() {
    let (expected, _) = candle_loss_and_grad();
    let ours = cross_entropy(logits().view(), targets().view());
    assert!(
        (ours - expected).abs() < 1e-5,
        "loss: yours {ours}, candle's {expected}"
    );
}

#[test]
fn gradient_equals_candle_autograd() {
    let (_, expected) = candle_loss_and_grad();
    let ours = cross_entropy_grad(logits().view(), targets().view());
    assert_eq!(
        ours.dim(),
        logits().dim(),
        "one partial derivative per logit"
    );
    for (i, (a, b)) in ours.iter().zip(expected).enumerate() {
        assert!(
            (a - b).abs() < 1e-5,
            "entry {i}: yours {a}, autograd's {b} (did you divide by the batch size?)"
        );
    }
}

#[test]
fn gradient_equals_finite_difference() {
    let grad = cross_entropy_grad(logits().view(), targets().view());
    let h = 1e-2;
    for index in [(0, 0), (1, 2), (2, 3)] {
        let (mut plus, mut minus) = (logits(), logits());
        plus[index] += h;
        minus[index] -= h;
        let numeric = (cross_entropy(plus.view(), targets().view())
            - cross_entropy(minus.view(), targets().view()))
            / (2.0 * h);
        assert!(
            (numeric - grad[index]).abs() < 2e-4,
            "{index:?}: finite difference {numeric}, yours {}",
            grad[index]
        );
    }
}

#[test]
fn huge_logits_stay_finite() {
    let logits = array![[1e4f32, -1e4, 0.0]];
    let targets = array![[0.0f32, 1.0, 0.0]];
    let loss = cross_entropy(logits.view(), targets.view());
    assert!(
        loss.is_finite() && loss > 1e4,
        "loss for logits ±1e4 should be finite and large, got {loss}"
    );
    assert!(
        cross_entropy_grad(logits.view(), targets.view())
            .iter()
            .all(|v| v.is_finite())
    );
}

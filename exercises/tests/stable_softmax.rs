//! Checks for the `stable_softmax` exercise, against candle-nn's softmax.

#[cfg_attr(not(feature = "solutions"), path = "../exercises/stable_softmax.rs")]
#[cfg_attr(feature = "solutions", path = "../solutions/stable_softmax.rs")]
mod exercise;

use candle_core::{D, Device, Tensor};
use exercise::softmax;
use ndarray::{Array2, array};

fn candle_softmax(logits: &Array2<f32>) -> Vec<f32> {
    let t =
        Tensor::from_slice(logits.as_slice().unwrap(), logits.dim(), &Device::Cpu)
            .unwrap();
    candle_nn::ops::softmax(&t, D::Minus1)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

#[test]
fn equals_candles_softmax() {
    let logits = array![
        [2.0f32, 1.0, 0.1, -1.0],
        [0.5, 0.5, 0.5, 0.5],
        [-3.0, 4.0, 1.5, 0.0]
    ];
    let ours = softmax(logits.view());
    assert_eq!(ours.dim(), logits.dim(), "one probability per logit");
    for (i, (a, b)) in ours.iter().zip(candle_softmax(&logits)).enumerate() {
        assert!((a - b).abs() < 1e-6, "entry {i}: yours {a}, candle's {b}");
    }
}

#[test]
fn rows_are_distributions() {
    let logits = array![[3.0f32, -2.0, 0.0], [10.0, 10.0, 10.0]];
    for row in softmax(logits.view()).rows() {
        assert!(
            (row.sum() - 1.0).abs() < 1e-6,
            "a row sums to {}, not 1",
            row.sum()
        );
        assert!(row.iter().all(|&p| p >= 0.0));
    }
}

#[test]
fn huge_logits_stay_finite() {
    let logits = array![[1e4f32, -1e4, 0.0], [-1e4, -1e4, -1e4]];
    let p = softmax(logits.view());
    assert!(
        p.iter().all(|v| v.is_finite()),
        "NaN or infinity for logits of ±1e4: {p}"
    );
    assert_eq!(p.row(0).to_vec(), vec![1.0, 0.0, 0.0]);
    for v in p.row(1) {
        assert!(
            (v - 1.0 / 3.0).abs() < 1e-6,
            "equal logits must give equal probabilities"
        );
    }
}

//! Checks for the `mse_loss` exercise, against candle-nn's MSE and autograd.

#[cfg_attr(not(feature = "solutions"), path = "../exercises/mse_loss.rs")]
#[cfg_attr(feature = "solutions", path = "../solutions/mse_loss.rs")]
mod exercise;

use candle_core::{Device, Tensor, Var};
use exercise::mse;

#[test]
fn equals_the_formula_on_a_small_example() {
    let device = Device::Cpu;
    let x = Tensor::new(&[[0.0f32, 0.5], [1.0, 1.0]], &device).unwrap();
    let y = Tensor::new(&[[0.0f32, 1.0], [0.0, 1.0]], &device).unwrap();
    let loss = mse(&x, &y).unwrap();
    assert_eq!(
        loss.dims(),
        &[] as &[usize],
        "the loss must be a single number (a scalar tensor)"
    );
    let value = loss.to_scalar::<f32>().unwrap();
    assert!(
        (value - 0.3125).abs() < 1e-7,
        "(0 + 0.25 + 1 + 0) / 4 = 0.3125, yours gives {value}"
    );
}

#[test]
fn equals_candles_mse_on_a_batch_of_pictures() {
    let device = Device::Cpu;
    let x = Tensor::rand(0f32, 1.0, (4, 3, 8, 8), &device).unwrap();
    let y = Tensor::rand(0f32, 1.0, (4, 3, 8, 8), &device).unwrap();
    let ours = mse(&x, &y).unwrap().to_scalar::<f32>().unwrap();
    let candles = candle_nn::loss::mse(&x, &y)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(
        (ours - candles).abs() < 1e-6,
        "yours {ours}, candle's {candles}: average over every number"
    );
}

#[test]
fn candle_can_differentiate_it() {
    // dL/dx̂ = 2(x̂ − x)/n
    let device = Device::Cpu;
    let x = Tensor::new(&[1.0f32, 2.0, 3.0, 4.0], &device).unwrap();
    let guess = Var::new(&[0.0f32, 2.0, 5.0, 4.0], &device).unwrap();
    let grads = mse(&x, guess.as_tensor()).unwrap().backward().unwrap();
    let grad: Vec<f32> = grads
        .get(guess.as_tensor())
        .expect("no gradient reached the reconstruction")
        .to_vec1()
        .unwrap();
    assert_eq!(grad, vec![-0.5, 0.0, 1.0, 0.0]);
}

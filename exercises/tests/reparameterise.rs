//! Checks for the `reparameterise` exercise: sample statistics and autograd.

#[cfg_attr(not(feature = "solutions"), path = "../exercises/reparameterise.rs")]
#[cfg_attr(feature = "solutions", path = "../solutions/reparameterise.rs")]
mod exercise;

use candle_core::{Device, Tensor, Var};
use exercise::reparameterise;

#[test]
fn samples_have_the_asked_mean_and_variance() {
    let device = Device::Cpu;
    let n = 20_000;
    let noise = Tensor::randn(0f32, 1.0, (n, 1), &device).unwrap();
    let mean = Tensor::full(3.0f32, (n, 1), &device).unwrap();
    let log_variance = Tensor::full(4.0f32.ln(), (n, 1), &device).unwrap();
    let z: Vec<f32> = reparameterise(&mean, &log_variance, &noise)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let m = z.iter().sum::<f32>() / n as f32;
    let var = z.iter().map(|v| (v - m).powi(2)).sum::<f32>() / n as f32;
    assert!((m - 3.0).abs() < 0.1, "mean of z is {m}, wanted μ = 3");
    assert!(
        (var - 4.0).abs() < 0.3,
        "variance of z is {var}, wanted σ² = 4 (σ = exp(½ log σ²))"
    );
}

#[test]
fn gradients_reach_the_mean_and_the_log_variance() {
    // dz/dμ = 1 and dz/d(log σ²) = ½ σ ε.
    let device = Device::Cpu;
    let mean = Var::new(&[0.5f32, -1.0], &device).unwrap();
    let log_variance = Var::new(&[0.0f32, 2.0f32.ln()], &device).unwrap();
    let noise = Tensor::new(&[2.0f32, -1.0], &device).unwrap();
    let z =
        reparameterise(mean.as_tensor(), log_variance.as_tensor(), &noise).unwrap();
    let grads = z.sum_all().unwrap().backward().unwrap();
    let d_mean: Vec<f32> = grads
        .get(mean.as_tensor())
        .expect("no gradient reached μ")
        .to_vec1()
        .unwrap();
    assert_eq!(d_mean, vec![1.0, 1.0]);
    let d_logvar: Vec<f32> = grads
        .get(log_variance.as_tensor())
        .expect("no gradient reached log σ²")
        .to_vec1()
        .unwrap();
    // ½·σ·ε with (σ, ε) = (1, 2) and (√2, −1)
    let expected = [0.5 * 1.0 * 2.0, -(0.5 * 2.0f32.sqrt())];
    for (got, want) in d_logvar.iter().zip(expected) {
        assert!(
            (got - want).abs() < 1e-5,
            "d z / d log σ² = {got}, wanted ½·σ·ε = {want}"
        );
    }
}

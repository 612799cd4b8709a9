//! Checks for the `pgd_step` exercise: against a hand computation in plain numbers, the
//! ball and the picture's range on random inputs, a loss whose rise one step is known
//! exactly, and the crate's own step.

#[cfg_attr(not(feature = "solutions"), path = "../exercises/pgd_step.rs")]
#[cfg_attr(feature = "solutions", path = "../solutions/pgd_step.rs")]
mod exercise;

use candle_core::{Device, Tensor, Var};
use exercise::pgd_step;

const RADIUS: f32 = 8.0 / 255.0;
const STEP: f32 = 5.0 / 255.0;

fn tensor(values: &[f32]) -> Tensor {
    Tensor::from_slice(values, values.len(), &Device::Cpu).unwrap()
}

fn yours(pictures: &[f32], delta: &[f32], gradient: &[f32]) -> Vec<f32> {
    let new = pgd_step(
        &tensor(pictures),
        &tensor(delta),
        &tensor(gradient),
        STEP,
        RADIUS,
    )
    .unwrap();
    assert_eq!(
        new.dims(),
        &[pictures.len()],
        "the new δ has the pictures' shape"
    );
    new.to_vec1().unwrap()
}

/// The step with plain numbers, one pixel at a time.
fn by_hand(x: f32, delta: f32, gradient: f32) -> f32 {
    let sign = if gradient > 0.0 {
        1.0
    } else if gradient < 0.0 {
        -1.0
    } else {
        0.0
    };
    let moved = (delta + STEP * sign).clamp(-RADIUS, RADIUS);
    (x + moved).clamp(0.0, 1.0) - x
}

#[test]
fn equals_a_hand_computation() {
    // A pixel in the middle, one near each end of [0, 1], a δ already at the ball's edge,
    // a tiny gradient (only its sign counts) and a zero gradient.
    let pictures = [0.5, 0.99, 0.01, 0.5, 0.3, 0.7];
    let delta = [0.0, 0.0, 0.0, RADIUS, -0.01, 0.02];
    let gradient = [2.0, 1.0, -3.0, 0.5, 1e-6, 0.0];
    let new = yours(&pictures, &delta, &gradient);
    for i in 0..pictures.len() {
        let expected = by_hand(pictures[i], delta[i], gradient[i]);
        assert!(
            (new[i] - expected).abs() < 1e-6,
            "pixel {i}: x = {}, δ = {}, gradient {}: the new δ is {expected:.6}, yours \
             gives {:.6}{}",
            pictures[i],
            delta[i],
            gradient[i],
            new[i],
            if (new[i] - (delta[i] + STEP * gradient[i])).abs() < 1e-6 {
                " — step by step_size times the gradient's sign, not the gradient itself"
            } else {
                ""
            }
        );
    }
}

#[test]
fn stays_in_the_ball_and_keeps_a_picture() {
    let device = Device::Cpu;
    let pictures = Tensor::rand(0f32, 1.0, (2, 3, 8, 8), &device).unwrap();
    let mut delta = pictures.zeros_like().unwrap();
    for round in 0..5 {
        let gradient = Tensor::randn(0f32, 1.0, (2, 3, 8, 8), &device).unwrap();
        delta = pgd_step(&pictures, &delta, &gradient, STEP, RADIUS).unwrap();
        let largest = delta
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(
            largest <= RADIUS + 1e-6,
            "after step {round} a pixel of δ is {largest} away from 0, outside the ball of \
             radius {RADIUS}: clamp δ to [−radius, radius]"
        );
        let seen = (&pictures + &delta).unwrap();
        let (low, high) = (
            seen.min_all().unwrap().to_scalar::<f32>().unwrap(),
            seen.max_all().unwrap().to_scalar::<f32>().unwrap(),
        );
        assert!(
            low >= -1e-6 && high <= 1.0 + 1e-6,
            "after step {round} x + δ runs from {low} to {high}: keep the picture in [0, 1] \
             (δ = clamp(x + δ, 0, 1) − x)"
        );
    }
}

#[test]
fn raises_a_linear_loss_by_exactly_step_size_times_the_gradients_size() {
    // loss(x) = Σ w·x has gradient w everywhere. From δ = 0, in the middle of [0, 1],
    // one step raises it by step_size · Σ|w|: the most any step of that size can.
    let device = Device::Cpu;
    let weights = Tensor::randn(0f32, 1.0, 64, &device).unwrap();
    let pictures = Tensor::full(0.5f32, 64, &device).unwrap();
    let at = Var::from_tensor(&pictures).unwrap();
    let gradients = (at.as_tensor() * &weights)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let gradient = gradients.get(at.as_tensor()).unwrap();
    let delta = pgd_step(
        &pictures,
        &pictures.zeros_like().unwrap(),
        gradient,
        STEP,
        RADIUS,
    )
    .unwrap();
    let rise = (delta * &weights)
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    let most = STEP
        * weights
            .abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
    assert!(
        (rise - most).abs() < 1e-4 * most,
        "one step raised the loss by {rise}, the steepest step of size {STEP} raises it by \
         {most}: move every pixel by step_size in the direction of its gradient's sign"
    );
}

#[test]
fn agrees_with_the_crates_own_step() {
    let device = Device::Cpu;
    let pictures = Tensor::rand(0f32, 1.0, (1, 3, 5, 5), &device).unwrap();
    let delta = Tensor::rand(-RADIUS, RADIUS, (1, 3, 5, 5), &device).unwrap();
    let gradient = Tensor::randn(0f32, 1.0, (1, 3, 5, 5), &device).unwrap();
    let mine =
        clip_art::clip::robust::pgd_step(&pictures, &delta, &gradient, STEP, RADIUS)
            .unwrap();
    let theirs = pgd_step(&pictures, &delta, &gradient, STEP, RADIUS).unwrap();
    let difference = (mine - theirs).unwrap().abs().unwrap().max_all().unwrap();
    assert!(difference.to_scalar::<f32>().unwrap() < 1e-6);
}

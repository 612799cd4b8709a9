//! A robust guide: CLIP trained on adversarial pictures. Projected gradient
//! descent (PGD, Madry et al. 2018) finds, for each training picture, the
//! nearby picture — every pixel within `radius` of the original — that the
//! model gets most wrong, and the model learns from those. Classifiers
//! trained this way have gradients that look like the things they name,
//! which is why a robust guide might steer a generator better.

use candle_core::{Result, Tensor, Var};
use rand::Rng;

/// How [`perturb`] moves pictures: `steps` steps of `step_size` in an L∞ ball
/// of `radius` (pixel values are in [0, 1]).
#[derive(Debug, Clone, PartialEq)]
pub struct Pgd {
    pub radius: f32,
    pub steps: usize,
    pub step_size: f32,
}

impl Pgd {
    /// `steps` steps in a ball of `radius`, each 2.5 · radius / steps long (as
    /// Madry et al.), so that the walk can reach the ball's edge from anywhere.
    pub fn new(radius: f32, steps: usize) -> Pgd {
        Pgd {
            radius,
            steps,
            step_size: 2.5 * radius / steps.max(1) as f32,
        }
    }
}

// ANCHOR: pgd_step
/// One step of projected gradient ascent on a perturbation `delta` of
/// `pictures`: every pixel moves by `step_size` in the direction that raises
/// the loss (the sign of its `gradient`: the steepest step in L∞), then is
/// projected back into the ball |δ| ≤ `radius` and so that the picture stays
/// in [0, 1].
pub fn pgd_step(
    pictures: &Tensor,
    delta: &Tensor,
    gradient: &Tensor,
    step_size: f32,
    radius: f32,
) -> Result<Tensor> {
    let moved = (delta + (gradient.sign()? * f64::from(step_size))?)?;
    let in_ball = moved.clamp(-radius, radius)?;
    (pictures + in_ball)?.clamp(0f32, 1f32)? - pictures
}
// ANCHOR_END: pgd_step

// ANCHOR: perturb
/// `pictures` after PGD on `loss` (a scalar of the pictures): from a random
/// point of the ball, `pgd.steps` steps of [`pgd_step`].
pub fn perturb(
    pictures: &Tensor,
    loss: impl Fn(&Tensor) -> anyhow::Result<Tensor>,
    pgd: &Pgd,
    rng: &mut impl Rng,
) -> anyhow::Result<Tensor> {
    let pictures = pictures.detach();
    let start: Vec<f32> = (0..pictures.elem_count())
        .map(|_| rng.random_range(-pgd.radius..=pgd.radius))
        .collect();
    let start = Tensor::from_vec(start, pictures.shape(), pictures.device())?;
    let mut delta = ((&pictures + start)?.clamp(0f32, 1f32)? - &pictures)?;
    for _ in 0..pgd.steps {
        let seen = Var::from_tensor(&(&pictures + &delta)?)?;
        let gradients = loss(seen.as_tensor())?.backward()?;
        let Some(gradient) = gradients.get(seen.as_tensor()) else {
            anyhow::bail!("the loss does not depend on the pictures");
        };
        delta = pgd_step(&pictures, &delta, gradient, pgd.step_size, pgd.radius)?;
    }
    Ok((pictures + delta)?.detach())
}
// ANCHOR_END: perturb

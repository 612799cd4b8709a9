//! Exercise (chapter 6): one step of projected gradient descent (PGD), the attack a
//! robust guide is trained against.
//!
//! Adversarial training shows the model, instead of each training picture x, the picture
//! x + δ nearby that it gets most wrong: every pixel of δ is at most `radius` away from 0
//! (an L∞ ball), and x + δ is still a picture (values in [0, 1]). PGD finds δ by gradient
//! *ascent* on the loss, a few small steps, each followed by a projection back:
//!
//! ```text
//! δ ← δ + step_size · sign(∂loss/∂x)      the steepest step when every pixel may move
//!                                           by step_size (L∞): only the gradient's sign
//! δ ← clamp(δ, −radius, radius)           back into the ball
//! δ ← clamp(x + δ, 0, 1) − x              and the picture stays a picture
//! ```
//!
//! You get the pictures `x`, the current perturbation `delta` and the loss's `gradient`
//! at x + δ (all the same shape) and return the new δ. Use candle tensor operations
//! (`sign`, `clamp`, `+`, `-`, `*` by a number).
//!
//! Check your work: `cargo run -p clip-art-exercises` (the tests are in tests/pgd_step.rs).

use candle_core::{Result, Tensor};

pub fn pgd_step(
    pictures: &Tensor,
    delta: &Tensor,
    gradient: &Tensor,
    step_size: f32,
    radius: f32,
) -> Result<Tensor> {
    // TODO: step along the gradient's sign, clamp into the ball, keep x + δ in [0, 1].
    todo!(
        "one PGD step on {:?} pictures (δ {:?}, gradient {:?}, step {step_size}, radius {radius})",
        pictures.dims(),
        delta.dims(),
        gradient.dims()
    )
}

//! Homework (chapter 4): latent-space arithmetic.
//!
//! The lecture: "Original → Pose, Age, Expression, Eyeglasses". Find the
//! eyeglasses direction in the VAE's latent space and use it to put glasses on
//! faces that have none.
//!
//! 1. `attribute_direction`: the average latent code of the faces that have the
//!    attribute minus the average of those that do not.
//! 2. `apply_direction`: add `strength` × `direction` to every row (one face per row).
//!
//! The checker encodes labelled faces with the course's VAE, calls your two
//! functions, decodes the edited faces and asks the independent judge what it
//! sees. No hidden answer is compared: the faces must get glasses and keep their
//! pose, age and expression.
//!
//! Check your work: `cargo run -p clip-art-exercises` (the tests are in tests/latent_homework.rs).

use ndarray::{Array1, Array2};

pub fn attribute_direction(
    latents: &Array2<f32>,
    has_attribute: &[bool],
) -> Array1<f32> {
    // TODO: mean of the rows where has_attribute[i] is true, minus the mean of the others.
    todo!(
        "direction from {} latents and {} labels",
        latents.nrows(),
        has_attribute.len()
    )
}

pub fn apply_direction(
    latents: &Array2<f32>,
    direction: &Array1<f32>,
    strength: f32,
) -> Array2<f32> {
    // TODO: every row plus strength × direction.
    todo!(
        "move {} latents by {strength} × a direction of length {}",
        latents.nrows(),
        direction.len()
    )
}

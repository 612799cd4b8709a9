//! Solution (chapter 4): latent-space arithmetic.

use ndarray::{Array1, Array2, Axis};

pub fn attribute_direction(
    latents: &Array2<f32>,
    has_attribute: &[bool],
) -> Array1<f32> {
    let mean_of = |wanted: bool| {
        let rows: Vec<usize> = (0..has_attribute.len())
            .filter(|&i| has_attribute[i] == wanted)
            .collect();
        latents
            .select(Axis(0), &rows)
            .mean_axis(Axis(0))
            .expect("both groups are non-empty")
    };
    mean_of(true) - mean_of(false)
}

pub fn apply_direction(
    latents: &Array2<f32>,
    direction: &Array1<f32>,
    strength: f32,
) -> Array2<f32> {
    latents + &(direction * strength)
}

//! Checks for the latent-arithmetic homework, graded by the judge.

#[cfg_attr(not(feature = "solutions"), path = "../exercises/latent_homework.rs")]
#[cfg_attr(feature = "solutions", path = "../solutions/latent_homework.rs")]
mod exercise;

use candle_core::Device;
use clip_art::eval::faces::grade_edit;
use clip_art::models::latent::{decode, encode};
use clip_art::models::vae::Vae;
use clip_art::world::faces::{Attribute, Face, FaceBatch};
use clip_art::world::judge::faces::judge_faces;
use exercise::{apply_direction, attribute_direction};

/// Edits faces that lack `attribute` with the student's functions and returns
/// the judge's report.
fn edit(attribute: Attribute) -> clip_art::eval::faces::EditReport {
    let device = Device::Cpu;
    let vae = Vae::shipped(&device).unwrap();
    let size = clip_art::models::autoencoder::Config::default().image_size as u32;
    let labelled = FaceBatch::draw(300, size, 2024);
    let latents = encode(&vae, &labelled.images, &device).unwrap();
    let has: Vec<bool> = labelled
        .attribute(attribute)
        .iter()
        .map(|&v| v > 0.0)
        .collect();
    let direction = attribute_direction(&latents, &has);
    assert_eq!(
        direction.len(),
        latents.ncols(),
        "the direction must have one number per latent dimension"
    );

    let test = FaceBatch::draw(200, size, 2025);
    let without: Vec<Face> = test
        .faces
        .iter()
        .copied()
        .filter(|f| f.attribute(attribute) == 0.0)
        .collect();
    let images = FaceBatch::of(without.clone(), size).images;
    let latents = encode(&vae, &images, &device).unwrap();
    let moved = apply_direction(&latents, &direction, 1.0);
    assert_eq!(
        moved.dim(),
        latents.dim(),
        "apply_direction must keep one row per face"
    );
    let before = judge_faces(&decode(&vae, &latents, &device).unwrap());
    let after = judge_faces(&decode(&vae, &moved, &device).unwrap());
    grade_edit(attribute, 1.0, &before, &after)
}

fn assert_edit(attribute: Attribute) {
    let report = edit(attribute);
    assert!(
        report.achieved >= 0.9,
        "the judge saw {attribute} switched on in only {:.0}% of {} edited faces (need 90%). \
         Does your direction point from the faces without it to those with it?",
        100.0 * report.achieved,
        report.count
    );
    assert!(
        report.kept >= 0.9,
        "{attribute} was added, but only {:.0}% of the faces kept their other attributes (need 90%): \
         is the step too large, or are both groups' means taken over the right rows?",
        100.0 * report.kept
    );
}

#[test]
fn glasses_go_on_and_the_rest_stays() {
    assert_edit(Attribute::Eyeglasses);
}

#[test]
fn strength_zero_changes_nothing_and_strength_scales() {
    let latents = ndarray::array![[1.0f32, 2.0], [3.0, 4.0]];
    let direction = ndarray::array![0.5f32, -1.0];
    assert_eq!(
        apply_direction(&latents, &direction, 0.0),
        latents,
        "strength 0 must leave faces alone"
    );
    assert_eq!(
        apply_direction(&latents, &direction, 2.0),
        ndarray::array![[2.0f32, 0.0], [4.0, 2.0]]
    );
}

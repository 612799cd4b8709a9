//! The views' warps against kornia (`scripts/golden/make_warps.py`): the
//! matrices of kornia's affine map and perspective for given parameters, and
//! `warp_perspective` (bilinear, zeros padding) with its gradient.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Tensor, Var};

use clip_art::guide::augment::{Homography, Padding, warp};
use clip_art::nn::compare::max_difference;

fn golden() -> HashMap<String, Tensor> {
    let path = Path::new("tests/fixtures/augment/warps.safetensors");
    candle_core::safetensors::load(path, &clip_art::nn::device::test_device())
        .unwrap()
}

/// The three maps of the script, made by the course.
fn maps() -> anyhow::Result<[Homography; 3]> {
    let centre = 5.5;
    let affine = Homography::affine(
        12f64.to_radians(),
        4f64.to_radians(),
        (1.5, -0.8),
        centre,
    );
    let corners = [(0.0, 0.0), (11.0, 0.0), (11.0, 11.0), (0.0, 11.0)];
    let moved = [(1.0, 2.0), (10.0, 0.5), (9.0, 10.0), (0.5, 8.0)];
    let perspective = Homography::through(corners, moved)?;
    Ok([affine, perspective, affine.then(&perspective)])
}

#[test]
fn the_affine_map_and_the_perspective_are_kornias_matrices() -> anyhow::Result<()> {
    let theirs: Vec<Vec<Vec<f64>>> = golden()["forward"].to_vec3()?;
    for (k, (ours, theirs)) in maps()?.iter().zip(&theirs).enumerate() {
        for (row, their_row) in ours.0.iter().zip(theirs) {
            for (a, b) in row.iter().zip(their_row) {
                assert!((a - b).abs() < 1e-9, "map {k}: {:?} vs {theirs:?}", ours.0);
            }
        }
    }
    Ok(())
}

#[test]
fn the_warp_and_its_gradient_are_kornias_warp_perspective() -> anyhow::Result<()> {
    let golden = golden();
    let pictures = Var::from_tensor(&golden["pictures"])?;
    let sources: Vec<Homography> = maps()?
        .iter()
        .map(|map| map.inverse().expect("invertible"))
        .collect();
    let warped = warp(pictures.as_tensor(), &sources, Padding::Zeros)?;
    let difference = max_difference(&warped, &golden["warped"])?;
    let grads = (warped * &golden["weights"])?.sum_all()?.backward()?;
    let grad = grads.get(pictures.as_tensor()).expect("a gradient");
    let grad_difference = max_difference(grad, &golden["grad"])?;
    eprintln!("warped: {difference:.1e}, gradient: {grad_difference:.1e}");
    // The weights are computed in f64 and held in f32.
    assert!(difference < 1e-6 && grad_difference < 1e-6);
    Ok(())
}

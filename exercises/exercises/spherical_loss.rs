//! Exercise (chapter 6): the guidance loss of VQGAN+CLIP, the squared great-circle distance.
//!
//! CLIP-guided generation pulls the picture's CLIP embedding towards the prompt's.
//! VQGAN+CLIP does not use the cosine similarity itself but the squared distance along the
//! unit sphere (the great circle) between the two directions:
//!
//! ```text
//! L(x, y) = 2 · arcsin(‖x̂ − ŷ‖ / 2)²        x̂ = x / ‖x‖,  ŷ = y / ‖y‖
//! ```
//!
//! ‖x̂ − ŷ‖ is the chord between the two points on the unit sphere; if θ is the angle
//! between x and y, the chord is 2·sin(θ/2), so L = 2·(θ/2)² = θ²/2: 0 for the same
//! direction, π²/8 at right angles, π²/2 for opposite directions.
//!
//! You get `a` `[n, d]` (say, the embeddings of n cutouts) and `b` `[m, d]` (m prompts)
//! and return `[n, m]`: entry (i, j) is L(row i of a, row j of b). Steps:
//!
//! 1. scale every row of `a` and of `b` to length 1;
//! 2. for unit vectors ‖â − b̂‖² = 2 − 2·â·b̂, so all n·m squared chords are one matrix
//!    product: 2 − 2·â·b̂ᵀ. Rounding can push it a hair outside [0, 4]: clamp it there
//!    before the square root;
//! 3. chord / 2, arcsin, square, × 2.
//!
//! candle has no arcsin: `arcsin` below (the course's own, built from tensor ops)
//! computes it for values in [0, 1], gradients included. Use candle tensor operations
//! only (no `to_vec` and back): the checks ask candle for the gradient with respect to `a`.
//!
//! Check your work: `cargo run -p clip-art-exercises` (the tests are in tests/spherical_loss.rs).

use candle_core::{Result, Tensor};

/// arcsin, elementwise, for values in [0, 1] (ready-made: call it, don't change it).
#[allow(dead_code)] // until you call it
fn arcsin(x: &Tensor) -> Result<Tensor> {
    clip_art::guide::loss::arcsin_unit(x)
}

pub fn spherical_distance(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    // TODO: normalise the rows of both, the squared chords 2 − 2·â·b̂ᵀ clamped to
    // [0, 4], square root, / 2, arcsin, square, × 2: an [n, m] tensor.
    todo!(
        "spherical distance between the rows of {:?} and of {:?}",
        a.dims(),
        b.dims()
    )
}

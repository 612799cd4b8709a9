//! Exercise (chapter 6): the crop-and-resize matrix behind every cutout.
//!
//! CLIP judges many random crops ("cutouts") of the picture, each resized to CLIP's
//! input size. Cropping and resizing are linear in the pixels, so along one axis
//! they are a matrix R: a line of `full` pixels p becomes R·p, `out` pixels. Do it
//! for the rows and for the columns and a whole cutout is `R_y · image · R_xᵀ` —
//! plain matrix products that candle can differentiate and batch.
//!
//! Write R: the `[out, full]` matrix, row-major (entry (o, i) at `o * full + i`),
//! that takes the `size` pixels starting at `offset` and resamples them to `out`
//! pixels by area averaging:
//!
//! - let s = size / out (as a fraction: how many input pixels one output pixel spans);
//! - output pixel o covers the interval [o·s, (o+1)·s) of the crop;
//! - crop pixel i covers [i, i+1); its weight in output o is the length of the overlap
//!   of the two intervals divided by s, so each row of R sums to 1;
//! - crop pixel i is pixel `offset + i` of the full line: its column in R.
//!
//! For example 4 pixels → 2 averages pairs (weights ½, ½), 3 pixels → 2 gives rows
//! (⅔, ⅓, 0) and (0, ⅓, ⅔), and 2 pixels → 4 repeats each pixel twice.
//!
//! With `flip` the output runs backwards: row o of the flipped matrix is row
//! out − 1 − o of the unflipped one (a mirrored cutout, an augmentation).
//!
//! Check your work: `cargo run -p clip-art-exercises` (the tests are in tests/cutouts.rs).

pub fn resample_matrix(
    full: usize,
    offset: usize,
    size: usize,
    out: usize,
    flip: bool,
) -> Vec<f32> {
    // TODO: a zero matrix of out × full, then for every output pixel o and crop pixel i
    // the overlap of [o·s, (o+1)·s) and [i, i+1), divided by s, at column offset + i
    // (and row out − 1 − o when flipping).
    todo!(
        "resample {size} pixels at {offset} of a line of {full} to {out}{}",
        if flip { ", flipped" } else { "" }
    )
}

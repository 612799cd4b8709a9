//! Solution (chapter 6): the guidance loss of VQGAN+CLIP, the squared great-circle distance.

use candle_core::{D, Result, Tensor};

/// arcsin, elementwise, for values in [0, 1] (ready-made: call it, don't change it).
fn arcsin(x: &Tensor) -> Result<Tensor> {
    clip_art::guide::loss::arcsin_unit(x)
}

/// Rows scaled to unit length: x / ‖x‖.
fn l2_normalize(x: &Tensor) -> Result<Tensor> {
    x.broadcast_div(&x.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?)
}

pub fn spherical_distance(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (a, b) = (l2_normalize(a)?, l2_normalize(b)?);
    // ‖â − b̂‖² = 2 − 2·â·b̂ for every pair at once: affine(mul, add) is x·mul + add.
    let squared_chords = a.matmul(&b.t()?)?.affine(-2.0, 2.0)?.clamp(0.0, 4.0)?;
    let half_chords = (squared_chords.sqrt()? / 2.0)?;
    // 2 · arcsin(chord / 2)²
    arcsin(&half_chords)?.sqr()? * 2.0
}

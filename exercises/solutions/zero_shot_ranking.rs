//! Solution (chapter 5): zero-shot classification with a CLIP.

use candle_core::{D, Tensor};
use clip_art::clip::Clip;
use clip_art::clip::zero_shot::fill_template;

/// Rows scaled to unit length: x / ‖x‖.
fn l2_normalize(x: &Tensor) -> candle_core::Result<Tensor> {
    x.broadcast_div(&x.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?)
}

pub fn rank_labels(
    clip: &dyn Clip,
    picture: &Tensor,
    labels: &[&str],
    template: &str,
) -> anyhow::Result<Vec<(String, f32)>> {
    let sentences: Vec<String> =
        labels.iter().map(|l| fill_template(template, l)).collect();
    let sentences: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let texts = l2_normalize(&clip.text_embeddings(&sentences)?)?; // [labels, d]
    let image = l2_normalize(&clip.image_embeddings(picture)?)?; // [1, d]
    let logits = (image.matmul(&texts.t()?)? * clip.logit_scale()? as f64)?; // [1, labels]
    let probabilities: Vec<f32> = candle_nn::ops::softmax_last_dim(&logits)?
        .squeeze(0)?
        .to_vec1()?;
    let mut ranked: Vec<(String, f32)> = labels
        .iter()
        .map(|l| l.to_string())
        .zip(probabilities)
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(ranked)
}

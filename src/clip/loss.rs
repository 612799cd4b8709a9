//! The contrastive loss, line by line from the CLIP paper's pseudocode:
//!
//! ```text
//! I_e = l2_normalize(np.dot(I_f, W_i), axis=1)
//! T_e = l2_normalize(np.dot(T_f, W_t), axis=1)
//! logits = np.dot(I_e, T_e.T) * np.exp(t)
//! labels = np.arange(n)
//! loss_i = cross_entropy_loss(logits, labels, axis=0)
//! loss_t = cross_entropy_loss(logits, labels, axis=1)
//! loss = (loss_i + loss_t)/2
//! ```
//!
//! Every step is built from differentiable candle ops (no fused softmax), so the
//! gradient reaches the encoders, the projections and the temperature `t`.

use candle_core::{D, Tensor};

/// CLIP starts its temperature at t = ln(1/0.07), so e^t ≈ 14.3.
pub const INITIAL_TEMPERATURE: f64 = 2.659_260_036_932_778_4;
/// e^t is never allowed above 100 (CLIP clips t at ln 100 after each step).
pub const MAX_LOGIT_SCALE: f64 = 100.0;

// ANCHOR: loss_pieces
/// Rows scaled to unit length: x / ‖x‖.
pub fn l2_normalize(x: &Tensor) -> candle_core::Result<Tensor> {
    // + 1e-24 under the root: a vector of zeros (a small encoder whose ReLUs
    // are all off) stays zeros, with a finite gradient, instead of NaN.
    let squares = x.sqr()?.sum_keepdim(D::Minus1)?;
    x.broadcast_div(&(squares + 1e-24)?.sqrt()?)
}

/// ln softmax along `dim`, written out so autograd sees every step.
pub fn log_softmax(logits: &Tensor, dim: usize) -> candle_core::Result<Tensor> {
    // The max is a constant shift (it cancels), so it needs no gradient.
    let shifted = logits.broadcast_sub(&logits.max_keepdim(dim)?.detach())?;
    shifted.broadcast_sub(&shifted.exp()?.sum_keepdim(dim)?.log()?)
}

/// Cross-entropy with soft targets along `dim`: −Σ target · ln softmax(logits),
/// averaged over the other dimension. Hard labels are one-hot targets.
pub fn cross_entropy(
    logits: &Tensor,
    targets: &Tensor,
    dim: usize,
) -> candle_core::Result<Tensor> {
    let per_example = (targets * log_softmax(logits, dim)?)?.sum(dim)?.neg()?;
    per_example.mean_all()
}
// ANCHOR_END: loss_pieces

// ANCHOR: contrastive_loss
/// The scaled pairwise cosine similarities `[n_images, n_texts]`:
/// logits = I_e · T_eᵀ · e^t.
pub fn similarity_logits(
    image_embeddings: &Tensor,
    text_embeddings: &Tensor,
    temperature: &Tensor,
) -> candle_core::Result<Tensor> {
    let image_e = l2_normalize(image_embeddings)?;
    let text_e = l2_normalize(text_embeddings)?;
    image_e
        .matmul(&text_e.t()?)?
        .broadcast_mul(&temperature.exp()?)
}

/// The symmetric loss with `labels = np.arange(n)`: image i belongs with text i.
pub fn contrastive_loss(
    image_embeddings: &Tensor,
    text_embeddings: &Tensor,
    temperature: &Tensor,
) -> candle_core::Result<Tensor> {
    let n = image_embeddings.dim(0)?;
    let labels =
        Tensor::eye(n, image_embeddings.dtype(), image_embeddings.device())?;
    contrastive_loss_with_matches(
        image_embeddings,
        text_embeddings,
        temperature,
        &labels,
    )
}

/// The same loss when more than one text fits an image (captions repeat in a
/// batch): `matches[i][j]` is 1 where text j is true of image i. Each row and
/// each column is spread evenly over its matches; with one match each this is
/// exactly the pseudocode.
pub fn contrastive_loss_with_matches(
    image_embeddings: &Tensor,
    text_embeddings: &Tensor,
    temperature: &Tensor,
    matches: &Tensor,
) -> candle_core::Result<Tensor> {
    let logits = similarity_logits(image_embeddings, text_embeddings, temperature)?;
    let per_text = matches.broadcast_div(&matches.sum_keepdim(0)?)?;
    let per_image = matches.broadcast_div(&matches.sum_keepdim(1)?)?;
    // axis=0: for each text, which image? axis=1: for each image, which text?
    let loss_i = cross_entropy(&logits, &per_text, 0)?;
    let loss_t = cross_entropy(&logits, &per_image, 1)?;
    (loss_i + loss_t)? / 2.0
}
// ANCHOR_END: contrastive_loss

// ANCHOR: hard_negatives
/// NegCLIP's loss: extra `negatives` (captions with one thing changed) join
/// every image's choice of caption but choose no image themselves.
/// `negative_matches[i][k]` is 1 where negative k happens to be true of image i.
pub fn contrastive_loss_with_hard_negatives(
    image_embeddings: &Tensor,
    text_embeddings: &Tensor,
    negative_embeddings: &Tensor,
    temperature: &Tensor,
    matches: &Tensor,
    negative_matches: &Tensor,
) -> candle_core::Result<Tensor> {
    let texts = Tensor::cat(&[text_embeddings, negative_embeddings], 0)?;
    let logits = similarity_logits(image_embeddings, &texts, temperature)?;
    let captions = logits.narrow(1, 0, text_embeddings.dim(0)?)?;
    let per_text = matches.broadcast_div(&matches.sum_keepdim(0)?)?;
    let all_matches = Tensor::cat(&[matches, negative_matches], 1)?;
    let per_image = all_matches.broadcast_div(&all_matches.sum_keepdim(1)?)?;
    let loss_i = cross_entropy(&captions, &per_text, 0)?;
    let loss_t = cross_entropy(&logits, &per_image, 1)?;
    (loss_i + loss_t)? / 2.0
}
// ANCHOR_END: hard_negatives

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Var};

    /// The loss for 2×2 logits worked out by hand with plain f64 arithmetic.
    fn by_hand(images: [[f64; 2]; 2], texts: [[f64; 2]; 2], t: f64) -> f64 {
        let unit = |v: [f64; 2]| {
            let norm = (v[0] * v[0] + v[1] * v[1]).sqrt();
            [v[0] / norm, v[1] / norm]
        };
        let (i, tx) = (images.map(unit), texts.map(unit));
        let logit =
            |a: usize, b: usize| (i[a][0] * tx[b][0] + i[a][1] * tx[b][1]) * t.exp();
        // Rows: image a picks among texts; columns: text b picks among images.
        let row =
            |a: usize| -(logit(a, a) - (logit(a, 0).exp() + logit(a, 1).exp()).ln());
        let column =
            |b: usize| -(logit(b, b) - (logit(0, b).exp() + logit(1, b).exp()).ln());
        ((row(0) + row(1)) / 2.0 + (column(0) + column(1)) / 2.0) / 2.0
    }

    #[test]
    fn a_row_of_zeros_normalises_to_zeros_with_a_finite_gradient()
    -> candle_core::Result<()> {
        let x = Var::new(&[[3f32, 4.0], [0.0, 0.0]], &Device::Cpu)?;
        let unit = l2_normalize(x.as_tensor())?;
        assert_eq!(unit.to_vec2::<f32>()?, [[0.6, 0.8], [0.0, 0.0]]);
        let gradient = unit.sum_all()?.backward()?;
        let gradient = gradient.get(&x).expect("a gradient").to_vec2::<f32>()?;
        assert!(
            gradient.iter().flatten().all(|g| g.is_finite()),
            "{gradient:?}"
        );
        Ok(())
    }

    #[test]
    fn the_loss_equals_a_hand_computation() -> candle_core::Result<()> {
        let device = Device::Cpu;
        let images = [[1.0, 2.0], [-0.5, 0.3]];
        let texts = [[0.7, 1.1], [0.2, -0.9]];
        let t = 1.3;
        let loss = contrastive_loss(
            &Tensor::new(&images, &device)?,
            &Tensor::new(&texts, &device)?,
            &Tensor::new(t, &device)?,
        )?
        .to_scalar::<f64>()?;
        assert!((loss - by_hand(images, texts, t)).abs() < 1e-12, "{loss}");
        Ok(())
    }

    #[test]
    fn the_gradient_matches_finite_differences() -> candle_core::Result<()> {
        // Gradients to both embeddings and to the temperature.
        let device = Device::Cpu;
        let images = Var::rand(-1f64, 1.0, (4, 3), &device)?;
        let texts = Var::rand(-1f64, 1.0, (4, 3), &device)?;
        let t = Var::new(INITIAL_TEMPERATURE, &device)?;
        let matches = Tensor::new(
            &[
                [1.0, 0.0, 1.0, 0.0],
                [0.0, 1.0, 0.0, 0.0],
                [1.0, 0.0, 1.0, 0.0],
                [0.0, 0.0, 0.0, 1.0],
            ],
            &device,
        )?;
        let loss = |i: &Tensor, x: &Tensor, t: &Tensor| {
            contrastive_loss_with_matches(i, x, t, &matches)?.to_scalar::<f64>()
        };
        let grads = contrastive_loss_with_matches(&images, &texts, &t, &matches)?
            .backward()?;
        let step = 1e-6;
        for var in [&images, &texts, &t] {
            let analytic: Vec<f64> =
                grads.get(var).expect("gradient").flatten_all()?.to_vec1()?;
            for (k, &g) in analytic.iter().enumerate() {
                let mut bump = vec![0.0; var.elem_count()];
                bump[k] = step;
                let bump = Tensor::from_vec(bump, var.shape(), &device)?;
                let moved = |sign: f64| -> candle_core::Result<f64> {
                    let shifted = (var.as_tensor() + (&bump * sign)?)?;
                    let pick = |v: &Var| {
                        if std::ptr::eq(v, var) {
                            shifted.clone()
                        } else {
                            v.as_tensor().clone()
                        }
                    };
                    loss(&pick(&images), &pick(&texts), &pick(&t))
                };
                let numeric = (moved(1.0)? - moved(-1.0)?) / (2.0 * step);
                assert!((numeric - g).abs() < 1e-6, "{k}: {numeric} vs {g}");
            }
        }
        Ok(())
    }

    #[test]
    fn perfectly_aligned_pairs_cost_little_and_swapped_pairs_cost_much()
    -> candle_core::Result<()> {
        let device = Device::Cpu;
        let embeddings = Tensor::eye(8, DType::F32, &device)?;
        let t = Tensor::new(MAX_LOGIT_SCALE.ln() as f32, &device)?;
        let aligned =
            contrastive_loss(&embeddings, &embeddings, &t)?.to_scalar::<f32>()?;
        let swapped = contrastive_loss(&embeddings, &embeddings.flip(&[0])?, &t)?;
        assert!(aligned < 1e-3, "{aligned}");
        assert!(swapped.to_scalar::<f32>()? > 50.0);
        Ok(())
    }

    #[test]
    fn hard_negatives_join_each_images_row_but_get_no_column()
    -> candle_core::Result<()> {
        // Two images with their two captions, and one negative caption that is
        // false of both; worked out by hand in f64.
        let device = Device::Cpu;
        let unit = |v: [f64; 2]| {
            let norm = (v[0] * v[0] + v[1] * v[1]).sqrt();
            [v[0] / norm, v[1] / norm]
        };
        let images = [[1.0, 0.2], [0.1, 1.0]];
        let texts = [[0.9, 0.3], [-0.2, 1.1], [0.8, 0.8]];
        let t: f64 = 0.7;
        let (i, x) = (images.map(unit), texts.map(unit));
        let logit =
            |a: usize, b: usize| (i[a][0] * x[b][0] + i[a][1] * x[b][1]) * t.exp();
        let row = |a: usize| {
            -(logit(a, a) - (0..3).map(|b| logit(a, b).exp()).sum::<f64>().ln())
        };
        let column = |b: usize| {
            -(logit(b, b) - (0..2).map(|a| logit(a, b).exp()).sum::<f64>().ln())
        };
        let by_hand =
            ((row(0) + row(1)) / 2.0 + (column(0) + column(1)) / 2.0) / 2.0;
        let loss = contrastive_loss_with_hard_negatives(
            &Tensor::new(&images, &device)?,
            &Tensor::new(&[texts[0], texts[1]], &device)?,
            &Tensor::new(&[texts[2]], &device)?,
            &Tensor::new(t, &device)?,
            &Tensor::eye(2, DType::F64, &device)?,
            &Tensor::zeros((2, 1), DType::F64, &device)?,
        )?
        .to_scalar::<f64>()?;
        assert!((loss - by_hand).abs() < 1e-12, "{loss} vs {by_hand}");
        Ok(())
    }

    #[test]
    fn our_cross_entropy_equals_candles() -> candle_core::Result<()> {
        let device = Device::Cpu;
        let logits = Tensor::rand(-3f32, 3.0, (5, 7), &device)?;
        let labels = Tensor::new(&[0u32, 6, 2, 2, 4], &device)?;
        let targets = candle_nn::encoding::one_hot(labels.clone(), 7, 1f32, 0f32)?;
        let ours = cross_entropy(&logits, &targets, 1)?.to_scalar::<f32>()?;
        let candle =
            candle_nn::loss::cross_entropy(&logits, &labels)?.to_scalar::<f32>()?;
        assert!((ours - candle).abs() < 1e-5, "{ours} vs {candle}");
        Ok(())
    }
}

//! CLIP (lecture part 5): the contrastive loss from the paper's pseudocode, a
//! small CLIP trained here on the scenes world, zero-shot classification, and
//! the real OpenAI CLIP (ViT-B/32) with its byte-level BPE tokenizer.

pub mod ensemble;
pub mod loss;
pub mod mini;
pub mod openai;
pub mod robust;
pub mod zero_shot;

use candle_core::{Device, Tensor};

/// What zero-shot classification and guidance need from a CLIP, whichever it
/// is: mini-CLIP or OpenAI's ViT-B/32. Embeddings are not yet normalised.
pub trait Clip {
    /// Where the model's weights live.
    fn device(&self) -> &Device;
    /// Side of the square pictures the image encoder sees.
    fn image_size(&self) -> usize;
    /// Pictures `[n, 3, s, s]` with values in [0, 1] → image embeddings `[n, d]`.
    /// Differentiable with respect to the pixels.
    fn image_embeddings(&self, pictures: &Tensor) -> anyhow::Result<Tensor>;
    /// Texts → text embeddings `[n, d]`.
    fn text_embeddings(&self, texts: &[&str]) -> anyhow::Result<Tensor>;
    /// e^t, the learned scale of the cosine similarities.
    fn logit_scale(&self) -> anyhow::Result<f32>;

    /// A picture from a file as the `[1, 3, s, s]` tensor the image encoder
    /// takes. By default it is resized to s×s; OpenAI's CLIP resizes and crops
    /// its own way.
    fn picture(&self, image: &image::DynamicImage) -> anyhow::Result<Tensor> {
        let s = self.image_size() as u32;
        let resized = image::imageops::resize(
            &image.to_rgb8(),
            s,
            s,
            image::imageops::FilterType::Triangle,
        );
        Ok(
            crate::basics::pixels::image_to_tensor(&resized, self.device())?
                .unsqueeze(0)?,
        )
    }
}

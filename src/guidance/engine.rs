//! The lecture's loop, "How CLIP generates art": forward pass (latent →
//! generator → picture → cutouts → CLIP), loss against the prompts, backward
//! pass to the generator's variables, optimiser step, repeat.

use candle_core::Tensor;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::cutouts::Cutouts;
use super::generators::Generator;
use super::loss::prompt_loss;
use super::prompts::Prompt;
use crate::clip::Clip;

/// How long and how fast to optimise.
#[derive(Debug, Clone, PartialEq)]
pub struct GuideConfig {
    pub steps: usize,
    pub learning_rate: f64,
    /// `None`: CLIP sees the whole picture, resized to its input size.
    pub cutouts: Option<Cutouts>,
    /// Seeds the cutouts and augmentations.
    pub seed: u64,
}

/// Prompts embedded once by a CLIP, ready to score pictures.
pub struct Guide<'a> {
    clip: &'a dyn Clip,
    prompts: Vec<(Prompt, Tensor)>,
}

// ANCHOR: guide
impl<'a> Guide<'a> {
    /// Embeds each prompt's text with `clip`.
    pub fn new(clip: &'a dyn Clip, prompts: &[Prompt]) -> anyhow::Result<Guide<'a>> {
        anyhow::ensure!(!prompts.is_empty(), "guidance needs at least one prompt");
        let texts: Vec<&str> = prompts.iter().map(|p| p.text.as_str()).collect();
        let embeddings = clip.text_embeddings(&texts)?;
        let prompts = prompts
            .iter()
            .enumerate()
            .map(|(i, p)| Ok((p.clone(), embeddings.get(i)?)))
            .collect::<candle_core::Result<_>>()?;
        Ok(Guide { clip, prompts })
    }

    /// The loss of a picture `[1, 3, h, w]`: CLIP looks at its cutouts (or at
    /// the whole picture) and every prompt adds its weighted spherical distance.
    pub fn loss(
        &self,
        picture: &Tensor,
        cutouts: Option<&Cutouts>,
        rng: &mut ChaCha8Rng,
    ) -> anyhow::Result<Tensor> {
        let size = self.clip.image_size();
        let views = match cutouts {
            Some(cutouts) => cutouts.cut(picture, rng)?,
            None => Cutouts::plain(1, size).cut(picture, rng)?,
        };
        let images = self.clip.image_embeddings(&views)?;
        let mut total = Tensor::zeros((), images.dtype(), images.device())?;
        for (prompt, text) in &self.prompts {
            total = (total + prompt_loss(&images, text, prompt)?)?;
        }
        Ok(total)
    }

    /// Optimises `generator` with Adam for `cfg.steps` steps; `on_step` sees
    /// each step's loss. Stops with an error naming the step if the loss is
    /// not finite. Returns the losses.
    pub fn run(
        &self,
        generator: &dyn Generator,
        cfg: &GuideConfig,
        mut on_step: impl FnMut(usize, f32),
    ) -> anyhow::Result<Vec<f32>> {
        let mut adam = crate::autoencoder::adam(generator.variables(), cfg.learning_rate)?;
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let mut losses = Vec::with_capacity(cfg.steps);
        for step in 0..cfg.steps {
            let picture = generator.render()?;
            // Clamps inside the loss would hide NaN pixels: look at the picture too.
            let pixels = picture.sum_all()?.to_dtype(candle_core::DType::F32)?;
            let loss = self.loss(&picture, cfg.cutouts.as_ref(), &mut rng)?;
            let value = loss.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?;
            anyhow::ensure!(
                pixels.to_scalar::<f32>()?.is_finite(),
                "guidance diverged at step {step}: the picture has NaN or infinite pixels \
                 (try a lower learning rate)"
            );
            anyhow::ensure!(
                value.is_finite(),
                "guidance diverged at step {step}: the loss is {value} (try a lower learning rate)"
            );
            candle_nn::Optimizer::backward_step(&mut adam, &loss)?;
            losses.push(value);
            on_step(step, value);
        }
        Ok(losses)
    }
}
// ANCHOR_END: guide

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clip::mini::MiniClip;
    use crate::guidance::generators::{PixelDraw, RawPixels};
    use candle_core::Device;

    #[test]
    fn guidance_lowers_the_loss_and_is_reproducible() -> anyhow::Result<()> {
        let device = Device::Cpu;
        let clip = MiniClip::shipped(&device)?;
        let prompts = Prompt::parse_all("a red circle | a blue square:-0.3")?;
        let guide = Guide::new(&clip, &prompts)?;
        let cfg = GuideConfig {
            steps: 40,
            learning_rate: 0.1,
            cutouts: Some(Cutouts::plain(4, 32)),
            seed: 3,
        };
        let run = || -> anyhow::Result<(Vec<f32>, Vec<f32>)> {
            let generator = PixelDraw::new(8, 4, None, &mut ChaCha8Rng::seed_from_u64(1), &device)?;
            let losses = guide.run(&generator, &cfg, |_, _| {})?;
            let picture = generator.render()?.flatten_all()?.to_vec1()?;
            Ok((losses, picture))
        };
        let (losses, picture) = run()?;
        let early = losses[..5].iter().sum::<f32>() / 5.0;
        let late = losses[35..].iter().sum::<f32>() / 5.0;
        assert!(late < early - 0.1, "loss {early} → {late}");
        assert_eq!(run()?.1, picture, "same seed, same picture");
        Ok(())
    }

    #[test]
    fn a_diverging_run_is_reported() -> anyhow::Result<()> {
        let device = Device::Cpu;
        let clip = MiniClip::shipped(&device)?;
        let guide = Guide::new(&clip, &Prompt::parse_all("a red circle")?)?;
        let generator = RawPixels::new(32, &mut ChaCha8Rng::seed_from_u64(1), &device)?;
        generator.variables()[0].set(&Tensor::full(f32::NAN, (1, 3, 32, 32), &device)?)?;
        let cfg = GuideConfig {
            steps: 3,
            learning_rate: 0.1,
            cutouts: None,
            seed: 0,
        };
        let error = guide
            .run(&generator, &cfg, |_, _| {})
            .unwrap_err()
            .to_string();
        assert!(error.contains("step 0") && error.contains("NaN"), "{error}");
        Ok(())
    }
}

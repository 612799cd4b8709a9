//! The lecture's loop, "How CLIP generates art": forward pass (latent →
//! generator → picture → cutouts → CLIP), loss against the prompts, backward
//! pass to the generator's variables, optimiser step, repeat.

use std::ops::ControlFlow;

use candle_core::Tensor;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::cutouts::Cutouts;
use super::generators::Generator;
use super::loss::{prompt_loss, spherical_distance};
use super::prompts::Prompt;
use crate::clip::Clip;
use crate::nn::progress::stop_if_interrupted;

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
    /// An init picture the result should stay near, how, and how strongly.
    anchor: Option<(Tensor, Keep, f64)>,
}

// ANCHOR: keep
/// What of an init picture an edit keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Every pixel: MSE of the pictures. (VQGAN+CLIP's init weight is the MSE
    /// of the latent codes z instead; a distance between pictures works for
    /// every generator.)
    Pixels,
    /// Where things are, not their colours: MSE of each pixel's brightest
    /// channel. A red and a blue circle in one place have the same layout, so
    /// a prompt may recolour the picture freely but not move or reshape it.
    Layout,
}

impl Keep {
    /// The distance between pictures `[n, 3, h, w]` and `init` `[1, 3, h, w]`,
    /// one per picture.
    pub fn distances(
        self,
        pictures: &Tensor,
        init: &Tensor,
    ) -> anyhow::Result<Tensor> {
        let init = init.broadcast_as(pictures.shape())?;
        Ok(match self {
            Keep::Pixels => {
                crate::models::autoencoder::per_picture_mse(pictures, &init)?
            }
            Keep::Layout => crate::models::autoencoder::per_picture_mse(
                &pictures.max_keepdim(1)?,
                &init.max_keepdim(1)?,
            )?,
        })
    }
}
// ANCHOR_END: keep

impl<'a> Guide<'a> {
    /// Embeds each prompt's text with `clip`. With no text prompts, add an
    /// image prompt ([`Guide::with_image_prompt`]) before guiding.
    pub fn new(clip: &'a dyn Clip, prompts: &[Prompt]) -> anyhow::Result<Guide<'a>> {
        if prompts.is_empty() {
            return Ok(Guide {
                clip,
                prompts: Vec::new(),
                anchor: None,
            });
        }
        let texts: Vec<&str> = prompts.iter().map(|p| p.text.as_str()).collect();
        let embeddings = clip.text_embeddings(&texts)?;
        let prompts = prompts
            .iter()
            .enumerate()
            .map(|(i, p)| Ok((p.clone(), embeddings.get(i)?)))
            .collect::<candle_core::Result<_>>()?;
        Ok(Guide {
            clip,
            prompts,
            anchor: None,
        })
    }

    // ANCHOR: image_prompt
    /// Adds an image prompt: the picture `[1, 3, h, w]` (any size) is embedded
    /// by CLIP's image side and pulls like a text prompt of that `weight`
    /// (VQGAN+CLIP's image prompts, `--image_prompts` in nerdyrodent's
    /// VQGAN-CLIP). `label` names it in messages.
    pub fn with_image_prompt(
        mut self,
        label: &str,
        picture: &Tensor,
        weight: f32,
    ) -> anyhow::Result<Guide<'a>> {
        anyhow::ensure!(
            weight != 0.0 && weight.is_finite(),
            "image prompt {label}: the weight must be a non-zero number, \
             got {weight}"
        );
        let (n, channels, _, _) = picture.dims4()?;
        anyhow::ensure!(
            n == 1 && channels == 3,
            "image prompt {label}: expected one RGB picture [1, 3, h, w], got {:?}",
            picture.dims()
        );
        let view =
            super::cutouts::resize(&picture.detach(), self.clip.image_size())?;
        let embedding = self.clip.image_embeddings(&view)?.get(0)?;
        let prompt = Prompt {
            text: label.to_string(),
            weight,
            stop: f32::NEG_INFINITY,
        };
        self.prompts.push((prompt, embedding));
        Ok(self)
    }
    // ANCHOR_END: image_prompt

    /// Adds a noise prompt (nerdyrodent's VQGAN-CLIP `--noise_prompt_seeds`):
    /// a random direction in CLIP's embedding space, drawn from N(0, 1) with
    /// `seed`, that pulls like a text prompt of that `weight`. It adds
    /// variety where the words leave the picture open.
    pub fn with_noise_prompt(
        mut self,
        seed: u64,
        weight: f32,
    ) -> anyhow::Result<Guide<'a>> {
        anyhow::ensure!(
            weight != 0.0 && weight.is_finite(),
            "noise prompt {seed}: the weight must be a non-zero number, got {weight}"
        );
        // The embedding's width, from a blank picture.
        let size = self.clip.image_size();
        let blank = Tensor::zeros(
            (1, 3, size, size),
            candle_core::DType::F32,
            self.clip.device(),
        )?;
        let width = self.clip.image_embeddings(&blank)?.dim(1)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let normal = rand_distr::StandardNormal;
        let values: Vec<f32> = (0..width)
            .map(|_| rand_distr::Distribution::sample(&normal, &mut rng))
            .collect();
        let embedding = Tensor::from_vec(values, width, self.clip.device())?;
        let prompt = Prompt {
            text: format!("noise {seed}"),
            weight,
            stop: f32::NEG_INFINITY,
        };
        self.prompts.push((prompt, embedding));
        Ok(self)
    }

    /// Adds `weight` · the distance [`Keep`] measures between the picture and
    /// `init` to the loss: like VQGAN+CLIP's init weight, it keeps an edited
    /// picture close to the one it started from.
    pub fn anchored(mut self, init: &Tensor, keep: Keep, weight: f64) -> Guide<'a> {
        self.anchor = Some((init.detach(), keep, weight));
        self
    }

    // ANCHOR: guide_loss
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
        self.loss_of_views(picture, &views)
    }

    /// The loss of a picture `[1, 3, h, w]` whose views CLIP sees are
    /// `views` `[n, 3, s, s]`, already cut from it.
    pub fn loss_of_views(
        &self,
        picture: &Tensor,
        views: &Tensor,
    ) -> anyhow::Result<Tensor> {
        anyhow::ensure!(
            !self.prompts.is_empty(),
            "guidance needs at least one text or image prompt"
        );
        let images = self.clip.image_embeddings(views)?;
        let mut total = Tensor::zeros((), images.dtype(), images.device())?;
        for (prompt, text) in &self.prompts {
            total = (total + prompt_loss(&images, text, prompt)?)?;
        }
        if let Some((init, keep, weight)) = &self.anchor {
            let distance = keep.distances(picture, init)?.sum_all()?;
            total = (total + (distance * *weight)?)?;
        }
        Ok(total)
    }
    // ANCHOR_END: guide_loss

    /// Big Sleep's loss of the views `[n, 3, s, s]` (its `sim_txt_to_img`):
    /// −`coefficient` · Σ weight · the views' mean cosine similarity to each
    /// prompt, so a prompt to avoid (weight < 0) adds its similarity.
    pub fn cosine_loss_of_views(
        &self,
        views: &Tensor,
        coefficient: f64,
    ) -> anyhow::Result<Tensor> {
        anyhow::ensure!(
            !self.prompts.is_empty(),
            "guidance needs at least one text or image prompt"
        );
        let unit = |x: &Tensor| -> candle_core::Result<Tensor> {
            x.broadcast_div(&x.sqr()?.sum_keepdim(1)?.sqrt()?)
        };
        let images = unit(&self.clip.image_embeddings(views)?)?;
        let mut total = Tensor::zeros((), images.dtype(), images.device())?;
        for (prompt, text) in &self.prompts {
            let text = unit(&text.reshape((1, ()))?.to_dtype(images.dtype())?)?;
            let cosine = images.matmul(&text.t()?)?.mean_all()?;
            total = (total - (cosine * (coefficient * f64::from(prompt.weight)))?)?;
        }
        Ok(total)
    }

    // ANCHOR: guide_run
    /// Optimises `generator` with Adam for `cfg.steps` steps; `on_step` sees
    /// each step's loss and may stop the run early (Ctrl-C). Stops with an
    /// error naming the step if the loss is not finite. Returns the losses.
    pub fn run(
        &self,
        generator: &dyn Generator,
        cfg: &GuideConfig,
        mut on_step: impl FnMut(usize, f32) -> ControlFlow<()>,
    ) -> anyhow::Result<Vec<f32>> {
        let mut adam =
            crate::nn::train::adam(generator.variables(), cfg.learning_rate)?;
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let mut losses = Vec::with_capacity(cfg.steps);
        for step in 0..cfg.steps {
            let picture = generator.render()?;
            // Clamps inside the loss would hide NaN pixels: look at the picture too.
            let pixels = picture.sum_all()?.to_dtype(candle_core::DType::F32)?;
            let loss = self.loss(&picture, cfg.cutouts.as_ref(), &mut rng)?;
            let value =
                loss.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?;
            anyhow::ensure!(
                pixels.to_scalar::<f32>()?.is_finite(),
                "guidance diverged at step {step}: the picture has NaN or infinite \
                 pixels (try a lower learning rate)"
            );
            anyhow::ensure!(
                value.is_finite(),
                "guidance diverged at step {step}: the loss is {value} \
                 (try a lower learning rate)"
            );
            candle_nn::Optimizer::backward_step(&mut adam, &loss)?;
            generator.after_step()?;
            losses.push(value);
            if on_step(step, value).is_break() {
                break;
            }
        }
        Ok(losses)
    }
    // ANCHOR_END: guide_run

    /// The loss of each picture of `pictures` `[n, 3, h, w]`, seen whole (no
    /// cutouts, no gradient), init weight included: to rank candidate pictures
    /// by the same objective the loop minimises.
    pub fn scores(&self, pictures: &Tensor) -> anyhow::Result<Vec<f32>> {
        // In chunks: a bank of thousands at once would hold every layer's
        // activations for all of them (gigabytes, and slower).
        const CHUNK: usize = 512;
        let mut scores = Vec::with_capacity(pictures.dim(0)?);
        for start in (0..pictures.dim(0)?).step_by(CHUNK) {
            stop_if_interrupted("nothing was written")?;
            let chunk =
                pictures.narrow(0, start, CHUNK.min(pictures.dim(0)? - start))?;
            scores.extend(self.chunk_scores(&chunk.detach())?);
        }
        Ok(scores)
    }

    fn chunk_scores(&self, pictures: &Tensor) -> anyhow::Result<Vec<f32>> {
        let views = super::cutouts::resize(pictures, self.clip.image_size())?;
        let images = self.clip.image_embeddings(&views)?;
        let mut total =
            Tensor::zeros(images.dim(0)?, images.dtype(), images.device())?;
        for (prompt, text) in &self.prompts {
            let distance =
                spherical_distance(&images, &text.reshape((1, ()))?)?.squeeze(1)?;
            total = (total + (distance * f64::from(prompt.weight))?)?;
        }
        if let Some((init, keep, weight)) = &self.anchor {
            let distance = keep.distances(pictures, init)?;
            total = (total + (distance * *weight)?)?;
        }
        Ok(total.to_dtype(candle_core::DType::F32)?.to_vec1()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clip::mini::MiniClip;
    use crate::guide::generators::{PixelDraw, RawPixels};
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
            let generator = PixelDraw::new(
                8,
                4,
                None,
                &mut ChaCha8Rng::seed_from_u64(1),
                &device,
            )?;
            let losses =
                guide.run(&generator, &cfg, |_, _| ControlFlow::Continue(()))?;
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
    fn an_init_weight_keeps_the_picture_near_the_init() -> anyhow::Result<()> {
        let device = Device::Cpu;
        let clip = MiniClip::shipped(&device)?;
        let prompts = Prompt::parse_all("a yellow star")?;
        let init = Tensor::rand(0.2f32, 0.8, (1, 3, 32, 32), &device)?;
        let cfg = GuideConfig {
            steps: 30,
            learning_rate: 0.1,
            cutouts: None,
            seed: 0,
        };
        let drift = |weight: f64| -> anyhow::Result<f32> {
            let mut guide = Guide::new(&clip, &prompts)?;
            if weight > 0.0 {
                guide = guide.anchored(&init, Keep::Pixels, weight);
            }
            let generator = RawPixels::from_picture(&init)?;
            guide.run(&generator, &cfg, |_, _| ControlFlow::Continue(()))?;
            Ok(
                crate::models::autoencoder::mse(&generator.render()?, &init)?
                    .to_scalar::<f32>()?,
            )
        };
        let (free, anchored) = (drift(0.0)?, drift(100.0)?);
        assert!(
            anchored < 0.3 * free,
            "drift {free} free, {anchored} anchored"
        );
        Ok(())
    }

    #[test]
    fn a_noise_prompt_is_a_seeded_direction_that_guidance_approaches()
    -> anyhow::Result<()> {
        let clip = crate::clip::mini::MiniClip::shipped(&Device::Cpu)?;
        let noise = |seed| -> anyhow::Result<Tensor> {
            let guide = Guide::new(&clip, &[])?.with_noise_prompt(seed, 1.0)?;
            Ok(guide.prompts[0].1.clone())
        };
        let (a, again, b) = (noise(3)?, noise(3)?, noise(4)?);
        assert_eq!(a.to_vec1::<f32>()?, again.to_vec1::<f32>()?);
        assert_ne!(a.to_vec1::<f32>()?, b.to_vec1::<f32>()?);
        // Pixels steered by the noise prompt alone come closer to it.
        let guide = Guide::new(&clip, &[])?.with_noise_prompt(3, 1.0)?;
        let pixels =
            RawPixels::new(32, &mut ChaCha8Rng::seed_from_u64(0), &Device::Cpu)?;
        let cfg = GuideConfig {
            steps: 30,
            learning_rate: 0.05,
            cutouts: None,
            seed: 0,
        };
        let losses = guide.run(&pixels, &cfg, |_, _| ControlFlow::Continue(()))?;
        assert!(losses[29] < losses[0] * 0.9, "{losses:?}");
        let Err(zero) = Guide::new(&clip, &[])?.with_noise_prompt(3, 0.0) else {
            panic!("a noise prompt of weight 0 was accepted");
        };
        assert!(zero.to_string().contains("non-zero"), "{zero}");
        Ok(())
    }

    #[test]
    fn a_diverging_run_is_reported() -> anyhow::Result<()> {
        let device = Device::Cpu;
        let clip = MiniClip::shipped(&device)?;
        let guide = Guide::new(&clip, &Prompt::parse_all("a red circle")?)?;
        let generator =
            RawPixels::new(32, &mut ChaCha8Rng::seed_from_u64(1), &device)?;
        generator.variables()[0].set(&Tensor::full(
            f32::NAN,
            (1, 3, 32, 32),
            &device,
        )?)?;
        let cfg = GuideConfig {
            steps: 3,
            learning_rate: 0.1,
            cutouts: None,
            seed: 0,
        };
        let error = guide
            .run(&generator, &cfg, |_, _| ControlFlow::Continue(()))
            .unwrap_err()
            .to_string();
        assert!(error.contains("step 0") && error.contains("NaN"), "{error}");
        Ok(())
    }
}

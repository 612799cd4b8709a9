//! A generator with a prior for the scenes: every N(0, 1) vector
//! it is given decodes to a scene, as chapter 3's VAE does for faces.
//!
//! A VAE of the scenes' pixels fails where the faces' succeeds: an object
//! covers a few percent of the canvas, and under the KL term the decoder
//! learns the average scene, a dark canvas with faint smudges. Two changes make
//! samples sharp (`train-prior` measures them with the judge):
//!
//! - **Pixels are a choice, not a number.** The decoder gives each pixel a
//!   probability for each of the world's seven colours (background and six
//!   named ones) and is trained with cross-entropy; the picture paints the
//!   likeliest. An uncertain pixel is then one colour or another, never the
//!   grey-purple mean of all of them.
//! - **The prior is learned in a second stage** (two-stage VAE, Dai and Wipf
//!   2019; VQGAN learns its transformer prior over codes in the same way). An
//!   autoencoder with a small latent learns to reproduce scenes; then a small
//!   VAE learns the distribution of its latents. A sample is N(0, 1) → the
//!   second stage's decoder → a latent → the palette decoder → a scene.

use candle_core::{D, DType, Device, Module, Tensor, Var};
use candle_nn::{Linear, VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::vq::SameConv;
use crate::models::autoencoder::{self, Encoder, PatchDeconv};
use crate::models::vae::{kl_divergence, reparameterise, standard_normal};
use crate::nn::batch::images_to_batch;
use crate::nn::train::{fit, step_seed};
use crate::nn::weights::{self, seed_weights};
use crate::world::scenes::{Colour, SceneBatch, Split};

/// The trained prior shipped with the course (`clip-art train-prior`).
const SHIPPED_WEIGHTS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/weights/scenes-prior.safetensors"
));

/// Sizes of both stages.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Pictures are `image_size`×`image_size`, a multiple of 8.
    pub image_size: usize,
    /// Channels after each of the encoder's three 2×2 patch convolutions;
    /// the palette decoder mirrors them.
    pub channels: [usize; 3],
    /// Length of both latents (the autoencoder's and the prior's).
    pub latent: usize,
    /// Width of the second stage's hidden layers.
    pub hidden: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            image_size: 64,
            channels: [32, 64, 128],
            latent: 32,
            hidden: 512,
        }
    }
}

impl Config {
    fn autoencoder(&self) -> autoencoder::Config {
        autoencoder::Config {
            image_size: self.image_size,
            channels: self.channels,
            latent: self.latent,
        }
    }
}

// ANCHOR: palette
/// The colours a pixel can take: the background (the middle of the world's
/// dark greys) and the six named colours.
pub fn palette() -> [[u8; 3]; 7] {
    let mut colours = [[20, 20, 20]; 7];
    for (slot, colour) in colours[1..].iter_mut().zip(Colour::ALL) {
        *slot = colour.rgb();
    }
    colours
}

/// Logits `[n, 7, s, s]` → the picture `[n, 3, s, s]` in [0, 1]: each pixel
/// painted in its likeliest colour. Forward the painted picture; backward
/// the gradient of the softmax-weighted mix of colours (straight-through, as
/// the VQ decoder's codebook).
pub fn paint(logits: &Tensor) -> candle_core::Result<Tensor> {
    let colours: Vec<f32> = palette()
        .iter()
        .flat_map(|rgb| rgb.map(|v| f32::from(v) / 255.0))
        .collect();
    let colours = Tensor::from_vec(colours, (7, 3), logits.device())?;
    let (n, k, h, w) = logits.dims4()?;
    let rows = logits.permute((0, 2, 3, 1))?.reshape((n * h * w, k))?;
    // Not `softmax_last_dim`: candle gives that one no backward pass.
    let soft = candle_nn::ops::softmax(&rows, D::Minus1)?;
    let chosen = rows.argmax_keepdim(D::Minus1)?;
    let hard = Tensor::zeros_like(&soft)?.scatter_add(
        &chosen,
        &Tensor::ones_like(&chosen)?.to_dtype(soft.dtype())?,
        1,
    )?;
    let weights = (&soft + (hard - &soft)?.detach())?;
    weights
        .matmul(&colours)?
        .reshape((n, h, w, 3))?
        .permute((0, 3, 1, 2))
}
// ANCHOR_END: palette

/// Each pixel's nearest palette colour: the class the decoder should give it.
pub fn palette_classes(image: &image::RgbImage) -> Vec<u32> {
    let palette = palette();
    let distance = |a: [u8; 3], b: [u8; 3]| -> u32 {
        (0..3).map(|c| u32::from(a[c].abs_diff(b[c]))).sum()
    };
    image
        .pixels()
        .map(|p| {
            (0..7)
                .min_by_key(|&k| distance(p.0, palette[k]))
                .unwrap_or(0) as u32
        })
        .collect()
}

/// Latent `[n, latent]` → logits `[n, 7, s, s]`: a linear layer makes an
/// (s/8)×(s/8) map, patch deconvolutions grow it, and a 3×3 convolution at a
/// quarter of the size lets neighbouring cells agree on a shape's outline.
pub struct PaletteDecoder {
    head: Linear,
    deconvs: [PatchDeconv; 3],
    mix: SameConv,
    first: (usize, usize),
}

impl PaletteDecoder {
    pub fn new(vb: VarBuilder, cfg: &Config) -> candle_core::Result<Self> {
        let [c0, c1, c2] = cfg.channels;
        let side = cfg.image_size / 8;
        Ok(PaletteDecoder {
            head: candle_nn::linear(cfg.latent, c2 * side * side, vb.pp("head"))?,
            deconvs: [
                PatchDeconv::new(vb.pp("deconv0"), c2, c1, 2)?,
                PatchDeconv::new(vb.pp("deconv1"), c1, c0, 2)?,
                PatchDeconv::new(vb.pp("deconv2"), c0, 7, 2)?,
            ],
            mix: SameConv::new(vb.pp("mix"), c1, c1)?,
            first: (c2, side),
        })
    }
}

impl Module for PaletteDecoder {
    fn forward(&self, latents: &Tensor) -> candle_core::Result<Tensor> {
        let (c, s) = self.first;
        let n = latents.dim(0)?;
        let x = self.head.forward(latents)?.relu()?.reshape((n, c, s, s))?;
        let x = self.deconvs[0].forward(&x)?.relu()?;
        let x = self.mix.forward(&x)?.relu()?;
        let x = self.deconvs[1].forward(&x)?.relu()?;
        self.deconvs[2].forward(&x)
    }
}

/// Two hidden layers with ReLU: the second stage's encoder and decoder.
pub struct Mlp {
    layers: [Linear; 3],
}

impl Mlp {
    pub fn new(
        vb: VarBuilder,
        inputs: usize,
        hidden: usize,
        outputs: usize,
    ) -> candle_core::Result<Self> {
        Ok(Mlp {
            layers: [
                candle_nn::linear(inputs, hidden, vb.pp("0"))?,
                candle_nn::linear(hidden, hidden, vb.pp("1"))?,
                candle_nn::linear(hidden, outputs, vb.pp("2"))?,
            ],
        })
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let x = self.layers[0].forward(x)?.relu()?;
        let x = self.layers[1].forward(&x)?.relu()?;
        self.layers[2].forward(&x)
    }
}

// ANCHOR: prior
/// Both stages: the scene autoencoder (encoder and palette decoder) and the
/// VAE of its latents.
pub struct ScenePrior {
    pub encoder: Encoder,
    pub decoder: PaletteDecoder,
    pub latent_encoder: Mlp,
    pub latent_decoder: Mlp,
    pub config: Config,
}

impl ScenePrior {
    pub fn new(vb: VarBuilder, cfg: &Config) -> candle_core::Result<Self> {
        let (l, h) = (cfg.latent, cfg.hidden);
        Ok(ScenePrior {
            encoder: Encoder::new(vb.pp("encoder"), &cfg.autoencoder(), l)?,
            decoder: PaletteDecoder::new(vb.pp("decoder"), cfg)?,
            latent_encoder: Mlp::new(vb.pp("latent_encoder"), l, h, 2 * l)?,
            latent_decoder: Mlp::new(vb.pp("latent_decoder"), l, h, l)?,
            config: cfg.clone(),
        })
    }

    /// The generator: prior vectors `[n, latent]` → logits `[n, 7, s, s]`.
    pub fn decode(&self, z: &Tensor) -> candle_core::Result<Tensor> {
        self.decoder.forward(&self.latent_decoder.forward(z)?)
    }

    /// `count` fresh N(0, 1) vectors decoded and painted, `[count, 3, s, s]`.
    pub fn sample(
        &self,
        count: usize,
        rng: &mut impl Rng,
        device: &Device,
    ) -> candle_core::Result<Tensor> {
        let z = standard_normal(count, self.config.latent, rng, device)?;
        paint(&self.decode(&z)?)
    }
}
// ANCHOR_END: prior

/// Training settings of both stages.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Steps of the autoencoder, on fresh scenes each step.
    pub steps: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// Steps of the second stage (small: it learns vectors, not pictures).
    pub prior_steps: usize,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            steps: 2500,
            batch_size: 32,
            learning_rate: 2e-3,
            prior_steps: 3000,
            seed: 0,
        }
    }
}

/// How much more an object's pixels count than the background's: objects
/// cover a few percent of the canvas (the VQ decoder needs the same).
const OBJECT_WEIGHT: f64 = 5.0;

/// Noise added to the autoencoder's latents in training, so that its decoder
/// also paints scenes for the near misses the second stage will hand it.
const LATENT_NOISE: f64 = 0.1;

/// How hard the autoencoder's latents are kept near the origin, where the
/// second stage can model them.
const LATENT_PULL: f64 = 10.0;

/// The autoencoder's loss on one batch: cross-entropy of every pixel's
/// class, object pixels weighted, summed over the picture and averaged over
/// the batch, plus the pull of the latents towards the origin.
pub fn autoencoder_loss(
    prior: &ScenePrior,
    pictures: &Tensor,
    classes: &Tensor,
    noise: &Tensor,
) -> candle_core::Result<Tensor> {
    let n = pictures.dim(0)?;
    let latents = prior.encoder.forward(pictures)?;
    let logits = prior
        .decoder
        .forward(&(&latents + (noise * LATENT_NOISE)?)?)?;
    let rows = logits.permute((0, 2, 3, 1))?.flatten_to(2)?;
    let log_p = candle_nn::ops::log_softmax(&rows, D::Minus1)?;
    let picked = log_p.gather(&classes.unsqueeze(1)?, 1)?.squeeze(1)?;
    let weights =
        ((classes.ne(0u32)?.to_dtype(DType::F32)? * (OBJECT_WEIGHT - 1.0))? + 1.0)?;
    let cross_entropy = ((picked * weights)?.sum_all()? * (-1.0 / n as f64))?;
    cross_entropy + (latents.sqr()?.mean_all()? * LATENT_PULL)?
}

/// `count` scenes for one step: pictures `[n, 3, s, s]` and classes `[n·s·s]`.
fn training_scenes(
    count: usize,
    size: usize,
    seed: u64,
    device: &Device,
) -> candle_core::Result<(Tensor, Tensor)> {
    let batch = SceneBatch::draw(count, size as u32, Split::Train, seed);
    let classes: Vec<u32> = batch.images.iter().flat_map(palette_classes).collect();
    let classes = Tensor::from_vec(classes, count * size * size, device)?;
    Ok((images_to_batch(&batch.images, device)?, classes))
}

/// The variables whose names start with `prefix`.
fn variables(varmap: &VarMap, prefix: &str) -> Vec<Var> {
    let data = varmap.data().lock().expect("varmap lock");
    let mut named: Vec<(&String, &Var)> =
        data.iter().filter(|(k, _)| k.starts_with(prefix)).collect();
    named.sort_by_key(|(k, _)| k.as_str());
    named.into_iter().map(|(_, v)| v.clone()).collect()
}

/// Scenes the second stage learns from: 32 batches of 256.
pub const PRIOR_SCENES: (usize, usize) = (32, 256);

/// The second stage's learning rate (a third of it for the last third).
pub const PRIOR_LEARNING_RATE: f64 = 1e-3;

/// Trains the autoencoder on fresh scenes, then the VAE of its latents on
/// the latents of 8,192 scenes; calls `on_step(stage, step, loss)`. Returns
/// the model, its variables (to save) and each stage's losses.
pub fn train(
    cfg: &Config,
    train: &TrainConfig,
    device: &Device,
    mut on_step: impl FnMut(usize, usize, f32),
) -> anyhow::Result<(ScenePrior, VarMap, [Vec<f32>; 2])> {
    let varmap = VarMap::new();
    let prior =
        ScenePrior::new(VarBuilder::from_varmap(&varmap, DType::F32, device), cfg)?;
    seed_weights(&varmap, train.seed)?;
    let mut rng = ChaCha8Rng::seed_from_u64(train.seed);
    let (n, late) = (train.batch_size, train.steps * 3 / 4);
    let mut stage_one = variables(&varmap, "encoder");
    stage_one.extend(variables(&varmap, "decoder"));
    let first = fit(
        stage_one,
        train.steps,
        |step| train.learning_rate / if step >= late { 3.0 } else { 1.0 },
        |step| {
            let seed = step_seed(train.seed, step);
            let (pictures, classes) =
                training_scenes(n, cfg.image_size, seed, device)?;
            let noise = standard_normal(n, cfg.latent, &mut rng, device)?;
            Ok((autoencoder_loss(&prior, &pictures, &classes, &noise)?, ()))
        },
        |step, loss, ()| {
            on_step(0, step, loss);
            Ok(())
        },
    )?;
    let (batches, per_batch) = PRIOR_SCENES;
    let mut latents = Vec::with_capacity(batches);
    for k in 0..batches {
        let seed = step_seed(train.seed ^ 0x5eed, k);
        let (pictures, _) =
            training_scenes(per_batch, cfg.image_size, seed, device)?;
        latents.push(prior.encoder.forward(&pictures)?.detach());
    }
    let second = fit(
        variables(&varmap, "latent_"),
        train.prior_steps,
        |step| {
            PRIOR_LEARNING_RATE
                / if step >= train.prior_steps * 2 / 3 {
                    3.0
                } else {
                    1.0
                }
        },
        |step| {
            let u = &latents[step % batches];
            let both = prior.latent_encoder.forward(u)?;
            let (mean, log_variance) = (
                both.narrow(1, 0, cfg.latent)?,
                both.narrow(1, cfg.latent, cfg.latent)?,
            );
            let noise = standard_normal(per_batch, cfg.latent, &mut rng, device)?;
            let z = reparameterise(&mean, &log_variance, &noise)?;
            let error = (prior.latent_decoder.forward(&z)? - u)?.sqr()?.sum_all()?;
            let loss = ((error / per_batch as f64)?
                + kl_divergence(&mean, &log_variance)?)?;
            Ok((loss, ()))
        },
        |step, loss, ()| {
            on_step(1, step, loss);
            Ok(())
        },
    )?;
    Ok((prior, varmap, [first, second]))
}

impl ScenePrior {
    /// The trained prior that ships with the course, default [`Config`].
    pub fn shipped(device: &Device) -> anyhow::Result<ScenePrior> {
        weights::shipped(
            SHIPPED_WEIGHTS,
            "scenes-prior.safetensors",
            device,
            ScenePrior::new,
        )
    }

    /// Loads a prior saved by `clip-art train-prior`.
    pub fn load(
        path: &std::path::Path,
        cfg: &Config,
        device: &Device,
    ) -> anyhow::Result<ScenePrior> {
        weights::load(path, cfg, device, ScenePrior::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::scenes::{Position, Scene, Size};
    use crate::world::shapes::Shape;

    #[test]
    fn paint_shows_the_likeliest_colour_and_passes_the_softmax_gradient()
    -> anyhow::Result<()> {
        let device = Device::Cpu;
        let (n, h, w) = (2, 2, 3);
        let values: Vec<f32> = (0..n * 7 * h * w)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) / 4.0)
            .collect();
        let logits = Var::from_vec(values.clone(), (n, 7, h, w), &device)?;
        let painted = paint(logits.as_tensor())?;
        let pixels: Vec<f32> = painted.flatten_all()?.to_vec1()?;
        for (i, y, x) in (0..n)
            .flat_map(|i| (0..h).flat_map(move |y| (0..w).map(move |x| (i, y, x))))
        {
            let logit = |k: usize| values[((i * 7 + k) * h + y) * w + x];
            let best = (0..7)
                .max_by(|&a, &b| logit(a).total_cmp(&logit(b)))
                .unwrap();
            for c in 0..3 {
                let want = f32::from(palette()[best][c]) / 255.0;
                assert!((pixels[((i * 3 + c) * h + y) * w + x] - want).abs() < 1e-6);
            }
        }
        // The gradient is the softmax mix's, written here another way:
        // softmax over the class axis, then each colour channel a weighted sum.
        let seen: Vec<f32> =
            (0..n * 3 * h * w).map(|i| (i % 7) as f32 - 3.0).collect();
        let seen = Tensor::from_vec(seen, (n, 3, h, w), &device)?;
        let grads = (painted * &seen)?.sum_all()?.backward()?;
        let ours = grads.get(logits.as_tensor()).expect("a gradient");
        let soft = candle_nn::ops::softmax(logits.as_tensor(), 1)?;
        let mut mix = Vec::new();
        for c in 0..3 {
            let channel: Vec<f32> = palette()
                .iter()
                .map(|rgb| f32::from(rgb[c]) / 255.0)
                .collect();
            let channel = Tensor::from_vec(channel, (1, 7, 1, 1), &device)?;
            mix.push(soft.broadcast_mul(&channel)?.sum_keepdim(1)?);
        }
        let mix = Tensor::cat(&mix, 1)?;
        let grads = (mix * &seen)?.sum_all()?.backward()?;
        let reference = grads.get(logits.as_tensor()).expect("a gradient");
        let gap = (ours - reference)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(gap < 1e-6, "gradients differ by {gap}");
        Ok(())
    }

    #[test]
    fn an_object_s_pixels_are_its_colour_and_the_rest_background() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let middle = Position { column: 1, row: 1 };
        let scene = Scene::single(
            (Colour::Blue, Shape::Square),
            Size::Large,
            middle,
            30,
            &mut rng,
        );
        let classes = palette_classes(&scene.draw(64));
        let object = &scene.objects[0];
        let centre = (object.centre.0 * 64.0) as usize
            + 64 * (object.centre.1 * 64.0) as usize;
        // Blue is the fifth named colour: class 5.
        assert_eq!(classes[centre], 5);
        assert_eq!(classes[0], 0);
        assert!(classes.iter().all(|&k| k == 0 || k == 5));
    }
}

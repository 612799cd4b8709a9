//! A VQ decoder like VQGAN's, small enough to train here on the captioned
//! scenes: an encoder turns a 64×64 picture into a 16×16 grid of vectors, each
//! vector is replaced by the nearest entry of a learned codebook (vector
//! quantisation), and a decoder paints the picture back from the grid.
//!
//! For guidance the grid is the latent: the optimiser moves continuous vectors,
//! the forward pass snaps them to codebook entries, and the backward pass lets
//! the gradient through the snap unchanged (the straight-through estimator).
//! Because every picture is made of codebook entries the decoder was trained
//! on, it stays close to pictures of scenes — unlike raw pixels.

use std::path::Path;

use candle_core::{D, DType, Device, Module, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};

use super::generators::Generator;
use crate::models::autoencoder::{PatchConv, PatchDeconv};
use crate::nn::batch::images_to_batch;
use crate::nn::train::{fit, step_seed};
use crate::nn::weights::{self, seed_weights};
use crate::world::scenes::{SceneBatch, Split};

/// Sizes of the VQ autoencoder.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Pictures are `image_size`×`image_size`.
    pub image_size: usize,
    /// Channels of the encoder's 2×2 patch convolutions, one per halving of
    /// the picture (the decoder mirrors them): two give a grid 4 times smaller.
    pub channels: Vec<usize>,
    /// Length of a code vector.
    pub code_size: usize,
    /// Entries in the codebook.
    pub codebook_size: usize,
}

impl Config {
    /// Cells along each side of the code grid.
    pub fn grid_size(&self) -> usize {
        self.image_size >> self.channels.len()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            image_size: 64,
            channels: vec![32, 64],
            code_size: 16,
            codebook_size: 1024,
        }
    }
}

/// The commitment weight β of VQ-VAE: how hard the encoder is pulled towards
/// the codes it picks.
const COMMITMENT: f64 = 0.25;

// ANCHOR: quantise
/// The codebook `[K, d]` and the snap to it.
pub struct Codebook {
    entries: Tensor,
}

impl Codebook {
    /// The index of the nearest entry for every vector of `grid` `[n, d, h, w]`:
    /// `[n·h·w]`.
    pub fn nearest(&self, grid: &Tensor) -> candle_core::Result<Tensor> {
        let vectors = cells(grid)?; // [n·h·w, d]
        // ‖v − e‖² = ‖v‖² − 2 v·e + ‖e‖²; ‖v‖² is the same for every entry.
        let cross = vectors.matmul(&self.entries.t()?)?;
        let norms = self.entries.sqr()?.sum(1)?.unsqueeze(0)?;
        norms.broadcast_sub(&(cross * 2.0)?)?.argmin(1)
    }

    /// Every vector replaced by its nearest entry, `[n, d, h, w]`.
    pub fn quantise(&self, grid: &Tensor) -> candle_core::Result<Tensor> {
        let (n, d, h, w) = grid.dims4()?;
        self.entries
            .index_select(&self.nearest(grid)?, 0)?
            .reshape((n, h, w, d))?
            .permute((0, 3, 1, 2))
    }

    /// The quantised grid forward, the identity backward: z + sg(q − z).
    pub fn straight_through(&self, grid: &Tensor) -> candle_core::Result<Tensor> {
        let snapped = self.quantise(grid)?;
        grid + (snapped - grid)?.detach()
    }
}
// ANCHOR_END: quantise

/// `[n, d, h, w]` → one row per cell, `[n·h·w, d]`.
fn cells(grid: &Tensor) -> candle_core::Result<Tensor> {
    let (n, d, h, w) = grid.dims4()?;
    grid.permute((0, 2, 3, 1))?.reshape((n * h * w, d))
}

/// A 3×3 convolution with zero padding 1 (the output keeps its size), as one
/// matrix product of the nine shifted copies of the input with the kernel.
/// Same weights, layout and result as `candle_nn::conv2d` with padding 1
/// (tested), and several times faster to differentiate on a CPU.
pub struct SameConv {
    weight: Tensor, // [out, in, 3, 3]
    bias: Tensor,   // [out]
}

impl SameConv {
    pub fn new(
        vb: VarBuilder,
        inputs: usize,
        outputs: usize,
    ) -> candle_core::Result<Self> {
        let bound = 1.0 / ((inputs * 9) as f64).sqrt();
        let init = candle_nn::Init::Uniform {
            lo: -bound,
            up: bound,
        };
        Ok(SameConv {
            weight: vb.get_with_hints((outputs, inputs, 3, 3), "weight", init)?,
            bias: vb.get_with_hints(outputs, "bias", candle_nn::Init::Const(0.0))?,
        })
    }
}

impl Module for SameConv {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (n, c, h, w) = x.dims4()?;
        let out = self.weight.dim(0)?;
        let padded = x.pad_with_zeros(2, 1, 1)?.pad_with_zeros(3, 1, 1)?;
        let mut shifted = Vec::with_capacity(9);
        for dy in 0..3 {
            for dx in 0..3 {
                shifted.push(padded.narrow(2, dy, h)?.narrow(3, dx, w)?);
            }
        }
        // [n, c, 9, h, w] → one row per output cell: [n·h·w, c·9].
        let rows = Tensor::stack(&shifted, 2)?
            .permute((0, 3, 4, 1, 2))?
            .reshape((n * h * w, c * 9))?;
        rows.matmul(&self.weight.reshape((out, c * 9))?.t()?)?
            .broadcast_add(&self.bias)?
            .reshape((n, h, w, out))?
            .permute((0, 3, 1, 2))
    }
}

/// Picture `[n, 3, s, s]` → grid `[n, d, g, g]`.
pub struct VqEncoder {
    convs: Vec<PatchConv>,
    to_code: PatchConv,
}

/// Grid → picture in [0, 1]: two 3×3 convolutions let neighbouring codes
/// agree on shared edges, then the patch deconvolutions paint each cell's
/// pixels.
pub struct VqDecoder {
    mix: [SameConv; 2],
    deconvs: Vec<PatchDeconv>,
}

/// Encoder, codebook and decoder.
pub struct VqModel {
    pub encoder: VqEncoder,
    pub codebook: Codebook,
    pub decoder: VqDecoder,
    pub config: Config,
}

impl VqModel {
    pub fn new(vb: VarBuilder, cfg: &Config) -> candle_core::Result<Self> {
        let enc = vb.pp("encoder");
        let mut convs = Vec::new();
        let mut from = 3;
        for (i, &to) in cfg.channels.iter().enumerate() {
            convs.push(PatchConv::new(enc.pp(format!("conv{i}")), from, to, 2)?);
            from = to;
        }
        let to_code = PatchConv::new(enc.pp("to_code"), from, cfg.code_size, 1)?;
        let dec = vb.pp("decoder");
        let mix = [
            SameConv::new(dec.pp("mix0"), cfg.code_size, from)?,
            SameConv::new(dec.pp("mix1"), from, from)?,
        ];
        let mut deconvs = Vec::new();
        let widths: Vec<usize> = std::iter::once(3)
            .chain(cfg.channels.iter().copied())
            .collect();
        for (i, pair) in widths.windows(2).rev().enumerate() {
            deconvs.push(PatchDeconv::new(
                dec.pp(format!("deconv{i}")),
                pair[1],
                pair[0],
                2,
            )?);
        }
        let entries = vb.get((cfg.codebook_size, cfg.code_size), "codebook")?;
        Ok(VqModel {
            encoder: VqEncoder { convs, to_code },
            codebook: Codebook { entries },
            decoder: VqDecoder { mix, deconvs },
            config: cfg.clone(),
        })
    }

    /// The continuous grid before quantisation.
    pub fn encode(&self, pictures: &Tensor) -> candle_core::Result<Tensor> {
        let mut x = pictures.clone();
        for conv in &self.encoder.convs {
            x = conv.forward(&x)?.relu()?;
        }
        self.encoder.to_code.forward(&x)
    }

    /// The picture a (quantised or not) grid paints.
    pub fn decode(&self, grid: &Tensor) -> candle_core::Result<Tensor> {
        let mut x = grid.clone();
        for mix in &self.decoder.mix {
            x = mix.forward(&x)?.relu()?;
        }
        for (i, deconv) in self.decoder.deconvs.iter().enumerate() {
            x = deconv.forward(&x)?;
            if i + 1 < self.decoder.deconvs.len() {
                x = x.relu()?;
            }
        }
        candle_nn::ops::sigmoid(&x)
    }

    /// The grid `[1, d, g, g]` made of the given codebook entries, row by row.
    pub fn codes_to_grid(&self, codes: &[u32]) -> candle_core::Result<Tensor> {
        let g = self.config.grid_size();
        let indices = Tensor::new(codes, self.codebook.entries.device())?;
        self.codebook
            .entries
            .index_select(&indices, 0)?
            .reshape((1, g, g, self.config.code_size))?
            .permute((0, 3, 1, 2))
    }

    /// Encode, quantise, decode.
    pub fn reconstruct(&self, pictures: &Tensor) -> candle_core::Result<Tensor> {
        self.decode(&self.codebook.quantise(&self.encode(pictures)?)?)
    }
}

/// How much more an object's pixels count than the dark background's in the
/// reconstruction loss. Objects cover a few percent of a scene: with plain
/// MSE, painting only the background is a deep local minimum (measured: the
/// loss stalls at 0.02 with black reconstructions).
const OBJECT_WEIGHT: f64 = 20.0;

/// Squared error with object pixels (brightest channel above 0.35; the
/// background is darker than 40/255) weighted [`OBJECT_WEIGHT`] times, normalised
/// by the mean weight.
pub fn weighted_mse(
    pictures: &Tensor,
    reconstructions: &Tensor,
) -> candle_core::Result<Tensor> {
    let objects = pictures
        .max_keepdim(1)?
        .gt(0.35)?
        .to_dtype(pictures.dtype())?;
    let weights = (objects * OBJECT_WEIGHT)?.affine(1.0, 1.0)?;
    let errors = (pictures - reconstructions)?
        .sqr()?
        .broadcast_mul(&weights)?;
    errors.mean_all()?.broadcast_div(&weights.mean_all()?)
}

// ANCHOR: vq_loss
/// VQ-VAE's loss: reconstruction through the straight-through snap, plus the
/// codebook term ‖sg(z) − q‖² (moves the entries to the encoder's vectors)
/// and the commitment term β‖z − sg(q)‖² (keeps the encoder near its entries).
pub fn vq_loss(model: &VqModel, pictures: &Tensor) -> candle_core::Result<Tensor> {
    let grid = model.encode(pictures)?;
    let snapped = model.codebook.quantise(&grid)?;
    let through = (&grid + (&snapped - &grid)?.detach())?;
    let reconstruction = weighted_mse(pictures, &model.decode(&through)?)?;
    let codebook = (grid.detach() - &snapped)?.sqr()?.mean_all()?;
    let commitment = (&grid - snapped.detach())?.sqr()?.mean_all()?;
    reconstruction + codebook + (commitment * COMMITMENT)?
}
// ANCHOR_END: vq_loss

/// Training settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    pub steps: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// Every this many steps, codebook entries no picture used are moved onto
    /// encoder vectors of the current batch (otherwise they stay dead forever).
    pub revive_every: usize,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            steps: 4000,
            batch_size: 16,
            learning_rate: 3e-3,
            revive_every: 100,
            seed: 0,
        }
    }
}

/// One step's numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    pub loss: f32,
    /// Codebook entries in use since the last revival.
    pub codes_used: usize,
}

/// Training scenes for one step: fresh every step, the training split only.
fn training_scenes(
    cfg: &Config,
    train: &TrainConfig,
    step: usize,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let seed = step_seed(train.seed, step);
    let batch = SceneBatch::draw(
        train.batch_size,
        cfg.image_size as u32,
        Split::Train,
        seed,
    );
    images_to_batch(&batch.images, device)
}

/// Trains the VQ autoencoder with Adam on freshly drawn scenes.
pub fn train(
    cfg: &Config,
    train: &TrainConfig,
    device: &Device,
    mut on_step: impl FnMut(usize, StepReport),
) -> anyhow::Result<(VqModel, VarMap, Vec<StepReport>)> {
    let varmap = VarMap::new();
    let model =
        VqModel::new(VarBuilder::from_varmap(&varmap, DType::F32, device), cfg)?;
    seed_weights(&varmap, train.seed)?;
    let codebook = varmap.data().lock().expect("varmap lock")["codebook"].clone();
    let mut used = vec![false; cfg.codebook_size];
    let mut reports = Vec::with_capacity(train.steps);
    let step_loss = |step: usize| -> anyhow::Result<(Tensor, (Tensor, Vec<u32>))> {
        let pictures = training_scenes(cfg, train, step, device)?;
        if step == 0 {
            // Start the codebook on real encoder vectors, not random points.
            revive(
                &codebook,
                &model.encode(&pictures)?,
                &vec![false; cfg.codebook_size],
            )?;
        }
        let codes = model
            .codebook
            .nearest(&model.encode(&pictures)?)?
            .to_vec1::<u32>()?;
        Ok((vq_loss(&model, &pictures)?, (pictures, codes)))
    };
    fit(
        varmap.all_vars(),
        train.steps,
        |_| train.learning_rate,
        step_loss,
        |step, loss, (pictures, codes)| {
            for index in codes {
                used[index as usize] = true;
            }
            let report = StepReport {
                loss,
                codes_used: used.iter().filter(|&&u| u).count(),
            };
            reports.push(report);
            on_step(step, report);
            if (step + 1) % train.revive_every == 0 && step + 1 < train.steps {
                revive(&codebook, &model.encode(&pictures)?, &used)?;
                used.fill(false);
            }
            Ok(())
        },
    )?;
    Ok((model, varmap, reports))
}

/// Moves every unused codebook entry onto a vector of `grid`, spread evenly
/// over the batch's cells (deterministic).
fn revive(codebook: &Var, grid: &Tensor, used: &[bool]) -> candle_core::Result<()> {
    let vectors = cells(&grid.detach())?;
    let count = vectors.dim(0)?;
    let mut rows = codebook.as_tensor().to_vec2::<f32>()?;
    let dead: Vec<usize> = (0..rows.len()).filter(|&k| !used[k]).collect();
    for (i, &k) in dead.iter().enumerate() {
        let cell = (i * 7919 + 13) % count;
        rows[k] = vectors.get(cell)?.to_vec1::<f32>()?;
    }
    let flat: Vec<f32> = rows.concat();
    codebook.set(&Tensor::from_vec(flat, codebook.dims(), codebook.device())?)
}

/// The VQ autoencoder shipped with the course (`clip-art train-vq`).
const SHIPPED_WEIGHTS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/weights/scenes-vq.safetensors"
));

impl VqModel {
    /// The trained VQ autoencoder that ships with the course, default [`Config`].
    pub fn shipped(device: &Device) -> anyhow::Result<VqModel> {
        weights::shipped(
            SHIPPED_WEIGHTS,
            "scenes-vq.safetensors",
            device,
            VqModel::new,
        )
    }

    /// Loads a model saved by `clip-art train-vq`.
    pub fn load(
        path: &Path,
        cfg: &Config,
        device: &Device,
    ) -> anyhow::Result<VqModel> {
        weights::load(path, cfg, device, VqModel::new)
    }
}

// ANCHOR: vq_generator
/// The VQ decoder as a generator: the variable is the continuous code grid,
/// snapped to the codebook with a straight-through gradient on every render.
pub struct VqGenerator<'a> {
    model: &'a VqModel,
    grid: Var,
}

impl<'a> VqGenerator<'a> {
    /// Starts from a grid `[1, d, h, w]` (for example a picture's encoding).
    pub fn from_grid(
        model: &'a VqModel,
        grid: &Tensor,
    ) -> candle_core::Result<Self> {
        Ok(VqGenerator {
            model,
            grid: Var::from_tensor(&grid.detach())?,
        })
    }

    /// Starts from the encoding of a picture `[1, 3, s, s]` (inversion, editing).
    pub fn from_picture(
        model: &'a VqModel,
        picture: &Tensor,
    ) -> candle_core::Result<Self> {
        Self::from_grid(model, &model.encode(picture)?)
    }
}

impl Generator for VqGenerator<'_> {
    fn variables(&self) -> Vec<Var> {
        vec![self.grid.clone()]
    }

    fn render(&self) -> candle_core::Result<Tensor> {
        let snapped = self
            .model
            .codebook
            .straight_through(self.grid.as_tensor())?;
        self.model.decode(&snapped)
    }
}
// ANCHOR_END: vq_generator

/// Mean squared error of each reconstruction, `[n]`.
pub fn reconstruction_errors(
    model: &VqModel,
    pictures: &Tensor,
) -> candle_core::Result<Tensor> {
    (pictures - model.reconstruct(pictures)?)?
        .sqr()?
        .flatten_from(1)?
        .mean(D::Minus1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::compare::max_difference;

    fn tiny() -> Config {
        Config {
            image_size: 16,
            channels: vec![8, 8],
            code_size: 4,
            codebook_size: 6,
        }
    }

    fn random_model(cfg: &Config, seed: u64) -> anyhow::Result<(VqModel, VarMap)> {
        let varmap = VarMap::new();
        let model = VqModel::new(
            VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
            cfg,
        )?;
        seed_weights(&varmap, seed)?;
        // seed_weights zeroes 1-d tensors only; give the codebook spread-out entries.
        let codebook = varmap.data().lock().expect("lock")["codebook"].clone();
        codebook.set(&Tensor::randn(0f32, 1.0, codebook.dims(), &Device::Cpu)?)?;
        Ok((model, varmap))
    }

    #[test]
    fn same_conv_is_candles_conv2d_with_padding_one() -> anyhow::Result<()> {
        let device = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
        let ours = SameConv::new(vb.pp("c"), 3, 5)?;
        let theirs = candle_nn::Conv2d::new(
            ours.weight.clone(),
            Some(ours.bias.clone()),
            candle_nn::Conv2dConfig {
                padding: 1,
                ..Default::default()
            },
        );
        varmap.data().lock().expect("lock")["c.bias"]
            .set(&Tensor::randn(0f32, 1.0, 5, &device)?)?;
        let x = Tensor::randn(0f32, 1.0, (2, 3, 6, 7), &device)?;
        let difference = max_difference(&ours.forward(&x)?, &theirs.forward(&x)?)?;
        assert!(difference < 1e-5, "{difference}");
        Ok(())
    }

    #[test]
    fn quantising_picks_the_nearest_entry_and_passes_the_gradient_straight_through()
    -> anyhow::Result<()> {
        let device = Device::Cpu;
        let entries = Tensor::randn(0f32, 1.0, (5, 3), &device)?;
        let codebook = Codebook {
            entries: entries.clone(),
        };
        let grid =
            Var::from_tensor(&Tensor::randn(0f32, 1.0, (2, 3, 2, 2), &device)?)?;
        let chosen = codebook.nearest(grid.as_tensor())?.to_vec1::<u32>()?;
        // Brute force in plain Rust: the oracle.
        let rows = entries.to_vec2::<f32>()?;
        let cells = cells(grid.as_tensor())?.to_vec2::<f32>()?;
        for (cell, &k) in cells.iter().zip(&chosen) {
            let distance = |e: &Vec<f32>| -> f32 {
                e.iter().zip(cell).map(|(a, b)| (a - b).powi(2)).sum()
            };
            let best = rows
                .iter()
                .map(distance)
                .enumerate()
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(i, _)| i as u32);
            assert_eq!(Some(k), best);
        }
        let snapped = codebook.straight_through(grid.as_tensor())?;
        let off = max_difference(&snapped, &codebook.quantise(grid.as_tensor())?)?;
        assert!(off < 1e-6, "forward: the snapped grid, off by {off}");
        // d(Σ w·snap(z))/dz = w: the snap is the identity backwards.
        let weights = Tensor::randn(0f32, 1.0, (2, 3, 2, 2), &device)?;
        let grads = (snapped * &weights)?.sum_all()?.backward()?;
        let gradient = grads.get(&grid).expect("a gradient");
        assert_eq!(
            gradient.flatten_all()?.to_vec1::<f32>()?,
            weights.flatten_all()?.to_vec1::<f32>()?
        );
        Ok(())
    }

    #[test]
    fn a_grid_of_codes_quantises_back_to_its_codes() -> anyhow::Result<()> {
        let cfg = tiny();
        let (model, _) = random_model(&cfg, 1)?;
        let codes: Vec<u32> = (0..16).map(|i| (i * 5 % 6) as u32).collect();
        let grid = model.codes_to_grid(&codes)?;
        assert_eq!(grid.dims(), &[1, 4, 4, 4]);
        assert_eq!(model.codebook.nearest(&grid)?.to_vec1::<u32>()?, codes);
        Ok(())
    }

    #[test]
    fn object_pixels_weigh_more_in_the_reconstruction_loss() -> anyhow::Result<()> {
        let device = Device::Cpu;
        // One object pixel (bright red) among three background pixels.
        let picture = Tensor::new(
            &[[
                [[0.9f32, 0.05], [0.05, 0.05]],
                [[0.1, 0.05], [0.05, 0.05]],
                [[0.1, 0.05], [0.05, 0.05]],
            ]],
            &device,
        )?;
        let off = (&picture + 0.1)?;
        // Every pixel is off by 0.1: the weighted mean is still 0.01.
        let same = weighted_mse(&picture, &off)?.to_scalar::<f32>()?;
        assert!((same - 0.01).abs() < 1e-6, "{same}");
        // Only the object pixel's red is off by 0.3: 0.09 · 21 / (3 · (21 + 3)).
        let mut values = picture.flatten_all()?.to_vec1::<f32>()?;
        values[0] -= 0.3;
        let wrong = Tensor::from_vec(values, picture.dims(), &device)?;
        let loss = weighted_mse(&picture, &wrong)?.to_scalar::<f32>()?;
        let expected = 0.09 * 21.0 / (3.0 * 24.0);
        assert!((loss - expected).abs() < 1e-6, "{loss} vs {expected}");
        Ok(())
    }

    #[test]
    fn dead_codes_are_moved_onto_encoder_vectors() -> anyhow::Result<()> {
        let device = Device::Cpu;
        let codebook =
            Var::from_tensor(&Tensor::zeros((4, 3), DType::F32, &device)?)?;
        let grid = Tensor::randn(0f32, 1.0, (1, 3, 2, 3), &device)?;
        revive(&codebook, &grid, &[true, false, false, true])?;
        let rows = codebook.as_tensor().to_vec2::<f32>()?;
        let vectors = cells(&grid)?.to_vec2::<f32>()?;
        assert_eq!(
            (rows[0].clone(), rows[3].clone()),
            (vec![0.0; 3], vec![0.0; 3]),
            "used entries stay"
        );
        for k in [1, 2] {
            assert!(
                vectors.contains(&rows[k]),
                "entry {k} = {:?} is no grid vector",
                rows[k]
            );
        }
        assert_ne!(rows[1], rows[2], "revived entries differ");
        Ok(())
    }

    #[test]
    fn training_lowers_the_loss() -> anyhow::Result<()> {
        let cfg = tiny();
        let settings = TrainConfig {
            steps: 60,
            batch_size: 8,
            learning_rate: 3e-3,
            revive_every: 20,
            seed: 0,
        };
        let (_, _, reports) = train(&cfg, &settings, &Device::Cpu, |_, _| {})?;
        let early = reports[..5].iter().map(|r| r.loss).sum::<f32>() / 5.0;
        let late = reports[55..].iter().map(|r| r.loss).sum::<f32>() / 5.0;
        assert!(late < 0.7 * early, "loss {early} → {late}");
        Ok(())
    }

    #[test]
    fn the_generator_is_differentiable_in_its_grid() -> anyhow::Result<()> {
        let cfg = tiny();
        let (model, _) = random_model(&cfg, 2)?;
        let generator =
            VqGenerator::from_grid(&model, &model.codes_to_grid(&[1; 16])?)?;
        let picture = generator.render()?;
        assert_eq!(picture.dims(), &[1, 3, 16, 16]);
        let grads = picture.narrow(1, 0, 1)?.sum_all()?.backward()?;
        let gradient = grads.get(&generator.variables()[0]).expect("a gradient");
        assert!(gradient.abs()?.sum_all()?.to_scalar::<f32>()? > 0.0);
        Ok(())
    }

    #[test]
    fn bad_weight_files_are_named() -> anyhow::Result<()> {
        let folder = tempfile::tempdir()?;
        let missing = folder.path().join("missing.safetensors");
        let error = VqModel::load(&missing, &Config::default(), &Device::Cpu)
            .err()
            .expect("an error")
            .to_string();
        assert!(error.contains("missing.safetensors"), "{error}");
        let truncated = folder.path().join("truncated.safetensors");
        std::fs::write(&truncated, &SHIPPED_WEIGHTS[..1000])?;
        let error = format!(
            "{:#}",
            VqModel::load(&truncated, &Config::default(), &Device::Cpu)
                .err()
                .expect("an error")
        );
        assert!(error.contains("truncated.safetensors"), "{error}");
        // The shipped file with a different configuration: the tensor and both shapes are named.
        let shipped = folder.path().join("scenes-vq.safetensors");
        std::fs::write(&shipped, SHIPPED_WEIGHTS)?;
        let other = Config {
            codebook_size: 64,
            ..Config::default()
        };
        let error = format!(
            "{:#}",
            VqModel::load(&shipped, &other, &Device::Cpu)
                .err()
                .expect("an error")
        );
        assert!(
            error.contains("codebook") && error.contains("64"),
            "{error}"
        );
        Ok(())
    }
}

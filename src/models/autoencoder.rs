//! Chapter 3 — encoders, decoders and the autoencoder.
//!
//! An *encoder* squeezes a 64×64×3 picture (12 288 numbers) into a short latent
//! vector; a *decoder* turns a latent vector back into a picture. Trained
//! together to reproduce their input, they form an autoencoder, with the
//! lecture's reconstruction loss
//!
//! L(x, x̂) = 1/n · Σᵢ (xᵢ − x̂ᵢ)².
//!
//! Both halves are small convolutional networks written in candle's style
//! (`Config`, `new(vb, &cfg)`, `forward`). The same encoder and decoder also make
//! the variational autoencoder of [`crate::models::vae`].

use std::path::Path;

use candle_core::{D, DType, Device, Module, Tensor};
use candle_nn::{Linear, VarBuilder, VarMap};

use crate::nn::batch::images_to_batch;
use crate::nn::train::{fit, step_seed};
use crate::nn::weights::{self, seed_weights};
use crate::world::faces::FaceBatch;

/// Sizes of the encoder and decoder.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Pictures are `image_size`×`image_size` RGB; a multiple of 8. Faces are
    /// drawn at 32×32 for the models: every attribute is still clear (the judge
    /// compares at that size too) and training is four times cheaper.
    pub image_size: usize,
    /// Feature channels after each of the encoder's three 2×2 patch
    /// convolutions (the picture shrinks 8-fold); the decoder mirrors them.
    pub channels: [usize; 3],
    /// Length of the latent vector.
    pub latent: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            image_size: 32,
            channels: [32, 64, 128],
            latent: 32,
        }
    }
}

/// Patch sizes of the three convolutions, outermost first.
const PATCHES: [usize; 3] = [2, 2, 2];

/// A convolution whose stride equals its kernel size k: every output cell sees
/// its own k×k patch, so the whole layer is one matrix product of the
/// flattened patches with the flattened kernel. Same weights, layout and result
/// as `candle_nn::conv2d` with stride k (tested), and much faster on a CPU.
pub struct PatchConv {
    weight: Tensor, // [out, in, k, k], as candle's Conv2d
    bias: Tensor,   // [out]
    k: usize,
}

impl PatchConv {
    pub fn new(
        vb: VarBuilder,
        inputs: usize,
        outputs: usize,
        k: usize,
    ) -> candle_core::Result<Self> {
        let (weight, bias) =
            weight_and_bias(&vb, (outputs, inputs, k, k), inputs * k * k, outputs)?;
        Ok(PatchConv { weight, bias, k })
    }
}

impl Module for PatchConv {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        patch_product(x, &self.weight, self.k)?
            .broadcast_add(&self.bias)?
            .permute((0, 3, 1, 2))
    }
}

// ANCHOR: patch_product
/// The stride-k convolution without bias: every k×k patch of `x` `[n, c, h, w]`
/// times the kernel `[out, c, k, k]`, as one matrix product → `[n, h/k, w/k, out]`.
pub(crate) fn patch_product(
    x: &Tensor,
    kernel: &Tensor,
    k: usize,
) -> candle_core::Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let out = kernel.dim(0)?;
    let patches = patch_rows(x, k)?;
    let kernel = kernel.reshape((out, c * k * k))?;
    patches
        .matmul(&kernel.t()?)?
        .reshape((n, h / k, w / k, out))
}

/// Every k×k patch of `x` `[n, c, h, w]` as one row of c·k·k values, patches
/// in reading order: `[n·(h/k)·(w/k), c·k·k]`. Also CLIP's patch embedding
/// (chapter 5).
pub(crate) fn patch_rows(x: &Tensor, k: usize) -> candle_core::Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let (gh, gw) = (h / k, w / k);
    // [n, c, gh, k, gw, k] → [n, gh, gw, c, k, k]: one row per patch.
    x.reshape((n, c, gh, k, gw, k))?
        .permute((0, 2, 4, 1, 3, 5))?
        .reshape((n * gh * gw, c * k * k))
}
// ANCHOR_END: patch_product

// ANCHOR: patch_deconv
/// The transpose: every input cell paints its own k×k output patch. Same
/// weights, layout and result as `candle_nn::conv_transpose2d` with stride k.
pub struct PatchDeconv {
    weight: Tensor, // [in, out, k, k], as candle's ConvTranspose2d
    bias: Tensor,   // [out]
    k: usize,
}

impl PatchDeconv {
    pub fn new(
        vb: VarBuilder,
        inputs: usize,
        outputs: usize,
        k: usize,
    ) -> candle_core::Result<Self> {
        let (weight, bias) =
            weight_and_bias(&vb, (inputs, outputs, k, k), inputs, outputs)?;
        Ok(PatchDeconv { weight, bias, k })
    }
}

impl Module for PatchDeconv {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (n, c, h, w) = x.dims4()?;
        let (k, out) = (self.k, self.weight.dim(1)?);
        let cells = x.permute((0, 2, 3, 1))?.reshape((n * h * w, c))?;
        let painted = cells.matmul(&self.weight.reshape((c, out * k * k))?)?;
        // [n, h, w, out, k, k] → [n, out, h, k, w, k] → the upscaled picture.
        painted
            .reshape((n, h, w, out, k, k))?
            .permute((0, 3, 1, 4, 2, 5))?
            .reshape((n, out, h * k, w * k))?
            .broadcast_add(&self.bias.reshape((1, out, 1, 1))?)
    }
}
// ANCHOR_END: patch_deconv

/// A weight of `shape` uniform in ±1/√fan_in, as PyTorch starts one, and a zero
/// bias (both replaced by trained or seeded values).
fn weight_and_bias(
    vb: &VarBuilder,
    shape: (usize, usize, usize, usize),
    fan_in: usize,
    outputs: usize,
) -> candle_core::Result<(Tensor, Tensor)> {
    let bound = 1.0 / (fan_in as f64).sqrt();
    let init = candle_nn::Init::Uniform {
        lo: -bound,
        up: bound,
    };
    Ok((
        vb.get_with_hints(shape, "weight", init)?,
        vb.get_with_hints(outputs, "bias", candle_nn::Init::Const(0.0))?,
    ))
}

// ANCHOR: encoder
/// Picture `[n, 3, s, s]` → `outputs` numbers per picture: three patch
/// convolutions shrink the picture 8-fold, then a linear layer reads out.
pub struct Encoder {
    convs: Vec<PatchConv>,
    head: Linear,
}

impl Encoder {
    pub fn new(
        vb: VarBuilder,
        cfg: &Config,
        outputs: usize,
    ) -> candle_core::Result<Self> {
        Self::with_inputs(vb, cfg, 3, outputs)
    }

    /// An encoder of pictures with `inputs` channels instead of RGB's 3.
    pub fn with_inputs(
        vb: VarBuilder,
        cfg: &Config,
        inputs: usize,
        outputs: usize,
    ) -> candle_core::Result<Self> {
        let mut convs = Vec::new();
        let mut from = inputs;
        for (i, (&to, k)) in cfg.channels.iter().zip(PATCHES).enumerate() {
            convs.push(PatchConv::new(vb.pp(format!("conv{i}")), from, to, k)?);
            from = to;
        }
        let cells = (cfg.image_size / 8).pow(2);
        let head = candle_nn::linear(from * cells, outputs, vb.pp("head"))?;
        Ok(Encoder { convs, head })
    }
}

impl Module for Encoder {
    fn forward(&self, pictures: &Tensor) -> candle_core::Result<Tensor> {
        let mut x = pictures.clone();
        for conv in &self.convs {
            x = conv.forward(&x)?.relu()?;
        }
        self.head.forward(&x.flatten_from(1)?)
    }
}
// ANCHOR_END: encoder

// ANCHOR: decoder
/// Latent `[n, latent]` → picture `[n, 3, s, s]` in [0, 1]: a linear layer makes
/// an (s/8)×(s/8) feature map, then three patch deconvolutions grow it back.
pub struct Decoder {
    head: Linear,
    deconvs: Vec<PatchDeconv>,
    first_channels: usize,
    first_size: usize,
}

impl Decoder {
    pub fn new(vb: VarBuilder, cfg: &Config) -> candle_core::Result<Self> {
        let [c0, c1, c2] = cfg.channels;
        let first_size = cfg.image_size / 8;
        let head = candle_nn::linear(
            cfg.latent,
            c2 * first_size * first_size,
            vb.pp("head"),
        )?;
        let steps = [
            (c2, c1, PATCHES[2]),
            (c1, c0, PATCHES[1]),
            (c0, 3, PATCHES[0]),
        ];
        let mut deconvs = Vec::new();
        for (i, (from, to, k)) in steps.into_iter().enumerate() {
            deconvs.push(PatchDeconv::new(
                vb.pp(format!("deconv{i}")),
                from,
                to,
                k,
            )?);
        }
        Ok(Decoder {
            head,
            deconvs,
            first_channels: c2,
            first_size,
        })
    }
}

impl Module for Decoder {
    fn forward(&self, latents: &Tensor) -> candle_core::Result<Tensor> {
        let n = latents.dim(0)?;
        let (c, s) = (self.first_channels, self.first_size);
        let mut x = self.head.forward(latents)?.relu()?.reshape((n, c, s, s))?;
        for (i, deconv) in self.deconvs.iter().enumerate() {
            x = deconv.forward(&x)?;
            if i + 1 < self.deconvs.len() {
                x = x.relu()?;
            }
        }
        candle_nn::ops::sigmoid(&x)
    }
}
// ANCHOR_END: decoder

// ANCHOR: autoencoder
/// Encoder and decoder trained together to reproduce the input.
pub struct Autoencoder {
    pub encoder: Encoder,
    pub decoder: Decoder,
}

impl Autoencoder {
    pub fn new(vb: VarBuilder, cfg: &Config) -> candle_core::Result<Self> {
        Ok(Autoencoder {
            encoder: Encoder::new(vb.pp("encoder"), cfg, cfg.latent)?,
            decoder: Decoder::new(vb.pp("decoder"), cfg)?,
        })
    }

    /// The latent vector of each picture.
    pub fn encode(&self, pictures: &Tensor) -> candle_core::Result<Tensor> {
        self.encoder.forward(pictures)
    }

    pub fn decode(&self, latents: &Tensor) -> candle_core::Result<Tensor> {
        self.decoder.forward(latents)
    }
}

impl Module for Autoencoder {
    fn forward(&self, pictures: &Tensor) -> candle_core::Result<Tensor> {
        self.decode(&self.encode(pictures)?)
    }
}

/// The lecture's reconstruction loss: the mean of the squared differences.
pub fn mse(
    pictures: &Tensor,
    reconstructions: &Tensor,
) -> candle_core::Result<Tensor> {
    (pictures - reconstructions)?.sqr()?.mean_all()
}
// ANCHOR_END: autoencoder

/// The trained autoencoder shipped with the course (`clip-art train-faces`).
const SHIPPED_WEIGHTS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/weights/faces-autoencoder.safetensors"
));

impl Autoencoder {
    /// The trained autoencoder that ships with the course, for the default [`Config`].
    pub fn shipped(device: &Device) -> anyhow::Result<Autoencoder> {
        weights::shipped(
            SHIPPED_WEIGHTS,
            "faces-autoencoder.safetensors",
            device,
            Autoencoder::new,
        )
    }

    /// Loads an autoencoder saved by `clip-art train-faces`.
    pub fn load(
        path: &Path,
        cfg: &Config,
        device: &Device,
    ) -> anyhow::Result<Autoencoder> {
        weights::load(path, cfg, device, Autoencoder::new)
    }
}

/// Training settings shared by the autoencoder and the VAE.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    pub steps: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            steps: 3000,
            batch_size: 32,
            learning_rate: 6e-3,
            seed: 0,
        }
    }
}

/// A fresh training batch of faces for one step (a different seed per step, so
/// the model never sees the same face twice).
pub fn training_faces(
    cfg: &Config,
    train: &TrainConfig,
    step: usize,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let batch = FaceBatch::draw(
        train.batch_size,
        cfg.image_size as u32,
        step_seed(train.seed, step),
    );
    images_to_batch(&batch.images, device)
}

/// Trains an autoencoder on freshly drawn faces with Adam; calls `on_step` with
/// each step's loss. Returns the model, its variables (to save) and the losses.
pub fn train_autoencoder(
    cfg: &Config,
    train: &TrainConfig,
    device: &Device,
    on_step: impl FnMut(usize, f32),
) -> anyhow::Result<(Autoencoder, VarMap, Vec<f32>)> {
    let varmap = VarMap::new();
    let model =
        Autoencoder::new(VarBuilder::from_varmap(&varmap, DType::F32, device), cfg)?;
    seed_weights(&varmap, train.seed)?;
    let losses = fit_faces(
        cfg,
        train,
        &varmap,
        device,
        |pictures| mse(pictures, &model.forward(pictures)?),
        on_step,
    )?;
    Ok((model, varmap, losses))
}

/// Both face models train the same way: a fresh batch of faces per step, a
/// constant learning rate. `loss_of` turns a batch into the model's loss.
pub(crate) fn fit_faces(
    cfg: &Config,
    train: &TrainConfig,
    varmap: &VarMap,
    device: &Device,
    mut loss_of: impl FnMut(&Tensor) -> candle_core::Result<Tensor>,
    mut on_step: impl FnMut(usize, f32),
) -> anyhow::Result<Vec<f32>> {
    fit(
        varmap.all_vars(),
        train.steps,
        |_| train.learning_rate,
        |step| Ok((loss_of(&training_faces(cfg, train, step, device)?)?, ())),
        |step, loss, ()| {
            on_step(step, loss);
            Ok(())
        },
    )
}

/// Mean squared error of each picture separately: `[n]`.
pub fn per_picture_mse(
    pictures: &Tensor,
    reconstructions: &Tensor,
) -> candle_core::Result<Tensor> {
    (pictures - reconstructions)?
        .sqr()?
        .flatten_from(1)?
        .mean(D::Minus1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Config {
        Config {
            image_size: 16,
            channels: [4, 6, 8],
            latent: 3,
        }
    }

    #[test]
    fn a_batch_is_the_pictures_stacked_and_one_size_only() -> anyhow::Result<()> {
        let pictures: Vec<image::RgbImage> = (0..3u8)
            .map(|k| {
                image::RgbImage::from_fn(5, 4, |x, y| {
                    image::Rgb([k, x as u8 * 40, y as u8 * 60])
                })
            })
            .collect();
        let device = Device::Cpu;
        let batch = images_to_batch(&pictures, &device)?;
        let stacked = pictures
            .iter()
            .map(|p| crate::basics::pixels::image_to_tensor(p, &device))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let stacked = Tensor::stack(&stacked, 0)?;
        assert_eq!(batch.dims(), &[3, 3, 4, 5]);
        assert_eq!(
            batch.flatten_all()?.to_vec1::<f32>()?,
            stacked.flatten_all()?.to_vec1::<f32>()?
        );
        let odd = [pictures[0].clone(), image::RgbImage::new(4, 4)];
        let error = images_to_batch(&odd, &device).unwrap_err().to_string();
        assert!(error.contains("5×4") && error.contains("4×4"), "{error}");
        Ok(())
    }

    #[test]
    fn patch_convolutions_equal_candles_convolutions() -> anyhow::Result<()> {
        let device = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
        let x = Tensor::rand(-1f32, 1.0, (2, 3, 8, 12), &device)?;
        let conv = PatchConv::new(vb.pp("conv"), 3, 5, 4)?;
        let bias = Tensor::rand(-1f32, 1.0, 5, &device)?;
        let conv = PatchConv {
            bias: bias.clone(),
            ..conv
        };
        let expected = x
            .conv2d(&conv.weight, 0, 4, 1, 1)?
            .broadcast_add(&bias.reshape((1, 5, 1, 1))?)?;
        let got = conv.forward(&x)?;
        assert_eq!(got.dims(), &[2, 5, 2, 3]);
        assert!(crate::nn::compare::max_difference(&got, &expected)? < 1e-5);

        let deconv = PatchDeconv::new(vb.pp("deconv"), 3, 4, 2)?;
        let deconv = PatchDeconv {
            bias: bias.narrow(0, 0, 4)?,
            ..deconv
        };
        let expected = x
            .conv_transpose2d(&deconv.weight, 0, 0, 2, 1)?
            .broadcast_add(&deconv.bias.reshape((1, 4, 1, 1))?)?;
        let got = deconv.forward(&x)?;
        assert_eq!(got.dims(), &[2, 4, 16, 24]);
        assert!(crate::nn::compare::max_difference(&got, &expected)? < 1e-5);
        Ok(())
    }

    #[test]
    fn shapes_go_round_the_autoencoder() -> anyhow::Result<()> {
        let device = Device::Cpu;
        let cfg = tiny();
        let varmap = VarMap::new();
        let model = Autoencoder::new(
            VarBuilder::from_varmap(&varmap, DType::F32, &device),
            &cfg,
        )?;
        let pictures = Tensor::rand(0f32, 1.0, (5, 3, 16, 16), &device)?;
        assert_eq!(model.encode(&pictures)?.dims(), &[5, 3]);
        let out = model.forward(&pictures)?;
        assert_eq!(out.dims(), &[5, 3, 16, 16]);
        let (low, high) = (
            out.min_all()?.to_scalar::<f32>()?,
            out.max_all()?.to_scalar::<f32>()?,
        );
        assert!(low >= 0.0 && high <= 1.0);
        Ok(())
    }

    #[test]
    fn mse_is_the_lecture_formula() -> anyhow::Result<()> {
        let device = Device::Cpu;
        let x = Tensor::new(&[0.0f32, 0.5, 1.0, 1.0], &device)?;
        let y = Tensor::new(&[0.0f32, 1.0, 0.0, 1.0], &device)?;
        // (0 + 0.25 + 1 + 0) / 4
        assert_eq!(mse(&x, &y)?.to_scalar::<f32>()?, 0.3125);
        Ok(())
    }

    #[test]
    fn the_encoder_gradient_matches_finite_differences() -> anyhow::Result<()> {
        // The decoder's upsampling and the convolutions must pass gradients back
        // to the input (guidance in chapter 6 relies on it).
        let device = Device::Cpu;
        let cfg = tiny();
        let varmap = VarMap::new();
        let model = Autoencoder::new(
            VarBuilder::from_varmap(&varmap, DType::F64, &device),
            &cfg,
        )?;
        let target = Tensor::rand(0f64, 1.0, (1, 3, 16, 16), &device)?;
        let z = candle_core::Var::new(&[[0.3f64, -0.2, 0.5]], &device)?;
        let loss = |z: &Tensor| mse(&target, &model.decode(z)?);
        let grad = loss(z.as_tensor())?.backward()?;
        let grad: Vec<f64> = grad
            .get(z.as_tensor())
            .expect("gradient")
            .flatten_all()?
            .to_vec1()?;
        for i in 0..3 {
            let step = 1e-5;
            let mut bump = vec![0.0; 3];
            bump[i] = step;
            let dz = Tensor::new(bump.as_slice(), &device)?.unsqueeze(0)?;
            let up = loss(&(z.as_tensor() + &dz)?)?.to_scalar::<f64>()?;
            let down = loss(&(z.as_tensor() - &dz)?)?.to_scalar::<f64>()?;
            let numeric = (up - down) / (2.0 * step);
            assert!(
                (numeric - grad[i]).abs() < 1e-6 + 1e-4 * numeric.abs(),
                "{i}: {numeric} vs {}",
                grad[i]
            );
        }
        Ok(())
    }

    #[test]
    fn seeded_weights_are_reproducible() -> anyhow::Result<()> {
        let device = Device::Cpu;
        let weights = |seed| -> anyhow::Result<Vec<f32>> {
            let varmap = VarMap::new();
            Autoencoder::new(
                VarBuilder::from_varmap(&varmap, DType::F32, &device),
                &tiny(),
            )?;
            seed_weights(&varmap, seed)?;
            let data = varmap.data().lock().expect("lock");
            Ok(data["encoder.conv0.weight"].flatten_all()?.to_vec1()?)
        };
        assert_eq!(weights(1)?, weights(1)?);
        assert_ne!(weights(1)?, weights(2)?);
        Ok(())
    }
}

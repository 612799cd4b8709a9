//! BigGAN-deep (Brock, Donahue and Simonyan, "Large Scale GAN Training for
//! High Fidelity Natural Image Synthesis", 2019): the generator of Big Sleep.
//! A noise vector and a class vector make a condition; a linear layer turns
//! it into a 4×4 grid, and residual blocks, each told the condition through
//! its batch norms, double the grid up to the picture.
//!
//! A port of `pytorch_pretrained_biggan/model.py` with its parameter names, so
//! that the published `pytorch_model.bin` files load unchanged (read in Rust,
//! in torch's legacy format: [`crate::nn::pth`]); `tests/biggan_golden.rs`
//! holds it against that package on a tiny random model.

use std::path::Path;

use anyhow::{Context, ensure};
use candle_core::{D, DType, Device, Module, Tensor};
use candle_nn::VarBuilder;
use serde::Deserialize;

use crate::nn::conv::Conv2d;
use crate::nn::upsample::double_nearest;
use crate::nn::weights::checked_tensors;

/// A BigGAN's shape, as its `config.json` gives it (the package's names).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Config {
    /// The picture's side.
    pub output_dim: usize,
    /// The noise vector's length; the class embedding has the same.
    pub z_dim: usize,
    pub class_embed_dim: usize,
    /// Channels are multiples of this width.
    pub channel_width: usize,
    pub num_classes: usize,
    /// Per block: (doubles the side, input channels / width, output channels
    /// / width).
    pub layers: Vec<(bool, usize, usize)>,
    /// The self-attention layer sits before this block.
    pub attention_layer_position: usize,
    /// The batch norms' ε.
    pub eps: f64,
    /// How many truncations the batch norms hold statistics for (0 to 1).
    pub n_stats: usize,
}

impl Config {
    /// Reads a `config.json` as the weights are published.
    pub fn from_json(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!("cannot read BigGAN config {}", path.display())
        })?;
        let cfg: Config = serde_json::from_str(&text).with_context(|| {
            format!("{} is not a BigGAN config.json", path.display())
        })?;
        cfg.check()
            .with_context(|| format!("{} describes no BigGAN", path.display()))?;
        Ok(cfg)
    }

    /// Sizes a BigGAN can be built with; the error names the field.
    pub fn check(&self) -> anyhow::Result<()> {
        ensure!(!self.layers.is_empty(), "layers is empty");
        ensure!(
            self.class_embed_dim == self.z_dim,
            "class_embed_dim ({}) must equal z_dim ({}): the condition is [z, embedding]",
            self.class_embed_dim,
            self.z_dim
        );
        ensure!(
            self.channel_width >= 3,
            "channel_width must be at least 3 (conv_to_rgb keeps 3 of its channels), got {}",
            self.channel_width
        );
        let mut channels = 16;
        let mut side = 4;
        for (i, &(up, from, to)) in self.layers.iter().enumerate() {
            ensure!(
                from == channels,
                "layers[{i}] takes {from}·width channels, but {channels}·width arrive"
            );
            ensure!(
                (from * self.channel_width) % 8 == 0,
                "layers[{i}]: {from}·width channels must be a multiple of 8"
            );
            // The skip keeps the first half of the channels when they change.
            ensure!(
                to == from || 2 * to == from,
                "layers[{i}] goes from {from}·width to {to}·width channels; a block keeps or halves them"
            );
            channels = to;
            side *= if up { 2 } else { 1 };
        }
        ensure!(
            channels == 1,
            "the last layer must end with 1·width channels, got {channels}"
        );
        ensure!(
            side == self.output_dim,
            "the layers make {side}² pictures, but output_dim is {}",
            self.output_dim
        );
        ensure!(
            self.attention_layer_position < self.layers.len(),
            "attention_layer_position {} is past the {} layers",
            self.attention_layer_position,
            self.layers.len()
        );
        ensure!(
            self.n_stats >= 2,
            "n_stats must be at least 2, got {}",
            self.n_stats
        );
        Ok(())
    }

    /// How many condition vectors a layered forward takes: one for `gen_z`
    /// and one per block (Big Sleep moves each on its own).
    pub fn conditions(&self) -> usize {
        self.layers.len() + 1
    }
}

// ANCHOR: spectral_norm
/// A spectrally normalised weight as PyTorch stores it (`weight_orig`,
/// `weight_u`, `weight_v`), folded once: W = W_orig / σ with σ = u · (W_orig
/// v), the largest singular value that training's power iteration found.
fn spectral_weight(vb: &VarBuilder, shape: &[usize]) -> candle_core::Result<Tensor> {
    let weight = vb.get(shape, "weight_orig")?.to_dtype(DType::F32)?;
    let out = shape[0];
    let rest: usize = shape[1..].iter().product();
    let u = vb.get(out, "weight_u")?.to_dtype(DType::F32)?;
    let v = vb.get(rest, "weight_v")?.to_dtype(DType::F32)?;
    let wv = weight.reshape((out, rest))?.matmul(&v.unsqueeze(1)?)?;
    let sigma = u.unsqueeze(0)?.matmul(&wv)?.reshape(())?;
    weight.broadcast_div(&sigma)?.to_dtype(vb.dtype())
}
// ANCHOR_END: spectral_norm

/// A spectrally normalised convolution, stride 1, padding k / 2.
fn sn_conv(
    vb: VarBuilder,
    from: usize,
    to: usize,
    kernel: usize,
    bias: bool,
) -> candle_core::Result<Conv2d> {
    let weight = spectral_weight(&vb, &[to, from, kernel, kernel])?;
    let bias = bias.then(|| vb.get(to, "bias")).transpose()?;
    Conv2d::from_weights(weight, bias, kernel / 2, 1)
}

/// The batch norms' statistics for a truncation, as the package picks them:
/// `coef, start = modf(t / step)`; the row at `start`, or (when `coef` is not
/// 0) `row[start]·coef + row[start + 1]·(1 − coef)`, in that order.
fn statistics(table: &Tensor, truncation: f64) -> candle_core::Result<Tensor> {
    let step = 1.0 / (table.dim(0)? - 1) as f64;
    let position = truncation / step;
    let (start, coef) = (position.trunc() as usize, position.fract());
    let row = table.get(start)?;
    if coef == 0.0 {
        return Ok(row);
    }
    (row * coef)? + (table.get(start + 1)? * (1.0 - coef))?
}

/// Batch norm with the statistics precomputed per truncation; the scale and
/// offset come from the condition (`scale`, `offset`: spectrally normalised
/// linear maps, no bias) or, in the last one, are fixed (`weight`, `bias`).
struct BatchNorm {
    running_means: Tensor,
    running_vars: Tensor,
    eps: f64,
    affine: Affine,
}

enum Affine {
    Conditional { scale: Tensor, offset: Tensor },
    Fixed { weight: Tensor, bias: Tensor },
}

impl BatchNorm {
    fn new(
        vb: VarBuilder,
        channels: usize,
        condition: Option<usize>,
        cfg: &Config,
    ) -> candle_core::Result<Self> {
        let affine = match condition {
            Some(dim) => Affine::Conditional {
                scale: spectral_weight(&vb.pp("scale"), &[channels, dim])?,
                offset: spectral_weight(&vb.pp("offset"), &[channels, dim])?,
            },
            None => Affine::Fixed {
                weight: vb.get(channels, "weight")?.unsqueeze(0)?,
                bias: vb.get(channels, "bias")?.unsqueeze(0)?,
            },
        };
        Ok(BatchNorm {
            running_means: vb.get((cfg.n_stats, channels), "running_means")?,
            running_vars: vb.get((cfg.n_stats, channels), "running_vars")?,
            eps: cfg.eps,
            affine,
        })
    }

    fn forward(
        &self,
        x: &Tensor,
        condition: &Tensor,
        truncation: f64,
    ) -> candle_core::Result<Tensor> {
        let mean = statistics(&self.running_means, truncation)?.unsqueeze(0)?;
        let std = (statistics(&self.running_vars, truncation)? + self.eps)?
            .sqrt()?
            .unsqueeze(0)?;
        // (x − mean) / std · scale + offset, folded per picture and channel
        // into x · a + b: two passes over the activations, not four.
        let (scale, offset) = match &self.affine {
            Affine::Conditional { scale, offset } => (
                (condition.matmul(&scale.t()?)? + 1.0)?,
                condition.matmul(&offset.t()?)?,
            ),
            Affine::Fixed { weight, bias } => (weight.clone(), bias.clone()),
        };
        let a = scale.broadcast_div(&std)?;
        let b = offset.broadcast_sub(&mean.broadcast_mul(&a)?)?;
        let per_channel = |t: Tensor| t.unsqueeze(2)?.unsqueeze(3);
        x.broadcast_mul(&per_channel(a)?)?
            .broadcast_add(&per_channel(b)?)
    }
}

/// 2×2 max pooling, `[n, c, h, w]` → `[n, c, h/2, w/2]`, as two maxima over
/// a reshape. (candle 0.11's `max_pool2d` backward multiplies the gradient by
/// the share of maxima in each window, a quarter where PyTorch passes it
/// whole; the golden gradients found it.)
pub fn max_pool_2x2(x: &Tensor) -> candle_core::Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    x.reshape((n, c, h / 2, 2, w / 2, 2))?.max(5)?.max(3)
}

/// A residual block: four batch norm → ReLU → convolution steps (1×1 down to
/// a quarter of the channels, 3×3, 3×3, 1×1 up), doubling the side after
/// the first if `up`; the skip keeps the input's first channels.
struct GenBlock {
    norms: [BatchNorm; 4],
    convs: [Conv2d; 4],
    up: bool,
    out_channels: usize,
}

impl GenBlock {
    fn new(
        vb: VarBuilder,
        (up, from, to): (bool, usize, usize),
        cfg: &Config,
    ) -> candle_core::Result<Self> {
        let (from, to) = (from * cfg.channel_width, to * cfg.channel_width);
        let middle = from / 4;
        let cond = Some(2 * cfg.z_dim);
        let norm = |i: usize, c: usize| {
            BatchNorm::new(vb.pp(format!("bn_{i}")), c, cond, cfg)
        };
        let conv =
            |i: usize, a, b, k| sn_conv(vb.pp(format!("conv_{i}")), a, b, k, true);
        Ok(GenBlock {
            norms: [
                norm(0, from)?,
                norm(1, middle)?,
                norm(2, middle)?,
                norm(3, middle)?,
            ],
            convs: [
                conv(0, from, middle, 1)?,
                conv(1, middle, middle, 3)?,
                conv(2, middle, middle, 3)?,
                conv(3, middle, to, 1)?,
            ],
            up,
            out_channels: to,
        })
    }

    fn forward(
        &self,
        x: &Tensor,
        condition: &Tensor,
        truncation: f64,
    ) -> candle_core::Result<Tensor> {
        let mut h = x.clone();
        for (i, (norm, conv)) in self.norms.iter().zip(&self.convs).enumerate() {
            h = norm.forward(&h, condition, truncation)?.relu()?;
            if i == 1 && self.up {
                h = double_nearest(&h)?;
            }
            h = conv.forward(&h)?;
        }
        let mut skip = x.narrow(1, 0, self.out_channels)?;
        if self.up {
            skip = double_nearest(&skip)?;
        }
        h + skip
    }
}

// ANCHOR: self_attention
/// SAGAN's self-attention: every position attends to the 2×2-max-pooled
/// grid; queries and keys have an eighth of the channels, values half.
/// `gamma` (learnt from 0) says how much of it joins the input.
struct SelfAttention {
    theta: Conv2d,
    phi: Conv2d,
    g: Conv2d,
    o: Conv2d,
    gamma: Tensor,
}

impl SelfAttention {
    fn new(vb: VarBuilder, c: usize) -> candle_core::Result<Self> {
        let conv = |name: &str, from, to| sn_conv(vb.pp(name), from, to, 1, false);
        Ok(SelfAttention {
            theta: conv("snconv1x1_theta", c, c / 8)?,
            phi: conv("snconv1x1_phi", c, c / 8)?,
            g: conv("snconv1x1_g", c, c / 2)?,
            o: conv("snconv1x1_o_conv", c / 2, c)?,
            gamma: vb.get(1, "gamma")?,
        })
    }
}

impl Module for SelfAttention {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (n, c, h, w) = x.dims4()?;
        let pooled = |conv: &Conv2d, ch: usize| {
            max_pool_2x2(&conv.forward(x)?)?.reshape((n, ch, h * w / 4))
        };
        let theta = self.theta.forward(x)?.reshape((n, c / 8, h * w))?;
        let scores = theta
            .transpose(1, 2)?
            .contiguous()?
            .matmul(&pooled(&self.phi, c / 8)?)?;
        // Not the fused softmax: it has no backward, and guidance needs one.
        let attention = candle_nn::ops::softmax(&scores, D::Minus1)?;
        let attended = pooled(&self.g, c / 2)?
            .matmul(&attention.transpose(1, 2)?.contiguous()?)?
            .reshape((n, c / 2, h, w))?;
        x + self.o.forward(&attended)?.broadcast_mul(&self.gamma)?
    }
}
// ANCHOR_END: self_attention

/// The whole generator: `embeddings` (class vector → embedding) and
/// `generator.*`.
pub struct BigGan {
    embeddings: Tensor,
    gen_z_weight: Tensor,
    gen_z_bias: Tensor,
    blocks: Vec<GenBlock>,
    attention: SelfAttention,
    bn: BatchNorm,
    conv_to_rgb: Conv2d,
    pub config: Config,
}

impl BigGan {
    pub fn new(vb: VarBuilder, cfg: &Config) -> candle_core::Result<Self> {
        let g = vb.pp("generator");
        let (width, cond) = (cfg.channel_width, 2 * cfg.z_dim);
        let start = 4 * 4 * 16 * width;
        let blocks = cfg
            .layers
            .iter()
            .enumerate()
            .map(|(i, &layer)| {
                // The attention layer takes an index of `generator.layers`.
                let index = i + usize::from(i >= cfg.attention_layer_position);
                GenBlock::new(g.pp(format!("layers.{index}")), layer, cfg)
            })
            .collect::<candle_core::Result<_>>()?;
        let at = cfg.attention_layer_position;
        Ok(BigGan {
            embeddings: vb.get((cfg.z_dim, cfg.num_classes), "embeddings.weight")?,
            gen_z_weight: spectral_weight(&g.pp("gen_z"), &[start, cond])?,
            gen_z_bias: g.get(start, "gen_z.bias")?,
            blocks,
            attention: SelfAttention::new(
                g.pp(format!("layers.{at}")),
                cfg.layers[at].1 * width,
            )?,
            bn: BatchNorm::new(g.pp("bn"), width, None, cfg)?,
            conv_to_rgb: sn_conv(g.pp("conv_to_rgb"), width, width, 3, true)?,
            config: cfg.clone(),
        })
    }

    /// The weights' dtype.
    pub fn dtype(&self) -> DType {
        self.embeddings.dtype()
    }

    /// Where the weights live.
    pub fn device(&self) -> &Device {
        self.embeddings.device()
    }

    /// The condition `[n, 2·z_dim]`: the noise `[n, z_dim]` beside the class
    /// vector's `[n, num_classes]` embedding.
    pub fn condition(
        &self,
        z: &Tensor,
        classes: &Tensor,
    ) -> candle_core::Result<Tensor> {
        let embedded = classes.matmul(&self.embeddings.t()?)?;
        Tensor::cat(&[z, &embedded], 1)
    }

    /// A picture `[n, 3, s, s]` in [-1, 1] from noise `z` `[n, z_dim]`, class
    /// vectors `[n, num_classes]` and the truncation (0 < t ≤ 1) the noise was
    /// drawn with.
    pub fn forward(
        &self,
        z: &Tensor,
        classes: &Tensor,
        truncation: f64,
    ) -> anyhow::Result<Tensor> {
        let condition = self.condition(z, classes)?;
        let conditions = vec![condition; self.config.conditions()];
        self.forward_layered(&conditions, truncation)
    }

    // ANCHOR: forward
    /// Each layer its own condition `[n, 2·z_dim]`, as Big Sleep drives
    /// BigGAN: `conditions[0]` makes the 4×4 grid, `conditions[k]` steers the
    /// k-th block.
    pub fn forward_layered(
        &self,
        conditions: &[Tensor],
        truncation: f64,
    ) -> anyhow::Result<Tensor> {
        ensure!(
            truncation > 0.0 && truncation <= 1.0,
            "the truncation must be in (0, 1], got {truncation}"
        );
        ensure!(
            conditions.len() == self.config.conditions(),
            "this BigGAN takes {} conditions (gen_z and {} blocks), got {}",
            self.config.conditions(),
            self.blocks.len(),
            conditions.len()
        );
        let width = self.config.channel_width;
        let n = conditions[0].dim(0)?;
        // The weights came from TensorFlow: the grid is laid out [4, 4, c].
        let mut h = conditions[0]
            .matmul(&self.gen_z_weight.t()?)?
            .broadcast_add(&self.gen_z_bias)?
            .reshape((n, 4, 4, 16 * width))?
            .permute((0, 3, 1, 2))?
            .contiguous()?;
        for (i, (block, condition)) in
            self.blocks.iter().zip(&conditions[1..]).enumerate()
        {
            if i == self.config.attention_layer_position {
                h = self.attention.forward(&h)?;
            }
            h = block.forward(&h, condition, truncation)?;
        }
        let h = self.bn.forward(&h, &conditions[0], truncation)?.relu()?;
        Ok(self.conv_to_rgb.forward(&h)?.narrow(1, 0, 3)?.tanh()?)
    }
    // ANCHOR_END: forward
}

impl BigGan {
    /// A BigGAN folder as published: `config.json` with `pytorch_model.bin`
    /// (read in Rust, either of torch's formats) or `model.safetensors`.
    pub fn from_folder(folder: &Path, device: &Device) -> anyhow::Result<BigGan> {
        BigGan::from_folder_in(folder, DType::F32, device)
    }

    /// [`BigGan::from_folder`] with the weights held in `dtype`.
    pub fn from_folder_in(
        folder: &Path,
        dtype: DType,
        device: &Device,
    ) -> anyhow::Result<BigGan> {
        let cfg = Config::from_json(&folder.join("config.json"))?;
        let safetensors = folder.join("model.safetensors");
        let (tensors, origin) = if safetensors.exists() {
            let bytes = std::fs::read(&safetensors).with_context(|| {
                format!("cannot read BigGAN weights {}", safetensors.display())
            })?;
            let origin = safetensors.display().to_string();
            (checked_tensors(&bytes, &origin, device)?, origin)
        } else {
            let bin = folder.join("pytorch_model.bin");
            ensure!(
                bin.exists(),
                "{} has neither pytorch_model.bin nor model.safetensors",
                folder.display()
            );
            let tensors =
                crate::nn::pth::model_tensors(&bin, None, |_| true, device)?;
            (tensors, bin.display().to_string())
        };
        let vb = VarBuilder::from_tensors(tensors, dtype, device);
        BigGan::new(vb, &cfg)
            .with_context(|| format!("{origin} does not fit config.json"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_are_picked_by_truncation_as_the_package_does() -> anyhow::Result<()>
    {
        // Rows 0..=50 hold their own index: row k is the statistics of t = k/50.
        let table = Tensor::arange(0f32, 51.0, &Device::Cpu)?.reshape((51, 1))?;
        let at = |t: f64| -> anyhow::Result<f32> {
            Ok(statistics(&table, t)?.to_vec1::<f32>()?[0])
        };
        assert_eq!(at(1.0)?, 50.0);
        assert_eq!(at(0.5)?, 25.0);
        // 0.73 / 0.02 = 36.5: rows 36 and 37 with weights 0.5 and 0.5.
        assert!((at(0.73)? - 36.5).abs() < 1e-4);
        // 0.71 / 0.02 = 35.5 too, but 0.705 / 0.02 = 35.25: 35·0.25 + 36·0.75,
        // the package's order (the weights look swapped, and are kept so).
        assert!((at(0.705)? - 35.75).abs() < 1e-4, "{}", at(0.705)?);
        Ok(())
    }
}

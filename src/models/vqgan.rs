//! The taming VQGAN (Esser, Rombach and Ommer, "Taming Transformers for
//! High-Resolution Image Synthesis", 2021): the generator of VQGAN+CLIP. An
//! encoder turns a picture into a grid of vectors, each is replaced by the
//! nearest of a codebook's entries, and a decoder paints the picture back.
//!
//! A port of `taming/modules/diffusionmodules/model.py` and
//! `taming/modules/vqvae/quantize.py` with the original parameter names, so
//! that the published checkpoints load unchanged; `tests/vqgan_golden.rs`
//! holds it against the reference code on tiny random models.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use candle_core::{D, DType, Device, Module, Tensor};
use candle_nn::VarBuilder;
use serde::Deserialize;

use crate::nn::conv::Conv2d;
use crate::nn::group_norm::GroupNorm;
use crate::nn::upsample::double_nearest;
use crate::nn::weights::checked_tensors;

/// The encoder's and decoder's shape: taming's `ddconfig`, with its names.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DdConfig {
    /// Channels of the first level; level `i` has `ch · ch_mult[i]`.
    pub ch: usize,
    pub ch_mult: Vec<usize>,
    pub num_res_blocks: usize,
    /// Side lengths (of the `resolution` the model was made for) at which
    /// self-attention blocks sit.
    pub attn_resolutions: Vec<usize>,
    pub in_channels: usize,
    pub out_ch: usize,
    pub resolution: usize,
    pub z_channels: usize,
    /// The encoder outputs mean and variance (VAEs); never for VQGANs.
    #[serde(default)]
    pub double_z: bool,
}

/// How latents become codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantizer {
    /// `VectorQuantizer2`: the nearest codebook entry (`quantize.embedding`).
    Nearest,
    /// `GumbelQuantize`: a 1×1 convolution scores every code
    /// (`quantize.proj`), the best one's embedding (`quantize.embed`) is used.
    Gumbel,
}

/// A VQGAN's configuration, as its `model.yaml` gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub dd: DdConfig,
    pub embed_dim: usize,
    pub n_embed: usize,
    pub quantizer: Quantizer,
}

/// The parts of taming's `model.yaml` a VQGAN is built from.
#[derive(Deserialize)]
struct ModelYaml {
    model: ModelEntry,
}

#[derive(Deserialize)]
struct ModelEntry {
    target: String,
    params: ModelParams,
}

#[derive(Deserialize)]
struct ModelParams {
    embed_dim: usize,
    n_embed: usize,
    ddconfig: DdConfig,
}

impl Config {
    /// Reads a `model.yaml` as the checkpoints are published: `model.target`
    /// names `VQModel` or `GumbelVQ`, `model.params` holds the sizes.
    pub fn from_yaml(path: &std::path::Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!("cannot read VQGAN config {}", path.display())
        })?;
        Config::from_yaml_text(&text)
            .with_context(|| format!("{} is not a VQGAN model.yaml", path.display()))
    }

    /// [`Config::from_yaml`] on the file's text.
    pub fn from_yaml_text(text: &str) -> anyhow::Result<Config> {
        let yaml: ModelYaml = serde_yaml_ng::from_str(text)?;
        let quantizer = match yaml.model.target.rsplit('.').next() {
            Some("VQModel") => Quantizer::Nearest,
            Some("GumbelVQ") => Quantizer::Gumbel,
            _ => bail!(
                "model.target is {:?}; expected taming.models.vqgan.VQModel or GumbelVQ",
                yaml.model.target
            ),
        };
        let params = yaml.model.params;
        let cfg = Config {
            dd: params.ddconfig,
            embed_dim: params.embed_dim,
            n_embed: params.n_embed,
            quantizer,
        };
        cfg.check()?;
        Ok(cfg)
    }

    /// Sizes a VQGAN can be built with; the error names the field as
    /// `model.yaml` spells it.
    pub fn check(&self) -> anyhow::Result<()> {
        let dd = &self.dd;
        for (name, value) in [
            ("embed_dim", self.embed_dim),
            ("n_embed", self.n_embed),
            ("ddconfig.num_res_blocks", dd.num_res_blocks),
            ("ddconfig.in_channels", dd.in_channels),
            ("ddconfig.out_ch", dd.out_ch),
            ("ddconfig.z_channels", dd.z_channels),
        ] {
            ensure!(value > 0, "{name} must be positive, got 0");
        }
        ensure!(
            !dd.ch_mult.is_empty() && dd.ch_mult.len() <= 8,
            "ddconfig.ch_mult must list 1 to 8 levels, got {:?}",
            dd.ch_mult
        );
        for mult in &dd.ch_mult {
            ensure!(
                *mult > 0 && (dd.ch * mult) % 32 == 0,
                "ddconfig.ch × ch_mult ({} × {mult}) must be a positive multiple of 32 (GroupNorm's groups)",
                dd.ch
            );
        }
        let factor = 1 << (dd.ch_mult.len() - 1);
        ensure!(
            dd.resolution > 0 && dd.resolution % factor == 0,
            "ddconfig.resolution ({}) must be a positive multiple of {factor}",
            dd.resolution
        );
        Ok(())
    }

    /// How many times smaller the grid of codes is than the picture.
    pub fn downsampling(&self) -> usize {
        1 << (self.dd.ch_mult.len() - 1)
    }
}

/// taming's `Normalize`: GroupNorm with 32 groups, ε = 1e-6.
fn normalize(channels: usize, vb: VarBuilder) -> candle_core::Result<GroupNorm> {
    GroupNorm::new(32, channels, 1e-6, vb)
}

/// A convolution of taming's with a square `kernel`, its output as large as its
/// input.
fn conv(
    from: usize,
    to: usize,
    kernel: usize,
    vb: VarBuilder,
) -> candle_core::Result<Conv2d> {
    Conv2d::new(vb, from, to, kernel, kernel / 2, 1)
}

/// norm → swish → 3×3 conv, twice, plus the input (through a 1×1 conv when
/// the channel count changes).
struct ResnetBlock {
    norm1: GroupNorm,
    conv1: Conv2d,
    norm2: GroupNorm,
    conv2: Conv2d,
    nin_shortcut: Option<Conv2d>,
}

impl ResnetBlock {
    fn new(from: usize, to: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(ResnetBlock {
            norm1: normalize(from, vb.pp("norm1"))?,
            conv1: conv(from, to, 3, vb.pp("conv1"))?,
            norm2: normalize(to, vb.pp("norm2"))?,
            conv2: conv(to, to, 3, vb.pp("conv2"))?,
            nin_shortcut: if from == to {
                None
            } else {
                Some(conv(from, to, 1, vb.pp("nin_shortcut"))?)
            },
        })
    }
}

impl Module for ResnetBlock {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let h = self.conv1.forward(&self.norm1.forward(x, true)?)?;
        let h = self.conv2.forward(&self.norm2.forward(&h, true)?)?;
        match &self.nin_shortcut {
            Some(shortcut) => shortcut.forward(x)? + h,
            None => x + h,
        }
    }
}

/// Single-head self-attention over the grid's positions, 1×1 convolutions
/// for queries, keys, values and the output.
struct AttnBlock {
    norm: GroupNorm,
    q: Conv2d,
    k: Conv2d,
    v: Conv2d,
    proj_out: Conv2d,
}

impl AttnBlock {
    fn new(channels: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(AttnBlock {
            norm: normalize(channels, vb.pp("norm"))?,
            q: conv(channels, channels, 1, vb.pp("q"))?,
            k: conv(channels, channels, 1, vb.pp("k"))?,
            v: conv(channels, channels, 1, vb.pp("v"))?,
            proj_out: conv(channels, channels, 1, vb.pp("proj_out"))?,
        })
    }
}

// ANCHOR: attention
impl Module for AttnBlock {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let normed = self.norm.forward(x, false)?;
        let flat = |conv: &Conv2d| conv.forward(&normed)?.reshape((b, c, h * w));
        let q = flat(&self.q)?.transpose(1, 2)?.contiguous()?;
        let (k, v) = (flat(&self.k)?, flat(&self.v)?);
        // weights[b, i, j]: how much position i attends to position j.
        let weights = (q.matmul(&k)? * (c as f64).powf(-0.5))?;
        // Not `softmax_last_dim`: candle's fused kernel has no backward, and
        // guidance needs the gradient through here (the golden step found it).
        let weights = candle_nn::ops::softmax(&weights, candle_core::D::Minus1)?;
        let attended = v.matmul(&weights.transpose(1, 2)?.contiguous()?)?;
        x + self.proj_out.forward(&attended.reshape((b, c, h, w))?)?
    }
}
// ANCHOR_END: attention

/// One level of the encoder (blocks, attention, then halving the side) or
/// of the decoder (blocks, attention, then doubling it).
struct Level {
    blocks: Vec<ResnetBlock>,
    attention: Vec<AttnBlock>,
    resample: Option<Conv2d>,
}

impl Level {
    fn forward(&self, x: &Tensor, halve: bool) -> candle_core::Result<Tensor> {
        let mut h = x.clone();
        for (i, block) in self.blocks.iter().enumerate() {
            h = block.forward(&h)?;
            if let Some(attention) = self.attention.get(i) {
                h = attention.forward(&h)?;
            }
        }
        match (&self.resample, halve) {
            // Pad one row and column of zeros at the end, then a stride-2 conv.
            (Some(conv), true) => {
                conv.forward(&h.pad_with_zeros(D::Minus1, 0, 1)?.pad_with_zeros(
                    D::Minus2,
                    0,
                    1,
                )?)
            }
            (Some(conv), false) => conv.forward(&double_nearest(&h)?),
            (None, _) => Ok(h),
        }
    }
}

/// A level's `count` residual blocks (`block.{j}`, the first from `from`
/// channels to `to`), each followed by attention (`attn.{j}`) when `attend`.
fn level_blocks(
    from: usize,
    to: usize,
    count: usize,
    attend: bool,
    vb: &VarBuilder,
) -> candle_core::Result<(Vec<ResnetBlock>, Vec<AttnBlock>)> {
    let (mut blocks, mut attention) = (Vec::new(), Vec::new());
    for j in 0..count {
        let channels = if j == 0 { from } else { to };
        blocks.push(ResnetBlock::new(channels, to, vb.pp(format!("block.{j}")))?);
        if attend {
            attention.push(AttnBlock::new(to, vb.pp(format!("attn.{j}")))?);
        }
    }
    Ok((blocks, attention))
}

/// The middle of both networks: block, attention, block.
struct Middle {
    block_1: ResnetBlock,
    attn_1: AttnBlock,
    block_2: ResnetBlock,
}

impl Middle {
    fn new(channels: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(Middle {
            block_1: ResnetBlock::new(channels, channels, vb.pp("block_1"))?,
            attn_1: AttnBlock::new(channels, vb.pp("attn_1"))?,
            block_2: ResnetBlock::new(channels, channels, vb.pp("block_2"))?,
        })
    }
}

impl Module for Middle {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let h = self.attn_1.forward(&self.block_1.forward(x)?)?;
        self.block_2.forward(&h)
    }
}

/// Picture `[n, 3, s, s]` in [-1, 1] → latents `[n, z_channels, s/f, s/f]`.
pub struct Encoder {
    conv_in: Conv2d,
    down: Vec<Level>,
    mid: Middle,
    norm_out: GroupNorm,
    conv_out: Conv2d,
}

impl Encoder {
    pub fn new(vb: VarBuilder, cfg: &DdConfig) -> candle_core::Result<Self> {
        let levels = cfg.ch_mult.len();
        let mut side = cfg.resolution;
        let mut channels = cfg.ch;
        let mut down = Vec::with_capacity(levels);
        for (i, mult) in cfg.ch_mult.iter().enumerate() {
            let vb = vb.pp(format!("down.{i}"));
            let out = cfg.ch * mult;
            let attend = cfg.attn_resolutions.contains(&side);
            let (blocks, attention) =
                level_blocks(channels, out, cfg.num_res_blocks, attend, &vb)?;
            channels = out;
            let resample = if i + 1 < levels {
                side /= 2;
                // Taming pads this one itself, on the right and bottom.
                Some(Conv2d::new(vb.pp("downsample.conv"), out, out, 3, 0, 2)?)
            } else {
                None
            };
            down.push(Level {
                blocks,
                attention,
                resample,
            });
        }
        let z = if cfg.double_z { 2 } else { 1 } * cfg.z_channels;
        Ok(Encoder {
            conv_in: conv(cfg.in_channels, cfg.ch, 3, vb.pp("conv_in"))?,
            down,
            mid: Middle::new(channels, vb.pp("mid"))?,
            norm_out: normalize(channels, vb.pp("norm_out"))?,
            conv_out: conv(channels, z, 3, vb.pp("conv_out"))?,
        })
    }
}

impl Module for Encoder {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut h = self.conv_in.forward(x)?;
        for level in &self.down {
            h = level.forward(&h, true)?;
        }
        let h = self.mid.forward(&h)?;
        self.conv_out.forward(&self.norm_out.forward(&h, true)?)
    }
}

/// Latents `[n, z_channels, s/f, s/f]` → picture `[n, 3, s, s]` in about
/// [-1, 1].
pub struct Decoder {
    conv_in: Conv2d,
    mid: Middle,
    /// `up.0` is the full resolution and runs last.
    up: Vec<Level>,
    norm_out: GroupNorm,
    conv_out: Conv2d,
}

impl Decoder {
    pub fn new(vb: VarBuilder, cfg: &DdConfig) -> candle_core::Result<Self> {
        let levels = cfg.ch_mult.len();
        let mut channels = cfg.ch * cfg.ch_mult[levels - 1];
        let mut side = cfg.resolution >> (levels - 1);
        let conv_in = conv(cfg.z_channels, channels, 3, vb.pp("conv_in"))?;
        let mid = Middle::new(channels, vb.pp("mid"))?;
        let mut up = Vec::with_capacity(levels);
        for i in (0..levels).rev() {
            let vb = vb.pp(format!("up.{i}"));
            let out = cfg.ch * cfg.ch_mult[i];
            let attend = cfg.attn_resolutions.contains(&side);
            let (blocks, attention) =
                level_blocks(channels, out, cfg.num_res_blocks + 1, attend, &vb)?;
            channels = out;
            let resample = if i > 0 {
                side *= 2;
                Some(conv(out, out, 3, vb.pp("upsample.conv"))?)
            } else {
                None
            };
            up.push(Level {
                blocks,
                attention,
                resample,
            });
        }
        up.reverse();
        Ok(Decoder {
            conv_in,
            mid,
            up,
            norm_out: normalize(channels, vb.pp("norm_out"))?,
            conv_out: conv(channels, cfg.out_ch, 3, vb.pp("conv_out"))?,
        })
    }
}

impl Module for Decoder {
    fn forward(&self, z: &Tensor) -> candle_core::Result<Tensor> {
        let mut h = self.mid.forward(&self.conv_in.forward(z)?)?;
        for level in self.up.iter().rev() {
            h = level.forward(&h, false)?;
        }
        self.conv_out.forward(&self.norm_out.forward(&h, true)?)
    }
}

/// The codebook and how latents find their code.
pub enum Quantize {
    /// `VectorQuantizer2`: `embedding.weight [n_embed, embed_dim]`.
    Nearest { embedding: Tensor },
    /// `GumbelQuantize`: `proj` scores codes, `embed.weight` holds them.
    Gumbel { proj: Conv2d, embed: Tensor },
}

impl Quantize {
    fn new(vb: VarBuilder, cfg: &Config) -> candle_core::Result<Self> {
        Ok(match cfg.quantizer {
            Quantizer::Nearest => Quantize::Nearest {
                embedding: vb
                    .get((cfg.n_embed, cfg.embed_dim), "embedding.weight")?,
            },
            Quantizer::Gumbel => Quantize::Gumbel {
                proj: conv(cfg.dd.z_channels, cfg.n_embed, 1, vb.pp("proj"))?,
                embed: vb.get((cfg.n_embed, cfg.embed_dim), "embed.weight")?,
            },
        })
    }

    /// The codebook `[n_embed, embed_dim]`.
    pub fn codebook(&self) -> &Tensor {
        match self {
            Quantize::Nearest { embedding } => embedding,
            Quantize::Gumbel { embed, .. } => embed,
        }
    }
}

/// The whole VQGAN: taming's `VQModel` (or `GumbelVQ`), for inference and
/// guidance.
pub struct VqGan {
    pub encoder: Encoder,
    pub decoder: Decoder,
    pub quantize: Quantize,
    quant_conv: Conv2d,
    post_quant_conv: Conv2d,
    pub config: Config,
}

impl VqGan {
    pub fn new(vb: VarBuilder, cfg: &Config) -> candle_core::Result<Self> {
        let (z, e) = (cfg.dd.z_channels, cfg.embed_dim);
        // GumbelVQ's quant_conv keeps z_channels: its `proj` then scores codes.
        let quantised = match cfg.quantizer {
            Quantizer::Nearest => e,
            Quantizer::Gumbel => z,
        };
        Ok(VqGan {
            encoder: Encoder::new(vb.pp("encoder"), &cfg.dd)?,
            decoder: Decoder::new(vb.pp("decoder"), &cfg.dd)?,
            quantize: Quantize::new(vb.pp("quantize"), cfg)?,
            quant_conv: conv(z, quantised, 1, vb.pp("quant_conv"))?,
            post_quant_conv: conv(e, z, 1, vb.pp("post_quant_conv"))?,
            config: cfg.clone(),
        })
    }

    /// What the weights are held in (the codebook's dtype).
    pub fn dtype(&self) -> DType {
        self.quantize.codebook().dtype()
    }

    /// Picture `[n, 3, s, s]` in [-1, 1] → the latents before quantisation.
    pub fn encode(&self, picture: &Tensor) -> candle_core::Result<Tensor> {
        self.quant_conv.forward(&self.encoder.forward(picture)?)
    }

    /// Latents → the index of each position's code `[n, h, w]`: the nearest
    /// codebook entry, or (Gumbel) the best-scored code.
    pub fn code_indices(&self, latents: &Tensor) -> candle_core::Result<Tensor> {
        match &self.quantize {
            Quantize::Nearest { embedding } => nearest_codes(latents, embedding),
            Quantize::Gumbel { proj, .. } => proj.forward(latents)?.argmax(1),
        }
    }

    /// Code indices `[n, h, w]` → their embeddings `[n, embed_dim, h, w]`.
    pub fn codes_to_latents(&self, indices: &Tensor) -> candle_core::Result<Tensor> {
        let (n, h, w) = indices.dims3()?;
        let codebook = self.quantize.codebook();
        codebook
            .index_select(&indices.flatten_all()?, 0)?
            .reshape((n, h, w, ()))?
            .permute((0, 3, 1, 2))?
            .contiguous()
    }

    /// Quantised latents `[n, embed_dim, h, w]` → picture in about [-1, 1].
    pub fn decode(&self, latents: &Tensor) -> candle_core::Result<Tensor> {
        self.decoder
            .forward(&self.post_quant_conv.forward(latents)?)
    }
}

impl VqGan {
    /// A VQGAN folder as the checkpoints are published: `model.yaml` with
    /// the weights, a Lightning checkpoint (`last.ckpt`, read in Rust: no
    /// Python needed) or `model.safetensors`.
    pub fn from_folder(folder: &Path, device: &Device) -> anyhow::Result<VqGan> {
        VqGan::from_folder_in(folder, DType::F32, device)
    }

    /// [`VqGan::from_folder`] with the weights held in `dtype` (f16 or bf16
    /// halve the memory on a GPU).
    pub fn from_folder_in(
        folder: &Path,
        dtype: DType,
        device: &Device,
    ) -> anyhow::Result<VqGan> {
        let cfg = Config::from_yaml(&folder.join("model.yaml"))?;
        let safetensors = folder.join("model.safetensors");
        let (tensors, origin) = if safetensors.exists() {
            let bytes = std::fs::read(&safetensors).with_context(|| {
                format!("cannot read VQGAN weights {}", safetensors.display())
            })?;
            let origin = safetensors.display().to_string();
            (checked_tensors(&bytes, &origin, device)?, origin)
        } else {
            let ckpt = checkpoint_in(folder)?;
            (
                checkpoint_tensors(&ckpt, device)?,
                ckpt.display().to_string(),
            )
        };
        let vb = VarBuilder::from_tensors(tensors, dtype, device);
        VqGan::new(vb, &cfg)
            .with_context(|| format!("{origin} does not fit model.yaml"))
    }
}

/// The one `.ckpt` file of a folder.
fn checkpoint_in(folder: &Path) -> anyhow::Result<PathBuf> {
    let entries = std::fs::read_dir(folder).with_context(|| {
        format!("cannot read the VQGAN folder {}", folder.display())
    })?;
    let ckpts: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "ckpt"))
        .collect();
    match ckpts.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!(
            "{} has neither model.safetensors nor a .ckpt checkpoint",
            folder.display()
        ),
        _ => bail!(
            "{} has several .ckpt checkpoints; keep one (usually last.ckpt)",
            folder.display()
        ),
    }
}

/// The model's tensors in a PyTorch Lightning checkpoint as taming's are
/// published: its `state_dict`, less the training loss's `loss.*` tensors
/// (the discriminator and LPIPS), checked as every weight file is.
pub fn checkpoint_tensors(
    path: &Path,
    device: &Device,
) -> anyhow::Result<HashMap<String, Tensor>> {
    let model = |name: &str| !name.starts_with("loss.");
    crate::nn::pth::model_tensors(path, Some("state_dict"), model, device)
        .with_context(|| {
            format!(
                "cannot read {} as a PyTorch checkpoint with a state_dict",
                path.display()
            )
        })
}

// ANCHOR: nearest_codes
/// The index of the codebook entry nearest to each latent vector:
/// argmin over codes of ‖z‖² + ‖c‖² − 2 z·c, as `VectorQuantizer2` computes it.
pub fn nearest_codes(
    latents: &Tensor,
    codebook: &Tensor,
) -> candle_core::Result<Tensor> {
    let (n, d, h, w) = latents.dims4()?;
    let z = latents.permute((0, 2, 3, 1))?.reshape((n * h * w, d))?;
    let distances = z
        .sqr()?
        .sum_keepdim(1)?
        .broadcast_add(&codebook.sqr()?.sum(1)?.unsqueeze(0)?)?
        .sub(&(z.matmul(&codebook.t()?)? * 2.0)?)?;
    distances.argmin(1)?.reshape((n, h, w))
}
// ANCHOR_END: nearest_codes

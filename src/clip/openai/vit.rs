//! OpenAI's CLIP (ViT-B/32 and relatives), written in candle's style with the
//! Hugging Face parameter names, so `openai/clip-vit-base-patch32`'s
//! `model.safetensors` loads unchanged.
//!
//! Why not `candle_transformers::models::clip`? Its LayerNorm and softmax are
//! fused ops that record no backward pass: the gradient never reaches the
//! image, and guidance (chapter 6) needs exactly that gradient. Every layer
//! here is a frozen layer ([`super::frozen`]) with a hand-derived backward
//! pass to its input, and a test checks the gradient at the pixels against
//! PyTorch's and finite differences. Nothing here trains CLIP: its weights
//! get no gradient.

use std::path::Path;

use anyhow::{Context, bail, ensure};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Embedding, VarBuilder};
use serde::Deserialize;

pub use super::frozen::Activation;
use super::frozen::{self, Linear};
use super::tokenizer::Tokenizer;
use crate::nn::weights::checked_tensors;

/// One transformer tower (text or vision), with Hugging Face's field names and
/// ViT-B/32's text values as defaults.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct TowerConfig {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub hidden_act: Activation,
    pub layer_norm_eps: f64,
    /// Text only.
    pub vocab_size: usize,
    pub max_position_embeddings: usize,
    /// Vision only.
    pub image_size: usize,
    pub patch_size: usize,
}

impl Default for TowerConfig {
    fn default() -> Self {
        TowerConfig {
            hidden_size: 512,
            intermediate_size: 2048,
            num_hidden_layers: 12,
            num_attention_heads: 8,
            hidden_act: Activation::QuickGelu,
            layer_norm_eps: 1e-5,
            vocab_size: 49408,
            max_position_embeddings: 77,
            image_size: 224,
            patch_size: 32,
        }
    }
}

/// A CLIP model's sizes, read from a Hugging Face `config.json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ClipConfig {
    pub text_config: TowerConfig,
    pub vision_config: TowerConfig,
    pub projection_dim: usize,
}

impl ClipConfig {
    /// OpenAI's ViT-B/32: 224² pictures in 32² patches, 12 layers of width 768
    /// (12 heads) for vision, 12 of width 512 (8 heads) for text, 512-d embeddings.
    pub fn vit_base_patch32() -> ClipConfig {
        ClipConfig {
            text_config: TowerConfig::default(),
            vision_config: TowerConfig {
                hidden_size: 768,
                intermediate_size: 3072,
                num_attention_heads: 12,
                ..TowerConfig::default()
            },
            projection_dim: 512,
        }
    }

    /// Reads a Hugging Face `config.json`.
    pub fn from_file(path: &Path) -> anyhow::Result<ClipConfig> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!("cannot read CLIP config {}", path.display())
        })?;
        let cfg: ClipConfig = serde_json::from_str(&text).with_context(|| {
            format!("{} is not a CLIP config.json", path.display())
        })?;
        cfg.check()
            .with_context(|| format!("{} cannot describe a CLIP", path.display()))?;
        Ok(cfg)
    }

    /// Sizes a model can be built with: every size positive, heads that
    /// divide the width, patches that tile the picture, and the tokenizer's
    /// 77 positions. The error names the field, as `config.json` spells it.
    pub fn check(&self) -> anyhow::Result<()> {
        ensure!(
            self.projection_dim > 0,
            "projection_dim must be positive, got 0"
        );
        for (tower, cfg) in
            [("text", &self.text_config), ("vision", &self.vision_config)]
        {
            let field = |name: &str| format!("{tower}_config.{name}");
            for (name, value) in [
                ("hidden_size", cfg.hidden_size),
                ("intermediate_size", cfg.intermediate_size),
                ("num_hidden_layers", cfg.num_hidden_layers),
                ("num_attention_heads", cfg.num_attention_heads),
            ] {
                ensure!(value > 0, "{} must be positive, got 0", field(name));
            }
            ensure!(
                cfg.hidden_size % cfg.num_attention_heads == 0,
                "{} ({}) must be a multiple of {} ({})",
                field("hidden_size"),
                cfg.hidden_size,
                field("num_attention_heads"),
                cfg.num_attention_heads
            );
            ensure!(
                cfg.layer_norm_eps.is_finite() && cfg.layer_norm_eps > 0.0,
                "{} must be a small positive number, got {}",
                field("layer_norm_eps"),
                cfg.layer_norm_eps
            );
        }
        let (text, vision) = (&self.text_config, &self.vision_config);
        ensure!(
            text.vocab_size > 0,
            "text_config.vocab_size must be positive, got 0"
        );
        ensure!(
            text.max_position_embeddings >= Tokenizer::CONTEXT,
            "text_config.max_position_embeddings must be at least {} (the tokenizer's context), got {}",
            Tokenizer::CONTEXT,
            text.max_position_embeddings
        );
        ensure!(
            vision.patch_size > 0 && vision.image_size % vision.patch_size == 0,
            "vision_config.patch_size ({}) must be positive and divide vision_config.image_size ({})",
            vision.patch_size,
            vision.image_size
        );
        ensure!(
            vision.image_size > 0,
            "vision_config.image_size must be positive, got 0"
        );
        Ok(())
    }
}

/// LayerNorm over the last dimension, with a backward pass to its input
/// ([`frozen::layer_norm`]; candle's fused one has none).
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    pub fn new(vb: VarBuilder, size: usize, eps: f64) -> candle_core::Result<Self> {
        Ok(LayerNorm {
            weight: vb.get(size, "weight")?,
            bias: vb.get(size, "bias")?,
            eps,
        })
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        frozen::layer_norm(x, &self.weight, &self.bias, self.eps)
    }
}

// OpenAI's `ResidualAttentionBlock`, Hugging Face's `CLIPEncoderLayer`:
// https://github.com/openai/CLIP/blob/dcba3cb2e2827b402d2701e7e1c7d9fed8a20ef1/clip/model.py#L171-L192
// https://github.com/huggingface/transformers/blob/000f1ffdbf1ce6190cc8863af9a2fff817590937/src/transformers/models/clip/modeling_clip.py#L363-L393
/// One pre-norm transformer block: x + attn(ln1(x)), then x + mlp(ln2(x)).
struct Block {
    layer_norm1: LayerNorm,
    attention: frozen::Attention,
    layer_norm2: LayerNorm,
    mlp: frozen::Mlp,
}

impl Block {
    fn new(vb: VarBuilder, cfg: &TowerConfig) -> candle_core::Result<Self> {
        let (d, eps) = (cfg.hidden_size, cfg.layer_norm_eps);
        let attention = vb.pp("self_attn");
        let projection = |name: &str| Linear::load(attention.pp(name), d, d, true);
        Ok(Block {
            layer_norm1: LayerNorm::new(vb.pp("layer_norm1"), d, eps)?,
            attention: frozen::Attention::new(
                projection("q_proj")?,
                projection("k_proj")?,
                projection("v_proj")?,
                projection("out_proj")?,
                cfg.num_attention_heads,
            ),
            layer_norm2: LayerNorm::new(vb.pp("layer_norm2"), d, eps)?,
            mlp: frozen::Mlp::new(
                Linear::load(vb.pp("mlp.fc1"), d, cfg.intermediate_size, true)?,
                Linear::load(vb.pp("mlp.fc2"), cfg.intermediate_size, d, true)?,
                cfg.hidden_act,
            ),
        })
    }

    /// The outputs of the first `tokens` tokens alone, `[b, tokens, d]`
    /// (all of them: `tokens` = n).
    fn forward(
        &self,
        x: &Tensor,
        tokens: usize,
        mask: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let attended =
            self.attention
                .forward(&self.layer_norm1.forward(x)?, tokens, mask)?;
        let x = (x.narrow(1, 0, tokens)? + attended)?;
        &x + self.mlp.forward(&self.layer_norm2.forward(&x)?)?
    }
}

// Hugging Face's `CLIPEncoder`:
// https://github.com/huggingface/transformers/blob/000f1ffdbf1ce6190cc8863af9a2fff817590937/src/transformers/models/clip/modeling_clip.py#L468-L513
/// A stack of blocks (`encoder.layers.{i}`).
struct Encoder {
    blocks: Vec<Block>,
}

impl Encoder {
    fn new(vb: VarBuilder, cfg: &TowerConfig) -> candle_core::Result<Self> {
        let blocks = (0..cfg.num_hidden_layers)
            .map(|i| Block::new(vb.pp(format!("layers.{i}")), cfg))
            .collect::<candle_core::Result<_>>()?;
        Ok(Encoder { blocks })
    }

    /// The outputs of the first `tokens` tokens alone: the last block
    /// computes no others, as nothing after it reads them.
    fn forward(
        &self,
        x: &Tensor,
        tokens: usize,
        mask: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let (mut x, n) = (x.clone(), x.dim(1)?);
        let last = self.blocks.len().saturating_sub(1);
        for (i, block) in self.blocks.iter().enumerate() {
            x = block.forward(&x, if i == last { tokens } else { n }, mask)?;
        }
        Ok(x)
    }
}

// OpenAI's `CLIP.encode_text`, Hugging Face's `CLIPTextTransformer`:
// https://github.com/openai/CLIP/blob/dcba3cb2e2827b402d2701e7e1c7d9fed8a20ef1/clip/model.py#L343-L356
// https://github.com/huggingface/transformers/blob/000f1ffdbf1ce6190cc8863af9a2fff817590937/src/transformers/models/clip/modeling_clip.py#L516-L588
/// The text tower (`text_model.*`): tokens + positions → causal transformer →
/// final LayerNorm, read at each row's end token.
pub struct TextTransformer {
    token_embedding: Embedding,
    position_embedding: Tensor,
    encoder: Encoder,
    final_layer_norm: LayerNorm,
}

impl TextTransformer {
    pub fn new(vb: VarBuilder, cfg: &TowerConfig) -> candle_core::Result<Self> {
        let d = cfg.hidden_size;
        let embeddings = vb.pp("embeddings");
        Ok(TextTransformer {
            token_embedding: candle_nn::embedding(
                cfg.vocab_size,
                d,
                embeddings.pp("token_embedding"),
            )?,
            position_embedding: embeddings
                .pp("position_embedding")
                .get((cfg.max_position_embeddings, d), "weight")?,
            encoder: Encoder::new(vb.pp("encoder"), cfg)?,
            final_layer_norm: LayerNorm::new(
                vb.pp("final_layer_norm"),
                d,
                cfg.layer_norm_eps,
            )?,
        })
    }

    /// Token ids `[b, n]` (u32) → pooled features `[b, width]`, read at the
    /// position of each row's largest id: the end token, 49407.
    pub fn forward(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        let (b, n) = ids.dims2()?;
        let positions = self.position_embedding.narrow(0, 0, n)?;
        let x = self
            .token_embedding
            .forward(ids)?
            .broadcast_add(&positions)?;
        // Causal: token i attends to tokens 0..=i only.
        let mask: Vec<f32> = (0..n * n)
            .map(|k| if k % n > k / n { -1e9 } else { 0.0 })
            .collect();
        let mask =
            Tensor::from_vec(mask, (n, n), ids.device())?.to_dtype(x.dtype())?;
        let x = self.final_layer_norm.forward(&self.encoder.forward(
            &x,
            n,
            Some(&mask),
        )?)?;
        let ends = ids.argmax(1)?.to_vec1::<u32>()?;
        let rows = (0..b)
            .map(|row| x.get(row)?.get(ends[row] as usize))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Tensor::stack(&rows, 0)
    }
}

// OpenAI's `VisionTransformer`; Hugging Face's `CLIPVisionEmbeddings` and
// `CLIPVisionTransformer`:
// https://github.com/openai/CLIP/blob/dcba3cb2e2827b402d2701e7e1c7d9fed8a20ef1/clip/model.py#L206-L240
// https://github.com/huggingface/transformers/blob/000f1ffdbf1ce6190cc8863af9a2fff817590937/src/transformers/models/clip/modeling_clip.py#L142-L222
// https://github.com/huggingface/transformers/blob/000f1ffdbf1ce6190cc8863af9a2fff817590937/src/transformers/models/clip/modeling_clip.py#L647-L683
/// The vision tower (`vision_model.*`): patches + class token + positions →
/// pre-LayerNorm → transformer → post-LayerNorm of the class token.
pub struct VisionTransformer {
    /// The stride-p convolution `[width, 3, p, p]` without bias, as a product
    /// with rows of 3·p·p pixels.
    patch_embedding: Linear,
    class_embedding: Tensor,
    position_embedding: Tensor,
    pre_layernorm: LayerNorm,
    encoder: Encoder,
    post_layernorm: LayerNorm,
    patch: usize,
}

impl VisionTransformer {
    pub fn new(vb: VarBuilder, cfg: &TowerConfig) -> candle_core::Result<Self> {
        let (d, p, eps) = (cfg.hidden_size, cfg.patch_size, cfg.layer_norm_eps);
        let cells = (cfg.image_size / p).pow(2);
        let embeddings = vb.pp("embeddings");
        Ok(VisionTransformer {
            patch_embedding: Linear::new(
                embeddings
                    .pp("patch_embedding")
                    .get((d, 3, p, p), "weight")?
                    .reshape((d, 3 * p * p))?,
                None,
            )?,
            class_embedding: embeddings.get(d, "class_embedding")?,
            position_embedding: embeddings
                .pp("position_embedding")
                .get((cells + 1, d), "weight")?,
            // Hugging Face's own spelling.
            pre_layernorm: LayerNorm::new(vb.pp("pre_layrnorm"), d, eps)?,
            encoder: Encoder::new(vb.pp("encoder"), cfg)?,
            post_layernorm: LayerNorm::new(vb.pp("post_layernorm"), d, eps)?,
            patch: p,
        })
    }

    /// Normalised pictures `[b, 3, s, s]` → pooled features `[b, width]`.
    pub fn forward(&self, pixels: &Tensor) -> candle_core::Result<Tensor> {
        let (b, _, h, w) = pixels.dims4()?;
        let (p, d) = (self.patch, self.class_embedding.dim(0)?);
        let rows = crate::models::autoencoder::patch_rows(pixels, p)?;
        let patches = self.patch_embedding.forward(&rows)?.reshape((
            b,
            (h / p) * (w / p),
            d,
        ))?;
        let class = self.class_embedding.reshape((1, 1, d))?.repeat((b, 1, 1))?;
        let x = Tensor::cat(&[class, patches], 1)?
            .broadcast_add(&self.position_embedding)?;
        // The class token's output is the picture's features.
        let x = self
            .encoder
            .forward(&self.pre_layernorm.forward(&x)?, 1, None)?;
        self.post_layernorm.forward(&x.squeeze(1)?)
    }
}

// OpenAI's `CLIP`, Hugging Face's `CLIPModel`:
// https://github.com/openai/CLIP/blob/dcba3cb2e2827b402d2701e7e1c7d9fed8a20ef1/clip/model.py#L243-L372
// https://github.com/huggingface/transformers/blob/000f1ffdbf1ce6190cc8863af9a2fff817590937/src/transformers/models/clip/modeling_clip.py#L743-L780
/// The whole CLIP: two towers, their projections and the logit scale.
pub struct ClipModel {
    pub cfg: ClipConfig,
    text_model: TextTransformer,
    vision_model: VisionTransformer,
    text_projection: Linear,
    visual_projection: Linear,
    logit_scale: Tensor,
}

impl ClipModel {
    pub fn new(vb: VarBuilder, cfg: &ClipConfig) -> candle_core::Result<Self> {
        let e = cfg.projection_dim;
        Ok(ClipModel {
            cfg: cfg.clone(),
            text_model: TextTransformer::new(vb.pp("text_model"), &cfg.text_config)?,
            vision_model: VisionTransformer::new(
                vb.pp("vision_model"),
                &cfg.vision_config,
            )?,
            text_projection: Linear::load(
                vb.pp("text_projection"),
                cfg.text_config.hidden_size,
                e,
                false,
            )?,
            visual_projection: Linear::load(
                vb.pp("visual_projection"),
                cfg.vision_config.hidden_size,
                e,
                false,
            )?,
            logit_scale: vb.get((), "logit_scale")?,
        })
    }

    /// Unnormalised image features `[b, e]` of normalised pictures.
    pub fn image_features(&self, pixels: &Tensor) -> candle_core::Result<Tensor> {
        self.visual_projection
            .forward(&self.vision_model.forward(pixels)?)
    }

    /// Unnormalised text features `[b, e]` of token ids `[b, n]`.
    pub fn text_features(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        self.text_projection.forward(&self.text_model.forward(ids)?)
    }

    /// `logits_per_image` `[images, texts]`: e^t times the cosine similarities.
    pub fn logits(
        &self,
        pixels: &Tensor,
        ids: &Tensor,
    ) -> candle_core::Result<Tensor> {
        crate::clip::loss::similarity_logits(
            &self.image_features(pixels)?,
            &self.text_features(ids)?,
            &self.logit_scale,
        )
    }

    /// e^t, capped at 100 as CLIP does.
    pub fn logit_scale(&self) -> candle_core::Result<f32> {
        Ok(self.logit_scale.exp()?.to_scalar::<f32>()?.min(100.0))
    }
}

/// Opens a safetensors file of CLIP weights as `dtype` (f32 on CPU), refusing
/// non-float and non-finite tensors by name ([`checked_tensors`]). Shape
/// errors from `new` name the tensor with the expected and found shapes.
pub fn weights(
    path: &Path,
    dtype: DType,
    device: &Device,
) -> anyhow::Result<VarBuilder<'static>> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read CLIP weights {}", path.display()))?;
    let tensors = checked_tensors(&bytes, &path.display().to_string(), device)?;
    Ok(VarBuilder::from_tensors(tensors, dtype, device))
}

impl ClipModel {
    /// Loads `model.safetensors` with `config.json` from a Hugging Face model
    /// folder (e.g. a download of `openai/clip-vit-base-patch32`).
    pub fn from_folder(folder: &Path, device: &Device) -> anyhow::Result<ClipModel> {
        ClipModel::from_folder_in(folder, DType::F32, device)
    }

    /// [`ClipModel::from_folder`] with the weights held in `dtype` (f16 or
    /// bf16 halve the memory on a GPU).
    pub fn from_folder_in(
        folder: &Path,
        dtype: DType,
        device: &Device,
    ) -> anyhow::Result<ClipModel> {
        let cfg = ClipConfig::from_file(&folder.join("config.json"))?;
        let path = folder.join("model.safetensors");
        let vb = weights(&path, dtype, device)?;
        ClipModel::new(vb, &cfg)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }
}

/// OpenAI's CLIP with its tokenizer and preprocessing, as a [`crate::clip::Clip`]:
/// what zero-shot classification and guidance use.
pub struct OpenAiClip {
    pub model: ClipModel,
    pub tokenizer: super::tokenizer::Tokenizer,
    device: Device,
    /// What the weights are held in. Pictures come in and their embeddings
    /// go out in the loop's own dtype (f32) whatever it is.
    dtype: DType,
}

impl OpenAiClip {
    /// A Hugging Face model folder: `config.json`, `model.safetensors`, and the
    /// tokenizer's merges (`merges.txt`, or OpenAI's `bpe_simple_vocab_16e6.txt.gz`).
    pub fn from_folder(
        folder: &Path,
        device: &Device,
    ) -> anyhow::Result<OpenAiClip> {
        OpenAiClip::from_folder_in(folder, DType::F32, device)
    }

    /// [`OpenAiClip::from_folder`] with the weights held in `dtype`.
    pub fn from_folder_in(
        folder: &Path,
        dtype: DType,
        device: &Device,
    ) -> anyhow::Result<OpenAiClip> {
        let model = ClipModel::from_folder_in(folder, dtype, device)?;
        let merges = ["merges.txt", "bpe_simple_vocab_16e6.txt.gz"]
            .map(|name| folder.join(name))
            .into_iter()
            .find(|path| path.exists())
            .with_context(|| {
                format!("{} has no merges.txt for the tokenizer", folder.display())
            })?;
        let tokenizer = super::tokenizer::Tokenizer::from_file(&merges)?;
        Ok(OpenAiClip {
            model,
            tokenizer,
            device: device.clone(),
            dtype,
        })
    }
}

impl crate::clip::Clip for OpenAiClip {
    fn device(&self) -> &Device {
        &self.device
    }

    fn image_size(&self) -> usize {
        self.model.cfg.vision_config.image_size
    }

    fn image_embeddings(&self, pictures: &Tensor) -> anyhow::Result<Tensor> {
        let (_, _, h, w) = pictures.dims4()?;
        let s = self.image_size();
        if (h, w) != (s, s) {
            bail!("CLIP sees {s}×{s} pictures, got {w}×{h}");
        }
        let pixels = super::preprocess::normalise(pictures)?.to_dtype(self.dtype)?;
        Ok(self
            .model
            .image_features(&pixels)?
            .to_dtype(pictures.dtype())?)
    }

    fn text_embeddings(&self, texts: &[&str]) -> anyhow::Result<Tensor> {
        let rows = self.tokenizer.tokenize_batch(texts, false)?;
        let ids = Tensor::new(rows, &self.device)?;
        Ok(self.model.text_features(&ids)?.to_dtype(DType::F32)?)
    }

    fn logit_scale(&self) -> anyhow::Result<f32> {
        Ok(self.model.logit_scale()?)
    }

    fn picture(&self, image: &image::DynamicImage) -> anyhow::Result<Tensor> {
        let s = self.image_size() as u32;
        Ok(super::preprocess::picture_tensor(
            &image.to_rgb8(),
            s,
            &self.device,
        )?)
    }
}

#[cfg(feature = "hub")]
impl OpenAiClip {
    /// Downloads `repo` (e.g. `openai/clip-vit-base-patch32`) from the Hugging
    /// Face hub once, with progress bars, into its usual cache, and loads it.
    pub fn from_hub(repo: &str, device: &Device) -> anyhow::Result<OpenAiClip> {
        let api = hf_hub::api::sync::ApiBuilder::new()
            .with_progress(true)
            .build()
            .context("cannot reach the Hugging Face hub")?;
        let model = api.model(repo.to_string());
        let mut folder = None;
        for file in ["config.json", "merges.txt", "model.safetensors"] {
            let path = model.get(file).with_context(|| {
                format!("cannot download {file} of {repo} from the hub")
            })?;
            folder = path.parent().map(Path::to_path_buf);
        }
        OpenAiClip::from_folder(
            &folder.context("the hub returned no files")?,
            device,
        )
    }
}

//! One Big Sleep step as `big-sleep` takes it, on the CPU: BigGAN-deep's
//! layered forward from one noise and one class row per layer, cutouts of
//! Big Sleep's sizes resized nearest to 224², ViT-B/32, −100 · cosine plus
//! the latents' statistics and class losses, the backward pass to the
//! latents, Adam and the moving average. Random weights of the real shapes
//! (biggan-deep-256 and ViT-B/32, f32), 32 cutouts by default (Big Sleep
//! takes 128). When PyTorch is installed (the Python in
//! CLIP_ART_TORCH_PYTHON, default python3), `scripts/bench/torch_biggan_step.py`
//! takes the same step right after, on the same threads, with
//! pytorch-pretrained-biggan and transformers. Each side reports its peak
//! memory. On a GPU (`--features cuda`, CLIP_ART_TEST_DEVICE=cuda) it times
//! the same step there: `scripts/device-check.sh`.
//!
//! `cargo bench --bench biggan_step [-- CUTOUTS [STEPS]]`

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::time::Instant;

use candle_core::{Device, Tensor};
use clip_art::clip::openai::vit::{ClipConfig, ClipModel};
use clip_art::guide::biggan::{BigSleep, BigSleepConfig, dream};
use clip_art::guide::engine::Guide;
use clip_art::models::biggan::{BigGan, Config};

/// The allocator of the `clip-art` binary, so the bench measures what it runs.
#[path = "../src/bin/clip-art/allocator.rs"]
mod allocator;
mod common;
use common::measure::{
    frozen, peak_memory_mb, random_frozen, random_weights, summary,
};
use common::pytorch;

/// biggan-deep-256's config.json (its sizes: 55.9 M parameters).
const DEEP_256: &str = r#"{
  "output_dim": 256, "z_dim": 128, "class_embed_dim": 128, "channel_width": 128,
  "num_classes": 1000, "attention_layer_position": 8, "eps": 1e-4, "n_stats": 51,
  "layers": [[false, 16, 16], [true, 16, 16], [false, 16, 16], [true, 16, 8],
             [false, 8, 8], [true, 8, 8], [false, 8, 8], [true, 8, 4],
             [false, 4, 4], [true, 4, 2], [false, 2, 2], [true, 2, 1]]
}"#;

/// BigGAN's random weights made sound: variances 1, and each spectral norm's
/// u and v one power-iteration step of its weight (σ = |W v| > 0).
fn sound_biggan_weights(
    mut tensors: HashMap<String, Tensor>,
) -> anyhow::Result<HashMap<String, Tensor>> {
    for (name, tensor) in tensors.iter_mut() {
        if name.ends_with("running_vars") {
            *tensor = tensor.ones_like()?;
        }
    }
    let originals: Vec<String> = tensors
        .keys()
        .filter_map(|k| k.strip_suffix(".weight_orig").map(str::to_string))
        .collect();
    for prefix in originals {
        let w = &tensors[&format!("{prefix}.weight_orig")];
        let w = w.reshape((w.dim(0)?, ()))?;
        let v = tensors[&format!("{prefix}.weight_v")].randn_like(0.0, 1.0)?;
        let v = (&v / v.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()? as f64)?;
        let u = w.matmul(&v.unsqueeze(1)?)?.squeeze(1)?;
        let u = (&u / u.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()? as f64)?;
        tensors.insert(format!("{prefix}.weight_v"), v);
        tensors.insert(format!("{prefix}.weight_u"), u);
    }
    Ok(tensors)
}

/// ViT-B/32's image side as the guide's [`clip_art::clip::Clip`]; Big Sleep
/// needs no text here (a noise prompt stands for one).
struct ImageSide(ClipModel, Device);

impl clip_art::clip::Clip for ImageSide {
    fn device(&self) -> &Device {
        &self.1
    }
    fn image_size(&self) -> usize {
        self.0.cfg.vision_config.image_size
    }
    fn image_embeddings(&self, pictures: &Tensor) -> anyhow::Result<Tensor> {
        let pixels = clip_art::clip::openai::preprocess::normalise(pictures)?;
        Ok(self.0.image_features(&pixels)?)
    }
    fn text_embeddings(&self, _: &[&str]) -> anyhow::Result<Tensor> {
        anyhow::bail!("the bench's guide has no text side")
    }
    fn logit_scale(&self) -> anyhow::Result<f32> {
        Ok(100.0)
    }
}

fn main() -> anyhow::Result<()> {
    allocator::keep_freed_memory();
    let numbers = common::measure::numbers_in_args();
    let count = numbers.first().copied().unwrap_or(32);
    let steps = numbers.get(1).copied().unwrap_or(3);
    let threads = candle_core::utils::get_num_threads();
    let device = clip_art::nn::device::test_device();

    let cfg: Config = serde_json::from_str(DEEP_256)?;
    let build = |vb: candle_nn::VarBuilder| BigGan::new(vb, &cfg);
    let weights = sound_biggan_weights(random_weights(build, &device)?)?;
    let biggan = frozen(build, weights, &device)?;
    let clip_cfg = ClipConfig::vit_base_patch32();
    let clip = ImageSide(
        random_frozen(|vb| ClipModel::new(vb, &clip_cfg), &device)?,
        device.clone(),
    );
    let guide = Guide::new(&clip, &[])?.with_noise_prompt(0, 1.0)?;
    let mut settings = BigSleepConfig::new(clip_cfg.vision_config.image_size);
    settings.cutouts.count = count;
    let mut sleep = BigSleep::new(&biggan, &settings)?;
    let one_step = BigSleepConfig {
        steps: 1,
        ..settings
    };
    println!(
        "Big Sleep step: biggan-deep-256 + ViT-B/32, random f32 weights, 256², \
         {count} cutouts, {} ({threads} CPU threads)",
        if device.is_cpu() { "CPU" } else { "GPU" }
    );
    let mut seconds = Vec::new();
    for _ in 0..=steps {
        let start = Instant::now();
        dream(&mut sleep, &guide, &one_step, |_, _, _| {
            ControlFlow::Continue(())
        })?;
        seconds.push(start.elapsed().as_secs_f64());
    }
    // The first step warms up. On a GPU the process's memory is not the
    // GPU's: device-check.sh asks nvidia-smi.
    println!(
        "candle  step {}, peak memory {:.0} MB (process)",
        summary(&seconds[1..]),
        peak_memory_mb()
    );
    let mut args = [threads, count, steps].map(|n| n.to_string()).to_vec();
    args.push(if device.is_cpu() { "cpu" } else { "cuda" }.to_string());
    pytorch::run_reference("torch_biggan_step.py", &args);
    Ok(())
}

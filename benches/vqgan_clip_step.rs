//! One VQGAN+CLIP step as the notebooks take it, on the CPU: the straight-
//! through quantiser, the decoder, `ClampWithGrad`, 32 cutouts resampled the
//! classic way to 224², ViT-B/32, the spherical-distance loss, the backward
//! pass to `z`, Adam and the clamp. Random weights of the real shapes
//! (`vqgan_imagenet_f16_16384` and ViT-B/32, f32), a 256² picture by default.
//! When PyTorch is installed (the Python in CLIP_ART_TORCH_PYTHON, default
//! python3), `scripts/bench/torch_vqgan_clip_step.py` takes the same step
//! right after, on the same threads. Each side reports its peak memory.
//! On a GPU (`--features cuda`, CLIP_ART_TEST_DEVICE=cuda) it times the same
//! step there: `scripts/device-check.sh`.
//!
//! `cargo bench --bench vqgan_clip_step [-- SIDE [CUTOUTS [STEPS]]]`

use std::time::Instant;

use candle_core::Tensor;
use clip_art::clip::openai::preprocess::normalise;
use clip_art::clip::openai::vit::{ClipConfig, ClipModel};
use clip_art::guide::cutouts::Cutouts;
use clip_art::guide::generators::Generator;
use clip_art::guide::loss::prompt_loss;
use clip_art::guide::prompts::Prompt;
use clip_art::guide::vqgan::VqganGenerator;
use clip_art::models::vqgan::{Config, VqGan};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The allocator of the `clip-art` binary, so the bench measures what it runs.
#[path = "../src/bin/clip-art/allocator.rs"]
mod allocator;
mod common;
use common::measure::{median, peak_memory_mb, random_frozen, summary};
use common::pytorch;

/// `vqgan_imagenet_f16_16384`'s model.yaml, as published (its sizes).
const F16_16384: &str = "
model:
  target: taming.models.vqgan.VQModel
  params:
    embed_dim: 256
    n_embed: 16384
    ddconfig:
      double_z: false
      z_channels: 256
      resolution: 256
      in_channels: 3
      out_ch: 3
      ch: 128
      ch_mult: [1, 1, 2, 2, 4]
      num_res_blocks: 2
      attn_resolutions: [16]
      dropout: 0.0
";

fn main() -> anyhow::Result<()> {
    allocator::keep_freed_memory();
    let numbers = common::measure::numbers_in_args();
    let side = numbers.first().copied().unwrap_or(256);
    let count = numbers.get(1).copied().unwrap_or(32);
    let steps = numbers.get(2).copied().unwrap_or(3);
    let threads = candle_core::utils::get_num_threads();
    let device = clip_art::nn::device::test_device();

    let vqgan_cfg = Config::from_yaml_text(F16_16384)?;
    let vqgan = random_frozen(|vb| VqGan::new(vb, &vqgan_cfg), &device)?;
    let clip_cfg = ClipConfig::vit_base_patch32();
    let clip = random_frozen(|vb| ClipModel::new(vb, &clip_cfg), &device)?;
    let target = Tensor::randn(0f32, 1.0, (1, clip_cfg.projection_dim), &device)?;
    let prompt = Prompt {
        text: "random".into(),
        weight: 1.0,
        stop: f32::NEG_INFINITY,
    };
    let cutouts = Cutouts::classic(count, clip_cfg.vision_config.image_size);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let generator = VqganGenerator::random(&vqgan, side, &mut rng)?;
    let mut adam = clip_art::nn::train::adam(generator.variables(), 0.1)?;
    println!(
        "VQGAN+CLIP step: vqgan_imagenet_f16_16384 + ViT-B/32, random f32 weights, \
         {side}², {count} cutouts, {} ({threads} CPU threads)",
        if device.is_cpu() { "CPU" } else { "GPU" }
    );
    // Each step's phases: the decoder's picture, the cutouts, CLIP and the
    // loss, then the backward pass through all of them with Adam's step.
    let mut phases: [Vec<f64>; 5] = Default::default();
    for _ in 0..=steps {
        let start = Instant::now();
        let mut lap = Instant::now();
        let mut split = |phase: usize| {
            phases[phase].push(lap.elapsed().as_secs_f64());
            lap = Instant::now();
        };
        let picture = generator.render()?;
        split(0);
        let views = cutouts.cut(&picture, &mut rng)?;
        split(1);
        let features = clip.image_features(&normalise(&views)?)?;
        let loss = prompt_loss(&features, &target, &prompt)?;
        loss.to_scalar::<f32>()?;
        split(2);
        candle_nn::Optimizer::backward_step(&mut adam, &loss)?;
        generator.after_step()?;
        split(3);
        phases[4].push(start.elapsed().as_secs_f64());
    }
    // The first step warms up. On a GPU the process's memory is not the
    // GPU's: device-check.sh asks nvidia-smi.
    println!(
        "candle  step {}, peak memory {:.0} MB (process); medians: decoder {:.2} s, \
         cutouts {:.2} s, CLIP {:.2} s, backward and Adam {:.2} s",
        summary(&phases[4][1..]),
        peak_memory_mb(),
        median(&phases[0][1..]),
        median(&phases[1][1..]),
        median(&phases[2][1..]),
        median(&phases[3][1..]),
    );

    let mut args = [threads, side, count, steps]
        .map(|n| n.to_string())
        .to_vec();
    args.push(if device.is_cpu() { "cpu" } else { "cuda" }.to_string());
    pytorch::run_reference("torch_vqgan_clip_step.py", &args);
    Ok(())
}

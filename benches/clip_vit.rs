//! The real CLIP's cost for guidance: one forward pass and one forward +
//! backward pass to the pixels of the ViT-B/32 image tower (random frozen
//! weights, f32, 224², batch 1 and 32), printed as medians with the fastest
//! run. When PyTorch is installed (the Python in CLIP_ART_TORCH_PYTHON,
//! default python3), the same measurement on transformers' CLIP runs right
//! after, on the same threads.
//!
//! `cargo bench --bench clip_vit [-- BATCH...]`

use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use clip_art::clip::openai::vit::{ClipConfig, VisionTransformer};

/// The allocator of the `clip-art` binary, so the bench measures what it runs.
#[path = "../src/bin/clip-art/allocator.rs"]
mod allocator;
mod common;
use common::pytorch;

/// The median of the timed runs and, in brackets, the fastest: this machine's
/// neighbours make single runs vary by ±20%.
fn summary(seconds: &[f64]) -> String {
    let mut sorted = seconds.to_vec();
    sorted.sort_by(f64::total_cmp);
    format!(
        "{:.3} s (fastest {:.3})",
        sorted[sorted.len() / 2],
        sorted[0]
    )
}

fn main() -> anyhow::Result<()> {
    allocator::keep_freed_memory();
    let batches: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let batches = if batches.is_empty() {
        vec![1, 32]
    } else {
        batches
    };
    let threads = candle_core::utils::get_num_threads();
    let device = Device::Cpu;
    let cfg = ClipConfig::vit_base_patch32().vision_config;
    // The first tower only creates the variables; the tower reads its weights
    // when it is built, so the measured one is built after they are drawn.
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
    VisionTransformer::new(vb.pp("vision_model"), &cfg)?;
    for var in varmap.all_vars() {
        var.set(&Tensor::randn(0f32, 0.02, var.shape(), &device)?)?;
    }
    let tower = VisionTransformer::new(vb.pp("vision_model"), &cfg)?;
    println!("ViT-B/32 image tower, random f32 weights, 224², {threads} threads");
    for &batch in &batches {
        let repeats = if batch == 1 { 10 } else { 3 };
        let (mut forward, mut both) = (Vec::new(), Vec::new());
        for _ in 0..=repeats {
            let pixels = Var::randn(0f32, 1.0, (batch, 3, 224, 224), &device)?;
            let start = Instant::now();
            tower
                .forward(&pixels.as_tensor().detach())?
                .sum_all()?
                .to_scalar::<f32>()?;
            forward.push(start.elapsed().as_secs_f64());
            let start = Instant::now();
            let grads = tower.forward(&pixels)?.sum_all()?.backward()?;
            grads
                .get(&pixels)
                .expect("a gradient at the pixels")
                .sum_all()?
                .to_scalar::<f32>()?;
            both.push(start.elapsed().as_secs_f64());
        }
        println!(
            "candle  batch {batch}: forward {}, forward+backward {}",
            summary(&forward[1..]),
            summary(&both[1..])
        );
    }
    let mut args = vec![threads.to_string()];
    args.extend(batches.iter().map(usize::to_string));
    pytorch::run_reference("torch_clip_vit.py", &args);
    Ok(())
}

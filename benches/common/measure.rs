//! Random weights of a real model's shapes, and how the steps are timed.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};

/// Random weights for every tensor `build` asks for: matrices and kernels
/// N(0, 1/fan-in), norm scales 1, biases 0 (a model may adjust some, such
/// as BigGAN's statistics, before [`frozen`] builds it).
pub fn random_weights<T>(
    build: impl Fn(VarBuilder) -> candle_core::Result<T>,
    device: &Device,
) -> anyhow::Result<HashMap<String, Tensor>> {
    let varmap = VarMap::new();
    build(VarBuilder::from_varmap(&varmap, DType::F32, device))?;
    let mut tensors = HashMap::new();
    for (name, var) in varmap.data().lock().unwrap().iter() {
        let shape = var.shape().clone();
        let values = if shape.rank() >= 2 {
            let fan_in = shape.elem_count() / shape.dims()[0];
            Tensor::randn(0f32, (1.0 / fan_in as f64).sqrt() as f32, shape, device)?
        } else if name.ends_with("weight") {
            Tensor::ones(shape, DType::F32, device)?
        } else {
            Tensor::zeros(shape, DType::F32, device)?
        };
        tensors.insert(name.clone(), values);
    }
    Ok(tensors)
}

/// The model `build` makes from `tensors`, frozen: plain tensors, so that no
/// gradient is computed for a weight.
pub fn frozen<T>(
    build: impl Fn(VarBuilder) -> candle_core::Result<T>,
    tensors: HashMap<String, Tensor>,
    device: &Device,
) -> anyhow::Result<T> {
    Ok(build(VarBuilder::from_tensors(
        tensors,
        DType::F32,
        device,
    ))?)
}

/// [`random_weights`], then [`frozen`].
pub fn random_frozen<T>(
    build: impl Fn(VarBuilder) -> candle_core::Result<T>,
    device: &Device,
) -> anyhow::Result<T> {
    let tensors = random_weights(&build, device)?;
    frozen(build, tensors, device)
}

/// The bench's numeric arguments (`cargo bench --bench NAME -- 256 32`), in
/// order; cargo's own flags are skipped.
pub fn numbers_in_args() -> Vec<usize> {
    std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect()
}

/// The process's peak resident memory (VmHWM), in MB.
pub fn peak_memory_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

pub fn median(seconds: &[f64]) -> f64 {
    let mut sorted = seconds.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// The median and, in brackets, the fastest run.
pub fn summary(seconds: &[f64]) -> String {
    let fastest = seconds.iter().copied().fold(f64::INFINITY, f64::min);
    format!("{:.2} s (fastest {fastest:.2})", median(seconds))
}

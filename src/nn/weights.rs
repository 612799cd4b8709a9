//! Weight files: save trained variables, open them again (from a file or the
//! bytes built into the program), and seed fresh ones so that the same seed
//! trains the same model.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, ensure};
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Uniform};

use crate::files::{Existing, OutputFile};

/// Saves trained variables as safetensors, replacing an older file, never
/// leaving half a file ([`crate::files`]).
pub fn save_weights(varmap: &VarMap, path: &Path) -> anyhow::Result<()> {
    OutputFile::check(path, Existing::Replace)?
        .write_with(|file| Ok(varmap.save(file)?))
}

/// Replaces candle's (unseeded) initial weights with seeded ones, so that the
/// same seed trains the same model: weights uniform in ±1/√fan_in as PyTorch
/// does, biases zero.
pub fn seed_weights(varmap: &VarMap, seed: u64) -> anyhow::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let data = varmap.data().lock().expect("varmap lock");
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for name in names {
        let var = &data[name];
        let dims = var.dims();
        let values: Vec<f32> = if dims.len() >= 2 {
            // A transposed convolution's weight is [in, out, k, k]: each output
            // sums `in` inputs.
            let fan_in: usize = if name.contains("deconv") {
                dims[0]
            } else {
                dims[1..].iter().product()
            };
            let bound = 1.0 / (fan_in as f32).sqrt();
            let uniform = Uniform::new_inclusive(-bound, bound)?;
            (0..var.elem_count())
                .map(|_| uniform.sample(&mut rng))
                .collect()
        } else {
            vec![0.0; var.elem_count()]
        };
        var.set(&Tensor::from_vec(values, dims, var.device())?)?;
    }
    Ok(())
}

/// Opens a safetensors weight file (or the embedded bytes of one) for a model.
/// Every failure names the file; a wrong or missing tensor is named by candle.
pub fn weights_from_file(
    path: &Path,
    device: &Device,
) -> anyhow::Result<VarBuilder<'static>> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read weights {}", path.display()))?;
    weights_from_bytes(bytes, &path.display().to_string(), device)
}

/// Opens the bytes of a safetensors file; `origin` names them in errors.
pub fn weights_from_bytes(
    bytes: Vec<u8>,
    origin: &str,
    device: &Device,
) -> anyhow::Result<VarBuilder<'static>> {
    let tensors = checked_tensors(&bytes, origin, device)?;
    Ok(VarBuilder::from_tensors(tensors, DType::F32, device))
}

/// Every tensor of a safetensors file, checked at load time: floating point
/// (candle would convert integers silently) and finite (a NaN would only
/// show up later as a loss that diverges). A bad tensor is named.
pub fn checked_tensors(
    bytes: &[u8],
    origin: &str,
    device: &Device,
) -> anyhow::Result<HashMap<String, Tensor>> {
    let tensors = candle_core::safetensors::load_buffer(bytes, device)
        .with_context(|| {
            format!(
                "{origin} is not a valid safetensors file (truncated or corrupt?)"
            )
        })?;
    check_tensors(&tensors, origin)?;
    Ok(tensors)
}

/// [`checked_tensors`]' checks, on tensors read by other means (a PyTorch
/// checkpoint).
pub fn check_tensors(
    tensors: &HashMap<String, Tensor>,
    origin: &str,
) -> anyhow::Result<()> {
    let mut names: Vec<&String> = tensors.keys().collect();
    names.sort();
    for name in names {
        let tensor = &tensors[name];
        ensure!(
            tensor.dtype().is_float(),
            "{origin}: tensor {name} has dtype {:?}; weights must be floating point",
            tensor.dtype()
        );
        let values = tensor
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let bad = values.iter().filter(|v| !v.is_finite()).count();
        ensure!(
            bad == 0,
            "{origin}: tensor {name} has {bad} of {} values that are not finite (NaN or ±∞)",
            values.len()
        );
    }
    Ok(())
}

/// A model from the weights built into the program (`name`: the file they
/// came from), made by its `new(vb, &cfg)` for the default configuration.
pub fn shipped<M, C: Default>(
    bytes: &[u8],
    name: &str,
    device: &Device,
    new: impl FnOnce(VarBuilder, &C) -> candle_core::Result<M>,
) -> anyhow::Result<M> {
    let vb = weights_from_bytes(bytes.to_vec(), &format!("shipped {name}"), device)?;
    new(vb, &C::default()).with_context(|| format!("shipped {name}"))
}

/// A model saved by its training command, made by its `new(vb, &cfg)`; every
/// error names the file.
pub fn load<M, C>(
    path: &Path,
    cfg: &C,
    device: &Device,
    new: impl FnOnce(VarBuilder, &C) -> candle_core::Result<M>,
) -> anyhow::Result<M> {
    let vb = weights_from_file(path, device)?;
    new(vb, cfg).with_context(|| format!("{}", path.display()))
}

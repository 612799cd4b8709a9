//! The taming VQGAN port against the reference code: tiny random VQGANs made
//! by `scripts/golden/make_tiny_vqgan.py` with taming's own modules, their
//! weights loaded unchanged, and every output compared.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use clip_art::models::vqgan::{Config, Quantizer, VqGan};
use clip_art::nn::compare::assert_close;

/// The CPU, or the GPU `scripts/device-check.sh` names (`CLIP_ART_TEST_DEVICE`).
fn device() -> Device {
    clip_art::nn::device::test_device()
}

const TOLERANCE: f32 = 1e-4;

/// Relative to the package root, where `cargo test` runs the tests (and
/// `scripts/device-check.sh` runs their prebuilt binaries on another machine).
fn fixture(name: &str) -> PathBuf {
    Path::new("tests/fixtures/vqgan").join(name)
}

/// The model of a fixture folder, and its golden tensors.
fn load(name: &str) -> (VqGan, std::collections::HashMap<String, Tensor>) {
    let folder = fixture(name);
    let cfg = Config::from_yaml(&folder.join("model.yaml")).unwrap();
    let weights = folder.join("model.safetensors");
    let vb = unsafe {
        VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, &device())
    }
    .unwrap();
    let model = VqGan::new(vb, &cfg).unwrap();
    let golden =
        candle_core::safetensors::load(folder.join("golden.safetensors"), &device())
            .unwrap();
    (model, golden)
}

fn as_u32(indices: &Tensor) -> Vec<u32> {
    indices
        .to_dtype(DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap()
        .into_iter()
        .map(|i| i as u32)
        .collect()
}

/// Encode, choose codes, look them up and decode, each against taming.
fn assert_matches_taming(name: &str, quantizer: Quantizer) {
    let (model, golden) = load(name);
    assert_eq!(model.config.quantizer, quantizer);
    let latents = model.encode(&golden["image"]).unwrap();
    assert_close("h", &latents, &golden["h"], TOLERANCE);
    let indices = model.code_indices(&golden["h"]).unwrap();
    assert_eq!(as_u32(&indices), as_u32(&golden["indices"]));
    let quantised = model.codes_to_latents(&indices).unwrap();
    assert_close("z_q", &quantised, &golden["z_q"], TOLERANCE);
    for (latents, picture) in [("z_q", "decoded"), ("z_random", "decoded_random")] {
        let decoded = model.decode(&golden[latents]).unwrap();
        assert_close(picture, &decoded, &golden[picture], TOLERANCE);
    }
}

#[test]
fn the_vector_quantised_vqgan_encodes_quantises_and_decodes_as_taming_does() {
    assert_matches_taming("tiny", Quantizer::Nearest);
}

#[test]
fn the_gumbel_vqgan_scores_codes_and_decodes_as_taming_does() {
    assert_matches_taming("tiny-gumbel", Quantizer::Gumbel);
}

#[test]
fn a_missing_or_misshapen_tensor_is_named() {
    let folder = fixture("tiny");
    let cfg = Config::from_yaml(&folder.join("model.yaml")).unwrap();
    let mut tensors =
        candle_core::safetensors::load(folder.join("model.safetensors"), &device())
            .unwrap();
    let mut missing = tensors.clone();
    missing.remove("decoder.up.1.upsample.conv.weight");
    let vb = VarBuilder::from_tensors(missing, DType::F32, &device());
    let error = VqGan::new(vb, &cfg).err().unwrap().to_string();
    assert!(
        error.contains("decoder.up.1.upsample.conv.weight"),
        "{error}"
    );
    let codebook = Tensor::zeros((3, 3), DType::F32, &device()).unwrap();
    tensors.insert("quantize.embedding.weight".into(), codebook);
    let vb = VarBuilder::from_tensors(tensors, DType::F32, &device());
    let error = VqGan::new(vb, &cfg).err().unwrap().to_string();
    assert!(
        error.contains("embedding.weight") && error.contains("[3, 3]"),
        "{error}"
    );
}

#[test]
fn a_model_yaml_that_cannot_describe_a_vqgan_names_the_field() {
    let text = std::fs::read_to_string(fixture("tiny").join("model.yaml")).unwrap();
    let bad = text.replace("ch: 32", "ch: 20");
    let error = format!("{:#}", Config::from_yaml_text(&bad).unwrap_err());
    assert!(error.contains("ddconfig.ch"), "{error}");
    let bad = text.replace("VQModel", "Diffusion");
    let error = format!("{:#}", Config::from_yaml_text(&bad).unwrap_err());
    assert!(error.contains("model.target"), "{error}");
}

#[test]
fn a_lightning_checkpoint_is_read_in_rust_without_its_loss_tensors() {
    let folder = fixture("tiny");
    let from_ckpt = clip_art::models::vqgan::checkpoint_tensors(
        &folder.join("last.ckpt"),
        &device(),
    )
    .unwrap();
    let mut names: Vec<&String> = from_ckpt.keys().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "post_quant_conv.bias",
            "post_quant_conv.weight",
            "quant_conv.bias",
            "quant_conv.weight",
            "quantize.embedding.weight"
        ]
    );
    let published =
        candle_core::safetensors::load(folder.join("model.safetensors"), &device())
            .unwrap();
    for (name, tensor) in &from_ckpt {
        assert_close(name, tensor, &published[name], TOLERANCE);
    }
}

#[test]
fn a_folder_loads_from_its_yaml_and_weights_and_says_what_is_missing() {
    let model = VqGan::from_folder(&fixture("tiny-gumbel"), &device()).unwrap();
    assert_eq!(model.config.quantizer, Quantizer::Gumbel);
    let empty = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("tiny").join("model.yaml"),
        empty.path().join("model.yaml"),
    )
    .unwrap();
    let error = format!(
        "{:#}",
        VqGan::from_folder(empty.path(), &device()).err().unwrap()
    );
    assert!(
        error.contains("neither model.safetensors nor a .ckpt"),
        "{error}"
    );
    std::fs::copy(
        fixture("tiny").join("last.ckpt"),
        empty.path().join("last.ckpt"),
    )
    .unwrap();
    let error = format!(
        "{:#}",
        VqGan::from_folder(empty.path(), &device()).err().unwrap()
    );
    assert!(error.contains("cannot find tensor encoder."), "{error}");
}

#[test]
fn the_vqgan_generator_renders_pictures_steers_its_latents_and_keeps_them_in_range()
{
    use clip_art::guide::generators::Generator;
    use clip_art::guide::vqgan::VqganGenerator;
    use rand::SeedableRng;
    let model = VqGan::from_folder(&fixture("tiny"), &device()).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let generator = VqganGenerator::random(&model, 32, &mut rng).unwrap();
    let picture = generator.render().unwrap();
    assert_eq!(picture.dims(), [1, 3, 32, 32]);
    let values = picture.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(values.iter().all(|v| (0.0..=1.0).contains(v)));
    // The straight-through quantiser: a loss on the picture reaches z.
    let z = &generator.variables()[0];
    let grads = picture.mean_all().unwrap().backward().unwrap();
    let grad = grads.get(z.as_tensor()).expect("a gradient at z");
    assert!(
        grad.abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
            > 0.0
    );
    // After a step, z stays within the codebook's range, channel by channel.
    z.set(&(z.as_tensor() * 100.0).unwrap()).unwrap();
    generator.after_step().unwrap();
    let codebook = model.quantize.codebook();
    let high = codebook.max(0).unwrap().to_vec1::<f32>().unwrap();
    let z_max = z
        .as_tensor()
        .max(3)
        .unwrap()
        .max(2)
        .unwrap()
        .max(0)
        .unwrap();
    for (found, bound) in z_max.to_vec1::<f32>().unwrap().iter().zip(&high) {
        assert!(found <= bound, "{found} > {bound}");
    }
    assert!(VqganGenerator::random(&model, 31, &mut rng).is_err());
}

#[test]
fn the_decoders_gradient_matches_finite_differences() {
    // In f64, so that central differences are exact to ~1e-9. Guidance needs
    // this gradient, and candle's fused `softmax_last_dim` (which the
    // attention once used) has no backward: its path then silently
    // contributed nothing.
    let folder = fixture("tiny");
    let cfg = Config::from_yaml(&folder.join("model.yaml")).unwrap();
    let vb = unsafe {
        VarBuilder::from_mmaped_safetensors(
            &[folder.join("model.safetensors")],
            DType::F64,
            &device(),
        )
    }
    .unwrap();
    let model = VqGan::new(vb, &cfg).unwrap();
    let latents =
        candle_core::Var::randn(0f64, 1.0, (1, 8, 8, 8), &device()).unwrap();
    let weights = Tensor::randn(0f64, 1.0, (1, 3, 16, 16), &device()).unwrap();
    let objective = |x: &Tensor| {
        (model.decode(x).unwrap() * &weights)
            .unwrap()
            .sum_all()
            .unwrap()
    };
    let grads = objective(latents.as_tensor()).backward().unwrap();
    let grad: Vec<f64> = grads
        .get(latents.as_tensor())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    for k in [0usize, 17, 100, 255, 300, 511] {
        let mut bump = vec![0f64; 512];
        bump[k] = 1e-5;
        let bump = Tensor::from_vec(bump, (1, 8, 8, 8), &device()).unwrap();
        let at = |x: Tensor| objective(&x).to_scalar::<f64>().unwrap();
        let numeric = (at((latents.as_tensor() + &bump).unwrap())
            - at((latents.as_tensor() - &bump).unwrap()))
            / 2e-5;
        assert!(
            (numeric - grad[k]).abs() < 1e-6,
            "{k}: {numeric} vs {}",
            grad[k]
        );
    }
}

//! The real CLIP's architecture against the reference implementation: a tiny
//! random CLIP made by Hugging Face `transformers` (scripts/golden/make_tiny_clip.py)
//! must give the same features, logits and pixel gradients here, and its
//! weights must load under their Hugging Face names.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use clip_art::clip::openai::vit::{ClipConfig, ClipModel, weights};

/// The CPU, or the GPU `scripts/device-check.sh` names (`CLIP_ART_TEST_DEVICE`).
fn device() -> Device {
    clip_art::nn::device::test_device()
}

const TINY: &str = "tests/fixtures/clip/tiny";

fn golden() -> anyhow::Result<HashMap<String, Tensor>> {
    Ok(candle_core::safetensors::load(
        Path::new(TINY).join("golden.safetensors"),
        &device(),
    )?)
}

fn tiny(dtype: DType) -> anyhow::Result<ClipModel> {
    let cfg = ClipConfig::from_file(&Path::new(TINY).join("config.json"))?;
    let vb = weights(&Path::new(TINY).join("model.safetensors"), dtype, &device())?;
    Ok(ClipModel::new(vb, &cfg)?)
}

fn max_difference(a: &Tensor, b: &Tensor) -> anyhow::Result<f32> {
    Ok(clip_art::nn::compare::max_difference(a, b)?)
}

fn ids(golden: &HashMap<String, Tensor>) -> anyhow::Result<Tensor> {
    Ok(golden["input_ids"].to_dtype(DType::U32)?)
}

#[test]
fn features_and_logits_match_transformers() -> anyhow::Result<()> {
    let golden = golden()?;
    let model = tiny(DType::F32)?;
    let pixels = &golden["pixel_values"];
    let checks = [
        ("image_features", model.image_features(pixels)?),
        ("text_features", model.text_features(&ids(&golden)?)?),
        ("logits_per_image", model.logits(pixels, &ids(&golden)?)?),
    ];
    for (name, ours) in checks {
        let difference = max_difference(&ours, &golden[name])?;
        assert!(difference <= 1e-4, "{name}: max difference {difference}");
    }
    let image_embeds =
        clip_art::clip::loss::l2_normalize(&model.image_features(pixels)?)?;
    assert!(max_difference(&image_embeds, &golden["image_embeds"])? <= 1e-4);
    Ok(())
}

#[test]
fn the_gradient_at_the_pixels_matches_transformers_autograd() -> anyhow::Result<()> {
    let golden = golden()?;
    let model = tiny(DType::F32)?;
    let pixels = Var::from_tensor(&golden["pixel_values"])?;
    let logits = model.logits(&pixels, &ids(&golden)?)?;
    let objective = (logits * &golden["grad_weights"])?.sum_all()?;
    let grads = objective.backward()?;
    let ours = grads.get(&pixels).expect("a gradient at the pixels");
    let reference = &golden["grad_pixel_values"];
    let scale = reference.abs()?.max_all()?.to_scalar::<f32>()?;
    let difference = max_difference(ours, reference)?;
    assert!(
        difference <= 1e-4 * scale.max(1.0),
        "gradient differs by {difference} (largest entry {scale})"
    );
    Ok(())
}

#[test]
fn the_gradient_at_the_pixels_matches_finite_differences() -> anyhow::Result<()> {
    // In f64, independent of any reference: LayerNorm and softmax must pass gradients.
    let golden = golden()?;
    let model = tiny(DType::F64)?;
    let pixels = Var::from_tensor(&golden["pixel_values"].to_dtype(DType::F64)?)?;
    let weights = golden["grad_weights"].to_dtype(DType::F64)?;
    let ids = ids(&golden)?;
    let objective = |p: &Tensor| -> anyhow::Result<Tensor> {
        Ok((model.logits(p, &ids)? * &weights)?.sum_all()?)
    };
    let grads = objective(&pixels)?.backward()?;
    let analytic: Vec<f64> = grads
        .get(&pixels)
        .expect("gradient")
        .flatten_all()?
        .to_vec1()?;
    let count = pixels.elem_count();
    for k in [0, 77, 1000, 3071, 4000, count - 1] {
        let mut bump = vec![0.0; count];
        bump[k] = 1e-6;
        let bump = Tensor::from_vec(bump, pixels.shape(), &device())?;
        let up = objective(&(pixels.as_tensor() + &bump)?)?.to_scalar::<f64>()?;
        let down = objective(&(pixels.as_tensor() - &bump)?)?.to_scalar::<f64>()?;
        let numeric = (up - down) / 2e-6;
        assert!(
            (numeric - analytic[k]).abs() <= 1e-6 + 1e-4 * numeric.abs(),
            "pixel {k}: finite difference {numeric}, autograd {}",
            analytic[k]
        );
    }
    Ok(())
}

#[test]
fn bad_weight_files_are_named() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let cfg = ClipConfig::from_file(&Path::new(TINY).join("config.json"))?;
    let missing =
        weights(&dir.path().join("nope.safetensors"), DType::F32, &device())
            .err()
            .expect("a missing file is an error")
            .to_string();
    assert!(missing.contains("nope.safetensors"), "{missing}");

    let mut tensors = candle_core::safetensors::load(
        Path::new(TINY).join("model.safetensors"),
        &device(),
    )?;
    let name = "vision_model.embeddings.position_embedding.weight";
    tensors.insert(name.into(), Tensor::zeros((5, 32), DType::F32, &device())?);
    let wrong_shape = dir.path().join("wrong-shape.safetensors");
    candle_core::safetensors::save(&tensors, &wrong_shape)?;
    let vb = weights(&wrong_shape, DType::F32, &device())?;
    let error = ClipModel::new(vb, &cfg)
        .err()
        .expect("wrong shape")
        .to_string();
    assert!(
        error.contains(name) && error.contains("17") && error.contains('5'),
        "{error}"
    );

    tensors.insert(name.into(), Tensor::zeros((17, 32), DType::U32, &device())?);
    let wrong_dtype = dir.path().join("wrong-dtype.safetensors");
    candle_core::safetensors::save(&tensors, &wrong_dtype)?;
    let error = weights(&wrong_dtype, DType::F32, &device())
        .err()
        .expect("dtype")
        .to_string();
    assert!(error.contains(name) && error.contains("U32"), "{error}");

    tensors.remove(name);
    let without = dir.path().join("without.safetensors");
    candle_core::safetensors::save(&tensors, &without)?;
    let vb = weights(&without, DType::F32, &device())?;
    let error = ClipModel::new(vb, &cfg)
        .err()
        .expect("missing tensor")
        .to_string();
    assert!(error.contains(name), "{error}");

    std::fs::write(dir.path().join("truncated.safetensors"), b"\x10\x00\x00")?;
    let error = weights(
        &dir.path().join("truncated.safetensors"),
        DType::F32,
        &device(),
    )
    .err()
    .expect("truncated")
    .to_string();
    assert!(error.contains("truncated.safetensors"), "{error}");
    Ok(())
}

#[test]
fn vit_b_32_has_the_published_shape() {
    let cfg = ClipConfig::vit_base_patch32();
    assert_eq!(
        cfg.vision_config.image_size / cfg.vision_config.patch_size,
        7
    );
    assert_eq!(
        (cfg.vision_config.hidden_size, cfg.text_config.hidden_size),
        (768, 512)
    );
    assert_eq!(cfg.text_config.vocab_size, 49408);
    assert_eq!(cfg.projection_dim, 512);
}

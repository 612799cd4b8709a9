//! The BigGAN-deep port against the reference package: a tiny random BigGAN
//! made by `scripts/golden/make_tiny_biggan.py` with pytorch-pretrained-biggan,
//! its `pytorch_model.bin` (torch's legacy format, as the 2019 files) read in
//! Rust, and its pictures and gradients compared.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor, Var};

use clip_art::models::biggan::{BigGan, Config};
use clip_art::nn::compare::assert_close;

/// The CPU, or the GPU `scripts/device-check.sh` names (`CLIP_ART_TEST_DEVICE`).
fn device() -> Device {
    clip_art::nn::device::test_device()
}

fn folder() -> PathBuf {
    Path::new("tests/fixtures/biggan/tiny").to_path_buf()
}

/// Every output and gradient is within this of the package's (the gradients
/// reach 19 and still are).
const TOLERANCE: f32 = 1e-4;

fn load() -> (BigGan, HashMap<String, Tensor>) {
    let model = BigGan::from_folder(&folder(), &device()).unwrap();
    let golden = candle_core::safetensors::load(
        folder().join("golden.safetensors"),
        &device(),
    )
    .unwrap();
    (model, golden)
}

#[test]
fn pictures_match_the_package_at_three_truncations() {
    let (model, golden) = load();
    for (name, truncation) in [("out_t1", 1.0), ("out_t073", 0.73), ("out_t04", 0.4)]
    {
        let ours = model
            .forward(&golden["z"], &golden["class_vector"], truncation)
            .unwrap();
        assert_close(name, &ours, &golden[name], TOLERANCE);
    }
}

#[test]
fn gradients_at_the_noise_and_the_class_vector_match_the_package() {
    let (model, golden) = load();
    let z = Var::from_tensor(&golden["z"]).unwrap();
    let classes = Var::from_tensor(&golden["class_vector"]).unwrap();
    let picture = model
        .forward(z.as_tensor(), classes.as_tensor(), 0.73)
        .unwrap();
    let loss = (picture * &golden["weights_out"])
        .unwrap()
        .sum_all()
        .unwrap();
    let grads = loss.backward().unwrap();
    assert_close(
        "grad_z",
        grads.get(z.as_tensor()).unwrap(),
        &golden["grad_z"],
        TOLERANCE,
    );
    assert_close(
        "grad_class",
        grads.get(classes.as_tensor()).unwrap(),
        &golden["grad_class"],
        TOLERANCE,
    );
}

#[test]
fn big_sleeps_layered_forward_and_its_gradients_match() {
    let (model, golden) = load();
    let normu = Var::from_tensor(&golden["normu"]).unwrap();
    let cls = Var::from_tensor(&golden["cls"]).unwrap();
    let classes = candle_nn::ops::sigmoid(cls.as_tensor()).unwrap();
    let condition = model.condition(normu.as_tensor(), &classes).unwrap();
    let conditions: Vec<Tensor> = (0..model.config.conditions())
        .map(|i| condition.narrow(0, i, 1).unwrap())
        .collect();
    let picture = model.forward_layered(&conditions, 1.0).unwrap();
    assert_close("out_layered", &picture, &golden["out_layered"], TOLERANCE);
    let loss = (picture * &golden["weights_layered"])
        .unwrap()
        .sum_all()
        .unwrap();
    let grads = loss.backward().unwrap();
    assert_close(
        "grad_normu",
        grads.get(normu.as_tensor()).unwrap(),
        &golden["grad_normu"],
        TOLERANCE,
    );
    assert_close(
        "grad_cls",
        grads.get(cls.as_tensor()).unwrap(),
        &golden["grad_cls"],
        TOLERANCE,
    );
}

#[test]
fn the_config_is_read_as_published_and_bad_ones_are_named() {
    let cfg = Config::from_json(&folder().join("config.json")).unwrap();
    assert_eq!(
        (cfg.output_dim, cfg.layers.len(), cfg.conditions()),
        (64, 6, 7)
    );
    let mut wrong = cfg.clone();
    wrong.output_dim = 128;
    let error = wrong.check().unwrap_err().to_string();
    assert!(
        error.contains("64²") && error.contains("output_dim is 128"),
        "{error}"
    );
}

#[test]
fn a_missing_or_misshapen_tensor_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = std::fs::read_to_string(folder().join("config.json")).unwrap();
    // Twice the width: every tensor is the wrong shape, and the error says which.
    let wider = cfg.replace("\"channel_width\": 4", "\"channel_width\": 8");
    std::fs::write(dir.path().join("config.json"), wider).unwrap();
    std::fs::copy(
        folder().join("pytorch_model.bin"),
        dir.path().join("pytorch_model.bin"),
    )
    .unwrap();
    let error = format!(
        "{:#}",
        BigGan::from_folder(dir.path(), &device()).err().unwrap()
    );
    assert!(
        error.contains("pytorch_model.bin does not fit config.json")
            && error.contains("shape"),
        "{error}"
    );
    std::fs::remove_file(dir.path().join("pytorch_model.bin")).unwrap();
    let error = format!(
        "{:#}",
        BigGan::from_folder(dir.path(), &device()).err().unwrap()
    );
    assert!(
        error.contains("neither pytorch_model.bin nor model.safetensors"),
        "{error}"
    );
}

#[test]
fn a_truncation_outside_0_to_1_is_refused() {
    let (model, golden) = load();
    let error = model
        .forward(&golden["z"], &golden["class_vector"], 1.5)
        .unwrap_err();
    assert!(error.to_string().contains("(0, 1]"), "{error}");
}

#[test]
fn a_fetched_folder_holds_what_the_loader_reads() {
    // `weights fetch biggan-deep-256` writes the catalogue's file names; a
    // folder of exactly those (here the tiny model's) loads.
    for name in ["biggan-deep-128", "biggan-deep-256", "biggan-deep-512"] {
        let published = clip_art::published::find(name).unwrap();
        assert_eq!(published.flag, "--biggan");
        let dir = tempfile::tempdir().unwrap();
        for file in published.files {
            std::fs::copy(folder().join(file.name), dir.path().join(file.name))
                .unwrap();
        }
        BigGan::from_folder(dir.path(), &device()).unwrap();
    }
}

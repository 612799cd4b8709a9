//! Chapters 3–4's claims, measured by the independent judge: the shipped models
//! keep the attributes, the VAE generates faces, latent arithmetic edits them;
//! a small model retrained here learns; bad weight files give clear errors.

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use clip_art::eval::faces::{Method, edit_report, model_report};
use clip_art::models::autoencoder::{
    Autoencoder, Config, TrainConfig, train_autoencoder,
};
use clip_art::models::vae::Vae;
use clip_art::nn::weights::save_weights;

const FACES: usize = 200;

/// Every attribute survives the autoencoder (the 95%); the VAE, whose
/// latent is noisy by design, keeps the smile a little less often.
#[test]
fn shipped_models_keep_the_attributes_and_the_vae_generates_faces() {
    let device = Device::Cpu;
    let (autoencoder, vae) = (
        Autoencoder::shipped(&device).unwrap(),
        Vae::shipped(&device).unwrap(),
    );
    let (rows, sample_faces) =
        model_report(&autoencoder, &vae, FACES, 32, 10, &device).unwrap();
    assert!(
        rows[0].attributes.iter().all(|&a| a >= 0.95),
        "{:?}",
        rows[0]
    );
    assert!(
        rows[1].attributes.iter().all(|&a| a >= 0.9),
        "{:?}",
        rows[1]
    );
    assert!(rows[0].faces >= 0.99 && rows[1].faces >= 0.99, "{rows:?}");
    assert!(
        sample_faces >= 0.9,
        "VAE samples judged faces: {sample_faces}"
    );
}

/// The bars for every lecture edit, at strength 1.5 (at 1 the average
/// age direction is too short to turn black hair grey), with least-squares
/// directions from 300 labelled faces (mean differences, or fewer faces, carry
/// enough of the other attributes to change them on up to a third of the faces
/// for some seeds: chapter 4).
#[test]
fn latent_arithmetic_edits_every_attribute_and_keeps_the_rest() {
    let device = Device::Cpu;
    let vae = Vae::shipped(&device).unwrap();
    let reports =
        edit_report(&vae, 300, 32, 20, Method::LeastSquares, 1.5, &device).unwrap();
    for report in &reports {
        assert!(
            report.achieved >= 0.95 && report.kept >= 0.9 && report.faces >= 0.95,
            "{report:?}"
        );
    }
}

#[test]
fn a_small_autoencoder_retrained_here_learns_the_faces() {
    let device = Device::Cpu;
    let cfg = Config {
        channels: [16, 32, 64],
        ..Config::default()
    };
    let train = TrainConfig {
        steps: 400,
        batch_size: 32,
        learning_rate: 6e-3,
        seed: 5,
    };
    let (model, _, losses) =
        train_autoencoder(&cfg, &train, &device, |_, _| {}).unwrap();
    let mean = |l: &[f32]| l.iter().sum::<f32>() / l.len() as f32;
    assert!(
        mean(&losses[390..]) < 0.3 * mean(&losses[..10]),
        "loss {} → {}",
        mean(&losses[..10]),
        mean(&losses[390..])
    );
    let vae = Vae::shipped(&device).unwrap();
    let (rows, _) = model_report(&model, &vae, 100, 32, 3, &device).unwrap();
    let [pose, age, _, glasses] = rows[0].attributes;
    // An untrained decoder keeps nothing (chance is about 50% for glasses and age,
    // less for pose); 400 steps already keep most.
    assert!(pose >= 0.6 && age >= 0.9 && glasses >= 0.9, "{:?}", rows[0]);
}

#[test]
fn missing_truncated_and_wrong_shaped_weights_are_named() {
    let device = Device::Cpu;
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::default();

    let missing = dir.path().join("nowhere.safetensors");
    let error = Vae::load(&missing, &cfg, &device)
        .err()
        .expect("missing file")
        .to_string();
    assert!(error.contains("nowhere.safetensors"), "{error}");

    let whole = dir.path().join("whole.safetensors");
    let varmap = VarMap::new();
    Autoencoder::new(VarBuilder::from_varmap(&varmap, DType::F32, &device), &cfg)
        .unwrap();
    save_weights(&varmap, &whole).unwrap();
    assert!(Autoencoder::load(&whole, &cfg, &device).is_ok());

    let truncated = dir.path().join("truncated.safetensors");
    let bytes = std::fs::read(&whole).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let error = format!(
        "{:#}",
        Autoencoder::load(&truncated, &cfg, &device)
            .err()
            .expect("truncated file")
    );
    assert!(
        error.contains("truncated.safetensors")
            && error.contains("not a valid safetensors"),
        "{error}"
    );

    let other = Config {
        latent: 8,
        ..Config::default()
    };
    let error = format!(
        "{:#}",
        Autoencoder::load(&whole, &other, &device)
            .err()
            .expect("wrong shape")
    );
    assert!(
        error.contains("whole.safetensors") && error.contains("encoder.head"),
        "{error}"
    );
    assert!(
        error.contains("[8, 2048]") && error.contains("[32, 2048]"),
        "expected and found shapes: {error}"
    );

    let error = format!(
        "{:#}",
        Vae::load(&whole, &cfg, &device)
            .err()
            .expect("an autoencoder is not a VAE")
    );
    assert!(error.contains("encoder.head"), "{error}");
}

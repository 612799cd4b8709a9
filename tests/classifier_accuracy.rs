//! Chapter 2's claim, measured: both classifiers reach ≥ 95% on freshly drawn images
//! with the default settings (the same run as `clip-art train-shapes`).

use candle_core::Device;
use clip_art::eval::shapes::run_experiment;
use clip_art::models::classifier::{Config, TrainConfig};

#[test]
fn both_classifiers_reach_95_percent_on_fresh_images() {
    let report = run_experiment(
        &Config::default(),
        &TrainConfig::default(),
        2000,
        &Device::Cpu,
        |_, _| {},
    )
    .unwrap();
    assert!(
        report.scratch_accuracy >= 0.95,
        "from scratch: {:.1}%",
        100.0 * report.scratch_accuracy
    );
    assert!(
        report.candle_accuracy >= 0.95,
        "candle: {:.1}%",
        100.0 * report.candle_accuracy
    );
    // Same start, same batches, same rule: the curves end where each other ends.
    let last = |l: &[f32]| l[l.len() - 100..].iter().sum::<f32>() / 100.0;
    assert!(
        (last(&report.scratch_losses) - last(&report.candle_losses)).abs() < 0.02
    );
}

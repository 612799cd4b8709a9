//! Chapter 2's experiment measured: both classifiers trained from the same
//! weights on the same batches, then graded on freshly drawn images whose true
//! shapes the world knows.

use candle_core::Device;

use super::table::{Table, percent};
use crate::models::classifier::{
    Config, StepReport, TrainConfig, accuracy, predict_candle, predict_scratch,
    test_batch, train_candle, train_scratch,
};
use crate::viz::picture::Picture;
use crate::viz::plot::{Series, line_chart, moving_average};

/// What one run of the chapter's experiment measured.
#[derive(Debug, Clone)]
pub struct ExperimentReport {
    pub scratch_losses: Vec<f32>,
    pub candle_losses: Vec<f32>,
    pub scratch_accuracy: f32,
    pub candle_accuracy: f32,
    pub scratch_seconds: f32,
    pub candle_seconds: f32,
    pub test_images: usize,
}

/// Trains both versions and measures them on `test_images` freshly drawn images.
/// `on_step` hears `("scratch" | "candle", report)` after every step.
pub fn run_experiment(
    cfg: &Config,
    train: &TrainConfig,
    test_images: usize,
    device: &Device,
    mut on_step: impl FnMut(&str, StepReport),
) -> anyhow::Result<ExperimentReport> {
    let test = test_batch(cfg, test_images, train.seed);
    let start = std::time::Instant::now();
    let (scratch, scratch_losses) =
        train_scratch(cfg, train, |r| on_step("scratch", r));
    let scratch_seconds = start.elapsed().as_secs_f32();
    let start = std::time::Instant::now();
    let (candle, candle_losses) =
        train_candle(cfg, train, device, |r| on_step("candle", r))?;
    let candle_seconds = start.elapsed().as_secs_f32();
    Ok(ExperimentReport {
        scratch_accuracy: accuracy(&predict_scratch(&scratch, &test), &test),
        candle_accuracy: accuracy(&predict_candle(&candle, &test, device)?, &test),
        scratch_losses,
        candle_losses,
        scratch_seconds,
        candle_seconds,
        test_images,
    })
}

impl ExperimentReport {
    /// Both loss curves (smoothed over 25 steps) in one chart.
    pub fn loss_chart(&self) -> anyhow::Result<Picture> {
        let scratch = moving_average(&self.scratch_losses, 25);
        let candle = moving_average(&self.candle_losses, 25);
        line_chart(
            "Shape classifier: training loss (mean of 25 steps)",
            "training step",
            "cross-entropy",
            &[
                Series {
                    name: "from scratch (ndarray, hand gradient)",
                    values: &scratch,
                },
                Series {
                    name: "candle-nn (autograd)",
                    values: &candle,
                },
            ],
        )
    }

    /// The measurements as a table.
    pub fn table(&self, train: &TrainConfig) -> Table {
        let mut table = Table::new([
            "version".to_string(),
            "steps × batch".to_string(),
            "training time".to_string(),
            format!("accuracy on {} fresh images", self.test_images),
        ]);
        let steps = format!("{} × {}", train.steps, train.batch_size);
        for (version, seconds, accuracy) in [
            (
                "from scratch (ndarray)",
                self.scratch_seconds,
                self.scratch_accuracy,
            ),
            ("candle-nn", self.candle_seconds, self.candle_accuracy),
        ] {
            table.push([
                version.to_string(),
                steps.clone(),
                format!("{seconds:.1} s"),
                percent(accuracy),
            ]);
        }
        table
    }
}

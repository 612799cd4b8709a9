//! Chapter 2's command: train the shape classifiers both ways.

use std::path::PathBuf;

use indicatif::MultiProgress;

use clip_art::eval::shapes::{ExperimentReport, run_experiment};
use clip_art::models::classifier::{Config, TrainConfig};
use clip_art::nn::device::{self, DeviceChoice};
use clip_art::viz::picture::Picture;
use clip_art::world::shapes::ShapeBatch;

use crate::output::{check_outputs, progress_bar, save};

#[derive(clap::Args)]
pub struct TrainShapesArgs {
    #[command(flatten)]
    pub training: TrainingArgs,
    /// Folder for loss.png and samples.png.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
}

#[derive(clap::Args)]
pub struct TrainingArgs {
    /// Training steps, one freshly drawn batch each (1–1,000,000).
    #[arg(long, default_value_t = TrainConfig::default().steps, value_parser = crate::limits::training_steps)]
    pub steps: usize,
    /// Images per step, 1–1,024.
    #[arg(long, default_value_t = TrainConfig::default().batch_size, value_parser = crate::limits::batch_size)]
    pub batch_size: usize,
    #[arg(long, default_value_t = TrainConfig::default().learning_rate)]
    pub lr: f32,
    /// Same seed, same images, same weights, same numbers.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Width and height of the drawn images, 8–256 pixels.
    #[arg(long, default_value_t = Config::default().image_size, value_parser = crate::limits::image_size)]
    pub image_size: u32,
    /// Images drawn afresh to measure accuracy (1–100,000).
    #[arg(long, default_value_t = 2000, value_parser = crate::limits::test_images)]
    pub test_images: usize,
    /// auto, cpu, cuda or metal.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
}

impl TrainingArgs {
    fn configs(&self) -> anyhow::Result<(Config, TrainConfig)> {
        anyhow::ensure!(
            self.image_size >= 8,
            "--image-size must be at least 8 pixels, got {}",
            self.image_size
        );
        anyhow::ensure!(
            self.steps > 0 && self.batch_size > 0,
            "--steps and --batch-size must be positive"
        );
        anyhow::ensure!(
            self.lr.is_finite() && self.lr > 0.0,
            "--lr must be a positive number, got {}",
            self.lr
        );
        let cfg = Config {
            image_size: self.image_size,
            ..Config::default()
        };
        let train = TrainConfig {
            steps: self.steps,
            batch_size: self.batch_size,
            learning_rate: self.lr,
            seed: self.seed,
        };
        Ok((cfg, train))
    }
}

pub fn train_shapes(args: &TrainShapesArgs) -> anyhow::Result<()> {
    check_outputs(&args.out, &["loss.png", "samples.png"])?;
    let (report, train) = train_with_progress(&args.training)?;
    println!("{}\n", report.table(&train));
    save(&report.loss_chart()?, &args.out.join("loss.png"))?;
    save(
        &sample_grid(args.training.image_size, args.training.seed)?,
        &args.out.join("samples.png"),
    )
}

/// Trains both classifiers with a progress bar each (the loss in the message).
pub fn train_with_progress(
    args: &TrainingArgs,
) -> anyhow::Result<(ExperimentReport, TrainConfig)> {
    let (cfg, train) = args.configs()?;
    let device = device::open(args.device)?;
    let bars = MultiProgress::new();
    let scratch_bar = bars.add(progress_bar("scratch", train.steps));
    let candle_bar = bars.add(progress_bar("candle", train.steps));
    let report =
        run_experiment(&cfg, &train, args.test_images, &device, |which, step| {
            let bar = if which == "scratch" {
                &scratch_bar
            } else {
                &candle_bar
            };
            bar.set_position(step.step as u64 + 1);
            if step.step % 20 == 0 {
                bar.set_message(format!("loss {:.3}", step.loss));
            }
        })?;
    scratch_bar.finish();
    candle_bar.finish();
    Ok((report, train))
}

/// One drawing of each class in each row, for looking at the data.
pub fn sample_grid(size: u32, seed: u64) -> anyhow::Result<Picture> {
    let batch = ShapeBatch::draw(16, size.max(32), seed);
    Ok(Picture::grid(&batch.images, 8)?.scaled(2))
}

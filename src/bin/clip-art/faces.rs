//! Chapters 3–4's commands: train the face models, measure them.

use std::path::{Path, PathBuf};

use candle_core::Device;

use clip_art::eval::faces::write_figures;
use clip_art::models::autoencoder::{self, Autoencoder, TrainConfig};
use clip_art::models::vae::{self, Vae};
use clip_art::nn::device::{self, DeviceChoice};
use clip_art::nn::weights::save_weights;
use clip_art::viz::plot::{Series, line_chart, moving_average};

use crate::output::{
    TrainingRun, check_outputs, check_training, final_loss, progress_bar, save,
    stop_if_training_interrupted, write_text,
};

#[derive(clap::Args)]
pub struct TrainFacesArgs {
    /// Training steps, 1–1,000,000.
    #[arg(long, default_value_t = TrainConfig::default().steps, value_parser = crate::limits::training_steps)]
    pub steps: usize,
    /// Faces per step, 1–1,024.
    #[arg(long, default_value_t = TrainConfig::default().batch_size, value_parser = crate::limits::batch_size)]
    pub batch_size: usize,
    #[arg(long, default_value_t = TrainConfig::default().learning_rate)]
    pub lr: f64,
    /// Weight of the VAE's KL term.
    #[arg(long, default_value_t = vae::DEFAULT_BETA)]
    pub beta: f64,
    #[command(flatten)]
    pub run: TrainingRun,
}

#[derive(clap::Args)]
pub struct FacesReportArgs {
    /// Faces drawn for each measurement (1–10,000).
    #[arg(long, default_value_t = 300, value_parser = crate::limits::count)]
    pub count: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Folder with faces-autoencoder.safetensors and faces-vae.safetensors
    /// (default: the weights built into the program).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// auto, cpu, cuda or metal.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// Folder for the pictures.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
}

pub fn faces_report(args: &FacesReportArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.count >= 20,
        "--count must be at least 20 faces, got {}",
        args.count
    );
    let device = device::open(args.device)?;
    let (autoencoder, vae) = face_models(args.weights.as_deref(), &device)?;
    let tables = write_figures(
        &autoencoder,
        &vae,
        args.count,
        args.seed,
        &device,
        &args.out,
    )?;
    println!("{}\n{}", tables.models, tables.edits);
    println!("pictures in {}", args.out.display());
    Ok(())
}

/// The shipped models, or those saved by `train-faces` in `folder`.
pub fn face_models(
    folder: Option<&Path>,
    device: &Device,
) -> anyhow::Result<(Autoencoder, Vae)> {
    let cfg = autoencoder::Config::default();
    Ok(match folder {
        None => (Autoencoder::shipped(device)?, Vae::shipped(device)?),
        Some(dir) => (
            Autoencoder::load(
                &dir.join("faces-autoencoder.safetensors"),
                &cfg,
                device,
            )?,
            Vae::load(&dir.join("faces-vae.safetensors"), &cfg, device)?,
        ),
    })
}

/// What `train-faces` writes: both models' weights, the record, the plot.
const FACES_FILES: [&str; 4] = [
    "faces-autoencoder.safetensors",
    "faces-vae.safetensors",
    "faces-training.md",
    "faces-loss.png",
];

/// Trains both face models, saves their weights, a record of the run and the
/// loss plot.
pub fn train_faces(args: &TrainFacesArgs) -> anyhow::Result<()> {
    check_training(args.steps, args.batch_size, 1, args.lr)?;
    let train = TrainConfig {
        steps: args.steps,
        batch_size: args.batch_size,
        learning_rate: args.lr,
        seed: args.run.seed,
    };
    let (device, weights, cfg) = (
        device::open(args.run.device)?,
        &args.run.weights,
        autoencoder::Config::default(),
    );
    let files = FACES_FILES;
    check_outputs(weights, &files)?;
    let bar = progress_bar("autoencoder", train.steps);
    let start = std::time::Instant::now();
    let (_, ae_vars, ae_losses) =
        autoencoder::train_autoencoder(&cfg, &train, &device, |step, loss| {
            bar.set_position(step as u64 + 1);
            bar.set_message(format!("MSE {loss:.4}"));
        })?;
    bar.finish();
    let ae_seconds = start.elapsed().as_secs_f32();
    let bar = progress_bar("VAE", train.steps);
    let start = std::time::Instant::now();
    let (_, vae_vars, vae_losses) =
        vae::train_vae(&cfg, &train, args.beta, &device, |step, loss| {
            bar.set_position(step as u64 + 1);
            bar.set_message(format!("loss {loss:.1}"));
        })?;
    bar.finish();
    let vae_seconds = start.elapsed().as_secs_f32();
    let (ae_file, vae_file) = (weights.join(files[0]), weights.join(files[1]));
    save_weights(&ae_vars, &ae_file)?;
    save_weights(&vae_vars, &vae_file)?;
    stop_if_training_interrupted(&[&ae_file, &vae_file])?;
    let record = training_record(
        &cfg,
        &train,
        args.beta,
        [ae_seconds, vae_seconds],
        [&ae_losses, &vae_losses],
    );
    write_text(&weights.join(files[2]), &record)?;
    println!("{record}");
    let ae_curve = moving_average(&ae_losses, 25);
    let series = [Series {
        name: "autoencoder",
        values: &ae_curve,
    }];
    let chart = line_chart(
        "Autoencoder: reconstruction MSE",
        "step",
        "MSE (moving average of 25)",
        &series,
    )?;
    save(&chart, &weights.join(files[3]))
}

/// The record of a `train-faces` run, as the book shows it.
fn training_record(
    cfg: &autoencoder::Config,
    train: &TrainConfig,
    beta: f64,
    [ae_seconds, vae_seconds]: [f32; 2],
    [ae_losses, vae_losses]: [&[f32]; 2],
) -> String {
    format!(
        "| model | steps × batch | learning rate | seed | training time | final loss (mean of last 50 steps) |\n|---|---|---|---|---|---|\n\
         | autoencoder ({}×{} faces, latent {}) | {} × {} | {} | {} | {ae_seconds:.0} s | MSE {:.4} |\n\
         | VAE (β = {beta}) | {} × {} | {} | {} | {vae_seconds:.0} s | {:.1} |\n",
        cfg.image_size,
        cfg.image_size,
        cfg.latent,
        train.steps,
        train.batch_size,
        train.learning_rate,
        train.seed,
        final_loss(ae_losses),
        train.steps,
        train.batch_size,
        train.learning_rate,
        train.seed,
        final_loss(vae_losses),
    )
}

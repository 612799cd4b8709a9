//! Chapter 6's training command: the VQ decoder.

use clip_art::eval::generation::vq_reconstruction;
use clip_art::guide::vq;
use clip_art::nn::device;
use clip_art::nn::weights::save_weights;
use clip_art::viz::plot::{Series, line_chart, moving_average};

use crate::output::{
    TrainingRun, check_outputs, check_training, progress_bar, save,
    stop_if_training_interrupted, write_text,
};

#[derive(clap::Args)]
pub struct TrainVqArgs {
    /// Training steps, 1–1,000,000.
    #[arg(long, default_value_t = vq::TrainConfig::default().steps, value_parser = crate::limits::training_steps)]
    pub steps: usize,
    /// Scenes per step, 1–1,024.
    #[arg(long, default_value_t = vq::TrainConfig::default().batch_size, value_parser = crate::limits::batch_size)]
    pub batch_size: usize,
    #[arg(long, default_value_t = vq::TrainConfig::default().learning_rate)]
    pub lr: f64,
    #[command(flatten)]
    pub run: TrainingRun,
}

/// What `train-vq` writes: the weights, reconstructions, record and plot.
const VQ_FILES: [&str; 4] = [
    "scenes-vq.safetensors",
    "scenes-vq-reconstructions.png",
    "scenes-vq-training.md",
    "scenes-vq-loss.png",
];

/// Trains the VQ autoencoder with a progress bar, measures it with the scene
/// judge, and saves the weights, a record of the run and the loss plot.
pub fn train_vq(args: &TrainVqArgs) -> anyhow::Result<()> {
    check_training(args.steps, args.batch_size, 1, args.lr)?;
    let train = &vq::TrainConfig {
        steps: args.steps,
        batch_size: args.batch_size,
        learning_rate: args.lr,
        seed: args.run.seed,
        ..Default::default()
    };
    let (device, weights) = (device::open(args.run.device)?, &args.run.weights);
    let files = VQ_FILES;
    check_outputs(weights, &files)?;
    let cfg = vq::Config::default();
    let bar = progress_bar("VQ decoder", train.steps);
    let start = std::time::Instant::now();
    let (model, vars, reports) = vq::train(&cfg, train, &device, |step, report| {
        bar.set_position(step as u64 + 1);
        bar.set_message(format!(
            "loss {:.4}, codes in use {}/{}",
            report.loss, report.codes_used, cfg.codebook_size
        ));
        if (step + 1) % 250 == 0 && bar.is_hidden() {
            eprintln!(
                "step {}: loss {:.4}, codes in use {}",
                step + 1,
                report.loss,
                report.codes_used
            );
        }
    })?;
    bar.finish();
    let seconds = start.elapsed().as_secs_f32();
    save_weights(&vars, &weights.join(files[0]))?;
    stop_if_training_interrupted(&[&weights.join(files[0])])?;
    let (quality, reconstructions) = vq_reconstruction(&model, 300, 1, &device)?;
    save(&reconstructions, &weights.join(files[1]))?;
    let record = training_record(&cfg, train, seconds, &quality.to_string());
    write_text(&weights.join(files[2]), &record)?;
    println!("{record}");
    let losses =
        moving_average(&reports.iter().map(|r| r.loss).collect::<Vec<_>>(), 25);
    save(
        &line_chart(
            "VQ autoencoder: reconstruction + codebook + commitment loss",
            "step",
            "moving average of 25 steps",
            &[Series {
                name: "loss",
                values: &losses,
            }],
        )?,
        &weights.join(files[3]),
    )
}

/// The record of a `train-vq` run, with the reconstructions measured.
fn training_record(
    cfg: &vq::Config,
    train: &vq::TrainConfig,
    seconds: f32,
    quality: &str,
) -> String {
    format!(
        "| model | steps × batch | learning rate | seed | training time |\n|---|---|---|---|---|\n\
         | VQ autoencoder ({s}×{s} scenes → {g}×{g} codes of {d}, codebook {k}) | {} × {} | {} | {} | {seconds:.0} s |\n\n{quality}\n",
        train.steps,
        train.batch_size,
        train.learning_rate,
        train.seed,
        s = cfg.image_size,
        g = cfg.grid_size(),
        d = cfg.code_size,
        k = cfg.codebook_size,
    )
}

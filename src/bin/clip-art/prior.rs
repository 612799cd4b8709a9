//! Chapter 6's training command: the scene prior, a generator whose every
//! N(0, 1) sample should be a scene.

use clip_art::eval::generation::prior_samples;
use clip_art::guide::prior::{self, PRIOR_LEARNING_RATE, PRIOR_SCENES, TrainConfig};
use clip_art::nn::device;
use clip_art::nn::weights::save_weights;
use clip_art::viz::plot::{Series, line_chart, moving_average};

use crate::output::{
    TrainingRun, check_outputs, check_training, final_loss, progress_bar, save,
    stop_if_training_interrupted, write_text,
};

#[derive(clap::Args)]
pub struct TrainPriorArgs {
    /// Steps of the first stage (the scene autoencoder), 1–1,000,000.
    #[arg(long, default_value_t = TrainConfig::default().steps, value_parser = crate::limits::training_steps)]
    pub steps: usize,
    /// Steps of the second stage (the VAE of the latents), 1–1,000,000.
    #[arg(long, default_value_t = TrainConfig::default().prior_steps, value_parser = crate::limits::training_steps)]
    pub prior_steps: usize,
    /// Scenes per step of the first stage, 1–1,024.
    #[arg(long, default_value_t = TrainConfig::default().batch_size, value_parser = crate::limits::batch_size)]
    pub batch_size: usize,
    #[arg(long, default_value_t = TrainConfig::default().learning_rate)]
    pub lr: f64,
    #[command(flatten)]
    pub run: TrainingRun,
}

/// What `train-prior` writes: the weights, samples, record and plot.
const PRIOR_FILES: [&str; 4] = [
    "scenes-prior.safetensors",
    "scenes-prior-samples.png",
    "scenes-prior-training.md",
    "scenes-prior-loss.png",
];

/// Trains both stages with a progress bar, measures the samples with the
/// scene judge, and saves the weights, samples, a record and the loss plot.
pub fn train_prior(args: &TrainPriorArgs) -> anyhow::Result<()> {
    check_training(args.steps, args.batch_size, 1, args.lr)?;
    let train = &TrainConfig {
        steps: args.steps,
        prior_steps: args.prior_steps,
        batch_size: args.batch_size,
        learning_rate: args.lr,
        seed: args.run.seed,
    };
    let (device, weights) = (device::open(args.run.device)?, &args.run.weights);
    check_outputs(weights, &PRIOR_FILES)?;
    let cfg = prior::Config::default();
    let bar = progress_bar("scene prior", train.steps + train.prior_steps);
    let start = std::time::Instant::now();
    let (prior, vars, losses) =
        prior::train(&cfg, train, &device, |stage, step, loss| {
            let done = step + 1 + stage * train.steps;
            bar.set_position(done as u64);
            bar.set_message(format!("stage {}, loss {loss:.1}", stage + 1));
            if done % 250 == 0 && bar.is_hidden() {
                eprintln!("stage {}, step {}: loss {loss:.1}", stage + 1, step + 1);
            }
        })?;
    bar.finish();
    let seconds = start.elapsed().as_secs_f32();
    let file = weights.join(PRIOR_FILES[0]);
    save_weights(&vars, &file)?;
    stop_if_training_interrupted(&[&file])?;
    let (quality, samples) = prior_samples(&prior, 400, 1, &device)?;
    save(&samples, &weights.join(PRIOR_FILES[1]))?;
    let record = format!(
        "| model | steps × batch | learning rate | seed | training time | final loss (last 50 steps) |\n|---|---|---|---|---|---|\n\
         | scene autoencoder ({s}×{s} scenes → {l} numbers → 7 colours per pixel) | {} × {} | {} | {} | {seconds:.0} s (both stages) | {:.1} |\n\
         | VAE of its latents (hidden {h}) | {} × {} | {PRIOR_LEARNING_RATE} | {} | | {:.2} |\n\n{quality}\n",
        train.steps,
        train.batch_size,
        train.learning_rate,
        train.seed,
        final_loss(&losses[0]),
        train.prior_steps,
        PRIOR_SCENES.1,
        train.seed,
        final_loss(&losses[1]),
        s = cfg.image_size,
        l = cfg.latent,
        h = cfg.hidden,
    );
    write_text(&weights.join(PRIOR_FILES[2]), &record)?;
    println!("{record}");
    let curve = moving_average(&losses[0], 25);
    let series = [Series {
        name: "first stage",
        values: &curve,
    }];
    let title = "Scene autoencoder: weighted cross-entropy per scene";
    let chart = line_chart(title, "step", "moving average of 25 steps", &series)?;
    save(&chart, &weights.join(PRIOR_FILES[3]))
}

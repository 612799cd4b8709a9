//! Chapter 5's commands: train mini-CLIP, measure it, zero-shot a picture; and
//! how every command opens the CLIP it is told to.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};

use clip_art::basics::pixels::load_rgb;
use clip_art::clip::Clip;
use clip_art::clip::ensemble::Ensemble;
use clip_art::clip::mini::{self, MiniClip};
use clip_art::clip::robust::Pgd;
use clip_art::clip::zero_shot::Ranking;
use clip_art::nn::device::{self, DeviceChoice};
use clip_art::nn::weights::save_weights;
use clip_art::viz::plot::{Series, line_chart, moving_average};

use crate::output::{
    TrainingRun, check_outputs, check_training, progress_bar, save,
    stop_if_training_interrupted, write_text,
};

#[derive(clap::Args)]
pub struct TrainClipArgs {
    /// Training steps, 1–1,000,000.
    #[arg(long, default_value_t = mini::TrainConfig::default().steps, value_parser = crate::limits::training_steps)]
    pub steps: usize,
    /// Captioned scenes per step, 2–1,024.
    #[arg(long, default_value_t = mini::TrainConfig::default().batch_size, value_parser = crate::limits::batch_size)]
    pub batch_size: usize,
    /// The first step's learning rate (it decays along a cosine).
    #[arg(long, default_value_t = mini::TrainConfig::default().learning_rate)]
    pub lr: f64,
    /// Share of two-object scenes among the training scenes (0 to 1).
    #[arg(long, default_value_t = mini::TrainConfig::default().two_objects)]
    pub two_objects: f64,
    /// Train a robust guide: each step's pictures are first perturbed by PGD
    /// to raise the loss, every pixel by at most this many 255ths (1–64;
    /// 8 is the robust-classifier literature's usual radius). Writes
    /// mini-clip-robust{radius}*.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=64))]
    pub adversarial: Option<u8>,
    /// With --adversarial: PGD's steps per training step (1–10).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=10))]
    pub pgd_steps: u8,
    /// Start from a trained mini-clip.safetensors instead of random weights
    /// (with --adversarial: fine-tune a standard guide into a robust one).
    #[arg(long)]
    pub from: Option<PathBuf>,
    #[command(flatten)]
    pub run: TrainingRun,
}

#[derive(clap::Args)]
pub struct ClipReportArgs {
    /// Scenes drawn for each measurement (10–10,000).
    #[arg(long, default_value_t = 500, value_parser = crate::limits::count)]
    pub count: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// A mini-clip.safetensors saved by train-clip (default: the shipped
    /// one); given more than once, they are measured together.
    #[arg(long)]
    pub weights: Vec<PathBuf>,
    /// auto, cpu, cuda or metal.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
}

#[derive(clap::Args)]
pub struct ZeroShotArgs {
    /// The picture (PNG, JPEG, …).
    pub image: PathBuf,
    /// Candidate labels, e.g. "red circle" "blue square".
    #[arg(required = true)]
    pub labels: Vec<String>,
    /// The label that is right, to show its rank (default: the best one).
    #[arg(long)]
    pub truth: Option<String>,
    /// Prompt templates; `{}` is replaced by the label. Repeat for an ensemble.
    #[arg(long = "template")]
    pub templates: Vec<String>,
    /// How many prompts to list (1–1,000).
    #[arg(long, default_value_t = 5, value_parser = crate::limits::top)]
    pub top: usize,
    /// Which CLIP: `mini` (trained here), `mini-ensemble` (the three
    /// shipped mini-CLIPs together), a folder holding OpenAI's CLIP in
    /// Hugging Face's layout (config.json, model.safetensors, merges.txt),
    /// or `hub` to download openai/clip-vit-base-patch32 (`hub` feature).
    #[arg(long, default_value = "mini")]
    pub clip: String,
    /// With `--clip mini`: a mini-clip.safetensors saved by train-clip
    /// (repeatable: several classify together).
    #[arg(long)]
    pub weights: Vec<PathBuf>,
    /// auto, cpu, cuda or metal.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
}

pub fn clip_report(args: &ClipReportArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.count >= 10,
        "--count must be at least 10 scenes, got {}",
        args.count
    );
    let model = mini_clips(&args.weights, &device::open(args.device)?)?;
    let evaluation =
        clip_art::eval::clip::evaluate(model.as_ref(), args.count, args.seed)?;
    println!("{}\n", evaluation.table());
    Ok(())
}

pub fn zero_shot(args: &ZeroShotArgs) -> anyhow::Result<()> {
    if let Some(truth) = &args.truth {
        anyhow::ensure!(
            args.labels.contains(truth),
            "--truth {truth:?} is not among the labels; add it to them"
        );
    }
    let (model, template) = open_clip(
        &args.clip,
        &args.weights,
        DType::F32,
        &device::open(args.device)?,
    )?;
    let templates = if args.templates.is_empty() {
        vec![template.to_string()]
    } else {
        args.templates.clone()
    };
    let ranking =
        rank_labels(model.as_ref(), &args.image, &args.labels, &templates)?;
    let truth = args
        .truth
        .clone()
        .unwrap_or_else(|| ranking.ranked[0].0.clone());
    print!("{}", ranking.display(&truth, args.top));
    Ok(())
}

/// Which CLIP guides or classifies: `mini` (the shipped mini-CLIP, or the
/// files given with `--weights`: several guide together), `mini-ensemble`
/// (the three shipped mini-CLIPs together), a folder with OpenAI's CLIP in
/// Hugging Face's layout, or `hub` (downloads `openai/clip-vit-base-patch32`;
/// needs the `hub` feature and a network). Also the default prompt template.
pub fn open_clip(
    choice: &str,
    weights: &[PathBuf],
    dtype: DType,
    device: &Device,
) -> anyhow::Result<(Box<dyn Clip>, &'static str)> {
    use clip_art::clip::openai::vit::OpenAiClip;
    const PHOTO: &str = "a photo of a {}.";
    const PICTURE: &str = "a picture of a {}";
    if choice != "mini" {
        anyhow::ensure!(
            weights.is_empty(),
            "mini-CLIP weights were given, but --clip is {choice:?}: use --clip mini"
        );
    }
    match choice {
        "mini" => Ok((mini_clips(weights, device)?, PICTURE)),
        "mini-ensemble" => Ok((Box::new(mini::shipped_ensemble(device)?), PICTURE)),
        "hub" => open_from_hub(device).map(|clip| (clip, PHOTO)),
        folder => Ok((
            Box::new(OpenAiClip::from_folder_in(
                Path::new(folder),
                dtype,
                device,
            )?),
            PHOTO,
        )),
    }
}

/// The shipped mini-CLIP, one saved by `train-clip`, or several of those
/// guiding together.
pub fn mini_clips(
    weights: &[PathBuf],
    device: &Device,
) -> anyhow::Result<Box<dyn Clip>> {
    Ok(match weights {
        [] => Box::new(MiniClip::shipped(device)?),
        [one] => Box::new(MiniClip::load(one, &mini::Config::default(), device)?),
        several => Box::new(Ensemble::new(
            several
                .iter()
                .map(|w| MiniClip::load(w, &mini::Config::default(), device))
                .collect::<anyhow::Result<Vec<_>>>()?,
        )?),
    })
}

#[cfg(feature = "hub")]
fn open_from_hub(device: &Device) -> anyhow::Result<Box<dyn Clip>> {
    let clip = clip_art::clip::openai::vit::OpenAiClip::from_hub(
        "openai/clip-vit-base-patch32",
        device,
    )?;
    Ok(Box::new(clip))
}

#[cfg(not(feature = "hub"))]
fn open_from_hub(_: &Device) -> anyhow::Result<Box<dyn Clip>> {
    anyhow::bail!(
        "this clip-art was built without the `hub` feature: rebuild with `--features hub`, \
         or download openai/clip-vit-base-patch32 yourself and pass its folder to --clip"
    )
}

/// Trains mini-CLIP with a progress bar, measures it, and saves the weights,
/// a record of the run and the loss/accuracy plot, named after the seed
/// ([`mini::file_stem`]).
pub fn train_clip(args: &TrainClipArgs) -> anyhow::Result<()> {
    check_training(args.steps, args.batch_size, 2, args.lr)?;
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.two_objects),
        "--two-objects is a share of the scenes, from 0 to 1; got {}",
        args.two_objects
    );
    let train = &mini::TrainConfig {
        steps: args.steps,
        batch_size: args.batch_size,
        learning_rate: args.lr,
        two_objects: args.two_objects,
        seed: args.run.seed,
        adversarial: args.adversarial.map(|radius| {
            Pgd::new(f32::from(radius) / 255.0, usize::from(args.pgd_steps))
        }),
        from: args.from.clone(),
    };
    let (device, weights) = (device::open(args.run.device)?, &args.run.weights);
    let stem = match train.adversarial {
        None => mini::file_stem(train.seed),
        Some(_) => {
            let robust =
                format!("mini-clip-robust{}", args.adversarial.unwrap_or(0));
            mini::file_stem(train.seed).replacen("mini-clip", &robust, 1)
        }
    };
    let (file, record_file, plot) = (
        format!("{stem}.safetensors"),
        format!("{stem}-training.md"),
        format!("{stem}-loss.png"),
    );
    check_outputs(weights, &[&file, &record_file, &plot])?;
    let cfg = mini::Config::default();
    let bar = progress_bar("mini-CLIP", train.steps);
    let start = std::time::Instant::now();
    let (model, vars, reports) =
        mini::train(&cfg, train, &device, |step, report| {
            bar.set_position(step as u64 + 1);
            bar.set_message(format!(
                "loss {:.3}, in-batch accuracy {:.0}%",
                report.loss,
                100.0 * report.accuracy
            ));
        })?;
    bar.finish();
    let seconds = start.elapsed().as_secs_f32();
    save_weights(&vars, &weights.join(&file))?;
    stop_if_training_interrupted(&[&weights.join(&file)])?;
    let record = training_record(train, &model, seconds)?;
    write_text(&weights.join(&record_file), &record)?;
    println!("{record}");
    loss_plot(train, &reports, &weights.join(&plot))
}

/// The record of a `train-clip` run, with the model measured as `clip-report`
/// does.
fn training_record(
    train: &mini::TrainConfig,
    model: &MiniClip,
    seconds: f32,
) -> anyhow::Result<String> {
    let cfg = mini::Config::default();
    let evaluation = clip_art::eval::clip::evaluate(model, 500, 1)?;
    let adversarial = train.adversarial.as_ref().map_or(String::new(), |pgd| {
        format!(
            "Trained on adversarial pictures: PGD in an L∞ ball of radius {:.0}/255, \
             {} steps of {:.1}/255 from a random start.\n\n",
            pgd.radius * 255.0,
            pgd.steps,
            pgd.step_size * 255.0
        )
    });
    let start = train.from.as_ref().map_or(String::new(), |from| {
        let name = from.file_name().unwrap_or(from.as_os_str());
        format!("Started from {}.\n\n", name.to_string_lossy())
    });
    Ok(format!(
        "| model | steps × batch | learning rate | two-object scenes | seed | training time | final e^t |\n|---|---|---|---|---|---|---|\n\
         | mini-CLIP ({}×{} scenes, embedding {}) | {} × {} | {} → 0 (cosine) | {:.0}% | {} | {seconds:.0} s | {:.1} |\n\n{start}{adversarial}{}\n",
        cfg.image_size,
        cfg.image_size,
        cfg.embedding,
        train.steps,
        train.batch_size,
        train.learning_rate,
        100.0 * train.two_objects,
        train.seed,
        model.logit_scale()?,
        evaluation.table()
    ))
}

/// Loss and in-batch accuracy along training.
fn loss_plot(
    train: &mini::TrainConfig,
    reports: &[mini::StepReport],
    path: &Path,
) -> anyhow::Result<()> {
    let losses: Vec<f32> = reports.iter().map(|r| r.loss).collect();
    let accuracy: Vec<f32> = reports.iter().map(|r| r.accuracy).collect();
    let (losses, accuracy) =
        (moving_average(&losses, 25), moving_average(&accuracy, 25));
    save(
        &line_chart(
            &format!(
                "mini-CLIP (seed {}): contrastive loss and in-batch accuracy",
                train.seed
            ),
            "step",
            "moving average of 25 steps",
            &[
                Series {
                    name: "loss",
                    values: &losses,
                },
                Series {
                    name: "accuracy (image → caption)",
                    values: &accuracy,
                },
            ],
        )?,
        path,
    )
}

/// Ranks `labels` for the picture in `path`.
fn rank_labels(
    clip: &dyn Clip,
    path: &Path,
    labels: &[String],
    templates: &[String],
) -> anyhow::Result<Ranking> {
    let image = image::DynamicImage::ImageRgb8(load_rgb(path)?);
    let picture = clip.picture(&image)?;
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let templates: Vec<&str> = templates.iter().map(String::as_str).collect();
    Ranking::of(clip, &picture, &labels, &templates)
}

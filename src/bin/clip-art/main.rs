//! `clip-art`: the course's command line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use clip_art::basics::one_hot::{self, ALPHABET, LECTURE_VOCABULARY};
use clip_art::clip::{mini, zero_shot};
use clip_art::eval::faces;
use clip_art::models::autoencoder::{self, Autoencoder, TrainConfig as FacesTrainConfig};
use clip_art::models::classifier::{self, Config, TrainConfig};
use clip_art::models::vae::{self, Vae};
use clip_art::nn::device::{self, DeviceChoice};
use clip_art::viz::picture::{Picture, write_atomically};
use clip_art::world::shapes::{Shape, ShapeBatch, ShapeSpec};

mod allocator;
mod clip;
mod generate;

#[derive(Parser)]
#[command(
    name = "clip-art",
    version,
    about = "How CLIP generates art: the course's command line"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Chapter 1: print the one-hot table of a word ("LUKAS") or of tokens (--tokens).
    OneHot {
        /// A word (one row per character) or, with --tokens, words of the vocabulary.
        #[arg(required = true)]
        words: Vec<String>,
        /// One row per word over the lecture's vocabulary (man, woman, …, monarch).
        #[arg(long)]
        tokens: bool,
    },
    /// Chapter 2: train the 4-shape classifier from scratch and with candle, measure
    /// both on fresh images and save the loss plot.
    TrainShapes {
        #[command(flatten)]
        training: TrainingArgs,
        /// Folder for loss.png and samples.png.
        #[arg(long, default_value = "out")]
        out: PathBuf,
    },
    /// Chapter 3: train the face autoencoder and the VAE (seeded) and save their
    /// weights; this is how the shipped weights/ files were made.
    TrainFaces {
        #[arg(long, default_value_t = FacesTrainConfig::default().steps)]
        steps: usize,
        #[arg(long, default_value_t = FacesTrainConfig::default().batch_size)]
        batch_size: usize,
        #[arg(long, default_value_t = FacesTrainConfig::default().learning_rate)]
        lr: f64,
        /// Weight of the VAE's KL term.
        #[arg(long, default_value_t = vae::DEFAULT_BETA)]
        beta: f64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// auto, cpu, cuda or metal.
        #[arg(long, default_value = "auto")]
        device: DeviceChoice,
        /// Folder for faces-autoencoder.safetensors, faces-vae.safetensors, the
        /// record of the run (faces-training.md) and its loss plot (faces-loss.png).
        #[arg(long, default_value = "weights")]
        weights: PathBuf,
    },
    /// Chapters 3–4: measure the judge, the autoencoder, the VAE and latent
    /// arithmetic (every figure the course claims) and save the pictures.
    FacesReport {
        /// Faces drawn for each measurement.
        #[arg(long, default_value_t = 300)]
        count: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Folder with faces-autoencoder.safetensors and faces-vae.safetensors
        /// (default: the weights built into the program).
        #[arg(long)]
        weights: Option<PathBuf>,
        /// auto, cpu, cuda or metal.
        #[arg(long, default_value = "auto")]
        device: DeviceChoice,
        /// Folder for the pictures.
        #[arg(long, default_value = "out")]
        out: PathBuf,
    },
    /// Chapter 5: train mini-CLIP on captioned scenes (seeded), measure it and
    /// save its weights; this is how the shipped weights/mini-clip.safetensors
    /// (seed 0) and mini-clip-seed1/-seed2.safetensors were made.
    TrainClip {
        #[arg(long, default_value_t = mini::TrainConfig::default().steps)]
        steps: usize,
        #[arg(long, default_value_t = mini::TrainConfig::default().batch_size)]
        batch_size: usize,
        /// The first step's learning rate (it decays along a cosine).
        #[arg(long, default_value_t = mini::TrainConfig::default().learning_rate)]
        lr: f64,
        /// Share of two-object scenes among the training scenes (0 to 1).
        #[arg(long, default_value_t = mini::TrainConfig::default().two_objects)]
        two_objects: f64,
        /// Seeds other than 0 name the files mini-clip-seed<SEED>.*.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// auto, cpu, cuda or metal.
        #[arg(long, default_value = "auto")]
        device: DeviceChoice,
        /// Folder for mini-clip.safetensors, the record of the run
        /// (mini-clip-training.md) and its plot (mini-clip-loss.png).
        #[arg(long, default_value = "weights")]
        weights: PathBuf,
    },
    /// Chapter 5: measure mini-CLIP on fresh scenes: zero-shot top-1 (trained and
    /// held-out colour–shape pairs), retrieval recall@1/@5, and captions against
    /// their hard negatives.
    ClipReport {
        /// Scenes drawn for each measurement.
        #[arg(long, default_value_t = 500)]
        count: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// A mini-clip.safetensors saved by train-clip (default: the shipped
        /// one); given more than once, they are measured together.
        #[arg(long)]
        weights: Vec<PathBuf>,
        /// auto, cpu, cuda or metal.
        #[arg(long, default_value = "auto")]
        device: DeviceChoice,
    },
    /// Chapter 5: zero-shot classification of a picture: rank the labels by how
    /// well "a picture of a {label}" (OpenAI's CLIP: "a photo of a {label}.") fits
    /// it, as in the lecture.
    ZeroShot {
        /// The picture (PNG, JPEG, …).
        image: PathBuf,
        /// Candidate labels, e.g. "red circle" "blue square".
        #[arg(required = true)]
        labels: Vec<String>,
        /// The label that is right, to show its rank (default: the best one).
        #[arg(long)]
        truth: Option<String>,
        /// Prompt templates; `{}` is replaced by the label. Repeat for an ensemble.
        #[arg(long = "template")]
        templates: Vec<String>,
        /// How many prompts to list.
        #[arg(long, default_value_t = 5)]
        top: usize,
        /// Which CLIP: `mini` (trained here), `mini-ensemble` (the three
        /// shipped mini-CLIPs together), a folder holding OpenAI's CLIP in
        /// Hugging Face's layout (config.json, model.safetensors, merges.txt),
        /// or `hub` to download openai/clip-vit-base-patch32 (`hub` feature).
        #[arg(long, default_value = "mini")]
        clip: String,
        /// With `--clip mini`: a mini-clip.safetensors saved by train-clip
        /// (repeatable: several classify together).
        #[arg(long)]
        weights: Vec<PathBuf>,
        /// auto, cpu, cuda or metal.
        #[arg(long, default_value = "auto")]
        device: DeviceChoice,
    },
    /// Chapter 6, the main job: generate a picture for a prompt with CLIP
    /// guidance (default: mini-CLIP guiding the VQ decoder), graded by the judge.
    Generate {
        #[command(flatten)]
        args: generate::GenerateArgs,
    },
    /// Chapter 6: measure generation with the judge: success rate per kind of
    /// prompt (and on held-out colour–shape pairs), time per picture, and the
    /// ablation over generators and starts.
    GenerateReport {
        /// Test prompts per kind (four kinds) for the default method.
        #[arg(long, default_value_t = 30)]
        count: usize,
        /// Test prompts per kind for each other method of the ablation (0: skip it).
        #[arg(long, default_value_t = 10)]
        ablation_count: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Settings of the default row (as `generate`'s flags).
        #[arg(long)]
        steps: Option<usize>,
        #[arg(long)]
        lr: Option<f64>,
        #[arg(long)]
        restarts: Option<usize>,
        /// Views CLIP judges per step; 0 shows CLIP the whole picture.
        #[arg(long)]
        cutouts: Option<usize>,
        /// Drawn scenes CLIP ranks to choose the starts: `every-kind` or a
        /// number of random scenes.
        #[arg(long, default_value_t = clip_art::guide::generate::DEFAULT_BANK)]
        bank: clip_art::guide::generate::BankKind,
        /// The guiding mini-CLIP: a mini-clip.safetensors saved by train-clip,
        /// or several that guide together (default: the three shipped ones).
        #[arg(long)]
        weights: Vec<PathBuf>,
        /// auto, cpu, cuda or metal.
        #[arg(long, default_value = "auto")]
        device: DeviceChoice,
        /// Folder for the picture of every prompt and verdict.
        #[arg(long, default_value = "out")]
        out: PathBuf,
    },
    /// Chapter 7: measure editing (recolour a drawn shape, keep its shape and
    /// place) by each method, and generation from image prompts, with the judge.
    EditReport {
        /// Edits (and image prompts) per method.
        #[arg(long, default_value_t = 20)]
        count: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// auto, cpu, cuda or metal.
        #[arg(long, default_value = "auto")]
        device: DeviceChoice,
        /// Folder for the tables, the before/after pictures and every verdict.
        #[arg(long, default_value = "out")]
        out: PathBuf,
    },
    /// Chapter 6: train the VQ decoder (encoder, codebook, decoder) on captioned
    /// scenes (seeded); this is how the shipped weights/scenes-vq.safetensors was made.
    TrainVq {
        #[arg(long, default_value_t = clip_art::guide::vq::TrainConfig::default().steps)]
        steps: usize,
        #[arg(long, default_value_t = clip_art::guide::vq::TrainConfig::default().batch_size)]
        batch_size: usize,
        #[arg(long, default_value_t = clip_art::guide::vq::TrainConfig::default().learning_rate)]
        lr: f64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// auto, cpu, cuda or metal.
        #[arg(long, default_value = "auto")]
        device: DeviceChoice,
        /// Folder for scenes-vq.safetensors, the record of the run
        /// (scenes-vq-training.md) and its plot (scenes-vq-loss.png).
        #[arg(long, default_value = "weights")]
        weights: PathBuf,
    },
    /// Regenerate the book's figures and measured tables (book/src/generated).
    BookFigures {
        #[command(flatten)]
        training: TrainingArgs,
        #[arg(long, default_value = "book/src/generated")]
        out: PathBuf,
    },
}

#[derive(clap::Args)]
struct TrainingArgs {
    /// Training steps (one freshly drawn batch each).
    #[arg(long, default_value_t = TrainConfig::default().steps)]
    steps: usize,
    #[arg(long, default_value_t = TrainConfig::default().batch_size)]
    batch_size: usize,
    #[arg(long, default_value_t = TrainConfig::default().learning_rate)]
    lr: f32,
    /// Same seed, same images, same weights, same numbers.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Width and height of the drawn images, in pixels.
    #[arg(long, default_value_t = Config::default().image_size)]
    image_size: u32,
    /// Images drawn afresh to measure accuracy.
    #[arg(long, default_value_t = 2000)]
    test_images: usize,
    /// auto, cpu, cuda or metal.
    #[arg(long, default_value = "auto")]
    device: DeviceChoice,
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

fn main() -> anyhow::Result<()> {
    allocator::keep_freed_memory();
    match Cli::parse().command {
        Command::OneHot { words, tokens } => print_one_hot(&words, tokens),
        Command::TrainShapes { training, out } => {
            let (report, train) = train_with_progress(&training)?;
            println!("{}", report.markdown_table(&train));
            save(&report.loss_chart()?, &out.join("loss.png"))?;
            save(
                &sample_grid(training.image_size, training.seed)?,
                &out.join("samples.png"),
            )?;
            Ok(())
        }
        Command::TrainFaces {
            steps,
            batch_size,
            lr,
            beta,
            seed,
            device,
            weights,
        } => {
            check_training(steps, batch_size, 1, lr)?;
            let train = FacesTrainConfig {
                steps,
                batch_size,
                learning_rate: lr,
                seed,
            };
            train_faces(&train, beta, device::open(device)?, &weights)
        }
        Command::FacesReport {
            count,
            seed,
            weights,
            device,
            out,
        } => {
            anyhow::ensure!(
                count >= 20,
                "--count must be at least 20 faces, got {count}"
            );
            let device = device::open(device)?;
            let (autoencoder, vae) = face_models(weights.as_deref(), &device)?;
            let tables = faces::write_figures(&autoencoder, &vae, count, seed, &device, &out)?;
            println!("{}\n{}", tables.models, tables.edits);
            println!("pictures in {}", out.display());
            Ok(())
        }
        Command::TrainClip {
            steps,
            batch_size,
            lr,
            two_objects,
            seed,
            device,
            weights,
        } => {
            check_training(steps, batch_size, 2, lr)?;
            anyhow::ensure!(
                (0.0..=1.0).contains(&two_objects),
                "--two-objects is a share of the scenes, from 0 to 1; got {two_objects}"
            );
            let train = mini::TrainConfig {
                steps,
                batch_size,
                learning_rate: lr,
                two_objects,
                seed,
            };
            clip::train_clip(&train, device::open(device)?, &weights)
        }
        Command::ClipReport {
            count,
            seed,
            weights,
            device,
        } => {
            anyhow::ensure!(
                count >= 10,
                "--count must be at least 10 scenes, got {count}"
            );
            let model = clip::mini_clips(&weights, &device::open(device)?)?;
            let evaluation = zero_shot::evaluate(model.as_ref(), count, seed)?;
            println!("{}", evaluation.markdown());
            Ok(())
        }
        Command::ZeroShot {
            image,
            labels,
            truth,
            templates,
            top,
            clip,
            weights,
            device,
        } => {
            let (model, template) = clip::open_clip(&clip, &weights, &device::open(device)?)?;
            let templates = if templates.is_empty() {
                vec![template.to_string()]
            } else {
                templates
            };
            let ranking = clip::zero_shot(model.as_ref(), &image, &labels, &templates)?;
            let truth = truth.unwrap_or_else(|| ranking.ranked[0].0.clone());
            print!("{}", ranking.display(&truth, top));
            Ok(())
        }
        Command::Generate { args } => generate::generate(&args),
        Command::EditReport {
            count,
            seed,
            device,
            out,
        } => {
            anyhow::ensure!(count > 0, "--count must be positive");
            std::fs::create_dir_all(&out)?;
            generate::edit_report(count, seed, device::open(device)?, &out)
        }
        Command::GenerateReport {
            count,
            ablation_count,
            seed,
            steps,
            lr,
            restarts,
            cutouts,
            bank,
            weights,
            device,
            out,
        } => {
            anyhow::ensure!(count > 0, "--count must be positive");
            let mut settings = clip_art::guide::generate::Settings::new(
                clip_art::clip::mini::Config::default().image_size,
            );
            settings.steps = steps.unwrap_or(settings.steps);
            settings.learning_rate = lr.unwrap_or(settings.learning_rate);
            settings.restarts = restarts.unwrap_or(settings.restarts);
            match (cutouts, settings.cutouts.as_mut()) {
                (Some(0), _) => settings.cutouts = None,
                (Some(count), Some(views)) => views.count = count,
                _ => {}
            }
            let device = device::open(device)?;
            let choice = if weights.is_empty() {
                "mini-ensemble"
            } else {
                "mini"
            };
            let (clip, _) = clip::open_clip(choice, &weights, &device)?;
            generate::report(
                clip.as_ref(),
                &settings,
                bank,
                count,
                ablation_count,
                seed,
                &out,
            )
        }
        Command::TrainVq {
            steps,
            batch_size,
            lr,
            seed,
            device,
            weights,
        } => {
            check_training(steps, batch_size, 1, lr)?;
            let train = clip_art::guide::vq::TrainConfig {
                steps,
                batch_size,
                learning_rate: lr,
                seed,
                ..Default::default()
            };
            generate::train_vq(&train, device::open(device)?, &weights)
        }
        Command::BookFigures { training, out } => book_figures(&training, &out),
    }
}

/// The training commands' shared checks of their flags.
fn check_training(
    steps: usize,
    batch_size: usize,
    min_batch: usize,
    lr: f64,
) -> anyhow::Result<()> {
    anyhow::ensure!(steps > 0, "--steps must be positive");
    anyhow::ensure!(
        batch_size >= min_batch,
        "--batch-size must be at least {min_batch}, got {batch_size}"
    );
    anyhow::ensure!(
        lr.is_finite() && lr > 0.0,
        "--lr must be a positive number, got {lr}"
    );
    Ok(())
}

/// The shipped models, or those saved by `train-faces` in `folder`.
fn face_models(
    folder: Option<&Path>,
    device: &candle_core::Device,
) -> anyhow::Result<(Autoencoder, Vae)> {
    let cfg = autoencoder::Config::default();
    Ok(match folder {
        None => (Autoencoder::shipped(device)?, Vae::shipped(device)?),
        Some(dir) => (
            Autoencoder::load(&dir.join("faces-autoencoder.safetensors"), &cfg, device)?,
            Vae::load(&dir.join("faces-vae.safetensors"), &cfg, device)?,
        ),
    })
}

fn progress_bar(name: &str, steps: usize) -> anyhow::Result<ProgressBar> {
    let style =
        ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} steps, {elapsed} {msg}")?
            .progress_chars("=> ");
    let bar = ProgressBar::new(steps as u64)
        .with_style(style)
        .with_prefix(name.to_string());
    bar.enable_steady_tick(Duration::from_millis(250));
    Ok(bar)
}

/// Trains both face models, saves their weights, a record of the run and the
/// loss plot.
fn train_faces(
    train: &FacesTrainConfig,
    beta: f64,
    device: candle_core::Device,
    weights: &Path,
) -> anyhow::Result<()> {
    let cfg = autoencoder::Config::default();
    std::fs::create_dir_all(weights)
        .with_context(|| format!("cannot create {}", weights.display()))?;
    let bar = progress_bar("autoencoder", train.steps)?;
    let start = std::time::Instant::now();
    let (_, ae_vars, ae_losses) =
        autoencoder::train_autoencoder(&cfg, train, &device, |step, loss| {
            bar.set_position(step as u64 + 1);
            bar.set_message(format!("MSE {loss:.4}"));
        })?;
    bar.finish();
    let ae_seconds = start.elapsed().as_secs_f32();
    let bar = progress_bar("VAE", train.steps)?;
    let start = std::time::Instant::now();
    let (_, vae_vars, vae_losses) = vae::train_vae(&cfg, train, beta, &device, |step, loss| {
        bar.set_position(step as u64 + 1);
        bar.set_message(format!("loss {loss:.1}"));
    })?;
    bar.finish();
    let vae_seconds = start.elapsed().as_secs_f32();
    autoencoder::save_weights(&ae_vars, &weights.join("faces-autoencoder.safetensors"))?;
    autoencoder::save_weights(&vae_vars, &weights.join("faces-vae.safetensors"))?;
    let last = |losses: &[f32]| {
        losses[losses.len().saturating_sub(50)..]
            .iter()
            .sum::<f32>()
            / losses.len().clamp(1, 50) as f32
    };
    let record = format!(
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
        last(&ae_losses),
        train.steps,
        train.batch_size,
        train.learning_rate,
        train.seed,
        last(&vae_losses),
    );
    write_text(&weights.join("faces-training.md"), &record)?;
    println!("{record}");
    let ae_curve = clip_art::viz::plot::moving_average(&ae_losses, 25);
    save(
        &clip_art::viz::plot::line_chart(
            "Autoencoder: reconstruction MSE",
            "step",
            "MSE (moving average of 25)",
            &[clip_art::viz::plot::Series {
                name: "autoencoder",
                values: &ae_curve,
            }],
        )?,
        &weights.join("faces-loss.png"),
    )?;
    Ok(())
}

fn print_one_hot(words: &[String], tokens: bool) -> anyhow::Result<()> {
    if tokens {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let table = one_hot::token_one_hot(&words, &LECTURE_VOCABULARY)?;
        let columns: Vec<String> = (1..=LECTURE_VOCABULARY.len())
            .map(|i| i.to_string())
            .collect();
        let rows: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        println!("{}", one_hot::format_table(&rows, &columns, &table));
    } else {
        let word = words.join("");
        let table = one_hot::char_one_hot(&word)?;
        let columns: Vec<String> = ALPHABET.iter().map(|c| c.to_string()).collect();
        let rows: Vec<String> = word.chars().map(|c| c.to_string()).collect();
        println!("{}", one_hot::format_table(&rows, &columns, &table));
    }
    Ok(())
}

/// Trains both classifiers with a progress bar each (the loss in the message).
fn train_with_progress(
    args: &TrainingArgs,
) -> anyhow::Result<(classifier::ExperimentReport, TrainConfig)> {
    let (cfg, train) = args.configs()?;
    let device = device::open(args.device)?;
    let bars = MultiProgress::new();
    let scratch_bar = bars.add(progress_bar("scratch", train.steps)?);
    let candle_bar = bars.add(progress_bar("candle", train.steps)?);
    let report =
        classifier::run_experiment(&cfg, &train, args.test_images, &device, |which, step| {
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
fn sample_grid(size: u32, seed: u64) -> anyhow::Result<Picture> {
    let batch = ShapeBatch::draw(16, size.max(32), seed);
    Ok(Picture::grid(&batch.images, 8)?.scaled(2))
}

fn save(picture: &Picture, path: &Path) -> anyhow::Result<()> {
    picture.save_png(path)?;
    println!("wrote {}", path.display());
    Ok(())
}

fn write_text(path: &Path, text: &str) -> anyhow::Result<()> {
    write_atomically(path, text.as_bytes())?;
    println!("wrote {}", path.display());
    Ok(())
}

/// Every figure and measured number the book shows, from the code itself.
fn book_figures(args: &TrainingArgs, out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    // Chapter 1
    let lukas = one_hot::char_one_hot("LUKAS")?;
    let columns: Vec<String> = ALPHABET.iter().map(|c| c.to_string()).collect();
    let rows: Vec<String> = "LUKAS".chars().map(|c| c.to_string()).collect();
    write_text(
        &out.join("lukas.txt"),
        &one_hot::format_table(&rows, &columns, &lukas),
    )?;
    let star = ShapeSpec {
        shape: Shape::Star,
        centre: (32.0, 32.0),
        radius: 26.0,
        colour: [250, 170, 40],
        background: [20, 20, 20],
    };
    save(
        &Picture::channel_planes(&star.draw(64))?.scaled(3),
        &out.join("channels.png"),
    )?;
    // Chapter 2
    save(
        &sample_grid(args.image_size, args.seed)?,
        &out.join("shapes.png"),
    )?;
    let (report, train) = train_with_progress(args)?;
    save(&report.loss_chart()?, &out.join("loss.png"))?;
    write_text(
        &out.join("classifier-measured.md"),
        &report.markdown_table(&train),
    )?;
    // Chapters 3–4, from the shipped models
    let device = device::open(args.device)?;
    let (autoencoder, vae) = face_models(None, &device)?;
    let tables = faces::write_figures(&autoencoder, &vae, 300, 1, &device, out)?;
    write_text(&out.join("faces-models.md"), &tables.models)?;
    write_text(&out.join("faces-edits.md"), &tables.edits)?;
    let loss_plot = Path::new("weights/faces-loss.png");
    std::fs::copy(loss_plot, out.join("faces-loss.png")).with_context(|| {
        format!(
            "cannot copy {} (made by `clip-art train-faces`)",
            loss_plot.display()
        )
    })?;
    // Chapter 5, from the shipped mini-CLIP; chapter 6, from train-vq's record.
    clip::book_figures(out)?;
    generate::book_figures(out)
}

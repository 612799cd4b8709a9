//! `clip-art`: the course's command line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use clip_art::classifier::{self, Config, TrainConfig};
use clip_art::device::{self, DeviceChoice};
use clip_art::one_hot::{self, ALPHABET, LECTURE_VOCABULARY};
use clip_art::picture::{Picture, write_atomically};
use clip_art::shapes::{Shape, ShapeBatch, ShapeSpec};

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
        Command::BookFigures { training, out } => book_figures(&training, &out),
    }
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
    let style =
        ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} steps, {elapsed} {msg}")?
            .progress_chars("=> ");
    let bar = |name: &str| {
        let bar = bars.add(
            ProgressBar::new(train.steps as u64)
                .with_style(style.clone())
                .with_prefix(name.to_string()),
        );
        bar.enable_steady_tick(Duration::from_millis(250));
        bar
    };
    let (scratch_bar, candle_bar) = (bar("scratch"), bar("candle"));
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
    Ok(())
}

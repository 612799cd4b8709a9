//! What every command shares: progress bars, files written with a line that
//! says so, and the checks of the training flags.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use clip_art::nn::device::DeviceChoice;
use clip_art::nn::progress::Progress;
use clip_art::viz::picture::{Picture, write_atomically};

/// A bar of `steps` steps named `name`, with the elapsed time and a message.
pub fn progress_bar(name: &str, steps: usize) -> ProgressBar {
    let style = ProgressStyle::with_template(
        "{prefix:>12} [{bar:30}] {pos}/{len} steps, {elapsed} {msg}",
    )
    .expect("a valid template")
    .progress_chars("=> ");
    let bar = ProgressBar::new(steps as u64)
        .with_style(style)
        .with_prefix(name.to_string());
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

/// The library's long work shown on the terminal: a bar per stage, and
/// results printed as they come.
#[derive(Default)]
pub struct Bars {
    bar: RefCell<Option<ProgressBar>>,
}

impl Progress for Bars {
    fn begin(&self, name: &str, total: usize) {
        *self.bar.borrow_mut() = Some(progress_bar(name, total));
    }

    fn advance(&self, message: &str) {
        if let Some(bar) = self.bar.borrow().as_ref() {
            bar.inc(1);
            if !message.is_empty() {
                bar.set_message(message.to_string());
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.borrow_mut().take() {
            bar.finish_and_clear();
        }
    }

    fn report(&self, line: &str) {
        match self.bar.borrow().as_ref() {
            Some(bar) => bar.suspend(|| println!("{line}")),
            None => println!("{line}"),
        }
    }
}

pub fn save(picture: &Picture, path: &Path) -> anyhow::Result<()> {
    picture.save_png(path)?;
    println!("wrote {}", path.display());
    Ok(())
}

pub fn write_text(path: &Path, text: &str) -> anyhow::Result<()> {
    write_atomically(path, text.as_bytes())?;
    println!("wrote {}", path.display());
    Ok(())
}

/// The flags every training command shares.
#[derive(clap::Args)]
pub struct TrainingRun {
    /// Same seed, same weights (on one kind of CPU). train-clip names the
    /// files of seeds other than 0 mini-clip-seed<SEED>.*.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// auto, cpu, cuda or metal.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// Folder for the weights (.safetensors), the record of the run (.md) and
    /// its loss plot (.png).
    #[arg(long, default_value = "weights")]
    pub weights: PathBuf,
}

/// The training commands' shared checks of their flags.
pub fn check_training(
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

/// The mean of the last 50 losses (fewer at the start): a training record's
/// final loss.
pub fn final_loss(losses: &[f32]) -> f32 {
    losses[losses.len().saturating_sub(50)..]
        .iter()
        .sum::<f32>()
        / losses.len().clamp(1, 50) as f32
}

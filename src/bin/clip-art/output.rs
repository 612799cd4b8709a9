//! What every command shares: progress bars, Ctrl-C and exit codes, files
//! written with a line that says so, and the checks of the training flags.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use clip_art::files::{Existing, OutputFile, check_all};
use clip_art::nn::device::DeviceChoice;
use clip_art::nn::progress::{Interrupted, Progress, interrupt, interrupted};
use clip_art::viz::picture::Picture;

/// For a command that can `stop_gracefully`, the first Ctrl-C asks it to stop
/// at its next step and save what it has; a second one, or the first for
/// other commands (their work is short), quits at once.
pub fn stop_on_ctrl_c(stop_gracefully: bool) -> anyhow::Result<()> {
    ctrlc::set_handler(move || {
        if !stop_gracefully || interrupted() {
            std::process::exit(130);
        }
        eprintln!("\nstopping after this step (Ctrl-C again quits without saving)");
        interrupt();
    })
    .context("cannot install the Ctrl-C handler")
}

/// 0 when the command did its work, 130 when Ctrl-C stopped it (as shells
/// report it), 1 on any error; the error is printed with its causes (and
/// no backtrace: it is a message for the user).
pub fn exit_code(result: anyhow::Result<()>) -> ExitCode {
    let Err(error) = result else {
        return ExitCode::SUCCESS;
    };
    eprintln!("Error: {error}");
    for cause in error.chain().skip(1) {
        eprintln!("  because: {cause}");
    }
    if error.chain().any(|cause| cause.is::<Interrupted>()) {
        ExitCode::from(130)
    } else {
        ExitCode::FAILURE
    }
}

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
    OutputFile::check(path, Existing::Replace)?.write(text.as_bytes())?;
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

/// The files a command writes in `folder`, checked before it works (an older
/// run's files are replaced).
pub fn check_outputs(folder: &Path, names: &[&str]) -> anyhow::Result<()> {
    let paths: Vec<PathBuf> = names.iter().map(|name| folder.join(name)).collect();
    let paths: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    check_all(&paths, Existing::Replace)?;
    Ok(())
}

/// Once the weights are saved: if Ctrl-C cut training short, the command
/// stops here, saying where they are (no record or plot of a partial run).
pub fn stop_if_training_interrupted(weights: &[&Path]) -> anyhow::Result<()> {
    if !interrupted() {
        return Ok(());
    }
    let saved: Vec<String> =
        weights.iter().map(|w| w.display().to_string()).collect();
    Err(Interrupted(format!(
        "saved the weights trained so far to {}; no record or plot was made",
        saved.join(" and ")
    ))
    .into())
}

/// The mean of the last 50 losses (fewer at the start): a training record's
/// final loss.
pub fn final_loss(losses: &[f32]) -> f32 {
    losses[losses.len().saturating_sub(50)..]
        .iter()
        .sum::<f32>()
        / losses.len().clamp(1, 50) as f32
}

//! `clip-art weights`: the real models' published weights, listed and
//! fetched into the cache (`clip_art::published`).

use std::path::PathBuf;

use clip_art::published::{CATALOGUE, cache_root, find};

#[derive(clap::Args)]
pub struct WeightsArgs {
    #[command(subcommand)]
    command: WeightsCommand,
    /// The cache folder (default: $CLIP_ART_WEIGHTS, else ~/.cache/clip-art/weights).
    #[arg(long, global = true)]
    cache: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
enum WeightsCommand {
    /// Every published model, whether it is in the cache, and the flag that
    /// takes its folder.
    List,
    /// Download a published model into the cache (needs the `hub` feature),
    /// from its mirrors in turn, checking each file's SHA-256.
    Fetch {
        /// clip-vit-b-32, vqgan-imagenet-f16-16384, vqgan-imagenet-f16-1024 or vqgan-gumbel-f8.
        name: String,
    },
}

/// Runs `clip-art weights`.
pub fn weights(args: &WeightsArgs) -> anyhow::Result<()> {
    let root = args.cache.clone().unwrap_or_else(cache_root);
    match &args.command {
        WeightsCommand::List => {
            println!("cache: {}", root.display());
            for model in CATALOGUE {
                let missing = model.missing(&root);
                let state = if missing.is_empty() {
                    format!(
                        "cached: {} {}",
                        model.flag,
                        model.folder(&root).display()
                    )
                } else if missing.len() == model.files.len() {
                    "not fetched".to_string()
                } else {
                    let names: Vec<&str> = missing.iter().map(|f| f.name).collect();
                    format!("incomplete (missing {})", names.join(", "))
                };
                println!(
                    "{:<26} {state}\n{:<26} {}",
                    model.name, "", model.description
                );
            }
            Ok(())
        }
        WeightsCommand::Fetch { name } => fetch(find(name)?, &root),
    }
}

#[cfg(feature = "hub")]
fn fetch(
    model: &'static clip_art::published::Published,
    root: &std::path::Path,
) -> anyhow::Result<()> {
    use indicatif::{ProgressBar, ProgressStyle};
    let style = ProgressStyle::with_template(
        "{prefix:>18} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}, {eta} left",
    )
    .expect("a valid template")
    .progress_chars("=> ");
    let mut bar: Option<(&str, ProgressBar)> = None;
    let folder = clip_art::published::fetch(
        model,
        root,
        &mut |file, received, total| {
            if bar.as_ref().is_none_or(|(name, _)| *name != file.name) {
                let new = ProgressBar::new(total.unwrap_or(0))
                    .with_style(style.clone())
                    .with_prefix(file.name);
                if let Some((_, old)) = bar.replace((file.name, new)) {
                    old.finish();
                }
            }
            if let Some((_, bar)) = &bar {
                bar.set_position(received);
            }
        },
        |line| eprintln!("{line}"),
    )?;
    if let Some((_, bar)) = bar {
        bar.finish();
    }
    println!(
        "{} is in {}: use {} {}",
        model.name,
        folder.display(),
        model.flag,
        folder.display()
    );
    Ok(())
}

#[cfg(not(feature = "hub"))]
fn fetch(
    model: &'static clip_art::published::Published,
    root: &std::path::Path,
) -> anyhow::Result<()> {
    let folder = model.folder(root);
    let files: Vec<String> = model
        .missing(root)
        .iter()
        .map(|file| clip_art::published::by_hand(file, &folder.join(file.name)))
        .collect();
    anyhow::ensure!(
        !files.is_empty(),
        "{} is already in {}",
        model.name,
        folder.display()
    );
    anyhow::bail!(
        "this clip-art was built without downloads: build it with `--features hub`, or\n{}",
        files.join("\n")
    )
}

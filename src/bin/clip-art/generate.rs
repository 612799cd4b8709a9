//! The command line's chapter-6 commands: train the VQ decoder, generate.

use std::path::Path;

use anyhow::Context;
use candle_core::Device;

use clip_art::clip::zero_shot::fill_template;
use clip_art::guide::generate::{BANK_SEED, BankKind, DEFAULT_BANK};
use clip_art::guide::vq::{self, VqModel};
use clip_art::models::autoencoder::{batch_to_images, images_to_batch, save_weights};
use clip_art::viz::picture::Picture;
use clip_art::viz::plot::{Series, line_chart, moving_average};
use clip_art::world::judge::scenes::judge_scene;
use clip_art::world::scenes::{SceneBatch, Split};

use super::{progress_bar, save, write_text};

/// Trains the VQ autoencoder with a progress bar, measures it with the scene
/// judge, and saves the weights, a record of the run and the loss plot.
pub fn train_vq(train: &vq::TrainConfig, device: Device, weights: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(weights)
        .with_context(|| format!("cannot create {}", weights.display()))?;
    let cfg = vq::Config::default();
    let bar = progress_bar("VQ decoder", train.steps)?;
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
    save_weights(&vars, &weights.join("scenes-vq.safetensors"))?;
    let quality = measure(
        &model,
        300,
        1,
        &device,
        &weights.join("scenes-vq-reconstructions.png"),
    )?;
    let record = format!(
        "| model | steps × batch | learning rate | seed | training time |\n|---|---|---|---|---|\n\
         | VQ autoencoder ({s}×{s} scenes → {g}×{g} codes of {d}, codebook {k}) | {} × {} | {} | {} | {seconds:.0} s |\n\n{quality}",
        train.steps,
        train.batch_size,
        train.learning_rate,
        train.seed,
        s = cfg.image_size,
        g = cfg.grid_size(),
        d = cfg.code_size,
        k = cfg.codebook_size,
    );
    write_text(&weights.join("scenes-vq-training.md"), &record)?;
    println!("{record}");
    let losses = moving_average(&reports.iter().map(|r| r.loss).collect::<Vec<_>>(), 25);
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
        &weights.join("scenes-vq-loss.png"),
    )
}

/// How well the VQ autoencoder reconstructs fresh scenes, by the judge:
/// the share of reconstructions judged exactly like their originals. Saves
/// eight scenes above their reconstructions to `picture`.
pub fn measure(
    model: &VqModel,
    count: usize,
    seed: u64,
    device: &Device,
    picture: &Path,
) -> anyhow::Result<String> {
    let size = model.config.image_size as u32;
    let mut rows =
        String::from("| scenes | judged like the original | mean squared error |\n|---|---|---|\n");
    for (name, split) in [
        ("training split", Split::Train),
        ("held-out colour–shape pairs", Split::HeldOut),
    ] {
        let batch = SceneBatch::draw(count, size, split, seed);
        let pictures = images_to_batch(&batch.images, device)?;
        let errors = vq::reconstruction_errors(model, &pictures)?
            .mean_all()?
            .to_scalar::<f32>()?;
        let rebuilt = batch_to_images(&model.reconstruct(&pictures)?)?;
        let same = batch
            .images
            .iter()
            .zip(&rebuilt)
            .filter(|(a, b)| same_objects(&judge_scene(a), &judge_scene(b)))
            .count();
        rows.push_str(&format!(
            "| {name} ({count}) | {:.1}% | {errors:.5} |\n",
            100.0 * same as f32 / count as f32
        ));
    }
    let sample = SceneBatch::draw(8, size, Split::Train, seed);
    let rebuilt = batch_to_images(&model.reconstruct(&images_to_batch(&sample.images, device)?)?)?;
    let both: Vec<_> = sample.images.iter().chain(&rebuilt).cloned().collect();
    save(&Picture::grid(&both, 8)?.scaled(2), picture)?;
    Ok(rows)
}

fn same_objects(
    a: &[clip_art::world::judge::scenes::SeenObject],
    b: &[clip_art::world::judge::scenes::SeenObject],
) -> bool {
    a.len() == b.len()
        && a.iter().all(|x| {
            b.iter().any(|y| {
                (x.colour, x.shape, x.size, x.position) == (y.colour, y.shape, y.size, y.position)
            })
        })
}

/// Which generator `generate` optimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GeneratorChoice {
    /// The VQ decoder trained on scenes (codebook + straight-through), started
    /// from the bank scenes CLIP ranks best.
    Vq,
    /// Every pixel free.
    Pixels,
    /// Cosine-basis coefficients (smooth pictures).
    Fourier,
    /// PixelDraw: 16×16 cells of 4×4 pixels.
    PixelDraw,
}

/// What an edit keeps of the init picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeepChoice {
    Layout,
    Pixels,
}

/// An image prompt `PATH` or `PATH:weight`, loaded at `size`×`size`.
fn image_prompt(
    source: &str,
    size: usize,
    device: &Device,
) -> anyhow::Result<(String, candle_core::Tensor, f32)> {
    let (path, weight) = match source.rsplit_once(':') {
        Some((path, weight)) if weight.parse::<f32>().is_ok() => {
            (path, weight.parse::<f32>().expect("checked"))
        }
        _ => (source, 1.0),
    };
    let picture = load_picture(Path::new(path), size, device)
        .with_context(|| format!("cannot read --image-prompt {path}"))?;
    Ok((path.to_string(), picture, weight))
}

/// A picture file as `[1, 3, size, size]` in [0, 1].
fn load_picture(path: &Path, size: usize, device: &Device) -> anyhow::Result<candle_core::Tensor> {
    let image = image::open(path)?.to_rgb8();
    let image = image::imageops::resize(
        &image,
        size as u32,
        size as u32,
        image::imageops::FilterType::Triangle,
    );
    Ok(images_to_batch(&[image], device)?)
}

/// `clip-art generate`'s options.
#[derive(clap::Args)]
pub struct GenerateArgs {
    /// What to draw, in the peers' syntax: `text[:weight[:stop]]`, several
    /// separated by `|`; a negative weight pushes away. May be left out when
    /// --image-prompt is given.
    #[arg(required_unless_present = "image_prompt")]
    pub prompt: Option<String>,
    /// A picture CLIP should see the result as, `PATH` or `PATH:weight`
    /// (repeatable): the peers' image prompts.
    #[arg(long)]
    pub image_prompt: Vec<String>,
    #[arg(long, value_enum, default_value_t = GeneratorChoice::Vq)]
    pub generator: GeneratorChoice,
    /// Optimiser steps per restart (default: 40 for vq, 150 for the others).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Adam's learning rate (default: 0.003 for vq, 0.1 for the others).
    #[arg(long)]
    pub lr: Option<f64>,
    /// vq: how many of the best-ranked starts are optimised; the result CLIP
    /// scores best is kept.
    #[arg(long, default_value_t = 1)]
    pub restarts: usize,
    /// Views (cutouts) CLIP judges per step; 0 shows CLIP the whole picture.
    #[arg(long, default_value_t = 4)]
    pub cutouts: usize,
    /// vq: the drawn scenes CLIP ranks to choose the starts: `every-kind`
    /// (one scene of each kind the captions describe) or a number of random
    /// scenes (with --init, 0 starts from the init picture's own codes).
    #[arg(long, default_value_t = DEFAULT_BANK)]
    pub bank: BankKind,
    /// Side of the picture for pixels, fourier and pixel-draw (vq: always 64).
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Same seed, same device: the same picture, byte for byte.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Start from this picture instead (inversion and editing).
    #[arg(long)]
    pub init: Option<std::path::PathBuf>,
    /// With --init: the weight of the distance to the init picture, which
    /// keeps the result near it (0: free).
    #[arg(long, default_value_t = clip_art::guide::editing::EDIT_WEIGHT)]
    pub init_weight: f64,
    /// With --init: keep its `layout` (where things are; colours may change)
    /// or all its `pixels`.
    #[arg(long, value_enum, default_value_t = KeepChoice::Layout)]
    pub keep: KeepChoice,
    /// Where to write the PNG (default: out/<prompt>.png).
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Replace an existing output file.
    #[arg(long)]
    pub force: bool,
    /// Also write an animated GIF of the run here.
    #[arg(long)]
    pub gif: Option<std::path::PathBuf>,
    /// Enlarge the saved PNG this many times (nearest neighbour; the judge
    /// sees the picture at its own size).
    #[arg(long, default_value_t = 4)]
    pub scale: u32,
    /// Which CLIP guides: `mini-ensemble` (the three shipped mini-CLIPs
    /// together), `mini` (one), a folder with OpenAI's CLIP in Hugging Face's
    /// layout, or `hub` (`hub` feature).
    #[arg(long, default_value = "mini-ensemble")]
    pub clip: String,
    /// With `--clip mini`: a mini-clip.safetensors saved by train-clip
    /// (repeatable: several guide together).
    #[arg(long)]
    pub clip_weights: Vec<std::path::PathBuf>,
    /// A scenes-vq.safetensors saved by train-vq (default: the shipped one).
    #[arg(long)]
    pub vq_weights: Option<std::path::PathBuf>,
    /// auto, cpu, cuda or metal.
    #[arg(long, default_value = "auto")]
    pub device: clip_art::nn::device::DeviceChoice,
}

/// `out/a-red-circle-above-a-blue-square.png` for that prompt.
fn default_output(prompt: &str) -> std::path::PathBuf {
    let slug: String = prompt
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug: Vec<&str> = slug.split('-').filter(|s| !s.is_empty()).collect();
    let mut name = slug.join("-");
    name.truncate(80);
    if name.is_empty() {
        name.push_str("generated");
    }
    Path::new("out").join(format!("{name}.png"))
}

fn refuse_overwrite(path: &Path, force: bool) -> anyhow::Result<()> {
    anyhow::ensure!(
        force || !path.exists(),
        "{} already exists: pass --force to replace it, or --out to choose another name",
        path.display()
    );
    Ok(())
}

/// Runs `clip-art generate`: the course's main job.
pub fn generate(args: &GenerateArgs) -> anyhow::Result<()> {
    use clip_art::guide::engine::{Guide, Keep};
    use clip_art::guide::generate::{self as guided, Bank, Settings, Start};
    use clip_art::guide::generators::{Fourier, Generator, PixelDraw, RawPixels, snapshot};
    use clip_art::guide::prompts::Prompt;
    use clip_art::world::requests::Request;
    use rand::SeedableRng;
    use std::ops::ControlFlow;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let description = args.prompt.clone().unwrap_or_default();
    let prompts = match &args.prompt {
        Some(text) => Prompt::parse_all(text)?,
        None => Vec::new(),
    };
    let out = args.out.clone().unwrap_or_else(|| {
        default_output(if description.is_empty() {
            "image prompt"
        } else {
            &description
        })
    });
    refuse_overwrite(&out, args.force)?;
    if let Some(gif) = &args.gif {
        refuse_overwrite(gif, args.force)?;
    }
    anyhow::ensure!(args.scale >= 1, "--scale must be at least 1");
    let vq_size = vq::Config::default().image_size;
    let size = if args.generator == GeneratorChoice::Vq {
        vq_size
    } else {
        args.size
    };
    anyhow::ensure!(size >= 8, "--size must be at least 8 pixels, got {size}");
    let device = clip_art::nn::device::open(args.device)?;
    let (clip, _) = super::clip::open_clip(&args.clip, &args.clip_weights, &device)?;
    let init = args
        .init
        .as_deref()
        .map(|path| {
            load_picture(path, size, &device)
                .with_context(|| format!("cannot read --init picture {}", path.display()))
        })
        .transpose()?;
    let mut guide = Guide::new(clip.as_ref(), &prompts)?;
    for source in &args.image_prompt {
        let (label, picture, weight) = image_prompt(source, size, &device)?;
        guide = guide.with_image_prompt(&label, &picture, weight)?;
    }
    anyhow::ensure!(
        args.init_weight.is_finite() && args.init_weight >= 0.0,
        "--init-weight must be a number ≥ 0, got {}",
        args.init_weight
    );
    if let (Some(init), true) = (&init, args.init_weight > 0.0) {
        let keep = match args.keep {
            KeepChoice::Layout => Keep::Layout,
            KeepChoice::Pixels => Keep::Pixels,
        };
        guide = guide.anchored(init, keep, args.init_weight);
    }
    let default_steps = if args.generator == GeneratorChoice::Vq {
        40
    } else {
        150
    };
    let mut settings = Settings::new(clip.image_size());
    settings.steps = args.steps.unwrap_or(default_steps);
    if args.generator != GeneratorChoice::Vq {
        settings.learning_rate = 0.1;
    }
    settings.learning_rate = args.lr.unwrap_or(settings.learning_rate);
    settings.seed = args.seed;
    settings.restarts = if args.generator == GeneratorChoice::Vq {
        args.restarts
    } else {
        1
    };
    if args.cutouts == 0 {
        settings.cutouts = None;
    } else if let Some(cutouts) = settings.cutouts.as_mut() {
        cutouts.count = args.cutouts;
    }
    anyhow::ensure!(
        settings.steps > 0 && settings.restarts > 0,
        "--steps and --restarts must be positive"
    );
    anyhow::ensure!(
        settings.learning_rate.is_finite() && settings.learning_rate > 0.0,
        "--lr must be a positive number"
    );

    // Ctrl-C ends the run after the current step; the last frame is saved.
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("cannot install the Ctrl-C handler")?;

    let bar = super::progress_bar("generate", settings.steps * settings.restarts)?;
    let frame_every = (settings.steps / 20).max(1);
    let mut frames = Vec::new();
    let start_time = std::time::Instant::now();
    let mut on_step = |restart: usize, step: usize, loss: f32, generator: &dyn Generator| {
        bar.set_position((restart * settings.steps + step + 1) as u64);
        bar.set_message(format!("restart {}, loss {loss:.4}", restart + 1));
        if args.gif.is_some() && step % frame_every == 0 {
            if let Ok(frame) = snapshot(generator) {
                frames.push(frame);
            }
        }
        if stop.load(Ordering::SeqCst) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let vq_model;
    let (picture, interrupted) = match args.generator {
        GeneratorChoice::Vq => {
            vq_model = match &args.vq_weights {
                None => VqModel::shipped(&device)?,
                Some(path) => VqModel::load(path, &vq::Config::default(), &device)?,
            };
            let bank;
            let start = match &init {
                Some(picture) if args.bank == BankKind::Random(0) => Start::Picture(picture),
                _ => {
                    bank = Bank::new(
                        args.bank,
                        vq_size,
                        BANK_SEED.wrapping_add(args.seed),
                        &device,
                    )?;
                    Start::Bank(&bank)
                }
            };
            let outcome = guided::generate(&guide, &vq_model, start, &settings, |s| {
                on_step(s.restart, s.step, s.loss, s.generator)
            })?;
            (outcome.picture, outcome.interrupted)
        }
        choice => {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
            let generator: Box<dyn Generator> = match (choice, &init) {
                (GeneratorChoice::Pixels, Some(picture)) => {
                    Box::new(RawPixels::from_picture(picture)?)
                }
                (_, Some(_)) => anyhow::bail!("--init works with --generator vq or pixels"),
                (GeneratorChoice::Pixels, None) => {
                    Box::new(RawPixels::new(size, &mut rng, &device)?)
                }
                (GeneratorChoice::Fourier, None) => {
                    Box::new(Fourier::new(size, 16, &mut rng, &device)?)
                }
                _ => {
                    anyhow::ensure!(size % 4 == 0, "pixel-draw needs a --size divisible by 4");
                    Box::new(PixelDraw::new(size / 4, 4, None, &mut rng, &device)?)
                }
            };
            let cfg = settings.guide_config(settings.seed);
            let mut interrupted = false;
            guide.run(generator.as_ref(), &cfg, |step, loss| {
                let flow = on_step(0, step, loss, generator.as_ref());
                interrupted |= flow.is_break();
                flow
            })?;
            (generator.render()?.detach(), interrupted)
        }
    };
    bar.finish_and_clear();
    let seconds = start_time.elapsed().as_secs_f32();
    let image = clip_art::basics::pixels::tensor_to_image(
        &picture.to_dtype(candle_core::DType::F32)?.get(0)?,
    )?;
    let verdict = prompts
        .iter()
        .find(|p| p.weight > 0.0)
        .and_then(|p| Request::parse(&p.text))
        .map(|request| match request.verdict(&judge_scene(&image)) {
            Ok(()) => "✓ the judge finds what the prompt asks for".to_string(),
            Err(reason) => format!("✗ {reason}"),
        });
    let settings_text = format!(
        "generator={:?} steps={} lr={} restarts={} cutouts={} bank={} seed={} clip={} init={} keep={:?} init_weight={} image_prompts={:?}",
        args.generator,
        settings.steps,
        settings.learning_rate,
        settings.restarts,
        args.cutouts,
        args.bank,
        args.seed,
        args.clip,
        args.init
            .as_ref()
            .map_or("none".to_string(), |p| p.display().to_string()),
        args.keep,
        args.init_weight,
        args.image_prompt,
    );
    let mut text = vec![
        (
            "Software",
            format!("clip-art {}", env!("CARGO_PKG_VERSION")),
        ),
        ("Description", description.clone()),
        ("clip-art settings", settings_text),
    ];
    if let Some(verdict) = &verdict {
        text.push(("clip-art judge", verdict.clone()));
    }
    if interrupted {
        text.push((
            "clip-art interrupted",
            "stopped by Ctrl-C; this is the last frame".into(),
        ));
    }
    let shown = Picture(image.clone()).scaled(args.scale);
    clip_art::viz::picture::write_atomically(
        &out,
        &clip_art::viz::picture::png_with_text(&shown.0, &text)?,
    )?;
    if let Some(gif) = &args.gif {
        frames.push(image.clone());
        let enlarged: Vec<image::RgbImage> = frames
            .iter()
            .map(|f| Picture(f.clone()).scaled(args.scale).0)
            .collect();
        clip_art::viz::picture::write_atomically(
            gif,
            &clip_art::viz::picture::gif_bytes(&enlarged, 100)?,
        )?;
        println!("wrote {} ({} frames)", gif.display(), enlarged.len());
    }
    if interrupted {
        println!("interrupted: saved the last frame");
    }
    println!("wrote {} in {seconds:.1} s", out.display());
    if let Some(verdict) = verdict {
        println!("judge: {verdict}");
    }
    Ok(())
}

/// `✓ "a red circle": as asked` or `✗ "…": what the judge found wrong`.
fn verdict_line(prompt: &str, verdict: &Result<(), String>) -> String {
    let mark = if verdict.is_ok() { "✓" } else { "✗" };
    let reason = verdict.as_ref().err().map_or("as asked", String::as_str);
    format!("{mark} {prompt:?}: {reason}\n")
}

/// The largest rotation of the ablation's rotated views, in degrees (the
/// peers' small affine augmentation).
const ROTATION_ABLATION: f32 = 10.0;

/// `clip-art generate-report`: the judged tables of chapter 6, with `clip`
/// (the three shipped mini-CLIPs, or mini-CLIPs saved by `train-clip`) guiding.
pub fn report(
    clip: &dyn clip_art::clip::Clip,
    default: &clip_art::guide::generate::Settings,
    bank_kind: BankKind,
    count: usize,
    ablation_count: usize,
    seed: u64,
    out: &Path,
) -> anyhow::Result<()> {
    use clip_art::eval::generation::{
        Method, run_trials, summary_header, summary_row, test_prompts,
    };
    use clip_art::guide::cutouts::Cutouts;
    use clip_art::guide::generate::{Bank, Settings};

    let device = clip.device();
    let vq = VqModel::shipped(device)?;
    let bank = Bank::new(bank_kind, vq.config.image_size, BANK_SEED, device)?;
    let pixel_settings = Settings {
        steps: 150,
        restarts: 1,
        learning_rate: 0.1,
        ..default.clone()
    };
    let mut rows = vec![summary_header()];
    let mut table = |label: &str,
                     method: Method,
                     settings: &Settings,
                     per_kind: usize|
     -> anyhow::Result<Vec<clip_art::eval::generation::Trial>> {
        let prompts = test_prompts(per_kind, 1_000 + seed);
        let bar = super::progress_bar("prompts", prompts.len())?;
        bar.set_message(label.to_string());
        let trials = run_trials(clip, &vq, &bank, &method, settings, &prompts, |_| {
            bar.inc(1)
        })?;
        bar.finish_and_clear();
        let row = summary_row(label, &trials);
        println!("{row}");
        rows.push(row);
        Ok(trials)
    };
    println!("{}", summary_header());
    let main = table(
        Method::VqFromBank.name(),
        Method::VqFromBank,
        default,
        count,
    )?;
    let mut judge_row = None;
    if ablation_count > 0 {
        let three_restarts = Settings {
            restarts: 3,
            ..default.clone()
        };
        let kept = table(
            "VQ decoder, 3 best starts, CLIP keeps its best-scoring result",
            Method::VqFromBank,
            &three_restarts,
            ablation_count,
        )?;
        let judge_picks: Vec<_> = kept.iter().map(|t| t.judge_picks_restart()).collect();
        let row = summary_row(
            "the same 3 restarts, if the judge chose among them instead of CLIP",
            &judge_picks,
        );
        println!("{row}");
        judge_row = Some(row);
        let no_cutouts = Settings {
            cutouts: None,
            ..default.clone()
        };
        table(
            "VQ decoder, bank start, no cutouts or noise",
            Method::VqFromBank,
            &no_cutouts,
            ablation_count,
        )?;
        let rotated = |settings: &Settings| Settings {
            cutouts: settings.cutouts.clone().map(|cutouts| Cutouts {
                rotate: ROTATION_ABLATION,
                ..cutouts
            }),
            ..settings.clone()
        };
        table(
            &format!("VQ decoder, bank start, views rotated up to ±{ROTATION_ABLATION}°"),
            Method::VqFromBank,
            &rotated(default),
            ablation_count,
        )?;
        table(
            &format!("raw pixels, views rotated up to ±{ROTATION_ABLATION}°"),
            Method::RawPixels,
            &rotated(&pixel_settings),
            ablation_count,
        )?;
        let bank_only = Settings {
            steps: 1,
            ..default.clone()
        };
        table(
            "bank scene CLIP ranks best, 1 step (no real optimisation)",
            Method::VqFromBank,
            &bank_only,
            ablation_count,
        )?;
        table(
            Method::VqFromRandomCodes.name(),
            Method::VqFromRandomCodes,
            default,
            ablation_count,
        )?;
        for method in [Method::RawPixels, Method::Fourier, Method::PixelDraw] {
            table(
                method.name(),
                method.clone(),
                &pixel_settings,
                ablation_count,
            )?;
            let no_cutouts = Settings {
                cutouts: None,
                ..pixel_settings.clone()
            };
            table(
                &format!("{}, no cutouts or noise", method.name()),
                method,
                &no_cutouts,
                ablation_count,
            )?;
        }
    }
    // Below the restarts' row it bounds, after the ablation's rows were added.
    if let Some(row) = judge_row {
        rows.insert(3, row);
    }
    let shown: Vec<image::RgbImage> = main.iter().take(24).map(|t| t.picture.clone()).collect();
    save(
        &Picture::grid(&shown, 8)?.scaled(2),
        &out.join("generated.png"),
    )?;
    let mut listing = String::new();
    for trial in &main {
        listing.push_str(&verdict_line(&trial.prompt, &trial.verdict));
    }
    write_text(&out.join("generated.txt"), &listing)?;
    write_text(&out.join("generate-report.md"), &rows.join("\n"))?;
    Ok(())
}

/// Chapter 6's figures: the VQ decoder's reconstructions and loss plot, as
/// `train-vq` recorded them.
pub fn book_figures(out: &Path) -> anyhow::Result<()> {
    for name in ["scenes-vq-reconstructions.png", "scenes-vq-loss.png"] {
        let from = Path::new("weights").join(name);
        std::fs::copy(&from, out.join(name)).with_context(|| {
            format!(
                "cannot copy {} (made by `clip-art train-vq`)",
                from.display()
            )
        })?;
    }
    Ok(())
}

/// `clip-art edit-report`: chapter 7's judged tables — editing by each
/// method, and generation from image prompts.
pub fn edit_report(count: usize, seed: u64, device: Device, out: &Path) -> anyhow::Result<()> {
    use clip_art::clip::Clip;
    use clip_art::guide::editing::{
        EDIT_WEIGHT, EditMethod, edit_cases, run_edits, run_image_prompts, success_rate,
    };
    use clip_art::guide::engine::Keep;
    use clip_art::guide::generate::{Bank, RANDOM_BANK, Settings};

    let clip = clip_art::clip::mini::shipped_ensemble(&device)?;
    let vq = VqModel::shipped(&device)?;
    let bank = Bank::draw(RANDOM_BANK, vq.config.image_size, BANK_SEED, &device)?;
    let cases = edit_cases(count, 2_000 + seed);
    let default = Settings::new(clip.image_size());
    // Starting from the picture, 0.003 barely moves the codes (measured: none
    // of 20 edits right); 0.03 is the best of 0.01, 0.03 and 0.1.
    let from_picture = Settings {
        learning_rate: 0.03,
        restarts: 1,
        ..default.clone()
    };
    let pixels = Settings {
        steps: 60,
        learning_rate: 0.05,
        restarts: 1,
        ..default.clone()
    };
    let methods = [
        (EditMethod::Bank(Keep::Layout, EDIT_WEIGHT), &default),
        (EditMethod::Bank(Keep::Layout, 1.0), &default),
        (EditMethod::Bank(Keep::Layout, 20.0), &default),
        (EditMethod::Bank(Keep::Pixels, EDIT_WEIGHT), &default),
        (
            EditMethod::FromPicture(Keep::Layout, EDIT_WEIGHT),
            &from_picture,
        ),
        (EditMethod::FromPicture(Keep::Pixels, 1.0), &from_picture),
        (EditMethod::RawPixels(Keep::Layout, EDIT_WEIGHT), &pixels),
    ];
    let mut rows = vec![
        "| method | learning rate × steps | judged right (new colour, same shape and place) | median time |"
            .to_string(),
        "|---|---|---|---|".to_string(),
    ];
    let mut shown = Vec::new();
    let mut listing = String::new();
    for (i, (method, settings)) in methods.iter().enumerate() {
        let bar = super::progress_bar("edits", cases.len())?;
        bar.set_message(method.name());
        let trials = run_edits(&clip, &vq, &bank, *method, settings, &cases, |_| bar.inc(1))?;
        bar.finish_and_clear();
        let mut seconds: Vec<f32> = trials.iter().map(|t| t.seconds).collect();
        seconds.sort_by(f32::total_cmp);
        let name = method.name();
        let row = format!(
            "| {} | {} × {} | {} | {:.1} s |",
            if i == 0 {
                format!("**{name}** (default)")
            } else {
                name
            },
            settings.learning_rate,
            settings.steps,
            success_rate(trials.iter().map(|t| &t.verdict)),
            seconds[seconds.len() / 2],
        );
        println!("{row}");
        rows.push(row);
        if i == 0 {
            for trial in &trials {
                listing.push_str(&verdict_line(&trial.prompt, &trial.verdict));
            }
            for trial in trials.iter().take(8) {
                shown.push(trial.before.clone());
                shown.push(trial.after.clone());
            }
        }
    }
    let bar = super::progress_bar("image prompts", count)?;
    let image_trials = run_image_prompts(&clip, &vq, &bank, &default, count, 3_000 + seed, |_| {
        bar.inc(1)
    })?;
    bar.finish_and_clear();
    let image_row = format!(
        "\n\n| image prompt (a drawn scene's picture, no text) | judged to show the scene's caption |\n|---|---|\n| bank scenes ranked by the image prompt, then VQ steps | {} |",
        success_rate(image_trials.iter().map(|t| &t.verdict))
    );
    println!("{image_row}");
    rows.push(image_row);
    let mut image_shown = Vec::new();
    for trial in image_trials.iter().take(8) {
        image_shown.push(trial.prompt_picture.clone());
        image_shown.push(trial.picture.clone());
        listing.push_str(&format!(
            "image prompt {}",
            verdict_line(&trial.caption, &trial.verdict)
        ));
    }
    rows.push(modifier_table(&clip, &vq, &bank, &default, count, seed)?);
    save(&Picture::grid(&shown, 8)?.scaled(2), &out.join("edits.png"))?;
    save(
        &Picture::grid(&image_shown, 8)?.scaled(2),
        &out.join("image-prompts.png"),
    )?;
    write_text(&out.join("edits.txt"), &listing)?;
    write_text(&out.join("edit-report.md"), &rows.join("\n"))?;
    Ok(())
}

/// Chapter 7's prompt-modifier table: the same colour–shape requests said
/// bare, in mini-CLIP's own caption template ("a picture of a …", its
/// "unreal engine"), and as the peers' `|` composition of both.
fn modifier_table(
    clip: &dyn clip_art::clip::Clip,
    vq: &VqModel,
    bank: &clip_art::guide::generate::Bank,
    settings: &clip_art::guide::generate::Settings,
    count: usize,
    seed: u64,
) -> anyhow::Result<String> {
    use clip_art::guide::editing::success_rate;
    use clip_art::world::judge::scenes::judge_scene;
    use clip_art::world::requests::Request;
    use clip_art::world::scenes::{Scene, Split};
    use rand::SeedableRng;

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4_000 + seed);
    let mut names = Vec::new();
    while names.len() < count {
        let scene = Scene::random(Split::Train, &mut rng);
        if let [object] = scene.objects.as_slice() {
            names.push(format!("{} {}", object.colour.name(), object.shape.name()));
        }
    }
    // (label, template): `{}` becomes "red circle". `\|`: a bare `|` would
    // end the Markdown table cell.
    let phrasings = [
        ("bare: \"a red circle\"", "a {}"),
        (
            "modifier: \"a picture of a red circle\"",
            "a picture of a {}",
        ),
        (
            "both: \"a red circle \\| a picture of a red circle\"",
            "a {} | a picture of a {}",
        ),
    ];
    let mut table = String::from("\n\n| prompt phrasing | judged right |\n|---|---|");
    for (label, template) in phrasings {
        let mut verdicts = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let settings = clip_art::guide::generate::Settings {
                seed: settings.seed.wrapping_add(i as u64),
                ..settings.clone()
            };
            // Every phrasing is graded by the request they all share.
            let request = Request::parse(&format!("a {name}")).expect("a scene phrase");
            let prompt = fill_template(template, name);
            let picture = picture_for(clip, vq, bank, &settings, &prompt)?;
            verdicts.push(request.verdict(&judge_scene(&picture)));
        }
        let row = format!("\n| {label} | {} |", success_rate(&verdicts));
        println!("{row}");
        table.push_str(&row);
    }
    Ok(table)
}

/// Generates from prompts (`|`-separated) with the default method.
fn picture_for(
    clip: &dyn clip_art::clip::Clip,
    vq: &VqModel,
    bank: &clip_art::guide::generate::Bank,
    settings: &clip_art::guide::generate::Settings,
    text: &str,
) -> anyhow::Result<image::RgbImage> {
    use clip_art::guide::engine::Guide;
    use clip_art::guide::generate::{Start, generate};
    use clip_art::guide::prompts::Prompt;
    let guide = Guide::new(clip, &Prompt::parse_all(text)?)?;
    let outcome = generate(&guide, vq, Start::Bank(bank), settings, |_| {
        std::ops::ControlFlow::Continue(())
    })?;
    clip_art::basics::pixels::tensor_to_image(&outcome.picture.get(0)?)
}

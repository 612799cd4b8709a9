//! `clip-art generate`, the course's main job: a picture for a prompt, steered
//! by a guide, graded by the judge, written with its settings.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use candle_core::{DType, Device, Tensor};
use image::RgbImage;
use rand::SeedableRng;

use clip_art::basics::pixels::load_rgb;
use clip_art::basics::pixels::tensor_to_image;
use clip_art::files::{Existing, OutputFile, check_all, name_from_text};
use clip_art::guide::augment::Distortions;
use clip_art::guide::biggan::{BigSleep, BigSleepConfig, dream};
use clip_art::guide::cutouts::Resampling;
use clip_art::guide::editing::EDIT_WEIGHT;
use clip_art::guide::engine::{Guide, Keep};
use clip_art::guide::generate::{
    self as guided, BANK_SEED, Bank, BankKind, DEFAULT_BANK, Settings, Start,
};
use clip_art::guide::generators::{Generator, RawPixels, snapshot};
use clip_art::guide::layers::{self, LayeredGenerator, SearchSettings};
use clip_art::guide::presets::GeneratorKind;
use clip_art::guide::prompts::Prompt;
use clip_art::guide::vq::{self, VqModel};
use clip_art::guide::vqgan::VqganGenerator;
use clip_art::models::biggan::BigGan;
use clip_art::models::vqgan::VqGan;
use clip_art::nn::batch::{batch_to_images, images_to_batch};
use clip_art::nn::device::{self, DeviceChoice};
use clip_art::nn::progress::{Interrupted, interrupted};
use clip_art::viz::picture::{Picture, gif_bytes, png_with_text};
use clip_art::world::judge::scenes::judge_scene;
use clip_art::world::requests::Request;

use crate::output::progress_bar;

/// What an edit keeps of the init picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeepChoice {
    Layout,
    Pixels,
}

/// Where generation starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StartChoice {
    /// From the generator's own random latents (the default).
    Noise,
    /// From the drawn scenes of a bank that the guide ranks best: retrieval,
    /// not generation (vq only).
    Retrieve,
}

#[derive(clap::Args)]
pub struct GenerateArgs {
    /// What to draw, in VQGAN+CLIP's syntax: `text[:weight[:stop]]`, several
    /// separated by `|`; a negative weight pushes away. May be left out when
    /// --image-prompt is given.
    #[arg(required_unless_present_any = ["image_prompt", "noise_prompt"])]
    pub prompt: Option<String>,
    /// A picture CLIP should see the result as, `PATH` or `PATH:weight`
    /// (repeatable), as VQGAN+CLIP's image prompts.
    #[arg(long)]
    pub image_prompt: Vec<String>,
    /// A random direction in CLIP's embedding space, `SEED` or `SEED:weight`
    /// (repeatable), as nerdyrodent's VQGAN-CLIP's noise prompts.
    #[arg(long, value_parser = crate::limits::noise_prompt)]
    pub noise_prompt: Vec<(u64, f32)>,
    /// What the guide steers: layers (the default: the layered generator,
    /// from noise, searched by the guide), vq (the VQ decoder trained on
    /// scenes; the default with --init), pixels (every pixel free), fourier
    /// (cosine-basis coefficients), pixel-draw (4×4 cells), vqgan
    /// (VQGAN+CLIP: a taming VQGAN given by --vqgan, from random codes) or
    /// biggan (Big Sleep: BigGAN-deep given by --biggan, from noise).
    #[arg(long)]
    pub generator: Option<GeneratorKind>,
    /// Where to start: noise (the generator's random latents; vq: random
    /// codes) or retrieve (vq: the drawn scenes of --bank the guide ranks
    /// best — retrieval, not generation). With --init, vq starts by
    /// retrieving near the picture unless --start noise (or --bank 0) starts
    /// from the picture's own codes.
    #[arg(long, value_enum)]
    pub start: Option<StartChoice>,
    /// Optimiser steps per restart, 1–10,000 (default: 40 for vq, 150 for
    /// the others; layers: rounds of the search, default 10).
    #[arg(long, value_parser = crate::limits::guidance_steps)]
    pub steps: Option<usize>,
    /// Adam's learning rate (default: 0.003 for vq, 0.1 for the others).
    #[arg(long)]
    pub lr: Option<f64>,
    /// vq and layers: how many of the best-ranked starts are optimised (vq,
    /// default 1) or searched from (layers, default 4); the result CLIP
    /// scores best is kept (1–64).
    #[arg(long, value_parser = crate::limits::restarts)]
    pub restarts: Option<usize>,
    /// Views (cutouts) the guide sees per step, 0–128; 0 shows it the whole
    /// picture.
    #[arg(long, default_value_t = 4, value_parser = crate::limits::cutouts)]
    pub cutouts: usize,
    /// How each view is resized to the guide's input: area (the toy's
    /// default), lanczos (Crowson's notebook; the VQGAN's default) or pooled
    /// (adaptive average + max pooling, nerdyrodent's 'latest').
    #[arg(long)]
    pub resampling: Option<Resampling>,
    /// Distort every view as nerdyrodent's VQGAN-CLIP does: a random affine
    /// map, perspective and colour jitter (each with chance 0.7) and random
    /// erasing (kornia's settings).
    #[arg(long)]
    pub distort: bool,
    /// With --start retrieve (or --init): the drawn scenes the guide ranks to
    /// choose the starts: `every-kind` (the default: one scene of each kind
    /// the captions describe) or a number of random scenes, at most 16,384
    /// (with --init, 0 starts from the init picture's own codes).
    #[arg(long)]
    pub bank: Option<BankKind>,
    /// Side of the picture for pixels, fourier and pixel-draw, 8–512 (vq:
    /// always 64).
    #[arg(long, default_value_t = 64, value_parser = crate::limits::size)]
    pub size: usize,
    /// Same seed, same device: the same picture, byte for byte.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Start from this picture instead (inversion and editing).
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// With --init: the weight of the distance to the init picture, which
    /// keeps the result near it (0: free).
    #[arg(long, default_value_t = EDIT_WEIGHT)]
    pub init_weight: f64,
    /// With --init: keep its `layout` (where things are; colours may change)
    /// or all its `pixels`.
    #[arg(long, value_enum, default_value_t = KeepChoice::Layout)]
    pub keep: KeepChoice,
    /// Where to write the PNG (default: out/<prompt>.png).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an existing output file.
    #[arg(long)]
    pub force: bool,
    /// Also write an animated GIF of the run here.
    #[arg(long)]
    pub gif: Option<PathBuf>,
    /// Enlarge the saved PNG this many times, 1–16 (nearest neighbour; the
    /// judge sees the picture at its own size).
    #[arg(long, default_value_t = 4, value_parser = crate::limits::scale)]
    pub scale: u32,
    /// Which CLIP guides: `mini-ensemble` (the three shipped mini-CLIPs
    /// together), `mini` (one), a folder with OpenAI's CLIP in Hugging Face's
    /// layout, or `hub` (`hub` feature).
    #[arg(long, default_value = "mini-ensemble")]
    pub clip: String,
    /// With `--clip mini`: a mini-clip.safetensors saved by train-clip
    /// (repeatable: several guide together).
    #[arg(long)]
    pub clip_weights: Vec<PathBuf>,
    /// A scenes-vq.safetensors saved by train-vq (default: the shipped one).
    #[arg(long)]
    pub vq_weights: Option<PathBuf>,
    /// With `--generator vqgan`: a taming VQGAN's folder as published
    /// (model.yaml and last.ckpt, or model.safetensors).
    #[arg(long)]
    pub vqgan: Option<PathBuf>,
    /// With `--generator biggan`: a BigGAN-deep folder as published
    /// (config.json and pytorch_model.bin, or model.safetensors).
    #[arg(long)]
    pub biggan: Option<PathBuf>,
    /// With `--generator biggan`: each layer's class vector is a
    /// differentiable top-k of this many classes (Big Sleep's
    /// --max-classes) instead of the logits' sigmoids.
    #[arg(long)]
    pub max_classes: Option<usize>,
    /// With the real models (--vqgan, --biggan, --clip FOLDER): hold their weights in
    /// f32, f16 or bf16 (half the memory, for a GPU; bf16 only there); the
    /// loop stays in f32.
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    pub precision: Precision,
    /// auto, cpu, cuda or metal.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
}

/// What the real models' weights are held in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Precision {
    F32,
    F16,
    Bf16,
}

impl Precision {
    pub fn dtype(self) -> DType {
        match self {
            Precision::F32 => DType::F32,
            Precision::F16 => DType::F16,
            Precision::Bf16 => DType::BF16,
        }
    }
}

impl GenerateArgs {
    /// The generator asked for; else layers (from noise), or with --init the
    /// VQ decoder (editing needs an encoder).
    pub fn generator(&self) -> GeneratorKind {
        match (self.generator, &self.init) {
            (Some(kind), _) => kind,
            (None, Some(_)) => GeneratorKind::Vq,
            (None, None) => GeneratorKind::Layers,
        }
    }

    /// Whether the VQ decoder starts from the bank's drawn scenes: when asked,
    /// or when editing an --init picture, unless told otherwise.
    fn retrieves(&self) -> bool {
        match self.start {
            Some(StartChoice::Retrieve) => true,
            Some(StartChoice::Noise) => false,
            None => self.init.is_some() && self.bank != Some(BankKind::Random(0)),
        }
    }
}

/// Runs `clip-art generate`.
pub fn generate(args: &GenerateArgs) -> anyhow::Result<()> {
    let description = args.prompt.clone().unwrap_or_default();
    // A prompt that cannot be read is refused before any folder is made.
    if let Some(text) = &args.prompt {
        Prompt::parse_all(text)?;
    }
    let (out, gif) = outputs(args, &description)?;
    // The layered generator's search is quick: no progress bar.
    let bar = (args.generator() != GeneratorKind::Layers)
        .then(|| progress_bar("generate", 1));
    let made = make(args, args.gif.is_some(), &mut |seen| {
        if let Some(bar) = &bar {
            bar.set_length(seen.total as u64);
            bar.set_position(seen.done as u64);
            bar.set_message(format!("loss {:.4}", seen.loss));
        }
        if interrupted() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    write_outputs(args, (&out, gif.as_ref()), &made.run, &made.text)?;
    println!(
        "wrote {} in {:.1} s",
        out.path().display(),
        made.run.seconds
    );
    if let Some(verdict) = &made.verdict {
        println!("judge: {verdict}");
    }
    if made.run.stopped {
        let saved = format!("saved the last frame to {}", out.path().display());
        return Err(Interrupted(saved).into());
    }
    Ok(())
}

/// A finished run, the judge's verdict and the PNG's text chunks.
pub struct Made {
    pub run: Run,
    pub verdict: Option<String>,
    pub text: Vec<(&'static str, String)>,
}

/// One step of a run as its watcher sees it: how far it is, the guide's
/// loss, and the picture when one was taken.
pub struct Seen<'a> {
    pub done: usize,
    pub total: usize,
    pub loss: f32,
    pub frame: Option<&'a RgbImage>,
}

/// Told of every step; `Break` stops the run, which keeps its last picture.
pub type Watch<'a> = dyn FnMut(Seen) -> ControlFlow<()> + 'a;

/// What `generate` does between reading its flags and writing its files:
/// the models, the guide, the run (`watch` sees each step, with a picture
/// when `frames`), and the judge.
pub fn make(
    args: &GenerateArgs,
    frames: bool,
    watch: &mut Watch,
) -> anyhow::Result<Made> {
    let description = args.prompt.clone().unwrap_or_default();
    let prompts = match &args.prompt {
        Some(text) => Prompt::parse_all(text)?,
        None => Vec::new(),
    };
    let size = match args.generator() {
        GeneratorKind::Vq => vq::Config::default().image_size,
        GeneratorKind::Layers => layers::Config::default().image_size,
        _ => args.size,
    };
    let device = device::open(args.device)?;
    check_models(args, &device)?;
    let dtype = args.precision.dtype();
    let (clip, _) =
        crate::clip::open_clip(&args.clip, &args.clip_weights, dtype, &device)?;
    let init = args
        .init
        .as_deref()
        .map(|path| {
            load_picture(path, size, &device).with_context(|| {
                format!("cannot read --init picture {}", path.display())
            })
        })
        .transpose()?;
    let guide = guide_for(
        args,
        Guide::new(clip.as_ref(), &prompts)?,
        init.as_ref(),
        size,
        &device,
    )?;
    let settings = settings_for(args, clip.image_size())?;
    let run = run(
        args,
        &guide,
        &settings,
        init.as_ref(),
        size,
        &device,
        frames,
        watch,
    )?;
    let verdict = judge(&prompts, &run.image);
    let text = png_text(args, &description, &settings, &run, verdict.as_deref());
    Ok(Made { run, verdict, text })
}

/// Flags about models that the chosen ones cannot use are refused, not ignored.
fn check_models(args: &GenerateArgs, device: &Device) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.vq_weights.is_none() || args.generator() == GeneratorKind::Vq,
        "--vq-weights is for --generator vq; {} has no VQ decoder",
        args.generator()
    );
    anyhow::ensure!(
        args.vqgan.is_none() || args.generator() == GeneratorKind::Vqgan,
        "--vqgan is for --generator vqgan, not {}",
        args.generator()
    );
    let biggan = args.generator() == GeneratorKind::Biggan;
    anyhow::ensure!(
        (args.biggan.is_none() && args.max_classes.is_none()) || biggan,
        "--biggan and --max-classes are for --generator biggan, not {}",
        args.generator()
    );
    let real_clip = !matches!(args.clip.as_str(), "mini" | "mini-ensemble");
    anyhow::ensure!(
        args.precision == Precision::F32
            || real_clip
            || biggan
            || args.generator() == GeneratorKind::Vqgan,
        "--precision is for the real models (--generator vqgan or biggan, \
         --clip FOLDER); the course's own models run in f32"
    );
    anyhow::ensure!(
        args.start != Some(StartChoice::Retrieve)
            || args.generator() == GeneratorKind::Vq,
        "--start retrieve is the VQ decoder's retrieval of drawn scenes \
         (--generator vq); {} starts from noise",
        args.generator()
    );
    anyhow::ensure!(
        args.bank.is_none()
            || (args.generator() == GeneratorKind::Vq
                && (args.retrieves() || args.init.is_some())),
        "--bank chooses the drawn scenes of --start retrieve (with --generator \
         vq); without it, generate starts from noise"
    );
    anyhow::ensure!(
        !(device.is_cpu() && args.precision == Precision::Bf16),
        "--precision bf16 needs a GPU: candle's CPU matrix product has no bf16 (use f16 or f32)"
    );
    Ok(())
}

/// The guide with the image prompts and, with --init, its anchor.
fn guide_for<'a>(
    args: &GenerateArgs,
    mut guide: Guide<'a>,
    init: Option<&Tensor>,
    size: usize,
    device: &Device,
) -> anyhow::Result<Guide<'a>> {
    for source in &args.image_prompt {
        let (label, picture, weight) = image_prompt(source, size, device)?;
        guide = guide.with_image_prompt(&label, &picture, weight)?;
    }
    for &(seed, weight) in &args.noise_prompt {
        guide = guide.with_noise_prompt(seed, weight)?;
    }
    anyhow::ensure!(
        args.init_weight.is_finite() && args.init_weight >= 0.0,
        "--init-weight must be a number ≥ 0, got {}",
        args.init_weight
    );
    if let (Some(init), true) = (init, args.init_weight > 0.0) {
        let keep = match args.keep {
            KeepChoice::Layout => Keep::Layout,
            KeepChoice::Pixels => Keep::Pixels,
        };
        guide = guide.anchored(init, keep, args.init_weight);
    }
    Ok(guide)
}

/// The generator's presets, changed by the flags given.
fn settings_for(args: &GenerateArgs, clip_size: usize) -> anyhow::Result<Settings> {
    let mut settings = args.generator().settings(clip_size);
    settings.steps = args.steps.unwrap_or(settings.steps);
    settings.learning_rate = args.lr.unwrap_or(settings.learning_rate);
    settings.seed = args.seed;
    if matches!(args.generator(), GeneratorKind::Vq | GeneratorKind::Layers) {
        settings.restarts = args.restarts.unwrap_or(settings.restarts);
    }
    anyhow::ensure!(
        args.generator() != GeneratorKind::Layers || args.lr.is_none(),
        "--lr is for generators that take gradient steps; layers is searched"
    );
    if args.cutouts == 0 {
        anyhow::ensure!(
            args.resampling.is_none() && !args.distort,
            "--resampling and --distort change the views, and --cutouts 0 has none"
        );
        settings.cutouts = None;
    } else if let Some(cutouts) = settings.cutouts.as_mut() {
        cutouts.count = args.cutouts;
        cutouts.resampling = args.resampling.unwrap_or(cutouts.resampling);
        cutouts.distortions = args.distort.then(Distortions::nerdyrodent);
    }
    anyhow::ensure!(
        settings.steps > 0 && settings.restarts > 0,
        "--steps and --restarts must be positive"
    );
    anyhow::ensure!(
        settings.learning_rate.is_finite() && settings.learning_rate > 0.0,
        "--lr must be a positive number"
    );
    Ok(settings)
}

/// What a run left: the picture, whether its watcher stopped it, and its
/// frames.
pub struct Run {
    pub image: RgbImage,
    pub stopped: bool,
    pub frames: Vec<RgbImage>,
    pub seconds: f32,
}

/// One step of any generator, as `run` hears it.
type OnStep<'a> =
    dyn FnMut(usize, usize, f32, &dyn Generator) -> ControlFlow<()> + 'a;

/// Generates, telling `watch` of each step (with a picture every twentieth
/// of the steps when `frames`); when it says stop, the last picture is kept.
#[allow(clippy::too_many_arguments)]
fn run(
    args: &GenerateArgs,
    guide: &Guide,
    settings: &Settings,
    init: Option<&Tensor>,
    size: usize,
    device: &Device,
    frames: bool,
    watch: &mut Watch,
) -> anyhow::Result<Run> {
    if args.generator() == GeneratorKind::Layers {
        anyhow::ensure!(
            init.is_none(),
            "--init works with --generator vq, vqgan or pixels"
        );
        return run_layers(frames, guide, settings, device, watch);
    }
    let total = settings.steps * settings.restarts;
    let frame_every = (settings.steps / 20).max(1);
    let mut recorded = Vec::new();
    let started = Instant::now();
    let mut on_step =
        |restart: usize, step: usize, loss: f32, generator: &dyn Generator| {
            let frame = (frames && step % frame_every == 0)
                .then(|| snapshot(generator).ok())
                .flatten();
            let done = restart * settings.steps + step + 1;
            let flow = watch(Seen {
                done,
                total,
                loss,
                frame: frame.as_ref(),
            });
            recorded.extend(frame);
            flow
        };
    let (picture, stopped) = match args.generator() {
        GeneratorKind::Vq => {
            run_vq(args, guide, settings, init, device, &mut on_step)?
        }
        GeneratorKind::Vqgan => {
            run_vqgan(args, guide, settings, init, size, device, &mut on_step)?
        }
        GeneratorKind::Biggan => {
            run_biggan(args, guide, settings, init, device, &mut on_step)?
        }
        kind => run_free(kind, guide, settings, init, size, device, &mut on_step)?,
    };
    let image =
        tensor_to_image(&picture.to_dtype(candle_core::DType::F32)?.get(0)?)?;
    Ok(Run {
        image,
        stopped,
        frames: recorded,
        seconds: started.elapsed().as_secs_f32(),
    })
}

/// The layered generator, from noise: the guide's search over its latents.
/// `watch` sees every latent a climb reaches, live; the frames kept are the
/// kept start and each change.
fn run_layers(
    frames: bool,
    guide: &Guide,
    settings: &Settings,
    device: &Device,
    watch: &mut Watch,
) -> anyhow::Result<Run> {
    let started = Instant::now();
    let generator = LayeredGenerator::learn(&layers::Config::default(), device)?;
    let search_settings = SearchSettings {
        starts: settings.restarts,
        rounds: settings.steps,
        seed: settings.seed,
        ..SearchSettings::default()
    };
    let total = settings.restarts * (settings.steps + 1);
    let (mut done, mut stopped) = (0, false);
    let found = layers::search_watched(
        &generator,
        guide,
        &search_settings,
        &mut |latent, loss| {
            done += 1;
            let frame = match frames {
                true => match picture_of(&generator, latent) {
                    Ok(frame) => Some(frame),
                    Err(_) => return ControlFlow::Break(()),
                },
                false => None,
            };
            let flow = watch(Seen {
                done: done.min(total),
                total,
                loss,
                frame: frame.as_ref(),
            });
            stopped |= flow.is_break();
            flow
        },
    )?;
    let mut kept = Vec::new();
    if frames {
        let path: Vec<Vec<f32>> =
            found.path.iter().map(|(z, _)| z.clone()).collect();
        kept = batch_to_images(&generator.decode_rows(&path)?)?;
    }
    Ok(Run {
        image: tensor_to_image(&found.picture.get(0)?)?,
        stopped,
        frames: kept,
        seconds: started.elapsed().as_secs_f32(),
    })
}

/// The layered generator's picture of one latent.
fn picture_of(
    generator: &LayeredGenerator,
    latent: &[f32],
) -> anyhow::Result<RgbImage> {
    let picture = generator.decode_rows(&[latent.to_vec()])?;
    tensor_to_image(&picture.get(0)?)
}

/// The VQ decoder: from random codes, from the bank scenes the guide ranks
/// best (--start retrieve, and editing's default), or from the --init
/// picture's own codes.
fn run_vq(
    args: &GenerateArgs,
    guide: &Guide,
    settings: &Settings,
    init: Option<&Tensor>,
    device: &Device,
    on_step: &mut OnStep,
) -> anyhow::Result<(Tensor, bool)> {
    let model = match &args.vq_weights {
        None => VqModel::shipped(device)?,
        Some(path) => VqModel::load(path, &vq::Config::default(), device)?,
    };
    let bank;
    let start = match init {
        _ if args.retrieves() => {
            let size = vq::Config::default().image_size;
            bank = Bank::new(
                args.bank.unwrap_or(DEFAULT_BANK),
                size,
                BANK_SEED.wrapping_add(args.seed),
                device,
            )?;
            Start::Bank(&bank)
        }
        Some(picture) => Start::Picture(picture),
        None => Start::Random,
    };
    let outcome = guided::generate(guide, &model, start, settings, |s| {
        on_step(s.restart, s.step, s.loss, s.generator)
    })?;
    Ok((outcome.picture, outcome.interrupted))
}

/// A generator without a prior, from noise or (raw pixels) from --init.
fn run_free(
    kind: GeneratorKind,
    guide: &Guide,
    settings: &Settings,
    init: Option<&Tensor>,
    size: usize,
    device: &Device,
    on_step: &mut OnStep,
) -> anyhow::Result<(Tensor, bool)> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(settings.seed);
    let generator: Box<dyn Generator> = match (kind, init) {
        (GeneratorKind::Pixels, Some(picture)) => {
            Box::new(RawPixels::from_picture(picture)?)
        }
        (_, Some(_)) => {
            anyhow::bail!("--init works with --generator vq, vqgan or pixels")
        }
        (kind, None) => kind.fresh(size, &mut rng, device)?,
    };
    steer(generator.as_ref(), guide, settings, on_step)
}

/// VQGAN+CLIP: a taming VQGAN from `--vqgan DIR`, from random codes or the
/// encoding of --init.
fn run_vqgan(
    args: &GenerateArgs,
    guide: &Guide,
    settings: &Settings,
    init: Option<&Tensor>,
    size: usize,
    device: &Device,
    on_step: &mut OnStep,
) -> anyhow::Result<(Tensor, bool)> {
    let folder = args.vqgan.as_deref().context(
        "--generator vqgan needs --vqgan DIR: a folder with model.yaml and \
         last.ckpt (or model.safetensors)",
    )?;
    let model = VqGan::from_folder_in(folder, args.precision.dtype(), device)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(settings.seed);
    let generator = match init {
        Some(picture) => VqganGenerator::from_picture(&model, picture)?,
        None => VqganGenerator::random(&model, size, &mut rng)?,
    };
    steer(&generator, guide, settings, on_step)
}

/// Big Sleep: BigGAN-deep from `--biggan DIR`, its latents moved by Big
/// Sleep's loop; the frames and the result are its moving average's.
fn run_biggan(
    args: &GenerateArgs,
    guide: &Guide,
    settings: &Settings,
    init: Option<&Tensor>,
    device: &Device,
    on_step: &mut OnStep,
) -> anyhow::Result<(Tensor, bool)> {
    anyhow::ensure!(
        init.is_none(),
        "--init works with --generator vq, vqgan or pixels; Big Sleep starts from noise"
    );
    let folder = args.biggan.as_deref().context(
        "--generator biggan needs --biggan DIR: a folder with config.json and \
         pytorch_model.bin (or model.safetensors)",
    )?;
    let model = BigGan::from_folder_in(folder, args.precision.dtype(), device)?;
    let cutouts = settings
        .cutouts
        .clone()
        .context("Big Sleep's guide sees cutouts: --cutouts must be at least 1")?;
    let cfg = BigSleepConfig {
        steps: settings.steps,
        learning_rate: settings.learning_rate,
        cutouts,
        max_classes: args.max_classes,
        seed: settings.seed,
        ..BigSleepConfig::new(0)
    };
    let mut sleep = BigSleep::new(&model, &cfg)?;
    let mut interrupted = false;
    dream(&mut sleep, guide, &cfg, |step, loss, sleep| {
        let flow = on_step(0, step, loss, &sleep.averaged());
        interrupted |= flow.is_break();
        flow
    })?;
    Ok((sleep.averaged_picture()?.detach(), interrupted))
}

/// Guidance of one generator; its last picture, and whether Ctrl-C stopped it.
fn steer(
    generator: &dyn Generator,
    guide: &Guide,
    settings: &Settings,
    on_step: &mut OnStep,
) -> anyhow::Result<(Tensor, bool)> {
    let mut interrupted = false;
    guide.run(
        generator,
        &settings.guide_config(settings.seed),
        |step, loss| {
            let flow = on_step(0, step, loss, generator);
            interrupted |= flow.is_break();
            flow
        },
    )?;
    Ok((generator.render()?.detach(), interrupted))
}

/// What the judge says of the picture, for the first prompt that asks for
/// something; said out loud when the judge cannot read that prompt, so that
/// a missing verdict is never mistaken for a silent pass.
pub fn judge(prompts: &[Prompt], image: &RgbImage) -> Option<String> {
    let asked = prompts.iter().find(|p| p.weight > 0.0)?;
    Some(match Request::parse(&asked.text) {
        None => format!(
            "? the judge cannot check this prompt: it reads one or two objects \
             (\"a small red circle at the top left\", \"a red circle above a blue star\"), \
             not {}",
            clip_art::basics::preview(&asked.text)
        ),
        Some(request) => match request.verdict(&judge_scene(image)) {
            Ok(()) => "✓ the judge finds what the prompt asks for".to_string(),
            Err(reason) => format!("✗ {reason}"),
        },
    })
}

/// The PNG's text chunks: the prompt, the settings and the verdict.
fn png_text(
    args: &GenerateArgs,
    description: &str,
    settings: &Settings,
    run: &Run,
    verdict: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut text = vec![
        (
            "Software",
            format!("clip-art {}", env!("CARGO_PKG_VERSION")),
        ),
        ("Description", description.to_string()),
        ("clip-art settings", settings_text(args, settings)),
    ];
    if let Some(verdict) = verdict {
        text.push(("clip-art judge", verdict.to_string()));
    }
    if run.stopped {
        text.push((
            "clip-art interrupted",
            "stopped before the end; this is the last frame".into(),
        ));
    }
    text
}

/// The PNG with its text chunks, and the GIF.
pub fn write_outputs(
    args: &GenerateArgs,
    (out, gif): (&OutputFile, Option<&OutputFile>),
    run: &Run,
    text: &[(&str, String)],
) -> anyhow::Result<()> {
    let shown = Picture(run.image.clone()).scaled(args.scale);
    out.write(&png_with_text(&shown.0, text)?)?;
    if let Some(gif) = gif {
        let enlarged: Vec<RgbImage> = run
            .frames
            .iter()
            .chain([&run.image])
            .map(|f| Picture(f.clone()).scaled(args.scale).0)
            .collect();
        gif.write(&gif_bytes(&enlarged, 100)?)?;
        println!("wrote {} ({} frames)", gif.path().display(), enlarged.len());
    }
    Ok(())
}

/// Every setting of the run, for the PNG's text chunk.
fn settings_text(args: &GenerateArgs, settings: &Settings) -> String {
    if args.generator() == GeneratorKind::Layers {
        return format!(
            "generator=Layers samples={} starts={} rounds={} seed={} clip={} image_prompts={:?} noise_prompts={:?}",
            SearchSettings::default().samples,
            settings.restarts,
            settings.steps,
            args.seed,
            args.clip,
            args.image_prompt,
            args.noise_prompt,
        );
    }
    format!(
        "generator={:?}{}{}{} steps={} lr={} restarts={} cutouts={}{} seed={} clip={} init={} keep={:?} init_weight={} image_prompts={:?}{}{}{}",
        args.generator(),
        args.vqgan
            .as_ref()
            .map_or(String::new(), |p| format!(" vqgan={}", p.display())),
        args.biggan.as_ref().map_or(String::new(), |p| format!(
            " biggan={} max_classes={}",
            p.display(),
            args.max_classes
                .map_or("none (sigmoid)".to_string(), |k| k.to_string())
        )),
        match args.precision {
            Precision::F32 => String::new(),
            other => format!(" precision={other:?}"),
        },
        settings.steps,
        settings.learning_rate,
        settings.restarts,
        args.cutouts,
        match args.generator() {
            GeneratorKind::Vq if args.retrieves() =>
                format!(" start=retrieve bank={}", args.bank.unwrap_or(DEFAULT_BANK)),
            GeneratorKind::Vq if args.init.is_some() => " start=init".into(),
            _ => " start=noise".into(),
        },
        args.seed,
        args.clip,
        args.init
            .as_ref()
            .map_or("none".to_string(), |p| p.display().to_string()),
        args.keep,
        args.init_weight,
        args.image_prompt,
        match args.noise_prompt.as_slice() {
            [] => String::new(),
            noise => format!(" noise_prompts={noise:?}"),
        },
        args.resampling
            .map_or(String::new(), |r| format!(" resampling={r:?}")),
        if args.distort {
            " distort=nerdyrodent"
        } else {
            ""
        },
    )
}

/// An image prompt `PATH` or `PATH:weight`, loaded at `size`×`size`.
fn image_prompt(
    source: &str,
    size: usize,
    device: &Device,
) -> anyhow::Result<(String, Tensor, f32)> {
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
fn load_picture(
    path: &Path,
    size: usize,
    device: &Device,
) -> anyhow::Result<Tensor> {
    let image = load_rgb(path)?;
    let image = image::imageops::resize(
        &image,
        size as u32,
        size as u32,
        image::imageops::FilterType::Triangle,
    );
    Ok(images_to_batch(&[image], device)?)
}

/// Where the picture (--out, or a name made from the prompt) and the GIF go,
/// checked before any work: writable, different, and not replacing a file
/// without --force.
fn outputs(
    args: &GenerateArgs,
    description: &str,
) -> anyhow::Result<(OutputFile, Option<OutputFile>)> {
    let out = args.out.clone().unwrap_or_else(|| {
        default_output(if description.is_empty() {
            "image prompt"
        } else {
            description
        })
    });
    let existing = if args.force {
        Existing::Replace
    } else {
        Existing::Keep
    };
    let paths: Vec<&Path> = [Some(out.as_path()), args.gif.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let mut checked = check_all(&paths, existing)?.into_iter();
    Ok((checked.next().expect("the PNG"), checked.next()))
}

/// `out/a-red-circle-above-a-blue-square.png` for that prompt.
fn default_output(prompt: &str) -> PathBuf {
    Path::new("out").join(format!("{}.png", name_from_text(prompt, "generated")))
}

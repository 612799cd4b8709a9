//! Chapters 6–7's measurements: generation and editing, graded by the judge.
//! The library measures ([`clip_art::eval`]); these commands write the files.

use std::path::PathBuf;

use clip_art::clip::Clip;
use clip_art::clip::mini::{self, MiniClip, shipped_ensemble, shipped_robust};
use clip_art::eval::editing::edit_report as measure_editing;
use clip_art::eval::from_noise::{from_noise_report, layered_samples};
use clip_art::eval::generation::generate_report as measure_generation;
use clip_art::eval::nada::{
    CIRCLE_TO_SQUARE, NADA_SAMPLES, NadaRun, RED_TO_BLUE,
    nada_report as measure_nada,
};
use clip_art::eval::robust::robust_report as measure_robustness;
use clip_art::guide::generate::{BankKind, DEFAULT_BANK, Settings};
use clip_art::guide::layers::{self, LayeredGenerator};
use clip_art::guide::nada::{Freedom, NadaSettings};
use clip_art::guide::prior::ScenePrior;
use clip_art::guide::vq::VqModel;
use clip_art::nn::device::{self, DeviceChoice};
use clip_art::viz::picture::Picture;

use crate::clip::mini_clips;
use crate::output::{Bars, check_outputs, save, write_text};

#[derive(clap::Args)]
pub struct GenerateReportArgs {
    /// Test prompts per kind (four kinds) for the default method (from noise)
    /// and for retrieval (1–10,000).
    #[arg(long, default_value_t = 30, value_parser = crate::limits::count)]
    pub count: usize,
    /// Test prompts per kind for each other method of the ablation, 0–1,000
    /// (0: skip it).
    #[arg(long, default_value_t = 10, value_parser = crate::limits::ablation_count)]
    pub ablation_count: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Settings of the retrieval row, which the ablation changes (as
    /// `generate --generator vq`'s flags, with their bounds).
    #[arg(long, value_parser = crate::limits::guidance_steps)]
    pub steps: Option<usize>,
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long, value_parser = crate::limits::restarts)]
    pub restarts: Option<usize>,
    /// Views CLIP sees per step, 0–128; 0 shows CLIP the whole picture.
    #[arg(long, value_parser = crate::limits::cutouts)]
    pub cutouts: Option<usize>,
    /// Drawn scenes CLIP ranks to choose the starts: `every-kind` or a
    /// number of random scenes.
    #[arg(long, default_value_t = DEFAULT_BANK)]
    pub bank: BankKind,
    /// The guiding mini-CLIP: a mini-clip.safetensors saved by train-clip,
    /// or several that guide together (default: the three shipped ones).
    #[arg(long)]
    pub weights: Vec<PathBuf>,
    /// auto, cpu, cuda or metal.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// Folder for the picture of every prompt and verdict.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
}

#[derive(clap::Args)]
pub struct NoiseReportArgs {
    /// Test prompts per kind (four kinds), 1–10,000.
    #[arg(long, default_value_t = 30, value_parser = crate::limits::count)]
    pub count: usize,
    /// Chooses the test prompts as generate-report's seed does.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// auto, cpu, cuda or metal.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// Folder for the tables, the pictures and every verdict.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
}

#[derive(clap::Args)]
pub struct RobustReportArgs {
    /// Test prompts per kind (four kinds) for the layered generator, 1–10,000.
    #[arg(long, default_value_t = 30, value_parser = crate::limits::count)]
    pub count: usize,
    /// Test prompts per kind for raw pixels (slower), 1–10,000.
    #[arg(long, default_value_t = 5, value_parser = crate::limits::count)]
    pub pixel_count: usize,
    /// Chooses the test prompts as generate-report's seed does.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// auto, cpu, cuda or metal.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// Folder for the table and the pictures.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
}

#[derive(clap::Args)]
pub struct NadaReportArgs {
    /// N(0, 1) samples the judge reads from each fine-tuned copy, 1–10,000.
    #[arg(long, default_value_t = NADA_SAMPLES, value_parser = crate::limits::count)]
    pub count: usize,
    /// Steps of each fine-tuning, 1–10,000.
    #[arg(long, default_value_t = NadaSettings::default().steps, value_parser = crate::limits::guidance_steps)]
    pub steps: usize,
    /// Draws the judged samples.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// auto, cpu, cuda or metal.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// Folder for the table and the pictures.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
}

#[derive(clap::Args)]
pub struct EditReportArgs {
    /// Edits (and image prompts) per method (1–10,000).
    #[arg(long, default_value_t = 20, value_parser = crate::limits::count)]
    pub count: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// auto, cpu, cuda or metal.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// Folder for the tables, the before/after pictures and every verdict.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
}

/// `clip-art generate-report`: chapter 6's judged table, its targets, the
/// pictures of the default method (from noise) and every verdict.
pub fn generate_report(args: &GenerateReportArgs) -> anyhow::Result<()> {
    let files = [
        "generated.png",
        "generated.txt",
        "generate-report.md",
        "generate-targets.md",
    ];
    check_outputs(&args.out, &files)?;
    let mut settings = Settings::new(mini::Config::default().image_size);
    settings.steps = args.steps.unwrap_or(settings.steps);
    settings.learning_rate = args.lr.unwrap_or(settings.learning_rate);
    settings.restarts = args.restarts.unwrap_or(settings.restarts);
    match (args.cutouts, settings.cutouts.as_mut()) {
        (Some(0), _) => settings.cutouts = None,
        (Some(count), Some(views)) => views.count = count,
        _ => {}
    }
    let device = device::open(args.device)?;
    // The three shipped mini-CLIPs guide, or those saved by `train-clip`.
    let clip: Box<dyn Clip> = if args.weights.is_empty() {
        Box::new(shipped_ensemble(&device)?)
    } else {
        mini_clips(&args.weights, &device)?
    };
    let report = measure_generation(
        clip.as_ref(),
        &settings,
        args.bank,
        args.count,
        args.ablation_count,
        args.seed,
        &Bars::default(),
    )?;
    let out = &args.out;
    save(&report.grid()?, &out.join(files[0]))?;
    write_text(&out.join(files[1]), &report.verdicts())?;
    write_text(&out.join(files[2]), &report.table.to_string())?;
    let targets = report.targets().to_string();
    println!("{targets}");
    write_text(&out.join(files[3]), &targets)
}

/// The N(0, 1) samples the judge grades in `noise-report`.
const LAYERED_SAMPLES: usize = 400;

/// `clip-art noise-report`: the layered generator's samples and chapter 6's
/// table of generation from noise, every picture of the default search and
/// every verdict.
pub fn noise_report(args: &NoiseReportArgs) -> anyhow::Result<()> {
    let out = &args.out;
    let files = [
        "layered-samples.png",
        "layered-samples.md",
        "from-noise.png",
        "from-noise.txt",
        "noise-report.md",
    ];
    check_outputs(out, &files)?;
    let device = device::open(args.device)?;
    let generator = LayeredGenerator::learn(&layers::Config::default(), &device)?;
    let (samples, picture) =
        layered_samples(&generator, LAYERED_SAMPLES, args.seed)?;
    eprintln!("{samples}");
    let clip = shipped_ensemble(&device)?;
    let prior = ScenePrior::shipped(&device)?;
    let report = from_noise_report(
        &clip,
        &generator,
        &prior,
        args.count,
        args.seed,
        &Bars::default(),
    )?;
    save(&picture, &out.join(files[0]))?;
    write_text(&out.join(files[1]), &samples.to_string())?;
    save(&report.grid()?, &out.join(files[2]))?;
    write_text(&out.join(files[3]), &report.verdicts())?;
    write_text(&out.join(files[4]), &report.table.to_string())
}

/// `clip-art robust-report`: mini-CLIP against the robust mini-CLIPs, each
/// guiding raw pixels and the layered generator, judged.
pub fn robust_report(args: &RobustReportArgs) -> anyhow::Result<()> {
    let out = &args.out;
    let files = ["robust-guide.png", "robust-report.md"];
    check_outputs(out, &files)?;
    let device = device::open(args.device)?;
    let standard = MiniClip::shipped(&device)?;
    let (robust2, robust8) =
        (shipped_robust(2, &device)?, shipped_robust(8, &device)?);
    let report = measure_robustness(
        &[
            ("mini-CLIP", &standard),
            ("robust mini-CLIP (2/255)", &robust2),
            ("robust mini-CLIP (8/255)", &robust8),
        ],
        args.count,
        args.pixel_count,
        args.seed,
        &Bars::default(),
    )?;
    save(&report.pictures, &out.join(files[0]))?;
    write_text(&out.join(files[1]), &report.table.to_string())
}

/// `clip-art nada-report`: StyleGAN-NADA's fine-tuning of the layered
/// generator by each guide, judged.
pub fn nada_report(args: &NadaReportArgs) -> anyhow::Result<()> {
    let out = &args.out;
    let files = ["nada.png", "nada-report.md"];
    check_outputs(out, &files)?;
    let device = device::open(args.device)?;
    let generator = LayeredGenerator::learn(&layers::Config::default(), &device)?;
    let (ensemble, robust8) =
        (shipped_ensemble(&device)?, shipped_robust(8, &device)?);
    let settings = NadaSettings {
        steps: args.steps,
        ..NadaSettings::default()
    };
    let (ensemble, robust) = (
        ("three mini-CLIPs", &ensemble as &dyn Clip),
        ("robust mini-CLIP (8/255)", &robust8 as &dyn Clip),
    );
    // The default first (chapter 6's target), then what changes it.
    let run = |guide, edit, guide_chooses, freedom| NadaRun {
        guide,
        edit,
        guide_chooses,
        freedom,
    };
    let runs = [
        run(ensemble, CIRCLE_TO_SQUARE, true, Freedom::Mixture),
        run(ensemble, CIRCLE_TO_SQUARE, false, Freedom::Mixture),
        run(ensemble, CIRCLE_TO_SQUARE, true, Freedom::Values),
        run(robust, CIRCLE_TO_SQUARE, true, Freedom::Mixture),
        run(ensemble, RED_TO_BLUE, true, Freedom::Mixture),
        run(ensemble, RED_TO_BLUE, true, Freedom::Values),
    ];
    let report = measure_nada(
        &runs,
        &generator,
        &settings,
        args.count,
        args.seed,
        &Bars::default(),
    )?;
    save(&report.pictures, &out.join(files[0]))?;
    write_text(&out.join(files[1]), &report.table.to_string())
}

/// `clip-art edit-report`: chapter 7's judged tables — editing by each
/// method, generation from image prompts, prompt modifiers.
pub fn edit_report(args: &EditReportArgs) -> anyhow::Result<()> {
    let out = &args.out;
    let files = [
        "edits.png",
        "image-prompts.png",
        "edits.txt",
        "edit-report.md",
    ];
    check_outputs(out, &files)?;
    let device = device::open(args.device)?;
    let clip = shipped_ensemble(&device)?;
    let vq = VqModel::shipped(&device)?;
    let report =
        measure_editing(&clip, &vq, args.count, args.seed, &Bars::default())?;
    save(
        &Picture::grid(&report.edits, 8)?.scaled(2),
        &out.join(files[0]),
    )?;
    save(
        &Picture::grid(&report.image_prompts, 8)?.scaled(2),
        &out.join(files[1]),
    )?;
    write_text(&out.join(files[2]), &report.verdicts)?;
    write_text(&out.join(files[3]), &report.markdown())
}

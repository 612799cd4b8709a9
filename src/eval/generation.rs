//! Generation measured by the judge: draw scenes the generator has never seen,
//! use one of their captions as the prompt, generate, and ask the independent
//! judge ([`crate::world::judge::scenes`]) whether the picture shows what the
//! prompt asks for. The guiding CLIP never grades its own work.

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::clip::Clip;
use crate::guide::engine::Guide;
use crate::guide::generate::{Bank, Settings, Start, generate};
use crate::guide::generators::{Fourier, Generator, PixelDraw, RawPixels, snapshot};
use crate::guide::prompts::Prompt;
use crate::guide::vq::VqModel;
use crate::world::judge::scenes::judge_scene;
use crate::world::requests::Request;
use crate::world::scenes::{Scene, Split};

/// The kinds of prompt the table reports separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// "a red circle", "a picture of a red circle".
    ColourShape,
    /// With a size and/or a position: "a small red circle at the top left".
    SizePosition,
    /// Two objects: "a red circle above a blue star", "… and …".
    TwoObjects,
    /// A colour–shape pair mini-CLIP never saw in training.
    HeldOutPair,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::ColourShape,
        Kind::SizePosition,
        Kind::TwoObjects,
        Kind::HeldOutPair,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::ColourShape => "colour + shape",
            Kind::SizePosition => "+ size / position",
            Kind::TwoObjects => "two objects (relation / and)",
            Kind::HeldOutPair => "held-out colour–shape pair",
        }
    }
}

/// `count` test prompts of each kind, from scenes drawn with `seed` (a seed
/// no training run or bank uses).
pub fn test_prompts(count_per_kind: usize, seed: u64) -> Vec<(Kind, String)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut prompts = Vec::new();
    for kind in Kind::ALL {
        let mut made = 0;
        while made < count_per_kind {
            let split = if kind == Kind::HeldOutPair {
                Split::HeldOut
            } else {
                Split::Train
            };
            let scene = Scene::random(split, &mut rng);
            let phrasings = scene.phrasings();
            let two = scene.objects.len() == 2;
            // Single-object phrasings: 0 "a X", 4 "a picture of a X" name only
            // colour and shape; the others add a size and/or a position.
            let wanted: Vec<usize> = match (kind, two) {
                (Kind::TwoObjects, true) => vec![0, 1, 2],
                (Kind::ColourShape | Kind::HeldOutPair, false) => vec![0, 4],
                (Kind::SizePosition, false) => vec![1, 2, 3, 5],
                _ => continue,
            };
            let pick = wanted[rng.random_range(0..wanted.len())];
            prompts.push((kind, phrasings[pick].clone()));
            made += 1;
        }
    }
    prompts
}

/// How a generator is set up for one row of the table.
#[derive(Debug, Clone, PartialEq)]
pub enum Method {
    /// The VQ decoder, started from the best bank scenes (the default).
    VqFromBank,
    /// The VQ decoder, started from random codes.
    VqFromRandomCodes,
    RawPixels,
    Fourier,
    PixelDraw,
}

impl Method {
    pub fn name(&self) -> &'static str {
        match self {
            Method::VqFromBank => "VQ decoder, start from the best bank scenes",
            Method::VqFromRandomCodes => "VQ decoder, start from random codes",
            Method::RawPixels => "raw pixels",
            Method::Fourier => "Fourier",
            Method::PixelDraw => "PixelDraw (16×16 cells)",
        }
    }
}

/// One generated picture and its grade.
#[derive(Debug, Clone)]
pub struct Trial {
    pub kind: Kind,
    pub prompt: String,
    pub picture: image::RgbImage,
    /// `Ok` or what the judge found wrong.
    pub verdict: Result<(), String>,
    /// The VQ decoder's restarts: whether the judge accepts each one's
    /// picture (CLIP chose `picture` among them). Empty for other methods.
    pub restarts_judged_right: Vec<bool>,
    pub seconds: f32,
}

impl Trial {
    /// The trial as if the judge had chosen among the restarts instead of
    /// CLIP: right when any restart's picture is. Compared with the trial
    /// itself, it shows how often the guide's own choice is what fails.
    pub fn judge_picks_restart(&self) -> Trial {
        let mut trial = self.clone();
        if self.restarts_judged_right.contains(&true) {
            trial.verdict = Ok(());
        }
        trial
    }
}

/// Generates a picture for every prompt with `method` and grades it.
pub fn run_trials(
    clip: &dyn Clip,
    vq: &VqModel,
    bank: &Bank,
    method: &Method,
    settings: &Settings,
    prompts: &[(Kind, String)],
    mut on_trial: impl FnMut(&Trial),
) -> anyhow::Result<Vec<Trial>> {
    let device = bank.pictures.device();
    let mut trials = Vec::new();
    for (i, (kind, text)) in prompts.iter().enumerate() {
        let started = Instant::now();
        let guide = Guide::new(clip, &[Prompt::parse(text, 0)?])?;
        let seed = settings.seed.wrapping_add(i as u64);
        let settings = Settings {
            seed,
            ..settings.clone()
        };
        let request = Request::parse(text).ok_or_else(|| {
            anyhow::anyhow!("test prompt {text:?} is not in the scenes' language")
        })?;
        let judged_right =
            |picture: &image::RgbImage| request.verdict(&judge_scene(picture)).is_ok();
        let mut restarts_judged_right = Vec::new();
        let picture = match method {
            Method::VqFromBank | Method::VqFromRandomCodes => {
                let start = if *method == Method::VqFromBank {
                    Start::Bank(bank)
                } else {
                    Start::Random
                };
                let outcome = generate(&guide, vq, start, &settings, |_| {
                    std::ops::ControlFlow::Continue(())
                })?;
                for picture in &outcome.restart_pictures {
                    restarts_judged_right.push(judged_right(
                        &crate::basics::pixels::tensor_to_image(&picture.get(0)?)?,
                    ));
                }
                crate::basics::pixels::tensor_to_image(&outcome.picture.get(0)?)?
            }
            other => {
                let size = vq.config.image_size;
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let generator: Box<dyn Generator> = match other {
                    Method::RawPixels => Box::new(RawPixels::new(size, &mut rng, device)?),
                    Method::Fourier => Box::new(Fourier::new(size, 16, &mut rng, device)?),
                    _ => Box::new(PixelDraw::new(size / 4, 4, None, &mut rng, device)?),
                };
                guide.run(generator.as_ref(), &settings.guide_config(seed), |_, _| {
                    std::ops::ControlFlow::Continue(())
                })?;
                snapshot(generator.as_ref())?
            }
        };
        let trial = Trial {
            kind: *kind,
            prompt: text.clone(),
            verdict: request.verdict(&judge_scene(&picture)),
            restarts_judged_right,
            picture,
            seconds: started.elapsed().as_secs_f32(),
        };
        on_trial(&trial);
        trials.push(trial);
    }
    Ok(trials)
}

/// Success rate per kind, overall, and the median time per picture.
pub fn summary_row(label: &str, trials: &[Trial]) -> String {
    let rate = |kind: Option<Kind>| {
        let chosen: Vec<&Trial> = trials
            .iter()
            .filter(|t| kind.is_none_or(|k| t.kind == k))
            .collect();
        if chosen.is_empty() {
            return "–".to_string();
        }
        let ok = chosen.iter().filter(|t| t.verdict.is_ok()).count();
        format!(
            "{:.0}% ({ok}/{})",
            100.0 * ok as f32 / chosen.len() as f32,
            chosen.len()
        )
    };
    let mut seconds: Vec<f32> = trials.iter().map(|t| t.seconds).collect();
    seconds.sort_by(f32::total_cmp);
    let median = seconds.get(seconds.len() / 2).copied().unwrap_or(0.0);
    let trained: Vec<Trial> = trials
        .iter()
        .filter(|t| t.kind != Kind::HeldOutPair)
        .cloned()
        .collect();
    let overall = {
        let ok = trained.iter().filter(|t| t.verdict.is_ok()).count();
        format!(
            "**{:.0}%** ({ok}/{})",
            100.0 * ok as f32 / trained.len().max(1) as f32,
            trained.len()
        )
    };
    format!(
        "| {label} | {} | {} | {} | {overall} | {} | {median:.1} s |",
        rate(Some(Kind::ColourShape)),
        rate(Some(Kind::SizePosition)),
        rate(Some(Kind::TwoObjects)),
        rate(Some(Kind::HeldOutPair)),
    )
}

/// The header of [`summary_row`]'s table.
pub fn summary_header() -> String {
    format!(
        "| method | {} | {} | {} | all trained-pair prompts | {} | median time |\n|---|---|---|---|---|---|---|",
        Kind::ColourShape.name(),
        Kind::SizePosition.name(),
        Kind::TwoObjects.name(),
        Kind::HeldOutPair.name()
    )
}

//! Generation from noise measured by the judge: are the layered generator's
//! N(0, 1) samples scenes, and how often does its search find what a test
//! prompt asks for — beside retrieval, which starts from drawn scenes.

use std::time::Instant;

use candle_core::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::generation::{
    GenerationReport, Method, TestPrompt, Trial, judge_prompt, run_trials,
    samples_table, summary_row, summary_table, test_prompts,
};
use super::table::Table;
use crate::basics::pixels::tensor_to_image;
use crate::clip::Clip;
use crate::guide::big_sleep::{BigSleepSettings, big_sleep};
use crate::guide::engine::Guide;
use crate::guide::generate::{BANK_SEED, Bank, BankKind, Settings};
use crate::guide::layers::{
    Found, GeneticSettings, LayeredGenerator, SearchSettings, genetic_search, search,
};
use crate::guide::prior::ScenePrior;
use crate::guide::prompts::Prompt;
use crate::guide::vq::VqModel;
use crate::nn::batch::batch_to_images;
use crate::nn::progress::{Progress, stop_if_interrupted};
use crate::viz::picture::Picture;

/// How many of `count` N(0, 1) samples of the layered generator the judge
/// accepts as scenes, and how many objects it sees in them. Also returns a
/// picture: the learned sprites above 16 samples.
pub fn layered_samples(
    generator: &LayeredGenerator,
    count: usize,
    seed: u64,
) -> anyhow::Result<(Table, Picture)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let samples =
        batch_to_images(&generator.decode(&generator.noise(count, &mut rng)?)?)?;
    let table = samples_table(&samples);
    let side = generator.config.image_size;
    let sprites = generator
        .sprites()?
        .repeat((1, 3, 1, 1))?
        .upsample_nearest2d(side, side)?;
    let mut shown = batch_to_images(&sprites)?;
    shown.extend(samples.into_iter().take(16));
    Ok((
        table,
        Picture::grid(&shown, generator.config.sprites)?.scaled(2),
    ))
}

/// How the guide looks through the layered generator's latents.
#[derive(Debug, Clone, PartialEq)]
pub enum Searcher {
    /// [`search`]: the best samples, then one attribute at a time.
    OneAttribute(SearchSettings),
    /// [`genetic_search`]: CLIP-GLaSS's genetic algorithm.
    Genetic(GeneticSettings),
}

impl Searcher {
    pub fn run(
        &self,
        generator: &LayeredGenerator,
        guide: &Guide,
    ) -> anyhow::Result<Found> {
        match self {
            Searcher::OneAttribute(settings) => search(generator, guide, settings),
            Searcher::Genetic(settings) => {
                genetic_search(generator, guide, settings)
            }
        }
    }
}

/// Generates from noise for every prompt with the layered generator and
/// `searcher`, and grades each picture.
pub fn layered_trials(
    clip: &dyn Clip,
    generator: &LayeredGenerator,
    searcher: &Searcher,
    prompts: &[TestPrompt],
    on_trial: impl FnMut(&Trial),
) -> anyhow::Result<Vec<Trial>> {
    judged_trials(clip, prompts, on_trial, |guide| {
        Ok(searcher.run(generator, guide)?.picture)
    })
}

/// Big Sleep's recipe on the scene prior for every prompt, graded.
pub fn big_sleep_trials(
    clip: &dyn Clip,
    prior: &ScenePrior,
    settings: &BigSleepSettings,
    prompts: &[TestPrompt],
    on_trial: impl FnMut(&Trial),
) -> anyhow::Result<Vec<Trial>> {
    judged_trials(clip, prompts, on_trial, |guide| {
        Ok(big_sleep(prior, guide, settings, clip.device())?.picture)
    })
}

/// For every prompt, a picture `[1, 3, s, s]` from `draw` (given the
/// prompt's guide), graded by the judge and timed.
fn judged_trials(
    clip: &dyn Clip,
    prompts: &[TestPrompt],
    mut on_trial: impl FnMut(&Trial),
    mut draw: impl FnMut(&Guide) -> anyhow::Result<candle_core::Tensor>,
) -> anyhow::Result<Vec<Trial>> {
    let mut trials = Vec::new();
    for prompt in prompts {
        stop_if_interrupted("the report was not written")?;
        let started = Instant::now();
        let guide = Guide::new(clip, &[Prompt::parse(&prompt.text, 0)?])?;
        let picture = tensor_to_image(&draw(&guide)?.get(0)?)?;
        let (verdict, judged) = judge_prompt(&prompt.text, &picture);
        let trial = Trial {
            kind: prompt.kind,
            prompt: prompt.text.clone(),
            unseen_frame: prompt.unseen_frame,
            verdict,
            judged,
            restarts_judged_right: Vec::new(),
            picture,
            seconds: started.elapsed().as_secs_f32(),
        };
        on_trial(&trial);
        trials.push(trial);
    }
    Ok(trials)
}

/// The searches the report compares: label and settings. The third is
/// the default.
fn searches() -> [(&'static str, Searcher); 5] {
    let default = SearchSettings::default();
    let with = |starts: usize, rounds: usize| {
        Searcher::OneAttribute(SearchSettings {
            starts,
            rounds,
            ..default.clone()
        })
    };
    [
        (
            "layered generator from noise: the guide's best of 256 samples",
            with(1, 0),
        ),
        (
            "… then one-attribute search from it",
            with(1, default.rounds),
        ),
        (
            "… search from the 4 best, the guide keeps the best (default)",
            Searcher::OneAttribute(default.clone()),
        ),
        (
            "… search from the 8 best, the guide keeps the best",
            with(8, default.rounds),
        ),
        (
            "… CLIP-GLaSS's genetic search (64 latents, 16 generations)",
            Searcher::Genetic(GeneticSettings::default()),
        ),
    ]
}

/// The judged table of generation from noise on `count` test prompts per
/// kind (the prompts of `generate-report` with the same seed), with
/// retrieval's row first as the contrast, the layered generator's searches,
/// and Big Sleep's recipe on the scene prior. Returns the default search's
/// trials.
pub fn from_noise_report(
    clip: &dyn Clip,
    generator: &LayeredGenerator,
    prior: &ScenePrior,
    count: usize,
    seed: u64,
    progress: &dyn Progress,
) -> anyhow::Result<GenerationReport> {
    let device: &Device = clip.device();
    let prompts = test_prompts(count, 1_000 + seed);
    let mut table = summary_table();
    progress.report(&table.header_markdown());
    let vq = VqModel::shipped(device)?;
    let bank =
        Bank::new(BankKind::EveryKind, vq.config.image_size, BANK_SEED, device)?;
    let label = "retrieval: VQ decoder from the best drawn scene of the bank";
    progress.begin("prompts", prompts.len());
    let settings = Settings::new(clip.image_size());
    let retrieved = run_trials(
        clip,
        &vq,
        &bank,
        &Method::VqFromBank,
        &settings,
        &prompts,
        |_| progress.advance(label),
    )?;
    progress.finish();
    table.push(summary_row(label, &retrieved));
    progress.report(&table.last_row_markdown());
    let mut default_trials = Vec::new();
    for (label, searcher) in searches() {
        progress.begin("prompts", prompts.len());
        let trials = layered_trials(clip, generator, &searcher, &prompts, |_| {
            progress.advance(label)
        })?;
        progress.finish();
        table.push(summary_row(label, &trials));
        progress.report(&table.last_row_markdown());
        if searcher == Searcher::OneAttribute(SearchSettings::default()) {
            default_trials = trials;
        }
    }
    let label = "Big Sleep's recipe on the scene prior: Adam on its latent, \
                 latent statistics, 16 cutouts, EMA (60 steps)";
    progress.begin("prompts", prompts.len());
    let settings = BigSleepSettings::new(clip.image_size());
    let trials = big_sleep_trials(clip, prior, &settings, &prompts, |_| {
        progress.advance(label)
    })?;
    progress.finish();
    table.push(summary_row(label, &trials));
    progress.report(&table.last_row_markdown());
    Ok(GenerationReport {
        table,
        trials: default_trials,
        nada: None,
    })
}

//! The robust guides measured by the judge: mini-CLIP and the same recipe
//! trained on adversarial pictures ([`crate::clip::robust`]), each guiding raw
//! pixels and the layered generator from noise, on the same test prompts.

use candle_core::Device;

use super::from_noise::{Searcher, layered_trials};
use super::generation::{
    Method, Trial, run_trials, summary_row, summary_table, test_prompts,
};
use super::table::Table;
use crate::clip::Clip;
use crate::guide::generate::{Bank, Settings};
use crate::guide::layers::{self, LayeredGenerator, SearchSettings};
use crate::guide::presets::GeneratorKind;
use crate::guide::vq::VqModel;
use crate::nn::progress::Progress;
use crate::viz::picture::Picture;

/// What `clip-art robust-report` measured: the judged table, and the first
/// eight prompts' pictures, one row per generator and guide.
pub struct RobustReport {
    pub table: Table,
    pub pictures: Picture,
}

/// Each guide (label, CLIP) steers raw pixels on `pixel_count` test prompts
/// per kind and the layered generator on `count` per kind (the prompts of
/// `generate-report` with the same seed).
pub fn robust_report(
    guides: &[(&str, &dyn Clip)],
    count: usize,
    pixel_count: usize,
    seed: u64,
    progress: &dyn Progress,
) -> anyhow::Result<RobustReport> {
    let Some((_, first)) = guides.first() else {
        anyhow::bail!("robust_report needs at least one guide");
    };
    let device: &Device = first.device();
    let generator = LayeredGenerator::learn(&layers::Config::default(), device)?;
    // Raw pixels start from noise: run_trials asks for a decoder and a bank
    // that they never use.
    let (vq, bank) = (VqModel::shipped(device)?, Bank::draw(1, 64, 0, device)?);
    let mut table = summary_table();
    progress.report(&table.header_markdown());
    let mut shown = Vec::new();
    let mut add = |label: String, trials: Vec<Trial>| {
        table.push(summary_row(&label, &trials));
        progress.report(&table.last_row_markdown());
        shown.extend(trials.into_iter().take(8).map(|t| t.picture));
    };
    let pixels = Method::Free(GeneratorKind::Pixels);
    for &(name, clip) in guides {
        let settings =
            GeneratorKind::Pixels.tuned(&Settings::new(clip.image_size()));
        let prompts = test_prompts(pixel_count, 1_000 + seed);
        let label = format!("raw pixels, guided by {name}");
        progress.begin("prompts", prompts.len());
        let trials =
            run_trials(clip, &vq, &bank, &pixels, &settings, &prompts, |_| {
                progress.advance(&label)
            })?;
        progress.finish();
        add(label, trials);
    }
    for &(name, clip) in guides {
        let prompts = test_prompts(count, 1_000 + seed);
        let label = format!("from noise: layered generator, searched by {name}");
        let searcher = Searcher::OneAttribute(SearchSettings::default());
        progress.begin("prompts", prompts.len());
        let trials = layered_trials(clip, &generator, &searcher, &prompts, |_| {
            progress.advance(&label)
        })?;
        progress.finish();
        add(label, trials);
    }
    Ok(RobustReport {
        table,
        pictures: Picture::grid(&shown, 8)?.scaled(2),
    })
}

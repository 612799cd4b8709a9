//! The command line's chapter-5 commands: train mini-CLIP, zero-shot a picture.

use std::path::{Path, PathBuf};

use anyhow::Context;
use candle_core::Device;

use clip_art::clip::Clip;
use clip_art::clip::ensemble::Ensemble;
use clip_art::clip::mini::{self, MiniClip};
use clip_art::clip::zero_shot::{self, Ranking};
use clip_art::models::autoencoder::save_weights;
use clip_art::viz::plot::{Series, line_chart, moving_average};

use super::{progress_bar, save, write_text};

/// Which CLIP guides or classifies: `mini` (the shipped mini-CLIP, or the
/// files given with `--weights`: several guide together), `mini-ensemble`
/// (the three shipped mini-CLIPs together), a folder with OpenAI's CLIP in
/// Hugging Face's layout, or `hub` (downloads `openai/clip-vit-base-patch32`;
/// needs the `hub` feature and a network). Also the default prompt template.
pub fn open_clip(
    choice: &str,
    weights: &[PathBuf],
    device: &Device,
) -> anyhow::Result<(Box<dyn Clip>, &'static str)> {
    use clip_art::clip::openai::vit::OpenAiClip;
    const PHOTO: &str = "a photo of a {}.";
    const PICTURE: &str = "a picture of a {}";
    if choice != "mini" {
        anyhow::ensure!(
            weights.is_empty(),
            "mini-CLIP weights were given, but --clip is {choice:?}: use --clip mini"
        );
    }
    match choice {
        "mini" => Ok((mini_clips(weights, device)?, PICTURE)),
        "mini-ensemble" => Ok((Box::new(mini::shipped_ensemble(device)?), PICTURE)),
        "hub" => open_from_hub(device).map(|clip| (clip, PHOTO)),
        folder => Ok((
            Box::new(OpenAiClip::from_folder(Path::new(folder), device)?),
            PHOTO,
        )),
    }
}

/// The shipped mini-CLIP, one saved by `train-clip`, or several of those
/// guiding together.
pub fn mini_clips(weights: &[PathBuf], device: &Device) -> anyhow::Result<Box<dyn Clip>> {
    Ok(match weights {
        [] => Box::new(MiniClip::shipped(device)?),
        [one] => Box::new(MiniClip::load(one, &mini::Config::default(), device)?),
        several => Box::new(Ensemble::new(
            several
                .iter()
                .map(|w| MiniClip::load(w, &mini::Config::default(), device))
                .collect::<anyhow::Result<Vec<_>>>()?,
        )?),
    })
}

#[cfg(feature = "hub")]
fn open_from_hub(device: &Device) -> anyhow::Result<Box<dyn Clip>> {
    let clip =
        clip_art::clip::openai::vit::OpenAiClip::from_hub("openai/clip-vit-base-patch32", device)?;
    Ok(Box::new(clip))
}

#[cfg(not(feature = "hub"))]
fn open_from_hub(_: &Device) -> anyhow::Result<Box<dyn Clip>> {
    anyhow::bail!(
        "this clip-art was built without the `hub` feature: rebuild with `--features hub`, \
         or download openai/clip-vit-base-patch32 yourself and pass its folder to --clip"
    )
}

/// Trains mini-CLIP with a progress bar, measures it, and saves the weights,
/// a record of the run and the loss/accuracy plot, named after the seed
/// ([`mini::file_stem`]).
pub fn train_clip(train: &mini::TrainConfig, device: Device, weights: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(weights)
        .with_context(|| format!("cannot create {}", weights.display()))?;
    let cfg = mini::Config::default();
    let bar = progress_bar("mini-CLIP", train.steps)?;
    let start = std::time::Instant::now();
    let (model, vars, reports) = mini::train(&cfg, train, &device, |step, report| {
        bar.set_position(step as u64 + 1);
        bar.set_message(format!(
            "loss {:.3}, in-batch accuracy {:.0}%",
            report.loss,
            100.0 * report.accuracy
        ));
    })?;
    bar.finish();
    let seconds = start.elapsed().as_secs_f32();
    let stem = mini::file_stem(train.seed);
    save_weights(&vars, &weights.join(format!("{stem}.safetensors")))?;
    let evaluation = zero_shot::evaluate(&model, 500, 1)?;
    let record = format!(
        "| model | steps × batch | learning rate | two-object scenes | seed | training time | final e^t |\n|---|---|---|---|---|---|---|\n\
         | mini-CLIP ({}×{} scenes, embedding {}) | {} × {} | {} → 0 (cosine) | {:.0}% | {} | {seconds:.0} s | {:.1} |\n\n{}",
        cfg.image_size,
        cfg.image_size,
        cfg.embedding,
        train.steps,
        train.batch_size,
        train.learning_rate,
        100.0 * train.two_objects,
        train.seed,
        model.logit_scale()?,
        evaluation.markdown()
    );
    write_text(&weights.join(format!("{stem}-training.md")), &record)?;
    println!("{record}");
    let losses: Vec<f32> = reports.iter().map(|r| r.loss).collect();
    let accuracy: Vec<f32> = reports.iter().map(|r| r.accuracy).collect();
    let (losses, accuracy) = (moving_average(&losses, 25), moving_average(&accuracy, 25));
    save(
        &line_chart(
            &format!(
                "mini-CLIP (seed {}): contrastive loss and in-batch accuracy",
                train.seed
            ),
            "step",
            "moving average of 25 steps",
            &[
                Series {
                    name: "loss",
                    values: &losses,
                },
                Series {
                    name: "accuracy (image → caption)",
                    values: &accuracy,
                },
            ],
        )?,
        &weights.join(format!("{stem}-loss.png")),
    )
}

/// Ranks `labels` for the picture in `path`.
pub fn zero_shot(
    clip: &dyn Clip,
    path: &Path,
    labels: &[String],
    templates: &[String],
) -> anyhow::Result<Ranking> {
    let image =
        image::open(path).with_context(|| format!("cannot read image {}", path.display()))?;
    let picture = clip.picture(&image)?;
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let templates: Vec<&str> = templates.iter().map(String::as_str).collect();
    Ranking::of(clip, &picture, &labels, &templates)
}

/// Chapter 5's figures from the shipped mini-CLIP: a similarity matrix of a
/// fresh batch, and the lecture's zero-shot display for two scenes.
pub fn book_figures(out: &Path) -> anyhow::Result<()> {
    use clip_art::clip::loss::l2_normalize;
    use clip_art::models::autoencoder::images_to_batch;
    use clip_art::viz::picture::Picture;
    use clip_art::world::scenes::{SceneBatch, Split};

    let device = Device::Cpu;
    let clip = MiniClip::shipped(&device)?;
    let size = clip.image_size() as u32;
    let batch = SceneBatch::draw(7, size, Split::Train, 5);
    let captions: Vec<&str> = batch.captions.iter().map(String::as_str).collect();
    let images = l2_normalize(&clip.image_embeddings(&images_to_batch(&batch.images, &device)?)?)?;
    let texts = l2_normalize(&clip.text_embeddings(&captions)?)?;
    let similarity = texts.matmul(&images.t()?)?.to_vec2::<f32>()?;
    save(
        &clip_art::viz::plot::similarity_matrix(&batch.images, &captions, &similarity)?,
        &out.join("similarity.png"),
    )?;

    let labels = zero_shot::colour_shape_labels();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let mut shown = Vec::new();
    let mut text = String::new();
    for (split, seed) in [(Split::Train, 11), (Split::HeldOut, 12)] {
        let (image, truth) = zero_shot::single_object_scene(split, size, seed);
        let picture = images_to_batch(std::slice::from_ref(&image), &device)?;
        let ranking = Ranking::of(&clip, &picture, &labels, &["a picture of a {}"])?;
        text.push_str(&ranking.display(&truth, 5));
        text.push('\n');
        shown.push(image);
    }
    write_text(&out.join("zero-shot.txt"), &text)?;
    save(
        &Picture::grid(&shown, 2)?.scaled(4),
        &out.join("zero-shot.png"),
    )?;
    let loss_plot = Path::new("weights/mini-clip-loss.png");
    std::fs::copy(loss_plot, out.join("mini-clip-loss.png")).with_context(|| {
        format!(
            "cannot copy {} (made by `clip-art train-clip`)",
            loss_plot.display()
        )
    })?;
    Ok(())
}

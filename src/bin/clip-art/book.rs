//! `clip-art book-figures`: every figure and measured number the book shows,
//! from the code itself.

use std::path::{Path, PathBuf};

use anyhow::Context;
use candle_core::Device;

use clip_art::clip::Clip;
use clip_art::clip::loss::l2_normalize;
use clip_art::clip::mini::MiniClip;
use clip_art::clip::zero_shot::{self, Ranking};
use clip_art::eval::faces::write_figures;
use clip_art::nn::batch::images_to_batch;
use clip_art::nn::device;
use clip_art::viz::picture::Picture;
use clip_art::world::scenes::{SceneBatch, Split};
use clip_art::world::shapes::{Shape, ShapeSpec};

use crate::basics::char_table;
use crate::faces::face_models;
use crate::output::{save, write_text};
use crate::shapes::{TrainingArgs, sample_grid, train_with_progress};

#[derive(clap::Args)]
pub struct BookFiguresArgs {
    #[command(flatten)]
    pub training: TrainingArgs,
    #[arg(long, default_value = "book/src/generated")]
    pub out: PathBuf,
}

pub fn book_figures(args: &BookFiguresArgs) -> anyhow::Result<()> {
    let out = &args.out;
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create {}", out.display()))?;
    chapter_1(out)?;
    chapter_2(&args.training, out)?;
    chapters_3_and_4(&args.training, out)?;
    chapter_5(out)?;
    chapter_6(out)
}

fn chapter_1(out: &Path) -> anyhow::Result<()> {
    write_text(&out.join("lukas.txt"), &char_table("LUKAS")?)?;
    let star = ShapeSpec {
        shape: Shape::Star,
        centre: (32.0, 32.0),
        radius: 26.0,
        colour: [250, 170, 40],
        background: [20, 20, 20],
    };
    save(
        &Picture::channel_planes(&star.draw(64))?.scaled(3),
        &out.join("channels.png"),
    )
}

fn chapter_2(args: &TrainingArgs, out: &Path) -> anyhow::Result<()> {
    save(
        &sample_grid(args.image_size, args.seed)?,
        &out.join("shapes.png"),
    )?;
    let (report, train) = train_with_progress(args)?;
    save(&report.loss_chart()?, &out.join("loss.png"))?;
    write_text(
        &out.join("classifier-measured.md"),
        &format!("{}\n", report.table(&train)),
    )
}

/// From the shipped models.
fn chapters_3_and_4(args: &TrainingArgs, out: &Path) -> anyhow::Result<()> {
    let device = device::open(args.device)?;
    let (autoencoder, vae) = face_models(None, &device)?;
    let tables = write_figures(&autoencoder, &vae, 300, 1, &device, out)?;
    write_text(&out.join("faces-models.md"), &tables.models)?;
    write_text(&out.join("faces-edits.md"), &tables.edits)?;
    copy_record("faces-loss.png", "train-faces", out)
}

/// Chapter 5's figures from the shipped mini-CLIP: a similarity matrix of a
/// fresh batch, and the lecture's zero-shot display for two scenes.
fn chapter_5(out: &Path) -> anyhow::Result<()> {
    let device = Device::Cpu;
    let clip = MiniClip::shipped(&device)?;
    let size = clip.image_size() as u32;
    let batch = SceneBatch::draw(7, size, Split::Train, 5);
    let captions: Vec<&str> = batch.captions.iter().map(String::as_str).collect();
    let images = l2_normalize(
        &clip.image_embeddings(&images_to_batch(&batch.images, &device)?)?,
    )?;
    let texts = l2_normalize(&clip.text_embeddings(&captions)?)?;
    let similarity = texts.matmul(&images.t()?)?.to_vec2::<f32>()?;
    save(
        &clip_art::viz::plot::similarity_matrix(
            &batch.images,
            &captions,
            &similarity,
        )?,
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
    copy_record("mini-clip-loss.png", "train-clip", out)
}

/// The VQ decoder's reconstructions and loss plot, as `train-vq` recorded
/// them, and the scene prior's samples, as `train-prior` did.
fn chapter_6(out: &Path) -> anyhow::Result<()> {
    copy_record("scenes-vq-reconstructions.png", "train-vq", out)?;
    copy_record("scenes-vq-loss.png", "train-vq", out)?;
    copy_record("scenes-prior-samples.png", "train-prior", out)
}

/// Copies `weights/NAME`, which `clip-art COMMAND` made, into `out`.
fn copy_record(name: &str, command: &str, out: &Path) -> anyhow::Result<()> {
    let from = Path::new("weights").join(name);
    std::fs::copy(&from, out.join(name)).with_context(|| {
        format!(
            "cannot copy {} (made by `clip-art {command}`)",
            from.display()
        )
    })?;
    Ok(())
}

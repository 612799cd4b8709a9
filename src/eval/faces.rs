//! The measurements and figures of chapters 3–4, all graded by the judge:
//! how good the judge is, how well the autoencoder and the VAE keep each
//! attribute, how often VAE samples are faces, and how well latent arithmetic
//! edits faces. `clip-art faces-report` prints them; the book and the notebooks
//! show the same tables.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;

use candle_core::{Device, Module};
use image::RgbImage;
use ndarray::Array1;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use super::table::percent;
use crate::models::autoencoder::Autoencoder;
use crate::models::latent::{self, decode, encode};
use crate::models::vae::Vae;
use crate::nn::batch::{batch_to_images, images_to_batch};
use crate::nn::progress::stop_if_interrupted;
use crate::viz::picture::Picture;
use crate::viz::plot::PointGroup;
use crate::world::faces::{Attribute, Face, FaceBatch};
use crate::world::judge::faces::{
    self as judge, Verdict, agreement, face_rate, judge_faces,
};

/// How an edit along one attribute direction went, as the judge saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct EditReport {
    pub attribute: Attribute,
    /// Faces edited.
    pub count: usize,
    /// Share whose edited attribute changed as intended: switched on for age and
    /// eyeglasses; moved at least half the intended shift for pose and expression.
    pub achieved: f32,
    /// Share whose other three lecture attributes the edit left as they were.
    pub kept: f32,
    /// Share still judged to be a face.
    pub faces: f32,
}

/// Which faces an edit along `attribute` applies to: those that can still
/// change (no glasses yet, young, pose or smile at or below 0).
pub fn edit_targets(attribute: Attribute, faces: &[Face]) -> Vec<usize> {
    (0..faces.len())
        .filter(|&i| faces[i].attribute(attribute) <= 0.0)
        .collect()
}

/// Adds `strength` × `direction` to the latent code of every face that does not
/// have the attribute yet (see [`edit_targets`]), decodes it with and without
/// the edit, and has the judge compare the two.
pub fn measure_edit(
    vae: &Vae,
    faces: &FaceBatch,
    attribute: Attribute,
    direction: &Array1<f32>,
    strength: f32,
    device: &Device,
) -> anyhow::Result<EditReport> {
    let images: Vec<RgbImage> = edit_targets(attribute, &faces.faces)
        .into_iter()
        .map(|i| faces.images[i].clone())
        .collect();
    let latents = encode(vae, &images, device)?;
    let before = judge_faces(&decode(vae, &latents, device)?);
    let after =
        judge_faces(&decode(vae, &(latents + &(direction * strength)), device)?);
    Ok(grade_edit(attribute, strength, &before, &after))
}

// ANCHOR: grade_edit
/// Grades an edit by comparing what the judge sees before (the plain
/// reconstruction) and after (the edited one). `shift` is the intended change
/// of a continuous attribute.
pub fn grade_edit(
    attribute: Attribute,
    shift: f32,
    before: &[Verdict],
    after: &[Verdict],
) -> EditReport {
    let count = before.len().max(1) as f32;
    let share = |test: &dyn Fn(&Verdict, &Verdict) -> bool| {
        before.iter().zip(after).filter(|(b, a)| test(b, a)).count() as f32 / count
    };
    let achieved = share(&|before, after| match attribute {
        Attribute::Age | Attribute::Eyeglasses => {
            after.face.attribute(attribute) == 1.0
        }
        Attribute::Pose | Attribute::Expression => {
            after.face.attribute(attribute) - before.face.attribute(attribute)
                >= 0.5 * shift
        }
    });
    let kept = share(&|before, after| {
        Attribute::ALL
            .iter()
            .filter(|&&other| other != attribute)
            .all(|&other| after.agrees(&before.face, other))
    });
    EditReport {
        attribute,
        count: before.len(),
        achieved,
        kept,
        faces: share(&|_, after| after.is_face()),
    }
}
// ANCHOR_END: grade_edit

/// One row of a quality table: how often each attribute survived.
#[derive(Debug, Clone, PartialEq)]
pub struct Quality {
    pub name: String,
    /// Agreement with the truth per attribute, in lecture order.
    pub attributes: [f32; 4],
    /// Share judged to be faces.
    pub faces: f32,
}

impl Quality {
    fn of(name: &str, verdicts: &[Verdict], truth: &[Face]) -> Quality {
        Quality {
            name: name.to_string(),
            attributes: Attribute::ALL.map(|a| agreement(verdicts, truth, a)),
            faces: face_rate(verdicts),
        }
    }
}

/// The judge's own accuracy on fresh renders, and the speeds of drawing and
/// judging.
#[derive(Debug, Clone)]
pub struct JudgeReport {
    pub quality: Quality,
    pub draws_per_second: f32,
    pub judged_per_second: f32,
}

pub fn judge_report(count: usize, size: u32, seed: u64) -> JudgeReport {
    let start = Instant::now();
    let batch = FaceBatch::draw(count, size, seed);
    let draws_per_second = count as f32 / start.elapsed().as_secs_f32();
    let start = Instant::now();
    let verdicts = judge_faces(&batch.images);
    let judged_per_second = count as f32 / start.elapsed().as_secs_f32();
    JudgeReport {
        quality: Quality::of("judge on fresh renders", &verdicts, &batch.faces),
        draws_per_second,
        judged_per_second,
    }
}

/// Reconstructions by the autoencoder and the VAE (its mean latent), and
/// samples of the VAE from N(0, 1).
pub fn model_report(
    autoencoder: &Autoencoder,
    vae: &Vae,
    count: usize,
    size: u32,
    seed: u64,
    device: &Device,
) -> anyhow::Result<(Vec<Quality>, f32)> {
    let batch = FaceBatch::draw(count, size, seed);
    let pictures = images_to_batch(&batch.images, device)?;
    let ae = batch_to_images(&autoencoder.forward(&pictures)?)?;
    let (mean, _) = vae.encode(&pictures)?;
    let vae_recon = batch_to_images(&vae.decode(&mean)?)?;
    let samples = batch_to_images(&vae.sample(
        count,
        &mut ChaCha8Rng::seed_from_u64(seed),
        device,
    )?)?;
    let rows = vec![
        Quality::of(
            "autoencoder reconstructions",
            &judge_faces(&ae),
            &batch.faces,
        ),
        Quality::of(
            "VAE reconstructions",
            &judge_faces(&vae_recon),
            &batch.faces,
        ),
    ];
    Ok((rows, face_rate(&judge_faces(&samples))))
}

/// How a direction was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    MeanDifference,
    LeastSquares,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::MeanDifference => "mean difference",
            Method::LeastSquares => "least squares",
        }
    }
}

/// The four attribute directions, found from `count` labelled faces.
pub fn directions(
    vae: &Vae,
    count: usize,
    size: u32,
    seed: u64,
    method: Method,
    device: &Device,
) -> anyhow::Result<Vec<Array1<f32>>> {
    let batch = FaceBatch::draw(count, size, seed);
    let latents = latent::encode(vae, &batch.images, device)?;
    Ok(match method {
        Method::MeanDifference => Attribute::ALL
            .iter()
            .map(|&a| {
                let has: Vec<bool> =
                    batch.attribute(a).iter().map(|&v| v > 0.0).collect();
                latent::mean_difference(&latents, &has)
            })
            .collect(),
        Method::LeastSquares => {
            let b = latent::least_squares_directions(
                &latents,
                &latent::attribute_matrix(&batch.faces),
            )?;
            b.rows().into_iter().map(|r| r.to_owned()).collect()
        }
    })
}

/// Mean differences of continuous attributes (pose, smile) compare the faces
/// above 0 with those below: on average 1 apart. Least-squares rows are per
/// unit already. Both therefore aim at a shift of `strength`.
pub fn edit_report(
    vae: &Vae,
    count: usize,
    size: u32,
    seed: u64,
    method: Method,
    strength: f32,
    device: &Device,
) -> anyhow::Result<Vec<EditReport>> {
    let found = directions(vae, count, size, seed, method, device)?;
    let test = FaceBatch::draw(count, size, seed + 1);
    Attribute::ALL
        .iter()
        .zip(&found)
        .map(|(&attribute, direction)| {
            measure_edit(vae, &test, attribute, direction, strength, device)
        })
        .collect()
}

/// The strengths chapter 4 measures: the plain difference, and half as much
/// again (an average direction is too short for faces far from the average).
pub const EDIT_STRENGTHS: [f32; 2] = [1.0, 1.5];

/// The lecture's figure: one face, then its Pose / Age / Expression / Eyeglasses
/// edits, in a row.
pub fn lecture_row(
    vae: &Vae,
    original: &Face,
    directions: &[Array1<f32>],
    size: u32,
    device: &Device,
) -> anyhow::Result<Vec<RgbImage>> {
    let z = latent::encode(vae, &[original.draw(size)], device)?;
    let mut rows = vec![z.row(0).to_owned()];
    rows.extend(directions.iter().map(|d| &z.row(0) + d));
    let views: Vec<_> = rows.iter().map(|r| r.view()).collect();
    let latents = ndarray::stack(ndarray::Axis(0), &views)?;
    latent::decode(vae, &latents, device)
}

/// A face whose attributes all leave room for the lecture's edits.
pub fn lecture_face() -> Face {
    Face {
        pose: -0.5,
        smile: -0.4,
        old: false,
        glasses: false,
        skin: 1,
        hair: 1,
        width: 1.0,
    }
}

/// Rows of `steps` pictures walking between pairs of faces in latent space.
pub fn interpolation_grid(
    vae: &Vae,
    pairs: &[(Face, Face)],
    steps: usize,
    size: u32,
    device: &Device,
) -> anyhow::Result<Picture> {
    let mut pictures = Vec::new();
    for (a, b) in pairs {
        let z = latent::encode(vae, &[a.draw(size), b.draw(size)], device)?;
        let path =
            latent::interpolate(&z.row(0).to_owned(), &z.row(1).to_owned(), steps);
        pictures.extend(latent::decode(vae, &path, device)?);
    }
    Picture::grid(&pictures, steps)
}

/// Markdown table of quality rows.
pub fn quality_table(rows: &[Quality]) -> String {
    let mut table = String::from(
        "| pictures | pose | age | expression | eyeglasses | judged faces |\n|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let [p, a, e, g] = row.attributes.map(percent);
        table += &format!(
            "| {} | {p} | {a} | {e} | {g} | {} |\n",
            row.name,
            percent(row.faces)
        );
    }
    table
}

/// Markdown table of edit reports.
pub fn edit_table(rows: &[(Method, f32, Vec<EditReport>)]) -> String {
    let mut table = String::from(
        "| direction | found by | strength | faces edited | changed as intended | other attributes kept | still faces |\n|---|---|---|---|---|---|---|\n",
    );
    for (method, strength, reports) in rows {
        for r in reports {
            table += &format!(
                "| {} | {} | {strength} | {} | {} | {} | {} |\n",
                r.attribute,
                method.name(),
                r.count,
                percent(r.achieved),
                percent(r.kept),
                percent(r.faces)
            );
        }
    }
    table
}

/// Continuous attributes count as right within this distance of the truth.
pub fn tolerance_note() -> String {
    format!(
        "Pose and expression count as right within ±{} of the truth (on a −1…1 scale); age and eyeglasses must match exactly. A picture is a face when the judge's best redraw matches it with a mean squared error below {}.",
        judge::CONTINUOUS_TOLERANCE,
        judge::FACE_ERROR_LIMIT
    )
}

/// The Markdown tables of chapters 3 and 4.
#[derive(Debug, Clone)]
pub struct Tables {
    /// The judge and the models (chapter 3).
    pub models: String,
    /// Latent arithmetic (chapter 4).
    pub edits: String,
}

/// Measures everything chapters 3–4 claim, saves the pictures into `out`
/// (faces, reconstructions, VAE samples, the lecture's edit row, interpolation,
/// PCA) and returns the tables.
pub fn write_figures(
    autoencoder: &Autoencoder,
    vae: &Vae,
    count: usize,
    seed: u64,
    device: &Device,
    out: &Path,
) -> anyhow::Result<Tables> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create {}", out.display()))?;
    let size = crate::models::autoencoder::Config::default().image_size as u32;
    let save = |picture: Picture, name: &str| picture.save_png(out.join(name));

    let world = FaceBatch::draw(16, 64, seed);
    save(Picture::grid(&world.images, 8)?.scaled(2), "faces.png")?;
    let judge = judge_report(count, 64, seed);
    let (mut rows, sample_faces) =
        model_report(autoencoder, vae, count, size, seed + 10, device)?;
    rows.insert(0, judge.quality.clone());
    let models = format!(
        "{}\n{}\n\nVAE samples from N(0, 1) judged to be faces: **{}** of {count}.\n\n\
         Drawing faces: {:.0} per second (64×64, one core). The judge: {:.0} faces per second (all cores).\n",
        quality_table(&rows),
        tolerance_note(),
        percent(sample_faces),
        judge.draws_per_second,
        judge.judged_per_second,
    );

    let mut edits = Vec::new();
    for method in [Method::MeanDifference, Method::LeastSquares] {
        for strength in EDIT_STRENGTHS {
            stop_if_interrupted("the report was not written")?;
            edits.push((
                method,
                strength,
                edit_report(vae, count, size, seed + 20, method, strength, device)?,
            ));
        }
    }
    let edits = format!(
        "{}\n{count} faces to find the directions, up to {count} others to edit; seed {seed}.\n",
        edit_table(&edits)
    );

    let few = FaceBatch::draw(8, size, seed);
    let pictures = images_to_batch(&few.images, device)?;
    let mut grid = few.images.clone();
    grid.extend(batch_to_images(&autoencoder.forward(&pictures)?)?);
    save(Picture::grid(&grid, 8)?.scaled(3), "reconstructions.png")?;
    let samples = batch_to_images(&vae.sample(
        16,
        &mut ChaCha8Rng::seed_from_u64(seed),
        device,
    )?)?;
    save(Picture::grid(&samples, 8)?.scaled(3), "vae-samples.png")?;
    let found =
        directions(vae, count, size, seed + 20, Method::MeanDifference, device)?;
    let row = lecture_row(vae, &lecture_face(), &found, size, device)?;
    save(Picture::grid(&row, 5)?.scaled(4), "latent-edits.png")?;
    let ends = FaceBatch::draw(6, size, seed + 30).faces;
    let pairs: Vec<(Face, Face)> =
        ends.chunks_exact(2).map(|p| (p[0], p[1])).collect();
    save(
        interpolation_grid(vae, &pairs, 8, size, device)?.scaled(3),
        "interpolation.png",
    )?;
    save(pca_figure(vae, count, size, seed + 40, device)?, "pca.png")?;
    Ok(Tables { models, edits })
}

/// The latent codes of `count` faces on their first two principal components,
/// coloured by each lecture attribute in turn.
pub fn pca_figure(
    vae: &Vae,
    count: usize,
    size: u32,
    seed: u64,
    device: &Device,
) -> anyhow::Result<Picture> {
    let batch = FaceBatch::draw(count, size, seed);
    let z = latent::encode(vae, &batch.images, device)?;
    let projected = latent::pca(&z, 2)?.project(&z);
    let points: Vec<(f32, f32)> =
        projected.rows().into_iter().map(|r| (r[0], r[1])).collect();
    let split = |attribute: Attribute, names: [&'static str; 3]| {
        let mut groups: [Vec<(f32, f32)>; 3] = Default::default();
        for (face, &point) in batch.faces.iter().zip(&points) {
            let v = face.attribute(attribute);
            let g = if v < -1.0 / 3.0 {
                0
            } else if v > 1.0 / 3.0 {
                2
            } else {
                1
            };
            groups[g].push(point);
        }
        (attribute, names, groups)
    };
    let panels_data = [
        split(Attribute::Pose, ["turned left", "straight", "turned right"]),
        split(Attribute::Age, ["", "young", "old"]),
        split(Attribute::Expression, ["frown", "neutral", "smile"]),
        split(Attribute::Eyeglasses, ["", "no glasses", "glasses"]),
    ];
    let panels: Vec<(&str, Vec<PointGroup>)> = panels_data
        .iter()
        .map(|(attribute, names, groups)| {
            let groups = names
                .iter()
                .zip(groups)
                .filter(|(_, points)| !points.is_empty())
                .map(|(name, points)| PointGroup { name, points })
                .collect();
            (attribute.name(), groups)
        })
        .collect();
    crate::viz::plot::scatter_panels(&panels, "PC 1", "PC 2")
}

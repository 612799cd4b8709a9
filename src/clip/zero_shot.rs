//! Zero-shot classification: turn each label into a sentence with prompt
//! templates ("a photo of a {}."), embed the sentences, and rank the labels by
//! the cosine similarity of their sentences to the picture — no training on
//! the labels at all. (Its measurements are in [`crate::eval::clip`].)

use std::fmt::Write;

use candle_core::Tensor;

use super::Clip;
use super::loss::l2_normalize;
use crate::basics::preview;
use crate::world::scenes::{Colour, SceneBatch, Split, with_articles};
use crate::world::shapes::Shape;

/// The templates mini-CLIP is asked with: it only knows its own words.
pub const MINI_TEMPLATES: [&str; 2] = ["a {}", "a picture of a {}"];
/// OpenAI's most used template for the real CLIP.
pub const PHOTO_TEMPLATES: [&str; 1] = ["a photo of a {}."];

/// A template with its `{}` filled by `label`, in good English: "a {}" and
/// "orange circle" give "an orange circle".
pub fn fill_template(template: &str, label: &str) -> String {
    with_articles(&template.replace("{}", label))
}

// ANCHOR: zero_shot
/// One embedding per label: the normalised mean of its templates' normalised
/// text embeddings (CLIP's prompt ensembling).
pub fn label_embeddings(
    clip: &dyn Clip,
    labels: &[&str],
    templates: &[&str],
) -> anyhow::Result<Tensor> {
    let mut per_template = Vec::with_capacity(templates.len());
    for template in templates {
        let prompts: Vec<String> =
            labels.iter().map(|l| fill_template(template, l)).collect();
        let prompts: Vec<&str> = prompts.iter().map(String::as_str).collect();
        per_template.push(l2_normalize(&clip.text_embeddings(&prompts)?)?);
    }
    Ok(l2_normalize(&Tensor::stack(&per_template, 0)?.mean(0)?)?)
}

/// Probabilities `[n, labels]`: softmax over the labels of e^t · cos(image, label).
pub fn probabilities(
    clip: &dyn Clip,
    pictures: &Tensor,
    labels: &Tensor,
) -> anyhow::Result<Tensor> {
    let images = l2_normalize(&clip.image_embeddings(pictures)?)?;
    let logits = (images.matmul(&labels.t()?)? * clip.logit_scale()? as f64)?;
    Ok(super::loss::log_softmax(&logits, 1)?.exp()?)
}
// ANCHOR_END: zero_shot

/// One picture's labels, ranked.
#[derive(Debug, Clone)]
pub struct Ranking {
    /// (label, prompt as shown, probability), most probable first.
    pub ranked: Vec<(String, String, f32)>,
}

impl Ranking {
    /// Ranks `labels` for one picture `[3, s, s]` or `[1, 3, s, s]`.
    pub fn of(
        clip: &dyn Clip,
        picture: &Tensor,
        labels: &[&str],
        templates: &[&str],
    ) -> anyhow::Result<Ranking> {
        check_labels(labels, templates)?;
        let picture = if picture.rank() == 3 {
            picture.unsqueeze(0)?
        } else {
            picture.clone()
        };
        let embeddings = label_embeddings(clip, labels, templates)?;
        let p: Vec<f32> = probabilities(clip, &picture, &embeddings)?
            .get(0)?
            .to_vec1()?;
        let mut ranked: Vec<(String, String, f32)> = labels
            .iter()
            .zip(p)
            .map(|(l, p)| (l.to_string(), fill_template(templates[0], l), p))
            .collect();
        ranked.sort_by(|a, b| b.2.total_cmp(&a.2));
        Ok(Ranking { ranked })
    }

    /// 1-based rank of `label`, if it was among the labels.
    pub fn rank_of(&self, label: &str) -> Option<usize> {
        self.ranked
            .iter()
            .position(|(l, _, _)| l == label)
            .map(|i| i + 1)
    }

    /// The lecture's display: the true label with its probability and rank,
    /// then the `top` best prompts marked ✓ (the true label) or ✗.
    pub fn display(&self, truth: &str, top: usize) -> String {
        let mut out = String::new();
        let total = self.ranked.len();
        match self.ranked.iter().position(|(l, _, _)| l == truth) {
            Some(i) => {
                let p = 100.0 * self.ranked[i].2;
                let _ = writeln!(
                    out,
                    "{truth} ({p:.1}%) Ranked {} out of {total} labels",
                    i + 1
                );
            }
            None => {
                let _ = writeln!(out, "{truth} is not among the {total} labels");
            }
        }
        out.push('\n');
        for (label, prompt, p) in self.ranked.iter().take(top) {
            let mark = if label == truth { '✓' } else { '✗' };
            let _ = writeln!(out, "{mark} {prompt}  {:.1}%", 100.0 * p);
        }
        out
    }
}

/// Labels and templates that can be ranked: at least one of each, no empty
/// or repeated label, and a `{}` in every template (else every label would
/// read the same and tie).
fn check_labels(labels: &[&str], templates: &[&str]) -> anyhow::Result<()> {
    anyhow::ensure!(!labels.is_empty(), "zero-shot needs at least one label");
    anyhow::ensure!(
        !templates.is_empty(),
        "zero-shot needs at least one template"
    );
    for (i, label) in labels.iter().enumerate() {
        anyhow::ensure!(!label.trim().is_empty(), "label {} is empty", i + 1);
        anyhow::ensure!(
            !labels[..i].contains(label),
            "the label {} is given twice",
            preview(label)
        );
    }
    for template in templates {
        anyhow::ensure!(
            template.contains("{}"),
            "the template {} has no {{}} where the label goes",
            preview(template)
        );
    }
    Ok(())
}

/// Every colour×shape label, "red circle" … (6 × 6 = 36).
pub fn colour_shape_labels() -> Vec<String> {
    Colour::ALL
        .iter()
        .flat_map(|c| {
            Shape::ALL
                .iter()
                .map(move |s| format!("{} {}", c.name(), s.name()))
        })
        .collect()
}

/// The first single-object scene drawn from `seed` on: its picture and its
/// true colour×shape label, for zero-shot examples.
pub fn single_object_scene(
    split: Split,
    size: u32,
    seed: u64,
) -> (image::RgbImage, String) {
    (seed..)
        .map(|s| SceneBatch::draw(1, size, split, s))
        .find(|batch| batch.scenes[0].objects.len() == 1)
        .map(|batch| {
            let object = batch.scenes[0].objects[0];
            let truth = format!("{} {}", object.colour.name(), object.shape.name());
            (batch.images[0].clone(), truth)
        })
        .expect("seven in ten scenes have one object")
}

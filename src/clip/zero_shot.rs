//! Zero-shot classification: turn each label into a sentence with prompt
//! templates ("a photo of a {}."), embed the sentences, and rank the labels by
//! the cosine similarity of their sentences to the picture — no training on
//! the labels at all. Also the measurements of mini-CLIP.

use std::fmt::Write;

use candle_core::{D, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::Clip;
use super::loss::l2_normalize;
use crate::models::autoencoder::images_to_batch;
use crate::world::scenes::{Colour, SceneBatch, Split, hard_negative, with_articles};
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
        let prompts: Vec<String> = labels.iter().map(|l| fill_template(template, l)).collect();
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
        anyhow::ensure!(!labels.is_empty(), "zero-shot needs at least one label");
        anyhow::ensure!(
            !templates.is_empty(),
            "zero-shot needs at least one template"
        );
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
pub fn single_object_scene(split: Split, size: u32, seed: u64) -> (image::RgbImage, String) {
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

/// What `clip-art clip-report` measures on freshly drawn scenes.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Single-object scenes of trained colour–shape pairs, and how many.
    pub zero_shot_top1: f32,
    pub zero_shot_count: usize,
    /// Single-object scenes of the held-out pairs (never seen in training).
    pub held_out_top1: f32,
    pub held_out_count: usize,
    /// Image → caption and caption → image retrieval among `retrieval_count`
    /// fresh scenes; a hit is any caption (image) that is true of the scene.
    pub image_to_text_recall: [f32; 2],
    pub text_to_image_recall: [f32; 2],
    pub retrieval_count: usize,
    /// Share of fresh scenes whose caption scores above the same caption with
    /// one thing changed ([`hard_negative`]), and how many; one object, then two.
    pub caption_over_negative: [(f32, usize); 2],
    /// Share of chapter 6's two-object test prompts for which the scene CLIP
    /// ranks best among the scenes of every kind is true, how many prompts,
    /// and how many scenes.
    pub two_object_search: (f32, usize, usize),
}

/// How many two-object test prompts [`evaluate`] searches the scenes for.
pub const TWO_OBJECT_PROMPTS: usize = 200;

/// Measures zero-shot top-1 over all 36 colour×shape labels, retrieval
/// recall@1 and @5 and captions against their hard negatives on fresh scenes
/// drawn from `seed`, and the search for two-object scenes.
pub fn evaluate(clip: &dyn Clip, count: usize, seed: u64) -> anyhow::Result<Evaluation> {
    let size = clip.image_size() as u32;
    let labels = colour_shape_labels();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let device = clip.device().clone();
    let embeddings = label_embeddings(clip, &labels, &MINI_TEMPLATES)?;
    let top1 = |batch: &SceneBatch| -> anyhow::Result<(f32, usize)> {
        let singles: Vec<usize> = (0..batch.scenes.len())
            .filter(|&i| batch.scenes[i].objects.len() == 1)
            .collect();
        let images: Vec<_> = singles.iter().map(|&i| batch.images[i].clone()).collect();
        let p = probabilities(clip, &images_to_batch(&images, &device)?, &embeddings)?;
        let best = p.argmax(D::Minus1)?.to_vec1::<u32>()?;
        let right = singles
            .iter()
            .zip(best)
            .filter(|&(&i, b)| {
                let o = batch.scenes[i].objects[0];
                labels[b as usize] == format!("{} {}", o.colour.name(), o.shape.name())
            })
            .count();
        Ok((right as f32 / singles.len() as f32, singles.len()))
    };
    let (zero_shot_top1, zero_shot_count) =
        top1(&SceneBatch::draw(count, size, Split::Train, seed))?;
    let (held_out_top1, held_out_count) =
        top1(&SceneBatch::draw(count, size, Split::HeldOut, seed + 1))?;

    let batch = SceneBatch::draw(count, size, Split::Train, seed + 2);
    let captions: Vec<&str> = batch.captions.iter().map(String::as_str).collect();
    let images = l2_normalize(&clip.image_embeddings(&images_to_batch(&batch.images, &device)?)?)?;
    let texts = l2_normalize(&clip.text_embeddings(&captions)?)?;
    let similarity = images.matmul(&texts.t()?)?.to_vec2::<f32>()?;
    let truths: Vec<Vec<String>> = batch.scenes.iter().map(|s| s.true_captions()).collect();
    let fits = |i: usize, j: usize| truths[i].contains(&batch.captions[j]);
    let recall = |k: usize, by_image: bool| -> f32 {
        let hits = (0..count)
            .filter(|&a| {
                let mut others: Vec<usize> = (0..count).collect();
                let score = |b: usize| {
                    if by_image {
                        similarity[a][b]
                    } else {
                        similarity[b][a]
                    }
                };
                others.sort_by(|&x, &y| score(y).total_cmp(&score(x)));
                others[..k]
                    .iter()
                    .any(|&b| if by_image { fits(a, b) } else { fits(b, a) })
            })
            .count();
        hits as f32 / count as f32
    };
    let caption_over_negative = caption_over_negative(clip, count, seed + 3)?;
    Ok(Evaluation {
        caption_over_negative,
        two_object_search: two_object_search(clip, seed)?,
        zero_shot_top1,
        zero_shot_count,
        held_out_top1,
        held_out_count,
        image_to_text_recall: [recall(1, true), recall(5, true)],
        text_to_image_recall: [recall(1, false), recall(5, false)],
        retrieval_count: count,
    })
}

/// For one- and two-object scenes apart: how often CLIP scores a scene's
/// caption above a caption that differs in one thing ("a red circle above a
/// blue square" against "a blue circle above a red square"). A CLIP that reads
/// captions as bags of words cannot tell those two apart.
fn caption_over_negative(
    clip: &dyn Clip,
    count: usize,
    seed: u64,
) -> anyhow::Result<[(f32, usize); 2]> {
    let batch = SceneBatch::draw(count, clip.image_size() as u32, Split::Train, seed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut cases = Vec::new();
    for (i, (scene, caption)) in batch.scenes.iter().zip(&batch.captions).enumerate() {
        if let Some(negative) = hard_negative(scene, caption, Split::Train, &mut rng) {
            cases.push((i, caption.as_str(), negative));
        }
    }
    let images: Vec<_> = cases.iter().map(|c| batch.images[c.0].clone()).collect();
    let images = l2_normalize(&clip.image_embeddings(&images_to_batch(&images, clip.device())?)?)?;
    let cosine = |texts: Vec<&str>| -> anyhow::Result<Vec<f32>> {
        let texts = l2_normalize(&clip.text_embeddings(&texts)?)?;
        Ok((&images * texts)?.sum(D::Minus1)?.to_vec1()?)
    };
    let right = cosine(cases.iter().map(|c| c.1).collect())?;
    let wrong = cosine(cases.iter().map(|c| c.2.as_str()).collect())?;
    let mut tally = [(0usize, 0usize); 2];
    for (k, case) in cases.iter().enumerate() {
        let objects = batch.scenes[case.0].objects.len();
        let entry = &mut tally[objects - 1];
        entry.0 += usize::from(right[k] > wrong[k]);
        entry.1 += 1;
    }
    Ok(tally.map(|(won, of)| (won as f32 / of.max(1) as f32, of)))
}

/// What generation first needs from its guide: for each two-object test
/// prompt of `clip-art generate-report` (drawn from `seed` as it does), rank
/// the scenes of every kind (its default bank, drawn as `generate` draws it)
/// and ask the ground truth whether the best-ranked one is true of the prompt.
fn two_object_search(clip: &dyn Clip, seed: u64) -> anyhow::Result<(f32, usize, usize)> {
    use crate::eval::generation::{Kind, test_prompts};
    use crate::guide::generate::{BANK_SEED, Bank, BankKind};
    use crate::world::requests::Request;
    use crate::world::scenes::Scene;

    let prompts: Vec<String> = test_prompts(TWO_OBJECT_PROMPTS, 1_000 + seed)
        .into_iter()
        .filter(|(kind, _)| *kind == Kind::TwoObjects)
        .map(|(_, prompt)| prompt)
        .collect();
    let scenes = Scene::every_kind(&mut ChaCha8Rng::seed_from_u64(BANK_SEED));
    let size = crate::guide::vq::Config::default().image_size;
    let bank = Bank::new(BankKind::EveryKind, size, BANK_SEED, clip.device())?;
    // In chunks, as the guide ranks a bank: all at once would hold every
    // layer's activations for thousands of pictures.
    let mut embeddings = Vec::new();
    for start in (0..scenes.len()).step_by(512) {
        let chunk = bank
            .pictures
            .narrow(0, start, 512.min(scenes.len() - start))?;
        let views = crate::guide::cutouts::resize(&chunk, clip.image_size())?;
        embeddings.push(clip.image_embeddings(&views)?);
    }
    let images = l2_normalize(&Tensor::cat(&embeddings, 0)?)?;
    let texts: Vec<&str> = prompts.iter().map(String::as_str).collect();
    let best = clip
        .text_embeddings(&texts)?
        .matmul(&images.t()?)?
        .argmax(D::Minus1)?
        .to_vec1::<u32>()?;
    let mut right = 0;
    for (prompt, best) in prompts.iter().zip(best) {
        let request = Request::parse(prompt).ok_or_else(|| {
            anyhow::anyhow!("test prompt {prompt:?} is not in the scenes' language")
        })?;
        right += usize::from(request.holds_for(&scenes[best as usize]));
    }
    Ok((
        right as f32 / prompts.len() as f32,
        prompts.len(),
        scenes.len(),
    ))
}

impl Evaluation {
    /// The measurements as a Markdown table.
    pub fn markdown(&self) -> String {
        let pct = |v: f32| format!("{:.1}%", 100.0 * v);
        format!(
            "| measure | pictures | result |\n|---|---|---|\n\
             | zero-shot top-1, 36 colour×shape labels, trained pairs | {} | {} |\n\
             | zero-shot top-1, held-out pairs (never in training) | {} | {} |\n\
             | image → caption recall@1 / @5 | {} | {} / {} |\n\
             | caption → image recall@1 / @5 | {} | {} / {} |\n\
             | caption scored above the caption with one thing changed, one object | {} | {} |\n\
             | caption scored above the caption with one thing changed, two objects | {} | {} |\n\
             | two-object prompts: the best-ranked of the {} scenes of every kind is true | {} | {} |\n",
            self.zero_shot_count,
            pct(self.zero_shot_top1),
            self.held_out_count,
            pct(self.held_out_top1),
            self.retrieval_count,
            pct(self.image_to_text_recall[0]),
            pct(self.image_to_text_recall[1]),
            self.retrieval_count,
            pct(self.text_to_image_recall[0]),
            pct(self.text_to_image_recall[1]),
            self.caption_over_negative[0].1,
            pct(self.caption_over_negative[0].0),
            self.caption_over_negative[1].1,
            pct(self.caption_over_negative[1].0),
            self.two_object_search.2,
            self.two_object_search.1,
            pct(self.two_object_search.0),
        )
    }
}

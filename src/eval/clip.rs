//! What `clip-art clip-report` measures of a CLIP on freshly drawn scenes:
//! zero-shot classification, retrieval, captions against their hard negatives,
//! and the search generation starts with. The world's ground truth grades.

use candle_core::{D, Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::generation::{Kind, test_prompts};
use super::table::{Table, percent};
use crate::clip::Clip;
use crate::clip::loss::l2_normalize;
use crate::clip::mini::text_matches;
use crate::clip::zero_shot::{
    MINI_TEMPLATES, colour_shape_labels, label_embeddings, probabilities,
};
use crate::guide::generate::{BANK_SEED, Bank, BankKind};
use crate::nn::batch::images_to_batch;
use crate::nn::progress::stop_if_interrupted;
use crate::world::requests::Request;
use crate::world::scenes::{Scene, SceneBatch, Split, hard_negative};
use crate::world::wording::{TEST_FRAMES, Wording};

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
    /// Caption → image recall@1 and @5 on the same scenes, each caption said
    /// in a frame training never used, in a random wording
    /// ([`crate::world::wording::TEST_FRAMES`]).
    pub paraphrase_recall: [f32; 2],
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
pub fn evaluate(
    clip: &dyn Clip,
    count: usize,
    seed: u64,
) -> anyhow::Result<Evaluation> {
    let size = clip.image_size() as u32;
    let labels = colour_shape_labels();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let device = clip.device().clone();
    let embeddings = label_embeddings(clip, &labels, &MINI_TEMPLATES)?;
    let top1 = |batch: &SceneBatch| -> anyhow::Result<(f32, usize)> {
        let singles: Vec<usize> = (0..batch.scenes.len())
            .filter(|&i| batch.scenes[i].objects.len() == 1)
            .collect();
        let images: Vec<_> =
            singles.iter().map(|&i| batch.images[i].clone()).collect();
        let p =
            probabilities(clip, &images_to_batch(&images, &device)?, &embeddings)?;
        let best = p.argmax(D::Minus1)?.to_vec1::<u32>()?;
        let right = singles
            .iter()
            .zip(best)
            .filter(|&(&i, b)| {
                let o = batch.scenes[i].objects[0];
                labels[b as usize]
                    == format!("{} {}", o.colour.name(), o.shape.name())
            })
            .count();
        Ok((right as f32 / singles.len() as f32, singles.len()))
    };
    let (zero_shot_top1, zero_shot_count) =
        top1(&SceneBatch::draw(count, size, Split::Train, seed))?;
    let (held_out_top1, held_out_count) =
        top1(&SceneBatch::draw(count, size, Split::HeldOut, seed + 1))?;

    let batch = SceneBatch::draw(count, size, Split::Train, seed + 2);
    let [image_to_text_recall, text_to_image_recall] = recall(clip, &batch)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed + 4);
    let mut paraphrased = batch.clone();
    for (scene, caption) in paraphrased.scenes.iter().zip(&mut paraphrased.captions)
    {
        let captions = scene.worded(&TEST_FRAMES, Wording::random(&mut rng));
        *caption = captions[rng.random_range(0..captions.len())].clone();
    }
    let [_, paraphrase_recall] = recall(clip, &paraphrased)?;
    let caption_over_negative = caption_over_negative(clip, count, seed + 3)?;
    Ok(Evaluation {
        caption_over_negative,
        two_object_search: two_object_search(clip, seed)?,
        zero_shot_top1,
        zero_shot_count,
        held_out_top1,
        held_out_count,
        image_to_text_recall,
        text_to_image_recall,
        paraphrase_recall,
        retrieval_count: count,
    })
}

/// Image → caption and caption → image recall@1 and @5 among the batch's
/// scenes; a hit is any caption (image) that is true of the scene (as the
/// world reads the caption).
fn recall(clip: &dyn Clip, batch: &SceneBatch) -> anyhow::Result<[[f32; 2]; 2]> {
    let count = batch.scenes.len();
    let captions: Vec<&str> = batch.captions.iter().map(String::as_str).collect();
    let images = l2_normalize(
        &clip.image_embeddings(&images_to_batch(&batch.images, clip.device())?)?,
    )?;
    let texts = l2_normalize(&clip.text_embeddings(&captions)?)?;
    let similarity = images.matmul(&texts.t()?)?.to_vec2::<f32>()?;
    let fits =
        text_matches(&batch.scenes, &captions, &Device::Cpu)?.to_vec2::<f32>()?;
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
                others[..k].iter().any(|&b| {
                    let (scene, caption) = if by_image { (a, b) } else { (b, a) };
                    fits[scene][caption] > 0.0
                })
            })
            .count();
        hits as f32 / count as f32
    };
    Ok([
        [recall(1, true), recall(5, true)],
        [recall(1, false), recall(5, false)],
    ])
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
    let batch =
        SceneBatch::draw(count, clip.image_size() as u32, Split::Train, seed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut cases = Vec::new();
    for (i, (scene, caption)) in batch.scenes.iter().zip(&batch.captions).enumerate()
    {
        let phrasing = batch.phrasings[i];
        if let Some(negative) =
            hard_negative(scene, phrasing, Split::Train, &mut rng)
        {
            cases.push((i, caption.as_str(), negative));
        }
    }
    let images: Vec<_> = cases.iter().map(|c| batch.images[c.0].clone()).collect();
    let images = l2_normalize(
        &clip.image_embeddings(&images_to_batch(&images, clip.device())?)?,
    )?;
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
fn two_object_search(
    clip: &dyn Clip,
    seed: u64,
) -> anyhow::Result<(f32, usize, usize)> {
    let prompts: Vec<String> = test_prompts(TWO_OBJECT_PROMPTS, 1_000 + seed)
        .into_iter()
        .filter(|prompt| prompt.kind == Kind::TwoObjects)
        .map(|prompt| prompt.text)
        .collect();
    let scenes = Scene::every_kind(&mut ChaCha8Rng::seed_from_u64(BANK_SEED));
    let size = crate::guide::vq::Config::default().image_size;
    let bank = Bank::new(BankKind::EveryKind, size, BANK_SEED, clip.device())?;
    // In chunks, as the guide ranks a bank: all at once would hold every
    // layer's activations for thousands of pictures.
    let mut embeddings = Vec::new();
    for start in (0..scenes.len()).step_by(512) {
        stop_if_interrupted("the report was not written")?;
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
    /// The measurements as a table.
    pub fn table(&self) -> Table {
        let mut table = Table::new(["measure", "pictures", "result"]);
        let pair = |v: [f32; 2]| format!("{} / {}", percent(v[0]), percent(v[1]));
        let (search, prompts, scenes) = self.two_object_search;
        let rows = [
            (
                "zero-shot top-1, 36 colour×shape labels, trained pairs".to_string(),
                self.zero_shot_count,
                percent(self.zero_shot_top1),
            ),
            (
                "zero-shot top-1, held-out pairs (never in training)".to_string(),
                self.held_out_count,
                percent(self.held_out_top1),
            ),
            (
                "image → caption recall@1 / @5".to_string(),
                self.retrieval_count,
                pair(self.image_to_text_recall),
            ),
            (
                "caption → image recall@1 / @5".to_string(),
                self.retrieval_count,
                pair(self.text_to_image_recall),
            ),
            (
                "caption → image recall@1 / @5, captions paraphrased in frames training never used".to_string(),
                self.retrieval_count,
                pair(self.paraphrase_recall),
            ),
            (
                "caption scored above the caption with one thing changed, one object".to_string(),
                self.caption_over_negative[0].1,
                percent(self.caption_over_negative[0].0),
            ),
            (
                "caption scored above the caption with one thing changed, two objects".to_string(),
                self.caption_over_negative[1].1,
                percent(self.caption_over_negative[1].0),
            ),
            (
                format!(
                    "two-object prompts: the best-ranked of the {scenes} scenes of every kind is true"
                ),
                prompts,
                percent(search),
            ),
        ];
        for (measure, pictures, result) in rows {
            table.push([measure, pictures.to_string(), result]);
        }
        table
    }
}

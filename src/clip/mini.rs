//! mini-CLIP: a CLIP small enough to train in six minutes on two CPU cores,
//! on the captioned scenes of [`crate::world::scenes`].
//!
//! Same recipe as the paper, smaller parts: the image encoder is chapter 3's
//! patch-convolution encoder, reading red, green, blue and the silhouette; the
//! text encoder (the paper's "CBOW or Text Transformer") reads each word alone
//! and with its neighbours, with the same weights at every position, so that
//! "a red circle above a blue square" and "a blue circle above a red square"
//! differ and a phrase means the same wherever it stands. Both are projected into one
//! 64-d space by `W_i` and `W_t` and
//! trained with [`super::loss::contrastive_loss_with_hard_negatives`].

use std::path::Path;

use anyhow::bail;
use candle_core::{DType, Device, Module, Tensor, Var};
use candle_nn::{Embedding, Linear, VarBuilder, VarMap};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::Clip;
use super::ensemble::Ensemble;
use super::loss::{
    INITIAL_TEMPERATURE, MAX_LOGIT_SCALE, contrastive_loss_with_hard_negatives,
};
use super::robust::{Pgd, perturb};
use crate::basics::preview;
use crate::models::autoencoder::{self, Encoder};
use crate::models::vae::standard_normal;
use crate::nn::batch::images_to_batch;
use crate::nn::train::{fit, step_seed};
use crate::nn::weights::{self, seed_weights};
use crate::world::requests::Request;
use crate::world::scenes::{Scene, SceneBatch, Split, hard_negative, vocabulary};

/// Sizes of mini-CLIP.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Scenes are drawn at `image_size`×`image_size` (a multiple of 8).
    pub image_size: usize,
    /// Channels of the image encoder's three patch convolutions.
    pub channels: [usize; 3],
    /// Length of I_f and T_f, the encoders' outputs.
    pub features: usize,
    /// Length of the joint embedding (d_e in the pseudocode).
    pub embedding: usize,
    /// Word vector length and the longest caption the text encoder reads.
    pub word_size: usize,
    pub max_words: usize,
    /// Known words; id 0 is padding, word k has id k + 1.
    pub vocabulary: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            image_size: 32,
            channels: [32, 64, 128],
            features: 128,
            embedding: 64,
            word_size: 32,
            max_words: 12,
            vocabulary: vocabulary().into_iter().map(String::from).collect(),
        }
    }
}

// ANCHOR: text_encoder
/// Words → T_f. Each word is embedded and read alone by a first layer; two
/// more layers read each word with its two neighbours (five words wide after
/// both). The largest value of each channel over the caption, after the
/// first layer and after the last, goes to the output layer. The same weights
/// read every position, so a phrase means the same wherever it stands: the
/// first layer's maximum says which words occur (a bag of words, which
/// carries "yellow" and "star" over to a yellow star never seen), the last
/// layer's says in which order ("a red circle above a blue square" or "a blue
/// circle above a red square").
pub struct TextEncoder {
    words: Embedding,
    each_word: Linear,
    /// Each reads a word and its two neighbours: `[3 × c] → c`.
    in_context: Vec<Linear>,
    out: Linear,
}

/// `[n, words, c]` → `[n, words, 3c]`: each word beside the word before it
/// and the word after it (zeros past either end).
fn with_neighbours(x: &Tensor) -> candle_core::Result<Tensor> {
    let (n, words, c) = x.dims3()?;
    let zeros = Tensor::zeros((n, 1, c), x.dtype(), x.device())?;
    let before = Tensor::cat(&[&zeros, &x.narrow(1, 0, words - 1)?], 1)?;
    let after = Tensor::cat(&[&x.narrow(1, 1, words - 1)?, &zeros], 1)?;
    Tensor::cat(&[&before, x, &after], 2)
}

impl Module for TextEncoder {
    /// `ids`: `[n, max_words]` u32, zero-padded.
    fn forward(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        // Padding reads as nothing: zeros, as past the caption's ends.
        let embedded = self.words.forward(ids)?;
        let words = ids.ne(0u32)?.to_dtype(embedded.dtype())?.unsqueeze(2)?;
        let layer = |x: Tensor| x.relu()?.broadcast_mul(&words);
        let alone = layer(self.each_word.forward(&embedded)?)?;
        let mut x = alone.clone();
        for linear in &self.in_context {
            x = layer(linear.forward(&with_neighbours(&x)?)?)?;
        }
        self.out
            .forward(&Tensor::cat(&[alone.max(1)?, x.max(1)?], 1)?)
    }
}
// ANCHOR_END: text_encoder

impl TextEncoder {
    pub fn new(vb: VarBuilder, cfg: &Config) -> candle_core::Result<Self> {
        let (ids, c) = (cfg.vocabulary.len() + 1, TEXT_CHANNELS);
        let in_context = (0..2)
            .map(|k| candle_nn::linear(3 * c, c, vb.pp(format!("in_context{k}"))))
            .collect::<candle_core::Result<_>>()?;
        Ok(TextEncoder {
            words: candle_nn::embedding(ids, cfg.word_size, vb.pp("words"))?,
            each_word: candle_nn::linear(cfg.word_size, c, vb.pp("each_word"))?,
            in_context,
            out: candle_nn::linear(2 * c, cfg.features, vb.pp("out"))?,
        })
    }
}

/// Channels of the text encoder's layers.
const TEXT_CHANNELS: usize = 128;

// ANCHOR: mini_clip
/// The two encoders, the projections W_i and W_t, and the temperature t.
pub struct MiniClip {
    pub cfg: Config,
    image_encoder: Encoder,
    text_encoder: TextEncoder,
    image_projection: Linear,
    text_projection: Linear,
    temperature: Tensor,
}
// ANCHOR_END: mini_clip

impl MiniClip {
    pub fn new(vb: VarBuilder, cfg: &Config) -> candle_core::Result<Self> {
        let image_cfg = autoencoder::Config {
            image_size: cfg.image_size,
            channels: cfg.channels,
            latent: cfg.features,
        };
        let init = candle_nn::Init::Const(INITIAL_TEMPERATURE);
        Ok(MiniClip {
            cfg: cfg.clone(),
            // Red, green, blue and the silhouette: see `encode_images`.
            image_encoder: Encoder::with_inputs(
                vb.pp("image_encoder"),
                &image_cfg,
                4,
                cfg.features,
            )?,
            text_encoder: TextEncoder::new(vb.pp("text_encoder"), cfg)?,
            image_projection: candle_nn::linear_no_bias(
                cfg.features,
                cfg.embedding,
                vb.pp("image_projection"),
            )?,
            text_projection: candle_nn::linear_no_bias(
                cfg.features,
                cfg.embedding,
                vb.pp("text_projection"),
            )?,
            temperature: vb.get_with_hints((), "temperature", init)?,
        })
    }

    // ANCHOR: mini_clip_encode
    /// I_f · W_i for pictures `[n, 3, s, s]` in [0, 1].
    pub fn encode_images(&self, pictures: &Tensor) -> candle_core::Result<Tensor> {
        // Centred and scaled like CLIP's own input normalisation: on a dark
        // background, raw [0, 1] pixels leave the first layer almost idle.
        let rgb = pictures.affine(4.0, -2.0)?;
        // A fourth channel, each pixel's brightest colour, shows shapes the
        // same whatever their colour. With it, shapes of colour–shape pairs
        // never seen in training are recognised far better (held-out top-1
        // 89.8% instead of 71.8%, same training).
        let silhouette = rgb.max_keepdim(1)?;
        let features = self
            .image_encoder
            .forward(&Tensor::cat(&[&rgb, &silhouette], 1)?)?;
        // A ReLU before W_i: the encoder ends in a linear head, so without it
        // the embedding is a sum over the picture's cells. A sum can say "a red
        // circle and a blue square" but hardly which one is above the other.
        self.image_projection.forward(&features.relu()?)
    }

    /// T_f · W_t for word ids `[n, max_words]`.
    pub fn encode_word_ids(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        let features = self.text_encoder.forward(ids)?;
        self.text_projection.forward(&features)
    }
    // ANCHOR_END: mini_clip_encode
}

impl MiniClip {
    /// A caption's word ids, zero-padded to `max_words`. Unknown words and
    /// over-long captions are errors that say what mini-CLIP can read.
    pub fn word_ids(&self, text: &str) -> anyhow::Result<Vec<u32>> {
        let cleaned = text.to_lowercase().replace(['.', ','], " ");
        let words: Vec<&str> = cleaned.split_whitespace().collect();
        if words.len() > self.cfg.max_words {
            bail!(
                "{} has {} words; mini-CLIP reads at most {}",
                preview(text),
                words.len(),
                self.cfg.max_words
            );
        }
        let mut ids = vec![0u32; self.cfg.max_words];
        for (slot, word) in ids.iter_mut().zip(&words) {
            let Some(k) = self.cfg.vocabulary.iter().position(|v| v == word) else {
                bail!(
                    "mini-CLIP does not know the word {} (in {}){}; it knows: {}",
                    preview(word),
                    preview(text),
                    close_words(word, &self.cfg.vocabulary),
                    self.cfg.vocabulary.join(" ")
                );
            };
            *slot = k as u32 + 1;
        }
        Ok(ids)
    }

    fn word_id_batch(
        &self,
        texts: &[&str],
        device: &Device,
    ) -> anyhow::Result<Tensor> {
        let mut ids = Vec::with_capacity(texts.len() * self.cfg.max_words);
        for text in texts {
            ids.extend(self.word_ids(text)?);
        }
        Ok(Tensor::from_vec(
            ids,
            (texts.len(), self.cfg.max_words),
            device,
        )?)
    }
}

/// ", did you mean big or bigger?": up to three known words spelled like
/// `word`, best first, or nothing when none is close.
fn close_words(word: &str, vocabulary: &[String]) -> String {
    let mut close: Vec<(f64, &str)> = vocabulary
        .iter()
        .map(|known| (strsim::jaro_winkler(word, known), known.as_str()))
        .filter(|&(similarity, _)| similarity >= 0.8)
        .collect();
    close.sort_by(|a, b| b.0.total_cmp(&a.0));
    let names: Vec<&str> = close.iter().take(3).map(|&(_, known)| known).collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => format!(", did you mean {one}?"),
        [first @ .., last] => {
            format!(", did you mean {} or {last}?", first.join(", "))
        }
    }
}

impl Clip for MiniClip {
    fn device(&self) -> &Device {
        self.temperature.device()
    }

    fn image_size(&self) -> usize {
        self.cfg.image_size
    }

    fn image_embeddings(&self, pictures: &Tensor) -> anyhow::Result<Tensor> {
        let (_, _, h, w) = pictures.dims4()?;
        let s = self.cfg.image_size;
        if (h, w) != (s, s) {
            bail!("mini-CLIP sees {s}×{s} pictures, got {w}×{h}");
        }
        Ok(self.encode_images(pictures)?)
    }

    fn text_embeddings(&self, texts: &[&str]) -> anyhow::Result<Tensor> {
        let ids = self.word_id_batch(texts, self.device())?;
        Ok(self.encode_word_ids(&ids)?)
    }

    fn logit_scale(&self) -> anyhow::Result<f32> {
        Ok(self.temperature.exp()?.to_scalar::<f32>()?)
    }
}

/// Training settings for mini-CLIP.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    pub steps: usize,
    pub batch_size: usize,
    /// The first step's; it decays to 0 along a cosine, as in CLIP.
    pub learning_rate: f64,
    /// Share of two-object scenes among the training scenes: relations are
    /// the hardest captions, so they get more than the 30% of
    /// [`Scene::random`].
    pub two_objects: f64,
    pub seed: u64,
    /// Train on adversarial pictures ([`perturb`]): a robust guide.
    pub adversarial: Option<Pgd>,
    /// Start from these weights (a mini-clip.safetensors) instead of random
    /// ones: adversarial fine-tuning of a standard guide, as robust CLIPs are
    /// made (Mao et al., 2023).
    pub from: Option<std::path::PathBuf>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            steps: 3000,
            batch_size: 128,
            learning_rate: 2e-3,
            two_objects: 0.6,
            seed: 0,
            adversarial: None,
            from: None,
        }
    }
}

/// CLIP's cosine schedule: `peak` at the first step, falling to 0 at the end.
fn cosine_learning_rate(peak: f64, step: usize, steps: usize) -> f64 {
    let progress = step as f64 / steps as f64;
    peak * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
}

/// What one training step reports.
#[derive(Debug, Clone, Copy)]
pub struct StepReport {
    pub loss: f32,
    /// Share of images whose best-scoring caption in the batch is true of them.
    pub accuracy: f32,
}

/// `matches[i][j]` = 1 where caption j is true of scene i.
pub fn caption_matches(
    batch: &SceneBatch,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let captions: Vec<&str> = batch.captions.iter().map(String::as_str).collect();
    text_matches(&batch.scenes, &captions, device)
}

/// `[scenes, texts]`: 1 where text j is true of scene i, as the world reads
/// the text ([`Request`]): "a big red circle" fits every large red circle,
/// whichever caption it was drawn with.
pub fn text_matches(
    scenes: &[Scene],
    texts: &[&str],
    device: &Device,
) -> candle_core::Result<Tensor> {
    let requests: Vec<Option<Request>> =
        texts.iter().map(|text| Request::parse(text)).collect();
    let mut matches = Vec::with_capacity(scenes.len() * texts.len());
    for scene in scenes {
        for request in &requests {
            let fits = request.as_ref().is_some_and(|r| r.holds_for(scene));
            matches.push(f32::from(u8::from(fits)));
        }
    }
    Tensor::from_vec(matches, (scenes.len(), texts.len()), device)
}

/// Trains mini-CLIP on freshly drawn training scenes (held-out colour–shape
/// pairs never appear). Returns the model, its variables (to save) and each
/// step's report.
pub fn train(
    cfg: &Config,
    train: &TrainConfig,
    device: &Device,
    mut on_step: impl FnMut(usize, StepReport),
) -> anyhow::Result<(MiniClip, VarMap, Vec<StepReport>)> {
    let mut varmap = VarMap::new();
    let model =
        MiniClip::new(VarBuilder::from_varmap(&varmap, DType::F32, device), cfg)?;
    let temperature =
        varmap.data().lock().expect("varmap lock")["temperature"].clone();
    match &train.from {
        None => {
            seed_weights(&varmap, train.seed)?;
            seed_word_vectors(&varmap, train.seed, device)?;
            temperature.set(&Tensor::new(INITIAL_TEMPERATURE as f32, device)?)?;
        }
        Some(path) => varmap.load(path).map_err(|e| {
            anyhow::anyhow!("cannot start from {}: {e}", path.display())
        })?,
    }
    let mut reports = Vec::with_capacity(train.steps);
    let step_loss =
        |step: usize| -> anyhow::Result<(Tensor, (Tensor, Tensor, Tensor))> {
            let seed = step_seed(train.seed, step);
            let batch = SceneBatch::draw_mixed(
                train.batch_size,
                cfg.image_size as u32,
                Split::Train,
                train.two_objects,
                seed,
            )
            .reworded(seed);
            let pictures = images_to_batch(&batch.images, device)?;
            let captions: Vec<&str> =
                batch.captions.iter().map(String::as_str).collect();
            let matches = caption_matches(&batch, device)?;
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(1); // not the stream that drew the scenes
            let negatives: Vec<String> = batch
                .scenes
                .iter()
                .zip(&batch.phrasings)
                .filter_map(|(scene, &phrasing)| {
                    hard_negative(scene, phrasing, Split::Train, &mut rng)
                })
                .collect();
            let negatives: Vec<&str> =
                negatives.iter().map(String::as_str).collect();
            let text_e =
                model.encode_word_ids(&model.word_id_batch(&captions, device)?)?;
            let negative_e =
                model.encode_word_ids(&model.word_id_batch(&negatives, device)?)?;
            let negative_matches = text_matches(&batch.scenes, &negatives, device)?;
            let loss_of =
                |pictures: &Tensor, text_e: &Tensor, negative_e: &Tensor| {
                    let image_e = model.encode_images(pictures)?;
                    let loss = contrastive_loss_with_hard_negatives(
                        &image_e,
                        text_e,
                        negative_e,
                        &model.temperature,
                        &matches,
                        &negative_matches,
                    )?;
                    anyhow::Ok((loss, image_e))
                };
            let pictures = match &train.adversarial {
                None => pictures,
                Some(pgd) => {
                    rng.set_stream(2); // PGD's random starts
                    let (text_e, negative_e) =
                        (text_e.detach(), negative_e.detach());
                    let loss = |p: &Tensor| Ok(loss_of(p, &text_e, &negative_e)?.0);
                    perturb(&pictures, loss, pgd, &mut rng)?
                }
            };
            let (loss, image_e) = loss_of(&pictures, &text_e, &negative_e)?;
            Ok((loss, (image_e, text_e, matches)))
        };
    fit(
        varmap.all_vars(),
        train.steps,
        |step| cosine_learning_rate(train.learning_rate, step, train.steps),
        step_loss,
        |step, loss, (image_e, text_e, matches)| {
            clamp_temperature(&temperature)?;
            let report = StepReport {
                loss,
                accuracy: batch_accuracy(&image_e, &text_e, &matches)?,
            };
            reports.push(report);
            on_step(step, report);
            Ok(())
        },
    )?;
    Ok((model, varmap, reports))
}

/// Word vectors start from N(0, 1), as PyTorch's `nn.Embedding` starts them.
/// Started within ±1/√32 like a linear layer's weights, every caption read
/// almost alike at first, and training sat at chance for up to 300 steps
/// instead of about 140 (the lab notebook has the runs).
fn seed_word_vectors(
    varmap: &VarMap,
    seed: u64,
    device: &Device,
) -> anyhow::Result<()> {
    let words =
        varmap.data().lock().expect("varmap lock")["text_encoder.words.weight"]
            .clone();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(3); // not the stream of the other weights
    let (ids, size) = words.dims2()?;
    Ok(words.set(&standard_normal(ids, size, &mut rng, device)?)?)
}

/// CLIP keeps e^t within [1, 100] by clipping t after every step.
fn clamp_temperature(temperature: &Var) -> candle_core::Result<()> {
    temperature.set(&temperature.clamp(0f32, MAX_LOGIT_SCALE.ln() as f32)?)
}

fn batch_accuracy(
    image_e: &Tensor,
    text_e: &Tensor,
    matches: &Tensor,
) -> candle_core::Result<f32> {
    let best = image_e.matmul(&text_e.t()?)?.argmax(1)?.to_vec1::<u32>()?;
    let matches = matches.to_vec2::<f32>()?;
    let right = best
        .iter()
        .enumerate()
        .filter(|&(i, &j)| matches[i][j as usize] > 0.5)
        .count();
    Ok(right as f32 / best.len() as f32)
}

/// The trained mini-CLIP shipped with the course (`clip-art train-clip`).
const SHIPPED_WEIGHTS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/weights/mini-clip.safetensors"
));

/// Two more, trained the same way with seeds 1 and 2 (`clip-art train-clip
/// --seed 1`), to guide generation together with the first.
const SHIPPED_SEEDS: [(u64, &[u8]); 3] = [
    (0, SHIPPED_WEIGHTS),
    (
        1,
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/weights/mini-clip-seed1.safetensors"
        )),
    ),
    (
        2,
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/weights/mini-clip-seed2.safetensors"
        )),
    ),
];

/// What `train-clip` names a run's files: `mini-clip` for seed 0 (chapter
/// 5's model), `mini-clip-seed{seed}` for the others.
pub fn file_stem(seed: u64) -> String {
    match seed {
        0 => "mini-clip".to_string(),
        seed => format!("mini-clip-seed{seed}"),
    }
}

/// The three shipped mini-CLIPs (seeds 0, 1, 2) as one guide: generation's
/// default. Each alone finds the right two-object scene for about two thirds
/// of the prompts; together, for four in five (chapter 6).
pub fn shipped_ensemble(device: &Device) -> anyhow::Result<Ensemble<MiniClip>> {
    let members = SHIPPED_SEEDS
        .iter()
        .map(|&(seed, bytes)| {
            let name = format!("{}.safetensors", file_stem(seed));
            weights::shipped(bytes, &name, device, MiniClip::new)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ensemble::new(members)
}

/// The robust mini-CLIPs: the recipe of [`MiniClip::shipped`] trained on PGD
/// perturbations of radius 2/255 and 8/255 (`clip-art train-clip
/// --adversarial 2`, `--adversarial 8`).
const SHIPPED_ROBUST: [(u8, &[u8]); 2] = [
    (
        2,
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/weights/mini-clip-robust2.safetensors"
        )),
    ),
    (
        8,
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/weights/mini-clip-robust8.safetensors"
        )),
    ),
];

/// The shipped robust mini-CLIP trained at `radius`/255 (chapter 6's robust
/// guides: 2 or 8).
pub fn shipped_robust(radius: u8, device: &Device) -> anyhow::Result<MiniClip> {
    let Some((_, bytes)) = SHIPPED_ROBUST.iter().find(|(r, _)| *r == radius) else {
        bail!(
            "no robust mini-CLIP of radius {radius}/255 ships with the course: 2 or 8"
        );
    };
    let name = format!("mini-clip-robust{radius}.safetensors");
    weights::shipped(bytes, &name, device, MiniClip::new)
}

impl MiniClip {
    /// The trained mini-CLIP that ships with the course, for the default [`Config`].
    pub fn shipped(device: &Device) -> anyhow::Result<MiniClip> {
        weights::shipped(
            SHIPPED_WEIGHTS,
            "mini-clip.safetensors",
            device,
            MiniClip::new,
        )
    }

    /// Loads a mini-CLIP saved by `clip-art train-clip`.
    pub fn load(
        path: &Path,
        cfg: &Config,
        device: &Device,
    ) -> anyhow::Result<MiniClip> {
        weights::load(path, cfg, device, MiniClip::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Config {
        Config {
            image_size: 16,
            channels: [4, 8, 8],
            features: 16,
            embedding: 8,
            ..Config::default()
        }
    }

    #[test]
    fn captions_become_padded_word_ids_and_unknown_words_are_named()
    -> anyhow::Result<()> {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let model = MiniClip::new(vb, &tiny())?;
        let ids = model.word_ids("A red circle.")?;
        assert_eq!(ids.len(), 12);
        assert!(
            ids[..3].iter().all(|&id| id > 0) && ids[3..].iter().all(|&id| id == 0)
        );
        let vocabulary = &model.cfg.vocabulary;
        assert_eq!(vocabulary[ids[1] as usize - 1], "red");
        let unknown = model.word_ids("a photo of a cat").unwrap_err().to_string();
        assert!(unknown.contains("\"photo\""), "{unknown}");
        assert!(!unknown.contains("did you mean"), "{unknown}");
        let misspelt = model.word_ids("a bleu cirle").unwrap_err().to_string();
        assert!(misspelt.contains("did you mean blue"), "{misspelt}");
        let misspelt = model.word_ids("a red cirle").unwrap_err().to_string();
        assert!(misspelt.contains("did you mean circle"), "{misspelt}");
        let long = model.word_ids(&"a ".repeat(13)).unwrap_err().to_string();
        assert!(long.contains("13 words") && long.contains("12"), "{long}");
        Ok(())
    }

    #[test]
    fn every_caption_matches_its_own_scene() -> anyhow::Result<()> {
        let batch = SceneBatch::draw(64, 16, Split::Train, 5);
        let matches = caption_matches(&batch, &Device::Cpu)?.to_vec2::<f32>()?;
        for (i, row) in matches.iter().enumerate() {
            assert_eq!(row[i], 1.0, "{}", batch.captions[i]);
        }
        // Short captions ("a red circle") fit several scenes: the loss must know.
        let total: f32 = matches.iter().flatten().sum();
        assert!(total > 64.0);
        Ok(())
    }

    #[test]
    fn a_short_training_run_learns_colours() -> anyhow::Result<()> {
        let device = Device::Cpu;
        let train = TrainConfig {
            steps: 60,
            batch_size: 32,
            learning_rate: 3e-3,
            two_objects: 0.3,
            seed: 3,
            adversarial: None,
            from: None,
        };
        let (_, _, reports) = super::train(&tiny(), &train, &device, |_, _| {})?;
        let first = reports[0].loss;
        let last: f32 = reports[50..].iter().map(|r| r.loss).sum::<f32>() / 10.0;
        assert!(last < 0.8 * first, "loss {first} → {last}");
        Ok(())
    }

    #[test]
    fn word_vectors_start_from_a_standard_normal() -> anyhow::Result<()> {
        let train = TrainConfig {
            steps: 1,
            batch_size: 8,
            learning_rate: 0.0,
            ..TrainConfig::default()
        };
        let (_, vars, _) = super::train(&tiny(), &train, &Device::Cpu, |_, _| {})?;
        let words = vars.data().lock().unwrap()["text_encoder.words.weight"]
            .as_tensor()
            .flatten_all()?
            .to_vec1::<f32>()?;
        let n = words.len() as f32;
        let mean = words.iter().sum::<f32>() / n;
        let std = (words.iter().map(|w| (w - mean).powi(2)).sum::<f32>() / n).sqrt();
        // Over a thousand draws: mean within 0.1 of 0 and spread within 10% of 1.
        assert!(words.len() > 1000, "{}", words.len());
        assert!(
            mean.abs() < 0.1 && (std - 1.0).abs() < 0.1,
            "{mean} ± {std}"
        );
        Ok(())
    }

    #[test]
    fn fine_tuning_starts_from_the_given_weights() -> anyhow::Result<()> {
        let device = Device::Cpu;
        let first = TrainConfig {
            steps: 3,
            batch_size: 8,
            seed: 4,
            ..TrainConfig::default()
        };
        let (_, trained, _) = super::train(&tiny(), &first, &device, |_, _| {})?;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("start.safetensors");
        crate::nn::weights::save_weights(&trained, &path)?;
        // A learning rate of zero keeps the start: every weight is the file's.
        let again = TrainConfig {
            learning_rate: 0.0,
            seed: 5,
            from: Some(path.clone()),
            ..first
        };
        let (_, tuned, _) = super::train(&tiny(), &again, &device, |_, _| {})?;
        let (trained, tuned) =
            (trained.data().lock().unwrap(), tuned.data().lock().unwrap());
        for (name, var) in trained.iter() {
            let gap = (var.as_tensor() - tuned[name].as_tensor())?
                .abs()?
                .max_all()?;
            assert_eq!(gap.to_scalar::<f32>()?, 0.0, "{name}");
        }
        let missing = TrainConfig {
            from: Some(dir.path().join("missing.safetensors")),
            ..again
        };
        let error = super::train(&tiny(), &missing, &device, |_, _| {})
            .err()
            .expect("no such file");
        assert!(error.to_string().contains("missing.safetensors"), "{error}");
        Ok(())
    }

    #[test]
    fn the_learning_rate_falls_along_a_cosine_from_its_peak_to_zero() {
        assert_eq!(cosine_learning_rate(0.002, 0, 100), 0.002);
        assert!((cosine_learning_rate(0.002, 50, 100) - 0.001).abs() < 1e-12);
        let late = cosine_learning_rate(0.002, 99, 100);
        assert!(late > 0.0 && late < 2e-6, "{late}");
    }

    #[test]
    fn the_gradient_reaches_the_pixels() -> anyhow::Result<()> {
        // Guidance (chapter 6) differentiates CLIP's score with respect to the image.
        let varmap = VarMap::new();
        let device = Device::Cpu;
        let model = MiniClip::new(
            VarBuilder::from_varmap(&varmap, DType::F64, &device),
            &tiny(),
        )?;
        let pixels = Var::rand(0f64, 1.0, (1, 3, 16, 16), &device)?;
        let text = model.text_embeddings(&["a red circle"])?;
        let score = |p: &Tensor| -> anyhow::Result<Tensor> {
            let logits = super::super::loss::similarity_logits(
                &model.image_embeddings(p)?,
                &text,
                &model.temperature,
            )?;
            Ok(logits.sum_all()?)
        };
        let grads = score(&pixels)?.backward()?;
        let grad: Vec<f64> = grads
            .get(&pixels)
            .expect("gradient")
            .flatten_all()?
            .to_vec1()?;
        for k in [0usize, 100, 500, 767] {
            let mut bump = vec![0.0; 768];
            bump[k] = 1e-5;
            let bump = Tensor::from_vec(bump, (1, 3, 16, 16), &device)?;
            let up = score(&(pixels.as_tensor() + &bump)?)?.to_scalar::<f64>()?;
            let down = score(&(pixels.as_tensor() - &bump)?)?.to_scalar::<f64>()?;
            let numeric = (up - down) / 2e-5;
            assert!(
                (numeric - grad[k]).abs() < 1e-6 + 1e-4 * numeric.abs(),
                "{k}: {numeric} vs {}",
                grad[k]
            );
        }
        Ok(())
    }
}

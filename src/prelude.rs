//! What a notebook cell needs, in one line: `use clip_art::prelude::*;`.
//!
//! The names every chapter uses (a module's own `Config` and `TrainConfig`
//! stay in it: `use clip_art::models::autoencoder::*;`), candle's tensor
//! types, and [`Studio`]: the shipped guide and generator in one value that a
//! cell can keep for the next.
//!
//! ```no_run
//! use clip_art::prelude::*;
//! let studio = Studio::shipped()?;
//! let art = studio.generate("a red circle above a blue square")?;
//! println!("{:?}", art.verdict);
//! # anyhow::Ok(())
//! ```

pub use std::ops::ControlFlow;

pub use candle_core::{self, D, DType, Device, Module, Tensor, Var};
pub use image::{self, RgbImage};
pub use rand::{Rng, SeedableRng};
pub use rand_chacha::ChaCha8Rng;

pub use crate::basics::one_hot::*;
pub use crate::basics::pixels::*;
pub use crate::basics::softmax::*;
pub use crate::clip::Clip;
pub use crate::clip::loss::{
    INITIAL_TEMPERATURE, MAX_LOGIT_SCALE, contrastive_loss,
    contrastive_loss_with_matches, l2_normalize, similarity_logits,
};
pub use crate::clip::mini::{MiniClip, shipped_ensemble, shipped_robust};
pub use crate::clip::robust::{Pgd, perturb, pgd_step};
pub use crate::clip::zero_shot::{
    MINI_TEMPLATES, PHOTO_TEMPLATES, Ranking, colour_shape_labels, fill_template,
    label_embeddings, probabilities, single_object_scene,
};
pub use crate::eval::clip::evaluate;
pub use crate::eval::editing::{EditCase, edit_cases};
pub use crate::eval::generation::is_valid_scene;
pub use crate::eval::nada::judge_edit;
pub use crate::eval::shapes::run_experiment;
pub use crate::eval::table::Table;
pub use crate::guide::augment::Distortions;
pub use crate::guide::big_sleep::{
    BigSleepSettings, Dreamed, big_sleep, latent_statistics_loss,
};
pub use crate::guide::biggan::{
    BigSleep, BigSleepConfig, big_sleep_boxes, class_loss, differentiable_top_k,
    dream,
};
pub use crate::guide::cutouts::{Cutouts, Resampling};
pub use crate::guide::editing::{EDIT_WEIGHT, EditMethod, edit};
pub use crate::guide::engine::{Guide, GuideConfig, Keep};
pub use crate::guide::generate::{BANK_SEED, Bank, Settings, Start, generate};
pub use crate::guide::generators::{
    Fourier, Generator, PixelDraw, RawPixels, snapshot,
};
pub use crate::guide::layers::{Layer, LayeredGenerator, SearchSettings, search};
pub use crate::guide::nada::{
    Edit, Freedom, NadaSettings, Tuned, chosen_units, directional_loss, fine_tune,
    text_direction,
};
pub use crate::guide::presets::GeneratorKind;
pub use crate::guide::prior::ScenePrior;
pub use crate::guide::prompts::Prompt;
pub use crate::guide::vq::VqModel;
pub use crate::guide::vqgan::{VqganGenerator, clamp_with_grad};
pub use crate::models::autoencoder::Autoencoder;
pub use crate::models::biggan::BigGan;
pub use crate::models::latent::{
    attribute_matrix, decode, encode, interpolate, least_squares_directions,
    mean_difference, pca,
};
pub use crate::models::vae::Vae;
pub use crate::models::vqgan::VqGan;
pub use crate::nn::batch::{batch_to_images, images_to_batch};
pub use crate::viz::picture::Picture;
pub use crate::viz::plot::{Series, line_chart, moving_average, similarity_matrix};
pub use crate::world::faces::{Attribute, Face, FaceBatch};
pub use crate::world::judge::faces::{
    CONTINUOUS_TOLERANCE, FACE_ERROR_LIMIT, Verdict, agreement, face_rate,
    judge_face, judge_faces,
};
pub use crate::world::judge::scenes::{SeenObject, judge_scene};
pub use crate::world::requests::Request;
pub use crate::world::scenes::{Colour, Scene, SceneBatch, Split};
pub use crate::world::shapes::{Shape, ShapeBatch, ShapeSpec};

use crate::clip::ensemble::Ensemble;
use crate::guide::generate::DEFAULT_BANK;

/// What the judge says of `picture` as a picture of `prompt`: `Ok`, or what it
/// found wrong. Of several prompts (`a | b:-0.5`) the first one that pulls is
/// judged; a prompt outside the scenes' language cannot be.
pub fn judge(prompt: &str, picture: &RgbImage) -> Result<(), String> {
    let prompts = Prompt::parse_all(prompt).map_err(|e| e.to_string())?;
    let wanted = prompts
        .iter()
        .find(|p| p.weight > 0.0)
        .map_or(prompt, |p| &p.text);
    let request = Request::parse(wanted).ok_or_else(|| {
        format!("the judge cannot read {wanted:?}: it knows the scenes' language")
    })?;
    request.verdict(&judge_scene(picture))
}

/// A verdict in words: `✓ as asked`, or `✗` and what the judge found wrong.
pub fn in_words(verdict: &Result<(), String>) -> String {
    match verdict {
        Ok(()) => "✓ as asked".to_string(),
        Err(reason) => format!("✗ {reason}"),
    }
}

/// `clip-art generate`'s models in one value: the shipped guide (three
/// mini-CLIPs together), the layered generator it steers from noise, and for
/// retrieval and editing the shipped VQ decoder and its bank of drawn scenes.
/// It owns them all, so a cell can keep it.
pub struct Studio {
    pub clip: Ensemble<MiniClip>,
    pub layers: LayeredGenerator,
    pub vq: VqModel,
    pub bank: Bank,
    pub device: Device,
}

/// A generated picture with how it was made and what the judge saw.
#[derive(Debug, Clone)]
pub struct Artwork {
    pub prompt: String,
    pub picture: RgbImage,
    /// The way to the result (the search's kept start and each change, or
    /// every few steps of the first start), then the result.
    pub frames: Vec<RgbImage>,
    /// The guide's loss at each change, or at every step of the first start.
    pub losses: Vec<f32>,
    /// The judge's verdict on `picture`.
    pub verdict: Result<(), String>,
}

impl Studio {
    /// The shipped models on the CPU, with the layered generator's sprites
    /// learned (seeded) and the bank `--start retrieve` uses.
    pub fn shipped() -> anyhow::Result<Studio> {
        let device = Device::Cpu;
        let vq = VqModel::shipped(&device)?;
        let bank =
            Bank::new(DEFAULT_BANK, vq.config.image_size, BANK_SEED, &device)?;
        Ok(Studio {
            clip: shipped_ensemble(&device)?,
            layers: LayeredGenerator::learn(&Default::default(), &device)?,
            vq,
            bank,
            device,
        })
    }

    /// The VQ decoder's settings for retrieval and editing (seed 0).
    pub fn settings(&self) -> Settings {
        GeneratorKind::Vq.settings(self.clip.image_size())
    }

    /// A picture for `prompt` (VQGAN+CLIP's syntax: `text:weight`, several
    /// separated by `|`) from noise, as `clip-art generate` makes it: the
    /// guide's search over the layered generator ([`search`]). The frames
    /// are the kept start and each change the search took.
    pub fn generate(&self, prompt: &str) -> anyhow::Result<Artwork> {
        self.generate_guided_by(&self.clip, prompt)
    }

    /// The same with another guide, such as the robust mini-CLIP.
    pub fn generate_guided_by(
        &self,
        clip: &dyn Clip,
        prompt: &str,
    ) -> anyhow::Result<Artwork> {
        let guide = Guide::new(clip, &Prompt::parse_all(prompt)?)?;
        let found = search(&self.layers, &guide, &SearchSettings::default())?;
        let (latents, losses): (Vec<Vec<f32>>, Vec<f32>) =
            found.path.into_iter().unzip();
        let mut frames = batch_to_images(&self.layers.decode_rows(&latents)?)?;
        let picture = frames
            .pop()
            .unwrap_or(tensor_to_image(&found.picture.get(0)?)?);
        Ok(self.artwork(prompt, picture, frames, losses))
    }

    /// Retrieval, the contrast to generation: the VQ decoder started from the
    /// bank's drawn scene the guide ranks best, then optimised, as
    /// `clip-art generate --generator vq --start retrieve` does.
    pub fn retrieve(&self, prompt: &str) -> anyhow::Result<Artwork> {
        self.retrieve_with(prompt, &self.settings())
    }

    /// The same with other settings (steps, learning rate, restarts, seed …).
    pub fn retrieve_with(
        &self,
        prompt: &str,
        settings: &Settings,
    ) -> anyhow::Result<Artwork> {
        let guide = Guide::new(&self.clip, &Prompt::parse_all(prompt)?)?;
        let every = (settings.steps / 8).max(1);
        let (mut frames, mut losses) = (Vec::new(), Vec::new());
        let outcome =
            generate(&guide, &self.vq, Start::Bank(&self.bank), settings, |s| {
                if s.restart == 0 {
                    losses.push(s.loss);
                    if s.step % every == 0 {
                        frames.extend(snapshot(s.generator).ok());
                    }
                }
                ControlFlow::Continue(())
            })?;
        let picture = tensor_to_image(&outcome.picture.get(0)?)?;
        Ok(self.artwork(prompt, picture, frames, losses))
    }

    /// A picture for `prompt` from noise, with a generator that has no prior
    /// (raw pixels, Fourier, PixelDraw) and its presets.
    pub fn generate_free(
        &self,
        kind: GeneratorKind,
        prompt: &str,
    ) -> anyhow::Result<Artwork> {
        self.generate_free_guided_by(&self.clip, kind, prompt)
    }

    /// The same with another guide, such as the robust mini-CLIP.
    pub fn generate_free_guided_by(
        &self,
        clip: &dyn Clip,
        kind: GeneratorKind,
        prompt: &str,
    ) -> anyhow::Result<Artwork> {
        let settings = kind.settings(clip.image_size());
        let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
        let generator =
            kind.fresh(self.vq.config.image_size, &mut rng, &self.device)?;
        self.steer(clip, generator.as_ref(), prompt, &settings)
    }

    /// VQGAN+CLIP: a picture `side`×`side` for `prompt` from random codes of
    /// `vqgan` ([`VqGan::from_folder`]), steered by the shipped guide with the
    /// VQGAN's presets.
    pub fn generate_vqgan(
        &self,
        vqgan: &VqGan,
        prompt: &str,
        side: usize,
    ) -> anyhow::Result<Artwork> {
        let settings = GeneratorKind::Vqgan.settings(self.clip.image_size());
        let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
        let generator = VqganGenerator::random(vqgan, side, &mut rng)?;
        self.steer(&self.clip, &generator, prompt, &settings)
    }

    /// Big Sleep: a picture for `prompt` from BigGAN `biggan`
    /// ([`BigGan::from_folder`]), its latents moved by Big Sleep's loop for
    /// `steps` steps, steered by the shipped guide; the film and the result
    /// are the pictures of the latents' moving average.
    pub fn generate_biggan(
        &self,
        biggan: &BigGan,
        prompt: &str,
        steps: usize,
    ) -> anyhow::Result<Artwork> {
        let guide = Guide::new(&self.clip, &Prompt::parse_all(prompt)?)?;
        let cfg = BigSleepConfig {
            steps,
            ..BigSleepConfig::new(self.clip.image_size())
        };
        let mut sleep = BigSleep::new(biggan, &cfg)?;
        let every = (steps / 8).max(1);
        let mut frames = Vec::new();
        let losses = dream(&mut sleep, &guide, &cfg, |step, _, sleep| {
            if step % every == 0 {
                frames.extend(snapshot(&sleep.averaged()).ok());
            }
            ControlFlow::Continue(())
        })?;
        let picture = snapshot(&sleep.averaged())?;
        Ok(self.artwork(prompt, picture, frames, losses))
    }

    /// Guidance of `generator` by `clip` from where it is, recording its film.
    fn steer(
        &self,
        clip: &dyn Clip,
        generator: &dyn Generator,
        prompt: &str,
        settings: &Settings,
    ) -> anyhow::Result<Artwork> {
        let guide = Guide::new(clip, &Prompt::parse_all(prompt)?)?;
        let every = (settings.steps / 8).max(1);
        let (mut frames, mut losses) = (Vec::new(), Vec::new());
        let cfg = settings.guide_config(settings.seed);
        guide.run(generator, &cfg, |step, loss| {
            losses.push(loss);
            if step % every == 0 {
                frames.extend(snapshot(generator).ok());
            }
            ControlFlow::Continue(())
        })?;
        let picture = snapshot(generator)?;
        Ok(self.artwork(prompt, picture, frames, losses))
    }

    fn artwork(
        &self,
        prompt: &str,
        picture: RgbImage,
        mut frames: Vec<RgbImage>,
        losses: Vec<f32>,
    ) -> Artwork {
        frames.push(picture.clone());
        Artwork {
            verdict: judge(prompt, &picture),
            prompt: prompt.to_string(),
            picture,
            frames,
            losses,
        }
    }
}

impl Artwork {
    /// The frames side by side, enlarged: the picture forming.
    pub fn film(&self) -> anyhow::Result<Picture> {
        Ok(Picture::grid(&self.frames, self.frames.len())?.scaled(2))
    }

    /// The judge's verdict in words.
    pub fn verdict_text(&self) -> String {
        format!("{:?}: {}", self.prompt, in_words(&self.verdict))
    }

    /// Shows the picture, enlarged, with the judge's verdict under it.
    #[cfg(feature = "evcxr")]
    pub fn evcxr_display(&self) {
        use base64::Engine;
        match Picture(self.picture.clone()).scaled(4).png_bytes() {
            Ok(png) => println!(
                "EVCXR_BEGIN_CONTENT text/html\n<img src=\"data:image/png;base64,{}\"><p>{}</p>\nEVCXR_END_CONTENT",
                base64::engine::general_purpose::STANDARD.encode(png),
                html_escape::encode_text(&self.verdict_text())
            ),
            Err(error) => println!("cannot encode picture: {error}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_judge_reads_a_drawn_scene_and_refuses_other_words() {
        let batch = SceneBatch::draw(1, 64, Split::Train, 3);
        assert_eq!(judge(&batch.captions[0], &batch.images[0]), Ok(()));
        let error = judge("a cat on a mat", &batch.images[0]).unwrap_err();
        assert!(error.contains("cannot read"), "{error}");
        let both = format!("{} | a blue star:-0.5", batch.captions[0]);
        assert_eq!(judge(&both, &batch.images[0]), Ok(()));
        assert_eq!(in_words(&Ok(())), "✓ as asked");
        assert_eq!(in_words(&Err("moved".into())), "✗ moved");
    }

    #[test]
    fn the_studio_is_seeded_and_judged() -> anyhow::Result<()> {
        let studio = Studio::shipped()?;
        let settings = Settings {
            steps: 3,
            ..studio.settings()
        };
        let art = studio.retrieve_with("a red circle", &settings)?;
        assert_eq!(art.losses.len(), 3);
        assert_eq!(art.frames.last(), Some(&art.picture));
        assert_eq!(art.verdict, judge("a red circle", &art.picture));
        let again = studio.retrieve_with("a red circle", &settings)?;
        assert_eq!(again.picture, art.picture, "same seed, same picture");
        let art = studio.generate("a red circle")?;
        assert_eq!(art.frames.len(), art.losses.len());
        assert_eq!(art.verdict, judge("a red circle", &art.picture));
        assert_eq!(studio.generate("a red circle")?.picture, art.picture);
        Ok(())
    }
}

//! Editing and image prompts (chapter 7), measured by the judge.
//!
//! Editing: start from a picture and steer it with text. The objective is
//! the prompts' loss plus an init weight times a distance to the picture
//! ([`Keep`]); it is minimised like chapter 6's, by ranking drawn scenes and
//! then by gradient steps, or by gradient steps from the picture alone.
//!
//! The test: a drawn one-object scene, and the prompt names the same shape in
//! another colour ("a blue circle" for a red circle). The judge must see one
//! object, of the new colour, the same shape, in the same place.

use std::time::Instant;

use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::engine::{Guide, Keep};
use super::generate::{Bank, Settings, Start, generate};
use super::generators::{Generator, RawPixels};
use super::prompts::Prompt;
use super::vq::VqModel;
use crate::clip::Clip;
use crate::models::autoencoder::images_to_batch;
use crate::world::judge::scenes::{SeenObject, judge_scene};
use crate::world::requests::Request;
use crate::world::scenes::{Colour, HELD_OUT, Scene, Split, with_articles};

/// The init weight of `clip-art generate --init` with [`Keep::Layout`]
/// (`clip-art edit-report`, 20 edits: weight 1 → 40% right, 5 and 20 → 85%).
pub const EDIT_WEIGHT: f64 = 5.0;

/// One editing test: a scene and the colour its object should take.
#[derive(Debug, Clone)]
pub struct EditCase {
    pub scene: Scene,
    pub target: Colour,
    /// "a blue circle".
    pub prompt: String,
}

/// `count` one-object training-split scenes, each with another colour whose
/// pair with the shape was trained too, drawn with `seed`.
pub fn edit_cases(count: usize, seed: u64) -> Vec<EditCase> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut cases = Vec::with_capacity(count);
    while cases.len() < count {
        let scene = Scene::random(Split::Train, &mut rng);
        let [object] = scene.objects.as_slice() else {
            continue;
        };
        let target = Colour::ALL[rng.random_range(0..Colour::ALL.len())];
        if target == object.colour || HELD_OUT.contains(&(target, object.shape)) {
            continue;
        }
        let prompt = with_articles(&format!("a {} {}", target.name(), object.shape.name()));
        cases.push(EditCase {
            scene,
            target,
            prompt,
        });
    }
    cases
}

impl EditCase {
    /// `Ok` when the judge sees one object of the target colour with the
    /// original shape and place; otherwise what it saw instead.
    pub fn verdict(&self, seen: &[SeenObject]) -> Result<(), String> {
        let object = self.scene.objects[0];
        let [found] = seen else {
            return Err(format!("{} objects instead of one", seen.len()));
        };
        let described = with_articles(&format!("a {} {}", found.colour.name(), found.shape.name()));
        if found.colour != self.target {
            return Err(format!(
                "{described}: the colour did not become {}",
                self.target.name()
            ));
        }
        if found.shape != object.shape {
            return Err(format!("{described}: the {} was lost", object.shape.name()));
        }
        if found.position != object.position {
            return Err(format!("{described}: it moved"));
        }
        Ok(())
    }
}

/// How an edit is searched for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EditMethod {
    /// Rank the bank by the whole objective (prompt + init weight · distance),
    /// then optimise the best with the VQ decoder: `clip-art generate --init`.
    Bank(Keep, f64),
    /// Gradient steps on the VQ decoder from the picture's own encoding.
    FromPicture(Keep, f64),
    /// Gradient steps on every pixel from the picture.
    RawPixels(Keep, f64),
}

impl EditMethod {
    pub fn name(&self) -> String {
        let (how, keep, weight) = match self {
            EditMethod::Bank(k, w) => ("bank scenes ranked by the objective, then VQ steps", k, w),
            EditMethod::FromPicture(k, w) => ("VQ steps from the picture's own codes", k, w),
            EditMethod::RawPixels(k, w) => ("raw-pixel steps from the picture", k, w),
        };
        let keep = match keep {
            Keep::Pixels => "pixels",
            Keep::Layout => "layout",
        };
        format!("{how}; keep {keep}, init weight {weight}")
    }
}

/// One edit and its grade.
#[derive(Debug, Clone)]
pub struct EditTrial {
    pub prompt: String,
    pub before: image::RgbImage,
    pub after: image::RgbImage,
    pub verdict: Result<(), String>,
    pub seconds: f32,
}

// ANCHOR: edit
/// Edits `init` `[1, 3, s, s]` towards `prompts` with `method`.
pub fn edit(
    clip: &dyn Clip,
    vq: &VqModel,
    bank: &Bank,
    init: &Tensor,
    prompts: &[Prompt],
    method: EditMethod,
    settings: &Settings,
) -> anyhow::Result<Tensor> {
    let (EditMethod::Bank(keep, weight)
    | EditMethod::FromPicture(keep, weight)
    | EditMethod::RawPixels(keep, weight)) = method;
    let guide = Guide::new(clip, prompts)?.anchored(init, keep, weight);
    let start = match method {
        EditMethod::Bank(..) => Start::Bank(bank),
        _ => Start::Picture(init),
    };
    Ok(match method {
        EditMethod::Bank(..) | EditMethod::FromPicture(..) => {
            generate(&guide, vq, start, settings, |_| {
                std::ops::ControlFlow::Continue(())
            })?
            .picture
        }
        EditMethod::RawPixels(..) => {
            let generator = RawPixels::from_picture(init)?;
            guide.run(&generator, &settings.guide_config(settings.seed), |_, _| {
                std::ops::ControlFlow::Continue(())
            })?;
            generator.render()?.detach()
        }
    })
}
// ANCHOR_END: edit

/// Edits every case with `method` and grades it.
pub fn run_edits(
    clip: &dyn Clip,
    vq: &VqModel,
    bank: &Bank,
    method: EditMethod,
    settings: &Settings,
    cases: &[EditCase],
    mut on_trial: impl FnMut(&EditTrial),
) -> anyhow::Result<Vec<EditTrial>> {
    let device = bank.pictures.device();
    let size = vq.config.image_size as u32;
    let mut trials = Vec::with_capacity(cases.len());
    for (i, case) in cases.iter().enumerate() {
        let started = Instant::now();
        let before = case.scene.draw(size);
        let init = images_to_batch(std::slice::from_ref(&before), device)?;
        let settings = Settings {
            seed: settings.seed.wrapping_add(i as u64),
            ..settings.clone()
        };
        let picture = edit(
            clip,
            vq,
            bank,
            &init,
            &[Prompt::parse(&case.prompt, 1)?],
            method,
            &settings,
        )?;
        let after = crate::basics::pixels::tensor_to_image(&picture.get(0)?)?;
        let trial = EditTrial {
            prompt: case.prompt.clone(),
            verdict: case.verdict(&judge_scene(&after)),
            before,
            after,
            seconds: started.elapsed().as_secs_f32(),
        };
        on_trial(&trial);
        trials.push(trial);
    }
    Ok(trials)
}

/// One image-prompt test: generate from a drawn scene's picture alone; the
/// judge checks the result against that scene's caption.
pub struct ImagePromptTrial {
    pub caption: String,
    pub prompt_picture: image::RgbImage,
    pub picture: image::RgbImage,
    pub verdict: Result<(), String>,
}

/// Generates from `count` unseen scenes' pictures used as image prompts.
pub fn run_image_prompts(
    clip: &dyn Clip,
    vq: &VqModel,
    bank: &Bank,
    settings: &Settings,
    count: usize,
    seed: u64,
    mut on_trial: impl FnMut(&ImagePromptTrial),
) -> anyhow::Result<Vec<ImagePromptTrial>> {
    let device: &Device = bank.pictures.device();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut trials = Vec::with_capacity(count);
    for i in 0..count {
        let scene = Scene::random(Split::Train, &mut rng);
        let caption = scene.phrasings().swap_remove(0);
        let prompt_picture = scene.draw(vq.config.image_size as u32);
        let target = images_to_batch(std::slice::from_ref(&prompt_picture), device)?;
        let guide = Guide::new(clip, &[])?.with_image_prompt("the scene", &target, 1.0)?;
        let settings = Settings {
            seed: settings.seed.wrapping_add(i as u64),
            ..settings.clone()
        };
        let outcome = generate(&guide, vq, Start::Bank(bank), &settings, |_| {
            std::ops::ControlFlow::Continue(())
        })?;
        let picture = crate::basics::pixels::tensor_to_image(&outcome.picture.get(0)?)?;
        let request = Request::parse(&caption)
            .ok_or_else(|| anyhow::anyhow!("caption {caption:?} is not in the scenes' language"))?;
        let trial = ImagePromptTrial {
            verdict: request.verdict(&judge_scene(&picture)),
            caption,
            prompt_picture,
            picture,
        };
        on_trial(&trial);
        trials.push(trial);
    }
    Ok(trials)
}

/// "80% (16/20)" of the verdicts that are `Ok`.
pub fn success_rate<'a>(verdicts: impl IntoIterator<Item = &'a Result<(), String>>) -> String {
    let (mut ok, mut all) = (0, 0);
    for verdict in verdicts {
        all += 1;
        ok += usize::from(verdict.is_ok());
    }
    format!("{:.0}% ({ok}/{all})", 100.0 * ok as f32 / all.max(1) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clip::mini::MiniClip;
    use crate::world::scenes::{Position, Size};
    use crate::world::shapes::Shape;

    #[test]
    fn cases_change_the_colour_and_keep_trained_pairs() {
        let cases = edit_cases(50, 3);
        assert_eq!(cases.len(), 50);
        for case in &cases {
            let object = case.scene.objects[0];
            assert_ne!(case.target, object.colour);
            assert!(!HELD_OUT.contains(&(case.target, object.shape)));
            assert_eq!(
                case.prompt,
                with_articles(&format!("a {} {}", case.target.name(), object.shape.name()))
            );
        }
    }

    #[test]
    fn the_verdict_names_what_went_wrong() {
        let case = edit_cases(1, 5).remove(0);
        let object = case.scene.objects[0];
        let seen = |colour, shape, column| SeenObject {
            colour,
            shape,
            size: Size::Small,
            position: Position {
                column,
                row: object.position.row,
            },
            overlap: 1.0,
        };
        let other_shape = if object.shape == Shape::Circle {
            Shape::Square
        } else {
            Shape::Circle
        };
        let here = object.position.column;
        assert_eq!(
            case.verdict(&[seen(case.target, object.shape, here)]),
            Ok(())
        );
        let unchanged = case.verdict(&[seen(object.colour, object.shape, here)]);
        assert!(unchanged.unwrap_err().contains("did not become"));
        let reshaped = case.verdict(&[seen(case.target, other_shape, here)]);
        assert!(reshaped.unwrap_err().contains("was lost"));
        let moved = case.verdict(&[seen(case.target, object.shape, (here + 1) % 3)]);
        assert!(moved.unwrap_err().contains("moved"));
        assert!(case.verdict(&[]).unwrap_err().contains("0 objects"));
    }

    #[test]
    fn the_judge_passes_a_redrawn_scene_and_fails_the_original() {
        // The verdict is the judge's: the scene redrawn in the target colour
        // passes, the unedited picture does not.
        for case in edit_cases(10, 11) {
            let mut edited = case.scene.clone();
            edited.objects[0].colour = case.target;
            assert_eq!(case.verdict(&judge_scene(&edited.draw(64))), Ok(()));
            assert!(case.verdict(&judge_scene(&case.scene.draw(64))).is_err());
        }
    }

    #[test]
    fn an_image_prompt_pulls_towards_its_picture() -> anyhow::Result<()> {
        // Scored against itself an image prompt is the best picture there is:
        // its spherical distance to its own embedding is zero.
        let device = Device::Cpu;
        let clip = MiniClip::shipped(&device)?;
        let bank = Bank::draw(16, 64, 7, &device)?;
        let target = bank.pictures.narrow(0, 3, 1)?;
        let guide = Guide::new(&clip, &[])?.with_image_prompt("scene 3", &target, 1.0)?;
        let scores = guide.scores(&bank.pictures)?;
        assert!(scores[3].abs() < 1e-3, "{scores:?}");
        let best = (0..16).min_by(|&a, &b| scores[a].total_cmp(&scores[b]));
        assert_eq!(best, Some(3));
        let bad = Guide::new(&clip, &[])?.with_image_prompt("grey", &bank.pictures, 1.0);
        assert!(bad.err().unwrap().to_string().contains("[1, 3, h, w]"));
        Ok(())
    }
}

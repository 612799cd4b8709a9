//! Chapter 7 measured by the judge: editing by each method, generation from
//! image prompts, and prompt modifiers (`clip-art edit-report`).
//!
//! The editing test: a drawn one-object scene, and the prompt names the same
//! shape in another colour ("a blue circle" for a red circle). The judge must
//! see one object, of the new colour, the same shape, in the same place.

use std::time::Instant;

use candle_core::Device;
use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::table::{Table, median, success_rate, verdict_line};
use crate::clip::Clip;
use crate::clip::zero_shot::fill_template;
use crate::guide::editing::{EDIT_WEIGHT, EditMethod, edit};
use crate::guide::engine::{Guide, Keep};
use crate::guide::generate::{
    BANK_SEED, Bank, RANDOM_BANK, Settings, Start, generate,
};
use crate::guide::prompts::Prompt;
use crate::guide::vq::VqModel;
use crate::nn::batch::images_to_batch;
use crate::nn::progress::{Progress, stop_if_interrupted};
use crate::world::judge::scenes::{SeenObject, judge_scene};
use crate::world::requests::Request;
use crate::world::scenes::{Colour, HELD_OUT, Scene, Split, with_articles};

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
        let prompt =
            with_articles(&format!("a {} {}", target.name(), object.shape.name()));
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
        let described = with_articles(&format!(
            "a {} {}",
            found.colour.name(),
            found.shape.name()
        ));
        if found.colour != self.target {
            return Err(format!(
                "{described}: the colour did not become {}",
                self.target.name()
            ));
        }
        if found.shape != object.shape {
            return Err(format!(
                "{described}: the {} was lost",
                object.shape.name()
            ));
        }
        if found.position != object.position {
            return Err(format!("{described}: it moved"));
        }
        Ok(())
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
        stop_if_interrupted("the report was not written")?;
        let started = Instant::now();
        let before = case.scene.draw(size);
        let init = images_to_batch(std::slice::from_ref(&before), device)?;
        let settings = settings.for_trial(i);
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
        stop_if_interrupted("the report was not written")?;
        let scene = Scene::random(Split::Train, &mut rng);
        let caption = scene.phrasings().swap_remove(0);
        let prompt_picture = scene.draw(vq.config.image_size as u32);
        let target = images_to_batch(std::slice::from_ref(&prompt_picture), device)?;
        let guide =
            Guide::new(clip, &[])?.with_image_prompt("the scene", &target, 1.0)?;
        let settings = settings.for_trial(i);
        let outcome = generate(&guide, vq, Start::Bank(bank), &settings, |_| {
            std::ops::ControlFlow::Continue(())
        })?;
        let picture =
            crate::basics::pixels::tensor_to_image(&outcome.picture.get(0)?)?;
        let request = Request::parse(&caption).ok_or_else(|| {
            anyhow::anyhow!("caption {caption:?} is not in the scenes' language")
        })?;
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

/// What `clip-art edit-report` measured: its three tables, the pictures to
/// look at, and every verdict.
pub struct EditingReport {
    /// Editing by each method, generation from image prompts, prompt modifiers.
    pub tables: [Table; 3],
    /// The default method's first eight edits: before, after, before, after …
    pub edits: Vec<RgbImage>,
    /// The first eight image prompts, each followed by its picture.
    pub image_prompts: Vec<RgbImage>,
    /// One line per verdict: the default method's edits, then image prompts.
    pub verdicts: String,
}

impl EditingReport {
    /// The three tables as the book includes them.
    pub fn markdown(&self) -> String {
        self.tables.each_ref().map(Table::to_string).join("\n\n\n")
    }
}

/// Measures editing by each method on `count` cases, generation from `count`
/// image prompts, and prompt modifiers on `count` requests, with `clip` guiding
/// `vq` and the judge grading.
pub fn edit_report(
    clip: &dyn Clip,
    vq: &VqModel,
    count: usize,
    seed: u64,
    progress: &dyn Progress,
) -> anyhow::Result<EditingReport> {
    let bank =
        Bank::draw(RANDOM_BANK, vq.config.image_size, BANK_SEED, clip.device())?;
    let cases = edit_cases(count, 2_000 + seed);
    let default = Settings::new(clip.image_size());
    let (edits_table, trials) =
        editing_table(clip, vq, &bank, &cases, &default, progress)?;
    let mut verdicts: String = trials
        .iter()
        .map(|t| verdict_line(&t.prompt, &t.verdict))
        .collect();
    let edits = trials
        .iter()
        .take(8)
        .flat_map(|t| [t.before.clone(), t.after.clone()])
        .collect();
    progress.begin("image prompts", count);
    let image_trials =
        run_image_prompts(clip, vq, &bank, &default, count, 3_000 + seed, |_| {
            progress.advance("")
        })?;
    progress.finish();
    let mut image_table = Table::new([
        "image prompt (a drawn scene's picture, no text)",
        "judged to show the scene's caption",
    ]);
    image_table.push([
        "bank scenes ranked by the image prompt, then VQ steps".to_string(),
        success_rate(image_trials.iter().map(|t| &t.verdict)),
    ]);
    progress.report(&image_table.to_string());
    let mut image_prompts = Vec::new();
    for trial in image_trials.iter().take(8) {
        image_prompts.push(trial.prompt_picture.clone());
        image_prompts.push(trial.picture.clone());
        verdicts.push_str(&format!(
            "image prompt {}",
            verdict_line(&trial.caption, &trial.verdict)
        ));
    }
    let modifiers =
        modifier_table(clip, vq, &bank, &default, count, seed, progress)?;
    Ok(EditingReport {
        tables: [edits_table, image_table, modifiers],
        edits,
        image_prompts,
        verdicts,
    })
}

/// Editing by each method; returns the table and the default method's trials.
fn editing_table(
    clip: &dyn Clip,
    vq: &VqModel,
    bank: &Bank,
    cases: &[EditCase],
    default: &Settings,
    progress: &dyn Progress,
) -> anyhow::Result<(Table, Vec<EditTrial>)> {
    // Starting from the picture, 0.003 barely moves the codes (measured: none
    // of 20 edits right); 0.03 is the best of 0.01, 0.03 and 0.1.
    let from_picture = Settings {
        learning_rate: 0.03,
        restarts: 1,
        ..default.clone()
    };
    let pixels = Settings {
        steps: 60,
        learning_rate: 0.05,
        restarts: 1,
        ..default.clone()
    };
    let methods = [
        (EditMethod::Bank(Keep::Layout, EDIT_WEIGHT), default),
        (EditMethod::Bank(Keep::Layout, 1.0), default),
        (EditMethod::Bank(Keep::Layout, 20.0), default),
        (EditMethod::Bank(Keep::Pixels, EDIT_WEIGHT), default),
        (
            EditMethod::FromPicture(Keep::Layout, EDIT_WEIGHT),
            &from_picture,
        ),
        (EditMethod::FromPicture(Keep::Pixels, 1.0), &from_picture),
        (EditMethod::RawPixels(Keep::Layout, EDIT_WEIGHT), &pixels),
    ];
    let mut table = Table::new([
        "method",
        "learning rate × steps",
        "judged right (new colour, same shape and place)",
        "median time",
    ]);
    progress.report(&table.header_markdown());
    let mut first = Vec::new();
    for (i, (method, settings)) in methods.iter().enumerate() {
        progress.begin("edits", cases.len());
        let trials = run_edits(clip, vq, bank, *method, settings, cases, |_| {
            progress.advance(&method.name())
        })?;
        progress.finish();
        let seconds: Vec<f32> = trials.iter().map(|t| t.seconds).collect();
        let name = method.name();
        table.push([
            if i == 0 {
                format!("**{name}** (default)")
            } else {
                name
            },
            format!("{} × {}", settings.learning_rate, settings.steps),
            success_rate(trials.iter().map(|t| &t.verdict)),
            format!("{:.1} s", median(&seconds)),
        ]);
        progress.report(&table.last_row_markdown());
        if i == 0 {
            first = trials;
        }
    }
    Ok((table, first))
}

/// Chapter 7's prompt-modifier table: the same colour–shape requests said
/// bare, in mini-CLIP's own caption template ("a picture of a …", its
/// "unreal engine"), and composed of both with VQGAN+CLIP's `|`.
fn modifier_table(
    clip: &dyn Clip,
    vq: &VqModel,
    bank: &Bank,
    settings: &Settings,
    count: usize,
    seed: u64,
    progress: &dyn Progress,
) -> anyhow::Result<Table> {
    let mut rng = ChaCha8Rng::seed_from_u64(4_000 + seed);
    let mut names = Vec::new();
    while names.len() < count {
        let scene = Scene::random(Split::Train, &mut rng);
        if let [object] = scene.objects.as_slice() {
            names.push(format!("{} {}", object.colour.name(), object.shape.name()));
        }
    }
    // (label, template): `{}` becomes "red circle". `\|`: a bare `|` would
    // end the Markdown table cell.
    let phrasings = [
        ("bare: \"a red circle\"", "a {}"),
        (
            "modifier: \"a picture of a red circle\"",
            "a picture of a {}",
        ),
        (
            "both: \"a red circle \\| a picture of a red circle\"",
            "a {} | a picture of a {}",
        ),
    ];
    let mut table = Table::new(["prompt phrasing", "judged right"]);
    progress.report(&table.header_markdown());
    for (label, template) in phrasings {
        progress.begin("modifiers", names.len());
        let mut verdicts = Vec::new();
        for (i, name) in names.iter().enumerate() {
            stop_if_interrupted("the report was not written")?;
            let settings = settings.for_trial(i);
            // Every phrasing is graded by the request they all share.
            let request =
                Request::parse(&format!("a {name}")).expect("a scene phrase");
            let prompt = fill_template(template, name);
            let picture = picture_for(clip, vq, bank, &settings, &prompt)?;
            verdicts.push(request.verdict(&judge_scene(&picture)));
            progress.advance(label);
        }
        progress.finish();
        table.push([label.to_string(), success_rate(&verdicts)]);
        progress.report(&table.last_row_markdown());
    }
    Ok(table)
}

/// Generates from prompts (`|`-separated) with the default method.
fn picture_for(
    clip: &dyn Clip,
    vq: &VqModel,
    bank: &Bank,
    settings: &Settings,
    text: &str,
) -> anyhow::Result<RgbImage> {
    let guide = Guide::new(clip, &Prompt::parse_all(text)?)?;
    let outcome = generate(&guide, vq, Start::Bank(bank), settings, |_| {
        std::ops::ControlFlow::Continue(())
    })?;
    crate::basics::pixels::tensor_to_image(&outcome.picture.get(0)?)
}

#[cfg(test)]
mod tests {
    use super::*;
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
                with_articles(&format!(
                    "a {} {}",
                    case.target.name(),
                    object.shape.name()
                ))
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
}

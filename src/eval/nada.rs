//! StyleGAN-NADA's fine-tuning measured by the judge: for fresh N(0, 1)
//! latents, the judge reads the original generator's picture and the tuned
//! copy's. A latent whose picture holds the edit's source (a circle, say)
//! counts when the copy's picture is the original with that object changed
//! as asked and everything else the same; any other latent counts when its
//! picture is unchanged.

use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::table::{Table, rate};
use crate::clip::Clip;
use crate::guide::layers::LayeredGenerator;
use crate::guide::nada::{Edit, Freedom, NadaSettings, fine_tune};
use crate::nn::batch::batch_to_images;
use crate::nn::progress::Progress;
use crate::viz::picture::Picture;
use crate::world::judge::scenes::{SeenObject, judge_scene};
use crate::world::scenes::Colour;
use crate::world::shapes::Shape;

/// One latent's two pictures as the judge read them.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    /// Whether the original picture holds the edit's source.
    pub touched: bool,
    /// Whether the copy's picture is what the edit asks for.
    pub as_asked: bool,
}

/// Whether two readings of a picture name the same objects (colour, shape,
/// size and cell), in any order.
fn same_objects(a: &[SeenObject], b: &[SeenObject]) -> bool {
    let key = |o: &SeenObject| {
        (
            o.position.row,
            o.position.column,
            o.colour as u8,
            o.shape as u8,
            o.size as u8,
        )
    };
    let mut a: Vec<_> = a.iter().map(key).collect();
    let mut b: Vec<_> = b.iter().map(key).collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

/// Whether `edit` applies to an object the judge saw.
pub fn touches(edit: &Edit, object: &SeenObject) -> bool {
    match *edit {
        Edit::Shape(from, _) => object.shape == from,
        Edit::Colour(from, _) => object.colour == from,
    }
}

/// What the judge should see of `object` after `edit`.
pub fn applied(edit: &Edit, object: &SeenObject) -> SeenObject {
    let mut edited = *object;
    match *edit {
        Edit::Shape(from, to) if object.shape == from => edited.shape = to,
        Edit::Colour(from, to) if object.colour == from => edited.colour = to,
        _ => {}
    }
    edited
}

/// The judge's reading of `original` and `tuned` (the two generators'
/// pictures of the same latent) against `edit`.
pub fn judge_edit(
    edit: &Edit,
    original: &image::RgbImage,
    tuned: &image::RgbImage,
) -> Judged {
    let before = judge_scene(original);
    let expected: Vec<SeenObject> =
        before.iter().map(|o| applied(edit, o)).collect();
    Judged {
        touched: before.iter().any(|o| touches(edit, o)),
        as_asked: same_objects(&judge_scene(tuned), &expected),
    }
}

/// Chapter 6's edit: every circle the generator draws becomes a square.
pub const CIRCLE_TO_SQUARE: Edit = Edit::Shape(Shape::Circle, Shape::Square);

/// A colour edit, which the guide reads its own way (chapter 6).
pub const RED_TO_BLUE: Edit = Edit::Colour(Colour::Red, Colour::Blue);

/// N(0, 1) samples judged per fine-tuned copy: about a seventh hold a circle.
pub const NADA_SAMPLES: usize = 1000;

/// One fine-tuning of [`nada_report`]: a guide (with its label), an edit,
/// whether the guide chooses the units to train, and how free they are.
pub struct NadaRun<'a> {
    pub guide: (&'a str, &'a dyn Clip),
    pub edit: Edit,
    pub guide_chooses: bool,
    pub freedom: Freedom,
}

/// "sprite 3", "colour red", "none" when the guide read no unit as the
/// edit's source, or "every sprite" when it did not choose.
fn units_name(edit: &Edit, units: &[usize], guide_chooses: bool) -> String {
    if !guide_chooses {
        return match edit {
            Edit::Shape(..) => "every sprite (no choice)",
            Edit::Colour(..) => "every colour (no choice)",
        }
        .to_string();
    }
    if units.is_empty() {
        return "none: the guide reads no unit as the source".to_string();
    }
    let names: Vec<String> = units
        .iter()
        .map(|&k| match edit {
            Edit::Shape(..) => format!("sprite {k}"),
            Edit::Colour(..) => format!("colour {}", Colour::ALL[k].name()),
        })
        .collect();
    names.join(", ")
}

/// What `clip-art nada-report` measured: the table, and per run eight
/// samples with the source, before (upper row) and after (lower row).
pub struct NadaReport {
    pub table: Table,
    pub pictures: Picture,
    /// Of the first run: samples with the source changed as asked, rest
    /// kept, and samples with the source (chapter 6's target).
    pub headline: (usize, usize),
}

/// Fine-tunes a copy of `generator` for each run (the rest of `settings`
/// shared) and judges `count` fresh latents (seeded by `seed`) of each copy.
pub fn nada_report(
    runs: &[NadaRun],
    generator: &LayeredGenerator,
    settings: &NadaSettings,
    count: usize,
    seed: u64,
    progress: &dyn Progress,
) -> anyhow::Result<NadaReport> {
    let mut table = Table::new([
        "method (fine-tuning of the layered generator)",
        "trained",
        "guide",
        "samples with the source: changed as asked, rest kept",
        "samples without it: unchanged",
        "fine-tuning time",
    ]);
    progress.report(&table.header_markdown());
    let (mut shown, mut headline) = (Vec::new(), None);
    progress.begin("fine-tunings", runs.len());
    for run in runs {
        let (label, guide) = run.guide;
        let (edit, start) = (&run.edit, Instant::now());
        let settings = NadaSettings {
            guide_chooses: run.guide_chooses,
            freedom: run.freedom,
            ..settings.clone()
        };
        let tuned = fine_tune(generator, guide, edit, &settings)?;
        let seconds = start.elapsed().as_secs_f32();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let latents = generator.noise(count, &mut rng)?;
        let before = batch_to_images(&generator.decode(&latents)?)?;
        let after = batch_to_images(&tuned.generator.decode(&latents)?)?;
        let judged: Vec<Judged> = before
            .iter()
            .zip(&after)
            .map(|(b, a)| judge_edit(edit, b, a))
            .collect();
        let count_of = |touched: bool| {
            let chosen = judged.iter().filter(|j| j.touched == touched);
            let all = chosen.clone().count();
            (chosen.filter(|j| j.as_asked).count(), all)
        };
        let (changed, kept) = (count_of(true), count_of(false));
        headline.get_or_insert(changed);
        table.push([
            format!(
                "StyleGAN-NADA, {}, into {}",
                edit.name(),
                run.freedom.name(edit)
            ),
            units_name(edit, &tuned.units, run.guide_chooses),
            label.to_string(),
            rate(changed.0, changed.1),
            rate(kept.0, kept.1),
            format!("{seconds:.0} s"),
        ]);
        progress.report(&table.last_row_markdown());
        progress.advance(&edit.name());
        let touched = judged.iter().enumerate().filter(|(_, j)| j.touched);
        let picked: Vec<usize> = touched.map(|(i, _)| i).take(8).collect();
        shown.extend(picked.iter().map(|&i| before[i].clone()));
        shown.extend(picked.iter().map(|&i| after[i].clone()));
    }
    progress.finish();
    Ok(NadaReport {
        table,
        pictures: Picture::grid(&shown, 8)?.scaled(2),
        headline: headline.unwrap_or((0, 0)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::scenes::{Position, Size};

    #[test]
    fn an_edit_changes_only_its_source_and_names_both_texts() {
        let seen = |colour, shape| SeenObject {
            colour,
            shape,
            size: Size::Large,
            position: Position { column: 0, row: 2 },
            overlap: 0.9,
        };
        let circle = seen(Colour::Orange, Shape::Circle);
        assert!(touches(&CIRCLE_TO_SQUARE, &circle));
        assert_eq!(
            applied(&CIRCLE_TO_SQUARE, &circle),
            seen(Colour::Orange, Shape::Square)
        );
        let star = seen(Colour::Red, Shape::Star);
        assert!(!touches(&CIRCLE_TO_SQUARE, &star));
        assert_eq!(applied(&CIRCLE_TO_SQUARE, &star), star);
        let pairs = CIRCLE_TO_SQUARE.text_pairs();
        assert_eq!(pairs.len(), Colour::ALL.len());
        assert!(
            pairs.contains(&("an orange circle".into(), "an orange square".into()))
        );
        assert!(touches(&RED_TO_BLUE, &star));
        assert_eq!(
            applied(&RED_TO_BLUE, &star),
            seen(Colour::Blue, Shape::Star)
        );
        assert_eq!(RED_TO_BLUE.text_pairs().len(), Shape::ALL.len());
        assert_eq!(RED_TO_BLUE.name(), "red → blue");
    }
}

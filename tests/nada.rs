//! Chapter 6's StyleGAN-NADA, checked with oracles that are not the guide:
//! the judge reads the units the guide chose and the edits it grades, and
//! the frozen parameters are compared value for value.

use candle_core::Device;
use clip_art::basics::pixels::tensor_to_image;
use clip_art::clip::mini::shipped_ensemble;
use clip_art::eval::nada::judge_edit;
use clip_art::guide::layers::{Config, Layer, LayeredGenerator};
use clip_art::guide::nada::{Edit, Freedom, NadaSettings, chosen_units, fine_tune};
use clip_art::nn::compare::max_difference;
use clip_art::world::judge::scenes::judge_scene;
use clip_art::world::scenes::{Colour, Position, Scene, Size};
use clip_art::world::shapes::Shape;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn generator() -> anyhow::Result<LayeredGenerator> {
    Ok(LayeredGenerator::learn(&Config::default(), &Device::Cpu)?)
}

/// One large object of `sprite` in `colour`, in the middle.
fn drawn(
    generator: &LayeredGenerator,
    sprite: usize,
    colour: Colour,
) -> anyhow::Result<image::RgbImage> {
    let latent = generator.latent(&[Layer {
        sprite,
        colour,
        position: Position { column: 1, row: 1 },
        size: Size::Large,
    }])?;
    tensor_to_image(&generator.decode_rows(&[latent])?.get(0)?)
}

#[test]
fn the_guide_chooses_the_sprite_the_judge_reads_as_a_circle_and_the_red_colour()
-> anyhow::Result<()> {
    let (generator, guide) = (generator()?, shipped_ensemble(&Device::Cpu)?);
    let circle = Edit::Shape(Shape::Circle, Shape::Square);
    let sprites = chosen_units(&generator, &guide, &circle)?;
    assert!(!sprites.is_empty(), "the guide reads no sprite as a circle");
    for sprite in sprites {
        let seen = judge_scene(&drawn(&generator, sprite, Colour::Green)?);
        assert_eq!(seen.len(), 1, "sprite {sprite}: {seen:?}");
        assert_eq!(seen[0].shape, Shape::Circle, "sprite {sprite}");
    }
    let red =
        chosen_units(&generator, &guide, &Edit::Colour(Colour::Red, Colour::Blue))?;
    assert_eq!(red.len(), 1);
    let seen = judge_scene(&drawn(&generator, 0, Colour::ALL[red[0]])?);
    assert_eq!(seen[0].colour, Colour::Red);
    Ok(())
}

#[test]
fn fine_tuning_moves_only_the_chosen_units_and_repeats_itself() -> anyhow::Result<()>
{
    for freedom in [Freedom::Mixture, Freedom::Values] {
        fine_tune_within_bounds(freedom)?;
    }
    Ok(())
}

fn fine_tune_within_bounds(freedom: Freedom) -> anyhow::Result<()> {
    let (generator, guide) = (generator()?, shipped_ensemble(&Device::Cpu)?);
    let edit = Edit::Shape(Shape::Circle, Shape::Square);
    let settings = NadaSettings {
        freedom,
        steps: 4,
        batch_size: 8,
        ..NadaSettings::default()
    };
    let tuned = fine_tune(&generator, &guide, &edit, &settings)?;
    assert_eq!(tuned.losses.len(), 4);
    assert!(
        tuned
            .losses
            .iter()
            .all(|l| l.is_finite() && (0.0..=2.0).contains(l))
    );
    let (sprites, colours) = generator.parameters();
    let (new_sprites, new_colours) = tuned.generator.parameters();
    assert_eq!(max_difference(colours, new_colours)?, 0.0);
    for k in 0..generator.config.sprites {
        let moved = max_difference(&sprites.get(k)?, &new_sprites.get(k)?)?;
        if tuned.units.contains(&k) {
            assert!(moved > 0.0, "{freedom:?}: chosen sprite {k} did not move");
        } else {
            assert_eq!(
                moved, 0.0,
                "{freedom:?}: frozen sprite {k} moved by {moved}"
            );
        }
    }
    let (low, high) = (
        new_sprites.min_all()?.to_scalar::<f32>()?,
        new_sprites.max_all()?.to_scalar::<f32>()?,
    );
    // A mix of values in [0, 1] is in [0, 1], up to rounding.
    let rounding = 1e-6;
    assert!(
        low >= -rounding && high <= 1.0 + rounding,
        "{freedom:?}: sprites in [{low}, {high}]"
    );
    let again = fine_tune(&generator, &guide, &edit, &settings)?;
    assert_eq!(
        max_difference(new_sprites, again.generator.parameters().0)?,
        0.0
    );
    assert_eq!(tuned.losses, again.losses);
    Ok(())
}

#[test]
fn the_judge_grades_an_edit_by_what_changed_and_what_was_kept() -> anyhow::Result<()>
{
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let middle = Position { column: 1, row: 1 };
    let scene = |pair, rng: &mut ChaCha8Rng| {
        Scene::single(pair, Size::Large, middle, 20, rng).draw(64)
    };
    let circle = scene((Colour::Red, Shape::Circle), &mut rng);
    let square = scene((Colour::Red, Shape::Square), &mut rng);
    let blue_square = scene((Colour::Blue, Shape::Square), &mut rng);
    let star = scene((Colour::Green, Shape::Star), &mut rng);
    let edit = Edit::Shape(Shape::Circle, Shape::Square);
    let graded = |before, after| judge_edit(&edit, before, after);
    assert!(graded(&circle, &square).touched && graded(&circle, &square).as_asked);
    // Not changed, or changed more than asked: both wrong.
    assert!(!graded(&circle, &circle).as_asked);
    assert!(!graded(&circle, &blue_square).as_asked);
    // A picture without a circle should stay as it was.
    assert!(!graded(&star, &star).touched && graded(&star, &star).as_asked);
    assert!(!graded(&star, &square).as_asked);
    Ok(())
}

//! StyleGAN-NADA's idea (Gal et al. 2021) in the scenes' world: change what
//! a generator draws with text alone. A copy of the layered generator is
//! fine-tuned so that, for the same N(0, 1) latent, the guide sees its
//! picture move away from the original's in the direction that leads from a
//! source text to a target text ("a red circle" → "a red square"). No
//! picture of the target is ever shown; the guide's sense of the difference
//! between two texts is all the training gets.
//!
//! The layered generator's parameters are its sprites and its colours, so
//! the copy can be read as well as judged: the sprite a circle was drawn with
//! should end up a square, and every other sprite should stay as it was.

use candle_core::{DType, Tensor, Var};
use candle_nn::Optimizer;
use candle_nn::ops::softmax;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::cutouts::resize;
use super::layers::{Layer, LayeredGenerator};
use crate::clip::Clip;
use crate::clip::loss::l2_normalize;
use crate::nn::progress::stop_if_interrupted;
use crate::world::scenes::{Colour, Position, Size, with_articles};
use crate::world::shapes::Shape;

/// What a fine-tuning is asked to change: a shape into another, or a colour
/// into another, everything else kept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Edit {
    Shape(Shape, Shape),
    Colour(Colour, Colour),
}

impl Edit {
    /// "circle → square".
    pub fn name(&self) -> String {
        match self {
            Edit::Shape(from, to) => format!("{} → {}", from.name(), to.name()),
            Edit::Colour(from, to) => format!("{} → {}", from.name(), to.name()),
        }
    }

    /// Source and target texts in every setting of the attribute the edit
    /// keeps: "a red circle" → "a red square" for each colour, or "a red
    /// circle" → "a blue circle" for each shape.
    pub fn text_pairs(&self) -> Vec<(String, String)> {
        let pair = |colour: Colour, shape: Shape| {
            with_articles(&format!("a {} {}", colour.name(), shape.name()))
        };
        match *self {
            Edit::Shape(from, to) => Colour::ALL
                .iter()
                .map(|&c| (pair(c, from), pair(c, to)))
                .collect(),
            Edit::Colour(from, to) => Shape::ALL
                .iter()
                .map(|&s| (pair(from, s), pair(to, s)))
                .collect(),
        }
    }
}

// ANCHOR: directional_loss
/// The direction from the source texts to the target texts, as the guide
/// sees it: the mean of the unit differences of each pair's unit embeddings,
/// itself a unit vector `[1, d]`.
pub fn text_direction(
    guide: &dyn Clip,
    pairs: &[(String, String)],
) -> anyhow::Result<Tensor> {
    anyhow::ensure!(
        !pairs.is_empty(),
        "a direction needs at least one text pair"
    );
    let embed = |texts: Vec<&str>| -> anyhow::Result<Tensor> {
        Ok(l2_normalize(&guide.text_embeddings(&texts)?)?)
    };
    let sources = embed(pairs.iter().map(|(s, _)| s.as_str()).collect())?;
    let targets = embed(pairs.iter().map(|(_, t)| t.as_str()).collect())?;
    let mean = l2_normalize(&(targets - sources)?)?.mean_keepdim(0)?;
    Ok(l2_normalize(&mean)?)
}

/// StyleGAN-NADA's directional loss: 1 − cos(E(new) − E(old), direction),
/// averaged over the batch, for image embeddings `[n, d]` of the tuned and
/// the frozen generator's pictures of the same latents. A picture that has
/// not moved has no direction; `1e-8` keeps its cosine defined (zero).
pub fn directional_loss(
    new: &Tensor,
    old: &Tensor,
    direction: &Tensor,
) -> candle_core::Result<Tensor> {
    let moved = (l2_normalize(new)? - l2_normalize(old)?)?;
    let length = (moved.sqr()?.sum_keepdim(1)? + 1e-8)?.sqrt()?;
    let cosine = moved
        .broadcast_div(&length)?
        .broadcast_mul(direction)?
        .sum(1)?;
    cosine.affine(-1.0, 1.0)?.mean_all()
}
// ANCHOR_END: directional_loss

/// What a chosen unit may become.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Freedom {
    /// Any values in [0, 1]: every pixel of a sprite, every channel of a
    /// colour.
    Values,
    /// A mix of the generator's units of its kind (softmax weights over the
    /// sprites, or over the colours), starting from itself: a prior that
    /// keeps the unit among what the generator already draws.
    Mixture,
}

impl Freedom {
    pub fn name(self, edit: &Edit) -> &'static str {
        match (self, edit) {
            (Freedom::Values, Edit::Shape(..)) => "any sprite pixels",
            (Freedom::Values, Edit::Colour(..)) => "any colour",
            (Freedom::Mixture, Edit::Shape(..)) => "a mix of the sprites",
            (Freedom::Mixture, Edit::Colour(..)) => "a mix of the colours",
        }
    }
}

/// How [`fine_tune`] trains.
#[derive(Debug, Clone, PartialEq)]
pub struct NadaSettings {
    /// Train only the units the guide reads as the edit's source
    /// ([`chosen_units`]), or every unit of the edited kind (the ablation).
    pub guide_chooses: bool,
    pub freedom: Freedom,
    pub steps: usize,
    /// N(0, 1) latents per step.
    pub batch_size: usize,
    /// Adam's learning rate on the values, or on the mixture weights.
    pub learning_rate: f64,
    pub seed: u64,
}

impl Default for NadaSettings {
    fn default() -> Self {
        NadaSettings {
            guide_chooses: true,
            freedom: Freedom::Mixture,
            steps: 200,
            batch_size: 32,
            learning_rate: 0.05,
            seed: 0,
        }
    }
}

impl NadaSettings {
    /// At least one step of at least one latent.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.steps > 0 && self.batch_size > 0,
            "StyleGAN-NADA needs at least one step of at least one latent, not {} of {}",
            self.steps,
            self.batch_size
        );
        Ok(())
    }
}

// ANCHOR: unit_readings
/// The guide's cosine between every sprite drawn large in the middle in
/// every colour (row `sprite · 6 + colour`) and every caption "a {colour}
/// {shape}" (column `colour · 6 + shape`).
pub fn unit_readings(
    generator: &LayeredGenerator,
    guide: &dyn Clip,
) -> anyhow::Result<Vec<Vec<f32>>> {
    let mut rows = Vec::new();
    for sprite in 0..generator.config.sprites {
        for colour in Colour::ALL {
            let position = Position { column: 1, row: 1 };
            let layer = Layer {
                sprite,
                colour,
                position,
                size: Size::Large,
            };
            rows.push(generator.latent(&[layer])?);
        }
    }
    let pictures = resize(&generator.decode_rows(&rows)?, guide.image_size())?;
    let images = l2_normalize(&guide.image_embeddings(&pictures)?)?;
    let texts: Vec<String> = Colour::ALL
        .iter()
        .flat_map(|c| Shape::ALL.map(|s| format!("a {} {}", c.name(), s.name())))
        .map(|text| with_articles(&text))
        .collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let texts = l2_normalize(&guide.text_embeddings(&texts)?)?;
    Ok(images.matmul(&texts.t()?)?.to_vec2()?)
}
// ANCHOR_END: unit_readings

// ANCHOR: chosen_units
/// The units an edit may change, chosen by the guide as StyleGAN-NADA
/// lets CLIP choose the layers to train: the sprites it reads as the source
/// shape, or the colours it reads as the source colour, by the captions
/// that fit their pictures best on the whole.
pub fn chosen_units(
    generator: &LayeredGenerator,
    guide: &dyn Clip,
    edit: &Edit,
) -> anyhow::Result<Vec<usize>> {
    let cosine = unit_readings(generator, guide)?;
    let (sprites, colours, shapes) = (
        generator.config.sprites,
        Colour::ALL.len(),
        Shape::ALL.len(),
    );
    let best = |scores: Vec<f32>| {
        (0..scores.len()).max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
    };
    Ok(match *edit {
        // Sprite k reads as shape s in the colours it was drawn in.
        Edit::Shape(from, _) => (0..sprites)
            .filter(|&k| {
                let score = |s: usize| {
                    (0..colours)
                        .map(|c| cosine[k * colours + c][c * shapes + s])
                        .sum()
                };
                best((0..shapes).map(score).collect()) == Some(from.label())
            })
            .collect(),
        // Colour j reads as a named colour over every sprite and shape word.
        Edit::Colour(from, _) => (0..colours)
            .filter(|&j| {
                let score = |named: usize| {
                    (0..sprites * shapes)
                        .map(|i| {
                            cosine[i / shapes * colours + j]
                                [named * shapes + i % shapes]
                        })
                        .sum()
                };
                let named = Colour::ALL.iter().position(|&c| c == from);
                best((0..colours).map(score).collect()) == named
            })
            .collect(),
    })
}
// ANCHOR_END: chosen_units

/// What [`fine_tune`] made: the tuned copy, the units it was allowed to
/// change and the loss at each step.
pub struct Tuned {
    pub generator: LayeredGenerator,
    pub units: Vec<usize>,
    pub losses: Vec<f32>,
}

/// The units `edit` changes: the sprites for a shape, the colours for a
/// colour.
fn edited_units<'g>(generator: &'g LayeredGenerator, edit: &Edit) -> &'g Tensor {
    let (sprites, colours) = generator.parameters();
    match edit {
        Edit::Shape(..) => sprites,
        Edit::Colour(..) => colours,
    }
}

/// `generator` with the units `edit` changes replaced by `units`.
fn with_edited_units(
    generator: &LayeredGenerator,
    edit: &Edit,
    units: Tensor,
) -> anyhow::Result<LayeredGenerator> {
    let (sprites, colours) = generator.parameters();
    match edit {
        Edit::Shape(..) => generator.with_parameters(units, colours.clone()),
        Edit::Colour(..) => generator.with_parameters(sprites.clone(), units),
    }
}

/// Mixture weights are softmax(10 · w): with w the identity, each unit's
/// weight on itself is e¹⁰/(e¹⁰ + rows − 1) ≈ 1, and a step of Adam moves
/// the logits as far as a step moves a pixel's value, times ten.
const MIX_SHARPNESS: f64 = 10.0;

// ANCHOR: trainable
/// The copy's edited units (sprites or colours) as one variable: the
/// chosen rows free as `freedom` lets them be, the others as they were.
struct Trainable<'a> {
    generator: &'a LayeredGenerator,
    edit: Edit,
    original: Tensor,
    chosen: Tensor,
    freedom: Freedom,
    var: Var,
}

impl<'a> Trainable<'a> {
    fn new(
        generator: &'a LayeredGenerator,
        edit: Edit,
        units: &[usize],
        freedom: Freedom,
    ) -> anyhow::Result<Self> {
        let original = edited_units(generator, &edit).clone();
        let rows = original.dim(0)?;
        let chosen: Vec<f32> = (0..rows)
            .map(|r| f32::from(u8::from(units.contains(&r))))
            .collect();
        let chosen = Tensor::from_vec(chosen, (rows, 1), original.device())?;
        let var = match freedom {
            Freedom::Values => Var::from_tensor(&original)?,
            // Each row starts as itself: the identity of weights.
            Freedom::Mixture => {
                Var::from_tensor(&Tensor::eye(rows, DType::F32, original.device())?)?
            }
        };
        Ok(Trainable {
            generator,
            edit,
            original,
            chosen,
            freedom,
            var,
        })
    }
}
// ANCHOR_END: trainable

// ANCHOR: trainable_copy
impl Trainable<'_> {
    /// The edited units as the variable makes them now (differentiable).
    fn units(&self) -> candle_core::Result<Tensor> {
        let var = self.var.as_tensor();
        let free = match self.freedom {
            Freedom::Values => var.clone(),
            Freedom::Mixture => {
                softmax(&(var * MIX_SHARPNESS)?, 1)?.matmul(&self.original)?
            }
        };
        &self.original + (free - &self.original)?.broadcast_mul(&self.chosen)?
    }

    /// The copy the guide sees now.
    fn copy(&self) -> anyhow::Result<LayeredGenerator> {
        with_edited_units(self.generator, &self.edit, self.units()?)
    }

    /// After a step: a mask and a colour live in [0, 1].
    fn keep_in_range(&self) -> candle_core::Result<()> {
        match self.freedom {
            Freedom::Values => {
                self.var.set(&self.var.as_tensor().clamp(0f32, 1f32)?)
            }
            Freedom::Mixture => Ok(()),
        }
    }
}
// ANCHOR_END: trainable_copy

// ANCHOR: fine_tune
/// A copy of `generator` fine-tuned with the directional loss towards
/// `edit`. Each step draws fresh latents, paints them with both generators,
/// shows the guide both whole and moves the copy's chosen sprites or colours
/// by Adam (through `Trainable`); the rest stays frozen.
pub fn fine_tune(
    generator: &LayeredGenerator,
    guide: &dyn Clip,
    edit: &Edit,
    settings: &NadaSettings,
) -> anyhow::Result<Tuned> {
    settings.check()?;
    let direction = text_direction(guide, &edit.text_pairs())?;
    let units = if settings.guide_chooses {
        chosen_units(generator, guide, edit)?
    } else {
        (0..edited_units(generator, edit).dim(0)?).collect()
    };
    let trainable = Trainable::new(generator, *edit, &units, settings.freedom)?;
    let mut adam =
        crate::nn::train::adam(vec![trainable.var.clone()], settings.learning_rate)?;
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    let mut losses = Vec::with_capacity(settings.steps);
    let seen = |pictures: Tensor| resize(&pictures, guide.image_size());
    for _ in 0..settings.steps {
        stop_if_interrupted("the fine-tuning was not finished")?;
        let latents = generator.noise(settings.batch_size, &mut rng)?;
        let old = guide
            .image_embeddings(&seen(generator.decode(&latents)?)?)?
            .detach();
        let new =
            guide.image_embeddings(&seen(trainable.copy()?.decode(&latents)?)?)?;
        let loss = directional_loss(&new, &old, &direction)?;
        adam.backward_step(&loss)?;
        trainable.keep_in_range()?;
        losses.push(loss.to_scalar::<f32>()?);
    }
    let generator = with_edited_units(generator, edit, trainable.units()?.detach())?;
    Ok(Tuned {
        generator,
        units,
        losses,
    })
}
// ANCHOR_END: fine_tune

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::compare::rows_to_tensor;

    /// The directional loss computed from scratch, in f64.
    fn by_hand(new: &[Vec<f64>], old: &[Vec<f64>], direction: &[f64]) -> f64 {
        let unit = |v: &[f64]| -> Vec<f64> {
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            v.iter().map(|x| x / norm).collect()
        };
        let mut total = 0.0;
        for (n, o) in new.iter().zip(old) {
            let moved: Vec<f64> =
                unit(n).iter().zip(unit(o)).map(|(a, b)| a - b).collect();
            let length = (moved.iter().map(|x| x * x).sum::<f64>() + 1e-8).sqrt();
            let cosine: f64 =
                moved.iter().zip(direction).map(|(m, d)| m * d).sum::<f64>()
                    / length;
            total += 1.0 - cosine;
        }
        total / new.len() as f64
    }

    #[test]
    fn the_directional_loss_is_nadas_and_its_gradient_matches_a_finite_difference()
    -> anyhow::Result<()> {
        let row = |seed: f64| -> Vec<f64> {
            (0..5).map(|i| ((i as f64 + 1.0) * seed).sin()).collect()
        };
        let new = vec![row(1.3), row(2.1), row(0.7)];
        // The third picture has not moved: its cosine is zero, not NaN.
        let old = vec![row(1.1), row(2.9), row(0.7)];
        let direction: Vec<f64> = {
            let d = row(3.7);
            let norm = d.iter().map(|x| x * x).sum::<f64>().sqrt();
            d.iter().map(|x| x / norm).collect()
        };
        let direction_tensor = rows_to_tensor(std::slice::from_ref(&direction))?;
        let loss = directional_loss(
            &rows_to_tensor(&new)?,
            &rows_to_tensor(&old)?,
            &direction_tensor,
        )?
        .to_scalar::<f32>()?;
        let want = by_hand(&new, &old, &direction);
        assert!((f64::from(loss) - want).abs() < 1e-5, "{loss} vs {want}");

        let var = Var::from_tensor(&rows_to_tensor(&new)?)?;
        let loss = directional_loss(
            var.as_tensor(),
            &rows_to_tensor(&old)?,
            &direction_tensor,
        )?;
        let gradient = loss.backward()?;
        let gradient = gradient
            .get(var.as_tensor())
            .expect("a gradient")
            .to_vec2::<f32>()?;
        let eps = 1e-4;
        for (i, j) in [(0, 0), (1, 3), (0, 4)] {
            let (mut up, mut down) = (new.clone(), new.clone());
            up[i][j] += eps;
            down[i][j] -= eps;
            let numeric = (by_hand(&up, &old, &direction)
                - by_hand(&down, &old, &direction))
                / (2.0 * eps);
            let analytic = f64::from(gradient[i][j]);
            assert!(
                (numeric - analytic).abs() < 1e-2 * (1.0 + numeric.abs()),
                "({i}, {j}): {analytic} vs {numeric}"
            );
        }
        Ok(())
    }
}

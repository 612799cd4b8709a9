//! Big Sleep for real: CLIP steering BigGAN-deep, as Ryan Murdock's notebook
//! and lucidrains' `big-sleep` run it. The latents are one noise vector and
//! one row of class logits per layer of the generator; Adam moves them all.
//! Two losses keep the search where BigGAN was trained: the noise rows keep
//! N(0, 1)'s statistics ([`latent_statistics_loss`]), and the classes stay
//! few ([`class_loss`]). The guide sees many cutouts of sizes around 80% of
//! the picture; the pictures kept are those of a moving average of the
//! latents.

use std::ops::ControlFlow;

use candle_core::{D, DType, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use super::big_sleep::latent_statistics_loss;
use super::cutouts::{CutoutBox, Cutouts, Resampling};
use super::engine::Guide;
use super::generators::Generator;
use crate::models::biggan::BigGan;
use crate::nn::progress::stop_if_interrupted;

/// How Big Sleep runs; [`BigSleepConfig::new`] gives `big-sleep`'s values.
#[derive(Debug, Clone, PartialEq)]
pub struct BigSleepConfig {
    pub steps: usize,
    /// Adam's learning rate (0.07).
    pub learning_rate: f64,
    /// Views per step and how they are resized (128, nearest).
    pub cutouts: Cutouts,
    /// The guide's loss is −coefficient · cosine similarity (100).
    pub loss_coefficient: f64,
    /// How much of the moving average each step keeps (0.99).
    pub ema_decay: f64,
    /// `None`: the classes are the logits' sigmoids; `Some(k)`: a
    /// differentiable top-k of their softmax ([`differentiable_top_k`]).
    pub max_classes: Option<usize>,
    /// The top-k's softmax temperature (2).
    pub class_temperature: f64,
    /// BigGAN's truncation, which picks its batch norms' statistics (1).
    pub truncation: f64,
    pub seed: u64,
}

impl BigSleepConfig {
    /// `big-sleep`'s settings for a guide that sees `cut_size`² pictures.
    pub fn new(cut_size: usize) -> BigSleepConfig {
        BigSleepConfig {
            steps: 1050,
            learning_rate: 0.07,
            cutouts: Cutouts {
                resampling: Resampling::Nearest,
                ..Cutouts::plain(128, cut_size)
            },
            loss_coefficient: 100.0,
            ema_decay: 0.99,
            max_classes: None,
            class_temperature: 2.0,
            truncation: 1.0,
            seed: 0,
        }
    }
}

// ANCHOR: latents
/// Big Sleep's latents, and their moving average (bias-corrected, as
/// `big-sleep`'s EMA, which counts the start as its first value).
pub struct BigSleep<'a> {
    model: &'a BigGan,
    /// `[layers + 1, z_dim]`, from N(0, 1).
    noise: Var,
    /// `[layers + 1, num_classes]`, from N(−3.9, 0.3): every sigmoid near 0.02.
    class_logits: Var,
    max_classes: Option<usize>,
    class_temperature: f64,
    truncation: f64,
    average: MovingAverage,
}
// ANCHOR_END: latents

/// Σ decayᵏ·xₖ·(1 − decay), and how much weight the start has left.
struct MovingAverage {
    decay: f64,
    noise: Tensor,
    class_logits: Tensor,
    weight_left: f64,
}

impl<'a> BigSleep<'a> {
    /// Fresh latents drawn with `seed`.
    pub fn new(model: &'a BigGan, cfg: &BigSleepConfig) -> anyhow::Result<Self> {
        let device = model.device();
        let rows = model.config.conditions();
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let mut draw = |count: usize, mean: f32, std: f32| -> anyhow::Result<Var> {
            let normal = Normal::new(mean, std)?;
            let values: Vec<f32> =
                (0..rows * count).map(|_| normal.sample(&mut rng)).collect();
            Ok(Var::from_tensor(&Tensor::from_vec(
                values,
                (rows, count),
                device,
            )?)?)
        };
        let noise = draw(model.config.z_dim, 0.0, 1.0)?;
        let class_logits = draw(model.config.num_classes, -3.9, 0.3)?;
        if let Some(k) = cfg.max_classes {
            anyhow::ensure!(
                (1..=model.config.num_classes).contains(&k),
                "max classes must be 1 to {}, got {k}",
                model.config.num_classes
            );
        }
        let average = MovingAverage {
            decay: cfg.ema_decay,
            noise: noise.zeros_like()?,
            class_logits: class_logits.zeros_like()?,
            weight_left: 1.0,
        };
        let mut sleep = BigSleep {
            model,
            noise,
            class_logits,
            max_classes: cfg.max_classes,
            class_temperature: cfg.class_temperature,
            truncation: cfg.truncation,
            average,
        };
        sleep.update_average()?;
        Ok(sleep)
    }

    /// The class vectors `[layers + 1, num_classes]` of these logits.
    fn classes(&self, logits: &Tensor) -> candle_core::Result<Tensor> {
        match self.max_classes {
            None => candle_nn::ops::sigmoid(logits),
            Some(k) => differentiable_top_k(logits, k, self.class_temperature),
        }
    }

    /// The picture `[1, 3, s, s]` in [0, 1] of these latents.
    fn paint(&self, noise: &Tensor, logits: &Tensor) -> candle_core::Result<Tensor> {
        let dtype = self.model.dtype();
        let condition = self.model.condition(
            &noise.to_dtype(dtype)?,
            &self.classes(logits)?.to_dtype(dtype)?,
        )?;
        let conditions: Vec<Tensor> = (0..condition.dim(0)?)
            .map(|row| condition.narrow(0, row, 1))
            .collect::<candle_core::Result<_>>()?;
        let picture = self
            .model
            .forward_layered(&conditions, self.truncation)
            .map_err(candle_core::Error::wrap)?;
        picture.to_dtype(DType::F32)?.affine(0.5, 0.5)
    }

    /// Big Sleep's two losses on the latents themselves.
    pub fn latent_losses(&self) -> candle_core::Result<Tensor> {
        let classes = self.classes(self.class_logits.as_tensor())?;
        latent_statistics_loss(self.noise.as_tensor())? + class_loss(&classes)?
    }

    fn update_average(&mut self) -> candle_core::Result<()> {
        let a = &mut self.average;
        let keep = |old: &Tensor, new: &Var| -> candle_core::Result<Tensor> {
            (old * a.decay)? + (new.as_tensor().detach() * (1.0 - a.decay))?
        };
        a.noise = keep(&a.noise, &self.noise)?;
        a.class_logits = keep(&a.class_logits, &self.class_logits)?;
        a.weight_left *= a.decay;
        Ok(())
    }

    /// The picture of the averaged latents: what Big Sleep saves.
    pub fn averaged_picture(&self) -> candle_core::Result<Tensor> {
        let a = &self.average;
        let scale = 1.0 / (1.0 - a.weight_left);
        self.paint(&(&a.noise * scale)?, &(&a.class_logits * scale)?)
    }

    /// The averaged latents as a [`Generator`], for whoever shows the run.
    pub fn averaged(&self) -> Averaged<'_, 'a> {
        Averaged(self)
    }
}

impl Generator for BigSleep<'_> {
    fn variables(&self) -> Vec<Var> {
        vec![self.noise.clone(), self.class_logits.clone()]
    }

    fn render(&self) -> candle_core::Result<Tensor> {
        self.paint(self.noise.as_tensor(), self.class_logits.as_tensor())
    }
}

/// [`BigSleep::averaged_picture`] behind the [`Generator`] face.
pub struct Averaged<'s, 'a>(&'s BigSleep<'a>);

impl Generator for Averaged<'_, '_> {
    fn variables(&self) -> Vec<Var> {
        Vec::new()
    }

    fn render(&self) -> candle_core::Result<Tensor> {
        self.0.averaged_picture()
    }
}

// ANCHOR: class_loss
/// Big Sleep's class loss on class vectors `[n, c]`: the mean of (50·x)² over
/// all but each row's largest entry, so one class may grow and the others
/// stay near 0 (its `topk(…, largest=False, k=c−1)`).
pub fn class_loss(classes: &Tensor) -> candle_core::Result<Tensor> {
    let (n, c) = classes.dims2()?;
    let squares = (classes * 50.0)?.sqr()?;
    let all_but_largest = (squares.sum(D::Minus1)? - squares.max(D::Minus1)?)?;
    all_but_largest.sum_all()? / (n * (c - 1)) as f64
}
// ANCHOR_END: class_loss

/// `big-sleep`'s `differentiable_topk`: k times, the softmax (at
/// `temperature`) of what is left keeps its largest value where it is and
/// that entry leaves the race; the sum of the k one-entry rows `[n, c]`.
pub fn differentiable_top_k(
    logits: &Tensor,
    k: usize,
    temperature: f64,
) -> candle_core::Result<Tensor> {
    let (n, c) = logits.dims2()?;
    let positions =
        Tensor::arange(0u32, c as u32, logits.device())?.reshape((1, c))?;
    let gone = Tensor::full(f32::NEG_INFINITY, (n, c), logits.device())?
        .to_dtype(logits.dtype())?;
    let mut left = logits.clone();
    let mut total = logits.zeros_like()?;
    for round in 0..k {
        let soft = candle_nn::ops::softmax(&(&left / temperature)?, D::Minus1)?;
        let best = soft.argmax_keepdim(D::Minus1)?.broadcast_eq(&positions)?;
        total = (total + best.where_cond(&soft, &soft.zeros_like()?)?)?;
        if round + 1 < k {
            left = best.where_cond(&gone, &left)?;
        }
    }
    Ok(total)
}

// ANCHOR: boxes
/// Big Sleep's cutouts of a `side`² picture: each a square of side
/// ⌊side · clip(N(0.8, 0.3), 0.5, 0.95)⌋ at a uniform place.
pub fn big_sleep_boxes(
    count: usize,
    side: usize,
    rng: &mut impl Rng,
) -> Vec<CutoutBox> {
    let normal = Normal::new(0.8, 0.3).expect("a positive scale");
    (0..count)
        .map(|_| {
            let fraction: f64 = normal.sample(rng);
            let size = ((side as f64 * fraction.clamp(0.5, 0.95)) as usize).max(1);
            let y = rng.random_range(0..=side - size);
            let x = rng.random_range(0..=side - size);
            CutoutBox {
                y,
                x,
                side: size,
                flip: false,
            }
        })
        .collect()
}
// ANCHOR_END: boxes

// ANCHOR: dream
/// Big Sleep's loop: each step the guide's loss on the cutouts of the
/// current picture plus the latents' own losses, one Adam step, then the
/// moving average. `on_step` hears each step's loss (and may stop the run).
/// Returns the losses; the picture to keep is `sleep.averaged_picture()`.
pub fn dream(
    sleep: &mut BigSleep,
    guide: &Guide,
    cfg: &BigSleepConfig,
    mut on_step: impl FnMut(usize, f32, &BigSleep) -> ControlFlow<()>,
) -> anyhow::Result<Vec<f32>> {
    let mut adam = crate::nn::train::adam(sleep.variables(), cfg.learning_rate)?;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let side = sleep.model.config.output_dim;
    let mut losses = Vec::with_capacity(cfg.steps);
    for step in 0..cfg.steps {
        stop_if_interrupted("nothing was written")?;
        let picture = sleep.render()?;
        let boxes = big_sleep_boxes(cfg.cutouts.count, side, &mut rng);
        let views = cfg.cutouts.cut_boxes(&picture, &boxes, &mut rng)?;
        let loss = (guide.cosine_loss_of_views(&views, cfg.loss_coefficient)?
            + sleep.latent_losses()?)?;
        let value = loss.to_scalar::<f32>()?;
        anyhow::ensure!(
            value.is_finite(),
            "Big Sleep diverged at step {step}: the loss is {value} \
             (try a lower learning rate)"
        );
        candle_nn::Optimizer::backward_step(&mut adam, &loss)?;
        sleep.update_average()?;
        losses.push(value);
        if on_step(step, value, sleep).is_break() {
            break;
        }
    }
    Ok(losses)
}
// ANCHOR_END: dream

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn the_class_loss_spares_each_rows_largest_class() -> anyhow::Result<()> {
        let rows = [[0.1f32, 0.7, 0.2], [0.05, 0.0, 0.3]];
        let classes = Var::new(&rows, &Device::Cpu)?;
        let loss = class_loss(classes.as_tensor())?;
        // By hand: (50·0.1)² + (50·0.2)², (50·0.05)² + 0, over 2 · 2 entries.
        let expected = (25.0 + 100.0 + 6.25 + 0.0) / 4.0;
        assert!((loss.to_scalar::<f32>()? - expected).abs() < 1e-3);
        let gradient = loss
            .backward()?
            .get(classes.as_tensor())
            .unwrap()
            .to_vec2::<f32>()?;
        // d/dx (50x)²/4 = 1250x; none at the largest.
        assert_eq!(gradient[0][1], 0.0);
        assert_eq!(gradient[1][2], 0.0);
        assert!(
            (gradient[0][0] - 125.0).abs() < 1e-3
                && (gradient[1][0] - 62.5).abs() < 1e-3
        );
        Ok(())
    }

    #[test]
    fn the_top_k_keeps_k_softmax_values_where_they_were() -> anyhow::Result<()> {
        let logits = [1.0f32, 3.0, -1.0, 2.0];
        let t = Tensor::new(&[logits], &Device::Cpu)?;
        let top = differentiable_top_k(&t, 2, 2.0)?.to_vec2::<f32>()?[0].clone();
        // By hand: softmax(x/2) keeps its largest (index 1); then, without
        // index 1, softmax of the rest keeps index 3.
        let soft = |xs: &[f32]| -> Vec<f32> {
            let e: Vec<f32> = xs.iter().map(|x| (x / 2.0).exp()).collect();
            let total: f32 = e.iter().sum();
            e.iter().map(|v| v / total).collect()
        };
        let first = soft(&logits)[1];
        let second = soft(&[1.0, f32::NEG_INFINITY, -1.0, 2.0])[3];
        let expected = [0.0, first, 0.0, second];
        for (got, want) in top.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{top:?} vs {expected:?}");
        }
        Ok(())
    }

    #[test]
    fn cutouts_are_squares_of_half_to_most_of_the_picture() {
        let boxes = big_sleep_boxes(2000, 64, &mut ChaCha8Rng::seed_from_u64(0));
        assert!(boxes.iter().all(|b| (32..=60).contains(&b.side)
            && b.x + b.side <= 64
            && b.y + b.side <= 64));
        // N(0.8, 0.3) clipped at 0.95 puts about 31% at the top size.
        let largest = boxes.iter().filter(|b| b.side == 60).count() as f64 / 2000.0;
        assert!((0.27..0.35).contains(&largest), "{largest}");
    }
}

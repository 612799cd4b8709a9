//! Big Sleep's recipe (Ryan Murdock's notebook of CLIP steering BigGAN, as
//! lucidrains' `big-sleep` package runs it) in the scenes' world, on the
//! scene prior. Adam moves the generator's latents themselves. A loss on
//! the latents' statistics keeps them looking like the N(0, 1) noise the
//! generator was trained on, which keeps the search near the data. The guide
//! sees many cutouts. The picture kept is that of an exponential moving
//! average (EMA) of the latents, which is steadier than the last step.
//!
//! BigGAN has one latent per layer and a class vector; the prior has one
//! latent, so that one moves, and there is no class loss.

use candle_core::{D, Device, Tensor, Var};
use candle_nn::Optimizer;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::cutouts::Cutouts;
use super::engine::Guide;
use super::prior::{ScenePrior, paint};
use crate::models::vae::standard_normal;
use crate::nn::progress::stop_if_interrupted;

/// How [`big_sleep`] runs.
#[derive(Debug, Clone, PartialEq)]
pub struct BigSleepSettings {
    pub steps: usize,
    /// Adam's learning rate (Big Sleep's: 0.07).
    pub learning_rate: f64,
    /// Cutouts the guide sees per step (Big Sleep: 128).
    pub cutouts: usize,
    /// The side of each cutout: the guide's input size.
    pub cut_size: usize,
    /// How much of the moving average each step keeps (Big Sleep's 0.99
    /// averages over its thousands of steps; 0.9 over tens).
    pub ema_decay: f64,
    pub seed: u64,
}

impl BigSleepSettings {
    /// Big Sleep's learning rate, with fewer steps and cutouts (the prior is
    /// small), for a guide that sees `cut_size`² pictures.
    pub fn new(cut_size: usize) -> BigSleepSettings {
        BigSleepSettings {
            steps: 60,
            learning_rate: 0.07,
            cutouts: 16,
            cut_size,
            ema_decay: 0.9,
            seed: 0,
        }
    }
}

// ANCHOR: latent_statistics
/// Big Sleep's loss on latents `[n, d]`, as its `lat_loss`: each row's
/// standard deviation near 1 (unbiased, as `torch.std`) and its mean near 0,
/// their mean square penalised only above 1, and each row's skew and excess
/// kurtosis near 0, as in a normal distribution.
pub fn latent_statistics_loss(latents: &Tensor) -> candle_core::Result<Tensor> {
    let (n, d) = latents.dims2()?;
    let mean = latents.mean_keepdim(D::Minus1)?;
    let diffs = latents.broadcast_sub(&mean)?;
    let squares = diffs.sqr()?.sum_keepdim(D::Minus1)?;
    let std_unbiased = (squares.clone() / (d - 1) as f64)?.sqrt()?;
    let std_biased = (squares / d as f64)?.sqrt()?;
    let z = diffs.broadcast_div(&std_biased)?;
    let skew = (z.sqr()? * &z)?.mean(D::Minus1)?;
    let kurtosis = (z.sqr()?.sqr()?.mean(D::Minus1)? - 3.0)?;
    let spread = (std_unbiased - 1.0)?.abs()?.mean_all()?;
    let centre = mean.abs()?.mean_all()?;
    // 4 · max(mean z², 1), written so that its gradient is that of max.
    let size = ((latents.sqr()?.mean_all()? - 1.0)?.relu()? + 1.0)? * 4.0;
    let shape = ((skew.abs()? + kurtosis.abs()?)?.sum_all()? / n as f64)?;
    spread + centre + size? + shape
}
// ANCHOR_END: latent_statistics

/// What [`big_sleep`] made: the picture of the averaged latent `[1, 3, s,
/// s]`, and the loss at each step.
pub struct Dreamed {
    pub picture: Tensor,
    pub losses: Vec<f32>,
}

// ANCHOR: big_sleep
/// Big Sleep on the scene prior: from one N(0, 1) latent, Adam on the
/// guide's loss (over cutouts) plus the latents' statistics; the result is
/// the picture of the latents' moving average.
pub fn big_sleep(
    prior: &ScenePrior,
    guide: &Guide,
    settings: &BigSleepSettings,
    device: &Device,
) -> anyhow::Result<Dreamed> {
    anyhow::ensure!(settings.steps > 0, "Big Sleep needs at least one step");
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    let start = standard_normal(1, prior.config.latent, &mut rng, device)?;
    let latents = Var::from_tensor(&start)?;
    // Bias-corrected, as Big Sleep's EMA: the start's noise gets no weight.
    let (mut biased, mut kept) = (start.zeros_like()?, 1.0);
    let mut adam =
        crate::nn::train::adam(vec![latents.clone()], settings.learning_rate)?;
    let cutouts = Cutouts::plain(settings.cutouts, settings.cut_size);
    let decay = settings.ema_decay;
    let mut losses = Vec::with_capacity(settings.steps);
    for _ in 0..settings.steps {
        stop_if_interrupted("nothing was written")?;
        let picture = paint(&prior.decode(latents.as_tensor())?)?;
        let loss = (guide.loss(&picture, Some(&cutouts), &mut rng)?
            + latent_statistics_loss(latents.as_tensor())?)?;
        losses.push(loss.to_scalar::<f32>()?);
        adam.backward_step(&loss)?;
        biased =
            ((biased * decay)? + (latents.as_tensor().detach() * (1.0 - decay))?)?;
        kept *= decay;
    }
    let average = (biased / (1.0 - kept))?;
    let picture = paint(&prior.decode(&average)?)?;
    Ok(Dreamed { picture, losses })
}
// ANCHOR_END: big_sleep

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::compare::rows_to_tensor;
    use candle_core::Device;

    /// The loss computed from scratch, in f64, row by row as Big Sleep's
    /// code reads.
    fn by_hand(rows: &[Vec<f64>]) -> f64 {
        let n = rows.len() as f64;
        let (mut spread, mut centre, mut square, mut shape) = (0.0, 0.0, 0.0, 0.0);
        for row in rows {
            let d = row.len() as f64;
            let mean = row.iter().sum::<f64>() / d;
            let sum_sq: f64 = row.iter().map(|x| (x - mean).powi(2)).sum();
            spread += ((sum_sq / (d - 1.0)).sqrt() - 1.0).abs() / n;
            centre += mean.abs() / n;
            square += row.iter().map(|x| x * x).sum::<f64>() / (d * n);
            let std = (sum_sq / d).sqrt();
            let z: Vec<f64> = row.iter().map(|x| (x - mean) / std).collect();
            let skew = z.iter().map(|v| v.powi(3)).sum::<f64>() / d;
            let kurtosis = z.iter().map(|v| v.powi(4)).sum::<f64>() / d - 3.0;
            shape += (skew.abs() + kurtosis.abs()) / n;
        }
        spread + centre + 4.0 * square.max(1.0) + shape
    }

    #[test]
    fn the_latent_loss_is_big_sleeps_and_its_gradient_matches_a_finite_difference()
    -> anyhow::Result<()> {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let normal = standard_normal(3, 16, &mut rng, &Device::Cpu)?;
        // Off N(0, 1): shifted, stretched (mean square above 1) and skewed.
        let rows: Vec<Vec<f64>> = normal
            .to_vec2::<f32>()?
            .iter()
            .enumerate()
            .map(|(i, r)| {
                r.iter()
                    .map(|&v| {
                        f64::from(v) * (1.0 + i as f64)
                            + 0.3 * i as f64
                            + f64::from(v).powi(2) * 0.2
                    })
                    .collect()
            })
            .collect();
        let loss =
            latent_statistics_loss(&rows_to_tensor(&rows)?)?.to_scalar::<f32>()?;
        assert!(
            (f64::from(loss) - by_hand(&rows)).abs() < 1e-4,
            "{loss} vs {}",
            by_hand(&rows)
        );

        let var = Var::from_tensor(&rows_to_tensor(&rows)?)?;
        let gradient = latent_statistics_loss(var.as_tensor())?.backward()?;
        let gradient = gradient
            .get(var.as_tensor())
            .expect("a gradient")
            .to_vec2::<f32>()?;
        let eps = 1e-4;
        for (i, j) in [(0, 0), (1, 5), (2, 15)] {
            let mut up = rows.clone();
            up[i][j] += eps;
            let mut down = rows.clone();
            down[i][j] -= eps;
            let numeric = (by_hand(&up) - by_hand(&down)) / (2.0 * eps);
            let analytic = f64::from(gradient[i][j]);
            assert!(
                (numeric - analytic).abs() < 1e-3 * (1.0 + numeric.abs()),
                "({i}, {j}): {analytic} vs {numeric}"
            );
        }
        Ok(())
    }

    #[test]
    fn noise_pays_little_and_a_shifted_latent_pays_more() -> anyhow::Result<()> {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let noise = standard_normal(1, 512, &mut rng, &Device::Cpu)?;
        let at_rest = latent_statistics_loss(&noise)?.to_scalar::<f32>()?;
        // 4 · max(mean z², 1) alone is 4 for N(0, 1); the rest is small.
        assert!((4.0..4.5).contains(&at_rest), "{at_rest}");
        let shifted =
            latent_statistics_loss(&((noise * 2.0)? + 1.0)?)?.to_scalar::<f32>()?;
        assert!(shifted > at_rest + 10.0, "{shifted}");
        Ok(())
    }
}

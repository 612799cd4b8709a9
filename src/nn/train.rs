//! The training loop the course's candle models share (chapter 2's classifiers
//! keep theirs written out: there the loop is the lesson).

use anyhow::ensure;
use candle_core::{Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};

use super::progress::interrupted;

/// The seed of step `step`'s fresh batch: a new one every step, so a model
/// never sees the same picture twice, and the same for the same `seed`.
pub fn step_seed(seed: u64, step: usize) -> u64 {
    seed.wrapping_mul(1_000_003).wrapping_add(step as u64)
}

/// Adam over the given variables, without weight decay.
pub fn adam(vars: Vec<Var>, learning_rate: f64) -> candle_core::Result<AdamW> {
    AdamW::new(
        vars,
        ParamsAdamW {
            lr: learning_rate,
            weight_decay: 0.0,
            ..Default::default()
        },
    )
}

/// Trains `vars` with Adam for `steps` steps and returns every step's loss.
/// Each step `learning_rate(step)` sets the rate, `loss_at(step)` computes the
/// loss on that step's batch (with anything the step reports from it), Adam
/// steps, and `after_step(step, loss, that)` may adjust variables and report.
/// A loss that is not finite stops training with an error naming the step;
/// Ctrl-C ([`interrupted`]) stops it early, with fewer losses.
pub fn fit<T>(
    vars: Vec<Var>,
    steps: usize,
    learning_rate: impl Fn(usize) -> f64,
    mut loss_at: impl FnMut(usize) -> anyhow::Result<(Tensor, T)>,
    mut after_step: impl FnMut(usize, f32, T) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<f32>> {
    let mut adam = adam(vars, learning_rate(0))?;
    let mut losses = Vec::with_capacity(steps);
    for step in 0..steps {
        if interrupted() {
            break;
        }
        adam.set_learning_rate(learning_rate(step));
        let (loss, that) = loss_at(step)?;
        adam.backward_step(&loss)?;
        let loss = loss.to_scalar::<f32>()?;
        ensure!(
            loss.is_finite(),
            "training diverged at step {step}: loss {loss}"
        );
        losses.push(loss);
        after_step(step, loss, that)?;
    }
    Ok(losses)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn fits_a_line_and_reports_every_step() -> anyhow::Result<()> {
        // Least squares for w in y = 3x: Adam must move w from 0 towards 3.
        let w = Var::new(0f32, &Device::Cpu)?;
        let x = Tensor::new(&[1f32, 2.0, 3.0], &Device::Cpu)?;
        let y = (&x * 3.0)?;
        let mut heard = Vec::new();
        let losses = fit(
            vec![w.clone()],
            200,
            |_| 0.1,
            |_| {
                Ok((
                    (x.broadcast_mul(w.as_tensor())? - &y)?.sqr()?.mean_all()?,
                    (),
                ))
            },
            |step, loss, ()| {
                heard.push((step, loss));
                Ok(())
            },
        )?;
        assert_eq!(losses.len(), 200);
        assert_eq!(heard.len(), 200);
        assert!(
            losses[199] < 0.01 * losses[0],
            "{} → {}",
            losses[0],
            losses[199]
        );
        assert!((w.to_scalar::<f32>()? - 3.0).abs() < 0.1);
        Ok(())
    }

    #[test]
    fn a_diverging_loss_names_its_step() {
        let w = Var::new(1f32, &Device::Cpu).unwrap();
        let error = fit(
            vec![w.clone()],
            5,
            |_| 0.1,
            |step| {
                let scale = if step == 3 { f32::NAN } else { 1.0 };
                Ok(((w.as_tensor() * scale as f64)?.sqr()?, ()))
            },
            |_, _, ()| Ok(()),
        )
        .unwrap_err();
        assert!(error.to_string().contains("diverged at step 3"), "{error}");
    }

    #[test]
    fn step_seeds_differ_by_step_and_by_seed() {
        assert_eq!(step_seed(0, 5), 5);
        assert_ne!(step_seed(1, 0), step_seed(0, 1));
        assert_eq!(step_seed(7, 3), step_seed(7, 3));
    }
}

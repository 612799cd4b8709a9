//! Nearest-neighbour doubling with a backward that adds: the generators'
//! upsampling layers (the VQGAN's decoder, BigGAN's blocks).

use candle_core::Tensor;

/// Nearest-neighbour doubling, `[n, c, h, w]` → `[n, c, 2h, 2w]`, written as a
/// broadcast so that its backward sums the four copies' gradients and adds
/// them to whatever else reaches `x`. candle 0.11's `upsample_nearest2d`
/// backward overwrites the gradient already gathered at its input instead
/// (a BigGAN block feeds its input both to its path and, doubled, to its
/// skip), and runs as a convolution with one group per channel, which the
/// CPU takes one channel at a time.
pub fn double_nearest(x: &Tensor) -> candle_core::Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    x.reshape((n, c, h, 1, w, 1))?
        .broadcast_as((n, c, h, 2, w, 2))?
        .reshape((n, c, 2 * h, 2 * w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn doubling_adds_its_gradient_to_the_other_branchs() -> anyhow::Result<()> {
        // x feeds the doubling and, directly, a second branch, as a block's
        // input feeds both its skip and its main path.
        let device = Device::Cpu;
        let values: Vec<f32> =
            (0..2 * 3 * 3).map(|i| (i as f32 * 0.37).sin()).collect();
        let x = Var::from_vec(values.clone(), (1, 2, 3, 3), &device)?;
        let up_weights = Tensor::arange(0f32, 72.0, &device)?
            .reshape((1, 2, 6, 6))?
            .cos()?;
        let loss = |x: &Tensor| -> candle_core::Result<Tensor> {
            let doubled = (double_nearest(x)? * &up_weights)?.sum_all()?;
            doubled + (x.sqr()? * 0.5)?.sum_all()?
        };
        let grads = loss(x.as_tensor())?.backward()?;
        let analytic = grads
            .get(x.as_tensor())
            .unwrap()
            .flatten_all()?
            .to_vec1::<f32>()?;
        let eps = 1e-2f32;
        for i in 0..values.len() {
            let at = |delta: f32| -> anyhow::Result<f32> {
                let mut moved = values.clone();
                moved[i] += delta;
                let t = Tensor::from_vec(moved, (1, 2, 3, 3), &device)?;
                Ok(loss(&t)?.to_scalar::<f32>()?)
            };
            let numeric = (at(eps)? - at(-eps)?) / (2.0 * eps);
            assert!(
                (numeric - analytic[i]).abs() < 1e-3,
                "{i}: {numeric} vs {}",
                analytic[i]
            );
        }
        // And the forward pass is candle's nearest doubling.
        let theirs = x.as_tensor().upsample_nearest2d(6, 6)?;
        let ours = double_nearest(x.as_tensor())?;
        assert_eq!(
            ours.flatten_all()?.to_vec1::<f32>()?,
            theirs.flatten_all()?.to_vec1::<f32>()?
        );
        Ok(())
    }
}

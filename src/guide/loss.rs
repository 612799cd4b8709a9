//! The guidance loss of VQGAN+CLIP (Katherine Crowson's notebook) and its
//! descendants: the squared great-circle distance between CLIP embeddings on
//! the unit sphere, L = 2·arcsin(‖x̂ − ŷ‖ / 2)² = θ²/2,
//! weighted per prompt, with a stop value that switches a prompt off.

use candle_core::{Result, Tensor};

use super::prompts::Prompt;
use crate::clip::loss::l2_normalize;

// ANCHOR: arcsin
/// arcsin on [0, 1] built from tensor ops, so it runs and differentiates on
/// every device (candle has no arcsin): Abramowitz & Stegun 4.4.46,
/// arcsin x = π/2 − √(1 − x) · Σₖ aₖ xᵏ, error below 2·10⁻⁸.
pub fn arcsin_unit(x: &Tensor) -> Result<Tensor> {
    const A: [f64; 8] = [
        1.570_796_305_0,
        -0.214_598_801_6,
        0.088_978_987_4,
        -0.050_174_304_6,
        0.030_891_881_0,
        -0.017_088_125_6,
        0.006_670_090_1,
        -0.001_262_491_1,
    ];
    let x = x.clamp(0.0, 1.0)?;
    // Horner: a₀ + x(a₁ + x(a₂ + …)).
    let mut series = x.ones_like()?.affine(0.0, A[7])?;
    for &a in A[..7].iter().rev() {
        series = (series * &x)?.affine(1.0, a)?;
    }
    // √(1 − x) has an infinite slope at x = 1 (opposite points); keep it finite.
    let root = x.affine(-1.0, 1.0)?.clamp(1e-16, 1.0)?.sqrt()?;
    (root * series)?.affine(-1.0, std::f64::consts::FRAC_PI_2)
}
// ANCHOR_END: arcsin

// ANCHOR: spherical
/// Squared great-circle distance between every row of `a` `[n, d]` and every
/// row of `b` `[m, d]`: `[n, m]`, from 0 (same direction) to π²/2 (opposite).
pub fn spherical_distance(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (a, b) = (l2_normalize(a)?, l2_normalize(b)?);
    // ‖â − b̂‖² = 2 − 2 â·b̂ for unit vectors.
    let chord = a
        .matmul(&b.t()?)?
        .affine(-2.0, 2.0)?
        .clamp(0.0, 4.0)?
        .sqrt()?;
    arcsin_unit(&(chord / 2.0)?)?.sqr()? * 2.0
}

/// One prompt's loss over a batch of image embeddings (cutouts):
/// |w| · mean(sign(w) · L). Where sign(w) · L is below the prompt's `stop`,
/// the value still counts but no gradient flows (`replace_grad` in Crowson's
/// VQGAN+CLIP notebook).
pub fn prompt_loss(
    images: &Tensor,
    text: &Tensor,
    prompt: &Prompt,
) -> Result<Tensor> {
    let signed = (spherical_distance(images, &text.reshape((1, ()))?)?
        * f64::from(prompt.weight.signum()))?;
    let pulling = signed
        .ge(f64::from(prompt.stop))?
        .to_dtype(signed.dtype())?;
    let gated = (signed.detach() + ((&signed - signed.detach())? * pulling)?)?;
    gated.mean_all()? * f64::from(prompt.weight.abs())
}
// ANCHOR_END: spherical

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Var};

    #[test]
    fn arcsin_matches_the_standard_library() -> Result<()> {
        let xs: Vec<f64> = (0..=1000).map(|i| f64::from(i) / 1000.0).collect();
        let ours: Vec<f64> =
            arcsin_unit(&Tensor::new(xs.as_slice(), &Device::Cpu)?)?.to_vec1()?;
        for (x, y) in xs.iter().zip(ours) {
            assert!(
                (x.asin() - y).abs() < 5e-8,
                "arcsin({x}): {y} vs {}",
                x.asin()
            );
        }
        Ok(())
    }

    #[test]
    fn the_distance_is_half_the_squared_angle() -> Result<()> {
        let device = Device::Cpu;
        let a = Tensor::new(&[[1.0f64, 0.0, 0.0], [0.3, -2.0, 0.5]], &device)?;
        let b = Tensor::new(
            &[[0.0f64, 3.0, 0.0], [1.0, 1.0, 1.0], [-1.0, 0.0, 0.0]],
            &device,
        )?;
        let ours = spherical_distance(&a, &b)?.to_vec2::<f64>()?;
        let (a, b) = (a.to_vec2::<f64>()?, b.to_vec2::<f64>()?);
        for i in 0..2 {
            for j in 0..3 {
                let dot: f64 = (0..3).map(|k| a[i][k] * b[j][k]).sum();
                let norms: f64 =
                    (0..3).map(|k| a[i][k] * a[i][k]).sum::<f64>().sqrt()
                        * (0..3).map(|k| b[j][k] * b[j][k]).sum::<f64>().sqrt();
                let angle = (dot / norms).clamp(-1.0, 1.0).acos();
                assert!((ours[i][j] - angle * angle / 2.0).abs() < 1e-6, "{i},{j}");
            }
        }
        Ok(())
    }

    #[test]
    fn the_prompt_gradient_matches_finite_differences_and_stops()
    -> anyhow::Result<()> {
        let device = Device::Cpu;
        let images = Var::rand(-1f64, 1.0, (4, 5), &device)?;
        let text = Tensor::rand(-1f64, 1.0, 5, &device)?;
        let push = Prompt::parse("away:-0.5", 1)?;
        let loss = |x: &Tensor| prompt_loss(x, &text, &push)?.to_scalar::<f64>();
        let grads = prompt_loss(&images, &text, &push)?.backward()?;
        let analytic: Vec<f64> = grads
            .get(&images)
            .expect("gradient")
            .flatten_all()?
            .to_vec1()?;
        for (k, &g) in analytic.iter().enumerate() {
            let mut bump = vec![0.0; 20];
            bump[k] = 1e-6;
            let bump = Tensor::from_vec(bump, (4, 5), &device)?;
            let numeric = (loss(&(images.as_tensor() + &bump)?)?
                - loss(&(images.as_tensor() - &bump)?)?)
                / 2e-6;
            assert!((numeric - g).abs() < 1e-6, "{k}: {numeric} vs {g}");
        }
        // With stop above every loss, the value stays but the gradient is zero.
        let stopped = Prompt::parse("near:1:10", 1)?;
        let value = prompt_loss(&images, &text, &stopped)?;
        assert!(value.to_scalar::<f64>()? > 0.0);
        let grads = value.backward()?;
        let sum = grads.get(&images).expect("gradient").abs()?.sum_all()?;
        assert_eq!(sum.to_dtype(DType::F64)?.to_scalar::<f64>()?, 0.0);
        Ok(())
    }
}

//! Generators: what the optimiser changes, and how that becomes a picture.
//! Each holds its variables and renders a picture `[1, 3, h, w]` in [0, 1]
//! that is differentiable in them — the "latent → generator → image" step of
//! the lecture's loop.

use candle_core::{DType, Device, Tensor, Var};
use rand::Rng;
use rand_distr::{Distribution, Normal};

/// Something the guidance loop can optimise.
pub trait Generator {
    /// The variables the optimiser changes.
    fn variables(&self) -> Vec<Var>;
    /// The current picture, `[1, 3, h, w]` in [0, 1].
    fn render(&self) -> candle_core::Result<Tensor>;
    /// After each optimiser step: keep the variables where they make sense
    /// (VQGAN+CLIP clamps its latents to the codebook's range).
    fn after_step(&self) -> candle_core::Result<()> {
        Ok(())
    }
}

/// A `[1, channels, side, side]` variable of small Gaussian noise (σ = 0.1):
/// where every generator starts.
fn noise(
    channels: usize,
    side: usize,
    rng: &mut impl Rng,
    device: &Device,
) -> candle_core::Result<Var> {
    let normal = Normal::new(0.0, 0.1).expect("a positive scale");
    let values: Vec<f32> = (0..channels * side * side)
        .map(|_| normal.sample(rng))
        .collect();
    Var::from_tensor(&Tensor::from_vec(
        values,
        (1, channels, side, side),
        device,
    )?)
}

// ANCHOR: raw_pixels
/// Every pixel is free: picture = sigmoid(v), one variable per pixel and channel.
pub struct RawPixels {
    logits: Var,
}

impl RawPixels {
    /// Grey with a little noise.
    pub fn new(
        size: usize,
        rng: &mut impl Rng,
        device: &Device,
    ) -> candle_core::Result<Self> {
        Ok(RawPixels {
            logits: noise(3, size, rng, device)?,
        })
    }

    /// Starts from a picture `[1, 3, h, w]` (for inversion and editing).
    pub fn from_picture(picture: &Tensor) -> candle_core::Result<Self> {
        // sigmoid⁻¹, kept away from ±∞ at exact 0 and 1.
        let p = picture.clamp(0.01, 0.99)?;
        let logits = (p.log()? - p.affine(-1.0, 1.0)?.log()?)?;
        Ok(RawPixels {
            logits: Var::from_tensor(&logits)?,
        })
    }
}

impl Generator for RawPixels {
    fn variables(&self) -> Vec<Var> {
        vec![self.logits.clone()]
    }

    fn render(&self) -> candle_core::Result<Tensor> {
        candle_nn::ops::sigmoid(self.logits.as_tensor())
    }
}
// ANCHOR_END: raw_pixels

// ANCHOR: pixel_draw
/// PixelDraw-style pixel art: a coarse grid of cells, each one colour,
/// enlarged without smoothing. With a palette, each cell mixes the palette's
/// colours by a softmax, which sharpens into one colour as it trains.
pub struct PixelDraw {
    cells: Var,
    palette: Option<Tensor>,
    scale: usize,
}
// ANCHOR_END: pixel_draw

impl PixelDraw {
    /// `grid`×`grid` cells of `scale`×`scale` pixels. `palette`: `[k, 3]` colours
    /// in [0, 1].
    pub fn new(
        grid: usize,
        scale: usize,
        palette: Option<&[[f32; 3]]>,
        rng: &mut impl Rng,
        device: &Device,
    ) -> candle_core::Result<Self> {
        let channels = palette.map_or(3, <[_]>::len);
        let cells = noise(channels, grid, rng, device)?;
        let palette = palette
            .map(|colours| {
                let flat: Vec<f32> = colours.iter().flatten().copied().collect();
                Tensor::from_vec(flat, (colours.len(), 3), device)
            })
            .transpose()?;
        Ok(PixelDraw {
            cells,
            palette,
            scale,
        })
    }
}

// ANCHOR: pixel_draw_render
impl Generator for PixelDraw {
    fn variables(&self) -> Vec<Var> {
        vec![self.cells.clone()]
    }

    fn render(&self) -> candle_core::Result<Tensor> {
        let (_, _, g, _) = self.cells.dims4()?;
        let colours = match &self.palette {
            None => candle_nn::ops::sigmoid(self.cells.as_tensor())?,
            Some(palette) => {
                // [1, k, g, g] weights → [1, 3, g, g] colours.
                let weights =
                    crate::clip::loss::log_softmax(self.cells.as_tensor(), 1)?
                        .exp()?;
                let flat = weights.squeeze(0)?.flatten_from(1)?; // [k, g·g]
                palette.t()?.matmul(&flat)?.reshape((1, 3, g, g))?
            }
        };
        // Nearest-neighbour enlargement as a broadcast: every cell fills s×s pixels.
        let s = self.scale;
        colours
            .reshape((1, 3, g, 1, g, 1))?
            .broadcast_as((1, 3, g, s, g, s))?
            .reshape((1, 3, g * s, g * s))
    }
}
// ANCHOR_END: pixel_draw_render

// ANCHOR: fourier
/// A picture described by its frequencies: coefficients of a cosine basis,
/// scaled down by frequency so that smooth pictures are easy to reach and
/// pixel-level noise is hard — the opposite of raw pixels.
pub struct Fourier {
    coefficients: Var,
    basis: Tensor, // [size, frequencies]
    decay: Tensor, // [1, 1, frequencies, frequencies]
}

impl Fourier {
    pub fn new(
        size: usize,
        frequencies: usize,
        rng: &mut impl Rng,
        device: &Device,
    ) -> candle_core::Result<Self> {
        // DCT-II basis: column u is cos(π (x + ½) u / size).
        let basis: Vec<f32> = (0..size * frequencies)
            .map(|k| {
                let (x, u) = ((k / frequencies) as f32, (k % frequencies) as f32);
                (std::f32::consts::PI * (x + 0.5) * u / size as f32).cos()
            })
            .collect();
        let decay: Vec<f32> = (0..frequencies * frequencies)
            .map(|k| {
                let (u, v) = ((k / frequencies) as f32, (k % frequencies) as f32);
                1.0 / (1.0 + (u * u + v * v).sqrt())
            })
            .collect();
        Ok(Fourier {
            coefficients: noise(3, frequencies, rng, device)?,
            basis: Tensor::from_vec(basis, (size, frequencies), device)?,
            decay: Tensor::from_vec(
                decay,
                (1, 1, frequencies, frequencies),
                device,
            )?,
        })
    }
}
// ANCHOR_END: fourier

// ANCHOR: fourier_render
impl Generator for Fourier {
    fn variables(&self) -> Vec<Var> {
        vec![self.coefficients.clone()]
    }

    fn render(&self) -> candle_core::Result<Tensor> {
        let (size, f) = self.basis.dims2()?;
        // The damped coefficients [3, f, f], one square per colour channel.
        let scaled = self.coefficients.broadcast_mul(&self.decay)?.squeeze(0)?;
        let basis = self.basis.broadcast_as((3, size, f))?.contiguous()?;
        let picture = basis
            .matmul(&scaled)?
            .matmul(&basis.transpose(1, 2)?.contiguous()?)?;
        candle_nn::ops::sigmoid(&picture.unsqueeze(0)?)
    }
}
// ANCHOR_END: fourier_render

/// The picture a generator shows now, as an image (for frames and output).
pub fn snapshot(generator: &dyn Generator) -> anyhow::Result<image::RgbImage> {
    let picture = generator.render()?.to_dtype(DType::F32)?;
    crate::basics::pixels::tensor_to_image(&picture.get(0)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::compare::max_difference;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(1)
    }

    #[test]
    fn raw_pixels_start_from_a_picture() -> anyhow::Result<()> {
        let picture = Tensor::rand(0.05f32, 0.95, (1, 3, 8, 8), &Device::Cpu)?;
        let generator = RawPixels::from_picture(&picture)?;
        let difference = max_difference(&generator.render()?, &picture)?;
        assert!(difference < 1e-5, "{difference}");
        Ok(())
    }

    #[test]
    fn pixel_draw_paints_blocks_and_a_palette_limits_the_colours()
    -> anyhow::Result<()> {
        let device = Device::Cpu;
        let free = PixelDraw::new(4, 3, None, &mut rng(), &device)?;
        let picture = snapshot(&free)?;
        assert_eq!(picture.dimensions(), (12, 12));
        for (x, y, pixel) in picture.enumerate_pixels() {
            assert_eq!(
                pixel,
                picture.get_pixel(x / 3 * 3, y / 3 * 3),
                "cell at {x},{y}"
            );
        }
        // A sharp choice among red and blue gives only red and blue pixels.
        let palette = [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]];
        let painted = PixelDraw::new(2, 2, Some(&palette), &mut rng(), &device)?;
        let sharp = (painted.cells.as_tensor() * 1000.0)?;
        painted.cells.set(&sharp)?;
        for pixel in snapshot(&painted)?.pixels() {
            assert!(
                pixel.0 == [255, 0, 0] || pixel.0 == [0, 0, 255],
                "{pixel:?}"
            );
        }
        Ok(())
    }

    #[test]
    fn fourier_pictures_are_smooth() -> anyhow::Result<()> {
        // With every coefficient equal, low frequencies dominate: neighbouring
        // pixels differ far less than in raw pixels' noise.
        let device = Device::Cpu;
        let fourier = Fourier::new(16, 8, &mut rng(), &device)?;
        fourier
            .coefficients
            .set(&fourier.coefficients.ones_like()?)?;
        let picture = fourier.render()?;
        assert_eq!(picture.dims(), &[1, 3, 16, 16]);
        let step = (picture.narrow(3, 1, 15)? - picture.narrow(3, 0, 15)?)?
            .abs()?
            .mean_all()?;
        assert!(step.to_scalar::<f32>()? < 0.05);
        Ok(())
    }

    #[test]
    fn gradients_reach_every_generators_variables() -> anyhow::Result<()> {
        let device = Device::Cpu;
        let palette = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        let generators: Vec<Box<dyn Generator>> = vec![
            Box::new(RawPixels::new(8, &mut rng(), &device)?),
            Box::new(PixelDraw::new(4, 2, Some(&palette), &mut rng(), &device)?),
            Box::new(Fourier::new(8, 4, &mut rng(), &device)?),
        ];
        for generator in generators {
            let red = generator.render()?.narrow(1, 0, 1)?.sum_all()?;
            let grads = red.backward()?;
            for var in generator.variables() {
                let g = grads.get(&var).expect("a gradient").abs()?.sum_all()?;
                assert!(g.to_scalar::<f32>()? > 0.0);
            }
        }
        Ok(())
    }
}

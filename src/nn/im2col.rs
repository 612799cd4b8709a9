//! A convolution as one matrix product (im2col), for the CPU. Each output pixel
//! of a k×k convolution is a dot product of the kernel with the k×k patch under
//! it; laying every patch out as a column turns the whole convolution into
//! `W [out, in·k·k] · columns [in·k·k, pixels]`, which gemm runs near the
//! CPU's peak. The columns are made a band of output rows at a time, so they
//! stay small, and row by row with `copy_from_slice`, so making them costs
//! little beside the product. candle's CPU convolution does the same product
//! but spends most of its time making the columns.

use candle_core::{DType, Device, Tensor, WithDType};
use rayon::prelude::*;

/// Output rows per band: the columns of a band hold in·k·k × BAND_ROWS·width
/// numbers (about 9 MB for 128 channels, 3×3 and 256 pixels wide).
const BAND_ROWS: usize = 8;

/// `x.conv2d(weight, padding, 1, 1, 1)`: stride 1, the output as large as the
/// input when `padding` is (k − 1) / 2. f32 and f64 on the CPU take the
/// route above; anything else is candle's own convolution.
pub fn conv2d(
    x: &Tensor,
    weight: &Tensor,
    padding: usize,
) -> candle_core::Result<Tensor> {
    let kernel = weight.dim(2)?;
    let (_, _, height, width) = x.dims4()?;
    let fits = matches!(x.device(), Device::Cpu)
        && x.dtype() == weight.dtype()
        && height + 2 * padding >= kernel
        && width + 2 * padding >= kernel;
    match x.dtype() {
        DType::F32 if fits => columns_times_kernel::<f32>(x, weight, padding),
        DType::F64 if fits => columns_times_kernel::<f64>(x, weight, padding),
        _ => x.conv2d(weight, padding, 1, 1, 1),
    }
}

fn columns_times_kernel<T: WithDType>(
    x: &Tensor,
    weight: &Tensor,
    padding: usize,
) -> candle_core::Result<Tensor> {
    let (_, channels, height, width) = x.dims4()?;
    let (out, _, kernel, _) = weight.dims4()?;
    let (rows, columns) = (
        height + 2 * padding + 1 - kernel,
        width + 2 * padding + 1 - kernel,
    );
    let geometry = Geometry {
        channels,
        height,
        width,
        kernel,
        padding,
        columns,
    };
    let matrix = weight.reshape((out, channels * kernel * kernel))?;
    let mut pictures = Vec::new();
    for picture in x.chunk(x.dim(0)?, 0)? {
        let pixels: Vec<T> = picture.flatten_all()?.to_vec1()?;
        let mut bands = Vec::new();
        for first in (0..rows).step_by(BAND_ROWS) {
            let band = BAND_ROWS.min(rows - first);
            let patches = geometry.columns_of(&pixels, first, band);
            let shape = (channels * kernel * kernel, band * columns);
            bands.push(matrix.matmul(&Tensor::from_vec(
                patches,
                shape,
                x.device(),
            )?)?);
        }
        pictures.push(Tensor::cat(&bands, 1)?.reshape((1, out, rows, columns))?);
    }
    Tensor::cat(&pictures, 0)
}

/// The sizes of one picture and its convolution.
struct Geometry {
    channels: usize,
    height: usize,
    width: usize,
    kernel: usize,
    padding: usize,
    /// The output's width.
    columns: usize,
}

// ANCHOR: columns
impl Geometry {
    /// The columns for output rows `first..first + band`: row (c, ky, kx)
    /// holds input channel c shifted by (ky, kx) under every output pixel,
    /// zero where the patch hangs over the edge.
    fn columns_of<T: WithDType>(
        &self,
        pixels: &[T],
        first: usize,
        band: usize,
    ) -> Vec<T> {
        let (kernel, padding, columns) = (self.kernel, self.padding, self.columns);
        let (height, width) = (self.height, self.width);
        let n = band * columns;
        let mut patches = vec![T::zero(); self.channels * kernel * kernel * n];
        patches
            .par_chunks_mut(n)
            .enumerate()
            .for_each(|(row, patch)| {
                let (channel, ky, kx) =
                    (row / (kernel * kernel), row / kernel % kernel, row % kernel);
                let plane = &pixels[channel * height * width..][..height * width];
                // Output column x reads input column x + kx − padding.
                let skip = padding.saturating_sub(kx);
                let start = (kx + skip).saturating_sub(padding);
                let length = columns
                    .saturating_sub(skip)
                    .min(width.saturating_sub(start));
                for y in 0..band {
                    let source = (first + y + ky)
                        .checked_sub(padding)
                        .filter(|&s| s < height);
                    if let Some(source) = source {
                        let line = &plane[source * width + start..][..length];
                        patch[y * columns + skip..][..length].copy_from_slice(line);
                    }
                }
            });
        patches
    }
}
// ANCHOR_END: columns

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::compare::max_difference;

    #[test]
    fn the_product_of_columns_is_candles_convolution() -> candle_core::Result<()> {
        use rand::SeedableRng;
        let device = Device::Cpu;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut normal = |dims: (usize, usize, usize, usize)| {
            let count = dims.0 * dims.1 * dims.2 * dims.3;
            crate::models::vae::standard_normal(1, count, &mut rng, &device)?
                .reshape(dims)
        };
        // Kernels 1 and 3, no padding and "same" padding, a band that does not
        // divide the rows, pictures narrower than the kernel's reach.
        for (batch, channels, out, height, width, kernel, padding) in [
            (1, 3, 4, 11, 13, 3, 1),
            (2, 5, 2, 9, 7, 3, 0),
            (1, 6, 3, 10, 10, 1, 0),
            (1, 2, 2, 2, 3, 3, 1),
            (1, 4, 3, 17, 5, 5, 2),
        ] {
            for dtype in [DType::F32, DType::F64] {
                let x = normal((batch, channels, height, width))?.to_dtype(dtype)?;
                let weight =
                    normal((out, channels, kernel, kernel))?.to_dtype(dtype)?;
                let ours = conv2d(&x, &weight, padding)?;
                let candle = x.conv2d(&weight, padding, 1, 1, 1)?;
                assert_eq!((ours.dims(), ours.dtype()), (candle.dims(), dtype));
                let difference =
                    max_difference(&ours, &candle).expect("same shapes");
                // Relative to the outputs' size: f32 sums of up to 100
                // products of order 10 round at about 1e-6 each.
                let largest = candle.abs()?.max_all()?.to_dtype(DType::F32)?;
                let largest = largest.to_scalar::<f32>()?.max(1.0);
                assert!(
                    difference < 1e-6 * largest,
                    "{kernel}², padding {padding}: {difference} of {largest}"
                );
            }
        }
        Ok(())
    }
}

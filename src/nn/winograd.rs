//! A 3×3 convolution with fewer multiplications (Winograd's minimal filtering
//! F(2×2, 3×3); Lavin and Gray, "Fast Algorithms for Convolutional Neural
//! Networks", 2016), for the CPU. A 2×2 block of outputs reads a 4×4 tile of
//! the input. Both the tile and the kernel are turned into 4×4 arrays whose
//! elementwise product, turned back, is the block: 16 multiplications where
//! the direct way takes 36. Summed over the input channels, the 16 products
//! become 16 matrix products, `U[ξ] [out, in] · V[ξ] [in, tiles]`, which gemm
//! runs near the CPU's peak: the convolution does 2.25 times fewer operations
//! than as one product of columns ([`crate::nn::im2col`]).
//!
//! The transforms only add and subtract (and halve, for the kernel), so f32
//! keeps almost all of its precision; the test holds it to candle's own
//! convolution.

use candle_core::Tensor;

use crate::nn::cpu::{Element, Values, take, with_element};
use rayon::prelude::*;

/// Tiles per band, in whole tile rows: the transformed tiles of a band hold
/// 16 · in · BAND_TILES numbers (32 MB for 128 channels). Fewer, larger
/// products keep gemm busy: 1,024 tiles per band took 60% longer at 256².
const BAND_TILES: usize = 4096;

/// Whether [`conv3x3`] takes this convolution: 3×3 kernels on the CPU in f32
/// or f64, with outputs large enough that the 16 products are not tiny.
pub fn applies(x: &Tensor, weight: &Tensor, padding: usize) -> bool {
    let (Ok((_, _, height, width)), Ok((_, _, kernel, kernel_w))) =
        (x.dims4(), weight.dims4())
    else {
        return false;
    };
    take(x)
        && x.dtype() == weight.dtype()
        && (kernel, kernel_w) == (3, 3)
        && padding <= 2
        && (height + 2 * padding).saturating_sub(2)
            * (width + 2 * padding).saturating_sub(2)
            >= 32 * 32
}

/// `x.conv2d(weight, padding, 1, 1, 1)` for a 3×3 `weight`, where [`applies`].
pub fn conv3x3(
    x: &Tensor,
    weight: &Tensor,
    padding: usize,
) -> candle_core::Result<Tensor> {
    with_element!(x.dtype(), T => tiles_times_kernel::<T>(x, weight, padding, BAND_TILES))
}

// ANCHOR: transforms
/// The kernel's transform G g Gᵀ, G = [[1, 0, 0], [½, ½, ½], [½, −½, ½],
/// [0, 0, 1]], applied to the rows of `g` ([a, b, c] → 4 numbers), then to
/// the columns.
fn kernel_rows<T: Element>([a, b, c]: [T; 3]) -> [T; 4] {
    let half = T::from_f64(0.5);
    [a, (a + b + c) * half, (a - b + c) * half, c]
}

/// The tile's transform Bᵀ d B, Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0],
/// [0, −1, 1, 0], [0, 1, 0, −1]], on four numbers.
fn tile_rows<T: Element>([d0, d1, d2, d3]: [T; 4]) -> [T; 4] {
    [d0 - d2, d1 + d2, d2 - d1, d1 - d3]
}

/// The way back, Aᵀ m A, Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]], on four numbers.
fn output_rows<T: Element>([m0, m1, m2, m3]: [T; 4]) -> [T; 2] {
    [m0 + m1 + m2, m1 - m2 - m3]
}
// ANCHOR_END: transforms

/// The transformed kernels `[16, out, in]`: plane ξ = 4i + j holds entry
/// (i, j) of G g Gᵀ for every pair of channels.
fn transformed_kernels<T: Element>(weight: &Tensor) -> candle_core::Result<Tensor> {
    let (out, channels, _, _) = weight.dims4()?;
    let kernels: Vec<T> = weight.flatten_all()?.to_vec1()?;
    let pairs = out * channels;
    let mut planes = vec![T::zero(); 16 * pairs];
    // Each pair's 16 numbers, then scattered to the planes.
    let per_pair: Vec<[T; 16]> = kernels
        .par_chunks(9)
        .map(|g| {
            let rows = [0, 1, 2]
                .map(|r| kernel_rows([g[3 * r], g[3 * r + 1], g[3 * r + 2]]));
            let mut u = [T::zero(); 16];
            for j in 0..4 {
                let column = kernel_rows([rows[0][j], rows[1][j], rows[2][j]]);
                for i in 0..4 {
                    u[4 * i + j] = column[i];
                }
            }
            u
        })
        .collect();
    planes
        .par_chunks_mut(pairs)
        .enumerate()
        .for_each(|(xi, plane)| {
            for (value, u) in plane.iter_mut().zip(&per_pair) {
                *value = u[xi];
            }
        });
    Tensor::from_vec(planes, (16, out, channels), weight.device())
}

/// The convolution, `band_tiles` tiles (in whole tile rows) at a time.
fn tiles_times_kernel<T: Element>(
    x: &Tensor,
    weight: &Tensor,
    padding: usize,
    band_tiles: usize,
) -> candle_core::Result<Tensor> {
    let (batch, channels, height, width) = x.dims4()?;
    let out = weight.dim(0)?;
    let (rows, columns) = (height + 2 * padding - 2, width + 2 * padding - 2);
    let tiles = Tiles {
        height,
        width,
        padding,
        rows,
        columns,
        tile_columns: columns.div_ceil(2),
    };
    let kernels = transformed_kernels::<T>(weight)?;
    let mut pictures = Vec::with_capacity(batch);
    for picture in x.chunk(batch, 0)? {
        let picture = picture.contiguous()?;
        let mut result = vec![T::zero(); out * rows * columns];
        let band_rows = (band_tiles / tiles.tile_columns).max(1);
        for first in (0..rows.div_ceil(2)).step_by(band_rows) {
            let band = band_rows.min(rows.div_ceil(2) - first);
            let count = band * tiles.tile_columns;
            // [in, 16, tiles], read as [16, in, tiles] by the product.
            let transformed = tiles.transformed_tiles(
                Values::of(&picture)?.get::<T>()?,
                channels,
                first,
                band,
            );
            let transformed =
                Tensor::from_vec(transformed, (channels, 16, count), x.device())?
                    .transpose(0, 1)?;
            let products = kernels.matmul(&transformed)?;
            let products = products.contiguous()?;
            let products = Values::of(&products)?;
            tiles.write_outputs(products.get::<T>()?, &mut result, first, band);
        }
        pictures.push(Tensor::from_vec(
            result,
            (1, out, rows, columns),
            x.device(),
        )?);
    }
    Tensor::cat(&pictures, 0)
}

/// One picture's sizes, and how its 2×2 blocks of outputs tile it.
struct Tiles {
    height: usize,
    width: usize,
    padding: usize,
    /// The output's sides.
    rows: usize,
    columns: usize,
    tile_columns: usize,
}

impl Tiles {
    /// The transformed tiles of tile rows `first..first + band`, `[in, 16,
    /// tiles]`: tile (i, j) reads input rows 2i − padding .. + 4 and columns
    /// 2j − padding .. + 4, zero outside the picture.
    fn transformed_tiles<T: Element>(
        &self,
        pixels: &[T],
        channels: usize,
        first: usize,
        band: usize,
    ) -> Vec<T> {
        let (height, width, padding) = (self.height, self.width, self.padding);
        let tile_columns = self.tile_columns;
        let count = band * tile_columns;
        // The band's input rows, padded with zeros on every side.
        let padded_width = 2 * tile_columns + 2;
        let padded_rows = 2 * band + 2;
        let mut transformed = vec![T::zero(); channels * 16 * count];
        transformed.par_chunks_mut(16 * count).enumerate().for_each(
            |(channel, planes)| {
                let plane = &pixels[channel * height * width..][..height * width];
                let mut padded = vec![T::zero(); padded_rows * padded_width];
                for (r, line) in padded.chunks_mut(padded_width).enumerate() {
                    let source = (2 * first + r).checked_sub(padding);
                    if let Some(source) = source.filter(|&s| s < height) {
                        line[padding..][..width]
                            .copy_from_slice(&plane[source * width..][..width]);
                    }
                }
                let mut mixed = [(); 4].map(|_| vec![T::zero(); padded_width]);
                for i in 0..band {
                    // Bᵀ d down the tile row's four input rows, every column.
                    let d = |k: usize| {
                        &padded[(2 * i + k) * padded_width..][..padded_width]
                    };
                    let (d0, d1, d2, d3) = (d(0), d(1), d(2), d(3));
                    for x in 0..padded_width {
                        let column = tile_rows([d0[x], d1[x], d2[x], d3[x]]);
                        for (row, value) in mixed.iter_mut().zip(column) {
                            row[x] = value;
                        }
                    }
                    // Then · B across each tile's four columns: plane 4k + l.
                    for (k, row) in mixed.iter().enumerate() {
                        for l in 0..4 {
                            let plane = &mut planes
                                [(4 * k + l) * count + i * tile_columns..]
                                [..tile_columns];
                            for (j, value) in plane.iter_mut().enumerate() {
                                let d = &row[2 * j..2 * j + 4];
                                *value = tile_rows([d[0], d[1], d[2], d[3]])[l];
                            }
                        }
                    }
                }
            },
        );
        transformed
    }

    /// Turns the band's 16 products `[16, out, tiles]` back into 2×2 blocks,
    /// written to output rows 2·first .. 2·(first + band).
    fn write_outputs<T: Element>(
        &self,
        products: &[T],
        result: &mut [T],
        first: usize,
        band: usize,
    ) {
        let (rows, columns, tile_columns) =
            (self.rows, self.columns, self.tile_columns);
        let count = band * tile_columns;
        let out = products.len() / (16 * count);
        result.par_chunks_mut(rows * columns).enumerate().for_each(
            |(channel, plane)| {
                let m: [&[T]; 16] = std::array::from_fn(|xi| {
                    &products[(xi * out + channel) * count..][..count]
                });
                // Two output rows, each two numbers per tile.
                let mut lines = [(); 2].map(|_| vec![T::zero(); 2 * tile_columns]);
                for i in 0..band {
                    let tiles = i * tile_columns..(i + 1) * tile_columns;
                    // Aᵀ m down the rows: down[dy][l] for every tile of the row.
                    let down: [[Vec<T>; 4]; 2] = [0, 1].map(|dy| {
                        [0, 1, 2, 3].map(|l| {
                            let [a, b, c, d] =
                                [0, 1, 2, 3].map(|k| &m[4 * k + l][tiles.clone()]);
                            (0..tile_columns)
                                .map(|j| output_rows([a[j], b[j], c[j], d[j]])[dy])
                                .collect()
                        })
                    });
                    // Then · A across.
                    for (line, down) in lines.iter_mut().zip(&down) {
                        for (j, pair) in line.chunks_exact_mut(2).enumerate() {
                            let block = output_rows([
                                down[0][j], down[1][j], down[2][j], down[3][j],
                            ]);
                            pair.copy_from_slice(&block);
                        }
                    }
                    for (dy, line) in lines.iter().enumerate() {
                        let y = 2 * (first + i) + dy;
                        if y < rows {
                            plane[y * columns..][..columns]
                                .copy_from_slice(&line[..columns]);
                        }
                    }
                }
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::compare::max_difference;
    use candle_core::{DType, Device};

    #[test]
    fn winograds_convolution_is_candles() -> candle_core::Result<()> {
        use rand::SeedableRng;
        let device = Device::Cpu;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let mut normal = |dims: (usize, usize, usize, usize)| {
            let count = dims.0 * dims.1 * dims.2 * dims.3;
            crate::models::vae::standard_normal(1, count, &mut rng, &device)?
                .reshape(dims)
        };
        // Odd and even sides, paddings 0, 1 and 2, several bands, a batch.
        for (batch, channels, out, height, width, padding) in [
            (1, 3, 4, 32, 32, 1),
            (2, 5, 2, 35, 33, 1),
            (1, 4, 3, 40, 37, 0),
            (1, 2, 5, 31, 34, 2),
        ] {
            for dtype in [DType::F32, DType::F64] {
                let x = normal((batch, channels, height, width))?.to_dtype(dtype)?;
                let weight = normal((out, channels, 3, 3))?.to_dtype(dtype)?;
                assert!(applies(&x, &weight, padding));
                let ours = conv3x3(&x, &weight, padding)?;
                let candle = x.conv2d(&weight, padding, 1, 1, 1)?;
                // In one band, and in bands of three or four tile rows.
                let banded = with_element!(dtype, T => {
                    tiles_times_kernel::<T>(&x, &weight, padding, 60)
                })?;
                assert_eq!(max_difference(&ours, &banded)?, 0.0);
                assert_eq!((ours.dims(), ours.dtype()), (candle.dims(), dtype));
                let difference =
                    max_difference(&ours, &candle).expect("same shapes");
                // f32 sums of up to 45 products of order 10, with the
                // transforms' extra additions: a few 1e-6 of the largest.
                let largest = candle.abs()?.max_all()?.to_dtype(DType::F32)?;
                let largest = largest.to_scalar::<f32>()?.max(1.0);
                let tolerance = if dtype == DType::F32 { 1e-5 } else { 1e-12 };
                assert!(
                    difference < tolerance * largest,
                    "{height}×{width}, padding {padding}, {dtype:?}: {difference} of {largest}"
                );
            }
        }
        Ok(())
    }

    #[test]
    fn small_or_other_convolutions_are_left_to_the_others() -> candle_core::Result<()>
    {
        let device = Device::Cpu;
        let x = Tensor::zeros((1, 2, 31, 31), DType::F32, &device)?;
        let three = Tensor::zeros((2, 2, 3, 3), DType::F32, &device)?;
        let one = Tensor::zeros((2, 2, 1, 1), DType::F32, &device)?;
        // 31 × 31 outputs with padding 1, under 32 × 32.
        assert!(!applies(&x, &three, 1));
        assert!(applies(&x, &three, 2));
        assert!(!applies(&x, &one, 0));
        assert!(!applies(
            &x.to_dtype(DType::F16)?,
            &three.to_dtype(DType::F16)?,
            2
        ));
        Ok(())
    }
}

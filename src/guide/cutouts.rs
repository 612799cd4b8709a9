//! Cutouts: CLIP sees many random crops of the picture, resized to its
//! input size, instead of the picture once. A picture must then look right
//! at every scale and place, which stops the optimiser from fooling CLIP with
//! a pixel pattern that only works in one exact position.
//!
//! A crop followed by a resize is linear in the pixels, so each cutout is two
//! small matrices: `cut = R_y · image · R_xᵀ`. That makes cutouts exact
//! tensor ops — differentiable, batched, and the same on every device — and
//! a horizontal flip is just the columns of `R_x` in reverse order. The
//! classic resampling of the VQGAN+CLIP notebook (a Lanczos prefilter, then
//! bicubic interpolation) is linear too: only the matrices change.

use candle_core::{Device, Tensor};
use rand::Rng;
use rand_distr::{Distribution, Normal};

use super::augment::{Distortions, rotate};

/// How cutouts are drawn, after `MakeCutouts` in Katherine Crowson's VQGAN+CLIP
/// notebook.
#[derive(Debug, Clone, PartialEq)]
pub struct Cutouts {
    /// Cutouts per step (Crowson's VQGAN+CLIP notebook: 64, nerdyrodent's
    /// VQGAN-CLIP: 32, Big Sleep: 128, pixray: about 30).
    pub count: usize,
    /// The side of each cutout after resizing: the CLIP's input size.
    pub cut_size: usize,
    /// Size distribution: side = ⌊r^cut_pow · (max − min) + min⌋, r ~ U[0, 1).
    /// Above 1 favours small cutouts.
    pub cut_pow: f64,
    /// Augmentations, each applied per cutout.
    pub flip: bool,
    /// Standard deviation of the Gaussian noise added to each cutout.
    pub noise: f32,
    /// Largest per-channel brightness change (colour jitter), e.g. 0.05.
    pub jitter: f32,
    /// Largest rotation of a cutout about its centre, in degrees (the small
    /// random affine among nerdyrodent's VQGAN-CLIP augmentations; 0: none).
    pub rotate: f32,
    /// How a crop is resized to `cut_size`.
    pub resampling: Resampling,
    /// nerdyrodent's random affine, perspective, colour jitter and erasing,
    /// applied before the augmentations above.
    pub distortions: Option<Distortions>,
}

/// How a cutout is resized to CLIP's input size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resampling {
    /// Each output pixel is the mean of the input pixels under it: the toy's
    /// choice, which never rings.
    Area,
    /// Crowson's VQGAN+CLIP notebook (`resample`, its 'original' cutouts): a
    /// Lanczos (a = 2) low-pass when shrinking, then bicubic interpolation
    /// with aligned corners. It can ring past [0, 1], so the cutouts are
    /// clamped afterwards as the notebook does ([`super::vqgan::clamp_with_grad`]).
    Lanczos,
    /// nerdyrodent's VQGAN-CLIP ('latest' cutouts): the mean of adaptive
    /// average pooling and adaptive max pooling, PyTorch's bins.
    Pooled,
    /// Big Sleep's: PyTorch's `interpolate(mode='nearest')`, each output
    /// pixel a copy of one input pixel.
    Nearest,
}

/// `area`, `lanczos`, `pooled` or `nearest`, as `--resampling` takes it.
impl std::str::FromStr for Resampling {
    type Err = String;

    fn from_str(text: &str) -> Result<Resampling, String> {
        match text {
            "area" => Ok(Resampling::Area),
            "lanczos" => Ok(Resampling::Lanczos),
            "pooled" => Ok(Resampling::Pooled),
            "nearest" => Ok(Resampling::Nearest),
            other => Err(format!(
                "expected area, lanczos, pooled or nearest, got {other:?}"
            )),
        }
    }
}

/// Where one cutout is taken: its top-left corner, its side, and whether it
/// is flipped left to right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutoutBox {
    pub y: usize,
    pub x: usize,
    pub side: usize,
    pub flip: bool,
}

impl Cutouts {
    /// Plain cutouts, as in Crowson's VQGAN+CLIP notebook: no augmentation.
    pub fn plain(count: usize, cut_size: usize) -> Cutouts {
        Cutouts {
            count,
            cut_size,
            cut_pow: 1.0,
            flip: false,
            noise: 0.0,
            jitter: 0.0,
            rotate: 0.0,
            resampling: Resampling::Area,
            distortions: None,
        }
    }

    /// Crowson's VQGAN+CLIP notebook exactly: plain cutouts, resampled the
    /// classic way ([`Resampling::Lanczos`]).
    pub fn classic(count: usize, cut_size: usize) -> Cutouts {
        Cutouts {
            resampling: Resampling::Lanczos,
            ..Cutouts::plain(count, cut_size)
        }
    }
}

// ANCHOR: resample_matrix
/// The `[out, size]` matrix that takes `size` pixels starting at `offset` of
/// a line of `full` pixels and resamples them to `out`: each output pixel is
/// the average of the input pixels under it (area resampling), so shrinking
/// does not alias. When `flip`, the output runs backwards.
pub fn resample_matrix(
    full: usize,
    offset: usize,
    size: usize,
    out: usize,
    flip: bool,
) -> Vec<f32> {
    let scale = size as f64 / out as f64;
    let mut matrix = vec![0f32; out * full];
    for o in 0..out {
        let (start, end) = (o as f64 * scale, (o + 1) as f64 * scale);
        let row = if flip { out - 1 - o } else { o };
        // Each input pixel i covers [i, i + 1); weight = overlap / width.
        let first = start.floor() as usize;
        let last = (end.ceil() as usize).min(size);
        for i in first..last {
            let overlap = end.min(i as f64 + 1.0) - start.max(i as f64);
            if overlap > 0.0 {
                matrix[row * full + offset + i] = (overlap / scale) as f32;
            }
        }
    }
    matrix
}
// ANCHOR_END: resample_matrix

// ANCHOR: lanczos
/// The notebook's `resample` along one axis, as an `[out, full]` matrix like
/// [`resample_matrix`]: the `size` pixels from `offset` are low-passed with a
/// Lanczos (a = 2) kernel stretched to the new pixel size (when shrinking;
/// the crop's edges are mirrored), then interpolated bicubically with
/// aligned corners (PyTorch's `interpolate(mode='bicubic', align_corners=True)`).
pub fn lanczos_matrix(
    full: usize,
    offset: usize,
    size: usize,
    out: usize,
    flip: bool,
) -> Vec<f32> {
    // Bicubic [out, size] times the low-pass [size, size]: each output
    // pixel mixes four rows of the low-pass.
    let low_pass = lanczos_low_pass(size, out);
    let mut matrix = vec![0f32; out * full];
    let mut mixed = vec![0f64; size];
    for o in 0..out {
        mixed.fill(0.0);
        for (k, weight) in bicubic_taps(size, out, o) {
            for (sum, low) in
                mixed.iter_mut().zip(&low_pass[k * size..(k + 1) * size])
            {
                *sum += weight * low;
            }
        }
        let row = if flip { out - 1 - o } else { o };
        for (i, weight) in mixed.iter().enumerate() {
            matrix[row * full + offset + i] = *weight as f32;
        }
    }
    matrix
}
// ANCHOR_END: lanczos

// ANCHOR: low_pass
/// `[size, size]`: the Lanczos low-pass of the notebook's `resample` for a
/// resize from `size` to `out` pixels (the identity when not shrinking).
fn lanczos_low_pass(size: usize, out: usize) -> Vec<f64> {
    let mut matrix = vec![0f64; size * size];
    if out >= size {
        for i in 0..size {
            matrix[i * size + i] = 1.0;
        }
        return matrix;
    }
    // The kernel's taps sit at multiples of out/size, within ±2.
    let ratio = out as f64 / size as f64;
    let reach = (2.0 / ratio + 1.0).ceil() as usize - 2;
    let sinc = |x: f64| {
        if x == 0.0 {
            1.0
        } else {
            (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
        }
    };
    let taps: Vec<f64> = (0..=2 * reach)
        .map(|k| {
            let x = (k as f64 - reach as f64) * ratio;
            if x.abs() < 2.0 {
                sinc(x) * sinc(x / 2.0)
            } else {
                0.0
            }
        })
        .collect();
    let total: f64 = taps.iter().sum();
    // Mirror the crop at its edges (reflect padding: −1 reads 1).
    let last = size as isize - 1;
    let mirror = |i: isize| -> usize {
        let mut i = i;
        while i < 0 || i > last {
            i = if i < 0 { -i } else { 2 * last - i };
        }
        i as usize
    };
    for y in 0..size {
        for (k, tap) in taps.iter().enumerate() {
            let source = mirror(y as isize + k as isize - reach as isize);
            matrix[y * size + source] += tap / total;
        }
    }
    matrix
}
// ANCHOR_END: low_pass

/// Output pixel `o` of bicubic interpolation (a = −0.75, PyTorch's) with
/// aligned corners from `size` pixels to `out`: four input pixels and their
/// weights; taps beyond the edge read the edge pixel.
fn bicubic_taps(size: usize, out: usize, o: usize) -> [(usize, f64); 4] {
    const A: f64 = -0.75;
    let near = |x: f64| ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    let far = |x: f64| ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    let scale = if out > 1 {
        (size - 1) as f64 / (out - 1) as f64
    } else {
        0.0
    };
    let position = o as f64 * scale;
    let base = position.floor();
    let t = position - base;
    let weights = [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)];
    std::array::from_fn(|k| {
        let source = (base as isize + k as isize - 1).clamp(0, size as isize - 1);
        (source as usize, weights[k])
    })
}

/// The input pixels `[start, end)` of output pixel `o` when adaptive pooling
/// takes `size` pixels to `out` (PyTorch's bins, which overlap when `out`
/// does not divide `size`).
fn pooling_bin(o: usize, size: usize, out: usize) -> (usize, usize) {
    (o * size / out, ((o + 1) * size).div_ceil(out))
}

/// Adaptive average pooling along one axis, as an `[out, full]` matrix like
/// [`resample_matrix`].
pub fn pooling_matrix(
    full: usize,
    offset: usize,
    size: usize,
    out: usize,
    flip: bool,
) -> Vec<f32> {
    let mut matrix = vec![0f32; out * full];
    for o in 0..out {
        let row = if flip { out - 1 - o } else { o };
        let (start, end) = pooling_bin(o, size, out);
        for i in start..end {
            matrix[row * full + offset + i] = 1.0 / (end - start) as f32;
        }
    }
    matrix
}

/// Nearest-neighbour resampling along one axis, as an `[out, full]` matrix
/// like [`resample_matrix`]: output pixel o copies input pixel ⌊o · size /
/// out⌋, as PyTorch's `interpolate(mode='nearest')` picks it.
pub fn nearest_matrix(
    full: usize,
    offset: usize,
    size: usize,
    out: usize,
    flip: bool,
) -> Vec<f32> {
    let mut matrix = vec![0f32; out * full];
    for o in 0..out {
        let row = if flip { out - 1 - o } else { o };
        matrix[row * full + offset + (o * size / out).min(size - 1)] = 1.0;
    }
    matrix
}

/// Adaptive max pooling of each cutout of `image` `[1, 3, h, w]` at `boxes`
/// to `out`×`out`: `[n, 3, out, out]`. The largest pixel of each bin is
/// found here and gathered, so the gradient reaches it alone, as in
/// PyTorch's `adaptive_max_pool2d` (candle's pooling has no such backward).
fn max_pooled(
    image: &Tensor,
    boxes: &[CutoutBox],
    out: usize,
) -> anyhow::Result<Tensor> {
    let (_, channels, h, w) = image.dims4()?;
    let values: Vec<f32> = image
        .to_dtype(candle_core::DType::F32)?
        .flatten_all()?
        .to_vec1()?;
    let mut indices = Vec::with_capacity(boxes.len() * channels * out * out);
    for b in boxes {
        for channel in 0..channels {
            for oy in 0..out {
                let (y0, y1) = pooling_bin(oy, b.side, out);
                for ox in 0..out {
                    let source = if b.flip { out - 1 - ox } else { ox };
                    let (x0, x1) = pooling_bin(source, b.side, out);
                    let mut best = (f32::NEG_INFINITY, 0);
                    for y in y0..y1 {
                        for x in x0..x1 {
                            let at = (channel * h + b.y + y) * w + b.x + x;
                            if values[at] > best.0 {
                                best = (values[at], at);
                            }
                        }
                    }
                    indices.push(best.1 as u32);
                }
            }
        }
    }
    let indices = Tensor::from_vec(
        indices,
        boxes.len() * channels * out * out,
        image.device(),
    )?;
    Ok(image.flatten_all()?.index_select(&indices, 0)?.reshape((
        boxes.len(),
        channels,
        out,
        out,
    ))?)
}

/// Every picture of `pictures` `[n, 3, h, w]` resized whole to `size`×`size`
/// with the same area resampling (no cutting, no augmentation).
pub fn resize(pictures: &Tensor, size: usize) -> anyhow::Result<Tensor> {
    let (n, c, h, w) = pictures.dims4()?;
    if (h, w) == (size, size) {
        return Ok(pictures.clone());
    }
    let device = pictures.device();
    let rows =
        Tensor::from_vec(resample_matrix(h, 0, h, size, false), (size, h), device)?;
    let columns =
        Tensor::from_vec(resample_matrix(w, 0, w, size, false), (size, w), device)?;
    let (rows, columns) = (
        rows.to_dtype(pictures.dtype())?,
        columns.to_dtype(pictures.dtype())?,
    );
    let resized = rows
        .broadcast_as((n, c, size, h))?
        .contiguous()?
        .matmul(&pictures.contiguous()?)?
        .matmul(&columns.t()?.broadcast_as((n, c, w, size))?.contiguous()?)?;
    Ok(resized)
}

impl Cutouts {
    /// `count` cutouts of `image` `[1, 3, h, w]` (values in [0, 1]):
    /// `[count, 3, cut_size, cut_size]`, differentiable in the image.
    pub fn cut(&self, image: &Tensor, rng: &mut impl Rng) -> anyhow::Result<Tensor> {
        let (_, _, h, w) = image.dims4()?;
        let boxes = self.boxes(h, w, rng);
        self.cut_boxes(image, &boxes, rng)
    }

    /// Where `count` cutouts of an `h`×`w` picture are taken, drawn as the
    /// notebook draws them.
    pub fn boxes(&self, h: usize, w: usize, rng: &mut impl Rng) -> Vec<CutoutBox> {
        let (largest, smallest) = (h.min(w), h.min(w).min(self.cut_size));
        (0..self.count)
            .map(|_| {
                let r: f64 = rng.random();
                let side = (r.powf(self.cut_pow) * (largest - smallest) as f64
                    + smallest as f64) as usize;
                let y = rng.random_range(0..=h - side);
                let x = rng.random_range(0..=w - side);
                let flip = self.flip && rng.random_bool(0.5);
                CutoutBox { y, x, side, flip }
            })
            .collect()
    }

    // ANCHOR: cutouts
    /// The cutouts of `image` `[1, 3, h, w]` at `boxes`, resampled and then
    /// augmented with `rng`.
    pub fn cut_boxes(
        &self,
        image: &Tensor,
        boxes: &[CutoutBox],
        rng: &mut impl Rng,
    ) -> anyhow::Result<Tensor> {
        let (_, _, h, w) = image.dims4()?;
        let (n, c) = (boxes.len(), self.cut_size);
        let matrix = match self.resampling {
            Resampling::Area => resample_matrix,
            Resampling::Lanczos => lanczos_matrix,
            Resampling::Pooled => pooling_matrix,
            Resampling::Nearest => nearest_matrix,
        };
        let (mut rows, mut columns) = (Vec::new(), Vec::new());
        for b in boxes {
            anyhow::ensure!(
                b.side > 0 && b.y + b.side <= h && b.x + b.side <= w,
                "a cutout of side {} at ({}, {}) does not fit a {w}×{h} picture",
                b.side,
                b.x,
                b.y
            );
            rows.extend(matrix(h, b.y, b.side, c, false));
            columns.extend(matrix(w, b.x, b.side, c, b.flip));
        }
        let device = image.device();
        let rows =
            Tensor::from_vec(rows, (n, 1, c, h), device)?.to_dtype(image.dtype())?;
        let columns = Tensor::from_vec(columns, (n, 1, c, w), device)?
            .to_dtype(image.dtype())?;
        // R_y · image · R_xᵀ for every cutout at once.
        let whole = image.broadcast_as((n, 3, h, w))?;
        let cuts = rows
            .broadcast_as((n, 3, c, h))?
            .contiguous()?
            .matmul(&whole.contiguous()?)?
            .matmul(
                &columns
                    .broadcast_as((n, 3, c, w))?
                    .transpose(2, 3)?
                    .contiguous()?,
            )?;
        let cuts = match self.resampling {
            Resampling::Area | Resampling::Nearest => cuts,
            Resampling::Lanczos => super::vqgan::clamp_with_grad(&cuts, 0.0, 1.0)?,
            Resampling::Pooled => ((cuts + max_pooled(image, boxes, c)?)? / 2.0)?,
        };
        self.augment(cuts, rng, device)
    }
    // ANCHOR_END: cutouts

    /// Per-cutout distortions, rotation, colour jitter (a brightness shift
    /// per channel) and noise.
    fn augment(
        &self,
        cuts: Tensor,
        rng: &mut impl Rng,
        device: &Device,
    ) -> anyhow::Result<Tensor> {
        let (n, _, c, _) = cuts.dims4()?;
        let dtype = cuts.dtype();
        let mut cuts = match &self.distortions {
            Some(distortions) => distortions.apply(&cuts, rng)?,
            None => cuts,
        };
        if self.rotate > 0.0 {
            let angles: Vec<f64> = (0..n)
                .map(|_| {
                    f64::from(rng.random_range(-self.rotate..=self.rotate))
                        .to_radians()
                })
                .collect();
            cuts = rotate(&cuts, &angles)?;
        }
        if self.jitter > 0.0 {
            let shifts: Vec<f32> = (0..n * 3)
                .map(|_| rng.random_range(-self.jitter..=self.jitter))
                .collect();
            let shifts =
                Tensor::from_vec(shifts, (n, 3, 1, 1), device)?.to_dtype(dtype)?;
            cuts = cuts.broadcast_add(&shifts)?;
        }
        if self.noise > 0.0 {
            let normal = Normal::new(0.0, self.noise)?;
            let noise: Vec<f32> =
                (0..n * 3 * c * c).map(|_| normal.sample(rng)).collect();
            cuts = (cuts
                + Tensor::from_vec(noise, (n, 3, c, c), device)?
                    .to_dtype(dtype)?)?;
        }
        Ok(cuts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::compare::max_difference;
    use candle_core::{DType, Var};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn a_whole_picture_cutout_of_the_same_size_is_the_picture() -> anyhow::Result<()>
    {
        let image = Tensor::rand(0f32, 1.0, (1, 3, 16, 16), &Device::Cpu)?;
        let cutouts = Cutouts::plain(3, 16);
        let cuts = cutouts.cut(&image, &mut ChaCha8Rng::seed_from_u64(0))?;
        assert_eq!(cuts.dims(), &[3, 3, 16, 16]);
        let difference = max_difference(&cuts, &image.broadcast_as(cuts.dims())?)?;
        assert!(difference < 1e-6, "{difference}");
        Ok(())
    }

    #[test]
    fn nearest_resampling_is_candles_nearest_interpolation() -> anyhow::Result<()> {
        // Big Sleep's F.interpolate(mode='nearest'); candle's picks the same pixels.
        for (side, out) in [(5, 7), (9, 4), (6, 6)] {
            let image = Tensor::rand(0f32, 1.0, (1, 3, side, side), &Device::Cpu)?;
            let cutouts = Cutouts {
                resampling: Resampling::Nearest,
                ..Cutouts::plain(1, out)
            };
            let whole = [CutoutBox {
                y: 0,
                x: 0,
                side,
                flip: false,
            }];
            let cut = cutouts.cut_boxes(
                &image,
                &whole,
                &mut ChaCha8Rng::seed_from_u64(0),
            )?;
            let theirs = image.upsample_nearest2d(out, out)?;
            assert_eq!(max_difference(&cut, &theirs)?, 0.0, "{side} → {out}");
        }
        Ok(())
    }

    #[test]
    fn resizing_a_batch_averages_blocks() -> anyhow::Result<()> {
        // Two pictures of constant 2×2 blocks, halved: the block values come back.
        let blocks = Tensor::rand(0f32, 1.0, (2, 3, 4, 4), &Device::Cpu)?;
        let picture = blocks
            .reshape((2, 3, 4, 1, 4, 1))?
            .broadcast_as((2, 3, 4, 2, 4, 2))?
            .reshape((2, 3, 8, 8))?;
        let difference = max_difference(&resize(&picture, 4)?, &blocks)?;
        assert!(difference < 1e-6, "{difference}");
        Ok(())
    }

    #[test]
    fn shrinking_averages_and_flipping_reverses() {
        // 4 pixels → 2: each output is the mean of two inputs.
        assert_eq!(
            resample_matrix(6, 1, 4, 2, false),
            vec![
                0.0, 0.5, 0.5, 0.0, 0.0, 0.0, //
                0.0, 0.0, 0.0, 0.5, 0.5, 0.0,
            ]
        );
        // 3 pixels → 2: 1.5 pixels each, the middle one shared.
        let m = resample_matrix(3, 0, 3, 2, false);
        assert!((m[0] - 2.0 / 3.0).abs() < 1e-6 && (m[1] - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(
            resample_matrix(3, 0, 3, 3, true),
            vec![0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0]
        );
    }

    #[test]
    fn the_classic_resampling_keeps_flat_pictures_flat_and_same_sizes_whole() {
        // Both of its steps are weighted means: every row sums to 1, and a
        // crop kept at its size is copied.
        for (size, out) in [(64, 32), (48, 32), (37, 32), (20, 32), (33, 7)] {
            let matrix = lanczos_matrix(size + 3, 2, size, out, false);
            for row in matrix.chunks(size + 3) {
                let total: f32 = row.iter().sum();
                assert!((total - 1.0).abs() < 1e-5, "{size} → {out}: {total}");
                assert!(row[..2].iter().chain(&row[size + 2..]).all(|&w| w == 0.0));
            }
        }
        let same = lanczos_matrix(5, 0, 5, 5, false);
        let identity: Vec<f32> = (0..25)
            .map(|k| if k / 5 == k % 5 { 1.0 } else { 0.0 })
            .collect();
        assert!(
            same.iter()
                .zip(&identity)
                .all(|(a, b)| (a - b).abs() < 1e-6)
        );
        let flipped = lanczos_matrix(9, 1, 8, 4, true);
        let forward = lanczos_matrix(9, 1, 8, 4, false);
        assert_eq!(flipped[..9], forward[27..]);
    }

    #[test]
    fn a_cutout_is_the_resized_crop() -> anyhow::Result<()> {
        // A picture of constant 2×2 blocks: any crop aligned to them and
        // halved must give back the block values.
        let blocks: Vec<f32> = (0..3 * 8 * 8)
            .map(|k| {
                let (ch, y, x) = (k / 64, (k / 8) % 8, k % 8);
                (ch * 16 + (y / 2) * 4 + x / 2) as f32
            })
            .collect();
        let image = Tensor::from_vec(blocks, (1, 3, 8, 8), &Device::Cpu)?;
        let rows = Tensor::from_vec(
            resample_matrix(8, 2, 4, 2, false),
            (2, 8),
            &Device::Cpu,
        )?;
        let cols = Tensor::from_vec(
            resample_matrix(8, 4, 4, 2, false),
            (2, 8),
            &Device::Cpu,
        )?;
        let cut = rows
            .broadcast_matmul(&image.get(0)?)?
            .broadcast_matmul(&cols.t()?)?;
        // Block rows 1–2, block columns 2–3 of channel 0.
        assert_eq!(
            cut.get(0)?.to_vec2::<f32>()?,
            vec![vec![6.0, 7.0], vec![10.0, 11.0]]
        );
        Ok(())
    }

    #[test]
    fn gradients_reach_the_picture_and_the_same_seed_cuts_the_same()
    -> anyhow::Result<()> {
        let image = Var::rand(0f64, 1.0, (1, 3, 20, 24), &Device::Cpu)?;
        let cutouts = Cutouts {
            flip: true,
            noise: 0.1,
            jitter: 0.05,
            rotate: 20.0,
            distortions: Some(Distortions::nerdyrodent()),
            ..Cutouts::plain(5, 8)
        };
        let cut = |seed| cutouts.cut(&image, &mut ChaCha8Rng::seed_from_u64(seed));
        let (a, b) = (cut(7)?, cut(7)?);
        assert_eq!(
            a.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?,
            b.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?
        );
        let weights = Tensor::rand(-1f64, 1.0, a.shape(), &Device::Cpu)?;
        let objective = |cuts: Tensor| (cuts * &weights)?.sum_all();
        let grads = objective(a)?.backward()?;
        let grad: Vec<f64> = grads
            .get(&image)
            .expect("gradient")
            .flatten_all()?
            .to_vec1()?;
        for k in [0usize, 100, 777, 1439] {
            let mut bump = vec![0.0; 1440];
            bump[k] = 1e-6;
            let bump = Tensor::from_vec(bump, (1, 3, 20, 24), &Device::Cpu)?;
            let at = |p: Tensor| -> anyhow::Result<f64> {
                let cuts = cutouts.cut(&p, &mut ChaCha8Rng::seed_from_u64(7))?;
                Ok(objective(cuts)?.to_scalar::<f64>()?)
            };
            let numeric = (at((image.as_tensor() + &bump)?)?
                - at((image.as_tensor() - &bump)?)?)
                / 2e-6;
            assert!(
                (numeric - grad[k]).abs() < 1e-6,
                "{k}: {numeric} vs {}",
                grad[k]
            );
        }
        Ok(())
    }
}

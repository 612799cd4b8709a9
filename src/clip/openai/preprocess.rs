//! OpenAI's image preprocessing for CLIP, exactly: resize the short side to
//! 224 with PIL's bicubic filter, centre-crop 224×224, scale to [0, 1], then
//! normalise each channel with CLIP's mean and standard deviation.
//!
//! The resize is PIL's own algorithm (`Resample.c`): a separable bicubic
//! filter (a = −0.5) whose support widens when shrinking (antialiasing),
//! fixed-point weights with 22 fractional bits, and a horizontal pass rounded
//! to bytes before the vertical pass. Other "bicubic" resizes differ by a few
//! levels per pixel, which moves CLIP's embeddings; a test compares our bytes
//! with PIL's.

use candle_core::{Device, Tensor};
use image::RgbImage;

// OpenAI's `Normalize` in `_transform`:
// https://github.com/openai/CLIP/blob/dcba3cb2e2827b402d2701e7e1c7d9fed8a20ef1/clip/clip.py#L85
/// CLIP's per-channel mean and standard deviation (of its training pictures),
/// digit for digit as OpenAI publishes them.
#[allow(clippy::excessive_precision)]
pub const MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
#[allow(clippy::excessive_precision)]
pub const STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];

const PRECISION_BITS: u32 = 32 - 8 - 2;

// Pillow's `bicubic_filter`:
// https://github.com/python-pillow/Pillow/blob/af037475be8634ba739744243164ba9e2c8346a6/src/libImaging/Resample.c#L47-L63
fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

// Pillow's `precompute_coeffs` and `normalize_coeffs_8bpc`:
// https://github.com/python-pillow/Pillow/blob/af037475be8634ba739744243164ba9e2c8346a6/src/libImaging/Resample.c#L182-L267
// https://github.com/python-pillow/Pillow/blob/af037475be8634ba739744243164ba9e2c8346a6/src/libImaging/Resample.c#L269-L284
/// For each output index: the first input index and the fixed-point weights
/// of the inputs it mixes.
fn coefficients(input: usize, output: usize) -> Vec<(usize, Vec<i64>)> {
    let scale = input as f64 / output as f64;
    let filter_scale = scale.max(1.0);
    let support = 2.0 * filter_scale;
    (0..output)
        .map(|out| {
            let centre = (out as f64 + 0.5) * scale;
            // PIL truncates towards zero here; both values are ≥ −0.5.
            let first = ((centre - support + 0.5) as i64).max(0) as usize;
            let last = ((centre + support + 0.5) as i64).min(input as i64) as usize;
            let weights: Vec<f64> = (first..last)
                .map(|x| bicubic((x as f64 - centre + 0.5) / filter_scale))
                .collect();
            let total: f64 = weights.iter().sum();
            let fixed = weights
                .iter()
                .map(|w| {
                    let w = if total != 0.0 { w / total } else { *w };
                    let scaled = w * f64::from(1u32 << PRECISION_BITS);
                    // Rounds half away from zero, as PIL's (int)(±0.5 + x).
                    if scaled < 0.0 {
                        (scaled - 0.5) as i64
                    } else {
                        (scaled + 0.5) as i64
                    }
                })
                .collect();
            (first, fixed)
        })
        .collect()
}

fn to_byte(sum: i64) -> u8 {
    (sum >> PRECISION_BITS).clamp(0, 255) as u8
}

// Pillow's horizontal and vertical 8-bit passes:
// https://github.com/python-pillow/Pillow/blob/af037475be8634ba739744243164ba9e2c8346a6/src/libImaging/Resample.c#L287-L388
// https://github.com/python-pillow/Pillow/blob/af037475be8634ba739744243164ba9e2c8346a6/src/libImaging/Resample.c#L391-L488
/// Resizes like PIL's `Image.resize(size, Image.BICUBIC)` on an RGB picture.
pub fn resize_bicubic(image: &RgbImage, width: u32, height: u32) -> RgbImage {
    let mut current = image.clone();
    if width != current.width() {
        let coeffs = coefficients(current.width() as usize, width as usize);
        current = RgbImage::from_fn(width, current.height(), |x, y| {
            let (first, weights) = &coeffs[x as usize];
            image::Rgb(std::array::from_fn(|c| {
                let sum = weights.iter().enumerate().fold(
                    1i64 << (PRECISION_BITS - 1),
                    |s, (k, w)| {
                        s + i64::from(current.get_pixel((first + k) as u32, y)[c])
                            * w
                    },
                );
                to_byte(sum)
            }))
        });
    }
    if height != current.height() {
        let coeffs = coefficients(current.height() as usize, height as usize);
        current = RgbImage::from_fn(width, height, |x, y| {
            let (first, weights) = &coeffs[y as usize];
            image::Rgb(std::array::from_fn(|c| {
                let sum = weights.iter().enumerate().fold(
                    1i64 << (PRECISION_BITS - 1),
                    |s, (k, w)| {
                        s + i64::from(current.get_pixel(x, (first + k) as u32)[c])
                            * w
                    },
                );
                to_byte(sum)
            }))
        });
    }
    current
}

// OpenAI's `_transform`:
// https://github.com/openai/CLIP/blob/dcba3cb2e2827b402d2701e7e1c7d9fed8a20ef1/clip/clip.py#L79-L86
/// Short side to `size` (bicubic), then the centre `size`×`size` square, as
/// torchvision's `Resize(size)` + `CenterCrop(size)` in OpenAI's `clip.load`.
pub fn resize_and_crop(image: &RgbImage, size: u32) -> RgbImage {
    let (w, h) = image.dimensions();
    let (new_w, new_h) = if w <= h {
        (size, (u64::from(size) * u64::from(h) / u64::from(w)) as u32)
    } else {
        ((u64::from(size) * u64::from(w) / u64::from(h)) as u32, size)
    };
    let resized = resize_bicubic(image, new_w, new_h);
    // torchvision rounds half to even: int(round((h - size) / 2.0)).
    let offset =
        |total: u32| (f64::from(total - size) / 2.0).round_ties_even() as u32;
    image::imageops::crop_imm(&resized, offset(new_w), offset(new_h), size, size)
        .to_image()
}

/// Pictures `[n, 3, s, s]` in [0, 1] → CLIP's normalised input: (x − mean) / std
/// per channel. Tensor ops, so guidance's gradient passes through.
pub fn normalise(pictures: &Tensor) -> candle_core::Result<Tensor> {
    let device = pictures.device();
    let mean = Tensor::new(&MEAN, device)?
        .reshape((1, 3, 1, 1))?
        .to_dtype(pictures.dtype())?;
    let std = Tensor::new(&STD, device)?
        .reshape((1, 3, 1, 1))?
        .to_dtype(pictures.dtype())?;
    pictures.broadcast_sub(&mean)?.broadcast_div(&std)
}

/// A picture file's pixels as CLIP sees them before normalisation: `[1, 3, s, s]`.
pub fn picture_tensor(
    image: &RgbImage,
    size: u32,
    device: &Device,
) -> candle_core::Result<Tensor> {
    crate::basics::pixels::image_to_tensor(&resize_and_crop(image, size), device)?
        .unsqueeze(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_and_shrinking_widens_the_filter() {
        for (input, output) in [(300, 224), (224, 100), (50, 224)] {
            for (_, weights) in coefficients(input, output) {
                let total: i64 = weights.iter().sum();
                assert!(
                    (total - (1 << PRECISION_BITS)).abs() <= weights.len() as i64
                );
            }
        }
        // Shrinking 3× mixes ~12 inputs per output; enlarging mixes 4.
        assert!(coefficients(300, 100)[50].1.len() >= 12);
        assert_eq!(coefficients(50, 200)[100].1.len(), 4);
    }

    #[test]
    fn a_flat_picture_stays_flat_and_same_size_is_untouched() {
        let flat = RgbImage::from_pixel(37, 53, image::Rgb([200, 10, 77]));
        let out = resize_and_crop(&flat, 24);
        assert_eq!(out.dimensions(), (24, 24));
        assert!(out.pixels().all(|p| p.0 == [200, 10, 77]));
        let noise = RgbImage::from_fn(16, 16, |x, y| {
            image::Rgb([(x * 13 + y * 7) as u8; 3])
        });
        assert_eq!(resize_bicubic(&noise, 16, 16), noise);
    }

    #[test]
    fn the_centre_crop_rounds_like_torchvision() {
        // 24 wide, 27 tall: 3 rows to drop, round(1.5) = 2 from the top.
        let rows = RgbImage::from_fn(24, 27, |_, y| image::Rgb([y as u8; 3]));
        assert_eq!(resize_and_crop(&rows, 24).get_pixel(0, 0).0, [2, 2, 2]);
    }
}

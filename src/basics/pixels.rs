//! Chapter 1 — images as tensors of RGB pixel intensities.
//!
//! An image file becomes a candle tensor `[3, H, W]` (channels first, as CLIP
//! and candle's vision models expect) with values in [0, 1]; and back. CLIP
//! then normalises each channel with the mean and standard deviation of its
//! training images.

use std::path::Path;

use anyhow::{Context, bail};
use candle_core::{DType, Device, Tensor};
use image::RgbImage;

/// Per-channel mean of CLIP's training images (R, G, B), from OpenAI's preprocessing.
#[allow(clippy::excessive_precision)] // OpenAI's published digits, kept verbatim
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// Per-channel standard deviation of CLIP's training images (R, G, B).
#[allow(clippy::excessive_precision)] // OpenAI's published digits, kept verbatim
pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];

// ANCHOR: image_to_tensor
/// An RGB image → a tensor `[3, H, W]` of intensities in [0, 1].
pub fn image_to_tensor(
    image: &RgbImage,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let (width, height) = image.dimensions();
    let bytes = image.as_raw().clone(); // H·W·3 bytes: row by row, RGB per pixel
    Tensor::from_vec(bytes, (height as usize, width as usize, 3), device)?
        .permute((2, 0, 1))? // [H, W, 3] → [3, H, W]
        .to_dtype(DType::F32)?
        / 255.0
}
// ANCHOR_END: image_to_tensor

// ANCHOR: tensor_to_image
/// A tensor `[3, H, W]` in [0, 1] → an RGB image (values outside [0, 1] are
/// clipped).
pub fn tensor_to_image(tensor: &Tensor) -> anyhow::Result<RgbImage> {
    let (channels, height, width) = match tensor.dims() {
        &[c, h, w] => (c, h, w),
        other => bail!("expected an image tensor of shape [3, H, W], got {other:?}"),
    };
    if channels != 3 {
        bail!(
            "expected 3 colour channels in a [3, H, W] tensor, got shape {:?}",
            tensor.dims()
        );
    }
    let bytes: Vec<u8> = (tensor.to_dtype(DType::F32)?.clamp(0f32, 1f32)? * 255.0)?
        .round()?
        .permute((1, 2, 0))? // [3, H, W] → [H, W, 3]: an image file's byte order
        .flatten_all()?
        .to_dtype(DType::U8)?
        .to_vec1()?;
    RgbImage::from_raw(width as u32, height as u32, bytes)
        .context("image buffer size")
}
// ANCHOR_END: tensor_to_image

/// Reads an image file as `[3, H, W]`: PNG or GIF, and with the `formats`
/// feature (on for the command line) JPEG, WebP, TIFF, BMP, PNM and QOI.
pub fn load_image_tensor(
    path: impl AsRef<Path>,
    device: &Device,
) -> anyhow::Result<Tensor> {
    Ok(image_to_tensor(&load_rgb(path)?, device)?)
}

/// The widest and tallest picture read: 8192 pixels. A file that claims to be
/// larger is refused before its pixels are decoded.
pub const MAX_SIDE: u32 = 8192;

/// Reads an image file as 8-bit RGB; the error names the file.
pub fn load_rgb(path: impl AsRef<Path>) -> anyhow::Result<RgbImage> {
    let path = path.as_ref();
    std::fs::read(path)
        .map_err(anyhow::Error::from)
        .and_then(|bytes| rgb_from_bytes(&bytes))
        .with_context(|| format!("cannot read image {}", path.display()))
}

/// The bytes of an image file (any format `image` reads, told by its
/// content) as 8-bit RGB, at most [`MAX_SIDE`] a side and 512 MB decoded.
pub fn rgb_from_bytes(bytes: &[u8]) -> anyhow::Result<RgbImage> {
    // A decoder's bug must not take the program down on a damaged file (the
    // fuzzer found the TIFF decoder indexing out of bounds): its panic
    // becomes an error.
    std::panic::catch_unwind(|| decode_rgb(bytes)).unwrap_or_else(|_| {
        anyhow::bail!(
            "the decoder of this picture's format failed: the file is damaged"
        )
    })
}

fn decode_rgb(bytes: &[u8]) -> anyhow::Result<RgbImage> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(512 << 20);
    reader.limits(limits);
    Ok(reader.decode()?.to_rgb8())
}

// ANCHOR: clip_normalize
/// CLIP's input normalisation: (x − mean) / std, channel by channel, on `[3, H, W]`
/// or a batch `[N, 3, H, W]`.
pub fn clip_normalize(pixels: &Tensor) -> candle_core::Result<Tensor> {
    let (mean, std) = clip_mean_std(pixels)?;
    pixels.broadcast_sub(&mean)?.broadcast_div(&std)
}

/// The inverse: x · std + mean, back to intensities in [0, 1].
pub fn clip_denormalize(normalized: &Tensor) -> candle_core::Result<Tensor> {
    let (mean, std) = clip_mean_std(normalized)?;
    normalized.broadcast_mul(&std)?.broadcast_add(&mean)
}
// ANCHOR_END: clip_normalize

/// Mean and std as `[3, 1, 1]` tensors that broadcast over `[.., 3, H, W]`.
fn clip_mean_std(like: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
    let channels = like
        .rank()
        .checked_sub(3)
        .map(|axis| like.dim(axis))
        .transpose()?;
    if channels != Some(3) {
        candle_core::bail!(
            "CLIP normalisation expects [3, H, W] or [N, 3, H, W], got shape {:?}",
            like.dims()
        );
    }
    let device = like.device();
    let mean = Tensor::new(&CLIP_MEAN, device)?
        .reshape((3, 1, 1))?
        .to_dtype(like.dtype())?;
    let std = Tensor::new(&CLIP_STD, device)?
        .reshape((3, 1, 1))?
        .to_dtype(like.dtype())?;
    Ok((mean, std))
}

/// An image's pixels as a flat `Vec<f32>` in [0, 1], channels first (the `[3, H, W]`
/// order): the input row of the from-scratch classifier.
pub fn image_to_chw(image: &RgbImage) -> Vec<f32> {
    let (width, height) = image.dimensions();
    let plane = (width * height) as usize;
    let mut out = vec![0.0; 3 * plane];
    for (i, pixel) in image.pixels().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = pixel[c] as f32 / 255.0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient_image() -> RgbImage {
        RgbImage::from_fn(5, 3, |x, y| {
            image::Rgb([(x * 60) as u8, (y * 100) as u8, 255])
        })
    }

    #[test]
    fn tensor_is_channels_first_in_unit_range() {
        let tensor = image_to_tensor(&gradient_image(), &Device::Cpu).unwrap();
        assert_eq!(tensor.dims(), &[3, 3, 5]);
        let values = tensor.to_vec3::<f32>().unwrap();
        let close = |a: f32, b: f32| (a - b).abs() < 1e-6;
        assert!(close(values[0][0][2], 120.0 / 255.0)); // red of pixel (x=2, y=0)
        assert!(close(values[1][2][0], 200.0 / 255.0)); // green of pixel (x=0, y=2)
        assert!(close(values[2][1][4], 1.0)); // blue everywhere
    }

    #[test]
    fn image_round_trips_through_tensor_and_file() {
        let image = gradient_image();
        let tensor = image_to_tensor(&image, &Device::Cpu).unwrap();
        assert_eq!(tensor_to_image(&tensor).unwrap(), image);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gradient.png");
        image.save(&path).unwrap();
        let loaded = load_image_tensor(&path, &Device::Cpu).unwrap();
        assert_eq!(tensor_to_image(&loaded).unwrap(), image);
    }

    #[test]
    fn out_of_range_values_are_clipped() {
        let tensor =
            Tensor::new(&[[[-0.5f32]], [[0.5]], [[7.0]]], &Device::Cpu).unwrap();
        let image = tensor_to_image(&tensor).unwrap();
        assert_eq!(image.get_pixel(0, 0).0, [0, 128, 255]);
    }

    #[test]
    fn clip_normalisation_matches_the_formula_and_inverts() {
        let image = gradient_image();
        let tensor = image_to_tensor(&image, &Device::Cpu).unwrap();
        let normalized = clip_normalize(&tensor).unwrap();
        let values = normalized.to_vec3::<f32>().unwrap();
        let expected = (120.0 / 255.0 - 0.48145466) / 0.26862954;
        assert!((values[0][0][2] - expected).abs() < 1e-6);
        let back = clip_denormalize(&normalized).unwrap();
        let error = (back - &tensor).unwrap().abs().unwrap().max_all().unwrap();
        assert!(error.to_scalar::<f32>().unwrap() < 1e-6);
        // A batch normalises the same way.
        let batch = tensor.unsqueeze(0).unwrap();
        let batched = clip_normalize(&batch).unwrap().squeeze(0).unwrap();
        assert_eq!(batched.to_vec3::<f32>().unwrap(), values);
    }

    #[test]
    fn wrong_shapes_and_missing_files_are_named() {
        let flat = Tensor::zeros((4, 4), DType::F32, &Device::Cpu).unwrap();
        let message = tensor_to_image(&flat).unwrap_err().to_string();
        assert!(
            message.contains("[3, H, W]") && message.contains("[4, 4]"),
            "{message}"
        );
        let four = Tensor::zeros((4, 2, 2), DType::F32, &Device::Cpu).unwrap();
        assert!(
            clip_normalize(&four)
                .unwrap_err()
                .to_string()
                .contains("[4, 2, 2]")
        );
        let message = format!(
            "{:#}",
            load_image_tensor("no/such/photo.png", &Device::Cpu).unwrap_err()
        );
        assert!(message.contains("no/such/photo.png"), "{message}");
    }

    #[test]
    fn chw_rows_match_the_tensor_layout() {
        let image = gradient_image();
        let tensor = image_to_tensor(&image, &Device::Cpu).unwrap();
        let flat: Vec<f32> = tensor.flatten_all().unwrap().to_vec1().unwrap();
        let chw = image_to_chw(&image);
        assert_eq!(chw.len(), flat.len());
        assert!(chw.iter().zip(&flat).all(|(a, b)| (a - b).abs() < 1e-6));
    }
}

//! OpenAI's preprocessing, byte for byte: our PIL-style bicubic resize and
//! torchvision-style centre crop against the reference transform's output
//! (scripts/golden/make_preprocess_golden.py, OpenAI's `clip` package).

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use clip_art::clip::openai::preprocess::{
    normalise, picture_tensor, resize_and_crop,
};

const DIR: &str = "tests/fixtures/clip/preprocess";

#[test]
fn resize_and_crop_give_the_reference_bytes() -> anyhow::Result<()> {
    let golden = candle_core::safetensors::load(
        Path::new(DIR).join("golden.safetensors"),
        &Device::Cpu,
    )?;
    // image0/1 are enlarged, image1/3 have a half-pixel crop offset, image2 is
    // already 224², image3 is shrunk (PIL widens the filter).
    for k in 0..4 {
        let image =
            image::open(Path::new(DIR).join(format!("image{k}.png")))?.to_rgb8();
        let ours = resize_and_crop(&image, 224).into_raw();
        let reference: Vec<u8> = golden[&format!("image{k}_uint8")]
            .flatten_all()?
            .to_vec1()?;
        let differing = ours.iter().zip(&reference).filter(|(a, b)| a != b).count();
        assert_eq!(ours.len(), reference.len(), "image{k}");
        assert_eq!(
            differing,
            0,
            "image{k}: {differing} of {} bytes differ",
            ours.len()
        );
    }
    Ok(())
}

#[test]
fn normalisation_uses_clips_mean_and_std() -> anyhow::Result<()> {
    let white = image::RgbImage::from_pixel(300, 200, image::Rgb([255, 255, 255]));
    let pixels = normalise(&picture_tensor(&white, 224, &Device::Cpu)?)?;
    assert_eq!(pixels.dims(), &[1, 3, 224, 224]);
    let expected = [
        (1.0 - 0.48145466) / 0.26862954,
        (1.0 - 0.4578275) / 0.26130258,
        (1.0 - 0.40821073) / 0.27577711,
    ];
    for (c, value) in expected.into_iter().enumerate() {
        let channel = pixels.get(0)?.get(c)?;
        let difference = (channel
            - Tensor::full(value as f32, (224, 224), &Device::Cpu)?)?
        .abs()?
        .max_all()?
        .to_dtype(DType::F32)?
        .to_scalar::<f32>()?;
        assert!(difference < 1e-5, "channel {c}: {difference}");
    }
    Ok(())
}

//! Batches of pictures: many RGB images as one `[n, 3, s, s]` tensor in
//! [0, 1], and back.

use candle_core::{Device, Tensor};

/// Pictures as one tensor `[n, 3, s, s]` in [0, 1].
pub fn images_to_batch(
    images: &[image::RgbImage],
    device: &Device,
) -> candle_core::Result<Tensor> {
    let Some(first) = images.first() else {
        return Err(candle_core::Error::Msg("no pictures to batch".into()));
    };
    let (width, height) = first.dimensions();
    if let Some(other) = images.iter().find(|i| i.dimensions() != (width, height)) {
        return Err(candle_core::Error::Msg(format!(
            "pictures in a batch must have one size: {width}×{height} and {}×{}",
            other.width(),
            other.height()
        )));
    }
    // One buffer for the whole batch, channel-first (`pixels::image_to_tensor`
    // per picture, stacked, is several times slower for thousands).
    let plane = (width * height) as usize;
    // Bit for bit what candle's `/ 255.0` computes: a multiplication by 1/255.
    let scale = (1.0f64 / 255.0) as f32;
    let mut values = vec![0f32; images.len() * 3 * plane];
    for (image, out) in images.iter().zip(values.chunks_mut(3 * plane)) {
        for (pixel, rgb) in image.as_raw().chunks_exact(3).enumerate() {
            for (channel, &byte) in rgb.iter().enumerate() {
                out[channel * plane + pixel] = f32::from(byte) * scale;
            }
        }
    }
    let shape = (images.len(), 3, height as usize, width as usize);
    Tensor::from_vec(values, shape, device)
}

/// A batch tensor `[n, 3, s, s]` in [0, 1] back to pictures.
pub fn batch_to_images(batch: &Tensor) -> anyhow::Result<Vec<image::RgbImage>> {
    (0..batch.dim(0)?)
        .map(|i| crate::basics::pixels::tensor_to_image(&batch.get(i)?))
        .collect()
}

//! Pictures people look at: single images, image grids and plots, saved as PNG
//! (atomically) and shown inline in Jupyter with the `evcxr` feature.

use std::path::Path;

use anyhow::bail;
use image::{Rgb, RgbImage, imageops};

use crate::files::{Existing, OutputFile};

/// An RGB picture: a drawn shape, a grid of samples or a rendered plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Picture(pub RgbImage);

impl Picture {
    /// Enlarges by an integer factor without smoothing, so small images stay crisp.
    pub fn scaled(&self, factor: u32) -> Picture {
        let (w, h) = self.0.dimensions();
        Picture(imageops::resize(
            &self.0,
            w * factor,
            h * factor,
            imageops::FilterType::Nearest,
        ))
    }

    /// Lays `images` out in rows of `columns`, separated by a 2-pixel grey gap.
    pub fn grid(images: &[RgbImage], columns: usize) -> anyhow::Result<Picture> {
        let Some(first) = images.first() else {
            bail!("an image grid needs at least one image");
        };
        let (w, h) = first.dimensions();
        if let Some(odd) = images.iter().find(|i| i.dimensions() != (w, h)) {
            bail!(
                "all images in a grid must have the same size: {w}×{h} and {:?}",
                odd.dimensions()
            );
        }
        let columns = columns.clamp(1, images.len());
        let rows = images.len().div_ceil(columns);
        let gap = 2;
        let mut canvas = RgbImage::from_pixel(
            columns as u32 * (w + gap) + gap,
            rows as u32 * (h + gap) + gap,
            Rgb([128, 128, 128]),
        );
        for (i, image) in images.iter().enumerate() {
            let x = gap + (i % columns) as u32 * (w + gap);
            let y = gap + (i / columns) as u32 * (h + gap);
            imageops::replace(&mut canvas, image, x as i64, y as i64);
        }
        Ok(Picture(canvas))
    }

    /// The image beside its red, green and blue planes: the three numbers per pixel
    /// that make up the tensor `[3, H, W]`.
    pub fn channel_planes(image: &RgbImage) -> anyhow::Result<Picture> {
        let plane = |c: usize| {
            RgbImage::from_fn(image.width(), image.height(), |x, y| {
                let mut pixel = [0u8; 3];
                pixel[c] = image.get_pixel(x, y)[c];
                Rgb(pixel)
            })
        };
        Picture::grid(&[image.clone(), plane(0), plane(1), plane(2)], 4)
    }

    /// The picture encoded as PNG bytes.
    pub fn png_bytes(&self) -> anyhow::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.0.write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )?;
        Ok(bytes)
    }

    /// Writes a PNG, replacing an older one, never half a file
    /// ([`crate::files`]).
    pub fn save_png(&self, path: impl AsRef<Path>) -> anyhow::Result<()> {
        OutputFile::check(path.as_ref(), Existing::Replace)?
            .write(&self.png_bytes()?)
    }

    /// Shows the picture inline in a Jupyter notebook running the evcxr kernel.
    #[cfg(feature = "evcxr")]
    pub fn evcxr_display(&self) {
        use base64::Engine;
        match self.png_bytes() {
            Ok(png) => println!(
                "EVCXR_BEGIN_CONTENT image/png\n{}\nEVCXR_END_CONTENT",
                base64::engine::general_purpose::STANDARD.encode(png)
            ),
            Err(error) => println!("cannot encode picture: {error}"),
        }
    }
}

/// PNG bytes of `image` with text chunks (`tEXt`, keyword → value): how a
/// generated picture remembers the settings that made it. Keywords are 1–79
/// Latin-1 characters; values with other characters go into `iTXt` chunks.
pub fn png_with_text(
    image: &RgbImage,
    text: &[(&str, String)],
) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    {
        let mut encoder =
            png::Encoder::new(&mut bytes, image.width(), image.height());
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        for (keyword, value) in text {
            if value.chars().all(|c| (c as u32) < 256) {
                encoder.add_text_chunk((*keyword).to_string(), value.clone())?;
            } else {
                encoder.add_itxt_chunk((*keyword).to_string(), value.clone())?;
            }
        }
        let mut writer = encoder.write_header()?;
        writer.write_image_data(image.as_raw())?;
        writer.finish()?;
    }
    Ok(bytes)
}

/// The text chunks of a PNG (`tEXt` and `iTXt`), keyword → value.
pub fn png_text(bytes: &[u8]) -> anyhow::Result<Vec<(String, String)>> {
    let reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info()?;
    let info = reader.info();
    let mut text: Vec<(String, String)> = info
        .uncompressed_latin1_text
        .iter()
        .map(|t| (t.keyword.clone(), t.text.clone()))
        .collect();
    for chunk in &info.utf8_text {
        text.push((chunk.keyword.clone(), chunk.get_text()?));
    }
    Ok(text)
}

/// An animated GIF of `frames` (all the same size), `delay_ms` apart, looping.
pub fn gif_bytes(frames: &[RgbImage], delay_ms: u32) -> anyhow::Result<Vec<u8>> {
    use image::codecs::gif::{GifEncoder, Repeat};
    let mut bytes = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut bytes, 10);
        encoder.set_repeat(Repeat::Infinite)?;
        for frame in frames {
            let rgba = image::DynamicImage::ImageRgb8(frame.clone()).to_rgba8();
            let delay = image::Delay::from_numer_denom_ms(delay_ms, 1);
            encoder.encode_frame(image::Frame::from_parts(rgba, 0, 0, delay))?;
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_text_survives_a_round_trip_and_gifs_keep_every_frame()
    -> anyhow::Result<()> {
        let image =
            RgbImage::from_fn(5, 4, |x, y| Rgb([x as u8 * 40, y as u8 * 60, 7]));
        let text = [
            ("Description", "a red circle".to_string()),
            ("clip-art judge", "✓ as asked".to_string()),
        ];
        let bytes = png_with_text(&image, &text)?;
        let read = png_text(&bytes)?;
        for (keyword, value) in &text {
            assert!(
                read.contains(&(keyword.to_string(), value.clone())),
                "{read:?}"
            );
        }
        assert_eq!(image::load_from_memory(&bytes)?.to_rgb8(), image);
        let frames = vec![image.clone(), RgbImage::new(5, 4), image];
        let gif = gif_bytes(&frames, 100)?;
        let decoder =
            image::codecs::gif::GifDecoder::new(std::io::Cursor::new(gif))?;
        let decoded =
            image::AnimationDecoder::into_frames(decoder).collect_frames()?;
        assert_eq!(decoded.len(), 3);
        Ok(())
    }

    fn solid(value: u8) -> RgbImage {
        RgbImage::from_pixel(3, 2, Rgb([value, value, value]))
    }

    #[test]
    fn grid_places_images_in_rows() {
        let grid = Picture::grid(&[solid(0), solid(50), solid(250)], 2).unwrap();
        // 2 columns of width 3 with gaps of 2: 2 + 3 + 2 + 3 + 2; 2 rows of height 2.
        assert_eq!(grid.0.dimensions(), (12, 10));
        assert_eq!(grid.0.get_pixel(2, 2).0, [0, 0, 0]);
        assert_eq!(grid.0.get_pixel(7, 2).0, [50, 50, 50]);
        assert_eq!(grid.0.get_pixel(2, 6).0, [250, 250, 250]);
        assert_eq!(grid.0.get_pixel(7, 6).0, [128, 128, 128]); // empty cell
    }

    #[test]
    fn grid_rejects_mixed_sizes_and_nothing() {
        assert!(Picture::grid(&[], 3).is_err());
        let other = RgbImage::new(4, 4);
        let message = Picture::grid(&[solid(0), other], 2)
            .unwrap_err()
            .to_string();
        assert!(message.contains("same size"), "{message}");
    }

    #[test]
    fn channel_planes_keep_one_channel_each() {
        let image = RgbImage::from_pixel(3, 2, Rgb([10, 20, 30]));
        let planes = Picture::channel_planes(&image).unwrap();
        assert_eq!(planes.0.dimensions(), (22, 6));
        assert_eq!(planes.0.get_pixel(2, 2).0, [10, 20, 30]);
        assert_eq!(planes.0.get_pixel(7, 2).0, [10, 0, 0]);
        assert_eq!(planes.0.get_pixel(12, 2).0, [0, 20, 0]);
        assert_eq!(planes.0.get_pixel(17, 2).0, [0, 0, 30]);
    }

    #[test]
    fn scaling_repeats_pixels() {
        let mut image = solid(0);
        image.put_pixel(1, 0, Rgb([9, 9, 9]));
        let big = Picture(image).scaled(3);
        assert_eq!(big.0.dimensions(), (9, 6));
        assert_eq!(big.0.get_pixel(5, 2).0, [9, 9, 9]);
        assert_eq!(big.0.get_pixel(6, 2).0, [0, 0, 0]);
    }

    #[test]
    fn saved_png_reads_back_and_leaves_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/picture.png");
        let picture = Picture(solid(77));
        picture.save_png(&path).unwrap();
        assert_eq!(image::open(&path).unwrap().to_rgb8(), picture.0);
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("picture.png")]);
    }
}

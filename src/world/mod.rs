//! Procedural worlds with ground truth.
//!
//! No dataset can be downloaded here, and a student's laptop should not need
//! one either, so the course draws its own data. Every image comes with the true
//! attributes it was drawn from, which makes every later claim checkable by an
//! independent [`judge`] rather than by eye.
//!
//! - [`faces`]: cartoon faces with the lecture's four attributes (pose, age,
//!   expression, eyeglasses) plus nuisance variation (skin, hair, face shape).
//! - [`scenes`]: one or two coloured shapes with an English caption generated from
//!   the true attributes; CLIP and the guided generator train on it. Its judge,
//!   [`judge::scenes`], reads colour, shape, size and position back from pixels.

pub mod faces;
pub mod judge;
pub mod requests;
pub mod scenes;
pub mod shapes;
pub mod wording;

use image::RgbImage;
use tiny_skia::Pixmap;

/// The pixels of an opaque pixmap as an RGB image. Opaque premultiplied RGBA
/// bytes are plain RGB.
pub(crate) fn pixmap_to_rgb(pixmap: &Pixmap) -> RgbImage {
    let rgb = pixmap
        .data()
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    RgbImage::from_raw(pixmap.width(), pixmap.height(), rgb)
        .expect("pixmap is width×height")
}

/// `f` of every item, in order, split over every core: drawing and judging
/// thousands of pictures are independent jobs.
pub fn map_on_every_core<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(threads).max(1);
    let f = &f;
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker thread panicked"))
            .collect()
    })
}

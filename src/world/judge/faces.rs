//! The judge: recovers a face's attributes from its pixels alone.
//!
//! It knows nothing about any model it grades. It works by *redrawing*: it
//! searches the face renderer's own parameters for the drawing that best matches
//! the picture (coordinate descent over pose, skin, hair and age, glasses, smile
//! and width, then a finer pass on the continuous ones). What it finds is its
//! verdict; how well the best redraw matches says whether the picture is a face
//! at all. Both pictures are compared at 32×32 after a light blur, so a slightly
//! soft reconstruction is judged by its content, not its sharpness.

use image::RgbImage;
use image::imageops::{FilterType, resize};
use tiny_skia::Pixmap;

use crate::world::faces::{Attribute, Face, HAIR_COLOURS, SKIN_TONES};

/// The judge compares pictures at this size.
const JUDGE_SIZE: u32 = 32;

/// Passes of the [1, 2, 1]/4 blur over both pictures before comparing.
const BLUR_PASSES: usize = 1;

/// Mean squared error (per value in [0, 1], after the blur) under which the best
/// redraw counts as "a face". Fresh renders score below 0.0003 and autoencoder
/// reconstructions below 0.0006; VAE samples are blurrier (measured by
/// `clip-art faces-report`). Noise, flat colour, shape scenes and upside-down
/// faces score far above (tested below). A blend of two faces often passes: the
/// check catches pictures that are not faces, not every ghost.
pub const FACE_ERROR_LIMIT: f32 = 0.004;

/// How far a judged continuous attribute (pose, smile) may be from the truth and
/// still count as right: an eighth of its range.
pub const CONTINUOUS_TOLERANCE: f32 = 0.25;

/// What the judge saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// The face whose drawing matches best.
    pub face: Face,
    /// Mean squared error between the picture and that drawing.
    pub error: f32,
}

impl Verdict {
    /// Whether the picture is a face the renderer can draw (a valid element of the
    /// data distribution), not a blend, a ghost or noise.
    pub fn is_face(&self) -> bool {
        self.error < FACE_ERROR_LIMIT
    }

    /// Whether the judged attribute agrees with `truth`: equal for age and
    /// eyeglasses, within [`CONTINUOUS_TOLERANCE`] for pose and expression.
    pub fn agrees(&self, truth: &Face, attribute: Attribute) -> bool {
        let (seen, wanted) =
            (self.face.attribute(attribute), truth.attribute(attribute));
        match attribute {
            Attribute::Age | Attribute::Eyeglasses => seen == wanted,
            Attribute::Pose | Attribute::Expression => {
                (seen - wanted).abs() <= CONTINUOUS_TOLERANCE
            }
        }
    }
}

/// Judges one picture of any size.
pub fn judge_face(image: &RgbImage) -> Verdict {
    Search::new(image).run()
}

/// Judges many pictures, on every core.
pub fn judge_faces(images: &[RgbImage]) -> Vec<Verdict> {
    crate::world::map_on_every_core(images, judge_face)
}

/// The share of pictures whose judged attribute agrees with the truth.
pub fn agreement(verdicts: &[Verdict], truth: &[Face], attribute: Attribute) -> f32 {
    let right = verdicts
        .iter()
        .zip(truth)
        .filter(|(v, t)| v.agrees(t, attribute))
        .count();
    right as f32 / verdicts.len().max(1) as f32
}

/// The share of pictures judged to be faces.
pub fn face_rate(verdicts: &[Verdict]) -> f32 {
    verdicts.iter().filter(|v| v.is_face()).count() as f32
        / verdicts.len().max(1) as f32
}

struct Search {
    target: Vec<f32>,
    canvas: Pixmap,
}

impl Search {
    fn new(image: &RgbImage) -> Search {
        let small = if image.width() == JUDGE_SIZE && image.height() == JUDGE_SIZE {
            image.clone()
        } else {
            resize(image, JUDGE_SIZE, JUDGE_SIZE, FilterType::Triangle)
        };
        Search {
            target: blurred(&small),
            canvas: Pixmap::new(JUDGE_SIZE, JUDGE_SIZE).expect("positive size"),
        }
    }

    fn error(&mut self, face: &Face) -> f32 {
        face.paint(&mut self.canvas);
        let drawn = blurred(&crate::world::pixmap_to_rgb(&self.canvas));
        let sum: f32 = drawn
            .iter()
            .zip(&self.target)
            .map(|(a, b)| (a - b) * (a - b))
            .sum();
        sum / drawn.len() as f32
    }

    /// Keeps the candidate with the lowest error, starting from `best`.
    fn pick(
        &mut self,
        best: &mut Verdict,
        candidates: impl IntoIterator<Item = Face>,
    ) {
        for face in candidates {
            let error = self.error(&face);
            if error < best.error {
                *best = Verdict { face, error };
            }
        }
    }

    fn run(mut self) -> Verdict {
        let start = Face::default();
        let mut best = Verdict {
            face: start,
            error: self.error(&start),
        };
        let coarse = grid(-1.0, 1.0, 17);
        let widths = grid(Face::WIDTH_RANGE.0, Face::WIDTH_RANGE.1, 6);
        for _round in 0..3 {
            let before = best.face;
            let f = best.face;
            self.pick(&mut best, coarse.iter().map(|&pose| Face { pose, ..f }));
            let f = best.face;
            self.pick(
                &mut best,
                (0..SKIN_TONES.len()).map(|skin| Face { skin, ..f }),
            );
            let f = best.face;
            let looks = (0..HAIR_COLOURS.len())
                .flat_map(|hair| [false, true].map(|old| (hair, old)));
            self.pick(&mut best, looks.map(|(hair, old)| Face { hair, old, ..f }));
            let f = best.face;
            self.pick(
                &mut best,
                [false, true].map(|glasses| Face { glasses, ..f }),
            );
            let f = best.face;
            self.pick(&mut best, coarse.iter().map(|&smile| Face { smile, ..f }));
            let f = best.face;
            self.pick(&mut best, widths.iter().map(|&width| Face { width, ..f }));
            if best.face == before {
                break;
            }
        }
        // Finer steps for the continuous attributes, around the coarse answer.
        for step in [1.0 / 16.0, 1.0 / 32.0] {
            let f = best.face;
            let poses = [-1.0, 1.0].map(|d| (f.pose + d * step).clamp(-1.0, 1.0));
            self.pick(&mut best, poses.map(|pose| Face { pose, ..f }));
            let f = best.face;
            let smiles = [-1.0, 1.0].map(|d| (f.smile + d * step).clamp(-1.0, 1.0));
            self.pick(&mut best, smiles.map(|smile| Face { smile, ..f }));
        }
        best
    }
}

/// `count` evenly spaced values from `low` to `high` inclusive.
fn grid(low: f32, high: f32, count: usize) -> Vec<f32> {
    (0..count)
        .map(|i| low + (high - low) * i as f32 / (count - 1) as f32)
        .collect()
}

/// The picture as channel-first values in [0, 1], blurred `BLUR_PASSES` times
/// with the separable kernel [1, 2, 1]/4 (edges repeated).
fn blurred(image: &RgbImage) -> Vec<f32> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let mut planes = crate::basics::pixels::image_to_chw(image);
    let mut scratch = vec![0.0; w * h];
    for plane in planes.chunks_exact_mut(w * h) {
        for _ in 0..BLUR_PASSES {
            blur_pass(plane, &mut scratch, (w, h), true);
            blur_pass(&scratch, plane, (w, h), false);
        }
    }
    planes
}

/// One pass of [1, 2, 1]/4 along each row (or each column), edges repeated.
fn blur_pass(
    from: &[f32],
    to: &mut [f32],
    (w, h): (usize, usize),
    along_rows: bool,
) {
    for y in 0..h {
        for x in 0..w {
            let at = |x: usize, y: usize| from[y * w + x];
            to[y * w + x] = if along_rows {
                0.25 * at(x.saturating_sub(1), y)
                    + 0.5 * at(x, y)
                    + 0.25 * at((x + 1).min(w - 1), y)
            } else {
                0.25 * at(x, y.saturating_sub(1))
                    + 0.5 * at(x, y)
                    + 0.25 * at(x, (y + 1).min(h - 1))
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::faces::FaceBatch;

    #[test]
    fn recovers_every_attribute_of_fresh_renders() {
        let batch = FaceBatch::draw(300, 64, 42);
        let verdicts = judge_faces(&batch.images);
        for attribute in Attribute::ALL {
            let share = agreement(&verdicts, &batch.faces, attribute);
            assert!(share >= 0.99, "{attribute}: {share}");
        }
        let skin = verdicts
            .iter()
            .zip(&batch.faces)
            .filter(|(v, f)| v.face.skin == f.skin);
        assert!(skin.count() >= 297);
        assert_eq!(face_rate(&verdicts), 1.0);
    }

    #[test]
    fn judges_any_picture_size() {
        let batch = FaceBatch::draw(40, 48, 3);
        let verdicts = judge_faces(&batch.images);
        for attribute in Attribute::ALL {
            assert!(
                agreement(&verdicts, &batch.faces, attribute) >= 0.95,
                "{attribute}"
            );
        }
    }

    #[test]
    fn noise_flat_colour_scenes_and_upside_down_faces_are_not_faces() {
        let noise = RgbImage::from_fn(64, 64, |x, y| {
            image::Rgb([
                (x * 37 % 256) as u8,
                (y * 91 % 256) as u8,
                ((x * y) % 256) as u8,
            ])
        });
        assert!(!judge_face(&noise).is_face());
        let grey = RgbImage::from_pixel(64, 64, image::Rgb([128, 128, 128]));
        assert!(!judge_face(&grey).is_face());
        let scenes = crate::world::scenes::SceneBatch::draw(
            10,
            64,
            crate::world::scenes::Split::Train,
            1,
        );
        assert_eq!(face_rate(&judge_faces(&scenes.images)), 0.0);
        let upside_down: Vec<RgbImage> = FaceBatch::draw(20, 64, 9)
            .images
            .iter()
            .map(image::imageops::flip_vertical)
            .collect();
        assert_eq!(face_rate(&judge_faces(&upside_down)), 0.0);
    }

    #[test]
    fn the_blur_keeps_a_flat_picture_flat_and_its_mean() {
        let flat = RgbImage::from_pixel(8, 8, image::Rgb([51, 102, 204]));
        assert!(blurred(&flat)[..64].iter().all(|&v| (v - 0.2).abs() < 1e-6));
        let mut dot = RgbImage::new(8, 8);
        dot.put_pixel(4, 4, image::Rgb([255, 0, 0]));
        let sum: f32 = blurred(&dot)[..64].iter().sum();
        assert!((sum - 1.0).abs() < 1e-5);
    }
}

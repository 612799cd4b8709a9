//! Cartoon faces with the lecture's latent-arithmetic attributes.
//!
//! The lecture edits a face along four directions: Pose, Age, Expression and
//! Eyeglasses. Each [`Face`] carries exactly those four, two of them continuous
//! (pose, smile) and two on/off (old, glasses), plus nuisance variation (skin
//! tone, hair colour, face width) so that a model has more to learn than the four
//! attributes. Faces are drawn anti-aliased with `tiny-skia` on a 64×64 canvas by
//! default; every other size is the same drawing scaled.

use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tiny_skia::{
    Color, FillRule, LineCap, Paint, Path, PathBuilder, Pixmap, Rect, Stroke,
    Transform,
};

/// Skin tones a face can have (nuisance variation).
pub const SKIN_TONES: [[u8; 3]; 4] = [
    [250, 214, 185],
    [234, 178, 140],
    [190, 130, 90],
    [130, 84, 58],
];

/// Hair colours of a young face; old faces go grey (nuisance variation).
pub const HAIR_COLOURS: [[u8; 3]; 4] =
    [[40, 30, 28], [120, 70, 35], [225, 190, 90], [185, 75, 35]];

const BACKGROUND: [u8; 3] = [196, 214, 232];
const GREY_HAIR: [u8; 3] = [214, 214, 220];
const INK: [u8; 3] = [30, 24, 24];
/// A dark mouth, clear on every skin tone. (Red lips on the darkest skin
/// differed from it by a squared error 18 times smaller than on the lightest, so
/// the autoencoder learned their smile last and lost it most: chapter 3.)
const LIPS: [u8; 3] = [60, 15, 25];

/// The binary and continuous attributes the lecture edits, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attribute {
    Pose,
    Age,
    Expression,
    Eyeglasses,
}

impl Attribute {
    /// In the lecture's order: Pose, Age, Expression, Eyeglasses.
    pub const ALL: [Attribute; 4] = [
        Attribute::Pose,
        Attribute::Age,
        Attribute::Expression,
        Attribute::Eyeglasses,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Attribute::Pose => "pose",
            Attribute::Age => "age",
            Attribute::Expression => "expression",
            Attribute::Eyeglasses => "eyeglasses",
        }
    }
}

impl std::fmt::Display for Attribute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

// ANCHOR: face
/// Everything that decides one face; [`Face::draw`] turns it into pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Face {
    /// Head turned to the picture's left (−1) … straight (0) … right (+1).
    pub pose: f32,
    /// Frown (−1) … neutral (0) … broad smile (+1).
    pub smile: f32,
    /// Grey hair and wrinkles.
    pub old: bool,
    pub glasses: bool,
    /// Index into [`SKIN_TONES`].
    pub skin: usize,
    /// Index into [`HAIR_COLOURS`].
    pub hair: usize,
    /// Face width relative to the average face (0.85 … 1.1).
    pub width: f32,
}
// ANCHOR_END: face

impl Default for Face {
    /// A young, straight, neutral face without glasses.
    fn default() -> Self {
        Face {
            pose: 0.0,
            smile: 0.0,
            old: false,
            glasses: false,
            skin: 0,
            hair: 0,
            width: 1.0,
        }
    }
}

impl Face {
    pub const POSE_RANGE: (f32, f32) = (-1.0, 1.0);
    pub const SMILE_RANGE: (f32, f32) = (-1.0, 1.0);
    pub const WIDTH_RANGE: (f32, f32) = (0.85, 1.1);

    /// A face with every attribute drawn uniformly at random.
    pub fn random(rng: &mut impl Rng) -> Face {
        Face {
            pose: rng.random_range(-1.0..=1.0),
            smile: rng.random_range(-1.0..=1.0),
            old: rng.random_bool(0.5),
            glasses: rng.random_bool(0.5),
            skin: rng.random_range(0..SKIN_TONES.len()),
            hair: rng.random_range(0..HAIR_COLOURS.len()),
            width: rng.random_range(Face::WIDTH_RANGE.0..=Face::WIDTH_RANGE.1),
        }
    }

    /// The value of one lecture attribute as a number: pose and smile as they are,
    /// age and eyeglasses as 0 or 1.
    pub fn attribute(&self, attribute: Attribute) -> f32 {
        match attribute {
            Attribute::Pose => self.pose,
            Attribute::Age => f32::from(u8::from(self.old)),
            Attribute::Expression => self.smile,
            Attribute::Eyeglasses => f32::from(u8::from(self.glasses)),
        }
    }

    /// Renders the face, anti-aliased, on a `size`×`size` canvas.
    pub fn draw(&self, size: u32) -> RgbImage {
        let mut pixmap =
            Pixmap::new(size, size).expect("canvas size must be positive");
        self.paint(&mut pixmap);
        super::pixmap_to_rgb(&pixmap)
    }

    /// Paints onto an existing canvas, reusing its memory (the judge redraws
    /// thousands of faces).
    pub fn paint(&self, pixmap: &mut Pixmap) {
        let mut canvas = Canvas::new(pixmap);
        canvas.pixmap.fill(colour(BACKGROUND));
        let skin = SKIN_TONES[self.skin % SKIN_TONES.len()];
        let shade = skin.map(|v| (f32::from(v) * 0.78) as u8);
        let hair = if self.old {
            GREY_HAIR
        } else {
            HAIR_COLOURS[self.hair % HAIR_COLOURS.len()]
        };
        // A turn shows in the ears, the nose and the hair; the eyes and the mouth
        // move only with the head. (When they slid 7 units further, the VAE
        // learned a different smile code for every head position and no single
        // latent direction could add a smile: chapter 4.)
        let head_x = 32.0 + 2.0 * self.pose;
        let (rx, ry) = (17.0 * self.width, 23.0);
        let fx = head_x;

        canvas.fill(ellipse(head_x, 26.0, rx + 3.0, 17.0), hair);
        for side in [-1.0, 1.0] {
            let ear_x = head_x + side * (rx - 0.5) - 4.0 * self.pose;
            canvas.fill(ellipse(ear_x, 37.0, 3.0, 4.5), shade);
        }
        canvas.fill(ellipse(head_x, 36.0, rx, ry), skin);
        canvas.fill(ellipse(head_x + 4.0 * self.pose, 15.5, rx - 1.0, 8.0), hair);
        if self.old {
            for y in [24.5, 27.0] {
                canvas.stroke(line(fx - 7.0, y, fx + 7.0, y), shade, 1.0);
            }
            for side in [-1.0, 1.0] {
                let x = fx + side * 6.0;
                canvas.stroke(
                    curve(x, 40.0, x + side * 3.0, 45.0, x + side * 1.5, 50.0),
                    shade,
                    1.0,
                );
            }
        }
        for side in [-1.0, 1.0] {
            let eye_x = fx + side * 6.5;
            // Brows follow the mouth: raised outer ends when smiling, lowered
            // outer ends when frowning.
            let (inner, outer) = (29.0 + 0.8 * self.smile, 29.5 - 1.6 * self.smile);
            canvas.stroke(
                line(eye_x - side * 2.8, inner, eye_x + side * 2.8, outer),
                INK,
                1.5,
            );
            canvas.fill(ellipse(eye_x, 33.0, 2.2, 2.2), INK);
        }
        let nose_tip = fx + 4.0 * self.pose;
        canvas.stroke(
            curve(
                fx,
                35.0,
                nose_tip + 1.5 * self.pose,
                40.0,
                nose_tip - 1.5,
                41.5,
            ),
            shade,
            1.3,
        );
        // A smile lifts the corners and lowers the middle, a frown the reverse;
        // a broad smile is also a wide one.
        let (corners, middle) = (47.5 - 3.0 * self.smile, 47.5 + 9.0 * self.smile);
        let half_width = 7.5 + 1.5 * self.smile;
        let mouth = curve(
            fx - half_width,
            corners,
            fx,
            middle,
            fx + half_width,
            corners,
        );
        canvas.stroke(mouth, LIPS, 3.4);
        if self.glasses {
            for side in [-1.0, 1.0] {
                let eye_x = fx + side * 6.5;
                canvas.stroke(ellipse(eye_x, 33.0, 4.8, 4.3), INK, 1.8);
                let temple = head_x + side * (rx - 0.5);
                canvas.stroke(
                    line(eye_x + side * 4.8, 32.0, temple, 31.0),
                    INK,
                    1.2,
                );
            }
            canvas.stroke(line(fx - 1.7, 32.5, fx + 1.7, 32.5), INK, 1.2);
        }
    }
}

/// Faces with their true attributes.
#[derive(Debug, Clone)]
pub struct FaceBatch {
    pub faces: Vec<Face>,
    pub images: Vec<RgbImage>,
}

impl FaceBatch {
    /// `count` random faces of `size`×`size` pixels, the same for the same seed.
    pub fn draw(count: usize, size: u32, seed: u64) -> FaceBatch {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let faces: Vec<Face> = (0..count).map(|_| Face::random(&mut rng)).collect();
        FaceBatch::of(faces, size)
    }

    /// Draws the given faces.
    pub fn of(faces: Vec<Face>, size: u32) -> FaceBatch {
        let images = faces.iter().map(|face| face.draw(size)).collect();
        FaceBatch { faces, images }
    }

    /// One attribute of every face as a column: see [`Face::attribute`].
    pub fn attribute(&self, attribute: Attribute) -> Vec<f32> {
        self.faces.iter().map(|f| f.attribute(attribute)).collect()
    }
}

/// Draws in the 64×64 reference frame whatever the canvas size.
struct Canvas<'a> {
    pixmap: &'a mut Pixmap,
    transform: Transform,
}

impl<'a> Canvas<'a> {
    fn new(pixmap: &'a mut Pixmap) -> Self {
        let scale = pixmap.width() as f32 / 64.0;
        Canvas {
            pixmap,
            transform: Transform::from_scale(scale, scale),
        }
    }

    fn fill(&mut self, path: Option<Path>, rgb: [u8; 3]) {
        if let Some(path) = path {
            self.pixmap.fill_path(
                &path,
                &paint(rgb),
                FillRule::Winding,
                self.transform,
                None,
            );
        }
    }

    fn stroke(&mut self, path: Option<Path>, rgb: [u8; 3], width: f32) {
        if let Some(path) = path {
            let stroke = Stroke {
                width,
                line_cap: LineCap::Round,
                ..Stroke::default()
            };
            self.pixmap.stroke_path(
                &path,
                &paint(rgb),
                &stroke,
                self.transform,
                None,
            );
        }
    }
}

fn colour([r, g, b]: [u8; 3]) -> Color {
    Color::from_rgba8(r, g, b, 255)
}

fn paint(rgb: [u8; 3]) -> Paint<'static> {
    let mut paint = Paint::default();
    paint.set_color(colour(rgb));
    paint.anti_alias = true;
    paint
}

fn ellipse(cx: f32, cy: f32, rx: f32, ry: f32) -> Option<Path> {
    PathBuilder::from_oval(Rect::from_xywh(cx - rx, cy - ry, 2.0 * rx, 2.0 * ry)?)
}

fn line(x0: f32, y0: f32, x1: f32, y1: f32) -> Option<Path> {
    let mut path = PathBuilder::new();
    path.move_to(x0, y0);
    path.line_to(x1, y1);
    path.finish()
}

/// A quadratic curve from (x0, y0) through the control point (cx, cy) to (x1, y1).
fn curve(x0: f32, y0: f32, cx: f32, cy: f32, x1: f32, y1: f32) -> Option<Path> {
    let mut path = PathBuilder::new();
    path.move_to(x0, y0);
    path.quad_to(cx, cy, x1, y1);
    path.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn differing_pixels(a: &RgbImage, b: &RgbImage) -> usize {
        a.pixels()
            .zip(b.pixels())
            .filter(|(p, q)| (0..3).any(|c| p[c].abs_diff(q[c]) > 40))
            .count()
    }

    #[test]
    fn each_attribute_changes_its_own_region() {
        let base = Face::default();
        let plain = base.draw(64);
        // Glasses: dark frame pixels appear around the eyes, nowhere near the mouth.
        let glasses = Face {
            glasses: true,
            ..base
        }
        .draw(64);
        let changed = differing_pixels(&plain, &glasses);
        assert!(changed > 40, "glasses changed only {changed} pixels");
        for y in 42..64 {
            for x in 0..64 {
                assert_eq!(
                    plain.get_pixel(x, y),
                    glasses.get_pixel(x, y),
                    "({x},{y})"
                );
            }
        }
        // Age: the hair goes grey.
        let old = Face { old: true, ..base }.draw(64);
        let top = old.get_pixel(32, 12);
        assert_eq!(top.0, GREY_HAIR, "hair at the crown");
        // Smile: only the lower face changes, and a smile bends the mouth down in
        // the middle (its centre sits lower than its corners).
        let smile = Face { smile: 1.0, ..base }.draw(64);
        assert!(differing_pixels(&plain, &smile) > 10);
        let lips_row = |image: &RgbImage, x: u32| {
            (40..60)
                .find(|&y| image.get_pixel(x, y)[1] < 90)
                .expect("lips")
        };
        assert!(lips_row(&smile, 32) > lips_row(&smile, 26));
        let frown = Face {
            smile: -1.0,
            ..base
        }
        .draw(64);
        assert!(lips_row(&frown, 32) < lips_row(&frown, 26));
    }

    #[test]
    fn pose_turns_the_nose_and_moves_the_eyes_only_with_the_head() {
        // Mean column of the pixels in `rows` close to `rgb`, between the ears.
        let columns = |pose: f32, rows: std::ops::Range<u32>, rgb: [u8; 3]| {
            let image = Face {
                pose,
                ..Face::default()
            }
            .draw(64);
            let xs: Vec<u32> = rows
                .flat_map(|y| (20..44).map(move |x| (x, y)))
                .filter(|&(x, y)| {
                    let p = image.get_pixel(x, y).0;
                    (0..3).all(|c| p[c].abs_diff(rgb[c]) < 30)
                })
                .map(|(x, _)| x)
                .collect();
            xs.iter().sum::<u32>() as f32 / xs.len() as f32
        };
        let eyes = |pose| columns(pose, 33..34, INK);
        let (left, straight, right) = (eyes(-1.0), eyes(0.0), eyes(1.0));
        assert!(
            (straight - 31.5).abs() < 1.0,
            "straight face centred: {straight}"
        );
        assert!(
            left < straight - 1.0 && right > straight + 1.0 && right - left < 5.0,
            "eyes at {left} {straight} {right}"
        );
        let shade =
            SKIN_TONES[Face::default().skin].map(|v| (f32::from(v) * 0.78) as u8);
        let nose = |pose| columns(pose, 38..42, shade);
        assert!(
            nose(1.0) - nose(-1.0) > right - left + 4.0,
            "the nose turns further than the head: {} vs {}",
            nose(1.0) - nose(-1.0),
            right - left
        );
    }

    #[test]
    fn sizes_are_the_same_drawing_scaled() {
        let face = Face {
            pose: 0.4,
            smile: 0.7,
            glasses: true,
            ..Face::default()
        };
        let small = face.draw(32);
        let large = face.draw(64);
        let downscaled = image::imageops::resize(
            &large,
            32,
            32,
            image::imageops::FilterType::Triangle,
        );
        let mean_error: f32 = small
            .as_raw()
            .iter()
            .zip(downscaled.as_raw())
            .map(|(&a, &b)| f32::from(a.abs_diff(b)))
            .sum::<f32>()
            / small.as_raw().len() as f32;
        assert!(mean_error < 6.0, "mean difference {mean_error}");
    }

    #[test]
    fn same_seed_same_faces_and_attributes_are_balanced() {
        let a = FaceBatch::draw(400, 32, 5);
        assert_eq!(a.images, FaceBatch::draw(400, 32, 5).images);
        assert_ne!(a.images, FaceBatch::draw(400, 32, 6).images);
        let share = |v: Vec<f32>| v.iter().filter(|&&x| x > 0.5).count();
        assert!((160..240).contains(&share(a.attribute(Attribute::Eyeglasses))));
        assert!((160..240).contains(&share(a.attribute(Attribute::Age))));
        let poses = a.attribute(Attribute::Pose);
        assert!(poses.iter().all(|p| (-1.0..=1.0).contains(p)));
        assert!(poses.iter().any(|&p| p < -0.9) && poses.iter().any(|&p| p > 0.9));
    }
}

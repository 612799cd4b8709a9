//! Chapter 2 — the lecture's "RGB pixels → 4 categories" made concrete: a
//! procedurally drawn image set of four shape classes.
//!
//! Every image is drawn from a seed with an anti-aliasing rasteriser
//! (`tiny-skia`): one shape of random colour, size and position on a dark
//! background. Because we draw them, we know the true class of every image and
//! can draw as many fresh ones as we like — no dataset to download.

use std::f32::consts::PI;
use std::fmt;

use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tiny_skia::{FillRule, Paint, PathBuilder, Pixmap, Transform};

/// The shapes we can draw. The first four are the classifier's categories; the
/// captioned scenes of [`crate::world::scenes`] use them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    Circle,
    Square,
    Triangle,
    Star,
    Cross,
    Heart,
}

impl Shape {
    /// The classifier's categories, in label order: `Shape::CLASSES[label]`.
    pub const CLASSES: [Shape; 4] =
        [Shape::Circle, Shape::Square, Shape::Triangle, Shape::Star];

    /// Every shape, in a fixed order.
    pub const ALL: [Shape; 6] = [
        Shape::Circle,
        Shape::Square,
        Shape::Triangle,
        Shape::Star,
        Shape::Cross,
        Shape::Heart,
    ];

    /// The index in [`Shape::ALL`], which for the classifier's categories is also
    /// the label.
    pub fn label(self) -> usize {
        Shape::ALL.iter().position(|&s| s == self).unwrap_or(0)
    }

    pub fn name(self) -> &'static str {
        match self {
            Shape::Circle => "circle",
            Shape::Square => "square",
            Shape::Triangle => "triangle",
            Shape::Star => "star",
            Shape::Cross => "cross",
            Shape::Heart => "heart",
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything that decides one drawing; `draw` turns it into pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShapeSpec {
    pub shape: Shape,
    /// Centre, in pixels.
    pub centre: (f32, f32),
    /// Radius of the circle the shape fits in, in pixels.
    pub radius: f32,
    /// Fill colour, RGB.
    pub colour: [u8; 3],
    /// Background colour, RGB.
    pub background: [u8; 3],
}

impl ShapeSpec {
    /// A random shape of a random class that fits inside a `size`×`size` canvas.
    pub fn random(size: u32, rng: &mut impl Rng) -> ShapeSpec {
        let shape = Shape::CLASSES[rng.random_range(0..Shape::CLASSES.len())];
        ShapeSpec::random_of(shape, size, rng)
    }

    /// A random drawing of the given class.
    pub fn random_of(shape: Shape, size: u32, rng: &mut impl Rng) -> ShapeSpec {
        let s = size as f32;
        let radius = rng.random_range(0.22..0.42) * s;
        let centre = (
            rng.random_range(radius + 1.0..s - radius - 1.0),
            rng.random_range(radius + 1.0..s - radius - 1.0),
        );
        let colour =
            bright_colour(rng.random_range(0.0..360.0), rng.random_range(0.6..1.0));
        let dark = rng.random_range(0..40);
        ShapeSpec {
            shape,
            centre,
            radius,
            colour,
            background: [dark, dark, dark],
        }
    }

    /// Renders the shape, anti-aliased, on a `size`×`size` canvas.
    pub fn draw(&self, size: u32) -> RgbImage {
        let mut pixmap =
            Pixmap::new(size, size).expect("canvas size must be positive");
        let [r, g, b] = self.background;
        pixmap.fill(tiny_skia::Color::from_rgba8(r, g, b, 255));
        self.paint_on(&mut pixmap);
        crate::world::pixmap_to_rgb(&pixmap)
    }

    /// Fills the shape onto an existing canvas (the background is left alone).
    pub fn paint_on(&self, pixmap: &mut Pixmap) {
        let mut paint = Paint::default();
        let [r, g, b] = self.colour;
        paint.set_color_rgba8(r, g, b, 255);
        paint.anti_alias = true;
        if let Some(path) = self.outline() {
            pixmap.fill_path(
                &path,
                &paint,
                FillRule::Winding,
                Transform::identity(),
                None,
            );
        }
    }

    fn outline(&self) -> Option<tiny_skia::Path> {
        let (cx, cy) = self.centre;
        let r = self.radius;
        match self.shape {
            Shape::Circle => PathBuilder::from_circle(cx, cy, 0.85 * r),
            Shape::Square => {
                let half = 0.72 * r;
                let square = tiny_skia::Rect::from_xywh(
                    cx - half,
                    cy - half,
                    2.0 * half,
                    2.0 * half,
                )?;
                Some(PathBuilder::from_rect(square))
            }
            Shape::Triangle => polygon(cx, cy, &[r, r, r], -PI / 2.0),
            Shape::Star => polygon(cx, cy, &[r, 0.42 * r].repeat(5), -PI / 2.0),
            Shape::Cross => {
                let (long, half) = (0.85 * r, 0.3 * r);
                let mut path = PathBuilder::new();
                path.push_rect(tiny_skia::Rect::from_xywh(
                    cx - long,
                    cy - half,
                    2.0 * long,
                    2.0 * half,
                )?);
                path.push_rect(tiny_skia::Rect::from_xywh(
                    cx - half,
                    cy - long,
                    2.0 * half,
                    2.0 * long,
                )?);
                path.finish()
            }
            Shape::Heart => {
                let mut path = PathBuilder::new();
                path.move_to(cx, cy + 0.8 * r);
                path.cubic_to(
                    cx - 1.25 * r,
                    cy,
                    cx - 0.75 * r,
                    cy - 1.0 * r,
                    cx,
                    cy - 0.4 * r,
                );
                path.cubic_to(
                    cx + 0.75 * r,
                    cy - 1.0 * r,
                    cx + 1.25 * r,
                    cy,
                    cx,
                    cy + 0.8 * r,
                );
                path.close();
                path.finish()
            }
        }
    }
}

/// A closed polygon whose i-th corner lies at `radii[i]` from the centre, evenly spaced
/// in angle starting at `start` (radians; −π/2 points up).
fn polygon(cx: f32, cy: f32, radii: &[f32], start: f32) -> Option<tiny_skia::Path> {
    let mut path = PathBuilder::new();
    for (i, radius) in radii.iter().enumerate() {
        let angle = start + 2.0 * PI * i as f32 / radii.len() as f32;
        let (x, y) = (cx + radius * angle.cos(), cy + radius * angle.sin());
        if i == 0 {
            path.move_to(x, y);
        } else {
            path.line_to(x, y);
        }
    }
    path.close();
    path.finish()
}

/// A saturated colour of the given hue (degrees), bright enough to stand out on a
/// dark background.
fn bright_colour(hue: f32, saturation: f32) -> [u8; 3] {
    let value = 1.0;
    let c = value * saturation;
    let h = hue / 60.0;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = value - c;
    [r, g, b].map(|v| ((v + m) * 255.0).round() as u8)
}

/// A batch of drawn images with their true classes.
#[derive(Debug, Clone)]
pub struct ShapeBatch {
    pub images: Vec<RgbImage>,
    pub shapes: Vec<Shape>,
}

impl ShapeBatch {
    /// `count` fresh images of `size`×`size` pixels, the same for the same seed.
    pub fn draw(count: usize, size: u32, seed: u64) -> ShapeBatch {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let specs: Vec<ShapeSpec> = (0..count)
            .map(|_| ShapeSpec::random(size, &mut rng))
            .collect();
        ShapeBatch {
            images: specs.iter().map(|spec| spec.draw(size)).collect(),
            shapes: specs.iter().map(|spec| spec.shape).collect(),
        }
    }

    pub fn labels(&self) -> Vec<usize> {
        self.shapes.iter().map(|s| s.label()).collect()
    }

    /// The images as rows of an `ndarray` matrix `[count, 3·size·size]`, channels first.
    pub fn pixel_rows(&self) -> ndarray::Array2<f32> {
        let width = self.images.first().map_or(0, |i| i.len()); // 3·size·size values
        let flat: Vec<f32> = self
            .images
            .iter()
            .flat_map(crate::basics::pixels::image_to_chw)
            .collect();
        ndarray::Array2::from_shape_vec((self.images.len(), width), flat)
            .expect("every image has the same size")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fraction of pixels that differ clearly from the background.
    fn coverage(image: &RgbImage, background: [u8; 3]) -> f32 {
        let covered = image
            .pixels()
            .filter(|p| (0..3).any(|c| p[c].abs_diff(background[c]) > 100))
            .count();
        covered as f32 / (image.width() * image.height()) as f32
    }

    fn centred(shape: Shape) -> ShapeSpec {
        ShapeSpec {
            shape,
            centre: (32.0, 32.0),
            radius: 24.0,
            colour: [255, 40, 40],
            background: [0, 0, 0],
        }
    }

    #[test]
    fn areas_match_the_geometry() {
        // Pixel coverage against the area formula of each outline (r = 24 on 64×64).
        let r: f32 = 24.0;
        let expected = [
            (Shape::Circle, PI * (0.85 * r).powi(2)),
            (Shape::Square, (2.0 * 0.72 * r).powi(2)),
            (Shape::Triangle, 3.0 * 3f32.sqrt() / 4.0 * r * r),
            // 10 triangles between consecutive outer and inner corners
            (Shape::Star, 10.0 * 0.5 * r * 0.42 * r * (PI / 5.0).sin()),
        ];
        for (shape, area) in expected {
            let image = centred(shape).draw(64);
            let measured = coverage(&image, [0, 0, 0]) * 64.0 * 64.0;
            assert!(
                (measured - area).abs() / area < 0.06,
                "{shape}: {measured} px vs {area}"
            );
        }
    }

    #[test]
    fn edges_are_anti_aliased() {
        let image = centred(Shape::Circle).draw(64);
        let partial = image.pixels().filter(|p| p[0] > 10 && p[0] < 245).count();
        assert!(partial > 20, "only {partial} edge pixels are blended");
    }

    #[test]
    fn triangle_points_up_and_square_fills_its_corners() {
        let triangle = centred(Shape::Triangle).draw(64);
        // apex at the top centre, wide base at the bottom
        assert_eq!(triangle.get_pixel(32, 16).0[0], 255);
        assert_eq!(triangle.get_pixel(15, 16).0[0], 0);
        assert_eq!(triangle.get_pixel(15, 42).0[0], 255);
        let square = centred(Shape::Square).draw(64);
        assert_eq!(square.get_pixel(16, 16).0[0], 255);
        let circle = centred(Shape::Circle).draw(64);
        assert_eq!(circle.get_pixel(14, 14).0[0], 0);
    }

    #[test]
    fn same_seed_same_images_other_seed_other_images() {
        let a = ShapeBatch::draw(8, 32, 7);
        let b = ShapeBatch::draw(8, 32, 7);
        let c = ShapeBatch::draw(8, 32, 8);
        assert_eq!(a.images, b.images);
        assert_eq!(a.shapes, b.shapes);
        assert_ne!(a.images, c.images);
    }

    #[test]
    fn random_shapes_stay_inside_and_classes_are_balanced() {
        let batch = ShapeBatch::draw(400, 32, 1);
        for shape in Shape::CLASSES {
            let n = batch.shapes.iter().filter(|&&s| s == shape).count();
            assert!((70..=130).contains(&n), "{shape}: {n} of 400");
        }
        for image in &batch.images {
            let border_lit = (0..32).any(|i| {
                [(0, i), (31, i), (i, 0), (i, 31)]
                    .iter()
                    .any(|&(x, y)| image.get_pixel(x, y).0.iter().any(|&v| v > 128))
            });
            assert!(!border_lit, "a shape touches the border");
        }
    }

    #[test]
    fn pixel_rows_are_channels_first() {
        let batch = ShapeBatch::draw(3, 16, 3);
        let rows = batch.pixel_rows();
        assert_eq!(rows.dim(), (3, 3 * 16 * 16));
        assert_eq!(
            rows.row(2).to_vec(),
            crate::basics::pixels::image_to_chw(&batch.images[2])
        );
    }

    #[test]
    fn colours_are_bright_and_saturated() {
        assert_eq!(bright_colour(0.0, 1.0), [255, 0, 0]);
        assert_eq!(bright_colour(120.0, 1.0), [0, 255, 0]);
        assert_eq!(bright_colour(240.0, 1.0), [0, 0, 255]);
    }
}

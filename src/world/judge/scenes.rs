//! The judge for captioned scenes: reads colour, shape, size and position of
//! each object from pixels alone. Colour by pixel rule (nearest named colour of
//! the bright pixels); size and position from each colour's pixel mask; shape by
//! redrawing every shape with the same area at the same place and keeping the
//! one whose mask overlaps best (intersection over union).

use image::RgbImage;
use tiny_skia::{Color, Pixmap};

use crate::world::scenes::{Colour, Position, Size};
use crate::world::shapes::{Shape, ShapeSpec};

/// What the judge saw of one object.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeenObject {
    pub colour: Colour,
    pub shape: Shape,
    pub size: Size,
    pub position: Position,
    /// Overlap of the best redraw with the object's pixels, 0…1.
    pub overlap: f32,
}

/// Pixels this far (sum of channel differences) from every named colour are
/// background or anti-aliased edges.
const COLOUR_DISTANCE: u32 = 90;

/// Objects smaller than this share of the canvas are noise.
const MIN_SHARE: f32 = 0.004;

/// A colour's pixels that no shape redraws this well are the anti-aliased rim
/// of another object (a yellow edge over black looks orange), not an object.
const MIN_OVERLAP: f32 = 0.5;

/// Every object in the picture, largest first.
pub fn judge_scene(image: &RgbImage) -> Vec<SeenObject> {
    let (w, h) = image.dimensions();
    let mut masks: Vec<(Colour, Vec<bool>)> = Colour::ALL
        .iter()
        .map(|&c| (c, vec![false; (w * h) as usize]))
        .collect();
    for (i, pixel) in image.pixels().enumerate() {
        let nearest = Colour::ALL
            .iter()
            .enumerate()
            .map(|(k, c)| (k, distance(pixel.0, c.rgb())))
            .min_by_key(|&(_, d)| d);
        if let Some((k, _)) = nearest.filter(|&(_, d)| d < COLOUR_DISTANCE) {
            masks[k].1[i] = true;
        }
    }
    let mut seen: Vec<(usize, SeenObject)> = masks
        .into_iter()
        .filter_map(|(colour, mask)| {
            let count = mask.iter().filter(|&&m| m).count();
            (count as f32 >= MIN_SHARE * (w * h) as f32)
                .then(|| (count, read_object(colour, &mask, w, h)))
        })
        .collect();
    seen.sort_by_key(|entry| std::cmp::Reverse(entry.0));
    seen.into_iter()
        .map(|(_, o)| o)
        .filter(|o| o.overlap >= MIN_OVERLAP)
        .collect()
}

fn distance(a: [u8; 3], b: [u8; 3]) -> u32 {
    (0..3).map(|c| u32::from(a[c].abs_diff(b[c]))).sum()
}

fn read_object(colour: Colour, mask: &[bool], w: u32, h: u32) -> SeenObject {
    let (mut sx, mut sy, mut n) = (0.0f32, 0.0f32, 0.0f32);
    for (i, _) in mask.iter().enumerate().filter(|(_, m)| **m) {
        sx += (i as u32 % w) as f32 + 0.5;
        sy += (i as u32 / w) as f32 + 0.5;
        n += 1.0;
    }
    let centre = (sx / n, sy / n);
    let cell = |v: f32, side: u32| ((3.0 * v / side as f32) as u8).min(2);
    let position = Position {
        column: cell(centre.0, w),
        row: cell(centre.1, h),
    };
    let mut best = (Shape::Circle, -1.0f32, 0.0f32);
    for shape in Shape::ALL {
        // The radius that gives this shape the object's area.
        let unit = area_of(shape, w, h, 0.25 * w as f32);
        let radius = 0.25 * w as f32 * (n / unit.max(1.0)).sqrt();
        let drawn = draw_mask(shape, centre, radius, w, h);
        let both = drawn.iter().zip(mask).filter(|(a, b)| **a && **b).count() as f32;
        let either =
            drawn.iter().zip(mask).filter(|(a, b)| **a || **b).count() as f32;
        let overlap = both / either.max(1.0);
        if overlap > best.1 {
            best = (shape, overlap, radius / w as f32);
        }
    }
    // Small radii are ≤ 0.12 of the canvas, large ≥ 0.17.
    let size = if best.2 < 0.145 {
        Size::Small
    } else {
        Size::Large
    };
    SeenObject {
        colour,
        shape: best.0,
        size,
        position,
        overlap: best.1,
    }
}

fn draw_mask(
    shape: Shape,
    centre: (f32, f32),
    radius: f32,
    w: u32,
    h: u32,
) -> Vec<bool> {
    let mut pixmap = Pixmap::new(w, h).expect("positive size");
    pixmap.fill(Color::BLACK);
    ShapeSpec {
        shape,
        centre,
        radius,
        colour: [255, 255, 255],
        background: [0, 0, 0],
    }
    .paint_on(&mut pixmap);
    pixmap.data().chunks_exact(4).map(|p| p[0] >= 128).collect()
}

fn area_of(shape: Shape, w: u32, h: u32, radius: f32) -> f32 {
    let centre = (w as f32 / 2.0, h as f32 / 2.0);
    draw_mask(shape, centre, radius, w, h)
        .iter()
        .filter(|&&m| m)
        .count() as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::scenes::{SceneBatch, Split};

    #[test]
    fn reads_every_object_of_fresh_scenes() {
        let batch = SceneBatch::draw(500, 64, Split::Train, 11);
        let (mut objects, mut colour, mut shape, mut size, mut position) =
            (0, 0, 0, 0, 0);
        for (scene, image) in batch.scenes.iter().zip(&batch.images) {
            let seen = judge_scene(image);
            assert_eq!(
                seen.len(),
                scene.objects.len(),
                "{scene:?} seen as {seen:?}"
            );
            for truth in &scene.objects {
                objects += 1;
                let Some(o) = seen.iter().find(|o| o.colour == truth.colour) else {
                    continue;
                };
                colour += 1;
                shape += usize::from(o.shape == truth.shape);
                size += usize::from(o.size == truth.size);
                position += usize::from(o.position == truth.position);
            }
        }
        let share = |k: usize| k as f32 / objects as f32;
        assert!(share(colour) >= 0.99, "colour {}", share(colour));
        assert!(share(shape) >= 0.99, "shape {}", share(shape));
        assert!(share(size) >= 0.99, "size {}", share(size));
        assert!(share(position) >= 0.99, "position {}", share(position));
    }

    #[test]
    fn reads_held_out_pairs_and_sees_nothing_in_an_empty_picture() {
        let batch = SceneBatch::draw(100, 64, Split::HeldOut, 12);
        for (scene, image) in batch.scenes.iter().zip(&batch.images) {
            let seen = judge_scene(image);
            let truth = scene.objects[0];
            assert_eq!(seen.len(), 1, "{scene:?}");
            assert_eq!((seen[0].colour, seen[0].shape), (truth.colour, truth.shape));
        }
        assert!(judge_scene(&RgbImage::new(64, 64)).is_empty());
    }
}

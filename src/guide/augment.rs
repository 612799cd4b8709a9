//! Augmentations of the cutouts beyond crop, flip and noise: warps (a
//! rotation, and the random affine and random perspective that nerdyrodent's
//! VQGAN-CLIP applies with kornia), colour changes (brightness, contrast,
//! saturation, hue) and random erasing. Each stays differentiable in the
//! picture: a warp is a gather with bilinear weights, a colour change is a
//! 3×3 matrix per cutout, and erasing is a mask.

use candle_core::Tensor;
use rand::Rng;

/// A plane projective map in pixel coordinates (pixel centres at 0, 1, …):
/// (x, y) ↦ ((a x + b y + c) / w, (d x + e y + f) / w), w = g x + h y + i.
/// Affine maps have (g, h, i) = (0, 0, 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Homography(pub [[f64; 3]; 3]);

impl Homography {
    pub const IDENTITY: Homography =
        Homography([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);

    /// Where (x, y) goes.
    pub fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        let m = &self.0;
        let w = m[2][0] * x + m[2][1] * y + m[2][2];
        (
            (m[0][0] * x + m[0][1] * y + m[0][2]) / w,
            (m[1][0] * x + m[1][1] * y + m[1][2]) / w,
        )
    }

    /// This map, then `next`.
    pub fn then(&self, next: &Homography) -> Homography {
        let (a, b) = (&next.0, &self.0);
        Homography(std::array::from_fn(|i| {
            std::array::from_fn(|j| (0..3).map(|k| a[i][k] * b[k][j]).sum())
        }))
    }

    /// The map back (the adjugate over the determinant); `None` when the map
    /// folds the plane onto a line.
    pub fn inverse(&self) -> Option<Homography> {
        let m = &self.0;
        let cofactor = |i: usize, j: usize| {
            let (r0, r1) = ((i + 1) % 3, (i + 2) % 3);
            let (c0, c1) = ((j + 1) % 3, (j + 2) % 3);
            m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0]
        };
        let determinant: f64 = (0..3).map(|j| m[0][j] * cofactor(0, j)).sum();
        (determinant.abs() > 1e-12).then(|| {
            Homography(std::array::from_fn(|i| {
                std::array::from_fn(|j| cofactor(j, i) / determinant)
            }))
        })
    }

    /// A rotation by `angle` (radians, clockwise on screen, where y points
    /// down) about `(centre, centre)`.
    pub fn rotation(angle: f64, centre: f64) -> Homography {
        let (sin, cos) = angle.sin_cos();
        Homography([
            [cos, -sin, centre - cos * centre + sin * centre],
            [sin, cos, centre - sin * centre - cos * centre],
            [0.0, 0.0, 1.0],
        ])
    }

    /// kornia's affine map about `(centre, centre)`: a shear along x by
    /// `shear` (radians), then a rotation by `angle`, then a shift.
    pub fn affine(
        angle: f64,
        shear: f64,
        shift: (f64, f64),
        centre: f64,
    ) -> Homography {
        let to_centre =
            Homography([[1.0, 0.0, -centre], [0.0, 1.0, -centre], [0.0, 0.0, 1.0]]);
        let sheared =
            Homography([[1.0, -shear.tan(), 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);
        let back = Homography([
            [1.0, 0.0, centre + shift.0],
            [0.0, 1.0, centre + shift.1],
            [0.0, 0.0, 1.0],
        ]);
        to_centre
            .then(&sheared)
            .then(&Homography::rotation(angle, 0.0))
            .then(&back)
    }

    /// The map that takes each of four points `from` to the matching point of
    /// `to` (eight equations in eight unknowns, solved by elimination).
    pub fn through(
        from: [(f64, f64); 4],
        to: [(f64, f64); 4],
    ) -> anyhow::Result<Homography> {
        let mut rows = [[0.0; 9]; 8];
        for (k, (&(x, y), &(u, v))) in from.iter().zip(&to).enumerate() {
            rows[2 * k] = [x, y, 1.0, 0.0, 0.0, 0.0, -x * u, -y * u, u];
            rows[2 * k + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -x * v, -y * v, v];
        }
        for column in 0..8 {
            let pivot = (column..8)
                .max_by(|&a, &b| {
                    rows[a][column].abs().total_cmp(&rows[b][column].abs())
                })
                .unwrap_or(column);
            anyhow::ensure!(
                rows[pivot][column].abs() > 1e-12,
                "no projective map takes {from:?} to {to:?}: three of the points are on a line"
            );
            rows.swap(column, pivot);
            let pivot_row = rows[column];
            for (_, row) in rows.iter_mut().enumerate().filter(|(k, _)| *k != column)
            {
                let factor = row[column] / pivot_row[column];
                for (entry, pivot_entry) in
                    row.iter_mut().zip(&pivot_row).skip(column)
                {
                    *entry -= factor * pivot_entry;
                }
            }
        }
        let h: Vec<f64> = (0..8).map(|k| rows[k][8] / rows[k][k]).collect();
        Ok(Homography([
            [h[0], h[1], h[2]],
            [h[3], h[4], h[5]],
            [h[6], h[7], 1.0],
        ]))
    }
}

/// What a warp reads outside the picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// The nearest edge pixel.
    Border,
    /// Black, as kornia's `padding_mode='zeros'`.
    Zeros,
}

// ANCHOR: warp
/// Warps each picture of `pictures` `[n, c, s, s]` by its own map: output
/// pixel (x, y) reads `sources[k].apply(x, y)` bilinearly from its four
/// neighbours. A gather and a weighted sum, so the gradient flows back
/// through the gather.
pub fn warp(
    pictures: &Tensor,
    sources: &[Homography],
    padding: Padding,
) -> anyhow::Result<Tensor> {
    let (n, channels, s, width) = pictures.dims4()?;
    anyhow::ensure!(
        s == width && sources.len() == n,
        "warp needs square pictures and one map each: got {:?} and {} maps",
        pictures.dims(),
        sources.len()
    );
    let mut warped = Vec::with_capacity(n);
    for (k, source) in sources.iter().enumerate() {
        // Four neighbours per output pixel: indices and bilinear weights.
        let (mut indices, mut weights) =
            (vec![0u32; 4 * s * s], vec![0f32; 4 * s * s]);
        for y in 0..s {
            for x in 0..s {
                let (sx, sy) = source.apply(x as f64, y as f64);
                for (corner, (index, weight)) in
                    neighbours(sx, sy, s, padding).into_iter().enumerate()
                {
                    indices[corner * s * s + y * s + x] = index;
                    weights[corner * s * s + y * s + x] = weight;
                }
            }
        }
        let device = pictures.device();
        let indices = Tensor::from_vec(indices, 4 * s * s, device)?;
        let weights = Tensor::from_vec(weights, (1, 4, s * s), device)?
            .to_dtype(pictures.dtype())?;
        let picture = pictures.get(k)?.reshape((channels, s * s))?;
        let corners =
            picture
                .index_select(&indices, 1)?
                .reshape((channels, 4, s * s))?;
        warped.push(
            corners
                .broadcast_mul(&weights)?
                .sum(1)?
                .reshape((channels, s, s))?,
        );
    }
    Ok(Tensor::stack(&warped, 0)?)
}
// ANCHOR_END: warp

/// The four pixels of an `s`×`s` picture around (x, y) and their bilinear
/// weights; a neighbour past the edge weighs nothing (with `Border` padding
/// that only happens where its weight is 0 already).
fn neighbours(x: f64, y: f64, s: usize, padding: Padding) -> [(u32, f32); 4] {
    let last = s as f64 - 1.0;
    let (x, y) = match padding {
        Padding::Border => (x.clamp(0.0, last), y.clamp(0.0, last)),
        Padding::Zeros => (x, y),
    };
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let corners = [
        (y0, x0, (1.0 - fx) * (1.0 - fy)),
        (y0, x0 + 1.0, fx * (1.0 - fy)),
        (y0 + 1.0, x0, (1.0 - fx) * fy),
        (y0 + 1.0, x0 + 1.0, fx * fy),
    ];
    corners.map(|(cy, cx, weight)| {
        let inside = (0.0..=last).contains(&cy) && (0.0..=last).contains(&cx);
        match inside && weight.is_finite() {
            true => ((cy as usize * s + cx as usize) as u32, weight as f32),
            false => (0, 0.0),
        }
    })
}

/// Rotates each picture of `pictures` `[n, 3, s, s]` about its centre by its
/// own angle (radians), reading past the edges as the nearest edge pixel.
pub fn rotate(pictures: &Tensor, angles: &[f64]) -> anyhow::Result<Tensor> {
    let centre = (pictures.dim(3)? as f64 - 1.0) / 2.0;
    let sources: Vec<Homography> = angles
        .iter()
        .map(|&angle| Homography::rotation(-angle, centre))
        .collect();
    warp(pictures, &sources, Padding::Border)
}

/// nerdyrodent's VQGAN-CLIP augmentations ('latest' cutouts, with kornia):
/// a random affine map, a random perspective and a colour jitter, each
/// applied to a cutout with probability `probability`, and random erasing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Distortions {
    /// The chance that each of the affine map, the perspective and the
    /// colour jitter is applied to a cutout.
    pub probability: f64,
    /// Largest rotation of the affine map, in degrees.
    pub degrees: f64,
    /// Largest shift of the affine map, as a fraction of the side.
    pub translate: f64,
    /// Largest shear along x of the affine map, in degrees.
    pub shear: f64,
    /// How far each corner may move inwards, as a fraction of half the side.
    pub perspective: f64,
    /// Largest change of brightness (added), contrast and saturation
    /// (factors 1 ± this), and hue (a turn about the grey axis by up to this
    /// fraction of a full turn).
    pub brightness: f32,
    pub contrast: f32,
    pub saturation: f32,
    pub hue: f32,
    /// The chance that a black rectangle erases part of the cutouts (the same
    /// for all of a step's cutouts, as nerdyrodent's `same_on_batch=True`),
    /// and the range of its area as a fraction of the cutout's.
    pub erase: f64,
    pub erase_area: (f64, f64),
}

impl Distortions {
    /// nerdyrodent's settings: `RandomAffine(degrees=15, translate=0.1,
    /// shear=5, p=0.7)`, `RandomPerspective(0.7, p=0.7)`, `ColorJitter(0.1,
    /// 0.1, 0.1, 0.1, p=0.7)`, `RandomErasing(scale=(.1, .4), p=0.7)`.
    pub fn nerdyrodent() -> Distortions {
        Distortions {
            probability: 0.7,
            degrees: 15.0,
            translate: 0.1,
            shear: 5.0,
            perspective: 0.7,
            brightness: 0.1,
            contrast: 0.1,
            saturation: 0.1,
            hue: 0.1,
            erase: 0.7,
            erase_area: (0.1, 0.4),
        }
    }

    /// `cuts` `[n, 3, s, s]`, distorted: warped, recoloured, then erased.
    pub fn apply(
        &self,
        cuts: &Tensor,
        rng: &mut impl Rng,
    ) -> anyhow::Result<Tensor> {
        self.check()?;
        let (n, _, s, _) = cuts.dims4()?;
        let sources: Vec<Homography> =
            (0..n).map(|_| self.draw_map(s, rng)).collect();
        let cuts = warp(cuts, &sources, Padding::Zeros)?;
        let colours: Vec<ColourChange> = (0..n)
            .map(|_| match rng.random_bool(self.probability) {
                true => self.draw_colour(rng),
                false => ColourChange::NONE,
            })
            .collect();
        let cuts = recolour(&cuts, &colours)?;
        match rng.random_bool(self.erase) {
            true => erase(&cuts, self.draw_rectangle(s, rng)),
            false => Ok(cuts),
        }
    }

    /// Chances in [0, 1], largest changes finite and not negative, and an
    /// erased area within the cutout.
    fn check(&self) -> anyhow::Result<()> {
        for (name, chance) in
            [("probability", self.probability), ("erase", self.erase)]
        {
            anyhow::ensure!(
                (0.0..=1.0).contains(&chance),
                "Distortions::{name} is a chance, in [0, 1]; got {chance}"
            );
        }
        let changes = [
            ("degrees", self.degrees),
            ("translate", self.translate),
            ("shear", self.shear),
            ("perspective", self.perspective),
            ("brightness", f64::from(self.brightness)),
            ("contrast", f64::from(self.contrast)),
            ("saturation", f64::from(self.saturation)),
            ("hue", f64::from(self.hue)),
        ];
        for (name, change) in changes {
            anyhow::ensure!(
                change.is_finite() && change >= 0.0,
                "Distortions::{name} is a largest change, finite and not negative; got {change}"
            );
        }
        let (smallest, largest) = self.erase_area;
        anyhow::ensure!(
            0.0 < smallest && smallest <= largest && largest <= 1.0,
            "Distortions::erase_area is (smallest, largest) fractions of the cutout, \
             0 < smallest ≤ largest ≤ 1; got {:?}",
            self.erase_area
        );
        Ok(())
    }

    /// Where each output pixel reads from: the affine map and then the
    /// perspective, each with probability `probability`, composed backwards.
    fn draw_map(&self, s: usize, rng: &mut impl Rng) -> Homography {
        let centre = (s as f64 - 1.0) / 2.0;
        let mut forward = Homography::IDENTITY;
        if rng.random_bool(self.probability) {
            let mut symmetric = |largest: f64| rng.random_range(-largest..=largest);
            let angle = symmetric(self.degrees).to_radians();
            let shear = symmetric(self.shear).to_radians();
            let shift = (
                symmetric(self.translate) * s as f64,
                symmetric(self.translate) * s as f64,
            );
            forward = Homography::affine(angle, shear, shift, centre);
        }
        if rng.random_bool(self.probability) {
            // kornia: each corner moves inwards by up to `perspective` of half the side.
            let last = s as f64 - 1.0;
            let corners = [(0.0, 0.0), (last, 0.0), (last, last), (0.0, last)];
            let inwards = [(1.0, 1.0), (-1.0, 1.0), (-1.0, -1.0), (1.0, -1.0)];
            let reach = self.perspective * s as f64 / 2.0;
            let moved = std::array::from_fn(|k| {
                let (x, y) = corners[k];
                let (dx, dy) = inwards[k];
                (
                    x + dx * reach * rng.random::<f64>(),
                    y + dy * reach * rng.random::<f64>(),
                )
            });
            if let Ok(perspective) = Homography::through(corners, moved) {
                forward = forward.then(&perspective);
            }
        }
        forward.inverse().unwrap_or(Homography::IDENTITY)
    }

    fn draw_colour(&self, rng: &mut impl Rng) -> ColourChange {
        let mut symmetric = |largest: f32| rng.random_range(-largest..=largest);
        ColourChange {
            brightness: symmetric(self.brightness),
            contrast: 1.0 + symmetric(self.contrast),
            saturation: 1.0 + symmetric(self.saturation),
            hue: symmetric(self.hue),
        }
    }

    /// kornia's rectangle: an area drawn from `erase_area`, an aspect ratio
    /// from [0.3, 1/0.3] (log-uniform), a place at random.
    fn draw_rectangle(&self, s: usize, rng: &mut impl Rng) -> Rectangle {
        let (smallest, largest) = self.erase_area;
        let area = rng.random_range(smallest..=largest) * (s * s) as f64;
        let ratio = rng.random_range(0.3f64.ln()..=(1.0f64 / 0.3).ln()).exp();
        let height = ((area * ratio).sqrt().round() as usize).clamp(1, s);
        let width = ((area / ratio).sqrt().round() as usize).clamp(1, s);
        Rectangle {
            y: rng.random_range(0..=s - height),
            x: rng.random_range(0..=s - width),
            height,
            width,
        }
    }
}

/// One cutout's colour change: contrast and saturation factors, a hue turn
/// (a fraction of a full turn) and a brightness shift.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColourChange {
    pub brightness: f32,
    pub contrast: f32,
    pub saturation: f32,
    pub hue: f32,
}

impl ColourChange {
    pub const NONE: ColourChange = ColourChange {
        brightness: 0.0,
        contrast: 1.0,
        saturation: 1.0,
        hue: 0.0,
    };

    // ANCHOR: colour_matrix
    /// The 3×3 matrix that makes the change (the brightness is added after):
    /// a turn by the hue about the grey axis (1, 1, 1)/√3, which keeps greys
    /// grey; a blend with the grey of the same luma by the saturation; a
    /// scaling by the contrast.
    pub fn matrix(&self) -> [[f32; 3]; 3] {
        let angle = self.hue * std::f32::consts::TAU;
        let (sin, cos) = angle.sin_cos();
        let third = 1.0 / 3.0;
        let axis = sin / 3f32.sqrt();
        // Rodrigues' rotation about u = (1, 1, 1)/√3:
        // cos·I + (1 − cos)·uuᵀ + sin·[u]×.
        let turn = [
            [
                cos + (1.0 - cos) * third,
                (1.0 - cos) * third - axis,
                (1.0 - cos) * third + axis,
            ],
            [
                (1.0 - cos) * third + axis,
                cos + (1.0 - cos) * third,
                (1.0 - cos) * third - axis,
            ],
            [
                (1.0 - cos) * third - axis,
                (1.0 - cos) * third + axis,
                cos + (1.0 - cos) * third,
            ],
        ];
        let luma = [0.299, 0.587, 0.114];
        // Saturation: s·rgb + (1 − s)·(the grey of the same luma).
        let s = self.saturation;
        let saturate =
            |k: usize, j: usize| if k == j { s } else { 0.0 } + (1.0 - s) * luma[j];
        std::array::from_fn(|i| {
            std::array::from_fn(|j| {
                self.contrast
                    * (0..3).map(|k| turn[i][k] * saturate(k, j)).sum::<f32>()
            })
        })
    }
    // ANCHOR_END: colour_matrix
}

/// Each cutout of `cuts` `[n, 3, s, s]` with its own colour change.
pub fn recolour(cuts: &Tensor, changes: &[ColourChange]) -> anyhow::Result<Tensor> {
    let (n, channels, s, width) = cuts.dims4()?;
    anyhow::ensure!(
        channels == 3 && changes.len() == n,
        "recolour needs RGB pictures and one change each: got {:?} and {} changes",
        cuts.dims(),
        changes.len()
    );
    let matrices: Vec<f32> =
        changes.iter().flat_map(|c| c.matrix().concat()).collect();
    let shifts: Vec<f32> = changes.iter().flat_map(|c| [c.brightness; 3]).collect();
    let device = cuts.device();
    let matrices =
        Tensor::from_vec(matrices, (n, 3, 3), device)?.to_dtype(cuts.dtype())?;
    let shifts =
        Tensor::from_vec(shifts, (n, 3, 1), device)?.to_dtype(cuts.dtype())?;
    let pixels = cuts.reshape((n, 3, s * width))?;
    Ok(matrices
        .matmul(&pixels)?
        .broadcast_add(&shifts)?
        .reshape((n, 3, s, width))?)
}

/// A rectangle of pixels: top-left corner and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rectangle {
    pub y: usize,
    pub x: usize,
    pub height: usize,
    pub width: usize,
}

/// `cuts` `[n, c, s, s]` with `rectangle` black in every one of them.
pub fn erase(cuts: &Tensor, rectangle: Rectangle) -> anyhow::Result<Tensor> {
    let (_, _, s, width) = cuts.dims4()?;
    let Rectangle {
        y,
        x,
        height,
        width: w,
    } = rectangle;
    anyhow::ensure!(
        y + height <= s && x + w <= width,
        "a {w}×{height} rectangle at ({x}, {y}) does not fit a {width}×{s} picture"
    );
    let mask: Vec<f32> = (0..s * width)
        .map(|at| {
            let (row, column) = (at / width, at % width);
            let inside =
                (y..y + height).contains(&row) && (x..x + w).contains(&column);
            if inside { 0.0 } else { 1.0 }
        })
        .collect();
    let mask = Tensor::from_vec(mask, (1, 1, s, width), cuts.device())?
        .to_dtype(cuts.dtype())?;
    Ok(cuts.broadcast_mul(&mask)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::compare::max_difference;
    use candle_core::Device;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn rotating_by_nothing_changes_nothing_and_a_quarter_turn_moves_columns_to_rows()
    -> anyhow::Result<()> {
        let pictures = Tensor::rand(0f32, 1.0, (2, 3, 7, 7), &Device::Cpu)?;
        let same = rotate(&pictures, &[0.0, 0.0])?;
        let difference = max_difference(&same, &pictures)?;
        assert!(difference < 1e-6, "{difference}");
        // Rotating by +90° reads output (y, x) from input (s − 1 − x, y).
        let quarter = rotate(&pictures, &[std::f64::consts::FRAC_PI_2; 2])?;
        let input: Vec<f32> = pictures.flatten_all()?.to_vec1()?;
        let turned: Vec<f32> = quarter.flatten_all()?.to_vec1()?;
        let mut difference = 0f32;
        for plane in 0..6 {
            for y in 0..7 {
                for x in 0..7 {
                    let want = input[plane * 49 + (6 - x) * 7 + y];
                    difference = difference
                        .max((turned[plane * 49 + y * 7 + x] - want).abs());
                }
            }
        }
        let back = rotate(&quarter, &[-std::f64::consts::FRAC_PI_2; 2])?;
        let round_trip = max_difference(&back, &pictures)?;
        assert!(
            difference < 1e-5 && round_trip < 1e-5,
            "{difference} {round_trip}"
        );
        let error = rotate(&pictures, &[0.0]).unwrap_err().to_string();
        assert!(error.contains("1 maps"), "{error}");
        Ok(())
    }

    #[test]
    fn a_map_through_four_points_takes_them_there_and_its_inverse_brings_them_back()
    -> anyhow::Result<()> {
        let from = [(0.0, 0.0), (9.0, 0.0), (9.0, 9.0), (0.0, 9.0)];
        let to = [(1.0, 2.0), (8.0, 0.5), (7.0, 9.0), (0.5, 6.0)];
        let map = Homography::through(from, to)?;
        let back = map.inverse().expect("invertible");
        for (&(x, y), &(u, v)) in from.iter().zip(&to) {
            let (mx, my) = map.apply(x, y);
            let (bx, by) = back.apply(u, v);
            assert!(
                (mx - u).abs() + (my - v).abs() < 1e-9,
                "{x},{y} -> {mx},{my}"
            );
            assert!(
                (bx - x).abs() + (by - y).abs() < 1e-9,
                "{u},{v} -> {bx},{by}"
            );
        }
        // Straight lines stay straight: the midpoint of an edge lands on the
        // image of that edge.
        let (mx, my) = map.apply(4.5, 0.0);
        let cross = (to[1].0 - to[0].0) * (my - to[0].1)
            - (to[1].1 - to[0].1) * (mx - to[0].0);
        assert!(cross.abs() < 1e-9, "{cross}");
        assert_eq!(
            Homography::affine(0.0, 0.0, (0.0, 0.0), 4.5),
            Homography::IDENTITY
        );
        let error = Homography::through(
            from,
            [(0.0, 0.0), (1.0, 1.0), (2.0, 2.0), (3.0, 3.0)],
        );
        assert!(error.unwrap_err().to_string().contains("on a line"));
        Ok(())
    }

    #[test]
    fn a_shift_with_zero_padding_brings_in_black_and_moves_the_rest()
    -> anyhow::Result<()> {
        let pictures = Tensor::rand(0f32, 1.0, (1, 3, 5, 5), &Device::Cpu)?;
        // Output (x, y) reads input (x − 2, y): the picture moves two pixels right.
        let left = Homography([[1.0, 0.0, -2.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);
        let moved = warp(&pictures, &[left], Padding::Zeros)?;
        let black = moved
            .narrow(3, 0, 2)?
            .abs()?
            .max_all()?
            .to_scalar::<f32>()?;
        let kept =
            max_difference(&moved.narrow(3, 2, 3)?, &pictures.narrow(3, 0, 3)?)?;
        assert!(black == 0.0 && kept < 1e-6, "{black} {kept}");
        Ok(())
    }

    #[test]
    fn a_hue_turn_keeps_greys_and_a_third_of_a_turn_makes_red_green() {
        let apply = |m: [[f32; 3]; 3], rgb: [f32; 3]| -> [f32; 3] {
            std::array::from_fn(|i| (0..3).map(|j| m[i][j] * rgb[j]).sum())
        };
        let close = |a: [f32; 3], b: [f32; 3]| {
            a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-5)
        };
        let turn = |hue| {
            ColourChange {
                hue,
                ..ColourChange::NONE
            }
            .matrix()
        };
        for hue in [0.05, 0.3, -0.2] {
            assert!(close(apply(turn(hue), [0.4; 3]), [0.4; 3]), "{hue}");
        }
        assert!(close(
            apply(turn(1.0 / 3.0), [1.0, 0.0, 0.0]),
            [0.0, 1.0, 0.0]
        ));
        assert!(close(apply(turn(1.0), [0.2, 0.5, 0.9]), [0.2, 0.5, 0.9]));
        // No saturation leaves the grey of the same luma; contrast scales.
        let grey = ColourChange {
            saturation: 0.0,
            ..ColourChange::NONE
        }
        .matrix();
        let luma = 0.299 * 0.2 + 0.587 * 0.5 + 0.114 * 0.9;
        assert!(close(apply(grey, [0.2, 0.5, 0.9]), [luma; 3]));
        let doubled = ColourChange {
            contrast: 2.0,
            ..ColourChange::NONE
        }
        .matrix();
        assert!(close(apply(doubled, [0.2, 0.5, 0.9]), [0.4, 1.0, 1.8]));
    }

    #[test]
    fn recolouring_and_erasing_change_each_cutout_as_asked() -> anyhow::Result<()> {
        let cuts = Tensor::rand(0f32, 1.0, (2, 3, 6, 6), &Device::Cpu)?;
        let brighter = ColourChange {
            brightness: 0.25,
            ..ColourChange::NONE
        };
        let changed = recolour(&cuts, &[ColourChange::NONE, brighter])?;
        assert!(max_difference(&changed.get(0)?, &cuts.get(0)?)? < 1e-6);
        assert!(max_difference(&(changed.get(1)? - 0.25)?, &cuts.get(1)?)? < 1e-6);
        let hole = Rectangle {
            y: 1,
            x: 2,
            height: 3,
            width: 2,
        };
        let erased = erase(&cuts, hole)?;
        let inside = erased.narrow(2, 1, 3)?.narrow(3, 2, 2)?;
        assert_eq!(inside.abs()?.max_all()?.to_scalar::<f32>()?, 0.0);
        let outside = (erased.narrow(2, 4, 2)? - cuts.narrow(2, 4, 2)?)?;
        assert_eq!(outside.abs()?.max_all()?.to_scalar::<f32>()?, 0.0);
        let error = erase(&cuts, Rectangle { y: 5, ..hole })
            .unwrap_err()
            .to_string();
        assert!(error.contains("does not fit"), "{error}");
        Ok(())
    }

    #[test]
    fn nerdyrodents_distortions_are_seeded_change_the_cutouts_and_refuse_bad_settings()
    -> anyhow::Result<()> {
        let cuts = Tensor::rand(0f32, 1.0, (8, 3, 16, 16), &Device::Cpu)?;
        let distortions = Distortions::nerdyrodent();
        let distort =
            |seed| distortions.apply(&cuts, &mut ChaCha8Rng::seed_from_u64(seed));
        let (a, b, other) = (distort(3)?, distort(3)?, distort(4)?);
        assert_eq!(max_difference(&a, &b)?, 0.0);
        assert!(max_difference(&a, &other)? > 0.1);
        let none = Distortions {
            probability: 0.0,
            erase: 0.0,
            ..distortions
        };
        let kept = none.apply(&cuts, &mut ChaCha8Rng::seed_from_u64(3))?;
        assert!(max_difference(&kept, &cuts)? < 1e-6);
        let bad = Distortions {
            probability: 1.5,
            ..distortions
        };
        let error = bad
            .apply(&cuts, &mut ChaCha8Rng::seed_from_u64(3))
            .unwrap_err();
        assert!(
            error.to_string().contains("probability is a chance"),
            "{error}"
        );
        let bad = Distortions {
            erase_area: (0.4, 0.1),
            ..distortions
        };
        let error = bad
            .apply(&cuts, &mut ChaCha8Rng::seed_from_u64(3))
            .unwrap_err();
        assert!(error.to_string().contains("erase_area"), "{error}");
        Ok(())
    }
}

//! Checks for the `cutouts` exercise: small matrices worked out by hand, the
//! properties every resampling matrix must have, what a cutout of a picture of
//! constant blocks must show, and the course's own `resample_matrix`.

#[cfg_attr(not(feature = "solutions"), path = "../exercises/cutouts.rs")]
#[cfg_attr(feature = "solutions", path = "../solutions/cutouts.rs")]
mod exercise;

use candle_core::{Device, Tensor};
use exercise::resample_matrix;

/// Your matrix as rows, after checking it has out × full entries.
fn matrix(
    full: usize,
    offset: usize,
    size: usize,
    out: usize,
    flip: bool,
) -> Vec<Vec<f32>> {
    let m = resample_matrix(full, offset, size, out, flip);
    assert_eq!(
        m.len(),
        out * full,
        "resample_matrix({full}, {offset}, {size}, {out}, {flip}) must be out × full = \
         {out} × {full} = {} numbers (one row per output pixel, one column per pixel of \
         the full line), yours has {}",
        out * full,
        m.len()
    );
    m.chunks(full).map(<[f32]>::to_vec).collect()
}

fn close(a: &[Vec<f32>], b: &[Vec<f32>]) -> bool {
    a.iter()
        .flatten()
        .zip(b.iter().flatten())
        .all(|(x, y)| (x - y).abs() < 1e-6)
}

#[test]
fn small_cases_worked_out_by_hand() {
    let (h, t) = (0.5f32, 1.0f32 / 3.0);
    let cases = [
        (
            "4 pixels at offset 1 of a line of 6 → 2: each output averages a pair",
            (6, 1, 4, 2, false),
            vec![
                vec![0.0, h, h, 0.0, 0.0, 0.0],
                vec![0.0, 0.0, 0.0, h, h, 0.0],
            ],
        ),
        (
            "3 pixels → 2: each output spans 1.5 pixels and shares the middle one",
            (3, 0, 3, 2, false),
            vec![vec![2.0 * t, t, 0.0], vec![0.0, t, 2.0 * t]],
        ),
        (
            "3 pixels → 3 flipped: the identity with its rows in reverse order",
            (3, 0, 3, 3, true),
            vec![
                vec![0.0, 0.0, 1.0],
                vec![0.0, 1.0, 0.0],
                vec![1.0, 0.0, 0.0],
            ],
        ),
        (
            "2 pixels at offset 2 of a line of 5 → 4: each pixel repeated twice",
            (5, 2, 2, 4, false),
            vec![
                vec![0.0, 0.0, 1.0, 0.0, 0.0],
                vec![0.0, 0.0, 1.0, 0.0, 0.0],
                vec![0.0, 0.0, 0.0, 1.0, 0.0],
                vec![0.0, 0.0, 0.0, 1.0, 0.0],
            ],
        ),
        (
            "4 pixels at offset 0 of a line of 4 → 2 flipped: the pair averages, second pair first",
            (4, 0, 4, 2, true),
            vec![vec![0.0, 0.0, h, h], vec![h, h, 0.0, 0.0]],
        ),
    ];
    for (what, (full, offset, size, out, flip), expected) in cases {
        let yours = matrix(full, offset, size, out, flip);
        assert!(
            close(&yours, &expected),
            "{what}: resample_matrix({full}, {offset}, {size}, {out}, {flip}) should be \
             {expected:?} (one row per output pixel), yours is {yours:?}"
        );
    }
}

#[test]
fn rows_are_averages_of_the_crop_only() {
    for full in 1..=9 {
        for offset in 0..full {
            for size in 1..=full - offset {
                for out in 1..=8 {
                    let plain = matrix(full, offset, size, out, false);
                    for (o, row) in plain.iter().enumerate() {
                        let sum: f32 = row.iter().sum();
                        assert!(
                            (sum - 1.0).abs() < 1e-5,
                            "resample_matrix({full}, {offset}, {size}, {out}, false): row {o} \
                             sums to {sum}, but an average's weights sum to 1 — divide each \
                             overlap by s = size / out. The row: {row:?}"
                        );
                        for (i, &w) in row.iter().enumerate() {
                            assert!(
                                (-1e-7..=1.0 + 1e-6).contains(&w),
                                "resample_matrix({full}, {offset}, {size}, {out}, false): \
                                 weight [{o}][{i}] is {w}, but an average's weights lie in \
                                 [0, 1] (an overlap is never negative). The row: {row:?}"
                            );
                            assert!(
                                w == 0.0 || (offset..offset + size).contains(&i),
                                "resample_matrix({full}, {offset}, {size}, {out}, false): \
                                 row {o} uses pixel {i} of the line (weight {w}), but the \
                                 crop is pixels {offset}..{} — crop pixel i is column \
                                 offset + i. The row: {row:?}",
                                offset + size
                            );
                        }
                    }
                    let flipped = matrix(full, offset, size, out, true);
                    let reversed: Vec<Vec<f32>> =
                        plain.iter().rev().cloned().collect();
                    assert!(
                        close(&flipped, &reversed),
                        "resample_matrix({full}, {offset}, {size}, {out}, true) must be the \
                         unflipped rows in reverse order: {reversed:?}, yours is {flipped:?}"
                    );
                }
            }
        }
    }
}

/// An 8×8 picture of constant 2×2 blocks: block (by, bx) holds by·4 + bx.
fn block_value(y: usize, x: usize) -> f32 {
    ((y / 2) * 4 + x / 2) as f32
}

#[test]
fn a_cutout_of_a_block_picture_shows_its_blocks() {
    let device = Device::Cpu;
    let pixels: Vec<f32> = (0..64).map(|k| block_value(k / 8, k % 8)).collect();
    let image = Tensor::from_vec(pixels, (8, 8), &device).unwrap();
    let r = |offset, size, out, flip| {
        let m = matrix(8, offset, size, out, flip);
        Tensor::from_vec(m.concat(), (out, 8), &device).unwrap()
    };
    // (what, (y, rows taken, rows out), (x, columns taken, columns out, flip), expected)
    type Case = (
        &'static str,
        (usize, usize, usize),
        (usize, usize, usize, bool),
        Vec<Vec<f32>>,
    );
    let cases: [Case; 5] = [
        (
            "rows 2–5, columns 4–7, halved: blocks (1, 2), (1, 3), (2, 2), (2, 3)",
            (2, 4, 2),
            (4, 4, 2, false),
            vec![vec![6.0, 7.0], vec![10.0, 11.0]],
        ),
        (
            "the whole picture halved: the 4×4 block values",
            (0, 8, 4),
            (0, 8, 4, false),
            (0..4)
                .map(|by| (0..4).map(|bx| (by * 4 + bx) as f32).collect())
                .collect(),
        ),
        (
            "rows 2–5, columns 4–7, halved and mirrored: the blocks right to left",
            (2, 4, 2),
            (4, 4, 2, true),
            vec![vec![7.0, 6.0], vec![11.0, 10.0]],
        ),
        (
            "rows 0–3 halved, columns 2–7 halved: a 2×3 cutout",
            (0, 4, 2),
            (2, 6, 3, false),
            vec![vec![1.0, 2.0, 3.0], vec![5.0, 6.0, 7.0]],
        ),
        (
            "rows 1–4, columns 3–6, not resized: the pixels themselves",
            (1, 4, 4),
            (3, 4, 4, false),
            (1..5)
                .map(|y| (3..7).map(|x| block_value(y, x)).collect())
                .collect(),
        ),
    ];
    for (what, (y, rows, rows_out), (x, columns, columns_out, flip), expected) in
        cases
    {
        let r_y = r(y, rows, rows_out, false);
        let r_x = r(x, columns, columns_out, flip);
        let cut = r_y
            .matmul(&image)
            .unwrap()
            .matmul(&r_x.t().unwrap())
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert!(
            close(&cut, &expected),
            "a picture of constant 2×2 blocks (block (by, bx) = by·4 + bx), cutout \
             R_y · image · R_xᵀ of {what}: expected {expected:?}, your matrices give {cut:?}"
        );
    }
}

#[test]
fn equals_the_courses_resample_matrix() {
    for full in 1..=12 {
        for offset in 0..full {
            for size in 1..=full - offset {
                for out in 1..=10 {
                    for flip in [false, true] {
                        let yours = matrix(full, offset, size, out, flip);
                        let course: Vec<Vec<f32>> =
                            clip_art::guide::cutouts::resample_matrix(
                                full, offset, size, out, flip,
                            )
                            .chunks(full)
                            .map(<[f32]>::to_vec)
                            .collect();
                        assert!(
                            close(&yours, &course),
                            "resample_matrix({full}, {offset}, {size}, {out}, {flip}): the \
                             course's matrix is {course:?}, yours is {yours:?}"
                        );
                    }
                }
            }
        }
    }
}

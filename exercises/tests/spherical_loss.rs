//! Checks for the `spherical_loss` exercise: against a hand computation in plain f64
//! arithmetic with the standard library's arcsin, the angles it must give, finite
//! differences, and the crate's own guidance loss.

#[cfg_attr(not(feature = "solutions"), path = "../exercises/spherical_loss.rs")]
#[cfg_attr(feature = "solutions", path = "../solutions/spherical_loss.rs")]
mod exercise;

use std::f64::consts::PI;

use candle_core::{DType, Device, Tensor, Var};
use exercise::spherical_distance;

/// Your distances as plain numbers, after checking the shape is `[n, m]`.
fn distances(a: &Tensor, b: &Tensor) -> Vec<Vec<f64>> {
    let (n, m) = (a.dim(0).unwrap(), b.dim(0).unwrap());
    let d = spherical_distance(a, b).unwrap();
    assert_eq!(
        d.dims(),
        &[n, m],
        "a is {:?} and b is {:?}: the result needs one number per (row of a, row of b) \
         pair, [n, m] = [{n}, {m}] — compare every row of a with every row of b (â · b̂ᵀ)",
        a.dims(),
        b.dims()
    );
    d.to_dtype(DType::F64).unwrap().to_vec2().unwrap()
}

/// 2·arcsin(‖x̂ − ŷ‖ / 2)² with plain numbers: the chord from the difference itself,
/// not from the dot product, and the standard library's arcsin.
fn by_hand(x: &[f64], y: &[f64]) -> f64 {
    let norm = |v: &[f64]| v.iter().map(|e| e * e).sum::<f64>().sqrt();
    let (nx, ny) = (norm(x), norm(y));
    let chord = x
        .iter()
        .zip(y)
        .map(|(p, q)| (p / nx - q / ny).powi(2))
        .sum::<f64>()
        .sqrt();
    2.0 * (chord / 2.0).asin().powi(2)
}

/// Deterministic, irregular values for an `[rows, cols]` matrix.
fn wiggly(rows: usize, cols: usize, seed: f64) -> Tensor {
    let values: Vec<f64> = (0..rows * cols)
        .map(|k| {
            (k as f64 * 1.37 + seed).sin()
                + 0.3 * (k as f64 * 0.71 + 2.0 * seed).cos()
        })
        .collect();
    Tensor::from_vec(values, (rows, cols), &Device::Cpu).unwrap()
}

#[test]
fn equals_a_hand_computation_with_std_arcsin() {
    let device = Device::Cpu;
    for _ in 0..5 {
        let a = Tensor::randn(0f64, 1.0, (3, 5), &device).unwrap();
        let b = Tensor::randn(0f64, 1.0, (2, 5), &device).unwrap();
        let yours = distances(&a, &b);
        let (rows_a, rows_b) =
            (a.to_vec2::<f64>().unwrap(), b.to_vec2::<f64>().unwrap());
        for (i, x) in rows_a.iter().enumerate() {
            for (j, y) in rows_b.iter().enumerate() {
                let expected = by_hand(x, y);
                assert!(
                    (yours[i][j] - expected).abs() < 1e-5,
                    "row {i} of a = {x:?}, row {j} of b = {y:?}: 2·arcsin(‖â − b̂‖/2)² is \
                     {expected:.8}, yours gives {:.8} at [{i}][{j}]",
                    yours[i][j]
                );
            }
        }
    }
}

/// What common slips give at angle θ, to name the slip when the value is wrong.
fn diagnose(yours: f64, theta: f64) -> &'static str {
    let chord = 2.0 * (theta / 2.0).sin();
    let near = |v: f64| (yours - v).abs() < 1e-4;
    if near(theta * theta / 4.0) {
        " — that is θ²/4, half the loss: multiply arcsin(‖â − b̂‖/2)² by 2"
    } else if near(theta) {
        " — that is 2·arcsin(‖â − b̂‖/2) = θ itself: square the arcsin before multiplying by 2"
    } else if near(theta * theta) {
        " — that is θ² = (2·arcsin)²: square the arcsin first, then multiply by 2"
    } else if near(chord * chord / 2.0) {
        " — that is 2·(‖â − b̂‖/2)² without the arcsin: take arcsin of the half chord"
    } else if near(2.0 * (chord.min(1.0)).asin().powi(2)) {
        " — that is the arcsin of the whole chord: divide ‖â − b̂‖ by 2 first"
    } else {
        ""
    }
}

#[test]
fn is_half_the_squared_angle_at_known_angles() {
    let device = Device::Cpu;
    // One row of a, and rows of b at 0°, 60°, 90° and 180° from it, all of different lengths.
    let a = Tensor::new(&[[3.0f64, 0.0, 0.0]], &device).unwrap();
    let b = Tensor::new(
        &[
            [2.0f64, 0.0, 0.0],
            [1.0, 3f64.sqrt(), 0.0],
            [0.0, 0.5, 0.0],
            [-4.0, 0.0, 0.0],
        ],
        &device,
    )
    .unwrap();
    let yours = distances(&a, &b);
    for (j, (degrees, theta)) in
        [(0, 0.0), (60, PI / 3.0), (90, PI / 2.0), (180, PI)]
            .into_iter()
            .enumerate()
    {
        let expected = theta * theta / 2.0;
        assert!(
            yours[0][j].is_finite(),
            "at {degrees}° your distance is {} — clamp 2 − 2·â·b̂ to [0, 4] before the \
             square root: rounding can make it slightly negative",
            yours[0][j]
        );
        assert!(
            (yours[0][j] - expected).abs() < 1e-6,
            "two vectors {degrees}° apart: the loss is θ²/2 = {expected:.8}, yours gives \
             {:.8}{}",
            yours[0][j],
            diagnose(yours[0][j], theta)
        );
    }
}

#[test]
fn the_same_direction_gives_zero_not_nan() {
    // b's rows are a's rows stretched: every diagonal entry is the distance of a
    // direction from itself. In floating point â·b̂ can come out a hair above 1.
    let device = Device::Cpu;
    for dtype in [DType::F64, DType::F32] {
        let a = Tensor::randn(0f64, 1.0, (32, 7), &device).unwrap();
        let b = (&a * 2.5).unwrap();
        let yours =
            distances(&a.to_dtype(dtype).unwrap(), &b.to_dtype(dtype).unwrap());
        for (i, row) in yours.iter().enumerate() {
            assert!(
                row[i].is_finite() && row[i].abs() < 1e-5,
                "row {i} of a and row {i} of b point the same way ({dtype:?}): the distance \
                 must be 0, yours gives {} — clamp 2 − 2·â·b̂ to [0, 4] before the square \
                 root, rounding can push it below 0",
                row[i]
            );
        }
    }
}

#[test]
fn only_directions_matter() {
    let device = Device::Cpu;
    let a = wiggly(4, 6, 0.3);
    let b = wiggly(3, 6, 2.2);
    let before = distances(&a, &b);
    let row_scales =
        |s: &[f64]| Tensor::new(s, &device).unwrap().unsqueeze(1).unwrap();
    let longer_a = a
        .broadcast_mul(&row_scales(&[4.0, 1.0, 0.25, 10.0]))
        .unwrap();
    let shorter_b = b.broadcast_mul(&row_scales(&[0.1, 1.0, 7.0])).unwrap();
    let after = distances(&longer_a, &shorter_b);
    for i in 0..4 {
        for j in 0..3 {
            assert!(
                (before[i][j] - after[i][j]).abs() < 1e-9,
                "stretching some rows changed distance [{i}][{j}] from {} to {}: scale every \
                 row (not every column, not the whole matrix) to length 1 first",
                before[i][j],
                after[i][j]
            );
        }
    }
}

#[test]
fn the_gradient_matches_finite_differences() {
    let device = Device::Cpu;
    // Angles well away from 0 and 180°, where the derivative of θ²/2 in the
    // chord is singular.
    let a = Var::from_tensor(&wiggly(3, 4, 0.4)).unwrap();
    let b = wiggly(2, 4, 1.9);
    let weights = wiggly(3, 2, 4.1);
    let objective = |x: &Tensor| {
        (spherical_distance(x, &b).unwrap() * &weights)
            .unwrap()
            .sum_all()
            .unwrap()
    };
    for x in a.as_tensor().to_vec2::<f64>().unwrap() {
        for y in b.to_vec2::<f64>().unwrap() {
            let angle = (2.0 * by_hand(&x, &y)).sqrt();
            assert!(
                angle > 0.1 && angle < PI - 0.1,
                "the test's own inputs are too close to 0° or 180° ({angle} rad)"
            );
        }
    }
    let grads = objective(a.as_tensor()).backward().unwrap();
    let analytic: Vec<f64> = grads
        .get(&a)
        .unwrap_or_else(|| {
            panic!(
                "no gradient reached a: build the distance from candle operations on the \
                 tensors you are given, not from numbers read out of them"
            )
        })
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let step = 1e-6;
    for (k, &g) in analytic.iter().enumerate() {
        let mut bump = vec![0.0; a.elem_count()];
        bump[k] = step;
        let bump = Tensor::from_vec(bump, a.shape(), &device).unwrap();
        let at = |x: Tensor| objective(&x).to_scalar::<f64>().unwrap();
        let numeric = (at((a.as_tensor() + &bump).unwrap())
            - at((a.as_tensor() - &bump).unwrap()))
            / (2.0 * step);
        assert!(
            (numeric - g).abs() < 1e-6 * numeric.abs().max(1.0),
            "d loss / d a[{}][{}]: candle's gradient of your distance is {g}, but nudging the \
             input gives {numeric}. Is part of the computation (the norms?) detached from a?",
            k / 4,
            k % 4
        );
    }
}

#[test]
fn equals_the_courses_guidance_loss() {
    let device = Device::Cpu;
    for (n, m, d) in [(3, 2, 5), (8, 4, 16), (1, 6, 512), (32, 1, 64)] {
        let a = Tensor::randn(0f64, 1.0, (n, d), &device).unwrap();
        let b = Tensor::randn(0f64, 1.0, (m, d), &device).unwrap();
        for (dtype, tolerance) in [(DType::F64, 1e-9), (DType::F32, 1e-5)] {
            let (a, b) = (a.to_dtype(dtype).unwrap(), b.to_dtype(dtype).unwrap());
            let yours = distances(&a, &b);
            let course: Vec<Vec<f64>> =
                clip_art::guide::loss::spherical_distance(&a, &b)
                    .unwrap()
                    .to_dtype(DType::F64)
                    .unwrap()
                    .to_vec2()
                    .unwrap();
            for i in 0..n {
                for j in 0..m {
                    assert!(
                        (yours[i][j] - course[i][j]).abs() < tolerance,
                        "{n}×{d} against {m}×{d} {dtype:?} embeddings: at [{i}][{j}] the \
                         course's guidance loss gives {}, yours {}",
                        course[i][j],
                        yours[i][j]
                    );
                }
            }
        }
    }
}

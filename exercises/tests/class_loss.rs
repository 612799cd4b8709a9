//! Checks for the `class_loss` exercise: against a hand computation in plain f64
//! arithmetic, finite differences of that hand computation, the gradient's zero at each
//! row's largest class, and the crate's own Big Sleep loss.

#[cfg_attr(not(feature = "solutions"), path = "../exercises/class_loss.rs")]
#[cfg_attr(feature = "solutions", path = "../solutions/class_loss.rs")]
mod exercise;

use candle_core::{DType, Device, Tensor, Var};
use exercise::class_loss;

/// The loss with plain numbers: every entry but the row's largest, (50·x)², averaged.
fn by_hand(rows: &[Vec<f64>]) -> f64 {
    let mut total = 0.0;
    let mut count = 0;
    for row in rows {
        let largest = (0..row.len())
            .max_by(|&a, &b| row[a].total_cmp(&row[b]))
            .unwrap();
        for (i, x) in row.iter().enumerate() {
            if i != largest {
                total += (50.0 * x).powi(2);
                count += 1;
            }
        }
    }
    total / count as f64
}

/// Deterministic class vectors in (0, 1), each row with a clear largest entry.
fn sigmoids(rows: usize, classes: usize) -> Vec<Vec<f64>> {
    (0..rows)
        .map(|r| {
            (0..classes)
                .map(|k| {
                    let logit = -3.0 + (k as f64 * 1.37 + r as f64).sin() * 2.0;
                    1.0 / (1.0 + (-logit).exp())
                })
                .collect()
        })
        .collect()
}

fn tensor(rows: &[Vec<f64>]) -> Tensor {
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    Tensor::from_vec(flat, (rows.len(), rows[0].len()), &Device::Cpu).unwrap()
}

/// Your loss as a number, after checking it is one.
fn yours(classes: &Tensor) -> f64 {
    let loss = class_loss(classes).unwrap();
    assert_eq!(
        loss.elem_count(),
        1,
        "the loss is one number for the whole batch, got a tensor of shape {:?}",
        loss.dims()
    );
    loss.to_dtype(DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap()[0]
}

#[test]
fn equals_the_worked_example_and_a_hand_computation() {
    let example = vec![vec![0.1, 0.7, 0.2], vec![0.05, 0.0, 0.3]];
    let got = yours(&tensor(&example));
    assert!(
        (got - 32.8125).abs() < 1e-9,
        "the worked example in the exercise gives 32.8125, yours gave {got}"
    );
    for (rows, classes) in [(1, 4), (13, 10), (3, 1000)] {
        let values = sigmoids(rows, classes);
        let got = yours(&tensor(&values));
        let want = by_hand(&values);
        assert!(
            (got - want).abs() < 1e-9 * want.max(1.0),
            "{rows} rows of {classes} classes: yours {got}, by hand {want} — is the largest \
             entry of every row left out, and is the mean over n · (c − 1) entries?"
        );
    }
}

#[test]
fn the_gradient_matches_finite_differences_and_spares_the_largest() {
    let values = sigmoids(4, 6);
    let classes = Var::from_tensor(&tensor(&values)).unwrap();
    let loss = class_loss(classes.as_tensor()).unwrap();
    let gradient = loss
        .backward()
        .unwrap()
        .get(classes.as_tensor())
        .expect("no gradient reached the class vectors: use candle tensor operations only")
        .to_vec2::<f64>()
        .unwrap();
    for (r, row) in values.iter().enumerate() {
        let largest = (0..row.len())
            .max_by(|&a, &b| row[a].total_cmp(&row[b]))
            .unwrap();
        assert_eq!(
            gradient[r][largest], 0.0,
            "row {r}'s largest class gets a gradient: it must be left out of the loss entirely"
        );
        for k in 0..row.len() {
            let eps = 1e-6;
            let mut up = values.clone();
            up[r][k] += eps;
            let mut down = values.clone();
            down[r][k] -= eps;
            let numeric = (by_hand(&up) - by_hand(&down)) / (2.0 * eps);
            assert!(
                (gradient[r][k] - numeric).abs() < 1e-4 * (1.0 + numeric.abs()),
                "gradient at ({r}, {k}): yours {}, finite differences {numeric}",
                gradient[r][k]
            );
        }
    }
}

#[test]
fn agrees_with_the_crates_big_sleep() {
    let classes = tensor(&sigmoids(7, 10)).to_dtype(DType::F32).unwrap();
    let theirs = clip_art::guide::biggan::class_loss(&classes)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    let got = yours(&classes);
    assert!(
        (got - f64::from(theirs)).abs() < 1e-3,
        "yours {got}, the crate's Big Sleep {theirs}"
    );
}

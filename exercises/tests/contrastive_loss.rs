//! Checks for the `contrastive_loss` exercise: against a hand computation in plain
//! f64 arithmetic, candle-nn's cross-entropy, finite differences, and two
//! properties the loss must have.

#[cfg_attr(not(feature = "solutions"), path = "../exercises/contrastive_loss.rs")]
#[cfg_attr(feature = "solutions", path = "../solutions/contrastive_loss.rs")]
mod exercise;

use candle_core::{D, Device, Tensor, Var};
use exercise::contrastive_loss;

/// CLIP's initial temperature, t = ln(1/0.07).
const T0: f64 = 2.659_260_036_932_778_4;

/// The two directions of the 2×2 loss with plain numbers: (image → text averaged
/// over the images, text → image averaged over the texts). `exp_t` false multiplies
/// by t instead of e^t and `normalise` false skips the unit-length step: they
/// name common mistakes.
fn by_hand(
    images: [[f64; 2]; 2],
    texts: [[f64; 2]; 2],
    t: f64,
    exp_t: bool,
    normalise: bool,
) -> (f64, f64) {
    let unit = |v: [f64; 2]| {
        let norm = if normalise {
            (v[0] * v[0] + v[1] * v[1]).sqrt()
        } else {
            1.0
        };
        [v[0] / norm, v[1] / norm]
    };
    let (im, tx) = (images.map(unit), texts.map(unit));
    let scale = if exp_t { t.exp() } else { t };
    let logit =
        |a: usize, b: usize| (im[a][0] * tx[b][0] + im[a][1] * tx[b][1]) * scale;
    // Image a picks among the texts (a row); text b picks among the images (a column).
    let row = |a: usize| (logit(a, 0).exp() + logit(a, 1).exp()).ln() - logit(a, a);
    let column =
        |b: usize| (logit(0, b).exp() + logit(1, b).exp()).ln() - logit(b, b);
    ((row(0) + row(1)) / 2.0, (column(0) + column(1)) / 2.0)
}

fn loss_f64(images: &Tensor, texts: &Tensor, t: &Tensor) -> f64 {
    let loss = contrastive_loss(images, texts, t).unwrap();
    assert_eq!(
        loss.dims(),
        &[] as &[usize],
        "the loss must be a single number (a scalar tensor): average, then take the mean of the two directions"
    );
    loss.to_scalar::<f64>().unwrap()
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
fn equals_a_hand_computation_on_two_pairs() {
    let device = Device::Cpu;
    let images = [[1.0, 2.0], [-0.5, 0.3]];
    let texts = [[0.7, 1.1], [0.2, -0.9]];
    let t = 1.3;
    let yours = loss_f64(
        &Tensor::new(&images, &device).unwrap(),
        &Tensor::new(&texts, &device).unwrap(),
        &Tensor::new(t, &device).unwrap(),
    );
    let mean = |(a, b): (f64, f64)| (a + b) / 2.0;
    let (per_image, per_text) = by_hand(images, texts, t, true, true);
    let expected = mean((per_image, per_text));
    let near = |v: f64| (yours - v).abs() < 1e-9;
    if near(expected) {
        return;
    }
    let diagnosis = if near(mean(by_hand(images, texts, t, false, true))) {
        " — that is what you get scaling the logits by t itself: the pseudocode multiplies by np.exp(t)"
    } else if near(mean(by_hand(images, texts, t, true, false))) {
        " — that is what you get without normalising: scale every row to length 1 first"
    } else if near(per_image) || near(per_text) {
        " — that is one direction only: the loss is the mean of the image → text and the text → image cross-entropies"
    } else if near(2.0 * expected) {
        " — twice the loss: average over the examples and take the mean, not the sum, of the two directions"
    } else {
        ""
    };
    panic!(
        "images {images:?}, texts {texts:?}, t = {t}: the loss is {expected:.9} \
         (image → text {per_image:.9}, text → image {per_text:.9}), yours gives {yours:.9}{diagnosis}"
    );
}

#[test]
fn equals_candles_cross_entropy_along_both_axes() {
    // logits as the pseudocode computes them, then candle-nn's cross-entropy with
    // labels arange(n) on the rows (image → text) and on the columns (text → image).
    let device = Device::Cpu;
    for (n, d, t_shift) in [(3, 4, 0.0f32), (8, 5, 0.5), (16, 32, 1.0)] {
        let images = Tensor::randn(0f32, 1.0, (n, d), &device).unwrap();
        let texts = Tensor::randn(0f32, 1.0, (n, d), &device).unwrap();
        let t = Tensor::new(T0 as f32 + t_shift, &device).unwrap();
        let unit = |x: &Tensor| {
            x.broadcast_div(
                &x.sqr()
                    .unwrap()
                    .sum_keepdim(D::Minus1)
                    .unwrap()
                    .sqrt()
                    .unwrap(),
            )
            .unwrap()
        };
        let logits = unit(&images)
            .matmul(&unit(&texts).t().unwrap())
            .unwrap()
            .broadcast_mul(&t.exp().unwrap())
            .unwrap();
        let labels = Tensor::arange(0u32, n as u32, &device).unwrap();
        let ce = |l: &Tensor| {
            candle_nn::loss::cross_entropy(l, &labels)
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        };
        let per_image = ce(&logits);
        let per_text = ce(&logits.t().unwrap().contiguous().unwrap());
        let expected = (per_image + per_text) / 2.0;
        let loss = contrastive_loss(&images, &texts, &t).unwrap();
        assert_eq!(
            loss.dims(),
            &[] as &[usize],
            "the loss must be a single number (a scalar tensor)"
        );
        let yours = loss.to_scalar::<f32>().unwrap();
        assert!(
            (yours - expected).abs() < 1e-4 * expected.abs().max(1.0),
            "{n} pairs of {d}-dimensional f32 embeddings: candle's cross-entropy gives {per_image} \
             image → text and {per_text} text → image, mean {expected}; yours gives {yours}. \
             (Normalise the rows, scale by e^t, average each direction over the n examples, \
             then take the mean of the two.)"
        );
    }
}

#[test]
fn the_gradient_matches_finite_differences() {
    let device = Device::Cpu;
    let images = Var::from_tensor(&wiggly(4, 3, 0.4)).unwrap();
    let texts = Var::from_tensor(&wiggly(4, 3, 1.9)).unwrap();
    let t = Var::new(T0, &device).unwrap();
    let grads = contrastive_loss(&images, &texts, &t)
        .unwrap()
        .backward()
        .unwrap();
    let step = 1e-6;
    for (name, var) in [
        ("image_embeddings", &images),
        ("text_embeddings", &texts),
        ("temperature", &t),
    ] {
        let analytic: Vec<f64> = grads
            .get(var)
            .unwrap_or_else(|| {
                panic!(
                    "no gradient reached {name}: build the loss from candle operations on the \
                     tensors you are given (e.g. temperature.exp()), not from numbers read out of them"
                )
            })
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        for (k, &g) in analytic.iter().enumerate() {
            let mut bump = vec![0.0; var.elem_count()];
            bump[k] = step;
            let bump = Tensor::from_vec(bump, var.shape(), &device).unwrap();
            let moved = |sign: f64| {
                let shifted = (var.as_tensor() + (&bump * sign).unwrap()).unwrap();
                let pick = |v: &Var| {
                    if std::ptr::eq(v, var) {
                        shifted.clone()
                    } else {
                        v.as_tensor().clone()
                    }
                };
                loss_f64(&pick(&images), &pick(&texts), &pick(&t))
            };
            let numeric = (moved(1.0) - moved(-1.0)) / (2.0 * step);
            assert!(
                (numeric - g).abs() < 1e-6 * numeric.abs().max(1.0),
                "d loss / d {name}[{k}]: candle's gradient of your loss is {g}, but nudging the \
                 input gives {numeric}. Is part of the computation detached from the inputs?"
            );
        }
    }
}

#[test]
fn mismatching_the_pairs_costs_more() {
    // Texts close to their images: the right pairing must be cheaper than any shuffle.
    let device = Device::Cpu;
    let images = wiggly(6, 8, 0.0);
    let texts = (&images + (wiggly(6, 8, 5.0) * 0.1).unwrap()).unwrap();
    let t = Tensor::new(T0, &device).unwrap();
    let matched = loss_f64(&images, &texts, &t);
    for order in [
        [1u32, 0, 2, 3, 4, 5],
        [5, 4, 3, 2, 1, 0],
        [1, 2, 3, 4, 5, 0],
    ] {
        let shuffled = texts
            .index_select(&Tensor::new(&order, &device).unwrap(), 0)
            .unwrap();
        let mismatched = loss_f64(&images, &shuffled, &t);
        assert!(
            mismatched > matched + 0.1,
            "image i belongs with text i (labels = arange(n)): pairing the texts in the order \
             {order:?} should cost more than the true pairs, but the loss went from {matched} to \
             {mismatched}"
        );
    }
}

#[test]
fn only_directions_matter() {
    // l2_normalize: scaling an embedding (a row) must not change the loss.
    let device = Device::Cpu;
    let images = wiggly(5, 4, 0.7);
    let texts = wiggly(5, 4, 3.1);
    let t = Tensor::new(1.0f64, &device).unwrap();
    let before = loss_f64(&images, &texts, &t);
    let row_scales =
        |s: [f64; 5]| Tensor::new(&s, &device).unwrap().unsqueeze(1).unwrap();
    let longer_images = images
        .broadcast_mul(&row_scales([3.7, 1.0, 1.0, 0.5, 1.0]))
        .unwrap();
    let shorter_texts = texts
        .broadcast_mul(&row_scales([1.0, 0.2, 1.0, 1.0, 11.0]))
        .unwrap();
    let after = loss_f64(&longer_images, &shorter_texts, &t);
    assert!(
        (before - after).abs() < 1e-9,
        "stretching some embeddings changed the loss from {before} to {after}: scale every row \
         (not every column, not the whole matrix) to length 1 before the dot products"
    );
}

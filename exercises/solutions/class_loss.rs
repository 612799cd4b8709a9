//! Exercise (chapter 8): Big Sleep's class loss, which keeps BigGAN's class vectors to one
//! class each.
//!
//! Big Sleep moves, for every layer of BigGAN, a row of class logits; their sigmoids are
//! the class vector `[n, c]` (n rows, c classes, each entry in (0, 1)). BigGAN was trained
//! on one class at a time, so a row that mixes many classes leaves its data. Big Sleep's
//! loss lets one class per row grow and pushes every other towards 0:
//!
//! ```text
//! loss = mean over every row and every entry but the row's largest of (50 · x)²
//! ```
//!
//! that is, with n rows of c entries, the sum of (50 · x)² over the n · (c − 1) entries that
//! are not their row's largest, divided by n · (c − 1). (`big-sleep` writes it with
//! `torch.topk(classes, k = c − 1, largest = False)`.) For rows (0.1, 0.7, 0.2) and
//! (0.05, 0, 0.3): ((5)² + (10)² + (2.5)² + 0²) / 4 = 32.8125.
//!
//! The largest entry of each row must get no gradient at all. Use candle tensor operations
//! only (no `to_vec` and back): the checks ask candle for the gradient. One way: the sum of
//! each row's squares minus its largest square.
//!
//! Check your work: `cargo run -p clip-art-exercises` (the tests are in tests/class_loss.rs).

use candle_core::{Result, Tensor};

pub fn class_loss(classes: &Tensor) -> Result<Tensor> {
    let (n, c) = classes.dims2()?;
    let squares = (classes * 50.0)?.sqr()?;
    // A row's largest square is its largest entry's (the entries are positive).
    let all_but_largest = (squares.sum(1)? - squares.max(1)?)?;
    all_but_largest.sum_all()? / (n * (c - 1)) as f64
}

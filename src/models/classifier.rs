//! Chapter 2 — a shape classifier, "RGB pixels → 4 categories", trained twice:
//! first from scratch on `ndarray` with the hand-derived gradient, then with
//! candle-nn and autograd. Both start from the same weights and see the same
//! images, so their loss curves should lie on top of each other.

use anyhow::Context;
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Linear, Optimizer, VarBuilder, VarMap};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::basics::softmax::{
    argmax_rows, cross_entropy, cross_entropy_grad, one_hot_targets,
};
use crate::nn::train::step_seed;
use crate::world::shapes::{Shape, ShapeBatch};

/// Sizes of the two-layer network: pixels → hidden (ReLU) → one logit per class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Images are `image_size`×`image_size` RGB.
    pub image_size: u32,
    pub hidden: usize,
    pub classes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            image_size: 32,
            hidden: 64,
            classes: Shape::CLASSES.len(),
        }
    }
}

impl Config {
    pub fn inputs(&self) -> usize {
        3 * (self.image_size * self.image_size) as usize
    }
}

/// How long and how fast to train; the same for both versions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainConfig {
    pub steps: usize,
    pub batch_size: usize,
    pub learning_rate: f32,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            steps: 3000,
            batch_size: 64,
            learning_rate: 0.1,
            seed: 0,
        }
    }
}

/// The images of training step `step`: freshly drawn, so the network never sees an
/// image twice; the same for the same seed.
pub fn training_batch(cfg: &Config, train: &TrainConfig, step: usize) -> ShapeBatch {
    ShapeBatch::draw(
        train.batch_size,
        cfg.image_size,
        step_seed(train.seed, step),
    )
}

/// Fresh images never used in training (a different seed stream), for measuring accuracy.
pub fn test_batch(cfg: &Config, count: usize, seed: u64) -> ShapeBatch {
    ShapeBatch::draw(count, cfg.image_size, seed ^ 0x7E57_0000_0000_0000)
}

// ANCHOR: scratch_mlp
/// The from-scratch network. Weights are `[inputs, outputs]`, so a layer is
/// `x · W + b`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScratchMlp {
    pub w1: Array2<f32>,
    pub b1: Array1<f32>,
    pub w2: Array2<f32>,
    pub b2: Array1<f32>,
}
// ANCHOR_END: scratch_mlp

// ANCHOR: scratch_mlp_impl
impl ScratchMlp {
    /// He initialisation (normal, std √(2 / inputs)), zero biases, from a seed.
    pub fn new(cfg: &Config, seed: u64) -> ScratchMlp {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut he = |rows: usize, cols: usize| {
            let normal =
                Normal::new(0.0, (2.0 / rows as f32).sqrt()).expect("positive std");
            Array2::from_shape_simple_fn((rows, cols), || normal.sample(&mut rng))
        };
        ScratchMlp {
            w1: he(cfg.inputs(), cfg.hidden),
            b1: Array1::zeros(cfg.hidden),
            w2: he(cfg.hidden, cfg.classes),
            b2: Array1::zeros(cfg.classes),
        }
    }

    /// The logits y, one row per image.
    pub fn forward(&self, x: ArrayView2<f32>) -> Array2<f32> {
        let hidden = (x.dot(&self.w1) + &self.b1).mapv(|v| v.max(0.0));
        hidden.dot(&self.w2) + &self.b2
    }

    /// One step of gradient descent on a batch; returns the loss before the step.
    pub fn train_step(
        &mut self,
        x: ArrayView2<f32>,
        labels: &[usize],
        lr: f32,
    ) -> f32 {
        // forward, keeping what the backward pass needs
        let pre = x.dot(&self.w1) + &self.b1; // z = x·W1 + b1
        let hidden = pre.mapv(|v| v.max(0.0)); // h = ReLU(z)
        let logits = hidden.dot(&self.w2) + &self.b2; // y = h·W2 + b2
        let targets = one_hot_targets(labels, self.b2.len());
        let loss = cross_entropy(logits.view(), labels);

        // backward: the chain rule, layer by layer, from the loss to the weights
        let d_logits = cross_entropy_grad(logits.view(), targets.view()); // (p−t)/n
        let d_w2 = hidden.t().dot(&d_logits);
        let d_b2 = d_logits.sum_axis(Axis(0));
        let d_hidden = d_logits.dot(&self.w2.t());
        // ReLU': 1 where z > 0, else 0
        let d_pre = d_hidden * pre.mapv(|z| if z > 0.0 { 1.0 } else { 0.0 });
        let d_w1 = x.t().dot(&d_pre);
        let d_b1 = d_pre.sum_axis(Axis(0));

        // descent: w ← w − lr · ∂L/∂w
        self.w1.scaled_add(-lr, &d_w1);
        self.b1.scaled_add(-lr, &d_b1);
        self.w2.scaled_add(-lr, &d_w2);
        self.b2.scaled_add(-lr, &d_b2);
        loss
    }
}
// ANCHOR_END: scratch_mlp_impl

// ANCHOR: candle_mlp
/// The same network in candle's style: a `Config`, `new(vb, &cfg)` and `forward`.
#[derive(Debug, Clone)]
pub struct ShapeClassifier {
    fc1: Linear,
    fc2: Linear,
}

impl ShapeClassifier {
    pub fn new(
        vb: VarBuilder,
        cfg: &Config,
    ) -> candle_core::Result<ShapeClassifier> {
        Ok(ShapeClassifier {
            fc1: candle_nn::linear(cfg.inputs(), cfg.hidden, vb.pp("fc1"))?,
            fc2: candle_nn::linear(cfg.hidden, cfg.classes, vb.pp("fc2"))?,
        })
    }
}

impl Module for ShapeClassifier {
    fn forward(&self, pixels: &Tensor) -> candle_core::Result<Tensor> {
        self.fc2.forward(&self.fc1.forward(pixels)?.relu()?)
    }
}
// ANCHOR_END: candle_mlp

/// Copies the from-scratch weights into a candle `VarMap` (candle stores a linear
/// layer's weight as `[outputs, inputs]`, the transpose of ours).
pub fn scratch_weights_to_varmap(
    scratch: &ScratchMlp,
    varmap: &VarMap,
    device: &Device,
) -> anyhow::Result<()> {
    let matrix = |a: &Array2<f32>| -> candle_core::Result<Tensor> {
        let t = a.t().as_standard_layout().to_owned();
        Tensor::from_slice(t.as_slice().expect("standard layout"), t.dim(), device)
    };
    let vector = |a: &Array1<f32>| {
        Tensor::from_slice(a.as_slice().expect("contiguous"), a.len(), device)
    };
    let data = varmap.data().lock().expect("varmap lock");
    for (name, value) in [
        ("fc1.weight", matrix(&scratch.w1)?),
        ("fc1.bias", vector(&scratch.b1)?),
        ("fc2.weight", matrix(&scratch.w2)?),
        ("fc2.bias", vector(&scratch.b2)?),
    ] {
        data.get(name)
            .with_context(|| format!("the model has no variable {name}"))?
            .set(&value)?;
    }
    Ok(())
}

/// What a training run reports after each step (for progress bars and plots).
#[derive(Debug, Clone, Copy)]
pub struct StepReport {
    pub step: usize,
    pub loss: f32,
}

// ANCHOR: train_scratch
/// Trains the from-scratch network; returns it with its loss after every step.
pub fn train_scratch(
    cfg: &Config,
    train: &TrainConfig,
    mut on_step: impl FnMut(StepReport),
) -> (ScratchMlp, Vec<f32>) {
    let mut model = ScratchMlp::new(cfg, train.seed);
    let mut losses = Vec::with_capacity(train.steps);
    for step in 0..train.steps {
        let batch = training_batch(cfg, train, step);
        let loss = model.train_step(
            batch.pixel_rows().view(),
            &batch.labels(),
            train.learning_rate,
        );
        losses.push(loss);
        on_step(StepReport { step, loss });
    }
    (model, losses)
}
// ANCHOR_END: train_scratch

// ANCHOR: train_candle
/// Trains the candle network from the same initial weights on the same batches,
/// with candle's autograd and SGD optimiser.
pub fn train_candle(
    cfg: &Config,
    train: &TrainConfig,
    device: &Device,
    mut on_step: impl FnMut(StepReport),
) -> anyhow::Result<(ShapeClassifier, Vec<f32>)> {
    let varmap = VarMap::new();
    let model = ShapeClassifier::new(
        VarBuilder::from_varmap(&varmap, DType::F32, device),
        cfg,
    )?;
    scratch_weights_to_varmap(&ScratchMlp::new(cfg, train.seed), &varmap, device)?;
    let mut sgd =
        candle_nn::SGD::new(varmap.all_vars(), train.learning_rate as f64)?;
    let mut losses = Vec::with_capacity(train.steps);
    for step in 0..train.steps {
        let batch = training_batch(cfg, train, step);
        let pixels = rows_to_tensor(batch.pixel_rows().view(), device)?;
        let labels =
            Tensor::from_iter(batch.labels().into_iter().map(|l| l as u32), device)?;
        let loss =
            candle_nn::loss::cross_entropy(&model.forward(&pixels)?, &labels)?;
        sgd.backward_step(&loss)?;
        let loss = loss.to_scalar::<f32>()?;
        losses.push(loss);
        on_step(StepReport { step, loss });
    }
    Ok((model, losses))
}
// ANCHOR_END: train_candle

/// An `ndarray` matrix as a candle tensor of the same shape.
pub fn rows_to_tensor(
    rows: ArrayView2<f32>,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let rows = rows.as_standard_layout();
    Tensor::from_slice(
        rows.as_slice().expect("standard layout"),
        rows.dim(),
        device,
    )
}

/// Fraction of `batch` whose predicted class is the true one.
pub fn accuracy(predicted: &[usize], batch: &ShapeBatch) -> f32 {
    let correct = predicted
        .iter()
        .zip(batch.labels())
        .filter(|(p, l)| **p == *l)
        .count();
    correct as f32 / batch.shapes.len().max(1) as f32
}

/// Predicted classes of the from-scratch network.
pub fn predict_scratch(model: &ScratchMlp, batch: &ShapeBatch) -> Vec<usize> {
    argmax_rows(model.forward(batch.pixel_rows().view()).view()).to_vec()
}

/// Predicted classes of the candle network.
pub fn predict_candle(
    model: &ShapeClassifier,
    batch: &ShapeBatch,
    device: &Device,
) -> anyhow::Result<Vec<usize>> {
    let logits =
        model.forward(&rows_to_tensor(batch.pixel_rows().view(), device)?)?;
    Ok(logits
        .argmax(1)?
        .to_vec1::<u32>()?
        .into_iter()
        .map(|l| l as usize)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> (Config, TrainConfig) {
        let cfg = Config {
            image_size: 16,
            hidden: 16,
            classes: 4,
        };
        let train = TrainConfig {
            steps: 5,
            batch_size: 8,
            learning_rate: 0.1,
            seed: 3,
        };
        (cfg, train)
    }

    #[test]
    fn hand_backprop_equals_candle_autograd_step_by_step() {
        // Same start, same batches: after each SGD step the weights must agree.
        let (cfg, train) = small();
        let (scratch, scratch_losses) = train_scratch(&cfg, &train, |_| {});
        let (candle, candle_losses) =
            train_candle(&cfg, &train, &Device::Cpu, |_| {}).unwrap();
        for (a, b) in scratch_losses.iter().zip(&candle_losses) {
            assert!((a - b).abs() < 1e-4, "losses {a} vs {b}");
        }
        let batch = test_batch(&cfg, 32, 0);
        let ours = scratch.forward(batch.pixel_rows().view());
        let theirs = candle
            .forward(
                &rows_to_tensor(batch.pixel_rows().view(), &Device::Cpu).unwrap(),
            )
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        for (row, other) in ours.rows().into_iter().zip(theirs) {
            for (x, y) in row.iter().zip(other) {
                assert!((x - y).abs() < 1e-3, "{x} vs {y}");
            }
        }
    }

    #[test]
    fn weight_gradient_equals_finite_difference() {
        let (cfg, _) = small();
        let model = ScratchMlp::new(&cfg, 5);
        let batch = test_batch(&cfg, 6, 1);
        let x = batch.pixel_rows();
        let labels = batch.labels();
        let lr = 1.0; // one step with lr 1 subtracts exactly the gradient
        let mut stepped = model.clone();
        stepped.train_step(x.view(), &labels, lr);
        let gradient_w2 = &model.w2 - &stepped.w2;
        let gradient_w1 = &model.w1 - &stepped.w1;
        let loss_with =
            |m: &ScratchMlp| cross_entropy(m.forward(x.view()).view(), &labels);
        let h = 1e-2;
        let check = |which: &str, index: (usize, usize), analytic: f32| {
            let mut plus = model.clone();
            let mut minus = model.clone();
            let (p, m) = if which == "w1" {
                (&mut plus.w1[index], &mut minus.w1[index])
            } else {
                (&mut plus.w2[index], &mut minus.w2[index])
            };
            *p += h;
            *m -= h;
            let numeric = (loss_with(&plus) - loss_with(&minus)) / (2.0 * h);
            assert!(
                (numeric - analytic).abs() < 2e-3,
                "{which}{index:?}: numeric {numeric} vs {analytic}"
            );
        };
        for index in [(0, 0), (3, 1), (15, 3), (7, 2)] {
            check("w2", index, gradient_w2[index]);
        }
        // pick inputs of w1 where the pixel is lit, so the gradient is not trivially 0
        let lit: Vec<usize> = (0..cfg.inputs())
            .filter(|&i| x[[0, i]] > 0.5)
            .take(3)
            .collect();
        for &i in &lit {
            check("w1", (i, 2), gradient_w1[[i, 2]]);
        }
    }

    #[test]
    fn training_lowers_the_loss() {
        let (cfg, mut train) = small();
        train.steps = 60;
        train.batch_size = 32;
        let (_, losses) = train_scratch(&cfg, &train, |_| {});
        let first: f32 = losses[..10].iter().sum::<f32>() / 10.0;
        let last: f32 = losses[50..].iter().sum::<f32>() / 10.0;
        assert!(last < 0.8 * first, "loss went from {first} to {last}");
    }

    #[test]
    fn same_seed_same_model() {
        let (cfg, train) = small();
        assert_eq!(
            train_scratch(&cfg, &train, |_| {}).0,
            train_scratch(&cfg, &train, |_| {}).0
        );
    }
}

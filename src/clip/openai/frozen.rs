//! The layers of a frozen CLIP. Guidance never trains CLIP: it needs the
//! gradient at the picture only. candle's autograd would still compute a
//! gradient for every weight (a matrix product as large as the forward one,
//! per layer), and candle's fused LayerNorm and softmax record no backward
//! pass at all. So each layer here computes its output without recording a
//! graph, then attaches its hand-derived backward to its input alone: a
//! whole attention or MLP layer is one node of the graph. The weights are
//! constants: they get no gradient, even from a `Var`.
//!
//! On the CPU, in f32 and f64, the layers run the kernels of
//! [`super::kernels`]; elsewhere the candle ops written out here. Each
//! backward, in both versions, is tested against candle's autograd of the
//! same layer written with plain ops.

use candle_core::{D, Device, Result, Tensor};
use candle_nn::VarBuilder;

use super::kernels::{self, Values, with_element};
use crate::nn::attach::attach;

/// x · Wᵀ + b over the last dimension, W `[out, in]` as in `candle_nn::Linear`.
/// Backward: the gradient at x is the gradient at the output times W.
/// W is held once: the forward pass reads it as its transpose in place (the
/// matrix product takes any strides), so ViT-B/32 needs no second copy.
pub struct Linear {
    /// W `[out, in]`, contiguous.
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    pub fn new(weight: Tensor, bias: Option<Tensor>) -> Result<Linear> {
        let (outputs, _) = weight.dims2()?;
        if let Some(bias) = &bias
            && bias.dims() != [outputs]
        {
            candle_core::bail!(
                "a layer of {outputs} outputs got a bias of shape {:?}",
                bias.dims()
            )
        }
        Ok(Linear {
            weight: weight.detach().contiguous()?,
            bias: bias.map(|b| b.detach()),
        })
    }

    /// Loads `weight` `[out, in]` and, if asked, `bias` `[out]`, as `candle_nn::linear` does.
    pub fn load(
        vb: VarBuilder,
        inputs: usize,
        outputs: usize,
        bias: bool,
    ) -> Result<Linear> {
        let weight = vb.get((outputs, inputs), "weight")?;
        let bias = if bias {
            Some(vb.get(outputs, "bias")?)
        } else {
            None
        };
        Linear::new(weight, bias)
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_with(x, kernels::take(x))
    }

    /// With the CPU kernels or with candle ops.
    fn forward_with(&self, x: &Tensor, cpu: bool) -> Result<Tensor> {
        let weight = self.weight.clone();
        attach(
            "frozen-linear",
            x,
            self.product(&x.detach(), cpu)?,
            move |_, _, grad| times_sum(&[(grad, &weight)], None, cpu),
        )
    }

    /// The forward pass alone, recording nothing.
    fn product(&self, x: &Tensor, cpu: bool) -> Result<Tensor> {
        times_sum(&[(x, &self.weight.t()?)], self.bias.as_ref(), cpu)
    }
}

/// Σ xᵢ · mᵢ (+ bias), each xᵢ `[…, k]` and each mᵢ `[k, n]`: `[…, n]`.
fn times_sum(
    terms: &[(&Tensor, &Tensor)],
    bias: Option<&Tensor>,
    cpu: bool,
) -> Result<Tensor> {
    let (k, n) = terms[0].1.dims2()?;
    let x = terms[0].0;
    for (term, matrix) in terms {
        if term.dims() != x.dims() || term.dim(D::Minus1)? != k {
            candle_core::bail!(
                "a layer of {k} inputs got a tensor of shape {:?}",
                term.dims()
            )
        }
        if matrix.dims() != [k, n] {
            candle_core::bail!(
                "a sum of [{k}, {n}] products got a {:?} matrix",
                matrix.dims()
            )
        }
    }
    let mut shape = x.dims().to_vec();
    *shape.last_mut().expect("x has a last dimension") = n;
    if !cpu {
        let rows = x.elem_count() / k;
        let mut sum = x.reshape((rows, k))?.matmul(terms[0].1)?;
        for (x, m) in &terms[1..] {
            sum = (sum + x.reshape((rows, k))?.matmul(m)?)?;
        }
        if let Some(bias) = bias {
            sum = sum.broadcast_add(bias)?;
        }
        return sum.reshape(shape);
    }
    let contiguous = |t: &Tensor| t.contiguous();
    let xs = terms
        .iter()
        .map(|(x, _)| contiguous(x))
        .collect::<Result<Vec<_>>>()?;
    // A matrix that is the transpose of a contiguous one (a weight W read
    // as Wᵀ) is passed as it is stored, with `Layout::Transposed`.
    let ms = terms
        .iter()
        .map(|(_, m)| {
            if !m.is_contiguous() && m.t()?.is_contiguous() {
                Ok((m.t()?, kernels::Layout::Transposed))
            } else {
                Ok((contiguous(m)?, kernels::Layout::Rows))
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let bias = bias.map(contiguous).transpose()?;
    let xs = xs.iter().map(Values::of).collect::<Result<Vec<_>>>()?;
    let ms = ms
        .iter()
        .map(|(m, layout)| Ok((Values::of(m)?, *layout)))
        .collect::<Result<Vec<_>>>()?;
    let bias = bias.as_ref().map(Values::of).transpose()?;
    with_element!(x.dtype(), T => {
        let terms = xs
            .iter()
            .zip(&ms)
            .map(|(x, (m, layout))| Ok((x.get::<T>()?, m.get::<T>()?, *layout)))
            .collect::<Result<Vec<_>>>()?;
        let bias = bias.as_ref().map(|b| b.get::<T>()).transpose()?;
        Tensor::from_vec(kernels::times_sum(&terms, k, n, bias), shape, &Device::Cpu)
    })
}

// OpenAI's `LayerNorm` (computed in f32), Hugging Face's `nn.LayerNorm`:
// https://github.com/openai/CLIP/blob/dcba3cb2e2827b402d2701e7e1c7d9fed8a20ef1/clip/model.py#L157-L163
/// LayerNorm over the last dimension (see [`layer_norm_ops`]), with the
/// CPU kernels where they apply.
pub fn layer_norm(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    eps: f64,
) -> Result<Tensor> {
    if kernels::take(x) {
        layer_norm_cpu(x, weight, bias, eps)
    } else {
        layer_norm_ops(x, weight, bias, eps)
    }
}

// ANCHOR: layer_norm
/// LayerNorm over the last dimension: x̂ = (x − mean) / √(var + ε), then
/// x̂ · weight + bias. Backward, with g = (gradient at the output) · weight:
/// the gradient at x is (g − mean(g) − x̂ · mean(g · x̂)) / √(var + ε).
fn layer_norm_ops(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    eps: f64,
) -> Result<Tensor> {
    let detached = x.detach();
    let centred = detached.broadcast_sub(&detached.mean_keepdim(D::Minus1)?)?;
    let inverse_std = (centred.sqr()?.mean_keepdim(D::Minus1)? + eps)?
        .sqrt()?
        .recip()?;
    let normalised = centred.broadcast_mul(&inverse_std)?;
    let y = normalised.broadcast_mul(weight)?.broadcast_add(bias)?;
    let weight = weight.detach();
    attach("frozen-layer-norm", x, y, move |_, _, grad| {
        let g = grad.broadcast_mul(&weight)?;
        let along = (&normalised * &g)?.mean_keepdim(D::Minus1)?;
        g.broadcast_sub(&g.mean_keepdim(D::Minus1)?)?
            .sub(&normalised.broadcast_mul(&along)?)?
            .broadcast_mul(&inverse_std)
    })
}
// ANCHOR_END: layer_norm

/// [`layer_norm`] with the CPU kernels: one pass over each row each way.
fn layer_norm_cpu(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    eps: f64,
) -> Result<Tensor> {
    let width = x.dim(D::Minus1)?;
    if weight.dims() != [width] || bias.dims() != [width] {
        candle_core::bail!(
            "a LayerNorm of weight {:?} and bias {:?} got a tensor of shape {:?}",
            weight.dims(),
            bias.dims(),
            x.dims()
        )
    }
    let (shape, rows) = (x.dims().to_vec(), x.elem_count() / weight.elem_count());
    let (x_values, weight, bias) = (
        x.contiguous()?,
        weight.detach().contiguous()?,
        bias.contiguous()?,
    );
    let (y, normalised, inverse_std) = {
        let (xs, ws, bs) = (
            Values::of(&x_values)?,
            Values::of(&weight)?,
            Values::of(&bias)?,
        );
        with_element!(x.dtype(), T => {
            let eps = <T as candle_core::WithDType>::from_f64(eps);
            let (y, normalised, inverse_std) = kernels::layer_norm::<T>(xs.get()?, ws.get()?, bs.get()?, eps);
            (
                Tensor::from_vec(y, shape.as_slice(), &Device::Cpu)?,
                Tensor::from_vec(normalised, shape.as_slice(), &Device::Cpu)?,
                Tensor::from_vec(inverse_std, rows, &Device::Cpu)?,
            )
        })
    };
    attach("frozen-layer-norm", x, y, move |_, _, grad| {
        let grad = grad.contiguous()?;
        let (g, w) = (Values::of(&grad)?, Values::of(&weight)?);
        let (n, s) = (Values::of(&normalised)?, Values::of(&inverse_std)?);
        with_element!(grad.dtype(), T => Tensor::from_vec(
            kernels::layer_norm_backward::<T>(g.get()?, w.get()?, n.get()?, s.get()?),
            grad.shape(),
            &Device::Cpu,
        ))
    })
}

// OpenAI's `QuickGELU`:
// https://github.com/openai/CLIP/blob/dcba3cb2e2827b402d2701e7e1c7d9fed8a20ef1/clip/model.py#L166-L168
/// The activation inside each MLP block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// x · σ(1.702 x): OpenAI's CLIP.
    QuickGelu,
    /// The exact GELU, x · Φ(x), used by some later CLIPs.
    Gelu,
}

impl Activation {
    fn apply(self, x: &Tensor, cpu: bool) -> Result<Tensor> {
        match self {
            Activation::QuickGelu if cpu => quick_gelu_cpu(x, None),
            Activation::QuickGelu => x * candle_nn::ops::sigmoid(&(x * 1.702)?)?,
            Activation::Gelu => x.gelu_erf(),
        }
    }

    /// The gradient at x, from `grad` at the activation: `grad` times the slope at x.
    fn backward(self, x: &Tensor, grad: &Tensor, cpu: bool) -> Result<Tensor> {
        match self {
            Activation::QuickGelu if cpu => quick_gelu_cpu(x, Some(grad)),
            // σ(ax) + a·x·σ(ax)·(1 − σ(ax)), a = 1.702
            Activation::QuickGelu => {
                let s = candle_nn::ops::sigmoid(&(x * 1.702)?)?;
                grad * (&s + ((x * 1.702)? * &s)? * (1.0 - &s)?)?
            }
            // Φ(x) + x·φ(x)
            Activation::Gelu => {
                let cdf = ((x / 2f64.sqrt())?.erf()? + 1.0)? * 0.5;
                let density =
                    (x.sqr()? * -0.5)?.exp()? / (2.0 * std::f64::consts::PI).sqrt();
                grad * (cdf? + (x * density?)?)?
            }
        }
    }
}

/// QuickGELU, or its backward from `grad`, in one pass on every core: the
/// formula in candle ops takes four passes, and candle's CPU sigmoid runs on
/// one core.
fn quick_gelu_cpu(x: &Tensor, grad: Option<&Tensor>) -> Result<Tensor> {
    let x = x.contiguous()?;
    let grad = grad.map(|g| g.contiguous()).transpose()?;
    let (values, grad) =
        (Values::of(&x)?, grad.as_ref().map(Values::of).transpose()?);
    with_element!(x.dtype(), T => Tensor::from_vec(
        kernels::quick_gelu::<T>(values.get()?, grad.as_ref().map(|g| g.get()).transpose()?),
        x.shape(),
        &Device::Cpu,
    ))
}

// OpenAI's `c_fc`, QuickGELU, `c_proj`; Hugging Face's `CLIPMLP`:
// https://github.com/openai/CLIP/blob/dcba3cb2e2827b402d2701e7e1c7d9fed8a20ef1/clip/model.py#L177-L181
// https://github.com/huggingface/transformers/blob/000f1ffdbf1ce6190cc8863af9a2fff817590937/src/transformers/models/clip/modeling_clip.py#L348-L360
/// The MLP of a transformer block, fc2(act(fc1(x))), as one node of the graph.
/// Backward: through fc2, times the activation's slope at fc1's output, through fc1.
pub struct Mlp {
    fc1: Linear,
    fc2: Linear,
    activation: Activation,
}

impl Mlp {
    pub fn new(fc1: Linear, fc2: Linear, activation: Activation) -> Mlp {
        Mlp {
            fc1,
            fc2,
            activation,
        }
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_with(x, kernels::take(x))
    }

    /// With the CPU kernels or with candle ops.
    fn forward_with(&self, x: &Tensor, cpu: bool) -> Result<Tensor> {
        let hidden = self.fc1.product(&x.detach(), cpu)?;
        let y = self
            .fc2
            .product(&self.activation.apply(&hidden, cpu)?, cpu)?;
        let (w1, w2) = (self.fc1.weight.clone(), self.fc2.weight.clone());
        let activation = self.activation;
        attach("frozen-mlp", x, y, move |_, _, grad| {
            let at_activation = times_sum(&[(grad, &w2)], None, cpu)?;
            let at_hidden = activation.backward(&hidden, &at_activation, cpu)?;
            times_sum(&[(&at_hidden, &w1)], None, cpu)
        })
    }
}

// Hugging Face's `CLIPAttention` and `eager_attention_forward` (OpenAI's
// `nn.MultiheadAttention`, split into q, k and v):
// https://github.com/huggingface/transformers/blob/000f1ffdbf1ce6190cc8863af9a2fff817590937/src/transformers/models/clip/modeling_clip.py#L286-L345
// https://github.com/huggingface/transformers/blob/000f1ffdbf1ce6190cc8863af9a2fff817590937/src/transformers/models/clip/modeling_clip.py#L265-L283
/// Multi-head self-attention as one node of the graph: for each head,
/// P = softmax(Q·Kᵀ/√d + mask), output P·V; the heads side by side go
/// through the output projection.
pub struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    heads: usize,
}

impl Attention {
    pub fn new(
        q: Linear,
        k: Linear,
        v: Linear,
        out: Linear,
        heads: usize,
    ) -> Attention {
        Attention {
            q,
            k,
            v,
            out,
            heads,
        }
    }

    /// `x`: `[b, n, d]`; `mask`: added to the `[n, n]` scores (causal
    /// text). The outputs of the first `queries` tokens alone (all n of them,
    /// or fewer), `[b, queries, d]`; every token is still a key and a value.
    /// The vision tower's last layer needs only its class token's output.
    pub fn forward(
        &self,
        x: &Tensor,
        queries: usize,
        mask: Option<&Tensor>,
    ) -> Result<Tensor> {
        let (_, n, d) = x.dims3()?;
        if d % self.heads != 0 || queries == 0 || queries > n {
            candle_core::bail!(
                "attention of {} heads over {queries} queries got a tensor of shape {:?}",
                self.heads,
                x.dims()
            )
        }
        if let Some(mask) = mask
            && mask.dims() != [n, n]
        {
            candle_core::bail!("a mask of shape {:?} for {n} tokens", mask.dims())
        }
        if kernels::take(x) {
            self.forward_cpu(x, queries, mask)
        } else {
            self.forward_ops(x, queries, mask)
        }
    }

    // ANCHOR: attention
    /// With candle ops, on every device.
    fn forward_ops(
        &self,
        x: &Tensor,
        queries: usize,
        mask: Option<&Tensor>,
    ) -> Result<Tensor> {
        let (b, n, d) = x.dims3()?;
        let (heads, size) = (self.heads, d / self.heads);
        let scale = (size as f64).powf(-0.5);
        // [b, rows, d] ↔ [b, heads, rows, size]
        let split = move |t: &Tensor| {
            t.reshape((b, t.dim(1)?, heads, size))?
                .transpose(1, 2)?
                .contiguous()
        };
        let merge = move |t: &Tensor| t.transpose(1, 2)?.reshape((b, t.dim(2)?, d));
        let detached = x.detach();
        let asking = detached.narrow(1, 0, queries)?;
        let q = split(&(self.q.product(&asking, false)? * scale)?)?;
        let k = split(&self.k.product(&detached, false)?)?;
        let v = split(&self.v.product(&detached, false)?)?;
        let mut scores = q.matmul(&k.t()?)?;
        if let Some(mask) = mask {
            scores = scores.broadcast_add(&mask.narrow(0, 0, queries)?)?;
        }
        let p = candle_nn::ops::softmax_last_dim(&scores)?;
        let y = self.out.product(&merge(&p.matmul(&v)?)?, false)?;
        let weights =
            [&self.q, &self.k, &self.v, &self.out].map(|l| l.weight.clone());
        attach("frozen-attention", x, y, move |_, _, grad| {
            let [wq, wk, wv, wout] = &weights;
            let at_mixed = split(&times_sum(&[(grad, wout)], None, false)?)?;
            let at_v = p.t()?.matmul(&at_mixed)?;
            // Softmax backward: P · (G − Σ G · P) along each row.
            let at_p = at_mixed.matmul(&v.t()?)?;
            let along = (&at_p * &p)?.sum_keepdim(D::Minus1)?;
            let at_scores = (&p * at_p.broadcast_sub(&along)?)?;
            let at_q = (at_scores.matmul(&k)? * scale)?;
            let at_k = at_scores.t()?.matmul(&q)?;
            // The tokens that did not ask get no gradient through q.
            let at_q = merge(&at_q)?.pad_with_zeros(1, 0, n - queries)?;
            let (at_k, at_v) = (merge(&at_k)?, merge(&at_v)?);
            times_sum(&[(&at_q, wq), (&at_k, wk), (&at_v, wv)], None, false)
        })
    }
    // ANCHOR_END: attention

    /// [`Attention::forward_ops`] with the CPU kernels: the heads are read
    /// and written where they lie in q, k, v and the output, with no copies.
    fn forward_cpu(
        &self,
        x: &Tensor,
        queries: usize,
        mask: Option<&Tensor>,
    ) -> Result<Tensor> {
        let (batch, tokens, d) = x.dims3()?;
        let shape = kernels::Heads {
            batch,
            tokens,
            queries,
            heads: self.heads,
            size: d / self.heads,
        };
        let scale = (shape.size as f64).powf(-0.5);
        let detached = x.detach();
        let q = self.q.product(&detached.narrow(1, 0, queries)?, true)?;
        let (k, v) = (
            self.k.product(&detached, true)?,
            self.v.product(&detached, true)?,
        );
        let mask = mask.map(|m| m.contiguous()).transpose()?;
        let (mixed, p) = {
            let (qs, ks, vs) = (Values::of(&q)?, Values::of(&k)?, Values::of(&v)?);
            let mask = mask.as_ref().map(Values::of).transpose()?;
            with_element!(x.dtype(), T => {
                let mask = mask.as_ref().map(|m| m.get::<T>()).transpose()?;
                let scale = <T as candle_core::WithDType>::from_f64(scale);
                let (mixed, p) = kernels::attention::<T>(shape, (qs.get()?, ks.get()?, vs.get()?), mask, scale);
                (
                    Tensor::from_vec(mixed, (batch, queries, d), &Device::Cpu)?,
                    Tensor::from_vec(p, (batch, self.heads, queries, tokens), &Device::Cpu)?,
                )
            })
        };
        let y = self.out.product(&mixed, true)?;
        let weights =
            [&self.q, &self.k, &self.v, &self.out].map(|l| l.weight.clone());
        attach("frozen-attention", x, y, move |_, _, grad| {
            let [wq, wk, wv, wout] = &weights;
            let at_mixed = times_sum(&[(grad, wout)], None, true)?;
            let [at_q, at_k, at_v] = {
                let (qs, ks, vs) =
                    (Values::of(&q)?, Values::of(&k)?, Values::of(&v)?);
                let (ps, gs) = (Values::of(&p)?, Values::of(&at_mixed)?);
                with_element!(grad.dtype(), T => {
                    let scale = <T as candle_core::WithDType>::from_f64(scale);
                    kernels::attention_backward::<T>(shape, (qs.get()?, ks.get()?, vs.get()?), ps.get()?, gs.get()?, scale)
                        .map(|at| Tensor::from_vec(at, (batch, tokens, d), &Device::Cpu))
                })
            };
            times_sum(&[(&at_q?, wq), (&at_k?, wk), (&at_v?, wv)], None, true)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Var};

    fn random(shape: &[usize], seed: u64) -> Tensor {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let values: Vec<f64> = (0..shape.iter().product())
            .map(|_| rng.sample(rand_distr::StandardNormal))
            .collect();
        Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
    }

    /// The frozen layer and the plain-op layer agree on the output and on
    /// the gradient that a weighted sum of the output sends to the input.
    fn agree(
        shape: &[usize],
        tolerance: f64,
        frozen: impl Fn(&Tensor) -> Result<Tensor>,
        plain: impl Fn(&Tensor) -> Result<Tensor>,
    ) {
        let x = Var::from_tensor(&random(shape, 1)).unwrap();
        let (y, y_plain) = (frozen(&x).unwrap(), plain(&x).unwrap());
        let probe = random(y.dims(), 2);
        let max_difference = |a: &Tensor, b: &Tensor| {
            (a - b)
                .unwrap()
                .abs()
                .unwrap()
                .flatten_all()
                .unwrap()
                .max(0)
                .unwrap()
                .to_scalar::<f64>()
                .unwrap()
        };
        assert!(max_difference(&y, &y_plain) < 1e-12, "outputs differ");
        let gradient = |y: &Tensor| {
            (y * &probe)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap()
                .get(&x)
                .expect("a gradient at the input")
                .clone()
        };
        let (g, g_plain) = (gradient(&y), gradient(&y_plain));
        let difference = max_difference(&g, &g_plain);
        assert!(difference < tolerance, "gradients differ by {difference}");
        assert!(
            g.abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f64>()
                .unwrap()
                > 1e-3,
            "a gradient of zero proves nothing"
        );
    }

    #[test]
    fn linear_matches_candle_nn_and_its_autograd() {
        // 40 outputs: the CPU kernel splits them into column blocks.
        for outputs in [5, 40] {
            let (weight, bias) = (random(&[outputs, 7], 3), random(&[outputs], 4));
            let layer = candle_nn::Linear::new(weight.clone(), Some(bias.clone()));
            for cpu in [true, false] {
                agree(
                    &[2, 3, 7],
                    1e-9,
                    |x| {
                        Linear::new(weight.clone(), Some(bias.clone()))?
                            .forward_with(x, cpu)
                    },
                    |x| candle_core::Module::forward(&layer, x),
                );
                agree(
                    &[4, 7],
                    1e-9,
                    |x| Linear::new(weight.clone(), None)?.forward_with(x, cpu),
                    |x| x.matmul(&weight.t()?),
                );
            }
        }
    }

    #[test]
    fn a_wrong_input_width_is_an_error_naming_both() {
        let layer = Linear::new(random(&[3, 4], 1), None).unwrap();
        // 2 × 6 values would fit 3 rows of 4, but the rows are 6 wide.
        let error = layer.forward(&random(&[2, 6], 2)).unwrap_err().to_string();
        assert!(
            error.contains("4 inputs") && error.contains("[2, 6]"),
            "{error}"
        );
    }

    #[test]
    fn mismatched_shapes_are_errors_naming_them() {
        let error = |result: Result<Tensor>| result.unwrap_err().to_string();
        let bias = Linear::new(random(&[3, 4], 1), Some(random(&[4], 2)));
        assert!(bias.is_err_and(|e| e.to_string().contains("3 outputs")));
        let x = random(&[2, 3, 6], 3);
        let norm = error(layer_norm(&x, &random(&[5], 4), &random(&[5], 5), 1e-5));
        assert!(norm.contains("[5]") && norm.contains("[2, 3, 6]"), "{norm}");
        let linear = |i| Linear::new(random(&[6, 6], i), None).unwrap();
        let attention =
            Attention::new(linear(6), linear(7), linear(8), linear(9), 2);
        let mask = error(attention.forward(&x, 3, Some(&random(&[2, 3], 10))));
        assert!(
            mask.contains("[2, 3]") && mask.contains("3 tokens"),
            "{mask}"
        );
        let heads = Attention::new(linear(6), linear(7), linear(8), linear(9), 4);
        assert!(error(heads.forward(&x, 3, None)).contains("4 heads"));
    }

    #[test]
    fn layer_norm_matches_plain_ops_and_their_autograd() {
        let (weight, bias) = (random(&[6], 3), random(&[6], 4));
        let plain = |x: &Tensor| {
            let centred = x.broadcast_sub(&x.mean_keepdim(D::Minus1)?)?;
            let variance = centred.sqr()?.mean_keepdim(D::Minus1)?;
            centred
                .broadcast_div(&(variance + 1e-5)?.sqrt()?)?
                .broadcast_mul(&weight)?
                .broadcast_add(&bias)
        };
        agree(
            &[2, 3, 6],
            1e-9,
            |x| layer_norm_cpu(x, &weight, &bias, 1e-5),
            plain,
        );
        agree(
            &[2, 3, 6],
            1e-9,
            |x| layer_norm_ops(x, &weight, &bias, 1e-5),
            plain,
        );
    }

    fn plain_linear(weight: &Tensor, bias: &Tensor) -> candle_nn::Linear {
        candle_nn::Linear::new(weight.clone(), Some(bias.clone()))
    }

    #[test]
    fn mlp_matches_plain_ops_and_their_autograd() {
        let (w1, b1, w2, b2) = (
            random(&[8, 6], 3),
            random(&[8], 4),
            random(&[6, 8], 5),
            random(&[6], 6),
        );
        // candle's own GELU backward rounds 1/√(2π) to 0.398942, so it is
        // only that close to the exact slope.
        let cases = [(Activation::QuickGelu, 1e-9), (Activation::Gelu, 1e-5)];
        for ((activation, tolerance), cpu) in
            cases.into_iter().flat_map(|c| [(c, true), (c, false)])
        {
            let mlp = Mlp::new(
                Linear::new(w1.clone(), Some(b1.clone())).unwrap(),
                Linear::new(w2.clone(), Some(b2.clone())).unwrap(),
                activation,
            );
            agree(
                &[2, 3, 6],
                tolerance,
                |x| mlp.forward_with(x, cpu),
                |x| {
                    use candle_core::Module;
                    let h = plain_linear(&w1, &b1).forward(x)?;
                    let h = match activation {
                        Activation::QuickGelu => {
                            (&h * candle_nn::ops::sigmoid(&(&h * 1.702)?)?)?
                        }
                        Activation::Gelu => h.gelu_erf()?,
                    };
                    plain_linear(&w2, &b2).forward(&h)
                },
            );
        }
    }

    #[test]
    fn the_one_pass_quick_gelu_equals_its_formula() {
        let (x, grad) = (random(&[3, 40], 7), random(&[3, 40], 8));
        let gelu = Activation::QuickGelu;
        for (fused, formula) in [
            (gelu.apply(&x, true), gelu.apply(&x, false)),
            (
                gelu.backward(&x, &grad, true),
                gelu.backward(&x, &grad, false),
            ),
        ] {
            let (fused, formula) = (fused.unwrap(), formula.unwrap());
            let difference = (fused - formula)
                .unwrap()
                .abs()
                .unwrap()
                .max_keepdim(1)
                .unwrap();
            assert!(difference.max(0).unwrap().to_vec1::<f64>().unwrap()[0] < 1e-12);
        }
    }

    #[test]
    fn attention_matches_plain_ops_and_their_autograd() {
        let (b, n, d, heads) = (2, 5, 6, 2);
        let parts: Vec<(Tensor, Tensor)> = (0..4)
            .map(|i| (random(&[d, d], 10 + i), random(&[d], 20 + i)))
            .collect();
        let linear = |i: usize| {
            Linear::new(parts[i].0.clone(), Some(parts[i].1.clone())).unwrap()
        };
        let attention =
            Attention::new(linear(0), linear(1), linear(2), linear(3), heads);
        let causal: Vec<f64> = (0..n * n)
            .map(|k| if k % n > k / n { -1e9 } else { 0.0 })
            .collect();
        let causal = Tensor::from_vec(causal, (n, n), &Device::Cpu).unwrap();
        let paths = [Attention::forward_cpu, Attention::forward_ops];
        let cases = [None, Some(&causal)]
            .into_iter()
            .flat_map(|mask| [n, 2].map(|queries| (mask, queries)))
            .flat_map(|case| paths.map(|path| (case, path)));
        for ((mask, queries), path) in cases {
            agree(
                &[b, n, d],
                1e-9,
                |x| path(&attention, x, queries, mask),
                |x| {
                    use candle_core::Module;
                    let project = |i: usize, x: &Tensor| {
                        plain_linear(&parts[i].0, &parts[i].1).forward(x)
                    };
                    let split = |t: Tensor| {
                        t.reshape((b, n, heads, d / heads))?
                            .transpose(1, 2)?
                            .contiguous()
                    };
                    let q = split((project(0, x)? / ((d / heads) as f64).sqrt())?)?;
                    let (k, v) = (split(project(1, x)?)?, split(project(2, x)?)?);
                    let mut scores = q.matmul(&k.t()?)?;
                    if let Some(mask) = mask {
                        scores = scores.broadcast_add(mask)?;
                    }
                    let e = scores
                        .broadcast_sub(&scores.max_keepdim(D::Minus1)?)?
                        .exp()?;
                    let p = e.broadcast_div(&e.sum_keepdim(D::Minus1)?)?;
                    let mixed = p.matmul(&v)?.transpose(1, 2)?.reshape((b, n, d))?;
                    project(3, &mixed)?.narrow(1, 0, queries)
                },
            );
        }
    }

    #[test]
    fn weights_get_no_gradient_and_untracked_inputs_record_nothing() {
        let weight = Var::from_tensor(&random(&[3, 4], 1)).unwrap();
        let x = Var::from_tensor(&random(&[2, 4], 2)).unwrap();
        let grads = Linear::new(weight.as_tensor().clone(), None)
            .unwrap()
            .forward(&x)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        assert!(grads.get(&x).is_some());
        assert!(
            grads.get(&weight).is_none(),
            "a frozen weight got a gradient"
        );
        let y = Linear::new(weight.as_tensor().clone(), None)
            .unwrap()
            .forward(&x.as_tensor().detach())
            .unwrap();
        assert!(!y.track_op(), "an untracked input still recorded an op");
        assert_eq!(y.dtype(), DType::F64);
    }
}

//! GroupNorm, optionally followed by swish (x · sigmoid(x)), as one layer with
//! a backward derived by hand: taming's `Normalize` and `nonlinearity`, which
//! the VQGAN applies before nearly every convolution. Built from candle's
//! operations, the pair takes a dozen passes over the picture and keeps half
//! a dozen intermediate results for the backward pass; on the CPU this layer
//! takes two passes, one per group in parallel, and keeps only its input.
//!
//! Per group of channels, with n = (x − μ)/σ and a = γ n + β:
//!   y = a (or swish(a) = a · s, s = sigmoid(a)),
//!   ∂L/∂a = g (or g · (s + a s (1 − s))), ∂L/∂n = γ ∂L/∂a,
//!   ∂L/∂x = (∂L/∂n − mean(∂L/∂n) − n · mean(n ∂L/∂n)) / σ.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use rayon::prelude::*;

use crate::nn::cpu::{Element, Values};

/// GroupNorm with a learned scale γ and shift β per channel, frozen.
#[derive(Debug, Clone)]
pub struct GroupNorm {
    groups: usize,
    eps: f64,
    weight: Tensor,
    bias: Tensor,
}

impl GroupNorm {
    /// `weight` and `bias` of `channels` each, as torch's `nn.GroupNorm`
    /// names them.
    pub fn new(
        groups: usize,
        channels: usize,
        eps: f64,
        vb: VarBuilder,
    ) -> candle_core::Result<GroupNorm> {
        if groups == 0 || channels % groups != 0 {
            candle_core::bail!(
                "GroupNorm: {channels} channels do not split into {groups} groups"
            )
        }
        Ok(GroupNorm {
            groups,
            eps,
            weight: vb.get(channels, "weight")?.detach(),
            bias: vb.get(channels, "bias")?.detach(),
        })
    }

    /// The normalised `x` `[batch, channels, …]`, through swish when `swish`.
    pub fn forward(&self, x: &Tensor, swish: bool) -> candle_core::Result<Tensor> {
        match (x.device(), x.dtype()) {
            (Device::Cpu, DType::F32) => self.fused::<f32>(x, swish),
            (Device::Cpu, DType::F64) => self.fused::<f64>(x, swish),
            _ => self.composed(x, swish),
        }
    }

    /// The same with candle's operations, for other devices and half floats.
    fn composed(&self, x: &Tensor, swish: bool) -> candle_core::Result<Tensor> {
        let dims = x.dims().to_vec();
        let (batch, channels) = (dims[0], dims[1]);
        // Half floats are normalised in f32, as candle's GroupNorm does.
        let internal = match x.dtype() {
            DType::F64 => DType::F64,
            _ => DType::F32,
        };
        let groups = x.to_dtype(internal)?.reshape((batch, self.groups, ()))?;
        let centred = groups.broadcast_sub(&groups.mean_keepdim(2)?)?;
        let variance = centred.sqr()?.mean_keepdim(2)?;
        let normed = centred.broadcast_div(&(variance + self.eps)?.sqrt()?)?;
        let mut per_channel = vec![1; dims.len()];
        per_channel[1] = channels;
        let dtype = x.dtype();
        let a = normed
            .to_dtype(dtype)?
            .reshape(dims)?
            .broadcast_mul(
                &self
                    .weight
                    .to_dtype(dtype)?
                    .reshape(per_channel.as_slice())?,
            )?
            .broadcast_add(
                &self.bias.to_dtype(dtype)?.reshape(per_channel.as_slice())?,
            )?;
        match swish {
            true => &a * candle_nn::ops::sigmoid(&a)?,
            false => Ok(a),
        }
    }

    fn fused<T: Element>(
        &self,
        x: &Tensor,
        swish: bool,
    ) -> candle_core::Result<Tensor> {
        let groups = self.groups;
        let (batch, channels) = (x.dim(0)?, x.dim(1)?);
        let pixels = x.elem_count() / (batch * channels);
        let group = Group {
            length: channels / groups * pixels,
            pixels,
            scales: self.weight.to_dtype(DType::F64)?.to_vec1()?,
            shifts: self.bias.to_dtype(DType::F64)?.to_vec1()?,
            eps: self.eps,
            swish,
            channels_per_group: channels / groups,
        };
        let x = x.contiguous()?;
        let mut output = vec![T::zero(); x.elem_count()];
        output
            .par_chunks_mut(group.length)
            .zip(Values::of(&x)?.get::<T>()?.par_chunks(group.length))
            .enumerate()
            .for_each(|(k, (out, x))| group.forward(k % groups, x, out));
        let output = Tensor::from_vec(output, x.shape(), x.device())?;
        crate::nn::attach::attach("group-norm", &x, output, move |x, _, grad| {
            let grad = grad.contiguous()?;
            let (input, grad_output) = (Values::of(x)?, Values::of(&grad)?);
            let mut grad_input = vec![T::zero(); x.elem_count()];
            grad_input
                .par_chunks_mut(group.length)
                .zip(
                    (input.get::<T>()?.par_chunks(group.length))
                        .zip(grad_output.get::<T>()?.par_chunks(group.length)),
                )
                .enumerate()
                .for_each(|(k, (gx, (x, g)))| group.backward(k % groups, x, g, gx));
            Tensor::from_vec(grad_input, x.shape(), x.device())
        })
    }
}

/// What one group of one picture needs: its size, its channels' γ and β.
struct Group {
    /// Numbers in a group: channels_per_group × pixels.
    length: usize,
    pixels: usize,
    channels_per_group: usize,
    scales: Vec<f64>,
    shifts: Vec<f64>,
    eps: f64,
    swish: bool,
}

impl Group {
    /// μ and 1/σ of one group, summed in f64.
    fn statistics<T: Element>(&self, x: &[T]) -> (f64, f64) {
        let mean = x.iter().map(|v| wide(*v)).sum::<f64>() / x.len() as f64;
        let variance = x.iter().map(|v| (wide(*v) - mean).powi(2)).sum::<f64>()
            / x.len() as f64;
        (mean, 1.0 / (variance + self.eps).sqrt())
    }

    /// The group's channels, each with its numbers and a = x · slope + offset
    /// (γ and β folded with μ and 1/σ), in `T`.
    fn channels<'a, T: Element>(
        &'a self,
        group: usize,
        (mean, inverse): (f64, f64),
    ) -> impl Iterator<Item = (std::ops::Range<usize>, T, T)> + 'a {
        (0..self.channels_per_group).map(move |c| {
            let channel = group * self.channels_per_group + c;
            let (scale, shift) = (self.scales[channel], self.shifts[channel]);
            let slope = scale * inverse;
            let range = c * self.pixels..(c + 1) * self.pixels;
            (range, T::from_f64(slope), T::from_f64(shift - mean * slope))
        })
    }

    fn forward<T: Element>(&self, group: usize, x: &[T], out: &mut [T]) {
        let statistics = self.statistics(x);
        for (range, slope, offset) in self.channels::<T>(group, statistics) {
            for (y, &v) in out[range.clone()].iter_mut().zip(&x[range]) {
                let a = v * slope + offset;
                *y = if self.swish { a * sigmoid(a) } else { a };
            }
        }
    }

    fn backward<T: Element>(&self, group: usize, x: &[T], g: &[T], gx: &mut [T]) {
        let statistics = self.statistics(x);
        let (mean, inverse) = statistics;
        let normed = |v: T| (wide(v) - mean) * inverse;
        // ∂L/∂n at every number, kept in `gx`, and the two means the formula needs.
        let (mut sum, mut sum_normed) = (0.0, 0.0);
        for ((range, slope, offset), scale) in self
            .channels::<T>(group, statistics)
            .zip(&self.scales[group * self.channels_per_group..])
        {
            let scale = T::from_f64(*scale);
            for ((out, &v), &g) in gx[range.clone()]
                .iter_mut()
                .zip(&x[range.clone()])
                .zip(&g[range])
            {
                let a = v * slope + offset;
                let swish_slope = match self.swish {
                    true => {
                        let s = sigmoid(a);
                        s + a * s * (T::one() - s)
                    }
                    false => T::one(),
                };
                *out = g * swish_slope * scale;
                sum += wide(*out);
                sum_normed += wide(*out) * normed(v);
            }
        }
        let (mean_grad, mean_grad_normed) =
            (sum / x.len() as f64, sum_normed / x.len() as f64);
        for (out, &v) in gx.iter_mut().zip(x) {
            let gn = wide(*out);
            *out = T::from_f64(
                (gn - mean_grad - normed(v) * mean_grad_normed) * inverse,
            );
        }
    }
}

/// The number in f64 (num_traits has a `to_f64` of its own).
fn wide<T: Element>(v: T) -> f64 {
    <T as candle_core::WithDType>::to_f64(v)
}

fn sigmoid<T: Element>(a: T) -> T {
    T::one() / (T::one() + (-a).exp_in_loop())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::compare::max_difference;
    use candle_core::Var;
    use candle_nn::VarMap;

    fn norm(channels: usize) -> candle_core::Result<GroupNorm> {
        let map = VarMap::new();
        let vb = VarBuilder::from_varmap(&map, DType::F64, &Device::Cpu);
        let norm = GroupNorm::new(4, channels, 1e-6, vb)?;
        // γ and β away from 1 and 0, so that a mix-up of channels shows.
        let weight = Tensor::randn(1f64, 0.5, channels, &Device::Cpu)?;
        let bias = Tensor::randn(0f64, 0.5, channels, &Device::Cpu)?;
        Ok(GroupNorm {
            weight,
            bias,
            ..norm
        })
    }

    #[test]
    fn the_fused_layer_and_its_gradient_are_candles_operations()
    -> candle_core::Result<()> {
        let norm = norm(8)?;
        let x = Tensor::randn(0.3f64, 2.0, (2, 8, 5, 3), &Device::Cpu)?;
        let weights = Tensor::randn(0f64, 1.0, (2, 8, 5, 3), &Device::Cpu)?;
        // f64, and f32 with its own eˣ, each against candle's operations.
        for (dtype, tolerance) in [(DType::F64, 1e-12), (DType::F32, 1e-5)] {
            let x = Var::from_tensor(&x.to_dtype(dtype)?)?;
            let weights = weights.to_dtype(dtype)?;
            for swish in [false, true] {
                let fused = norm.forward(x.as_tensor(), swish)?;
                let composed = norm.composed(x.as_tensor(), swish)?;
                let gradient = |y: Tensor| -> candle_core::Result<Tensor> {
                    let grads = (y * &weights)?.sum_all()?.backward()?;
                    Ok(grads.get(x.as_tensor()).expect("a gradient").clone())
                };
                let (value, grad) = (
                    max_difference(&fused, &composed).expect("same shapes"),
                    max_difference(&gradient(fused)?, &gradient(composed)?)
                        .expect("same shapes"),
                );
                assert!(
                    value < tolerance && grad < tolerance,
                    "{dtype:?}, swish {swish}: {value} {grad}"
                );
            }
        }
        Ok(())
    }

    #[test]
    fn the_gradient_matches_finite_differences() -> candle_core::Result<()> {
        let norm = norm(8)?;
        let x = Tensor::randn(0f64, 1.0, (1, 8, 3, 3), &Device::Cpu)?;
        let weights = Tensor::randn(0f64, 1.0, (1, 8, 3, 3), &Device::Cpu)?;
        let loss = |x: &Tensor| {
            (norm.forward(x, true)? * &weights)?
                .sum_all()?
                .to_scalar::<f64>()
        };
        let var = Var::from_tensor(&x)?;
        let grads = (norm.forward(var.as_tensor(), true)? * &weights)?
            .sum_all()?
            .backward()?;
        let grad: Vec<f64> = grads
            .get(var.as_tensor())
            .expect("a gradient")
            .flatten_all()?
            .to_vec1()?;
        for k in [0, 17, 40, 71] {
            let mut bump = vec![0.0; 72];
            bump[k] = 1e-6;
            let bump = Tensor::from_vec(bump, (1, 8, 3, 3), &Device::Cpu)?;
            let numeric = (loss(&(&x + &bump)?)? - loss(&(&x - &bump)?)?) / 2e-6;
            assert!(
                (numeric - grad[k]).abs() < 1e-6,
                "{k}: {numeric} vs {}",
                grad[k]
            );
        }
        Ok(())
    }
}

//! A convolution with fixed weights, for the real generators (the taming
//! VQGAN, BigGAN) that guidance runs through but never trains.

use candle_core::{Module, Tensor};
use candle_nn::VarBuilder;

use crate::nn::{im2col, winograd};

/// A convolution with fixed weights (`torch.nn.Conv2d`'s names: `weight`,
/// `bias`). candle's backward of a convolution runs a transposed
/// convolution, 2.6 times slower on the CPU than the convolution itself. With
/// stride 1, the gradient at the input is a plain convolution of the output's
/// gradient with the kernel flipped and its channels swapped, so that is how
/// the backward runs here.
pub struct Conv2d {
    weight: Tensor,
    /// `[1, out, 1, 1]`, or none (BigGAN's attention has no bias).
    bias: Option<Tensor>,
    padding: usize,
    stride: usize,
    /// `[in, out, k, k]`, flipped in both spatial directions (stride 1 only).
    flipped: Option<Tensor>,
}

impl Conv2d {
    /// `weight` `[to, from, kernel, kernel]` and `bias` `[to]` from `vb`.
    pub fn new(
        vb: VarBuilder,
        from: usize,
        to: usize,
        kernel: usize,
        padding: usize,
        stride: usize,
    ) -> candle_core::Result<Conv2d> {
        let weight = vb.get((to, from, kernel, kernel), "weight")?;
        let bias = vb.get(to, "bias")?;
        Conv2d::from_weights(weight, Some(bias), padding, stride)
    }

    /// A convolution with these weights (`[out, in, k, k]`, bias `[out]`).
    pub fn from_weights(
        weight: Tensor,
        bias: Option<Tensor>,
        padding: usize,
        stride: usize,
    ) -> candle_core::Result<Conv2d> {
        let weight = weight.detach();
        let out = weight.dim(0)?;
        let bias = bias
            .map(|b| b.detach().reshape((1, out, 1, 1)))
            .transpose()?;
        let flipped = (stride == 1)
            .then(|| weight.flip(&[2, 3])?.transpose(0, 1)?.contiguous())
            .transpose()?;
        Ok(Conv2d {
            weight,
            bias,
            padding,
            stride,
            flipped,
        })
    }
}

// ANCHOR: conv
impl Module for Conv2d {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let product = |x: &Tensor| {
            let convolved = match self.stride {
                1 => convolve(x, &self.weight, self.padding)?,
                stride => x.conv2d(&self.weight, self.padding, stride, 1, 1)?,
            };
            match &self.bias {
                Some(bias) => convolved.broadcast_add(bias),
                None => Ok(convolved),
            }
        };
        let Some(flipped) = &self.flipped else {
            return product(x);
        };
        let kernel = self.weight.dim(2)?;
        // The input's border `padding` wide is cut off in the forward pass:
        // the gradient's is padded by kernel − 1 − padding.
        let padding = kernel - 1 - self.padding;
        let flipped = flipped.clone();
        crate::nn::attach::attach(
            "frozen-conv2d",
            x,
            product(&x.detach())?,
            move |_, _, grad| convolve(grad, &flipped, padding),
        )
    }
}
// ANCHOR_END: conv

/// A stride-1 convolution by the quickest route on the CPU: Winograd's for 3×3
/// kernels on large enough pictures, one product of columns otherwise.
fn convolve(
    x: &Tensor,
    weight: &Tensor,
    padding: usize,
) -> candle_core::Result<Tensor> {
    if winograd::applies(x, weight, padding) {
        winograd::conv3x3(x, weight, padding)
    } else {
        im2col::conv2d(x, weight, padding)
    }
}

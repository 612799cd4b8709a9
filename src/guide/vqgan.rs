//! VQGAN+CLIP's generator, as Katherine Crowson's notebook and nerdyrodent's
//! VQGAN-CLIP build it: Adam changes the latent grid `z` of a taming VQGAN;
//! each step snaps it to the codebook on the way forward (the straight-through
//! quantiser), decodes, maps [-1, 1] to [0, 1] with a clamp that still lets a
//! gradient through where it points back inside (`ClampWithGrad`), and after
//! the step keeps `z` within the codebook's range, channel by channel.

use candle_core::backend::{BackendDevice, BackendStorage};
use candle_core::{
    CpuStorage, CudaStorage, CustomOp1, DType, Layout, MetalStorage, Shape, Tensor,
    Var,
};
use rand::Rng;

use super::generators::Generator;
use crate::models::vqgan::{VqGan, nearest_codes};

/// The VQGAN as a generator: `z` `[1, embed_dim, h, w]` is the variable.
pub struct VqganGenerator<'a> {
    model: &'a VqGan,
    z: Var,
    /// Each channel's smallest and largest codebook value, `[1, d, 1, 1]`.
    low: Tensor,
    high: Tensor,
}

impl<'a> VqganGenerator<'a> {
    /// Random codes, as the notebooks start: every position of the grid of a
    /// `side`×`side` picture one codebook entry, drawn uniformly.
    pub fn random(
        model: &'a VqGan,
        side: usize,
        rng: &mut impl Rng,
    ) -> anyhow::Result<Self> {
        let factor = model.config.downsampling();
        anyhow::ensure!(
            side >= factor && side % factor == 0,
            "the VQGAN draws pictures whose side is a multiple of {factor}, got {side}"
        );
        let cells = side / factor;
        let codes: Vec<u32> = (0..cells * cells)
            .map(|_| rng.random_range(0..model.config.n_embed as u32))
            .collect();
        let device = model.quantize.codebook().device();
        let codes = Tensor::from_vec(codes, (1, cells, cells), device)?;
        Self::from_latents(model, &model.codes_to_latents(&codes)?)
    }

    /// A picture `[1, 3, s, s]` in [0, 1], encoded (an init image).
    pub fn from_picture(model: &'a VqGan, picture: &Tensor) -> anyhow::Result<Self> {
        let picture = picture.affine(2.0, -1.0)?.to_dtype(model.dtype())?;
        Self::from_latents(model, &model.encode(&picture)?)
    }

    /// Starts from the latent grid `latents` `[1, embed_dim, h, w]` as it is
    /// (not yet snapped to the codebook).
    pub fn from_latents(model: &'a VqGan, latents: &Tensor) -> anyhow::Result<Self> {
        // z, Adam's moments and the picture stay in f32 even when the
        // weights are held in f16 or bf16.
        let codebook = model.quantize.codebook().to_dtype(DType::F32)?;
        let range = |extreme: Tensor| extreme.reshape((1, (), 1, 1));
        Ok(VqganGenerator {
            model,
            z: Var::from_tensor(&latents.detach().to_dtype(DType::F32)?)?,
            low: range(codebook.min(0)?)?,
            high: range(codebook.max(0)?)?,
        })
    }
}

// ANCHOR: render
impl Generator for VqganGenerator<'_> {
    fn variables(&self) -> Vec<Var> {
        vec![self.z.clone()]
    }

    fn render(&self) -> candle_core::Result<Tensor> {
        let z = self.z.as_tensor();
        let dtype = self.model.dtype();
        let codes =
            nearest_codes(&z.to_dtype(dtype)?, self.model.quantize.codebook())?;
        let snapped = self.model.codes_to_latents(&codes)?.to_dtype(DType::F32)?;
        // Forward: the codebook entries; backward: straight to z.
        let quantised = (z + (snapped - z)?.detach())?;
        let decoded = self.model.decode(&quantised.to_dtype(dtype)?)?;
        let picture = decoded.to_dtype(DType::F32)?.affine(0.5, 0.5)?;
        clamp_with_grad(&picture, 0.0, 1.0)
    }

    fn after_step(&self) -> candle_core::Result<()> {
        let z = self.z.as_tensor();
        self.z.set(
            &z.broadcast_maximum(&self.low)?
                .broadcast_minimum(&self.high)?,
        )
    }
}
// ANCHOR_END: render

// ANCHOR: clamp_with_grad
/// `x` clamped to [low, high] whose gradient passes wherever it points back
/// into the range (the notebooks' `ClampWithGrad`): a plain clamp would stop
/// every gradient at a pixel that has left the range, and it could never
/// return.
pub fn clamp_with_grad(
    x: &Tensor,
    low: f64,
    high: f64,
) -> candle_core::Result<Tensor> {
    let clamped = x.clamp(low, high)?.detach();
    let gated = x.apply_op1(InwardGradient { low, high })?;
    clamped + (&gated - gated.detach())?
}
// ANCHOR_END: clamp_with_grad

/// Identity on the way forward; on the way back, the gradient `g` at `x`
/// passes where g · (x − clamp(x)) ≥ 0.
struct InwardGradient {
    low: f64,
    high: f64,
}

impl CustomOp1 for InwardGradient {
    fn name(&self) -> &'static str {
        "inward-gradient"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        Ok((contiguous_copy(storage, layout)?, layout.shape().clone()))
    }

    fn cuda_fwd(
        &self,
        storage: &CudaStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CudaStorage, Shape)> {
        Ok((contiguous_copy(storage, layout)?, layout.shape().clone()))
    }

    fn metal_fwd(
        &self,
        storage: &MetalStorage,
        layout: &Layout,
    ) -> candle_core::Result<(MetalStorage, Shape)> {
        Ok((contiguous_copy(storage, layout)?, layout.shape().clone()))
    }

    // ANCHOR: inward
    fn bwd(
        &self,
        x: &Tensor,
        _: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let outside = (x - x.clamp(self.low, self.high)?)?;
        let inward = (grad * outside)?.ge(0.0)?.to_dtype(grad.dtype())?;
        Ok(Some((grad * inward)?))
    }
    // ANCHOR_END: inward
}

/// The values of `storage` seen through `layout`, as a new contiguous
/// storage, on any device.
fn contiguous_copy<S>(storage: &S, layout: &Layout) -> candle_core::Result<S>
where
    S: BackendStorage,
    S::Device: BackendDevice<Storage = S>,
{
    let mut copy = storage
        .device()
        .zeros_impl(layout.shape(), storage.dtype())?;
    storage.copy_strided_src(&mut copy, 0, layout)?;
    Ok(copy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn the_clamp_lets_gradients_through_that_point_back_inside() -> anyhow::Result<()>
    {
        let x = Var::new(&[-0.5f32, 0.5, 1.5, -0.5, 1.5], &Device::Cpu)?;
        let y = clamp_with_grad(x.as_tensor(), 0.0, 1.0)?;
        assert_eq!(y.to_vec1::<f32>()?, [0.0, 0.5, 1.0, 0.0, 1.0]);
        // Gradient descent moves x against g: below the range a negative g
        // (x grows) points inside, above it a positive one.
        let g = Tensor::new(&[-1f32, 2.0, 3.0, 4.0, -5.0], &Device::Cpu)?;
        let grads = (y * &g)?.sum_all()?.backward()?;
        let passed = grads.get(x.as_tensor()).unwrap().to_vec1::<f32>()?;
        assert_eq!(passed, [-1.0, 2.0, 3.0, 0.0, 0.0]);
        Ok(())
    }
}

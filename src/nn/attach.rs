//! A layer's own backward pass, attached to candle's graph. A layer computes
//! its output without recording a graph (no gradient for its weights, and
//! none of candle's intermediate results kept), then [`attach`] ties the
//! output to the input with a backward the layer derived by hand. The frozen
//! CLIP's layers and the VQGAN's convolutions are built this way.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

/// A gradient from the output of a layer to its input.
type Backward = dyn Fn(&Tensor, &Tensor, &Tensor) -> Result<Tensor> + Send + Sync;

/// The op that ties an output computed without gradient to its input: its
/// forward copies the output, its backward is the layer's.
struct Attached {
    name: &'static str,
    backward: Box<Backward>,
}

impl Attached {
    fn copy<S: BackendStorage>(output: &S, layout: &Layout) -> Result<(S, Shape)> {
        // The outputs come fresh from a forward op: contiguous, from offset 0.
        if layout.contiguous_offsets() != Some((0, layout.shape().elem_count())) {
            candle_core::bail!("a frozen layer's output must be contiguous")
        }
        Ok((output.try_clone(layout)?, layout.shape().clone()))
    }
}

impl CustomOp2 for Attached {
    fn name(&self) -> &'static str {
        self.name
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        output: &CpuStorage,
        layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        Attached::copy(output, layout)
    }

    // Compiled in every build: without the feature, candle's stand-in types.
    fn cuda_fwd(
        &self,
        _: &candle_core::CudaStorage,
        _: &Layout,
        output: &candle_core::CudaStorage,
        layout: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        Attached::copy(output, layout)
    }

    fn metal_fwd(
        &self,
        _: &candle_core::MetalStorage,
        _: &Layout,
        output: &candle_core::MetalStorage,
        layout: &Layout,
    ) -> Result<(candle_core::MetalStorage, Shape)> {
        Attached::copy(output, layout)
    }

    fn bwd(
        &self,
        input: &Tensor,
        _: &Tensor,
        output: &Tensor,
        grad_output: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some((self.backward)(input, output, grad_output)?), None))
    }
}

/// `output`, computed from `input` without gradient, now with `backward`
/// (input, output, gradient at the output → gradient at the input). When no
/// gradient can reach `input`, `output` is returned as it is, uncopied.
pub fn attach(
    name: &'static str,
    input: &Tensor,
    output: Tensor,
    backward: impl Fn(&Tensor, &Tensor, &Tensor) -> Result<Tensor>
    + Send
    + Sync
    + 'static,
) -> Result<Tensor> {
    // Weights held as `Var`s would otherwise make the output a node of
    // the graph that no gradient reaches.
    let output = output.detach();
    if !input.track_op() {
        return Ok(output);
    }
    input.apply_op2(
        &output,
        Attached {
            name,
            backward: Box::new(backward),
        },
    )
}

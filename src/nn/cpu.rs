//! What the hand-written CPU kernels share (CLIP's frozen layers, GroupNorm,
//! Winograd's convolution): the floats they take, with an eˣ the compiler can
//! vectorise, and the values of a tensor read in place.

use candle_core::{DType, Result, Storage, StorageRef, Tensor, WithDType};

/// The floats the kernels take.
pub trait Element:
    num_traits::Float + num_traits::NumAssign + WithDType + Send + Sync
{
    /// eˣ for the loops of softmax and QuickGELU.
    fn exp_in_loop(self) -> Self;
}

impl Element for f64 {
    fn exp_in_loop(self) -> f64 {
        self.exp()
    }
}

impl Element for f32 {
    /// A polynomial the compiler can vectorise (libm's `expf` is a call per
    /// value): eˣ = 2ⁿ · eᶠ with n = round(x / ln 2) and f = x − n · ln 2
    /// (ln 2 in two parts, so that f keeps its low bits), |f| ≤ ½ ln 2, and
    /// eᶠ by its Taylor series to the 7th power.
    #[inline(always)]
    fn exp_in_loop(self) -> f32 {
        // Adding 1.5 · 2²³ rounds to an integer, which the low bits then hold.
        const ROUND: f32 = 12_582_912.0;
        const LN_2_HIGH: f32 = 0.693_145_75;
        const LN_2_LOW: f32 = 1.428_606_8e-6;
        // Keeps 2ⁿ a normal float: e⁻⁸⁷ stands for everything smaller.
        let x = self.clamp(-87.0, 88.0);
        let shifted = x * std::f32::consts::LOG2_E + ROUND;
        let n = shifted - ROUND;
        let f = x - n * LN_2_HIGH - n * LN_2_LOW;
        let mut power = 1.0 / 5040.0;
        for c in [
            1.0 / 720.0,
            1.0 / 120.0,
            1.0 / 24.0,
            1.0 / 6.0,
            0.5,
            1.0,
            1.0,
        ] {
            power = power * f + c;
        }
        let n = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
        power * f32::from_bits(((n + 127) as u32) << 23)
    }
}

/// Whether the kernels take `t`: an f32 or f64 tensor on the CPU.
pub fn take(t: &Tensor) -> bool {
    t.device().is_cpu() && matches!(t.dtype(), DType::F32 | DType::F64)
}

/// The values of a contiguous CPU tensor, borrowed for as long as this lives.
pub struct Values<'a>(StorageRef<'a>, (usize, usize));

impl<'a> Values<'a> {
    pub fn of(t: &'a Tensor) -> Result<Values<'a>> {
        let (storage, layout) = t.storage_and_layout();
        match layout.contiguous_offsets() {
            Some(range) => Ok(Values(storage, range)),
            None => candle_core::bail!("the CPU kernels take contiguous tensors"),
        }
    }

    pub fn get<T: Element>(&self) -> Result<&[T]> {
        match &*self.0 {
            Storage::Cpu(cpu) => {
                Ok(&T::cpu_storage_as_slice(cpu)?[self.1.0..self.1.1])
            }
            other => candle_core::bail!(
                "the CPU kernels got a tensor on {:?}",
                other.device()
            ),
        }
    }
}

/// Runs its body with `$t` standing for the Rust type of `$dtype` (f32 or f64).
macro_rules! with_element {
    ($dtype:expr, $t:ident => $body:expr) => {
        match $dtype {
            candle_core::DType::F32 => {
                type $t = f32;
                $body
            }
            candle_core::DType::F64 => {
                type $t = f64;
                $body
            }
            other => {
                candle_core::bail!("the CPU kernels take f32 or f64, not {other:?}")
            }
        }
    };
}
pub(crate) use with_element;

//! How a result is held against its oracle: the largest difference anywhere.

use candle_core::{DType, Tensor};

/// The largest absolute difference between two tensors of one shape (in f32).
pub fn max_difference(a: &Tensor, b: &Tensor) -> candle_core::Result<f32> {
    if a.dims() != b.dims() {
        return Err(candle_core::Error::Msg(format!(
            "compared tensors differ in shape: {:?} and {:?}",
            a.dims(),
            b.dims()
        )));
    }
    (a.to_dtype(DType::F32)? - b.to_dtype(DType::F32)?)?
        .abs()?
        .max_all()?
        .to_scalar::<f32>()
}

/// A golden test's check: `ours` has the shape of the oracle's `theirs` and
/// is within `tolerance` of it everywhere. Prints the difference, which the
/// book's tables quote.
pub fn assert_close(name: &str, ours: &Tensor, theirs: &Tensor, tolerance: f32) {
    assert_eq!(ours.dims(), theirs.dims(), "{name}: shapes");
    let difference = max_difference(ours, theirs).unwrap();
    eprintln!("{name}: max difference {difference:.1e}");
    assert!(
        difference <= tolerance,
        "{name}: max difference {difference}"
    );
}

/// Rows of f64 numbers (a from-scratch computation's) as an f32 tensor
/// `[rows, columns]` on the CPU, for the candle side of a comparison.
#[cfg(test)]
pub(crate) fn rows_to_tensor(rows: &[Vec<f64>]) -> candle_core::Result<Tensor> {
    let flat: Vec<f32> = rows.iter().flatten().map(|&v| v as f32).collect();
    let columns = rows.first().map_or(0, Vec::len);
    Tensor::from_vec(flat, (rows.len(), columns), &candle_core::Device::Cpu)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn finds_the_largest_gap_and_refuses_other_shapes() -> candle_core::Result<()> {
        let a = Tensor::new(&[1f32, 2.0, 3.0], &Device::Cpu)?;
        let b = Tensor::new(&[1f32, 2.5, 2.0], &Device::Cpu)?;
        assert_eq!(max_difference(&a, &b)?, 1.0);
        assert_eq!(max_difference(&a, &a)?, 0.0);
        let error = max_difference(&a, &a.reshape((3, 1))?).unwrap_err();
        assert!(error.to_string().contains("[3] and [3, 1]"), "{error}");
        Ok(())
    }
}

//! CPU kernels for the frozen layers (`frozen.rs`), in f32 and f64. The
//! layers written in candle ops pay for what the pictures do not need: a
//! fresh buffer and a pass over memory for every bias, scale, split and merge
//! of the heads, and the softmax. Here each matrix product writes straight
//! into place (after the bias, or into another product's sum), each head of
//! attention reads its columns where they lie, and LayerNorm takes one pass
//! over each row. Every layer keeps its ops version for other devices, and
//! the tests hold both against candle's autograd.

use candle_core::WithDType;

pub(crate) use crate::nn::cpu::with_element;
pub use crate::nn::cpu::{Element, Values, take};
use gemm::{Parallelism, gemm};
use rayon::prelude::*;

/// A matrix as gemm reads it: where it starts, and its row and column strides.
#[derive(Clone, Copy)]
struct Matrix<T> {
    at: *const T,
    row: usize,
    column: usize,
}

impl<T> Matrix<T> {
    fn rows(values: &[T], width: usize) -> Matrix<T> {
        Matrix {
            at: values.as_ptr(),
            row: width,
            column: 1,
        }
    }

    /// The same values read as the transpose.
    fn t(self) -> Matrix<T> {
        Matrix {
            row: self.column,
            column: self.row,
            ..self
        }
    }

    /// The view that starts `rows` rows and `columns` columns further on.
    fn offset(self, rows: usize, columns: usize) -> Matrix<T> {
        Matrix {
            at: self
                .at
                .wrapping_add(rows * self.row + columns * self.column),
            ..self
        }
    }
}

// SAFETY: a matrix is only read, from slices that outlive the threads.
unsafe impl<T> Send for Matrix<T> {}
unsafe impl<T> Sync for Matrix<T> {}

/// A buffer that several threads write, each to its own part.
#[derive(Clone, Copy)]
struct Shared<T>(*mut T);
// SAFETY: every user writes disjoint elements, and the buffer outlives the threads.
unsafe impl<T> Send for Shared<T> {}
unsafe impl<T> Sync for Shared<T> {}

impl<T> Shared<T> {
    /// Where element `offset` lies.
    fn at(self, offset: usize) -> *mut T {
        self.0.wrapping_add(offset)
    }
}

/// dst `[m, n]` (rows `dst_row` apart) = `keep`·dst + `scale`·a·b, on the calling thread.
///
/// # Safety
/// Each matrix must lie inside its buffer, and no other thread may touch
/// these elements of `dst` meanwhile.
#[allow(clippy::too_many_arguments)]
unsafe fn product<T: Element>(
    (m, n, k): (usize, usize, usize),
    dst: *mut T,
    dst_row: usize,
    keep: bool,
    a: Matrix<T>,
    b: Matrix<T>,
    scale: T,
) {
    // SAFETY: the caller's promise; gemm reads `dst` only when `keep` is set.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_row as isize,
            keep,
            a.at,
            a.column as isize,
            a.row as isize,
            b.at,
            b.column as isize,
            b.row as isize,
            T::one(),
            scale,
            false,
            false,
            false,
            Parallelism::None,
        )
    }
}

/// How the values of a `[k, n]` matrix are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Row-major `[k, n]`.
    Rows,
    /// Row-major `[n, k]`, read as its transpose: a layer's weight W
    /// `[out, in]` for x · Wᵀ.
    Transposed,
}

/// Σ xᵢ · mᵢ (+ bias): each `x` `[rows, k]` row-major and each `m` `[k, n]`
/// stored as its [`Layout`] says.
/// The threads split the columns: for the few rows of one picture a product
/// by rows keeps to one core, and each thread reads only its columns of `m`.
pub fn times_sum<T: Element>(
    terms: &[(&[T], &[T], Layout)],
    k: usize,
    n: usize,
    bias: Option<&[T]>,
) -> Vec<T> {
    let rows = terms[0].0.len() / k;
    // What makes the products below stay inside their buffers.
    assert!(
        terms
            .iter()
            .all(|(x, m, _)| x.len() == rows * k && m.len() == k * n)
            && bias.is_none_or(|b| b.len() == n),
        "a sum of [{rows}, {k}] · [{k}, {n}] products got other sizes"
    );
    let mut dst = Vec::with_capacity(rows * n);
    let threads = candle_core::utils::get_num_threads().clamp(1, n.div_ceil(16));
    // Blocks of whole 16-column lanes.
    let width = n.div_ceil(threads).div_ceil(16) * 16;
    let out = Shared(dst.as_mut_ptr());
    (0..n.div_ceil(width)).into_par_iter().for_each(|block| {
        let start = block * width;
        let columns = width.min(n - start);
        // Each block starts its own columns at the bias, or at zero: one
        // thread filling all of dst would leave the others waiting.
        for row in 0..rows {
            let at = out.at(row * n + start);
            // SAFETY: inside dst's capacity, in this block's columns.
            unsafe {
                match bias {
                    Some(bias) => std::ptr::copy_nonoverlapping(
                        bias[start..start + columns].as_ptr(),
                        at,
                        columns,
                    ),
                    None => std::ptr::write_bytes(at, 0, columns),
                }
            }
        }
        for &(x, m, layout) in terms {
            let m = match layout {
                Layout::Rows => Matrix::rows(m, n),
                Layout::Transposed => Matrix::rows(m, k).t(),
            };
            // SAFETY: x is rows × k and m is k × n (the caller checked), and
            // each block writes its own columns of dst.
            unsafe {
                product(
                    (rows, columns, k),
                    out.at(start),
                    n,
                    true,
                    Matrix::rows(x, k),
                    m.offset(0, start),
                    T::one(),
                )
            }
        }
    });
    // SAFETY: the blocks wrote every element.
    unsafe { dst.set_len(rows * n) };
    dst
}

/// `len` zeros, written by every thread (one would leave the others waiting).
fn zeros<T: Element>(len: usize) -> Vec<T> {
    const CHUNK: usize = 1 << 16;
    let mut values = Vec::with_capacity(len);
    let out = Shared(values.as_mut_ptr());
    (0..len.div_ceil(CHUNK)).into_par_iter().for_each(|chunk| {
        let start = chunk * CHUNK;
        // SAFETY: inside the capacity, each chunk once; all-zero bits are 0.0.
        unsafe { std::ptr::write_bytes(out.at(start), 0, CHUNK.min(len - start)) }
    });
    // SAFETY: every element was written.
    unsafe { values.set_len(len) };
    values
}

/// The shape of multi-head attention: `batch` sequences of `tokens`, each
/// token `heads · size` wide, of which the first `queries` ask: q is
/// `[batch, queries, width]`, k and v are `[batch, tokens, width]`.
#[derive(Clone, Copy)]
pub struct Heads {
    pub batch: usize,
    pub tokens: usize,
    pub queries: usize,
    pub heads: usize,
    pub size: usize,
}

impl Heads {
    fn width(self) -> usize {
        self.heads * self.size
    }

    /// The sizes of q and of k and v. It panics unless the buffers have
    /// them: that is what keeps the products inside the buffers.
    fn check<T>(self, (q, k, v): (&[T], &[T], &[T])) -> (usize, usize) {
        let asking = self.batch * self.queries * self.width();
        let all = self.batch * self.tokens * self.width();
        assert!(
            q.len() == asking
                && k.len() == all
                && v.len() == all
                && self.queries <= self.tokens,
            "attention of {} queries over {} tokens got q, k, v of {}, {}, {} values",
            self.queries,
            self.tokens,
            q.len(),
            k.len(),
            v.len()
        );
        (asking, all)
    }

    /// Head `h` of sequence `i` inside a `[batch, rows, width]` buffer.
    fn head<T>(self, values: &[T], rows: usize, i: usize, h: usize) -> Matrix<T> {
        Matrix::rows(values, self.width()).offset(i * rows, h * self.size)
    }

    /// Where head `h` of sequence `i` starts in a `[batch, rows, width]` buffer.
    fn head_at<T>(
        self,
        buffer: Shared<T>,
        rows: usize,
        i: usize,
        h: usize,
    ) -> *mut T {
        buffer.at(i * rows * self.width() + h * self.size)
    }

    /// Runs `f(sequence, head, its [queries, tokens] block of p)` for every
    /// head of every sequence, side by side.
    fn each<T: Element>(
        self,
        p: &mut [T],
        f: impl Fn(usize, usize, &mut [T]) + Sync,
    ) {
        p.par_chunks_mut(self.queries * self.tokens)
            .enumerate()
            .for_each(|(item, block)| {
                f(item / self.heads, item % self.heads, block)
            });
    }
}

/// For each head: P = softmax(scale · q·kᵀ + mask), and its output P·v.
/// Returns the heads' outputs side by side, `[batch, queries, width]`, and P,
/// `[batch, heads, queries, tokens]`.
pub fn attention<T: Element>(
    shape: Heads,
    (q, k, v): (&[T], &[T], &[T]),
    mask: Option<&[T]>,
    scale: T,
) -> (Vec<T>, Vec<T>) {
    let Heads {
        batch,
        tokens,
        queries,
        ..
    } = shape;
    shape.check((q, k, v));
    assert!(mask.is_none_or(|m| m.len() == tokens * tokens));
    let mut p = zeros(batch * shape.heads * queries * tokens);
    let mut mixed = zeros(batch * queries * shape.width());
    let out = Shared(mixed.as_mut_ptr());
    shape.each(&mut p, |i, h, p| {
        // SAFETY: the heads lie inside q, k, v and mixed; each head writes
        // its own block of p and its own columns of mixed.
        unsafe {
            product(
                (queries, tokens, shape.size),
                p.as_mut_ptr(),
                tokens,
                false,
                shape.head(q, queries, i, h),
                shape.head(k, tokens, i, h).t(),
                scale,
            );
        }
        for (r, row) in p.chunks_mut(tokens).enumerate() {
            if let Some(mask) = mask {
                row.iter_mut()
                    .zip(&mask[r * tokens..])
                    .for_each(|(s, &m)| *s += m);
            }
            softmax(row);
        }
        // SAFETY: as above.
        unsafe {
            product(
                (queries, shape.size, tokens),
                shape.head_at(out, queries, i, h),
                shape.width(),
                false,
                Matrix::rows(p, tokens),
                shape.head(v, tokens, i, h),
                T::one(),
            );
        }
    });
    (mixed, p)
}

/// Softmax of one row, in place.
fn softmax<T: Element>(row: &mut [T]) {
    let max = row
        .iter()
        .fold(T::neg_infinity(), |m, &s| num_traits::Float::max(m, s));
    row.iter_mut().for_each(|s| *s = (*s - max).exp_in_loop());
    let inverse = lane_sum(row, |s| s).recip();
    row.iter_mut().for_each(|s| *s *= inverse);
}

/// Attention's backward, from the gradient at the heads' outputs (`at_mixed`,
/// `[batch, queries, width]`) to the gradients at q, k and v, each
/// `[batch, tokens, width]` (q's rows past the queries are zero). For each
/// head, with G = its columns of `at_mixed`:
/// at v = Pᵀ·G; at P = G·vᵀ; at the scores S = P ∘ (at P − Σ_row at P ∘ P);
/// at q = scale · S·k; at k = scale · Sᵀ·q.
pub fn attention_backward<T: Element>(
    shape: Heads,
    (q, k, v): (&[T], &[T], &[T]),
    p: &[T],
    at_mixed: &[T],
    scale: T,
) -> [Vec<T>; 3] {
    let Heads {
        batch,
        tokens,
        queries,
        ..
    } = shape;
    let (asking, all) = shape.check((q, k, v));
    assert_eq!(at_mixed.len(), asking);
    assert_eq!(p.len(), batch * shape.heads * queries * tokens);
    let mut at = [(); 3].map(|_| zeros(all));
    let [at_q, at_k, at_v] = at.each_mut().map(|a| Shared(a.as_mut_ptr()));
    let mut at_scores = zeros(p.len());
    shape.each(&mut at_scores, |i, h, at_s| {
        let p = &p[(i * shape.heads + h) * queries * tokens..][..queries * tokens];
        let g = shape.head(at_mixed, queries, i, h);
        // SAFETY: the heads lie inside their buffers; each head writes its
        // own block of at_scores and its own columns of at_q, at_k, at_v.
        unsafe {
            product(
                (tokens, shape.size, queries),
                shape.head_at(at_v, tokens, i, h),
                shape.width(),
                false,
                Matrix::rows(p, tokens).t(),
                g,
                T::one(),
            );
            product(
                (queries, tokens, shape.size),
                at_s.as_mut_ptr(),
                tokens,
                false,
                g,
                shape.head(v, tokens, i, h).t(),
                T::one(),
            );
        }
        for (at_row, p_row) in at_s.chunks_mut(tokens).zip(p.chunks(tokens)) {
            let along = at_row
                .iter()
                .zip(p_row)
                .fold(T::zero(), |sum, (&a, &p)| sum + a * p);
            at_row
                .iter_mut()
                .zip(p_row)
                .for_each(|(a, &p)| *a = p * (*a - along));
        }
        let at_s = Matrix::rows(at_s, tokens);
        // SAFETY: as above.
        unsafe {
            product(
                (queries, shape.size, tokens),
                shape.head_at(at_q, tokens, i, h),
                shape.width(),
                false,
                at_s,
                shape.head(k, tokens, i, h),
                scale,
            );
            product(
                (tokens, shape.size, queries),
                shape.head_at(at_k, tokens, i, h),
                shape.width(),
                false,
                at_s.t(),
                shape.head(q, queries, i, h),
                scale,
            );
        }
    });
    at
}

/// LayerNorm of rows `width` wide in one pass each: returns the output
/// x̂ · weight + bias, x̂ = (x − mean) / √(var + ε), and 1 / √(var + ε) per row.
pub fn layer_norm<T: Element>(
    x: &[T],
    weight: &[T],
    bias: &[T],
    eps: T,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let width = weight.len();
    let rows = x.len() / width;
    let (mut y, mut normalised) = (zeros(x.len()), zeros(x.len()));
    let mut inverse_std = zeros(rows);
    let count = T::from(width).expect("a row width fits a float");
    y.par_chunks_mut(width)
        .zip(normalised.par_chunks_mut(width))
        .zip(inverse_std.par_iter_mut())
        .zip(x.par_chunks(width))
        .with_min_len(32)
        .for_each(|(((y, normalised), inverse_std), x)| {
            let mean = lane_sum(x, |v| v) / count;
            let variance = lane_sum(x, |v| (v - mean) * (v - mean)) / count;
            *inverse_std = (variance + eps).sqrt().recip();
            for (((y, n), &x), (&w, &b)) in y
                .iter_mut()
                .zip(normalised.iter_mut())
                .zip(x)
                .zip(weight.iter().zip(bias))
            {
                *n = (x - mean) * *inverse_std;
                *y = *n * w + b;
            }
        });
    (y, normalised, inverse_std)
}

/// Sums kept in this many lanes side by side, so that the compiler can use
/// vector registers (one running sum would fix the order of the additions).
const LANES: usize = 16;

/// Σ f(v) over `values`, in lanes.
#[inline(always)]
fn lane_sum<T: Element>(values: &[T], f: impl Fn(T) -> T) -> T {
    let mut lanes = [T::zero(); LANES];
    for chunk in values.chunks(LANES) {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += f(v);
        }
    }
    lanes.into_iter().fold(T::zero(), |s, l| s + l)
}

/// LayerNorm's backward: with g = (gradient at the output) · weight, the
/// gradient at x is (g − mean(g) − x̂ · mean(g · x̂)) / √(var + ε).
pub fn layer_norm_backward<T: Element>(
    grad: &[T],
    weight: &[T],
    normalised: &[T],
    inverse_std: &[T],
) -> Vec<T> {
    let width = weight.len();
    let count = T::from(width).expect("a row width fits a float");
    let mut at_x = zeros(grad.len());
    at_x.par_chunks_mut(width)
        .zip(grad.par_chunks(width))
        .zip(normalised.par_chunks(width))
        .zip(inverse_std.par_iter())
        .with_min_len(32)
        .for_each(|(((at_x, grad), normalised), &inverse_std)| {
            let (mut lanes_g, mut lanes_along) =
                ([T::zero(); LANES], [T::zero(); LANES]);
            for ((g, w), n) in grad
                .chunks(LANES)
                .zip(weight.chunks(LANES))
                .zip(normalised.chunks(LANES))
            {
                for (lane, ((&g, &w), &n)) in g.iter().zip(w).zip(n).enumerate() {
                    lanes_g[lane] += g * w;
                    lanes_along[lane] += g * w * n;
                }
            }
            let total =
                |lanes: [T; LANES]| lanes.into_iter().fold(T::zero(), |s, l| s + l);
            let (mean_g, along) =
                (total(lanes_g) / count, total(lanes_along) / count);
            for (((a, &g), &w), &n) in
                at_x.iter_mut().zip(grad).zip(weight).zip(normalised)
            {
                *a = (g * w - mean_g - n * along) * inverse_std;
            }
        });
    at_x
}

/// QuickGELU x·σ(1.702x) in one pass or, given the gradient at its output,
/// its backward: that gradient times the slope σ(1.702x)·(1 + 1.702x·(1 − σ(1.702x))).
pub fn quick_gelu<T: Element>(x: &[T], grad: Option<&[T]>) -> Vec<T> {
    const CHUNK: usize = 1 << 14;
    let mut out = zeros(x.len());
    out.par_chunks_mut(CHUNK).enumerate().for_each(|(i, out)| {
        let x = &x[i * CHUNK..][..out.len()];
        let grad = grad.map(|g| &g[i * CHUNK..][..out.len()]);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            /// The same loop compiled for AVX-512, 16 floats at a time;
            /// the crate itself is built for any x86-64.
            #[target_feature(enable = "avx512f")]
            unsafe fn wide<T: Element>(out: &mut [T], x: &[T], grad: Option<&[T]>) {
                quick_gelu_loop(out, x, grad)
            }
            // SAFETY: the CPU has AVX-512.
            return unsafe { wide(out, x, grad) };
        }
        quick_gelu_loop(out, x, grad)
    });
    out
}

#[inline(always)]
fn quick_gelu_loop<T: Element>(out: &mut [T], x: &[T], grad: Option<&[T]>) {
    let a = <T as WithDType>::from_f64(1.702);
    let sigmoid = |x: T| (T::one() + (-a * x).exp_in_loop()).recip();
    match grad {
        Some(grad) => {
            for ((y, &x), &g) in out.iter_mut().zip(x).zip(grad) {
                let s = sigmoid(x);
                *y = g * (s + a * x * s * (T::one() - s));
            }
        }
        None => {
            for (y, &x) in out.iter_mut().zip(x) {
                *y = x * sigmoid(x);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_f32_exponential_is_within_two_parts_in_ten_million() {
        let worst = (-86_999..=87_999)
            .map(|i| i as f32 * 1e-3)
            .map(|x| {
                let exact = (x as f64).exp();
                ((x.exp_in_loop() as f64 - exact) / exact).abs()
            })
            .fold(0.0, f64::max);
        assert!(worst < 2e-7, "relative error {worst}");
        for x in [-88.0, -1e9, f32::NEG_INFINITY] {
            assert!(x.exp_in_loop() < 2e-38, "e^{x} is not about zero");
        }
    }

    #[test]
    fn quick_gelu_in_f32_agrees_with_f64() {
        let x: Vec<f64> = (-2000..=2000).map(|i| i as f64 * 0.01).collect();
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let (ones, ones32) = (vec![1.0; x.len()], vec![1.0; x.len()]);
        for slope in [false, true] {
            let exact = quick_gelu(&x, slope.then_some(&ones[..]));
            let worst = quick_gelu(&x32, slope.then_some(&ones32[..]))
                .iter()
                .zip(&exact)
                .map(|(&a, &b)| (a as f64 - b).abs() / b.abs().max(1.0))
                .fold(0.0, f64::max);
            assert!(worst < 1e-6, "slope {slope}: {worst}");
        }
    }
}

//! Chapter 4 — latent arithmetic.
//!
//! In the VAE's latent space an attribute is a *direction*: the average face
//! with glasses minus the average face without is a vector that, added to any
//! face's latent code, puts glasses on it. This module finds such directions two
//! ways — the difference of means, and least squares on all attributes at once —
//! walks between faces (interpolation), and looks at the space with PCA. Every
//! edit is graded by the independent judge in [`crate::eval::faces`].

use anyhow::Context;
use candle_core::{Device, Tensor};
use image::RgbImage;
use linfa_linalg::cholesky::SolveC;
use linfa_linalg::eigh::{EigSort, Eigh};
use ndarray::{Array1, Array2, Axis, s};

use crate::models::vae::Vae;
use crate::nn::batch::{batch_to_images, images_to_batch};
use crate::world::faces::{Attribute, Face};

/// The latent code (the VAE encoder's mean) of each picture, one row per picture.
pub fn encode(
    vae: &Vae,
    images: &[RgbImage],
    device: &Device,
) -> anyhow::Result<Array2<f32>> {
    let (mean, _) = vae.encode(&images_to_batch(images, device)?)?;
    let (n, d) = mean.dims2()?;
    Ok(Array2::from_shape_vec(
        (n, d),
        mean.flatten_all()?.to_vec1()?,
    )?)
}

/// Decodes latent codes (one per row) into pictures.
pub fn decode(
    vae: &Vae,
    latents: &Array2<f32>,
    device: &Device,
) -> anyhow::Result<Vec<RgbImage>> {
    let rows = latents.as_standard_layout();
    let flat = rows.as_slice().context("latents in standard layout")?;
    batch_to_images(&vae.decode(&Tensor::from_slice(
        flat,
        latents.dim(),
        device,
    )?)?)
}

// ANCHOR: mean_difference
/// The average latent of the faces that have the attribute minus the average of
/// those that do not.
pub fn mean_difference(latents: &Array2<f32>, has: &[bool]) -> Array1<f32> {
    let mean_of = |wanted: bool| {
        let rows: Vec<usize> =
            (0..has.len()).filter(|&i| has[i] == wanted).collect();
        latents
            .select(Axis(0), &rows)
            .mean_axis(Axis(0))
            .expect("both groups are non-empty")
    };
    mean_of(true) - mean_of(false)
}
// ANCHOR_END: mean_difference

// ANCHOR: least_squares
/// All attribute directions at once: find B minimising ‖A·B − Z‖², where each
/// row of A holds one face's attributes and a 1 (the average face), and Z holds
/// its latent code. Row j of B is then the change of latent per unit of
/// attribute j, with the other attributes held fixed. Solved through the normal
/// equations (AᵀA)·B = AᵀZ with a Cholesky factorisation.
pub fn least_squares_directions(
    latents: &Array2<f32>,
    attributes: &Array2<f32>,
) -> anyhow::Result<Array2<f32>> {
    let (n, k) = attributes.dim();
    anyhow::ensure!(
        latents.nrows() == n,
        "{n} attribute rows but {} latents",
        latents.nrows()
    );
    let mut a = Array2::<f64>::ones((n, k + 1));
    a.slice_mut(s![.., ..k]).assign(&attributes.mapv(f64::from));
    let z = latents.mapv(f64::from);
    let normal = to_linalg(&a.t().dot(&a));
    let right = to_linalg(&a.t().dot(&z));
    let b = normal
        .clone()
        .solvec(&right)
        .context("the attributes are linearly dependent (every face alike?)")?;
    Ok(from_linalg(&b).slice(s![..k, ..]).mapv(|v| v as f32))
}
// ANCHOR_END: least_squares

/// `steps` latent codes evenly spaced from `from` to `to`, both included.
pub fn interpolate(
    from: &Array1<f32>,
    to: &Array1<f32>,
    steps: usize,
) -> Array2<f32> {
    let mut rows = Array2::zeros((steps, from.len()));
    for (i, mut row) in rows.rows_mut().into_iter().enumerate() {
        let t = i as f32 / (steps.max(2) - 1) as f32;
        row.assign(&(from * (1.0 - t) + to * t));
    }
    rows
}

/// Principal components of a cloud of latent codes.
#[derive(Debug, Clone)]
pub struct Pca {
    pub mean: Array1<f32>,
    /// One unit-length component per row, largest variance first.
    pub components: Array2<f32>,
    /// Variance along each component.
    pub variances: Vec<f32>,
}

// ANCHOR: pca
/// The `count` directions of largest variance: eigenvectors of the covariance
/// matrix, largest eigenvalue first.
pub fn pca(latents: &Array2<f32>, count: usize) -> anyhow::Result<Pca> {
    let mean = latents.mean_axis(Axis(0)).context("no latents")?;
    let centred = (latents - &mean).mapv(f64::from);
    let covariance = centred.t().dot(&centred) / (latents.nrows().max(2) - 1) as f64;
    let (values, vectors) = to_linalg(&covariance).eigh()?.sort_eig_desc();
    let vectors = from_linalg(&vectors);
    let count = count.min(values.len());
    Ok(Pca {
        mean,
        components: vectors.slice(s![.., ..count]).t().mapv(|v| v as f32),
        variances: values.iter().take(count).map(|&v| v as f32).collect(),
    })
}
// ANCHOR_END: pca

impl Pca {
    /// Coordinates of each latent along the components.
    pub fn project(&self, latents: &Array2<f32>) -> Array2<f32> {
        (latents - &self.mean).dot(&self.components.t())
    }
}

// linfa-linalg (pure Rust, no system BLAS) speaks ndarray 0.16; the course uses
// ndarray 0.17. The two share a memory layout, so converting is one copy.
fn to_linalg(a: &Array2<f64>) -> ndarray_for_linalg::Array2<f64> {
    let standard = a.as_standard_layout();
    ndarray_for_linalg::Array2::from_shape_vec(
        a.dim(),
        standard.iter().copied().collect(),
    )
    .expect("same shape")
}

fn from_linalg(a: &ndarray_for_linalg::Array2<f64>) -> Array2<f64> {
    Array2::from_shape_vec(a.dim(), a.iter().copied().collect()).expect("same shape")
}

/// The lecture attributes of every face as a matrix, one column per
/// [`Attribute`] in lecture order.
pub fn attribute_matrix(faces: &[Face]) -> Array2<f32> {
    Array2::from_shape_fn((faces.len(), Attribute::ALL.len()), |(i, j)| {
        faces[i].attribute(Attribute::ALL[j])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn mean_difference_of_two_groups() {
        let z = array![[1.0f32, 0.0], [3.0, 2.0], [0.0, 1.0], [0.0, 3.0]];
        let d = mean_difference(&z, &[true, true, false, false]);
        assert_eq!(d, array![2.0, -1.0]);
    }

    #[test]
    fn least_squares_recovers_planted_directions() -> anyhow::Result<()> {
        // Z = A·B + c exactly, with A random: the solver must give B back.
        let a = array![
            [0.0f32, 1.0],
            [1.0, 0.5],
            [1.0, -1.0],
            [0.0, 0.2],
            [0.5, 0.0]
        ];
        let b = array![[1.0f32, -2.0, 0.5], [0.0, 3.0, 1.0]];
        let c = array![0.1f32, 0.2, -0.3];
        let z = a.dot(&b) + &c;
        let found = least_squares_directions(&z, &a)?;
        assert!((found - b).iter().all(|v| v.abs() < 1e-4));
        Ok(())
    }

    #[test]
    fn least_squares_residual_is_orthogonal_to_the_attributes() -> anyhow::Result<()>
    {
        // The defining property of the least-squares solution, on noisy data.
        let a = array![
            [0.0f32, 1.0],
            [1.0, 0.5],
            [1.0, -1.0],
            [0.0, 0.2],
            [0.5, 0.0],
            [0.3, 0.9]
        ];
        let z = array![[1.0f32], [0.0], [2.0], [-1.0], [0.5], [0.25]];
        let b = least_squares_directions(&z, &a)?;
        let intercept = (&z - &a.dot(&b)).mean_axis(Axis(0)).expect("rows");
        let residual = &z - &a.dot(&b) - &intercept;
        assert!(a.t().dot(&residual).iter().all(|v| v.abs() < 1e-4));
        assert!(residual.sum().abs() < 1e-4);
        Ok(())
    }

    #[test]
    fn dependent_attributes_give_an_error() {
        let a = array![[1.0f32, 2.0], [2.0, 4.0], [3.0, 6.0]];
        let z = array![[1.0f32], [2.0], [3.0]];
        assert!(least_squares_directions(&z, &a).is_err());
    }

    #[test]
    fn pca_finds_the_long_axis_first() -> anyhow::Result<()> {
        // Points along (1, 1)/√2 with a little spread across it.
        let z = Array2::from_shape_fn((50, 2), |(i, j)| {
            let t = i as f32 - 25.0;
            let across = if i % 2 == 0 { 0.5 } else { -0.5 };
            t + if j == 0 { across } else { -across }
        });
        let p = pca(&z, 2)?;
        let first = p.components.row(0);
        assert!(
            (first[0].abs() - 0.5f32.sqrt()).abs() < 1e-2
                && first[0] * first[1] > 0.0
        );
        assert!(p.variances[0] > 100.0 * p.variances[1]);
        // Covariance eigenvector check: C·v = λ·v.
        let centred = &z - &p.mean;
        let covariance = centred.t().dot(&centred) / 49.0;
        let cv = covariance.dot(&first);
        assert!(
            (&cv - &(&first * p.variances[0]))
                .iter()
                .all(|v| v.abs() < 1e-2)
        );
        let projected = p.project(&z);
        assert!((projected.column(0).mean().expect("rows")).abs() < 1e-3);
        Ok(())
    }

    #[test]
    fn interpolation_starts_and_ends_at_the_endpoints() {
        let (a, b) = (array![0.0f32, 2.0], array![1.0f32, 0.0]);
        let path = interpolate(&a, &b, 5);
        assert_eq!(path.row(0), a);
        assert_eq!(path.row(4), b);
        assert_eq!(path.row(2), array![0.5, 1.0]);
    }
}

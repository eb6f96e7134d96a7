//! Thin wrappers over faer, so that estimators speak ndarray and never touch the backend, and
//! the dense numerics several estimators share: dot products, numpy's summation and a small
//! row-major SPD inverse ([`dense`]), sample quantiles ([`quantile`]), the two logit fits ([`logit`]).

pub mod dense;
pub mod logit;
pub mod quantile;

pub use dense::{dot, dot_sequential, numpy_sum, spd_inverse_rowmajor};
pub use quantile::{quantile_type1, quantile_type7};

use faer::linalg::solvers::DenseSolveCore;
use faer::{Mat, Side};
use ndarray::{Array2, ArrayView2};

use crate::error::{Error, Result};

fn to_faer(a: ArrayView2<f64>) -> Mat<f64> {
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[[i, j]])
}

fn from_faer(m: &Mat<f64>) -> Array2<f64> {
    Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)])
}

/// Inverse of a symmetric positive definite matrix through its Cholesky factor.
pub fn spd_inverse(a: ArrayView2<f64>) -> Result<Array2<f64>> {
    if a.nrows() != a.ncols() {
        return Err(Error::Shape(format!(
            "spd_inverse of a {}x{} matrix",
            a.nrows(),
            a.ncols()
        )));
    }
    let llt = to_faer(a)
        .llt(Side::Lower)
        .map_err(|e| Error::Numerical(format!("Cholesky factorisation failed: {e:?}")))?;
    let inv = from_faer(&llt.inverse());
    // Symmetrise: the inverse is symmetric in exact arithmetic.
    Ok(Array2::from_shape_fn(inv.dim(), |(i, j)| {
        0.5 * (inv[[i, j]] + inv[[j, i]])
    }))
}

/// Eigenvalues of a symmetric matrix, ascending.
pub fn symmetric_eigenvalues(a: ArrayView2<f64>) -> Result<Vec<f64>> {
    to_faer(a)
        .self_adjoint_eigenvalues(Side::Lower)
        .map_err(|e| Error::Numerical(format!("eigenvalue decomposition failed: {e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn inverse_of_spd_matrix() {
        let a = array![[4.0, 1.0], [1.0, 3.0]];
        let inv = spd_inverse(a.view()).unwrap();
        let eye = a.dot(&inv);
        assert!((eye[[0, 0]] - 1.0).abs() < 1e-14 && eye[[0, 1]].abs() < 1e-14);
    }

    #[test]
    fn non_spd_is_an_error() {
        let a = array![[1.0, 2.0], [2.0, 1.0]];
        assert!(spd_inverse(a.view()).is_err());
        let ev = symmetric_eigenvalues(a.view()).unwrap();
        assert!((ev[0] + 1.0).abs() < 1e-12 && (ev[1] - 3.0).abs() < 1e-12);
    }
}

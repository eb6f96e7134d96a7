//! Wrappers over faer's dense kernels, so that estimators speak ndarray and never touch the
//! backend ([`spd_inverse`], [`symmetric_eigenvalues`] and the multiplier bootstrap's GEMM), and
//! the dense numerics several estimators share: dot products, numpy's summation and a small
//! row-major SPD inverse ([`dense`]), sample quantiles ([`quantile`]), the two logit fits ([`logit`]).

pub mod dense;
pub mod logit;
pub mod quantile;

pub use dense::{dot, dot_sequential, numpy_sum, spd_inverse_rowmajor};
pub use quantile::{quantile_type1, quantile_type7};

use std::borrow::Cow;

use ndarray::{Array2, ArrayView2};

use crate::error::{Error, Result};

pub(crate) mod kernels {
    //! The dense kernels faer computes for this crate. They are defined in `pilotdid-dense`
    //! (which depends on faer) and resolved by the linker, so that this crate compiles
    //! without waiting for faer. The signatures here must equal the definitions there; the
    //! tests below call each one.
    extern "Rust" {
        pub(crate) fn pilotdid_dense_spd_inverse(
            n: usize,
            a: &[f64],
            inv: &mut [f64],
        ) -> Result<(), String>;
        pub(crate) fn pilotdid_dense_symmetric_eigenvalues(
            n: usize,
            a: &[f64],
            values: &mut [f64],
        ) -> Result<(), String>;
        pub(crate) fn pilotdid_dense_gemm_accumulate(
            acc: &mut [f64],
            rows: usize,
            cols: usize,
            lhs: &[f64],
            inner: usize,
            rhs: &[f64],
            rhs_col_stride: usize,
        );
    }
}

/// The rows of a square matrix, one after another: borrowed when `a` is already laid out so,
/// copied otherwise.
fn square_row_major<'a>(a: ArrayView2<'a, f64>, what: &str) -> Result<Cow<'a, [f64]>> {
    if a.nrows() != a.ncols() {
        return Err(Error::Shape(format!(
            "{what} of a {}x{} matrix",
            a.nrows(),
            a.ncols()
        )));
    }
    Ok(match a.to_slice() {
        Some(rows) => Cow::Borrowed(rows),
        None => Cow::Owned(a.iter().copied().collect()),
    })
}

/// Inverse of a symmetric positive definite matrix through its Cholesky factor (faer's).
pub fn spd_inverse(a: ArrayView2<f64>) -> Result<Array2<f64>> {
    let n = a.nrows();
    let rows = square_row_major(a, "spd_inverse")?;
    let mut inv = vec![0.0; n * n];
    // SAFETY: pilotdid-dense defines this function with this signature; the slices have the
    // n * n elements it reads and writes.
    unsafe { kernels::pilotdid_dense_spd_inverse(n, &rows, &mut inv) }
        .map_err(|e| Error::Numerical(format!("Cholesky factorisation failed: {e}")))?;
    // Symmetrise: the inverse is symmetric in exact arithmetic.
    Ok(Array2::from_shape_fn((n, n), |(i, j)| {
        0.5 * (inv[i * n + j] + inv[j * n + i])
    }))
}

/// Eigenvalues of a symmetric matrix, ascending (faer's).
pub fn symmetric_eigenvalues(a: ArrayView2<f64>) -> Result<Vec<f64>> {
    let n = a.nrows();
    let rows = square_row_major(a, "symmetric_eigenvalues")?;
    let mut values = vec![0.0; n];
    // SAFETY: as in spd_inverse; `values` has the n elements written.
    unsafe { kernels::pilotdid_dense_symmetric_eigenvalues(n, &rows, &mut values) }
        .map_err(|e| Error::Numerical(format!("eigenvalue decomposition failed: {e}")))?;
    Ok(values)
}

/// `acc += lhs · rhs` on the calling thread (faer's GEMM): `acc` column-major `rows × cols`,
/// `lhs` row-major `rows × inner`, `rhs` column-major `inner × cols` with column stride
/// `rhs_col_stride`.
pub(crate) fn gemm_accumulate(
    acc: &mut [f64],
    (rows, cols, inner): (usize, usize, usize),
    lhs: &[f64],
    rhs: &[f64],
    rhs_col_stride: usize,
) {
    // faer reads and writes exactly these extents, so a short slice is a bug of ours.
    assert!(acc.len() == rows * cols && lhs.len() == rows * inner);
    assert!(cols == 0 || rhs.len() >= (cols - 1) * rhs_col_stride + inner);
    assert!(rhs_col_stride >= inner);
    // SAFETY: pilotdid-dense defines this function with this signature; the extents are
    // checked above.
    unsafe {
        kernels::pilotdid_dense_gemm_accumulate(acc, rows, cols, lhs, inner, rhs, rhs_col_stride)
    }
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
    fn a_column_major_view_gives_the_same_bits() {
        // a.t() of a symmetric matrix is the same matrix in column-major order: copied, not
        // borrowed, on its way to the kernels
        let a = array![[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]];
        assert!(a.t().to_slice().is_none());
        assert_eq!(spd_inverse(a.view()).unwrap(), spd_inverse(a.t()).unwrap());
        assert_eq!(
            symmetric_eigenvalues(a.view()).unwrap(),
            symmetric_eigenvalues(a.t()).unwrap()
        );
    }

    #[test]
    fn non_spd_is_an_error() {
        let a = array![[1.0, 2.0], [2.0, 1.0]];
        assert!(spd_inverse(a.view()).is_err());
        let ev = symmetric_eigenvalues(a.view()).unwrap();
        assert!((ev[0] + 1.0).abs() < 1e-12 && (ev[1] - 3.0).abs() < 1e-12);
    }

    #[test]
    fn gemm_accumulates_into_column_major() {
        // acc (2 x 2, column-major) += lhs (2 x 3, row-major) . rhs (3 x 2, stride 4)
        let mut acc = vec![1.0, 2.0, 3.0, 4.0];
        let lhs = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let rhs = [1.0, 0.0, 2.0, 9.0, -1.0, 1.0, 0.5];
        gemm_accumulate(&mut acc, (2, 2, 3), &lhs, &rhs, 4);
        // lhs . rhs = [[7, 2.5], [16, 4]]
        assert_eq!(acc, vec![8.0, 18.0, 5.5, 8.0]);
    }
}

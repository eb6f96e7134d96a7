//! pilotdid-dense: the three faer kernels that `pilotdid-core` calls.
//!
//! The core does not depend on faer, so that it compiles while faer does (faer's front end
//! runs ~35 s on one core). It declares these functions in an `extern "Rust"` block
//! (`pilotdid_core::linalg::kernels`) and the linker resolves them here. Any binary that links
//! the core links this crate too: `pilotdid` does, and so do the core's unit tests (a
//! dev-dependency). A binary without it fails to link; it cannot run without the kernels.
//!
//! The declarations in the core and the definitions here must have the same signatures; the
//! core's tests call each kernel. Matrices travel as plain slices: row-major `n × n` for the
//! symmetric ones, and for GEMM the layouts named on [`pilotdid_dense_gemm_accumulate`].

use faer::linalg::matmul::matmul;
use faer::linalg::solvers::DenseSolveCore;
use faer::{Accum, Mat, MatMut, MatRef, Par, Side};

fn square(n: usize, a: &[f64]) -> Mat<f64> {
    Mat::from_fn(n, n, |i, j| a[i * n + j])
}

/// Inverse of the symmetric positive definite `a` (row-major `n × n`, lower triangle read)
/// through faer's Cholesky factor, written row-major into `inv`; `Err` with faer's message when
/// the factorisation fails. Not symmetrised: the caller does that.
#[no_mangle]
pub fn pilotdid_dense_spd_inverse(n: usize, a: &[f64], inv: &mut [f64]) -> Result<(), String> {
    let llt = square(n, a)
        .llt(Side::Lower)
        .map_err(|e| format!("{e:?}"))?;
    let m = llt.inverse();
    for i in 0..n {
        for j in 0..n {
            inv[i * n + j] = m[(i, j)];
        }
    }
    Ok(())
}

/// Eigenvalues of the symmetric `a` (row-major `n × n`, lower triangle read), ascending, into
/// `values` (length `n`); `Err` with faer's message when the decomposition fails.
#[no_mangle]
pub fn pilotdid_dense_symmetric_eigenvalues(
    n: usize,
    a: &[f64],
    values: &mut [f64],
) -> Result<(), String> {
    let ev = square(n, a)
        .self_adjoint_eigenvalues(Side::Lower)
        .map_err(|e| format!("{e:?}"))?;
    values.copy_from_slice(&ev);
    Ok(())
}

/// `acc += lhs · rhs` on one thread (faer's GEMM), where `acc` is column-major `rows × cols`
/// (column stride `rows`), `lhs` is row-major `rows × inner`, and `rhs` is column-major
/// `inner × cols` with column stride `rhs_col_stride` (so `rhs` holds at least
/// `(cols − 1) · rhs_col_stride + inner` values).
#[no_mangle]
pub fn pilotdid_dense_gemm_accumulate(
    acc: &mut [f64],
    rows: usize,
    cols: usize,
    lhs: &[f64],
    inner: usize,
    rhs: &[f64],
    rhs_col_stride: usize,
) {
    let dst = MatMut::from_column_major_slice_mut(acc, rows, cols);
    let lhs = MatRef::from_row_major_slice(lhs, rows, inner);
    let rhs = MatRef::from_column_major_slice_with_stride(rhs, inner, cols, rhs_col_stride);
    matmul(dst, Accum::Add, lhs, rhs, 1.0, Par::Seq);
}

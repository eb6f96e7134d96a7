//! Least squares on (already demeaned, already weighted) columns, with collinearity detection.

use ndarray::{Array1, Array2};
use rayon::prelude::*;

use crate::error::{Error, Result};
pub use crate::linalg::dot;
use crate::linalg::spd_inverse;

/// Relative tolerance for declaring a regressor collinear. A column is dropped when the part
/// of it not explained by earlier kept columns (its Cholesky pivot) is below `COLLIN_TOL` times
/// its own sum of squares: scale-free, unlike an absolute threshold.
pub const COLLIN_TOL: f64 = 1e-10;

/// Cross products X'X (k×k) and X'y of column-stored data, parallel over columns.
pub fn cross_products(x: &[&[f64]], y: &[f64]) -> (Array2<f64>, Array1<f64>) {
    let k = x.len();
    let pairs: Vec<(usize, usize)> = (0..k).flat_map(|i| (i..k).map(move |j| (i, j))).collect();
    let vals: Vec<f64> = pairs.par_iter().map(|&(i, j)| dot(x[i], x[j])).collect();
    let mut xtx = Array2::zeros((k, k));
    for (&(i, j), v) in pairs.iter().zip(vals) {
        xtx[[i, j]] = v;
        xtx[[j, i]] = v;
    }
    let xty: Vec<f64> = x.par_iter().map(|c| dot(c, y)).collect();
    (xtx, Array1::from(xty))
}

/// Indices of the columns to keep, in order: a sequential (unpivoted) Cholesky pass, so that
/// of a collinear set the later column is dropped, as in fixest and pyfixest. `scale[j]` is the
/// reference sum of squares of column j (its sum of squares before fixed effects were
/// projected out), so that a column absorbed by the fixed effects is caught too.
pub fn independent_columns(xtx: &Array2<f64>, scale: &[f64]) -> Vec<usize> {
    let k = xtx.nrows();
    let mut r = Array2::<f64>::zeros((k, k));
    let mut keep = Vec::with_capacity(k);
    for j in 0..k {
        let mut rjj = xtx[[j, j]];
        for &p in &keep {
            rjj -= r[[p, j]] * r[[p, j]];
        }
        // NaN pivots fail `>` and are dropped too.
        let independent = rjj > COLLIN_TOL * scale[j].max(xtx[[j, j]]) && rjj.is_finite();
        if !independent {
            continue;
        }
        let rjj = rjj.sqrt();
        r[[j, j]] = rjj;
        for i in j + 1..k {
            let mut v = xtx[[i, j]];
            for &p in &keep {
                v -= r[[p, i]] * r[[p, j]];
            }
            r[[j, i]] = v / rjj;
        }
        keep.push(j);
    }
    keep
}

/// Solution of the normal equations on the kept columns.
pub struct LeastSquares {
    pub beta: Array1<f64>,
    /// (X'X)^{-1}, the "bread" of every sandwich variance.
    pub xtx_inv: Array2<f64>,
}

pub fn solve_normal_equations(xtx: &Array2<f64>, xty: &Array1<f64>) -> Result<LeastSquares> {
    if xtx.nrows() == 0 {
        return Err(Error::Empty("no regressors to estimate".into()));
    }
    let xtx_inv = spd_inverse(xtx.view())?;
    let beta = xtx_inv.dot(xty);
    Ok(LeastSquares { beta, xtx_inv })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_collinear_column_is_dropped() {
        let x1: Vec<f64> = (0..50).map(|i| (i as f64).sin()).collect();
        let x2: Vec<f64> = (0..50).map(|i| (i as f64 * 0.3).cos()).collect();
        let x3: Vec<f64> = x1.iter().zip(&x2).map(|(a, b)| 2.0 * a - b).collect();
        let cols = [&x1[..], &x2[..], &x3[..]];
        let (xtx, _) = cross_products(&cols, &x1);
        let scale: Vec<f64> = (0..3).map(|j| xtx[[j, j]]).collect();
        assert_eq!(independent_columns(&xtx, &scale), vec![0, 1]);
    }

    #[test]
    fn exact_fit_recovers_coefficients() {
        let x1: Vec<f64> = (0..20).map(|i| i as f64).collect();
        let x2: Vec<f64> = (0..20).map(|i| ((i * 7) % 5) as f64).collect();
        let y: Vec<f64> = x1
            .iter()
            .zip(&x2)
            .map(|(a, b)| 1.5 * a - 0.25 * b)
            .collect();
        let (xtx, xty) = cross_products(&[&x1[..], &x2[..]], &y);
        let ls = solve_normal_equations(&xtx, &xty).unwrap();
        assert!((ls.beta[0] - 1.5).abs() < 1e-12 && (ls.beta[1] + 0.25).abs() < 1e-12);
    }
}

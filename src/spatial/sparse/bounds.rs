//! The admissible ρ interval on the sparse path: W's extreme eigenvalues by Lanczos on S,
//! moved inwards until I − ρS factorises (LU path: the spectral radius).

use super::factor::SparseLogdet;
use super::rademacher;
use crate::error::{Error, Result};
use crate::spatial::weights::Weights;

/// Smallest and largest eigenvalues of S by Lanczos with full reorthogonalisation.
fn lanczos_extremes(w: &Weights, s: &[f64], steps: usize, seed: u64) -> Result<(f64, f64)> {
    let n = w.n;
    let m = steps.min(n).max(1);
    let sv = |x: &[f64]| -> Vec<f64> {
        // S x = diag(s) W diag(1/s) x.
        let y: Vec<f64> = x.iter().zip(s).map(|(a, b)| a / b).collect();
        w.matvec(&y).iter().zip(s).map(|(a, b)| a * b).collect()
    };
    let mut q = rademacher(n, seed, 0);
    let nrm = q.iter().map(|v| v * v).sum::<f64>().sqrt();
    q.iter_mut().for_each(|v| *v /= nrm);
    let mut basis: Vec<Vec<f64>> = vec![q];
    let mut alpha = Vec::new();
    let mut beta = Vec::new();
    for j in 0..m {
        let mut v = sv(&basis[j]);
        let a: f64 = v.iter().zip(&basis[j]).map(|(x, y)| x * y).sum();
        alpha.push(a);
        // Full reorthogonalisation (twice is enough).
        for _ in 0..2 {
            for b in &basis {
                let c: f64 = v.iter().zip(b).map(|(x, y)| x * y).sum();
                v.iter_mut().zip(b).for_each(|(x, y)| *x -= c * y);
            }
        }
        let bnorm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if j + 1 == m || bnorm < 1e-10 {
            break;
        }
        beta.push(bnorm);
        v.iter_mut().for_each(|x| *x /= bnorm);
        basis.push(v);
    }
    let k = alpha.len();
    let t = faer::Mat::from_fn(k, k, |i, j| {
        if i == j {
            alpha[i]
        } else if i == j + 1 {
            beta[j]
        } else if j == i + 1 {
            beta[i]
        } else {
            0.0
        }
    });
    let ev = t
        .self_adjoint_eigenvalues(faer::Side::Lower)
        .map_err(|e| Error::Numerical(format!("Lanczos eigenvalues of W: {e:?}")))?;
    let lo = ev.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = ev.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Ok((lo, hi))
}

/// Admissible ρ interval for the sparse path (see the module docs).
pub fn sparse_bounds(w: &Weights, ld: &SparseLogdet, unit_max: bool) -> Result<(f64, f64)> {
    if ld.is_lu() {
        // W not similar to a symmetric matrix (complex eigenvalues): the interval
        // (−1/r, 1/r), r = the spectral radius (1 for a row-standardised W without islands,
        // else the power-iteration bound of `Weights::spectral_radius`), on which I − ρW is
        // non-singular (spdep's default interval for row-standardised W).
        let r = if unit_max { 1.0 } else { w.spectral_radius() };
        if !(r > 0.0 && r.is_finite()) {
            return Err(Error::Numerical("W has spectral radius 0".into()));
        }
        return Ok((-1.0 / r, 1.0 / r));
    }
    let (lmin, lmax) = lanczos_extremes(w, &ld.s, 80, 7)?;
    let lmax = if unit_max { 1.0 } else { lmax };
    let mut hi = if lmax > 0.0 { 1.0 / lmax } else { 1.0 };
    let mut lo = if lmin < 0.0 { 1.0 / lmin } else { -hi };
    // Ritz values lie inside the spectrum: move the bounds inwards until I − ρS factorises
    // just inside them.
    let inside = |b: f64| ld.factor(b * (1.0 - 1e-9)).is_some();
    let mut step = 1e-6;
    while !inside(lo) {
        lo *= 1.0 - step;
        step *= 2.0;
        if step > 0.5 {
            return Err(Error::Numerical(
                "could not find the lower bound of rho (I - rho W is not positive definite)".into(),
            ));
        }
    }
    if !unit_max {
        let mut step = 1e-6;
        while !inside(hi) {
            hi *= 1.0 - step;
            step *= 2.0;
            if step > 0.5 {
                return Err(Error::Numerical(
                    "could not find the upper bound of rho (I - rho W is not positive definite)"
                        .into(),
                ));
            }
        }
    }
    Ok((lo, hi))
}

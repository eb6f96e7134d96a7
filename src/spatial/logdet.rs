//! Log-determinant ln|I − ρW|: exact from W's eigenvalues (computed once), and a sparse
//! Monte Carlo approximation (Barry & Pace 1999) for large N.

// Index loops mirror the matrix formulas they implement.
#![allow(clippy::needless_range_loop)]

use faer::{Mat, Side};

use super::weights::Weights;
use crate::error::{Error, Result};

/// Eigenvalues of W (complex in general; conjugate pairs), with the admissible ρ interval.
#[derive(Debug, Clone)]
pub struct Spectrum {
    pub re: Vec<f64>,
    pub im: Vec<f64>,
    /// Whether all eigenvalues are real.
    pub real: bool,
}

/// If W = D⁻¹C with C symmetric (e.g. a row-standardised symmetric matrix), returns the
/// diagonal d (up to scale per connected component) so that D^{1/2} W D^{-1/2} is symmetric.
pub(crate) fn symmetrising_scale(w: &Weights) -> Option<Vec<f64>> {
    let n = w.n;
    // w_ji by binary search in row j (CSR rows are sorted by column); O(nnz log k), no dense copy.
    let entry = |j: usize, i: usize| -> f64 {
        let (a, b) = (w.indptr[j], w.indptr[j + 1]);
        match w.indices[a..b].binary_search(&i) {
            Ok(q) => w.data[a + q],
            Err(_) => 0.0,
        }
    };
    let mut d = vec![0.0; n];
    let mut seen = vec![false; n];
    for s in 0..n {
        if seen[s] {
            continue;
        }
        seen[s] = true;
        d[s] = 1.0;
        let mut stack = vec![s];
        while let Some(i) = stack.pop() {
            for p in w.indptr[i]..w.indptr[i + 1] {
                let j = w.indices[p];
                let wij = w.data[p];
                let wji = entry(j, i);
                if wji == 0.0 || (wij > 0.0) != (wji > 0.0) {
                    return None;
                }
                // d_i w_ij = d_j w_ji.
                let dj = d[i] * wij / wji;
                if seen[j] {
                    if (d[j] - dj).abs() > 1e-9 * dj.abs().max(d[j].abs()) {
                        return None;
                    }
                } else {
                    seen[j] = true;
                    d[j] = dj;
                    stack.push(j);
                }
            }
        }
    }
    if d.iter().all(|&x| x > 0.0) {
        Some(d)
    } else {
        None
    }
}

impl Spectrum {
    /// All eigenvalues of W. Symmetric or symmetrisable W (row-standardised symmetric
    /// weights) uses the symmetric solver; any other W the general (complex) one.
    pub fn of(w: &Weights) -> Result<Self> {
        let n = w.n;
        if n == 0 {
            return Err(Error::Empty("W has no units".into()));
        }
        let dense = w.to_dense()?;
        // faer's n x n copy and its workspace.
        crate::alloc::ensure::<f64>(n.saturating_mul(2), n, "W eigenvalues (n x n)")?;
        if let Some(d) = symmetrising_scale(w) {
            let s: Vec<f64> = d.iter().map(|x| x.sqrt()).collect();
            let m = Mat::from_fn(n, n, |i, j| {
                0.5 * (s[i] * dense[i * n + j] / s[j] + s[j] * dense[j * n + i] / s[i])
            });
            let ev = m
                .self_adjoint_eigenvalues(Side::Lower)
                .map_err(|e| Error::Numerical(format!("eigenvalues of W: {e:?}")))?;
            return Ok(Spectrum {
                im: vec![0.0; n],
                re: ev,
                real: true,
            });
        }
        let m = Mat::from_fn(n, n, |i, j| dense[i * n + j]);
        let ev = m
            .eigenvalues()
            .map_err(|e| Error::Numerical(format!("eigenvalues of W: {e:?}")))?;
        let re: Vec<f64> = ev.iter().map(|c| c.re).collect();
        let im: Vec<f64> = ev.iter().map(|c| c.im).collect();
        let scale = re
            .iter()
            .zip(&im)
            .map(|(a, b)| a.hypot(*b))
            .fold(0.0, f64::max);
        let real = im.iter().all(|v| v.abs() <= 1e-10 * scale.max(1.0));
        Ok(Spectrum { re, im, real })
    }

    /// Admissible interval (1/λ_min, 1/λ_max) over the real eigenvalues; λ_min ≥ 0 gives −1/λ_max.
    pub fn rho_bounds(&self) -> (f64, f64) {
        let mut lmax = f64::NEG_INFINITY;
        let mut lmin = f64::INFINITY;
        for (r, i) in self.re.iter().zip(&self.im) {
            if i.abs() < 1e-12 {
                lmax = lmax.max(*r);
                lmin = lmin.min(*r);
            }
        }
        let hi = if lmax > 0.0 { 1.0 / lmax } else { 1.0 };
        let lo = if lmin < 0.0 { 1.0 / lmin } else { -hi };
        (lo, hi)
    }

    /// ln|I − ρW| = Σ ln|1 − ρλ|.
    pub fn logdet(&self, rho: f64) -> f64 {
        self.re
            .iter()
            .zip(&self.im)
            .map(|(&a, &b)| 0.5 * ((1.0 - rho * a).powi(2) + (rho * b).powi(2)).ln())
            .sum()
    }

    /// tr(W(I−ρW)⁻¹) = Σ λ/(1−ρλ) (real part).
    pub fn trace_g(&self, rho: f64) -> f64 {
        self.re
            .iter()
            .zip(&self.im)
            .map(|(&a, &b)| {
                let (dr, di) = (1.0 - rho * a, -rho * b);
                let den = dr * dr + di * di;
                (a * dr + b * di) / den
            })
            .sum()
    }

    /// tr((I−ρW)⁻¹) = Σ 1/(1−ρλ) (real part).
    pub fn trace_a(&self, rho: f64) -> f64 {
        self.re
            .iter()
            .zip(&self.im)
            .map(|(&a, &b)| {
                let (dr, di) = (1.0 - rho * a, -rho * b);
                dr / (dr * dr + di * di)
            })
            .sum()
    }
}

/// Barry–Pace (1999) Monte Carlo estimate of ln|I − ρW| for each ρ in `rhos`:
/// −Σ_{k=1..order} ρ^k tr(W^k)/k with tr(W^k) estimated from `draws` Gaussian probes
/// (seeded; probe d uses ChaCha8 stream d), plus the exact tr(W) and tr(W²). Accuracy: the truncation error is
/// at most N·|ρ|^{order+1}/((order+1)(1−|ρ|)) for row-standardised W, and the Monte Carlo error
/// shrinks as 1/sqrt(draws).
pub fn logdet_barry_pace(
    w: &Weights,
    rhos: &[f64],
    order: usize,
    draws: usize,
    seed: u64,
) -> Result<Vec<f64>> {
    if order < 2 || draws == 0 {
        return Err(Error::Option {
            name: "order/draws".into(),
            reason: "order must be >= 2 and draws >= 1".into(),
        });
    }
    let n = w.n;
    // Exact tr(W) and tr(W²).
    let mut tr1 = 0.0;
    let mut tr2 = 0.0;
    for i in 0..n {
        for p in w.indptr[i]..w.indptr[i + 1] {
            let j = w.indices[p];
            if j == i {
                tr1 += w.data[p];
            }
            // (W²)_ii = Σ_j w_ij w_ji.
            for q in w.indptr[j]..w.indptr[j + 1] {
                if w.indices[q] == i {
                    tr2 += w.data[p] * w.data[q];
                }
            }
        }
    }
    // order and draws are the caller's: fallible storage, cancellable loops.
    let mut traces = crate::alloc::try_vec(order.saturating_add(1), 0.0, "Barry-Pace traces")?;
    let cancel = crate::interrupt::Cancel::current();
    for d in 0..draws {
        cancel.check()?;
        let mut rng = crate::rng::stream(seed, d as u64);
        let u: Vec<f64> = (0..n)
            .map(|_| crate::rng::standard_normal(&mut rng))
            .collect();
        let uu: f64 = u.iter().map(|v| v * v).sum();
        let mut v = u.clone();
        for t in traces.iter_mut().skip(1) {
            cancel.check()?;
            v = w.matvec(&v);
            let uv: f64 = u.iter().zip(&v).map(|(a, b)| a * b).sum();
            *t += n as f64 * uv / uu / draws as f64;
        }
    }
    traces[1] = tr1;
    traces[2] = tr2;
    Ok(rhos
        .iter()
        .map(|&r| {
            -(1..=order)
                .map(|k| r.powi(k as i32) * traces[k] / k as f64)
                .sum::<f64>()
        })
        .collect())
}

/// ln|I − ρW| from a dense LU factorisation (a reference for tests; O(N³) per ρ).
pub fn logdet_exact_dense(w: &Weights, rho: f64) -> Result<f64> {
    let n = w.n;
    let dense = w.to_dense()?;
    let m = Mat::from_fn(n, n, |i, j| {
        let e = if i == j { 1.0 } else { 0.0 };
        e - rho * dense[i * n + j]
    });
    let lu = m.partial_piv_lu();
    let u = lu.U();
    Ok((0..n).map(|i| u[(i, i)].abs().ln()).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_spectrum_logdet_matches_lu() {
        let n = 12;
        let mut d = vec![0.0; n * n];
        for i in 0..n {
            d[i * n + (i + 1) % n] = 0.5;
            d[i * n + (i + n - 1) % n] = 0.5;
        }
        let w = Weights::from_dense(&d, n).unwrap();
        let s = Spectrum::of(&w).unwrap();
        for &r in &[-0.5, 0.3, 0.8] {
            let a = s.logdet(r);
            let b = logdet_exact_dense(&w, r).unwrap();
            assert!((a - b).abs() < 1e-10, "{a} {b}");
        }
    }
}

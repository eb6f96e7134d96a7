//! Specification tests: LM and robust LM (lag, error) on the non-spatial fixed-effects model
//! (Anselin 1988; Anselin et al. 1996; panel form of Elhorst 2014, §3.4), and Wald / LR tests
//! of the SDM against the SAR (θ = 0).

// Index loops mirror the matrix formulas they implement.
#![allow(clippy::needless_range_loop)]

use statrs::distribution::{ChiSquared, ContinuousCDF};

use super::panel::{demean_panel, panel_layout, spatial_lag_panel};
use super::spec::{FeKind, SpatialFit};
use super::weights::Weights;
use crate::error::{Error, Result};
use crate::linalg::{dot_sequential, spd_inverse};

#[derive(Debug, Clone)]
pub struct LmTests {
    pub lm_lag: f64,
    pub lm_error: f64,
    pub rlm_lag: f64,
    pub rlm_error: f64,
    pub p_lm_lag: f64,
    pub p_lm_error: f64,
    pub p_rlm_lag: f64,
    pub p_rlm_error: f64,
}

fn chi2_sf(x: f64, df: f64) -> Result<f64> {
    let c = ChiSquared::new(df).map_err(|e| Error::Numerical(format!("chi-squared: {e}")))?;
    Ok(1.0 - c.cdf(x))
}

/// LM tests on y = Xβ + FE + e (balanced panel; same layout conventions as the models).
pub fn lm_tests(
    y: &[f64],
    x: &[Vec<f64>],
    unit: &[u32],
    time: &[u32],
    w: &Weights,
    effects: FeKind,
) -> Result<LmTests> {
    let n = w.n;
    let (t, pos) = panel_layout(unit, time, n)?;
    let re = |v: &[f64]| -> Vec<f64> { pos.iter().map(|&r| v[r]).collect() };
    let y0 = re(y);
    let mut wy = spatial_lag_panel(w, &y0, n, t);
    let mut yd = y0;
    demean_panel(&mut yd, n, t, effects);
    demean_panel(&mut wy, n, t, effects);
    let mut z: Vec<Vec<f64>> = x.iter().map(|c| re(c)).collect();
    for c in z.iter_mut() {
        demean_panel(c, n, t, effects);
    }
    let k = z.len();
    let nt = (n * t) as f64;
    let mut zz = ndarray::Array2::<f64>::zeros((k, k));
    for a in 0..k {
        for b in 0..k {
            zz[[a, b]] = dot_sequential(&z[a], &z[b]);
        }
    }
    let inv = spd_inverse(zz.view()).map_err(|_| Error::Column {
        name: "X".into(),
        reason: "regressors are collinear after removing the fixed effects".into(),
    })?;
    let proj = |v: &[f64]| -> Vec<f64> {
        // Residual of v on Z.
        let zy: Vec<f64> = z.iter().map(|c| dot_sequential(c, v)).collect();
        let b: Vec<f64> = (0..k)
            .map(|a| (0..k).map(|c| inv[[a, c]] * zy[c]).sum())
            .collect();
        let mut r = v.to_vec();
        for (a, col) in z.iter().enumerate() {
            for i in 0..r.len() {
                r[i] -= b[a] * col[i];
            }
        }
        r
    };
    let e = proj(&yd);
    let sig2 = dot_sequential(&e, &e) / nt;
    let mut we = spatial_lag_panel(w, &e, n, t);
    demean_panel(&mut we, n, t, effects);
    let fitted: Vec<f64> = yd.iter().zip(&e).map(|(a, b)| a - b).collect();
    let mut wxb = spatial_lag_panel(w, &fitted, n, t);
    demean_panel(&mut wxb, n, t, effects);
    let mwxb = proj(&wxb);
    // T_W = tr(W'W + WW) from the CSR (O(nnz); no N×N matrix, so 50,000 units fit).
    let tw = w.trace_wtw() + w.trace_ww();
    let tt = t as f64 * tw;
    let j = (dot_sequential(&wxb, &mwxb) + tt * sig2) / sig2;
    let g_lag = dot_sequential(&e, &wy) / sig2;
    let g_err = dot_sequential(&e, &we) / sig2;
    let lm_lag = g_lag * g_lag / j;
    let lm_error = g_err * g_err / tt;
    let rlm_lag = (g_lag - g_err).powi(2) / (j - tt);
    let rlm_error = (g_err - tt / j * g_lag).powi(2) / (tt * (1.0 - tt / j));
    Ok(LmTests {
        lm_lag,
        lm_error,
        rlm_lag,
        rlm_error,
        p_lm_lag: chi2_sf(lm_lag, 1.0)?,
        p_lm_error: chi2_sf(lm_error, 1.0)?,
        p_rlm_lag: chi2_sf(rlm_lag, 1.0)?,
        p_rlm_error: chi2_sf(rlm_error, 1.0)?,
    })
}

/// The smallest and largest eigenvalues of W without an N×N matrix, for the admissible
/// interval of ρ, (1/λ_min, 1/λ_max).
///
/// W must be symmetric or similar to a symmetric matrix (W = D⁻¹C, C symmetric: row-
/// standardised contiguity, distance bands, symmetrised kNN); then S = D^{1/2} W D^{-1/2} is
/// symmetric with W's eigenvalues and Lanczos with full reorthogonalisation on S converges to
/// its extreme eigenvalues. The iteration stops when both extreme Ritz pairs have residual
/// β_m |u_m| ≤ `tol` · max(1, |λ|) (a rigorous bound on the distance from the Ritz value to an
/// eigenvalue of S, Parlett 1998, §13.2), or on an invariant subspace (exact). Memory: the
/// Lanczos basis, O(N · steps). Seeded start vector (Rademacher, stream 0 of `seed`).
pub fn extreme_eigenvalues(
    w: &Weights,
    tol: f64,
    max_steps: usize,
    seed: u64,
) -> Result<(f64, f64)> {
    let n = w.n;
    if n == 0 {
        return Err(Error::Empty("W has no units".into()));
    }
    let d = super::logdet::symmetrising_scale(w).ok_or_else(|| Error::Option {
        name: "W".into(),
        reason: "the extreme eigenvalues are computed for a W that is symmetric or similar to a \
                 symmetric matrix (row-standardised symmetric weights); this W is not (e.g. a \
                 kNN W: symmetrise it first), use all eigenvalues (dense) instead"
            .into(),
    })?;
    let s: Vec<f64> = d.iter().map(|x| x.sqrt()).collect();
    let sv = |x: &[f64]| -> Vec<f64> {
        let y: Vec<f64> = x.iter().zip(&s).map(|(a, b)| a / b).collect();
        w.matvec(&y).iter().zip(&s).map(|(a, b)| a * b).collect()
    };
    let m_max = max_steps.min(n).max(1);
    crate::alloc::ensure::<f64>(n, m_max.min(64), "Lanczos basis")?;
    let mut q = crate::rng::rademacher_bool(&mut crate::rng::stream(seed, 0), n);
    let nrm = (n as f64).sqrt();
    q.iter_mut().for_each(|v| *v /= nrm);
    let mut basis: Vec<Vec<f64>> = vec![q];
    let (mut alpha, mut beta) = (Vec::new(), Vec::new());
    let cancel = crate::interrupt::Cancel::current();
    loop {
        cancel.check()?;
        let j = alpha.len();
        let mut v = sv(&basis[j]);
        alpha.push(dot_sequential(&v, &basis[j]));
        for _ in 0..2 {
            for b in &basis {
                let c = dot_sequential(&v, b);
                v.iter_mut().zip(b).for_each(|(x, y)| *x -= c * y);
            }
        }
        let bnorm = dot_sequential(&v, &v).sqrt();
        let k = alpha.len();
        let check = k == m_max || bnorm <= 1e-12 || k % 10 == 0;
        if check {
            let t = faer::Mat::from_fn(k, k, |a, b| {
                if a == b {
                    alpha[a]
                } else if a == b + 1 {
                    beta[b]
                } else if b == a + 1 {
                    beta[a]
                } else {
                    0.0
                }
            });
            let e = t
                .self_adjoint_eigen(faer::Side::Lower)
                .map_err(|e| Error::Numerical(format!("Lanczos eigenvalues of W: {e:?}")))?;
            let (u, ev) = (e.U(), e.S());
            // faer sorts the eigenvalues in increasing order.
            let (lo, hi) = (ev[0], ev[k - 1]);
            let res = |i: usize| bnorm * u[(k - 1, i)].abs();
            let ok = |i: usize, l: f64| res(i) <= tol * l.abs().max(1.0);
            if bnorm <= 1e-12 || (ok(0, lo) && ok(k - 1, hi)) {
                return Ok((lo, hi));
            }
            if k == m_max {
                return Err(Error::Numerical(format!(
                    "extreme eigenvalues of W: Lanczos did not converge in {m_max} steps \
                     (residuals {:.2e}, {:.2e})",
                    res(0),
                    res(k - 1)
                )));
            }
        }
        beta.push(bnorm);
        v.iter_mut().for_each(|x| *x /= bnorm);
        basis.push(v);
    }
}

/// Wald test of θ = 0 in a fitted SDM (SDM against SAR): (statistic, df, p-value).
pub fn wald_theta(fit: &SpatialFit) -> Result<(f64, usize, f64)> {
    let q = fit.durbin.len();
    if q == 0 {
        return Err(Error::Option {
            name: "model".into(),
            reason: "the Wald test of theta = 0 needs an SDM".into(),
        });
    }
    let p = fit.coef.len();
    let idx: Vec<usize> = (fit.k_x..fit.k_x + q).collect();
    let v = ndarray::Array2::from_shape_fn((q, q), |(a, b)| fit.vcov[idx[a] * p + idx[b]]);
    let vinv = spd_inverse(v.view())?;
    let th: Vec<f64> = idx.iter().map(|&i| fit.coef[i]).collect();
    let mut s = 0.0;
    for a in 0..q {
        for b in 0..q {
            s += th[a] * vinv[[a, b]] * th[b];
        }
    }
    Ok((s, q, chi2_sf(s, q as f64)?))
}

/// Likelihood-ratio test of a restricted against an unrestricted fit: (statistic, df, p).
pub fn lr_test(unrestricted: &SpatialFit, restricted: &SpatialFit) -> Result<(f64, usize, f64)> {
    let df = unrestricted
        .coef
        .len()
        .saturating_sub(restricted.coef.len());
    if df == 0 {
        return Err(Error::Option {
            name: "models".into(),
            reason: "the restricted model must have fewer parameters".into(),
        });
    }
    let s = 2.0 * (unrestricted.loglik - restricted.loglik);
    Ok((s, df, chi2_sf(s.max(0.0), df as f64)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spatial::logdet::Spectrum;

    /// All eigenvalues from the dense solver (`Spectrum::of`) as the oracle: the Lanczos
    /// extremes equal its smallest and largest to 1e-9, on a symmetrised kNN W (row-
    /// standardised, λ_max = 1) and a binary distance band (λ_max > 1).
    #[test]
    fn lanczos_extremes_equal_dense_spectrum() {
        use crate::spatial::weights::{distance_band, knn, EARTH_RADIUS_KM};
        let n = 400;
        let lat: Vec<f64> = (0..n)
            .map(|i| 30.0 + ((i * 37) % 101) as f64 * 0.05 + i as f64 * 1e-4)
            .collect();
        let lon: Vec<f64> = (0..n)
            .map(|i| 115.0 + ((i * 53) % 97) as f64 * 0.06)
            .collect();
        let k = knn(&lat, &lon, 5, EARTH_RADIUS_KM).unwrap();
        let (mut r, mut c) = (Vec::new(), Vec::new());
        for i in 0..n {
            for p in k.indptr[i]..k.indptr[i + 1] {
                r.extend([i, k.indices[p]]);
                c.extend([k.indices[p], i]);
            }
        }
        let sym = Weights::from_triplets(n, &r, &c, &vec![1.0; r.len()]).unwrap();
        let sym = Weights {
            data: vec![1.0; sym.nnz()],
            ..sym
        }
        .row_standardise(false)
        .unwrap();
        let band = distance_band(&lat, &lon, 40.0, EARTH_RADIUS_KM).unwrap();
        for w in [&sym, &band] {
            let sp = Spectrum::of(w).unwrap();
            let lo = sp.re.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = sp.re.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let (a, b) = extreme_eigenvalues(w, 1e-12, 2000, 1).unwrap();
            assert!((a - lo).abs() < 1e-9 * lo.abs().max(1.0), "{a} vs {lo}");
            assert!((b - hi).abs() < 1e-9 * hi.abs().max(1.0), "{b} vs {hi}");
        }
        assert!(extreme_eigenvalues(&k, 1e-12, 100, 1).is_err());
    }
}

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
    // T_W = tr(W'W + WW).
    let d = w.to_dense()?;
    let mut tw = 0.0;
    for i in 0..n {
        for j in 0..n {
            tw += d[i * n + j] * d[i * n + j] + d[i * n + j] * d[j * n + i];
        }
    }
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

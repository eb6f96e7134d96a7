//! The panel 2×2 DID estimators of one (g, t) cell of `att_gt`, numerically as R's `DRDID`
//! (Sant'Anna & Zhao 2020, J. Econometrics 219(1)): doubly robust (`drdid_panel`), Hajek-
//! normalised IPW (`std_ipw_did_panel`) and outcome regression (`reg_did_panel`), each with
//! its influence function. Inputs: the outcome change `dy`, treatment `d`, row-major
//! covariates `x` (n×k, intercept first) and weights `w` normalised to mean one.

// Index loops mirror the matrix formulas they implement.
#![allow(clippy::needless_range_loop)]

use ndarray::Array2;

use crate::linalg::logit::weighted_logit;

/// A fitted propensity score as `weighted_logit` returns it: (β, fitted p, (X'WX)⁻¹).
pub(crate) type LogitFit = (Vec<f64>, Vec<f64>, Array2<f64>);

/// The caller's fit when it has the very same one, else the weighted logit of d on x.
fn propensity_score(
    logit: Option<LogitFit>,
    x: &[f64],
    d: &[f64],
    w: &[f64],
    k: usize,
) -> std::result::Result<LogitFit, PanelFailure> {
    match logit {
        Some(fit) => Ok(fit),
        None => weighted_logit(x, d, w, k).ok_or(PanelFailure::Singular),
    }
}
use crate::linalg::spd_inverse;

/// Weighted least squares of dy on x among controls (d = 0). Returns (coef, (X'WX/n)^{-1}).
fn wols_controls(
    dy: &[f64],
    d: &[f64],
    x: &[f64],
    w: &[f64],
    k: usize,
) -> Option<(Vec<f64>, Array2<f64>)> {
    let n = d.len();
    let mut xtx = Array2::<f64>::zeros((k, k));
    let mut xty = vec![0.0; k];
    for i in 0..n {
        if d[i] != 0.0 {
            continue;
        }
        let xi = &x[i * k..(i + 1) * k];
        for a in 0..k {
            xty[a] += w[i] * xi[a] * dy[i];
            for b in 0..k {
                xtx[[a, b]] += w[i] * xi[a] * xi[b];
            }
        }
    }
    let inv = spd_inverse(xtx.view()).ok()?;
    let coef: Vec<f64> = (0..k)
        .map(|a| (0..k).map(|b| inv[[a, b]] * xty[b]).sum())
        .collect();
    let scaled = inv.mapv(|v| v * n as f64); // solve(X'WX / n)
    Some((coef, scaled))
}

fn row_dot(x: &[f64], i: usize, k: usize, v: &[f64]) -> f64 {
    x[i * k..(i + 1) * k]
        .iter()
        .zip(v)
        .map(|(a, b)| a * b)
        .sum()
}

fn mat_vec(m: &Array2<f64>, v: &[f64]) -> Vec<f64> {
    let k = v.len();
    (0..k)
        .map(|a| (0..k).map(|b| m[[a, b]] * v[b]).sum())
        .collect()
}

/// DRDID's trimmed weights of one unit: (score clamped below 1, treated weight, comparison
/// weight); both weights are zero for a comparison unit whose score is at least 0.995.
#[inline]
fn trimmed_weights(p: f64, d: f64, w: f64) -> (f64, f64, f64) {
    let ps = p.min(1.0 - 1e-6);
    let trim = if d == 1.0 || ps < 0.995 { 1.0 } else { 0.0 };
    (ps, trim * w * d, trim * w * ps * (1.0 - d) / (1.0 - ps))
}

/// The mean comparison weight from its sum over n units; an error when trimming left none.
fn comparison_weight_mean(sum: f64, nf: f64) -> std::result::Result<f64, PanelFailure> {
    let m = sum / nf;
    if m.is_nan() || m <= 0.0 {
        // every comparison unit has a propensity score >= 0.995 and was trimmed
        return Err(PanelFailure::ControlsTrimmed);
    }
    Ok(m)
}

/// Why a 2x2 panel DID of one (g,t) cell could not be estimated.
pub(crate) enum PanelFailure {
    /// The propensity-score logit or the outcome regression is singular.
    Singular,
    /// DRDID's trimming (propensity score >= 0.995) removed every comparison unit.
    ControlsTrimmed,
}

/// `DRDID::drdid_panel` (improved-weights-free "traditional" DR, with its influence function).
///
/// The per-unit quantities (trimmed score, fitted outcome, weights, residual) are recomputed
/// in each of the three passes over the units rather than stored: each value is the same
/// expression on the same numbers every time, and the sums run in unit order from -0.0, as
/// `Iterator::sum` does, so the result is bit for bit that of the vector form R's code reads
/// as, without its eight n-length temporaries.
pub(crate) fn drdid_panel(
    dy: &[f64],
    d: &[f64],
    x: &[f64],
    w: &[f64],
    k: usize,
    logit: Option<LogitFit>,
) -> std::result::Result<(f64, Vec<f64>), PanelFailure> {
    let n = d.len();
    let nf = n as f64;
    let (_, ps, hinv) = propensity_score(logit, x, d, w, k)?;
    let (coef, xpx_inv) = wols_controls(dy, d, x, w, k).ok_or(PanelFailure::Singular)?;
    // Unit i's (clamped score, treated weight, comparison weight, outcome residual).
    let unit = |i: usize| -> (f64, f64, f64, f64) {
        let (ps, w_t, w_c) = trimmed_weights(ps[i], d[i], w[i]);
        (ps, w_t, w_c, dy[i] - row_dot(x, i, k, &coef))
    };
    let (mut s_wt, mut s_wc, mut s_att_t, mut s_att_c) = (-0.0, -0.0, -0.0, -0.0);
    for i in 0..n {
        let (_, w_t, w_c, resid) = unit(i);
        s_wt += w_t;
        s_wc += w_c;
        s_att_t += w_t * resid;
        s_att_c += w_c * resid;
    }
    let mwt = s_wt / nf;
    let mwc = comparison_weight_mean(s_wc, nf)?;
    let eta_t = s_att_t / nf / mwt;
    let eta_c = s_att_c / nf / mwc;
    let att = eta_t - eta_c;
    // OLS asymptotic linear representation: (w (1-d) resid x) %*% XpX.inv
    // logit: (w (d - ps) x) %*% Hessian.ps, Hessian.ps = vcov * n
    let hess = hinv.mapv(|v| v * nf);
    let mut m1 = vec![0.0; k];
    let mut m2 = vec![0.0; k];
    let mut m3 = vec![0.0; k];
    for i in 0..n {
        let (_, w_t, w_c, resid) = unit(i);
        let xi = &x[i * k..(i + 1) * k];
        for a in 0..k {
            m1[a] += w_t * xi[a];
            m2[a] += w_c * (resid - eta_c) * xi[a];
            m3[a] += w_c * xi[a];
        }
    }
    for a in 0..k {
        m1[a] /= nf;
        m2[a] /= nf;
        m3[a] /= nf;
    }
    let a1 = mat_vec(&xpx_inv, &m1); // XpX.inv %*% M1
    let a3 = mat_vec(&xpx_inv, &m3);
    let a2 = mat_vec(&hess, &m2);
    let psi = (0..n)
        .map(|i| {
            let (ps, w_t, w_c, resid) = unit(i);
            let ols_w = w[i] * (1.0 - d[i]) * resid;
            let ps_w = w[i] * (d[i] - ps);
            let inf_t2 = ols_w * row_dot(x, i, k, &a1);
            let inf_t = (w_t * resid - w_t * eta_t - inf_t2) / mwt;
            let inf_c1 = w_c * resid - w_c * eta_c;
            let inf_c2 = ps_w * row_dot(x, i, k, &a2);
            let inf_c3 = ols_w * row_dot(x, i, k, &a3);
            let inf_c = (inf_c1 + inf_c2 - inf_c3) / mwc;
            inf_t - inf_c
        })
        .collect();
    Ok((att, psi))
}

/// `DRDID::std_ipw_did_panel` (Hajek-normalised IPW), its per-unit quantities recomputed in
/// each pass as in [`drdid_panel`] (bit for bit the vector form).
pub(crate) fn ipw_did_panel(
    dy: &[f64],
    d: &[f64],
    x: &[f64],
    w: &[f64],
    k: usize,
    logit: Option<LogitFit>,
) -> std::result::Result<(f64, Vec<f64>), PanelFailure> {
    let n = d.len();
    let nf = n as f64;
    let (_, ps, hinv) = propensity_score(logit, x, d, w, k)?;
    let unit = |i: usize| trimmed_weights(ps[i], d[i], w[i]);
    let (mut s_wt, mut s_wc, mut s_att_t, mut s_att_c) = (-0.0, -0.0, -0.0, -0.0);
    for i in 0..n {
        let (_, w_t, w_c) = unit(i);
        s_wt += w_t;
        s_wc += w_c;
        s_att_t += w_t * dy[i];
        s_att_c += w_c * dy[i];
    }
    let mwt = s_wt / nf;
    let mwc = comparison_weight_mean(s_wc, nf)?;
    let eta_t = s_att_t / nf / mwt;
    let eta_c = s_att_c / nf / mwc;
    let hess = hinv.mapv(|v| v * nf);
    let mut m2 = vec![0.0; k];
    for i in 0..n {
        let (_, _, w_c) = unit(i);
        for a in 0..k {
            m2[a] += w_c * (dy[i] - eta_c) * x[i * k + a];
        }
    }
    for v in m2.iter_mut() {
        *v /= nf;
    }
    let a2 = mat_vec(&hess, &m2);
    let psi = (0..n)
        .map(|i| {
            let (ps, w_t, w_c) = unit(i);
            let inf_t = (w_t * dy[i] - w_t * eta_t) / mwt;
            let inf_c1 = w_c * dy[i] - w_c * eta_c;
            let inf_c2 = w[i] * (d[i] - ps) * row_dot(x, i, k, &a2);
            inf_t - (inf_c1 + inf_c2) / mwc
        })
        .collect();
    Ok((eta_t - eta_c, psi))
}

/// `DRDID::reg_did_panel` (outcome regression), its per-unit quantities recomputed in each
/// pass as in [`drdid_panel`] (bit for bit the vector form).
pub(crate) fn reg_did_panel(
    dy: &[f64],
    d: &[f64],
    x: &[f64],
    w: &[f64],
    k: usize,
) -> std::result::Result<(f64, Vec<f64>), PanelFailure> {
    let n = d.len();
    let nf = n as f64;
    let (coef, xpx_inv) = wols_controls(dy, d, x, w, k).ok_or(PanelFailure::Singular)?;
    // Unit i's (treated weight, fitted comparison outcome).
    let unit = |i: usize| -> (f64, f64) { (w[i] * d[i], row_dot(x, i, k, &coef)) };
    let (mut s_w, mut s_att_t, mut s_att_c) = (-0.0, -0.0, -0.0);
    for i in 0..n {
        let (w_t, out) = unit(i);
        s_w += w_t;
        s_att_t += w_t * dy[i];
        s_att_c += w_t * out;
    }
    let mw = s_w / nf;
    let eta_t = s_att_t / nf / mw;
    let eta_c = s_att_c / nf / mw;
    let mut m1 = vec![0.0; k];
    for i in 0..n {
        let (w_t, _) = unit(i);
        for a in 0..k {
            m1[a] += w_t * x[i * k + a];
        }
    }
    for v in m1.iter_mut() {
        *v /= nf;
    }
    let a1 = mat_vec(&xpx_inv, &m1);
    let psi = (0..n)
        .map(|i| {
            let (w_t, out) = unit(i);
            let inf_t = (w_t * dy[i] - w_t * eta_t) / mw;
            let inf_c1 = w_t * out - w_t * eta_c;
            let inf_c2 = w[i] * (1.0 - d[i]) * (dy[i] - out) * row_dot(x, i, k, &a1);
            inf_t - (inf_c1 + inf_c2) / mw
        })
        .collect();
    Ok((eta_t - eta_c, psi))
}

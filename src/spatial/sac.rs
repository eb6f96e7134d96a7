//! SAC / SARAR panel (Elhorst 2014 §3.4; xsmle `model(sac)`): y = ρWy + Xβ + FE + u,
//! u = λWu + ε, by maximum likelihood with unit / time / two-way fixed effects and the
//! Lee–Yu transformation, on the same fixed-effects conventions as SAR / SEM.
//!
//! Likelihood. With A = I − ρW and B = I − λW (per period), ε = B(Ay − Xβ) and
//! ℓ = −(NT/2) ln(2πσ²) + T ln|A| + T ln|B| − ε'ε/(2σ²). β and σ² are concentrated out:
//! for given (ρ, λ), y* = y − (ρ+λ)Wy + ρλW²y and X* = X − λWX, β = OLS(y*, X*); all cross
//! products come from the Gram matrix of [y, Wy, W²y, X, WX], so one likelihood evaluation
//! costs two log-determinants and a k×k solve. (ρ, λ) maximise the concentrated likelihood
//! by nested Brent searches (outer ρ, inner λ, both to 1e-10) over the admissible interval.
//!
//! Information matrix (expected; Anselin 1988 for the cross-section, T replications), with
//! G = WA⁻¹, H = WB⁻¹ and G̃ = BGB⁻¹:
//! I_ββ = X*'X*/σ², I_βρ = X*'(BGXβ)/σ², I_βλ = 0,
//! I_ρρ = ‖BGXβ‖²/σ² + T[tr(G̃'G̃) + tr(GG)], I_ρλ = T[tr(H'G̃) + tr(HG)],
//! I_λλ = T[tr(H'H) + tr(HH)], I_ρσ² = T tr(G)/σ², I_λσ² = T tr(H)/σ², I_σ²σ² = NT/(2σ⁴).
//! With the Lee–Yu time transformation G, H and G̃ are projected (QMQ, Q = I − ιι'/N) as for
//! SAR. Dense path: the matrices themselves; sparse path: the traces of
//! [`super::sparse::sac_traces`] (exact log-determinant derivatives, partial fractions and
//! control-variate Hutchinson estimates of the antisymmetric parts).
//!
//! Effects are those of the SAR part, S_k = A⁻¹β_k (the error process does not move them).
//!
//! GNS (general nesting spatial model; Elhorst 2014 §2.2) is this model with Durbin terms:
//! `z` then holds the W·X columns, which enter X* = BZ like any regressor, and the effects
//! are those of the SDM part, A⁻¹(β_k I + θ_k W). Its parameters are weakly identified
//! (Gibbons & Overman 2012): ρWy, WXθ and λMu can produce the same spatial covariance. The
//! error weights M may differ from W (dense path); λ may be fixed (λ = 0 is the SDM).
//! Time-varying W: W_t (and M_t = W_t unless M is given) per period; the information
//! matrix sums the per-period traces (dense path).

// Index loops mirror the matrix formulas they implement.
#![allow(clippy::needless_range_loop)]

use faer::Mat;

use super::identification::lr_interval;
use super::likelihood::{
    bound_warning, dense_g, r_brent_fmin, stack_coef, Engine, ErrorCtx, LikelihoodFrame,
};
use super::panel::{demean_panel, PanelW};
use super::sparse::{self, SeriesTraces};
use super::spec::{
    FeKind, PeriodTraces, SpatialExtra, SpatialFit, SpatialSpec, TraceSource, SPARSE_SEED,
};
use super::weights::Weights;
use crate::error::{Error, Result};
use crate::linalg::{dot_sequential, spd_inverse};

/// QMQ (row then column demeaning) of a dense row-major n×n matrix.
fn project(m: &[f64], n: usize) -> Vec<f64> {
    let mut q = m.to_vec();
    for i in 0..n {
        let mean: f64 = q[i * n..(i + 1) * n].iter().sum::<f64>() / n as f64;
        q[i * n..(i + 1) * n].iter_mut().for_each(|v| *v -= mean);
    }
    let mut col = vec![0.0; n];
    for i in 0..n {
        for j in 0..n {
            col[j] += q[i * n + j] / n as f64;
        }
    }
    for i in 0..n {
        for j in 0..n {
            q[i * n + j] -= col[j];
        }
    }
    q
}

fn to_mat(m: &[f64], n: usize) -> Mat<f64> {
    Mat::from_fn(n, n, |i, j| m[i * n + j])
}

/// Fits the SAC panel, and the GNS panel (SAC with Durbin terms: `z` then holds the W·X
/// columns), with an error weights matrix M (default W: M_t = W_t when W varies by period)
/// and optionally a fixed λ (called from [`super::models::spatial_panel_ext`] after
/// demeaning). With M ≠ W the error transformation is B = I − λM, so
/// y* = y − ρWy − λMy + ρλMWy and X* = X − λMX; the information matrix is the same with
/// H = M(I − λM)⁻¹ (dense path only).
pub(crate) fn sac_model(
    ctx: ErrorCtx,
    extra: &SpatialExtra,
    spec: &SpatialSpec,
) -> Result<SpatialFit> {
    let ErrorCtx {
        w,
        pw,
        n,
        t,
        y,
        wy: wy_raw,
        z,
        mut names,
        durbin,
        k,
        row_std,
        mut warnings,
    } = ctx;
    let kz = z.len();
    if kz == 0 {
        return Err(Error::Option {
            name: "formula".into(),
            reason: "the SAC model needs at least one regressor".into(),
        });
    }
    let m_static = extra.m.map(|m| PanelW::fixed(m, t));
    let pm: &PanelW = m_static.as_ref().unwrap_or(pw);
    if let Some(m) = extra.m {
        if spec.lee_yu
            && matches!(spec.effects, FeKind::Time | FeKind::Twoways)
            && !m.is_row_standardised()
        {
            return Err(Error::Option {
                name: "lee_yu".into(),
                reason: "the Lee-Yu transformation with time effects needs a row-standardised M"
                    .into(),
            });
        }
    }
    // W (or M) applied within each period, re-demeaned so the transformed series stay in
    // the fixed-effects space (as for SEM).
    let lag_w = |v: &[f64]| {
        let mut o = pw.lag(v, n);
        demean_panel(&mut o, n, t, spec.effects);
        o
    };
    let lag_m = |v: &[f64]| {
        let mut o = pm.lag(v, n);
        demean_panel(&mut o, n, t, spec.effects);
        o
    };
    // The lag part: the demeaned W_t y_t (exact: demeaning y_t = ρW_t y_t + Xβ + μ + u_t
    // removes μ). With one W (row-standardised) that equals the lag of the demeaned y, which
    // the static model has always used (kept: same numbers).
    let wy = if pw.is_static() {
        lag_w(y)
    } else {
        wy_raw.to_vec()
    };
    // y's part of the basis: [y, Wy, W²y] when M = W (BA = I − (ρ+λ)W + ρλW²), else
    // [y, Wy, My, MWy].
    let separate_m = extra.m.is_some();
    let ybasis: Vec<Vec<f64>> = if separate_m {
        vec![lag_m(y), lag_m(&wy)]
    } else {
        vec![lag_w(&wy)]
    };
    let ny = 2 + ybasis.len();
    let wz: Vec<Vec<f64>> = z.iter().map(|c| lag_m(c)).collect();
    // Basis [y-part, z_1..z_k, Mz_1..Mz_k] and its Gram matrix.
    let mut basis: Vec<&[f64]> = vec![y, &wy];
    basis.extend(ybasis.iter().map(|c| c.as_slice()));
    basis.extend(z.iter().map(|c| c.as_slice()));
    basis.extend(wz.iter().map(|c| c.as_slice()));
    let m = basis.len();
    let mut gram = vec![0.0; m * m];
    for a in 0..m {
        for b in 0..=a {
            let v = dot_sequential(basis[a], basis[b]);
            gram[a * m + b] = v;
            gram[b * m + a] = v;
        }
    }
    let quad = |u: &[f64], v: &[f64]| -> f64 {
        let mut s = 0.0;
        for a in 0..m {
            if u[a] == 0.0 {
                continue;
            }
            for b in 0..m {
                s += u[a] * gram[a * m + b] * v[b];
            }
        }
        s
    };
    let coefs = |rho: f64, lam: f64| -> (Vec<f64>, Vec<Vec<f64>>) {
        let mut cy = vec![0.0; m];
        cy[0] = 1.0;
        if separate_m {
            cy[1] = -rho;
            cy[2] = -lam;
            cy[3] = rho * lam;
        } else {
            cy[1] = -(rho + lam);
            cy[2] = rho * lam;
        }
        let cx: Vec<Vec<f64>> = (0..kz)
            .map(|j| {
                let mut c = vec![0.0; m];
                c[ny + j] = 1.0;
                c[ny + kz + j] = -lam;
                c
            })
            .collect();
        (cy, cx)
    };
    // β(ρ, λ), e'e and X*'X*.
    let solve = |rho: f64, lam: f64| -> Result<(Vec<f64>, f64, ndarray::Array2<f64>)> {
        let (cy, cx) = coefs(rho, lam);
        let xx = ndarray::Array2::from_shape_fn((kz, kz), |(a, b)| quad(&cx[a], &cx[b]));
        let xy: Vec<f64> = cx.iter().map(|c| quad(c, &cy)).collect();
        let inv = spd_inverse(xx.view()).map_err(|_| Error::Column {
            name: names[..kz].join(", "),
            reason: "regressors are collinear after removing the fixed effects".into(),
        })?;
        let b: Vec<f64> = (0..kz)
            .map(|i| (0..kz).map(|j| inv[[i, j]] * xy[j]).sum())
            .collect();
        let ee = quad(&cy, &cy) - b.iter().zip(&xy).map(|(x, v)| x * v).sum::<f64>();
        Ok((b, ee, xx))
    };
    let frame = LikelihoodFrame::new_panel(pw, spec, n, t, row_std && !pw.has_islands())?;
    let frame_m_owned = match extra.m {
        Some(mw) => Some(LikelihoodFrame::new(
            mw,
            spec,
            n,
            t,
            mw.is_row_standardised() && mw.islands().is_empty(),
        )?),
        None => None,
    };
    let frame_m = frame_m_owned.as_ref().unwrap_or(&frame);
    let (bounds, ly_n, t_eff, nt_eff) = (frame.bounds, frame.ly_n, frame.t_eff, frame.nt_eff);
    let lam_bounds = frame_m.bounds;
    let negll = |rho: f64, lam: f64| -> f64 {
        match solve(rho, lam) {
            Ok((_, ee, _)) if ee > 0.0 => {
                0.5 * nt_eff * ee.ln() - frame.logdet(rho) - frame_m.logdet(lam)
            }
            _ => f64::INFINITY,
        }
    };
    let inner = |b: (f64, f64)| {
        let eps = 1e-9 * (b.1 - b.0);
        (b.0 + eps, b.1 - eps)
    };
    let (lo, hi) = inner(bounds);
    let (lo_l, hi_l) = inner(lam_bounds);
    if let Some(l0) = extra.fixed_lambda {
        if !(l0 > lam_bounds.0 && l0 < lam_bounds.1) {
            return Err(Error::Option {
                name: "fixed_lambda".into(),
                reason: format!(
                    "{l0} is outside lambda's admissible interval ({:.4}, {:.4})",
                    lam_bounds.0, lam_bounds.1
                ),
            });
        }
    }
    let best_lam = |rho: f64| match extra.fixed_lambda {
        Some(l0) => l0,
        None => r_brent_fmin(lo_l, hi_l, |l| negll(rho, l), 1e-10),
    };
    let rho = r_brent_fmin(lo, hi, |r| negll(r, best_lam(r)), 1e-10);
    let lam = best_lam(rho);
    crate::interrupt::Cancel::current().check()?;
    warnings.extend(bound_warning("rho", rho, bounds));
    if extra.fixed_lambda.is_none() {
        warnings.extend(bound_warning("lambda", lam, lam_bounds));
    }
    // Each parameter's LR interval profiles the other one out (inner Brent search, as in
    // the fit).
    let best_rho = |l: f64| r_brent_fmin(lo, hi, |r| negll(r, l), 1e-10);
    let mut intervals = vec![lr_interval("rho", rho, bounds, spec.interval_level, |r| {
        negll(r, best_lam(r))
    })?];
    if extra.fixed_lambda.is_none() {
        intervals.push(lr_interval(
            "lambda",
            lam,
            lam_bounds,
            spec.interval_level,
            |l| negll(best_rho(l), l),
        )?);
    }
    let (beta, rss, xtx) = solve(rho, lam)?;
    let sige = rss / nt_eff;
    let loglik = -0.5 * nt_eff * (2.0 * std::f64::consts::PI * sige).ln()
        + frame.logdet(rho)
        + frame_m.logdet(lam)
        - 0.5 * rss / sige;

    // Residuals ε = y* − X*β and the mean-part vector BGXβ (per period).
    let (cy, cx) = coefs(rho, lam);
    let comb = |c: &[f64]| -> Vec<f64> {
        let mut out = vec![0.0; n * t];
        for a in 0..m {
            if c[a] != 0.0 {
                for r in 0..n * t {
                    out[r] += c[a] * basis[a][r];
                }
            }
        }
        out
    };
    let mut resid = comb(&cy);
    let xstar: Vec<Vec<f64>> = cx.iter().map(|c| comb(c)).collect();
    for (a, xs) in xstar.iter().enumerate() {
        for r in 0..n * t {
            resid[r] -= beta[a] * xs[r];
        }
    }
    let xb: Vec<f64> = (0..n * t)
        .map(|r| (0..kz).map(|a| beta[a] * z[a][r]).sum())
        .collect();
    let general = !pw.is_static() || separate_m;
    let (mut bgxb, trs, trace_se, traces) = match &frame.engine {
        Engine::Dense(spectrum) if !general => {
            let (bgxb, trs) = dense_terms(w, w, n, t, rho, lam, &xb, ly_n)?;
            (bgxb, trs, None, TraceSource::Dense(spectrum.clone()))
        }
        Engine::Sparse(ld) if !general => {
            let gv = sparse::apply_g_panel(w, ld, rho, &xb)?;
            let mut bgxb = Vec::with_capacity(n * t);
            for s in 0..t {
                let blk = &gv[s * n..(s + 1) * n];
                let wv = w.matvec(blk);
                bgxb.extend(blk.iter().zip(&wv).map(|(a, b)| a - lam * b));
            }
            let st = sparse::sac_traces(w, ld, rho, lam, bounds, ly_n, SPARSE_SEED)?;
            let tw =
                sparse::power_traces(w, sparse::SERIES_ORDER, sparse::SERIES_PROBES, SPARSE_SEED);
            let src = TraceSource::Sparse(SeriesTraces::new(tw, n, rho, st.raw_g, st.raw_gg));
            (bgxb, st.tr, Some(st.se), src)
        }
        _ => {
            // A W per period and / or M ≠ W: the dense matrices of every distinct (W_t, M_t)
            // pair, traces averaged over the periods.
            let mut spectra = Vec::with_capacity(pw.ws.len());
            for kk in 0..pw.ws.len() {
                let both_dense = matches!(frame.engine_of(kk), Engine::Dense(_))
                    && matches!(frame_m.engine, Engine::Dense(_));
                match frame.engine_of(kk) {
                    Engine::Dense(sp) if both_dense => spectra.push(sp.clone()),
                    _ => {
                        return Err(Error::Option {
                            name: "method".into(),
                            reason: "SAC / GNS with a time-varying W or a separate M needs \
                                     method='dense'"
                                .into(),
                        })
                    }
                }
            }
            let mut bgxb = vec![0.0; n * t];
            let mut trs = [0.0; 8];
            let mut parts = Vec::with_capacity(pw.ws.len());
            for (kk, wk) in pw.ws.iter().enumerate() {
                let share = pw.count(kk) as f64 / t as f64;
                let mk = extra.m.unwrap_or(wk);
                let sub = pw.gather(kk, &xb, n);
                let (b, tk) = dense_terms(wk, mk, n, pw.count(kk), rho, lam, &sub, ly_n)?;
                pw.scatter(kk, &b, &mut bgxb, n);
                for (acc, v) in trs.iter_mut().zip(tk) {
                    *acc += share * v;
                }
                parts.push(PeriodTraces {
                    share,
                    traces: TraceSource::Dense(spectra[kk].clone()),
                    w: (*wk).clone(),
                });
            }
            let src = if pw.is_static() {
                TraceSource::Dense(spectra.swap_remove(0))
            } else {
                TraceSource::Periods(parts)
            };
            (bgxb, trs, None, src)
        }
    };
    if !pw.is_static() {
        demean_panel(&mut bgxb, n, t, spec.effects);
    } else if ly_n || matches!(spec.effects, FeKind::Time | FeKind::Twoways) {
        demean_panel(&mut bgxb, n, t, FeKind::Time);
    }
    let [tr_g, tr_gg, tr_gtgt, tr_h, tr_hh, tr_hth, tr_hg, tr_htgt] = trs;
    let t_info = if spec.lee_yu && spec.effects == FeKind::Individual {
        t as f64
    } else {
        t_eff
    };
    let nt_info = if spec.lee_yu && spec.effects == FeKind::Individual {
        (n * t) as f64
    } else {
        nt_eff
    };
    let p = kz + 3;
    let (ir, il, is) = (kz, kz + 1, kz + 2);
    let mut info = ndarray::Array2::<f64>::zeros((p, p));
    for a in 0..kz {
        for b in 0..kz {
            info[[a, b]] = xtx[[a, b]] / sige;
        }
        let v = dot_sequential(&xstar[a], &bgxb) / sige;
        info[[a, ir]] = v;
        info[[ir, a]] = v;
    }
    info[[ir, ir]] = dot_sequential(&bgxb, &bgxb) / sige + t_info * (tr_gtgt + tr_gg);
    info[[ir, il]] = t_info * (tr_htgt + tr_hg);
    info[[il, ir]] = info[[ir, il]];
    info[[il, il]] = t_info * (tr_hth + tr_hh);
    info[[ir, is]] = t_info * tr_g / sige;
    info[[is, ir]] = info[[ir, is]];
    info[[il, is]] = t_info * tr_h / sige;
    info[[is, il]] = info[[il, is]];
    info[[is, is]] = nt_info / (2.0 * sige * sige);
    let not_pd = |_| Error::Numerical("the information matrix is not positive definite".into());
    let vcov: Vec<f64> = if extra.fixed_lambda.is_some() {
        // λ fixed: invert the information of the other parameters; λ's row and column are 0.
        let keep: Vec<usize> = (0..p).filter(|&a| a != il).collect();
        let q = keep.len();
        let sub = ndarray::Array2::from_shape_fn((q, q), |(a, b)| info[[keep[a], keep[b]]]);
        let vs = spd_inverse(sub.view()).map_err(not_pd)?;
        let mut full = vec![0.0; p * p];
        for a in 0..q {
            for b in 0..q {
                full[keep[a] * p + keep[b]] = vs[[a, b]];
            }
        }
        full
    } else {
        spd_inverse(info.view())
            .map_err(not_pd)?
            .iter()
            .copied()
            .collect()
    };
    let (coef, se) = stack_coef(
        beta,
        &mut names,
        &[("rho", rho), ("lambda", lam)],
        sige,
        &vcov,
    );
    Ok(SpatialFit {
        names,
        coef,
        vcov,
        se,
        loglik,
        n_units: n,
        n_periods: t,
        k_x: k,
        durbin,
        rho_bounds: bounds,
        warnings,
        residuals: resid,
        traces,
        w_row_standardised: row_std,
        kind: spec.kind,
        method: frame.method(),
        trace_se,
        intervals,
    })
}

/// Dense path: BGXβ per period and [tr G, tr GG, tr G̃'G̃, tr H, tr HH, tr H'H, tr HG,
/// tr H'G̃] (projected when `ly_n`).
#[allow(clippy::too_many_arguments)]
fn dense_terms(
    w: &Weights,
    mw: &Weights,
    n: usize,
    t: usize,
    rho: f64,
    lam: f64,
    xb: &[f64],
    ly_n: bool,
) -> Result<(Vec<f64>, [f64; 8])> {
    let g = dense_g(w, rho)?;
    let h = dense_g(mw, lam)?;
    // BGXβ per period: G then (I − λW).
    let mut bgxb = vec![0.0; n * t];
    for s in 0..t {
        let blk = &xb[s * n..(s + 1) * n];
        let gv: Vec<f64> = (0..n)
            .map(|i| (0..n).map(|j| g[i * n + j] * blk[j]).sum())
            .collect();
        let wgv = mw.matvec(&gv);
        for i in 0..n {
            bgxb[s * n + i] = gv[i] - lam * wgv[i];
        }
    }
    // G̃ = B G B⁻¹, B⁻¹ = I + λH.
    let gm = to_mat(&g, n);
    let hm = to_mat(&h, n);
    let wd = to_mat(&mw.to_dense()?, n);
    let bg = &gm - lam * (&wd * &gm);
    let gt_m = &bg + lam * (&bg * &hm);
    let mut gt = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            gt[i * n + j] = gt_m[(i, j)];
        }
    }
    let (gq, hq, gtq) = if ly_n {
        (project(&g, n), project(&h, n), project(&gt, n))
    } else {
        (g, h, gt)
    };
    let tr = |a: &[f64]| (0..n).map(|i| a[i * n + i]).sum::<f64>();
    // tr(AB) = Σ a_ij b_ji; tr(A'B) = Σ a_ij b_ij.
    let tr_ab = |a: &[f64], b: &[f64]| {
        let mut s = 0.0;
        for i in 0..n {
            for j in 0..n {
                s += a[i * n + j] * b[j * n + i];
            }
        }
        s
    };
    let tr_atb = |a: &[f64], b: &[f64]| dot_sequential(a, b);
    Ok((
        bgxb,
        [
            tr(&gq),
            tr_ab(&gq, &gq),
            tr_atb(&gtq, &gtq),
            tr(&hq),
            tr_ab(&hq, &hq),
            tr_atb(&hq, &hq),
            tr_ab(&hq, &gq),
            tr_atb(&hq, &gtq),
        ],
    ))
}

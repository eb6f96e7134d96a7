//! Spatial panel models with fixed effects by maximum likelihood (concentrated likelihood,
//! Elhorst 2014; Lee & Yu 2010 transformation), balanced panels, unit / time / two-way fixed
//! effects. [`spatial_panel`] is the entry point of every kind: it checks and demeans the
//! data, fits SAR (y = ρWy + Xβ) and SDM (y = ρWy + Xβ + WXθ) here, and hands SEM / SDEM to
//! [`super::error_models`] and SAC to [`super::sac`]. The types are in [`super::spec`]
//! (re-exported here), the shared likelihood machinery in [`super::likelihood`], the panel
//! layout and demeaning in [`super::panel`].
//!
//! Notes.
//! - ln|I − ρW| comes from W's eigenvalues, computed once (T·Σ ln(1 − ρλ)); the NT×NT matrix
//!   is never built.
//! - Variance: inverse of the analytic information matrix of (β, ρ, σ²) (Elhorst; SDPDmod's
//!   `f_SIG`): X'X/σ², X'(I_T⊗G)Xβ/σ², ‖(I_T⊗G)Xβ‖²/σ² + T·tr(GG + G'G), T·tr(G)/σ²,
//!   NT/(2σ⁴), with G = W(I − ρW)⁻¹. G is dense: for W similar to a symmetric matrix
//!   (W = D⁻¹C, C symmetric) (I − ρW)⁻¹ = D^{-1/2}(I − ρS)⁻¹D^{1/2} via Cholesky, else by LU.
//!   tr(G'G) needs G itself (or W's eigenvectors), so the dense inverse stays.
//! - `lee_yu`: unit effects → σ² = RSS/(N(T−1)) (ρ and β unchanged); SDPDmod keeps T and NT in
//!   the information matrix in that case and so do we. Time effects (row-standardised W) →
//!   N−1 effective units and ln|I − ρW| − ln(1 − ρ) per period; the information matrix uses the
//!   cross-sectionally projected G. Two-way → both, (N−1)(T−1) observations.
//! - `RhoSearch::Grid` reproduces SDPDmod's published numbers (see its docs).
//! - `Method::Sparse` (chosen by `Method::Auto` above [`AUTO_DENSE_MAX`] units) replaces the
//!   spectrum and the dense G by [`super::sparse`]: exact sparse Cholesky / LU
//!   log-determinants, traces from their derivatives and seeded Hutchinson probes, G·v by
//!   sparse solves; nothing N×N is formed. The same formulas, so it equals the dense path to
//!   the documented tolerances (tests/test_spatial_sparse.py).
//! - Time-varying W ([`spatial_panel_ext`], `SpatialExtra::w_periods`): W_t within period
//!   t for every spatial lag, Σ_t ln|I − ρW_t| from one log-determinant engine per distinct
//!   W_t, the information matrix from the per-period G_t (traces summed over periods), and
//!   effects averaged over periods (`TraceSource::Periods`). Equal W_t collapse to the
//!   static model (same path, same numbers). Lee–Yu is refused (it assumes one W).
//! - No random-effects spatial model, hence no Hausman test.

// Index loops mirror the matrix formulas they implement.
#![allow(clippy::needless_range_loop)]

use super::identification::lr_interval;
use super::likelihood::{
    bound_warning, r_brent_fmin, stack_coef, Engine, ErrorCtx, LikelihoodFrame,
};
use super::panel::{demean_panel, panel_layout, PanelW};
pub use super::spec::{
    FeKind, Method, RhoSearch, SpatialExtra, SpatialFit, SpatialInput, SpatialKind, SpatialSpec,
    TraceSource, AUTO_DENSE_MAX, MAX_DENSE_UNITS, SPARSE_SEED,
};
use crate::error::{Error, Result};
use crate::interrupt::Cancel;
use crate::linalg::{dot_sequential, spd_inverse};

/// Least squares of `rhs` on the columns `z` (via the inverse of Z'Z).
fn ols(z: &[Vec<f64>], zz: &[f64], zz_inv: &[f64], rhs: &[f64]) -> Vec<f64> {
    let k = z.len();
    let zy: Vec<f64> = z.iter().map(|c| dot_sequential(c, rhs)).collect();
    let mut b: Vec<f64> = (0..k)
        .map(|a| (0..k).map(|c| zz_inv[a * k + c] * zy[c]).sum())
        .collect();
    // One step of iterative refinement.
    let r: Vec<f64> = (0..k)
        .map(|a| zy[a] - (0..k).map(|c| zz[a * k + c] * b[c]).sum::<f64>())
        .collect();
    for a in 0..k {
        b[a] += (0..k).map(|c| zz_inv[a * k + c] * r[c]).sum::<f64>();
    }
    b
}

/// Fits a spatial panel of any kind with one W for every period.
pub fn spatial_panel(inp: &SpatialInput, spec: &SpatialSpec) -> Result<SpatialFit> {
    spatial_panel_ext(inp, &SpatialExtra::default(), spec)
}

/// Fits a spatial panel of any kind, with a W per period (`extra.w_periods`, time-varying
/// W: spatial lags W_t·v_t per period, log-determinant Σ_t ln|I − ρW_t|, information
/// matrix with the per-period G_t; effects are period averages) and, for SAC / GNS, the
/// error weights M and a fixed λ. When every W_t is equal (bit for bit) the fit is the
/// static one: the same code path, so the same numbers.
pub fn spatial_panel_ext(
    inp: &SpatialInput,
    extra: &SpatialExtra,
    spec: &SpatialSpec,
) -> Result<SpatialFit> {
    let n = inp.w.n;
    let (t, pos) = panel_layout(inp.unit, inp.time, n)?;
    let pw = match extra.w_periods {
        None => PanelW::fixed(inp.w, t),
        Some(ws) => {
            if ws.len() != t {
                return Err(Error::Option {
                    name: "W".into(),
                    reason: format!(
                        "time-varying W: {} period matrices for a panel of {t} periods",
                        ws.len()
                    ),
                });
            }
            let pw = PanelW::per_period(ws)?;
            if pw.ws[0].n != n {
                return Err(Error::Option {
                    name: "W".into(),
                    reason: format!(
                        "time-varying W: the period matrices have {} units, W has {n}",
                        pw.ws[0].n
                    ),
                });
            }
            pw
        }
    };
    if let Some(m) = extra.m {
        if !spec.kind.is_sac() {
            return Err(Error::Option {
                name: "M".into(),
                reason: "a separate error weights matrix M is for the SAC and GNS models".into(),
            });
        }
        if m.n != n {
            return Err(Error::Option {
                name: "M".into(),
                reason: format!("M has {} units, W has {n}", m.n),
            });
        }
    }
    if extra.fixed_lambda.is_some() && !spec.kind.is_sac() {
        return Err(Error::Option {
            name: "fixed_lambda".into(),
            reason: "for SEM / SDEM fix lambda with fixed_rho's slot (fixed_lambda in Python); \
                     here it is for SAC and GNS"
                .into(),
        });
    }
    let w = pw.ws[0];
    if inp.y.len() != inp.unit.len() {
        return Err(Error::Shape("y and unit differ in length".into()));
    }
    for (j, c) in inp.x.iter().enumerate() {
        if c.len() != inp.y.len() {
            return Err(Error::Shape(format!(
                "column {j} of X has the wrong length"
            )));
        }
    }
    let name_of = |j: usize| {
        inp.xnames
            .get(j)
            .cloned()
            .unwrap_or_else(|| format!("x{j}"))
    };
    let check = |v: &[f64], name: &str| -> Result<()> {
        if let Some(r) = v.iter().position(|x| !x.is_finite()) {
            return Err(Error::Column {
                name: name.into(),
                reason: format!(
                    "row {r} is missing or not finite (spatial panels must be balanced)"
                ),
            });
        }
        Ok(())
    };
    check(inp.y, "y")?;
    for (j, c) in inp.x.iter().enumerate() {
        check(c, &name_of(j))?;
    }
    let row_std = pw.row_standardised();
    let mut warnings = Vec::new();
    for (k, wk) in pw.ws.iter().enumerate() {
        let isl = wk.islands();
        if isl.is_empty() {
            continue;
        }
        warnings.push(if pw.is_static() {
            format!("W has {} island(s) (units with no neighbours)", isl.len())
        } else {
            format!(
                "the W of period(s) {:?} (codes) has {} island(s) (units with no neighbours)",
                pw.periods_of(k),
                isl.len()
            )
        });
    }
    let no_islands = !pw.has_islands();
    if spec.lee_yu && matches!(spec.effects, FeKind::Time | FeKind::Twoways) && !row_std {
        return Err(Error::Option {
            name: "lee_yu".into(),
            reason: "the Lee-Yu transformation with time effects needs a row-standardised W".into(),
        });
    }
    let reorder = |v: &[f64]| -> Vec<f64> { pos.iter().map(|&r| v[r]).collect() };
    let y0 = reorder(inp.y);
    let xs: Vec<Vec<f64>> = inp.x.iter().map(|c| reorder(c)).collect();
    let k = xs.len();
    let durbin: Vec<usize> = match spec.kind {
        SpatialKind::Sar | SpatialKind::Sem | SpatialKind::Sac => Vec::new(),
        SpatialKind::Sdm | SpatialKind::Sdem | SpatialKind::Gns => match inp.durbin {
            Some(d) => d.to_vec(),
            None => (0..k).collect(),
        },
    };
    let mut names: Vec<String> = (0..k).map(name_of).collect();
    let mut z: Vec<Vec<f64>> = xs.clone();
    for &j in &durbin {
        if j >= k {
            return Err(Error::Option {
                name: "durbin".into(),
                reason: format!("column {j} out of range"),
            });
        }
        z.push(pw.lag(&xs[j], n));
        names.push(format!("W*{}", name_of(j)));
    }
    let mut wy = pw.lag(&y0, n);
    let mut y = y0;
    demean_panel(&mut y, n, t, spec.effects);
    demean_panel(&mut wy, n, t, spec.effects);
    for c in z.iter_mut() {
        demean_panel(c, n, t, spec.effects);
    }
    let kz = z.len();
    if !spec.kind.is_lag() || spec.kind.is_sac() {
        if spec.kind.is_sac() && inp.fixed_rho.is_some() {
            return Err(Error::Option {
                name: "fixed_rho".into(),
                reason: "not available for the SAC and GNS models".into(),
            });
        }
        let ctx = ErrorCtx {
            w,
            pw: &pw,
            n,
            t,
            y: &y,
            wy: &wy,
            z: &z,
            names,
            durbin,
            k,
            row_std,
            warnings,
        };
        if spec.kind.is_sac() {
            return super::sac::sac_model(ctx, extra, spec);
        }
        return super::error_models::error_model(ctx, inp, spec);
    }
    // Z'Z and its inverse.
    let mut zz = ndarray::Array2::<f64>::zeros((kz, kz));
    for a in 0..kz {
        for b in 0..=a {
            let v = dot_sequential(&z[a], &z[b]);
            zz[[a, b]] = v;
            zz[[b, a]] = v;
        }
    }
    let zz_inv = if kz > 0 {
        spd_inverse(zz.view()).map_err(|_| Error::Column {
            name: names.join(", "),
            reason: "regressors are collinear after removing the fixed effects".into(),
        })?
    } else {
        ndarray::Array2::zeros((0, 0))
    };
    let zz_inv_v: Vec<f64> = zz_inv.iter().copied().collect();
    let zz_v: Vec<f64> = zz.iter().copied().collect();
    let bo = ols(&z, &zz_v, &zz_inv_v, &y);
    let bd = ols(&z, &zz_v, &zz_inv_v, &wy);
    let mut eo = y.clone();
    let mut ed = wy.clone();
    for (a, c) in z.iter().enumerate() {
        for r in 0..n * t {
            eo[r] -= bo[a] * c[r];
            ed[r] -= bd[a] * c[r];
        }
    }
    let (epeo, eped, epeod) = (
        dot_sequential(&eo, &eo),
        dot_sequential(&ed, &ed),
        dot_sequential(&eo, &ed),
    );

    let frame = LikelihoodFrame::new_panel(&pw, spec, n, t, row_std && no_islands)?;
    let (bounds, ly_n, t_eff, nt_eff) = (frame.bounds, frame.ly_n, frame.t_eff, frame.nt_eff);
    let logdet = |r: f64| frame.logdet(r);
    let negll = |r: f64| {
        let ee = epeo - 2.0 * r * epeod + r * r * eped;
        0.5 * nt_eff * ee.ln() - logdet(r)
    };
    let span = bounds.1 - bounds.0;
    let eps = 1e-9 * span;
    let rho = match (inp.fixed_rho, spec.search) {
        (Some(r), _) => r,
        (None, RhoSearch::Grid { incr }) => {
            if ly_n || incr.is_nan() || incr <= 0.0 {
                return Err(Error::Option {
                    name: "rho_search".into(),
                    reason: "the SDPDmod grid emulation needs incr > 0 and no Lee-Yu time transformation".into(),
                });
            }
            let lo = bounds.0 + incr;
            let hi = bounds.1 - incr;
            // R: seq(lo, hi, by = incr) = lo + (0:m) * incr, m = floor((hi - lo)/incr + 1e-10).
            let m = ((hi - lo) / incr + 1e-10).floor();
            if m.is_nan() || m < 1.0 {
                return Err(Error::Option {
                    name: "rho_search".into(),
                    reason: format!(
                        "the grid from {lo} to {hi} by incr = {incr} has fewer than two points"
                    ),
                });
            }
            let m = m as usize; // saturating; a grid beyond memory fails just below
            let grid: Vec<f64> = crate::alloc::try_collect(
                (0..m.saturating_add(1)).map(|i| lo + i as f64 * incr),
                "rho grid (option 'rho_search' incr)",
            )?;
            let m = grid.len() - 1;
            let Engine::Dense(spectrum) = &frame.engine else {
                return Err(Error::Option {
                    name: "rho_search".into(),
                    reason: "the SDPDmod grid emulation needs method='dense'".into(),
                });
            };
            let cancel = Cancel::current();
            let mut ld: Vec<f64> = crate::alloc::try_with_capacity(grid.len(), "rho grid")?;
            for &r in &grid {
                cancel.check()?;
                ld.push(spectrum.logdet(r));
            }
            let g = grid[1] - grid[0];
            let lookup = |r: f64| -> f64 {
                // 1-based indices as in SDPDmod's f_sar.
                let i1 = grid.iter().rposition(|&v| v <= r + g).map(|i| i + 1);
                let i2 = grid.iter().rposition(|&v| v <= r - g).map(|i| i + 1);
                let ind = match (i1, i2) {
                    (Some(a), Some(b)) => ((a + b) as f64 / 2.0).round_ties_even() as usize,
                    _ => 1,
                };
                ld[ind.clamp(1, ld.len()) - 1]
            };
            let obj = |r: f64| {
                let ee = epeo - 2.0 * r * epeod + r * r * eped;
                0.5 * nt_eff * ee.ln() - t_eff * lookup(r)
            };
            let tol = f64::EPSILON.powf(0.25);
            let r = r_brent_fmin(grid[0], grid[m], obj, tol);
            Cancel::current().check()?;
            r
        }
        (None, RhoSearch::Exact) => {
            let r = r_brent_fmin(bounds.0 + eps, bounds.1 - eps, negll, 1e-10);
            Cancel::current().check()?;
            warnings.extend(bound_warning("rho", r, bounds));
            r
        }
    };
    // The LR interval follows the exact concentrated likelihood; after the SDPDmod grid
    // emulation it is centred on that likelihood's maximum (within the grid's ~2e-3 of ρ̂).
    let intervals = match (inp.fixed_rho, spec.search) {
        (Some(_), _) => Vec::new(),
        (None, search) => {
            let centre = match search {
                RhoSearch::Exact => rho,
                RhoSearch::Grid { .. } => {
                    let r = r_brent_fmin(bounds.0 + eps, bounds.1 - eps, negll, 1e-10);
                    Cancel::current().check()?;
                    r
                }
            };
            let mut iv = lr_interval("rho", centre, bounds, spec.interval_level, negll)?;
            iv.estimate = rho;
            vec![iv]
        }
    };
    let beta: Vec<f64> = bo.iter().zip(&bd).map(|(a, b)| a - rho * b).collect();
    let resid: Vec<f64> = eo.iter().zip(&ed).map(|(a, b)| a - rho * b).collect();
    let rss = dot_sequential(&resid, &resid);
    let sige = rss / nt_eff;
    let loglik =
        -0.5 * nt_eff * (2.0 * std::f64::consts::PI * sige).ln() + logdet(rho) - 0.5 * rss / sige;

    // Information matrix (β, ρ, σ²).
    let zb: Vec<f64> = (0..n * t)
        .map(|r| (0..kz).map(|a| beta[a] * z[a][r]).sum())
        .collect();
    let (mut gz, (tr_g, tr_gg, tr_gtg), trace_se, trace_src) =
        frame.g_terms_panel(&pw, rho, Some(&zb))?;
    // Project on the transformed space when the time effects are Lee-Yu transformed
    // (cross-sectional demeaning); the individual demeaning commutes with G, but not with
    // a G_t that changes by period.
    if !pw.is_static() {
        demean_panel(&mut gz, n, t, spec.effects);
    } else if ly_n || matches!(spec.effects, FeKind::Time | FeKind::Twoways) {
        demean_panel(&mut gz, n, t, FeKind::Time);
    }
    // SDPDmod's convention for unit effects: the trace terms use T even when σ² is Lee-Yu
    // corrected (σ² = RSS/(N(T−1))); see the module docs.
    let t_info = if spec.lee_yu && spec.effects == FeKind::Individual {
        t as f64
    } else {
        t_eff
    };
    let p = kz + 2;
    let mut info = ndarray::Array2::<f64>::zeros((p, p));
    for a in 0..kz {
        for b in 0..kz {
            info[[a, b]] = zz[[a, b]] / sige;
        }
        let v = dot_sequential(&z[a], &gz) / sige;
        info[[a, kz]] = v;
        info[[kz, a]] = v;
    }
    info[[kz, kz]] = dot_sequential(&gz, &gz) / sige + t_info * (tr_gg + tr_gtg);
    info[[kz, kz + 1]] = t_info * tr_g / sige;
    info[[kz + 1, kz]] = info[[kz, kz + 1]];
    let nt_info = if spec.lee_yu && spec.effects == FeKind::Individual {
        (n * t) as f64
    } else {
        nt_eff
    };
    info[[kz + 1, kz + 1]] = nt_info / (2.0 * sige * sige);
    let (vcov, drop_rho) = if inp.fixed_rho.is_some() {
        // ρ fixed: invert the (β, σ²) block only.
        let mut sub = ndarray::Array2::<f64>::zeros((kz + 1, kz + 1));
        for a in 0..kz {
            for b in 0..kz {
                sub[[a, b]] = info[[a, b]];
            }
        }
        sub[[kz, kz]] = info[[kz + 1, kz + 1]];
        (spd_inverse(sub.view())?, true)
    } else {
        (
            spd_inverse(info.view()).map_err(|_| {
                Error::Numerical("the information matrix is not positive definite".into())
            })?,
            false,
        )
    };
    let mut vc = vec![0.0; p * p];
    let map = |a: usize| -> Option<usize> {
        if !drop_rho || a < kz {
            Some(a)
        } else if a == kz {
            None
        } else {
            Some(kz)
        }
    };
    for a in 0..p {
        for b in 0..p {
            if let (Some(x), Some(yv)) = (map(a), map(b)) {
                vc[a * p + b] = vcov[[x, yv]];
            }
        }
    }
    let (coef, se) = stack_coef(beta, &mut names, &[("rho", rho)], sige, &vc);
    Ok(SpatialFit {
        names,
        coef,
        vcov: vc,
        se,
        loglik,
        n_units: n,
        n_periods: t,
        k_x: k,
        durbin,
        rho_bounds: bounds,
        warnings,
        residuals: resid,
        traces: trace_src,
        w_row_standardised: row_std,
        kind: spec.kind,
        method: frame.method(),
        trace_se,
        intervals,
    })
}

//! Spatial error panels, SEM (y = Xβ + u, u = λWu + ε) and SDEM (y = Xβ + WXθ + u), by
//! concentrated maximum likelihood on the demeaned data [`super::models::spatial_panel`]
//! prepares.

// Index loops mirror the matrix formulas they implement.
#![allow(clippy::needless_range_loop)]

use super::identification::lr_interval;
use super::likelihood::{
    bound_warning, r_brent_fmin, stack_coef, Engine, ErrorCtx, LikelihoodFrame,
};
use super::panel::demean_panel;
use super::sparse::{self, SeriesTraces};
use super::spec::{SpatialFit, SpatialInput, SpatialSpec, TraceSource, SPARSE_SEED};
use crate::error::{Error, Result};
use crate::interrupt::Cancel;
use crate::linalg::{dot_sequential, spd_inverse};

/// SEM / SDEM: for each λ, β(λ) is OLS of (I − λW)y on (I − λW)Z (all cross products are
/// precomputed, so one likelihood evaluation is O(k³)); λ maximises the concentrated
/// likelihood −(NT/2) ln e'e + T ln|I − λW| (Elhorst 2014, §3.3). Information matrix:
/// Z*'Z*/σ² for β, T·tr(GG + G'G) for λ, T·tr(G)/σ² for (λ, σ²), NT/(2σ⁴), G = W(I − λW)⁻¹.
pub(crate) fn error_model(
    ctx: ErrorCtx,
    inp: &SpatialInput,
    spec: &SpatialSpec,
) -> Result<SpatialFit> {
    let ErrorCtx {
        w,
        pw,
        n,
        t,
        y,
        wy,
        z,
        mut names,
        durbin,
        k,
        row_std,
        mut warnings,
    } = ctx;
    let kz = z.len();
    let mut wz: Vec<Vec<f64>> = Vec::with_capacity(kz);
    for c in z {
        // W applied within each period; the demeaning is re-applied so that the transformed
        // regressors stay in the fixed-effects space.
        let mut v = pw.lag(c, n);
        demean_panel(&mut v, n, t, spec.effects);
        wz.push(v);
    }
    let mut wyd = pw.lag(y, n);
    demean_panel(&mut wyd, n, t, spec.effects);
    let _ = wy;
    let wy = wyd;
    let a = |u: &[Vec<f64>], v: &[Vec<f64>]| -> Vec<f64> {
        let mut m = vec![0.0; kz * kz];
        for i in 0..kz {
            for j in 0..kz {
                m[i * kz + j] = dot_sequential(&u[i], &v[j]);
            }
        }
        m
    };
    let zz = a(z, z);
    let zwz = a(z, &wz);
    let wzwz = a(&wz, &wz);
    let zy: Vec<f64> = z.iter().map(|c| dot_sequential(c, y)).collect();
    let zwy: Vec<f64> = z.iter().map(|c| dot_sequential(c, &wy)).collect();
    let wzy: Vec<f64> = wz.iter().map(|c| dot_sequential(c, y)).collect();
    let wzwy: Vec<f64> = wz.iter().map(|c| dot_sequential(c, &wy)).collect();
    let (yy, ywy, wywy) = (
        dot_sequential(y, y),
        dot_sequential(y, &wy),
        dot_sequential(&wy, &wy),
    );
    // For λ: X*'X*, X*'y*, y*'y*, then β and e'e.
    let solve = |lam: f64| -> Result<(Vec<f64>, f64, ndarray::Array2<f64>)> {
        let m = ndarray::Array2::from_shape_fn((kz, kz), |(i, j)| {
            zz[i * kz + j] - lam * (zwz[i * kz + j] + zwz[j * kz + i])
                + lam * lam * wzwz[i * kz + j]
        });
        let r: Vec<f64> = (0..kz)
            .map(|i| zy[i] - lam * (zwy[i] + wzy[i]) + lam * lam * wzwy[i])
            .collect();
        let inv = spd_inverse(m.view()).map_err(|_| Error::Column {
            name: names[..kz].join(", "),
            reason: "regressors are collinear after removing the fixed effects".into(),
        })?;
        let b: Vec<f64> = (0..kz)
            .map(|i| (0..kz).map(|j| inv[[i, j]] * r[j]).sum())
            .collect();
        let ysys = yy - 2.0 * lam * ywy + lam * lam * wywy;
        let ee = ysys - b.iter().zip(&r).map(|(x, v)| x * v).sum::<f64>();
        Ok((b, ee, m))
    };
    let frame = LikelihoodFrame::new_panel(pw, spec, n, t, row_std && !pw.has_islands())?;
    let (bounds, t_eff, nt_eff) = (frame.bounds, frame.t_eff, frame.nt_eff);
    let logdet = |r: f64| frame.logdet(r);
    let negll = |lam: f64| match solve(lam) {
        Ok((_, ee, _)) if ee > 0.0 => 0.5 * nt_eff * ee.ln() - logdet(lam),
        _ => f64::INFINITY,
    };
    let span = bounds.1 - bounds.0;
    let eps = 1e-9 * span;
    let lam = match inp.fixed_rho {
        Some(r) => r,
        None => {
            let r = r_brent_fmin(bounds.0 + eps, bounds.1 - eps, negll, 1e-10);
            Cancel::current().check()?;
            warnings.extend(bound_warning("lambda", r, bounds));
            r
        }
    };
    let intervals = match inp.fixed_rho {
        Some(_) => Vec::new(),
        None => vec![lr_interval(
            "lambda",
            lam,
            bounds,
            spec.interval_level,
            negll,
        )?],
    };
    let (beta, rss, xtx) = solve(lam)?;
    let sige = rss / nt_eff;
    let loglik =
        -0.5 * nt_eff * (2.0 * std::f64::consts::PI * sige).ln() + logdet(lam) - 0.5 * rss / sige;
    let (_, (tr_g, tr_gg, tr_gtg), trace_se, periods_src) = frame.g_terms_panel(pw, lam, None)?;
    // The effects of error models use ρ = 0: tr(W^k) series without an anchor.
    let rho0_source = |engine: &Engine, wk: &super::weights::Weights| match engine {
        Engine::Dense(spectrum) => TraceSource::Dense(spectrum.clone()),
        Engine::Sparse(_) => {
            let tw = sparse::power_traces(wk, 2, 0, SPARSE_SEED);
            TraceSource::Sparse(SeriesTraces::new(tw.clone(), n, 0.0, tw[1], tw[2]))
        }
    };
    let trace_src = match periods_src {
        TraceSource::Periods(mut parts) => {
            for (k, part) in parts.iter_mut().enumerate() {
                part.traces = rho0_source(frame.engine_of(k), pw.ws[k]);
            }
            TraceSource::Periods(parts)
        }
        _ => rho0_source(&frame.engine, w),
    };
    let p = kz + 2;
    let mut info = ndarray::Array2::<f64>::zeros((p, p));
    for i in 0..kz {
        for j in 0..kz {
            info[[i, j]] = xtx[[i, j]] / sige;
        }
    }
    info[[kz, kz]] = t_eff * (tr_gg + tr_gtg);
    info[[kz, kz + 1]] = t_eff * tr_g / sige;
    info[[kz + 1, kz]] = info[[kz, kz + 1]];
    info[[kz + 1, kz + 1]] = nt_eff / (2.0 * sige * sige);
    let vc_nd = if inp.fixed_rho.is_some() {
        let mut sub = ndarray::Array2::<f64>::zeros((kz + 1, kz + 1));
        for i in 0..kz {
            for j in 0..kz {
                sub[[i, j]] = info[[i, j]];
            }
        }
        sub[[kz, kz]] = info[[kz + 1, kz + 1]];
        let v = spd_inverse(sub.view())?;
        let mut full = ndarray::Array2::<f64>::zeros((p, p));
        for i in 0..=kz {
            for j in 0..=kz {
                let (a, b) = (
                    if i == kz { kz + 1 } else { i },
                    if j == kz { kz + 1 } else { j },
                );
                full[[a, b]] = v[[i, j]];
            }
        }
        full
    } else {
        spd_inverse(info.view()).map_err(|_| {
            Error::Numerical("the information matrix is not positive definite".into())
        })?
    };
    let vcov: Vec<f64> = vc_nd.iter().copied().collect();
    // Residuals ε = (I − λW)(y − Zβ) in the demeaned space.
    let resid: Vec<f64> = (0..n * t)
        .map(|r| {
            let zb: f64 = (0..kz).map(|a| beta[a] * z[a][r]).sum();
            let wzb: f64 = (0..kz).map(|a| beta[a] * wz[a][r]).sum();
            (y[r] - zb) - lam * (wy[r] - wzb)
        })
        .collect();
    let (coef, se) = stack_coef(beta, &mut names, &[("lambda", lam)], sige, &vcov);
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
        traces: trace_src,
        w_row_standardised: row_std,
        kind: spec.kind,
        method: frame.method(),
        trace_se,
        intervals,
    })
}

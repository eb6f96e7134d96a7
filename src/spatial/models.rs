//! Spatial panel models with fixed effects by maximum likelihood (concentrated likelihood,
//! Elhorst 2014; Lee & Yu 2010 transformation): SAR (y = ρWy + Xβ) and SDM
//! (y = ρWy + Xβ + WXθ), balanced panels, unit / time / two-way fixed effects.
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
//! - No random-effects spatial model, hence no Hausman test.

// Index loops mirror the matrix formulas they implement.
#![allow(clippy::needless_range_loop)]

use faer::Mat;

use super::logdet::Spectrum;
use super::sparse::{self, SeriesTraces, SparseLogdet};
use super::weights::Weights;
use crate::error::{Error, Result};
use crate::interrupt::Cancel;
use crate::linalg::{dot_sequential, spd_inverse};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpatialKind {
    Sar,
    Sdm,
    /// Spatial error: y = Xβ + u, u = λWu + ε.
    Sem,
    /// Spatial Durbin error: y = Xβ + WXθ + u, u = λWu + ε.
    Sdem,
    /// SAC / SARAR: y = ρWy + Xβ + u, u = λWu + ε.
    Sac,
}

impl SpatialKind {
    /// Whether the spatial parameter multiplies Wy (lag models) rather than Wu.
    pub fn is_lag(self) -> bool {
        matches!(self, SpatialKind::Sar | SpatialKind::Sdm | SpatialKind::Sac)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeKind {
    None,
    Individual,
    Time,
    Twoways,
}

/// Inputs. `y` and the columns of `x` are in any row order; `unit` codes (0..N, W's order)
/// and `time` codes (0..T) place each row.
pub struct SpatialInput<'a> {
    pub y: &'a [f64],
    pub x: &'a [Vec<f64>],
    pub xnames: &'a [String],
    pub unit: &'a [u32],
    pub time: &'a [u32],
    pub w: &'a Weights,
    /// Indices of the columns of `x` that get a spatial lag (SDM); empty = all.
    pub durbin: Option<&'a [usize]>,
    /// ρ fixed at this value instead of estimated (identity tests).
    pub fixed_rho: Option<f64>,
}

/// How ln|I − ρW| and the traces are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Dense up to [`AUTO_DENSE_MAX`] units, sparse beyond.
    Auto,
    /// W's eigenvalues and dense (I − ρW)⁻¹ (exact; N ≤ [`MAX_DENSE_UNITS`]).
    Dense,
    /// Sparse Cholesky log-determinant and trace estimation (see [`super::sparse`]).
    Sparse,
}

/// Largest N for which `Method::Auto` picks the dense path.
pub const AUTO_DENSE_MAX: usize = 1500;

/// Seed of the Hutchinson probes of the sparse path (fixed: results are reproducible).
pub const SPARSE_SEED: u64 = 20_100_517;

/// The trace functions the effects need, from the dense spectrum or the sparse series.
#[derive(Debug, Clone)]
pub enum TraceSource {
    Dense(Spectrum),
    Sparse(SeriesTraces),
}

impl TraceSource {
    /// tr(W(I−ρW)⁻¹).
    pub fn trace_g(&self, rho: f64) -> f64 {
        match self {
            TraceSource::Dense(s) => s.trace_g(rho),
            TraceSource::Sparse(s) => s.trace_g(rho),
        }
    }
    /// tr((I−ρW)⁻¹).
    pub fn trace_a(&self, rho: f64) -> f64 {
        match self {
            TraceSource::Dense(s) => s.trace_a(rho),
            TraceSource::Sparse(s) => s.trace_a(rho),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SpatialSpec {
    pub kind: SpatialKind,
    pub effects: FeKind,
    pub lee_yu: bool,
    pub method: Method,
    /// How ρ is found: exact log-determinant with a tight Brent search (default), or the
    /// SDPDmod / Elhorst grid emulation (see [`RhoSearch::Grid`]).
    pub search: RhoSearch,
}

/// The search over ρ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RhoSearch {
    /// Exact ln|I − ρW| from the eigenvalues; Brent's method to 1e-12.
    Exact,
    /// Emulates R SDPDmod 0.0.5 (and Elhorst's Matlab `sar_panel_FE`): ln|I − ρW| tabulated
    /// on the grid ρ = 1/λ_min + incr, …, 1/λ_max − incr, looked up at the grid point just
    /// below ρ (piecewise constant), and R's `optimize` (Brent, tol = ε^0.25). Published
    /// SDPDmod numbers are reproduced only this way: the grid moves ρ by up to ~2e-3.
    Grid { incr: f64 },
}

/// R's `Brent_fmin` (src/library/stats/src/optimize.c), line for line, so that a grid
/// likelihood lands where R's `optimize()` lands. Stops early (returning the current point)
/// once the computation is cancelled: callers follow it with `Cancel::current().check()?`.
pub(crate) fn r_brent_fmin(ax: f64, bx: f64, f: impl Fn(f64) -> f64, tol: f64) -> f64 {
    let cancel = Cancel::current();
    let c = (3.0 - 5f64.sqrt()) * 0.5;
    let eps = f64::EPSILON.sqrt();
    let (mut a, mut b) = (ax, bx);
    let mut v = a + c * (b - a);
    let mut w = v;
    let mut x = v;
    let mut d: f64 = 0.0;
    let mut e: f64 = 0.0;
    let mut fx = f(x);
    let mut fv = fx;
    let mut fw = fx;
    let tol3 = tol / 3.0;
    for _ in 0..10_000 {
        if cancel.is_cancelled() {
            break;
        }
        let xm = (a + b) * 0.5;
        let tol1 = eps * x.abs() + tol3;
        let t2 = tol1 * 2.0;
        if (x - xm).abs() <= t2 - (b - a) * 0.5 {
            break;
        }
        let mut p = 0.0;
        let mut q = 0.0;
        let mut r = 0.0;
        if e.abs() > tol1 {
            r = (x - w) * (fx - fv);
            q = (x - v) * (fx - fw);
            p = (x - v) * q - (x - w) * r;
            q = (q - r) * 2.0;
            if q > 0.0 {
                p = -p;
            } else {
                q = -q;
            }
            r = e;
            e = d;
        }
        if p.abs() >= (q * 0.5 * r).abs() || p <= q * (a - x) || p >= q * (b - x) {
            e = if x < xm { b - x } else { a - x };
            d = c * e;
        } else {
            d = p / q;
            let u = x + d;
            if u - a < t2 || b - u < t2 {
                d = tol1;
                if x >= xm {
                    d = -d;
                }
            }
        }
        let u = if d.abs() >= tol1 {
            x + d
        } else if d > 0.0 {
            x + tol1
        } else {
            x - tol1
        };
        let fu = f(u);
        if fu <= fx {
            if u < x {
                b = x;
            } else {
                a = x;
            }
            v = w;
            w = x;
            x = u;
            fv = fw;
            fw = fx;
            fx = fu;
        } else {
            if u < x {
                a = u;
            } else {
                b = u;
            }
            if fu <= fw || w == x {
                v = w;
                fv = fw;
                w = u;
                fw = fu;
            } else if fu <= fv || v == x || v == w {
                v = u;
                fv = fu;
            }
        }
    }
    x
}

#[derive(Debug, Clone)]
pub struct SpatialFit {
    /// Names: regressors, then W·regressors (SDM), then "rho", then "sigma2".
    pub names: Vec<String>,
    /// [β; θ; ρ; σ²].
    pub coef: Vec<f64>,
    /// Inverse of the information matrix, same order as `coef` (row-major).
    pub vcov: Vec<f64>,
    pub se: Vec<f64>,
    pub loglik: f64,
    pub n_units: usize,
    pub n_periods: usize,
    pub k_x: usize,
    /// Positions (in x) of the Durbin columns, in the order of θ.
    pub durbin: Vec<usize>,
    pub rho_bounds: (f64, f64),
    pub warnings: Vec<String>,
    /// Residuals in (time, unit) order.
    pub residuals: Vec<f64>,
    /// Traces for the effects (dense spectrum or sparse series).
    pub traces: TraceSource,
    pub w_row_standardised: bool,
    pub kind: SpatialKind,
    /// "dense" or "sparse": the path actually used.
    pub method: &'static str,
    /// Sparse path: Monte Carlo standard error of tr(G'G) in the information matrix.
    pub trace_se: Option<f64>,
}

/// Balanced (time-major) layout: index t*N + i.
pub(crate) fn panel_layout(unit: &[u32], time: &[u32], n: usize) -> Result<(usize, Vec<usize>)> {
    let t = time.iter().map(|&v| v as usize + 1).max().unwrap_or(0);
    if unit.len() != time.len() {
        return Err(Error::Shape("unit and time differ in length".into()));
    }
    if let Some(&u) = unit.iter().find(|&&u| u as usize >= n) {
        return Err(Error::Column {
            name: "unit".into(),
            reason: format!("unit code {u} has no row in W ({n} units)"),
        });
    }
    if unit.len() != n * t {
        return Err(Error::Column {
            name: "unit/time".into(),
            reason: format!(
                "the panel must be balanced: {} rows for {n} units x {t} periods",
                unit.len()
            ),
        });
    }
    let mut pos = vec![usize::MAX; n * t];
    for (r, (&u, &tt)) in unit.iter().zip(time).enumerate() {
        let k = tt as usize * n + u as usize;
        if pos[k] != usize::MAX {
            return Err(Error::Column {
                name: "unit/time".into(),
                reason: format!("unit {u} appears twice in period {tt}"),
            });
        }
        pos[k] = r;
    }
    Ok((t, pos))
}

pub(crate) fn spatial_lag_panel(w: &Weights, v: &[f64], n: usize, t: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n * t);
    for s in 0..t {
        out.extend(w.matvec(&v[s * n..(s + 1) * n]));
    }
    out
}

pub(crate) fn demean_panel(v: &mut [f64], n: usize, t: usize, fe: FeKind) {
    let ind = matches!(fe, FeKind::Individual | FeKind::Twoways);
    let tim = matches!(fe, FeKind::Time | FeKind::Twoways);
    let mut um = vec![0.0; n];
    let mut tm = vec![0.0; t];
    for s in 0..t {
        for i in 0..n {
            let x = v[s * n + i];
            um[i] += x;
            tm[s] += x;
        }
    }
    let all = um.iter().sum::<f64>() / (n * t) as f64;
    um.iter_mut().for_each(|m| *m /= t as f64);
    tm.iter_mut().for_each(|m| *m /= n as f64);
    for s in 0..t {
        for i in 0..n {
            let x = v[s * n + i];
            v[s * n + i] = match (ind, tim) {
                (true, true) => x - um[i] - tm[s] + all,
                (true, false) => x - um[i],
                (false, true) => x - tm[s],
                (false, false) => x - all,
            };
        }
    }
}

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

/// Dense (I − ρW)⁻¹ (row-major) by LU with partial pivoting.
fn dense_inverse_lu(w: &Weights, rho: f64) -> Result<Vec<f64>> {
    let n = w.n;
    let d = w.to_dense()?;
    let a = Mat::from_fn(n, n, |i, j| {
        (if i == j { 1.0 } else { 0.0 }) - rho * d[i * n + j]
    });
    use faer::linalg::solvers::DenseSolveCore;
    let inv = a.partial_piv_lu().inverse();
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            out[i * n + j] = inv[(i, j)];
        }
    }
    Ok(out)
}

/// Dense (I − ρW)⁻¹ (row-major) when W = D^{-1/2} S D^{1/2} with S symmetric (W = D⁻¹C, C
/// symmetric: row-standardised symmetric weights): I − ρS is symmetric positive definite on
/// the admissible ρ interval, so its inverse comes from a Cholesky factorisation (half the
/// flops of LU + inverse), and (I − ρW)⁻¹ = D^{-1/2} (I − ρS)⁻¹ D^{1/2}. `None` if W is not
/// of that form or the factorisation fails (ρ outside the interval).
fn dense_inverse_symmetrisable(w: &Weights, rho: f64) -> Result<Option<Vec<f64>>> {
    let n = w.n;
    let Some(dsc) = super::logdet::symmetrising_scale(w) else {
        return Ok(None);
    };
    let s: Vec<f64> = dsc.iter().map(|x| x.sqrt()).collect();
    let d = w.to_dense()?;
    let a = Mat::from_fn(n, n, |i, j| {
        let sij = 0.5 * (s[i] * d[i * n + j] / s[j] + s[j] * d[j * n + i] / s[i]);
        (if i == j { 1.0 } else { 0.0 }) - rho * sij
    });
    use faer::linalg::solvers::DenseSolveCore;
    let Ok(llt) = a.llt(faer::Side::Lower) else {
        return Ok(None);
    };
    let inv = llt.inverse();
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            out[i * n + j] = inv[(i, j)] * s[j] / s[i];
        }
    }
    Ok(Some(out))
}

/// Dense G = W(I − ρW)⁻¹ (row-major).
pub(crate) fn dense_g(w: &Weights, rho: f64) -> Result<Vec<f64>> {
    let n = w.n;
    // Three n x n buffers live at once here (faer's matrix, the inverse, G).
    crate::alloc::ensure::<f64>(n.saturating_mul(3), n, "dense (I - rho W)^-1 (3 n x n)")?;
    let inv = match dense_inverse_symmetrisable(w, rho)? {
        Some(inv) => inv,
        None => dense_inverse_lu(w, rho)?,
    };
    let mut g = vec![0.0; n * n];
    for i in 0..n {
        for p in w.indptr[i]..w.indptr[i + 1] {
            let k = w.indices[p];
            let wv = w.data[p];
            for j in 0..n {
                g[i * n + j] += wv * inv[k * n + j];
            }
        }
    }
    if g.iter().any(|v| !v.is_finite()) {
        return Err(Error::Numerical(format!(
            "I - rho W is singular at rho = {rho}"
        )));
    }
    Ok(g)
}

/// Largest N handled (dense eigenvalues and inverse: memory 8·N² bytes per matrix).
pub const MAX_DENSE_UNITS: usize = 8000;

/// The log-determinant engine: W's spectrum (dense) or a sparse Cholesky analysis.
pub(crate) enum Engine {
    Dense(Spectrum),
    Sparse(Box<SparseLogdet>),
}

/// Resolves `Method::Auto` and checks the size limits.
pub(crate) fn resolve_method(w: &Weights, spec: &SpatialSpec) -> Result<bool> {
    let n = w.n;
    let grid = matches!(spec.search, RhoSearch::Grid { .. });
    let sparse = match spec.method {
        Method::Dense => false,
        Method::Sparse => {
            if grid {
                return Err(Error::Option {
                    name: "method".into(),
                    reason:
                        "the SDPDmod grid emulation (rho_search='sdpdmod') needs method='dense'"
                            .into(),
                });
            }
            true
        }
        Method::Auto => !grid && n > AUTO_DENSE_MAX,
    };
    if !sparse && n > MAX_DENSE_UNITS {
        return Err(Error::Option {
            name: "method".into(),
            reason: format!(
                "{n} units: the dense method (eigenvalues, (I - rho W)^-1) is limited to \
                 {MAX_DENSE_UNITS} units; use method='sparse'"
            ),
        });
    }
    Ok(sparse)
}

/// G·v, (tr G*, tr G*G*, tr G*'G*), the Monte Carlo s.e. of the last (sparse path), and
/// the trace source of the effects.
pub(crate) type GTerms = (Vec<f64>, (f64, f64, f64), Option<f64>, TraceSource);

/// What the concentrated likelihood of every model shares: the log-determinant engine, the
/// parameter bounds, and the effective dimensions after the Lee–Yu (2010) transformation
/// (T−1 periods with unit effects, N−1 units with time effects).
pub(crate) struct LikelihoodFrame {
    pub(crate) engine: Engine,
    pub(crate) bounds: (f64, f64),
    pub(crate) ly_n: bool,
    pub(crate) t_eff: f64,
    pub(crate) nt_eff: f64,
}

impl LikelihoodFrame {
    pub(crate) fn new(
        w: &Weights,
        spec: &SpatialSpec,
        n: usize,
        t: usize,
        unit_max: bool,
    ) -> Result<Self> {
        let (engine, bounds) = if resolve_method(w, spec)? {
            let ld = SparseLogdet::new(w)?;
            let b = sparse::sparse_bounds(w, &ld, unit_max)?;
            (Engine::Sparse(Box::new(ld)), b)
        } else {
            let spectrum = Spectrum::of(w)?;
            let mut bounds = spectrum.rho_bounds();
            if unit_max {
                // The largest eigenvalue of a row-standardised W without islands is exactly 1
                // (the solver returns 1 ± a few ulp, which matters for the SDPDmod grid
                // emulation).
                bounds.1 = 1.0;
            }
            (Engine::Dense(spectrum), bounds)
        };
        let ly_t = spec.lee_yu && matches!(spec.effects, FeKind::Individual | FeKind::Twoways);
        let ly_n = spec.lee_yu && matches!(spec.effects, FeKind::Time | FeKind::Twoways);
        let t_eff = if ly_t { t - 1 } else { t } as f64;
        let n_eff = if ly_n { n - 1 } else { n } as f64;
        Ok(Self {
            engine,
            bounds,
            ly_n,
            t_eff,
            nt_eff: n_eff * t_eff,
        })
    }

    /// T_eff · log|I − rW|, less the eigenvalue 1 removed by the Lee–Yu time transformation
    /// (−∞ outside the admissible interval on the sparse path).
    pub(crate) fn logdet(&self, r: f64) -> f64 {
        let mut l = match &self.engine {
            Engine::Dense(s) => s.logdet(r),
            Engine::Sparse(ld) => ld.logdet(r).unwrap_or(f64::NEG_INFINITY),
        };
        if self.ly_n {
            l -= (1.0 - r).ln();
        }
        self.t_eff * l
    }

    /// G·v per period (panel, time-major) and tr(G*), tr(G*G*), tr(G*'G*) (projected when
    /// the Lee–Yu time transformation applies), with the Monte Carlo s.e. of the last on the
    /// sparse path. `v = None` skips G·v.
    pub(crate) fn g_terms(&self, w: &Weights, rho: f64, v: Option<&[f64]>) -> Result<GTerms> {
        let n = w.n;
        match &self.engine {
            Engine::Dense(spectrum) => {
                let g = dense_g(w, rho)?;
                let gv = match v {
                    Some(zb) => {
                        let t = zb.len() / n;
                        let mut out = vec![0.0; n * t];
                        for s in 0..t {
                            for i in 0..n {
                                out[s * n + i] = (0..n).map(|j| g[i * n + j] * zb[s * n + j]).sum();
                            }
                        }
                        out
                    }
                    None => Vec::new(),
                };
                Ok((
                    gv,
                    traces(&g, n, self.ly_n),
                    None,
                    TraceSource::Dense(spectrum.clone()),
                ))
            }
            Engine::Sparse(ld) => {
                let it = sparse::info_traces(w, ld, rho, self.bounds, self.ly_n, SPARSE_SEED)?;
                let gv = match v {
                    Some(zb) => sparse::apply_g_panel(w, ld, rho, zb)?,
                    None => Vec::new(),
                };
                let tw = sparse::power_traces(
                    w,
                    sparse::SERIES_ORDER,
                    sparse::SERIES_PROBES,
                    SPARSE_SEED,
                );
                Ok((
                    gv,
                    (it.tr_g, it.tr_gg, it.tr_gtg),
                    Some(it.tr_gtg_se),
                    TraceSource::Sparse(SeriesTraces::new(tw, n, rho, it.raw_g, it.raw_gg)),
                ))
            }
        }
    }

    pub(crate) fn method(&self) -> &'static str {
        match self.engine {
            Engine::Dense(_) => "dense",
            Engine::Sparse(_) => "sparse",
        }
    }
}

/// A warning when an estimated spatial parameter lies at, or within 0.1% of the width of,
/// its admissible interval: there (I − ρW)⁻¹ is near-singular, the quadratic approximation
/// behind the information-matrix SEs breaks down and the effects' multipliers explode.
pub(crate) fn bound_warning(name: &str, v: f64, bounds: (f64, f64)) -> Option<String> {
    let span = bounds.1 - bounds.0;
    let gap = (v - bounds.0).min(bounds.1 - v);
    if gap < 1e-6 * span {
        Some(format!(
            "{name} = {v:.6} is at the bound of its admissible interval ({:.4}, {:.4}): \
             the estimate and its standard error are not reliable",
            bounds.0, bounds.1
        ))
    } else if gap < 1e-3 * span {
        Some(format!(
            "{name} = {v:.6} is within 0.1% of the bound of its admissible interval \
             ({:.4}, {:.4}): (I - {name} W) is near-singular, so standard errors and effects \
             are unreliable",
            bounds.0, bounds.1
        ))
    } else {
        None
    }
}

/// The parameter vector every spatial fit reports: β (with θ), then the named spatial
/// parameters (ρ and/or λ), then σ²; `names` gains the same labels. Returns the vector and the
/// standard errors from the diagonal of `vcov` (row-major, same order).
pub(crate) fn stack_coef(
    beta: Vec<f64>,
    names: &mut Vec<String>,
    spatial: &[(&str, f64)],
    sige: f64,
    vcov: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let mut coef = beta;
    for &(name, v) in spatial {
        coef.push(v);
        names.push(name.into());
    }
    coef.push(sige);
    names.push("sigma2".into());
    let p = coef.len();
    let se = (0..p).map(|a| vcov[a * p + a].max(0.0).sqrt()).collect();
    (coef, se)
}

/// Fits a SAR or SDM panel.
pub fn spatial_panel(inp: &SpatialInput, spec: &SpatialSpec) -> Result<SpatialFit> {
    let w = inp.w;
    let n = w.n;
    let (t, pos) = panel_layout(inp.unit, inp.time, n)?;
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
    let row_std = w.is_row_standardised();
    let mut warnings = Vec::new();
    let isl = w.islands();
    if !isl.is_empty() {
        warnings.push(format!(
            "W has {} island(s) (units with no neighbours)",
            isl.len()
        ));
    }
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
        SpatialKind::Sdm | SpatialKind::Sdem => match inp.durbin {
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
        z.push(spatial_lag_panel(w, &xs[j], n, t));
        names.push(format!("W*{}", name_of(j)));
    }
    let mut wy = spatial_lag_panel(w, &y0, n, t);
    let mut y = y0;
    demean_panel(&mut y, n, t, spec.effects);
    demean_panel(&mut wy, n, t, spec.effects);
    for c in z.iter_mut() {
        demean_panel(c, n, t, spec.effects);
    }
    let kz = z.len();
    if !spec.kind.is_lag() || spec.kind == SpatialKind::Sac {
        if spec.kind == SpatialKind::Sac && inp.fixed_rho.is_some() {
            return Err(Error::Option {
                name: "fixed_rho".into(),
                reason: "not available for the SAC model".into(),
            });
        }
        let ctx = ErrorCtx {
            w,
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
        if spec.kind == SpatialKind::Sac {
            return super::sac::sac_model(ctx, spec);
        }
        return error_model(ctx, inp, spec);
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

    let frame = LikelihoodFrame::new(w, spec, n, t, row_std && isl.is_empty())?;
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
    let (mut gz, (tr_g, tr_gg, tr_gtg), trace_se, trace_src) = frame.g_terms(w, rho, Some(&zb))?;
    // Project on the transformed space when the time effects are Lee-Yu transformed
    // (cross-sectional demeaning); the individual demeaning commutes with G.
    if ly_n || matches!(spec.effects, FeKind::Time | FeKind::Twoways) {
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
    })
}

pub(crate) struct ErrorCtx<'a> {
    pub(crate) w: &'a Weights,
    pub(crate) n: usize,
    pub(crate) t: usize,
    pub(crate) y: &'a [f64],
    pub(crate) wy: &'a [f64],
    pub(crate) z: &'a [Vec<f64>],
    pub(crate) names: Vec<String>,
    pub(crate) durbin: Vec<usize>,
    pub(crate) k: usize,
    pub(crate) row_std: bool,
    pub(crate) warnings: Vec<String>,
}

/// SEM / SDEM: for each λ, β(λ) is OLS of (I − λW)y on (I − λW)Z (all cross products are
/// precomputed, so one likelihood evaluation is O(k³)); λ maximises the concentrated
/// likelihood −(NT/2) ln e'e + T ln|I − λW| (Elhorst 2014, §3.3). Information matrix:
/// Z*'Z*/σ² for β, T·tr(GG + G'G) for λ, T·tr(G)/σ² for (λ, σ²), NT/(2σ⁴), G = W(I − λW)⁻¹.
fn error_model(ctx: ErrorCtx, inp: &SpatialInput, spec: &SpatialSpec) -> Result<SpatialFit> {
    let ErrorCtx {
        w,
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
        let mut v = spatial_lag_panel(w, c, n, t);
        demean_panel(&mut v, n, t, spec.effects);
        wz.push(v);
    }
    let mut wyd = spatial_lag_panel(w, y, n, t);
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
    let isl = w.islands();
    let frame = LikelihoodFrame::new(w, spec, n, t, row_std && isl.is_empty())?;
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
    let (beta, rss, xtx) = solve(lam)?;
    let sige = rss / nt_eff;
    let loglik =
        -0.5 * nt_eff * (2.0 * std::f64::consts::PI * sige).ln() + logdet(lam) - 0.5 * rss / sige;
    let (_, (tr_g, tr_gg, tr_gtg), trace_se, _) = frame.g_terms(w, lam, None)?;
    // The effects of error models use ρ = 0: tr(W^k) series without an anchor.
    let trace_src = match &frame.engine {
        Engine::Dense(spectrum) => TraceSource::Dense(spectrum.clone()),
        Engine::Sparse(_) => {
            let tw = sparse::power_traces(w, 2, 0, SPARSE_SEED);
            TraceSource::Sparse(SeriesTraces::new(tw.clone(), n, 0.0, tw[1], tw[2]))
        }
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
    })
}

/// Test access to [`traces`].
#[cfg(test)]
pub(crate) fn traces_for_tests(g: &[f64], n: usize, project: bool) -> (f64, f64, f64) {
    traces(g, n, project)
}

/// tr(G), tr(GG), tr(G'G), with G projected on the cross-sectionally demeaned space when
/// `project` (Lee-Yu time transformation).
fn traces(g: &[f64], n: usize, project: bool) -> (f64, f64, f64) {
    let gq: Vec<f64> = if project {
        let mut gq = g.to_vec();
        for i in 0..n {
            let m: f64 = (0..n).map(|j| g[i * n + j]).sum::<f64>() / n as f64;
            for j in 0..n {
                gq[i * n + j] -= m;
            }
        }
        let mut col = vec![0.0; n];
        for i in 0..n {
            for j in 0..n {
                col[j] += gq[i * n + j] / n as f64;
            }
        }
        for i in 0..n {
            for j in 0..n {
                gq[i * n + j] -= col[j];
            }
        }
        gq
    } else {
        g.to_vec()
    };
    let tr: f64 = (0..n).map(|i| gq[i * n + i]).sum();
    let mut tgg = 0.0;
    let mut tgtg = 0.0;
    for i in 0..n {
        for j in 0..n {
            tgg += gq[i * n + j] * gq[j * n + i];
            tgtg += gq[i * n + j] * gq[i * n + j];
        }
    }
    (tr, tgg, tgtg)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Irregular symmetric 0/1 graph (degrees 1..=5), row-standardised: W = D⁻¹C (similar
    /// to a symmetric matrix, not symmetric itself). Shared with the sparse-path tests.
    pub(crate) fn irregular_w(n: usize) -> Weights {
        let mut c = vec![0.0; n * n];
        for i in 0..n {
            for step in [1usize, 3, 7] {
                let j = (i * 5 + step * (i % 3 + 1)) % n;
                if j != i {
                    c[i * n + j] = 1.0;
                    c[j * n + i] = 1.0;
                }
            }
        }
        Weights::from_dense(&c, n)
            .unwrap()
            .row_standardise(false)
            .unwrap()
    }

    /// Identity check: the Cholesky route for symmetrisable W, (I − ρW)⁻¹ =
    /// D^{-1/2}(I − ρS)⁻¹D^{1/2}, equals the LU inverse to 1e-10; tr(G) and tr(GG) equal
    /// Σ λ/(1−ρλ) and Σ (λ/(1−ρλ))² over W's eigenvalues.
    #[test]
    fn cholesky_inverse_matches_lu() {
        let n = 40;
        let w = irregular_w(n);
        let spec = Spectrum::of(&w).unwrap();
        assert!(spec.real);
        for rho in [-0.6, -0.1, 0.0, 0.35, 0.9] {
            let lu = dense_inverse_lu(&w, rho).unwrap();
            let ch = dense_inverse_symmetrisable(&w, rho)
                .unwrap()
                .expect("symmetrisable");
            let diff = lu
                .iter()
                .zip(&ch)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(diff < 1e-10, "rho {rho}: max diff {diff}");
            let g = dense_g(&w, rho).unwrap();
            let (tr, tgg, _) = traces(&g, n, false);
            let gl: Vec<f64> = spec.re.iter().map(|l| l / (1.0 - rho * l)).collect();
            assert!((tr - spec.trace_g(rho)).abs() < 1e-10);
            assert!((tgg - gl.iter().map(|v| v * v).sum::<f64>()).abs() < 1e-10);
        }
    }

    /// A W that is not similar to a symmetric matrix takes the LU route.
    #[test]
    fn asymmetric_w_falls_back_to_lu() {
        let n = 4;
        let mut d = vec![0.0; n * n];
        for i in 0..n {
            d[i * n + (i + 1) % n] = 1.0;
        }
        let w = Weights::from_dense(&d, n).unwrap();
        assert!(dense_inverse_symmetrisable(&w, 0.5).unwrap().is_none());
        let g = dense_g(&w, 0.5).unwrap();
        // Directed ring: (I − ρW)⁻¹ = Σ ρ^k W^k = (I + ρW + ρ²W² + ρ³W³)/(1 − ρ⁴).
        let c = 1.0 / (1.0 - 0.5f64.powi(4));
        assert!((g[1] - c).abs() < 1e-12);
        assert!((g[2] - 0.5 * c).abs() < 1e-12);
    }
}

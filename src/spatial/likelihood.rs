//! What the concentrated likelihoods of the spatial models share (SAR / SDM, SEM / SDEM,
//! SAC): R's Brent minimiser, the log-determinant engine (dense spectrum or sparse
//! factorisation) with the Lee–Yu effective dimensions, dense G = W(I − ρW)⁻¹ and its traces,
//! the demeaned data handed to the error models, and the stacking of the reported parameters.
//! Every model module uses this one; none of them uses another model module.

// Index loops mirror the matrix formulas they implement.
#![allow(clippy::needless_range_loop)]

use faer::Mat;

use super::logdet::Spectrum;
use super::panel::PanelW;
use super::sparse::{self, SeriesTraces, SparseLogdet};
use super::spec::{
    FeKind, Method, PeriodTraces, RhoSearch, SpatialSpec, TraceSource, AUTO_DENSE_MAX,
    MAX_DENSE_UNITS, SPARSE_SEED,
};
use super::weights::Weights;
use crate::error::{Error, Result};
use crate::interrupt::Cancel;

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
    /// The engine of the first (or only) W.
    pub(crate) engine: Engine,
    /// Time-varying W: the engines of the other distinct W_t (`PanelW::ws[1..]`) and the
    /// number of periods of every distinct W (first included); empty for a static W.
    pub(crate) more: Vec<Engine>,
    pub(crate) counts: Vec<usize>,
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
            more: Vec::new(),
            counts: Vec::new(),
            bounds,
            ly_n,
            t_eff,
            nt_eff: n_eff * t_eff,
        })
    }

    /// The frame of a panel whose W may change by period: a static W is [`Self::new`]
    /// (bit for bit); a time-varying W gets one engine per distinct W_t and the intersection
    /// of their admissible intervals. The Lee–Yu transformation assumes one W for all
    /// periods (its orthonormal time transformation mixes periods), so it is refused.
    pub(crate) fn new_panel(
        pw: &PanelW,
        spec: &SpatialSpec,
        n: usize,
        t: usize,
        unit_max: bool,
    ) -> Result<Self> {
        if pw.is_static() {
            return Self::new(pw.ws[0], spec, n, t, unit_max);
        }
        if spec.lee_yu {
            return Err(Error::Option {
                name: "lee_yu".into(),
                reason: "the Lee-Yu transformation assumes one W for all periods; with a \
                         time-varying W use lee_yu=False"
                    .into(),
            });
        }
        if matches!(spec.search, RhoSearch::Grid { .. }) {
            return Err(Error::Option {
                name: "rho_search".into(),
                reason: "the SDPDmod grid emulation needs one W for all periods".into(),
            });
        }
        let mut frames = Vec::with_capacity(pw.ws.len());
        for w in &pw.ws {
            frames.push(Self::new(w, spec, n, t, unit_max)?);
        }
        let lo = frames
            .iter()
            .map(|f| f.bounds.0)
            .fold(f64::NEG_INFINITY, f64::max);
        let hi = frames
            .iter()
            .map(|f| f.bounds.1)
            .fold(f64::INFINITY, f64::min);
        let counts = (0..pw.ws.len()).map(|k| pw.count(k)).collect();
        let mut it = frames.into_iter();
        let Some(first) = it.next() else {
            return Err(Error::Empty("time-varying W: no weights".into()));
        };
        Ok(Self {
            engine: first.engine,
            more: it.map(|f| f.engine).collect(),
            counts,
            bounds: (lo, hi),
            ly_n: false,
            t_eff: t as f64,
            nt_eff: (n * t) as f64,
        })
    }

    /// The engine of `ws[k]`.
    pub(crate) fn engine_of(&self, k: usize) -> &Engine {
        if k == 0 {
            &self.engine
        } else {
            &self.more[k - 1]
        }
    }

    /// T_eff · log|I − rW|, less the eigenvalue 1 removed by the Lee–Yu time transformation
    /// (−∞ outside the admissible interval on the sparse path).
    pub(crate) fn logdet(&self, r: f64) -> f64 {
        let one = |e: &Engine| match e {
            Engine::Dense(s) => s.logdet(r),
            Engine::Sparse(ld) => ld.logdet(r).unwrap_or(f64::NEG_INFINITY),
        };
        if !self.more.is_empty() {
            // Σ_t ln|I − rW_t|, each distinct W_t once times its number of periods.
            return (0..self.counts.len())
                .map(|k| self.counts[k] as f64 * one(self.engine_of(k)))
                .sum();
        }
        let mut l = one(&self.engine);
        if self.ly_n {
            l -= (1.0 - r).ln();
        }
        self.t_eff * l
    }

    /// G·v per period (panel, time-major) and tr(G*), tr(G*G*), tr(G*'G*) (projected when
    /// the Lee–Yu time transformation applies), with the Monte Carlo s.e. of the last on the
    /// sparse path. `v = None` skips G·v.
    pub(crate) fn g_terms(&self, w: &Weights, rho: f64, v: Option<&[f64]>) -> Result<GTerms> {
        self.g_terms_of(&self.engine, w, rho, v)
    }

    /// [`Self::g_terms`] for a panel whose W may change by period: G_t·v_t per period, the
    /// period averages of the traces (callers multiply by T as for a static W), the Monte
    /// Carlo s.e. of the average, and the period-weighted trace source of the effects.
    pub(crate) fn g_terms_panel(&self, pw: &PanelW, rho: f64, v: Option<&[f64]>) -> Result<GTerms> {
        if pw.is_static() {
            return self.g_terms(pw.ws[0], rho, v);
        }
        let n = pw.ws[0].n;
        let t = pw.of_period.len();
        let mut gv = match v {
            Some(zb) => vec![0.0; zb.len()],
            None => Vec::new(),
        };
        let mut tr = (0.0, 0.0, 0.0);
        let mut var_se: Option<f64> = None;
        let mut parts = Vec::with_capacity(pw.ws.len());
        for (k, w) in pw.ws.iter().enumerate() {
            let share = pw.count(k) as f64 / t as f64;
            let sub = v.map(|zb| pw.gather(k, zb, n));
            let (g, (a, b, c), se, src) =
                self.g_terms_of(self.engine_of(k), w, rho, sub.as_deref())?;
            if v.is_some() {
                pw.scatter(k, &g, &mut gv, n);
            }
            tr.0 += share * a;
            tr.1 += share * b;
            tr.2 += share * c;
            if let Some(se) = se {
                *var_se.get_or_insert(0.0) += (share * se).powi(2);
            }
            parts.push(PeriodTraces {
                share,
                traces: src,
                w: (*w).clone(),
            });
        }
        Ok((gv, tr, var_se.map(f64::sqrt), TraceSource::Periods(parts)))
    }

    fn g_terms_of(
        &self,
        engine: &Engine,
        w: &Weights,
        rho: f64,
        v: Option<&[f64]>,
    ) -> Result<GTerms> {
        let n = w.n;
        match engine {
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

pub(crate) struct ErrorCtx<'a> {
    pub(crate) w: &'a Weights,
    /// The W of every period (`w` is its first).
    pub(crate) pw: &'a PanelW<'a>,
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
mod tests {
    use super::*;
    use crate::spatial::test_support::irregular_w;

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

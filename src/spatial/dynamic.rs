//! Time–space dynamic spatial panels (dynamic SAR / SDM) with fixed effects by quasi-maximum
//! likelihood and the analytic bias correction of Yu, de Jong & Lee (2008, J. Econometrics
//! 146, "Quasi-maximum likelihood estimators for spatial dynamic panel data with fixed effects
//! when both n and T are large", unit effects) and Lee & Yu (2010, Econometric Theory 26, "A
//! spatial dynamic panel data model with both time and individual fixed effects", two-way).
//!
//! Model (balanced panel, periods 0..T; period 0 is lost to the lag, so T' = T − 1 periods
//! are used):
//!
//!   y_t = ρ W y_t + τ y_{t−1} + η W y_{t−1} + X_t β + W X_t θ + μ (+ α_t ι) + e_t,
//!
//! with xsmle's `dlag` choice of lags: y_{t−1} only (η = 0), W y_{t−1} only (τ = 0), or both.
//!
//! Estimation (the "direct approach" of both papers): the unit (and, two-way, period) means of
//! the T' usable periods are removed from y_t, W y_t, y_{t−1}, W y_{t−1}, X_t, W X_t (the lags
//! are demeaned over their own window 0..T−1), and
//!   ln L = −nT'/2 ln(2πσ²) + T' ln|I − ρW| − (1/2σ²) Σ_t ‖(I − ρW)ỹ_t − Z̃_t δ‖²,
//! δ = (τ, η, β, θ), is maximised with δ and σ² concentrated out (Brent in ρ on W's exact
//! spectrum). The estimator θ̂ = (δ̂, ρ̂, σ̂²) is consistent with an O(1/T) bias (and, with time
//! effects, an O(1/n) bias). The bias-corrected estimator is
//!
//!   θ̂¹ = θ̂ + Σ̂⁻¹ â / T'                      (unit effects; YDJL 2008, Theorem 3 and the
//!                                               corrected estimator of their Section 4)
//!   θ̂¹ = θ̂ + Σ̂⁻¹ â / T' + Σ̂⁻¹ b̂ / n          (two-way; Lee & Yu 2010, ET, direct approach)
//!
//! with, writing S = I − ρW, G = W S⁻¹, A = S⁻¹(τI + ηW) and
//! B = Σ_h A^h S⁻¹ = (I − A)⁻¹ S⁻¹ = ((1 − τ)I − (ρ + η)W)⁻¹:
//!   â_τ = tr(B)/n,  â_η = tr(WB)/n,  â_β = â_θ = 0,
//!   â_ρ = τ tr(GB)/n + η tr(GWB)/n + tr(G)/n,  â_σ² = 1/(2σ²);
//!   b̂ = (0, …, 0, b̂_ρ = 1/(1 − ρ), b̂_σ² = 1/(2σ²))   (row-standardised W),
//! and Σ̂ the (1/nT') information matrix of the concentrated problem at θ̂:
//!   Σ_δδ = Z̃'Z̃/σ², Σ_δρ = Z̃'(I⊗G)Z̃δ/σ², Σ_ρρ = ‖(I⊗G)Z̃δ‖²/σ² + T' tr(GG + G'G),
//!   Σ_ρσ² = T' tr(G)/σ², Σ_σ²σ² = nT'/(2σ⁴), all divided by nT'.
//! Only the entries of the lags in the model appear. These are the vectors Jihai Yu's Matlab
//! code (`sar_jihai.m`, `sar_jihai_time.m`) and its R port SDPDmod 0.0.5 (`SDPDm`,
//! `LYtrans=TRUE` for unit effects, `DIRtrans=TRUE` for two-way) compute; SDPDmod's
//! W y_{t−1}-only branch uses tr(B) and tr(GB) with η where the paper's general formula has
//! tr(WB) and tr(GWB), and we follow the paper. (The equation numbers of the printed papers
//! could not be checked offline; the formulas above are the papers' a_θ and b_θ vectors as
//! implemented by their author.)
//!
//! Variance: V = (Σ⁻¹ + Σ⁻¹ΩΣ⁻¹)/(nT') at θ̂¹ (YDJL Theorem 3), Ω the fourth-moment term with
//! Ω_ρρ = κ Σ_i G_ii²/n, Ω_ρσ² = κ tr(G)/(2σ²n), Ω_σ²σ² = κ/(4σ⁴), κ = (μ₄ − 3σ⁴)/σ⁴ from the
//! residuals (zero under normality), kept as `vcov_asymptotic` (the papers' T' form, as
//! `sar_jihai.m` and SDPDmod report it). The reported `vcov` is J V_f J', two finite-sample
//! refinements that vanish asymptotically:
//! - J = I + ∂c(θ)/∂θ at θ̂ (θ̂¹ = θ̂ + c(θ̂), central differences), the delta method through
//!   the correction: J − I is O(1/T), and without it the sampling sd of τ̂¹ at N = 100,
//!   T' = 10 is understated by ~9% (Wald coverage 0.925);
//! - V_f is V with the log-determinant and σ² terms of Σ counting T' − 1 periods instead of
//!   T': the likelihood of the transformation approach (Lee & Yu 2010), whose orthonormal
//!   transformation leaves T' − 1 periods per unit once the unit means are removed (the
//!   quadratic terms are unchanged, the transformation being orthonormal). With the T' count
//!   the sd of ρ̂¹ at T' = 10 with unit effects is understated by ~7% (coverage 0.929).
//!
//! Both are checked by the Monte Carlo in tests/test_spatial_dynamic.py.
//!
//! Stationarity: the model is stable when every eigenvalue (τ + ηω)/(1 − ρω) of A (ω over W's
//! eigenvalues) lies inside the unit circle (τ + ρ + η < 1 for row-standardised W); a
//! corrected estimate outside that region is kept but warned about, and its long-run effects
//! are refused.
//!
//! Effects: short run S(W) = (I − ρW)⁻¹(βI + θW), long run
//! ((1 − τ)I − (ρ + η)W)⁻¹(βI + θW) = (I − ρ*W)⁻¹(β*I + θ*W) with ρ* = (ρ + η)/(1 − τ),
//! β* = β/(1 − τ), θ* = θ/(1 − τ): both are the static LeSage–Pace summaries of
//! [`super::effects::impacts`], applied to (β, θ, ρ) and to (β*, θ*, ρ*) whose covariance
//! is J V J' (J the Jacobian of the map), so the delta-method SEs are those of the long-run
//! effects as functions of (τ, η, β, θ, ρ).

// Index loops mirror the matrix formulas they implement.
#![allow(clippy::needless_range_loop)]

use rayon::prelude::*;

use super::effects::{impacts, Impacts};
use super::likelihood::{bound_warning, dense_g, r_brent_fmin};
use super::logdet::Spectrum;
use super::panel::{demean_panel, panel_layout};
use super::spec::{FeKind, SpatialFit, SpatialInput, SpatialKind, TraceSource, MAX_DENSE_UNITS};
use super::weights::Weights;
use crate::error::{Error, Result};
use crate::interrupt::Cancel;
use crate::linalg::{dot_sequential, spd_inverse};

/// Which lags of y enter (xsmle's `dlag(1)`, `dlag(2)`, `dlag(3)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DynLag {
    /// y_{t−1} only (τ).
    Time,
    /// W y_{t−1} only (η).
    SpaceTime,
    /// Both.
    Both,
}

impl DynLag {
    fn has_tau(self) -> bool {
        matches!(self, DynLag::Time | DynLag::Both)
    }
    fn has_eta(self) -> bool {
        matches!(self, DynLag::SpaceTime | DynLag::Both)
    }
}

#[derive(Debug, Clone)]
pub struct DynamicSpec {
    /// SDM (W X θ terms) rather than SAR.
    pub durbin: bool,
    pub lags: DynLag,
    /// `Individual` (YDJL 2008) or `Twoways` (Lee & Yu 2010).
    pub effects: FeKind,
}

#[derive(Debug, Clone)]
pub struct DynamicFit {
    /// "tau" / "eta" (those in the model), regressors, "W*" regressors, "rho", "sigma2".
    pub names: Vec<String>,
    /// Bias-corrected estimate θ̂¹.
    pub coef: Vec<f64>,
    /// Variance of θ̂¹ (row-major): J V J', V the papers' asymptotic variance at θ̂¹ and
    /// J = I + ∂c/∂θ the Jacobian of the correction θ̂ ↦ θ̂ + c(θ̂).
    pub vcov: Vec<f64>,
    /// The papers' asymptotic variance (Σ⁻¹ + Σ⁻¹ΩΣ⁻¹)/(nT') at θ̂¹ (without J).
    pub vcov_asymptotic: Vec<f64>,
    pub se: Vec<f64>,
    /// The QML estimate θ̂ before the correction, and its variance.
    pub coef_qml: Vec<f64>,
    pub vcov_qml: Vec<f64>,
    pub se_qml: Vec<f64>,
    /// Log-likelihood at θ̂ (its maximum).
    pub loglik: f64,
    pub n_units: usize,
    /// Periods used (the panel's periods minus the first).
    pub n_periods: usize,
    pub k_x: usize,
    pub durbin: Vec<usize>,
    pub lags: DynLag,
    pub rho_bounds: (f64, f64),
    /// Largest modulus of the eigenvalues of A = (I − ρW)⁻¹(τI + ηW) at θ̂¹ (< 1: stable).
    pub spectral_radius_a: f64,
    pub warnings: Vec<String>,
    /// Residuals (I − ρW)ỹ − Z̃δ at θ̂¹, (period, unit) order over the used periods.
    pub residuals: Vec<f64>,
    pub spectrum: Spectrum,
    pub w_row_standardised: bool,
}

impl DynamicFit {
    fn pos(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
    fn n_lags(&self) -> usize {
        usize::from(self.lags.has_tau()) + usize::from(self.lags.has_eta())
    }
}

/// The data after the lag and the demeaning: ỹ, Wỹ and Z̃ = [y_{t−1}, W y_{t−1}, X, W X].
struct Design {
    n: usize,
    t: usize,
    y: Vec<f64>,
    wy: Vec<f64>,
    z: Vec<Vec<f64>>,
    names: Vec<String>,
    k: usize,
    durbin: Vec<usize>,
}

fn design(inp: &SpatialInput, spec: &DynamicSpec) -> Result<Design> {
    let w = inp.w;
    let n = w.n;
    if inp.y.len() != inp.unit.len() {
        return Err(Error::Shape("y and unit differ in length".into()));
    }
    let (t_all, pos) = panel_layout(inp.unit, inp.time, n)?;
    if t_all < 3 {
        return Err(Error::Option {
            name: "dlag".into(),
            reason: format!(
                "a dynamic spatial panel needs at least 3 periods (one is lost to the lag y(t-1) \
                 and the fixed effects need two more); the panel has {t_all}"
            ),
        });
    }
    if n > MAX_DENSE_UNITS {
        return Err(Error::Option {
            name: "dlag".into(),
            reason: format!(
                "the bias correction needs dense N x N inverses: {n} units is more than {}",
                MAX_DENSE_UNITS
            ),
        });
    }
    let name_of = |j: usize| {
        inp.xnames
            .get(j)
            .cloned()
            .unwrap_or_else(|| format!("x{j}"))
    };
    let check = |v: &[f64], name: &str| -> Result<()> {
        if v.len() != inp.y.len() {
            return Err(Error::Shape(format!("column {name} has the wrong length")));
        }
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
    let k = inp.x.len();
    let durbin: Vec<usize> = if spec.durbin {
        match inp.durbin {
            Some(d) => d.to_vec(),
            None => (0..k).collect(),
        }
    } else {
        Vec::new()
    };
    if let Some(&j) = durbin.iter().find(|&&j| j >= k) {
        return Err(Error::Option {
            name: "durbin".into(),
            reason: format!("column {j} out of range (0..{k})"),
        });
    }
    let reorder = |v: &[f64]| -> Vec<f64> { pos.iter().map(|&r| v[r]).collect() };
    let y_all = reorder(inp.y);
    let t = t_all - 1;
    let lag_period = |v: &[f64], s: usize| -> Vec<f64> { v[s * n..(s + 1) * n].to_vec() };
    // Periods 1..T of a variable (current) and 0..T−1 (lagged), each with its W-lag.
    let current = |v: &[f64]| -> Vec<f64> { v[n..].to_vec() };
    let spatial = |v: &[f64]| -> Vec<f64> {
        let mut out = Vec::with_capacity(v.len());
        for s in 0..v.len() / n {
            out.extend(w.matvec(&v[s * n..(s + 1) * n]));
        }
        out
    };
    let y_lag: Vec<f64> = (0..t).flat_map(|s| lag_period(&y_all, s)).collect();
    let mut names = Vec::new();
    let mut z = Vec::new();
    if spec.lags.has_tau() {
        z.push(y_lag.clone());
        names.push("tau".to_string());
    }
    if spec.lags.has_eta() {
        z.push(spatial(&y_lag));
        names.push("eta".to_string());
    }
    let xs: Vec<Vec<f64>> = inp.x.iter().map(|c| current(&reorder(c))).collect();
    for (j, c) in xs.iter().enumerate() {
        z.push(c.clone());
        names.push(name_of(j));
    }
    for &j in &durbin {
        z.push(spatial(&xs[j]));
        names.push(format!("W*{}", name_of(j)));
    }
    let mut y = current(&y_all);
    let mut wy = spatial(&y);
    demean_panel(&mut y, n, t, spec.effects);
    demean_panel(&mut wy, n, t, spec.effects);
    for c in z.iter_mut() {
        demean_panel(c, n, t, spec.effects);
    }
    Ok(Design {
        n,
        t,
        y,
        wy,
        z,
        names,
        k,
        durbin,
    })
}

/// Information matrix Σ (divided by n·periods) and Ω of (δ, ρ, σ²) at the given parameters;
/// see the module docs. `g` is W(I − ρW)⁻¹. `periods` is the number of periods the
/// log-determinant and σ² terms count: T' in the papers' direct-approach formulas (used by
/// the bias correction and `vcov_asymptotic`), T' − 1 for the reported `vcov` (the
/// transformation approach, whose likelihood has T' − 1 periods after the unit means are
/// removed; see [`Periods`]).
fn sigma_omega(
    d: &Design,
    g: &[f64],
    delta: &[f64],
    sige: f64,
    mu4: f64,
    periods: f64,
) -> (ndarray::Array2<f64>, ndarray::Array2<f64>) {
    let (n, t) = (d.n, d.t);
    let kz = d.z.len();
    let p = kz + 2;
    let nt = n as f64 * periods;
    let zd: Vec<f64> = (0..n * t)
        .map(|r| (0..kz).map(|a| delta[a] * d.z[a][r]).sum())
        .collect();
    // (I_T ⊗ G) Z̃δ.
    let mut gz = vec![0.0; n * t];
    for s in 0..t {
        for i in 0..n {
            let row = &g[i * n..(i + 1) * n];
            gz[s * n + i] = dot_sequential(row, &zd[s * n..(s + 1) * n]);
        }
    }
    let mut tr_g = 0.0;
    let mut tr_gg = 0.0;
    let mut tr_gtg = 0.0;
    let mut sum_gii2 = 0.0;
    for i in 0..n {
        tr_g += g[i * n + i];
        sum_gii2 += g[i * n + i] * g[i * n + i];
        for j in 0..n {
            tr_gg += g[i * n + j] * g[j * n + i];
            tr_gtg += g[i * n + j] * g[i * n + j];
        }
    }
    let tf = periods;
    let mut s = ndarray::Array2::<f64>::zeros((p, p));
    for a in 0..kz {
        for b in 0..=a {
            let v = dot_sequential(&d.z[a], &d.z[b]) / sige;
            s[[a, b]] = v;
            s[[b, a]] = v;
        }
        let v = dot_sequential(&d.z[a], &gz) / sige;
        s[[a, kz]] = v;
        s[[kz, a]] = v;
    }
    s[[kz, kz]] = dot_sequential(&gz, &gz) / sige + tf * (tr_gg + tr_gtg);
    s[[kz, kz + 1]] = tf * tr_g / sige;
    s[[kz + 1, kz]] = s[[kz, kz + 1]];
    s[[kz + 1, kz + 1]] = nt / (2.0 * sige * sige);
    s.mapv_inplace(|v| v / nt);
    let kappa = (mu4 - 3.0 * sige * sige) / (sige * sige);
    let nf = n as f64;
    let mut o = ndarray::Array2::<f64>::zeros((p, p));
    o[[kz, kz]] = kappa * sum_gii2 / nf;
    o[[kz, kz + 1]] = kappa * tr_g / (2.0 * sige * nf);
    o[[kz + 1, kz]] = o[[kz, kz + 1]];
    o[[kz + 1, kz + 1]] = kappa / (4.0 * sige * sige);
    (s, o)
}

/// Residuals (I − ρW)ỹ − Z̃δ.
fn residuals(d: &Design, rho: f64, delta: &[f64]) -> Vec<f64> {
    (0..d.n * d.t)
        .map(|r| {
            d.y[r] - rho * d.wy[r] - delta.iter().zip(&d.z).map(|(b, c)| b * c[r]).sum::<f64>()
        })
        .collect()
}

/// How many periods the information matrix counts in its log-determinant and σ² terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Periods {
    /// T', the direct approach of YDJL (2008) / Lee & Yu (2010) as printed (and as
    /// `sar_jihai.m` and SDPDmod compute it).
    Direct,
    /// T' − 1: the transformation approach (Lee & Yu 2010), whose orthonormal transformation
    /// leaves T' − 1 periods per unit after the unit means are removed. Asymptotically the
    /// same; at T' = 10 the direct count understates the sampling sd of ρ̂¹ by ~7% (Wald
    /// coverage 0.929 in the Monte Carlo), the T' − 1 count does not.
    Transformed,
}

impl Periods {
    fn count(self, t: usize) -> f64 {
        match self {
            Periods::Direct => t as f64,
            Periods::Transformed => (t - 1) as f64,
        }
    }
}

/// (Σ⁻¹ + Σ⁻¹ΩΣ⁻¹)/(n·periods) at (δ, ρ, σ²), row-major.
fn variance(
    d: &Design,
    w: &Weights,
    delta: &[f64],
    rho: f64,
    sige: f64,
    periods: Periods,
) -> Result<Vec<f64>> {
    let g = dense_g(w, rho)?;
    let e = residuals(d, rho, delta);
    let mu4 = e.iter().map(|v| v.powi(4)).sum::<f64>() / (d.n * d.t) as f64;
    let pf = periods.count(d.t);
    let nt = d.n as f64 * pf;
    let (s, o) = sigma_omega(d, &g, delta, sige, mu4, pf);
    let si = spd_inverse(s.view()).map_err(|_| {
        Error::Numerical(
            "the information matrix of the dynamic model is not positive definite".into(),
        )
    })?;
    let v = si.dot(&o).dot(&si) + &si;
    Ok(v.iter().map(|x| x / nt).collect())
}

/// The bias correction c(θ) = Σ(θ)⁻¹a(θ)/T' (+ Σ(θ)⁻¹b(θ)/n two-way) at θ = (δ, ρ, σ²);
/// see the module docs.
fn correction(
    d: &Design,
    w: &Weights,
    lags: DynLag,
    twoway: bool,
    theta: &[f64],
) -> Result<Vec<f64>> {
    let (n, t) = (d.n, d.t);
    let kz = d.z.len();
    let p = kz + 2;
    let (delta, rest) = theta.split_at(kz);
    let (rho, sige) = (rest[0], rest[1]);
    let nl = usize::from(lags.has_tau()) + usize::from(lags.has_eta());
    let tau = if lags.has_tau() { delta[0] } else { 0.0 };
    let eta = if lags.has_eta() { delta[nl - 1] } else { 0.0 };
    if (1.0 - tau).abs() < 1e-12 {
        return Err(Error::Numerical(
            "tau = 1 at the QML estimate: the bias correction needs (1 - tau) I - (rho + eta) W \
             invertible"
                .into(),
        ));
    }
    let g = dense_g(w, rho)?;
    // B = ((1 − τ)I − (ρ + η)W)⁻¹ = (I + ρ* G*)/(1 − τ), G* = W(I − ρ*W)⁻¹.
    let rho_star = (rho + eta) / (1.0 - tau);
    let g_star = dense_g(w, rho_star)?;
    let nf = n as f64;
    let b_at = |i: usize, j: usize| -> f64 {
        let id = if i == j { 1.0 } else { 0.0 };
        (id + rho_star * g_star[i * n + j]) / (1.0 - tau)
    };
    let (mut tr_b, mut tr_wb, mut tr_gb, mut tr_gwb, mut tr_g) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for i in 0..n {
        tr_b += b_at(i, i);
        tr_wb += g_star[i * n + i] / (1.0 - tau);
        tr_g += g[i * n + i];
        for j in 0..n {
            tr_gb += g[i * n + j] * b_at(j, i);
            tr_gwb += g[i * n + j] * g_star[j * n + i] / (1.0 - tau);
        }
    }
    let mut a = vec![0.0; p];
    let mut q = 0;
    if lags.has_tau() {
        a[q] = tr_b / nf;
        q += 1;
    }
    if lags.has_eta() {
        a[q] = tr_wb / nf;
    }
    a[kz] = tau * tr_gb / nf + eta * tr_gwb / nf + tr_g / nf;
    a[kz + 1] = 1.0 / (2.0 * sige);
    let (s, _) = sigma_omega(
        d,
        &g,
        delta,
        sige,
        3.0 * sige * sige,
        Periods::Direct.count(t),
    );
    let si = spd_inverse(s.view()).map_err(|_| {
        Error::Numerical(
            "the information matrix of the dynamic model is not positive definite".into(),
        )
    })?;
    let tf = t as f64;
    Ok((0..p)
        .map(|r| {
            let mut c: f64 = (0..p).map(|c| si[[r, c]] * a[c]).sum::<f64>() / tf;
            if twoway {
                c += (si[[r, kz]] / (1.0 - rho) + si[[r, kz + 1]] / (2.0 * sige)) / nf;
            }
            c
        })
        .collect())
}

/// Fits a dynamic SAR / SDM panel; see the module docs.
pub fn dynamic_panel(inp: &SpatialInput, spec: &DynamicSpec) -> Result<DynamicFit> {
    let spectrum = Spectrum::of(inp.w)?;
    fit_with(inp, spec, &spectrum)
}

/// Fits `ys.len()` outcome vectors that share X, ids and W (a Monte Carlo): W's spectrum is
/// computed once, the fits run in parallel (each independent of the thread count).
pub fn dynamic_panel_many(
    ys: &[Vec<f64>],
    inp: &SpatialInput,
    spec: &DynamicSpec,
) -> Result<Vec<DynamicFit>> {
    let spectrum = Spectrum::of(inp.w)?;
    let cancel = Cancel::current();
    ys.par_iter()
        .map(|y| {
            cancel.check()?;
            let one = SpatialInput {
                y,
                x: inp.x,
                xnames: inp.xnames,
                unit: inp.unit,
                time: inp.time,
                w: inp.w,
                durbin: inp.durbin,
                fixed_rho: None,
            };
            fit_with(&one, spec, &spectrum)
        })
        .collect()
}

fn fit_with(inp: &SpatialInput, spec: &DynamicSpec, spectrum: &Spectrum) -> Result<DynamicFit> {
    let w = inp.w;
    if !matches!(spec.effects, FeKind::Individual | FeKind::Twoways) {
        return Err(Error::Option {
            name: "effects".into(),
            reason: "dynamic spatial panels are estimated with 'individual' (Yu, de Jong & Lee \
                     2008) or 'twoways' (Lee & Yu 2010) fixed effects"
                .into(),
        });
    }
    let row_std = w.is_row_standardised() && w.islands().is_empty();
    if spec.effects == FeKind::Twoways && !row_std {
        return Err(Error::Option {
            name: "effects".into(),
            reason: "the two-way bias correction of Lee & Yu (2010) needs a row-standardised W \
                     without islands (its time-effect term is 1/(1 - rho), W iota = iota)"
                .into(),
        });
    }
    let d = design(inp, spec)?;
    let (n, t) = (d.n, d.t);
    let kz = d.z.len();
    let mut warnings = Vec::new();
    // OLS of ỹ and Wỹ on Z̃.
    let mut zz = ndarray::Array2::<f64>::zeros((kz, kz));
    for a in 0..kz {
        for b in 0..=a {
            let v = dot_sequential(&d.z[a], &d.z[b]);
            zz[[a, b]] = v;
            zz[[b, a]] = v;
        }
    }
    let zz_inv = spd_inverse(zz.view()).map_err(|_| Error::Column {
        name: d.names.join(", "),
        reason: "regressors (with the lags of y) are collinear after removing the fixed effects"
            .into(),
    })?;
    let solve = |rhs: &[f64]| -> Vec<f64> {
        let zy: Vec<f64> = d.z.iter().map(|c| dot_sequential(c, rhs)).collect();
        (0..kz)
            .map(|a| (0..kz).map(|c| zz_inv[[a, c]] * zy[c]).sum())
            .collect()
    };
    let bo = solve(&d.y);
    let bd = solve(&d.wy);
    let resid_of = |rhs: &[f64], b: &[f64]| -> Vec<f64> {
        (0..n * t)
            .map(|r| rhs[r] - b.iter().zip(&d.z).map(|(v, c)| v * c[r]).sum::<f64>())
            .collect()
    };
    let eo = resid_of(&d.y, &bo);
    let ed = resid_of(&d.wy, &bd);
    let (epeo, eped, epeod) = (
        dot_sequential(&eo, &eo),
        dot_sequential(&ed, &ed),
        dot_sequential(&eo, &ed),
    );
    let nt = (n * t) as f64;
    let tf = t as f64;
    let bounds = spectrum.rho_bounds();
    let negll = |r: f64| {
        let ee = epeo - 2.0 * r * epeod + r * r * eped;
        0.5 * nt * ee.ln() - tf * spectrum.logdet(r)
    };
    let eps = 1e-9 * (bounds.1 - bounds.0);
    let rho = r_brent_fmin(bounds.0 + eps, bounds.1 - eps, negll, 1e-12);
    Cancel::current().check()?;
    warnings.extend(bound_warning("rho", rho, bounds));
    let delta: Vec<f64> = bo.iter().zip(&bd).map(|(a, b)| a - rho * b).collect();
    let e = residuals(&d, rho, &delta);
    let rss = dot_sequential(&e, &e);
    let sige = rss / nt;
    let loglik = -0.5 * nt * (2.0 * std::f64::consts::PI * sige).ln() + tf * spectrum.logdet(rho)
        - 0.5 * rss / sige;

    let mut theta: Vec<f64> = delta.clone();
    theta.push(rho);
    theta.push(sige);
    let coef_qml = theta.clone();
    let twoway = spec.effects == FeKind::Twoways;
    let c0 = correction(&d, w, spec.lags, twoway, &theta)?;
    let p = kz + 2;
    let coef: Vec<f64> = theta.iter().zip(&c0).map(|(a, b)| a + b).collect();
    let vcov_qml = variance(&d, w, &delta, rho, sige, Periods::Direct)?;
    let (d1, rest) = coef.split_at(kz);
    let (rho1, sige1) = (rest[0], rest[1]);
    if !(rho1 > bounds.0 && rho1 < bounds.1) {
        return Err(Error::Numerical(format!(
            "the bias-corrected rho = {rho1:.6} leaves the admissible interval ({:.4}, {:.4}) \
             (QML rho = {rho:.6}): the panel is too short for the correction",
            bounds.0, bounds.1
        )));
    }
    if sige1 <= 0.0 {
        return Err(Error::Numerical(format!(
            "the bias-corrected sigma2 = {sige1} is not positive"
        )));
    }
    let v_asy = variance(&d, w, d1, rho1, sige1, Periods::Direct)?;
    let v_transformed = variance(&d, w, d1, rho1, sige1, Periods::Transformed)?;
    // θ̂¹ = θ̂ + c(θ̂): the delta method through the correction, J = I + ∂c/∂θ (central
    // differences), V¹ = J V J'. J − I is O(1/T): the paper's asymptotic variance omits it, and
    // at T = 10 it is what brings the Wald coverage of τ from 0.925 to nominal (see the module
    // docs and tests/test_spatial_dynamic.py).
    let mut jac = vec![0.0; p * p];
    for j in 0..p {
        let h = 1e-5 * theta[j].abs().max(1e-2);
        let mut up = theta.clone();
        let mut dn = theta.clone();
        up[j] += h;
        dn[j] -= h;
        let cu = correction(&d, w, spec.lags, twoway, &up)?;
        let cd = correction(&d, w, spec.lags, twoway, &dn)?;
        for r in 0..p {
            jac[r * p + j] = (cu[r] - cd[r]) / (2.0 * h) + if r == j { 1.0 } else { 0.0 };
        }
    }
    let mut vcov = vec![0.0; p * p];
    for a in 0..p {
        for b in 0..p {
            let mut acc = 0.0;
            for i in 0..p {
                for k in 0..p {
                    acc += jac[a * p + i] * v_transformed[i * p + k] * jac[b * p + k];
                }
            }
            vcov[a * p + b] = acc;
        }
    }
    let tau1 = if spec.lags.has_tau() { d1[0] } else { 0.0 };
    let nl = usize::from(spec.lags.has_tau()) + usize::from(spec.lags.has_eta());
    let eta1 = if spec.lags.has_eta() { d1[nl - 1] } else { 0.0 };
    let radius = spectrum
        .re
        .iter()
        .zip(&spectrum.im)
        .map(|(&wr, &wi)| {
            // (τ + ηω)/(1 − ρω), ω = wr + i wi.
            let (nr, ni) = (tau1 + eta1 * wr, eta1 * wi);
            let (dr, di) = (1.0 - rho1 * wr, -rho1 * wi);
            (nr.hypot(ni)) / dr.hypot(di)
        })
        .fold(0.0, f64::max);
    if radius >= 1.0 {
        warnings.push(format!(
            "the estimate is outside the stationarity region: the largest eigenvalue modulus of \
             (I - rho W)^-1 (tau I + eta W) is {radius:.4} >= 1 (tau + rho + eta < 1 for a \
             row-standardised W); long-run effects are not defined"
        ));
    }
    let resid = residuals(&d, rho1, d1);
    let se_of = |v: &[f64]| -> Vec<f64> { (0..p).map(|r| v[r * p + r].max(0.0).sqrt()).collect() };
    let mut names = d.names.clone();
    names.push("rho".into());
    names.push("sigma2".into());
    Ok(DynamicFit {
        names,
        se: se_of(&vcov),
        se_qml: se_of(&vcov_qml),
        coef,
        vcov,
        vcov_asymptotic: v_asy,
        coef_qml,
        vcov_qml,
        loglik,
        n_units: n,
        n_periods: t,
        k_x: d.k,
        durbin: d.durbin.clone(),
        lags: spec.lags,
        rho_bounds: bounds,
        spectral_radius_a: radius,
        warnings,
        residuals: resid,
        spectrum: spectrum.clone(),
        w_row_standardised: row_std,
    })
}

/// Short-run or long-run LeSage–Pace effects of a dynamic fit (see the module docs), with
/// delta-method SEs and `draws` simulated parameter vectors as [`impacts`].
pub fn dynamic_impacts(
    fit: &DynamicFit,
    w: &Weights,
    long_run: bool,
    draws: usize,
    seed: u64,
) -> Result<Impacts> {
    let p = fit.coef.len();
    let nl = fit.n_lags();
    let kx = fit.k_x;
    let kd = fit.durbin.len();
    let rho_pos = p - 2;
    // Static parameter vector [β; θ; ρ; σ²] and the rows of the full vector it is built from.
    let src: Vec<usize> = (nl..nl + kx + kd).chain([rho_pos, p - 1]).collect();
    let m = src.len();
    let mut coef: Vec<f64> = src.iter().map(|&i| fit.coef[i]).collect();
    // Jacobian of the static vector with respect to the full one (m x p).
    let mut jac = vec![0.0; m * p];
    for (r, &i) in src.iter().enumerate() {
        jac[r * p + i] = 1.0;
    }
    if long_run {
        if fit.spectral_radius_a >= 1.0 {
            return Err(Error::Option {
                name: "horizon".into(),
                reason: format!(
                    "long-run effects need a stationary estimate; the largest eigenvalue modulus \
                     of (I - rho W)^-1 (tau I + eta W) is {:.4} >= 1",
                    fit.spectral_radius_a
                ),
            });
        }
        let tau_pos = fit.pos("tau");
        let eta_pos = fit.pos("eta");
        let tau = tau_pos.map(|i| fit.coef[i]).unwrap_or(0.0);
        let eta = eta_pos.map(|i| fit.coef[i]).unwrap_or(0.0);
        let rho = fit.coef[rho_pos];
        let c = 1.0 / (1.0 - tau);
        // β* = β c, θ* = θ c: d/dβ = c, d/dτ = β c².
        for r in 0..kx + kd {
            let v = fit.coef[src[r]];
            coef[r] = v * c;
            jac[r * p + src[r]] = c;
            if let Some(tp) = tau_pos {
                jac[r * p + tp] = v * c * c;
            }
        }
        // ρ* = (ρ + η) c.
        let r = kx + kd;
        coef[r] = (rho + eta) * c;
        jac[r * p + rho_pos] = c;
        if let Some(ep) = eta_pos {
            jac[r * p + ep] = c;
        }
        if let Some(tp) = tau_pos {
            jac[r * p + tp] = (rho + eta) * c * c;
        }
    }
    // J V J'.
    let mut vc = vec![0.0; m * m];
    for a in 0..m {
        for b in 0..m {
            let mut s = 0.0;
            for i in 0..p {
                let ja = jac[a * p + i];
                if ja == 0.0 {
                    continue;
                }
                for j in 0..p {
                    s += ja * fit.vcov[i * p + j] * jac[b * p + j];
                }
            }
            vc[a * m + b] = s;
        }
    }
    let names: Vec<String> = src.iter().map(|&i| fit.names[i].clone()).collect();
    let se = (0..m).map(|a| vc[a * m + a].max(0.0).sqrt()).collect();
    let static_fit = SpatialFit {
        names,
        coef,
        vcov: vc,
        se,
        loglik: fit.loglik,
        n_units: fit.n_units,
        n_periods: fit.n_periods,
        k_x: kx,
        durbin: fit.durbin.clone(),
        rho_bounds: fit.rho_bounds,
        warnings: Vec::new(),
        residuals: Vec::new(),
        traces: TraceSource::Dense(fit.spectrum.clone()),
        w_row_standardised: fit.w_row_standardised,
        kind: if kd > 0 {
            SpatialKind::Sdm
        } else {
            SpatialKind::Sar
        },
        method: "dense",
        trace_se: None,
        intervals: Vec::new(),
    };
    impacts(&static_fit, w, draws, seed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spatial::test_support::irregular_w;

    fn panel(n: usize, t: usize) -> (Vec<f64>, Vec<Vec<f64>>, Vec<u32>, Vec<u32>) {
        let rows = n * t;
        // Deterministic, non-collinear pseudo-data (the checks here are about shapes).
        let y: Vec<f64> = (0..rows)
            .map(|r| ((r * 7919) % 101) as f64 / 10.0)
            .collect();
        let x: Vec<f64> = (0..rows)
            .map(|r| ((r * 104_729) % 97) as f64 / 9.0)
            .collect();
        let unit = (0..rows).map(|r| (r % n) as u32).collect();
        let time = (0..rows).map(|r| (r / n) as u32).collect();
        (y, vec![x], unit, time)
    }

    #[test]
    fn two_periods_are_refused_with_the_reason() {
        let w = irregular_w(12);
        let (y, x, unit, time) = panel(12, 2);
        let names = vec!["x".to_string()];
        let inp = SpatialInput {
            y: &y,
            x: &x,
            xnames: &names,
            unit: &unit,
            time: &time,
            w: &w,
            durbin: None,
            fixed_rho: None,
        };
        let spec = DynamicSpec {
            durbin: false,
            lags: DynLag::Both,
            effects: FeKind::Individual,
        };
        let e = dynamic_panel(&inp, &spec).unwrap_err().to_string();
        assert!(
            e.contains("at least 3 periods") && e.contains("has 2"),
            "{e}"
        );
    }

    #[test]
    fn names_follow_dlag_and_nobs_drop_one_period() {
        let w = irregular_w(12);
        let (y, x, unit, time) = panel(12, 6);
        let names = vec!["x".to_string()];
        let inp = SpatialInput {
            y: &y,
            x: &x,
            xnames: &names,
            unit: &unit,
            time: &time,
            w: &w,
            durbin: None,
            fixed_rho: None,
        };
        for (lags, first) in [
            (DynLag::Time, "tau"),
            (DynLag::SpaceTime, "eta"),
            (DynLag::Both, "tau"),
        ] {
            let spec = DynamicSpec {
                durbin: true,
                lags,
                effects: FeKind::Individual,
            };
            let f = dynamic_panel(&inp, &spec).unwrap();
            assert_eq!(f.names[0], first);
            assert_eq!(f.names.last().map(String::as_str), Some("sigma2"));
            assert_eq!(f.n_periods, 5);
            assert_eq!(f.residuals.len(), 12 * 5);
        }
        let spec = DynamicSpec {
            durbin: false,
            lags: DynLag::Time,
            effects: FeKind::Time,
        };
        assert!(dynamic_panel(&inp, &spec).is_err());
    }
}

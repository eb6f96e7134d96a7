//! Imputation estimator of Borusyak, Jaravel & Spiess (2024, REStud 91(6)), "Revisiting Event-
//! Study Designs: Robust and Efficient Estimation".
//!
//! 1. Fit Y_it = α_i + λ_t + X_it'δ + ε_it by OLS on the untreated observations Ω₀ (never-treated
//!    units, and periods t < g − anticipation of eventually-treated units).
//! 2. Impute Y_it(0) = α̂_i + λ̂_t + X_it'δ̂ for treated observations Ω₁ (t ≥ g) and set
//!    τ̂_it = Y_it − Ŷ_it(0). Rows with g − anticipation ≤ t < g are in neither set. Treated
//!    rows whose unit or period has no untreated observation cannot be imputed: they are
//!    dropped and counted (`n_not_imputable`).
//! 3. Estimands τ_w = Σ_{Ω₁} w_it τ_it: static (w = 1/N₁) and by horizon h = t − g
//!    (w = 1/N₁ₕ on rows with e = h).
//!
//! Standard errors: BJS Theorem 3 / eq. (8)–(10), as in the `didimputation` R package
//! (Butts) and Stata `did_imputation` defaults:
//! - implied weights v_it = w_it on Ω₁ and v₀ = −Z₀(Z₀'Z₀)⁻¹Z₁'w₁ on Ω₀ (Z: FE dummies and X);
//! - ε̃_it = first-stage residual on Ω₀; on Ω₁ ε̃_it = τ̂_it − τ̄_{g,e}, where the auxiliary
//!   τ̄_{g,e} = Σ v_it² τ̂_it / Σ v_it² over treated rows of cohort g and event time e;
//! - V̂[τ_w, τ_w'] = Σ_c (Σ_{it∈c} v_it ε̃_it)(Σ_{it∈c} v'_it ε̃'_it) over clusters c (the
//!   diagonal is BJS's conservative variance; no small-sample factor; normal inference).
//!
//! Leave-out variant (`leave_out = true`; BJS 2024 Section 4.3 / Supplementary Appendix A.6,
//! Stata `did_imputation, leaveout`, diff-diff `ImputationDiD(leave_one_out=True)`). With
//! few units per cohort, τ̄ overfits the treated unit's own τ̂ and biases the variance down;
//! the leave-out τ̃ for cluster c in cell G (cohort × event time) excludes c itself. With
//! W_{c,G} = Σ_{it∈c∩G} v_it, P_{c,G} = Σ_{it∈c∩G} v_it τ̂_it, D_G = Σ_c W_{c,G}²,
//! S_G = Σ_c W_{c,G} P_{c,G} (Stata's "smart" weights W_{c(it),G} v_it; = v_it² when a
//! cluster has one row per cell, e.g. clustering by unit in a panel):
//!
//!   τ̃_{c,G} = (S_G − W_{c,G} P_{c,G}) / (D_G − W_{c,G}²),   ε̃_it = τ̂_it − τ̃_{c(it),G(it)}.
//!
//! At the cluster score Σ_{it∈c∩G} v_it ε̃_it this equals Stata's row formula
//! (τ̂_it − S_G/D_G)·D_G/(D_G − W_{c,G}²) exactly, and diff-diff's 1/(1 − v²/Σv²) rescale
//! (with unit clusters). D_G − W_{c,G}² is computed as the sum over the other clusters when
//! the subtraction would lose precision. A cell whose positive-weight rows all belong to one
//! cluster has no other cluster to average over (leave-out undefined, BJS fn. 51; Stata
//! errors): it falls back to the non-leave-out τ̄_G = S_G/D_G (as diff-diff does), and the
//! cell is reported in `leave_out_fallback`.
//!
//! `small_sample = true` multiplies V̂ by G/(G − 1) (G clusters); the PyO3 layer then uses
//! t(G − 1) critical values. Neither is in didimputation or Stata (off by default).
//!
//! Pre-trend test (BJS Test 1, `pretrends` in didimputation): a separate OLS on Ω₀ of Y on
//! the chosen lead dummies (e < 0), controls and unit + period fixed effects, CR1-clustered;
//! the imputation estimates do not depend on it.

use ndarray::{Array1, Array2};

use super::event_study::{wald_test, EventStudyData, WaldTest};
use crate::error::{Error, Result};
use crate::fe::{factorize, DemeanSpec};
use crate::inference::multiplier::{
    crit_value, multiplier_bootstrap, MultiplierSpec, MultiplierWeights,
};
use crate::linalg::spd_inverse;
use crate::linear::{feols, FeolsInput, FeolsSpec, VcovRequest};
use crate::ols::independent_columns;

/// The projection onto the span of unit dummies, period dummies and controls fitted on the
/// untreated rows: for any column a (length n), `apply(a)` returns Z (Z₀'Z₀)⁻ Z'a on every row,
/// Z₀ = Z on untreated rows. With a = y·1[untreated] these are the first-stage fitted values
/// on every row (the imputed Y(0)); with a = w·1[treated] minus them the BJS weights v₀.
///
/// Unit dummies are eliminated exactly (their block of Z₀'Z₀ is diagonal); the remaining
/// period-dummy + control block is the within-unit cross-product S, solved on its linearly
/// independent columns (the first period dummy is redundant with the unit dummies).
#[derive(Debug)]
pub(crate) struct UntreatedProjector {
    n: usize,
    unit: Vec<u32>,
    period: Vec<u32>,
    n_periods: usize,
    controls: Vec<Vec<f64>>,
    /// Untreated rows per unit.
    count_u: Vec<f64>,
    /// Mean over a unit's untreated rows of each Z column (q values per unit, unit-major).
    zbar: Vec<f64>,
    /// Kept Z columns (indices into 0..q) and the inverse of S on them.
    kept: Vec<usize>,
    s_inv: Array2<f64>,
    /// Row can be projected: its unit and period have untreated rows.
    pub identified: Vec<bool>,
    /// Names of the Z columns dropped as collinear that are controls.
    pub collinear_controls: Vec<usize>,
}

impl UntreatedProjector {
    /// `unit`, `period`: dense codes (< n_units, < n_periods); `untreated`: rows in Ω₀.
    pub(crate) fn new(
        unit: &[u32],
        n_units: usize,
        period: &[u32],
        n_periods: usize,
        controls: &[&[f64]],
        untreated: &[bool],
    ) -> Result<Self> {
        let n = unit.len();
        let k = controls.len();
        let q = n_periods + k;
        let mut count_u = vec![0.0; n_units];
        let mut count_t = vec![0usize; n_periods];
        let mut zbar = vec![0.0; n_units * q];
        for i in (0..n).filter(|&i| untreated[i]) {
            let u = unit[i] as usize;
            count_u[u] += 1.0;
            count_t[period[i] as usize] += 1;
            zbar[u * q + period[i] as usize] += 1.0;
            for (j, c) in controls.iter().enumerate() {
                zbar[u * q + n_periods + j] += c[i];
            }
        }
        if count_u.iter().all(|&c| c == 0.0) {
            return Err(Error::Empty(
                "no untreated observations to fit the untreated-outcome model on".into(),
            ));
        }
        for u in 0..n_units {
            if count_u[u] > 0.0 {
                zbar[u * q..(u + 1) * q]
                    .iter_mut()
                    .for_each(|v| *v /= count_u[u]);
            }
        }
        // S = Σ_{untreated} (z_i − z̄_u)(z_i − z̄_u)'; scale = Σ z_i² for collinearity checks.
        let mut s = Array2::<f64>::zeros((q, q));
        let mut scale = vec![0.0; q];
        let mut zi = vec![0.0; q];
        for i in (0..n).filter(|&i| untreated[i]) {
            let u = unit[i] as usize;
            for (j, z) in zi.iter_mut().enumerate() {
                *z = -zbar[u * q + j];
            }
            zi[period[i] as usize] += 1.0;
            scale[period[i] as usize] += 1.0;
            for (j, c) in controls.iter().enumerate() {
                zi[n_periods + j] += c[i];
                scale[n_periods + j] += c[i] * c[i];
            }
            for a in 0..q {
                if zi[a] == 0.0 {
                    continue;
                }
                for b in a..q {
                    s[[a, b]] += zi[a] * zi[b];
                }
            }
        }
        for a in 0..q {
            for b in 0..a {
                s[[a, b]] = s[[b, a]];
            }
        }
        let kept = independent_columns(&s, &scale);
        let s_kept =
            Array2::from_shape_fn((kept.len(), kept.len()), |(a, b)| s[[kept[a], kept[b]]]);
        let s_inv = if kept.is_empty() {
            Array2::zeros((0, 0))
        } else {
            spd_inverse(s_kept.view())?
        };
        let collinear_controls = (0..k)
            .filter(|j| !kept.contains(&(n_periods + j)))
            .collect();
        let identified = (0..n)
            .map(|i| count_u[unit[i] as usize] > 0.0 && count_t[period[i] as usize] > 0)
            .collect();
        Ok(Self {
            n,
            unit: unit.to_vec(),
            period: period.to_vec(),
            n_periods,
            controls: controls.iter().map(|c| c.to_vec()).collect(),
            count_u,
            zbar,
            kept,
            s_inv,
            identified,
            collinear_controls,
        })
    }

    fn q(&self) -> usize {
        self.n_periods + self.controls.len()
    }

    fn z(&self, i: usize, j: usize) -> f64 {
        if j < self.n_periods {
            f64::from(u8::from(self.period[i] as usize == j))
        } else {
            self.controls[j - self.n_periods][i]
        }
    }

    /// Z (Z₀'Z₀)⁻ Z'a on every row (rows of unidentified units get their period/control part
    /// only; callers drop them).
    pub(crate) fn apply(&self, a: &[f64]) -> Vec<f64> {
        let q = self.q();
        let n_units = self.count_u.len();
        // b_u = Σ_{i∈u} a_i ; b_z = Σ_i z_i a_i.
        let mut b_u = vec![0.0; n_units];
        let mut b_z = vec![0.0; q];
        for i in 0..self.n {
            if a[i] == 0.0 {
                continue;
            }
            b_u[self.unit[i] as usize] += a[i];
            b_z[self.period[i] as usize] += a[i];
            for (j, c) in self.controls.iter().enumerate() {
                b_z[self.n_periods + j] += c[i] * a[i];
            }
        }
        // rhs = b_z − Σ_u z̄_u b_u (units with untreated rows only: others have no FE column
        // in Z₀, so their dummies' coefficients are set to zero).
        let mut rhs = b_z;
        for (u, &bu) in b_u.iter().enumerate() {
            if self.count_u[u] > 0.0 && bu != 0.0 {
                for (j, r) in rhs.iter_mut().enumerate() {
                    *r -= self.zbar[u * q + j] * bu;
                }
            }
        }
        let rk = Array1::from_iter(self.kept.iter().map(|&j| rhs[j]));
        let gk = self.s_inv.dot(&rk);
        let mut gz = vec![0.0; q];
        for (&j, &g) in self.kept.iter().zip(gk.iter()) {
            gz[j] = g;
        }
        // γ_u = b_u / n_u − z̄_u'γ_z.
        let gu: Vec<f64> = (0..n_units)
            .map(|u| {
                if self.count_u[u] > 0.0 {
                    let zg: f64 = (0..q).map(|j| self.zbar[u * q + j] * gz[j]).sum();
                    b_u[u] / self.count_u[u] - zg
                } else {
                    0.0
                }
            })
            .collect();
        (0..self.n)
            .map(|i| {
                let mut f = gu[self.unit[i] as usize] + gz[self.period[i] as usize];
                for j in 0..self.controls.len() {
                    f += self.z(i, self.n_periods + j) * gz[self.n_periods + j];
                }
                f
            })
            .collect()
    }
}

/// Settings of the imputation estimator.
#[derive(Debug, Clone, Default)]
pub struct ImputationSpec {
    /// Horizons (e ≥ 0) to report; None = every horizon present.
    pub horizons: Option<Vec<i64>>,
    /// Lead event times (e < 0) for the pre-trend regression; None = no test.
    pub pretrends: Option<Vec<i64>>,
    /// Periods of anticipation: rows with g − anticipation ≤ t < g leave Ω₀.
    pub anticipation: i64,
    /// Leave-out auxiliary τ̃ (own cluster excluded; see the module documentation).
    pub leave_out: bool,
    /// Multiply the variance by G/(G − 1) (G clusters).
    pub small_sample: bool,
}

/// Estimates of the imputation estimator.
#[derive(Debug, Clone)]
pub struct Imputation {
    /// Static ATT over all imputable treated rows, and its standard error.
    pub att: f64,
    pub att_se: f64,
    pub horizons: Vec<i64>,
    pub estimate: Vec<f64>,
    pub se: Vec<f64>,
    /// Covariance of the horizon estimates (same formula, cross products of cluster scores).
    pub vcov: Array2<f64>,
    pub n_obs_horizon: Vec<usize>,
    /// Pre-trend regression coefficients (event time, estimate, CR1 se) and their Wald test.
    pub pretrend_event_time: Vec<i64>,
    pub pretrend_estimate: Vec<f64>,
    pub pretrend_se: Vec<f64>,
    pub pretrend_test: Option<WaldTest>,
    /// τ̂_it per input row (NaN where not a treated, imputable row).
    pub tau: Vec<f64>,
    pub n_treated: usize,
    pub n_untreated: usize,
    pub n_missing: usize,
    /// Treated rows whose unit or period has no untreated observation.
    pub n_not_imputable: usize,
    pub n_clusters: usize,
    /// Controls dropped as collinear in the first stage.
    pub collinear: Vec<String>,
    /// (cohort, event time) cells with a single positive-weight cluster, where the leave-out
    /// τ̃ is undefined and the non-leave-out τ̄ was used (empty unless `leave_out`).
    pub leave_out_fallback: Vec<(i64, i64)>,
    /// Cluster scores, G × (1 + horizons): column 0 the static ATT, then one per horizon, each
    /// Σ_{it∈c} v_it ε̃_it (times sqrt(G/(G−1)) with `small_sample`), so that the variance is
    /// S'S. Every estimate is linear in Y: τ̂ − τ ≈ Σ_c s_c.
    pub cluster_scores: Array2<f64>,
    /// Cluster scores of the pre-trend coefficients, G × leads (CR1-scaled, so that S'S is the
    /// pre-trend regression's covariance); None without `pretrends` or if the scores could not
    /// reproduce that regression's estimates (then no joint covariance is offered).
    pub pretrend_scores: Option<Array2<f64>>,
}

/// Cluster-level multiplier bootstrap of the imputation estimates.
#[derive(Debug, Clone)]
pub struct ImputationBoot {
    /// Bootstrap standard error (IQR-based, as R did) and bootstrap-t p-value of the ATT.
    pub att_se: f64,
    pub att_p_value: f64,
    /// Per horizon.
    pub se: Vec<f64>,
    pub p_value: Vec<f64>,
    /// Uniform (sup-t) critical value over the horizons at the requested level.
    pub crit_val: f64,
    pub reps: usize,
}

impl Imputation {
    /// Degrees of freedom of the event-time and overall intervals: normal (None), as
    /// didimputation and did_imputation report, or Student t(G - 1) with `small_sample`.
    pub fn interval_df(&self, small_sample: bool) -> Option<usize> {
        small_sample.then(|| self.n_clusters.saturating_sub(1))
    }

    /// Cluster-level multiplier bootstrap: draw b gives τ*_k − τ̂_k = Σ_c ξ_bc s_ck with
    /// i.i.d. cluster multipliers ξ (Rademacher, Mammen or Webb; stream (seed, b)), s the
    /// cluster scores of the analytic variance (`cluster_scores`). Standard errors are the
    /// IQR-based scale of the draws (R did's `mboot`), the uniform band's critical value the
    /// (level) quantile of max_k |τ*_k − τ̂_k| / se_k over the horizons, and each p-value the
    /// share of draws with |τ*_k − τ̂_k| / se_k ≥ |τ̂_k| / se_k.
    pub fn multiplier_bootstrap(
        &self,
        reps: usize,
        weights: MultiplierWeights,
        seed: u64,
        level: f64,
    ) -> Result<ImputationBoot> {
        if !(level > 0.0 && level < 1.0) {
            return Err(Error::Option {
                name: "level".into(),
                reason: format!("must lie in (0, 1), got {level}"),
            });
        }
        let (g, m) = self.cluster_scores.dim();
        // multiplier_bootstrap forms sqrt(n)·mean(ξψ); ψ = G·s makes its scale Σ_c ξ_c s_c.
        let gf = g as f64;
        let cols: Vec<Vec<f64>> = (0..m)
            .map(|j| {
                self.cluster_scores
                    .column(j)
                    .iter()
                    .map(|s| s * gf)
                    .collect()
            })
            .collect();
        let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
        let spec = MultiplierSpec {
            biters: reps,
            weights,
            seed,
            alpha: 1.0 - level,
        };
        let out = multiplier_bootstrap(&refs, None, &spec)?;
        let sqrt_g = gf.sqrt();
        let sigma: Vec<f64> = out.se.iter().map(|s| s * sqrt_g).collect();
        let horizons: Vec<usize> = (1..m).collect();
        let crit_val = crit_value(&out.draws, &sigma, &horizons, 1.0 - level);
        let mut est = vec![self.att];
        est.extend_from_slice(&self.estimate);
        let p_value: Vec<f64> = (0..m)
            .map(|j| {
                if !sigma[j].is_finite() {
                    return f64::NAN;
                }
                // draws are sqrt(G)·Σξs; in se units: draw / sigma.
                let t = (est[j] / out.se[j]).abs();
                let hit = out
                    .draws
                    .column(j)
                    .iter()
                    .filter(|d| (*d / sigma[j]).abs() >= t)
                    .count();
                hit as f64 / reps as f64
            })
            .collect();
        Ok(ImputationBoot {
            att_se: out.se[0],
            att_p_value: p_value[0],
            se: out.se[1..].to_vec(),
            p_value: p_value[1..].to_vec(),
            crit_val,
            reps,
        })
    }

    /// Joint covariance of the pre-trend coefficients and the horizon estimates (leads first,
    /// then horizons), S'S of the stacked cluster scores: its diagonal blocks are the
    /// pre-trend regression's CR1 covariance and `vcov`. None without pre-trend scores.
    pub fn joint_vcov(&self) -> Option<Array2<f64>> {
        let pre = self.pretrend_scores.as_ref()?;
        let (g, l) = pre.dim();
        let k = self.estimate.len();
        let s = Array2::from_shape_fn((g, l + k), |(c, j)| {
            if j < l {
                pre[[c, j]]
            } else {
                self.cluster_scores[[c, 1 + j - l]]
            }
        });
        Some(s.t().dot(&s))
    }
}

/// Per-row role after cleaning.
pub(crate) struct Roles {
    /// Kept rows (indices into the data).
    pub rows: Vec<usize>,
    pub unit: Vec<u32>,
    pub period: Vec<u32>,
    pub untreated: Vec<bool>,
    pub treated: Vec<bool>,
    /// (cohort, event time) per kept row; None for never-treated units.
    pub ge: Vec<Option<(i64, i64)>>,
    pub n_missing: usize,
    pub n_not_imputable: usize,
    pub projector: UntreatedProjector,
}

struct Built {
    unit: Vec<u32>,
    period: Vec<u32>,
    projector: UntreatedProjector,
    untreated: Vec<bool>,
    treated: Vec<bool>,
}

/// Clean rows, classify Ω₀/Ω₁, build the projector and drop non-imputable treated rows.
pub(crate) fn roles(data: &EventStudyData, anticipation: i64) -> Result<Roles> {
    if anticipation < 0 {
        return Err(Error::Option {
            name: "anticipation".into(),
            reason: format!("must be >= 0, got {anticipation}"),
        });
    }
    let cohort = data.cohorts()?;
    let complete = data.complete_rows();
    let n_missing = complete.iter().filter(|&&c| !c).count();
    let build = |rows: &[usize]| -> Result<Built> {
        let fu = factorize(&rows.iter().map(|&i| data.unit[i]).collect::<Vec<_>>())?;
        let times: Vec<i64> = rows.iter().map(|&i| data.time[i]).collect();
        let ft = factorize(&times)?;
        let untreated: Vec<bool> = rows
            .iter()
            .map(|&i| cohort[i].map_or(true, |g| data.time[i] < g - anticipation))
            .collect();
        let treated: Vec<bool> = rows
            .iter()
            .map(|&i| cohort[i].is_some_and(|g| data.time[i] >= g))
            .collect();
        let ctrl: Vec<Vec<f64>> = data
            .controls
            .iter()
            .map(|(_, c)| rows.iter().map(|&i| c[i]).collect())
            .collect();
        let cref: Vec<&[f64]> = ctrl.iter().map(Vec::as_slice).collect();
        let nu = fu.n_levels();
        let nt = ft.n_levels();
        let p = UntreatedProjector::new(&fu.codes, nu, &ft.codes, nt, &cref, &untreated)?;
        Ok(Built {
            unit: fu.codes,
            period: ft.codes,
            projector: p,
            untreated,
            treated,
        })
    };
    let rows0: Vec<usize> = (0..data.n_rows()).filter(|&i| complete[i]).collect();
    if rows0.is_empty() {
        return Err(Error::Empty(format!(
            "no rows left: all {} rows have a missing value in a used column",
            data.n_rows()
        )));
    }
    let first = build(&rows0)?;
    let (p0, treated0) = (first.projector, first.treated);
    // Drop treated rows that cannot be imputed (Ω₀ is unchanged, so is the projection).
    let mut n_not_imputable = 0;
    let mut rows = Vec::with_capacity(rows0.len());
    for (r, &i) in rows0.iter().enumerate() {
        if treated0[r] && !p0.identified[r] {
            n_not_imputable += 1;
        } else {
            rows.push(i);
        }
    }
    let Built {
        unit,
        period,
        projector,
        untreated,
        treated,
    } = build(&rows)?;
    if !treated.iter().any(|&t| t) {
        return Err(Error::Empty(
            "no treated observation can be imputed (every treated row's unit or period lacks untreated observations)".into(),
        ));
    }
    let ge = rows
        .iter()
        .map(|&i| cohort[i].map(|g| (g, data.time[i] - g)))
        .collect();
    Ok(Roles {
        rows,
        unit,
        period,
        untreated,
        treated,
        ge,
        n_missing,
        n_not_imputable,
        projector,
    })
}

/// BJS imputation estimator (see the module documentation). `data.cluster` gives the
/// clusters of the variance (required).
pub fn imputation(data: &EventStudyData, spec: &ImputationSpec) -> Result<Imputation> {
    let (cl_name, cl_ids) = data.cluster.as_ref().ok_or_else(|| Error::Option {
        name: "cluster".into(),
        reason: "the imputation variance needs a cluster variable (usually the unit)".into(),
    })?;
    let ro = roles(data, spec.anticipation)?;
    let m = ro.rows.len();
    let y: Vec<f64> = ro.rows.iter().map(|&i| data.y.1[i]).collect();
    let y0: Vec<f64> = (0..m)
        .map(|r| if ro.untreated[r] { y[r] } else { 0.0 })
        .collect();
    let fitted = ro.projector.apply(&y0);
    // ε̃ on Ω₀; τ̂ on Ω₁.
    let resid: Vec<f64> = (0..m).map(|r| y[r] - fitted[r]).collect();
    let clusters = factorize(&ro.rows.iter().map(|&i| cl_ids[i]).collect::<Vec<_>>())?;
    let n_clusters = clusters.n_levels();
    if n_clusters < 2 {
        return Err(Error::Option {
            name: "cluster".into(),
            reason: format!("column '{cl_name}' has a single cluster"),
        });
    }

    // Estimand weights: static, then horizons.
    let present: Vec<i64> = {
        let mut h: Vec<i64> = (0..m)
            .filter(|&r| ro.treated[r])
            .filter_map(|r| ro.ge[r].map(|(_, e)| e))
            .collect();
        h.sort_unstable();
        h.dedup();
        h
    };
    let horizons: Vec<i64> = match &spec.horizons {
        None => present.clone(),
        Some(hs) => {
            for h in hs {
                if !present.contains(h) {
                    return Err(Error::Option {
                        name: "horizons".into(),
                        reason: format!(
                            "no imputable treated observation at horizon {h} (horizons present: {present:?})"
                        ),
                    });
                }
            }
            hs.clone()
        }
    };
    let mut targets: Vec<Vec<f64>> = Vec::with_capacity(1 + horizons.len());
    let n1 = ro.treated.iter().filter(|&&t| t).count();
    targets.push(
        (0..m)
            .map(|r| if ro.treated[r] { 1.0 / n1 as f64 } else { 0.0 })
            .collect(),
    );
    let mut n_obs_horizon = Vec::with_capacity(horizons.len());
    for &h in &horizons {
        let sel: Vec<bool> = (0..m)
            .map(|r| ro.treated[r] && ro.ge[r].is_some_and(|(_, e)| e == h))
            .collect();
        let nh = sel.iter().filter(|&&s| s).count();
        n_obs_horizon.push(nh);
        targets.push(
            sel.iter()
                .map(|&s| if s { 1.0 / nh as f64 } else { 0.0 })
                .collect(),
        );
    }

    // Cohort × event-time cells of treated rows, for the auxiliary τ̄.
    let cell_keys: Vec<(i64, i64)> = {
        let mut keys: Vec<(i64, i64)> = (0..m)
            .filter(|&r| ro.treated[r])
            .filter_map(|r| ro.ge[r])
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    };
    let cell_ids: Vec<i64> = {
        let keys = &cell_keys;
        (0..m)
            .map(|r| match (ro.treated[r], ro.ge[r]) {
                (true, Some(k)) => keys.binary_search(&k).map_or(-1, |p| p as i64),
                _ => -1,
            })
            .collect()
    };
    let n_cells = cell_ids.iter().copied().max().unwrap_or(-1) + 1;

    let mut fallback_cells = vec![false; n_cells as usize];
    let mut estimates = Vec::with_capacity(targets.len());
    let mut scores = Array2::<f64>::zeros((n_clusters, targets.len()));
    for (k, w) in targets.iter().enumerate() {
        let est: f64 = (0..m)
            .filter(|&r| ro.treated[r])
            .map(|r| w[r] * resid[r])
            .sum();
        estimates.push(est);
        // v: w on Ω₁, −Z(Z₀'Z₀)⁻Z₁'w₁ on Ω₀.
        let proj = ro.projector.apply(w);
        let v: Vec<f64> = (0..m)
            .map(|r| {
                if ro.treated[r] {
                    w[r]
                } else if ro.untreated[r] {
                    -proj[r]
                } else {
                    0.0
                }
            })
            .collect();
        let tilde: Vec<f64> = if spec.leave_out {
            leave_out_tau(
                &cell_ids,
                n_cells as usize,
                &clusters.codes,
                &v,
                &resid,
                &mut fallback_cells,
            )
        } else {
            let mut num = vec![0.0; n_cells as usize];
            let mut den = vec![0.0; n_cells as usize];
            for r in 0..m {
                if cell_ids[r] >= 0 {
                    let c = cell_ids[r] as usize;
                    num[c] += v[r] * v[r] * resid[r];
                    den[c] += v[r] * v[r];
                }
            }
            (0..m)
                .map(|r| {
                    if cell_ids[r] >= 0 {
                        let c = cell_ids[r] as usize;
                        if den[c] > 0.0 {
                            num[c] / den[c]
                        } else {
                            0.0
                        }
                    } else {
                        0.0
                    }
                })
                .collect()
        };
        for r in 0..m {
            let eps = if cell_ids[r] >= 0 {
                resid[r] - tilde[r]
            } else if ro.untreated[r] {
                resid[r]
            } else {
                0.0
            };
            scores[[clusters.codes[r] as usize, k]] += v[r] * eps;
        }
    }
    let mut vfull = scores.t().dot(&scores);
    if spec.small_sample {
        let g = n_clusters as f64;
        vfull.mapv_inplace(|x| x * g / (g - 1.0));
        // (the scores' own scaling, kept apart so that vfull is computed as before)
        let f = (g / (g - 1.0)).sqrt();
        scores.mapv_inplace(|x| x * f);
    }
    let leave_out_fallback: Vec<(i64, i64)> = cell_keys
        .iter()
        .zip(&fallback_cells)
        .filter(|(_, &f)| f)
        .map(|(k, _)| *k)
        .collect();
    let kh = horizons.len();
    let vcov = Array2::from_shape_fn((kh, kh), |(a, b)| vfull[[1 + a, 1 + b]]);

    let mut tau = vec![f64::NAN; data.n_rows()];
    for (r, &i) in ro.rows.iter().enumerate() {
        if ro.treated[r] {
            tau[i] = resid[r];
        }
    }
    let collinear = ro
        .projector
        .collinear_controls
        .iter()
        .map(|&j| data.controls[j].0.clone())
        .collect();

    let mut out = Imputation {
        att: estimates[0],
        att_se: vfull[[0, 0]].sqrt(),
        horizons,
        estimate: estimates[1..].to_vec(),
        se: (0..kh).map(|a| vcov[[a, a]].sqrt()).collect(),
        vcov,
        n_obs_horizon,
        pretrend_event_time: Vec::new(),
        pretrend_estimate: Vec::new(),
        pretrend_se: Vec::new(),
        pretrend_test: None,
        tau,
        n_treated: n1,
        n_untreated: ro.untreated.iter().filter(|&&u| u).count(),
        n_missing: ro.n_missing,
        n_not_imputable: ro.n_not_imputable,
        n_clusters,
        collinear,
        leave_out_fallback,
        cluster_scores: scores,
        pretrend_scores: None,
    };
    if let Some(leads) = &spec.pretrends {
        pretrend_regression(data, &ro, &y, leads, &mut out)?;
        if !out.pretrend_event_time.is_empty() {
            out.pretrend_scores = pretrend_scores(&ro, &resid, &clusters.codes, n_clusters, &out)?;
        }
    }
    Ok(out)
}

/// Leave-out auxiliary τ̃ per row (0 on rows outside the treated cells): for the row's cluster
/// c and cell G, (S_G − W_{c,G} P_{c,G}) / Σ_{c'≠c} W_{c',G}² (module documentation). Cells
/// with fewer than two positive-weight clusters use S_G / D_G and are flagged in `fallback`.
fn leave_out_tau(
    cell_ids: &[i64],
    n_cells: usize,
    cluster: &[u32],
    v: &[f64],
    resid: &[f64],
    fallback: &mut [bool],
) -> Vec<f64> {
    use std::collections::{BTreeMap, HashMap};
    // (cell, cluster) -> (W, P); ordered, so that the sums below are deterministic.
    let mut wp: BTreeMap<(usize, u32), (f64, f64)> = BTreeMap::new();
    for r in 0..cell_ids.len() {
        if cell_ids[r] >= 0 && v[r] != 0.0 {
            let e = wp
                .entry((cell_ids[r] as usize, cluster[r]))
                .or_insert((0.0, 0.0));
            e.0 += v[r];
            e.1 += v[r] * resid[r];
        }
    }
    let mut d = vec![0.0; n_cells];
    let mut s = vec![0.0; n_cells];
    let mut n_pos = vec![0usize; n_cells];
    let mut members: Vec<Vec<f64>> = vec![Vec::new(); n_cells];
    for (&(c, _), &(w, p)) in &wp {
        d[c] += w * w;
        s[c] += w * p;
        if w != 0.0 {
            n_pos[c] += 1;
        }
        members[c].push(w * w);
    }
    let mut cache: HashMap<(usize, u32), f64> = HashMap::new();
    (0..cell_ids.len())
        .map(|r| {
            if cell_ids[r] < 0 {
                return 0.0;
            }
            let c = cell_ids[r] as usize;
            if d[c] <= 0.0 {
                return 0.0;
            }
            if n_pos[c] < 2 {
                if v[r] != 0.0 {
                    fallback[c] = true;
                }
                return s[c] / d[c];
            }
            let key = (c, cluster[r]);
            if let Some(&t) = cache.get(&key) {
                return t;
            }
            let (w, p) = wp.get(&key).copied().unwrap_or((0.0, 0.0));
            let w2 = w * w;
            let mut other = d[c] - w2;
            if other <= 1e-6 * d[c] {
                // Recompute the other clusters' mass without cancellation.
                let mut skipped = false;
                other = members[c]
                    .iter()
                    .filter(|&&x| {
                        if !skipped && x == w2 {
                            skipped = true;
                            false
                        } else {
                            true
                        }
                    })
                    .sum();
            }
            let t = (s[c] - w * p) / other;
            cache.insert(key, t);
            t
        })
        .collect()
}

/// Cluster scores of the pre-trend coefficients, G × leads. By Frisch–Waugh–Lovell the lead
/// coefficients of the pre-trend regression are β = (X̃'X̃)⁻¹X̃'ỹ on the untreated rows, X̃ the
/// lead dummies and ỹ the outcome net of the untreated-row projection (unit and period
/// effects, controls: `resid`), so β − E β = Σ_c (X̃'X̃)⁻¹X̃_c'û_c. The scores are scaled by the
/// regression's CR1 factor (read off its standard errors) so that S'S is its covariance. None
/// when they do not reproduce the regression's estimates and standard errors (e.g. a lead
/// dropped as collinear), in which case no joint covariance is offered.
fn pretrend_scores(
    ro: &Roles,
    resid: &[f64],
    codes: &[u32],
    g: usize,
    out: &Imputation,
) -> Result<Option<Array2<f64>>> {
    let m = ro.rows.len();
    let leads = &out.pretrend_event_time;
    let l = leads.len();
    let xt: Vec<Vec<f64>> = leads
        .iter()
        .map(|&h| {
            let x: Vec<f64> = (0..m)
                .map(|r| {
                    let on = ro.untreated[r] && ro.ge[r].is_some_and(|(_, e)| e == h);
                    f64::from(u8::from(on))
                })
                .collect();
            let p = ro.projector.apply(&x);
            (0..m)
                .map(|r| if ro.untreated[r] { x[r] - p[r] } else { 0.0 })
                .collect()
        })
        .collect();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
    let xtx = Array2::from_shape_fn((l, l), |(a, b)| dot(&xt[a], &xt[b]));
    let Ok(inv) = spd_inverse(xtx.view()) else {
        return Ok(None);
    };
    let xty = Array1::from_iter(xt.iter().map(|x| dot(x, resid)));
    let beta = inv.dot(&xty);
    // The regression demeans iteratively (tolerance 1e-8): agreement to 1e-6 identifies it.
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * (1.0 + a.abs().max(b.abs()));
    if !beta
        .iter()
        .zip(&out.pretrend_estimate)
        .all(|(&a, &b)| close(a, b))
    {
        return Ok(None);
    }
    let mut raw = Array2::<f64>::zeros((g, l));
    for r in (0..m).filter(|&r| ro.untreated[r]) {
        let fit: f64 = (0..l).map(|a| xt[a][r] * beta[a]).sum();
        let u = resid[r] - fit;
        for a in 0..l {
            raw[[codes[r] as usize, a]] += xt[a][r] * u;
        }
    }
    let mut scores = raw.dot(&inv);
    let ss = scores.t().dot(&scores);
    let ratios: Vec<f64> = (0..l)
        .map(|a| out.pretrend_se[a] * out.pretrend_se[a] / ss[[a, a]])
        .collect();
    // One CR1 factor up to the regression's demeaning tolerance; each column takes its own,
    // so that the diagonal is the regression's variance to rounding.
    if !ratios.iter().all(|&x| x.is_finite() && close(x, ratios[0])) {
        return Ok(None);
    }
    for (a, ratio) in ratios.iter().enumerate() {
        let f = ratio.sqrt();
        scores.column_mut(a).mapv_inplace(|x| x * f);
    }
    Ok(Some(scores))
}

/// BJS Test 1: OLS on Ω₀ of y on lead dummies + controls | unit + period, CR1 by the cluster.
fn pretrend_regression(
    data: &EventStudyData,
    ro: &Roles,
    y: &[f64],
    leads: &[i64],
    out: &mut Imputation,
) -> Result<()> {
    if leads.is_empty() {
        return Ok(());
    }
    if let Some(&bad) = leads.iter().find(|&&e| e >= 0) {
        return Err(Error::Option {
            name: "pretrends".into(),
            reason: format!("lead event times must be negative, got {bad}"),
        });
    }
    let sel: Vec<usize> = (0..ro.rows.len()).filter(|&r| ro.untreated[r]).collect();
    let mut leads = leads.to_vec();
    leads.sort_unstable();
    leads.dedup();
    let cols: Vec<Vec<f64>> = leads
        .iter()
        .map(|&h| {
            sel.iter()
                .map(|&r| f64::from(u8::from(ro.ge[r].is_some_and(|(_, e)| e == h))))
                .collect()
        })
        .collect();
    for (h, c) in leads.iter().zip(&cols) {
        if c.iter().all(|&v| v == 0.0) {
            return Err(Error::Option {
                name: "pretrends".into(),
                reason: format!("no untreated observation at event time {h}"),
            });
        }
    }
    let names: Vec<String> = leads.iter().map(|e| format!("pre::{e}")).collect();
    let ctrl: Vec<Vec<f64>> = data
        .controls
        .iter()
        .map(|(_, c)| sel.iter().map(|&r| c[ro.rows[r]]).collect())
        .collect();
    let ysel: Vec<f64> = sel.iter().map(|&r| y[r]).collect();
    let unit: Vec<i64> = sel.iter().map(|&r| i64::from(ro.unit[r])).collect();
    let period: Vec<i64> = sel.iter().map(|&r| i64::from(ro.period[r])).collect();
    let cl: Vec<i64> = match &data.cluster {
        Some((_, c)) => sel.iter().map(|&r| c[ro.rows[r]]).collect(),
        None => unit.clone(),
    };
    let mut x: Vec<(String, &[f64])> = names
        .iter()
        .cloned()
        .zip(cols.iter().map(Vec::as_slice))
        .collect();
    for ((n, _), c) in data.controls.iter().zip(&ctrl) {
        x.push((n.clone(), c));
    }
    let input = FeolsInput {
        y: (data.y.0.clone(), &ysel),
        x,
        fe: vec![("unit".into(), &unit), ("time".into(), &period)],
        clusters: vec![("cluster".into(), &cl)],
        weights: None,
        valid: None,
    };
    let fit = feols(
        &input,
        &FeolsSpec {
            drop_singletons: false,
            vcov: VcovRequest::Cluster(vec![0]),
            demean: DemeanSpec::default(),
            ..FeolsSpec::default()
        },
    )?;
    let mut pos = Vec::new();
    for (h, nm) in leads.iter().zip(&names) {
        if let Some(p) = fit.coefnames.iter().position(|c| c == nm) {
            pos.push(p);
            out.pretrend_event_time.push(*h);
            out.pretrend_estimate.push(fit.beta[p]);
            out.pretrend_se.push(fit.se[p]);
        }
    }
    if !pos.is_empty() {
        let b = Array1::from_iter(pos.iter().map(|&p| fit.beta[p]));
        let v = Array2::from_shape_fn((pos.len(), pos.len()), |(a, c)| fit.vcov[[pos[a], pos[c]]]);
        out.pretrend_test = Some(wald_test(
            out.pretrend_event_time.clone(),
            b.view(),
            &v,
            fit.df_t,
        )?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leave_out_equals_stata_rescale_and_falls_back() {
        // Cell 0: three unit-clusters with one row each; Stata's row formula
        // (τ − S/D)·D/(D − W²) equals τ − τ̃ exactly. Cell 1: one cluster → fallback to S/D.
        let cell = [0, 0, 0, 1, 1, -1];
        let cl = [0u32, 1, 2, 3, 3, 4];
        let v = [0.2, 0.3, 0.5, 0.4, 0.6, -0.7];
        let tau = [1.0, -0.5, 2.0, 0.3, 0.9, 0.1];
        let mut fb = vec![false; 2];
        let t = leave_out_tau(&cell, 2, &cl, &v, &tau, &mut fb);
        let d: f64 = v[..3].iter().map(|x| x * x).sum();
        let s: f64 = (0..3).map(|i| v[i] * v[i] * tau[i]).sum();
        for i in 0..3 {
            let stata = (tau[i] - s / d) * d / (d - v[i] * v[i]);
            assert!((tau[i] - t[i] - stata).abs() < 1e-14);
        }
        assert_eq!(fb, vec![false, true]);
        let own = (0.4 * 0.3 + 0.6 * 0.9) / (0.4 + 0.6);
        assert!((t[3] - own).abs() < 1e-14 && (t[4] - own).abs() < 1e-14);
        assert_eq!(t[5], 0.0);
    }

    #[test]
    fn projector_reproduces_two_way_fit() {
        // y = a_u + b_t exactly on untreated rows: fitted values on treated rows equal the
        // additive truth.
        let (mut unit, mut period, mut y, mut untreated) = (vec![], vec![], vec![], vec![]);
        for u in 0..6u32 {
            for t in 0..5u32 {
                unit.push(u);
                period.push(t);
                y.push(f64::from(u) * 1.3 + f64::from(t * t) * 0.7);
                untreated.push(!(u >= 4 && t >= 3));
            }
        }
        let p = UntreatedProjector::new(&unit, 6, &period, 5, &[], &untreated).unwrap();
        let a: Vec<f64> = y
            .iter()
            .zip(&untreated)
            .map(|(v, &u)| if u { *v } else { 0.0 })
            .collect();
        let f = p.apply(&a);
        for i in 0..y.len() {
            assert!((f[i] - y[i]).abs() < 1e-10, "row {i}: {} vs {}", f[i], y[i]);
        }
    }
}

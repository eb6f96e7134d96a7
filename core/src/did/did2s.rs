//! Two-stage difference-in-differences of Gardner (2022, "Two-stage differences in
//! differences", arXiv:2207.05943), with the GMM standard errors of Butts & Gardner (2022,
//! R Journal 14(3), the `did2s` package).
//!
//! Stage 1: Y_it = α_i + λ_t + X_it'δ + ε on the untreated rows Ω₀ (never-treated units and
//! t < g − anticipation), the same fit as the imputation estimator. Residualise every row:
//! Ỹ_it = Y_it − α̂_i − λ̂_t − X_it'δ̂. Stage 2: OLS without intercept of Ỹ on the treatment
//! indicator 1[t ≥ g] (static) or on event-time dummies of eventually-treated units
//! (leads and lags, reference event times excluded, optional binned endpoints); never-treated
//! rows have every dummy zero.
//!
//! Variance (GMM, as `did2s` and `pyfixest.did2s`, no small-sample factor):
//! V = (X₂'X₂)⁻¹ [Σ_g W_g W_g'] (X₂'X₂)⁻¹ with
//! W_g = X₂g'ε₂g − X₂'X₁ (X₁₀'X₁₀)⁻¹ X₁₀g'ε₁g, where X₁ is the first-stage design (unit and
//! period dummies, controls), X₁₀ its untreated rows (zero elsewhere), ε₁ the first-stage
//! residual on Ω₀ and ε₂ the second-stage residual. Treated rows whose unit or period has no
//! untreated observation cannot be residualised and are dropped (counted).
//!
//! Conley variance (`Did2sSpec::conley`): the same bread with the spatial-HAC meat of the row
//! scores ψ_r = x₂_r ε₂_r − (X₂'X₁ (X₁₀'X₁₀)⁻¹ x₁₀_r) ε₁_r (`crate::inference::conley_meat`:
//! pairs within `cutoff_km` in the same period, and a unit's own periods within `lag`), no
//! small-sample factor, as the clustered GMM variance (whose meat it is when the kernel is
//! uniform, the cutoff below every inter-unit distance and the lag at least the panel's span).

use std::sync::Arc;

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use statrs::distribution::{ContinuousCDF, StudentsT};

use super::event_study::{EventStudyData, EventTimeSpec};
use super::imputation::{roles, UntreatedProjector};
use crate::alloc::try_vec;
use crate::error::{Error, Result};
use crate::fe::factorize;
use crate::inference::conley::{conley_meat, ConleyData};
use crate::inference::wild_bootstrap::{ci_end, draw_weights, WildBootResult, WildBootSpec};
use crate::interrupt::Cancel;
use crate::linear::ConleyRequest;
use crate::rng;

/// Settings of the two-stage DID.
#[derive(Debug, Clone)]
pub struct Did2sSpec {
    /// None: static ATT (one treatment indicator). Some: event-time dummies.
    pub event: Option<EventTimeSpec>,
    /// Periods of anticipation: rows with g − anticipation ≤ t < g leave the first stage.
    pub anticipation: i64,
    /// Conley spatial-HAC variance instead of the clustered one (columns over the data's
    /// rows; unit and time default to the data's). The cluster is then not needed.
    pub conley: Option<ConleyRequest>,
}

#[derive(Debug, Clone)]
pub struct Did2s {
    /// "treat" (static) or "rel_time::e".
    pub terms: Vec<String>,
    /// Event time per term (empty for the static model).
    pub event_time: Vec<i64>,
    pub estimate: Vec<f64>,
    pub se: Vec<f64>,
    pub vcov: Array2<f64>,
    /// Rows with a one in each term's column.
    pub n_obs_term: Vec<usize>,
    pub nobs: usize,
    pub n_untreated: usize,
    pub n_missing: usize,
    pub n_not_imputable: usize,
    pub n_outside_window: usize,
    /// Clusters of the variance (0 with the Conley variance).
    pub n_clusters: usize,
    /// The variance is Conley's (no wild cluster bootstrap on such a fit).
    pub conley: bool,
    pub collinear: Vec<String>,
    pub ref_periods: Vec<i64>,
    /// What the wild bootstrap re-runs both stages on (shared, not copied, by clones).
    boot: Arc<BootData>,
}

/// The fitted rows as the wild bootstrap needs them: the first-stage projector, each row's
/// role, second-stage column and cluster, and the first-stage residual Ỹ.
#[derive(Debug)]
struct BootData {
    projector: UntreatedProjector,
    untreated: Vec<bool>,
    col_of: Vec<Option<usize>>,
    cluster: Vec<u32>,
    cluster_ids: Vec<i64>,
    ytil: Vec<f64>,
}

impl Did2s {
    /// Degrees of freedom of the intervals: Student t(G - 1), as pyfixest.did2s reports;
    /// normal (None) with the Conley variance, which has no cluster count.
    pub fn interval_df(&self) -> Option<usize> {
        (!self.conley).then(|| self.n_clusters.saturating_sub(1))
    }
}

/// Gardner's two-stage DID (see the module documentation). `data.cluster` is required.
pub fn did2s(data: &EventStudyData, spec: &Did2sSpec) -> Result<Did2s> {
    // With the Conley variance the unit stands in for the cluster of the bootstrap data.
    let (cl_name, cl_ids) = match (&data.cluster, &spec.conley) {
        (Some((n, c)), _) => (n.clone(), *c),
        (None, Some(_)) => ("unit".to_string(), data.unit),
        (None, None) => {
            return Err(Error::Option {
                name: "cluster".into(),
                reason: "the did2s variance needs a cluster variable (usually the unit)".into(),
            })
        }
    };
    if let Some(c) = &spec.conley {
        for (name, len) in [("lat", c.lat.len()), ("lon", c.lon.len())] {
            if len != data.n_rows() {
                return Err(Error::Shape(format!(
                    "Conley {name} has {len} rows for {} data rows",
                    data.n_rows()
                )));
            }
        }
    }
    // The window drops treated rows outside it before anything is fitted.
    let cohort = data.cohorts()?;
    let mut valid: Vec<bool> = data
        .valid
        .map_or_else(|| vec![true; data.n_rows()], <[bool]>::to_vec);
    let mut n_outside_window = 0;
    if let Some(ev) = &spec.event {
        for i in 0..data.n_rows() {
            if let Some(g) = cohort[i] {
                if valid[i] && ev.label(data.time[i] - g).is_none() {
                    valid[i] = false;
                    n_outside_window += 1;
                }
            }
        }
    }
    let windowed = EventStudyData {
        valid: Some(&valid),
        ..data.clone()
    };
    let ro = roles(&windowed, spec.anticipation)?;
    let n_missing = ro.n_missing - n_outside_window;
    let m = ro.rows.len();
    let y: Vec<f64> = ro.rows.iter().map(|&i| data.y.1[i]).collect();
    let y0: Vec<f64> = (0..m)
        .map(|r| if ro.untreated[r] { y[r] } else { 0.0 })
        .collect();
    let fitted = ro.projector.apply(&y0);
    let ytil: Vec<f64> = (0..m).map(|r| y[r] - fitted[r]).collect();

    // Second-stage design: disjoint 0/1 columns, so X₂'X₂ is diagonal.
    let (terms, event_time, col_of): (Vec<String>, Vec<i64>, Vec<Option<usize>>) = match &spec.event
    {
        None => (
            vec!["treat".into()],
            Vec::new(),
            (0..m).map(|r| ro.treated[r].then_some(0)).collect(),
        ),
        Some(ev) => {
            let labels: Vec<Option<i64>> = ro
                .ge
                .iter()
                .map(|ge| ge.and_then(|(_, e)| ev.label(e)))
                .collect();
            let mut et: Vec<i64> = labels
                .iter()
                .flatten()
                .copied()
                .filter(|e| !ev.ref_periods.contains(e))
                .collect();
            et.sort_unstable();
            et.dedup();
            let cols = labels
                .iter()
                .map(|l| l.and_then(|e| et.binary_search(&e).ok()))
                .collect();
            (
                et.iter().map(|e| format!("rel_time::{e}")).collect(),
                et,
                cols,
            )
        }
    };
    let k = terms.len();
    if k == 0 {
        return Err(Error::Empty(
            "no second-stage regressor left after removing the reference period(s)".into(),
        ));
    }
    let mut n_obs_term = vec![0usize; k];
    let mut sums = vec![0.0; k];
    for r in 0..m {
        if let Some(j) = col_of[r] {
            n_obs_term[j] += 1;
            sums[j] += ytil[r];
        }
    }
    let estimate: Vec<f64> = sums
        .iter()
        .zip(&n_obs_term)
        .map(|(s, &c)| s / c as f64)
        .collect();
    let eps2: Vec<f64> = (0..m)
        .map(|r| ytil[r] - col_of[r].map_or(0.0, |j| estimate[j]))
        .collect();

    let clusters = factorize(&ro.rows.iter().map(|&i| cl_ids[i]).collect::<Vec<_>>())?;
    let g = clusters.n_levels();
    if g < 2 && spec.conley.is_none() {
        return Err(Error::Option {
            name: "cluster".into(),
            reason: format!("column '{cl_name}' has a single cluster"),
        });
    }
    // Row scores ψ (m × k): the second-stage score minus the first-stage correction.
    let mut psi = Array2::<f64>::zeros((m, k));
    for r in 0..m {
        if let Some(j) = col_of[r] {
            psi[[r, j]] += eps2[r];
        }
    }
    for j in 0..k {
        let xj: Vec<f64> = (0..m)
            .map(|r| f64::from(u8::from(col_of[r] == Some(j))))
            .collect();
        let h = ro.projector.apply(&xj);
        for r in (0..m).filter(|&r| ro.untreated[r]) {
            // ε₁ = Ỹ on untreated rows.
            psi[[r, j]] -= h[r] * ytil[r];
        }
    }
    let meat = match &spec.conley {
        None => {
            let mut w = Array2::<f64>::zeros((g, k));
            for r in 0..m {
                let c = clusters.codes[r] as usize;
                for j in 0..k {
                    w[[c, j]] += psi[[r, j]];
                }
            }
            w.t().dot(&w)
        }
        Some(c) => {
            let take_i = |v: &[i64]| -> Vec<i64> { ro.rows.iter().map(|&i| v[i]).collect() };
            let unit = take_i(c.unit.as_deref().unwrap_or(data.unit));
            let cd = ConleyData {
                lat: ro.rows.iter().map(|&i| c.lat[i]).collect(),
                lon: ro.rows.iter().map(|&i| c.lon[i]).collect(),
                unit: Some(factorize(&unit)?.codes),
                time: Some(take_i(c.time.as_deref().unwrap_or(data.time))),
                cutoff_km: c.cutoff_km,
                lag: c.lag,
                kernel: c.kernel,
            };
            conley_meat(psi.view(), ndarray::Array1::ones(m).view(), &cd)?
        }
    };
    let vcov = Array2::from_shape_fn((k, k), |(a, b)| {
        meat[[a, b]] / (n_obs_term[a] as f64 * n_obs_term[b] as f64)
    });
    let se = (0..k).map(|a| vcov[[a, a]].sqrt()).collect();
    let collinear = ro
        .projector
        .collinear_controls
        .iter()
        .map(|&j| data.controls[j].0.clone())
        .collect();
    Ok(Did2s {
        terms,
        event_time,
        estimate,
        se,
        vcov,
        n_obs_term,
        nobs: m,
        n_untreated: ro.untreated.iter().filter(|&&u| u).count(),
        n_missing,
        n_not_imputable: ro.n_not_imputable,
        n_outside_window,
        n_clusters: if spec.conley.is_some() { 0 } else { g },
        conley: spec.conley.is_some(),
        collinear,
        ref_periods: spec
            .event
            .as_ref()
            .map_or_else(Vec::new, |e| e.ref_periods.clone()),
        boot: Arc::new(BootData {
            projector: ro.projector,
            untreated: ro.untreated,
            col_of,
            cluster: clusters.codes,
            cluster_ids: clusters.levels,
            ytil,
        }),
    })
}

// ---------------------------------------------------------------------------------------------
// Restricted wild cluster bootstrap of the two-stage estimator.
//
// Scheme (for H0: a'β = r, β the second-stage coefficients, clustered as the fit):
// 1. Ỹ = (I − P₁)Y is the first-stage residual on every row (P₁z: fitted values of the
//    first stage run on z's untreated rows). The estimator is linear in Y:
//    β̂ = L Y, L = D⁻¹X₂'(I − P₁), D = X₂'X₂ = diag(n_j).
// 2. Null imposed on the second stage: β̃ minimises ‖Ỹ − X₂β‖² subject to b'β = r with
//    b = M'a, M = L X₂ (M = I unless the second stage has leads on untreated rows, whose
//    dummies the first stage partly absorbs), so that the bootstrap world's estimand
//    a'L(Y − ũ) equals r exactly. Restricted residuals ũ = Ỹ − X₂β̃.
// 3. Draw b: Y*ᵦ = Y − ũ + v_c ũ (one weight v_c per cluster, Rademacher or Webb), then
//    BOTH stages are re-run on Y* (first stage on its untreated rows, second stage, and the
//    GMM variance from Y*'s own first- and second-stage residuals), t*ᵦ = (a'β̂* − r)/se*.
// 4. p = #{|t*ᵦ| ≥ |t|}/B with t = (a'β̂ − r)/se, se the analytic GMM standard error; the
//    interval inverts the test over r with the same draws.
// Every number in step 3 is linear in Y*, hence affine in (v, r): Ỹ* = F(r) + Σ_c v_c Z_c(r)
// with F = (I − P₁)X₂β̃ and Z_c = (I − P₁)(ũ 1_c). Precomputing F and the G vectors Z_c (2G + 3
// first-stage fits) leaves O(G²) per replicate, and five numbers per replicate give t*ᵦ(r)
// for every r. The result equals re-running both stages on each Y* (tests/test_few_clusters.py
// checks it against a direct implementation to 1e-10).

/// Per replicate: t*ᵦ(r) = (n0 + r n1) / sqrt(q00 + 2 r q01 + r² q11); `tie` when every
/// weight is +1 (Y* = Y, so t*ᵦ = t exactly).
#[derive(Debug, Clone, Copy, Default)]
struct Replicate {
    n0: f64,
    n1: f64,
    q00: f64,
    q01: f64,
    q11: f64,
    tie: bool,
}

impl Replicate {
    fn t(&self, r: f64) -> f64 {
        let q = (self.q00 + r * (2.0 * self.q01 + r * self.q11)).max(0.0);
        (self.n0 + r * self.n1) / q.sqrt()
    }
}

/// Linear functionals of a bootstrap first-stage residual vector, each split into its part
/// at r = 0 (suffix 0) and its slope in r (suffix 1).
struct BootLinear {
    g: usize,
    /// a'β̂(F) − r split: n_f0 and n_f1 (the −r is in n_f1).
    n_f0: f64,
    n_f1: f64,
    n_z0: Vec<f64>,
    n_z1: Vec<f64>,
    /// Cluster scores q_g(F), G each; q_g(Z_c) row-major [g * G + c].
    q_f0: Vec<f64>,
    q_f1: Vec<f64>,
    q_z0: Vec<f64>,
    q_z1: Vec<f64>,
}

impl BootLinear {
    fn replicate(&self, v: &[f64], q0: &mut [f64], q1: &mut [f64]) -> Replicate {
        let g = self.g;
        let mut n0 = self.n_f0;
        let mut n1 = self.n_f1;
        for ((&vc, z0), z1) in v.iter().zip(&self.n_z0).zip(&self.n_z1) {
            n0 += vc * z0;
            n1 += vc * z1;
        }
        let (mut q00, mut q01, mut q11) = (0.0, 0.0, 0.0);
        for h in 0..g {
            let row0 = &self.q_z0[h * g..(h + 1) * g];
            let row1 = &self.q_z1[h * g..(h + 1) * g];
            let (mut a, mut b) = (self.q_f0[h], self.q_f1[h]);
            for ((&vc, r0), r1) in v.iter().zip(row0).zip(row1) {
                a += r0 * vc;
                b += r1 * vc;
            }
            q0[h] = a;
            q1[h] = b;
            q00 += a * a;
            q01 += a * b;
            q11 += b * b;
        }
        Replicate {
            n0,
            n1,
            q00,
            q01,
            q11,
            tie: v.iter().all(|&x| x == 1.0),
        }
    }
}

/// Draws of the did2s wild bootstrap: a'β̂* and t* per replicate at the tested r.
#[derive(Debug, Clone)]
pub struct Did2sWildDraws {
    pub coef_boot: Vec<f64>,
    pub t_boot: Vec<f64>,
}

impl Did2s {
    /// Cluster ids in the order of the bootstrap weights' columns (first appearance).
    pub fn cluster_ids(&self) -> &[i64] {
        &self.boot.cluster_ids
    }

    /// Restricted wild cluster bootstrap of Σ_j a_j β_j = r (`event_weights` = a, one per
    /// term), re-running both stages on every draw at the level of the fit's clusters; see the
    /// scheme above. t statistics are on the scale of the analytic GMM standard error.
    pub fn wild_bootstrap(
        &self,
        event_weights: &[f64],
        r: f64,
        spec: &WildBootSpec,
    ) -> Result<WildBootResult> {
        if self.conley {
            return Err(Error::Option {
                name: "vcov".into(),
                reason: "the wild cluster bootstrap needs a clustered did2s fit, not a Conley \
                         one"
                .into(),
            });
        }
        if spec.reps == 0 {
            return Err(Error::Option {
                name: "reps".into(),
                reason: "the number of bootstrap replicates must be at least 1".into(),
            });
        }
        if spec.compute_ci && !(spec.level > 0.0 && spec.level < 1.0) {
            return Err(Error::Option {
                name: "level".into(),
                reason: format!("confidence level must lie in (0, 1), got {}", spec.level),
            });
        }
        let (lin, estimate, se) = self.boot_linear(event_weights)?;
        let g = lin.g;
        let cancel = Cancel::current();
        let streams = rng::Streams::new(spec.seed);
        let mut reps = try_vec(spec.reps, Replicate::default(), "wild bootstrap replicates")?;
        reps.par_iter_mut().enumerate().try_for_each_init(
            || (vec![0.0; g], vec![0.0; g], vec![0.0; g]),
            |(v, q0, q1), (b, out)| {
                cancel.check()?;
                let mut stream = streams.stream(b as u64);
                draw_weights(spec.weights, &mut stream, v);
                *out = lin.replicate(v, q0, q1);
                Ok::<(), Error>(())
            },
        )?;
        let t_at = |rep: &Replicate, r0: f64| {
            if rep.tie {
                (estimate - r0) / se
            } else {
                rep.t(r0)
            }
        };
        let t_stat = (estimate - r) / se;
        let t_boot: Vec<f64> = reps.iter().map(|rep| t_at(rep, r)).collect();
        let exceed = t_boot.iter().filter(|t| t.abs() >= t_stat.abs()).count();
        let p_value = exceed as f64 / spec.reps as f64;
        let conf_int = if spec.compute_ci {
            let alpha = 1.0 - spec.level;
            // δ0 = estimate − r0; accepted when p(r0) ≥ 1 − level.
            let accept = |delta0: f64| {
                let r0 = estimate - delta0;
                let t0 = delta0 / se;
                let count = reps
                    .iter()
                    .filter(|rep| rep.tie || t_at(rep, r0).abs() >= t0.abs())
                    .count();
                count as f64 / spec.reps as f64 >= alpha
            };
            let gf = g as f64;
            let half = StudentsT::new(0.0, 1.0, gf - 1.0)
                .map(|t| t.inverse_cdf(1.0 - alpha / 2.0) * se)
                .ok()
                .filter(|h| h.is_finite() && *h > 0.0)
                .unwrap_or(2.0 * se);
            let tol = 1e-8 * se;
            let lo = ci_end(&accept, estimate, -1.0, half, tol, cancel)?;
            let hi = ci_end(&accept, estimate, 1.0, half, tol, cancel)?;
            Some((lo, hi))
        } else {
            None
        };
        Ok(WildBootResult {
            t_stat,
            p_value,
            conf_int,
            t_boot,
            reps: spec.reps,
            estimate,
        })
    }

    /// The bootstrap at given weights (`draws`: B × G, columns in `cluster_ids` order), for
    /// checking the scheme against a direct implementation: a'β̂* and t* at r per draw.
    pub fn wild_bootstrap_draws(
        &self,
        event_weights: &[f64],
        r: f64,
        draws: ArrayView2<f64>,
    ) -> Result<Did2sWildDraws> {
        let (lin, estimate, se) = self.boot_linear(event_weights)?;
        if draws.ncols() != lin.g {
            return Err(Error::Shape(format!(
                "draws have {} columns for {} clusters",
                draws.ncols(),
                lin.g
            )));
        }
        let (mut q0, mut q1) = (vec![0.0; lin.g], vec![0.0; lin.g]);
        let mut out = Did2sWildDraws {
            coef_boot: Vec::with_capacity(draws.nrows()),
            t_boot: Vec::with_capacity(draws.nrows()),
        };
        for row in draws.rows() {
            let v = row.to_vec();
            let rep = lin.replicate(&v, &mut q0, &mut q1);
            out.coef_boot.push(rep.n0 + r * rep.n1 + r);
            out.t_boot.push(if rep.tie {
                (estimate - r) / se
            } else {
                rep.t(r)
            });
        }
        Ok(out)
    }

    /// Precomputes the replicate functionals for weights `a` (see the scheme above); also
    /// returns a'β̂ and its analytic GMM standard error.
    fn boot_linear(&self, a: &[f64]) -> Result<(BootLinear, f64, f64)> {
        let k = self.terms.len();
        if a.len() != k {
            return Err(Error::Option {
                name: "param".into(),
                reason: format!("{} weights for {k} coefficients", a.len()),
            });
        }
        if a.iter().all(|&x| x == 0.0) || a.iter().any(|x| !x.is_finite()) {
            return Err(Error::Option {
                name: "param".into(),
                reason: "the weights must be finite and not all zero".into(),
            });
        }
        let bd = &*self.boot;
        let m = bd.ytil.len();
        let g = self.n_clusters;
        let nj: Vec<f64> = self.n_obs_term.iter().map(|&c| c as f64).collect();
        let estimate: f64 = a.iter().zip(&self.estimate).map(|(x, b)| x * b).sum();
        let var: f64 = (0..k)
            .map(|i| (0..k).map(|j| a[i] * self.vcov[[i, j]] * a[j]).sum::<f64>())
            .sum();
        let se = var.sqrt();
        if !(se > 0.0 && se.is_finite()) {
            return Err(Error::Numerical(format!(
                "wild bootstrap: the GMM standard error of the combination is {se}"
            )));
        }
        let on_untreated = |z: &[f64]| -> Vec<f64> {
            (0..m)
                .map(|i| if bd.untreated[i] { z[i] } else { 0.0 })
                .collect()
        };
        // (I − P₁)z: z minus the first stage fitted on z's untreated rows.
        let residualise = |z: &[f64]| -> Vec<f64> {
            let fit = bd.projector.apply(&on_untreated(z));
            z.iter().zip(&fit).map(|(x, f)| x - f).collect()
        };
        let x2 = |coef: &[f64]| -> Vec<f64> {
            bd.col_of
                .iter()
                .map(|c| c.map_or(0.0, |j| coef[j]))
                .collect()
        };
        // w_a = X₂D⁻¹a; p_a = Z(Z₀'Z₀)⁻Z'w_a. Row functional of the cluster score:
        // φ_r = w_a,r − 1[untreated] p_a,r; b = M'a = a − X₂'(1[untreated] p_a).
        let a_over_n: Vec<f64> = a.iter().zip(&nj).map(|(x, n)| x / n).collect();
        let w_a = x2(&a_over_n);
        let p_a = bd.projector.apply(&w_a);
        let phi: Vec<f64> = (0..m)
            .map(|i| w_a[i] - if bd.untreated[i] { p_a[i] } else { 0.0 })
            .collect();
        let mut b = a.to_vec();
        for ((col, &untreated), pa) in bd.col_of.iter().zip(&bd.untreated).zip(&p_a) {
            if let (Some(j), true) = (col, untreated) {
                b[*j] -= pa;
            }
        }
        let s: f64 = b.iter().zip(&nj).map(|(x, n)| x * x / n).sum();
        if !(s > 0.0 && s.is_finite()) {
            return Err(Error::Numerical(
                "wild bootstrap: the hypothesis does not restrict the second stage".into(),
            ));
        }
        let bbeta: f64 = b.iter().zip(&self.estimate).map(|(x, e)| x * e).sum();
        // β̃(r) = β̃0 + r β̃1.
        let tilde1: Vec<f64> = b.iter().zip(&nj).map(|(x, n)| x / n / s).collect();
        let tilde0: Vec<f64> = self
            .estimate
            .iter()
            .zip(&tilde1)
            .map(|(e, t)| e - t * bbeta)
            .collect();
        let x2t0 = x2(&tilde0);
        let x2t1 = x2(&tilde1);
        let u0: Vec<f64> = (0..m).map(|i| bd.ytil[i] - x2t0[i]).collect();
        let u1: Vec<f64> = x2t1.iter().map(|x| -x).collect();
        // κ_{g,j} = a_j n_{g,j} / n_j: the β̂*_j part of cluster g's score.
        let mut kappa = vec![0.0; g * k];
        for i in 0..m {
            if let Some(j) = bd.col_of[i] {
                kappa[bd.cluster[i] as usize * k + j] += a_over_n[j];
            }
        }
        // N(z) = a'β(z) and q_g(z) = Σ_{r∈g} φ_r z_r − Σ_j κ_{gj} β_j(z).
        let functionals = |z: &[f64]| -> (f64, Vec<f64>) {
            let mut beta = vec![0.0; k];
            let mut q = vec![0.0; g];
            for i in 0..m {
                if let Some(j) = bd.col_of[i] {
                    beta[j] += z[i];
                }
                q[bd.cluster[i] as usize] += phi[i] * z[i];
            }
            for (bj, n) in beta.iter_mut().zip(&nj) {
                *bj /= n;
            }
            for (h, qh) in q.iter_mut().enumerate() {
                *qh -= (0..k).map(|j| kappa[h * k + j] * beta[j]).sum::<f64>();
            }
            (a.iter().zip(&beta).map(|(x, y)| x * y).sum(), q)
        };
        let (n_f0, q_f0) = functionals(&residualise(&x2t0));
        let (n_f1, q_f1) = functionals(&residualise(&x2t1));
        // Z_c for u0 and u1, cluster by cluster (in parallel, collected in order).
        type Functionals = (f64, Vec<f64>);
        let per_cluster: Vec<(Functionals, Functionals)> = (0..g)
            .into_par_iter()
            .map(|c| {
                let mask = |u: &[f64]| -> Vec<f64> {
                    (0..m)
                        .map(|i| {
                            if bd.cluster[i] as usize == c {
                                u[i]
                            } else {
                                0.0
                            }
                        })
                        .collect()
                };
                (
                    functionals(&residualise(&mask(&u0))),
                    functionals(&residualise(&mask(&u1))),
                )
            })
            .collect();
        let mut lin = BootLinear {
            g,
            n_f0,
            n_f1: n_f1 - 1.0,
            n_z0: vec![0.0; g],
            n_z1: vec![0.0; g],
            q_f0,
            q_f1,
            q_z0: vec![0.0; g * g],
            q_z1: vec![0.0; g * g],
        };
        for (c, ((n0, q0), (n1, q1))) in per_cluster.into_iter().enumerate() {
            lin.n_z0[c] = n0;
            lin.n_z1[c] = n1;
            for h in 0..g {
                lin.q_z0[h * g + c] = q0[h];
                lin.q_z1[h * g + c] = q1[h];
            }
        }
        Ok((lin, estimate, se))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::did::imputation::{imputation, ImputationSpec};

    #[test]
    fn static_did2s_equals_bjs_static_att() {
        // Identity: the second stage on the treatment dummy alone averages the first-stage
        // residuals over treated rows, which is the BJS static ATT.
        let (mut y, mut unit, mut time, mut cohort) = (vec![], vec![], vec![], vec![]);
        for u in 0..20i64 {
            let g = [0.0, 2004.0, 2006.0, 0.0][(u % 4) as usize];
            for t in 2000..2010i64 {
                let e = t - g as i64;
                let tau = if g > 0.0 && e >= 0 {
                    0.5 + 0.1 * e as f64
                } else {
                    0.0
                };
                let noise = ((u * 31 + t * 17) % 13) as f64 / 13.0 - 0.5;
                y.push(u as f64 * 0.3 + (t - 2000) as f64 * 0.2 + tau + noise);
                unit.push(u);
                time.push(t);
                cohort.push(g);
            }
        }
        let data = EventStudyData {
            y: ("y".into(), &y),
            unit: &unit,
            time: &time,
            cohort: &cohort,
            controls: vec![],
            cluster: Some(("unit".into(), &unit)),
            valid: None,
        };
        let a = did2s(
            &data,
            &Did2sSpec {
                conley: None,
                event: None,
                anticipation: 0,
            },
        )
        .unwrap();
        let b = imputation(&data, &ImputationSpec::default()).unwrap();
        assert!((a.estimate[0] - b.att).abs() < 1e-12);
        assert!(a.se[0] > 0.0);
        // Identity: the BJS cluster scores reproduce its analytic variance.
        let s = &b.cluster_scores;
        assert!((s.column(0).dot(&s.column(0)).sqrt() - b.att_se).abs() < 1e-12);

        // Wild bootstrap: an all-ones draw reproduces the sample (a'b* = a'b, t* = t); a
        // zero draw leaves the restricted fit (a'b* = r).
        let draws = ndarray::arr2(&[[1.0; 20], [0.0; 20]]);
        let r0 = 0.1;
        let out = a.wild_bootstrap_draws(&[1.0], r0, draws.view()).unwrap();
        assert!((out.coef_boot[0] - a.estimate[0]).abs() < 1e-12);
        assert!((out.t_boot[0] - (a.estimate[0] - r0) / a.se[0]).abs() < 1e-12);
        assert!((out.coef_boot[1] - r0).abs() < 1e-12);
        let spec = WildBootSpec {
            reps: 199,
            weights: crate::inference::wild_bootstrap::BootWeights::Webb,
            seed: 1,
            level: 0.95,
            compute_ci: true,
        };
        let wb = a.wild_bootstrap(&[1.0], a.estimate[0], &spec).unwrap();
        assert_eq!(wb.p_value, 1.0);
        let (lo, hi) = wb.conf_int.unwrap();
        assert!(lo < a.estimate[0] && a.estimate[0] < hi);
        assert!(a.wild_bootstrap(&[0.0], 0.0, &spec).is_err());
    }
}

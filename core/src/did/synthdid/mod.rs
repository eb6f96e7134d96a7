//! Synthetic difference-in-differences, Arkhangelsky, Athey, Hirshberg, Imbens & Wager (2021,
//! "Synthetic Difference-in-Differences", AER 111(12)), computed as R `synthdid` 0.0.9 does:
//! `synthdid_estimate` (Algorithm 1) with its default regularisation
//! (zeta_omega = (N_tr T_post)^(1/4) sigma, zeta_lambda = 1e-6 sigma, min_decrease = 1e-5 sigma,
//! sigma = sd of the controls' pre-period first differences; two Frank–Wolfe rounds with
//! sparsification), `sc_estimate` (omega without intercept, eta_omega = 1e-6, lambda = 0) and
//! `did_estimate` (uniform weights), and the `placebo_se`, `bootstrap_se` and `jackknife_se`
//! standard errors (Algorithms 4, 2 and 3). Covariates enter as R's `X` argument (beta solved
//! jointly with the weights, `sc.weight.fw.covariates`).
//!
//! Staggered adoption: each adoption cohort is its own block against the never-treated units,
//! with its own pre and post periods; the overall estimate averages the cohorts' estimates with
//! weights N_tr,g * T_post,g (the treated cells each cohort contributes). Event-time effects
//! average the cohorts' effect curves (`synthdid_effect_curve`) with weights N_tr,g.

mod block;
mod inference;
mod weights;

use crate::error::{Error, Result};
use block::{Block, Fit, Opts, Wide};

pub use inference::Vcov;

/// Which estimator the weights define.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// synthetic DID: unit and time weights
    Sdid,
    /// synthetic control: unit weights without intercept, no time weights
    Sc,
    /// difference in differences: uniform weights
    Did,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Sdid => "sdid",
            Method::Sc => "sc",
            Method::Did => "did",
        }
    }
}

/// A balanced panel in wide form and what to estimate.
pub struct SynthDidInput<'a> {
    /// outcomes, `n_units` rows of `n_times` values (time in increasing order)
    pub y: &'a [f64],
    pub n_units: usize,
    pub n_times: usize,
    /// per unit: the index of its first treated period, or None for never treated
    pub adoption: &'a [Option<usize>],
    /// time-varying covariates, each shaped like `y`
    pub covariates: Vec<&'a [f64]>,
    pub method: Method,
    pub vcov: Vcov,
    pub reps: usize,
    pub seed: u64,
    /// the periods' labels (e.g. years), used in messages; empty: period indices
    pub period_labels: &'a [i64],
}

/// One adoption cohort's block estimate.
#[derive(Debug, Clone)]
pub struct CohortFit {
    /// index of the first treated period
    pub adoption: usize,
    /// the cohort's treated units (row indices)
    pub treated: Vec<usize>,
    pub estimate: f64,
    pub std_error: f64,
    /// weight in the overall estimate (N_tr * T_post, normalised)
    pub weight: f64,
    /// unit weights over [`SynthDid::controls`]
    pub omega: Vec<f64>,
    /// time weights over periods 0..adoption
    pub lambda: Vec<f64>,
    /// covariate coefficients (empty without covariates)
    pub beta: Vec<f64>,
    /// per period: treated mean and synthetic control (omega-weighted controls), of Y - X beta
    pub treated_path: Vec<f64>,
    pub synthetic_path: Vec<f64>,
    /// effect per post period (R's effect curve)
    pub curve: Vec<f64>,
    pub noise_level: f64,
    pub zeta_omega: f64,
    pub zeta_lambda: f64,
}

/// The estimate, per cohort and overall, with event-time effects and replicate standard errors.
#[derive(Debug, Clone)]
pub struct SynthDid {
    pub estimate: f64,
    pub std_error: f64,
    /// never-treated units (row indices), the controls of every cohort
    pub controls: Vec<usize>,
    pub cohorts: Vec<CohortFit>,
    /// event times 0, 1, ... (periods since adoption) and their effects and standard errors
    pub event_time: Vec<i64>,
    pub event_estimate: Vec<f64>,
    pub event_std_error: Vec<f64>,
    /// the overall estimate in each usable replicate (empty for the jackknife: leave-one-out values)
    pub replicates: Vec<f64>,
}

/// The analysis' cohorts and controls, and each cohort's tuning constants.
pub(crate) struct Design {
    pub controls: Vec<usize>,
    /// (adoption, treated units)
    pub cohorts: Vec<(usize, Vec<usize>)>,
    pub opts: Vec<Opts>,
    pub noise: Vec<f64>,
    pub method: Method,
    pub n_times: usize,
    /// names period index `a` in messages
    pub labels: Vec<String>,
}

/// Starting weights each method fixes or estimates (R's `weights` argument of each estimator).
pub(crate) fn start(method: Method, n0: usize, t0: usize) -> (Option<Vec<f64>>, Option<Vec<f64>>) {
    match method {
        Method::Sdid => (None, None),
        Method::Sc => (None, Some(vec![0.0; t0])),
        Method::Did => (
            Some(vec![1.0 / n0 as f64; n0]),
            Some(vec![1.0 / t0 as f64; t0]),
        ),
    }
}

fn opts_for(method: Method, noise: f64, n1: usize, t1: usize) -> Opts {
    let eta_omega = match method {
        Method::Sc => 1e-6,
        _ => ((n1 * t1) as f64).powf(0.25),
    };
    Opts {
        zeta_omega: eta_omega * noise,
        zeta_lambda: 1e-6 * noise,
        omega_intercept: method != Method::Sc,
        lambda_intercept: true,
        update_omega: method != Method::Did,
        update_lambda: method == Method::Sdid,
        min_decrease: 1e-5 * noise,
        max_iter: 10_000,
        max_iter_pre_sparsify: 100,
    }
}

fn validate(input: &SynthDidInput<'_>) -> Result<Design> {
    let (n, t) = (input.n_units, input.n_times);
    if input.y.len() != n * t || input.adoption.len() != n {
        return Err(Error::Shape(format!(
            "synthdid: {} outcomes and {} adoption entries for {n} units x {t} periods",
            input.y.len(),
            input.adoption.len()
        )));
    }
    if input.covariates.iter().any(|x| x.len() != n * t) {
        return Err(Error::Shape(
            "synthdid: a covariate is not shaped like the outcome".into(),
        ));
    }
    if input.y.iter().any(|v| !v.is_finite()) {
        return Err(Error::Column {
            name: "y".into(),
            reason: "synthdid needs a finite outcome in every unit-period cell".into(),
        });
    }
    if input
        .covariates
        .iter()
        .flat_map(|x| x.iter())
        .any(|v| !v.is_finite())
    {
        return Err(Error::Column {
            name: "controls".into(),
            reason: "synthdid needs finite covariates in every unit-period cell".into(),
        });
    }
    let controls: Vec<usize> = (0..n).filter(|&i| input.adoption[i].is_none()).collect();
    if controls.is_empty() {
        return Err(Error::Empty(
            "synthdid: no never-treated units; every cohort is compared with units never treated in the panel".into(),
        ));
    }
    let mut adoptions: Vec<usize> = input.adoption.iter().flatten().copied().collect();
    adoptions.sort_unstable();
    adoptions.dedup();
    if adoptions.is_empty() {
        return Err(Error::Empty("synthdid: no treated units".into()));
    }
    let labels: Vec<String> = (0..t)
        .map(|a| match input.period_labels.get(a) {
            Some(l) if input.period_labels.len() == t => format!("period {l}"),
            _ => format!("period index {a}"),
        })
        .collect();
    let need_pre = if input.method == Method::Did { 1 } else { 2 };
    let mut cohorts = Vec::new();
    let (mut opts, mut noise) = (Vec::new(), Vec::new());
    for &a in &adoptions {
        if a >= t {
            return Err(Error::Shape(format!(
                "synthdid: adoption index {a} outside the {t} periods"
            )));
        }
        if a < need_pre {
            return Err(Error::Empty(format!(
                "synthdid: the cohort adopting in {} has {a} pre-treatment period(s); \
                 {} needs at least {need_pre} (treated units must be observed untreated first)",
                labels[a],
                input.method.name()
            )));
        }
        let treated: Vec<usize> = (0..n).filter(|&i| input.adoption[i] == Some(a)).collect();
        let w = Wide {
            y: input.y,
            n_times: t,
            x: Vec::new(),
        };
        let b = Block {
            controls: &controls,
            treated: &treated,
            t0: a,
        };
        let sigma = block::noise_level(&w, &b);
        let sigma = if input.method == Method::Did && !sigma.is_finite() {
            1.0
        } else {
            sigma
        };
        if !sigma.is_finite() {
            return Err(Error::Empty(format!(
                "synthdid: too few control pre-period differences to set the regularisation \
                 (cohort adopting in {}, {} never-treated unit(s))",
                labels[a],
                controls.len()
            )));
        }
        opts.push(opts_for(input.method, sigma, treated.len(), t - a));
        noise.push(sigma);
        cohorts.push((a, treated));
    }
    Ok(Design {
        controls,
        cohorts,
        opts,
        noise,
        method: input.method,
        n_times: t,
        labels,
    })
}

/// Synthetic DID (or SC or DID) for a block or staggered design, with standard errors by
/// `input.vcov` (`reps` replicates seeded per (seed, r)).
pub fn synthdid(input: &SynthDidInput<'_>) -> Result<SynthDid> {
    let design = validate(input)?;
    let w = Wide {
        y: input.y,
        n_times: input.n_times,
        x: input.covariates.clone(),
    };
    let fits = fit_all(&w, &design, &design.controls)?;
    let n_cohorts = design.cohorts.len();
    let cohort_weights = aggregation_weights(&design, |g| design.cohorts[g].1.len() as f64);
    let mut cohorts = Vec::with_capacity(n_cohorts);
    for (g, ((a, treated), fit)) in design.cohorts.iter().zip(&fits).enumerate() {
        let b = Block {
            controls: &design.controls,
            treated,
            t0: *a,
        };
        let (estimate, curve) = block::effects(&w, &b, fit);
        let (treated_path, synthetic_path) = block::paths(&w, &b, fit);
        cohorts.push(CohortFit {
            adoption: *a,
            treated: treated.clone(),
            estimate,
            std_error: f64::NAN,
            weight: cohort_weights[g],
            omega: fit.omega.clone(),
            lambda: fit.lambda.clone(),
            beta: fit.beta.clone(),
            treated_path,
            synthetic_path,
            curve,
            noise_level: design.noise[g],
            zeta_omega: design.opts[g].zeta_omega,
            zeta_lambda: design.opts[g].zeta_lambda,
        });
    }
    let point = summarise(
        &design,
        &cohorts
            .iter()
            .map(|c| (c.estimate, c.curve.clone()))
            .collect::<Vec<_>>(),
        |g| design.cohorts[g].1.len() as f64,
    );
    let draws = inference::replicate(&w, &design, &fits, input.vcov, input.reps, input.seed)?;
    let se = inference::std_errors(&draws, input.vcov, point.len());
    for (g, c) in cohorts.iter_mut().enumerate() {
        c.std_error = se[1 + g];
    }
    let n_event = point.len() - 1 - n_cohorts;
    Ok(SynthDid {
        estimate: point[0],
        std_error: se[0],
        controls: design.controls.clone(),
        cohorts,
        event_time: (0..n_event as i64).collect(),
        event_estimate: point[1 + n_cohorts..].to_vec(),
        event_std_error: se[1 + n_cohorts..].to_vec(),
        replicates: if matches!(input.vcov, Vcov::Jackknife | Vcov::JackknifeFixedDesign) {
            Vec::new()
        } else {
            draws.iter().map(|d| d[0]).collect()
        },
    })
}

/// Fits every cohort on `controls`, from each method's start weights.
pub(crate) fn fit_all(w: &Wide<'_>, design: &Design, controls: &[usize]) -> Result<Vec<Fit>> {
    let mut out = Vec::with_capacity(design.cohorts.len());
    for (g, (a, treated)) in design.cohorts.iter().enumerate() {
        let b = Block {
            controls,
            treated,
            t0: *a,
        };
        let (o, l) = start(design.method, controls.len(), *a);
        out.push(block::fit(w, &b, &design.opts[g], o, l));
    }
    if out.iter().any(|f| {
        f.omega
            .iter()
            .chain(&f.lambda)
            .chain(&f.beta)
            .any(|v| !v.is_finite())
    }) {
        return Err(Error::Numerical(
            "synthdid: the weights are not finite (constant or degenerate outcomes?)".into(),
        ));
    }
    Ok(out)
}

/// Cohort weights N_tr,g * T_post,g (normalised), with `n_treated(g)` the cohort's size.
pub(crate) fn aggregation_weights(design: &Design, n_treated: impl Fn(usize) -> f64) -> Vec<f64> {
    let t = |g: usize| (design.n_times - design.cohorts[g].0) as f64;
    let raw: Vec<f64> = (0..design.cohorts.len())
        .map(|g| n_treated(g) * t(g))
        .collect();
    let s: f64 = raw.iter().sum();
    raw.iter().map(|r| r / s).collect()
}

/// [overall, per cohort..., per event time...] from per-cohort (estimate, curve); a cohort with
/// `n_treated(g) == 0` (absent from a bootstrap draw) is left out (NaN in its own slot).
pub(crate) fn summarise(
    design: &Design,
    per_cohort: &[(f64, Vec<f64>)],
    n_treated: impl Fn(usize) -> f64,
) -> Vec<f64> {
    let n_cohorts = design.cohorts.len();
    let weights = aggregation_weights(design, &n_treated);
    let n_event = design
        .cohorts
        .iter()
        .map(|(a, _)| design.n_times - a)
        .max()
        .unwrap_or(0);
    let mut out = vec![0.0; 1 + n_cohorts + n_event];
    for (g, (est, _)) in per_cohort.iter().enumerate() {
        if n_treated(g) > 0.0 {
            out[0] += weights[g] * est;
            out[1 + g] = *est;
        } else {
            out[1 + g] = f64::NAN;
        }
    }
    for e in 0..n_event {
        let (mut num, mut den) = (0.0, 0.0);
        for (g, (_, curve)) in per_cohort.iter().enumerate() {
            if n_treated(g) > 0.0 && e < curve.len() {
                num += n_treated(g) * curve[e];
                den += n_treated(g);
            }
        }
        out[1 + n_cohorts + e] = if den > 0.0 { num / den } else { f64::NAN };
    }
    out
}

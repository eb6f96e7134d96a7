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

use ndarray::Array2;

use super::event_study::{EventStudyData, EventTimeSpec};
use super::imputation::roles;
use crate::error::{Error, Result};
use crate::fe::factorize;

/// Settings of the two-stage DID.
#[derive(Debug, Clone)]
pub struct Did2sSpec {
    /// None: static ATT (one treatment indicator). Some: event-time dummies.
    pub event: Option<EventTimeSpec>,
    /// Periods of anticipation: rows with g − anticipation ≤ t < g leave the first stage.
    pub anticipation: i64,
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
    pub n_clusters: usize,
    pub collinear: Vec<String>,
    pub ref_periods: Vec<i64>,
}

impl Did2s {
    /// Degrees of freedom of the intervals: Student t(G - 1), as pyfixest.did2s reports.
    pub fn interval_df(&self) -> Option<usize> {
        Some(self.n_clusters.saturating_sub(1))
    }
}

/// Gardner's two-stage DID (see the module documentation). `data.cluster` is required.
pub fn did2s(data: &EventStudyData, spec: &Did2sSpec) -> Result<Did2s> {
    let (cl_name, cl_ids) = data.cluster.as_ref().ok_or_else(|| Error::Option {
        name: "cluster".into(),
        reason: "the did2s variance needs a cluster variable (usually the unit)".into(),
    })?;
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
    if g < 2 {
        return Err(Error::Option {
            name: "cluster".into(),
            reason: format!("column '{cl_name}' has a single cluster"),
        });
    }
    let mut w = Array2::<f64>::zeros((g, k));
    for r in 0..m {
        if let Some(j) = col_of[r] {
            w[[clusters.codes[r] as usize, j]] += eps2[r];
        }
    }
    for j in 0..k {
        let xj: Vec<f64> = (0..m)
            .map(|r| f64::from(u8::from(col_of[r] == Some(j))))
            .collect();
        let h = ro.projector.apply(&xj);
        for r in (0..m).filter(|&r| ro.untreated[r]) {
            // ε₁ = Ỹ on untreated rows.
            w[[clusters.codes[r] as usize, j]] -= h[r] * ytil[r];
        }
    }
    let meat = w.t().dot(&w);
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
        n_clusters: g,
        collinear,
        ref_periods: spec
            .event
            .as_ref()
            .map_or_else(Vec::new, |e| e.ref_periods.clone()),
    })
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
                event: None,
                anticipation: 0,
            },
        )
        .unwrap();
        let b = imputation(&data, &ImputationSpec::default()).unwrap();
        assert!((a.estimate[0] - b.att).abs() < 1e-12);
        assert!(a.se[0] > 0.0);
    }
}

//! Difference-in-differences with a continuous treatment (dose), Callaway, Goodman-Bacon &
//! Sant'Anna (2024, NBER w32117; arXiv 2107.02637), numerically as `moderndid` 0.4.1
//! (`didcont.cont_did`, parametric B-spline estimator) and R `contdid`.
//!
//! Units start treatment in cohort g (0 = never) and keep one dose D > 0 from then on. For each
//! cohort g and period t the cell compares the outcome change Y_t − Y_base of cohort g with
//! that of the comparison units (never treated, or also not yet treated in both periods):
//!
//! - ATT(g,t) = mean ΔY (cohort g) − mean ΔY (comparison), the binary effect;
//! - a B-spline in the dose (`degree`, interior knots at quantiles of all treated units'
//!   doses, kept where they fall strictly inside the cell's dose range; boundary knots at the
//!   cell's smallest and largest dose) with an intercept, fitted by OLS to ΔY of cohort g:
//!   ATT_gt(d|d) = b(d)'β − mean ΔY (comparison), ACRT_gt(d|d) = b'(d)'β, and the cell's
//!   average ACRT = mean over its treated units of b'(D_i)'β.
//!
//! The dose aggregation averages cells from t ≥ g with weights P(G = g | treated) split evenly
//! over the cohort's post-treatment cells (cells whose doses cannot identify the spline drop
//! out of the curves and the ACRT; the ATT keeps them). ATT^o and ACRT^o are the same weighted
//! averages of the cells' binary ATT and average ACRT. The event-study aggregation averages
//! ATT(g,t) (level) or the cells' average ACRT (slope) over cohorts at each event time e = t − g
//! with cohort-share weights. Every aggregate carries the influence-function term of its
//! estimated cohort shares (as `moderndid`). Influence functions are on the unit scale
//! (ψ_i with estimate − θ ≈ Σ ψ_i / n); analytic SEs are √(Σ_c (Σ_{i∈c} ψ_i)²) / n with unit
//! clusters by default, and the multiplier bootstrap gives bootstrap SEs and the sup-t critical
//! value of uniform bands over the dose grid or the event times.
//!
//! `SmallSample::Hc2` / `Hc3` rescale the spline residuals in the influence functions by
//! their leverage (Bell & McCaffrey 2002; MacKinnon & White 1985): cohorts with few treated
//! units per spline coefficient make the reference's HC0-type variance too small. Cohorts
//! whose curve interpolates its treated units are listed in `saturated_cohorts`.
//!
//! Files: `dose_data.rs` (panel preparation), `dose_spline.rs` (B-spline basis),
//! `dose_cells.rs` (the (g,t) cells), `dose_aggregate.rs` (weights, aggregations, inference);
//! this file combines them.

// Index loops mirror the matrix formulas they implement.
#![allow(clippy::needless_range_loop)]

use super::dose_aggregate::{
    aggregate_df, cohort_probs, dose_weights, event_study, finish_es, inference, weight_term,
};
pub use super::dose_aggregate::{DoseEventStudy, EsWindow, Series};
use super::dose_cells::{estimate_cells, quantile_knots};
pub use super::dose_cells::{
    DoseBase, DoseCell, DoseCellStatus, DoseControl, DoseDf, DoseSpec, SmallSample,
};
pub use super::dose_data::{build_panel, DoseInput, DosePanel};
use super::dose_df::Functional;
use crate::error::{Error, Result};

/// A fitted continuous-dose DID: the cells, the dose-response curves and their averages
/// (dose aggregation), and the event studies of the level and the slope.
#[derive(Debug, Clone)]
pub struct DoseFit {
    pub panel: DosePanel,
    pub cells: Vec<DoseCell>,
    pub dvals: Vec<f64>,
    pub knots: Vec<f64>,
    pub att_d: Series,
    pub acrt_d: Series,
    pub overall_att: f64,
    pub overall_att_se: f64,
    pub overall_att_inf: Vec<f64>,
    pub overall_acrt: f64,
    pub overall_acrt_se: f64,
    pub overall_acrt_inf: Vec<f64>,
    /// Degrees of freedom of the ATT^o and ACRT^o intervals (infinite: normal; `DoseDf`).
    pub overall_att_df: f64,
    pub overall_acrt_df: f64,
    pub es_level: DoseEventStudy,
    pub es_slope: Option<DoseEventStudy>,
    pub n_treated_units: usize,
    pub n_boot_units: Option<usize>,
    pub notes: Vec<String>,
    /// Cohorts whose dose curve has no residual degrees of freedom (treated units ≤ spline
    /// coefficients, or a dose with leverage 1): (cohort, treated units, coefficients). Their
    /// spline residuals are 0, so the curve's and the ACRT's variance is not estimable from
    /// them and the analytic SEs understate it.
    pub saturated_cohorts: Vec<(i64, usize, usize)>,
    /// The options of the fit (for event studies with another window).
    pub spec: DoseSpec,
}

/// The event study of a fit over a window (level: binary ATT(g,t); slope: average ACRT).
pub fn dose_event_study(fit: &DoseFit, slope: bool, win: &EsWindow) -> Result<DoseEventStudy> {
    let pg = cohort_probs(&fit.panel);
    let es = event_study(&fit.panel, &fit.cells, &pg, slope, win);
    if es.events.is_empty() {
        return Err(Error::Option {
            name: "window".into(),
            reason: "no estimated group-time cell has an event time in the window".into(),
        });
    }
    finish_es(es, &fit.cells, fit.panel.cluster.as_deref(), &fit.spec)
}

/// Continuous-dose DID on a prepared panel (see the module docs).
pub fn cont_did(panel: DosePanel, spec: &DoseSpec) -> Result<DoseFit> {
    if spec.degree < 1 {
        return Err(Error::Option {
            name: "degree".into(),
            reason: format!("must be at least 1, got {}", spec.degree),
        });
    }
    let n = panel.n_units();
    let treated_doses: Vec<f64> = (0..n)
        .filter(|&i| panel.g[i] > 0)
        .map(|i| panel.dose[i])
        .collect();
    if treated_doses.is_empty() {
        return Err(Error::Empty(
            "no treated units: every unit is never treated (cohort 0)".into(),
        ));
    }
    if !(0..n).any(|i| panel.g[i] == 0) && spec.control == DoseControl::Never {
        return Err(Error::Empty(
            "control_group='never' needs never-treated units; the data has none".into(),
        ));
    }
    let lo = treated_doses.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = treated_doses
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let mut distinct = treated_doses.clone();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    let need = spec.degree + spec.num_knots + 1;
    if distinct.len() < need {
        return Err(Error::Option {
            name: "num_knots".into(),
            reason: format!(
                "the treated units have {} distinct doses, too few for a spline of degree={} with \
                 num_knots={} ({need} coefficients); lower degree or num_knots",
                distinct.len(),
                spec.degree,
                spec.num_knots
            ),
        });
    }
    let knots = quantile_knots(&treated_doses, spec.num_knots);
    let dvals = match &spec.dvals {
        Some(v) => v.clone(),
        None => (0..50).map(|k| lo + (hi - lo) * k as f64 / 49.0).collect(),
    };
    let cells = estimate_cells(&panel, spec, &knots, &dvals)?;
    let mut notes = panel.notes.clone();
    let post_cells: Vec<&DoseCell> = cells.iter().filter(|c| c.event >= 0).collect();
    if post_cells.iter().all(|c| c.curve.is_none()) {
        let why = post_cells
            .iter()
            .find_map(|c| match &c.status {
                DoseCellStatus::NoCurve(r) | DoseCellStatus::Skipped(r) => Some(r.clone()),
                _ => None,
            })
            .unwrap_or_default();
        return Err(Error::Option {
            name: "num_knots".into(),
            reason: format!(
                "no cohort's doses identify the spline of degree={} with num_knots={} ({why}); \
                 lower degree or num_knots",
                spec.degree, spec.num_knots
            ),
        });
    }
    let mut no_curve: Vec<i64> = cells
        .iter()
        .filter(|c| c.event >= 0 && matches!(c.status, DoseCellStatus::NoCurve(_)))
        .map(|c| c.group)
        .collect();
    // Cells run by period, then cohort: sort before removing the repeats.
    no_curve.sort_unstable();
    no_curve.dedup();
    if !no_curve.is_empty() {
        notes.push(format!(
            "the dose curve of cohort(s) {no_curve:?} cannot be estimated (too few distinct doses \
             for the spline); they are left out of the curves and the overall ACRT (not the \
             overall ATT)"
        ));
    }
    // One pass over the post-treatment cells with a curve: cohorts without residual degrees
    // of freedom (saturated) and, for normal intervals, cohorts with only 1 or 2.
    let mut saturated_cohorts: Vec<(i64, usize, usize)> = Vec::new();
    let mut thin: Vec<(i64, usize)> = Vec::new();
    for c in cells.iter().filter(|c| c.event >= 0) {
        let Some(cv) = c.curve.as_ref() else { continue };
        let saturated = c.n_treated <= cv.n_coef || cv.saturated;
        if saturated && !saturated_cohorts.iter().any(|s| s.0 == c.group) {
            saturated_cohorts.push((c.group, c.n_treated, cv.n_coef));
        }
        let resid_df = c.n_treated.saturating_sub(cv.n_coef);
        if spec.df == DoseDf::Normal
            && (1..=2).contains(&resid_df)
            && !thin.iter().any(|t| t.0 == c.group)
        {
            thin.push((c.group, resid_df));
        }
    }
    if !saturated_cohorts.is_empty() {
        let list: Vec<String> = saturated_cohorts
            .iter()
            .map(|(g, nt, p)| format!("{g} ({nt} treated, {p} coefficients)"))
            .collect();
        notes.push(format!(
            "the dose curve of cohort(s) {} interpolates its treated units (no residual degrees \
             of freedom): the SEs of the curves and the overall ACRT omit its spline variance; \
             lower degree / num_knots or drop the cohort",
            list.join(", ")
        ));
    }
    if !thin.is_empty() {
        let list: Vec<String> = thin
            .iter()
            .map(|(g, r)| format!("{g} ({r} residual degrees of freedom)"))
            .collect();
        notes.push(format!(
            "the dose curve of cohort(s) {} is fitted with 1 or 2 residual degrees of \
             freedom: its part of the variance is as noisy as a chi-square with that many, \
             so normal intervals of the curves and of the overall ACRT undercover; \
             df='satterthwaite' (with small_sample='hc2') gives Student-t intervals",
            list.join(", ")
        ));
    }
    let pg = cohort_probs(&panel);
    let has_att: Vec<bool> = cells
        .iter()
        .map(|c| {
            matches!(
                c.status,
                DoseCellStatus::Estimated | DoseCellStatus::NoCurve(_)
            )
        })
        .collect();
    let has_curve: Vec<bool> = cells.iter().map(|c| c.curve.is_some()).collect();
    let w_att = dose_weights(&cells, &pg, &has_att);
    let w = dose_weights(&cells, &pg, &has_curve);
    let m = dvals.len();
    let nf = n as f64;

    // Overall ATT and ACRT.
    let att_vals: Vec<[f64; 1]> = cells.iter().map(|c| [c.att]).collect();
    let acrt_vals: Vec<[f64; 1]> = cells.iter().map(|c| [c.acrt]).collect();
    let att_refs: Vec<&[f64]> = att_vals.iter().map(|v| v.as_slice()).collect();
    let acrt_refs: Vec<&[f64]> = acrt_vals.iter().map(|v| v.as_slice()).collect();
    let wt_att = weight_term(&panel, &cells, &w_att, &pg, &att_refs);
    let wt_acrt = weight_term(&panel, &cells, &w, &pg, &acrt_refs);
    let overall_att: f64 = cells
        .iter()
        .zip(&w_att)
        .filter(|(_, &x)| x != 0.0)
        .map(|(c, x)| x * c.att)
        .sum();
    let overall_acrt: f64 = cells
        .iter()
        .zip(&w)
        .filter(|(_, &x)| x != 0.0)
        .map(|(c, x)| x * c.acrt)
        .sum();
    let mut overall_att_inf: Vec<f64> = (0..n).map(|i| wt_att[i][0]).collect();
    let mut overall_acrt_inf: Vec<f64> = (0..n).map(|i| wt_acrt[i][0]).collect();
    for (c, (&xa, &x)) in cells.iter().zip(w_att.iter().zip(&w)) {
        for i in 0..n {
            if xa != 0.0 {
                overall_att_inf[i] += xa * c.att_if[i];
            }
            if x != 0.0 {
                overall_acrt_inf[i] += x * c.acrt_if[i];
            }
        }
    }

    // Curves and their influence functions (n × m each, stored by column).
    let mut att_d = vec![0.0; m];
    let mut acrt_d = vec![0.0; m];
    let mut att_inf = vec![vec![0.0; n]; m];
    let mut acrt_inf = vec![vec![0.0; n]; m];
    let zeros = vec![0.0; m];
    let att_curves: Vec<&[f64]> = cells
        .iter()
        .map(|c| {
            c.curve
                .as_ref()
                .map_or(zeros.as_slice(), |cv| cv.att_d.as_slice())
        })
        .collect();
    let acrt_curves: Vec<&[f64]> = cells
        .iter()
        .map(|c| {
            c.curve
                .as_ref()
                .map_or(zeros.as_slice(), |cv| cv.acrt_d.as_slice())
        })
        .collect();
    for (c, &x) in cells.iter().zip(&w) {
        let Some(cv) = c.curve.as_ref().filter(|_| x != 0.0) else {
            continue;
        };
        for k in 0..m {
            att_d[k] += x * cv.att_d[k];
            acrt_d[k] += x * cv.acrt_d[k];
        }
        for (r, &i) in c.treated.iter().enumerate() {
            let h = &cv.h[r];
            for k in 0..m {
                let b: f64 = h.iter().zip(&cv.grid_b[k]).map(|(a, b)| a * b).sum();
                let d: f64 = h.iter().zip(&cv.grid_d[k]).map(|(a, b)| a * b).sum();
                att_inf[k][i] += x * nf * b;
                acrt_inf[k][i] += x * nf * d;
            }
        }
        for &i in &c.control {
            for k in 0..m {
                att_inf[k][i] += x * c.att_if[i];
            }
        }
    }
    if m > 0 {
        let wt_a = weight_term(&panel, &cells, &w, &pg, &att_curves);
        let wt_s = weight_term(&panel, &cells, &w, &pg, &acrt_curves);
        for i in 0..n {
            for k in 0..m {
                att_inf[k][i] += wt_a[i][k];
                acrt_inf[k][i] += wt_s[i][k];
            }
        }
    }
    let cluster = panel.cluster.clone();
    let cl = cluster.as_deref();
    let ov = [overall_att_inf.clone(), overall_acrt_inf.clone()];
    let (ses, crits, n_boot) = inference(&[&att_inf, &acrt_inf, &ov], cl, spec)?;

    // Degrees of freedom of the pointwise intervals (the ATT^o has no spline part).
    let overall_att_df = aggregate_df(&cells, &w_att, Functional::None, &ov[0], cl, spec);
    let overall_acrt_df = aggregate_df(&cells, &w, Functional::AvgSlope, &ov[1], cl, spec);
    let att_df: Vec<f64> = (0..m)
        .map(|k| aggregate_df(&cells, &w, Functional::Level(k), &att_inf[k], cl, spec))
        .collect();
    let acrt_df: Vec<f64> = (0..m)
        .map(|k| aggregate_df(&cells, &w, Functional::Slope(k), &acrt_inf[k], cl, spec))
        .collect();

    let es = event_study(&panel, &cells, &pg, false, &EsWindow::ALL);
    let es_level = finish_es(es, &cells, cl, spec)?;
    let es = event_study(&panel, &cells, &pg, true, &EsWindow::ALL);
    let es_slope = if es.events.is_empty() {
        None
    } else {
        Some(finish_es(es, &cells, cl, spec)?)
    };
    let n_treated_units = treated_doses.len();
    Ok(DoseFit {
        panel,
        cells,
        dvals,
        knots,
        att_d: Series {
            est: att_d,
            se: ses[0].clone(),
            inf: att_inf,
            crit: crits[0],
            df: att_df,
        },
        acrt_d: Series {
            est: acrt_d,
            se: ses[1].clone(),
            inf: acrt_inf,
            crit: crits[1],
            df: acrt_df,
        },
        overall_att,
        overall_att_se: ses[2][0],
        overall_att_inf,
        overall_acrt,
        overall_acrt_se: ses[2][1],
        overall_acrt_inf,
        overall_att_df,
        overall_acrt_df,
        es_level,
        es_slope,
        n_treated_units,
        n_boot_units: n_boot,
        notes,
        saturated_cohorts,
        spec: spec.clone(),
    })
}

//! Aggregation and inference of the continuous-dose DID cells (`super::dose`): cohort-share
//! weights and their influence function, the dose and event-study aggregations' pieces,
//! analytic (influence-function) and multiplier-bootstrap standard errors and uniform critical
//! values, as `moderndid.didcont` 0.4.1 (`process_dose`, `process_aggte`).

// Index loops mirror the matrix formulas they implement.
#![allow(clippy::needless_range_loop)]

use super::dose_cells::{DoseCell, DoseDf, DoseSpec};
use super::dose_data::DosePanel;
use super::dose_df::{if_se, satterthwaite_df, Functional};
use crate::error::Result;
use crate::inference::multiplier::{crit_value, multiplier_bootstrap};

/// An estimate with its influence function and inference.
#[derive(Debug, Clone)]
pub struct Series {
    pub est: Vec<f64>,
    pub se: Vec<f64>,
    /// n_units × len influence functions (column-major: `inf[j]` is column j).
    pub inf: Vec<Vec<f64>>,
    /// Uniform critical value over the series (pointwise z without the bootstrap).
    pub crit: f64,
    /// Degrees of freedom of the pointwise intervals (infinite: normal; `DoseDf`).
    pub df: Vec<f64>,
}

/// An event-study aggregation.
#[derive(Debug, Clone)]
pub struct DoseEventStudy {
    pub event: Vec<i64>,
    pub series: Series,
    /// Average over event times ≥ 0.
    pub overall: f64,
    pub overall_se: f64,
    pub overall_inf: Vec<f64>,
    /// Degrees of freedom of the overall's interval (infinite: normal).
    pub overall_df: f64,
}

/// Inference of column groups: SEs per group, critical value per group, bootstrap units.
type GroupInference = (Vec<Vec<f64>>, Vec<f64>, Option<usize>);

/// Cohort shares: P(G = g) for each treated cohort position (index = position).
pub(super) fn cohort_probs(panel: &DosePanel) -> Vec<f64> {
    let t_n = panel.n_periods();
    let n = panel.n_units() as f64;
    let mut p = vec![0.0; t_n + 1];
    for &g in &panel.g {
        if g > 0 {
            p[g] += 1.0 / n;
        }
    }
    p
}

/// Influence function of normalised cohort shares: for the cohorts `used` (positions) with
/// raw probabilities `pg`, unit i's term for cohort j is
/// (1{G_i=g_j} − p_j)/S − Σ_k (1{G_i=g_k} − p_k) p_j / S², S = Σ_k p_k.
pub(super) fn share_if(panel: &DosePanel, used: &[usize], pg: &[f64]) -> Vec<Vec<f64>> {
    let s: f64 = used.iter().map(|&g| pg[g]).sum();
    panel
        .g
        .iter()
        .map(|&gi| {
            let row_sum: f64 = used
                .iter()
                .map(|&g| f64::from(u8::from(gi == g)) - pg[g])
                .sum();
            used.iter()
                .map(|&g| (f64::from(u8::from(gi == g)) - pg[g]) / s - row_sum * pg[g] / (s * s))
                .collect()
        })
        .collect()
}

/// Cell weights of the dose aggregation: the cohort's share among treated cohorts split over
/// its cells with t ≥ g that are `estimable`; normalised to sum to one.
pub(super) fn dose_weights(cells: &[DoseCell], pg: &[f64], estimable: &[bool]) -> Vec<f64> {
    let keep: Vec<bool> = cells
        .iter()
        .zip(estimable)
        .map(|(c, &e)| c.event >= 0 && e)
        .collect();
    let mut cohorts: Vec<usize> = cells.iter().map(|c| c.gpos).collect();
    cohorts.sort_unstable();
    cohorts.dedup();
    let total_p: f64 = cohorts.iter().map(|&g| pg[g]).sum();
    let mut w = vec![0.0; cells.len()];
    for &g in &cohorts {
        let k = cells
            .iter()
            .zip(&keep)
            .filter(|(c, &kp)| kp && c.gpos == g)
            .count();
        if k == 0 {
            continue;
        }
        for (j, c) in cells.iter().enumerate() {
            if keep[j] && c.gpos == g {
                w[j] = pg[g] / total_p / k as f64;
            }
        }
    }
    let s: f64 = w.iter().sum();
    if s > 0.0 {
        w.iter_mut().for_each(|x| *x /= s);
    }
    w
}

/// Σ_c ψ_w,c(i) · value_c(·): the term that estimating the cohort shares adds to an aggregate
/// of cell values (one `values[c]` vector per cell, all the same length).
pub(super) fn weight_term(
    panel: &DosePanel,
    cells: &[DoseCell],
    w: &[f64],
    pg: &[f64],
    values: &[&[f64]],
) -> Vec<Vec<f64>> {
    let n = panel.n_units();
    let len = values.first().map_or(0, |v| v.len());
    let mut used: Vec<usize> = cells
        .iter()
        .zip(w)
        .filter(|(_, &x)| x != 0.0)
        .map(|(c, _)| c.gpos)
        .collect();
    used.sort_unstable();
    used.dedup();
    let mut out = vec![vec![0.0; len]; n];
    if used.is_empty() {
        return out;
    }
    let sif = share_if(panel, &used, pg);
    // Per used cohort: Σ_{c ∈ g} (w_c / W_g) value_c.
    let mut per: Vec<Vec<f64>> = vec![vec![0.0; len]; used.len()];
    for (j, &g) in used.iter().enumerate() {
        let wg: f64 = cells
            .iter()
            .zip(w)
            .filter(|(c, _)| c.gpos == g)
            .map(|(_, &x)| x)
            .sum();
        for (c, (cell, &x)) in cells.iter().zip(w).enumerate() {
            if x != 0.0 && cell.gpos == g {
                for k in 0..len {
                    let v = values[c][k];
                    per[j][k] += x / wg * if v.is_finite() { v } else { 0.0 };
                }
            }
        }
    }
    for i in 0..n {
        for (j, pj) in per.iter().enumerate() {
            let s = sif[i][j];
            for k in 0..len {
                out[i][k] += s * pj[k];
            }
        }
    }
    out
}

/// Inference for groups of columns sharing one bootstrap: SEs (bootstrap or analytic) and one
/// uniform critical value per group (pointwise z without the bootstrap, and never below it).
pub(super) fn inference(
    groups: &[&[Vec<f64>]],
    cluster: Option<&[u32]>,
    spec: &DoseSpec,
) -> Result<GroupInference> {
    let z = crate::inference::dist::normal_quantile(1.0 - spec.alpha / 2.0, "level")?;
    let analytic: Vec<Vec<f64>> = groups
        .iter()
        .map(|g| g.iter().map(|c| if_se(c, cluster)).collect())
        .collect();
    let Some(bs) = spec.bootstrap.as_ref() else {
        return Ok((analytic, vec![z; groups.len()], None));
    };
    let cols: Vec<&[f64]> = groups
        .iter()
        .flat_map(|g| g.iter().map(|c| c.as_slice()))
        .collect();
    if cols.is_empty() {
        return Ok((analytic, vec![z; groups.len()], None));
    }
    let res = multiplier_bootstrap(&cols, cluster, bs)?;
    let sigma: Vec<f64> = res
        .se
        .iter()
        .map(|s| s * (res.n_boot_units as f64).sqrt())
        .collect();
    let mut ses = Vec::new();
    let mut crits = Vec::new();
    let mut start = 0;
    for g in groups {
        let idx: Vec<usize> = (start..start + g.len()).collect();
        ses.push(idx.iter().map(|&j| res.se[j]).collect());
        let c = crit_value(&res.draws, &sigma, &idx, spec.alpha);
        crits.push(if c.is_finite() { c.max(z) } else { z });
        start += g.len();
    }
    Ok((ses, crits, Some(res.n_boot_units)))
}

/// Event times an event study reports (as `moderndid`'s dynamic aggregation): those within
/// `[min_e, max_e]`; with `balance_e`, only cohorts observed through e = balance_e enter, and
/// event times run from balance_e − (last − first period of the cells) to balance_e.
#[derive(Debug, Clone, Copy)]
pub struct EsWindow {
    pub min_e: f64,
    pub max_e: f64,
    pub balance_e: Option<i64>,
}

impl EsWindow {
    pub const ALL: EsWindow = EsWindow {
        min_e: f64::NEG_INFINITY,
        max_e: f64::INFINITY,
        balance_e: None,
    };
}

/// An event-study aggregation before inference: event times, estimates, influence functions
/// and each event time's weights on the cells (for the degrees of freedom).
pub(super) struct EsPieces {
    pub(super) events: Vec<i64>,
    pub(super) est: Vec<f64>,
    pub(super) inf: Vec<Vec<f64>>,
    pub(super) weights: Vec<Vec<f64>>,
    pub(super) slope: bool,
}

/// Event-study aggregation of the cells' binary ATT (`slope = false`) or average ACRT.
pub(super) fn event_study(
    panel: &DosePanel,
    cells: &[DoseCell],
    pg: &[f64],
    slope: bool,
    win: &EsWindow,
) -> EsPieces {
    let value = |c: &DoseCell| if slope { c.acrt } else { c.att };
    let last = cells.iter().map(|c| c.time).max().unwrap_or(0);
    let first = cells.iter().map(|c| c.time).min().unwrap_or(0);
    let balanced = |c: &DoseCell| match win.balance_e {
        Some(b) => last - c.group >= b,
        None => true,
    };
    let mut events: Vec<i64> = cells
        .iter()
        .filter(|c| value(c).is_finite() && balanced(c))
        .map(|c| c.event)
        .collect();
    events.sort_unstable();
    events.dedup();
    if let Some(b) = win.balance_e {
        let lower = b - (last - first);
        events.retain(|&e| e <= b && e >= lower);
    }
    events.retain(|&e| (e as f64) >= win.min_e && (e as f64) <= win.max_e);
    let mut est = Vec::new();
    let mut inf = Vec::new();
    let mut weights = Vec::new();
    for &e in &events {
        let which: Vec<usize> = (0..cells.len())
            .filter(|&j| cells[j].event == e && value(&cells[j]).is_finite() && balanced(&cells[j]))
            .collect();
        let total: f64 = which.iter().map(|&j| pg[cells[j].gpos]).sum();
        let w: Vec<f64> = which.iter().map(|&j| pg[cells[j].gpos] / total).collect();
        let att_e: f64 = which
            .iter()
            .zip(&w)
            .map(|(&j, x)| x * value(&cells[j]))
            .sum();
        // Each cohort has one cell per event time, so the cells' share IF is the cohorts'.
        let used: Vec<usize> = which.iter().map(|&j| cells[j].gpos).collect();
        let sif = share_if(panel, &used, pg);
        let psi: Vec<f64> = (0..panel.n_units())
            .map(|i| {
                which
                    .iter()
                    .enumerate()
                    .map(|(k, &j)| {
                        let c = &cells[j];
                        let ci = if slope { c.acrt_if[i] } else { c.att_if[i] };
                        w[k] * ci + sif[i][k] * value(c)
                    })
                    .sum()
            })
            .collect();
        let mut cell_w = vec![0.0; cells.len()];
        for (&j, x) in which.iter().zip(&w) {
            cell_w[j] = *x;
        }
        est.push(att_e);
        inf.push(psi);
        weights.push(cell_w);
    }
    EsPieces {
        events,
        est,
        inf,
        weights,
        slope,
    }
}

/// Degrees of freedom of an aggregate's interval: Welch–Satterthwaite under
/// `DoseDf::Satterthwaite` (`super::dose_df`), infinite (normal) otherwise.
pub(super) fn aggregate_df(
    cells: &[DoseCell],
    weights: &[f64],
    functional: Functional,
    psi: &[f64],
    cluster: Option<&[u32]>,
    spec: &DoseSpec,
) -> f64 {
    match spec.df {
        DoseDf::Normal => f64::INFINITY,
        DoseDf::Satterthwaite => satterthwaite_df(cells, weights, functional, psi, cluster),
    }
}

pub(super) fn finish_es(
    pieces: EsPieces,
    cells: &[DoseCell],
    cluster: Option<&[u32]>,
    spec: &DoseSpec,
) -> Result<DoseEventStudy> {
    let EsPieces {
        events,
        est,
        inf,
        weights,
        slope,
    } = pieces;
    let functional = if slope {
        Functional::AvgSlope
    } else {
        Functional::None
    };
    let post: Vec<usize> = (0..events.len()).filter(|&k| events[k] >= 0).collect();
    let n = inf.first().map_or(0, |c| c.len());
    let (overall, overall_inf) = if post.is_empty() {
        (f64::NAN, vec![f64::NAN; n])
    } else {
        let k = post.len() as f64;
        let o = post.iter().map(|&j| est[j]).sum::<f64>() / k;
        let psi = (0..n)
            .map(|i| post.iter().map(|&j| inf[j][i]).sum::<f64>() / k)
            .collect();
        (o, psi)
    };
    let ov = [overall_inf.clone()];
    let (ses, crits, _) = inference(&[&inf, &ov], cluster, spec)?;
    let df: Vec<f64> = (0..events.len())
        .map(|k| aggregate_df(cells, &weights[k], functional, &inf[k], cluster, spec))
        .collect();
    let overall_df = if post.is_empty() {
        f64::NAN
    } else {
        let k = post.len() as f64;
        let w: Vec<f64> = (0..cells.len())
            .map(|c| post.iter().map(|&j| weights[j][c]).sum::<f64>() / k)
            .collect();
        aggregate_df(cells, &w, functional, &overall_inf, cluster, spec)
    };
    Ok(DoseEventStudy {
        event: events,
        series: Series {
            est,
            se: ses[0].clone(),
            inf,
            crit: crits[0],
            df,
        },
        overall,
        overall_se: ses[1][0],
        overall_inf,
        overall_df,
    })
}

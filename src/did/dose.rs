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

// Index loops mirror the matrix formulas they implement.
#![allow(clippy::needless_range_loop)]

use faer::Mat;

pub use super::dose_data::{build_panel, DoseInput, DosePanel};
use super::dose_spline::DoseSpline;
use crate::error::{Error, Result};
use crate::inference::multiplier::{crit_value, multiplier_bootstrap, MultiplierSpec};
use crate::interrupt::Cancel;
use crate::linalg::quantile::quantile_type7;

/// Comparison units of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoseControl {
    /// Never-treated units only.
    Never,
    /// Never-treated units and cohorts not yet treated (nor anticipating) in both periods.
    NotYet,
}

/// Base period of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoseBase {
    /// Period before each pre-treatment period; g − 1 − anticipation after treatment.
    Varying,
    /// Always g − 1 − anticipation.
    Universal,
}

#[derive(Debug, Clone)]
pub struct DoseSpec {
    pub control: DoseControl,
    pub base: DoseBase,
    pub anticipation: usize,
    pub degree: usize,
    pub num_knots: usize,
    /// Doses at which the curves are evaluated; None = 50 evenly spaced over the treated doses.
    pub dvals: Option<Vec<f64>>,
    pub alpha: f64,
    /// Multiplier bootstrap (SEs and uniform bands), or None for analytic SEs only.
    pub bootstrap: Option<MultiplierSpec>,
}

/// Status of one (g,t) cell.
#[derive(Debug, Clone, PartialEq)]
pub enum DoseCellStatus {
    /// Binary ATT and dose curve estimated.
    Estimated,
    /// Binary ATT only: the cohort's doses cannot identify the spline (the reason).
    NoCurve(String),
    /// Universal base period: the reference cell (0 by construction).
    Reference,
    /// Not estimable (the reason).
    Skipped(String),
}

/// The fitted spline of one cell.
#[derive(Debug, Clone)]
struct Curve {
    att_d: Vec<f64>,
    acrt_d: Vec<f64>,
    /// Per treated unit (in `treated` order), (X'X)⁻¹ x_i e_i (length p).
    h: Vec<Vec<f64>>,
    /// Grid basis rows and derivative rows (m × p).
    grid_b: Vec<Vec<f64>>,
    grid_d: Vec<Vec<f64>>,
}

/// One (g,t) cell.
#[derive(Debug, Clone)]
pub struct DoseCell {
    pub group: i64,
    pub time: i64,
    pub base_time: i64,
    pub event: i64,
    /// Cohort position (1-based).
    gpos: usize,
    pub status: DoseCellStatus,
    /// Binary ATT(g,t) (0 for the reference cell; NaN if skipped).
    pub att: f64,
    /// Average ACRT of the cell (NaN without a curve).
    pub acrt: f64,
    pub n_treated: usize,
    pub n_control: usize,
    att_if: Vec<f64>,
    acrt_if: Vec<f64>,
    treated: Vec<usize>,
    control: Vec<usize>,
    curve: Option<Curve>,
}

/// An estimate with its influence function and inference.
#[derive(Debug, Clone)]
pub struct Series {
    pub est: Vec<f64>,
    pub se: Vec<f64>,
    /// n_units × len influence functions (column-major: `inf[j]` is column j).
    pub inf: Vec<Vec<f64>>,
    /// Uniform critical value over the series (pointwise z without the bootstrap).
    pub crit: f64,
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
}

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
    pub es_level: DoseEventStudy,
    pub es_slope: Option<DoseEventStudy>,
    pub n_treated_units: usize,
    pub n_boot_units: Option<usize>,
    pub notes: Vec<String>,
    /// The options of the fit (for event studies with another window).
    pub spec: DoseSpec,
}

/// The event study of a fit over a window (level: binary ATT(g,t); slope: average ACRT).
pub fn dose_event_study(fit: &DoseFit, slope: bool, win: &EsWindow) -> Result<DoseEventStudy> {
    let pg = cohort_probs(&fit.panel);
    let (ev, est, inf) = event_study(&fit.panel, &fit.cells, &pg, slope, win);
    if ev.is_empty() {
        return Err(Error::Option {
            name: "window".into(),
            reason: "no estimated group-time cell has an event time in the window".into(),
        });
    }
    finish_es(ev, est, inf, fit.panel.cluster.as_deref(), &fit.spec)
}

/// Quantile knots: the interior points of `num_knots + 2` evenly spaced probabilities (type 7).
fn quantile_knots(doses: &[f64], num_knots: usize) -> Vec<f64> {
    if num_knots == 0 || doses.is_empty() {
        return Vec::new();
    }
    let mut s = doses.to_vec();
    s.sort_by(f64::total_cmp);
    (1..=num_knots)
        .map(|k| quantile_type7(&s, k as f64 / (num_knots + 1) as f64))
        .collect()
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    s / n as f64
}

/// A fitted cell curve: the curve, its average ACRT and the treated units' ψ of that average.
type CurveFit = (Curve, f64, Vec<f64>);

/// Inference of column groups: SEs per group, critical value per group, bootstrap units.
type GroupInference = (Vec<Vec<f64>>, Vec<f64>, Option<usize>);

/// Fits the spline of one cell; Ok(Err(reason)) if the doses cannot identify it.
#[allow(clippy::too_many_arguments)]
fn fit_curve(
    doses: &[f64],
    dy: &[f64],
    knots: &[f64],
    degree: usize,
    dvals: &[f64],
    control_mean: f64,
    n: usize,
) -> Result<std::result::Result<CurveFit, String>> {
    let n_tr = doses.len();
    let lo = doses.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = doses.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let inner: Vec<f64> = knots
        .iter()
        .copied()
        .filter(|&k| k > lo && k < hi)
        .collect();
    // Knots that tie beyond the degree break the curve (its slope is undefined there).
    let mut i = 0;
    while i < inner.len() {
        let mut j = i;
        while j < inner.len() && inner[j] == inner[i] {
            j += 1;
        }
        if j - i > degree {
            return Err(Error::Option {
                name: "num_knots".into(),
                reason: format!(
                    "ties among the treated doses put {} interior knots at the dose {}; more than \
                     degree={degree} knots at one dose leave the slope undefined. Lower num_knots",
                    j - i,
                    inner[i]
                ),
            });
        }
        i = j;
    }
    let mut distinct = doses.to_vec();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    let p = degree + inner.len() + 1;
    if distinct.len() < p {
        return Ok(Err(format!(
            "{} distinct positive doses, the spline has {p} coefficients",
            distinct.len()
        )));
    }
    let spline = DoseSpline::new(lo, hi, &inner, degree);
    debug_assert_eq!(spline.n_coef(), p);
    let mut x = vec![vec![0.0; p]; n_tr];
    for (r, &d) in doses.iter().enumerate() {
        spline.row(d, &mut x[r]);
    }
    let xm = Mat::<f64>::from_fn(n_tr, p, |r, c| x[r][c]);
    let svd = xm
        .thin_svd()
        .map_err(|e| Error::Numerical(format!("singular value decomposition failed: {e:?}")))?;
    let s = svd.S().column_vector();
    let u = svd.U();
    let v = svd.V();
    let smax = (0..p).fold(0.0_f64, |a, k| a.max(s[k]));
    let tol = smax * (n_tr.max(p) as f64) * f64::EPSILON;
    if (0..p).filter(|&k| s[k] > tol).count() < p {
        return Ok(Err(
            "the treated doses nearly coincide or do not spread across the knots".into(),
        ));
    }
    // β = V diag(1/s) U'y; (X'X)⁻¹ = V diag(1/s²) V'.
    let mut uty = vec![0.0; p];
    for k in 0..p {
        uty[k] = (0..n_tr).map(|r| u[(r, k)] * dy[r]).sum::<f64>() / s[k];
    }
    let coef: Vec<f64> = (0..p)
        .map(|a| (0..p).map(|k| v[(a, k)] * uty[k]).sum())
        .collect();
    let mut xtx_inv = vec![vec![0.0; p]; p];
    for a in 0..p {
        for b in 0..p {
            xtx_inv[a][b] = (0..p).map(|k| v[(a, k)] * v[(b, k)] / (s[k] * s[k])).sum();
        }
    }
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let m = dvals.len();
    let mut grid_b = vec![vec![0.0; p]; m];
    let mut grid_d = vec![vec![0.0; p]; m];
    for (k, &d) in dvals.iter().enumerate() {
        spline.row(d, &mut grid_b[k]);
        spline.deriv_row(d, &mut grid_d[k]);
    }
    let att_d: Vec<f64> = grid_b
        .iter()
        .map(|b| dot(b, &coef) - control_mean)
        .collect();
    let acrt_d: Vec<f64> = grid_d.iter().map(|b| dot(b, &coef)).collect();
    let mut dr = vec![0.0; p];
    let mut deriv = vec![0.0; n_tr];
    let mut avg_deriv = vec![0.0; p];
    for (r, &d) in doses.iter().enumerate() {
        spline.deriv_row(d, &mut dr);
        deriv[r] = dot(&dr, &coef);
        for c in 0..p {
            avg_deriv[c] += dr[c] / n_tr as f64;
        }
    }
    let acrt = mean(deriv.iter().copied());
    let h: Vec<Vec<f64>> = (0..n_tr)
        .map(|r| {
            let e = dy[r] - dot(&x[r], &coef);
            (0..p).map(|a| e * dot(&xtx_inv[a], &x[r])).collect()
        })
        .collect();
    // ψ_i (treated units, in order) of the cell's average ACRT, on the full-sample scale.
    let scale = n as f64 / n_tr as f64;
    let acrt_if: Vec<f64> = (0..n_tr)
        .map(|r| scale * (deriv[r] - acrt + n_tr as f64 * dot(&h[r], &avg_deriv)))
        .collect();
    Ok(Ok((
        Curve {
            att_d,
            acrt_d,
            h,
            grid_b,
            grid_d,
        },
        acrt,
        acrt_if,
    )))
}

/// Every (g,t) cell: periods from the second (varying base) or all periods (universal),
/// cohorts that start from the second period (plus anticipation).
fn estimate_cells(
    panel: &DosePanel,
    spec: &DoseSpec,
    knots: &[f64],
    dvals: &[f64],
) -> Result<Vec<DoseCell>> {
    let n = panel.n_units();
    let t_n = panel.n_periods();
    let ant = spec.anticipation;
    let mut cohorts: Vec<usize> = panel.g.iter().copied().filter(|&g| g > 0).collect();
    cohorts.sort_unstable();
    cohorts.dedup();
    let first_t = match spec.base {
        DoseBase::Varying => 2,
        DoseBase::Universal => 1,
    };
    let cancel = Cancel::current();
    let mut cells = Vec::new();
    for tp in first_t..=t_n {
        cancel.check()?;
        for &g in &cohorts {
            let main_base = g - ant - 1; // >= 1: cohorts start after 1 + anticipation
            let base = match spec.base {
                DoseBase::Varying if tp < g - ant => tp - 1,
                _ => main_base,
            };
            let label = |pos: usize| panel.periods[pos - 1];
            let mut cell = DoseCell {
                group: label(g),
                time: label(tp),
                base_time: label(base),
                event: label(tp) - label(g),
                gpos: g,
                status: DoseCellStatus::Reference,
                att: 0.0,
                acrt: 0.0,
                n_treated: 0,
                n_control: 0,
                att_if: vec![0.0; n],
                acrt_if: vec![0.0; n],
                treated: Vec::new(),
                control: Vec::new(),
                curve: None,
            };
            if spec.base == DoseBase::Universal && tp == main_base {
                cells.push(cell);
                continue;
            }
            let latest = tp.max(base) + ant;
            let treated: Vec<usize> = (0..n).filter(|&i| panel.g[i] == g).collect();
            let control: Vec<usize> = (0..n)
                .filter(|&i| {
                    let gi = panel.g[i];
                    gi != g && (gi == 0 || (spec.control == DoseControl::NotYet && gi > latest))
                })
                .collect();
            cell.n_treated = treated.len();
            cell.n_control = control.len();
            let dy = |i: usize| panel.y_at(i, tp - 1) - panel.y_at(i, base - 1);
            if treated.is_empty() || control.is_empty() {
                cell.status = DoseCellStatus::Skipped(
                    if treated.is_empty() {
                        "no treated units"
                    } else {
                        "no comparison units"
                    }
                    .into(),
                );
                cell.att = f64::NAN;
                cell.acrt = f64::NAN;
                cells.push(cell);
                continue;
            }
            let dy_tr: Vec<f64> = treated.iter().map(|&i| dy(i)).collect();
            let dy_c: Vec<f64> = control.iter().map(|&i| dy(i)).collect();
            let m_tr = mean(dy_tr.iter().copied());
            let m_c = mean(dy_c.iter().copied());
            cell.att = m_tr - m_c;
            let (ntr, nc, nf) = (treated.len() as f64, control.len() as f64, n as f64);
            for (k, &i) in treated.iter().enumerate() {
                cell.att_if[i] = nf / ntr * (dy_tr[k] - m_tr);
            }
            for (k, &i) in control.iter().enumerate() {
                cell.att_if[i] = -nf / nc * (dy_c[k] - m_c);
            }
            let doses: Vec<f64> = treated.iter().map(|&i| panel.dose[i]).collect();
            match fit_curve(&doses, &dy_tr, knots, spec.degree, dvals, m_c, n)? {
                Ok((curve, acrt, acrt_if)) => {
                    cell.status = DoseCellStatus::Estimated;
                    cell.acrt = acrt;
                    for (k, &i) in treated.iter().enumerate() {
                        cell.acrt_if[i] = acrt_if[k];
                    }
                    cell.curve = Some(curve);
                }
                Err(reason) => {
                    cell.status = DoseCellStatus::NoCurve(reason);
                    cell.acrt = f64::NAN;
                }
            }
            cell.treated = treated;
            cell.control = control;
            cells.push(cell);
        }
    }
    Ok(cells)
}

/// Cohort shares: P(G = g) for each treated cohort position (index = position).
fn cohort_probs(panel: &DosePanel) -> Vec<f64> {
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
fn share_if(panel: &DosePanel, used: &[usize], pg: &[f64]) -> Vec<Vec<f64>> {
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
fn dose_weights(cells: &[DoseCell], pg: &[f64], estimable: &[bool]) -> Vec<f64> {
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
fn weight_term(
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

/// Analytic SE from an influence function: √(Σ_c (Σ_{i∈c} ψ_i)²) / n.
fn if_se(psi: &[f64], cluster: Option<&[u32]>) -> f64 {
    let n = psi.len() as f64;
    match cluster {
        None => psi.iter().map(|v| v * v).sum::<f64>().sqrt() / n,
        Some(cl) => {
            let g = cl.iter().map(|&c| c as usize + 1).max().unwrap_or(0);
            let mut sums = vec![0.0; g];
            for (i, &v) in psi.iter().enumerate() {
                sums[cl[i] as usize] += v;
            }
            sums.iter().map(|v| v * v).sum::<f64>().sqrt() / n
        }
    }
}

/// Inference for groups of columns sharing one bootstrap: SEs (bootstrap or analytic) and one
/// uniform critical value per group (pointwise z without the bootstrap, and never below it).
fn inference(
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

/// Event-study aggregation of the cells' binary ATT (`slope = false`) or average ACRT.
fn event_study(
    panel: &DosePanel,
    cells: &[DoseCell],
    pg: &[f64],
    slope: bool,
    win: &EsWindow,
) -> (Vec<i64>, Vec<f64>, Vec<Vec<f64>>) {
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
        est.push(att_e);
        inf.push(psi);
    }
    (events, est, inf)
}

fn finish_es(
    events: Vec<i64>,
    est: Vec<f64>,
    inf: Vec<Vec<f64>>,
    cluster: Option<&[u32]>,
    spec: &DoseSpec,
) -> Result<DoseEventStudy> {
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
    Ok(DoseEventStudy {
        event: events,
        series: Series {
            est,
            se: ses[0].clone(),
            inf,
            crit: crits[0],
        },
        overall,
        overall_se: ses[1][0],
        overall_inf,
    })
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
    no_curve.dedup();
    if !no_curve.is_empty() {
        notes.push(format!(
            "the dose curve of cohort(s) {no_curve:?} cannot be estimated (too few distinct doses \
             for the spline); they are left out of the curves and the overall ACRT (not the \
             overall ATT)"
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

    let (ev, est, inf) = event_study(&panel, &cells, &pg, false, &EsWindow::ALL);
    let es_level = finish_es(ev, est, inf, cl, spec)?;
    let (ev, est, inf) = event_study(&panel, &cells, &pg, true, &EsWindow::ALL);
    let es_slope = if ev.is_empty() {
        None
    } else {
        Some(finish_es(ev, est, inf, cl, spec)?)
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
        },
        acrt_d: Series {
            est: acrt_d,
            se: ses[1].clone(),
            inf: acrt_inf,
            crit: crits[1],
        },
        overall_att,
        overall_att_se: ses[2][0],
        overall_att_inf,
        overall_acrt,
        overall_acrt_se: ses[2][1],
        overall_acrt_inf,
        es_level,
        es_slope,
        n_treated_units,
        n_boot_units: n_boot,
        notes,
        spec: spec.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knots_are_type7_quantiles() {
        let k = quantile_knots(&[1.0, 2.0, 3.0, 4.0], 1);
        assert_eq!(k, vec![2.5]);
    }
}

//! The (g,t) cells of the continuous-dose DID (`super::dose`): comparison units, the binary
//! ATT(g,t) and its influence function, and the cell's B-spline fit in the dose (ATT_gt(d|d),
//! ACRT_gt(d|d) on the grid, the average ACRT and its influence function), as `moderndid`
//! 0.4.1 (`cont_two_by_two_subset`, `cont_did_acrt`).

// Index loops mirror the matrix formulas they implement.
#![allow(clippy::needless_range_loop)]

use faer::Mat;

use super::dose_data::DosePanel;
use super::dose_spline::DoseSpline;
use crate::error::{Error, Result};
use crate::inference::multiplier::MultiplierSpec;
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

/// Residuals of the spline fit in the influence function of the curves and the ACRT.
///
/// The reference (`moderndid`, R `contdid`) uses the OLS residuals e_i (HC0-type), whose
/// variance is σ²(1 − h_ii): with few treated units per cohort relative to the spline's
/// coefficients (h̄ = p / n_g) the spline part of the variance shrinks by (n_g − p) / n_g.
/// HC2 rescales e_i by 1/√(1 − h_ii) (unbiased under homoskedasticity; Bell & McCaffrey
/// 2002), HC3 by 1/(1 − h_ii) (the jackknife approximation; MacKinnon & White 1985).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SmallSample {
    /// OLS residuals, as the reference.
    #[default]
    None,
    Hc2,
    Hc3,
}

impl SmallSample {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Self::None),
            "hc2" => Ok(Self::Hc2),
            "hc3" => Ok(Self::Hc3),
            other => Err(Error::Option {
                name: "small_sample".into(),
                reason: format!("'{other}' is not one of 'none', 'hc2', 'hc3'"),
            }),
        }
    }

    /// Factor on a residual with leverage `h` < 1.
    fn factor(self, h: f64) -> f64 {
        match self {
            Self::None => 1.0,
            Self::Hc2 => 1.0 / (1.0 - h).sqrt(),
            Self::Hc3 => 1.0 / (1.0 - h),
        }
    }
}

/// Reference distribution of the pointwise intervals and p-values.
///
/// Each cohort's spline part of a variance is estimated from its treated units' residuals:
/// with n_g treated units and p coefficients only n_g − p residual degrees of freedom, so
/// with 1 or 2 of them the variance is unbiased (HC2) but as noisy as a chi-square with
/// that many degrees of freedom and normal intervals undercover. `Satterthwaite` uses
/// Student t with the Welch–Satterthwaite degrees of freedom of the estimated variance
/// (`super::dose_df`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DoseDf {
    /// Normal intervals, as the reference.
    #[default]
    Normal,
    Satterthwaite,
}

impl DoseDf {
    pub fn parse(s: &str, small_sample: SmallSample) -> Result<Self> {
        match s {
            "normal" => Ok(Self::Normal),
            "satterthwaite" if small_sample == SmallSample::None => Err(Error::Option {
                name: "df".into(),
                reason: "'satterthwaite' needs small_sample='hc2' or 'hc3': its degrees of \
                         freedom describe the leverage-corrected variance, not the reference's \
                         (downward-biased) one"
                    .into(),
            }),
            "satterthwaite" => Ok(Self::Satterthwaite),
            other => Err(Error::Option {
                name: "df".into(),
                reason: format!("'{other}' is not one of 'normal', 'satterthwaite'"),
            }),
        }
    }
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
    /// Leverage correction of the spline residuals in the influence functions.
    pub small_sample: SmallSample,
    /// Reference distribution of the pointwise intervals.
    pub df: DoseDf,
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
pub(super) struct Curve {
    pub(super) att_d: Vec<f64>,
    pub(super) acrt_d: Vec<f64>,
    /// Per treated unit (in `treated` order), (X'X)⁻¹ x_i e_i (length p).
    pub(super) h: Vec<Vec<f64>>,
    /// Grid basis rows and derivative rows (m × p).
    pub(super) grid_b: Vec<Vec<f64>>,
    pub(super) grid_d: Vec<Vec<f64>>,
    /// Basis rows x_i of the treated units (in `treated` order), (X'X)⁻¹, the residual
    /// factors of `SmallSample` (1 at leverage 1) and the mean basis derivative over the
    /// treated doses (the functional of the average ACRT): what the degrees of freedom of
    /// `super::dose_df` need.
    pub(super) basis: Vec<Vec<f64>>,
    pub(super) xtx_inv: Vec<Vec<f64>>,
    pub(super) factor: Vec<f64>,
    pub(super) avg_deriv: Vec<f64>,
    /// Spline coefficients p (residual degrees of freedom n_treated − p).
    pub(super) n_coef: usize,
    /// Whether some treated unit has leverage 1 (the curve interpolates it).
    pub(super) saturated: bool,
}

/// One (g,t) cell.
#[derive(Debug, Clone)]
pub struct DoseCell {
    pub group: i64,
    pub time: i64,
    pub base_time: i64,
    pub event: i64,
    /// Cohort position (1-based).
    pub(super) gpos: usize,
    pub status: DoseCellStatus,
    /// Binary ATT(g,t) (0 for the reference cell; NaN if skipped).
    pub att: f64,
    /// Average ACRT of the cell (NaN without a curve).
    pub acrt: f64,
    pub n_treated: usize,
    pub n_control: usize,
    pub(super) att_if: Vec<f64>,
    pub(super) acrt_if: Vec<f64>,
    pub(super) treated: Vec<usize>,
    pub(super) control: Vec<usize>,
    pub(super) curve: Option<Curve>,
}

/// Quantile knots: the interior points of `num_knots + 2` evenly spaced probabilities (type 7).
pub(super) fn quantile_knots(doses: &[f64], num_knots: usize) -> Vec<f64> {
    if num_knots == 0 || doses.is_empty() {
        return Vec::new();
    }
    let mut s = doses.to_vec();
    s.sort_by(f64::total_cmp);
    (1..=num_knots)
        .map(|k| quantile_type7(&s, k as f64 / (num_knots + 1) as f64))
        .collect()
}

pub(super) fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    s / n as f64
}

/// A fitted cell curve: the curve, its average ACRT and the treated units' ψ of that average.
type CurveFit = (Curve, f64, Vec<f64>);

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
    small_sample: SmallSample,
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
    let mut saturated = false;
    let mut factors = vec![1.0; n_tr];
    let h: Vec<Vec<f64>> = (0..n_tr)
        .map(|r| {
            let xi: Vec<f64> = (0..p).map(|a| dot(&xtx_inv[a], &x[r])).collect();
            let leverage = dot(&x[r], &xi);
            // h = 1: the fit passes through this unit, its residual is 0 whatever the factor
            if 1.0 - leverage <= 1e-10 {
                saturated = true;
            } else {
                factors[r] = small_sample.factor(leverage);
            }
            let e = factors[r] * (dy[r] - dot(&x[r], &coef));
            xi.iter().map(|v| e * v).collect()
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
            basis: x,
            xtx_inv,
            factor: factors,
            avg_deriv,
            n_coef: p,
            saturated,
        },
        acrt,
        acrt_if,
    )))
}

/// Every (g,t) cell: periods from the second (varying base) or all periods (universal),
/// cohorts that start from the second period (plus anticipation).
pub(super) fn estimate_cells(
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
            match fit_curve(
                &doses,
                &dy_tr,
                knots,
                spec.degree,
                dvals,
                m_c,
                n,
                spec.small_sample,
            )? {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knots_are_type7_quantiles() {
        let k = quantile_knots(&[1.0, 2.0, 3.0, 4.0], 1);
        assert_eq!(k, vec![2.5]);
    }

    /// Linear fit through three doses: HC0 residuals sum to the OLS residual sum of squares
    /// Σe² = σ̂²(n − p); HC2 rescales each by 1/√(1 − h_i), so Σ(e_i²/(1 − h_i)) over the
    /// units; the leverages of a linear fit are 1/n + (d − d̄)²/Σ(d − d̄)².
    #[test]
    fn hc2_residuals_are_scaled_by_leverage() {
        let doses = [1.0, 2.0, 4.0];
        let dy = [0.3, 0.1, 0.9];
        let fit = |ss| {
            fit_curve(&doses, &dy, &[], 1, &[2.0], 0.0, 3, ss)
                .ok()
                .and_then(|r| r.ok())
                .map(|(cv, _, _)| cv)
        };
        let (Some(hc0), Some(hc2)) = (fit(SmallSample::None), fit(SmallSample::Hc2)) else {
            panic!("the linear fit of three distinct doses is identified");
        };
        let mean = 7.0 / 3.0;
        let sxx: f64 = doses.iter().map(|d| (d - mean) * (d - mean)).sum();
        for r in 0..3 {
            let lev = 1.0 / 3.0 + (doses[r] - mean).powi(2) / sxx;
            for a in 0..2 {
                let want = hc0.h[r][a] / (1.0 - lev).sqrt();
                assert!((hc2.h[r][a] - want).abs() < 1e-12, "unit {r} coef {a}");
            }
        }
        assert!(!hc0.saturated && hc0.n_coef == 2);
        assert!(SmallSample::parse("hc1").is_err());
    }
}

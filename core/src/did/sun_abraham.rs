//! Sun & Abraham (2021, J. Econometrics 225(2)) interaction-weighted (IW) event study.
//!
//! 1. Regress y on cohort × relative-period indicators `1{G_i = g} · 1{t − g = e}` for every
//!    treated cohort g other than the control cohort and every observed relative period e except
//!    the reference period(s) (e = −1 by default), with unit and period fixed effects and optional
//!    controls (the general FE-OLS pipeline, `crate::linear::feols`). The estimated coefficients
//!    are the cohort-specific average treatment effects CATT(g, e).
//! 2. Aggregate to event time: β_e = Σ_g w_{g,e} CATT(g, e), with w_{g,e} the share of cohort g
//!    among the estimation-sample observations at relative period e of the cohorts estimated there
//!    (in a balanced panel: cohort g's share of the units treated at e). Its covariance is
//!    W V W' with V the regression's covariance (CR1 by unit by default) and the weights treated
//!    as fixed, as `fixest::aggregate` does for `sunab`; the weights' own sampling variance is
//!    ignored.
//!
//! Control cohort: the never treated (`SaControl::Never`), or the last-treated cohort
//! (`SaControl::Last`), in which case periods from its treatment on are dropped; never-treated
//! units, if any, stay in the sample as controls too. Units treated in the first period (always
//! treated, no pre-period) are dropped and counted; units whose cohort lies after the last period
//! are treated as never treated (as R `did` does).

use crate::inference::{t_table, WildBootSpec};
use ndarray::{Array1, Array2};

use crate::error::{Error, Result};
use crate::fe::DemeanSpec;
use crate::linear::{feols, FeolsFit, FeolsInput, FeolsSpec, VcovRequest, WildBoot};
use crate::panel::{Panel, TreatmentInput};

/// Which cohort serves as the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaControl {
    Never,
    Last,
}

#[derive(Debug, Clone)]
pub struct SunAbrahamSpec {
    pub control: SaControl,
    /// Relative periods normalised to zero (excluded); default `[-1]`.
    pub ref_periods: Vec<i64>,
    /// Bin relative periods below `lo` into `lo` and above `hi` into `hi` (optional).
    pub bin: Option<(i64, i64)>,
    pub vcov: VcovRequest,
    pub level: f64,
    pub demean: DemeanSpec,
}

impl Default for SunAbrahamSpec {
    fn default() -> Self {
        Self {
            control: SaControl::Never,
            ref_periods: vec![-1],
            bin: None,
            vcov: VcovRequest::Cluster(vec![0]),
            level: 0.95,
            demean: DemeanSpec::default(),
        }
    }
}

/// Columns of the regression beside the panel; row `i` is the panel's row `i`.
#[derive(Debug, Clone)]
pub struct SunAbrahamInput<'a> {
    pub y: (String, &'a [f64]),
    pub controls: Vec<(String, &'a [f64])>,
    pub clusters: Vec<(String, &'a [i64])>,
}

/// A coefficient table: estimates, standard errors, t statistics, p-values, interval.
#[derive(Debug, Clone)]
pub struct Table {
    pub estimate: Vec<f64>,
    pub std_error: Vec<f64>,
    pub statistic: Vec<f64>,
    pub p_value: Vec<f64>,
    pub conf_low: Vec<f64>,
    pub conf_high: Vec<f64>,
}

#[derive(Debug, Clone)]
pub struct SunAbraham {
    /// Cohort and relative period of each estimated CATT(g, e) (collinear ones removed).
    pub cell_cohort: Vec<i64>,
    pub cell_rel: Vec<i64>,
    /// Estimation-sample observations in each cell (the aggregation weights' numerators).
    pub cell_count: Vec<f64>,
    pub cells: Table,
    /// Covariance of the CATT(g, e), in cell order.
    pub cell_vcov: Array2<f64>,
    /// Event times with an estimate, ascending, and their IW estimates.
    pub event_time: Vec<i64>,
    pub event: Table,
    pub event_vcov: Array2<f64>,
    /// Aggregation weights: row = event time, column = cell.
    pub weights: Array2<f64>,
    /// Average effect over all post-treatment cells (e ≥ 0), observation-weighted
    /// (fixest `agg = "ATT"`), with its standard error.
    pub att: f64,
    pub att_se: f64,
    /// Control coefficients (names, estimates, standard errors).
    pub control_names: Vec<String>,
    pub control_beta: Vec<f64>,
    pub control_se: Vec<f64>,
    /// Indicator columns dropped as collinear (by name).
    pub collinear: Vec<String>,
    pub nobs: usize,
    pub n_missing: usize,
    /// Rows dropped: always-treated units; periods when the last cohort (control) is treated.
    pub n_always_treated_rows: usize,
    pub n_after_control_treated_rows: usize,
    pub control_cohort: Option<i64>,
    pub df_t: usize,
    pub n_clusters: Vec<usize>,
    /// All coefficient names of the regression (cells then controls), and the fit's vcov.
    pub coefnames: Vec<String>,
    pub vcov: Array2<f64>,
    /// The fitted regression and its columns, kept for the wild cluster bootstrap.
    regression: SaRegression,
}

/// The interacted regression as fitted: the fit, its columns (owned, so that the wild
/// bootstrap can rebuild the `FeolsInput`), each kept cell's coefficient index and the cell
/// weights of the overall ATT.
#[derive(Debug, Clone)]
struct SaRegression {
    fit: FeolsFit,
    y_name: String,
    y: Vec<f64>,
    x_names: Vec<String>,
    x: Vec<Vec<f64>>,
    unit: Vec<i64>,
    period: Vec<i64>,
    clusters: Vec<(String, Vec<i64>)>,
    valid: Vec<bool>,
    cell_coef: Vec<usize>,
    att_weights: Vec<f64>,
}

impl SaRegression {
    fn input(&self) -> FeolsInput<'_> {
        FeolsInput {
            y: (self.y_name.clone(), &self.y),
            x: self
                .x_names
                .iter()
                .cloned()
                .zip(self.x.iter().map(Vec::as_slice))
                .collect(),
            fe: vec![("unit".into(), &self.unit), ("period".into(), &self.period)],
            clusters: self
                .clusters
                .iter()
                .map(|(n, c)| (n.clone(), c.as_slice()))
                .collect(),
            weights: None,
            valid: Some(&self.valid),
        }
    }
}

impl SunAbraham {
    /// Restricted wild cluster bootstrap (WCR) of Σ_e a_e β_e = r for event-time weights
    /// `event_weights` (one per `event_time`). β_e = Σ_g w_{g,e} CATT(g, e) is linear in the
    /// regression's coefficients, so this is the WCR of the interacted regression itself for
    /// the restriction (W'a)'CATT = r (weights fixed, as in the analytic variance), clustered
    /// by the fit's first cluster variable.
    pub fn wild_bootstrap(
        &self,
        event_weights: &[f64],
        r: f64,
        spec: &WildBootSpec,
    ) -> Result<WildBoot> {
        if event_weights.len() != self.event_time.len() {
            return Err(Error::Option {
                name: "param".into(),
                reason: format!(
                    "{} weights for {} event times",
                    event_weights.len(),
                    self.event_time.len()
                ),
            });
        }
        let a = Array1::from(event_weights.to_vec());
        let cell = self.weights.t().dot(&a);
        self.wild_bootstrap_cells(cell.as_slice().unwrap_or(&[]), r, spec)
    }

    /// WCR of the overall ATT (the observation-weighted average of the post-treatment cells,
    /// `att`) = r.
    pub fn wild_bootstrap_att(&self, r: f64, spec: &WildBootSpec) -> Result<WildBoot> {
        if self.att_weights().iter().all(|&w| w == 0.0) {
            return Err(Error::Empty(
                "no post-treatment cell: the overall ATT is not estimated".into(),
            ));
        }
        self.wild_bootstrap_cells(&self.regression.att_weights, r, spec)
    }

    /// Cell weights of the overall ATT (`cell_cohort`/`cell_rel` order).
    pub fn att_weights(&self) -> &[f64] {
        &self.regression.att_weights
    }

    fn wild_bootstrap_cells(&self, cell: &[f64], r: f64, spec: &WildBootSpec) -> Result<WildBoot> {
        let reg = &self.regression;
        let mut restriction = Array1::<f64>::zeros(reg.fit.coefnames.len());
        for (&k, &c) in reg.cell_coef.iter().zip(cell) {
            restriction[k] = c;
        }
        reg.fit
            .wild_bootstrap(&reg.input(), restriction.view(), r, spec, 0)
    }
}

/// Build the panel for [`sun_abraham`] from raw columns, naming the caller's columns in errors.
/// `cohort` is the first treated period per row (0 or NaN = never treated).
pub fn sa_panel(
    unit: &[u32],
    unit_labels: Vec<String>,
    time: &[i64],
    cohort: &[f64],
    gname: &str,
    tname: &str,
) -> Result<Panel> {
    Panel::new(
        unit,
        unit_labels,
        time,
        TreatmentInput::Cohort(cohort),
        false,
    )
    .map_err(|e| match e {
        Error::Column { name, reason } if name == "cohort" => Error::Column {
            name: gname.into(),
            reason,
        },
        Error::Column { name, reason } if name == "time" => Error::Column {
            name: tname.into(),
            reason,
        },
        other => other,
    })
}

/// Name of the indicator for cohort `g` at relative period `e`.
pub fn cell_name(g: i64, e: i64) -> String {
    format!("rel::{e}:cohort::{g}")
}

/// Sun & Abraham interaction-weighted event study on a panel whose cohorts are set.
pub fn sun_abraham(
    panel: &Panel,
    input: &SunAbrahamInput,
    spec: &SunAbrahamSpec,
) -> Result<SunAbraham> {
    let n = panel.unit.len();
    if input.y.1.len() != n {
        return Err(Error::Shape(format!(
            "column '{}' has {} rows, the panel {n}",
            input.y.0,
            input.y.1.len()
        )));
    }
    if !(spec.level > 0.0 && spec.level < 1.0) {
        return Err(Error::Option {
            name: "level".into(),
            reason: format!("must be strictly between 0 and 1, got {}", spec.level),
        });
    }
    if let Some((lo, hi)) = spec.bin {
        if lo > hi || spec.ref_periods.iter().any(|&r| r <= lo || r >= hi) {
            return Err(Error::Option {
                name: "bin".into(),
                reason: format!(
                    "({lo}, {hi}) must satisfy lo < reference period(s) < hi, reference {:?}",
                    spec.ref_periods
                ),
            });
        }
    }
    let first = panel.periods[0];
    let last = *panel.periods.last().unwrap_or(&first);
    // Effective cohort per unit: None = never treated (incl. treated after the last period).
    let cohort: Vec<Option<i64>> = panel
        .cohort
        .iter()
        .map(|c| c.filter(|&g| g <= last))
        .collect();
    let always: Vec<bool> = cohort
        .iter()
        .map(|c| c.is_some_and(|g| g <= first))
        .collect();
    let mut treated_cohorts: Vec<i64> = cohort
        .iter()
        .zip(&always)
        .filter_map(|(c, &a)| if a { None } else { *c })
        .collect();
    treated_cohorts.sort_unstable();
    treated_cohorts.dedup();
    let has_never = cohort.iter().any(Option::is_none);
    let control_cohort = match spec.control {
        SaControl::Never => {
            if !has_never {
                return Err(Error::Option {
                    name: "control".into(),
                    reason: "'never': there are no never-treated units; use control='last' \
                             (the last-treated cohort as controls)"
                        .into(),
                });
            }
            None
        }
        SaControl::Last => match treated_cohorts.last() {
            Some(&g) => Some(g),
            None => {
                return Err(Error::Empty("no treated cohort in the data".into()));
            }
        },
    };
    let estimated: Vec<i64> = treated_cohorts
        .iter()
        .copied()
        .filter(|&g| Some(g) != control_cohort)
        .collect();
    if estimated.is_empty() {
        return Err(Error::Empty(
            "no treated cohort left to estimate besides the control cohort".into(),
        ));
    }

    // Sample rows and each row's cell.
    let mut valid = vec![true; n];
    let (mut n_always_rows, mut n_after_rows) = (0, 0);
    let mut row_cell: Vec<Option<(i64, i64)>> = vec![None; n];
    for i in 0..n {
        let u = panel.unit[i] as usize;
        let t = panel.periods[panel.period[i] as usize];
        if always[u] {
            valid[i] = false;
            n_always_rows += 1;
            continue;
        }
        if let Some(gc) = control_cohort {
            if t >= gc {
                valid[i] = false;
                n_after_rows += 1;
                continue;
            }
        }
        if let Some(g) = cohort[u].filter(|&g| Some(g) != control_cohort) {
            let mut e = t - g;
            if let Some((lo, hi)) = spec.bin {
                e = e.clamp(lo, hi);
            }
            if !spec.ref_periods.contains(&e) {
                row_cell[i] = Some((g, e));
            }
        }
    }
    let mut cells: Vec<(i64, i64)> = row_cell
        .iter()
        .zip(&valid)
        .filter_map(|(c, &v)| if v { *c } else { None })
        .collect();
    // Order: by relative period, then cohort (fixest's sunab order).
    cells.sort_unstable_by_key(|&(g, e)| (e, g));
    cells.dedup();
    if cells.is_empty() {
        return Err(Error::Empty(
            "no cohort × relative-period cell to estimate".into(),
        ));
    }
    let index_of = |c: (i64, i64)| {
        cells
            .binary_search_by_key(&(c.1, c.0), |&(g, e)| (e, g))
            .ok()
    };
    let mut dummies = vec![vec![0.0; n]; cells.len()];
    for i in 0..n {
        if let Some(j) = row_cell[i].and_then(index_of) {
            dummies[j][i] = 1.0;
        }
    }
    let names: Vec<String> = cells.iter().map(|&(g, e)| cell_name(g, e)).collect();
    let unit_ids: Vec<i64> = panel.unit.iter().map(|&u| i64::from(u)).collect();
    let period_ids: Vec<i64> = panel.period.iter().map(|&p| i64::from(p)).collect();
    let mut x: Vec<(String, &[f64])> = names
        .iter()
        .cloned()
        .zip(dummies.iter().map(Vec::as_slice))
        .collect();
    x.extend(input.controls.iter().cloned());
    let fe_input = FeolsInput {
        y: input.y.clone(),
        x,
        fe: vec![("unit".into(), &unit_ids), ("period".into(), &period_ids)],
        clusters: input.clusters.clone(),
        weights: None,
        valid: Some(&valid),
    };
    let fit = feols(
        &fe_input,
        &FeolsSpec {
            drop_singletons: false,
            vcov: spec.vcov.clone(),
            demean: spec.demean,
            ..FeolsSpec::default()
        },
    )?;
    let mut x_names = names.clone();
    x_names.extend(input.controls.iter().map(|(n, _)| n.clone()));
    let regression = SaRegression {
        fit,
        y_name: input.y.0.clone(),
        y: input.y.1.to_vec(),
        x_names,
        x: Vec::new(),
        unit: unit_ids,
        period: period_ids,
        clusters: input
            .clusters
            .iter()
            .map(|(n, c)| (n.clone(), c.to_vec()))
            .collect(),
        valid,
        cell_coef: Vec::new(),
        att_weights: Vec::new(),
    };
    aggregate(
        regression,
        &cells,
        &names,
        dummies,
        &input.controls,
        spec,
        (n_always_rows, n_after_rows),
        control_cohort,
    )
}

#[allow(clippy::too_many_arguments)]
fn aggregate(
    mut regression: SaRegression,
    cells: &[(i64, i64)],
    names: &[String],
    dummies: Vec<Vec<f64>>,
    controls: &[(String, &[f64])],
    spec: &SunAbrahamSpec,
    dropped: (usize, usize),
    control_cohort: Option<i64>,
) -> Result<SunAbraham> {
    let fit = &regression.fit;
    // Kept cells: position in the fit's coefficients.
    let mut kept_cells = Vec::new(); // (cell index, coef index)
    let mut kept_controls = Vec::new();
    for (k, name) in fit.coefnames.iter().enumerate() {
        match names.iter().position(|n| n == name) {
            Some(j) => kept_cells.push((j, k)),
            None => kept_controls.push(k),
        }
    }
    if kept_cells.is_empty() {
        return Err(Error::Empty(
            "every cohort × relative-period indicator is collinear with the fixed effects".into(),
        ));
    }
    let m = kept_cells.len();
    let used_rows = fit.used_rows();
    let counts: Vec<f64> = kept_cells
        .iter()
        .map(|&(j, _)| {
            dummies[j]
                .iter()
                .zip(used_rows.iter())
                .filter(|(&d, &u)| u && d != 0.0)
                .count() as f64
        })
        .collect();
    let idx: Vec<usize> = kept_cells.iter().map(|&(_, k)| k).collect();
    let cell_beta = Array1::from_iter(idx.iter().map(|&k| fit.beta[k]));
    let cell_vcov = Array2::from_shape_fn((m, m), |(a, b)| fit.vcov[[idx[a], idx[b]]]);
    let mut event_time: Vec<i64> = kept_cells.iter().map(|&(j, _)| cells[j].1).collect();
    event_time.sort_unstable();
    event_time.dedup();
    let mut weights = Array2::<f64>::zeros((event_time.len(), m));
    for (r, &e) in event_time.iter().enumerate() {
        let total: f64 = (0..m)
            .filter(|&c| cells[kept_cells[c].0].1 == e)
            .map(|c| counts[c])
            .sum();
        for c in 0..m {
            if cells[kept_cells[c].0].1 == e && total > 0.0 {
                weights[[r, c]] = counts[c] / total;
            }
        }
    }
    let event_beta = weights.dot(&cell_beta);
    let event_vcov = weights.dot(&cell_vcov).dot(&weights.t());
    // Overall ATT over post-treatment cells.
    let post_total: f64 = (0..m)
        .filter(|&c| cells[kept_cells[c].0].1 >= 0)
        .map(|c| counts[c])
        .sum();
    let (att, att_se, att_weights) = if post_total > 0.0 {
        let w = Array1::from_iter((0..m).map(|c| {
            if cells[kept_cells[c].0].1 >= 0 {
                counts[c] / post_total
            } else {
                0.0
            }
        }));
        (
            w.dot(&cell_beta),
            w.dot(&cell_vcov.dot(&w)).sqrt(),
            w.to_vec(),
        )
    } else {
        (f64::NAN, f64::NAN, vec![0.0; m])
    };
    let df = fit.df_t.max(1) as f64;
    let cell_se: Vec<f64> = cell_vcov.diag().iter().map(|v| v.sqrt()).collect();
    let event_se: Vec<f64> = event_vcov.diag().iter().map(|v| v.sqrt()).collect();
    let cells_table = table(cell_beta.to_vec(), cell_se, df, spec.level)?;
    let event_table = table(event_beta.to_vec(), event_se, df, spec.level)?;
    let collinear = fit.collinear.clone();
    let control_names: Vec<String> = kept_controls
        .iter()
        .map(|&k| fit.coefnames[k].clone())
        .collect();
    let control_beta: Vec<f64> = kept_controls.iter().map(|&k| fit.beta[k]).collect();
    let control_se: Vec<f64> = kept_controls.iter().map(|&k| fit.se[k]).collect();
    let (nobs, n_missing, df_t) = (fit.nobs, fit.n_missing, fit.df_t);
    let n_clusters = fit.n_clusters.clone();
    let coefnames = fit.coefnames.clone();
    let vcov = fit.vcov.clone();
    let mut x = dummies;
    x.extend(controls.iter().map(|(_, c)| c.to_vec()));
    regression.x = x;
    regression.cell_coef = idx;
    regression.att_weights = att_weights;
    Ok(SunAbraham {
        cell_cohort: kept_cells.iter().map(|&(j, _)| cells[j].0).collect(),
        cell_rel: kept_cells.iter().map(|&(j, _)| cells[j].1).collect(),
        cell_count: counts,
        cells: cells_table,
        cell_vcov,
        event_time,
        event: event_table,
        event_vcov,
        weights,
        att,
        att_se,
        control_names,
        control_beta,
        control_se,
        collinear,
        nobs,
        n_missing,
        n_always_treated_rows: dropped.0,
        n_after_control_treated_rows: dropped.1,
        control_cohort,
        df_t,
        n_clusters,
        coefnames,
        vcov,
        regression,
    })
}

/// Student-t table with `df` degrees of freedom (as the regression's own coefficients).
fn table(estimate: Vec<f64>, std_error: Vec<f64>, df: f64, level: f64) -> Result<Table> {
    let t = t_table(&estimate, &std_error, df, level)?;
    Ok(Table {
        estimate,
        std_error,
        statistic: t.statistic,
        p_value: t.p_value,
        conf_low: t.conf_low,
        conf_high: t.conf_high,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One treated cohort + never treated: the IW event study equals the TWFE event study
    /// (identity), and weights are one.
    #[test]
    fn one_cohort_weights_are_one_and_cells_are_event_times() {
        let (nu, t) = (12usize, 6i64);
        let (mut u, mut tt, mut g, mut y) = (vec![], vec![], vec![], vec![]);
        for i in 0..nu {
            for p in 1..=t {
                u.push(i as u32);
                tt.push(p);
                let gi = if i < 5 { 4.0 } else { 0.0 };
                g.push(gi);
                let eff = if gi > 0.0 && p >= 4 {
                    1.0 + (p - 4) as f64
                } else {
                    0.0
                };
                y.push(
                    i as f64 + 0.3 * p as f64 + eff + ((i * 7 + p as usize * 3) % 5) as f64 * 0.1,
                );
            }
        }
        let labels = (0..nu).map(|i| format!("u{i}")).collect();
        let panel = Panel::new(&u, labels, &tt, TreatmentInput::Cohort(&g), false).unwrap();
        let uid: Vec<i64> = u.iter().map(|&v| v as i64).collect();
        let input = SunAbrahamInput {
            y: ("y".into(), &y),
            controls: vec![],
            clusters: vec![("unit".into(), &uid)],
        };
        let r = sun_abraham(&panel, &input, &SunAbrahamSpec::default()).unwrap();
        assert_eq!(r.event_time, vec![-3, -2, 0, 1, 2]);
        assert_eq!(r.cell_rel, r.event_time);
        for (a, b) in r.event.estimate.iter().zip(&r.cells.estimate) {
            assert!((a - b).abs() < 1e-12);
        }
        assert!(r.weights.iter().all(|&w| w == 0.0 || w == 1.0));
        assert!((r.event_vcov[[0, 0]] - r.cell_vcov[[0, 0]]).abs() < 1e-14);
        let last = SunAbrahamSpec {
            control: SaControl::Last,
            ..SunAbrahamSpec::default()
        };
        assert!(sun_abraham(&panel, &input, &last).is_err()); // only one cohort
    }
}

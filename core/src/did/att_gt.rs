//! Callaway & Sant'Anna (2021) group-time average treatment effects ATT(g,t) for panel data,
//! numerically as R `did` 2.x (`att_gt` → `compute.att_gt` → `DRDID::drdid_panel`,
//! `std_ipw_did_panel`, `reg_did_panel`).
//!
//! For each cohort g and period t, the 2×2 comparison uses the units of cohort g and the
//! comparison units (never treated, or also not yet treated by the later of t and the base
//! period + anticipation) that are observed in both t and the base period; the outcome is the
//! change Y_t − Y_base and covariates are taken at the earlier of the two periods (R's
//! `panel2cs2`; identical for time-invariant covariates). Base period: the period before t
//! ("varying", pre-treatment cells) or the last period before g − anticipation ("universal",
//! and every post-treatment cell).
//!
//! The 2×2 estimators of one cell (doubly robust, IPW, outcome regression) are in
//! [`super::drdid`]; this module builds the cells, runs them and collects their influence
//! functions.
//!
//! Influence functions are stored per unit (n = all units in the estimation sample), scaled by
//! n / n₁ as R does (n₁ = units in the cell); analytic SE = sqrt(Σψ²)/n. With clusters the
//! analytic SEs ignore clustering (as R); use the multiplier bootstrap.
//!
//! **Unbalanced panels** are handled natively: each cell uses the units observed in both of its
//! periods (R would instead drop incomplete units, or switch to a repeated-cross-section
//! estimator with `allow_unbalanced_panel`). On a balanced panel the two coincide.

use ndarray::Array2;
use rayon::prelude::*;
use statrs::distribution::{ChiSquared, ContinuousCDF};

use super::drdid::{drdid_panel, ipw_did_panel, reg_did_panel, LogitFit, PanelFailure};
use crate::error::{Error, Result};
use crate::fe::lookup_table_fits;
use crate::inference::multiplier::{multiplier_bootstrap, MultiplierResult, MultiplierSpec};
use crate::interrupt::Cancel;
use crate::linalg::logit::weighted_logit;
use crate::linalg::{spd_inverse, symmetric_eigenvalues};

/// The unweighted propensity-score logits the cells have fitted, each with what determines it:
/// the cohort, the period whose covariates it uses and the rows (units) it was fitted on. Its
/// inputs are then the same numbers (d is 1 on the cohort's rows, x the covariates of that
/// period), so a cell that matches all three reuses the fit instead of repeating the same
/// computation: every post-treatment cell of a cohort has the cohort's last pre-treatment
/// period as its base period and, with never-treated controls on a balanced panel, the same
/// rows (mpdta with a varying base period: 12 cells, 8 distinct fits).
/// Whichever cell fits first, the numbers are the same, so the thread count changes nothing.
/// Only (cohort, period) pairs that two or more cells use are kept, so that the cache holds
/// no fit that nothing will ask for again.
struct PropensityCache {
    shared: Vec<(i64, usize)>,
    fits: std::sync::Mutex<Vec<PropensityEntry>>,
}

struct PropensityEntry {
    group: i64,
    covariate_period: usize,
    rows: Vec<usize>,
    fit: Option<LogitFit>,
}

impl PropensityCache {
    /// A cache for cells that use the covariates of the given (cohort, period) pairs, one pair
    /// per cell.
    fn new(pairs: impl IntoIterator<Item = (i64, usize)>) -> Self {
        let mut seen = Vec::new();
        let mut shared = Vec::new();
        for pair in pairs {
            if seen.contains(&pair) {
                if !shared.contains(&pair) {
                    shared.push(pair);
                }
            } else {
                seen.push(pair);
            }
        }
        PropensityCache {
            shared,
            fits: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The fit for (`group`, `covariate_period`, `rows`): the stored one, or `fit()` stored.
    fn get_or_fit(
        &self,
        group: i64,
        covariate_period: usize,
        rows: &[usize],
        fit: impl FnOnce() -> Option<LogitFit>,
    ) -> Option<LogitFit> {
        if !self.shared.contains(&(group, covariate_period)) {
            return fit();
        }
        let matches = |e: &PropensityEntry| {
            e.group == group && e.covariate_period == covariate_period && e.rows == rows
        };
        // A poisoned lock only means another cell panicked; its entries are complete.
        let fits = self.fits.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = fits.iter().find(|e| matches(e)) {
            return e.fit.clone();
        }
        drop(fits);
        let new = fit();
        let mut fits = self.fits.lock().unwrap_or_else(|e| e.into_inner());
        if !fits.iter().any(matches) {
            fits.push(PropensityEntry {
                group,
                covariate_period,
                rows: rows.to_vec(),
                fit: new.clone(),
            });
        }
        new
    }
}

/// 2×2 estimator (DRDID panel estimators).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EstMethod {
    /// Doubly robust (Sant'Anna & Zhao 2020), `DRDID::drdid_panel`.
    Dr,
    /// Normalised inverse probability weighting, `DRDID::std_ipw_did_panel`.
    Ipw,
    /// Outcome regression, `DRDID::reg_did_panel`.
    Reg,
}

impl EstMethod {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "dr" => Ok(Self::Dr),
            "ipw" => Ok(Self::Ipw),
            "reg" => Ok(Self::Reg),
            other => Err(Error::Option {
                name: "est_method".into(),
                reason: format!("'{other}' is not one of 'dr', 'ipw', 'reg'"),
            }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlGroup {
    NeverTreated,
    NotYetTreated,
}

impl ControlGroup {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "nevertreated" => Ok(Self::NeverTreated),
            "notyettreated" => Ok(Self::NotYetTreated),
            other => Err(Error::Option {
                name: "control_group".into(),
                reason: format!("'{other}' is not one of 'nevertreated', 'notyettreated'"),
            }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BasePeriod {
    Varying,
    Universal,
}

impl BasePeriod {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "varying" => Ok(Self::Varying),
            "universal" => Ok(Self::Universal),
            other => Err(Error::Option {
                name: "base_period".into(),
                reason: format!("'{other}' is not one of 'varying', 'universal'"),
            }),
        }
    }
}

/// Long-format panel columns (one entry per row).
pub struct AttGtInput<'a> {
    pub y: &'a [f64],
    /// Period of each row (integer time).
    pub time: &'a [i64],
    /// Unit code of each row, `0..n_unit_codes`.
    pub unit: &'a [u32],
    /// Cohort (first treated period) of each row; 0, NaN or ±inf = never treated.
    pub cohort: &'a [f64],
    /// Time-invariant covariates (name, column).
    pub covariates: Vec<(String, &'a [f64])>,
    /// Sampling weights (time-invariant within unit).
    pub weights: Option<&'a [f64]>,
    /// Cluster code of each row (time-invariant within unit), for the bootstrap.
    pub cluster: Option<&'a [u32]>,
    /// Column names for error messages: (yname, tname, idname, gname, weightsname, clustervar).
    pub names: [String; 6],
}

#[derive(Debug, Clone, Copy)]
pub struct AttGtSpec {
    pub control_group: ControlGroup,
    /// In units of the time variable, as R `did`.
    pub anticipation: i64,
    pub base_period: BasePeriod,
    pub est_method: EstMethod,
    /// Significance level for intervals.
    pub alpha: f64,
    /// Multiplier bootstrap (None = analytic SEs).
    pub bootstrap: Option<MultiplierSpec>,
    /// Uniform band (needs the bootstrap).
    pub cband: bool,
}

/// What happened to one (g,t) cell.
#[derive(Debug, Clone, PartialEq)]
pub enum CellStatus {
    Estimated,
    /// Universal base period: the base period itself, normalised to 0 (not estimated).
    Reference,
    /// Not estimable; the reason names g and t.
    Skipped(String),
}

#[derive(Debug, Clone)]
pub struct Cell {
    pub group: i64,
    pub time: i64,
    pub base_time: i64,
    pub post: bool,
    pub att: f64,
    pub n_treated: usize,
    pub n_control: usize,
    pub status: CellStatus,
}

/// Wald pre-test of parallel trends.
#[derive(Debug, Clone, Copy)]
pub struct PreTest {
    pub w: f64,
    pub p_value: f64,
    pub df: usize,
}

#[derive(Debug, Clone)]
pub struct AttGtFit {
    pub cells: Vec<Cell>,
    /// Influence functions, one column per cell (length n_units; zeros for skipped cells).
    pub inf: Vec<Vec<f64>>,
    /// Standard errors (bootstrap if requested); NaN for skipped / reference / degenerate cells.
    pub se: Vec<f64>,
    /// Critical value for intervals (normal quantile, or the uniform one with cband).
    pub crit_val: f64,
    pub pretest: Option<PreTest>,
    /// Why the pre-test is unavailable, if it is.
    pub pretest_note: Option<String>,
    pub n_units: usize,
    /// Per estimation unit: cohort (0 = never), weight, cluster code.
    pub unit_cohort: Vec<i64>,
    pub unit_weight: Vec<f64>,
    pub unit_cluster: Option<Vec<u32>>,
    pub groups: Vec<i64>,
    pub periods: Vec<i64>,
    pub n_rows_dropped: usize,
    pub n_units_already_treated: usize,
    pub notes: Vec<String>,
    pub bootstrap: Option<MultiplierResult>,
}

/// Per-unit data on a unit × period grid.
struct Grid {
    n: usize,
    periods: Vec<i64>,
    y: Vec<f64>, // n × T, NaN = not observed
    x: Vec<f64>, // n × T × k
    k: usize,
    cohort: Vec<i64>, // 0 = never
    weight: Vec<f64>,
    cluster: Option<Vec<u32>>,
    n_rows_dropped: usize,
    n_already: usize,
    notes: Vec<String>,
}

fn col_err(name: &str, reason: String) -> Error {
    Error::Column {
        name: name.to_string(),
        reason,
    }
}

fn build_grid(inp: &AttGtInput, spec: &AttGtSpec) -> Result<Grid> {
    let nr = inp.y.len();
    let [yname, tname, idname, gname, wname, cname] = &inp.names;
    if inp.time.len() != nr || inp.unit.len() != nr || inp.cohort.len() != nr {
        return Err(Error::Shape(
            "y, time, id and cohort columns differ in length".into(),
        ));
    }
    for (name, c) in &inp.covariates {
        if c.len() != nr {
            return Err(col_err(name, "length differs from the outcome".into()));
        }
    }
    let k = inp.covariates.len();
    let valid: Vec<bool> = (0..nr)
        .map(|r| {
            inp.y[r].is_finite()
                && inp.covariates.iter().all(|(_, c)| c[r].is_finite())
                && inp.weights.map_or(true, |w| w[r].is_finite())
        })
        .collect();
    let n_rows_dropped = valid.iter().filter(|v| !**v).count();
    let periods = distinct_sorted(inp.time, &valid);
    if periods.len() < 2 {
        return Err(col_err(tname, "need at least two periods with data".into()));
    }
    let t_first = periods[0];
    let t_last = periods[periods.len() - 1];
    let n_codes = inp.unit.iter().map(|&u| u as usize + 1).max().unwrap_or(0);
    // unit-level attributes, checked for time invariance
    let mut u_cohort: Vec<Option<f64>> = vec![None; n_codes];
    let mut u_weight: Vec<Option<f64>> = vec![None; n_codes];
    let mut u_cluster: Vec<Option<u32>> = vec![None; n_codes];
    for r in 0..nr {
        if !valid[r] {
            continue;
        }
        let u = inp.unit[r] as usize;
        let g = inp.cohort[r];
        let g = if g.is_nan() || g.is_infinite() {
            0.0
        } else {
            g
        };
        if g < 0.0 || g.fract() != 0.0 {
            return Err(col_err(
                gname,
                format!("cohort value {g} is not a non-negative whole period (0 = never treated)"),
            ));
        }
        match u_cohort[u] {
            None => u_cohort[u] = Some(g),
            Some(g0) if g0 != g => {
                return Err(col_err(
                    gname,
                    format!(
                        "cohort changes within a unit ({g0} and {g}); it must be constant per unit"
                    ),
                ));
            }
            _ => {}
        }
        if let Some(w) = inp.weights {
            if w[r] < 0.0 {
                return Err(col_err(wname, format!("negative weight {}", w[r])));
            }
            match u_weight[u] {
                None => u_weight[u] = Some(w[r]),
                Some(w0) if w0 != w[r] => {
                    return Err(col_err(
                        wname,
                        "weights must be constant within a unit".into(),
                    ));
                }
                _ => {}
            }
        }
        if let Some(c) = inp.cluster {
            match u_cluster[u] {
                None => u_cluster[u] = Some(c[r]),
                Some(c0) if c0 != c[r] => {
                    return Err(col_err(cname, "cluster must be constant within a unit (R did requires time-invariant clusters)".into()));
                }
                _ => {}
            }
        }
    }
    let mut notes = Vec::new();
    // cohorts: already treated in first period (dropped), after the last period (never)
    let mut n_already = 0;
    let mut code_to_unit = vec![usize::MAX; n_codes];
    let mut n = 0;
    let mut cohort = Vec::new();
    let mut weight = Vec::new();
    let mut cluster = Vec::new();
    let mut n_late = 0;
    for u in 0..n_codes {
        let Some(g) = u_cohort[u] else { continue };
        let mut g = g as i64;
        if g > 0 && g <= t_first + spec.anticipation {
            n_already += 1;
            continue;
        }
        if g > t_last + spec.anticipation {
            g = 0;
            n_late += 1;
        }
        code_to_unit[u] = n;
        n += 1;
        cohort.push(g);
        weight.push(u_weight[u].unwrap_or(1.0));
        cluster.push(u_cluster[u].unwrap_or(0));
    }
    if n_already > 0 {
        notes.push(format!("dropped {n_already} units already treated in the first period ({t_first}, anticipation {})", spec.anticipation));
    }
    if n_late > 0 {
        notes.push(format!(
            "{n_late} units first treated after the last period are treated as never treated"
        ));
    }
    if n == 0 {
        return Err(Error::Empty("no units left to estimate on".into()));
    }
    let tn = periods.len();
    let mut y = vec![f64::NAN; n * tn];
    let mut x = vec![0.0; n * tn * k];
    for r in 0..nr {
        if !valid[r] {
            continue;
        }
        let u = code_to_unit[inp.unit[r] as usize];
        if u == usize::MAX {
            continue;
        }
        let ti = periods
            .binary_search(&inp.time[r])
            .map_err(|_| col_err(tname, "internal period lookup".into()))?;
        if !y[u * tn + ti].is_nan() {
            return Err(col_err(idname, format!("a unit is observed more than once in period {}; ids must identify a panel (unit, {tname}) uniquely", inp.time[r])));
        }
        y[u * tn + ti] = inp.y[r];
        for (j, (_, c)) in inp.covariates.iter().enumerate() {
            x[(u * tn + ti) * k + j] = c[r];
        }
    }
    let _ = yname;
    Ok(Grid {
        n,
        periods,
        y,
        x,
        k,
        cohort,
        weight,
        cluster: inp.cluster.map(|_| cluster),
        n_rows_dropped,
        n_already,
        notes,
    })
}

/// The distinct values of the rows marked valid, ascending. Periods in a compact range (years,
/// period numbers: the usual case) are marked in a table in one pass; others are sorted and
/// deduplicated (a sort of every row was most of the grid's cost at millions of rows).
fn distinct_sorted(values: &[i64], valid: &[bool]) -> Vec<i64> {
    let kept = || {
        values
            .iter()
            .zip(valid)
            .filter(|(_, &ok)| ok)
            .map(|(&v, _)| v)
    };
    let Some((lo, hi)) = kept().fold(None, |acc: Option<(i64, i64)>, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    }) else {
        return Vec::new();
    };
    let span = (hi as i128 - lo as i128) as u128;
    if lookup_table_fits(span, values.len()) {
        let mut seen = vec![false; span as usize + 1];
        kept().for_each(|v| seen[(v - lo) as usize] = true);
        (0..=span as usize)
            .filter(|&k| seen[k])
            .map(|k| lo + k as i64)
            .collect()
    } else {
        let mut out: Vec<i64> = kept().collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// ATT(g,t) for every cohort and period, with influence functions, SEs and the pre-test.
pub fn att_gt(inp: &AttGtInput, spec: &AttGtSpec) -> Result<AttGtFit> {
    if spec.anticipation < 0 {
        return Err(Error::Option {
            name: "anticipation".into(),
            reason: format!("must be >= 0, got {}", spec.anticipation),
        });
    }
    if !(spec.alpha > 0.0 && spec.alpha < 1.0) {
        return Err(Error::Option {
            name: "alp".into(),
            reason: format!("must be in (0, 1), got {}", spec.alpha),
        });
    }
    if spec.cband && spec.bootstrap.is_none() {
        return Err(Error::Option {
            name: "cband".into(),
            reason: "a uniform confidence band needs the multiplier bootstrap (bstrap=True)".into(),
        });
    }
    let mut grid = build_grid(inp, spec)?;
    let gname = &inp.names[3];
    let mut glist: Vec<i64> = grid.cohort.iter().copied().filter(|&g| g > 0).collect();
    glist.sort_unstable();
    glist.dedup();
    if glist.is_empty() {
        return Err(col_err(
            gname,
            "no treated units (every cohort is 0 / never treated)".into(),
        ));
    }
    let has_never = grid.cohort.contains(&0);
    let mut n_periods = grid.periods.len();
    if !has_never {
        match spec.control_group {
            ControlGroup::NeverTreated => {
                return Err(Error::Option {
                    name: "control_group".into(),
                    reason: "'nevertreated' but there are no never-treated units; use control_group='notyettreated'".into(),
                });
            }
            ControlGroup::NotYetTreated => {
                if glist.len() == 1 {
                    return Err(Error::Option {
                        name: "control_group".into(),
                        reason: format!("'notyettreated' but every unit is treated at the same time ({}); there are no comparison units", glist[0]),
                    });
                }
                // R did: the last cohort becomes the comparison group; periods from its
                // treatment (minus anticipation) on are dropped.
                let g_last = *glist.last().unwrap_or(&0);
                let keep = grid
                    .periods
                    .iter()
                    .filter(|&&t| t < g_last - spec.anticipation)
                    .count();
                if keep < 2 {
                    return Err(Error::Option {
                        name: "control_group".into(),
                        reason: "'notyettreated' without never-treated units leaves fewer than two periods".into(),
                    });
                }
                grid.notes.push(format!("no never-treated units: cohort {g_last} is used as never treated and periods from {} on are dropped (as R did)", g_last - spec.anticipation));
                for g in grid.cohort.iter_mut() {
                    if *g == g_last {
                        *g = 0;
                    }
                }
                glist.pop();
                n_periods = keep;
            }
        }
    }
    if grid.n_rows_dropped > 0 {
        grid.notes.push(format!(
            "{} rows with a missing outcome, covariate or weight were dropped",
            grid.n_rows_dropped
        ));
    }
    if grid.cluster.is_some() && spec.bootstrap.is_none() {
        grid.notes.push(
            "clustering needs the multiplier bootstrap (bstrap=True): the analytic standard \
             errors are NOT clustered (as R did)"
                .into(),
        );
    }
    let grid = grid;
    let periods = &grid.periods[..n_periods];
    let tn = grid.periods.len();

    // cell definitions in R's order (g-major)
    let tfac = match spec.base_period {
        BasePeriod::Varying => 1,
        BasePeriod::Universal => 0,
    };
    struct Def {
        g: i64,
        ti: usize,
        bi: Option<usize>,
    }
    let mut defs = Vec::new();
    for &g in &glist {
        let last_pre = periods.iter().rposition(|&t| t + spec.anticipation < g);
        for (ti, &pt) in periods.iter().enumerate().skip(tfac) {
            let post = g <= pt;
            let bi = if post || spec.base_period == BasePeriod::Universal {
                last_pre
            } else {
                Some(ti - 1)
            };
            defs.push(Def { g, ti, bi });
        }
    }
    let n = grid.n;
    // one 2x2 DID per cell: a Ctrl-C stops the remaining cells
    let cancel = Cancel::current();
    // Reference cells (base period = period) fit no logit.
    let propensity = PropensityCache::new(defs.iter().filter_map(|d| {
        d.bi.filter(|&b| b != d.ti)
            .map(|b| (d.g, covariate_period(d.ti, b)))
    }));
    let results: Vec<(Cell, Option<Vec<f64>>)> = defs
        .par_iter()
        .map(|d| {
            cancel.check()?;
            compute_cell(&grid, spec, d.g, d.ti, d.bi, periods, &propensity)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut cells = Vec::with_capacity(results.len());
    let mut inf = Vec::with_capacity(results.len());
    for (c, f) in results {
        cells.push(c);
        inf.push(f.unwrap_or_else(|| vec![0.0; n]));
    }
    let _ = tn;
    let tol = f64::EPSILON.sqrt() * 10.0;
    let nf = n as f64;
    let mut se: Vec<f64> = cells
        .iter()
        .zip(&inf)
        .map(|(c, f)| {
            if c.status != CellStatus::Estimated {
                return f64::NAN;
            }
            let s = f.iter().map(|v| v * v).sum::<f64>().sqrt() / nf;
            if s <= tol {
                f64::NAN
            } else {
                s
            }
        })
        .collect();

    // Wald pre-test (analytic covariance), R: pre = group > t, dropping zero/NA variances
    let pre: Vec<usize> = (0..cells.len())
        .filter(|&j| cells[j].group > cells[j].time && se[j].is_finite())
        .collect();
    let (pretest, pretest_note) = wald_pretest(&cells, &inf, &pre, n);

    // alpha is checked to be in (0, 1) above.
    let normal_crit = crate::inference::dist::normal_quantile(1.0 - spec.alpha / 2.0, "alp")?;
    let mut crit_val = normal_crit;
    let mut boot = None;
    if let Some(bs) = &spec.bootstrap {
        let usable: Vec<usize> = (0..cells.len()).filter(|&j| se[j].is_finite()).collect();
        if !usable.is_empty() {
            let cols: Vec<&[f64]> = usable.iter().map(|&j| inf[j].as_slice()).collect();
            let mut bs = *bs;
            bs.alpha = spec.alpha;
            let out = multiplier_bootstrap(&cols, grid.cluster.as_deref(), &bs)?;
            for (k, &j) in usable.iter().enumerate() {
                se[j] = out.se[k];
            }
            if spec.cband {
                crit_val = out.crit_val;
            }
            boot = Some(out);
        }
    }
    Ok(AttGtFit {
        cells,
        inf,
        se,
        crit_val,
        pretest,
        pretest_note,
        n_units: n,
        unit_cohort: grid.cohort.clone(),
        unit_weight: grid.weight.clone(),
        unit_cluster: grid.cluster.clone(),
        groups: glist,
        periods: periods.to_vec(),
        n_rows_dropped: grid.n_rows_dropped,
        n_units_already_treated: grid.n_already,
        notes: grid.notes.clone(),
        bootstrap: boot,
    })
}

fn wald_pretest(
    cells: &[Cell],
    inf: &[Vec<f64>],
    pre: &[usize],
    n: usize,
) -> (Option<PreTest>, Option<String>) {
    if pre.is_empty() {
        return (None, Some("no pre-treatment cells to test".into()));
    }
    let q = pre.len();
    let nf = n as f64;
    let mut v = Array2::<f64>::zeros((q, q));
    for a in 0..q {
        for b in a..q {
            let s: f64 = inf[pre[a]]
                .iter()
                .zip(&inf[pre[b]])
                .map(|(x, y)| x * y)
                .sum::<f64>()
                / nf;
            v[[a, b]] = s;
            v[[b, a]] = s;
        }
    }
    // R declines when the covariance is (numerically) singular
    if let Ok(ev) = symmetric_eigenvalues(v.view()) {
        let (lo, hi) = (ev[0], ev[ev.len() - 1]);
        if lo.is_nan() || lo <= hi * f64::EPSILON {
            return (
                None,
                Some("singular covariance of the pre-treatment ATTs".into()),
            );
        }
    }
    let Ok(vi) = spd_inverse(v.view()) else {
        return (
            None,
            Some("singular covariance of the pre-treatment ATTs".into()),
        );
    };
    let att: Vec<f64> = pre.iter().map(|&j| cells[j].att).collect();
    let mut w = 0.0;
    for a in 0..q {
        for b in 0..q {
            w += att[a] * vi[[a, b]] * att[b];
        }
    }
    w *= nf;
    let p = match ChiSquared::new(q as f64) {
        Ok(d) => 1.0 - d.cdf(w),
        Err(_) => f64::NAN,
    };
    (
        Some(PreTest {
            w,
            p_value: p,
            df: q,
        }),
        None,
    )
}

/// The period whose covariates a cell uses: the earlier of its period `ti` and its base
/// period `bi`.
fn covariate_period(ti: usize, bi: usize) -> usize {
    ti.min(bi)
}

#[allow(clippy::too_many_arguments)]
fn compute_cell(
    grid: &Grid,
    spec: &AttGtSpec,
    g: i64,
    ti: usize,
    bi: Option<usize>,
    periods: &[i64],
    propensity: &PropensityCache,
) -> Result<(Cell, Option<Vec<f64>>)> {
    let t = periods[ti];
    let post = g <= t;
    let mut cell = Cell {
        group: g,
        time: t,
        base_time: bi.map_or(t, |b| periods[b]),
        post,
        att: f64::NAN,
        n_treated: 0,
        n_control: 0,
        status: CellStatus::Estimated,
    };
    let Some(bi) = bi else {
        cell.status = CellStatus::Skipped(format!(
            "group {g}, period {t}: no pre-treatment period for this cohort"
        ));
        return Ok((cell, None));
    };
    if bi == ti {
        cell.att = 0.0;
        cell.status = CellStatus::Reference;
        return Ok((cell, None));
    }
    let tn = grid.periods.len();
    let later = periods[ti.max(bi)];
    let k = grid.k;
    let k1 = k + 1;
    let early = covariate_period(ti, bi);
    let mut idx = Vec::new();
    let mut dy = Vec::new();
    let mut d = Vec::new();
    let mut w = Vec::new();
    let mut x = Vec::new();
    for u in 0..grid.n {
        let gu = grid.cohort[u];
        let is_g = gu == g;
        let is_c = match spec.control_group {
            ControlGroup::NeverTreated => gu == 0,
            ControlGroup::NotYetTreated => gu == 0 || (gu > later + spec.anticipation && gu != g),
        };
        if !(is_g || is_c) {
            continue;
        }
        let yt = grid.y[u * tn + ti];
        let yb = grid.y[u * tn + bi];
        if yt.is_nan() || yb.is_nan() {
            continue;
        }
        idx.push(u);
        dy.push(yt - yb);
        d.push(if is_g { 1.0 } else { 0.0 });
        w.push(grid.weight[u]);
        x.push(1.0);
        x.extend_from_slice(&grid.x[(u * tn + early) * k..(u * tn + early) * k + k]);
    }
    let n1 = idx.len();
    cell.n_treated = d.iter().filter(|&&v| v == 1.0).count();
    cell.n_control = n1 - cell.n_treated;
    if cell.n_treated == 0 {
        cell.status = CellStatus::Skipped(format!(
            "group {g}, period {t}: no units of the cohort observed in periods {t} and {}",
            periods[bi]
        ));
        return Ok((cell, None));
    }
    if cell.n_control == 0 {
        cell.status = CellStatus::Skipped(format!(
            "group {g}, period {t}: no available control units observed in periods {t} and {}",
            periods[bi]
        ));
        return Ok((cell, None));
    }
    // R's pre-checks: unweighted logit pscore < 0.999 (dr, ipw); rcond(X_c'X_c) >= eps (dr, reg)
    let mut unweighted_logit = None;
    if matches!(spec.est_method, EstMethod::Dr | EstMethod::Ipw) {
        // Without sampling weights the unit weights are already the ones R's pre-check uses.
        let ones;
        let unit_weights = if w.iter().all(|&v| v == 1.0) {
            &w
        } else {
            ones = vec![1.0; n1];
            &ones
        };
        unweighted_logit =
            propensity.get_or_fit(g, early, &idx, || weighted_logit(&x, &d, unit_weights, k1));
        let ok = match &unweighted_logit {
            Some((_, p, _)) => p.iter().all(|&v| v < 0.999),
            None => false,
        };
        if !ok {
            cell.status = CellStatus::Skipped(format!(
                "group {g}, period {t}: overlap condition violated (propensity score >= 0.999)"
            ));
            return Ok((cell, None));
        }
    }
    if matches!(spec.est_method, EstMethod::Dr | EstMethod::Reg) {
        let mut xtx = Array2::<f64>::zeros((k1, k1));
        for i in 0..n1 {
            if d[i] == 0.0 {
                let xi = &x[i * k1..(i + 1) * k1];
                for a in 0..k1 {
                    for b in 0..k1 {
                        xtx[[a, b]] += xi[a] * xi[b];
                    }
                }
            }
        }
        let ok = symmetric_eigenvalues(xtx.view())
            .map(|ev| ev[0] > ev[k1 - 1] * f64::EPSILON)
            .unwrap_or(false);
        if !ok {
            cell.status = CellStatus::Skipped(format!(
                "group {g}, period {t}: not enough control units to run the outcome regression"
            ));
            return Ok((cell, None));
        }
    }
    // normalise weights within the cell (DRDID)
    let wm = w.iter().sum::<f64>() / n1 as f64;
    if wm.is_nan() || wm <= 0.0 {
        cell.status = CellStatus::Skipped(format!("group {g}, period {t}: weights sum to zero"));
        return Ok((cell, None));
    }
    for v in w.iter_mut() {
        *v /= wm;
    }
    // Without sampling weights (all exactly 1 after normalising) the estimator's own logit
    // is the pre-check's, the same call on the same numbers: reuse it.
    let logit = unweighted_logit.filter(|_| w.iter().all(|&v| v == 1.0));
    let est = match spec.est_method {
        EstMethod::Dr => drdid_panel(&dy, &d, &x, &w, k1, logit),
        EstMethod::Ipw => ipw_did_panel(&dy, &d, &x, &w, k1, logit),
        EstMethod::Reg => reg_did_panel(&dy, &d, &x, &w, k1),
    };
    let (att, psi) = match est {
        Ok(v) => v,
        Err(PanelFailure::Singular) => {
            cell.status = CellStatus::Skipped(format!(
                "group {g}, period {t}: the propensity-score or outcome regression failed \
                 (singular)"
            ));
            return Ok((cell, None));
        }
        Err(PanelFailure::ControlsTrimmed) => {
            cell.status = CellStatus::Skipped(format!(
                "group {g}, period {t}: every comparison unit has a propensity score of at \
                 least 0.995 and is trimmed (DRDID), so no comparison is left"
            ));
            return Ok((cell, None));
        }
    };
    let scale = grid.n as f64 / n1 as f64;
    let mut full = vec![0.0; grid.n];
    for (i, &u) in idx.iter().enumerate() {
        full[u] = psi[i] * scale;
    }
    cell.att = att;
    Ok((cell, Some(full)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pair that two cells use is fitted once for the same rows and again for other rows; a
    /// pair that one cell uses is never stored.
    #[test]
    fn propensity_fits_are_shared_only_where_the_inputs_are_the_same() {
        let cache = PropensityCache::new([(2004, 0), (2004, 0), (2006, 1)]);
        let calls = std::cell::Cell::new(0);
        let fit = |beta: f64| {
            calls.set(calls.get() + 1);
            Some((vec![beta], vec![0.5], Array2::from_elem((1, 1), 1.0)))
        };
        let rows = [0, 1, 2];
        let first = cache.get_or_fit(2004, 0, &rows, || fit(1.0));
        let again = cache.get_or_fit(2004, 0, &rows, || fit(2.0));
        assert_eq!(calls.get(), 1);
        assert_eq!(first.unwrap().0, again.unwrap().0);
        let other_rows = cache.get_or_fit(2004, 0, &[0, 1], || fit(3.0));
        assert_eq!((calls.get(), other_rows.unwrap().0), (2, vec![3.0]));
        cache.get_or_fit(2006, 1, &rows, || fit(4.0));
        cache.get_or_fit(2006, 1, &rows, || fit(5.0));
        assert_eq!(calls.get(), 4);
        let stored = cache.fits.lock().unwrap();
        assert!(stored
            .iter()
            .all(|e| (e.group, e.covariate_period) == (2004, 0)));
    }

    /// Distinct periods: the table path (compact range, with invalid rows left out) and the
    /// sort path (a wide range) give the sorted distinct values.
    #[test]
    fn distinct_periods_on_both_paths() {
        let v = [2005, 2003, 2005, 2007, 1990, 2003];
        let ok = [true, true, true, true, false, true];
        assert_eq!(distinct_sorted(&v, &ok), vec![2003, 2005, 2007]);
        let wide = [i64::MAX, -5, i64::MIN, -5];
        assert_eq!(
            distinct_sorted(&wide, &[true; 4]),
            vec![i64::MIN, -5, i64::MAX]
        );
        assert!(distinct_sorted(&v, &[false; 6]).is_empty());
    }
}

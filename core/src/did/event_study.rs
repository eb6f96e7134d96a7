//! TWFE event study: leads and lags of event time e = t − g around each treated unit's cohort
//! g, unit and period fixed effects, clustered standard errors, and a joint Wald pre-trend test.
//!
//! Design (fixest's `feols(y ~ i(rel_time, ref = -1) | unit + year)` with never-treated units
//! coded to the reference):
//! - one dummy per event time e (after binning) for eventually-treated units, except the
//!   reference event time(s) (default −1);
//! - never-treated units (cohort 0, NaN or ±inf) have every dummy zero: they are controls;
//! - `bin_lo` / `bin_hi`: e ≤ bin_lo is pooled into one dummy labelled bin_lo, e ≥ bin_hi into
//!   one labelled bin_hi (binned endpoints);
//! - `window = (lo, hi)`: rows of treated units with e < lo or e > hi are dropped (counted in
//!   `n_outside_window`), so that only never-treated units, not-yet-treated periods inside the
//!   window and the treated window itself identify the coefficients;
//! - controls enter linearly; the regression is `crate::linear::feols`.
//!
//! The pre-trend test is the Wald test of all lead coefficients (e < 0, not a reference) = 0
//! with the fit's vcov: W = b'V⁻¹b, F = W/q with p-value from F(q, df_t) where df_t = G − 1
//! when clustered (N − df_k otherwise), and χ²(q) for W.

use ndarray::{Array1, Array2};
use statrs::distribution::ContinuousCDF;

use crate::error::{Error, Result};
use crate::fe::DemeanSpec;
use crate::inference::WildBootSpec;
use crate::linear::{feols, ConleyRequest, FeolsFit, FeolsInput, FeolsSpec, VcovRequest, WildBoot};

/// Columns of a staggered-adoption panel. Row i of every slice is the same observation.
#[derive(Debug, Clone)]
pub struct EventStudyData<'a> {
    pub y: (String, &'a [f64]),
    pub unit: &'a [i64],
    pub time: &'a [i64],
    /// First treated period (same unit as `time`); 0, NaN or ±inf = never treated.
    pub cohort: &'a [f64],
    pub controls: Vec<(String, &'a [f64])>,
    /// Cluster ids for the variance (usually the unit).
    pub cluster: Option<(String, &'a [i64])>,
    /// Rows known to be unusable (e.g. a missing id): false = drop (counted as missing).
    pub valid: Option<&'a [bool]>,
}

impl EventStudyData<'_> {
    pub fn n_rows(&self) -> usize {
        self.y.1.len()
    }

    /// Checks lengths and cohorts; returns each row's cohort (None = never treated).
    pub fn cohorts(&self) -> Result<Vec<Option<i64>>> {
        let n = self.n_rows();
        if n == 0 {
            return Err(Error::Empty("no rows: the data are empty".into()));
        }
        let check = |name: &str, len: usize| -> Result<()> {
            if len != n {
                return Err(Error::Shape(format!(
                    "column '{name}' has {len} rows, expected {n}"
                )));
            }
            Ok(())
        };
        check("unit", self.unit.len())?;
        check("time", self.time.len())?;
        check("cohort", self.cohort.len())?;
        for (name, c) in &self.controls {
            check(name, c.len())?;
        }
        if let Some((name, c)) = &self.cluster {
            check(name, c.len())?;
        }
        if let Some(v) = self.valid {
            check("valid", v.len())?;
        }
        self.cohort
            .iter()
            .map(|&g| {
                if g.is_nan() || g.is_infinite() || g == 0.0 {
                    Ok(None)
                } else if g.fract() != 0.0 {
                    Err(Error::Column {
                        name: "cohort".into(),
                        reason: format!("first treated period must be a whole number, got {g}"),
                    })
                } else {
                    Ok(Some(g as i64))
                }
            })
            .collect()
    }

    /// Rows with every used value present (y, controls, valid flag).
    pub fn complete_rows(&self) -> Vec<bool> {
        let n = self.n_rows();
        let mut ok: Vec<bool> = self.valid.map_or_else(|| vec![true; n], <[bool]>::to_vec);
        for (_, c) in std::iter::once(&self.y).chain(&self.controls) {
            ok.iter_mut()
                .zip(c.iter())
                .for_each(|(o, v)| *o &= v.is_finite());
        }
        ok
    }
}

/// Binning and reference periods shared by the event-study designs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTimeSpec {
    /// Event times normalised to zero (no dummy). Default `[-1]`.
    pub ref_periods: Vec<i64>,
    /// e ≤ bin_lo pooled into one dummy labelled bin_lo.
    pub bin_lo: Option<i64>,
    /// e ≥ bin_hi pooled into one dummy labelled bin_hi.
    pub bin_hi: Option<i64>,
    /// Rows of treated units with e outside [lo, hi] are dropped.
    pub window: Option<(i64, i64)>,
}

impl Default for EventTimeSpec {
    fn default() -> Self {
        Self {
            ref_periods: vec![-1],
            bin_lo: None,
            bin_hi: None,
            window: None,
        }
    }
}

impl EventTimeSpec {
    fn check(&self) -> Result<()> {
        if let (Some(lo), Some(hi)) = (self.bin_lo, self.bin_hi) {
            if lo >= hi {
                return Err(Error::Option {
                    name: "bin_lo".into(),
                    reason: format!("must be below bin_hi ({hi}), got {lo}"),
                });
            }
        }
        if let Some((lo, hi)) = self.window {
            if lo > hi {
                return Err(Error::Option {
                    name: "window".into(),
                    reason: format!("lower end {lo} is above upper end {hi}"),
                });
            }
        }
        Ok(())
    }

    /// Binned event time of a treated row, or None if the row falls outside the window.
    pub fn label(&self, e: i64) -> Option<i64> {
        if let Some((lo, hi)) = self.window {
            if e < lo || e > hi {
                return None;
            }
        }
        let mut e = e;
        if let Some(lo) = self.bin_lo {
            e = e.max(lo);
        }
        if let Some(hi) = self.bin_hi {
            e = e.min(hi);
        }
        Some(e)
    }
}

/// Event-time dummies for `rows` (indices into the data): sorted event times (references
/// excluded) and one 0/1 column per event time, plus the number of rows outside the window.
pub(crate) struct EventDummies {
    pub event_time: Vec<i64>,
    pub columns: Vec<Vec<f64>>,
    /// Binned event time per kept row (None for never-treated rows).
    pub label: Vec<Option<i64>>,
    /// Kept rows (indices into the data).
    pub rows: Vec<usize>,
    pub n_outside_window: usize,
}

pub(crate) fn event_dummies(
    data: &EventStudyData,
    cohort: &[Option<i64>],
    candidate: &[bool],
    spec: &EventTimeSpec,
) -> Result<EventDummies> {
    spec.check()?;
    let mut rows = Vec::new();
    let mut label = Vec::new();
    let mut n_outside_window = 0;
    for i in 0..data.n_rows() {
        if !candidate[i] {
            continue;
        }
        match cohort[i] {
            None => {
                rows.push(i);
                label.push(None);
            }
            Some(g) => match spec.label(data.time[i] - g) {
                Some(e) => {
                    rows.push(i);
                    label.push(Some(e));
                }
                None => n_outside_window += 1,
            },
        }
    }
    let mut event_time: Vec<i64> = label
        .iter()
        .flatten()
        .copied()
        .filter(|e| !spec.ref_periods.contains(e))
        .collect();
    event_time.sort_unstable();
    event_time.dedup();
    let index = |e: i64| event_time.binary_search(&e).ok();
    let mut columns = vec![vec![0.0; rows.len()]; event_time.len()];
    for (r, l) in label.iter().enumerate() {
        if let Some(j) = l.and_then(index) {
            columns[j][r] = 1.0;
        }
    }
    Ok(EventDummies {
        event_time,
        columns,
        label,
        rows,
        n_outside_window,
    })
}

/// Settings of the TWFE event study.
#[derive(Debug, Clone)]
pub struct TwfeEventSpec {
    pub event: EventTimeSpec,
    /// Iid, Hetero, Cluster(vec![0]) (clustered by `EventStudyData::cluster`) or Conley (its
    /// columns over the data's rows; unit and time default to the event study's).
    pub vcov: VcovRequest,
    pub demean: DemeanSpec,
}

impl Default for TwfeEventSpec {
    fn default() -> Self {
        Self {
            event: EventTimeSpec::default(),
            vcov: VcovRequest::Cluster(vec![0]),
            demean: DemeanSpec::default(),
        }
    }
}

pub use crate::inference::{wald_test, WaldTest};

/// Pointwise confidence bounds `estimate ± c·se` at `level`, with c from Student's t with
/// `df` degrees of freedom, or from the normal distribution when `df` is None.
pub fn conf_bounds(
    estimate: &[f64],
    se: &[f64],
    level: f64,
    df: Option<usize>,
) -> Result<(Vec<f64>, Vec<f64>)> {
    use statrs::distribution::{Normal, StudentsT};
    if !(level > 0.0 && level < 1.0) {
        return Err(Error::Option {
            name: "level".into(),
            reason: format!("must be strictly between 0 and 1, got {level}"),
        });
    }
    let p = 0.5 + level / 2.0;
    let crit = match df {
        Some(d) => StudentsT::new(0.0, 1.0, d.max(1) as f64)
            .map_err(|e| Error::Numerical(format!("Student t with {d} df: {e}")))?
            .inverse_cdf(p),
        None => Normal::standard().inverse_cdf(p),
    };
    Ok((
        estimate.iter().zip(se).map(|(b, s)| b - crit * s).collect(),
        estimate.iter().zip(se).map(|(b, s)| b + crit * s).collect(),
    ))
}

/// The regression's columns, owned, so that post-estimation (wild bootstrap) can rebuild
/// the `FeolsInput` the model was fitted on.
#[derive(Debug, Clone)]
struct OwnedDesign {
    y_name: String,
    y: Vec<f64>,
    x_names: Vec<String>,
    x: Vec<Vec<f64>>,
    unit: Vec<i64>,
    time: Vec<i64>,
    cluster: Option<(String, Vec<i64>)>,
    valid: Vec<bool>,
}

impl OwnedDesign {
    fn input(&self) -> FeolsInput<'_> {
        FeolsInput {
            y: (self.y_name.clone(), &self.y),
            x: self
                .x_names
                .iter()
                .cloned()
                .zip(self.x.iter().map(Vec::as_slice))
                .collect(),
            fe: vec![("unit".into(), &self.unit), ("time".into(), &self.time)],
            clusters: self
                .cluster
                .iter()
                .map(|(n, c)| (n.clone(), c.as_slice()))
                .collect(),
            weights: None,
            valid: Some(&self.valid),
        }
    }
}

/// A fitted TWFE event study.
#[derive(Debug, Clone)]
pub struct TwfeEventStudy {
    /// Estimated event times (sorted; references excluded; collinear ones removed).
    pub event_time: Vec<i64>,
    pub estimate: Vec<f64>,
    pub se: Vec<f64>,
    /// Covariance of the event-time coefficients (in `event_time` order).
    pub vcov: Array2<f64>,
    /// Event times whose dummy was dropped as collinear.
    pub collinear_event_time: Vec<i64>,
    pub ref_periods: Vec<i64>,
    /// Rows of treated units dropped because their event time is outside `window`.
    pub n_outside_window: usize,
    /// Treated (post) rows per estimated event time.
    pub n_obs_event_time: Vec<usize>,
    /// Joint test of all leads = 0 (None when there are no leads).
    pub pretrend: Option<WaldTest>,
    /// The underlying fixed-effects regression (controls' coefficients included).
    pub fit: FeolsFit,
    design: OwnedDesign,
}

fn term_name(e: i64) -> String {
    format!("rel_time::{e}")
}

/// TWFE event study (see the module documentation), fitted with `crate::linear::feols`.
pub fn twfe_event_study(data: &EventStudyData, spec: &TwfeEventSpec) -> Result<TwfeEventStudy> {
    let cohort = data.cohorts()?;
    if cohort.iter().all(Option::is_none) {
        return Err(Error::Column {
            name: "cohort".into(),
            reason: "no unit is ever treated".into(),
        });
    }
    if matches!(spec.vcov, VcovRequest::Cluster(_)) && data.cluster.is_none() {
        return Err(Error::Option {
            name: "vcov".into(),
            reason: "clustered standard errors need a cluster variable".into(),
        });
    }
    let all = vec![true; data.n_rows()];
    let d = event_dummies(data, &cohort, &all, &spec.event)?;
    if d.event_time.is_empty() {
        return Err(Error::Empty(
            "no event-time dummies left after removing the reference period(s)".into(),
        ));
    }
    let take_f = |c: &[f64]| -> Vec<f64> { d.rows.iter().map(|&i| c[i]).collect() };
    let take_i = |c: &[i64]| -> Vec<i64> { d.rows.iter().map(|&i| c[i]).collect() };
    let mut x_names: Vec<String> = d.event_time.iter().map(|&e| term_name(e)).collect();
    let mut x = d.columns;
    for (name, c) in &data.controls {
        x_names.push(name.clone());
        x.push(take_f(c));
    }
    let design = OwnedDesign {
        y_name: data.y.0.clone(),
        y: take_f(data.y.1),
        x_names,
        x,
        unit: take_i(data.unit),
        time: take_i(data.time),
        cluster: data.cluster.as_ref().map(|(n, c)| (n.clone(), take_i(c))),
        valid: data.valid.map_or_else(
            || vec![true; d.rows.len()],
            |v| d.rows.iter().map(|&i| v[i]).collect(),
        ),
    };
    let vcov = match &spec.vcov {
        // The Conley columns follow the rows kept for the regression.
        VcovRequest::Conley(c) => {
            for (name, len) in [("lat", c.lat.len()), ("lon", c.lon.len())] {
                if len != data.n_rows() {
                    return Err(Error::Shape(format!(
                        "Conley {name} has {len} rows for {} data rows",
                        data.n_rows()
                    )));
                }
            }
            VcovRequest::Conley(ConleyRequest {
                lat: take_f(&c.lat),
                lon: take_f(&c.lon),
                unit: Some(take_i(c.unit.as_deref().unwrap_or(data.unit))),
                time: Some(take_i(c.time.as_deref().unwrap_or(data.time))),
                ..c.clone()
            })
        }
        other => other.clone(),
    };
    let fspec = FeolsSpec {
        drop_singletons: false,
        vcov,
        demean: spec.demean,
        ..FeolsSpec::default()
    };
    let fit = feols(&design.input(), &fspec)?;

    // Event-time coefficients among the kept regressors.
    let mut pos = Vec::new();
    let mut event_time = Vec::new();
    let mut collinear_event_time = Vec::new();
    for &e in &d.event_time {
        let name = term_name(e);
        match fit.coefnames.iter().position(|c| *c == name) {
            Some(p) => {
                pos.push(p);
                event_time.push(e);
            }
            None => collinear_event_time.push(e),
        }
    }
    let estimate: Vec<f64> = pos.iter().map(|&p| fit.beta[p]).collect();
    let se: Vec<f64> = pos.iter().map(|&p| fit.se[p]).collect();
    let vcov = Array2::from_shape_fn((pos.len(), pos.len()), |(a, b)| fit.vcov[[pos[a], pos[b]]]);
    let mut n_obs_event_time = vec![0usize; event_time.len()];
    let used_rows = fit.used_rows();
    for (r, l) in d.label.iter().enumerate() {
        if !used_rows[r] {
            continue;
        }
        if let Some(j) = l.and_then(|e| event_time.binary_search(&e).ok()) {
            n_obs_event_time[j] += 1;
        }
    }
    let leads: Vec<usize> = (0..event_time.len())
        .filter(|&j| event_time[j] < 0)
        .collect();
    let pretrend = if leads.is_empty() {
        None
    } else {
        let b = Array1::from_iter(leads.iter().map(|&j| estimate[j]));
        let v = Array2::from_shape_fn((leads.len(), leads.len()), |(a, c)| {
            vcov[[leads[a], leads[c]]]
        });
        Some(wald_test(
            leads.iter().map(|&j| event_time[j]).collect(),
            b.view(),
            &v,
            fit.df_t,
        )?)
    };
    Ok(TwfeEventStudy {
        event_time,
        estimate,
        se,
        vcov,
        collinear_event_time,
        ref_periods: spec.event.ref_periods.clone(),
        n_outside_window: d.n_outside_window,
        n_obs_event_time,
        pretrend,
        fit,
        design,
    })
}

impl TwfeEventStudy {
    /// Restricted wild cluster bootstrap of the coefficient of event time `e` = `r`
    /// (clustered by the fit's cluster variable; needs a clustered fit).
    pub fn wild_bootstrap(&self, e: i64, r: f64, spec: &WildBootSpec) -> Result<WildBoot> {
        let name = term_name(e);
        let p = self
            .fit
            .coefnames
            .iter()
            .position(|c| *c == name)
            .ok_or_else(|| Error::Option {
                name: "event_time".into(),
                reason: format!("no coefficient for event time {e}"),
            })?;
        let mut restriction = Array1::<f64>::zeros(self.fit.coefnames.len());
        restriction[p] = 1.0;
        self.fit
            .wild_bootstrap(&self.design.input(), restriction.view(), r, spec, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_bin_and_window() {
        let s = EventTimeSpec {
            ref_periods: vec![-1],
            bin_lo: Some(-3),
            bin_hi: Some(2),
            window: Some((-5, 4)),
        };
        assert_eq!(s.label(-6), None);
        assert_eq!(s.label(-5), Some(-3));
        assert_eq!(s.label(0), Some(0));
        assert_eq!(s.label(4), Some(2));
        assert_eq!(s.label(5), None);
    }

    #[test]
    fn pure_event_effects_recovered_exactly() {
        // y = unit + time + tau(e), no noise: coefficients equal tau(e) - tau(-1) = tau(e).
        let (mut y, mut unit, mut time, mut cohort) = (vec![], vec![], vec![], vec![]);
        for u in 0..12i64 {
            let g = match u % 3 {
                0 => 0.0,
                1 => 2004.0,
                _ => 2006.0,
            };
            for t in 2000..2010i64 {
                let e = t - g as i64;
                let tau = if g > 0.0 && e >= 0 {
                    1.0 + e as f64
                } else {
                    0.0
                };
                y.push(u as f64 * 0.5 + (t - 2000) as f64 * 0.1 + tau);
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
        let res = twfe_event_study(&data, &TwfeEventSpec::default()).unwrap();
        for (e, b) in res.event_time.iter().zip(&res.estimate) {
            let want = if *e >= 0 { 1.0 + *e as f64 } else { 0.0 };
            assert!((b - want).abs() < 1e-8, "e={e}: {b} vs {want}");
        }
    }
}

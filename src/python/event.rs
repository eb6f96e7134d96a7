//! PyO3 bindings for the event-study family: TWFE event study, BJS imputation, Gardner's
//! two-stage DID. Arrays in, results out; no numerics here.

use numpy::{IntoPyArray, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::{guarded, run, slice, PilotdidError};
use crate::did::did2s::{did2s, Did2sSpec};
use crate::did::event_study::{
    conf_bounds, twfe_event_study, EventStudyData, EventTimeSpec, TwfeEventSpec, TwfeEventStudy,
    WaldTest,
};
use crate::did::imputation::{imputation, ImputationSpec};
use crate::fe::DemeanSpec;
use crate::inference::{BootWeights, WildBootSpec};
use crate::linear::VcovRequest;

/// The common columns of every event-study call.
struct Columns<'py> {
    y_name: String,
    y: PyReadonlyArray1<'py, f64>,
    unit: PyReadonlyArray1<'py, i64>,
    time: PyReadonlyArray1<'py, i64>,
    cohort: PyReadonlyArray1<'py, f64>,
    control_names: Vec<String>,
    controls: Vec<PyReadonlyArray1<'py, f64>>,
    cluster_name: Option<String>,
    cluster: Option<PyReadonlyArray1<'py, i64>>,
    valid: Option<PyReadonlyArray1<'py, bool>>,
}

impl<'py> Columns<'py> {
    fn data(&self) -> PyResult<EventStudyData<'_>> {
        Ok(EventStudyData {
            y: (self.y_name.clone(), slice(&self.y, "y")?),
            unit: slice(&self.unit, "unit")?,
            time: slice(&self.time, "time")?,
            cohort: slice(&self.cohort, "cohort")?,
            controls: self
                .control_names
                .iter()
                .cloned()
                .zip(&self.controls)
                .map(|(n, a)| Ok((n, slice(a, "control")?)))
                .collect::<PyResult<_>>()?,
            cluster: match (&self.cluster_name, &self.cluster) {
                (Some(n), Some(c)) => Some((n.clone(), slice(c, "cluster")?)),
                _ => None,
            },
            valid: self.valid.as_ref().map(|v| slice(v, "valid")).transpose()?,
        })
    }
}

fn event_spec(
    ref_periods: Vec<i64>,
    bin_lo: Option<i64>,
    bin_hi: Option<i64>,
    window: Option<(i64, i64)>,
) -> EventTimeSpec {
    EventTimeSpec {
        ref_periods,
        bin_lo,
        bin_hi,
        window,
    }
}

fn wald_dict<'py>(py: Python<'py>, w: &Option<WaldTest>) -> PyResult<Option<Bound<'py, PyDict>>> {
    let Some(w) = w else { return Ok(None) };
    let d = PyDict::new(py);
    d.set_item("event_time", w.event_time.clone())?;
    d.set_item("chi2", w.chi2)?;
    d.set_item("p_chi2", w.p_chi2)?;
    d.set_item("f", w.f)?;
    d.set_item("df1", w.df1)?;
    d.set_item("df2", w.df2)?;
    d.set_item("p_f", w.p_f)?;
    Ok(Some(d))
}

/// A fitted TWFE event study (see `pilotdid.event_study(estimator="twfe")`).
#[pyclass(name = "TwfeEventStudyCore", module = "pilotdid._core", frozen)]
struct PyTwfeEventStudy {
    res: TwfeEventStudy,
}

#[pymethods]
impl PyTwfeEventStudy {
    /// Estimates and diagnostics as a dict; intervals from Student's t with the fit's df.
    fn info<'py>(&self, py: Python<'py>, level: f64) -> PyResult<Bound<'py, PyDict>> {
        let r = &self.res;
        let f = &r.fit;
        let d = PyDict::new(py);
        let (lo, hi) = guarded(|| conf_bounds(&r.estimate, &r.se, level, Some(f.df_t)))?;
        d.set_item("conf_low", lo)?;
        d.set_item("conf_high", hi)?;
        d.set_item("event_time", r.event_time.clone().into_pyarray(py))?;
        d.set_item("estimate", r.estimate.clone().into_pyarray(py))?;
        d.set_item("std_error", r.se.clone().into_pyarray(py))?;
        d.set_item("vcov", r.vcov.clone().into_pyarray(py))?;
        d.set_item("collinear_event_time", r.collinear_event_time.clone())?;
        d.set_item("ref_periods", r.ref_periods.clone())?;
        d.set_item("n_outside_window", r.n_outside_window)?;
        d.set_item("n_obs_event_time", r.n_obs_event_time.clone())?;
        d.set_item("pretrend", wald_dict(py, &r.pretrend)?)?;
        d.set_item("coefnames", f.coefnames.clone())?;
        d.set_item("beta", f.beta.clone().into_pyarray(py))?;
        d.set_item("se_all", f.se.clone().into_pyarray(py))?;
        d.set_item("collinear", f.collinear.clone())?;
        d.set_item("nobs", f.nobs)?;
        d.set_item("n_missing", f.n_missing)?;
        d.set_item("df_t", f.df_t)?;
        d.set_item("n_clusters", f.n_clusters.clone())?;
        d.set_item("r2", f.r2)?;
        Ok(d)
    }

    /// Restricted wild cluster bootstrap of the event-time-`e` coefficient = r.
    #[pyo3(signature = (e, r, reps, weights, seed, level))]
    #[allow(clippy::too_many_arguments)]
    fn wild_bootstrap<'py>(
        &self,
        py: Python<'py>,
        e: i64,
        r: f64,
        reps: usize,
        weights: &str,
        seed: u64,
        level: f64,
    ) -> PyResult<Bound<'py, PyDict>> {
        let weights = match weights.to_ascii_lowercase().as_str() {
            "rademacher" => BootWeights::Rademacher,
            "webb" => BootWeights::Webb,
            other => {
                return Err(PilotdidError::new_err(format!(
                    "option 'weights': '{other}' is not one of 'rademacher', 'webb'"
                )))
            }
        };
        let spec = WildBootSpec {
            reps,
            weights,
            seed,
            level,
            compute_ci: true,
        };
        let out = run(py, || self.res.wild_bootstrap(e, r, &spec))?;
        let d = PyDict::new(py);
        d.set_item("t_stat", out.result.t_stat)?;
        d.set_item("p_value", out.result.p_value)?;
        d.set_item("conf_int", out.result.conf_int)?;
        d.set_item("reps", out.result.reps)?;
        d.set_item("estimate", out.result.estimate)?;
        d.set_item("fe_exact", out.fe_exact)?;
        Ok(d)
    }
}

/// TWFE event study on prepared columns.
#[pyfunction]
#[pyo3(signature = (y_name, y, unit, time, cohort, control_names, controls, cluster_name, cluster, valid, vcov, ref_periods, bin_lo, bin_hi, window, tol, max_iter))]
#[allow(clippy::too_many_arguments)]
fn twfe_event_study_fit<'py>(
    py: Python<'py>,
    y_name: String,
    y: PyReadonlyArray1<'py, f64>,
    unit: PyReadonlyArray1<'py, i64>,
    time: PyReadonlyArray1<'py, i64>,
    cohort: PyReadonlyArray1<'py, f64>,
    control_names: Vec<String>,
    controls: Vec<PyReadonlyArray1<'py, f64>>,
    cluster_name: Option<String>,
    cluster: Option<PyReadonlyArray1<'py, i64>>,
    valid: Option<PyReadonlyArray1<'py, bool>>,
    vcov: &str,
    ref_periods: Vec<i64>,
    bin_lo: Option<i64>,
    bin_hi: Option<i64>,
    window: Option<(i64, i64)>,
    tol: f64,
    max_iter: usize,
) -> PyResult<PyTwfeEventStudy> {
    let vcov = match vcov {
        "iid" => VcovRequest::Iid,
        "hetero" => VcovRequest::Hetero,
        "cluster" => VcovRequest::Cluster(vec![0]),
        other => {
            return Err(PilotdidError::new_err(format!(
                "option 'vcov': unknown type '{other}'"
            )))
        }
    };
    let cols = Columns {
        y_name,
        y,
        unit,
        time,
        cohort,
        control_names,
        controls,
        cluster_name,
        cluster,
        valid,
    };
    let data = cols.data()?;
    let spec = TwfeEventSpec {
        event: event_spec(ref_periods, bin_lo, bin_hi, window),
        vcov,
        demean: DemeanSpec { tol, max_iter },
    };
    let res = run(py, || twfe_event_study(&data, &spec))?;
    Ok(PyTwfeEventStudy { res })
}

/// Borusyak–Jaravel–Spiess imputation estimator on prepared columns. Returns a dict.
#[pyfunction]
#[pyo3(signature = (y_name, y, unit, time, cohort, control_names, controls, cluster_name, cluster, valid, horizons, pretrends, anticipation, level, leave_out=false, small_sample=false))]
#[allow(clippy::too_many_arguments)]
fn imputation_fit<'py>(
    py: Python<'py>,
    y_name: String,
    y: PyReadonlyArray1<'py, f64>,
    unit: PyReadonlyArray1<'py, i64>,
    time: PyReadonlyArray1<'py, i64>,
    cohort: PyReadonlyArray1<'py, f64>,
    control_names: Vec<String>,
    controls: Vec<PyReadonlyArray1<'py, f64>>,
    cluster_name: Option<String>,
    cluster: Option<PyReadonlyArray1<'py, i64>>,
    valid: Option<PyReadonlyArray1<'py, bool>>,
    horizons: Option<Vec<i64>>,
    pretrends: Option<Vec<i64>>,
    anticipation: i64,
    level: f64,
    leave_out: bool,
    small_sample: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let cols = Columns {
        y_name,
        y,
        unit,
        time,
        cohort,
        control_names,
        controls,
        cluster_name,
        cluster,
        valid,
    };
    let data = cols.data()?;
    let spec = ImputationSpec {
        horizons,
        pretrends,
        anticipation,
        leave_out,
        small_sample,
    };
    let r = run(py, || imputation(&data, &spec))?;
    let d = PyDict::new(py);
    // Normal intervals, as didimputation and did_imputation; t(G − 1) with small_sample.
    let df = small_sample.then(|| r.n_clusters.saturating_sub(1));
    let (lo, hi) = guarded(|| conf_bounds(&r.estimate, &r.se, level, df))?;
    d.set_item("conf_low", lo)?;
    d.set_item("conf_high", hi)?;
    d.set_item("ci_df", df)?;
    let (alo, ahi) = guarded(|| conf_bounds(&[r.att], &[r.att_se], level, df))?;
    d.set_item("att_conf", (alo[0], ahi[0]))?;
    let (plo, phi) = guarded(|| conf_bounds(&r.pretrend_estimate, &r.pretrend_se, level, None))?;
    d.set_item("pretrend_conf_low", plo)?;
    d.set_item("pretrend_conf_high", phi)?;
    d.set_item("att", r.att)?;
    d.set_item("att_se", r.att_se)?;
    d.set_item("event_time", r.horizons.clone().into_pyarray(py))?;
    d.set_item("estimate", r.estimate.into_pyarray(py))?;
    d.set_item("std_error", r.se.into_pyarray(py))?;
    d.set_item("vcov", r.vcov.into_pyarray(py))?;
    d.set_item("n_obs_event_time", r.n_obs_horizon)?;
    d.set_item("pretrend_event_time", r.pretrend_event_time.clone())?;
    d.set_item("pretrend_estimate", r.pretrend_estimate.clone())?;
    d.set_item("pretrend_std_error", r.pretrend_se.clone())?;
    d.set_item("pretrend", wald_dict(py, &r.pretrend_test)?)?;
    d.set_item("tau", r.tau.into_pyarray(py))?;
    d.set_item("n_treated", r.n_treated)?;
    d.set_item("n_untreated", r.n_untreated)?;
    d.set_item("n_missing", r.n_missing)?;
    d.set_item("n_not_imputable", r.n_not_imputable)?;
    d.set_item("n_clusters", r.n_clusters)?;
    d.set_item("collinear", r.collinear)?;
    d.set_item("leave_out_fallback", r.leave_out_fallback)?;
    Ok(d)
}

/// Gardner's two-stage DID on prepared columns. Returns a dict.
#[pyfunction]
#[pyo3(signature = (y_name, y, unit, time, cohort, control_names, controls, cluster_name, cluster, valid, event, ref_periods, bin_lo, bin_hi, window, anticipation, level))]
#[allow(clippy::too_many_arguments)]
fn did2s_fit<'py>(
    py: Python<'py>,
    y_name: String,
    y: PyReadonlyArray1<'py, f64>,
    unit: PyReadonlyArray1<'py, i64>,
    time: PyReadonlyArray1<'py, i64>,
    cohort: PyReadonlyArray1<'py, f64>,
    control_names: Vec<String>,
    controls: Vec<PyReadonlyArray1<'py, f64>>,
    cluster_name: Option<String>,
    cluster: Option<PyReadonlyArray1<'py, i64>>,
    valid: Option<PyReadonlyArray1<'py, bool>>,
    event: bool,
    ref_periods: Vec<i64>,
    bin_lo: Option<i64>,
    bin_hi: Option<i64>,
    window: Option<(i64, i64)>,
    anticipation: i64,
    level: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let cols = Columns {
        y_name,
        y,
        unit,
        time,
        cohort,
        control_names,
        controls,
        cluster_name,
        cluster,
        valid,
    };
    let data = cols.data()?;
    let spec = Did2sSpec {
        event: event.then(|| event_spec(ref_periods, bin_lo, bin_hi, window)),
        anticipation,
    };
    let r = run(py, || did2s(&data, &spec))?;
    let d = PyDict::new(py);
    // Student t with G - 1 df, as pyfixest.did2s reports.
    let (lo, hi) = guarded(|| {
        conf_bounds(
            &r.estimate,
            &r.se,
            level,
            Some(r.n_clusters.saturating_sub(1)),
        )
    })?;
    d.set_item("conf_low", lo)?;
    d.set_item("conf_high", hi)?;
    d.set_item("terms", r.terms)?;
    d.set_item("event_time", r.event_time.into_pyarray(py))?;
    d.set_item("estimate", r.estimate.into_pyarray(py))?;
    d.set_item("std_error", r.se.into_pyarray(py))?;
    d.set_item("vcov", r.vcov.into_pyarray(py))?;
    d.set_item("n_obs_event_time", r.n_obs_term)?;
    d.set_item("nobs", r.nobs)?;
    d.set_item("n_untreated", r.n_untreated)?;
    d.set_item("n_missing", r.n_missing)?;
    d.set_item("n_not_imputable", r.n_not_imputable)?;
    d.set_item("n_outside_window", r.n_outside_window)?;
    d.set_item("n_clusters", r.n_clusters)?;
    d.set_item("collinear", r.collinear)?;
    d.set_item("ref_periods", r.ref_periods)?;
    Ok(d)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTwfeEventStudy>()?;
    m.add_function(wrap_pyfunction!(twfe_event_study_fit, m)?)?;
    m.add_function(wrap_pyfunction!(imputation_fit, m)?)?;
    m.add_function(wrap_pyfunction!(did2s_fit, m)?)?;
    Ok(())
}

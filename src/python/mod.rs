//! PyO3 bindings: convert arrays in, call the core, convert results out, map errors.
//! No numerics here.

mod bacon_sunab;
mod event;
mod green;
mod mediation;
mod robust;
mod spatial;
mod staggered;

use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::error::Error;
use crate::fe::{factorize, DemeanSpec};
use crate::inference::{BootWeights, WildBootSpec};
use crate::linear::{feols, FeolsFit, FeolsInput, FeolsSpec, VcovRequest};
use crate::panel::{Panel, TreatmentInput};

create_exception!(
    _core,
    PilotdidError,
    PyValueError,
    "Bad input or a failed estimate in pilotdid."
);

pub(crate) fn to_py(e: Error) -> PyErr {
    PilotdidError::new_err(e.to_string())
}

/// Runs a core call so that nothing unwinds into Python: errors become `PilotdidError`, and a
/// panic (a bug, never expected) becomes a `PilotdidError` that says so instead of aborting.
pub(crate) fn guarded<T>(f: impl FnOnce() -> Result<T, Error>) -> PyResult<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(to_py),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(PilotdidError::new_err(format!(
                "internal error in pilotdid (please report it): {msg}"
            )))
        }
    }
}

pub(crate) fn slice<'a, T: numpy::Element>(
    a: &'a PyReadonlyArray1<T>,
    what: &str,
) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| PilotdidError::new_err(format!("{what}: array is not contiguous")))
}

type Codes<'py> = (Bound<'py, PyArray1<u32>>, Bound<'py, PyArray1<i64>>);

/// Dense codes for integer ids: (codes as uint32, distinct values in order of appearance).
#[pyfunction]
fn factorize_ids<'py>(py: Python<'py>, ids: PyReadonlyArray1<'py, i64>) -> PyResult<Codes<'py>> {
    let v = slice(&ids, "ids")?;
    let f = py.detach(|| guarded(|| Ok(factorize(v))))?;
    Ok((f.codes.into_pyarray(py), f.levels.into_pyarray(py)))
}

/// A fitted fixed-effects OLS regression (see `pilotdid.feols`).
#[pyclass(name = "FeolsCore", module = "pilotdid._core", frozen)]
struct PyFeols {
    fit: FeolsFit,
}

#[pymethods]
impl PyFeols {
    #[getter]
    fn coefnames(&self) -> Vec<String> {
        self.fit.coefnames.clone()
    }
    #[getter]
    fn beta<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.beta.clone().into_pyarray(py)
    }
    #[getter]
    fn vcov<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.fit.vcov.clone().into_pyarray(py)
    }
    #[getter]
    fn se<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.se.clone().into_pyarray(py)
    }
    #[getter]
    fn used_rows<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<bool>> {
        self.fit.used_rows.clone().into_pyarray(py)
    }
    /// Scalars and small vectors, as a dict.
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let f = &self.fit;
        let d = PyDict::new(py);
        d.set_item("collinear", f.collinear.clone())?;
        d.set_item("nobs", f.nobs)?;
        d.set_item("n_missing", f.n_missing)?;
        d.set_item("n_zero_weight", f.n_zero_weight)?;
        d.set_item("n_singletons", f.n_singletons)?;
        d.set_item("singletons_dropped", f.singletons_dropped)?;
        d.set_item("r2", f.r2)?;
        d.set_item("r2_within", f.r2_within)?;
        d.set_item("rss", f.rss)?;
        d.set_item("df_k", f.df_k)?;
        d.set_item("df_t", f.df_t)?;
        d.set_item("n_clusters", f.n_clusters.clone())?;
        d.set_item("fe_levels", f.fe_levels.clone())?;
        d.set_item("demean_method", format!("{:?}", f.demean.method))?;
        d.set_item("demean_iterations", f.demean.iterations.clone())?;
        let timings = PyDict::new(py);
        timings.set_item("demean", f.demean.seconds)?;
        d.set_item("timings", timings)?;
        Ok(d)
    }

    /// (statistic, p_value, conf_low, conf_high) from Student's t with the fit's df.
    #[allow(clippy::type_complexity)]
    fn coef_table(&self, level: f64) -> PyResult<(Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>)> {
        let t = guarded(|| self.fit.coef_table(level))?;
        Ok((t.statistic, t.p_value, t.conf_low, t.conf_high))
    }

    /// Restricted wild cluster bootstrap of R'beta = r, clustered by the fit's cluster
    /// variable number `cluster` (0 = first). `y` and `x` are the columns given to `feols_fit`.
    #[pyo3(signature = (y, x, restriction, r, reps, weights, seed, level, cluster=0))]
    #[allow(clippy::too_many_arguments)]
    fn wildboottest<'py>(
        &self,
        py: Python<'py>,
        y: PyReadonlyArray1<'py, f64>,
        x: Vec<PyReadonlyArray1<'py, f64>>,
        restriction: PyReadonlyArray1<'py, f64>,
        r: f64,
        reps: usize,
        weights: &str,
        seed: u64,
        level: f64,
        cluster: usize,
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
        let rvec = restriction.as_array().to_owned();
        let spec = WildBootSpec {
            reps,
            weights,
            seed,
            level,
            compute_ci: true,
        };
        let input = FeolsInput {
            y: (String::new(), slice(&y, "y")?),
            x: x.iter()
                .map(|a| Ok((String::new(), slice(a, "x")?)))
                .collect::<PyResult<_>>()?,
            fe: Vec::new(),
            clusters: Vec::new(),
            weights: None,
            valid: None,
        };
        let out = py.detach(|| {
            guarded(|| {
                self.fit
                    .wild_bootstrap(&input, rvec.view(), r, &spec, cluster)
            })
        })?;
        let res = out.result;
        let d = PyDict::new(py);
        d.set_item("fe_partialled", out.fe_partialled)?;
        d.set_item("fe_as_dummies", out.fe_as_dummies)?;
        d.set_item("fe_exact", out.fe_exact)?;
        d.set_item("t_stat", res.t_stat)?;
        d.set_item("p_value", res.p_value)?;
        d.set_item("conf_int", res.conf_int)?;
        d.set_item("reps", res.reps)?;
        d.set_item("estimate", res.estimate)?;
        d.set_item("t_boot", res.t_boot.into_pyarray(py))?;
        Ok(d)
    }
}

/// Fixed-effects OLS on prepared columns; see `pilotdid.feols` for the user-facing call.
#[pyfunction]
#[pyo3(signature = (y_name, y, x_names, x, fe_names, fe, cluster_names, clusters, weights_name, weights, valid, vcov, vcov_clusters, drop_singletons, tol, max_iter))]
#[allow(clippy::too_many_arguments)]
fn feols_fit<'py>(
    py: Python<'py>,
    y_name: String,
    y: PyReadonlyArray1<'py, f64>,
    x_names: Vec<String>,
    x: Vec<PyReadonlyArray1<'py, f64>>,
    fe_names: Vec<String>,
    fe: Vec<PyReadonlyArray1<'py, i64>>,
    cluster_names: Vec<String>,
    clusters: Vec<PyReadonlyArray1<'py, i64>>,
    weights_name: Option<String>,
    weights: Option<PyReadonlyArray1<'py, f64>>,
    valid: Option<PyReadonlyArray1<'py, bool>>,
    vcov: &str,
    vcov_clusters: Vec<usize>,
    drop_singletons: bool,
    tol: f64,
    max_iter: usize,
) -> PyResult<PyFeols> {
    let vcov = match vcov {
        "iid" => VcovRequest::Iid,
        "hetero" => VcovRequest::Hetero,
        "cluster" => VcovRequest::Cluster(vcov_clusters),
        other => {
            return Err(PilotdidError::new_err(format!(
                "option 'vcov': unknown type '{other}'"
            )))
        }
    };
    let input = FeolsInput {
        y: (y_name, slice(&y, "y")?),
        x: x_names
            .into_iter()
            .zip(&x)
            .map(|(n, a)| Ok((n, slice(a, "x")?)))
            .collect::<PyResult<_>>()?,
        fe: fe_names
            .into_iter()
            .zip(&fe)
            .map(|(n, a)| Ok((n, slice(a, "fixed effect")?)))
            .collect::<PyResult<_>>()?,
        clusters: cluster_names
            .into_iter()
            .zip(&clusters)
            .map(|(n, a)| Ok((n, slice(a, "cluster")?)))
            .collect::<PyResult<_>>()?,
        weights: match (weights_name, &weights) {
            (Some(n), Some(w)) => Some((n, slice(w, "weights")?)),
            _ => None,
        },
        valid: valid.as_ref().map(|v| slice(v, "valid")).transpose()?,
    };
    let spec = FeolsSpec {
        drop_singletons,
        vcov,
        demean: DemeanSpec { tol, max_iter },
    };
    let fit = py.detach(|| guarded(|| feols(&input, &spec)))?;
    Ok(PyFeols { fit })
}

/// Panel structure: balance and cohorts. Returns a dict.
#[pyfunction]
#[pyo3(signature = (unit, unit_labels, time, treatment=None, cohort=None, allow_switch_off=false))]
fn panel_info<'py>(
    py: Python<'py>,
    unit: PyReadonlyArray1<'py, u32>,
    unit_labels: Vec<String>,
    time: PyReadonlyArray1<'py, i64>,
    treatment: Option<PyReadonlyArray1<'py, f64>>,
    cohort: Option<PyReadonlyArray1<'py, f64>>,
    allow_switch_off: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let t = match (&treatment, &cohort) {
        (Some(d), None) => TreatmentInput::Indicator(slice(d, "treatment")?),
        (None, Some(g)) => TreatmentInput::Cohort(slice(g, "cohort")?),
        (None, None) => TreatmentInput::None,
        (Some(_), Some(_)) => {
            return Err(PilotdidError::new_err(
                "options 'treatment' and 'cohort': give one, not both",
            ))
        }
    };
    let (unit, time) = (slice(&unit, "unit")?, slice(&time, "time")?);
    let p = guarded(|| Panel::new(unit, unit_labels, time, t, allow_switch_off))?;
    let d = PyDict::new(py);
    d.set_item("is_balanced", p.is_balanced)?;
    d.set_item("n_units", p.n_units())?;
    d.set_item("n_periods", p.n_periods())?;
    d.set_item("periods", p.periods.clone())?;
    d.set_item("cohort", p.cohort.clone())?;
    Ok(d)
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("PilotdidError", m.py().get_type::<PilotdidError>())?;
    m.add_class::<PyFeols>()?;
    m.add_function(wrap_pyfunction!(feols_fit, m)?)?;
    m.add_function(wrap_pyfunction!(factorize_ids, m)?)?;
    m.add_function(wrap_pyfunction!(panel_info, m)?)?;
    staggered::register(m)?;
    bacon_sunab::register(m)?;
    event::register(m)?;
    mediation::register(m)?;
    robust::register(m)?;
    spatial::register(m)?;
    green::register(m)?;
    Ok(())
}

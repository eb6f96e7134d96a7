//! PyO3 bindings: convert arrays in, call the core, convert results out, map errors.
//! No numerics here.

mod bacon_sunab;
mod event;
mod green;
mod heterogeneity;
mod inference;
mod mediation;
mod robust;
mod spatial;
mod staggered;

use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1};
use pyo3::create_exception;
use pyo3::exceptions::{PyKeyboardInterrupt, PyMemoryError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::error::Error;
use crate::fe::{factorize, DemeanSpec};
use crate::inference::{BootWeights, WildBootSpec};
use crate::interrupt::{self, Cancel};
use crate::linear::{feols, FeolsFit, FeolsInput, FeolsSpec, VcovRequest};
use crate::panel::{Panel, TreatmentInput};

create_exception!(
    _core,
    PilotdidError,
    PyValueError,
    "Bad input or a failed estimate in pilotdid."
);

pub(crate) fn to_py(e: Error) -> PyErr {
    match e {
        Error::OutOfMemory { .. } => PyMemoryError::new_err(e.to_string()),
        Error::Interrupted => PyKeyboardInterrupt::new_err("pilotdid computation interrupted"),
        e => PilotdidError::new_err(e.to_string()),
    }
}

/// Runs a core call so that nothing unwinds into Python: errors become `PilotdidError`, and a
/// panic (a bug, never expected) becomes a `PilotdidError` that says so instead of aborting.
pub(crate) fn guarded<T>(f: impl FnOnce() -> Result<T, Error>) -> PyResult<T> {
    caught(f).map_err(to_py)
}

/// `f()`, with a panic turned into an error that says it is a bug.
fn caught<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(Error::Internal(msg))
        }
    }
}

/// Runs a long core computation the way every binding should: without the GIL, on a worker
/// thread (16 MiB stack), while this thread waits in 50 ms slices and lets Python handle
/// signals in between. If a signal handler raises (Ctrl-C -> `KeyboardInterrupt`, or whatever a
/// SIGTERM handler raises), every running computation is cancelled (`interrupt::cancel_all`;
/// long loops check their token at least every 100 ms), the worker is joined, and that
/// exception is returned: no partial result and no thread is left behind. Errors and panics
/// are mapped as by [`guarded`]; `Error::OutOfMemory` becomes `MemoryError`.
///
/// Python runs signal handlers only on the main thread, which is why the computation must not
/// run on it. Called from another Python thread, the computation is cancelled by a Ctrl-C on
/// the main thread and raises `KeyboardInterrupt` here.
pub(crate) fn run<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Result<T, Error> + Send,
{
    use std::sync::{mpsc, Mutex};
    use std::time::Duration;

    let token = Cancel::at(interrupt::epoch());
    fn take<F>(job: &Mutex<Option<F>>) -> Option<F> {
        job.lock().ok().and_then(|mut j| j.take())
    }
    let job = &Mutex::new(Some(f));
    let (tx, mut rx) = mpsc::sync_channel::<Result<T, Error>>(1);
    std::thread::scope(|s| {
        let spawned = std::thread::Builder::new()
            .name("pilotdid".into())
            .stack_size(16 << 20)
            .spawn_scoped(s, move || {
                if let Some(f) = take(job) {
                    // The receiver outlives this scope's threads, so send cannot fail.
                    let _ = tx.send(token.enter(|| caught(f)));
                }
            });
        if spawned.is_err() {
            // No thread to be had (resource limits): run here, without the GIL and without
            // panics, but not interruptible.
            let f = take(job).ok_or_else(|| to_py(Error::Internal("job lost".into())))?;
            return py.detach(|| guarded(|| token.enter(f)));
        }
        loop {
            // (The receiver is moved in and out: it is Send but not Sync.)
            let (got, back) = py.detach(move || (rx.recv_timeout(Duration::from_millis(50)), rx));
            rx = back;
            match got {
                Ok(r) => return r.map_err(to_py),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Err(e) = py.check_signals() {
                        interrupt::cancel_all();
                        // The worker stops at its next check and its result is dropped.
                        let _ = py.detach(move || rx.recv());
                        return Err(e);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(to_py(Error::Internal(
                        "worker thread ended without a result".into(),
                    )))
                }
            }
        }
    })
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
    let f = run(py, || factorize(v))?;
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
        let out = run(py, || {
            self.fit
                .wild_bootstrap(&input, rvec.view(), r, &spec, cluster)
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
    let fit = run(py, || feols(&input, &spec))?;
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
    inference::register(m)?;
    heterogeneity::register(m)?;
    Ok(())
}

//! PyO3 binding of synthetic DID (`pilotdid_core::did::synthdid`, Arkhangelsky et al. 2021).

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

use super::{run, PilotdidError};
use pilotdid_core::did::synthdid::{self, CohortFit, Method, SynthDid, SynthDidInput, Vcov};

/// One adoption cohort's estimate and weights.
#[pyclass(name = "SynthDidCohort", module = "pilotdid._core", frozen)]
struct PySynthDidCohort {
    c: CohortFit,
}

#[pymethods]
impl PySynthDidCohort {
    /// index of the first treated period
    #[getter]
    fn adoption(&self) -> usize {
        self.c.adoption
    }
    #[getter]
    fn treated(&self) -> Vec<usize> {
        self.c.treated.clone()
    }
    #[getter]
    fn estimate(&self) -> f64 {
        self.c.estimate
    }
    #[getter]
    fn std_error(&self) -> f64 {
        self.c.std_error
    }
    #[getter]
    fn weight(&self) -> f64 {
        self.c.weight
    }
    #[getter]
    fn omega<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.c.omega.clone().into_pyarray(py)
    }
    #[getter]
    fn lambda_<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.c.lambda.clone().into_pyarray(py)
    }
    #[getter]
    fn beta<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.c.beta.clone().into_pyarray(py)
    }
    #[getter]
    fn treated_path<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.c.treated_path.clone().into_pyarray(py)
    }
    #[getter]
    fn synthetic_path<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.c.synthetic_path.clone().into_pyarray(py)
    }
    #[getter]
    fn curve<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.c.curve.clone().into_pyarray(py)
    }
    #[getter]
    fn noise_level(&self) -> f64 {
        self.c.noise_level
    }
    #[getter]
    fn zeta_omega(&self) -> f64 {
        self.c.zeta_omega
    }
    #[getter]
    fn zeta_lambda(&self) -> f64 {
        self.c.zeta_lambda
    }
}

/// The overall estimate, the cohorts and the event-time effects.
#[pyclass(name = "SynthDid", module = "pilotdid._core", frozen)]
struct PySynthDid {
    out: SynthDid,
}

#[pymethods]
impl PySynthDid {
    #[getter]
    fn estimate(&self) -> f64 {
        self.out.estimate
    }
    #[getter]
    fn std_error(&self) -> f64 {
        self.out.std_error
    }
    /// never-treated units (row indices of the wide panel)
    #[getter]
    fn controls(&self) -> Vec<usize> {
        self.out.controls.clone()
    }
    #[getter]
    fn cohorts(&self) -> Vec<PySynthDidCohort> {
        self.out
            .cohorts
            .iter()
            .map(|c| PySynthDidCohort { c: c.clone() })
            .collect()
    }
    #[getter]
    fn event_time(&self) -> Vec<i64> {
        self.out.event_time.clone()
    }
    #[getter]
    fn event_estimate<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.out.event_estimate.clone().into_pyarray(py)
    }
    #[getter]
    fn event_std_error<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.out.event_std_error.clone().into_pyarray(py)
    }
    #[getter]
    fn replicates<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.out.replicates.clone().into_pyarray(py)
    }
}

/// Synthetic DID on a wide balanced panel: `y` is units x periods, `adoption` the first treated
/// period index per unit (-1: never treated), `covariates` arrays shaped like `y`.
#[pyfunction]
#[pyo3(signature = (y, adoption, covariates, *, method, vcov, reps, seed, period_labels))]
#[allow(clippy::too_many_arguments)]
fn synthdid_fit(
    py: Python<'_>,
    y: PyReadonlyArray2<'_, f64>,
    adoption: PyReadonlyArray1<'_, i64>,
    covariates: Vec<PyReadonlyArray2<'_, f64>>,
    method: &str,
    vcov: &str,
    reps: usize,
    seed: u64,
    period_labels: Vec<i64>,
) -> PyResult<PySynthDid> {
    let method = match method {
        "sdid" => Method::Sdid,
        "sc" => Method::Sc,
        "did" => Method::Did,
        other => {
            return Err(PilotdidError::new_err(format!(
                "option 'method': '{other}' is not one of 'sdid', 'sc', 'did'"
            )))
        }
    };
    let vcov = match vcov {
        "placebo" => Vcov::Placebo,
        "bootstrap" => Vcov::Bootstrap,
        "jackknife" => Vcov::Jackknife,
        "jackknife_fixed" => Vcov::JackknifeFixedDesign,
        "none" => Vcov::None,
        other => {
            return Err(PilotdidError::new_err(format!(
                "option 'vcov': '{other}' is not one of 'placebo', 'bootstrap', 'jackknife', 'jackknife_fixed', 'none'"
            )))
        }
    };
    let shape = y.as_array().shape().to_vec();
    let (n_units, n_times) = (shape[0], shape[1]);
    if covariates
        .iter()
        .any(|x| x.as_array().shape() != shape.as_slice())
    {
        return Err(PilotdidError::new_err(
            "synthdid: every covariate must be shaped like the outcome (units x periods)",
        ));
    }
    let yv: Vec<f64> = y.as_array().iter().copied().collect();
    let xs: Vec<Vec<f64>> = covariates
        .iter()
        .map(|x| x.as_array().iter().copied().collect())
        .collect();
    let adoption: Vec<Option<usize>> = adoption
        .as_array()
        .iter()
        .map(|&a| if a < 0 { None } else { Some(a as usize) })
        .collect();
    let out = run(py, move || {
        synthdid::synthdid(&SynthDidInput {
            y: &yv,
            n_units,
            n_times,
            adoption: &adoption,
            covariates: xs.iter().map(|x| x.as_slice()).collect(),
            method,
            vcov,
            reps,
            seed,
            period_labels: &period_labels,
        })
    })?;
    Ok(PySynthDid { out })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySynthDid>()?;
    m.add_class::<PySynthDidCohort>()?;
    m.add_function(wrap_pyfunction!(synthdid_fit, m)?)?;
    Ok(())
}

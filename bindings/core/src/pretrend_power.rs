//! PyO3 binding of the pre-trend power analysis (`pilotdid_core::did::pretrend_power`, Roth 2022).

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

use super::run;
use pilotdid_core::did::pretrend_power::{self, PretrendPower, PretrendSpec};

/// The pre-test's power against the hypothesised violation and its consequences.
#[pyclass(name = "PretrendPower", module = "pilotdid._core", frozen)]
struct PyPretrendPower {
    out: PretrendPower,
}

#[pymethods]
impl PyPretrendPower {
    /// indices of the pre-periods (event time < 0) in the study's event times
    #[getter]
    fn pre(&self) -> Vec<usize> {
        self.out.pre.clone()
    }
    #[getter]
    fn post(&self) -> Vec<usize> {
        self.out.post.clone()
    }
    #[getter]
    fn critical(&self) -> f64 {
        self.out.critical
    }
    #[getter]
    fn power(&self) -> f64 {
        self.out.power.value
    }
    /// quasi-Monte Carlo standard error of `power` (0 when computed exactly)
    #[getter]
    fn power_std_error(&self) -> f64 {
        self.out.power.std_error
    }
    #[getter]
    fn size(&self) -> f64 {
        self.out.size.value
    }
    #[getter]
    fn bayes_factor(&self) -> f64 {
        self.out.bayes_factor
    }
    #[getter]
    fn likelihood_ratio(&self) -> f64 {
        self.out.likelihood_ratio
    }
    #[getter]
    fn wald_power(&self) -> f64 {
        self.out.wald_power
    }
    #[getter]
    fn wald_noncentrality(&self) -> f64 {
        self.out.wald_noncentrality
    }
    #[getter]
    fn expected_after_pretest<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.out.expected_after_pretest.clone().into_pyarray(py)
    }
    #[getter]
    fn coverage<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.out.coverage.clone().into_pyarray(py)
    }
    #[getter]
    fn coverage_after_pretest<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.out.coverage_after_pretest.clone().into_pyarray(py)
    }
    /// one (test, target, slope, status, max_power) tuple per test and target power
    #[getter]
    fn slopes(&self) -> Vec<(String, f64, f64, String, f64)> {
        self.out
            .slopes
            .iter()
            .map(|s| {
                (
                    s.test.to_string(),
                    s.target,
                    s.slope,
                    s.status.as_str().to_string(),
                    s.max_power,
                )
            })
            .collect()
    }
}

/// Roth (2022) pre-trend power of an event study (estimates, covariance, hypothesised delta).
#[pyfunction]
#[pyo3(signature = (event_time, estimate, vcov, delta, *, reference, level, targets))]
#[allow(clippy::too_many_arguments)]
fn pretrend_power_fit(
    py: Python<'_>,
    event_time: PyReadonlyArray1<'_, i64>,
    estimate: PyReadonlyArray1<'_, f64>,
    vcov: PyReadonlyArray2<'_, f64>,
    delta: PyReadonlyArray1<'_, f64>,
    reference: i64,
    level: f64,
    targets: Vec<f64>,
) -> PyResult<PyPretrendPower> {
    let spec = PretrendSpec {
        event_time: event_time.as_array().to_vec(),
        estimate: estimate.as_array().to_vec(),
        vcov: vcov.as_array().iter().copied().collect(),
        delta: delta.as_array().to_vec(),
        reference,
        level,
        targets,
    };
    let out = run(py, move || pretrend_power::pretrend_power(&spec))?;
    Ok(PyPretrendPower { out })
}

/// P(lower <= X <= upper) for X ~ N(mean, cov) and its quasi-Monte Carlo standard error.
#[pyfunction]
fn mvn_rectangle_probability(
    py: Python<'_>,
    mean: PyReadonlyArray1<'_, f64>,
    cov: PyReadonlyArray2<'_, f64>,
    lower: PyReadonlyArray1<'_, f64>,
    upper: PyReadonlyArray1<'_, f64>,
) -> PyResult<(f64, f64)> {
    let (m, l, u) = (
        mean.as_array().to_vec(),
        lower.as_array().to_vec(),
        upper.as_array().to_vec(),
    );
    let c: Vec<f64> = cov.as_array().iter().copied().collect();
    let p = run(py, move || {
        pilotdid_core::inference::mvn::rectangle_probability(&m, &c, &l, &u)
    })?;
    Ok((p.value, p.std_error))
}

/// The mean of N(mean, cov) truncated to [lower, upper] (Tallis) and the rectangle's probability.
#[pyfunction]
fn mvn_truncated_mean<'py>(
    py: Python<'py>,
    mean: PyReadonlyArray1<'py, f64>,
    cov: PyReadonlyArray2<'py, f64>,
    lower: PyReadonlyArray1<'py, f64>,
    upper: PyReadonlyArray1<'py, f64>,
) -> PyResult<(Bound<'py, PyArray1<f64>>, f64)> {
    let (m, l, u) = (
        mean.as_array().to_vec(),
        lower.as_array().to_vec(),
        upper.as_array().to_vec(),
    );
    let c: Vec<f64> = cov.as_array().iter().copied().collect();
    let (t, p) = run(py, move || {
        pilotdid_core::inference::mvn::truncated_mean(&m, &c, &l, &u)
    })?;
    Ok((t.into_pyarray(py), p.value))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyPretrendPower>()?;
    m.add_function(wrap_pyfunction!(pretrend_power_fit, m)?)?;
    m.add_function(wrap_pyfunction!(mvn_rectangle_probability, m)?)?;
    m.add_function(wrap_pyfunction!(mvn_truncated_mean, m)?)?;
    Ok(())
}

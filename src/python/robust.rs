//! PyO3 bindings for the robustness family: placebo / randomization inference, logit
//! propensity score, matching and balance. Arrays in, results out; no numerics here.

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::{guarded, run, slice, PilotdidError};
use crate::error::Error;
use crate::fe::DemeanSpec;
use crate::robust::{
    balance, logit, match_scores, randomization_pvalue, Kernel, MatchMethod, Placebo, PlaceboData,
    PlaceboScheme,
};

fn scheme(s: &str) -> PyResult<PlaceboScheme> {
    guarded(|| PlaceboScheme::parse(s))
}

/// The prepared placebo problem: outcome and controls demeaned once (see `pilotdid.placebo`).
#[pyclass(name = "PlaceboCore", module = "pilotdid._core", frozen)]
struct PyPlacebo {
    inner: Placebo,
}

#[pymethods]
impl PyPlacebo {
    #[getter]
    fn actual(&self) -> f64 {
        self.inner.actual()
    }
    #[getter]
    fn collinear(&self) -> Vec<String> {
        self.inner.collinear.clone()
    }
    #[getter]
    fn cohorts(&self) -> Vec<Option<i64>> {
        self.inner.cohorts().to_vec()
    }
    /// Number of distinct assignments of the scheme (None when astronomically many).
    fn n_distinct(&self, scheme_name: &str) -> PyResult<Option<u128>> {
        Ok(self.inner.n_distinct(scheme(scheme_name)?))
    }
    /// Adoption period per unit (units in order of first appearance) of replicate `r`.
    fn assignment(&self, scheme_name: &str, seed: u64, r: u64) -> PyResult<Vec<Option<i64>>> {
        Ok(self.inner.assignment(scheme(scheme_name)?, seed, r))
    }
    /// Estimates of replicates start..start+count.
    fn run<'py>(
        &self,
        py: Python<'py>,
        scheme_name: &str,
        seed: u64,
        start: u64,
        count: usize,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let s = scheme(scheme_name)?;
        let out = run(py, || self.inner.run(s, seed, start, count))?;
        Ok(out.into_pyarray(py))
    }
    /// Estimates of every distinct assignment, and the assignments themselves.
    #[allow(clippy::type_complexity)]
    fn enumerate<'py>(
        &self,
        py: Python<'py>,
        scheme_name: &str,
        cap: u128,
    ) -> PyResult<(Bound<'py, PyArray1<f64>>, Vec<Vec<Option<i64>>>)> {
        let s = scheme(scheme_name)?;
        let (est, all) = run(py, || {
            Ok((
                self.inner.enumerate(s, cap)?,
                self.inner.all_assignments(s, cap)?,
            ))
        })?;
        Ok((est.into_pyarray(py), all))
    }
    /// The coefficient for a given adoption period per unit (None = untreated).
    fn estimate(&self, cohorts: Vec<Option<i64>>) -> PyResult<f64> {
        guarded(|| self.inner.estimate(&cohorts))
    }
}

#[pyfunction]
#[pyo3(signature = (y, control_names, controls, fe_names, fe, weights, unit, time, treat_name, treat, tol, max_iter))]
#[allow(clippy::too_many_arguments)]
fn placebo_prepare<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f64>,
    control_names: Vec<String>,
    controls: Vec<PyReadonlyArray1<'py, f64>>,
    fe_names: Vec<String>,
    fe: Vec<PyReadonlyArray1<'py, i64>>,
    weights: Option<PyReadonlyArray1<'py, f64>>,
    unit: PyReadonlyArray1<'py, i64>,
    time: PyReadonlyArray1<'py, i64>,
    treat_name: String,
    treat: PyReadonlyArray1<'py, f64>,
    tol: f64,
    max_iter: usize,
) -> PyResult<PyPlacebo> {
    let data = PlaceboData {
        y: slice(&y, "y")?,
        controls: control_names
            .into_iter()
            .zip(&controls)
            .map(|(n, a)| Ok((n, slice(a, "control")?)))
            .collect::<PyResult<_>>()?,
        fe: fe_names
            .into_iter()
            .zip(&fe)
            .map(|(n, a)| Ok((n, slice(a, "fixed effect")?)))
            .collect::<PyResult<_>>()?,
        weights: weights.as_ref().map(|w| slice(w, "weights")).transpose()?,
        unit: slice(&unit, "unit")?,
        time: slice(&time, "time")?,
        treatment: (treat_name, slice(&treat, "treatment")?),
    };
    let inner = run(py, || Placebo::new(&data, DemeanSpec { tol, max_iter }))?;
    Ok(PyPlacebo { inner })
}

/// (p-value, number of finite replicates): share of |placebo| >= |actual|.
#[pyfunction]
fn placebo_pvalue(estimates: PyReadonlyArray1<'_, f64>, actual: f64) -> PyResult<(f64, usize)> {
    let e = slice(&estimates, "estimates")?;
    guarded(|| randomization_pvalue(e, actual))
}

/// Logit by Newton-Raphson; returns a dict (beta, se, vcov, loglik, iterations, fitted).
#[pyfunction]
#[pyo3(signature = (y, names, x, tol=1e-10, max_iter=100))]
fn logit_fit<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f64>,
    names: Vec<String>,
    x: Vec<PyReadonlyArray1<'py, f64>>,
    tol: f64,
    max_iter: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let yv = slice(&y, "y")?;
    let cols: Vec<(String, &[f64])> = names
        .into_iter()
        .zip(&x)
        .map(|(n, a)| Ok((n, slice(a, "covariate")?)))
        .collect::<PyResult<_>>()?;
    let fit = run(py, || logit(yv, &cols, tol, max_iter))?;
    let d = PyDict::new(py);
    d.set_item("beta", fit.beta.into_pyarray(py))?;
    d.set_item("se", fit.se.into_pyarray(py))?;
    d.set_item("vcov", fit.vcov.into_pyarray(py))?;
    d.set_item("loglik", fit.loglik)?;
    d.set_item("iterations", fit.iterations)?;
    d.set_item("fitted", fit.fitted.into_pyarray(py))?;
    Ok(d)
}

/// Propensity-score matching; returns a dict (weights, off_support, unmatched, pairs).
#[pyfunction]
#[pyo3(signature = (ps, treat, group, method, k, replace, caliper, kernel, bandwidth, common_support))]
#[allow(clippy::too_many_arguments)]
fn psm_match<'py>(
    py: Python<'py>,
    ps: PyReadonlyArray1<'py, f64>,
    treat: PyReadonlyArray1<'py, f64>,
    group: Option<PyReadonlyArray1<'py, i64>>,
    method: &str,
    k: usize,
    replace: bool,
    caliper: Option<f64>,
    kernel: &str,
    bandwidth: f64,
    common_support: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let m = match method {
        "nearest" => MatchMethod::Nearest {
            k,
            replace,
            caliper,
        },
        "kernel" => MatchMethod::Kernel {
            kernel: match kernel {
                "epanechnikov" => Kernel::Epanechnikov,
                "gaussian" => Kernel::Gaussian,
                other => {
                    return Err(PilotdidError::new_err(format!(
                        "option 'kernel': '{other}' is not one of 'epanechnikov', 'gaussian'"
                    )))
                }
            },
            bandwidth,
        },
        other => {
            return Err(PilotdidError::new_err(format!(
                "option 'method': '{other}' is not one of 'nearest', 'kernel'"
            )))
        }
    };
    let (psv, tv) = (slice(&ps, "pscore")?, slice(&treat, "treat")?);
    let gv = group.as_ref().map(|g| slice(g, "by")).transpose()?;
    let out = run(py, || match_scores(psv, tv, gv, m, common_support))?;
    let d = PyDict::new(py);
    d.set_item("weights", out.weights.into_pyarray(py))?;
    d.set_item("off_support", out.off_support)?;
    d.set_item("unmatched", out.unmatched)?;
    d.set_item("pairs", out.pairs)?;
    Ok(d)
}

/// Balance table rows (one dict of lists, one entry per covariate).
#[pyfunction]
fn psm_balance<'py>(
    py: Python<'py>,
    names: Vec<String>,
    covariates: Vec<PyReadonlyArray1<'py, f64>>,
    treat: PyReadonlyArray1<'py, f64>,
    weights: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyDict>> {
    let cols: Vec<(String, &[f64])> = names
        .into_iter()
        .zip(&covariates)
        .map(|(n, a)| Ok((n, slice(a, "covariate")?)))
        .collect::<PyResult<_>>()?;
    let (tv, wv) = (slice(&treat, "treat")?, slice(&weights, "weights")?);
    if tv.len() != wv.len() {
        return Err(super::to_py(Error::Shape(format!(
            "{} weights for {} rows",
            wv.len(),
            tv.len()
        ))));
    }
    let rows = guarded(|| balance(&cols, tv, wv))?;
    let d = PyDict::new(py);
    macro_rules! col {
        ($f:ident) => {
            d.set_item(
                stringify!($f),
                rows.iter().map(|r| r.$f).collect::<Vec<f64>>(),
            )?;
        };
    }
    col!(mean_treated_before);
    col!(mean_control_before);
    col!(mean_treated_after);
    col!(mean_control_after);
    col!(bias_before);
    col!(bias_after);
    col!(bias_reduction);
    col!(t_before);
    col!(p_before);
    col!(t_after);
    col!(p_after);
    Ok(d)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyPlacebo>()?;
    m.add_function(wrap_pyfunction!(placebo_prepare, m)?)?;
    m.add_function(wrap_pyfunction!(placebo_pvalue, m)?)?;
    m.add_function(wrap_pyfunction!(logit_fit, m)?)?;
    m.add_function(wrap_pyfunction!(psm_match, m)?)?;
    m.add_function(wrap_pyfunction!(psm_balance, m)?)?;
    Ok(())
}

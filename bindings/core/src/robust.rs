//! PyO3 bindings for the robustness family: placebo / randomization inference, logit
//! propensity score, matching and balance. Arrays in, results out; no numerics here.

use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, ToPyArray};
use pyo3::prelude::*;

use super::{guarded, named, run, slice, PilotdidError};
use pilotdid_core::error::Error;
use pilotdid_core::fe::DemeanSpec;
use pilotdid_core::robust::{
    balance, logit, match_scores, randomization_pvalue, BalanceRow, Kernel, LogitFit, MatchMethod,
    Placebo, PlaceboData, PlaceboScheme,
};

fn scheme(s: &str) -> PyResult<PlaceboScheme> {
    guarded(|| PlaceboScheme::parse(s))
}

/// The prepared placebo problem: outcome and controls demeaned once (see `pilotdid.placebo`).
#[pyclass(frozen, module = "pilotdid._core", name = "PlaceboCore")]
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
    fn n_distinct(&self, py: Python<'_>, scheme_name: &str) -> PyResult<Option<u128>> {
        let s = scheme(scheme_name)?;
        run(py, || Ok(self.inner.n_distinct(s)))
    }
    /// Adoption period per unit (units in order of first appearance) of replicate `r`.
    fn assignment(
        &self,
        py: Python<'_>,
        scheme_name: &str,
        seed: u64,
        r: u64,
    ) -> PyResult<Vec<Option<i64>>> {
        let s = scheme(scheme_name)?;
        run(py, || Ok(self.inner.assignment(s, seed, r)))
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
    /// Estimates of every distinct assignment (at most `cap`), and the assignments themselves.
    fn enumerate(
        &self,
        py: Python<'_>,
        scheme_name: &str,
        cap: u128,
    ) -> PyResult<PyPlaceboEnumeration> {
        let s = scheme(scheme_name)?;
        let (estimates, assignments) = run(py, || {
            Ok((
                self.inner.enumerate(s, cap)?,
                self.inner.all_assignments(s, cap)?,
            ))
        })?;
        Ok(PyPlaceboEnumeration {
            estimates,
            assignments,
        })
    }
    /// The coefficient for a given adoption period per unit (None = untreated).
    fn estimate(&self, py: Python<'_>, cohorts: Vec<Option<i64>>) -> PyResult<f64> {
        run(py, || self.inner.estimate(&cohorts))
    }
}

/// Every distinct placebo assignment and its estimate, in the same order.
#[pyclass(frozen, module = "pilotdid._core", name = "PlaceboEnumeration")]
struct PyPlaceboEnumeration {
    estimates: Vec<f64>,
    /// Adoption period per unit (None = untreated), one list per assignment.
    #[pyo3(get)]
    assignments: Vec<Vec<Option<i64>>>,
}

#[pymethods]
impl PyPlaceboEnumeration {
    #[getter]
    fn estimates<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.estimates.to_pyarray(py)
    }
}

/// Prepare the placebo problem: outcome and controls demeaned once by the fixed effects.
#[pyfunction]
#[pyo3(signature = (y, unit, time, treat_name, treat, *, control_names, controls, fe_names, fe, weights=None, tol, max_iter))]
#[allow(clippy::too_many_arguments)]
fn placebo_prepare<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f64>,
    unit: PyReadonlyArray1<'py, i64>,
    time: PyReadonlyArray1<'py, i64>,
    treat_name: String,
    treat: PyReadonlyArray1<'py, f64>,
    control_names: Vec<String>,
    controls: Vec<PyReadonlyArray1<'py, f64>>,
    fe_names: Vec<String>,
    fe: Vec<PyReadonlyArray1<'py, i64>>,
    weights: Option<PyReadonlyArray1<'py, f64>>,
    tol: f64,
    max_iter: usize,
) -> PyResult<PyPlacebo> {
    let data = PlaceboData {
        y: slice(&y, "y")?,
        controls: named(control_names, &controls, "control")?,
        fe: named(fe_names, &fe, "fixed effect")?,
        weights: weights.as_ref().map(|w| slice(w, "weights")).transpose()?,
        unit: slice(&unit, "unit")?,
        time: slice(&time, "time")?,
        treatment: (treat_name, slice(&treat, "treatment")?),
    };
    let inner = run(py, || Placebo::new(&data, DemeanSpec { tol, max_iter }))?;
    Ok(PyPlacebo { inner })
}

/// (p-value, number of finite replicates R): (1 + k) / (1 + R) with k the count of
/// |placebo| >= |actual|; k / R when `enumerated` (every assignment, the actual one included).
#[pyfunction]
#[pyo3(signature = (estimates, actual, *, enumerated))]
fn placebo_pvalue(
    py: Python<'_>,
    estimates: PyReadonlyArray1<'_, f64>,
    actual: f64,
    enumerated: bool,
) -> PyResult<(f64, usize)> {
    let e = slice(&estimates, "estimates")?;
    run(py, || randomization_pvalue(e, actual, enumerated))
}

/// A logit fit: coefficients, standard errors, covariance, log-likelihood, Newton
/// iterations and fitted probabilities.
#[pyclass(frozen, module = "pilotdid._core", name = "LogitCore")]
struct PyLogit {
    fit: LogitFit,
}

#[pymethods]
impl PyLogit {
    #[getter]
    fn beta<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.beta.to_pyarray(py)
    }
    #[getter]
    fn se<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.se.to_pyarray(py)
    }
    #[getter]
    fn vcov<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.fit.vcov.to_pyarray(py)
    }
    #[getter]
    fn loglik(&self) -> f64 {
        self.fit.loglik
    }
    #[getter]
    fn iterations(&self) -> usize {
        self.fit.iterations
    }
    #[getter]
    fn fitted<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.fitted.to_pyarray(py)
    }
}

/// Logit of 0/1 `y` on the named columns `x` by Newton-Raphson.
#[pyfunction]
#[pyo3(signature = (y, names, x, *, tol=1e-10, max_iter=100))]
fn logit_fit<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f64>,
    names: Vec<String>,
    x: Vec<PyReadonlyArray1<'py, f64>>,
    tol: f64,
    max_iter: usize,
) -> PyResult<PyLogit> {
    let yv = slice(&y, "y")?;
    let cols = named(names, &x, "covariate")?;
    let fit = run(py, || logit(yv, &cols, tol, max_iter))?;
    Ok(PyLogit { fit })
}

/// Propensity-score matching: a weight per row, the treated rows off common support or
/// without a match (row positions) and the (treated, control) pairs.
#[pyclass(frozen, module = "pilotdid._core", name = "MatchingCore")]
struct PyMatching {
    weights: Vec<f64>,
    #[pyo3(get)]
    off_support: Vec<usize>,
    #[pyo3(get)]
    unmatched: Vec<usize>,
    #[pyo3(get)]
    pairs: Vec<(usize, usize)>,
}

#[pymethods]
impl PyMatching {
    #[getter]
    fn weights<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.weights.to_pyarray(py)
    }
}

/// Propensity-score matching ("nearest" uses k, replace, caliper; "kernel" uses kernel and
/// bandwidth), within `group` when given.
#[pyfunction]
#[pyo3(signature = (ps, treat, group=None, *, method, k, replace, caliper=None, kernel, bandwidth, common_support))]
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
) -> PyResult<PyMatching> {
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
    Ok(PyMatching {
        weights: out.weights,
        off_support: out.off_support,
        unmatched: out.unmatched,
        pairs: out.pairs,
    })
}

/// Covariate balance before and after matching, one list entry per covariate (psmatch2's
/// pstest: means, standardised bias %, its reduction, t-tests).
#[pyclass(frozen, module = "pilotdid._core", name = "BalanceTable")]
struct PyBalance {
    #[pyo3(get)]
    mean_treated_before: Vec<f64>,
    #[pyo3(get)]
    mean_control_before: Vec<f64>,
    #[pyo3(get)]
    mean_treated_after: Vec<f64>,
    #[pyo3(get)]
    mean_control_after: Vec<f64>,
    #[pyo3(get)]
    bias_before: Vec<f64>,
    #[pyo3(get)]
    bias_after: Vec<f64>,
    #[pyo3(get)]
    bias_reduction: Vec<f64>,
    #[pyo3(get)]
    t_before: Vec<f64>,
    #[pyo3(get)]
    p_before: Vec<f64>,
    #[pyo3(get)]
    t_after: Vec<f64>,
    #[pyo3(get)]
    p_after: Vec<f64>,
}

/// Balance of the named covariates between treated and (weighted) controls.
#[pyfunction]
fn psm_balance<'py>(
    py: Python<'py>,
    names: Vec<String>,
    covariates: Vec<PyReadonlyArray1<'py, f64>>,
    treat: PyReadonlyArray1<'py, f64>,
    weights: PyReadonlyArray1<'py, f64>,
) -> PyResult<PyBalance> {
    let cols = named(names, &covariates, "covariate")?;
    let (tv, wv) = (slice(&treat, "treat")?, slice(&weights, "weights")?);
    let rows = run(py, || {
        if tv.len() != wv.len() {
            return Err(Error::Shape(format!(
                "{} weights for {} rows",
                wv.len(),
                tv.len()
            )));
        }
        balance(&cols, tv, wv)
    })?;
    let col = |f: fn(&BalanceRow) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    Ok(PyBalance {
        mean_treated_before: col(|r| r.mean_treated_before),
        mean_control_before: col(|r| r.mean_control_before),
        mean_treated_after: col(|r| r.mean_treated_after),
        mean_control_after: col(|r| r.mean_control_after),
        bias_before: col(|r| r.bias_before),
        bias_after: col(|r| r.bias_after),
        bias_reduction: col(|r| r.bias_reduction),
        t_before: col(|r| r.t_before),
        p_before: col(|r| r.p_before),
        t_after: col(|r| r.t_after),
        p_after: col(|r| r.p_after),
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyPlacebo>()?;
    m.add_class::<PyPlaceboEnumeration>()?;
    m.add_class::<PyLogit>()?;
    m.add_class::<PyMatching>()?;
    m.add_class::<PyBalance>()?;
    m.add_function(wrap_pyfunction!(placebo_prepare, m)?)?;
    m.add_function(wrap_pyfunction!(placebo_pvalue, m)?)?;
    m.add_function(wrap_pyfunction!(logit_fit, m)?)?;
    m.add_function(wrap_pyfunction!(psm_match, m)?)?;
    m.add_function(wrap_pyfunction!(psm_balance, m)?)?;
    Ok(())
}

//! PyO3 bindings for the mechanisms family: product-of-coefficients tests, the cluster
//! bootstrap of indirect effects and bootstrap intervals. Arrays in, results out.

use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray2, PyReadonlyArray1, PyReadonlyArray2, ToPyArray};
use pyo3::prelude::*;

use super::{guarded, run, slice, PilotdidError, PyWaldTest};
use pilotdid_core::fe::DemeanSpec;
use pilotdid_core::mediation::{
    boot_from_draws, bootstrap_ci, bootstrap_indirect_range, indirect_tests, linear_combinations,
    BootInput, CiMethod,
};

/// Sobel, Aroian and Goodman tests of an indirect effect a·b: standard error, z and p of each.
#[pyclass(frozen, module = "pilotdid._core", name = "IndirectTests")]
struct PyIndirectTests {
    #[pyo3(get)]
    indirect: f64,
    #[pyo3(get)]
    sobel_se: f64,
    #[pyo3(get)]
    sobel_z: f64,
    #[pyo3(get)]
    sobel_p: f64,
    #[pyo3(get)]
    aroian_se: f64,
    #[pyo3(get)]
    aroian_z: f64,
    #[pyo3(get)]
    aroian_p: f64,
    /// False when Goodman's variance is negative (its se, z and p are then NaN).
    #[pyo3(get)]
    goodman_defined: bool,
    #[pyo3(get)]
    goodman_se: f64,
    #[pyo3(get)]
    goodman_z: f64,
    #[pyo3(get)]
    goodman_p: f64,
}

/// Sobel, Aroian and Goodman tests of a·b from the two paths and their standard errors.
#[pyfunction]
fn mediation_tests(
    py: Python<'_>,
    a: f64,
    se_a: f64,
    b: f64,
    se_b: f64,
) -> PyResult<PyIndirectTests> {
    let t = run(py, || indirect_tests(a, se_a, b, se_b))?;
    Ok(PyIndirectTests {
        indirect: t.indirect,
        sobel_se: t.sobel_se,
        sobel_z: t.sobel_z,
        sobel_p: t.sobel_p,
        aroian_se: t.aroian_se,
        aroian_z: t.aroian_z,
        aroian_p: t.aroian_p,
        goodman_defined: t.goodman_defined,
        goodman_se: t.goodman_se,
        goodman_z: t.goodman_z,
        goodman_p: t.goodman_p,
    })
}

/// Cluster-bootstrap draws of the a- and b-paths (replicates × mediators; NaN in a failed
/// replicate) and the number of failed replicates.
#[pyclass(frozen, module = "pilotdid._core", name = "MediationBootstrap")]
struct PyMediationBootstrap {
    a: Array2<f64>,
    b: Array2<f64>,
    #[pyo3(get)]
    n_failed: usize,
}

#[pymethods]
impl PyMediationBootstrap {
    #[getter]
    fn a<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.a.to_pyarray(py)
    }
    #[getter]
    fn b<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.b.to_pyarray(py)
    }
}

/// Cluster bootstrap of the a- and b-paths; `joint` resamples one cluster draw for all
/// mediators' regressions. `boot_range=(start, stop)`: only replicates [start, stop) of the
/// `reps` (one chunk of an executor's work; replicate r always draws from stream (seed, r)).
#[pyfunction]
#[pyo3(signature = (y, d, mediators, controls, fe, cluster, *, reps, seed, joint, tol=1e-11, max_iter=10_000, boot_range=None))]
#[allow(clippy::too_many_arguments)]
fn mediation_bootstrap<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f64>,
    d: PyReadonlyArray1<'py, f64>,
    mediators: Vec<(String, PyReadonlyArray1<'py, f64>)>,
    controls: Vec<(String, PyReadonlyArray1<'py, f64>)>,
    fe: Vec<(String, PyReadonlyArray1<'py, i64>)>,
    cluster: PyReadonlyArray1<'py, i64>,
    reps: usize,
    seed: u64,
    joint: bool,
    tol: f64,
    max_iter: usize,
    boot_range: Option<(usize, usize)>,
) -> PyResult<PyMediationBootstrap> {
    let mut ms = Vec::new();
    for (n, a) in &mediators {
        ms.push((n.clone(), slice(a, n)?));
    }
    let mut cs = Vec::new();
    for (n, a) in &controls {
        cs.push((n.clone(), slice(a, n)?));
    }
    let mut fs = Vec::new();
    for (n, a) in &fe {
        fs.push((n.clone(), slice(a, n)?));
    }
    let input = BootInput {
        y: slice(&y, "y")?,
        d: slice(&d, "treatment")?,
        mediators: ms,
        controls: cs,
        fe: fs,
        cluster: slice(&cluster, "cluster")?,
    };
    let spec = DemeanSpec { tol, max_iter };
    let (start, stop) = boot_range.unwrap_or((0, reps));
    let out = run(py, || {
        bootstrap_indirect_range(&input, reps, start..stop, seed, joint, &spec)
    })?;
    Ok(PyMediationBootstrap {
        a: out.a,
        b: out.b,
        n_failed: out.n_failed,
    })
}

/// Bootstrap draws computed in chunks (on an executor), stacked in replicate order
/// (replicates x mediators), as one `MediationBootstrap` (failed count of the whole run).
#[pyfunction]
fn mediation_boot_join<'py>(
    a: PyReadonlyArray2<'py, f64>,
    b: PyReadonlyArray2<'py, f64>,
) -> PyResult<PyMediationBootstrap> {
    let (a, b) = (a.as_array(), b.as_array());
    if a.dim() != b.dim() {
        return Err(PilotdidError::new_err(format!(
            "mediation_boot_join: a is {:?} and b is {:?}; both must be replicates x mediators",
            a.dim(),
            b.dim()
        )));
    }
    let k = a.ncols();
    let out =
        guarded(|| boot_from_draws(a.iter().copied().collect(), b.iter().copied().collect(), k))?;
    Ok(PyMediationBootstrap {
        a: out.a,
        b: out.b,
        n_failed: out.n_failed,
    })
}

/// (low, high) bootstrap interval: method "percentile" or "bc" (bias-corrected).
#[pyfunction]
fn mediation_ci(
    py: Python<'_>,
    draws: PyReadonlyArray1<'_, f64>,
    estimate: f64,
    level: f64,
    method: &str,
) -> PyResult<(f64, f64)> {
    let m = guarded(|| CiMethod::parse(method))?;
    let s = slice(&draws, "draws")?;
    run(py, || bootstrap_ci(s, estimate, level, m))
}

/// Linear combinations L·β with delta-method se: rows (estimate, se, t, p, low, high).
#[pyfunction]
#[pyo3(name = "linear_combinations")]
fn linear_combinations_py<'py>(
    py: Python<'py>,
    beta: PyReadonlyArray1<'py, f64>,
    vcov: PyReadonlyArray2<'py, f64>,
    l: PyReadonlyArray2<'py, f64>,
    df: usize,
    level: f64,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let (beta, vcov, l) = (beta.as_array(), vcov.as_array(), l.as_array());
    let out = run(py, || linear_combinations(beta, vcov, l, df, level))?;
    Ok(out.into_pyarray(py))
}

/// Wald test of R·β = 0 with covariance R V Rᵀ; `df2` is the F form's denominator df.
#[pyfunction]
#[pyo3(signature = (beta, vcov, r, *, df2))]
fn restriction_wald(
    py: Python<'_>,
    beta: PyReadonlyArray1<'_, f64>,
    vcov: PyReadonlyArray2<'_, f64>,
    r: PyReadonlyArray2<'_, f64>,
    df2: usize,
) -> PyResult<PyWaldTest> {
    let (b, v, r) = (beta.as_array(), vcov.as_array(), r.as_array());
    let w = run(py, || {
        pilotdid_core::inference::restriction_wald(b, v, r, df2)
    })?;
    Ok(PyWaldTest::from(w))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyIndirectTests>()?;
    m.add_class::<PyMediationBootstrap>()?;
    m.add_function(wrap_pyfunction!(mediation_tests, m)?)?;
    m.add_function(wrap_pyfunction!(mediation_bootstrap, m)?)?;
    m.add_function(wrap_pyfunction!(mediation_boot_join, m)?)?;
    m.add_function(wrap_pyfunction!(mediation_ci, m)?)?;
    m.add_function(wrap_pyfunction!(linear_combinations_py, m)?)?;
    m.add_function(wrap_pyfunction!(restriction_wald, m)?)?;
    Ok(())
}

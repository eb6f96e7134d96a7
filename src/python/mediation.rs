//! PyO3 bindings for the mechanisms family: product-of-coefficients tests, the cluster
//! bootstrap of indirect effects and bootstrap intervals. Arrays in, results out.

use numpy::{IntoPyArray, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::{guarded, run, slice};
use crate::fe::DemeanSpec;
use crate::mediation::{
    bootstrap_ci, bootstrap_indirect, indirect_tests, linear_combinations, BootInput, CiMethod,
};

/// Sobel, Aroian and Goodman tests of a·b: a dict of se / z / p per test.
#[pyfunction]
fn mediation_tests<'py>(
    py: Python<'py>,
    a: f64,
    se_a: f64,
    b: f64,
    se_b: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let t = guarded(|| indirect_tests(a, se_a, b, se_b))?;
    let d = PyDict::new(py);
    d.set_item("indirect", t.indirect)?;
    d.set_item("sobel_se", t.sobel_se)?;
    d.set_item("sobel_z", t.sobel_z)?;
    d.set_item("sobel_p", t.sobel_p)?;
    d.set_item("aroian_se", t.aroian_se)?;
    d.set_item("aroian_z", t.aroian_z)?;
    d.set_item("aroian_p", t.aroian_p)?;
    d.set_item("goodman_defined", t.goodman_defined)?;
    d.set_item("goodman_se", t.goodman_se)?;
    d.set_item("goodman_z", t.goodman_z)?;
    d.set_item("goodman_p", t.goodman_p)?;
    Ok(d)
}

/// Cluster bootstrap of a- and b-paths: (a reps×k, b reps×k, n_failed).
#[pyfunction]
#[pyo3(signature = (y, d, mediators, controls, fe, cluster, reps, seed, joint, tol=1e-11, max_iter=10_000))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
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
) -> PyResult<(Bound<'py, PyArray2<f64>>, Bound<'py, PyArray2<f64>>, usize)> {
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
    let out = run(py, || bootstrap_indirect(&input, reps, seed, joint, &spec))?;
    Ok((out.a.into_pyarray(py), out.b.into_pyarray(py), out.n_failed))
}

/// (low, high) bootstrap interval: method "percentile" or "bc" (bias-corrected).
#[pyfunction]
fn mediation_ci(
    draws: PyReadonlyArray1<'_, f64>,
    estimate: f64,
    level: f64,
    method: &str,
) -> PyResult<(f64, f64)> {
    let m = guarded(|| CiMethod::parse(method))?;
    let s = slice(&draws, "draws")?;
    guarded(|| bootstrap_ci(s, estimate, level, m))
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
    let out =
        guarded(|| linear_combinations(beta.as_array(), vcov.as_array(), l.as_array(), df, level))?;
    Ok(out.into_pyarray(py))
}

/// Wald test of R·β = 0 (chi2, p_chi2, F, df1, df2, p_F) with covariance R V Rᵀ.
#[pyfunction]
fn restriction_wald(
    beta: PyReadonlyArray1<'_, f64>,
    vcov: PyReadonlyArray2<'_, f64>,
    r: PyReadonlyArray2<'_, f64>,
    df2: usize,
) -> PyResult<(f64, f64, f64, usize, usize, f64)> {
    let (b, v, r) = (beta.as_array(), vcov.as_array(), r.as_array());
    guarded(|| {
        if r.ncols() != b.len() || v.dim() != (b.len(), b.len()) {
            return Err(crate::error::Error::Shape(
                "restriction matrix, coefficients and vcov disagree".into(),
            ));
        }
        let rb = r.dot(&b);
        let rv = r.dot(&v).dot(&r.t());
        let w = crate::inference::wald_test(vec![], rb.view(), &rv, df2)?;
        Ok((w.chi2, w.p_chi2, w.f, w.df1, w.df2, w.p_f))
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(mediation_tests, m)?)?;
    m.add_function(wrap_pyfunction!(mediation_bootstrap, m)?)?;
    m.add_function(wrap_pyfunction!(mediation_ci, m)?)?;
    m.add_function(wrap_pyfunction!(linear_combinations_py, m)?)?;
    m.add_function(wrap_pyfunction!(restriction_wald, m)?)?;
    Ok(())
}

//! PyO3 binding of the heterogeneity permutation test (`pilotdid_core::mediation::heterogeneity`).
//! Arrays in, the observed and permuted statistics out; no numerics here.

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

use super::{run, slice, PilotdidError};
use pilotdid_core::fe::DemeanSpec;
use pilotdid_core::linear::VcovRequest;
use pilotdid_core::mediation::{
    heterogeneity_permutation, HeterogeneityInput, HeterogeneitySpec, HeterogeneityTest,
};

/// The permutation test: observed statistic, statistic per replicate (NaN = failed), failures
/// and the p-value.
#[pyclass(name = "HeterogeneityCore", module = "pilotdid._core", frozen)]
struct PyHeterogeneity {
    test: HeterogeneityTest,
}

#[pymethods]
impl PyHeterogeneity {
    #[getter]
    fn observed(&self) -> f64 {
        self.test.observed
    }
    #[getter]
    fn permuted<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.test.permuted.clone().into_pyarray(py)
    }
    #[getter]
    fn n_failed(&self) -> usize {
        self.test.n_failed
    }
    #[getter]
    fn p_value(&self) -> f64 {
        self.test.p_value
    }
}

/// Split-sample treatment coefficients by unit-level group and their dispersion, with labels
/// permuted across units `reps` times. Row arrays (`y`, the regressors `x`, fixed-effect and
/// cluster ids, `unit` codes) have one entry per row; `unit_group[u]` is unit u's group.
#[pyfunction]
#[pyo3(signature = (
    y, x, fe, unit, unit_group, *, x_names, treatment, n_groups, reps, seed,
    fe_names=Vec::new(), clusters=Vec::new(), cluster_names=Vec::new(), valid=None,
    vcov="iid", tol=1e-11, max_iter=10_000
))]
#[allow(clippy::too_many_arguments)]
fn heterogeneity_permutation_test<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f64>,
    x: Vec<PyReadonlyArray1<'py, f64>>,
    fe: Vec<PyReadonlyArray1<'py, i64>>,
    unit: PyReadonlyArray1<'py, u32>,
    unit_group: PyReadonlyArray1<'py, u32>,
    x_names: Vec<String>,
    treatment: String,
    n_groups: usize,
    reps: usize,
    seed: u64,
    fe_names: Vec<String>,
    clusters: Vec<PyReadonlyArray1<'py, i64>>,
    cluster_names: Vec<String>,
    valid: Option<PyReadonlyArray1<'py, bool>>,
    vcov: &str,
    tol: f64,
    max_iter: usize,
) -> PyResult<PyHeterogeneity> {
    if x_names.len() != x.len()
        || fe_names.len() != fe.len()
        || cluster_names.len() != clusters.len()
    {
        return Err(PilotdidError::new_err(
            "heterogeneity: every column needs exactly one name",
        ));
    }
    let vcov = match vcov {
        "iid" => VcovRequest::Iid,
        "hetero" => VcovRequest::Hetero,
        "cluster" => VcovRequest::Cluster((0..clusters.len()).collect()),
        other => {
            return Err(PilotdidError::new_err(format!(
                "option 'vcov': unknown type '{other}'"
            )))
        }
    };
    let input = HeterogeneityInput {
        y: ("y".into(), slice(&y, "y")?),
        x: x_names
            .into_iter()
            .zip(&x)
            .map(|(n, a)| Ok((n, slice(a, "x")?)))
            .collect::<PyResult<_>>()?,
        treatment,
        fe: named(fe_names, &fe, "fixed effect")?,
        clusters: named(cluster_names, &clusters, "cluster")?,
        valid: valid.as_ref().map(|v| slice(v, "valid")).transpose()?,
        unit: slice(&unit, "unit")?,
        unit_group: slice(&unit_group, "unit_group")?,
        n_groups,
    };
    let spec = HeterogeneitySpec {
        reps,
        seed,
        vcov,
        demean: DemeanSpec { tol, max_iter },
    };
    let test = run(py, || heterogeneity_permutation(&input, &spec))?;
    Ok(PyHeterogeneity { test })
}

fn named<'a>(
    names: Vec<String>,
    cols: &'a [PyReadonlyArray1<'_, i64>],
    what: &str,
) -> PyResult<Vec<(String, &'a [i64])>> {
    names
        .into_iter()
        .zip(cols)
        .map(|(n, a)| Ok((n, slice(a, what)?)))
        .collect()
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyHeterogeneity>()?;
    m.add_function(wrap_pyfunction!(heterogeneity_permutation_test, m)?)?;
    Ok(())
}

//! PyO3 bindings for the inference policy (`pilotdid_core::inference::policy`): the statistic /
//! p-value / interval table every result shows at a level, normal quantiles and p-values.

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

use super::guarded;
use pilotdid_core::inference::policy::{self, CoefTable};

/// Statistic, two-sided p-value and interval per estimate (NaN rows: no finite positive SE).
#[pyclass(name = "InferenceTable", module = "pilotdid._core", frozen)]
struct PyInferenceTable {
    table: CoefTable,
}

#[pymethods]
impl PyInferenceTable {
    #[getter]
    fn statistic<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.table.statistic.clone().into_pyarray(py)
    }
    #[getter]
    fn p_value<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.table.p_value.clone().into_pyarray(py)
    }
    #[getter]
    fn conf_low<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.table.conf_low.clone().into_pyarray(py)
    }
    #[getter]
    fn conf_high<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.table.conf_high.clone().into_pyarray(py)
    }
}

/// The table at `level`: Student's t with `df` degrees of freedom when `df` is given and
/// positive, the normal otherwise.
#[pyfunction]
#[pyo3(signature = (estimate, std_error, *, level, df=None))]
fn inference_table(
    estimate: PyReadonlyArray1<'_, f64>,
    std_error: PyReadonlyArray1<'_, f64>,
    level: f64,
    df: Option<usize>,
) -> PyResult<PyInferenceTable> {
    let est = estimate.as_array().to_vec();
    let se = std_error.as_array().to_vec();
    let table = guarded(|| policy::coef_table(&est, &se, level, df))?;
    Ok(PyInferenceTable { table })
}

/// `inference_table` with one degrees-of-freedom value per row (inf or NaN: normal rows).
#[pyfunction]
fn inference_table_row_df(
    estimate: PyReadonlyArray1<'_, f64>,
    std_error: PyReadonlyArray1<'_, f64>,
    df: PyReadonlyArray1<'_, f64>,
    level: f64,
) -> PyResult<PyInferenceTable> {
    let est = estimate.as_array().to_vec();
    let se = std_error.as_array().to_vec();
    let df = df.as_array().to_vec();
    let table = guarded(|| policy::coef_table_row_df(&est, &se, level, &df))?;
    Ok(PyInferenceTable { table })
}

/// The two-sided normal critical value at `level` (the quantile at 0.5 + level/2).
#[pyfunction]
fn normal_critical(level: f64) -> PyResult<f64> {
    guarded(|| policy::normal_critical(level))
}

/// The standard normal quantile at `p` in (0, 1) (as `statistics.NormalDist().inv_cdf`).
#[pyfunction]
fn normal_quantile(p: f64) -> PyResult<f64> {
    guarded(|| policy::normal_quantile(p))
}

/// Two-sided normal p-values erfc(|z|/sqrt(2)) of the statistics (NaN where not finite).
#[pyfunction]
fn normal_pvalues<'py>(
    py: Python<'py>,
    statistic: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let z = statistic.as_array();
    let p: Vec<f64> = guarded(|| Ok(z.iter().map(|&v| policy::normal_pvalue(v)).collect()))?;
    Ok(p.into_pyarray(py))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyInferenceTable>()?;
    m.add_function(wrap_pyfunction!(inference_table, m)?)?;
    m.add_function(wrap_pyfunction!(inference_table_row_df, m)?)?;
    m.add_function(wrap_pyfunction!(normal_critical, m)?)?;
    m.add_function(wrap_pyfunction!(normal_quantile, m)?)?;
    m.add_function(wrap_pyfunction!(normal_pvalues, m)?)?;
    Ok(())
}

//! PyO3 binding of the principal-components index (`pilotdid::green::pca`). Convert, call,
//! convert back: no numerics here.

use numpy::ndarray::Array2;
use numpy::{PyArray1, PyArray2, PyReadonlyArray1, ToPyArray};
use pyo3::prelude::*;

use super::{guarded, run, slice, to_py};
use pilotdid::error::Error;
use pilotdid::green::{pca_index, ComponentWeights, PcaFit, PcaSpec, Select};

/// Components, index and diagnostics of `pilotdid.green.pca_index` (matrices row-major:
/// `eigenvectors` indicators x components, `scores` rows x kept components).
#[pyclass(frozen, module = "pilotdid._core", name = "PcaCore")]
struct PyPca {
    fit: PcaFit,
}

fn matrix(v: &[f64], rows: usize, cols: usize) -> PyResult<Array2<f64>> {
    Array2::from_shape_vec((rows, cols), v.to_vec()).map_err(|e| to_py(Error::Shape(e.to_string())))
}

#[pymethods]
impl PyPca {
    #[getter]
    fn n_components(&self) -> usize {
        self.fit.n_components
    }
    #[getter]
    fn kmo(&self) -> f64 {
        self.fit.kmo
    }
    #[getter]
    fn bartlett_chi2(&self) -> f64 {
        self.fit.bartlett_chi2
    }
    #[getter]
    fn bartlett_df(&self) -> usize {
        self.fit.bartlett_df
    }
    #[getter]
    fn bartlett_p_value(&self) -> f64 {
        self.fit.bartlett_p_value
    }
    #[getter]
    fn diagnostics_note(&self) -> Option<String> {
        self.fit.diagnostics_note.clone()
    }
    #[getter]
    fn means<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.means.to_pyarray(py)
    }
    #[getter]
    fn scales<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.scales.to_pyarray(py)
    }
    #[getter]
    fn eigenvalues<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.eigenvalues.to_pyarray(py)
    }
    #[getter]
    fn explained<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.explained.to_pyarray(py)
    }
    #[getter]
    fn cumulative<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.cumulative.to_pyarray(py)
    }
    #[getter]
    fn component_weights<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.component_weights.to_pyarray(py)
    }
    #[getter]
    fn index<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.index.to_pyarray(py)
    }
    #[getter]
    fn kmo_per_variable<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.kmo_per_variable.to_pyarray(py)
    }
    #[getter]
    fn eigenvectors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let p = self.fit.p;
        Ok(matrix(&self.fit.eigenvectors, p, p)?.to_pyarray(py))
    }
    #[getter]
    fn scores<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let (n, m) = (self.fit.n, self.fit.n_components);
        Ok(matrix(&self.fit.scores, n, m)?.to_pyarray(py))
    }
    #[getter]
    fn correlation<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let p = self.fit.p;
        Ok(matrix(&self.fit.correlation, p, p)?.to_pyarray(py))
    }
}

fn pca_spec(
    standardize: bool,
    n_components: Option<usize>,
    select: &str,
    share_threshold: f64,
    component_weights: &str,
) -> Result<PcaSpec, Error> {
    let select = match (n_components, select) {
        (Some(m), _) => Select::Count(m),
        (None, "eigenvalue") => Select::Eigenvalue,
        (None, "share") => Select::Share(share_threshold),
        (None, other) => {
            return Err(Error::Option {
                name: "select".into(),
                reason: format!("'{other}': use 'eigenvalue' or 'share'"),
            })
        }
    };
    let component_weights = match component_weights {
        "variance" => ComponentWeights::Variance,
        "equal" => ComponentWeights::Equal,
        other => {
            return Err(Error::Option {
                name: "component_weights".into(),
                reason: format!("'{other}': use 'variance' or 'equal'"),
            })
        }
    };
    Ok(PcaSpec {
        standardize,
        select,
        component_weights,
    })
}

/// Principal-components index; see `pilotdid.green.pca_index`.
#[pyfunction]
#[pyo3(signature = (columns, positive, *, standardize, n_components, select, share_threshold, component_weights))]
#[allow(clippy::too_many_arguments)]
fn green_pca<'py>(
    py: Python<'py>,
    columns: Vec<(String, PyReadonlyArray1<'py, f64>)>,
    positive: Vec<bool>,
    standardize: bool,
    n_components: Option<usize>,
    select: &str,
    share_threshold: f64,
    component_weights: &str,
) -> PyResult<PyPca> {
    let spec = guarded(|| {
        pca_spec(
            standardize,
            n_components,
            select,
            share_threshold,
            component_weights,
        )
    })?;
    let names: Vec<String> = columns.iter().map(|(n, _)| n.clone()).collect();
    let mut cols = Vec::new();
    for (n, a) in &columns {
        cols.push(slice(a, n)?);
    }
    let fit = run(py, || pca_index(&cols, &names, &positive, &spec))?;
    Ok(PyPca { fit })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyPca>()?;
    m.add_function(wrap_pyfunction!(green_pca, m)?)?;
    Ok(())
}

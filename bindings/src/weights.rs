//! PyO3 bindings for spatial weights: the `SparseWeights` matrix that crosses the boundary in
//! both directions, its builders and transforms, eigenvalues and log-determinants.
//! Conversion only; every number is computed in `pilotdid::spatial`.

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, ToPyArray};
use pyo3::prelude::*;

use super::{guarded, run, slice, to_py};
use pilotdid::error::Error;
use pilotdid::spatial::logdet::{logdet_barry_pace, Spectrum};
use pilotdid::spatial::weights::{self, Weights};

/// An N × N spatial weights matrix in CSR form (int64 indptr/indices, float64 data).
/// Built by the `sp_*` constructors, or from CSR arrays (checked: shapes, ranges, order).
#[pyclass(frozen, module = "pilotdid._core", name = "SparseWeights")]
pub(crate) struct PySparseWeights {
    pub(crate) w: Weights,
}

#[pymethods]
impl PySparseWeights {
    #[new]
    fn new(
        n: usize,
        indptr: PyReadonlyArray1<'_, i64>,
        indices: PyReadonlyArray1<'_, i64>,
        data: PyReadonlyArray1<'_, f64>,
    ) -> PyResult<Self> {
        let w = csr_in(n, &indptr, &indices, &data)?;
        Ok(Self { w })
    }
    #[getter]
    fn n(&self) -> usize {
        self.w.n
    }
    #[getter]
    fn indptr<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        let ip: Vec<i64> = self.w.indptr.iter().map(|&v| v as i64).collect();
        ip.into_pyarray(py)
    }
    #[getter]
    fn indices<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        let ix: Vec<i64> = self.w.indices.iter().map(|&v| v as i64).collect();
        ix.into_pyarray(py)
    }
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.w.data.to_pyarray(py)
    }
}

impl From<Weights> for PySparseWeights {
    fn from(w: Weights) -> Self {
        Self { w }
    }
}

fn csr_in(
    n: usize,
    indptr: &PyReadonlyArray1<i64>,
    indices: &PyReadonlyArray1<i64>,
    data: &PyReadonlyArray1<f64>,
) -> PyResult<Weights> {
    let ip = slice(indptr, "indptr")?;
    let ix = slice(indices, "indices")?;
    let d = slice(data, "data")?;
    guarded(|| {
        if ip.len() != n + 1 || ix.len() != d.len() || ip.last().copied() != Some(d.len() as i64) {
            return Err(Error::Shape("W: inconsistent sparse arrays".into()));
        }
        let mut rows = Vec::with_capacity(d.len());
        for i in 0..n {
            let (a, b) = (ip[i], ip[i + 1]);
            if a < 0 || b < a {
                return Err(Error::Shape("W: indptr is not non-decreasing".into()));
            }
            rows.extend(std::iter::repeat(i).take((b - a) as usize));
        }
        let cols: Vec<usize> = ix
            .iter()
            .map(|&c| {
                if c < 0 || c as usize >= n {
                    Err(Error::Shape(format!("W: column index {c} outside 0..{n}")))
                } else {
                    Ok(c as usize)
                }
            })
            .collect::<Result<_, _>>()?;
        Weights::from_triplets(n, &rows, &cols, d)
    })
}

/// W from (row, column, value) triplets of an n × n matrix; the diagonal must be zero.
#[pyfunction]
fn sp_from_triplets<'py>(
    py: Python<'py>,
    n: usize,
    rows: PyReadonlyArray1<'py, i64>,
    cols: PyReadonlyArray1<'py, i64>,
    values: PyReadonlyArray1<'py, f64>,
) -> PyResult<PySparseWeights> {
    let r = slice(&rows, "rows")?;
    let c = slice(&cols, "cols")?;
    let v = slice(&values, "values")?;
    let w = run(py, || {
        let conv = |x: &[i64], what: &str| -> Result<Vec<usize>, Error> {
            x.iter()
                .map(|&i| {
                    if i < 0 || i as usize >= n {
                        Err(Error::Shape(format!("{what} index {i} outside 0..{n}")))
                    } else {
                        Ok(i as usize)
                    }
                })
                .collect()
        };
        let rr = conv(r, "row")?;
        let cc = conv(c, "column")?;
        if rr.iter().zip(&cc).any(|(a, b)| a == b) {
            return Err(Error::Option {
                name: "W".into(),
                reason: "W has a non-zero diagonal (a unit is its own neighbour)".into(),
            });
        }
        Weights::from_triplets(n, &rr, &cc, v)
    })?;
    Ok(w.into())
}

/// Distance-based W from latitude / longitude (great-circle km): `kind` "inverse_distance"
/// (power, cutoff), "knn" (k) or "distance_band" (threshold).
#[pyfunction]
#[pyo3(signature = (lat, lon, kind, *, power=1.0, cutoff=None, k=4, threshold=0.0, radius_km=6371.0088))]
#[allow(clippy::too_many_arguments)]
fn sp_from_coords<'py>(
    py: Python<'py>,
    lat: PyReadonlyArray1<'py, f64>,
    lon: PyReadonlyArray1<'py, f64>,
    kind: &str,
    power: f64,
    cutoff: Option<f64>,
    k: usize,
    threshold: f64,
    radius_km: f64,
) -> PyResult<PySparseWeights> {
    let la = slice(&lat, "lat")?;
    let lo = slice(&lon, "lon")?;
    let w = run(py, || match kind {
        "inverse_distance" => weights::inverse_distance(la, lo, power, cutoff, radius_km),
        "knn" => weights::knn(la, lo, k, radius_km),
        "distance_band" => weights::distance_band(la, lo, threshold, radius_km),
        other => Err(Error::Option {
            name: "kind".into(),
            reason: format!("unknown weights kind '{other}'"),
        }),
    })?;
    Ok(w.into())
}

/// Queen / rook contiguity from flat polygon arrays (see `pilotdid::spatial::contiguity`).
#[pyfunction]
#[pyo3(signature = (x, y, ring_ptr, unit_ptr, kind, *, tolerance=0.0))]
fn sp_contiguity<'py>(
    py: Python<'py>,
    x: PyReadonlyArray1<'py, f64>,
    y: PyReadonlyArray1<'py, f64>,
    ring_ptr: PyReadonlyArray1<'py, i64>,
    unit_ptr: PyReadonlyArray1<'py, i64>,
    kind: &str,
    tolerance: f64,
) -> PyResult<PySparseWeights> {
    use pilotdid::spatial::contiguity::{contiguity, ContiguityKind, Polygons};
    let xs = slice(&x, "x")?;
    let ys = slice(&y, "y")?;
    let conv = |a: &[i64]| -> PyResult<Vec<usize>> {
        a.iter()
            .map(|&v| {
                usize::try_from(v)
                    .map_err(|_| to_py(Error::Shape(format!("negative polygon offset {v}"))))
            })
            .collect()
    };
    let rp = conv(slice(&ring_ptr, "ring_ptr")?)?;
    let up = conv(slice(&unit_ptr, "unit_ptr")?)?;
    let kind = match kind {
        "queen" => ContiguityKind::Queen,
        "rook" => ContiguityKind::Rook,
        other => {
            return Err(to_py(Error::Option {
                name: "kind".into(),
                reason: format!("'{other}' (use 'queen' or 'rook')"),
            }))
        }
    };
    let w = run(py, || {
        let p = Polygons {
            x: xs,
            y: ys,
            ring_ptr: &rp,
            unit_ptr: &up,
        };
        contiguity(&p, kind, tolerance)
    })?;
    Ok(w.into())
}

/// Economic-distance W: 1 / |z_i - z_j| off the diagonal.
#[pyfunction]
fn sp_economic<'py>(py: Python<'py>, z: PyReadonlyArray1<'py, f64>) -> PyResult<PySparseWeights> {
    let zz = slice(&z, "z")?;
    let w = run(py, || weights::economic_distance(zz))?;
    Ok(w.into())
}

/// Nested W: geographic `w` weighted by economic proximity of `z`.
#[pyfunction]
fn sp_nested<'py>(
    py: Python<'py>,
    w: &PySparseWeights,
    z: PyReadonlyArray1<'py, f64>,
) -> PyResult<PySparseWeights> {
    let zz = slice(&z, "z")?;
    let out = run(py, || weights::nested(&w.w, zz))?;
    Ok(out.into())
}

/// `how` = "row" (rows sum to one; islands refused unless `allow_islands`) or "spectral"
/// (divided by the largest eigenvalue modulus).
#[pyfunction]
#[pyo3(signature = (w, *, how, allow_islands=false))]
fn sp_transform(
    py: Python<'_>,
    w: &PySparseWeights,
    how: &str,
    allow_islands: bool,
) -> PyResult<PySparseWeights> {
    let out = run(py, || match how {
        "row" => w.w.row_standardise(allow_islands),
        "spectral" => w.w.spectral_normalise(),
        other => Err(Error::Option {
            name: "transform".into(),
            reason: format!("unknown transform '{other}' (use 'row' or 'spectral')"),
        }),
    })?;
    Ok(out.into())
}

/// Every eigenvalue of W, as real and imaginary parts.
#[pyclass(frozen, module = "pilotdid._core", name = "Eigenvalues")]
struct PyEigenvalues {
    re: Vec<f64>,
    im: Vec<f64>,
}

#[pymethods]
impl PyEigenvalues {
    #[getter]
    fn re<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.re.to_pyarray(py)
    }
    #[getter]
    fn im<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.im.to_pyarray(py)
    }
}

#[pyfunction]
fn sp_eigenvalues(py: Python<'_>, w: &PySparseWeights) -> PyResult<PyEigenvalues> {
    let s = run(py, || Spectrum::of(&w.w))?;
    Ok(PyEigenvalues { re: s.re, im: s.im })
}

/// The smallest and largest eigenvalues of W by Lanczos on the symmetrised W (no N x N
/// matrix; W must be similar to a symmetric matrix), see
/// `pilotdid::spatial::diagnostics::extreme_eigenvalues`.
#[pyfunction]
#[pyo3(signature = (w, *, tol=1e-10, max_steps=3000, seed=0))]
fn sp_extreme_eigenvalues(
    py: Python<'_>,
    w: &PySparseWeights,
    tol: f64,
    max_steps: usize,
    seed: u64,
) -> PyResult<(f64, f64)> {
    run(py, || {
        pilotdid::spatial::diagnostics::extreme_eigenvalues(&w.w, tol, max_steps, seed)
    })
}

/// log|I - rho W| at each `rhos`: `method` "exact" (eigenvalues) or "barry_pace"
/// (Monte Carlo series with `order` terms and `draws` probes, seeded).
#[pyfunction]
#[pyo3(signature = (w, rhos, *, method, order=50, draws=30, seed=0))]
fn sp_logdet<'py>(
    py: Python<'py>,
    w: &PySparseWeights,
    rhos: PyReadonlyArray1<'py, f64>,
    method: &str,
    order: usize,
    draws: usize,
    seed: u64,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let r = slice(&rhos, "rhos")?;
    let out = run(py, || match method {
        "exact" => {
            let s = Spectrum::of(&w.w)?;
            Ok(r.iter().map(|&x| s.logdet(x)).collect())
        }
        "barry_pace" => logdet_barry_pace(&w.w, r, order, draws, seed),
        other => Err(Error::Option {
            name: "method".into(),
            reason: format!("unknown log-determinant method '{other}'"),
        }),
    })?;
    Ok(out.into_pyarray(py))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySparseWeights>()?;
    m.add_class::<PyEigenvalues>()?;
    m.add_function(wrap_pyfunction!(sp_from_triplets, m)?)?;
    m.add_function(wrap_pyfunction!(sp_from_coords, m)?)?;
    m.add_function(wrap_pyfunction!(sp_economic, m)?)?;
    m.add_function(wrap_pyfunction!(sp_contiguity, m)?)?;
    m.add_function(wrap_pyfunction!(sp_nested, m)?)?;
    m.add_function(wrap_pyfunction!(sp_transform, m)?)?;
    m.add_function(wrap_pyfunction!(sp_eigenvalues, m)?)?;
    m.add_function(wrap_pyfunction!(sp_logdet, m)?)?;
    m.add_function(wrap_pyfunction!(sp_extreme_eigenvalues, m)?)?;
    Ok(())
}

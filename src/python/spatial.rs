//! PyO3 bindings for the spatial family: weights, log-determinants, SAR/SDM panels, effects,
//! Moran's I. Conversion only; every number is computed in `crate::spatial`.

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::{guarded, run, slice};
use crate::error::Error;
use crate::spatial::diagnostics::{lm_tests, lr_test, wald_theta};
use crate::spatial::effects::{impacts, unit_impacts};
use crate::spatial::logdet::{logdet_barry_pace, Spectrum};
use crate::spatial::moran::{moran_global, moran_local};
use crate::spatial::weights::{self, Weights};
use crate::spatial::{
    spatial_panel, FeKind, Method, RhoSearch, SpatialFit, SpatialInput, SpatialKind, SpatialSpec,
};

type Csr<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<f64>>,
);

type Pair<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>);

fn csr_out<'py>(py: Python<'py>, w: Weights) -> Csr<'py> {
    let ip: Vec<i64> = w.indptr.iter().map(|&v| v as i64).collect();
    let ix: Vec<i64> = w.indices.iter().map(|&v| v as i64).collect();
    (
        ip.into_pyarray(py),
        ix.into_pyarray(py),
        w.data.into_pyarray(py),
    )
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

#[pyfunction]
#[pyo3(signature = (n, rows, cols, values))]
fn sp_from_triplets<'py>(
    py: Python<'py>,
    n: usize,
    rows: PyReadonlyArray1<'py, i64>,
    cols: PyReadonlyArray1<'py, i64>,
    values: PyReadonlyArray1<'py, f64>,
) -> PyResult<Csr<'py>> {
    let r = slice(&rows, "rows")?;
    let c = slice(&cols, "cols")?;
    let v = slice(&values, "values")?;
    let w = guarded(|| {
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
    Ok(csr_out(py, w))
}

#[pyfunction]
#[pyo3(signature = (lat, lon, kind, power=1.0, cutoff=None, k=4, threshold=0.0, radius_km=6371.0088))]
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
) -> PyResult<Csr<'py>> {
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
    Ok(csr_out(py, w))
}

/// Queen / rook contiguity from flat polygon arrays (see `crate::spatial::contiguity`).
#[pyfunction]
#[pyo3(signature = (x, y, ring_ptr, unit_ptr, kind, tolerance=0.0))]
fn sp_contiguity<'py>(
    py: Python<'py>,
    x: PyReadonlyArray1<'py, f64>,
    y: PyReadonlyArray1<'py, f64>,
    ring_ptr: PyReadonlyArray1<'py, i64>,
    unit_ptr: PyReadonlyArray1<'py, i64>,
    kind: &str,
    tolerance: f64,
) -> PyResult<Csr<'py>> {
    use crate::spatial::contiguity::{contiguity, ContiguityKind, Polygons};
    let xs = slice(&x, "x")?;
    let ys = slice(&y, "y")?;
    let conv = |a: &[i64]| -> PyResult<Vec<usize>> {
        a.iter()
            .map(|&v| {
                usize::try_from(v)
                    .map_err(|_| super::to_py(Error::Shape(format!("negative polygon offset {v}"))))
            })
            .collect()
    };
    let rp = conv(slice(&ring_ptr, "ring_ptr")?)?;
    let up = conv(slice(&unit_ptr, "unit_ptr")?)?;
    let kind = match kind {
        "queen" => ContiguityKind::Queen,
        "rook" => ContiguityKind::Rook,
        other => {
            return Err(super::to_py(Error::Option {
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
    Ok(csr_out(py, w))
}

#[pyfunction]
fn sp_economic<'py>(py: Python<'py>, z: PyReadonlyArray1<'py, f64>) -> PyResult<Csr<'py>> {
    let zz = slice(&z, "z")?;
    let w = guarded(|| weights::economic_distance(zz))?;
    Ok(csr_out(py, w))
}

#[pyfunction]
fn sp_nested<'py>(
    py: Python<'py>,
    n: usize,
    indptr: PyReadonlyArray1<'py, i64>,
    indices: PyReadonlyArray1<'py, i64>,
    data: PyReadonlyArray1<'py, f64>,
    z: PyReadonlyArray1<'py, f64>,
) -> PyResult<Csr<'py>> {
    let w = csr_in(n, &indptr, &indices, &data)?;
    let zz = slice(&z, "z")?;
    let out = guarded(|| weights::nested(&w, zz))?;
    Ok(csr_out(py, out))
}

#[pyfunction]
#[pyo3(signature = (n, indptr, indices, data, how, allow_islands=false))]
fn sp_transform<'py>(
    py: Python<'py>,
    n: usize,
    indptr: PyReadonlyArray1<'py, i64>,
    indices: PyReadonlyArray1<'py, i64>,
    data: PyReadonlyArray1<'py, f64>,
    how: &str,
    allow_islands: bool,
) -> PyResult<Csr<'py>> {
    let w = csr_in(n, &indptr, &indices, &data)?;
    let out = guarded(|| match how {
        "row" => w.row_standardise(allow_islands),
        "spectral" => w.spectral_normalise(),
        other => Err(Error::Option {
            name: "transform".into(),
            reason: format!("unknown transform '{other}' (use 'row' or 'spectral')"),
        }),
    })?;
    Ok(csr_out(py, out))
}

#[pyfunction]
fn sp_eigenvalues<'py>(
    py: Python<'py>,
    n: usize,
    indptr: PyReadonlyArray1<'py, i64>,
    indices: PyReadonlyArray1<'py, i64>,
    data: PyReadonlyArray1<'py, f64>,
) -> PyResult<Pair<'py>> {
    let w = csr_in(n, &indptr, &indices, &data)?;
    let s = run(py, || Spectrum::of(&w))?;
    Ok((s.re.into_pyarray(py), s.im.into_pyarray(py)))
}

#[pyfunction]
#[pyo3(signature = (n, indptr, indices, data, rhos, method, order=50, draws=30, seed=0))]
#[allow(clippy::too_many_arguments)]
fn sp_logdet<'py>(
    py: Python<'py>,
    n: usize,
    indptr: PyReadonlyArray1<'py, i64>,
    indices: PyReadonlyArray1<'py, i64>,
    data: PyReadonlyArray1<'py, f64>,
    rhos: PyReadonlyArray1<'py, f64>,
    method: &str,
    order: usize,
    draws: usize,
    seed: u64,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let w = csr_in(n, &indptr, &indices, &data)?;
    let r = slice(&rhos, "rhos")?.to_vec();
    let out = run(py, || match method {
        "exact" => {
            let s = Spectrum::of(&w)?;
            Ok(r.iter().map(|&x| s.logdet(x)).collect())
        }
        "barry_pace" => logdet_barry_pace(&w, &r, order, draws, seed),
        other => Err(Error::Option {
            name: "method".into(),
            reason: format!("unknown log-determinant method '{other}'"),
        }),
    })?;
    Ok(out.into_pyarray(py))
}

/// A fitted spatial panel (SAR / SDM).
#[pyclass(name = "SpatialCore", module = "pilotdid._core", frozen)]
struct PySpatial {
    fit: SpatialFit,
    w: Weights,
}

#[pymethods]
impl PySpatial {
    #[getter]
    fn names(&self) -> Vec<String> {
        self.fit.names.clone()
    }
    #[getter]
    fn coef<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.coef.clone().into_pyarray(py)
    }
    #[getter]
    fn se<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.se.clone().into_pyarray(py)
    }
    /// Flattened (row-major) variance matrix.
    #[getter]
    fn vcov<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.vcov.clone().into_pyarray(py)
    }
    #[getter]
    fn residuals<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.residuals.clone().into_pyarray(py)
    }
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let f = &self.fit;
        let d = PyDict::new(py);
        d.set_item("loglik", f.loglik)?;
        d.set_item("n_units", f.n_units)?;
        d.set_item("n_periods", f.n_periods)?;
        d.set_item("k_x", f.k_x)?;
        d.set_item("durbin", f.durbin.clone())?;
        d.set_item("rho_bounds", f.rho_bounds)?;
        d.set_item("warnings", f.warnings.clone())?;
        d.set_item("w_row_standardised", f.w_row_standardised)?;
        d.set_item("method", f.method)?;
        d.set_item("trace_se", f.trace_se)?;
        Ok(d)
    }
    #[pyo3(signature = (draws=1000, seed=0))]
    fn impacts<'py>(
        &self,
        py: Python<'py>,
        draws: usize,
        seed: u64,
    ) -> PyResult<Bound<'py, PyDict>> {
        let im = run(py, || impacts(&self.fit, &self.w, draws, seed))?;
        let d = PyDict::new(py);
        d.set_item("names", im.names)?;
        d.set_item("direct", im.direct)?;
        d.set_item("indirect", im.indirect)?;
        d.set_item("total", im.total)?;
        d.set_item("delta_se", im.delta_se.to_vec())?;
        d.set_item("sim_mean", im.sim_mean.to_vec())?;
        d.set_item("sim_sd", im.sim_sd.to_vec())?;
        d.set_item("sim_lo", im.sim_lo.to_vec())?;
        d.set_item("sim_hi", im.sim_hi.to_vec())?;
        d.set_item("draws", im.draws)?;
        d.set_item("rejected", im.rejected)?;
        Ok(d)
    }
    /// Wald test of theta = 0 (SDM against SAR): (statistic, df, p-value).
    fn wald_theta(&self) -> PyResult<(f64, usize, f64)> {
        guarded(|| wald_theta(&self.fit))
    }
    /// LR test of `restricted` (fewer parameters) against this fit: (statistic, df, p).
    fn lr_test(&self, restricted: &PySpatial) -> PyResult<(f64, usize, f64)> {
        guarded(|| lr_test(&self.fit, &restricted.fit))
    }
    fn unit_impacts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let u = run(py, || unit_impacts(&self.fit, &self.w))?;
        let d = PyDict::new(py);
        d.set_item("names", u.names)?;
        d.set_item("direct", u.direct)?;
        d.set_item("indirect", u.indirect)?;
        d.set_item("total", u.total)?;
        Ok(d)
    }
}

#[pyfunction]
#[pyo3(signature = (y, x, names, unit, time, n, indptr, indices, data, kind, effects, lee_yu, durbin=None, fixed_rho=None, grid_incr=None, method="auto"))]
#[allow(clippy::too_many_arguments)]
fn sp_fit<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f64>,
    x: Vec<PyReadonlyArray1<'py, f64>>,
    names: Vec<String>,
    unit: PyReadonlyArray1<'py, u32>,
    time: PyReadonlyArray1<'py, u32>,
    n: usize,
    indptr: PyReadonlyArray1<'py, i64>,
    indices: PyReadonlyArray1<'py, i64>,
    data: PyReadonlyArray1<'py, f64>,
    kind: &str,
    effects: &str,
    lee_yu: bool,
    durbin: Option<Vec<usize>>,
    fixed_rho: Option<f64>,
    grid_incr: Option<f64>,
    method: &str,
) -> PyResult<PySpatial> {
    let w = csr_in(n, &indptr, &indices, &data)?;
    let yv = slice(&y, "y")?;
    let xs: Vec<Vec<f64>> = x
        .iter()
        .map(|c| slice(c, "x").map(|s| s.to_vec()))
        .collect::<PyResult<_>>()?;
    let u = slice(&unit, "unit")?;
    let t = slice(&time, "time")?;
    let kind = match kind {
        "sar" => SpatialKind::Sar,
        "sdm" => SpatialKind::Sdm,
        "sem" => SpatialKind::Sem,
        "sdem" => SpatialKind::Sdem,
        "sac" => SpatialKind::Sac,
        other => {
            return Err(super::to_py(Error::Option {
                name: "model".into(),
                reason: format!("unknown spatial model '{other}'"),
            }))
        }
    };
    let effects = parse_effects(effects)?;
    let method = parse_method(method)?;
    let spec = SpatialSpec {
        kind,
        effects,
        lee_yu,
        method,
        search: match grid_incr {
            Some(incr) => RhoSearch::Grid { incr },
            None => RhoSearch::Exact,
        },
    };
    let fit = run(py, || {
        let inp = SpatialInput {
            y: yv,
            x: &xs,
            xnames: &names,
            unit: u,
            time: t,
            w: &w,
            durbin: durbin.as_deref(),
            fixed_rho,
        };
        spatial_panel(&inp, &spec)
    })?;
    Ok(PySpatial { fit, w })
}

#[pyfunction]
#[pyo3(signature = (y, n, indptr, indices, data, permutations=999, seed=0))]
#[allow(clippy::too_many_arguments)]
fn sp_moran<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f64>,
    n: usize,
    indptr: PyReadonlyArray1<'py, i64>,
    indices: PyReadonlyArray1<'py, i64>,
    data: PyReadonlyArray1<'py, f64>,
    permutations: usize,
    seed: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let w = csr_in(n, &indptr, &indices, &data)?;
    let yv = slice(&y, "y")?;
    let m = run(py, || moran_global(yv, &w, permutations, seed))?;
    let d = PyDict::new(py);
    d.set_item("I", m.i)?;
    d.set_item("EI", m.ei)?;
    d.set_item("VI_norm", m.vi_norm)?;
    d.set_item("z_norm", m.z_norm)?;
    d.set_item("VI_rand", m.vi_rand)?;
    d.set_item("z_rand", m.z_rand)?;
    d.set_item("p_sim", m.p_sim)?;
    d.set_item("EI_sim", m.ei_sim)?;
    d.set_item("seI_sim", m.sd_sim)?;
    d.set_item("permutations", m.permutations)?;
    Ok(d)
}

#[pyfunction]
#[pyo3(signature = (y, n, indptr, indices, data, permutations=999, seed=0))]
#[allow(clippy::too_many_arguments)]
fn sp_moran_local<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f64>,
    n: usize,
    indptr: PyReadonlyArray1<'py, i64>,
    indices: PyReadonlyArray1<'py, i64>,
    data: PyReadonlyArray1<'py, f64>,
    permutations: usize,
    seed: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let w = csr_in(n, &indptr, &indices, &data)?;
    let yv = slice(&y, "y")?;
    let m = run(py, || moran_local(yv, &w, permutations, seed))?;
    let d = PyDict::new(py);
    d.set_item("Is", m.is.into_pyarray(py))?;
    d.set_item(
        "q",
        m.quadrant.iter().map(|&v| i64::from(v)).collect::<Vec<_>>(),
    )?;
    d.set_item("p_sim", m.p_sim.into_pyarray(py))?;
    Ok(d)
}

fn parse_method(method: &str) -> PyResult<Method> {
    match method {
        "auto" => Ok(Method::Auto),
        "dense" => Ok(Method::Dense),
        "sparse" => Ok(Method::Sparse),
        other => Err(super::to_py(Error::Option {
            name: "method".into(),
            reason: format!("'{other}' (use 'auto', 'dense' or 'sparse')"),
        })),
    }
}

fn parse_effects(effects: &str) -> PyResult<FeKind> {
    match effects {
        "none" => Ok(FeKind::None),
        "individual" => Ok(FeKind::Individual),
        "time" => Ok(FeKind::Time),
        "twoways" => Ok(FeKind::Twoways),
        other => Err(super::to_py(Error::Option {
            name: "effects".into(),
            reason: format!("'{other}' (use 'individual', 'time', 'twoways' or 'none')"),
        })),
    }
}

#[pyfunction]
#[pyo3(signature = (y, x, unit, time, n, indptr, indices, data, effects))]
#[allow(clippy::too_many_arguments)]
fn sp_lm_tests<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f64>,
    x: Vec<PyReadonlyArray1<'py, f64>>,
    unit: PyReadonlyArray1<'py, u32>,
    time: PyReadonlyArray1<'py, u32>,
    n: usize,
    indptr: PyReadonlyArray1<'py, i64>,
    indices: PyReadonlyArray1<'py, i64>,
    data: PyReadonlyArray1<'py, f64>,
    effects: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let w = csr_in(n, &indptr, &indices, &data)?;
    let yv = slice(&y, "y")?;
    let xs: Vec<Vec<f64>> = x
        .iter()
        .map(|c| slice(c, "x").map(|s| s.to_vec()))
        .collect::<PyResult<_>>()?;
    let u = slice(&unit, "unit")?;
    let t = slice(&time, "time")?;
    let fe = parse_effects(effects)?;
    let r = run(py, || lm_tests(yv, &xs, u, t, &w, fe))?;
    let d = PyDict::new(py);
    d.set_item("lm_lag", r.lm_lag)?;
    d.set_item("lm_error", r.lm_error)?;
    d.set_item("rlm_lag", r.rlm_lag)?;
    d.set_item("rlm_error", r.rlm_error)?;
    d.set_item("p_lm_lag", r.p_lm_lag)?;
    d.set_item("p_lm_error", r.p_lm_error)?;
    d.set_item("p_rlm_lag", r.p_rlm_lag)?;
    d.set_item("p_rlm_error", r.p_rlm_error)?;
    Ok(d)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sp_lm_tests, m)?)?;
    m.add_class::<PySpatial>()?;
    m.add_function(wrap_pyfunction!(sp_from_triplets, m)?)?;
    m.add_function(wrap_pyfunction!(sp_from_coords, m)?)?;
    m.add_function(wrap_pyfunction!(sp_economic, m)?)?;
    m.add_function(wrap_pyfunction!(sp_contiguity, m)?)?;
    m.add_function(wrap_pyfunction!(sp_nested, m)?)?;
    m.add_function(wrap_pyfunction!(sp_transform, m)?)?;
    m.add_function(wrap_pyfunction!(sp_eigenvalues, m)?)?;
    m.add_function(wrap_pyfunction!(sp_logdet, m)?)?;
    m.add_function(wrap_pyfunction!(sp_fit, m)?)?;
    m.add_function(wrap_pyfunction!(sp_moran, m)?)?;
    m.add_function(wrap_pyfunction!(sp_moran_local, m)?)?;
    Ok(())
}

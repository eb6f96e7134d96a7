//! PyO3 bindings for the dynamic spatial panels (`pilotdid::spatial::dynamic`): conversion only.

use numpy::{PyArray1, PyArray2, PyReadonlyArray1, ToPyArray};
use pyo3::prelude::*;

use super::weights::PySparseWeights;
use super::{run, slice, to_py};
use pilotdid::error::Error;
use pilotdid::spatial::dynamic::{
    dynamic_impacts, dynamic_panel, dynamic_panel_many, DynLag, DynamicFit, DynamicSpec,
};
use pilotdid::spatial::weights::Weights;
use pilotdid::spatial::{FeKind, SpatialInput};

/// A fitted dynamic SAR / SDM panel (bias-corrected QML and the uncorrected QML).
#[pyclass(frozen, module = "pilotdid._core", name = "DynamicSpatialCore")]
struct PyDynamic {
    fit: DynamicFit,
    w: Weights,
}

fn square<'py>(py: Python<'py>, v: &[f64], k: usize) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let a = numpy::ndarray::ArrayView2::from_shape((k, k), v)
        .map_err(|e| to_py(Error::Shape(e.to_string())))?;
    Ok(a.to_pyarray(py))
}

#[pymethods]
impl PyDynamic {
    #[getter]
    fn names(&self) -> Vec<String> {
        self.fit.names.clone()
    }
    #[getter]
    fn coef<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.coef.to_pyarray(py)
    }
    #[getter]
    fn se<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.se.to_pyarray(py)
    }
    #[getter]
    fn vcov<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        square(py, &self.fit.vcov, self.fit.coef.len())
    }
    /// The papers' asymptotic variance at the corrected estimate (without the Jacobian of the
    /// correction).
    #[getter]
    fn vcov_asymptotic<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        square(py, &self.fit.vcov_asymptotic, self.fit.coef.len())
    }
    #[getter]
    fn coef_qml<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.coef_qml.to_pyarray(py)
    }
    #[getter]
    fn se_qml<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.se_qml.to_pyarray(py)
    }
    #[getter]
    fn vcov_qml<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        square(py, &self.fit.vcov_qml, self.fit.coef.len())
    }
    #[getter]
    fn residuals<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.residuals.to_pyarray(py)
    }
    #[getter]
    fn loglik(&self) -> f64 {
        self.fit.loglik
    }
    #[getter]
    fn n_units(&self) -> usize {
        self.fit.n_units
    }
    /// Periods used (the first is lost to the lag).
    #[getter]
    fn n_periods(&self) -> usize {
        self.fit.n_periods
    }
    #[getter]
    fn k_x(&self) -> usize {
        self.fit.k_x
    }
    #[getter]
    fn durbin(&self) -> Vec<usize> {
        self.fit.durbin.clone()
    }
    #[getter]
    fn rho_bounds(&self) -> (f64, f64) {
        self.fit.rho_bounds
    }
    /// Largest eigenvalue modulus of (I - rho W)^-1 (tau I + eta W) (< 1: stationary).
    #[getter]
    fn spectral_radius(&self) -> f64 {
        self.fit.spectral_radius_a
    }
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.fit.warnings.clone()
    }
    #[getter]
    fn method(&self) -> &'static str {
        "dense"
    }
    #[getter]
    fn trace_se(&self) -> Option<f64> {
        None
    }
    /// No LR interval is computed for the bias-corrected rho.
    #[getter]
    fn intervals(&self) -> Vec<i64> {
        Vec::new()
    }
    /// Short-run (`long_run=False`) or long-run effects with delta-method and simulated
    /// inference.
    #[pyo3(signature = (*, long_run, draws=1000, seed=0))]
    fn impacts(
        &self,
        py: Python<'_>,
        long_run: bool,
        draws: usize,
        seed: u64,
    ) -> PyResult<PyDynamicImpacts> {
        let im = run(py, || {
            dynamic_impacts(&self.fit, &self.w, long_run, draws, seed)
        })?;
        Ok(PyDynamicImpacts {
            names: im.names,
            direct: im.direct,
            indirect: im.indirect,
            total: im.total,
            delta_se: im.delta_se.to_vec(),
            sim_mean: im.sim_mean.to_vec(),
            sim_sd: im.sim_sd.to_vec(),
            sim_lo: im.sim_lo.to_vec(),
            sim_hi: im.sim_hi.to_vec(),
            draws: im.draws,
            rejected: im.rejected,
        })
    }
}

/// Effects of a dynamic fit (same fields as `SpatialImpactsCore`).
#[pyclass(frozen, module = "pilotdid._core", name = "DynamicImpactsCore")]
struct PyDynamicImpacts {
    #[pyo3(get)]
    names: Vec<String>,
    #[pyo3(get)]
    direct: Vec<f64>,
    #[pyo3(get)]
    indirect: Vec<f64>,
    #[pyo3(get)]
    total: Vec<f64>,
    #[pyo3(get)]
    delta_se: Vec<Vec<f64>>,
    #[pyo3(get)]
    sim_mean: Vec<Vec<f64>>,
    #[pyo3(get)]
    sim_sd: Vec<Vec<f64>>,
    #[pyo3(get)]
    sim_lo: Vec<Vec<f64>>,
    #[pyo3(get)]
    sim_hi: Vec<Vec<f64>>,
    #[pyo3(get)]
    draws: usize,
    #[pyo3(get)]
    rejected: usize,
}

fn parse_spec(model: &str, dlag: u8, effects: &str) -> PyResult<DynamicSpec> {
    let durbin = match model {
        "sar" => false,
        "sdm" => true,
        other => {
            return Err(to_py(Error::Option {
                name: "model".into(),
                reason: format!("'{other}' (a dynamic model is 'sar' or 'sdm')"),
            }))
        }
    };
    let lags = match dlag {
        1 => DynLag::Time,
        2 => DynLag::SpaceTime,
        3 => DynLag::Both,
        other => {
            return Err(to_py(Error::Option {
                name: "dlag".into(),
                reason: format!("{other} (use 1: y(t-1), 2: W y(t-1), 3: both)"),
            }))
        }
    };
    let effects = match effects {
        "individual" => FeKind::Individual,
        "twoways" => FeKind::Twoways,
        other => {
            return Err(to_py(Error::Option {
                name: "effects".into(),
                reason: format!("'{other}' (a dynamic model takes 'individual' or 'twoways')"),
            }))
        }
    };
    Ok(DynamicSpec {
        durbin,
        lags,
        effects,
    })
}

/// Dynamic spatial panel (Yu, de Jong & Lee 2008; Lee & Yu 2010): rows of one balanced panel,
/// `unit`/`time` dense codes (W's order; time 0 is the first period, lost to the lag).
#[pyfunction]
#[pyo3(signature = (y, x, names, unit, time, w, *, model, dlag, effects, durbin=None))]
#[allow(clippy::too_many_arguments)]
fn sp_dynamic_fit<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f64>,
    x: Vec<PyReadonlyArray1<'py, f64>>,
    names: Vec<String>,
    unit: PyReadonlyArray1<'py, u32>,
    time: PyReadonlyArray1<'py, u32>,
    w: &PySparseWeights,
    model: &str,
    dlag: u8,
    effects: &str,
    durbin: Option<Vec<usize>>,
) -> PyResult<PyDynamic> {
    let spec = parse_spec(model, dlag, effects)?;
    let w = w.w.clone();
    let yv = slice(&y, "y")?;
    let xs: Vec<Vec<f64>> = x
        .iter()
        .map(|c| slice(c, "x").map(|s| s.to_vec()))
        .collect::<PyResult<_>>()?;
    let u = slice(&unit, "unit")?;
    let t = slice(&time, "time")?;
    let fit = run(py, || {
        let inp = SpatialInput {
            y: yv,
            x: &xs,
            xnames: &names,
            unit: u,
            time: t,
            w: &w,
            durbin: durbin.as_deref(),
            fixed_rho: None,
        };
        dynamic_panel(&inp, &spec)
    })?;
    Ok(PyDynamic { fit, w })
}

/// Many outcome vectors on one design (Monte Carlo), fitted in parallel. Returns
/// (corrected coef, corrected se, QML coef, QML se), each replicates x parameters.
#[pyfunction]
#[pyo3(signature = (ys, x, unit, time, w, *, model, dlag, effects))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn sp_dynamic_many<'py>(
    py: Python<'py>,
    ys: Vec<PyReadonlyArray1<'py, f64>>,
    x: Vec<PyReadonlyArray1<'py, f64>>,
    unit: PyReadonlyArray1<'py, u32>,
    time: PyReadonlyArray1<'py, u32>,
    w: &PySparseWeights,
    model: &str,
    dlag: u8,
    effects: &str,
) -> PyResult<(Vec<Vec<f64>>, Vec<Vec<f64>>, Vec<Vec<f64>>, Vec<Vec<f64>>)> {
    let spec = parse_spec(model, dlag, effects)?;
    let w = w.w.clone();
    let yv: Vec<Vec<f64>> = ys
        .iter()
        .map(|c| slice(c, "y").map(|s| s.to_vec()))
        .collect::<PyResult<_>>()?;
    let xs: Vec<Vec<f64>> = x
        .iter()
        .map(|c| slice(c, "x").map(|s| s.to_vec()))
        .collect::<PyResult<_>>()?;
    let names: Vec<String> = (0..xs.len()).map(|j| format!("x{j}")).collect();
    let u = slice(&unit, "unit")?;
    let t = slice(&time, "time")?;
    let fits = run(py, || {
        let inp = SpatialInput {
            y: &[],
            x: &xs,
            xnames: &names,
            unit: u,
            time: t,
            w: &w,
            durbin: None,
            fixed_rho: None,
        };
        dynamic_panel_many(&yv, &inp, &spec)
    })?;
    let pick = |f: fn(&DynamicFit) -> &Vec<f64>| fits.iter().map(|g| f(g).clone()).collect();
    Ok((
        pick(|f| &f.coef),
        pick(|f| &f.se),
        pick(|f| &f.coef_qml),
        pick(|f| &f.se_qml),
    ))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyDynamic>()?;
    m.add_class::<PyDynamicImpacts>()?;
    m.add_function(wrap_pyfunction!(sp_dynamic_fit, m)?)?;
    m.add_function(wrap_pyfunction!(sp_dynamic_many, m)?)?;
    Ok(())
}

//! PyO3 bindings for the spatial family: SAR/SDM/SEM/SDEM/SAC panels, their effects and
//! tests, Moran's I and the LM tests. Conversion only; every number is computed in
//! `pilotdid::spatial`. Weights and log-determinants are in `weights.rs`.

use numpy::{PyArray1, PyArray2, PyReadonlyArray1, ToPyArray};
use pyo3::prelude::*;

use super::weights::PySparseWeights;
use super::{run, slice, to_py};
use pilotdid::error::Error;
use pilotdid::spatial::diagnostics::{lm_tests, lr_test, wald_theta, LmTests};
use pilotdid::spatial::effects::{impacts, unit_impacts};
use pilotdid::spatial::identification::{SpatialInterval, WEAK_WIDTH_SHARE};
use pilotdid::spatial::moran::{moran_global, moran_local};
use pilotdid::spatial::weights::Weights;
use pilotdid::spatial::{
    spatial_panel_ext, FeKind, Method, RhoSearch, SpatialExtra, SpatialFit, SpatialInput,
    SpatialKind, SpatialSpec,
};

/// A fitted spatial panel (SAR, SDM, SEM, SDEM or SAC).
#[pyclass(frozen, module = "pilotdid._core", name = "SpatialCore")]
struct PySpatial {
    fit: SpatialFit,
    w: Weights,
}

#[pymethods]
impl PySpatial {
    /// Parameter names: regressors, W·regressors, rho / lambda, sigma2.
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
    /// Covariance of every parameter, in `names` order.
    #[getter]
    fn vcov<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let k = self.fit.coef.len();
        let v = numpy::ndarray::ArrayView2::from_shape((k, k), &self.fit.vcov)
            .map_err(|e| to_py(Error::Shape(e.to_string())))?;
        Ok(v.to_pyarray(py))
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
    #[getter]
    fn n_periods(&self) -> usize {
        self.fit.n_periods
    }
    /// Number of regressors (before the W·X terms).
    #[getter]
    fn k_x(&self) -> usize {
        self.fit.k_x
    }
    /// Positions of the regressors that enter as W·X.
    #[getter]
    fn durbin(&self) -> Vec<usize> {
        self.fit.durbin.clone()
    }
    /// Admissible interval of the spatial parameter.
    #[getter]
    fn rho_bounds(&self) -> (f64, f64) {
        self.fit.rho_bounds
    }
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.fit.warnings.clone()
    }
    #[getter]
    fn w_row_standardised(&self) -> bool {
        self.fit.w_row_standardised
    }
    /// Log-determinant / trace path used: "dense" or "sparse".
    #[getter]
    fn method(&self) -> &'static str {
        self.fit.method
    }
    /// Sparse path: Monte Carlo standard error of tr(G'G) in the information matrix.
    #[getter]
    fn trace_se(&self) -> Option<f64> {
        self.fit.trace_se
    }
    /// Likelihood-ratio intervals of the estimated spatial parameters (rho and / or lambda);
    /// empty when the parameter was fixed.
    #[getter]
    fn intervals(&self) -> Vec<PySpatialInterval> {
        self.fit
            .intervals
            .iter()
            .cloned()
            .map(PySpatialInterval::from)
            .collect()
    }
    /// LeSage–Pace effects with delta-method and simulated (`draws` parameter draws) inference.
    #[pyo3(signature = (*, draws=1000, seed=0))]
    fn impacts(&self, py: Python<'_>, draws: usize, seed: u64) -> PyResult<PyImpacts> {
        let im = run(py, || impacts(&self.fit, &self.w, draws, seed))?;
        Ok(PyImpacts {
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
    /// Wald test of theta = 0 (SDM against SAR).
    fn wald_theta(&self, py: Python<'_>) -> PyResult<PyChiSquaredTest> {
        run(py, || wald_theta(&self.fit)).map(PyChiSquaredTest::from)
    }
    /// LR test of `restricted` (fewer parameters) against this fit.
    fn lr_test(&self, py: Python<'_>, restricted: &PySpatial) -> PyResult<PyChiSquaredTest> {
        run(py, || lr_test(&self.fit, &restricted.fit)).map(PyChiSquaredTest::from)
    }
    /// Per-unit effects at the estimate.
    fn unit_impacts(&self, py: Python<'_>) -> PyResult<PyUnitImpacts> {
        let u = run(py, || unit_impacts(&self.fit, &self.w))?;
        Ok(PyUnitImpacts {
            names: u.names,
            direct: u.direct,
            indirect: u.indirect,
            total: u.total,
        })
    }
}

/// The likelihood-ratio interval of one spatial parameter and the weak-identification flag
/// read from it (`pilotdid::spatial::identification`).
#[pyclass(frozen, module = "pilotdid._core", name = "SpatialIntervalCore")]
struct PySpatialInterval {
    #[pyo3(get)]
    name: String,
    #[pyo3(get)]
    estimate: f64,
    #[pyo3(get)]
    low: f64,
    #[pyo3(get)]
    high: f64,
    #[pyo3(get)]
    level: f64,
    #[pyo3(get)]
    reaches_low: bool,
    #[pyo3(get)]
    reaches_high: bool,
    #[pyo3(get)]
    bounds: (f64, f64),
    /// LR statistic of the parameter = 0 (NaN when 0 is not admissible).
    #[pyo3(get)]
    lr_zero: f64,
    /// The admissible range capped at [-1, 1].
    #[pyo3(get)]
    capped_range: f64,
    #[pyo3(get)]
    weakly_identified: bool,
    /// Share of `capped_range` beyond which the interval counts as wide.
    #[pyo3(get)]
    weak_width_share: f64,
}

impl From<SpatialInterval> for PySpatialInterval {
    fn from(iv: SpatialInterval) -> Self {
        Self {
            capped_range: iv.capped_range(),
            weakly_identified: iv.weakly_identified(),
            weak_width_share: WEAK_WIDTH_SHARE,
            name: iv.name,
            estimate: iv.estimate,
            low: iv.low,
            high: iv.high,
            level: iv.level,
            reaches_low: iv.reaches_low,
            reaches_high: iv.reaches_high,
            bounds: iv.bounds,
            lr_zero: iv.lr_zero,
        }
    }
}

/// A chi-squared test: statistic, degrees of freedom, p-value.
#[pyclass(frozen, module = "pilotdid._core", name = "ChiSquaredTest")]
struct PyChiSquaredTest {
    #[pyo3(get)]
    statistic: f64,
    #[pyo3(get)]
    df: usize,
    #[pyo3(get)]
    p_value: f64,
}

impl From<(f64, usize, f64)> for PyChiSquaredTest {
    fn from((statistic, df, p_value): (f64, usize, f64)) -> Self {
        Self {
            statistic,
            df,
            p_value,
        }
    }
}

/// LeSage–Pace direct, indirect and total effects, one entry per regressor. The inference
/// lists hold three rows: direct, indirect, total.
#[pyclass(frozen, module = "pilotdid._core", name = "SpatialImpactsCore")]
struct PyImpacts {
    #[pyo3(get)]
    names: Vec<String>,
    #[pyo3(get)]
    direct: Vec<f64>,
    #[pyo3(get)]
    indirect: Vec<f64>,
    #[pyo3(get)]
    total: Vec<f64>,
    /// Delta-method standard errors.
    #[pyo3(get)]
    delta_se: Vec<Vec<f64>>,
    /// Simulation: mean, sd, 2.5% and 97.5% quantiles.
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
    /// Draws rejected (and redrawn) because rho fell outside its interval.
    #[pyo3(get)]
    rejected: usize,
}

/// Per-unit effects at the estimate: one list per regressor, one entry per unit.
#[pyclass(frozen, module = "pilotdid._core", name = "UnitImpactsCore")]
struct PyUnitImpacts {
    #[pyo3(get)]
    names: Vec<String>,
    #[pyo3(get)]
    direct: Vec<Vec<f64>>,
    #[pyo3(get)]
    indirect: Vec<Vec<f64>>,
    #[pyo3(get)]
    total: Vec<Vec<f64>>,
}

/// Spatial panel by maximum likelihood: `kind` "sar", "sdm", "sem", "sdem", "sac" or "gns";
/// `unit`/`time` are dense codes, rows sorted by time then unit as W orders the units.
/// `w_periods`: one W per period (time-varying W, in period order); `m`: the error weights
/// of SAC / GNS (default W); `fixed_lambda`: λ fixed (SAC / GNS).
#[pyfunction]
#[pyo3(signature = (y, x, names, unit, time, w, *, kind, effects, lee_yu, durbin=None, fixed_rho=None, grid_incr=None, method="auto", level=0.95, w_periods=None, m=None, fixed_lambda=None))]
#[allow(clippy::too_many_arguments)]
fn sp_fit<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f64>,
    x: Vec<PyReadonlyArray1<'py, f64>>,
    names: Vec<String>,
    unit: PyReadonlyArray1<'py, u32>,
    time: PyReadonlyArray1<'py, u32>,
    w: &PySparseWeights,
    kind: &str,
    effects: &str,
    lee_yu: bool,
    durbin: Option<Vec<usize>>,
    fixed_rho: Option<f64>,
    grid_incr: Option<f64>,
    method: &str,
    level: f64,
    w_periods: Option<Vec<PyRef<'py, PySparseWeights>>>,
    m: Option<PyRef<'py, PySparseWeights>>,
    fixed_lambda: Option<f64>,
) -> PyResult<PySpatial> {
    let w = w.w.clone();
    let w_periods: Option<Vec<Weights>> =
        w_periods.map(|v| v.iter().map(|p| p.w.clone()).collect());
    let m: Option<Weights> = m.map(|p| p.w.clone());
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
        "gns" => SpatialKind::Gns,
        other => {
            return Err(to_py(Error::Option {
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
        interval_level: level,
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
        let extra = SpatialExtra {
            w_periods: w_periods.as_deref(),
            m: m.as_ref(),
            fixed_lambda,
        };
        spatial_panel_ext(&inp, &extra, &spec)
    })?;
    Ok(PySpatial { fit, w })
}

/// Global Moran's I with its normal and randomisation moments and a permutation test.
#[pyclass(frozen, module = "pilotdid._core", name = "MoranCore")]
struct PyMoran {
    #[pyo3(get)]
    i: f64,
    #[pyo3(get)]
    ei: f64,
    #[pyo3(get)]
    vi_norm: f64,
    #[pyo3(get)]
    z_norm: f64,
    #[pyo3(get)]
    vi_rand: f64,
    #[pyo3(get)]
    z_rand: f64,
    /// Folded one-sided pseudo p-value, mean and sd of the permuted I (as esda).
    #[pyo3(get)]
    p_sim: f64,
    #[pyo3(get)]
    ei_sim: f64,
    #[pyo3(get)]
    sd_sim: f64,
    #[pyo3(get)]
    permutations: usize,
}

/// Global Moran's I of `y` (in the order of W's units).
#[pyfunction]
#[pyo3(signature = (y, w, *, permutations=999, seed=0))]
fn sp_moran<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f64>,
    w: &PySparseWeights,
    permutations: usize,
    seed: u64,
) -> PyResult<PyMoran> {
    let yv = slice(&y, "y")?;
    let m = run(py, || moran_global(yv, &w.w, permutations, seed))?;
    Ok(PyMoran {
        i: m.i,
        ei: m.ei,
        vi_norm: m.vi_norm,
        z_norm: m.z_norm,
        vi_rand: m.vi_rand,
        z_rand: m.z_rand,
        p_sim: m.p_sim,
        ei_sim: m.ei_sim,
        sd_sim: m.sd_sim,
        permutations: m.permutations,
    })
}

/// Local Moran's I per unit, its quadrant (1 HH, 2 LH, 3 LL, 4 HL) and conditional-
/// permutation pseudo p-values.
#[pyclass(frozen, module = "pilotdid._core", name = "LocalMoranCore")]
struct PyLocalMoran {
    local_i: Vec<f64>,
    #[pyo3(get)]
    quadrant: Vec<i64>,
    p_sim: Vec<f64>,
}

#[pymethods]
impl PyLocalMoran {
    #[getter]
    fn local_i<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.local_i.to_pyarray(py)
    }
    #[getter]
    fn p_sim<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.p_sim.to_pyarray(py)
    }
}

/// Local Moran's I (LISA) of `y` (in the order of W's units).
#[pyfunction]
#[pyo3(signature = (y, w, *, permutations=999, seed=0))]
fn sp_moran_local<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f64>,
    w: &PySparseWeights,
    permutations: usize,
    seed: u64,
) -> PyResult<PyLocalMoran> {
    let yv = slice(&y, "y")?;
    let m = run(py, || moran_local(yv, &w.w, permutations, seed))?;
    Ok(PyLocalMoran {
        local_i: m.is,
        quadrant: m.quadrant.iter().map(|&v| i64::from(v)).collect(),
        p_sim: m.p_sim,
    })
}

fn parse_method(method: &str) -> PyResult<Method> {
    match method {
        "auto" => Ok(Method::Auto),
        "dense" => Ok(Method::Dense),
        "sparse" => Ok(Method::Sparse),
        other => Err(to_py(Error::Option {
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
        other => Err(to_py(Error::Option {
            name: "effects".into(),
            reason: format!("'{other}' (use 'individual', 'time', 'twoways' or 'none')"),
        })),
    }
}

/// LM tests for a spatial lag or error in the pooled panel (Anselin; Elhorst), and their
/// robust forms, with p-values.
#[pyclass(frozen, module = "pilotdid._core", name = "LmTestsCore")]
struct PyLmTests {
    #[pyo3(get)]
    lm_lag: f64,
    #[pyo3(get)]
    lm_error: f64,
    #[pyo3(get)]
    rlm_lag: f64,
    #[pyo3(get)]
    rlm_error: f64,
    #[pyo3(get)]
    p_lm_lag: f64,
    #[pyo3(get)]
    p_lm_error: f64,
    #[pyo3(get)]
    p_rlm_lag: f64,
    #[pyo3(get)]
    p_rlm_error: f64,
}

impl From<LmTests> for PyLmTests {
    fn from(r: LmTests) -> Self {
        Self {
            lm_lag: r.lm_lag,
            lm_error: r.lm_error,
            rlm_lag: r.rlm_lag,
            rlm_error: r.rlm_error,
            p_lm_lag: r.p_lm_lag,
            p_lm_error: r.p_lm_error,
            p_rlm_lag: r.p_rlm_lag,
            p_rlm_error: r.p_rlm_error,
        }
    }
}

/// LM tests on the OLS residuals of y on x after the `effects` fixed effects.
#[pyfunction]
#[pyo3(signature = (y, x, unit, time, w, *, effects))]
fn sp_lm_tests<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f64>,
    x: Vec<PyReadonlyArray1<'py, f64>>,
    unit: PyReadonlyArray1<'py, u32>,
    time: PyReadonlyArray1<'py, u32>,
    w: &PySparseWeights,
    effects: &str,
) -> PyResult<PyLmTests> {
    let yv = slice(&y, "y")?;
    let xs: Vec<Vec<f64>> = x
        .iter()
        .map(|c| slice(c, "x").map(|s| s.to_vec()))
        .collect::<PyResult<_>>()?;
    let u = slice(&unit, "unit")?;
    let t = slice(&time, "time")?;
    let fe = parse_effects(effects)?;
    let r = run(py, || lm_tests(yv, &xs, u, t, &w.w, fe))?;
    Ok(r.into())
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySpatial>()?;
    m.add_class::<PyChiSquaredTest>()?;
    m.add_class::<PySpatialInterval>()?;
    m.add_class::<PyImpacts>()?;
    m.add_class::<PyUnitImpacts>()?;
    m.add_class::<PyMoran>()?;
    m.add_class::<PyLocalMoran>()?;
    m.add_class::<PyLmTests>()?;
    m.add_function(wrap_pyfunction!(sp_fit, m)?)?;
    m.add_function(wrap_pyfunction!(sp_lm_tests, m)?)?;
    m.add_function(wrap_pyfunction!(sp_moran, m)?)?;
    m.add_function(wrap_pyfunction!(sp_moran_local, m)?)?;
    Ok(())
}

//! PyO3 bindings for the de Chaisemartin–D'Haultfœuille DID_l estimator: `dcdh_fit` -> `DcdhCore`.

use numpy::{PyArray2, PyReadonlyArray1, PyReadonlyArray2, ToPyArray};
use pyo3::prelude::*;

use super::{named, run, slice, to_py, PilotdidError};
use pilotdid_core::did::dcdh::{
    dcdh, DcdhFit, DcdhInput, DcdhSpec, Horizons, JointTest, Switchers,
};
use pilotdid_core::did::dcdh_boot::{
    dcdh_boot_from_draws, dcdh_bootstrap, dcdh_bootstrap_range, BootDraws, DcdhBoot,
};

fn square(v: &[f64]) -> ndarray::Array2<f64> {
    let k = (v.len() as f64).sqrt().round() as usize;
    ndarray::Array2::from_shape_vec((k, k), v.to_vec())
        .unwrap_or_else(|_| ndarray::Array2::zeros((0, 0)))
}

fn test_tuple(t: Option<JointTest>) -> Option<(f64, usize, f64)> {
    t.map(|t| (t.stat, t.df, t.p_value))
}

/// Effects or placebos at horizons 1..k of a `DcdhCore`.
#[pyclass(frozen, module = "pilotdid._core", name = "DcdhHorizons")]
struct PyHorizons {
    h: Horizons,
    n_groups: usize,
}

#[pymethods]
impl PyHorizons {
    #[getter]
    fn estimate(&self) -> Vec<f64> {
        self.h.estimate.clone()
    }
    #[getter]
    fn se(&self) -> Vec<f64> {
        self.h.se.clone()
    }
    #[getter]
    fn n_switchers(&self) -> Vec<usize> {
        self.h.n_switchers.clone()
    }
    #[getter]
    fn n_obs(&self) -> Vec<usize> {
        self.h.n_obs.clone()
    }
    #[getter]
    fn delta(&self) -> Vec<f64> {
        self.h.delta.clone()
    }
    /// Covariance of the estimates (0 × 0 when a horizon has no switcher).
    #[getter]
    fn vcov<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        square(&self.h.vcov).to_pyarray(py)
    }
    /// Influence functions, n_groups × horizons with switchers.
    #[getter]
    fn influence<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        let k = self
            .h
            .influence
            .len()
            .checked_div(self.n_groups)
            .unwrap_or(0);
        ndarray::Array2::from_shape_vec((self.n_groups, k), self.h.influence.clone())
            .unwrap_or_else(|_| ndarray::Array2::zeros((0, 0)))
            .to_pyarray(py)
    }
}

/// A fitted DID_l estimator (see `pilotdid.dcdh`).
#[pyclass(frozen, module = "pilotdid._core", name = "DcdhCore")]
struct PyDcdh {
    fit: DcdhFit,
    boot: Option<DcdhBoot>,
}

#[pymethods]
impl PyDcdh {
    #[getter]
    fn effects(&self) -> PyHorizons {
        PyHorizons {
            h: self.fit.effects.clone(),
            n_groups: self.fit.n_groups,
        }
    }
    #[getter]
    fn placebos(&self) -> PyHorizons {
        PyHorizons {
            h: self.fit.placebos.clone(),
            n_groups: self.fit.n_groups,
        }
    }
    /// (estimate, se, n_obs, n_switchers) of the average total effect, or None.
    #[getter]
    fn ate(&self) -> Option<(f64, f64, usize, usize)> {
        self.fit.ate
    }
    /// (chi2, df, p_value) that all effects are zero (two or more effects), or None.
    #[getter]
    fn joint_effects(&self) -> Option<(f64, usize, f64)> {
        test_tuple(self.fit.joint_effects)
    }
    /// (chi2, df, p_value) that all placebos are zero (two or more placebos), or None.
    #[getter]
    fn joint_placebos(&self) -> Option<(f64, usize, f64)> {
        test_tuple(self.fit.joint_placebos)
    }
    /// (chi2, df, p_value) that all effects are equal (two or more effects), or None.
    #[getter]
    fn equal_effects(&self) -> Option<(f64, usize, f64)> {
        test_tuple(self.fit.equal_effects)
    }
    #[getter]
    fn n_groups(&self) -> usize {
        self.fit.n_groups
    }
    #[getter]
    fn n_switchers(&self) -> usize {
        self.fit.n_switchers
    }
    #[getter]
    fn n_never_switchers(&self) -> usize {
        self.fit.n_never_switchers
    }
    #[getter]
    fn n_clusters(&self) -> usize {
        self.fit.n_clusters
    }
    #[getter]
    fn max_effects(&self) -> usize {
        self.fit.max_effects
    }
    #[getter]
    fn max_placebo(&self) -> usize {
        self.fit.max_placebo
    }
    #[getter]
    fn periods(&self) -> Vec<i64> {
        self.fit.periods.clone()
    }
    /// Rows dropped by the sample preparation: (bidirectional, no_switch_variation, no_controls,
    /// trends_lin_second_period).
    #[getter]
    fn dropped(&self) -> (usize, usize, usize, usize) {
        let d = self.fit.dropped;
        (
            d.bidirectional,
            d.no_switch_variation,
            d.no_controls,
            d.trends_lin_second_period,
        )
    }
    /// Cluster code of each unit (None: units are the clusters).
    #[getter]
    fn group_clusters(&self) -> Option<Vec<u32>> {
        self.fit.group_clusters.clone()
    }
    #[getter]
    fn notes(&self) -> Vec<String> {
        self.fit.notes.clone()
    }
    /// The cluster bootstrap (`reps` > 0), or None.
    #[getter]
    fn boot(&self) -> Option<PyDcdhBoot> {
        self.boot.clone().map(|b| PyDcdhBoot { b })
    }
}

/// Cluster-bootstrap draws and SEs of a `DcdhCore`.
#[pyclass(frozen, module = "pilotdid._core", name = "DcdhBoot")]
struct PyDcdhBoot {
    b: DcdhBoot,
}

#[pymethods]
impl PyDcdhBoot {
    /// Draws × effects (NaN where a draw did not reach the effect or had none).
    #[getter]
    fn effects<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        let k = self.b.effects.len().checked_div(self.b.reps).unwrap_or(0);
        ndarray::Array2::from_shape_vec((self.b.reps, k), self.b.effects.clone())
            .unwrap_or_else(|_| ndarray::Array2::zeros((0, 0)))
            .to_pyarray(py)
    }
    /// Draws × placebos.
    #[getter]
    fn placebos<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        let k = self.b.placebos.len().checked_div(self.b.reps).unwrap_or(0);
        ndarray::Array2::from_shape_vec((self.b.reps, k), self.b.placebos.clone())
            .unwrap_or_else(|_| ndarray::Array2::zeros((0, 0)))
            .to_pyarray(py)
    }
    #[getter]
    fn ate(&self) -> Vec<f64> {
        self.b.ate.clone()
    }
    #[getter]
    fn effects_se(&self) -> Vec<f64> {
        self.b.effects_se.clone()
    }
    #[getter]
    fn placebos_se(&self) -> Vec<f64> {
        self.b.placebos_se.clone()
    }
    #[getter]
    fn ate_se(&self) -> Option<f64> {
        self.b.ate_se
    }
    #[getter]
    fn reps(&self) -> usize {
        self.b.reps
    }
    /// Per draw: it had no estimable effect.
    #[getter]
    fn failed(&self) -> Vec<bool> {
        self.b.failed.clone()
    }
    /// Draws with no estimable effect (left out of the SEs).
    #[getter]
    fn n_failed(&self) -> usize {
        self.b.n_failed
    }
    #[getter]
    fn n_clusters(&self) -> usize {
        self.b.n_clusters
    }
}

/// DID_l on prepared columns; see `pilotdid.dcdh`.
#[pyfunction]
#[pyo3(signature = (y, time, unit, treatment, *, cov_names, covs, weights=None, cluster=None, trend_group=None, names, effects, placebo, switchers, normalized, only_never_switchers, same_switchers=false, same_switchers_pl=false, trends_lin=false, less_conservative_se=false, reps=0, seed=0, boot_range=None))]
#[allow(clippy::too_many_arguments)]
fn dcdh_fit<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f64>,
    time: PyReadonlyArray1<'py, i64>,
    unit: PyReadonlyArray1<'py, u32>,
    treatment: PyReadonlyArray1<'py, f64>,
    cov_names: Vec<String>,
    covs: Vec<PyReadonlyArray1<'py, f64>>,
    weights: Option<PyReadonlyArray1<'py, f64>>,
    cluster: Option<PyReadonlyArray1<'py, u32>>,
    trend_group: Option<PyReadonlyArray1<'py, u32>>,
    names: Vec<String>,
    effects: usize,
    placebo: usize,
    switchers: &str,
    normalized: bool,
    only_never_switchers: bool,
    same_switchers: bool,
    same_switchers_pl: bool,
    trends_lin: bool,
    less_conservative_se: bool,
    reps: usize,
    seed: u64,
    boot_range: Option<(usize, usize)>,
) -> PyResult<PyDcdh> {
    let names: [String; 6] = names
        .try_into()
        .map_err(|_| PilotdidError::new_err("dcdh_fit: names must have 6 entries"))?;
    let spec = DcdhSpec {
        effects,
        placebo,
        switchers: Switchers::parse(switchers).map_err(to_py)?,
        normalized,
        only_never_switchers,
        same_switchers,
        same_switchers_pl,
        trends_lin,
        less_conservative_se,
    };
    let input = DcdhInput {
        y: slice(&y, "y")?,
        time: slice(&time, "time")?,
        unit: slice(&unit, "unit")?,
        treatment: slice(&treatment, "treatment")?,
        weights: weights.as_ref().map(|w| slice(w, "weights")).transpose()?,
        cluster: cluster.as_ref().map(|c| slice(c, "cluster")).transpose()?,
        controls: named(cov_names, &covs, "control")?,
        trend_group: trend_group
            .as_ref()
            .map(|c| slice(c, "trend_group"))
            .transpose()?,
        names,
    };
    // the full-sample fit first: it validates the input the bootstrap draws from
    let (fit, boot) = run(py, || {
        let fit = dcdh(&input, &spec)?;
        // boot_range: one chunk of the replicates (an executor's work item)
        let boot = match (reps, boot_range) {
            (0, _) => None,
            (_, Some((start, stop))) => Some(dcdh_bootstrap_range(
                &input,
                &spec,
                reps,
                start..stop,
                seed,
            )?),
            (_, None) => Some(dcdh_bootstrap(&input, &spec, reps, seed)?),
        };
        Ok((fit, boot))
    })?;
    Ok(PyDcdh { fit, boot })
}

/// Bootstrap draws computed in chunks (on an executor), stacked in replicate order, as one
/// `DcdhBoot` (the SEs of the whole run, bit for bit).
#[pyfunction]
#[pyo3(signature = (effects, placebos, ate, failed, *, trends_lin, n_clusters))]
fn dcdh_boot_join<'py>(
    effects: PyReadonlyArray2<'py, f64>,
    placebos: PyReadonlyArray2<'py, f64>,
    ate: Vec<f64>,
    failed: Vec<bool>,
    trends_lin: bool,
    n_clusters: usize,
) -> PyResult<PyDcdhBoot> {
    let (ke, kp) = (effects.as_array().ncols(), placebos.as_array().ncols());
    let b = dcdh_boot_from_draws(
        BootDraws {
            effects: effects.as_array().iter().copied().collect(),
            placebos: placebos.as_array().iter().copied().collect(),
            ate,
            failed,
        },
        ke,
        kp,
        trends_lin,
        n_clusters,
    )
    .map_err(to_py)?;
    Ok(PyDcdhBoot { b })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyDcdh>()?;
    m.add_class::<PyHorizons>()?;
    m.add_class::<PyDcdhBoot>()?;
    m.add_function(wrap_pyfunction!(dcdh_fit, m)?)?;
    m.add_function(wrap_pyfunction!(dcdh_boot_join, m)?)?;
    Ok(())
}

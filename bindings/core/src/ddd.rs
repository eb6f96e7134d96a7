//! PyO3 bindings for triple differences: `ddd_fit` -> `DddCore`, `DddCore.aggte`.

use numpy::{IntoPyArray, PyArray2, PyReadonlyArray1, ToPyArray};
use pyo3::prelude::*;

use super::{named, run, slice, to_py, PilotdidError};
use pilotdid_core::did::aggte::{AggType, AggteSpec, CohortShares};
use pilotdid_core::did::att_gt::{BasePeriod, CellStatus, ControlGroup, EstMethod};
use pilotdid_core::did::ddd::{ddd, ddd_aggregate, DddFit, DddInput, DddSpec};
use pilotdid_core::inference::multiplier::{MultiplierSpec, MultiplierWeights};

fn boot_spec(
    bstrap: bool,
    biters: usize,
    seed: u64,
    alpha: f64,
    weight_type: &str,
) -> PyResult<Option<MultiplierSpec>> {
    let weights = MultiplierWeights::parse(weight_type).map_err(to_py)?;
    Ok(bstrap.then_some(MultiplierSpec {
        biters,
        weights,
        seed,
        alpha,
    }))
}

/// A fitted triple difference (see `pilotdid.ddd`).
#[pyclass(frozen, module = "pilotdid._core", name = "DddCore")]
struct PyDdd {
    fit: DddFit,
}

#[pymethods]
impl PyDdd {
    /// One entry per (g,t) cell (one cell with two periods).
    #[getter]
    fn cells(&self) -> PyDddCells {
        let c = &self.fit.fit.cells;
        PyDddCells {
            group: c.iter().map(|x| x.group).collect(),
            t: c.iter().map(|x| x.time).collect(),
            base_t: c.iter().map(|x| x.base_time).collect(),
            post: c.iter().map(|x| x.post).collect(),
            att: c.iter().map(|x| x.att).collect(),
            se: self.fit.fit.se.clone(),
            n_treated: c.iter().map(|x| x.n_treated).collect(),
            n_control: c.iter().map(|x| x.n_control).collect(),
            status: c
                .iter()
                .map(|x| match x.status {
                    CellStatus::Estimated => "estimated",
                    CellStatus::Reference => "reference",
                    CellStatus::Skipped(_) => "skipped",
                })
                .collect(),
            reason: c
                .iter()
                .map(|x| match &x.status {
                    CellStatus::Skipped(r) => r.clone(),
                    _ => String::new(),
                })
                .collect(),
        }
    }
    #[getter]
    fn n_units(&self) -> usize {
        self.fit.fit.n_units
    }
    #[getter]
    fn crit_val(&self) -> f64 {
        self.fit.fit.crit_val
    }
    /// Always None: no Wald pre-test for triple differences (see `pretest_note`).
    #[getter]
    fn pretest(&self) -> Option<(f64, f64, usize)> {
        None
    }
    #[getter]
    fn pretest_note(&self) -> Option<String> {
        self.fit.fit.pretest_note.clone()
    }
    #[getter]
    fn groups(&self) -> Vec<i64> {
        self.fit.fit.groups.clone()
    }
    #[getter]
    fn periods(&self) -> Vec<i64> {
        self.fit.fit.periods.clone()
    }
    #[getter]
    fn n_rows_dropped(&self) -> usize {
        self.fit.fit.n_rows_dropped
    }
    #[getter]
    fn n_units_already_treated(&self) -> usize {
        self.fit.fit.n_units_already_treated
    }
    #[getter]
    fn n_units_unbalanced(&self) -> usize {
        self.fit.n_units_unbalanced
    }
    #[getter]
    fn notes(&self) -> Vec<String> {
        self.fit.fit.notes.clone()
    }
    #[getter]
    fn bootstrap(&self) -> bool {
        self.fit.fit.bootstrap.is_some()
    }
    #[getter]
    fn n_boot_units(&self) -> Option<usize> {
        self.fit.fit.bootstrap.as_ref().map(|b| b.n_boot_units)
    }
    /// Whether the data had two periods (one ATT) rather than staggered cohorts.
    #[getter]
    fn two_period(&self) -> bool {
        self.fit.two_period
    }
    /// Two periods: the DIDs of subgroup 4 against subgroups 3, 2 and 1.
    #[getter]
    fn components(&self) -> Vec<f64> {
        self.fit.components.clone()
    }
    /// Two periods: units in subgroups 1..4.
    #[getter]
    fn subgroup_counts(&self) -> Vec<usize> {
        self.fit.subgroup_counts.clone()
    }
    /// Influence functions, n_units × cells.
    #[getter]
    fn influence<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        let f = &self.fit.fit;
        let a = ndarray::Array2::from_shape_fn((f.n_units, f.inf.len()), |(i, j)| f.inf[j][i]);
        a.into_pyarray(py)
    }

    /// Aggregate the group-time ATTs ("simple", "group", "dynamic" or "calendar").
    #[pyo3(signature = (kind, *, min_e, max_e, balance_e=None, alpha, bstrap, biters, cband, seed, weight_type="mammen", cohort_shares="estimated"))]
    #[allow(clippy::too_many_arguments)]
    fn aggte(
        &self,
        py: Python<'_>,
        kind: &str,
        min_e: f64,
        max_e: f64,
        balance_e: Option<i64>,
        alpha: f64,
        bstrap: bool,
        biters: usize,
        cband: bool,
        seed: u64,
        weight_type: &str,
        cohort_shares: &str,
    ) -> PyResult<PyDddAggte> {
        let spec = AggteSpec {
            kind: AggType::parse(kind).map_err(to_py)?,
            min_e,
            max_e,
            balance_e,
            alpha,
            bootstrap: boot_spec(bstrap, biters, seed, alpha, weight_type)?,
            cband,
            cohort_shares: CohortShares::parse(cohort_shares).map_err(to_py)?,
        };
        let out = run(py, || ddd_aggregate(&self.fit, &spec))?;
        let k = out.egt.len();
        let vcov = ndarray::Array2::from_shape_vec((k, k), out.vcov)
            .map_err(|e| PilotdidError::new_err(e.to_string()))?;
        Ok(PyDddAggte {
            egt: out.egt,
            att: out.att,
            se: out.se,
            overall_att: out.overall_att,
            overall_se: out.overall_se,
            crit_val: out.crit_val,
            notes: out.notes,
            vcov,
        })
    }
}

/// The (g,t) cells of a `DddCore`, one list entry per cell.
#[pyclass(frozen, module = "pilotdid._core", name = "DddCells")]
struct PyDddCells {
    #[pyo3(get)]
    group: Vec<i64>,
    #[pyo3(get)]
    t: Vec<i64>,
    #[pyo3(get)]
    base_t: Vec<i64>,
    #[pyo3(get)]
    post: Vec<bool>,
    #[pyo3(get)]
    att: Vec<f64>,
    #[pyo3(get)]
    se: Vec<f64>,
    #[pyo3(get)]
    n_treated: Vec<usize>,
    #[pyo3(get)]
    n_control: Vec<usize>,
    #[pyo3(get)]
    status: Vec<&'static str>,
    #[pyo3(get)]
    reason: Vec<String>,
}

/// Aggregated triple-difference ATTs (as `AggteCore`).
#[pyclass(frozen, module = "pilotdid._core", name = "DddAggteCore")]
struct PyDddAggte {
    #[pyo3(get)]
    egt: Vec<i64>,
    #[pyo3(get)]
    att: Vec<f64>,
    #[pyo3(get)]
    se: Vec<f64>,
    #[pyo3(get)]
    overall_att: f64,
    #[pyo3(get)]
    overall_se: f64,
    #[pyo3(get)]
    crit_val: f64,
    #[pyo3(get)]
    notes: Vec<String>,
    vcov: ndarray::Array2<f64>,
}

#[pymethods]
impl PyDddAggte {
    #[getter]
    fn vcov<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.vcov.to_pyarray(py)
    }
}

/// Triple differences on prepared columns; see `pilotdid.ddd`.
#[pyfunction]
#[pyo3(signature = (y, time, unit, cohort, partition, *, cov_names, covs, weights=None, cluster=None, names, control_group, base_period, est_method, alpha, bstrap, biters, seed, weight_type="mammen"))]
#[allow(clippy::too_many_arguments)]
fn ddd_fit<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f64>,
    time: PyReadonlyArray1<'py, i64>,
    unit: PyReadonlyArray1<'py, u32>,
    cohort: PyReadonlyArray1<'py, f64>,
    partition: PyReadonlyArray1<'py, f64>,
    cov_names: Vec<String>,
    covs: Vec<PyReadonlyArray1<'py, f64>>,
    weights: Option<PyReadonlyArray1<'py, f64>>,
    cluster: Option<PyReadonlyArray1<'py, u32>>,
    names: Vec<String>,
    control_group: &str,
    base_period: &str,
    est_method: &str,
    alpha: f64,
    bstrap: bool,
    biters: usize,
    seed: u64,
    weight_type: &str,
) -> PyResult<PyDdd> {
    let names: [String; 7] = names
        .try_into()
        .map_err(|_| PilotdidError::new_err("ddd_fit: names must have 7 entries"))?;
    let spec = DddSpec {
        control_group: ControlGroup::parse(control_group).map_err(to_py)?,
        base_period: BasePeriod::parse(base_period).map_err(to_py)?,
        est_method: EstMethod::parse(est_method).map_err(to_py)?,
        alpha,
        bootstrap: boot_spec(bstrap, biters, seed, alpha, weight_type)?,
    };
    let input = DddInput {
        y: slice(&y, "y")?,
        time: slice(&time, "time")?,
        unit: slice(&unit, "unit")?,
        cohort: slice(&cohort, "cohort")?,
        partition: slice(&partition, "partition")?,
        covariates: named(cov_names, &covs, "covariate")?,
        weights: weights.as_ref().map(|w| slice(w, "weights")).transpose()?,
        cluster: cluster.as_ref().map(|c| slice(c, "cluster")).transpose()?,
        names,
    };
    let fit = run(py, || ddd(&input, &spec))?;
    Ok(PyDdd { fit })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyDdd>()?;
    m.add_class::<PyDddCells>()?;
    m.add_class::<PyDddAggte>()?;
    m.add_function(wrap_pyfunction!(ddd_fit, m)?)?;
    Ok(())
}

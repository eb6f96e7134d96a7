//! PyO3 bindings for Callaway & Sant'Anna: `att_gt_fit` -> `AttGtCore`, `AttGtCore.aggte`.

use numpy::{IntoPyArray, PyArray2, PyReadonlyArray1, ToPyArray};
use pyo3::prelude::*;

use super::{named, run, slice, to_py, PilotdidError};
use pilotdid_core::did::aggte::{aggte, AggType, AggteSpec, CohortShares};
use pilotdid_core::did::att_gt::{
    att_gt, AttGtFit, AttGtInput, AttGtSpec, BasePeriod, CellStatus, ControlGroup, EstMethod,
};
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

/// A fitted set of group-time ATTs (see `pilotdid.att_gt`).
#[pyclass(frozen, module = "pilotdid._core", name = "AttGtCore")]
pub(super) struct PyAttGt {
    pub(super) fit: AttGtFit,
}

#[pymethods]
impl PyAttGt {
    /// One entry per (g,t) cell.
    #[getter]
    fn cells(&self) -> PyAttGtCells {
        let c = &self.fit.cells;
        PyAttGtCells {
            group: c.iter().map(|x| x.group).collect(),
            t: c.iter().map(|x| x.time).collect(),
            base_t: c.iter().map(|x| x.base_time).collect(),
            post: c.iter().map(|x| x.post).collect(),
            att: c.iter().map(|x| x.att).collect(),
            se: self.fit.se.clone(),
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
    /// Units in the estimation sample (the n of the influence functions).
    #[getter]
    fn n_units(&self) -> usize {
        self.fit.n_units
    }
    /// Critical value of the intervals (the uniform band's with cband).
    #[getter]
    fn crit_val(&self) -> f64 {
        self.fit.crit_val
    }
    /// Wald pre-test of parallel trends (None: see `pretest_note`).
    #[getter]
    fn pretest(&self) -> Option<PyAttGtPretest> {
        self.fit.pretest.map(|p| PyAttGtPretest {
            w: p.w,
            p_value: p.p_value,
            df: p.df,
        })
    }
    #[getter]
    fn pretest_note(&self) -> Option<String> {
        self.fit.pretest_note.clone()
    }
    #[getter]
    fn groups(&self) -> Vec<i64> {
        self.fit.groups.clone()
    }
    #[getter]
    fn periods(&self) -> Vec<i64> {
        self.fit.periods.clone()
    }
    #[getter]
    fn n_rows_dropped(&self) -> usize {
        self.fit.n_rows_dropped
    }
    #[getter]
    fn n_units_already_treated(&self) -> usize {
        self.fit.n_units_already_treated
    }
    /// Sample adjustments (units dropped or recoded), as R did reports them.
    #[getter]
    fn notes(&self) -> Vec<String> {
        self.fit.notes.clone()
    }
    /// Whether the multiplier bootstrap ran.
    #[getter]
    fn bootstrap(&self) -> bool {
        self.fit.bootstrap.is_some()
    }
    /// Bootstrap units (clusters when clustered); None without bootstrap.
    #[getter]
    fn n_boot_units(&self) -> Option<usize> {
        self.fit.bootstrap.as_ref().map(|b| b.n_boot_units)
    }

    /// Influence functions, n_units × cells.
    #[getter]
    fn influence<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        let n = self.fit.n_units;
        let m = self.fit.inf.len();
        let a = ndarray::Array2::from_shape_fn((n, m), |(i, j)| self.fit.inf[j][i]);
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
    ) -> PyResult<PyAggte> {
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
        let out = run(py, || aggte(&self.fit, &spec))?;
        let k = out.egt.len();
        let vcov = ndarray::Array2::from_shape_vec((k, k), out.vcov)
            .map_err(|e| PilotdidError::new_err(e.to_string()))?;
        Ok(PyAggte {
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

/// The (g,t) cells of an `AttGtCore`, one list entry per cell.
#[pyclass(frozen, module = "pilotdid._core", name = "AttGtCells")]
struct PyAttGtCells {
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
    /// "estimated", "reference" or "skipped".
    #[pyo3(get)]
    status: Vec<&'static str>,
    /// Why a cell was skipped (empty otherwise).
    #[pyo3(get)]
    reason: Vec<String>,
}

/// Wald pre-test of parallel trends over the pre-treatment cells.
#[pyclass(frozen, module = "pilotdid._core", name = "AttGtPretest")]
struct PyAttGtPretest {
    #[pyo3(get)]
    w: f64,
    #[pyo3(get)]
    p_value: f64,
    #[pyo3(get)]
    df: usize,
}

/// Aggregated ATTs: one entry per group / event time / period, the overall ATT, and the
/// analytic covariance of the entries.
#[pyclass(frozen, module = "pilotdid._core", name = "AggteCore")]
struct PyAggte {
    /// Group, event time or calendar period of each entry (empty for "simple").
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
impl PyAggte {
    #[getter]
    fn vcov<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.vcov.to_pyarray(py)
    }
}

/// Callaway & Sant'Anna ATT(g,t) on prepared columns; see `pilotdid.att_gt`.
#[pyfunction]
#[pyo3(signature = (y, time, unit, cohort, *, cov_names, covs, weights=None, cluster=None, names, control_group, anticipation, base_period, est_method, alpha, bstrap, biters, cband, seed, weight_type="mammen"))]
#[allow(clippy::too_many_arguments)]
fn att_gt_fit<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f64>,
    time: PyReadonlyArray1<'py, i64>,
    unit: PyReadonlyArray1<'py, u32>,
    cohort: PyReadonlyArray1<'py, f64>,
    cov_names: Vec<String>,
    covs: Vec<PyReadonlyArray1<'py, f64>>,
    weights: Option<PyReadonlyArray1<'py, f64>>,
    cluster: Option<PyReadonlyArray1<'py, u32>>,
    names: Vec<String>,
    control_group: &str,
    anticipation: i64,
    base_period: &str,
    est_method: &str,
    alpha: f64,
    bstrap: bool,
    biters: usize,
    cband: bool,
    seed: u64,
    weight_type: &str,
) -> PyResult<PyAttGt> {
    let names: [String; 6] = names
        .try_into()
        .map_err(|_| PilotdidError::new_err("att_gt_fit: names must have 6 entries"))?;
    let spec = AttGtSpec {
        control_group: ControlGroup::parse(control_group).map_err(to_py)?,
        anticipation,
        base_period: BasePeriod::parse(base_period).map_err(to_py)?,
        est_method: EstMethod::parse(est_method).map_err(to_py)?,
        alpha,
        bootstrap: boot_spec(bstrap, biters, seed, alpha, weight_type)?,
        cband,
    };
    let input = AttGtInput {
        y: slice(&y, "y")?,
        time: slice(&time, "time")?,
        unit: slice(&unit, "unit")?,
        cohort: slice(&cohort, "cohort")?,
        covariates: named(cov_names, &covs, "covariate")?,
        weights: weights.as_ref().map(|w| slice(w, "weights")).transpose()?,
        cluster: cluster.as_ref().map(|c| slice(c, "cluster")).transpose()?,
        names,
    };
    let fit = run(py, || att_gt(&input, &spec))?;
    Ok(PyAttGt { fit })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyAttGt>()?;
    m.add_class::<PyAttGtCells>()?;
    m.add_class::<PyAttGtPretest>()?;
    m.add_class::<PyAggte>()?;
    m.add_function(wrap_pyfunction!(att_gt_fit, m)?)?;
    Ok(())
}

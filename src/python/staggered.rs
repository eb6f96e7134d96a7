//! PyO3 bindings for Callaway & Sant'Anna: `att_gt_fit` -> `AttGtCore`, `AttGtCore.aggte`.

use numpy::{IntoPyArray, PyArray2, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::{run, slice, to_py, PilotdidError};
use crate::did::aggte::{aggte, AggType, AggteSpec};
use crate::did::att_gt::{
    att_gt, AttGtFit, AttGtInput, AttGtSpec, BasePeriod, CellStatus, ControlGroup, EstMethod,
};
use crate::inference::multiplier::{MultiplierSpec, MultiplierWeights};

fn boot_spec(bstrap: bool, biters: usize, seed: u64, alpha: f64) -> Option<MultiplierSpec> {
    bstrap.then_some(MultiplierSpec {
        biters,
        weights: MultiplierWeights::Mammen,
        seed,
        alpha,
    })
}

/// A fitted set of group-time ATTs (see `pilotdid.att_gt`).
#[pyclass(name = "AttGtCore", module = "pilotdid._core", frozen)]
struct PyAttGt {
    fit: AttGtFit,
}

#[pymethods]
impl PyAttGt {
    /// One entry per (g,t) cell, as a dict of lists.
    fn table<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = &self.fit.cells;
        let d = PyDict::new(py);
        d.set_item("group", c.iter().map(|x| x.group).collect::<Vec<_>>())?;
        d.set_item("t", c.iter().map(|x| x.time).collect::<Vec<_>>())?;
        d.set_item("base_t", c.iter().map(|x| x.base_time).collect::<Vec<_>>())?;
        d.set_item("post", c.iter().map(|x| x.post).collect::<Vec<_>>())?;
        d.set_item("att", c.iter().map(|x| x.att).collect::<Vec<_>>())?;
        d.set_item("se", self.fit.se.clone())?;
        d.set_item(
            "n_treated",
            c.iter().map(|x| x.n_treated).collect::<Vec<_>>(),
        )?;
        d.set_item(
            "n_control",
            c.iter().map(|x| x.n_control).collect::<Vec<_>>(),
        )?;
        let status: Vec<&str> = c
            .iter()
            .map(|x| match x.status {
                CellStatus::Estimated => "estimated",
                CellStatus::Reference => "reference",
                CellStatus::Skipped(_) => "skipped",
            })
            .collect();
        let reason: Vec<String> = c
            .iter()
            .map(|x| match &x.status {
                CellStatus::Skipped(r) => r.clone(),
                _ => String::new(),
            })
            .collect();
        d.set_item("status", status)?;
        d.set_item("reason", reason)?;
        Ok(d)
    }

    /// Scalars: n_units, crit_val, pretest, notes, ...
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let f = &self.fit;
        let d = PyDict::new(py);
        d.set_item("n_units", f.n_units)?;
        d.set_item("crit_val", f.crit_val)?;
        d.set_item("pretest", f.pretest.map(|p| (p.w, p.p_value, p.df)))?;
        d.set_item("pretest_note", f.pretest_note.clone())?;
        d.set_item("groups", f.groups.clone())?;
        d.set_item("periods", f.periods.clone())?;
        d.set_item("n_rows_dropped", f.n_rows_dropped)?;
        d.set_item("n_units_already_treated", f.n_units_already_treated)?;
        d.set_item("notes", f.notes.clone())?;
        d.set_item("bootstrap", f.bootstrap.is_some())?;
        d.set_item("n_boot_units", f.bootstrap.as_ref().map(|b| b.n_boot_units))?;
        Ok(d)
    }

    /// Influence functions, n_units × cells.
    fn influence<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        let n = self.fit.n_units;
        let m = self.fit.inf.len();
        let a = ndarray::Array2::from_shape_fn((n, m), |(i, j)| self.fit.inf[j][i]);
        a.into_pyarray(py)
    }

    /// Aggregate; returns a dict.
    #[pyo3(signature = (kind, min_e, max_e, balance_e, alpha, bstrap, biters, cband, seed))]
    #[allow(clippy::too_many_arguments)]
    fn aggte<'py>(
        &self,
        py: Python<'py>,
        kind: &str,
        min_e: f64,
        max_e: f64,
        balance_e: Option<i64>,
        alpha: f64,
        bstrap: bool,
        biters: usize,
        cband: bool,
        seed: u64,
    ) -> PyResult<Bound<'py, PyDict>> {
        let spec = AggteSpec {
            kind: AggType::parse(kind).map_err(to_py)?,
            min_e,
            max_e,
            balance_e,
            alpha,
            bootstrap: boot_spec(bstrap, biters, seed, alpha),
            cband,
        };
        let out = run(py, || aggte(&self.fit, &spec))?;
        let d = PyDict::new(py);
        d.set_item("egt", out.egt.clone())?;
        d.set_item("att", out.att)?;
        d.set_item("se", out.se)?;
        d.set_item("overall_att", out.overall_att)?;
        d.set_item("overall_se", out.overall_se)?;
        d.set_item("crit_val", out.crit_val)?;
        d.set_item("notes", out.notes)?;
        let k = out.egt.len();
        let v = ndarray::Array2::from_shape_vec((k, k), out.vcov)
            .map_err(|e| PilotdidError::new_err(e.to_string()))?;
        d.set_item("vcov", v.into_pyarray(py))?;
        Ok(d)
    }
}

/// Callaway & Sant'Anna ATT(g,t) on prepared columns; see `pilotdid.att_gt`.
#[pyfunction]
#[pyo3(signature = (y, time, unit, cohort, cov_names, covs, weights, cluster, names, control_group, anticipation, base_period, est_method, alpha, bstrap, biters, cband, seed))]
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
        bootstrap: boot_spec(bstrap, biters, seed, alpha),
        cband,
    };
    let input = AttGtInput {
        y: slice(&y, "y")?,
        time: slice(&time, "time")?,
        unit: slice(&unit, "unit")?,
        cohort: slice(&cohort, "cohort")?,
        covariates: cov_names
            .into_iter()
            .zip(&covs)
            .map(|(n, a)| Ok((n, slice(a, "covariate")?)))
            .collect::<PyResult<_>>()?,
        weights: weights.as_ref().map(|w| slice(w, "weights")).transpose()?,
        cluster: cluster.as_ref().map(|c| slice(c, "cluster")).transpose()?,
        names,
    };
    let fit = run(py, || att_gt(&input, &spec))?;
    Ok(PyAttGt { fit })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyAttGt>()?;
    m.add_function(wrap_pyfunction!(att_gt_fit, m)?)?;
    Ok(())
}

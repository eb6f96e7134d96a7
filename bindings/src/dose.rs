//! PyO3 bindings for the continuous-dose DID: `dose_fit` -> `DoseCore`.

use numpy::{PyArray1, PyArray2, PyReadonlyArray1, ToPyArray};
use pyo3::prelude::*;

use super::{run, slice, to_py, PilotdidError};
use pilotdid::did::dose::{
    build_panel, cont_did, dose_event_study, DoseBase, DoseCellStatus, DoseControl, DoseDf,
    DoseEventStudy, DoseFit, DoseInput, DoseSpec, EsWindow, Series, SmallSample,
};
use pilotdid::inference::multiplier::{MultiplierSpec, MultiplierWeights};

fn columns<'py>(py: Python<'py>, cols: &[Vec<f64>]) -> Bound<'py, PyArray2<f64>> {
    let n = cols.first().map_or(0, |c| c.len());
    ndarray::Array2::from_shape_fn((n, cols.len()), |(i, j)| cols[j][i]).to_pyarray(py)
}

/// One estimated series (curve over doses or event study).
#[pyclass(frozen, module = "pilotdid._core", name = "DoseSeries")]
struct PySeries {
    #[pyo3(get)]
    est: Vec<f64>,
    #[pyo3(get)]
    se: Vec<f64>,
    #[pyo3(get)]
    crit: f64,
    /// Degrees of freedom of the pointwise intervals (inf: normal).
    #[pyo3(get)]
    df: Vec<f64>,
    inf: Vec<Vec<f64>>,
}

#[pymethods]
impl PySeries {
    /// Influence functions, n_units × len.
    #[getter]
    fn influence<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        columns(py, &self.inf)
    }
}

fn series(s: &Series) -> PySeries {
    PySeries {
        est: s.est.clone(),
        se: s.se.clone(),
        crit: s.crit,
        df: s.df.clone(),
        inf: s.inf.clone(),
    }
}

/// An event-study aggregation of the cells (level: binary ATT; slope: average ACRT).
#[pyclass(frozen, module = "pilotdid._core", name = "DoseEventStudyCore")]
struct PyEventStudy {
    #[pyo3(get)]
    event: Vec<i64>,
    #[pyo3(get)]
    overall: f64,
    #[pyo3(get)]
    overall_se: f64,
    #[pyo3(get)]
    overall_df: f64,
    #[pyo3(get)]
    series: Py<PySeries>,
    overall_inf: Vec<f64>,
}

#[pymethods]
impl PyEventStudy {
    #[getter]
    fn overall_influence<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.overall_inf.to_pyarray(py)
    }
}

fn event_study(py: Python<'_>, e: &DoseEventStudy) -> PyResult<PyEventStudy> {
    Ok(PyEventStudy {
        event: e.event.clone(),
        overall: e.overall,
        overall_se: e.overall_se,
        overall_df: e.overall_df,
        series: Py::new(py, series(&e.series))?,
        overall_inf: e.overall_inf.clone(),
    })
}

/// A fitted continuous-dose DID (see `pilotdid.cont_did`).
#[pyclass(frozen, module = "pilotdid._core", name = "DoseCore")]
struct PyDose {
    fit: DoseFit,
}

#[pymethods]
impl PyDose {
    #[getter]
    fn dvals(&self) -> Vec<f64> {
        self.fit.dvals.clone()
    }
    #[getter]
    fn knots(&self) -> Vec<f64> {
        self.fit.knots.clone()
    }
    #[getter]
    fn att_d(&self) -> PySeries {
        series(&self.fit.att_d)
    }
    #[getter]
    fn acrt_d(&self) -> PySeries {
        series(&self.fit.acrt_d)
    }
    /// (ATT^o, SE, ACRT^o, SE).
    #[getter]
    fn overall(&self) -> (f64, f64, f64, f64) {
        let f = &self.fit;
        (
            f.overall_att,
            f.overall_att_se,
            f.overall_acrt,
            f.overall_acrt_se,
        )
    }
    /// Degrees of freedom of the (ATT^o, ACRT^o) intervals (inf: normal).
    #[getter]
    fn overall_df(&self) -> (f64, f64) {
        (self.fit.overall_att_df, self.fit.overall_acrt_df)
    }
    /// Influence functions of (ATT^o, ACRT^o), n_units × 2.
    #[getter]
    fn overall_influence<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        columns(
            py,
            &[
                self.fit.overall_att_inf.clone(),
                self.fit.overall_acrt_inf.clone(),
            ],
        )
    }
    #[getter]
    fn es_level(&self, py: Python<'_>) -> PyResult<PyEventStudy> {
        event_study(py, &self.fit.es_level)
    }
    #[getter]
    fn es_slope(&self, py: Python<'_>) -> PyResult<Option<PyEventStudy>> {
        self.fit
            .es_slope
            .as_ref()
            .map(|e| event_study(py, e))
            .transpose()
    }
    /// Cells as a dict of lists: group, time, base_time, event, status, reason, att, acrt,
    /// n_treated, n_control.
    #[getter]
    fn cells(&self, py: Python<'_>) -> PyResult<Py<pyo3::types::PyDict>> {
        use pyo3::types::PyDict;
        let c = &self.fit.cells;
        let d = PyDict::new(py);
        d.set_item("group", c.iter().map(|x| x.group).collect::<Vec<_>>())?;
        d.set_item("time", c.iter().map(|x| x.time).collect::<Vec<_>>())?;
        d.set_item(
            "base_time",
            c.iter().map(|x| x.base_time).collect::<Vec<_>>(),
        )?;
        d.set_item("event", c.iter().map(|x| x.event).collect::<Vec<_>>())?;
        let (status, reason): (Vec<&str>, Vec<String>) = c
            .iter()
            .map(|x| match &x.status {
                DoseCellStatus::Estimated => ("estimated", String::new()),
                DoseCellStatus::NoCurve(r) => ("no_curve", r.clone()),
                DoseCellStatus::Reference => ("reference", String::new()),
                DoseCellStatus::Skipped(r) => ("skipped", r.clone()),
            })
            .unzip();
        d.set_item("status", status)?;
        d.set_item("reason", reason)?;
        d.set_item("att", c.iter().map(|x| x.att).collect::<Vec<_>>())?;
        d.set_item("acrt", c.iter().map(|x| x.acrt).collect::<Vec<_>>())?;
        d.set_item(
            "n_treated",
            c.iter().map(|x| x.n_treated).collect::<Vec<_>>(),
        )?;
        d.set_item(
            "n_control",
            c.iter().map(|x| x.n_control).collect::<Vec<_>>(),
        )?;
        Ok(d.unbind())
    }
    /// Event study over a window: kind "level" or "slope"; `min_e`/`max_e` bound the event
    /// times, `balance_e` keeps the cohorts observed through that event time.
    #[pyo3(signature = (kind, *, min_e, max_e, balance_e=None))]
    fn event_study(
        &self,
        py: Python<'_>,
        kind: &str,
        min_e: f64,
        max_e: f64,
        balance_e: Option<i64>,
    ) -> PyResult<PyEventStudy> {
        let slope = match kind {
            "level" => false,
            "slope" => true,
            other => {
                return Err(PilotdidError::new_err(format!(
                    "option 'kind': '{other}' is not one of 'level', 'slope'"
                )))
            }
        };
        let win = EsWindow {
            min_e,
            max_e,
            balance_e,
        };
        let es = run(py, || dose_event_study(&self.fit, slope, &win))?;
        event_study(py, &es)
    }
    #[getter]
    fn n_units(&self) -> usize {
        self.fit.panel.n_units()
    }
    #[getter]
    fn n_treated_units(&self) -> usize {
        self.fit.n_treated_units
    }
    #[getter]
    fn periods(&self) -> Vec<i64> {
        self.fit.panel.periods.clone()
    }
    #[getter]
    fn n_units_already_treated(&self) -> usize {
        self.fit.panel.n_units_already_treated
    }
    #[getter]
    fn n_units_unbalanced(&self) -> usize {
        self.fit.panel.n_units_unbalanced
    }
    #[getter]
    fn n_boot_units(&self) -> Option<usize> {
        self.fit.n_boot_units
    }
    #[getter]
    fn notes(&self) -> Vec<String> {
        self.fit.notes.clone()
    }
    /// (cohort, treated units, spline coefficients) of the cohorts whose dose curve has no
    /// residual degrees of freedom.
    #[getter]
    fn saturated_cohorts(&self) -> Vec<(i64, usize, usize)> {
        self.fit.saturated_cohorts.clone()
    }
}

/// Continuous-dose DID on prepared columns; see `pilotdid.cont_did`.
#[pyfunction]
#[pyo3(signature = (y, time, unit, cohort, dose, *, cluster=None, names, control_group, base_period, anticipation, degree, num_knots, dvals=None, alpha, bstrap, biters, seed, weight_type="mammen", small_sample="none", df="normal"))]
#[allow(clippy::too_many_arguments)]
fn dose_fit<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f64>,
    time: PyReadonlyArray1<'py, i64>,
    unit: PyReadonlyArray1<'py, u32>,
    cohort: PyReadonlyArray1<'py, f64>,
    dose: PyReadonlyArray1<'py, f64>,
    cluster: Option<PyReadonlyArray1<'py, u32>>,
    names: Vec<String>,
    control_group: &str,
    base_period: &str,
    anticipation: usize,
    degree: usize,
    num_knots: usize,
    dvals: Option<Vec<f64>>,
    alpha: f64,
    bstrap: bool,
    biters: usize,
    seed: u64,
    weight_type: &str,
    small_sample: &str,
    df: &str,
) -> PyResult<PyDose> {
    let names: [String; 5] = names
        .try_into()
        .map_err(|_| PilotdidError::new_err("dose_fit: names must have 5 entries"))?;
    let control = match control_group {
        "never" => DoseControl::Never,
        "notyet" => DoseControl::NotYet,
        other => {
            return Err(PilotdidError::new_err(format!(
                "option 'control_group': '{other}' is not one of 'never', 'notyet'"
            )))
        }
    };
    let base = match base_period {
        "varying" => DoseBase::Varying,
        "universal" => DoseBase::Universal,
        other => {
            return Err(PilotdidError::new_err(format!(
                "option 'base_period': '{other}' is not one of 'varying', 'universal'"
            )))
        }
    };
    let weights = MultiplierWeights::parse(weight_type).map_err(to_py)?;
    let small_sample = SmallSample::parse(small_sample).map_err(to_py)?;
    let spec = DoseSpec {
        control,
        base,
        anticipation,
        degree,
        num_knots,
        dvals,
        alpha,
        bootstrap: bstrap.then_some(MultiplierSpec {
            biters,
            weights,
            seed,
            alpha,
        }),
        small_sample,
        df: DoseDf::parse(df, small_sample).map_err(to_py)?,
    };
    let [n0, n1, n2, n3, n4] = &names;
    let input = DoseInput {
        unit: slice(&unit, "unit")?,
        time: slice(&time, "time")?,
        y: slice(&y, "y")?,
        cohort: slice(&cohort, "cohort")?,
        dose: slice(&dose, "dose")?,
        cluster: cluster.as_ref().map(|c| slice(c, "cluster")).transpose()?,
        names: [n0, n1, n2, n3, n4],
    };
    let never_only = control == DoseControl::Never;
    let fit = run(py, || {
        let panel = build_panel(&input, anticipation, never_only)?;
        cont_did(panel, &spec)
    })?;
    Ok(PyDose { fit })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyDose>()?;
    m.add_class::<PySeries>()?;
    m.add_class::<PyEventStudy>()?;
    m.add_function(wrap_pyfunction!(dose_fit, m)?)?;
    Ok(())
}

//! PyO3 bindings for the Goodman-Bacon decomposition and the Sun–Abraham event study.
//! Convert, call, convert back: no numerics here.

use numpy::{PyArray1, PyArray2, PyReadonlyArray1, ToPyArray};
use pyo3::prelude::*;

use super::{named, run, slice, vcov_request, wild_boot_spec, PilotdidError, PyWildBoot};
use pilotdid_core::did::bacon::{bacon, bacon_panel, Bacon, BaconNames};
use pilotdid_core::did::sun_abraham::{
    sa_panel, sun_abraham, SaControl, SunAbraham, SunAbrahamInput, SunAbrahamSpec, Table,
};
use pilotdid_core::fe::DemeanSpec;

/// A Goodman-Bacon decomposition: one entry per 2×2 comparison, the summary by comparison
/// type (bacondecomp's alphabetical order), the TWFE coefficient and panel counts.
#[pyclass(frozen, module = "pilotdid._core", name = "BaconCore")]
struct PyBacon {
    /// Comparison type of each 2×2 ("Treated vs Untreated", ...).
    #[pyo3(get)]
    kind: Vec<&'static str>,
    #[pyo3(get)]
    treated: Vec<i64>,
    /// Control cohort (None = never treated).
    #[pyo3(get)]
    control: Vec<Option<i64>>,
    estimate: Vec<f64>,
    weight: Vec<f64>,
    #[pyo3(get)]
    n_treated_units: Vec<usize>,
    #[pyo3(get)]
    n_control_units: Vec<usize>,
    #[pyo3(get)]
    window_start: Vec<i64>,
    #[pyo3(get)]
    window_end: Vec<i64>,
    #[pyo3(get)]
    summary_kind: Vec<&'static str>,
    #[pyo3(get)]
    summary_weight: Vec<f64>,
    #[pyo3(get)]
    summary_avg_estimate: Vec<f64>,
    #[pyo3(get)]
    summary_n: Vec<usize>,
    #[pyo3(get)]
    twfe: f64,
    #[pyo3(get)]
    variance_d: f64,
    #[pyo3(get)]
    unscaled_weight_sum: f64,
    #[pyo3(get)]
    n_units: usize,
    #[pyo3(get)]
    n_periods: usize,
    #[pyo3(get)]
    n_never_treated: usize,
    #[pyo3(get)]
    n_always_treated: usize,
    /// (first treated period, units), ascending; always treated included.
    #[pyo3(get)]
    cohorts: Vec<(i64, usize)>,
}

#[pymethods]
impl PyBacon {
    #[getter]
    fn estimate<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.estimate.to_pyarray(py)
    }
    #[getter]
    fn weight<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.weight.to_pyarray(py)
    }
}

impl From<Bacon> for PyBacon {
    fn from(b: Bacon) -> Self {
        let c = &b.comparisons;
        let s = &b.summary;
        Self {
            kind: c.iter().map(|r| r.kind.label()).collect(),
            treated: c.iter().map(|r| r.treated).collect(),
            control: c.iter().map(|r| r.control).collect(),
            estimate: c.iter().map(|r| r.estimate).collect(),
            weight: c.iter().map(|r| r.weight).collect(),
            n_treated_units: c.iter().map(|r| r.n_treated_units).collect(),
            n_control_units: c.iter().map(|r| r.n_control_units).collect(),
            window_start: c.iter().map(|r| r.window.0).collect(),
            window_end: c.iter().map(|r| r.window.1).collect(),
            summary_kind: s.iter().map(|r| r.kind.label()).collect(),
            summary_weight: s.iter().map(|r| r.weight).collect(),
            summary_avg_estimate: s.iter().map(|r| r.avg_estimate).collect(),
            summary_n: s.iter().map(|r| r.n_comparisons).collect(),
            twfe: b.twfe,
            variance_d: b.variance_d,
            unscaled_weight_sum: b.unscaled_weight_sum,
            n_units: b.n_units,
            n_periods: b.n_periods,
            n_never_treated: b.n_never_treated,
            n_always_treated: b.n_always_treated,
            cohorts: b.cohorts,
        }
    }
}

/// Goodman-Bacon decomposition; see `pilotdid.bacon`. The names are used in messages.
#[pyfunction]
#[pyo3(signature = (unit, unit_labels, time, y, treat, *, y_name, treat_name, unit_name, time_name))]
#[allow(clippy::too_many_arguments)]
fn bacon_fit<'py>(
    py: Python<'py>,
    unit: PyReadonlyArray1<'py, u32>,
    unit_labels: Vec<String>,
    time: PyReadonlyArray1<'py, i64>,
    y: PyReadonlyArray1<'py, f64>,
    treat: PyReadonlyArray1<'py, f64>,
    y_name: String,
    treat_name: String,
    unit_name: String,
    time_name: String,
) -> PyResult<PyBacon> {
    let names = BaconNames {
        y: y_name.clone(),
        treat: treat_name,
        unit: unit_name,
        time: time_name,
    };
    let (u, t, yv, d) = (
        slice(&unit, "unit")?,
        slice(&time, "time")?,
        slice(&y, "y")?,
        slice(&treat, "treat")?,
    );
    let b = run(py, || {
        let p = bacon_panel(u, unit_labels, t, d, &names)?;
        bacon(&p, yv, &y_name)
    })?;
    Ok(PyBacon::from(b))
}

/// Estimates with standard errors, t statistics, p-values and interval bounds, one entry
/// per coefficient.
#[pyclass(frozen, module = "pilotdid._core", name = "SunAbrahamTable")]
#[derive(Clone)]
struct PySunAbrahamTable {
    table: Table,
}

#[pymethods]
impl PySunAbrahamTable {
    #[getter]
    fn estimate<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.table.estimate.to_pyarray(py)
    }
    #[getter]
    fn std_error<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.table.std_error.to_pyarray(py)
    }
    #[getter]
    fn statistic<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.table.statistic.to_pyarray(py)
    }
    #[getter]
    fn p_value<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.table.p_value.to_pyarray(py)
    }
    #[getter]
    fn conf_low<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.table.conf_low.to_pyarray(py)
    }
    #[getter]
    fn conf_high<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.table.conf_high.to_pyarray(py)
    }
}

/// A Sun–Abraham fit: the cohort × relative-period cells, their interaction-weighted
/// aggregation by event time, the post-period ATT, controls and sample counts.
#[pyclass(frozen, module = "pilotdid._core", name = "SunAbrahamCore")]
struct PySunAbraham {
    res: SunAbraham,
}

#[pymethods]
impl PySunAbraham {
    /// Cohort and relative period of each estimated cell (collinear ones removed).
    #[getter]
    fn cell_cohort(&self) -> Vec<i64> {
        self.res.cell_cohort.clone()
    }
    #[getter]
    fn cell_rel(&self) -> Vec<i64> {
        self.res.cell_rel.clone()
    }
    /// Estimation-sample observations per cell (the aggregation weights' numerators).
    #[getter]
    fn cell_count<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.res.cell_count.to_pyarray(py)
    }
    #[getter]
    fn cells(&self) -> PySunAbrahamTable {
        PySunAbrahamTable {
            table: self.res.cells.clone(),
        }
    }
    #[getter]
    fn cell_vcov<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.res.cell_vcov.to_pyarray(py)
    }
    /// Event times with an estimate, ascending.
    #[getter]
    fn event_time(&self) -> Vec<i64> {
        self.res.event_time.clone()
    }
    #[getter]
    fn event(&self) -> PySunAbrahamTable {
        PySunAbrahamTable {
            table: self.res.event.clone(),
        }
    }
    #[getter]
    fn event_vcov<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.res.event_vcov.to_pyarray(py)
    }
    /// Aggregation weights: row = event time, column = cell.
    #[getter]
    fn weights<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.res.weights.to_pyarray(py)
    }
    #[getter]
    fn att(&self) -> f64 {
        self.res.att
    }
    #[getter]
    fn att_se(&self) -> f64 {
        self.res.att_se
    }
    #[getter]
    fn control_names(&self) -> Vec<String> {
        self.res.control_names.clone()
    }
    #[getter]
    fn control_beta(&self) -> Vec<f64> {
        self.res.control_beta.clone()
    }
    #[getter]
    fn control_se(&self) -> Vec<f64> {
        self.res.control_se.clone()
    }
    #[getter]
    fn collinear(&self) -> Vec<String> {
        self.res.collinear.clone()
    }
    #[getter]
    fn nobs(&self) -> usize {
        self.res.nobs
    }
    #[getter]
    fn n_missing(&self) -> usize {
        self.res.n_missing
    }
    #[getter]
    fn n_always_treated_rows(&self) -> usize {
        self.res.n_always_treated_rows
    }
    /// Rows dropped in periods when the last cohort (the control) is already treated.
    #[getter]
    fn n_after_control_treated_rows(&self) -> usize {
        self.res.n_after_control_treated_rows
    }
    #[getter]
    fn control_cohort(&self) -> Option<i64> {
        self.res.control_cohort
    }
    #[getter]
    fn df_t(&self) -> usize {
        self.res.df_t
    }
    #[getter]
    fn n_clusters(&self) -> Vec<usize> {
        self.res.n_clusters.clone()
    }
    /// Every coefficient of the regression (cells, then controls) and its vcov.
    #[getter]
    fn coefnames(&self) -> Vec<String> {
        self.res.coefnames.clone()
    }
    #[getter]
    fn vcov<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.res.vcov.to_pyarray(py)
    }
    /// Cell weights of the overall ATT (cell order).
    #[getter]
    fn att_weights<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.res.att_weights().to_pyarray(py)
    }

    /// Restricted wild cluster bootstrap of Σ_e a_e β_e = r (`event_weights` = a, one per
    /// event time), or of the overall ATT = r when `event_weights` is None.
    #[pyo3(signature = (event_weights, r, *, reps, weights, seed, level))]
    #[allow(clippy::too_many_arguments)]
    fn wild_bootstrap(
        &self,
        py: Python<'_>,
        event_weights: Option<Vec<f64>>,
        r: f64,
        reps: usize,
        weights: &str,
        seed: u64,
        level: f64,
    ) -> PyResult<PyWildBoot> {
        let spec = wild_boot_spec(reps, weights, seed, level)?;
        let out = run(py, || match &event_weights {
            Some(a) => self.res.wild_bootstrap(a, r, &spec),
            None => self.res.wild_bootstrap_att(r, &spec),
        })?;
        Ok(PyWildBoot::from(out))
    }
}

/// Sun & Abraham interaction-weighted event study; see `pilotdid.sunab`. `gname` and
/// `tname` name the cohort and time columns in messages.
#[pyfunction]
#[pyo3(signature = (unit, unit_labels, time, cohort, y_name, y, *, gname, tname, control_names, controls, cluster_names, clusters, vcov, vcov_clusters, control, ref_periods, bin=None, level, tol, max_iter))]
#[allow(clippy::too_many_arguments)]
fn sunab_fit<'py>(
    py: Python<'py>,
    unit: PyReadonlyArray1<'py, u32>,
    unit_labels: Vec<String>,
    time: PyReadonlyArray1<'py, i64>,
    cohort: PyReadonlyArray1<'py, f64>,
    y_name: String,
    y: PyReadonlyArray1<'py, f64>,
    gname: String,
    tname: String,
    control_names: Vec<String>,
    controls: Vec<PyReadonlyArray1<'py, f64>>,
    cluster_names: Vec<String>,
    clusters: Vec<PyReadonlyArray1<'py, i64>>,
    vcov: &str,
    vcov_clusters: Vec<usize>,
    control: &str,
    ref_periods: Vec<i64>,
    bin: Option<(i64, i64)>,
    level: f64,
    tol: f64,
    max_iter: usize,
) -> PyResult<PySunAbraham> {
    let vcov = vcov_request(vcov, vcov_clusters)?;
    let control = match control {
        "never" => SaControl::Never,
        "last" => SaControl::Last,
        other => {
            return Err(PilotdidError::new_err(format!(
                "option 'control': '{other}' is not one of 'never', 'last'"
            )))
        }
    };
    let input = SunAbrahamInput {
        y: (y_name, slice(&y, "y")?),
        controls: named(control_names, &controls, "controls")?,
        clusters: named(cluster_names, &clusters, "cluster")?,
    };
    let spec = SunAbrahamSpec {
        control,
        ref_periods,
        bin,
        vcov,
        level,
        demean: DemeanSpec { tol, max_iter },
    };
    let (u, t, g) = (
        slice(&unit, "unit")?,
        slice(&time, "time")?,
        slice(&cohort, "cohort")?,
    );
    let r = run(py, || {
        let p = sa_panel(u, unit_labels, t, g, &gname, &tname)?;
        sun_abraham(&p, &input, &spec)
    })?;
    Ok(PySunAbraham { res: r })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyBacon>()?;
    m.add_class::<PySunAbrahamTable>()?;
    m.add_class::<PySunAbraham>()?;
    m.add_function(wrap_pyfunction!(bacon_fit, m)?)?;
    m.add_function(wrap_pyfunction!(sunab_fit, m)?)?;
    Ok(())
}

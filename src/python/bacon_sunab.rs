//! PyO3 bindings for the Goodman-Bacon decomposition and the Sun–Abraham event study.
//! Convert, call, convert back: no numerics here.

use numpy::{IntoPyArray, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::{run, slice, PilotdidError};
use crate::did::bacon::{bacon, bacon_panel, BaconNames};
use crate::did::sun_abraham::{
    sa_panel, sun_abraham, SaControl, SunAbrahamInput, SunAbrahamSpec, Table,
};
use crate::fe::DemeanSpec;
use crate::linear::VcovRequest;

/// Goodman-Bacon decomposition; see `pilotdid.bacon`. Returns a dict of columns and scalars.
#[pyfunction]
#[pyo3(signature = (unit, unit_labels, time, y, treat, y_name, treat_name, unit_name, time_name))]
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
) -> PyResult<Bound<'py, PyDict>> {
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
    let c = &b.comparisons;
    let out = PyDict::new(py);
    out.set_item("type", c.iter().map(|r| r.kind.label()).collect::<Vec<_>>())?;
    out.set_item("treated", c.iter().map(|r| r.treated).collect::<Vec<_>>())?;
    out.set_item("control", c.iter().map(|r| r.control).collect::<Vec<_>>())?;
    out.set_item(
        "estimate",
        c.iter()
            .map(|r| r.estimate)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    out.set_item(
        "weight",
        c.iter()
            .map(|r| r.weight)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    out.set_item(
        "n_treated_units",
        c.iter().map(|r| r.n_treated_units).collect::<Vec<_>>(),
    )?;
    out.set_item(
        "n_control_units",
        c.iter().map(|r| r.n_control_units).collect::<Vec<_>>(),
    )?;
    out.set_item(
        "window_start",
        c.iter().map(|r| r.window.0).collect::<Vec<_>>(),
    )?;
    out.set_item(
        "window_end",
        c.iter().map(|r| r.window.1).collect::<Vec<_>>(),
    )?;
    let s = &b.summary;
    out.set_item(
        "summary_type",
        s.iter().map(|r| r.kind.label()).collect::<Vec<_>>(),
    )?;
    out.set_item(
        "summary_weight",
        s.iter().map(|r| r.weight).collect::<Vec<_>>(),
    )?;
    out.set_item(
        "summary_avg_estimate",
        s.iter().map(|r| r.avg_estimate).collect::<Vec<_>>(),
    )?;
    out.set_item(
        "summary_n",
        s.iter().map(|r| r.n_comparisons).collect::<Vec<_>>(),
    )?;
    out.set_item("twfe", b.twfe)?;
    out.set_item("variance_d", b.variance_d)?;
    out.set_item("unscaled_weight_sum", b.unscaled_weight_sum)?;
    out.set_item("n_units", b.n_units)?;
    out.set_item("n_periods", b.n_periods)?;
    out.set_item("n_never_treated", b.n_never_treated)?;
    out.set_item("n_always_treated", b.n_always_treated)?;
    out.set_item("cohorts", b.cohorts.clone())?;
    Ok(out)
}

fn table_dict<'py>(py: Python<'py>, t: &Table) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("estimate", t.estimate.clone().into_pyarray(py))?;
    d.set_item("std_error", t.std_error.clone().into_pyarray(py))?;
    d.set_item("statistic", t.statistic.clone().into_pyarray(py))?;
    d.set_item("p_value", t.p_value.clone().into_pyarray(py))?;
    d.set_item("conf_low", t.conf_low.clone().into_pyarray(py))?;
    d.set_item("conf_high", t.conf_high.clone().into_pyarray(py))?;
    Ok(d)
}

/// Sun & Abraham interaction-weighted event study; see `pilotdid.sunab`. Returns a dict.
#[pyfunction]
#[pyo3(signature = (unit, unit_labels, time, cohort, gname, tname, y_name, y, control_names, controls, cluster_names, clusters, vcov, vcov_clusters, control, ref_periods, bin, level, tol, max_iter))]
#[allow(clippy::too_many_arguments)]
fn sunab_fit<'py>(
    py: Python<'py>,
    unit: PyReadonlyArray1<'py, u32>,
    unit_labels: Vec<String>,
    time: PyReadonlyArray1<'py, i64>,
    cohort: PyReadonlyArray1<'py, f64>,
    gname: String,
    tname: String,
    y_name: String,
    y: PyReadonlyArray1<'py, f64>,
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
) -> PyResult<Bound<'py, PyDict>> {
    let vcov = match vcov {
        "iid" => VcovRequest::Iid,
        "hetero" => VcovRequest::Hetero,
        "cluster" => VcovRequest::Cluster(vcov_clusters),
        other => {
            return Err(PilotdidError::new_err(format!(
                "option 'vcov': unknown type '{other}'"
            )))
        }
    };
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
        controls: control_names
            .into_iter()
            .zip(&controls)
            .map(|(n, a)| Ok((n, slice(a, "controls")?)))
            .collect::<PyResult<_>>()?,
        clusters: cluster_names
            .into_iter()
            .zip(&clusters)
            .map(|(n, a)| Ok((n, slice(a, "cluster")?)))
            .collect::<PyResult<_>>()?,
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
    let d = PyDict::new(py);
    d.set_item("cell_cohort", r.cell_cohort.clone())?;
    d.set_item("cell_rel", r.cell_rel.clone())?;
    d.set_item("cell_count", r.cell_count.clone().into_pyarray(py))?;
    d.set_item("cells", table_dict(py, &r.cells)?)?;
    d.set_item("cell_vcov", r.cell_vcov.clone().into_pyarray(py))?;
    d.set_item("event_time", r.event_time.clone())?;
    d.set_item("event", table_dict(py, &r.event)?)?;
    d.set_item("event_vcov", r.event_vcov.clone().into_pyarray(py))?;
    d.set_item("weights", r.weights.clone().into_pyarray(py))?;
    d.set_item("att", r.att)?;
    d.set_item("att_se", r.att_se)?;
    d.set_item("control_names", r.control_names.clone())?;
    d.set_item("control_beta", r.control_beta.clone())?;
    d.set_item("control_se", r.control_se.clone())?;
    d.set_item("collinear", r.collinear.clone())?;
    d.set_item("nobs", r.nobs)?;
    d.set_item("n_missing", r.n_missing)?;
    d.set_item("n_always_treated_rows", r.n_always_treated_rows)?;
    d.set_item(
        "n_after_control_treated_rows",
        r.n_after_control_treated_rows,
    )?;
    d.set_item("control_cohort", r.control_cohort)?;
    d.set_item("df_t", r.df_t)?;
    d.set_item("n_clusters", r.n_clusters.clone())?;
    d.set_item("coefnames", r.coefnames.clone())?;
    d.set_item("vcov", r.vcov.clone().into_pyarray(py))?;
    Ok(d)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(bacon_fit, m)?)?;
    m.add_function(wrap_pyfunction!(sunab_fit, m)?)?;
    Ok(())
}

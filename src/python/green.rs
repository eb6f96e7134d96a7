//! PyO3 bindings for the green-economy family (SBM, Malmquist–Luenberger, perpetual
//! inventory, entropy index). Convert, call, convert back: no numerics here.

use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::{guarded, run, slice};
use crate::error::Error;
use crate::green::lp::{solve, Lp, Workspace};
use crate::green::{
    capital_stock, entropy_index, malmquist, sbm, DeaData, Frontier, InitialStock, MlSpec, PimSpec,
    Rts, SbmSpec,
};

type Cols<'py> = Vec<(String, PyReadonlyArray1<'py, f64>)>;

fn dea_data(
    inputs: &Cols<'_>,
    good: &Cols<'_>,
    bad: &Cols<'_>,
    row_labels: Vec<String>,
) -> PyResult<DeaData> {
    let conv = |cols: &Cols<'_>| -> PyResult<(Vec<String>, Vec<Vec<f64>>)> {
        let mut names = Vec::new();
        let mut vals = Vec::new();
        for (n, a) in cols {
            names.push(n.clone());
            vals.push(slice(a, n)?.to_vec());
        }
        Ok((names, vals))
    };
    let (input_names, inputs) = conv(inputs)?;
    let (good_names, good) = conv(good)?;
    let (bad_names, bad) = conv(bad)?;
    Ok(DeaData {
        n: row_labels.len(),
        inputs,
        good,
        bad,
        input_names,
        good_names,
        bad_names,
        row_labels,
    })
}

/// SBM scores of every row; see `pilotdid.green.sbm`.
#[pyfunction]
#[pyo3(signature = (inputs, good, bad, row_labels, period, rts, frontier, super_efficiency, bad_weight=1.0))]
#[allow(clippy::too_many_arguments)]
fn green_sbm<'py>(
    py: Python<'py>,
    inputs: Cols<'py>,
    good: Cols<'py>,
    bad: Cols<'py>,
    row_labels: Vec<String>,
    period: PyReadonlyArray1<'py, i64>,
    rts: &str,
    frontier: &str,
    super_efficiency: bool,
    bad_weight: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let data = dea_data(&inputs, &good, &bad, row_labels)?;
    let period = slice(&period, "period")?;
    let spec = SbmSpec {
        rts: guarded(|| Rts::parse(rts))?,
        frontier: guarded(|| Frontier::parse(frontier))?,
        super_efficiency,
        bad_weight,
    };
    let fit = run(py, || sbm(&data, period, &spec))?;
    let k = data.n_slacks();
    let slacks: Vec<f64> = fit.evals.iter().flat_map(|e| e.slacks.clone()).collect();
    let slacks = Array2::from_shape_vec((data.n, k), slacks)
        .map_err(|e| super::to_py(Error::Shape(e.to_string())))?;
    let d = PyDict::new(py);
    d.set_item(
        "score",
        fit.evals
            .iter()
            .map(|e| e.score)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    d.set_item(
        "model",
        fit.evals
            .iter()
            .map(|e| e.model.label())
            .collect::<Vec<_>>(),
    )?;
    d.set_item(
        "status",
        fit.evals
            .iter()
            .map(|e| e.status.label())
            .collect::<Vec<_>>(),
    )?;
    d.set_item("slacks", slacks.into_pyarray(py))?;
    d.set_item("n_infeasible", fit.n_infeasible)?;
    d.set_item("iterations", fit.total_iterations)?;
    d.set_item("n_bland", fit.evals.iter().filter(|e| e.used_bland).count())?;
    Ok(d)
}

/// Global / contemporaneous Malmquist–Luenberger index; see `pilotdid.green.gml`.
#[pyfunction]
#[pyo3(signature = (inputs, good, bad, row_labels, unit, time, kind, rts, super_efficiency))]
#[allow(clippy::too_many_arguments)]
fn green_malmquist<'py>(
    py: Python<'py>,
    inputs: Cols<'py>,
    good: Cols<'py>,
    bad: Cols<'py>,
    row_labels: Vec<String>,
    unit: PyReadonlyArray1<'py, u32>,
    time: PyReadonlyArray1<'py, i64>,
    kind: &str,
    rts: &str,
    super_efficiency: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let data = dea_data(&inputs, &good, &bad, row_labels)?;
    let (unit, time) = (slice(&unit, "unit")?, slice(&time, "time")?);
    let spec = MlSpec {
        kind: guarded(|| Frontier::parse_option(kind, "kind"))?,
        rts: guarded(|| Rts::parse(rts))?,
        super_efficiency,
    };
    let f = run(py, || malmquist(&data, unit, time, &spec))?;
    let d = PyDict::new(py);
    d.set_item("eff_global", f.eff_global.into_pyarray(py))?;
    d.set_item(
        "eff_contemporaneous",
        f.eff_contemporaneous.into_pyarray(py),
    )?;
    d.set_item("index", f.index.into_pyarray(py))?;
    d.set_item("ec", f.ec.into_pyarray(py))?;
    d.set_item("tc", f.tc.into_pyarray(py))?;
    d.set_item("cumulative", f.cumulative.into_pyarray(py))?;
    d.set_item(
        "status",
        f.status.iter().map(|s| s.label()).collect::<Vec<_>>(),
    )?;
    d.set_item("n_infeasible", f.n_infeasible)?;
    d.set_item("n_programs", f.n_programs)?;
    Ok(d)
}

/// Perpetual-inventory capital stock; see `pilotdid.green.capital_stock`.
#[pyfunction]
#[pyo3(signature = (unit, unit_labels, time, investment, deflator, delta, growth, growth_years, initial_stock))]
#[allow(clippy::too_many_arguments)]
fn green_capital_stock<'py>(
    py: Python<'py>,
    unit: PyReadonlyArray1<'py, u32>,
    unit_labels: Vec<String>,
    time: PyReadonlyArray1<'py, i64>,
    investment: PyReadonlyArray1<'py, f64>,
    deflator: Option<PyReadonlyArray1<'py, f64>>,
    delta: f64,
    growth: Option<f64>,
    growth_years: Option<usize>,
    initial_stock: Option<PyReadonlyArray1<'py, f64>>,
) -> PyResult<Bound<'py, PyDict>> {
    let defl = match &deflator {
        Some(a) => Some(slice(a, "deflator")?),
        None => None,
    };
    let initial = match (&initial_stock, growth) {
        (Some(k0), _) => InitialStock::Given(slice(k0, "initial_stock")?.to_vec()),
        (None, Some(g)) => InitialStock::Growth(g),
        (None, None) => InitialStock::UnitGrowth {
            years: growth_years,
        },
    };
    let spec = PimSpec { delta, initial };
    let (u, t, inv) = (
        slice(&unit, "unit")?,
        slice(&time, "time")?,
        slice(&investment, "investment")?,
    );
    let f = guarded(|| capital_stock(u, &unit_labels, t, inv, defl, &spec))?;
    let d = PyDict::new(py);
    d.set_item("capital", f.capital.into_pyarray(py))?;
    d.set_item("growth", f.growth.into_pyarray(py))?;
    d.set_item("real_investment", f.real_investment.into_pyarray(py))?;
    Ok(d)
}

/// Entropy weights and composite index; see `pilotdid.green.entropy_index`.
#[pyfunction]
#[pyo3(signature = (columns, positive, group, shift))]
fn green_entropy<'py>(
    py: Python<'py>,
    columns: Cols<'py>,
    positive: Vec<bool>,
    group: PyReadonlyArray1<'py, u32>,
    shift: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let names: Vec<String> = columns.iter().map(|(n, _)| n.clone()).collect();
    let mut cols = Vec::new();
    for (n, a) in &columns {
        cols.push(slice(a, n)?);
    }
    let g = slice(&group, "group")?;
    let f = guarded(|| entropy_index(&cols, &names, &positive, g, shift))?;
    let k = names.len();
    let weights = Array2::from_shape_vec((f.n_groups, k), f.weights)
        .map_err(|e| super::to_py(Error::Shape(e.to_string())))?;
    let entropy = Array2::from_shape_vec((f.n_groups, k), f.entropy)
        .map_err(|e| super::to_py(Error::Shape(e.to_string())))?;
    let d = PyDict::new(py);
    d.set_item("weights", weights.into_pyarray(py))?;
    d.set_item("entropy", entropy.into_pyarray(py))?;
    d.set_item("index", f.index.into_pyarray(py))?;
    Ok(d)
}

/// Solve min c'z s.t. A z = b, z >= 0 with the crate's simplex (for tests against HiGHS):
/// returns (status, objective, z).
#[pyfunction]
fn green_lp_solve<'py>(
    py: Python<'py>,
    a: PyReadonlyArray2<'py, f64>,
    b: PyReadonlyArray1<'py, f64>,
    c: PyReadonlyArray1<'py, f64>,
) -> PyResult<(String, f64, Bound<'py, numpy::PyArray1<f64>>)> {
    let a = a.as_array();
    let (m, n) = (a.nrows(), a.ncols());
    let mut colmajor = vec![0.0; m * n];
    for j in 0..n {
        for i in 0..m {
            colmajor[j * m + i] = a[(i, j)];
        }
    }
    let (b, c) = (slice(&b, "b")?, slice(&c, "c")?);
    let lp = Lp {
        nrows: m,
        ncols: n,
        a: &colmajor,
        b,
        c,
    };
    let s = guarded(|| solve(&lp, &mut Workspace::default()))?;
    Ok((
        s.status.label().to_string(),
        s.objective,
        s.x.into_pyarray(py),
    ))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(green_sbm, m)?)?;
    m.add_function(wrap_pyfunction!(green_malmquist, m)?)?;
    m.add_function(wrap_pyfunction!(green_capital_stock, m)?)?;
    m.add_function(wrap_pyfunction!(green_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(green_lp_solve, m)?)?;
    Ok(())
}

//! PyO3 bindings for the green-economy family (SBM, Malmquist–Luenberger, perpetual
//! inventory, entropy index). Convert, call, convert back: no numerics here.

use numpy::ndarray::Array2;
use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, ToPyArray};
use pyo3::prelude::*;

use super::{guarded, run, slice};
use pilotdid_core::error::Error;
use pilotdid_core::green::lp::{solve, Lp, Workspace};
use pilotdid_core::green::{
    capital_stock, entropy_index, malmquist, sbm, DeaData, Frontier, InitialStock, MlFit, MlSpec,
    PimFit, PimSpec, Rts, SbmSpec,
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

/// SBM scores of every row, with the program's model and status, the slacks and counts.
#[pyclass(frozen, module = "pilotdid._core", name = "SbmCore")]
struct PySbm {
    score: Vec<f64>,
    #[pyo3(get)]
    model: Vec<&'static str>,
    #[pyo3(get)]
    status: Vec<&'static str>,
    slacks: Array2<f64>,
    #[pyo3(get)]
    n_infeasible: usize,
    /// Simplex pivots over all programs.
    #[pyo3(get)]
    iterations: usize,
    /// Programs that needed Bland's rule against cycling.
    #[pyo3(get)]
    n_bland: usize,
}

#[pymethods]
impl PySbm {
    #[getter]
    fn score<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.score.to_pyarray(py)
    }
    /// Rows × (inputs, good outputs, bad outputs).
    #[getter]
    fn slacks<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.slacks.to_pyarray(py)
    }
}

/// SBM scores of every row; see `pilotdid.green.sbm`.
#[pyfunction]
#[pyo3(signature = (inputs, good, bad, row_labels, period, *, rts, frontier, super_efficiency, bad_weight=1.0))]
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
) -> PyResult<PySbm> {
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
    Ok(PySbm {
        score: fit.evals.iter().map(|e| e.score).collect(),
        model: fit.evals.iter().map(|e| e.model.label()).collect(),
        status: fit.evals.iter().map(|e| e.status.label()).collect(),
        slacks,
        n_infeasible: fit.n_infeasible,
        iterations: fit.total_iterations,
        n_bland: fit.evals.iter().filter(|e| e.used_bland).count(),
    })
}

/// Malmquist–Luenberger index per unit-year, its decomposition (efficiency change × technical
/// change), the cumulative index and the programs' status.
#[pyclass(frozen, module = "pilotdid._core", name = "MalmquistCore")]
struct PyMalmquist {
    fit: MlFit,
}

#[pymethods]
impl PyMalmquist {
    #[getter]
    fn eff_global<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.eff_global.to_pyarray(py)
    }
    #[getter]
    fn eff_contemporaneous<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.eff_contemporaneous.to_pyarray(py)
    }
    #[getter]
    fn index<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.index.to_pyarray(py)
    }
    #[getter]
    fn ec<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.ec.to_pyarray(py)
    }
    #[getter]
    fn tc<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.tc.to_pyarray(py)
    }
    #[getter]
    fn cumulative<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.cumulative.to_pyarray(py)
    }
    #[getter]
    fn status(&self) -> Vec<&'static str> {
        self.fit.status.iter().map(|s| s.label()).collect()
    }
    #[getter]
    fn n_infeasible(&self) -> usize {
        self.fit.n_infeasible
    }
    #[getter]
    fn n_programs(&self) -> usize {
        self.fit.n_programs
    }
}

/// Global / contemporaneous Malmquist–Luenberger index; see `pilotdid.green.gml`.
#[pyfunction]
#[pyo3(signature = (inputs, good, bad, row_labels, unit, time, *, kind, rts, super_efficiency))]
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
) -> PyResult<PyMalmquist> {
    let data = dea_data(&inputs, &good, &bad, row_labels)?;
    let (unit, time) = (slice(&unit, "unit")?, slice(&time, "time")?);
    let spec = MlSpec {
        kind: guarded(|| Frontier::parse_option(kind, "kind"))?,
        rts: guarded(|| Rts::parse(rts))?,
        super_efficiency,
    };
    let fit = run(py, || malmquist(&data, unit, time, &spec))?;
    Ok(PyMalmquist { fit })
}

/// Perpetual-inventory capital stock per row, its growth and real investment.
#[pyclass(frozen, module = "pilotdid._core", name = "CapitalStockCore")]
struct PyCapitalStock {
    fit: PimFit,
}

#[pymethods]
impl PyCapitalStock {
    #[getter]
    fn capital<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.capital.to_pyarray(py)
    }
    #[getter]
    fn growth<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.growth.to_pyarray(py)
    }
    #[getter]
    fn real_investment<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.real_investment.to_pyarray(py)
    }
}

/// Perpetual-inventory capital stock; see `pilotdid.green.capital_stock`. The initial stock
/// is `initial_stock` if given, else from `growth`, else from each unit's own growth over
/// its first `growth_years` years.
#[pyfunction]
#[pyo3(signature = (unit, unit_labels, time, investment, *, deflator=None, delta, growth=None, growth_years=None, initial_stock=None))]
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
) -> PyResult<PyCapitalStock> {
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
    let fit = run(py, || capital_stock(u, &unit_labels, t, inv, defl, &spec))?;
    Ok(PyCapitalStock { fit })
}

/// Entropy weights and entropies per group (groups × indicators) and the composite index.
#[pyclass(frozen, module = "pilotdid._core", name = "EntropyCore")]
struct PyEntropy {
    weights: Array2<f64>,
    entropy: Array2<f64>,
    index: Vec<f64>,
}

#[pymethods]
impl PyEntropy {
    #[getter]
    fn weights<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.weights.to_pyarray(py)
    }
    #[getter]
    fn entropy<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.entropy.to_pyarray(py)
    }
    #[getter]
    fn index<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.index.to_pyarray(py)
    }
}

/// Entropy weights and composite index; see `pilotdid.green.entropy_index`.
#[pyfunction]
#[pyo3(signature = (columns, positive, group, *, shift))]
fn green_entropy<'py>(
    py: Python<'py>,
    columns: Cols<'py>,
    positive: Vec<bool>,
    group: PyReadonlyArray1<'py, u32>,
    shift: f64,
) -> PyResult<PyEntropy> {
    let names: Vec<String> = columns.iter().map(|(n, _)| n.clone()).collect();
    let mut cols = Vec::new();
    for (n, a) in &columns {
        cols.push(slice(a, n)?);
    }
    let g = slice(&group, "group")?;
    let f = run(py, || entropy_index(&cols, &names, &positive, g, shift))?;
    let k = names.len();
    let weights = Array2::from_shape_vec((f.n_groups, k), f.weights)
        .map_err(|e| super::to_py(Error::Shape(e.to_string())))?;
    let entropy = Array2::from_shape_vec((f.n_groups, k), f.entropy)
        .map_err(|e| super::to_py(Error::Shape(e.to_string())))?;
    Ok(PyEntropy {
        weights,
        entropy,
        index: f.index,
    })
}

/// Solution of a linear program: status ("optimal", ...), objective and the point z.
#[pyclass(frozen, module = "pilotdid._core", name = "LpSolution")]
struct PyLpSolution {
    #[pyo3(get)]
    status: &'static str,
    #[pyo3(get)]
    objective: f64,
    x: Vec<f64>,
}

#[pymethods]
impl PyLpSolution {
    #[getter]
    fn x<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.x.to_pyarray(py)
    }
}

/// Solve min c'z s.t. A z = b, z >= 0 with the crate's simplex (for tests against HiGHS).
#[pyfunction]
fn green_lp_solve<'py>(
    py: Python<'py>,
    a: PyReadonlyArray2<'py, f64>,
    b: PyReadonlyArray1<'py, f64>,
    c: PyReadonlyArray1<'py, f64>,
) -> PyResult<PyLpSolution> {
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
    let s = run(py, || solve(&lp, &mut Workspace::default()))?;
    Ok(PyLpSolution {
        status: s.status.label(),
        objective: s.objective,
        x: s.x,
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySbm>()?;
    m.add_class::<PyMalmquist>()?;
    m.add_class::<PyCapitalStock>()?;
    m.add_class::<PyEntropy>()?;
    m.add_class::<PyLpSolution>()?;
    m.add_function(wrap_pyfunction!(green_sbm, m)?)?;
    m.add_function(wrap_pyfunction!(green_malmquist, m)?)?;
    m.add_function(wrap_pyfunction!(green_capital_stock, m)?)?;
    m.add_function(wrap_pyfunction!(green_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(green_lp_solve, m)?)?;
    Ok(())
}

//! PyO3 bindings of pilotdid-core: convert arrays in, call the core, convert results out, map
//! errors. No numerics here.
//!
//! A crate of its own (an rlib) so that it compiles beside faer, as pilotdid-core does: it
//! depends on the core, not on faer. The extension module (`bindings/`, pilotdid-python)
//! registers everything here through [`register`] and adds the bindings of the families that
//! call faer (spatial, HonestDiD, continuous dose, PCA). It also uses the helpers below
//! ([`run`], [`guarded`], [`slice`], [`to_py`], [`PilotdidError`]).

mod bacon_sunab;
mod conley;
mod dcdh;
mod ddd;
mod event;
mod exposure;
mod green;
mod heterogeneity;
mod inference;
mod mediation;
mod pretrend_power;
mod robust;
mod staggered;
mod synthdid;

use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, ToPyArray};
use pyo3::create_exception;
use pyo3::exceptions::{PyKeyboardInterrupt, PyMemoryError, PyValueError};
use pyo3::prelude::*;

use pilotdid_core::error::Error;
use pilotdid_core::fe::{factorize, DemeanSpec};
use pilotdid_core::inference::{BootWeights, WaldTest, WildBootSpec};
use pilotdid_core::interrupt::{self, Cancel};
use pilotdid_core::linear::{feols, FeolsFit, FeolsInput, FeolsSpec, VcovRequest, WildBoot};
use pilotdid_core::panel::{Panel, TreatmentInput};

create_exception!(
    _core,
    PilotdidError,
    PyValueError,
    "Bad input or a failed estimate in pilotdid."
);

pub fn to_py(e: Error) -> PyErr {
    match e {
        Error::OutOfMemory { .. } => PyMemoryError::new_err(e.to_string()),
        Error::Interrupted => PyKeyboardInterrupt::new_err("pilotdid computation interrupted"),
        e => PilotdidError::new_err(e.to_string()),
    }
}

/// Runs a core call so that nothing unwinds into Python: errors become `PilotdidError`, and a
/// panic (a bug, never expected) becomes a `PilotdidError` that says so instead of aborting.
pub fn guarded<T>(f: impl FnOnce() -> Result<T, Error>) -> PyResult<T> {
    caught(f).map_err(to_py)
}

/// `f()`, with a panic turned into an error that says it is a bug.
fn caught<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    // The unwinding machinery is instantiated once, for the type-erased job, instead of once
    // per binding (hundreds of copies of catch_unwind in the extension otherwise).
    let mut out = None;
    caught_erased(&mut one_shot(f, &mut out))?;
    result_of(out)
}

/// `f` as a job callable through `&mut dyn FnMut` (what the type-erased workers take) that
/// runs `f` once and moves its value into `out`.
fn one_shot<'a, T, F>(f: F, out: &'a mut Option<T>) -> impl FnMut() -> Result<(), Error> + 'a
where
    F: FnOnce() -> Result<T, Error> + 'a,
{
    let mut job = Some(f);
    move || {
        if let Some(f) = job.take() {
            *out = Some(f()?);
        }
        Ok(())
    }
}

/// The value a [`one_shot`] job left behind.
fn result_of<T>(out: Option<T>) -> Result<T, Error> {
    out.ok_or_else(|| Error::Internal("the computation returned no result".into()))
}

fn caught_erased(f: &mut dyn FnMut() -> Result<(), Error>) -> Result<(), Error> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(Error::Internal(msg))
        }
    }
}

/// Runs a long core computation the way every binding should: without the GIL, on a worker
/// thread (16 MiB stack), while this thread waits in 50 ms slices and lets Python handle
/// signals in between. If a signal handler raises (Ctrl-C -> `KeyboardInterrupt`, or whatever a
/// SIGTERM handler raises), every running computation is cancelled (`interrupt::cancel_all`;
/// long loops check their token at least every 100 ms), the worker is joined, and that
/// exception is returned: no partial result and no thread is left behind. Errors and panics
/// are mapped as by [`guarded`]; `Error::OutOfMemory` becomes `MemoryError`.
///
/// Python runs signal handlers only on the main thread, which is why the computation must not
/// run on it. Called from another Python thread, the computation is cancelled by a Ctrl-C on
/// the main thread and raises `KeyboardInterrupt` here.
pub fn run<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Result<T, Error> + Send,
{
    // The thread, channel and signal loop are compiled once (`run_erased`); each binding only
    // adds this shell. The worker is joined before `run_erased` returns (a scoped thread), so
    // the job's borrow of `out` ends there.
    let mut out = None;
    run_erased(py, &mut one_shot(f, &mut out))?;
    result_of(out).map_err(to_py)
}

/// [`run`] for a type-erased job.
fn run_erased(py: Python<'_>, f: &mut (dyn FnMut() -> Result<(), Error> + Send)) -> PyResult<()> {
    use std::sync::{mpsc, Mutex};
    use std::time::Duration;

    let token = Cancel::at(interrupt::epoch());
    type Job<'a> = &'a mut (dyn FnMut() -> Result<(), Error> + Send);
    fn take<'a>(job: &Mutex<Option<Job<'a>>>) -> Option<Job<'a>> {
        job.lock().ok().and_then(|mut j| j.take())
    }
    let job = &Mutex::new(Some(f));
    let (tx, mut rx) = mpsc::sync_channel::<Result<(), Error>>(1);
    std::thread::scope(|s| {
        let spawned = std::thread::Builder::new()
            .name("pilotdid".into())
            .stack_size(16 << 20)
            .spawn_scoped(s, move || {
                if let Some(f) = take(job) {
                    // The receiver outlives this scope's threads, so send cannot fail.
                    let _ = tx.send(token.enter(|| caught_erased(f)));
                }
            });
        if spawned.is_err() {
            // No thread to be had (resource limits): run here, without the GIL and without
            // panics, but not interruptible.
            let f = take(job).ok_or_else(|| to_py(Error::Internal("job lost".into())))?;
            return py.detach(|| caught_erased(&mut || token.enter(&mut *f)).map_err(to_py));
        }
        loop {
            // (The receiver is moved in and out: it is Send but not Sync.)
            let (got, back) = py.detach(move || (rx.recv_timeout(Duration::from_millis(50)), rx));
            rx = back;
            match got {
                Ok(r) => return r.map_err(to_py),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Err(e) = py.check_signals() {
                        interrupt::cancel_all();
                        // The worker stops at its next check and its result is dropped.
                        let _ = py.detach(move || rx.recv());
                        return Err(e);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(to_py(Error::Internal(
                        "worker thread ended without a result".into(),
                    )))
                }
            }
        }
    })
}

pub fn slice<'a, T: numpy::Element>(a: &'a PyReadonlyArray1<T>, what: &str) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| PilotdidError::new_err(format!("{what}: array is not contiguous")))
}

/// The restricted wild cluster bootstrap options both bindings take, by name.
pub(crate) fn wild_boot_spec(
    reps: usize,
    weights: &str,
    seed: u64,
    level: f64,
) -> PyResult<WildBootSpec> {
    let weights = match weights.to_ascii_lowercase().as_str() {
        "rademacher" => BootWeights::Rademacher,
        "webb" => BootWeights::Webb,
        other => {
            return Err(PilotdidError::new_err(format!(
                "option 'weights': '{other}' is not one of 'rademacher', 'webb'"
            )))
        }
    };
    Ok(WildBootSpec {
        reps,
        weights,
        seed,
        level,
        compute_ci: true,
    })
}

/// The variance estimator named by `vcov`; `clusters` are the cluster variables it uses.
pub(crate) fn vcov_request(vcov: &str, clusters: Vec<usize>) -> PyResult<VcovRequest> {
    match vcov {
        "iid" => Ok(VcovRequest::Iid),
        "hetero" => Ok(VcovRequest::Hetero),
        "cluster" => Ok(VcovRequest::Cluster(clusters)),
        other => Err(PilotdidError::new_err(format!(
            "option 'vcov': unknown type '{other}'"
        ))),
    }
}

/// Named columns as the core takes them: (name, contiguous slice) pairs.
pub(crate) fn named<'a, T: numpy::Element>(
    names: Vec<String>,
    arrays: &'a [PyReadonlyArray1<'_, T>],
    what: &str,
) -> PyResult<Vec<(String, &'a [T])>> {
    names
        .into_iter()
        .zip(arrays)
        .map(|(n, a)| Ok((n, slice(a, what)?)))
        .collect()
}

/// A Wald test of joint restrictions, in chi-squared and F form.
#[pyclass(frozen, module = "pilotdid._core", name = "WaldTest")]
#[derive(Clone)]
pub(crate) struct PyWaldTest {
    /// Labels of the tested coefficients (event times in an event study; else empty).
    #[pyo3(get)]
    event_time: Vec<i64>,
    #[pyo3(get)]
    chi2: f64,
    #[pyo3(get)]
    p_chi2: f64,
    #[pyo3(get)]
    f: f64,
    #[pyo3(get)]
    df1: usize,
    #[pyo3(get)]
    df2: usize,
    #[pyo3(get)]
    p_f: f64,
}

impl From<WaldTest> for PyWaldTest {
    fn from(w: WaldTest) -> Self {
        Self {
            event_time: w.event_time,
            chi2: w.chi2,
            p_chi2: w.p_chi2,
            f: w.f,
            df1: w.df1,
            df2: w.df2,
            p_f: w.p_f,
        }
    }
}

/// Dense codes of integer ids, in order of first appearance, and the distinct values.
#[pyclass(frozen, module = "pilotdid._core", name = "FactorizedIds")]
struct PyFactorizedIds {
    codes: Vec<u32>,
    levels: Vec<i64>,
}

#[pymethods]
impl PyFactorizedIds {
    #[getter]
    fn codes<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u32>> {
        self.codes.to_pyarray(py)
    }
    #[getter]
    fn levels<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        self.levels.to_pyarray(py)
    }
}

/// Dense codes for integer ids: codes as uint32 and the distinct values in order of appearance.
#[pyfunction]
fn factorize_ids<'py>(
    py: Python<'py>,
    ids: PyReadonlyArray1<'py, i64>,
) -> PyResult<PyFactorizedIds> {
    let v = slice(&ids, "ids")?;
    let f = run(py, || factorize(v))?;
    Ok(PyFactorizedIds {
        codes: f.codes,
        levels: f.levels,
    })
}

/// A fitted fixed-effects OLS regression (see `pilotdid.feols`).
#[pyclass(frozen, module = "pilotdid._core", name = "FeolsCore")]
struct PyFeols {
    fit: FeolsFit,
    /// For a fit from the lean path (no design kept): the caller's arrays it was computed
    /// from (references, not copies) and its options.
    source: Option<FeolsSource>,
}

/// The columns and options of a lean fit: residuals and the wild bootstrap refit from them
/// on the general path, which keeps the demeaned design they need.
struct FeolsSource {
    y: (String, Py<PyArray1<f64>>),
    x: Vec<(String, Py<PyArray1<f64>>)>,
    fe: Vec<(String, Py<PyArray1<i64>>)>,
    clusters: Vec<(String, Py<PyArray1<i64>>)>,
    spec: FeolsSpec,
}

/// The arrays behind a `FeolsInput`: outcome, regressors, fixed-effect and cluster ids.
type InputArrays<'a, 'py> = (
    &'a PyReadonlyArray1<'py, f64>,
    &'a [PyReadonlyArray1<'py, f64>],
    &'a [PyReadonlyArray1<'py, i64>],
    &'a [PyReadonlyArray1<'py, i64>],
);

impl FeolsSource {
    fn new(input: &FeolsInput, arrays: InputArrays<'_, '_>, spec: &FeolsSpec) -> Self {
        fn keep<T: numpy::Element>(
            names: impl Iterator<Item = String>,
            a: &[PyReadonlyArray1<T>],
        ) -> Vec<(String, Py<PyArray1<T>>)> {
            names
                .zip(a)
                .map(|(n, a)| (n, (**a).clone().unbind()))
                .collect()
        }
        let (y, x, fe, clusters) = arrays;
        Self {
            y: (input.y.0.clone(), (**y).clone().unbind()),
            x: keep(input.x.iter().map(|(n, _)| n.clone()), x),
            fe: keep(input.fe.iter().map(|(n, _)| n.clone()), fe),
            clusters: keep(input.clusters.iter().map(|(n, _)| n.clone()), clusters),
            spec: FeolsSpec {
                lean_min_rows: usize::MAX,
                ..spec.clone()
            },
        }
    }
}

impl PyFeols {
    /// The fit with its design: this one, or for a lean fit the same model refitted on the
    /// general path.
    fn with_design(&self, py: Python<'_>) -> PyResult<std::borrow::Cow<'_, FeolsFit>> {
        let Some(src) = &self.source else {
            return Ok(std::borrow::Cow::Borrowed(&self.fit));
        };
        fn borrow<'py, T: numpy::Element>(
            py: Python<'py>,
            a: &Py<PyArray1<T>>,
        ) -> PyResult<PyReadonlyArray1<'py, T>> {
            a.bind(py).try_readonly().map_err(|e| {
                PilotdidError::new_err(format!("a column of the fitted model is in use: {e}"))
            })
        }
        fn names<T>(v: &[(String, T)]) -> Vec<String> {
            v.iter().map(|(n, _)| n.clone()).collect()
        }
        fn borrow_all<'py, T: numpy::Element>(
            py: Python<'py>,
            v: &[(String, Py<PyArray1<T>>)],
        ) -> PyResult<Vec<PyReadonlyArray1<'py, T>>> {
            v.iter().map(|(_, a)| borrow(py, a)).collect()
        }
        let y = borrow(py, &src.y.1)?;
        let (x, fe, cl) = (
            borrow_all(py, &src.x)?,
            borrow_all(py, &src.fe)?,
            borrow_all(py, &src.clusters)?,
        );
        let input = FeolsInput {
            y: (src.y.0.clone(), slice(&y, "y")?),
            x: named(names(&src.x), &x, "x")?,
            fe: named(names(&src.fe), &fe, "fixed effect")?,
            clusters: named(names(&src.clusters), &cl, "cluster")?,
            weights: None,
            valid: None,
        };
        let fit = run(py, || feols(&input, &src.spec))?;
        Ok(std::borrow::Cow::Owned(fit))
    }
}

#[pymethods]
impl PyFeols {
    #[getter]
    fn coefnames(&self) -> Vec<String> {
        self.fit.coefnames.clone()
    }
    #[getter]
    fn beta<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.beta.to_pyarray(py)
    }
    #[getter]
    fn vcov<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.fit.vcov.to_pyarray(py)
    }
    #[getter]
    fn se<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.fit.se.to_pyarray(py)
    }
    #[getter]
    fn used_rows<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<bool>> {
        self.fit.used_rows().as_ref().to_pyarray(py)
    }
    /// Whether the fit took the lean path (no demeaned design kept; residuals and the wild
    /// bootstrap refit on the general path).
    #[getter]
    fn lean(&self) -> bool {
        self.fit.is_lean()
    }
    #[getter]
    fn collinear(&self) -> Vec<String> {
        self.fit.collinear.clone()
    }
    #[getter]
    fn nobs(&self) -> usize {
        self.fit.nobs
    }
    #[getter]
    fn n_missing(&self) -> usize {
        self.fit.n_missing
    }
    #[getter]
    fn n_zero_weight(&self) -> usize {
        self.fit.n_zero_weight
    }
    #[getter]
    fn n_singletons(&self) -> usize {
        self.fit.n_singletons
    }
    #[getter]
    fn singletons_dropped(&self) -> bool {
        self.fit.singletons_dropped
    }
    #[getter]
    fn r2(&self) -> f64 {
        self.fit.r2
    }
    #[getter]
    fn r2_within(&self) -> Option<f64> {
        self.fit.r2_within
    }
    #[getter]
    fn rss(&self) -> f64 {
        self.fit.rss
    }
    /// Residuals y - fitted on the estimation rows, unweighted (pyfixest's `resid()`).
    fn residuals<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let fit = self.with_design(py)?;
        let u = run(py, || fit.residuals())?;
        Ok(u.to_pyarray(py))
    }
    #[getter]
    fn df_k(&self) -> usize {
        self.fit.df_k
    }
    #[getter]
    fn df_t(&self) -> usize {
        self.fit.df_t
    }
    #[getter]
    fn n_clusters(&self) -> Vec<usize> {
        self.fit.n_clusters.clone()
    }
    #[getter]
    fn fe_levels(&self) -> Vec<usize> {
        self.fit.fe_levels.clone()
    }
    #[getter]
    fn demean_method(&self) -> String {
        format!("{:?}", self.fit.demean.method)
    }
    /// Sweeps of the alternating projection per column (0 on the exact paths).
    #[getter]
    fn demean_iterations(&self) -> Vec<usize> {
        self.fit.demean.iterations.clone()
    }
    #[getter]
    fn demean_seconds(&self) -> f64 {
        self.fit.demean.seconds
    }
    /// Wall seconds of each phase of the fit, in order: (phase, seconds) pairs.
    #[getter]
    fn phases(&self) -> Vec<(&'static str, f64)> {
        self.fit.phases.clone()
    }

    /// Statistics of every coefficient from Student's t with the fit's df.
    fn coef_table(&self, py: Python<'_>, level: f64) -> PyResult<PyFeolsCoefTable> {
        let t = run(py, || self.fit.coef_table(level))?;
        Ok(PyFeolsCoefTable {
            statistic: t.statistic,
            p_value: t.p_value,
            conf_low: t.conf_low,
            conf_high: t.conf_high,
        })
    }

    /// Restricted wild cluster bootstrap of R'beta = r, clustered by the fit's cluster
    /// variable number `cluster` (0 = first). `y` and `x` are the columns given to `feols_fit`.
    #[pyo3(signature = (y, x, restriction, r, *, reps, weights, seed, level, cluster=0))]
    #[allow(clippy::too_many_arguments)]
    fn wildboottest<'py>(
        &self,
        py: Python<'py>,
        y: PyReadonlyArray1<'py, f64>,
        x: Vec<PyReadonlyArray1<'py, f64>>,
        restriction: PyReadonlyArray1<'py, f64>,
        r: f64,
        reps: usize,
        weights: &str,
        seed: u64,
        level: f64,
        cluster: usize,
    ) -> PyResult<PyWildBoot> {
        let spec = wild_boot_spec(reps, weights, seed, level)?;
        let rvec = restriction.as_array().to_owned();
        let input = FeolsInput {
            y: (String::new(), slice(&y, "y")?),
            x: x.iter()
                .map(|a| Ok((String::new(), slice(a, "x")?)))
                .collect::<PyResult<_>>()?,
            fe: Vec::new(),
            clusters: Vec::new(),
            weights: None,
            valid: None,
        };
        let fit = self.with_design(py)?;
        let out = run(py, || {
            fit.wild_bootstrap(&input, rvec.view(), r, &spec, cluster)
        })?;
        Ok(PyWildBoot::from(out))
    }
}

/// t statistics, p-values and confidence bounds of a fit's coefficients (lists, in order).
#[pyclass(frozen, module = "pilotdid._core", name = "FeolsCoefTable")]
struct PyFeolsCoefTable {
    #[pyo3(get)]
    statistic: Vec<f64>,
    #[pyo3(get)]
    p_value: Vec<f64>,
    #[pyo3(get)]
    conf_low: Vec<f64>,
    #[pyo3(get)]
    conf_high: Vec<f64>,
}

/// A restricted wild cluster bootstrap test of one linear restriction.
#[pyclass(frozen, module = "pilotdid._core", name = "WildBootCore")]
pub(crate) struct PyWildBoot {
    #[pyo3(get)]
    estimate: f64,
    #[pyo3(get)]
    t_stat: f64,
    #[pyo3(get)]
    p_value: f64,
    /// Test-inversion interval at the requested level (None when it was not computed).
    #[pyo3(get)]
    conf_int: Option<(f64, f64)>,
    #[pyo3(get)]
    reps: usize,
    t_boot: Vec<f64>,
    /// Fixed effects projected out (nested in the clusters) and entered as dummies.
    #[pyo3(get)]
    fe_partialled: Vec<String>,
    #[pyo3(get)]
    fe_as_dummies: Vec<String>,
    /// False when non-nested fixed effects had to be projected out.
    #[pyo3(get)]
    fe_exact: bool,
}

#[pymethods]
impl PyWildBoot {
    /// Bootstrap t statistics, in replicate order.
    #[getter]
    fn t_boot<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.t_boot.to_pyarray(py)
    }
}

impl From<WildBoot> for PyWildBoot {
    fn from(out: WildBoot) -> Self {
        let r = out.result;
        Self {
            estimate: r.estimate,
            t_stat: r.t_stat,
            p_value: r.p_value,
            conf_int: r.conf_int,
            reps: r.reps,
            t_boot: r.t_boot,
            fe_partialled: out.fe_partialled,
            fe_as_dummies: out.fe_as_dummies,
            fe_exact: out.fe_exact,
        }
    }
}

/// Fixed-effects OLS on prepared columns; see `pilotdid.feols` for the user-facing call.
/// `fe`, `clusters` and `weights` come with their names (used in messages and results).
#[pyfunction]
#[pyo3(signature = (y_name, y, x_names, x, *, fe_names, fe, cluster_names, clusters, weights_name=None, weights=None, valid=None, vcov, vcov_clusters, drop_singletons, tol, max_iter, lean_min_rows=usize::MAX))]
#[allow(clippy::too_many_arguments)]
fn feols_fit<'py>(
    py: Python<'py>,
    y_name: String,
    y: PyReadonlyArray1<'py, f64>,
    x_names: Vec<String>,
    x: Vec<PyReadonlyArray1<'py, f64>>,
    fe_names: Vec<String>,
    fe: Vec<PyReadonlyArray1<'py, i64>>,
    cluster_names: Vec<String>,
    clusters: Vec<PyReadonlyArray1<'py, i64>>,
    weights_name: Option<String>,
    weights: Option<PyReadonlyArray1<'py, f64>>,
    valid: Option<PyReadonlyArray1<'py, bool>>,
    vcov: &str,
    vcov_clusters: Vec<usize>,
    drop_singletons: bool,
    tol: f64,
    max_iter: usize,
    lean_min_rows: usize,
) -> PyResult<PyFeols> {
    let vcov = vcov_request(vcov, vcov_clusters)?;
    let input = FeolsInput {
        y: (y_name, slice(&y, "y")?),
        x: named(x_names, &x, "x")?,
        fe: named(fe_names, &fe, "fixed effect")?,
        clusters: named(cluster_names, &clusters, "cluster")?,
        weights: match (weights_name, &weights) {
            (Some(n), Some(w)) => Some((n, slice(w, "weights")?)),
            _ => None,
        },
        valid: valid.as_ref().map(|v| slice(v, "valid")).transpose()?,
    };
    let spec = FeolsSpec {
        drop_singletons,
        vcov,
        demean: DemeanSpec { tol, max_iter },
        lean_min_rows,
    };
    let fit = run(py, || feols(&input, &spec))?;
    let source = fit
        .is_lean()
        .then(|| FeolsSource::new(&input, (&y, &x, &fe, &clusters), &spec));
    Ok(PyFeols { fit, source })
}

/// Panel structure: balance, periods and each unit's first treated period.
#[pyclass(frozen, module = "pilotdid._core", name = "PanelInfo")]
struct PyPanelInfo {
    #[pyo3(get)]
    is_balanced: bool,
    #[pyo3(get)]
    n_units: usize,
    #[pyo3(get)]
    n_periods: usize,
    /// Distinct periods, ascending.
    #[pyo3(get)]
    periods: Vec<i64>,
    /// First treated period per unit (order of first appearance); None for never treated.
    #[pyo3(get)]
    cohort: Vec<Option<i64>>,
}

/// Panel structure of coded units and integer periods; give `treatment` or `cohort`, or neither.
#[pyfunction]
#[pyo3(signature = (unit, unit_labels, time, *, treatment=None, cohort=None, allow_switch_off=false))]
fn panel_info<'py>(
    py: Python<'py>,
    unit: PyReadonlyArray1<'py, u32>,
    unit_labels: Vec<String>,
    time: PyReadonlyArray1<'py, i64>,
    treatment: Option<PyReadonlyArray1<'py, f64>>,
    cohort: Option<PyReadonlyArray1<'py, f64>>,
    allow_switch_off: bool,
) -> PyResult<PyPanelInfo> {
    let t = match (&treatment, &cohort) {
        (Some(d), None) => TreatmentInput::Indicator(slice(d, "treatment")?),
        (None, Some(g)) => TreatmentInput::Cohort(slice(g, "cohort")?),
        (None, None) => TreatmentInput::None,
        (Some(_), Some(_)) => {
            return Err(PilotdidError::new_err(
                "options 'treatment' and 'cohort': give one, not both",
            ))
        }
    };
    let (unit, time) = (slice(&unit, "unit")?, slice(&time, "time")?);
    let p = run(py, || {
        Panel::new(unit, unit_labels, time, t, allow_switch_off)
    })?;
    Ok(PyPanelInfo {
        is_balanced: p.is_balanced,
        n_units: p.n_units(),
        n_periods: p.n_periods(),
        periods: p.periods,
        cohort: p.cohort,
    })
}

/// Adds the exception, classes and functions of this crate to the extension module `_core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("PilotdidError", m.py().get_type::<PilotdidError>())?;
    m.add_class::<PyFactorizedIds>()?;
    m.add_class::<PyFeols>()?;
    m.add_class::<PyFeolsCoefTable>()?;
    m.add_class::<PyWildBoot>()?;
    m.add_class::<PyPanelInfo>()?;
    m.add_class::<PyWaldTest>()?;
    m.add_function(wrap_pyfunction!(feols_fit, m)?)?;
    m.add_function(wrap_pyfunction!(factorize_ids, m)?)?;
    m.add_function(wrap_pyfunction!(panel_info, m)?)?;
    staggered::register(m)?;
    exposure::register(m)?;
    bacon_sunab::register(m)?;
    event::register(m)?;
    mediation::register(m)?;
    robust::register(m)?;
    green::register(m)?;
    inference::register(m)?;
    heterogeneity::register(m)?;
    pretrend_power::register(m)?;
    synthdid::register(m)?;
    ddd::register(m)?;
    dcdh::register(m)?;
    conley::register(m)?;
    Ok(())
}

//! PyO3 bindings for the event-study family: TWFE event study, BJS imputation, Gardner's
//! two-stage DID. Arrays in, results out; no numerics here.

use numpy::ndarray::Array2;
use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, ToPyArray};
use pyo3::prelude::*;

use super::conley::{conley_request, ConleyArgs};
use super::{
    named, run, slice, vcov_request, wild_boot_spec, PilotdidError, PyWaldTest, PyWildBoot,
};
use pilotdid_core::did::did2s::{did2s, Did2s, Did2sSpec};
use pilotdid_core::did::event_study::{
    conf_bounds, twfe_event_study, EventStudyData, EventTimeSpec, TwfeEventSpec, TwfeEventStudy,
};
use pilotdid_core::did::imputation::{imputation, Imputation, ImputationSpec};
use pilotdid_core::fe::DemeanSpec;
use pilotdid_core::inference::multiplier::MultiplierWeights;
use pilotdid_core::linear::{VcovRequest, WildBoot};

/// The common columns of every event-study call.
struct Columns<'py> {
    y_name: String,
    y: PyReadonlyArray1<'py, f64>,
    unit: PyReadonlyArray1<'py, i64>,
    time: PyReadonlyArray1<'py, i64>,
    cohort: PyReadonlyArray1<'py, f64>,
    control_names: Vec<String>,
    controls: Vec<PyReadonlyArray1<'py, f64>>,
    cluster_name: Option<String>,
    cluster: Option<PyReadonlyArray1<'py, i64>>,
    valid: Option<PyReadonlyArray1<'py, bool>>,
}

impl<'py> Columns<'py> {
    fn data(&self) -> PyResult<EventStudyData<'_>> {
        Ok(EventStudyData {
            y: (self.y_name.clone(), slice(&self.y, "y")?),
            unit: slice(&self.unit, "unit")?,
            time: slice(&self.time, "time")?,
            cohort: slice(&self.cohort, "cohort")?,
            controls: named(self.control_names.clone(), &self.controls, "control")?,
            cluster: match (&self.cluster_name, &self.cluster) {
                (Some(n), Some(c)) => Some((n.clone(), slice(c, "cluster")?)),
                _ => None,
            },
            valid: self.valid.as_ref().map(|v| slice(v, "valid")).transpose()?,
        })
    }
}

fn event_spec(
    ref_periods: Vec<i64>,
    bin_lo: Option<i64>,
    bin_hi: Option<i64>,
    window: Option<(i64, i64)>,
) -> EventTimeSpec {
    EventTimeSpec {
        ref_periods,
        bin_lo,
        bin_hi,
        window,
    }
}

/// A fitted TWFE event study (see `pilotdid.event_study(estimator="twfe")`).
#[pyclass(frozen, module = "pilotdid._core", name = "TwfeEventStudyCore")]
struct PyTwfeEventStudy {
    res: TwfeEventStudy,
}

#[pymethods]
impl PyTwfeEventStudy {
    /// Estimates and diagnostics; intervals from Student's t with the fit's df.
    fn info(&self, py: Python<'_>, level: f64) -> PyResult<PyTwfeEventStudyInfo> {
        let r = &self.res;
        let f = &r.fit;
        let (conf_low, conf_high) =
            run(py, || conf_bounds(&r.estimate, &r.se, level, Some(f.df_t)))?;
        Ok(PyTwfeEventStudyInfo {
            conf_low,
            conf_high,
            event_time: r.event_time.clone(),
            estimate: r.estimate.clone(),
            std_error: r.se.clone(),
            vcov: r.vcov.clone(),
            collinear_event_time: r.collinear_event_time.clone(),
            ref_periods: r.ref_periods.clone(),
            n_outside_window: r.n_outside_window,
            n_obs_event_time: r.n_obs_event_time.clone(),
            pretrend: r.pretrend.clone().map(PyWaldTest::from),
            coefnames: f.coefnames.clone(),
            beta: f.beta.to_vec(),
            se_all: f.se.to_vec(),
            collinear: f.collinear.clone(),
            nobs: f.nobs,
            n_missing: f.n_missing,
            df_t: f.df_t,
            n_clusters: f.n_clusters.clone(),
            r2: f.r2,
        })
    }

    /// Restricted wild cluster bootstrap of the event-time-`e` coefficient = r.
    #[pyo3(signature = (e, r, *, reps, weights, seed, level))]
    #[allow(clippy::too_many_arguments)]
    fn wild_bootstrap(
        &self,
        py: Python<'_>,
        e: i64,
        r: f64,
        reps: usize,
        weights: &str,
        seed: u64,
        level: f64,
    ) -> PyResult<PyWildBoot> {
        let spec = wild_boot_spec(reps, weights, seed, level)?;
        let out = run(py, || self.res.wild_bootstrap(e, r, &spec))?;
        Ok(PyWildBoot::from(out))
    }
}

/// A TWFE event study at one confidence level: event-time estimates, the pre-trend test and
/// the underlying regression's coefficients and counts.
#[pyclass(frozen, module = "pilotdid._core", name = "TwfeEventStudyInfo")]
struct PyTwfeEventStudyInfo {
    #[pyo3(get)]
    conf_low: Vec<f64>,
    #[pyo3(get)]
    conf_high: Vec<f64>,
    event_time: Vec<i64>,
    estimate: Vec<f64>,
    std_error: Vec<f64>,
    vcov: Array2<f64>,
    #[pyo3(get)]
    collinear_event_time: Vec<i64>,
    #[pyo3(get)]
    ref_periods: Vec<i64>,
    #[pyo3(get)]
    n_outside_window: usize,
    #[pyo3(get)]
    n_obs_event_time: Vec<usize>,
    /// Joint test of all leads = 0 (None without leads).
    #[pyo3(get)]
    pretrend: Option<PyWaldTest>,
    /// Every coefficient of the regression (event times, then controls).
    #[pyo3(get)]
    coefnames: Vec<String>,
    beta: Vec<f64>,
    se_all: Vec<f64>,
    #[pyo3(get)]
    collinear: Vec<String>,
    #[pyo3(get)]
    nobs: usize,
    #[pyo3(get)]
    n_missing: usize,
    #[pyo3(get)]
    df_t: usize,
    #[pyo3(get)]
    n_clusters: Vec<usize>,
    #[pyo3(get)]
    r2: f64,
}

#[pymethods]
impl PyTwfeEventStudyInfo {
    #[getter]
    fn event_time<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        self.event_time.to_pyarray(py)
    }
    #[getter]
    fn estimate<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.estimate.to_pyarray(py)
    }
    #[getter]
    fn std_error<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.std_error.to_pyarray(py)
    }
    #[getter]
    fn vcov<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.vcov.to_pyarray(py)
    }
    #[getter]
    fn beta<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.beta.to_pyarray(py)
    }
    #[getter]
    fn se_all<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.se_all.to_pyarray(py)
    }
}

/// TWFE event study on prepared columns; `vcov="cluster"` clusters by `cluster`,
/// `vcov="conley"` takes `conley=(lat, lon, cutoff_km, lag, kernel)`.
#[pyfunction]
#[pyo3(signature = (y_name, y, unit, time, cohort, *, control_names, controls, cluster_name=None, cluster=None, valid=None, vcov, ref_periods, bin_lo=None, bin_hi=None, window=None, tol, max_iter, conley=None))]
#[allow(clippy::too_many_arguments)]
fn twfe_event_study_fit<'py>(
    py: Python<'py>,
    y_name: String,
    y: PyReadonlyArray1<'py, f64>,
    unit: PyReadonlyArray1<'py, i64>,
    time: PyReadonlyArray1<'py, i64>,
    cohort: PyReadonlyArray1<'py, f64>,
    control_names: Vec<String>,
    controls: Vec<PyReadonlyArray1<'py, f64>>,
    cluster_name: Option<String>,
    cluster: Option<PyReadonlyArray1<'py, i64>>,
    valid: Option<PyReadonlyArray1<'py, bool>>,
    vcov: &str,
    ref_periods: Vec<i64>,
    bin_lo: Option<i64>,
    bin_hi: Option<i64>,
    window: Option<(i64, i64)>,
    tol: f64,
    max_iter: usize,
    conley: Option<ConleyArgs<'py>>,
) -> PyResult<PyTwfeEventStudy> {
    let vcov = match (vcov, &conley) {
        ("conley", Some(c)) => VcovRequest::Conley(conley_request(c)?),
        ("conley", None) => {
            return Err(PilotdidError::new_err(
                "option 'vcov': 'conley' needs the coordinates and settings",
            ))
        }
        (other, _) => vcov_request(other, vec![0])?,
    };
    let cols = Columns {
        y_name,
        y,
        unit,
        time,
        cohort,
        control_names,
        controls,
        cluster_name,
        cluster,
        valid,
    };
    let data = cols.data()?;
    let spec = TwfeEventSpec {
        event: event_spec(ref_periods, bin_lo, bin_hi, window),
        vcov,
        demean: DemeanSpec { tol, max_iter },
    };
    let res = run(py, || twfe_event_study(&data, &spec))?;
    Ok(PyTwfeEventStudy { res })
}

/// A Borusyak–Jaravel–Spiess imputation fit: horizon estimates with intervals, the static
/// ATT, the pre-trend regression and its test, and row counts.
#[pyclass(frozen, module = "pilotdid._core", name = "ImputationCore")]
struct PyImputation {
    #[pyo3(get)]
    conf_low: Vec<f64>,
    #[pyo3(get)]
    conf_high: Vec<f64>,
    /// Degrees of freedom of the intervals (G - 1 with small_sample; None = normal).
    #[pyo3(get)]
    ci_df: Option<usize>,
    #[pyo3(get)]
    att: f64,
    #[pyo3(get)]
    att_se: f64,
    #[pyo3(get)]
    att_conf: (f64, f64),
    event_time: Vec<i64>,
    estimate: Vec<f64>,
    std_error: Vec<f64>,
    vcov: Array2<f64>,
    #[pyo3(get)]
    n_obs_event_time: Vec<usize>,
    #[pyo3(get)]
    pretrend_event_time: Vec<i64>,
    #[pyo3(get)]
    pretrend_estimate: Vec<f64>,
    #[pyo3(get)]
    pretrend_std_error: Vec<f64>,
    #[pyo3(get)]
    pretrend_conf_low: Vec<f64>,
    #[pyo3(get)]
    pretrend_conf_high: Vec<f64>,
    #[pyo3(get)]
    pretrend: Option<PyWaldTest>,
    tau: Vec<f64>,
    #[pyo3(get)]
    n_treated: usize,
    #[pyo3(get)]
    n_untreated: usize,
    #[pyo3(get)]
    n_missing: usize,
    #[pyo3(get)]
    n_not_imputable: usize,
    #[pyo3(get)]
    n_clusters: usize,
    #[pyo3(get)]
    collinear: Vec<String>,
    /// (cohort, event time) cells where the leave-out estimate fell back to the plain one.
    #[pyo3(get)]
    leave_out_fallback: Vec<(i64, i64)>,
    /// The fit itself, for the multiplier bootstrap and the joint covariance.
    fit: Imputation,
}

/// Bootstrap numbers of the imputation estimates: (ATT se, ATT p-value, horizon ses,
/// horizon p-values, uniform critical value).
type ImputationBootTuple = (f64, f64, Vec<f64>, Vec<f64>, f64);

#[pymethods]
impl PyImputation {
    #[getter]
    fn event_time<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        self.event_time.to_pyarray(py)
    }
    #[getter]
    fn estimate<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.estimate.to_pyarray(py)
    }
    #[getter]
    fn std_error<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.std_error.to_pyarray(py)
    }
    #[getter]
    fn vcov<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.vcov.to_pyarray(py)
    }
    /// Imputed effect per input row (NaN where not a treated, imputable row).
    #[getter]
    fn tau<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.tau.to_pyarray(py)
    }

    /// Cluster scores, G x (1 + horizons): the static ATT, then the horizons.
    #[getter]
    fn cluster_scores<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.fit.cluster_scores.to_pyarray(py)
    }

    /// Joint covariance of the pre-trend coefficients and the horizons (None without them).
    #[getter]
    fn joint_vcov<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyArray2<f64>>> {
        self.fit.joint_vcov().map(|v| v.to_pyarray(py))
    }

    /// Cluster-level multiplier bootstrap of the ATT and the horizons.
    #[pyo3(signature = (*, reps, weight_type, seed, level))]
    fn multiplier_bootstrap(
        &self,
        py: Python<'_>,
        reps: usize,
        weight_type: &str,
        seed: u64,
        level: f64,
    ) -> PyResult<ImputationBootTuple> {
        let b = run(py, || {
            let w = MultiplierWeights::parse(weight_type)?;
            self.fit.multiplier_bootstrap(reps, w, seed, level)
        })?;
        Ok((b.att_se, b.att_p_value, b.se, b.p_value, b.crit_val))
    }
}

/// Borusyak–Jaravel–Spiess imputation estimator on prepared columns.
#[pyfunction]
#[pyo3(signature = (y_name, y, unit, time, cohort, *, control_names, controls, cluster_name=None, cluster=None, valid=None, horizons=None, pretrends=None, anticipation, level, leave_out=false, small_sample=false))]
#[allow(clippy::too_many_arguments)]
fn imputation_fit<'py>(
    py: Python<'py>,
    y_name: String,
    y: PyReadonlyArray1<'py, f64>,
    unit: PyReadonlyArray1<'py, i64>,
    time: PyReadonlyArray1<'py, i64>,
    cohort: PyReadonlyArray1<'py, f64>,
    control_names: Vec<String>,
    controls: Vec<PyReadonlyArray1<'py, f64>>,
    cluster_name: Option<String>,
    cluster: Option<PyReadonlyArray1<'py, i64>>,
    valid: Option<PyReadonlyArray1<'py, bool>>,
    horizons: Option<Vec<i64>>,
    pretrends: Option<Vec<i64>>,
    anticipation: i64,
    level: f64,
    leave_out: bool,
    small_sample: bool,
) -> PyResult<PyImputation> {
    let cols = Columns {
        y_name,
        y,
        unit,
        time,
        cohort,
        control_names,
        controls,
        cluster_name,
        cluster,
        valid,
    };
    let data = cols.data()?;
    let spec = ImputationSpec {
        horizons,
        pretrends,
        anticipation,
        leave_out,
        small_sample,
    };
    let r = run(py, || imputation(&data, &spec))?;
    let fit = r.clone();
    let ci_df = r.interval_df(small_sample);
    let (conf_low, conf_high) = run(py, || conf_bounds(&r.estimate, &r.se, level, ci_df))?;
    let (alo, ahi) = run(py, || conf_bounds(&[r.att], &[r.att_se], level, ci_df))?;
    let (pretrend_conf_low, pretrend_conf_high) = run(py, || {
        conf_bounds(&r.pretrend_estimate, &r.pretrend_se, level, None)
    })?;
    Ok(PyImputation {
        conf_low,
        conf_high,
        ci_df,
        att: r.att,
        att_se: r.att_se,
        att_conf: (alo[0], ahi[0]),
        event_time: r.horizons,
        estimate: r.estimate,
        std_error: r.se,
        vcov: r.vcov,
        n_obs_event_time: r.n_obs_horizon,
        pretrend_event_time: r.pretrend_event_time,
        pretrend_estimate: r.pretrend_estimate,
        pretrend_std_error: r.pretrend_se,
        pretrend_conf_low,
        pretrend_conf_high,
        pretrend: r.pretrend_test.map(PyWaldTest::from),
        tau: r.tau,
        n_treated: r.n_treated,
        n_untreated: r.n_untreated,
        n_missing: r.n_missing,
        n_not_imputable: r.n_not_imputable,
        n_clusters: r.n_clusters,
        collinear: r.collinear,
        leave_out_fallback: r.leave_out_fallback,
        fit,
    })
}

/// Two arrays returned together (a'b* and t* per draw).
type DrawPair<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>);

/// A Gardner two-stage DID fit: one row per term (static "treat" or event times), with
/// Student-t(G - 1) intervals as pyfixest.did2s reports, and row counts.
#[pyclass(frozen, module = "pilotdid._core", name = "Did2sCore")]
struct PyDid2s {
    #[pyo3(get)]
    conf_low: Vec<f64>,
    #[pyo3(get)]
    conf_high: Vec<f64>,
    /// "treat" (static) or "rel_time::e".
    #[pyo3(get)]
    terms: Vec<String>,
    event_time: Vec<i64>,
    estimate: Vec<f64>,
    std_error: Vec<f64>,
    vcov: Array2<f64>,
    #[pyo3(get)]
    n_obs_event_time: Vec<usize>,
    #[pyo3(get)]
    nobs: usize,
    #[pyo3(get)]
    n_untreated: usize,
    #[pyo3(get)]
    n_missing: usize,
    #[pyo3(get)]
    n_not_imputable: usize,
    #[pyo3(get)]
    n_outside_window: usize,
    #[pyo3(get)]
    n_clusters: usize,
    #[pyo3(get)]
    collinear: Vec<String>,
    #[pyo3(get)]
    ref_periods: Vec<i64>,
    /// The fit itself, for the wild bootstrap.
    fit: Did2s,
}

#[pymethods]
impl PyDid2s {
    /// Cluster ids in the order of the bootstrap weights' columns.
    #[getter]
    fn cluster_ids(&self) -> Vec<i64> {
        self.fit.cluster_ids().to_vec()
    }

    /// Restricted wild cluster bootstrap of Σ_j a_j β_j = r, both stages re-run per draw.
    #[pyo3(signature = (event_weights, r, *, reps, weights, seed, level))]
    #[allow(clippy::too_many_arguments)]
    fn wild_bootstrap(
        &self,
        py: Python<'_>,
        event_weights: Vec<f64>,
        r: f64,
        reps: usize,
        weights: &str,
        seed: u64,
        level: f64,
    ) -> PyResult<PyWildBoot> {
        let spec = wild_boot_spec(reps, weights, seed, level)?;
        let result = run(py, || self.fit.wild_bootstrap(&event_weights, r, &spec))?;
        Ok(PyWildBoot::from(WildBoot {
            result,
            fe_partialled: Vec::new(),
            fe_as_dummies: Vec::new(),
            fe_exact: true,
        }))
    }

    /// The same bootstrap at given weights (B x G, `cluster_ids` order): (a'b*, t*) per draw.
    fn wild_bootstrap_draws<'py>(
        &self,
        py: Python<'py>,
        event_weights: Vec<f64>,
        r: f64,
        draws: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<DrawPair<'py>> {
        let d = draws.as_array().to_owned();
        let out = run(py, || {
            self.fit.wild_bootstrap_draws(&event_weights, r, d.view())
        })?;
        Ok((out.coef_boot.to_pyarray(py), out.t_boot.to_pyarray(py)))
    }

    /// Event time per term (empty for the static model).
    #[getter]
    fn event_time<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        self.event_time.to_pyarray(py)
    }
    #[getter]
    fn estimate<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.estimate.to_pyarray(py)
    }
    #[getter]
    fn std_error<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.std_error.to_pyarray(py)
    }
    #[getter]
    fn vcov<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.vcov.to_pyarray(py)
    }
}

/// Gardner's two-stage DID on prepared columns (`event=False`: one static term).
#[pyfunction]
#[pyo3(signature = (y_name, y, unit, time, cohort, *, control_names, controls, cluster_name=None, cluster=None, valid=None, event, ref_periods, bin_lo=None, bin_hi=None, window=None, anticipation, level, conley=None))]
#[allow(clippy::too_many_arguments)]
fn did2s_fit<'py>(
    py: Python<'py>,
    y_name: String,
    y: PyReadonlyArray1<'py, f64>,
    unit: PyReadonlyArray1<'py, i64>,
    time: PyReadonlyArray1<'py, i64>,
    cohort: PyReadonlyArray1<'py, f64>,
    control_names: Vec<String>,
    controls: Vec<PyReadonlyArray1<'py, f64>>,
    cluster_name: Option<String>,
    cluster: Option<PyReadonlyArray1<'py, i64>>,
    valid: Option<PyReadonlyArray1<'py, bool>>,
    event: bool,
    ref_periods: Vec<i64>,
    bin_lo: Option<i64>,
    bin_hi: Option<i64>,
    window: Option<(i64, i64)>,
    anticipation: i64,
    level: f64,
    conley: Option<ConleyArgs<'py>>,
) -> PyResult<PyDid2s> {
    let cols = Columns {
        y_name,
        y,
        unit,
        time,
        cohort,
        control_names,
        controls,
        cluster_name,
        cluster,
        valid,
    };
    let data = cols.data()?;
    let spec = Did2sSpec {
        event: event.then(|| event_spec(ref_periods, bin_lo, bin_hi, window)),
        anticipation,
        conley: conley.as_ref().map(conley_request).transpose()?,
    };
    let r = run(py, || did2s(&data, &spec))?;
    let df = r.interval_df();
    let (conf_low, conf_high) = run(py, || conf_bounds(&r.estimate, &r.se, level, df))?;
    Ok(PyDid2s {
        conf_low,
        conf_high,
        terms: r.terms.clone(),
        event_time: r.event_time.clone(),
        estimate: r.estimate.clone(),
        std_error: r.se.clone(),
        vcov: r.vcov.clone(),
        n_obs_event_time: r.n_obs_term.clone(),
        nobs: r.nobs,
        n_untreated: r.n_untreated,
        n_missing: r.n_missing,
        n_not_imputable: r.n_not_imputable,
        n_outside_window: r.n_outside_window,
        n_clusters: r.n_clusters,
        collinear: r.collinear.clone(),
        ref_periods: r.ref_periods.clone(),
        fit: r,
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTwfeEventStudy>()?;
    m.add_class::<PyTwfeEventStudyInfo>()?;
    m.add_class::<PyImputation>()?;
    m.add_class::<PyDid2s>()?;
    m.add_function(wrap_pyfunction!(twfe_event_study_fit, m)?)?;
    m.add_function(wrap_pyfunction!(imputation_fit, m)?)?;
    m.add_function(wrap_pyfunction!(did2s_fit, m)?)?;
    Ok(())
}

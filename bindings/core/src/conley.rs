//! PyO3 binding of feols with a Conley spatial-HAC variance: `feols_conley_fit` -> `Feols`.
//! Same columns as `feols_fit`, plus coordinates, optional unit/time and the settings.

use numpy::PyReadonlyArray1;
use pyo3::prelude::*;

use super::{named, run, slice, PilotdidError, PyFeols};
use pilotdid_core::fe::DemeanSpec;
use pilotdid_core::inference::conley::ConleyKernel;
use pilotdid_core::linear::{feols, ConleyRequest, FeolsInput, FeolsSpec, VcovRequest};

fn conley_kernel(kernel: &str) -> PyResult<ConleyKernel> {
    match kernel {
        "bartlett" => Ok(ConleyKernel::Bartlett),
        "uniform" => Ok(ConleyKernel::Uniform),
        other => Err(PilotdidError::new_err(format!(
            "option vcov['conley']['kernel']: unknown kernel '{other}'; use 'bartlett' or \
             'uniform'"
        ))),
    }
}

/// The Conley settings the event-study bindings take: (lat, lon, cutoff_km, lag, kernel),
/// coordinates one per data row; unit and time are the estimator's own.
pub(super) type ConleyArgs<'py> = (
    PyReadonlyArray1<'py, f64>,
    PyReadonlyArray1<'py, f64>,
    f64,
    usize,
    String,
);

pub(super) fn conley_request(args: &ConleyArgs<'_>) -> PyResult<ConleyRequest> {
    let (lat, lon, cutoff_km, lag, kernel) = args;
    Ok(ConleyRequest {
        lat: slice(lat, "lat")?.to_vec(),
        lon: slice(lon, "lon")?.to_vec(),
        unit: None,
        time: None,
        cutoff_km: *cutoff_km,
        lag: *lag,
        kernel: conley_kernel(kernel)?,
    })
}

/// Fixed-effects OLS with Conley standard errors; see `pilotdid.feols(vcov={"conley": ...})`.
#[pyfunction]
#[pyo3(signature = (y_name, y, x_names, x, *, fe_names, fe, weights_name=None, weights=None, valid=None, lat, lon, unit=None, time=None, cutoff_km, lag, kernel, drop_singletons, tol, max_iter))]
#[allow(clippy::too_many_arguments)]
fn feols_conley_fit<'py>(
    py: Python<'py>,
    y_name: String,
    y: PyReadonlyArray1<'py, f64>,
    x_names: Vec<String>,
    x: Vec<PyReadonlyArray1<'py, f64>>,
    fe_names: Vec<String>,
    fe: Vec<PyReadonlyArray1<'py, i64>>,
    weights_name: Option<String>,
    weights: Option<PyReadonlyArray1<'py, f64>>,
    valid: Option<PyReadonlyArray1<'py, bool>>,
    lat: PyReadonlyArray1<'py, f64>,
    lon: PyReadonlyArray1<'py, f64>,
    unit: Option<PyReadonlyArray1<'py, i64>>,
    time: Option<PyReadonlyArray1<'py, i64>>,
    cutoff_km: f64,
    lag: usize,
    kernel: &str,
    drop_singletons: bool,
    tol: f64,
    max_iter: usize,
) -> PyResult<PyFeols> {
    let kernel = conley_kernel(kernel)?;
    let request = ConleyRequest {
        lat: slice(&lat, "lat")?.to_vec(),
        lon: slice(&lon, "lon")?.to_vec(),
        unit: unit
            .as_ref()
            .map(|u| slice(u, "unit").map(<[i64]>::to_vec))
            .transpose()?,
        time: time
            .as_ref()
            .map(|t| slice(t, "time").map(<[i64]>::to_vec))
            .transpose()?,
        cutoff_km,
        lag,
        kernel,
    };
    let input = FeolsInput {
        y: (y_name, slice(&y, "y")?),
        x: named(x_names, &x, "x")?,
        fe: named(fe_names, &fe, "fixed effect")?,
        clusters: Vec::new(),
        weights: match (weights_name, &weights) {
            (Some(n), Some(w)) => Some((n, slice(w, "weights")?)),
            _ => None,
        },
        valid: valid.as_ref().map(|v| slice(v, "valid")).transpose()?,
    };
    let spec = FeolsSpec {
        drop_singletons,
        vcov: VcovRequest::Conley(request),
        demean: DemeanSpec { tol, max_iter },
        ..FeolsSpec::default()
    };
    let fit = run(py, || feols(&input, &spec))?;
    Ok(PyFeols { fit, source: None })
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(feols_conley_fit, m)?)
}

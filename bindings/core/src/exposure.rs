//! PyO3 binding for exposure-clean group-time effects (Butts 2023): `exposure_att_gt_fit`
//! returns the same `AttGtCore` as `att_gt_fit`, so `AttGtCore.aggte` aggregates it.

use numpy::PyReadonlyArray1;
use pyo3::prelude::*;

use super::staggered::PyAttGt;
use super::{run, slice, to_py};
use pilotdid_core::did::exposure::{exposure_att_gt, ExposureControl, ExposureInput, ExposureSpec};
use pilotdid_core::inference::multiplier::{MultiplierSpec, MultiplierWeights};

/// ATT(g,t) against exposure-clean comparison units on a balanced grid; see
/// `pilotdid.exposure_did`.
#[pyfunction]
#[pyo3(signature = (periods, y, group, cohort, exposure, *, cluster=None, control_group, label, z_crit, bstrap, biters, cband, seed, alpha, weight_type="mammen"))]
#[allow(clippy::too_many_arguments)]
fn exposure_att_gt_fit<'py>(
    py: Python<'py>,
    periods: PyReadonlyArray1<'py, i64>,
    y: PyReadonlyArray1<'py, f64>,
    group: PyReadonlyArray1<'py, i64>,
    cohort: PyReadonlyArray1<'py, i64>,
    exposure: PyReadonlyArray1<'py, i64>,
    cluster: Option<PyReadonlyArray1<'py, u32>>,
    control_group: &str,
    label: String,
    z_crit: f64,
    bstrap: bool,
    biters: usize,
    cband: bool,
    seed: u64,
    alpha: f64,
    weight_type: &str,
) -> PyResult<PyAttGt> {
    let weights = MultiplierWeights::parse(weight_type).map_err(to_py)?;
    let spec = ExposureSpec {
        control: ExposureControl::parse(control_group).map_err(to_py)?,
        bootstrap: bstrap.then_some(MultiplierSpec {
            biters,
            weights,
            seed,
            alpha,
        }),
        cband,
        z_crit,
        label,
    };
    let input = ExposureInput {
        periods: slice(&periods, "periods")?,
        y: slice(&y, "y")?,
        group: slice(&group, "group")?,
        cohort: slice(&cohort, "cohort")?,
        exposure: slice(&exposure, "exposure")?,
        cluster: cluster.as_ref().map(|c| slice(c, "cluster")).transpose()?,
    };
    let fit = run(py, || exposure_att_gt(&input, &spec))?;
    Ok(PyAttGt { fit })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(exposure_att_gt_fit, m)?)?;
    Ok(())
}

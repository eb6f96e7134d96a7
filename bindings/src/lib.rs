//! The extension module `pilotdid._core`: every binding of pilotdid-core (crate
//! pilotdid-python-core, `bindings/core/`), plus the bindings of the families that call faer
//! (spatial models and weights, HonestDiD, continuous dose, PCA). No numerics here.
//!
//! Split for build time: pilotdid-python-core compiles beside faer; only the files here wait
//! for it (ARCHITECTURE.md, "Five Rust crates").

mod dose;
mod honest;
mod pca;
mod spatial;
mod spatial_dynamic;
mod weights;

use pyo3::prelude::*;

// The helpers the files here share with the core's bindings (`super::run` and the rest).
use pilotdid_python_core::{guarded, run, slice, to_py, PilotdidError};

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    pilotdid_python_core::register(m)?;
    weights::register(m)?;
    spatial::register(m)?;
    spatial_dynamic::register(m)?;
    honest::register(m)?;
    pca::register(m)?;
    dose::register(m)?;
    Ok(())
}

//! pilotdid: econometrics for evaluating pilot policies.
//!
//! This crate is the whole Rust library. It is two crates underneath, for build time:
//! - `pilotdid-core` (`core/`): fixed-effects OLS, the staggered DID suite, robustness,
//!   mediation, green productivity and the shared numerics. It does not depend on faer, so it
//!   compiles while faer does;
//! - this crate (`src/`): the families that use faer directly, [`spatial`] (spatial panel
//!   models, sparse log-determinants), [`did::honest`] (HonestDiD), [`did::dose`] (continuous
//!   dose) and [`green::pca`]. It re-exports every module of the core under its own path, so
//!   `pilotdid::linear`, `pilotdid::did::att_gt` and the rest are where they always were.
//!
//! `pilotdid-dense` (`dense/`) defines the three faer kernels the core calls (see
//! [`linalg`]); this crate links it.
//!
//! The PyO3 bindings are a separate crate, `bindings/` (pilotdid-python, the extension module
//! `pilotdid._core`); this crate is usable from Rust without Python.

pub use pilotdid_core::{
    alloc, error, fe, inference, interrupt, linalg, linear, mediation, ols, panel, rng, robust,
};
pub use pilotdid_core::{Error, Result};

// Linked for the kernels the core declares (nothing is called through this path).
use pilotdid_dense as _;

pub mod did {
    //! Difference-in-differences: every estimator of `pilotdid_core::did`, plus HonestDiD
    //! sensitivity ([`honest`]) and continuous-dose DID ([`dose`]), which use faer.
    pub use pilotdid_core::did::*;

    pub mod dose;
    mod dose_aggregate;
    mod dose_cells;
    mod dose_data;
    mod dose_df;
    mod dose_spline;
    pub mod honest;
}

pub mod green {
    //! Green-economy outcomes: everything in `pilotdid_core::green`, plus the PCA composite
    //! index ([`pca`]), which uses faer's symmetric eigendecomposition.
    pub use pilotdid_core::green::*;

    pub mod pca;
    pub use pca::{pca_index, ComponentWeights, PcaFit, PcaSpec, Select};
}

pub mod spatial;

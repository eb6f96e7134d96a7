//! Spatial econometrics: weights (CSR), log-determinants, spatial panel models (SAR, SDM) by
//! maximum likelihood, LeSage–Pace effects with inference, and Moran's I.
//!
//! Module dependencies (no cycles): `weights` ← `logdet` ← `sparse` ← `identification` ←
//! `spec` ← `panel` ← `likelihood` ← {`models` (SAR / SDM, the entry point), `error_models`
//! (SEM / SDEM), `sac`}; `models` dispatches to the other two. `effects` and `diagnostics`
//! read a fitted `spec::SpatialFit`; `identification` holds the LR interval of ρ / λ that
//! every model computes from its own concentrated likelihood.

pub mod contiguity;
pub mod diagnostics;
pub mod dynamic;
pub mod effects;
pub mod error_models;
pub mod identification;
pub mod kdtree;
pub mod likelihood;
pub mod logdet;
pub mod models;
pub mod moran;
pub mod panel;
pub mod sac;
pub mod sparse;
pub mod spec;
#[cfg(test)]
mod test_support;
pub mod weights;

pub use logdet::Spectrum;
pub use models::{
    spatial_panel, spatial_panel_ext, FeKind, Method, RhoSearch, SpatialExtra, SpatialFit,
    SpatialInput, SpatialKind, SpatialSpec, TraceSource,
};
pub use weights::Weights;

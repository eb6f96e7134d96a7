//! Spatial econometrics: weights (CSR), log-determinants, spatial panel models (SAR, SDM) by
//! maximum likelihood, LeSage–Pace effects with inference, and Moran's I.

pub mod contiguity;
pub mod diagnostics;
pub mod effects;
pub mod logdet;
pub mod models;
pub mod moran;
pub mod sac;
pub mod sparse;
pub mod weights;

pub use logdet::Spectrum;
pub use models::{
    spatial_panel, FeKind, Method, RhoSearch, SpatialFit, SpatialInput, SpatialKind, SpatialSpec,
    TraceSource,
};
pub use weights::Weights;

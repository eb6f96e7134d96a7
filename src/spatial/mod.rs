//! Spatial econometrics: weights (CSR), log-determinants, spatial panel models (SAR, SDM) by
//! maximum likelihood, LeSage–Pace effects with inference, and Moran's I.

pub mod diagnostics;
pub mod effects;
pub mod logdet;
pub mod models;
pub mod moran;
pub mod weights;

pub use logdet::Spectrum;
pub use models::{
    spatial_panel, FeKind, RhoSearch, SpatialFit, SpatialInput, SpatialKind, SpatialSpec,
};
pub use weights::Weights;

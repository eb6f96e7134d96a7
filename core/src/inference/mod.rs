//! Inference shared by every estimator: covariance matrices of (fixed-effects, weighted) OLS
//! coefficients with pyfixest-compatible small-sample corrections ([`mod@vcov`]), and the restricted
//! wild cluster bootstrap with test-inversion confidence intervals ([`wild_bootstrap`]).
//!
//! Both take the *transformed* regression: regressors and outcome with the absorbed fixed effects
//! partialled out and rows multiplied by sqrt(weight). They depend only on ndarray, rayon,
//! statrs, [`crate::rng`] (random streams) and [`crate::error`].

pub(crate) mod codes;
pub mod conley;
pub mod dist;
pub mod lincom;
pub mod multiplier;
pub mod policy;
pub mod t_table;
pub mod vcov;
pub mod wald;
pub mod wild_bootstrap;

pub use t_table::{t_table, CoefTable};
pub use vcov::{vcov, vcov_from_meat, FeInfo, StreamedMeat, VcovResult, VcovType};
pub use wald::{restriction_wald, wald_test, WaldTest};
pub use wild_bootstrap::{wild_cluster_bootstrap, BootWeights, WildBootResult, WildBootSpec};
pub mod mvn;

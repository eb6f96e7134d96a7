//! Mechanisms: three-step mediation (Baron–Kenny) with Sobel / Aroian / Goodman tests and a
//! cluster (unit-resampling) bootstrap of the indirect effect a·b; bootstrap intervals; the
//! permutation test of equal treatment effects across groups (heterogeneity).
//!
//! The point estimates are ordinary `feols` fits (the Python layer runs them); this module
//! holds the parts that are specific to mediation: the product-of-coefficients tests and the
//! bootstrap, in which every replicate re-draws whole clusters and refits both regressions,
//! re-demeaning on the resampled panel (a cluster drawn twice contributes two distinct levels
//! of every fixed effect nested in the cluster, e.g. the unit effect).

mod bootstrap;
mod heterogeneity;
mod indirect_tests;

pub use crate::inference::lincom::linear_combinations;
pub use bootstrap::{
    boot_from_draws, bootstrap_ci, bootstrap_indirect, bootstrap_indirect_range, BootInput,
    BootOutput, CiMethod,
};
pub use heterogeneity::{
    dispersion, heterogeneity_permutation, HeterogeneityInput, HeterogeneitySpec, HeterogeneityTest,
};
pub use indirect_tests::{indirect_tests, IndirectTests};

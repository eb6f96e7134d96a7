//! pilotdid-core: the estimators and shared numerics of pilotdid that need no decomposition
//! library at compile time.
//!
//! Layers (each uses only those below it):
//! - estimators by family: [`linear`] (fixed-effects OLS), [`did`] (staggered DID),
//!   [`robust`], [`mediation`], [`green`];
//! - shared numerics: [`fe`] (encoding, singletons, demeaning), [`ols`] (cross products,
//!   collinearity, normal equations), [`inference`] (variance matrices, wild and multiplier
//!   bootstraps), [`linalg`] (dense helpers, and the three faer kernels it calls);
//! - [`panel`]: unit/time codes, balance, cohorts;
//! - [`rng`]: random streams (seeded per replicate) and the draws made from them;
//! - [`error`]: the one error type; [`interrupt`] (cancellation tokens checked by long loops) and
//!   [`alloc`] (fallible allocation of user-sized buffers).
//!
//! Why a crate of its own: faer's front end compiles for ~35 s on one core, and nothing that
//! depends on faer can start before it ends. This crate does not depend on faer, so on a
//! two-core machine it compiles beside faer. It still uses faer for its three dense kernels
//! (Cholesky inverse, symmetric eigenvalues, GEMM), which `pilotdid-dense` defines and the
//! linker resolves (see [`linalg`]). The `pilotdid` crate re-exports every module here and adds
//! the families that use faer directly (spatial, HonestDiD, continuous dose, PCA).

pub mod alloc;
pub mod did;
pub mod error;
pub mod fe;
pub mod green;
pub mod inference;
pub mod interrupt;
pub mod linalg;
pub mod linear;
pub mod mediation;
pub mod ols;
pub mod panel;
pub mod rng;
pub mod robust;

pub use error::{Error, Result};

// The unit tests call the dense kernels, so their binaries link the crate that defines them.
#[cfg(test)]
use pilotdid_dense as _;

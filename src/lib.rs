//! pilotdid: econometrics for evaluating pilot policies.
//!
//! Layers (each uses only those below it):
//! - estimators by family: [`linear`] (fixed-effects OLS), later `did/`, `spatial/`, …;
//! - shared numerics: [`fe`] (encoding, singletons, demeaning), [`ols`] (cross products,
//!   collinearity, normal equations), [`inference`] (variance matrices, wild bootstrap),
//!   [`linalg`] (thin faer wrappers);
//! - [`panel`]: unit/time codes, balance, cohorts;
//! - [`rng`]: random streams (seeded per replicate) and the draws made from them;
//! - [`error`]: the one error type; [`interrupt`] (cancellation tokens checked by long loops) and
//!   [`alloc`] (fallible allocation of user-sized buffers).
//!
//! The PyO3 bindings are a separate crate, `bindings/` (pilotdid-python, the extension module
//! `pilotdid._core`); this crate is usable from Rust without Python.

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
pub mod spatial;

pub use error::{Error, Result};

//! Green-economy outcomes: SBM efficiency with undesirable outputs ([`sbm`]), the global and
//! contemporaneous Malmquist–Luenberger indices ([`malmquist`]), capital stock by perpetual
//! inventory ([`capital`]) and the entropy-weight composite index ([`entropy`]). The linear
//! programs are solved by the dense revised simplex in [`lp`].

pub mod capital;
pub mod entropy;
pub mod lp;
pub mod malmquist;
pub mod sbm;

pub use capital::{capital_stock, InitialStock, PimFit, PimSpec};
pub use entropy::{entropy_index, EntropyFit};
pub use lp::{Lp, LpSolution, LpStatus};
pub use malmquist::{malmquist, MlFit, MlSpec, MlStatus};
pub use sbm::{sbm, DeaData, Eval, Frontier, Model, OutputWeights, RefSet, Rts, SbmFit, SbmSpec};

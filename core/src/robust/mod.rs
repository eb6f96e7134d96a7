//! Robustness: placebo / randomization inference ([`placebo`]), and propensity-score matching
//! DID: the logit propensity score ([`crate::linalg::logit`]) and matching with a balance table
//! ([`psm`]).

pub mod placebo;
pub mod psm;

pub use crate::linalg::logit::{logit, LogitFit};
pub use placebo::{randomization_pvalue, Placebo, PlaceboData, PlaceboScheme};
pub use psm::{balance, match_scores, BalanceRow, Kernel, MatchMethod, Matching};

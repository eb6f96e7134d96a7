//! Linear regression estimators.

mod feols;
mod feols_lean;
mod wild;

pub use feols::{ConleyRequest, FeolsFit, FeolsInput, FeolsSpec, VcovRequest};

use crate::error::Result;

/// Fixed-effects OLS of `y` on `x`, absorbing `fe`. Without fixed effects, the caller adds an
/// intercept column if one is wanted. Large two-way fits take the lean path when it applies
/// (`feols_lean.rs`, from `spec.lean_min_rows` rows), all others the general one (`feols.rs`).
pub fn feols(input: &FeolsInput, spec: &FeolsSpec) -> Result<FeolsFit> {
    let mut clock = feols::PhaseClock::new();
    feols::check_input(input)?;
    if let Some(fit) = feols_lean::fit(input, spec, &mut clock)? {
        return Ok(fit);
    }
    feols::fit_general(input, spec, clock)
}
pub use wild::{WildBoot, MAX_DUMMY_CELLS};

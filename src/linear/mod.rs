//! Linear regression estimators.

mod feols;
mod wild;

pub use feols::{feols, ConleyRequest, FeolsFit, FeolsInput, FeolsSpec, VcovRequest};
pub use wild::{WildBoot, MAX_DUMMY_CELLS};

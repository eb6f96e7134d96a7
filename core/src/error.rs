//! The crate's one error type. Every public function returns `Result<_, Error>`; variants carry
//! what a user needs to fix the input (the column, value or option at fault).

use thiserror::Error as ThisError;

#[derive(Debug, Clone, PartialEq, ThisError)]
pub enum Error {
    /// A column (regressor, outcome, id, weight) is unusable.
    #[error("column '{name}': {reason}")]
    Column { name: String, reason: String },
    /// An option has a value we cannot use.
    #[error("option '{name}': {reason}")]
    Option { name: String, reason: String },
    /// Array lengths or shapes disagree.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// Nothing left to estimate on (no rows, no regressors, no degrees of freedom).
    #[error("{0}")]
    Empty(String),
    /// Treatment turns off for a unit while `allow_switch_off` is false.
    #[error("treatment switches off for unit '{unit}' at time {time}: pass allow_switch_off=True if reversible treatment is intended")]
    TreatmentSwitchesOff { unit: String, time: String },
    /// A linear-algebra step failed (singular matrix that should not be).
    #[error("numerical failure: {0}")]
    Numerical(String),
    /// A buffer could not be allocated (Python `MemoryError`): `what` it was for and its size.
    #[error("out of memory: {what} needs {gb:.2} GB", gb = *bytes as f64 / 1e9)]
    OutOfMemory { what: String, bytes: u64 },
    /// A bug (a caught panic): never expected.
    #[error("internal error in pilotdid (please report it): {0}")]
    Internal(String),
    /// The computation was cancelled (Ctrl-C; see `crate::interrupt`).
    #[error("interrupted")]
    Interrupted,
}

pub type Result<T> = std::result::Result<T, Error>;

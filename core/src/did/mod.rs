//! Difference-in-differences estimators for staggered adoption.
//!
//! - `att_gt`, `aggte`: Callaway & Sant'Anna (2021) group-time ATTs and their aggregations
//!   (`drdid`: the 2×2 estimators of one cell, Sant'Anna & Zhao 2020);
//! - `event_study`: TWFE event study (leads and lags around each unit's cohort);
//! - `sun_abraham`: Sun & Abraham (2021) interaction-weighted event study;
//! - `imputation`: Borusyak, Jaravel & Spiess (2024) imputation; `did2s`: Gardner (2022);
//! - `bacon`: Goodman-Bacon (2021) decomposition of the TWFE coefficient.

pub mod aggte;
pub mod att_gt;
pub mod bacon;
pub mod dcdh;
pub mod dcdh_boot;
mod dcdh_controls;
mod dcdh_data;
pub mod ddd;
mod ddd_data;
pub mod did2s;
mod drdid;
pub mod event_study;
pub mod exposure;
pub mod imputation;
pub mod pretrend_power;
pub mod sun_abraham;
pub mod synthdid;

//! Joint Wald tests of several coefficients = 0, in chi-square and F forms.

use ndarray::{Array2, ArrayView1};
use statrs::distribution::{ChiSquared, ContinuousCDF, FisherSnedecor};

use crate::error::{Error, Result};
use crate::linalg::spd_inverse;

/// A joint Wald test of several coefficients = 0.
#[derive(Debug, Clone, PartialEq)]
pub struct WaldTest {
    /// Labels of the tested coefficients (event times in an event study).
    pub event_time: Vec<i64>,
    /// W = b'V⁻¹b.
    pub chi2: f64,
    pub p_chi2: f64,
    /// F = W/q with q = number of restrictions.
    pub f: f64,
    pub df1: usize,
    pub df2: usize,
    pub p_f: f64,
}

/// Wald test of `beta = 0` with covariance `v`; `df2` for the F form.
pub fn wald_test(
    event_time: Vec<i64>,
    beta: ArrayView1<f64>,
    v: &Array2<f64>,
    df2: usize,
) -> Result<WaldTest> {
    let q = beta.len();
    if q == 0 {
        return Err(Error::Empty("Wald test: no coefficients to test".into()));
    }
    let vinv = spd_inverse(v.view()).map_err(|_| {
        Error::Numerical("Wald test: the covariance of the tested coefficients is singular".into())
    })?;
    let w = beta.dot(&vinv.dot(&beta));
    if !w.is_finite() {
        return Err(Error::Numerical(
            "Wald test: the statistic is not finite".into(),
        ));
    }
    let chi = ChiSquared::new(q as f64)
        .map_err(|e| Error::Numerical(format!("chi-squared with {q} df: {e}")))?;
    let f = w / q as f64;
    let fd = FisherSnedecor::new(q as f64, df2.max(1) as f64)
        .map_err(|e| Error::Numerical(format!("F({q}, {df2}): {e}")))?;
    Ok(WaldTest {
        event_time,
        chi2: w,
        p_chi2: 1.0 - chi.cdf(w),
        f,
        df1: q,
        df2,
        p_f: 1.0 - fd.cdf(f),
    })
}

/// Wald test of the linear restrictions `R beta = 0`: the test of `R beta` with covariance
/// `R V R'` (heterogeneity's equal-effects test). Shapes are checked.
pub fn restriction_wald(
    beta: ArrayView1<f64>,
    v: ndarray::ArrayView2<f64>,
    r: ndarray::ArrayView2<f64>,
    df2: usize,
) -> Result<WaldTest> {
    if r.ncols() != beta.len() || v.dim() != (beta.len(), beta.len()) {
        return Err(Error::Shape(
            "restriction matrix, coefficients and vcov disagree".into(),
        ));
    }
    let rb = r.dot(&beta);
    let rv = r.dot(&v).dot(&r.t());
    wald_test(vec![], rb.view(), &rv, df2)
}

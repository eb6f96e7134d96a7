//! Linear combinations of coefficients (marginal effects of an interacted treatment):
//! estimate L·β, delta-method se sqrt(diag(L V Lᵀ)), t statistics with the fit's degrees of
//! freedom, two-sided p-values and confidence intervals.

use ndarray::{Array2, ArrayView1, ArrayView2};

use super::dist::{students_t, t_cdf, t_quantile};
use crate::error::{Error, Result};

/// Columns: estimate, se, t, p, low, high (one row per row of `l`).
pub fn linear_combinations(
    beta: ArrayView1<f64>,
    vcov: ArrayView2<f64>,
    l: ArrayView2<f64>,
    df: usize,
    level: f64,
) -> Result<Array2<f64>> {
    let k = beta.len();
    if vcov.dim() != (k, k) || l.ncols() != k {
        return Err(Error::Shape(format!(
            "coefficients {k}, vcov {:?}, combinations {:?}",
            vcov.dim(),
            l.dim()
        )));
    }
    if !(level > 0.0 && level < 1.0) {
        return Err(Error::Option {
            name: "level".into(),
            reason: format!("{level} is not in (0, 1)"),
        });
    }
    if df == 0 {
        return Err(Error::Empty("no residual degrees of freedom".into()));
    }
    let t = students_t(df as f64, "linear combination")?;
    let crit = t_quantile(&t, 1.0 - (1.0 - level) / 2.0, "level")?;
    let mut out = Array2::zeros((l.nrows(), 6));
    for (i, row) in l.rows().into_iter().enumerate() {
        let est = row.dot(&beta);
        let var = row.dot(&vcov.dot(&row));
        let se = var.max(0.0).sqrt();
        let stat = est / se;
        out[[i, 0]] = est;
        out[[i, 1]] = se;
        out[[i, 2]] = stat;
        out[[i, 3]] = 2.0 * t_cdf(&t, -stat.abs());
        out[[i, 4]] = est - crit * se;
        out[[i, 5]] = est + crit * se;
    }
    Ok(out)
}

//! The inference policy every result's table follows at a chosen level: the statistic, the
//! two-sided p-value and the interval of each estimate, from Student's t when the estimator
//! has degrees of freedom and from the normal otherwise.
//!
//! The numbers are bit for bit those the Python layer computed before they moved here
//! (`inference_columns` of `results/event_study.py`), so that no recorded result moves:
//! - [`normal_quantile`] is Wichura's AS241 in the operation order of CPython 3.11's
//!   `statistics.NormalDist().inv_cdf` (its C accelerator `_statistics._normal_dist_inv_cdf`
//!   has the same order);
//! - [`erfc`] is the C library's `erfc`, which CPython's `math.erfc` calls (glibc's libm: part
//!   of the C runtime every Python already loads, so the wheel needs no extra library);
//! - [`normal_pvalue`] is `math.erfc(abs(z) / math.sqrt(2.0))`, NaN for a non-finite z;
//! - with degrees of freedom, [`coef_table`] gives what `linear_combinations` returned for
//!   the estimates, a diagonal covariance diag(se²) and the identity combination matrix, row
//!   by row in O(1) instead of the O(k³) matrix products (see `coef_table_t`).

use super::dist::{students_t, t_cdf, t_quantile};
use crate::error::{Error, Result};

pub use super::t_table::CoefTable;

mod libm {
    extern "C" {
        pub fn erfc(x: f64) -> f64;
    }
}

/// The complementary error function of the C library (what Python's `math.erfc` returns).
pub fn erfc(x: f64) -> f64 {
    // SAFETY: `erfc` is a pure C function of one double (C99 <math.h>), defined for every
    // input (NaN and ±inf included); it touches no memory of ours.
    unsafe { libm::erfc(x) }
}

/// The standard normal quantile at `p` in (0, 1), as CPython 3.11's
/// `statistics.NormalDist().inv_cdf(p)` (Wichura 1988, AS241, PPND16), bit for bit. NaN gives
/// NaN (as in Python); p <= 0 or p >= 1 is an error. The coefficients are CPython's digits.
#[allow(clippy::excessive_precision)]
pub fn normal_quantile(p: f64) -> Result<f64> {
    if p <= 0.0 || p >= 1.0 {
        return Err(Error::Option {
            name: "p".into(),
            reason: format!("{p} is not in the range 0.0 < p < 1.0"),
        });
    }
    // Python's `mu + (x * sigma)` with mu = 0, sigma = 1 (kept: it turns -0.0 into 0.0).
    let (mu, sigma) = (0.0, 1.0);
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        let num = (((((((2.5090809287301226727e+3 * r + 3.3430575583588128105e+4) * r
            + 6.7265770927008700853e+4)
            * r
            + 4.5921953931549871457e+4)
            * r
            + 1.3731693765509461125e+4)
            * r
            + 1.9715909503065514427e+3)
            * r
            + 1.3314166789178437745e+2)
            * r
            + 3.3871328727963666080e+0)
            * q;
        let den = ((((((5.2264952788528545610e+3 * r + 2.8729085735721942674e+4) * r
            + 3.9307895800092710610e+4)
            * r
            + 2.1213794301586595867e+4)
            * r
            + 5.3941960214247511077e+3)
            * r
            + 6.8718700749205790830e+2)
            * r
            + 4.2313330701600911252e+1)
            * r
            + 1.0;
        let x = num / den;
        return Ok(mu + (x * sigma));
    }
    let r = if q <= 0.0 { p } else { 1.0 - p };
    let mut r = (-r.ln()).sqrt();
    let (num, den);
    if r <= 5.0 {
        r -= 1.6;
        num = ((((((7.74545014278341407640e-4 * r + 2.27238449892691845833e-2) * r
            + 2.41780725177450611770e-1)
            * r
            + 1.27045825245236838258e+0)
            * r
            + 3.64784832476320460504e+0)
            * r
            + 5.76949722146069140550e+0)
            * r
            + 4.63033784615654529590e+0)
            * r
            + 1.42343711074968357734e+0;
        den = ((((((1.05075007164441684324e-9 * r + 5.47593808499534494600e-4) * r
            + 1.51986665636164571966e-2)
            * r
            + 1.48103976427480074590e-1)
            * r
            + 6.89767334985100004550e-1)
            * r
            + 1.67638483018380384940e+0)
            * r
            + 2.05319162663775882187e+0)
            * r
            + 1.0;
    } else {
        r -= 5.0;
        num = ((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r
            + 1.24266094738807843860e-3)
            * r
            + 2.65321895265761230930e-2)
            * r
            + 2.96560571828504891230e-1)
            * r
            + 1.78482653991729133580e+0)
            * r
            + 5.46378491116411436990e+0)
            * r
            + 6.65790464350110377720e+0;
        den = ((((((2.04426310338993978564e-15 * r + 1.42151175831644588870e-7) * r
            + 1.84631831751005468180e-5)
            * r
            + 7.86869131145613259100e-4)
            * r
            + 1.48753612908506148525e-2)
            * r
            + 1.36929880922735805310e-1)
            * r
            + 5.99832206555887937690e-1)
            * r
            + 1.0;
    }
    let mut x = num / den;
    if q < 0.0 {
        x = -x;
    }
    Ok(mu + (x * sigma))
}

/// The two-sided normal critical value at `level`: the quantile at 0.5 + level/2.
pub fn normal_critical(level: f64) -> Result<f64> {
    let p = 0.5 + level / 2.0;
    normal_quantile(p).map_err(|_| Error::Option {
        name: "level".into(),
        reason: format!("{level} puts the quantile at {p}, outside (0, 1)"),
    })
}

/// Two-sided normal p-value of the statistic `z`, erfc(|z|/√2); NaN when `z` is not finite.
pub fn normal_pvalue(z: f64) -> f64 {
    if z.is_finite() {
        erfc(z.abs() / 2f64.sqrt())
    } else {
        f64::NAN
    }
}

/// Statistic, two-sided p-value and interval at `level` for each estimate: Student's t with
/// `df` degrees of freedom when `df` is given and positive, the normal otherwise. Rows without
/// a finite estimate and a finite positive standard error get NaN; with no such row at all the
/// table is all NaN (and `level` is not checked).
pub fn coef_table(
    estimate: &[f64],
    std_error: &[f64],
    level: f64,
    df: Option<usize>,
) -> Result<CoefTable> {
    if estimate.len() != std_error.len() {
        return Err(Error::Shape(format!(
            "{} estimates and {} standard errors",
            estimate.len(),
            std_error.len()
        )));
    }
    let n = estimate.len();
    let mut table = CoefTable {
        statistic: vec![f64::NAN; n],
        p_value: vec![f64::NAN; n],
        conf_low: vec![f64::NAN; n],
        conf_high: vec![f64::NAN; n],
    };
    let ok: Vec<usize> = (0..n)
        .filter(|&i| estimate[i].is_finite() && std_error[i].is_finite() && std_error[i] > 0.0)
        .collect();
    if ok.is_empty() {
        return Ok(table);
    }
    match df {
        Some(df) if df > 0 => coef_table_t(estimate, std_error, &ok, level, df, &mut table)?,
        _ => {
            let z = normal_critical(level)?;
            let sqrt2 = 2f64.sqrt();
            for &i in &ok {
                let (est, se) = (estimate[i], std_error[i]);
                let stat = est / se;
                table.statistic[i] = stat;
                table.p_value[i] = erfc(stat.abs() / sqrt2);
                table.conf_low[i] = est - z * se;
                table.conf_high[i] = est + z * se;
            }
        }
    }
    Ok(table)
}

/// `coef_table` with one degrees-of-freedom value per row (fractional, e.g. Satterthwaite's):
/// rows with a finite positive `df` get Student's t with it, the others (∞, NaN) the normal
/// rows of `coef_table(.., None)` bit for bit.
pub fn coef_table_row_df(
    estimate: &[f64],
    std_error: &[f64],
    level: f64,
    df: &[f64],
) -> Result<CoefTable> {
    if df.len() != estimate.len() {
        return Err(Error::Shape(format!(
            "{} estimates and {} degrees of freedom",
            estimate.len(),
            df.len()
        )));
    }
    let mut table = coef_table(estimate, std_error, level, None)?;
    for (i, &nu) in df.iter().enumerate() {
        if !(nu.is_finite() && nu > 0.0 && table.statistic[i].is_finite()) {
            continue;
        }
        let t = students_t(nu, "degrees of freedom")?;
        let crit = t_quantile(&t, 1.0 - (1.0 - level) / 2.0, "level")?;
        let (est, se) = (estimate[i], std_error[i]);
        table.p_value[i] = 2.0 * t_cdf(&t, -table.statistic[i].abs());
        table.conf_low[i] = est - crit * se;
        table.conf_high[i] = est + crit * se;
    }
    Ok(table)
}

/// The Student-t rows: what `linear_combinations(est[ok], diag(se[ok]²), I, df, level)`
/// returns, computed per row. Its arithmetic on that input, term by term: L·β sums zeros and
/// one estimate from +0.0, so the estimate comes back with a zero's sign made positive;
/// L V Lᵀ sums zeros and one se², except that an se² that overflowed to +inf in another row
/// gives that row's 0·inf = NaN; `max(NaN, 0) = 0` then makes the standard error 0.
fn coef_table_t(
    estimate: &[f64],
    std_error: &[f64],
    ok: &[usize],
    level: f64,
    df: usize,
    table: &mut CoefTable,
) -> Result<()> {
    if !(level > 0.0 && level < 1.0) {
        return Err(Error::Option {
            name: "level".into(),
            reason: format!("{level} is not in (0, 1)"),
        });
    }
    let t = students_t(df as f64, "linear combination")?;
    let crit = t_quantile(&t, 1.0 - (1.0 - level) / 2.0, "level")?;
    let variance = |i: usize| std_error[i] * std_error[i];
    let n_infinite = ok.iter().filter(|&&i| variance(i).is_infinite()).count();
    for &i in ok {
        let est = if estimate[i] == 0.0 { 0.0 } else { estimate[i] };
        let own = variance(i);
        let others_infinite = n_infinite - usize::from(own.is_infinite());
        let var = if others_infinite > 0 { f64::NAN } else { own };
        let se = var.max(0.0).sqrt();
        let stat = est / se;
        table.statistic[i] = stat;
        table.p_value[i] = 2.0 * t_cdf(&t, -stat.abs());
        table.conf_low[i] = est - crit * se;
        table.conf_high[i] = est + crit * se;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inference::lincom::linear_combinations;
    use crate::rng;
    use ndarray::{Array1, Array2};

    #[test]
    fn normal_quantile_known_values() {
        assert_eq!(normal_quantile(0.5).unwrap(), 0.0);
        assert!((normal_quantile(0.975).unwrap() - 1.959_963_984_540_054).abs() < 1e-15);
        // Python 3.11: NormalDist().inv_cdf(1e-300) = -37.0470962993612.
        assert!((normal_quantile(1e-300).unwrap() + 37.047_096_299_361_2).abs() < 1e-12);
        assert!(normal_quantile(f64::NAN).unwrap().is_nan());
        assert!(normal_quantile(0.0).is_err() && normal_quantile(1.0).is_err());
        assert!(normal_critical(1.0).is_err());
        assert_eq!(erfc(0.0), 1.0);
        assert_eq!(erfc(f64::INFINITY), 0.0);
        assert!(erfc(f64::NAN).is_nan());
        assert_eq!(normal_pvalue(0.0), 1.0);
        assert!(normal_pvalue(f64::INFINITY).is_nan() && normal_pvalue(f64::NAN).is_nan());
    }

    /// The per-row Student-t table equals `linear_combinations` on the dense diagonal input,
    /// bit for bit, also with signed zeros and standard errors whose square overflows or
    /// underflows.
    #[test]
    fn t_rows_equal_linear_combinations() {
        let mut g = rng::stream(11, 0);
        for case in 0..300 {
            let k = 1 + rng::below(&mut g, 9);
            let mut est: Vec<f64> = (0..k).map(|_| rng::standard_normal(&mut g)).collect();
            let mut se: Vec<f64> = (0..k)
                .map(|_| rng::standard_normal(&mut g).abs() + 0.01)
                .collect();
            match case % 6 {
                1 => est[0] = -0.0,
                2 => se[rng::below(&mut g, k as u64)] = 1e200,
                3 => se[0] = 1e-200,
                4 => {
                    se[0] = 1e300;
                    se[k - 1] = 1e250;
                }
                5 => est[k - 1] = 0.0,
                _ => {}
            }
            let df = 1 + rng::below(&mut g, 50);
            let level = 0.5 + 0.49 * (case as f64 / 300.0);
            let got = coef_table(&est, &se, level, Some(df)).unwrap();
            let v = Array2::from_diag(&Array1::from_iter(se.iter().map(|s| s * s)));
            let lc = linear_combinations(
                Array1::from(est.clone()).view(),
                v.view(),
                Array2::eye(k).view(),
                df,
                level,
            )
            .unwrap();
            for i in 0..k {
                let want = [lc[[i, 2]], lc[[i, 3]], lc[[i, 4]], lc[[i, 5]]];
                let have = [
                    got.statistic[i],
                    got.p_value[i],
                    got.conf_low[i],
                    got.conf_high[i],
                ];
                for (a, b) in have.iter().zip(&want) {
                    assert!(
                        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                        "case {case} row {i}: {a:e} vs {b:e}"
                    );
                }
            }
        }
    }

    /// Per-row df: an integer df row equals `coef_table(.., Some(df))`'s, an infinite or NaN
    /// df row the normal table's, bit for bit.
    #[test]
    fn row_df_table_equals_the_t_and_normal_tables() {
        let est = [0.3, -1.2, 2.5, 0.0];
        let se = [0.1, 0.7, 1.1, 0.4];
        let df = [3.0, f64::INFINITY, 12.0, f64::NAN];
        let got = coef_table_row_df(&est, &se, 0.9, &df).unwrap();
        let normal = coef_table(&est, &se, 0.9, None).unwrap();
        for (i, &nu) in df.iter().enumerate() {
            let want = if nu.is_finite() {
                coef_table(&est, &se, 0.9, Some(nu as usize)).unwrap()
            } else {
                normal.clone()
            };
            let have = [
                got.statistic[i],
                got.p_value[i],
                got.conf_low[i],
                got.conf_high[i],
            ];
            let want = [
                want.statistic[i],
                want.p_value[i],
                want.conf_low[i],
                want.conf_high[i],
            ];
            for (a, b) in have.iter().zip(&want) {
                assert_eq!(a.to_bits(), b.to_bits(), "row {i}");
            }
        }
        assert!(coef_table_row_df(&est, &se, 0.9, &df[..2]).is_err());
    }

    #[test]
    fn rows_without_a_positive_se_are_nan() {
        let t = coef_table(&[1.0, 2.0, f64::NAN], &[0.0, -1.0, 1.0], 0.95, None).unwrap();
        assert!(t.statistic.iter().all(|v| v.is_nan()));
        // No usable row: the level is not even looked at (as the Python code did).
        assert!(coef_table(&[1.0], &[f64::NAN], 7.0, Some(3)).is_ok());
        assert!(coef_table(&[1.0], &[1.0], 1.5, Some(3)).is_err());
        assert!(coef_table(&[1.0], &[1.0, 2.0], 0.9, None).is_err());
    }
}

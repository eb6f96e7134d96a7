//! Student-t inference for a vector of estimates: statistics, two-sided p-values and
//! confidence bounds (as fixest and pyfixest report them).

use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct CoefTable {
    pub statistic: Vec<f64>,
    pub p_value: Vec<f64>,
    pub conf_low: Vec<f64>,
    pub conf_high: Vec<f64>,
}

/// `df` residual degrees of freedom (values below 1 are raised to 1); `level` in (0, 1).
pub fn t_table(estimate: &[f64], std_error: &[f64], df: f64, level: f64) -> Result<CoefTable> {
    if !(level > 0.0 && level < 1.0) {
        return Err(Error::Option {
            name: "level".into(),
            reason: format!("must be strictly between 0 and 1, got {level}"),
        });
    }
    if estimate.len() != std_error.len() {
        return Err(Error::Shape(format!(
            "{} estimates and {} standard errors",
            estimate.len(),
            std_error.len()
        )));
    }
    let df = df.max(1.0);
    let t = StudentsT::new(0.0, 1.0, df)
        .map_err(|e| Error::Numerical(format!("Student t with {df} df: {e}")))?;
    let crit = t.inverse_cdf(0.5 + level / 2.0);
    let statistic: Vec<f64> = estimate.iter().zip(std_error).map(|(b, s)| b / s).collect();
    // statrs panics on NaN: a NaN statistic (e.g. a non-PSD two-way variance) gets a NaN p.
    let p_value = statistic
        .iter()
        .map(|z| match z {
            z if z.is_nan() => f64::NAN,
            z if z.is_infinite() => 0.0,
            z => 2.0 * (1.0 - t.cdf(z.abs())),
        })
        .collect();
    let bound = |sign: f64| -> Vec<f64> {
        estimate
            .iter()
            .zip(std_error)
            .map(|(b, s)| b + sign * crit * s)
            .collect()
    };
    Ok(CoefTable {
        statistic,
        p_value,
        conf_low: bound(-1.0),
        conf_high: bound(1.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_standard_error_gives_nan_p_value() {
        let t = t_table(&[1.0, 2.0], &[f64::NAN, 1.0], 10.0, 0.95).unwrap();
        assert!(t.p_value[0].is_nan());
        // t = 2 with 10 df: two-sided p = 0.07339 (tables).
        assert!((t.p_value[1] - 0.073_388).abs() < 1e-5);
        assert!((t.conf_high[1] - (2.0 + 2.228_138_85)).abs() < 1e-6);
    }

    #[test]
    fn bad_level_is_an_error() {
        assert!(t_table(&[1.0], &[1.0], 5.0, 1.5).is_err());
    }
}

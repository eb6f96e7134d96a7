//! Range-checked use of statrs: its quantile functions panic outside [0, 1] ("x must be in
//! [0, 1]") and its Student-t / F distribution functions panic on a NaN argument (an
//! `unwrap()` on `XOutOfRange` inside the incomplete beta function). Every call whose argument
//! a user can influence goes through here, so a bad option becomes an error naming it and a
//! NaN statistic gets a NaN p-value.

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

use crate::error::{Error, Result};

/// `p` if it is a probability in [0, 1]; otherwise an error naming `option`.
pub fn probability(p: f64, option: &str) -> Result<f64> {
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(Error::Option {
            name: option.into(),
            reason: format!("implies a probability {p} outside [0, 1]"),
        })
    }
}

/// The standard normal quantile at `p`, checked (`option` names the user's setting behind p).
pub fn normal_quantile(p: f64, option: &str) -> Result<f64> {
    let p = probability(p, option)?;
    Ok(Normal::standard().inverse_cdf(p))
}

/// Student's t with `df` degrees of freedom (df > 0; +inf is the normal), checked.
pub fn students_t(df: f64, what: &str) -> Result<StudentsT> {
    if df.is_nan() || df <= 0.0 {
        return Err(Error::Numerical(format!(
            "{what}: Student t needs positive degrees of freedom, got {df}"
        )));
    }
    StudentsT::new(0.0, 1.0, df)
        .map_err(|e| Error::Numerical(format!("{what}: Student t with {df} df: {e}")))
}

/// The quantile of `t` at `p`, checked.
pub fn t_quantile(t: &StudentsT, p: f64, option: &str) -> Result<f64> {
    let p = probability(p, option)?;
    Ok(t.inverse_cdf(p))
}

/// P(T <= x); NaN for a NaN `x` (statrs would panic).
pub fn t_cdf(t: &StudentsT, x: f64) -> f64 {
    if x.is_nan() {
        f64::NAN
    } else {
        t.cdf(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_arguments_are_errors_or_nan_not_panics() {
        let e = normal_quantile(1.25, "alp").unwrap_err();
        assert!(e.to_string().contains("option 'alp'"), "{e}");
        assert!(normal_quantile(f64::NAN, "level").is_err());
        assert!(students_t(0.0, "lincom").is_err());
        assert!(students_t(f64::NAN, "lincom").is_err());
        let t = students_t(5.0, "lincom").unwrap();
        assert!(t_cdf(&t, f64::NAN).is_nan());
        assert!(t_quantile(&t, -0.1, "level").is_err());
        assert_eq!(
            normal_quantile(0.975, "level").unwrap(),
            Normal::standard().inverse_cdf(0.975)
        );
    }
}

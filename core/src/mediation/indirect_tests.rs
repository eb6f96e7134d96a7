//! Product-of-coefficients tests of the indirect effect a·b (Sobel 1982; Aroian 1944;
//! Goodman 1960), as in MacKinnon et al. (2002), "A comparison of methods to test mediation".

use statrs::distribution::{ContinuousCDF, Normal};

use crate::error::{Error, Result};

/// z statistics and two-sided normal p-values; `goodman_*` is NaN when its variance
/// (b²σa² + a²σb² − σa²σb²) is not positive (`goodman_defined` says so).
#[derive(Debug, Clone, PartialEq)]
pub struct IndirectTests {
    pub indirect: f64,
    pub sobel_se: f64,
    pub sobel_z: f64,
    pub sobel_p: f64,
    pub aroian_se: f64,
    pub aroian_z: f64,
    pub aroian_p: f64,
    pub goodman_defined: bool,
    pub goodman_se: f64,
    pub goodman_z: f64,
    pub goodman_p: f64,
}

fn two_sided(z: f64) -> Result<f64> {
    let n = Normal::new(0.0, 1.0).map_err(|e| Error::Numerical(e.to_string()))?;
    Ok(2.0 * n.cdf(-z.abs()))
}

/// Sobel: se² = b²σa² + a²σb²; Aroian adds σa²σb²; Goodman subtracts it.
pub fn indirect_tests(a: f64, se_a: f64, b: f64, se_b: f64) -> Result<IndirectTests> {
    for (name, v) in [("a", a), ("se_a", se_a), ("b", b), ("se_b", se_b)] {
        if !v.is_finite() {
            return Err(Error::Option {
                name: name.into(),
                reason: format!("{v} is not finite"),
            });
        }
    }
    if se_a < 0.0 || se_b < 0.0 {
        return Err(Error::Option {
            name: "se".into(),
            reason: "standard errors must be non-negative".into(),
        });
    }
    let ab = a * b;
    let base = b * b * se_a * se_a + a * a * se_b * se_b;
    let prod = se_a * se_a * se_b * se_b;
    let sobel_se = base.sqrt();
    let aroian_se = (base + prod).sqrt();
    let gv = base - prod;
    let goodman_defined = gv > 0.0;
    let goodman_se = if goodman_defined { gv.sqrt() } else { f64::NAN };
    let sobel_z = ab / sobel_se;
    let aroian_z = ab / aroian_se;
    let goodman_z = ab / goodman_se;
    Ok(IndirectTests {
        indirect: ab,
        sobel_se,
        sobel_z,
        sobel_p: two_sided(sobel_z)?,
        aroian_se,
        aroian_z,
        aroian_p: two_sided(aroian_z)?,
        goodman_defined,
        goodman_se,
        goodman_z,
        goodman_p: if goodman_defined {
            two_sided(goodman_z)?
        } else {
            f64::NAN
        },
    })
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn sobel_identity() {
        // a=0.5 (se .1), b=0.4 (se .1): se = sqrt(.16*.01 + .25*.01) = sqrt(.0041)
        let t = indirect_tests(0.5, 0.1, 0.4, 0.1).unwrap();
        assert!((t.sobel_se - 0.0041f64.sqrt()).abs() < 1e-15);
        assert!((t.aroian_se - 0.0042f64.sqrt()).abs() < 1e-15);
        assert!((t.goodman_se - 0.0040f64.sqrt()).abs() < 1e-15);
        assert!(t.sobel_p > 0.001 && t.sobel_p < 0.002);
    }
}

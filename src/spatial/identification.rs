//! How well the data pin down a spatial parameter: the likelihood-ratio (profile-likelihood)
//! interval {r : 2(ℓ(r̂) − ℓ_c(r)) ≤ χ²₁(level)} of ρ or λ, with ℓ_c the concentrated
//! log-likelihood the estimator maximises (β and σ² concentrated out, the same fixed effects
//! and Lee–Yu dimensions; for SAC the other spatial parameter is profiled out as well), and a
//! weak-identification rule read from it.
//!
//! Why an LR interval: near the bound of the admissible interval, or when W's lag is nearly
//! collinear with the fixed effects (a dense, near-uniform W with time effects), the
//! likelihood in ρ is flat and skewed, the information-matrix SE understates the uncertainty
//! and the Wald interval can leave the admissible range. The LR interval follows the
//! likelihood itself and stops at the bound.
//!
//! Each side is found by scanning from the estimate towards the bound (16 equal steps) until
//! the LR statistic exceeds the critical value, then Brent's root finder on that bracket
//! (|LR − χ²₁| ≤ 1e-9 or a bracket of a few ulp). If the statistic stays below the critical
//! value up to the bound, the interval reaches the bound: the bound is reported and
//! `reaches_low` / `reaches_high` say so. The interval is the connected part of the LR set
//! that contains the estimate.

use crate::error::{Error, Result};
use crate::inference::dist::normal_quantile;
use crate::interrupt::Cancel;

/// Equal steps of the scan from the estimate to each bound.
const SCAN_STEPS: usize = 16;

/// Share of the admissible range (capped at [−1, 1]) beyond which an LR interval counts as
/// wide: 0.25, i.e. a 95% interval wider than 0.5 for a row-standardised W (a Wald-equivalent
/// SE of ρ above ~0.13, too wide to tell the sign of the spillover from a moderate ρ). Chosen
/// from the Monte Carlo of tests/test_spatial_identification.py (SAR, two-way effects with
/// the Lee–Yu transformation, ρ = 0.4, β = 1): with a kNN (k = 4) W on 290 units and T = 5
/// the interval is 0.10–0.11 wide (10th–90th percentile; 95% coverage 0.950 over 2,000
/// draws), never flagged; with the 41-city inverse-distance W of the YRD panel and T = 16
/// it is 0.70–0.79 wide (10–19% of draws reach the upper bound), always flagged. Half of the
/// range (width 1.0) would flag that design in only 10–19% of draws.
pub const WEAK_WIDTH_SHARE: f64 = 0.25;

/// The LR interval of one spatial parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct SpatialInterval {
    /// "rho" or "lambda".
    pub name: String,
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
    pub level: f64,
    /// The LR set reaches the lower / upper bound of the admissible interval (the bound is
    /// reported as the end point).
    pub reaches_low: bool,
    pub reaches_high: bool,
    /// The admissible interval (1/λ_min, 1/λ_max).
    pub bounds: (f64, f64),
    /// The LR statistic of the parameter = 0 (NaN when 0 is not admissible).
    pub lr_zero: f64,
}

impl SpatialInterval {
    /// Whether the interval reaches a bound of the admissible interval.
    pub fn reaches_bound(&self) -> bool {
        self.reaches_low || self.reaches_high
    }

    /// The admissible range capped at [−1, 1]: ρ beyond ±1 has no substantive meaning for a
    /// normalised W, and 1/λ_min can be −10 or further for a dense W, which would make any
    /// interval look narrow.
    pub fn capped_range(&self) -> f64 {
        self.bounds.1.min(1.0) - self.bounds.0.max(-1.0)
    }

    /// Weakly identified: the interval reaches a bound, or it is wider than
    /// [`WEAK_WIDTH_SHARE`] of the capped admissible range.
    pub fn weakly_identified(&self) -> bool {
        self.reaches_bound() || (self.high - self.low) > WEAK_WIDTH_SHARE * self.capped_range()
    }
}

/// The χ²₁ quantile at `level` (the square of the normal quantile at (1 + level)/2).
pub fn chi2_1_quantile(level: f64) -> Result<f64> {
    if !(level > 0.0 && level < 1.0) {
        return Err(Error::Option {
            name: "level".into(),
            reason: format!("{level} is not in (0, 1)"),
        });
    }
    let z = normal_quantile(0.5 * (1.0 + level), "level")?;
    Ok(z * z)
}

/// The LR interval of a parameter whose negative concentrated log-likelihood (up to a
/// constant) is `negll`, maximised at `estimate` inside `bounds`. Non-finite values of
/// `negll` count as excluded. Cancellable.
pub(crate) fn lr_interval(
    name: &str,
    estimate: f64,
    bounds: (f64, f64),
    level: f64,
    negll: impl Fn(f64) -> f64,
) -> Result<SpatialInterval> {
    let crit = chi2_1_quantile(level)?;
    let cancel = Cancel::current();
    let f_hat = negll(estimate);
    if !f_hat.is_finite() {
        return Err(Error::Numerical(format!(
            "the likelihood is not finite at the estimate {name} = {estimate}"
        )));
    }
    let lr = |r: f64| {
        let v = 2.0 * (negll(r) - f_hat);
        if v.is_nan() {
            f64::INFINITY
        } else {
            v
        }
    };
    let excess = |r: f64| lr(r) - crit;
    // The scan stops short of the bounds as the estimator's search does (ln|I − rW| is −∞
    // at them).
    let eps = 1e-9 * (bounds.1 - bounds.0);
    let side = |end: f64| -> Result<(f64, bool)> {
        let (mut a, mut fa) = (estimate, -crit);
        for i in 1..=SCAN_STEPS {
            cancel.check()?;
            let b = estimate + (end - estimate) * (i as f64 / SCAN_STEPS as f64);
            let fb = excess(b);
            if fb > 0.0 {
                let r = brent_root(&excess, a, b, fa, fb);
                cancel.check()?;
                return Ok((r, false));
            }
            (a, fa) = (b, fb);
        }
        Ok((end, true))
    };
    let (low, reaches_low) = side(bounds.0 + eps)?;
    let (high, reaches_high) = side(bounds.1 - eps)?;
    let lr_zero = if bounds.0 < 0.0 && 0.0 < bounds.1 {
        lr(0.0)
    } else {
        f64::NAN
    };
    Ok(SpatialInterval {
        name: name.into(),
        estimate,
        low: if reaches_low { bounds.0 } else { low },
        high: if reaches_high { bounds.1 } else { high },
        level,
        reaches_low,
        reaches_high,
        bounds,
        lr_zero,
    })
}

/// Brent–Dekker root of `f` between `a` and `b` (f(a), f(b) of opposite signs; Brent 1973,
/// ch. 4, as R's `zeroin`). Stops at |f| ≤ 1e-9, a bracket of a few ulp, 200 iterations or a
/// cancellation (callers check the token).
fn brent_root(f: &impl Fn(f64) -> f64, a: f64, b: f64, fa: f64, fb: f64) -> f64 {
    let cancel = Cancel::current();
    let (mut a, mut b, mut fa, mut fb) = (a, b, fa, fb);
    let (mut c, mut fc) = (a, fa);
    let mut d = b - a;
    let mut e = d;
    for _ in 0..200 {
        if cancel.is_cancelled() {
            break;
        }
        if fb.abs() > fc.abs() {
            // b is the best guess so far.
            (a, b, c) = (b, c, b);
            (fa, fb, fc) = (fb, fc, fb);
        }
        let tol = 2.0 * f64::EPSILON * b.abs() + 1e-15;
        let m = 0.5 * (c - b);
        if fb.abs() <= 1e-9 || m.abs() <= tol {
            return b;
        }
        if e.abs() >= tol && fa.abs() > fb.abs() {
            // Inverse quadratic (or secant) interpolation.
            let s = fb / fa;
            let (mut p, mut q) = if a == c {
                (2.0 * m * s, 1.0 - s)
            } else {
                let q = fa / fc;
                let r = fb / fc;
                (
                    s * (2.0 * m * q * (q - r) - (b - a) * (r - 1.0)),
                    (q - 1.0) * (r - 1.0) * (s - 1.0),
                )
            };
            if p > 0.0 {
                q = -q;
            } else {
                p = -p;
            }
            if 2.0 * p < (3.0 * m * q - (tol * q).abs()).min((e * q).abs()) {
                e = d;
                d = p / q;
            } else {
                d = m;
                e = m;
            }
        } else {
            d = m;
            e = m;
        }
        a = b;
        fa = fb;
        b += if d.abs() > tol { d } else { tol.copysign(m) };
        fb = f(b);
        if (fb > 0.0) == (fc > 0.0) {
            c = a;
            fc = fa;
            d = b - a;
            e = d;
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A quadratic log-likelihood (ℓ = −(r − 0.3)²/(2·0.01)) has the Wald interval
    /// 0.3 ± 1.959964·0.1 as its LR interval; its ends satisfy the LR equation.
    #[test]
    fn quadratic_likelihood_gives_the_wald_interval() {
        let negll = |r: f64| (r - 0.3) * (r - 0.3) / 0.02;
        let iv = lr_interval("rho", 0.3, (-1.0, 1.0), 0.95, negll).unwrap();
        let z = 1.959_963_984_540_054;
        assert!((iv.low - (0.3 - 0.1 * z)).abs() < 1e-9, "{iv:?}");
        assert!((iv.high - (0.3 + 0.1 * z)).abs() < 1e-9, "{iv:?}");
        assert!(!iv.reaches_bound() && !iv.weakly_identified());
        assert!((iv.lr_zero - 9.0).abs() < 1e-12);
        let crit = chi2_1_quantile(0.95).unwrap();
        for r in [iv.low, iv.high] {
            assert!((2.0 * (negll(r) - negll(0.3)) - crit).abs() < 1e-9);
        }
    }

    /// A flat likelihood reaches both bounds and is weakly identified; a skewed one stops
    /// inside on one side only.
    #[test]
    fn flat_and_one_sided_likelihoods_reach_the_bounds() {
        let iv = lr_interval("rho", 0.1, (-2.0, 1.0), 0.95, |r| 0.01 * r * r).unwrap();
        assert!(iv.reaches_low && iv.reaches_high);
        assert_eq!((iv.low, iv.high), (-2.0, 1.0));
        assert!(iv.weakly_identified());
        let iv = lr_interval("rho", 0.9, (-1.0, 1.0), 0.95, |r| {
            (r - 0.9) * (r - 0.9) / 0.02
        })
        .unwrap();
        assert!(!iv.reaches_low && iv.reaches_high && iv.weakly_identified());
    }

    #[test]
    fn bad_level_is_an_option_error() {
        for level in [0.0, 1.0, f64::NAN, -0.5] {
            assert!(matches!(
                lr_interval("rho", 0.0, (-1.0, 1.0), level, |r| r * r),
                Err(Error::Option { .. })
            ));
        }
    }
}

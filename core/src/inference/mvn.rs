//! Multivariate normal rectangle probabilities P(a <= X <= b), X ~ N(mu, Sigma), and the mean
//! of X truncated to that rectangle. Used by the pre-trend power analysis of Roth (2022).
//!
//! Method (Genz 1992, J. Comput. Graph. Statist. 1(2); Genz & Bretz 2009, "Computation of
//! Multivariate Normal and t Probabilities", ch. 4):
//! - dimension 0 is 1, dimension 1 is the closed form Phi(b) - Phi(a) (upper tails when both
//!   limits are positive, so no cancellation);
//! - dimension >= 2: separation of variables after the Cholesky factor, with Genz-Bretz variable
//!   prioritisation (at each step the variable with the smallest conditional probability goes
//!   first), integrated over [0, 1]^(k-1) by a randomised Richtmyer lattice rule: generator
//!   frac(sqrt(p_j)) for the first primes p_j, [`SHIFTS`] random shifts, the baker's
//!   (tent) periodisation and antithetic pairs. The shifts come from the crate's generator
//!   with the fixed seed [`QMC_SEED`], so the same inputs always give the same number. Points
//!   per shift double from 2^8 until three standard errors across shifts are below
//!   [`ABS_TOL`] (1e-5) or 2^16 points per shift are used; the estimate's standard error is
//!   returned with it (the target accuracy of callers is 1e-4).
//!
//! Truncated means use the formula of Tallis (1961, JRSS-B 23(1)) for rectangles in the form of
//! Manjunath & Wilhelm (2021, "Moments calculation for the doubly truncated multivariate
//! normal density", J. Behav. Data Sci. 1(1); what R `tmvtnorm::mtmvnorm` computes):
//! E[X_i | a <= X <= b] = mu_i + sum_k Sigma_ik (F_k(a_k) - F_k(b_k)) / P, where
//! F_k(x) = phi(x; mu_k, Sigma_kk) P(X_-k in the rectangle | X_k = x), a (k-1)-dimensional
//! rectangle probability computed by the same routine.

use crate::error::{Error, Result};
use crate::inference::policy::{erfc, normal_quantile};
use crate::interrupt::Cancel;
use crate::rng;
use rand::Rng;

/// Seed of the lattice shifts (fixed: the result is a deterministic function of the inputs).
pub const QMC_SEED: u64 = 20_220_601;
/// Random shifts of the lattice; their spread gives the standard error.
pub const SHIFTS: usize = 12;
/// Stop when three standard errors are below this.
pub const ABS_TOL: f64 = 1e-5;
const MIN_POINTS: usize = 1 << 8;
const MAX_POINTS: usize = 1 << 16;
const PRIMES: [u32; 40] = [
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
    101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173,
];
/// Largest dimension (the lattice generator has one prime per integration variable).
pub const MAX_DIM: usize = PRIMES.len() + 1;

/// A probability with the standard error of its quasi-Monte Carlo estimate (0 when exact).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probability {
    pub value: f64,
    pub std_error: f64,
}

/// Standard normal cdf, from the C library's erfc (accurate in both tails).
pub fn normal_cdf(x: f64) -> f64 {
    if x == f64::INFINITY {
        1.0
    } else if x == f64::NEG_INFINITY {
        0.0
    } else {
        0.5 * erfc(-x / std::f64::consts::SQRT_2)
    }
}

/// Standard normal density.
pub fn normal_pdf(x: f64) -> f64 {
    if x.is_infinite() {
        0.0
    } else {
        (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
    }
}

/// Phi(b) - Phi(a) for a <= b, through the upper tails when both are positive.
pub fn normal_interval(a: f64, b: f64) -> f64 {
    if b <= a {
        0.0
    } else if a > 0.0 {
        (normal_cdf(-a) - normal_cdf(-b)).max(0.0)
    } else {
        (normal_cdf(b) - normal_cdf(a)).max(0.0)
    }
}

fn normal_inv(p: f64) -> f64 {
    let p = p.clamp(1e-300, 1.0 - f64::EPSILON / 2.0);
    normal_quantile(p).unwrap_or(0.0)
}

fn check_inputs(mean: &[f64], cov: &[f64], lower: &[f64], upper: &[f64]) -> Result<usize> {
    let k = mean.len();
    if cov.len() != k * k || lower.len() != k || upper.len() != k {
        return Err(Error::Shape(format!(
            "multivariate normal of dimension {k}: covariance has {} entries, limits {} and {}",
            cov.len(),
            lower.len(),
            upper.len()
        )));
    }
    if k > MAX_DIM {
        return Err(Error::Option {
            name: "dimension".into(),
            reason: format!("{k} exceeds the {MAX_DIM} the lattice rule supports"),
        });
    }
    if mean.iter().chain(cov).any(|v| !v.is_finite())
        || lower.iter().chain(upper).any(|v| v.is_nan())
    {
        return Err(Error::Numerical(
            "multivariate normal: non-finite mean or covariance, or NaN limit".into(),
        ));
    }
    Ok(k)
}

/// P(lower <= X <= upper) for X ~ N(mean, cov) (cov row-major k x k, positive definite;
/// limits may be infinite).
pub fn rectangle_probability(
    mean: &[f64],
    cov: &[f64],
    lower: &[f64],
    upper: &[f64],
) -> Result<Probability> {
    let k = check_inputs(mean, cov, lower, upper)?;
    if lower.iter().zip(upper).any(|(a, b)| b <= a) {
        return Ok(Probability {
            value: 0.0,
            std_error: 0.0,
        });
    }
    let a: Vec<f64> = lower.iter().zip(mean).map(|(l, m)| l - m).collect();
    let b: Vec<f64> = upper.iter().zip(mean).map(|(u, m)| u - m).collect();
    match k {
        0 => Ok(Probability {
            value: 1.0,
            std_error: 0.0,
        }),
        1 => {
            let s = positive_sd(cov[0], 0)?;
            Ok(Probability {
                value: normal_interval(a[0] / s, b[0] / s),
                std_error: 0.0,
            })
        }
        _ => {
            let sov = Separated::new(cov, a, b)?;
            sov.integrate()
        }
    }
}

fn positive_sd(v: f64, i: usize) -> Result<f64> {
    if v > 0.0 && v.is_finite() {
        Ok(v.sqrt())
    } else {
        Err(Error::Numerical(format!(
            "covariance matrix is singular or not positive definite (variance {v} at position {i})"
        )))
    }
}

/// The rectangle after Cholesky factorisation with prioritised variable order: row-major
/// lower-triangular `chol` and the limits in that order.
struct Separated {
    k: usize,
    chol: Vec<f64>,
    a: Vec<f64>,
    b: Vec<f64>,
}

impl Separated {
    fn new(cov: &[f64], mut a: Vec<f64>, mut b: Vec<f64>) -> Result<Self> {
        let k = a.len();
        let mut s = cov.to_vec();
        let mut c = vec![0.0; k * k];
        let mut y = vec![0.0; k];
        let scale = (0..k).map(|i| cov[i * k + i].abs()).fold(0.0, f64::max);
        for i in 0..k {
            // choose the remaining variable with the smallest conditional probability
            let mut best = (i, f64::INFINITY);
            for j in i..k {
                let shift: f64 = (0..i).map(|m| c[j * k + m] * y[m]).sum();
                let var = s[j * k + j] - (0..i).map(|m| c[j * k + m].powi(2)).sum::<f64>();
                if var <= 1e-13 * scale {
                    continue;
                }
                let sd = var.sqrt();
                let p = normal_interval((a[j] - shift) / sd, (b[j] - shift) / sd);
                if p < best.1 {
                    best = (j, p);
                }
            }
            let j = best.0;
            if !best.1.is_finite() {
                return Err(Error::Numerical(
                    "covariance matrix is singular or not positive definite (a variable is a \
                     linear combination of the others)"
                        .into(),
                ));
            }
            if j != i {
                swap_sym(&mut s, k, i, j);
                for m in 0..i {
                    c.swap(i * k + m, j * k + m);
                }
                a.swap(i, j);
                b.swap(i, j);
            }
            let var = s[i * k + i] - (0..i).map(|m| c[i * k + m].powi(2)).sum::<f64>();
            let d = var.sqrt();
            c[i * k + i] = d;
            for r in i + 1..k {
                let v = s[r * k + i] - (0..i).map(|m| c[r * k + m] * c[i * k + m]).sum::<f64>();
                c[r * k + i] = v / d;
            }
            // expected value of the standardised variable in its interval (for the next choice)
            let shift: f64 = (0..i).map(|m| c[i * k + m] * y[m]).sum();
            let (lo, hi) = ((a[i] - shift) / d, (b[i] - shift) / d);
            let p = normal_interval(lo, hi);
            y[i] = if p > 1e-300 {
                (normal_pdf(lo) - normal_pdf(hi)) / p
            } else if lo.is_finite() {
                lo
            } else {
                hi
            };
        }
        Ok(Self { k, chol: c, a, b })
    }

    /// The separated integrand at w in [0, 1]^(k-1); `y` is scratch of length k.
    fn integrand(&self, w: &[f64], y: &mut [f64]) -> f64 {
        let k = self.k;
        let c = &self.chol;
        let mut f = 1.0;
        for i in 0..k {
            let shift: f64 = (0..i).map(|m| c[i * k + m] * y[m]).sum();
            let d = c[i * k + i];
            let (lo, hi) = ((self.a[i] - shift) / d, (self.b[i] - shift) / d);
            let (pl, ph) = (normal_cdf(lo), normal_cdf(hi));
            let p = normal_interval(lo, hi);
            f *= p;
            if f == 0.0 {
                return 0.0;
            }
            if i + 1 < k {
                y[i] = normal_inv(pl + w[i] * (ph - pl));
            }
        }
        f
    }

    fn integrate(&self) -> Result<Probability> {
        let dims = self.k - 1;
        let cancel = Cancel::current();
        let gen: Vec<f64> = PRIMES[..dims]
            .iter()
            .map(|&p| (p as f64).sqrt().fract())
            .collect();
        let mut rng = rng::stream(QMC_SEED, dims as u64);
        let shifts: Vec<Vec<f64>> = (0..SHIFTS)
            .map(|_| {
                (0..dims)
                    .map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
                    .collect()
            })
            .collect();
        let mut w = vec![0.0; dims];
        let mut w2 = vec![0.0; dims];
        let mut y = vec![0.0; self.k];
        let mut n = MIN_POINTS;
        loop {
            let mut means = [0.0; SHIFTS];
            for (mean, shift) in means.iter_mut().zip(&shifts) {
                cancel.check()?;
                let mut sum = 0.0;
                for i in 1..=n {
                    for j in 0..dims {
                        let x = (i as f64 * gen[j] + shift[j]).fract();
                        w[j] = (2.0 * x - 1.0).abs();
                        w2[j] = 1.0 - w[j];
                    }
                    sum += 0.5 * (self.integrand(&w, &mut y) + self.integrand(&w2, &mut y));
                }
                *mean = sum / n as f64;
            }
            let value = means.iter().sum::<f64>() / SHIFTS as f64;
            let var = means.iter().map(|m| (m - value).powi(2)).sum::<f64>()
                / (SHIFTS * (SHIFTS - 1)) as f64;
            let std_error = var.sqrt();
            if 3.0 * std_error <= ABS_TOL || n >= MAX_POINTS {
                return Ok(Probability {
                    value: value.clamp(0.0, 1.0),
                    std_error,
                });
            }
            n *= 2;
        }
    }
}

fn swap_sym(s: &mut [f64], k: usize, i: usize, j: usize) {
    for m in 0..k {
        s.swap(i * k + m, j * k + m);
    }
    for m in 0..k {
        s.swap(m * k + i, m * k + j);
    }
}

/// The mean of X ~ N(mean, cov) truncated to [lower, upper] (Tallis' formula), and the
/// probability of the rectangle. Errors when that probability is zero.
pub fn truncated_mean(
    mean: &[f64],
    cov: &[f64],
    lower: &[f64],
    upper: &[f64],
) -> Result<(Vec<f64>, Probability)> {
    let k = check_inputs(mean, cov, lower, upper)?;
    let total = rectangle_probability(mean, cov, lower, upper)?;
    if total.value <= 0.0 {
        return Err(Error::Numerical(
            "truncated normal mean: the rectangle has probability zero".into(),
        ));
    }
    let mut out = mean.to_vec();
    for j in 0..k {
        let diff = boundary_density(mean, cov, lower, upper, j, lower[j])?
            - boundary_density(mean, cov, lower, upper, j, upper[j])?;
        for (i, o) in out.iter_mut().enumerate() {
            *o += cov[i * k + j] * diff / total.value;
        }
    }
    Ok((out, total))
}

/// F_j(x): the density of X_j at x times P(the other coordinates in their limits | X_j = x).
fn boundary_density(
    mean: &[f64],
    cov: &[f64],
    lower: &[f64],
    upper: &[f64],
    j: usize,
    x: f64,
) -> Result<f64> {
    if x.is_infinite() {
        return Ok(0.0);
    }
    let k = mean.len();
    let sjj = cov[j * k + j];
    let sd = positive_sd(sjj, j)?;
    let density = normal_pdf((x - mean[j]) / sd) / sd;
    let rest: Vec<usize> = (0..k).filter(|&i| i != j).collect();
    let cmean: Vec<f64> = rest
        .iter()
        .map(|&i| mean[i] + cov[i * k + j] / sjj * (x - mean[j]))
        .collect();
    let mut ccov = Vec::with_capacity(rest.len() * rest.len());
    for &r in &rest {
        for &c in &rest {
            ccov.push(cov[r * k + c] - cov[r * k + j] * cov[j * k + c] / sjj);
        }
    }
    let lo: Vec<f64> = rest.iter().map(|&i| lower[i]).collect();
    let hi: Vec<f64> = rest.iter().map(|&i| upper[i]).collect();
    let p = rectangle_probability(&cmean, &ccov, &lo, &hi)?;
    Ok(density * p.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_dimension_is_closed_form() {
        let p = rectangle_probability(&[0.5], &[4.0], &[-1.0], &[2.0]).unwrap();
        let want = normal_cdf(0.75) - normal_cdf(-0.75);
        assert!((p.value - want).abs() < 1e-15);
        let (m, _) = truncated_mean(&[0.0], &[1.0], &[-1.0], &[2.0]).unwrap();
        let want = (normal_pdf(-1.0) - normal_pdf(2.0)) / (normal_cdf(2.0) - normal_cdf(-1.0));
        assert!((m[0] - want).abs() < 1e-14);
    }

    #[test]
    fn independent_case_is_a_product() {
        let cov = [1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.5];
        let (lo, hi) = ([-1.0, -0.5, -2.0], [1.5, 2.0, 0.3]);
        let mean = [0.2, -0.1, 0.0];
        let p = rectangle_probability(&mean, &cov, &lo, &hi).unwrap();
        let want: f64 = (0..3)
            .map(|i| {
                let s = cov[i * 3 + i].sqrt();
                normal_interval((lo[i] - mean[i]) / s, (hi[i] - mean[i]) / s)
            })
            .product();
        assert!((p.value - want).abs() < 1e-6, "{} vs {want}", p.value);
    }

    #[test]
    fn bivariate_orthant_is_arcsine_law() {
        // P(X1 <= 0, X2 <= 0) = 1/4 + asin(rho) / (2 pi)
        let rho: f64 = 0.6;
        let inf = f64::INFINITY;
        let p = rectangle_probability(
            &[0.0, 0.0],
            &[1.0, rho, rho, 1.0],
            &[-inf, -inf],
            &[0.0, 0.0],
        )
        .unwrap();
        let want = 0.25 + rho.asin() / (2.0 * std::f64::consts::PI);
        assert!((p.value - want).abs() < 2e-5, "{} vs {want}", p.value);
    }

    #[test]
    fn trivariate_orthant_is_closed_form() {
        // P(all <= 0) = 1/8 + (asin r12 + asin r13 + asin r23) / (4 pi)
        let (r12, r13, r23): (f64, f64, f64) = (0.3, -0.2, 0.5);
        let cov = [1.0, r12, r13, r12, 1.0, r23, r13, r23, 1.0];
        let inf = f64::INFINITY;
        let p = rectangle_probability(&[0.0; 3], &cov, &[-inf; 3], &[0.0; 3]).unwrap();
        let want = 0.125 + (r12.asin() + r13.asin() + r23.asin()) / (4.0 * std::f64::consts::PI);
        assert!((p.value - want).abs() < 2e-5, "{} vs {want}", p.value);
    }

    #[test]
    fn singular_covariance_is_an_error() {
        let cov = [1.0, 1.0, 1.0, 1.0];
        assert!(rectangle_probability(&[0.0, 0.0], &cov, &[-1.0, -1.0], &[1.0, 1.0]).is_err());
    }
}

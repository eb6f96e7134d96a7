//! Power of an event study's pre-test against a hypothesised violation of parallel trends,
//! and what passing that pre-test does to the post-period estimates: Roth (2022), "Pretest with
//! Caution: Event-Study Estimates after Testing for Parallel Trends", AER: Insights 4(3).
//! Definitions follow the R package `pretrends` (J. Roth):
//! - the pre-test rejects when any pre-period |t| exceeds z = z_{1-alpha/2} (Roth's "no
//!   individually significant" test); its power against delta is 1 - P(|beta_pre_j| <= z se_j
//!   for all j) with beta_pre ~ N(delta_pre, Sigma_pre), a rectangle probability
//!   (`inference::mvn`); the joint Wald version (chi-square, level alpha) has power
//!   P(chi2_K(lambda) > c) with lambda = delta_pre' Sigma_pre^-1 delta_pre;
//! - Bayes factor P(pass | delta) / P(pass | 0); likelihood ratio
//!   phi(betahat_pre; delta_pre, Sigma_pre) / phi(betahat_pre; 0, Sigma_pre);
//! - conditional on passing, E[betahat_pre | pass] is the truncated-normal mean and
//!   E[betahat_post | pass] = tau + delta_post + Sigma_post,pre Sigma_pre^-1
//!   (E[betahat_pre | pass] - delta_pre) (pretrends' `meanBetaPost_NIS`); with tau = 0, as in
//!   Roth's plot, this is the bias after pre-testing, the same for every tau;
//! - coverage of the level-CI of each post coefficient, unconditional and conditional on
//!   passing (a rectangle probability in the pre-periods plus that coefficient);
//! - the slope of the linear trend slope * (e - reference) at which the power reaches a target
//!   (pretrends' `slope_for_power`): bracket by doubling, then bisection; when the target is at
//!   or below the test's size, or cannot be reached, the result says so instead of failing
//!   (`pretrends` issue #8).
//!
//! Pre-periods are the estimated event times e < 0, post-periods e >= 0 (treatment starts at 0).

use statrs::distribution::{ChiSquared, ContinuousCDF};
use statrs::function::gamma::{checked_gamma_ur, ln_gamma};

use crate::error::{Error, Result};
use crate::inference::mvn::{self, normal_interval, Probability};
use crate::inference::policy::normal_critical;
use crate::interrupt::Cancel;
use crate::linalg::dense::spd_inverse_rowmajor;

/// What to analyse: the study's estimates and covariance and the hypothesised violation.
#[derive(Debug, Clone)]
pub struct PretrendSpec {
    pub event_time: Vec<i64>,
    pub estimate: Vec<f64>,
    /// row-major k x k covariance of the estimates, in `event_time` order
    pub vcov: Vec<f64>,
    /// hypothesised violation delta_e at every event time
    pub delta: Vec<f64>,
    /// the study's reference period: the linear trend of `slope_for_power` is slope * (e - reference)
    pub reference: i64,
    pub level: f64,
    /// target powers of the slope search, each in (0, 1)
    pub targets: Vec<f64>,
}

/// How the slope search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlopeStatus {
    /// the slope at which the power equals the target
    Found,
    /// the target is at or below the power at slope 0 (the test's size): slope 0
    AtSize,
    /// the power cannot reach the target for any slope (NaN slope); see `max_power`
    Unreachable,
}

impl SlopeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SlopeStatus::Found => "found",
            SlopeStatus::AtSize => "at_size",
            SlopeStatus::Unreachable => "unreachable",
        }
    }
}

/// The slope of the linear trend at which one test's power reaches `target`.
#[derive(Debug, Clone)]
pub struct SlopeForPower {
    /// "any_t" (Roth's default) or "wald"
    pub test: &'static str,
    pub target: f64,
    pub slope: f64,
    pub status: SlopeStatus,
    /// the largest power found along the search (1 when reachable)
    pub max_power: f64,
}

#[derive(Debug, Clone)]
pub struct PretrendPower {
    /// indices of the pre- and post-periods in `event_time`
    pub pre: Vec<usize>,
    pub post: Vec<usize>,
    /// the pre-test's critical |t|
    pub critical: f64,
    /// P(reject | delta) of the any-|t| pre-test, with the QMC standard error
    pub power: Probability,
    /// P(reject | delta = 0)
    pub size: Probability,
    pub bayes_factor: f64,
    pub likelihood_ratio: f64,
    /// power of the chi-square Wald pre-test (size 1 - level) and its statistic's noncentrality
    pub wald_power: f64,
    pub wald_noncentrality: f64,
    /// E[betahat_e | pass] at every event time (post: with tau = 0, i.e. the bias after pre-testing)
    pub expected_after_pretest: Vec<f64>,
    /// coverage of each coefficient's level-CI of tau_e (NaN for pre-periods)
    pub coverage: Vec<f64>,
    pub coverage_after_pretest: Vec<f64>,
    pub slopes: Vec<SlopeForPower>,
}

fn submatrix(m: &[f64], k: usize, rows: &[usize], cols: &[usize]) -> Vec<f64> {
    let mut out = Vec::with_capacity(rows.len() * cols.len());
    for &r in rows {
        for &c in cols {
            out.push(m[r * k + c]);
        }
    }
    out
}

fn quad(inv: &[f64], x: &[f64], y: &[f64]) -> f64 {
    let n = x.len();
    let mut s = 0.0;
    for i in 0..n {
        for j in 0..n {
            s += x[i] * inv[i * n + j] * y[j];
        }
    }
    s
}

fn check(spec: &PretrendSpec) -> Result<(Vec<usize>, Vec<usize>, Vec<f64>)> {
    let k = spec.event_time.len();
    if spec.estimate.len() != k || spec.delta.len() != k || spec.vcov.len() != k * k {
        return Err(Error::Shape(format!(
            "pretrend_power: {k} event times, {} estimates, {} hypothesised deltas and a \
             covariance with {} entries (needs {})",
            spec.estimate.len(),
            spec.delta.len(),
            spec.vcov.len(),
            k * k
        )));
    }
    if spec.delta.iter().any(|v| !v.is_finite()) {
        return Err(Error::Option {
            name: "delta".into(),
            reason: "the hypothesised violation must be finite at every event time".into(),
        });
    }
    if spec.vcov.iter().any(|v| !v.is_finite()) || spec.estimate.iter().any(|v| !v.is_finite()) {
        return Err(Error::Numerical(
            "pretrend_power: the estimates or their covariance are not finite".into(),
        ));
    }
    for &t in &spec.targets {
        if !(t > 0.0 && t < 1.0) {
            return Err(Error::Option {
                name: "power".into(),
                reason: format!("target power {t} is not in (0, 1)"),
            });
        }
    }
    let pre: Vec<usize> = (0..k).filter(|&i| spec.event_time[i] < 0).collect();
    let post: Vec<usize> = (0..k).filter(|&i| spec.event_time[i] >= 0).collect();
    if pre.is_empty() {
        return Err(Error::Empty(
            "pretrend_power: the event study has no pre-period estimates (event time < 0) to \
             test"
                .into(),
        ));
    }
    let mut se = Vec::with_capacity(k);
    for i in 0..k {
        let v = spec.vcov[i * k + i];
        if v <= 0.0 {
            return Err(Error::Numerical(format!(
                "pretrend_power: the variance of event time {} is {v}, not positive",
                spec.event_time[i]
            )));
        }
        se.push(v.sqrt());
    }
    Ok((pre, post, se))
}

/// The pre-test's power against delta, its consequences after passing, and the slopes of the
/// linear trend at which the power reaches each target.
pub fn pretrend_power(spec: &PretrendSpec) -> Result<PretrendPower> {
    let (pre, post, se) = check(spec)?;
    let k = spec.event_time.len();
    let z = normal_critical(spec.level)?;
    let sigma_pre = submatrix(&spec.vcov, k, &pre, &pre);
    let inv_pre = spd_inverse_rowmajor(&sigma_pre, pre.len()).ok_or_else(|| {
        Error::Numerical(
            "pretrend_power: the covariance of the pre-period estimates is singular".into(),
        )
    })?;
    let upper: Vec<f64> = pre.iter().map(|&i| z * se[i]).collect();
    let lower: Vec<f64> = upper.iter().map(|u| -u).collect();
    let delta_pre: Vec<f64> = pre.iter().map(|&i| spec.delta[i]).collect();
    let beta_pre: Vec<f64> = pre.iter().map(|&i| spec.estimate[i]).collect();

    let (mean_pre, pass) = mvn::truncated_mean(&delta_pre, &sigma_pre, &lower, &upper)?;
    let pass0 = mvn::rectangle_probability(&vec![0.0; pre.len()], &sigma_pre, &lower, &upper)?;
    let power = Probability {
        value: 1.0 - pass.value,
        std_error: pass.std_error,
    };
    let size = Probability {
        value: 1.0 - pass0.value,
        std_error: pass0.std_error,
    };
    let log_lr =
        quad(&inv_pre, &delta_pre, &beta_pre) - 0.5 * quad(&inv_pre, &delta_pre, &delta_pre);
    let noncentrality = quad(&inv_pre, &delta_pre, &delta_pre);
    let (_, wald_power) = wald(pre.len(), spec.level, noncentrality)?;

    // E[betahat | pass]: pre from the truncated mean, post by the regression on the pre-periods
    let mut expected = spec.delta.clone();
    let shift: Vec<f64> = mean_pre
        .iter()
        .zip(&delta_pre)
        .map(|(m, d)| m - d)
        .collect();
    let w = inv_times(&inv_pre, &shift);
    for (j, &i) in pre.iter().enumerate() {
        expected[i] = mean_pre[j];
    }
    let mut coverage = vec![f64::NAN; k];
    let mut coverage_after = vec![f64::NAN; k];
    let cancel = Cancel::current();
    for &i in &post {
        cancel.check()?;
        let cross: f64 = pre
            .iter()
            .zip(&w)
            .map(|(&p, wj)| spec.vcov[i * k + p] * wj)
            .sum();
        expected[i] = spec.delta[i] + cross;
        coverage[i] = normal_interval(-z - spec.delta[i] / se[i], z - spec.delta[i] / se[i]);
        let mut idx = pre.clone();
        idx.push(i);
        let cov = submatrix(&spec.vcov, k, &idx, &idx);
        let mean: Vec<f64> = idx.iter().map(|&j| spec.delta[j]).collect();
        let mut lo = lower.clone();
        lo.push(-z * se[i]);
        let mut hi = upper.clone();
        hi.push(z * se[i]);
        let joint = mvn::rectangle_probability(&mean, &cov, &lo, &hi)?;
        coverage_after[i] = (joint.value / pass.value).clamp(0.0, 1.0);
    }

    let direction: Vec<f64> = pre
        .iter()
        .map(|&i| (spec.event_time[i] - spec.reference) as f64)
        .collect();
    let mut slopes = Vec::with_capacity(2 * spec.targets.len());
    for &target in &spec.targets {
        slopes.push(slope_any_t(
            &direction,
            &sigma_pre,
            &lower,
            &upper,
            &se_of(&pre, &se),
            target,
        )?);
    }
    let dir_quad = quad(&inv_pre, &direction, &direction);
    for &target in &spec.targets {
        slopes.push(slope_wald(pre.len(), spec.level, dir_quad, target)?);
    }

    Ok(PretrendPower {
        pre,
        post,
        critical: z,
        power,
        size,
        bayes_factor: pass.value / pass0.value,
        likelihood_ratio: log_lr.exp(),
        wald_power,
        wald_noncentrality: noncentrality,
        expected_after_pretest: expected,
        coverage,
        coverage_after_pretest: coverage_after,
        slopes,
    })
}

fn se_of(idx: &[usize], se: &[f64]) -> Vec<f64> {
    idx.iter().map(|&i| se[i]).collect()
}

fn inv_times(inv: &[f64], x: &[f64]) -> Vec<f64> {
    let n = x.len();
    (0..n)
        .map(|i| (0..n).map(|j| inv[i * n + j] * x[j]).sum())
        .collect()
}

/// The chi-square critical value at `level` with `df` degrees of freedom and the power
/// P(chi2_df(lambda) > c) of the Wald test.
fn wald(df: usize, level: f64, lambda: f64) -> Result<(f64, f64)> {
    let chi = ChiSquared::new(df as f64)
        .map_err(|e| Error::Numerical(format!("chi-square with {df} df: {e}")))?;
    let c = chi.inverse_cdf(crate::inference::dist::probability(level, "level")?);
    Ok((c, noncentral_chi2_sf(c, df as f64, lambda)?))
}

/// P(chi2_df(lambda) > x): the Poisson(lambda / 2) mixture of central chi-square upper tails.
pub fn noncentral_chi2_sf(x: f64, df: f64, lambda: f64) -> Result<f64> {
    if lambda.is_nan() || lambda < 0.0 || !lambda.is_finite() {
        return Err(Error::Numerical(format!(
            "noncentrality {lambda} is not a finite value >= 0"
        )));
    }
    let half = lambda / 2.0;
    let last = (half + 12.0 * half.sqrt() + 40.0).ceil() as usize;
    let mut sf = 0.0;
    for j in 0..=last {
        let log_w = if half > 0.0 {
            -half + j as f64 * half.ln() - ln_gamma(j as f64 + 1.0)
        } else if j == 0 {
            0.0
        } else {
            break;
        };
        let tail = checked_gamma_ur(df / 2.0 + j as f64, x / 2.0)
            .map_err(|e| Error::Numerical(format!("chi-square tail: {e}")))?;
        sf += log_w.exp() * tail;
    }
    Ok(sf.clamp(0.0, 1.0))
}

fn any_t_power(
    slope: f64,
    direction: &[f64],
    sigma: &[f64],
    lo: &[f64],
    hi: &[f64],
) -> Result<f64> {
    let mean: Vec<f64> = direction.iter().map(|d| slope * d).collect();
    Ok(1.0 - mvn::rectangle_probability(&mean, sigma, lo, hi)?.value)
}

/// Bracket [0, hi] by doubling hi until power(hi) >= target, then bisect. Power is
/// non-decreasing in |slope| for a box symmetric about 0 (Anderson's theorem), so the root is
/// unique.
fn bracket_bisect(
    target: f64,
    start: f64,
    tolerance: f64,
    mut power: impl FnMut(f64) -> Result<f64>,
) -> Result<(f64, SlopeStatus, f64)> {
    let at_zero = power(0.0)?;
    if at_zero >= target {
        return Ok((0.0, SlopeStatus::AtSize, at_zero));
    }
    let cancel = Cancel::current();
    let mut hi = start;
    let mut p_hi = power(hi)?;
    let mut doublings = 0;
    while p_hi < target {
        cancel.check()?;
        doublings += 1;
        if doublings > 200 || !hi.is_finite() {
            return Ok((f64::NAN, SlopeStatus::Unreachable, p_hi.max(at_zero)));
        }
        hi *= 2.0;
        p_hi = power(hi)?;
    }
    let mut lo = 0.0;
    for _ in 0..100 {
        cancel.check()?;
        let mid = 0.5 * (lo + hi);
        // QMC noise (standard error ~ 3e-6 in the power) makes a finer slope meaningless
        if hi - lo <= tolerance * hi {
            break;
        }
        if power(mid)? < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok((0.5 * (lo + hi), SlopeStatus::Found, 1.0))
}

fn slope_any_t(
    direction: &[f64],
    sigma: &[f64],
    lo: &[f64],
    hi: &[f64],
    se: &[f64],
    target: f64,
) -> Result<SlopeForPower> {
    let scale = direction.iter().fold(0.0f64, |m, d| m.max(d.abs()));
    let make = |slope, status, max_power| SlopeForPower {
        test: "any_t",
        target,
        slope,
        status,
        max_power,
    };
    if scale == 0.0 {
        // the trend is zero at every pre-period: the power stays at the size
        let size = any_t_power(0.0, direction, sigma, lo, hi)?;
        let status = if size >= target {
            SlopeStatus::AtSize
        } else {
            SlopeStatus::Unreachable
        };
        let slope = if size >= target { 0.0 } else { f64::NAN };
        return Ok(make(slope, status, size));
    }
    let start = se.iter().fold(0.0f64, |m, s| m.max(*s)) / scale;
    // exact for one pre-period; quasi-Monte Carlo beyond
    let tol = if direction.len() == 1 { 1e-12 } else { 1e-6 };
    let (slope, status, max_power) = bracket_bisect(target, start, tol, |s| {
        any_t_power(s, direction, sigma, lo, hi)
    })?;
    Ok(make(slope, status, max_power))
}

fn slope_wald(df: usize, level: f64, dir_quad: f64, target: f64) -> Result<SlopeForPower> {
    let make = |slope, status, max_power| SlopeForPower {
        test: "wald",
        target,
        slope,
        status,
        max_power,
    };
    let size = 1.0 - level;
    if size >= target {
        return Ok(make(0.0, SlopeStatus::AtSize, size));
    }
    if dir_quad <= 0.0 {
        return Ok(make(f64::NAN, SlopeStatus::Unreachable, size));
    }
    // power depends on the slope through lambda = slope^2 * v' Sigma^-1 v
    let (lambda, status, max_power) =
        bracket_bisect(target, 1.0, 1e-12, |lambda| Ok(wald(df, level, lambda)?.1))?;
    Ok(make((lambda / dir_quad).sqrt(), status, max_power))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pre_period_is_closed_form() {
        // pre-period e = -2 (reference -1), post e = 0; independent
        let spec = PretrendSpec {
            event_time: vec![-2, 0],
            estimate: vec![0.1, 0.3],
            vcov: vec![0.04, 0.0, 0.0, 0.09],
            delta: vec![-0.2, 0.2],
            reference: -1,
            level: 0.95,
            targets: vec![0.5, 0.8],
        };
        let out = pretrend_power(&spec).unwrap();
        let z = out.critical;
        let pass = normal_interval(-z + 0.2 / 0.2, z + 0.2 / 0.2);
        assert!((out.power.value - (1.0 - pass)).abs() < 1e-14);
        // independent post: no change after pre-testing
        assert!((out.expected_after_pretest[1] - 0.2).abs() < 1e-12);
        assert!((out.coverage_after_pretest[1] - out.coverage[1]).abs() < 1e-6);
        // slope for 50% power: |slope| * 1 = z * se solves 1 - P(pass) = 0.5 up to the far tail
        let s = &out.slopes[0];
        assert_eq!(s.status, SlopeStatus::Found);
        let p = 1.0 - normal_interval(-z - s.slope / 0.2, z - s.slope / 0.2);
        assert!((p - 0.5).abs() < 1e-8, "{p}");
        // Wald with one restriction equals the |t| test
        assert!((out.wald_power - out.power.value).abs() < 1e-8);
        let w = &out.slopes[2];
        assert!(
            (w.slope - s.slope).abs() < 1e-6,
            "{} vs {}",
            w.slope,
            s.slope
        );
    }

    #[test]
    fn targets_below_size_and_flat_trends_do_not_fail() {
        let spec = PretrendSpec {
            event_time: vec![-1, 0],
            estimate: vec![0.1, 0.3],
            vcov: vec![0.04, 0.01, 0.01, 0.09],
            delta: vec![0.0, 0.0],
            reference: -1,
            level: 0.95,
            targets: vec![0.01, 0.5],
        };
        let out = pretrend_power(&spec).unwrap();
        assert_eq!(out.slopes[0].status, SlopeStatus::AtSize);
        assert_eq!(out.slopes[1].status, SlopeStatus::Unreachable);
        assert!(out.slopes[1].slope.is_nan());
    }

    #[test]
    fn noncentral_chi2_matches_central_at_zero() {
        let c = ChiSquared::new(3.0).unwrap();
        let x = 4.0;
        assert!((noncentral_chi2_sf(x, 3.0, 0.0).unwrap() - (1.0 - c.cdf(x))).abs() < 1e-12);
        // df = 1: P(|N(mu,1)| > sqrt(x)) with lambda = mu^2
        let mu: f64 = 1.3;
        let want = 1.0 - normal_interval(-x.sqrt() - mu, x.sqrt() - mu);
        assert!((noncentral_chi2_sf(x, 1.0, mu * mu).unwrap() - want).abs() < 1e-10);
    }
}

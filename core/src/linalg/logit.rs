//! The two logit fits (maximum likelihood by Newton's method) the estimators use:
//!
//! - [`logit`]: the propensity score of PSM-DID (`robust::psm`), unweighted, with separation
//!   detection and errors that name the covariate;
//! - [`weighted_logit`]: the DRDID propensity score of `did::att_gt`, weighted, failing
//!   silently (the caller skips the cell).
//!
//! They are not one function with options: they start from different points (zero vs the
//! intercept-only solution), control the step differently (halving vs full steps), stop on
//! different rules and evaluate the logistic function in different forms, so merging them
//! would move the recorded propensity scores.
//!
//! ## `logit`
//!
//! Starts from zero, takes full Newton steps with step halving when the log-likelihood would
//! fall, and stops when the largest step is below `tol · (1 + |beta|∞)`. Standard errors from
//! the inverse observed information, as statsmodels' `Logit`.
//!
//! Separation (Albert & Anderson 1984): when a combination of covariates predicts treatment
//! perfectly the MLE does not exist and Newton's iterates diverge. We stop with an error when
//! the iterates reach fitted probabilities within 1e-10 of 0 or 1 for a share of the sample
//! while still moving, or when the information matrix becomes singular, naming the covariate
//! with the largest coefficient.

use ndarray::{Array1, Array2};

use super::{dot, spd_inverse};
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct LogitFit {
    pub beta: Array1<f64>,
    pub se: Array1<f64>,
    pub vcov: Array2<f64>,
    pub loglik: f64,
    pub iterations: usize,
    /// Fitted probabilities.
    pub fitted: Vec<f64>,
}

fn loglik(y: &[f64], eta: &[f64]) -> f64 {
    // log p = -log(1+e^-eta), log(1-p) = -log(1+e^eta), computed stably.
    y.iter()
        .zip(eta)
        .map(|(&yi, &e)| {
            let lp = -softplus(-e);
            let lq = -softplus(e);
            yi * lp + (1.0 - yi) * lq
        })
        .sum()
}

fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Logit of 0/1 `y` on the columns `x` (include an intercept column yourself).
pub fn logit(y: &[f64], x: &[(String, &[f64])], tol: f64, max_iter: usize) -> Result<LogitFit> {
    let n = y.len();
    let k = x.len();
    if n == 0 {
        return Err(Error::Empty("logit: no rows".into()));
    }
    if k == 0 {
        return Err(Error::Empty("logit: no covariates".into()));
    }
    for (name, c) in x {
        if c.len() != n {
            return Err(Error::Shape(format!(
                "covariate '{name}' has {} rows, expected {n}",
                c.len()
            )));
        }
        if let Some(bad) = c.iter().find(|v| !v.is_finite()) {
            return Err(Error::Column {
                name: name.clone(),
                reason: format!("non-finite value {bad} in the logit sample"),
            });
        }
    }
    if let Some(&bad) = y.iter().find(|&&v| v != 0.0 && v != 1.0) {
        return Err(Error::Column {
            name: "treat".into(),
            reason: format!("must be 0 or 1, found {bad}"),
        });
    }
    let n1 = y.iter().filter(|&&v| v == 1.0).count();
    if n1 == 0 || n1 == n {
        return Err(Error::Column {
            name: "treat".into(),
            reason: format!(
                "all {n} rows are {}: the propensity score needs treated and control rows",
                if n1 == 0 { "controls" } else { "treated" }
            ),
        });
    }
    // Spread of each covariate: the culprit is the largest |beta_j| * sd(x_j) (a constant has 0).
    let sd: Vec<f64> = x
        .iter()
        .map(|(_, c)| {
            let m = c.iter().sum::<f64>() / n as f64;
            (c.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n as f64).sqrt()
        })
        .collect();
    let separation = |beta: &Array1<f64>| -> Error {
        let j = (0..k)
            .max_by(|&a, &b| (beta[a] * sd[a]).abs().total_cmp(&(beta[b] * sd[b]).abs()))
            .unwrap_or(0);
        Error::Numerical(format!(
            "logit: perfect separation - the covariates predict treatment (almost) perfectly, \
             the maximum-likelihood estimate does not exist; covariate '{}' has the largest \
             coefficient ({:.3e}). Drop or coarsen it.",
            x[j].0, beta[j]
        ))
    };
    let mut beta = Array1::<f64>::zeros(k);
    let mut eta = vec![0.0; n];
    let mut ll = loglik(y, &eta);
    let mut iterations = 0;
    let mut converged = false;
    let mut w = vec![0.0; n];
    let mut r = vec![0.0; n];
    while iterations < max_iter {
        iterations += 1;
        for i in 0..n {
            let p = sigmoid(eta[i]);
            w[i] = p * (1.0 - p);
            r[i] = y[i] - p;
        }
        let grad = Array1::from_iter(x.iter().map(|(_, c)| dot(c, &r)));
        let mut h = Array2::<f64>::zeros((k, k));
        let mut wc = vec![0.0; n];
        for a in 0..k {
            for i in 0..n {
                wc[i] = w[i] * x[a].1[i];
            }
            for b in a..k {
                let v = dot(&wc, x[b].1);
                h[[a, b]] = v;
                h[[b, a]] = v;
            }
        }
        let hinv = spd_inverse(h.view()).map_err(|_| separation(&beta))?;
        let step = hinv.dot(&grad);
        let mut t = 1.0;
        let mut accepted = false;
        let mut new_beta = beta.clone();
        let mut new_eta = eta.clone();
        for _ in 0..40 {
            new_beta = &beta + &(&step * t);
            for (i, e) in new_eta.iter_mut().enumerate() {
                *e = (0..k).map(|j| new_beta[j] * x[j].1[i]).sum();
            }
            let new_ll = loglik(y, &new_eta);
            if new_ll >= ll - 1e-12 * ll.abs() {
                ll = new_ll;
                accepted = true;
                break;
            }
            t *= 0.5;
        }
        if !accepted {
            break;
        }
        let max_step = step.iter().fold(0.0f64, |m, v| m.max((v * t).abs()));
        let max_beta = new_beta.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        beta = new_beta;
        eta = new_eta;
        let extreme = eta
            .iter()
            .filter(|e| sigmoid(e.abs()) > 1.0 - 1e-10)
            .count();
        if max_step < tol * (1.0 + max_beta) {
            converged = true;
            if extreme > 0 {
                return Err(separation(&beta));
            }
            break;
        }
        if extreme > 0 && ll > -1e-6 {
            return Err(separation(&beta));
        }
    }
    let fitted: Vec<f64> = eta.iter().map(|&e| sigmoid(e)).collect();
    if !converged {
        if fitted.iter().any(|&p| !(1e-8..=1.0 - 1e-8).contains(&p)) {
            return Err(separation(&beta));
        }
        return Err(Error::Numerical(format!(
            "logit: Newton-Raphson did not converge in {max_iter} iterations"
        )));
    }
    // Information at the estimate.
    let mut h = Array2::<f64>::zeros((k, k));
    let wv: Vec<f64> = fitted.iter().map(|p| p * (1.0 - p)).collect();
    let mut wc = vec![0.0; n];
    for a in 0..k {
        for i in 0..n {
            wc[i] = wv[i] * x[a].1[i];
        }
        for b in a..k {
            let v = dot(&wc, x[b].1);
            h[[a, b]] = v;
            h[[b, a]] = v;
        }
    }
    let vcov = spd_inverse(h.view()).map_err(|_| separation(&beta))?;
    let se = vcov.diag().mapv(f64::sqrt);
    Ok(LogitFit {
        beta,
        se,
        vcov,
        loglik: ll,
        iterations,
        fitted,
    })
}

/// Weighted logit by Newton's method (the DRDID propensity score of `did::att_gt`, as R's
/// `DRDID`): `x` row-major n×k with the intercept in column 0. Starts from the intercept-only
/// solution (closed form when k = 1), full Newton steps, stops when every step is below
/// 1e-12·(1 + |beta_j|) (at most 100 steps). Returns (beta, fitted p, (X'WX)^{-1} where
/// W = w p(1-p)); None when the fit fails (no variation, singular information, divergence).
#[allow(clippy::type_complexity)]
pub fn weighted_logit(
    x: &[f64],
    d: &[f64],
    w: &[f64],
    k: usize,
) -> Option<(Vec<f64>, Vec<f64>, Array2<f64>)> {
    let n = d.len();
    let mut beta = vec![0.0; k];
    // start from the intercept-only solution
    let sw: f64 = w.iter().sum();
    let sd: f64 = w.iter().zip(d).map(|(a, b)| a * b).sum();
    let p0 = sd / sw;
    if !(p0 > 0.0 && p0 < 1.0) {
        return None;
    }
    beta[0] = (p0 / (1.0 - p0)).ln();
    if k == 1 {
        // intercept only: the MLE is the weighted share, in closed form
        let h = sw * p0 * (1.0 - p0);
        return Some((beta, vec![p0; n], Array2::from_elem((1, 1), 1.0 / h)));
    }
    let mut p = vec![0.0; n];
    // The Hessian is accumulated in a flat row-major k x k buffer (each entry summed over the
    // rows in order, as with an Array2, without its per-access index checks in the row loop).
    let mut h = vec![0.0; k * k];
    for _ in 0..100 {
        h.fill(0.0);
        let mut grad = vec![0.0; k];
        for ((xi, pi_out), (&wi0, &di)) in x.chunks_exact(k).zip(p.iter_mut()).zip(w.iter().zip(d))
        {
            let eta: f64 = xi.iter().zip(&beta).map(|(a, b)| a * b).sum();
            let pi = 1.0 / (1.0 + (-eta).exp());
            *pi_out = pi;
            let wi = wi0 * pi * (1.0 - pi);
            let r = wi0 * (di - pi);
            for a in 0..k {
                grad[a] += r * xi[a];
                let row = &mut h[a * k..a * k + a + 1];
                for (hb, &xb) in row.iter_mut().zip(xi) {
                    *hb += wi * xi[a] * xb;
                }
            }
        }
        for a in 0..k {
            for b in 0..a {
                h[b * k + a] = h[a * k + b];
            }
        }
        let hm = ndarray::ArrayView2::from_shape((k, k), &h).ok()?;
        let hi = spd_inverse(hm).ok()?;
        let step: Vec<f64> = (0..k)
            .map(|a| (0..k).map(|b| hi[[a, b]] * grad[b]).sum())
            .collect();
        let mut big = 0.0f64;
        for a in 0..k {
            beta[a] += step[a];
            big = big.max(step[a].abs() / (1.0 + beta[a].abs()));
        }
        if !beta.iter().all(|b| b.is_finite()) {
            return None;
        }
        if big < 1e-12 {
            // refresh fitted values and the Hessian at the final beta
            h.fill(0.0);
            for ((xi, pi_out), &wi0) in x.chunks_exact(k).zip(p.iter_mut()).zip(w) {
                let eta: f64 = xi.iter().zip(&beta).map(|(a, b)| a * b).sum();
                let pi = 1.0 / (1.0 + (-eta).exp());
                *pi_out = pi;
                let wi = wi0 * pi * (1.0 - pi);
                for (a, row) in h.chunks_exact_mut(k).enumerate() {
                    for (hb, &xb) in row.iter_mut().zip(xi) {
                        *hb += wi * xi[a] * xb;
                    }
                }
            }
            let hm = ndarray::ArrayView2::from_shape((k, k), &h).ok()?;
            let hi = spd_inverse(hm).ok()?;
            return Some((beta, p, hi));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separated_data_is_an_error() {
        let y = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        let one = [1.0; 6];
        let x1 = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let e = logit(
            &y,
            &[("const".into(), &one), ("x1".into(), &x1)],
            1e-10,
            100,
        )
        .unwrap_err();
        assert!(e.to_string().contains("separation"), "{e}");
        assert!(e.to_string().contains("x1"), "{e}");
    }
}

//! The conditional moment-inequality tests of Andrews, Roth & Pakes (2023, "Inference for
//! linear conditional moment inequalities", REStud), as HonestDiD's R code applies them
//! (`R/arp-nuisance.R`, `R/arp-nonuisance.R`): the test of `E[y - X delta] <= 0` with nuisance
//! `delta` (primal approach when the LP's binding set is a non-degenerate vertex, dual bisection
//! of Appendix D otherwise), the no-nuisance test, and the least-favourable first stage of the
//! hybrid (critical value from `sims` draws, quantile 1 - kappa).

use super::linalg::{dot, mat_vec, quad, solve_square, Rows};
use super::simplex::{maximize_standard, LpOutcome};
use statrs::distribution::{ContinuousCDF, Normal};

/// Which test: ARP's conditional test, or the conditional-least-favourable hybrid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Hybrid {
    Conditional,
    /// hybrid with first-stage size kappa and least-favourable critical value `lf_cv`
    LeastFavorable {
        kappa: f64,
        lf_cv: f64,
    },
}

fn std_normal() -> Normal {
    Normal::standard()
}

/// `eta* = min eta s.t. y - X delta <= eta * sd` and a vertex of its dual (the lambda of HonestDiD).
/// Solved as the dual `max y'l s.t. sd'l = 1, X'l = 0, l >= 0`, whose optimal vertex is lambda.
pub(crate) fn eta_lp(y: &[f64], x: &Rows, sd: &[f64]) -> Option<(f64, Vec<f64>)> {
    let m = y.len();
    let k = x.first().map_or(0, |r| r.len());
    let mut a = vec![0.0; (k + 1) * m];
    for i in 0..m {
        a[i] = sd[i];
        for j in 0..k {
            a[(j + 1) * m + i] = x[i][j];
        }
    }
    let mut b = vec![0.0; k + 1];
    b[0] = 1.0;
    match maximize_standard(&a, &b, y) {
        LpOutcome::Optimal { x, value } => Some((value, x)),
        _ => None,
    }
}

/// `norminvp_generalized`: the p-quantile of N(mu, sd^2) truncated to [l, u].
pub(crate) fn truncated_normal_quantile(p: f64, l: f64, u: f64, mu: f64, sd: f64) -> f64 {
    if sd <= 0.0 {
        return mu;
    }
    let (ln, un) = ((l - mu) / sd, (u - mu) / sd);
    if ln >= un {
        return mu + ln * sd;
    }
    let n = std_normal();
    let q = if ln > 0.0 {
        // upper tail: work with survival probabilities to keep precision
        let (a, b) = (n.cdf(-ln), n.cdf(-un));
        -n.inverse_cdf((1.0 - p) * (a - b) + b)
    } else {
        let (a, b) = (n.cdf(ln), n.cdf(un));
        n.inverse_cdf(a + p * (b - a))
    };
    mu + q.clamp(ln, un) * sd
}

/// Test of `E[y] <= d` (rows of `a`, no nuisance): `.test_in_identified_set` and its LF hybrid.
/// Returns true when rejected.
pub(crate) fn test_no_nuisance(
    y: &[f64],
    sigma: &Rows,
    a: &Rows,
    d: &[f64],
    alpha: f64,
    hybrid: Hybrid,
) -> bool {
    let n = y.len();
    let rows = a.len();
    let at: Rows = a
        .iter()
        .map(|r| {
            let s = quad(r, sigma).sqrt();
            r.iter().map(|v| v / s).collect()
        })
        .collect();
    let dt: Vec<f64> = a
        .iter()
        .zip(d)
        .map(|(r, di)| di / quad(r, sigma).sqrt())
        .collect();
    let moments: Vec<f64> = (0..rows).map(|i| dot(&at[i], y) - dt[i]).collect();
    let mut loc = 0;
    for i in 1..rows {
        if moments[i] > moments[loc] {
            loc = i;
        }
    }
    let max_moment = moments[loc];
    let alpha_used = match hybrid {
        Hybrid::Conditional => alpha,
        Hybrid::LeastFavorable { kappa, lf_cv } => {
            if max_moment > lf_cv {
                return true;
            }
            (alpha - kappa) / (1.0 - kappa)
        }
    };
    let gamma = &at[loc];
    let sg = mat_vec(sigma, gamma);
    let gsg = dot(gamma, &sg);
    let c: Vec<f64> = sg.iter().map(|v| v / gsg).collect();
    let gy = dot(gamma, y);
    let z: Vec<f64> = (0..n).map(|i| y[i] - c[i] * gy).collect();
    let (mut vlo, mut vup) = (f64::NEG_INFINITY, f64::INFINITY);
    for i in 0..rows {
        let abar: Vec<f64> = (0..n).map(|j| at[i][j] - gamma[j]).collect();
        let dbar = dt[i] - dt[loc];
        let ac = dot(&abar, &c);
        let obj = (dbar - dot(&abar, &z)) / ac;
        if ac < 0.0 {
            vlo = vlo.max(obj);
        } else if ac > 0.0 {
            vup = vup.min(obj);
        }
    }
    let mu = dt[loc];
    let cv = truncated_normal_quantile(1.0 - alpha_used, vlo, vup, mu, gsg.sqrt()).max(0.0);
    max_moment + mu > cv
}

/// `.lp_conditional_test_fn`: ARP test of `E[y - X delta] <= 0` with nuisance delta.
/// Returns true when rejected.
pub(crate) fn test_nuisance(y: &[f64], x: &Rows, sigma: &Rows, alpha: f64, hybrid: Hybrid) -> bool {
    let m = y.len();
    let k = x.first().map_or(0, |r| r.len());
    let sd: Vec<f64> = (0..m).map(|i| sigma[i][i].sqrt()).collect();
    let Some((eta, lambda)) = eta_lp(y, x, &sd) else {
        return false; // HonestDiD: "LP for eta did not converge. Not rejecting."
    };
    let (mod_size, lf_cv) = match hybrid {
        Hybrid::Conditional => (alpha, f64::INFINITY),
        Hybrid::LeastFavorable { kappa, lf_cv } => {
            if eta > lf_cv {
                return true;
            }
            ((alpha - kappa) / (1.0 - kappa), lf_cv)
        }
    };
    let tol_lambda = 1e-6;
    let binding: Vec<usize> = (0..m).filter(|&i| lambda[i] > tol_lambda).collect();
    let degenerate = binding.len() != k + 1;
    let x_b: Rows = binding.iter().map(|&i| x[i].clone()).collect();
    let full_rank =
        !x_b.is_empty() && k > 0 && rank(&x_b) == x_b.len().min(k) || (k == 0 && !x_b.is_empty());
    let decide = |stat: f64, zlo: f64, zup: f64| -> bool {
        if !(zlo <= stat && stat <= zup) {
            return false;
        }
        let cval = truncated_normal_quantile(1.0 - mod_size, zlo, zup, 0.0, 1.0).max(0.0);
        stat > cval
    };
    if !full_rank || degenerate {
        // dual approach (ARP Appendix D)
        let gsg = quad(&lambda, sigma);
        if gsg.abs() < f64::EPSILON {
            return eta > 0.0;
        }
        if gsg < 0.0 {
            return false;
        }
        let (vlo, vup) = vlo_vup_dual(eta, y, &lambda, sigma, x, &sd);
        let sb = gsg.sqrt();
        decide(eta / sb, vlo / sb, vup.min(lf_cv) / sb)
    } else {
        // primal approach: the binding rows B of [sd, X] form an invertible (k+1) square
        let cb: Rows = binding
            .iter()
            .map(|&i| std::iter::once(sd[i]).chain(x[i].iter().copied()).collect())
            .collect();
        let Some(cb_inv) = invert(&cb) else {
            return false;
        };
        // v_B = first row of cb^{-1} S_B (an m-vector supported on B)
        let mut v_b = vec![0.0; m];
        for (jj, &i) in binding.iter().enumerate() {
            v_b[i] = cb_inv[0][jj];
        }
        let sigma2_b = quad(&v_b, sigma);
        let sigma_b = sigma2_b.sqrt();
        let sv = mat_vec(sigma, &v_b);
        let vy = dot(&v_b, y);
        let (mut vlo, mut vup) = (f64::NEG_INFINITY, f64::INFINITY);
        for i in 0..m {
            if binding.contains(&i) {
                continue;
            }
            // Gamma_B row i: [sd_i, x_i] cb^{-1} S_B - e_i
            let row_c: Vec<f64> = std::iter::once(sd[i]).chain(x[i].iter().copied()).collect();
            let mut g = vec![0.0; m];
            for (jj, &bi) in binding.iter().enumerate() {
                g[bi] = (0..=k).map(|q| row_c[q] * cb_inv[q][jj]).sum();
            }
            g[i] -= 1.0;
            let rho = dot(&g, &sv) / sigma2_b;
            let maximand = -dot(&g, y) / rho + vy;
            if rho > 0.0 {
                vlo = vlo.max(maximand);
            } else if rho < 0.0 {
                vup = vup.min(maximand);
            }
        }
        decide(eta / sigma_b, vlo / sigma_b, vup.min(lf_cv) / sigma_b)
    }
}

/// `.max_program`: max f'x s.t. W'x = e1, x >= 0 with f = s + Sigma gamma c / (gamma' Sigma gamma).
fn max_program(
    s: &[f64],
    sg_over: &[f64],
    w: &[f64],
    k1: usize,
    c: f64,
) -> Option<(f64, Vec<f64>)> {
    let f: Vec<f64> = s.iter().zip(sg_over).map(|(si, gi)| si + gi * c).collect();
    let mut b = vec![0.0; k1];
    b[0] = 1.0;
    match maximize_standard(w, &b, &f) {
        LpOutcome::Optimal { x, value } => Some((value, x)),
        _ => None,
    }
}

/// `.vlo_vup_dual_fn` (ARP Algorithm 1): truncation points by secant steps, then bisection.
fn vlo_vup_dual(
    eta: f64,
    y: &[f64],
    gamma: &[f64],
    sigma: &Rows,
    x: &Rows,
    sd: &[f64],
) -> (f64, f64) {
    let m = y.len();
    let k1 = x.first().map_or(0, |r| r.len()) + 1;
    // W' in row-major (k1 x m): rows sd', then X' columns
    let mut w = vec![0.0; k1 * m];
    for i in 0..m {
        w[i] = sd[i];
        for j in 1..k1 {
            w[j * m + i] = x[i][j - 1];
        }
    }
    let sg = mat_vec(sigma, gamma);
    let gsg = dot(gamma, &sg);
    let b_vec: Vec<f64> = sg.iter().map(|v| v / gsg).collect();
    let gy = dot(gamma, y);
    let s: Vec<f64> = (0..m).map(|i| y[i] - b_vec[i] * gy).collect();
    let tol_c = 1e-6;
    let tol_eq = 1e-6;
    let sigma_b = gsg.sqrt();
    let low_initial = (-100.0f64).min(eta - 20.0 * sigma_b);
    let high_initial = 100.0f64.max(eta + 20.0 * sigma_b);
    let maxiters = 10_000;
    let switchiters = 10;
    let check = |c: f64| -> (bool, Vec<f64>) {
        match max_program(&s, &b_vec, &w, k1, c) {
            Some((opt, sol)) => ((c - opt).abs() <= tol_eq, sol),
            None => (false, vec![0.0; m]),
        }
    };
    let roundeps = |v: f64| {
        if v.abs() < f64::EPSILON.powf(0.75) {
            0.0
        } else {
            v
        }
    };
    if !check(eta).0 {
        return (eta, f64::INFINITY);
    }
    let secant = |sol: &[f64], fallback: f64| {
        let denom = 1.0 - dot(sol, &b_vec);
        if denom.abs() > 1e-15 {
            roundeps(dot(sol, &s)) / denom
        } else {
            fallback
        }
    };
    // vup
    let (ok, sol) = check(high_initial);
    let vup = if ok {
        f64::INFINITY
    } else {
        let mut dif = 0.0;
        let mut iters = 1;
        let mut mid = secant(&sol, high_initial);
        let (mut ok, mut sol) = check(mid);
        while !ok && iters < maxiters {
            iters += 1;
            if iters >= switchiters {
                dif = tol_c + 1.0;
                break;
            }
            mid = secant(&sol, mid);
            (ok, sol) = check(mid);
        }
        let (mut low, mut high) = (eta, mid);
        while dif > tol_c && iters < maxiters {
            iters += 1;
            mid = (high + low) / 2.0;
            if check(mid).0 {
                low = mid;
            } else {
                high = mid;
            }
            dif = high - low;
        }
        mid
    };
    // vlo
    let (ok, sol) = check(low_initial);
    let vlo = if ok {
        f64::NEG_INFINITY
    } else {
        let mut dif = 0.0;
        let mut iters = 1;
        let mut mid = secant(&sol, low_initial);
        let (mut ok, mut sol) = check(mid);
        while !ok && iters < maxiters {
            iters += 1;
            if iters >= switchiters {
                dif = tol_c + 1.0;
                break;
            }
            mid = secant(&sol, mid);
            (ok, sol) = check(mid);
        }
        let (mut low, mut high) = (mid, eta);
        while dif > tol_c && iters < maxiters {
            mid = (low + high) / 2.0;
            iters += 1;
            if check(mid).0 {
                high = mid;
            } else {
                low = mid;
            }
            dif = high - low;
        }
        mid
    };
    (vlo, vup)
}

fn invert(a: &Rows) -> Option<Rows> {
    let n = a.len();
    let mut inv = Vec::with_capacity(n);
    let cols: Vec<Vec<f64>> = (0..n)
        .map(|j| {
            let mut e = vec![0.0; n];
            e[j] = 1.0;
            solve_square(a, &e)
        })
        .collect::<Option<_>>()?;
    for i in 0..n {
        inv.push(cols.iter().map(|c| c[i]).collect());
    }
    Some(inv)
}

/// Numerical rank by Gaussian elimination with complete pivoting (tolerance relative to the
/// largest entry, like numpy's SVD rank on these well-scaled 0/±1/M̄ matrices).
fn rank(a: &Rows) -> usize {
    let mut m = a.clone();
    let (r, c) = (m.len(), m.first().map_or(0, |x| x.len()));
    let scale = m.iter().flatten().fold(0.0f64, |s, v| s.max(v.abs()));
    let tol = scale * (r.max(c) as f64) * f64::EPSILON * 16.0;
    let mut rank = 0;
    let mut used_cols = vec![false; c];
    for _ in 0..r.min(c) {
        let mut best = (0, 0, 0.0);
        for (i, row) in m.iter().enumerate().skip(rank) {
            for (j, v) in row.iter().enumerate() {
                if !used_cols[j] && v.abs() > best.2 {
                    best = (i, j, v.abs());
                }
            }
        }
        if best.2 <= tol {
            break;
        }
        m.swap(rank, best.0);
        let pj = best.1;
        used_cols[pj] = true;
        let prow = m[rank].clone();
        for row in m.iter_mut().skip(rank + 1) {
            let f = row[pj] / prow[pj];
            for j in 0..c {
                row[j] -= f * prow[j];
            }
        }
        rank += 1;
    }
    rank
}

/// Least-favourable critical value: the 1 - kappa quantile of the LP statistic (or of the
/// largest standardised moment without nuisance) under y ~ N(0, sigma); numpy's default
/// (linear) quantile. `draws` holds standard normals, `sims` rows of `sigma.len()`.
pub(crate) fn least_favorable_cv(
    x: Option<&Rows>,
    sigma: &Rows,
    kappa: f64,
    draws: &[f64],
    sqrt_sigma: &Rows,
) -> f64 {
    let m = sigma.len();
    let sims = draws.len() / m.max(1);
    let sd: Vec<f64> = (0..m).map(|i| sigma[i][i].sqrt()).collect();
    let mut stats = Vec::with_capacity(sims);
    for r in 0..sims {
        let z = &draws[r * m..(r + 1) * m];
        let xi = mat_vec(sqrt_sigma, z);
        match x {
            None => stats.push(
                xi.iter()
                    .zip(&sd)
                    .map(|(a, s)| a / s)
                    .fold(f64::NEG_INFINITY, f64::max),
            ),
            Some(xm) => {
                if let Some((eta, _)) = eta_lp(&xi, xm, &sd) {
                    stats.push(eta);
                }
            }
        }
    }
    if stats.is_empty() {
        return f64::INFINITY;
    }
    stats.sort_by(|a, b| a.total_cmp(b));
    let pos = (1.0 - kappa) * (stats.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(stats.len() - 1);
    stats[lo] + (pos - lo as f64) * (stats[hi] - stats[lo])
}

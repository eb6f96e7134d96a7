//! Fixed-length confidence interval for l'tau under Δ^SD(M) (Armstrong & Kolesár 2018; Rambachan
//! & Roth 2023, Section 4.1), as HonestDiD's `R/flci.R` computes it: the affine estimator
//! l_pre'beta_pre + l'beta_post is parameterised by w (l_pre = first differences of w); for a
//! standard deviation h the worst-case bias is minimised (an SOCP), and h is chosen between the
//! minimum-variance h and the minimum-bias h0 by bisection on the finite-difference derivative
//! of the half-length cv_alpha(bias / h) * h. The conic programs are solved by Clarabel.
//!
//! One deliberate difference: cv_alpha(b), the 1 - alpha quantile of |N(b, 1)|, is computed
//! exactly (root of Phi(q - b) - Phi(-q - b) = 1 - alpha), where HonestDiD simulates it from
//! 10^6 normal draws (`.qfoldednormal`), whose Monte Carlo error is about 2e-3 in units of h.

use super::linalg::{dot, Rows};
use crate::error::{Error, Result};
use clarabel::algebra::CscMatrix;
use clarabel::solver::{
    DefaultSettingsBuilder, DefaultSolver, IPSolver, SolverStatus, SupportedConeT,
};
use statrs::distribution::{ContinuousCDF, Normal};

/// The FLCI at one M: the interval, its estimator's weights and its half-length.
#[derive(Debug, Clone)]
pub struct Flci {
    pub lb: f64,
    pub ub: f64,
    pub half_length: f64,
    /// weights on (beta_pre, beta_post) of the affine estimator
    pub weights: Vec<f64>,
    /// the chosen standard deviation h
    pub h: f64,
}

/// 1 - alpha quantile of |N(b, 1)|.
pub fn folded_normal_quantile(p: f64, b: f64) -> f64 {
    let n = Normal::standard();
    let b = b.abs();
    let f = |q: f64| n.cdf(q - b) - n.cdf(-q - b) - p;
    let (mut lo, mut hi) = (0.0, b + 10.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if f(mid) < 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-15 * (1.0 + hi) {
            break;
        }
    }
    0.5 * (lo + hi)
}

struct Setup {
    k: usize,
    /// Cholesky factor columns: sigma = L L', rows of L' split into pre / post columns
    lt_pre: Rows,
    lt_post_l: Vec<f64>,
    sum_target: f64,
    bias_constant: f64,
    sigma_pre: Rows,
    sigma_prepost_l: Vec<f64>,
    var_post: f64,
}

fn w_to_l(w: &[f64]) -> Vec<f64> {
    (0..w.len())
        .map(|i| if i == 0 { w[0] } else { w[i] - w[i - 1] })
        .collect()
}

fn setup(sigma: &Rows, n_pre: usize, n_post: usize, l_vec: &[f64]) -> Result<Setup> {
    let n = n_pre + n_post;
    let a = ndarray::Array2::from_shape_fn((n, n), |(i, j)| sigma[i][j]);
    let chol = faer::Mat::<f64>::from_fn(n, n, |i, j| a[[i, j]])
        .llt(faer::Side::Lower)
        .map_err(|e| Error::Numerical(format!("FLCI: covariance not positive definite ({e:?})")))?;
    let l = chol.L();
    // row r of L' = column r of L
    let lt_pre: Rows = (0..n)
        .map(|r| (0..n_pre).map(|c| l[(c, r)]).collect())
        .collect();
    let lt_post_l: Vec<f64> = (0..n)
        .map(|r| (0..n_post).map(|c| l[(n_pre + c, r)] * l_vec[c]).sum())
        .collect();
    let sum_target: f64 = l_vec
        .iter()
        .enumerate()
        .map(|(j, v)| (j + 1) as f64 * v)
        .sum();
    let mut bias_constant = 0.0;
    for s in 1..=n_post {
        let v: f64 = (1..=s).map(|j| j as f64 * l_vec[n_post - s + j - 1]).sum();
        bias_constant += v.abs();
    }
    bias_constant -= sum_target;
    let sigma_pre: Rows = (0..n_pre).map(|i| sigma[i][..n_pre].to_vec()).collect();
    let sigma_prepost_l: Vec<f64> = (0..n_pre).map(|i| dot(&sigma[i][n_pre..], l_vec)).collect();
    let post: Vec<f64> = (0..n_post)
        .map(|i| dot(&sigma[n_pre + i][n_pre..], l_vec))
        .collect();
    let var_post = dot(l_vec, &post);
    Ok(Setup {
        k: n_pre,
        lt_pre,
        lt_post_l,
        sum_target,
        bias_constant,
        sigma_pre,
        sigma_prepost_l,
        var_post,
    })
}

fn variance_of_w(st: &Setup, w: &[f64]) -> f64 {
    let lp = w_to_l(w);
    let sp: Vec<f64> = st.sigma_pre.iter().map(|r| dot(r, &lp)).collect();
    dot(&lp, &sp) + 2.0 * dot(&lp, &st.sigma_prepost_l) + st.var_post
}

/// Rows of |cumsum(w)| <= U (x = [U; w]) and the sum constraint, in Clarabel's A x + s = b form.
fn linear_rows(st: &Setup) -> (Vec<Vec<f64>>, Vec<f64>) {
    let k = st.k;
    let mut rows = Vec::new();
    let mut b = Vec::new();
    // equality first (ZeroCone): sum(w) = target
    let mut eq = vec![0.0; 2 * k];
    eq[k..].iter_mut().for_each(|v| *v = 1.0);
    rows.push(eq);
    b.push(st.sum_target);
    for sign in [1.0, -1.0] {
        for i in 0..k {
            let mut r = vec![0.0; 2 * k];
            r[i] = -1.0;
            for j in 0..=i {
                r[k + j] = sign;
            }
            rows.push(r);
            b.push(0.0);
        }
    }
    (rows, b)
}

fn settings() -> clarabel::solver::DefaultSettings<f64> {
    DefaultSettingsBuilder::default()
        .verbose(false)
        .tol_gap_abs(1e-10)
        .tol_gap_rel(1e-10)
        .tol_feas(1e-10)
        .build()
        .expect("static Clarabel settings are valid")
}

fn solved(s: SolverStatus) -> bool {
    matches!(s, SolverStatus::Solved | SolverStatus::AlmostSolved)
}

/// Minimal worst-case bias (per unit M) given sd <= h, and its w; None if infeasible.
fn worst_case_bias(st: &Setup, h: f64) -> Option<(f64, Vec<f64>)> {
    let k = st.k;
    let (mut rows, mut b) = linear_rows(st);
    // second-order cone: (h, L'[W2L w; l]) ; s = b - A x
    rows.push(vec![0.0; 2 * k]);
    b.push(h);
    for r in 0..st.lt_pre.len() {
        // (L'_pre W2L w)_r = sum_i lt_pre[r][i] * (w_i - w_{i-1}) = sum_j w_j (lt[r][j] - lt[r][j+1])
        let mut row = vec![0.0; 2 * k];
        for j in 0..k {
            let next = if j + 1 < k { st.lt_pre[r][j + 1] } else { 0.0 };
            row[k + j] = -(st.lt_pre[r][j] - next);
        }
        rows.push(row);
        b.push(st.lt_post_l[r]);
    }
    let a = CscMatrix::from(&rows);
    let p = CscMatrix::<f64>::zeros((2 * k, 2 * k));
    let mut q = vec![0.0; 2 * k];
    q[..k].iter_mut().for_each(|v| *v = 1.0);
    let cones = [
        SupportedConeT::ZeroConeT(1),
        SupportedConeT::NonnegativeConeT(2 * k),
        SupportedConeT::SecondOrderConeT(1 + st.lt_pre.len()),
    ];
    let mut solver = DefaultSolver::new(&p, &q, &a, &b, &cones, settings()).ok()?;
    solver.solve();
    if !solved(solver.solution.status) {
        return None;
    }
    let x = solver.solution.x.clone();
    Some((
        st.bias_constant + x[..k].iter().sum::<f64>(),
        x[k..].to_vec(),
    ))
}

/// Smallest achievable sd (the QP of `.findLowestH`) and the pre-period weights attaining it.
fn lowest_h(st: &Setup) -> Option<(f64, Vec<f64>)> {
    let k = st.k;
    let (rows, b) = linear_rows(st);
    // variance(w) = lp' S lp + 2 lp' c + v with lp = D w; P = 2 D' S D, q = 2 D' c
    let d: Rows = (0..k)
        .map(|i| {
            (0..k)
                .map(|j| {
                    if i == j {
                        1.0
                    } else if i == j + 1 {
                        -1.0
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect();
    let sd: Rows = (0..k)
        .map(|i| {
            (0..k)
                .map(|j| (0..k).map(|m| st.sigma_pre[i][m] * d[m][j]).sum())
                .collect()
        })
        .collect();
    let mut p = vec![vec![0.0; 2 * k]; 2 * k];
    for i in 0..k {
        for j in 0..k {
            p[k + i][k + j] = 2.0 * (0..k).map(|m| d[m][i] * sd[m][j]).sum::<f64>();
        }
    }
    let mut p_upper = p.clone();
    for (i, row) in p_upper.iter_mut().enumerate() {
        for v in row.iter_mut().take(i) {
            *v = 0.0;
        }
    }
    let mut q = vec![0.0; 2 * k];
    for j in 0..k {
        q[k + j] = 2.0 * (0..k).map(|m| d[m][j] * st.sigma_prepost_l[m]).sum::<f64>();
    }
    let a = CscMatrix::from(&rows);
    let pm = CscMatrix::from(&p_upper);
    let cones = [
        SupportedConeT::ZeroConeT(1),
        SupportedConeT::NonnegativeConeT(2 * k),
    ];
    let mut solver = DefaultSolver::new(&pm, &q, &a, &b, &cones, settings()).ok()?;
    solver.solve();
    if !solved(solver.solution.status) {
        return None;
    }
    let w = solver.solution.x[k..].to_vec();
    Some((variance_of_w(st, &w).max(0.0).sqrt(), w))
}

/// The FLCI at smoothness bound `m` (`findOptimalFLCI`), at level 1 - alpha.
#[allow(clippy::too_many_arguments)]
pub fn flci(
    betahat: &[f64],
    sigma: &Rows,
    n_pre: usize,
    n_post: usize,
    l_vec: &[f64],
    m: f64,
    alpha: f64,
    num_points: usize,
) -> Result<Flci> {
    if !m.is_finite() || m < 0.0 {
        return Err(Error::Option {
            name: "m".into(),
            reason: format!("must be finite and >= 0, got {m}"),
        });
    }
    let st = setup(sigma, n_pre, n_post, l_vec)?;
    let mut w0 = vec![0.0; n_pre];
    w0[n_pre - 1] = st.sum_target;
    let h0 = variance_of_w(&st, &w0).max(0.0).sqrt();
    let (h_min, w_min) = lowest_h(&st)
        .ok_or_else(|| Error::Numerical("FLCI: minimum-variance program failed".into()))?;
    let half = |h: f64| -> Option<f64> {
        let (bias, _) = worst_case_bias(&st, h)?;
        Some(folded_normal_quantile(1.0 - alpha, m * bias / h) * h)
    };
    let h_star = bisection(h_min, h0, num_points, &half);
    let (h, hl) = match h_star {
        Some(h) => (h, half(h)),
        None => {
            // HonestDiD's fallback: grid search over max(numPoints, 1000) values
            let n = num_points.max(1000);
            let mut best = (h_min, None::<f64>);
            for i in 0..n {
                let h = if n == 1 {
                    h_min
                } else {
                    h_min + (h0 - h_min) * i as f64 / (n - 1) as f64
                };
                if let Some(v) = half(h.max(1e-15)) {
                    if best.1.map_or(true, |b| v < b) {
                        best = (h, Some(v));
                    }
                }
            }
            (best.0, best.1)
        }
    };
    let hl = hl.ok_or_else(|| Error::Numerical("FLCI: worst-case bias program failed".into()))?;
    // At h = h_min the bias program's feasible set {w : sd(w) <= h_min} is the single
    // minimum-variance point, which an interior-point solver only reaches to about the square
    // root of its tolerance (centres off by ~1e-3 sd); the QP that found h_min gives that
    // point directly (strictly convex, so to full accuracy).
    let w = if h == h_min {
        w_min
    } else {
        worst_case_bias(&st, h)
            .ok_or_else(|| Error::Numerical("FLCI: worst-case bias program failed".into()))?
            .1
    };
    let mut weights = w_to_l(&w);
    weights.extend_from_slice(l_vec);
    let pe = dot(&weights, betahat);
    Ok(Flci {
        lb: pe - hl,
        ub: pe + hl,
        half_length: hl,
        weights,
        h,
    })
}

/// `.findOptimalCIDerivativeBisection`: None where HonestDiD returns NA (then a grid search).
fn bisection(a0: f64, b0: f64, num_points: usize, f: &dyn Fn(f64) -> Option<f64>) -> Option<f64> {
    let (mut a, mut b) = (a0, b0);
    let dif = (b - a) / num_points as f64;
    if dif.is_nan() || dif <= 0.0 {
        return Some(a);
    }
    let failtol = f64::EPSILON.sqrt().max(2.0);
    let fa = f(a)?;
    let fb = f(b)?;
    let fpa = (f(a + dif)? - fa) / dif;
    let fpb = (f(b - dif)? - fb) / (-dif);
    let maxiter = (10.0 * ((b - a).abs() / dif).max(1.0).log2().ceil()) as usize;
    if fpa > fpb {
        return None;
    }
    if fpb < 0.0 {
        return Some(b);
    }
    if fpa > 0.0 {
        return Some(a);
    }
    let mut it = 1;
    while (b - a).abs() > dif {
        it += 1;
        let x = (a + b) / 2.0;
        let fpx = (f(x + dif)? - f(x - dif)?) / (2.0 * dif);
        if fpx > fpb + failtol || fpx + failtol < fpa || it > maxiter {
            return None;
        }
        if fpx > 0.0 {
            b = x;
        } else {
            a = x;
        }
    }
    Some((a + b) / 2.0)
}

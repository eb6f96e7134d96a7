//! Fixed-length confidence interval for l'tau under Δ^SD(M) (Armstrong & Kolesár 2018; Rambachan
//! & Roth 2023, Section 4.1), as HonestDiD's `R/flci.R` computes it: the affine estimator
//! l_pre'beta_pre + l'beta_post is parameterised by w (l_pre = first differences of w); for a
//! standard deviation h the worst-case bias is minimised (an SOCP), and h is chosen between the
//! minimum-variance h and the minimum-bias h0 by bisection on the finite-difference derivative
//! of the half-length cv_alpha(bias / h) * h.
//!
//! Both programs are solved exactly rather than by a conic solver. In the cumulative sums
//! c_i = w_1 + … + w_i (i < k; c_k = Σw is fixed by l), the standard deviation is the norm of
//! an affine map, ||M c + m0||, and the worst-case bias per unit M is ||c||_1 plus constants:
//! - minimum variance (`.findLowestH`): least squares in c;
//! - minimum bias given sd <= h (`.findWorstCaseBiasGivenH`): min ||c||_1 s.t. ||M c + m0|| <= h,
//!   whose solution is the lasso's for the penalty at which the constraint binds; the lasso path
//!   is piecewise linear in the penalty (LARS with its drop step), so the homotopy walks it and
//!   solves the quadratic ||r||² = h² on the segment where it crosses h.
//!
//! HonestDiD states these as a SOCP and a QP with |c_i| <= U_i; the formulations have the same
//! solutions (M has full column rank, so each has exactly one).
//!
//! One deliberate difference: cv_alpha(b), the 1 - alpha quantile of |N(b, 1)|, is computed
//! exactly (root of Phi(q - b) - Phi(-q - b) = 1 - alpha), where HonestDiD simulates it from
//! 10^6 normal draws (`.qfoldednormal`), whose Monte Carlo error is about 2e-3 in units of h.

use super::linalg::{dot, Rows};
use crate::error::{Error, Result};
use faer::prelude::Solve;
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

/// The programs in the cumulative sums c (length p = k - 1): w = w0 + T c, where w_1 = c_1,
/// w_j = c_j - c_{j-1} and w_k = target - c_{k-1}; the standard deviation of the estimator with
/// pre-period weights w is ||M c + m0|| (M = G T, m0 = G w0 + L' [0; l], G the pre-period
/// columns of L' applied to the first differences of w).
struct CumsumForm {
    /// columns of M (p of them, each of length n)
    cols: Vec<Vec<f64>>,
    m0: Vec<f64>,
    /// M'M and M'm0
    gram: Rows,
    cross: Vec<f64>,
    target: f64,
}

impl CumsumForm {
    fn new(st: &Setup) -> Self {
        let k = st.k;
        // G's column j: the coefficient of w_j in L' [D w; l] (D w = first differences of w)
        let g_col = |j: usize| -> Vec<f64> {
            st.lt_pre
                .iter()
                .map(|row| row[j] - if j + 1 < k { row[j + 1] } else { 0.0 })
                .collect()
        };
        let g: Vec<Vec<f64>> = (0..k).map(g_col).collect();
        // c_j raises w_j and lowers w_{j+1}
        let cols: Vec<Vec<f64>> = (0..k - 1)
            .map(|j| g[j].iter().zip(&g[j + 1]).map(|(a, b)| a - b).collect())
            .collect();
        let m0: Vec<f64> = g[k - 1]
            .iter()
            .zip(&st.lt_post_l)
            .map(|(gv, lv)| st.sum_target * gv + lv)
            .collect();
        let gram = cols
            .iter()
            .map(|a| cols.iter().map(|b| dot(a, b)).collect())
            .collect();
        let cross = cols.iter().map(|a| dot(a, &m0)).collect();
        Self {
            cols,
            m0,
            gram,
            cross,
            target: st.sum_target,
        }
    }

    fn weights(&self, c: &[f64]) -> Vec<f64> {
        let p = c.len();
        let mut w = Vec::with_capacity(p + 1);
        for j in 0..p {
            w.push(c[j] - if j > 0 { c[j - 1] } else { 0.0 });
        }
        w.push(self.target - if p > 0 { c[p - 1] } else { 0.0 });
        w
    }

    /// M c + m0 with c nonzero only on `active` (values `c_active`); `with_m0 = false` gives
    /// M c alone.
    fn image(&self, active: &[usize], c_active: &[f64], with_m0: bool) -> Vec<f64> {
        let mut r = if with_m0 {
            self.m0.clone()
        } else {
            vec![0.0; self.m0.len()]
        };
        for (&j, &cj) in active.iter().zip(c_active) {
            r.iter_mut()
                .zip(&self.cols[j])
                .for_each(|(ri, mj)| *ri += cj * mj);
        }
        r
    }

    /// Solves Q_AA x = rhs on the active set by Cholesky (Q = M'M is positive definite; its
    /// entries are on the scale of the covariance, often 1e-6, so no absolute pivot test).
    fn solve_active(&self, active: &[usize], rhs: &[f64]) -> Option<Vec<f64>> {
        let n = active.len();
        let q = faer::Mat::<f64>::from_fn(n, n, |i, j| self.gram[active[i]][active[j]]);
        let chol = q.llt(faer::Side::Lower).ok()?;
        let x = chol.solve(faer::Mat::<f64>::from_fn(n, 1, |i, _| rhs[i]));
        let x: Vec<f64> = (0..n).map(|i| x[(i, 0)]).collect();
        x.iter().all(|v| v.is_finite()).then_some(x)
    }

    /// The least-squares c: the minimum-variance weights.
    fn least_squares(&self) -> Option<Vec<f64>> {
        let all: Vec<usize> = (0..self.cols.len()).collect();
        let rhs: Vec<f64> = self.cross.iter().map(|v| -v).collect();
        self.solve_active(&all, &rhs)
    }

    /// argmin ||c||_1 s.t. ||M c + m0|| <= h; None when even least squares is above h.
    fn min_l1_within(&self, h: f64) -> Option<Vec<f64>> {
        let p = self.cols.len();
        let h2 = h * h;
        // h at the least-squares norm (the bisection's left end) counts as feasible: the two
        // norms come from different factorisations and agree to rounding only.
        let slack = 1e-10 * h2.max(f64::MIN_POSITIVE);
        let full = |active: &[usize], c_active: &[f64]| -> Vec<f64> {
            let mut c = vec![0.0; p];
            for (&j, &v) in active.iter().zip(c_active) {
                c[j] = v;
            }
            c
        };
        if dot(&self.m0, &self.m0) <= h2 {
            return Some(vec![0.0; p]);
        }
        if p == 0 {
            return (dot(&self.m0, &self.m0) <= h2 + slack).then(Vec::new);
        }
        // Lasso homotopy on min ½||M c + m0||² + τ||c||_1 from τ = ||M'm0||_∞ (c = 0) down.
        // Optimality: (M'r)_j = -τ s_j on the active set, |(M'r)_j| <= τ off it.
        let j0 = (0..p).max_by(|&a, &b| self.cross[a].abs().total_cmp(&self.cross[b].abs()))?;
        let mut tau = self.cross[j0].abs();
        let mut active = vec![j0];
        let mut signs = vec![-self.cross[j0].signum()];
        let mut last_changed = Some(j0);
        for _ in 0..(20 * p + 20) {
            // c_A(τ) = a + τ b
            let rhs_a: Vec<f64> = active.iter().map(|&j| -self.cross[j]).collect();
            let rhs_b: Vec<f64> = signs.iter().map(|s| -s).collect();
            let a = self.solve_active(&active, &rhs_a)?;
            let b = self.solve_active(&active, &rhs_b)?;
            // next event below τ: an inactive correlation reaches ±τ, or an active c crosses 0
            let mut next = 0.0f64;
            let mut event: Option<(usize, Option<f64>)> = None; // (index, Some(sign) = joins)
                                                                // The index that changed at τ meets its own event again at τ (to rounding): only a
                                                                // later one counts for it (a dropped index may re-enter with the other sign).
            let below = |j: usize| {
                if Some(j) == last_changed {
                    tau * (1.0 - 1e-9)
                } else {
                    tau
                }
            };
            for j in 0..p {
                if active.contains(&j) {
                    continue;
                }
                // ρ_j(τ) = e + τ f
                let e = self.cross[j]
                    + active
                        .iter()
                        .zip(&a)
                        .map(|(&i, ai)| self.gram[j][i] * ai)
                        .sum::<f64>();
                let f: f64 = active
                    .iter()
                    .zip(&b)
                    .map(|(&i, bi)| self.gram[j][i] * bi)
                    .sum();
                for (t, sign) in [(e / (1.0 - f), -1.0), (-e / (1.0 + f), 1.0)] {
                    if t.is_finite() && t > next && t < below(j) {
                        next = t;
                        event = Some((j, Some(sign)));
                    }
                }
            }
            for (pos, &j) in active.iter().enumerate() {
                let t = -a[pos] / b[pos];
                if t.is_finite() && t > next && t < below(j) {
                    next = t;
                    event = Some((j, None));
                }
            }
            // r(τ) = u + τ v, ||r(τ)||² = α + 2βτ + γτ², increasing in τ on [next, τ]
            let at =
                |t: f64| -> Vec<f64> { a.iter().zip(&b).map(|(ai, bi)| ai + t * bi).collect() };
            let u = self.image(&active, &a, true);
            let v = self.image(&active, &b, false);
            let (alpha, beta, gamma) = (dot(&u, &u), dot(&u, &v), dot(&v, &v));
            let norm_sq = |t: f64| alpha + t * (2.0 * beta + t * gamma);
            if gamma.is_nan() || gamma <= 0.0 {
                return None; // b = 0 would mean a singular active Gram matrix
            }
            if event.is_none() && h2 - alpha <= slack {
                // h is the least-squares norm to rounding: near τ = 0 the norm is flat
                // (α + γτ², as M'r = 0 there), so the root would amplify the rounding of h
                // to its square root; the least-squares point itself is the answer
                return (alpha <= h2 + slack).then(|| full(&active, &a));
            }
            if norm_sq(next) <= h2 {
                // the larger root of γτ² + 2βτ + α - h² (γ > 0: v = M_A b with b != 0)
                let disc = (beta * beta - gamma * (alpha - h2)).max(0.0);
                let t = ((-beta + disc.sqrt()) / gamma).clamp(next, tau);
                return Some(full(&active, &at(t)));
            }
            match event {
                None => {
                    // τ reached 0: least squares on the active set is above h
                    return (alpha <= h2 + slack).then(|| full(&active, &a));
                }
                Some((j, Some(sign))) => {
                    active.push(j);
                    signs.push(sign);
                    last_changed = Some(j);
                }
                Some((j, None)) => {
                    let pos = active.iter().position(|&i| i == j)?;
                    active.remove(pos);
                    signs.remove(pos);
                    last_changed = Some(j);
                }
            }
            tau = next;
        }
        None
    }
}

/// Minimal worst-case bias (per unit M) given sd <= h, and its w; None if infeasible.
fn worst_case_bias(st: &Setup, form: &CumsumForm, h: f64) -> Option<(f64, Vec<f64>)> {
    let c = form.min_l1_within(h)?;
    let l1: f64 = c.iter().map(|v| v.abs()).sum::<f64>() + form.target.abs();
    Some((st.bias_constant + l1, form.weights(&c)))
}

/// Smallest achievable sd (the QP of `.findLowestH`) and the pre-period weights attaining it.
fn lowest_h(st: &Setup, form: &CumsumForm) -> Option<(f64, Vec<f64>)> {
    let w = form.weights(&form.least_squares()?);
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
    let form = CumsumForm::new(&st);
    let (h_min, w_min) = lowest_h(&st, &form)
        .ok_or_else(|| Error::Numerical("FLCI: minimum-variance program failed".into()))?;
    let half = |h: f64| -> Option<f64> {
        let (bias, _) = worst_case_bias(&st, &form, h)?;
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
    // minimum-variance point, which the least-squares solve gives directly (an interior-point
    // solver, as HonestDiD's, only reaches it to about the square root of its tolerance).
    let w = if h == h_min {
        w_min
    } else {
        worst_case_bias(&st, &form, h)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A covariance on the scale of event-study coefficients (variances ~1e-4), correlated.
    fn covariance(n: usize, seed: u64) -> Rows {
        let mut state = seed;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let a: Rows = (0..n).map(|_| (0..n).map(|_| next()).collect()).collect();
        (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| 1e-4 * (dot(&a[i], &a[j]) + if i == j { 0.2 } else { 0.0 }))
                    .collect()
            })
            .collect()
    }

    /// The bias program's solution satisfies the KKT conditions of min ||c||_1 s.t.
    /// ||M c + m0|| <= h: the constraint binds, and g = M'r is -μ sign(c_j) on the nonzero c_j
    /// and at most μ in absolute value elsewhere, for one μ > 0. At h_min the solution is the
    /// least-squares point, below it there is none, and the sd of the returned weights is h.
    #[test]
    fn bias_program_meets_its_optimality_conditions() {
        let mut checked = 0;
        for (seed, n_pre, n_post) in [
            (1, 2, 1),
            (2, 4, 3),
            (3, 6, 2),
            (4, 8, 4),
            (5, 5, 5),
            (6, 1, 2),
        ] {
            let s = covariance(n_pre + n_post, seed);
            let l: Vec<f64> = (0..n_post).map(|j| 1.0 / (j + 1) as f64).collect();
            let st = setup(&s, n_pre, n_post, &l).unwrap();
            let form = CumsumForm::new(&st);
            let p = n_pre - 1;
            let all: Vec<usize> = (0..p).collect();
            let (h_min, w_min) = lowest_h(&st, &form).unwrap();
            let ls = form.least_squares().unwrap();
            assert_eq!(form.weights(&ls), w_min);
            let at_min = form.min_l1_within(h_min).unwrap();
            assert!(at_min
                .iter()
                .zip(&ls)
                .all(|(a, b)| (a - b).abs() <= 1e-12 * b.abs().max(1.0)));
            assert!(form.min_l1_within(h_min * (1.0 - 1e-6)).is_none());
            let h_zero = dot(&form.m0, &form.m0).sqrt();
            if p == 0 {
                // one pre-period: w = (target), nothing to choose
                assert_eq!(form.weights(&at_min), vec![st.sum_target]);
                continue;
            }
            for f in [1e-7, 1e-3, 0.05, 0.3, 0.6, 0.9, 0.999] {
                let h = h_min + f * (h_zero - h_min);
                let c = form.min_l1_within(h).unwrap();
                let r = form.image(&all, &c, true);
                assert!(
                    (dot(&r, &r).sqrt() / h - 1.0).abs() < 1e-12,
                    "constraint binds"
                );
                let w = form.weights(&c);
                assert!((variance_of_w(&st, &w).sqrt() / h - 1.0).abs() < 1e-10);
                let g: Vec<f64> = form.cols.iter().map(|m| dot(m, &r)).collect();
                let nonzero: Vec<usize> = (0..p).filter(|&j| c[j] != 0.0).collect();
                assert!(!nonzero.is_empty());
                let mu = -g[nonzero[0]] * c[nonzero[0]].signum();
                assert!(mu > 0.0);
                for j in 0..p {
                    if c[j] != 0.0 {
                        assert!(
                            (-g[j] * c[j].signum() / mu - 1.0).abs() < 1e-8,
                            "{seed} {f} {j}"
                        );
                    } else {
                        assert!(g[j].abs() <= mu * (1.0 + 1e-8), "{seed} {f} {j}");
                    }
                }
                checked += 1;
            }
            // at or above the norm at c = 0 the bias-free-of-pre-weights point is optimal
            assert!(form
                .min_l1_within(h_zero * 1.01)
                .unwrap()
                .iter()
                .all(|&v| v == 0.0));
        }
        assert_eq!(checked, 35);
    }
}

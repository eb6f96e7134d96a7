//! One treated block (a set of treated units adopting together, a set of controls, a pre/post
//! split) on the wide panel, and R `synthdid_estimate` on it: the collapsed form, the weights
//! (with or without covariates), the estimate and the effect curve.

use super::weights::{centre, solve, sum_normalize, ColMajor, Problem};

/// The wide outcome panel (`n_units` rows of `n_times` values) and covariates of the same shape.
pub(crate) struct Wide<'a> {
    pub y: &'a [f64],
    pub n_times: usize,
    pub x: Vec<&'a [f64]>,
}

impl Wide<'_> {
    #[inline]
    fn at(m: &[f64], n_times: usize, i: usize, t: usize) -> f64 {
        m[i * n_times + t]
    }
}

/// Rows of the wide panel (controls, then treated; repeats allowed) and the first post column.
/// Columns `0..t0` are pre periods and `t0..n_times` post periods.
pub(crate) struct Block<'a> {
    pub controls: &'a [usize],
    pub treated: &'a [usize],
    pub t0: usize,
}

/// The tuning constants R stores in `attr(estimate, 'opts')` and passes to every replicate.
#[derive(Debug, Clone)]
pub(crate) struct Opts {
    pub zeta_omega: f64,
    pub zeta_lambda: f64,
    pub omega_intercept: bool,
    pub lambda_intercept: bool,
    pub update_omega: bool,
    pub update_lambda: bool,
    pub min_decrease: f64,
    pub max_iter: usize,
    pub max_iter_pre_sparsify: usize,
}

/// Fitted weights: omega over the block's controls, lambda over its pre periods, beta per covariate.
#[derive(Debug, Clone)]
pub(crate) struct Fit {
    pub omega: Vec<f64>,
    pub lambda: Vec<f64>,
    pub beta: Vec<f64>,
}

/// R's default noise level: sd of the first differences of the controls' pre-period outcomes.
pub(crate) fn noise_level(w: &Wide<'_>, b: &Block<'_>) -> f64 {
    let mut d = Vec::with_capacity(b.controls.len() * b.t0.saturating_sub(1));
    for &i in b.controls {
        for t in 1..b.t0 {
            d.push(Wide::at(w.y, w.n_times, i, t) - Wide::at(w.y, w.n_times, i, t - 1));
        }
    }
    let n = d.len() as f64;
    if d.len() < 2 {
        return f64::NAN;
    }
    let m = d.iter().sum::<f64>() / n;
    (d.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0)).sqrt()
}

/// R `collapsed.form` of matrix `m`: (N0 + 1) x (T0 + 1), stored row-major.
fn collapsed(m: &[f64], n_times: usize, b: &Block<'_>) -> Vec<f64> {
    let (n0, t0) = (b.controls.len(), b.t0);
    let t1 = (n_times - t0) as f64;
    let mut c = vec![0.0; (n0 + 1) * (t0 + 1)];
    for (r, &i) in b.controls.iter().enumerate() {
        let row = &m[i * n_times..(i + 1) * n_times];
        c[r * (t0 + 1)..r * (t0 + 1) + t0].copy_from_slice(&row[..t0]);
        c[r * (t0 + 1) + t0] = row[t0..].iter().sum::<f64>() / t1;
    }
    let n1 = b.treated.len() as f64;
    let last = n0 * (t0 + 1);
    for &i in b.treated {
        let row = &m[i * n_times..(i + 1) * n_times];
        for t in 0..t0 {
            c[last + t] += row[t];
        }
        c[last + t0] += row[t0..].iter().sum::<f64>();
    }
    for t in 0..t0 {
        c[last + t] /= n1;
    }
    c[last + t0] /= n1 * t1;
    c
}

/// The lambda problem on collapsed `c`: A = controls x pre (by column), b = controls' post mean.
fn lambda_problem(c: &[f64], n0: usize, t0: usize, intercept: bool) -> (ColMajor, Vec<f64>) {
    let mut a = ColMajor {
        rows: n0,
        cols: t0,
        data: vec![0.0; n0 * t0],
    };
    let mut rhs = vec![0.0; n0];
    for r in 0..n0 {
        for t in 0..t0 {
            a.data[t * n0 + r] = c[r * (t0 + 1) + t];
        }
        rhs[r] = c[r * (t0 + 1) + t0];
    }
    if intercept {
        centre(&mut a, &mut rhs);
    }
    (a, rhs)
}

/// The omega problem on collapsed `c`: A = pre x controls (by column), b = the treated mean path.
fn omega_problem(c: &[f64], n0: usize, t0: usize, intercept: bool) -> (ColMajor, Vec<f64>) {
    let mut a = ColMajor {
        rows: t0,
        cols: n0,
        data: vec![0.0; n0 * t0],
    };
    for r in 0..n0 {
        a.data[r * t0..(r + 1) * t0].copy_from_slice(&c[r * (t0 + 1)..r * (t0 + 1) + t0]);
    }
    let mut rhs = c[n0 * (t0 + 1)..n0 * (t0 + 1) + t0].to_vec();
    if intercept {
        centre(&mut a, &mut rhs);
    }
    (a, rhs)
}

/// R `synthdid_estimate`'s weights for `block`, starting from `omega`/`lambda` (uniform when
/// None); a weight whose `update_*` is false is kept exactly as given.
pub(crate) fn fit(
    w: &Wide<'_>,
    block: &Block<'_>,
    opts: &Opts,
    omega: Option<Vec<f64>>,
    lambda: Option<Vec<f64>>,
) -> Fit {
    let (n0, t0) = (block.controls.len(), block.t0);
    let omega = omega.unwrap_or_else(|| vec![1.0 / n0 as f64; n0]);
    let lambda = lambda.unwrap_or_else(|| vec![1.0 / t0 as f64; t0]);
    let c = collapsed(w.y, w.n_times, block);
    if w.x.is_empty() {
        let lambda = if opts.update_lambda {
            let (a, rhs) = lambda_problem(&c, n0, t0, opts.lambda_intercept);
            let p = Problem {
                a: &a,
                b: &rhs,
                eta: n0 as f64 * opts.zeta_lambda * opts.zeta_lambda,
            };
            solve(
                &p,
                opts.zeta_lambda,
                lambda,
                opts.min_decrease,
                opts.max_iter,
                opts.max_iter_pre_sparsify,
                true,
            )
        } else {
            lambda
        };
        let omega = if opts.update_omega {
            let (a, rhs) = omega_problem(&c, n0, t0, opts.omega_intercept);
            let p = Problem {
                a: &a,
                b: &rhs,
                eta: t0 as f64 * opts.zeta_omega * opts.zeta_omega,
            };
            solve(
                &p,
                opts.zeta_omega,
                omega,
                opts.min_decrease,
                opts.max_iter,
                opts.max_iter_pre_sparsify,
                true,
            )
        } else {
            omega
        };
        return Fit {
            omega,
            lambda,
            beta: Vec::new(),
        };
    }
    let xc: Vec<Vec<f64>> = w.x.iter().map(|x| collapsed(x, w.n_times, block)).collect();
    fit_covariates(&c, &xc, n0, t0, opts, omega, lambda)
}

/// R `sc.weight.fw.covariates`: alternate one Frank–Wolfe step on lambda and on omega with a
/// 1/t gradient step on beta, on the collapsed outcome minus the covariates times beta.
fn fit_covariates(
    c: &[f64],
    xc: &[Vec<f64>],
    n0: usize,
    t0: usize,
    opts: &Opts,
    omega: Vec<f64>,
    lambda: Vec<f64>,
) -> Fit {
    let k = xc.len();
    let mut beta = vec![0.0; k];
    let residual = |beta: &[f64]| -> Vec<f64> {
        let mut r = c.to_vec();
        for (xk, bk) in xc.iter().zip(beta) {
            r.iter_mut().zip(xk).for_each(|(v, x)| *v -= bk * x);
        }
        r
    };
    struct State {
        omega: Vec<f64>,
        lambda: Vec<f64>,
        err_lambda: Vec<f64>,
        err_omega: Vec<f64>,
        val: f64,
    }
    let update = |cb: &[f64], mut lambda: Vec<f64>, mut omega: Vec<f64>| -> State {
        let (a, rhs) = lambda_problem(cb, n0, t0, opts.lambda_intercept);
        let p = Problem {
            a: &a,
            b: &rhs,
            eta: n0 as f64 * opts.zeta_lambda * opts.zeta_lambda,
        };
        let mut ax = p.ax(&lambda);
        if opts.update_lambda {
            p.step(&mut lambda, &mut ax);
        }
        let err_lambda: Vec<f64> = ax.iter().zip(&rhs).map(|(p, q)| p - q).collect();
        let (a, rhs) = omega_problem(cb, n0, t0, opts.omega_intercept);
        let p = Problem {
            a: &a,
            b: &rhs,
            eta: t0 as f64 * opts.zeta_omega * opts.zeta_omega,
        };
        let mut ax = p.ax(&omega);
        if opts.update_omega {
            p.step(&mut omega, &mut ax);
        }
        let err_omega: Vec<f64> = ax.iter().zip(&rhs).map(|(p, q)| p - q).collect();
        let sq = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>();
        let val = opts.zeta_omega.powi(2) * sq(&omega)
            + opts.zeta_lambda.powi(2) * sq(&lambda)
            + sq(&err_omega) / t0 as f64
            + sq(&err_lambda) / n0 as f64;
        State {
            omega,
            lambda,
            err_lambda,
            err_omega,
            val,
        }
    };
    let mut s = update(&residual(&beta), lambda, omega);
    let (mut prev, mut last) = (f64::NAN, f64::NAN);
    let md2 = opts.min_decrease * opts.min_decrease;
    let mut t = 0usize;
    while t < opts.max_iter && (t < 2 || (prev - last).abs() > md2) {
        t += 1;
        let w = t0 + 1;
        for (j, xk) in xc.iter().enumerate() {
            // err_lambda' X[controls, ] (lambda, -1) / N0
            let mut g1 = 0.0;
            for r in 0..n0 {
                let row = &xk[r * w..(r + 1) * w];
                let v = dot(&row[..t0], &s.lambda) - row[t0];
                g1 += s.err_lambda[r] * v;
            }
            // err_omega' t(X[, pre]) (omega, -1) / T0
            let mut g2 = 0.0;
            for t in 0..t0 {
                let mut v = -xk[n0 * w + t];
                for r in 0..n0 {
                    v += xk[r * w + t] * s.omega[r];
                }
                g2 += s.err_omega[t] * v;
            }
            let grad = -(g1 / n0 as f64 + g2 / t0 as f64);
            beta[j] -= grad / t as f64;
        }
        s = update(&residual(&beta), s.lambda, s.omega);
        prev = last;
        last = s.val;
    }
    Fit {
        omega: s.omega,
        lambda: s.lambda,
        beta,
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Per period: the treated mean and the omega-weighted control path of Y - X beta.
pub(crate) fn paths(w: &Wide<'_>, block: &Block<'_>, fit: &Fit) -> (Vec<f64>, Vec<f64>) {
    let nt = w.n_times;
    let row = |i: usize| -> Vec<f64> {
        let mut r = w.y[i * nt..(i + 1) * nt].to_vec();
        for (x, b) in w.x.iter().zip(&fit.beta) {
            r.iter_mut()
                .zip(&x[i * nt..(i + 1) * nt])
                .for_each(|(v, xv)| *v -= b * xv);
        }
        r
    };
    let mut treated = vec![0.0; nt];
    for &i in block.treated {
        treated.iter_mut().zip(row(i)).for_each(|(s, v)| *s += v);
    }
    let n1 = block.treated.len() as f64;
    treated.iter_mut().for_each(|s| *s /= n1);
    let mut synthetic = vec![0.0; nt];
    for (&i, &o) in block.controls.iter().zip(&fit.omega) {
        if o != 0.0 {
            synthetic
                .iter_mut()
                .zip(row(i))
                .for_each(|(s, v)| *s += o * v);
        }
    }
    (treated, synthetic)
}

/// R `synthdid_effect_curve` (one value per post period) and the estimate (their mean).
pub(crate) fn effects(w: &Wide<'_>, block: &Block<'_>, fit: &Fit) -> (f64, Vec<f64>) {
    let (treated, synthetic) = paths(w, block, fit);
    let diff: Vec<f64> = treated.iter().zip(&synthetic).map(|(a, b)| a - b).collect();
    let base = dot(&diff[..block.t0], &fit.lambda);
    let curve: Vec<f64> = diff[block.t0..].iter().map(|d| d - base).collect();
    let tau = curve.iter().sum::<f64>() / curve.len() as f64;
    (tau, curve)
}

/// Weights renormalised over a subset of the controls (R: `sum_normalize(omega[ind])`).
pub(crate) fn omega_subset(omega: &[f64], positions: &[usize]) -> Vec<f64> {
    let sub: Vec<f64> = positions.iter().map(|&p| omega[p]).collect();
    sum_normalize(&sub)
}

//! Sensitivity of event-study conclusions to violations of parallel trends, Rambachan & Roth
//! (2023, "A More Credible Approach to Parallel Trends", REStud 90(5)), computed as HonestDiD's
//! R code computes it (grids, tolerances, kappa = alpha / 10, 1000 least-favourable draws).
//!
//! Inputs are the event-time estimates without the reference period (`n_pre` leads, then
//! `n_post` lags, in event-time order) and their full covariance. The target is `l'tau_post`.
//! - [`arp_interval`]: Δ^RM(M̄) and Δ^SDRM(M̄) (optionally with a shape or sign restriction),
//!   conditional (ARP) or conditional–least-favourable hybrid test, inverted over a grid of
//!   `grid_points` values on ±20 sd(l'beta_post) (HonestDiD's default grid): union over s and ±.
//! - [`flci`]: the fixed-length CI for Δ^SD(M) (Armstrong & Kolesár 2018/2020).
//! - [`original_interval`]: l'beta_post ± z sd.

mod arp;
mod flci;
mod linalg;
mod restrictions;
mod simplex;

pub use flci::{flci, Flci};
pub use restrictions::Shape;

use crate::error::{Error, Result};
use arp::Hybrid;
use linalg::{dot, mat_vec, sandwich, sym_sqrt, Rows};
use rayon::prelude::*;
use statrs::distribution::{ContinuousCDF, Normal};

/// Δ^RM (bounds on first differences) or Δ^SDRM (bounds on second differences).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelativeClass {
    RelativeMagnitudes,
    SmoothnessRelative,
}

/// Event-study inputs and the HonestDiD tuning constants shared by every interval.
#[derive(Debug, Clone)]
pub struct HonestInput {
    pub betahat: Vec<f64>,
    pub sigma: Vec<Vec<f64>>,
    pub n_pre: usize,
    pub n_post: usize,
    pub l_vec: Vec<f64>,
    pub alpha: f64,
    pub grid_points: usize,
    /// least-favourable critical-value draws (HonestDiD: 1000)
    pub sims: usize,
    pub seed: u64,
    /// theta grid of the test inversion (HonestDiD's grid.lb / grid.ub); None: ±20 sd(l'beta_post)
    pub grid_bounds: Option<(f64, f64)>,
}

impl HonestInput {
    /// Checks shapes, symmetry, positive variances, pre-periods and l_vec.
    pub fn validate(&self) -> Result<()> {
        let n = self.n_pre + self.n_post;
        if self.n_pre == 0 {
            return Err(Error::Empty("honest_did: the event study has no pre-period (lead) estimates; sensitivity bounds extrapolate from pre-trends".into()));
        }
        if self.n_post == 0 {
            return Err(Error::Empty(
                "honest_did: the event study has no post-period estimates".into(),
            ));
        }
        if self.betahat.len() != n
            || self.sigma.len() != n
            || self.sigma.iter().any(|r| r.len() != n)
        {
            return Err(Error::Shape(format!(
                "honest_did: {} estimates, covariance {}x{}, expected {n}",
                self.betahat.len(),
                self.sigma.len(),
                self.sigma.first().map_or(0, |r| r.len())
            )));
        }
        if self.l_vec.len() != self.n_post {
            return Err(Error::Shape(format!(
                "honest_did: l_vec has {} entries for {} post periods",
                self.l_vec.len(),
                self.n_post
            )));
        }
        if self.l_vec.iter().all(|v| *v == 0.0) {
            return Err(Error::Option {
                name: "l_vec".into(),
                reason: "all zero".into(),
            });
        }
        if self
            .betahat
            .iter()
            .chain(self.sigma.iter().flatten())
            .any(|v| !v.is_finite())
        {
            return Err(Error::Numerical(
                "honest_did: non-finite estimate or covariance entry".into(),
            ));
        }
        for i in 0..n {
            if self.sigma[i][i] <= 0.0 {
                return Err(Error::Numerical(format!("honest_did: covariance has variance {} at position {i}; a full, positive definite covariance is needed", self.sigma[i][i])));
            }
        }
        let eig = crate::linalg::symmetric_eigenvalues(
            ndarray::Array2::from_shape_fn((n, n), |(i, j)| self.sigma[i][j]).view(),
        )?;
        let top = eig.iter().fold(0.0f64, |a, b| a.max(*b));
        if eig[0] <= 1e-12 * top {
            return Err(Error::Numerical(format!("honest_did: the covariance is singular (smallest eigenvalue {:.3e}, largest {top:.3e})", eig[0])));
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(Error::Option {
                name: "level".into(),
                reason: "must be in (0, 1)".into(),
            });
        }
        if let Some((lo, hi)) = self.grid_bounds {
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                return Err(Error::Option {
                    name: "grid_bounds".into(),
                    reason: format!("need finite lower < upper, got ({lo}, {hi})"),
                });
            }
        }
        if self.grid_points < 2 {
            return Err(Error::Option {
                name: "grid_points".into(),
                reason: "need at least 2".into(),
            });
        }
        Ok(())
    }

    fn sd_theta(&self) -> f64 {
        let p = self.n_pre;
        let post: Rows = (0..self.n_post)
            .map(|i| self.sigma[p + i][p..].to_vec())
            .collect();
        dot(&self.l_vec, &mat_vec(&post, &self.l_vec)).sqrt()
    }
}

/// l'beta_post ± z_{1-alpha/2} sd: the CI under exact parallel trends.
pub fn original_interval(inp: &HonestInput) -> (f64, f64) {
    let pe = dot(&inp.l_vec, &inp.betahat[inp.n_pre..]);
    let z = Normal::standard().inverse_cdf(1.0 - inp.alpha / 2.0);
    let sd = inp.sd_theta();
    (pe - z * sd, pe + z * sd)
}

/// numpy.linspace(lo, hi, n)
fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let step = (hi - lo) / (n - 1) as f64;
    let mut g: Vec<f64> = (0..n).map(|i| lo + i as f64 * step).collect();
    g[n - 1] = hi;
    g
}

/// Standard normal draws of the least-favourable critical value: draw r uses stream (seed, r).
pub fn lf_normal_draws(seed: u64, sims: usize, dim: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(sims * dim);
    for r in 0..sims {
        let mut rng = crate::rng::stream(seed, r as u64);
        for _ in 0..dim {
            out.push(crate::rng::standard_normal(&mut rng));
        }
    }
    out
}

/// The theta grid and its accept indicators for one (M̄, class): union over s and ±.
pub fn arp_grid(
    inp: &HonestInput,
    class: RelativeClass,
    mbar: f64,
    shape: Shape,
    hybrid: bool,
) -> Result<(Vec<f64>, Vec<bool>)> {
    inp.validate()?;
    if !mbar.is_finite() || mbar < 0.0 {
        return Err(Error::Option {
            name: "m_bar".into(),
            reason: format!("must be finite and >= 0, got {mbar}"),
        });
    }
    let (n_pre, n_post) = (inp.n_pre, inp.n_post);
    let min_s: i64 = match class {
        RelativeClass::RelativeMagnitudes => -(n_pre as i64 - 1),
        RelativeClass::SmoothnessRelative => {
            if n_pre < 2 {
                return Err(Error::Empty(
                    "honest_did: Δ^SDRM needs at least two pre-periods".into(),
                ));
            }
            -(n_pre as i64 - 2)
        }
    };
    let sd_theta = inp.sd_theta();
    let (lo, hi) = inp
        .grid_bounds
        .unwrap_or((-20.0 * sd_theta, 20.0 * sd_theta));
    let grid = linspace(lo, hi, inp.grid_points);
    let mut accept = vec![false; grid.len()];
    for s in min_s..=0 {
        for max_positive in [true, false] {
            let mut a = match class {
                RelativeClass::RelativeMagnitudes => {
                    restrictions::a_rm(n_pre, n_post, mbar, s, max_positive)
                }
                RelativeClass::SmoothnessRelative => {
                    restrictions::a_sdrm(n_pre, n_post, mbar, s, max_positive)
                }
            };
            a.extend(restrictions::a_shape(n_pre, n_post, shape));
            let acc = fixed_s_accept(inp, &a, &grid, hybrid)?;
            for (x, y) in accept.iter_mut().zip(acc) {
                *x |= y;
            }
        }
    }
    Ok((grid, accept))
}

/// `[min, max]` of the accepted grid points (NaN, NaN when none is accepted).
pub fn grid_interval(grid: &[f64], accept: &[bool]) -> (f64, f64) {
    let acc: Vec<f64> = grid
        .iter()
        .zip(accept)
        .filter(|(_, a)| **a)
        .map(|(g, _)| *g)
        .collect();
    if acc.is_empty() {
        (f64::NAN, f64::NAN)
    } else {
        (acc[0], acc[acc.len() - 1])
    }
}

/// Robust CI for one M̄ (`.computeConditionalCS_DeltaRM` / `_DeltaSDRM`).
pub fn arp_interval(
    inp: &HonestInput,
    class: RelativeClass,
    mbar: f64,
    shape: Shape,
    hybrid: bool,
) -> Result<(f64, f64)> {
    let (g, a) = arp_grid(inp, class, mbar, shape, hybrid)?;
    Ok(grid_interval(&g, &a))
}

fn fixed_s_accept(inp: &HonestInput, a: &Rows, grid: &[f64], hybrid: bool) -> Result<Vec<bool>> {
    let (n_pre, n_post) = (inp.n_pre, inp.n_post);
    let alpha = inp.alpha;
    let kappa = alpha / 10.0;
    let d = vec![0.0; a.len()];
    let sigma_y = sandwich(a, &inp.sigma);
    if n_post == 1 {
        let h = if hybrid {
            let sq = sym_sqrt(&sigma_y)
                .ok_or_else(|| Error::Numerical("eigen decomposition failed".into()))?;
            let draws = lf_normal_draws(inp.seed, inp.sims, a.len());
            Hybrid::LeastFavorable {
                kappa,
                lf_cv: arp::least_favorable_cv(None, &sigma_y, kappa, &draws, &sq),
            }
        } else {
            Hybrid::Conditional
        };
        return Ok(grid
            .par_iter()
            .map(|theta| {
                let mut y = inp.betahat.clone();
                y[n_pre] -= theta;
                !arp::test_no_nuisance(&y, &inp.sigma, a, &d, alpha, h)
            })
            .collect());
    }
    // Gamma: l' then the unit vectors except the last nonzero position of l (the pivots of
    // rref([l, I]) that HonestDiD's .construct_Gamma keeps); theta = l'tau is its first coordinate.
    let last_nz = inp.l_vec.iter().rposition(|v| *v != 0.0).unwrap_or(0);
    let mut gamma: Rows = vec![inp.l_vec.clone()];
    for j in 0..n_post {
        if j != last_nz {
            let mut e = vec![0.0; n_post];
            e[j] = 1.0;
            gamma.push(e);
        }
    }
    // A_post Gamma^{-1}: solve Gamma' z = a_post' for each row
    let gamma_t: Rows = (0..n_post)
        .map(|i| (0..n_post).map(|j| gamma[j][i]).collect())
        .collect();
    let mut one = Vec::with_capacity(a.len());
    let mut minus_one: Rows = Vec::with_capacity(a.len());
    for row in a {
        let z = linalg::solve_square(&gamma_t, &row[n_pre..])
            .ok_or_else(|| Error::Numerical("l_vec basis singular".into()))?;
        one.push(z[0]);
        minus_one.push(z[1..].to_vec());
    }
    let y_full: Vec<f64> = mat_vec(a, &inp.betahat);
    // rows with a post-period coefficient (postPeriodMomentsOnly = TRUE)
    let rows: Vec<usize> = (0..a.len())
        .filter(|&i| a[i][n_pre..].iter().any(|v| *v != 0.0))
        .collect();
    let y_arp: Vec<f64> = rows.iter().map(|&i| y_full[i]).collect();
    let one_arp: Vec<f64> = rows.iter().map(|&i| one[i]).collect();
    let x_arp: Rows = rows.iter().map(|&i| minus_one[i].clone()).collect();
    let sig_arp: Rows = rows
        .iter()
        .map(|&i| rows.iter().map(|&j| sigma_y[i][j]).collect())
        .collect();
    let h = if hybrid {
        let sq = sym_sqrt(&sig_arp)
            .ok_or_else(|| Error::Numerical("eigen decomposition failed".into()))?;
        let draws = lf_normal_draws(inp.seed, inp.sims, rows.len());
        Hybrid::LeastFavorable {
            kappa,
            lf_cv: arp::least_favorable_cv(Some(&x_arp), &sig_arp, kappa, &draws, &sq),
        }
    } else {
        Hybrid::Conditional
    };
    Ok(grid
        .par_iter()
        .map(|theta| {
            let y: Vec<f64> = y_arp
                .iter()
                .zip(&one_arp)
                .map(|(yi, oi)| yi - oi * theta)
                .collect();
            !arp::test_nuisance(&y, &x_arp, &sig_arp, alpha, h)
        })
        .collect())
}

/// Largest value of the restriction parameter at which the robust CI still excludes zero:
/// scan `grid` (ascending) for the first value whose CI covers 0 (or is empty-accepting), then
/// bisect `iters` times between it and the previous one. `None` when the CI at the first grid
/// value already covers 0; `Some(f64::INFINITY)` when no grid value's CI does.
pub fn breakdown(
    grid: &[f64],
    iters: usize,
    mut ci: impl FnMut(f64) -> Result<(f64, f64)>,
) -> Result<Option<f64>> {
    let excludes = |(lb, ub): (f64, f64)| !(lb <= 0.0 && ub >= 0.0) && lb.is_finite();
    let mut prev: Option<f64> = None;
    for &m in grid {
        if excludes(ci(m)?) {
            prev = Some(m);
            continue;
        }
        let Some(mut lo) = prev else { return Ok(None) };
        let mut hi = m;
        for _ in 0..iters {
            let mid = 0.5 * (lo + hi);
            if excludes(ci(mid)?) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return Ok(Some(lo));
    }
    Ok(prev.map(|_| f64::INFINITY))
}

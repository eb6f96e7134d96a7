//! A dense-basis revised simplex for small-row, many-column linear programs.
//!
//! Why a dedicated simplex rather than a crate: after the Charnes–Cooper transformation every
//! SBM program has few rows (inputs + good + bad outputs + 1, one more under VRS, a few more for
//! super-efficiency) and many columns (one per reference DMU: up to 5,800 under a global
//! frontier on a 290 × 20 panel). With an explicit m × m basis inverse an iteration costs
//! O(m·n) for pricing plus O(m²) for the update, no factorisation library is needed, and the
//! crate keeps its short compile time (`clarabel` or `microlp` would add build time to every
//! `pip install .` and solve a general problem through a general, slower path). Interior-point
//! solvers also return non-vertex solutions whose slacks are not the basic slacks DEA reports.
//!
//! The method is the textbook two-phase revised simplex (Dantzig pricing; phase 1 minimises
//! the sum of artificials, one per row after making `b >= 0`). Safeguards:
//! - anti-cycling: after a run of degenerate pivots without objective progress the phase
//!   switches to Bland's rule (smallest-index entering and leaving), which terminates;
//! - the basis inverse is recomputed from scratch (Gauss–Jordan, partial pivoting) every
//!   [`REINVERT_EVERY`] iterations and before the optimality verdict;
//! - infeasibility (phase-1 optimum > 0), unboundedness (no blocking row) and the iteration
//!   limit are returned as an [`LpStatus`]; a number is only reported with `Optimal`.
//!
//! Tolerances assume a reasonably scaled problem (entries around 1); the SBM builder in
//! [`super::sbm`] divides every row by the evaluated DMU's own value so that this holds.

// Index loops over small dense arrays (rows x columns) read best as written.
#![allow(clippy::needless_range_loop)]

use crate::error::Error;

/// Recompute the basis inverse after this many pivots.
pub const REINVERT_EVERY: usize = 40;
/// Reduced costs above `-OPT_TOL` count as non-negative (optimality).
const OPT_TOL: f64 = 1e-10;
/// Smallest pivot element accepted in the ratio test.
const PIV_TOL: f64 = 1e-9;
/// Phase-1 objective above this (times 1 + |b|_inf) means infeasible.
const FEAS_TOL: f64 = 1e-8;

/// A linear program in standard form: minimise `c'z` subject to `A z = b`, `z >= 0`.
/// `a` is column-major: column `j` is `a[j * nrows..(j + 1) * nrows]`.
#[derive(Debug, Clone, Copy)]
pub struct Lp<'a> {
    pub nrows: usize,
    pub ncols: usize,
    pub a: &'a [f64],
    pub b: &'a [f64],
    pub c: &'a [f64],
}

/// Outcome of a solve. Only `Optimal` carries a meaningful objective and solution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LpStatus {
    Optimal,
    Infeasible,
    Unbounded,
    IterationLimit,
}

impl LpStatus {
    pub fn label(self) -> &'static str {
        match self {
            LpStatus::Optimal => "optimal",
            LpStatus::Infeasible => "infeasible",
            LpStatus::Unbounded => "unbounded",
            LpStatus::IterationLimit => "iteration_limit",
        }
    }
}

/// Solution of [`solve`]: `x` has `ncols` entries (zero unless `Optimal`).
#[derive(Debug, Clone)]
pub struct LpSolution {
    pub status: LpStatus,
    pub objective: f64,
    pub x: Vec<f64>,
    pub iterations: usize,
    /// Whether Bland's rule had to be switched on (a degenerate stall was detected).
    pub used_bland: bool,
}

/// Reusable buffers (one per thread) so that repeated solves do not allocate.
#[derive(Debug, Default, Clone)]
pub struct Workspace {
    binv: Vec<f64>,
    basis: Vec<usize>,
    is_basic: Vec<bool>,
    xb: Vec<f64>,
    sign: Vec<f64>,
    pi: Vec<f64>,
    alpha: Vec<f64>,
    bmat: Vec<f64>,
    cost: Vec<f64>,
}

struct Ctx<'a> {
    lp: Lp<'a>,
    m: usize,
    n: usize,
}

impl Ctx<'_> {
    /// Entry (i, j) of the sign-adjusted matrix [A | I] (artificials are columns n..n+m).
    #[inline]
    fn col_into(&self, ws_sign: &[f64], j: usize, out: &mut [f64]) {
        if j < self.n {
            let col = &self.lp.a[j * self.m..(j + 1) * self.m];
            for i in 0..self.m {
                out[i] = ws_sign[i] * col[i];
            }
        } else {
            out.iter_mut().for_each(|v| *v = 0.0);
            out[j - self.n] = 1.0;
        }
    }
}

/// Solve `lp` by the two-phase revised simplex. Errors only for malformed input (shapes,
/// non-finite numbers) or a numerically singular basis; infeasible/unbounded programs are
/// reported through [`LpSolution::status`].
pub fn solve(lp: &Lp<'_>, ws: &mut Workspace) -> Result<LpSolution, Error> {
    let (m, n) = (lp.nrows, lp.ncols);
    if lp.a.len() != m * n || lp.b.len() != m || lp.c.len() != n {
        return Err(Error::Shape(format!(
            "LP with {m} rows and {n} columns needs A of length {}, b of {m}, c of {n} (got {}, {}, {})",
            m * n,
            lp.a.len(),
            lp.b.len(),
            lp.c.len()
        )));
    }
    if m == 0 {
        return Err(Error::Shape("LP without constraints".into()));
    }
    if !lp.a.iter().chain(lp.b).chain(lp.c).all(|v| v.is_finite()) {
        return Err(Error::Numerical(
            "LP data contain a non-finite number".into(),
        ));
    }
    let ctx = Ctx { lp: *lp, m, n };
    ws.sign.clear();
    ws.sign
        .extend(lp.b.iter().map(|&v| if v < 0.0 { -1.0 } else { 1.0 }));
    ws.binv.clear();
    ws.binv.resize(m * m, 0.0);
    for i in 0..m {
        ws.binv[i * m + i] = 1.0;
    }
    ws.basis.clear();
    ws.basis.extend(n..n + m);
    ws.is_basic.clear();
    ws.is_basic.resize(n + m, false);
    for i in 0..m {
        ws.is_basic[n + i] = true;
    }
    ws.xb.clear();
    ws.xb.extend(lp.b.iter().map(|v| v.abs()));
    ws.pi.resize(m, 0.0);
    ws.alpha.resize(m, 0.0);
    ws.cost.clear();
    ws.cost.resize(n + m, 0.0);
    let bnorm = lp.b.iter().fold(0.0_f64, |a, v| a.max(v.abs()));
    let max_iter = 50_000 + 50 * (m + n);

    // Phase 1: minimise the sum of artificials.
    for k in 0..m {
        ws.cost[n + k] = 1.0;
    }
    let mut iterations = 0usize;
    let mut used_bland = false;
    let st = run_phase(&ctx, ws, &mut iterations, max_iter, &mut used_bland)?;
    if st == LpStatus::IterationLimit {
        return Ok(fail(LpStatus::IterationLimit, n, iterations, used_bland));
    }
    let infeas: f64 = (0..m).filter(|&r| ws.basis[r] >= n).map(|r| ws.xb[r]).sum();
    if infeas > FEAS_TOL * (1.0 + bnorm) {
        return Ok(fail(LpStatus::Infeasible, n, iterations, used_bland));
    }
    // Drive artificials at zero out of the basis where a structural column can replace them.
    for r in 0..m {
        if ws.basis[r] < n {
            continue;
        }
        let mut best: Option<(usize, f64)> = None;
        let mut col = vec![0.0; m];
        for j in 0..n {
            if ws.is_basic[j] {
                continue;
            }
            ctx.col_into(&ws.sign, j, &mut col);
            let v: f64 = (0..m).map(|k| ws.binv[r * m + k] * col[k]).sum();
            let improves = match best {
                None => true,
                Some((_, b)) => v.abs() > b,
            };
            if v.abs() > 1e-7 && improves {
                best = Some((j, v.abs()));
            }
        }
        if let Some((j, _)) = best {
            ctx.col_into(&ws.sign, j, &mut col);
            for i in 0..m {
                ws.alpha[i] = (0..m).map(|k| ws.binv[i * m + k] * col[k]).sum();
            }
            pivot(ws, m, r, j);
        }
    }
    // Phase 2.
    for k in 0..m {
        ws.cost[n + k] = 0.0;
    }
    ws.cost[..n].copy_from_slice(lp.c);
    let st = run_phase(&ctx, ws, &mut iterations, max_iter, &mut used_bland)?;
    if st != LpStatus::Optimal {
        return Ok(fail(st, n, iterations, used_bland));
    }
    let mut x = vec![0.0; n];
    for r in 0..m {
        let j = ws.basis[r];
        if j < n {
            x[j] = ws.xb[r].max(0.0);
        }
    }
    let objective = x.iter().zip(lp.c).map(|(a, b)| a * b).sum();
    Ok(LpSolution {
        status: LpStatus::Optimal,
        objective,
        x,
        iterations,
        used_bland,
    })
}

fn fail(status: LpStatus, n: usize, iterations: usize, used_bland: bool) -> LpSolution {
    LpSolution {
        status,
        objective: f64::NAN,
        x: vec![0.0; n],
        iterations,
        used_bland,
    }
}

/// Pivot column `q` (whose `Binv A_q` is in `ws.alpha`) into basis row `r`.
fn pivot(ws: &mut Workspace, m: usize, r: usize, q: usize) {
    let ar = ws.alpha[r];
    let theta = ws.xb[r] / ar;
    for i in 0..m {
        if i != r {
            ws.xb[i] -= theta * ws.alpha[i];
            if ws.xb[i] < 0.0 && ws.xb[i] > -1e-12 {
                ws.xb[i] = 0.0;
            }
        }
    }
    ws.xb[r] = theta;
    let (before, rest) = ws.binv.split_at_mut(r * m);
    let (row_r, after) = rest.split_at_mut(m);
    for v in row_r.iter_mut() {
        *v /= ar;
    }
    for (i, row) in before.chunks_exact_mut(m).enumerate() {
        let f = ws.alpha[i];
        if f != 0.0 {
            for (a, b) in row.iter_mut().zip(row_r.iter()) {
                *a -= f * b;
            }
        }
    }
    for (k, row) in after.chunks_exact_mut(m).enumerate() {
        let f = ws.alpha[r + 1 + k];
        if f != 0.0 {
            for (a, b) in row.iter_mut().zip(row_r.iter()) {
                *a -= f * b;
            }
        }
    }
    let old = ws.basis[r];
    ws.is_basic[old] = false;
    ws.is_basic[q] = true;
    ws.basis[r] = q;
}

/// Recompute `Binv` and `x_B` from the basis columns (Gauss–Jordan with partial pivoting).
fn reinvert(ctx: &Ctx<'_>, ws: &mut Workspace) -> Result<(), Error> {
    let m = ctx.m;
    ws.bmat.clear();
    ws.bmat.resize(m * m, 0.0);
    let mut col = vec![0.0; m];
    for r in 0..m {
        ctx.col_into(&ws.sign, ws.basis[r], &mut col);
        for i in 0..m {
            ws.bmat[i * m + r] = col[i];
        }
    }
    // [B | I] -> [I | B^-1]
    let mut inv = vec![0.0; m * m];
    for i in 0..m {
        inv[i * m + i] = 1.0;
    }
    let b = &mut ws.bmat;
    for k in 0..m {
        let (mut p, mut best) = (k, b[k * m + k].abs());
        for i in k + 1..m {
            if b[i * m + k].abs() > best {
                best = b[i * m + k].abs();
                p = i;
            }
        }
        if best < 1e-13 {
            return Err(Error::Numerical(
                "simplex basis became singular during reinversion".into(),
            ));
        }
        if p != k {
            for j in 0..m {
                b.swap(k * m + j, p * m + j);
                inv.swap(k * m + j, p * m + j);
            }
        }
        let d = b[k * m + k];
        for j in 0..m {
            b[k * m + j] /= d;
            inv[k * m + j] /= d;
        }
        for i in 0..m {
            if i != k {
                let f = b[i * m + k];
                if f != 0.0 {
                    for j in 0..m {
                        b[i * m + j] -= f * b[k * m + j];
                        inv[i * m + j] -= f * inv[k * m + j];
                    }
                }
            }
        }
    }
    ws.binv.copy_from_slice(&inv);
    for i in 0..m {
        let v: f64 = (0..m)
            .map(|k| ws.binv[i * m + k] * ws.sign[k] * ctx.lp.b[k])
            .sum();
        ws.xb[i] = if v < 0.0 && v > -1e-11 { 0.0 } else { v };
    }
    Ok(())
}

fn run_phase(
    ctx: &Ctx<'_>,
    ws: &mut Workspace,
    iterations: &mut usize,
    max_iter: usize,
    used_bland: &mut bool,
) -> Result<LpStatus, Error> {
    let (m, n) = (ctx.m, ctx.n);
    let stall_limit = 30 + 2 * m;
    let mut stall = 0usize;
    let mut bland = false;
    let mut since_reinvert = 0usize;
    let mut col = vec![0.0; m];
    let mut verified = false;
    loop {
        if *iterations >= max_iter {
            return Ok(LpStatus::IterationLimit);
        }
        // pi' = c_B' Binv, folded with the row signs so that pricing reads raw A.
        for k in 0..m {
            let mut s = 0.0;
            for i in 0..m {
                let cb = ws.cost[ws.basis[i]];
                if cb != 0.0 {
                    s += cb * ws.binv[i * m + k];
                }
            }
            ws.pi[k] = s * ws.sign[k];
        }
        let mut q = usize::MAX;
        let mut best = -OPT_TOL;
        for j in 0..n {
            if ws.is_basic[j] {
                continue;
            }
            let colj = &ctx.lp.a[j * m..(j + 1) * m];
            let mut d = ws.cost[j];
            for k in 0..m {
                d -= ws.pi[k] * colj[k];
            }
            if d < best {
                q = j;
                if bland {
                    break;
                }
                best = d;
            }
        }
        if q == usize::MAX {
            // Optimal for the current inverse: confirm once on a fresh inverse.
            if verified || since_reinvert == 0 {
                return Ok(LpStatus::Optimal);
            }
            reinvert(ctx, ws)?;
            since_reinvert = 0;
            verified = true;
            continue;
        }
        verified = false;
        ctx.col_into(&ws.sign, q, &mut col);
        for i in 0..m {
            let row = &ws.binv[i * m..(i + 1) * m];
            ws.alpha[i] = row.iter().zip(col.iter()).map(|(a, b)| a * b).sum();
        }
        // Ratio test.
        let mut r = usize::MAX;
        let mut theta = f64::INFINITY;
        for i in 0..m {
            let a = ws.alpha[i];
            if a > PIV_TOL {
                let t = ws.xb[i].max(0.0) / a;
                let better = if r == usize::MAX || t < theta - 1e-12 {
                    true
                } else if t <= theta + 1e-12 {
                    if bland {
                        ws.basis[i] < ws.basis[r]
                    } else {
                        a > ws.alpha[r]
                    }
                } else {
                    false
                };
                if better {
                    r = i;
                    theta = theta.min(t);
                }
            }
        }
        if r == usize::MAX {
            return Ok(LpStatus::Unbounded);
        }
        let gain = theta * best.abs();
        pivot(ws, m, r, q);
        *iterations += 1;
        since_reinvert += 1;
        if gain <= 1e-12 {
            stall += 1;
            if stall > stall_limit && !bland {
                bland = true;
                *used_bland = true;
            }
        } else {
            stall = 0;
        }
        if since_reinvert >= REINVERT_EVERY {
            reinvert(ctx, ws)?;
            since_reinvert = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(m: usize, n: usize, a_rows: &[f64], b: &[f64], c: &[f64]) -> LpSolution {
        // a_rows is row-major m x n; convert to column-major.
        let mut a = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                a[j * m + i] = a_rows[i * n + j];
            }
        }
        let lp = Lp {
            nrows: m,
            ncols: n,
            a: &a,
            b,
            c,
        };
        solve(&lp, &mut Workspace::default()).unwrap()
    }

    #[test]
    fn small_lp_matches_hand_solution() {
        // max 3x + 2y s.t. x + y <= 4, x + 3y <= 6, x <= 3  -> x = 3, y = 1, value 11.
        let a = [
            1.0, 1.0, 1.0, 0.0, 0.0, //
            1.0, 3.0, 0.0, 1.0, 0.0, //
            1.0, 0.0, 0.0, 0.0, 1.0,
        ];
        let s = run(3, 5, &a, &[4.0, 6.0, 3.0], &[-3.0, -2.0, 0.0, 0.0, 0.0]);
        assert_eq!(s.status, LpStatus::Optimal);
        assert!((s.objective + 11.0).abs() < 1e-12);
        assert!((s.x[0] - 3.0).abs() < 1e-12 && (s.x[1] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn infeasible_and_unbounded_are_reported() {
        // x + y = -1 with x, y >= 0: infeasible.
        let s = run(1, 2, &[1.0, 1.0], &[-1.0], &[1.0, 1.0]);
        assert_eq!(s.status, LpStatus::Infeasible);
        assert!(s.objective.is_nan());
        // min -x s.t. x - y = 1: unbounded.
        let s = run(1, 2, &[1.0, -1.0], &[1.0], &[-1.0, 0.0]);
        assert_eq!(s.status, LpStatus::Unbounded);
    }

    #[test]
    fn beale_cycling_example_terminates() {
        // Beale (1955): cycles under Dantzig's rule without anti-cycling. Optimum -5/4
        // (value checked with scipy HiGHS).
        let a = [
            0.25, -8.0, -1.0, 9.0, 1.0, 0.0, 0.0, //
            0.5, -12.0, -0.5, 3.0, 0.0, 1.0, 0.0, //
            0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0,
        ];
        let c = [-0.75, 20.0, -0.5, 6.0, 0.0, 0.0, 0.0];
        let s = run(3, 7, &a, &[0.0, 0.0, 1.0], &c);
        assert_eq!(s.status, LpStatus::Optimal);
        assert!((s.objective + 1.25).abs() < 1e-12);
    }

    #[test]
    fn bad_shapes_are_errors() {
        let lp = Lp {
            nrows: 2,
            ncols: 2,
            a: &[1.0, 2.0, 3.0],
            b: &[1.0, 1.0],
            c: &[1.0, 1.0],
        };
        assert!(solve(&lp, &mut Workspace::default()).is_err());
    }
}

//! A small dense two-phase simplex for `max c'x s.t. A x = b, x >= 0`.
//!
//! The ARP tests need *vertex* solutions: the conditional test reads the set of binding moments
//! from the optimal dual of `min eta s.t. y - X delta <= eta * sd`, and an interior-point dual
//! (what a conic solver returns) is not a vertex when the LP is degenerate, which changes the
//! conditioning event. HonestDiD's R and Python code use simplex solvers (Rglpk, HiGHS); this one
//! returns vertices too. Problems here have a few dozen rows, so dense tableaux are right.
//! Bland's rule prevents cycling on the (frequent) degenerate pivots.

/// Outcome of a standard-form LP.
#[derive(Debug, Clone)]
pub(crate) enum LpOutcome {
    Optimal { x: Vec<f64>, value: f64 },
    Infeasible,
    Unbounded,
}

const PIVOT_TOL: f64 = 1e-11;
const FEAS_TOL: f64 = 1e-9;

/// Maximise `c'x` subject to `A x = b`, `x >= 0`; `a` is row-major with `m` rows, `n = c.len()`.
pub(crate) fn maximize_standard(a: &[f64], b: &[f64], c: &[f64]) -> LpOutcome {
    let m = b.len();
    let n = c.len();
    debug_assert_eq!(a.len(), m * n);
    // Tableau columns: n originals, m artificials, then rhs. Rows with b < 0 are negated.
    let width = n + m + 1;
    let mut t = vec![0.0; m * width];
    for i in 0..m {
        let sign = if b[i] < 0.0 { -1.0 } else { 1.0 };
        for j in 0..n {
            t[i * width + j] = sign * a[i * n + j];
        }
        t[i * width + n + i] = 1.0;
        t[i * width + n + m] = sign * b[i];
    }
    let mut basis: Vec<usize> = (n..n + m).collect();
    // Phase I: maximise -sum(artificials).
    let mut cost1 = vec![0.0; n + m];
    for v in cost1.iter_mut().skip(n) {
        *v = -1.0;
    }
    if !run_simplex(&mut t, &mut basis, &cost1, m, width, n + m) {
        return LpOutcome::Unbounded; // cannot happen in phase I; defensive
    }
    let infeas: f64 = basis
        .iter()
        .enumerate()
        .filter(|(_, &j)| j >= n)
        .map(|(i, _)| t[i * width + n + m])
        .sum();
    if infeas > FEAS_TOL * (1.0 + b.iter().map(|v| v.abs()).sum::<f64>()) {
        return LpOutcome::Infeasible;
    }
    // Drive remaining (zero-level) artificials out of the basis where possible.
    for i in 0..m {
        if basis[i] >= n {
            if let Some(j) = (0..n).find(|&j| t[i * width + j].abs() > 1e-9) {
                pivot(&mut t, &mut basis, m, width, i, j);
            }
        }
    }
    // Phase II on original columns only (artificials barred from entering).
    let mut cost2 = vec![0.0; n + m];
    cost2[..n].copy_from_slice(c);
    if !run_simplex(&mut t, &mut basis, &cost2, m, width, n) {
        return LpOutcome::Unbounded;
    }
    let mut x = vec![0.0; n];
    for (i, &j) in basis.iter().enumerate() {
        if j < n {
            x[j] = t[i * width + n + m];
        }
    }
    let value = c.iter().zip(&x).map(|(ci, xi)| ci * xi).sum();
    LpOutcome::Optimal { x, value }
}

/// Primal simplex with Bland's rule; columns `>= enter_limit` never enter. False if unbounded.
fn run_simplex(
    t: &mut [f64],
    basis: &mut [usize],
    cost: &[f64],
    m: usize,
    width: usize,
    enter_limit: usize,
) -> bool {
    let rhs = width - 1;
    for _iter in 0..50_000 {
        // reduced cost r_j = c_j - c_B' B^-1 a_j; enter the lowest index with r_j > tol.
        let mut enter = None;
        for j in 0..enter_limit {
            if basis.contains(&j) {
                continue;
            }
            let mut r = cost[j];
            for i in 0..m {
                r -= cost[basis[i]] * t[i * width + j];
            }
            if r > 1e-10 {
                enter = Some(j);
                break;
            }
        }
        let Some(j) = enter else { return true };
        // ratio test, ties broken by the lowest basis index (Bland).
        let mut leave: Option<(usize, f64)> = None;
        for i in 0..m {
            let aij = t[i * width + j];
            if aij > PIVOT_TOL {
                let ratio = t[i * width + rhs] / aij;
                match leave {
                    None => leave = Some((i, ratio)),
                    Some((li, lr)) => {
                        if ratio < lr - 1e-12 || (ratio <= lr + 1e-12 && basis[i] < basis[li]) {
                            leave = Some((i, ratio));
                        }
                    }
                }
            }
        }
        let Some((i, _)) = leave else { return false };
        pivot(t, basis, m, width, i, j);
    }
    true
}

fn pivot(t: &mut [f64], basis: &mut [usize], m: usize, width: usize, row: usize, col: usize) {
    let p = t[row * width + col];
    for k in 0..width {
        t[row * width + k] /= p;
    }
    for i in 0..m {
        if i != row {
            let f = t[i * width + col];
            if f != 0.0 {
                for k in 0..width {
                    t[i * width + k] -= f * t[row * width + k];
                }
            }
        }
    }
    basis[row] = col;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_lp_has_known_vertex() {
        // max x1 + x2 s.t. x1 + 2 x2 + s1 = 4, 3 x1 + x2 + s2 = 6 -> x = (1.6, 1.2)
        let a = [1.0, 2.0, 1.0, 0.0, 3.0, 1.0, 0.0, 1.0];
        match maximize_standard(&a, &[4.0, 6.0], &[1.0, 1.0, 0.0, 0.0]) {
            LpOutcome::Optimal { x, value } => {
                assert!((x[0] - 1.6).abs() < 1e-12 && (x[1] - 1.2).abs() < 1e-12);
                assert!((value - 2.8).abs() < 1e-12);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn detects_infeasible_and_unbounded() {
        // x1 + x2 = -1 with x >= 0 is infeasible
        assert!(matches!(
            maximize_standard(&[1.0, 1.0], &[-1.0], &[1.0, 0.0]),
            LpOutcome::Infeasible
        ));
        // max x1 s.t. x1 - x2 = 0 is unbounded
        assert!(matches!(
            maximize_standard(&[1.0, -1.0], &[0.0], &[1.0, 0.0]),
            LpOutcome::Unbounded
        ));
    }
}

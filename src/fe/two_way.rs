//! Exact two-way demeaning of unbalanced panels: the reduced normal equations of the smaller
//! dimension (Somaini & Wolak 2016, "An algorithm to estimate the two-way fixed effects
//! model", J. Econometric Methods 5(1)).
//!
//! With units i (the larger dimension, U levels) and periods t (the smaller, T levels), c_i the
//! vector of unit i's row counts per period and n_i its row count, the period effects γ of
//! x on both dimensions solve
//!
//!   C γ = r,   C = diag(n_t) − Σ_i c_i c_i' / n_i,   r_t = Σ_{rows at t} (x − x̄_i),
//!
//! and the unit effects are α_i = x̄_i − c_i'γ / n_i. C is the Laplacian of the unit–period
//! graph (weighted by 1/n_i); when the graph is connected its null space is the constant
//! vector, so fixing γ of the last period at 0 leaves a positive definite (T−1)×(T−1) system,
//! inverted once (`linalg::spd_inverse_rowmajor`). The residual x − α_i − γ_t is the exact
//! projection, with no iteration: one pass over the rows for the level sums, one over each
//! unit's periods for r and α, one for the residuals, and C once per call (shared by every
//! column).
//!
//! C is accumulated unit by unit in the cheaper of two forms: Σ_{p,q ∈ periods(i)} 1/n_i
//! (n_i² terms), or, for a unit observed in most periods, through its missing periods m_i:
//! c_i c_i' = 11' − 1m_i' − m_i1' + m_i m_i' ((T − n_i)² terms). Units are split into a fixed
//! number of blocks (set by T, never by the thread count) whose partial sums are added in
//! block order, so the result does not depend on the number of threads.
//!
//! Used for two dimensions without weights when the smaller one has at most
//! [`MAX_SMALL_LEVELS`] levels and the graph is connected; otherwise the caller iterates.

use rayon::prelude::*;

use super::FixedEffects;
use crate::linalg::{dot_sequential, spd_inverse_rowmajor};

/// The largest smaller dimension solved directly: C has T² entries and its inverse costs
/// O(T³) operations once per call (1,000 periods: 8 MB, ~10⁹ operations).
pub(super) const MAX_SMALL_LEVELS: usize = 1000;

/// Memory for the per-block partial sums of C.
const BLOCK_BUDGET_BYTES: usize = 64 << 20;

/// The factorised system of one two-dimension fixed-effect structure, shared by all columns.
pub(super) struct TwoWayDirect<'a> {
    /// Codes of the larger ("unit") and smaller ("period") dimension.
    unit: &'a [u32],
    period: &'a [u32],
    n_units: usize,
    n_periods: usize,
    /// Rows per unit, as f64.
    unit_count: Vec<f64>,
    /// Each unit's periods (with repeats), unit by unit: `periods[start[i]..start[i + 1]]`.
    start: Vec<usize>,
    periods: Vec<u32>,
    /// Inverse of C without its last row and column, row-major (T−1)².
    c_inv: Vec<f64>,
}

impl<'a> TwoWayDirect<'a> {
    /// The factorised system, or None when the direct path does not apply (more than
    /// [`MAX_SMALL_LEVELS`] levels in both dimensions, fewer than two levels in one, a
    /// disconnected unit–period graph, or a factorisation that loses positive definiteness).
    pub fn new(fe: &'a FixedEffects) -> Option<Self> {
        if fe.n_dims() != 2 {
            return None;
        }
        // The larger dimension plays the unit; ties keep the first as unit.
        let (u, p) = if fe.n_levels[0] >= fe.n_levels[1] {
            (0, 1)
        } else {
            (1, 0)
        };
        let (n_units, n_periods) = (fe.n_levels[u], fe.n_levels[p]);
        if !(2..=MAX_SMALL_LEVELS).contains(&n_periods) || n_units < 2 {
            return None;
        }
        let (unit, period) = (fe.codes[u].as_slice(), fe.codes[p].as_slice());
        let n = unit.len();
        // Units' period lists (a counting sort of the rows by unit).
        let mut start = vec![0usize; n_units + 1];
        for &i in unit {
            start[i as usize + 1] += 1;
        }
        for i in 0..n_units {
            start[i + 1] += start[i];
        }
        let mut periods = vec![0u32; n];
        let mut cursor = start[..n_units].to_vec();
        for (&i, &t) in unit.iter().zip(period) {
            let c = &mut cursor[i as usize];
            periods[*c] = t;
            *c += 1;
        }
        let unit_count: Vec<f64> = start.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
        if !connected(&start, &periods, n_periods) {
            return None;
        }
        let c = laplacian(&start, &periods, &unit_count, n_periods);
        // C's leading (T−1)×(T−1) block: positive definite when the graph is connected (None
        // from the inverse when a pivot is not clearly positive, i.e. numerically disconnected)
        let m = n_periods - 1;
        let block: Vec<f64> = c
            .chunks_exact(n_periods)
            .take(m)
            .flat_map(|row| row[..m].iter().copied())
            .collect();
        let c_inv = spd_inverse_rowmajor(&block, m)?;
        Some(Self {
            unit,
            period,
            n_units,
            n_periods,
            unit_count,
            start,
            periods,
            c_inv,
        })
    }

    /// Projects both dimensions out of each column, in place. Each column's arithmetic is its
    /// own (a column's numbers do not depend on the others or on the thread count).
    pub fn demean(&self, cols: &mut [&mut [f64]]) {
        cols.par_iter_mut().for_each(|x| self.demean_one(x));
    }

    fn demean_one(&self, x: &mut [f64]) {
        let (tn, un) = (self.n_periods, self.n_units);
        let mut unit_mean = vec![0.0; un];
        let mut r = vec![0.0; tn];
        for ((&i, &t), &v) in self.unit.iter().zip(self.period).zip(x.iter()) {
            unit_mean[i as usize] += v;
            r[t as usize] += v;
        }
        unit_mean
            .iter_mut()
            .zip(&self.unit_count)
            .for_each(|(m, &c)| *m /= c);
        // r_t = Σ_{rows at t} x − Σ_i c_it x̄_i
        for (i, &m) in unit_mean.iter().enumerate() {
            for &t in &self.periods[self.start[i]..self.start[i + 1]] {
                r[t as usize] -= m;
            }
        }
        let gamma = self.solve(&r);
        // α_i = x̄_i − c_i'γ / n_i, kept in unit_mean
        for (i, m) in unit_mean.iter_mut().enumerate() {
            let s: f64 = self.periods[self.start[i]..self.start[i + 1]]
                .iter()
                .map(|&t| gamma[t as usize])
                .sum();
            *m -= s / self.unit_count[i];
        }
        for ((v, &i), &t) in x.iter_mut().zip(self.unit).zip(self.period) {
            *v -= unit_mean[i as usize] + gamma[t as usize];
        }
    }

    /// γ with γ_{T−1} = 0: the inverse of C's leading (T−1)×(T−1) block times r.
    fn solve(&self, r: &[f64]) -> Vec<f64> {
        let m = self.n_periods - 1;
        let mut gamma: Vec<f64> = self
            .c_inv
            .chunks_exact(m)
            .map(|row| dot_sequential(row, &r[..m]))
            .collect();
        gamma.push(0.0);
        gamma
    }
}

/// True when every period is reachable from period 0 through units observed in both.
fn connected(start: &[usize], periods: &[u32], n_periods: usize) -> bool {
    let mut parent: Vec<u32> = (0..n_periods as u32).collect();
    fn find(parent: &mut [u32], mut a: u32) -> u32 {
        while parent[a as usize] != a {
            let up = parent[parent[a as usize] as usize];
            parent[a as usize] = up;
            a = up;
        }
        a
    }
    for w in start.windows(2) {
        let list = &periods[w[0]..w[1]];
        if let Some((&first, rest)) = list.split_first() {
            let root = find(&mut parent, first);
            for &t in rest {
                let other = find(&mut parent, t);
                if other != root {
                    parent[other as usize] = root;
                }
            }
        }
    }
    let root = find(&mut parent, 0);
    (0..n_periods as u32).all(|t| find(&mut parent, t) == root)
}

/// C = diag(n_t) − Σ_i c_i c_i' / n_i, row-major T×T.
fn laplacian(start: &[usize], periods: &[u32], unit_count: &[f64], tn: usize) -> Vec<f64> {
    let n_units = unit_count.len();
    let blocks = (BLOCK_BUDGET_BYTES / (tn * tn * 8))
        .clamp(1, 64)
        .min(n_units);
    let per_block = n_units.div_ceil(blocks);
    // Per block: Σ over its units of c_i c_i'/n_i, with the complement units' terms kept as
    // (scalar a, vector v, matrix part) so that S = mat + a 11' − v1' − 1v'.
    let partial: Vec<(Vec<f64>, f64, Vec<f64>)> = (0..blocks)
        .into_par_iter()
        .map(|b| {
            let mut mat = vec![0.0; tn * tn];
            let mut a = 0.0;
            let mut v = vec![0.0; tn];
            let mut mark = vec![usize::MAX; tn];
            let mut missing = Vec::with_capacity(tn);
            let units = b * per_block..((b + 1) * per_block).min(n_units);
            for i in units {
                let list = &periods[start[i]..start[i + 1]];
                let inv = 1.0 / unit_count[i];
                let mut repeats = false;
                for &t in list {
                    repeats |= mark[t as usize] == i;
                    mark[t as usize] = i;
                }
                let k = list.len();
                let miss = tn.saturating_sub(k);
                if repeats || k * k <= miss * miss + tn {
                    for &p in list {
                        let row = &mut mat[p as usize * tn..(p as usize + 1) * tn];
                        for &q in list {
                            row[q as usize] += inv;
                        }
                    }
                } else {
                    missing.clear();
                    missing.extend((0..tn).filter(|&t| mark[t] != i));
                    a += inv;
                    for &m in &missing {
                        v[m] += inv;
                        let row = &mut mat[m * tn..(m + 1) * tn];
                        for &q in &missing {
                            row[q] += inv;
                        }
                    }
                }
            }
            (mat, a, v)
        })
        .collect();
    let mut c = vec![0.0; tn * tn];
    let mut count = vec![0.0; tn];
    for &t in periods {
        count[t as usize] += 1.0;
    }
    for (mat, a, v) in &partial {
        for p in 0..tn {
            for q in 0..tn {
                c[p * tn + q] -= mat[p * tn + q] + (a - v[p] - v[q]);
            }
        }
    }
    for t in 0..tn {
        c[t * tn + t] += count[t];
    }
    c
}

#[cfg(test)]
mod tests {
    use super::super::test_support::fe2;
    use super::*;

    /// Deterministic pseudo-random numbers for test data.
    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 11) as f64) / ((1u64 << 53) as f64)
    }

    /// Residuals sum to zero within every level of both dimensions (the normal equations).
    fn assert_projected(x: &[f64], fe: &FixedEffects, tol: f64) {
        for q in 0..2 {
            let mut s = vec![0.0; fe.n_levels[q]];
            for (&c, &v) in fe.codes[q].iter().zip(x) {
                s[c as usize] += v;
            }
            let worst = s.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(worst < tol, "dimension {q}: level sum {worst}");
        }
    }

    /// An unbalanced panel (both forms of C used: short and nearly complete units), repeated
    /// cells, rows in shuffled order: the residuals satisfy both dimensions' normal equations
    /// and equal the converged alternating projections.
    #[test]
    fn direct_solution_is_the_projection() {
        let mut seed = 7u64;
        let (units, periods) = (60u32, 9u32);
        let (mut a, mut b, mut x) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..units {
            for t in 0..periods {
                // unit 0-19 nearly complete, 20-59 sparse; a few repeated cells
                let keep = if i < 20 {
                    lcg(&mut seed) > 0.1
                } else {
                    lcg(&mut seed) > 0.6
                };
                let copies = if keep && lcg(&mut seed) > 0.95 {
                    2
                } else {
                    usize::from(keep)
                };
                for _ in 0..copies {
                    a.push(i);
                    b.push(t);
                    x.push(lcg(&mut seed) * 10.0 + f64::from(i % 7) - f64::from(t));
                }
            }
        }
        // reverse the row order: nothing may depend on rows arriving unit by unit
        a.reverse();
        b.reverse();
        x.reverse();
        let fe = fe2(a, b);
        let direct = TwoWayDirect::new(&fe).expect("connected panel");
        let mut xd = x.clone();
        direct.demean(&mut [&mut xd[..]]);
        assert_projected(&xd, &fe, 1e-10);
        let mut xi = x.clone();
        let spec = super::super::DemeanSpec {
            tol: 1e-14,
            max_iter: 100_000,
        };
        super::super::demean::demean_iterative(&mut [&mut xi[..]], &fe, &spec).unwrap();
        let worst = xd
            .iter()
            .zip(&xi)
            .fold(0.0f64, |m, (p, q)| m.max((p - q).abs()));
        assert!(worst < 1e-10, "direct vs iterative: {worst}");
    }

    /// The thread count never changes a number: C's partial sums are added in a block order
    /// set by the data, so pools of 1, 2 and 3 threads give bitwise-identical residuals.
    #[test]
    fn thread_count_does_not_change_a_bit() {
        let mut seed = 11u64;
        let (mut a, mut b, mut x, mut y) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in 0..5000u32 {
            for t in 0..40u32 {
                if lcg(&mut seed) > if i % 3 == 0 { 0.05 } else { 0.7 } {
                    a.push(i);
                    b.push(t);
                    x.push(lcg(&mut seed) + f64::from(t % 5));
                    y.push(lcg(&mut seed) * 3.0 - f64::from(i % 11));
                }
            }
        }
        let fe = fe2(a, b);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let direct = TwoWayDirect::new(&fe).expect("connected panel");
                let (mut xd, mut yd) = (x.clone(), y.clone());
                direct.demean(&mut [&mut xd[..], &mut yd[..]]);
                (xd, yd)
            })
        };
        let one = run(1);
        assert_projected(&one.0, &fe, 1e-9);
        for threads in [2, 3] {
            let other = run(threads);
            assert!(
                one.0
                    .iter()
                    .zip(&other.0)
                    .all(|(p, q)| p.to_bits() == q.to_bits())
                    && one
                        .1
                        .iter()
                        .zip(&other.1)
                        .all(|(p, q)| p.to_bits() == q.to_bits()),
                "{threads} threads changed a residual"
            );
        }
    }

    /// Two groups of units observed in disjoint periods: not connected, no direct solution.
    #[test]
    fn disconnected_graph_is_refused() {
        let a = vec![0, 0, 1, 1, 2, 2, 3, 3];
        let b = vec![0, 1, 0, 1, 2, 3, 2, 3];
        assert!(TwoWayDirect::new(&fe2(a, b)).is_none());
    }
}

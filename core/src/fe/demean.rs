//! Projecting fixed effects out of columns (the within transformation).
//!
//! Four paths, chosen per call:
//! - one dimension: subtract (weighted) level means, exact;
//! - two dimensions forming a balanced grid (every level pair exactly once) without weights:
//!   `x - mean_a - mean_b + mean`, exact, two passes;
//! - two dimensions, unbalanced, without weights, the smaller with at most 1,000 levels and
//!   a connected graph: the smaller dimension's reduced normal equations solved exactly
//!   (Somaini & Wolak 2016; `two_way.rs`), no iteration;
//! - otherwise: alternating projections in coefficient space (Gauss–Seidel over dimensions,
//!   the fixed point of Guimarães & Portugal 2010 / Gaure 2013) accelerated with the
//!   Irons–Tuck (1969) extrapolation that fixest uses (Bergé 2018). The iteration state is
//!   the coefficients of every dimension but the largest, which is solved for inside each
//!   sweep, so the state stays small (e.g. the year effects of a city panel).
//!
//! We hand-write this rather than use the `within` crate: `within` solves the normal equations
//! with Krylov methods and Schwarz preconditioners, built for huge, poorly connected FE graphs
//! (workers × firms). Our workloads are unit × period panels (plus an occasional
//! province × year), where the exact balanced path or a few accelerated sweeps suffice and
//! the per-call setup of a preconditioner would dominate the thousands of small fits that
//! placebo and bootstrap loops run.

use rayon::prelude::*;

use super::two_way::TwoWayDirect;
use super::FixedEffects;
use crate::error::{Error, Result};
use crate::interrupt::Cancel;

/// Tolerance and iteration cap for the iterative path.
#[derive(Debug, Clone, Copy)]
pub struct DemeanSpec {
    /// Stop when the largest change of any fixed-effect coefficient in a sweep is below
    /// `tol` times the column's root mean square.
    pub tol: f64,
    pub max_iter: usize,
}

impl Default for DemeanSpec {
    fn default() -> Self {
        Self {
            tol: 1e-11,
            max_iter: 10_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemeanMethod {
    NoFixedEffects,
    OneWay,
    BalancedTwoWay,
    /// Two dimensions, unbalanced: the smaller one's reduced normal equations solved exactly.
    TwoWayDirect,
    AlternatingProjections,
}

#[derive(Debug, Clone)]
pub struct DemeanInfo {
    pub method: DemeanMethod,
    /// Sweeps used per column (0 on the exact paths).
    pub iterations: Vec<usize>,
    /// Wall time of the projection (reported by benchmarks as bandwidth).
    pub seconds: f64,
}

/// Demeans every column in place. `weights`, when given, are analytic weights (> 0).
pub fn demean_columns(
    cols: &mut [&mut [f64]],
    weights: Option<&[f64]>,
    fe: &FixedEffects,
    spec: &DemeanSpec,
) -> Result<DemeanInfo> {
    let start = std::time::Instant::now();
    let n = fe.n_obs();
    if let Some(c) = cols.iter().find(|c| c.len() != n) {
        return Err(Error::Shape(format!(
            "column of length {} to demean, fixed effects cover {n} rows",
            c.len()
        )));
    }
    if let Some(w) = weights {
        if w.len() != n {
            return Err(Error::Shape(format!("{} weights for {n} rows", w.len())));
        }
    }
    let unweighted_two_way = fe.n_dims() == 2 && weights.is_none();
    // rows in grid order form a balanced grid by construction; otherwise check cell by cell
    let layout = unweighted_two_way.then(|| grid_layout(fe)).flatten();
    let balanced = unweighted_two_way && (layout.is_some() || is_balanced_grid(fe));
    let direct = if unweighted_two_way && !balanced {
        TwoWayDirect::new(fe)
    } else {
        None
    };
    let method = match fe.n_dims() {
        0 => DemeanMethod::NoFixedEffects,
        1 => DemeanMethod::OneWay,
        2 if balanced => DemeanMethod::BalancedTwoWay,
        2 if direct.is_some() => DemeanMethod::TwoWayDirect,
        _ => DemeanMethod::AlternatingProjections,
    };
    let iterations: Vec<usize> = match method {
        DemeanMethod::NoFixedEffects => vec![0; cols.len()],
        DemeanMethod::OneWay => {
            let (codes, levels) = (&fe.codes[0], fe.n_levels[0]);
            let wsum = level_weight_sums(codes, levels, weights);
            cols.par_iter_mut()
                .for_each(|c| demean_one_way(c, codes, &wsum, weights));
            vec![0; cols.len()]
        }
        DemeanMethod::BalancedTwoWay => {
            match layout {
                Some(layout) => cols
                    .par_chunks_mut(columns_per_worker(cols.len()))
                    .for_each(|g| demean_balanced_sorted_group(g, fe, layout)),
                None => cols.par_iter_mut().for_each(|c| demean_balanced(c, fe)),
            }
            vec![0; cols.len()]
        }
        DemeanMethod::TwoWayDirect => {
            if let Some(d) = &direct {
                d.demean(cols);
            }
            vec![0; cols.len()]
        }
        DemeanMethod::AlternatingProjections => alternating_projections(cols, weights, fe, spec)?,
    };
    Ok(DemeanInfo {
        method,
        iterations,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Columns per group when the columns are split into one group per rayon worker (the
/// grouped paths read the codes or rows once per group; grouping never changes a number).
fn columns_per_worker(n_cols: usize) -> usize {
    n_cols.div_ceil(rayon::current_num_threads().max(1)).max(1)
}

/// Alternating projections for any fixed-effect structure; sweeps used per column.
fn alternating_projections(
    cols: &mut [&mut [f64]],
    weights: Option<&[f64]>,
    fe: &FixedEffects,
    spec: &DemeanSpec,
) -> Result<Vec<usize>> {
    let problem = Problem::new(fe, weights);
    // Taken here, on the caller's thread: the groups run on rayon's workers.
    let cancel = Cancel::current();
    // Columns are demeaned in groups, one group per worker, so that each sweep reads the codes
    // once per group rather than once per column. Grouping never changes a number (see
    // `demean_group`), so the thread count does not either.
    let out: Vec<Result<Vec<usize>>> = cols
        .par_chunks_mut(columns_per_worker(cols.len()))
        .map(|g| problem.demean_group(g, spec, cancel))
        .collect();
    let mut iterations = Vec::with_capacity(cols.len());
    for r in out {
        iterations.extend(r?);
    }
    Ok(iterations)
}

/// Alternating projections whatever the structure (the direct paths' reference in tests).
#[cfg(test)]
pub(super) fn demean_iterative(
    cols: &mut [&mut [f64]],
    fe: &FixedEffects,
    spec: &DemeanSpec,
) -> Result<Vec<usize>> {
    alternating_projections(cols, None, fe, spec)
}

/// True when two dimensions form a full grid with every level pair exactly once.
fn is_balanced_grid(fe: &FixedEffects) -> bool {
    let (la, lb) = (fe.n_levels[0], fe.n_levels[1]);
    if la.checked_mul(lb) != Some(fe.n_obs()) {
        return false;
    }
    let mut seen = vec![false; la * lb];
    for (&a, &b) in fe.codes[0].iter().zip(&fe.codes[1]) {
        let cell = &mut seen[a as usize * lb + b as usize];
        if *cell {
            return false;
        }
        *cell = true;
    }
    true
}

/// How the rows of a balanced grid are ordered when they follow it exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GridLayout {
    /// Row i is level (i / lb, i % lb): sorted by the first dimension, then the second.
    FirstMajor,
    /// Row i is level (i % la, i / la): sorted by the second dimension, then the first.
    SecondMajor,
}

/// The layout of a balanced grid whose rows are sorted (the usual unit-by-year panel), so
/// that demeaning can stream the columns without reading the codes. Rows in either order
/// hold every level pair exactly once, so a layout implies a balanced grid. Compared block by
/// block (no division per row: this runs on every two-way fit).
fn grid_layout(fe: &FixedEffects) -> Option<GridLayout> {
    let (ca, cb) = (&fe.codes[0], &fe.codes[1]);
    let (la, lb) = (fe.n_levels[0], fe.n_levels[1]);
    if la == 0 || lb == 0 || la.checked_mul(lb) != Some(ca.len()) {
        return None;
    }
    // major level constant within each block, minor level 0, 1, ... within it (blocks checked
    // in parallel: a yes/no answer, whatever the order)
    let sorted = |major: &[u32], minor: &[u32], block: usize| {
        major
            .par_chunks_exact(block)
            .zip(minor.par_chunks_exact(block))
            .enumerate()
            .all(|(m, (ra, rb))| {
                ra.iter().all(|&x| x as usize == m)
                    && rb.iter().enumerate().all(|(j, &y)| y as usize == j)
            })
    };
    if sorted(ca, cb, lb) {
        Some(GridLayout::FirstMajor)
    } else if sorted(cb, ca, la) {
        Some(GridLayout::SecondMajor)
    } else {
        None
    }
}

/// `demean_balanced` for rows in grid order: the same sums in the same row order (so the same
/// numbers), with the level of each row known from its position. G columns at once: the first
/// pass walks the rows once for all of them, so that their running sums (chains of dependent
/// additions, which bound this pass by latency, not bandwidth) overlap; each column's sums are
/// still its own additions in row order, so grouping changes no bit.
fn demean_balanced_sorted<const G: usize>(
    cols: &mut [&mut [f64]],
    fe: &FixedEffects,
    layout: GridLayout,
) {
    debug_assert_eq!(cols.len(), G);
    let (la, lb) = (fe.n_levels[0], fe.n_levels[1]);
    let mut ma = vec![[0.0; G]; la];
    let mut mb = vec![[0.0; G]; lb];
    let mut total = [0.0; G];
    // Blocks of rows sharing the major level; within a block the minor level runs 0, 1, ...
    let (major, minor, block) = match layout {
        GridLayout::FirstMajor => (&mut ma, &mut mb, lb),
        GridLayout::SecondMajor => (&mut mb, &mut ma, la),
    };
    {
        let xs: [&[f64]; G] = std::array::from_fn(|c| &*cols[c]);
        for (k, m) in major.iter_mut().enumerate() {
            let rows = k * block..(k + 1) * block;
            for (i, mn) in rows.zip(minor.iter_mut()) {
                for c in 0..G {
                    let xi = xs[c][i];
                    m[c] += xi;
                    mn[c] += xi;
                    total[c] += xi;
                }
            }
        }
    }
    for (c, x) in cols.iter_mut().enumerate() {
        let grand = total[c] / x.len() as f64;
        let mean_a: Vec<f64> = ma.iter().map(|m| m[c] / lb as f64).collect();
        let mean_b: Vec<f64> = mb.iter().map(|m| m[c] / la as f64 - grand).collect();
        let (major, minor) = match layout {
            GridLayout::FirstMajor => (&mean_a, &mean_b),
            GridLayout::SecondMajor => (&mean_b, &mean_a),
        };
        for (row_block, &mj) in x.chunks_exact_mut(block).zip(major.iter()) {
            for (xi, &mn) in row_block.iter_mut().zip(minor.iter()) {
                // Same operand order as `demean_balanced`: x - (mean_a + mean_b).
                *xi -= match layout {
                    GridLayout::FirstMajor => mj + mn,
                    GridLayout::SecondMajor => mn + mj,
                };
            }
        }
    }
}

/// [`demean_balanced_sorted`] over a group of up to four columns.
fn demean_balanced_sorted_group(cols: &mut [&mut [f64]], fe: &FixedEffects, layout: GridLayout) {
    for group in cols.chunks_mut(4) {
        match group.len() {
            1 => demean_balanced_sorted::<1>(group, fe, layout),
            2 => demean_balanced_sorted::<2>(group, fe, layout),
            3 => demean_balanced_sorted::<3>(group, fe, layout),
            _ => demean_balanced_sorted::<4>(group, fe, layout),
        }
    }
}

fn level_weight_sums(codes: &[u32], levels: usize, weights: Option<&[f64]>) -> Vec<f64> {
    let mut s = vec![0.0; levels];
    match weights {
        Some(w) => codes
            .iter()
            .zip(w)
            .for_each(|(&c, &wi)| s[c as usize] += wi),
        None => codes.iter().for_each(|&c| s[c as usize] += 1.0),
    }
    s
}

fn demean_one_way(x: &mut [f64], codes: &[u32], wsum: &[f64], weights: Option<&[f64]>) {
    let mut mean = vec![0.0; wsum.len()];
    match weights {
        Some(w) => {
            for ((&c, &xi), &wi) in codes.iter().zip(x.iter()).zip(w) {
                mean[c as usize] += wi * xi;
            }
        }
        None => {
            for (&c, &xi) in codes.iter().zip(x.iter()) {
                mean[c as usize] += xi;
            }
        }
    }
    mean.iter_mut().zip(wsum).for_each(|(m, &s)| *m /= s);
    for (xi, &c) in x.iter_mut().zip(codes) {
        *xi -= mean[c as usize];
    }
}

fn demean_balanced(x: &mut [f64], fe: &FixedEffects) {
    let (ca, cb) = (&fe.codes[0], &fe.codes[1]);
    let (la, lb) = (fe.n_levels[0], fe.n_levels[1]);
    let mut ma = vec![0.0; la];
    let mut mb = vec![0.0; lb];
    let mut total = 0.0;
    for ((&a, &b), &xi) in ca.iter().zip(cb).zip(x.iter()) {
        ma[a as usize] += xi;
        mb[b as usize] += xi;
        total += xi;
    }
    let grand = total / x.len() as f64;
    ma.iter_mut().for_each(|m| *m /= lb as f64);
    mb.iter_mut().for_each(|m| *m = *m / la as f64 - grand);
    for ((xi, &a), &b) in x.iter_mut().zip(ca).zip(cb) {
        *xi -= ma[a as usize] + mb[b as usize];
    }
}

/// The iterative problem: dimensions ordered so that the largest is solved inside each sweep.
struct Problem<'a> {
    /// Dimension indices, largest first.
    order: Vec<usize>,
    codes: Vec<&'a [u32]>,
    n_levels: Vec<usize>,
    /// Per dimension, the (weighted) count of each level.
    wsum: Vec<Vec<f64>>,
    weights: Option<&'a [f64]>,
    /// Offsets of each non-first dimension's coefficients inside the state vector.
    offsets: Vec<usize>,
    state_len: usize,
}

impl<'a> Problem<'a> {
    fn new(fe: &'a FixedEffects, weights: Option<&'a [f64]>) -> Self {
        let mut order: Vec<usize> = (0..fe.n_dims()).collect();
        order.sort_by_key(|&q| std::cmp::Reverse(fe.n_levels[q]));
        let codes: Vec<&[u32]> = order.iter().map(|&q| fe.codes[q].as_slice()).collect();
        let n_levels: Vec<usize> = order.iter().map(|&q| fe.n_levels[q]).collect();
        let wsum = codes
            .iter()
            .zip(&n_levels)
            .map(|(c, &l)| level_weight_sums(c, l, weights))
            .collect();
        let mut offsets = vec![0; n_levels.len()];
        let mut acc = 0;
        for d in 1..n_levels.len() {
            offsets[d] = acc;
            acc += n_levels[d];
        }
        Self {
            order,
            codes,
            n_levels,
            wsum,
            weights,
            offsets,
            state_len: acc,
        }
    }

    /// Per-level (weighted) sums of x for every dimension.
    fn level_sums(&self, x: &[f64]) -> Vec<Vec<f64>> {
        self.codes
            .iter()
            .zip(&self.n_levels)
            .map(|(c, &l)| {
                let mut s = vec![0.0; l];
                match self.weights {
                    Some(w) => {
                        for ((&ci, &xi), &wi) in c.iter().zip(x).zip(w) {
                            s[ci as usize] += wi * xi;
                        }
                    }
                    None => {
                        for (&ci, &xi) in c.iter().zip(x) {
                            s[ci as usize] += xi;
                        }
                    }
                }
                s
            })
            .collect()
    }

    /// Coefficients of dimension `d` given all others, for every column of a group in one pass
    /// over the rows (the codes are read once for the group): level mean of x minus the other
    /// dimensions' fitted effects. Column `k`'s dimension-0 coefficients are `first[k]` (unused
    /// when `d == 0`), its other coefficients `state[k]`; the result goes to `out[k]`. Each
    /// column's arithmetic is exactly that of a pass over that column alone.
    fn update(
        &self,
        d: usize,
        sx: &[&[Vec<f64>]],
        first: &[&[f64]],
        state: &[&[f64]],
        out: &mut [&mut [f64]],
    ) {
        for (o, s) in out.iter_mut().zip(sx) {
            o.copy_from_slice(&s[d]);
        }
        let n = self.codes[0].len();
        let dims = self.codes.len();
        if dims == 2 && self.weights.is_none() {
            // The common unit x period case, unrolled: `0.0 + v` keeps the general loop's
            // arithmetic (it turns -0.0 into 0.0, as the accumulation from 0.0 does).
            let (cd, ce) = (self.codes[d], self.codes[1 - d]);
            if d == 0 {
                let off = self.offsets[1];
                for (&a, &b) in cd.iter().zip(ce) {
                    for (o, st) in out.iter_mut().zip(state) {
                        o[a as usize] -= 0.0 + st[off + b as usize];
                    }
                }
            } else {
                for (&a, &b) in cd.iter().zip(ce) {
                    for (o, f) in out.iter_mut().zip(first) {
                        o[a as usize] -= 0.0 + f[b as usize];
                    }
                }
            }
        } else {
            for i in 0..n {
                let wi = self.weights.map_or(1.0, |w| w[i]);
                let cdi = self.codes[d][i] as usize;
                for (k, o) in out.iter_mut().enumerate() {
                    let mut other = 0.0;
                    for e in 0..dims {
                        if e == d {
                            continue;
                        }
                        let c = self.codes[e][i] as usize;
                        other += if e == 0 {
                            first[k][c]
                        } else {
                            state[k][self.offsets[e] + c]
                        };
                    }
                    o[cdi] -= wi * other;
                }
            }
        }
        for o in out.iter_mut() {
            o.iter_mut().zip(&self.wsum[d]).for_each(|(o, &s)| *o /= s);
        }
    }

    /// One Gauss–Seidel sweep for every column of a group: solve dimension 0 from `state`,
    /// then each other dimension in turn from the newest values. Writes each column's
    /// dimension-0 coefficients to `first` and its new state to `next`.
    fn sweep(
        &self,
        sx: &[&[Vec<f64>]],
        state: &[&[f64]],
        first: &mut [&mut [f64]],
        next: &mut [&mut [f64]],
    ) {
        for (nx, st) in next.iter_mut().zip(state) {
            nx.copy_from_slice(st);
        }
        self.update(0, sx, &[], state, first);
        let mut bufs: Vec<Vec<f64>> = vec![Vec::new(); next.len()];
        for d in 1..self.codes.len() {
            let off = self.offsets[d];
            let len = self.n_levels[d];
            for b in bufs.iter_mut() {
                b.resize(len, 0.0);
            }
            {
                let firsts: Vec<&[f64]> = first.iter().map(|f| &f[..]).collect();
                let nexts: Vec<&[f64]> = next.iter().map(|v| &v[..]).collect();
                let mut outs: Vec<&mut [f64]> = bufs.iter_mut().map(|b| &mut b[..]).collect();
                self.update(d, sx, &firsts, &nexts, &mut outs);
            }
            for (nx, b) in next.iter_mut().zip(&bufs) {
                nx[off..off + len].copy_from_slice(b);
            }
        }
    }

    /// Demeans a group of columns together: every sweep reads the codes once for all columns
    /// still iterating. Each column converges, is extrapolated and stops on its own, with the
    /// arithmetic of a column demeaned alone (so grouping never changes a result). Returns the
    /// sweeps used per column. Cancellable between sweeps.
    fn demean_group(
        &self,
        cols: &mut [&mut [f64]],
        spec: &DemeanSpec,
        cancel: Cancel,
    ) -> Result<Vec<usize>> {
        let kc = cols.len();
        let sx: Vec<Vec<Vec<f64>>> = cols.iter().map(|x| self.level_sums(x)).collect();
        let threshold: Vec<f64> = cols
            .iter()
            .map(|x| {
                let rms = (x.iter().map(|v| v * v).sum::<f64>() / x.len().max(1) as f64).sqrt();
                spec.tol * rms.max(f64::MIN_POSITIVE)
            })
            .collect();
        let m = self.state_len;
        let mut first = vec![vec![0.0; self.n_levels[0]]; kc];
        let mut xs = vec![vec![0.0; m]; kc];
        let mut gx = vec![vec![0.0; m]; kc];
        let mut ggx = vec![vec![0.0; m]; kc];
        let mut iters = vec![0usize; kc];
        let mut active: Vec<usize> = (0..kc).collect();
        let max_change = |a: &[f64], b: &[f64]| {
            a.iter()
                .zip(b)
                .fold(0.0f64, |acc, (u, v)| acc.max((u - v).abs()))
        };
        // One sweep `from -> to` for the active columns.
        let sweep_active =
            |active: &[usize], from: &[Vec<f64>], to: &mut [Vec<f64>], first: &mut [Vec<f64>]| {
                let sxs: Vec<&[Vec<f64>]> = active.iter().map(|&k| &sx[k][..]).collect();
                let states: Vec<&[f64]> = active.iter().map(|&k| &from[k][..]).collect();
                let mut firsts: Vec<&mut [f64]> = pick_mut(first, active);
                let mut nexts: Vec<&mut [f64]> = pick_mut(to, active);
                self.sweep(&sxs, &states, &mut firsts, &mut nexts);
            };
        while !active.is_empty() {
            cancel.check()?;
            for &k in &active {
                iters[k] += 1;
                if iters[k] > spec.max_iter {
                    return Err(Error::Numerical(format!(
                        "fixed-effect demeaning did not converge in {} sweeps (fixed effects: {:?})",
                        spec.max_iter, self.order
                    )));
                }
            }
            sweep_active(&active, &xs, &mut gx, &mut first);
            active.retain(|&k| {
                if max_change(&gx[k], &xs[k]) <= threshold[k] {
                    xs[k].copy_from_slice(&gx[k]);
                    false
                } else {
                    true
                }
            });
            if active.is_empty() {
                break;
            }
            sweep_active(&active, &gx, &mut ggx, &mut first);
            active.retain(|&k| {
                let (xs, gx, ggx) = (&mut xs[k], &gx[k], &ggx[k]);
                if max_change(ggx, gx) <= threshold[k] {
                    xs.copy_from_slice(ggx);
                    return false;
                }
                // Irons–Tuck: X' = GGX - (<dGX, d2X> / <d2X, d2X>) dGX.
                let (mut vprod, mut ssq) = (0.0, 0.0);
                for j in 0..m {
                    let d_gx = ggx[j] - gx[j];
                    let d2 = d_gx - gx[j] + xs[j];
                    vprod += d_gx * d2;
                    ssq += d2 * d2;
                }
                if ssq == 0.0 {
                    xs.copy_from_slice(ggx);
                    return false;
                }
                let coef = vprod / ssq;
                for j in 0..m {
                    xs[j] = ggx[j] - coef * (ggx[j] - gx[j]);
                }
                true
            });
        }
        // Final dimension-0 coefficients consistent with the converged state, then residuals.
        for (k, x) in cols.iter_mut().enumerate() {
            let mut out = [&mut first[k][..]];
            self.update(0, &[&sx[k][..]], &[], &[&xs[k][..]], &mut out);
            let first = &first[k];
            for (i, xi) in x.iter_mut().enumerate() {
                let mut fit = first[self.codes[0][i] as usize];
                for e in 1..self.codes.len() {
                    fit += xs[k][self.offsets[e] + self.codes[e][i] as usize];
                }
                *xi -= fit;
            }
        }
        Ok(iters)
    }
}

/// Mutable views of `v[k]` for the (distinct, increasing) indices `idx`.
fn pick_mut<'v>(v: &'v mut [Vec<f64>], idx: &[usize]) -> Vec<&'v mut [f64]> {
    let mut out = Vec::with_capacity(idx.len());
    let mut rest = v;
    let mut base = 0;
    for &k in idx {
        let (_, tail) = std::mem::take(&mut rest).split_at_mut(k - base);
        let (head, tail) = tail.split_at_mut(1);
        out.push(&mut head[0][..]);
        rest = tail;
        base = k + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::test_support::fe2;
    use super::*;

    /// Residuals of a two-way FE projection are orthogonal to every level indicator.
    fn assert_orthogonal(x: &[f64], fe: &FixedEffects, w: Option<&[f64]>) {
        for q in 0..fe.n_dims() {
            let mut s = vec![0.0; fe.n_levels[q]];
            for (i, &c) in fe.codes[q].iter().enumerate() {
                s[c as usize] += w.map_or(1.0, |w| w[i]) * x[i];
            }
            assert!(s.iter().all(|v| v.abs() < 1e-9), "dimension {q}: {s:?}");
        }
    }

    #[test]
    fn balanced_exact_equals_iterative() {
        let (na, nb) = (7u32, 5u32);
        let a: Vec<u32> = (0..na * nb).map(|i| i / nb).collect();
        let b: Vec<u32> = (0..na * nb).map(|i| i % nb).collect();
        let x: Vec<f64> = (0..35)
            .map(|i| ((i * 37) % 11) as f64 + 0.1 * i as f64)
            .collect();
        let fe = fe2(a, b);
        let mut exact = x.clone();
        let info =
            demean_columns(&mut [&mut exact[..]], None, &fe, &DemeanSpec::default()).unwrap();
        assert_eq!(info.method, DemeanMethod::BalancedTwoWay);
        let w = vec![1.0; 35];
        let mut iter = x;
        let info =
            demean_columns(&mut [&mut iter[..]], Some(&w), &fe, &DemeanSpec::default()).unwrap();
        assert_eq!(info.method, DemeanMethod::AlternatingProjections);
        for (u, v) in exact.iter().zip(&iter) {
            assert!((u - v).abs() < 1e-10);
        }
        assert_orthogonal(&exact, &fe, None);
    }

    #[test]
    fn unbalanced_weighted_three_way_is_orthogonal() {
        let n = 400usize;
        let a: Vec<u32> = (0..n).map(|i| ((i * 7919) % 23) as u32).collect();
        let b: Vec<u32> = (0..n).map(|i| ((i * 104_729) % 11) as u32).collect();
        let c: Vec<u32> = (0..n).map(|i| ((i * 31) % 5) as u32).collect();
        let w: Vec<f64> = (0..n).map(|i| 0.5 + ((i * 13) % 7) as f64 / 7.0).collect();
        let x: Vec<f64> = (0..n).map(|i| ((i * i) % 17) as f64).collect();
        let fe = FixedEffects::new(
            vec!["a".into(), "b".into(), "c".into()],
            vec![a, b, c],
            vec![23, 11, 5],
        )
        .unwrap();
        let mut x = x;
        demean_columns(&mut [&mut x[..]], Some(&w), &fe, &DemeanSpec::default()).unwrap();
        assert_orthogonal(&x, &fe, Some(&w));
    }

    /// The sorted-grid path (codes not read) gives exactly the numbers of the code-reading
    /// path, in both row orders.
    #[test]
    fn sorted_grid_equals_code_path_bitwise() {
        let (na, nb) = (9u32, 6u32);
        let x: Vec<f64> = (0..na * nb)
            .map(|i| ((i * 7919) % 101) as f64 * 0.37 - 3.1)
            .collect();
        for first_major in [true, false] {
            let (a, b): (Vec<u32>, Vec<u32>) = (0..na * nb)
                .map(|i| {
                    if first_major {
                        (i / nb, i % nb)
                    } else {
                        (i % na, i / na)
                    }
                })
                .unzip();
            let fe = fe2(a, b);
            let want = if first_major {
                GridLayout::FirstMajor
            } else {
                GridLayout::SecondMajor
            };
            assert_eq!(grid_layout(&fe), Some(want));
            let mut slow = x.clone();
            demean_balanced(&mut slow, &fe);
            // groups of 1 to 5 columns (5: a group of 4 and one of 1), each column bit-equal
            for g in 1..=5 {
                let mut fast: Vec<Vec<f64>> = (0..g)
                    .map(|c| x.iter().map(|v| v * (c + 1) as f64).collect())
                    .collect();
                let mut refs: Vec<&mut [f64]> = fast.iter_mut().map(|v| v.as_mut_slice()).collect();
                demean_balanced_sorted_group(&mut refs, &fe, want);
                for (c, col) in fast.iter().enumerate() {
                    let mut one: Vec<f64> = x.iter().map(|v| v * (c + 1) as f64).collect();
                    demean_balanced(&mut one, &fe);
                    assert!(col
                        .iter()
                        .zip(&one)
                        .all(|(u, v)| u.to_bits() == v.to_bits()));
                }
            }
            let mut fast = x.clone();
            demean_balanced_sorted::<1>(&mut [fast.as_mut_slice()], &fe, want);
            assert!(fast
                .iter()
                .zip(&slow)
                .all(|(u, v)| u.to_bits() == v.to_bits()));
        }
    }

    /// Columns demeaned in one group equal each column demeaned alone, bit for bit, with and
    /// without weights (columns converge after different numbers of sweeps).
    #[test]
    fn grouped_columns_equal_single_columns_bitwise() {
        let n = 600usize;
        let a: Vec<u32> = (0..n).map(|i| ((i * 7919) % 37) as u32).collect();
        let b: Vec<u32> = (0..n).map(|i| ((i * 104_729) % 13) as u32).collect();
        let fe = FixedEffects::new(vec!["a".into(), "b".into()], vec![a, b], vec![37, 13]).unwrap();
        let w: Vec<f64> = (0..n).map(|i| 0.5 + ((i * 13) % 7) as f64 / 7.0).collect();
        let cols: Vec<Vec<f64>> = (0..3)
            .map(|k| {
                (0..n)
                    .map(|i| ((i * i + 7 * k) % (17 + k)) as f64 * (k + 1) as f64)
                    .collect()
            })
            .collect();
        for weights in [None, Some(&w[..])] {
            let problem = Problem::new(&fe, weights);
            let mut grouped = cols.clone();
            let mut views: Vec<&mut [f64]> = grouped.iter_mut().map(|c| &mut c[..]).collect();
            let it_g = problem
                .demean_group(&mut views, &DemeanSpec::default(), Cancel::current())
                .unwrap();
            for (k, col) in cols.iter().enumerate() {
                let mut alone = col.clone();
                let it = problem
                    .demean_group(
                        &mut [&mut alone[..]],
                        &DemeanSpec::default(),
                        Cancel::current(),
                    )
                    .unwrap();
                assert_eq!(it[0], it_g[k]);
                assert!(alone
                    .iter()
                    .zip(&grouped[k])
                    .all(|(u, v)| u.to_bits() == v.to_bits()));
            }
        }
    }
}

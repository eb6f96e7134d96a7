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
//! projection, with no iteration.
//!
//! Each group of up to four columns takes two sweeps over the rows, unit by unit: the first
//! forms each unit's means and adds the centred values x − x̄_i to r (a unit's rows are read
//! from memory once and centred while they are in cache); the second forms α_i and writes the
//! residuals. The units are cut into blocks of a fixed size, never set by the thread count;
//! each block keeps its own partial r, and the partials are added in block order, so the
//! numbers do not depend on the number of threads. When the rows are sorted by unit (the
//! usual panel), a unit's rows are a contiguous range and the period codes are its period list
//! as they are; otherwise a counting sort lists each unit's rows, and the residuals are
//! written in row order. Both give the same bits on the same rows.
//!
//! C is accumulated unit by unit in the cheaper of two forms: Σ_{p,q ∈ periods(i)} 1/n_i
//! (n_i² terms), or, for a unit observed in most periods, through its missing periods m_i:
//! c_i c_i' = 11' − 1m_i' − m_i1' + m_i m_i' ((T − n_i)² terms), in blocks of units added in
//! block order. The same walk over each unit's periods records which periods the unit links,
//! for the connectivity check.
//!
//! Used for two dimensions without weights when the smaller one has at most
//! [`MAX_SMALL_LEVELS`] levels and the graph is connected; otherwise the caller iterates.

use std::borrow::Cow;
use std::ops::Range;

use rayon::prelude::*;

use super::FixedEffects;
use crate::linalg::{dot_sequential, spd_inverse_rowmajor};

/// The largest smaller dimension solved directly: C has T² entries and its inverse costs
/// O(T³) operations once per call (1,000 periods: 8 MB, ~10⁹ operations).
pub(super) const MAX_SMALL_LEVELS: usize = 1000;

/// Memory for the per-block partial sums of C.
const BLOCK_BUDGET_BYTES: usize = 64 << 20;

/// Units per block of the column sweeps. Each block keeps its own partial r; the blocks are
/// set by the unit count alone, so the thread count never changes a number.
const UNITS_PER_BLOCK: usize = 1024;

/// Rows per chunk when the residuals are written in row order (rows not sorted by unit).
const ROWS_PER_CHUNK: usize = 1 << 16;

/// Columns swept together: their running sums overlap, and the codes are read once for all.
const MAX_GROUP: usize = 4;

/// Σ_{t ∈ periods} γ_t per column, added in row order. A unit whose period sequence equals the
/// previous unit's (every unit of a balanced panel in the same period order) reuses that sum:
/// the same additions in the same order, so the same bits, for a compare of the codes instead
/// of G dependent add chains over the unit's rows.
struct PeriodSums<'g, 'p, const G: usize> {
    gamma: &'g [[f64; G]],
    last: Option<(&'p [u32], [f64; G])>,
}

impl<'g, 'p, const G: usize> PeriodSums<'g, 'p, G> {
    fn new(gamma: &'g [[f64; G]]) -> Self {
        PeriodSums { gamma, last: None }
    }

    fn sum(&mut self, periods: &'p [u32]) -> [f64; G] {
        if let Some((last, s)) = self.last {
            if last == periods {
                return s;
            }
        }
        let mut s = [0.0; G];
        for &t in periods {
            let g = &self.gamma[t as usize];
            for c in 0..G {
                s[c] += g[c];
            }
        }
        self.last = Some((periods, s));
        s
    }
}

/// Where each unit's rows are.
enum UnitRows {
    /// Rows sorted by unit: unit i's rows are `start[i]..start[i + 1]`.
    Contiguous,
    /// Unit i's rows, in row order, are `rows[start[i]..start[i + 1]]`.
    Listed(Vec<u32>),
}

/// The factorised system of one two-dimension fixed-effect structure, shared by all columns.
pub struct TwoWayDirect<'a> {
    /// Codes of the larger ("unit") and smaller ("period") dimension.
    unit: &'a [u32],
    period: &'a [u32],
    n_units: usize,
    n_periods: usize,
    /// Rows per unit, as f64.
    unit_count: Vec<f64>,
    /// Unit i's entries of `periods` (and of the row list) are `start[i]..start[i + 1]`.
    start: Vec<usize>,
    rows: UnitRows,
    /// Each unit's periods (with repeats) in row order, unit by unit: the period codes
    /// themselves when the rows are sorted by unit.
    periods: Cow<'a, [u32]>,
    /// Inverse of C without its last row and column, row-major (T−1)².
    c_inv: Vec<f64>,
    /// Which fixed-effect dimension is the unit.
    unit_dim: usize,
    /// Rows of the fixed effects (`unit` is empty when built from unit runs).
    n_rows: usize,
}

/// The fixed effects of several columns: `alpha[i * n_cols + c]` of unit i and
/// `gamma[t * n_cols + c]` of period t for column c (units and periods as in
/// [`TwoWayDirect`]: the larger dimension's codes index `alpha`).
#[derive(Debug, Clone)]
pub struct TwoWayEffects {
    pub n_cols: usize,
    pub alpha: Vec<f64>,
    pub gamma: Vec<f64>,
}

impl<'a> TwoWayDirect<'a> {
    /// The factorised system, or None when the direct path does not apply (more than
    /// [`MAX_SMALL_LEVELS`] levels in both dimensions, fewer than two levels in one, a
    /// disconnected unit–period graph, or a factorisation that loses positive definiteness).
    pub fn new(fe: &'a FixedEffects) -> Option<Self> {
        Self::build(fe, true)
    }

    /// `new`, listing each unit's rows even when they are sorted by unit when `use_runs` is
    /// false (the tests compare the two layouts).
    fn build(fe: &'a FixedEffects, use_runs: bool) -> Option<Self> {
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
        if unit.is_empty() {
            return None;
        }
        let runs = use_runs
            .then(|| sorted_unit_starts(unit, n_units))
            .flatten();
        let (start, rows, periods) = match runs {
            Some(start) => (start, UnitRows::Contiguous, Cow::Borrowed(period)),
            // Row lists are u32: beyond 2³² rows (not sorted by unit) the caller iterates.
            None if u32::try_from(unit.len()).is_err() => return None,
            None => {
                let (start, rows, periods) = list_rows_by_unit(unit, period, n_units);
                (start, UnitRows::Listed(rows), Cow::Owned(periods))
            }
        };
        Self::assemble(unit, period, n_periods, start, rows, periods, u)
    }

    /// The system when the rows are sorted by unit and the unit dimension (`unit_dim`) is
    /// known only by where each unit's rows start (`start`, n_units + 1 entries, the last the
    /// row count): the lean regression path finds those runs in the ids themselves and never
    /// forms the unit codes. Units are numbered in row order, as `factorize` numbers them, so
    /// the numbers equal `new`'s on the same rows. None under the conditions of `new`.
    pub fn from_unit_runs(
        start: Vec<usize>,
        period: &'a [u32],
        n_periods: usize,
        unit_dim: usize,
    ) -> Option<Self> {
        let n_units = start.len().checked_sub(1)?;
        if !(2..=MAX_SMALL_LEVELS).contains(&n_periods)
            || n_units < 2
            || start.last() != Some(&period.len())
        {
            return None;
        }
        let periods = Cow::Borrowed(period);
        Self::assemble(
            &[],
            period,
            n_periods,
            start,
            UnitRows::Contiguous,
            periods,
            unit_dim,
        )
    }

    /// C, its connectivity and its factorisation, from where each unit's entries are.
    fn assemble(
        unit: &'a [u32],
        period: &'a [u32],
        n_periods: usize,
        start: Vec<usize>,
        rows: UnitRows,
        periods: Cow<'a, [u32]>,
        unit_dim: usize,
    ) -> Option<Self> {
        let n_units = start.len() - 1;
        let unit_count: Vec<f64> = start.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
        let (c, connected) = laplacian(&start, &periods, &unit_count, n_periods);
        if !connected {
            return None;
        }
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
            rows,
            periods,
            c_inv,
            unit_dim,
            n_rows: period.len(),
        })
    }

    /// Number of units (levels of the larger dimension).
    pub fn n_units(&self) -> usize {
        self.n_units
    }

    /// Projects both dimensions out of each column, in place. Each column's arithmetic is its
    /// own: its numbers do not depend on the other columns, on the grouping or on the thread
    /// count.
    pub fn demean(&self, cols: &mut [&mut [f64]]) {
        for group in cols.chunks_mut(MAX_GROUP) {
            match group.len() {
                1 => self.demean_group::<1>(group),
                2 => self.demean_group::<2>(group),
                3 => self.demean_group::<3>(group),
                _ => self.demean_group::<4>(group),
            }
        }
    }

    fn demean_group<const G: usize>(&self, cols: &mut [&mut [f64]]) {
        debug_assert_eq!(cols.len(), G);
        let (means, gamma) = {
            let xs: [&[f64]; G] = std::array::from_fn(|c| &*cols[c]);
            self.means_and_period_effects(&xs)
        };
        self.subtract_effects(cols, &means, &gamma);
    }

    /// The fixed effects of each column without touching the columns: α (unit-major,
    /// `n_units × cols.len()`) and γ (period-major, `n_periods × cols.len()`), so that
    /// `x − (α_i + γ_t)` is, bit for bit, the residual [`Self::demean`] writes. The lean
    /// regression path streams its cross products from these instead of demeaned copies.
    pub fn effects(&self, cols: &[&[f64]]) -> TwoWayEffects {
        let m = cols.len();
        let mut alpha = vec![0.0; self.n_units * m];
        let mut gamma = vec![0.0; self.n_periods * m];
        for (g, group) in cols.chunks(MAX_GROUP).enumerate() {
            let c0 = g * MAX_GROUP;
            match group.len() {
                1 => self.effects_group::<1>(group, c0, m, &mut alpha, &mut gamma),
                2 => self.effects_group::<2>(group, c0, m, &mut alpha, &mut gamma),
                3 => self.effects_group::<3>(group, c0, m, &mut alpha, &mut gamma),
                _ => self.effects_group::<4>(group, c0, m, &mut alpha, &mut gamma),
            }
        }
        TwoWayEffects {
            n_cols: m,
            alpha,
            gamma,
        }
    }

    fn effects_group<const G: usize>(
        &self,
        cols: &[&[f64]],
        c0: usize,
        m: usize,
        alpha: &mut [f64],
        gamma: &mut [f64],
    ) {
        let xs: [&[f64]; G] = std::array::from_fn(|c| cols[c]);
        let (means, g) = self.means_and_period_effects(&xs);
        alpha
            .par_chunks_mut(UNITS_PER_BLOCK * m)
            .zip(means.par_chunks(UNITS_PER_BLOCK))
            .enumerate()
            .for_each(|(b, (block_alpha, block_means))| {
                let first = b * UNITS_PER_BLOCK;
                let mut sums = PeriodSums::new(&g);
                for ((i, a), mean) in (first..).zip(block_alpha.chunks_mut(m)).zip(block_means) {
                    let periods = &self.periods[self.start[i]..self.start[i + 1]];
                    let ai = self.unit_effect(i, mean, periods, &mut sums);
                    a[c0..c0 + G].copy_from_slice(&ai);
                }
            });
        for (dst, src) in gamma.chunks_mut(m).zip(&g) {
            dst[c0..c0 + G].copy_from_slice(src);
        }
    }

    /// Which fixed-effect dimension (0 or 1) plays the unit (the larger one).
    pub fn unit_dim(&self) -> usize {
        self.unit_dim
    }

    /// Number of blocks of units that [`Self::visit_block`] walks.
    pub fn n_blocks(&self) -> usize {
        self.n_units.div_ceil(UNITS_PER_BLOCK)
    }

    /// Calls `f(unit, row, period)` for every row of the units of block `b`, unit by unit and
    /// in row order within a unit. The blocks are set by the unit count alone, so reductions
    /// that keep one partial per block and add them in block order do not depend on the
    /// thread count.
    #[inline]
    pub fn visit_block(&self, b: usize, mut f: impl FnMut(usize, usize, usize)) {
        let units = b * UNITS_PER_BLOCK..((b + 1) * UNITS_PER_BLOCK).min(self.n_units);
        match &self.rows {
            UnitRows::Contiguous => {
                for i in units {
                    for k in self.start[i]..self.start[i + 1] {
                        f(i, k, self.periods[k] as usize);
                    }
                }
            }
            UnitRows::Listed(rows) => {
                for i in units {
                    let ks = self.start[i]..self.start[i + 1];
                    for (&row, &t) in rows[ks.clone()].iter().zip(&self.periods[ks]) {
                        f(i, row as usize, t as usize);
                    }
                }
            }
        }
    }

    /// First sweep (unit means and each block's partial r, added in block order) and the
    /// period effects γ of a group of columns.
    fn means_and_period_effects<const G: usize>(
        &self,
        xs: &[&[f64]; G],
    ) -> (Vec<[f64; G]>, Vec<[f64; G]>) {
        let mut means = vec![[0.0; G]; self.n_units];
        // First sweep: unit means and each block's partial r.
        let partial_r: Vec<Vec<[f64; G]>> = {
            means
                .par_chunks_mut(UNITS_PER_BLOCK)
                .enumerate()
                .map(|(b, block_means)| {
                    let units = b * UNITS_PER_BLOCK..b * UNITS_PER_BLOCK + block_means.len();
                    let mut r = vec![[0.0; G]; self.n_periods];
                    match &self.rows {
                        UnitRows::Contiguous => {
                            self.centre_sorted_units(xs, units, block_means, &mut r)
                        }
                        UnitRows::Listed(rows) => {
                            self.centre_units(xs, units, |k| rows[k] as usize, block_means, &mut r)
                        }
                    }
                    r
                })
                .collect()
        };
        let mut r = vec![[0.0; G]; self.n_periods];
        for part in &partial_r {
            for (acc, p) in r.iter_mut().zip(part) {
                for c in 0..G {
                    acc[c] += p[c];
                }
            }
        }
        let gamma = self.solve(&r);
        (means, gamma)
    }

    /// Second sweep: the residuals x − (α_i + γ_t), in place.
    fn subtract_effects<const G: usize>(
        &self,
        cols: &mut [&mut [f64]],
        means: &[[f64; G]],
        gamma: &[[f64; G]],
    ) {
        match &self.rows {
            UnitRows::Contiguous => {
                // One piece of rows per block of units: the blocks write disjoint rows.
                let bounds: Vec<usize> = (0..self.n_units)
                    .step_by(UNITS_PER_BLOCK)
                    .map(|i| self.start[i])
                    .chain(std::iter::once(self.n_rows))
                    .collect();
                let mut pieces = split_rows::<G>(cols, &bounds);
                pieces
                    .par_iter_mut()
                    .zip(means.par_chunks(UNITS_PER_BLOCK))
                    .enumerate()
                    .for_each(|(b, (xs, block_means))| {
                        let first = b * UNITS_PER_BLOCK;
                        let row0 = bounds[b];
                        let mut sums = PeriodSums::new(gamma);
                        for (i, mean) in (first..first + block_means.len()).zip(block_means) {
                            let ks = self.start[i]..self.start[i + 1];
                            let periods = &self.periods[ks.clone()];
                            let alpha = self.unit_effect(i, mean, periods, &mut sums);
                            for (k, &t) in ks.zip(periods) {
                                let g = &gamma[t as usize];
                                for c in 0..G {
                                    xs[c][k - row0] -= alpha[c] + g[c];
                                }
                            }
                        }
                    });
            }
            UnitRows::Listed(_) => {
                let mut alpha = vec![[0.0; G]; self.n_units];
                alpha
                    .par_chunks_mut(UNITS_PER_BLOCK)
                    .zip(means.par_chunks(UNITS_PER_BLOCK))
                    .enumerate()
                    .for_each(|(b, (block_alpha, block_means))| {
                        let first = b * UNITS_PER_BLOCK;
                        let mut sums = PeriodSums::new(gamma);
                        for ((i, a), mean) in (first..).zip(block_alpha).zip(block_means) {
                            let periods = &self.periods[self.start[i]..self.start[i + 1]];
                            *a = self.unit_effect(i, mean, periods, &mut sums);
                        }
                    });
                let n = self.unit.len();
                let bounds: Vec<usize> = (0..n)
                    .step_by(ROWS_PER_CHUNK)
                    .chain(std::iter::once(n))
                    .collect();
                let mut pieces = split_rows::<G>(cols, &bounds);
                pieces.par_iter_mut().enumerate().for_each(|(b, xs)| {
                    let rows = bounds[b]..bounds[b + 1];
                    let codes = self.unit[rows.clone()].iter().zip(&self.period[rows]);
                    for (j, (&u, &t)) in codes.enumerate() {
                        let (a, g) = (&alpha[u as usize], &gamma[t as usize]);
                        for c in 0..G {
                            xs[c][j] -= a[c] + g[c];
                        }
                    }
                });
            }
        }
    }

    /// [`Self::centre_units`] for rows sorted by unit, with the same additions in the same
    /// order, so the same bits. Consecutive units with the same sequence of distinct periods
    /// (all units of a balanced panel) form a run: while it lasts, r's entries at those periods
    /// are held by position in the sequence, one contiguous vector per column, so that adding
    /// a unit's centred values is a streaming loop instead of a scatter through the period
    /// codes. Each entry still receives the same terms in unit order; it is written back to r
    /// when the run ends. Units outside a run are added through the codes, as in
    /// `centre_units` (the same helpers).
    fn centre_sorted_units<const G: usize>(
        &self,
        xs: &[&[f64]; G],
        units: Range<usize>,
        means: &mut [[f64; G]],
        r: &mut [[f64; G]],
    ) {
        let mut run: Option<&[u32]> = None;
        let mut held: [Vec<f64>; G] = std::array::from_fn(|_| Vec::new());
        let mut seen = vec![false; self.n_periods];
        let first = units.start;
        let end = units.end;
        let periods_of = |i: usize| &self.periods[self.start[i]..self.start[i + 1]];
        for i in units {
            let periods = periods_of(i);
            let x = unit_rows(xs, self.start[i]..self.start[i + 1]);
            let m = divided(unit_sum(&x, periods.len(), |j| j), self.unit_count[i]);
            means[i - first] = m;
            if run != Some(periods) {
                if let Some(seq) = run.take() {
                    store_held(seq, &held, r);
                }
                // A run starts only where the next unit shares the sequence: a run of one
                // unit would copy its entries in and out for nothing.
                if i + 1 < end && periods_of(i + 1) == periods && distinct(periods, &mut seen) {
                    for (c, h) in held.iter_mut().enumerate() {
                        h.clear();
                        h.extend(periods.iter().map(|&t| r[t as usize][c]));
                    }
                    run = Some(periods);
                }
            }
            if run.is_some() {
                for c in 0..G {
                    let (h, xc, mc) = (&mut held[c][..periods.len()], x[c], m[c]);
                    for (hj, &v) in h.iter_mut().zip(xc) {
                        *hj += v - mc;
                    }
                }
            } else {
                add_centred(&x, periods, |j| j, &m, r);
            }
        }
        if let Some(seq) = run {
            store_held(seq, &held, r);
        }
    }

    /// For each unit of `units`: its means (into `means`) and its centred values x − x̄_i
    /// added to `r` at their periods, rows in row order. `row_at(k)` is the row of entry k.
    fn centre_units<const G: usize>(
        &self,
        xs: &[&[f64]; G],
        units: Range<usize>,
        row_at: impl Fn(usize) -> usize,
        means: &mut [[f64; G]],
        r: &mut [[f64; G]],
    ) {
        for (i, mean) in units.zip(means.iter_mut()) {
            let ks = self.start[i]..self.start[i + 1];
            let row_of = |j: usize| row_at(ks.start + j);
            let m = divided(unit_sum(xs, ks.len(), row_of), self.unit_count[i]);
            add_centred(xs, &self.periods[ks.clone()], row_of, &m, r);
            *mean = m;
        }
    }

    /// α_i = x̄_i − c_i'γ / n_i, the sum over the unit's periods in row order (`sums` keeps
    /// the previous unit's).
    fn unit_effect<'p, const G: usize>(
        &self,
        i: usize,
        mean: &[f64; G],
        periods: &'p [u32],
        sums: &mut PeriodSums<'_, 'p, G>,
    ) -> [f64; G] {
        let mut alpha = divided(sums.sum(periods), self.unit_count[i]);
        for (a, &m) in alpha.iter_mut().zip(mean) {
            *a = m - *a;
        }
        alpha
    }

    /// γ with γ_{T−1} = 0: the inverse of C's leading (T−1)×(T−1) block times r, per column.
    fn solve<const G: usize>(&self, r: &[[f64; G]]) -> Vec<[f64; G]> {
        let m = self.n_periods - 1;
        let mut gamma = vec![[0.0; G]; self.n_periods];
        for c in 0..G {
            let rc: Vec<f64> = r[..m].iter().map(|v| v[c]).collect();
            for (g, row) in gamma.iter_mut().zip(self.c_inv.chunks_exact(m)) {
                g[c] = dot_sequential(row, &rc);
            }
        }
        gamma
    }
}

/// The rows `ks` of each column.
fn unit_rows<'x, const G: usize>(xs: &[&'x [f64]; G], ks: Range<usize>) -> [&'x [f64]; G] {
    let mut x: [&[f64]; G] = [&[]; G];
    for c in 0..G {
        x[c] = &xs[c][ks.clone()];
    }
    x
}

/// Σ_j of `xs[c][row_of(j)]` over a unit's `n` entries, per column, in entry order.
#[inline(always)]
fn unit_sum<const G: usize>(
    xs: &[&[f64]; G],
    n: usize,
    row_of: impl Fn(usize) -> usize,
) -> [f64; G] {
    let mut sum = [0.0; G];
    for j in 0..n {
        let row = row_of(j);
        for c in 0..G {
            sum[c] += xs[c][row];
        }
    }
    sum
}

/// Adds a unit's centred values x − m to r at its entries' `periods`, in entry order
/// (`row_of(j)` is the row of entry j).
#[inline(always)]
fn add_centred<const G: usize>(
    xs: &[&[f64]; G],
    periods: &[u32],
    row_of: impl Fn(usize) -> usize,
    m: &[f64; G],
    r: &mut [[f64; G]],
) {
    for (j, &t) in periods.iter().enumerate() {
        let row = row_of(j);
        let rt = &mut r[t as usize];
        for c in 0..G {
            rt[c] += xs[c][row] - m[c];
        }
    }
}

/// Each entry of `v` divided by `n`.
// A loop, not `std::array::from_fn`: a closure of `from_fn` is not always inlined (whether it
// is can change with an unrelated edit), and then each entry is a call.
#[inline(always)]
fn divided<const G: usize>(mut v: [f64; G], n: f64) -> [f64; G] {
    for e in &mut v {
        *e /= n;
    }
    v
}

/// Writes a run's held entries back to r at their periods (see `centre_sorted_units`).
fn store_held<const G: usize>(periods: &[u32], held: &[Vec<f64>; G], r: &mut [[f64; G]]) {
    for (j, &t) in periods.iter().enumerate() {
        for c in 0..G {
            r[t as usize][c] = held[c][j];
        }
    }
}

/// Whether no period appears twice in `periods`; `seen` (all false, one flag per period) is
/// left all false.
fn distinct(periods: &[u32], seen: &mut [bool]) -> bool {
    let mut ok = true;
    for &t in periods {
        if std::mem::replace(&mut seen[t as usize], true) {
            ok = false;
        }
    }
    for &t in periods {
        seen[t as usize] = false;
    }
    ok
}

/// Where each unit's rows start when the rows are sorted by unit (None otherwise): unit i's
/// rows are `start[i]..start[i + 1]`. One parallel pass finds the rows where the unit changes.
fn sorted_unit_starts(unit: &[u32], n_units: usize) -> Option<Vec<usize>> {
    let changes = changed_rows(unit);
    // sorted when every change is an increase
    if changes.iter().any(|&k| unit[k - 1] > unit[k]) {
        return None;
    }
    let mut start = vec![unit.len(); n_units + 1];
    // levels up to a run's code (and not yet placed) start where the run starts
    let mut next = 0;
    for k in std::iter::once(0).chain(changes) {
        let code = unit[k] as usize;
        while next <= code && next < n_units {
            start[next] = k;
            next += 1;
        }
    }
    Some(start)
}

/// The rows k where the code changes (`codes[k − 1] ≠ codes[k]`), in order. Chunks of rows in
/// parallel; within a chunk, 64 comparisons at a time form a bit mask (a branch-free loop the
/// compiler vectorises), whose set bits are the changes.
pub(crate) fn changed_rows<T: PartialEq + Sync>(codes: &[T]) -> Vec<usize> {
    let n = codes.len();
    let parts: Vec<Vec<usize>> = (0..n.div_ceil(ROWS_PER_CHUNK))
        .into_par_iter()
        .map(|chunk| {
            let from = (chunk * ROWS_PER_CHUNK).max(1);
            let to = ((chunk + 1) * ROWS_PER_CHUNK).min(n);
            let mut out = Vec::new();
            if from >= to {
                return out;
            }
            let (prev, cur) = (&codes[from - 1..to - 1], &codes[from..to]);
            for (j, (p64, c64)) in prev.chunks(64).zip(cur.chunks(64)).enumerate() {
                let mut mask = 0u64;
                for (b, (p, c)) in p64.iter().zip(c64).enumerate() {
                    mask |= u64::from(p != c) << b;
                }
                while mask != 0 {
                    out.push(from + j * 64 + mask.trailing_zeros() as usize);
                    mask &= mask - 1;
                }
            }
            out
        })
        .collect();
    parts.concat()
}

/// A counting sort of the rows by unit: where each unit's entries start, its rows and their
/// periods, both in row order within the unit.
fn list_rows_by_unit(
    unit: &[u32],
    period: &[u32],
    n_units: usize,
) -> (Vec<usize>, Vec<u32>, Vec<u32>) {
    let n = unit.len();
    let mut start = vec![0usize; n_units + 1];
    for &i in unit {
        start[i as usize + 1] += 1;
    }
    for i in 0..n_units {
        start[i + 1] += start[i];
    }
    let mut rows = vec![0u32; n];
    let mut periods = vec![0u32; n];
    let mut cursor = start[..n_units].to_vec();
    for (row, (&i, &t)) in unit.iter().zip(period).enumerate() {
        let c = &mut cursor[i as usize];
        // n fits in u32 (checked by the caller)
        rows[*c] = row as u32;
        periods[*c] = t;
        *c += 1;
    }
    (start, rows, periods)
}

/// Splits each column at the row bounds (`bounds[0] = 0`, last = the row count): one array of
/// G disjoint pieces per range.
fn split_rows<'x, const G: usize>(
    cols: &'x mut [&mut [f64]],
    bounds: &[usize],
) -> Vec<[&'x mut [f64]; G]> {
    let mut per_column: Vec<std::vec::IntoIter<&'x mut [f64]>> = cols
        .iter_mut()
        .map(|x| {
            let mut rest: &'x mut [f64] = x;
            let mut pieces = Vec::with_capacity(bounds.len());
            for w in bounds.windows(2) {
                let (head, tail) = std::mem::take(&mut rest).split_at_mut(w[1] - w[0]);
                pieces.push(head);
                rest = tail;
            }
            pieces.into_iter()
        })
        .collect();
    (1..bounds.len())
        .map(|_| {
            std::array::from_fn(|c| {
                per_column[c]
                    .next()
                    .expect("every column has one piece per range")
            })
        })
        .collect()
}

/// One block of units' share of C (S = mat + a 11' − v1' − 1v' for the terms kept in
/// complement form, `mat` filled on and above its diagonal only), its rows per period, and, per period p, the periods linked to p by a
/// unit whose first period is p (bit sets of `words` 64-bit words). Rows per period at t:
/// `count[t]` from the units summed entry by entry, plus `complete − absent[t]` from the
/// units kept in complement form (observed once in every period but their missing ones).
struct LaplacianBlock {
    mat: Vec<f64>,
    a: f64,
    v: Vec<f64>,
    count: Vec<u64>,
    complete: u64,
    absent: Vec<u64>,
    links: Vec<u64>,
}

/// C = diag(n_t) − Σ_i c_i c_i' / n_i, row-major T×T, and whether the unit–period graph is
/// connected (every period reachable from every other through units observed in both).
fn laplacian(start: &[usize], periods: &[u32], unit_count: &[f64], tn: usize) -> (Vec<f64>, bool) {
    let n_units = unit_count.len();
    let words = tn.div_ceil(64);
    let blocks = (BLOCK_BUDGET_BYTES / (tn * tn * 8))
        .clamp(1, 16)
        .min(n_units);
    let per_block = n_units.div_ceil(blocks);
    let partial: Vec<LaplacianBlock> = (0..blocks)
        .into_par_iter()
        .map(|b| {
            let mut blk = LaplacianBlock {
                mat: vec![0.0; tn * tn],
                a: 0.0,
                v: vec![0.0; tn],
                count: vec![0; tn],
                complete: 0,
                absent: vec![0; tn],
                links: vec![0; tn * words],
            };
            // the unit's periods as a bit set; its zero bits are the missing periods
            let mut seen = vec![0u64; words];
            let mut missing = Vec::with_capacity(tn);
            let units = b * per_block..((b + 1) * per_block).min(n_units);
            for i in units {
                let list = &periods[start[i]..start[i + 1]];
                let Some(&first) = list.first() else {
                    continue;
                };
                let inv = 1.0 / unit_count[i];
                seen.fill(0);
                // the bits of one 64-period word gather in a register and are stored when the
                // word changes (an update in memory per row would chain each row's store to
                // the next row's load)
                let (mut word, mut bits) = (first as usize / 64, 0u64);
                for &t in list {
                    let t = t as usize;
                    if t / 64 != word {
                        seen[word] |= bits;
                        (word, bits) = (t / 64, 0);
                    }
                    bits |= 1u64 << (t % 64);
                }
                seen[word] |= bits;
                let link = &mut blk.links[first as usize * words..][..words];
                link.iter_mut().zip(&seen).for_each(|(l, &s)| *l |= s);
                let distinct: usize = seen.iter().map(|w| w.count_ones() as usize).sum();
                let repeats = distinct < list.len();
                let k = list.len();
                let miss = tn.saturating_sub(k);
                if repeats || k * k <= miss * miss + tn {
                    for &p in list {
                        blk.count[p as usize] += 1;
                    }
                    for &p in list {
                        let row = &mut blk.mat[p as usize * tn..(p as usize + 1) * tn];
                        for &q in list.iter().filter(|&&q| q >= p) {
                            row[q as usize] += inv;
                        }
                    }
                } else {
                    missing.clear();
                    for (w, &s) in seen.iter().enumerate() {
                        let mut absent = !s & valid_bits(w, tn);
                        while absent != 0 {
                            missing.push(w * 64 + absent.trailing_zeros() as usize);
                            absent &= absent - 1;
                        }
                    }
                    blk.a += inv;
                    blk.complete += 1;
                    for (j, &m) in missing.iter().enumerate() {
                        blk.absent[m] += 1;
                        blk.v[m] += inv;
                        let row = &mut blk.mat[m * tn..(m + 1) * tn];
                        for &q in &missing[j..] {
                            row[q] += inv;
                        }
                    }
                }
            }
            blk
        })
        .collect();
    let mut c = vec![0.0; tn * tn];
    let mut count = vec![0u64; tn];
    let mut links = vec![0u64; tn * words];
    for blk in &partial {
        for p in 0..tn {
            for q in 0..tn {
                // `mat` holds the upper triangle (the lower one receives the same additions)
                let s = blk.mat[p.min(q) * tn + p.max(q)];
                c[p * tn + q] -= s + (blk.a - blk.v[p] - blk.v[q]);
            }
        }
        for ((s, &k), &m) in count.iter_mut().zip(&blk.count).zip(&blk.absent) {
            *s += k + blk.complete - m;
        }
        links.iter_mut().zip(&blk.links).for_each(|(s, &l)| *s |= l);
    }
    for t in 0..tn {
        c[t * tn + t] += count[t] as f64;
    }
    (c, linked(&links, tn, words))
}

/// The bits of word `w` that stand for one of `tn` periods.
fn valid_bits(w: usize, tn: usize) -> u64 {
    match tn.saturating_sub(w * 64) {
        n if n >= 64 => u64::MAX,
        n => (1u64 << n) - 1,
    }
}

/// True when the links (per period p, the bit set of periods sharing a unit with p) join
/// every period to period 0.
fn linked(links: &[u64], tn: usize, words: usize) -> bool {
    fn find(parent: &mut [usize], mut a: usize) -> usize {
        while parent[a] != a {
            parent[a] = parent[parent[a]];
            a = parent[a];
        }
        a
    }
    let mut parent: Vec<usize> = (0..tn).collect();
    for p in 0..tn {
        for (w, &bits) in links[p * words..(p + 1) * words].iter().enumerate() {
            let mut bits = bits;
            while bits != 0 {
                let q = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let (rp, rq) = (find(&mut parent, p), find(&mut parent, q));
                if rp != rq {
                    parent[rq] = rp;
                }
            }
        }
    }
    let root = find(&mut parent, 0);
    (0..tn).all(|t| find(&mut parent, t) == root)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::fe2;
    use super::*;

    use crate::rng::test_uniform as lcg;

    /// A reused period sum is the one a fresh sum gives, and a different sequence (same
    /// periods in another order, a shorter one, an equal one after a different one) is summed.
    #[test]
    fn period_sums_reuse_only_equal_sequences() {
        let gamma: Vec<[f64; 2]> = (0..5)
            .map(|t| [0.1 * t as f64 + 1e-3, -0.7 / (t + 1) as f64])
            .collect();
        let fresh = |periods: &[u32]| {
            let mut s = [0.0; 2];
            for &t in periods {
                s[0] += gamma[t as usize][0];
                s[1] += gamma[t as usize][1];
            }
            s
        };
        let (a, b, c): (Vec<u32>, Vec<u32>, Vec<u32>) =
            (vec![0, 1, 2, 3, 4], vec![4, 3, 2, 1, 0], vec![0, 1, 2]);
        let sequences = [&a, &a.clone(), &b, &c, &a, &a];
        let mut sums = PeriodSums::new(&gamma);
        for p in sequences {
            let got = sums.sum(p);
            assert_eq!(got.map(f64::to_bits), fresh(p).map(f64::to_bits));
        }
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

    /// An unbalanced panel sorted by unit (repeated cells, a few short units), three columns.
    fn sorted_panel(seed: u64, units: u32, periods: u32) -> (FixedEffects, Vec<Vec<f64>>) {
        let mut seed = seed;
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let mut cols = vec![Vec::new(); 3];
        for i in 0..units {
            for t in 0..periods {
                let keep = lcg(&mut seed) > if i % 4 == 0 { 0.6 } else { 0.1 };
                let copies = if keep && lcg(&mut seed) > 0.97 {
                    2
                } else {
                    usize::from(keep)
                };
                for _ in 0..copies {
                    a.push(i);
                    b.push(t);
                    for (c, col) in cols.iter_mut().enumerate() {
                        col.push(lcg(&mut seed) * 5.0 + f64::from(i % 9) * c as f64 - f64::from(t));
                    }
                }
            }
        }
        (fe2(a, b), cols)
    }

    fn bits(x: &[f64]) -> Vec<u64> {
        x.iter().map(|v| v.to_bits()).collect()
    }

    /// Demeans `cols` on the contiguous path (rows sorted by unit) and on the listed path (the
    /// path for any row order): the same bits, and the projection to `tol` (absolute, on each
    /// level's sum).
    fn assert_contiguous_equals_listed(fe: &FixedEffects, cols: &[Vec<f64>], tol: f64) {
        let contiguous = TwoWayDirect::build(fe, true).expect("connected panel");
        let listed = TwoWayDirect::build(fe, false).expect("connected panel");
        assert!(matches!(contiguous.rows, UnitRows::Contiguous));
        assert!(matches!(listed.rows, UnitRows::Listed(_)));
        let mut p = cols.to_vec();
        let mut q = cols.to_vec();
        contiguous.demean(&mut p.iter_mut().map(|c| &mut c[..]).collect::<Vec<_>>());
        listed.demean(&mut q.iter_mut().map(|c| &mut c[..]).collect::<Vec<_>>());
        for (x, y) in p.iter().zip(&q) {
            assert_eq!(bits(x), bits(y));
            assert_projected(x, fe, tol);
        }
    }

    /// Runs of units that share a period sequence (held by position in the first sweep) give
    /// the bits of the scatter: mostly complete units, in runs across block boundaries, broken
    /// by units with a missing period and units with a repeated one (never a run).
    #[test]
    fn runs_of_shared_period_sequences_keep_the_bits() {
        let mut seed = 11;
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let mut cols = vec![Vec::new(); 3];
        for i in 0u32..3000 {
            for t in 0u32..30 {
                let copies = match i % 7 {
                    0 if t == i % 30 => 0,
                    1 if t == 5 => 2,
                    _ => 1,
                };
                for _ in 0..copies {
                    a.push(i);
                    b.push(t);
                    for (c, col) in cols.iter_mut().enumerate() {
                        col.push(lcg(&mut seed) * 5.0 + f64::from(i % 9) * c as f64 - f64::from(t));
                    }
                }
            }
        }
        // Level sums of ~3,000 values of size ~10: the projection holds to 1e-8.
        assert_contiguous_equals_listed(&fe2(a, b), &cols, 1e-8);
    }

    /// Rows sorted by unit take the contiguous path; listing the rows instead (the path for
    /// any row order) gives the same bits, and both are the projection.
    #[test]
    fn contiguous_and_listed_rows_agree_bit_for_bit() {
        let (fe, cols) = sorted_panel(3, 3000, 30);
        assert_contiguous_equals_listed(&fe, &cols, 1e-9);
    }

    /// A column's numbers are its own: demeaned alone or in groups of two to five, the same
    /// bits, on both row layouts, in pools of one to three threads.
    #[test]
    fn grouping_and_threads_do_not_change_a_bit() {
        let (fe, cols) = sorted_panel(5, 2500, 17);
        let five: Vec<Vec<f64>> = (0..5)
            .map(|j| cols[j % 3].iter().map(|v| v * (j + 1) as f64).collect())
            .collect();
        for use_runs in [true, false] {
            let direct = TwoWayDirect::build(&fe, use_runs).expect("connected panel");
            let alone: Vec<Vec<u64>> = five
                .iter()
                .map(|c| {
                    let mut x = c.clone();
                    direct.demean(&mut [&mut x[..]]);
                    bits(&x)
                })
                .collect();
            for threads in 1..=3 {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                for g in 2..=5 {
                    let mut xs: Vec<Vec<f64>> = five[..g].to_vec();
                    pool.install(|| {
                        let direct = TwoWayDirect::build(&fe, use_runs).expect("connected panel");
                        direct.demean(&mut xs.iter_mut().map(|c| &mut c[..]).collect::<Vec<_>>());
                    });
                    for (x, want) in xs.iter().zip(&alone) {
                        assert_eq!(
                            &bits(x),
                            want,
                            "group {g}, {threads} threads, runs {use_runs}"
                        );
                    }
                }
            }
        }
    }

    /// Run starts when rows are sorted by unit: a level with no rows (between runs, before
    /// the first or after the last) starts where the next level does; unsorted codes: None.
    #[test]
    fn run_starts_of_sorted_codes() {
        assert_eq!(
            sorted_unit_starts(&[0, 0, 1, 3, 3, 3], 4),
            Some(vec![0, 2, 3, 3, 6])
        );
        assert_eq!(sorted_unit_starts(&[1, 1, 2], 4), Some(vec![0, 0, 2, 3, 3]));
        assert_eq!(sorted_unit_starts(&[0, 2, 1], 3), None);
        let (start, rows, periods) = list_rows_by_unit(&[1, 0, 1, 0], &[5, 6, 7, 8], 2);
        assert_eq!(
            (start, rows, periods),
            (vec![0, 2, 4], vec![1, 3, 0, 2], vec![6, 8, 5, 7])
        );
    }

    /// Connectivity through the period links: a chain of units joins all periods; removing
    /// the unit that bridges two halves splits them.
    #[test]
    fn connectivity_follows_shared_units() {
        // units 0..3 observed in periods {0,1}, {1,2}, {2,3}: one chain
        let chain = fe2(vec![0, 0, 1, 1, 2, 2], vec![0, 1, 1, 2, 2, 3]);
        assert!(TwoWayDirect::new(&chain).is_some());
        // {0,1}, {0,1}, {2,3}, {2,3}: two components (the listed path, rows unsorted)
        let split = fe2(vec![3, 3, 0, 0, 1, 1, 2, 2], vec![2, 3, 0, 1, 0, 1, 2, 3]);
        assert!(TwoWayDirect::new(&split).is_none());
    }

    /// C against its definition, diag(n_t) − Σ_i c_i c_i' / n_i, summed unit by unit densely:
    /// units short and nearly complete (both accumulation forms), repeated cells, and more
    /// than 64 periods (bit sets of two words); row counts per period exactly.
    #[test]
    fn laplacian_is_its_definition() {
        let mut seed = 13u64;
        let tn = 70usize;
        let (mut start, mut periods) = (vec![0usize], Vec::new());
        for i in 0..400 {
            let keep = if i % 3 == 0 { 0.2 } else { 0.93 };
            for t in 0..tn as u32 {
                if lcg(&mut seed) < keep {
                    periods.push(t);
                    if i % 7 == 0 && lcg(&mut seed) < 0.1 {
                        periods.push(t);
                    }
                }
            }
            start.push(periods.len());
        }
        let unit_count: Vec<f64> = start.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
        let (c, connected) = laplacian(&start, &periods, &unit_count, tn);
        assert!(connected);
        let mut want = vec![0.0; tn * tn];
        for (i, w) in start.windows(2).enumerate() {
            let mut ci = vec![0.0; tn];
            for &t in &periods[w[0]..w[1]] {
                ci[t as usize] += 1.0;
                want[t as usize * tn + t as usize] += 1.0;
            }
            for p in 0..tn {
                for q in 0..tn {
                    want[p * tn + q] -= ci[p] * ci[q] / unit_count[i];
                }
            }
        }
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let worst = c
            .iter()
            .zip(&want)
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            worst < 1e-12 * scale,
            "C differs from its definition by {worst}"
        );
        // a Laplacian: every row of C sums to zero (the row counts enter exactly)
        for t in 0..tn {
            let row_sum: f64 = c[t * tn..(t + 1) * tn].iter().sum();
            assert!(row_sum.abs() < 1e-9, "row {t} of C sums to {row_sum}");
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

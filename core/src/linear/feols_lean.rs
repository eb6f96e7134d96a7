//! The lean path of [`super::feols()`]: two fixed effects, no weights, every row used. The
//! general path copies the outcome and regressors into a demeaned data matrix ((1 + k) × 8
//! bytes a row) and keeps it on the fit for post-estimation; at tens of millions of rows that
//! matrix, the residuals and the cluster codes more than double the memory the input already
//! takes. Here the two dimensions are solved directly ([`TwoWayDirect`], Somaini & Wolak
//! 2016), which yields each column's fixed effects α (per unit) and γ (per period) without
//! writing a demeaned column; every later quantity is a reduction over the rows that forms
//! x − (α_i + γ_t) on the fly, bit for bit the value the general path's direct solver writes:
//!
//! 1. X̃'X̃ and X̃'ỹ (with ỹ'ỹ), one pass;
//! 2. the residuals' sum of squares and the variance's meat (HC1, or CR1 by one of the two
//!    fixed effects), a second pass.
//!
//! What stays in memory beyond the caller's columns is the period codes (4 bytes a row) and
//! per-unit / per-period arrays when the rows are sorted by unit (the unit id column is
//! non-decreasing: its runs are the units, found in the ids themselves, and no unit codes are
//! formed), and the unit codes too otherwise. Sums run over fixed blocks of units
//! ([`TwoWayDirect::visit_block`]), one partial per block added in block order, so the thread
//! count never changes a number. The fit keeps no design: residuals and the wild bootstrap
//! refit on the general path (the caller still has the columns).
//!
//! The path is taken only at or above [`FeolsSpec::lean_min_rows`] rows (the Python facade
//! sets it; the default never does) and only when it applies: exactly two fixed effects, no
//! weights and no row dropped (no missing value, no singleton to remove), a variance that is
//! iid, HC1 or CR1 clustered by one of the two fixed effects, and a connected unit–period
//! graph whose smaller dimension has at most 1,000 levels. Otherwise `feols` takes the
//! general path, with the same results up to rounding.

use ndarray::{Array1, Array2};
use rayon::prelude::*;

use super::feols::{
    centered_ss, kept_regressors, solve_kept, FeolsFit, FeolsInput, FeolsSpec, PhaseClock, Rows,
    VcovRequest,
};
use crate::alloc::{try_copy, try_with_capacity};
use crate::error::{Error, Result};
use crate::fe::{
    changed_rows, factorize, find_singletons, DemeanInfo, DemeanMethod, Factorized, FixedEffects,
    TwoWayDirect, TwoWayEffects,
};
use crate::inference::{vcov_from_meat, StreamedMeat};
use crate::ols::dot;

/// Column counts up to this (the outcome and up to three regressors) get their own compiled
/// copy of the row loops. Measured at 10M rows on the cross-product and residual phases: the
/// any-count loops are 30-55% slower with one regressor and 12-17% with three; and
/// each copy adds ~1.4 s to the from-source build that `pip install .` runs (widths up to 8
/// cost 5.5 s more than up to 4).
const MAX_UNROLLED: usize = 4;

/// `$f::<M>(args)` with M = `$m` when 1 ≤ `$m` ≤ [`MAX_UNROLLED`], else M = 0 (any count).
macro_rules! by_width {
    ($m:expr, $f:ident($($arg:expr),*)) => {
        match $m {
            1 => $f::<1>($($arg),*),
            2 => $f::<2>($($arg),*),
            3 => $f::<3>($($arg),*),
            4 => $f::<4>($($arg),*),
            _ => $f::<0>($($arg),*),
        }
    };
}

/// Which variance the second pass sums.
#[derive(Clone, Copy, PartialEq)]
enum Meat {
    Iid,
    Hetero,
    /// CR1 by the fixed-effect dimension `q`.
    ClusterByFe(usize),
}

/// The fit on the lean path, or None when the path does not apply (the caller then takes
/// the general path). Errors are the general path's (e.g. every regressor collinear).
pub(super) fn fit(
    input: &FeolsInput,
    spec: &FeolsSpec,
    clock: &mut PhaseClock,
) -> Result<Option<FeolsFit>> {
    let n = input.y.1.len();
    if n < spec.lean_min_rows || input.fe.len() != 2 || input.weights.is_some() {
        return Ok(None);
    }
    if input.valid.is_some_and(|v| v.iter().any(|&ok| !ok)) {
        return Ok(None);
    }
    let meat = match &spec.vcov {
        VcovRequest::Iid => Meat::Iid,
        VcovRequest::Hetero => Meat::Hetero,
        VcovRequest::Cluster(idx) if idx.len() == 1 => {
            let Some((_, ids)) = input.clusters.get(idx[0]) else {
                return Ok(None);
            };
            match input.fe.iter().position(|(_, f)| f == ids) {
                Some(q) => Meat::ClusterByFe(q),
                None => return Ok(None),
            }
        }
        _ => return Ok(None),
    };
    let columns: Vec<&[f64]> = std::iter::once(input.y.1)
        .chain(input.x.iter().map(|(_, c)| *c))
        .collect();
    let all_finite = columns.par_iter().all(|c| {
        c.par_chunks(1 << 16)
            .all(|p| p.iter().all(|v| v.is_finite()))
    });
    if !all_finite {
        return Ok(None);
    }
    clock.lap("checks and complete rows");

    // The unit dimension: when one id column is sorted (non-decreasing) and has at least as
    // many runs as the other has levels, its runs are the units and no unit codes are formed
    // (the usual panel, sorted by unit); otherwise both dimensions are encoded.
    let mut runs = None;
    // the other dimension's codes when the sorted one does not play the unit (not redone)
    let mut encoded: [Option<Factorized>; 2] = [None, None];
    if let Some(q) = input.fe.iter().position(|(_, ids)| is_sorted(ids)) {
        let start = unit_runs(input.fe[q].1);
        let other = factorize(input.fe[1 - q].1)?;
        let (n_units, n_periods) = (start.len() - 1, other.n_levels());
        // the larger dimension plays the unit (ties: the first), as in `TwoWayDirect::new`
        if n_units > n_periods || (n_units == n_periods && q == 0) {
            runs = Some((q, start, other));
        } else {
            encoded[1 - q] = Some(other);
        }
    }
    let period_codes: Factorized;
    let fe_codes: FixedEffects;
    let n_singletons;
    let (direct, fe_levels) = match runs {
        Some((q, start, other)) => {
            let p = 1 - q;
            period_codes = other;
            let (n_units, n_periods) = (start.len() - 1, period_codes.n_levels());
            clock.lap("encode fixed effects");
            n_singletons = count_singletons_runs(&start, &period_codes.codes, n_periods, q)?;
            if spec.drop_singletons && n_singletons > 0 {
                return Ok(None);
            }
            clock.lap("singletons");
            let mut levels = vec![0; 2];
            levels[q] = n_units;
            levels[p] = n_periods;
            let Some(direct) =
                TwoWayDirect::from_unit_runs(start, &period_codes.codes, n_periods, q)
            else {
                return Ok(None);
            };
            (direct, levels)
        }
        None => {
            let encoded: Vec<Result<Factorized>> = input
                .fe
                .par_iter()
                .zip(encoded)
                .map(|((_, ids), done)| done.map_or_else(|| factorize(ids), Ok))
                .collect();
            let mut names = Vec::with_capacity(2);
            let mut codes = Vec::with_capacity(2);
            let mut levels = Vec::with_capacity(2);
            for ((name, _), f) in input.fe.iter().zip(encoded) {
                let f = f?;
                names.push(name.clone());
                levels.push(f.n_levels());
                codes.push(f.codes);
            }
            fe_codes = FixedEffects::new(names, codes, levels)?;
            clock.lap("encode fixed effects");
            n_singletons = count_singletons(&fe_codes.codes, &fe_codes.n_levels)?;
            if spec.drop_singletons && n_singletons > 0 {
                return Ok(None);
            }
            clock.lap("singletons");
            let Some(direct) = TwoWayDirect::new(&fe_codes) else {
                return Ok(None);
            };
            (direct, fe_codes.n_levels.clone())
        }
    };

    // Scales of the raw regressors (the collinearity test) and the outcome's total sum of
    // squares, as the general path computes them on the same rows.
    let k_all = input.x.len();
    let scale: Vec<f64> = columns[1..].iter().map(|c| dot(c, c)).collect();
    let tss = centered_ss(columns[0], None);
    clock.lap("scales");
    let demean_start = std::time::Instant::now();
    let effects = direct.effects(&columns);
    let demean = DemeanInfo {
        method: DemeanMethod::TwoWayDirect,
        iterations: vec![0; columns.len()],
        seconds: demean_start.elapsed().as_secs_f64(),
    };
    clock.lap("demean");

    // 1. X̃'X̃ with the outcome as column 0 (upper triangle, row-major m × m).
    let m = 1 + k_all;
    let src = Demeaned {
        direct: &direct,
        columns: &columns,
        effects: &effects,
    };
    let cross = block_sums(&direct, m * m, |b, acc| {
        by_width!(m, cross_block(&src, b, acc))
    });
    let xtx_all = Array2::from_shape_fn((k_all, k_all), |(a, b)| {
        let (a, b) = (1 + a.min(b), 1 + a.max(b));
        cross[a * m + b]
    });
    let xty_all = Array1::from_iter((1..m).map(|j| cross[j]));
    let ss_within = cross[0];
    clock.lap("cross products");

    let (keep, collinear) = kept_regressors(&xtx_all, &scale, &input.x)?;
    let k = keep.len();
    let ls = solve_kept(&xtx_all, &xty_all, &keep)?;
    clock.lap("solve");

    // 2. Residual sum of squares and the meat, from the kept columns.
    let cols_kept: Vec<usize> = keep.iter().map(|&j| 1 + j).collect();
    let beta = ls.beta.as_slice().unwrap_or(&[]).to_vec();
    let unit_dim = direct.unit_dim();
    let n_periods = fe_levels[1 - unit_dim];
    // per block: [rss, meat (k × k, full)] and, clustered by period, the period scores (T × k)
    let period_scores = matches!(meat, Meat::ClusterByFe(q) if q != unit_dim);
    let width = 1 + k * k + if period_scores { n_periods * k } else { 0 };
    let fit = FittedColumns {
        kept: &cols_kept,
        beta: &beta,
        meat,
        period_scores,
    };
    let sums = block_sums(&direct, width, |b, acc| {
        by_width!(m, residual_block(&src, &fit, b, acc))
    });
    let rss = sums[0];
    let mut meat_matrix = Array2::from_shape_vec((k, k), sums[1..1 + k * k].to_vec())
        .map_err(|e| Error::Shape(format!("meat: {e}")))?;
    if period_scores {
        for score in sums[1 + k * k..].chunks_exact(k.max(1)).take(n_periods) {
            add_outer(
                meat_matrix
                    .as_slice_mut()
                    .ok_or_else(|| Error::Numerical("meat is not contiguous".into()))?,
                score,
            );
        }
    }
    clock.lap("residuals and meat");

    let nested = match meat {
        Meat::ClusterByFe(q) => nested_in_fe(&direct, q, n_periods),
        _ => Vec::new(),
    };
    let streamed = match meat {
        Meat::Iid => StreamedMeat::Iid { rss },
        Meat::Hetero => StreamedMeat::Hetero(meat_matrix),
        Meat::ClusterByFe(q) => StreamedMeat::Cluster {
            n_clusters: fe_levels[q],
            meat: meat_matrix,
            nested: &nested,
        },
    };
    let v = vcov_from_meat(n, ls.xtx_inv.view(), streamed, &fe_levels)?;
    let se = v.vcov.diag().mapv(f64::sqrt);
    clock.lap("vcov");
    Ok(Some(FeolsFit {
        coefnames: keep.iter().map(|&j| input.x[j].0.clone()).collect(),
        beta: ls.beta,
        vcov: v.vcov,
        se,
        collinear,
        nobs: n,
        n_missing: 0,
        n_zero_weight: 0,
        n_singletons,
        singletons_dropped: spec.drop_singletons,
        r2: 1.0 - rss / tss,
        r2_within: Some(if k == 0 {
            f64::NAN
        } else {
            1.0 - rss / ss_within
        }),
        rss,
        df_k: v.df_k,
        df_t: v.df_t,
        n_clusters: v.n_clusters,
        fe_levels: fe_levels.clone(),
        demean,
        rows: Rows::All(n),
        cluster_codes: Vec::new(),
        design: None,
        kept: keep,
        fe: FixedEffects::empty(n),
        weights: None,
        phases: clock.laps.clone(),
    }))
}

/// Singleton observations (iterated removal, as [`find_singletons`]), counted without a
/// row mask when no level of either dimension has a single row (then there are none).
fn count_singletons(codes: &[Vec<u32>], n_levels: &[usize]) -> Result<usize> {
    let any_single = codes.iter().zip(n_levels).any(|(codes, &levels)| {
        let mut count = vec![0u32; levels];
        for &c in codes {
            let slot = &mut count[c as usize];
            *slot = slot.saturating_add(1);
        }
        count.contains(&1)
    });
    if !any_single {
        return Ok(0);
    }
    Ok(find_singletons(codes, n_levels)?
        .iter()
        .filter(|&&s| s)
        .count())
}

/// [`count_singletons`] when the units (dimension `unit_dim`) are the runs at `start`: the
/// unit codes are formed only if some level has a single row.
fn count_singletons_runs(
    start: &[usize],
    period: &[u32],
    n_periods: usize,
    unit_dim: usize,
) -> Result<usize> {
    let mut count = vec![0u32; n_periods];
    for &t in period {
        count[t as usize] = count[t as usize].saturating_add(1);
    }
    if !count.contains(&1) && start.windows(2).all(|w| w[1] - w[0] != 1) {
        return Ok(0);
    }
    let mut unit = try_with_capacity(period.len(), "unit codes")?;
    for (i, w) in start.windows(2).enumerate() {
        unit.extend(std::iter::repeat(i as u32).take(w[1] - w[0]));
    }
    let mut codes = vec![Vec::new(), Vec::new()];
    codes[unit_dim] = unit;
    codes[1 - unit_dim] = try_copy(period, "period codes")?;
    let mut levels = [0; 2];
    levels[unit_dim] = start.len() - 1;
    levels[1 - unit_dim] = n_periods;
    count_singletons(&codes, &levels)
}

/// Whether a column is non-decreasing (parallel chunks, each checked across its boundary).
fn is_sorted(ids: &[i64]) -> bool {
    const CHUNK: usize = 1 << 16;
    (0..ids.len().div_ceil(CHUNK)).into_par_iter().all(|c| {
        let from = (c * CHUNK).saturating_sub(1);
        let to = ((c + 1) * CHUNK).min(ids.len());
        ids[from..to].windows(2).all(|w| w[0] <= w[1])
    })
}

/// Where each run of equal values starts in a sorted column, then the column's length: in a
/// sorted column the runs are its distinct values, numbered in row order as `factorize`
/// numbers them.
fn unit_runs(ids: &[i64]) -> Vec<usize> {
    std::iter::once(0)
        .chain(changed_rows(ids))
        .chain(std::iter::once(ids.len()))
        .collect()
}

/// For CR1 by fixed effect `q`: which of the two fixed effects are fully nested in it (every
/// level within one cluster), as pyfixest's `k_fixef = "nonnested"` asks. `q` itself is; the
/// other is when every period lies in one unit (q = unit) or every unit in one period.
fn nested_in_fe(direct: &TwoWayDirect, q: usize, n_periods: usize) -> Vec<bool> {
    let unit_dim = direct.unit_dim();
    let n_units = direct.n_units();
    // owner[level of the other dimension] = the cluster it was first seen in
    let mut owner = vec![usize::MAX; if q == unit_dim { n_periods } else { n_units }];
    let mut other_nested = true;
    for b in 0..direct.n_blocks() {
        direct.visit_block(b, |i, _, t| {
            let (level, cluster) = if q == unit_dim { (t, i) } else { (i, t) };
            if owner[level] == usize::MAX {
                owner[level] = cluster;
            } else if owner[level] != cluster {
                other_nested = false;
            }
        });
    }
    let mut nested = vec![false; 2];
    nested[q] = true;
    nested[1 - q] = other_nested;
    nested
}

/// The caller's columns with their fixed effects: the demeaned rows, formed on the fly.
struct Demeaned<'d, 'a> {
    direct: &'d TwoWayDirect<'a>,
    columns: &'d [&'d [f64]],
    effects: &'d TwoWayEffects,
}

impl Demeaned<'_, '_> {
    /// [`Self::visit`] with `M` ≥ 1 columns, the row as an array (kept in registers).
    #[inline(always)]
    fn visit_fixed<const M: usize>(&self, b: usize, mut f: impl FnMut(usize, usize, &[f64; M])) {
        let cols: [&[f64]; M] = std::array::from_fn(|c| self.columns[c]);
        let (alpha, gamma) = (&self.effects.alpha, &self.effects.gamma);
        self.direct.visit_block(b, |i, row, t| {
            let (a, g) = (&alpha[i * M..(i + 1) * M], &gamma[t * M..(t + 1) * M]);
            // A loop, not `std::array::from_fn`, whose closure is not always inlined: a call
            // per entry of every row (measured: twice the time of the cross products).
            let mut d = [0.0f64; M];
            for c in 0..M {
                d[c] = cols[c][row] - (a[c] + g[c]);
            }
            f(i, t, &d);
        });
    }

    /// Calls `f(unit, period, d)` for every row of block `b`, `d` = x − (α_i + γ_t) of every
    /// column: the general path's residual, bit for bit. For column counts above
    /// [`MAX_UNROLLED`] ([`Self::visit_fixed`] takes the others).
    #[inline(always)]
    fn visit(&self, b: usize, mut f: impl FnMut(usize, usize, &[f64])) {
        let m = self.effects.n_cols;
        debug_assert!(m > MAX_UNROLLED, "{m} columns take the fixed-width loops");
        let mut d = vec![0.0f64; m];
        let (alpha, gamma) = (&self.effects.alpha, &self.effects.gamma);
        self.direct.visit_block(b, |i, row, t| {
            let (a, g) = (&alpha[i * m..(i + 1) * m], &gamma[t * m..(t + 1) * m]);
            for c in 0..m {
                d[c] = self.columns[c][row] - (a[c] + g[c]);
            }
            f(i, t, &d);
        });
    }
}

/// One block's X̃'X̃ (outcome first; upper triangle, row-major m × m) added to `acc`.
fn cross_block<const M: usize>(src: &Demeaned, b: usize, acc: &mut [f64]) {
    if M > 0 {
        // the sums stay in registers; acc starts at 0 for each block, so the same bits
        let mut local = [[0.0f64; M]; M];
        src.visit_fixed::<M>(b, |_, _, d| {
            for a in 0..M {
                for c in a..M {
                    local[a][c] += d[a] * d[c];
                }
            }
        });
        for a in 0..M {
            for c in a..M {
                acc[a * M + c] += local[a][c];
            }
        }
        return;
    }
    let m = src.effects.n_cols;
    src.visit(b, |_, _, d| {
        for a in 0..m {
            let da = d[a];
            for c in a..m {
                acc[a * m + c] += da * d[c];
            }
        }
    });
}

/// What the residual pass needs: the kept regressors (column indices, outcome = 0), their
/// coefficients, and which meat to sum.
struct FittedColumns<'f> {
    kept: &'f [usize],
    beta: &'f [f64],
    meat: Meat,
    period_scores: bool,
}

/// One block's residual sum of squares, meat (k × k) and, clustered by period, period scores
/// (T × k), added to `acc` = [rss, meat, scores].
fn residual_block<const M: usize>(src: &Demeaned, fit: &FittedColumns, b: usize, acc: &mut [f64]) {
    if M > 0 {
        residual_block_fixed::<M>(src, fit, b, acc);
        return;
    }
    let k = fit.kept.len();
    let mut s = vec![0.0; k];
    let mut unit_score = vec![0.0; k];
    let mut current = usize::MAX;
    let (rss, rest) = acc.split_at_mut(1);
    let (meat_acc, scores) = rest.split_at_mut(k * k);
    let mut row = |i: usize, t: usize, d: &[f64]| {
        let mut fitted = 0.0;
        for (&c, &bj) in fit.kept.iter().zip(fit.beta) {
            fitted += d[c] * bj;
        }
        let e = d[0] - fitted;
        rss[0] += e * e;
        for (sj, &c) in s.iter_mut().zip(fit.kept) {
            *sj = d[c] * e;
        }
        match fit.meat {
            Meat::Iid => {}
            Meat::Hetero => add_outer(meat_acc, &s),
            Meat::ClusterByFe(_) if fit.period_scores => {
                for (acc, sj) in scores[t * k..(t + 1) * k].iter_mut().zip(&s) {
                    *acc += sj;
                }
            }
            Meat::ClusterByFe(_) => {
                // units arrive one after another: close the previous unit's score
                if i != current {
                    if current != usize::MAX {
                        add_outer(meat_acc, &unit_score);
                    }
                    unit_score.iter_mut().for_each(|v| *v = 0.0);
                    current = i;
                }
                for (acc, sj) in unit_score.iter_mut().zip(&s) {
                    *acc += sj;
                }
            }
        }
    };
    src.visit(b, &mut row);
    if matches!(fit.meat, Meat::ClusterByFe(_)) && !fit.period_scores && current != usize::MAX {
        add_outer(meat_acc, &unit_score);
    }
}

/// One accumulator of `width` per block of units (filled by `f(block, acc)` in parallel),
/// added in block order.
fn block_sums(
    direct: &TwoWayDirect,
    width: usize,
    f: impl Fn(usize, &mut [f64]) + Sync,
) -> Vec<f64> {
    let partials: Vec<Vec<f64>> = (0..direct.n_blocks())
        .into_par_iter()
        .map(|b| {
            let mut acc = vec![0.0; width];
            f(b, &mut acc);
            acc
        })
        .collect();
    let mut total = vec![0.0; width];
    for p in &partials {
        total.iter_mut().zip(p).for_each(|(t, v)| *t += v);
    }
    total
}

/// [`residual_block`] with `M` ≥ 1 columns: the row, scores and sums in fixed arrays (in
/// registers), the same arithmetic in the same order.
fn residual_block_fixed<const M: usize>(
    src: &Demeaned,
    fit: &FittedColumns,
    b: usize,
    acc: &mut [f64],
) {
    let k = fit.kept.len();
    let mut kept = [0usize; M];
    let mut beta = [0.0f64; M];
    kept[..k].copy_from_slice(fit.kept);
    beta[..k].copy_from_slice(fit.beta);
    let mut rss = 0.0;
    let mut meat = [[0.0f64; M]; M];
    let mut unit_score = [0.0f64; M];
    let mut current = usize::MAX;
    let (head, scores) = acc.split_at_mut(1 + k * k);
    let outer = |meat: &mut [[f64; M]; M], s: &[f64; M]| {
        for a in 0..k {
            for c in 0..k {
                meat[a][c] += s[a] * s[c];
            }
        }
    };
    src.visit_fixed::<M>(b, |i, t, d| {
        let mut fitted = 0.0;
        for j in 0..k {
            fitted += d[kept[j]] * beta[j];
        }
        let e = d[0] - fitted;
        rss += e * e;
        let mut s = [0.0f64; M];
        for j in 0..k {
            s[j] = d[kept[j]] * e;
        }
        match fit.meat {
            Meat::Iid => {}
            Meat::Hetero => outer(&mut meat, &s),
            Meat::ClusterByFe(_) if fit.period_scores => {
                for j in 0..k {
                    scores[t * k + j] += s[j];
                }
            }
            Meat::ClusterByFe(_) => {
                // units arrive one after another: close the previous unit's score
                if i != current {
                    if current != usize::MAX {
                        outer(&mut meat, &unit_score);
                    }
                    unit_score = [0.0; M];
                    current = i;
                }
                for j in 0..k {
                    unit_score[j] += s[j];
                }
            }
        }
    });
    if matches!(fit.meat, Meat::ClusterByFe(_)) && !fit.period_scores && current != usize::MAX {
        outer(&mut meat, &unit_score);
    }
    // acc starts at 0 for each block: adding the block's sums gives the same bits
    head[0] += rss;
    for a in 0..k {
        for c in 0..k {
            head[1 + a * k + c] += meat[a][c];
        }
    }
}

/// meat += s s' (full k × k, row-major).
fn add_outer(meat: &mut [f64], s: &[f64]) {
    let k = s.len();
    for (a, &sa) in s.iter().enumerate() {
        for (m, &sb) in meat[a * k..(a + 1) * k].iter_mut().zip(s) {
            *m += sa * sb;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linear::feols;

    use crate::rng::test_uniform as lcg;

    struct Panel {
        unit: Vec<i64>,
        year: Vec<i64>,
        y: Vec<f64>,
        x: Vec<Vec<f64>>,
    }

    /// A unit × year panel, `drop` of the rows left out at random, rows shuffled when asked;
    /// x2 is an exact multiple of x0 when `collinear`.
    fn panel(units: i64, years: i64, drop: f64, shuffle: bool, collinear: bool) -> Panel {
        let mut seed = 11u64;
        let mut rows: Vec<(i64, i64)> = (0..units)
            .flat_map(|u| (0..years).map(move |t| (u, t)))
            .filter(|_| true)
            .collect();
        rows.retain(|_| lcg(&mut seed) >= drop);
        if shuffle {
            for i in (1..rows.len()).rev() {
                let j = (lcg(&mut seed) * (i + 1) as f64) as usize;
                rows.swap(i, j);
            }
        }
        let ua: Vec<f64> = (0..units).map(|_| lcg(&mut seed) - 0.5).collect();
        let ga: Vec<f64> = (0..years).map(|_| lcg(&mut seed) - 0.5).collect();
        let n = rows.len();
        let mut x = vec![
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        ];
        let mut y = Vec::with_capacity(n);
        for &(u, t) in &rows {
            let x0 = lcg(&mut seed) + ua[u as usize];
            let x1 = lcg(&mut seed) - ga[t as usize];
            let x2 = if collinear { 2.0 * x0 } else { lcg(&mut seed) };
            y.push(
                x0 - 0.5 * x1 + 0.25 * x2 + 3.0 * ua[u as usize] + ga[t as usize] + lcg(&mut seed),
            );
            x[0].push(x0);
            x[1].push(x1);
            x[2].push(x2);
        }
        Panel {
            unit: rows.iter().map(|r| 100 + 3 * r.0).collect(),
            year: rows.iter().map(|r| 2000 + r.1).collect(),
            y,
            x,
        }
    }

    fn input<'a>(p: &'a Panel, k: usize, cluster: &'a [i64]) -> FeolsInput<'a> {
        FeolsInput {
            y: ("y".into(), &p.y),
            x: (0..k)
                .map(|j| (format!("x{j}"), p.x[j].as_slice()))
                .collect(),
            fe: vec![("unit".into(), &p.unit), ("year".into(), &p.year)],
            clusters: vec![("cl".into(), cluster)],
            weights: None,
            valid: None,
        }
    }

    fn spec(vcov: VcovRequest, lean: bool) -> FeolsSpec {
        FeolsSpec {
            vcov,
            lean_min_rows: if lean { 0 } else { usize::MAX },
            ..FeolsSpec::default()
        }
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300) || (a.is_nan() && b.is_nan())
    }

    /// Identity: the lean fit equals the general path's (coefficients, variance, R², RSS,
    /// degrees of freedom, collinear names, cluster counts) to rounding, for balanced and
    /// unbalanced panels, rows sorted by unit or shuffled, every variance the path takes,
    /// a collinear regressor and the fixed-effects-only model; residuals are refused (the
    /// caller refits) and every row counts as used.
    #[test]
    fn lean_fit_equals_the_general_path() {
        for (drop, shuffle, collinear) in [
            (0.0, false, false),
            (0.0, true, true),
            (0.3, false, true),
            (0.3, true, false),
        ] {
            let p = panel(700, 9, drop, shuffle, collinear);
            for k in [3, 0] {
                for (vcov, cl) in [
                    (VcovRequest::Iid, &p.unit),
                    (VcovRequest::Hetero, &p.unit),
                    (VcovRequest::Cluster(vec![0]), &p.unit),
                    (VcovRequest::Cluster(vec![0]), &p.year),
                ] {
                    let inp = input(&p, k, cl);
                    let g = feols(&inp, &spec(vcov.clone(), false)).unwrap();
                    let l = feols(&inp, &spec(vcov.clone(), true)).unwrap();
                    let what = format!("drop {drop} shuffle {shuffle} k {k} {vcov:?}");
                    assert!(l.is_lean() && !g.is_lean(), "{what}");
                    assert_eq!(l.coefnames, g.coefnames, "{what}");
                    assert_eq!(l.collinear, g.collinear, "{what}");
                    assert_eq!(
                        (l.nobs, l.df_k, l.df_t, &l.n_clusters, &l.fe_levels),
                        (g.nobs, g.df_k, g.df_t, &g.n_clusters, &g.fe_levels),
                        "{what}"
                    );
                    for (a, b) in l.beta.iter().zip(&g.beta) {
                        assert!(close(*a, *b, 1e-11), "{what}: beta {a} vs {b}");
                    }
                    for (a, b) in l.vcov.iter().zip(&g.vcov) {
                        assert!(close(*a, *b, 1e-9), "{what}: vcov {a} vs {b}");
                    }
                    assert!(close(l.rss, g.rss, 1e-11), "{what}");
                    assert!(close(l.r2, g.r2, 1e-12), "{what}");
                    assert!(
                        close(l.r2_within.unwrap(), g.r2_within.unwrap(), 1e-10),
                        "{what}"
                    );
                    assert!(l.residuals().is_err() && l.xw().is_err());
                    assert_eq!(l.used_rows().as_ref(), g.used_rows().as_ref());
                }
            }
        }
    }

    /// Fits the lean path does not take go to the general path: below the row threshold,
    /// with weights, a missing value, a row switched off, a singleton to drop, a cluster
    /// variable that is not a fixed effect, two-way clustering, one fixed effect, or a
    /// disconnected unit–year graph.
    #[test]
    fn lean_path_falls_back_when_it_does_not_apply() {
        let p = panel(300, 6, 0.0, false, false);
        let lean = |inp: &FeolsInput, vcov: VcovRequest, drop_singletons: bool| {
            let s = FeolsSpec {
                drop_singletons,
                ..spec(vcov, true)
            };
            feols(inp, &s).unwrap().is_lean()
        };
        let base = input(&p, 3, &p.unit);
        assert!(lean(&base, VcovRequest::Cluster(vec![0]), false));
        let below = FeolsSpec {
            lean_min_rows: p.y.len() + 1,
            ..spec(VcovRequest::Iid, true)
        };
        assert!(!feols(&base, &below).unwrap().is_lean());
        let w = vec![1.0; p.y.len()];
        let mut weighted = input(&p, 3, &p.unit);
        weighted.weights = Some(("w".into(), &w));
        assert!(!lean(&weighted, VcovRequest::Iid, false));
        let mut y_nan = p.y.clone();
        y_nan[5] = f64::NAN;
        let mut missing = input(&p, 3, &p.unit);
        missing.y = ("y".into(), &y_nan);
        assert!(!lean(&missing, VcovRequest::Iid, false));
        let mut valid = vec![true; p.y.len()];
        valid[7] = false;
        let mut off = input(&p, 3, &p.unit);
        off.valid = Some(&valid);
        assert!(!lean(&off, VcovRequest::Iid, false));
        let all_on = vec![true; p.y.len()];
        let mut on = input(&p, 3, &p.unit);
        on.valid = Some(&all_on);
        assert!(lean(&on, VcovRequest::Iid, false));
        let other: Vec<i64> = p.unit.iter().map(|u| u % 7).collect();
        let by_other = input(&p, 3, &other);
        assert!(!lean(&by_other, VcovRequest::Cluster(vec![0]), false));
        let mut two = input(&p, 3, &p.unit);
        two.clusters.push(("year".into(), &p.year));
        assert!(!lean(&two, VcovRequest::Cluster(vec![0, 1]), false));
        let mut one_fe = input(&p, 3, &p.unit);
        one_fe.fe.truncate(1);
        assert!(!lean(&one_fe, VcovRequest::Iid, false));
        // a unit seen once: a singleton, found and counted on the lean path, dropped on the
        // general one
        let mut s = panel(300, 6, 0.0, false, false);
        s.unit.push(99_999);
        s.year.push(2001);
        s.y.push(0.5);
        for x in &mut s.x {
            x.push(0.25);
        }
        let single = input(&s, 3, &s.unit);
        assert!(lean(&single, VcovRequest::Iid, false));
        assert_eq!(
            feols(&single, &spec(VcovRequest::Iid, true))
                .unwrap()
                .n_singletons,
            1
        );
        assert!(!lean(&single, VcovRequest::Iid, true));
        // two blocks of units that share no year
        let mut d = panel(300, 6, 0.0, false, false);
        for (u, t) in d.unit.iter().zip(d.year.iter_mut()) {
            if *u >= 100 + 3 * 150 {
                *t += 50;
            }
        }
        let disconnected = input(&d, 3, &d.unit);
        assert!(!lean(&disconnected, VcovRequest::Iid, false));
    }

    /// Rows sorted by unit take the run layout (no unit codes); the same rows with unit ids
    /// that are grouped but not increasing take the coded layout: the same bits. Rows sorted
    /// by year (the smaller dimension) take the coded layout too and equal the general path.
    #[test]
    fn unit_runs_and_unit_codes_give_the_same_bits() {
        let p = panel(900, 8, 0.2, false, false);
        let flipped: Vec<i64> = p.unit.iter().map(|u| -u).collect();
        let q = Panel {
            unit: flipped,
            year: p.year.clone(),
            y: p.y.clone(),
            x: p.x.clone(),
        };
        assert!(is_sorted(&p.unit) && !is_sorted(&q.unit));
        for vcov in [VcovRequest::Hetero, VcovRequest::Cluster(vec![0])] {
            let a = feols(&input(&p, 3, &p.unit), &spec(vcov.clone(), true)).unwrap();
            let b = feols(&input(&q, 3, &q.unit), &spec(vcov, true)).unwrap();
            assert!(a.is_lean() && b.is_lean());
            assert_eq!(a.beta, b.beta);
            assert_eq!(a.vcov, b.vcov);
            assert_eq!(
                (a.df_k, a.df_t, &a.n_clusters),
                (b.df_k, b.df_t, &b.n_clusters)
            );
        }
        // rows sorted by year, then unit
        let mut order: Vec<usize> = (0..p.y.len()).collect();
        order.sort_by_key(|&r| (p.year[r], p.unit[r]));
        let by_year = Panel {
            unit: order.iter().map(|&r| p.unit[r]).collect(),
            year: order.iter().map(|&r| p.year[r]).collect(),
            y: order.iter().map(|&r| p.y[r]).collect(),
            x: p.x
                .iter()
                .map(|c| order.iter().map(|&r| c[r]).collect())
                .collect(),
        };
        let inp = input(&by_year, 3, &by_year.unit);
        let l = feols(&inp, &spec(VcovRequest::Cluster(vec![0]), true)).unwrap();
        let g = feols(&inp, &spec(VcovRequest::Cluster(vec![0]), false)).unwrap();
        assert!(l.is_lean());
        for (a, b) in l.beta.iter().zip(&g.beta) {
            assert!(close(*a, *b, 1e-11));
        }
        for (a, b) in l.vcov.iter().zip(&g.vcov) {
            assert!(close(*a, *b, 1e-9));
        }
    }

    /// More columns than the unrolled loops take (the any-count loops) equal the general path.
    #[test]
    fn many_columns_take_the_any_count_loops() {
        let mut p = panel(400, 7, 0.1, true, false);
        let n = p.y.len();
        for j in 0..7 {
            let c: Vec<f64> = (0..n)
                .map(|r| (p.x[j % 3][r] * (j as f64 + 1.0)).sin() + p.x[(j + 1) % 3][r])
                .collect();
            p.x.push(c);
        }
        assert!(1 + p.x.len() > MAX_UNROLLED);
        for vcov in [VcovRequest::Hetero, VcovRequest::Cluster(vec![0])] {
            let inp = input(&p, p.x.len(), &p.unit);
            let l = feols(&inp, &spec(vcov.clone(), true)).unwrap();
            let g = feols(&inp, &spec(vcov, false)).unwrap();
            assert!(l.is_lean());
            for (a, b) in l.beta.iter().zip(&g.beta) {
                assert!(close(*a, *b, 1e-10), "beta {a} vs {b}");
            }
            for (a, b) in l.vcov.iter().zip(&g.vcov) {
                assert!(
                    close(*a, *b, 1e-8) || (a - b).abs() < 1e-16,
                    "vcov {a} vs {b}"
                );
            }
            assert!(close(l.rss, g.rss, 1e-11));
        }
    }

    /// The thread count never changes a number on the lean path (blocks of units are fixed).
    #[test]
    fn lean_fit_does_not_depend_on_the_thread_count() {
        let p = panel(5000, 7, 0.2, false, false);
        let inp = input(&p, 3, &p.unit);
        let fit = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| feols(&inp, &spec(VcovRequest::Cluster(vec![0]), true)).unwrap())
        };
        let (a, b) = (fit(1), fit(3));
        assert!(a.is_lean());
        assert_eq!(a.beta, b.beta);
        assert_eq!(a.vcov, b.vcov);
        assert_eq!(a.rss.to_bits(), b.rss.to_bits());
    }
}

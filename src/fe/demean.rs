//! Projecting fixed effects out of columns (the within transformation).
//!
//! Three paths, chosen per call:
//! - one dimension: subtract (weighted) level means, exact;
//! - two dimensions forming a balanced grid (every level pair exactly once) without weights:
//!   `x - mean_a - mean_b + mean`, exact, two passes;
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
    let method = match fe.n_dims() {
        0 => DemeanMethod::NoFixedEffects,
        1 => DemeanMethod::OneWay,
        2 if weights.is_none() && is_balanced_grid(fe) => DemeanMethod::BalancedTwoWay,
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
            cols.par_iter_mut().for_each(|c| demean_balanced(c, fe));
            vec![0; cols.len()]
        }
        DemeanMethod::AlternatingProjections => {
            let problem = Problem::new(fe, weights);
            // Taken here, on the caller's thread: the columns run on rayon's workers.
            let cancel = Cancel::current();
            let out: Vec<Result<usize>> = cols
                .par_iter_mut()
                .map(|c| problem.demean(c, spec, cancel))
                .collect();
            out.into_iter().collect::<Result<Vec<_>>>()?
        }
    };
    Ok(DemeanInfo {
        method,
        iterations,
        seconds: start.elapsed().as_secs_f64(),
    })
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

    /// Coefficients of dimension `d` given all others: level mean of x minus the other
    /// dimensions' fitted effects. `first` holds dimension 0's coefficients, `state` the rest.
    fn update(&self, d: usize, sx: &[Vec<f64>], first: &[f64], state: &[f64], out: &mut [f64]) {
        out.copy_from_slice(&sx[d]);
        let n = self.codes[0].len();
        let dims = self.codes.len();
        for i in 0..n {
            let mut other = 0.0;
            for e in 0..dims {
                if e == d {
                    continue;
                }
                let c = self.codes[e][i] as usize;
                other += if e == 0 {
                    first[c]
                } else {
                    state[self.offsets[e] + c]
                };
            }
            let wi = self.weights.map_or(1.0, |w| w[i]);
            out[self.codes[d][i] as usize] -= wi * other;
        }
        out.iter_mut()
            .zip(&self.wsum[d])
            .for_each(|(o, &s)| *o /= s);
    }

    /// One Gauss–Seidel sweep: solve dimension 0 from `state`, then each other dimension in
    /// turn from the newest values. Returns dimension 0's coefficients and writes the new state.
    fn sweep(&self, sx: &[Vec<f64>], state: &[f64], first: &mut [f64], next: &mut [f64]) {
        next.copy_from_slice(state);
        self.update(0, sx, &[], state, first);
        let mut buf = Vec::new();
        for d in 1..self.codes.len() {
            buf.resize(self.n_levels[d], 0.0);
            self.update(d, sx, first, next, &mut buf);
            let off = self.offsets[d];
            next[off..off + self.n_levels[d]].copy_from_slice(&buf);
        }
    }

    /// Cancellable between sweeps.
    fn demean(&self, x: &mut [f64], spec: &DemeanSpec, cancel: Cancel) -> Result<usize> {
        let sx = self.level_sums(x);
        let rms = (x.iter().map(|v| v * v).sum::<f64>() / x.len().max(1) as f64).sqrt();
        let threshold = spec.tol * rms.max(f64::MIN_POSITIVE);
        let m = self.state_len;
        let mut first = vec![0.0; self.n_levels[0]];
        let mut xs = vec![0.0; m];
        let mut gx = vec![0.0; m];
        let mut ggx = vec![0.0; m];
        let max_change = |a: &[f64], b: &[f64]| {
            a.iter()
                .zip(b)
                .fold(0.0f64, |acc, (u, v)| acc.max((u - v).abs()))
        };
        let mut iter = 0;
        loop {
            cancel.check()?;
            iter += 1;
            if iter > spec.max_iter {
                return Err(Error::Numerical(format!(
                    "fixed-effect demeaning did not converge in {} sweeps (fixed effects: {:?})",
                    spec.max_iter, self.order
                )));
            }
            self.sweep(&sx, &xs, &mut first, &mut gx);
            if max_change(&gx, &xs) <= threshold {
                xs.copy_from_slice(&gx);
                break;
            }
            self.sweep(&sx, &gx, &mut first, &mut ggx);
            if max_change(&ggx, &gx) <= threshold {
                xs.copy_from_slice(&ggx);
                break;
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
                xs.copy_from_slice(&ggx);
                break;
            }
            let coef = vprod / ssq;
            for j in 0..m {
                xs[j] = ggx[j] - coef * (ggx[j] - gx[j]);
            }
        }
        // Final dimension-0 coefficients consistent with the converged state, then residuals.
        self.update(0, &sx, &[], &xs, &mut first);
        for (i, xi) in x.iter_mut().enumerate() {
            let mut fit = first[self.codes[0][i] as usize];
            for e in 1..self.codes.len() {
                fit += xs[self.offsets[e] + self.codes[e][i] as usize];
            }
            *xi -= fit;
        }
        Ok(iter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fe2(a: Vec<u32>, b: Vec<u32>) -> FixedEffects {
        let la = *a.iter().max().unwrap() as usize + 1;
        let lb = *b.iter().max().unwrap() as usize + 1;
        FixedEffects::new(vec!["a".into(), "b".into()], vec![a, b], vec![la, lb]).unwrap()
    }

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
}

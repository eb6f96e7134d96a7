//! Placebo tests / randomization inference for a TWFE DID coefficient (Fisher 1935; the
//! "random assignment of pilot status" placebo of the smart-city literature; MacKinnon & Webb
//! 2020 on randomization inference with few treated clusters).
//!
//! The statistic is the coefficient of a 0/1 absorbing treatment indicator in a fixed-effects
//! regression with controls. Only the treatment changes between replicates, so the outcome and
//! the controls are demeaned once; each replicate builds its placebo indicator, projects the
//! fixed effects out of that one column (exact two-pass formula on a balanced two-way grid)
//! and gets the coefficient by Frisch–Waugh–Lovell from a precomputed (Z'Z)^{-1}:
//! `b = (d'y - d'Z A Z'y) / (d'd - d'Z A Z'd)`, O(n·k) per replicate.
//!
//! Schemes (the treatment is summarised by each unit's adoption period, its cohort):
//! - `Units`: the cohort labels (never-treated included) are permuted across units, so the
//!   number of units in every cohort is kept;
//! - `Times`: the treated units stay treated, each draws a pseudo adoption period uniformly
//!   from the observed periods after the first (so that it has a pre-period);
//! - `Both`: as many units as are treated are drawn without replacement and each draws a
//!   pseudo adoption period as in `Times`.
//!
//! Replicate r draws from `rng::stream(seed, r)` (`below` / `shuffle`, see [`crate::rng`]); replicates
//! run in parallel and are collected in index order, so the thread count never changes a number.
//! When the scheme has no more distinct assignments than replicates requested, every distinct
//! assignment is enumerated once instead (the exact randomization distribution).

use ndarray::Array2;
use rayon::prelude::*;

use crate::alloc::try_zeros;
use crate::error::{Error, Result};
use crate::fe::{demean_columns, factorize, DemeanSpec, FixedEffects};
use crate::interrupt::Cancel;
use crate::linalg::spd_inverse;
use crate::ols::{dot, independent_columns};
use crate::panel::{Panel, TreatmentInput};
use crate::rng::{self, below, shuffle, ChaCha8Rng};

/// How placebo treatments are drawn (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceboScheme {
    Units,
    Times,
    Both,
}

impl PlaceboScheme {
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "units" => Ok(Self::Units),
            "times" => Ok(Self::Times),
            "both" => Ok(Self::Both),
            other => Err(Error::Option {
                name: "scheme".into(),
                reason: format!("'{other}' is not one of 'units', 'times', 'both'"),
            }),
        }
    }
}

/// The estimation sample of the fitted model (complete rows only).
#[derive(Debug, Clone)]
pub struct PlaceboData<'a> {
    pub y: &'a [f64],
    pub controls: Vec<(String, &'a [f64])>,
    pub fe: Vec<(String, &'a [i64])>,
    pub weights: Option<&'a [f64]>,
    pub unit: &'a [i64],
    pub time: &'a [i64],
    /// The actual 0/1 absorbing treatment indicator.
    pub treatment: (String, &'a [f64]),
}

/// Everything that does not change between replicates.
#[derive(Debug, Clone)]
pub struct Placebo {
    n: usize,
    unit: Vec<u32>,
    time: Vec<i64>,
    periods: Vec<i64>,
    /// Actual adoption period per unit (`None` = never treated).
    cohort: Vec<Option<i64>>,
    fe: FixedEffects,
    sqrt_w: Option<Vec<f64>>,
    weights: Option<Vec<f64>>,
    /// Demeaned (and weighted) outcome and kept controls.
    y: Vec<f64>,
    z: Vec<Vec<f64>>,
    /// (Z'Z)^{-1} and (Z'Z)^{-1} Z'y.
    a: Array2<f64>,
    a_zy: Vec<f64>,
    spec: DemeanSpec,
    /// Controls dropped as collinear.
    pub collinear: Vec<String>,
    actual: f64,
}

fn len_check(name: &str, len: usize, n: usize) -> Result<()> {
    if len != n {
        return Err(Error::Shape(format!(
            "column '{name}' has {len} rows, expected {n}"
        )));
    }
    Ok(())
}

impl Placebo {
    /// Demeans the outcome and the controls once and fits the actual model.
    pub fn new(data: &PlaceboData, spec: DemeanSpec) -> Result<Self> {
        let n = data.y.len();
        if n == 0 {
            return Err(Error::Empty("placebo: no rows".into()));
        }
        len_check("unit", data.unit.len(), n)?;
        len_check("time", data.time.len(), n)?;
        len_check(&data.treatment.0, data.treatment.1.len(), n)?;
        for (name, c) in &data.controls {
            len_check(name, c.len(), n)?;
        }
        for (name, c) in &data.fe {
            len_check(name, c.len(), n)?;
        }
        for (name, c) in std::iter::once(&("outcome".to_string(), data.y))
            .chain(&data.controls)
            .chain(std::iter::once(&data.treatment))
        {
            if let Some(bad) = c.iter().find(|v| !v.is_finite()) {
                return Err(Error::Column {
                    name: name.clone(),
                    reason: format!("non-finite value {bad} in the estimation sample"),
                });
            }
        }
        if let Some(w) = data.weights {
            len_check("weights", w.len(), n)?;
            if let Some(bad) = w.iter().find(|&&v| !(v > 0.0 && v.is_finite())) {
                return Err(Error::Column {
                    name: "weights".into(),
                    reason: format!("weights must be positive and finite, found {bad}"),
                });
            }
        }
        let uf = factorize(data.unit)?;
        let labels: Vec<String> = uf.levels.iter().map(|v| v.to_string()).collect();
        let panel = Panel::new(
            &uf.codes,
            labels,
            data.time,
            TreatmentInput::Indicator(data.treatment.1),
            false,
        )
        .map_err(|e| match e {
            Error::Column { name, reason } if name == "treatment" => Error::Column {
                name: data.treatment.0.clone(),
                reason,
            },
            other => other,
        })?;
        let cohort = panel.cohort.clone();
        let periods = panel.periods.clone();
        if periods.len() < 2 {
            return Err(Error::Empty(
                "placebo: the panel needs at least two periods".into(),
            ));
        }
        // The indicator must be the absorbing path implied by the cohorts.
        for i in 0..n {
            let implied = cohort[uf.codes[i] as usize].is_some_and(|g| data.time[i] >= g);
            if implied != (data.treatment.1[i] == 1.0) {
                return Err(Error::Column {
                    name: data.treatment.0.clone(),
                    reason: format!(
                        "is not an absorbing 0/1 indicator for unit '{}' at time {} (placebo \
                         reassigns adoption periods)",
                        uf.levels[uf.codes[i] as usize], data.time[i]
                    ),
                });
            }
        }
        let n_treated = cohort.iter().filter(|c| c.is_some()).count();
        if n_treated == 0 {
            return Err(Error::Column {
                name: data.treatment.0.clone(),
                reason: "no unit is ever treated".into(),
            });
        }

        let mut names = Vec::new();
        let mut codes = Vec::new();
        let mut levels = Vec::new();
        for (name, ids) in &data.fe {
            let f = factorize(ids)?;
            names.push(name.clone());
            levels.push(f.n_levels());
            codes.push(f.codes);
        }
        let fe = if names.is_empty() {
            FixedEffects::empty(n)
        } else {
            FixedEffects::new(names, codes, levels)?
        };

        let weights = data.weights.map(<[f64]>::to_vec);
        let sqrt_w: Option<Vec<f64>> = weights
            .as_ref()
            .map(|w| w.iter().map(|v| v.sqrt()).collect());
        let mut cols: Vec<Vec<f64>> = std::iter::once(data.y)
            .chain(data.controls.iter().map(|(_, c)| *c))
            .map(<[f64]>::to_vec)
            .collect();
        let scale: Vec<f64> = cols[1..]
            .iter()
            .map(|c| wss(c, weights.as_deref()))
            .collect();
        {
            let mut refs: Vec<&mut [f64]> = cols.iter_mut().map(Vec::as_mut_slice).collect();
            demean_columns(&mut refs, weights.as_deref(), &fe, &spec)?;
        }
        if let Some(sw) = &sqrt_w {
            for c in cols.iter_mut() {
                c.iter_mut().zip(sw).for_each(|(v, s)| *v *= s);
            }
        }
        let y = cols.remove(0);
        let k_all = cols.len();
        let xtx_all = Array2::from_shape_fn((k_all, k_all), |(i, j)| dot(&cols[i], &cols[j]));
        let keep = independent_columns(&xtx_all, &scale);
        let collinear = (0..k_all)
            .filter(|j| !keep.contains(j))
            .map(|j| data.controls[j].0.clone())
            .collect();
        let z: Vec<Vec<f64>> = keep.iter().map(|&j| cols[j].clone()).collect();
        let k = z.len();
        let a = if k > 0 {
            let ztz = Array2::from_shape_fn((k, k), |(i, j)| xtx_all[[keep[i], keep[j]]]);
            spd_inverse(ztz.view())?
        } else {
            Array2::zeros((0, 0))
        };
        let zy: Vec<f64> = z.iter().map(|c| dot(c, &y)).collect();
        let a_zy: Vec<f64> = (0..k)
            .map(|i| (0..k).map(|j| a[[i, j]] * zy[j]).sum())
            .collect();
        let mut me = Self {
            n,
            unit: uf.codes,
            time: data.time.to_vec(),
            periods,
            cohort,
            fe,
            sqrt_w,
            weights,
            y,
            z,
            a,
            a_zy,
            spec,
            collinear,
            actual: f64::NAN,
        };
        let mut d = vec![0.0; n];
        let actual = me.estimate_into(&me.cohort.clone(), &mut d)?;
        if !actual.is_finite() {
            return Err(Error::Column {
                name: data.treatment.0.clone(),
                reason: "is collinear with the fixed effects and controls: no DID coefficient"
                    .into(),
            });
        }
        me.actual = actual;
        Ok(me)
    }

    /// The coefficient of the actual treatment (equals the fitted model's).
    pub fn actual(&self) -> f64 {
        self.actual
    }

    /// Actual adoption period per unit (units in order of first appearance).
    pub fn cohorts(&self) -> &[Option<i64>] {
        &self.cohort
    }

    pub fn n_units(&self) -> usize {
        self.cohort.len()
    }

    fn n_treated(&self) -> usize {
        self.cohort.iter().filter(|c| c.is_some()).count()
    }

    /// Number of distinct assignments of the scheme, `None` when above `u128::MAX`.
    pub fn n_distinct(&self, scheme: PlaceboScheme) -> Option<u128> {
        let n_units = self.n_units() as u128;
        let nt = self.n_treated() as u128;
        let radix = (self.periods.len() - 1) as u128;
        let pow = |b: u128, e: u128| -> Option<u128> {
            let mut r: u128 = 1;
            for _ in 0..e {
                r = r.checked_mul(b)?;
            }
            Some(r)
        };
        match scheme {
            PlaceboScheme::Units => {
                let mut sizes: std::collections::BTreeMap<Option<i64>, u128> = Default::default();
                for c in &self.cohort {
                    *sizes.entry(*c).or_default() += 1;
                }
                let mut total: u128 = 1;
                let mut left = n_units;
                for &s in sizes.values() {
                    total = total.checked_mul(binomial(left, s)?)?;
                    left -= s;
                }
                Some(total)
            }
            PlaceboScheme::Times => pow(radix, nt),
            PlaceboScheme::Both => binomial(n_units, nt)?.checked_mul(pow(radix, nt)?),
        }
    }

    /// Adoption period per unit in replicate `r` (`None` = not treated).
    pub fn assignment(&self, scheme: PlaceboScheme, seed: u64, r: u64) -> Vec<Option<i64>> {
        let mut rng = rng::stream(seed, r);
        let t = self.periods.len();
        let draw_time = |rng: &mut ChaCha8Rng| self.periods[1 + below(rng, (t - 1) as u64)];
        match scheme {
            PlaceboScheme::Units => {
                let mut c = self.cohort.clone();
                shuffle(&mut c, &mut rng);
                c
            }
            PlaceboScheme::Times => self
                .cohort
                .iter()
                .map(|c| c.map(|_| draw_time(&mut rng)))
                .collect(),
            PlaceboScheme::Both => {
                let mut treated: Vec<bool> = self.cohort.iter().map(Option::is_some).collect();
                shuffle(&mut treated, &mut rng);
                treated
                    .into_iter()
                    .map(|tr| tr.then(|| draw_time(&mut rng)))
                    .collect()
            }
        }
    }

    /// Every distinct assignment of the scheme, in a fixed (lexicographic) order.
    pub fn all_assignments(
        &self,
        scheme: PlaceboScheme,
        cap: u128,
    ) -> Result<Vec<Vec<Option<i64>>>> {
        match self.n_distinct(scheme) {
            Some(m) if m <= cap => {}
            _ => {
                return Err(Error::Option {
                    name: "reps".into(),
                    reason: format!("too many distinct assignments to enumerate (more than {cap})"),
                })
            }
        }
        let times = &self.periods[1..];
        let cancel = Cancel::current();
        let mut out = Vec::new();
        // Every assignment is n_units long: memory grows fallibly, and the loop is cancellable.
        let mut push = |c: Vec<Option<i64>>| -> Result<()> {
            cancel.check()?;
            out.try_reserve(1).map_err(|_| Error::OutOfMemory {
                what: "placebo assignments".into(),
                bytes: (out.len() as u64 + 1).saturating_mul((c.len() * 16) as u64),
            })?;
            out.push(c);
            Ok(())
        };
        match scheme {
            PlaceboScheme::Units => {
                let mut c = self.cohort.clone();
                c.sort();
                loop {
                    push(c.clone())?;
                    if !next_permutation(&mut c) {
                        break;
                    }
                }
            }
            PlaceboScheme::Times => {
                let idx: Vec<usize> = (0..self.n_units())
                    .filter(|&u| self.cohort[u].is_some())
                    .collect();
                for_each_product(idx.len(), times.len(), |digits| {
                    let mut c = vec![None; self.n_units()];
                    for (&u, &dg) in idx.iter().zip(digits) {
                        c[u] = Some(times[dg]);
                    }
                    push(c)
                })?;
            }
            PlaceboScheme::Both => {
                let mut tr: Vec<bool> = self.cohort.iter().map(Option::is_some).collect();
                tr.sort();
                loop {
                    let idx: Vec<usize> = (0..tr.len()).filter(|&u| tr[u]).collect();
                    for_each_product(idx.len(), times.len(), |digits| {
                        let mut c = vec![None; tr.len()];
                        for (&u, &dg) in idx.iter().zip(digits) {
                            c[u] = Some(times[dg]);
                        }
                        push(c)
                    })?;
                    if !next_permutation(&mut tr) {
                        break;
                    }
                }
            }
        }
        Ok(out)
    }

    /// The DID coefficient with the treatment implied by `cohort` (one adoption period per
    /// unit). NaN when that treatment is collinear with the fixed effects and controls.
    pub fn estimate(&self, cohort: &[Option<i64>]) -> Result<f64> {
        let mut d = vec![0.0; self.n];
        self.estimate_into(cohort, &mut d)
    }

    fn estimate_into(&self, cohort: &[Option<i64>], d: &mut [f64]) -> Result<f64> {
        if cohort.len() != self.cohort.len() {
            return Err(Error::Shape(format!(
                "{} adoption periods for {} units",
                cohort.len(),
                self.cohort.len()
            )));
        }
        for ((di, &u), &t) in d.iter_mut().zip(&self.unit).zip(&self.time) {
            *di = match cohort[u as usize] {
                Some(g) if t >= g => 1.0,
                _ => 0.0,
            };
        }
        let raw = wss(d, self.weights.as_deref());
        if raw == 0.0 {
            return Ok(f64::NAN);
        }
        demean_columns(&mut [d], self.weights.as_deref(), &self.fe, &self.spec)?;
        if let Some(sw) = &self.sqrt_w {
            d.iter_mut().zip(sw).for_each(|(v, s)| *v *= s);
        }
        let zd: Vec<f64> = self.z.iter().map(|c| dot(c, d)).collect();
        let dy = dot(d, &self.y);
        let dd = dot(d, d);
        let mut num = dy;
        let mut den = dd;
        for (i, &zdi) in zd.iter().enumerate() {
            num -= zdi * self.a_zy[i];
            let s: f64 = self.a.row(i).iter().zip(&zd).map(|(a, b)| a * b).sum();
            den -= zdi * s;
        }
        // Same scale-free rule as the collinearity check of feols.
        if den.is_nan() || den <= 1e-10 * raw {
            return Ok(f64::NAN);
        }
        Ok(num / den)
    }

    /// Runs replicates `start..start + count` of `scheme` in parallel (thread-count invariant).
    /// Cancellable between replicates (`crate::interrupt`).
    pub fn run(
        &self,
        scheme: PlaceboScheme,
        seed: u64,
        start: u64,
        count: usize,
    ) -> Result<Vec<f64>> {
        let cancel = Cancel::current();
        let mut out = try_zeros::<f64>(count, "placebo estimates")?;
        out.par_iter_mut()
            .enumerate()
            .try_for_each_init(
                || vec![0.0; self.n],
                |d, (r, o)| {
                    cancel.check()?;
                    let c = self.assignment(scheme, seed, start.wrapping_add(r as u64));
                    *o = self.estimate_into(&c, d)?;
                    Ok(())
                },
            )
            .map(|()| out)
    }

    /// The estimate of every distinct assignment (exact randomization distribution).
    pub fn enumerate(&self, scheme: PlaceboScheme, cap: u128) -> Result<Vec<f64>> {
        let all = self.all_assignments(scheme, cap)?;
        let cancel = Cancel::current();
        let mut out = try_zeros::<f64>(all.len(), "placebo estimates")?;
        out.par_iter_mut()
            .zip(&all)
            .try_for_each_init(
                || vec![0.0; self.n],
                |d, (o, c)| {
                    cancel.check()?;
                    *o = self.estimate_into(c, d)?;
                    Ok(())
                },
            )
            .map(|()| out)
    }
}

/// Two-sided randomization p-value from the R finite placebo estimates, with k the number of
/// them with |placebo| >= |actual| (a relative tolerance of 1e-10 makes assignments equivalent
/// to the actual one count). Returns (p, R).
///
/// Sampled assignments (`enumerated` false): p = (1 + k) / (1 + R), counting the actual
/// assignment as one more draw of the null distribution, so that p is a valid p-value and
/// never 0 (Phipson & Smyth 2010, Stat. Appl. Genet. Mol. Biol. 9(1); Davison & Hinkley
/// 1997, section 4.2): R = 1000 with no draw as extreme gives 1/1001.
///
/// Every distinct assignment evaluated once (`enumerated` true): the actual assignment is one
/// of the R, so it is already counted in k and k / R is the exact randomization p-value.
pub fn randomization_pvalue(
    estimates: &[f64],
    actual: f64,
    enumerated: bool,
) -> Result<(f64, usize)> {
    if !actual.is_finite() {
        return Err(Error::Numerical(format!("actual estimate is {actual}")));
    }
    let thr = actual.abs() * (1.0 - 1e-10);
    let valid: Vec<f64> = estimates
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    if valid.is_empty() {
        return Err(Error::Empty(
            "placebo: every replicate's treatment was collinear with the fixed effects".into(),
        ));
    }
    let exceed = valid.iter().filter(|v| v.abs() >= thr).count();
    let p = if enumerated {
        exceed as f64 / valid.len() as f64
    } else {
        (1 + exceed) as f64 / (1 + valid.len()) as f64
    };
    Ok((p, valid.len()))
}

fn wss(x: &[f64], w: Option<&[f64]>) -> f64 {
    match w {
        Some(w) => x.iter().zip(w).map(|(v, wi)| wi * v * v).sum(),
        None => dot(x, x),
    }
}

fn binomial(n: u128, k: u128) -> Option<u128> {
    let k = k.min(n - k.min(n));
    let mut r: u128 = 1;
    for i in 0..k {
        r = r.checked_mul(n - i)? / (i + 1);
    }
    Some(r)
}

/// Next lexicographic permutation of a multiset; false after the last one.
fn next_permutation<T: Ord>(v: &mut [T]) -> bool {
    if v.len() < 2 {
        return false;
    }
    let mut i = v.len() - 1;
    while i > 0 && v[i - 1] >= v[i] {
        i -= 1;
    }
    if i == 0 {
        return false;
    }
    let mut j = v.len() - 1;
    while v[j] <= v[i - 1] {
        j -= 1;
    }
    v.swap(i - 1, j);
    v[i..].reverse();
    true
}

/// Calls `f` with every vector of `len` digits in 0..radix (mixed-radix counter); stops at
/// the first error.
fn for_each_product(
    len: usize,
    radix: usize,
    mut f: impl FnMut(&[usize]) -> Result<()>,
) -> Result<()> {
    let mut digits = vec![0usize; len];
    loop {
        f(&digits)?;
        let mut p = 0;
        loop {
            if p == len {
                return Ok(());
            }
            digits[p] += 1;
            if digits[p] < radix {
                break;
            }
            digits[p] = 0;
            p += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The toy panel as placebo input: y ~ x + d | u + t, units u, periods t.
    fn toy_data<'a>(
        y: &'a [f64],
        x: &'a [f64],
        u: &'a [i64],
        t: &'a [i64],
        d: &'a [f64],
    ) -> PlaceboData<'a> {
        PlaceboData {
            y,
            controls: vec![("x".into(), x)],
            fe: vec![("u".into(), u), ("t".into(), t)],
            weights: None,
            unit: u,
            time: t,
            treatment: ("d".into(), d),
        }
    }

    #[allow(clippy::type_complexity)]
    fn toy() -> (Vec<f64>, Vec<f64>, Vec<i64>, Vec<i64>, Vec<f64>) {
        // 6 units x 4 periods; units 0,1 treated from period 2, unit 2 from 3.
        let mut y = Vec::new();
        let mut x = Vec::new();
        let mut u = Vec::new();
        let mut t = Vec::new();
        let mut d = Vec::new();
        for i in 0..6i64 {
            for s in 0..4i64 {
                let g = match i {
                    0 | 1 => 2,
                    2 => 3,
                    _ => 99,
                };
                let di = if s >= g { 1.0 } else { 0.0 };
                let xi = ((i * 7 + s * 3) % 5) as f64 * 0.3;
                y.push(
                    0.5 * i as f64 + 0.2 * s as f64 + di + 0.4 * xi + ((i * s) % 3) as f64 * 0.1,
                );
                x.push(xi);
                u.push(i);
                t.push(s);
                d.push(di);
            }
        }
        (y, x, u, t, d)
    }

    #[test]
    fn counts_and_enumeration_agree() {
        let (y, x, u, t, d) = toy();
        let p = Placebo::new(&toy_data(&y, &x, &u, &t, &d), DemeanSpec::default()).unwrap();
        // 6! / (2! 1! 3!) = 60; times: 3^3 = 27; both: C(6,3) * 27 = 540.
        assert_eq!(p.n_distinct(PlaceboScheme::Units), Some(60));
        assert_eq!(p.n_distinct(PlaceboScheme::Times), Some(27));
        assert_eq!(p.n_distinct(PlaceboScheme::Both), Some(540));
        for s in [
            PlaceboScheme::Units,
            PlaceboScheme::Times,
            PlaceboScheme::Both,
        ] {
            let all = p.all_assignments(s, 10_000).unwrap();
            let mut uniq = all.clone();
            uniq.sort();
            uniq.dedup();
            assert_eq!(uniq.len() as u128, p.n_distinct(s).unwrap());
            assert_eq!(all.len(), uniq.len());
        }
        // The actual assignment is among the unit permutations and reproduces the estimate.
        let e = p.estimate(p.cohorts()).unwrap();
        assert!((e - p.actual()).abs() < 1e-12);
    }

    #[test]
    fn a_cancelled_token_stops_the_replicates_and_the_enumeration() {
        let (y, x, u, t, d) = toy();
        let p = Placebo::new(&toy_data(&y, &x, &u, &t, &d), DemeanSpec::default()).unwrap();
        let stop = crate::interrupt::Cancel::stale();
        let r = stop.enter(|| p.run(PlaceboScheme::Units, 1, 0, 100_000_000));
        assert_eq!(r, Err(Error::Interrupted));
        let e = stop.enter(|| p.enumerate(PlaceboScheme::Both, 10_000));
        assert_eq!(e, Err(Error::Interrupted));
        // Not cancelled: the same call runs.
        assert_eq!(p.run(PlaceboScheme::Units, 1, 0, 3).unwrap().len(), 3);
    }

    #[test]
    fn sampled_pvalue_counts_the_actual_assignment_once() {
        // R = 1000 finite draws, none as extreme as the actual estimate: (1 + 0) / (1 + 1000)
        let draws: Vec<f64> = (0..1000).map(|r| (r as f64 - 500.0) * 1e-3).collect();
        let (p, n) = randomization_pvalue(&draws, 2.0, false).unwrap();
        assert_eq!((p, n), (1.0 / 1001.0, 1000));
        // NaN draws (collinear placebo treatment) are not replicates: k = 2 of R = 3
        let (p, n) = randomization_pvalue(&[f64::NAN, 3.0, -2.0, 0.5], 2.0, false).unwrap();
        assert_eq!((p, n), (3.0 / 4.0, 3));
    }

    #[test]
    fn enumerated_pvalue_is_the_exact_share() {
        // every assignment once, the actual one (|1.0|) among them: k / R
        let (p, n) = randomization_pvalue(&[1.0, -0.5, 0.25, -1.5], 1.0, true).unwrap();
        assert_eq!((p, n), (2.0 / 4.0, 4));
    }
}

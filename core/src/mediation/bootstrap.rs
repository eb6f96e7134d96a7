//! Cluster (unit-resampling) bootstrap of indirect effects a·b.
//!
//! Replicate r draws G clusters with replacement from `rng::stream(seed, r)` (with
//! [`rng::below`]), stacks their rows, and refits, for each mediator m_j,
//! the a-path `m_j ~ d + controls | fe` and the b-path `y ~ d + m_j + controls | fe`
//! (or, with `joint`, one b-path `y ~ d + m_1 + … + m_k + controls | fe`). Fixed effects that are
//! nested in the cluster (constant within it, e.g. the unit effect when clustering by unit)
//! become distinct levels per draw; other fixed effects (year) keep their levels. Replicates run
//! in parallel (rayon) and are collected in index order, so results do not depend on threads.

use ndarray::Array2;
use rayon::prelude::*;
use statrs::distribution::{ContinuousCDF, Normal};

use crate::alloc::{elements, try_vec};
use crate::error::{Error, Result};
use crate::fe::{factorize, DemeanSpec};
use crate::interrupt::Cancel;
use crate::linalg::quantile_type7;
use crate::linear::{feols, FeolsFit, FeolsInput, FeolsSpec, VcovRequest};
use crate::rng::{self, below};

/// Complete rows only (the caller drops incomplete rows, as the point fits do).
#[derive(Debug, Clone)]
pub struct BootInput<'a> {
    pub y: &'a [f64],
    pub d: &'a [f64],
    pub mediators: Vec<(String, &'a [f64])>,
    pub controls: Vec<(String, &'a [f64])>,
    pub fe: Vec<(String, &'a [i64])>,
    pub cluster: &'a [i64],
}

#[derive(Debug, Clone)]
pub struct BootOutput {
    /// reps × k: a-path per replicate and mediator (NaN when the replicate failed).
    pub a: Array2<f64>,
    /// reps × k: b-path per replicate and mediator.
    pub b: Array2<f64>,
    /// Replicates in which some regression could not be estimated (collinear draw etc.).
    pub n_failed: usize,
}

fn coef(fit: &crate::linear::FeolsFit, name: &str) -> f64 {
    fit.coefnames
        .iter()
        .position(|c| c == name)
        .map_or(f64::NAN, |i| fit.beta[i])
}

/// Bootstrap draws of the a- and b-paths (see the module docs).
pub fn bootstrap_indirect(
    input: &BootInput,
    reps: usize,
    seed: u64,
    joint: bool,
    demean: &DemeanSpec,
) -> Result<BootOutput> {
    bootstrap_indirect_range(input, reps, 0..reps, seed, joint, demean)
}

/// Replicates `range` (a chunk of `0..reps`) of [`bootstrap_indirect`]: row i is replicate
/// `range.start + i`, drawn from stream (seed, r) whatever the chunk, so chunks computed
/// elsewhere (an executor) and stacked in replicate order by [`boot_from_draws`] equal the
/// whole run bit for bit.
pub fn bootstrap_indirect_range(
    input: &BootInput,
    reps: usize,
    range: std::ops::Range<usize>,
    seed: u64,
    joint: bool,
    demean: &DemeanSpec,
) -> Result<BootOutput> {
    let n = input.y.len();
    let k = input.mediators.len();
    if k == 0 {
        return Err(Error::Option {
            name: "mediators".into(),
            reason: "at least one mediator is required".into(),
        });
    }
    let lens_ok = input.d.len() == n
        && input.cluster.len() == n
        && input.mediators.iter().all(|(_, m)| m.len() == n)
        && input.controls.iter().all(|(_, c)| c.len() == n)
        && input.fe.iter().all(|(_, f)| f.len() == n);
    if !lens_ok {
        return Err(Error::Shape("bootstrap columns differ in length".into()));
    }
    if reps == 0 {
        return Err(Error::Option {
            name: "reps".into(),
            reason: "must be at least 1".into(),
        });
    }
    if range.start > range.end || range.end > reps {
        return Err(Error::Option {
            name: "reps".into(),
            reason: format!(
                "replicates {}..{} are not a chunk of 0..{reps}",
                range.start, range.end
            ),
        });
    }
    let cl = factorize(input.cluster)?;
    let g = cl.n_levels();
    if g < 2 {
        return Err(Error::Column {
            name: "cluster".into(),
            reason: "fewer than two clusters: cannot resample clusters".into(),
        });
    }
    let mut rows_of: Vec<Vec<usize>> = vec![Vec::new(); g];
    for (i, &c) in cl.codes.iter().enumerate() {
        rows_of[c as usize].push(i);
    }
    // Fixed effects: factorized codes, and whether nested in the cluster.
    let fe_codes: Vec<(Vec<u32>, usize, bool)> = input
        .fe
        .iter()
        .map(|(_, f)| {
            let fz = factorize(f)?;
            let nested = rows_of
                .iter()
                .all(|rows| rows.iter().all(|&i| fz.codes[i] == fz.codes[rows[0]]));
            let nl = fz.n_levels();
            Ok((fz.codes, nl, nested))
        })
        .collect::<Result<_>>()?;
    let spec = FeolsSpec {
        drop_singletons: false,
        vcov: VcovRequest::Iid,
        demean: *demean,
        ..FeolsSpec::default()
    };

    let cancel = Cancel::current();
    // A failed refit is a NaN draw, except cancellation and memory exhaustion, which stop.
    let usable = |r: Result<FeolsFit>| -> Result<Option<FeolsFit>> {
        match r {
            Ok(f) => Ok(Some(f)),
            Err(e @ (Error::Interrupted | Error::OutOfMemory { .. })) => Err(e),
            Err(_) => Ok(None),
        }
    };
    let one = |r: usize| -> Result<(Vec<f64>, Vec<f64>)> {
        cancel.check()?;
        let mut rng = rng::stream(seed, r as u64);
        let draws: Vec<usize> = (0..g).map(|_| below(&mut rng, g as u64)).collect();
        let mut idx = Vec::with_capacity(n);
        let mut draw_of = Vec::with_capacity(n);
        for (j, &c) in draws.iter().enumerate() {
            for &i in &rows_of[c] {
                idx.push(i);
                draw_of.push(j);
            }
        }
        let take = |v: &[f64]| -> Vec<f64> { idx.iter().map(|&i| v[i]).collect() };
        let y = take(input.y);
        let d = take(input.d);
        let ms: Vec<Vec<f64>> = input.mediators.iter().map(|(_, m)| take(m)).collect();
        let cs: Vec<Vec<f64>> = input.controls.iter().map(|(_, c)| take(c)).collect();
        let fes: Vec<Vec<i64>> = fe_codes
            .iter()
            .map(|(codes, nl, nested)| {
                idx.iter()
                    .zip(&draw_of)
                    .map(|(&i, &j)| {
                        if *nested {
                            (j * nl + codes[i] as usize) as i64
                        } else {
                            codes[i] as i64
                        }
                    })
                    .collect()
            })
            .collect();
        let clus: Vec<i64> = draw_of.iter().map(|&j| j as i64).collect();
        let mut a = vec![f64::NAN; k];
        let mut b = vec![f64::NAN; k];
        fn base_x<'s>(
            d: &'s [f64],
            cs: &'s [Vec<f64>],
            extra: Vec<(String, &'s [f64])>,
        ) -> Vec<(String, &'s [f64])> {
            let mut x: Vec<(String, &'s [f64])> = vec![("__d".to_string(), d)];
            x.extend(extra);
            for (j, c) in cs.iter().enumerate() {
                x.push((format!("__c{j}"), c.as_slice()));
            }
            x
        }
        let fe_in: Vec<(String, &[i64])> = fes
            .iter()
            .enumerate()
            .map(|(q, f)| (format!("__fe{q}"), f.as_slice()))
            .collect();
        let fit = |yv: &[f64], x: Vec<(String, &[f64])>| {
            feols(
                &FeolsInput {
                    y: ("__y".into(), yv),
                    x,
                    fe: fe_in.clone(),
                    clusters: vec![("__cl".into(), clus.as_slice())],
                    weights: None,
                    valid: None,
                },
                &spec,
            )
        };
        for j in 0..k {
            if let Some(f) = usable(fit(&ms[j], base_x(&d, &cs, vec![])))? {
                a[j] = coef(&f, "__d");
            }
            if !joint {
                if let Some(f) = usable(fit(
                    &y,
                    base_x(&d, &cs, vec![(format!("__m{j}"), ms[j].as_slice())]),
                ))? {
                    b[j] = coef(&f, &format!("__m{j}"));
                }
            }
        }
        if joint {
            let extra = ms
                .iter()
                .enumerate()
                .map(|(j, m)| (format!("__m{j}"), m.as_slice()))
                .collect();
            if let Some(f) = usable(fit(&y, base_x(&d, &cs, extra)))? {
                for (j, bj) in b.iter_mut().enumerate() {
                    *bj = coef(&f, &format!("__m{j}"));
                }
            }
        }
        Ok((a, b))
    };
    // Draws stored in place, m x k row-major (fallible: reps is the user's); k >= 1.
    let m = range.len();
    let len = elements(m, k, "mediation bootstrap draws (reps x mediators)")?;
    let mut a = try_vec(len, f64::NAN, "mediation bootstrap draws")?;
    let mut b = try_vec(len, f64::NAN, "mediation bootstrap draws")?;
    a.par_chunks_mut(k)
        .zip(b.par_chunks_mut(k))
        .enumerate()
        .try_for_each(|(i, (ar, br))| {
            let (x, y) = one(range.start + i)?;
            ar.copy_from_slice(&x);
            br.copy_from_slice(&y);
            Ok::<(), Error>(())
        })?;
    boot_from_draws(a, b, k)
}

/// The bootstrap output of stacked draws (replicates x k, row-major, in replicate order):
/// chunks computed on an executor and concatenated give the whole run's output, the count
/// of failed replicates included (a replicate fails when any of its paths is not finite).
pub fn boot_from_draws(a: Vec<f64>, b: Vec<f64>, k: usize) -> Result<BootOutput> {
    if k == 0 || a.len() != b.len() || a.len() % k != 0 {
        return Err(Error::Shape(format!(
            "mediation bootstrap draws: {} a-path and {} b-path values for {k} mediators",
            a.len(),
            b.len()
        )));
    }
    let reps = a.len() / k;
    let n_failed = a
        .chunks(k)
        .zip(b.chunks(k))
        .filter(|(ar, br)| ar.iter().chain(br.iter()).any(|v| !v.is_finite()))
        .count();
    let shape = |v| {
        Array2::from_shape_vec((reps, k), v)
            .map_err(|e| Error::Internal(format!("mediation draws: {e}")))
    };
    Ok(BootOutput {
        a: shape(a)?,
        b: shape(b)?,
        n_failed,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiMethod {
    Percentile,
    BiasCorrected,
}

impl CiMethod {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "percentile" => Ok(Self::Percentile),
            "bc" => Ok(Self::BiasCorrected),
            other => Err(Error::Option {
                name: "ci".into(),
                reason: format!("'{other}' is not one of 'percentile', 'bc'"),
            }),
        }
    }
}

/// Percentile or bias-corrected (Efron 1981) interval of bootstrap draws at `level`.
/// Non-finite draws are ignored (the caller reports how many failed).
pub fn bootstrap_ci(
    draws: &[f64],
    estimate: f64,
    level: f64,
    method: CiMethod,
) -> Result<(f64, f64)> {
    if !(level > 0.0 && level < 1.0) {
        return Err(Error::Option {
            name: "level".into(),
            reason: format!("{level} is not in (0, 1)"),
        });
    }
    let mut s: Vec<f64> = draws.iter().copied().filter(|v| v.is_finite()).collect();
    if s.len() < 2 {
        return Err(Error::Empty(
            "fewer than two successful bootstrap replicates".into(),
        ));
    }
    s.sort_by(f64::total_cmp);
    let alpha = 1.0 - level;
    let (plo, phi) = match method {
        CiMethod::Percentile => (alpha / 2.0, 1.0 - alpha / 2.0),
        CiMethod::BiasCorrected => {
            let nrm = Normal::new(0.0, 1.0).map_err(|e| Error::Numerical(e.to_string()))?;
            let below = s.iter().filter(|&&v| v < estimate).count() as f64;
            let ties = s.iter().filter(|&&v| v == estimate).count() as f64;
            let share = (below + 0.5 * ties) / s.len() as f64;
            let share = share.clamp(0.5 / s.len() as f64, 1.0 - 0.5 / s.len() as f64);
            let z0 = nrm.inverse_cdf(share);
            let zl = nrm.inverse_cdf(alpha / 2.0);
            (nrm.cdf(2.0 * z0 + zl), nrm.cdf(2.0 * z0 - zl))
        }
    };
    Ok((quantile_type7(&s, plo), quantile_type7(&s, phi)))
}

#[cfg(test)]
mod unit {
    use super::*;

    /// Chunks computed separately and stacked in replicate order equal the whole run bit for
    /// bit (draws and failed count): the contract of the executor path.
    #[test]
    fn chunks_stack_to_the_whole_run() {
        let (g, t) = (12usize, 5usize);
        let n = g * t;
        let unit: Vec<i64> = (0..n).map(|i| (i / t) as i64).collect();
        let year: Vec<i64> = (0..n).map(|i| (i % t) as i64).collect();
        let d: Vec<f64> = (0..n)
            .map(|i| f64::from(u8::from(i / t < g / 2 && i % t >= 2)))
            .collect();
        // deterministic, irregular values (no RNG needed for the data)
        let m: Vec<f64> = (0..n)
            .map(|i| 0.5 * d[i] + ((i * 7919) % 97) as f64 / 97.0)
            .collect();
        let y: Vec<f64> = (0..n)
            .map(|i| 0.4 * m[i] + 0.3 * d[i] + ((i * 104_729) % 89) as f64 / 89.0)
            .collect();
        let input = BootInput {
            y: &y,
            d: &d,
            mediators: vec![("m".into(), &m)],
            controls: vec![],
            fe: vec![("unit".into(), &unit), ("year".into(), &year)],
            cluster: &unit,
        };
        let spec = DemeanSpec {
            tol: 1e-11,
            max_iter: 10_000,
        };
        let whole = bootstrap_indirect(&input, 9, 3, false, &spec).unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for r in [0..2, 2..7, 7..9] {
            let part = bootstrap_indirect_range(&input, 9, r, 3, false, &spec).unwrap();
            a.extend(part.a.iter().copied());
            b.extend(part.b.iter().copied());
        }
        let joined = boot_from_draws(a, b, 1).unwrap();
        assert_eq!(joined.a, whole.a);
        assert_eq!(joined.b, whole.b);
        assert_eq!(joined.n_failed, whole.n_failed);
        assert!(whole.a.iter().all(|v| v.is_finite()));
        assert!(bootstrap_indirect_range(&input, 9, 8..10, 3, false, &spec).is_err());
    }

    #[test]
    fn percentile_of_uniform_grid() {
        let d: Vec<f64> = (0..=100).map(f64::from).collect();
        let (lo, hi) = bootstrap_ci(&d, 50.0, 0.9, CiMethod::Percentile).unwrap();
        assert!((lo - 5.0).abs() < 1e-12 && (hi - 95.0).abs() < 1e-12);
        // symmetric draws around the estimate: bias correction changes nothing
        let (lo2, hi2) = bootstrap_ci(&d, 50.0, 0.9, CiMethod::BiasCorrected).unwrap();
        assert!((lo2 - 5.0).abs() < 1e-9 && (hi2 - 95.0).abs() < 1e-9);
    }
}

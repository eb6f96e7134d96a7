//! Standard errors of synthetic DID, as R `synthdid` 0.0.9 (`R/vcov.R`) computes them, one
//! replicate per (seed, r) stream so that the thread count never changes a number:
//! - placebo (`placebo_se`, Algorithm 4): permute the never-treated units; the last N_tr become
//!   pseudo-treated (cohort by cohort, in the cohorts' sizes) and the estimator is re-run on the
//!   controls alone, starting from the fitted weights (omega renormalised over the placebo
//!   controls) with the original zeta and stopping rule;
//! - bootstrap (`bootstrap_se`, Algorithm 2): resample units with replacement (sorted, so the
//!   controls come first as in R), redraw when no control or no treated unit is drawn, re-run;
//! - jackknife (`jackknife_se`, Algorithm 3): leave one unit out, keep lambda and omega fixed
//!   (omega renormalised over the remaining controls); covariate coefficients are re-solved.
//!
//! Placebo and bootstrap SEs are sqrt((B - 1) / B) sd(draws); the jackknife's
//! sqrt((n - 1) / n * sum (u - mean u)^2).

use super::block::{self, Block, Fit, Wide};
use super::{summarise, Design};
use crate::error::{Error, Result};
use crate::interrupt::Cancel;
use crate::rng::{below, shuffle, Streams};
use rayon::prelude::*;

/// The variance estimator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vcov {
    Placebo,
    Bootstrap,
    Jackknife,
    /// The jackknife with the cohort aggregation weights held at the full sample's
    /// (N_tr^a x T_post^a): the variance of the estimate conditional on the adoption design,
    /// for which Arkhangelsky et al. (2021, Appendix A) define the staggered estimand. R's
    /// (and synthdid-py's) jackknife recomputes the weights from the leave-one-out cohort
    /// sizes and so adds the variance of the cohort mix when cohort effects differ.
    JackknifeFixedDesign,
    /// no standard errors (NaN)
    None,
}

/// One row per replicate: [overall, per cohort..., per event time...] (see `summarise`).
pub(crate) fn replicate(
    w: &Wide<'_>,
    design: &Design,
    fits: &[Fit],
    vcov: Vcov,
    reps: usize,
    seed: u64,
) -> Result<Vec<Vec<f64>>> {
    let n_tr: usize = design.cohorts.iter().map(|(_, t)| t.len()).sum();
    let n_c = design.controls.len();
    if matches!(vcov, Vcov::Placebo | Vcov::Bootstrap) && reps < 2 {
        return Err(Error::Option {
            name: "reps".into(),
            reason: format!("{vcov:?} standard errors need at least 2 replicates, got {reps}")
                .to_lowercase(),
        });
    }
    let cancel = Cancel::current();
    match vcov {
        Vcov::None => Ok(Vec::new()),
        Vcov::Placebo => {
            if n_c <= n_tr {
                return Err(Error::Option {
                    name: "vcov".into(),
                    reason: format!(
                        "placebo standard errors need more never-treated units ({n_c}) than treated units ({n_tr})"
                    ),
                });
            }
            let streams = Streams::new(seed);
            (0..reps)
                .into_par_iter()
                .map(|r| {
                    cancel.check()?;
                    let mut rng = streams.stream(r as u64);
                    let mut perm: Vec<usize> = (0..n_c).collect();
                    shuffle(&mut perm, &mut rng);
                    let keep = &perm[..n_c - n_tr];
                    let controls: Vec<usize> = keep.iter().map(|&p| design.controls[p]).collect();
                    let mut next = n_c - n_tr;
                    let mut per = Vec::with_capacity(design.cohorts.len());
                    for (g, (a, treated)) in design.cohorts.iter().enumerate() {
                        let pseudo: Vec<usize> = perm[next..next + treated.len()]
                            .iter()
                            .map(|&p| design.controls[p])
                            .collect();
                        next += treated.len();
                        let b = Block {
                            controls: &controls,
                            treated: &pseudo,
                            t0: *a,
                        };
                        let o = block::omega_subset(&fits[g].omega, keep);
                        let f = block::fit(
                            w,
                            &b,
                            &design.opts[g],
                            Some(o),
                            Some(fits[g].lambda.clone()),
                        );
                        per.push(block::effects(w, &b, &f));
                    }
                    Ok(summarise(design, &per, |g| {
                        design.cohorts[g].1.len() as f64
                    }))
                })
                .collect()
        }
        Vcov::Bootstrap => {
            if n_tr < 2 {
                return Err(Error::Option {
                    name: "vcov".into(),
                    reason: "bootstrap standard errors need at least two treated units (R synthdid returns NA with one); use vcov='placebo'".into(),
                });
            }
            // pool: controls (positions 0..n_c), then each cohort's units
            let mut owner = vec![usize::MAX; n_c];
            let mut pool = design.controls.clone();
            for (g, (_, t)) in design.cohorts.iter().enumerate() {
                pool.extend(t);
                owner.extend(std::iter::repeat(g).take(t.len()));
            }
            let n = pool.len();
            let streams = Streams::new(seed);
            (0..reps)
                .into_par_iter()
                .map(|r| {
                    cancel.check()?;
                    let mut rng = streams.stream(r as u64);
                    let mut draw = vec![0usize; n];
                    let mut tries = 0;
                    loop {
                        draw.iter_mut().for_each(|d| *d = below(&mut rng, n as u64));
                        let nc = draw.iter().filter(|&&d| d < n_c).count();
                        if nc > 0 && nc < n {
                            break;
                        }
                        tries += 1;
                        if tries > 10_000 {
                            return Err(Error::Numerical(
                                "synthdid bootstrap: no draw with both treated and control units in 10,000 tries".into(),
                            ));
                        }
                    }
                    draw.sort_unstable();
                    let pos: Vec<usize> = draw.iter().copied().filter(|&d| d < n_c).collect();
                    let controls: Vec<usize> = pos.iter().map(|&p| pool[p]).collect();
                    let mut sizes = vec![0.0; design.cohorts.len()];
                    let mut per = Vec::with_capacity(design.cohorts.len());
                    for (g, (a, _)) in design.cohorts.iter().enumerate() {
                        let treated: Vec<usize> = draw
                            .iter()
                            .filter(|&&d| d >= n_c && owner[d] == g)
                            .map(|&d| pool[d])
                            .collect();
                        sizes[g] = treated.len() as f64;
                        if treated.is_empty() {
                            per.push((f64::NAN, Vec::new()));
                            continue;
                        }
                        let b = Block {
                            controls: &controls,
                            treated: &treated,
                            t0: *a,
                        };
                        let o = block::omega_subset(&fits[g].omega, &pos);
                        let f = block::fit(w, &b, &design.opts[g], Some(o), Some(fits[g].lambda.clone()));
                        per.push(block::effects(w, &b, &f));
                    }
                    Ok(summarise(design, &per, |g| sizes[g]))
                })
                .collect()
        }
        Vcov::Jackknife | Vcov::JackknifeFixedDesign => {
            let fixed_design = vcov == Vcov::JackknifeFixedDesign;
            for ((a, t), f) in design.cohorts.iter().zip(fits) {
                if t.len() < 2 {
                    return Err(Error::Option {
                        name: "vcov".into(),
                        reason: format!("jackknife standard errors need at least two treated units per cohort (the cohort adopting in {} has one); use vcov='placebo'", design.labels[*a]),
                    });
                }
                if f.omega.iter().filter(|&&o| o != 0.0).count() == 1 {
                    return Err(Error::Option {
                        name: "vcov".into(),
                        reason: format!("jackknife standard errors are undefined when one control carries all the unit weight (cohort adopting in {}); use vcov='placebo'", design.labels[*a]),
                    });
                }
            }
            let mut fixed: Vec<_> = design.opts.clone();
            fixed.iter_mut().for_each(|o| {
                o.update_omega = false;
                o.update_lambda = false;
            });
            let n = n_c + n_tr;
            (0..n)
                .into_par_iter()
                .map(|u| {
                    cancel.check()?;
                    let keep: Vec<usize> = (0..n_c).filter(|&p| p != u).collect();
                    let controls: Vec<usize> = keep.iter().map(|&p| design.controls[p]).collect();
                    let mut per = Vec::with_capacity(design.cohorts.len());
                    let mut sizes = Vec::with_capacity(design.cohorts.len());
                    let mut offset = n_c;
                    for (g, (a, t)) in design.cohorts.iter().enumerate() {
                        let treated: Vec<usize> = t
                            .iter()
                            .enumerate()
                            .filter(|(k, _)| offset + k != u)
                            .map(|(_, &i)| i)
                            .collect();
                        offset += t.len();
                        sizes.push(treated.len() as f64);
                        let b = Block {
                            controls: &controls,
                            treated: &treated,
                            t0: *a,
                        };
                        let o = block::omega_subset(&fits[g].omega, &keep);
                        let f = block::fit(w, &b, &fixed[g], Some(o), Some(fits[g].lambda.clone()));
                        per.push(block::effects(w, &b, &f));
                    }
                    // A left-out treated unit keeps its cohort's full-sample weight under
                    // the fixed design (a cohort always keeps at least one unit here).
                    Ok(summarise(design, &per, |g| {
                        if fixed_design {
                            design.cohorts[g].1.len() as f64
                        } else {
                            sizes[g]
                        }
                    }))
                })
                .collect()
        }
    }
}

/// Standard error of every column of the replicate rows (NaN values, absent cohorts, skipped).
pub(crate) fn std_errors(draws: &[Vec<f64>], vcov: Vcov, width: usize) -> Vec<f64> {
    (0..width)
        .map(|j| {
            let v: Vec<f64> = draws
                .iter()
                .map(|d| d[j])
                .filter(|x| x.is_finite())
                .collect();
            let n = v.len() as f64;
            if vcov == Vcov::None || v.len() < 2 {
                return f64::NAN;
            }
            let m = v.iter().sum::<f64>() / n;
            let ss: f64 = v.iter().map(|x| (x - m) * (x - m)).sum();
            match vcov {
                Vcov::Jackknife | Vcov::JackknifeFixedDesign => ((n - 1.0) / n * ss).sqrt(),
                _ => (ss / n).sqrt(),
            }
        })
        .collect()
}

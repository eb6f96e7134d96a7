//! Cluster bootstrap of the de Chaisemartin–D'Haultfœuille DID_l estimator (`super::dcdh`), as
//! the reference's `bootstrap(reps, seed)` (R/Stata `did_multiplegt_dyn`; `moderndid` 0.4.1's
//! `did_multiplegt(boot=True)`):
//!
//! - each replicate draws as many clusters as there are (units without `cluster`), uniformly
//!   with replacement; every copy of a drawn cluster enters with its own units (a cluster drawn
//!   twice gives two sets of units, not units with two rows per period);
//! - the whole estimator (sample preparation included: switching dates, baseline classes, the
//!   control pools, the controls' θ_d) is re-run on the draw, which estimates the effects and
//!   placebos its own switchers reach (the others are missing in that draw);
//! - a draw in which no effect can be estimated (no switcher with a not-yet-switched comparison,
//!   no positive weight, …) has no estimates and is left out, not redrawn (as the reference);
//! - SE = standard deviation (n − 1) of the draws that have the estimate, for every effect,
//!   placebo and the average total effect.
//!
//! Replicate r draws from `rng::stream(seed, r)` with [`below`], so the numbers do not depend on
//! rayon's scheduling or the number of threads.

use rayon::prelude::*;

use super::dcdh::{dcdh_points, DcdhInput, DcdhSpec, DrawEstimates};
use crate::alloc::{elements, try_vec};
use crate::error::{Error, Result};
use crate::interrupt::Cancel;
use crate::rng::{below, Streams};

/// Bootstrap draws and standard errors.
#[derive(Debug, Clone)]
pub struct DcdhBoot {
    pub reps: usize,
    /// reps × effects (row-major), NaN where a draw did not reach the effect.
    pub effects: Vec<f64>,
    /// reps × placebos (row-major).
    pub placebos: Vec<f64>,
    /// Average total effect of each draw (NaN if none).
    pub ate: Vec<f64>,
    pub effects_se: Vec<f64>,
    pub placebos_se: Vec<f64>,
    /// None with trends_lin (no average total effect).
    pub ate_se: Option<f64>,
    /// Draws with no estimable effect (left out of every SE).
    pub n_failed: usize,
    /// Per draw: it had no estimable effect.
    pub failed: Vec<bool>,
    pub n_clusters: usize,
}

/// Sample standard deviation (n − 1) of the finite values; NaN with fewer than two.
fn sd(values: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = values.filter(|x| !x.is_nan()).collect();
    if v.len() < 2 {
        return f64::NAN;
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0)).sqrt()
}

/// Column standard deviations of a reps × k row-major matrix.
fn column_sd(m: &[f64], reps: usize, k: usize) -> Vec<f64> {
    (0..k)
        .map(|c| sd((0..reps).map(|r| m[r * k + c])))
        .collect()
}

/// The rows of one draw: every row of every unit of every drawn cluster, each copy of a
/// cluster with fresh unit codes (copy j's units come after copy j − 1's, in unit order).
struct Layout {
    /// Units of each cluster (sorted unit codes).
    units_of: Vec<Vec<u32>>,
    /// Rows of each unit.
    rows_of: Vec<Vec<usize>>,
}

impl Layout {
    fn new(unit: &[u32], cluster: Option<&[u32]>) -> Result<Self> {
        let n_units = unit.iter().map(|&u| u as usize + 1).max().unwrap_or(0);
        let mut rows_of: Vec<Vec<usize>> = vec![Vec::new(); n_units];
        for (i, &u) in unit.iter().enumerate() {
            rows_of[u as usize].push(i);
        }
        // dense cluster codes over the clusters present (unit codes without a cluster)
        let mut unit_cluster: Vec<Option<u32>> = vec![None; n_units];
        for (i, &u) in unit.iter().enumerate() {
            let c = cluster.map_or(u, |c| c[i]);
            match unit_cluster[u as usize] {
                Some(p) if p != c => {
                    return Err(Error::Internal(
                        "dcdh bootstrap: a unit belongs to two clusters".into(),
                    ))
                }
                _ => unit_cluster[u as usize] = Some(c),
            }
        }
        let mut labels: Vec<u32> = unit_cluster.iter().flatten().copied().collect();
        labels.sort_unstable();
        labels.dedup();
        let mut units_of: Vec<Vec<u32>> = vec![Vec::new(); labels.len()];
        for (u, c) in unit_cluster.iter().enumerate() {
            if let Some(c) = c {
                if let Ok(k) = labels.binary_search(c) {
                    units_of[k].push(u as u32);
                }
            }
        }
        Ok(Self { units_of, rows_of })
    }

    /// Row indices and fresh unit codes of the draw `clusters`.
    fn draw(&self, clusters: &[usize]) -> (Vec<usize>, Vec<u32>) {
        let mut idx = Vec::new();
        let mut codes = Vec::new();
        let mut next = 0u32;
        for &c in clusters {
            for &u in &self.units_of[c] {
                for &i in &self.rows_of[u as usize] {
                    idx.push(i);
                    codes.push(next);
                }
                next += 1;
            }
        }
        (idx, codes)
    }
}

/// Cluster bootstrap of `dcdh` with `reps` replicates seeded by `seed` (see the module doc).
pub fn dcdh_bootstrap(
    input: &DcdhInput,
    spec: &DcdhSpec,
    reps: usize,
    seed: u64,
) -> Result<DcdhBoot> {
    dcdh_bootstrap_range(input, spec, reps, 0..reps, seed)
}

/// Replicates `range` (a chunk of `0..reps`) of [`dcdh_bootstrap`]: the same draws as the
/// whole run has in those rows (replicate r uses stream (seed, r) whatever the chunk), with
/// SEs over the chunk's draws only. Chunks run elsewhere (an executor) are joined by
/// [`dcdh_boot_from_draws`], which gives the whole run's numbers bit for bit.
pub fn dcdh_bootstrap_range(
    input: &DcdhInput,
    spec: &DcdhSpec,
    reps: usize,
    range: std::ops::Range<usize>,
    seed: u64,
) -> Result<DcdhBoot> {
    if range.end > reps || range.start > range.end {
        return Err(Error::Option {
            name: "reps".into(),
            reason: format!(
                "replicates {}..{} are not a chunk of 0..{reps}",
                range.start, range.end
            ),
        });
    }
    if reps < 2 {
        return Err(Error::Option {
            name: "reps".into(),
            reason: format!("{reps} replicates: the bootstrap needs at least 2"),
        });
    }
    let layout = Layout::new(input.unit, input.cluster)?;
    let n_c = layout.units_of.len();
    if n_c == 0 {
        return Err(Error::Empty("the bootstrap has no cluster to draw".into()));
    }
    let (ke, kp) = (spec.effects, spec.placebo);
    let m = range.len();
    // the stored draws: check the memory before allocating
    elements(m, ke + kp + 1, "dcdh bootstrap draws")?;
    let cancel = Cancel::current();
    let streams = Streams::new(seed);
    let one = |r: usize| -> Result<Option<DrawEstimates>> {
        cancel.check()?;
        let mut rng = streams.stream(r as u64);
        let clusters: Vec<usize> = (0..n_c).map(|_| below(&mut rng, n_c as u64)).collect();
        let (idx, unit) = layout.draw(&clusters);
        let take = |v: &[f64]| -> Vec<f64> { idx.iter().map(|&i| v[i]).collect() };
        let y = take(input.y);
        let d = take(input.treatment);
        let time: Vec<i64> = idx.iter().map(|&i| input.time[i]).collect();
        let w = input.weights.map(take);
        let xs: Vec<Vec<f64>> = input.controls.iter().map(|(_, c)| take(c)).collect();
        let tg: Option<Vec<u32>> = input
            .trend_group
            .map(|t| idx.iter().map(|&i| t[i]).collect());
        let draw = DcdhInput {
            y: &y,
            time: &time,
            unit: &unit,
            treatment: &d,
            weights: w.as_deref(),
            // point estimates do not use the clusters
            cluster: None,
            controls: input
                .controls
                .iter()
                .zip(&xs)
                .map(|((n, _), x)| (n.clone(), x.as_slice()))
                .collect(),
            trend_group: tg.as_deref(),
            names: input.names.clone(),
        };
        match dcdh_points(&draw, spec) {
            Ok(e) => Ok(e),
            // stop on cancellation, memory exhaustion and bugs; any other failure is a draw
            // whose sample cannot be estimated (e.g. no switcher left), left out as no effect
            Err(e @ (Error::Interrupted | Error::OutOfMemory { .. } | Error::Internal(_))) => {
                Err(e)
            }
            Err(_) => Ok(None),
        }
    };
    let draws: Vec<Option<DrawEstimates>> =
        range.into_par_iter().map(one).collect::<Result<_>>()?;
    let mut effects = try_vec(m * ke, f64::NAN, "dcdh bootstrap draws")?;
    let mut placebos = try_vec(m * kp, f64::NAN, "dcdh bootstrap draws")?;
    let mut ate = vec![f64::NAN; m];
    let mut failed = vec![false; m];
    for (r, d) in draws.iter().enumerate() {
        match d {
            None => failed[r] = true,
            Some(d) => {
                effects[r * ke..(r + 1) * ke].copy_from_slice(&d.effects);
                placebos[r * kp..(r + 1) * kp].copy_from_slice(&d.placebos);
                ate[r] = d.ate.unwrap_or(f64::NAN);
            }
        }
    }
    dcdh_boot_from_draws(
        BootDraws {
            effects,
            placebos,
            ate,
            failed,
        },
        ke,
        kp,
        spec.trends_lin,
        n_c,
    )
}

/// The draws of some replicates, row-major (see [`DcdhBoot`]); `failed[r]`: draw r had no
/// estimable effect.
#[derive(Debug, Clone)]
pub struct BootDraws {
    pub effects: Vec<f64>,
    pub placebos: Vec<f64>,
    pub ate: Vec<f64>,
    pub failed: Vec<bool>,
}

/// The bootstrap summary (SDs over the draws that have each estimate) of draws computed in
/// chunks and stacked in replicate order: the whole run's numbers when the chunks cover it.
pub fn dcdh_boot_from_draws(
    draws: BootDraws,
    ke: usize,
    kp: usize,
    trends_lin: bool,
    n_clusters: usize,
) -> Result<DcdhBoot> {
    let reps = draws.failed.len();
    if draws.effects.len() != reps * ke
        || draws.placebos.len() != reps * kp
        || draws.ate.len() != reps
    {
        return Err(Error::Shape(format!(
            "bootstrap draws: {} effects, {} placebos, {} ATEs for {reps} replicates of {ke} \
             effects and {kp} placebos",
            draws.effects.len(),
            draws.placebos.len(),
            draws.ate.len()
        )));
    }
    let BootDraws {
        effects,
        placebos,
        ate,
        failed,
    } = draws;
    Ok(DcdhBoot {
        reps,
        effects_se: column_sd(&effects, reps, ke),
        placebos_se: column_sd(&placebos, reps, kp),
        ate_se: (!trends_lin).then(|| sd(ate.iter().copied())),
        effects,
        placebos,
        ate,
        n_failed: failed.iter().filter(|&&f| f).count(),
        failed,
        n_clusters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::did::dcdh::{dcdh, Switchers};
    use rand::RngExt;

    /// y, time, unit, treatment, control, cluster.
    type Columns = (Vec<f64>, Vec<i64>, Vec<u32>, Vec<f64>, Vec<f64>, Vec<u32>);

    /// `n_units` × 8 periods, a discrete treatment with staggered switches up and down.
    fn panel(seed: u64, n_units: u32) -> Columns {
        let mut rng = crate::rng::stream(seed, 0);
        let (mut y, mut t, mut u, mut d, mut x, mut c) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        for i in 0..n_units {
            let base = below(&mut rng, 3) as f64;
            let first = 2 + below(&mut rng, 9) as i64;
            let new = if below(&mut rng, 2) == 0 {
                base + 1.0
            } else {
                (base - 1.0).abs() + 0.5
            };
            let a: f64 = rng.random::<f64>();
            for p in 1..=8i64 {
                let dv = if p >= first { new } else { base };
                u.push(i);
                t.push(2000 + p);
                d.push(dv);
                x.push(rng.random::<f64>());
                y.push(a + 0.2 * p as f64 + dv + rng.random::<f64>());
                c.push(i % 7);
            }
        }
        (y, t, u, d, x, c)
    }

    fn spec(effects: usize, placebo: usize) -> DcdhSpec {
        DcdhSpec {
            effects,
            placebo,
            switchers: Switchers::Both,
            normalized: false,
            only_never_switchers: false,
            same_switchers: false,
            same_switchers_pl: false,
            trends_lin: false,
            less_conservative_se: false,
        }
    }

    fn names() -> [String; 6] {
        ["y", "t", "u", "d", "", "c"].map(String::from)
    }

    /// A draw's estimates are the full estimator's on the drawn rows (point-only passes and
    /// the horizon clamping change nothing when the draw reaches every horizon).
    #[test]
    fn draws_are_the_full_estimator_on_the_drawn_sample() {
        let (y, t, u, d, x, _) = panel(3, 60);
        let input = DcdhInput {
            y: &y,
            time: &t,
            unit: &u,
            treatment: &d,
            weights: None,
            cluster: None,
            controls: vec![("x".into(), x.as_slice())],
            trend_group: None,
            names: names(),
        };
        let sp = spec(2, 1);
        let boot = dcdh_bootstrap(&input, &sp, 5, 11).unwrap();
        let layout = Layout::new(&u, None).unwrap();
        let n_c = layout.units_of.len();
        let mut checked = 0;
        for r in 0..5 {
            let mut rng = Streams::new(11).stream(r as u64);
            let clusters: Vec<usize> = (0..n_c).map(|_| below(&mut rng, n_c as u64)).collect();
            let (idx, codes) = layout.draw(&clusters);
            let take = |v: &[f64]| -> Vec<f64> { idx.iter().map(|&i| v[i]).collect() };
            let (yd, dd, xd) = (take(&y), take(&d), take(&x));
            let td: Vec<i64> = idx.iter().map(|&i| t[i]).collect();
            let draw = DcdhInput {
                y: &yd,
                time: &td,
                unit: &codes,
                treatment: &dd,
                weights: None,
                cluster: None,
                controls: vec![("x".into(), xd.as_slice())],
                trend_group: None,
                names: names(),
            };
            let Ok(full) = dcdh(&draw, &sp) else { continue };
            for h in 0..2 {
                let a = boot.effects[r * 2 + h];
                assert!(
                    (a - full.effects.estimate[h]).abs() < 1e-12,
                    "draw {r} effect {h}"
                );
            }
            assert!((boot.placebos[r] - full.placebos.estimate[0]).abs() < 1e-12);
            assert!((boot.ate[r] - full.ate.unwrap().0).abs() < 1e-12);
            checked += 1;
        }
        assert!(checked >= 3, "only {checked} draws compared");
    }

    /// Seeded draws do not depend on the number of rayon threads (bit for bit).
    #[test]
    fn one_and_two_threads_give_identical_draws() {
        let (y, t, u, d, _, c) = panel(5, 80);
        let input = DcdhInput {
            y: &y,
            time: &t,
            unit: &u,
            treatment: &d,
            weights: None,
            cluster: Some(&c),
            controls: vec![],
            trend_group: None,
            names: names(),
        };
        let sp = spec(3, 2);
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| dcdh_bootstrap(&input, &sp, 40, 9).unwrap())
        };
        let (a, b) = (run(1), run(2));
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.effects), bits(&b.effects));
        assert_eq!(bits(&a.placebos), bits(&b.placebos));
        assert_eq!(bits(&a.ate), bits(&b.ate));
        assert_eq!(a.n_clusters, 7);
        // another seed, other draws
        let other = dcdh_bootstrap(&input, &sp, 40, 10).unwrap();
        assert_ne!(bits(&a.effects), bits(&other.effects));
    }

    #[test]
    fn too_few_replicates_is_an_option_error() {
        let (y, t, u, d, _, _) = panel(1, 20);
        let input = DcdhInput {
            y: &y,
            time: &t,
            unit: &u,
            treatment: &d,
            weights: None,
            cluster: None,
            controls: vec![],
            trend_group: None,
            names: names(),
        };
        let e = dcdh_bootstrap(&input, &spec(1, 0), 1, 0).unwrap_err();
        assert!(
            matches!(e, Error::Option { ref name, .. } if name == "reps"),
            "{e}"
        );
    }
}

//! Permutation (Fisher) test of equal treatment effects across unit-level groups, the
//! permutation half of `pilotdid.heterogeneity`.
//!
//! Each group's treatment coefficient comes from its own regression `y ~ treatment + controls |
//! fe` on the group's rows (the split-sample fits, exactly as `feols` runs them: same rows,
//! same fixed-effect ids, no singleton removal, the caller's variance request). The statistic
//! is the dispersion T = Σ_g (b_g − mean b)², added up as numpy does (`np.sum((b - b.mean())
//! ** 2)`, see [`numpy_sum`]) so that the observed value keeps the bits the Python
//! implementation recorded.
//!
//! Replicate r permutes the group labels across units with the stream `rng::stream(seed, r)`
//! ([`rng::shuffle`]) and refits every group. A replicate in which a group has fewer than two
//! units, a fit fails, or the treatment is collinear with the fixed effects and controls gives
//! NaN and is counted as failed. p = (1 + #{T* ≥ T − 10⁻¹²|T|}) / (1 + #finite T*).
//! Replicates run in parallel and are stored by index: the thread count never changes a
//! number.

use rayon::prelude::*;

use crate::alloc::try_vec;
use crate::error::{Error, Result};
use crate::fe::DemeanSpec;
use crate::interrupt::Cancel;
use crate::linalg::numpy_sum;
use crate::linear::{feols, FeolsInput, FeolsSpec, VcovRequest};
use crate::rng::{self, shuffle};

/// The panel, row by row (every slice has one entry per row), plus the unit-level labels.
#[derive(Debug, Clone)]
pub struct HeterogeneityInput<'a> {
    pub y: (String, &'a [f64]),
    /// Regressors as `feols` gets them (the treatment among them; an intercept without fixed
    /// effects).
    pub x: Vec<(String, &'a [f64])>,
    /// Name of the treatment regressor in `x`.
    pub treatment: String,
    /// Fixed-effect ids (interacted effects already combined).
    pub fe: Vec<(String, &'a [i64])>,
    /// Cluster ids for the variance request (as `feols`).
    pub clusters: Vec<(String, &'a [i64])>,
    /// Rows known to be unusable (a missing id): false = dropped by every fit.
    pub valid: Option<&'a [bool]>,
    /// Unit code per row, 0..number of units.
    pub unit: &'a [u32],
    /// The observed group (0..n_groups) of each unit.
    pub unit_group: &'a [u32],
    pub n_groups: usize,
}

#[derive(Debug, Clone)]
pub struct HeterogeneitySpec {
    pub reps: usize,
    pub seed: u64,
    pub vcov: VcovRequest,
    pub demean: DemeanSpec,
}

#[derive(Debug, Clone)]
pub struct HeterogeneityTest {
    /// T with the observed labels (NaN when a group cannot be estimated).
    pub observed: f64,
    /// T* per replicate (NaN = failed replicate).
    pub permuted: Vec<f64>,
    /// Replicates without a finite T*.
    pub n_failed: usize,
    pub p_value: f64,
}

/// Σ_g (b_g − mean b)², as `np.sum((b - b.mean()) ** 2)`.
pub fn dispersion(b: &[f64]) -> f64 {
    let mean = numpy_sum(b) / b.len() as f64;
    let dev: Vec<f64> = b.iter().map(|v| (v - mean) * (v - mean)).collect();
    numpy_sum(&dev)
}

/// The permutation test (see the module documentation).
pub fn heterogeneity_permutation(
    input: &HeterogeneityInput,
    spec: &HeterogeneitySpec,
) -> Result<HeterogeneityTest> {
    let n = input.y.1.len();
    let lens_ok = input.unit.len() == n
        && input.x.iter().all(|(_, c)| c.len() == n)
        && input
            .fe
            .iter()
            .chain(&input.clusters)
            .all(|(_, c)| c.len() == n)
        && input.valid.map_or(true, |v| v.len() == n);
    if !lens_ok {
        return Err(Error::Shape(
            "heterogeneity: the row columns differ in length".into(),
        ));
    }
    let n_units = input.unit_group.len();
    if let Some(&u) = input.unit.iter().find(|&&u| u as usize >= n_units) {
        return Err(Error::Column {
            name: "unit".into(),
            reason: format!("unit code {u} has no group ({n_units} units)"),
        });
    }
    if input.n_groups < 2 {
        return Err(Error::Option {
            name: "by".into(),
            reason: format!("{} group(s): nothing to compare", input.n_groups),
        });
    }
    if let Some(&g) = input
        .unit_group
        .iter()
        .find(|&&g| g as usize >= input.n_groups)
    {
        return Err(Error::Column {
            name: "by".into(),
            reason: format!("group index {g} out of range ({} groups)", input.n_groups),
        });
    }
    if !input.x.iter().any(|(name, _)| *name == input.treatment) {
        return Err(Error::Option {
            name: "treatment".into(),
            reason: format!("'{}' is not among the regressors", input.treatment),
        });
    }
    let fit_spec = FeolsSpec {
        drop_singletons: false,
        vcov: spec.vcov.clone(),
        demean: spec.demean,
        ..FeolsSpec::default()
    };
    let observed = statistic(input, &fit_spec, input.unit_group)?.unwrap_or(f64::NAN);

    let cancel = Cancel::current();
    // One statistic per replicate, stored in place (fallible: reps is the user's).
    let mut permuted = try_vec(spec.reps, f64::NAN, "heterogeneity permutations")?;
    permuted
        .par_iter_mut()
        .enumerate()
        .try_for_each(|(r, out)| {
            cancel.check()?;
            let mut labels = input.unit_group.to_vec();
            shuffle(&mut labels, &mut rng::stream(spec.seed, r as u64));
            *out = statistic(input, &fit_spec, &labels)?.unwrap_or(f64::NAN);
            Ok::<(), Error>(())
        })?;
    let finite: Vec<f64> = permuted.iter().copied().filter(|v| v.is_finite()).collect();
    let cut = observed - 1e-12 * observed.abs();
    let at_least = finite.iter().filter(|&&v| v >= cut).count();
    Ok(HeterogeneityTest {
        observed,
        p_value: (1 + at_least) as f64 / (1 + finite.len()) as f64,
        n_failed: spec.reps - finite.len(),
        permuted,
    })
}

/// T for one labelling of the units; None when a group has fewer than two units or its
/// treatment coefficient cannot be estimated. Cancellation and memory exhaustion stop.
fn statistic(input: &HeterogeneityInput, spec: &FeolsSpec, labels: &[u32]) -> Result<Option<f64>> {
    let mut units_in = vec![0usize; input.n_groups];
    for &g in labels {
        units_in[g as usize] += 1;
    }
    if units_in.iter().any(|&c| c < 2) {
        return Ok(None);
    }
    let mut b = Vec::with_capacity(input.n_groups);
    for g in 0..input.n_groups as u32 {
        match group_coefficient(input, spec, labels, g)? {
            Some(v) => b.push(v),
            None => return Ok(None),
        }
    }
    Ok(Some(dispersion(&b)))
}

/// The treatment coefficient of group `g`'s own regression (its rows in input order).
fn group_coefficient(
    input: &HeterogeneityInput,
    spec: &FeolsSpec,
    labels: &[u32],
    g: u32,
) -> Result<Option<f64>> {
    let rows: Vec<usize> = (0..input.unit.len())
        .filter(|&i| labels[input.unit[i] as usize] == g)
        .collect();
    let take = |v: &[f64]| -> Vec<f64> { rows.iter().map(|&i| v[i]).collect() };
    let take_ids = |cols: &[(String, &[i64])]| -> Vec<(String, Vec<i64>)> {
        cols.iter()
            .map(|(name, c)| (name.clone(), rows.iter().map(|&i| c[i]).collect()))
            .collect()
    };
    let y = take(input.y.1);
    let x: Vec<(String, Vec<f64>)> = input.x.iter().map(|(n, c)| (n.clone(), take(c))).collect();
    let (fe, cl) = (take_ids(&input.fe), take_ids(&input.clusters));
    let valid: Option<Vec<bool>> = input.valid.map(|v| rows.iter().map(|&i| v[i]).collect());
    let fit = feols(
        &FeolsInput {
            y: (input.y.0.clone(), &y),
            x: x.iter().map(|(n, c)| (n.clone(), c.as_slice())).collect(),
            fe: borrow_ids(&fe),
            clusters: borrow_ids(&cl),
            weights: None,
            valid: valid.as_deref(),
        },
        spec,
    );
    match fit {
        Ok(f) => Ok(f
            .coefnames
            .iter()
            .position(|c| *c == input.treatment)
            .map(|i| f.beta[i])),
        Err(e @ (Error::Interrupted | Error::OutOfMemory { .. })) => Err(e),
        Err(_) => Ok(None),
    }
}

fn borrow_ids(cols: &[(String, Vec<i64>)]) -> Vec<(String, &[i64])> {
    cols.iter()
        .map(|(n, c)| (n.clone(), c.as_slice()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 12 units x 6 years, two groups with treatment effects 1 and 3 (plus noise).
    struct Toy {
        y: Vec<f64>,
        d: Vec<f64>,
        unit: Vec<i64>,
        year: Vec<i64>,
        code: Vec<u32>,
        groups: Vec<u32>,
    }

    fn panel() -> Toy {
        let (nu, nt) = (12u32, 6usize);
        let mut g = rng::stream(5, 0);
        let groups: Vec<u32> = (0..nu).map(|u| u % 2).collect();
        let mut toy = Toy {
            y: vec![],
            d: vec![],
            unit: vec![],
            year: vec![],
            code: vec![],
            groups: groups.clone(),
        };
        for (u, &group) in groups.iter().enumerate() {
            for t in 0..nt {
                let treated = u % 3 != 0 && t >= 3;
                let dv = if treated { 1.0 } else { 0.0 };
                let effect = if group == 0 { 1.0 } else { 3.0 };
                let noise = rng::standard_normal(&mut g);
                toy.y
                    .push(u as f64 * 0.3 + t as f64 * 0.1 + effect * dv + noise);
                toy.d.push(dv);
                toy.unit.push(100 + u as i64);
                toy.year.push(2000 + t as i64);
                toy.code.push(u as u32);
            }
        }
        toy
    }

    fn run(reps: usize, seed: u64) -> HeterogeneityTest {
        let Toy {
            y,
            d,
            unit,
            year,
            code,
            groups,
        } = panel();
        let input = HeterogeneityInput {
            y: ("y".into(), &y),
            x: vec![("d".into(), &d)],
            treatment: "d".into(),
            fe: vec![("unit".into(), &unit), ("year".into(), &year)],
            clusters: vec![("unit".into(), &unit)],
            valid: None,
            unit: &code,
            unit_group: &groups,
            n_groups: 2,
        };
        let spec = HeterogeneitySpec {
            reps,
            seed,
            vcov: VcovRequest::Cluster(vec![0]),
            demean: DemeanSpec::default(),
        };
        heterogeneity_permutation(&input, &spec).unwrap()
    }

    /// Identity: with two groups T = (b_1 - b_2)²/2, the b_g from each group's own feols.
    #[test]
    fn observed_statistic_is_the_split_sample_dispersion() {
        let Toy {
            y,
            d,
            unit,
            year,
            code,
            groups,
        } = panel();
        let mut b = vec![];
        for g in 0..2u32 {
            let rows: Vec<usize> = (0..y.len())
                .filter(|&i| groups[code[i] as usize] == g)
                .collect();
            let pick = |v: &[f64]| rows.iter().map(|&i| v[i]).collect::<Vec<_>>();
            let pick_i = |v: &[i64]| rows.iter().map(|&i| v[i]).collect::<Vec<_>>();
            let (yy, dd, uu, tt) = (pick(&y), pick(&d), pick_i(&unit), pick_i(&year));
            let f = feols(
                &FeolsInput {
                    y: ("y".into(), &yy),
                    x: vec![("d".into(), &dd)],
                    fe: vec![("unit".into(), &uu), ("year".into(), &tt)],
                    clusters: vec![],
                    weights: None,
                    valid: None,
                },
                &FeolsSpec::default(),
            )
            .unwrap();
            b.push(f.beta[0]);
        }
        let res = run(0, 1);
        assert!((res.observed - (b[0] - b[1]).powi(2) / 2.0).abs() < 1e-12);
        assert_eq!(res.observed, dispersion(&b));
        assert_eq!(res.p_value, 1.0);
    }

    #[test]
    fn permutations_are_seeded_and_reported() {
        let a = run(40, 9);
        let b = run(40, 9);
        assert_eq!(
            a.permuted.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            b.permuted.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        assert_eq!(
            a.n_failed,
            a.permuted.iter().filter(|v| !v.is_finite()).count()
        );
        assert!(a.p_value > 0.0 && a.p_value <= 1.0);
        assert_ne!(run(40, 10).permuted, a.permuted);
    }
}

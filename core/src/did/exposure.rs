//! Group-time effects with exposure-clean comparisons (Butts 2023, "Difference-in-Differences
//! with Spatial Spillovers", arXiv 2105.03737).
//!
//! Butts shows that with spillovers the usual DID compares treated units against controls that
//! are themselves affected, so the comparison group must be restricted to units that are
//! unexposed. Each ATT(g,t) cell is the 2×2 difference in mean changes between the units of
//! group g and the *exposure-clean* comparison units: never treated (or not yet treated, at
//! both the base period and t) **and** unexposed (exposure 0) at the base period and at t.
//! The same cell serves the direct effect (g = treatment cohort) and the spillover effect
//! (g = the period an untreated unit is first exposed), so one function computes both.
//!
//! The output is an [`AttGtFit`] with R `did`'s influence-function convention (ψ over all n
//! units, SE = sqrt(Σψ²)/n, zero for units outside a cell), so the existing
//! [`crate::did::aggte::aggte`] aggregations (with R's `wif`) and the multiplier bootstrap in
//! [`crate::inference::multiplier`] apply to it unchanged. Without covariates the DR 2×2 of
//! `att_gt` is this difference of means, so a cell equals `att_gt` on the hand-built clean
//! sample of that cell (tested in `tests/test_exposure_did.py`).

use super::att_gt::{AttGtFit, Cell, CellStatus};
use crate::error::{Error, Result};
use crate::inference::multiplier::{multiplier_bootstrap, MultiplierSpec};
use crate::interrupt::Cancel;

/// Comparison units for a cell: never treated, or also not yet treated by max(base, t).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExposureControl {
    Never,
    NotYet,
}

impl ExposureControl {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "never" => Ok(Self::Never),
            "notyet" => Ok(Self::NotYet),
            other => Err(Error::Option {
                name: "control_group".into(),
                reason: format!("'{other}' is not one of 'never', 'notyet'"),
            }),
        }
    }
}

/// A balanced unit × period grid.
pub struct ExposureInput<'a> {
    /// Periods, strictly increasing (length T).
    pub periods: &'a [i64],
    /// Outcomes, row-major n × T, all finite.
    pub y: &'a [f64],
    /// Group of each unit for this effect (treatment cohort for the direct effect, first
    /// exposure period for a spillover effect); 0 = not in any group.
    pub group: &'a [i64],
    /// Treatment cohort of each unit (0 = never treated): decides who may be a comparison.
    pub cohort: &'a [i64],
    /// Exposure, row-major n × T: 0 = unexposed, anything else exposed.
    pub exposure: &'a [i64],
    /// Cluster code per unit for the multiplier bootstrap (None: units).
    pub cluster: Option<&'a [u32]>,
}

pub struct ExposureSpec {
    pub control: ExposureControl,
    pub bootstrap: Option<MultiplierSpec>,
    pub cband: bool,
    /// Normal critical value at the fit's level (used when there is no uniform band).
    pub z_crit: f64,
    /// What the groups are ("direct", "spillover[0,50)"): named in errors.
    pub label: String,
}

/// ATT(g,t) for every group g and period t after the first (varying base period, as R `did`'s
/// default): the base is the last period before g for post cells, t's predecessor otherwise.
/// A cell with no exposure-clean comparison unit is an error that names it.
pub fn exposure_att_gt(input: &ExposureInput, spec: &ExposureSpec) -> Result<AttGtFit> {
    let t_n = input.periods.len();
    let n = input.group.len();
    if t_n < 2 {
        return Err(Error::Empty(
            "exposure DID needs at least two periods".into(),
        ));
    }
    if input.periods.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Error::Option {
            name: "time".into(),
            reason: "periods must be strictly increasing".into(),
        });
    }
    if input.cohort.len() != n || input.y.len() != n * t_n || input.exposure.len() != n * t_n {
        return Err(Error::Shape(format!(
            "exposure DID: {n} units and {t_n} periods, but y has {}, exposure {} and cohort {} entries",
            input.y.len(),
            input.exposure.len(),
            input.cohort.len()
        )));
    }
    if let Some(c) = input.cluster {
        if c.len() != n {
            return Err(Error::Shape(format!(
                "cluster has {} entries, expected {n}",
                c.len()
            )));
        }
    }
    let periods = input.periods;
    let first = periods[0];
    // groups that have a pre-period (units in a group at the first period have no base)
    let mut groups: Vec<i64> = input
        .group
        .iter()
        .copied()
        .filter(|&g| g != 0 && g > first)
        .collect();
    groups.sort_unstable();
    groups.dedup();
    if groups.is_empty() {
        return Err(Error::Empty(format!(
            "{}: no group is first affected after the first period {first}",
            spec.label
        )));
    }
    let nf = n as f64;
    let cancel = Cancel::current();
    let mut cells = Vec::new();
    let mut inf: Vec<Vec<f64>> = Vec::new();
    let mut se = Vec::new();
    let mut dy = vec![0.0; n];
    for &g in &groups {
        // last period strictly before g
        let Some(g_base) = periods.iter().rposition(|&p| p < g) else {
            continue;
        };
        for ti in 1..t_n {
            cancel.check()?;
            let t = periods[ti];
            let post = t >= g;
            let bi = if post { g_base } else { ti - 1 };
            let b = periods[bi];
            let latest = t.max(b);
            let (mut n1, mut n0, mut s1, mut s0) = (0usize, 0usize, 0.0, 0.0);
            let mut role = vec![0u8; n]; // 1 treated, 2 comparison
            for i in 0..n {
                dy[i] = input.y[i * t_n + ti] - input.y[i * t_n + bi];
                if input.group[i] == g {
                    role[i] = 1;
                    n1 += 1;
                    s1 += dy[i];
                    continue;
                }
                let c = input.cohort[i];
                let untreated = c == 0 || (spec.control == ExposureControl::NotYet && c > latest);
                let clean = input.exposure[i * t_n + bi] == 0 && input.exposure[i * t_n + ti] == 0;
                if untreated && clean {
                    role[i] = 2;
                    n0 += 1;
                    s0 += dy[i];
                }
            }
            if n0 == 0 {
                return Err(Error::Empty(format!(
                    "{}: no exposure-clean comparison unit for ATT(g={g}, t={t}) (base period {b}): \
                     no untreated unit is unexposed in both periods; use wider rings, \
                     control_group='notyet', or drop the cell's periods",
                    spec.label
                )));
            }
            let (m1, m0) = (s1 / n1 as f64, s0 / n0 as f64);
            let mut psi = vec![0.0; n];
            for i in 0..n {
                psi[i] = match role[i] {
                    1 => nf * (dy[i] - m1) / n1 as f64,
                    2 => -nf * (dy[i] - m0) / n0 as f64,
                    _ => 0.0,
                };
            }
            se.push(psi.iter().map(|v| v * v).sum::<f64>().sqrt() / nf);
            inf.push(psi);
            cells.push(Cell {
                group: g,
                time: t,
                base_time: b,
                post,
                att: m1 - m0,
                n_treated: n1,
                n_control: n0,
                status: CellStatus::Estimated,
            });
        }
    }
    let mut crit_val = spec.z_crit;
    let mut boot = None;
    if let Some(bs) = &spec.bootstrap {
        let cols: Vec<&[f64]> = inf.iter().map(|c| c.as_slice()).collect();
        let out = multiplier_bootstrap(&cols, input.cluster, bs)?;
        se.clone_from(&out.se);
        if spec.cband {
            crit_val = out.crit_val;
        }
        boot = Some(out);
    }
    let unit_cohort: Vec<i64> = input
        .group
        .iter()
        .map(|&g| if groups.contains(&g) { g } else { 0 })
        .collect();
    Ok(AttGtFit {
        cells,
        inf,
        se,
        crit_val,
        pretest: None,
        pretest_note: Some("no pre-test for exposure DID".into()),
        n_units: n,
        unit_cohort,
        unit_weight: vec![1.0; n],
        unit_cluster: input.cluster.map(<[u32]>::to_vec),
        groups,
        periods: periods.to_vec(),
        n_rows_dropped: 0,
        n_units_already_treated: 0,
        notes: Vec::new(),
        bootstrap: boot,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two periods, two treated, two clean controls, one exposed control: the cell is the
    /// difference of mean changes between the treated and the clean controls only.
    #[test]
    fn two_by_two_uses_clean_controls_only() {
        let periods = [1, 2];
        let y = [0.0, 3.0, 0.0, 5.0, 1.0, 2.0, 1.0, 1.0, 0.0, 10.0];
        let group = [2, 2, 0, 0, 0];
        let cohort = [2, 2, 0, 0, 0];
        let exposure = [0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let input = ExposureInput {
            periods: &periods,
            y: &y,
            group: &group,
            cohort: &cohort,
            exposure: &exposure,
            cluster: None,
        };
        let spec = ExposureSpec {
            control: ExposureControl::Never,
            bootstrap: None,
            cband: false,
            z_crit: 1.96,
            label: "direct".into(),
        };
        let fit = exposure_att_gt(&input, &spec).unwrap();
        assert_eq!(fit.cells.len(), 1);
        assert!((fit.cells[0].att - (4.0 - 0.5)).abs() < 1e-12);
        assert_eq!(fit.cells[0].n_control, 2);
    }
}

//! Malmquist–Luenberger productivity indices built on SBM efficiencies.
//!
//! Global ML (Oh 2010, J. Productivity Analysis 34, 183–197), in the ratio form used with SBM
//! efficiencies in the green-TFP literature. With `E^G(o)` the SBM score of unit-year `o`
//! against the global frontier (all periods) and `E^t(o)` against period `t`'s frontier:
//!
//! ```text
//! GML(t-1, t) = E^G(o_t) / E^G(o_{t-1})
//! EC          = E^t(o_t) / E^{t-1}(o_{t-1})
//! TC          = GML / EC = [E^G(o_t)/E^t(o_t)] / [E^G(o_{t-1})/E^{t-1}(o_{t-1})]
//! GTFP_t      = GTFP_{t-1} * GML = E^G(o_t) / E^G(o_base)       (base year: GTFP = 1)
//! ```
//! Every unit-year belongs to the global reference set, so no program is infeasible (without
//! super-efficiency) and the index is circular: the product over intermediate periods equals
//! the direct comparison.
//!
//! Contemporaneous ML (Chung, Färe and Grosskopf 1997 geometric-mean form, SBM distance):
//!
//! ```text
//! ML = sqrt( [E^{t-1}(o_t)/E^{t-1}(o_{t-1})] * [E^t(o_t)/E^t(o_{t-1})] ),  EC as above,
//! TC = ML / EC;  cumulative = running product (base year 1).
//! ```
//! The cross-period scores `E^{t-1}(o_t)` and `E^t(o_{t-1})` evaluate a unit-year against a
//! frontier it does not belong to: the SBM program is infeasible when the unit lies outside
//! that technology. With `super_efficiency` the super-SBM program is used for such units
//! (feasible under CRS); otherwise, or when even that fails, the index is NaN with status
//! `infeasible`, counted in `n_infeasible`, and the running product stops (NaN afterwards).
//!
//! The previous period of a unit-year is the previous period of the panel: a unit missing
//! that year has status `gap` (NaN index); a unit's first year has status `base`.

// Index loops over small dense arrays (rows x columns) read best as written.
#![allow(clippy::needless_range_loop)]

use super::lp::LpStatus;
use super::sbm::{evaluate_many, period_sets, DeaData, Frontier, OutputWeights, Rts};
use crate::error::Error;

/// Options of [`malmquist`].
#[derive(Debug, Clone, Copy)]
pub struct MlSpec {
    /// `Global`: the global ML index (Oh 2010); `Contemporaneous`: the contemporaneous ML
    /// index (Chung et al. 1997).
    pub kind: Frontier,
    pub rts: Rts,
    pub super_efficiency: bool,
}

/// Status of one unit-year's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MlStatus {
    Ok,
    /// The unit's first period: index undefined, cumulative index 1.
    Base,
    /// The unit has no observation in the previous period of the panel.
    Gap,
    /// A program of this comparison was infeasible (or otherwise failed).
    Infeasible,
}

impl MlStatus {
    pub fn label(self) -> &'static str {
        match self {
            MlStatus::Ok => "ok",
            MlStatus::Base => "base",
            MlStatus::Gap => "gap",
            MlStatus::Infeasible => "infeasible",
        }
    }
}

/// Indices by row of the input (same order).
#[derive(Debug, Clone)]
pub struct MlFit {
    /// `E^G(o)` (global kind) — NaN for the contemporaneous kind.
    pub eff_global: Vec<f64>,
    /// `E^t(o)`: the score against the row's own period.
    pub eff_contemporaneous: Vec<f64>,
    pub index: Vec<f64>,
    pub ec: Vec<f64>,
    pub tc: Vec<f64>,
    pub cumulative: Vec<f64>,
    pub status: Vec<MlStatus>,
    /// Count of rows with status `infeasible`.
    pub n_infeasible: usize,
    /// Linear programs solved.
    pub n_programs: usize,
}

/// GML / ML index for a panel of DMUs; `unit` codes in `0..n_units`, `time` any integers.
pub fn malmquist(
    data: &DeaData,
    unit: &[u32],
    time: &[i64],
    spec: &MlSpec,
) -> Result<MlFit, Error> {
    data.validate()?;
    let n = data.n;
    if unit.len() != n || time.len() != n {
        return Err(Error::Shape(format!(
            "unit ({}) and time ({}) must have one value per row ({n})",
            unit.len(),
            time.len()
        )));
    }
    let (periods, sets, which) = period_sets(time);
    let n_units = unit.iter().map(|&u| u as usize + 1).max().unwrap_or(0);
    // row of (unit, period index)
    let np = periods.len();
    // Unit codes are the caller's: the (unit, period) table is allocated fallibly.
    let cells = crate::alloc::elements(n_units, np, "unit x period table")?;
    let mut cell = crate::alloc::try_vec(cells, usize::MAX, "unit x period table")?;
    for j in 0..n {
        let c = unit[j] as usize * np + which[j];
        if cell[c] != usize::MAX {
            return Err(Error::Column {
                name: "time".into(),
                reason: format!(
                    "{} appears twice: one row per unit and period",
                    data.row_labels[j]
                ),
            });
        }
        cell[c] = j;
    }
    let prev: Vec<Option<usize>> = (0..n)
        .map(|j| {
            let p = which[j];
            if p == 0 {
                None
            } else {
                let r = cell[unit[j] as usize * np + p - 1];
                (r != usize::MAX).then_some(r)
            }
        })
        .collect();
    let first_period: Vec<usize> = {
        let mut f = crate::alloc::try_vec(n_units, usize::MAX, "units")?;
        for j in 0..n {
            let u = unit[j] as usize;
            f[u] = f[u].min(which[j]);
        }
        f
    };
    // Jobs: own-period scores for all rows; global scores or cross-period scores.
    let mut refsets = sets;
    let mut jobs: Vec<(usize, usize)> = (0..n).map(|j| (j, which[j])).collect();
    let global_set = refsets.len();
    let mut cross_slots: Vec<(usize, usize)> = Vec::new(); // (job of E^{t-1}(o_t), job of E^t(o_{t-1}))
    match spec.kind {
        Frontier::Global => {
            refsets.push((0..n).collect());
            jobs.extend((0..n).map(|j| (j, global_set)));
        }
        Frontier::Contemporaneous => {
            cross_slots = vec![(usize::MAX, usize::MAX); n];
            for j in 0..n {
                if let Some(r) = prev[j] {
                    cross_slots[j] = (jobs.len(), jobs.len() + 1);
                    jobs.push((j, which[r]));
                    jobs.push((r, which[j]));
                }
            }
        }
    }
    let evals = evaluate_many(
        data,
        &jobs,
        &refsets,
        spec.rts,
        OutputWeights::EQUAL,
        spec.super_efficiency,
    )?;
    let ok = |k: usize| evals[k].status == LpStatus::Optimal;
    let own: Vec<f64> = (0..n).map(|j| evals[j].score).collect();
    let eg: Vec<f64> = match spec.kind {
        Frontier::Global => (0..n).map(|j| evals[n + j].score).collect(),
        Frontier::Contemporaneous => vec![f64::NAN; n],
    };
    let mut index = vec![f64::NAN; n];
    let mut ec = vec![f64::NAN; n];
    let mut tc = vec![f64::NAN; n];
    let mut status = vec![MlStatus::Ok; n];
    for j in 0..n {
        if which[j] == first_period[unit[j] as usize] {
            status[j] = MlStatus::Base;
            continue;
        }
        let Some(r) = prev[j] else {
            status[j] = MlStatus::Gap;
            continue;
        };
        let own_ok = ok(j) && ok(r);
        match spec.kind {
            Frontier::Global => {
                if !(own_ok && ok(n + j) && ok(n + r)) {
                    status[j] = MlStatus::Infeasible;
                    continue;
                }
                index[j] = eg[j] / eg[r];
                ec[j] = own[j] / own[r];
                tc[j] = index[j] / ec[j];
            }
            Frontier::Contemporaneous => {
                let (a, b) = cross_slots[j];
                if !(own_ok && ok(a) && ok(b)) {
                    status[j] = MlStatus::Infeasible;
                    continue;
                }
                let (e_prev_on_cur, e_cur_on_prev) = (evals[a].score, evals[b].score);
                index[j] = ((e_prev_on_cur / own[r]) * (own[j] / e_cur_on_prev)).sqrt();
                ec[j] = own[j] / own[r];
                tc[j] = index[j] / ec[j];
            }
        }
    }
    // Cumulative index, base year = 1, in period order per unit.
    let mut cumulative = vec![f64::NAN; n];
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&j| (unit[j], which[j]));
    for &j in &order {
        match status[j] {
            MlStatus::Base => cumulative[j] = 1.0,
            _ => match spec.kind {
                Frontier::Global => {
                    // Circularity: the running product telescopes to E^G(o_t) / E^G(o_base).
                    let base = cell[unit[j] as usize * np + first_period[unit[j] as usize]];
                    if ok(n + j) && ok(n + base) {
                        cumulative[j] = eg[j] / eg[base];
                    }
                }
                Frontier::Contemporaneous => {
                    if let Some(r) = prev[j] {
                        cumulative[j] = cumulative[r] * index[j];
                    }
                }
            },
        }
    }
    let n_infeasible = status
        .iter()
        .filter(|s| **s == MlStatus::Infeasible)
        .count();
    Ok(MlFit {
        eff_global: eg,
        eff_contemporaneous: own,
        index,
        ec,
        tc,
        cumulative,
        status,
        n_infeasible,
        n_programs: jobs.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_units_three_periods_by_hand() {
        // One input, one output, CRS: SBM efficiency of (x, y) against a CRS frontier of
        // slope k is (y/x)/k (the 1-in-1-out SBM equals the CCR ratio; see the Python test
        // for the derivation). Unit A: (1,1), (1,2), (1,2); unit B: (1,1), (1,1), (1,4).
        let x = vec![1.0; 6];
        let y = vec![1.0, 2.0, 2.0, 1.0, 1.0, 4.0];
        let d = DeaData {
            n: 6,
            inputs: vec![x],
            good: vec![y],
            bad: vec![],
            input_names: vec!["x".into()],
            good_names: vec!["y".into()],
            bad_names: vec![],
            row_labels: (0..6).map(|j| format!("row {j}")).collect(),
        };
        let unit = [0, 0, 0, 1, 1, 1];
        let time = [1, 2, 3, 1, 2, 3];
        let spec = MlSpec {
            kind: Frontier::Global,
            rts: Rts::Crs,
            super_efficiency: false,
        };
        let f = malmquist(&d, &unit, &time, &spec).unwrap();
        // Global slope 4: E^G = y/4.
        let eg = [0.25, 0.5, 0.5, 0.25, 0.25, 1.0];
        for j in 0..6 {
            assert!((f.eff_global[j] - eg[j]).abs() < 1e-12);
        }
        assert!((f.index[1] - 2.0).abs() < 1e-12 && (f.index[5] - 4.0).abs() < 1e-12);
        // Period slopes 1, 2, 4: E^t(A) = 1, 1, 0.5; E^t(B) = 1, 0.5, 1.
        assert!((f.ec[2] - 0.5).abs() < 1e-12 && (f.tc[2] - 2.0).abs() < 1e-12);
        assert!((f.cumulative[5] - 4.0).abs() < 1e-12);
        assert_eq!(f.status[0], MlStatus::Base);
    }
}

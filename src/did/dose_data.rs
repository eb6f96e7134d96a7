//! The balanced unit × period panel that the continuous-dose DID (`super::dose`) estimates on:
//! cohorts as period positions, one dose per unit, the preparation `moderndid`'s
//! `preprocess_cont_did` performs (0.4.1).

// Index loops run over unit codes shared by several arrays.
#![allow(clippy::needless_range_loop)]

use crate::error::{Error, Result};

/// Rows of a long panel (already free of missing values).
#[derive(Debug, Clone, Copy)]
pub struct DoseInput<'a> {
    /// Unit code per row, in `0..n_codes`.
    pub unit: &'a [u32],
    pub time: &'a [i64],
    pub y: &'a [f64],
    /// First treated period (0, NaN or a period after the panel = never treated).
    pub cohort: &'a [f64],
    pub dose: &'a [f64],
    /// Cluster code per row (constant within unit), or None for unit clusters.
    pub cluster: Option<&'a [u32]>,
    /// Column names for messages: y, time, unit, cohort, dose.
    pub names: [&'a str; 5],
}

/// The prepared panel.
#[derive(Debug, Clone)]
pub struct DosePanel {
    /// Period labels kept, ascending.
    pub periods: Vec<i64>,
    /// Kept units × periods outcomes, row-major.
    pub y: Vec<f64>,
    /// Cohort as 1-based period position; 0 = never treated (or treated after the kept periods).
    pub g: Vec<usize>,
    /// One dose per unit (0 for never-treated units).
    pub dose: Vec<f64>,
    /// Original unit code of each kept unit.
    pub unit_code: Vec<u32>,
    /// Cluster code per kept unit (0..n_clusters), None = units.
    pub cluster: Option<Vec<u32>>,
    pub n_units_already_treated: usize,
    pub n_units_unbalanced: usize,
    pub notes: Vec<String>,
}

impl DosePanel {
    pub fn n_units(&self) -> usize {
        self.g.len()
    }
    pub fn n_periods(&self) -> usize {
        self.periods.len()
    }
    pub fn y_at(&self, i: usize, p: usize) -> f64 {
        self.y[i * self.periods.len() + p]
    }
}

const NEVER: f64 = f64::INFINITY;

/// Builds the panel: cohorts recoded to period positions, units treated in the first period
/// (plus `anticipation`) dropped, units missing a period dropped, one dose per treated unit.
/// Without never-treated units the periods from the last cohort's start on are dropped (no
/// unit is untreated there) and that cohort serves as a comparison only; with
/// `never_only` that is an error instead.
pub fn build_panel(inp: &DoseInput, anticipation: usize, never_only: bool) -> Result<DosePanel> {
    let [yname, tname, uname, gname, dname] = inp.names;
    let n_rows = inp.unit.len();
    if [
        inp.time.len(),
        inp.y.len(),
        inp.cohort.len(),
        inp.dose.len(),
    ]
    .iter()
    .any(|&l| l != n_rows)
        || inp.cluster.is_some_and(|c| c.len() != n_rows)
    {
        return Err(Error::Shape("columns of different lengths".into()));
    }
    if n_rows == 0 {
        return Err(Error::Empty(
            "no rows left after dropping missing values".into(),
        ));
    }
    let mut periods: Vec<i64> = inp.time.to_vec();
    periods.sort_unstable();
    periods.dedup();
    if periods.len() < 2 {
        return Err(Error::Column {
            name: tname.into(),
            reason: format!("needs at least two periods, found {}", periods.len()),
        });
    }
    let n_codes = inp.unit.iter().map(|&u| u as usize + 1).max().unwrap_or(0);
    let t_all = periods.len();
    // Row index per (unit, period position); usize::MAX = absent.
    let mut cell = vec![usize::MAX; n_codes * t_all];
    let mut cohort = vec![f64::NAN; n_codes];
    let mut seen = vec![false; n_codes];
    for r in 0..n_rows {
        let u = inp.unit[r] as usize;
        let p = periods.binary_search(&inp.time[r]).unwrap_or(0);
        if cell[u * t_all + p] != usize::MAX {
            return Err(Error::Column {
                name: format!("{uname}', '{tname}"),
                reason: format!("the period {} appears twice for one unit", inp.time[r]),
            });
        }
        cell[u * t_all + p] = r;
        let c = inp.cohort[r];
        let c = if !c.is_finite() || c == 0.0 { NEVER } else { c };
        if c < 0.0 {
            return Err(Error::Column {
                name: gname.into(),
                reason: format!(
                    "holds the negative value {c}; use 0 for never-treated units and the first \
                     treated period otherwise"
                ),
            });
        }
        if seen[u] && cohort[u] != c {
            return Err(Error::Column {
                name: gname.into(),
                reason: "the cohort varies within a unit; it must be the unit's first treated \
                         period on every row"
                    .into(),
            });
        }
        seen[u] = true;
        cohort[u] = c;
        if inp.dose[r] < 0.0 {
            return Err(Error::Column {
                name: dname.into(),
                reason: format!(
                    "holds the negative dose {}; doses must be >= 0",
                    inp.dose[r]
                ),
            });
        }
        if !inp.y[r].is_finite() {
            return Err(Error::Column {
                name: yname.into(),
                reason: "has non-finite values".into(),
            });
        }
    }
    let last = *periods.last().unwrap_or(&0) as f64;
    // Cohort position (1-based) or 0 = never.
    let mut gpos = vec![0usize; n_codes];
    for u in 0..n_codes {
        if !seen[u] {
            continue;
        }
        let c = cohort[u];
        if c.is_infinite() || c > last {
            continue;
        }
        if c.fract() != 0.0 {
            return Err(Error::Column {
                name: gname.into(),
                reason: format!("{c} is not a whole-number period"),
            });
        }
        match periods.binary_search(&(c as i64)) {
            Ok(p) => gpos[u] = p + 1,
            Err(0) => gpos[u] = 1, // treated before the panel starts: already treated
            Err(_) => {
                return Err(Error::Column {
                    name: gname.into(),
                    reason: format!(
                        "cohort {c} is not an observed period of '{tname}'; recode it to the first \
                         observed period from which its effects should count"
                    ),
                })
            }
        }
    }
    // Units treated by the first period (plus anticipation) have no untreated base period.
    let mut keep_unit: Vec<bool> = seen.clone();
    let mut n_early = 0;
    for u in 0..n_codes {
        if seen[u] && gpos[u] != 0 && gpos[u] <= 1 + anticipation {
            keep_unit[u] = false;
            n_early += 1;
        }
    }
    let mut notes = Vec::new();
    // Periods kept: all, or (no never-treated unit) those before the last cohort starts.
    let any_never = (0..n_codes).any(|u| keep_unit[u] && gpos[u] == 0);
    let mut t_keep = t_all;
    if !any_never {
        let gmax = (0..n_codes)
            .filter(|&u| keep_unit[u])
            .map(|u| gpos[u])
            .max()
            .unwrap_or(0);
        if gmax == 0 {
            return Err(Error::Empty(
                "no units left after dropping already-treated units".into(),
            ));
        }
        if never_only {
            return Err(Error::Empty(format!(
                "control_group='never' needs never-treated units (cohort 0 in '{gname}'); the data \
                 has none. Use control_group='notyet'"
            )));
        }
        let cutoff = gmax.saturating_sub(anticipation); // positions < cutoff are kept
        t_keep = cutoff.saturating_sub(1);
        if t_keep < 2 {
            return Err(Error::Empty(
                "no untreated units: every unit is treated by the second period, so no period \
                 has an untreated comparison"
                    .into(),
            ));
        }
        notes.push(format!(
            "no never-treated units: periods from {} on were dropped (no unit is untreated there)",
            periods[t_keep]
        ));
        for u in 0..n_codes {
            if gpos[u] > t_keep {
                gpos[u] = 0;
            }
        }
        if !(0..n_codes).any(|u| keep_unit[u] && gpos[u] != 0) {
            return Err(Error::Empty(
                "no untreated units: no cohort starts treatment while some unit is still untreated"
                    .into(),
            ));
        }
    }
    // Balance: every kept period present.
    let mut n_unbalanced = 0;
    for u in 0..n_codes {
        if keep_unit[u] && (0..t_keep).any(|p| cell[u * t_all + p] == usize::MAX) {
            keep_unit[u] = false;
            n_unbalanced += 1;
        }
    }
    let units: Vec<usize> = (0..n_codes).filter(|&u| keep_unit[u]).collect();
    if units.is_empty() {
        return Err(Error::Empty(
            "no units left after balancing the panel".into(),
        ));
    }
    let mut y = Vec::with_capacity(units.len() * t_keep);
    let mut g = Vec::with_capacity(units.len());
    let mut dose = Vec::with_capacity(units.len());
    let mut n_never_dose = 0;
    for &u in &units {
        for p in 0..t_keep {
            y.push(inp.y[cell[u * t_all + p]]);
        }
        g.push(gpos[u]);
        if gpos[u] == 0 {
            if (0..t_keep).any(|p| inp.dose[cell[u * t_all + p]] != 0.0) {
                n_never_dose += 1;
            }
            dose.push(0.0);
            continue;
        }
        // The dose at the first treated period; it must stay there, and be 0 or the same before.
        let d = inp.dose[cell[u * t_all + gpos[u] - 1]];
        let scale = 1e-8 * (1.0 + d.abs());
        for p in gpos[u] - 1..t_keep {
            let v = inp.dose[cell[u * t_all + p]];
            if v <= 0.0 {
                return Err(Error::Column {
                    name: dname.into(),
                    reason: format!(
                        "a unit of cohort {} has dose 0 in period {}; treated units need a positive \
                         dose from their cohort on (code a unit with no dose as never treated, \
                         cohort 0)",
                        periods[gpos[u] - 1],
                        periods[p]
                    ),
                });
            }
        }
        for p in 0..t_keep {
            let v = inp.dose[cell[u * t_all + p]];
            let post = p + 1 >= gpos[u];
            // Before treatment the dose may be recorded as 0.
            if (post || v != 0.0) && (v - d).abs() > scale {
                return Err(Error::Column {
                    name: dname.into(),
                    reason: format!(
                        "the dose changes over time within a unit of cohort {} ({d} and {v}); \
                         cont_did needs one dose per unit (0 before treatment is allowed), e.g. \
                         pilotdid.to_dose(kind='unit')",
                        periods[gpos[u] - 1]
                    ),
                });
            }
        }
        dose.push(d);
    }
    if n_never_dose > 0 {
        notes.push(format!(
            "{n_never_dose} never-treated units have a nonzero '{dname}'; their dose is taken as 0"
        ));
    }
    if n_early > 0 {
        notes.push(format!(
            "{n_early} units treated in the first period{} were dropped (no untreated base period)",
            if anticipation > 0 {
                " (plus anticipation)"
            } else {
                ""
            }
        ));
    }
    if n_unbalanced > 0 {
        notes.push(format!(
            "{n_unbalanced} units missing a period were dropped (balanced panel)"
        ));
    }
    let cluster = match inp.cluster {
        None => None,
        Some(cl) => {
            let mut map = std::collections::HashMap::new();
            let mut out = Vec::with_capacity(units.len());
            for &u in &units {
                let r0 = cell[u * t_all];
                let c = cl[r0];
                if (0..t_keep).any(|p| cl[cell[u * t_all + p]] != c) {
                    return Err(Error::Column {
                        name: "cluster".into(),
                        reason: "the cluster varies within a unit; clusters must nest units".into(),
                    });
                }
                let next = map.len() as u32;
                out.push(*map.entry(c).or_insert(next));
            }
            Some(out)
        }
    };
    periods.truncate(t_keep);
    Ok(DosePanel {
        periods,
        y,
        g,
        dose,
        unit_code: units.iter().map(|&u| u as u32).collect(),
        cluster,
        n_units_already_treated: n_early,
        n_units_unbalanced: n_unbalanced,
        notes,
    })
}

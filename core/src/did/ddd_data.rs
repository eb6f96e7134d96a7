//! Data preparation for triple differences ([`super::ddd`]): long rows to a balanced unit ×
//! period grid with each unit's cohort, eligibility, weight and cluster, as `moderndid`'s
//! preprocessing (`_preprocess_multiple_periods`, `preprocess_ddd_2periods`) decides them:
//! rows with a missing value dropped; cohort, partition, weight and cluster constant within a
//! unit; units treated in the first period dropped and cohorts after the last period recoded
//! as never (staggered data); without never-treated units the latest cohort only a comparison
//! and its periods left out; units missing a used period dropped; weights normalised to mean
//! one.

use super::att_gt::ControlGroup;
use crate::error::{Error, Result};

/// Long-format panel columns (one entry per row).
pub struct DddInput<'a> {
    pub y: &'a [f64],
    pub time: &'a [i64],
    /// Unit code of each row, `0..n_unit_codes`.
    pub unit: &'a [u32],
    /// Enabling cohort of each row's group; 0, NaN or ±inf = never enables treatment.
    pub cohort: &'a [f64],
    /// Eligibility partition, 0 or 1.
    pub partition: &'a [f64],
    /// Covariates (name, column); the base period's values are used.
    pub covariates: Vec<(String, &'a [f64])>,
    pub weights: Option<&'a [f64]>,
    pub cluster: Option<&'a [u32]>,
    /// Column names for messages: y, time, unit, cohort, partition, weights, cluster.
    pub names: [String; 7],
}

pub(crate) fn col_err(name: &str, reason: String) -> Error {
    Error::Column {
        name: name.to_string(),
        reason,
    }
}

/// Unit × period grid of a balanced panel.
pub(crate) struct Grid {
    pub(crate) n: usize,
    pub(crate) periods: Vec<i64>,
    pub(crate) y: Vec<f64>, // n × T
    pub(crate) x: Vec<f64>, // n × T × k
    pub(crate) k: usize,
    pub(crate) cohort: Vec<i64>,
    pub(crate) eligible: Vec<bool>,
    pub(crate) weight: Vec<f64>,
    pub(crate) cluster: Option<Vec<u32>>,
    pub(crate) n_rows_dropped: usize,
    pub(crate) n_already: usize,
    pub(crate) n_unbalanced: usize,
    pub(crate) notes: Vec<String>,
}

/// Unit-level attribute that must not change over time.
fn constant<T: PartialEq + Copy>(slot: &mut Option<T>, v: T, name: &str, what: &str) -> Result<()> {
    match slot {
        None => *slot = Some(v),
        Some(v0) if *v0 != v => {
            return Err(col_err(
                name,
                format!("{what} must be constant within a unit"),
            ));
        }
        _ => {}
    }
    Ok(())
}

pub(crate) fn build_grid(
    inp: &DddInput,
    control_group: ControlGroup,
) -> Result<(Grid, bool, Vec<i64>)> {
    let nr = inp.y.len();
    let [_, tname, idname, gname, pname, wname, cname] = &inp.names;
    if inp.time.len() != nr
        || inp.unit.len() != nr
        || inp.cohort.len() != nr
        || inp.partition.len() != nr
    {
        return Err(Error::Shape(
            "y, time, unit, cohort and partition columns differ in length".into(),
        ));
    }
    if inp.covariates.iter().any(|(_, c)| c.len() != nr) {
        return Err(Error::Shape("a covariate differs in length from y".into()));
    }
    let k = inp.covariates.len();
    let valid: Vec<bool> = (0..nr)
        .map(|r| {
            inp.y[r].is_finite()
                && inp.partition[r].is_finite()
                && inp.covariates.iter().all(|(_, c)| c[r].is_finite())
                && inp.weights.map_or(true, |w| w[r].is_finite())
        })
        .collect();
    let n_rows_dropped = valid.iter().filter(|v| !**v).count();
    let mut periods: Vec<i64> = (0..nr).filter(|&r| valid[r]).map(|r| inp.time[r]).collect();
    periods.sort_unstable();
    periods.dedup();
    if periods.len() < 2 {
        return Err(col_err(tname, "need at least two periods with data".into()));
    }
    let n_codes = inp.unit.iter().map(|&u| u as usize + 1).max().unwrap_or(0);
    let mut u_cohort: Vec<Option<i64>> = vec![None; n_codes];
    let mut u_part: Vec<Option<bool>> = vec![None; n_codes];
    let mut u_weight: Vec<Option<f64>> = vec![None; n_codes];
    let mut u_cluster: Vec<Option<u32>> = vec![None; n_codes];
    for r in 0..nr {
        if !valid[r] {
            continue;
        }
        let u = inp.unit[r] as usize;
        let g = inp.cohort[r];
        let g = if g.is_finite() { g } else { 0.0 };
        if g < 0.0 || g.fract() != 0.0 {
            return Err(col_err(
                gname,
                format!("cohort value {g} is not a non-negative whole period (0 = never)"),
            ));
        }
        constant(&mut u_cohort[u], g as i64, gname, "the cohort")?;
        let q = inp.partition[r];
        if q != 0.0 && q != 1.0 {
            return Err(col_err(
                pname,
                format!("the partition must be 0 (ineligible) or 1 (eligible), found {q}"),
            ));
        }
        constant(&mut u_part[u], q == 1.0, pname, "the partition")?;
        if let Some(w) = inp.weights {
            if w[r] < 0.0 {
                return Err(col_err(wname, format!("negative weight {}", w[r])));
            }
            constant(&mut u_weight[u], w[r], wname, "the weight")?;
        }
        if let Some(c) = inp.cluster {
            constant(&mut u_cluster[u], c[r], cname, "the cluster")?;
        }
    }
    let mut distinct: Vec<i64> = u_cohort.iter().flatten().copied().collect();
    distinct.sort_unstable();
    distinct.dedup();
    let two_period = periods.len() == 2 && distinct.len() <= 2;
    let t_first = periods[0];
    let mut t_last = periods[periods.len() - 1];
    let mut notes = Vec::new();
    let mut n_already = 0;
    // per unit code: cohort after recoding, or None when dropped
    let mut code_cohort: Vec<Option<i64>> = vec![None; n_codes];
    for u in 0..n_codes {
        let Some(mut g) = u_cohort[u] else { continue };
        if two_period {
            // any positive value marks the enabling group (ddd_panel)
            g = if g > 0 { periods[1] } else { 0 };
        } else if g > 0 && g <= t_first {
            n_already += 1;
            continue;
        } else if g > t_last {
            g = 0;
        }
        code_cohort[u] = Some(g);
    }
    if n_already > 0 {
        notes.push(format!(
            "dropped {n_already} units already treated in the first period ({t_first})"
        ));
    }
    let has_never = code_cohort.iter().flatten().any(|&g| g == 0);
    let mut glist: Vec<i64> = code_cohort
        .iter()
        .flatten()
        .copied()
        .filter(|&g| g > 0)
        .collect();
    glist.sort_unstable();
    glist.dedup();
    if glist.is_empty() {
        return Err(col_err(
            gname,
            "no unit belongs to a group that enables treatment (every cohort is 0 / never)".into(),
        ));
    }
    if !has_never && (two_period || control_group == ControlGroup::NeverTreated) {
        let cohorts = glist
            .iter()
            .map(|g| g.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(col_err(
            gname,
            format!(
                "no never-treated group (cohort 0; the cohorts are {cohorts}): a triple \
                 difference needs a comparison group{}",
                if two_period {
                    ""
                } else {
                    "; control_group='notyet' compares each cohort with later ones"
                }
            ),
        ));
    }
    if !has_never {
        // the latest cohort is only a comparison; its periods from its start on are left out
        let latest = *glist.last().unwrap_or(&0);
        glist.pop();
        if glist.is_empty() {
            return Err(col_err(
                gname,
                format!(
                    "only one cohort ({latest}) and no never-treated group: no comparison group \
                     is left for a triple difference"
                ),
            ));
        }
        periods.retain(|&t| t < latest);
        t_last = *periods.last().unwrap_or(&t_first);
        notes.push(format!(
            "no never-treated units: cohort {latest} serves only as a comparison and periods \
             from {latest} on are left out"
        ));
    }
    let _ = t_last;
    let tn = periods.len();
    // place rows; then keep units observed in every period (balanced panel)
    let mut seen = vec![0usize; n_codes];
    let mut yv = vec![f64::NAN; n_codes * tn];
    let mut xv = vec![0.0; n_codes * tn * k];
    for r in 0..nr {
        if !valid[r] {
            continue;
        }
        let u = inp.unit[r] as usize;
        if code_cohort[u].is_none() {
            continue;
        }
        let Ok(ti) = periods.binary_search(&inp.time[r]) else {
            continue;
        };
        if !yv[u * tn + ti].is_nan() {
            return Err(col_err(
                idname,
                format!(
                    "a unit is observed more than once in period {}",
                    inp.time[r]
                ),
            ));
        }
        seen[u] += 1;
        yv[u * tn + ti] = inp.y[r];
        for (j, (_, c)) in inp.covariates.iter().enumerate() {
            xv[(u * tn + ti) * k + j] = c[r];
        }
    }
    let mut grid = Grid {
        n: 0,
        periods,
        y: Vec::new(),
        x: Vec::new(),
        k,
        cohort: Vec::new(),
        eligible: Vec::new(),
        weight: Vec::new(),
        cluster: inp.cluster.map(|_| Vec::new()),
        n_rows_dropped,
        n_already,
        n_unbalanced: 0,
        notes,
    };
    for u in 0..n_codes {
        let Some(g) = code_cohort[u] else { continue };
        if seen[u] < tn {
            grid.n_unbalanced += 1;
            continue;
        }
        grid.n += 1;
        grid.y.extend_from_slice(&yv[u * tn..(u + 1) * tn]);
        grid.x.extend_from_slice(&xv[u * tn * k..(u + 1) * tn * k]);
        grid.cohort.push(g);
        grid.eligible.push(u_part[u].unwrap_or(false));
        grid.weight.push(u_weight[u].unwrap_or(1.0));
        if let Some(c) = grid.cluster.as_mut() {
            c.push(u_cluster[u].unwrap_or(0));
        }
    }
    if grid.n_unbalanced > 0 {
        grid.notes.push(format!(
            "dropped {} units not observed in every period used (balanced panel)",
            grid.n_unbalanced
        ));
    }
    if grid.n_rows_dropped > 0 {
        grid.notes.push(format!(
            "{} rows with a missing outcome, partition, covariate or weight were dropped",
            grid.n_rows_dropped
        ));
    }
    if grid.n == 0 {
        return Err(Error::Empty("no units left to estimate on".into()));
    }
    if grid.eligible.iter().all(|&e| e) || grid.eligible.iter().all(|&e| !e) {
        return Err(col_err(
            pname,
            "the partition is constant: a triple difference needs eligible (1) and ineligible \
             (0) units"
                .into(),
        ));
    }
    // weights normalised to mean one (moderndid)
    let mw = grid.weight.iter().sum::<f64>() / grid.n as f64;
    if mw.is_nan() || mw <= 0.0 {
        return Err(col_err(wname, "weights sum to zero".into()));
    }
    for w in grid.weight.iter_mut() {
        *w /= mw;
    }
    Ok((grid, two_period, glist))
}

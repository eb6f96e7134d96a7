//! Triple differences (DDD), Ortiz-Villavicencio & Sant'Anna (2025, "Better Understanding
//! Triple Differences Estimators"), numerically as `moderndid` 0.4.1 (`didtriple`: `ddd_panel`,
//! `ddd_mp`) and the R package `triplediff`.
//!
//! Units belong to a treatment-enabling group S (its cohort: the period from which the group
//! enables treatment; 0 = never) and an eligibility partition Q ∈ {0, 1}; only eligible units
//! of enabling groups are treated. For a treated cohort g and a comparison cohort c the units
//! fall into four subgroups: 4 = (S = g, Q = 1), 3 = (g, 0), 2 = (c, 1), 1 = (c, 0). The DDD is
//! the sum of three 2×2 DIDs of subgroup 4 against 3 and 2 minus the one against 1, each a
//! DRDID panel estimator (`super::drdid`: doubly robust, IPW or outcome regression, fitted on
//! subgroup 4 and that comparison subgroup only). Its influence function is
//! Σ ± (n / n_j) ψ_j.
//!
//! Two periods (at most two cohort values, 0 included): one ATT, any positive cohort marks the
//! enabling group, covariates from the first period, SE = sd(ψ) / √n (sample sd, as
//! `ddd_panel`). More periods: ATT(g,t) per cohort and period as `ddd_mp` (universal or varying
//! base period; covariates from the base period). With not-yet-treated comparisons each
//! comparison cohort gives its own DDD and the cell combines them by GMM (weights
//! Ω⁻¹1 / 1'Ω⁻¹1, Ω the sample covariance of their influence functions, SE
//! √(1 / (n·1'Ω⁻¹1))); single-comparison cells have SE √(Σψ²)/n. The result is an
//! [`AttGtFit`] so that `aggte` aggregates it; its unit cohorts are those of the eligible
//! units (ineligible units are never treated), which gives `moderndid`'s cohort shares.
//!
//! Panels must be balanced: units missing a period that the estimation uses are dropped (with a
//! note), as `moderndid` does by default.

// Index loops mirror the matrix formulas they implement.
#![allow(clippy::needless_range_loop)]

use ndarray::Array2;

use super::att_gt::{AttGtFit, BasePeriod, Cell, CellStatus, ControlGroup, EstMethod};
use super::drdid::{drdid_panel, ipw_did_panel, reg_did_panel, PanelFailure};
use crate::error::{Error, Result};
use crate::inference::multiplier::{multiplier_bootstrap, MultiplierSpec};
use crate::interrupt::Cancel;
use crate::linalg::spd_inverse;

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

#[derive(Debug, Clone, Copy)]
pub struct DddSpec {
    pub control_group: ControlGroup,
    pub base_period: BasePeriod,
    pub est_method: EstMethod,
    pub alpha: f64,
    pub bootstrap: Option<MultiplierSpec>,
}

#[derive(Debug, Clone)]
pub struct DddFit {
    /// Group-time cells (one cell, the post period of the enabling group, with two periods).
    pub fit: AttGtFit,
    pub two_period: bool,
    /// Two periods: the 2×2 DIDs of subgroup 4 against 3, 2 and 1.
    pub components: Vec<f64>,
    /// Two periods: units in subgroups 1..4.
    pub subgroup_counts: Vec<usize>,
    /// Units dropped because they miss a period the estimation uses.
    pub n_units_unbalanced: usize,
}

fn col_err(name: &str, reason: String) -> Error {
    Error::Column {
        name: name.to_string(),
        reason,
    }
}

/// Unit × period grid of a balanced panel.
struct Grid {
    n: usize,
    periods: Vec<i64>,
    y: Vec<f64>, // n × T
    x: Vec<f64>, // n × T × k
    k: usize,
    cohort: Vec<i64>,
    eligible: Vec<bool>,
    weight: Vec<f64>,
    cluster: Option<Vec<u32>>,
    n_rows_dropped: usize,
    n_already: usize,
    n_unbalanced: usize,
    notes: Vec<String>,
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

fn build_grid(inp: &DddInput, control_group: ControlGroup) -> Result<(Grid, bool, Vec<i64>)> {
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
        return Err(col_err(
            gname,
            format!(
                "only one cohort ({}) and no never-treated group: a triple difference needs a \
                 comparison group (cohort 0){}",
                glist[0],
                if two_period {
                    ""
                } else {
                    "; control_group='notyet' compares with later cohorts"
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
    if !(mw > 0.0) {
        return Err(col_err(wname, "weights sum to zero".into()));
    }
    for w in grid.weight.iter_mut() {
        *w /= mw;
    }
    Ok((grid, two_period, glist))
}

/// One triple difference of subgroup 4 against 3, 2 and 1 (`ddd_panel`'s estimate and
/// influence function, before any rescaling): returns (ATT, ψ of length n, the three DIDs).
fn ddd_core(
    dy: &[f64],
    subgroup: &[u8],
    x: &[f64],
    w: &[f64],
    k: usize,
    method: EstMethod,
) -> std::result::Result<(f64, Vec<f64>, [f64; 3]), String> {
    let n = dy.len();
    let mut att = 0.0;
    let mut psi = vec![0.0; n];
    let mut parts = [0.0; 3];
    for (slot, (comp, sign)) in [(3u8, 1.0), (2, 1.0), (1, -1.0)].into_iter().enumerate() {
        let idx: Vec<usize> = (0..n)
            .filter(|&i| subgroup[i] == 4 || subgroup[i] == comp)
            .collect();
        if !idx.iter().any(|&i| subgroup[i] == comp) {
            return Err(format!("no units in comparison subgroup {comp}"));
        }
        let sdy: Vec<f64> = idx.iter().map(|&i| dy[i]).collect();
        let sd: Vec<f64> = idx.iter().map(|&i| f64::from(subgroup[i] == 4)).collect();
        let sw: Vec<f64> = idx.iter().map(|&i| w[i]).collect();
        let mut sx = Vec::with_capacity(idx.len() * k);
        for &i in &idx {
            sx.extend_from_slice(&x[i * k..(i + 1) * k]);
        }
        let out = match method {
            EstMethod::Dr => drdid_panel(&sdy, &sd, &sx, &sw, k),
            EstMethod::Ipw => ipw_did_panel(&sdy, &sd, &sx, &sw, k),
            EstMethod::Reg => reg_did_panel(&sdy, &sd, &sx, &sw, k),
        };
        let (a, p) = out.map_err(|e| match e {
            PanelFailure::Singular => format!(
                "the propensity score or outcome regression against subgroup {comp} is singular"
            ),
            PanelFailure::ControlsTrimmed => {
                format!("trimming removed every unit of comparison subgroup {comp}")
            }
        })?;
        parts[slot] = a;
        att += sign * a;
        let scale = sign * n as f64 / idx.len() as f64;
        for (j, &i) in idx.iter().enumerate() {
            psi[i] += scale * p[j];
        }
    }
    Ok((att, psi, parts))
}

/// Subgroup of a unit with cohort `g_unit` when cohort `g` is treated.
fn subgroup_of(g_unit: i64, eligible: bool, g: i64) -> u8 {
    match (g_unit == g, eligible) {
        (true, true) => 4,
        (true, false) => 3,
        (false, true) => 2,
        (false, false) => 1,
    }
}

/// Triple differences; see the module documentation.
pub fn ddd(inp: &DddInput, spec: &DddSpec) -> Result<DddFit> {
    if !(spec.alpha > 0.0 && spec.alpha < 1.0) {
        return Err(Error::Option {
            name: "level".into(),
            reason: format!("1 - level must be in (0, 1), got {}", spec.alpha),
        });
    }
    let (grid, two_period, glist) = build_grid(inp, spec.control_group)?;
    if two_period {
        two_period_fit(grid, spec, glist)
    } else {
        staggered_fit(grid, spec, glist)
    }
}

fn unit_cohorts(grid: &Grid) -> Vec<i64> {
    grid.cohort
        .iter()
        .zip(&grid.eligible)
        .map(|(&g, &e)| if e { g } else { 0 })
        .collect()
}

fn two_period_fit(grid: Grid, spec: &DddSpec, glist: Vec<i64>) -> Result<DddFit> {
    let n = grid.n;
    let k = grid.k + 1;
    let g = glist[0];
    let dy: Vec<f64> = (0..n).map(|i| grid.y[i * 2 + 1] - grid.y[i * 2]).collect();
    let sg: Vec<u8> = (0..n)
        .map(|i| subgroup_of(grid.cohort[i], grid.eligible[i], g))
        .collect();
    let x = design(&grid, 0);
    let mut counts = vec![0usize; 4];
    for &s in &sg {
        counts[s as usize - 1] += 1;
    }
    let (att, psi, parts) = ddd_core(&dy, &sg, &x, &grid.weight, k, spec.est_method)
        .map_err(|reason| Error::Empty(format!("triple difference not estimable: {reason}")))?;
    let nf = n as f64;
    let mean = psi.iter().sum::<f64>() / nf;
    let var = psi.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (nf - 1.0);
    let mut se = vec![var.sqrt() / nf.sqrt()];
    let normal_crit = crate::inference::dist::normal_quantile(1.0 - spec.alpha / 2.0, "level")?;
    let mut boot = None;
    if let Some(bs) = &spec.bootstrap {
        let mut bs = *bs;
        bs.alpha = spec.alpha;
        let out = multiplier_bootstrap(&[psi.as_slice()], grid.cluster.as_deref(), &bs)?;
        se[0] = out.se[0];
        boot = Some(out);
    }
    let cell = Cell {
        group: g,
        time: grid.periods[1],
        base_time: grid.periods[0],
        post: true,
        att,
        n_treated: counts[3],
        n_control: n - counts[3],
        status: CellStatus::Estimated,
    };
    let fit = AttGtFit {
        cells: vec![cell],
        inf: vec![psi],
        se,
        crit_val: normal_crit,
        pretest: None,
        pretest_note: Some("two periods: no pre-treatment cells".into()),
        n_units: n,
        unit_cohort: unit_cohorts(&grid),
        unit_weight: grid.weight.clone(),
        unit_cluster: grid.cluster.clone(),
        groups: glist,
        periods: grid.periods.clone(),
        n_rows_dropped: grid.n_rows_dropped,
        n_units_already_treated: grid.n_already,
        notes: grid.notes.clone(),
        bootstrap: boot,
    };
    Ok(DddFit {
        fit,
        two_period: true,
        components: parts.to_vec(),
        subgroup_counts: counts,
        n_units_unbalanced: grid.n_unbalanced,
    })
}

/// Row-major design (intercept first) of every unit at period index `ti`.
fn design(grid: &Grid, ti: usize) -> Vec<f64> {
    let tn = grid.periods.len();
    let k = grid.k;
    let mut x = Vec::with_capacity(grid.n * (k + 1));
    for i in 0..grid.n {
        x.push(1.0);
        x.extend_from_slice(&grid.x[(i * tn + ti) * k..(i * tn + ti + 1) * k]);
    }
    x
}

/// One (g,t) cell: ATT, influence function over all units (scaled by n / n_cell), and the GMM
/// SE when several comparison cohorts were pooled.
type CellOut = (f64, Vec<f64>, Option<f64>, usize, usize);

fn cell_estimate(
    grid: &Grid,
    spec: &DddSpec,
    x_base: &[f64],
    g: i64,
    ti: usize,
    bi: usize,
) -> std::result::Result<CellOut, String> {
    let n = grid.n;
    let tn = grid.periods.len();
    let k = grid.k + 1;
    let t = grid.periods[ti];
    let max_t = t.max(grid.periods[bi]);
    let is_control = |c: i64| match spec.control_group {
        ControlGroup::NeverTreated => c == 0,
        ControlGroup::NotYetTreated => (c == 0 || c > max_t) && c != g,
    };
    let mut controls: Vec<i64> = grid
        .cohort
        .iter()
        .copied()
        .filter(|&c| is_control(c))
        .collect();
    controls.sort_unstable();
    controls.dedup();
    if controls.is_empty() {
        return Err(format!("no comparison units for ATT({g},{t})"));
    }
    let mut atts = Vec::new();
    let mut cols: Vec<Vec<f64>> = Vec::new();
    let mut n_treated = 0;
    let mut in_cell = vec![false; n];
    let mut failures = Vec::new();
    for &c in &controls {
        let idx: Vec<usize> = (0..n)
            .filter(|&i| grid.cohort[i] == g || grid.cohort[i] == c)
            .collect();
        let dy: Vec<f64> = idx
            .iter()
            .map(|&i| grid.y[i * tn + ti] - grid.y[i * tn + bi])
            .collect();
        let sg: Vec<u8> = idx
            .iter()
            .map(|&i| subgroup_of(grid.cohort[i], grid.eligible[i], g))
            .collect();
        if !sg.contains(&4) {
            return Err(format!("cohort {g} has no eligible units"));
        }
        n_treated = sg.iter().filter(|&&s| s == 4).count();
        let mut x = Vec::with_capacity(idx.len() * k);
        let w: Vec<f64> = idx.iter().map(|&i| grid.weight[i]).collect();
        for &i in &idx {
            x.extend_from_slice(&x_base[i * k..(i + 1) * k]);
        }
        match ddd_core(&dy, &sg, &x, &w, k, spec.est_method) {
            Ok((a, p, _)) => {
                let scale = n as f64 / idx.len() as f64;
                let mut col = vec![0.0; n];
                for (j, &i) in idx.iter().enumerate() {
                    col[i] = scale * p[j];
                    in_cell[i] = true;
                }
                atts.push(a);
                cols.push(col);
            }
            Err(reason) => failures.push(format!("comparison cohort {c}: {reason}")),
        }
    }
    if atts.is_empty() {
        return Err(failures.join("; "));
    }
    let n_cell = in_cell.iter().filter(|&&b| b).count();
    if atts.len() == 1 {
        let col = cols.pop().unwrap_or_default();
        return Ok((atts[0], col, None, n_treated, n_cell - n_treated));
    }
    // GMM over the comparison cohorts (moderndid `_gmm_aggregate`)
    let m = atts.len();
    let nf = n as f64;
    let means: Vec<f64> = cols.iter().map(|c| c.iter().sum::<f64>() / nf).collect();
    let mut omega = Array2::<f64>::zeros((m, m));
    for a in 0..m {
        for b in a..m {
            let s: f64 = (0..n)
                .map(|i| (cols[a][i] - means[a]) * (cols[b][i] - means[b]))
                .sum::<f64>()
                / (nf - 1.0);
            omega[[a, b]] = s;
            omega[[b, a]] = s;
        }
    }
    let inv = spd_inverse(omega.view())
        .map_err(|_| "the covariance of the comparison-cohort estimates is singular".to_string())?;
    let row: Vec<f64> = (0..m).map(|a| (0..m).map(|b| inv[[a, b]]).sum()).collect();
    let total: f64 = row.iter().sum();
    let wts: Vec<f64> = row.iter().map(|r| r / total).collect();
    let att = (0..m).map(|a| wts[a] * atts[a]).sum();
    let mut col = vec![0.0; n];
    for a in 0..m {
        for i in 0..n {
            col[i] += wts[a] * cols[a][i];
        }
    }
    let se = (1.0 / (nf * total)).sqrt();
    Ok((att, col, Some(se), n_treated, n_cell - n_treated))
}

fn staggered_fit(grid: Grid, spec: &DddSpec, glist: Vec<i64>) -> Result<DddFit> {
    let n = grid.n;
    let periods = grid.periods.clone();
    let tfac = match spec.base_period {
        BasePeriod::Varying => 1,
        BasePeriod::Universal => 0,
    };
    let designs: Vec<Vec<f64>> = (0..periods.len()).map(|ti| design(&grid, ti)).collect();
    let cancel = Cancel::current();
    let mut cells = Vec::new();
    let mut inf = Vec::new();
    let mut se = Vec::new();
    for &g in &glist {
        let Some(last_pre) = periods.iter().rposition(|&t| t < g) else {
            continue;
        };
        for ti in tfac..periods.len() {
            cancel.check()?;
            let t = periods[ti];
            let post = g <= t;
            let bi = if post || spec.base_period == BasePeriod::Universal {
                last_pre
            } else {
                ti - 1
            };
            let mut cell = Cell {
                group: g,
                time: t,
                base_time: periods[bi],
                post,
                att: 0.0,
                n_treated: 0,
                n_control: 0,
                status: CellStatus::Reference,
            };
            if bi == ti {
                cells.push(cell);
                inf.push(vec![0.0; n]);
                se.push(f64::NAN);
                continue;
            }
            match cell_estimate(&grid, spec, &designs[bi], g, ti, bi) {
                Ok((att, col, gmm_se, nt, nc)) => {
                    cell.att = att;
                    cell.n_treated = nt;
                    cell.n_control = nc;
                    cell.status = CellStatus::Estimated;
                    let s = gmm_se.unwrap_or_else(|| {
                        col.iter().map(|v| v * v).sum::<f64>().sqrt() / n as f64
                    });
                    cells.push(cell);
                    inf.push(col);
                    se.push(s);
                }
                Err(reason) => {
                    cell.att = f64::NAN;
                    cell.status = CellStatus::Skipped(reason);
                    cells.push(cell);
                    inf.push(vec![0.0; n]);
                    se.push(f64::NAN);
                }
            }
        }
    }
    if !cells.iter().any(|c| c.status == CellStatus::Estimated) {
        let why: Vec<String> = cells
            .iter()
            .filter_map(|c| match &c.status {
                CellStatus::Skipped(r) => Some(format!("ATT({},{}): {r}", c.group, c.time)),
                _ => None,
            })
            .take(3)
            .collect();
        return Err(Error::Empty(format!(
            "no ATT(g,t) could be estimated ({})",
            why.join("; ")
        )));
    }
    let tol = f64::EPSILON.sqrt() * 10.0;
    for s in se.iter_mut() {
        if *s <= tol {
            *s = f64::NAN;
        }
    }
    let normal_crit = crate::inference::dist::normal_quantile(1.0 - spec.alpha / 2.0, "level")?;
    let mut boot = None;
    if let Some(bs) = &spec.bootstrap {
        let usable: Vec<usize> = (0..cells.len()).filter(|&j| se[j].is_finite()).collect();
        if !usable.is_empty() {
            let cols: Vec<&[f64]> = usable.iter().map(|&j| inf[j].as_slice()).collect();
            let mut bs = *bs;
            bs.alpha = spec.alpha;
            let out = multiplier_bootstrap(&cols, grid.cluster.as_deref(), &bs)?;
            for (k, &j) in usable.iter().enumerate() {
                se[j] = out.se[k];
            }
            boot = Some(out);
        }
    }
    let fit = AttGtFit {
        cells,
        inf,
        se,
        crit_val: normal_crit,
        pretest: None,
        pretest_note: Some("no Wald pre-test for triple differences".into()),
        n_units: n,
        unit_cohort: unit_cohorts(&grid),
        unit_weight: grid.weight.clone(),
        unit_cluster: grid.cluster.clone(),
        groups: glist,
        periods,
        n_rows_dropped: grid.n_rows_dropped,
        n_units_already_treated: grid.n_already,
        notes: grid.notes.clone(),
        bootstrap: boot,
    };
    Ok(DddFit {
        fit,
        two_period: false,
        components: Vec::new(),
        subgroup_counts: Vec::new(),
        n_units_unbalanced: grid.n_unbalanced,
    })
}

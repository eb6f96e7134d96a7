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
//! With a cluster and analytic SEs, staggered cells and their aggregates have cluster-robust
//! SEs (√(Σ_c (Σ_{i∈c} ψ_i)²) / n, as `moderndid`); two-period fits cluster only through the
//! multiplier bootstrap (as `moderndid`, which switches the bootstrap on).
//!
//! Panels must be balanced: units missing a period that the estimation uses are dropped (with a
//! note), as `moderndid` does by default.

// Index loops mirror the matrix formulas they implement.
#![allow(clippy::needless_range_loop)]

use ndarray::Array2;

use super::aggte::{aggte, AggteFit, AggteSpec};
use super::att_gt::{AttGtFit, BasePeriod, Cell, CellStatus, ControlGroup, EstMethod};
pub use super::ddd_data::DddInput;
use super::ddd_data::{build_grid, Grid};
use super::drdid::{drdid_panel, ipw_did_panel, reg_did_panel, PanelFailure};
use crate::error::{Error, Result};
use crate::inference::multiplier::{multiplier_bootstrap, MultiplierSpec};
use crate::interrupt::Cancel;
use crate::linalg::spd_inverse;

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
            return Err(format!("no {} (subgroup {comp})", subgroup_name(comp)));
        }
        let sdy: Vec<f64> = idx.iter().map(|&i| dy[i]).collect();
        let sd: Vec<f64> = idx.iter().map(|&i| f64::from(subgroup[i] == 4)).collect();
        let sw: Vec<f64> = idx.iter().map(|&i| w[i]).collect();
        let mut sx = Vec::with_capacity(idx.len() * k);
        for &i in &idx {
            sx.extend_from_slice(&x[i * k..(i + 1) * k]);
        }
        let out = match method {
            EstMethod::Dr => drdid_panel(&sdy, &sd, &sx, &sw, k, None),
            EstMethod::Ipw => ipw_did_panel(&sdy, &sd, &sx, &sw, k, None),
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

fn subgroup_name(subgroup: u8) -> &'static str {
    match subgroup {
        4 => "eligible units of the treated cohort",
        3 => "ineligible units of the treated cohort",
        2 => "eligible units of the comparison cohort",
        _ => "ineligible units of the comparison cohort",
    }
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

/// Sums of ψ within each cluster.
fn cluster_sums(psi: &[f64], cluster: &[u32]) -> Vec<f64> {
    let m = cluster.iter().map(|&c| c as usize + 1).max().unwrap_or(0);
    let mut sums = vec![0.0; m];
    for (v, &c) in psi.iter().zip(cluster) {
        sums[c as usize] += v;
    }
    sums
}

/// Cluster-robust analytic SE of an influence function: √(Σ_c (Σ_{i∈c} ψ_i)²) / n.
fn clustered_se(psi: &[f64], cluster: &[u32]) -> f64 {
    let n = psi.len() as f64;
    cluster_sums(psi, cluster)
        .iter()
        .map(|v| v * v)
        .sum::<f64>()
        .sqrt()
        / n
}

/// `aggte` on a staggered DDD; with clusters and analytic SEs the aggregates' SEs and
/// covariance are cluster-robust (Σ over clusters of the summed influence functions, as
/// `moderndid.agg_ddd`), since `aggte` itself follows R `did`, whose analytic SEs ignore
/// clusters.
pub fn ddd_aggregate(fit: &DddFit, spec: &AggteSpec) -> Result<AggteFit> {
    if fit.two_period {
        return Err(Error::Option {
            name: "type".into(),
            reason: "a two-period triple difference has one ATT; nothing to aggregate".into(),
        });
    }
    let mut out = aggte(&fit.fit, spec)?;
    if let (Some(cl), None) = (fit.fit.unit_cluster.as_deref(), spec.bootstrap) {
        let tol = f64::EPSILON.sqrt() * 10.0;
        let kept = |v: f64| if v <= tol { f64::NAN } else { v };
        let nf = fit.fit.n_units as f64;
        let sums: Vec<Vec<f64>> = out.inf.iter().map(|c| cluster_sums(c, cl)).collect();
        for (j, sj) in sums.iter().enumerate() {
            if out.se[j].is_finite() {
                out.se[j] = kept(sj.iter().map(|v| v * v).sum::<f64>().sqrt() / nf);
            }
        }
        if out.overall_se.is_finite() {
            out.overall_se = kept(clustered_se(&out.inf_overall, cl));
        }
        let k = sums.len();
        for a in 0..k {
            for b in a..k {
                let v = sums[a]
                    .iter()
                    .zip(&sums[b])
                    .map(|(x, y)| x * y)
                    .sum::<f64>()
                    / (nf * nf);
                out.vcov[a * k + b] = v;
                out.vcov[b * k + a] = v;
            }
        }
    }
    Ok(out)
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
    if let (Some(cl), None) = (grid.cluster.as_deref(), spec.bootstrap) {
        // moderndid clusters the analytic SEs of staggered cells (GMM cells included)
        for (j, c) in cells.iter().enumerate() {
            if c.status == CellStatus::Estimated {
                se[j] = clustered_se(&inf[j], cl);
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Long columns y, time, unit, cohort, partition.
    type Columns = (Vec<f64>, Vec<i64>, Vec<u32>, Vec<f64>, Vec<f64>);

    /// 4 subgroups × 3 units, two periods; unit u has y0 = u, y1 = u + trend(subgroup) + noise.
    fn panel(partition_constant: bool) -> Columns {
        let (mut y, mut t, mut u, mut g, mut q) = (vec![], vec![], vec![], vec![], vec![]);
        let trend = [0.5, 1.0, 2.0, 4.5]; // subgroups 1..4
        for unit in 0..12u32 {
            let sg = unit / 3; // 0..3 -> subgroups 1..4
            let cohort = if sg >= 2 { 2.0 } else { 0.0 };
            let elig = if partition_constant {
                1.0
            } else {
                f64::from(sg % 2)
            };
            let noise = [0.1, -0.3, 0.2][(unit % 3) as usize];
            for period in 1..=2 {
                y.push(
                    f64::from(unit)
                        + if period == 2 {
                            trend[sg as usize] + noise
                        } else {
                            0.0
                        },
                );
                t.push(period);
                u.push(unit);
                g.push(cohort);
                q.push(elig);
            }
        }
        (y, t, u, g, q)
    }

    fn spec(method: EstMethod) -> DddSpec {
        DddSpec {
            control_group: ControlGroup::NeverTreated,
            base_period: BasePeriod::Universal,
            est_method: method,
            alpha: 0.05,
            bootstrap: None,
        }
    }

    fn names() -> [String; 7] {
        ["y", "t", "u", "g", "q", "", ""].map(String::from)
    }

    #[test]
    fn without_covariates_ddd_is_the_difference_of_mean_changes() {
        let (y, t, u, g, q) = panel(false);
        let inp = DddInput {
            y: &y,
            time: &t,
            unit: &u,
            cohort: &g,
            partition: &q,
            covariates: vec![],
            weights: None,
            cluster: None,
            names: names(),
        };
        // mean changes by subgroup: trend + mean noise (0); DDD = (4.5 - 2.0) - (1.0 - 0.5)
        for m in [EstMethod::Reg, EstMethod::Ipw, EstMethod::Dr] {
            let fit = ddd(&inp, &spec(m)).unwrap();
            assert!(fit.two_period);
            assert!((fit.fit.cells[0].att - 2.0).abs() < 1e-12);
            assert!((fit.components[0] - 2.5).abs() < 1e-12); // 4 vs 3
            assert_eq!(fit.subgroup_counts, vec![3, 3, 3, 3]);
        }
    }

    #[test]
    fn constant_partition_is_an_error_naming_the_column() {
        let (y, t, u, g, q) = panel(true);
        let inp = DddInput {
            y: &y,
            time: &t,
            unit: &u,
            cohort: &g,
            partition: &q,
            covariates: vec![],
            weights: None,
            cluster: None,
            names: names(),
        };
        let err = ddd(&inp, &spec(EstMethod::Dr)).unwrap_err().to_string();
        assert!(err.contains("'q'") && err.contains("constant"), "{err}");
    }
}

//! De Chaisemartin & D'Haultfœuille (2024, REStat 106(6), "Difference-in-differences
//! estimators of intertemporal treatment effects"): the event-study effects DID_l of
//! switchers against not-yet-switchers with the same baseline (first-period) treatment, for
//! binary, discrete or continuous treatments that may switch on and off — numerically as
//! `moderndid` 0.4.1's `did_multiplegt` (a port of R/Stata `did_multiplegt_dyn`).
//!
//! For horizon l and switchers in direction s (S_g = +1 first change up, −1 down), with
//! N_l^s the (weighted) number of switchers observed at F_g − 1 + l and G the number of groups,
//! each group's contribution is
//!   U_g = G / N_l^s Σ_t w_gt [1{t = F_g−1+l, S_g = s} − N^s_{t,d}/N^c_{t,d} 1{F_g > t}] ΔY_{g,t}
//! (ΔY = Y_t − Y_{t−l}; N^s, N^c switchers and not-yet-switched groups with the same baseline d
//! at t), and DID_l^s = Σ_g U_g / G. Both directions are combined in proportion to N_l^s, a
//! fall entering with a minus sign. Placebos use Y_{F_g−1−l} − Y_{F_g−1} at the same cells.
//! Standard errors come from the influence function with the reference's cohort demeaning
//! (switchers by (baseline, F_g, treatment at F_g), controls by (period, baseline), with the
//! union as fallback and √(n/(n−1)) small-cohort scaling), SE = √(Σ_c (Σ_{g∈c} U_g)²) / G over
//! clusters c (groups by default). Normalised effects divide by δ_l, the average cumulated
//! treatment change Σ_{k≤l} (D_{g,F_g−1+k} − D_{g,1}); the average total effect divides the
//! N-weighted average of the effects by the same average of the treatment changes at each
//! horizon. Joint tests are Wald χ² tests on the influence-function covariance. Time-varying
//! controls (`super::dcdh_controls`) purge each outcome change of θ_d'ΔX, θ_d estimated per
//! baseline d on the not-yet-switched cells, and add θ_d's estimation error to the influence
//! function. `trends_nonparam` cells split the control pools (and the variance cohorts) by
//! (baseline, cell). `trends_lin`, `same_switchers(_pl)` and the `effects_equal` test follow
//! the reference too; the cluster bootstrap (`bootstrap(reps, seed)`) is `super::dcdh_boot`,
//! which re-runs the estimator on each draw through `dcdh_points` (point estimates only).
//! Not implemented: `less_conservative_se`, `continuous` (polynomial in a continuous baseline)
//! and `predict_het`.

// Index loops mirror the cell-by-cell formulas of the reference.
#![allow(clippy::needless_range_loop)]

use std::collections::HashMap;

use ndarray::Array2;
use statrs::distribution::{ChiSquared, ContinuousCDF};

use super::dcdh_controls::{control_coefficients, ControlFit};
use super::dcdh_data::build_grid;
use super::dcdh_data::Grid;
pub use super::dcdh_data::{DcdhInput, Dropped};
use crate::error::{Error, Result};
use crate::interrupt::Cancel;
use crate::linalg::{spd_inverse, symmetric_eigenvalues};

/// Which first changes the effects are for (the reference's `switchers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switchers {
    Both,
    In,
    Out,
}

impl Switchers {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "" | "both" => Ok(Self::Both),
            "in" => Ok(Self::In),
            "out" => Ok(Self::Out),
            _ => Err(Error::Option {
                name: "switchers".into(),
                reason: format!("'{s}' is not one of '', 'in', 'out'"),
            }),
        }
    }
    fn directions(self) -> &'static [f64] {
        match self {
            Self::Both => &[1.0, -1.0],
            Self::In => &[1.0],
            Self::Out => &[-1.0],
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct DcdhSpec {
    pub effects: usize,
    pub placebo: usize,
    pub switchers: Switchers,
    pub normalized: bool,
    pub only_never_switchers: bool,
    /// Every effect uses only the switchers that reach all requested effects.
    pub same_switchers: bool,
    /// With `same_switchers`: placebos use only the switchers that reach all placebos too.
    pub same_switchers_pl: bool,
    /// Unit-specific linear trends: first-differenced outcome, cumulated horizons.
    pub trends_lin: bool,
    /// did_multiplegt_dyn's `less_conservative_se` (alias `more_granular_demeaning`): for the
    /// effects' variance, a switcher's outcome change is demeaned among the switchers with its
    /// whole treatment path from F_g to F_g − 1 + l, not only its treatment at F_g.
    pub less_conservative_se: bool,
}

/// Estimates at horizons 1..k (effects or placebos).
#[derive(Debug, Clone, Default)]
pub struct Horizons {
    pub estimate: Vec<f64>,
    pub se: Vec<f64>,
    pub n_switchers: Vec<usize>,
    pub n_obs: Vec<usize>,
    /// δ_l (average cumulated treatment change), NaN if none.
    pub delta: Vec<f64>,
    /// Covariance of the (normalised, if asked) estimates; empty if a horizon has no switcher.
    pub vcov: Vec<f64>,
    /// Influence functions, n_groups × k (row-major), of the reported estimates.
    pub influence: Vec<f64>,
}

/// A Wald test that a block of estimates is zero.
#[derive(Debug, Clone, Copy)]
pub struct JointTest {
    pub stat: f64,
    pub df: usize,
    pub p_value: f64,
}

#[derive(Debug, Clone)]
pub struct DcdhFit {
    pub effects: Horizons,
    pub placebos: Horizons,
    /// Average total effect per unit of treatment: estimate, se, n_obs, n_switchers.
    pub ate: Option<(f64, f64, usize, usize)>,
    pub joint_effects: Option<JointTest>,
    pub joint_placebos: Option<JointTest>,
    /// Wald test that all effects are equal (two or more effects).
    pub equal_effects: Option<JointTest>,
    pub n_groups: usize,
    pub n_switchers: usize,
    pub n_never_switchers: usize,
    pub n_clusters: usize,
    pub max_effects: usize,
    pub max_placebo: usize,
    pub periods: Vec<i64>,
    /// Cluster code of each group (None: groups are the clusters).
    pub group_clusters: Option<Vec<u32>>,
    pub dropped: Dropped,
    pub notes: Vec<String>,
}

/// One direction's pass at one horizon.
#[derive(Clone)]
struct Pass {
    sign: f64,
    n_switchers: usize,
    n_weighted: f64,
    estimate: f64,
    influence: Vec<f64>,
    delta: Option<f64>,
    ate_delta: f64,
}

/// Number of effects and placebos the switchers reach (the reference's `estimable_horizons`).
fn estimable(grid: &Grid, dirs: &[f64]) -> (usize, usize) {
    let (mut e, mut p) = (0.0f64, 0.0f64);
    let mut any = false;
    for g in 0..grid.n_g {
        if grid.f_g[g].is_finite() && dirs.contains(&grid.s_g[g]) {
            let eh = grid.t_g[g] - grid.f_g[g] + 1.0;
            let ph = eh.min(grid.f_g[g] - 2.0);
            if any {
                e = e.max(eh);
                p = p.max(ph);
            } else {
                (e, p, any) = (eh, ph, true);
            }
        }
    }
    if !any {
        return (0, 0);
    }
    (e.max(0.0) as usize, p.max(0.0) as usize)
}

fn nz(v: f64) -> f64 {
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

/// The switcher cohort of each group for the effect at horizon h under `less_conservative_se`,
/// as did_multiplegt_dyn: path_0 = (D_{g,1}, F_g), path_k = (path_{k-1}, D at F_g − 1 + k),
/// where a period past the panel (or a missing treatment) repeats the previous path value; a
/// group is demeaned on its full path_h when another group shares it, else on path_1, else (no
/// other group with its path_1) on path_0. Each level's cohort mean and size are over every
/// switcher on that path, whichever level those switchers are demeaned on themselves.
struct PathCohorts {
    /// Interned ids of each group's path_0, path_1 and path_h (u64::MAX: never switches).
    levels: Vec<[u64; 3]>,
    /// The id each group is demeaned on.
    chosen: Vec<u64>,
}

fn path_cohorts(grid: &Grid, h: usize) -> PathCohorts {
    let nt = grid.n_t;
    let missing = f64::NAN.to_bits();
    let mut ids: HashMap<Vec<u64>, u64> = HashMap::new();
    let mut intern = |v: Vec<u64>| -> u64 {
        let n = ids.len() as u64;
        *ids.entry(v).or_insert(n)
    };
    let mut levels: Vec<Option<[u64; 3]>> = Vec::with_capacity(grid.n_g);
    for g in 0..grid.n_g {
        let f = grid.f_g[g];
        if !f.is_finite() {
            levels.push(None);
            continue;
        }
        let mut path = vec![grid.d_sq[g].to_bits(), f.to_bits()];
        let p0 = intern(path.clone());
        let mut p1 = p0;
        let mut prev = missing;
        for k in 1..=h {
            let t = f - 1.0 + k as f64;
            let d = grid
                .times
                .iter()
                .position(|&x| x == t)
                .map(|j| grid.d[g * nt + j])
                .filter(|d| !d.is_nan());
            let v = match d {
                Some(d) => d.to_bits(),
                None if k > 1 => prev,
                None => missing,
            };
            prev = v;
            path.push(v);
            if k == 1 {
                p1 = intern(path.clone());
            }
        }
        let ph = intern(path);
        levels.push(Some([p0, p1, ph]));
    }
    let mut size: HashMap<u64, usize> = HashMap::new();
    for l in levels.iter().flatten() {
        let mut seen = *l;
        seen.sort_unstable();
        let mut last = None;
        for id in seen {
            if last != Some(id) {
                *size.entry(id).or_insert(0) += 1;
            }
            last = Some(id);
        }
    }
    let chosen = levels
        .iter()
        .map(|l| match l {
            None => u64::MAX,
            Some([p0, p1, ph]) => {
                if size[p1] <= 1 {
                    *p0
                } else if size[ph] > 1 {
                    *ph
                } else {
                    *p1
                }
            }
        })
        .collect();
    PathCohorts {
        levels: levels.iter().map(|l| l.unwrap_or([u64::MAX; 3])).collect(),
        chosen,
    }
}

fn sqrt_ratio(dof: Option<usize>) -> f64 {
    dof.map_or(1.0, |n| (n as f64 / (n as f64 - 1.0)).sqrt())
}

/// Sums of influence functions within clusters (each group its own cluster without one, or when
/// every group shares one cluster, as the reference).
fn cluster_sums(inf: &[f64], cluster: Option<&[u32]>) -> Vec<f64> {
    match cluster {
        None => inf.to_vec(),
        Some(c) => {
            let n_c = c.iter().map(|&x| x as usize + 1).max().unwrap_or(0);
            let mut s = vec![0.0; n_c];
            let mut seen = vec![false; n_c];
            for (v, &k) in inf.iter().zip(c) {
                s[k as usize] += v;
                seen[k as usize] = true;
            }
            let sums: Vec<f64> = s
                .into_iter()
                .zip(seen)
                .filter(|x| x.1)
                .map(|x| x.0)
                .collect();
            if sums.len() <= 1 {
                inf.to_vec()
            } else {
                sums
            }
        }
    }
}

struct Horizon {
    estimate: f64,
    estimate_unnorm: f64,
    se: f64,
    n_weighted: f64,
    ate_delta: f64,
    delta: f64,
    n_switchers: usize,
    inf: Option<Vec<f64>>,
    inf_unnorm: Vec<f64>,
    count: Vec<bool>,
}

/// The passes (one per switcher direction with switchers) at horizon h, and the cells used.
/// `same`: the switchers a horizon may use (`same_switchers`, `trends_lin`), None for all.
#[allow(clippy::too_many_arguments)]
fn horizon_passes(
    grid: &Grid,
    h: usize,
    placebo: bool,
    dirs: &[f64],
    spec: &DcdhSpec,
    controls: Option<&ControlFit>,
    same: Option<&[bool]>,
    point_only: bool,
) -> (Vec<Pass>, Vec<bool>) {
    let (ng, nt) = (grid.n_g, grid.n_t);
    let gf = ng as f64;
    let hf = h as f64;
    let t_max = grid.times[nt - 1];
    let allowed = |g: usize| same.map_or(true, |m| m[g]);
    let idx = |g: usize, j: usize| g * nt + j;
    let mut diff = vec![f64::NAN; ng * nt];
    let mut never = vec![f64::NAN; ng * nt];
    for g in 0..ng {
        for j in 0..nt {
            let v = if placebo {
                if j >= 2 * h {
                    grid.y[idx(g, j - 2 * h)] - grid.y[idx(g, j - h)]
                } else {
                    f64::NAN
                }
            } else if j >= h {
                grid.y[idx(g, j)] - grid.y[idx(g, j - h)]
            } else {
                f64::NAN
            };
            diff[idx(g, j)] = v;
            if !v.is_nan() {
                let t = grid.times[j];
                let f = grid.f_g[g];
                let ctrl = f > t && !(spec.only_never_switchers && f < t_max + 1.0);
                never[idx(g, j)] = if ctrl { 1.0 } else { 0.0 };
            }
        }
    }
    // control pools: same baseline (and trends_nonparam cell), same period
    let cell = |g: usize, j: usize| grid.pool[g] * nt + j;
    let mut n_control = vec![0.0; grid.n_pool * nt];
    for g in 0..ng {
        for j in 0..nt {
            let v = never[idx(g, j)] * grid.w[idx(g, j)];
            if !v.is_nan() {
                n_control[cell(g, j)] += v;
            }
        }
    }
    // controls: the outcome change loses θ_d'ΔX over the same periods (after the control flags)
    let mut dx: Vec<Vec<f64>> = Vec::new();
    if let Some(cf) = controls {
        for xc in &grid.x {
            let mut v = vec![f64::NAN; ng * nt];
            for g in 0..ng {
                for j in 0..nt {
                    v[idx(g, j)] = if placebo {
                        if j >= 2 * h {
                            xc[idx(g, j - 2 * h)] - xc[idx(g, j - h)]
                        } else {
                            f64::NAN
                        }
                    } else if j >= h {
                        xc[idx(g, j)] - xc[idx(g, j - h)]
                    } else {
                        f64::NAN
                    };
                }
            }
            dx.push(v);
        }
        for g in 0..ng {
            let c = grid.class[g];
            if !cf.useful[c] {
                continue;
            }
            for j in 0..nt {
                let k = idx(g, j);
                let fit: f64 = dx.iter().zip(&cf.theta[c]).map(|(v, t)| t * v[k]).sum();
                diff[k] -= fit;
            }
        }
    }
    let safe_nc = |g: usize, j: usize| {
        let v = n_control[cell(g, j)];
        if v == 0.0 {
            1.0
        } else {
            v
        }
    };

    let mut passes: Vec<Pass> = Vec::new();
    let mut count = vec![false; ng * nt];
    let present = |s: f64| (0..ng).any(|g| grid.s_g[g] == s);
    for &dir in dirs.iter().filter(|&&s| present(s)) {
        let mut dist = vec![f64::NAN; ng * nt];
        let mut n_treated = vec![0.0; grid.n_pool * nt];
        let mut n_weighted = 0.0;
        let mut switchers = vec![false; ng];
        for g in 0..ng {
            for j in 0..nt {
                let k = idx(g, j);
                if diff[k].is_nan() {
                    continue;
                }
                let t = grid.times[j];
                let on = t == grid.f_g[g] - 1.0 + hf
                    && allowed(g)
                    && grid.l_g[g] >= hf
                    && n_control[cell(g, j)] > 0.0
                    && (!placebo || !grid.y[k].is_nan())
                    && grid.s_g[g] == dir;
                dist[k] = if on { 1.0 } else { 0.0 };
                if grid.s_g[g] == dir && allowed(g) {
                    let dw = dist[k] * grid.w[k];
                    n_treated[cell(g, j)] += dw;
                    n_weighted += dw;
                }
                if on {
                    switchers[g] = true;
                }
            }
        }
        let n_sw = switchers.iter().filter(|&&b| b).count();
        if n_sw == 0 {
            continue;
        }
        let safe = n_weighted.max(1e-10);
        let coef = |g: usize, j: usize| {
            let k = idx(g, j);
            gf / safe * grid.w[k] * (dist[k] - n_treated[cell(g, j)] / safe_nc(g, j) * nz(never[k]))
        };
        let mut inf = vec![0.0; ng];
        for g in 0..ng {
            for j in 0..nt {
                let k = idx(g, j);
                if dist[k].is_nan() {
                    continue;
                }
                let v = coef(g, j) * nz(diff[k]);
                inf[g] += v;
                if v != 0.0 || diff[k] == 0.0 {
                    count[k] = true;
                }
            }
        }
        let estimate = inf.iter().sum::<f64>() / gf;

        // δ_l: switchers' cumulated treatment change over F_g..F_g−1+l, weighted by the weight
        // of the cell that makes them switchers at this horizon
        let mut num = 0.0;
        let mut tot_w = 0.0;
        let mut any = false;
        for g in 0..ng {
            if !grid.f_g[g].is_finite() {
                continue;
            }
            let Some(j) = (0..nt).find(|&j| dist[idx(g, j)] == 1.0) else {
                continue;
            };
            let mut s = 0.0;
            for jj in 0..nt {
                let t = grid.times[jj];
                let dv = grid.d[idx(g, jj)];
                if t >= grid.f_g[g] && t <= grid.f_g[g] - 1.0 + hf && !dv.is_nan() {
                    s += dv - grid.d_sq[g];
                }
            }
            let wg = grid.w[idx(g, j)];
            let signed = if grid.s_g[g] == 1.0 { s } else { -s };
            num += wg * signed;
            tot_w += wg;
            any = true;
        }
        let delta = (any && tot_w != 0.0).then(|| num / tot_w);

        let mut ate_num = 0.0;
        for g in 0..ng {
            if grid.s_g[g] != dir {
                continue;
            }
            for j in 0..nt {
                let k = idx(g, j);
                let v = dist[k] * grid.w[k] * grid.s_g[g] * (grid.d[k] - grid.d_sq[g]);
                if !v.is_nan() {
                    ate_num += v;
                }
            }
        }

        // a bootstrap draw needs only the estimate: no influence function for the variance
        let inf_var = if point_only {
            vec![0.0; ng]
        } else {
            // placebos keep the default cohorts: the paths follow treatment after the switch
            let paths = (spec.less_conservative_se && !placebo).then(|| path_cohorts(grid, h));
            variance_influence(
                grid,
                h,
                controls,
                paths.as_ref(),
                &dx,
                &diff,
                &dist,
                &never,
                &coef,
            )
        };
        passes.push(Pass {
            sign: dir,
            n_switchers: n_sw,
            n_weighted: safe,
            estimate,
            influence: inf_var,
            delta,
            ate_delta: ate_num / safe,
        });
    }

    (passes, count)
}

/// The influence function of one direction's pass for the variance: the outcome changes
/// demeaned within switcher cohorts / control cells with the small-cohort scaling, and (with
/// controls) the estimation error of θ_d.
#[allow(clippy::too_many_arguments)]
fn variance_influence(
    grid: &Grid,
    h: usize,
    controls: Option<&ControlFit>,
    paths: Option<&PathCohorts>,
    dx: &[Vec<f64>],
    diff: &[f64],
    dist: &[f64],
    never: &[f64],
    coef: &dyn Fn(usize, usize) -> f64,
) -> Vec<f64> {
    let (ng, nt) = (grid.n_g, grid.n_t);
    let gf = ng as f64;
    let hf = h as f64;
    let cluster = grid.cluster.as_deref();
    let idx = |g: usize, j: usize| g * nt + j;
    let cell = |g: usize, j: usize| grid.pool[g] * nt + j;
    // variance: demeaned outcome changes with small-cohort scaling
    let is_sw = |k: usize| dist[k] == 1.0 && grid.w[k] != 0.0;
    let is_ctrl = |k: usize| never[k] == 1.0 && grid.w[k] != 0.0;
    let is_union = |k: usize| (dist[k] == 1.0 || never[k] == 1.0) && grid.w[k] != 0.0;
    let clus = |g: usize| cluster.map_or(g as u32, |c| c[g]);
    type Acc = (f64, f64, Vec<u32>);
    let mut cohorts: HashMap<(usize, u64, u64), Acc> = HashMap::new();
    let mut ctrl: Vec<Acc> = vec![(0.0, 0.0, Vec::new()); grid.n_pool * nt];
    let mut union: Vec<Acc> = vec![(0.0, 0.0, Vec::new()); grid.n_pool * nt];
    let dof = |a: &Acc, unique: bool| -> usize {
        if unique {
            let mut v = a.2.clone();
            v.sort_unstable();
            v.dedup();
            v.len()
        } else {
            a.2.len()
        }
    };
    // a switcher cohort: same control pool (baseline, trends_nonparam cell), switch period and
    // treatment at the switch; or, with less_conservative_se, the same treatment path
    let ckey = |g: usize| match paths {
        Some(p) => (grid.pool[g], p.chosen[g], u64::MAX),
        None => (grid.pool[g], grid.f_g[g].to_bits(), grid.d_fg[g].to_bits()),
    };
    for g in 0..ng {
        for j in 0..nt {
            let k = idx(g, j);
            let wd = nz(diff[k]) * grid.w[k];
            if is_sw(k) {
                // a switcher enters its cohort, or each distinct level of its path
                let keys: Vec<(usize, u64, u64)> = match paths {
                    Some(p) => {
                        let mut ids = p.levels[g];
                        ids.sort_unstable();
                        let mut v: Vec<_> =
                            ids.iter().map(|&id| (grid.pool[g], id, u64::MAX)).collect();
                        v.dedup();
                        v
                    }
                    None => vec![ckey(g)],
                };
                for key in keys {
                    let a = cohorts.entry(key).or_insert((0.0, 0.0, Vec::new()));
                    a.0 += grid.w[k];
                    a.1 += wd;
                    a.2.push(clus(g));
                }
            }
            if is_ctrl(k) {
                let a = &mut ctrl[cell(g, j)];
                a.0 += grid.w[k];
                a.1 += wd;
                a.2.push(clus(g));
            }
            if is_union(k) {
                let a = &mut union[cell(g, j)];
                a.0 += grid.w[k];
                a.1 += wd;
                a.2.push(clus(g));
            }
        }
    }
    let uniq = cluster.is_some();
    // path cohorts count switchers even when clustered (as the reference)
    let uniq_sw = uniq && paths.is_none();
    let cohort_dof: HashMap<(usize, u64, u64), (usize, f64)> = cohorts
        .iter()
        .map(|(key, a)| (*key, (dof(a, uniq_sw), a.1 / a.0)))
        .collect();
    let cell_stats = |v: &Vec<Acc>| -> Vec<(usize, f64)> {
        v.iter()
            .map(|a| {
                let m = if a.0 > 0.0 { a.1 / a.0 } else { 0.0 };
                (dof(a, uniq), m)
            })
            .collect()
    };
    let ctrl_s = cell_stats(&ctrl);
    let union_s = cell_stats(&union);

    let mut inf_var = vec![0.0; ng];
    for g in 0..ng {
        // T_g is finite (a period rank), so this is the reference's (T_g - 1) >= l
        if grid.t_g[g] - 1.0 < hf {
            continue;
        }
        for j in 0..nt {
            let k = idx(g, j);
            if dist[k].is_nan() {
                continue;
            }
            let t = grid.times[j];
            if !(t >= hf + 1.0 && t <= grid.t_g[g]) {
                continue;
            }
            let at = grid.f_g[g] - 1.0 + hf == t;
            let before = t < grid.f_g[g];
            let (dof_s, mean_s) = if is_sw(k) {
                let c = cohort_dof[&ckey(g)];
                (Some(c.0), c.1)
            } else {
                (None, 0.0)
            };
            let (dof_ns, mean_ns) = if is_ctrl(k) {
                let c = ctrl_s[cell(g, j)];
                (Some(c.0), c.1)
            } else {
                (None, 0.0)
            };
            let (dof_u, mean_u) = if is_union(k) {
                let c = union_s[cell(g, j)];
                (Some(c.0), c.1)
            } else {
                (None, 0.0)
            };
            let s = dof_s.unwrap_or(9999);
            let ns = dof_ns.unwrap_or(9999);
            let u = dof_u.unwrap_or(9999);
            let union_case = u >= 2 && ((at && s == 1) || (before && ns == 1));
            let scale = if at && s > 1 {
                sqrt_ratio(dof_s)
            } else if before && ns > 1 {
                sqrt_ratio(dof_ns)
            } else if union_case {
                sqrt_ratio(dof_u)
            } else {
                1.0
            };
            let e_hat = if !(at || before) {
                0.0
            } else if at && s >= 2 {
                mean_s
            } else if before && ns >= 2 {
                mean_ns
            } else if union_case {
                mean_u
            } else {
                0.0
            };
            inf_var[g] += coef(g, j) * scale * (nz(diff[k]) - e_hat);
        }
    }
    if let Some(cf) = controls {
        // the estimation error of θ_d (the reference's "part2"; note its T_g − 2)
        let k_x = dx.len();
        let mut m = vec![vec![0.0; k_x]; grid.n_class];
        for g in 0..ng {
            if grid.t_g[g] - 2.0 < hf {
                continue;
            }
            for j in 0..nt {
                let k = idx(g, j);
                let t = grid.times[j];
                if dist[k].is_nan() || !(t >= hf + 1.0 && t <= grid.t_g[g]) {
                    continue;
                }
                let comparison = coef(g, j) / gf;
                for c in 0..k_x {
                    let v = comparison * dx[c][k];
                    if !v.is_nan() {
                        m[grid.class[g]][c] += v;
                    }
                }
            }
        }
        let shift: f64 = (0..grid.n_class)
            .filter(|&l| cf.useful[l])
            .map(|l| (0..k_x).map(|c| m[l][c] * cf.theta[l][c]).sum::<f64>())
            .sum();
        for g in 0..ng {
            let l = grid.class[g];
            let own: f64 = if cf.useful[l] {
                (0..k_x).map(|c| m[l][c] * cf.influence[g][c]).sum()
            } else {
                0.0
            };
            inf_var[g] -= own - shift;
        }
    }
    inf_var
}

/// Combines the directions' passes in proportion to their weighted switchers.
fn combine(
    passes: &[Pass],
    count: Vec<bool>,
    ng: usize,
    spec: &DcdhSpec,
    cluster: Option<&[u32]>,
) -> Horizon {
    let gf = ng as f64;
    if passes.is_empty() {
        return Horizon {
            estimate: f64::NAN,
            estimate_unnorm: f64::NAN,
            se: f64::NAN,
            n_weighted: 0.0,
            ate_delta: 0.0,
            delta: f64::NAN,
            n_switchers: 0,
            inf: None,
            inf_unnorm: vec![0.0; ng],
            count,
        };
    }
    let n_w: f64 = passes.iter().map(|p| p.n_weighted).sum();
    let shares: Vec<f64> = passes.iter().map(|p| p.n_weighted / n_w).collect();
    let est: f64 = passes
        .iter()
        .zip(&shares)
        .map(|(p, s)| s * p.sign * p.estimate)
        .sum();
    let deltas: Vec<f64> = passes
        .iter()
        .zip(&shares)
        .filter_map(|(p, s)| p.delta.map(|d| s * d))
        .collect();
    let delta = if deltas.is_empty() {
        None
    } else {
        Some(deltas.iter().sum::<f64>())
    };
    let ate_delta: f64 = passes
        .iter()
        .zip(&shares)
        .map(|(p, s)| s * p.ate_delta)
        .sum();
    let mut inf = vec![0.0; ng];
    for (p, s) in passes.iter().zip(&shares) {
        for g in 0..ng {
            inf[g] += s * p.sign * p.influence[g];
        }
    }
    let sums = cluster_sums(&inf, cluster);
    let se_unnorm = sums.iter().map(|v| v * v).sum::<f64>().sqrt() / gf;
    let norm = spec.normalized && delta.is_some_and(|d| d != 0.0);
    let dd = delta.unwrap_or(f64::NAN);
    let (estimate, se, inf_rep) = if norm {
        (
            est / dd,
            se_unnorm / dd,
            inf.iter().map(|v| v / dd).collect(),
        )
    } else {
        (est, se_unnorm, inf.clone())
    };
    Horizon {
        estimate,
        estimate_unnorm: est,
        se,
        n_weighted: n_w,
        ate_delta,
        delta: dd,
        n_switchers: passes.iter().map(|p| p.n_switchers).sum(),
        inf: Some(inf_rep),
        inf_unnorm: inf,
        count,
    }
}

fn both(a: &[bool], b: Option<&[bool]>) -> Vec<bool> {
    match b {
        Some(b) => a.iter().zip(b).map(|(x, y)| *x && *y).collect(),
        None => a.to_vec(),
    }
}

/// Whether each group reaches horizon `lag` (negative: placebo −lag): its outcome change from
/// F_g − 1 is observed and a not-yet-switched group of its pool has one over the same periods
/// (the reference's `_reaches_horizon`).
fn reaches(grid: &Grid, lag: i64, only_never: bool) -> Vec<bool> {
    let (ng, nt) = (grid.n_g, grid.n_t);
    let t_max = grid.times[nt - 1];
    let a = lag.unsigned_abs() as usize;
    let diff = |g: usize, j: usize| -> f64 {
        let other = if lag > 0 {
            j.checked_sub(a)
        } else {
            Some(j + a).filter(|&x| x < nt)
        };
        other.map_or(f64::NAN, |o| grid.y[g * nt + j] - grid.y[g * nt + o])
    };
    let mut flag = vec![0.0; grid.n_pool * nt];
    for g in 0..ng {
        for j in 0..nt {
            if diff(g, j).is_nan() || grid.f_g[g] <= grid.times[j] {
                continue;
            }
            let c = if only_never && grid.f_g[g] < t_max + 1.0 {
                0.0
            } else {
                1.0
            };
            flag[grid.pool[g] * nt + j] += c * grid.w[g * nt + j];
        }
    }
    (0..ng)
        .map(|g| {
            let target = grid.f_g[g] - 1.0 + lag as f64;
            (0..nt)
                .find(|&j| grid.times[j] == target)
                .is_some_and(|j| flag[grid.pool[g] * nt + j] > 0.0 && !diff(g, j).is_nan())
        })
        .collect()
}

/// The switchers that reach effects 1..n_eff (within T_g) and, if n_pl > 0, placebos 1..n_pl.
fn same_switcher_mask(
    grid: &Grid,
    n_eff: usize,
    n_pl: usize,
    only_never: bool,
) -> (Vec<bool>, Option<Vec<bool>>) {
    let mut eff: Vec<bool> = (0..grid.n_g)
        .map(|g| grid.f_g[g] - 1.0 + n_eff as f64 <= grid.t_g[g])
        .collect();
    for lag in 1..=n_eff as i64 {
        let r = reaches(grid, lag, only_never);
        eff.iter_mut().zip(&r).for_each(|(a, b)| *a &= *b);
    }
    let pl = (n_pl > 0).then(|| {
        let mut m = vec![true; grid.n_g];
        for lag in 1..=n_pl as i64 {
            let r = reaches(grid, -lag, only_never);
            m.iter_mut().zip(&r).for_each(|(a, b)| *a &= *b);
        }
        m
    });
    (eff, pl)
}

/// The covariance of estimates from their influence functions (columns), over clusters.
fn vcov_from(infs: &[Vec<f64>], cluster: Option<&[u32]>, gf: f64) -> Vec<f64> {
    let k = infs.len();
    let sums: Vec<Vec<f64>> = infs.iter().map(|f| cluster_sums(f, cluster)).collect();
    let mut v = vec![0.0; k * k];
    for a in 0..k {
        for b in 0..k {
            v[a * k + b] = sums[a]
                .iter()
                .zip(&sums[b])
                .map(|(x, y)| x * y)
                .sum::<f64>()
                / (gf * gf);
        }
    }
    v
}

/// Wald test that all (non-NaN) estimates are zero; NaN statistic if the covariance is
/// singular (an eigenvalue ≤ 1e-10, as the reference).
fn joint_test(est: &[f64], vcov: &[f64]) -> Result<Option<JointTest>> {
    let k = est.len();
    if vcov.len() != k * k {
        return Ok(None);
    }
    let keep: Vec<usize> = (0..k).filter(|&i| !est[i].is_nan()).collect();
    let m = keep.len();
    if m == 0 {
        return Ok(None);
    }
    let v = Array2::from_shape_fn((m, m), |(a, b)| vcov[keep[a] * k + keep[b]]);
    let ev = symmetric_eigenvalues(v.view())?;
    if ev.iter().filter(|&&e| e > 1e-10).count() < m {
        return Ok(Some(JointTest {
            stat: f64::NAN,
            df: m,
            p_value: f64::NAN,
        }));
    }
    let vi = spd_inverse(v.view())?;
    let b: Vec<f64> = keep.iter().map(|&i| est[i]).collect();
    let mut stat = 0.0;
    for a in 0..m {
        for c in 0..m {
            stat += b[a] * vi[[a, c]] * b[c];
        }
    }
    let chi = ChiSquared::new(m as f64).map_err(|e| Error::Numerical(e.to_string()))?;
    Ok(Some(JointTest {
        stat,
        df: m,
        p_value: 1.0 - chi.cdf(stat),
    }))
}

/// Wald test that all effects are equal (the reference's `effects_equal`): the deviations from
/// their mean, D b with D = [I_{k−1} 0] − 1/k, against D V D'.
fn equality_test(est: &[f64], vcov: &[f64]) -> Result<Option<JointTest>> {
    let k = est.len();
    if k < 2 || vcov.len() != k * k || est.iter().any(|v| v.is_nan()) {
        return Ok(None);
    }
    let m = k - 1;
    let kf = k as f64;
    let dm = |r: usize, c: usize| f64::from(u8::from(r == c)) - 1.0 / kf;
    let db: Vec<f64> = (0..m)
        .map(|r| (0..k).map(|c| dm(r, c) * est[c]).sum())
        .collect();
    let mut dvd = Array2::<f64>::zeros((m, m));
    for r in 0..m {
        for c in 0..m {
            let mut v = 0.0;
            for a in 0..k {
                for b in 0..k {
                    v += dm(r, a) * vcov[a * k + b] * dm(c, b);
                }
            }
            dvd[[r, c]] = v;
        }
    }
    let sym = Array2::from_shape_fn((m, m), |(r, c)| 0.5 * (dvd[[r, c]] + dvd[[c, r]]));
    let ev = symmetric_eigenvalues(sym.view())?;
    if ev.iter().filter(|&&e| e > 1e-10).count() < m {
        return Ok(Some(JointTest {
            stat: f64::NAN,
            df: m,
            p_value: f64::NAN,
        }));
    }
    let vi = spd_inverse(sym.view())?;
    let mut stat = 0.0;
    for a in 0..m {
        for c in 0..m {
            stat += db[a] * vi[[a, c]] * db[c];
        }
    }
    let chi = ChiSquared::new(m as f64).map_err(|e| Error::Numerical(e.to_string()))?;
    Ok(Some(JointTest {
        stat,
        df: m,
        p_value: 1.0 - chi.cdf(stat),
    }))
}

fn collect(hs: &[Horizon], grid: &Grid, cluster: Option<&[u32]>) -> Horizons {
    let ng = grid.n_g;
    let all = hs.iter().all(|h| h.inf.is_some());
    let infs: Vec<Vec<f64>> = hs.iter().filter_map(|h| h.inf.clone()).collect();
    let mut influence = vec![0.0; ng * infs.len()];
    for (c, f) in infs.iter().enumerate() {
        for g in 0..ng {
            influence[g * infs.len() + c] = f[g];
        }
    }
    Horizons {
        estimate: hs.iter().map(|h| h.estimate).collect(),
        se: hs.iter().map(|h| h.se).collect(),
        n_switchers: hs.iter().map(|h| h.n_switchers).collect(),
        n_obs: hs
            .iter()
            .map(|h| h.count.iter().filter(|&&b| b).count())
            .collect(),
        delta: hs.iter().map(|h| h.delta).collect(),
        vcov: if all && !hs.is_empty() {
            vcov_from(&infs, cluster, ng as f64)
        } else {
            Vec::new()
        },
        influence,
    }
}

/// Effects 1..spec.effects and placebos 1..spec.placebo on the grid (`point_only`: without
/// the variance part of the influence functions, for bootstrap draws).
fn estimate_horizons(
    grid: &Grid,
    spec: &DcdhSpec,
    names: &[String],
    point_only: bool,
    cancel: Cancel,
) -> Result<(Vec<Horizon>, Vec<Horizon>)> {
    let cluster = grid.cluster.as_deref();
    let ctrl = control_coefficients(grid, names)?;
    let ctrl = ctrl.as_ref();
    let ng = grid.n_g;
    let dirs = spec.switchers.directions();
    // same_switchers (without trends_lin): one mask for all horizons
    let fixed = (spec.same_switchers && !spec.trends_lin).then(|| {
        let n_pl = if spec.same_switchers_pl {
            spec.placebo
        } else {
            0
        };
        same_switcher_mask(grid, spec.effects, n_pl, spec.only_never_switchers)
    });
    let mut eff = Vec::with_capacity(spec.effects);
    let mut pl = Vec::with_capacity(spec.placebo);
    for (placebo, n_h) in [(false, spec.effects), (true, spec.placebo)] {
        for h in 1..=n_h {
            cancel.check()?;
            let out = if spec.trends_lin {
                // the sum of the horizon-1..h estimates on the switchers that reach h
                let (e_mask, p_mask) = same_switcher_mask(
                    grid,
                    h,
                    if placebo { h } else { 0 },
                    spec.only_never_switchers,
                );
                let mask = both(&e_mask, p_mask.as_deref());
                let mut sums: Vec<(Pass, usize)> = Vec::new();
                let mut count = Vec::new();
                for step in 1..=h {
                    let (passes, c) = horizon_passes(
                        grid,
                        step,
                        placebo,
                        dirs,
                        spec,
                        ctrl,
                        Some(&mask),
                        point_only,
                    );
                    count = c;
                    for p in passes {
                        match sums.iter_mut().find(|(q, _)| q.sign == p.sign) {
                            Some((q, n)) => {
                                q.estimate += p.estimate;
                                for (a, b) in q.influence.iter_mut().zip(&p.influence) {
                                    *a += b;
                                }
                                (q.n_switchers, q.n_weighted, q.delta, q.ate_delta) =
                                    (p.n_switchers, p.n_weighted, p.delta, p.ate_delta);
                                *n += 1;
                            }
                            None => sums.push((p, 1)),
                        }
                    }
                }
                let passes: Vec<Pass> = dirs
                    .iter()
                    .filter_map(|d| sums.iter().find(|(q, n)| q.sign == *d && *n == h))
                    .map(|(q, _)| q.clone())
                    .collect();
                combine(&passes, count, ng, spec, cluster)
            } else {
                let mask = fixed.as_ref().map(|(e, p)| {
                    if placebo && spec.same_switchers_pl {
                        both(e, p.as_deref())
                    } else {
                        e.clone()
                    }
                });
                let (passes, count) = horizon_passes(
                    grid,
                    h,
                    placebo,
                    dirs,
                    spec,
                    ctrl,
                    mask.as_deref(),
                    point_only,
                );
                combine(&passes, count, ng, spec, cluster)
            };
            if placebo {
                pl.push(out);
            } else {
                eff.push(out);
            }
        }
    }
    Ok((eff, pl))
}

/// The average total effect per unit of treatment: the N-weighted effects over the N-weighted
/// treatment changes (estimate, se, n_obs, n_switchers); None with trends_lin (as the reference)
/// or when the treatment changes average zero.
fn average_total_effect(
    eff: &[Horizon],
    grid: &Grid,
    spec: &DcdhSpec,
) -> Option<(f64, f64, usize, usize)> {
    let cluster = grid.cluster.as_deref();
    let gf = grid.n_g as f64;

    // average total effect: N-weighted effects over N-weighted treatment changes
    let valid: Vec<usize> = (0..eff.len())
        .filter(|&i| !eff[i].estimate_unnorm.is_nan() && eff[i].n_weighted > 0.0)
        .collect();
    // the reference leaves the average total effect out with trends_lin
    if !valid.is_empty() && !spec.trends_lin {
        let tot: f64 = valid.iter().map(|&i| eff[i].n_weighted).sum();
        let wts: Vec<f64> = valid.iter().map(|&i| eff[i].n_weighted / tot).collect();
        let mean: f64 = valid
            .iter()
            .zip(&wts)
            .map(|(&i, w)| w * eff[i].estimate_unnorm)
            .sum();
        let denom: f64 = valid
            .iter()
            .zip(&wts)
            .map(|(&i, w)| w * eff[i].ate_delta)
            .sum();
        if denom != 0.0 {
            let mut inf = vec![0.0; grid.n_g];
            for (&i, w) in valid.iter().zip(&wts) {
                for g in 0..grid.n_g {
                    inf[g] += w * eff[i].inf_unnorm[g];
                }
            }
            let inf: Vec<f64> = inf.iter().map(|v| v / denom).collect();
            let sums = cluster_sums(&inf, cluster);
            let se = sums.iter().map(|v| v * v).sum::<f64>().sqrt() / gf;
            let n_obs = (0..grid.n_g * grid.n_t)
                .filter(|&k| valid.iter().any(|&i| eff[i].count[k]))
                .count();
            let n_sw = valid.iter().map(|&i| eff[i].n_switchers).sum();
            return Some((mean / denom, se, n_obs, n_sw));
        }
    }
    None
}

/// DID_l effects, placebos, the average total effect and joint tests (see the module doc).
pub fn dcdh(input: &DcdhInput, spec: &DcdhSpec) -> Result<DcdhFit> {
    let cancel = Cancel::current();
    if spec.effects == 0 {
        return Err(Error::Option {
            name: "window".into(),
            reason: "at least one effect is needed".into(),
        });
    }
    let grid = build_grid(input, spec.trends_lin)?;
    let dname = &input.names[3];
    let dirs = spec.switchers.directions();
    let (max_e, max_p) = estimable(&grid, dirs);
    // the differenced outcome of trends_lin starts one period later: one placebo fewer fits
    let max_p = if spec.trends_lin {
        max_p.saturating_sub(1)
    } else {
        max_p
    };
    if max_e == 0 {
        let kind = match spec.switchers {
            Switchers::In => " whose treatment increases",
            Switchers::Out => " whose treatment decreases",
            Switchers::Both => "",
        };
        return Err(Error::Empty(format!(
            "no effect can be estimated: no unit{kind} switches '{dname}' while a unit with the \
             same baseline (first-period) treatment has not switched yet"
        )));
    }
    if spec.effects > max_e {
        return Err(Error::Option {
            name: "window".into(),
            reason: format!(
                "{} effects asked, but the switchers reach at most {max_e} periods after their \
                 first switch with a not-yet-switched comparison group: use an upper end of at \
                 most {max_e}",
                spec.effects
            ),
        });
    }
    let cap = max_p.min(spec.effects);
    if spec.placebo > cap {
        let why = if spec.placebo > max_p {
            format!(
                "the switchers have at most {max_p} periods before their first switch to compare"
            )
        } else {
            "placebos cannot outnumber effects".to_string()
        };
        return Err(Error::Option {
            name: "window".into(),
            reason: format!(
                "{} placebos asked, at most {cap} possible ({why}): use a lower end of at least -{cap}",
                spec.placebo
            ),
        });
    }
    let names: Vec<String> = input.controls.iter().map(|c| c.0.clone()).collect();
    let (eff, pl) = estimate_horizons(&grid, spec, &names, false, cancel)?;
    let ate = average_total_effect(&eff, &grid, spec);
    let cluster = grid.cluster.as_deref();
    let effects = collect(&eff, &grid, cluster);
    let placebos = collect(&pl, &grid, cluster);
    let joint_effects = if effects.estimate.len() > 1 {
        joint_test(&effects.estimate, &effects.vcov)?
    } else {
        None
    };
    let joint_placebos = if placebos.estimate.len() > 1 {
        joint_test(&placebos.estimate, &placebos.vcov)?
    } else {
        None
    };
    let equal_effects = equality_test(&effects.estimate, &effects.vcov)?;
    let n_switchers = (0..grid.n_g)
        .filter(|&g| grid.f_g[g].is_finite() && dirs.contains(&grid.s_g[g]))
        .count();
    let n_never = grid.f_g.iter().filter(|f| !f.is_finite()).count();
    let n_clusters = match &grid.cluster {
        Some(c) => {
            let mut v = c.clone();
            v.sort_unstable();
            v.dedup();
            v.len()
        }
        None => grid.n_g,
    };
    let mut notes = Vec::new();
    if grid.dropped.bidirectional > 0 {
        notes.push(format!(
            "{} rows dropped after a unit's treatment had been both above and below its baseline",
            grid.dropped.bidirectional
        ));
    }
    Ok(DcdhFit {
        effects,
        placebos,
        ate,
        joint_effects,
        joint_placebos,
        equal_effects,
        n_groups: grid.n_g,
        n_switchers,
        n_never_switchers: n_never,
        n_clusters,
        max_effects: max_e,
        max_placebo: max_p,
        periods: grid.periods.clone(),
        group_clusters: grid.cluster.clone(),
        dropped: grid.dropped,
        notes,
    })
}

/// The point estimates of one bootstrap draw (effects, placebos, average total effect).
#[derive(Debug, Clone)]
pub(crate) struct DrawEstimates {
    pub effects: Vec<f64>,
    pub placebos: Vec<f64>,
    pub ate: Option<f64>,
}

/// Point estimates on a bootstrap draw, as the reference's draws: the draw estimates the
/// horizons its own switchers reach (min of the asked and the reachable effects and placebos;
/// the rest are NaN), and a draw in which no effect can be estimated is `None`.
pub(crate) fn dcdh_points(input: &DcdhInput, spec: &DcdhSpec) -> Result<Option<DrawEstimates>> {
    let cancel = Cancel::current();
    let grid = build_grid(input, spec.trends_lin)?;
    let (max_e, max_p) = estimable(&grid, spec.switchers.directions());
    let max_p = if spec.trends_lin {
        max_p.saturating_sub(1)
    } else {
        max_p
    };
    if max_e == 0 {
        return Ok(None);
    }
    let draw_spec = DcdhSpec {
        effects: spec.effects.min(max_e),
        placebo: spec.placebo.min(max_p),
        ..*spec
    };
    let names: Vec<String> = input.controls.iter().map(|c| c.0.clone()).collect();
    let (eff, pl) = estimate_horizons(&grid, &draw_spec, &names, true, cancel)?;
    let pad = |h: &[Horizon], n: usize| -> Vec<f64> {
        (0..n)
            .map(|i| h.get(i).map_or(f64::NAN, |x| x.estimate))
            .collect()
    };
    let ate = average_total_effect(&eff, &grid, &draw_spec).map(|a| a.0);
    Ok(Some(DrawEstimates {
        effects: pad(&eff, spec.effects),
        placebos: pad(&pl, spec.placebo),
        ate,
    }))
}

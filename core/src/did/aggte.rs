//! Aggregations of ATT(g,t) (R `did::aggte` → `compute.aggte`): "simple", "group",
//! "dynamic" (event study, with `min_e`, `max_e`, `balance_e`) and "calendar".
//!
//! Each aggregate is Σ_j w_j ATT(g_j, t_j) with weights proportional to the cohort shares
//! P(G = g) (estimated as the weighted share of units); its influence function is
//! Σ_j w_j ψ_j plus, where the weights are estimated (simple, dynamic, calendar and the overall
//! group average), R's `wif` term for the estimation of the shares. Analytic SE =
//! sqrt(Σψ²)/n. Cells skipped in `att_gt` are left out (R drops NA cells); universal-base
//! reference cells enter with ATT 0 and a zero influence function, as in R.
//!
//! [`CohortShares::Fixed`] drops the `wif` term: inference conditional on the realized cohort
//! sizes, for designs where the adopting units are fixed rather than sampled (the estimand is
//! then Σ_j w_j ATT(g_j, t_j) with the sample's shares as constants).

use super::att_gt::{AttGtFit, CellStatus};
use crate::error::{Error, Result};
use crate::inference::dist::normal_quantile;
use crate::inference::multiplier::{crit_value, multiplier_bootstrap, MultiplierSpec};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggType {
    Simple,
    Group,
    Dynamic,
    Calendar,
}

impl AggType {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "simple" => Ok(Self::Simple),
            "group" => Ok(Self::Group),
            "dynamic" => Ok(Self::Dynamic),
            "calendar" => Ok(Self::Calendar),
            other => Err(Error::Option {
                name: "type".into(),
                reason: format!("'{other}' is not one of 'simple', 'group', 'dynamic', 'calendar'"),
            }),
        }
    }
}

/// How the cohort-share weights of an aggregate enter its influence function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CohortShares {
    /// R `did::aggte` / moderndid: the shares are estimates of P(G = g) and their influence
    /// (`wif`) is added, for the population-weighted ATT with cohort membership sampled.
    #[default]
    Estimated,
    /// The shares are the realized cohort sizes, treated as fixed (no `wif` term): inference
    /// conditional on the cohort sizes, for the sample-weighted ATT of a fixed design.
    Fixed,
}

impl CohortShares {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "estimated" => Ok(Self::Estimated),
            "fixed" => Ok(Self::Fixed),
            other => Err(Error::Option {
                name: "cohort_shares".into(),
                reason: format!("'{other}' is not one of 'estimated', 'fixed'"),
            }),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct AggteSpec {
    pub kind: AggType,
    /// Event-time window (dynamic; `max_e` also limits simple and group as in R).
    pub min_e: f64,
    pub max_e: f64,
    /// Balance the event study on cohorts observed for `balance_e` periods after treatment.
    pub balance_e: Option<i64>,
    pub alpha: f64,
    pub bootstrap: Option<MultiplierSpec>,
    pub cband: bool,
    /// Whether the share weights' estimation enters the influence function (R's `wif`).
    pub cohort_shares: CohortShares,
}

#[derive(Debug, Clone)]
pub struct AggteFit {
    pub kind: AggType,
    /// Group, event time or calendar period of each aggregate (empty for "simple").
    pub egt: Vec<i64>,
    pub att: Vec<f64>,
    pub se: Vec<f64>,
    pub overall_att: f64,
    pub overall_se: f64,
    /// Critical value for the egt intervals (uniform with cband).
    pub crit_val: f64,
    /// Analytic covariance of the egt aggregates, row-major k×k: Σ_i ψ_ia ψ_ib / n².
    pub vcov: Vec<f64>,
    /// Influence functions of the egt aggregates (one column per egt) and of the overall one.
    pub inf: Vec<Vec<f64>>,
    pub inf_overall: Vec<f64>,
    pub notes: Vec<String>,
}

struct Kept {
    group: Vec<i64>,
    time: Vec<i64>,
    att: Vec<f64>,
    cols: Vec<usize>,
}

/// Aggregate an [`AttGtFit`].
pub fn aggte(fit: &AttGtFit, spec: &AggteSpec) -> Result<AggteFit> {
    if spec.cband && spec.bootstrap.is_none() {
        return Err(Error::Option {
            name: "cband".into(),
            reason: "a uniform confidence band needs the multiplier bootstrap (bstrap=True)".into(),
        });
    }
    if spec.min_e > spec.max_e {
        return Err(Error::Option {
            name: "min_e".into(),
            reason: format!("min_e ({}) exceeds max_e ({})", spec.min_e, spec.max_e),
        });
    }
    let n = fit.n_units;
    let nf = n as f64;
    let mut notes = Vec::new();
    let mut kept = Kept {
        group: Vec::new(),
        time: Vec::new(),
        att: Vec::new(),
        cols: Vec::new(),
    };
    for (j, c) in fit.cells.iter().enumerate() {
        if matches!(c.status, CellStatus::Skipped(_)) {
            continue;
        }
        kept.group.push(c.group);
        kept.time.push(c.time);
        kept.att.push(c.att);
        kept.cols.push(j);
    }
    let n_skipped = fit.cells.len() - kept.cols.len();
    if n_skipped > 0 {
        notes.push(format!("{n_skipped} skipped (g,t) cells left out"));
    }
    if kept.cols.is_empty() {
        return Err(Error::Empty("no estimated ATT(g,t) to aggregate".into()));
    }
    // cohort shares P(G = g), weighted
    let glist = &fit.groups;
    let pg_of = |g: i64| -> f64 {
        fit.unit_cohort
            .iter()
            .zip(&fit.unit_weight)
            .filter(|(c, _)| **c == g)
            .map(|(_, w)| *w)
            .sum::<f64>()
            / nf
    };
    let pgg: Vec<f64> = glist.iter().map(|&g| pg_of(g)).collect();
    let pg: Vec<f64> = kept
        .group
        .iter()
        .map(|g| glist.iter().position(|x| x == g).map_or(0.0, |p| pgg[p]))
        .collect();
    let inf = |k: usize| -> &[f64] { fit.inf[kept.cols[k]].as_slice() };

    // Σ_k w_k ψ_k + wif · att
    let shares_estimated = spec.cohort_shares == CohortShares::Estimated;
    let combine = |which: &[usize], with_wif: bool| -> (f64, Vec<f64>) {
        let s: f64 = which.iter().map(|&k| pg[k]).sum();
        let mut out = vec![0.0; n];
        let mut est = 0.0;
        for &k in which {
            let wk = pg[k] / s;
            est += wk * kept.att[k];
            for (o, v) in out.iter_mut().zip(inf(k)) {
                *o += wk * v;
            }
        }
        if with_wif && shares_estimated {
            let groups: Vec<i64> = which.iter().map(|&k| kept.group[k]).collect();
            let pgs: Vec<f64> = which.iter().map(|&k| pg[k]).collect();
            let atts: Vec<f64> = which.iter().map(|&k| kept.att[k]).collect();
            add_wif(
                &mut out,
                &fit.unit_cohort,
                &fit.unit_weight,
                &groups,
                &pgs,
                &atts,
            );
        }
        (est, out)
    };

    let mut egt = Vec::new();
    let mut att = Vec::new();
    let mut infs: Vec<Vec<f64>> = Vec::new();
    let overall_att;
    let inf_overall;
    let nk = kept.cols.len();
    let in_window = |k: usize| {
        let g = kept.group[k];
        let t = kept.time[k];
        g <= t && (t - g) as f64 <= spec.max_e
    };
    match spec.kind {
        AggType::Simple => {
            let keep: Vec<usize> = (0..nk).filter(|&k| in_window(k)).collect();
            if keep.is_empty() {
                return Err(Error::Empty(
                    "no post-treatment ATT(g,t) to aggregate".into(),
                ));
            }
            let (e, f) = combine(&keep, true);
            overall_att = e;
            inf_overall = f;
        }
        AggType::Group => {
            let mut pg_used = Vec::new();
            let mut g_used = Vec::new();
            for (gi, &g) in glist.iter().enumerate() {
                let which: Vec<usize> = (0..nk)
                    .filter(|&k| kept.group[k] == g && in_window(k))
                    .collect();
                if which.is_empty() {
                    notes.push(format!(
                        "group {g} has no post-treatment ATT(g,t); left out"
                    ));
                    continue;
                }
                let (e, f) = combine(&which, false);
                egt.push(g);
                att.push(e);
                infs.push(f);
                pg_used.push(pgg[gi]);
                g_used.push(g);
            }
            if egt.is_empty() {
                return Err(Error::Empty(
                    "no post-treatment ATT(g,t) to aggregate".into(),
                ));
            }
            let s: f64 = pg_used.iter().sum();
            let mut f = vec![0.0; n];
            let mut e = 0.0;
            for (k, col) in infs.iter().enumerate() {
                let wk = pg_used[k] / s;
                e += wk * att[k];
                for (o, v) in f.iter_mut().zip(col) {
                    *o += wk * v;
                }
            }
            if shares_estimated {
                add_wif(
                    &mut f,
                    &fit.unit_cohort,
                    &fit.unit_weight,
                    &g_used,
                    &pg_used,
                    &att,
                );
            }
            overall_att = e;
            inf_overall = f;
        }
        AggType::Dynamic => {
            let max_t = *kept.time.iter().max().unwrap_or(&0);
            let min_t = *kept.time.iter().min().unwrap_or(&0);
            let include: Vec<bool> = (0..nk)
                .map(|k| spec.balance_e.map_or(true, |b| max_t - kept.group[k] >= b))
                .collect();
            let mut eseq: Vec<i64> = (0..nk)
                .filter(|&k| include[k])
                .map(|k| kept.time[k] - kept.group[k])
                .collect();
            eseq.sort_unstable();
            eseq.dedup();
            if let Some(b) = spec.balance_e {
                eseq.retain(|&e| e <= b && e >= b - max_t + min_t);
            }
            eseq.retain(|&e| e as f64 >= spec.min_e && e as f64 <= spec.max_e);
            if eseq.is_empty() {
                return Err(Error::Empty(
                    "no event times left after min_e / max_e / balance_e".into(),
                ));
            }
            for &e in &eseq {
                let which: Vec<usize> = (0..nk)
                    .filter(|&k| include[k] && kept.time[k] - kept.group[k] == e)
                    .collect();
                let (a, f) = combine(&which, true);
                egt.push(e);
                att.push(a);
                infs.push(f);
            }
            let pos: Vec<usize> = (0..eseq.len()).filter(|&i| eseq[i] >= 0).collect();
            if pos.is_empty() {
                notes.push("no post-treatment event times: overall ATT not available".into());
                overall_att = f64::NAN;
                inf_overall = vec![0.0; n];
            } else {
                let (a, f) = average(&pos, &att, &infs, n);
                overall_att = a;
                inf_overall = f;
            }
        }
        AggType::Calendar => {
            let min_g = *kept.group.iter().min().unwrap_or(&0);
            let mut tl: Vec<i64> = kept.time.iter().copied().filter(|&t| t >= min_g).collect();
            tl.sort_unstable();
            tl.dedup();
            for &t1 in &tl {
                let which: Vec<usize> = (0..nk)
                    .filter(|&k| kept.time[k] == t1 && kept.group[k] <= t1)
                    .collect();
                if which.is_empty() {
                    continue;
                }
                let (a, f) = combine(&which, true);
                egt.push(t1);
                att.push(a);
                infs.push(f);
            }
            if egt.is_empty() {
                return Err(Error::Empty(
                    "no post-treatment ATT(g,t) to aggregate".into(),
                ));
            }
            let all: Vec<usize> = (0..egt.len()).collect();
            let (a, f) = average(&all, &att, &infs, n);
            overall_att = a;
            inf_overall = f;
        }
    }
    let tol = f64::EPSILON.sqrt() * 10.0;
    let an_se = |f: &[f64]| {
        let s = f.iter().map(|v| v * v).sum::<f64>().sqrt() / nf;
        if s <= tol {
            f64::NAN
        } else {
            s
        }
    };
    let mut se: Vec<f64> = infs.iter().map(|f| an_se(f)).collect();
    let mut overall_se = if overall_att.is_nan() {
        f64::NAN
    } else {
        an_se(&inf_overall)
    };
    if !(spec.alpha > 0.0 && spec.alpha < 1.0) {
        return Err(Error::Option {
            name: "alp".into(),
            reason: format!("must be in (0, 1), got {}", spec.alpha),
        });
    }
    let mut crit_val = normal_quantile(1.0 - spec.alpha / 2.0, "alp")?;
    if let Some(bs) = &spec.bootstrap {
        let mut cols: Vec<&[f64]> = infs.iter().map(|f| f.as_slice()).collect();
        cols.push(&inf_overall);
        let mut bs = *bs;
        bs.alpha = spec.alpha;
        let out = multiplier_bootstrap(&cols, fit.unit_cluster.as_deref(), &bs)?;
        let m = infs.len();
        se[..m].copy_from_slice(&out.se[..m]);
        if !overall_att.is_nan() {
            overall_se = out.se[m];
        }
        if spec.cband && m > 0 {
            let sigma: Vec<f64> = out
                .se
                .iter()
                .map(|s| s * (out.n_boot_units as f64).sqrt())
                .collect();
            let idx: Vec<usize> = (0..m).collect();
            let cv = crit_value(&out.draws, &sigma, &idx, spec.alpha);
            if cv.is_finite() {
                crit_val = cv;
            } else {
                notes.push(
                    "uniform critical value unavailable; pointwise normal critical value used"
                        .into(),
                );
            }
        }
    }
    let k = infs.len();
    let mut vcov = vec![0.0; k * k];
    for a in 0..k {
        for b in a..k {
            let v = infs[a]
                .iter()
                .zip(&infs[b])
                .map(|(x, y)| x * y)
                .sum::<f64>()
                / (nf * nf);
            vcov[a * k + b] = v;
            vcov[b * k + a] = v;
        }
    }
    Ok(AggteFit {
        kind: spec.kind,
        vcov,
        egt,
        att,
        se,
        overall_att,
        overall_se,
        crit_val,
        inf: infs,
        inf_overall,
        notes,
    })
}

fn average(which: &[usize], att: &[f64], infs: &[Vec<f64>], n: usize) -> (f64, Vec<f64>) {
    let w = 1.0 / which.len() as f64;
    let mut f = vec![0.0; n];
    let mut a = 0.0;
    for &k in which {
        a += w * att[k];
        for (o, v) in f.iter_mut().zip(&infs[k]) {
            *o += w * v;
        }
    }
    (a, f)
}

/// R's `wif(keepers, pg, weights.ind, G, group) %*% att[keepers]`, added to `out`:
/// Σ_k att_k [a_ik / S − (Σ_l a_il) pg_k / S²] with a_ik = w_i 1{G_i = g_k} − pg_k, S = Σ pg.
fn add_wif(
    out: &mut [f64],
    cohort: &[i64],
    weight: &[f64],
    groups: &[i64],
    pg: &[f64],
    att: &[f64],
) {
    let s: f64 = pg.iter().sum();
    let s2 = s * s;
    let apg: f64 = att.iter().zip(pg).map(|(a, p)| a * p).sum();
    for i in 0..out.len() {
        let mut t1 = 0.0;
        let mut sa = 0.0;
        for k in 0..groups.len() {
            let ind = if cohort[i] == groups[k] {
                weight[i]
            } else {
                0.0
            };
            let a = ind - pg[k];
            t1 += att[k] * a;
            sa += a;
        }
        out[i] += t1 / s - sa * apg / s2;
    }
}

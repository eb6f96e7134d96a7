//! Propensity-score matching for PSM-DID (Rosenbaum & Rubin 1983; Heckman, Ichimura & Todd
//! 1997 for kernel matching; conventions of Stata's `psmatch2` / `pstest`, Leuven & Sianesi).
//!
//! Matching is on the propensity score, within groups (`group`, e.g. the year for
//! year-by-year matching; one group = pooled matching).
//! - Nearest neighbour 1:k: each treated row takes its k closest controls by |ps_c - ps_t|.
//!   Ties rule: at equal distance the control that comes first in the data wins. A caliper
//!   keeps only matches with distance <= caliper; a treated row with none is unmatched.
//!   Without replacement, treated rows are served in data order, each taking its k closest
//!   controls not yet used.
//! - Kernel: every control within the bandwidth gets weight K((ps_c - ps_t)/h) / Σ K
//!   (Epanechnikov K(u) = 3/4 (1 - u²) on |u| < 1, or Gaussian); a treated row with Σ K = 0
//!   is unmatched.
//! - Common support (`psmatch2, common`): treated rows whose score lies outside
//!   [min, max] of the controls' scores in their group are dropped before matching.
//!
//! Weights: a matched treated row has weight 1; a control gets Σ over the treated rows it serves
//! of (its kernel weight, or 1/m with m the number of matches of that treated row).

use crate::error::{Error, Result};
use crate::inference::t_table;
use crate::interrupt::Cancel;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kernel {
    Epanechnikov,
    Gaussian,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MatchMethod {
    Nearest {
        k: usize,
        replace: bool,
        caliper: Option<f64>,
    },
    Kernel {
        kernel: Kernel,
        bandwidth: f64,
    },
}

#[derive(Debug, Clone)]
pub struct Matching {
    /// Matching weight per row (0 = not in the matched sample).
    pub weights: Vec<f64>,
    /// Treated rows dropped for lying outside the common support.
    pub off_support: Vec<usize>,
    /// Treated rows on support that found no match (caliper / bandwidth).
    pub unmatched: Vec<usize>,
    /// (treated row, control row) pairs of nearest-neighbour matching, in match order.
    pub pairs: Vec<(usize, usize)>,
}

/// Matches treated rows to control rows on the score `ps` (see the module documentation).
pub fn match_scores(
    ps: &[f64],
    treat: &[f64],
    group: Option<&[i64]>,
    method: MatchMethod,
    common_support: bool,
) -> Result<Matching> {
    let n = ps.len();
    if treat.len() != n {
        return Err(Error::Shape(format!(
            "{} treatment values for {n} scores",
            treat.len()
        )));
    }
    if let Some(g) = group {
        if g.len() != n {
            return Err(Error::Shape(format!(
                "{} group values for {n} scores",
                g.len()
            )));
        }
    }
    if let Some(bad) = ps.iter().find(|v| !v.is_finite()) {
        return Err(Error::Column {
            name: "pscore".into(),
            reason: format!("non-finite score {bad}"),
        });
    }
    match method {
        MatchMethod::Nearest { k, caliper, .. } => {
            if k == 0 {
                return Err(Error::Option {
                    name: "k".into(),
                    reason: "must be at least 1".into(),
                });
            }
            if let Some(c) = caliper {
                if c.is_nan() || c <= 0.0 {
                    return Err(Error::Option {
                        name: "caliper".into(),
                        reason: format!("must be positive, got {c}"),
                    });
                }
            }
        }
        MatchMethod::Kernel { bandwidth, .. } => {
            if !(bandwidth > 0.0 && bandwidth.is_finite()) {
                return Err(Error::Option {
                    name: "bandwidth".into(),
                    reason: format!("must be positive, got {bandwidth}"),
                });
            }
        }
    }
    // Groups in order of first appearance.
    let mut keys: Vec<i64> = Vec::new();
    let gid: Vec<usize> = (0..n)
        .map(|i| {
            let key = group.map_or(0, |g| g[i]);
            match keys.iter().position(|&k| k == key) {
                Some(p) => p,
                None => {
                    keys.push(key);
                    keys.len() - 1
                }
            }
        })
        .collect();
    let mut weights = vec![0.0; n];
    let mut off_support = Vec::new();
    let mut unmatched = Vec::new();
    let mut pairs = Vec::new();
    let cancel = Cancel::current();
    for g in 0..keys.len() {
        cancel.check()?;
        let controls: Vec<usize> = (0..n).filter(|&i| gid[i] == g && treat[i] == 0.0).collect();
        let treated: Vec<usize> = (0..n).filter(|&i| gid[i] == g && treat[i] != 0.0).collect();
        if treated.is_empty() {
            continue;
        }
        if controls.is_empty() {
            off_support.extend(&treated);
            continue;
        }
        let lo = controls
            .iter()
            .map(|&c| ps[c])
            .fold(f64::INFINITY, f64::min);
        let hi = controls
            .iter()
            .map(|&c| ps[c])
            .fold(f64::NEG_INFINITY, f64::max);
        let mut used = vec![false; controls.len()];
        for &t in &treated {
            cancel.check()?;
            if common_support && (ps[t] < lo || ps[t] > hi) {
                off_support.push(t);
                continue;
            }
            match method {
                MatchMethod::Nearest {
                    k,
                    replace,
                    caliper,
                } => {
                    let mut cand: Vec<(f64, usize)> = controls
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| replace || !used[*j])
                        .map(|(j, &c)| ((ps[c] - ps[t]).abs(), j))
                        .filter(|(d, _)| caliper.map_or(true, |cal| *d <= cal))
                        .collect();
                    // Distance, then data order (controls are in data order).
                    cand.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                    cand.truncate(k);
                    if cand.is_empty() {
                        unmatched.push(t);
                        continue;
                    }
                    let m = cand.len() as f64;
                    weights[t] = 1.0;
                    for &(_, j) in &cand {
                        weights[controls[j]] += 1.0 / m;
                        if !replace {
                            used[j] = true;
                        }
                        pairs.push((t, controls[j]));
                    }
                }
                MatchMethod::Kernel { kernel, bandwidth } => {
                    let kv: Vec<f64> = controls
                        .iter()
                        .map(|&c| {
                            let u = (ps[c] - ps[t]) / bandwidth;
                            match kernel {
                                Kernel::Epanechnikov if u.abs() < 1.0 => 0.75 * (1.0 - u * u),
                                Kernel::Epanechnikov => 0.0,
                                Kernel::Gaussian => (-0.5 * u * u).exp(),
                            }
                        })
                        .collect();
                    let s: f64 = kv.iter().sum();
                    if s.is_nan() || s <= 0.0 {
                        unmatched.push(t);
                        continue;
                    }
                    weights[t] = 1.0;
                    for (j, &c) in controls.iter().enumerate() {
                        weights[c] += kv[j] / s;
                    }
                }
            }
        }
    }
    if weights.iter().all(|&w| w == 0.0) {
        let why = match method {
            MatchMethod::Nearest {
                caliper: Some(c), ..
            } => format!("option 'caliper': no treated row has a control within {c}"),
            MatchMethod::Kernel { bandwidth, .. } => {
                format!("option 'bandwidth': no treated row has a control within {bandwidth}")
            }
            _ => "no treated row is on the common support".into(),
        };
        return Err(Error::Empty(format!(
            "matching left no matched pairs: {why}"
        )));
    }
    Ok(Matching {
        weights,
        off_support,
        unmatched,
        pairs,
    })
}

/// One covariate's balance before and after matching (`pstest` conventions).
#[derive(Debug, Clone)]
pub struct BalanceRow {
    pub mean_treated_before: f64,
    pub mean_control_before: f64,
    pub mean_treated_after: f64,
    pub mean_control_after: f64,
    /// 100 (m_t - m_c) / sqrt((s²_t + s²_c) / 2), the variances always from the unmatched
    /// sample (Rosenbaum & Rubin 1985; psmatch2's pstest).
    pub bias_before: f64,
    pub bias_after: f64,
    /// 100 (1 - |bias_after| / |bias_before|).
    pub bias_reduction: f64,
    /// Two-sample t-test of equal means: before, OLS of x on treat (pooled variance); after,
    /// weighted least squares of x on treat with the matching weights (normalised to sum to
    /// the number of matched rows, Stata's aweights); df = rows - 2.
    pub t_before: f64,
    pub p_before: f64,
    pub t_after: f64,
    pub p_after: f64,
}

fn wmean_var(x: &[f64], w: &[f64]) -> (f64, f64, f64) {
    let sw: f64 = w.iter().sum();
    let m = x.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() / sw;
    let ss = x
        .iter()
        .zip(w)
        .map(|(a, b)| b * (a - m).powi(2))
        .sum::<f64>();
    (m, ss, sw)
}

/// Two-group t-test by (weighted) least squares of x on a treatment dummy.
fn group_t(xt: &[f64], wt: &[f64], xc: &[f64], wc: &[f64]) -> Result<(f64, f64)> {
    let n = (xt.len() + xc.len()) as f64;
    let total: f64 = wt.iter().sum::<f64>() + wc.iter().sum::<f64>();
    let norm = n / total;
    let wt: Vec<f64> = wt.iter().map(|w| w * norm).collect();
    let wc: Vec<f64> = wc.iter().map(|w| w * norm).collect();
    let (mt, sst, swt) = wmean_var(xt, &wt);
    let (mc, ssc, swc) = wmean_var(xc, &wc);
    let s2 = (sst + ssc) / (n - 2.0);
    let se = (s2 * (1.0 / swt + 1.0 / swc)).sqrt();
    let tt = t_table(&[mt - mc], &[se], n - 2.0, 0.95)?;
    Ok((tt.statistic[0], tt.p_value[0]))
}

/// Balance of each covariate between treated and control rows before and after matching.
pub fn balance(
    covariates: &[(String, &[f64])],
    treat: &[f64],
    weights: &[f64],
) -> Result<Vec<BalanceRow>> {
    let n = treat.len();
    let ti: Vec<usize> = (0..n).filter(|&i| treat[i] != 0.0).collect();
    let ci: Vec<usize> = (0..n).filter(|&i| treat[i] == 0.0).collect();
    let tm: Vec<usize> = ti.iter().copied().filter(|&i| weights[i] > 0.0).collect();
    let cm: Vec<usize> = ci.iter().copied().filter(|&i| weights[i] > 0.0).collect();
    if ti.len() < 2 || ci.len() < 2 || tm.is_empty() || cm.is_empty() {
        return Err(Error::Empty(
            "balance table: needs at least two treated and two control rows and a matched pair"
                .into(),
        ));
    }
    covariates
        .iter()
        .map(|(name, x)| {
            if x.len() != n {
                return Err(Error::Shape(format!(
                    "covariate '{name}' has {} rows, expected {n}",
                    x.len()
                )));
            }
            let pick = |idx: &[usize]| -> Vec<f64> { idx.iter().map(|&i| x[i]).collect() };
            let ones = |len: usize| vec![1.0; len];
            let (xt, xc) = (pick(&ti), pick(&ci));
            let (mt, sst, _) = wmean_var(&xt, &ones(xt.len()));
            let (mc, ssc, _) = wmean_var(&xc, &ones(xc.len()));
            let vt = sst / (xt.len() as f64 - 1.0);
            let vc = ssc / (xc.len() as f64 - 1.0);
            let sd = ((vt + vc) / 2.0).sqrt();
            let (xtm, xcm) = (pick(&tm), pick(&cm));
            let wtm: Vec<f64> = tm.iter().map(|&i| weights[i]).collect();
            let wcm: Vec<f64> = cm.iter().map(|&i| weights[i]).collect();
            let (mta, _, _) = wmean_var(&xtm, &wtm);
            let (mca, _, _) = wmean_var(&xcm, &wcm);
            let bias_before = 100.0 * (mt - mc) / sd;
            let bias_after = 100.0 * (mta - mca) / sd;
            let (t_before, p_before) = group_t(&xt, &ones(xt.len()), &xc, &ones(xc.len()))?;
            let (t_after, p_after) = if tm.len() + cm.len() > 2 {
                group_t(&xtm, &wtm, &xcm, &wcm)?
            } else {
                (f64::NAN, f64::NAN)
            };
            Ok(BalanceRow {
                mean_treated_before: mt,
                mean_control_before: mc,
                mean_treated_after: mta,
                mean_control_after: mca,
                bias_before,
                bias_after,
                bias_reduction: 100.0 * (1.0 - bias_after.abs() / bias_before.abs()),
                t_before,
                p_before,
                t_after,
                p_after,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_ties_go_to_the_first_control() {
        // treated at 0.5; controls at 0.4 and 0.6 (tie), 0.9.
        let ps = [0.4, 0.5, 0.6, 0.9];
        let tr = [0.0, 1.0, 0.0, 0.0];
        let m = match_scores(
            &ps,
            &tr,
            None,
            MatchMethod::Nearest {
                k: 1,
                replace: true,
                caliper: None,
            },
            true,
        )
        .unwrap();
        assert_eq!(m.pairs, vec![(1, 0)]);
        let e = match_scores(
            &ps,
            &tr,
            None,
            MatchMethod::Nearest {
                k: 1,
                replace: true,
                caliper: Some(0.01),
            },
            true,
        )
        .unwrap_err();
        assert!(e.to_string().contains("caliper"), "{e}");
    }
}

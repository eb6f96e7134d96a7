//! Goodman-Bacon (2021, J. Econometrics 225(2)) decomposition of the two-way fixed-effects
//! DID coefficient into 2×2 comparisons, for balanced panels with a binary absorbing treatment
//! and no covariates.
//!
//! Theorem 1 of the paper: the TWFE coefficient of `y ~ D | unit + period` is a weighted average
//! of simple 2×2 DID estimates,
//! - treated cohort k vs never treated U, over all periods;
//! - earlier cohort k vs later cohort l, over the periods before l is treated ("Earlier vs Later
//!   Treated");
//! - later cohort l vs earlier cohort k, over the periods from k's treatment on ("Later vs
//!   Earlier Treated"); when k is treated from the first period on (always treated) the row is
//!   labelled "Later vs Always Treated", as in R `bacondecomp`.
//!
//! The weights are the paper's (sample shares n, treated-period shares D̄ of the full panel),
//! scaled to sum to one as `bacondecomp::bacon` does; in a balanced panel their unscaled sum is the
//! variance of the double-demeaned treatment, so the weighted sum of the 2×2 estimates equals the
//! TWFE coefficient exactly.

use crate::error::{Error, Result};
use crate::panel::{Panel, TreatmentInput};

/// The kind of a 2×2 comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ComparisonType {
    EarlierVsLater,
    LaterVsAlways,
    LaterVsEarlier,
    TreatedVsUntreated,
}

impl ComparisonType {
    /// The label R `bacondecomp` prints.
    pub fn label(self) -> &'static str {
        match self {
            Self::EarlierVsLater => "Earlier vs Later Treated",
            Self::LaterVsAlways => "Later vs Always Treated",
            Self::LaterVsEarlier => "Later vs Earlier Treated",
            Self::TreatedVsUntreated => "Treated vs Untreated",
        }
    }
}

/// One 2×2 DID comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct BaconComparison {
    pub kind: ComparisonType,
    /// First treated period of the group playing "treated" in this 2×2.
    pub treated: i64,
    /// First treated period of the comparison group; `None` = never treated.
    pub control: Option<i64>,
    /// The 2×2 DID estimate (= TWFE on the two groups over the comparison window).
    pub estimate: f64,
    /// Weight in the TWFE coefficient (all weights sum to one).
    pub weight: f64,
    pub n_treated_units: usize,
    pub n_control_units: usize,
    /// First and last period of the comparison window.
    pub window: (i64, i64),
}

/// Weight and weighted-average estimate of one comparison type.
#[derive(Debug, Clone, PartialEq)]
pub struct BaconSummaryRow {
    pub kind: ComparisonType,
    pub weight: f64,
    pub avg_estimate: f64,
    pub n_comparisons: usize,
}

#[derive(Debug, Clone)]
pub struct Bacon {
    pub comparisons: Vec<BaconComparison>,
    /// By type, in `bacondecomp`'s (alphabetical) order; only types present.
    pub summary: Vec<BaconSummaryRow>,
    /// TWFE coefficient of `y ~ D | unit + period` (balanced double demeaning).
    pub twfe: f64,
    /// Variance of the double-demeaned treatment, Σ D̃² / (N T): the weights' normaliser.
    pub variance_d: f64,
    /// Sum of the unscaled Theorem 1 weights (equals `variance_d` in a balanced panel).
    pub unscaled_weight_sum: f64,
    pub n_units: usize,
    pub n_periods: usize,
    pub n_never_treated: usize,
    pub n_always_treated: usize,
    /// Cohorts (first treated period) and their unit counts, ascending; always treated included.
    pub cohorts: Vec<(i64, usize)>,
}

/// Column names used in error messages.
#[derive(Debug, Clone)]
pub struct BaconNames {
    pub y: String,
    pub treat: String,
    pub unit: String,
    pub time: String,
}

/// Build the panel for [`bacon`] from raw columns: a 0/1 absorbing treatment, no missing values.
/// `unit` holds dense codes with `unit_labels[code]` the caller's id.
pub fn bacon_panel(
    unit: &[u32],
    unit_labels: Vec<String>,
    time: &[i64],
    treat: &[f64],
    names: &BaconNames,
) -> Result<Panel> {
    if let Some(i) = treat.iter().position(|v| !v.is_finite()) {
        return Err(Error::Column {
            name: names.treat.clone(),
            reason: format!(
                "missing value for unit '{}' at {} {}: the Bacon decomposition needs a complete balanced panel",
                unit_labels.get(unit[i] as usize).map_or("?", String::as_str),
                names.time,
                time[i]
            ),
        });
    }
    if let Some(&bad) = treat.iter().find(|&&v| v != 0.0 && v != 1.0) {
        return Err(Error::Column {
            name: names.treat.clone(),
            reason: format!("the treatment must be binary (0/1), found {bad}"),
        });
    }
    let p = Panel::new(
        unit,
        unit_labels,
        time,
        TreatmentInput::Indicator(treat),
        false,
    )
    .map_err(|e| match e {
        Error::TreatmentSwitchesOff { unit, time } => Error::Column {
            name: names.treat.clone(),
            reason: format!(
                "treatment is not absorbing: it switches off for unit '{unit}' at {} {time}; \
                 the Bacon decomposition needs staggered adoption (once treated, always treated)",
                names.time
            ),
        },
        Error::Column { name, reason } if name == "time" => Error::Column {
            name: names.time.clone(),
            reason,
        },
        other => other,
    })?;
    if !p.is_balanced {
        return Err(Error::Column {
            name: names.unit.clone(),
            reason: format!(
                "unbalanced panel ({} rows for {} units × {} periods): the Bacon decomposition \
                 needs every unit observed in every period",
                unit.len(),
                p.n_units(),
                p.n_periods()
            ),
        });
    }
    Ok(p)
}

/// Goodman-Bacon decomposition of the TWFE coefficient of `y` on the panel's treatment
/// (staggered adoption, balanced panel, no covariates). Row `i` of `y` belongs to the panel's
/// row `i`.
pub fn bacon(panel: &Panel, y: &[f64], y_name: &str) -> Result<Bacon> {
    let n_rows = panel.unit.len();
    if y.len() != n_rows {
        return Err(Error::Shape(format!(
            "column '{y_name}' has {} rows, the panel {n_rows}",
            y.len()
        )));
    }
    if !panel.is_balanced {
        return Err(Error::Column {
            name: "unit".into(),
            reason: "unbalanced panel: the Bacon decomposition needs every unit observed in every period".into(),
        });
    }
    if let Some(i) = y.iter().position(|v| !v.is_finite()) {
        return Err(Error::Column {
            name: y_name.into(),
            reason: format!(
                "missing value for unit '{}' in period {}: the Bacon decomposition needs a complete balanced panel",
                panel.unit_labels[panel.unit[i] as usize], panel.periods[panel.period[i] as usize]
            ),
        });
    }
    let (n_units, t_count) = (panel.n_units(), panel.n_periods());
    if t_count < 2 {
        return Err(Error::Empty(
            "the Bacon decomposition needs at least two periods".into(),
        ));
    }

    // Groups: index 0 = never treated, then one per distinct cohort (ascending). A cohort is
    // stored as the period index at which treatment starts (0 = always treated).
    let start_of = |c: i64| panel.periods.partition_point(|&p| p < c);
    let mut starts: Vec<usize> = panel
        .cohort
        .iter()
        .flatten()
        .map(|&c| start_of(c))
        .collect();
    starts.sort_unstable();
    starts.dedup();
    let n_groups = 1 + starts.len();
    let group_of_unit: Vec<usize> = panel
        .cohort
        .iter()
        .map(|c| c.map_or(0, |c| 1 + starts.partition_point(|&s| s < start_of(c))))
        .collect();
    let mut n_g = vec![0usize; n_groups];
    for &g in &group_of_unit {
        n_g[g] += 1;
    }
    // Cell means of y by group × period.
    let mut ybar = vec![0.0; n_groups * t_count];
    for i in 0..n_rows {
        let g = group_of_unit[panel.unit[i] as usize];
        ybar[g * t_count + panel.period[i] as usize] += y[i];
    }
    for g in 0..n_groups {
        if n_g[g] > 0 {
            for t in 0..t_count {
                ybar[g * t_count + t] /= n_g[g] as f64;
            }
        }
    }
    let mean_over = |g: usize, lo: usize, hi: usize| -> f64 {
        ybar[g * t_count + lo..g * t_count + hi].iter().sum::<f64>() / (hi - lo) as f64
    };
    // DID of treated group a against control group b over [lo, hi), switching at s.
    let dd = |a: usize, b: usize, lo: usize, s: usize, hi: usize| -> f64 {
        (mean_over(a, s, hi) - mean_over(a, lo, s)) - (mean_over(b, s, hi) - mean_over(b, lo, s))
    };

    let nf = n_units as f64;
    let tf = t_count as f64;
    let share = |g: usize| n_g[g] as f64 / nf;
    let dbar = |s: usize| (tf - s as f64) / tf;
    let period = |s: usize| panel.periods[s];
    let cohort_value = |g: usize| period(starts[g - 1]);

    let mut comparisons = Vec::new();
    let mut raw_weights = Vec::new();
    for k in 1..n_groups {
        let sk = starts[k - 1];
        if sk == 0 {
            continue; // always treated: never the treated side of a 2×2
        }
        // Treated vs never treated.
        if n_g[0] > 0 {
            let (nk, nu) = (share(k), share(0));
            let nku = nk / (nk + nu);
            let d = dbar(sk);
            raw_weights.push((nk + nu).powi(2) * nku * (1.0 - nku) * d * (1.0 - d));
            comparisons.push(BaconComparison {
                kind: ComparisonType::TreatedVsUntreated,
                treated: cohort_value(k),
                control: None,
                estimate: dd(k, 0, 0, sk, t_count),
                weight: 0.0,
                n_treated_units: n_g[k],
                n_control_units: n_g[0],
                window: (period(0), period(t_count - 1)),
            });
        }
        for l in 1..n_groups {
            if l == k {
                continue;
            }
            let sl = starts[l - 1];
            if sl > sk {
                // Earlier (k) vs later (l), before l is treated.
                let (nk, nl) = (share(k), share(l));
                let nkl = nk / (nk + nl);
                let (dk, dl) = (dbar(sk), dbar(sl));
                raw_weights.push(
                    ((nk + nl) * (1.0 - dl)).powi(2) * nkl * (1.0 - nkl) * (dk - dl) / (1.0 - dl)
                        * (1.0 - dk)
                        / (1.0 - dl),
                );
                comparisons.push(BaconComparison {
                    kind: ComparisonType::EarlierVsLater,
                    treated: cohort_value(k),
                    control: Some(cohort_value(l)),
                    estimate: dd(k, l, 0, sk, sl),
                    weight: 0.0,
                    n_treated_units: n_g[k],
                    n_control_units: n_g[l],
                    window: (period(0), period(sl - 1)),
                });
            } else {
                // Later (k) vs earlier (l), from l's treatment on.
                let (ne, nlate) = (share(l), share(k));
                let nkl = ne / (ne + nlate);
                let (de, dlate) = (dbar(sl), dbar(sk));
                raw_weights.push(
                    ((ne + nlate) * de).powi(2) * nkl * (1.0 - nkl) * (dlate / de) * (de - dlate)
                        / de,
                );
                comparisons.push(BaconComparison {
                    kind: if sl == 0 {
                        ComparisonType::LaterVsAlways
                    } else {
                        ComparisonType::LaterVsEarlier
                    },
                    treated: cohort_value(k),
                    control: Some(cohort_value(l)),
                    estimate: dd(k, l, sl, sk, t_count),
                    weight: 0.0,
                    n_treated_units: n_g[k],
                    n_control_units: n_g[l],
                    window: (period(sl), period(t_count - 1)),
                });
            }
        }
    }
    let unscaled_weight_sum: f64 = raw_weights.iter().sum();
    if comparisons.is_empty()
        || unscaled_weight_sum.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
    {
        return Err(Error::Empty(
            "no 2×2 comparisons: the Bacon decomposition needs treated units and either \
             never-treated units or at least two treatment timings"
                .into(),
        ));
    }
    for (c, w) in comparisons.iter_mut().zip(&raw_weights) {
        c.weight = w / unscaled_weight_sum;
    }

    // TWFE by balanced double demeaning of D.
    let d_it: Vec<f64> = (0..n_rows)
        .map(|i| {
            let g = group_of_unit[panel.unit[i] as usize];
            f64::from(g > 0 && panel.period[i] as usize >= starts[g - 1])
        })
        .collect();
    let mut d_unit = vec![0.0; n_units];
    let mut d_time = vec![0.0; t_count];
    for i in 0..n_rows {
        d_unit[panel.unit[i] as usize] += d_it[i] / tf;
        d_time[panel.period[i] as usize] += d_it[i] / nf;
    }
    let d_all = d_it.iter().sum::<f64>() / (nf * tf);
    let (mut sdd, mut sdy) = (0.0, 0.0);
    for i in 0..n_rows {
        let dt =
            d_it[i] - d_unit[panel.unit[i] as usize] - d_time[panel.period[i] as usize] + d_all;
        sdd += dt * dt;
        sdy += dt * y[i];
    }
    let twfe = sdy / sdd;

    let mut summary: Vec<BaconSummaryRow> = Vec::new();
    let mut kinds: Vec<ComparisonType> = comparisons.iter().map(|c| c.kind).collect();
    kinds.sort_unstable();
    kinds.dedup();
    for kind in kinds {
        let rows: Vec<&BaconComparison> = comparisons.iter().filter(|c| c.kind == kind).collect();
        let w: f64 = rows.iter().map(|c| c.weight).sum();
        let we: f64 = rows.iter().map(|c| c.weight * c.estimate).sum();
        summary.push(BaconSummaryRow {
            kind,
            weight: w,
            avg_estimate: if w > 0.0 { we / w } else { f64::NAN },
            n_comparisons: rows.len(),
        });
    }
    Ok(Bacon {
        comparisons,
        summary,
        twfe,
        variance_d: sdd / (nf * tf),
        unscaled_weight_sum,
        n_units,
        n_periods: t_count,
        n_never_treated: n_g[0],
        n_always_treated: starts.first().filter(|&&s| s == 0).map_or(0, |_| n_g[1]),
        cohorts: (1..n_groups).map(|g| (cohort_value(g), n_g[g])).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> BaconNames {
        BaconNames {
            y: "y".into(),
            treat: "d".into(),
            unit: "id".into(),
            time: "year".into(),
        }
    }

    type Columns = (Vec<u32>, Vec<String>, Vec<i64>, Vec<f64>, Vec<f64>);

    /// Panel with cohorts given per unit (0 = never; 1 = always treated).
    fn make(cohorts: &[i64], t: i64) -> Columns {
        let (mut u, mut tt, mut d, mut y) = (vec![], vec![], vec![], vec![]);
        for (i, &c) in cohorts.iter().enumerate() {
            for p in 1..=t {
                u.push(i as u32);
                tt.push(p);
                let on = c > 0 && p >= c;
                d.push(f64::from(on));
                // heterogeneous dynamic effects + unit and time effects + noise-like term
                let eff = if on {
                    (1 + p - c) as f64 * (0.3 + 0.1 * c as f64)
                } else {
                    0.0
                };
                y.push(
                    i as f64 * 0.7
                        + (p as f64).sin()
                        + eff
                        + ((i * 31 + p as usize * 17) % 7) as f64 * 0.1,
                );
            }
        }
        let labels = (0..cohorts.len()).map(|i| format!("u{i}")).collect();
        (u, labels, tt, d, y)
    }

    /// TWFE by an independent route: the general FE-OLS pipeline.
    fn twfe_feols(u: &[u32], tt: &[i64], d: &[f64], y: &[f64]) -> f64 {
        use crate::linear::{feols, FeolsInput, FeolsSpec};
        let ui: Vec<i64> = u.iter().map(|&v| v as i64).collect();
        let input = FeolsInput {
            y: ("y".into(), y),
            x: vec![("d".into(), d)],
            fe: vec![("u".into(), &ui), ("t".into(), tt)],
            clusters: vec![],
            weights: None,
            valid: None,
        };
        feols(&input, &FeolsSpec::default()).unwrap().beta[0]
    }

    #[test]
    fn weighted_sum_equals_twfe_with_never_and_always_treated() {
        for cohorts in [
            vec![0, 0, 3, 3, 5, 7, 7, 7, 0],
            vec![3, 3, 5, 7, 7],          // no never treated
            vec![1, 1, 0, 4, 6, 6, 0, 8], // always treated present
        ] {
            let (u, l, tt, d, y) = make(&cohorts, 9);
            let p = bacon_panel(&u, l, &tt, &d, &names()).unwrap();
            let b = bacon(&p, &y, "y").unwrap();
            let wsum: f64 = b.comparisons.iter().map(|c| c.weight).sum();
            let est: f64 = b.comparisons.iter().map(|c| c.weight * c.estimate).sum();
            assert!((wsum - 1.0).abs() < 1e-12);
            assert!((est - b.twfe).abs() < 1e-10, "{est} vs {}", b.twfe);
            assert!((b.twfe - twfe_feols(&u, &tt, &d, &y)).abs() < 1e-10);
            assert!((b.unscaled_weight_sum - b.variance_d).abs() < 1e-12);
        }
    }

    #[test]
    fn always_treated_rows_are_labelled() {
        let (u, l, tt, d, y) = make(&[1, 1, 0, 4, 6], 7);
        let b = bacon(&bacon_panel(&u, l, &tt, &d, &names()).unwrap(), &y, "y").unwrap();
        assert_eq!(b.n_always_treated, 2);
        assert!(b
            .comparisons
            .iter()
            .any(|c| c.kind == ComparisonType::LaterVsAlways && c.control == Some(1)));
        assert!(b.comparisons.iter().all(|c| c.treated != 1));
    }

    #[test]
    fn bad_input_is_named() {
        let (u, l, tt, mut d, _) = make(&[0, 3], 4);
        d[7] = 0.0; // unit u1 switches off in its last period
        let e = bacon_panel(&u, l.clone(), &tt, &d, &names()).unwrap_err();
        assert!(e.to_string().contains("absorbing") && e.to_string().contains("u1"));
        let e = bacon_panel(&u[..7], l, &tt[..7], &d[..7], &names()).unwrap_err();
        assert!(e.to_string().contains("unbalanced"));
    }
}

//! The panel: unit and period codes, balance, and each unit's first treated period (cohort).

use std::collections::BTreeSet;

use crate::error::{Error, Result};

/// How the treatment is given.
#[derive(Debug, Clone, Copy)]
pub enum TreatmentInput<'a> {
    /// A 0/1 indicator per row; the cohort is the first period in which it is 1.
    Indicator(&'a [f64]),
    /// The first treated period per row (constant within unit); 0 or NaN = never treated.
    Cohort(&'a [f64]),
    None,
}

#[derive(Debug, Clone)]
pub struct Panel {
    /// Dense unit code per row (order of first appearance), and the caller's label per unit.
    pub unit: Vec<u32>,
    pub unit_labels: Vec<String>,
    /// Dense period code per row, in ascending order of the period value.
    pub period: Vec<u32>,
    pub periods: Vec<i64>,
    pub is_balanced: bool,
    /// First treated period per unit, `None` for never treated.
    pub cohort: Vec<Option<i64>>,
}

impl Panel {
    /// `unit` holds dense unit codes with `unit_labels[code]` the caller's id (used in messages);
    /// `time` the integer period of each row.
    pub fn new(
        unit: &[u32],
        unit_labels: Vec<String>,
        time: &[i64],
        treatment: TreatmentInput,
        allow_switch_off: bool,
    ) -> Result<Self> {
        let n = unit.len();
        if n == 0 {
            return Err(Error::Empty("panel has no rows".into()));
        }
        if time.len() != n {
            return Err(Error::Shape(format!(
                "{} time values for {n} rows",
                time.len()
            )));
        }
        let n_units = unit_labels.len();
        if let Some(&bad) = unit.iter().find(|&&u| u as usize >= n_units) {
            return Err(Error::Shape(format!("unit code {bad} has no label")));
        }
        let periods: Vec<i64> = time
            .iter()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        // Period codes ascending in time: map each value through the sorted list.
        let rank_of = |t: i64| periods.binary_search(&t).map(|r| r as u32);
        let period: Vec<u32> = time.iter().map(|&t| rank_of(t).unwrap_or(0)).collect();

        // Balance: every unit observed exactly once in every period.
        let t_count = periods.len();
        // units x periods can be large (many units, many distinct times): fallible.
        let cells = crate::alloc::elements(n_units, t_count, "unit x period table")?;
        let mut seen = crate::alloc::try_vec(cells, false, "unit x period table")?;
        let mut duplicate: Option<usize> = None;
        for i in 0..n {
            let cell = &mut seen[unit[i] as usize * t_count + period[i] as usize];
            if *cell && duplicate.is_none() {
                duplicate = Some(i);
            }
            *cell = true;
        }
        if let Some(i) = duplicate {
            return Err(Error::Column {
                name: "time".into(),
                reason: format!(
                    "unit '{}' appears more than once in period {}",
                    unit_labels[unit[i] as usize], time[i]
                ),
            });
        }
        let is_balanced = n == n_units * t_count;

        let cohort = match treatment {
            TreatmentInput::None => vec![None; n_units],
            TreatmentInput::Cohort(g) => cohorts_from_column(unit, &unit_labels, g)?,
            TreatmentInput::Indicator(d) => {
                cohorts_from_indicator(unit, &unit_labels, &period, &periods, d, allow_switch_off)?
            }
        };
        Ok(Self {
            unit: unit.to_vec(),
            unit_labels,
            period,
            periods,
            is_balanced,
            cohort,
        })
    }

    pub fn n_units(&self) -> usize {
        self.unit_labels.len()
    }

    pub fn n_periods(&self) -> usize {
        self.periods.len()
    }
}

fn cohorts_from_column(unit: &[u32], labels: &[String], g: &[f64]) -> Result<Vec<Option<i64>>> {
    if g.len() != unit.len() {
        return Err(Error::Shape(format!(
            "{} cohort values for {} rows",
            g.len(),
            unit.len()
        )));
    }
    let mut cohort: Vec<Option<Option<i64>>> = vec![None; labels.len()];
    for (&u, &gi) in unit.iter().zip(g) {
        let value = if gi.is_nan() || gi == 0.0 {
            None
        } else if gi.fract() != 0.0 || !gi.is_finite() {
            return Err(Error::Column {
                name: "cohort".into(),
                reason: format!(
                    "value {gi} for unit '{}' is not a whole period",
                    labels[u as usize]
                ),
            });
        } else {
            Some(gi as i64)
        };
        match cohort[u as usize] {
            None => cohort[u as usize] = Some(value),
            Some(prev) if prev != value => {
                return Err(Error::Column {
                    name: "cohort".into(),
                    reason: format!(
                        "unit '{}' has more than one cohort ({} and {})",
                        labels[u as usize],
                        show(prev),
                        show(value)
                    ),
                })
            }
            Some(_) => {}
        }
    }
    Ok(cohort.into_iter().map(Option::flatten).collect())
}

fn show(v: Option<i64>) -> String {
    v.map_or("never".into(), |x| x.to_string())
}

fn cohorts_from_indicator(
    unit: &[u32],
    labels: &[String],
    period: &[u32],
    periods: &[i64],
    d: &[f64],
    allow_switch_off: bool,
) -> Result<Vec<Option<i64>>> {
    if d.len() != unit.len() {
        return Err(Error::Shape(format!(
            "{} treatment values for {} rows",
            d.len(),
            unit.len()
        )));
    }
    if let Some(&bad) = d.iter().find(|&&v| v != 0.0 && v != 1.0) {
        return Err(Error::Column {
            name: "treatment".into(),
            reason: format!("must be 0 or 1, found {bad}"),
        });
    }
    let (n_units, t) = (labels.len(), periods.len());
    // Treatment path per unit on the period grid: -1 unobserved, else 0/1.
    let mut path = vec![-1i8; n_units * t];
    for i in 0..unit.len() {
        path[unit[i] as usize * t + period[i] as usize] = d[i] as i8;
    }
    let mut cohort = vec![None; n_units];
    for u in 0..n_units {
        let row = &path[u * t..(u + 1) * t];
        let mut on = false;
        for (p, &v) in row.iter().enumerate() {
            match v {
                1 if !on => {
                    on = true;
                    cohort[u].get_or_insert(periods[p]);
                }
                0 if on && !allow_switch_off => {
                    return Err(Error::TreatmentSwitchesOff {
                        unit: labels[u].clone(),
                        time: periods[p].to_string(),
                    });
                }
                0 => on = false,
                _ => {}
            }
        }
    }
    Ok(cohort)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("u{i}")).collect()
    }

    #[test]
    fn cohort_from_indicator_matches_cohort_column() {
        let unit = [0, 0, 0, 1, 1, 1, 2, 2, 2];
        let time = [2001, 2002, 2003, 2001, 2002, 2003, 2001, 2002, 2003];
        let d = [0., 1., 1., 0., 0., 0., 0., 0., 1.];
        let g = [2002., 2002., 2002., 0., 0., 0., 2003., 2003., 2003.];
        let a = Panel::new(
            &unit,
            labels(3),
            &time,
            TreatmentInput::Indicator(&d),
            false,
        )
        .unwrap();
        let b = Panel::new(&unit, labels(3), &time, TreatmentInput::Cohort(&g), false).unwrap();
        assert_eq!(a.cohort, vec![Some(2002), None, Some(2003)]);
        assert_eq!(a.cohort, b.cohort);
        assert!(a.is_balanced);
    }

    #[test]
    fn switching_off_names_the_unit() {
        let unit = [0, 0, 0];
        let time = [1, 2, 3];
        let d = [0., 1., 0.];
        let err = Panel::new(
            &unit,
            vec!["Wuxi".into()],
            &time,
            TreatmentInput::Indicator(&d),
            false,
        )
        .unwrap_err();
        assert!(err.to_string().contains("Wuxi") && err.to_string().contains("switches off"));
        assert!(Panel::new(
            &unit,
            vec!["Wuxi".into()],
            &time,
            TreatmentInput::Indicator(&d),
            true
        )
        .is_ok());
    }

    #[test]
    fn unbalanced_is_detected() {
        let p = Panel::new(
            &[0, 0, 1],
            labels(2),
            &[1, 2, 1],
            TreatmentInput::None,
            false,
        )
        .unwrap();
        assert!(!p.is_balanced);
        assert_eq!(p.n_periods(), 2);
    }
}

//! Capital stock by the perpetual inventory method (PIM).
//!
//! For each unit, over its periods in order (consecutive periods; a gap is an error):
//!
//! ```text
//! I*_t = I_t / P_t                                  (real investment; P = 1 without a deflator)
//! K_first = I*_first / (g + delta)                  (unless an initial stock is given)
//! K_t = (1 - delta) K_{t-1} + I*_t
//! ```
//! `delta` defaults to 9.6 % (Zhang, Wu and Zhang 2004, the usual choice for Chinese
//! provinces and cities). `g` is either given, or the unit's geometric mean growth rate of real
//! investment over its first `growth_years` periods (all periods by default):
//! `g = (I*_{k} / I*_first)^(1/(k - first)) - 1` (Hall and Jones 1999 use the same steady-state
//! start `K_0 = I_0 / (g + delta)`). `g + delta` must be positive.

// Index loops over small dense arrays (rows x columns) read best as written.
#![allow(clippy::needless_range_loop)]

use crate::error::Error;

/// How the first stock of each unit is set.
#[derive(Debug, Clone, PartialEq)]
pub enum InitialStock {
    /// `K_first = I*_first / (g + delta)` with this common `g`.
    Growth(f64),
    /// Same with each unit's geometric mean real-investment growth over its first
    /// `years` periods (`None`: all periods).
    UnitGrowth { years: Option<usize> },
    /// The given stock for each row (only the unit's first row is used).
    Given(Vec<f64>),
}

/// Options of [`capital_stock`].
#[derive(Debug, Clone, PartialEq)]
pub struct PimSpec {
    pub delta: f64,
    pub initial: InitialStock,
}

/// Capital stock per row, and the growth rate `g` used for each row's unit (NaN if given).
#[derive(Debug, Clone)]
pub struct PimFit {
    pub capital: Vec<f64>,
    pub growth: Vec<f64>,
    pub real_investment: Vec<f64>,
}

/// Perpetual-inventory capital stock; `unit` codes and `unit_labels` name units in messages.
pub fn capital_stock(
    unit: &[u32],
    unit_labels: &[String],
    time: &[i64],
    investment: &[f64],
    deflator: Option<&[f64]>,
    spec: &PimSpec,
) -> Result<PimFit, Error> {
    let n = unit.len();
    if time.len() != n || investment.len() != n || deflator.is_some_and(|d| d.len() != n) {
        return Err(Error::Shape(
            "unit, time, investment and deflator need one value per row".into(),
        ));
    }
    if !(spec.delta.is_finite() && spec.delta > 0.0 && spec.delta < 1.0) {
        return Err(Error::Option {
            name: "delta".into(),
            reason: format!("{}: the depreciation rate must lie in (0, 1)", spec.delta),
        });
    }
    let label = |j: usize| {
        unit_labels
            .get(unit[j] as usize)
            .cloned()
            .unwrap_or_else(|| unit[j].to_string())
    };
    let mut real = vec![0.0; n];
    for j in 0..n {
        let p = deflator.map_or(1.0, |d| d[j]);
        if !(p.is_finite() && p > 0.0) {
            return Err(Error::Column {
                name: "deflator".into(),
                reason: format!(
                    "value {p} for unit {} in {}: must be positive",
                    label(j),
                    time[j]
                ),
            });
        }
        if !(investment[j].is_finite() && investment[j] >= 0.0) {
            return Err(Error::Column {
                name: "investment".into(),
                reason: format!(
                    "value {} for unit {} in {}: must be finite and non-negative",
                    investment[j],
                    label(j),
                    time[j]
                ),
            });
        }
        real[j] = investment[j] / p;
    }
    if let InitialStock::Given(k0) = &spec.initial {
        if k0.len() != n {
            return Err(Error::Shape("initial stock needs one value per row".into()));
        }
    }
    let n_units = unit.iter().map(|&u| u as usize + 1).max().unwrap_or(0);
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); n_units];
    for j in 0..n {
        rows[unit[j] as usize].push(j);
    }
    let mut capital = vec![f64::NAN; n];
    let mut growth = vec![f64::NAN; n];
    for r in rows.iter_mut().filter(|r| !r.is_empty()) {
        r.sort_by_key(|&j| time[j]);
        for w in r.windows(2) {
            if time[w[1]] != time[w[0]] + 1 {
                return Err(Error::Column {
                    name: "time".into(),
                    reason: format!(
                        "unit {}: periods {} and {} are not consecutive; the perpetual \
                         inventory needs every year (fill the gap first)",
                        label(w[0]),
                        time[w[0]],
                        time[w[1]]
                    ),
                });
            }
        }
        let first = r[0];
        let (k0, g) = match &spec.initial {
            InitialStock::Given(k0) => (k0[first], f64::NAN),
            InitialStock::Growth(g) => (real[first] / (g + spec.delta), *g),
            InitialStock::UnitGrowth { years } => {
                let last = match years {
                    Some(y) => (*y).clamp(1, r.len()) - 1,
                    None => r.len() - 1,
                };
                if last == 0 || real[first] <= 0.0 || real[r[last]] <= 0.0 {
                    return Err(Error::Option {
                        name: "growth".into(),
                        reason: format!(
                            "unit {}: cannot compute the investment growth rate (needs at \
                             least two periods and positive real investment at both ends); \
                             pass growth= explicitly",
                            label(first)
                        ),
                    });
                }
                let g = (real[r[last]] / real[first]).powf(1.0 / last as f64) - 1.0;
                (real[first] / (g + spec.delta), g)
            }
        };
        if !(k0.is_finite() && k0 >= 0.0) {
            return Err(Error::Option {
                name: "growth".into(),
                reason: format!(
                    "unit {}: initial stock {k0} (g + delta = {}) is not a finite, \
                     non-negative number; g + delta must be positive",
                    label(first),
                    g + spec.delta
                ),
            });
        }
        let mut k = k0;
        capital[first] = k;
        growth[first] = g;
        for &j in &r[1..] {
            k = (1.0 - spec.delta) * k + real[j];
            capital[j] = k;
            growth[j] = g;
        }
    }
    Ok(PimFit {
        capital,
        growth,
        real_investment: real,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recursion_by_hand() {
        // I = 10, 11, 12.1 (growth 10 %), delta = 0.1: K0 = 10 / 0.2 = 50,
        // K1 = 0.9 * 50 + 11 = 56, K2 = 0.9 * 56 + 12.1 = 62.5.
        let spec = PimSpec {
            delta: 0.1,
            initial: InitialStock::UnitGrowth { years: None },
        };
        let f = capital_stock(
            &[0, 0, 0],
            &["a".into()],
            &[2000, 2001, 2002],
            &[10.0, 11.0, 12.1],
            None,
            &spec,
        )
        .unwrap();
        let want = [50.0, 56.0, 62.5];
        for j in 0..3 {
            assert!((f.capital[j] - want[j]).abs() < 1e-10);
        }
    }
}

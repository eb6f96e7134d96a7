//! Entropy-weight composite index.
//!
//! For indicators `j = 1..k` observed on `n` rows (unit-years) of a group (all rows when
//! pooled, or the rows of one year):
//!
//! ```text
//! z_ij = (x_ij - min_j) / (max_j - min_j)            positive indicator
//! z_ij = (max_j - x_ij) / (max_j - min_j)            negative indicator
//! p_ij = (z_ij + shift) / sum_i (z_ij + shift)       (shift > 0 keeps ln p finite)
//! e_j  = -(1 / ln n) sum_i p_ij ln p_ij,  d_j = 1 - e_j,  w_j = d_j / sum_l d_l
//! index_i = sum_j w_j z_ij
//! ```
//! The index lies in [0, 1]. An indicator that is constant within a group carries no
//! information (its min–max standardisation divides by zero): an error naming it.

use crate::error::Error;

/// Weights of one group and the index of its rows.
#[derive(Debug, Clone)]
pub struct EntropyFit {
    /// `weights[g * k + j]`: weight of indicator `j` in group `g`.
    pub weights: Vec<f64>,
    /// `entropy[g * k + j]`: `e_j` of group `g`.
    pub entropy: Vec<f64>,
    /// Composite index per row (input order).
    pub index: Vec<f64>,
    /// Standardised values `z`, row-major `n x k`.
    pub standardized: Vec<f64>,
    pub n_groups: usize,
}

/// Entropy weights and index. `columns[j]` holds indicator `j` (length `n`); `positive[j]` its
/// direction; `group[i]` the group code (`0..n_groups`) of row `i` (all zeros when pooled).
pub fn entropy_index(
    columns: &[&[f64]],
    names: &[String],
    positive: &[bool],
    group: &[u32],
    shift: f64,
) -> Result<EntropyFit, Error> {
    let k = columns.len();
    if k == 0 {
        return Err(Error::Option {
            name: "indicators".into(),
            reason: "need at least one indicator".into(),
        });
    }
    let n = group.len();
    if names.len() != k || positive.len() != k || columns.iter().any(|c| c.len() != n) {
        return Err(Error::Shape(
            "indicators, names, directions and groups disagree in length".into(),
        ));
    }
    if !(shift.is_finite() && shift >= 0.0) {
        return Err(Error::Option {
            name: "shift".into(),
            reason: format!("{shift}: must be a finite number >= 0"),
        });
    }
    for (j, c) in columns.iter().enumerate() {
        if let Some(i) = c.iter().position(|v| !v.is_finite()) {
            return Err(Error::Column {
                name: names[j].clone(),
                reason: format!("non-finite value {} in row {i}", c[i]),
            });
        }
    }
    let n_groups = group.iter().map(|&g| g as usize + 1).max().unwrap_or(0);
    // Group codes are the caller's: per-group buffers are allocated fallibly.
    let cells = crate::alloc::elements(n_groups, k, "groups x indicators")?;
    crate::alloc::ensure::<f64>(cells, 2, "groups x indicators")?;
    let mut members: Vec<Vec<usize>> = crate::alloc::try_vec(n_groups, Vec::new(), "groups")?;
    for (i, &g) in group.iter().enumerate() {
        members[g as usize].push(i);
    }
    let mut z = vec![0.0; n * k];
    let mut weights = vec![f64::NAN; n_groups * k];
    let mut entropy = vec![f64::NAN; n_groups * k];
    let mut index = vec![0.0; n];
    for (g, rows) in members.iter().enumerate() {
        if rows.is_empty() {
            continue;
        }
        if rows.len() < 2 {
            return Err(Error::Empty(format!(
                "group {g} has a single row: entropy weights need at least two rows per group"
            )));
        }
        let ln_n = (rows.len() as f64).ln();
        let mut d = vec![0.0; k];
        for j in 0..k {
            let c = columns[j];
            let (lo, hi) = rows
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &i| {
                    (a.min(c[i]), b.max(c[i]))
                });
            let range = hi - lo;
            if range <= 0.0 {
                return Err(Error::Column {
                    name: names[j].clone(),
                    reason: format!(
                        "constant (= {lo}) within group {g}: an indicator without variation \
                         has no entropy weight; drop it"
                    ),
                });
            }
            let mut total = 0.0;
            for &i in rows {
                let v = if positive[j] {
                    (c[i] - lo) / range
                } else {
                    (hi - c[i]) / range
                };
                z[i * k + j] = v;
                total += v + shift;
            }
            if total <= 0.0 {
                return Err(Error::Option {
                    name: "shift".into(),
                    reason: "all standardised values are zero: use shift > 0".into(),
                });
            }
            let mut e = 0.0;
            for &i in rows {
                let p = (z[i * k + j] + shift) / total;
                if p > 0.0 {
                    e -= p * p.ln();
                }
            }
            e /= ln_n;
            entropy[g * k + j] = e;
            d[j] = 1.0 - e;
        }
        let dsum: f64 = d.iter().sum();
        if dsum <= 0.0 {
            return Err(Error::Numerical(format!(
                "group {g}: every indicator has entropy 1 (no dispersion)"
            )));
        }
        for j in 0..k {
            weights[g * k + j] = d[j] / dsum;
        }
        for &i in rows {
            index[i] = (0..k).map(|j| weights[g * k + j] * z[i * k + j]).sum();
        }
    }
    Ok(EntropyFit {
        weights,
        entropy,
        index,
        standardized: z,
        n_groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_and_constant_is_error() {
        let a = [1.0, 2.0, 3.0];
        let b = [3.0, 1.0, 2.0];
        let f = entropy_index(
            &[&a, &b],
            &["a".into(), "b".into()],
            &[true, false],
            &[0, 0, 0],
            0.0,
        )
        .unwrap();
        assert!((f.weights.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        let c = [1.0, 1.0, 1.0];
        let e = entropy_index(
            &[&a, &c],
            &["a".into(), "c".into()],
            &[true, true],
            &[0, 0, 0],
            0.0,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("'c'"), "{e}");
    }
}

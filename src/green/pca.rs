//! Principal-components composite index, with the KMO and Bartlett diagnostics.
//!
//! For indicators `j = 1..p` observed on `n` rows (unit-years), pooled over all rows:
//!
//! ```text
//! z_ij = s_j (x_ij - mean_j) / sd_j        (standardize; sd with n - 1; s_j = -1 negative)
//! z_ij = s_j (x_ij - mean_j)               (standardize = false: covariance PCA)
//! Z = U S V'  (thin SVD),  lambda_k = S_kk^2 / (n - 1)   eigenvalues of Z'Z / (n - 1)
//! score_ik = (Z V)_ik,     index_i = sum_{k <= m} w_k score_ik
//! w_k = lambda_k / sum_{l <= m} lambda_l   (variance)  or  1 / m   (equal)
//! ```
//! Sign convention: every eigenvector is flipped so that its largest-|.| entry is positive
//! (among entries within 1e-12 of the largest, the first indicator's), so the scores and the
//! index are unique; with two standardised indicators both entries of each eigenvector have
//! the same modulus 1/sqrt(2), hence the tolerance.
//!
//! Component choice: `m` given, or Kaiser's rule (eigenvalue above the mean eigenvalue, which
//! is 1 for a correlation matrix; at least one component), or the smallest `m` whose
//! cumulative share of variance reaches a threshold.
//!
//! Diagnostics on the correlation matrix `R` whatever the scaling (both are scale free):
//! Kaiser–Meyer–Olkin with the partial correlations `q_ij = -P_ij / sqrt(P_ii P_jj)`,
//! `P = R^{-1}`: `KMO_j = sum_{i != j} r_ij^2 / (sum_{i != j} r_ij^2 + sum_{i != j} q_ij^2)`,
//! overall the same sums over all `i != j`; Bartlett's sphericity test
//! `chi2 = -(n - 1 - (2p + 5) / 6) ln|R|` on `p(p - 1)/2` degrees of freedom. Both need `R`
//! nonsingular; for collinear indicators they are NaN and `diagnostics_note` says why.

use faer::Mat;
use ndarray::Array2;
use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::error::{Error, Result};
use crate::linalg::{spd_inverse, symmetric_eigenvalues};

/// Entries within this (relative) distance of the largest modulus count as tied for the sign.
const SIGN_TIE: f64 = 1e-12;
/// `R` counts as singular when its smallest eigenvalue is below this times its largest.
const SINGULAR: f64 = 1e-12;

/// How the number of components is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Select {
    /// Exactly this many (1..=p).
    Count(usize),
    /// Kaiser: eigenvalue above the mean eigenvalue (1 for standardised indicators).
    Eigenvalue,
    /// Smallest m with cumulative share of variance >= the threshold (in (0, 1]).
    Share(f64),
}

/// How the chosen components are combined into the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentWeights {
    /// By their share of the chosen components' variance, `lambda_k / sum lambda`.
    Variance,
    /// Equally, `1 / m`.
    Equal,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PcaSpec {
    pub standardize: bool,
    pub select: Select,
    pub component_weights: ComponentWeights,
}

/// The fitted components, the index and the diagnostics.
#[derive(Debug, Clone)]
pub struct PcaFit {
    pub n: usize,
    pub p: usize,
    /// Column means and the scales divided by (sd, or 1 without standardisation).
    pub means: Vec<f64>,
    pub scales: Vec<f64>,
    /// All `p` eigenvalues, descending.
    pub eigenvalues: Vec<f64>,
    /// `eigenvectors[j * p + k]`: entry `j` of eigenvector `k` (row-major `p x p`), signed.
    pub eigenvectors: Vec<f64>,
    /// `eigenvalues / sum(eigenvalues)` and their running sum.
    pub explained: Vec<f64>,
    pub cumulative: Vec<f64>,
    /// Number of components kept, `m`.
    pub n_components: usize,
    /// `scores[i * m + k]`: score of row `i` on component `k` (row-major `n x m`).
    pub scores: Vec<f64>,
    /// Weight of each kept component in the index.
    pub component_weights: Vec<f64>,
    /// The composite index per row (input order).
    pub index: Vec<f64>,
    /// Correlation matrix, row-major `p x p`.
    pub correlation: Vec<f64>,
    pub kmo: f64,
    pub kmo_per_variable: Vec<f64>,
    pub bartlett_chi2: f64,
    pub bartlett_df: usize,
    pub bartlett_p_value: f64,
    /// Why KMO / Bartlett are NaN (singular correlation matrix), if they are.
    pub diagnostics_note: Option<String>,
}

/// Principal components of `columns` (indicator `j` in `columns[j]`, all of length `n`);
/// `positive[j] = false` reverses indicator `j` before the analysis.
pub fn pca_index(
    columns: &[&[f64]],
    names: &[String],
    positive: &[bool],
    spec: &PcaSpec,
) -> Result<PcaFit> {
    let p = columns.len();
    if p < 2 {
        return Err(Error::Option {
            name: "indicators".into(),
            reason: format!(
                "got {p} indicator(s): principal components need at least two (one indicator \
                 is its own index)"
            ),
        });
    }
    let n = columns[0].len();
    if names.len() != p || positive.len() != p || columns.iter().any(|c| c.len() != n) {
        return Err(Error::Shape(
            "indicators, names and directions disagree in length".into(),
        ));
    }
    if n <= p {
        return Err(Error::Empty(format!(
            "{n} complete row(s) for {p} indicators: principal components need more rows \
             (unit-years) than indicators"
        )));
    }
    let m_fixed = match spec.select {
        Select::Count(m) if !(1..=p).contains(&m) => {
            return Err(Error::Option {
                name: "n_components".into(),
                reason: format!("{m}: must be in 1..={p} (the number of indicators)"),
            })
        }
        Select::Share(t) if !(t > 0.0 && t <= 1.0) => {
            return Err(Error::Option {
                name: "share_threshold".into(),
                reason: format!("{t}: must be in (0, 1]"),
            })
        }
        Select::Count(m) => Some(m),
        _ => None,
    };
    for (j, c) in columns.iter().enumerate() {
        if let Some(i) = c.iter().position(|v| !v.is_finite()) {
            return Err(Error::Column {
                name: names[j].clone(),
                reason: format!("non-finite value {} in row {i}", c[i]),
            });
        }
    }
    let cells = crate::alloc::elements(n, p, "rows x indicators")?;
    crate::alloc::ensure::<f64>(cells, 3, "rows x indicators")?;

    // Centred (and signed) columns, and the standardised ones for the diagnostics.
    let nf = n as f64;
    let mut means = Vec::with_capacity(p);
    let mut sds = Vec::with_capacity(p);
    let mut centred: Vec<Vec<f64>> = Vec::with_capacity(p);
    for (j, c) in columns.iter().enumerate() {
        let mean = c.iter().sum::<f64>() / nf;
        let sign = if positive[j] { 1.0 } else { -1.0 };
        let d: Vec<f64> = c.iter().map(|v| sign * (v - mean)).collect();
        let sd = (d.iter().map(|v| v * v).sum::<f64>() / (nf - 1.0)).sqrt();
        // relative to the column's magnitude: a constant column leaves rounding noise
        let magnitude = c.iter().fold(0.0_f64, |a, v| a.max(v.abs()));
        if !(mean.is_finite() && sd.is_finite()) {
            return Err(Error::Column {
                name: names[j].clone(),
                reason: format!(
                    "values up to {magnitude:e} overflow its mean or variance; rescale it"
                ),
            });
        }
        if sd <= 1e-14 * magnitude.max(f64::MIN_POSITIVE) {
            return Err(Error::Column {
                name: names[j].clone(),
                reason: format!(
                    "constant (= {}): an indicator without variation has no principal \
                     component loading; drop it",
                    c[0]
                ),
            });
        }
        means.push(mean);
        sds.push(sd);
        centred.push(d);
    }
    let scales: Vec<f64> = if spec.standardize {
        sds.clone()
    } else {
        vec![1.0; p]
    };
    let z = Mat::<f64>::from_fn(n, p, |i, j| centred[j][i] / scales[j]);

    let svd = z
        .thin_svd()
        .map_err(|e| Error::Numerical(format!("singular value decomposition failed: {e:?}")))?;
    let s = svd.S().column_vector();
    let v = svd.V();
    let eigenvalues: Vec<f64> = (0..p).map(|k| s[k] * s[k] / (nf - 1.0)).collect();
    let mut vecs = vec![0.0; p * p];
    for k in 0..p {
        let top = (0..p).fold(0.0_f64, |a, j| a.max(v[(j, k)].abs()));
        let lead = (0..p)
            .find(|&j| v[(j, k)].abs() >= top * (1.0 - SIGN_TIE))
            .unwrap_or(0);
        let sign = if v[(lead, k)] < 0.0 { -1.0 } else { 1.0 };
        for j in 0..p {
            vecs[j * p + k] = sign * v[(j, k)];
        }
    }
    let total: f64 = eigenvalues.iter().sum();
    let explained: Vec<f64> = eigenvalues.iter().map(|l| l / total).collect();
    let cumulative: Vec<f64> = explained
        .iter()
        .scan(0.0, |acc, e| {
            *acc += e;
            Some(*acc)
        })
        .collect();
    let m = match (m_fixed, spec.select) {
        (Some(m), _) => m,
        (None, Select::Share(t)) => cumulative.iter().position(|&c| c >= t).map_or(p, |k| k + 1),
        _ => {
            let mean = total / p as f64;
            eigenvalues.iter().filter(|&&l| l > mean).count().max(1)
        }
    };
    let weights: Vec<f64> = match spec.component_weights {
        ComponentWeights::Variance => {
            let kept: f64 = eigenvalues[..m].iter().sum();
            eigenvalues[..m].iter().map(|l| l / kept).collect()
        }
        ComponentWeights::Equal => vec![1.0 / m as f64; m],
    };
    let mut scores = vec![0.0; n * m];
    let mut index = vec![0.0; n];
    for i in 0..n {
        let mut acc = 0.0;
        for k in 0..m {
            let sc: f64 = (0..p).map(|j| z[(i, j)] * vecs[j * p + k]).sum();
            scores[i * m + k] = sc;
            acc += weights[k] * sc;
        }
        index[i] = acc;
    }

    let correlation = correlation_matrix(&centred, &sds, n);
    let diag = diagnostics(&correlation, p, n)?;
    Ok(PcaFit {
        n,
        p,
        means,
        scales,
        eigenvalues,
        eigenvectors: vecs,
        explained,
        cumulative,
        n_components: m,
        scores,
        component_weights: weights,
        index,
        correlation: correlation.iter().copied().collect(),
        kmo: diag.kmo,
        kmo_per_variable: diag.kmo_per_variable,
        bartlett_chi2: diag.chi2,
        bartlett_df: p * (p - 1) / 2,
        bartlett_p_value: diag.p_value,
        diagnostics_note: diag.note,
    })
}

fn correlation_matrix(centred: &[Vec<f64>], sds: &[f64], n: usize) -> Array2<f64> {
    let p = centred.len();
    let denom = (n - 1) as f64;
    let mut r = Array2::<f64>::eye(p);
    for a in 0..p {
        for b in 0..a {
            let c = crate::linalg::dot(&centred[a], &centred[b]) / denom / (sds[a] * sds[b]);
            r[[a, b]] = c;
            r[[b, a]] = c;
        }
    }
    r
}

struct Diagnostics {
    kmo: f64,
    kmo_per_variable: Vec<f64>,
    chi2: f64,
    p_value: f64,
    note: Option<String>,
}

fn diagnostics(r: &Array2<f64>, p: usize, n: usize) -> Result<Diagnostics> {
    let nan = |note: String| Diagnostics {
        kmo: f64::NAN,
        kmo_per_variable: vec![f64::NAN; p],
        chi2: f64::NAN,
        p_value: f64::NAN,
        note: Some(note),
    };
    let ev = symmetric_eigenvalues(r.view())?;
    let (lo, hi) = (ev[0], ev[p - 1]);
    if lo.is_nan() || lo <= SINGULAR * hi {
        return Ok(nan(format!(
            "KMO and Bartlett's test are undefined: the indicators' correlation matrix is \
             singular (smallest eigenvalue {lo:.3e}; some indicators are collinear)"
        )));
    }
    let inv = match spd_inverse(r.view()) {
        Ok(inv) => inv,
        Err(_) => {
            return Ok(nan(
                "KMO and Bartlett's test are undefined: the indicators' correlation matrix \
                 cannot be inverted (collinear indicators)"
                    .into(),
            ))
        }
    };
    let mut per = vec![0.0; p];
    let (mut r2_all, mut q2_all) = (0.0, 0.0);
    for j in 0..p {
        let (mut r2, mut q2) = (0.0, 0.0);
        for i in 0..p {
            if i == j {
                continue;
            }
            let q = -inv[[i, j]] / (inv[[i, i]] * inv[[j, j]]).sqrt();
            r2 += r[[i, j]] * r[[i, j]];
            q2 += q * q;
        }
        per[j] = r2 / (r2 + q2);
        r2_all += r2;
        q2_all += q2;
    }
    let log_det: f64 = ev.iter().map(|l| l.ln()).sum();
    let chi2 = -((n as f64) - 1.0 - (2.0 * p as f64 + 5.0) / 6.0) * log_det;
    let df = (p * (p - 1) / 2) as f64;
    let p_value = if chi2.is_finite() {
        ChiSquared::new(df)
            .map_err(|e| Error::Numerical(format!("chi-squared: {e}")))?
            .sf(chi2.max(0.0))
    } else {
        f64::NAN
    };
    Ok(Diagnostics {
        kmo: r2_all / (r2_all + q2_all),
        kmo_per_variable: per,
        chi2,
        p_value,
        note: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: usize) -> Vec<String> {
        (0..p).map(|j| format!("x{j}")).collect()
    }

    fn spec(select: Select) -> PcaSpec {
        PcaSpec {
            standardize: true,
            select,
            component_weights: ComponentWeights::Variance,
        }
    }

    #[test]
    fn eigenvalues_sum_to_p_and_scores_have_their_variance() {
        let a = [1.0, 2.0, 3.0, 4.0, 6.0, 5.0];
        let b = [2.0, 1.0, 4.0, 3.0, 5.0, 7.0];
        let c = [0.5, 0.1, 0.3, 0.9, 0.2, 0.4];
        let f = pca_index(
            &[&a, &b, &c],
            &names(3),
            &[true; 3],
            &spec(Select::Count(3)),
        )
        .unwrap();
        assert!((f.eigenvalues.iter().sum::<f64>() - 3.0).abs() < 1e-12);
        assert!(f.eigenvalues.windows(2).all(|w| w[0] >= w[1]));
        for k in 0..3 {
            let var: f64 = (0..6).map(|i| f.scores[i * 3 + k].powi(2)).sum::<f64>() / 5.0;
            assert!((var - f.eigenvalues[k]).abs() < 1e-12);
        }
        assert!((f.component_weights.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert!(f.kmo > 0.0 && f.kmo < 1.0 && f.bartlett_df == 3);
    }

    #[test]
    fn bad_input_names_the_column_or_option() {
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [2.0, 2.0, 2.0, 2.0];
        let e = pca_index(&[&a, &b], &names(2), &[true; 2], &spec(Select::Eigenvalue))
            .unwrap_err()
            .to_string();
        assert!(e.contains("'x1'") && e.contains("constant"), "{e}");
        let c = [1.0, 3.0, 2.0, 5.0];
        let e = pca_index(&[&a, &c], &names(2), &[true; 2], &spec(Select::Count(3)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("n_components") && e.contains("1..=2"), "{e}");
        let e = pca_index(&[&a], &names(1), &[true], &spec(Select::Eigenvalue))
            .unwrap_err()
            .to_string();
        assert!(e.contains("indicators"), "{e}");
        let d = [1.0, f64::NAN, 2.0, 5.0];
        let e = pca_index(&[&a, &d], &names(2), &[true; 2], &spec(Select::Eigenvalue))
            .unwrap_err()
            .to_string();
        assert!(e.contains("'x1'") && e.contains("row 1"), "{e}");
    }

    #[test]
    fn collinear_indicators_give_a_note_not_a_failure() {
        let a = [1.0, 2.0, 3.0, 4.0, 7.0];
        let b = [2.0, 4.0, 6.0, 8.0, 14.0];
        let c = [1.0, 0.0, 3.0, 1.0, 2.0];
        let f = pca_index(
            &[&a, &b, &c],
            &names(3),
            &[true; 3],
            &spec(Select::Eigenvalue),
        )
        .unwrap();
        assert!(f.kmo.is_nan() && f.diagnostics_note.is_some());
    }
}

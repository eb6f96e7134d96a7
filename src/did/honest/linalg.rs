//! Small dense helpers on row-major `Vec<Vec<f64>>` (matrices here are a few dozen wide).

use faer::{Mat, Side};

pub(crate) type Rows = Vec<Vec<f64>>;

pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub(crate) fn mat_vec(a: &Rows, v: &[f64]) -> Vec<f64> {
    a.iter().map(|r| dot(r, v)).collect()
}

/// v' S v
pub(crate) fn quad(v: &[f64], s: &Rows) -> f64 {
    dot(v, &mat_vec(s, v))
}

/// A S A'
pub(crate) fn sandwich(a: &Rows, s: &Rows) -> Rows {
    let as_: Rows = a
        .iter()
        .map(|r| {
            (0..s.len())
                .map(|j| (0..r.len()).map(|k| r[k] * s[k][j]).sum())
                .collect()
        })
        .collect();
    as_.iter()
        .map(|r| a.iter().map(|q| dot(r, q)).collect())
        .collect()
}

/// Solve A x = b by Gaussian elimination with partial pivoting; None if singular.
pub(crate) fn solve_square(a: &Rows, b: &[f64]) -> Option<Vec<f64>> {
    let n = a.len();
    let mut m: Rows = a
        .iter()
        .zip(b)
        .map(|(r, bi)| r.iter().copied().chain([*bi]).collect())
        .collect();
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))?;
        if m[piv][col].abs() < 1e-14 {
            return None;
        }
        m.swap(col, piv);
        for i in 0..n {
            if i != col {
                let f = m[i][col] / m[col][col];
                if f != 0.0 {
                    let pivot_row = m[col].clone();
                    for (j, pv) in pivot_row.iter().enumerate().skip(col) {
                        m[i][j] -= f * pv;
                    }
                }
            }
        }
    }
    Some((0..n).map(|i| m[i][n] / m[i][i]).collect())
}

/// Symmetric square root V diag(sqrt(max(l, 0))) V' of a covariance (singular allowed):
/// the unique PSD root, so an independent implementation given the same standard normals
/// draws the same N(0, S) vectors.
pub(crate) fn sym_sqrt(s: &Rows) -> Option<Rows> {
    let n = s.len();
    let m = Mat::<f64>::from_fn(n, n, |i, j| 0.5 * (s[i][j] + s[j][i]));
    let eig = m.self_adjoint_eigen(Side::Lower).ok()?;
    let u = eig.U();
    let l = eig.S().column_vector();
    Some(
        (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        (0..n)
                            .map(|k| u[(i, k)] * l[k].max(0.0).sqrt() * u[(j, k)])
                            .sum()
                    })
                    .collect()
            })
            .collect(),
    )
}

//! Dense helpers on plain slices, shared by the estimators (one copy each).
//!
//! Two dot products and two SPD inverses exist on purpose: each copy's operation order is
//! what recorded results were computed with, and the pairs do not agree to the last bit.
//! - [`dot`] (four accumulators, vectorisable): `ols` (cross products, normal equations),
//!   `linear::feols`, `robust::placebo`, the PSM logit;
//! - [`dot_sequential`] (one running sum, left to right): the spatial models, SAC and the LM
//!   diagnostics;
//! - `linalg::spd_inverse` (faer's Cholesky, symmetrised, ndarray): everywhere else;
//! - [`spd_inverse_rowmajor`] (hand-written Cholesky on a row-major slice, with a pivot test
//!   relative to the diagonal): the wild cluster bootstrap's small X'X.

// Index loops mirror the matrix formulas they implement.
#![allow(clippy::needless_range_loop)]

/// a·b with four accumulators (lanes i mod 4, combined as (l0 + l1) + (l2 + l3), then the
/// tail in order).
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    // Four accumulators: lets the compiler vectorise without changing results between runs.
    let mut acc = [0.0f64; 4];
    let chunks = a.len() / 4;
    for c in 0..chunks {
        for l in 0..4 {
            acc[l] += a[4 * c + l] * b[4 * c + l];
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for i in 4 * chunks..a.len() {
        s += a[i] * b[i];
    }
    s
}

/// a·b as one running sum from the first element (Rust's `Iterator::sum`).
pub fn dot_sequential(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Inverse of a symmetric positive definite k×k matrix (row-major) by Cholesky; None if a pivot
/// is not positive relative to the diagonal's scale.
pub fn spd_inverse_rowmajor(m: &[f64], k: usize) -> Option<Vec<f64>> {
    let scale = (0..k).map(|i| m[i * k + i].abs()).fold(0.0, f64::max);
    if !(scale > 0.0 && scale.is_finite()) {
        return None;
    }
    // L lower triangular, m = L L'.
    let mut l = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..=i {
            let mut s = m[i * k + j];
            for t in 0..j {
                s -= l[i * k + t] * l[j * k + t];
            }
            if i == j {
                // Also rejects NaN.
                if s.partial_cmp(&(1e-13 * scale)) != Some(std::cmp::Ordering::Greater) {
                    return None;
                }
                l[i * k + i] = s.sqrt();
            } else {
                l[i * k + j] = s / l[j * k + j];
            }
        }
    }
    // Inverse of L (lower triangular), then m^{-1} = L^{-T} L^{-1}.
    let mut li = vec![0.0; k * k];
    for i in 0..k {
        li[i * k + i] = 1.0 / l[i * k + i];
        for j in 0..i {
            let mut s = 0.0;
            for t in j..i {
                s -= l[i * k + t] * li[t * k + j];
            }
            li[i * k + j] = s / l[i * k + i];
        }
    }
    let mut inv = vec![0.0; k * k];
    for a in 0..k {
        for b in 0..=a {
            let mut s = 0.0;
            for t in a..k {
                s += li[t * k + a] * li[t * k + b];
            }
            inv[a * k + b] = s;
            inv[b * k + a] = s;
        }
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_agree_on_exact_sums() {
        let a: Vec<f64> = (0..11).map(|v| v as f64).collect();
        assert_eq!(dot(&a, &a), 385.0);
        assert_eq!(dot_sequential(&a, &a), 385.0);
    }

    #[test]
    fn rowmajor_inverse() {
        let m = [4.0, 1.0, 1.0, 3.0];
        let inv = spd_inverse_rowmajor(&m, 2).unwrap();
        let eye00 = m[0] * inv[0] + m[1] * inv[2];
        let eye01 = m[0] * inv[1] + m[1] * inv[3];
        assert!((eye00 - 1.0).abs() < 1e-14 && eye01.abs() < 1e-14);
        assert!(spd_inverse_rowmajor(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }
}

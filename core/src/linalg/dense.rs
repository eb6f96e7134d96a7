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
//!
//! [`numpy_sum`] adds as numpy's `np.sum` of a contiguous float64 array does, for statistics
//! that moved from Python into the core and must keep their recorded bits.

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

/// `np.sum(a)` of a contiguous float64 array, bit for bit: numpy's add reduction starts from
/// its identity 0.0 and adds the pairwise sum of the whole array (fewer than 8 values: one
/// running sum from -0.0; up to 128: eight lanes i mod 8 combined as ((l0 + l1) + (l2 + l3)) +
/// ((l4 + l5) + (l6 + l7)), then the tail in order; beyond: the two halves split at a
/// multiple of 8, recursively).
pub fn numpy_sum(a: &[f64]) -> f64 {
    0.0 + numpy_pairwise_sum(a)
}

fn numpy_pairwise_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        a.iter().fold(-0.0, |s, &v| s + v)
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let body = n - n % 8;
        for block in a[8..body].chunks_exact(8) {
            for (acc, &v) in r.iter_mut().zip(block) {
                *acc += v;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &a[body..] {
            res += v;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        numpy_pairwise_sum(&a[..n2]) + numpy_pairwise_sum(&a[n2..])
    }
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

    /// np.sum of a_i = sin(1.7 i) 10^(i mod 13 - 6), i < n (numpy 2.4, float.hex).
    #[test]
    fn numpy_sum_matches_numpy() {
        let want = [
            (3, "-0x1.065a6367e495ep-16"),
            (8, "-0x1.b3088f2d577a1p+2"),
            (9, "0x1.3c79a287e2cb9p+6"),
            (17, "0x1.dc715c40c1ff4p+19"),
            (128, "0x1.96c0b931b372ap+19"),
            (129, "0x1.72b7adf41fc43p+19"),
            (300, "0x1.1c68bc71e02d8p+17"),
            (1000, "0x1.568b8675d4621p+19"),
        ];
        for (n, hex) in want {
            let a: Vec<f64> = (0..n)
                .map(|i| (i as f64 * 1.7).sin() * 10f64.powf((i % 13) as f64 - 6.0))
                .collect();
            assert_eq!(hex_of(numpy_sum(&a)), hex, "n = {n}");
        }
        assert_eq!(numpy_sum(&[-0.0]).to_bits(), 0.0f64.to_bits());
    }

    /// Python's float.hex() of a finite non-zero double.
    fn hex_of(x: f64) -> String {
        let bits = x.to_bits();
        let sign = if bits >> 63 == 1 { "-" } else { "" };
        let exp = ((bits >> 52) & 0x7ff) as i64;
        let man = bits & ((1u64 << 52) - 1);
        let digits = format!("{man:013x}");
        let digits = digits.trim_end_matches('0');
        let digits = if digits.is_empty() { "0" } else { digits };
        format!("{sign}0x1.{digits}p{:+}", exp - 1023)
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

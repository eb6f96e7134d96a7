//! Clamped B-spline basis in the dose and its first derivative, for the continuous-dose DID
//! (`super::dose`).
//!
//! The knot sequence is the boundary knots repeated `degree + 1` times around the interior knots
//! (R `splines2::bSpline`, `moderndid`'s `BSpline`, SciPy's `BSpline.design_matrix` with
//! `extrapolate=True`): a dose outside the boundary knots takes the polynomial piece of the
//! nearest interval. The basis is returned without its first column and with a leading
//! intercept column (the design of `moderndid.didcont.cont_did_acrt`), so a fit has
//! `degree + interior knots + 1` coefficients.

/// The knot sequence and degree of one spline.
#[derive(Debug, Clone)]
pub struct DoseSpline {
    knots: Vec<f64>,
    degree: usize,
}

impl DoseSpline {
    /// `interior` sorted and strictly inside `(lo, hi)`; `lo < hi`; `degree >= 1`.
    pub fn new(lo: f64, hi: f64, interior: &[f64], degree: usize) -> Self {
        let mut knots = Vec::with_capacity(interior.len() + 2 * (degree + 1));
        knots.extend(std::iter::repeat(lo).take(degree + 1));
        knots.extend_from_slice(interior);
        knots.extend(std::iter::repeat(hi).take(degree + 1));
        Self { knots, degree }
    }

    /// Number of B-spline basis functions (before the first is dropped).
    fn n_basis(&self) -> usize {
        self.knots.len() - self.degree - 1
    }

    /// Columns of the design: intercept + basis without its first function.
    pub fn n_coef(&self) -> usize {
        self.n_basis()
    }

    /// Knot interval k (t[k] <= x < t[k+1], clipped to the valid range [degree, n_basis - 1]).
    fn interval(&self, x: f64) -> usize {
        let t = &self.knots;
        let p = self.degree;
        let hi = self.n_basis() - 1;
        // Largest k with t[k] <= x (side="right" search minus one).
        let k = t.partition_point(|&v| v <= x).saturating_sub(1);
        k.clamp(p, hi)
    }

    /// The `q + 1` nonzero basis values of degree `q` on interval `k` at `x` (de Boor's
    /// triangle; extrapolates the interval's polynomial outside it).
    fn local(&self, x: f64, k: usize, q: usize) -> Vec<f64> {
        let t = &self.knots;
        let mut n = vec![0.0; q + 1];
        let mut left = vec![0.0; q + 1];
        let mut right = vec![0.0; q + 1];
        n[0] = 1.0;
        for j in 1..=q {
            left[j] = x - t[k + 1 - j];
            right[j] = t[k + j] - x;
            let mut saved = 0.0;
            for r in 0..j {
                let temp = n[r] / (right[r + 1] + left[j - r]);
                n[r] = saved + right[r + 1] * temp;
                saved = left[j - r] * temp;
            }
            n[j] = saved;
        }
        n
    }

    /// Design row at `x`: [1, B_1(x), ..., B_{m-1}(x)] (length `n_coef()`).
    pub fn row(&self, x: f64, out: &mut [f64]) {
        let p = self.degree;
        let k = self.interval(x);
        let vals = self.local(x, k, p);
        out.iter_mut().for_each(|v| *v = 0.0);
        out[0] = 1.0;
        for (r, v) in vals.iter().enumerate() {
            let i = k - p + r; // basis index
            if i >= 1 {
                out[i] += v;
            }
        }
    }

    /// Derivative row at `x`: [0, B_1'(x), ..., B_{m-1}'(x)].
    pub fn deriv_row(&self, x: f64, out: &mut [f64]) {
        let p = self.degree;
        let t = &self.knots;
        out.iter_mut().for_each(|v| *v = 0.0);
        let k = self.interval(x);
        // Degree p-1 values B_{k-p+1..k, p-1} on the same interval.
        let lower = self.local(x, k, p - 1);
        let pf = p as f64;
        for r in 0..=p {
            let i = k - p + r;
            if i == 0 {
                continue;
            }
            // B'_{i,p} = p [B_{i,p-1} / (t_{i+p} - t_i) - B_{i+1,p-1} / (t_{i+p+1} - t_{i+1})]
            let b_i = if r >= 1 { lower[r - 1] } else { 0.0 };
            let b_next = if r < p { lower[r] } else { 0.0 };
            let d1 = t[i + p] - t[i];
            let d2 = t[i + p + 1] - t[i + 1];
            let mut v = 0.0;
            if d1 > 0.0 {
                v += b_i / d1;
            }
            if d2 > 0.0 {
                v -= b_next / d2;
            }
            out[i] = pf * v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_of_unity_and_derivative_sum() {
        let s = DoseSpline::new(0.5, 3.0, &[1.0, 2.2], 3);
        let m = s.n_coef();
        let mut row = vec![0.0; m];
        let mut d = vec![0.0; m];
        for &x in &[0.5, 0.9, 1.0, 2.0, 2.99, 3.0] {
            s.row(x, &mut row);
            // Intercept + all basis but the first: the full basis sums to 1.
            let full: f64 = row[1..].iter().sum();
            assert!(full <= 1.0 + 1e-12);
            s.deriv_row(x, &mut d);
            assert_eq!(d[0], 0.0);
        }
        // Numerical derivative check.
        let h = 1e-6;
        let mut a = vec![0.0; m];
        let mut b = vec![0.0; m];
        for &x in &[0.7, 1.5, 2.5] {
            s.row(x + h, &mut a);
            s.row(x - h, &mut b);
            s.deriv_row(x, &mut d);
            for j in 1..m {
                assert!(((a[j] - b[j]) / (2.0 * h) - d[j]).abs() < 1e-6);
            }
        }
    }
}

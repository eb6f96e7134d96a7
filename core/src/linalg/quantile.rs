//! Sample quantiles of sorted data, in R's numbering of the definitions.

/// R's `quantile(x, p, type = 7)` (linear interpolation; R's and numpy's default) of sorted
/// data: the spatial effects' simulation intervals, the mediation bootstrap's intervals.
///
/// The two copies this replaces differed only in the upper index at an integer position
/// (`ceil(h)` here, `min(lo + 1, n - 1)` in the bootstrap's); the weight of that index is then
/// zero, so for finite data (the bootstrap keeps only finite draws) they agree bit for bit.
pub fn quantile_type7(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// R's `quantile(x, p, type = 1)` of sorted data: x[ceil(n p)] (1-based), at least x[1]
/// (the multiplier bootstrap's standard errors and critical values, as R `did`).
pub fn quantile_type1(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let np = n as f64 * p;
    // Guard against np being an integer up to rounding (R uses a fuzz of 4 eps).
    let j = (np - 4.0 * f64::EPSILON * np.abs().max(1.0)).ceil() as usize;
    sorted[j.clamp(1, n) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_type1_matches_r() {
        // R: quantile(1:10, c(.25, .75, .95), type = 1) = 3, 8, 10
        let x: Vec<f64> = (1..=10).map(|v| v as f64).collect();
        assert_eq!(quantile_type1(&x, 0.25), 3.0);
        assert_eq!(quantile_type1(&x, 0.75), 8.0);
        assert_eq!(quantile_type1(&x, 0.95), 10.0);
        // R: quantile(1:4, .5, type = 1) = 2
        assert_eq!(quantile_type1(&x[..4], 0.5), 2.0);
    }

    #[test]
    fn quantile_type7_matches_r() {
        // R: quantile(c(1, 2, 4, 8), c(0, .1, .5, 1)) = 1, 1.3, 3, 8
        let x = [1.0, 2.0, 4.0, 8.0];
        assert_eq!(quantile_type7(&x, 0.0), 1.0);
        assert!((quantile_type7(&x, 0.1) - 1.3).abs() < 1e-15);
        assert_eq!(quantile_type7(&x, 0.5), 3.0);
        assert_eq!(quantile_type7(&x, 1.0), 8.0);
    }
}

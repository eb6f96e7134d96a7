//! Test fixtures shared by the spatial modules' tests.

use super::weights::Weights;

/// Irregular symmetric 0/1 graph (degrees 1..=5), row-standardised: W = D⁻¹C (similar to a
/// symmetric matrix, not symmetric itself).
pub(crate) fn irregular_w(n: usize) -> Weights {
    let mut c = vec![0.0; n * n];
    for i in 0..n {
        for step in [1usize, 3, 7] {
            let j = (i * 5 + step * (i % 3 + 1)) % n;
            if j != i {
                c[i * n + j] = 1.0;
                c[j * n + i] = 1.0;
            }
        }
    }
    Weights::from_dense(&c, n)
        .unwrap()
        .row_standardise(false)
        .unwrap()
}

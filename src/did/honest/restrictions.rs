//! Constraint matrices `A delta <= d` for the restriction classes of Rambachan & Roth (2023),
//! built as in HonestDiD's R code (`.create_A_RM`, `.create_A_SDRM`, `.create_A_M`,
//! `.create_A_B`). Columns are the event times without the reference period: `n_pre` leads,
//! then `n_post` lags. `s` indexes the pre-period (first or second) difference that bounds the
//! post-period ones; `max_positive` picks its sign.

/// A dense row-major matrix as rows (the problems are a few dozen rows wide).
pub(crate) use super::linalg::Rows;

/// Optional shape restriction added to Δ^RM / Δ^SDRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    None,
    /// delta increasing (monotone) / decreasing
    Increasing,
    Decreasing,
    /// post-period bias >= 0 / <= 0
    PositiveBias,
    NegativeBias,
}

/// |first differences| bounded by M̄ times the s-th pre-period difference (Δ^RM_{s,±}).
pub(crate) fn a_rm(n_pre: usize, n_post: usize, mbar: f64, s: i64, max_positive: bool) -> Rows {
    let total = n_pre + n_post;
    let mut v = vec![0.0; total + 1];
    let idx = (n_pre as i64 + s - 1) as usize;
    v[idx] = -1.0;
    v[idx + 1] = 1.0;
    if !max_positive {
        v.iter_mut().for_each(|x| *x = -*x);
    }
    let mut rows = Vec::with_capacity(2 * total);
    for sign in [1.0, -1.0] {
        for r in 0..total {
            let scale = if r < n_pre { 1.0 } else { mbar };
            let mut row: Vec<f64> = v.iter().map(|x| -scale * x).collect();
            row[r] += -sign;
            row[r + 1] += sign;
            rows.push(row);
        }
    }
    finish(rows, n_pre)
}

/// |second differences| bounded by M̄ times the s-th pre-period second difference (Δ^SDRM).
pub(crate) fn a_sdrm(n_pre: usize, n_post: usize, mbar: f64, s: i64, max_positive: bool) -> Rows {
    let total = n_pre + n_post;
    let mut v = vec![0.0; total + 1];
    let idx = (n_pre as i64 + s - 2) as usize;
    v[idx] = 1.0;
    v[idx + 1] = -2.0;
    v[idx + 2] = 1.0;
    if !max_positive {
        v.iter_mut().for_each(|x| *x = -*x);
    }
    let mut rows = Vec::with_capacity(2 * (total - 1));
    for sign in [1.0, -1.0] {
        for r in 0..total - 1 {
            let scale = if r + 1 < n_pre { 1.0 } else { mbar };
            let mut row: Vec<f64> = v.iter().map(|x| -scale * x).collect();
            row[r] += sign;
            row[r + 1] += -2.0 * sign;
            row[r + 2] += sign;
            rows.push(row);
        }
    }
    finish(rows, n_pre)
}

/// |second differences| <= M everywhere (Δ^SD), reference column dropped.
#[allow(dead_code)] // Δ^SD as an ARP class: kept for the conditional SD test, not yet exposed
pub(crate) fn a_sd(n_pre: usize, n_post: usize) -> Rows {
    let total = n_pre + n_post;
    let mut rows = Vec::with_capacity(2 * (total - 1));
    for sign in [1.0, -1.0] {
        for r in 0..total - 1 {
            let mut row = vec![0.0; total + 1];
            row[r] = sign;
            row[r + 1] = -2.0 * sign;
            row[r + 2] = sign;
            rows.push(drop_col(row, n_pre));
        }
    }
    rows
}

/// Monotonicity (`.create_A_M`) or sign (`.create_A_B`) rows, with d = 0.
pub(crate) fn a_shape(n_pre: usize, n_post: usize, shape: Shape) -> Rows {
    let n = n_pre + n_post;
    let mut rows: Rows = Vec::new();
    match shape {
        Shape::None => {}
        Shape::Increasing | Shape::Decreasing => {
            for r in 0..n {
                let mut row = vec![0.0; n];
                if r + 1 < n_pre {
                    row[r] = 1.0;
                    row[r + 1] = -1.0;
                } else if r + 1 == n_pre {
                    row[r] = 1.0;
                } else if r == n_pre {
                    row[r] = -1.0;
                } else {
                    row[r - 1] = 1.0;
                    row[r] = -1.0;
                }
                rows.push(row);
            }
            if shape == Shape::Decreasing {
                negate(&mut rows);
            }
        }
        Shape::PositiveBias | Shape::NegativeBias => {
            for r in n_pre..n {
                let mut row = vec![0.0; n];
                row[r] = -1.0;
                rows.push(row);
            }
            if shape == Shape::NegativeBias {
                negate(&mut rows);
            }
        }
    }
    rows
}

fn negate(rows: &mut Rows) {
    rows.iter_mut().flatten().for_each(|x| *x = -*x);
}

fn drop_col(mut row: Vec<f64>, col: usize) -> Vec<f64> {
    row.remove(col);
    row
}

/// Drop the all-zero rows (the s-th difference bounding itself), then the reference column.
fn finish(rows: Rows, n_pre: usize) -> Rows {
    rows.into_iter()
        .filter(|r| r.iter().map(|x| x * x).sum::<f64>() > 1e-10)
        .map(|r| drop_col(r, n_pre))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rm_rows_match_honestdid_layout() {
        // n_pre = 2, n_post = 1, s = 0, M̄ = 1: first differences d1 = b_-1 - b_-2,
        // d2 = 0 - b_-1, d3 = b_1 - 0; max difference is d2 (the s = 0 one).
        // Rows as honestdid 0.1.1 `_create_A_RM(2, 1, Mbar=1, s=0)`: 6 rows minus the one zero
        // row (d2 bounding itself; -d2 <= d2 stays, as 2 b_-1 <= 0).
        let a = a_rm(2, 1, 1.0, 0, true);
        let expected = [
            [-1.0, 2.0, 0.0],
            [0.0, 1.0, 1.0],
            [1.0, 0.0, 0.0],
            [0.0, 2.0, 0.0],
            [0.0, 1.0, -1.0],
        ];
        assert_eq!(a.len(), expected.len());
        for (row, want) in a.iter().zip(expected) {
            assert_eq!(row.as_slice(), want.as_slice());
        }
    }
}

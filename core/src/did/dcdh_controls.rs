//! Time-varying controls for the DID_l estimator (`super::dcdh`), as `moderndid` 0.4.1's
//! `didinter.controls` (R/Stata `did_multiplegt_dyn`'s `controls()`; de Chaisemartin &
//! D'Haultfœuille 2024, Web Appendix): for each baseline treatment d, θ_d comes from a
//! regression of ΔY on the period-demeaned ΔX over the not-yet-switched cells of that baseline;
//! each horizon's outcome change loses θ_d'(X_t − X_{t−l}); the influence function gains the
//! estimation error of θ_d (each group's contribution to θ_d, from a period fixed-effects fit
//! with the √(n/(n−1)) small-cell correction).

// Index loops mirror the cell formulas of the reference.
#![allow(clippy::needless_range_loop)]

use ndarray::Array2;

use super::dcdh_data::Grid;
use crate::error::{Error, Result};
use crate::linalg::spd_inverse;

/// θ_d per baseline class and each group's influence on the θ of its class.
pub(crate) struct ControlFit {
    pub theta: Vec<Vec<f64>>,
    pub useful: Vec<bool>,
    /// Per group, one entry per control.
    pub influence: Vec<Vec<f64>>,
}

/// The inverse of a symmetric PSD matrix on the columns a pivoted Cholesky factorisation keeps
/// (LAPACK dpstrf's default tolerance k·u·max diag), zero elsewhere: collinear controls drop.
fn pivoted_inverse(a: &[f64], k: usize) -> Result<Vec<f64>> {
    let mut m = a.to_vec();
    let mut perm: Vec<usize> = (0..k).collect();
    let max_diag = (0..k).map(|i| a[i * k + i]).fold(0.0f64, f64::max);
    let tol = k as f64 * (f64::EPSILON / 2.0) * max_diag;
    let mut rank = 0;
    for j in 0..k {
        let p = (j..k)
            .max_by(|&x, &y| m[x * k + x].total_cmp(&m[y * k + y]))
            .unwrap_or(j);
        // a NaN pivot stops the factorisation too
        if m[p * k + p].partial_cmp(&tol) != Some(std::cmp::Ordering::Greater) {
            break;
        }
        if p != j {
            perm.swap(j, p);
            for c in 0..k {
                m.swap(j * k + c, p * k + c);
            }
            for r in 0..k {
                m.swap(r * k + j, r * k + p);
            }
        }
        let piv = m[j * k + j].sqrt();
        for i in j + 1..k {
            m[i * k + j] /= piv;
        }
        for i in j + 1..k {
            for l in j + 1..=i {
                let v = m[i * k + j] * m[l * k + j];
                m[i * k + l] -= v;
                m[l * k + i] = m[i * k + l];
            }
        }
        m[j * k + j] = piv;
        rank += 1;
    }
    let kept = &perm[..rank];
    let mut out = vec![0.0; k * k];
    if rank > 0 {
        let sub = Array2::from_shape_fn((rank, rank), |(r, c)| a[kept[r] * k + kept[c]]);
        let inv = spd_inverse(sub.view())?;
        for r in 0..rank {
            for c in 0..rank {
                out[kept[r] * k + kept[c]] = inv[[r, c]];
            }
        }
    }
    Ok(out)
}

pub(crate) fn control_coefficients(grid: &Grid, names: &[String]) -> Result<Option<ControlFit>> {
    let k = grid.x.len();
    if k == 0 {
        return Ok(None);
    }
    let (ng, nt) = (grid.n_g, grid.n_t);
    let idx = |g: usize, j: usize| g * nt + j;
    // period counts by baseline; demeaning by baseline and trends_nonparam cell (as moderndid)
    let cell = |g: usize, j: usize| grid.class[g] * nt + j;
    let pcell = |g: usize, j: usize| grid.pool[g] * nt + j;
    let lagdiff = |v: &[f64], g: usize, j: usize| {
        if j == 0 {
            f64::NAN
        } else {
            v[idx(g, j)] - v[idx(g, j - 1)]
        }
    };
    let mut fdy = vec![f64::NAN; ng * nt];
    let mut fdx = vec![vec![f64::NAN; ng * nt]; k];
    let mut nys = vec![false; ng * nt];
    let mut sample = vec![false; ng * nt];
    let mut period_count = vec![0usize; grid.n_class * nt];
    for g in 0..ng {
        for j in 0..nt {
            let kk = idx(g, j);
            fdy[kk] = lagdiff(&grid.y, g, j);
            for c in 0..k {
                fdx[c][kk] = lagdiff(&grid.x[c], g, j);
            }
            nys[kk] = grid.times[j] < grid.f_g[g] && !fdy[kk].is_nan();
            sample[kk] = nys[kk] && (0..k).all(|c| !fdx[c][kk].is_nan());
            if nys[kk] {
                period_count[cell(g, j)] += 1;
            }
        }
    }
    // period-and-baseline demeaned control differences over the sample cells
    let mut sw = vec![0.0; grid.n_pool * nt];
    let mut sx = vec![vec![0.0; grid.n_pool * nt]; k];
    for g in 0..ng {
        for j in 0..nt {
            let kk = idx(g, j);
            if sample[kk] {
                sw[pcell(g, j)] += grid.w[kk];
                for c in 0..k {
                    sx[c][pcell(g, j)] += grid.w[kk] * fdx[c][kk];
                }
            }
        }
    }
    let centered =
        |c: usize, g: usize, j: usize| fdx[c][idx(g, j)] - sx[c][pcell(g, j)] / sw[pcell(g, j)];

    let gf = ng as f64;
    let mut theta = vec![vec![0.0; k]; grid.n_class];
    let mut useful = vec![false; grid.n_class];
    let mut influence = vec![vec![0.0; k]; ng];
    for lvl in 0..grid.n_class {
        let members: Vec<usize> = (0..ng).filter(|&g| grid.class[g] == lvl).collect();
        let mut fs: Vec<u64> = members.iter().map(|&g| grid.f_g[g].to_bits()).collect();
        fs.sort_unstable();
        fs.dedup();
        if fs.len() < 2 {
            continue;
        }
        let rows: Vec<(usize, usize)> = members
            .iter()
            .flat_map(|&g| (0..nt).map(move |j| (g, j)))
            .filter(|&(g, j)| sample[idx(g, j)])
            .collect();
        let bad = rows
            .iter()
            .any(|&(g, j)| (0..k).any(|c| centered(c, g, j).is_nan()));
        if rows.is_empty() || bad {
            return Err(Error::Column {
                name: names.first().cloned().unwrap_or_default(),
                reason: format!(
                    "the units with baseline treatment {} have no not-yet-switched period in which \
                     every control difference is observed: controls cannot be estimated for them",
                    grid.d_sq[members[0]]
                ),
            });
        }
        let mut a = vec![0.0; k * k];
        let mut b = vec![0.0; k];
        let mut w_rows = 0.0;
        for &(g, j) in &rows {
            let kk = idx(g, j);
            let w = grid.w[kk];
            w_rows += w;
            for r in 0..k {
                let cr = centered(r, g, j);
                b[r] += w * cr * fdy[kk];
                for s in 0..k {
                    a[r * k + s] += w * cr * centered(s, g, j);
                }
            }
        }
        let inv = pivoted_inverse(&a, k)?;
        for r in 0..k {
            theta[lvl][r] = (0..k).map(|s| inv[r * k + s] * b[s]).sum();
        }
        useful[lvl] = true;

        // each group's contribution to θ: scores from a period fixed-effects fit of ΔY on ΔX
        let n_control: f64 = members
            .iter()
            .flat_map(|&g| (0..nt).map(move |j| idx(g, j)))
            .filter(|&kk| nys[kk])
            .map(|kk| grid.w[kk])
            .sum();
        let mut pw = vec![0.0; nt];
        let mut pdx = vec![vec![0.0; nt]; k];
        let mut pdy = vec![0.0; nt];
        for &(g, j) in &rows {
            let kk = idx(g, j);
            let w = grid.w[kk];
            if w > 0.0 {
                pw[j] += w;
                pdy[j] += w * fdy[kk];
                for c in 0..k {
                    pdx[c][j] += w * fdx[c][kk];
                }
            }
        }
        for j in 0..nt {
            if pw[j] > 0.0 {
                pdy[j] /= pw[j];
                for c in 0..k {
                    pdx[c][j] /= pw[j];
                }
            }
        }
        let mut xx = vec![0.0; k * k];
        let mut xy = vec![0.0; k];
        for &(g, j) in &rows {
            let kk = idx(g, j);
            let w = grid.w[kk];
            if w > 0.0 {
                let ry = fdy[kk] - pdy[j];
                for r in 0..k {
                    let rr = fdx[r][kk] - pdx[r][j];
                    xy[r] += w * rr * ry;
                    for s in 0..k {
                        xx[r * k + s] += w * rr * (fdx[s][kk] - pdx[s][j]);
                    }
                }
            }
        }
        // any least-squares solution gives the same fitted values
        let xinv = pivoted_inverse(&xx, k)?;
        let beta: Vec<f64> = (0..k)
            .map(|r| (0..k).map(|s| xinv[r * k + s] * xy[s]).sum())
            .collect();
        let mut in_sum = vec![vec![0.0; k]; ng];
        for &(g, j) in &rows {
            let kk = idx(g, j);
            if pw[j] <= 0.0 {
                continue; // no fitted value: drops out as a missing value
            }
            let xb: f64 = (0..k).map(|c| fdx[c][kk] * beta[c]).sum();
            let mb: f64 = (0..k).map(|c| pdx[c][j] * beta[c]).sum();
            let fitted = pdy[j] - mb + xb;
            let n = period_count[cell(g, j)];
            let (kappa, fit_part) = if n >= 2 {
                ((n as f64 / (n as f64 - 1.0)).sqrt(), fitted)
            } else {
                (1.0, 0.0)
            };
            let resid = kappa * (fdy[kk] - fit_part);
            for c in 0..k {
                let s = grid.w[kk] * centered(c, g, j) * resid / n_control;
                if !s.is_nan() {
                    in_sum[g][c] += s;
                }
            }
        }
        for &g in &members {
            for r in 0..k {
                influence[g][r] = (0..k)
                    .map(|s| in_sum[g][s] * inv[r * k + s] * w_rows * gf)
                    .sum();
            }
        }
    }
    Ok(Some(ControlFit {
        theta,
        useful,
        influence,
    }))
}

#[cfg(test)]
mod tests {
    use super::pivoted_inverse;

    #[test]
    fn full_rank_is_the_inverse_and_collinear_columns_drop() {
        let a = [4.0, 2.0, 2.0, 3.0];
        let inv = pivoted_inverse(&a, 2).unwrap();
        let expect = [3.0 / 8.0, -2.0 / 8.0, -2.0 / 8.0, 4.0 / 8.0];
        for (x, y) in inv.iter().zip(expect) {
            assert!((x - y).abs() < 1e-14, "{inv:?}");
        }
        // column 3 = column 1 + column 2: the largest pivots are kept, the third is zeroed
        let (x1, x2) = ([1.0, 2.0, 0.5, -1.0], [0.3, -1.0, 2.0, 1.0]);
        let cols: Vec<Vec<f64>> = vec![
            x1.to_vec(),
            x2.to_vec(),
            x1.iter().zip(&x2).map(|(a, b)| a + b).collect(),
        ];
        let mut g = [0.0; 9];
        for r in 0..3 {
            for c in 0..3 {
                g[r * 3 + c] = cols[r].iter().zip(&cols[c]).map(|(a, b)| a * b).sum();
            }
        }
        let inv = pivoted_inverse(&g, 3).unwrap();
        let zero_rows = (0..3)
            .filter(|&r| (0..3).all(|c| inv[r * 3 + c] == 0.0))
            .count();
        assert_eq!(zero_rows, 1, "{inv:?}");
    }
}

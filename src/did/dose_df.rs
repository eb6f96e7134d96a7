//! Analytic variances of the continuous-dose DID's aggregates (`if_se`, the clustered sum of
//! squares of an influence function) and their degrees of freedom (`DoseDf::Satterthwaite`).
//!
//! An aggregate's influence function is a sum of parts. Cohort g's spline part,
//! s_i = n Σ_{c∈g} x_c ℓ' (X'X)⁻¹ x_i f_i e_ic over its treated units (cell weights x_c, the
//! aggregate's linear functional ℓ of the spline coefficients, leverage factors f_i of
//! `SmallSample`, OLS residuals e_ic), is estimated from that cohort's residuals only: it has
//! at most n_g − p degrees of freedom, whatever the sample size. The rest (means of outcome
//! changes, the dose variation of the slopes, the cohort shares) is estimated from all units.
//!
//! The estimated variance is taken as a sum of independent scaled chi-squares, one per part,
//! V̂_k = Σ_c (Σ_{i∈c} part_k,i)² / n² over the clusters c, and gets the Welch–Satterthwaite
//! degrees of freedom (Satterthwaite 1946, Welch 1947; with two cohorts of one coefficient
//! each this is Welch's unequal-variance t):
//!
//!   ν = (Σ_k V̂_k)² / Σ_k (V̂_k² / ν_k),
//!
//! so that min_k ν_k ≤ ν ≤ Σ_k ν_k. The rest's part is ψ − Σ_g s with ν = C − 1 for C
//! clusters; the cross products of the parts (mean zero when they are independent) are
//! left out of the degrees of freedom, not of the variance. ν_g is the Bell & McCaffrey (2002)
//! degrees of freedom of cohort g's part under independent homoskedastic errors within the
//! cohort (Imbens & Kolesár 2016, eq. 11): V̂_g = z' M D P'P D M z for the cohort's outcome
//! combination z, D = diag(f_i ℓ'(X'X)⁻¹x_i), M = I − X(X'X)⁻¹X' and P the cluster indicator,
//! so with B = P D M D P', ν_g = tr(B)² / tr(B²). The scale of the working variance cancels,
//! so ν_g depends on the cohort's doses only. B = Λ − W Q W' with Λ = diag(Σ_{i∈c} d_i²),
//! W_c = Σ_{i∈c} d_i x_i and Q = (X'X)⁻¹ gives both traces in O(n_g p²):
//! tr B = Σ_c Λ_c − W_c'QW_c, tr B² = Σ_c Λ_c² − 2 Σ_c Λ_c W_c'QW_c + tr(QGQG), G = Σ_c W_cW_c'.

// Index loops mirror the matrix formulas they implement.
#![allow(clippy::needless_range_loop)]

use std::collections::BTreeMap;

use super::dose_cells::DoseCell;

/// The linear functional of a cell's spline coefficients that an aggregate uses.
#[derive(Debug, Clone, Copy)]
pub(super) enum Functional {
    /// No spline part (the binary ATT and its aggregates).
    None,
    /// The cell's average ACRT (mean basis derivative over the treated doses).
    AvgSlope,
    /// ATT(d|d) at grid point k (basis row).
    Level(usize),
    /// ACRT(d|d) at grid point k (basis derivative row).
    Slope(usize),
}

/// Analytic SE from an influence function: √(Σ_c (Σ_{i∈c} ψ_i)²) / n.
pub(super) fn if_se(psi: &[f64], cluster: Option<&[u32]>) -> f64 {
    let n = psi.len() as f64;
    match cluster {
        None => psi.iter().map(|v| v * v).sum::<f64>().sqrt() / n,
        Some(cl) => {
            let g = cl.iter().map(|&c| c as usize + 1).max().unwrap_or(0);
            let mut sums = vec![0.0; g];
            for (i, &v) in psi.iter().enumerate() {
                sums[cl[i] as usize] += v;
            }
            sums.iter().map(|v| v * v).sum::<f64>().sqrt() / n
        }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Bell–McCaffrey degrees of freedom of a cohort's spline part, tr(B)² / tr(B²) (module docs),
/// from the units' clusters, basis rows x_i and weights d_i; None when B vanishes (no residual
/// degrees of freedom: the part is zero).
pub(super) fn bell_mccaffrey(
    clusters: &[usize],
    basis: &[Vec<f64>],
    d: &[f64],
    xtx_inv: &[Vec<f64>],
) -> Option<f64> {
    let p = xtx_inv.len();
    let mut by_cluster: BTreeMap<usize, (f64, Vec<f64>)> = BTreeMap::new();
    for ((&c, x), &di) in clusters.iter().zip(basis).zip(d) {
        let e = by_cluster.entry(c).or_insert_with(|| (0.0, vec![0.0; p]));
        e.0 += di * di;
        for a in 0..p {
            e.1[a] += di * x[a];
        }
    }
    let quad = |w: &[f64]| -> f64 { (0..p).map(|a| w[a] * dot(&xtx_inv[a], w)).sum() };
    let mut lam_sum = 0.0;
    let mut tr_b = 0.0;
    let mut tr_b2 = 0.0;
    let mut g = vec![vec![0.0; p]; p];
    for (lam, w) in by_cluster.values() {
        let wqw = quad(w);
        lam_sum += lam;
        tr_b += lam - wqw;
        tr_b2 += lam * lam - 2.0 * lam * wqw;
        for a in 0..p {
            for b in 0..p {
                g[a][b] += w[a] * w[b];
            }
        }
    }
    // Q G, then tr((QG)²).
    let qg: Vec<Vec<f64>> = (0..p)
        .map(|a| {
            (0..p)
                .map(|b| (0..p).map(|k| xtx_inv[a][k] * g[k][b]).sum())
                .collect()
        })
        .collect();
    for a in 0..p {
        for b in 0..p {
            tr_b2 += qg[a][b] * qg[b][a];
        }
    }
    // Differences of sums of that size: below this, B is zero up to rounding.
    let tiny = 1e-10 * lam_sum;
    (tr_b > tiny && tr_b2 > tiny * tiny).then(|| tr_b * tr_b / tr_b2)
}

/// Welch–Satterthwaite degrees of freedom of an aggregate (module docs): the cell weights of
/// its spline parts, the functional, and the aggregate's whole influence function `psi`.
/// NaN without a positive finite variance, or when only the rest varies and there is one
/// cluster.
pub(super) fn satterthwaite_df(
    cells: &[DoseCell],
    weights: &[f64],
    functional: Functional,
    psi: &[f64],
    cluster: Option<&[u32]>,
) -> f64 {
    let n = psi.len();
    let v_total = if_se(psi, cluster).powi(2);
    if !(v_total.is_finite() && v_total > 0.0) {
        return f64::NAN;
    }
    let n_clusters = cluster.map_or(n, |cl| {
        let mut seen: Vec<u32> = cl.to_vec();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    });
    let cluster_of = |i: usize| cluster.map_or(i, |cl| cl[i] as usize);
    let nf = n as f64;
    // Cohorts' cells with a spline part in this aggregate.
    let mut cohorts: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    if !matches!(functional, Functional::None) {
        for (j, (c, &x)) in cells.iter().zip(weights).enumerate() {
            if x != 0.0 && c.curve.is_some() {
                cohorts.entry(c.gpos).or_default().push(j);
            }
        }
    }
    let mut spline_psi = vec![0.0; n];
    let mut v_sum = 0.0;
    let mut denom = 0.0;
    for js in cohorts.values() {
        let first = &cells[js[0]];
        let Some(cv0) = first.curve.as_ref() else {
            continue;
        };
        // ℓ of each cell (the cells of a cohort share its treated units and spline design).
        let ell = |c: &DoseCell| -> Vec<f64> {
            let cv = c.curve.as_ref().expect("cells with a curve only");
            match functional {
                Functional::AvgSlope => cv.avg_deriv.clone(),
                Functional::Level(k) => cv.grid_b[k].clone(),
                Functional::Slope(k) => cv.grid_d[k].clone(),
                Functional::None => vec![0.0; cv.n_coef],
            }
        };
        let p = cv0.n_coef;
        let mut ell_sum = vec![0.0; p];
        let mut s = vec![0.0; first.treated.len()];
        for &j in js {
            let c = &cells[j];
            debug_assert_eq!(c.treated, first.treated);
            let l = ell(c);
            let cv = c.curve.as_ref().expect("cells with a curve only");
            for a in 0..p {
                ell_sum[a] += weights[j] * l[a];
            }
            for (r, h) in cv.h.iter().enumerate() {
                s[r] += weights[j] * nf * dot(h, &l);
            }
        }
        let mut sums: BTreeMap<usize, f64> = BTreeMap::new();
        for (r, &i) in first.treated.iter().enumerate() {
            *sums.entry(cluster_of(i)).or_insert(0.0) += s[r];
        }
        let v_g: f64 = sums.values().map(|v| v * v).sum::<f64>() / (nf * nf);
        let clusters: Vec<usize> = first.treated.iter().map(|&i| cluster_of(i)).collect();
        let d: Vec<f64> = cv0
            .basis
            .iter()
            .zip(&cv0.factor)
            .map(|(x, f)| {
                let qx: Vec<f64> = cv0.xtx_inv.iter().map(|row| dot(row, x)).collect();
                f * dot(&ell_sum, &qx)
            })
            .collect();
        // A part without residual degrees of freedom is zero; it stays in the rest.
        if let Some(nu_g) = bell_mccaffrey(&clusters, &cv0.basis, &d, &cv0.xtx_inv) {
            for (r, &i) in first.treated.iter().enumerate() {
                spline_psi[i] += s[r];
            }
            v_sum += v_g;
            denom += v_g * v_g / nu_g;
        }
    }
    let rest: Vec<f64> = psi.iter().zip(&spline_psi).map(|(a, b)| a - b).collect();
    let v_rest = if_se(&rest, cluster).powi(2);
    if v_rest > 0.0 {
        if n_clusters < 2 {
            return f64::NAN;
        }
        v_sum += v_rest;
        denom += v_rest * v_rest / (n_clusters - 1) as f64;
    }
    if denom > 0.0 {
        v_sum * v_sum / denom
    } else {
        f64::INFINITY
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::linalg::solvers::DenseSolveCore;

    fn inverse_gram(basis: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let p = basis[0].len();
        let m = faer::Mat::<f64>::from_fn(p, p, |a, b| basis.iter().map(|x| x[a] * x[b]).sum());
        let inv = m.partial_piv_lu().inverse();
        (0..p)
            .map(|a| (0..p).map(|b| inv[(a, b)]).collect())
            .collect()
    }

    /// The low-rank traces against dense B = P D M D P' (its trace and Frobenius norm, i.e.
    /// the sums of its eigenvalues and of their squares), with and without shared clusters.
    #[test]
    fn bell_mccaffrey_equals_dense_traces() {
        let doses = [0.5, 1.0, 1.7, 2.2, 3.1, 4.0];
        let basis: Vec<Vec<f64>> = doses.iter().map(|&x| vec![1.0, x, x * x]).collect();
        let n = doses.len();
        let p = 3;
        let q = inverse_gram(&basis);
        let d = [0.3, -1.2, 0.8, 2.0, -0.4, 1.1];
        for clusters in [vec![0, 1, 2, 3, 4, 5], vec![0, 0, 1, 2, 2, 2]] {
            let n_c = clusters.iter().max().unwrap() + 1;
            // M_ij = δ_ij − x_i'Q x_j; B_ce = Σ_{i∈c, j∈e} d_i M_ij d_j.
            let mut b = vec![vec![0.0; n_c]; n_c];
            for i in 0..n {
                for j in 0..n {
                    let qx: Vec<f64> = (0..p).map(|a| dot(&q[a], &basis[j])).collect();
                    let mij = f64::from(u8::from(i == j)) - dot(&basis[i], &qx);
                    b[clusters[i]][clusters[j]] += d[i] * mij * d[j];
                }
            }
            let tr: f64 = (0..n_c).map(|c| b[c][c]).sum();
            let fro: f64 = b.iter().flatten().map(|v| v * v).sum();
            let got = bell_mccaffrey(&clusters, &basis, &d, &q).unwrap();
            let want = tr * tr / fro;
            assert!((got - want).abs() < 1e-10 * want, "{got} vs {want}");
            assert!(got <= (n - p) as f64 + 1e-9);
        }
        // n = p: the fit interpolates (M = 0), so the part vanishes.
        let q3 = inverse_gram(&basis[..3]);
        assert!(bell_mccaffrey(&[0, 1, 2], &basis[..3], &d[..3], &q3).is_none());
    }
}

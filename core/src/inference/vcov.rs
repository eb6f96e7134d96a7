//! Covariance matrices of OLS / fixed-effects OLS coefficients: iid, heteroskedasticity-robust
//! (HC1) and cluster-robust (CR1, one- and two-way), with the small-sample corrections of
//! pyfixest 0.60 under its default `ssc(k_adj=True, k_fixef="nonnested", G_adj=True,
//! G_df="min")` (which follow R fixest).
//!
//! Inputs are the *transformed* regression: `xw` is the n×k matrix of regressors after the
//! absorbed fixed effects were partialled out, each row multiplied by sqrt(weight); `uw` the
//! residuals times sqrt(weight); `bread = (xw'xw)^{-1}`. n is the number of rows (as in pyfixest
//! for analytic weights; frequency weights are not modelled here).
//!
//! # Small-sample corrections (pyfixest 0.60, `utils/utils.py::get_ssc`)
//! Let N = n, k = `xw.ncols()`, `k_fe` = Σ over absorbed fixed effects of the number of levels
//! present, `n_fe` = number of absorbed fixed effects, and
//! `k_fe_adj = k_fe − (n_fe − 1)` if `n_fe > 1`, else `k_fe` (fixest issue #554).
//!
//! * `df_k` (k_fixef = "nonnested"):
//!   - iid / hetero: `k + k_fe_adj` (`k` without fixed effects);
//!   - clustered: an FE is *fully nested* if, for some cluster variable, every FE level falls in
//!     exactly one cluster (`numba/nested_fixef_nb.py`); with `k_fe_nested` = Σ levels of the
//!     nested FEs and `n_fe_fully_nested` their count,
//!     `df_k = k + k_fe_adj − k_fe_nested + n_fe_fully_nested` (`k + k_fe_adj` if none nested).
//! * iid: `V = RSS/(N−1) · (N−1)/(N−df_k) · bread` (`Feols._vcov_iid` times the ssc), i.e.
//!   σ² = RSS/(N − df_k). `ssc = [(N−1)/(N−df_k)]`.
//! * hetero (HC1): `V = N/(N−df_k) · bread (Σ_i s_i s_i') bread`, s_i = xw_i·uw_i.
//!   `ssc = [N/(N−df_k)]`.
//! * CR1 one-way: `V = (N−1)/(N−df_k) · G/(G−1) · bread (Σ_g S_g S_g') bread`,
//!   S_g = Σ_{i∈g} s_i.
//! * CR1 two-way (Cameron–Gelbach–Miller): `V = c·V₁ + c·V₂ − c·V₁₂` where V₁₂ clusters on the
//!   intersection of the two variables (`_prepare_twoway_clustering`) and, with G_df = "min",
//!   every term uses the same `c = (N−1)/(N−df_k) · G_min/(G_min−1)`, `G_min = min(G₁, G₂)`
//!   (`_count_G_for_ssc_correction` returns `[min(G)]*3`). `ssc = [c, c, −c]`: like pyfixest's
//!   `_ssc`, the reported factors carry the sign of each term.
//!   Like pyfixest, nothing is done if the two-way V is not positive semi-definite (no
//!   eigenvalue clipping, unlike fixest's `vcov_fix`): a negative diagonal element is returned
//!   as is, and the caller's standard error becomes NaN.
//! * `df_t`: `N − df_k` for iid and hetero; `G − 1` one-way; `G_min − 1` two-way.

use std::borrow::Cow;

use ndarray::{Array2, ArrayView1, ArrayView2};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Which covariance matrix to compute.
#[derive(Debug, Clone, PartialEq)]
pub enum VcovType {
    /// Homoskedastic errors.
    Iid,
    /// Heteroskedasticity-robust, HC1.
    Hetero,
    /// Cluster-robust CR1 with one or two cluster variables, each a code vector of length n.
    /// Codes are usually 0..G−1; any `u32` values are accepted (G = number of distinct codes).
    Cluster(Vec<Vec<u32>>),
    /// Conley (1999) spatial HAC, with Hsiang's (2010) serial part in panels
    /// ([`super::conley`]). Small-sample factor `(N−1)/(N−df_k)` with `df_k = k + k_fe_adj`
    /// (fixest's `ssc(adj = TRUE)`; its `cluster.adj` does not apply to Conley), `df_t = N − df_k`.
    Conley(super::conley::ConleyData),
}

/// The fixed effects absorbed before `xw` was formed (may be empty).
#[derive(Debug, Clone, Default)]
pub struct FeInfo<'a> {
    /// One code vector per fixed effect, each of length n, codes in `0..n_levels[j]`.
    pub codes: Vec<&'a [u32]>,
    /// Number of levels of each fixed effect (an upper bound for its codes). The degrees of
    /// freedom count the levels actually present, as pyfixest's `nunique` does.
    pub n_levels: Vec<usize>,
}

impl FeInfo<'_> {
    /// No absorbed fixed effects.
    pub fn none() -> Self {
        FeInfo {
            codes: Vec::new(),
            n_levels: Vec::new(),
        }
    }
}

/// A covariance matrix with the degrees of freedom used to build and to test with it.
#[derive(Debug, Clone, PartialEq)]
pub struct VcovResult {
    /// k×k covariance matrix of the coefficients on `xw`'s columns.
    pub vcov: Array2<f64>,
    /// Parameters counted in the small-sample factor (pyfixest `_df_k`).
    pub df_k: usize,
    /// Residual degrees of freedom for t-tests and confidence intervals (pyfixest `_df_t`).
    pub df_t: usize,
    /// Number of clusters of each cluster variable (`[G]` or `[G1, G2]`; empty unless clustered).
    pub n_clusters: Vec<usize>,
    /// Small-sample factor of each term of V (pyfixest `_ssc`): one entry for iid, hetero and
    /// one-way clustering, `[c, c, −c]` for two-way clustering.
    pub ssc: Vec<f64>,
}

impl VcovResult {
    /// An unclustered covariance (iid, HC1, Conley): one small-sample factor `adj`, residual
    /// degrees of freedom n − df_k.
    fn unclustered(vcov: Array2<f64>, n: usize, df_k: usize, adj: f64) -> Self {
        VcovResult {
            vcov,
            df_k,
            df_t: n - df_k,
            n_clusters: Vec::new(),
            ssc: vec![adj],
        }
    }
}

/// Covariance matrix of the coefficients of a (fixed-effects, weighted) OLS fit, with the
/// small-sample corrections of pyfixest 0.60 defaults (see the module documentation).
///
/// Errors: `Error::Shape` if `uw`, `bread`, a cluster or FE code vector does not fit `xw`;
/// `Error::Option { name: "vcov", .. }` for a cluster variable with only 1 cluster or a number
/// of cluster variables other than 1 or 2; `Error::Empty` when no residual degrees of freedom
/// are left (`N ≤ df_k`).
pub fn vcov(
    xw: ArrayView2<f64>,
    uw: ArrayView1<f64>,
    bread: ArrayView2<f64>,
    kind: &VcovType,
    fe: &FeInfo,
) -> Result<VcovResult> {
    let (n, k) = xw.dim();
    if uw.len() != n {
        return Err(Error::Shape(format!(
            "vcov: residuals have length {} but the regressor matrix has {} rows",
            uw.len(),
            n
        )));
    }
    if bread.dim() != (k, k) {
        return Err(Error::Shape(format!(
            "vcov: bread is {}x{} but there are {} regressors",
            bread.nrows(),
            bread.ncols(),
            k
        )));
    }
    // k = 0 (a fixed-effects-only fit) is allowed: a 0 x 0 matrix, with the degrees of
    // freedom and cluster counts of the fit.
    let fe_levels = fe_level_counts(fe, n)?;
    let k_fe_adj = fe_adjusted_levels(&fe_levels);
    let nf = n as f64;

    match kind {
        VcovType::Iid => {
            let rss: f64 = uw.iter().map(|u| u * u).sum();
            iid_vcov(n, bread, rss, k + k_fe_adj)
        }
        VcovType::Hetero => {
            let mut meat = Array2::<f64>::zeros((k, k));
            let mut s = vec![0.0; k];
            for (xi, &ui) in xw.outer_iter().zip(uw.iter()) {
                for (sj, &xj) in s.iter_mut().zip(xi.iter()) {
                    *sj = xj * ui;
                }
                add_outer(&mut meat, &s);
            }
            hetero_vcov(n, bread, &meat, k + k_fe_adj)
        }
        VcovType::Conley(data) => {
            let df_k = k + k_fe_adj;
            check_df(n, df_k)?;
            let adj = (nf - 1.0) / (nf - df_k as f64);
            let meat = super::conley::conley_meat(xw, uw, data)?;
            let vcov = sandwich(bread, &meat).mapv(|v| adj * v);
            Ok(VcovResult::unclustered(vcov, n, df_k, adj))
        }
        VcovType::Cluster(clusters) => {
            if clusters.is_empty() || clusters.len() > 2 {
                return Err(Error::Option {
                    name: "vcov".into(),
                    reason: format!(
                        "cluster-robust inference takes 1 or 2 cluster variables, got {}",
                        clusters.len()
                    ),
                });
            }
            let mut dense = Vec::with_capacity(3);
            for (j, c) in clusters.iter().enumerate() {
                if c.len() != n {
                    return Err(Error::Shape(format!(
                        "vcov: cluster variable {} has length {} but there are {} observations",
                        j + 1,
                        c.len(),
                        n
                    )));
                }
                // codes that are a fixed effect's (with every level present, as counted above)
                // or otherwise 0..G already are used as they are
                let same_fe = fe
                    .codes
                    .iter()
                    .zip(&fe_levels)
                    .zip(fe.n_levels.iter())
                    .find(|((f, &present), &nl)| present == nl && **f == c.as_slice());
                let (codes, g) = match same_fe {
                    Some((_, &nl)) => (Cow::Borrowed(c.as_slice()), nl),
                    None => dense_codes(c),
                };
                if g < 2 {
                    return Err(single_cluster(j));
                }
                dense.push((codes, g));
            }
            let n_clusters: Vec<usize> = dense.iter().map(|(_, g)| *g).collect();

            // k_fixef = "nonnested": FEs fully nested in a cluster variable.
            let nested: Vec<bool> = fe
                .codes
                .iter()
                .map(|f| dense.iter().any(|(cl, _)| is_nested(f, cl)))
                .collect();
            let df_k = clustered_df_k(k, &fe_levels, &nested);
            check_df(n, df_k)?;
            let g_min = *n_clusters.iter().min().unwrap_or(&2);
            let c = cluster_factor(n, df_k, g_min);

            if dense.len() == 2 {
                let (c1, g1) = (&dense[0].0, dense[0].1);
                let c2 = &dense[1].0;
                let keys = c1
                    .iter()
                    .zip(c2.iter())
                    .map(|(&a, &b)| u64::from(a) + (g1 as u64) * u64::from(b));
                let (codes, g) = densify(keys, n);
                dense.push((Cow::Owned(codes), g));
            }
            let signs = [1.0, 1.0, -1.0];
            let mut vcov = Array2::<f64>::zeros((k, k));
            let mut ssc = Vec::with_capacity(dense.len());
            for ((codes, g), sign) in dense.iter().zip(signs) {
                let meat = cluster_meat(xw, uw, codes, *g);
                let part = sandwich(bread, &meat);
                let factor = c * sign;
                vcov.zip_mut_with(&part, |v, p| *v += factor * p);
                ssc.push(factor);
            }
            Ok(VcovResult {
                vcov,
                df_k,
                df_t: g_min - 1,
                n_clusters,
                ssc,
            })
        }
    }
}

/// The meat of a variance summed by a caller that streams the rows (the lean regression
/// path, which never holds the demeaned design): the scaling and degrees of freedom are
/// those of [`vcov`].
pub enum StreamedMeat<'a> {
    /// The residual sum of squares.
    Iid { rss: f64 },
    /// Σ_i s_i s_i'.
    Hetero(Array2<f64>),
    /// One cluster variable with `n_clusters` clusters, Σ_g S_g S_g', and which fixed
    /// effects are fully nested in it (every level within one cluster).
    Cluster {
        n_clusters: usize,
        meat: Array2<f64>,
        nested: &'a [bool],
    },
}

/// [`vcov`] from a meat the caller summed: the same small-sample factors and degrees of
/// freedom. `k` is the bread's order; `fe_levels` the levels present in each absorbed fixed
/// effect.
pub fn vcov_from_meat(
    n: usize,
    bread: ArrayView2<f64>,
    meat: StreamedMeat,
    fe_levels: &[usize],
) -> Result<VcovResult> {
    let k = bread.nrows();
    let k_fe_adj = fe_adjusted_levels(fe_levels);
    match meat {
        StreamedMeat::Iid { rss } => iid_vcov(n, bread, rss, k + k_fe_adj),
        StreamedMeat::Hetero(meat) => hetero_vcov(n, bread, &meat, k + k_fe_adj),
        StreamedMeat::Cluster {
            n_clusters,
            meat,
            nested,
        } => {
            if nested.len() != fe_levels.len() {
                return Err(Error::Shape(format!(
                    "vcov: {} nesting flags for {} fixed effects",
                    nested.len(),
                    fe_levels.len()
                )));
            }
            if n_clusters < 2 {
                return Err(single_cluster(0));
            }
            let df_k = clustered_df_k(k, fe_levels, nested);
            check_df(n, df_k)?;
            let c = cluster_factor(n, df_k, n_clusters);
            let mut vcov = Array2::<f64>::zeros((k, k));
            let part = sandwich(bread, &meat);
            vcov.zip_mut_with(&part, |v, p| *v += c * p);
            Ok(VcovResult {
                vcov,
                df_k,
                df_t: n_clusters - 1,
                n_clusters: vec![n_clusters],
                ssc: vec![c],
            })
        }
    }
}

/// The error for cluster variable `j` (0-based) with a single cluster.
fn single_cluster(j: usize) -> Error {
    Error::Option {
        name: "vcov".into(),
        reason: format!(
            "cluster variable {} has only 1 cluster; cluster-robust standard errors need at \
             least 2 clusters",
            j + 1
        ),
    }
}

/// k_fe − (n_fe − 1) with several fixed effects (fixest issue #554), k_fe with one.
fn fe_adjusted_levels(fe_levels: &[usize]) -> usize {
    let k_fe: usize = fe_levels.iter().sum();
    if fe_levels.len() > 1 {
        k_fe - (fe_levels.len() - 1)
    } else {
        k_fe
    }
}

/// σ² = RSS/(N − df_k) times the bread.
fn iid_vcov(n: usize, bread: ArrayView2<f64>, rss: f64, df_k: usize) -> Result<VcovResult> {
    check_df(n, df_k)?;
    let nf = n as f64;
    let sigma2 = rss / (nf - 1.0);
    let adj = (nf - 1.0) / (nf - df_k as f64);
    let vcov = bread.mapv(|b| adj * (b * sigma2));
    Ok(VcovResult::unclustered(vcov, n, df_k, adj))
}

/// HC1: N/(N − df_k) · bread · meat · bread.
fn hetero_vcov(
    n: usize,
    bread: ArrayView2<f64>,
    meat: &Array2<f64>,
    df_k: usize,
) -> Result<VcovResult> {
    check_df(n, df_k)?;
    let nf = n as f64;
    let adj = nf / (nf - df_k as f64);
    let vcov = sandwich(bread, meat).mapv(|v| adj * v);
    Ok(VcovResult::unclustered(vcov, n, df_k, adj))
}

/// df_k of a clustered variance (k_fixef = "nonnested"): the levels of fixed effects fully
/// nested in a cluster variable (`nested`, one flag per fixed effect) do not count.
fn clustered_df_k(k: usize, fe_levels: &[usize], nested: &[bool]) -> usize {
    let n_fe = fe_levels.len();
    let k_fe_adj = fe_adjusted_levels(fe_levels);
    let mut k_fe_nested = 0usize;
    let mut n_fe_fully_nested = 0usize;
    for (&levels, _) in fe_levels.iter().zip(nested).filter(|(_, &is)| is) {
        k_fe_nested += levels;
        n_fe_fully_nested += 1;
    }
    if n_fe == 0 {
        k
    } else if k_fe_nested == 0 {
        k + k_fe_adj
    } else {
        // Never negative (k_fe_adj counts every nested level); saturating for safety.
        (k + k_fe_adj + n_fe_fully_nested).saturating_sub(k_fe_nested)
    }
}

/// (N − 1)/(N − df_k) · G/(G − 1).
fn cluster_factor(n: usize, df_k: usize, g: usize) -> f64 {
    let (nf, gm) = (n as f64, g as f64);
    (nf - 1.0) / (nf - df_k as f64) * (gm / (gm - 1.0))
}

fn check_df(n: usize, df_k: usize) -> Result<()> {
    if n <= df_k {
        return Err(Error::Empty(format!(
            "vcov: no residual degrees of freedom: {n} observations for {df_k} parameters \
             (regressors plus non-nested fixed-effect levels)"
        )));
    }
    Ok(())
}

/// Number of distinct levels present in each fixed effect, after validating the codes.
fn fe_level_counts(fe: &FeInfo, n: usize) -> Result<Vec<usize>> {
    if fe.codes.len() != fe.n_levels.len() {
        return Err(Error::Shape(format!(
            "vcov: {} fixed-effect code vectors but {} level counts",
            fe.codes.len(),
            fe.n_levels.len()
        )));
    }
    // one pass per fixed effect, the fixed effects in parallel
    fe.codes
        .par_iter()
        .zip(fe.n_levels.par_iter())
        .enumerate()
        .map(|(j, (codes, &nl))| {
            if codes.len() != n {
                return Err(Error::Shape(format!(
                    "vcov: fixed effect {} has {} codes but there are {} observations",
                    j + 1,
                    codes.len(),
                    n
                )));
            }
            let mut seen = vec![false; nl];
            let mut count = 0usize;
            for (i, &c) in codes.iter().enumerate() {
                match seen.get_mut(c as usize) {
                    Some(s) => {
                        if !*s {
                            *s = true;
                            count += 1;
                        }
                    }
                    None => {
                        return Err(Error::Shape(format!(
                            "vcov: fixed effect {} has code {} at row {} but only {} levels",
                            j + 1,
                            c,
                            i,
                            nl
                        )))
                    }
                }
            }
            Ok(count)
        })
        .collect()
}

pub(crate) use super::codes::{dense_codes, densify};

/// Is every level of `fe` observed in exactly one cluster of `cluster` (dense codes `0..g`)?
/// A cluster variable that is the fixed effect itself (unit FE, clustered by unit) is.
fn is_nested(fe: &[u32], cluster: &[u32]) -> bool {
    if fe == cluster {
        return true;
    }
    let levels = fe.iter().max().map_or(0, |&m| m as usize + 1);
    let mut owner = vec![u32::MAX; levels];
    for (&f, &c) in fe.iter().zip(cluster.iter()) {
        let o = &mut owner[f as usize];
        if *o == u32::MAX {
            *o = c;
        } else if *o != c {
            return false;
        }
    }
    true
}

/// Σ_g S_g S_g' with S_g = Σ_{i∈g} xw_i·uw_i (dense codes `0..g`). The columns are split into
/// one group per thread and each group is summed in one pass over the rows (codes and
/// residuals read once per group), in row order: every S_g entry adds its terms in the order a
/// row loop would, so neither the grouping nor the thread count changes a bit.
fn cluster_meat(xw: ArrayView2<f64>, uw: ArrayView1<f64>, codes: &[u32], g: usize) -> Array2<f64> {
    let k = xw.ncols();
    if k == 0 {
        return Array2::zeros((0, 0)); // chunks_exact(0) below would panic
    }
    let per_group = k.div_ceil(rayon::current_num_threads().clamp(1, k));
    let groups: Vec<(usize, usize)> = (0..k)
        .step_by(per_group)
        .map(|j0| (j0, (j0 + per_group).min(k)))
        .collect();
    // per group: g x w sums, cluster-major
    let partial: Vec<Vec<f64>> = groups
        .par_iter()
        .map(|&(j0, j1)| {
            let w = j1 - j0;
            let mut s = vec![0.0; g * w];
            let cols: Option<Vec<&[f64]>> = (j0..j1).map(|j| xw.column(j).to_slice()).collect();
            match (cols, uw.as_slice()) {
                (Some(cols), Some(u)) => {
                    for (i, (&ui, &c)) in u.iter().zip(codes).enumerate() {
                        let row = &mut s[c as usize * w..(c as usize + 1) * w];
                        for (sj, x) in row.iter_mut().zip(&cols) {
                            *sj += x[i] * ui;
                        }
                    }
                }
                _ => {
                    for (i, (&ui, &c)) in uw.iter().zip(codes).enumerate() {
                        for jl in 0..w {
                            s[c as usize * w + jl] += xw[[i, j0 + jl]] * ui;
                        }
                    }
                }
            }
            s
        })
        .collect();
    let mut sums = vec![0.0; g * k];
    for (&(j0, j1), part) in groups.iter().zip(&partial) {
        let w = j1 - j0;
        for (c, row) in part.chunks_exact(w).enumerate() {
            sums[c * k + j0..c * k + j1].copy_from_slice(row);
        }
    }
    let mut meat = Array2::<f64>::zeros((k, k));
    for s in sums.chunks_exact(k) {
        add_outer(&mut meat, s);
    }
    meat
}

fn add_outer(m: &mut Array2<f64>, s: &[f64]) {
    for (a, &sa) in s.iter().enumerate() {
        for (b, &sb) in s.iter().enumerate() {
            m[[a, b]] += sa * sb;
        }
    }
}

/// bread · meat · bread, symmetrised.
fn sandwich(bread: ArrayView2<f64>, meat: &Array2<f64>) -> Array2<f64> {
    let v = bread.dot(meat).dot(&bread);
    let vt = v.t().to_owned();
    (v + vt) * 0.5
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array1, ShapeBuilder};

    fn assert_close(a: &Array2<f64>, b: &Array2<f64>, rtol: f64) {
        assert_eq!(a.dim(), b.dim());
        let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (x, y) in a.iter().zip(b.iter()) {
            assert!(
                (x - y).abs() <= rtol * scale,
                "{x} vs {y} (rtol {rtol}, scale {scale})\n{a}\n{b}"
            );
        }
    }

    fn inv2(m: &Array2<f64>) -> Array2<f64> {
        let det = m[[0, 0]] * m[[1, 1]] - m[[0, 1]] * m[[1, 0]];
        array![[m[[1, 1]], -m[[0, 1]]], [-m[[1, 0]], m[[0, 0]]]] / det
    }

    /// y = a + b x on 6 points, residuals from the fit: everything small enough to do by hand.
    fn small() -> (Array2<f64>, Array1<f64>, Array2<f64>) {
        let x = array![
            [1.0, 0.0],
            [1.0, 1.0],
            [1.0, 2.0],
            [1.0, 3.0],
            [1.0, 4.0],
            [1.0, 5.0]
        ];
        let y = array![1.0, 3.0, 2.0, 5.0, 4.0, 7.0];
        let xtx = x.t().dot(&x);
        let bread = inv2(&xtx);
        let beta = bread.dot(&x.t().dot(&y));
        let u = &y - &x.dot(&beta);
        (x, u, bread)
    }

    /// Identity: iid V = σ² (X'X)^{-1} with σ² = RSS/(n−k), computed by hand.
    #[test]
    fn iid_is_sigma2_times_bread() {
        let (x, u, bread) = small();
        let r = vcov(
            x.view(),
            u.view(),
            bread.view(),
            &VcovType::Iid,
            &FeInfo::none(),
        )
        .unwrap();
        let rss: f64 = u.iter().map(|v| v * v).sum();
        // X'X = [[6, 15], [15, 55]], det = 105; the fit is y = 1.2857 + 0.9714 x.
        assert!((bread[[0, 0]] - 55.0 / 105.0).abs() < 1e-14);
        let expected = bread.mapv(|b| b * rss / 4.0);
        assert_close(&r.vcov, &expected, 1e-13);
        assert_eq!((r.df_k, r.df_t), (2, 4));
        assert!((r.ssc[0] - 5.0 / 4.0).abs() < 1e-15);
    }

    /// Identity: HC1 = n/(n−k) · B (Σ x_i x_i' u_i²) B, written out for k = 2.
    #[test]
    fn hetero_by_hand() {
        let (x, u, bread) = small();
        let r = vcov(
            x.view(),
            u.view(),
            bread.view(),
            &VcovType::Hetero,
            &FeInfo::none(),
        )
        .unwrap();
        let mut meat = Array2::<f64>::zeros((2, 2));
        for i in 0..6 {
            for a in 0..2 {
                for b in 0..2 {
                    meat[[a, b]] += x[[i, a]] * x[[i, b]] * u[i] * u[i];
                }
            }
        }
        let expected = bread.dot(&meat).dot(&bread) * (6.0 / 4.0);
        assert_close(&r.vcov, &expected, 1e-13);
        assert_eq!(r.df_t, 4);
    }

    /// Identity: CR1 with 3 clusters of 2 = (n−1)/(n−k)·G/(G−1) · B (Σ_g S_g S_g') B.
    #[test]
    fn cr1_by_hand() {
        let (x, u, bread) = small();
        let cl = vec![0, 0, 1, 1, 2, 2];
        let r = vcov(
            x.view(),
            u.view(),
            bread.view(),
            &VcovType::Cluster(vec![cl]),
            &FeInfo::none(),
        )
        .unwrap();
        let mut meat = Array2::<f64>::zeros((2, 2));
        for g in 0..3 {
            let s0 = u[2 * g] + u[2 * g + 1];
            let s1 = x[[2 * g, 1]] * u[2 * g] + x[[2 * g + 1, 1]] * u[2 * g + 1];
            meat += &array![[s0 * s0, s0 * s1], [s1 * s0, s1 * s1]];
        }
        let c = 5.0 / 4.0 * 3.0 / 2.0;
        let expected = bread.dot(&meat).dot(&bread) * c;
        assert_close(&r.vcov, &expected, 1e-13);
        assert_eq!((r.df_k, r.df_t, r.n_clusters.clone()), (2, 2, vec![3]));
    }

    /// Identity: CR1 with every observation its own cluster equals HC1, because
    /// (n−1)/(n−k) · n/(n−1) = n/(n−k) (ratio of the factors = 1), also with absorbed FE.
    #[test]
    fn cr1_singletons_equal_hc1() {
        let fe = FeInfo {
            codes: vec![&UNIT[..]],
            n_levels: vec![12],
        };
        let x = Array2::from_shape_vec((48, 2), M2_XW.to_vec()).unwrap();
        let u = Array1::from(M2_UW.to_vec());
        let b = Array2::from_shape_vec((2, 2), M2_BREAD.to_vec()).unwrap();
        let own: Vec<u32> = (0..48).collect();
        let hc1 = vcov(x.view(), u.view(), b.view(), &VcovType::Hetero, &fe).unwrap();
        let cr1 = vcov(
            x.view(),
            u.view(),
            b.view(),
            &VcovType::Cluster(vec![own]),
            &fe,
        )
        .unwrap();
        assert_close(&cr1.vcov, &hc1.vcov, 1e-13);
        assert_eq!(cr1.df_k, hc1.df_k);
        assert!((cr1.ssc[0] - hc1.ssc[0]).abs() < 1e-14);
    }

    /// Identities of two-way clustering: cluster2 == cluster1 gives V1 + V1 − V1 = V1; cluster2 =
    /// row id gives an intersection equal to cluster2, so V = V1 again (G_min = G1).
    #[test]
    fn twoway_degenerate_cases_equal_oneway() {
        let (x, u, bread) = small();
        let fe = FeInfo::none();
        let cl = vec![0u32, 0, 1, 1, 2, 2];
        let one = vcov(
            x.view(),
            u.view(),
            bread.view(),
            &VcovType::Cluster(vec![cl.clone()]),
            &fe,
        )
        .unwrap();
        let same = vcov(
            x.view(),
            u.view(),
            bread.view(),
            &VcovType::Cluster(vec![cl.clone(), cl.clone()]),
            &fe,
        )
        .unwrap();
        assert_close(&same.vcov, &one.vcov, 1e-12);
        assert_eq!(same.df_t, one.df_t);
        let rows: Vec<u32> = (0..6).collect();
        let rowwise = vcov(
            x.view(),
            u.view(),
            bread.view(),
            &VcovType::Cluster(vec![cl, rows]),
            &fe,
        )
        .unwrap();
        assert_close(&rowwise.vcov, &one.vcov, 1e-12);
        assert_eq!(rowwise.n_clusters, vec![3, 6]);
        assert_eq!(rowwise.ssc.len(), 3);
        assert!(rowwise.ssc[2] < 0.0);
    }

    #[test]
    fn errors_name_the_problem() {
        let (x, u, bread) = small();
        let fe = FeInfo::none();
        let one = VcovType::Cluster(vec![vec![7; 6]]);
        match vcov(x.view(), u.view(), bread.view(), &one, &fe) {
            Err(Error::Option { name, reason }) => {
                assert_eq!(name, "vcov");
                assert!(reason.contains("only 1 cluster"), "{reason}");
            }
            other => panic!("expected Error::Option, got {other:?}"),
        }
        let two_one = VcovType::Cluster(vec![vec![0, 1, 0, 1, 0, 1], vec![3; 6]]);
        assert!(matches!(
            vcov(x.view(), u.view(), bread.view(), &two_one, &fe),
            Err(Error::Option { .. })
        ));
        let short = VcovType::Cluster(vec![vec![0, 1, 0]]);
        assert!(matches!(
            vcov(x.view(), u.view(), bread.view(), &short, &fe),
            Err(Error::Shape(_))
        ));
        assert!(matches!(
            vcov(
                x.view(),
                u.slice(ndarray::s![..5]),
                bread.view(),
                &VcovType::Iid,
                &fe
            ),
            Err(Error::Shape(_))
        ));
        let codes = [0u32, 1, 2, 3, 4, 5];
        let bad_fe = FeInfo {
            codes: vec![&codes[..]],
            n_levels: vec![5],
        };
        assert!(matches!(
            vcov(x.view(), u.view(), bread.view(), &VcovType::Iid, &bad_fe),
            Err(Error::Shape(_))
        ));
        // 6 FE levels + 2 regressors > 6 observations.
        let all_fe = FeInfo {
            codes: vec![&codes[..]],
            n_levels: vec![6],
        };
        assert!(matches!(
            vcov(x.view(), u.view(), bread.view(), &VcovType::Iid, &all_fe),
            Err(Error::Empty(_))
        ));
        let three = VcovType::Cluster(vec![vec![0, 1, 0, 1, 0, 1]; 3]);
        assert!(matches!(
            vcov(x.view(), u.view(), bread.view(), &three, &fe),
            Err(Error::Option { .. })
        ));
    }

    #[test]
    fn cluster_codes_need_not_be_dense() {
        let (x, u, bread) = small();
        let fe = FeInfo::none();
        let dense = VcovType::Cluster(vec![vec![0, 0, 1, 1, 2, 2]]);
        let sparse = VcovType::Cluster(vec![vec![9, 9, 4_000_000_000, 4_000_000_000, 5, 5]]);
        let a = vcov(x.view(), u.view(), bread.view(), &dense, &fe).unwrap();
        let b = vcov(x.view(), u.view(), bread.view(), &sparse, &fe).unwrap();
        assert_close(&a.vcov, &b.vcov, 1e-14);
        assert_eq!(b.n_clusters, vec![3]);
    }

    /// The cluster meat adds each cluster's terms in row order whatever the column grouping:
    /// bit-equal to a plain row loop, for contiguous and strided regressor columns, in pools of
    /// 1, 2 and 3 threads.
    #[test]
    fn cluster_meat_is_the_row_loop_bit_for_bit() {
        let (n, k, g) = (97, 5, 7);
        let xs: Vec<f64> = (0..n * k)
            .map(|i| ((i * 37 + 11) % 101) as f64 / 7.0 - 6.0)
            .collect();
        let u: Vec<f64> = (0..n)
            .map(|i| ((i * 53 + 5) % 89) as f64 / 9.0 - 4.0)
            .collect();
        let codes: Vec<u32> = (0..n).map(|i| ((i * 5 + i / 13) % g) as u32).collect();
        let col_major = ndarray::ArrayView2::from_shape((n, k).f(), &xs).unwrap();
        let row_major = ndarray::ArrayView2::from_shape((n, k), &xs).unwrap();
        let uw = ndarray::ArrayView1::from(&u);
        for xw in [col_major, row_major] {
            let mut sums = vec![0.0; g * k];
            for i in 0..n {
                for j in 0..k {
                    sums[codes[i] as usize * k + j] += xw[[i, j]] * u[i];
                }
            }
            let mut want = Array2::<f64>::zeros((k, k));
            for s in sums.chunks_exact(k) {
                add_outer(&mut want, s);
            }
            for threads in 1..=3 {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let got = pool.install(|| cluster_meat(xw, uw, &codes, g));
                assert_eq!(got, want, "{threads} threads");
            }
        }
    }

    #[test]
    fn a_cluster_equal_to_the_fixed_effect_is_nested() {
        assert!(is_nested(&[0, 0, 1], &[0, 0, 1]));
    }

    /// Reference: pyfixest 0.60, default ssc, on the 48-row panel made by
    /// the script quoted above the reference data below (12 units × 4 years; region nests unit;
    /// `cl` nests nothing).
    /// Inputs are pyfixest's own `_X`, `_u_hat`, `_bread`; expected are its `_vcov`, `_df_k`,
    /// `_df_t` for each model × vcov (M0: `y ~ x1 + x2`; M1: `y ~ x1 + x2 | unit + year`;
    /// M2: `y ~ x1 + x2 | unit`, weights = w).
    #[test]
    fn matches_pyfixest_060() {
        type Case<'a> = (&'a str, &'a [f64], (usize, usize), Vec<Vec<u32>>);
        type Model<'a> = (
            &'a str,
            &'a [f64],
            &'a [f64],
            &'a [f64],
            Vec<&'a [u32]>,
            Vec<usize>,
        );
        let models: [Model; 3] = [
            ("M0", &M0_XW, &M0_UW, &M0_BREAD, vec![], vec![]),
            (
                "M1",
                &M1_XW,
                &M1_UW,
                &M1_BREAD,
                vec![&UNIT[..], &YEAR[..]],
                vec![12, 4],
            ),
            ("M2", &M2_XW, &M2_UW, &M2_BREAD, vec![&UNIT[..]], vec![12]),
        ];
        let cases = |m: &str| -> Vec<Case> {
            let u = UNIT.to_vec();
            let y = YEAR.to_vec();
            let r = REGION.to_vec();
            let c = CL.to_vec();
            let (v, d): (Vec<&[f64]>, Vec<(usize, usize)>) = match m {
                "M0" => (
                    vec![
                        &M0_IID_V, &M0_HET_V, &M0_CU_V, &M0_CR_V, &M0_CY_V, &M0_CC_V, &M0_CUY_V,
                        &M0_CCU_V, &M0_CCY_V,
                    ],
                    vec![
                        M0_IID_DF, M0_HET_DF, M0_CU_DF, M0_CR_DF, M0_CY_DF, M0_CC_DF, M0_CUY_DF,
                        M0_CCU_DF, M0_CCY_DF,
                    ],
                ),
                "M1" => (
                    vec![
                        &M1_IID_V, &M1_HET_V, &M1_CU_V, &M1_CR_V, &M1_CY_V, &M1_CC_V, &M1_CUY_V,
                        &M1_CCU_V, &M1_CCY_V,
                    ],
                    vec![
                        M1_IID_DF, M1_HET_DF, M1_CU_DF, M1_CR_DF, M1_CY_DF, M1_CC_DF, M1_CUY_DF,
                        M1_CCU_DF, M1_CCY_DF,
                    ],
                ),
                _ => (
                    vec![
                        &M2_IID_V, &M2_HET_V, &M2_CU_V, &M2_CR_V, &M2_CY_V, &M2_CC_V, &M2_CUY_V,
                        &M2_CCU_V, &M2_CCY_V,
                    ],
                    vec![
                        M2_IID_DF, M2_HET_DF, M2_CU_DF, M2_CR_DF, M2_CY_DF, M2_CC_DF, M2_CUY_DF,
                        M2_CCU_DF, M2_CCY_DF,
                    ],
                ),
            };
            let cl = vec![
                vec![],
                vec![],
                vec![u.clone()],
                vec![r],
                vec![y.clone()],
                vec![c.clone()],
                vec![u.clone(), y.clone()],
                vec![c.clone(), u],
                vec![c, y],
            ];
            let names = [
                "iid",
                "hetero",
                "unit",
                "region",
                "year",
                "cl",
                "unit+year",
                "cl+unit",
                "cl+year",
            ];
            (0..9)
                .map(|i| (names[i], v[i], d[i], cl[i].clone()))
                .collect()
        };
        for (m, xw, uw, br, codes, levels) in models.iter() {
            let k = if *m == "M0" { 3 } else { 2 };
            let x = Array2::from_shape_vec((48, k), xw.to_vec()).unwrap();
            let u = Array1::from(uw.to_vec());
            let b = Array2::from_shape_vec((k, k), br.to_vec()).unwrap();
            let fe = FeInfo {
                codes: codes.clone(),
                n_levels: levels.clone(),
            };
            for (name, expected, (df_k, df_t), cl) in cases(m) {
                let kind = match name {
                    "iid" => VcovType::Iid,
                    "hetero" => VcovType::Hetero,
                    _ => VcovType::Cluster(cl),
                };
                let r = vcov(x.view(), u.view(), b.view(), &kind, &fe).unwrap();
                let e = Array2::from_shape_vec((k, k), expected.to_vec()).unwrap();
                assert_close(&r.vcov, &e, 1e-12);
                assert_eq!((r.df_k, r.df_t), (df_k, df_t), "{m} {name}");
            }
        }
    }

    // Reference data written by this Python script (pyfixest 0.60.0, numpy, pandas):
    //
    //     """Generate pyfixest 0.60 reference numbers for core/src/inference/vcov.rs tests."""
    //     import numpy as np, pandas as pd, pyfixest as pf
    //
    //     rng = np.random.default_rng(20240601)
    //     n = 48
    //     unit = np.repeat(np.arange(12), 4)
    //     year = np.tile(np.arange(4), 12)
    //     # drop nothing; make it a bit unbalanced by shuffling years inside some units
    //     region = unit // 3          # unit nested in region (4 regions)
    //     cl = rng.integers(0, 6, n)  # random cluster, nests nothing
    //     x1 = rng.normal(size=n) + 0.3 * unit
    //     x2 = rng.normal(size=n) + 0.2 * year
    //     w = rng.uniform(0.5, 2.0, n)
    //     y = 1 + 0.5 * x1 - 0.3 * x2 + 0.2 * unit + 0.1 * year + rng.normal(size=n) * (1 + 0.5 * (year == 2))
    //     df = pd.DataFrame(dict(y=y, x1=x1, x2=x2, w=w, unit=unit, year=year, region=region, cl=cl))
    //
    //     def arr(name, a, fmt="{:.17e}"):
    //         a = np.asarray(a).ravel()
    //         return f"const {name}: [f64; {a.size}] = [" + ", ".join(fmt.format(v) for v in a) + "];"
    //
    //     def iarr(name, a):
    //         a = np.asarray(a).ravel()
    //         return f"const {name}: [u32; {a.size}] = [" + ", ".join(str(int(v)) for v in a) + "];"
    //
    //     out = []
    //     out.append(iarr("UNIT", pd.factorize(df.unit)[0]))
    //     out.append(iarr("YEAR", pd.factorize(df.year)[0]))
    //     out.append(iarr("REGION", pd.factorize(df.region)[0]))
    //     out.append(iarr("CL", pd.factorize(df.cl)[0]))
    //
    //     models = {
    //         "M0": ("y ~ x1 + x2", None),
    //         "M1": ("y ~ x1 + x2 | unit + year", None),
    //         "M2": ("y ~ x1 + x2 | unit", "w"),
    //     }
    //     vcovs = {
    //         "IID": "iid", "HET": "hetero",
    //         "CU": {"CRV1": "unit"}, "CR": {"CRV1": "region"}, "CY": {"CRV1": "year"},
    //         "CC": {"CRV1": "cl"}, "CUY": {"CRV1": "unit+year"}, "CCU": {"CRV1": "cl+unit"},
    //         "CCY": {"CRV1": "cl+year"},
    //     }
    //     for m, (fml, wts) in models.items():
    //         fit = pf.feols(fml, df, weights=wts, vcov="iid")
    //         assert fit._N == n
    //         out.append(arr(f"{m}_XW", fit._X))
    //         out.append(arr(f"{m}_UW", fit._u_hat))
    //         out.append(arr(f"{m}_BREAD", fit._bread))
    //         for v, spec in vcovs.items():
    //             f2 = pf.feols(fml, df, weights=wts, vcov=spec)
    //             out.append(arr(f"{m}_{v}_V", f2._vcov))
    //             out.append(f"const {m}_{v}_DF: (usize, usize) = ({int(f2._df_k)}, {int(f2._df_t)});")
    //     print("\n".join(out))
    #[rustfmt::skip]
    #[allow(clippy::excessive_precision, clippy::unreadable_literal)]
    mod refdata {
        pub const UNIT: [u32; 48] = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7, 8, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 10, 11, 11, 11, 11];
        pub const YEAR: [u32; 48] = [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3];
        pub const REGION: [u32; 48] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3];
        pub const CL: [u32; 48] = [0, 1, 0, 2, 3, 4, 0, 5, 0, 0, 5, 4, 3, 2, 4, 2, 2, 1, 1, 1, 2, 4, 1, 0, 4, 1, 4, 5, 2, 5, 0, 1, 2, 0, 1, 3, 1, 2, 2, 0, 0, 1, 4, 4, 1, 0, 1, 0];
        pub const M0_XW: [f64; 144] = [1.00000000000000000e+00, -1.41782108696277187e+00, 8.81449723807857022e-01, 1.00000000000000000e+00, -1.29612993427096201e-01, -1.59810826886947077e+00, 1.00000000000000000e+00, -1.56528955418614342e-02, -1.30397213456465400e+00, 1.00000000000000000e+00, -4.65518295984679309e-03, -7.76004826356927468e-02, 1.00000000000000000e+00, -6.88513905891914524e-01, 3.40651541789007348e-02, 1.00000000000000000e+00, -6.58304121527397701e-02, -1.18882660854166478e+00, 1.00000000000000000e+00, 9.53817554258745259e-01, -5.37151964266899817e-01, 1.00000000000000000e+00, -4.14550717694584570e-01, 1.54910275637406891e-01, 1.00000000000000000e+00, 1.14719748056229509e+00, -4.75107122250447322e-01, 1.00000000000000000e+00, 1.25551237038461028e+00, 3.88615283999194649e-01, 1.00000000000000000e+00, -8.27000612748674091e-01, 4.72571247367231606e-01, 1.00000000000000000e+00, -4.53062309323778445e-02, 5.61236414360840818e-01, 1.00000000000000000e+00, 1.55531263359878369e+00, -6.17708443158888731e-01, 1.00000000000000000e+00, 1.39349479316805125e+00, -6.32396532440650638e-01, 1.00000000000000000e+00, 1.07937520344520910e+00, -1.51091627500116532e+00, 1.00000000000000000e+00, 5.51382470657660217e-01, 1.86748834833328070e+00, 1.00000000000000000e+00, 1.30855880251924162e+00, 1.95471330043202579e-01, 1.00000000000000000e+00, 3.07477316139994628e+00, 5.69517572645678483e-01, 1.00000000000000000e+00, 9.78544512067998085e-01, -1.31735935850674579e+00, 1.00000000000000000e+00, 1.77964992774412467e+00, 1.35115677580629279e+00, 1.00000000000000000e+00, 1.08325154481583885e+00, -8.80260511183924427e-02, 1.00000000000000000e+00, 1.30167395129399188e+00, 1.16834406864896123e+00, 1.00000000000000000e+00, 2.14802676985716090e+00, -2.86173146264524392e-01, 1.00000000000000000e+00, 5.70997735198169432e-01, 1.59835713461104456e+00, 1.00000000000000000e+00, 1.55758254086768311e+00, 1.43939748073133322e+00, 1.00000000000000000e+00, 1.18969222161234045e+00, 3.04386846138552380e-02, 1.00000000000000000e+00, 9.41291828973562894e-01, 9.54716330703867522e-02, 1.00000000000000000e+00, 1.97575308681264938e+00, 1.99705108018964850e-01, 1.00000000000000000e+00, 3.33982310364759538e+00, 1.35629800548714680e-01, 1.00000000000000000e+00, 2.32140705877812703e+00, 2.93999819280119423e+00, 1.00000000000000000e+00, 1.71823344105395548e+00, 3.52476987988131651e-01, 1.00000000000000000e+00, 6.48880032253853711e-01, 1.25061568780566956e+00, 1.00000000000000000e+00, 3.21895695725810160e+00, -1.48249023920242817e+00, 1.00000000000000000e+00, 2.61045908127569692e+00, -2.12772271472689090e+00, 1.00000000000000000e+00, 1.76868635317420431e+00, 5.60648086312087290e-01, 1.00000000000000000e+00, 3.26143582189022485e+00, 5.01336394909833172e-01, 1.00000000000000000e+00, 4.27422871760169176e+00, 1.21911314892456635e+00, 1.00000000000000000e+00, 1.06834677339718342e+00, -2.13341986752950197e+00, 1.00000000000000000e+00, 3.29032714382218350e+00, 8.16071388825952759e-01, 1.00000000000000000e+00, 3.54585338495118307e+00, -1.15341184271950903e+00, 1.00000000000000000e+00, 3.58052867556069998e+00, 1.75793091237638666e+00, 1.00000000000000000e+00, 4.60176198722583951e+00, 9.60703936965021432e-01, 1.00000000000000000e+00, 3.62537813890112037e+00, -5.77145411305382328e-01, 1.00000000000000000e+00, 2.09646795889773152e+00, 1.32973701531738575e+00, 1.00000000000000000e+00, 7.10012779368467228e+00, 8.91049469428231267e-01, 1.00000000000000000e+00, 3.44619224930101264e+00, 3.17913830931770058e-01, 1.00000000000000000e+00, 4.78210701600561805e+00, 1.94394957615432862e+00, 1.00000000000000000e+00, 5.26610904727396889e+00, 1.57428862048252283e+00];
        pub const M0_UW: [f64; 48] = [-1.94912996072307887e-01, -6.58669625960898397e-01, 3.13713511899793573e-03, -1.71133399982107881e+00, 1.39859668632833456e+00, 6.26420399444108877e-01, -5.90614419744328600e-03, 1.02725047699731631e+00, -9.72444653079624466e-01, 4.33714474272837158e-01, -1.61809421032844858e+00, 1.48993764004329243e+00, 5.11268391567582192e-01, -1.24723280667856762e+00, -1.42880120361777907e+00, 4.99845945103371214e-01, -2.70833159606211016e-01, 5.21416582119504479e-01, 6.54334384522976542e-02, 4.13070608985064425e-02, -5.47755797040432313e-02, 2.25038560805845833e-03, -1.18248882010048373e+00, -8.82485428360007429e-01, 5.52561343361517299e-01, 5.50375088276244817e-01, -1.95033691452170110e+00, -1.87968160403247708e-01, 9.17102904046330991e-01, 7.88843445566289603e-03, -1.24998517202086701e+00, 9.87153966465307953e-01, -7.13111382201530475e-01, 9.67680561386359273e-02, 2.47148069867464981e+00, -1.34198584944144894e+00, 2.84401865465478743e-01, 2.45877534937197906e+00, 8.79487325538043319e-01, 1.41846539111083203e+00, -1.61598065369028898e+00, -3.32819482230529928e-01, -5.47726824210839958e-01, -1.63611929862544692e-01, -4.35767990341310529e-01, 5.00771734655814704e-01, 1.39360824013072371e+00, -3.72146027194246720e-01];
        pub const M0_BREAD: [f64; 9] = [4.44679423627675346e-02, -1.30822656933563871e-02, 1.35773363621707411e-03, -1.30822656933563871e-02, 7.48777437858576776e-03, -2.82188840858547648e-03, 1.35773363621707389e-03, -2.82188840858547648e-03, 1.74698436866302549e-02];
        pub const M0_IID_V: [f64; 9] = [4.95575277620394147e-02, -1.45795984891740667e-02, 1.51313325499450278e-03, -1.45795984891740667e-02, 8.34478878324149131e-03, -3.14486809416536376e-03, 1.51313325499450257e-03, -3.14486809416536376e-03, 1.94693574178858367e-02];
        pub const M0_IID_DF: (usize, usize) = (3, 45);
        pub const M0_HET_V: [f64; 9] = [5.29066930567654303e-02, -1.33074951138799132e-02, -4.01670790246714138e-03, -1.33074951138799080e-02, 6.43917216575293303e-03, -2.20418929978475481e-03, -4.01670790246714312e-03, -2.20418929978475437e-03, 2.01457638025696086e-02];
        pub const M0_HET_DF: (usize, usize) = (3, 45);
        pub const M0_CU_V: [f64; 9] = [5.86566599867772084e-02, -1.30055419379025931e-02, -1.19214548883522387e-02, -1.30055419379025983e-02, 7.82550636633417597e-03, -5.19667829898709261e-03, -1.19214548883522370e-02, -5.19667829898709348e-03, 2.75109334811255990e-02];
        pub const M0_CU_DF: (usize, usize) = (3, 11);
        pub const M0_CR_V: [f64; 9] = [2.15937692175305687e-02, -1.81774314182024877e-04, -1.88409816480967149e-02, -1.81774314182025771e-04, 9.43149160833505157e-04, -3.88204945422127631e-03, -1.88409816480967149e-02, -3.88204945422127501e-03, 3.38087574693201123e-02];
        pub const M0_CR_DF: (usize, usize) = (3, 3);
        pub const M0_CY_V: [f64; 9] = [7.55782439795285310e-02, -2.37590217150579729e-02, -3.33042403217398905e-02, -2.37590217150579729e-02, 9.22399418149133510e-03, 7.56655902461419137e-03, -3.33042403217398905e-02, 7.56655902461419051e-03, 1.95812175546523082e-02];
        pub const M0_CY_DF: (usize, usize) = (3, 3);
        pub const M0_CC_V: [f64; 9] = [2.68749345005116665e-02, -9.52237319566650794e-03, 2.19412162317590698e-02, -9.52237319566650621e-03, 5.07936934218916007e-03, -8.05077713364026060e-03, 2.19412162317590698e-02, -8.05077713364026060e-03, 3.35527302293429780e-02];
        pub const M0_CC_DF: (usize, usize) = (3, 5);
        pub const M0_CUY_V: [f64; 9] = [7.81970902503680149e-02, -2.22810099071512474e-02, -4.26308720903938593e-02, -2.22810099071512578e-02, 1.03818049683889954e-02, 4.09275491168228575e-03, -4.26308720903938523e-02, 4.09275491168228315e-03, 2.69042779560066149e-02];
        pub const M0_CUY_DF: (usize, usize) = (3, 3);
        pub const M0_CCU_V: [f64; 9] = [3.46820234396830671e-02, -1.09538328098024267e-02, 1.37653339625689961e-02, -1.09538328098024319e-02, 7.31712767355121706e-03, -9.68359860860647237e-03, 1.37653339625689979e-02, -9.68359860860647237e-03, 4.07242918483744082e-02];
        pub const M0_CCU_DF: (usize, usize) = (3, 5);
        pub const M0_CCY_V: [f64; 9] = [4.46023803371091709e-02, -2.05934796177044167e-02, -7.30896799184262581e-03, -2.05934796177044202e-02, 8.66678939791674929e-03, 1.17868644227814593e-03, -7.30896799184262581e-03, 1.17868644227814507e-03, 2.91237288766628966e-02];
        pub const M0_CCY_DF: (usize, usize) = (3, 3);
        pub const M1_XW: [f64; 96] = [-1.36827466686835297e+00, 1.29952880948391347e+00, 2.52547011251068820e-01, -7.47052717709119518e-01, 5.01901758218615268e-01, -4.54034337680240374e-01, 6.13825897398668774e-01, -9.84417540945535380e-02, -9.77133655150266289e-01, 3.11837235037531080e-01, -2.18365768273454490e-02, -4.78078062198739440e-01, 1.13320603866645131e+00, 1.72478827800087969e-01, -1.34235806688839610e-01, -6.23800063887973433e-03, 4.22207609117356553e-01, -8.18414783009085989e-01, 8.63136083523417863e-01, 4.78284088724850787e-01, -1.08398225052755470e+00, 5.61122297816950222e-01, -2.01361442113219630e-01, -2.20991603532715020e-01, 6.80322387528824041e-02, -5.00803922481466546e-01, 2.38827982905896102e-01, -8.25155462789335797e-02, 6.01030422653657664e-02, -9.62153043115385742e-01, -3.66963263924144301e-01, 1.54547251187578594e+00, -8.19211918042061171e-01, -1.10703954843338281e-01, 1.27961602542238961e+00, 6.96318753243432620e-01, -6.81217974827246886e-01, -1.19167593218492929e+00, 2.20813867446918527e-01, 6.06061133784834838e-01, -5.35125075103926595e-01, -7.92630257477098477e-01, 1.59109159579725150e-02, 8.96716327774550126e-01, 9.97658383603453269e-01, -5.58918641414873019e-01, -4.78444224457499345e-01, 4.54832571117421369e-01, -2.00886498327351060e-01, 8.91665549233264354e-01, -2.36163232998947592e-01, -8.43167813999187027e-02, -3.49168976555413291e-01, -2.04015872193247412e-02, 7.86218707881711998e-01, -7.86947180614021025e-01, 9.90348075085737412e-01, -1.14052907162664674e+00, 3.04545614800015074e-01, 2.09681578611012798e+00, -1.63233353841844675e-01, -4.91823172978872347e-01, -1.13166033604390770e+00, -4.64463541504608890e-01, 1.61683284230069474e-01, -9.51911825915012222e-01, -1.14201007168589067e-01, -1.16416783595518014e+00, -8.20579086187769979e-01, 1.52308521080786052e+00, 7.73096809126289530e-01, 5.92994451062332062e-01, 8.87150593030156198e-01, 1.42554623715975559e+00, -1.98611776659060602e+00, -1.49401031381001781e+00, 3.71257252916705804e-01, 1.45436318826949940e+00, 7.27709920643744179e-01, -1.38589911161923673e+00, -2.37894634214123074e-01, 7.83645594148600022e-01, 1.11595226203476261e+00, 4.19395084221529657e-01, 2.74963062792355273e-01, -1.11957201832481168e+00, -1.15302069061299495e+00, -8.34686600453179994e-02, 1.60910464748987914e+00, -3.97229609710415821e-01, -1.71221731231003438e+00, -5.37388782722582059e-01, -2.40907896523117199e-01, 1.08752920822403909e+00, 3.44020561343272413e-01, -1.52910815791041266e-01];
        pub const M1_UW: [f64; 48] = [-5.82129235334378770e-02, -1.19476726175639272e-01, 1.10876669342949108e+00, -9.31077043720413888e-01, 3.43986183857200256e-01, -3.48078467832547700e-01, -1.51666105376132399e-01, 1.55758389351479787e-01, -5.49905898124382952e-01, 5.92041311559332373e-01, -1.58551410008140636e+00, 1.54337868664645672e+00, 1.04171267275454316e+00, -9.93388244752730132e-01, -6.46866858771847131e-01, 5.98542430770034217e-01, -5.66077422651581008e-01, 5.39735351732768320e-01, 1.21721908284086008e-01, -9.53798373652733067e-02, 4.18712454410279433e-01, 2.13623521436026753e-01, -1.87033429711052634e-02, -6.13632632875200867e-01, 7.19871972474701471e-01, 4.93421750726137864e-01, -1.53845710857773121e+00, 3.25163385376891934e-01, 1.21854141221165646e+00, -4.84730242418597856e-01, -1.16215339915030924e+00, 4.28342229357250526e-01, -6.58419335613566692e-01, -2.15752688392795045e-01, 2.21213472666020028e+00, -1.33796270265383876e+00, -7.61202163755124062e-01, 4.37214644069801428e-01, -1.20671326071742510e-01, 4.44658845757065213e-01, -1.04522590841230190e+00, 4.10579801426051438e-01, 5.65907114798216981e-01, 6.87389921880336430e-02, -1.03781043617985680e-01, -5.25190011377808408e-01, 1.21550179782827961e+00, -5.86530742832485408e-01];
        pub const M1_BREAD: [f64; 4] = [3.35352074982623108e-02, -3.62791068179723751e-04, -3.62791068179723806e-04, 2.74752947268060155e-02];
        pub const M1_IID_V: [f64; 4] = [3.28434408803269726e-02, -3.55307388519628001e-04, -3.55307388519628055e-04, 2.69085324155567407e-02];
        pub const M1_IID_DF: (usize, usize) = (17, 31);
        pub const M1_HET_V: [f64; 4] = [2.50194281255747553e-02, -1.18209646831346406e-02, -1.18209646831346424e-02, 2.90270475439631248e-02];
        pub const M1_HET_DF: (usize, usize) = (17, 31);
        pub const M1_CU_V: [f64; 4] = [2.24556828836745513e-02, -1.19572126773954228e-02, -1.19572126773954245e-02, 2.71466252066315840e-02];
        pub const M1_CU_DF: (usize, usize) = (6, 11);
        pub const M1_CR_V: [f64; 4] = [7.87532667018321468e-03, -3.75417473415196046e-03, -3.75417473415196002e-03, 1.00475659693683821e-02];
        pub const M1_CR_DF: (usize, usize) = (6, 3);
        pub const M1_CY_V: [f64; 4] = [1.26851258248047820e-02, 8.40201515811564090e-03, 8.40201515811564090e-03, 2.76397730359309278e-02];
        pub const M1_CY_DF: (usize, usize) = (14, 3);
        pub const M1_CC_V: [f64; 4] = [3.78308570860748303e-02, -2.19640899169405747e-02, -2.19640899169405747e-02, 3.08963874167887363e-02];
        pub const M1_CC_DF: (usize, usize) = (17, 5);
        pub const M1_CUY_V: [f64; 4] = [1.26983883948328345e-02, 3.33968090681109695e-03, 3.33968090681109522e-03, 2.57442205594323147e-02];
        pub const M1_CUY_DF: (usize, usize) = (3, 3);
        pub const M1_CCU_V: [f64; 4] = [3.17600830275630991e-02, -1.91549553544381537e-02, -1.91549553544381607e-02, 2.66985785550558560e-02];
        pub const M1_CCU_DF: (usize, usize) = (6, 5);
        pub const M1_CCY_V: [f64; 4] = [1.35913917222547087e-02, 3.46994967006428179e-03, 3.46994967006427832e-03, 1.74010274298240994e-02];
        pub const M1_CCY_DF: (usize, usize) = (14, 3);
        pub const M2_XW: [f64; 96] = [-8.75559823677649618e-01, 1.20073745653823649e+00, 7.05824528070709556e-02, -9.66928686576497110e-01, 2.12741501660189875e-01, -6.16824074097236719e-01, 2.23573944199737251e-01, 8.90789717905891343e-01, -7.17813749226980602e-01, 4.66822776021139640e-01, -1.72564694324724321e-01, -8.19288513994330003e-01, 1.08139184387510712e+00, -8.43554295566306123e-02, -4.92562132284406207e-01, 6.14754978304981381e-01, 1.08336304065042621e+00, -9.32327578807822133e-01, 1.17700782201290166e+00, 1.66006551230740901e-01, -1.57704819727506540e+00, 3.06004222487316790e-01, -4.66156345447675313e-01, 4.14785299957245557e-01, 3.46179073683524019e-01, -9.78488470642654568e-02, 2.35586510588034259e-01, -1.48848134497027662e-01, -1.68183259154730341e-01, -1.17781186899827395e+00, -5.65540928101341600e-01, 2.02069266715855100e+00, -7.49163607214768157e-01, -3.55488888537452086e-01, 1.36575895363987265e+00, 4.88626061866227479e-02, -7.76822464600315010e-01, -1.38306986899284978e+00, -3.04444600332499760e-01, 1.05075982625030684e+00, -2.36359345821202438e-01, -6.19149311251617096e-01, -7.64020035645500695e-02, 6.68293217083544500e-01, 9.97884946027614350e-01, -1.17791631806477137e+00, -8.75483809873413232e-01, 1.05887628479275198e+00, 1.22733408674267949e-01, 1.03000975481218426e+00, -1.99486412013942876e-01, -4.81042824268498981e-01, -5.27894416708250214e-01, -6.10380177656212108e-01, 5.00638120758424954e-01, -5.02671388256036744e-01, 1.29155997883813001e+00, -9.04562117171389790e-01, 5.63457219114303021e-01, 1.88291175513760578e+00, -1.07365319495488512e-01, -1.07408958986973491e+00, -1.34482962970838105e+00, 4.58694521435427660e-02, 4.87034063822110619e-01, -5.44912984763889718e-01, -4.73255174801600828e-02, -1.49393509496347043e+00, -8.35614830745067261e-01, 1.33316735036528544e+00, 5.11672307987405928e-01, 1.13029666476102442e+00, 1.38431129499856498e+00, 1.49957006734589271e+00, -2.06725532421941249e+00, -2.11520322019272378e+00, 2.40947809278219405e-01, 9.88028980059200146e-01, 3.63315394654726231e-01, -8.17148301543778599e-01, 7.14193544911277123e-02, 7.47094348384708118e-01, 1.34911445159966648e+00, -2.28812213478117032e-01, 7.32418606103829584e-02, -1.21726141045177205e+00, -1.61244214358097659e+00, 2.10270745991978564e-01, 2.06482767659383093e+00, -2.29303245112614018e-01, -1.68826197290191615e+00, -1.03609672032702083e+00, -1.84357154435712198e-02, 9.95628976748589301e-01, 3.63879904230683726e-01, 3.31477459322848333e-01];
        pub const M2_UW: [f64; 48] = [2.10618517955944995e-02, 2.14434362477553542e-01, 1.02584858831822912e+00, -1.26486630714822890e+00, 4.74358664726338752e-01, 4.23927546259521351e-02, -5.39990566519562232e-01, 1.87440699668954269e-01, -6.16593777945014798e-01, 1.03933889735437468e+00, -2.39541582724535207e+00, 2.11916724818000146e+00, 1.32544412812752510e+00, -6.98175217306270079e-01, -7.88076841643803094e-01, 6.15013636143800779e-01, -5.62487808245632381e-01, 8.17258345319510915e-01, -6.59025345861190825e-02, -3.20733989300781341e-01, 4.69764988504719594e-01, 6.45068799537828697e-01, -3.77341874238013186e-01, -6.66948202428878756e-01, 9.17886648161163499e-01, 5.23305985807365981e-01, -1.82740330658551375e+00, 1.61807547956269504e-01, 1.18142752167400711e+00, -9.82685925886828682e-02, -1.46745234943222047e+00, 8.15102744143477720e-01, -6.33595696061946434e-01, 7.10081278949778461e-03, 1.75307357343977843e+00, -1.34228987688041235e+00, -8.74115929814709425e-01, 1.10098016152275435e+00, -3.82354275485503825e-01, 3.76837723757324161e-01, -1.18415460832126507e+00, 8.11765928170310791e-01, 2.77531742868706077e-01, 2.03562367464547811e-01, -3.44906974475398198e-01, -3.04680666621144902e-01, 9.56715530228662958e-01, -6.51142157770752683e-01];
        pub const M2_BREAD: [f64; 4] = [2.69177566409175666e-02, -9.41771441863401655e-04, -9.41771441863401655e-04, 2.29031834973019779e-02];
        pub const M2_IID_V: [f64; 4] = [3.20459419718090929e-02, -1.12119124112984689e-03, -1.12119124112984689e-03, 2.72665400432573306e-02];
        pub const M2_IID_DF: (usize, usize) = (14, 34);
        pub const M2_HET_V: [f64; 4] = [3.70349326443457916e-02, -2.58480226578648459e-03, -2.58480226578648459e-03, 2.23904011147543942e-02];
        pub const M2_HET_DF: (usize, usize) = (14, 34);
        pub const M2_CU_V: [f64; 4] = [2.81053099866499130e-02, 9.01702923347858475e-03, 9.01702923347858475e-03, 2.05542103732213148e-02];
        pub const M2_CU_DF: (usize, usize) = (3, 11);
        pub const M2_CR_V: [f64; 4] = [1.85544903909080697e-02, 1.00979476165066213e-02, 1.00979476165066213e-02, 2.53917595126001254e-02];
        pub const M2_CR_DF: (usize, usize) = (3, 3);
        pub const M2_CY_V: [f64; 4] = [2.53735257737611568e-02, 1.99309455913630230e-02, 1.99309455913630230e-02, 3.65741333649285544e-02];
        pub const M2_CY_DF: (usize, usize) = (14, 3);
        pub const M2_CC_V: [f64; 4] = [3.04247676851532450e-02, -4.36344635393553539e-03, -4.36344635393553539e-03, 2.83113125520838629e-02];
        pub const M2_CC_DF: (usize, usize) = (14, 5);
        pub const M2_CUY_V: [f64; 4] = [1.69900536759172299e-02, 2.86294501894091002e-02, 2.86294501894091002e-02, 3.06692683927612605e-02];
        pub const M2_CUY_DF: (usize, usize) = (3, 3);
        pub const M2_CCU_V: [f64; 4] = [2.18210766841851270e-02, 7.88638427826281359e-03, 7.88638427826281359e-03, 2.14420064857876493e-02];
        pub const M2_CCU_DF: (usize, usize) = (3, 5);
        pub const M2_CCY_V: [f64; 4] = [1.76490123567835805e-03, 2.07405584995399954e-02, 2.07405584995399954e-02, 3.60188485384239920e-02];
        pub const M2_CCY_DF: (usize, usize) = (14, 3);
    }
    use refdata::*;
}

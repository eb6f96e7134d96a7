//! LeSage–Pace direct, indirect and total effects of SAR / SDM models, with inference by
//! simulation from the estimated parameter distribution and by the delta method.
//!
//! For regressor k, S_k(W) = (I − ρW)⁻¹(β_k I + θ_k W). Direct = tr(S_k)/N, total = ι'S_kι/N,
//! indirect = total − direct. Traces come from W's eigenvalues, tr((I−ρW)⁻¹) = Σ 1/(1−ρλ) and
//! tr(W(I−ρW)⁻¹) = Σ λ/(1−ρλ); totals from (I−ρW)x = ι (closed form 1/(1−ρ) when W is
//! row-standardised, so non-row-standardised W is handled correctly).

// Index loops mirror the matrix formulas they implement.
#![allow(clippy::needless_range_loop)]

use faer::{Mat, Side};
use rayon::prelude::*;

use super::likelihood::dense_g;
use super::spec::{SpatialFit, TraceSource, MAX_DENSE_UNITS};
use super::weights::Weights;
use crate::error::{Error, Result};
use crate::linalg::quantile_type7;

#[derive(Debug, Clone)]
pub struct Impacts {
    pub names: Vec<String>,
    pub direct: Vec<f64>,
    pub indirect: Vec<f64>,
    pub total: Vec<f64>,
    /// Delta-method standard errors.
    pub delta_se: [Vec<f64>; 3],
    /// Simulation: mean, sd, 2.5% and 97.5% quantiles for [direct, indirect, total].
    pub sim_mean: [Vec<f64>; 3],
    pub sim_sd: [Vec<f64>; 3],
    pub sim_lo: [Vec<f64>; 3],
    pub sim_hi: [Vec<f64>; 3],
    pub draws: usize,
    /// Parameter draws rejected (and redrawn) because ρ fell outside its admissible interval.
    pub rejected: usize,
}

/// Per-unit effects at the point estimate: rows = units, for each regressor.
#[derive(Debug, Clone)]
pub struct UnitImpacts {
    pub names: Vec<String>,
    /// [variable][unit].
    pub direct: Vec<Vec<f64>>,
    pub indirect: Vec<Vec<f64>>,
    pub total: Vec<Vec<f64>>,
}

/// Direct, indirect and total effects, one entry per regressor.
type Triple = (Vec<f64>, Vec<f64>, Vec<f64>);

struct Layout {
    /// (position of β_k in coef, position of θ_k in coef if any) per regressor.
    vars: Vec<(usize, Option<usize>)>,
    rho_pos: usize,
}

fn layout(fit: &SpatialFit) -> Layout {
    let vars = (0..fit.k_x)
        .map(|k| {
            let th = fit.durbin.iter().position(|&d| d == k).map(|p| fit.k_x + p);
            (k, th)
        })
        .collect();
    // [β; θ; ρ; σ²], or [β; ρ; λ; σ²] for SAC.
    let back = if fit.kind.is_sac() { 3 } else { 2 };
    Layout {
        vars,
        rho_pos: fit.coef.len() - back,
    }
}

/// (1/N) ι'(I−ρW)⁻¹ι and (1/N) ι'(I−ρW)⁻¹Wι.
fn total_multipliers(w: &Weights, row_std: bool, rho: f64) -> Result<(f64, f64)> {
    if row_std && w.islands().is_empty() {
        let m = 1.0 / (1.0 - rho);
        return Ok((m, m));
    }
    let n = w.n;
    // x = ι + ρ W' x  =>  x = (I − ρW')⁻¹ι; then ι'Aι = x'ι and ι'AWι = x'Wι.
    let ones = vec![1.0; n];
    let mut x = ones.clone();
    let cancel = crate::interrupt::Cancel::current();
    for it in 0..10_000 {
        cancel.check()?;
        let wx = w.matvec_t(&x);
        let nx: Vec<f64> = wx.iter().map(|v| 1.0 + rho * v).collect();
        let diff = nx
            .iter()
            .zip(&x)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        x = nx;
        if diff < 1e-13 * x.iter().fold(1.0f64, |m, v| m.max(v.abs())) {
            break;
        }
        if it == 9_999 || !diff.is_finite() {
            return Err(Error::Numerical(format!(
                "total effects: (I - rho W)^-1 iota did not converge at rho = {rho}"
            )));
        }
    }
    let wi = w.matvec(&ones);
    let s1 = x.iter().sum::<f64>() / n as f64;
    let s2 = x.iter().zip(&wi).map(|(a, b)| a * b).sum::<f64>() / n as f64;
    Ok((s1, s2))
}

fn point(fit: &SpatialFit, w: &Weights, lay: &Layout, p: &[f64]) -> Result<Triple> {
    // Error models: no spatial multiplier, S_k = β_k I + θ_k W.
    let rho = if fit.kind.is_lag() {
        p[lay.rho_pos]
    } else {
        0.0
    };
    let n = fit.n_units as f64;
    let ta = fit.traces.trace_a(rho) / n;
    let tg = fit.traces.trace_g(rho) / n;
    let (sa, sg) = match &fit.traces {
        // Time-varying W: the period average of the per-period totals.
        TraceSource::Periods(parts) => {
            let (mut sa, mut sg) = (0.0, 0.0);
            for q in parts {
                let (a, g) = total_multipliers(&q.w, fit.w_row_standardised, rho)?;
                sa += q.share * a;
                sg += q.share * g;
            }
            (sa, sg)
        }
        _ => total_multipliers(w, fit.w_row_standardised, rho)?,
    };
    let mut d = Vec::new();
    let mut ind = Vec::new();
    let mut tot = Vec::new();
    for &(b, th) in &lay.vars {
        let beta = p[b];
        let theta = th.map(|q| p[q]).unwrap_or(0.0);
        let dir = beta * ta + theta * tg;
        let t = beta * sa + theta * sg;
        d.push(dir);
        ind.push(t - dir);
        tot.push(t);
    }
    Ok((d, ind, tot))
}

/// Effects of a fitted SAR / SDM, `draws` simulated parameter vectors (seeded; draw b uses
/// ChaCha8 stream b, so results do not depend on the thread count). `draws = 0` skips
/// the simulation.
pub fn impacts(fit: &SpatialFit, w: &Weights, draws: usize, seed: u64) -> Result<Impacts> {
    let lay = layout(fit);
    let (direct, indirect, total) = point(fit, w, &lay, &fit.coef)?;
    let p = fit.coef.len();
    // Parameters that matter: β, θ, ρ (all but σ²).
    let idx: Vec<usize> = (0..p - 1).collect();
    let m = idx.len();
    let v = |a: usize, b: usize| fit.vcov[idx[a] * p + idx[b]];
    // Delta method with central differences.
    let kx = lay.vars.len();
    let mut grads = vec![vec![vec![0.0; m]; kx]; 3];
    for a in 0..m {
        let h = 1e-6 * fit.coef[idx[a]].abs().max(1e-2);
        let mut up = fit.coef.clone();
        let mut dn = fit.coef.clone();
        up[idx[a]] += h;
        dn[idx[a]] -= h;
        let pu = point(fit, w, &lay, &up)?;
        let pd = point(fit, w, &lay, &dn)?;
        for k in 0..kx {
            grads[0][k][a] = (pu.0[k] - pd.0[k]) / (2.0 * h);
            grads[1][k][a] = (pu.1[k] - pd.1[k]) / (2.0 * h);
            grads[2][k][a] = (pu.2[k] - pd.2[k]) / (2.0 * h);
        }
    }
    let delta = |e: usize| -> Vec<f64> {
        (0..kx)
            .map(|k| {
                let g = &grads[e][k];
                let mut s = 0.0;
                for a in 0..m {
                    for b in 0..m {
                        s += g[a] * v(a, b) * g[b];
                    }
                }
                s.max(0.0).sqrt()
            })
            .collect()
    };
    let delta_se = [delta(0), delta(1), delta(2)];

    let empty = || [vec![f64::NAN; kx], vec![f64::NAN; kx], vec![f64::NAN; kx]];
    let (mut sim_mean, mut sim_sd, mut sim_lo, mut sim_hi) = (empty(), empty(), empty(), empty());
    let mut rejected = 0;
    if draws > 0 {
        let vm = Mat::from_fn(m, m, v);
        let l = match vm.llt(Side::Lower) {
            Ok(llt) => {
                let lm = llt.L();
                Mat::from_fn(m, m, |a, b| lm[(a, b)])
            }
            Err(_) => {
                // Positive semi-definite fallback: symmetric square root.
                let e = vm
                    .self_adjoint_eigen(Side::Lower)
                    .map_err(|e| Error::Numerical(format!("vcov eigen: {e:?}")))?;
                let u = e.U();
                let s = e.S();
                Mat::from_fn(m, m, |a, b| u[(a, b)] * s[b].max(0.0).sqrt())
            }
        };
        let (lo_b, hi_b) = fit.rho_bounds;
        let streams = crate::rng::Streams::new(seed);
        // Draws of ρ outside (lo, hi) make (I − ρW) singular or non-invertible by a
        // Neumann series, and clamping them to the bound gives effects that explode; as
        // spdep's impacts(), such draws are rejected: draw b keeps drawing from its own
        // stream until ρ is admissible (a truncated normal), and the rejections are counted.
        const MAX_TRIES: usize = 1000;
        // `draws` is the user's: the draw storage is checked before, and every draw checks
        // for cancellation; the first failure (in draw order) stops the rest.
        crate::alloc::ensure::<(Triple, usize)>(draws, 1, "simulated effects draws")?;
        let cancel = crate::interrupt::Cancel::current();
        let out: Vec<(Triple, usize)> = (0..draws)
            .into_par_iter()
            .map(|b| {
                cancel.check()?;
                let mut rng = streams.stream(b as u64);
                for tries in 0..MAX_TRIES {
                    let zs: Vec<f64> = (0..m)
                        .map(|_| crate::rng::standard_normal(&mut rng))
                        .collect();
                    let mut pd = fit.coef.clone();
                    for a in 0..m {
                        pd[idx[a]] += (0..=a).map(|c| l[(a, c)] * zs[c]).sum::<f64>();
                    }
                    let r = pd[lay.rho_pos];
                    if fit.kind.is_lag() && !(r > lo_b && r < hi_b) {
                        continue;
                    }
                    return point(fit, w, &lay, &pd).map(|t| (t, tries));
                }
                Err(Error::Numerical(format!(
                    "simulated effects: {MAX_TRIES} successive draws of rho fell outside its \
                     interval ({lo_b:.4}, {hi_b:.4}); rho = {:.4} is too close to the bound for \
                     simulation (use the delta-method standard errors)",
                    fit.coef[lay.rho_pos]
                )))
            })
            .collect::<Result<_>>()?;
        rejected = out.iter().map(|o| o.1).sum();
        let out: Vec<Triple> = out.into_iter().map(|o| o.0).collect();
        for e in 0..3 {
            for k in 0..kx {
                let mut vals: Vec<f64> = out
                    .iter()
                    .map(|o| match e {
                        0 => o.0[k],
                        1 => o.1[k],
                        _ => o.2[k],
                    })
                    .collect();
                let mean = vals.iter().sum::<f64>() / draws as f64;
                let var = if draws > 1 {
                    vals.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (draws - 1) as f64
                } else {
                    f64::NAN
                };
                vals.sort_by(|a, b| a.total_cmp(b));
                sim_mean[e][k] = mean;
                sim_sd[e][k] = var.sqrt();
                sim_lo[e][k] = quantile_type7(&vals, 0.025);
                sim_hi[e][k] = quantile_type7(&vals, 0.975);
            }
        }
    }
    Ok(Impacts {
        names: lay
            .vars
            .iter()
            .map(|&(b, _)| fit.names[b].clone())
            .collect(),
        direct,
        indirect,
        total,
        delta_se,
        sim_mean,
        sim_sd,
        sim_lo,
        sim_hi,
        draws,
        rejected,
    })
}

/// Units up to which the per-unit effects use the dense (I − ρW)⁻¹ (as `method="auto"` does
/// for the fit); above, the sparse factorisation (no N×N matrix).
pub const UNIT_IMPACTS_DENSE_MAX: usize = super::spec::AUTO_DENSE_MAX;

/// Columns solved per block on the sparse path: a block is n × 64 doubles per thread.
const SOLVE_BLOCK: usize = 64;

/// diag(G) and G ι for G = W(I − ρW)⁻¹ = (I − ρW)⁻¹W, without an N×N matrix.
///
/// Exact up to rounding (no series or Monte Carlo): one sparse factorisation of I − ρW
/// (Cholesky of I − ρS when W is similar to a symmetric matrix, LU otherwise, as the sparse
/// likelihood), then G e_j = (I − ρW)⁻¹ (W e_j) for every column j of W, solved in blocks of
/// [`SOLVE_BLOCK`] right-hand sides in parallel (each block checks for cancellation; the
/// result does not depend on the thread count), and G ι = (I − ρW)⁻¹ (W ι). The diagonal of
/// A = (I − ρW)⁻¹ is then 1 + ρ G_ii, with no cancellation at small ρ. Cost: N solves with
/// the factor, memory O(nnz of the factor + 64 N per thread).
pub fn unit_multipliers_sparse(w: &Weights, rho: f64) -> Result<(Vec<f64>, Vec<f64>)> {
    use super::sparse::SparseLogdet;
    let n = w.n;
    let ld = SparseLogdet::new(w)?;
    let f = ld.factor(rho).ok_or_else(|| {
        Error::Numerical(format!(
            "per-unit effects: I - rho W cannot be factorised at rho = {rho} (singular, or \
             rho outside its admissible interval)"
        ))
    })?;
    // Columns of W (W' in CSR): column j holds (row k, w_kj).
    let mut cptr = vec![0usize; n + 1];
    for &j in &w.indices {
        cptr[j + 1] += 1;
    }
    for j in 0..n {
        cptr[j + 1] += cptr[j];
    }
    let mut fill = cptr.clone();
    let mut crow = vec![0usize; w.nnz()];
    let mut cval = vec![0.0; w.nnz()];
    for i in 0..n {
        for p in w.indptr[i]..w.indptr[i + 1] {
            let j = w.indices[p];
            crow[fill[j]] = i;
            cval[fill[j]] = w.data[p];
            fill[j] += 1;
        }
    }
    crate::alloc::ensure::<f64>(
        n,
        SOLVE_BLOCK * rayon::current_num_threads().max(1),
        "per-unit effects solve blocks",
    )?;
    let cancel = crate::interrupt::Cancel::current();
    let blocks: Vec<Vec<f64>> = (0..n.div_ceil(SOLVE_BLOCK))
        .into_par_iter()
        .map(|b| {
            cancel.check()?;
            let (lo, hi) = (b * SOLVE_BLOCK, ((b + 1) * SOLVE_BLOCK).min(n));
            let k = hi - lo;
            let mut rhs = vec![0.0; n * k];
            for (c, j) in (lo..hi).enumerate() {
                for q in cptr[j]..cptr[j + 1] {
                    rhs[c * n + crow[q]] += cval[q];
                }
            }
            f.solve(&mut rhs, k);
            Ok((lo..hi).enumerate().map(|(c, j)| rhs[c * n + j]).collect())
        })
        .collect::<Result<_>>()?;
    let gd: Vec<f64> = blocks.into_iter().flatten().collect();
    let mut gr = w.row_sums();
    f.solve(&mut gr, 1);
    if gd.iter().chain(&gr).any(|v| !v.is_finite()) {
        return Err(Error::Numerical(format!(
            "I - rho W is singular at rho = {rho}"
        )));
    }
    Ok((gd, gr))
}

/// diag(G) and G ι from the dense G (exact; N ≤ [`MAX_DENSE_UNITS`]).
fn unit_multipliers_dense(w: &Weights, rho: f64) -> Result<(Vec<f64>, Vec<f64>)> {
    let n = w.n;
    let g = dense_g(w, rho)?;
    let gd: Vec<f64> = (0..n).map(|i| g[i * n + i]).collect();
    let gr: Vec<f64> = (0..n).map(|i| g[i * n..(i + 1) * n].iter().sum()).collect();
    Ok((gd, gr))
}

/// Per-unit effects at the point estimate: direct_i = (S_k)_ii, total_i = Σ_j (S_k)_ij
/// (the effect on unit i of raising x_k everywhere), indirect_i = total_i − direct_i.
/// Dense (I − ρW)⁻¹ up to [`UNIT_IMPACTS_DENSE_MAX`] units, sparse solves above
/// ([`unit_multipliers_sparse`]); both exact.
pub fn unit_impacts(fit: &SpatialFit, w: &Weights) -> Result<UnitImpacts> {
    unit_impacts_with(fit, w, w.n > UNIT_IMPACTS_DENSE_MAX)
}

/// [`unit_impacts`] with the path chosen (`sparse`), for tests that compare the two.
pub fn unit_impacts_with(fit: &SpatialFit, w: &Weights, sparse: bool) -> Result<UnitImpacts> {
    let lay = layout(fit);
    let n = w.n;
    if matches!(fit.traces, TraceSource::Periods(_)) {
        return Err(Error::Option {
            name: "unit_impacts".into(),
            reason: "per-unit effects with a time-varying W differ by period; use the \
                     period-averaged effects, impacts()"
                .into(),
        });
    }
    let rho = if fit.kind.is_lag() {
        fit.coef[lay.rho_pos]
    } else {
        0.0
    };
    if !sparse && n > MAX_DENSE_UNITS {
        return Err(Error::Option {
            name: "unit_impacts".into(),
            reason: format!(
                "the dense per-unit effects need the N x N matrix (I - rho W)^-1: {n} units is \
                 more than {MAX_DENSE_UNITS} (the sparse path has no such limit)"
            ),
        });
    }
    // A = (I − ρW)⁻¹ = I + ρG.
    let (gd, gr) = if sparse {
        unit_multipliers_sparse(w, rho)?
    } else {
        unit_multipliers_dense(w, rho)?
    };
    let mut out = UnitImpacts {
        names: Vec::new(),
        direct: Vec::new(),
        indirect: Vec::new(),
        total: Vec::new(),
    };
    for &(b, th) in &lay.vars {
        let beta = fit.coef[b];
        let theta = th.map(|q| fit.coef[q]).unwrap_or(0.0);
        let d: Vec<f64> = (0..n)
            .map(|i| beta * (1.0 + rho * gd[i]) + theta * gd[i])
            .collect();
        let t: Vec<f64> = (0..n)
            .map(|i| beta * (1.0 + rho * gr[i]) + theta * gr[i])
            .collect();
        out.names.push(fit.names[b].clone());
        out.indirect
            .push(t.iter().zip(&d).map(|(a, b)| a - b).collect());
        out.direct.push(d);
        out.total.push(t);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dense G = W (I − ρW)⁻¹ (the existing exact path) as the oracle for the sparse solves,
    /// on a symmetrisable W (Cholesky path) and a non-symmetric kNN W (LU path), ρ of both
    /// signs: diag(G) and G ι to 1e-10.
    #[test]
    fn sparse_unit_multipliers_equal_dense() {
        let n = 150;
        let lat: Vec<f64> = (0..n)
            .map(|i| 30.0 + ((i * 37) % 101) as f64 * 0.031 + i as f64 * 1e-4)
            .collect();
        let lon: Vec<f64> = (0..n)
            .map(|i| 115.0 + ((i * 53) % 97) as f64 * 0.043)
            .collect();
        let knn = super::super::weights::knn(&lat, &lon, 5, super::super::weights::EARTH_RADIUS_KM)
            .unwrap()
            .row_standardise(false)
            .unwrap();
        let band = super::super::weights::distance_band(
            &lat,
            &lon,
            60.0,
            super::super::weights::EARTH_RADIUS_KM,
        )
        .unwrap()
        .row_standardise(true)
        .unwrap();
        for w in [&knn, &band] {
            for rho in [-0.4, 0.0, 0.35, 0.8] {
                let (sd, sr) = unit_multipliers_sparse(w, rho).unwrap();
                let (dd, dr) = unit_multipliers_dense(w, rho).unwrap();
                for i in 0..n {
                    assert!((sd[i] - dd[i]).abs() < 1e-10, "diag {i} rho {rho}");
                    assert!((sr[i] - dr[i]).abs() < 1e-10, "row {i} rho {rho}");
                }
            }
        }
    }
}

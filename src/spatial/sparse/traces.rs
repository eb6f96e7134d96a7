//! Traces on the sparse path: tr(G), tr(GG) from the log-determinant's derivatives,
//! tr(G'G) with a Hutchinson estimate of the antisymmetric part, the SAC traces, G·v per
//! period, and the anchored tr(W^k) series of the effects.

// Index loops mirror the matrix formulas they implement.
#![allow(clippy::needless_range_loop)]

use rayon::prelude::*;

use super::factor::SparseLogdet;
use super::rademacher;
use crate::error::{Error, Result};
use crate::spatial::weights::Weights;

/// Number of Rademacher probes for ‖G_a‖²_F.
pub const ANTISYM_PROBES: usize = 64;
/// Number of Rademacher probes and the order of the tr(W^k) series of the effects.
pub const SERIES_PROBES: usize = 32;
pub const SERIES_ORDER: usize = 120;
/// Step of the finite differences of ln|I − ρW|.
const FD_STEP: f64 = 1e-3;

/// tr(G), tr(GG) at ρ by five-point differences of the exact log-determinant.
pub fn trace_g_gg(ld: &SparseLogdet, rho: f64, bounds: (f64, f64)) -> Result<(f64, f64)> {
    let room = (rho - bounds.0).min(bounds.1 - rho);
    let h = FD_STEP.min(room / 4.0);
    if h <= 0.0 {
        return Err(Error::Numerical(format!(
            "rho = {rho} is on the bound of its interval"
        )));
    }
    let f = |r: f64| {
        ld.logdet(r).ok_or_else(|| {
            Error::Numerical(format!("I - rho W is not positive definite at rho = {r}"))
        })
    };
    let (fm2, fm1, f0, fp1, fp2) = (
        f(rho - 2.0 * h)?,
        f(rho - h)?,
        f(rho)?,
        f(rho + h)?,
        f(rho + 2.0 * h)?,
    );
    let d1 = (-fp2 + 8.0 * fp1 - 8.0 * fm1 + fm2) / (12.0 * h);
    let d2 = (-fp2 + 16.0 * fp1 - 30.0 * f0 + 16.0 * fm1 - fm2) / (12.0 * h * h);
    Ok((-d1, -d2))
}

/// The traces the information matrix needs at ρ: tr(G*), tr(G*G*), tr(G*'G*), with
/// G* = QGQ (Q = I − ιι'/N) when `project` (Lee–Yu time transformation, row-standardised
/// W so that Gι = ι/(1−ρ)), else G. Also the standard error of the Hutchinson part.
pub struct InfoTraces {
    pub tr_g: f64,
    pub tr_gg: f64,
    pub tr_gtg: f64,
    pub tr_gtg_se: f64,
    /// Unprojected tr(G), tr(GG) (the anchor of the effects series).
    pub raw_g: f64,
    pub raw_gg: f64,
}

pub fn info_traces(
    w: &Weights,
    ld: &SparseLogdet,
    rho: f64,
    bounds: (f64, f64),
    project: bool,
    seed: u64,
) -> Result<InfoTraces> {
    let n = w.n;
    let (tg, tgg) = trace_g_gg(ld, rho, bounds)?;
    let fac = ld.factor(rho).ok_or_else(|| {
        Error::Numerical(format!("I - rho W is not positive definite at rho = {rho}"))
    })?;
    // Hutchinson on ‖G_a u‖², G u = W (I−ρW)⁻¹ u, G' u = (I−ρW')⁻¹ W' u.
    let p = ANTISYM_PROBES;
    let probes: Vec<Vec<f64>> = (0..p)
        .into_par_iter()
        .map(|b| rademacher(n, seed, b as u64))
        .collect();
    let mut a = vec![0.0; n * p];
    let mut bt = vec![0.0; n * p];
    for (c, u) in probes.iter().enumerate() {
        a[c * n..(c + 1) * n].copy_from_slice(u);
        bt[c * n..(c + 1) * n].copy_from_slice(&w.matvec_t(u));
    }
    fac.solve(&mut a, p);
    fac.solve_t(&mut bt, p);
    let vals: Vec<f64> = (0..p)
        .into_par_iter()
        .map(|c| {
            let gu = w.matvec(&a[c * n..(c + 1) * n]);
            gu.iter()
                .zip(&bt[c * n..(c + 1) * n])
                .map(|(x, y)| {
                    let d = 0.5 * (x - y);
                    d * d
                })
                .sum::<f64>()
        })
        .collect();
    let mean = vals.iter().sum::<f64>() / p as f64;
    let var = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (p - 1) as f64;
    let ga2 = mean;
    let se = 2.0 * (var / p as f64).sqrt();
    let mut gtg = tgg + 2.0 * ga2;
    let (mut tr_g, mut tr_gg) = (tg, tgg);
    if project {
        let c = 1.0 / (1.0 - rho);
        tr_g -= c;
        tr_gg -= c * c;
        // ‖QG‖² = ‖G‖² − ‖G'ι‖²/N, G'ι = (I−ρW')⁻¹W'ι.
        let mut v = w.matvec_t(&vec![1.0; n]);
        fac.solve_t(&mut v, 1);
        gtg -= v.iter().map(|x| x * x).sum::<f64>() / n as f64;
    }
    Ok(InfoTraces {
        tr_g,
        tr_gg,
        tr_gtg: gtg,
        tr_gtg_se: se,
        raw_g: tg,
        raw_gg: tgg,
    })
}

/// The traces of the SAC information matrix on the sparse path (see `super::sac`), with
/// G = WA⁻¹ (A = I − ρW), H = WB⁻¹ (B = I − λW), G̃ = BGB⁻¹, projected (Lee–Yu time
/// transformation, row-standardised W) when `project`:
/// tr(G), tr(GG), tr(G̃'G̃), tr(H), tr(HH), tr(H'H), tr(HG), tr(H'G̃).
/// Exact parts: tr(G), tr(GG), tr(H), tr(HH) from the log-determinant; tr(HG) =
/// (tr G(ρ) − tr G(λ))/(ρ − λ) (partial fractions; tr(G((ρ+λ)/2)²) when |ρ − λ| < 1e-4);
/// tr(G̃G̃) = tr(GG). Hutchinson (shared Rademacher probes, control variates): the
/// antisymmetric parts, tr(M'M) = tr(MM) + 2‖M_a‖², tr(H'G̃) = tr(HG) + 2E[(H_a u)'(G̃_a u)].
pub struct SacTraces {
    pub tr: [f64; 8],
    /// Largest Monte Carlo standard error among the estimated traces.
    pub se: f64,
    pub raw_g: f64,
    pub raw_gg: f64,
}

#[allow(clippy::too_many_arguments)]
pub fn sac_traces(
    w: &Weights,
    ld: &SparseLogdet,
    rho: f64,
    lam: f64,
    bounds: (f64, f64),
    project: bool,
    seed: u64,
) -> Result<SacTraces> {
    let n = w.n;
    let (tg, tgg) = trace_g_gg(ld, rho, bounds)?;
    let (th, thh) = trace_g_gg(ld, lam, bounds)?;
    let thg = if (rho - lam).abs() < 1e-4 {
        trace_g_gg(ld, 0.5 * (rho + lam), bounds)?.1
    } else {
        (tg - th) / (rho - lam)
    };
    let not_pd = |r: f64| Error::Numerical(format!("I - rho W is not positive definite at {r}"));
    let fa = ld.factor(rho).ok_or_else(|| not_pd(rho))?;
    let fb = ld.factor(lam).ok_or_else(|| not_pd(lam))?;
    let bmul = |v: &[f64]| -> Vec<f64> {
        let wv = w.matvec(v);
        v.iter().zip(&wv).map(|(a, b)| a - lam * b).collect()
    };
    let btmul = |v: &[f64]| -> Vec<f64> {
        let wv = w.matvec_t(v);
        v.iter().zip(&wv).map(|(a, b)| a - lam * b).collect()
    };
    let p = ANTISYM_PROBES;
    let probes: Vec<Vec<f64>> = (0..p)
        .into_par_iter()
        .map(|b| rademacher(n, seed, b as u64))
        .collect();
    // Column blocks: A⁻¹u (→ Gu), B⁻¹u (→ Hu), A⁻¹B⁻¹u (→ G̃u), and for the transposes
    // A⁻ᵀW'u (G'u), B⁻ᵀW'u (H'u), B⁻ᵀA⁻ᵀW'B'u (G̃'u).
    let mut a1 = vec![0.0; n * p];
    let mut b1 = vec![0.0; n * p];
    let mut at = vec![0.0; n * p];
    let mut bt = vec![0.0; n * p];
    let mut gtt = vec![0.0; n * p];
    for (c, u) in probes.iter().enumerate() {
        let r = c * n..(c + 1) * n;
        a1[r.clone()].copy_from_slice(u);
        b1[r.clone()].copy_from_slice(u);
        let wtu = w.matvec_t(u);
        at[r.clone()].copy_from_slice(&wtu);
        bt[r.clone()].copy_from_slice(&wtu);
        gtt[r].copy_from_slice(&w.matvec_t(&btmul(u)));
    }
    fa.solve(&mut a1, p);
    fb.solve(&mut b1, p);
    fa.solve_t(&mut at, p);
    fb.solve_t(&mut bt, p);
    fa.solve_t(&mut gtt, p);
    fb.solve_t(&mut gtt, p);
    // A⁻¹B⁻¹u = A⁻¹(B⁻¹u).
    let mut ab = b1.clone();
    fa.solve(&mut ab, p);
    let per: Vec<[f64; 4]> = (0..p)
        .into_par_iter()
        .map(|c| {
            let r = c * n..(c + 1) * n;
            let gu = w.matvec(&a1[r.clone()]);
            let hu = w.matvec(&b1[r.clone()]);
            let gtu = bmul(&w.matvec(&ab[r.clone()]));
            let ga: Vec<f64> = gu
                .iter()
                .zip(&at[r.clone()])
                .map(|(x, y)| 0.5 * (x - y))
                .collect();
            let ha: Vec<f64> = hu
                .iter()
                .zip(&bt[r.clone()])
                .map(|(x, y)| 0.5 * (x - y))
                .collect();
            let gta: Vec<f64> = gtu
                .iter()
                .zip(&gtt[r])
                .map(|(x, y)| 0.5 * (x - y))
                .collect();
            let d = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>();
            [d(&ga, &ga), d(&ha, &ha), d(&gta, &gta), d(&ha, &gta)]
        })
        .collect();
    let mut mean = [0.0; 4];
    let mut se: f64 = 0.0;
    for q in 0..4 {
        let m = per.iter().map(|v| v[q]).sum::<f64>() / p as f64;
        let var = per.iter().map(|v| (v[q] - m).powi(2)).sum::<f64>() / (p - 1) as f64;
        mean[q] = m;
        se = se.max(2.0 * (var / p as f64).sqrt());
    }
    let mut tr_g = tg;
    let mut tr_gg = tgg;
    let mut tr_gtgt = tgg + 2.0 * mean[2];
    let mut tr_h = th;
    let mut tr_hh = thh;
    let mut tr_hth = thh + 2.0 * mean[1];
    let mut tr_hg = thg;
    let mut tr_htgt = thg + 2.0 * mean[3];
    if project {
        // M ι = c_M ι: c_G = c_G̃ = 1/(1−ρ), c_H = 1/(1−λ).
        let (cg, ch) = (1.0 / (1.0 - rho), 1.0 / (1.0 - lam));
        tr_g -= cg;
        tr_h -= ch;
        tr_gg -= cg * cg;
        tr_hh -= ch * ch;
        tr_hg -= ch * cg;
        // ⟨QMQ, QNQ⟩ = ⟨M, N⟩ − (M'ι)'(N'ι)/N.
        let ones = vec![1.0; n];
        let mut g_i = w.matvec_t(&ones);
        fa.solve_t(&mut g_i, 1);
        let mut h_i = w.matvec_t(&ones);
        fb.solve_t(&mut h_i, 1);
        let mut gt_i = w.matvec_t(&btmul(&ones));
        fa.solve_t(&mut gt_i, 1);
        fb.solve_t(&mut gt_i, 1);
        let d = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>();
        tr_gtgt -= d(&gt_i, &gt_i) / n as f64;
        tr_hth -= d(&h_i, &h_i) / n as f64;
        tr_htgt -= d(&h_i, &gt_i) / n as f64;
    }
    Ok(SacTraces {
        tr: [tr_g, tr_gg, tr_gtgt, tr_h, tr_hh, tr_hth, tr_hg, tr_htgt],
        se,
        raw_g: tg,
        raw_gg: tgg,
    })
}

/// G v per period (v in time-major panel order, T blocks of N): W (I−ρW)⁻¹ v.
pub fn apply_g_panel(w: &Weights, ld: &SparseLogdet, rho: f64, v: &[f64]) -> Result<Vec<f64>> {
    let n = w.n;
    let t = v.len() / n;
    let fac = ld.factor(rho).ok_or_else(|| {
        Error::Numerical(format!("I - rho W is not positive definite at rho = {rho}"))
    })?;
    let mut b = v.to_vec();
    fac.solve(&mut b, t);
    let mut out = Vec::with_capacity(n * t);
    for s in 0..t {
        out.extend(w.matvec(&b[s * n..(s + 1) * n]));
    }
    Ok(out)
}

/// tr(W^k), k = 0..=order: exact for k ≤ 2, Hutchinson (Rademacher, `probes`, seeded, stream
/// p for probe p) for k ≥ 3.
pub fn power_traces(w: &Weights, order: usize, probes: usize, seed: u64) -> Vec<f64> {
    let n = w.n;
    let mut tr = vec![0.0; order + 1];
    tr[0] = n as f64;
    let per_probe: Vec<Vec<f64>> = (0..probes)
        .into_par_iter()
        .map(|b| {
            let u = rademacher(n, seed, b as u64);
            let mut v = u.clone();
            let mut out = vec![0.0; order + 1];
            for k in 1..=order {
                v = w.matvec(&v);
                out[k] = u.iter().zip(&v).map(|(a, b)| a * b).sum();
            }
            out
        })
        .collect();
    for k in 3..=order {
        tr[k] = per_probe.iter().map(|o| o[k]).sum::<f64>() / probes.max(1) as f64;
    }
    // Exact tr(W) and tr(W²) = Σ_ij w_ij w_ji.
    let entry = |j: usize, i: usize| -> f64 {
        let (a, b) = (w.indptr[j], w.indptr[j + 1]);
        match w.indices[a..b].binary_search(&i) {
            Ok(q) => w.data[a + q],
            Err(_) => 0.0,
        }
    };
    let mut t1 = 0.0;
    let mut t2 = 0.0;
    for i in 0..n {
        for p in w.indptr[i]..w.indptr[i + 1] {
            let j = w.indices[p];
            if j == i {
                t1 += w.data[p];
            }
            t2 += w.data[p] * entry(j, i);
        }
    }
    if order >= 1 {
        tr[1] = t1;
    }
    if order >= 2 {
        tr[2] = t2;
    }
    tr
}

/// tr(G(ρ)) for the effects of a sparse fit: the LeSage–Pace series anchored at ρ̂ (see the
/// module docs).
#[derive(Debug, Clone)]
pub struct SeriesTraces {
    pub n: usize,
    /// tr(W^k), k = 0..=order.
    pub tr_wk: Vec<f64>,
    pub rho_hat: f64,
    /// Exact tr(G(ρ̂)) and tr(G(ρ̂)²) = d tr(G)/dρ at ρ̂.
    pub tg_hat: f64,
    pub tgg_hat: f64,
    c0: f64,
    c1: f64,
}

impl SeriesTraces {
    pub fn new(tr_wk: Vec<f64>, n: usize, rho_hat: f64, tg_hat: f64, tgg_hat: f64) -> Self {
        let mut s = SeriesTraces {
            n,
            tr_wk,
            rho_hat,
            tg_hat,
            tgg_hat,
            c0: 0.0,
            c1: 0.0,
        };
        let (v, d) = s.series(rho_hat);
        s.c0 = tg_hat - v;
        s.c1 = tgg_hat - d;
        s
    }

    /// Series value Σ_{k<K} ρ^k tr(W^{k+1}) + tail, and its derivative in ρ.
    fn series(&self, rho: f64) -> (f64, f64) {
        let order = self.tr_wk.len() - 1;
        let mut v = 0.0;
        let mut d = 0.0;
        let mut pk = 1.0; // ρ^k
        let mut pk1 = 0.0; // ρ^(k−1)
        for k in 0..order {
            v += pk * self.tr_wk[k + 1];
            d += k as f64 * pk1 * self.tr_wk[k + 1];
            pk1 = pk;
            pk *= rho;
        }
        // Geometric tail with tr(W^k) ≈ tr(W^K) for k > K (slowly varying for large k).
        if rho.abs() < 1.0 {
            let last = self.tr_wk[order];
            v += last * pk / (1.0 - rho);
        }
        (v, d)
    }

    /// tr(G(ρ)) = tr(W(I − ρW)⁻¹).
    pub fn trace_g(&self, rho: f64) -> f64 {
        let (v, _) = self.series(rho);
        v + self.c0 + self.c1 * (rho - self.rho_hat)
    }

    /// tr((I − ρW)⁻¹) = N + ρ tr(G).
    pub fn trace_a(&self, rho: f64) -> f64 {
        self.n as f64 + rho * self.trace_g(rho)
    }
}

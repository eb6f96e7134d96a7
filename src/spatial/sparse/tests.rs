//! The sparse path against the dense one (eigenvalues, dense G and LU).

// Index loops mirror the matrix formulas they implement.
#![allow(clippy::needless_range_loop)]

use super::bounds::sparse_bounds;
use super::*;
use crate::spatial::likelihood::{dense_g, traces_for_tests};
use crate::spatial::logdet::symmetrising_scale;
use crate::spatial::logdet::Spectrum;
use crate::spatial::test_support::irregular_w;
use crate::spatial::weights::Weights;

/// Reference: W's eigenvalues (dense) and the dense G. The sparse Cholesky log-determinant
/// equals Σ ln(1 − ρλ) to 1e-10; tr(G), tr(GG) from its finite differences equal Σ λ/(1−ρλ)
/// and Σ (λ/(1−ρλ))² to 1e-7 relative; tr(G'G) (Hutchinson on the antisymmetric part) is
/// within 4 Monte Carlo standard errors of ‖G‖²_F, also after the Lee–Yu projection.
#[test]
fn sparse_logdet_and_traces_match_dense() {
    let n = 80;
    let w = irregular_w(n);
    let spec = Spectrum::of(&w).unwrap();
    let ld = SparseLogdet::new(&w).unwrap();
    let b = sparse_bounds(&w, &ld, true).unwrap();
    let (lo, hi) = spec.rho_bounds();
    assert!(
        b.0 >= lo * (1.0 + 1e-9) && b.0 <= lo * 0.99,
        "{b:?} vs {lo}"
    );
    assert!((b.1 - 1.0).abs() < 1e-12 && (hi - 1.0).abs() < 1e-9);
    for rho in [-0.5, 0.0, 0.4, 0.85] {
        let a = ld.logdet(rho).unwrap();
        assert!((a - spec.logdet(rho)).abs() < 1e-10, "{a}");
        let (tg, tgg) = trace_g_gg(&ld, rho, b).unwrap();
        let gl: Vec<f64> = spec.re.iter().map(|l| l / (1.0 - rho * l)).collect();
        let tgg_ref: f64 = gl.iter().map(|v| v * v).sum();
        assert!((tg - spec.trace_g(rho)).abs() < 1e-7 * tg.abs().max(1.0));
        assert!((tgg - tgg_ref).abs() < 1e-7 * tgg_ref.abs().max(1.0));
        let g = dense_g(&w, rho).unwrap();
        for project in [false, true] {
            let it = info_traces(&w, &ld, rho, b, project, 11).unwrap();
            let (rt, rgg, rgtg) = traces_for_tests(&g, n, project);
            assert!((it.tr_g - rt).abs() < 1e-7 * rt.abs().max(1.0));
            assert!((it.tr_gg - rgg).abs() < 1e-6 * rgg.abs().max(1.0));
            assert!(
                (it.tr_gtg - rgtg).abs() < 4.0 * it.tr_gtg_se + 1e-6 * rgtg,
                "rho {rho}: {} vs {rgtg} (se {})",
                it.tr_gtg,
                it.tr_gtg_se
            );
        }
    }
}

/// Monte Carlo check of the tr(W^k) estimator (spdep trW(type = "MC") analogue): with
/// 4,000 probes the estimates of tr(W^3..W^7) are within 4 standard errors (the
/// Rademacher variance 2 Σ_{i≠j} a_ij², a = sym(W^k)) of the exact dense traces; k = 1, 2
/// are exact; the anchored series equals the exact tr(G) at ρ̂ and is within 1e-3 of it at
/// ρ̂ ± 0.1.
#[test]
fn power_trace_estimator_and_anchored_series() {
    let n = 80;
    let w = irregular_w(n);
    let d = w.to_dense().unwrap();
    // exact[k] = tr(W^k), sds[k] = Rademacher s.d. of one probe, k = 1..=7.
    let mut p = d.clone();
    let mut exact = vec![n as f64];
    let mut sds = vec![0.0];
    for _k in 1..=7 {
        exact.push((0..n).map(|i| p[i * n + i]).sum());
        let mut v = 0.0;
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    let a = 0.5 * (p[i * n + j] + p[j * n + i]);
                    v += 2.0 * a * a;
                }
            }
        }
        sds.push(v.sqrt());
        let mut q = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                q[i * n + j] = (0..n).map(|l| p[i * n + l] * d[l * n + j]).sum();
            }
        }
        p = q;
    }
    let tw = power_traces(&w, 7, 4000, 3);
    assert_eq!(tw[1], 0.0);
    let tr2: f64 = (0..n)
        .map(|i| (0..n).map(|j| d[i * n + j] * d[j * n + i]).sum::<f64>())
        .sum();
    assert!((tw[2] - tr2).abs() < 1e-12);
    for k in 3..=7 {
        let se = sds[k] / (4000f64).sqrt();
        assert!(
            (tw[k] - exact[k]).abs() < 4.0 * se + 1e-9,
            "k {k}: {} vs {} (se {se})",
            tw[k],
            exact[k]
        );
    }
    let spec = Spectrum::of(&w).unwrap();
    let rho = 0.5;
    let gl: Vec<f64> = spec.re.iter().map(|l| l / (1.0 - rho * l)).collect();
    let tgg: f64 = gl.iter().map(|v| v * v).sum();
    let s = SeriesTraces::new(
        power_traces(&w, SERIES_ORDER, SERIES_PROBES, 1),
        n,
        rho,
        spec.trace_g(rho),
        tgg,
    );
    assert!((s.trace_g(rho) - spec.trace_g(rho)).abs() < 1e-9);
    for r in [0.4, 0.6] {
        assert!(
            (s.trace_g(r) - spec.trace_g(r)).abs() < 1e-3 * n as f64,
            "{r}"
        );
        assert!(
            (s.trace_a(r) - spec.trace_a(r)).abs() < 1e-3 * n as f64,
            "{r}"
        );
    }
}

/// LU path (W not similar to a symmetric matrix: a directed ring plus chords,
/// row-standardised): ln|I − ρW| equals the dense LU to 1e-10, solves with I − ρW and its
/// transpose invert it (residual < 1e-12), and tr(G), tr(GG) match the eigenvalues.
#[test]
fn lu_path_matches_dense() {
    let n = 50;
    let mut d = vec![0.0; n * n];
    for i in 0..n {
        d[i * n + (i + 1) % n] = 1.0;
        d[i * n + (i * 7 + 3) % n] += if (i * 7 + 3) % n != i { 1.0 } else { 0.0 };
    }
    let w = Weights::from_dense(&d, n)
        .unwrap()
        .row_standardise(false)
        .unwrap();
    assert!(symmetrising_scale(&w).is_none());
    let ld = SparseLogdet::new(&w).unwrap();
    assert!(ld.is_lu());
    let spec = Spectrum::of(&w).unwrap();
    let b = sparse_bounds(&w, &ld, true).unwrap();
    assert_eq!(b, (-1.0, 1.0));
    for rho in [-0.6, 0.2, 0.7] {
        let a = ld.logdet(rho).unwrap();
        let r = crate::spatial::logdet::logdet_exact_dense(&w, rho).unwrap();
        assert!((a - r).abs() < 1e-10, "{a} {r}");
        let f = ld.factor(rho).unwrap();
        let u: Vec<f64> = (0..n).map(|i| (i as f64).sin()).collect();
        let mut x = u.clone();
        f.solve(&mut x, 1);
        let wx = w.matvec(&x);
        let res = (0..n)
            .map(|i| (x[i] - rho * wx[i] - u[i]).abs())
            .fold(0.0, f64::max);
        assert!(res < 1e-12, "{res}");
        let mut y = u.clone();
        f.solve_t(&mut y, 1);
        let wty = w.matvec_t(&y);
        let res = (0..n)
            .map(|i| (y[i] - rho * wty[i] - u[i]).abs())
            .fold(0.0, f64::max);
        assert!(res < 1e-12, "{res}");
        let (tg, _) = trace_g_gg(&ld, rho, b).unwrap();
        assert!((tg - spec.trace_g(rho)).abs() < 1e-7 * tg.abs().max(1.0));
    }
}

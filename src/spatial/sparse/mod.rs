//! The sparse large-N path of the spatial likelihoods: exact ln|I − ρW| by a sparse Cholesky
//! factorisation per ρ, the traces of the information matrix, and the trace series of the
//! LeSage–Pace effects. Nothing N×N is ever formed.
//!
//! Method (and why). W must be similar to a symmetric matrix: W = D⁻¹C with C symmetric, the
//! case of row-standardised symmetric weights (contiguity, symmetrised kNN, distance bands,
//! inverse distance). Then S = D^{1/2} W D^{-1/2} is symmetric with W's eigenvalues, and for ρ
//! in the admissible interval I − ρS is symmetric positive definite, so
//! - ln|I − ρW| = ln|I − ρS| = 2 Σ ln L_ii from a sparse Cholesky factor (faer, AMD ordering;
//!   the symbolic analysis is done once, each ρ costs one numeric factorisation). This is
//!   *exact* up to rounding (no Chebyshev / Monte Carlo approximation in the likelihood), so ρ̂
//!   and β̂ equal the dense eigenvalue path to the optimiser's tolerance.
//! - tr(G) = −d/dρ ln|I − ρW| and tr(GG) = −d²/dρ² ln|I − ρW|, G = W(I − ρW)⁻¹, by
//!   five-point central differences of the exact log-determinant (step 1e-3: truncation
//!   O(h⁴) ≈ 1e-12 relative, rounding ≈ 1e-9 relative for N up to 10⁵).
//! - tr(G'G) = tr(GG) + 2‖G_a‖²_F with G_a = (G − G')/2 the antisymmetric part (zero when W
//!   is symmetric). ‖G_a‖²_F is estimated by Hutchinson's estimator with seeded Rademacher
//!   probes (probe p uses ChaCha8 stream p; the probes are solved as one block, so the result
//!   does not depend on the thread count). Because only the small antisymmetric part is
//!   random, the relative error of tr(G'G) is far below that of a plain Hutchinson estimate;
//!   its standard error is reported on the fit.
//! - The effects need tr(G(ρ)) at many ρ (delta method, simulation draws): the LeSage–Pace
//!   power series tr(G(ρ)) = Σ_k ρ^k tr(W^{k+1}) with tr(W), tr(W²) exact and tr(W^k),
//!   k ≥ 3, by Hutchinson (as spdep's `trW(type = "MC")`), plus a geometric tail, *anchored*
//!   at ρ̂: the exact tr(G(ρ̂)) and its exact derivative tr(GG)(ρ̂) replace the series' value
//!   and slope there, so the point effects and the delta method are exact and the Monte Carlo
//!   error only enters the curvature seen by the simulation draws.
//! - The admissible interval: 1/λ_min and 1/λ_max from a Lanczos run on S (λ_max = 1 for a
//!   row-standardised W without islands), moved inwards until I − ρS factorises.
//!
//! A W that is not similar to a symmetric matrix (e.g. a non-symmetrised kNN graph) takes a
//! sparse LU with partial pivoting of I − ρW instead (faer's simplicial LU, AMD column
//! ordering of W + W'): ln|I − ρW| = Σ ln|U_jj|, exact; solves with I − ρW and its transpose
//! give the same Hutchinson estimators; the ρ interval is (−1/r, 1/r), r the spectral radius
//! (−1, 1) for row-standardised W), narrower than the dense path's (1/λ_min, 1/λ_max) over
//! the real eigenvalues when λ_min > −1.
//!
//! Files: [`factor`] (the symbolic analysis, numeric factorisations, log-determinants and
//! solves), [`bounds`] (the admissible ρ interval by Lanczos), [`traces`] (the traces of the
//! information matrix and of the effects' series).

mod bounds;
mod factor;
#[cfg(test)]
mod tests;
mod traces;

pub use bounds::sparse_bounds;
pub use factor::{Factor, SparseLogdet};
pub use traces::{
    apply_g_panel, info_traces, power_traces, sac_traces, trace_g_gg, InfoTraces, SacTraces,
    SeriesTraces, ANTISYM_PROBES, SERIES_ORDER, SERIES_PROBES,
};

/// `n` Rademacher values from stream `stream` of `seed` (the Hutchinson probes and the Lanczos
/// start vector).
pub(super) fn rademacher(n: usize, seed: u64, stream: u64) -> Vec<f64> {
    crate::rng::rademacher_bool(&mut crate::rng::stream(seed, stream), n)
}

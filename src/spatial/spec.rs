//! The vocabulary of the spatial panel models: what is fitted (kind, fixed effects, method,
//! search), the input, and the fit every model returns. No computation.

use super::identification::SpatialInterval;
use super::logdet::Spectrum;
use super::sparse::SeriesTraces;
use super::weights::Weights;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpatialKind {
    Sar,
    Sdm,
    /// Spatial error: y = Xβ + u, u = λWu + ε.
    Sem,
    /// Spatial Durbin error: y = Xβ + WXθ + u, u = λWu + ε.
    Sdem,
    /// SAC / SARAR: y = ρWy + Xβ + u, u = λWu + ε.
    Sac,
    /// General nesting spatial model (SAC with Durbin terms): y = ρWy + Xβ + WXθ + u,
    /// u = λMu + ε.
    Gns,
}

impl SpatialKind {
    /// Whether the spatial parameter multiplies Wy (lag models) rather than Wu.
    pub fn is_lag(self) -> bool {
        matches!(
            self,
            SpatialKind::Sar | SpatialKind::Sdm | SpatialKind::Sac | SpatialKind::Gns
        )
    }

    /// Whether the model has both ρ (on Wy) and λ (on the error), in that order.
    pub fn is_sac(self) -> bool {
        matches!(self, SpatialKind::Sac | SpatialKind::Gns)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeKind {
    None,
    Individual,
    Time,
    Twoways,
}

/// Inputs. `y` and the columns of `x` are in any row order; `unit` codes (0..N, W's order)
/// and `time` codes (0..T) place each row.
pub struct SpatialInput<'a> {
    pub y: &'a [f64],
    pub x: &'a [Vec<f64>],
    pub xnames: &'a [String],
    pub unit: &'a [u32],
    pub time: &'a [u32],
    pub w: &'a Weights,
    /// Indices of the columns of `x` that get a spatial lag (SDM); empty = all.
    pub durbin: Option<&'a [usize]>,
    /// ρ fixed at this value instead of estimated (identity tests).
    pub fixed_rho: Option<f64>,
}

/// What the panels with a W per period or a second weights matrix add to [`SpatialInput`].
#[derive(Default)]
pub struct SpatialExtra<'a> {
    /// One W per period (time-varying W), in period order; `None` = `SpatialInput::w` for
    /// every period.
    pub w_periods: Option<&'a [Weights]>,
    /// GNS / SAC: the weights of the error process (M); `None` = W.
    pub m: Option<&'a Weights>,
    /// GNS / SAC: λ fixed at this value instead of estimated (identity tests).
    pub fixed_lambda: Option<f64>,
}

/// How ln|I − ρW| and the traces are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Dense up to [`AUTO_DENSE_MAX`] units, sparse beyond.
    Auto,
    /// W's eigenvalues and dense (I − ρW)⁻¹ (exact; N ≤ [`MAX_DENSE_UNITS`]).
    Dense,
    /// Sparse Cholesky log-determinant and trace estimation (see [`super::sparse`]).
    Sparse,
}

/// Largest N for which `Method::Auto` picks the dense path.
pub const AUTO_DENSE_MAX: usize = 1500;

/// Seed of the Hutchinson probes of the sparse path (fixed: results are reproducible).
pub const SPARSE_SEED: u64 = 20_100_517;

/// The trace functions the effects need, from the dense spectrum or the sparse series.
#[derive(Debug, Clone)]
pub enum TraceSource {
    Dense(Spectrum),
    Sparse(SeriesTraces),
    /// Time-varying W: the traces of every distinct W_t with its share of the periods; the
    /// effects are the period averages of the per-period LeSage–Pace summaries.
    Periods(Vec<PeriodTraces>),
}

/// One distinct W_t of a time-varying W: its share of the periods, its traces and W itself
/// (for the total effects of a W that is not row-standardised).
#[derive(Debug, Clone)]
pub struct PeriodTraces {
    pub share: f64,
    pub traces: TraceSource,
    pub w: Weights,
}

impl TraceSource {
    /// tr(W(I−ρW)⁻¹).
    pub fn trace_g(&self, rho: f64) -> f64 {
        match self {
            TraceSource::Dense(s) => s.trace_g(rho),
            TraceSource::Sparse(s) => s.trace_g(rho),
            TraceSource::Periods(p) => p.iter().map(|q| q.share * q.traces.trace_g(rho)).sum(),
        }
    }
    /// tr((I−ρW)⁻¹).
    pub fn trace_a(&self, rho: f64) -> f64 {
        match self {
            TraceSource::Dense(s) => s.trace_a(rho),
            TraceSource::Sparse(s) => s.trace_a(rho),
            TraceSource::Periods(p) => p.iter().map(|q| q.share * q.traces.trace_a(rho)).sum(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SpatialSpec {
    pub kind: SpatialKind,
    pub effects: FeKind,
    pub lee_yu: bool,
    pub method: Method,
    /// How ρ is found: exact log-determinant with a tight Brent search (default), or the
    /// SDPDmod / Elhorst grid emulation (see [`RhoSearch::Grid`]).
    pub search: RhoSearch,
    /// Level of the likelihood-ratio interval of ρ / λ (see [`super::identification`]).
    pub interval_level: f64,
}

/// The search over ρ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RhoSearch {
    /// Exact ln|I − ρW| from the eigenvalues; Brent's method to 1e-12.
    Exact,
    /// Emulates R SDPDmod 0.0.5 (and Elhorst's Matlab `sar_panel_FE`): ln|I − ρW| tabulated
    /// on the grid ρ = 1/λ_min + incr, …, 1/λ_max − incr, looked up at the grid point just
    /// below ρ (piecewise constant), and R's `optimize` (Brent, tol = ε^0.25). Published
    /// SDPDmod numbers are reproduced only this way: the grid moves ρ by up to ~2e-3.
    Grid { incr: f64 },
}

/// Largest N handled (dense eigenvalues and inverse: memory 8·N² bytes per matrix).
pub const MAX_DENSE_UNITS: usize = 8000;

#[derive(Debug, Clone)]
pub struct SpatialFit {
    /// Names: regressors, then W·regressors (SDM), then "rho", then "sigma2".
    pub names: Vec<String>,
    /// [β; θ; ρ; σ²].
    pub coef: Vec<f64>,
    /// Inverse of the information matrix, same order as `coef` (row-major).
    pub vcov: Vec<f64>,
    pub se: Vec<f64>,
    pub loglik: f64,
    pub n_units: usize,
    pub n_periods: usize,
    pub k_x: usize,
    /// Positions (in x) of the Durbin columns, in the order of θ.
    pub durbin: Vec<usize>,
    pub rho_bounds: (f64, f64),
    pub warnings: Vec<String>,
    /// Residuals in (time, unit) order.
    pub residuals: Vec<f64>,
    /// Traces for the effects (dense spectrum or sparse series).
    pub traces: TraceSource,
    pub w_row_standardised: bool,
    pub kind: SpatialKind,
    /// "dense" or "sparse": the path actually used.
    pub method: &'static str,
    /// Sparse path: Monte Carlo standard error of tr(G'G) in the information matrix.
    pub trace_se: Option<f64>,
    /// LR intervals of the estimated spatial parameters (ρ and / or λ, in `names` order);
    /// empty when the parameter is fixed.
    pub intervals: Vec<SpatialInterval>,
}

//! Fixed-effects OLS: the regression every DID, placebo, mediation and matching step calls.
//!
//! Pipeline: drop incomplete rows (counted) → encode fixed effects → detect singletons
//! (removed on request) → project out the fixed effects (Frisch–Waugh–Lovell) → drop
//! collinear regressors (named) → solve → variance (iid, HC1, CR1 one- or two-way).

use ndarray::linalg::general_mat_vec_mul;
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, ShapeBuilder};
use rayon::prelude::*;

use crate::alloc::{
    elements, ensure, try_collect, try_copy, try_vec, try_with_capacity, try_zeros,
};
use crate::error::{Error, Result};
use crate::fe::{demean_columns, factorize, find_singletons, DemeanInfo, DemeanSpec, FixedEffects};
use crate::inference::conley::{ConleyData, ConleyKernel};
use crate::inference::{t_table, vcov, CoefTable, FeInfo, VcovResult, VcovType};
use crate::ols::{cross_products, dot, independent_columns, solve_normal_equations, LeastSquares};

/// Which variance to report. Cluster variables are given in `FeolsInput::clusters`.
#[derive(Debug, Clone, PartialEq)]
pub enum VcovRequest {
    Iid,
    Hetero,
    /// Indices into `FeolsInput::clusters` (one or two).
    Cluster(Vec<usize>),
    /// Conley spatial HAC (`crate::inference::conley`); columns over the input rows (the
    /// estimation sample is taken from them).
    Conley(ConleyRequest),
}

/// Coordinates, optional unit and time columns (one value per input row) and settings of a
/// Conley variance.
#[derive(Debug, Clone, PartialEq)]
pub struct ConleyRequest {
    pub lat: Vec<f64>,
    pub lon: Vec<f64>,
    pub unit: Option<Vec<i64>>,
    pub time: Option<Vec<i64>>,
    pub cutoff_km: f64,
    pub lag: usize,
    pub kernel: ConleyKernel,
}

#[derive(Debug, Clone)]
pub struct FeolsSpec {
    /// Remove singleton observations (reghdfe's default, fixest's `fixef.rm = "singleton"`).
    pub drop_singletons: bool,
    pub vcov: VcovRequest,
    pub demean: DemeanSpec,
    /// From this many input rows, take the lean path when it applies (`feols_lean.rs`: no
    /// demeaned copy of the data, no design kept on the fit). `usize::MAX`: never.
    pub lean_min_rows: usize,
}

impl Default for FeolsSpec {
    fn default() -> Self {
        Self {
            drop_singletons: false,
            vcov: VcovRequest::Iid,
            demean: DemeanSpec::default(),
            lean_min_rows: usize::MAX,
        }
    }
}

/// Columns of one regression. Row `i` of every slice is the same observation.
#[derive(Debug, Clone)]
pub struct FeolsInput<'a> {
    pub y: (String, &'a [f64]),
    pub x: Vec<(String, &'a [f64])>,
    /// Fixed-effect ids (any integers; interacted effects already combined by the caller).
    pub fe: Vec<(String, &'a [i64])>,
    pub clusters: Vec<(String, &'a [i64])>,
    pub weights: Option<(String, &'a [f64])>,
    /// Rows the caller already knows to be incomplete (e.g. a missing id): false = drop.
    pub valid: Option<&'a [bool]>,
}

#[derive(Debug, Clone)]
pub struct FeolsFit {
    pub coefnames: Vec<String>,
    pub beta: Array1<f64>,
    pub vcov: Array2<f64>,
    pub se: Array1<f64>,
    /// Regressors dropped as collinear (with each other or with the fixed effects).
    pub collinear: Vec<String>,
    pub nobs: usize,
    /// Rows dropped for a missing or non-finite value in a used column.
    pub n_missing: usize,
    /// Rows dropped for a zero weight.
    pub n_zero_weight: usize,
    /// Singleton observations found; removed from the sample only if `drop_singletons`.
    pub n_singletons: usize,
    pub singletons_dropped: bool,
    pub r2: f64,
    /// R² of the demeaned regression; `None` without fixed effects.
    pub r2_within: Option<f64>,
    pub rss: f64,
    pub df_k: usize,
    pub df_t: usize,
    pub n_clusters: Vec<usize>,
    pub fe_levels: Vec<usize>,
    pub demean: DemeanInfo,
    /// Rows of the input used in estimation ([`FeolsFit::used_rows`]).
    pub(super) rows: Rows,
    /// Demeaned outcome (column 0) and kept regressors, times sqrt(weight), column-major:
    /// kept for post-estimation (wild bootstrap) without redoing the projection. None on the
    /// lean path, which never forms it.
    pub(super) design: Option<Array2<f64>>,
    /// Codes of the cluster variables used for the variance, on the estimation sample.
    pub cluster_codes: Vec<Vec<u32>>,
    /// Fixed effects and weights on the estimation sample: the wild bootstrap rebuilds its
    /// design from these and the caller's columns.
    pub(super) fe: FixedEffects,
    /// Indices (into the input's regressors) of the kept regressors.
    pub(super) kept: Vec<usize>,
    pub(super) weights: Option<Vec<f64>>,
    /// Wall seconds of each phase of the call, in order (benchmarks print them as a table).
    pub phases: Vec<(&'static str, f64)>,
}

/// Which input rows a fit used.
#[derive(Debug, Clone)]
pub(super) enum Rows {
    /// One flag per input row.
    Used(Vec<bool>),
    /// Every one of this many input rows (the lean path keeps no mask).
    All(usize),
}

/// Lap timer for the phases of one `feols` call.
pub(super) struct PhaseClock {
    last: std::time::Instant,
    pub(super) laps: Vec<(&'static str, f64)>,
}

impl PhaseClock {
    pub(super) fn new() -> Self {
        Self {
            last: std::time::Instant::now(),
            laps: Vec::new(),
        }
    }

    /// Closes the phase that ran since the previous lap.
    pub(super) fn lap(&mut self, name: &'static str) {
        let now = std::time::Instant::now();
        self.laps.push((name, (now - self.last).as_secs_f64()));
        self.last = now;
    }
}

fn check_len(name: &str, len: usize, n: usize) -> Result<()> {
    if len != n {
        return Err(Error::Shape(format!(
            "column '{name}' has {len} rows, expected {n}"
        )));
    }
    Ok(())
}

/// The checks every path relies on: column lengths, non-negative weights, something to fit,
/// no column entirely missing.
pub(super) fn check_input(input: &FeolsInput) -> Result<()> {
    let n_in = input.y.1.len();
    if n_in == 0 {
        return Err(Error::Empty("no rows: the data are empty".into()));
    }
    check_len(&input.y.0, n_in, n_in)?;
    for (name, c) in &input.x {
        check_len(name, c.len(), n_in)?;
    }
    for (name, c) in input.fe.iter().chain(&input.clusters) {
        check_len(name, c.len(), n_in)?;
    }
    if let Some((name, w)) = &input.weights {
        check_len(name, w.len(), n_in)?;
        if let Some(&bad) = w.iter().find(|&&v| v < 0.0) {
            return Err(Error::Column {
                name: name.clone(),
                reason: format!("weights must be non-negative, found {bad}"),
            });
        }
    }
    // With fixed effects and no regressor the model is the fixed effects alone (fixest's and
    // pyfixest's `y ~ 1 | fe`, the zero step of csw0() with fixed effects): no coefficient,
    // residuals = demeaned outcome. Without fixed effects there is nothing to fit.
    if input.x.is_empty() && input.fe.is_empty() {
        return Err(Error::Empty("no regressors in the formula".into()));
    }
    for (name, c) in std::iter::once(&input.y).chain(&input.x) {
        if c.iter().all(|v| !v.is_finite()) {
            return Err(Error::Column {
                name: name.clone(),
                reason: "all values are missing (NaN, null or infinite)".into(),
            });
        }
    }

    Ok(())
}

/// The general path of [`super::feols()`] (after [`check_input`]): demeaned copies of the
/// outcome and regressors, kept on the fit for post-estimation.
pub(super) fn fit_general(
    input: &FeolsInput,
    spec: &FeolsSpec,
    mut clock: PhaseClock,
) -> Result<FeolsFit> {
    let n_in = input.y.1.len();

    // 1. Complete rows.
    // Every buffer that scales with the rows is allocated fallibly (MemoryError, not abort).
    let mut used: Vec<bool> = match input.valid {
        Some(v) => try_copy(v, "rows in use")?,
        None => try_vec(n_in, true, "rows in use")?,
    };
    check_len("valid", used.len(), n_in)?;
    for (_, c) in std::iter::once(&input.y).chain(&input.x) {
        used.iter_mut()
            .zip(c.iter())
            .for_each(|(u, v)| *u &= v.is_finite());
    }
    if let Some((_, w)) = &input.weights {
        used.iter_mut()
            .zip(w.iter())
            .for_each(|(u, v)| *u &= v.is_finite());
    }
    let n_complete = used.iter().filter(|&&u| u).count();
    let n_missing = n_in - n_complete;
    let mut n_zero_weight = 0;
    if let Some((_, w)) = &input.weights {
        for (u, &v) in used.iter_mut().zip(w.iter()) {
            if *u && v == 0.0 {
                *u = false;
                n_zero_weight += 1;
            }
        }
    }

    clock.lap("checks and complete rows");

    // 2. Fixed effects on the complete rows, singletons.
    let build_fe = |keep: &[bool]| -> Result<FixedEffects> {
        let all_kept = keep.iter().all(|&k| k);
        // Dimensions are encoded in parallel; each one's codes do not depend on the others.
        let encoded: Vec<Result<crate::fe::Factorized>> = input
            .fe
            .par_iter()
            .map(|(_, ids)| {
                if all_kept {
                    factorize(ids)
                } else {
                    factorize(&compact(ids, keep, "fixed-effect ids")?)
                }
            })
            .collect();
        let mut names = Vec::new();
        let mut codes = Vec::new();
        let mut levels = Vec::new();
        for ((name, _), f) in input.fe.iter().zip(encoded) {
            let f = f?;
            names.push(name.clone());
            levels.push(f.n_levels());
            codes.push(f.codes);
        }
        if names.is_empty() {
            Ok(FixedEffects::empty(keep.iter().filter(|&&k| k).count()))
        } else {
            FixedEffects::new(names, codes, levels)
        }
    };
    let mut fe = build_fe(&used)?;
    clock.lap("encode fixed effects");
    let singleton = find_singletons(&fe.codes, &fe.n_levels)?;
    let n_singletons = singleton.iter().filter(|&&s| s).count();
    if spec.drop_singletons && n_singletons > 0 {
        let keep: Vec<bool> = try_collect(singleton.iter().map(|&s| !s), "rows in use")?;
        let mut it = keep.iter();
        for u in used.iter_mut().filter(|u| **u) {
            *u = *it.next().unwrap_or(&true);
        }
        fe = fe.subset(&keep)?;
    }
    clock.lap("singletons");
    let n = used.iter().filter(|&&u| u).count();
    if n == 0 {
        return Err(Error::Empty(format!(
            "no rows left to estimate on: {n_missing} of {n_in} rows have a missing value in a used column"
        )));
    }

    // 3. Data matrix, column-major: outcome first, then regressors.
    let k_all = input.x.len();
    let weights: Option<Vec<f64>> = input
        .weights
        .as_ref()
        .map(|(_, w)| compact(w, &used, "weights"))
        .transpose()?;
    // Zeroed pages come from the allocator untouched; the columns are then filled in
    // parallel, which also spreads the first-touch page faults over the workers.
    let mut flat = try_zeros::<f64>(
        elements(n, 1 + k_all, "data matrix (rows x columns)")?,
        "data matrix (rows x columns)",
    )?;
    let sources: Vec<&[f64]> = std::iter::once(&input.y)
        .chain(&input.x)
        .map(|(_, c)| *c)
        .collect();
    flat.par_chunks_mut(n)
        .zip(sources.par_iter())
        .for_each(|(dst, src)| {
            if n == n_in {
                dst.copy_from_slice(src);
            } else {
                let kept = src.iter().zip(&used).filter(|(_, &u)| u).map(|(&v, _)| v);
                dst.iter_mut().zip(kept).for_each(|(d, v)| *d = v);
            }
        });
    let mut data = Array2::from_shape_vec((n, 1 + k_all).f(), flat)
        .map_err(|e| Error::Shape(format!("data matrix: {e}")))?;
    clock.lap("copy rows");
    let (scale, tss, demean) = {
        let flat = data
            .as_slice_memory_order_mut()
            .ok_or_else(|| Error::Numerical("data matrix is not contiguous".into()))?;
        let mut chunks: Vec<&mut [f64]> = flat.chunks_mut(n).collect();
        let scale: Vec<f64> = chunks
            .iter()
            .skip(1)
            .map(|c| weighted_ss(c, weights.as_deref()))
            .collect();
        let tss = centered_ss(chunks[0], weights.as_deref());
        clock.lap("scales");
        let demean = demean_columns(&mut chunks, weights.as_deref(), &fe, &spec.demean)?;
        clock.lap("demean");
        (scale, tss, demean)
    };
    finish(
        input,
        spec,
        FitState {
            data,
            weights,
            scale,
            tss,
            fe,
            demean,
            used,
            n_missing,
            n_zero_weight,
            n_singletons,
            clock,
        },
    )
}

struct FitState {
    data: Array2<f64>,
    weights: Option<Vec<f64>>,
    scale: Vec<f64>,
    tss: f64,
    fe: FixedEffects,
    demean: DemeanInfo,
    used: Vec<bool>,
    n_missing: usize,
    n_zero_weight: usize,
    n_singletons: usize,
    clock: PhaseClock,
}

fn finish(input: &FeolsInput, spec: &FeolsSpec, mut st: FitState) -> Result<FeolsFit> {
    let n = st.data.nrows();
    // Weighted least squares = OLS on rows scaled by sqrt(weight), after weighted demeaning.
    if let Some(w) = &st.weights {
        let sw: Vec<f64> = try_collect(w.iter().map(|v| v.sqrt()), "square-root weights")?;
        for mut col in st.data.columns_mut() {
            col.iter_mut().zip(&sw).for_each(|(v, s)| *v *= s);
        }
    }
    let k_all = st.data.ncols() - 1;
    st.clock.lap("weights");
    let (xtx_all, xty_all) = {
        let cols: Vec<&[f64]> = st
            .data
            .as_slice_memory_order()
            .ok_or_else(|| Error::Numerical("data matrix is not contiguous".into()))?
            .chunks(n)
            .collect();
        cross_products(&cols[1..], cols[0])
    };
    st.clock.lap("cross products");
    let (keep, collinear) = kept_regressors(&xtx_all, &st.scale, &input.x)?;
    let k = keep.len();
    // The stored design: the data matrix itself unless a regressor was dropped.
    let design: Array2<f64> = if k == k_all {
        std::mem::take(&mut st.data)
    } else {
        ensure::<f64>(n, 1 + k, "design matrix (rows x columns)")?;
        let mut d = Array2::<f64>::zeros((n, 1 + k).f());
        d.column_mut(0).assign(&st.data.column(0));
        for (j, &c) in keep.iter().enumerate() {
            d.column_mut(1 + j).assign(&st.data.column(1 + c));
        }
        d
    };
    let ls = solve_kept(&xtx_all, &xty_all, &keep)?;
    let xw = design.slice(s![.., 1..]);
    let yw = design.column(0);
    let uw = weighted_residuals(xw, yw, &ls.beta)?;
    let rss = uw.dot(&uw);
    let ss_within = yw.dot(&yw);
    st.clock.lap("solve and residuals");
    let has_fe = st.fe.n_dims() > 0;

    // Cluster codes on the estimation sample.
    let cluster_codes: Vec<Vec<u32>> = match &spec.vcov {
        VcovRequest::Cluster(idx) => idx
            .iter()
            .map(|&c| {
                let (name, ids) = input.clusters.get(c).ok_or_else(|| Error::Option {
                    name: "vcov".into(),
                    reason: format!("cluster variable #{c} was not given"),
                })?;
                // A cluster variable that is one of the fixed effects (the usual unit
                // clustering) has that dimension's codes already: the same first-appearance
                // encoding of the same rows.
                if let Some(q) = input.fe.iter().position(|(_, f)| f == ids) {
                    return Ok(st.fe.codes[q].clone());
                }
                let sub = compact(ids, &st.used, name)?;
                Ok(factorize(&sub)?.codes)
            })
            .collect::<Result<_>>()?,
        _ => Vec::new(),
    };
    let kind = match &spec.vcov {
        VcovRequest::Iid => VcovType::Iid,
        VcovRequest::Hetero => VcovType::Hetero,
        VcovRequest::Cluster(_) => VcovType::Cluster(cluster_codes),
        VcovRequest::Conley(c) => {
            let unit = match &c.unit {
                Some(u) => Some(factorize(&compact(u, &st.used, "conley unit")?)?.codes),
                None => None,
            };
            VcovType::Conley(ConleyData {
                lat: compact(&c.lat, &st.used, "latitude")?,
                lon: compact(&c.lon, &st.used, "longitude")?,
                unit,
                time: c
                    .time
                    .as_ref()
                    .map(|t| compact(t, &st.used, "conley time"))
                    .transpose()?,
                cutoff_km: c.cutoff_km,
                lag: c.lag,
                kernel: c.kernel,
            })
        }
    };
    st.clock.lap("cluster codes");
    let fe_info = FeInfo {
        codes: st.fe.codes.iter().map(Vec::as_slice).collect(),
        n_levels: st.fe.n_levels.clone(),
    };
    let VcovResult {
        vcov: v,
        df_k,
        df_t,
        n_clusters,
        ..
    } = vcov(xw, uw.view(), ls.xtx_inv.view(), &kind, &fe_info)?;
    // The cluster codes go back to the fit (moved, not copied: 4 bytes a row).
    let cluster_codes = match kind {
        VcovType::Cluster(codes) => codes,
        _ => Vec::new(),
    };
    // A non-PSD two-way variance gives NaN standard errors, as in fixest and pyfixest.
    let se = v.diag().mapv(f64::sqrt);
    st.clock.lap("vcov");
    Ok(FeolsFit {
        coefnames: keep.iter().map(|&j| input.x[j].0.clone()).collect(),
        beta: ls.beta,
        vcov: v,
        se,
        collinear,
        nobs: n,
        n_missing: st.n_missing,
        n_zero_weight: st.n_zero_weight,
        n_singletons: st.n_singletons,
        singletons_dropped: spec.drop_singletons,
        r2: 1.0 - rss / st.tss,
        // Without a regressor nothing is explained within the fixed effects: NaN, as pyfixest.
        r2_within: has_fe.then(|| {
            if k == 0 {
                f64::NAN
            } else {
                1.0 - rss / ss_within
            }
        }),
        rss,
        df_k,
        df_t,
        n_clusters,
        fe_levels: st.fe.n_levels.clone(),
        demean: st.demean,
        rows: Rows::Used(st.used),
        cluster_codes,
        design: Some(design),
        kept: keep,
        fe: st.fe,
        weights: st.weights,
        phases: st.clock.laps,
    })
}

/// uw = yw - xw beta on the demeaned, weighted columns: computed as ndarray's `dot` does (gemv
/// with beta = 0), in place; without a regressor, the demeaned outcome itself.
fn weighted_residuals(
    xw: ArrayView2<'_, f64>,
    yw: ArrayView1<'_, f64>,
    beta: &Array1<f64>,
) -> Result<Array1<f64>> {
    let mut uw = try_zeros::<f64>(yw.len(), "residuals")?;
    let columns: Option<Vec<&[f64]>> = xw.columns().into_iter().map(|c| c.to_slice()).collect();
    match (columns, yw.as_slice()) {
        // The design is column-major: per block of rows, the fitted value accumulates column
        // by column (Σ_j β_j x_ij from j = 0, the order a row dot product takes, so the same
        // bits), on contiguous slices and in parallel; a row's value never depends on the block.
        (Some(columns), Some(y)) => {
            const ROWS: usize = 1 << 15;
            uw.par_chunks_mut(ROWS).enumerate().for_each(|(b, u)| {
                let rows = b * ROWS..b * ROWS + u.len();
                for (x, &bj) in columns.iter().zip(beta) {
                    for (ui, xi) in u.iter_mut().zip(&x[rows.clone()]) {
                        *ui += xi * bj;
                    }
                }
                for (ui, yi) in u.iter_mut().zip(&y[rows]) {
                    *ui = yi - *ui;
                }
            });
            Ok(Array1::from_vec(uw))
        }
        _ => {
            let mut uw = Array1::from_vec(uw);
            if !beta.is_empty() {
                general_mat_vec_mul(1.0, &xw, beta, 0.0, &mut uw);
            }
            uw.iter_mut().zip(yw.iter()).for_each(|(u, &y)| *u = y - *u);
            Ok(uw)
        }
    }
}

/// The values of `v` on the rows where `keep` is true (allocated fallibly).
fn compact<T: Copy>(v: &[T], keep: &[bool], what: &str) -> Result<Vec<T>> {
    let n = keep.iter().filter(|&&k| k).count();
    let mut out = try_with_capacity(n, what)?;
    out.extend(v.iter().zip(keep).filter(|(_, &k)| k).map(|(&x, _)| x));
    Ok(out)
}

fn weighted_ss(x: &[f64], w: Option<&[f64]>) -> f64 {
    match w {
        Some(w) => x.iter().zip(w).map(|(v, wi)| wi * v * v).sum(),
        None => dot(x, x),
    }
}

pub(super) fn centered_ss(x: &[f64], w: Option<&[f64]>) -> f64 {
    let (sw, swx) = match w {
        Some(w) => (
            w.iter().sum::<f64>(),
            x.iter().zip(w).map(|(v, wi)| wi * v).sum::<f64>(),
        ),
        None => (x.len() as f64, x.iter().sum::<f64>()),
    };
    let mean = swx / sw;
    match w {
        Some(w) => x.iter().zip(w).map(|(v, wi)| wi * (v - mean).powi(2)).sum(),
        None => x.iter().map(|v| (v - mean).powi(2)).sum(),
    }
}

/// Views of the kept, demeaned and weighted design for post-estimation routines.
impl FeolsFit {
    /// Rows of the input used in estimation (length = input rows).
    pub fn used_rows(&self) -> std::borrow::Cow<'_, [bool]> {
        match &self.rows {
            Rows::Used(v) => std::borrow::Cow::Borrowed(v),
            Rows::All(n) => std::borrow::Cow::Owned(vec![true; *n]),
        }
    }

    /// Whether the fit came from the lean path and keeps no design: post-estimation
    /// (residuals, wild bootstrap) then needs a refit with `lean_min_rows = usize::MAX`.
    pub fn is_lean(&self) -> bool {
        self.design.is_none()
    }

    fn design(&self) -> Result<&Array2<f64>> {
        self.design.as_ref().ok_or_else(|| {
            Error::Numerical(
                "this fit was computed without keeping its demeaned design (the lean path for \
                 large data); refit it on the general path for residuals or a wild bootstrap"
                    .into(),
            )
        })
    }

    /// Regressors (kept ones), fixed effects projected out, times sqrt(weight).
    pub fn xw(&self) -> Result<ArrayView2<'_, f64>> {
        Ok(self.design()?.slice(s![.., 1..]))
    }

    /// Outcome, fixed effects projected out, times sqrt(weight).
    pub fn yw(&self) -> Result<ArrayView1<'_, f64>> {
        Ok(self.design()?.column(0))
    }

    /// Residuals y - fitted on the estimation rows, in their order, unweighted (pyfixest's
    /// `resid()`): the weighted residuals of the demeaned fit divided by sqrt(weight).
    pub fn residuals(&self) -> Result<Array1<f64>> {
        let mut u = weighted_residuals(self.xw()?, self.yw()?, &self.beta)?;
        if let Some(w) = &self.weights {
            u.iter_mut().zip(w).for_each(|(u, w)| *u /= w.sqrt());
        }
        Ok(u)
    }

    /// t statistics, p-values and confidence bounds with the fit's `df_t` (as fixest).
    pub fn coef_table(&self, level: f64) -> Result<CoefTable> {
        t_table(
            &self.beta.to_vec(),
            &self.se.to_vec(),
            self.df_t as f64,
            level,
        )
    }
}

/// The least-squares solution on the kept regressors, from all regressors' cross products.
pub(super) fn solve_kept(
    xtx_all: &Array2<f64>,
    xty_all: &Array1<f64>,
    keep: &[usize],
) -> Result<LeastSquares> {
    let k = keep.len();
    if k == 0 {
        // Fixed effects only: nothing to solve, a 0 x 0 bread.
        return Ok(LeastSquares {
            beta: Array1::zeros(0),
            xtx_inv: Array2::zeros((0, 0)),
        });
    }
    let xtx = Array2::from_shape_fn((k, k), |(a, b)| xtx_all[[keep[a], keep[b]]]);
    let xty = Array1::from_iter(keep.iter().map(|&j| xty_all[j]));
    solve_normal_equations(&xtx, &xty)
}

/// The regressors kept (indices into `x`, in order) and the names of those dropped as
/// collinear, from the cross products of the demeaned regressors; an error when every
/// regressor is collinear. Shared by the general and the lean path.
pub(super) fn kept_regressors(
    xtx_all: &Array2<f64>,
    scale: &[f64],
    x: &[(String, &[f64])],
) -> Result<(Vec<usize>, Vec<String>)> {
    let keep = independent_columns(xtx_all, scale);
    let collinear: Vec<String> = (0..x.len())
        .filter(|j| !keep.contains(j))
        .map(|j| x[j].0.clone())
        .collect();
    if keep.is_empty() && !x.is_empty() {
        return Err(Error::Empty(format!(
            "all regressors are collinear (with each other or with the fixed effects): {}",
            collinear.join(", ")
        )));
    }
    Ok((keep, collinear))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linear::feols;

    /// The column-wise residuals equal the row dot product bit for bit (row-major views take
    /// the row path), over several parallel blocks of rows.
    #[test]
    fn residuals_by_columns_equal_the_row_path() {
        let (n, k) = (70_001, 3);
        let xs: Vec<f64> = (0..n * k)
            .map(|i| ((i * 31 + 7) % 103) as f64 / 3.0 - 17.0)
            .collect();
        let y: Vec<f64> = (0..n).map(|i| ((i * 17 + 1) % 97) as f64 / 5.0).collect();
        let beta = Array1::from(vec![0.3, -1.7, 2.9]);
        let col_major = ArrayView2::from_shape((n, k).f(), &xs).unwrap();
        let row_major_copy = col_major.as_standard_layout().into_owned();
        let fast = weighted_residuals(col_major, ArrayView1::from(&y), &beta).unwrap();
        let rows = weighted_residuals(row_major_copy.view(), ArrayView1::from(&y), &beta).unwrap();
        assert_eq!(fast, rows);
    }

    fn input<'a>(y: &'a [f64], x: Vec<(String, &'a [f64])>, g: &'a [i64]) -> FeolsInput<'a> {
        FeolsInput {
            y: ("y".into(), y),
            x,
            fe: vec![("g".into(), g)],
            clusters: vec![("g".into(), g)],
            weights: None,
            valid: None,
        }
    }

    /// Identity: with one fixed effect and no regressor the residuals are y minus its group
    /// mean, R² is 1 - RSS/TSS, the variance is 0 x 0 and within R² is NaN (pyfixest).
    #[test]
    fn fixed_effects_only_fit() {
        let y: Vec<f64> = (0..30)
            .map(|i| ((i * 7) % 11) as f64 + 0.1 * i as f64)
            .collect();
        let g: Vec<i64> = (0..30).map(|i| i % 4).collect();
        for vcov in [
            VcovRequest::Iid,
            VcovRequest::Hetero,
            VcovRequest::Cluster(vec![0]),
        ] {
            let spec = FeolsSpec {
                vcov,
                ..FeolsSpec::default()
            };
            let fit = feols(&input(&y, Vec::new(), &g), &spec).unwrap();
            assert!(fit.coefnames.is_empty() && fit.beta.is_empty() && fit.se.is_empty());
            assert_eq!(fit.vcov.dim(), (0, 0));
            assert_eq!(fit.nobs, 30);
            assert!(fit.r2_within.unwrap().is_nan());
            let u = fit.residuals().unwrap();
            let mut tss = 0.0;
            let mean_all = y.iter().sum::<f64>() / 30.0;
            for (i, (&yi, &gi)) in y.iter().zip(&g).enumerate() {
                let (s, c) = y
                    .iter()
                    .zip(&g)
                    .filter(|(_, &h)| h == gi)
                    .fold((0.0, 0.0), |(s, c), (v, _)| (s + v, c + 1.0));
                assert!((u[i] - (yi - s / c)).abs() < 1e-12);
                tss += (yi - mean_all).powi(2);
            }
            assert!((fit.rss - u.dot(&u)).abs() < 1e-10);
            assert!((fit.r2 - (1.0 - fit.rss / tss)).abs() < 1e-12);
            // 4 levels; clustered by the fixed effect itself, nested levels count as one
            let nested = matches!(spec.vcov, VcovRequest::Cluster(_));
            assert_eq!(fit.df_k, if nested { 1 } else { 4 });
            assert!(fit.coef_table(0.95).unwrap().statistic.is_empty());
        }
    }

    /// Without fixed effects a model needs a regressor (the caller adds the intercept).
    #[test]
    fn no_regressor_without_fixed_effects_is_an_error() {
        let y = [1.0, 2.0, 3.0];
        let mut inp = input(&y, Vec::new(), &[0, 0, 1]);
        inp.fe.clear();
        inp.clusters.clear();
        let err = feols(&inp, &FeolsSpec::default()).unwrap_err();
        assert!(err.to_string().contains("no regressors"));
    }

    /// Regressors all absorbed by the fixed effects stay an error (not an empty model).
    #[test]
    fn all_collinear_regressors_stay_an_error() {
        let y: Vec<f64> = (0..12).map(|i| (i * i % 7) as f64).collect();
        let g: Vec<i64> = (0..12).map(|i| i % 3).collect();
        let x: Vec<f64> = g.iter().map(|&v| v as f64).collect();
        let err = feols(
            &input(&y, vec![("x".into(), &x)], &g),
            &FeolsSpec::default(),
        );
        assert!(err.unwrap_err().to_string().contains("collinear"));
    }
}

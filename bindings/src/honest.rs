//! Bindings of `did::honest` (Rambachan & Roth 2023 sensitivity analysis).

use super::run;
use pilotdid::did::honest::{self, HonestInput, RelativeClass, Shape};
use pilotdid::error::Error;
use pyo3::prelude::*;

type Intervals = (Vec<f64>, Vec<f64>, Option<f64>);

fn shape_of(s: &str) -> Result<Shape, Error> {
    Ok(match s {
        "none" => Shape::None,
        "increasing" => Shape::Increasing,
        "decreasing" => Shape::Decreasing,
        "positive" => Shape::PositiveBias,
        "negative" => Shape::NegativeBias,
        other => {
            return Err(Error::Option {
                name: "restriction".into(),
                reason: format!("unknown shape '{other}'"),
            })
        }
    })
}

/// Robust CIs for Δ^RM / Δ^SDRM at each M̄ (ARP conditional or C-LF hybrid), and the
/// breakdown M̄ (refined by `breakdown_iters` bisection steps; None: not computed or none).
#[pyfunction]
#[pyo3(signature = (betahat, sigma, n_pre, n_post, l_vec, m_bars, *, delta, shape, hybrid, alpha, grid_points, sims, seed, breakdown_iters, grid_bounds=None))]
#[allow(clippy::too_many_arguments)]
fn honest_relative(
    py: Python<'_>,
    betahat: Vec<f64>,
    sigma: Vec<Vec<f64>>,
    n_pre: usize,
    n_post: usize,
    l_vec: Vec<f64>,
    m_bars: Vec<f64>,
    delta: String,
    shape: String,
    hybrid: bool,
    alpha: f64,
    grid_points: usize,
    sims: usize,
    seed: u64,
    breakdown_iters: Option<usize>,
    grid_bounds: Option<(f64, f64)>,
) -> PyResult<Intervals> {
    run(py, move || {
        let inp = HonestInput {
            betahat,
            sigma,
            n_pre,
            n_post,
            l_vec,
            alpha,
            grid_points,
            sims,
            seed,
            grid_bounds,
        };
        inp.validate()?;
        let class = match delta.as_str() {
            "rm" => RelativeClass::RelativeMagnitudes,
            "sdrm" => RelativeClass::SmoothnessRelative,
            other => {
                return Err(Error::Option {
                    name: "delta".into(),
                    reason: format!("unknown class '{other}'"),
                })
            }
        };
        let shape = shape_of(&shape)?;
        if m_bars.is_empty() {
            return Err(Error::Option {
                name: "m_bar".into(),
                reason: "empty grid".into(),
            });
        }
        let (mut lbs, mut ubs) = (Vec::new(), Vec::new());
        for &m in &m_bars {
            let (lb, ub) = honest::arp_interval(&inp, class, m, shape, hybrid)?;
            lbs.push(lb);
            ubs.push(ub);
        }
        let bd = match breakdown_iters {
            Some(iters) => {
                let mut grid = m_bars.clone();
                grid.sort_by(|a, b| a.total_cmp(b));
                honest::breakdown(&grid, iters, |m| {
                    honest::arp_interval(&inp, class, m, shape, hybrid)
                })?
            }
            None => None,
        };
        Ok((lbs, ubs, bd))
    })
}

/// FLCIs for Δ^SD at each M, and the breakdown M.
#[pyfunction]
#[pyo3(signature = (betahat, sigma, n_pre, n_post, l_vec, ms, *, alpha, num_points, breakdown_iters))]
#[allow(clippy::too_many_arguments)]
fn honest_flci(
    py: Python<'_>,
    betahat: Vec<f64>,
    sigma: Vec<Vec<f64>>,
    n_pre: usize,
    n_post: usize,
    l_vec: Vec<f64>,
    ms: Vec<f64>,
    alpha: f64,
    num_points: usize,
    breakdown_iters: Option<usize>,
) -> PyResult<Intervals> {
    run(py, move || {
        let inp = HonestInput {
            betahat,
            sigma,
            n_pre,
            n_post,
            l_vec,
            alpha,
            grid_points: 2,
            sims: 0,
            seed: 0,
            grid_bounds: None,
        };
        inp.validate()?;
        if ms.is_empty() {
            return Err(Error::Option {
                name: "m".into(),
                reason: "empty grid".into(),
            });
        }
        let one = |m: f64| {
            honest::flci(
                &inp.betahat,
                &inp.sigma,
                n_pre,
                n_post,
                &inp.l_vec,
                m,
                alpha,
                num_points,
            )
            .map(|f| (f.lb, f.ub))
        };
        let (mut lbs, mut ubs) = (Vec::new(), Vec::new());
        for &m in &ms {
            let (lb, ub) = one(m)?;
            lbs.push(lb);
            ubs.push(ub);
        }
        let bd = match breakdown_iters {
            Some(iters) => {
                let mut grid = ms.clone();
                grid.sort_by(|a, b| a.total_cmp(b));
                honest::breakdown(&grid, iters, one)?
            }
            None => None,
        };
        Ok((lbs, ubs, bd))
    })
}

/// The CI under exact parallel trends.
#[pyfunction]
#[pyo3(signature = (betahat, sigma, n_pre, n_post, l_vec, *, alpha))]
fn honest_original(
    py: Python<'_>,
    betahat: Vec<f64>,
    sigma: Vec<Vec<f64>>,
    n_pre: usize,
    n_post: usize,
    l_vec: Vec<f64>,
    alpha: f64,
) -> PyResult<(f64, f64)> {
    run(py, move || {
        let inp = HonestInput {
            betahat,
            sigma,
            n_pre,
            n_post,
            l_vec,
            alpha,
            grid_points: 2,
            sims: 0,
            seed: 0,
            grid_bounds: None,
        };
        inp.validate()?;
        Ok(honest::original_interval(&inp))
    })
}

/// The standard normal draws behind the least-favourable critical value (sims x dim, row-major),
/// exposed so that tests can feed the same draws to an independent implementation.
#[pyfunction]
fn honest_lf_draws(py: Python<'_>, seed: u64, sims: usize, dim: usize) -> PyResult<Vec<f64>> {
    run(py, move || Ok(honest::lf_normal_draws(seed, sims, dim)))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(honest_relative, m)?)?;
    m.add_function(wrap_pyfunction!(honest_flci, m)?)?;
    m.add_function(wrap_pyfunction!(honest_original, m)?)?;
    m.add_function(wrap_pyfunction!(honest_lf_draws, m)?)?;
    Ok(())
}

"""Shared fixtures and data generators for the pilotdid test-suite.

* ``reference_dir``: ``../shared/reference`` next to the repository root (skips if absent).
* ``make_panel``: a seeded generator of panels with known structure (see :func:`make_panel`).
* ``pyfixest_fit``: runs pyfixest 0.60 as the independent reference implementation, with a
  tight demeaning tolerance so that a 1e-8 comparison is meaningful.

pyfixest is a test/benchmark-only dependency; package code never imports it.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

# pyfixest's Rust (rayon) threads and a multi-threaded OpenBLAS busy-wait against each other on
# small machines, turning 10 ms least-squares solves into seconds. One BLAS thread is plenty
# for the test-sized problems here (override by setting the variable yourself).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import polars as pl  # noqa: E402
import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = (REPO_ROOT / ".." / "shared" / "reference").resolve()

# Demeaning tolerance handed to pyfixest. Its default (1e-6) is far too loose for a 1e-8
# comparison; with 1e-13 its MAP solver agrees with an exact dummy-variable (LSDV) solve to
# ~1e-12 on every generated design (checked by test_reference_is_converged).
PYFIXEST_FIXEF_TOL = 1e-13


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: long-running (Monte Carlo / large data); deselect with -m 'not slow'"
    )


# --------------------------------------------------------------------------------------------
# reference data
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """``../shared/reference`` relative to the repository root (the parent of ``tests/``)."""
    if not REFERENCE_DIR.is_dir():
        pytest.skip(
            f"reference datasets not found at {REFERENCE_DIR} "
            "(expected ../shared/reference beside the repository root)"
        )
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def castle(reference_dir) -> pd.DataFrame:
    """Cheng & Hoekstra castle-doctrine panel (bacondecomp), 50 states x 2000-2010."""
    return pd.read_csv(reference_dir / "castle.csv")


@pytest.fixture(scope="session")
def mpdta(reference_dir) -> pd.DataFrame:
    """Callaway & Sant'Anna minimum-wage panel (R did), 500 counties x 2003-2007."""
    return pd.read_csv(reference_dir / "mpdta.csv")


# --------------------------------------------------------------------------------------------
# generated panels
# --------------------------------------------------------------------------------------------
def make_panel(
    seed: int = 0,
    n_units: int = 120,
    n_periods: int = 8,
    n_prov: int = 6,
    n_ind: int = 5,
    drop_frac: float = 0.0,
    string_ids: bool = False,
    n_singletons: int = 0,
    cascade_singleton: bool = False,
    missing_x2: int = 0,
    missing_y: int = 0,
) -> pd.DataFrame:
    """A seeded unit x year panel with a documented structure.

    Columns
    -------
    unit, year     ids (int, or str "u0007"/"y2003" when ``string_ids``); year starts at 2001
    prov           province of the unit (units nested in provinces; ``unit % n_prov``)
    ind            a cross-cutting category that varies within unit over time (third FE)
    x1, x2, x3     regressors, correlated with the unit/year effects but with an idiosyncratic
                   component of unit variance, so that the demeaned design is well conditioned
    xlin           exact linear combination x1 + 2*x2 - x3 (for collinearity tests)
    xu             unit-constant regressor (collinear with a unit fixed effect)
    xp             strictly positive (for log transforms)
    w              analytic weights in [0.5, 2]
    y              alpha_unit + gamma_year + delta_(prov,year) + eta_ind
                   + 1.0 x1 - 0.5 x2 + 0.25 x3 + heteroskedastic, unit-correlated noise

    Options
    -------
    drop_frac          drop this share of rows at random (unbalanced panel)
    n_singletons       append this many extra units observed exactly once (unit singletons)
    cascade_singleton  append a unit observed twice, once in a new period that has no other
                       row: removing the period singleton turns the unit into a singleton, so
                       an iterative detector removes 2 rows and a one-pass detector only 1
    missing_x2/_y      set this many random rows of x2 / y to NaN
    """
    rng = np.random.default_rng(seed)
    years = np.arange(2001, 2001 + n_periods)
    unit = np.repeat(np.arange(n_units), n_periods)
    year = np.tile(years, n_units)
    extra_u, extra_t = [], []
    if n_singletons:
        extra_u += list(range(n_units, n_units + n_singletons))
        extra_t += list(rng.choice(years, size=n_singletons))
    if cascade_singleton:
        u = n_units + n_singletons
        extra_u += [u, u]
        extra_t += [years[0], years[-1] + 1]
    unit = np.concatenate([unit, np.asarray(extra_u, dtype=int)])
    year = np.concatenate([year, np.asarray(extra_t, dtype=int)])
    n_u_all = int(unit.max()) + 1
    n = unit.size

    alpha = rng.normal(0.0, 1.0, n_u_all)
    all_years = np.unique(year)
    gamma = dict(zip(all_years, rng.normal(0.0, 0.5, all_years.size)))
    prov = unit % n_prov
    delta = rng.normal(0.0, 0.3, (n_prov, all_years.size))
    yidx = np.searchsorted(all_years, year)
    ind = rng.integers(0, n_ind, n)
    eta = rng.normal(0.0, 0.4, n_ind)
    g_t = np.array([gamma[t] for t in year])

    x1 = 0.5 * alpha[unit] + rng.normal(0.0, 1.0, n)
    x2 = 0.4 * g_t + 0.3 * delta[prov, yidx] + rng.normal(0.0, 1.0, n)
    x3 = 0.3 * x1 + 0.2 * eta[ind] + rng.normal(0.0, 1.0, n)
    xu = rng.normal(0.0, 1.0, n_u_all)[unit]
    xp = np.exp(rng.normal(0.0, 0.5, n))
    w = rng.uniform(0.5, 2.0, n)
    unit_shock = rng.normal(0.0, 0.5, n_u_all)[unit]
    eps = unit_shock + rng.normal(0.0, 1.0, n) * (0.7 + 0.5 * np.abs(x1))
    y = (
        alpha[unit]
        + g_t
        + delta[prov, yidx]
        + eta[ind]
        + 1.0 * x1
        - 0.5 * x2
        + 0.25 * x3
        + 0.3 * xu
        + eps
    )

    df = pd.DataFrame(
        {
            "unit": unit,
            "year": year,
            "prov": prov,
            "ind": ind,
            "x1": x1,
            "x2": x2,
            "x3": x3,
            "xlin": x1 + 2.0 * x2 - x3,
            "xu": xu,
            "xp": xp,
            "w": w,
            "y": y,
        }
    )
    if drop_frac > 0:
        # only drop rows of the regular block: the appended singleton rows stay as built
        n_regular = n_units * n_periods
        drop = rng.choice(n_regular, size=int(round(drop_frac * n_regular)), replace=False)
        df = df.drop(index=drop)
    if missing_x2:
        idx = rng.choice(df.index.to_numpy(), size=missing_x2, replace=False)
        df.loc[idx, "x2"] = np.nan
    if missing_y:
        idx = rng.choice(df.index.to_numpy(), size=missing_y, replace=False)
        df.loc[idx, "y"] = np.nan
    if string_ids:
        df["unit"] = [f"u{u:04d}" for u in df["unit"]]
        df["year"] = [f"y{t}" for t in df["year"]]
        df["prov"] = [f"p{p}" for p in df["prov"]]
    return df.reset_index(drop=True)


def make_mover_panel(
    seed: int = 0,
    n_workers: int = 20_000,
    n_periods: int = 5,
    n_firms: int = 2_000,
    p_move: float = 0.05,
) -> pd.DataFrame:
    """Worker x period panel with firm fixed effects identified only through the few workers
    who move (AKM-style): the unit/firm bipartite graph is sparse and split into several
    connected components, so alternating projections converge slowly - a hard case for an
    iterative FE solver. y = alpha_worker + psi_firm + 0.5 x1 - 0.2 x2 + e."""
    rng = np.random.default_rng(seed)
    worker = np.repeat(np.arange(n_workers), n_periods)
    period = np.tile(np.arange(n_periods), n_workers)
    firm = np.empty(n_workers * n_periods, dtype=np.int64)
    f = rng.integers(0, n_firms, n_workers)
    for s in range(n_periods):
        move = rng.random(n_workers) < p_move
        f = np.where(move, rng.integers(0, n_firms, n_workers), f)
        firm[s::n_periods] = f
    a = rng.normal(size=n_workers)[worker]
    psi = rng.normal(size=n_firms)[firm]
    x1 = 0.5 * a + 0.5 * psi + rng.normal(size=worker.size)
    x2 = 0.3 * psi + rng.normal(size=worker.size)
    y = a + psi + 0.5 * x1 - 0.2 * x2 + rng.normal(size=worker.size)
    return pd.DataFrame(
        {"worker": worker, "firm": firm, "period": period, "x1": x1, "x2": x2, "y": y}
    )


@pytest.fixture(scope="session")
def mover_panel_factory():
    """The :func:`make_mover_panel` generator."""
    return make_mover_panel


@pytest.fixture(scope="session")
def panel_factory():
    """The :func:`make_panel` generator (so tests need not import conftest)."""
    return make_panel


# --------------------------------------------------------------------------------------------
# pyfixest reference
# --------------------------------------------------------------------------------------------
def to_pyfixest_vcov(vcov):
    """pilotdid vcov spec -> pyfixest spec ({"CR1": v} is spelled {"CRV1": v} in pyfixest)."""
    if isinstance(vcov, dict):
        ((key, val),) = vcov.items()
        return {"CRV1" if key.upper() in ("CR1", "CRV1") else key: val}
    return vcov


def pyfixest_fit(fml, data, vcov, weights=None, fixef_rm="none"):
    """pyfixest 0.60 ``feols`` with a tight demeaning tolerance (reference, tests only).

    ``fixef_rm`` is always passed explicitly: pyfixest defaults to "singleton", pilotdid
    (like fixest) to "none".
    """
    import pyfixest as pf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pf.feols(
            fml,
            data=data,
            vcov=to_pyfixest_vcov(vcov),
            weights=weights,
            fixef_rm=fixef_rm,
            demeaner=pf.MapDemeaner(fixef_tol=PYFIXEST_FIXEF_TOL, fixef_maxiter=100_000),
        )


@pytest.fixture(scope="session")
def pyfixest_reference():
    """The :func:`pyfixest_fit` helper."""
    pytest.importorskip("pyfixest", reason="pyfixest (test-only reference) is not installed")
    return pyfixest_fit


def to_polars(df: pd.DataFrame) -> pl.DataFrame:
    """pandas -> polars column by column, without pyarrow (not installed in the venv, and
    ``pl.from_pandas`` needs it for pandas' string columns). NaN stays NaN in float columns,
    None in string columns becomes null."""
    out = {}
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            out[str(c)] = pl.Series(str(c), s.to_numpy())
        else:
            out[str(c)] = pl.Series(
                str(c), [None if pd.isna(v) else v for v in s.tolist()], dtype=pl.String
            )
    return pl.DataFrame(out)


@pytest.fixture(scope="session")
def polars_frame():
    """The :func:`to_polars` converter."""
    return to_polars

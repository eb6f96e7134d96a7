"""Fixed data for the golden calls: the bundled SYNTHETIC YRD panel and small numpy-generated
panels with fixed seeds. Nothing here may change once the golden files are recorded (a change
of data is a change of every number); add a new generator rather than editing one.

Every function is cached and returns a polars frame (never modified by pilotdid).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import polars as pl

import pilotdid.datasets as ds
import pilotdid.weights as pw

#: The five controls of the bundled study (study.toml).
CONTROLS = ["ln_gdp_pc", "urbanization", "gov_exp_share", "fdi_share", "fin_dev"]


@cache
def yrd() -> pl.DataFrame:
    """The bundled SYNTHETIC panel: 41 cities x 2006-2021, cohorts 0 / 2013 / 2014 / 2015."""
    return ds.yrd()


@cache
def yrd_cities() -> pl.DataFrame:
    return ds.yrd_cities()


@cache
def yrd_w() -> pw.Weights:
    """Row-standardised inverse-distance W of the 41 cities, ids = ``city_id`` (1..41, the
    order of ``yrd_cities()``)."""
    c = yrd_cities()
    return pw.inverse_distance(c["lat"], c["lon"], ids=list(range(1, 42)))


@cache
def panel(seed: int = 0) -> pl.DataFrame:
    """A unit x year panel for regressions: 60 units x 6 years (2001-2006), units nested in
    6 provinces, a cross-cutting category ``ind`` (third FE), regressors x1..x3, an exact
    linear combination ``xlin`` (collinearity), a strictly positive ``xp`` (logs), analytic
    weights ``w`` in [0.5, 2], a 0/1 staggered treatment ``d`` (cohorts 2003 / 2005 / never),
    and y with unit, year, province-year and category effects and heteroskedastic errors."""
    rng = np.random.default_rng(seed)
    n_units, years = 60, np.arange(2001, 2007)
    unit = np.repeat(np.arange(n_units), years.size)
    year = np.tile(years, n_units)
    n = unit.size
    prov = unit % 6
    alpha = rng.normal(0.0, 1.0, n_units)
    gamma = rng.normal(0.0, 0.5, years.size)
    delta = rng.normal(0.0, 0.3, (6, years.size))
    yi = year - years[0]
    ind = rng.integers(0, 4, n)
    eta = rng.normal(0.0, 0.4, 4)
    x1 = 0.5 * alpha[unit] + rng.normal(0.0, 1.0, n)
    x2 = 0.4 * gamma[yi] + 0.3 * delta[prov, yi] + rng.normal(0.0, 1.0, n)
    x3 = 0.3 * x1 + 0.2 * eta[ind] + rng.normal(0.0, 1.0, n)
    xp = np.exp(rng.normal(0.0, 0.5, n))
    w = rng.uniform(0.5, 2.0, n)
    cohort_u = np.array([2003, 2005, 0])[np.arange(n_units) % 3]
    cohort = cohort_u[unit]
    d = ((cohort > 0) & (year >= cohort)).astype(float)
    eps = rng.normal(0.0, 0.5, n_units)[unit] + rng.normal(0.0, 1.0, n) * (0.7 + 0.5 * np.abs(x1))
    y = (
        alpha[unit]
        + gamma[yi]
        + delta[prov, yi]
        + eta[ind]
        + 1.0 * x1
        - 0.5 * x2
        + 0.25 * x3
        + 0.6 * d
        + eps
    )
    return pl.DataFrame(
        {
            "unit": unit,
            "year": year,
            "prov": prov,
            "ind": ind,
            "x1": x1,
            "x2": x2,
            "x3": x3,
            "xlin": x1 + 2.0 * x2 - x3,
            "xp": xp,
            "w": w,
            "cohort": cohort,
            "d": d,
            "y": y,
        }
    )


@cache
def panel_singletons() -> pl.DataFrame:
    """``panel(1)`` plus three units observed once (singletons) and 8 missing x2 values."""
    base = panel(1)
    extra = pl.DataFrame(
        {
            "unit": [60, 61, 62],
            "year": [2002, 2004, 2006],
            "prov": [0, 1, 2],
            "ind": [0, 1, 2],
            "x1": [0.3, -1.2, 0.8],
            "x2": [1.1, 0.4, -0.6],
            "x3": [-0.2, 0.5, 0.9],
            "xlin": [0.3 + 2.2 + 0.2, -1.2 + 0.8 - 0.5, 0.8 - 1.2 - 0.9],
            "xp": [1.0, 0.7, 1.3],
            "w": [1.0, 1.5, 0.8],
            "cohort": [0, 0, 0],
            "d": [0.0, 0.0, 0.0],
            "y": [0.4, -0.9, 1.7],
        }
    )
    df = pl.concat([base, extra])
    miss = np.zeros(df.height, dtype=bool)
    miss[np.arange(5, df.height, 41)[:8]] = True
    return df.with_columns(
        pl.when(pl.Series(miss)).then(float("nan")).otherwise(pl.col("x2")).alias("x2")
    )


@cache
def staggered(seed: int = 3) -> pl.DataFrame:
    """A staggered-adoption panel for Callaway-Sant'Anna: 150 units x 6 periods (1-6),
    cohorts 3 / 4 / 5 / never (0), a time-invariant covariate ``x``, sampling weights ``sw``
    (unit-constant) and 15 clusters ``region``; dynamic effects that grow with exposure."""
    rng = np.random.default_rng(seed)
    n_units, periods = 150, np.arange(1, 7)
    u = np.arange(n_units)
    cohort_u = np.array([0, 3, 4, 5])[rng.integers(0, 4, n_units)]
    x_u = rng.normal(0.0, 1.0, n_units) + 0.3 * (cohort_u > 0)
    sw_u = rng.uniform(0.5, 1.5, n_units)
    region_u = u % 15
    alpha = rng.normal(0.0, 1.0, n_units) + 0.5 * x_u
    unit = np.repeat(u, periods.size)
    t = np.tile(periods, n_units)
    g = cohort_u[unit]
    e = np.where(g > 0, t - g, -99)
    effect = np.where(e >= 0, 0.5 + 0.25 * e, 0.0)
    y = alpha[unit] + 0.2 * t + 0.3 * x_u[unit] * t / 6 + effect + rng.normal(0.0, 1.0, unit.size)
    return pl.DataFrame(
        {
            "unit": unit,
            "t": t,
            "g": g,
            "x": x_u[unit],
            "sw": sw_u[unit],
            "region": region_u[unit],
            "y": y,
        }
    )


@cache
def tiny_placebo() -> pl.DataFrame:
    """6 units x 4 years with 2 treated from 2003: few enough distinct placebo assignments
    (6!/(2!4!) = 15 under "units") that placebo enumerates them all."""
    rng = np.random.default_rng(11)
    unit = np.repeat(np.arange(6), 4)
    year = np.tile(np.arange(2001, 2005), 6)
    d = ((unit < 2) & (year >= 2003)).astype(float)
    y = rng.normal(0.0, 1.0, 6)[unit] + 0.1 * year + 0.8 * d + rng.normal(0.0, 0.5, unit.size)
    return pl.DataFrame({"unit": unit, "year": year, "d": d, "y": y})


@cache
def green() -> pl.DataFrame:
    """The YRD yearbook columns (labour, investment, energy, real_gdp, so2, wastewater, dust)
    of 2010-2015 with a deterministic investment deflator ``defl`` = 1.02^(year - 2006) and
    three covariates for the entropy index: 41 cities x 6 years."""
    df = yrd()
    defl = pl.lit(1.02).pow(pl.col("year") - 2006).alias("defl")
    return (
        df.select(
            "city",
            "year",
            "labour",
            "investment",
            "energy",
            "real_gdp",
            "so2",
            "wastewater",
            "dust",
            "ln_gdp_pc",
            "urbanization",
            "human_capital",
        )
        .with_columns(defl)
        .filter((pl.col("year") >= 2010) & (pl.col("year") <= 2015))
    )

"""Simulated LeSage-Pace effects when rho's sampling distribution reaches its bound.

Reference: spdep's impacts() drops parameter draws whose rho lies outside the admissible
interval; pilotdid redraws them (a truncated normal) and counts the rejections. The expected
number of rejections per accepted draw is P(outside) / P(inside) under N(rho_hat, se^2).
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

import pilotdid as pdid
import pilotdid.weights as pw
from pilotdid import datasets

CONTROLS = ["ln_gdp_pc", "urbanization", "gov_exp_share", "fdi_share", "fin_dev"]


def _fit():
    df = datasets.yrd()
    cities = datasets.yrd_cities()
    W = pw.inverse_distance(cities["lat"], cities["lon"], ids=cities["city_en"])
    return pdid.sdm(
        "gtfp ~ did + " + " + ".join(CONTROLS),
        df,
        W=W,
        unit="city",
        time="year",
        effects="twoways",
        lee_yu=True,
    )


def test_draws_outside_the_rho_interval_are_redrawn_and_counted():
    fit = _fit()
    lo, hi = fit.rho_bounds
    rho, se = fit.rho, fit.se()["rho"]
    # On the bundled panel rho is weakly identified: its normal approximation crosses 1.
    p_out = 0.5 * math.erfc((hi - rho) / (se * math.sqrt(2))) + 0.5 * math.erfc(
        (rho - lo) / (se * math.sqrt(2))
    )
    assert p_out > 0.01
    draws = 4000
    imp = fit.impacts(reps=draws, seed=3)
    expected = draws * p_out / (1 - p_out)
    assert abs(imp.rejected - expected) < 4 * math.sqrt(expected)
    tab = imp.tidy(method="simulation")
    for col in ("sim_mean", "sim_sd", "sim_low", "sim_high"):
        assert np.all(np.isfinite(tab[col].to_numpy()))
    # Without rejection the clamped draws put effects at 1e5+; the truncated draws' middle
    # 95% stays within a few delta-method SEs of the point effect.
    row = tab.filter((pl.col("effect") == "direct") & (pl.col("term") == "did")).row(0, named=True)
    assert row["sim_low"] > row["estimate"] - 5 * row["std_error"]
    assert row["sim_high"] < row["estimate"] + 5 * row["std_error"]


def test_no_rejections_when_rho_is_far_from_the_bound():
    cities = datasets.yrd_cities()
    W = pw.knn(cities["lat"], cities["lon"], k=4, ids=cities["city_en"])
    fit = pdid.sar("gtfp ~ did", datasets.yrd(), W=W, unit="city", time="year")
    lo, hi = fit.rho_bounds
    se = fit.se()["rho"]
    assert min(hi - fit.rho, fit.rho - lo) > 6 * se  # P(outside) < 1e-9
    imp = fit.impacts(reps=500, seed=1)
    assert imp.rejected == 0


def test_rho_near_its_bound_is_reported_as_a_warning():
    """A period shock common to all cities and unit FE only: the SAR's rho runs to within
    0.1% of its upper bound 1. The fit warns (UserWarning naming rho and the interval) and
    keeps the message on .warnings and in summary()."""
    import pytest

    cities = datasets.yrd_cities()
    W = pw.knn(cities["lat"], cities["lon"], k=4, ids=cities["city_en"])
    rng = np.random.default_rng(0)
    n, t = 41, 10
    shock = np.repeat(rng.normal(size=t) * 5, n)
    x = rng.normal(size=n * t)
    df = pl.DataFrame(
        {
            "city": np.tile(cities["city_en"].to_numpy(), t),
            "year": np.repeat(np.arange(t), n),
            "x": x,
            "y": shock + 0.01 * rng.normal(size=n * t) + 0.01 * x,
        }
    )
    with pytest.warns(UserWarning, match=r"SAR: rho = 0\.99\d+ is within 0\.1% of the bound"):
        fit = pdid.sar(
            "y ~ x", df, W=W, unit="city", time="year", effects="individual", lee_yu=False
        )
    lo, hi = fit.rho_bounds
    assert 0 < hi - fit.rho < 1e-3 * (hi - lo)
    assert len(fit.warnings) == 1 and "near-singular" in fit.warnings[0]
    assert "Warning: rho" in fit.summary()

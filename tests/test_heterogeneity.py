"""Heterogeneity (pilotdid.mechanisms.heterogeneity): split samples, permutation and stacked
Wald tests of equal treatment effects across unit-level groups."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats

from pilotdid._core import PilotdidError
from pilotdid.mechanisms.subgroups import heterogeneity
from pilotdid.regression import feols


def _sim(seed: int, diff: float = 0.0, g: int = 24, t: int = 6) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(g), t)
    year = np.tile(np.arange(t), g)
    grp = np.where(unit < g // 2, "east", "west")
    d = ((year >= 3) & (unit % 2 == 0)).astype(float)
    eff = 0.5 + diff * (grp == "west")
    y = eff * d + rng.normal(size=g)[unit] + rng.normal(size=t)[year] + rng.normal(size=g * t)
    return pl.DataFrame({"unit": unit, "year": year, "grp": grp, "d": d, "y": y})


def test_split_estimates_and_stacked_equal_feols():
    """Reference: feols on each subsample (identity, 1e-10); the stacked fully interacted
    regression reproduces the split coefficients (1e-8); two groups: Wald chi2 = t^2 of the
    stacked difference."""
    df = _sim(0, diff=2.0, g=40)
    r = heterogeneity(
        df,
        y="y",
        treatment="d",
        by="grp",
        fixef="unit + year",
        vcov={"CR1": "unit"},
        reps=99,
        seed=1,
    )
    for g in ["east", "west"]:
        f = feols("y ~ d | unit + year", df.filter(pl.col("grp") == g), vcov={"CR1": "unit"})
        row = r.table.filter(pl.col("group") == g).row(0, named=True)
        assert abs(row["estimate"] - f.coef()["d"]) < 1e-10
        assert abs(row["std_error"] - f.se()["d"]) < 1e-10
    sc = r.stacked_fit.coef()
    assert abs(sc["__g0_d"] - r.table["estimate"][0]) < 1e-8
    assert abs(sc["__g1_d"] - r.table["estimate"][1]) < 1e-8
    v = r.stacked_fit.vcov()
    names = r.stacked_fit.coefnames
    i, j = names.index("__g0_d"), names.index("__g1_d")
    t = (sc["__g1_d"] - sc["__g0_d"]) / np.sqrt(v[i, i] + v[j, j] - 2 * v[i, j])
    assert abs(r.wald["chi2"] - t**2) < 1e-8
    assert r.wald["p_chi2"] < 0.05 and r.perm_p < 0.05  # built-in difference of 2.0 detected


def test_permutation_seeded():
    """Identity: the same seed gives the same permutation draws."""
    df = _sim(3)
    kw = {"fixef": "unit + year", "vcov": {"CR1": "unit"}, "reps": 20, "seed": 5}
    a = heterogeneity(df, y="y", treatment="d", by="grp", **kw)
    b = heterogeneity(df, y="y", treatment="d", by="grp", **kw)
    np.testing.assert_array_equal(a.perm_draws, b.perm_draws)


@pytest.mark.slow
def test_permutation_p_uniform_under_null():
    """Reference: under no group difference the permutation p-value is uniform; KS test over
    150 simulated datasets (99 permutations each) does not reject at 1%."""
    ps = [
        heterogeneity(
            _sim(s),
            y="y",
            treatment="d",
            by="grp",
            fixef="unit + year",
            vcov={"CR1": "unit"},
            reps=99,
            seed=s,
        ).perm_p
        for s in range(150)
    ]
    assert stats.kstest(ps, "uniform").pvalue > 0.01


def test_bad_input():
    """Clear PilotdidError: one group, group not constant within unit, too-small group."""
    df = _sim(4)
    with pytest.raises(PilotdidError, match="single group"):
        heterogeneity(
            df.with_columns(pl.lit("a").alias("one")),
            y="y",
            treatment="d",
            by="one",
            fixef="unit + year",
            reps=0,
        )
    with pytest.raises(PilotdidError, match="not constant within"):
        heterogeneity(
            df.with_columns((pl.col("year") % 2).alias("odd")),
            y="y",
            treatment="d",
            by="odd",
            fixef="unit + year",
            reps=0,
        )
    tiny = df.with_columns(
        pl.when(pl.col("unit") == 0).then(pl.lit("x")).otherwise(pl.lit("y")).alias("g2")
    )
    with pytest.raises(PilotdidError, match="too small"):
        heterogeneity(tiny, y="y", treatment="d", by="g2", fixef="unit + year", reps=0)

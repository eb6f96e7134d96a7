"""Entropy-weight index and perpetual-inventory capital stock: hand computations."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

import pilotdid as pdid
from pilotdid._core import PilotdidError


def test_entropy_weights_small_table_by_hand():
    """Three rows, two indicators, shift 0. a = (1, 2, 3) positive -> z = (0, .5, 1);
    c = (10, 30, 20) negative -> z = (1, 0, .5). Both give p = {0, 1/3, 2/3}, so
    e = -(1/ln 3)(1/3 ln 1/3 + 2/3 ln 2/3) for both, weights 1/2 each, and
    index = (0 + 1, .5 + 0, 1 + .5)/2 = (.5, .25, .75)."""
    df = pl.DataFrame({"a": [1.0, 2.0, 3.0], "c": [10.0, 30.0, 20.0]})
    idx, w = pdid.green.entropy_index(
        df,
        indicators=["a", "c"],
        negative=["c"],
        shift=0.0,
        return_weights=True,
    )
    e = -(1 / 3 * math.log(1 / 3) + 2 / 3 * math.log(2 / 3)) / math.log(3)
    assert w["weight"].to_list() == pytest.approx([0.5, 0.5], abs=1e-12)
    assert w["entropy"].to_list() == pytest.approx([e, e], abs=1e-12)
    assert idx["entropy_index"].to_list() == pytest.approx([0.5, 0.25, 0.75], abs=1e-12)


def test_entropy_matches_formula_with_shift_and_years():
    """A 4 x 3 table per year with shift 1e-4, by='year': weights equal the textbook formulas
    evaluated in numpy (min-max, p = (z + shift)/sum, e = -sum p ln p / ln n, w = d/sum d)
    to 1e-12, and sum to one in every year."""
    rng = np.random.default_rng(2)
    df = pl.DataFrame(
        {
            "city": np.tile(np.arange(4), 2),
            "year": np.repeat([2010, 2011], 4),
            "p1": rng.uniform(1, 5, 8),
            "p2": rng.uniform(1, 5, 8),
            "n1": rng.uniform(1, 5, 8),
        }
    )
    idx, w = pdid.green.entropy_index(
        df,
        indicators=["p1", "p2", "n1"],
        negative=["n1"],
        unit="city",
        time="year",
        by="year",
        return_weights=True,
    )
    for k, year in enumerate([2010, 2011]):
        sub = df.filter(pl.col("year") == year)
        v = sub.select("p1", "p2", "n1").to_numpy()
        lo, hi = v.min(axis=0), v.max(axis=0)
        z = (v - lo) / (hi - lo)
        z[:, 2] = (hi[2] - v[:, 2]) / (hi[2] - lo[2])
        p = (z + 1e-4) / (z + 1e-4).sum(axis=0)
        e = -(p * np.log(p)).sum(axis=0) / np.log(4)
        wt = (1 - e) / (1 - e).sum()
        got = w.filter(pl.col("group") == str(year))["weight"].to_numpy()
        assert np.allclose(got, wt, atol=1e-12, rtol=0)
        assert got.sum() == pytest.approx(1.0, abs=1e-12)
        want = z @ wt
        assert np.allclose(idx["entropy_index"].to_numpy()[4 * k : 4 * k + 4], want, atol=1e-12)
    assert idx.columns == ["city", "year", "entropy_index"]


def test_entropy_constant_indicator_is_named():
    df = pl.DataFrame({"a": [1.0, 2.0, 3.0], "flat": [2.0, 2.0, 2.0]})
    with pytest.raises(PilotdidError, match="'flat'.*constant"):
        pdid.green.entropy_index(df, indicators=["a", "flat"])
    with pytest.raises(PilotdidError, match="negative"):
        pdid.green.entropy_index(df, indicators=["a"], negative=["flat"])


def test_capital_stock_hand_recursion():
    """delta = 0.1, investment 10, 11, 12.1 (10 % growth), deflator 1, 1, 1.1:
    real I = 10, 11, 11; g = (11/10)^(1/2) - 1; K0 = 10/(g + 0.1);
    K1 = 0.9 K0 + 11; K2 = 0.9 K1 + 11. Unit B with growth=0.05: K0 = 20/0.15,
    K1 = 0.9 K0 + 20/1.0."""
    df = pl.DataFrame(
        {
            "city": ["A", "A", "A", "B", "B"],
            "year": [2000, 2001, 2002, 2000, 2001],
            "inv": [10.0, 11.0, 12.1, 20.0, 20.0],
            "p": [1.0, 1.0, 1.1, 1.0, 1.0],
        }
    )
    k = pdid.green.capital_stock(
        df,
        investment="inv",
        unit="city",
        time="year",
        deflator="p",
        delta=0.1,
    )
    g = math.sqrt(1.1) - 1
    k0 = 10 / (g + 0.1)
    k1 = 0.9 * k0 + 11
    assert k["capital"].to_list()[:3] == pytest.approx([k0, k1, 0.9 * k1 + 11], abs=1e-10)
    assert k["pim_growth"][0] == pytest.approx(g, abs=1e-14)
    k2 = pdid.green.capital_stock(
        df,
        investment="inv",
        unit="city",
        time="year",
        delta=0.1,
        growth=0.05,
    )
    assert k2["capital"].to_list()[3:] == pytest.approx([20 / 0.15, 0.9 * 20 / 0.15 + 20])
    assert k2.columns == ["city", "year", "capital", "real_investment", "pim_growth"]


def test_capital_stock_default_delta_and_errors():
    """Default delta = 9.6 %; a gap in years and g + delta <= 0 are errors naming the unit."""
    df = pl.DataFrame({"c": ["A", "A"], "t": [1, 2], "inv": [1.0, 1.0]})
    k = pdid.green.capital_stock(df, investment="inv", unit="c", time="t", growth=0.0)
    assert k["capital"].to_list() == pytest.approx([1 / 0.096, 0.904 / 0.096 + 1])
    gap = pl.DataFrame({"c": ["A", "A"], "t": [1, 3], "inv": [1.0, 1.0]})
    with pytest.raises(PilotdidError, match="unit A.*not consecutive"):
        pdid.green.capital_stock(gap, investment="inv", unit="c", time="t")
    with pytest.raises(PilotdidError, match="unit A.*g \\+ delta"):
        pdid.green.capital_stock(df, investment="inv", unit="c", time="t", growth=-0.5)
    with pytest.raises(PilotdidError, match="delta"):
        pdid.green.capital_stock(df, investment="inv", unit="c", time="t", delta=1.5)

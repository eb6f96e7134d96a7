"""feols's lean path (core/src/linear/feols_lean.rs): two-way fixed effects without weights or
dropped rows at large row counts, computed without a demeaned copy of the data.

References: the general path of the same core (an exact identity up to rounding: both solve
the two dimensions directly) and pyfixest 0.60 (an independent implementation). Residuals and
the wild bootstrap of a lean fit refit on the general path, so they equal it exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

import pilotdid as pdid
from pilotdid import regression

FML = "y ~ x1 + x2 + x3 | unit + year"


def _panel(units: int = 2000, years: int = 11, drop: float = 0.25, seed: int = 5) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(units), years)
    year = np.tile(np.arange(2001, 2001 + years), units)
    keep = rng.random(unit.size) >= drop
    order = rng.permutation(np.flatnonzero(keep))  # rows not sorted by unit
    unit, year = unit[order], year[order]
    a = rng.standard_normal(units)[unit]
    g = rng.standard_normal(years)[year - 2001]
    x1 = 0.5 * a + rng.standard_normal(unit.size)
    x2 = 0.3 * g + rng.standard_normal(unit.size)
    x3 = rng.standard_normal(unit.size)
    y = a + g + x1 - 0.5 * x2 + 0.25 * x3 + rng.standard_normal(unit.size)
    return pl.DataFrame({"unit": unit, "year": year, "x1": x1, "x2": x2, "x3": x3, "y": y})


def _fit(df, lean: bool, monkeypatch, **kw):
    monkeypatch.setattr(regression, "_LEAN_MIN_ROWS", 0 if lean else 1 << 62)
    return pdid.feols(FML, df, **kw)


def _arr(d: dict) -> np.ndarray:
    return np.array(list(d.values()))


@pytest.mark.parametrize("vcov", ["iid", "hetero", {"CR1": "unit"}, {"CR1": "year"}])
def test_lean_fit_equals_the_general_path(vcov, monkeypatch):
    df = _panel()
    before = df.clone()
    g = _fit(df, False, monkeypatch, vcov=vcov)
    lean = _fit(df, True, monkeypatch, vcov=vcov)
    assert lean._core.lean and not g._core.lean
    np.testing.assert_allclose(_arr(lean.coef()), _arr(g.coef()), rtol=1e-12)
    np.testing.assert_allclose(_arr(lean.se()), _arr(g.se()), rtol=1e-10)
    np.testing.assert_allclose(lean.vcov(), g.vcov(), rtol=1e-10, atol=1e-18)
    assert lean.r2 == pytest.approx(g.r2, rel=1e-12)
    assert lean.r2_within == pytest.approx(g.r2_within, rel=1e-11)
    assert (lean.nobs, lean._core.df_k, lean._core.df_t) == (g.nobs, g._core.df_k, g._core.df_t)
    assert list(lean._core.n_clusters) == list(g._core.n_clusters)
    # post-estimation refits on the general path: the same numbers exactly
    np.testing.assert_array_equal(lean.resid(), g.resid())
    np.testing.assert_array_equal(lean._core.used_rows, g._core.used_rows)
    assert df.equals(before)  # the caller's frame is not modified


def test_lean_fit_matches_pyfixest(monkeypatch):
    pf = pytest.importorskip("pyfixest")
    df = _panel(seed=9)
    lean = _fit(df, True, monkeypatch, vcov={"CR1": "unit"}, fixef_rm="none")
    ref = pf.feols(FML, data=df.to_pandas(), vcov={"CRV1": "unit"}, fixef_rm="none")
    assert lean._core.lean
    coef_pf = ref.coef()[["x1", "x2", "x3"]].to_numpy()
    se_pf = ref.se()[["x1", "x2", "x3"]].to_numpy()
    # pyfixest demeans iteratively to fixef_tol 1e-6 (relative): its numbers carry that error
    np.testing.assert_allclose(_arr(lean.coef()), coef_pf, rtol=1e-6)
    np.testing.assert_allclose(_arr(lean.se()), se_pf, rtol=1e-6)
    assert lean.nobs == ref._N


def test_lean_wild_bootstrap_equals_the_general_path(monkeypatch):
    df = _panel(units=300, years=8, seed=3)
    g = _fit(df, False, monkeypatch, vcov={"CR1": "unit"})
    lean = _fit(df, True, monkeypatch, vcov={"CR1": "unit"})
    a = g.wildboottest("x1", reps=499, seed=4)
    b = lean.wildboottest("x1", reps=499, seed=4)
    assert (a.estimate, a.t_stat, a.p_value, a.conf_int) == (
        b.estimate,
        b.t_stat,
        b.p_value,
        b.conf_int,
    )
    np.testing.assert_array_equal(a.t_boot, b.t_boot)


def test_lean_path_starts_at_a_million_rows():
    """The default threshold: the facade takes the lean path from 2**20 rows, not below."""
    big = _panel(units=110_000, years=10, drop=0.0, seed=1)
    assert big.height >= regression._LEAN_MIN_ROWS
    assert pdid.feols(FML, big, vcov={"CR1": "unit"})._core.lean
    small = _panel(units=500, years=10, drop=0.0)
    assert not pdid.feols(FML, small, vcov={"CR1": "unit"})._core.lean


@pytest.mark.parametrize(
    "case",
    ["weights", "missing y", "missing id", "two-way clustering", "cluster not a fixed effect"],
)
def test_lean_path_falls_back(case, monkeypatch):
    df = _panel(units=400, years=6, seed=2).with_columns(w=pl.lit(1.0), region=pl.col("unit") % 9)
    kw: dict = {"vcov": {"CR1": "unit"}}
    if case == "weights":
        kw["weights"] = "w"
    elif case == "missing y":
        df = df.with_columns(y=pl.when(pl.int_range(pl.len()) == 3).then(None).otherwise("y"))
    elif case == "missing id":
        df = df.with_columns(year=pl.when(pl.int_range(pl.len()) == 3).then(None).otherwise("year"))
    elif case == "two-way clustering":
        kw["vcov"] = {"CR1": "unit+year"}
    else:
        kw["vcov"] = {"CR1": "region"}
    lean = _fit(df, True, monkeypatch, **kw)
    g = _fit(df, False, monkeypatch, **kw)
    assert not lean._core.lean
    np.testing.assert_array_equal(_arr(lean.coef()), _arr(g.coef()))
    np.testing.assert_array_equal(_arr(lean.se()), _arr(g.se()))


def test_pandas_input_takes_the_lean_path(monkeypatch):
    df = _panel(units=300, years=7)
    lean = _fit(df.to_pandas(), True, monkeypatch, vcov={"CR1": "unit"})
    g = _fit(df, False, monkeypatch, vcov={"CR1": "unit"})
    assert lean._core.lean
    np.testing.assert_allclose(_arr(lean.coef()), _arr(g.coef()), rtol=1e-12)
    assert isinstance(df.to_pandas(), pd.DataFrame)

"""Bad input raises pilotdid.PilotdidError (a ValueError) whose message names the problem.

Reference: the error contract in the API brief (api.md, "Errors"): the message fragments below
are matched case-insensitively. No input here may crash the interpreter or leak a Rust panic
(``pyo3_runtime.PanicException`` is not a ``ValueError`` and would fail these tests).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

import pilotdid as pdid


def _raises(fn, *fragments):
    """Call fn, expect PilotdidError, and check every fragment (case-insensitive)."""
    with pytest.raises(pdid.PilotdidError) as info:
        fn()
    msg = str(info.value).lower()
    for frag in fragments:
        assert frag.lower() in msg, f"{frag!r} not in error message {str(info.value)!r}"
    return info.value


@pytest.fixture
def df(panel_factory) -> pd.DataFrame:
    return panel_factory(seed=3, n_units=30, n_periods=5)


@pytest.fixture(params=["pandas", "polars"])
def frame(request, df, polars_frame):
    """The same frame as pandas and as polars (every error must fire for both)."""
    return df if request.param == "pandas" else polars_frame(df)


def _with(frame, **cols):
    """A copy of ``frame`` with columns replaced/added (pandas or polars)."""
    if isinstance(frame, pl.DataFrame):
        return frame.with_columns([pl.Series(k, v) for k, v in cols.items()])
    out = frame.copy()
    for k, v in cols.items():
        out[k] = v
    return out


def test_pilotdid_error_is_a_value_error():
    """api.md: PilotdidError is a subclass of ValueError."""
    assert issubclass(pdid.PilotdidError, ValueError)
    assert issubclass(pdid.PilotdidError, Exception)


def test_empty_frame(frame):
    """api.md: empty frame -> "no rows"."""
    empty = frame.head(0) if isinstance(frame, pl.DataFrame) else frame.iloc[:0]
    err = _raises(lambda: pdid.feols("y ~ x1 | unit + year", empty), "no rows")
    assert isinstance(err, ValueError)


@pytest.mark.parametrize("col", ["y", "x1"])
def test_all_nan_column(frame, col):
    """api.md: all-NaN column y -> "'y'" and "missing" (the same for a regressor)."""
    n = frame.height if isinstance(frame, pl.DataFrame) else len(frame)
    bad = _with(frame, **{col: np.full(n, np.nan)})
    _raises(lambda: pdid.feols("y ~ x1 + x2 | unit + year", bad), f"'{col}'", "missing")


def test_single_cluster(frame):
    """api.md: a single cluster -> "cluster" and "only 1"."""
    n = frame.height if isinstance(frame, pl.DataFrame) else len(frame)
    bad = _with(frame, g=np.ones(n, dtype=np.int64))
    _raises(
        lambda: pdid.feols("y ~ x1 + x2 | unit + year", bad, vcov={"CR1": "g"}), "cluster", "only 1"
    )


def test_single_cluster_in_two_way(frame):
    """api.md: single cluster, in one dimension of a two-way clustering."""
    n = frame.height if isinstance(frame, pl.DataFrame) else len(frame)
    bad = _with(frame, g=np.full(n, "all"))
    _raises(
        lambda: pdid.feols("y ~ x1 + x2 | unit + year", bad, vcov={"CR1": "unit+g"}),
        "cluster",
        "only 1",
    )


def test_non_numeric_regressor(frame):
    """api.md: non-numeric (string) regressor x -> "'x'" and "numeric"."""
    n = frame.height if isinstance(frame, pl.DataFrame) else len(frame)
    bad = _with(frame, x=np.array(["a", "b", "c"] * (n // 3) + ["a"] * (n % 3)))
    _raises(lambda: pdid.feols("y ~ x + x1 | unit + year", bad), "'x'", "numeric")


def test_non_numeric_outcome(frame):
    """api.md (every bad input names its column): string outcome -> "'y'" and "numeric"."""
    n = frame.height if isinstance(frame, pl.DataFrame) else len(frame)
    bad = _with(frame, y=np.array([f"v{i}" for i in range(n)]))
    _raises(lambda: pdid.feols("y ~ x1 | unit + year", bad), "'y'", "numeric")


@pytest.mark.parametrize(
    "fml",
    [
        "y ~ x1 + zz | unit + year",
        "y ~ x1 | unit + zz",
        "zz ~ x1 | unit",
        "y ~ x1 | unit + zz^year",
    ],
    ids=["rhs", "fe", "lhs", "interacted-fe"],
)
def test_unknown_column_in_formula(frame, fml):
    """api.md: unknown column zz in formula -> "'zz'" and "not found"."""
    _raises(lambda: pdid.feols(fml, frame), "'zz'", "not found")


@pytest.mark.parametrize("kind", ["cluster", "weights"])
def test_unknown_column_outside_formula(frame, kind):
    """api.md (the message names the offending column): unknown cluster / weights column."""
    if kind == "cluster":
        _raises(lambda: pdid.feols("y ~ x1 | unit", frame, vcov={"CR1": "zz"}), "'zz'")
    else:
        _raises(lambda: pdid.feols("y ~ x1 | unit", frame, weights="zz"), "'zz'")


@pytest.mark.parametrize(
    "fml",
    ["y ~ x1 +", "y ~ | unit", "y x1", "~ x1", "y ~ x1 | unit +", "y ~ (x1", ""],
    ids=[
        "trailing-plus",
        "empty-rhs",
        "no-tilde",
        "no-lhs",
        "fe-trailing-plus",
        "unbalanced-paren",
        "empty",
    ],
)
def test_formula_syntax_error(frame, fml):
    """api.md: formula syntax error -> "formula"."""
    _raises(lambda: pdid.feols(fml, frame), "formula")


@pytest.mark.parametrize(
    "fml",
    ["y ~ xu | unit", "y ~ xu | unit + year", "y ~ yc | year"],
    ids=["unit-constant+unit-fe", "unit-constant+twfe", "year-constant+year-fe"],
)
def test_only_collinear_regressors(df, fml):
    """api.md: only perfectly collinear regressors -> "collinear" (every regressor is
    absorbed by the fixed effects, so nothing is left to estimate)."""
    data = df.copy()
    data["yc"] = data.groupby("year")["x1"].transform("mean")
    _raises(lambda: pdid.feols(fml, data), "collinear")


def test_bad_vcov_and_fixef_rm_name_the_value(df):
    """api.md (every bad input raises PilotdidError naming the problem): unknown options."""
    _raises(lambda: pdid.feols("y ~ x1 | unit", df, vcov="CR9"), "CR9")
    _raises(lambda: pdid.feols("y ~ x1 | unit", df, fixef_rm="bogus"), "bogus")


def test_wildboottest_unknown_param(df):
    """api.md: wildboottest on a parameter that is not a coefficient names it."""
    fit = pdid.feols("y ~ x1 + x2 | unit + year", df, vcov={"CR1": "unit"})
    _raises(lambda: fit.wildboottest(param="nope", reps=99, seed=1), "nope")


# --------------------------------------------------------------------------------------------
# Panel: a treatment that switches off
# --------------------------------------------------------------------------------------------
def _switch_off_panel(string_ids: bool) -> pd.DataFrame:
    units = np.repeat(np.arange(1, 7), 6)
    years = np.tile(np.arange(2010, 2016), 6)
    d = np.zeros(units.size, dtype=np.int64)
    d[(units == 2) & (years >= 2012)] = 1  # staggered, absorbing
    d[(units == 5) & (years >= 2011)] = 1
    d[(units == 5) & (years == 2014)] = 0  # unit 5 switches off in 2014
    out = pd.DataFrame(
        {"unit": units, "year": years, "d": d, "y": np.arange(units.size, dtype=float)}
    )
    if string_ids:
        out["unit"] = [f"city_{u}" for u in out["unit"]]
    return out


@pytest.mark.parametrize("string_ids", [False, True], ids=["int-ids", "str-ids"])
@pytest.mark.parametrize("backend", ["pandas", "polars"])
def test_treatment_switching_off(string_ids, backend, polars_frame):
    """api.md: a treatment that switches off raises PilotdidError mentioning "switches off"
    and the unit id; allow_switch_off=True accepts the same data."""
    data = _switch_off_panel(string_ids)
    if backend == "polars":
        data = polars_frame(data)
    unit_id = "city_5" if string_ids else "5"
    _raises(
        lambda: pdid.Panel(data, unit="unit", time="year", treatment="d"), "switches off", unit_id
    )
    p = pdid.Panel(data, unit="unit", time="year", treatment="d", allow_switch_off=True)
    assert p.n_units == 6

"""pilotdid.Panel: cohorts, balance, never-treated coding, switch-off handling.

References: the published panels in ``../shared/reference`` (README.md) - mpdta (R ``did``:
``first.treat`` is the cohort, 0 = never treated; cohort sizes 309 never / 20 x 2004 /
40 x 2006 / 131 x 2007) and castle (R ``bacondecomp``: ``effyear`` is the adoption year, empty =
never; ``post`` = 1{year >= effyear}; 29 never / 1 x 2005 / 13 x 2006 / 4 x 2007 / 2 x 2008 /
1 x 2009) - and identities between the two ways of declaring treatment.

``p.cohorts`` is read positionally as (unit, cohort): api.md gives the columns as
"(unit, cohort)" without fixing their names.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd
import polars as pl
import pytest

import pilotdid as pdid


@pytest.fixture
def as_backend(polars_frame):
    """as_backend(df, "pandas" | "polars") -> the frame in that library."""
    return lambda df, backend: df if backend == "pandas" else polars_frame(df)


def _cohort_map(p) -> dict:
    """{unit: cohort as float, or None for never treated} from ``p.cohorts``."""
    c = p.cohorts
    assert isinstance(c, pl.DataFrame)
    assert len(c.columns) == 2
    assert c.height == p.n_units
    units = c.get_column(c.columns[0]).to_list()
    cohorts = c.get_column(c.columns[1]).to_list()
    assert len(set(units)) == len(units)
    out = {}
    for u, g in zip(units, cohorts):
        assert g is None or not (isinstance(g, float) and math.isnan(g)), (
            "never treated must be None (null), not NaN"
        )
        out[u] = None if g is None else float(g)
    return out


def _mpdta_with_d(mpdta):
    m = mpdta.copy()
    g = m["first.treat"]
    m["d"] = ((m["year"] >= g) & (g > 0)).astype(np.int64)
    return m


@pytest.mark.parametrize("backend", ["pandas", "polars"])
def test_mpdta_cohorts_from_treatment_equal_cohort_column(mpdta, backend, as_backend):
    """R did mpdta: cohorts derived from the 0/1 treatment equal ``first.treat``
    (0 -> None); 309 never-treated, 20/40/131 counties in the 2004/2006/2007 cohorts."""
    m = _mpdta_with_d(mpdta)
    p_d = pdid.Panel(as_backend(m, backend), unit="countyreal", time="year", treatment="d")
    p_g = pdid.Panel(as_backend(m, backend), unit="countyreal", time="year", cohort="first.treat")
    cd, cg = _cohort_map(p_d), _cohort_map(p_g)
    assert cd == cg
    truth = m.groupby("countyreal")["first.treat"].first()
    assert cg == {u: (None if g == 0 else float(g)) for u, g in truth.items()}
    assert Counter(cg.values()) == {None: 309, 2004.0: 20, 2006.0: 40, 2007.0: 131}
    for p in (p_d, p_g):
        assert p.is_balanced is True
        assert p.n_units == 500
        assert p.n_periods == 5
        assert list(p.periods) == [2003, 2004, 2005, 2006, 2007]
        assert sorted(p.units) == sorted(m["countyreal"].unique().tolist())


@pytest.mark.parametrize("backend", ["pandas", "polars"])
def test_castle_cohorts_from_post_equal_effyear(castle, backend, as_backend):
    """bacondecomp castle: cohorts from ``post`` equal ``effyear`` (empty -> None);
    29 never-treated states; 1/13/4/2/1 states adopting in 2005/2006/2007/2008/2009."""
    c = castle
    p_d = pdid.Panel(as_backend(c, backend), unit="sid", time="year", treatment="post")
    p_g = pdid.Panel(as_backend(c, backend), unit="sid", time="year", cohort="effyear")
    cd, cg = _cohort_map(p_d), _cohort_map(p_g)
    assert cd == cg
    assert Counter(cg.values()) == {
        None: 29,
        2005.0: 1,
        2006.0: 13,
        2007.0: 4,
        2008.0: 2,
        2009.0: 1,
    }
    assert p_d.n_units == 50 and p_d.n_periods == 11 and p_d.is_balanced is True
    assert list(p_d.periods) == list(range(2000, 2011))


@pytest.mark.parametrize("backend", ["pandas", "polars"])
def test_never_treated_zero_or_missing(mpdta, backend, as_backend):
    """Identity: never-treated coded 0, NaN or null give the same cohorts, with None."""
    zero = mpdta.copy()
    nan = mpdta.copy()
    nan["first.treat"] = nan["first.treat"].where(nan["first.treat"] > 0, np.nan)
    maps = []
    for df in (zero, nan):
        p = pdid.Panel(
            as_backend(df, backend), unit="countyreal", time="year", cohort="first.treat"
        )
        maps.append(_cohort_map(p))
    if backend == "polars":
        nulls = as_backend(mpdta, "polars").with_columns(
            pl.when(pl.col("first.treat") > 0)
            .then(pl.col("first.treat"))
            .otherwise(None)
            .alias("first.treat")
        )
        assert nulls["first.treat"].null_count() == 1545
        p = pdid.Panel(nulls, unit="countyreal", time="year", cohort="first.treat")
        maps.append(_cohort_map(p))
    assert all(m == maps[0] for m in maps)
    assert sum(v is None for v in maps[0].values()) == 309


@pytest.mark.parametrize("backend", ["pandas", "polars"])
def test_balance_detection(mpdta, backend, as_backend):
    """Identity: the full mpdta panel is balanced; dropping one row makes it unbalanced
    (n_units and n_periods unchanged)."""
    m = _mpdta_with_d(mpdta)
    p = pdid.Panel(as_backend(m, backend), unit="countyreal", time="year", treatment="d")
    assert p.is_balanced is True
    dropped = m.drop(index=1234).reset_index(drop=True)
    q = pdid.Panel(as_backend(dropped, backend), unit="countyreal", time="year", treatment="d")
    assert q.is_balanced is False
    assert q.n_units == 500 and q.n_periods == 5
    # the cohorts do not change by dropping an untreated-period row of a never-treated unit
    never = m.index[(m["first.treat"] == 0)][0]
    r = pdid.Panel(
        as_backend(m.drop(index=never), backend), unit="countyreal", time="year", treatment="d"
    )
    assert r.is_balanced is False
    assert _cohort_map(r) == _cohort_map(p)


def test_allow_switch_off_accepts_and_uses_first_treated_period():
    """api.md: a treatment that switches off is accepted with allow_switch_off=True; its
    cohort is then the first period with treatment 1 (the cohort definition of R did)."""
    units = np.repeat([1, 2, 3], 5)
    years = np.tile(np.arange(2001, 2006), 3)
    d = np.array(
        [
            0,
            0,
            1,
            1,
            1,  # unit 1: cohort 2003
            0,
            1,
            1,
            0,
            0,  # unit 2: on in 2002, switches off in 2004
            0,
            0,
            0,
            0,
            0,
        ]
    )  # unit 3: never
    df = pd.DataFrame({"unit": units, "year": years, "d": d})
    with pytest.raises(pdid.PilotdidError, match="(?i)switches off"):
        pdid.Panel(df, unit="unit", time="year", treatment="d")
    p = pdid.Panel(df, unit="unit", time="year", treatment="d", allow_switch_off=True)
    assert _cohort_map(p) == {1: 2003.0, 2: 2002.0, 3: None}
    assert p.is_balanced is True and p.n_units == 3 and p.n_periods == 5


@pytest.mark.parametrize("backend", ["pandas", "polars"])
def test_string_unit_ids(mpdta, backend, as_backend):
    """Identity: string unit ids give the same cohorts as the integer ids they encode."""
    m = _mpdta_with_d(mpdta)
    s = m.copy()
    s["countyreal"] = "county_" + s["countyreal"].astype(str)
    p_int = pdid.Panel(as_backend(m, backend), unit="countyreal", time="year", treatment="d")
    p_str = pdid.Panel(as_backend(s, backend), unit="countyreal", time="year", treatment="d")
    ci, cs = _cohort_map(p_int), _cohort_map(p_str)
    assert cs == {f"county_{u}": g for u, g in ci.items()}
    assert sorted(p_str.units) == sorted(f"county_{u}" for u in m["countyreal"].unique())
    assert p_str.n_units == 500 and p_str.is_balanced is True
    q = pdid.Panel(as_backend(s, backend), unit="countyreal", time="year", cohort="first.treat")
    assert _cohort_map(q) == cs


def test_unsorted_rows_give_same_panel(mpdta):
    """Identity: row order does not matter (shuffled mpdta gives the same cohorts/periods)."""
    m = _mpdta_with_d(mpdta)
    shuffled = m.sample(frac=1.0, random_state=7)
    a = pdid.Panel(m, unit="countyreal", time="year", treatment="d")
    b = pdid.Panel(shuffled, unit="countyreal", time="year", treatment="d")
    assert _cohort_map(a) == _cohort_map(b)
    assert list(b.periods) == [2003, 2004, 2005, 2006, 2007]
    assert b.is_balanced is True

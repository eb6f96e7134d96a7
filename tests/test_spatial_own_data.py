"""Spatial models on a user's own, imperfect panel (issue 15, part 3, spatial parts).

References: the fit on the hand-built complete sub-panel with W subset by hand (numpy) and
row-standardised again (exact equality: the same numbers reach the core); the error messages'
wording (every incomplete unit named in plain strings, its missing periods and columns); the
dense sub-matrix of W (``to_dense()[ix_]``) for the CSR ``Weights.subset``.
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

import pilotdid as pdid
import pilotdid.datasets as ds
import pilotdid.weights as pw
from pilotdid._core import PilotdidError

FML = "gtfp ~ did + ln_gdp_pc + urbanization"


@pytest.fixture(scope="module")
def yrd():
    return ds.yrd()


@pytest.fixture(scope="module")
def cities():
    return ds.yrd_cities()


@pytest.fixture(scope="module")
def w_names(cities):
    """Row-standardised inverse-distance W with the city names as ids."""
    return pw.inverse_distance(cities["lat"], cities["lon"], ids=cities["city_en"].to_list())


def _holes(df: pl.DataFrame) -> pl.DataFrame:
    """Hefei loses its 2010 row; Wuhu's gtfp is missing in 2012 and 2013; Nanjing's
    urbanization is infinite in 2007."""
    df = df.filter(~((pl.col("city") == "Hefei") & (pl.col("year") == 2010)))
    gone = (pl.col("city") == "Wuhu") & pl.col("year").is_in([2012, 2013])
    inf = (pl.col("city") == "Nanjing") & (pl.col("year") == 2007)
    return df.with_columns(
        pl.when(gone).then(None).otherwise(pl.col("gtfp")).alias("gtfp"),
        pl.when(inf).then(np.inf).otherwise(pl.col("urbanization")).alias("urbanization"),
    )


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


def test_incomplete_panel_error_names_every_unit_period_and_column(yrd, w_names):
    """Default incomplete="error": one message with the count, the ids as plain strings, the
    missing years and columns of each, and the option that drops them."""
    with pytest.raises(PilotdidError) as e:
        pdid.sar(FML, _holes(yrd), W=w_names, unit="city", time="year")
    msg = str(e.value)
    assert "spatial panels must be balanced: 3 of 41 units are incomplete" in msg
    assert "(Nanjing, Hefei, Wuhu)" in msg  # W's order
    assert "Hefei: no row in 2010" in msg
    assert "Wuhu: gtfp missing in 2012, 2013" in msg
    assert "Nanjing: urbanization missing or infinite in 2007" in msg
    assert 'incomplete="drop_units"' in msg
    assert "np." not in msg and "'Hefei'" not in msg


def test_drop_units_equals_the_complete_subpanel_with_w_subset_by_hand(yrd, cities, w_names):
    """incomplete="drop_units" = the fit on the 38 complete cities with W rebuilt from the
    raw inverse distances of those cities (numpy sub-matrix) and row-standardised again
    (1e-7: see below), and exactly the fit with ``W.subset(kept).row_standardise()``."""
    res = _quiet(
        pdid.sar, FML, _holes(yrd), W=w_names, unit="city", time="year",
        incomplete="drop_units",
    )  # fmt: skip
    assert res.dropped_units == ["Nanjing", "Hefei", "Wuhu"]
    assert res.dropped_rows == {"incomplete units (incomplete='drop_units')": 3 * 16 - 1}
    assert res.w_note == "W subset to the 38 complete units of 41 and row-standardised again"
    assert res.nobs == 38 * 16
    keep = [c for c in cities["city_en"].to_list() if c not in res.dropped_units]
    raw = pw.inverse_distance(
        cities["lat"], cities["lon"], ids=cities["city_en"].to_list(), transform=None
    )
    idx = [cities["city_en"].to_list().index(c) for c in keep]
    sub = pw.from_dense(raw.to_dense()[np.ix_(idx, idx)], ids=keep, transform="row")
    ref = _quiet(
        pdid.sar, FML, yrd.filter(pl.col("city").is_in(keep)), W=sub, unit="city", time="year"
    )
    assert list(res.unit_ids) == keep
    # W entries differ from the by-hand ones by ~1 ulp (re-standardised rows vs rows of the
    # raw sub-matrix); Brent's search for rho (tolerance 1e-10) moves the estimates by ~1e-9.
    assert res.coef() == pytest.approx(ref.coef(), rel=1e-7)
    assert res.loglik == pytest.approx(ref.loglik, rel=1e-10)
    # The same W as the package builds it: the same numbers.
    same = _quiet(
        pdid.sar, FML, yrd.filter(pl.col("city").is_in(keep)),
        W=w_names.subset(keep).row_standardise(), unit="city", time="year",
    )  # fmt: skip
    assert res.coef() == same.coef() and res.loglik == same.loglik
    assert "Dropped 3 incomplete unit(s) (Nanjing, Hefei, Wuhu)" in res._summary_text(0.95)


def test_drop_units_keeps_a_raw_w_raw(yrd, cities):
    """A W that was not row-standardised is only subset."""
    raw = pw.inverse_distance(cities["lat"], cities["lon"], ids=list(range(1, 42)), transform=None)
    df = yrd.filter(~((pl.col("city_id") == 7) & (pl.col("year") == 2015)))
    res = _quiet(pdid.sem, FML, df, W=raw, unit="city_id", time="year", incomplete="drop_units")
    assert res.dropped_units == [7]
    assert res.w_note == "W subset to the 40 complete units of 41"
    keep = [i for i in range(1, 42) if i != 7]
    ref = _quiet(
        pdid.sem, FML, yrd.filter(pl.col("city_id") != 7), W=raw.subset(keep),
        unit="city_id", time="year",
    )  # fmt: skip
    assert res.coef() == pytest.approx(ref.coef(), rel=1e-12)


def test_units_of_w_without_rows(yrd, w_names):
    """W's units that have no row in the data are incomplete units too."""
    df = yrd.filter(~pl.col("city").is_in(["Shanghai", "Zhoushan"]))
    with pytest.raises(PilotdidError, match=r"2 of 41 units are incomplete \(Shanghai, "):
        pdid.sdm(FML, df, W=w_names, unit="city", time="year")
    with pytest.raises(PilotdidError, match="Shanghai: no rows"):
        pdid.sdm(FML, df, W=w_names, unit="city", time="year")
    res = _quiet(pdid.sdm, FML, df, W=w_names, unit="city", time="year", incomplete="drop_units")
    assert res.dropped_units == ["Shanghai", "Zhoushan"]
    assert res.dropped_rows == {"incomplete units (incomplete='drop_units')": 0}


def test_ids_not_in_w_counted_as_units_in_plain_strings(yrd, w_names):
    """Data units that W does not have: counted once per unit (not per row), listed as plain
    strings, at most 10 (then "and k more")."""
    df = yrd.with_columns(
        pl.when(pl.col("city_id") <= 12)
        .then(pl.concat_str(pl.lit("X"), pl.col("city_id").cast(pl.String)))
        .otherwise(pl.col("city"))
        .alias("city")
    )
    with pytest.raises(PilotdidError) as e:
        pdid.sar(FML, df, W=w_names, unit="city", time="year")
    msg = str(e.value)
    assert msg.startswith(
        "12 unit(s) of the data are not in W's ids: X1, X2, X3, X4, X5, X6, X7, X8, X9, X10 "
        "and 2 more (W has 41 units, e.g. Shanghai, Nanjing, Wuxi)"
    )


def test_lm_tests_spatial_did_and_options(yrd, w_names):
    """lm_tests and spatial_did take incomplete= as well; bad values name the option."""
    df = _holes(yrd)
    with pytest.raises(PilotdidError, match="3 of 41 units are incomplete"):
        pdid.lm_tests(FML, df, W=w_names, unit="city", time="year")
    full = pdid.lm_tests(
        FML, yrd.filter(~pl.col("city").is_in(["Nanjing", "Hefei", "Wuhu"])),
        W=w_names.subset([c for c in w_names.ids if c not in ("Nanjing", "Hefei", "Wuhu")])
        .row_standardise(), unit="city", time="year",
    )  # fmt: skip
    dropped = pdid.lm_tests(FML, df, W=w_names, unit="city", time="year", incomplete="drop_units")
    assert dropped == pytest.approx(full, rel=1e-12)
    fit, tab = _quiet(
        pdid.spatial_did, df, y="gtfp", treatment="did", unit="city", time="year", W=w_names,
        reps=0, incomplete="drop_units",
    )  # fmt: skip
    # Nanjing's infinite urbanization is not in this model: only Hefei and Wuhu go.
    assert fit.dropped_units == ["Hefei", "Wuhu"] and tab.height == 3
    for fn in (pdid.sar, pdid.lm_tests):
        with pytest.raises(PilotdidError, match="option 'incomplete'"):
            fn(FML, yrd, W=w_names, unit="city", time="year", incomplete="listwise")


def test_weights_subset_equals_the_dense_submatrix(w_names):
    """Weights.subset works on the CSR arrays: equal to the dense sub-matrix, in the order
    of the ids given, kind 'dense' and transform 'raw' as before."""
    ids = ["Wuhu", "Shanghai", "Hefei", "Suzhou_AH", "Nanjing"]
    pos = [list(w_names.ids).index(c) for c in ids]
    sub = w_names.subset(ids)
    assert np.array_equal(sub.to_dense(), w_names.to_dense()[np.ix_(pos, pos)])
    assert list(sub.ids) == ids and sub.kind == "dense" and sub.transform == "raw"

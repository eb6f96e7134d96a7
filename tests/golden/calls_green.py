"""Golden calls, green family: ``green.sbm`` (CRS / VRS, global and contemporaneous frontier,
super-efficiency), ``green.gml`` (global Malmquist-Luenberger and the contemporaneous ML
index), ``green.capital_stock`` (data growth, fixed growth with a deflator, initial stock) and
``green.entropy_index`` (pooled and by year, with negative indicators and the weights).

Each call runs one fixed call on fixed data and returns a flat dict of the numbers the result
exposes today (see _golden.py for how they are stored)."""

from __future__ import annotations

import warnings
from typing import Any

import _data as D
import polars as pl
from _golden import frame

import pilotdid.green as pg

INPUTS = ["labour", "investment", "energy"]
GOOD = "real_gdp"
BAD = ["so2", "wastewater", "dust"]
IDS = {"unit": "city", "time": "year"}


def _quiet(fn, *args, **kwargs) -> Any:
    """Runs fn with its warnings (e.g. infeasible super-SBM programs) silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _one_year() -> pl.DataFrame:
    return D.green().filter(pl.col("year") == 2012)


def sbm_crs_global():
    return frame(pg.sbm(D.green(), inputs=INPUTS, good=GOOD, bad=BAD, **IDS), "sbm")


def sbm_vrs_one_year():
    res = pg.sbm(_one_year(), inputs=INPUTS, good=GOOD, bad=BAD, unit="city", rts="vrs")
    return frame(res, "sbm")


def sbm_crs_contemporaneous_no_bad():
    res = pg.sbm(D.green(), inputs=INPUTS[:2], good=[GOOD], frontier="contemporaneous", **IDS)
    return frame(res, "sbm")


def sbm_super_crs():
    res = pg.sbm(_one_year(), inputs=INPUTS, good=GOOD, bad=BAD, super_efficiency=True)
    return frame(res, "sbm")


def sbm_super_vrs():
    res = _quiet(
        pg.sbm, _one_year(), inputs=INPUTS, good=GOOD, bad=BAD, rts="vrs", super_efficiency=True
    )
    return frame(res, "sbm")


def gml_global_crs():
    return frame(pg.gml(D.green(), inputs=INPUTS, good=GOOD, bad=BAD, **IDS), "gml")


def gml_global_vrs():
    return frame(
        _quiet(pg.gml, D.green(), inputs=INPUTS, good=GOOD, bad=BAD, rts="vrs", **IDS), "gml"
    )


def ml_contemporaneous():
    res = _quiet(
        pg.gml, D.green(), inputs=INPUTS, good=GOOD, bad=BAD, frontier="contemporaneous", **IDS
    )
    return frame(res, "ml")


def ml_contemporaneous_super():
    res = _quiet(
        pg.gml,
        D.green(),
        inputs=INPUTS,
        good=GOOD,
        bad=BAD,
        frontier="contemporaneous",
        super_efficiency=True,
        **IDS,
    )
    return frame(res, "ml")


def capital_stock_default():
    return frame(pg.capital_stock(D.yrd(), investment="investment", **IDS), "k")


def capital_stock_growth_deflator():
    res = pg.capital_stock(
        D.green(),
        investment="investment",
        deflator="defl",
        delta=0.05,
        growth=0.1,
        name="K",
        **IDS,
    )
    return frame(res, "k")


def capital_stock_initial_growth_years():
    df = D.green().with_columns(k0=pl.col("investment") * 3.0)
    out = frame(pg.capital_stock(df, investment="investment", initial_stock="k0", **IDS), "k0")
    g5 = pg.capital_stock(D.yrd(), investment="investment", growth_years=5, **IDS)
    out.update(frame(g5, "g5"))
    return out


def entropy_pooled_weights():
    idx, w = pg.entropy_index(
        D.green(),
        indicators=["ln_gdp_pc", "urbanization", "human_capital", "so2"],
        negative=["so2"],
        return_weights=True,
        **IDS,
    )  # fmt: skip
    out = frame(idx, "index")
    out.update(frame(w, "weights"))
    return out


def entropy_by_year():
    idx, w = pg.entropy_index(
        D.green(),
        indicators=["ln_gdp_pc", "urbanization", "dust"],
        negative=["dust"],
        by="year",
        shift=1e-3,
        name="eidx",
        return_weights=True,
        **IDS,
    )  # fmt: skip
    out = frame(idx, "index")
    out.update(frame(w, "weights"))
    return out


CALLS = {
    f.__name__: f
    for f in (
        sbm_crs_global,
        sbm_vrs_one_year,
        sbm_crs_contemporaneous_no_bad,
        sbm_super_crs,
        sbm_super_vrs,
        gml_global_crs,
        gml_global_vrs,
        ml_contemporaneous,
        ml_contemporaneous_super,
        capital_stock_default,
        capital_stock_growth_deflator,
        capital_stock_initial_growth_years,
        entropy_pooled_weights,
        entropy_by_year,
    )
}

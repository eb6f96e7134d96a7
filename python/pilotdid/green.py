"""Green-economy outcomes: SBM efficiency, Malmquist-Luenberger GTFP, capital stock, entropy index.

Build the outcome first, then hand the frame to the DID calls::

    import pilotdid as pdid
    k = pdid.green.capital_stock(df, investment="investment", unit="city", time="year")
    df = df.join(k, on=["city", "year"])
    g = pdid.green.gml(df, inputs=["labour", "capital", "energy"], good="gdp",
                       bad=["so2", "wastewater", "dust"], unit="city", time="year")
    res = pdid.att_gt(df.join(g, on=["city", "year"]), y="gtfp", ...)

Every function takes ``data`` first and everything else by keyword (the package's one
vocabulary: ``unit``, ``time``, ``frontier``).

Every number is computed in the Rust core (``src/green/``); this module checks arguments,
drops incomplete rows (with a warning that counts them) and builds polars frames. The caller's
frame is never modified. Models, formulas and conventions are documented on each function.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._args import check_bool, check_choice, check_float, check_int, vocabulary
from pilotdid._core import (
    PilotdidError,
    green_capital_stock,
    green_entropy,
    green_malmquist,
    green_sbm,
)

__all__ = ["capital_stock", "entropy_index", "gml", "sbm"]

_RTS = ("crs", "vrs")


def _names(value: str | Sequence[str] | None, option: str, required: bool) -> list[str]:
    if value is None:
        if required:
            raise PilotdidError(f"option '{option}': give at least one column name")
        return []
    names = [value] if isinstance(value, str) else list(value)
    if required and not names:
        raise PilotdidError(f"option '{option}': give at least one column name")
    for n in names:
        if not isinstance(n, str) or not n:
            raise PilotdidError(f"option '{option}': {n!r} is not a column name")
    return names


def _choice(value: str, option: str, allowed: Sequence[str]) -> str:
    return check_choice(option, value, allowed)


def _bad_weight(value: Any) -> float:
    """``bad_weight``: good:bad = 1:bad_weight, a finite number > 0."""
    return check_float("bad_weight", value, lo=0.0, lo_open=True)


def _drop_incomplete(df: pl.DataFrame, columns: list[str], what: str) -> pl.DataFrame:
    """Drop rows with a missing (null/NaN) value in `columns`, warning with the count."""
    mask = pl.lit(False)
    for c in columns:
        col = pl.col(c)
        mask = mask | col.is_null()
        if df.schema[c].is_float():
            mask = mask | col.is_nan()
    bad = df.select(mask.alias("m"))["m"]
    n_bad = int(bad.sum() or 0)
    if n_bad:
        warnings.warn(
            f"{what}: dropped {n_bad} row(s) with missing values in {columns}",
            stacklevel=3,
        )
        df = df.filter(~bad)
    if df.height == 0:
        raise PilotdidError(f"{what}: no complete rows left")
    return df


def _time(df: pl.DataFrame, name: str) -> np.ndarray:
    t = df.get_column(name)
    if not (t.dtype.is_integer() or t.dtype.is_float()):
        raise PilotdidError(f"column '{name}' must hold integer periods (e.g. years)")
    tv = t.cast(pl.Float64).to_numpy()
    if np.any(~np.isfinite(tv)) or np.any(tv != np.floor(tv)):
        raise PilotdidError(f"column '{name}' must hold integer periods (e.g. years)")
    return tv.astype(np.int64)


def _unit_codes(df: pl.DataFrame, name: str) -> tuple[np.ndarray, list[str]]:
    u = df.get_column(name)
    levels = u.unique(maintain_order=True)
    codes = (
        u.to_frame("u")
        .join(levels.to_frame("u").with_row_index("code"), on="u", how="left")
        .get_column("code")
        .to_numpy()
        .astype(np.uint32)
    )
    return np.ascontiguousarray(codes), [str(v) for v in levels.to_list()]


def _row_labels(df: pl.DataFrame, unit: str | None, time: str | None) -> list[str]:
    n = df.height
    if unit is None and time is None:
        return [f"row {i}" for i in range(n)]
    parts = []
    if unit is not None:
        parts.append([f"{unit}={v}" for v in df.get_column(unit).cast(pl.String).to_list()])
    if time is not None:
        parts.append([f"{time}={v}" for v in df.get_column(time).cast(pl.String).to_list()])
    return [", ".join(p) for p in zip(*parts)]


def _cols(df: pl.DataFrame, names: list[str]) -> list[tuple[str, np.ndarray]]:
    return [(n, _frame.numeric(df, n)) for n in names]


def _prepare(
    data: Any,
    inputs: Any,
    good: Any,
    bad: Any,
    unit: str | None,
    time: str | None,
    what: str,
) -> tuple[pl.DataFrame, list[str], list[str], list[str]]:
    xs = _names(inputs, "inputs", True)
    ys = _names(good, "good", True)
    bs = _names(bad, "bad", False)
    ids = [c for c in (unit, time) if c is not None]
    dup = {c for c in xs + ys + bs if (xs + ys + bs).count(c) > 1}
    if dup:
        raise PilotdidError(f"column '{sorted(dup)[0]}' is listed twice among inputs/outputs")
    df = _frame.to_polars(data, ids + xs + ys + bs)
    df = _drop_incomplete(df, ids + xs + ys + bs, what)
    return df, xs, ys, bs


@vocabulary()
def sbm(
    data: Any,
    *,
    inputs: str | Sequence[str],
    good: str | Sequence[str],
    bad: str | Sequence[str] | None = None,
    unit: str | None = None,
    time: str | None = None,
    rts: str = "crs",
    frontier: str = "global",
    super_efficiency: bool = False,
    bad_weight: float = 1.0,
) -> pl.DataFrame:
    """Slacks-based measure of efficiency with undesirable outputs, one score per row.

    Tone (2001) SBM, bad outputs as in Tone (2004) / Cooper, Seiford and Tone (2007, §13.4),
    non-oriented, ``rts="crs"`` or ``"vrs"``. ``frontier="global"`` evaluates every row against
    all rows; ``"contemporaneous"`` against the rows of the same ``time``. With
    ``super_efficiency=True`` efficient rows get Tone's (2002) super-SBM score (>= 1).

    ``bad_weight`` is the good:bad weighting of Tone (2003, GRIPS Research Report
    I-2003-0005, eq. 43), "good:bad = 1:bad_weight": with ``s1`` good and ``s2`` bad outputs,
    ``K = s1 + s2``, the score is::

        rho = [1 - (1/m) sum_i s-_i / x_io]
              / [1 + (1/K) (w_g sum_r sg_r / yg_ro + w_b sum_r sb_r / yb_ro)]

    with ``w_b / w_g = bad_weight`` and the weights of all outputs summing to ``K``
    (``s1 w_g + s2 w_b = K``, so ``w_g = K / (s1 + s2 bad_weight)``). Tone's 1:0.3 example
    (one good, one bad output) is ``bad_weight=0.3``: ``w_g = 2/1.3``, ``w_b = 0.6/1.3``. The
    default 1 is the unweighted model; a larger value makes bad-output excess cost more. It
    must be a finite number > 0 and needs ``bad`` outputs; super-SBM rows use the same
    weights in their denominator. The non-separable good/bad output model of Tone (2003,
    section 5) is not offered: every output here is separable.

    Inputs and outputs must be strictly positive (the model divides by them): a zero or
    negative value raises an error naming the column and the unit-year. Rows with missing
    values are dropped with a warning.

    Returns a polars frame with ``unit``/``time`` (when given), ``score``, ``model``
    (``"sbm"`` or ``"super_sbm"``), ``status`` (``"optimal"``; ``"infeasible"`` where a
    super-SBM program under VRS has no solution: then ``score`` is NaN and a warning gives the
    count) and one ``slack_<column>`` per input and output, in data units (input excess,
    good-output shortfall, bad-output excess; for super-SBM rows, the distance to the
    super-efficient projection).
    """
    _choice(rts, "rts", _RTS)
    _choice(frontier, "frontier", ("global", "contemporaneous"))
    super_efficiency = check_bool("super_efficiency", super_efficiency)
    if frontier == "contemporaneous" and time is None:
        raise PilotdidError("option 'time': a contemporaneous frontier needs the time column")
    df, xs, ys, bs = _prepare(data, inputs, good, bad, unit, time, "sbm")
    period = _time(df, time) if time is not None else np.zeros(df.height, dtype=np.int64)
    out = green_sbm(
        _cols(df, xs),
        _cols(df, ys),
        _cols(df, bs),
        _row_labels(df, unit, time),
        period,
        rts,
        frontier,
        bool(super_efficiency),
        _bad_weight(bad_weight),
    )
    if out["n_infeasible"]:
        warnings.warn(
            f"sbm: {out['n_infeasible']} program(s) infeasible: score NaN where "
            "status == 'infeasible'",
            stacklevel=2,
        )
    slacks = out["slacks"]
    res = pl.DataFrame(
        [
            pl.Series("score", out["score"]),
            pl.Series("model", out["model"], dtype=pl.String),
            pl.Series("status", out["status"], dtype=pl.String),
        ]
        + [pl.Series(f"slack_{c}", slacks[:, k]) for k, c in enumerate(xs + ys + bs)]
    )
    return _with_ids(df, [c for c in (unit, time) if c is not None], res)


def _with_ids(df: pl.DataFrame, ids: list[str], res: pl.DataFrame) -> pl.DataFrame:
    return pl.concat([df.select(ids), res], how="horizontal") if ids else res


@vocabulary(renamed={"kind": "frontier"})
def gml(
    data: Any,
    *,
    inputs: str | Sequence[str],
    good: str | Sequence[str],
    bad: str | Sequence[str] | None = None,
    unit: str,
    time: str,
    frontier: str = "global",
    rts: str = "crs",
    super_efficiency: bool = False,
) -> pl.DataFrame:
    """Malmquist-Luenberger productivity index on SBM efficiencies, and cumulative GTFP.

    ``frontier="global"`` (default): the global ML index of Oh (2010) with SBM distances,
    ``gml = E^G(t) / E^G(t-1)`` where ``E^G`` is the SBM score against the frontier of all
    periods; ``ec = E^t(t) / E^{t-1}(t-1)`` (contemporaneous frontiers), ``tc = gml / ec``;
    ``gtfp`` is the cumulative index with the unit's first year = 1 (``gtfp_t =
    gtfp_{t-1} * gml_t = E^G(t) / E^G(base)``: the global index is circular).
    ``frontier="contemporaneous"``: the Chung-Färe-Grosskopf (1997) geometric-mean ML index on
    SBM scores, ``ml = sqrt([E^{t-1}(t)/E^{t-1}(t-1)] [E^t(t)/E^t(t-1)])``; its cross-period
    programs can be infeasible (a unit beyond the other period's frontier): then the index
    is NaN, ``status == "infeasible"`` and a warning gives the count; ``super_efficiency=True``
    scores such units by super-SBM instead.

    Returns a polars frame with ``unit``, ``time``, the index (``gml`` or ``ml``), ``ec``,
    ``tc``, ``gtfp``, the efficiencies (``eff_global`` for the global frontier,
    ``eff_contemporaneous``) and ``status``: ``"base"`` (a unit's first year: index null,
    gtfp 1), ``"gap"`` (the unit lacks the previous year: index NaN), ``"ok"`` or
    ``"infeasible"``. Join it on (unit, time) to the panel and use ``gtfp`` (or ``gml``) as
    the DID outcome.
    """
    _choice(frontier, "frontier", ("global", "contemporaneous"))
    _choice(rts, "rts", _RTS)
    super_efficiency = check_bool("super_efficiency", super_efficiency)
    for opt, val in (("unit", unit), ("time", time)):
        if not isinstance(val, str) or not val:
            raise PilotdidError(f"option '{opt}': give a column name")
    df, xs, ys, bs = _prepare(data, inputs, good, bad, unit, time, "gml")
    codes, _levels = _unit_codes(df, unit)
    out = green_malmquist(
        _cols(df, xs),
        _cols(df, ys),
        _cols(df, bs),
        _row_labels(df, unit, time),
        codes,
        _time(df, time),
        frontier,
        rts,
        bool(super_efficiency),
    )
    if out["n_infeasible"]:
        warnings.warn(
            f"gml: {out['n_infeasible']} unit-year(s) with an infeasible program: index NaN "
            "where status == 'infeasible'",
            stacklevel=2,
        )
    status = pl.Series("status", out["status"])
    name = "gml" if frontier == "global" else "ml"
    cols = [
        pl.Series(name, out["index"]),
        pl.Series("ec", out["ec"]),
        pl.Series("tc", out["tc"]),
        pl.Series("gtfp", out["cumulative"]),
    ]
    if frontier == "global":
        cols.append(pl.Series("eff_global", out["eff_global"]))
    cols += [pl.Series("eff_contemporaneous", out["eff_contemporaneous"]), status]
    res = df.select(unit, time).with_columns(cols)
    # The base year has no previous year: null (not NaN) marks "undefined by construction".
    return res.with_columns(
        [
            pl.when(pl.col("status") == "base").then(None).otherwise(pl.col(c)).alias(c)
            for c in (name, "ec", "tc")
        ]
    )


@vocabulary()
def capital_stock(
    data: Any,
    *,
    investment: str,
    unit: str,
    time: str,
    deflator: str | None = None,
    delta: float = 0.096,
    growth: float | None = None,
    growth_years: int | None = None,
    initial_stock: str | None = None,
    name: str = "capital",
) -> pl.DataFrame:
    """Capital stock by the perpetual inventory method, per unit over consecutive years.

    ``K_t = (1 - delta) K_{t-1} + I_t / P_t`` with ``P`` the ``deflator`` column (1 if none)
    and ``delta = 0.096`` by default (Zhang, Wu and Zhang 2004). The first year's stock is
    ``K_0 = I_0 / P_0 / (g + delta)`` (Hall and Jones 1999 steady state) where ``g`` is
    ``growth`` if given, else the unit's geometric mean growth rate of real investment over
    its first ``growth_years`` years (all years by default); or the value of the
    ``initial_stock`` column in the unit's first year. Years must be consecutive within a unit.

    Returns a polars frame with ``unit``, ``time``, ``name`` (the stock, in the deflated units
    of investment), ``real_investment`` and ``pim_growth`` (the ``g`` used, NaN with
    ``initial_stock``).
    """
    for opt, val in (("unit", unit), ("time", time), ("investment", investment)):
        if not isinstance(val, str) or not val:
            raise PilotdidError(f"option '{opt}': give a column name")
    if growth is not None and initial_stock is not None:
        raise PilotdidError("options 'growth' and 'initial_stock' exclude each other")
    if growth_years is not None:
        growth_years = check_int("growth_years", growth_years, lo=2)
    delta = check_float("delta", delta, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    if growth is not None:
        growth = check_float("growth", growth)  # g + delta > 0 is checked per unit in the core
    extra = [c for c in (deflator, initial_stock) if c is not None]
    cols = [unit, time, investment, *extra]
    df = _frame.to_polars(data, cols)
    df = _drop_incomplete(df, [unit, time, investment, *([deflator] if deflator else [])], name)
    codes, levels = _unit_codes(df, unit)
    out = green_capital_stock(
        codes,
        levels,
        _time(df, time),
        _frame.numeric(df, investment),
        _frame.numeric(df, deflator) if deflator is not None else None,
        delta,
        growth,
        growth_years,
        _frame.numeric(df, initial_stock) if initial_stock is not None else None,
    )
    return df.select(unit, time).with_columns(
        pl.Series(name, out["capital"]),
        pl.Series("real_investment", out["real_investment"]),
        pl.Series("pim_growth", out["growth"]),
    )


@vocabulary()
def entropy_index(
    data: Any,
    *,
    indicators: Sequence[str],
    negative: Sequence[str] = (),
    unit: str | None = None,
    time: str | None = None,
    by: str = "pooled",
    shift: float = 1e-4,
    name: str = "entropy_index",
    return_weights: bool = False,
) -> pl.DataFrame | tuple[pl.DataFrame, pl.DataFrame]:
    """Entropy-weight composite index.

    Each indicator is min-max standardised (``(x - min)/(max - min)``, or ``(max - x)/(max -
    min)`` for those listed in ``negative``), shifted by ``shift`` for the proportions
    ``p_ij = (z_ij + shift) / sum_i (z_ij + shift)`` (so that ``ln p`` is finite), entropy
    ``e_j = -sum_i p_ij ln p_ij / ln n``, weight ``w_j = (1 - e_j) / sum_l (1 - e_l)``, and
    ``index_i = sum_j w_j z_ij`` (in [0, 1]). ``by="pooled"``: one standardisation and one
    set of weights over all unit-years; ``by="year"``: per ``time`` value.

    Returns the frame ``unit``/``time`` (when given) + ``name``; with ``return_weights=True``
    also a frame of weights (``group``, ``indicator``, ``weight``, ``entropy``).
    """
    inds = _names(list(indicators), "indicators", True)
    neg = _names(list(negative), "negative", False)
    unknown = [c for c in neg if c not in inds]
    if unknown:
        raise PilotdidError(f"option 'negative': '{unknown[0]}' is not among the indicators")
    _choice(by, "by", ("pooled", "year"))
    # a shift is a small constant that keeps ln p finite; beyond 1 it swamps the data
    shift = check_float("shift", shift, lo=0.0, hi=1.0)
    return_weights = check_bool("return_weights", return_weights)
    if by == "year" and time is None:
        raise PilotdidError("option 'time': by='year' needs the time column")
    ids = [c for c in (unit, time) if c is not None]
    df = _frame.to_polars(data, ids + inds)
    df = _drop_incomplete(df, ids + inds, "entropy_index")
    if by == "year":
        t = _time(df, time)  # type: ignore[arg-type]
        levels, group = np.unique(t, return_inverse=True)
        group_labels = [str(v) for v in levels]
    else:
        group = np.zeros(df.height, dtype=np.int64)
        group_labels = ["pooled"]
    out = green_entropy(
        _cols(df, inds),
        [c not in neg for c in inds],
        np.ascontiguousarray(group.astype(np.uint32)),
        shift,
    )
    res = _with_ids(df, ids, pl.DataFrame([pl.Series(name, out["index"])]))
    if not return_weights:
        return res
    w, e = out["weights"], out["entropy"]
    weights = pl.DataFrame(
        {
            "group": [g for g in group_labels for _ in inds],
            "indicator": [c for _ in group_labels for c in inds],
            "weight": w.ravel(),
            "entropy": e.ravel(),
        }
    )
    return res, weights

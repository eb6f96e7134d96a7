"""Inputs to green TFP: perpetual-inventory capital stock and the entropy-weight index."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._args import check_bool, check_float, check_int, vocabulary
from pilotdid._core import (
    PilotdidError,
    green_capital_stock,
    green_entropy,
)
from pilotdid.green._prepare import _choice, _cols, _drop_incomplete, _names, _time, _unit_codes
from pilotdid.green.frontier import _with_ids

__all__ = ["capital_stock", "entropy_index"]


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

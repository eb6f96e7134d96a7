"""Efficiency on a frontier: SBM with undesirable outputs (Tone 2003) and the global
Malmquist-Luenberger index (Rust core LP solver)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from pilotdid._args import check_bool, vocabulary
from pilotdid._core import (
    PilotdidError,
    green_malmquist,
    green_sbm,
)
from pilotdid.green._prepare import (
    _RTS,
    _bad_weight,
    _choice,
    _cols,
    _prepare,
    _row_labels,
    _time,
    _unit_codes,
)

__all__ = ["gml", "sbm"]


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

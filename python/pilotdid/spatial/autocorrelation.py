"""Moran's I, global and local, with permutation inference (Rust core)."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from pilotdid import _core, _frame
from pilotdid._args import (
    check_reps,
    check_seed,
    check_str,
    vocabulary,
)
from pilotdid._core import PilotdidError
from pilotdid.results._inference import normal_pvalue
from pilotdid.spatial._inputs import (
    _MORAN_BYTES_PER_REP,
    _as_weights,
    _block_diag,
    _is_frame,
    _refuse_constant,
    _variable,
)
from pilotdid.spatial.weights import Weights

__all__ = ["moran", "moran_local"]


@vocabulary(renamed={"permutations": "reps"})
def moran(
    data: Any,
    *,
    W: Any,
    y: str | None = None,
    unit: str | None = None,
    time: str | None = None,
    reps: int = 999,
    seed: int = 0,
) -> dict[str, Any] | pl.DataFrame:
    """Global Moran's I.

    ``moran(values, W=W)``: ``data`` is the variable, a vector in the order of ``W.ids``;
    returns a dict with ``I``, ``EI``, ``VI_norm``, ``z_norm``, ``p_norm`` (two-sided),
    ``VI_rand``, ``z_rand``, ``p_rand``, ``p_sim`` (folded one-sided permutation pseudo
    p-value from ``reps`` permutations, as esda; NaN with ``reps=0``), ``EI_sim``, ``seI_sim``,
    ``permutations`` (the count used). ``moran(df, W=W, y="col", unit=..., time=...)``: one row
    per period and a ``pooled`` row (I_T kron W on the stacked panel) as a polars DataFrame
    with a ``period`` column; without ``time`` the frame holds one cross-section (a dict).
    W is used as given (row-standardise it first for the usual statistic). A constant
    variable is an error (I is undefined).
    """
    w = _as_weights(W)
    reps = check_reps("reps", reps, bytes_per_rep=_MORAN_BYTES_PER_REP, lo=0)
    seed = check_seed(seed)
    if y is None:
        if _is_frame(data):
            raise PilotdidError(
                "moran: data is a data frame; name the variable with y= (and the unit column "
                "with unit=, the period column with time= for a panel)"
            )
        if unit is not None or time is not None:
            raise PilotdidError(
                "moran: unit= and time= need a data frame and y=; an array is the variable "
                "itself, in the order of W.ids"
            )
        v = _variable(data, "moran")
        _refuse_constant(v, "the variable", "moran")
        return _moran_vec(v, w, reps, seed)
    y = check_str("y", y)
    if unit is None:
        raise PilotdidError("moran with a data frame needs unit= (and time= for a panel)")
    unit = check_str("unit", unit)
    time = None if time is None else check_str("time", time)
    cols = [y, unit] + ([time] if time else [])
    df = _frame.to_polars(data, cols)
    if time is None:
        pos = w.positions(df.get_column(unit).to_list())
        v = np.full(w.n, np.nan)
        v[pos] = _frame.numeric(df, y)
        _refuse_constant(v, f"column '{y}'", "moran")
        return _moran_vec(v, w, reps, seed)
    rows = []
    periods = sorted(df.get_column(time).unique().to_list())
    stacked = []
    per_period = []
    if not periods:
        raise PilotdidError(f"data: no rows (no period in column '{time}')")
    for t in periods:
        sub = df.filter(pl.col(time) == t)
        pos = w.positions(sub.get_column(unit).to_list())
        if len(set(pos.tolist())) != w.n:
            raise PilotdidError(f"period {t!r}: the panel must have every unit of W once")
        v = np.full(w.n, np.nan)
        v[pos] = _frame.numeric(sub, y)
        _refuse_constant(v, f"column '{y}' in period {t!r}", "moran")
        stacked.append(v)
        per_period.append((t, v))
    for t, v in per_period:
        r = _moran_vec(v, w, reps, seed)
        rows.append({"period": str(t), **r})
    big = _block_diag(w, len(periods))
    r = _moran_vec(np.concatenate(stacked), big, reps, seed)
    rows.append({"period": "pooled", **r})
    return pl.DataFrame(rows)


#: moran()'s columns (esda's names) and the core's MoranCore field behind each.
_MORAN_FIELDS = (
    ("I", "i"),
    ("EI", "ei"),
    ("VI_norm", "vi_norm"),
    ("z_norm", "z_norm"),
    ("VI_rand", "vi_rand"),
    ("z_rand", "z_rand"),
    ("p_sim", "p_sim"),
    ("EI_sim", "ei_sim"),
    ("seI_sim", "sd_sim"),
    ("permutations", "permutations"),
)


def _moran_vec(v: np.ndarray, w: Weights, reps: int, seed: int) -> dict[str, Any]:
    if v.shape[0] != w.n:
        raise PilotdidError(f"moran: {v.shape[0]} values for a W with {w.n} units")
    m = _core.sp_moran(np.ascontiguousarray(v), w._sparse(), permutations=reps, seed=seed)
    d: dict[str, Any] = {name: getattr(m, attr) for name, attr in _MORAN_FIELDS}
    d["p_norm"] = normal_pvalue(d["z_norm"])
    d["p_rand"] = normal_pvalue(d["z_rand"])
    return d


@vocabulary(renamed={"permutations": "reps"})
def moran_local(
    data: Any, *, W: Any, y: str | None = None, reps: int = 999, seed: int = 0
) -> pl.DataFrame:
    """Local Moran's I (LISA): ``Is`` = (n-1) z_i (Wz)_i / sum z^2 (esda's scaling), the
    quadrant ``q`` (1 HH, 2 LH, 3 LL, 4 HL) and conditional-permutation pseudo p-values
    ``p_sim`` from ``reps`` permutations per unit (NaN with ``reps=0``); one row per unit
    (``id``). ``data`` is the variable in the order of ``W.ids``, or a data frame whose
    column ``y`` is, row by row, in that order."""
    w = _as_weights(W)
    # Nothing is stored per permutation (each unit keeps a count), so only MAX_REPS bounds it.
    reps = check_reps("reps", reps, bytes_per_rep=0, lo=0)
    seed = check_seed(seed)
    if y is None:
        if _is_frame(data):
            raise PilotdidError(
                "moran_local: data is a data frame; name the variable with y= (its rows in "
                "the order of W.ids)"
            )
        v = _variable(data, "moran_local")
        name = "the variable"
    else:
        y = check_str("y", y)
        v = _frame.numeric(_frame.to_polars(data, [y]), y)
        name = f"column '{y}'"
    _refuse_constant(v, name, "moran_local")
    d = _core.sp_moran_local(np.ascontiguousarray(v), w._sparse(), permutations=reps, seed=seed)
    q = np.asarray(d.quadrant, dtype=np.int64)
    return pl.DataFrame({"id": list(w.ids), "Is": d.local_i, "q": q, "p_sim": d.p_sim})

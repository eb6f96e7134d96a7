"""Inputs shared by the spatial estimators: W as :class:`Weights`, variables from frames
or arrays, formula and panel preparation, effect options."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._args import (
    check_choice,
)
from pilotdid._core import PilotdidError
from pilotdid._formula import parse_formula
from pilotdid.spatial.weights import Weights, from_dense

_EFFECTS = ("individual", "time", "twoways", "none")


_METHODS = ("auto", "dense", "sparse")


def _as_weights(W: Any, ids: np.ndarray | None = None) -> Weights:
    if W is None:
        raise PilotdidError(
            "option 'W': spatial weights are required (a pilotdid.weights.Weights, a square "
            "array or a scipy sparse matrix)"
        )
    if isinstance(W, Weights):
        return W
    if hasattr(W, "tocoo"):
        from pilotdid.spatial.weights import from_sparse

        return from_sparse(W, ids=ids)
    return from_dense(W, ids=ids)


def _is_frame(data: Any) -> bool:
    return (
        isinstance(data, (pl.DataFrame, Mapping))
        or _frame._is_pandas(data)
        or (isinstance(data, np.ndarray) and data.dtype.names is not None)
    )


def _variable(data: Any, what: str) -> np.ndarray:
    """An array given as the variable itself, as contiguous float64."""
    try:
        v = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise PilotdidError(
            f"{what}: data must be the variable (numbers, in the order of W.ids) or a data "
            f"frame with y=; got {type(data).__name__}"
        ) from e
    if v.ndim != 1:
        raise PilotdidError(f"{what}: the variable must be one-dimensional, got shape {v.shape}")
    return np.ascontiguousarray(v)


def _refuse_constant(v: np.ndarray, name: str, what: str) -> None:
    """Moran's I divides by the variable's sum of squared deviations: a constant variable has
    none, and the core would return I = NaN next to a permutation p-value that looks
    significant. Non-finite values are left to the core, which names their row."""
    if v.size and np.all(v == v[0]):
        raise PilotdidError(
            f"{what}: {name} is constant (every value is {v[0]:g}); Moran's I is undefined "
            "for a variable without variation"
        )


#: Bytes the core stores per permutation of the global Moran's I (one simulated I, f64).
_MORAN_BYTES_PER_REP = 8


def _block_diag(w: Weights, t: int) -> Weights:
    n = w.n
    indptr = np.concatenate([[0]] + [w.indptr[1:] + s * w.nnz for s in range(t)]).astype(np.int64)
    indices = np.concatenate([w.indices + s * n for s in range(t)]).astype(np.int64)
    data = np.tile(w.data, t)
    return Weights(np.arange(n * t), indptr, indices, data, w.transform, w.kind)


def _check_fml(fml: Any) -> str:
    if not isinstance(fml, str) or not fml.strip():
        raise PilotdidError(f"option 'fml': expected a formula string like 'y ~ x', got {fml!r}")
    return fml


def _prepare(fml: str, data: Any, W: Any, unit: str, time: str):
    f = parse_formula(fml)
    if f.fixef:
        raise PilotdidError(
            "spatial models take fixed effects from effects=, not from '|' in the formula"
        )
    if not f.simple:
        raise PilotdidError("spatial models accept plain column names on the right-hand side")
    xnames = list(f.rhs)
    if not xnames:
        raise PilotdidError("spatial models need at least one regressor")
    df = _frame.to_polars(data, [f.depvar, *xnames, unit, time])
    w = _as_weights(W)
    unit_vals = df.get_column(unit).to_list()
    pos = w.positions(unit_vals)
    used = np.zeros(w.n, bool)
    used[pos] = True
    if not used.all():
        missing = [w.ids[i] for i in np.flatnonzero(~used)][:5]
        raise PilotdidError(
            f"W has {int((~used).sum())} unit(s) with no rows in the data (e.g. {missing!r}): "
            "subset W with W.subset(ids) and re-standardise"
        )
    tcol = df.get_column(time)
    periods = np.asarray(sorted(tcol.unique().to_list()))
    tmap = {v: i for i, v in enumerate(periods.tolist())}
    tcode = np.asarray([tmap[v] for v in tcol.to_list()], dtype=np.uint32)
    y = _frame.numeric(df, f.depvar)
    xs = [_frame.numeric(df, c) for c in xnames]
    return f.depvar, xnames, w, pos.astype(np.uint32), tcode, periods, y, xs


def _check_effects(effects: Any) -> str:
    return check_choice("effects", effects, _EFFECTS)

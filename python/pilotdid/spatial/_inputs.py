"""Inputs shared by the spatial estimators: W as :class:`Weights`, variables from frames
or arrays, formula and panel preparation, effect options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._args import LISTED_IDS, check_choice, id_list, plain_id
from pilotdid._core import PilotdidError
from pilotdid._formula import parse_formula
from pilotdid.spatial.weights import Weights, _key, from_dense

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


def _is_period_weights(W: Any) -> bool:
    """A W per period: a dict {period: W} or a list / tuple of matrices (Weights, scipy
    sparse or 2-D arrays). A nested list of numbers stays one dense W."""
    if isinstance(W, Mapping):
        return True
    if isinstance(W, (list, tuple)) and len(W) > 0:
        return all(
            isinstance(x, Weights)
            or hasattr(x, "tocoo")
            or (isinstance(x, np.ndarray) and x.ndim == 2)
            for x in W
        )
    return False


def _same_weights(a: Weights, b: Weights) -> bool:
    """Bit-for-bit equal matrices on the same units in the same order."""
    return (
        a.n == b.n
        and [_key(v) for v in a.ids] == [_key(v) for v in b.ids]
        and np.array_equal(a.indptr, b.indptr)
        and np.array_equal(a.indices, b.indices)
        and a.data.dtype == b.data.dtype
        and a.data.tobytes() == b.data.tobytes()
    )


def _period_weights(W: Any, periods: np.ndarray) -> list[Weights]:
    """One :class:`Weights` per period of the data (in period order), from a dict
    {period: W} (keys matched to the data's period values; keys for other periods are
    ignored) or a list ordered like the sorted periods. Every W_t must have the units of the
    first period's W in the same order."""
    plist = [_python(v) for v in periods.tolist()]
    if isinstance(W, Mapping):
        given = {_key(k): v for k, v in W.items()}
        missing = [p for p in plist if _key(p) not in given]
        if missing:
            raise PilotdidError(
                f"option 'W': no W for period(s) {id_list(missing)} of the data (the dict has "
                f"W for {id_list(list(W.keys()))}); give one W per period"
            )
        raw = [given[_key(p)] for p in plist]
    else:
        if len(W) != len(plist):
            raise PilotdidError(
                f"option 'W': {len(W)} period matrices for the {len(plist)} periods of the data "
                f"({id_list(plist)}); give one W per period in period order, or a dict "
                "{period: W}"
            )
        raw = list(W)
    ws = [_as_weights(x) for x in raw]
    first = ws[0]
    first_keys = [_key(v) for v in first.ids]
    for p, w in zip(plist[1:], ws[1:]):
        keys = [_key(v) for v in w.ids]
        if keys == first_keys:
            continue
        extra = [v for v in w.ids if _key(v) not in set(first_keys)]
        lacking = [v for v in first.ids if _key(v) not in set(keys)]
        if extra or lacking:
            parts = []
            if lacking:
                parts.append(f"lacks {id_list(lacking)}")
            if extra:
                parts.append(f"adds {id_list(extra)}")
            raise PilotdidError(
                f"option 'W': the W of period {plain_id(p)} has a different unit set from the "
                f"W of period {plain_id(plist[0])}: it {' and '.join(parts)}; every W_t must "
                "have the same units in the same order"
            )
        raise PilotdidError(
            f"option 'W': the W of period {plain_id(p)} has the units of period "
            f"{plain_id(plist[0])}'s W in a different order; every W_t must have the same "
            "units in the same order"
        )
    return ws


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


#: How a spatial panel treats units with missing periods or missing / infinite values.
_INCOMPLETE = ("error", "drop_units")


def _python(v: Any) -> Any:
    """A numpy scalar id as the Python value (``np.str_('Hefei')`` -> ``'Hefei'``)."""
    return v.item() if isinstance(v, np.generic) else v


@dataclass
class Prepared:
    """A spatial panel ready for the core, and what was dropped to make it balanced."""

    depvar: str
    xnames: list[str]
    w: Weights
    pos: np.ndarray
    tcode: np.ndarray
    periods: np.ndarray
    y: np.ndarray
    xs: list[np.ndarray]
    #: units dropped by incomplete="drop_units" (W's ids), in W's order
    dropped_units: list[Any] = field(default_factory=list)
    #: rows dropped, by reason
    dropped_rows: dict[str, int] = field(default_factory=dict)
    #: what was done to W (subset, re-standardised), or None
    w_note: str | None = None
    #: time-varying W: one W per period of ``periods`` (``w`` is the first); None when W is
    #: static or every W_t is equal (then ``w`` is that W and the fit is the static one)
    w_periods: list[Weights] | None = None


def _incomplete_units(
    ids: list[Any],
    unit_pos: np.ndarray,
    tcode: np.ndarray,
    periods: np.ndarray,
    columns: dict[str, np.ndarray],
) -> dict[int, list[str]]:
    """W position -> the problems of each unit that is not complete: periods without a row,
    columns with a missing or infinite value (and in which periods)."""
    n, t = len(ids), len(periods)
    have = np.zeros((n, t), bool)
    have[unit_pos, tcode] = True
    problems: dict[int, list[str]] = {}
    for i in np.flatnonzero(~have.all(axis=1)):
        gone = periods[~have[i]]
        what = "no rows" if gone.size == t else f"no row in {id_list(list(gone), None)}"
        problems.setdefault(int(i), []).append(what)
    for name, v in columns.items():
        bad = ~np.isfinite(v)
        for i in np.unique(unit_pos[bad]):
            at = np.flatnonzero(bad & (unit_pos == i))
            kind = "missing" if np.all(np.isnan(v[at])) else "missing or infinite"
            when = id_list(list(periods[np.unique(tcode[at])]), None)
            problems.setdefault(int(i), []).append(f"{name} {kind} in {when}")
    return problems


def _prepare(
    fml: str,
    data: Any,
    W: Any,
    unit: str,
    time: str,
    incomplete: str = "error",
    time_varying: bool = False,
) -> Prepared:
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
    tcol = df.get_column(time)
    periods = np.asarray(sorted(tcol.unique().to_list()))
    w_periods: list[Weights] | None = None
    if _is_period_weights(W):
        if not time_varying:
            raise PilotdidError(
                "option 'W': a W per period (a dict or a list of matrices) is accepted by "
                "sar, sdm, sem, sdem, sac and gns; here W must be one matrix"
            )
        every = _period_weights(W, periods)
        w = every[0]
        # Every W_t equal: the static model, on the same code path (same numbers).
        if not all(_same_weights(w, v) for v in every[1:]):
            w_periods = every
    else:
        w = _as_weights(W)
    unit_vals = df.get_column(unit).to_list()
    w_index = {_key(v): i for i, v in enumerate(w.ids)}
    foreign = list(dict.fromkeys(v for v in unit_vals if _key(v) not in w_index))
    if foreign:
        raise PilotdidError(
            f"{len(foreign)} unit(s) of the data are not in W's ids: {id_list(foreign)} "
            f"(W has {w.n} units, e.g. {id_list(list(w.ids[:3]), None)}); build W for the "
            "data's units or drop those units from the data"
        )
    pos = np.asarray([w_index[_key(v)] for v in unit_vals], dtype=np.int64)
    tmap = {v: i for i, v in enumerate(periods.tolist())}
    tcode = np.asarray([tmap[v] for v in tcol.to_list()], dtype=np.int64)
    y = _frame.numeric(df, f.depvar)
    xs = [_frame.numeric(df, c) for c in xnames]
    columns = {f.depvar: y, **dict(zip(xnames, xs))}
    problems = _incomplete_units(list(w.ids), pos, tcode, periods, columns)
    out = Prepared(f.depvar, xnames, w, pos, tcode, periods, y, xs, w_periods=w_periods)
    if not problems:
        out.pos, out.tcode = pos.astype(np.uint32), tcode.astype(np.uint32)
        return out
    bad = sorted(problems)
    bad_ids = [_python(w.ids[i]) for i in bad]
    if incomplete == "error":
        details = "; ".join(
            f"{plain_id(w.ids[i])}: {', '.join(problems[i])}" for i in bad[:LISTED_IDS]
        )
        more = f"; and {len(bad) - LISTED_IDS} more unit(s)" if len(bad) > LISTED_IDS else ""
        first = ""
        for name, v in columns.items():
            rows = np.flatnonzero(~np.isfinite(v))
            if rows.size:
                kind = "missing" if np.isnan(v[rows[0]]) else "infinite"
                first = (
                    f" First non-finite cell: column '{name}': row {int(rows[0])} is {kind} "
                    "(0-based row of the data)."
                )
                break
        raise PilotdidError(
            f"spatial panels must be balanced: {len(bad)} of {w.n} units are incomplete "
            f"({id_list(bad_ids, None)}). {details}{more}.{first} Complete those units, or "
            'pass incomplete="drop_units" to drop them (W is subset to the other units and '
            "row-standardised again if it was)"
        )
    keep_unit = np.ones(w.n, bool)
    keep_unit[bad] = False
    if keep_unit.sum() < 2:
        raise PilotdidError(
            f'incomplete="drop_units": {len(bad)} of {w.n} units are incomplete, fewer than '
            "two would remain"
        )
    keep_row = keep_unit[pos]
    kept_ids = [v for v, k in zip(w.ids, keep_unit) if k]

    def cut(wt: Weights) -> Weights:
        sub = wt.subset(kept_ids)
        if wt.transform == "row" or wt.is_row_standardised():
            sub = sub.row_standardise(allow_islands=True)
        return sub

    row_std = w.transform == "row" or w.is_row_standardised()
    sub = cut(w)
    note = f"W subset to the {len(kept_ids)} complete units of {w.n}"
    if row_std:
        note += " and row-standardised again"
    if sub.islands:
        note += f" (units left without neighbours: {id_list(sub.islands)})"
    new_pos = np.cumsum(keep_unit) - 1
    tc = tcode[keep_row]
    # A period in which only dropped units had rows is no longer a period of the panel.
    used_periods = np.unique(tc)
    remap = np.full(len(periods), -1)
    remap[used_periods] = np.arange(used_periods.size)
    out.w = sub
    if w_periods is not None:
        out.w_periods = [cut(w_periods[int(k)]) for k in used_periods]
        out.w = out.w_periods[0]
        note = note.replace("W subset", "every W_t subset")
    out.pos = new_pos[pos[keep_row]].astype(np.uint32)
    out.tcode = remap[tc].astype(np.uint32)
    out.periods = periods[used_periods]
    out.y = np.ascontiguousarray(y[keep_row])
    out.xs = [np.ascontiguousarray(x[keep_row]) for x in xs]
    out.dropped_units = bad_ids
    out.dropped_rows = {"incomplete units (incomplete='drop_units')": int((~keep_row).sum())}
    out.w_note = note
    return out


def _check_effects(effects: Any) -> str:
    return check_choice("effects", effects, _EFFECTS)

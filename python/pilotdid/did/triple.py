"""Triple differences (Ortiz-Villavicencio & Sant'Anna 2025): ``ddd``.

The columns are prepared here and every number is computed in Rust (``_core.ddd_fit``,
``core/src/did/ddd.rs``), numerically as ``moderndid``'s ``didtriple`` module (0.4.1) and R
``triplediff``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from pilotdid import _core
from pilotdid._args import (
    check_bool,
    check_choice,
    check_int,
    check_level,
    check_reps,
    check_seed,
    check_str,
)
from pilotdid._core import PilotdidError
from pilotdid._frame import ids, numeric, to_polars
from pilotdid.did.staggered import _alpha, _cluster_var, _covariate_names, _weight_type
from pilotdid.panel import cohort_option, cohort_values
from pilotdid.results.triple import DddResult

__all__ = ["ddd"]

_CONTROL = {"never": "nevertreated", "notyet": "notyettreated"}
_METHODS = ("dr", "ipw", "reg")
_BASE = ("universal", "varying")


def ddd(
    data: Any,
    *,
    y: str,
    unit: str,
    time: str,
    partition: str,
    cohort: str | None = None,
    treatment: str | None = None,
    controls: str | Sequence[str] | None = None,
    est_method: str = "dr",
    control_group: str = "never",
    base_period: str = "universal",
    weights: str | None = None,
    bstrap: bool = False,
    reps: int = 999,
    seed: int = 0,
    level: float = 0.95,
    cluster: str | None = None,
    weight_type: str = "mammen",
) -> DddResult:
    """Triple differences for panel data (Ortiz-Villavicencio & Sant'Anna 2025).

    Units belong to a group that enables treatment from period ``cohort`` (0 or missing =
    never; or give ``treatment``, the group's 0/1 enabling status per period, from which the
    cohort is derived) and to an eligibility ``partition`` (1 eligible, 0 not); only eligible
    units of enabling groups are treated. The estimate combines three 2x2 DIDs of the treated
    eligible units against the ineligible units of their group, the eligible units of the
    comparison group, and its ineligible units (+, +, -), each by ``est_method`` "dr" (doubly
    robust, default), "ipw" or "reg" with time-invariant ``controls``.

    Two periods (one enabling group and never-enabling units; any positive ``cohort`` marks
    the enabling group): one ATT, SE sd(psi)/sqrt(n) as ``moderndid.ddd``. More periods:
    ATT(g,t) for every cohort and period, ``control_group="never"`` or ``"notyet"`` (each later
    cohort is its own comparison, combined by GMM), ``base_period`` "universal" (default, as
    moderndid) or "varying"; aggregate with ``result.aggregate(type=...)`` ("simple",
    "group", "dynamic", "calendar"), ``result.to_event_study()`` for plots, etable and
    honest_did. SEs are analytic (influence function) or, with ``bstrap=True``, the multiplier
    bootstrap (``reps`` draws, ``seed``, ``weight_type``; clustered on ``cluster``). With
    ``cluster`` and more periods the analytic SEs of ATT(g,t) and of the aggregations are
    cluster-robust too (as moderndid); with two periods only the bootstrap clusters. Panels
    must be balanced: units missing a used period are dropped (``result.notes``).
    """
    y = check_str("y", y)
    time = check_str("time", time)
    unit = check_str("unit", unit)
    partition = check_str("partition", partition)
    timing, derived = cohort_option(cohort, treatment)
    control = _CONTROL[check_choice("control_group", control_group, tuple(_CONTROL))]
    est_method = check_choice("est_method", est_method, _METHODS)
    base_period = check_choice("base_period", base_period, _BASE)
    bstrap = check_bool("bstrap", bstrap)
    level = check_level(level)
    alp = _alpha(level)
    seed = check_seed(seed)
    weights = None if weights is None else check_str("weights", weights)
    weight_type = _weight_type(weight_type)
    covs = _covariate_names(controls)
    cvar = _cluster_var(cluster, unit)
    cols = [y, time, unit, timing, partition, *covs]
    if weights is not None:
        cols.append(weights)
    if cvar is not None:
        cols.append(cvar)
    df = to_polars(data, cols)
    yv = numeric(df, y)
    tvals = numeric(df, time)
    if np.any(~np.isfinite(tvals)):
        raise PilotdidError(f"column '{time}' has missing values")
    if np.any(tvals != np.floor(tvals)):
        raise PilotdidError(f"column '{time}' must hold whole-number periods")
    tv = np.ascontiguousarray(tvals.astype(np.int64))
    uid, uvalid = ids(df, unit)
    if not uvalid.all():
        raise PilotdidError(f"column '{unit}' has missing values")
    codes = _core.factorize_ids(np.ascontiguousarray(uid)).codes
    gv, n_derived = cohort_values(df, unit=unit, time=time, column=timing, derived=derived)
    qv = numeric(df, partition)
    if bstrap:
        g = gv[np.isfinite(gv) & (gv != 0)]
        n_cells = max(1, len(np.unique(g)) * len(np.unique(tv)))
        reps = check_reps("reps", reps, bytes_per_rep=8.0 * n_cells, lo=2)
    else:
        reps = check_int("reps", reps, lo=2)
    cov_arrays = [numeric(df, c) for c in covs]
    w = numeric(df, weights) if weights is not None else None
    cl = None
    if cvar is not None:
        cid, cvalid = ids(df, cvar)
        if not cvalid.all():
            raise PilotdidError(f"column '{cvar}' has missing values")
        cl = _core.factorize_ids(np.ascontiguousarray(cid)).codes
    names = [y, time, unit, timing, partition, weights or "", cvar or ""]
    core = _core.ddd_fit(
        yv,
        tv,
        np.ascontiguousarray(codes, dtype=np.uint32),
        gv,
        np.ascontiguousarray(qv),
        cov_names=covs,
        covs=cov_arrays,
        weights=w,
        cluster=None if cl is None else np.ascontiguousarray(cl, dtype=np.uint32),
        names=names,
        control_group=control,
        base_period=base_period,
        est_method=est_method,
        alpha=alp,
        bstrap=bstrap,
        biters=reps,
        seed=seed,
        weight_type=weight_type,
    )
    params = dict(
        y=y,
        time=time,
        unit=unit,
        cohort=None if derived else timing,
        treatment=timing if derived else None,
        partition=partition,
        controls=covs,
        control_group=next(k for k, v in _CONTROL.items() if v == control),
        anticipation=0,
        base_period=base_period,
        est_method=est_method,
        weights=weights,
        cluster=cvar,
        bstrap=bstrap,
        reps=reps,
        cband=False,
        level=float(level),
        alp=alp,
        seed=seed,
        weight_type=weight_type,
    )
    if cvar is not None and not bstrap and core.two_period:
        warnings.warn(
            f"clustering on '{cvar}' with two periods needs the multiplier bootstrap "
            "(bstrap=True); the analytic standard error is not clustered",
            UserWarning,
            stacklevel=2,
        )
    dropped = {
        "missing": int(core.n_rows_dropped),
        "already_treated_units": int(core.n_units_already_treated),
        "unbalanced_units": int(core.n_units_unbalanced),
    }
    return DddResult(core, params, cohort_derived=n_derived, dropped_rows=dropped)

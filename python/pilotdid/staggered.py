"""Callaway & Sant'Anna (2021) group-time ATTs and their aggregations, with R `did` names.

``att_gt`` prepares columns and calls the Rust core (``_core.att_gt_fit``); ``aggte``
aggregates a fitted result. All numbers are computed in Rust.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from pilotdid import _core
from pilotdid._core import PilotdidError
from pilotdid._frame import ids, numeric, to_polars
from pilotdid.results.staggered import AggteResult, AttGtResult

__all__ = ["att_gt", "aggte"]

_CONTROL = ("nevertreated", "notyettreated")
_METHODS = ("dr", "ipw", "reg")
_BASE = ("varying", "universal")


def _covariate_names(xformla: str | None) -> list[str]:
    if xformla is None:
        return []
    f = xformla.strip()
    if not f.startswith("~"):
        raise PilotdidError(
            f"option 'xformla': '{xformla}' must be a one-sided formula like '~ x1 + x2'"
        )
    terms = [t.strip() for t in f[1:].split("+")]
    out = []
    for t in terms:
        if t in ("", "1"):
            continue
        if not t.replace("_", "").replace(".", "").isalnum():
            raise PilotdidError(
                f"option 'xformla': term '{t}' is not a plain column name "
                "(only '~ x1 + x2' is supported)"
            )
        out.append(t)
    return out


def _cluster_var(clustervars: str | Sequence[str] | None, idname: str) -> str | None:
    if clustervars is None:
        return None
    cv = [clustervars] if isinstance(clustervars, str) else list(clustervars)
    cv = [c for c in cv if c != idname]
    if len(cv) > 1:
        raise PilotdidError(
            f"option 'clustervars': at most one variable besides '{idname}' is supported, got {cv}"
        )
    return cv[0] if cv else None


def _seed(seed: int | None) -> int:
    if seed is None:
        return int(np.random.SeedSequence().entropy % (2**63))
    if int(seed) < 0:
        raise PilotdidError(f"option 'seed': must be non-negative, got {seed}")
    return int(seed)


def att_gt(
    data: Any,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    xformla: str | None = None,
    control_group: str = "nevertreated",
    anticipation: int = 0,
    base_period: str = "varying",
    est_method: str = "dr",
    weightsname: str | None = None,
    clustervars: str | Sequence[str] | None = None,
    bstrap: bool = False,
    biters: int = 1000,
    cband: bool = False,
    alp: float = 0.05,
    seed: int | None = None,
) -> AttGtResult:
    """Group-time average treatment effects (Callaway & Sant'Anna 2021) for panel data.

    Matches R ``did::att_gt`` (panel = TRUE): 2×2 estimators of ``DRDID`` ("dr", "ipw",
    "reg"), never-treated or not-yet-treated comparison units, varying or universal base
    period, anticipation (in units of ``tname``), time-invariant covariates (``xformla =
    "~ x1 + x2"``), sampling weights, analytic influence-function standard errors or the
    multiplier bootstrap (Mammen weights; clustered on ``clustervars``), uniform bands
    (``cband``) and the Wald pre-test of parallel trends.

    ``gname`` holds the first treated period; 0 (or missing / inf) means never treated.
    Unbalanced panels are used as they are: each (g,t) cell uses the units observed in both of
    its periods (on a balanced panel this is R's estimator). Cells that cannot be estimated are
    reported in ``.skipped`` (not returned as NaN silently).
    """
    if control_group not in _CONTROL:
        raise PilotdidError(f"option 'control_group': '{control_group}' is not one of {_CONTROL}")
    if est_method not in _METHODS:
        raise PilotdidError(f"option 'est_method': '{est_method}' is not one of {_METHODS}")
    if base_period not in _BASE:
        raise PilotdidError(f"option 'base_period': '{base_period}' is not one of {_BASE}")
    if int(anticipation) != anticipation or anticipation < 0:
        raise PilotdidError(
            f"option 'anticipation': must be a non-negative integer, got {anticipation}"
        )
    if cband and not bstrap:
        raise PilotdidError(
            "option 'cband': a uniform band needs the multiplier bootstrap (bstrap=True)"
        )
    covs = _covariate_names(xformla)
    cvar = _cluster_var(clustervars, idname)
    if cvar is not None and not bstrap:
        warnings.warn(
            f"clustering on '{cvar}' needs the multiplier bootstrap (bstrap=True); the analytic "
            "standard errors are not clustered (as R did)",
            UserWarning,
            stacklevel=2,
        )
    cols = [yname, tname, idname, gname, *covs]
    if weightsname is not None:
        cols.append(weightsname)
    if cvar is not None:
        cols.append(cvar)
    df = to_polars(data, cols)

    y = numeric(df, yname)
    tvals = numeric(df, tname)
    if np.any(~np.isfinite(tvals)):
        raise PilotdidError(f"column '{tname}' has missing values")
    if np.any(tvals != np.floor(tvals)):
        raise PilotdidError(f"column '{tname}' must hold whole-number periods")
    time = np.ascontiguousarray(tvals.astype(np.int64))
    uid, uvalid = ids(df, idname)
    if not uvalid.all():
        raise PilotdidError(f"column '{idname}' has missing values")
    codes, _ = _core.factorize_ids(np.ascontiguousarray(uid))
    cohort = numeric(df, gname)
    cov_arrays = [numeric(df, c) for c in covs]
    w = numeric(df, weightsname) if weightsname is not None else None
    cl = None
    if cvar is not None:
        cid, cvalid = ids(df, cvar)
        if not cvalid.all():
            raise PilotdidError(f"column '{cvar}' has missing values")
        cl, _ = _core.factorize_ids(np.ascontiguousarray(cid))
    s = _seed(seed)
    names = [yname, tname, idname, gname, weightsname or "", cvar or ""]
    core = _core.att_gt_fit(
        y,
        time,
        np.ascontiguousarray(codes, dtype=np.uint32),
        cohort,
        covs,
        cov_arrays,
        w,
        None if cl is None else np.ascontiguousarray(cl, dtype=np.uint32),
        names,
        control_group,
        int(anticipation),
        base_period,
        est_method,
        float(alp),
        bool(bstrap),
        int(biters),
        bool(cband),
        s,
    )
    params = dict(
        yname=yname,
        tname=tname,
        idname=idname,
        gname=gname,
        xformla=xformla,
        control_group=control_group,
        anticipation=int(anticipation),
        base_period=base_period,
        est_method=est_method,
        weightsname=weightsname,
        clustervars=cvar,
        bstrap=bool(bstrap),
        biters=int(biters),
        cband=bool(cband),
        alp=float(alp),
        seed=s,
    )
    return AttGtResult(core, params)


def aggte(
    res: AttGtResult,
    type: str = "dynamic",  # noqa: A002 - R did's argument name
    min_e: float = -math.inf,
    max_e: float = math.inf,
    balance_e: int | None = None,
    bstrap: bool | None = None,
    biters: int | None = None,
    cband: bool | None = None,
    alp: float | None = None,
    seed: int | None = None,
) -> AggteResult:
    """Aggregate ATT(g,t) as R ``did::aggte``: "simple", "group", "dynamic", "calendar".

    Inference options default to those of ``res`` (as R). Analytic SEs include the
    estimation of the cohort-share weights (R's ``wif``).
    """
    if not isinstance(res, AttGtResult):
        raise PilotdidError("aggte: 'res' must be the result of pilotdid.att_gt")
    if type not in ("simple", "group", "dynamic", "calendar"):
        raise PilotdidError(
            f"option 'type': '{type}' is not one of 'simple', 'group', 'dynamic', 'calendar'"
        )
    p = res.params
    bs = p["bstrap"] if bstrap is None else bool(bstrap)
    bi = p["biters"] if biters is None else int(biters)
    cb = p["cband"] if cband is None else bool(cband)
    a = p["alp"] if alp is None else float(alp)
    s = p["seed"] if seed is None else _seed(seed)
    if cb and not bs:
        raise PilotdidError(
            "option 'cband': a uniform band needs the multiplier bootstrap (bstrap=True)"
        )
    if balance_e is not None and int(balance_e) != balance_e:
        raise PilotdidError(f"option 'balance_e': must be an integer, got {balance_e}")
    out = res._core.aggte(
        type,
        float(min_e),
        float(max_e),
        None if balance_e is None else int(balance_e),
        a,
        bs,
        bi,
        cb,
        s,
    )
    return AggteResult(
        type=type,
        out=out,
        alp=a,
        bstrap=bs,
        cband=cb,
        n_units=res.n_units,
        base_period=p["base_period"],
        params=dict(min_e=min_e, max_e=max_e, balance_e=balance_e, biters=bi, seed=s),
    )

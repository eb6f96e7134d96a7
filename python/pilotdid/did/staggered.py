"""Callaway & Sant'Anna (2021) group-time ATTs and their aggregations.

``att_gt`` prepares columns and calls the Rust core (``_core.att_gt_fit``); ``aggte``
aggregates a fitted result. All numbers are computed in Rust. The package's vocabulary is used
(``y``, ``time``, ``unit``, ``cohort``, ``controls``, ``level``, ``reps``, ...); R ``did``'s
spellings (``yname``, ``tname``, ``idname``, ``gname``, ``xformla``, ``weightsname``,
``clustervars``, ``biters``, ``alp``, ``control_group="nevertreated"``) are accepted as
documented aliases on these two functions only, for users who arrive from R.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from pilotdid import _core
from pilotdid._args import (
    MAX_REPS,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_level,
    check_reps,
    check_seed,
    check_str,
    vocabulary,
)
from pilotdid._core import PilotdidError
from pilotdid._frame import ids, numeric, to_polars
from pilotdid.panel import cohort_option, cohort_values
from pilotdid.results.event_study import (
    FewClustersWarning,
    few_clusters_note,
    warn_analytic_se,
)
from pilotdid.results.staggered import AggteResult, AttGtResult

__all__ = ["att_gt", "aggte"]

#: The package's control-group codes and the core's (R did's) spelling of each.
_CONTROL = {"never": "nevertreated", "notyet": "notyettreated"}
_METHODS = ("dr", "ipw", "reg")
_BASE = ("varying", "universal")
_TYPES = ("simple", "group", "dynamic", "calendar")
_COHORT_SHARES = ("estimated", "fixed")


class _LevelFromAlp(float):
    """A level given as R did's ``alp``: keeps the alp itself so that the core receives the
    very number the user typed (1 - (1 - alp) is not always alp in floating point)."""

    alp: float


def _level_from_alp(alp: Any) -> float:
    a = check_float("alp", alp, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    level = _LevelFromAlp(1.0 - a)
    level.alp = a
    return level


#: R did's argument names -> the package's (documented aliases, att_gt and aggte only).
_R_DID_ALIASES: dict[str, Any] = {
    "yname": "y",
    "tname": "time",
    "idname": "unit",
    "gname": "cohort",
    "xformla": "controls",
    "weightsname": "weights",
    "clustervars": "cluster",
    "biters": "reps",
    "alp": ("level", _level_from_alp),
}
_R_DID_VALUES = {"control_group": {"nevertreated": "never", "notyettreated": "notyet"}}


def _alpha(level: float) -> float:
    """1 - level as the core's alpha. R did's alp arrives unchanged; a level is rounded to 15
    decimals so that level=0.95 gives exactly alp=0.05 (what the core received before)."""
    alp = getattr(level, "alp", None)
    if alp is not None:
        return float(alp)
    a = round(1.0 - level, 15)
    return a if a > 0 else 1.0 - level


def _covariate_names(controls: Any) -> list[str]:
    """``controls``: a list of columns, one column, or R did's one-sided ``"~ x1 + x2"``."""
    if controls is None:
        return []
    if isinstance(controls, str) and controls.strip().startswith("~"):
        terms = [t.strip() for t in controls.strip()[1:].split("+")]
        out = []
        for t in terms:
            if t in ("", "1"):
                continue
            if not t.replace("_", "").replace(".", "").isalnum():
                raise PilotdidError(
                    f"option 'controls': term '{t}' of '{controls}' is not a plain column name "
                    "(only '~ x1 + x2' is supported)"
                )
            out.append(t)
        return out
    if isinstance(controls, str):
        return [check_str("controls", controls)]
    if isinstance(controls, Sequence) and all(isinstance(c, str) and c for c in controls):
        return list(controls)
    raise PilotdidError(
        "option 'controls': expected a column name, a list of column names or '~ x1 + x2', "
        f"got {controls!r}"
    )


def _cluster_var(cluster: str | Sequence[str] | None, unit: str) -> str | None:
    if cluster is None:
        return None
    if isinstance(cluster, str):
        cv = [check_str("cluster", cluster)]
    elif isinstance(cluster, Sequence) and all(isinstance(c, str) and c for c in cluster):
        cv = list(cluster)
    else:
        raise PilotdidError(
            f"option 'cluster': expected a column name or a list of them, got {cluster!r}"
        )
    cv = [c for c in cv if c != unit]
    if len(cv) > 1:
        raise PilotdidError(
            f"option 'cluster': at most one variable besides '{unit}' is supported, got {cv}"
        )
    return cv[0] if cv else None


@vocabulary(aliases=_R_DID_ALIASES, value_aliases=_R_DID_VALUES)
def att_gt(
    data: Any,
    *,
    y: str,
    time: str,
    unit: str,
    cohort: str | None = None,
    treatment: str | None = None,
    controls: str | Sequence[str] | None = None,
    control_group: str = "never",
    anticipation: int = 0,
    base_period: str = "varying",
    est_method: str = "dr",
    weights: str | None = None,
    cluster: str | Sequence[str] | None = None,
    bstrap: bool = False,
    reps: int = 1000,
    cband: bool = False,
    level: float = 0.95,
    seed: int = 0,
    weight_type: str = "mammen",
) -> AttGtResult:
    """Group-time average treatment effects (Callaway & Sant'Anna 2021) for panel data.

    Matches R ``did::att_gt`` (panel = TRUE): 2×2 estimators of ``DRDID`` ("dr", "ipw",
    "reg"), never-treated (``control_group="never"``) or not-yet-treated (``"notyet"``)
    comparison units, varying or universal base period, anticipation (in units of ``time``),
    time-invariant covariates (``controls=["x1", "x2"]`` or ``"~ x1 + x2"``), sampling
    ``weights``, analytic influence-function standard errors or the multiplier bootstrap
    (``bstrap=True``, ``reps`` draws, Mammen weights; clustered on ``cluster``), uniform bands
    (``cband``) at ``level`` and the Wald pre-test of parallel trends. ``weight_type`` picks
    the multiplier law: "mammen" (R did's, default), "rademacher" or "webb" (six points: the
    choice with few clusters, where two-point laws give few distinct draws).

    ``cohort`` holds the first treated period; 0 (or missing / inf) means never treated.
    Alternatively ``treatment``, a 0/1 column: each unit's cohort is its first period with 1
    (0 if never; a treatment that switches off is refused); ``result.cohort_derived`` counts
    the units whose cohort was derived. Unbalanced panels are used as they are: each (g,t) cell
    uses the units observed in both of its periods (on a balanced panel this is R's
    estimator). Cells that cannot be estimated are reported in ``.skipped``.

    R ``did`` names are documented aliases: ``yname`` = y, ``tname`` = time, ``idname`` =
    unit, ``gname`` = cohort, ``xformla`` = controls, ``weightsname`` = weights,
    ``clustervars`` = cluster, ``biters`` = reps, ``alp`` = 1 - level, and the values
    ``"nevertreated"``/``"notyettreated"`` of ``control_group``. Giving both spellings of one
    option is an error.

    ``seed`` defaults to 0 (it was None, a seed from OS entropy, before the one vocabulary):
    bootstrap results are now reproducible by default. This is the one documented change of
    numbers: a bootstrap run without a seed used to differ from call to call.
    """
    y = check_str("y", y)
    time = check_str("time", time)
    unit = check_str("unit", unit)
    timing, derived = cohort_option(cohort, treatment)
    control = _CONTROL[check_choice("control_group", control_group, tuple(_CONTROL))]
    est_method = check_choice("est_method", est_method, _METHODS)
    base_period = check_choice("base_period", base_period, _BASE)
    anticipation = check_int("anticipation", anticipation, lo=0)
    bstrap = check_bool("bstrap", bstrap)
    cband = check_bool("cband", cband)
    level = check_level(level) if not isinstance(level, _LevelFromAlp) else level
    alp = _alpha(level)
    seed = check_seed(seed)
    weights = None if weights is None else check_str("weights", weights)
    reps = check_int("reps", reps, lo=2, hi=MAX_REPS)
    weight_type = _weight_type(weight_type)
    if cband and not bstrap:
        raise PilotdidError(
            "option 'cband': a uniform band needs the multiplier bootstrap (bstrap=True)"
        )
    covs = _covariate_names(controls)
    cvar = _cluster_var(cluster, unit)
    if cvar is not None and not bstrap:
        warnings.warn(
            f"clustering on '{cvar}' needs the multiplier bootstrap (bstrap=True); the analytic "
            "standard errors are not clustered (as R did)",
            UserWarning,
            stacklevel=2,
        )
    cols = [y, time, unit, timing, *covs]
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
    gv, n_derived = cohort_values(
        df, unit=unit, time=time, column=timing, derived=derived, unit_codes=codes
    )
    if bstrap:
        # The bootstrap keeps reps x (number of ATT(g,t) cells) draws; the cells are at most
        # (treated cohorts) x (periods).
        g = gv[np.isfinite(gv) & (gv != 0)]
        n_cells = max(1, pl.Series(g).n_unique() * pl.Series(tv).n_unique())
        reps = check_reps("reps", reps, bytes_per_rep=8.0 * n_cells, lo=2)
    cov_arrays = [numeric(df, c) for c in covs]
    w = numeric(df, weights) if weights is not None else None
    cl = None
    if cvar is not None:
        cid, cvalid = ids(df, cvar)
        if not cvalid.all():
            raise PilotdidError(f"column '{cvar}' has missing values")
        cl = _core.factorize_ids(np.ascontiguousarray(cid)).codes
    names = [y, time, unit, timing, weights or "", cvar or ""]
    core = _core.att_gt_fit(
        yv,
        tv,
        np.ascontiguousarray(codes, dtype=np.uint32),
        gv,
        cov_names=covs,
        covs=cov_arrays,
        weights=w,
        cluster=None if cl is None else np.ascontiguousarray(cl, dtype=np.uint32),
        names=names,
        control_group=control,
        anticipation=anticipation,
        base_period=base_period,
        est_method=est_method,
        alpha=alp,
        bstrap=bstrap,
        biters=reps,
        cband=cband,
        seed=seed,
        weight_type=weight_type,
    )
    params = dict(
        y=y,
        time=time,
        unit=unit,
        cohort=None if derived else timing,
        treatment=timing if derived else None,
        controls=covs,
        control_group=next(k for k, v in _CONTROL.items() if v == control),
        anticipation=anticipation,
        base_period=base_period,
        est_method=est_method,
        weights=weights,
        cluster=cvar,
        bstrap=bstrap,
        reps=reps,
        cband=cband,
        level=float(level),
        alp=alp,
        seed=seed,
        weight_type=weight_type,
    )
    dropped = _dropped_rows(yv, cov_arrays, w, tv, gv, anticipation, control)
    res = AttGtResult(core, params, cohort_derived=n_derived, dropped_rows=dropped)
    if not bstrap:
        # analytic influence-function SEs: the units are the clusters (one warning per fit)
        warn_analytic_se(
            "cs",
            int(res.n_units),
            "bstrap=True, cluster=..., weight_type='webb' (the cluster multiplier bootstrap)",
        )
    pt = res.pretest
    if pt is not None:
        # The pre-test's covariance is the influence functions' over the units, or over the
        # clusters of a clustered bootstrap: those are its G.
        g = res.n_boot_units if (bstrap and cvar is not None) else res.n_units
        note = few_clusters_note("Wald pre-test of parallel trends", pt[2], g)
        if note is not None:
            res.cautions.append(note)
            warnings.warn(note, FewClustersWarning, stacklevel=3)
    return res


def _weight_type(weight_type: Any) -> str:
    """The multiplier law: "mammen" (R did's, the default), "rademacher" or "webb" (six
    points; with few clusters it has many more distinct bootstrap draws)."""
    return check_choice(
        "weight_type",
        weight_type.lower() if isinstance(weight_type, str) else weight_type,
        ("mammen", "rademacher", "webb"),
    )


def _dropped_rows(
    y: np.ndarray,
    covs: list[np.ndarray],
    w: np.ndarray | None,
    t: np.ndarray,
    g: np.ndarray,
    anticipation: int,
    control: str,
) -> dict[str, int]:
    """Rows the core leaves out, by reason, counted as the core (R did) decides them: a
    missing outcome, covariate or weight; units already treated in the first period (with
    anticipation); without never-treated units, the periods from the last cohort's treatment
    on (it becomes the comparison group, control_group="notyet")."""
    valid = np.isfinite(y)
    for c in covs:
        valid &= np.isfinite(c)
    if w is not None:
        valid &= np.isfinite(w)
    n_valid = int(np.count_nonzero(valid))
    out = {"missing": len(valid) - n_valid}
    if n_valid == 0:
        return out
    # (no copies when every row is complete, the usual case)
    tv, gv = (t, g) if n_valid == len(valid) else (t[valid], g[valid])
    gv = np.where(np.isfinite(gv), gv, 0.0)
    t_first, t_last = int(tv.min()), int(tv.max())
    already = (gv > 0) & (gv <= t_first + anticipation)
    n_already = int(np.count_nonzero(already))
    out["already_treated"] = n_already
    if control == "notyettreated":
        kept_t, kept_g = (tv, gv) if n_already == 0 else (tv[~already], gv[~already])
        kept_g = np.where(kept_g > t_last + anticipation, 0.0, kept_g)
        if kept_g.size and not np.any(kept_g == 0):
            g_last = kept_g.max()
            out["after_last_cohort"] = int((kept_t >= g_last - anticipation).sum())
    return out


def _event_bound(name: str, value: Any) -> float:
    """min_e / max_e: a number, or +-inf for no bound (NaN refused)."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isinf(float(value)):
        return float(value)
    return check_float(name, value)


@vocabulary(aliases=_R_DID_ALIASES, value_aliases=_R_DID_VALUES)
def aggte(
    res: AttGtResult,
    *,
    type: str = "dynamic",  # noqa: A002 - R did's argument name
    min_e: float = -math.inf,
    max_e: float = math.inf,
    balance_e: int | None = None,
    bstrap: bool | None = None,
    reps: int | None = None,
    cband: bool | None = None,
    level: float | None = None,
    seed: int | None = None,
    weight_type: str | None = None,
    cohort_shares: str = "estimated",
) -> AggteResult:
    """Aggregate ATT(g,t) as R ``did::aggte``: ``type`` "simple", "group", "dynamic",
    "calendar"; ``min_e``/``max_e`` limit the event times and ``balance_e`` keeps the cohorts
    observed at least that many periods after treatment (dynamic).

    Inference options (``bstrap``, ``reps``, ``cband``, ``level``, ``seed``,
    ``weight_type``) default to those
    of ``res`` (as R); ``seed`` therefore defaults to att_gt's seed, 0 unless given there.
    R did's ``biters`` and ``alp`` are accepted as aliases of ``reps`` and ``1 - level``.

    ``cohort_shares`` says which estimand the inference is for. ``"estimated"`` (default, as
    R ``did::aggte`` and moderndid) treats the cohort-share weights P(G = g) as estimates and
    adds their influence (R's ``wif`` term, Callaway & Sant'Anna 2021, J. Econometrics 225(2),
    Sec. 4 and Appendix B) to the influence function: the population ATT with cohort
    membership sampled. ``"fixed"`` drops that term: inference conditional on the realized
    cohort sizes, for the sample-weighted ATT of a design whose adopting units are fixed
    (a policy pilot list); its SE is smaller. Both the analytic SEs and the multiplier
    bootstrap use the chosen influence function; the point estimates are the same.
    """
    if not isinstance(res, AttGtResult):
        raise PilotdidError("aggte: 'res' must be the result of pilotdid.att_gt")
    type = check_choice("type", type, _TYPES)  # noqa: A001
    p = res.params
    bs = p["bstrap"] if bstrap is None else check_bool("bstrap", bstrap)
    cb = p["cband"] if cband is None else check_bool("cband", cband)
    if level is None:
        a = p["alp"]
    else:
        a = _alpha(level if isinstance(level, _LevelFromAlp) else check_level(level))
    s = p["seed"] if seed is None else check_seed(seed)
    wt = p.get("weight_type", "mammen") if weight_type is None else _weight_type(weight_type)
    lo_e = _event_bound("min_e", min_e)
    hi_e = _event_bound("max_e", max_e)
    be = None if balance_e is None else check_int("balance_e", balance_e, lo=0)
    shares = check_choice("cohort_shares", cohort_shares, _COHORT_SHARES)
    if reps is None:
        bi = p["reps"]
    elif bs:
        # reps x (aggregated estimates + the overall one) draws; at most one per cell + 1
        n_est = len(res._cells.att) + 1
        bi = check_reps("reps", reps, bytes_per_rep=8.0 * n_est, lo=2)
    else:
        bi = check_int("reps", reps, lo=2, hi=MAX_REPS)
    if cb and not bs:
        raise PilotdidError(
            "option 'cband': a uniform band needs the multiplier bootstrap (bstrap=True)"
        )
    out = res._core.aggte(
        type,
        min_e=lo_e,
        max_e=hi_e,
        balance_e=be,
        alpha=a,
        bstrap=bs,
        biters=bi,
        cband=cb,
        seed=s,
        weight_type=wt,
        cohort_shares=shares,
    )
    return AggteResult(
        type=type,
        out=out,
        alp=a,
        bstrap=bs,
        cband=cb,
        n_units=res.n_units,
        base_period=p["base_period"],
        params=dict(min_e=lo_e, max_e=hi_e, balance_e=be, reps=bi, seed=s, cohort_shares=shares),
        cohort_derived=res.cohort_derived,
        dropped_rows=res.dropped_rows,
        cautions=res.cautions,
    )

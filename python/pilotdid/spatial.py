"""Spatial econometrics: Moran's I, SAR / SDM / SEM / SDEM / SAC panels with fixed effects,
spatial DID.

Every number comes from the Rust core (``pilotdid._core.sp_*``); this module matches the
panel's units to the ids of the weights matrix, builds the design and wraps results.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from pilotdid import _core, _frame
from pilotdid._args import (
    check_bool,
    check_choice,
    check_columns,
    check_float,
    check_reps,
    check_seed,
    check_str,
    check_window,
    vocabulary,
)
from pilotdid._core import PilotdidError
from pilotdid._formula import parse_formula
from pilotdid.results.spatial import SpatialResult, impacts_bytes_per_rep
from pilotdid.weights import Weights, from_dense

__all__ = [
    "lm_tests",
    "moran",
    "moran_local",
    "sac",
    "sar",
    "sdem",
    "sdm",
    "sem",
    "spatial_did",
    "spatial_event_study",
]

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
        from pilotdid.weights import from_sparse

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


def _block_diag(w: Weights, t: int) -> Weights:
    n = w.n
    indptr = np.concatenate([[0]] + [w.indptr[1:] + s * w.nnz for s in range(t)]).astype(np.int64)
    indices = np.concatenate([w.indices + s * n for s in range(t)]).astype(np.int64)
    data = np.tile(w.data, t)
    return Weights(np.arange(n * t), indptr, indices, data, w.transform, w.kind)


def _p_two(z: float) -> float:
    import math

    return math.erfc(abs(z) / math.sqrt(2)) if np.isfinite(z) else float("nan")


def _moran_vec(v: np.ndarray, w: Weights, reps: int, seed: int) -> dict[str, Any]:
    if v.shape[0] != w.n:
        raise PilotdidError(f"moran: {v.shape[0]} values for a W with {w.n} units")
    d = dict(_core.sp_moran(np.ascontiguousarray(v), *w._csr(), reps, seed))
    d["p_norm"] = _p_two(d["z_norm"])
    d["p_rand"] = _p_two(d["z_rand"])
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
    d = _core.sp_moran_local(np.ascontiguousarray(v), *w._csr(), reps, seed)
    q = d["q"]
    q = np.frombuffer(q, dtype=np.uint8) if isinstance(q, bytes) else np.asarray(q)
    return pl.DataFrame(
        {"id": list(w.ids), "Is": d["Is"], "q": q.astype(np.int64), "p_sim": d["p_sim"]}
    )


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


@vocabulary(renamed={"formula": "fml"})
def lm_tests(
    fml: str, data: Any, *, W: Any, unit: str, time: str, effects: str = "individual"
) -> dict[str, float]:
    """LM and robust LM tests for a spatial lag and a spatial error on the non-spatial
    fixed-effects model (Anselin 1988; Anselin et al. 1996; panel form as in Elhorst 2014).

    Returns a dict of the four statistics (``lm_lag``, ``lm_error``, ``rlm_lag``,
    ``rlm_error``; chi-squared, 1 df) and their p-values (``p_lm_lag``, ...). The panel must
    be balanced: a missing or infinite outcome or regressor is an error that names the
    column (the tests would otherwise all be NaN)."""
    fml = _check_fml(fml)
    unit = check_str("unit", unit)
    time = check_str("time", time)
    effects = _check_effects(effects)
    depvar, xnames, w, pos, tcode, _, y, xs = _prepare(fml, data, W, unit, time)
    for name, v in [(depvar, y), *zip(xnames, xs)]:
        bad = np.flatnonzero(~np.isfinite(v))
        if bad.size:
            kind = "missing" if np.isnan(v[bad[0]]) else "infinite"
            raise PilotdidError(
                f"column '{name}': row {int(bad[0])} is {kind} ({bad.size} row(s) not finite); "
                "lm_tests needs a balanced panel with finite values (drop those units or "
                "periods first)"
            )
    return dict(_core.sp_lm_tests(y, xs, pos, tcode, *w._csr(), effects))


def _fit(
    model: str,
    fml: Any,
    data: Any,
    W: Any,
    unit: Any,
    time: Any,
    effects: Any,
    lee_yu: Any,
    durbin: Any,
    fixed_rho: Any,
    rho_search: Any = "exact",
    method: Any = "auto",
    fixed_name: str = "fixed_rho",
) -> SpatialResult:
    # Every option is checked before the data are read.
    fml = _check_fml(fml)
    unit = check_str("unit", unit)
    time = check_str("time", time)
    effects = _check_effects(effects)
    lee_yu = check_bool("lee_yu", lee_yu)
    method = check_choice("method", method, _METHODS)
    rho_search = check_choice("rho_search", rho_search, ("exact", "sdpdmod"))
    if fixed_rho is not None:
        fixed_rho = check_float(fixed_name, fixed_rho)
    if durbin is not None:
        durbin = check_columns("durbin", durbin)
    _, xnames, w, pos, tcode, periods, y, xs = _prepare(fml, data, W, unit, time)
    dur_idx = None
    if model in ("sdm", "sdem") and durbin is not None:
        bad = [d for d in durbin if d not in xnames]
        if bad:
            raise PilotdidError(f"option 'durbin': {bad[0]!r} is not a regressor")
        dur_idx = [xnames.index(d) for d in durbin]
    core = _core.sp_fit(
        y,
        xs,
        xnames,
        pos,
        tcode,
        *w._csr(),
        model,
        effects,
        lee_yu,
        dur_idx,
        fixed_rho,
        0.001 if rho_search == "sdpdmod" else None,
        method,
    )
    res = SpatialResult(
        core,
        model=model,
        formula=fml,
        effects=effects,
        lee_yu=lee_yu,
        unit_ids=w.ids,
        periods=periods,
        unit=unit,
        time=time,
    )
    # Islands, a spatial parameter at or near its bound: reported when they happen (and kept
    # on res.warnings and in summary()).
    for msg in res.warnings:
        warnings.warn(f"{model.upper()}: {msg}", UserWarning, stacklevel=4)
    return res


@vocabulary(renamed={"formula": "fml"})
def sar(
    fml: str,
    data: Any,
    *,
    W: Any,
    unit: str,
    time: str,
    effects: str = "individual",
    lee_yu: bool = False,
    fixed_rho: float | None = None,
    rho_search: str = "exact",
    method: str = "auto",
) -> SpatialResult:
    """Spatial lag panel y = rho W y + X beta + FE + e by ML (concentrated likelihood).

    ``effects``: "individual", "time", "twoways" or "none". ``lee_yu=True`` uses the Lee-Yu
    (2010) transformation: sigma2 divides by N(T-1) / (N-1)T / (N-1)(T-1) and, with time
    effects, the likelihood drops the common-shock direction (needs row-standardised W).

    ``method``: "dense" (W's eigenvalues and dense (I - rho W)^-1, exact, N <= 8,000),
    "sparse" (exact log-determinant per rho from a sparse Cholesky factor when W is similar
    to a symmetric matrix, e.g. a row-standardised symmetric W, else a sparse LU; the
    information-matrix and effects traces by finite differences of the exact
    log-determinant plus seeded Hutchinson estimation, ``result.trace_se``; with the LU the
    rho interval is (-1, 1) for row-standardised W) or "auto" (dense up to 1,500 units,
    sparse beyond). The path used is ``result.method``; per-unit effects are refused above
    8,000 units.

    There is no random-effects spatial model and hence no Hausman test (fixed effects only).
    """
    return _fit(
        "sar", fml, data, W, unit, time, effects, lee_yu, None, fixed_rho, rho_search, method
    )


@vocabulary(renamed={"formula": "fml"})
def sdm(
    fml: str,
    data: Any,
    *,
    W: Any,
    unit: str,
    time: str,
    effects: str = "individual",
    lee_yu: bool = False,
    durbin: list[str] | None = None,
    fixed_rho: float | None = None,
    rho_search: str = "exact",
    method: str = "auto",
) -> SpatialResult:
    """Spatial Durbin panel y = rho W y + X beta + W X theta + FE + e by ML.

    ``durbin`` lists the regressors that get a spatial lag (default: all). See :func:`sar`
    for ``effects``, ``lee_yu`` and ``method``. There is no random-effects spatial model and
    hence no Hausman test (fixed effects only).
    """
    return _fit(
        "sdm", fml, data, W, unit, time, effects, lee_yu, durbin, fixed_rho, rho_search, method
    )


@vocabulary(renamed={"formula": "fml"})
def sem(
    fml: str,
    data: Any,
    *,
    W: Any,
    unit: str,
    time: str,
    effects: str = "individual",
    lee_yu: bool = False,
    fixed_lambda: float | None = None,
    method: str = "auto",
) -> SpatialResult:
    """Spatial error panel y = X beta + FE + u, u = lambda W u + e, by ML (concentrated
    likelihood in lambda; beta by GLS given lambda). See :func:`sar` for ``effects`` and
    ``lee_yu``. The spatial parameter is reported as ``lambda``."""
    return _fit(
        "sem",
        fml,
        data,
        W,
        unit,
        time,
        effects,
        lee_yu,
        None,
        fixed_lambda,
        "exact",
        method,
        fixed_name="fixed_lambda",
    )


@vocabulary(renamed={"formula": "fml"})
def sdem(
    fml: str,
    data: Any,
    *,
    W: Any,
    unit: str,
    time: str,
    effects: str = "individual",
    lee_yu: bool = False,
    durbin: list[str] | None = None,
    fixed_lambda: float | None = None,
    method: str = "auto",
) -> SpatialResult:
    """Spatial Durbin error panel y = X beta + W X theta + FE + u, u = lambda W u + e."""
    return _fit(
        "sdem",
        fml,
        data,
        W,
        unit,
        time,
        effects,
        lee_yu,
        durbin,
        fixed_lambda,
        "exact",
        method,
        fixed_name="fixed_lambda",
    )


@vocabulary(renamed={"formula": "fml"})
def sac(
    fml: str,
    data: Any,
    *,
    W: Any,
    unit: str,
    time: str,
    effects: str = "individual",
    lee_yu: bool = False,
    method: str = "auto",
) -> SpatialResult:
    """SAC / SARAR panel y = rho W y + X beta + FE + u, u = lambda W u + e, by ML
    (Elhorst 2014; Stata xsmle ``model(sac)``): beta and sigma2 concentrated out, (rho,
    lambda) by nested Brent searches, SEs from the analytic information matrix. Effects
    (``impacts()``) are those of the lag part, (I - rho W)^-1 beta_k. See :func:`sar` for
    ``effects``, ``lee_yu`` and ``method`` (the sparse path estimates tr(H'G~), tr(G~'G~),
    tr(H'H) with control-variate Hutchinson probes, H = W(I - lambda W)^-1). There is no
    random-effects spatial model and hence no Hausman test (fixed effects only).
    """
    return _fit("sac", fml, data, W, unit, time, effects, lee_yu, None, None, "exact", method)


def _did_options(
    y: Any,
    treatment: Any,
    unit: Any,
    time: Any,
    controls: Any,
    reps: Any,
    seed: Any,
    n_terms: int,
) -> tuple[str, str, str, str, list[str], int, int]:
    """The options spatial_did and spatial_event_study share, checked before any work; the
    SDM behind them has 2 * n_terms + 2 coefficients (X, W*X, rho, sigma2)."""
    y = check_str("y", y)
    treatment = check_str("treatment", treatment)
    unit = check_str("unit", unit)
    time = check_str("time", time)
    covs = check_columns("controls", controls)
    k = n_terms + len(covs)
    reps = check_reps("reps", reps, bytes_per_rep=impacts_bytes_per_rep(2 * k + 2), lo=0)
    seed = check_seed(seed)
    return y, treatment, unit, time, covs, reps, seed


@vocabulary(renamed={"covariates": "controls", "draws": "reps"})
def spatial_did(
    data: Any,
    *,
    y: str,
    treatment: str,
    unit: str,
    time: str,
    W: Any,
    controls: list[str] | None = None,
    effects: str = "twoways",
    lee_yu: bool = True,
    reps: int = 1000,
    seed: int = 0,
    method: str = "auto",
) -> tuple[SpatialResult, pl.DataFrame]:
    """Spatial DID: an SDM with the treatment D and W*D (and the controls and their lags),
    two-way fixed effects, staggered adoption allowed (D switches on at each unit's date).

    Returns the fitted model and a table of the treatment's direct (own-unit), indirect
    (spillover) and total LeSage-Pace effects (the rows of ``SpatialImpacts.tidy()`` for the
    treatment: ``effect``, ``term``, estimate, delta-method inference and the simulation
    columns from ``reps`` parameter draws; ``reps=0`` skips the simulation).
    ``method``: see :func:`sar`.
    """
    y, treatment, unit, time, covs, reps, seed = _did_options(
        y, treatment, unit, time, controls, reps, seed, n_terms=1
    )
    _check_effects(effects)
    check_bool("lee_yu", lee_yu)
    check_choice("method", method, _METHODS)
    fml = f"{y} ~ " + " + ".join([treatment, *covs])
    fit = sdm(fml, data, W=W, unit=unit, time=time, effects=effects, lee_yu=lee_yu, method=method)
    imp = fit.impacts(reps=reps, seed=seed).tidy()
    return fit, imp.filter(pl.col("term") == treatment)


def _ev_name(e: int) -> str:
    return f"ev_m{-e}" if e < 0 else f"ev_p{e}"


@vocabulary(renamed={"covariates": "controls", "draws": "reps"})
def spatial_event_study(
    data: Any,
    *,
    y: str,
    treatment: str,
    unit: str,
    time: str,
    W: Any,
    window: tuple[int, int] = (-4, 4),
    controls: list[str] | None = None,
    effects: str = "twoways",
    lee_yu: bool = True,
    reps: int = 1000,
    seed: int = 0,
    method: str = "auto",
) -> tuple[SpatialResult, pl.DataFrame]:
    """Spatial event study: an SDM with event-time dummies (leads and lags of each unit's
    first treated period, reference period -1, endpoints binned) and their spatial lags.

    Staggered adoption: a unit's event time is counted from the first period in which
    ``treatment`` is 1; never-treated units have all dummies 0. ``window=(lo, hi)`` needs
    lo < -1 and hi >= 0. Returns the fit and a table of direct (own) and indirect (spillover)
    LeSage-Pace effects per event time (``effect``, ``term``, ``event_time``, ...;
    ``reps`` parameter draws for the simulation columns).
    """
    lo, hi = check_window(window)
    if not lo < -1 < hi + 1 or hi < 0:
        raise PilotdidError(f"option 'window': {window!r} must satisfy lo < -1 and hi >= 0")
    span = _frame.period_span(data, check_str("time", time))
    if span is not None and (lo < -span or hi > span):
        # the end points are binned: an end point beyond the data would be an empty dummy
        raise PilotdidError(
            f"option 'window': ({lo}, {hi}) reaches beyond the event times the data can have "
            f"(its periods span {span}: -{span}..{span})"
        )
    y, treatment, unit, time, covs, reps, seed = _did_options(
        y, treatment, unit, time, controls, reps, seed, n_terms=hi - lo
    )
    _check_effects(effects)
    check_bool("lee_yu", lee_yu)
    check_choice("method", method, _METHODS)
    df = _frame.to_polars(data, [y, treatment, unit, time, *covs])
    periods = sorted(df.get_column(time).unique().to_list())
    tidx = {v: i for i, v in enumerate(periods)}
    ti = np.asarray([tidx[v] for v in df.get_column(time).to_list()])
    d = _frame.numeric(df, treatment)
    units = df.get_column(unit).to_list()
    first: dict[Any, int] = {}
    for u, t, v in zip(units, ti, d):
        if v == 1 and (u not in first or t < first[u]):
            first[u] = int(t)
    ev = np.array([ti[k] - first[u] if u in first else np.nan for k, u in enumerate(units)])
    names = []
    cols = {}
    for e in range(lo, hi + 1):
        if e == -1:
            continue
        if e == lo:
            m = ev <= lo
        elif e == hi:
            m = ev >= hi
        else:
            m = ev == e
        name = _ev_name(e)
        names.append(name)
        cols[name] = np.where(np.isnan(ev), 0.0, m.astype(float))
    df = df.with_columns(**{k: pl.Series(k, v) for k, v in cols.items()})
    fml = f"{y} ~ " + " + ".join([*names, *covs])
    fit = sdm(fml, df, W=W, unit=unit, time=time, effects=effects, lee_yu=lee_yu, method=method)
    tab = fit.impacts(reps=reps, seed=seed).tidy().filter(pl.col("term").is_in(names))
    evmap = {_ev_name(e): e for e in range(lo, hi + 1)}
    tab = tab.with_columns(
        pl.col("term").replace_strict(evmap, return_dtype=pl.Int64).alias("event_time")
    ).sort(["effect", "event_time"])
    return fit, tab

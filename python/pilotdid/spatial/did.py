"""Spatial DID: the policy's direct and spillover effects through W, static and by
event time, as spatial Durbin models."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._args import (
    check_bool,
    check_choice,
    check_columns,
    check_reps,
    check_seed,
    check_str,
    check_window,
    vocabulary,
)
from pilotdid._core import PilotdidError
from pilotdid.results.spatial import SpatialResult, impacts_bytes_per_rep
from pilotdid.spatial._inputs import _INCOMPLETE, _METHODS, _check_effects
from pilotdid.spatial.models import sdm

__all__ = ["spatial_did", "spatial_event_study"]


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
    incomplete: str = "error",
) -> tuple[SpatialResult, pl.DataFrame]:
    """Spatial DID: an SDM with the treatment D and W*D (and the controls and their lags),
    two-way fixed effects, staggered adoption allowed (D switches on at each unit's date).

    Returns the fitted model and a table of the treatment's direct (own-unit), indirect
    (spillover) and total LeSage-Pace effects (the rows of ``SpatialImpacts.tidy()`` for the
    treatment: ``effect``, ``term``, estimate, delta-method inference and the simulation
    columns from ``reps`` parameter draws; ``reps=0`` skips the simulation).
    ``method``, ``incomplete`` (drop units with missing periods or values, subsetting W):
    see :func:`sar`. ``effects`` defaults to two-way fixed effects (unit and period) with
    the Lee-Yu transformation, as DID designs need.
    """
    y, treatment, unit, time, covs, reps, seed = _did_options(
        y, treatment, unit, time, controls, reps, seed, n_terms=1
    )
    _check_effects(effects)
    check_bool("lee_yu", lee_yu)
    check_choice("method", method, _METHODS)
    check_choice("incomplete", incomplete, _INCOMPLETE)
    fml = f"{y} ~ " + " + ".join([treatment, *covs])
    fit = sdm(
        fml,
        data,
        W=W,
        unit=unit,
        time=time,
        effects=effects,
        lee_yu=lee_yu,
        method=method,
        incomplete=incomplete,
    )
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
    incomplete: str = "error",
) -> tuple[SpatialResult, pl.DataFrame]:
    """Spatial event study: an SDM with event-time dummies (leads and lags of each unit's
    first treated period, reference period -1, endpoints binned) and their spatial lags.

    Staggered adoption: a unit's event time is counted from the first period in which
    ``treatment`` is 1; never-treated units have all dummies 0. ``window=(lo, hi)`` needs
    lo < -1 and hi >= 0. Returns the fit and a table of direct (own) and indirect (spillover)
    LeSage-Pace effects per event time (``effect``, ``term``, ``event_time``, ...;
    ``reps`` parameter draws for the simulation columns). ``incomplete``: see :func:`sar`
    (the event times are computed before incomplete units are dropped).
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
    check_choice("incomplete", incomplete, _INCOMPLETE)
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
    fit = sdm(
        fml,
        df,
        W=W,
        unit=unit,
        time=time,
        effects=effects,
        lee_yu=lee_yu,
        method=method,
        incomplete=incomplete,
    )
    tab = fit.impacts(reps=reps, seed=seed).tidy().filter(pl.col("term").is_in(names))
    evmap = {_ev_name(e): e for e in range(lo, hi + 1)}
    tab = tab.with_columns(
        pl.col("term").replace_strict(evmap, return_dtype=pl.Int64).alias("event_time")
    ).sort(["effect", "event_time"])
    return fit, tab

"""`sunab()`: the Sun & Abraham (2021) interaction-weighted event study."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._args import (
    check_choice,
    check_columns,
    check_float,
    check_int,
    check_level,
    check_str,
    check_window,
    vocabulary,
)
from pilotdid._core import PilotdidError, sunab_fit
from pilotdid.did._event_time import (
    RENAMED,
    _refs,
    check_refs_in_data,
    check_window_in_data,
    treated_event_times,
)
from pilotdid.panel import cohort_option, cohort_values
from pilotdid.regression import VcovSpec, _parse_vcov
from pilotdid.results.event_study import warn_analytic_se
from pilotdid.results.sun_abraham import SunAbrahamResult

#: An event-time bound beyond any panel: binning on one side only clamps to it (a no-op).
_NO_BIN = 2**62


@vocabulary(renamed={**RENAMED, "control": "control_group", "bin": "bin_lo' and 'bin_hi"})
def sunab(
    data: Any,
    *,
    y: str,
    unit: str,
    time: str,
    cohort: str | None = None,
    treatment: str | None = None,
    controls: Sequence[str] | None = None,
    control_group: str = "never",
    vcov: VcovSpec | None = None,
    cluster: str | None = None,
    ref_period: int | Sequence[int] = -1,
    bin_lo: int | None = None,
    bin_hi: int | None = None,
    window: tuple[int, int] | None = None,
    level: float = 0.95,
    fixef_tol: float = 1e-11,
    fixef_maxiter: int = 100_000,
) -> SunAbrahamResult:
    """Sun & Abraham (2021, J. Econometrics 225(2)) interaction-weighted event study.

    Regresses ``y`` on cohort × relative-period indicators (``cohort``, the first treated
    period, 0 or missing = never treated, or derived from a 0/1 ``treatment`` column; relative
    period e = ``time`` − cohort), with unit and period fixed effects and optional ``controls``,
    leaving out the reference period(s) ``ref_period`` (event times of the data) and the control
    cohort:

    - ``control_group="never"``: never-treated units are the comparison (default, as
      ``fixest::sunab``);
    - ``control_group="last"``: the last-treated cohort is the comparison, and periods from its
      treatment on are dropped (never-treated units, if any, remain controls).

    The cohort-specific effects CATT(g, e) are then averaged over cohorts at each e with weights
    equal to each cohort's share of the estimation-sample observations at e (in a balanced panel:
    its share of the units treated at e). The event-time covariance is W V Wᵀ, the delta method
    with the weights treated as fixed, as ``fixest::aggregate`` does.

    Units treated in the first period (no pre-period) are dropped and counted; cohorts after the
    last period count as never treated. ``bin_lo``/``bin_hi`` bin relative periods below
    ``bin_lo`` into ``bin_lo`` and above ``bin_hi`` into ``bin_hi`` (the binning options of the
    TWFE event study and did2s; either side alone is fine). ``window=(lo, hi)`` instead drops
    treated units' rows with a relative period outside it (as the TWFE event study and did2s
    do; counted in ``dropped_rows["outside_window"]``, present when a window is given).
    ``vcov`` defaults to ``{"CR1": unit}``; ``cluster="col"`` is short for ``{"CR1": "col"}``.
    """
    y = check_str("y", y)
    time = check_str("time", time)
    unit = check_str("unit", unit)
    timing, derived = cohort_option(cohort, treatment)
    controls = check_columns("controls", controls)
    control = check_choice("control_group", control_group, ("never", "last"))
    if cluster is not None:
        cluster = check_str("cluster", cluster)
        if vcov is not None:
            raise PilotdidError(
                f"options 'vcov' and 'cluster': give one (cluster='{cluster}' is the shortcut "
                f"for vcov={{'CR1': '{cluster}'}}), got vcov={vcov!r} too"
            )
        vcov = {"CR1": cluster}
    if vcov is None:
        vcov = {"CR1": unit}
    kind, cluster_cols, vcov_label = _parse_vcov(vcov, [unit])
    refs = _refs(ref_period)
    lo_bin = None if bin_lo is None else check_int("bin_lo", bin_lo)
    hi_bin = None if bin_hi is None else check_int("bin_hi", bin_hi)
    bins = (
        None
        if lo_bin is None and hi_bin is None
        else (-_NO_BIN if lo_bin is None else lo_bin, _NO_BIN if hi_bin is None else hi_bin)
    )
    for r in refs:
        if lo_bin is not None and r <= lo_bin:
            raise PilotdidError(
                f"option 'bin_lo': {lo_bin} must be below the reference period(s) {refs}"
            )
        if hi_bin is not None and r >= hi_bin:
            raise PilotdidError(
                f"option 'bin_hi': {hi_bin} must be above the reference period(s) {refs}"
            )
    win = None if window is None else check_window(window)
    level = check_level(level)
    tol = check_float("fixef_tol", fixef_tol, lo=0.0, lo_open=True)
    max_iter = check_int("fixef_maxiter", fixef_maxiter, lo=1)
    cols = [unit, time, timing, y, *controls, *cluster_cols]
    df = _frame.to_polars(data, cols)
    if df.height == 0:
        raise PilotdidError("no rows: the data frame is empty")
    gv, n_derived = cohort_values(df, unit=unit, time=time, column=timing, derived=derived)
    if derived:
        df = df.with_columns(pl.Series(timing, gv))
    tcol = df.get_column(time)
    if tcol.dtype.is_integer() or tcol.dtype.is_float():
        times = treated_event_times(tcol.cast(pl.Float64).fill_null(np.nan).to_numpy(), gv)
        check_refs_in_data(refs, times)
        check_window_in_data(win, times)
    n_outside = 0
    if win is not None:
        lo, hi = win
        # Treated = a cohort inside the panel; 0, missing and cohorts after the last period
        # are never treated (as the estimator itself counts them) and keep all their rows.
        g = pl.col(timing).cast(pl.Float64).fill_nan(None).fill_null(0.0)
        last = df.get_column(time).cast(pl.Float64).max()
        e = pl.col(time).cast(pl.Float64) - g
        outside = (g > 0) & (g <= last) & ((e < lo) | (e > hi))
        n_outside = int(df.select(outside.sum()).item())
        df = df.filter(~outside)
    u = df.get_column(unit)
    if u.null_count():
        raise PilotdidError(f"column '{unit}' has missing values; panel ids must be complete")
    t = df.get_column(time)
    if not (t.dtype.is_integer() or t.dtype.is_float()) or t.null_count():
        raise PilotdidError(f"column '{time}' must hold complete integer periods (e.g. years)")
    tv = t.cast(pl.Float64).to_numpy()
    if np.any(~np.isfinite(tv)) or np.any(tv != np.floor(tv)):
        raise PilotdidError(f"column '{time}' must hold complete integer periods (e.g. years)")
    labels_series = u.unique(maintain_order=True)
    codes = (
        u.to_frame("u")
        .join(labels_series.to_frame("u").with_row_index("code"), on="u", how="left")
        .get_column("code")
        .cast(pl.UInt32)
        .to_numpy()
    )
    clusters = []
    for c in cluster_cols:
        values, valid = _frame.ids(df, c)
        if not valid.all():
            raise PilotdidError(f"column '{c}' has missing values; cluster ids must be complete")
        clusters.append(np.ascontiguousarray(values, dtype=np.int64))
    out = sunab_fit(
        np.ascontiguousarray(codes, dtype=np.uint32),
        [str(v) for v in labels_series.to_list()],
        np.ascontiguousarray(tv, dtype=np.int64),
        _frame.numeric(df, timing),
        y,
        _frame.numeric(df, y),
        gname=timing,
        tname=time,
        control_names=controls,
        controls=[_frame.numeric(df, c) for c in controls],
        cluster_names=cluster_cols,
        clusters=clusters,
        vcov=kind,
        vcov_clusters=list(range(len(cluster_cols))),
        control=control,
        ref_periods=refs,
        bin=bins,
        level=level,
        tol=tol,
        max_iter=max_iter,
    )
    res = SunAbrahamResult(
        out,
        refs=refs,
        level=level,
        vcov_label=vcov_label,
        control=control,
        cohort_derived=n_derived,
    )
    if win is not None:
        res.dropped_rows["outside_window"] = n_outside
    if kind == "cluster" and res.n_clusters:
        # one warning per fit (the analytic SE rests on the first cluster variable)
        warn_analytic_se(
            "sa",
            int(res.n_clusters[0]),
            "result.wild_bootstrap(param, weight_type='webb'), the restricted wild cluster "
            "bootstrap",
        )
    return res

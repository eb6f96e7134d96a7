"""`sunab()`: the Sun & Abraham (2021) interaction-weighted event study."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._core import PilotdidError, sunab_fit
from pilotdid.regression import VcovSpec, _parse_vcov
from pilotdid.results.sun_abraham import SunAbrahamResult


def sunab(
    data: Any,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    controls: Sequence[str] | None = None,
    control: str = "never",
    vcov: VcovSpec | None = None,
    ref_period: int | Sequence[int] = -1,
    bin: tuple[int, int] | None = None,
    window: tuple[int, int] | None = None,
    level: float = 0.95,
    fixef_tol: float = 1e-11,
    fixef_maxiter: int = 100_000,
) -> SunAbrahamResult:
    """Sun & Abraham (2021, J. Econometrics 225(2)) interaction-weighted event study.

    Regresses ``yname`` on cohort × relative-period indicators (cohort = ``gname``, the first
    treated period, 0 or missing = never treated; relative period e = ``tname`` − cohort), with
    unit and period fixed effects and optional ``controls``, leaving out the reference period(s)
    ``ref_period`` and the control cohort:

    - ``control="never"``: never-treated units are the comparison (default, as ``fixest::sunab``);
    - ``control="last"``: the last-treated cohort is the comparison, and periods from its
      treatment on are dropped (never-treated units, if any, remain controls).

    The cohort-specific effects CATT(g, e) are then averaged over cohorts at each e with weights
    equal to each cohort's share of the estimation-sample observations at e (in a balanced panel:
    its share of the units treated at e). The event-time covariance is W V Wᵀ, the delta method
    with the weights treated as fixed, as ``fixest::aggregate`` does.

    Units treated in the first period (no pre-period) are dropped and counted; cohorts after the
    last period count as never treated. ``bin=(lo, hi)`` bins relative periods below ``lo`` into
    ``lo`` and above ``hi`` into ``hi``. ``window=(lo, hi)`` instead drops treated units' rows
    with a relative period outside it (as the TWFE event study and did2s do; counted in
    ``dropped_rows["outside_window"]``, present when a window is given). ``vcov`` defaults
    to ``{"CR1": idname}``.
    """
    controls = list(controls or [])
    for opt, val in (("yname", yname), ("tname", tname), ("idname", idname), ("gname", gname)):
        if not isinstance(val, str) or not val:
            raise PilotdidError(f"option '{opt}': give a column name")
    if vcov is None:
        vcov = {"CR1": idname}
    kind, cluster_cols, vcov_label = _parse_vcov(vcov, [idname])
    refs = [int(ref_period)] if np.isscalar(ref_period) else [int(r) for r in ref_period]
    if bin is not None:
        if len(bin) != 2:
            raise PilotdidError("option 'bin': give (lo, hi) relative periods")
        bin = (int(bin[0]), int(bin[1]))
    if control not in ("never", "last"):
        raise PilotdidError(f"option 'control': '{control}' is not one of 'never', 'last'")
    cols = [idname, tname, gname, yname, *controls, *cluster_cols]
    df = _frame.to_polars(data, cols)
    if df.height == 0:
        raise PilotdidError("no rows: the data frame is empty")
    n_outside = 0
    if window is not None:
        if len(window) != 2 or int(window[0]) > int(window[1]):
            raise PilotdidError("option 'window': give (lo, hi) relative periods with lo <= hi")
        lo, hi = int(window[0]), int(window[1])
        # Treated = a cohort inside the panel; 0, missing and cohorts after the last period
        # are never treated (as the estimator itself counts them) and keep all their rows.
        g = pl.col(gname).cast(pl.Float64).fill_nan(None).fill_null(0.0)
        last = df.get_column(tname).cast(pl.Float64).max()
        e = pl.col(tname).cast(pl.Float64) - g
        outside = (g > 0) & (g <= last) & ((e < lo) | (e > hi))
        n_outside = int(df.select(outside.sum()).item())
        df = df.filter(~outside)
    u = df.get_column(idname)
    if u.null_count():
        raise PilotdidError(f"column '{idname}' has missing values; panel ids must be complete")
    t = df.get_column(tname)
    if not (t.dtype.is_integer() or t.dtype.is_float()) or t.null_count():
        raise PilotdidError(f"column '{tname}' must hold complete integer periods (e.g. years)")
    tv = t.cast(pl.Float64).to_numpy()
    if np.any(~np.isfinite(tv)) or np.any(tv != np.floor(tv)):
        raise PilotdidError(f"column '{tname}' must hold complete integer periods (e.g. years)")
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
        _frame.numeric(df, gname),
        gname,
        tname,
        yname,
        _frame.numeric(df, yname),
        controls,
        [_frame.numeric(df, c) for c in controls],
        cluster_cols,
        clusters,
        kind,
        list(range(len(cluster_cols))),
        control,
        refs,
        bin,
        float(level),
        float(fixef_tol),
        int(fixef_maxiter),
    )
    res = SunAbrahamResult(out, refs=refs, level=level, vcov_label=vcov_label, control=control)
    if window is not None:
        res.dropped_rows["outside_window"] = n_outside
    return res

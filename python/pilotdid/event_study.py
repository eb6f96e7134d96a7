"""Event studies: one entry point, ``event_study(..., estimator=...)``, for TWFE leads and lags,
Callaway & Sant'Anna, Sun & Abraham, Borusyak-Jaravel-Spiess imputation and Gardner's
two-stage DID. Argument handling only; the Rust core computes every number."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Union

import numpy as np

from pilotdid import _frame
from pilotdid._core import PilotdidError, did2s_fit, imputation_fit, twfe_event_study_fit
from pilotdid.results.event_study import EventStudyResult

VcovSpec = Union[str, dict, None]

ESTIMATORS = ("twfe", "cs", "sa", "bjs", "did2s")


def _refs(ref_period: int | Sequence[int]) -> list[int]:
    if isinstance(ref_period, (int, np.integer)):
        return [int(ref_period)]
    refs = [int(r) for r in ref_period]
    if not refs:
        raise PilotdidError("option 'ref_period': give at least one reference event time")
    return refs


def _window(window: Sequence[int] | None) -> tuple[int, int] | None:
    if window is None:
        return None
    w = tuple(int(v) for v in window)
    if len(w) != 2:
        raise PilotdidError(f"option 'window': expected (lo, hi), got {window!r}")
    return w  # type: ignore[return-value]


def _cluster_of(vcov: VcovSpec, idname: str, allow_iid: bool) -> tuple[str, str | None]:
    """-> (kind, cluster column). Default: CR1 by the unit."""
    if vcov is None:
        return "cluster", idname
    if isinstance(vcov, str):
        key = vcov.lower()
        if allow_iid and key == "iid":
            return "iid", None
        if allow_iid and key in ("hetero", "hc1"):
            return "hetero", None
        raise PilotdidError(
            f"option 'vcov': '{vcov}' is not available here; use {{'CR1': 'column'}}"
            + (", 'iid' or 'hetero'" if allow_iid else " (this estimator's variance is clustered)")
        )
    if isinstance(vcov, dict) and len(vcov) == 1:
        ((kind, cl),) = vcov.items()
        if str(kind).upper() not in ("CR1", "CRV1"):
            raise PilotdidError(f"option 'vcov': '{kind}' is not supported; use 'CR1'")
        cl = str(cl).strip()
        if "+" in cl or not cl:
            raise PilotdidError(f"option 'vcov': cluster spec '{cl}' must name one column")
        return "cluster", cl
    raise PilotdidError(f"option 'vcov': cannot read {vcov!r}")


def _columns(
    data: Any,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    controls: Sequence[str] | None,
    cluster: str | None,
) -> dict[str, Any]:
    """The arrays every core call takes (the caller's frame is not modified)."""
    controls = list(controls or [])
    if _frame.n_rows(data) == 0:
        raise PilotdidError("no rows: the data frame is empty")
    cols = [yname, tname, idname, gname, *controls] + ([cluster] if cluster else [])
    df = _frame.to_polars(data, cols)
    if not df.get_column(tname).dtype.is_numeric():
        raise PilotdidError(
            f"column '{tname}' must hold numeric periods (e.g. years), got {df[tname].dtype}"
        )
    time, ok_t = _frame.ids(df, tname)
    unit, ok_u = _frame.ids(df, idname)
    valid = ok_t & ok_u
    cl, ok_c = (None, True) if cluster is None else _frame.ids(df, cluster)
    valid &= ok_c
    return {
        "y_name": yname,
        "y": _frame.numeric(df, yname),
        "unit": unit,
        "time": time,
        "cohort": _frame.numeric(df, gname),
        "control_names": controls,
        "controls": [_frame.numeric(df, c) for c in controls],
        "cluster_name": cluster,
        "cluster": cl,
        "valid": None if valid.all() else np.ascontiguousarray(valid),
    }


def twfe_event_study(
    data: Any,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    controls: Sequence[str] | None = None,
    ref_period: int | Sequence[int] = -1,
    window: Sequence[int] | None = None,
    vcov: VcovSpec = None,
    bin_lo: int | None = None,
    bin_hi: int | None = None,
    level: float = 0.95,
    fixef_tol: float = 1e-11,
    fixef_maxiter: int = 10_000,
) -> EventStudyResult:
    """TWFE event study: ``y ~ i(rel_time, ref=ref_period) + controls | unit + period``.

    Event time e = period - cohort for units with a cohort (``gname``: first treated period;
    0, NaN or missing = never treated, whose dummies are all zero). ``bin_lo``/``bin_hi`` pool
    e <= bin_lo and e >= bin_hi; ``window=(lo, hi)`` drops treated units' rows with e outside
    it (counted in ``extra["n_outside_window"]``). ``vcov``: default CR1 by ``idname``;
    ``{"CR1": col}``, ``"iid"`` or ``"hetero"``. The joint Wald test of all leads (e < 0) is in
    ``result.pretrend`` (F with G - 1 denominator df when clustered, and chi2). For a wild
    cluster bootstrap of one coefficient: ``result.wild_bootstrap(e)``.
    """
    kind, cluster = _cluster_of(vcov, idname, allow_iid=True)
    cols = _columns(data, yname, tname, idname, gname, controls, cluster)
    core = twfe_event_study_fit(
        **cols,
        vcov=kind,
        ref_periods=_refs(ref_period),
        bin_lo=bin_lo,
        bin_hi=bin_hi,
        window=_window(window),
        tol=float(fixef_tol),
        max_iter=int(fixef_maxiter),
    )
    info = core.info(level)
    extra = {
        "vcov": "iid" if kind == "iid" else ("HC1" if kind == "hetero" else f"CR1 by {cluster}"),
        "pretrend": info["pretrend"],
        "n_missing": info["n_missing"],
        "n_outside_window": info["n_outside_window"],
        "n_obs_event_time": info["n_obs_event_time"],
        "collinear": info["collinear"],
        "collinear_event_time": info["collinear_event_time"],
        "df_t": info["df_t"],
        "n_clusters": info["n_clusters"],
        "coefnames": info["coefnames"],
        "coef_all": info["beta"],
        "se_all": info["se_all"],
        "r2": info["r2"],
        "_core": core,
    }
    return EventStudyResult(
        estimator="TWFE",
        event_time=np.asarray(info["event_time"], dtype=np.int64),
        estimate=np.asarray(info["estimate"]),
        std_error=np.asarray(info["std_error"]),
        conf_low=np.asarray(info["conf_low"]),
        conf_high=np.asarray(info["conf_high"]),
        level=level,
        vcov=np.asarray(info["vcov"]),
        reference=_refs(ref_period),
        nobs=info["nobs"],
        extra=extra,
    )


def imputation(
    data: Any,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    controls: Sequence[str] | None = None,
    horizons: Sequence[int] | bool | None = None,
    pretrends: Sequence[int] | bool | None = None,
    anticipation: int = 0,
    vcov: VcovSpec = None,
    level: float = 0.95,
    leave_out: bool = False,
    small_sample: bool = False,
) -> EventStudyResult:
    """Borusyak, Jaravel & Spiess (2024) imputation estimator (R ``didimputation`` names).

    Unit and period effects (and ``controls``) are fitted on untreated rows only (never
    treated, and t < cohort - ``anticipation``); Y(0) is imputed for treated rows (t >= cohort)
    and tau_it = Y - Y(0)-hat. ``horizons``: event times e >= 0 to report (default / True: all);
    the static ATT over all treated rows is in ``extra["att"]``. ``pretrends``: lead event times
    (e < 0; True = all) for BJS's test regression on untreated rows (reported as extra rows of
    the result with ``extra["pretrend"]`` the joint Wald test). Standard errors: BJS Theorem 3
    conservative variance clustered by ``idname`` (or ``vcov={"CR1": col}``), with the
    auxiliary tau-bar averaged by cohort x event time (as ``didimputation``); normal intervals.

    ``leave_out=True``: the auxiliary tau-tilde of a cluster excludes that cluster's own
    observations (BJS Section 4.3 / Appendix A.6, Stata ``did_imputation, leaveout``, diff-diff
    ``leave_one_out=True``), recommended with small cohorts, where the default overfits and
    understates the variance. Cells (cohort x event time) with a single cluster keep the
    non-leave-out tau-bar; they are listed in ``extra["leave_out_fallback"]`` and in
    ``extra["notes"]``. Default False reproduces ``didimputation`` / diff-diff / Stata defaults.
    ``small_sample=True``: variance times G/(G-1) and t(G-1) intervals (G clusters); not in
    the reference implementations.
    """
    _, cluster = _cluster_of(vcov, idname, allow_iid=False)
    cols = _columns(data, yname, tname, idname, gname, controls, cluster)
    hz = None if horizons is None or horizons is True else [int(h) for h in horizons]
    if pretrends is True:
        pre = _all_leads(cols)
    elif pretrends is None or pretrends is False:
        pre = None
    else:
        pre = [int(p) for p in pretrends]
    r = imputation_fit(
        **cols,
        horizons=hz,
        pretrends=pre,
        anticipation=int(anticipation),
        level=level,
        leave_out=bool(leave_out),
        small_sample=bool(small_sample),
    )
    fallback = [(int(g), int(e)) for g, e in r["leave_out_fallback"]]
    notes = []
    if fallback:
        notes.append(
            f"leave_out: {len(fallback)} cohort x event-time cell(s) have a single cluster, "
            f"where the leave-out tau-tilde is undefined; the non-leave-out average was used "
            f"for them: {fallback}"
        )
        warnings.warn(notes[-1], UserWarning, stacklevel=2)
    pe = np.asarray(r["pretrend_event_time"], dtype=np.int64)
    # Leads (test regression) first, then horizons: one table for plotting.
    event_time = np.concatenate([pe, np.asarray(r["event_time"], dtype=np.int64)])
    est = np.concatenate([np.asarray(r["pretrend_estimate"]), r["estimate"]])
    se = np.concatenate([np.asarray(r["pretrend_std_error"]), r["std_error"]])
    lo = np.concatenate([np.asarray(r["pretrend_conf_low"]), r["conf_low"]])
    hi = np.concatenate([np.asarray(r["pretrend_conf_high"]), r["conf_high"]])
    extra = {
        "vcov": f"BJS (Theorem 3{', leave-out' if leave_out else ''}) clustered by {cluster}"
        + (" with G/(G-1) and t(G-1)" if small_sample else ""),
        "leave_out": bool(leave_out),
        "small_sample": bool(small_sample),
        "leave_out_fallback": fallback,
        "notes": notes,
        "ci_df": r["ci_df"],
        "att": r["att"],
        "att_se": r["att_se"],
        "att_conf": r["att_conf"],
        "horizon_vcov": np.asarray(r["vcov"]),
        "pretrend": r["pretrend"],
        "pretrend_event_time": list(pe),
        "n_obs_event_time": r["n_obs_event_time"],
        "tau": r["tau"],
        "n_treated": r["n_treated"],
        "n_untreated": r["n_untreated"],
        "n_missing": r["n_missing"],
        "n_not_imputable": r["n_not_imputable"],
        "n_clusters": r["n_clusters"],
        "collinear": r["collinear"],
    }
    return EventStudyResult(
        estimator="BJS imputation",
        event_time=event_time,
        estimate=est,
        std_error=se,
        conf_low=lo,
        conf_high=hi,
        level=level,
        vcov=np.asarray(r["vcov"]) if len(pe) == 0 else None,
        reference=(),
        nobs=r["n_treated"] + r["n_untreated"],
        extra=extra,
    )


def _all_leads(cols: dict[str, Any]) -> list[int]:
    g = cols["cohort"]
    treated = np.isfinite(g) & (g != 0)
    e = cols["time"][treated] - g[treated].astype(np.int64)
    return sorted(int(v) for v in np.unique(e[e < 0]))


def did2s(
    data: Any,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    controls: Sequence[str] | None = None,
    ref_period: int | Sequence[int] = -1,
    window: Sequence[int] | None = None,
    event: bool = True,
    bin_lo: int | None = None,
    bin_hi: int | None = None,
    anticipation: int = 0,
    vcov: VcovSpec = None,
    level: float = 0.95,
) -> EventStudyResult:
    """Gardner (2022) two-stage DID with Butts & Gardner GMM standard errors (``did2s``).

    Stage 1 fits unit + period effects (+ ``controls``) on untreated rows (never treated and
    t < cohort - ``anticipation``) and residualises every row; stage 2 regresses the residual
    on event-time dummies (``event=True``; leads and lags except ``ref_period``, binned by
    ``bin_lo``/``bin_hi``, treated rows outside ``window`` dropped) or on the treatment
    indicator (``event=False``, a one-row result with event time 0). Clustered by ``idname``
    (or ``vcov={"CR1": col}``); t intervals with G - 1 df, as pyfixest.
    """
    _, cluster = _cluster_of(vcov, idname, allow_iid=False)
    cols = _columns(data, yname, tname, idname, gname, controls, cluster)
    refs = _refs(ref_period)
    r = did2s_fit(
        **cols,
        event=bool(event),
        ref_periods=refs,
        bin_lo=bin_lo,
        bin_hi=bin_hi,
        window=_window(window),
        anticipation=int(anticipation),
        level=level,
    )
    et = np.asarray(r["event_time"], dtype=np.int64) if event else np.zeros(1, dtype=np.int64)
    extra = {
        "vcov": f"GMM (Butts & Gardner) clustered by {cluster}",
        "terms": r["terms"],
        "static": not event,
        "n_obs_event_time": r["n_obs_event_time"],
        "n_untreated": r["n_untreated"],
        "n_missing": r["n_missing"],
        "n_not_imputable": r["n_not_imputable"],
        "n_outside_window": r["n_outside_window"],
        "n_clusters": r["n_clusters"],
        "collinear": r["collinear"],
        # the intervals' Student-t degrees of freedom (G - 1, as pyfixest.did2s)
        "df_t": int(r["n_clusters"]) - 1,
    }
    return EventStudyResult(
        estimator="did2s" if event else "did2s (static)",
        event_time=et,
        estimate=np.asarray(r["estimate"]),
        std_error=np.asarray(r["std_error"]),
        conf_low=np.asarray(r["conf_low"]),
        conf_high=np.asarray(r["conf_high"]),
        level=level,
        vcov=np.asarray(r["vcov"]),
        reference=refs if event else (),
        nobs=r["nobs"],
        extra=extra,
    )


def event_study(
    data: Any,
    yname: str,
    tname: str,
    idname: str,
    gname: str,
    estimator: str = "twfe",
    controls: Sequence[str] | None = None,
    ref_period: int | Sequence[int] = -1,
    window: Sequence[int] | None = None,
    vcov: VcovSpec = None,
    **kwargs: Any,
) -> EventStudyResult:
    """Dynamic effects by event time with one call, for any of five estimators.

    estimator
        ``"twfe"`` (:func:`twfe_event_study`), ``"bjs"`` (:func:`imputation`), ``"did2s"``
        (:func:`did2s`), ``"cs"`` (Callaway & Sant'Anna: ``pilotdid.staggered.att_gt`` then
        ``aggte(type="dynamic")``) or ``"sa"`` (Sun & Abraham: ``pilotdid.sun_abraham.sunab``).
    controls
        Covariate columns (``xformla`` for CS).
    ref_period
        Reference event time(s) for TWFE, did2s and SA (CS and BJS have none).
    window
        (lo, hi) event times: TWFE/did2s drop treated rows outside it; BJS reports horizons
        0..hi and leads lo..-1 as its pre-trend test; CS passes ``min_e``/``max_e``.
    vcov
        Default: clustered by ``idname``. ``{"CR1": col}`` picks another cluster variable.
    kwargs
        Passed to the estimator (e.g. ``bin_lo``, ``bin_hi`` for TWFE; ``pretrends``,
        ``horizons``, ``anticipation`` for BJS; ``control_group``, ``est_method`` for CS).
    """
    est = str(estimator).lower()
    if est not in ESTIMATORS:
        raise PilotdidError(
            f"option 'estimator': '{estimator}' is not one of {', '.join(ESTIMATORS)}"
        )
    if est == "twfe":
        return twfe_event_study(
            data,
            yname,
            tname,
            idname,
            gname,
            controls=controls,
            ref_period=ref_period,
            window=window,
            vcov=vcov,
            **kwargs,
        )
    if est == "did2s":
        return did2s(
            data,
            yname,
            tname,
            idname,
            gname,
            controls=controls,
            ref_period=ref_period,
            window=window,
            vcov=vcov,
            **kwargs,
        )
    if est == "bjs":
        if window is not None:
            lo, hi = _window(window)  # type: ignore[misc]
            kwargs.setdefault("horizons", list(range(max(lo, 0), hi + 1)))
            if lo < 0:
                kwargs.setdefault("pretrends", list(range(lo, 0)))
        return imputation(data, yname, tname, idname, gname, controls=controls, vcov=vcov, **kwargs)
    if est == "cs":
        from pilotdid import staggered  # lazily: a separate module

        agg_kw = {}
        if window is not None:
            lo, hi = _window(window)  # type: ignore[misc]
            agg_kw = {"min_e": lo, "max_e": hi}
        for key in ("min_e", "max_e", "balance_e"):
            if key in kwargs:
                agg_kw[key] = kwargs.pop(key)
        if vcov is not None:
            raise PilotdidError(
                "option 'vcov': for estimator='cs' pass att_gt's own options (e.g. clustervars)"
            )
        xformla = None
        if controls:
            xformla = "~ " + " + ".join(controls)
        res = staggered.att_gt(data, yname, tname, idname, gname, xformla=xformla, **kwargs)
        return staggered.aggte(res, type="dynamic", **agg_kw).to_event_study()
    # est == "sa"
    from pilotdid import sun_abraham  # lazily: a separate module

    if vcov is not None:
        kwargs["vcov"] = vcov
    res = sun_abraham.sunab(
        data,
        yname,
        tname,
        idname,
        gname,
        controls=controls,
        ref_period=ref_period,
        window=_window(window),
        **kwargs,
    )
    return res.to_event_study()


__all__ = ["did2s", "event_study", "imputation", "twfe_event_study"]

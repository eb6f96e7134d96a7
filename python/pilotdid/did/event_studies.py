"""Event studies: one entry point, ``event_study(data, *, y, unit, time, cohort, estimator=...)``,
for TWFE leads and lags, Callaway & Sant'Anna, Sun & Abraham, Borusyak-Jaravel-Spiess
imputation and Gardner's two-stage DID. Argument handling only; the Rust core computes every
number.

Every function takes ``data`` first and everything else by keyword (the package's one
vocabulary): ``y``, ``unit``, ``time``, ``cohort`` (first treated period; 0 or missing = never)
or ``treatment`` (a 0/1 column, from which the cohorts are derived), ``controls``,
``ref_period``, ``window=(lo, hi)``, ``vcov`` (+ the ``cluster=`` shortcut), ``level``.
Binned endpoints are ``bin_lo``/``bin_hi`` in every estimator that bins (TWFE, did2s, SA).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Union

import numpy as np

from pilotdid import _frame
from pilotdid._args import (
    check_bool,
    check_choice,
    check_columns,
    check_float,
    check_int,
    check_level,
    check_reps,
    check_seed,
    check_str,
    check_window,
    vocabulary,
)
from pilotdid._core import PilotdidError, did2s_fit, imputation_fit, twfe_event_study_fit
from pilotdid.did import staggered, sun_abraham
from pilotdid.did._event_time import (
    RENAMED,
    _refs,
    check_refs_in_data,
    check_window_in_data,
    treated_event_times,
)
from pilotdid.panel import cohort_option, cohort_values
from pilotdid.regression import conley_spec
from pilotdid.results._inference import normal_critical
from pilotdid.results.event_study import (
    EventStudyResult,
    did2s_wild_bootstrap,
    warn_analytic_se,
)

__all__ = ["did2s", "event_study", "imputation", "twfe_event_study"]

VcovSpec = Union[str, dict, None]


ESTIMATORS = ("twfe", "cs", "sa", "bjs", "did2s")


def _window_within_span(data: Any, time: str, window: Any) -> tuple[int, int]:
    """A window clipped to the widest event times the data can have (+/- the span of its
    periods): a window far wider than the data means all of it, and is never materialised."""
    lo, hi = check_window(window)
    span = _frame.period_span(data, check_str("time", time))
    if span is None:
        return lo, hi
    if hi < -span or lo > span:
        raise PilotdidError(
            f"option 'window': ({lo}, {hi}) is outside every event time the data can have "
            f"(periods span {span}, so event times lie within -{span}..{span})"
        )
    return max(lo, -span), min(hi, span)


def _treated_event_times_of(
    data: Any, unit: str, time: str, cohort: str | None, treatment: str | None
) -> np.ndarray:
    """The treated units' event times in ``data`` (cohort given or derived from treatment)."""
    timing, derived = cohort_option(cohort, treatment)
    df = _frame.to_polars(data, [check_str("unit", unit), check_str("time", time), timing])
    gv, _ = cohort_values(df, unit=unit, time=time, column=timing, derived=derived)
    t = _frame.numeric(df, time)
    return treated_event_times(t, gv)


def _window(window: Sequence[int] | None) -> tuple[int, int] | None:
    return None if window is None else check_window(window)


def _opt_int(name: str, value: Any) -> int | None:
    return None if value is None else check_int(name, value)


def _cluster_of(
    vcov: VcovSpec, cluster: str | None, unit: str, allow_iid: bool, allow_conley: bool = False
) -> tuple[str, str | None]:
    """-> (kind, cluster column). Default: CR1 by the unit; ``cluster="col"`` is the shortcut
    for ``vcov={"CR1": "col"}``; ``{"conley": {...}}`` (where allowed) -> ("conley", None)."""
    if cluster is not None:
        cluster = check_str("cluster", cluster)
        if vcov is not None and not (isinstance(vcov, str) and vcov.upper() in ("CR1", "CRV1")):
            raise PilotdidError(
                f"options 'vcov' and 'cluster': give one (cluster='{cluster}' is the shortcut "
                f"for vcov={{'CR1': '{cluster}'}}), got vcov={vcov!r} too"
            )
        return "cluster", cluster
    if vcov is None:
        return "cluster", unit
    if isinstance(vcov, str):
        key = vcov.lower()
        if key in ("cr1", "crv1"):
            return "cluster", unit
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
        if str(kind).lower() == "conley":
            if not allow_conley:
                raise PilotdidError(
                    "option 'vcov': 'conley' is available for the TWFE event study and did2s; "
                    "this estimator's variance is clustered ({'CR1': column})"
                )
            return "conley", None
        if str(kind).upper() not in ("CR1", "CRV1"):
            raise PilotdidError(f"option 'vcov': '{kind}' is not supported; use 'CR1'")
        if not isinstance(cl, str):
            raise PilotdidError(f"option 'vcov': cluster spec {cl!r} must name one column")
        cl = cl.strip()
        if "+" in cl or not cl:
            raise PilotdidError(f"option 'vcov': cluster spec '{cl}' must name one column")
        return "cluster", cl
    raise PilotdidError(f"option 'vcov': cannot read {vcov!r}")


def _conley_args(data: Any, vcov: Any, unit: str, time: str) -> tuple:
    """(lat, lon, cutoff_km, lag, kernel) for the core from ``vcov={"conley": {...}}``:
    coordinates one per row of ``data`` (found by name as feols does, or given as 'lat' /
    'lon'); the unit and period are the estimator's own ``unit`` and ``time``."""
    spec = conley_spec(vcov)
    cols = spec.columns(sorted(_frame._column_names(data)), [unit, time])
    for key, own in (("unit", unit), ("time", time)):
        if cols[key] not in (None, own):
            raise PilotdidError(
                f"option vcov['conley']['{key}']: the event study's {key} is '{own}'; got "
                f"'{cols[key]}' (leave it out)"
            )
    df = _frame.to_polars(data, [cols["lat"], cols["lon"]])
    lat, lon = _frame.numeric(df, cols["lat"]), _frame.numeric(df, cols["lon"])
    return lat, lon, spec.cutoff_km, spec.lag, spec.kernel


def _columns(
    data: Any,
    y: str,
    time: str,
    unit: str,
    timing: str,
    derived: bool,
    controls: Sequence[str] | None,
    cluster: str | None,
) -> tuple[dict[str, Any], int]:
    """The arrays every core call takes (the caller's frame is not modified), and how many
    units' cohorts were derived from a 0/1 treatment."""
    y = check_str("y", y)
    time = check_str("time", time)
    unit = check_str("unit", unit)
    controls = check_columns("controls", controls)
    if _frame.n_rows(data) == 0:
        raise PilotdidError("no rows: the data frame is empty")
    cols = [y, time, unit, timing, *controls] + ([cluster] if cluster else [])
    df = _frame.to_polars(data, cols)
    if not df.get_column(time).dtype.is_numeric():
        raise PilotdidError(
            f"column '{time}' must hold numeric periods (e.g. years), got {df[time].dtype}"
        )
    tv, ok_t = _frame.ids(df, time)
    uv, ok_u = _frame.ids(df, unit)
    valid = ok_t & ok_u
    cl, ok_c = (None, True) if cluster is None else _frame.ids(df, cluster)
    valid &= ok_c
    cohort, n_derived = cohort_values(df, unit=unit, time=time, column=timing, derived=derived)
    return {
        "y_name": y,
        "y": _frame.numeric(df, y),
        "unit": uv,
        "time": tv,
        "cohort": cohort,
        "control_names": controls,
        "controls": [_frame.numeric(df, c) for c in controls],
        "cluster_name": cluster,
        "cluster": cl,
        "valid": None if valid.all() else np.ascontiguousarray(valid),
    }, n_derived


#: The fields of the core's WaldTest, in the order of the dict ``EventStudyResult.pretrend``.
_WALD_FIELDS = ("event_time", "chi2", "p_chi2", "f", "df1", "df2", "p_f")


def _wald_dict(test: Any) -> dict[str, Any] | None:
    """The core's joint test of the leads as the dict ``result.pretrend`` documents."""
    return None if test is None else {k: getattr(test, k) for k in _WALD_FIELDS}


def _event_times(cols: dict[str, Any]) -> np.ndarray:
    ok = np.ones(len(cols["time"]), dtype=bool) if cols["valid"] is None else cols["valid"]
    return treated_event_times(cols["time"][ok], cols["cohort"][ok])


@vocabulary(renamed=RENAMED)
def twfe_event_study(
    data: Any,
    *,
    y: str,
    unit: str,
    time: str,
    cohort: str | None = None,
    treatment: str | None = None,
    controls: Sequence[str] | None = None,
    ref_period: int | Sequence[int] = -1,
    window: Sequence[int] | None = None,
    vcov: VcovSpec = None,
    cluster: str | None = None,
    bin_lo: int | None = None,
    bin_hi: int | None = None,
    level: float = 0.95,
    fixef_tol: float = 1e-11,
    fixef_maxiter: int = 10_000,
) -> EventStudyResult:
    """TWFE event study: ``y ~ i(rel_time, ref=ref_period) + controls | unit + time``.

    Event time e = time - cohort for units with a cohort (``cohort``: first treated period;
    0, NaN or missing = never treated, whose dummies are all zero; or ``treatment``, a 0/1
    column the cohorts are derived from). ``bin_lo``/``bin_hi`` pool e <= bin_lo and
    e >= bin_hi; ``window=(lo, hi)`` drops treated units' rows with e outside it (counted in
    ``dropped_rows["outside_window"]``). ``vcov``: default CR1 by ``unit``; ``{"CR1": col}``
    (or ``cluster=col``), ``"iid"``, ``"hetero"`` or ``{"conley": {"cutoff_km": 200, "lag":
    3, "kernel": "bartlett"}}`` (Conley spatial HAC as in :func:`pilotdid.feols`; coordinates
    found by name or given as 'lat' / 'lon'; the unit and period are ``unit`` and ``time``).
    The joint Wald test of all leads (e < 0) is in ``result.pretrend`` (F with G - 1
    denominator df when clustered, and chi2). For a wild cluster bootstrap of one
    coefficient: ``result.wild_bootstrap(e)``.
    """
    timing, derived = cohort_option(cohort, treatment)
    kind, cl = _cluster_of(vcov, cluster, unit, allow_iid=True, allow_conley=True)
    conley = _conley_args(data, vcov, unit, time) if kind == "conley" else None
    refs = _refs(ref_period)
    win = _window(window)
    bin_lo, bin_hi = _opt_int("bin_lo", bin_lo), _opt_int("bin_hi", bin_hi)
    level = check_level(level)
    tol = check_float("fixef_tol", fixef_tol, lo=0.0, lo_open=True)
    max_iter = check_int("fixef_maxiter", fixef_maxiter, lo=1)
    cols, n_derived = _columns(data, y, time, unit, timing, derived, controls, cl)
    times = _event_times(cols)
    check_refs_in_data(refs, times)
    check_window_in_data(win, times)
    core = twfe_event_study_fit(
        **cols,
        vcov=kind,
        ref_periods=refs,
        bin_lo=bin_lo,
        bin_hi=bin_hi,
        window=win,
        tol=tol,
        max_iter=max_iter,
        conley=conley,
    )
    info = core.info(level)
    labels = {"iid": "iid", "hetero": "HC1", "cluster": f"CR1 by {cl}"}
    extra = {
        "vcov": conley_spec(vcov).label if kind == "conley" else labels[kind],
        "pretrend": _wald_dict(info.pretrend),
        "n_missing": info.n_missing,
        "n_outside_window": info.n_outside_window,
        "n_obs_event_time": info.n_obs_event_time,
        "collinear": info.collinear,
        "collinear_event_time": info.collinear_event_time,
        "df_t": info.df_t,
        "n_clusters": info.n_clusters,
        "coefnames": info.coefnames,
        "coef_all": info.beta,
        "se_all": info.se_all,
        "r2": info.r2,
        "_core": core,
    }
    res = EventStudyResult(
        estimator="TWFE",
        event_time=np.asarray(info.event_time, dtype=np.int64),
        estimate=np.asarray(info.estimate),
        std_error=np.asarray(info.std_error),
        conf_low=np.asarray(info.conf_low),
        conf_high=np.asarray(info.conf_high),
        level=level,
        vcov=np.asarray(info.vcov),
        reference=refs,
        nobs=info.nobs,
        extra=extra,
        dropped_rows={
            "missing": int(info.n_missing),
            "outside_window": int(info.n_outside_window),
        },
        cohort_derived=n_derived,
    )
    # G of the clustered pre-trend Wald test (no clusters with iid / hetero)
    g = [int(v) for v in info.n_clusters] if kind == "cluster" else []
    res._caution_few_clusters(min(g) if g else None)
    return res


def _event_list(
    name: str, value: Any, *, lo: int | None = None, hi: int | None = None
) -> list[int]:
    if isinstance(value, (str, bytes)) or not (
        isinstance(value, Sequence) or hasattr(value, "__iter__")
    ):
        raise PilotdidError(
            f"option '{name}': expected True or a list of event times, got {value!r}"
        )
    return [check_int(name, v, lo=lo, hi=hi) for v in value]


@vocabulary(renamed=RENAMED)
def imputation(
    data: Any,
    *,
    y: str,
    unit: str,
    time: str,
    cohort: str | None = None,
    treatment: str | None = None,
    controls: Sequence[str] | None = None,
    horizons: Sequence[int] | bool | None = None,
    pretrends: Sequence[int] | bool | None = None,
    anticipation: int = 0,
    vcov: VcovSpec = None,
    cluster: str | None = None,
    level: float = 0.95,
    leave_out: bool = False,
    small_sample: bool = False,
    bstrap: bool = False,
    reps: int = 999,
    weight_type: str = "mammen",
    seed: int = 0,
) -> EventStudyResult:
    """Borusyak, Jaravel & Spiess (2024) imputation estimator.

    Unit and period effects (and ``controls``) are fitted on untreated rows only (never
    treated, and t < cohort - ``anticipation``); Y(0) is imputed for treated rows (t >= cohort)
    and tau_it = Y - Y(0)-hat. ``horizons``: event times e >= 0 to report (default / True: all);
    the static ATT over all treated rows is ``result.att`` (``extra["att"]``). ``pretrends``:
    lead event times (e < 0; True = all) for BJS's test regression on untreated rows (reported
    as extra rows of the result with ``result.pretrend`` the joint Wald test). Standard
    errors: BJS Theorem 3 conservative variance clustered by ``unit`` (or ``cluster=col`` /
    ``vcov={"CR1": col}``), with the auxiliary tau-bar averaged by cohort x event time (as
    ``didimputation``); normal intervals.

    ``leave_out=True``: the auxiliary tau-tilde of a cluster excludes that cluster's own
    observations (BJS Section 4.3 / Appendix A.6, Stata ``did_imputation, leaveout``, diff-diff
    ``leave_one_out=True``), recommended with small cohorts, where the default overfits and
    understates the variance. Cells (cohort x event time) with a single cluster keep the
    non-leave-out tau-bar; they are listed in ``extra["leave_out_fallback"]`` and in
    ``extra["notes"]``. Default False reproduces ``didimputation`` / diff-diff / Stata defaults.
    ``small_sample=True``: variance times G/(G-1) and t(G-1) intervals (G clusters); not in
    the reference implementations.

    ``bstrap=True``: cluster-level multiplier bootstrap for the horizons and the ATT. Every
    estimate is linear in Y, tau_hat - tau ~ sum_c s_c with s_c the cluster score of the
    analytic variance (sum over the cluster's rows of v_it * eps_it); draw b uses
    sum_c xi_bc s_c with i.i.d. cluster multipliers xi (``weight_type`` "mammen" as R did,
    "rademacher" or "webb", the last for few clusters), seeded per (``seed``, b). Standard
    errors are the draws' IQR-based scale (R did's mboot), the pointwise intervals normal on
    them, ``band_low``/``band_high`` the uniform (sup-t) band over the horizons, and
    ``extra["bootstrap"]["p_value"]`` the bootstrap-t p-values. Pre-trend rows keep their
    analytic (CR1) numbers.

    With ``pretrends``, ``joint_vcov()`` is the joint covariance of the leads and the
    horizons (sum_c s_c s_c' of the stacked cluster scores, the leads' scores from the
    pre-trend regression, CR1-scaled), as HonestDiD needs; ``vcov()`` keeps refusing there.
    """
    timing, derived = cohort_option(cohort, treatment)
    _, cl = _cluster_of(vcov, cluster, unit, allow_iid=False)
    anticipation = check_int("anticipation", anticipation, lo=0)
    level = check_level(level)
    leave_out = check_bool("leave_out", leave_out)
    small_sample = check_bool("small_sample", small_sample)
    bstrap = check_bool("bstrap", bstrap)
    if bstrap:
        reps = check_reps("reps", reps, bytes_per_rep=8 * 64)
        seed = check_seed(seed)
        weight_type = check_choice(
            "weight_type",
            weight_type.lower() if isinstance(weight_type, str) else weight_type,
            ("mammen", "rademacher", "webb"),
        )
    if horizons is None or horizons is True:
        hz = None
    elif horizons is False:
        raise PilotdidError("option 'horizons': False reports nothing; give True or event times")
    else:
        hz = _event_list("horizons", horizons, lo=0)
    if pretrends is None or pretrends is False or pretrends is True:
        pre_given = None
    else:
        pre_given = _event_list("pretrends", pretrends, hi=-1)
    cols, n_derived = _columns(data, y, time, unit, timing, derived, controls, cl)
    if pretrends is True:
        pre = _all_leads(cols)
    else:
        pre = pre_given
    r = imputation_fit(
        **cols,
        horizons=hz,
        pretrends=pre,
        anticipation=anticipation,
        level=level,
        leave_out=leave_out,
        small_sample=small_sample,
    )
    fallback = [(int(g), int(e)) for g, e in r.leave_out_fallback]
    notes = []
    if fallback:
        notes.append(
            f"leave_out: {len(fallback)} cohort x event-time cell(s) have a single cluster, "
            f"where the leave-out tau-tilde is undefined; the non-leave-out average was used "
            f"for them: {fallback}"
        )
        warnings.warn(notes[-1], UserWarning, stacklevel=2)
    pe = np.asarray(r.pretrend_event_time, dtype=np.int64)
    # Leads (test regression) first, then horizons: one table for plotting.
    event_time = np.concatenate([pe, np.asarray(r.event_time, dtype=np.int64)])
    est = np.concatenate([np.asarray(r.pretrend_estimate), r.estimate])
    se = np.concatenate([np.asarray(r.pretrend_std_error), r.std_error])
    lo = np.concatenate([np.asarray(r.pretrend_conf_low), r.conf_low])
    hi = np.concatenate([np.asarray(r.pretrend_conf_high), r.conf_high])
    band_low = band_high = None
    if bstrap:
        att_se, att_p, bse, bp, crit = r.multiplier_bootstrap(
            reps=reps, weight_type=weight_type, seed=seed, level=level
        )
        n_pre = len(pe)
        bse = np.asarray(bse)
        q = normal_critical(level)
        est_h = np.asarray(r.estimate)
        se = np.concatenate([se[:n_pre], bse])
        lo = np.concatenate([lo[:n_pre], est_h - q * bse])
        hi = np.concatenate([hi[:n_pre], est_h + q * bse])
        band_low = np.concatenate([lo[:n_pre], est_h - crit * bse])
        band_high = np.concatenate([hi[:n_pre], est_h + crit * bse])
    extra = {
        "vcov": f"BJS (Theorem 3{', leave-out' if leave_out else ''}) clustered by {cl}"
        + (" with G/(G-1) and t(G-1)" if small_sample else ""),
        "leave_out": leave_out,
        "small_sample": small_sample,
        "leave_out_fallback": fallback,
        "notes": notes,
        "ci_df": r.ci_df,
        "att": r.att,
        "att_se": r.att_se,
        "att_conf": r.att_conf,
        "horizon_vcov": np.asarray(r.vcov),
        "pretrend": _wald_dict(r.pretrend),
        "pretrend_event_time": list(pe),
        "n_obs_event_time": r.n_obs_event_time,
        "tau": r.tau,
        "n_treated": r.n_treated,
        "n_untreated": r.n_untreated,
        "n_missing": r.n_missing,
        "n_not_imputable": r.n_not_imputable,
        "n_clusters": r.n_clusters,
        "collinear": r.collinear,
    }
    joint = r.joint_vcov if len(pe) else None
    # the core gives the cluster scores and the joint covariance (tests, HonestDiD)
    extra["_bjs_core"] = r
    if joint is not None:
        extra["_joint_vcov"] = np.asarray(joint)
    if bstrap:
        extra["bootstrap"] = {
            "reps": reps,
            "weight_type": weight_type,
            "seed": seed,
            "crit_val": float(crit),
            # bootstrap-t p-values per event time (NaN on pre-trend rows), and for the ATT
            "p_value": np.concatenate([np.full(len(pe), np.nan), np.asarray(bp)]),
            "att_p_value": float(att_p),
            "att_se_analytic": r.att_se,
        }
        extra["att_se"] = float(att_se)
        extra["vcov"] += f"; multiplier bootstrap ({weight_type}, {reps} draws) SEs"
    res = EventStudyResult(
        estimator="BJS imputation",
        event_time=event_time,
        estimate=est,
        std_error=se,
        conf_low=lo,
        conf_high=hi,
        level=level,
        band_low=band_low,
        band_high=band_high,
        # with leads, vcov() stays None (as tests/golden recorded it); the joint covariance
        # of leads and horizons is joint_vcov() (extra["_joint_vcov"])
        vcov=np.asarray(r.vcov) if len(pe) == 0 else None,
        reference=(),
        nobs=r.n_treated + r.n_untreated,
        extra=extra,
        dropped_rows={
            "missing": int(r.n_missing),
            "not_imputable": int(r.n_not_imputable),
        },
        cohort_derived=n_derived,
    )
    res._caution_few_clusters(int(r.n_clusters))
    if not bstrap and not res.cautions:
        # one FewClustersWarning per fit: the pre-trend caution above already is one
        warn_analytic_se(
            "bjs",
            int(r.n_clusters),
            "bstrap=True, weight_type='webb' (the cluster multiplier bootstrap)",
        )
    return res


def _all_leads(cols: dict[str, Any]) -> list[int]:
    g = cols["cohort"]
    treated = np.isfinite(g) & (g != 0)
    e = cols["time"][treated] - g[treated].astype(np.int64)
    return sorted(int(v) for v in np.unique(e[e < 0]))


@vocabulary(renamed=RENAMED)
def did2s(
    data: Any,
    *,
    y: str,
    unit: str,
    time: str,
    cohort: str | None = None,
    treatment: str | None = None,
    controls: Sequence[str] | None = None,
    ref_period: int | Sequence[int] = -1,
    window: Sequence[int] | None = None,
    event: bool = True,
    bin_lo: int | None = None,
    bin_hi: int | None = None,
    anticipation: int = 0,
    vcov: VcovSpec = None,
    cluster: str | None = None,
    level: float = 0.95,
) -> EventStudyResult:
    """Gardner (2022) two-stage DID with Butts & Gardner GMM standard errors (``did2s``).

    Stage 1 fits unit + period effects (+ ``controls``) on untreated rows (never treated and
    t < cohort - ``anticipation``) and residualises every row; stage 2 regresses the residual
    on event-time dummies (``event=True``; leads and lags except ``ref_period``, binned by
    ``bin_lo``/``bin_hi``, treated rows outside ``window`` dropped) or on the treatment
    indicator (``event=False``, a one-row result with event time 0; its estimate is
    ``result.att``). Clustered by ``unit`` (or ``cluster=col`` / ``vcov={"CR1": col}``); t
    intervals with G - 1 df, as pyfixest. ``vcov={"conley": {"cutoff_km": ..., "lag": ...}}``:
    the same GMM bread with a Conley spatial-HAC meat of the row scores (no small-sample
    factor, as the clustered one; normal intervals; no wild bootstrap on such a fit).
    """
    timing, derived = cohort_option(cohort, treatment)
    kind, cl = _cluster_of(vcov, cluster, unit, allow_iid=False, allow_conley=True)
    conley = _conley_args(data, vcov, unit, time) if kind == "conley" else None
    refs = _refs(ref_period)
    win = _window(window)
    event = check_bool("event", event)
    bin_lo, bin_hi = _opt_int("bin_lo", bin_lo), _opt_int("bin_hi", bin_hi)
    anticipation = check_int("anticipation", anticipation, lo=0)
    level = check_level(level)
    cols, n_derived = _columns(data, y, time, unit, timing, derived, controls, cl)
    if event:
        times = _event_times(cols)
        check_refs_in_data(refs, times)
        check_window_in_data(win, times)
    r = did2s_fit(
        **cols,
        event=event,
        ref_periods=refs,
        bin_lo=bin_lo,
        bin_hi=bin_hi,
        window=win,
        anticipation=anticipation,
        level=level,
        conley=conley,
    )
    et = np.asarray(r.event_time, dtype=np.int64) if event else np.zeros(1, dtype=np.int64)
    extra = {
        "vcov": "GMM (Butts & Gardner) "
        + (conley_spec(vcov).label if conley else f"clustered by {cl}"),
        "terms": r.terms,
        "static": not event,
        "n_obs_event_time": r.n_obs_event_time,
        "n_untreated": r.n_untreated,
        "n_missing": r.n_missing,
        "n_not_imputable": r.n_not_imputable,
        "n_outside_window": r.n_outside_window,
        "n_clusters": r.n_clusters,
        "collinear": r.collinear,
        # the intervals' Student-t degrees of freedom (G - 1, as pyfixest.did2s); normal
        # intervals with the Conley variance
        "df_t": None if conley else int(r.n_clusters) - 1,
    }
    if not event:
        extra["att"] = float(np.asarray(r.estimate)[0])
        extra["att_se"] = float(np.asarray(r.std_error)[0])
    # few-cluster inference: EventStudyResult.wild_bootstrap delegates here
    extra["_wild_bootstrap"] = did2s_wild_bootstrap(r, et, r.n_obs_event_time, not event)
    extra["_did2s_core"] = r
    if conley is None:
        warn_analytic_se(
            "did2s",
            int(r.n_clusters),
            "result.wild_bootstrap(param, weight_type='webb'), the restricted wild cluster "
            "bootstrap",
        )
    return EventStudyResult(
        estimator="did2s" if event else "did2s (static)",
        event_time=et,
        estimate=np.asarray(r.estimate),
        std_error=np.asarray(r.std_error),
        conf_low=np.asarray(r.conf_low),
        conf_high=np.asarray(r.conf_high),
        level=level,
        vcov=np.asarray(r.vcov),
        reference=refs if event else (),
        nobs=r.nobs,
        extra=extra,
        dropped_rows={
            "missing": int(r.n_missing),
            "not_imputable": int(r.n_not_imputable),
            "outside_window": int(r.n_outside_window),
        },
        cohort_derived=n_derived,
    )


#: Options each estimator takes beyond event_study's own (passed through **kwargs).
ESTIMATOR_OPTIONS: dict[str, tuple[str, ...]] = {
    "twfe": ("bin_lo", "bin_hi", "fixef_tol", "fixef_maxiter"),
    "did2s": ("event", "bin_lo", "bin_hi", "anticipation"),
    "bjs": (
        "horizons",
        "pretrends",
        "anticipation",
        "leave_out",
        "small_sample",
        "bstrap",
        "reps",
        "weight_type",
        "seed",
    ),
    "cs": (
        "control_group",
        "anticipation",
        "base_period",
        "est_method",
        "weights",
        "bstrap",
        "reps",
        "cband",
        "seed",
        "min_e",
        "max_e",
        "balance_e",
    ),
    "sa": ("control_group", "bin_lo", "bin_hi", "fixef_tol", "fixef_maxiter"),
}


_NO_REFERENCE = ("cs", "bjs")


@vocabulary(renamed=RENAMED)
def event_study(
    data: Any,
    *,
    y: str,
    unit: str,
    time: str,
    cohort: str | None = None,
    treatment: str | None = None,
    estimator: str = "twfe",
    controls: Sequence[str] | None = None,
    ref_period: int | Sequence[int] | None = None,
    window: Sequence[int] | None = None,
    vcov: VcovSpec = None,
    cluster: str | None = None,
    level: float = 0.95,
    **kwargs: Any,
) -> EventStudyResult:
    """Dynamic effects by event time with one call, for any of five estimators.

    estimator
        ``"twfe"`` (:func:`twfe_event_study`), ``"bjs"`` (:func:`imputation`), ``"did2s"``
        (:func:`did2s`), ``"cs"`` (Callaway & Sant'Anna: ``pilotdid.staggered.att_gt`` then
        ``aggte(type="dynamic")``) or ``"sa"`` (Sun & Abraham: ``pilotdid.sun_abraham.sunab``).
    cohort, treatment
        The first treated period (0 or missing = never treated), or a 0/1 treatment column
        from which each unit's cohort is derived (``result.cohort_derived`` counts them).
    controls
        Covariate columns.
    ref_period
        Reference event time(s) for TWFE, did2s and SA (default -1); it must be an event time
        of the data. CS and BJS have none (giving one is an error).
    window
        (lo, hi) event times: TWFE, did2s and SA drop treated rows outside it; BJS reports
        horizons 0..hi and leads lo..-1 as its pre-trend test; CS passes ``min_e``/``max_e``.
    vcov, cluster
        Default: clustered by ``unit``. ``{"CR1": col}`` or ``cluster=col`` picks another
        cluster variable; ``"iid"`` and ``"hetero"`` for TWFE. For CS, ``cluster`` (or
        ``{"CR1": col}``) is att_gt's ``cluster``: its multiplier bootstrap (``bstrap=True``)
        is clustered on that column; CS has no iid or heteroskedastic variance.
    level
        Confidence level of the intervals.
    kwargs
        Options of the chosen estimator, checked against its list (``ESTIMATOR_OPTIONS``):
        TWFE ``bin_lo``, ``bin_hi``, ``fixef_tol``, ``fixef_maxiter``; did2s ``event``,
        ``bin_lo``, ``bin_hi``, ``anticipation``; BJS ``horizons``, ``pretrends``,
        ``anticipation``, ``leave_out``, ``small_sample``; CS ``control_group``,
        ``anticipation``, ``base_period``, ``est_method``, ``weights``, ``bstrap``, ``reps``,
        ``cband``, ``seed``, ``min_e``, ``max_e``, ``balance_e``; SA ``control_group``,
        ``bin_lo``, ``bin_hi``, ``fixef_tol``, ``fixef_maxiter``. Anything else is a
        TypeError naming the estimator and its options.
    """
    est = check_choice("estimator", estimator, ESTIMATORS)
    allowed = ESTIMATOR_OPTIONS[est]
    unknown = [k for k in kwargs if k not in allowed]
    if unknown:
        raise TypeError(
            f"event_study(estimator='{est}'): unknown option '{unknown[0]}'; the options of "
            f"this estimator besides event_study's own are: {', '.join(allowed)}"
        )
    if ref_period is not None and est in _NO_REFERENCE:
        raise PilotdidError(
            f"option 'ref_period': estimator '{est}' has no reference period "
            "(every pre-period is estimated); leave ref_period out"
        )
    refs = -1 if ref_period is None else ref_period
    if window is not None:
        window = _window_within_span(data, time, window)
    common = dict(y=y, unit=unit, time=time, cohort=cohort, treatment=treatment, controls=controls)
    if est == "twfe":
        return twfe_event_study(
            data,
            **common,
            ref_period=refs,
            window=window,
            vcov=vcov,
            cluster=cluster,
            level=level,
            **kwargs,
        )
    if est == "did2s":
        return did2s(
            data,
            **common,
            ref_period=refs,
            window=window,
            vcov=vcov,
            cluster=cluster,
            level=level,
            **kwargs,
        )
    if est == "bjs":
        if window is not None:
            # the window's event times that the treated units have (a window wider than the
            # data means all of them, as for the other estimators)
            lo, hi = window
            present = _treated_event_times_of(data, unit, time, cohort, treatment)
            kwargs.setdefault("horizons", [int(e) for e in present if max(lo, 0) <= e <= hi])
            if lo < 0:
                kwargs.setdefault("pretrends", [int(e) for e in present if lo <= e < 0])
        return imputation(data, **common, vcov=vcov, cluster=cluster, level=level, **kwargs)
    if est == "cs":
        agg_kw = {}
        if window is not None:
            if "min_e" in kwargs or "max_e" in kwargs:
                raise PilotdidError(
                    "options 'window' and 'min_e'/'max_e': give one (window=(lo, hi) is "
                    "min_e=lo, max_e=hi for estimator 'cs')"
                )
            lo, hi = check_window(window)
            agg_kw = {"min_e": lo, "max_e": hi}
        for key in ("min_e", "max_e", "balance_e"):
            if key in kwargs:
                agg_kw[key] = kwargs.pop(key)
        cs_cluster = _cs_cluster(vcov, cluster)
        res = staggered.att_gt(
            data,
            **common,
            cluster=cs_cluster,
            level=level,
            **kwargs,
        )
        out = staggered.aggte(res, type="dynamic", **agg_kw).to_event_study()
        out.extra["pretrend"] = _cs_pretest(res)
        out.extra["vcov"] = (
            "influence function"
            if not res.params["bstrap"]
            else f"multiplier bootstrap ({res.params['reps']} draws)"
            + (f", clustered by {res.params['cluster']}" if res.params["cluster"] else "")
        )
        return out
    # est == "sa"

    res = sun_abraham.sunab(
        data,
        **common,
        ref_period=refs,
        window=window,
        vcov=vcov,
        cluster=cluster,
        level=level,
        **kwargs,
    )
    return res.to_event_study()


def _cs_cluster(vcov: VcovSpec, cluster: str | None) -> str | None:
    """CS's only variance option is the clustering of its multiplier bootstrap."""
    if vcov is None:
        return cluster
    if cluster is not None:
        raise PilotdidError(
            "options 'vcov' and 'cluster': give one; for estimator 'cs' both name the column "
            "the multiplier bootstrap is clustered on"
        )
    if isinstance(vcov, dict) and len(vcov) == 1:
        ((kind, col),) = vcov.items()
        if str(kind).upper() in ("CR1", "CRV1") and isinstance(col, str) and "+" not in col:
            return col.strip()
    raise PilotdidError(
        f"option 'vcov': {vcov!r} is not available for estimator 'cs' (its standard errors "
        "come from influence functions or the multiplier bootstrap); use cluster='col' "
        "(with bstrap=True) to cluster the bootstrap"
    )


def _cs_pretest(res: Any) -> dict[str, Any] | None:
    """Callaway & Sant'Anna's Wald pre-test of the pre-treatment ATT(g,t) (chi2 only)."""
    pt = res.pretest
    if pt is None:
        return None
    return {"chi2": pt[0], "p_chi2": pt[1], "df1": pt[2], "test": "Wald pre-test of ATT(g,t<g)"}

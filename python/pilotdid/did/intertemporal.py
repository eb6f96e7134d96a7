"""De Chaisemartin & D'Haultfœuille (2024) DID_l estimators of intertemporal treatment
effects: ``dcdh`` (Stata/R ``did_multiplegt_dyn``).

The columns are prepared here and every number is computed in Rust (``_core.dcdh_fit``,
``core/src/did/dcdh.rs``; the module is not named ``dcdh`` so that the
function does not shadow it), numerically as ``moderndid.did_multiplegt`` (0.4.1, a port of
``did_multiplegt_dyn``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from pilotdid import _core
from pilotdid._args import (
    check_bool,
    check_choice,
    check_columns,
    check_int,
    check_level,
    check_reps,
    check_seed,
    check_str,
    check_window,
)
from pilotdid._core import PilotdidError
from pilotdid._executor import run_replicates
from pilotdid._frame import ids, numeric, to_polars
from pilotdid.did.staggered import _cluster_var, _covariate_names
from pilotdid.results.dcdh import DcdhResult

__all__ = ["dcdh"]

_SWITCHERS = ("", "in", "out")


def _window(window: Any) -> tuple[int, int]:
    lo, hi = check_window(window)
    if hi < 1:
        raise PilotdidError(
            f"option 'window': the upper end {hi} must be at least 1 (effects 1..hi are "
            "estimated; effect 1 is the first period after the switch)"
        )
    if lo > 0:
        raise PilotdidError(
            f"option 'window': the lower end {lo} must be 0 (no placebos) or negative "
            "(placebos 1..-lo)"
        )
    return lo, hi


def dcdh(
    data: Any,
    *,
    y: str,
    unit: str,
    time: str,
    treatment: str,
    controls: str | Sequence[str] | None = None,
    window: Sequence[int] = (0, 1),
    switchers: str = "",
    normalized: bool = False,
    only_never_switchers: bool = False,
    trends_nonparam: str | Sequence[str] | None = None,
    trends_lin: bool = False,
    same_switchers: bool = False,
    same_switchers_pl: bool = False,
    less_conservative_se: bool = False,
    weights: str | None = None,
    cluster: str | None = None,
    bstrap: bool = False,
    reps: int = 999,
    seed: int = 0,
    level: float = 0.95,
    executor: Any = None,
    chunks: int | None = None,
    progress: bool = False,
) -> DcdhResult:
    """Event-study effects of a treatment that may be binary, discrete or continuous and
    switch on and off (de Chaisemartin & D'Haultfœuille 2024, REStat; ``did_multiplegt_dyn``).

    Each unit whose ``treatment`` first changes in period F_g ("switcher") is compared with
    the units that had the same first-period (baseline) treatment and have not switched yet.
    ``window=(lo, hi)`` asks for effects DID_1..DID_hi (DID_l: outcome change from F_g - 1 to
    F_g - 1 + l, the reference's ``effects=hi``) and placebos 1..-lo (change from F_g - 1 to
    F_g - 1 - l, the reference's ``placebo=-lo``); ``tidy()`` reports them as event times l
    and -l (term ``rel::l``), event time 0 (= F_g - 1) being the reference. The default
    ``(0, 1)`` is the reference's default (one effect, no placebo). ``switchers``: ``""``
    (both directions, default), ``"in"`` (first changes up) or ``"out"`` (down); falls enter
    with a minus sign. ``normalized=True`` divides DID_l by the average cumulated treatment
    change since F_g - 1 (effect per unit of treatment per period of exposure);
    ``result.average_total_effect`` is the reference's "Av_tot_eff" (average total effect per
    unit of treatment), ``result.joint_tests`` the Wald tests that all effects / all
    placebos are zero (with two or more of them). ``controls``: time-varying covariates, as the
    reference's ``controls()``: per baseline treatment, the outcome changes are purged of
    theta_d' (X_t - X_{t-l}) with theta_d from the not-yet-switched units' first differences
    (period fixed effects), and the SEs account for estimating theta_d.
    ``trends_nonparam``: time-invariant columns whose cells have their own trends; units are
    compared only within their cell (the reference's ``trends_nonparam``).
    ``trends_lin=True`` allows unit-specific linear trends (the outcome is first-differenced and
    DID_l sums the horizon-1..l estimates on the switchers that reach l; units switching in the
    second period are dropped; no average total effect, one placebo fewer fits).
    ``same_switchers=True`` estimates every effect on the switchers that reach all requested
    effects (``same_switchers_pl=True``: the placebos also on those reaching all placebos).
    ``less_conservative_se=True`` (the reference's option, alias ``more_granular_demeaning``):
    for the effects' analytic SEs, a switcher's outcome change is demeaned among the switchers
    sharing its whole treatment path from F_g to F_g - 1 + l (falling back to its treatment at
    F_g, then to its baseline and F_g, when no other unit shares the finer path), which gives
    smaller, less conservative SEs when the treatment varies after the switch; placebos keep the
    default cohorts.
    ``only_never_switchers`` compares with
    never-switchers only. SEs are analytic (influence function, cluster-robust on
    ``cluster``, default the unit), or with ``bstrap=True`` the reference's cluster bootstrap
    (``bootstrap(reps, seed)``): ``reps`` draws of the clusters (units without ``cluster``) with
    replacement, each copy of a drawn cluster entering with its own units, the whole estimator
    re-run on every draw; the SE of every effect, placebo and the average total effect is the
    standard deviation of its draws. A draw estimates the horizons its own switchers reach; a
    draw without an estimable effect is left out, not redrawn (both as the reference;
    ``result.bootstrap`` holds the draws and ``n_failed``). Confidence intervals stay normal
    (estimate ± z·SE) with the bootstrap SE, and the joint tests keep the analytic covariance,
    both as the reference. Replicate r draws from its own seeded stream, so results do not depend
    on the number of threads. ``executor=`` (with ``bstrap=True``): run the replicates in
    ``chunks`` on a ``concurrent.futures`` executor or a ``dask.distributed`` Client
    (:func:`pilotdid._executor.run_replicates`: the data go once per worker, a chunk whose
    worker dies is rerun); the result is the serial one bit for bit. ``progress``: a bar as
    chunks return.

    Rows with a missing outcome, treatment or control are dropped and counted
    (``dropped_rows["missing"]``); the estimator then drops, as the reference does, rows after a
    unit's treatment has been both above and below its baseline, baselines whose units all
    switch at the same date, and (period, baseline) cells without a not-yet-switched unit (each
    counted in ``dropped_rows``). Asking for more effects or placebos than the switchers
    reach is an error that says how many are available.
    """
    y = check_str("y", y)
    unit = check_str("unit", unit)
    time = check_str("time", time)
    treatment = check_str("treatment", treatment)
    lo, hi = _window(window)
    switchers = check_choice("switchers", switchers, _SWITCHERS)
    normalized = check_bool("normalized", normalized)
    only_never_switchers = check_bool("only_never_switchers", only_never_switchers)
    trends_lin = check_bool("trends_lin", trends_lin)
    same_switchers = check_bool("same_switchers", same_switchers)
    same_switchers_pl = check_bool("same_switchers_pl", same_switchers_pl)
    less_conservative_se = check_bool("less_conservative_se", less_conservative_se)
    if same_switchers_pl and not same_switchers:
        raise PilotdidError(
            "option 'same_switchers_pl': True needs same_switchers=True (as did_multiplegt_dyn)"
        )
    bstrap = check_bool("bstrap", bstrap)
    seed = check_seed(seed)
    level = check_level(level)
    weights = None if weights is None else check_str("weights", weights)
    cvar = _cluster_var(cluster, unit)
    covs = _covariate_names(controls)
    trends = [] if trends_nonparam is None else check_columns("trends_nonparam", trends_nonparam)
    cols = [y, unit, time, treatment, *covs, *trends]
    if weights is not None:
        cols.append(weights)
    if cvar is not None:
        cols.append(cvar)
    df = to_polars(data, cols)
    n_input = df.height
    yv = numeric(df, y)
    dv = numeric(df, treatment)
    tvals = numeric(df, time)
    if np.any(~np.isfinite(tvals)):
        raise PilotdidError(f"column '{time}' has missing values")
    if np.any(tvals != np.floor(tvals)):
        raise PilotdidError(f"column '{time}' must hold whole-number periods")
    uid, uvalid = ids(df, unit)
    if not uvalid.all():
        raise PilotdidError(f"column '{unit}' has missing values")
    keep = np.isfinite(yv) & np.isfinite(dv)
    cov_arrays = [numeric(df, c) for c in covs]
    for a in cov_arrays:
        keep &= np.isfinite(a)
    wv = None
    if weights is not None:
        wv = numeric(df, weights)
        keep &= np.isfinite(wv)
    trend_codes = []
    for c in trends:
        tid, tvalid = ids(df, c)
        keep &= tvalid
        trend_codes.append(tid)
    cl = None
    if cvar is not None:
        cid, cvalid = ids(df, cvar)
        keep &= cvalid
        cl = _core.factorize_ids(np.ascontiguousarray(cid[keep])).codes
    n_missing = int((~keep).sum())
    if not keep.any():
        raise PilotdidError(
            f"every row misses the outcome '{y}' or the treatment '{treatment}'"
            + (f" or a control ({', '.join(covs)})" if covs else "")
            + (f" or the weight '{weights}'" if weights else "")
            + (f" or the cluster '{cvar}'" if cvar else "")
        )
    codes = _core.factorize_ids(np.ascontiguousarray(uid[keep])).codes
    if bstrap:
        # stored: one value per effect, placebo and the average total effect per draw; while
        # they run, each thread holds a copy of its draw's columns and unit x period grid
        n_rows = int(keep.sum())
        per_thread = 8.0 * n_rows * (24 + 3 * len(covs))
        reps = check_reps(
            "reps",
            reps,
            bytes_per_rep=8.0 * (hi - lo + 1),
            lo=2,
            fixed_bytes=per_thread * (os.cpu_count() or 1),
        )
    else:
        reps = check_int("reps", reps, lo=2)
    trend_group = None
    if trend_codes:
        stacked = np.column_stack([t[keep] for t in trend_codes])
        trend_group = np.unique(stacked, axis=0, return_inverse=True)[1].astype(np.uint32)
    if executor is not None and not bstrap:
        raise PilotdidError("option 'executor': runs the bootstrap replicates; set bstrap=True")
    progress = check_bool("progress", progress)
    call = dict(
        y=np.ascontiguousarray(yv[keep]),
        time=np.ascontiguousarray(tvals[keep].astype(np.int64)),
        unit=np.ascontiguousarray(codes, dtype=np.uint32),
        treatment=np.ascontiguousarray(dv[keep]),
        cov_names=covs,
        covs=[np.ascontiguousarray(a[keep]) for a in cov_arrays],
        weights=None if wv is None else np.ascontiguousarray(wv[keep]),
        cluster=None if cl is None else np.ascontiguousarray(cl, dtype=np.uint32),
        trend_group=None if trend_group is None else np.ascontiguousarray(trend_group.ravel()),
        names=[y, time, unit, treatment, weights or "", cvar or ""],
        effects=hi,
        placebo=-lo,
        switchers=switchers,
        normalized=normalized,
        only_never_switchers=only_never_switchers,
        same_switchers=same_switchers,
        same_switchers_pl=same_switchers_pl,
        trends_lin=trends_lin,
        less_conservative_se=less_conservative_se,
    )
    boot = None
    if bstrap and executor is not None:
        # the point fit here (it validates the input), the replicates on the executor
        core = _core.dcdh_fit(**call, reps=0, seed=seed)
        draws = run_replicates(
            _dcdh_boot_chunk,
            dict(call, reps=reps),
            reps=reps,
            seed=seed,
            executor=executor,
            chunks=chunks,
            progress="dcdh bootstrap" if progress else False,
        )
        ke, kp = hi, -lo
        boot = _core.dcdh_boot_join(
            np.ascontiguousarray(draws[:, :ke]),
            np.ascontiguousarray(draws[:, ke : ke + kp]),
            draws[:, ke + kp].tolist(),
            (draws[:, ke + kp + 1] > 0).tolist(),
            trends_lin=trends_lin,
            n_clusters=int(draws[0, ke + kp + 2]),
        )
    else:
        core = _core.dcdh_fit(**call, reps=reps if bstrap else 0, seed=seed)
    bidir, no_var, no_ctrl, second = core.dropped
    dropped = {
        "missing": n_missing,
        "bidirectional_switch": int(bidir),
        "no_switch_date_variation": int(no_var),
        "no_not_yet_switched": int(no_ctrl),
        "trends_lin_second_period": int(second),
    }
    params = dict(
        y=y,
        unit=unit,
        time=time,
        treatment=treatment,
        controls=covs,
        window=(lo, hi),
        switchers=switchers,
        normalized=normalized,
        only_never_switchers=only_never_switchers,
        trends_nonparam=trends,
        trends_lin=trends_lin,
        same_switchers=same_switchers,
        same_switchers_pl=same_switchers_pl,
        less_conservative_se=less_conservative_se,
        weights=weights,
        cluster=cvar,
        bstrap=bstrap,
        reps=reps,
        seed=seed,
        level=float(level),
        n_input_rows=n_input,
    )
    return DcdhResult(core, params, dropped_rows=dropped, bootstrap=boot)


def _dcdh_boot_chunk(p: dict, seed: int, start: int, stop: int) -> np.ndarray:
    """Bootstrap replicates [start, stop) of dcdh on a worker: per draw the effects, placebos,
    average total effect, a failed flag and the cluster count (rows in replicate order)."""
    args = dict(p)
    reps = args.pop("reps")
    b = _core.dcdh_fit(**args, reps=reps, seed=seed, boot_range=(start, stop)).boot
    m = stop - start
    return np.column_stack(
        [
            np.asarray(b.effects, dtype=float).reshape(m, args["effects"]),
            np.asarray(b.placebos, dtype=float).reshape(m, args["placebo"]),
            np.asarray(b.ate, dtype=float),
            np.asarray(b.failed, dtype=float),
            np.full(m, float(b.n_clusters)),
        ]
    )

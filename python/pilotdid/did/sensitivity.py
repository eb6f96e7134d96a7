"""Sensitivity of an event study to violations of parallel trends: Rambachan & Roth (2023),
"A More Credible Approach to Parallel Trends" (REStud 90(5)), HonestDiD's methods computed in
Rust (``src/did/honest``) from the event study's own estimates and full covariance."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pilotdid import _core
from pilotdid._args import check_int, check_level, check_reps
from pilotdid._core import PilotdidError
from pilotdid.results.sensitivity import SensitivityResult

__all__ = ["honest_did"]

_DELTAS = {"rm": "Δ^RM(M̄)", "sdrm": "Δ^SDRM(M̄)", "sd": "Δ^SD(M)"}
_SHAPES = ("none", "increasing", "decreasing", "positive", "negative")


def _split(res) -> tuple[np.ndarray, np.ndarray, int, int, np.ndarray]:
    """Estimates and covariance without the reference period(s), leads first; event times."""
    if not hasattr(res, "event_time") and hasattr(res, "to_event_study"):
        res = res.to_event_study()
    if not hasattr(res, "event_time") or not hasattr(res, "vcov"):
        raise PilotdidError("honest_did: expects an event study result (EventStudyResult)")
    et = np.asarray(res.event_time, dtype=np.int64)
    beta = np.asarray(res.estimate, dtype=float)
    try:
        # joint_vcov: also the leads' covariance with the horizons where the estimator keeps
        # them apart (BJS's pre-trend regression); vcov() otherwise
        vcov = res.joint_vcov() if hasattr(res, "joint_vcov") else res.vcov()
    except PilotdidError as err:  # e.g. bootstrap SEs only: no joint covariance to use
        raise PilotdidError(
            f"honest_did: needs the full covariance of the event-time estimates; {err}"
        ) from None
    if vcov is None or np.shape(vcov) != (et.size, et.size):
        raise PilotdidError(
            f"honest_did: needs the full {et.size}x{et.size} covariance of the event-time "
            f"estimates, the result gives {None if vcov is None else np.shape(vcov)}"
        )
    vcov = np.asarray(vcov, dtype=float)
    ref = sorted(int(r) for r in getattr(res, "reference", ()) or ())
    if not ref:
        ref = sorted(set(range(int(et.min()), int(et.max()) + 1)) - set(et.tolist()))
    if ref:
        # several normalised event times (e.g. trimmed leads): the split is at the one
        # nearest the treatment date, -1 before 0
        r0: float = min(ref, key=lambda r: (abs(r + 0.5), r))
    else:
        # nothing omitted (CS with a varying base period: each lead is a short difference):
        # leads e < 0 are pre, e >= 0 post, as HonestDiD's honest_did() for `did` does
        r0 = -0.5
    keep = ~np.isin(et, ref)
    et, beta, vcov = et[keep], beta[keep], vcov[np.ix_(keep, keep)]
    order = np.argsort(et)
    et, beta, vcov = et[order], beta[order], vcov[np.ix_(order, order)]
    where = f"the reference period {r0:g}" if ref else "event time 0"
    n_pre = int(np.sum(et < r0))
    n_post = int(np.sum(et > r0))
    if n_pre == 0:
        raise PilotdidError(
            f"honest_did: the {res.estimator} event study has no lead estimates before {where}; "
            "the sensitivity bounds extrapolate from pre-trends"
        )
    if n_post == 0:
        raise PilotdidError(f"honest_did: no post-period estimates after {where}")
    if not np.all(np.isfinite(vcov)):
        raise PilotdidError("honest_did: the event study's covariance has non-finite entries")
    return beta, vcov, n_pre, n_post, et


def honest_did(
    res,
    *,
    delta: str = "rm",
    method: str | None = None,
    m_bar: Sequence[float] | None = None,
    m: Sequence[float] | None = None,
    l_vec: Sequence[float] | str = "first",
    restriction: str = "none",
    level: float = 0.95,
    grid_points: int = 1000,
    reps: int = 1000,
    seed: int = 0,
    breakdown: bool = True,
) -> SensitivityResult:
    """Robust confidence sets for a post-period target of an event study.

    ``delta``: ``"rm"`` relative magnitudes Δ^RM(M̄) (post-period first differences at most M̄
    times the largest pre-period one), ``"sdrm"`` the same on second differences, ``"sd"``
    smoothness Δ^SD(M) (second differences at most M). ``method``: ``"C-LF"`` (conditional-
    least-favourable hybrid, default for rm/sdrm), ``"Conditional"`` (ARP), ``"FLCI"`` (the
    only one for sd). ``m_bar``/``m``: the grids (defaults: M̄ in 0..2 and M in 0..2 sd of the
    target, 10 values each). ``l_vec``: the
    target's weights on the post periods, or ``"first"``/``"average"``. ``restriction``: an
    added shape (``"increasing"``/``"decreasing"``) or sign (``"positive"``/``"negative"``
    bias) restriction for rm/sdrm. ``grid_points``/``reps``/``seed``: HonestDiD's test
    inversion grid and least-favourable draws. The reference period is the one the event
    study omitted; leads and lags are counted from it.
    """
    alpha = 1.0 - check_level(level)
    if delta not in _DELTAS:
        raise PilotdidError(f"honest_did: delta must be one of {sorted(_DELTAS)}, got {delta!r}")
    if restriction not in _SHAPES:
        raise PilotdidError(f"honest_did: restriction must be one of {_SHAPES}")
    beta, sigma, n_pre, n_post, rel = _split(res)
    # the least-favourable draws are held in memory (one vector per draw and moment)
    reps = check_reps("reps", reps, bytes_per_rep=16.0 * (beta.size + 1))
    grid_points = check_int("grid_points", grid_points, lo=2, hi=100_000)
    if isinstance(l_vec, str):
        if l_vec == "first":
            lv = np.eye(n_post)[0]
        elif l_vec == "average":
            lv = np.full(n_post, 1.0 / n_post)
        else:
            raise PilotdidError("honest_did: l_vec must be 'first', 'average' or a vector")
    else:
        lv = np.asarray(l_vec, dtype=float).ravel()
        if lv.size != n_post:
            raise PilotdidError(
                f"honest_did: l_vec has {lv.size} entries for {n_post} post periods"
            )
    b, s, lvl = beta.tolist(), sigma.tolist(), lv.tolist()
    orig = _core.honest_original(b, s, n_pre, n_post, lvl, alpha=alpha)
    iters = 10 if breakdown else None
    if delta == "sd":
        method = method or "FLCI"
        if method != "FLCI":
            raise PilotdidError("honest_did: delta='sd' supports method='FLCI'")
        if restriction != "none":
            raise PilotdidError("honest_did: restriction applies to delta='rm'/'sdrm'")
        sd_target = float(np.sqrt(lv @ sigma[n_pre:, n_pre:] @ lv))
        grid = np.asarray(m if m is not None else np.linspace(0, 2 * sd_target, 10), dtype=float)
        lbs, ubs, bd = _core.honest_flci(
            b,
            s,
            n_pre,
            n_post,
            lvl,
            grid.tolist(),
            alpha=alpha,
            num_points=100,
            breakdown_iters=iters,
        )
    else:
        method = method or "C-LF"
        if method not in ("C-LF", "Conditional"):
            raise PilotdidError("honest_did: method for rm/sdrm is 'C-LF' or 'Conditional'")
        grid = np.asarray(m_bar if m_bar is not None else np.linspace(0, 2, 10), dtype=float)
        lbs, ubs, bd = _core.honest_relative(
            b,
            s,
            n_pre,
            n_post,
            lvl,
            grid.tolist(),
            delta=delta,
            shape=restriction,
            hybrid=method == "C-LF",
            alpha=alpha,
            grid_points=int(grid_points),
            sims=int(reps),
            seed=int(seed),
            breakdown_iters=iters,
        )
    out = SensitivityResult(
        delta=delta,
        method=method,
        grid=grid,
        lb=np.asarray(lbs),
        ub=np.asarray(ubs),
        original=orig,
        breakdown=bd,
        level=level,
        l_vec=lv,
        n_pre=n_pre,
        n_post=n_post,
        event_time=rel,
        estimator=getattr(res, "estimator", "?"),
        restriction=restriction,
        computed_breakdown=breakdown,
    )
    # the event study itself, for tables that show its coefficients beside the robust CI
    out.study = res if hasattr(res, "event_time") else res.to_event_study()
    return out

"""Pre-trend power for any event study: Roth (2022), "Pretest with Caution: Event-Study
Estimates after Testing for Parallel Trends", AER: Insights 4(3). Definitions follow Roth's R
package ``pretrends``; the numbers are computed in Rust (``core/src/did/pretrend_power.rs``,
``core/src/inference/mvn.rs``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pilotdid import _core
from pilotdid._args import check_float, check_int, check_level
from pilotdid._core import PilotdidError
from pilotdid.results.event_study import EventStudyResult
from pilotdid.results.pretrend_power import PretrendPowerResult

__all__ = ["pretrend_power"]


def _as_event_study(res: Any) -> EventStudyResult:
    if isinstance(res, EventStudyResult):
        return res
    if hasattr(res, "to_event_study"):  # AggteResult (dynamic), SunAbrahamResult
        return res.to_event_study()
    raise PilotdidError(
        f"pretrend_power: needs an event study (EventStudyResult, a dynamic aggte or a "
        f"sunab result), got {type(res).__name__}"
    )


def _targets(power: Any) -> list[float]:
    values = [power] if isinstance(power, (int, float)) else list(power)
    out = []
    for v in values:
        out.append(check_float("power", v, lo=0.0, hi=1.0, lo_open=True, hi_open=True))
    return out


def _delta_vector(delta: Any, event_time: np.ndarray) -> np.ndarray:
    if isinstance(delta, Mapping):
        missing = [int(e) for e in event_time if int(e) not in delta]
        if missing:
            raise PilotdidError(
                f"option 'delta': no value for event time(s) {missing}; give one per "
                f"estimated event time {[int(e) for e in event_time]}"
            )
        values = [float(delta[int(e)]) for e in event_time]
        return np.asarray(values, dtype=float)
    arr = np.asarray(delta, dtype=float).ravel()
    if arr.shape[0] != len(event_time):
        raise PilotdidError(
            f"option 'delta': {arr.shape[0]} values for {len(event_time)} event times "
            f"{[int(e) for e in event_time]} (one per estimated event time, in that order; or "
            "a dict event time -> value)"
        )
    if not np.all(np.isfinite(arr)):
        raise PilotdidError("option 'delta': every value must be finite")
    return arr


def pretrend_power(
    res: Any,
    *,
    slope: float | None = None,
    delta: Sequence[float] | Mapping[int, float] | None = None,
    power: float | Sequence[float] = (0.5, 0.8),
    level: float = 0.95,
    ref_period: int | None = None,
) -> PretrendPowerResult:
    """Power of the event study's own pre-test against a hypothesised violation of parallel
    trends, and the bias and coverage of the post-period estimates after passing it (Roth 2022).

    ``res``: any event study with a full covariance (``res.vcov()``): TWFE, CS
    (``aggte(type='dynamic')``), Sun-Abraham, BJS and did2s results. The hypothesis is either a
    linear trend ``delta_e = slope * (e - ref_period)`` or ``delta`` (one value per estimated
    event time, in ``event_time`` order, or a dict event time -> value). With neither, the
    slope is the one at which the pre-test has ``power[0]`` power (50% by default), as in
    Roth's workflow. ``ref_period`` defaults to the study's reference period (the latest one
    before treatment when several are normalised; -1 when the estimator has none).

    Pre-periods are the estimated event times e < 0. The pre-test rejects when any
    pre-period |t| exceeds z_{1-(1-level)/2} (Roth's default); the joint chi-square Wald test at
    1 - level is reported too. ``power``: target powers for the slope search (each in (0, 1));
    a target that cannot be reached is reported as such, never as an error.
    """
    study = _as_event_study(res)
    level = check_level(level)
    targets = _targets(power)
    try:
        vcov = np.asarray(study.vcov(), dtype=float)
    except PilotdidError as err:
        raise PilotdidError(
            f"pretrend_power: the event study has no full covariance of its event-time "
            f"estimates ({err})"
        ) from None
    event_time = np.asarray(study.event_time, dtype=np.int64)
    notes: list[str] = []
    if ref_period is None:
        refs = [int(r) for r in study.reference if int(r) < 0]
        if refs:
            reference = max(refs)
        else:
            reference = -1
            notes.append(
                "the estimator has no reference period; the linear trend is anchored at e = -1"
            )
    else:
        reference = check_int("ref_period", ref_period)
    if slope is not None and delta is not None:
        raise PilotdidError("pretrend_power: give slope= or delta=, not both")
    estimate = np.asarray(study.estimate, dtype=float)
    if delta is not None:
        delta_vec = _delta_vector(delta, event_time)
        slope_used: float | None = None
    else:
        if slope is None:
            if not targets:
                raise PilotdidError(
                    "pretrend_power: without slope= or delta=, the slope is the one with "
                    "power[0] power, so power= must name at least one target"
                )
            probe = _core.pretrend_power_fit(
                event_time,
                estimate,
                vcov,
                np.zeros(len(event_time)),
                reference=reference,
                level=level,
                targets=targets[:1],
            )
            test, target, found, status, max_power = probe.slopes[0]
            if status != "found":
                raise PilotdidError(
                    f"pretrend_power: no slope gives the pre-test {target:.0%} power ({status}; "
                    f"at most {max_power:.4f}); pass slope= or delta="
                )
            slope_used = float(found)
        else:
            slope_used = check_float("slope", slope)
        delta_vec = slope_used * (event_time - reference).astype(float)
    core = _core.pretrend_power_fit(
        event_time,
        estimate,
        vcov,
        delta_vec,
        reference=reference,
        level=level,
        targets=targets,
    )
    return PretrendPowerResult(
        study,
        core,
        delta=delta_vec,
        slope=slope_used,
        reference=reference,
        level=level,
        notes=notes,
    )

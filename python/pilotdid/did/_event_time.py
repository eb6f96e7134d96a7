"""Event time shared by the event-study estimators: reference periods, windows and the
event times the treated units have; R `did`'s argument names."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pilotdid._args import (
    check_int,
)
from pilotdid._core import PilotdidError

#: The names every event-study function used before the one vocabulary.
RENAMED = {"yname": "y", "tname": "time", "idname": "unit", "gname": "cohort"}


def _refs(ref_period: int | Sequence[int]) -> list[int]:
    if isinstance(ref_period, (str, bytes)) or not (
        isinstance(ref_period, Sequence) or np.ndim(ref_period) == 1
    ):
        return [check_int("ref_period", ref_period)]
    refs = [check_int("ref_period", r) for r in ref_period]
    if not refs:
        raise PilotdidError("option 'ref_period': give at least one reference event time")
    return refs


def treated_event_times(time: np.ndarray, cohort: np.ndarray) -> np.ndarray:
    """Distinct event times e = time - cohort of the treated units' rows (sorted)."""
    g = np.asarray(cohort, dtype=float)
    t = np.asarray(time, dtype=float)
    treated = np.isfinite(g) & (g != 0) & np.isfinite(t)
    return np.unique((t[treated] - g[treated]).astype(np.int64))


def check_refs_in_data(refs: Sequence[int], event_times: np.ndarray) -> None:
    """A reference event time must be one the data has: one outside would be normalised
    to zero without ever being estimated, and the fit would silently have no reference."""
    if len(event_times) == 0:
        return  # the estimator reports that no unit is treated
    have = set(event_times.tolist())
    for r in refs:
        if r not in have:
            raise PilotdidError(
                f"option 'ref_period': {r} is not an event time of any treated unit in the "
                f"data (event times run from {int(event_times.min())} to "
                f"{int(event_times.max())})"
            )


def check_window_in_data(win: tuple[int, int] | None, event_times: np.ndarray) -> None:
    """A window must contain at least one event time of the treated units (one outside the
    data would leave nothing to estimate, with a message that would not say why)."""
    if win is None or len(event_times) == 0:
        return
    lo, hi = win
    if not np.any((event_times >= lo) & (event_times <= hi)):
        raise PilotdidError(
            f"option 'window': ({lo}, {hi}) contains no event time of the treated units (the "
            f"data's event times run from {int(event_times.min())} to {int(event_times.max())})"
        )

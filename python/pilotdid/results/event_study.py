"""One result shape for every event-study estimator (TWFE, CS, SA, BJS, did2s), so that
estimates can be tabulated and overlaid on one plot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl


@dataclass
class EventStudyResult:
    """Dynamic treatment effects by event time e = period - cohort.

    ``conf_low``/``conf_high`` are pointwise intervals at ``level``; ``band_low``/``band_high``
    a simultaneous (uniform) band when the estimator provides one. ``reference`` lists event
    times normalised to zero (not estimated). ``vcov`` is the covariance of the estimates, in
    ``event_time`` order, when available.
    """

    estimator: str
    event_time: np.ndarray
    estimate: np.ndarray
    std_error: np.ndarray
    conf_low: np.ndarray
    conf_high: np.ndarray
    level: float = 0.95
    band_low: np.ndarray | None = None
    band_high: np.ndarray | None = None
    vcov: np.ndarray | None = None
    reference: Sequence[int] = ()
    nobs: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def tidy(self) -> pl.DataFrame:
        """term = event time; estimate, std_error, statistic, conf_low, conf_high (+ band)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = self.estimate / self.std_error
        out = {
            "estimator": [self.estimator] * len(self.event_time),
            "event_time": np.asarray(self.event_time, dtype=np.int64),
            "estimate": self.estimate,
            "std_error": self.std_error,
            "statistic": stat,
            "conf_low": self.conf_low,
            "conf_high": self.conf_high,
        }
        if self.band_low is not None and self.band_high is not None:
            out["band_low"], out["band_high"] = self.band_low, self.band_high
        return pl.DataFrame(out)

    def plot(self, ax=None, offset: float = 0.0, **kwargs):
        """Point estimates with intervals (uniform band if available), a zero line and a
        marker before treatment starts. Returns the matplotlib Axes."""
        return plot_event_studies([self], ax=ax, offsets=[offset], **kwargs)


def plot_event_studies(
    results: Sequence[EventStudyResult],
    ax=None,
    offsets: Sequence[float] | None = None,
    title: str | None = None,
):
    """Overlay several event studies (e.g. TWFE, CS, SA, BJS) on one Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    n = len(results)
    if offsets is None:
        offsets = [0.0] if n == 1 else list(np.linspace(-0.15 * (n - 1), 0.15 * (n - 1), n))
    for res, off in zip(results, offsets):
        e = np.asarray(res.event_time, dtype=float) + off
        lo, hi = (
            (res.band_low, res.band_high)
            if res.band_low is not None and res.band_high is not None
            else (res.conf_low, res.conf_high)
        )
        err = np.vstack([res.estimate - lo, hi - res.estimate])
        ax.errorbar(e, res.estimate, yerr=err, fmt="o", capsize=3, label=res.estimator)
        for r in res.reference:
            ax.plot([r + off], [0.0], marker="o", mfc="white", color="grey")
    ax.axhline(0.0, color="black", lw=0.8)
    ax.axvline(-0.5, color="grey", ls="--", lw=0.8)
    ax.set_xlabel("Periods since treatment")
    ax.set_ylabel("Effect estimate")
    if title:
        ax.set_title(title)
    if n > 1:
        ax.legend()
    return ax

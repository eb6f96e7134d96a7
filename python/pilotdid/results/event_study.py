"""One result shape for every event-study estimator (TWFE, CS, SA, BJS, did2s), so that
estimates can be tabulated and overlaid on one plot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

#: Legend names of the estimator codes used in ``EventStudyResult.estimator``.
DISPLAY_NAMES = {
    "twfe": "TWFE",
    "cs": "Callaway-Sant'Anna",
    "sa": "Sun-Abraham",
    "bjs": "BJS imputation",
    "bjs imputation": "BJS imputation",
    "did2s": "Gardner did2s",
}


def display_name(estimator: str) -> str:
    return DISPLAY_NAMES.get(estimator.lower(), estimator)


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

    def coef(self) -> dict[int, float]:
        """Estimates keyed by event time."""
        return {int(e): float(b) for e, b in zip(self.event_time, self.estimate)}

    def se(self) -> dict[int, float]:
        """Standard errors keyed by event time."""
        return {int(e): float(s) for e, s in zip(self.event_time, self.std_error)}

    def confint(self) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "event_time": np.asarray(self.event_time, dtype=np.int64),
                "conf_low": self.conf_low,
                "conf_high": self.conf_high,
            }
        )

    @property
    def pretrend(self) -> dict[str, Any] | None:
        """Joint Wald test of the leads (e < 0) = 0, when the estimator provides one:
        dict with ``f``, ``df1``, ``df2``, ``p_f``, ``chi2``, ``p_chi2``, ``event_time``."""
        return self.extra.get("pretrend")

    def wild_bootstrap(
        self,
        event_time: int,
        r: float = 0.0,
        reps: int = 9999,
        weights: str = "rademacher",
        seed: int = 0,
        level: float | None = None,
    ) -> dict[str, Any]:
        """Restricted wild cluster bootstrap (WCR) of one event-time coefficient = ``r``
        (TWFE event studies with clustered errors only). Returns t_stat, p_value, conf_int."""
        core = self.extra.get("_core")
        if core is None or not hasattr(core, "wild_bootstrap"):
            from pilotdid._core import PilotdidError

            raise PilotdidError(
                f"wild_bootstrap: not available for estimator '{self.estimator}' (TWFE only)"
            )
        return core.wild_bootstrap(
            int(event_time),
            float(r),
            int(reps),
            weights,
            int(seed),
            float(self.level if level is None else level),
        )

    def summary(self, print_: bool = True) -> str:
        """A compact table (returned, and printed unless print_=False)."""
        pct = round(self.level * 100)
        lines = [
            f"Event study: {self.estimator}" + (f"  (N = {self.nobs})" if self.nobs else ""),
            f"{'e':>5} {'estimate':>11} {'std.err':>10} {'[' + str(pct) + '% conf.':>12}"
            f" {'int.]':>10}",
        ]
        for e, b, s, lo, hi in zip(
            self.event_time, self.estimate, self.std_error, self.conf_low, self.conf_high
        ):
            lines.append(f"{int(e):>5} {b:>11.5f} {s:>10.5f} {lo:>12.5f} {hi:>10.5f}")
        if self.reference:
            lines.append(f"reference event time(s): {', '.join(str(r) for r in self.reference)}")
        if "vcov" in self.extra:
            lines.append(f"standard errors: {self.extra['vcov']}")
        pt = self.pretrend
        if pt:
            lines.append(
                f"pre-trend test (leads = 0): F({pt['df1']}, {pt['df2']}) = {pt['f']:.4f},"
                f" p = {pt['p_f']:.4g}; chi2({pt['df1']}) = {pt['chi2']:.4f},"
                f" p = {pt['p_chi2']:.4g}"
            )
        if "att" in self.extra:
            lines.append(f"static ATT: {self.extra['att']:.5f} (se {self.extra['att_se']:.5f})")
        text = "\n".join(lines)
        if print_:
            print(text)
        return text

    def plot(self, ax=None, offset: float = 0.0, **kwargs):
        """Point estimates with intervals (uniform band if available), a zero line and a
        marker before treatment starts. Returns the matplotlib Axes."""
        return plot_event_studies([self], ax=ax, offsets=[offset], **kwargs)


def plot_event_studies(
    results: Sequence[EventStudyResult],
    ax=None,
    offsets: Sequence[float] | None = None,
    title: str | None = None,
    labels: Sequence[str] | None = None,
):
    """Overlay several event studies (e.g. TWFE, CS, SA, BJS) on one Axes.

    Estimators are shifted horizontally by ``offsets`` (default: evenly spread within ±0.15·(n−1))
    so intervals do not overlap; ``labels`` overrides the legend entries (default: each
    result's ``estimator``). Hollow points mark reference event times; the dashed line marks
    the start of treatment (between e = −1 and e = 0)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    n = len(results)
    if offsets is None:
        offsets = [0.0] if n == 1 else list(np.linspace(-0.15 * (n - 1), 0.15 * (n - 1), n))
    labels_ = list(labels) if labels is not None else None
    for i, (res, off) in enumerate(zip(results, offsets)):
        e = np.asarray(res.event_time, dtype=float) + off
        lo, hi = (
            (res.band_low, res.band_high)
            if res.band_low is not None and res.band_high is not None
            else (res.conf_low, res.conf_high)
        )
        err = np.vstack([res.estimate - lo, hi - res.estimate])
        ax.errorbar(
            e,
            res.estimate,
            yerr=err,
            fmt="o",
            capsize=3,
            label=labels_[i] if labels_ else display_name(res.estimator),
        )
        for r in res.reference:
            ax.plot([r + off], [0.0], marker="o", mfc="white", color="grey")
    ax.axhline(0.0, color="black", lw=0.8)
    ax.axvline(-0.5, color="grey", ls="--", lw=0.8, label="_treatment starts")
    ax.set_xlabel("Periods since treatment")
    ax.set_ylabel("Effect estimate")
    if title:
        ax.set_title(title)
    if n > 1:
        ax.legend()
    return ax

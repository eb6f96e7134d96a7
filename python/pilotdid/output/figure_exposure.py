"""The exposure DID figure (:func:`pilotdid.figures.exposure_figure`, Butts 2023): the direct
effect and the spillover by distance ring, with intervals; optionally the direct event study."""

from __future__ import annotations

from typing import Any

from pilotdid._args import vocabulary
from pilotdid._core import PilotdidError


@vocabulary()
def exposure_figure(
    res: Any,
    *,
    path: Any = None,
    level: float | None = None,
    title: str | None = None,
) -> Any:
    """Effects by distance ring (left) and, with more than two periods, the direct and
    spillover event studies (right) of an :class:`~pilotdid.results.exposure.ExposureDidResult`.
    Saves to ``path`` when given; returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    from pilotdid.results.exposure import ExposureDidResult

    if not isinstance(res, ExposureDidResult):
        raise PilotdidError("exposure_figure: 'res' must be the result of pilotdid.exposure_did")
    multi = len(res.grid["periods"]) > 2
    fig, axes = plt.subplots(
        1, 2 if multi else 1, figsize=(12 if multi else 7, 4), layout="constrained"
    )
    ax0 = axes[0] if multi else axes
    res.plot(ax=ax0, level=level, title=title)
    if multi:
        ax = axes[1]
        for k, (kind, color) in enumerate((("direct", "C3"), ("spillover", "C0"))):
            if kind not in res.kinds:
                continue
            es = res.to_event_study(kind)
            e = es.event_time + (k - 0.5) * 0.15
            ax.errorbar(
                e,
                es.estimate,
                yerr=[es.estimate - es.conf_low, es.conf_high - es.estimate],
                fmt="o",
                color=color,
                capsize=3,
                label=kind,
            )
        ax.axhline(0.0, color="0.5", lw=0.8)
        ax.axvline(-0.5, color="0.5", lw=0.8, ls=":")
        ax.set_xlabel("periods since treatment (direct) / first exposure (spillover)")
        ax.set_title("Event studies on exposure-clean comparisons")
        ax.legend(frameon=False)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig

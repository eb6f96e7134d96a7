"""The exposure DID figure (:func:`pilotdid.figures.exposure_figure`, Butts 2023): the direct
effect and the spillover by distance ring, with intervals; optionally the direct event study."""

from __future__ import annotations

from typing import Any

from pilotdid._args import vocabulary
from pilotdid._core import PilotdidError
from pilotdid.output import _figure_base as _fig

_WORDS = {
    "en": {
        "event_x": "periods since treatment (direct) / first exposure (spillover)",
        "event_title": "Event studies on exposure-clean comparisons",
    },
    "zh": {
        "event_x": "处理后时期（直接效应）/ 首次受暴露后时期（溢出效应）",
        "event_title": "以未受暴露单位为对照的事件研究",
    },
}


@vocabulary()
def exposure_figure(
    res: Any,
    *,
    path: Any = None,
    level: float | None = None,
    title: str | None = None,
    lang: str = "en",
) -> Any:
    """Effects by distance ring (left) and, with more than two periods, the direct and
    spillover event studies (right) of an :class:`~pilotdid.results.exposure.ExposureDidResult`.
    ``lang="zh"`` labels in Chinese, set in an installed CJK font (English, with a warning,
    when none is installed). Saves to ``path`` when given; returns the matplotlib Figure."""
    from pilotdid.results.exposure import PLOT_WORDS, ExposureDidResult

    if not isinstance(res, ExposureDidResult):
        raise PilotdidError("exposure_figure: 'res' must be the result of pilotdid.exposure_did")
    lang, font = _fig._resolve_lang(lang, [title])
    title = _fig._clean(title, font)
    w = _WORDS[lang]
    multi = len(res.grid["periods"]) > 2
    fig, axes = _fig._new_figure((12, 4) if multi else (7, 4), font, ncols=2 if multi else 1)
    ax0 = axes[0] if multi else axes
    res.plot(ax=ax0, level=level, title=title, lang=lang)
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
                label=PLOT_WORDS[lang][kind],
            )
        ax.axhline(0.0, color="0.5", lw=0.8)
        ax.axvline(-0.5, color="0.5", lw=0.8, ls=":")
        ax.set_xlabel(w["event_x"])
        ax.set_title(w["event_title"])
        ax.legend(frameon=False)
    _fig._finish(fig)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig

"""The HonestDiD sensitivity figure (:func:`pilotdid.figures.sensitivity_figure`): robust
confidence sets against the bound on violations of parallel trends, beside the original CI."""

from __future__ import annotations

from typing import Any

import numpy as np

from pilotdid._args import vocabulary
from pilotdid._core import PilotdidError
from pilotdid.output import _figure_base as _fig

_WORDS = {
    "en": {
        "title": "Sensitivity to violations of parallel trends",
        "x_rm": "M̄: post-period violation relative to the largest pre-period one",
        "x_sdrm": "M̄: post-period change in slope relative to the largest pre-period one",
        "x_sd": "M: largest change in the slope of the trend per period",
        "y": "Robust CI for {}",
        "y_outcome": "Robust CI for {} (effect on {})",
        "original": "Original {}% CI",
        "robust": "Robust {}% CI ({})",
        "breakdown": "Breakdown value {} = {}",
        "original_tick": "Original",
    },
    "zh": {
        "title": "对平行趋势偏离的敏感性分析",
        "x_rm": "M̄：政策后偏离相对于政策前最大偏离的倍数",
        "x_sdrm": "M̄：政策后趋势斜率变化相对于政策前最大变化的倍数",
        "x_sd": "M：每期趋势斜率的最大变化",
        "y": "{}的稳健置信区间",
        "y_outcome": "{}的稳健置信区间（对{}的效应）",
        "original": "原始{}%置信区间",
        "robust": "稳健{}%置信区间（{}）",
        "breakdown": "临界值 {} = {}",
        "original_tick": "原始",
    },
}

_CLASS = {"rm": "Δ^RM(M̄)", "sdrm": "Δ^SDRM(M̄)", "sd": "Δ^SD(M)"}


def _target(res: Any, lang: str) -> str:
    from pilotdid.output._adapters import _target_text

    return _target_text(res, lang)


def _caption(res: Any, lang: str, target: str, estimator: str) -> str:
    from pilotdid.output import figure_captions as cap

    pct = _fig._pct(res.level)
    par = "M" if res.delta == "sd" else "M̄"
    grid = np.asarray(res.grid, dtype=float)
    span = f"{par} = {cap.number(float(grid.min()))}–{cap.number(float(grid.max()))}"
    bd = res.breakdown if getattr(res, "_computed_breakdown", True) else None
    if lang == "zh":
        text = (
            f"HonestDiD 敏感性分析（Rambachan & Roth 2023）：{estimator}事件研究中{target}的"
            f"{pct}%稳健置信集，约束 {_CLASS[res.delta]}，方法 {res.method}，{span}；"
            f"最左侧为原始{pct}%置信区间。"
        )
        if bd is None:
            text += f"在最小的 {par} 下稳健置信集已包含 0。"
        elif np.isinf(bd):
            text += f"在所有 {par} 下稳健置信集均不含 0。"
        else:
            text += f"{par} 不超过 {cap.number(float(bd))} 时稳健置信集不含 0（临界值）。"
        return text
    what = {
        "rm": "post-period violations of parallel trends at most M̄ times the largest "
        "pre-period violation",
        "sdrm": "post-period changes in the slope of the violation at most M̄ times the largest "
        "pre-period change",
        "sd": "the slope of the violation changes by at most M per period",
    }[res.delta]
    text = (
        f"HonestDiD sensitivity analysis (Rambachan & Roth 2023) of {target} in the "
        f"{estimator} event study: {pct}% robust confidence sets under {_CLASS[res.delta]} "
        f"({what}), method {res.method}, for {span}; the leftmost bar is the original {pct}% "
        "CI. "
    )
    if bd is None:
        text += f"The robust set covers 0 already at the smallest {par}."
    elif np.isinf(bd):
        text += f"The robust set excludes 0 at every {par} shown."
    else:
        text += (
            f"The robust set excludes 0 up to {par} = {cap.number(float(bd))} (the breakdown "
            "value)."
        )
    return text


@vocabulary()
def sensitivity_figure(
    res: Any,
    *,
    title: str | None = None,
    y: str | None = None,
    lang: str = "en",
    figsize: tuple[float, float] = (7.6, 4.0),
) -> Any:
    """Robust confidence sets of a :func:`pilotdid.honest_did` result against M̄ (or M), the
    original CI at the left, a zero line, and the breakdown value as a dotted line; legend
    beside the axes. ``y``: the outcome's display name for the axis label. The caption
    (what is drawn, the restriction class, method and breakdown value) is on
    ``figure_caption(fig)``."""
    from pilotdid.results.sensitivity import SensitivityResult

    if not isinstance(res, SensitivityResult):
        raise PilotdidError(
            f"sensitivity_figure: expects the result of honest_did(), got {type(res).__name__}"
        )
    figsize = _fig._check_figsize(figsize)
    lang, font = _fig._resolve_lang(lang, [title, y])
    w = _WORDS[lang]
    pct = _fig._pct(res.level)
    par = "M" if res.delta == "sd" else "M̄"
    target = _target(res, lang)
    from pilotdid.results.event_study import display_name

    estimator = display_name(res.estimator) if res.estimator != "?" else ""

    grid = np.asarray(res.grid, dtype=float)
    lb, ub = np.asarray(res.lb, dtype=float), np.asarray(res.ub, dtype=float)
    step = float(np.min(np.diff(np.sort(grid)))) if grid.size > 1 else 1.0
    step = step if step > 0 else 1.0
    x0 = float(grid.min()) - 1.5 * step  # the original CI, set apart from the grid

    fig, ax = _fig._new_figure(figsize, font)
    lo, hi = res.original
    ax.plot(
        [x0, x0],
        [lo, hi],
        color="#b2182b",
        lw=2.4,
        solid_capstyle="butt",
        label=w["original"].format(pct),
    )
    ax.plot([x0], [0.5 * (lo + hi)], "o", color="#b2182b", ms=4)  # the estimate
    finite = np.isfinite(lb) & np.isfinite(ub)
    ax.vlines(
        grid[finite],
        lb[finite],
        ub[finite],
        color="#2166ac",
        lw=2.4,
        label=w["robust"].format(pct, res.method),
    )
    ax.axhline(0.0, color="0.35", lw=0.9, ls="--")
    bd = res.breakdown if getattr(res, "_computed_breakdown", True) else None
    if bd is not None and np.isfinite(bd):
        from pilotdid.output import figure_captions as cap

        ax.axvline(
            float(bd),
            color="0.25",
            lw=1.0,
            ls=":",
            label=w["breakdown"].format(par, cap.number(float(bd))),
        )
    ticks = [x0, *grid.tolist()]
    ax.set_xticks(ticks)
    ax.set_xticklabels([w["original_tick"], *(f"{g:g}" for g in grid)])
    ax.set_xlim(x0 - step, float(grid.max()) + step)
    ax.set_xlabel(w[f"x_{res.delta}"])
    ax.set_ylabel(w["y_outcome"].format(target, y) if y else w["y"].format(target))
    ax.set_title(_fig._clean(title, font, w["title"]) or w["title"])
    ax.legend(
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
        frameon=False,
        fontsize="small",
    )
    return _fig._attach_caption(_fig._finish(fig), _caption(res, lang, target, estimator))

"""The dose-response figure (:func:`pilotdid.figures.dose_figure`) of a continuous-dose DID:
ATT(d|d) and ACRT(d|d) against the dose with pointwise intervals and uniform bands."""

from __future__ import annotations

from typing import Any

from pilotdid._args import vocabulary
from pilotdid._core import PilotdidError
from pilotdid.output import _figure_base as _fig

_WORDS = {
    "en": {
        "title": "Dose-response (Callaway, Goodman-Bacon & Sant'Anna 2024)",
        "level": "ATT(d|d)",
        "slope": "ACRT(d|d)",
        "x": "Dose ({})",
        "y_level": "ATT(d|d): effect on {}",
        "y_slope": "ACRT(d|d) per unit of dose",
    },
    "zh": {
        "title": "剂量—反应曲线（Callaway, Goodman-Bacon & Sant'Anna 2024）",
        "level": "ATT(d|d)",
        "slope": "ACRT(d|d)",
        "x": "处理强度（{}）",
        "y_level": "ATT(d|d)：对{}的效应",
        "y_slope": "ACRT(d|d)（每单位强度）",
    },
}


def _caption(res: Any, lang: str) -> str:
    from pilotdid.output import figure_captions as cap

    pct = _fig._pct(res.level)
    boot = bool(res.params["bstrap"])
    y, dose = res.params["y"], res.params["dose"]
    if lang == "zh":
        band = f"浅色为 {pct}% 一致置信带（乘子自助法 {res.params['reps']} 次）" if boot else ""
        return (
            f"连续处理强度双重差分（Callaway, Goodman-Bacon & Sant'Anna 2024）：{y} 对处理强度"
            f" {dose} 的 ATT(d|d)（左）与 ACRT(d|d)（右），深色为 {pct}% 逐点置信区间"
            f"{'，' + band if band else ''}；虚线为平均值 ATT^o = {cap.number(res.overall_att)}、"
            f"ACRT^o = {cap.number(res.overall_acrt)}。ACRT 仅在强平行趋势假设下具有因果含义。"
        )
    band = (
        f"; lighter: the {pct}% uniform band over the dose grid (multiplier bootstrap, "
        f"{res.params['reps']} draws)"
        if boot
        else ""
    )
    return (
        "Continuous-dose DID (Callaway, Goodman-Bacon & Sant'Anna 2024): ATT(d|d) (left) and "
        f"ACRT(d|d) (right) of {y} against the dose {dose}; darker: {pct}% pointwise "
        f"intervals{band}; dotted: the averages ATT^o = {cap.number(res.overall_att)} and "
        f"ACRT^o = {cap.number(res.overall_acrt)}. ACRT(d|d) is a causal response only under "
        "strong parallel trends."
    )


@vocabulary()
def dose_figure(
    res: Any,
    *,
    title: str | None = None,
    y: str | None = None,
    lang: str = "en",
    figsize: tuple[float, float] = (10.0, 4.2),
) -> Any:
    """ATT(d|d) and ACRT(d|d) of a :class:`~pilotdid.results.DoseResult` side by side, with
    pointwise intervals and (bootstrap) uniform bands. ``y`` labels the outcome. The caption
    is on ``figure_caption(fig)``."""
    from pilotdid.results.dose import DoseResult

    if not isinstance(res, DoseResult):
        raise PilotdidError(
            f"dose_figure: expected the result of pilotdid.cont_did, got {type(res).__name__}"
        )
    figsize = _fig._check_figsize(figsize)
    lang, font = _fig._resolve_lang(lang, [title, y])
    w = _WORDS[lang]
    fig, axes = _fig._new_figure(figsize, font, ncols=2)
    outcome = _fig._clean(y, font) or res.params["y"]
    for ax, kind in zip(axes, ("level", "slope")):
        res.plot(kind, ax=ax)
        ax.set_title(w[kind], fontsize="medium")
        ax.set_xlabel(w["x"].format(res.params["dose"]))
        ax.set_ylabel(w["y_" + kind].format(outcome))
        ax.legend(fontsize="small", frameon=False, loc="best")
    fig.suptitle(_fig._clean(title, font) or w["title"])
    return _fig._attach_caption(_fig._finish(fig), _caption(res, lang))

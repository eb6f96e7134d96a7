"""The synthetic-DID figures (:func:`pilotdid.figures.synthdid_figure`): the treated and
synthetic trajectories of each adoption cohort with the time weights under the pre-period,
and the unit weights of the never-treated units."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from pilotdid._args import check_choice, vocabulary
from pilotdid._core import PilotdidError
from pilotdid.output import _figure_base as _fig

_WORDS = {
    "en": {
        "sdid": "Synthetic DID",
        "sc": "Synthetic control",
        "did": "DID",
        "treated": "Treated (mean)",
        "synthetic": "Synthetic control",
        "did_control": "Never treated (mean, shifted)",
        "lambda": "Time weights λ",
        "cohort": "Cohort {}",
        "time": "Period",
        "weights_x": "Unit weight ω",
        "weights_title": "{}: weights of the never-treated units",
        "traj_title": "{}: treated and synthetic trajectories",
    },
    "zh": {
        "sdid": "合成双重差分",
        "sc": "合成控制",
        "did": "双重差分",
        "treated": "处理组（均值）",
        "synthetic": "合成控制组",
        "did_control": "从未处理组（均值，平移）",
        "lambda": "时间权重 λ",
        "cohort": "{} 年批次",
        "time": "时期",
        "weights_x": "单位权重 ω",
        "weights_title": "{}：从未处理单位的权重",
        "traj_title": "{}：处理组与合成控制组的轨迹",
    },
}


def _caption(res: Any, kind: str, lang: str) -> str:
    from pilotdid.output import figure_captions as cap

    n_coh = len(res.cohorts())
    est, se = cap.number(res.estimate), cap.number(res.std_error)
    if lang == "zh":
        name = _WORDS["zh"][res.method]
        if kind == "trajectories":
            return (
                f"{name}（Arkhangelsky 等 2021）：每个采纳批次（共 {n_coh} 个）的处理组均值（实线）"
                f"与合成控制组（虚线，从未处理单位按 ω 加权），竖线为首个处理期，灰色柱为政策前"
                f"各期的时间权重 λ。ATT = {est}（{res.vcov_type} 标准误 {se}）。"
            )
        return (
            f"{name}（Arkhangelsky 等 2021）：{res.n_controls} 个从未处理单位在每个采纳批次中的"
            f"单位权重 ω（每批次权重之和为 1），按平均权重排序。"
        )
    name = _WORDS["en"][res.method]
    if kind == "trajectories":
        return (
            f"{name} (Arkhangelsky et al. 2021) of {res.y}: for each of the {n_coh} adoption "
            "cohort(s), the treated units' mean (solid) and the synthetic control (dashed: the "
            "never-treated units weighted by omega); the vertical line marks the first treated "
            "period and the grey bars the pre-period time weights lambda. "
            f"ATT = {est} ({res.vcov_type} standard error {se})."
        )
    return (
        f"{name} (Arkhangelsky et al. 2021) of {res.y}: the unit weights omega of the "
        f"{res.n_controls} never-treated units in each adoption cohort (each cohort's weights "
        "sum to one), sorted by their mean weight."
    )


def _trajectories(fig: Any, axes: Any, res: Any, w: dict, y: str | None) -> None:
    from matplotlib.ticker import MaxNLocator

    tr = res.trajectories()
    tw = res.time_weights()
    cohorts = tr["cohort"].unique(maintain_order=True).to_list()
    axes = np.atleast_1d(axes)
    for k, (ax, g) in enumerate(zip(axes, cohorts)):
        part = tr.filter(pl.col("cohort") == g)
        t = part[res.time].to_numpy()
        ax.plot(t, part["treated"].to_numpy(), color="C0", lw=1.8, label=w["treated"])
        ax.plot(
            t,
            part["synthetic"].to_numpy(),
            color="C1",
            lw=1.8,
            ls="--",
            label=w["did_control"] if res.method == "did" else w["synthetic"],
        )
        ax.axvline(g - 0.5, color="grey", lw=0.8)
        if res.method != "sc":
            lam = tw.filter(pl.col("cohort") == g)
            twin = ax.twinx()
            twin.bar(
                lam[res.time].to_numpy(),
                lam["weight"].to_numpy(),
                width=0.8,
                color="grey",
                alpha=0.35,
                label=w["lambda"],
            )
            # the bars fill the bottom quarter of the panel: weights are read off their height
            # relative to each other, the lines stay readable above them
            twin.set_ylim(0, 4 * max(float(lam["weight"].max() or 0.0), 1e-12))
            twin.set_yticks([])
            if k == 0:
                h1, l1 = ax.get_legend_handles_labels()
                h2, l2 = twin.get_legend_handles_labels()
                ax.legend(h1 + h2, l1 + l2, fontsize="small", frameon=False, loc="upper left")
        elif k == 0:
            ax.legend(fontsize="small", frameon=False, loc="upper left")
        if len(cohorts) > 1:
            ax.set_title(w["cohort"].format(g), fontsize="medium")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(res.time if res.time else w["time"])
        if k == 0:
            ax.set_ylabel(y or res.y)


def _weights(ax: Any, res: Any, w: dict) -> None:
    uw = res.unit_weights()
    wide = uw.pivot(on="cohort", index=res.unit, values="weight")
    cohorts = [c for c in wide.columns if c != res.unit]
    mat = wide.select(cohorts).to_numpy()
    order = np.argsort(-mat.mean(axis=1), kind="stable")[::-1]
    names = [str(v) for v in wide[res.unit].to_numpy()[order]]
    pos = np.arange(len(names), dtype=float)
    height = 0.8 / max(len(cohorts), 1)
    for j, c in enumerate(cohorts):
        # the first cohort on top within each unit's group, as in the legend
        off = ((len(cohorts) - 1) / 2 - j) * height
        label = w["cohort"].format(c) if len(cohorts) > 1 else None
        ax.barh(pos + off, mat[order, j], height=height, color=f"C{j}", label=label)
    ax.set_yticks(pos)
    ax.set_yticklabels(names, fontsize="small")
    ax.set_ylim(-0.6, len(names) - 0.4)
    ax.set_xlabel(w["weights_x"])
    if len(cohorts) > 1:
        ax.legend(fontsize="small", frameon=False, loc="lower right")


@vocabulary()
def synthdid_figure(
    res: Any,
    *,
    kind: str = "trajectories",
    title: str | None = None,
    y: str | None = None,
    lang: str = "en",
    figsize: tuple[float, float] | None = None,
) -> Any:
    """A paper figure of a :class:`~pilotdid.results.SynthDIDResult`.

    ``kind="trajectories"``: one panel per adoption cohort with the treated mean, the
    synthetic control and the time weights; ``kind="weights"``: the unit weights of the
    never-treated units per cohort (horizontal bars, sorted). ``y`` labels the outcome axis.
    The caption is on ``figure_caption(fig)``."""
    from pilotdid.results.synthdid import SynthDIDResult

    if not isinstance(res, SynthDIDResult):
        raise PilotdidError(
            f"synthdid_figure: expected the result of pilotdid.synthdid, got {type(res).__name__}"
        )
    kind = check_choice("kind", kind, ("trajectories", "weights"))
    lang, font = _fig._resolve_lang(lang, [title, y])
    w = _WORDS[lang]
    name = w[res.method]
    if kind == "trajectories":
        n = len(res.cohorts())
        size = _fig._check_figsize(figsize or (min(4.2 * n, 13.0), 4.2))
        fig, axes = _fig._new_figure(size, font, ncols=n)
        _trajectories(fig, axes, res, w, _fig._clean(y, font))
        fig.suptitle(_fig._clean(title, font) or w["traj_title"].format(name))
    else:
        if res.method == "did":
            raise PilotdidError(
                "synthdid_figure: kind='weights' needs method 'sdid' or 'sc' (DID weights every "
                "never-treated unit equally)"
            )
        n_units = res.n_controls
        size = _fig._check_figsize(figsize or (6.5, max(3.0, 0.22 * n_units + 1.2)))
        fig, ax = _fig._new_figure(size, font)
        _weights(ax, res, w)
        ax.set_title(_fig._clean(title, font) or w["weights_title"].format(name))
    return _fig._attach_caption(_fig._finish(fig), _caption(res, kind, lang))

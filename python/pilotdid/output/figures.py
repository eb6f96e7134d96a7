"""Publication figures (matplotlib): event studies with several estimators overlaid, the
placebo distribution, the Bacon scatter, mechanism coefficient plots, spatial (LeSage-Pace)
effects and a map-free neighbour graph of a spatial weights matrix.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot's global state
(safe under the Agg backend, never shown), with a caption attached that says what is drawn
(``figure_caption(fig)``; English or Chinese with ``lang``). ``save_figure`` writes PNG/PDF
whose bytes depend only on the figure: no dates, no software versions in the metadata.

Chinese labels (``lang="zh"``, or Chinese text in labels you pass) need a CJK font; when none
is installed the figure falls back to English labels with a warning instead of drawing
empty boxes.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pilotdid._args import check_choice, check_int, check_level, vocabulary
from pilotdid._core import PilotdidError
from pilotdid.output._figure_base import (
    _attach_caption,
    _check_figsize,
    _clean,
    _finish,
    _new_figure,
    _pct,
    _resolve_lang,
    cjk_font,
    figure_caption,
)
from pilotdid.output.figure_dose import dose_figure
from pilotdid.output.figure_exposure import exposure_figure
from pilotdid.output.figure_sensitivity import sensitivity_figure
from pilotdid.output.figure_synthdid import synthdid_figure

__all__ = [
    "bacon_figure",
    "cjk_font",
    "dose_figure",
    "exposure_figure",
    "event_study_figure",
    "figure_caption",
    "mechanism_figure",
    "placebo_figure",
    "save_figure",
    "sensitivity_figure",
    "spatial_effects_figure",
    "synthdid_figure",
    "weights_figure",
]

_TEXT = {
    "en": {
        "event_x": "Periods since treatment (e)",
        "event_y": "Effect estimate",
        "event_y_outcome": "Effect on {}",
        "event_title": "Event study",
        "event_ref": "Reference period (set to 0)",
        "event_start": "Treatment starts",
        "ci_pointwise": "{}% pointwise CI",
        "ci_uniform": "{}% uniform band",
        "event_bars": "Bars: {}",
        "placebo_x": "Placebo coefficient on {}",
        "placebo_y": "Density",
        "placebo_hist": "Placebo estimates",
        "placebo_kde": "Kernel density",
        "placebo_actual": "Actual estimate {}",
        "placebo_title": "Placebo test",
        "placebo_reps": "R = {} placebo assignments",
        "placebo_all": "R = {} (every distinct assignment)",
        "placebo_p": "Randomization p = {}",
        "bacon_title": "Goodman-Bacon decomposition",
        "bacon_x": "Weight",
        "bacon_y": "2×2 DID estimate",
        "bacon_y_outcome": "2×2 DID estimate ({})",
        "bacon_twfe": "TWFE without controls = {} (weighted mean)",
        "mech_a": "Effect of the treatment on the mediator",
        "mech_ind": "Indirect effect (a × b)",
        "mech_title": "Mechanisms",
        "mech_x": "Estimate ({}% CI)",
        "het_title": "Heterogeneity",
        "mod_title": "Moderation",
        "mod_y": "Marginal effect of {} on {}",
        "spatial_title": "Direct, indirect and total effects",
        "spatial_x_delta": "Effect ({}% CI, delta method)",
        "spatial_x_sim": "Effect ({}% interval, {} simulated draws)",
        "direct": "Direct",
        "indirect": "Indirect",
        "total": "Total",
        "w_title": "Spatial weights: neighbour graph",
        "lon": "Longitude",
        "lat": "Latitude",
    },
    "zh": {
        "event_x": "相对政策实施的期数（e）",
        "event_y": "估计效应",
        "event_y_outcome": "对{}的效应",
        "event_title": "事件研究",
        "event_ref": "基期（标准化为 0）",
        "event_start": "政策开始实施",
        "ci_pointwise": "{}%逐点置信区间",
        "ci_uniform": "{}%一致置信带",
        "event_bars": "误差线：{}",
        "placebo_x": "{}的安慰剂系数",
        "placebo_y": "密度",
        "placebo_hist": "安慰剂估计",
        "placebo_kde": "核密度",
        "placebo_actual": "真实估计 {}",
        "placebo_title": "安慰剂检验",
        "placebo_reps": "R = {} 次安慰剂分配",
        "placebo_all": "R = {}（全部不同分配）",
        "placebo_p": "随机推断 p = {}",
        "bacon_title": "Goodman-Bacon 分解",
        "bacon_x": "权重",
        "bacon_y": "2×2 DID 估计",
        "bacon_y_outcome": "2×2 DID 估计（{}）",
        "bacon_twfe": "不含控制变量的 TWFE = {}（加权平均）",
        "mech_a": "政策对中介变量的影响",
        "mech_ind": "间接效应（a × b）",
        "mech_title": "机制分析",
        "mech_x": "估计值（{}%置信区间）",
        "het_title": "异质性分析",
        "mod_title": "调节效应",
        "mod_y": "{}对{}的边际效应",
        "spatial_title": "直接效应、间接效应与总效应",
        "spatial_x_delta": "效应（{}%置信区间，Delta 方法）",
        "spatial_x_sim": "效应（{}%区间，{} 次模拟抽样）",
        "direct": "直接效应",
        "indirect": "间接效应",
        "total": "总效应",
        "w_title": "空间权重：邻接关系图",
        "lon": "经度",
        "lat": "纬度",
    },
}


#: The Goodman-Bacon comparison types (R bacondecomp's names) in other languages.
_BACON_TYPES = {
    "zh": {
        "Earlier vs Later Treated": "较早处理组 vs 较晚处理组（对照）",
        "Later vs Earlier Treated": "较晚处理组 vs 较早处理组（对照）",
        "Treated vs Untreated": "处理组 vs 从未处理组",
        "Later vs Always Treated": "较晚处理组 vs 始终处理组",
    }
}


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _placebo_numbers(placebo: Any) -> tuple[float, float]:
    """(actual estimate, randomization p-value) of a placebo result, through the protocol
    (its one term)."""
    row = placebo.tidy(0.95).row(0, named=True)
    return float(row["estimate"]), float(row["p_value"])


def _as_event_study(res: Any) -> Any:
    from pilotdid.results import EventStudyResult

    if isinstance(res, EventStudyResult):
        return res
    if hasattr(res, "to_event_study"):
        return res.to_event_study()
    raise PilotdidError(
        f"event_study_figure: {type(res).__name__} is not an event study (pass "
        "EventStudyResult, SunAbrahamResult or a dynamic AggteResult)"
    )


def _outcome_name(*results: Any) -> str | None:
    """The outcome column a result names (``y``, or R did's ``yname``), if it keeps one."""
    for res in results:
        for attr in ("y", "yname", "outcome"):
            value = getattr(res, attr, None)
            if isinstance(value, str) and value:
                return value
        extra = getattr(res, "extra", None)
        if isinstance(extra, Mapping) and isinstance(extra.get("y"), str):
            return str(extra["y"])
    return None


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


@vocabulary()
def event_study_figure(
    results: Any,
    *,
    title: str | None = None,
    labels: Sequence[str] | None = None,
    y: str | None = None,
    lang: str = "en",
    figsize: tuple[float, float] = (8.0, 4.2),
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> Any:
    """Several event studies overlaid (one error-bar series per estimator, shifted so the
    intervals do not overlap), a zero line, the start of treatment and hollow markers at the
    reference periods, with a tick at every event time.

    ``results``: a list, or ``{legend label: result}``; each an EventStudyResult,
    SunAbrahamResult or dynamic AggteResult. Legend entries are the estimators' names
    ("Callaway-Sant'Anna", not ``cs``): estimator codes used as keys or ``labels`` are
    translated, other text is kept. ``y``: the outcome's name (or label) shown in the y-axis
    label ("Effect on Green TFP") and the caption; default the outcome column the results
    keep, if any. Uniform bands are drawn when the estimator provides them; the legend's
    title (or each entry, when they differ) says which: pointwise CI or uniform band, and the
    level. The caption is on ``figure_caption(fig)``."""
    from matplotlib.lines import Line2D

    from pilotdid.output import figure_captions as cap
    from pilotdid.results.event_study import display_name, plot_event_studies

    figsize = _check_figsize(figsize)
    if y is not None and (not isinstance(y, str) or not y.strip()):
        raise PilotdidError(f"option 'y': expected the outcome's name (a string), got {y!r}")

    if isinstance(results, Mapping):
        names = [str(k) for k in results]
        items = list(results.values())
    else:
        items = list(results) if isinstance(results, (list, tuple)) else [results]
        names = None
    if not items:
        raise PilotdidError("event_study_figure: no results given")
    es = [_as_event_study(r) for r in items]
    legend = list(labels) if labels is not None else names
    if legend is not None and len(legend) != len(es):
        raise PilotdidError(f"option 'labels': {len(legend)} labels for {len(es)} results")
    outcome = y if y is not None else _outcome_name(*items, *es)
    lang, font = _resolve_lang(lang, [title, xlabel, ylabel, outcome, *(legend or [])])
    t = _TEXT[lang]
    if legend is None:
        legend = [display_name(r.estimator) for r in es]
    # a key or label that is an estimator code ("twfe", "cs") is shown by its name
    legend = [
        _clean(display_name(str(s)), font, display_name(r.estimator)) or display_name(r.estimator)
        for s, r in zip(legend, es)
    ]
    shown_outcome = _clean(outcome, font, None)

    # the interval each estimator draws: its uniform band when it has one, else pointwise
    short = [
        t["ci_uniform" if r.band == "uniform" else "ci_pointwise"].format(_pct(r.level)) for r in es
    ]
    same_interval = len(set(short)) == 1
    entries = legend if same_interval else [f"{n} ({s})" for n, s in zip(legend, short)]

    fig, ax = _new_figure(figsize, font)
    n = len(es)
    # estimators side by side, at most 0.3 apart and within ±0.3 of their event time, so that a
    # group sits clearly closer to its own tick than to the next one
    half = min(0.3, 0.15 * (n - 1))
    offsets = [float(v) for v in np.linspace(-half, half, n)]
    plot_event_studies(es, ax=ax, labels=entries, offsets=offsets)

    # a tick at every event time, estimated or reference
    times = sorted(
        {int(e) for r in es for e in r.event_time} | {int(e) for r in es for e in r.reference}
    )
    ax.set_xticks(times)
    if len(times) > 20:
        ax.tick_params(axis="x", labelsize=7 if len(times) <= 40 else 5)
    ax.set_xlabel(_clean(xlabel, font, t["event_x"]) or t["event_x"])
    default_y = t["event_y_outcome"].format(shown_outcome) if shown_outcome else t["event_y"]
    ax.set_ylabel(_clean(ylabel, font, default_y) or default_y)

    handles, texts = ax.get_legend_handles_labels()
    if any(len(r.reference) for r in es):
        handles.append(
            Line2D([], [], ls="none", marker="o", mfc="white", color="grey", label=t["event_ref"])
        )
        texts.append(t["event_ref"])
    handles.append(Line2D([], [], color="grey", ls="--", lw=0.8))
    texts.append(t["event_start"])
    ax.legend(
        handles,
        texts,
        title=t["event_bars"].format(short[0]) if same_interval else None,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
        frameon=False,
        fontsize="small",
        title_fontsize="small",
    )
    ttl = _clean(title, font, t["event_title"])
    if ttl:
        ax.set_title(ttl)
    caption = cap.event_study(
        lang,
        names=legend,
        outcome=outcome,
        intervals=[cap.interval_phrase(r.band, _pct(r.level), lang) for r in es],
        references=[tuple(int(e) for e in r.reference) for r in es],
    )
    return _attach_caption(_finish(fig), caption)


@vocabulary()
def placebo_figure(
    placebo: Any,
    *,
    title: str | None = None,
    bins: int = 40,
    lang: str = "en",
    figsize: tuple[float, float] = (7.6, 4.0),
) -> Any:
    """Histogram and kernel density of the placebo coefficients, the actual estimate as a
    dashed vertical line, and in the legend (beside the axes) the number of placebo
    assignments R and the randomization p-value (1 + k)/(1 + R) (k: placebo estimates at
    least as large in absolute value as the actual one; with every assignment enumerated,
    the exact share). The caption is on ``figure_caption(fig)``."""
    from pilotdid.output import figure_captions as cap

    bins = check_int("bins", bins, lo=1, hi=100_000)
    figsize = _check_figsize(figsize)
    lang, font = _resolve_lang(lang, [title])
    t = _TEXT[lang]
    # the result's own p-value: (1 + k)/(1 + R) for sampled assignments, the exact share k/R
    # when every assignment was enumerated (the actual one among them)
    actual, p_value = _placebo_numbers(placebo)
    n_draws = int(placebo.n_valid)
    n_extreme = int(placebo.n_exceed)
    if placebo.enumerated:
        reps_text = t["placebo_all"].format(n_draws)
    else:
        reps_text = t["placebo_reps"].format(n_draws)
    p_text = t["placebo_p"].format(cap.randomization_p(p_value, n_draws))
    if not placebo.enumerated:
        p_text += f" (= {1 + n_extreme}/{1 + n_draws})"

    fig, ax = _new_figure(figsize, font)
    default_title = t["placebo_title"]
    placebo.plot(ax=ax, bins=bins, title=_clean(title, font, default_title) or default_title)
    ax.set_xlabel(t["placebo_x"].format(placebo.treatment))
    ax.set_ylabel(t["placebo_y"])
    handles, names = ax.get_legend_handles_labels()
    words = {"placebo": t["placebo_hist"], "kernel density": t["placebo_kde"]}
    actual_text = t["placebo_actual"].format(cap.number(actual))
    names = [words.get(s, actual_text if s.startswith("actual") else s) for s in names]
    # beside the axes: inside, it would cover the histogram or the actual estimate's line
    legend_options = {
        "title": f"{reps_text}\n{p_text}",
        "loc": "upper left",
        "bbox_to_anchor": (1.01, 1.0),
        "borderaxespad": 0.0,
        "frameon": False,
        "fontsize": "small",
        "title_fontsize": "small",
    }
    try:  # title lines flush left with the entries (matplotlib >= 3.6)
        ax.legend(handles, names, alignment="left", **legend_options)
    except TypeError:
        ax.legend(handles, names, **legend_options)
    caption = cap.placebo(
        lang,
        treatment=placebo.treatment,
        scheme=placebo.scheme,
        actual=actual,
        n_draws=n_draws,
        n_extreme=n_extreme,
        p=p_value,
        enumerated=bool(placebo.enumerated),
        n_degenerate=int(placebo.n_degenerate),
    )
    return _attach_caption(_finish(fig), caption)


@vocabulary()
def bacon_figure(
    bacon: Any,
    *,
    title: str | None = None,
    lang: str = "en",
    figsize: tuple[float, float] = (7.0, 4.5),
) -> Any:
    """2×2 DID estimates against their weights, one marker per comparison type, with the
    TWFE coefficient they average to as a dashed line, labelled as what it is: the TWFE
    *without controls* of ``y ~ treatment | unit + time`` (the decomposition does not take
    covariates), which differs from a headline TWFE with controls. The caption is on
    ``figure_caption(fig)``."""
    from pilotdid.output import figure_captions as cap

    figsize = _check_figsize(figsize)
    lang, font = _resolve_lang(lang, [title])
    t = _TEXT[lang]
    fig, ax = _new_figure(figsize, font)
    bacon.plot(ax=ax, title=_clean(title, font, t["bacon_title"]) or t["bacon_title"])
    twfe_label = t["bacon_twfe"].format(cap.number(bacon.twfe))
    handles, names = ax.get_legend_handles_labels()
    names = [
        twfe_label if s.startswith("TWFE") else _BACON_TYPES.get(lang, {}).get(s, s) for s in names
    ]
    ax.legend(handles, names, fontsize="small", frameon=False)
    ax.set_xlabel(t["bacon_x"])
    ax.set_ylabel(t["bacon_y_outcome"].format(bacon.y) if bacon.y else t["bacon_y"])
    caption = cap.bacon(
        lang,
        y=bacon.y,
        treatment=bacon.treatment,
        n_units=int(bacon.n_units),
        n_periods=int(bacon.n_periods),
        twfe=float(bacon.twfe),
    )
    return _attach_caption(_finish(fig), caption)


def _coef_panel(
    ax: Any, names: Sequence[str], est: Sequence[float], lo: Sequence[float], hi: Sequence[float]
) -> None:
    y = np.arange(len(names))[::-1].astype(float)
    e = np.asarray(est, dtype=float)
    err = np.vstack([e - np.asarray(lo, dtype=float), np.asarray(hi, dtype=float) - e])
    ax.errorbar(e, y, xerr=err, fmt="o", capsize=3, color="C0")
    ax.axvline(0.0, color="grey", lw=0.8, ls="--")
    ax.set_yticks(y)
    ax.set_yticklabels(list(names))
    ax.set_ylim(-0.6, len(names) - 0.4)


def _fit_ci(fit: Any, term: str, level: float) -> tuple[float, float, float]:
    ci = fit.confint(level).filter(fit.confint(level)["term"] == term)
    return float(fit.coef()[term]), float(ci["conf_low"][0]), float(ci["conf_high"][0])


@vocabulary()
def mechanism_figure(
    results: Any,
    *,
    title: str | None = None,
    labels: Mapping[str, str] | None = None,
    level: float = 0.95,
    lang: str = "en",
    figsize: tuple[float, float] | None = None,
) -> Any:
    """Coefficient plot of a mechanism analysis.

    - MediationResult: left, the policy's effect on each mediator (a-path, its regression's
      CI); right, the indirect effect a×b with its bootstrap CI.
    - MechanismEffects: the policy's effect on each mediator with its CI.
    - HeterogeneityResult: the treatment effect in each group (each split regression's CI).
    - ModerationResult: marginal effect of the treatment at the moderator's values.
    ``labels`` maps mediator / group names (and, for moderation, the treatment, outcome and
    moderator) to display names. The caption is on
    ``figure_caption(fig)``.
    """
    from pilotdid import results as r
    from pilotdid.output import figure_captions as cap

    level = check_level(level)
    if figsize is not None:
        figsize = _check_figsize(figsize)
    labels = dict(labels or {})
    lang, font = _resolve_lang(lang, [title, *labels.values()])
    t = _TEXT[lang]
    pct = _pct(level)

    def name(k: str) -> str:
        return _clean(labels.get(k, k), font, k) or k

    if isinstance(results, r.MediationResult):
        meds = list(results.mediators)
        fig, (ax1, ax2) = _new_figure(figsize or (9.0, 0.6 * len(meds) + 2.0), font, ncols=2)
        a = [_fit_ci(results.a_fits[m], results.treatment, level) for m in meds]
        _coef_panel(ax1, [name(m) for m in meds], *zip(*a))
        ax1.set_title(t["mech_a"])
        tab = {row["mediator"]: row for row in results.table.iter_rows(named=True)}
        ind = [(tab[m]["indirect"], tab[m]["ci_low"], tab[m]["ci_high"]) for m in meds]
        _coef_panel(ax2, [name(m) for m in meds], *zip(*ind))
        ax2.set_title(t["mech_ind"])
        ax1.set_xlabel(t["mech_x"].format(pct))
        # the indirect effect's interval is the bootstrap one, at the result's level
        ax2.set_xlabel(t["mech_x"].format(_pct(results.level)))
        default = t["mech_title"]
        caption = cap.mediation(
            lang,
            treatment=results.treatment,
            y=results.y,
            pct=pct,
            boot_pct=_pct(results.level),
            ci_method=results.ci_method,
            reps=int(results.reps),
        )
    elif isinstance(results, r.MechanismEffects):
        # one term per mediator: the policy's effect on it
        tab = results.tidy(0.95).rename({"term": "mediator"})
        meds = tab["mediator"].to_list()
        fig, ax = _new_figure(figsize or (6.0, 0.6 * len(meds) + 1.8), font)
        _coef_panel(
            ax,
            [name(m) for m in meds],
            tab["estimate"].to_list(),
            tab["conf_low"].to_list(),
            tab["conf_high"].to_list(),
        )
        ax.set_xlabel(t["mech_x"].format(95))
        ax.set_title(t["mech_a"])
        default = t["mech_title"]
        caption = cap.mechanism_effects(
            lang, treatment=results.treatment, estimator=str(results.estimator)
        )
    elif isinstance(results, r.HeterogeneityResult):
        groups = list(results.fits)
        fig, ax = _new_figure(figsize or (6.0, 0.6 * len(groups) + 1.8), font)
        vals = [_fit_ci(results.fits[g], results.treatment, level) for g in groups]
        _coef_panel(ax, [name(g) for g in groups], *zip(*vals))
        ax.set_xlabel(t["mech_x"].format(pct))
        default = t["het_title"]
        wald = results.wald or {}
        caption = cap.heterogeneity(
            lang,
            treatment=results.treatment,
            by=results.by,
            pct=pct,
            perm_p=float(results.perm_p) if results.perm_p is not None else float("nan"),
            wald_p=float(wald.get("p_F", wald.get("p_chi2", float("nan")))),
        )
    elif isinstance(results, r.ModerationResult):
        fig, ax = _new_figure(figsize or (6.0, 4.0), font)
        results.plot(ax=ax)
        names = dict(labels or {})
        ylabel = t["mod_y"].format(
            names.get(results.treatment, results.treatment), names.get(results.y, results.y)
        )
        # a long label would run past the axes: wrap it (CJK text has no spaces to wrap at)
        ax.set_ylabel("\n".join(textwrap.wrap(ylabel, 40)) if " " in ylabel else ylabel)
        ax.set_xlabel(names.get(results.moderator, results.moderator))
        default = t["mod_title"]
        caption = cap.moderation(
            lang,
            treatment=results.treatment,
            y=results.y,
            moderator=results.moderator,
            pct=_pct(results.level),
        )
    else:
        raise PilotdidError(
            f"mechanism_figure: {type(results).__name__} is not supported (pass a "
            "MediationResult, MechanismEffects, HeterogeneityResult or ModerationResult)"
        )
    fig.suptitle(_clean(title, font, default) or default)
    return _attach_caption(_finish(fig), caption)


@vocabulary()
def spatial_effects_figure(
    impacts: Any,
    *,
    variables: str | Sequence[str] | None = None,
    title: str | None = None,
    labels: Mapping[str, str] | None = None,
    level: float = 0.95,
    method: str = "delta",
    lang: str = "en",
    figsize: tuple[float, float] | None = None,
) -> Any:
    """LeSage-Pace direct, indirect and total effects with their intervals
    (``impacts.tidy(level, method=method)``): one panel per variable, each with its own x
    axis, so that a policy effect of 0.05 is not squashed by a control's effect of 5.

    ``variables``: which regressors to draw: a name or a list of names, ``"all"``, or None
    (default) for the first regressor alone, i.e. the policy variable when the model's
    formula lists it first (as the study does). ``labels`` maps names to display names. The
    caption is on ``figure_caption(fig)``."""
    from matplotlib.ticker import MaxNLocator

    from pilotdid.output import figure_captions as cap

    level = check_level(level)
    method = check_choice("method", method, ("delta", "simulation"))
    if figsize is not None:
        figsize = _check_figsize(figsize)
    labels = dict(labels or {})
    tab = impacts.tidy(level, method=method)
    terms = list(dict.fromkeys(tab["term"].to_list()))
    if variables is None:
        chosen = terms[:1]
    elif isinstance(variables, str) and variables == "all":
        chosen = terms
    else:
        asked = [variables] if isinstance(variables, str) else list(variables)
        unknown = [v for v in asked if v not in terms]
        if not asked or unknown:
            raise PilotdidError(
                f"option 'variables': {unknown or asked!r} not among the effects' regressors "
                f"{terms} (or pass 'all', or None for the first regressor)"
            )
        chosen = list(dict.fromkeys(asked))
    lang, font = _resolve_lang(lang, [title, *(labels.get(v) for v in chosen)])
    t = _TEXT[lang]
    ncols = min(len(chosen), 3)
    nrows = -(-len(chosen) // ncols)
    width = 4.6 if ncols == 1 else 3.4 * ncols
    fig = _new_grid(figsize or (width, 1.9 * nrows + 0.9), font, nrows, ncols)
    axes = fig.axes
    effects = ("direct", "indirect", "total")
    rows = np.arange(len(effects))[::-1].astype(float)
    reps = int(getattr(impacts, "reps", 0))
    use_sim = method == "simulation" and reps > 1
    xlabel = (
        t["spatial_x_sim"].format(_pct(level), reps)
        if use_sim
        else t["spatial_x_delta"].format(_pct(level))
    )
    for ax, var in zip(axes, chosen):
        for k, eff in enumerate(effects):
            row = tab.filter((tab["effect"] == eff) & (tab["term"] == var)).row(0, named=True)
            e, lo, hi = row["estimate"], row["conf_low"], row["conf_high"]
            ax.errorbar(
                [e],
                [rows[k]],
                xerr=[[e - lo], [hi - e]],
                fmt="os^"[k],
                capsize=3,
                color=f"C{k}",
                label=t[eff],
            )
        ax.axvline(0.0, color="grey", lw=0.8, ls="--")
        ax.set_yticks(rows)
        ax.set_yticklabels([t[eff] for eff in effects])
        ax.set_ylim(-0.6, len(effects) - 0.4)
        ax.set_title(_clean(labels.get(var, var), font, var) or var, fontsize="medium")
        ax.set_xlabel(xlabel, fontsize="small")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    for ax in axes[len(chosen) :]:
        ax.set_visible(False)
    fig.suptitle(_clean(title, font, t["spatial_title"]) or t["spatial_title"])
    caption = cap.spatial_effects(
        lang,
        variables=[labels.get(v, v) for v in chosen],
        others=[labels.get(v, v) for v in terms if v not in chosen],
        pct=_pct(level),
        method="simulation" if use_sim else "delta",
        reps=reps,
        percentiles=use_sim and abs(level - 0.95) < 1e-12,
    )
    return _attach_caption(_finish(fig), caption)


def _new_grid(figsize: tuple[float, float], font: str | None, nrows: int, ncols: int) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    # one shared y axis (the three effect types), a free x axis per panel
    fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    fig._pilotdid_font = font
    return fig


@vocabulary()
def weights_figure(
    W: Any,
    *,
    lat: Any = None,
    lon: Any = None,
    k: int | None = 3,
    labels: Sequence[str] | None = None,
    title: str | None = None,
    lang: str = "en",
    figsize: tuple[float, float] = (6.0, 6.0),
    max_edges: int | None = None,
) -> Any:
    """A map-free picture of W as a graph: units at their coordinates (``lon``, ``lat``)
    or, without coordinates, placed by a (deterministic) spring layout; a line i–j, darker
    and thicker for a larger w_ij + w_ji, when j is among the ``k`` strongest neighbours of
    row i or i among those of row j (default 3; ``k=None`` draws every non-zero pair, a
    hairball for a dense inverse-distance W). ``max_edges`` then keeps only the strongest
    lines. ``labels`` names the points when W has at most 60 units, at positions chosen so
    that no two names overlap (moved aside with a leader line where points crowd). The
    caption is on ``figure_caption(fig)``."""
    from matplotlib.collections import LineCollection

    from pilotdid.output import figure_captions as cap
    from pilotdid.output import figure_weights as fw

    figsize = _check_figsize(figsize)
    if max_edges is not None:
        max_edges = check_int("max_edges", max_edges, lo=0)
    if k is not None:
        k = check_int("k", k, lo=1, hi=1_000_000)

    if hasattr(W, "to_dense"):
        m = np.asarray(W.to_dense(), dtype=float)
    else:
        m = np.asarray(W, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise PilotdidError(f"weights_figure: W must be square, got shape {m.shape}")
    n = m.shape[0]
    if (lat is None) != (lon is None):
        raise PilotdidError(
            "weights_figure: options 'lat' and 'lon': give both coordinates or neither "
            "(neither: a spring layout)"
        )
    coordinates = lat is not None
    if coordinates:
        la = np.asarray(lat, dtype=float)
        lo = np.asarray(lon, dtype=float)
        if la.shape != (n,) or lo.shape != (n,):
            raise PilotdidError(
                f"weights_figure: lat/lon need {n} values (one per unit of W), got "
                f"{la.size} and {lo.size}"
            )
        if not (np.all(np.isfinite(la)) and np.all(np.isfinite(lo))):
            raise PilotdidError("weights_figure: lat/lon must be finite numbers")
        xy = np.column_stack([lo, la])
    else:
        if n > fw.SPRING_MAX_UNITS:
            raise PilotdidError(
                f"weights_figure: W has {n} units and no coordinates; the spring layout "
                f"handles at most {fw.SPRING_MAX_UNITS:,} units: pass lat= and lon="
            )
        xy = fw.spring_layout(m)
    if labels is not None:
        labels = [str(s) for s in labels]  # a list, a polars/pandas Series or an array
        if len(labels) != n:
            raise PilotdidError(f"option 'labels': {len(labels)} labels for {n} units")
    draw_labels = labels is not None and n <= fw.LABEL_MAX_UNITS
    lang, font = _resolve_lang(lang, [title, *(labels or [])])
    t = _TEXT[lang]
    if not np.all(np.isfinite(m)):
        raise PilotdidError("weights_figure: W has non-finite entries")

    iu, ju, wts = fw.strongest_edges(m, k)
    if max_edges is not None:
        iu, ju, wts = iu[:max_edges], ju[:max_edges], wts[:max_edges]
    # draw the strongest last (on top)
    iu, ju, wts = iu[::-1], ju[::-1], wts[::-1]

    fig, ax = _new_figure(figsize, font)
    if wts.size:
        rel = np.abs(wts) / np.abs(wts).max()
        segs = np.stack([xy[iu], xy[ju]], axis=1)
        colors = np.column_stack([np.full((rel.size, 3), 0.15), 0.25 + 0.65 * rel])
        ax.add_collection(LineCollection(segs, colors=colors, linewidths=0.5 + 1.5 * rel))
    marker = 16.0 if n <= 100 else 6.0
    ax.scatter(xy[:, 0], xy[:, 1], s=marker, color="C3", zorder=3, linewidths=0)
    span = np.ptp(xy, axis=0)
    pad = 0.06 * np.where(span > 0, span, 1.0)
    ax.set_xlim(xy[:, 0].min() - pad[0], xy[:, 0].max() + pad[0])
    ax.set_ylim(xy[:, 1].min() - pad[1], xy[:, 1].max() + pad[1])
    if coordinates:
        ax.set_aspect(1.0 / np.cos(np.deg2rad(float(np.mean(xy[:, 1])))))
        ax.set_xlabel(t["lon"])
        ax.set_ylabel(t["lat"])
    else:
        ax.set_aspect("equal")
        ax.set_axis_off()
    ax.set_title(_clean(title, font, t["w_title"]) or t["w_title"])
    leaders = False
    if draw_labels:
        # labels are placed against the final layout: compute it once, then freeze it
        _finish(fig)
        fig.draw_without_rendering()
        if hasattr(fig, "set_layout_engine"):
            fig.set_layout_engine("none")
        names = [_clean(str(s), font, str(i)) or str(i) for i, s in enumerate(labels or [])]
        texts = fw.place_labels(
            ax,
            xy,
            names,
            fontsize=6.5 if n > 30 else 7.5,
            marker_points=float(np.sqrt(marker)),
            font=font,
        )
        leaders = any(getattr(a, "arrow_patch", None) is not None for a in texts)
    caption = cap.weights(
        lang,
        n=n,
        coordinates=coordinates,
        k=k,
        shown=int(wts.size),
        total=fw.n_pairs(m),
        labelled=draw_labels,
        labels_given=labels is not None,
        leaders=leaders,
    )
    return _attach_caption(_finish(fig), caption)


# --------------------------------------------------------------------------------------------
# Saving
# --------------------------------------------------------------------------------------------

_METADATA = {
    "png": {"Software": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None, "ModDate": None},
    "svg": {"Creator": None, "Date": None},
}


@vocabulary()
def save_figure(
    fig: Any,
    path_without_suffix: str | Path,
    *,
    formats: Sequence[str] = ("png", "pdf"),
    dpi: int = 150,
) -> list[Path]:
    """Write ``fig`` once per format (``png``, ``pdf``, ``svg``) next to
    ``path_without_suffix`` and return the paths. The bytes depend only on the figure: the
    metadata carry no dates or software versions (SVG ids use a fixed hash salt). The
    figure's layout is computed once and then frozen (its layout engine is set to "none").

    The caption of a pilotdid figure is not drawn into the image (a paper sets it in its own
    font, under the figure): read it with ``figure_caption(fig)`` (``fig.pilotdid_caption``)
    and print it under the image, or paste it into LaTeX's ``\\caption{...}``."""
    import matplotlib

    dpi = check_int("dpi", dpi, lo=1, hi=10_000)
    if isinstance(formats, str):
        formats = (formats,)
    base = Path(path_without_suffix)
    # Run the (constrained) layout once and freeze it: re-running it at every save can move
    # artists by a fraction of a pixel, so two saves would differ.
    if getattr(fig, "get_layout_engine", None) and fig.get_layout_engine() is not None:
        fig.draw_without_rendering()
        fig.set_layout_engine("none")
    out = []
    for fmt in formats:
        f = str(fmt).lower().lstrip(".")
        if f not in _METADATA:
            raise PilotdidError(f"option 'formats': {fmt!r} (use 'png', 'pdf' or 'svg')")
        path = base.with_name(base.name + "." + f)
        path.parent.mkdir(parents=True, exist_ok=True)
        with matplotlib.rc_context({"svg.hashsalt": "pilotdid", "pdf.compression": 6}):
            fig.savefig(path, format=f, dpi=dpi, metadata=dict(_METADATA[f]))
        out.append(path)
    return out

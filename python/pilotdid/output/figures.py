"""Publication figures (matplotlib): event studies with several estimators overlaid, the
placebo distribution, the Bacon scatter, mechanism coefficient plots, spatial (LeSage-Pace)
effects and a map-free neighbour graph of a spatial weights matrix.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot's global state
(safe under the Agg backend, never shown). ``save_figure`` writes PNG/PDF whose bytes depend
only on the figure: no dates, no software versions in the metadata.

Chinese labels (``lang="zh"``, or Chinese text in labels you pass) need a CJK font; when none
is installed the figure falls back to English labels with a warning instead of drawing
empty boxes.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pilotdid._args import check_choice, check_int, check_level, vocabulary
from pilotdid._core import PilotdidError

__all__ = [
    "bacon_figure",
    "event_study_figure",
    "mechanism_figure",
    "placebo_figure",
    "save_figure",
    "spatial_effects_figure",
    "weights_figure",
]

#: Font families known to cover Chinese, in order of preference.
_CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Noto Serif CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
    "STHeiti",
    "SimSun",
    "AR PL UMing CN",
    "AR PL UKai CN",
)

_CJK_RE = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")

_TEXT = {
    "en": {
        "event_x": "Periods since treatment",
        "event_y": "Effect estimate",
        "event_title": "Event study",
        "placebo_x": "Placebo coefficient",
        "placebo_y": "Density",
        "placebo_hist": "placebo",
        "placebo_kde": "kernel density",
        "placebo_actual": "actual {:.4g}",
        "placebo_title": "Placebo test ({}), p = {:.3f}",
        "bacon_title": "Goodman-Bacon decomposition",
        "mech_a": "Effect of the treatment on the mediator",
        "mech_ind": "Indirect effect (a × b)",
        "mech_title": "Mechanisms",
        "mech_x": "Estimate ({}% CI)",
        "het_title": "Heterogeneity",
        "spatial_title": "Direct, indirect and total effects",
        "spatial_x": "Effect ({}% CI)",
        "direct": "Direct",
        "indirect": "Indirect",
        "total": "Total",
        "w_title": "Spatial weights: neighbour graph",
        "lon": "Longitude",
        "lat": "Latitude",
    },
    "zh": {
        "event_x": "相对政策实施的期数",
        "event_y": "估计效应",
        "event_title": "事件研究",
        "placebo_x": "安慰剂系数",
        "placebo_y": "密度",
        "placebo_hist": "安慰剂",
        "placebo_kde": "核密度",
        "placebo_actual": "真实估计 {:.4g}",
        "placebo_title": "安慰剂检验（{}），p = {:.3f}",
        "bacon_title": "Goodman-Bacon 分解",
        "mech_a": "政策对中介变量的影响",
        "mech_ind": "间接效应（a × b）",
        "mech_title": "机制分析",
        "mech_x": "估计值（{}%置信区间）",
        "het_title": "异质性分析",
        "spatial_title": "直接效应、间接效应与总效应",
        "spatial_x": "效应（{}%置信区间）",
        "direct": "直接效应",
        "indirect": "间接效应",
        "total": "总效应",
        "w_title": "空间权重：邻接关系图",
        "lon": "经度",
        "lat": "纬度",
    },
}


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def cjk_font() -> str | None:
    """The name of an installed font family that covers Chinese, or None."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for fam in _CJK_FAMILIES:
        if fam in names:
            return fam
    return None


def _resolve_lang(lang: str, texts: Sequence[str] = ()) -> tuple[str, str | None]:
    """(language actually used, CJK font family or None). Falls back to English (with a
    warning) when Chinese is requested or present in ``texts`` but no CJK font exists."""
    lang = check_choice("lang", lang, tuple(_TEXT))
    needs = lang == "zh" or any(_CJK_RE.search(str(t)) for t in texts if t is not None)
    if not needs:
        return lang, None
    font = cjk_font()
    if font is None:
        warnings.warn(
            "no CJK font is installed (e.g. Debian's fonts-noto-cjk): Chinese labels fall "
            "back to English",
            UserWarning,
            stacklevel=3,
        )
        return "en", None
    return lang, font


def _clean(text: str | None, font: str | None, fallback: str | None = None) -> str | None:
    """``text`` unless it holds Chinese characters and no CJK font is in use."""
    if text is None or font is not None or not _CJK_RE.search(str(text)):
        return text
    return fallback


def _new_figure(figsize: tuple[float, float], font: str | None, ncols: int = 1) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(1, ncols)
    # read by _finish: every text is set in the CJK font (DejaVu Sans for missing glyphs)
    fig._pilotdid_font = font
    return fig, axes


def _finish(fig: Any) -> Any:
    font = getattr(fig, "_pilotdid_font", None)
    if font is not None:
        for text in fig.findobj(lambda a: hasattr(a, "set_fontfamily")):
            text.set_fontfamily([font, "DejaVu Sans"])
    return fig


def _check_figsize(figsize: Any) -> tuple[float, float]:
    from pilotdid._args import check_float

    if isinstance(figsize, (str, bytes)) or not isinstance(figsize, Sequence) or len(figsize) != 2:
        raise PilotdidError(
            f"option 'figsize': expected (width, height) in inches, got {figsize!r}"
        )
    return (
        check_float("figsize[0]", figsize[0], lo=0.0, lo_open=True, hi=1000.0),
        check_float("figsize[1]", figsize[1], lo=0.0, lo_open=True, hi=1000.0),
    )


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


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


@vocabulary()
def event_study_figure(
    results: Any,
    *,
    title: str | None = None,
    labels: Sequence[str] | None = None,
    lang: str = "en",
    figsize: tuple[float, float] = (7.0, 4.0),
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> Any:
    """Several event studies overlaid (one error-bar series per estimator, shifted so the
    intervals do not overlap), a zero line and the start of treatment. ``results``: a list,
    or ``{legend label: result}``; each an EventStudyResult, SunAbrahamResult or dynamic
    AggteResult. Uniform bands are drawn when the estimator provides them."""
    from pilotdid.results.event_study import display_name, plot_event_studies

    figsize = _check_figsize(figsize)

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
    lang, font = _resolve_lang(lang, [title, xlabel, ylabel, *(legend or [])])
    t = _TEXT[lang]
    if legend is None:
        legend = [display_name(r.estimator) for r in es]
    legend = [_clean(s, font, display_name(r.estimator)) for s, r in zip(legend, es)]
    fig, ax = _new_figure(figsize, font)
    n = len(es)
    # estimators side by side within ±0.3 of each event time (never reaching the next one)
    offsets = [0.0] if n == 1 else [float(v) for v in np.linspace(-0.3, 0.3, n)]
    plot_event_studies(es, ax=ax, labels=legend, offsets=offsets)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(_clean(xlabel, font, t["event_x"]) or t["event_x"])
    ax.set_ylabel(_clean(ylabel, font, t["event_y"]) or t["event_y"])
    if len(es) == 1:
        ax.legend(frameon=False)
    ttl = _clean(title, font, t["event_title"])
    if ttl:
        ax.set_title(ttl)
    return _finish(fig)


@vocabulary()
def placebo_figure(
    placebo: Any,
    *,
    title: str | None = None,
    bins: int = 40,
    lang: str = "en",
    figsize: tuple[float, float] = (6.0, 4.0),
) -> Any:
    """Histogram and kernel density of the placebo coefficients; the actual estimate as a
    dashed vertical line."""
    bins = check_int("bins", bins, lo=1, hi=100_000)
    figsize = _check_figsize(figsize)
    lang, font = _resolve_lang(lang, [title])
    t = _TEXT[lang]
    actual, p_value = _placebo_numbers(placebo)
    fig, ax = _new_figure(figsize, font)
    default_title = t["placebo_title"].format(placebo.scheme, p_value)
    placebo.plot(ax=ax, bins=bins, title=_clean(title, font, default_title) or default_title)
    if lang != "en":
        ax.set_xlabel(f"{t['placebo_x']} ({placebo.treatment})")
        ax.set_ylabel(t["placebo_y"])
        handles, names = ax.get_legend_handles_labels()
        zh = {"placebo": t["placebo_hist"], "kernel density": t["placebo_kde"]}
        names = [
            zh.get(n, t["placebo_actual"].format(actual) if n.startswith("actual") else n)
            for n in names
        ]
        ax.legend(handles, names, frameon=False)
    return _finish(fig)


@vocabulary()
def bacon_figure(
    bacon: Any,
    *,
    title: str | None = None,
    lang: str = "en",
    figsize: tuple[float, float] = (7.0, 4.5),
) -> Any:
    """2×2 DID estimates against their weights, one marker per comparison type, with the
    TWFE coefficient as a dashed line."""
    figsize = _check_figsize(figsize)
    lang, font = _resolve_lang(lang, [title])
    t = _TEXT[lang]
    fig, ax = _new_figure(figsize, font)
    bacon.plot(ax=ax, title=_clean(title, font, t["bacon_title"]) or t["bacon_title"])
    return _finish(fig)


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
    ``labels`` maps mediator / group names to display names.
    """
    from pilotdid import results as r

    level = check_level(level)
    if figsize is not None:
        figsize = _check_figsize(figsize)
    labels = dict(labels or {})
    lang, font = _resolve_lang(lang, [title, *labels.values()])
    t = _TEXT[lang]
    pct = int(round(level * 100))

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
        for ax in (ax1, ax2):
            ax.set_xlabel(t["mech_x"].format(pct))
        default = t["mech_title"]
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
    elif isinstance(results, r.HeterogeneityResult):
        groups = list(results.fits)
        fig, ax = _new_figure(figsize or (6.0, 0.6 * len(groups) + 1.8), font)
        vals = [_fit_ci(results.fits[g], results.treatment, level) for g in groups]
        _coef_panel(ax, [name(g) for g in groups], *zip(*vals))
        ax.set_xlabel(t["mech_x"].format(pct))
        default = t["het_title"]
    elif isinstance(results, r.ModerationResult):
        fig, ax = _new_figure(figsize or (6.0, 4.0), font)
        results.plot(ax=ax)
        default = t["mech_title"]
    else:
        raise PilotdidError(
            f"mechanism_figure: {type(results).__name__} is not supported (pass a "
            "MediationResult, MechanismEffects, HeterogeneityResult or ModerationResult)"
        )
    fig.suptitle(_clean(title, font, default) or default)
    return _finish(fig)


@vocabulary()
def spatial_effects_figure(
    impacts: Any,
    *,
    title: str | None = None,
    labels: Mapping[str, str] | None = None,
    level: float = 0.95,
    method: str = "delta",
    lang: str = "en",
    figsize: tuple[float, float] | None = None,
) -> Any:
    """LeSage-Pace direct, indirect and total effects of each regressor with their CIs
    (``impacts.tidy(level, method=method)``): one error-bar series per effect type."""
    level = check_level(level)
    method = check_choice("method", method, ("delta", "simulation"))
    if figsize is not None:
        figsize = _check_figsize(figsize)
    labels = dict(labels or {})
    lang, font = _resolve_lang(lang, [title, *labels.values()])
    t = _TEXT[lang]
    tab = impacts.tidy(level, method=method)
    terms = list(dict.fromkeys(tab["term"].to_list()))
    fig, ax = _new_figure(figsize or (7.0, 0.8 * len(terms) + 2.0), font)
    y0 = np.arange(len(terms))[::-1].astype(float)
    for k, eff in enumerate(("direct", "indirect", "total")):
        sub = tab.filter(tab["effect"] == eff)
        pos = {term: i for i, term in enumerate(sub["term"].to_list())}
        idx = [pos[term] for term in terms]
        e = sub["estimate"].to_numpy()[idx]
        lo = sub["conf_low"].to_numpy()[idx]
        hi = sub["conf_high"].to_numpy()[idx]
        ax.errorbar(
            e,
            y0 + (1 - k) * 0.2,
            xerr=np.vstack([e - lo, hi - e]),
            fmt="os^"[k],
            capsize=3,
            color=f"C{k}",
            label=t[eff],
        )
    ax.axvline(0.0, color="grey", lw=0.8, ls="--")
    ax.set_yticks(y0)
    ax.set_yticklabels([_clean(labels.get(s, s), font, s) or s for s in terms])
    ax.set_xlabel(t["spatial_x"].format(int(round(level * 100))))
    ax.legend(frameon=False)
    ax.set_title(_clean(title, font, t["spatial_title"]) or t["spatial_title"])
    return _finish(fig)


@vocabulary()
def weights_figure(
    W: Any,
    *,
    lat: Any,
    lon: Any,
    labels: Sequence[str] | None = None,
    title: str | None = None,
    lang: str = "en",
    figsize: tuple[float, float] = (7.0, 6.0),
    max_edges: int | None = None,
) -> Any:
    """A map-free picture of W: units at their coordinates (lon, lat), an edge i–j for every
    non-zero w_ij + w_ji, darker and thicker for larger weights. ``max_edges`` keeps only the
    strongest edges (useful for dense inverse-distance W). ``labels`` names the points."""
    from matplotlib.collections import LineCollection

    figsize = _check_figsize(figsize)
    if max_edges is not None:
        max_edges = check_int("max_edges", max_edges, lo=0)

    if hasattr(W, "to_dense"):
        m = np.asarray(W.to_dense(), dtype=float)
    else:
        m = np.asarray(W, dtype=float)
    la = np.asarray(lat, dtype=float)
    lo = np.asarray(lon, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise PilotdidError(f"weights_figure: W must be square, got shape {m.shape}")
    if la.shape != (m.shape[0],) or lo.shape != (m.shape[0],):
        raise PilotdidError(
            f"weights_figure: lat/lon need {m.shape[0]} values (one per unit of W), got "
            f"{la.size} and {lo.size}"
        )
    if labels is not None and len(labels) != m.shape[0]:
        raise PilotdidError(f"option 'labels': {len(labels)} labels for {m.shape[0]} units")
    lang, font = _resolve_lang(lang, [title, *(labels or [])])
    t = _TEXT[lang]
    sym = m + m.T
    iu, ju = np.nonzero(np.triu(sym, k=1))
    wts = sym[iu, ju]
    order = np.lexsort((ju, iu, -wts))  # strongest first, ties by index: deterministic
    if max_edges is not None:
        order = order[:max_edges]
    order = order[::-1]  # draw the strongest last (on top)
    iu, ju, wts = iu[order], ju[order], wts[order]
    fig, ax = _new_figure(figsize, font)
    if wts.size:
        rel = wts / wts.max()
        segs = np.stack([np.column_stack([lo[iu], la[iu]]), np.column_stack([lo[ju], la[ju]])], 1)
        colors = np.column_stack([np.zeros((rel.size, 3)), 0.15 + 0.75 * rel])
        ax.add_collection(LineCollection(segs, colors=colors, linewidths=0.4 + 1.6 * rel))
    ax.scatter(lo, la, s=18, color="C3", zorder=3)
    if labels is not None:
        for i, s in enumerate(labels):
            txt = _clean(str(s), font, str(i))
            ax.annotate(txt, (lo[i], la[i]), xytext=(3, 3), textcoords="offset points", fontsize=7)
    ax.set_aspect(1.0 / np.cos(np.deg2rad(float(np.mean(la)))))
    ax.set_xlabel(t["lon"])
    ax.set_ylabel(t["lat"])
    ax.set_title(_clean(title, font, t["w_title"]) or t["w_title"])
    return _finish(fig)


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
    figure's layout is computed once and then frozen (its layout engine is set to "none")."""
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

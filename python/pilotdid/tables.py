"""Publication tables: ``etable`` (regression tables in the style of Stata's esttab and of
Chinese journals) and ``describe`` (descriptive statistics), rendered to LaTeX (booktabs),
HTML and Markdown.

Every number shown comes from the result objects themselves, through the result protocol
(``tidy()``, ``nobs`` and documented fit statistics); this module only selects, formats and
lays them out and computes no inference of its own (but for one marked transition shim). Each
result class has a small adapter (``_adapter_table``) that turns it into one or more uniform
``_Column`` records; the renderers never look at result classes.

LaTeX output uses plain ``tabular`` + ``booktabs`` (no threeparttable), so it compiles with
texlive-latex-base + booktabs. Chinese tables (``lang="zh"``) are plain UTF-8: the user's
document needs ``ctex`` (or ``xeCJK``) and XeLaTeX/LuaLaTeX to typeset them.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import polars as pl

from pilotdid._args import (
    check_bool,
    check_choice,
    check_columns,
    check_float,
    check_int,
    vocabulary,
)
from pilotdid._core import PilotdidError

__all__ = ["ETable", "describe", "etable"]

# --------------------------------------------------------------------------------------------
# Words
# --------------------------------------------------------------------------------------------


class _Rich(str):
    """A cell whose LaTeX form differs from its plain text (e.g. R² -> $R^2$)."""

    tex: str

    def __new__(cls, text: str, tex: str) -> _Rich:
        obj = super().__new__(cls, text)
        obj.tex = tex
        return obj


_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "controls": "Controls",
        "fe": "{} FE",
        "yes": "Yes",
        "no": "No",
        "constant": "Constant",
        "nobs": "Observations",
        "units": "Units",
        "r2": "R²",
        "r2_within": "Within R²",
        "clusters": "Clusters",
        "vcov": "Std. errors",
        "estimator": "Estimator",
        "reference": "Reference period",
        "placebo_p": "Placebo p-value",
        "placebo_reps": "Placebo replicates",
        "matching": "Matching",
        "step": "Step",
        "loglik": "Log-likelihood",
        "sigma2": "σ²",
        "draws": "Simulation draws",
        "group": "Group",
        "overall": "ATT",
        "event": "e = {}",
        "direct": "Direct",
        "indirect": "Indirect",
        "total": "Total",
        "step1": "1: total effect",
        "step2": "2: on mediator",
        "step3": "3: with mediator",
        "stars": "{} p<{}",
        "note_se": "Standard errors in parentheses.",
        "note_t": "t statistics in parentheses.",
        "note_p": "p-values in parentheses.",
        "note_ci": "{}% confidence intervals in brackets.",
        "note_placebo": "Placebo columns: randomization p-value in brackets.",
        "variable": "Variable",
        "N": "N",
        "mean": "Mean",
        "sd": "SD",
        "min": "Min",
        "max": "Max",
        "p25": "P25",
        "p50": "Median",
        "p75": "P75",
        "sep": ", ",
    },
    "zh": {
        "controls": "控制变量",
        "fe": "{}固定效应",
        "yes": "是",
        "no": "否",
        "constant": "常数项",
        "nobs": "观测值",
        "units": "个体数",
        "r2": "R²",
        "r2_within": "组内R²",
        "clusters": "聚类数",
        "vcov": "标准误类型",
        "estimator": "估计方法",
        "reference": "基期",
        "placebo_p": "安慰剂检验p值",
        "placebo_reps": "安慰剂重复次数",
        "matching": "匹配方法",
        "step": "步骤",
        "loglik": "对数似然值",
        "sigma2": "σ²",
        "draws": "模拟次数",
        "group": "组别",
        "overall": "ATT",
        "event": "第{}期",
        "direct": "直接效应",
        "indirect": "间接效应",
        "total": "总效应",
        "step1": "第一步：总效应",
        "step2": "第二步：中介变量",
        "step3": "第三步：加入中介变量",
        "stars": "{} p<{}",
        "note_se": "括号内为标准误。",
        "note_t": "括号内为t统计量。",
        "note_p": "括号内为p值。",
        "note_ci": "方括号内为{}%置信区间。",
        "note_placebo": "安慰剂检验列：方括号内为随机化p值。",
        "variable": "变量",
        "N": "观测值",
        "mean": "均值",
        "sd": "标准差",
        "min": "最小值",
        "max": "最大值",
        "p25": "25分位数",
        "p50": "中位数",
        "p75": "75分位数",
        "sep": "，",
    },
}

_TEX_WORDS = {
    "r2": {"en": "$R^2$", "zh": "$R^2$"},
    "r2_within": {"en": "Within $R^2$", "zh": "组内$R^2$"},
    "sigma2": {"en": r"$\sigma^2$", "zh": r"$\sigma^2$"},
}

#: Statistic rows in display order (keys of ``_Column.stats``); others follow, first seen.
_STAT_ORDER = (
    "step",
    "estimator",
    "nobs",
    "units",
    "r2",
    "r2_within",
    "clusters",
    "vcov",
    "reference",
    "placebo_p",
    "placebo_reps",
    "matching",
    "loglik",
    "sigma2",
    "draws",
)


def _words(lang: str) -> dict[str, str]:
    if lang not in _WORDS:
        raise PilotdidError(f"option 'lang': {lang!r} (use 'en' or 'zh')")
    return _WORDS[lang]


def _word(key: str, lang: str) -> str:
    text = _WORDS[lang].get(key, key)
    if key in _TEX_WORDS:
        return _Rich(text, _TEX_WORDS[key][lang])
    return text


# --------------------------------------------------------------------------------------------
# Uniform record of one table column
# --------------------------------------------------------------------------------------------


@dataclass
class _Coef:
    estimate: float
    std_error: float
    statistic: float
    p_value: float
    conf_low: float
    conf_high: float
    bracket: str | None = None  # text shown instead of the stat (placebo p-value)


@dataclass
class _Column:
    """One table column: coefficient rows (term -> _Coef, in model order), statistic rows
    (key -> value; floats are formatted with ``digits``), fixed effects (names, possibly
    ``a^b``), and a default title."""

    title: str
    coefs: dict[str, _Coef]
    stats: dict[str, Any] = field(default_factory=dict)
    fe: list[str] = field(default_factory=list)
    level: float = 0.95
    placebo: bool = False


def _coef_of_row(r: dict) -> _Coef:
    """A tidy-frame row (estimate, std_error, statistic, p_value, conf_low, conf_high)."""
    keys = ("estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high")
    return _Coef(*(float(r[k]) for k in keys))


def _from_tidy(t: pl.DataFrame, names: Sequence[str] | None = None) -> dict[str, _Coef]:
    terms = names if names is not None else t["term"].to_list()
    return {str(term): _coef_of_row(r) for term, r in zip(terms, t.iter_rows(named=True))}


def _follows_protocol(res: Any) -> bool:
    from pilotdid.results._protocol import ResultProtocol

    return isinstance(res, ResultProtocol)


def _own_level(res: Any) -> float:
    """The level a result's stored intervals were computed at (tables show those)."""
    level = getattr(res, "level", None)
    if isinstance(level, (int, float)) and 0 < level < 1:
        return float(level)
    alp = getattr(res, "alp", None)
    if isinstance(alp, (int, float)) and 0 < alp < 1:
        return 1.0 - float(alp)
    return 0.95


_INT_AT_END = re.compile(r"(-?\d+)\s*$")


def _event_times(res: Any, t: pl.DataFrame) -> list[int] | None:
    """Event times of an event study's tidy rows: its ``event_time`` column, else the result's
    ``event_time`` attribute (rows in that order), else the integer ending each term
    (``e=-2``, ``rel::-2``, ``-2``). None when they cannot be read."""
    if "event_time" in t.columns:
        return [int(e) for e in t["event_time"].to_list()]
    et = getattr(res, "event_time", None)
    if et is not None and len(et) == t.height:
        return [int(e) for e in et]
    out = []
    for term in t["term"].to_list():
        m = _INT_AT_END.search(str(term))
        if m is None:
            return None
        out.append(int(m.group(1)))
    return out


def _vcov_label(label: str, lang: str) -> str:
    if lang != "zh":
        return label
    low = label.lower()
    if low.startswith("cr") or "cluster" in low:
        return "聚类稳健"
    if low.startswith("hc") or "hetero" in low:
        return "异方差稳健"
    if low == "iid":
        return "普通"
    return label


def _adapt_feols(res: Any, lang: str) -> list[_Column]:
    stats: dict[str, Any] = {"nobs": res.nobs, "r2": res.r2}
    if res.r2_within is not None:
        stats["r2_within"] = res.r2_within
    if res.n_clusters:
        stats["clusters"] = " × ".join(str(n) for n in res.n_clusters)
    stats["vcov"] = _vcov_label(res.vcov_type, lang)
    return [_Column(res.depvar, _from_tidy(res.tidy(0.95)), stats, list(res.fixef))]


def _event_term(e: int) -> str:
    return f"e={int(e)}"


def _event_coefs(res: Any) -> dict[str, _Coef]:
    """Event-time rows ``e=k`` of an event study, from its own tidy() at its own level."""
    t = res.tidy(_own_level(res))
    times = _event_times(res, t)
    names = [_event_term(e) for e in times] if times is not None else None
    return _from_tidy(t, names)


def _adapt_event_study(res: Any, lang: str) -> list[_Column]:
    from pilotdid.results.event_study import display_name

    coefs = _event_coefs(res)
    stats: dict[str, Any] = {"estimator": display_name(res.estimator)}
    if res.nobs:
        # Callaway-Sant'Anna counts units (the n of its influence functions), not rows
        stats["units" if res.estimator == "cs" else "nobs"] = int(res.nobs)
    if "r2" in res.extra and res.extra["r2"] is not None:
        stats["r2"] = float(res.extra["r2"])
    nc = res.extra.get("n_clusters")
    if nc:
        stats["clusters"] = " × ".join(str(n) for n in (nc if isinstance(nc, list) else [nc]))
    if res.reference:
        stats["reference"] = ", ".join(str(int(r)) for r in res.reference)
    return [_Column(display_name(res.estimator), coefs, stats, [], level=_own_level(res))]


def _adapt_sunab(res: Any, lang: str) -> list[_Column]:
    coefs = _event_coefs(res)
    stats: dict[str, Any] = {"estimator": "Sun-Abraham", "nobs": res.nobs}
    if res.n_clusters:
        stats["clusters"] = " × ".join(str(n) for n in res.n_clusters)
    stats["vcov"] = _vcov_label(res.vcov_type, lang)
    if res.reference:
        stats["reference"] = ", ".join(str(int(r)) for r in res.reference)
    return [_Column("Sun-Abraham", coefs, stats, [], level=_own_level(res))]


_OVERALL_TERMS = ("att", "overall", "overall att", "average", "simple")


def _aggte_coefs(res: Any) -> dict[str, _Coef]:
    """An AggteResult's rows from its own tidy(): the overall ATT as ``ATT``; event times as
    ``e=k`` (dynamic), groups as ``g=k``, periods as ``t=k`` (read from the integer ending
    the term); other terms keep their names."""
    t = res.tidy(_own_level(res))
    if getattr(res, "type", "simple") != "simple" and hasattr(res, "overall"):
        top = res.overall(_own_level(res))
        t = pl.concat([top, t.select(top.columns)])
    prefix = {"dynamic": "e", "group": "g", "calendar": "t"}.get(getattr(res, "type", ""), "")
    names = []
    for term in t["term"].to_list():
        text = str(term)
        m = _INT_AT_END.search(text)
        if text.strip().lower() in _OVERALL_TERMS:
            names.append("ATT")
        elif prefix and m is not None:
            names.append(f"{prefix}={int(m.group(1))}")
        else:
            names.append(text)
    return _from_tidy(t, names)


def _adapt_aggte(res: Any, lang: str) -> list[_Column]:
    coefs = _aggte_coefs(res)
    stats = {"estimator": "Callaway-Sant'Anna", "units": res.n_units}
    return [_Column("Callaway-Sant'Anna", coefs, stats, [], level=_own_level(res))]


def _adapt_placebo(res: Any, lang: str) -> list[_Column]:
    row = res.tidy(0.95).row(0, named=True)
    term, actual, p = str(row["term"]), float(row["estimate"]), float(row["p_value"])
    finite = np.asarray(res.estimates)[np.isfinite(res.estimates)]
    nan = float("nan")
    coefs = {term: _Coef(actual, nan, nan, p, nan, nan, bracket=f"{p:.3f}")}
    stats = {"placebo_p": p, "placebo_reps": int(finite.size)}
    return [_Column("Placebo", coefs, stats, [], placebo=True)]


def _adapt_psm(res: Any, lang: str) -> list[_Column]:
    if res.did is None:
        raise PilotdidError("etable: this PsmDidResult has no DID regression (formula=None)")
    col = _adapt_feols(res.did, lang)[0]
    col.stats["matching"] = res.method
    col.title = "PSM-DID"
    return [col]


def _adapt_mediation(res: Any, lang: str) -> list[_Column]:
    w = _words(lang)
    cols = []
    total = _adapt_feols(res.total_fit, lang)[0]
    total.stats["step"] = w["step1"]
    cols.append(total)
    for m in res.mediators:
        a = _adapt_feols(res.a_fits[m], lang)[0]
        a.stats["step"] = w["step2"]
        cols.append(a)
    seen: set[int] = set()
    for m in res.mediators:
        fit = res.b_fits[m]
        if id(fit) in seen:
            continue
        seen.add(id(fit))
        b = _adapt_feols(fit, lang)[0]
        b.stats["step"] = w["step3"]
        cols.append(b)
    return cols


def _adapt_fits(fits: Mapping[str, Any], lang: str) -> list[_Column]:
    cols = []
    for name, fit in fits.items():
        for c in _adapt(fit, lang):
            c.title = str(name)
            cols.append(c)
    return cols


def _adapt_mechanism(res: Any, lang: str) -> list[_Column]:
    from pilotdid.results import FeolsResult

    step = _words(lang)["step2"]
    if all(isinstance(f, FeolsResult) for f in res.fits.values()):
        cols = _adapt_fits(res.fits, lang)
    else:
        # robust estimators (CS/SA/BJS/did2s): one column per mediator, the treatment's ATT
        # on it (tidy() names the mediator in ``term``)
        tab = res.tidy(0.95).rename({"term": "mediator"})
        cols = [
            _Column(str(r["mediator"]), {res.treatment: _coef_of_row(r)}, {}, [])
            for r in tab.iter_rows(named=True)
        ]
    for c in cols:
        c.stats["step"] = step
    return cols


def _adapt_moderation(res: Any, lang: str) -> list[_Column]:
    """The interacted regression; its generated names become readable terms:
    ``__d_x_z`` -> ``d:z``; categorical levels ``__z_i`` -> ``z=level``."""
    col = _adapt_feols(res.fit, lang)[0]
    d, z = res.treatment, res.moderator
    rename = {f"__{d}_x_{z}": f"{d}:{z}"}
    if res.categorical:
        for i, lv in enumerate(res.marginal_effects["at"].to_list()):
            rename[f"__{z}_{i}"] = f"{z}={lv}"
            rename[f"__{z}_{i}_x_{d}"] = f"{d}:{z}={lv}"
    col.coefs = {rename.get(k, k): v for k, v in col.coefs.items()}
    return [col]


def _adapt_heterogeneity(res: Any, lang: str) -> list[_Column]:
    cols = _adapt_fits(res.fits, lang)
    for c in cols:
        c.stats["group"] = c.title
    return cols


def _adapt_robustness(res: Any, lang: str) -> list[_Column]:
    return _adapt_fits(res.models, lang)


def _spatial_fe(res: Any) -> list[str]:
    unit = getattr(res, "unit", None) or "unit"
    time = getattr(res, "time", None) or "time"
    return {"individual": [unit], "time": [time], "twoways": [unit, time]}.get(res.effects, [])


def _adapt_spatial(res: Any, lang: str) -> list[_Column]:
    t = res.tidy(0.95).filter(pl.col("term") != "sigma2")
    stats: dict[str, Any] = {"nobs": res.nobs, "loglik": res.loglik, "sigma2": res.sigma2}
    return [_Column(res.model.upper(), _from_tidy(t), stats, _spatial_fe(res))]


def _adapt_impacts(res: Any, lang: str) -> list[_Column]:
    t = res.tidy(0.95)
    if "effect" in t.columns:  # rows named by (effect, term): "direct:x"
        names = [f"{e}:{term}" for e, term in zip(t["effect"].to_list(), t["term"].to_list())]
    else:  # terms already "direct:x"
        names = [str(term) for term in t["term"].to_list()]
    stats: dict[str, Any] = {"draws": res.draws} if res.draws > 1 else {}
    return [_Column("Effects", _from_tidy(t, names), stats, [])]


def _adapt_protocol(res: Any, lang: str) -> list[_Column]:
    """Any other result that follows the protocol: its tidy() rows and its nobs."""
    stats: dict[str, Any] = {}
    n = getattr(res, "nobs", None)
    if isinstance(n, (int, np.integer)):
        stats["nobs"] = int(n)
    title = type(res).__name__.removesuffix("Result")
    return [_Column(title, _from_tidy(res.tidy(_own_level(res))), stats, level=_own_level(res))]


def _adapter_table() -> dict[type, Callable[[Any, str], list[_Column]]]:
    from pilotdid import results as r

    return {
        r.FeolsResult: _adapt_feols,
        r.EventStudyResult: _adapt_event_study,
        r.SunAbrahamResult: _adapt_sunab,
        r.AggteResult: _adapt_aggte,
        r.PlaceboResult: _adapt_placebo,
        r.PsmDidResult: _adapt_psm,
        r.MediationResult: _adapt_mediation,
        r.MechanismEffects: _adapt_mechanism,
        r.ModerationResult: _adapt_moderation,
        r.HeterogeneityResult: _adapt_heterogeneity,
        r.RobustnessResult: _adapt_robustness,
        r.SpatialResult: _adapt_spatial,
        r.SpatialImpacts: _adapt_impacts,
    }


def _adapt(res: Any, lang: str) -> list[_Column]:
    table = _adapter_table()
    for cls in type(res).__mro__:
        if cls in table:
            return table[cls](res, lang)
    if _follows_protocol(res):
        return _adapt_protocol(res, lang)
    supported = ", ".join(sorted(c.__name__ for c in table))
    raise PilotdidError(
        f"etable: results of type {type(res).__name__} cannot be tabulated (supported: {supported})"
    )


# --------------------------------------------------------------------------------------------
# The table object
# --------------------------------------------------------------------------------------------


@dataclass
class _Grid:
    """A rendered table: header rows (cells with column spans), body sections (separated by a
    rule), notes. Every row has ``ncol`` columns counting spans."""

    ncol: int
    header: list[list[tuple[str, int]]]
    sections: list[list[list[str]]]
    notes: list[str]
    title: str | None
    #: header row index -> column spans to underline (cmidrule), 1-based inclusive
    rules: dict[int, list[tuple[int, int]]] = field(default_factory=dict)


_TEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    # OT1 (LaTeX's default font encoding) prints < > | as ¡ ¿ —
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}
_TEX_RE = re.compile("|".join(re.escape(k) for k in _TEX_SPECIAL))


def _tex(s: str) -> str:
    if isinstance(s, _Rich):
        return s.tex
    return _TEX_RE.sub(lambda m: _TEX_SPECIAL[m.group(0)], str(s))


def _md(s: str) -> str:
    return str(s).replace("|", r"\|").replace("\n", " ")


class ETable:
    """A publication table. ``to_latex()``, ``to_html()``, ``to_markdown()`` (also ``str()``),
    ``save(path)`` by suffix; ``frame`` holds the cell strings (first column ``variable``, then
    one column per model)."""

    def __init__(
        self, grid: _Grid, frame: pl.DataFrame, keys: list[tuple[str, str]] | None = None
    ) -> None:
        self._grid = grid
        self.frame = frame
        #: per row of ``frame``: (kind, key) with kind "coef" (key = term), "stat" (the
        #: parenthesised line under term key), "controls", "fe" (key = row label) or
        #: "stat_row" (key = statistic, e.g. "nobs")
        self.row_keys: list[tuple[str, str]] = list(keys or [])

    # --- LaTeX ---------------------------------------------------------------------------
    def to_latex(self, *, booktabs: bool = True, float_env: bool = False) -> str:
        g = self._grid
        top, mid, bottom = (
            (r"\toprule", r"\midrule", r"\bottomrule") if booktabs else (r"\hline",) * 3
        )
        lines: list[str] = []
        if float_env:
            lines += [r"\begin{table}[htbp]", r"\centering"]
            if g.title:
                lines.append(rf"\caption{{{_tex(g.title)}}}")
        elif g.title:
            lines.append(rf"% {g.title}")
        lines += [rf"\begin{{tabular}}{{l{'c' * (g.ncol - 1)}}}", top]
        for i, row in enumerate(g.header):
            cells = [
                _tex(t) if span == 1 else rf"\multicolumn{{{span}}}{{c}}{{{_tex(t)}}}"
                for t, span in row
            ]
            lines.append(" & ".join(cells) + r" \\")
            spans = g.rules.get(i)
            if spans:
                if booktabs:
                    lines.append(" ".join(rf"\cmidrule(lr){{{a}-{b}}}" for a, b in spans))
                else:
                    lines.append(" ".join(rf"\cline{{{a}-{b}}}" for a, b in spans))
        for sec in g.sections:
            lines.append(mid)
            for row in sec:
                lines.append(" & ".join(_tex(c) for c in row) + r" \\")
        lines.append(bottom)
        for note in g.notes:
            lines.append(rf"\multicolumn{{{g.ncol}}}{{l}}{{\footnotesize {_tex(note)}}} \\")
        lines.append(r"\end{tabular}")
        if float_env:
            lines.append(r"\end{table}")
        return "\n".join(lines) + "\n"

    # --- HTML ----------------------------------------------------------------------------
    def to_html(self) -> str:
        g = self._grid
        e = html.escape
        rule = "border-top:1px solid #000;"
        out = [
            '<table class="pilotdid-etable" style="border-collapse:collapse;'
            'border-top:2px solid #000;border-bottom:2px solid #000;">'
        ]
        if g.title:
            out.append(f"<caption>{e(g.title)}</caption>")
        out.append("<thead>")
        for row in g.header:
            cells = []
            for j, (t, span) in enumerate(row):
                sp = f' colspan="{span}"' if span > 1 else ""
                align = "left" if j == 0 else "center"
                cells.append(
                    f'<th{sp} style="text-align:{align};padding:2px 8px;">{e(str(t))}</th>'
                )
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</thead>")
        out.append("<tbody>")
        for sec in g.sections:
            for k, row in enumerate(sec):
                style = rule if k == 0 else ""
                cells = []
                for j, c in enumerate(row):
                    align = "left" if j == 0 else "center"
                    cells.append(
                        f'<td style="{style}text-align:{align};padding:2px 8px;">{e(str(c))}</td>'
                    )
                out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</tbody>")
        if g.notes:
            out.append("<tfoot>")
            for k, note in enumerate(g.notes):
                style = rule if k == 0 else ""
                out.append(
                    f'<tr><td colspan="{g.ncol}" style="{style}text-align:left;'
                    f'font-size:smaller;padding:2px 8px;">{e(note)}</td></tr>'
                )
            out.append("</tfoot>")
        out.append("</table>")
        return "\n".join(out) + "\n"

    def _repr_html_(self) -> str:
        return self.to_html()

    # --- Markdown ------------------------------------------------------------------------
    def to_markdown(self) -> str:
        g = self._grid
        lines: list[str] = []
        if g.title:
            lines += [f"**{_md(g.title)}**", ""]
        expanded = []
        for row in g.header:
            cells = []
            for t, span in row:
                cells += [str(t)] * span
            expanded.append(cells)
        first, rest = expanded[0], expanded[1:]
        lines.append("| " + " | ".join(_md(c) for c in first) + " |")
        lines.append("|" + "|".join([":---"] + [":---:"] * (g.ncol - 1)) + "|")
        for row in rest:
            lines.append("| " + " | ".join(_md(c) for c in row) + " |")
        for sec in g.sections:
            for row in sec:
                lines.append("| " + " | ".join(_md(c) for c in row) + " |")
        if g.notes:
            lines.append("")
            lines += [_md(n) for n in g.notes]
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.to_markdown()

    def __repr__(self) -> str:
        return self.to_markdown()

    def save(self, path: str | Path) -> None:
        """Write the table; the format follows the suffix (.tex, .html/.htm, .md)."""
        p = Path(path)
        suffix = p.suffix.lower()
        if suffix == ".tex":
            text = self.to_latex()
        elif suffix in (".html", ".htm"):
            text = self.to_html()
        elif suffix in (".md", ".markdown"):
            text = self.to_markdown()
        else:
            raise PilotdidError(
                f"ETable.save: unknown file suffix {suffix!r} in {str(path)!r} "
                "(use .tex, .html or .md)"
            )
        p.write_text(text, encoding="utf-8", newline="\n")


# --------------------------------------------------------------------------------------------
# etable
# --------------------------------------------------------------------------------------------


def _regexes(x: list[str] | str | None, option: str) -> list[re.Pattern[str]]:
    if x is None:
        return []
    if not isinstance(x, (str, Sequence)) or isinstance(x, bytes):
        raise PilotdidError(
            f"option '{option}': expected a regular expression or a list of them, got {x!r}"
        )
    items = [x] if isinstance(x, str) else list(x)
    out = []
    for s in items:
        if not isinstance(s, str):
            raise PilotdidError(
                f"option '{option}': expected regular expressions (strings), got {s!r}"
            )
        try:
            out.append(re.compile(s))
        except re.error as err:
            raise PilotdidError(
                f"option '{option}': invalid regular expression {s!r}: {err}"
            ) from None
    return out


_EVENT_RE = re.compile(r"e=(-?\d+)")


def _sort_event_terms(terms: list[str]) -> list[str]:
    """Event-time rows (``e=k``) from several estimators form one block sorted by k, placed
    where the first of them appears."""
    ev = [t for t in terms if _EVENT_RE.fullmatch(t)]
    if not ev:
        return terms
    ev_sorted = sorted(ev, key=lambda t: int(t[2:]))
    out: list[str] = []
    for t in terms:
        if _EVENT_RE.fullmatch(t):
            if t == ev[0]:
                out += ev_sorted
        else:
            out.append(t)
    return out


def _term_label(term: str, labels: Mapping[str, str], lang: str) -> str:
    if term in labels:
        return labels[term]
    if term in ("Intercept", "(Intercept)", "const", "_cons"):
        return _WORDS[lang]["constant"]
    m = re.fullmatch(r"e=(-?\d+)", term)
    if m:
        return _WORDS[lang]["event"].format(m.group(1))
    m = re.fullmatch(r"(direct|indirect|total):(.*)", term)
    if m:
        return f"{_WORDS[lang][m.group(1)]}: {_term_label(m.group(2), labels, lang)}"
    m = re.fullmatch(r"W\*(.*)", term)
    if m:
        return f"W×{_term_label(m.group(1), labels, lang)}"
    if ":" in term:
        return " × ".join(_term_label(p, labels, lang) for p in term.split(":"))
    return term


def _fe_label(fe: str, labels: Mapping[str, str], lang: str) -> str:
    parts = [labels.get(p.strip(), p.strip()) for p in fe.split("^")]
    return _WORDS[lang]["fe"].format("×".join(parts))


def _fmt(x: float, digits: int) -> str:
    if x is None or not math.isfinite(x):
        return ""
    s = f"{x:.{digits}f}"
    if float(s) == 0.0 and s.startswith("-"):
        s = s[1:]
    return s


def _star(p: float, stars: Sequence[float] | None) -> str:
    if not stars or p is None or not math.isfinite(p):
        return ""
    return "*" * sum(1 for t in stars if p < t)


def _stat_cell(key: str, v: Any, digits: int) -> str:
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return _fmt(float(v), digits)
    return str(v)


@vocabulary()
def etable(
    results: Sequence[Any] | Mapping[str, Any] | Any,
    *,
    labels: Mapping[str, str] | None = None,
    keep: list[str] | str | None = None,
    drop: list[str] | str | None = None,
    order: list[str] | None = None,
    stat: str = "se",
    stars: tuple[float, ...] | None = (0.10, 0.05, 0.01),
    digits: int = 3,
    lang: str = "en",
    controls: list[str] | None = None,
    model_names: list[str] | None = None,
    title: str | None = None,
    notes: str | None = None,
    fe_rows: bool = True,
    stats_rows: Sequence[str] | None = None,
) -> ETable:
    """A regression table over any mix of results, in the style of Stata's ``esttab``.

    ``results``: a list of results, or ``{column title: result}``. Supported: FeolsResult,
    EventStudyResult / SunAbrahamResult (rows ``e=-2``, ``e=0`` … labelled "e = k"),
    AggteResult (row ``ATT``; dynamic: also event-time rows), PlaceboResult (the actual
    estimate, randomization p-value in brackets), PsmDidResult (its DID regression),
    MediationResult (one column per step: total effect, each a-path, each b-path regression),
    MechanismEffects / HeterogeneityResult / RobustnessResult (one column per fit),
    ModerationResult (its interacted regression), SpatialResult (coefficients incl. ``W*x``
    and ``rho``) and SpatialImpacts (rows ``direct:x``, ``indirect:x``, ``total:x``).

    Rows are matched by the result's term names; ``keep``/``drop``/``order`` are regular
    expressions (``re.search``) on those names (``keep`` also orders: rows in the order of
    the patterns). ``labels`` maps term names and fixed-effect names to display labels
    (``{"city": "城市"}`` gives the row "城市固定效应" with ``lang="zh"``). ``controls``:
    these terms are not shown; one "Controls: Yes/No" row says whether a model has any.
    ``stat``: "se", "t", "p" or "ci" (the result's own interval, at the level it was computed
    at; the note says which) under each coefficient. Stars: ``*`` per threshold the p-value is
    below (default 0.1/0.05/0.01). Every number is the result's own, read through the result
    protocol (``tidy()``: feols, Sun-Abraham and event studies with a t distribution use
    Student t on their df; spatial models and CS aggregations the normal); a CS aggregation's
    overall row comes from its ``overall()``. Any other result that follows the protocol is
    tabulated from its ``tidy()`` and ``nobs``; tables compute no inference of their own.
    ``stats_rows`` restricts the statistic rows to these keys (``nobs``, ``r2``,
    ``r2_within``, ``clusters``, ``vcov``, ``estimator``, ...), in that order.
    """
    lang = check_choice("lang", lang, tuple(_WORDS))
    w = _words(lang)
    labels = _check_labels(labels)
    stat = check_choice("stat", stat, ("se", "t", "p", "ci"))
    digits = check_int("digits", digits, lo=0, hi=15)
    fe_rows = check_bool("fe_rows", fe_rows)
    if stars is not None:
        if isinstance(stars, (str, bytes)) or not isinstance(stars, Sequence):
            raise PilotdidError(
                f"option 'stars': expected a tuple of p-value thresholds such as "
                f"(0.10, 0.05, 0.01), or None, got {stars!r}"
            )
        stars = tuple(
            sorted(
                (
                    check_float(f"stars[{i}]", s, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
                    for i, s in enumerate(stars)
                ),
                reverse=True,
            )
        )
    controls = check_columns("controls", controls) if controls is not None else None
    if model_names is not None and (
        isinstance(model_names, (str, bytes)) or not isinstance(model_names, Sequence)
    ):
        raise PilotdidError(f"option 'model_names': expected a list of names, got {model_names!r}")
    if stats_rows is not None:
        stats_rows = check_columns("stats_rows", stats_rows)
    title = _check_text("title", title)
    notes = _check_text("notes", notes)

    if isinstance(results, Mapping):
        items = [(str(k), v) for k, v in results.items()]
    elif isinstance(results, (list, tuple)):
        items = [(None, v) for v in results]
    else:
        items = [(None, results)]
    if not items:
        raise PilotdidError("etable: no results given")

    cols: list[_Column] = []
    for name, res in items:
        sub = _adapt(res, lang)
        if name is not None:
            for c in sub:
                c.title = name if len(sub) == 1 else f"{name}: {c.title}"
        cols += sub
    if model_names is not None:
        if len(model_names) != len(cols):
            raise PilotdidError(
                f"option 'model_names': {len(model_names)} names for {len(cols)} columns"
            )
        for c, n in zip(cols, model_names):
            c.title = str(n)

    # --- rows -------------------------------------------------------------------------------
    terms: list[str] = []
    seen: set[str] = set()
    for c in cols:
        for t in c.coefs:
            if t not in seen:
                seen.add(t)
                terms.append(t)
    terms = _sort_event_terms(terms)
    ctrl_set: set[str] = set()
    if controls:
        ctrl_pats = _regexes(list(controls), "controls")
        for t in terms:
            if t in controls or any(p.fullmatch(t) for p in ctrl_pats):
                ctrl_set.add(t)
        terms = [t for t in terms if t not in ctrl_set]
    keep_p = _regexes(keep, "keep")
    if keep_p:
        kept: list[str] = []
        for p in keep_p:
            kept += [t for t in terms if p.search(t) and t not in kept]
        terms = kept
    drop_p = _regexes(drop, "drop")
    terms = [t for t in terms if not any(p.search(t) for p in drop_p)]
    order_p = _regexes(order, "order")
    if order_p:
        first: list[str] = []
        for p in order_p:
            first += [t for t in terms if p.search(t) and t not in first]
        terms = first + [t for t in terms if t not in first]

    ncol = len(cols) + 1
    coef_rows: list[list[str]] = []
    frame_rows: list[tuple[str, str, list[str]]] = []  # (kind, label, cells)
    any_placebo = any(c.placebo for c in cols)
    for t in terms:
        lab = _term_label(t, labels, lang)
        top, under = [lab], [""]
        for c in cols:
            co = c.coefs.get(t)
            if co is None:
                top.append("")
                under.append("")
                continue
            top.append(_fmt(co.estimate, digits) + _star(co.p_value, stars))
            if co.bracket is not None:
                under.append(f"[{co.bracket}]")
            elif stat == "se":
                under.append(f"({_fmt(co.std_error, digits)})")
            elif stat == "t":
                under.append(f"({_fmt(co.statistic, digits)})")
            elif stat == "p":
                under.append(f"({_fmt(co.p_value, digits)})")
            else:
                under.append(f"[{_fmt(co.conf_low, digits)}, {_fmt(co.conf_high, digits)}]")
        coef_rows += [top, under]
        frame_rows += [("coef", t, top[1:]), ("stat", t, under[1:])]

    # --- indicator and statistic rows ----------------------------------------------------------
    ind_rows: list[list[str]] = []
    if controls:
        row = [w["controls"]] + [
            w["yes"] if any(t in ctrl_set for t in c.coefs) else w["no"] for c in cols
        ]
        ind_rows.append(row)
        frame_rows.append(("controls", "controls", row[1:]))
    if fe_rows:
        fe_labels: list[str] = []
        for c in cols:
            for f in c.fe:
                lab = _fe_label(f, labels, lang)
                if lab not in fe_labels:
                    fe_labels.append(lab)
        for lab in fe_labels:
            row = [lab] + [
                w["yes"] if any(_fe_label(f, labels, lang) == lab for f in c.fe) else w["no"]
                for c in cols
            ]
            ind_rows.append(row)
            frame_rows.append(("fe", lab, row[1:]))

    keys: list[str] = []
    if stats_rows is not None:
        keys = list(stats_rows)
    else:
        present = {k for c in cols for k in c.stats}
        keys = [k for k in _STAT_ORDER if k in present]
        for c in cols:
            keys += [k for k in c.stats if k not in keys]
    stat_rows: list[list[str]] = []
    for k in keys:
        if not any(k in c.stats for c in cols):
            continue
        row = [_word(k, lang)] + [
            _stat_cell(k, c.stats[k], digits) if k in c.stats else "" for c in cols
        ]
        stat_rows.append(row)
        frame_rows.append(("stat_row", k, row[1:]))

    # --- header ------------------------------------------------------------------------------
    numbers = [("", 1)] + [(f"({i + 1})", 1) for i in range(len(cols))]
    titles: list[tuple[str, int]] = [("", 1)]
    rules: list[tuple[int, int]] = []
    j = 0
    while j < len(cols):
        k = j
        while k + 1 < len(cols) and cols[k + 1].title == cols[j].title:
            k += 1
        span = k - j + 1
        titles.append((cols[j].title, span))
        if span > 1:
            rules.append((j + 2, k + 2))
        j = k + 1
    # Titles that only repeat the column numbers (or are all empty) would print a second,
    # redundant header row: drop it.
    redundant = all(c.title in ("", f"({i + 1})") for i, c in enumerate(cols))
    header = [numbers] if redundant else [numbers, titles]

    note_lines: list[str] = []
    if stat == "se":
        note_lines.append(w["note_se"])
    elif stat == "t":
        note_lines.append(w["note_t"])
    elif stat == "p":
        note_lines.append(w["note_p"])
    else:
        # each column shows its result's own intervals: say at which level(s)
        pcts = sorted({round(c.level * 100, 6) for c in cols})
        note_lines.append(w["note_ci"].format("/".join(f"{p:g}" for p in pcts)))
    if stars:
        parts = [w["stars"].format("*" * (i + 1), f"{s:g}") for i, s in enumerate(stars)]
        note_lines[0] += " " + w["sep"].join(parts) + ("." if lang == "en" else "。")
    if any_placebo:
        note_lines.append(w["note_placebo"])
    if notes:
        note_lines += [n for n in str(notes).split("\n") if n]

    sections = [s for s in (coef_rows, ind_rows, stat_rows) if s]
    grid = _Grid(ncol, header, sections, note_lines, title, rules={} if redundant else {1: rules})

    frame = pl.DataFrame(
        {
            "variable": [_frame_label(kind, key, labels, lang) for kind, key, _ in frame_rows],
            **{f"({i + 1})": [cells[i] for _, _, cells in frame_rows] for i in range(len(cols))},
        },
        schema={"variable": pl.String, **{f"({i + 1})": pl.String for i in range(len(cols))}},
    )
    keys_out = [(kind, key) for kind, key, _ in frame_rows]
    return ETable(grid, frame, keys_out)


def _check_labels(labels: Any) -> dict[str, str]:
    if labels is None:
        return {}
    if not isinstance(labels, Mapping):
        raise PilotdidError(
            f"option 'labels': expected a dict {{name: label}}, got {type(labels).__name__}"
        )
    return {str(k): str(v) for k, v in labels.items()}


def _check_text(name: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise PilotdidError(f"option '{name}': expected a string or None, got {value!r}")


def _frame_label(kind: str, key: str, labels: Mapping[str, str], lang: str) -> str:
    if kind == "coef":
        return _term_label(key, labels, lang)
    if kind == "stat":
        return ""
    if kind == "controls":
        return _WORDS[lang]["controls"]
    if kind == "fe":
        return key
    return str(_word(key, lang))


# --------------------------------------------------------------------------------------------
# describe
# --------------------------------------------------------------------------------------------

_DESCRIBE_STATS = ("N", "mean", "sd", "min", "max", "p25", "p50", "p75")


@vocabulary()
def describe(
    data: Any,
    *,
    columns: Sequence[str] | str | None = None,
    labels: Mapping[str, str] | None = None,
    lang: str = "en",
    digits: int = 3,
    stats: Sequence[str] = ("N", "mean", "sd", "min", "max"),
    title: str | None = None,
    notes: str | None = None,
) -> ETable:
    """Descriptive statistics, one row per variable: ``N`` (non-missing, finite values), mean,
    ``sd`` (ddof = 1), min, max and optionally ``p25``/``p50``/``p75`` (numpy's linear
    interpolation, R type 7). ``columns`` defaults to every numeric column. Missing and
    non-finite values are excluded per variable (so N can differ across rows)."""
    from pilotdid import _frame

    _frame.check_data(data)
    lang = check_choice("lang", lang, tuple(_WORDS))
    w = _words(lang)
    labels = _check_labels(labels)
    if isinstance(stats, str) or not isinstance(stats, Sequence):
        raise PilotdidError(f"option 'stats': expected a list of statistics, got {stats!r}")
    for st in stats:
        check_choice("stats", st, _DESCRIBE_STATS)
    digits = check_int("digits", digits, lo=0, hi=15)
    title = _check_text("title", title)
    notes = _check_text("notes", notes)
    if columns is None:
        if isinstance(data, pl.DataFrame):
            names = [c for c, t in data.schema.items() if t.is_numeric()]
        elif hasattr(data, "select_dtypes"):
            names = [str(c) for c in data.select_dtypes("number").columns]
        else:
            raise PilotdidError("describe: pass 'columns' for data that is not a DataFrame")
    else:
        names = check_columns("columns", columns)
    if not names:
        raise PilotdidError("describe: no numeric columns to describe")
    df = _frame.to_polars(data, names)
    rows = []
    for name in names:
        s = df.get_column(name)
        if not s.dtype.is_numeric() and s.dtype != pl.Boolean:
            raise PilotdidError(f"column '{name}': describe needs a numeric column, got {s.dtype}")
        x = s.cast(pl.Float64).drop_nulls().to_numpy()
        x = x[np.isfinite(x)]
        vals: dict[str, str] = {}
        n = x.size
        for st in stats:
            if st == "N":
                vals[st] = str(n)
            elif n == 0 or (st == "sd" and n < 2):
                vals[st] = ""
            elif st == "mean":
                vals[st] = _fmt(float(np.mean(x)), digits)
            elif st == "sd":
                vals[st] = _fmt(float(np.std(x, ddof=1)), digits)
            elif st == "min":
                vals[st] = _fmt(float(np.min(x)), digits)
            elif st == "max":
                vals[st] = _fmt(float(np.max(x)), digits)
            else:
                q = {"p25": 25, "p50": 50, "p75": 75}[st]
                vals[st] = _fmt(float(np.percentile(x, q)), digits)
        rows.append([labels.get(name, name)] + [vals[s] for s in stats])
    header = [[(w["variable"], 1)] + [(w[s], 1) for s in stats]]
    note_lines = [n for n in str(notes).split("\n") if n] if notes else []
    grid = _Grid(len(stats) + 1, header, [rows], note_lines, title)
    frame = pl.DataFrame(
        {
            "variable": [r[0] for r in rows],
            **{s: [r[i + 1] for r in rows] for i, s in enumerate(stats)},
        },
        schema_overrides={"variable": pl.String},
    )
    return ETable(grid, frame)

"""Publication tables: ``etable`` (regression tables in the style of Stata's esttab and of
Chinese journals), rendered to LaTeX (booktabs), HTML and Markdown.

Every number shown comes from the result objects through the result protocol (see
:mod:`pilotdid.output._adapters`); this module only selects, formats and lays them out.

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
from typing import Any

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
from pilotdid.output._adapters import _adapt, _Column
from pilotdid.output._text import _STAT_ORDER, _WORDS, _md, _tex, _word, _words

__all__ = ["ETable", "etable"]


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

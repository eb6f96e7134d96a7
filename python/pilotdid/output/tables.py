"""Publication tables: ``etable`` (regression tables in the style of Stata's esttab and of
Chinese journals), rendered to LaTeX (booktabs), HTML and Markdown.

Every number shown comes from the result objects through the result protocol (see
:mod:`pilotdid.output._adapters`); this module only selects, formats and lays them out.
Numbers are formatted by :mod:`pilotdid.output.numbers` (fixed point, never ``0.000`` for a
non-zero estimate, never scientific notation).

LaTeX output is a ``table`` float with ``\\caption`` and ``\\label``, a booktabs ``tabular``
and its notes in a ``threeparttable`` (notes wrap to the table's width). The document needs
``\\usepackage{booktabs, threeparttable}`` (and ``pdflscape`` for a table laid out landscape
because it is too wide for the page); each file says which in its first line. Chinese tables
(``lang="zh"``) need XeLaTeX (or LuaLaTeX) and ``\\usepackage{ctex}``.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

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
from pilotdid.output import numbers
from pilotdid.output._adapters import _adapt, _Coef, _Column, _vcov_label
from pilotdid.output._layout import A4_TEXT_HEIGHT, A4_TEXT_WIDTH, SIZES, fit
from pilotdid.output._text import (
    _STAT_ORDER,
    _WORDS,
    _md,
    _Rich,
    _tex,
    _tex_cell,
    _word,
    _words,
)

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
    #: the dependent variable of each data column ("" unknown); None: no such row
    depvar: list[str] | None = None
    caption: str | None = None
    label: str | None = None
    lang: str = "en"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _groups(cells: Sequence[str]) -> list[tuple[str, int, int]]:
    """Runs of equal neighbouring cells: (text, first index, span)."""
    out: list[tuple[str, int, int]] = []
    for j, c in enumerate(cells):
        if out and out[-1][0] == c:
            out[-1] = (c, out[-1][1], out[-1][2] + 1)
        else:
            out.append((c, j, 1))
    return out


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

    @property
    def title(self) -> str | None:
        return self._grid.title

    def _with_note(self, note: str) -> ETable:
        """A copy with one more note line (the study report marks synthetic data so)."""
        grid = replace(self._grid, notes=[*self._grid.notes, note])
        return ETable(grid, self.frame, self.row_keys)

    # --- header rows shared by LaTeX and HTML ---------------------------------------------
    def _header(self) -> tuple[list[list[tuple[str, int]]], dict[int, list[tuple[int, int]]]]:
        """Header rows with the dependent-variable row first (one "Dependent variable: y"
        over all columns, or "Dependent variable:" then one cell per run of equal outcomes)
        and the rows to underline. No rule under the last header row: \\midrule follows."""
        g = self._grid
        rows: list[list[tuple[str, int]]] = []
        rules: dict[int, list[tuple[int, int]]] = {}
        if g.depvar is not None:
            w = _WORDS[g.lang]
            runs = _groups(g.depvar)
            colon = "：" if g.lang == "zh" else ":"
            if len(runs) == 1 and runs[0][0]:
                rows.append(
                    [
                        ("", 1),
                        (f"{w['depvar']}{colon} {runs[0][0]}".replace("： ", "："), g.ncol - 1),
                    ]
                )
                rules[0] = [(2, g.ncol)]
            else:
                rows.append([(w["depvar"] + colon, 1)] + [(t, n) for t, _, n in runs])
                rules[0] = [(j + 2, j + n + 1) for t, j, n in runs if t]
        off = len(rows)
        rows += g.header
        for i, spans in g.rules.items():
            if spans:
                rules[i + off] = spans
        rules.pop(len(rows) - 1, None)
        return rows, rules

    # --- LaTeX ---------------------------------------------------------------------------
    def to_latex(
        self,
        *,
        caption: str | None = None,
        label: str | None = None,
        booktabs: bool = True,
        float_env: bool = True,
        size: str | None = None,
        landscape: bool | None = None,
        text_width: float = A4_TEXT_WIDTH,
    ) -> str:
        """LaTeX: a ``table`` float (``float_env=False``: the ``threeparttable`` alone, to
        place yourself) with ``\\caption`` (default: the title) and ``\\label`` (default:
        ``tab:`` + the title in lower case with dashes), a booktabs ``tabular`` (``booktabs=
        False``: ``\\hline``) and the notes in a ``tablenotes`` block that wraps.

        Fitting the page: ``text_width`` (pt; default A4 with 2.5 cm margins, 455 pt) is the
        width the table must fit. Long headers wrap onto several lines first; then the font
        steps down (``\\small``, ``\\footnotesize``); then the table turns landscape
        (``pdflscape``'s ``landscape``; the page height with the same margins). ``size``
        (``"normalsize"``, ``"small"``, ``"footnotesize"``, ``"scriptsize"``) and
        ``landscape`` (True/False) fix those choices instead."""
        g = self._grid
        if size is not None:
            size = check_choice("size", size, tuple(SIZES))
        if landscape is not None:
            landscape = check_bool("landscape", landscape)
        text_width = check_float("text_width", text_width, lo=50.0, hi=5000.0)
        caption = _check_text("caption", caption) if caption is not None else g.caption
        label = _check_text("label", label) if label is not None else g.label
        if caption is None:
            caption = g.title
        if label is None and caption:
            slug = _slug(caption)
            label = f"tab:{slug}" if slug else None
        header, rules = self._header()
        body = [row for sec in g.sections for row in sec]
        # a bare table cannot turn the page: only a float can
        height = A4_TEXT_HEIGHT * text_width / A4_TEXT_WIDTH
        layout = fit(
            header,
            body,
            g.ncol,
            text_width_pt=text_width,
            text_height_pt=height,
            size=size,
            landscape=landscape if float_env else False,
            lang=g.lang,
        )
        top, mid, bottom = (
            (r"\toprule", r"\midrule", r"\bottomrule") if booktabs else (r"\hline",) * 3
        )
        packages = ["booktabs"] if booktabs else []
        packages.append("threeparttable")
        if layout.landscape:
            packages.append("pdflscape")
        first = f"% pilotdid table: \\usepackage{{{', '.join(packages)}}}"
        if g.lang == "zh":
            first += "; Chinese: XeLaTeX with \\usepackage{ctex}"
        lines: list[str] = [first]
        if g.title and not float_env:
            lines.append(f"% {_comment(g.title)}")
        if layout.landscape:
            lines.append(r"\begin{landscape}")
        if float_env:
            lines += [r"\begin{table}[htbp]", r"\centering"]
        else:
            lines.append(r"\begingroup")
        if layout.size != "normalsize":
            lines.append(f"\\{layout.size}")
        if float_env and caption:
            lines.append(rf"\caption{{{_tex(caption)}}}")
        if float_env and label:
            lines.append(rf"\label{{{label}}}")
        lines.append(r"\begin{threeparttable}")
        lines += [rf"\begin{{tabular}}{{l{'c' * (g.ncol - 1)}}}", top]
        for i, row in enumerate(header):
            cells = []
            for k, (_text, span) in enumerate(row):
                text = _header_tex(layout.header_lines[i][k], left=(k == 0))
                cells.append(text if span == 1 else rf"\multicolumn{{{span}}}{{c}}{{{text}}}")
            lines.append(_row(cells))
            spans = rules.get(i)
            if spans:
                if booktabs:
                    lines.append(" ".join(rf"\cmidrule(lr){{{a}-{b}}}" for a, b in spans))
                else:
                    lines.append(" ".join(rf"\cline{{{a}-{b}}}" for a, b in spans))
        for sec in g.sections:
            lines.append(mid)
            for row in sec:
                lines.append(_row([_tex_cell(c) for c in row]))
        lines.append(bottom)
        lines.append(r"\end{tabular}")
        if g.notes:
            # ragged right: a narrow table's notes would otherwise stretch their spaces
            lines += [r"\begin{tablenotes}[flushleft]", r"\footnotesize\raggedright"]
            lines += [rf"\item[] {_tex(n)}" for n in g.notes]
            lines.append(r"\end{tablenotes}")
        lines.append(r"\end{threeparttable}")
        lines.append(r"\end{table}" if float_env else r"\endgroup")
        if layout.landscape:
            lines.append(r"\end{landscape}")
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
        header, rules = self._header()
        for i, row in enumerate(header):
            under = {a for a, _ in rules.get(i, [])}
            cells = []
            col = 1
            for j, (t, span) in enumerate(row):
                sp = f' colspan="{span}"' if span > 1 else ""
                align = "left" if j == 0 else "center"
                # the rules of the LaTeX table, and no others (a page's CSS may draw some)
                ruled = col in under or i == len(header) - 1
                line = f"border-bottom:{'1px solid #000' if ruled else 'none'};"
                cells.append(
                    f'<th{sp} style="text-align:{align};padding:2px 8px;{line}">{e(str(t))}</th>'
                )
                col += span
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
                    f'font-size:smaller;padding:2px 8px;">{e(str(note))}</td></tr>'
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
        if g.depvar is not None:
            expanded.append([_WORDS[g.lang]["depvar"], *g.depvar])
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


def _row(cells: list[str]) -> str:
    """One tabular row. A row that starts with "[" would be read as the optional argument
    of the previous row's \\\\: it starts with {} instead."""
    line = " & ".join(cells)
    return ("{}" + line if line.startswith("[") else line) + r" \\"


def _comment(text: str) -> str:
    return " ".join(str(text).split())


def _header_tex(lines: list[str], *, left: bool) -> str:
    """One header cell: its lines stacked in a nested tabular when it wraps."""
    if len(lines) == 1:
        return _tex_cell(lines[0])
    align = "l" if left else "c"
    inner = r"\\{}".join(_tex_cell(s) for s in lines)  # {}: a line starting "[" is no option
    return rf"\begin{{tabular}}[b]{{@{{}}{align}@{{}}}}{inner}\end{{tabular}}"


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
    if term in _GREEK:
        return _GREEK[term]
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


#: spatial parameters shown by their symbols
_GREEK = {"rho": "ρ", "lambda": "λ", "sigma2": "σ²"}


def _fe_label(fe: str, labels: Mapping[str, str], lang: str) -> str:
    parts = [labels.get(p.strip(), p.strip()) for p in fe.split("^")]
    return _WORDS[lang]["fe"].format("×".join(parts))


def _fmt(x: float, digits: int) -> str:
    """A number for a table cell (:func:`pilotdid.output.numbers.number`)."""
    return numbers.number(x, digits)


def _star(p: float, stars: Sequence[float] | None) -> str:
    if not stars or p is None or not math.isfinite(p):
        return ""
    return "*" * sum(1 for t in stars if p < t)


def _stat_cell(key: str, v: Any, digits: int, stats: Mapping[str, Any] | None = None) -> str:
    if key == "placebo_p" and stats is not None:
        return numbers.rand_pvalue(v, stats.get("placebo_reps"), digits)
    if isinstance(v, tuple):  # an interval: both ends with the decimals they need
        dec = numbers.decimals_for([x for x in v if math.isfinite(x)], digits)
        lo = numbers.fixed(v[0], dec) if math.isfinite(v[0]) else "−∞"
        hi = numbers.fixed(v[1], dec) if math.isfinite(v[1]) else "∞"
        return f"[{lo}, {hi}]"
    return numbers.number(v, digits) if not isinstance(v, str) else v


def _se_phrase(vcov: str, clusters: str | None, labels: Mapping[str, str], lang: str) -> str:
    """How the standard errors were computed, in words: "clustered by city (41 clusters)"."""
    w = _WORDS[lang]
    m = re.fullmatch(r"CR1 by (.+)", vcov)
    if m:
        names = w["and"].join(labels.get(v, v) for v in m.group(1).split(" and "))
        return (
            w["se_cluster"].format(names, clusters) if clusters else w["se_cluster_n"].format(names)
        )
    if vcov == "HC1":
        return w["se_hc1"]
    if vcov == "iid":
        return w["se_iid"]
    text = vcov
    if lang == "zh":  # the estimators describe themselves in English; the common words
        text = re.sub(r",? clustered by (\S+)", r"，聚类到\1层面", text)
        text = re.sub(r"multiplier bootstrap \((\d+) draws\)", r"乘数自助法（\1次）", text)
        text = text.replace("influence function", "影响函数")
    if clusters and "cluster" in vcov:
        return f"{text} ({clusters} clusters)" if lang == "en" else f"{text}，{clusters}个聚类"
    return text


#: a per-column "Std. errors" row holds labels up to this long; longer ones go to the notes
_SHORT_VCOV = 16


def _se_notes(
    cols: list[_Column], stat: str, labels: Mapping[str, str], lang: str
) -> tuple[str | None, set[str]]:
    """The sentence on standard errors and the statistic rows it replaces. Said once when
    every column computed them the same way (with the cluster count when that is common too;
    else the "Clusters" row stays); one clause per column when the descriptions are too long
    for a row; else nothing (the per-column "Std. errors" and "Clusters" rows stay)."""
    w = _WORDS[lang]
    key = "note_se_with" if stat == "se" else "note_se_is"
    known = [(c.vcov, c.n_clusters) for c in cols if c.vcov]
    if not known:
        return None, set()
    if len(known) == len(cols) and len({v for v, _ in known}) == 1:
        same_count = len({n for _, n in known}) == 1
        phrase = _se_phrase(known[0][0], known[0][1] if same_count else None, labels, lang)
        return w[key].format(phrase), {"vcov", "clusters"} if same_count else {"vcov"}
    shown = [_vcov_label(c.vcov, lang) for c in cols if c.vcov]
    if all(len(v) <= _SHORT_VCOV for v in shown):
        return None, set()
    sep = "; " if lang == "en" else "；"
    parts = [
        f"({i + 1}) {_se_phrase(c.vcov, c.n_clusters, labels, lang)}"
        for i, c in enumerate(cols)
        if c.vcov
    ]
    per_column = "note_se_cols" if stat == "se" else "note_se_is"
    return w[per_column].format(sep.join(parts)), {"vcov", "clusters"}


def _stars_note(stars: Sequence[float], lang: str) -> _Rich:
    """ "* p<0.1, ** p<0.05, *** p<0.01." with superscript stars in LaTeX."""
    w = _WORDS[lang]
    texts, texs = [], []
    for i, s in enumerate(stars):
        mark = "*" * (i + 1)
        texts.append(w["stars"].format(mark, f"{s:g}"))
        texs.append(_tex(w["stars"].format("\x00", f"{s:g}")).replace("\x00", f"$^{{{mark}}}$"))
    end = "." if lang == "en" else "。"
    return _Rich(w["sep"].join(texts) + end, _tex(w["sep"]).join(texs) + end)


def _unit_values(co: _Coef, stat: str) -> list[float]:
    """An estimate and the numbers shown in its units under it."""
    if co.bracket is not None or stat in ("t", "p"):
        return [co.estimate]
    if stat == "ci":
        return [co.estimate, co.conf_low, co.conf_high]
    return [co.estimate, co.std_error]


def _scaled_note(k: int, lang: str) -> _Rich:
    """What "(×10³)" after a row label means."""
    w = _WORDS[lang]
    power = numbers.power_text(k)
    text = w["note_scaled"].format(power, f"10{power[3:]}")
    tex = _tex(w["note_scaled"].format("\x00", "\x01"))
    return _Rich(text, tex.replace("\x00", numbers.power_tex(k)).replace("\x01", f"$10^{{{k}}}$"))


def _join_note(first: str, second: str | _Rich) -> str | _Rich:
    text = f"{first} {second}"
    return _Rich(text, f"{_tex(first)} {_tex(second)}")


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
    y: str | Sequence[str] | None = None,
    caption: str | None = None,
    label: str | None = None,
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
    the patterns). ``labels`` maps term names, outcome names and fixed-effect names to display
    labels (``{"city": "城市"}`` gives the row "城市固定效应" with ``lang="zh"``).
    ``controls``: these terms are not shown; one "Controls: Yes/No" row says whether a model
    has any. ``stat``: "se", "t", "p" or "ci" (the result's own interval, at the level it was
    computed at; the note says which) under each coefficient. Stars: ``*`` per threshold the
    p-value is below (default 0.1/0.05/0.01). Every number is the result's own, read through
    the result protocol (``tidy()``: feols, Sun-Abraham and event studies with a t
    distribution use Student t on their df; spatial models and CS aggregations the normal); a
    CS aggregation's overall row comes from its ``overall()``. Any other result that follows
    the protocol is tabulated from its ``tidy()`` and ``nobs``; tables compute no inference
    of their own. ``stats_rows`` restricts the statistic rows to these keys (``nobs``,
    ``r2``, ``r2_within``, ``clusters``, ``vcov``, ``estimator``, ...), in that order.

    Layout: a "Dependent variable" row heads the columns (``y``: the outcome of columns whose
    result does not name it, such as event studies and placebo tests; a string for all of
    them or a list with one entry per column). How the standard errors were computed (and the
    number of clusters) is said once in the notes when every column computed them the same
    way; otherwise each column has its "Std. errors" and "Clusters" rows. Numbers: ``digits``
    decimals, more where a non-zero estimate or standard error would print as 0.000; a row
    that would need more than two extra decimals is multiplied by a power of ten and marked
    ``(×10³)`` (the note says so); p-values below 0.001 print as ``<0.001``. ``caption`` and
    ``label`` are the LaTeX ``\\caption`` and ``\\label`` (default: the title and ``tab:`` +
    the title as a slug); :meth:`ETable.to_latex` can override both.
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
    caption = _check_text("caption", caption)
    label = _check_text("label", label)

    if hasattr(results, "etable_columns"):  # a multiple estimation (FeolsMulti) titles its own
        items = list(results.etable_columns())
    elif isinstance(results, Mapping):
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
    if y is not None:
        ys = [y] * len(cols) if isinstance(y, str) else check_columns("y", y)
        if len(ys) != len(cols):
            raise PilotdidError(f"option 'y': {len(ys)} outcomes for {len(cols)} columns")
        for c, yc in zip(cols, ys):
            if isinstance(y, str):
                c.depvar = c.depvar or yc
            else:
                c.depvar = yc

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
    frame_labels: list[str] = []
    any_placebo = any(c.placebo for c in cols)
    scaled: list[int] = []
    for t in terms:
        present = [c.coefs[t] for c in cols if t in c.coefs]
        # one scale per row (its label says so); decimals per cell: an estimate and the
        # numbers in its units under it (standard error, interval bounds) share them
        k = numbers.scale_for([v for co in present for v in _unit_values(co, stat)], digits)
        f = 10.0**k
        lab = _term_label(t, labels, lang)
        if k:
            scaled.append(k)
            lab = _Rich(f"{lab} ({numbers.power_text(k)})", f"{_tex(lab)} ({numbers.power_tex(k)})")
        top, under = [lab], [""]
        for c in cols:
            co = c.coefs.get(t)
            if co is None:
                top.append("")
                under.append("")
                continue
            dec = numbers.decimals_for([v * f for v in _unit_values(co, stat)], digits)
            top.append(numbers.fixed(co.estimate * f, dec) + _star(co.p_value, stars))
            if co.bracket is not None:
                under.append(f"[{co.bracket}]")
            elif stat == "se":
                under.append(f"({numbers.fixed(co.std_error * f, dec)})")
            elif stat == "t":
                under.append(f"({numbers.number(co.statistic, digits)})")
            elif stat == "p":
                under.append(f"({numbers.pvalue(co.p_value, digits)})")
            else:
                lo, hi = numbers.fixed(co.conf_low * f, dec), numbers.fixed(co.conf_high * f, dec)
                under.append(f"[{lo}, {hi}]")
        coef_rows += [top, under]
        frame_rows += [("coef", t, top[1:]), ("stat", t, under[1:])]
        frame_labels += [str(lab), ""]

    # --- indicator and statistic rows ----------------------------------------------------------
    ind_rows: list[list[str]] = []
    if controls:
        row = [w["controls"]] + [
            w["yes"] if any(t in ctrl_set for t in c.coefs) else w["no"] for c in cols
        ]
        ind_rows.append(row)
        frame_rows.append(("controls", "controls", row[1:]))
        frame_labels.append(w["controls"])
    if fe_rows:
        fe_labels: list[str] = []
        for c in cols:
            for fe in c.fe:
                lab = _fe_label(fe, labels, lang)
                if lab not in fe_labels:
                    fe_labels.append(lab)
        for lab in fe_labels:
            row = [lab] + [
                w["yes"] if any(_fe_label(fe, labels, lang) == lab for fe in c.fe) else w["no"]
                for c in cols
            ]
            ind_rows.append(row)
            frame_rows.append(("fe", lab, row[1:]))
            frame_labels.append(lab)

    se_note, se_rows_noted = _se_notes(cols, stat, labels, lang)
    keys: list[str] = []
    if stats_rows is not None:
        keys = list(stats_rows)
    else:
        present_keys = {k for c in cols for k in c.stats}
        keys = [k for k in _STAT_ORDER if k in present_keys]
        for c in cols:
            keys += [k for k in c.stats if k not in keys]
        keys = [k for k in keys if k not in se_rows_noted]
        # a row that repeats each column's title says nothing new ("Estimator" under
        # estimator names, "Group" under group names)
        keys = [k for k in keys if not all(c.stats[k] == c.title for c in cols if k in c.stats)]
        keys = [k for k in keys if k != "placebo_reps"]  # shown with the placebo p-value
    stat_rows: list[list[str]] = []
    for k in keys:
        if not any(k in c.stats for c in cols):
            continue
        row = [_word(k, lang)] + [
            _stat_cell(k, c.stats[k], digits, c.stats) if k in c.stats else "" for c in cols
        ]
        stat_rows.append(row)
        frame_rows.append(("stat_row", k, row[1:]))
        frame_labels.append(str(_word(k, lang)))

    # --- header ------------------------------------------------------------------------------
    depvars = [labels.get(c.depvar, c.depvar) if c.depvar else "" for c in cols]
    show_depvar = any(depvars)
    numbers_row = [("", 1)] + [(f"({i + 1})", 1) for i in range(len(cols))]
    shown_titles = [
        "" if show_depvar and c.depvar and c.title in (c.depvar, depvars[i]) else c.title
        for i, c in enumerate(cols)
    ]
    titles: list[tuple[str, int]] = [("", 1)]
    rules: list[tuple[int, int]] = []
    for text, j, span in _groups(shown_titles):
        titles.append((text, span))
        if span > 1 and text:
            rules.append((j + 2, j + span + 1))
    # Titles that only repeat the column numbers or the outcome (or are all empty) would
    # print a redundant header row: drop it.
    redundant = all(t in ("", f"({i + 1})") for i, t in enumerate(shown_titles))
    header = [numbers_row] if redundant else [titles, numbers_row]

    note_lines: list[str] = []
    if stat == "se":
        note_lines.append(se_note or w["note_se"])
    elif stat == "t":
        note_lines.append(w["note_t"])
    elif stat == "p":
        note_lines.append(w["note_p"])
    else:
        # each column shows its result's own intervals: say at which level(s)
        pcts = sorted({round(c.level * 100, 6) for c in cols})
        note_lines.append(w["note_ci"].format("/".join(f"{p:g}" for p in pcts)))
    if stat != "se" and se_note:
        note_lines[0] = f"{note_lines[0]} {se_note}"
    if stars:
        note_lines[0] = _join_note(note_lines[0], _stars_note(stars, lang))
    if any_placebo:
        note_lines.append(w["note_placebo"])
    note_lines += [_scaled_note(k, lang) for k in sorted(set(scaled))]
    for c in cols:
        note_lines += [n for n in c.notes if n not in note_lines]
    if notes:
        note_lines += [n for n in str(notes).split("\n") if n]

    sections = [s for s in (coef_rows, ind_rows, stat_rows) if s]
    grid = _Grid(
        ncol,
        header,
        sections,
        note_lines,
        title,
        rules={} if redundant else {0: rules},
        depvar=depvars if show_depvar else None,
        caption=caption,
        label=label,
        lang=lang,
    )

    frame = pl.DataFrame(
        {
            "variable": frame_labels,
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

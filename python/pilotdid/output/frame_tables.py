"""Summary tables from tidy frames (the report's placebo, Bacon, balance, heterogeneity,
moderation, wild-bootstrap and spatial-effects tables): one renderer for LaTeX, HTML and
Markdown (an :class:`~pilotdid.output.tables.ETable`), readable headers from one label
dictionary (English and Chinese), and the number formatting of every paper table
(:mod:`pilotdid.output.numbers`).

No numbers are computed here: the cells are the frame's values, formatted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from pilotdid._core import PilotdidError
from pilotdid.output import numbers
from pilotdid.output._text import _WORDS, _Rich, _tex, column_label
from pilotdid.output.tables import (
    ETable,
    _Grid,
    _join_note,
    _scaled_note,
    _star,
    _stars_note,
    _term_label,
)

# Internal to pilotdid (the study report uses it); the public tables are etable and describe.
__all__: list[str] = []

#: column kinds: how a column's cells are formatted
KINDS = ("text", "label", "int", "number", "estimate", "p", "rand_p", "ci")

_P_NAMES = {"p_value", "p_before", "p_after", "wald_p", "p", "p_F", "p_chi2"}
_RAND_P_NAMES = {"perm_p", "rand_p", "boot_p"}
_ESTIMATE_NAMES = {
    "estimate",
    "std_error",
    "delta_se",
    "conf_low",
    "conf_high",
    "avg_est",
    "sim_mean",
    "sim_sd",
    "sim_low",
    "sim_high",
    "placebo_mean",
    "placebo_sd",
    "placebo_q025",
    "placebo_median",
    "placebo_q975",
}
#: columns in the estimate's units that share its decimals within a row
_SHARED = {"estimate", "std_error", "delta_se", "conf_low", "conf_high"}
_LABEL_NAMES = {"term", "variable", "covariate", "by", "mediator"}


@dataclass(frozen=True)
class Col:
    """One column of a summary table.

    ``name``: the frame column (``ci``: the lower bound's column, ``high`` the upper).
    ``kind``: "text" (as is), "label" (through the labels: variable names), "int",
    "number" (``digits`` decimals, more if it would print as zero), "estimate" (numbers in
    the units of the estimate; one row's estimates share their decimals), "p" (``<0.001``),
    "rand_p" (randomization/bootstrap p as computed, with ``(R = reps)``; ``reps`` is a
    column name or a number), "ci" (``[low, high]``). ``header``: the header text (default:
    the label dictionary's word for ``name``)."""

    name: str
    kind: str = "auto"
    header: str | None = None
    high: str | None = None
    reps: str | int | None = None


def _kind(frame: pl.DataFrame, name: str) -> str:
    if name in _P_NAMES:
        return "p"
    if name in _RAND_P_NAMES:
        return "rand_p"
    if name in _ESTIMATE_NAMES:
        return "estimate"
    if name in _LABEL_NAMES:
        return "label"
    dtype = frame.schema[name]
    if dtype.is_integer():
        return "int"
    if dtype.is_numeric():
        return "number"
    return "text"


def _cols(frame: pl.DataFrame, columns: Sequence[str | Col] | None) -> list[Col]:
    specs = [c if isinstance(c, Col) else Col(str(c)) for c in (columns or frame.columns)]
    out = []
    for c in specs:
        for name in (c.name, c.high):
            if name is not None and name not in frame.columns:
                raise PilotdidError(
                    f"frame_table: column '{name}' is not in the frame "
                    f"(columns: {', '.join(frame.columns)})"
                )
        if isinstance(c.reps, str) and c.reps not in frame.columns:
            raise PilotdidError(f"frame_table: reps column '{c.reps}' is not in the frame")
        kind = c.kind if c.kind != "auto" else ("ci" if c.high else _kind(frame, c.name))
        if kind not in KINDS:
            raise PilotdidError(f"frame_table: column kind {kind!r} (use one of {KINDS})")
        out.append(Col(c.name, kind, c.header, c.high, c.reps))
    return out


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def frame_table(
    frame: pl.DataFrame,
    *,
    columns: Sequence[str | Col] | None = None,
    labels: Mapping[str, str] | None = None,
    lang: str = "en",
    digits: int = 3,
    level: float = 0.95,
    title: str | None = None,
    caption: str | None = None,
    label: str | None = None,
    notes: Sequence[str] | str | None = None,
) -> ETable:
    """A summary frame as a paper table: one row per frame row, the ``columns`` chosen (all
    by default) with readable headers (``labels`` first, then the label dictionary, never
    snake_case) and the shared number formatting. Variable names in "label" columns
    (``term``, ``covariate``, ...) are shown through ``labels`` too."""
    if lang not in _WORDS:
        raise PilotdidError(f"option 'lang': {lang!r} (use 'en' or 'zh')")
    labels = dict(labels or {})
    specs = _cols(frame, columns)
    header = [
        (c.header if c.header is not None else _header(c, labels, lang, level), 1) for c in specs
    ]
    rows: list[list[str]] = []
    for r in frame.iter_rows(named=True):
        # the estimate, its standard error and interval share their decimals; other numbers
        # get their own (a placebo mean of -0.00034 does not stretch the estimate's)
        unit = [r[c.name] for c in specs if c.kind == "ci" or c.name in _SHARED]
        unit += [r[c.high] for c in specs if c.kind == "ci" and c.high]
        dec = numbers.decimals_for([v for v in unit if _finite(v)], digits)
        cells = []
        for c in specs:
            v = r[c.name]
            if c.kind == "text":
                cells.append("" if v is None else str(v))
            elif c.kind == "label":
                cells.append("" if v is None else _term_label(str(v), labels, lang))
            elif c.kind == "int":
                cells.append("" if v is None else numbers.number(v, digits))
            elif c.kind == "number":
                cells.append(numbers.number(v, digits) if _finite(v) else "")
            elif c.kind == "estimate" and c.name in _SHARED:
                cells.append(numbers.fixed(v, dec))
            elif c.kind == "estimate":
                cells.append(numbers.number(v, digits) if _finite(v) else "")
            elif c.kind == "p":
                cells.append(numbers.pvalue(v, digits))
            elif c.kind == "rand_p":
                reps = r[c.reps] if isinstance(c.reps, str) else c.reps
                cells.append(numbers.rand_pvalue(v, reps, digits))
            else:  # ci
                lo, hi = numbers.fixed(v, dec), numbers.fixed(r[c.high], dec)
                cells.append(f"[{lo}, {hi}]" if lo and hi else "")
        rows.append(cells)
    return _table(header, rows, lang, title, caption, label, notes)


def _header(c: Col, labels: Mapping[str, str], lang: str, level: float) -> str:
    if c.kind == "ci":
        return column_label("ci", lang).format(f"{level * 100:g}")
    return column_label(c.name, lang, dict(labels))


def _note_lines(notes: Sequence[str] | str | None) -> list[str]:
    if notes is None:
        return []
    items = [notes] if isinstance(notes, (str, _Rich)) else list(notes)
    return [n for n in items if n]


def _table(
    header: list[tuple[str, int]],
    rows: list[list[str]],
    lang: str,
    title: str | None,
    caption: str | None,
    label: str | None,
    notes: Sequence[str] | str | None,
) -> ETable:
    ncol = len(header)
    grid = _Grid(
        ncol,
        [header],
        [rows],
        _note_lines(notes),
        title,
        caption=caption,
        label=label,
        lang=lang,
    )
    names = [f"c{j}" for j in range(ncol)]
    frame = pl.DataFrame(
        {n: [r[j] for r in rows] for j, n in enumerate(names)},
        schema={n: pl.String for n in names},
    )
    frame.columns = _unique([str(t) for t, _ in header])
    return ETable(grid, frame)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        k = seen.get(n, 0)
        seen[n] = k + 1
        out.append(n if k == 0 else f"{n} ({k + 1})")
    return out


def balance_table(
    balance: pl.DataFrame,
    *,
    labels: Mapping[str, str] | None = None,
    lang: str = "en",
    digits: int = 3,
    title: str | None = None,
    caption: str | None = None,
    label: str | None = None,
    notes: Sequence[str] | str | None = None,
) -> ETable:
    """A PSM balance frame (covariate, mean_treated/control_before/after, bias_before/after,
    bias_reduction, t_/p_before/after) in Stata ``pstest``'s layout: two rows per covariate
    (unmatched, matched), columns mean treated, mean control, standardised bias (%), bias
    reduction (%), t and p. Narrow enough for a portrait page."""
    labels = dict(labels or {})
    need = [
        "covariate",
        "mean_treated_before",
        "mean_control_before",
        "mean_treated_after",
        "mean_control_after",
        "bias_before",
        "bias_after",
        "bias_reduction",
        "t_before",
        "p_before",
        "t_after",
        "p_after",
    ]
    missing = [c for c in need if c not in balance.columns]
    if missing:
        raise PilotdidError(f"balance_table: the frame lacks {', '.join(missing)}")
    words = [
        "covariate",
        "sample",
        "mean_treated",
        "mean_control",
        "bias",
        "bias_reduction",
        "t",
        "p",
    ]
    header = [(column_label(w, lang, labels), 1) for w in words]
    rows = []
    for r in balance.iter_rows(named=True):
        for when in ("before", "after"):
            means = [r[f"mean_treated_{when}"], r[f"mean_control_{when}"]]
            dec = numbers.decimals_for([m for m in means if _finite(m)], digits)
            rows.append(
                [
                    _term_label(str(r["covariate"]), labels, lang) if when == "before" else "",
                    column_label("unmatched" if when == "before" else "matched", lang),
                    *(numbers.fixed(m, dec) for m in means),
                    numbers.fixed(r[f"bias_{when}"], 1),
                    numbers.fixed(r["bias_reduction"], 1) if when == "after" else "",
                    numbers.fixed(r[f"t_{when}"], 2),
                    numbers.pvalue(r[f"p_{when}"], digits),
                ]
            )
    return _table(header, rows, lang, title, caption, label, notes)


def effects_table(
    effects: pl.DataFrame,
    *,
    labels: Mapping[str, str] | None = None,
    lang: str = "en",
    digits: int = 3,
    stars: Sequence[float] | None = (0.10, 0.05, 0.01),
    interval: bool = True,
    title: str | None = None,
    caption: str | None = None,
    label: str | None = None,
    notes: Sequence[str] | str | None = None,
) -> ETable:
    """LeSage-Pace effects (a SpatialImpacts ``tidy()`` frame: effect, term, estimate,
    std_error, p_value and, with ``interval``, sim_low/sim_high) as the spatial-DID papers
    print them: one row per variable, columns Direct / Indirect / Total, the effect with its
    stars over its standard error in parentheses and (``interval``) the simulated 95%
    interval in brackets."""
    labels = dict(labels or {})
    w = _WORDS[lang]
    need = ["effect", "term", "estimate", "std_error", "p_value"]
    if interval:
        need += ["sim_low", "sim_high"]
    missing = [c for c in need if c not in effects.columns]
    if missing:
        raise PilotdidError(f"effects_table: the frame lacks {', '.join(missing)}")
    kinds = [k for k in ("direct", "indirect", "total") if k in set(effects["effect"])]
    terms = list(dict.fromkeys(effects["term"].to_list()))
    cell = {(r["effect"], r["term"]): r for r in effects.iter_rows(named=True)}
    header = [(w["variable"], 1)] + [(w[k], 1) for k in kinds]
    rows = []
    scaled = []
    for t in terms:
        got = [cell[(k, t)] for k in kinds if (k, t) in cell]
        vals = [g["estimate"] for g in got] + [g["std_error"] for g in got]
        if interval:
            vals += [g[b] for g in got for b in ("sim_low", "sim_high")]
        vals = [v for v in vals if _finite(v)]
        k = numbers.scale_for(vals, digits)
        f = 10.0**k
        dec = numbers.decimals_for([v * f for v in vals], digits)
        lab = _term_label(str(t), labels, lang)
        if k:
            scaled.append(k)
            lab = _Rich(f"{lab} ({numbers.power_text(k)})", f"{_tex(lab)} ({numbers.power_tex(k)})")
        top, se, iv = [lab], [""], [""]
        for kind in kinds:
            g = cell.get((kind, t))
            if g is None:
                top.append("")
                se.append("")
                iv.append("")
                continue
            top.append(numbers.fixed(g["estimate"] * f, dec) + _star(g["p_value"], stars))
            se.append(f"({numbers.fixed(g['std_error'] * f, dec)})")
            if interval:
                lo = numbers.fixed(g["sim_low"] * f, dec)
                hi = numbers.fixed(g["sim_high"] * f, dec)
                iv.append(f"[{lo}, {hi}]" if lo and hi else "")
        rows += [top, se] + ([iv] if interval else [])
    note_lines: list[Any] = _note_lines(notes)
    if stars:
        star_note = _stars_note(stars, lang)
        if note_lines:  # after the first note (the one that says what is in parentheses)
            note_lines[0] = _join_note(note_lines[0], star_note)
        else:
            note_lines.append(star_note)
    note_lines += [_scaled_note(k, lang) for k in sorted(set(scaled))]
    return _table(header, rows, lang, title, caption, label, note_lines)

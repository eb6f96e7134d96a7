"""Descriptive statistics tables (:func:`describe`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from pilotdid._args import (
    check_choice,
    check_columns,
    check_int,
    vocabulary,
)
from pilotdid._core import PilotdidError
from pilotdid.output._text import _WORDS, _words
from pilotdid.output.tables import ETable, _check_labels, _check_text, _fmt, _Grid

__all__ = ["describe"]

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
    caption: str | None = None,
    label: str | None = None,
) -> ETable:
    """Descriptive statistics, one row per variable: ``N`` (non-missing, finite values), mean,
    ``sd`` (ddof = 1), min, max and optionally ``p25``/``p50``/``p75`` (numpy's linear
    interpolation, R type 7). ``columns`` defaults to every numeric column. Missing and
    non-finite values are excluded per variable (so N can differ across rows). Numbers have
    ``digits`` decimals, more where a non-zero value would print as 0.000 (never scientific
    notation). ``caption``/``label``: the LaTeX ``\\caption`` and ``\\label`` (default: the
    title)."""
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
    caption = _check_text("caption", caption)
    label = _check_text("label", label)
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
    grid = _Grid(
        len(stats) + 1, header, [rows], note_lines, title, caption=caption, label=label, lang=lang
    )
    frame = pl.DataFrame(
        {
            "variable": [r[0] for r in rows],
            **{s: [r[i + 1] for r in rows] for i, s in enumerate(stats)},
        },
        schema_overrides={"variable": pl.String},
    )
    return ETable(grid, frame)

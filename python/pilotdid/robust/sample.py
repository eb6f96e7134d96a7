"""Sample and measurement variants for robustness checks: winsorizing, dropping or
excluding units, restricting the window, swapping the outcome, adding controls."""

from __future__ import annotations

import datetime
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._args import (
    check_choice,
    check_columns,
    check_float,
    check_str,
    vocabulary,
)
from pilotdid._core import (
    PilotdidError,
)
from pilotdid.robust._model import _all_columns, _optional_str

__all__ = [
    "add_controls",
    "drop_units",
    "exclude_units",
    "restrict_window",
    "swap_outcome",
    "winsorize",
]

_EXCLUDE_MODES = ("drop", "control")


# ------------------------------------------------------------------------------------------
# sample and measurement variants (each returns a NEW frame; the input is never modified)
# ------------------------------------------------------------------------------------------
def _quantile_bounds(lower: Any, upper: Any) -> tuple[float, float]:
    lower = check_float("lower", lower, lo=0.0, hi=1.0)
    upper = check_float("upper", upper, lo=0.0, hi=1.0)
    if not lower < upper:
        raise PilotdidError(
            f"options 'lower'/'upper': need 0 <= lower < upper <= 1, got {lower:g}, {upper:g}"
        )
    return lower, upper


@vocabulary()
def winsorize(
    data: Any,
    *,
    columns: Sequence[str] | str,
    lower: float = 0.01,
    upper: float = 0.99,
    by: str | None = None,
) -> pl.DataFrame:
    """Clips each column at its ``lower`` and ``upper`` quantiles (linear interpolation, as
    numpy's default), pooled or within each value of ``by`` (e.g. the year). Missing values
    stay missing. Returns a new polars frame."""
    lower, upper = _quantile_bounds(lower, upper)
    cols = check_columns("columns", columns)
    if not cols:
        raise PilotdidError("option 'columns': name at least one column to winsorize")
    by = _optional_str("by", by)
    df = _all_columns(data)
    for c in cols + ([by] if by else []):
        if c not in df.columns:
            raise PilotdidError(f"column '{c}' not found in the data")
    for c in cols:
        _frame.numeric(df, c)  # refuses a non-numeric column, naming it
    exprs = []
    for c in cols:
        x = pl.col(c).cast(pl.Float64).fill_nan(None)
        lo = x.quantile(lower, interpolation="linear")
        hi = x.quantile(upper, interpolation="linear")
        if by:
            lo, hi = lo.over(by), hi.over(by)
        exprs.append(x.clip(lo, hi).alias(c))
    return df.with_columns(exprs)


def _unit_list(value: Any) -> list[Any]:
    if (
        value is None
        or isinstance(value, (str, bytes))
        or not isinstance(value, (Sequence, np.ndarray, pl.Series))
    ):
        raise PilotdidError(
            f"option 'units': expected a list of unit values (e.g. ['Shanghai']), got {value!r}"
        )
    return list(value)


@vocabulary()
def drop_units(data: Any, *, unit: str, units: Sequence[Any]) -> pl.DataFrame:
    """Drops every row of the named units (e.g. municipalities, provincial capitals).
    Unknown unit names are an error."""
    unit = check_str("unit", unit)
    units = _unit_list(units)
    df = _all_columns(data)
    if unit not in df.columns:
        raise PilotdidError(f"column '{unit}' not found in the data")
    present = set(df.get_column(unit).to_list())
    unknown = [u for u in units if u not in present]
    if unknown:
        raise PilotdidError(
            f"option 'units': {unknown[0]!r} is not a value of column '{unit}'"
            + (f" (also unknown: {unknown[1:]})" if unknown[1:] else "")
        )
    return df.filter(~pl.col(unit).is_in(units))


def _exclude_options(
    *,
    flags: Any = None,
    table: Any = None,
    table_unit: Any = None,
    table_start: Any = "start",
    time: Any = None,
    mode: Any = "drop",
    control_name: Any = "other_pilot",
) -> dict[str, Any]:
    """exclude_units' options, checked before any work (also used by Check)."""
    if (flags is None) == (table is None):
        raise PilotdidError("exclude_units: give either 'flags' (columns) or 'table', not both")
    return {
        "flags": None if flags is None else check_columns("flags", flags),
        "table": table,
        "table_unit": _optional_str("table_unit", table_unit),
        "table_start": check_str("table_start", table_start),
        "time": _optional_str("time", time),
        "mode": check_choice("mode", mode, _EXCLUDE_MODES),
        "control_name": check_str("control_name", control_name),
    }


@vocabulary()
def exclude_units(
    data: Any,
    *,
    unit: str,
    flags: Sequence[str] | str | None = None,
    table: Any = None,
    table_unit: str | None = None,
    table_start: str = "start",
    time: str | None = None,
    mode: str = "drop",
    control_name: str = "other_pilot",
) -> pl.DataFrame:
    """Units flagged by other pilot programmes (low-carbon city, Broadband China, ...).

    Give them as 0/1 ``flags`` columns of the data (a unit is flagged if any row is nonzero)
    or as a ``table`` of unit x start year (columns ``table_unit`` (default ``unit``) and
    ``table_start``). ``mode="drop"`` removes the flagged units; ``mode="control"`` keeps
    them and adds a column ``control_name`` = 1 from the unit's start year on (needs
    ``time``; with flag columns, the row-wise maximum of the flags) to use as a control.
    Units of the table that are not in the data are an error.
    """
    unit = check_str("unit", unit)
    o = _exclude_options(
        flags=flags,
        table=table,
        table_unit=table_unit,
        table_start=table_start,
        time=time,
        mode=mode,
        control_name=control_name,
    )
    mode, control_name, time = o["mode"], o["control_name"], o["time"]
    table_start = o["table_start"]
    df = _all_columns(data)
    if unit not in df.columns:
        raise PilotdidError(f"column '{unit}' not found in the data")
    if o["flags"] is not None:
        fl = o["flags"]
        for c in fl:
            if c not in df.columns:
                raise PilotdidError(f"column '{c}' not found in the data")
        any_flag = pl.max_horizontal([pl.col(c).cast(pl.Float64).fill_null(0) for c in fl]) > 0
        if mode == "control":
            return df.with_columns(any_flag.cast(pl.Float64).alias(control_name))
        flagged = df.filter(any_flag).get_column(unit).unique().to_list()
        return df.filter(~pl.col(unit).is_in(flagged))
    tab = _all_columns(table)
    tu = o["table_unit"] or unit
    for c in (tu, table_start):
        if c not in tab.columns:
            raise PilotdidError(f"option 'table': column '{c}' not found in the table")
    present = set(df.get_column(unit).to_list())
    listed = tab.get_column(tu).to_list()
    unknown = [u for u in listed if u not in present]
    if unknown:
        raise PilotdidError(
            f"option 'table': unit {unknown[0]!r} is not a value of column '{unit}' in the data"
            + (f" ({len(unknown)} unknown units)" if len(unknown) > 1 else "")
        )
    if mode == "drop":
        return df.filter(~pl.col(unit).is_in(listed))
    if time is None:
        raise PilotdidError("option 'time': needed with mode='control'")
    start = dict(zip(listed, tab.get_column(table_start).to_list()))
    s = [start.get(u) for u in df.get_column(unit).to_list()]
    t = df.get_column(time).to_list()
    d = [0.0 if si is None else float(ti >= si) for si, ti in zip(s, t)]
    return df.with_columns(pl.Series(control_name, d))


def _bound(name: str, value: Any) -> Any:
    """A window bound: None, a finite number or a date."""
    if value is None or isinstance(value, (datetime.date, np.datetime64)):
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        if math.isfinite(float(value)):
            return value
    raise PilotdidError(
        f"option '{name}': expected a period (a finite number or a date) or None, got {value!r}"
    )


def _window_bounds(start: Any, end: Any) -> tuple[Any, Any]:
    start, end = _bound("start", start), _bound("end", end)
    if start is not None and end is not None and start > end:
        raise PilotdidError(f"options 'start'/'end': start = {start} is after end = {end}")
    return start, end


@vocabulary()
def restrict_window(data: Any, *, time: str, start: Any = None, end: Any = None) -> pl.DataFrame:
    """Keeps rows with ``start <= time <= end`` (either bound may be None)."""
    time = check_str("time", time)
    start, end = _window_bounds(start, end)
    df = _all_columns(data)
    if time not in df.columns:
        raise PilotdidError(f"column '{time}' not found in the data")
    cond = pl.lit(True)
    if start is not None:
        cond = cond & (pl.col(time) >= start)
    if end is not None:
        cond = cond & (pl.col(time) <= end)
    out = df.filter(cond)
    if out.height == 0:
        raise PilotdidError(f"restrict_window: no rows with {start} <= {time} <= {end}")
    return out


def _formula(fml: Any) -> str:
    if not isinstance(fml, str) or "~" not in fml:
        raise PilotdidError(f"option 'fml': expected a formula such as 'y ~ d | unit', got {fml!r}")
    return fml


@vocabulary(renamed={"formula": "fml", "outcome": "y"})
def swap_outcome(fml: str, y: str) -> str:
    """The formula with another outcome ``y``."""
    lhs, rhs = _formula(fml).split("~", 1)
    return f"{check_str('y', y)} ~{rhs}"


@vocabulary(renamed={"formula": "fml"})
def add_controls(fml: str, controls: Sequence[str] | str) -> str:
    """The formula with extra controls before the fixed-effect bar."""
    lhs, rhs = _formula(fml).split("~", 1)
    extra = check_columns("controls", controls)
    if not extra:
        raise PilotdidError("option 'controls': name at least one control to add")
    parts = rhs.split("|", 1)
    main = parts[0].rstrip() + " + " + " + ".join(extra)
    return f"{lhs.strip()} ~ {main.strip()}" + (f" | {parts[1].strip()}" if len(parts) > 1 else "")

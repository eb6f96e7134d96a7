"""Argument and column handling shared by the green-economy measures."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._args import check_choice, check_float
from pilotdid._core import (
    PilotdidError,
)

_RTS = ("crs", "vrs")


def _names(value: str | Sequence[str] | None, option: str, required: bool) -> list[str]:
    if value is None:
        if required:
            raise PilotdidError(f"option '{option}': give at least one column name")
        return []
    names = [value] if isinstance(value, str) else list(value)
    if required and not names:
        raise PilotdidError(f"option '{option}': give at least one column name")
    for n in names:
        if not isinstance(n, str) or not n:
            raise PilotdidError(f"option '{option}': {n!r} is not a column name")
    return names


def _choice(value: str, option: str, allowed: Sequence[str]) -> str:
    return check_choice(option, value, allowed)


def _bad_weight(value: Any) -> float:
    """``bad_weight``: good:bad = 1:bad_weight, a finite number > 0."""
    return check_float("bad_weight", value, lo=0.0, lo_open=True)


def _drop_incomplete(df: pl.DataFrame, columns: list[str], what: str) -> pl.DataFrame:
    """Drop rows with a missing (null/NaN) value in `columns`, warning with the count."""
    mask = pl.lit(False)
    for c in columns:
        col = pl.col(c)
        mask = mask | col.is_null()
        if df.schema[c].is_float():
            mask = mask | col.is_nan()
    bad = df.select(mask.alias("m"))["m"]
    n_bad = int(bad.sum() or 0)
    if n_bad:
        warnings.warn(
            f"{what}: dropped {n_bad} row(s) with missing values in {columns}",
            stacklevel=3,
        )
        df = df.filter(~bad)
    if df.height == 0:
        raise PilotdidError(f"{what}: no complete rows left")
    return df


def _time(df: pl.DataFrame, name: str) -> np.ndarray:
    t = df.get_column(name)
    if not (t.dtype.is_integer() or t.dtype.is_float()):
        raise PilotdidError(f"column '{name}' must hold integer periods (e.g. years)")
    tv = t.cast(pl.Float64).to_numpy()
    if np.any(~np.isfinite(tv)) or np.any(tv != np.floor(tv)):
        raise PilotdidError(f"column '{name}' must hold integer periods (e.g. years)")
    return tv.astype(np.int64)


def _unit_codes(df: pl.DataFrame, name: str) -> tuple[np.ndarray, list[str]]:
    u = df.get_column(name)
    levels = u.unique(maintain_order=True)
    codes = (
        u.to_frame("u")
        .join(levels.to_frame("u").with_row_index("code"), on="u", how="left")
        .get_column("code")
        .to_numpy()
        .astype(np.uint32)
    )
    return np.ascontiguousarray(codes), [str(v) for v in levels.to_list()]


def _row_labels(df: pl.DataFrame, unit: str | None, time: str | None) -> list[str]:
    n = df.height
    if unit is None and time is None:
        return [f"row {i}" for i in range(n)]
    parts = []
    if unit is not None:
        parts.append([f"{unit}={v}" for v in df.get_column(unit).cast(pl.String).to_list()])
    if time is not None:
        parts.append([f"{time}={v}" for v in df.get_column(time).cast(pl.String).to_list()])
    return [", ".join(p) for p in zip(*parts)]


def _cols(df: pl.DataFrame, names: list[str]) -> list[tuple[str, np.ndarray]]:
    return [(n, _frame.numeric(df, n)) for n in names]


def _prepare(
    data: Any,
    inputs: Any,
    good: Any,
    bad: Any,
    unit: str | None,
    time: str | None,
    what: str,
) -> tuple[pl.DataFrame, list[str], list[str], list[str]]:
    xs = _names(inputs, "inputs", True)
    ys = _names(good, "good", True)
    bs = _names(bad, "bad", False)
    ids = [c for c in (unit, time) if c is not None]
    dup = {c for c in xs + ys + bs if (xs + ys + bs).count(c) > 1}
    if dup:
        raise PilotdidError(f"column '{sorted(dup)[0]}' is listed twice among inputs/outputs")
    df = _frame.to_polars(data, ids + xs + ys + bs)
    df = _drop_incomplete(df, ids + xs + ys + bs, what)
    return df, xs, ys, bs

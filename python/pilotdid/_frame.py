"""Data in: polars, pandas or a mapping of numpy arrays -> polars, and columns -> numpy.

The caller's frame is never modified: we only select and convert columns into new objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from pilotdid._core import PilotdidError, factorize_ids


def to_polars(data: Any, columns: Sequence[str]) -> pl.DataFrame:
    """Select `columns` from `data` as a new polars DataFrame, checking that each exists."""
    available = _column_names(data)
    missing = [c for c in columns if c not in available]
    if missing:
        raise PilotdidError(
            f"column '{missing[0]}' not found in the data"
            + (f" (also missing: {', '.join(repr(m) for m in missing[1:])})" if missing[1:] else "")
        )
    if isinstance(data, pl.DataFrame):
        return data.select(list(dict.fromkeys(columns)))
    if isinstance(data, Mapping):
        return pl.DataFrame({c: np.asarray(data[c]) for c in dict.fromkeys(columns)})
    if _is_pandas(data):
        return pl.DataFrame([_pandas_series(data, c) for c in dict.fromkeys(columns)])
    if isinstance(data, np.ndarray) and data.dtype.names:
        return pl.DataFrame({c: data[c] for c in dict.fromkeys(columns)})
    raise PilotdidError(
        f"data of type {type(data).__name__} is not supported: pass a polars or pandas "
        "DataFrame, a dict of numpy arrays, or a numpy structured array"
    )


def _column_names(data: Any) -> set[str]:
    if isinstance(data, pl.DataFrame):
        return set(data.columns)
    if isinstance(data, Mapping):
        return set(data.keys())
    if _is_pandas(data):
        return {str(c) for c in data.columns}
    if isinstance(data, np.ndarray) and data.dtype.names:
        return set(data.dtype.names)
    raise PilotdidError(
        f"data of type {type(data).__name__} is not supported: pass a polars or pandas "
        "DataFrame, a dict of numpy arrays, or a numpy structured array"
    )


def n_rows(data: Any) -> int:
    if isinstance(data, pl.DataFrame):
        return data.height
    if isinstance(data, Mapping):
        return len(next(iter(data.values()))) if data else 0
    return len(data)


def _is_pandas(data: Any) -> bool:
    return type(data).__module__.startswith("pandas") and hasattr(data, "columns")


def _pandas_series(df: Any, name: str) -> pl.Series:
    s = df[name]
    kind = getattr(s.dtype, "kind", "O")
    if kind in "iub":
        if s.isna().any():  # nullable integer with missing values
            return pl.Series(name, s.to_numpy(dtype="float64", na_value=np.nan))
        return pl.Series(name, s.to_numpy())
    if kind == "f":
        return pl.Series(name, s.to_numpy(dtype="float64", na_value=np.nan))
    values = s.to_numpy(dtype=object)
    values = [None if _is_na(v) else v for v in values]
    return pl.Series(name, values, strict=False)


def _is_na(v: Any) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))


def numeric(df: pl.DataFrame, name: str) -> np.ndarray:
    """A column as contiguous float64, nulls as NaN. Non-numeric columns are an error."""
    s = df.get_column(name)
    if s.dtype == pl.Boolean:
        s = s.cast(pl.Float64)
    if not s.dtype.is_numeric():
        raise PilotdidError(
            f"column '{name}' is not numeric (type {s.dtype}); regressors, outcomes and weights "
            "must be numbers. Encode categories with i() or as fixed effects."
        )
    return np.ascontiguousarray(s.cast(pl.Float64).fill_null(np.nan).to_numpy(), dtype=np.float64)


def ids(df: pl.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    """An id column (unit, period, cluster) as int64 values plus a validity mask.

    Integers pass through; strings and categoricals are encoded; floats must be whole numbers.
    """
    s = df.get_column(name)
    valid = (~s.is_null()).to_numpy()
    if s.dtype.is_float():
        valid &= ~s.is_nan().fill_null(True).to_numpy()
        v = s.fill_null(0).fill_nan(0).to_numpy()
        if np.any(v != np.floor(v)):
            raise PilotdidError(f"column '{name}' is used as an id but has non-integer values")
        return v.astype(np.int64), valid
    if s.dtype.is_integer() or s.dtype == pl.Boolean:
        return s.cast(pl.Int64).fill_null(0).to_numpy().astype(np.int64, copy=False), valid
    if s.dtype in (pl.String, pl.Categorical, pl.Enum) or s.dtype == pl.Object:
        codes = s.cast(pl.String).cast(pl.Categorical).to_physical()
        return codes.cast(pl.Int64).fill_null(-1).to_numpy(), valid
    raise PilotdidError(f"column '{name}' of type {s.dtype} cannot be used as an id")


def interacted_ids(parts: list[np.ndarray]) -> np.ndarray:
    """Ids of an interacted fixed effect (a^b): one id per observed combination."""
    combined = np.zeros(len(parts[0]), dtype=np.int64)
    for p in parts:
        codes, levels = factorize_ids(np.ascontiguousarray(p, dtype=np.int64))
        combined = combined * len(levels) + codes.astype(np.int64)
    return combined

"""Data in: polars, pandas or a mapping of numpy arrays -> polars, and columns -> numpy.

Every family reads its data through this module, so the checks on the data themselves live
here once: the data must be a frame (or a dict of arrays), the columns used must exist and be
unique, object columns must hold one kind of value, and id columns must be finite whole
numbers (or strings / categories).

The caller's frame is never modified: we only select and convert columns into new objects.
"""

from __future__ import annotations

import numbers
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from pilotdid._core import PilotdidError, factorize_ids

#: Ids are int64 in the core; whole floats beyond this would not survive the cast.
_INT64_LIMIT = 2.0**63


def check_data(data: Any, name: str = "data") -> None:
    """Refuse anything that is not a polars/pandas DataFrame, a dict of arrays or a numpy
    structured array, with one message for every family."""
    if (
        isinstance(data, (pl.DataFrame, Mapping))
        or _is_pandas(data)
        or (isinstance(data, np.ndarray) and data.dtype.names)
    ):
        return
    raise PilotdidError(
        f"{name}: expected a polars or pandas DataFrame or a dict of numpy arrays, "
        f"got {type(data).__name__}"
    )


def to_polars(data: Any, columns: Sequence[str]) -> pl.DataFrame:
    """Select `columns` from `data` as a new polars DataFrame, checking that each exists (and,
    for pandas, that its name is not repeated)."""
    available = _column_names(data)
    missing = [c for c in columns if c not in available]
    if missing:
        raise PilotdidError(
            f"column '{missing[0]}' not found in the data"
            + (f" (also missing: {', '.join(repr(m) for m in missing[1:])})" if missing[1:] else "")
        )
    wanted = list(dict.fromkeys(columns))
    if isinstance(data, pl.DataFrame):
        out = data.select(wanted)
        objects = [c for c, t in out.schema.items() if t == pl.Object]
        if objects:
            out = out.with_columns(
                [_object_series(c, out.get_column(c).to_numpy()) for c in objects]
            )
        return out
    if isinstance(data, Mapping):
        arrays = {c: np.asarray(data[c]) for c in wanted}
        _check_lengths(arrays)
        return pl.DataFrame([_array_series(c, a) for c, a in arrays.items()])
    if _is_pandas(data):
        labels = _pandas_labels(data)
        _check_unique_pandas(data, wanted)
        return pl.DataFrame([_pandas_series(data, labels[c], c) for c in wanted])
    return pl.DataFrame([_array_series(c, data[c]) for c in wanted])  # structured array


def _column_names(data: Any) -> set[str]:
    check_data(data)
    if isinstance(data, pl.DataFrame):
        return set(data.columns)
    if isinstance(data, Mapping):
        return set(data.keys())
    if _is_pandas(data):
        return {str(c) for c in data.columns}
    return set(data.dtype.names)


def n_rows(data: Any) -> int:
    check_data(data)
    if isinstance(data, pl.DataFrame):
        return data.height
    if isinstance(data, Mapping):
        return len(np.asarray(next(iter(data.values())))) if data else 0
    return len(data)


def _check_lengths(arrays: Mapping[str, np.ndarray]) -> None:
    lengths = {c: (a.shape[0] if a.ndim else 0) for c, a in arrays.items()}
    bad = [c for c, a in arrays.items() if a.ndim != 1]
    if bad:
        raise PilotdidError(
            f"data: column '{bad[0]}' must be a one-dimensional array, got shape "
            f"{arrays[bad[0]].shape}"
        )
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"'{c}': {n}" for c, n in lengths.items())
        raise PilotdidError(f"data: the columns have different lengths ({shown})")


def _is_pandas(data: Any) -> bool:
    return type(data).__module__.startswith("pandas") and hasattr(data, "columns")


def _pandas_labels(df: Any) -> dict[str, Any]:
    """Column name as pilotdid sees it (a string) -> the pandas label (may be an int)."""
    return {str(c): c for c in df.columns}


def _check_unique_pandas(df: Any, wanted: Sequence[str]) -> None:
    """pandas allows repeated column names; a repeated name is ambiguous, so it is refused."""
    counts = Counter(str(c) for c in df.columns)
    repeated = [c for c in wanted if counts[c] > 1]
    if repeated:
        shown = ", ".join(f"'{c}' ({counts[c]} times)" for c in repeated)
        raise PilotdidError(
            f"data: the pandas DataFrame has repeated column names: {shown}; rename or drop "
            "the duplicates (each name must denote one column)"
        )


def _pandas_series(df: Any, label: Any, name: str) -> pl.Series:
    s = df[label]
    kind = getattr(s.dtype, "kind", "O")
    if kind in "iub":
        if s.isna().any():  # nullable integer with missing values
            return pl.Series(name, s.to_numpy(dtype="float64", na_value=np.nan))
        return pl.Series(name, s.to_numpy())
    if kind == "f":
        return pl.Series(name, s.to_numpy(dtype="float64", na_value=np.nan))
    return _object_series(name, s.to_numpy(dtype=object))


def _array_series(name: str, values: Any) -> pl.Series:
    arr = np.asarray(values)
    if arr.dtype == object:
        return _object_series(name, arr)
    return pl.Series(name, arr)


def _is_na(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, (float, np.floating)):
        return bool(np.isnan(v))
    # pandas' NA and NaT, numpy's NaT
    if type(v).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(v, (np.datetime64, np.timedelta64)) and bool(np.isnat(v))


def _object_series(name: str, values: np.ndarray) -> pl.Series:
    """A column of Python objects (pandas object/string/categorical dtype, numpy object
    arrays): missing markers become nulls; strings stay strings and numbers numbers, but a
    column that mixes strings with numbers is refused (1 and "1" would become one id)."""
    cleaned = [None if _is_na(v) else v for v in values]
    present = [v for v in cleaned if v is not None]
    has_str = any(isinstance(v, str) for v in present)
    number = next((v for v in present if isinstance(v, (numbers.Number, np.bool_))), None)
    if has_str and number is not None:
        text = next(v for v in present if isinstance(v, str))
        raise PilotdidError(
            f"column '{name}' mixes strings and numbers (e.g. {text!r} and {number!r}); convert "
            "it to one type first (e.g. .astype(str) for ids, pd.to_numeric for numbers)"
        )
    series = pl.Series(name, cleaned, strict=False)
    if series.dtype == pl.Object:
        odd = next(v for v in present if not isinstance(v, (str, numbers.Number)))
        raise PilotdidError(
            f"column '{name}' holds Python objects of type {type(odd).__name__} that pilotdid "
            "cannot read; convert it to numbers or strings first"
        )
    return series


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

    Integers pass through; strings and categoricals are encoded; floats must be finite whole
    numbers (NaN counts as missing; +inf and -inf are refused, since casting them would merge
    them into one id).
    """
    v, valid = id_values(df, name)
    return v, (np.ones(len(v), dtype=bool) if valid is None else valid)


def id_values(df: pl.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``ids`` with the mask None when no id is missing: large fits skip a byte a row."""
    s = df.get_column(name)
    if s.dtype.is_float():
        valid = (~s.is_null()).to_numpy() & ~s.is_nan().fill_null(True).to_numpy()
        v = s.fill_null(0).fill_nan(0).to_numpy()
        infinite = ~np.isfinite(v)
        if infinite.any():
            raise PilotdidError(
                f"column '{name}' is used as an id but has {int(infinite.sum())} infinite "
                f"value(s) (e.g. {v[infinite][0]}); ids must be finite"
            )
        if np.any(v != np.floor(v)):
            raise PilotdidError(f"column '{name}' is used as an id but has non-integer values")
        if np.any(np.abs(v) >= _INT64_LIMIT):
            raise PilotdidError(
                f"column '{name}' is used as an id but has values beyond the 64-bit integer range"
            )
        return v.astype(np.int64), valid
    valid = (~s.is_null()).to_numpy() if s.null_count() else None
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
        f = factorize_ids(np.ascontiguousarray(p, dtype=np.int64))
        combined = combined * len(f.levels) + f.codes.astype(np.int64)
    return combined


__all__ = ["check_data", "ids", "interacted_ids", "n_rows", "numeric", "to_polars"]


def period_span(data: Any, time: str) -> int | None:
    """max - min of the numeric ``time`` column (the widest |event time| the data can have);
    None when it has no finite numeric values (the estimator's own checks then report it)."""
    t = to_polars(data, [time]).get_column(time)
    if not (t.dtype.is_integer() or t.dtype.is_float()):
        return None
    t = t.cast(pl.Float64).drop_nulls().drop_nans()
    if t.len() == 0 or not np.isfinite([t.min(), t.max()]).all():
        return None
    return int(t.max() - t.min())

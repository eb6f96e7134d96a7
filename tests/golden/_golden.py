"""Encoding, storage and comparison of golden numbers (shared by record.py and test_golden.py).

A call returns a flat ``{name: value}`` dict. :func:`encode` turns each value into JSON that
keeps every bit: floats (Python or numpy) as ``float.hex()`` strings (``nan``, ``inf``,
``-inf`` and the sign of zero included), integers as integers, booleans as booleans, strings
as strings, None as null, and arrays / lists / tuples / polars Series as nested lists of the
same (so the nesting is the shape). Complex numbers are ``"complex(<re hex>,<im hex>)"``.
Two values are bit-identical exactly when their encodings are equal.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent

#: The families, one ``calls_<family>.py`` and one ``golden_<family>.json`` each.
FAMILIES = ("regression", "did", "robustness", "mechanisms", "spatial", "green", "study")

FORMAT = (
    "pilotdid golden numbers: calls[call_id][name] = value; floats are float.hex() strings "
    "(lists of them for arrays, nested as the array's shape), ints ints, strings strings, "
    "null None. Written by tests/golden/record.py; checked bit for bit by test_golden.py."
)


# ------------------------------------------------------------------------------------------
# helpers for the call sites
# ------------------------------------------------------------------------------------------
def frame(df: pl.DataFrame, prefix: str) -> dict[str, Any]:
    """Every column of a polars frame as ``{prefix.column: Series}`` (nulls stay null)."""
    return {f"{prefix}.{c}": df.get_column(c) for c in df.columns}


def named(d: dict[Any, Any], prefix: str) -> dict[str, Any]:
    """A ``{name: number}`` mapping (e.g. ``coef()``) as ``{prefix.name: number}``, in the
    mapping's order, plus ``prefix#names`` (the order itself)."""
    out: dict[str, Any] = {f"{prefix}#names": [str(k) for k in d]}
    out.update({f"{prefix}.{k}": v for k, v in d.items()})
    return out


# ------------------------------------------------------------------------------------------
# encoding
# ------------------------------------------------------------------------------------------
def encode(v: Any) -> Any:
    """A JSON value that determines ``v`` bit for bit (see the module docstring)."""
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        if isinstance(v, np.floating) and v.dtype != np.float64:
            raise TypeError(f"golden values must be float64, got {v.dtype}")
        return float(v).hex()
    if isinstance(v, (complex, np.complexfloating)):
        c = complex(v)
        return f"complex({c.real.hex()},{c.imag.hex()})"
    if isinstance(v, str):
        return v
    if isinstance(v, pl.Series):
        return [encode(x) for x in v.to_list()]
    if isinstance(v, np.ndarray):
        if v.dtype.kind == "f" and v.dtype != np.float64:
            raise TypeError(f"golden arrays must be float64, got {v.dtype}")
        if v.ndim == 0:
            return encode(v[()])
        return [encode(x) for x in v]
    if isinstance(v, (list, tuple)):
        return [encode(x) for x in v]
    raise TypeError(f"cannot store a {type(v).__name__} in a golden file (flatten it first)")


def encode_call(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    out = fn()
    if not isinstance(out, dict) or not out:
        raise TypeError(f"{fn.__name__}: a call must return a non-empty dict")
    bad = [k for k in out if not isinstance(k, str)]
    if bad:
        raise TypeError(f"{fn.__name__}: keys must be strings, got {bad[0]!r}")
    return {k: encode(v) for k, v in out.items()}


# ------------------------------------------------------------------------------------------
# calls and files
# ------------------------------------------------------------------------------------------
def calls(family: str) -> dict[str, Callable[[], dict[str, Any]]]:
    """``CALLS`` of ``calls_<family>.py``."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    return importlib.import_module(f"calls_{family}").CALLS


def golden_path(family: str) -> Path:
    return HERE / f"golden_{family}.json"


def load(family: str) -> dict[str, dict[str, Any]]:
    """The recorded calls of a family ({} when its file does not exist)."""
    p = golden_path(family)
    if not p.exists():
        return {}
    return json.loads(p.read_text(encoding="utf-8"))["calls"]


def dumps(family: str, recorded: dict[str, dict[str, Any]]) -> str:
    """One line per stored name, so that a diff of two recordings names the number."""
    lines = ["{", f' "format": {json.dumps(FORMAT)},', f' "family": {json.dumps(family)},']
    lines.append(' "calls": {')
    ids = list(recorded)
    for i, cid in enumerate(ids):
        lines.append(f"  {json.dumps(cid)}: {{")
        keys = list(recorded[cid])
        for j, k in enumerate(keys):
            comma = "," if j < len(keys) - 1 else ""
            lines.append(f"   {json.dumps(k)}: {json.dumps(recorded[cid][k])}{comma}")
        lines.append("  }" + ("," if i < len(ids) - 1 else ""))
    lines += [" }", "}", ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------
# comparison
# ------------------------------------------------------------------------------------------
def _show(x: Any) -> str:
    if isinstance(x, str):
        try:
            return f"{x} ({float.fromhex(x)!r})"
        except ValueError:
            return repr(x)
    return repr(x)


def _ulps(a: Any, b: Any) -> str:
    try:
        fa, fb = float.fromhex(a), float.fromhex(b)
    except (TypeError, ValueError):
        return ""
    if not (math.isfinite(fa) and math.isfinite(fb)):
        return ""
    ia = np.array(fa).view(np.int64).item()
    ib = np.array(fb).view(np.int64).item()
    ia = ia if ia >= 0 else -(ia & 0x7FFFFFFFFFFFFFFF)
    ib = ib if ib >= 0 else -(ib & 0x7FFFFFFFFFFFFFFF)
    return (
        f"; {abs(ia - ib)} ulp apart, relative difference {abs(fa - fb) / max(abs(fb), 1e-300):.3g}"
    )


def first_difference(got: Any, want: Any, path: str = "") -> str | None:
    """None when equal, else where and how ``got`` first differs from ``want``."""
    if isinstance(want, list) or isinstance(got, list):
        if not (isinstance(want, list) and isinstance(got, list)):
            return f"{path or 'value'}: shape differs: got {_short(got)}, recorded {_short(want)}"
        if len(got) != len(want):
            return f"{path or 'value'}: length {len(got)}, recorded {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            d = first_difference(g, w, f"{path}[{i}]")
            if d is not None:
                return d
        return None
    if type(got) is not type(want) or got != want:
        return f"{path or 'value'}: got {_show(got)}, recorded {_show(want)}{_ulps(got, want)}"
    return None


def _short(x: Any) -> str:
    s = repr(x)
    return s if len(s) < 60 else s[:57] + "..."

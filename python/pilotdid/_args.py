"""One argument-validation layer for every public function (issues 13 and 14).

Every option is checked for type, range and finiteness *before* any work starts, and the error
names the option, the value it got and what is allowed. Replicate counts are bounded by the
memory their draws would need. The vocabulary decorator turns an old spelling (``idname``,
``boot_reps``, ...) into a ``TypeError`` that names the new one, and accepts R ``did``'s
spellings as documented aliases where a function declares them.

Use::

    @vocabulary(renamed={"idname": "unit", "perm_reps": "reps"})
    def heterogeneity(data, *, y, treatment, by, reps=1000, seed=0): ...
        reps = check_reps("reps", reps, bytes_per_rep=8)
        seed = check_seed(seed)
"""

from __future__ import annotations

import difflib
import functools
import inspect
import math
import numbers
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from pilotdid._core import PilotdidError

F = TypeVar("F", bound=Callable[..., Any])

#: An upper bound for any replicate count (2**40, about 1.1e12) whatever memory it needs:
#: larger values (2**63, ...) are typing mistakes. Counts below it that fit in memory are
#: allowed; the long loops they start check for Ctrl-C at least every 100 ms.
MAX_REPS = 2**40
#: Seeds are unsigned 64-bit integers in the core.
MAX_SEED = 2**64 - 1


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    return type(value).__name__


# ------------------------------------------------------------------------------------------
# scalars
# ------------------------------------------------------------------------------------------
def check_int(name: str, value: Any, *, lo: int | None = None, hi: int | None = None) -> int:
    """A whole number in [lo, hi] (bools, NaN and fractional floats are refused). Without
    bounds it must still fit a signed 64-bit integer, which is what the core takes."""
    rng = _range_text(lo, hi)
    if isinstance(value, (bool, np.bool_)) or value is None:
        raise PilotdidError(f"option '{name}': expected a whole number{rng}, got {_show(value)}")
    if isinstance(value, numbers.Integral):
        out = int(value)
    elif (
        isinstance(value, numbers.Real)
        and math.isfinite(float(value))
        and float(value) == int(float(value))
    ):
        out = int(float(value))
    else:
        raise PilotdidError(
            f"option '{name}': expected a whole number{rng}, got {_show(value)} ({_kind(value)})"
        )
    if (lo is not None and out < lo) or (hi is not None and out > hi):
        raise PilotdidError(f"option '{name}': {out} is out of range; allowed:{rng}")
    if not -(2**63) <= out <= 2**63 - 1:
        raise PilotdidError(
            f"option '{name}': {out} is out of range; allowed:{rng or ''} within a 64-bit "
            "integer (-2**63 .. 2**63 - 1)"
        )
    return out


def check_float(
    name: str,
    value: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    """A finite real number in the interval given (closed unless ``*_open``)."""
    rng = _range_text(lo, hi, lo_open, hi_open)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise PilotdidError(
            f"option '{name}': expected a number{rng}, got {_show(value)} ({_kind(value)})"
        )
    out = float(value)
    if not math.isfinite(out):
        raise PilotdidError(f"option '{name}': expected a finite number{rng}, got {out}")
    below = lo is not None and (out <= lo if lo_open else out < lo)
    above = hi is not None and (out >= hi if hi_open else out > hi)
    if below or above:
        raise PilotdidError(f"option '{name}': {out:g} is out of range; allowed:{rng}")
    return out


def check_level(value: Any, name: str = "level") -> float:
    """A confidence level strictly between 0 and 1 (0.95 is 95%)."""
    return check_float(name, value, lo=0.0, hi=1.0, lo_open=True, hi_open=True)


def check_seed(value: Any, name: str = "seed") -> int:
    """A seed: a whole number in [0, 2**64 - 1] (``None`` is refused: results must be
    reproducible, so there is no seed from OS entropy)."""
    if value is None:
        raise PilotdidError(
            f"option '{name}': expected a whole number in [0, 2**64 - 1], got None "
            "(every random step is seeded; the default is 0)"
        )
    return check_int(name, value, lo=0, hi=MAX_SEED)


def check_bool(name: str, value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise PilotdidError(f"option '{name}': expected True or False, got {_show(value)}")


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """One of ``choices`` (strings); the error lists them and suggests the closest."""
    if isinstance(value, str) and value in choices:
        return value
    allowed = ", ".join(repr(c) for c in choices)
    close = (
        difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
        if isinstance(value, str)
        else []
    )
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise PilotdidError(f"option '{name}': {_show(value)} is not one of {allowed}{hint}")


def check_window(value: Any, name: str = "window") -> tuple[int, int]:
    """An event-time window ``(lo, hi)`` of whole numbers with lo <= hi."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise PilotdidError(
            f"option '{name}': expected a pair of whole numbers (lo, hi), got {_show(value)}"
        )
    lo = check_int(f"{name}[0]", value[0])
    hi = check_int(f"{name}[1]", value[1])
    if lo > hi:
        raise PilotdidError(f"option '{name}': lo = {lo} is larger than hi = {hi}")
    return lo, hi


def check_str(name: str, value: Any) -> str:
    """A column name: a string with something in it besides blanks."""
    if isinstance(value, str) and value.strip():
        return value
    raise PilotdidError(f"option '{name}': expected a column name (a string), got {_show(value)}")


def check_columns(name: str, value: Any) -> list[str]:
    """A column name or a list of column names -> a list (empty for None)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence) and all(isinstance(v, str) and v for v in value):
        return list(value)
    raise PilotdidError(
        f"option '{name}': expected a column name or a list of column names, got {_show(value)}"
    )


# ------------------------------------------------------------------------------------------
# replicate counts: bounded by the memory their results need
# ------------------------------------------------------------------------------------------
def available_memory() -> int:
    """Bytes of memory available to this process now (MemAvailable on Linux; otherwise
    physical memory), capped by RLIMIT_AS when one is set."""
    avail = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            avail = 8 * 2**30
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft not in (resource.RLIM_INFINITY, -1) and soft > 0:
            avail = min(avail, soft)
    except (ImportError, ValueError, OSError):
        pass
    return int(avail)


def _gb(n: float) -> str:
    return f"{n / 1e9:.3g} GB"


def check_reps(
    name: str, value: Any, *, bytes_per_rep: float, lo: int = 1, fixed_bytes: float = 0.0
) -> int:
    """A replicate count (bootstrap, permutation, simulation draws) in [lo, MAX_REPS] whose
    stored results (``bytes_per_rep`` each, plus ``fixed_bytes``) fit in half of the memory
    available now. The error says how much memory the count would need."""
    reps = check_int(name, value, lo=lo, hi=MAX_REPS)
    need = fixed_bytes + bytes_per_rep * reps
    budget = available_memory() / 2
    if need > budget:
        most = max(lo, int((budget - fixed_bytes) // max(bytes_per_rep, 1.0)))
        raise PilotdidError(
            f"option '{name}': {reps} replicates would need {_gb(need)} of memory for their "
            f"results, more than half of the {_gb(2 * budget)} available; use at most {most}"
        )
    return reps


def _range_text(
    lo: float | None, hi: float | None, lo_open: bool = False, hi_open: bool = False
) -> str:
    """' in [lo, hi]', ' > lo', ' <= hi' ... (empty when unbounded)."""

    def num(v: float) -> str:
        names = {MAX_SEED: "2**64 - 1", 2**63 - 1: "2**63 - 1", -(2**63): "-2**63"}
        if not isinstance(v, float) and v in names:
            return names[v]
        return f"{v:g}" if isinstance(v, float) else str(v)

    if lo is None and hi is None:
        return ""
    if hi is None:
        return f" {'>' if lo_open else '>='} {num(lo)}"  # type: ignore[arg-type]
    if lo is None:
        return f" {'<' if hi_open else '<='} {num(hi)}"
    return f" in {'(' if lo_open else '['}{num(lo)}, {num(hi)}{')' if hi_open else ']'}"


# ------------------------------------------------------------------------------------------
# the vocabulary: renamed options raise, declared aliases translate
# ------------------------------------------------------------------------------------------
def vocabulary(
    renamed: Mapping[str, str] | None = None,
    aliases: Mapping[str, str | tuple[str, Callable[[Any], Any]]] | None = None,
    value_aliases: Mapping[str, Mapping[Any, Any]] | None = None,
) -> Callable[[F], F]:
    """Decorates a public function with the package vocabulary.

    ``renamed``: old keyword -> new keyword; passing the old one raises a TypeError that
    names the new one (nothing old is accepted silently). ``aliases``: keywords accepted as
    documented synonyms (R ``did``'s ``yname`` for ``y``), or ``(new, convert)`` when the value
    changes too (``{"alp": ("level", lambda a: 1 - a)}``); giving both spellings raises.
    ``value_aliases``: per canonical option, accepted synonyms of values
    (``{"control_group": {"nevertreated": "never"}}``). Positional arguments beyond the
    function's positional parameters raise a TypeError that lists the keywords to use.
    """
    renamed = dict(renamed or {})
    aliases = dict(aliases or {})
    value_aliases = {k: dict(v) for k, v in (value_aliases or {}).items()}

    def wrap(fn: F) -> F:
        sig = inspect.signature(fn)
        positional = [
            p.name
            for p in sig.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        keyword_only = [p.name for p in sig.parameters.values() if p.kind == p.KEYWORD_ONLY]
        has_var_kw = any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())
        name = fn.__name__

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if len(args) > len(positional):
                shown = ", ".join(positional) or "nothing"
                rest = ", ".join(f"{k}=" for k in keyword_only[:6])
                raise TypeError(
                    f"{name}() takes {shown} positionally; everything after is keyword-only "
                    f"(got {len(args)} positional arguments). Pass the others by name: "
                    f"{rest}{', ...' if keyword_only[6:] else ''}"
                )
            for old in list(kwargs):
                if old in renamed:
                    raise TypeError(
                        f"{name}(): '{old}' is now called '{renamed[old]}' (the package's one "
                        f"vocabulary; see CHANGELOG.md)"
                    )
                if old in aliases:
                    target = aliases[old]
                    new, convert = target if isinstance(target, tuple) else (target, None)
                    if new in kwargs:
                        raise TypeError(
                            f"{name}(): '{old}' and '{new}' are the same option; give one "
                            f"(R did's '{old}' is an alias of '{new}')"
                        )
                    value = kwargs.pop(old)
                    kwargs[new] = convert(value) if convert is not None else value
            for opt, table in value_aliases.items():
                v = kwargs.get(opt)
                if isinstance(v, str) and v in table:
                    kwargs[opt] = table[v]
            if not has_var_kw:
                unknown = [k for k in kwargs if k not in sig.parameters]
                if unknown:
                    close = difflib.get_close_matches(
                        unknown[0], list(sig.parameters), n=1, cutoff=0.6
                    )
                    hint = f"; did you mean '{close[0]}'?" if close else ""
                    raise TypeError(f"{name}(): unknown option '{unknown[0]}'{hint}")
            return fn(*args, **kwargs)

        wrapper.__pilotdid_renamed__ = renamed  # type: ignore[attr-defined]
        wrapper.__pilotdid_aliases__ = aliases  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return wrap


# ------------------------------------------------------------------------------------------
# ids in messages
# ------------------------------------------------------------------------------------------
#: How many ids a message lists before "and k more".
LISTED_IDS = 10


def plain_id(v: Any) -> str:
    """An id as the user wrote it: numpy scalars as Python values, whole floats as integers,
    no repr quotes (``np.str_('Hefei')`` -> ``Hefei``, ``3.0`` -> ``3``)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v)


def id_list(ids: Sequence[Any], limit: int | None = LISTED_IDS) -> str:
    """``Hefei, Wuhu`` / ``3, 17, ... and 12 more``: the ids of a message, as plain strings."""
    ids = list(ids)
    shown = ids if limit is None else ids[:limit]
    text = ", ".join(plain_id(v) for v in shown)
    if len(ids) > len(shown):
        text += f" and {len(ids) - len(shown)} more"
    return text

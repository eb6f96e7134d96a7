"""Number formatting for every paper table (``etable``, ``describe``, the report's summary
tables): fixed-point only, never scientific notation.

The rules, in the spirit of Stata's esttab and R's fixest:

- ``digits`` decimals by default. A non-zero number that would round to zero gets the
  decimals it needs to show :data:`SIG` significant digits (``0.00034``, never ``0.000``).
- A coefficient row whose numbers would need more than :data:`MAX_EXTRA` extra decimals is
  scaled by a power of ten instead (``scale_for``); its label then says ``(×10³)`` and the
  table note says what that means.
- p-values below ``10^-decimals`` print as ``<0.001`` (never ``0.000`` or ``9.95e-19``);
  at least three decimals.
- Randomization and bootstrap p-values print as computed, with their replicate count:
  ``0.001 (R = 1000)``; enough decimals to show ``1/(R + 1)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

#: significant digits shown when ``digits`` decimals would print a non-zero number as zero
SIG = 2
#: extra decimals allowed on a row before the row is scaled by a power of ten instead
MAX_EXTRA = 2
#: p-values get at least this many decimals (``digits = 2`` must not print p = 0.004 as 0.00)
P_DECIMALS = 3


def _finite(x: Any) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def needed_decimals(x: Any, digits: int) -> int:
    """Decimals that show ``x``: ``digits``, or more when ``x`` is non-zero and would round
    to zero at ``digits`` decimals (then :data:`SIG` significant digits)."""
    v = _finite(x)
    if v is None or v == 0.0 or abs(v) >= 0.5 * 10.0**-digits:
        return digits
    return max(digits, SIG - 1 - math.floor(math.log10(abs(v))))


def decimals_for(values: Iterable[Any], digits: int) -> int:
    """One number of decimals for several numbers shown together (an estimate and its
    standard error, a row of a table): the largest any of them needs."""
    return max((needed_decimals(v, digits) for v in values), default=digits)


def scale_for(values: Iterable[Any], digits: int) -> int:
    """The power of ten ``k`` (a multiple of 3, 0 when none is needed) to multiply a row's
    numbers by so that ``digits`` decimals show them: used when they would need more than
    ``digits + MAX_EXTRA`` decimals (a coefficient on a regressor in the thousands)."""
    vals = list(values)
    need = decimals_for(vals, digits)
    if need - digits <= MAX_EXTRA:
        return 0
    return 3 * math.ceil((need - digits) / 3)


def fixed(x: Any, decimals: int) -> str:
    """``x`` with exactly ``decimals`` decimals; "" for None/NaN/inf; never ``-0.000``."""
    v = _finite(x)
    if v is None:
        return ""
    s = f"{v:.{decimals}f}"
    if s.startswith("-") and float(s) == 0.0:
        s = s[1:]
    return s


def number(x: Any, digits: int) -> str:
    """A number with ``digits`` decimals, or more if it would otherwise print as zero.
    Integers (Python or numpy) print as integers."""
    if isinstance(x, bool):
        return str(x)
    if _is_int(x):
        return str(int(x))
    return fixed(x, needed_decimals(x, digits))


def _is_int(x: Any) -> bool:
    import numpy as np

    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def p_decimals(digits: int) -> int:
    return max(P_DECIMALS, digits)


def pvalue(p: Any, digits: int = 3) -> str:
    """A p-value: ``<0.001`` below the smallest number the decimals show (``10^-d`` with
    ``d = max(3, digits)``), else fixed with ``d`` decimals; "" when missing."""
    v = _finite(p)
    if v is None:
        return ""
    d = p_decimals(digits)
    if v < 10.0**-d:
        return "<" + fixed(10.0**-d, d)
    return fixed(v, d)


def rand_decimals(reps: int, digits: int) -> int:
    """Decimals of a randomization/bootstrap p-value from ``reps`` replicates: enough to
    show its resolution ``1/(reps + 1)`` (0.001 at R = 1000), at least ``max(3, digits)``."""
    r = max(int(reps), 1)
    return max(p_decimals(digits), math.floor(math.log10(r + 1)))


def rand_pvalue(p: Any, reps: Any, digits: int = 3, *, with_reps: bool = True) -> str:
    """A randomization (or bootstrap) p-value as computed, with its replicate count:
    ``0.001 (R = 1000)``. Not turned into ``<0.001``: its resolution is ``1/R``, and the
    reader needs R to judge it. A p of exactly 0 (a bootstrap's k/R with k = 0) renders
    ``<1/R``: ``<0.010 (R = 99)``."""
    v = _finite(p)
    if v is None:
        return ""
    r = _finite(reps)
    if r is None:
        return pvalue(v, digits)
    d = rand_decimals(int(r), digits)
    # A bootstrap p of k/R is 0 when no replicate is as extreme (a randomization p of
    # (1 + k)/(1 + R) never is): say what R can resolve, never "0.000"
    text = "<" + fixed(1.0 / max(r, 1.0), d) if v == 0.0 else fixed(v, d)
    return f"{text} (R = {int(r)})" if with_reps else text


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_text(k: int) -> str:
    """``×10³`` (plain text) for a row scaled by ``10^k``."""
    return "×10" + str(k).translate(_SUPERSCRIPT)


def power_tex(k: int) -> str:
    """``$\\times 10^{3}$`` (LaTeX) for a row scaled by ``10^k``."""
    return rf"$\times 10^{{{k}}}$"

"""Normal and Student-t inference for result tables: the one Python home of the inference
policy every result class applies (statistic, two-sided p-value, interval at ``level``).

Each function is a thin call into the Rust core's inference policy (until the core
bindings land, the bodies below are the Python formulas they must reproduce bit for bit;
``tests/golden`` pins them).

- :func:`coef_table`: rows without a finite positive SE get NaN; with ``df`` the Student t
  quantiles of the core (``linear_combinations`` with a diagonal covariance), else the normal.
- :func:`normal_columns`: the normal table without masking (spatial models: z = est / se as is).
- :func:`normal_quantile`, :func:`normal_critical` (= quantile at 0.5 + level / 2),
  :func:`normal_pvalue` (two-sided, NaN for a non-finite statistic).
- :func:`z975_row`: the two-step mechanism table's 95% row, which has always used the printed
  constant 1.959963984540054 (2 ulp above the normal quantile); kept so no number moves.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

__all__ = [
    "Z975",
    "coef_table",
    "normal_columns",
    "normal_critical",
    "normal_pvalue",
    "normal_quantile",
    "z975_row",
]

#: The two-step mechanism table's 95% critical value (see the module docstring).
Z975 = 1.959963984540054


def normal_quantile(p: float) -> float:
    """The standard normal quantile at probability ``p``."""
    return NormalDist().inv_cdf(p)


def normal_critical(level: float) -> float:
    """The two-sided normal critical value at ``level`` (quantile at 0.5 + level / 2)."""
    return normal_quantile(0.5 + level / 2)


def normal_pvalue(z: float) -> float:
    """Two-sided normal p-value of statistic ``z``; NaN when ``z`` is not finite."""
    return math.erfc(abs(z) / math.sqrt(2.0)) if np.isfinite(z) else float("nan")


def coef_table(
    estimate: np.ndarray, std_error: np.ndarray, level: float, df: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """statistic, two-sided p-value and the interval at ``level``: Student t with ``df``
    degrees of freedom when the estimator's own intervals use one (through the core's
    quantiles), the normal otherwise. Rows without a finite positive SE get NaN."""
    est = np.asarray(estimate, dtype=float)
    se = np.asarray(std_error, dtype=float)
    n = len(est)
    stat = np.full(n, np.nan)
    p = np.full(n, np.nan)
    lo = np.full(n, np.nan)
    hi = np.full(n, np.nan)
    ok = np.isfinite(est) & np.isfinite(se) & (se > 0)
    if not ok.any():
        return stat, p, lo, hi
    if df:
        from pilotdid import _core

        k = int(ok.sum())
        out = np.asarray(
            _core.linear_combinations(
                np.ascontiguousarray(est[ok]), np.diag(se[ok] ** 2), np.eye(k), int(df), level
            )
        )
        stat[ok], p[ok], lo[ok], hi[ok] = out[:, 2], out[:, 3], out[:, 4], out[:, 5]
        return stat, p, lo, hi
    z = normal_critical(level)
    stat[ok] = est[ok] / se[ok]
    p[ok] = [math.erfc(abs(v) / math.sqrt(2.0)) for v in stat[ok]]
    lo[ok] = est[ok] - z * se[ok]
    hi[ok] = est[ok] + z * se[ok]
    return stat, p, lo, hi


def normal_columns(est: np.ndarray, se: np.ndarray, level: float) -> dict[str, np.ndarray]:
    """Normal statistic, p-value and interval columns without masking (z = est / se as is)."""
    q = normal_critical(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = est / se
    p = np.array([math.erfc(abs(v) / math.sqrt(2)) if np.isfinite(v) else np.nan for v in z])
    return {
        "statistic": z,
        "p_value": p,
        "conf_low": est - q * se,
        "conf_high": est + q * se,
    }


def z975_row(est: float, se: float) -> dict[str, float]:
    """statistic, p_value, conf_low, conf_high of the two-step mechanism table (95%)."""
    z = float(est) / float(se) if se else float("nan")
    return {
        "statistic": z,
        "p_value": normal_pvalue(z),
        "conf_low": float(est) - Z975 * float(se),
        "conf_high": float(est) + Z975 * float(se),
    }

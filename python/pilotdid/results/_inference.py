"""Normal and Student-t inference for result tables: the one Python home of the inference
policy every result class applies (statistic, two-sided p-value, interval at ``level``).

Each function is a thin call into the Rust core's inference policy
(``core/src/inference/policy.rs``), which reproduces bit for bit the Python formulas these functions
used to hold (``statistics.NormalDist().inv_cdf``, ``math.erfc``; ``tests/golden`` and
``tests/test_inference_policy.py`` pin them).

- :func:`coef_table`: rows without a finite positive SE get NaN; with ``df`` the Student t
  quantiles of the core (``linear_combinations`` with a diagonal covariance), else the normal;
  a ``df`` array gives each row its own (fractional) degrees of freedom.
- :func:`normal_columns`: the normal table without masking (spatial models: z = est / se as is).
- :func:`normal_quantile`, :func:`normal_critical` (= quantile at 0.5 + level / 2),
  :func:`normal_pvalue` (two-sided, NaN for a non-finite statistic).
- :func:`z975_row`: the two-step mechanism table's 95% row, which has always used the printed
  constant 1.959963984540054 (2 ulp above the normal quantile); kept so no number moves.
"""

from __future__ import annotations

import numpy as np

from pilotdid import _core

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
    return _core.normal_quantile(float(p))


def normal_critical(level: float) -> float:
    """The two-sided normal critical value at ``level`` (quantile at 0.5 + level / 2)."""
    return _core.normal_critical(float(level))


def normal_pvalue(z: float) -> float:
    """Two-sided normal p-value of statistic ``z``; NaN when ``z`` is not finite."""
    return float(_core.normal_pvalues(np.array([z], dtype=float))[0])


def coef_table(
    estimate: np.ndarray, std_error: np.ndarray, level: float, df: int | np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """statistic, two-sided p-value and the interval at ``level``: Student t with ``df``
    degrees of freedom when the estimator's own intervals use one, the normal otherwise.
    ``df`` may be one value per row (fractional; inf or NaN rows are normal). Rows without a
    finite positive SE get NaN."""
    est = np.ascontiguousarray(estimate, dtype=float)
    se = np.ascontiguousarray(std_error, dtype=float)
    if isinstance(df, np.ndarray):
        rows = np.ascontiguousarray(df, dtype=float)
        tab = _core.inference_table_row_df(est, se, rows, level=float(level))
    else:
        tab = _core.inference_table(est, se, level=float(level), df=int(df) if df else None)
    return tab.statistic, tab.p_value, tab.conf_low, tab.conf_high


def normal_columns(est: np.ndarray, se: np.ndarray, level: float) -> dict[str, np.ndarray]:
    """Normal statistic, p-value and interval columns without masking (z = est / se as is)."""
    q = normal_critical(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = est / se
    return {
        "statistic": z,
        "p_value": _core.normal_pvalues(np.ascontiguousarray(z, dtype=float)),
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

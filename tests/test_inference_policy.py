"""The core's inference policy (`_core.inference_table`, `_core.normal_critical`) against the
Python formulas it replaced, bit for bit (float.hex).

Reference: `inference_columns` of python/pilotdid/results/event_study.py as of the commit that
moved it to the core (its body is copied below as the oracle): CPython 3.11's
`statistics.NormalDist().inv_cdf` (Wichura's AS241), `math.erfc` (the C library's erfc), and
`_core.linear_combinations` with a diagonal covariance when the estimator has degrees of
freedom.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
from statistics import NormalDist

import numpy as np
import pytest

from pilotdid import _core


def oracle(estimate, std_error, level, df):
    """The body of `inference_columns` before the move."""
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
        k = int(ok.sum())
        out = np.asarray(
            _core.linear_combinations(
                np.ascontiguousarray(est[ok]), np.diag(se[ok] ** 2), np.eye(k), int(df), level
            )
        )
        stat[ok], p[ok], lo[ok], hi[ok] = out[:, 2], out[:, 3], out[:, 4], out[:, 5]
        return stat, p, lo, hi
    z = NormalDist().inv_cdf(0.5 + level / 2)
    stat[ok] = est[ok] / se[ok]
    p[ok] = [math.erfc(abs(v) / math.sqrt(2.0)) for v in stat[ok]]
    lo[ok] = est[ok] - z * se[ok]
    hi[ok] = est[ok] + z * se[ok]
    return stat, p, lo, hi


def hexes(a):
    return ["nan" if math.isnan(v) else float(v).hex() for v in np.asarray(a, dtype=float)]


def assert_bitwise(got, want, what):
    g, w = hexes(got), hexes(want)
    bad = [i for i in range(len(w)) if g[i] != w[i]]
    assert not bad, (
        f"{what}: {len(bad)} of {len(w)} differ, first at {bad[0]}: {g[bad[0]]} vs {w[bad[0]]}"
    )


def random_rows(rng, n):
    est = rng.normal(0.0, 1.0, n) * 10.0 ** rng.integers(-6, 6, n)
    se = np.abs(rng.normal(0.0, 1.0, n)) * 10.0 ** rng.integers(-6, 6, n)
    # the special values inference_columns meets: missing, zero and negative SEs, signed zeros
    pick = rng.random(n)
    se[pick < 0.05] = np.nan
    se[(pick >= 0.05) & (pick < 0.1)] = 0.0
    se[(pick >= 0.1) & (pick < 0.15)] *= -1.0
    est[(pick >= 0.15) & (pick < 0.2)] = np.nan
    est[(pick >= 0.2) & (pick < 0.23)] = -0.0
    est[(pick >= 0.23) & (pick < 0.25)] = 0.0
    est[(pick >= 0.25) & (pick < 0.27)] = np.inf
    se[(pick >= 0.27) & (pick < 0.29)] = np.inf
    return est, se


@pytest.mark.parametrize("df", [None, 0, 1, 2, 3, 5, 10, 29, 57, 120, 200])
def test_inference_table_is_bitwise_the_python_formulas(df):
    """inference_columns (above) for random rows incl. NaN, 0, negative SEs; levels 0.5..0.999."""
    rng = np.random.default_rng(100 + (df or 0))
    for level in np.concatenate([[0.5, 0.9, 0.95, 0.99, 0.999], rng.uniform(0.5, 0.999, 15)]):
        est, se = random_rows(rng, int(rng.integers(1, 60)))
        got = _core.inference_table(est, se, level=float(level), df=df)
        want = oracle(est, se, float(level), df)
        for name, g, w in zip(
            ("statistic", "p_value", "conf_low", "conf_high"),
            (got.statistic, got.p_value, got.conf_low, got.conf_high),
            want,
        ):
            assert_bitwise(g, w, f"df={df} level={level} {name}")


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_inference_table_extreme_standard_errors():
    """SEs whose square overflows or underflows: the t branch keeps linear_combinations'
    arithmetic (an overflowed se^2 makes the other rows' variance NaN, then 0)."""
    est = np.array([1.0, -2.0, 0.5, -0.0, 3.0])
    for se in ([1e200, 1.0, 2.0, 1.0, 1.0], [1e-200, 1.0, 1e300, 1.0, 1.0], [1e-170] * 5):
        se = np.array(se)
        for df in (None, 4):
            got = _core.inference_table(est, se, level=0.9, df=df)
            want = oracle(est, se, 0.9, df)
            for g, w in zip((got.statistic, got.p_value, got.conf_low, got.conf_high), want):
                assert_bitwise(g, w, f"se={se[0]} df={df}")


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_p_values_are_math_erfc_on_a_million_statistics():
    """p = math.erfc(|t| / sqrt 2), bit for bit, for 10^6 statistics from 1e-300 to the tail
    where erfc underflows (and t = +-inf from a finite estimate over a tiny SE)."""
    rng = np.random.default_rng(7)
    n = 1_000_000
    t = rng.standard_normal(n) * 10.0 ** rng.uniform(-300, 2.5, n)
    t[:4] = [1e300, -1e300, 38.0, -27.0]
    se = np.ones(n)
    se[:2] = 1e-300
    got = _core.inference_table(t, se, level=0.95).p_value
    stat = t / se
    want = np.array([math.erfc(abs(v) / math.sqrt(2.0)) for v in stat])
    assert_bitwise(got, want, "p-values")


def test_c_library_erfc_is_math_erfc():
    """The core calls the C library's erfc; CPython's math.erfc returns the same bits,
    including negative, infinite and NaN arguments (10^6 draws)."""
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    libm.erfc.restype = ctypes.c_double
    libm.erfc.argtypes = [ctypes.c_double]
    rng = np.random.default_rng(3)
    xs = np.concatenate(
        [
            rng.uniform(-30.0, 30.0, 500_000),
            rng.standard_normal(499_990) * 10.0 ** rng.uniform(-300, 1.5, 499_990),
            [np.inf, -np.inf, np.nan, 0.0, -0.0, 5e-324, 26.55, 27.3, -6.0, 1e308],
        ]
    )
    bad = [x for x in xs.tolist() if hexes([libm.erfc(x)]) != hexes([math.erfc(x)])]
    assert not bad, bad[:5]


def test_normal_critical_is_normaldist():
    """normal_critical(level) == NormalDist().inv_cdf(0.5 + level / 2) for 10^5 levels."""
    rng = np.random.default_rng(11)
    levels = np.concatenate(
        [
            rng.uniform(0.0, 1.0, 50_000),
            1.0 - 10.0 ** rng.uniform(-16, 0, 40_000),
            10.0 ** rng.uniform(-300, 0, 9_990),
            [0.5, 0.9, 0.95, 0.99, 0.999, 0.85, 0.15, 1e-17, 1.0 - 2.0**-53, 0.0],
        ]
    ).tolist()
    dist = NormalDist()

    def both(f, lv):
        try:
            return float(f(lv)).hex()
        except ValueError:  # StatisticsError is a ValueError, and so is PilotdidError
            return "refused"

    got = [both(_core.normal_critical, lv) for lv in levels]
    want = [both(lambda v: dist.inv_cdf(0.5 + v / 2), lv) for lv in levels]
    assert got == want
    assert 0 < want.count("refused") < 1000  # levels whose 0.5 + level/2 rounds to 1


def test_bad_levels_are_refused():
    """Levels that put the quantile outside (0, 1) raise, as NormalDist did."""
    for lv in (1.0, 1.5, -1.0):
        with pytest.raises(ValueError):
            _core.normal_critical(lv)
        with pytest.raises(ValueError):
            _core.inference_table(np.array([1.0]), np.array([1.0]), level=lv)
    with pytest.raises(TypeError):
        _core.inference_table(np.array([1.0]), np.array([1.0]), 0.95)


def test_normal_quantile_and_pvalues_are_the_python_formulas():
    """normal_quantile(p) == NormalDist().inv_cdf(p) and normal_pvalues(z) ==
    math.erfc(abs(z) / math.sqrt(2.0)) (NaN for a non-finite z), bit for bit."""
    rng = np.random.default_rng(5)
    ps = np.concatenate([rng.uniform(0, 1, 20_000), 10.0 ** rng.uniform(-300, 0, 5_000)])
    ps = ps[(ps > 0) & (ps < 1)].tolist()
    dist = NormalDist()
    assert hexes([_core.normal_quantile(p) for p in ps]) == hexes([dist.inv_cdf(p) for p in ps])
    z = np.concatenate([rng.standard_normal(50_000) * 10.0 ** rng.uniform(-5, 2, 50_000)])
    z = np.concatenate([z, [np.inf, -np.inf, np.nan, 0.0, -0.0, 40.0]])
    want = [math.erfc(abs(v) / math.sqrt(2.0)) if np.isfinite(v) else np.nan for v in z]
    assert_bitwise(_core.normal_pvalues(z), want, "normal_pvalues")
    for p in (0.0, 1.0, -0.5, 2.0):
        with pytest.raises(ValueError):
            _core.normal_quantile(p)

"""Monte Carlo checks with a known truth: feols is unbiased, CR1 intervals cover at their
nominal rate under within-unit serial correlation, and the restricted wild cluster bootstrap
rejects a true null at about its nominal rate (and a false one nearly always).

Simulation: y_it = beta * x_it + a_i + g_t + u_it, x_it = 0.5 * b_i + e_it (correlated with the
unit effect, so pooled OLS would be biased), u_it AR(1) within unit (rho 0.6) with
unit-level heteroskedasticity. All draws seeded.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import pilotdid as pdid

BETA = 0.5


def simulate(rng: np.random.Generator, n_units: int, n_periods: int, beta: float = BETA):
    unit = np.repeat(np.arange(n_units), n_periods)
    year = np.tile(np.arange(n_periods), n_units)
    a = rng.normal(size=n_units)
    x = 0.5 * a[unit] + rng.normal(size=unit.size) + 0.3 * rng.normal(size=n_units)[unit]
    scale = np.exp(0.5 * rng.normal(size=n_units))
    u = np.empty((n_units, n_periods))
    u[:, 0] = rng.normal(size=n_units)
    for t in range(1, n_periods):
        u[:, t] = 0.6 * u[:, t - 1] + rng.normal(size=n_units)
    y = beta * x + a[unit] + rng.normal(size=n_periods)[year] + (scale[:, None] * u).ravel()
    return pl.DataFrame({"y": y, "x": x, "unit": unit, "year": year})


def test_cr1_interval_covers_at_nominal_rate():
    """400 panels of 50 units x 8 periods: mean estimate within 3 MC s.e. of beta, and 95% CR1
    coverage within [0.925, 0.975] (binomial s.d. at 400 draws is 0.011)."""
    rng = np.random.default_rng(20121)
    est, cover = [], []
    for _ in range(400):
        fit = pdid.feols("y ~ x | unit + year", simulate(rng, 50, 8), vcov={"CR1": "unit"})
        ci = fit.confint().row(0, named=True)
        est.append(fit.coef()["x"])
        cover.append(ci["conf_low"] <= BETA <= ci["conf_high"])
    est = np.array(est)
    assert abs(est.mean() - BETA) < 3 * est.std() / np.sqrt(est.size)
    assert 0.925 <= np.mean(cover) <= 0.975


def test_wild_bootstrap_size_and_power():
    """200 panels with 20 clusters: the WCR test of the true beta rejects at 5% in 1.5%-10%
    of draws (binomial s.d. 1.5 points); a test of beta = 0 (false) rejects in > 95%."""
    rng = np.random.default_rng(7)
    reject_true, reject_false = [], []
    for i in range(200):
        fit = pdid.feols("y ~ x | unit + year", simulate(rng, 20, 8), vcov={"CR1": "unit"})
        boot = fit.wildboottest("x", reps=399, seed=i, r=BETA)
        reject_true.append(boot.p_value < 0.05)
        if i < 50:
            reject_false.append(fit.wildboottest("x", reps=399, seed=i).p_value < 0.05)
        assert boot.fe_as_dummies == ["year"] and boot.fe_exact
    assert 0.015 <= np.mean(reject_true) <= 0.10
    assert np.mean(reject_false) > 0.95


@pytest.mark.parametrize("backend", ["dict", "structured", "pandas"])
def test_other_inputs_equal_polars(backend):
    """A dict of numpy arrays, a numpy structured array and pandas give the polars result
    exactly; CRV1 (pyfixest's spelling) is accepted for CR1."""
    df = simulate(np.random.default_rng(3), 30, 6)
    ref = pdid.feols("y ~ x | unit + year", df, vcov={"CR1": "unit"})
    cols = {c: df.get_column(c).to_numpy() for c in df.columns}
    if backend == "dict":
        data = cols
    elif backend == "structured":
        data = np.rec.fromarrays(list(cols.values()), names=list(cols))
    else:
        pd = pytest.importorskip("pandas")
        data = pd.DataFrame(cols)
    fit = pdid.feols("y ~ x | unit + year", data, vcov={"CRV1": "unit"})
    assert fit.coef() == ref.coef() and fit.se() == ref.se()

"""Likelihood-ratio intervals of rho / lambda and the weak-identification flag (issue 15,
part 5).

References: the LR equation itself, 2 (l(rho_hat) - l_c(rho)) = chi2_1(level), checked on
the concentrated log-likelihood the fit reports at a fixed rho (``fixed_rho`` /
``fixed_lambda``: beta and sigma2 concentrated out, the same fixed effects); an independent
numpy LR test of rho = 0 (the within-OLS log-likelihood); Monte Carlo truth for coverage
and for the flag rates on two designs (src/spatial/identification.rs explains the rule):

- identified: kNN (k = 4) W on 290 random points, row-standardised; SAR with two-way effects
  and the Lee-Yu transformation, T = 5, rho = 0.4, beta = 1, x, unit and period effects and
  errors N(0, 1). 500 draws: LR coverage must lie in [0.93, 0.97] (2,000 draws with another
  seed gave 0.950) and the flag must be raised in <= 10% of draws (it is in none: the
  interval is about 0.1 wide).
- weak: the bundled 41-city inverse-distance W (the YRD panel's), same model and DGP with
  T = 16 (the panel's length); 100 draws: the flag must be raised in >= 90% (it is in all:
  the interval is 0.7-0.8 wide, some reach the upper bound).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import polars as pl
import pytest

import pilotdid as pdid
import pilotdid.datasets as ds
import pilotdid.weights as pw
from pilotdid._core import PilotdidError
from pilotdid.results.spatial import WeakIdentificationWarning

FML = "gtfp ~ did + ln_gdp_pc + urbanization"
KW = {"unit": "city_id", "time": "year"}
CHI2_95 = 3.841458820694124  # scipy.stats.chi2.ppf(0.95, 1)


@pytest.fixture(scope="module")
def yrd():
    return ds.yrd()


@pytest.fixture(scope="module")
def yrd_w():
    c = ds.yrd_cities()
    return pw.inverse_distance(c["lat"], c["lon"], ids=list(range(1, 42)))


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


# ------------------------------------------------------------------------------------------
# the LR equation, the estimate inside, LR(0) against numpy
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "fixed", "opts"),
    [
        (pdid.sar, "fixed_rho", {"effects": "individual"}),
        (pdid.sar, "fixed_rho", {"effects": "twoways", "lee_yu": True}),
        (pdid.sdm, "fixed_rho", {"effects": "time"}),
        (pdid.sem, "fixed_lambda", {"effects": "individual"}),
        (pdid.sdem, "fixed_lambda", {"effects": "twoways", "lee_yu": True}),
        (pdid.sar, "fixed_rho", {"effects": "individual", "method": "sparse"}),
    ],
)
def test_lr_interval_ends_solve_the_lr_equation(yrd, yrd_w, model, fixed, opts):
    """The end points r of the 95% and 90% LR intervals satisfy 2 (l_hat - l_c(r)) = chi2_1
    to 1e-6, l_c(r) being the log-likelihood of the same model with the spatial parameter
    fixed at r; the estimate lies inside; the interval lies inside the admissible range."""
    for level in (0.95, 0.90):
        res = _quiet(model, FML, yrd, W=yrd_w, level=level, **opts, **KW)
        iv = res.spatial_intervals().row(0, named=True)
        assert iv["level"] == level
        assert iv["conf_low"] < iv["estimate"] < iv["conf_high"]
        assert res.rho_interval == (iv["conf_low"], iv["conf_high"])
        assert iv["bound_low"] <= iv["conf_low"] and iv["conf_high"] <= iv["bound_high"]
        crit = CHI2_95 if level == 0.95 else 2.705543454095404  # chi2.ppf(0.90, 1)
        for end, reached in [("conf_low", "reaches_low"), ("conf_high", "reaches_high")]:
            if iv[reached]:
                continue
            at = _quiet(model, FML, yrd, W=yrd_w, **{fixed: iv[end]}, **opts, **KW)
            assert 2 * (res.loglik - at.loglik) == pytest.approx(crit, abs=1e-6)


def test_lr_zero_equals_numpy_within_ols_lr(yrd, yrd_w):
    """LR of rho = 0 (SAR, unit effects) = 2 (l_hat - l_OLS), l_OLS the Gaussian
    log-likelihood of within-unit OLS computed here in numpy (sigma2 = RSS / NT), and = the
    same from a fixed_rho=0 fit."""
    res = _quiet(pdid.sar, FML, yrd, W=yrd_w, effects="individual", **KW)
    df = yrd.sort(["year", "city_id"])
    cols = ["gtfp", "did", "ln_gdp_pc", "urbanization"]
    m = df.select(cols).to_numpy()
    unit = df["city_id"].to_numpy()
    for u in np.unique(unit):
        m[unit == u] -= m[unit == u].mean(axis=0)
    y, x = m[:, 0], m[:, 1:]
    e = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    nt = len(y)
    ll_ols = -0.5 * nt * np.log(2 * np.pi * (e @ e) / nt) - 0.5 * nt
    lr0 = res.spatial_intervals()["lr_zero"][0]
    assert lr0 == pytest.approx(2 * (res.loglik - ll_ols), abs=1e-7)
    at0 = _quiet(pdid.sar, FML, yrd, W=yrd_w, effects="individual", fixed_rho=0.0, **KW)
    assert lr0 == pytest.approx(2 * (res.loglik - at0.loglik), abs=1e-7)


def test_sac_profiles_both_parameters(yrd, yrd_w):
    """SAC: one interval per spatial parameter (rho, then lambda), each containing its
    estimate, inside the admissible range; dense and sparse paths agree to 1e-6."""
    dense = _quiet(pdid.sac, FML, yrd, W=yrd_w, effects="individual", **KW)
    sparse = _quiet(pdid.sac, FML, yrd, W=yrd_w, effects="individual", method="sparse", **KW)
    tab = dense.spatial_intervals()
    assert tab["term"].to_list() == ["rho", "lambda"]
    for r in tab.iter_rows(named=True):
        assert r["bound_low"] <= r["conf_low"] < r["estimate"] < r["conf_high"] <= r["bound_high"]
    assert dense.lambda_interval == (tab["conf_low"][1], tab["conf_high"][1])
    for a, b in zip(tab.iter_rows(), sparse.spatial_intervals().iter_rows()):
        assert a[1:4] == pytest.approx(b[1:4], abs=1e-6)


def test_fixed_parameter_has_no_interval_and_level_is_checked(yrd, yrd_w):
    res = _quiet(pdid.sar, FML, yrd, W=yrd_w, fixed_rho=0.2, **KW)
    assert res.rho_interval is None and res.spatial_intervals().height == 0
    assert not res.weakly_identified
    for bad in (0.0, 1.0, 1.5, "high"):
        with pytest.raises(PilotdidError, match="level"):
            pdid.sar(FML, yrd, W=yrd_w, level=bad, **KW)


def test_weak_identification_warns_and_is_in_summary(yrd, yrd_w):
    """The YRD panel with two-way effects: rho's interval is about 0.65 wide (more than a
    quarter of the capped range 2), so the fit warns and summary() says why; with unit
    effects only it is about 0.31 wide: no warning."""
    with pytest.warns(WeakIdentificationWarning, match="rho is weakly identified"):
        res = pdid.sar(FML, yrd, W=yrd_w, effects="twoways", **KW)
    assert res.weakly_identified
    text = res._summary_text(0.95)
    assert "LR 95% interval for rho" in text and "weakly identified" in text
    with warnings.catch_warnings():
        warnings.simplefilter("error", WeakIdentificationWarning)
        ok = pdid.sar(FML, yrd, W=yrd_w, effects="individual", **KW)
    assert not ok.weakly_identified
    assert "weakly identified" not in ok._summary_text(0.95)


# ------------------------------------------------------------------------------------------
# Monte Carlo: coverage and flag rates
# ------------------------------------------------------------------------------------------
def _draws(w: pw.Weights, n_periods: int, draws: int, seed: int, rho: float = 0.4):
    """SAR DGP y_t = (I - rho W)^-1 (x_t + a + tau_t + e_t); fits with two-way effects and
    the Lee-Yu transformation; returns (estimate, low, high, weakly_identified) per draw."""
    n = w.n
    a_inv = np.linalg.inv(np.eye(n) - rho * w.to_dense())
    rng = np.random.default_rng(seed)
    unit = np.tile(np.asarray(w.ids), n_periods)
    period = np.repeat(np.arange(n_periods), n)
    out = []
    for _ in range(draws):
        x = rng.normal(size=(n_periods, n))
        u = rng.normal(size=n)[None, :] + rng.normal(size=(n_periods, 1))
        y = (x + u + rng.normal(size=(n_periods, n))) @ a_inv.T
        df = pl.DataFrame({"u": unit, "t": period, "y": y.ravel(), "x": x.ravel()})
        res = _quiet(pdid.sar, "y ~ x", df, W=w, unit="u", time="t", effects="twoways",
                     lee_yu=True)  # fmt: skip
        lo, hi = res.rho_interval
        out.append((res.rho, lo, hi, res.weakly_identified))
    return np.asarray(out, dtype=float)


def test_monte_carlo_coverage_and_flag_rates():
    t0 = time.perf_counter()
    rng = np.random.default_rng(290)
    knn = pw.knn(rng.uniform(28, 33, 290), rng.uniform(115, 122, 290), k=4)
    ok = _draws(knn, n_periods=5, draws=500, seed=11)
    covered = np.mean((ok[:, 1] <= 0.4) & (0.4 <= ok[:, 2]))
    c = ds.yrd_cities()
    inv = pw.inverse_distance(c["lat"], c["lon"], ids=list(range(1, 42)))
    weak = _draws(inv, n_periods=16, draws=100, seed=12)
    print(
        f"kNN N=290 T=5: coverage {covered:.3f}, flagged {ok[:, 3].mean():.3f}, width median "
        f"{np.median(ok[:, 2] - ok[:, 1]):.3f}; inverse-distance N=41 T=16: flagged "
        f"{weak[:, 3].mean():.3f}, width median {np.median(weak[:, 2] - weak[:, 1]):.3f}; "
        f"{time.perf_counter() - t0:.1f} s"
    )
    assert 0.93 <= covered <= 0.97
    assert ok[:, 3].mean() <= 0.10
    assert weak[:, 3].mean() >= 0.90

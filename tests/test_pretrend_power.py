"""Pre-trend power, Roth (2022) "Pretest with Caution", AER: Insights 4(3).

No port of R ``pretrends`` is installable from PyPI, so the references are:
- exact identities: one dimension (closed-form normal probabilities and the truncated-normal
  mean), independent coordinates (products of univariate probabilities, coordinate-wise
  truncated means, no change of post-period estimates after pre-testing), orthant
  probabilities (arcsine law), Wald power with one restriction = the |t| test;
- scipy's ``multivariate_normal.cdf`` (an independent Genz implementation) for rectangle
  probabilities of correlated normals, and diff-diff 3.13 ``PreTrendsPower`` (NIS form, scipy
  underneath) for the power of a linear violation and its minimum detectable slope;
- Monte Carlo with a known truth: betahat ~ N(delta, Sigma) on three designs, 20,000 draws
  each (the issue asks for >= 5,000): rejection rate = power, mean of the post-period
  estimates among the draws that pass = E[betahat | pass], and the conditional coverage, each
  within 4.5 Monte Carlo standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

import pilotdid as pdid
from pilotdid import _core, datasets
from pilotdid._core import PilotdidError
from pilotdid.results.event_study import EventStudyResult

stats = pytest.importorskip("scipy.stats")
norm = stats.norm


def _ar1(k: int, rho: float, sd: np.ndarray) -> np.ndarray:
    idx = np.arange(k)
    corr = rho ** np.abs(idx[:, None] - idx[None, :])
    return corr * np.outer(sd, sd)


def _study(event_time, estimate, vcov, reference=(-1,)) -> EventStudyResult:
    est = np.asarray(estimate, dtype=float)
    se = np.sqrt(np.diag(vcov))
    return EventStudyResult(
        estimator="twfe",
        event_time=np.asarray(event_time),
        estimate=est,
        std_error=se,
        conf_low=est - 1.959963984540054 * se,
        conf_high=est + 1.959963984540054 * se,
        vcov=np.asarray(vcov, dtype=float),
        reference=reference,
    )


# --- the MVN machinery -------------------------------------------------------------------
def test_rectangle_one_dimension_is_closed_form():
    """Phi((b - mu)/s) - Phi((a - mu)/s), exactly."""
    p, err = _core.mvn_rectangle_probability(
        np.array([0.3]), np.array([[2.0]]), np.array([-1.0]), np.array([1.5])
    )
    s = math.sqrt(2.0)
    assert err == 0.0
    assert p == pytest.approx(norm.cdf(1.2 / s) - norm.cdf(-1.3 / s), abs=1e-14)


def test_rectangle_independent_is_product():
    """Diagonal covariance: the product of univariate probabilities."""
    sd = np.array([1.0, 0.5, 2.0, 1.5, 0.7])
    mean = np.array([0.2, -0.1, 0.5, 0.0, 0.3])
    lo, hi = -1.96 * sd, 1.96 * sd
    p, _ = _core.mvn_rectangle_probability(mean, np.diag(sd**2), lo, hi)
    want = np.prod(norm.cdf((hi - mean) / sd) - norm.cdf((lo - mean) / sd))
    assert p == pytest.approx(want, abs=1e-5)


def test_rectangle_orthant_arcsine_law():
    """P(X1 <= 0, X2 <= 0, X3 <= 0) = 1/8 + (asin r12 + asin r13 + asin r23) / (4 pi)."""
    r = np.array([[1.0, 0.4, -0.3], [0.4, 1.0, 0.6], [-0.3, 0.6, 1.0]])
    inf = np.full(3, -np.inf)
    p, _ = _core.mvn_rectangle_probability(np.zeros(3), r, inf, np.zeros(3))
    want = 0.125 + (math.asin(0.4) + math.asin(-0.3) + math.asin(0.6)) / (4 * math.pi)
    assert p == pytest.approx(want, abs=1e-5)


@pytest.mark.parametrize(
    "k,rho",
    [(2, 0.5), (3, 0.8), (4, -0.3), (6, 0.6), pytest.param(8, 0.9, marks=pytest.mark.slow)],
)
def test_rectangle_matches_scipy_genz(k, rho):
    """scipy.stats.multivariate_normal.cdf (Genz, abseps 1e-6) to 1e-4."""
    sd = np.linspace(0.5, 1.5, k)
    cov = _ar1(k, rho, sd)
    mean = np.linspace(-0.8, 0.6, k) * sd
    lo, hi = -1.96 * sd, 1.96 * sd
    p, err = _core.mvn_rectangle_probability(mean, cov, lo, hi)
    want = stats.multivariate_normal(
        mean=mean, cov=cov, abseps=1e-7, releps=0, maxpts=2_000_000 * k, seed=0
    ).cdf(hi, lower_limit=lo)
    assert err < 1e-5
    assert p == pytest.approx(want, abs=1e-4)


def test_rectangle_is_deterministic():
    cov = _ar1(5, 0.7, np.ones(5))
    args = (np.full(5, 0.4), cov, np.full(5, -1.96), np.full(5, 1.96))
    assert _core.mvn_rectangle_probability(*args) == _core.mvn_rectangle_probability(*args)


def test_truncated_mean_one_dimension_and_independent():
    """1-D: mu + s (phi(a) - phi(b)) / (Phi(b) - Phi(a)); independent: coordinate-wise."""
    sd = np.array([1.0, 2.0, 0.5])
    mean = np.array([0.5, -1.0, 0.2])
    lo, hi = np.array([-1.0, -3.0, -np.inf]), np.array([2.0, 1.0, 0.3])
    m, p = _core.mvn_truncated_mean(mean, np.diag(sd**2), lo, hi)
    a, b = (lo - mean) / sd, (hi - mean) / sd
    z = norm.cdf(b) - norm.cdf(a)
    want = mean + sd * (norm.pdf(a) - norm.pdf(b)) / z
    np.testing.assert_allclose(m, want, atol=1e-5)
    assert p == pytest.approx(np.prod(z), abs=1e-5)


def test_truncated_mean_correlated_matches_simulation():
    """Correlated 3-D: the Tallis mean equals the mean of 2,000,000 accepted-or-not draws."""
    cov = _ar1(3, 0.6, np.array([1.0, 1.2, 0.8]))
    mean = np.array([0.5, 0.9, -0.4])
    lo, hi = -1.96 * np.sqrt(np.diag(cov)), 1.96 * np.sqrt(np.diag(cov))
    m, p = _core.mvn_truncated_mean(mean, cov, lo, hi)
    rng = np.random.default_rng(7)
    x = rng.multivariate_normal(mean, cov, size=2_000_000)
    keep = np.all((x >= lo) & (x <= hi), axis=1)
    sim = x[keep].mean(axis=0)
    mc_se = x[keep].std(axis=0) / math.sqrt(keep.sum())
    assert np.all(np.abs(m - sim) < 4.5 * mc_se), (m, sim, mc_se)
    assert p == pytest.approx(keep.mean(), abs=4.5 * math.sqrt(p * (1 - p) / len(x)))


# --- pre-trend power ---------------------------------------------------------------------
def test_one_pre_period_closed_forms():
    """One pre-period: power = 1 - [Phi(z - d/s) - Phi(-z - d/s)]; Wald power equals it;
    E[b_post | pass] = d_post + (c/s^2) (E[b_pre | pass] - d_pre) (pretrends'
    meanBetaPost_NIS with the 1-D truncated mean)."""
    cov = np.array([[0.04, 0.018], [0.018, 0.09]])
    res = pdid.pretrend_power(_study([-2, 0], [0.05, 0.3], cov), slope=0.15)
    s, d_pre, d_post, z = 0.2, -0.15, 0.15, norm.ppf(0.975)
    a, b = -z - d_pre / s, z - d_pre / s
    pass_p = norm.cdf(b) - norm.cdf(a)
    assert res.power == pytest.approx(1 - pass_p, abs=1e-12)
    assert res.wald_power == pytest.approx(res.power, abs=1e-9)
    mean_pre = d_pre + s * (norm.pdf(a) - norm.pdf(b)) / pass_p
    post = d_post + 0.018 / 0.04 * (mean_pre - d_pre)
    t = res.tidy()
    assert t["expected_after_pretest"].to_list() == pytest.approx([mean_pre, post], abs=1e-10)
    assert t["bias"][1] == pytest.approx(0.15) and t["bias"][0] is None
    # Bayes factor and likelihood ratio, pretrends' df_power
    size = 1 - (norm.cdf(z) - norm.cdf(-z))
    assert res.size == pytest.approx(size, abs=1e-12)
    assert res.bayes_factor == pytest.approx(pass_p / (1 - size), abs=1e-12)
    lr = norm.pdf(0.05, d_pre, s) / norm.pdf(0.05, 0, s)
    assert res.likelihood_ratio == pytest.approx(lr, rel=1e-10)
    # slope for power: 1 - [Phi(z - m/s) - Phi(-z - m/s)] = target at m = slope * |e - ref|
    for target in (0.5, 0.8):
        m = res.slope_for_power(target)
        assert 1 - (norm.cdf(z - m / s) - norm.cdf(-z - m / s)) == pytest.approx(target, abs=1e-8)
        assert res.slope_for_power(target, test="wald") == pytest.approx(m, rel=1e-6)


def test_independent_periods_product_and_no_post_change():
    """Independent estimates: power = 1 - product of univariate pass probabilities; post
    estimates and their coverage do not move after pre-testing."""
    sd = np.array([0.1, 0.15, 0.12, 0.2, 0.25])
    et = [-4, -3, -2, 0, 1]
    res = pdid.pretrend_power(_study(et, np.zeros(5), np.diag(sd**2)), slope=0.03)
    delta = 0.03 * (np.array(et) + 1)
    z = norm.ppf(0.975)
    pass_p = np.prod(norm.cdf(z - delta[:3] / sd[:3]) - norm.cdf(-z - delta[:3] / sd[:3]))
    assert res.power == pytest.approx(1 - pass_p, abs=1e-5)
    t = res.tidy().filter(pl.col("period") == "post")
    np.testing.assert_allclose(t["expected_after_pretest"], delta[3:], atol=1e-12)
    np.testing.assert_allclose(t["coverage_after_pretest"], t["coverage"], atol=1e-5)
    cov = norm.cdf(z - delta[3:] / sd[3:]) - norm.cdf(-z - delta[3:] / sd[3:])
    np.testing.assert_allclose(t["coverage"], cov, atol=1e-12)


DESIGNS = {
    # (event times, sd, AR(1) correlation, slope)
    "three_leads_ar": ([-4, -3, -2, 0, 1, 2], [0.1, 0.1, 0.1, 0.12, 0.14, 0.16], 0.5, 0.04),
    "five_leads_strong": (
        [-6, -5, -4, -3, -2, 0, 1],
        [0.2, 0.18, 0.16, 0.14, 0.12, 0.1, 0.15],
        0.8,
        0.03,
    ),
    "two_leads_negative": ([-3, -2, 0, 1, 2, 3], [0.05, 0.06, 0.08, 0.09, 0.1, 0.12], -0.3, -0.02),
}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.slow) if n == "five_leads_strong" else n
        for n in sorted(DESIGNS)
    ],
)
def test_monte_carlo_known_truth(name):
    """betahat ~ N(delta, Sigma), 20,000 draws: the any-|t| rejection rate equals the power,
    the mean of each post estimate among passing draws equals E[b | pass], and the share of
    passing draws whose CI covers 0 (the true effect) equals coverage_after_pretest, each
    within 4.5 MC standard errors; the Wald rejection rate equals wald_power."""
    et, sd, rho, slope = DESIGNS[name]
    et, sd = np.array(et), np.array(sd)
    cov = _ar1(len(et), rho, sd)
    res = pdid.pretrend_power(_study(et, np.zeros(len(et)), cov), slope=slope)
    delta = slope * (et + 1)
    n = 20_000
    rng = np.random.default_rng(hash(name) % 2**32)
    draws = rng.multivariate_normal(delta, cov, size=n)
    z = norm.ppf(0.975)
    pre = et < 0
    passed = np.all(np.abs(draws[:, pre]) <= z * sd[pre], axis=1)
    rate = 1 - passed.mean()
    assert abs(rate - res.power) < 4.5 * math.sqrt(res.power * (1 - res.power) / n)
    inv = np.linalg.inv(cov[np.ix_(pre, pre)])
    wald = np.einsum("ij,jk,ik->i", draws[:, pre], inv, draws[:, pre])
    wrate = (wald > stats.chi2.ppf(0.95, pre.sum())).mean()
    assert abs(wrate - res.wald_power) < 4.5 * math.sqrt(res.wald_power * (1 - res.wald_power) / n)
    t = res.tidy().filter(pl.col("period") == "post")
    kept = draws[passed][:, ~pre]
    mc_mean = kept.mean(axis=0)
    mc_se = kept.std(axis=0) / math.sqrt(len(kept))
    np.testing.assert_array_less(np.abs(mc_mean - t["bias_after_pretest"].to_numpy()), 4.5 * mc_se)
    covered = (np.abs(kept) <= z * sd[~pre]).mean(axis=0)
    want = t["coverage_after_pretest"].to_numpy()
    np.testing.assert_array_less(
        np.abs(covered - want), 4.5 * np.sqrt(want * (1 - want) / len(kept)) + 1e-9
    )


def test_power_and_slope_match_diff_diff():
    """diff-diff 3.13 PreTrendsPower (pretest_form='nis', linear violation weights = relative
    time) against the same leads: power at a slope and the 80%-power slope (its MDV)."""
    dd = pytest.importorskip("diff_diff.pretrends")
    et = np.array([-4, -3, -2])
    cov = _ar1(3, 0.5, np.array([0.1, 0.12, 0.15]))
    weights = (et + 1).astype(float)
    est = dd.PreTrendsPower(
        alpha=0.05,
        power=0.8,
        violation_type="custom",
        violation_weights=weights,
        pretest_form="nis",
    )
    z = norm.ppf(0.975)
    for slope in (0.02, 0.05, 0.1):
        p_dd, *_ = est._compute_power_nis(slope, weights, cov)
        res = pdid.pretrend_power(_study(np.append(et, 0), np.zeros(4), _pad(cov)), slope=slope)
        assert res.power == pytest.approx(p_dd, abs=1e-4)
        assert res.critical == pytest.approx(z, abs=1e-12)
    mdv = abs(est._compute_mdv_nis(weights, cov))
    res = pdid.pretrend_power(_study(np.append(et, 0), np.zeros(4), _pad(cov)), slope=0.0)
    assert res.slope_for_power(0.8) == pytest.approx(mdv, rel=2e-3)


def _pad(cov: np.ndarray) -> np.ndarray:
    """Add an independent post-period e = 0 with variance 0.01."""
    k = cov.shape[0]
    out = np.zeros((k + 1, k + 1))
    out[:k, :k] = cov
    out[k, k] = 0.01
    return out


def test_slope_search_never_fails():
    """pretrends issue #8: a target at or below the size gives slope 0 ('at_size'); a trend
    that is zero at every lead cannot reach any power ('unreachable', NaN), without an error."""
    cov = np.diag([0.01, 0.02, 0.02])
    res = pdid.pretrend_power(
        _study([-1, 0, 1], [0.0, 0.1, 0.2], cov, reference=(-1,)),
        delta=[0.0, 0.1, 0.2],
        power=(0.01, 0.5),
    )
    s = res.slopes
    assert s.filter(pl.col("test") == "any_t")["status"].to_list() == ["at_size", "unreachable"]
    assert res.slope_for_power(0.01) == 0.0
    assert res.slope_for_power(0.5) is None
    assert "not reachable" in res.summary()


def test_on_a_twfe_event_study_of_the_yrd_panel():
    """Runs on a real event study: default slope = the 50%-power slope, summary, tidy, plot."""
    df = datasets.yrd()
    es = pdid.event_study(
        df, y="gtfp", time="year", unit="city", cohort="cohort", estimator="twfe", window=(-4, 3)
    )
    res = pdid.pretrend_power(es)
    assert res.power == pytest.approx(0.5, abs=1e-6)
    assert res.slope == pytest.approx(res.slope_for_power(0.5))
    t = res.tidy()
    assert t.columns[:7] == [
        "term",
        "estimate",
        "std_error",
        "statistic",
        "p_value",
        "conf_low",
        "conf_high",
    ]
    assert t["estimate"].to_list() == pytest.approx(es.estimate.tolist())
    text = res.summary()
    assert "power against delta" in text and "slope for 80% power" in text
    assert "PretrendPowerResult" in repr(res)
    import matplotlib

    matplotlib.use("Agg")
    ax = res.plot()
    assert len(ax.get_legend().get_texts()) == 3
    again = pdid.pretrend_power(es)
    assert again.power == res.power and again.slopes.equals(res.slopes)


def test_bad_input_is_a_clear_error():
    cov = np.diag([0.01, 0.02, 0.02])
    study = _study([-2, 0, 1], [0.0, 0.1, 0.2], cov)
    with pytest.raises(PilotdidError, match="not both"):
        pdid.pretrend_power(study, slope=0.1, delta=[0, 0, 0])
    with pytest.raises(PilotdidError, match="3 event times"):
        pdid.pretrend_power(study, delta=[0.0, 0.1])
    with pytest.raises(PilotdidError, match="power"):
        pdid.pretrend_power(study, power=(0.5, 1.2))
    with pytest.raises(PilotdidError, match="no pre-period"):
        pdid.pretrend_power(_study([0, 1], [0.1, 0.2], np.diag([0.01, 0.02])), slope=0.1)
    no_vcov = _study([-2, 0, 1], [0.0, 0.1, 0.2], cov)
    no_vcov._vcov = None
    with pytest.raises(PilotdidError, match="no full covariance"):
        pdid.pretrend_power(no_vcov, slope=0.1)
    singular = np.array([[0.01, 0.01, 0.0], [0.01, 0.01, 0.0], [0.0, 0.0, 0.02]])
    with pytest.raises(PilotdidError, match="singular"):
        pdid.pretrend_power(_study([-3, -2, 0], [0.0, 0.0, 0.1], singular), slope=0.1)
    with pytest.raises(PilotdidError, match="event time"):
        pdid.pretrend_power(study, delta={-2: 0.0, 0: 0.1})

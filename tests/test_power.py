"""pilotdid.power and pilotdid.monte_carlo (issue 19, item 2).

References: the analytic TWFE power Phi(delta/se - c) + Phi(-delta/se - c) with the
clustered s.e. (Burlig, Preonas & Woerman 2020, eq. for the MDE (z_{1-a/2} + z_power) * se):
it holds for constant effects because the TWFE estimate with effect delta is exactly the
placebo estimate plus delta and its clustered s.e. does not change, so the only approximation
is normality of the placebo t-statistic. Size: a valid test rejects 5% under no effect.
"""

from __future__ import annotations

import numpy as np
import pytest

import pilotdid


@pytest.fixture(scope="module")
def yrd():
    return pilotdid.datasets.yrd()


KW = dict(y="gtfp", unit="city", time="year", cohort="cohort")


def test_power_curve_matches_analytic_twfe_within_mc_error(yrd):
    """Placebo adoption on YRD's never-treated cities (their outcomes are untreated),
    constant effects, TWFE clustered by city: simulated vs analytic power within 3 MC s.e."""
    r = pilotdid.power(yrd, **KW, effects=[0.0, 0.02, 0.04], reps=200, seed=11)
    print(r.summary())
    assert r.effects.tolist() == [0.0, 0.02, 0.04]
    assert (r.n_valid == 200).all()
    # The constant effect shifts every TWFE estimate by exactly delta.
    np.testing.assert_allclose(r.estimates[:, 1] - r.estimates[:, 0], 0.02, atol=1e-10)
    np.testing.assert_allclose(r.std_errors[:, 1], r.std_errors[:, 0], rtol=1e-10)
    for j in range(3):
        assert abs(r.rejection[j] - r.analytic_power[j]) <= 3 * max(r.rejection_se[j], 0.015)
    assert np.isfinite(r.mde) and np.isfinite(r.mde_se) and r.mde_se > 0
    assert abs(r.mde - r.analytic_mde) <= 3 * r.mde_se + 0.1 * r.analytic_mde


def test_power_plot_and_protocol(yrd, tmp_path):
    r = pilotdid.power(yrd, **KW, effects=[0.0, 0.03, 0.06], reps=30, seed=1, shape="dynamic")
    t = r.tidy()
    assert t["term"].to_list() == ["effect=0", "effect=0.03", "effect=0.06"]
    assert r.coef()["effect=0"] == r.size
    r.plot(path=str(tmp_path / "power.png"))
    assert (tmp_path / "power.png").stat().st_size > 1000


def test_power_is_reproducible_and_seeded(yrd):
    a = pilotdid.power(yrd, **KW, effects=[0.0], reps=10, seed=3, estimator="cs")
    b = pilotdid.power(yrd, **KW, effects=[0.0], reps=10, seed=3, estimator="cs")
    c = pilotdid.power(yrd, **KW, effects=[0.0], reps=10, seed=4, estimator="cs")
    np.testing.assert_array_equal(a.estimates, b.estimates)
    assert not np.array_equal(a.estimates, c.estimates)


def test_power_refuses_bad_options(yrd):
    with pytest.raises(pilotdid.PilotdidError, match="option 'estimator'"):
        pilotdid.power(yrd, **KW, estimator="ols", reps=5)
    with pytest.raises(pilotdid.PilotdidError, match="option 'level'"):
        pilotdid.power(yrd, **KW, level=1.5, reps=5)


def test_monte_carlo_mean_bias_and_coverage():
    """Sample mean of N(0.5, 1), n = 50: unbiased, s.e. 1/sqrt(50), 95% coverage."""

    def dgp(rng):
        return rng.normal(size=50) + 0.5, 0.5

    def est(x):
        return float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size))

    r = pilotdid.monte_carlo(dgp, est, reps=2000, seed=0)
    s = r.stats()
    print(r.summary())
    assert abs(s["bias"]) < 3 * s["bias_mcse"]
    assert abs(s["sd"] - 1 / np.sqrt(50)) < 0.01
    assert abs(s["coverage"] - 0.95) < 3 * s["coverage_mcse"] + 0.005


@pytest.mark.slow
@pytest.mark.parametrize("estimator", ["twfe", "cs", "sa"])
def test_size_under_no_effect(yrd, estimator):
    """Size at 5% over 1,000 placebo adoptions on YRD's never-treated cities in [3%, 7%]."""
    r = pilotdid.power(yrd, **KW, effects=[0.0], reps=1000, seed=2026, estimator=estimator)
    print(estimator, "size", r.size, "MC s.e.", r.rejection_se[0], "valid", r.n_valid[0])
    assert r.n_valid[0] >= 990
    assert 0.03 <= r.size <= 0.07


def test_level_is_the_confidence_level_and_alpha_its_synonym(yrd):
    """The package vocabulary: level=0.95 is a 5% test (STYLE.md). power() and
    monte_carlo() once took level=0.05 as the significance; a value below 0.5 is refused
    with the fix, alpha= translates to level = 1 - alpha, and a 10% test rejects at least as
    often as a 5% test on the same draws (same seed: identical estimates)."""
    with pytest.raises(pilotdid.PilotdidError, match=r"option 'level'.*level=0.95 or alpha=0.05"):
        pilotdid.power(yrd, **KW, level=0.05, reps=5)
    five = pilotdid.power(yrd, **KW, effects=[0.0, 0.02], reps=60, seed=2)
    alias = pilotdid.power(yrd, **KW, effects=[0.0, 0.02], reps=60, seed=2, alpha=0.05)
    ten = pilotdid.power(yrd, **KW, effects=[0.0, 0.02], reps=60, seed=2, level=0.9)
    assert five.level == alias.level == 0.95
    np.testing.assert_array_equal(five.rejection, alias.rejection)
    np.testing.assert_array_equal(five.estimates, ten.estimates)
    assert (ten.rejection >= five.rejection).all() and (ten.rejection > five.rejection).any()
    # each replicate's decision is the t-test with G - 1 df at 1 - level
    from scipy.stats import t

    g = 26  # never-treated YRD cities: the placebo sample
    crit = t.ppf(0.975, g - 1)
    rej = np.abs(five.estimates[:, 1]) > crit * five.std_errors[:, 1]
    assert five.rejection[1] == rej.mean()
    assert "test at 0.05 (level 0.95)" in five.summary()

    def dgp(rng):
        return rng.normal(size=30), 0.0

    def est(x):
        return float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size))

    with pytest.raises(pilotdid.PilotdidError, match="option 'level'"):
        pilotdid.monte_carlo(dgp, est, reps=10, level=0.1)
    a = pilotdid.monte_carlo(dgp, est, reps=400, seed=1, level=0.9)
    b = pilotdid.monte_carlo(dgp, est, reps=400, seed=1, alpha=0.1)
    s = a.stats()
    assert a.level == b.level == 0.9 and s == b.stats()
    z = 1.6448536269514722
    assert s["coverage"] == np.mean(np.abs(a.estimates) <= z * a.std_errors)
    assert "coverage of 0.9 intervals" in a.summary()


def _replicate_cohorts(schedule, n_units, seed, r):
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, r])))
    return rng.choice(schedule, size=n_units, replace=False)


def test_earlier_periods_scheme_is_placebo_adoption_in_the_pre_window(yrd):
    """sample="earlier" (issue 19: "reassigning the observed adoption schedule to ... earlier
    periods"): only the years before the first adoption (2006-2012, all outcomes untreated),
    the schedule 2013/2014/2015 moved 5 periods earlier (default: centred, 2 free years on
    each side) and permuted across all 41 cities. Replicate r's estimate equals a TWFE fit on
    the hand-built pseudo-panel (same (seed, r) stream) to 1e-12."""
    import polars as pl

    r = pilotdid.power(yrd, **KW, sample="earlier", effects=[0.0, 0.03], reps=12, seed=5)
    assert r.shift == 5 and r.nobs == 41 * 7 and r.sample == "earlier"
    assert "schedule 5 periods earlier" in r.summary()
    per_unit = yrd.group_by("city", maintain_order=True).agg(pl.col("cohort").first())
    sched = per_unit["cohort"].to_numpy()
    moved = np.where(sched > 0, sched - 5, 0)
    assert sorted(set(moved[moved > 0])) == [2008, 2009, 2010]
    pre = yrd.filter(pl.col("year") < 2013)
    for rep in (0, 7):
        g = dict(zip(per_unit["city"], _replicate_cohorts(moved, 41, 5, rep)))
        d = pre.with_columns(pl.col("city").replace_strict(g, return_dtype=pl.Int64).alias("g"))
        d = d.with_columns(
            (pl.col("gtfp") + 0.03 * ((pl.col("g") > 0) & (pl.col("year") >= pl.col("g")))),
            ((pl.col("g") > 0) & (pl.col("year") >= pl.col("g"))).cast(pl.Float64).alias("D"),
        )
        m = pilotdid.feols("gtfp ~ D | city + year", d, vcov={"CR1": "city"})
        np.testing.assert_allclose(r.estimates[rep, 1], m.coef()["D"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(r.std_errors[rep, 1], m.se()["D"], rtol=1e-12)
    # bad input: the shift's allowed range, a window too short, shift without the scheme
    with pytest.raises(pilotdid.PilotdidError, match=r"option 'shift'.*in \[3, 6\]"):
        pilotdid.power(yrd, **KW, sample="earlier", shift=2, reps=5)
    with pytest.raises(pilotdid.PilotdidError, match="3 periods precede it.*at least 4"):
        pilotdid.power(yrd.filter(pl.col("year") >= 2010), **KW, sample="earlier", reps=5)
    with pytest.raises(pilotdid.PilotdidError, match="sample='earlier' only"):
        pilotdid.power(yrd, **KW, shift=4, reps=5)


def test_power_with_synthetic_did_equals_the_direct_fit(yrd):
    """estimator="sdid" (the registry's synthetic DID by cohort, jackknife s.e.): replicate
    r's estimate and s.e. equal pilotdid.synthdid on the hand-built placebo panel (1e-12).
    sample="all" permutes the 41 cities' cohorts, so every pseudo-cohort keeps its 3-9
    treated cities and the jackknife (two per cohort) exists in every draw; with
    sample="never" a pseudo-cohort can get one city, and such a draw has no jackknife s.e.
    (R synthdid returns NA) and is counted out of n_valid."""
    import polars as pl

    r = pilotdid.power(
        yrd, **KW, estimator="sdid", sample="all", effects=[0.0, 0.05], reps=3, seed=2
    )
    assert (r.n_valid == 3).all()
    per_unit = yrd.group_by("city", maintain_order=True).agg(pl.col("cohort").first())
    sched = per_unit["cohort"].to_numpy()
    for rep in range(3):
        g = dict(zip(per_unit["city"], _replicate_cohorts(sched, 41, 2, rep)))
        d = yrd.with_columns(pl.col("city").replace_strict(g, return_dtype=pl.Int64).alias("g"))
        d = d.with_columns(
            pl.col("gtfp") + 0.05 * ((pl.col("g") > 0) & (pl.col("year") >= pl.col("g")))
        )
        s = pilotdid.synthdid(d, y="gtfp", unit="city", time="year", cohort="g", vcov="jackknife")
        np.testing.assert_allclose(r.estimates[rep, 1], s.estimate, rtol=0, atol=1e-12)
        np.testing.assert_allclose(r.std_errors[rep, 1], s.std_error, rtol=1e-12)

"""Placebo tests / randomization inference (pilotdid.placebo).

References: exact identities (each replicate equals pilotdid.feols - itself checked against
pyfixest - on the permuted data; the actual estimate equals the fitted model's coefficient;
enumeration gives every distinct assignment once), thread-count invariance, and Monte Carlo
properties of randomization p-values (uniform under a true null, Fisher 1935).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import warnings

import matplotlib
import numpy as np
import polars as pl
import pytest

import pilotdid as pdid
from pilotdid._core import PilotdidError
from pilotdid.robust.randomization import placebo

matplotlib.use("Agg")

FML = "y ~ did + x1 + x2 | unit + year"


def staggered(
    seed: int = 0,
    n_units: int = 40,
    n_years: int = 10,
    effect: float = 0.0,
    drop: int = 0,
    weights: bool = False,
) -> pl.DataFrame:
    """Balanced unit x year panel, cohorts 2004/2006/2008 + never treated, two controls."""
    rng = np.random.default_rng(seed)
    years = np.arange(2001, 2001 + n_years)
    cohorts = rng.choice([0, 2004, 2006, 2008], size=n_units)
    unit = np.repeat(np.arange(n_units), n_years)
    year = np.tile(years, n_units)
    g = cohorts[unit]
    did = ((g > 0) & (year >= g)).astype(float)
    a = rng.normal(size=n_units)[unit]
    b = rng.normal(size=n_years)[year - years[0]]
    x1 = 0.5 * a + rng.normal(size=unit.size)
    x2 = 0.3 * b + rng.normal(size=unit.size)
    y = a + b + effect * did + 0.5 * x1 - 0.2 * x2 + rng.normal(size=unit.size)
    df = pl.DataFrame(
        {
            "unit": unit,
            "year": year,
            "did": did,
            "x1": x1,
            "x2": x2,
            "y": y,
            "w": rng.uniform(0.5, 2.0, unit.size),
        }
    )
    if drop:
        keep = np.ones(df.height, dtype=bool)
        keep[rng.choice(df.height, drop, replace=False)] = False
        df = df.filter(pl.Series(keep))
    return df


@pytest.mark.parametrize("scheme", ["units", "times", "both"])
@pytest.mark.parametrize("variant", ["balanced", "unbalanced", "weights", "three_fe"])
def test_replicates_equal_feols_on_permuted_data(scheme, variant):
    """Identity: replicate r's estimate = pilotdid.feols on placebo_data(r) (1e-10 relative);
    the actual estimate = the model's coefficient. three_fe adds region^year effects
    (iterative demeaning path)."""
    df = staggered(1, drop=25 if variant == "unbalanced" else 0)
    df = df.with_columns((pl.col("unit") % 4).alias("region"))
    w = "w" if variant == "weights" else None
    fml = FML + " + region^year" if variant == "three_fe" else FML
    fit = pdid.feols(fml, df, vcov={"CR1": "unit"}, weights=w)
    res = placebo(fit, data=df, reps=50, scheme=scheme, seed=11)
    assert res.actual == pytest.approx(fit.coef()["did"], rel=1e-10)
    assert res.estimates.shape == (50,)
    for r in (0, 7, 49):
        d = res.placebo_data(r)
        b = pdid.feols(fml, d, vcov={"CR1": "unit"}, weights=w).coef()["did"]
        assert res.estimates[r] == pytest.approx(b, rel=1e-10, abs=1e-12)


def test_units_scheme_keeps_cohort_sizes():
    """Identity: the 'units' scheme permutes cohorts, so the multiset of cohorts is kept; the
    'times' scheme keeps the set of treated units."""
    df = staggered(2)
    fit = pdid.feols(FML, df)
    res = placebo(fit, data=df, reps=5, scheme="units", seed=3)
    actual = sorted(res.assignment(0).values(), key=lambda v: -1 if v is None else v)
    core = res._core
    orig = sorted(core.cohorts, key=lambda v: -1 if v is None else v)
    assert actual == orig
    res_t = placebo(fit, data=df, reps=5, scheme="times", seed=3)
    a = res_t.assignment(2)
    assert [u for u, g in a.items() if g is not None] == [
        u for u, g in zip(res_t._units, core.cohorts) if g is not None
    ]
    assert all(g is None or 2002 <= g <= 2010 for g in a.values())


_THREAD_SCRIPT = """
import json, sys
import numpy as np, polars as pl
sys.path.insert(0, {tests!r})
from test_placebo import staggered, FML
import pilotdid as pdid
from pilotdid.robust.randomization import placebo
df = staggered(5, drop=13)
fit = pdid.feols(FML, df)
out = {{}}
for scheme in ("units", "times", "both"):
    r = placebo(fit, data=df, reps=300, scheme=scheme, seed=2024)
    out[scheme] = [float(v).hex() for v in r.estimates]
print(json.dumps(out))
"""


def test_thread_count_invariance():
    """Replicate vectors are bit-identical with RAYON_NUM_THREADS=1 and 2 (subprocesses)."""
    tests = os.path.dirname(os.path.abspath(__file__))
    outs = []
    for threads in ("1", "2"):
        env = dict(os.environ, RAYON_NUM_THREADS=threads)
        p = subprocess.run(
            [sys.executable, "-c", _THREAD_SCRIPT.format(tests=tests)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        outs.append(json.loads(p.stdout.strip().splitlines()[-1]))
    assert outs[0] == outs[1]


def test_seed_reproducible_and_seed_sensitive():
    """Same seed -> identical vectors; another seed -> different vectors."""
    df = staggered(3)
    fit = pdid.feols(FML, df)
    a = placebo(fit, data=df, reps=100, seed=1).estimates
    b = placebo(fit, data=df, reps=100, seed=1).estimates
    c = placebo(fit, data=df, reps=100, seed=2).estimates
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_progress_chunks_give_identical_numbers():
    """Chunked runs (progress bar) give the same replicates as one call."""
    df = staggered(4)
    fit = pdid.feols(FML, df)
    a = placebo(fit, data=df, reps=97, seed=9).estimates
    b = placebo(fit, data=df, reps=97, seed=9, progress=True).estimates
    assert np.array_equal(a, b)


def test_pvalue_definition():
    """p = (1 + k) / (1 + R), k = #{|placebo| >= |actual|} over the R finite replicates
    (hand count; Phipson & Smyth 2010: the actual assignment counts as one draw)."""
    df = staggered(6, effect=0.2)
    fit = pdid.feols(FML, df)
    res = placebo(fit, data=df, reps=400, seed=5)
    est = res.estimates
    k = int(np.sum(np.abs(est) >= abs(res.actual)))
    assert res.p_value_ri == pytest.approx((1 + k) / (1 + est.size), abs=1e-15)
    assert res.n_exceed == k and res.n_valid == est.size == res.reps
    assert res.pvalue_plus_one == pytest.approx(
        (1 + np.sum(np.abs(est) >= abs(res.actual))) / (1 + est.size)
    )


def test_large_effect_is_detected():
    """A large true effect (2 SD of the noise) gives a randomization p-value < 0.01."""
    df = staggered(7, n_units=60, effect=2.0)
    fit = pdid.feols(FML, df)
    res = placebo(fit, data=df, reps=1000, seed=1)
    assert res.p_value_ri < 0.01


def test_no_extreme_draw_in_1000_gives_1_over_1001():
    """Issue 15 acceptance: R = 1000 placebo draws, none as extreme as a large actual effect:
    p = (1 + 0) / (1 + 1000) = 1/1001, shown as 0.0010 with k and R in the summary."""
    df = staggered(7, n_units=60, effect=2.0)
    fit = pdid.feols(FML, df)
    res = placebo(fit, data=df, reps=1000, seed=1)
    assert int(np.sum(np.abs(res.estimates) >= abs(res.actual))) == 0
    assert res.n_valid == 1000 and not res.enumerated
    assert res.p_value_ri == 1 / 1001 == res.pvalue_plus_one
    assert res.pvalue()["did"] == 1 / 1001
    text = res.summary()
    assert "randomization p   0.0010" in text
    assert "(1+k)/(1+R) = 1/1001; R = 1000 finite of reps = 1000" in text


@pytest.mark.slow
def test_pvalue_uniform_under_null():
    """Monte Carlo: under a true null the 'units' randomization p-value is uniform
    (Kolmogorov-Smirnov vs U(0,1) over 300 simulated datasets, 199 replicates each)."""
    from scipy import stats

    ps = []
    for s in range(300):
        df = staggered(1000 + s, n_units=30, n_years=8, effect=0.0)
        fit = pdid.feols(FML, df)
        ps.append(placebo(fit, data=df, reps=199, seed=s).p_value_ri)
    ks = stats.kstest(ps, "uniform")
    assert ks.pvalue > 0.01, ks


def test_enumerates_when_reps_exceed_distinct_assignments():
    """5 units, 2 treated in the same cohort: C(5,2) = 10 distinct 'units' assignments.
    Asking for 1000 warns and evaluates each once; the actual one is among them, so the exact
    p-value is at least 1/10; each estimate equals feols on its assignment."""
    df = staggered(8, n_units=5, n_years=6)
    coh = {0: 2004, 1: 2004, 2: 0, 3: 0, 4: 0}
    g = np.array([coh[u] for u in df.get_column("unit").to_list()])
    yr = df.get_column("year").to_numpy()
    df = df.with_columns(pl.Series("did", ((g > 0) & (yr >= g)).astype(float)))
    fit = pdid.feols(FML, df)
    with pytest.warns(UserWarning, match="only 10 distinct assignments"):
        res = placebo(fit, data=df, reps=1000, scheme="units", seed=0)
    assert res.enumerated and res.estimates.size == 10 == math.comb(5, 2)
    assert len({tuple(sorted(res.assignment(r).items())) for r in range(10)}) == 10
    assert np.min(np.abs(res.estimates - res.actual)) < 1e-10
    assert res.p_value_ri >= 0.1
    # exact enumeration: the actual assignment is among the 10, so p = k / R (no + 1)
    k = int(np.sum(np.abs(res.estimates) >= abs(res.actual) * (1 - 1e-10)))
    assert res.p_value_ri == k / 10 and res.n_exceed == k
    for r in (0, 9):
        b = pdid.feols(FML, res.placebo_data(r)).coef()["did"]
        assert res.estimates[r] == pytest.approx(b, rel=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # times: 5 periods after the first for 2 treated units = 25 assignments < 30
        with pytest.raises(UserWarning, match="25 distinct"):
            placebo(fit, data=df, reps=30, scheme="times")


def test_plot_returns_axes():
    """The figure: histogram + kernel density + the actual estimate marked."""
    df = staggered(9)
    fit = pdid.feols(FML, df)
    res = placebo(fit, data=df, reps=200, seed=1)
    ax = res.plot()
    assert ax.get_xlabel().startswith("placebo coefficient")
    assert any(abs(line.get_xdata()[0] - res.actual) < 1e-12 for line in ax.get_lines()[1:])
    assert "Placebo test" in res.summary()
    assert res.tidy().get_column("p_value")[0] == res.p_value_ri


def test_bad_input():
    """Clear messages: non-absorbing treatment, other data, unknown scheme/treatment."""
    df = staggered(10)
    fit = pdid.feols(FML, df)
    with pytest.raises(PilotdidError, match="scheme"):
        placebo(fit, data=df, scheme="cities")
    # The fit keeps a reference to its data, so data= may be omitted (same result).
    implicit, explicit = placebo(fit, reps=50, seed=3), placebo(fit, data=df, reps=50, seed=3)
    assert np.array_equal(implicit.estimates, explicit.estimates)
    with pytest.raises(PilotdidError, match="rows"):
        placebo(fit, data=df.head(100))
    with pytest.raises(PilotdidError, match="treatment"):
        placebo(fit, data=df, treatment="nope")
    fit_t = pdid.feols("y ~ did + x1 + I(x2**2) | unit + year", df)
    with pytest.raises(PilotdidError, match="transformed terms"):
        placebo(fit_t, data=df)
    d = df.with_columns(
        pl.when(pl.col("year") == 2010).then(0.0).otherwise(pl.col("did")).alias("did")
    )
    fit2 = pdid.feols(FML, d)
    with pytest.raises(PilotdidError, match="switches off"):
        placebo(fit2, data=d)


def test_estimator_statistics_match_direct_calls():
    """statistic=callable reproduces the TWFE fast path (identity, 1e-10); statistic="cs" gives
    the Callaway-Sant'Anna simple ATT of att_gt/aggte called directly on the actual and on a
    replicate's placebo sample (identity, 1e-12); same seed -> same draws."""
    from pilotdid.datasets import simulate_yrd

    df, _ = simulate_yrd(seed=5, rho=0.0, theta=0.0)
    fml = "gtfp ~ did + ln_gdp_pc | city + year"
    fit = pdid.feols(fml, df)
    fast = placebo(fit, reps=25, seed=11)
    slow = placebo(fit, reps=25, seed=11, statistic=lambda d: pdid.feols(fml, d).coef()["did"])
    np.testing.assert_allclose(slow.estimates, fast.estimates, rtol=0, atol=1e-10)
    assert slow.actual == pytest.approx(fast.actual, abs=1e-12)

    cs = placebo(fit, reps=5, seed=11, statistic="cs")
    direct = pdid.aggte(
        pdid.att_gt(
            df,
            y="gtfp",
            time="year",
            unit="city",
            cohort="cohort",
            controls="~ ln_gdp_pc",
        ),
        type="simple",
    )
    assert cs.actual == pytest.approx(direct.overall_att, abs=1e-12)
    d0 = cs.placebo_data(0)
    assign = cs.assignment(0)
    d0 = d0.with_columns(pl.Series("g0", [assign[u] or 0 for u in d0.get_column("city").to_list()]))
    r0 = pdid.aggte(
        pdid.att_gt(d0, y="gtfp", time="year", unit="city", cohort="g0", controls="~ ln_gdp_pc"),
        type="simple",
    )
    assert cs.estimates[0] == pytest.approx(r0.overall_att, abs=1e-12)
    with pytest.raises(PilotdidError, match="statistic"):
        placebo(fit, reps=5, statistic="lasso")

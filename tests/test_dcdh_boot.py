"""Cluster bootstrap of ``pilotdid.dcdh`` (``bstrap=True, reps, seed``), the reference's
``bootstrap(reps, seed)`` of R/Stata ``did_multiplegt_dyn``, against moderndid 0.4.1's
``did_multiplegt(boot=True, biters, random_state)`` (its port; ``moderndid/didinter/bootstrap.py``).

What the reference does, and these tests pin: clusters (units without ``cluster``) are drawn
with replacement, each copy of a cluster with its own units; the whole estimator runs on the
draw and estimates the horizons the draw's switchers reach; a draw without an estimable effect
has no estimates and is left out (not redrawn); SE = standard deviation (n - 1) of the draws
that have the estimate; intervals are normal, estimate +- z * SE (moderndid's
``ci_lower = estimate - z_crit * boot se``); the joint tests keep the analytic covariance.
R's ``did_multiplegt_bootstrap.R`` (chaisemartinPackages/did_multiplegt_dyn) agrees on the
normal intervals (``Effects[i,1] -+ z_level * sd(bresults, na.rm = TRUE)``), on the SD over the
draws that have the estimate, and on leaving the joint tests analytic (it only overwrites the
SE and CI columns). It differs in two places where we follow moderndid: R keeps the original
group ids in a draw, so two copies of a cluster merge into groups with two rows per period
(moderndid, and we, give each copy its own units), and a draw that fails stops R's loop
(moderndid, and we, leave it out).

The two bootstraps use different random numbers, so their SEs agree only within Monte Carlo
error. For B draws of an approximately normal estimate the sample SD has standard error
sd / sqrt(2 (B - 1)); the difference of two independent bootstrap SEs (B each) then has standard
error sd / sqrt(B - 1), and the tolerance is 4 of those (a bootstrap SE against the analytic SE,
which has no Monte Carlo error of its own: 4 sd / sqrt(2 (B - 1)), plus the analytic SE's own
finite-sample difference, small with many clusters).
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import polars as pl
import pytest

import pilotdid as pdid
from pilotdid._core import PilotdidError

md = pytest.importorskip("moderndid")

HERE = os.path.dirname(os.path.abspath(__file__))


def _panel(n_units: int, periods: int = 8, seed: int = 7, n_clusters: int = 0) -> pl.DataFrame:
    """Discrete baseline 0-3, staggered first switches up or down, some switching back."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 4, n_units).astype(float)
    first = rng.integers(2, periods + 4, n_units)
    step = rng.choice([-1.0, 1.0, 2.0], n_units)
    new = np.maximum(base + step, 0.0)
    new = np.where(new == base, base + 1.0, new)
    back = np.where(rng.random(n_units) < 0.3, first + rng.integers(1, 4, n_units), periods + 9)
    t = np.arange(1, periods + 1)
    d = np.where(t[None, :] >= first[:, None], new[:, None], base[:, None])
    d = np.where(t[None, :] >= back[:, None], base[:, None], d)
    lag = np.concatenate([d[:, :1], d[:, :-1]], axis=1)
    y = (
        rng.normal(size=(n_units, 1))
        + 0.2 * t[None, :]
        + 0.8 * d
        + 0.3 * lag
        + rng.normal(size=(n_units, periods))
    )
    ids = np.arange(n_units)
    cl = ids % n_clusters if n_clusters else ids
    return pl.DataFrame(
        {
            "id": np.repeat(ids, periods),
            "year": np.tile(2000 + t, n_units),
            "y": y.ravel(),
            "d": d.ravel(),
            "cl": np.repeat(cl, periods),
        }
    )


def _fit(df, **kw):
    args = dict(y="y", unit="id", time="year", treatment="d")
    return pdid.dcdh(df, **{**args, **kw})


def _moderndid(df, effects, placebo, reps, seed, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return md.did_multiplegt(
            df,
            yname="y",
            idname="id",
            tname="year",
            dname="d",
            effects=effects,
            placebo=placebo,
            boot=True,
            biters=reps,
            random_state=seed,
            **kw,
        )


def _compare_with_moderndid(df, reps, **kw):
    ours = _fit(df, window=(-2, 4), bstrap=True, reps=reps, seed=3, **kw)
    ref = _moderndid(df, 4, 2, reps, 3, **kw)
    a = np.r_[ours.effects["std_error"].to_numpy(), ours.placebos["std_error"].to_numpy()]
    b = np.r_[ref.effects.std_errors, ref.placebos.std_errors]
    a = np.r_[a, ours.average_total_effect["std_error"]]
    b = np.r_[b, ref.ate.std_error]
    # same point estimates (the bootstrap changes only the SEs)
    np.testing.assert_allclose(ours.effects["estimate"], ref.effects.estimates, atol=1e-8)
    tol = 4 * (a + b) / 2 / np.sqrt(reps - 1)
    assert np.all(np.abs(a - b) <= tol), (a, b, tol)
    # intervals: normal with the bootstrap SE, as moderndid
    t = ours.tidy()
    np.testing.assert_allclose(
        t.filter(pl.col("term") == "rel::1")["conf_low"][0],
        ref.effects.ci_lower[0] + (ref.effects.std_errors[0] - a[0]) * 1.959963984540054,
        atol=1e-8,
    )
    return a, b


def test_bootstrap_se_matches_moderndid_within_mc_error():
    """moderndid 0.4.1 did_multiplegt(effects=4, placebo=2, boot=True, biters=200) on 150 units
    x 8 periods: every effect, placebo and average-total-effect SE within 4 Monte Carlo s.e."""
    _compare_with_moderndid(_panel(150), 200)


def test_clustered_bootstrap_matches_moderndid_within_mc_error():
    """As above with cluster='cl' (30 clusters of 5 units): clusters are drawn, not units."""
    df = _panel(150, n_clusters=30)
    _compare_with_moderndid(df, 200, cluster="cl")
    r = _fit(df, window=(0, 1), bstrap=True, reps=10, cluster="cl")
    assert r.bootstrap.n_clusters == 30


def test_bootstrap_with_controls_and_weights_matches_moderndid_within_mc_error():
    """moderndid 0.4.1 did_multiplegt(xformla="~x", weightsname="w", effects=3, placebo=2,
    boot=True, biters=300): each draw re-estimates the controls' theta_d on its own units.
    Tolerance 4 MC s.e. (23%); measured once with 1,200 draws each: largest difference 5.2%
    (MC s.e. of a difference 2.9%)."""
    df = _panel(150, seed=21)
    rng = np.random.default_rng(0)
    df = df.with_columns(
        pl.Series("x", rng.normal(size=df.height)),
        pl.Series("w", np.repeat(rng.uniform(0.5, 2.0, 150), 8)),
    )
    reps = 300
    ours = _fit(df, window=(-2, 3), bstrap=True, reps=reps, seed=3, controls="x", weights="w")
    ref = _moderndid(df, 3, 2, reps, 3, xformla="~x", weightsname="w")
    a = np.r_[
        ours.effects["std_error"].to_numpy(),
        ours.placebos["std_error"].to_numpy(),
        ours.average_total_effect["std_error"],
    ]
    b = np.r_[ref.effects.std_errors, ref.placebos.std_errors, ref.ate.std_error]
    np.testing.assert_allclose(ours.effects["estimate"], ref.effects.estimates, atol=1e-8)
    tol = 4 * (a + b) / 2 / np.sqrt(reps - 1)
    assert np.all(np.abs(a - b) <= tol), (a, b, tol)


@pytest.mark.slow
def test_bootstrap_se_matches_moderndid_many_draws():
    """moderndid 0.4.1 with biters=1000 on 300 units: tolerance 4 MC s.e. = 12.6% of the SE."""
    a, b = _compare_with_moderndid(_panel(300, seed=11), 1000)
    print("pilotdid", a, "moderndid", b, "rel. diff", (a - b) / b)


def test_bootstrap_se_close_to_analytic_with_many_clusters():
    """Identity in large samples: with 3,000 units the cluster bootstrap and the influence-function
    SE estimate the same standard deviation; 600 draws, tolerance 4 MC s.e. (11.6%) plus 3% for
    the analytic SE's small-cohort scaling and the bootstrap's own finite-sample bias."""
    df = _panel(3000, periods=6, seed=5)
    reps = 600
    boot = _fit(df, window=(-1, 3), bstrap=True, reps=reps, seed=1)
    an = _fit(df, window=(-1, 3))
    a = boot.tidy()["std_error"].to_numpy()
    b = an.tidy()["std_error"].to_numpy()
    tol = (4 / np.sqrt(2 * (reps - 1)) + 0.03) * b
    assert np.all(np.abs(a - b) <= tol), (a, b)
    ab, aa = boot.average_total_effect["std_error"], an.average_total_effect["std_error"]
    assert abs(ab - aa) <= (4 / np.sqrt(2 * (reps - 1)) + 0.03) * aa
    # the estimates are the analytic fit's; only the inference changes
    np.testing.assert_array_equal(boot.tidy()["estimate"], an.tidy()["estimate"])
    assert boot.joint_tests == an.joint_tests


def test_seeded_thread_invariant_and_vcov():
    """Same seed -> identical draws; RAYON_NUM_THREADS=1 gives the SEs of the default pool bit
    for bit (replicate r draws from stream r of the seed); another seed, other draws. vcov()
    is the draws' covariance, its diagonal the squared bootstrap SE."""
    df = _panel(120, seed=2)
    kw = dict(window=(-2, 3), bstrap=True, reps=50, seed=9)
    r1, r2 = _fit(df, **kw), _fit(df, **kw)
    np.testing.assert_array_equal(r1.bootstrap.effects, r2.bootstrap.effects)
    np.testing.assert_array_equal(r1.bootstrap.placebos, r2.bootstrap.placebos)
    r3 = _fit(df, **{**kw, "seed": 10})
    assert not np.array_equal(r1.bootstrap.effects, r3.bootstrap.effects)
    code = (
        "import sys; sys.path.insert(0, 'tests'); from test_dcdh_boot import _panel, _fit;"
        "r = _fit(_panel(120, seed=2), window=(-2, 3), bstrap=True, reps=50, seed=9);"
        "print(repr(r.tidy()['std_error'].to_list()))"
    )
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=os.path.dirname(HERE),
        capture_output=True,
        text=True,
        check=True,
    )
    assert eval(out.stdout.strip()) == r1.tidy()["std_error"].to_list()
    v = r1.vcov()
    np.testing.assert_allclose(np.sqrt(np.diag(v)), r1.tidy()["std_error"], rtol=1e-12)
    sd = np.nanstd(r1.bootstrap.effects, axis=0, ddof=1)
    np.testing.assert_allclose(r1.effects["std_error"], sd, rtol=1e-12)
    assert "cluster bootstrap, 50 draws of 120 clusters (seed 9)" in r1._summary_text(0.95)


def test_draws_without_switchers_are_left_out():
    """As the reference: a draw in which no effect can be estimated (here: neither of the two
    switching units of 6 is drawn, probability (4/6)^6 = 0.088) has no estimates and is not
    redrawn;
    a draw reaching fewer horizons misses only those. SEs come from the remaining draws."""
    rows = []
    for i in range(6):
        for t in range(1, 6):
            d = 1.0 if (i == 0 and t >= 3) or (i == 1 and t >= 5) else 0.0
            rows.append((i, t, float(i) + 0.5 * t + d + 0.1 * ((i * 7 + t * 3) % 5), d))
    df = pl.DataFrame(rows, schema=["id", "year", "y", "d"], orient="row")
    r = _fit(df, window=(0, 2), bstrap=True, reps=200, seed=4)
    b = r.bootstrap
    none = np.all(np.isnan(b.effects), axis=1)
    assert b.n_failed == int(none.sum())
    assert 5 <= b.n_failed <= 35  # expected 17.6 of 200 (binomial sd 4.0)
    # effect 2 is reached only by unit 0: draws with unit 1 but not unit 0 miss it alone
    assert np.isnan(b.effects[:, 1]).sum() > np.isnan(b.effects[:, 0]).sum()
    for k in range(2):
        col = b.effects[:, k]
        assert r.effects["std_error"][k] == pytest.approx(np.std(col[~np.isnan(col)], ddof=1))
    assert f"{b.n_failed} without an estimable effect left out" in r._summary_text(0.95)


@pytest.mark.parametrize(
    "kw,msg",
    [
        ({"reps": 1}, "option 'reps'"),
        ({"reps": 2.5}, "option 'reps'"),
        ({"reps": 10**12}, "option 'reps'"),
        ({"seed": -1}, "option 'seed'"),
        ({"seed": None}, "option 'seed'"),
        ({"bstrap": "yes"}, "bstrap"),
    ],
)
def test_bad_bootstrap_options(kw, msg):
    """Bad replicate counts, seeds and switches raise errors that name the option."""
    with pytest.raises(PilotdidError, match=msg):
        _fit(_panel(30), window=(0, 1), **{"bstrap": True, **kw})


def test_analytic_default_has_no_bootstrap():
    """bstrap=False (the default, as the reference) keeps the influence-function SEs."""
    r = _fit(_panel(60), window=(0, 2))
    assert r.bootstrap is None
    assert "analytic" in r._summary_text(0.95)


@pytest.mark.slow
def test_bootstrap_coverage_monte_carlo():
    """Monte Carlo: 500 samples of 150 units x 8 periods from _panel's generator, 199 draws
    each. Y = unit + 0.2 t + 0.8 D_t + 0.3 D_{t-1} + noise, so DID_1 (switch at F, D_{F-1} =
    D_{F-2} = baseline) is 0.8 times the switchers' average signed treatment change, which the
    result reports as delta_1: truth = 0.8 * delta_1 in every sample. The 95% normal-bootstrap
    interval should cover it about 95% of the time, and the mean bootstrap SE should match
    the sd of the estimates. Measured (run once): coverage 0.968, bias 0.005 sd (MC s.e. 0.045
    sd), mean bootstrap SE 0.156 vs sd 0.146 of the errors: slightly conservative because the
    error is measured around the sample's own 0.8 * delta_1, while resampling units also varies
    the switchers' treatment changes (the estimand's own sampling variation)."""
    err, se, cover = [], [], []
    for s in range(500):
        r = _fit(_panel(150, seed=10_000 + s), window=(0, 1), bstrap=True, reps=199, seed=s)
        e = r.effects.row(0, named=True)
        truth = 0.8 * e["delta"]
        t = r.tidy().row(0, named=True)
        err.append(e["estimate"] - truth)
        se.append(e["std_error"])
        cover.append(t["conf_low"] <= truth <= t["conf_high"])
    err, se = np.asarray(err), np.asarray(se)
    cov = float(np.mean(cover))
    sd = err.std(ddof=1)
    print(
        f"coverage {cov:.3f}, bias {err.mean():.4f} ({err.mean() / sd:.3f} sd, MC s.e. "
        f"{1 / np.sqrt(len(err)):.3f} sd), sd of estimates {sd:.4f}, mean bootstrap SE "
        f"{se.mean():.4f}"
    )
    assert 0.93 <= cov <= 0.97  # binomial MC s.e. 0.0097 at 500 draws
    assert abs(se.mean() / sd - 1) < 0.1

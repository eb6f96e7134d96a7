"""pilotdid.power for the spatial panels (issue 19, item 1: power "for their rho and effects").

References:
- Hand-built fits: replicate r of a spatial power run is the SAR / SDM fit (pilotdid.sar /
  pilotdid.sdm, the estimators tested against spreg / xsmle elsewhere) on a pseudo-panel built
  here by hand from the same (seed, r) stream: the placebo schedule, the injected effect
  (I - rho W)^-1 (delta D + spillover delta W D) period by period with numpy's solve, and for
  target="rho" the residual-resampling simulation from the fitted reduced form. Equal to 1e-12.
- Size: a valid test of H0 rejects 1 - level = 5% of the time when H0 holds; on a small MC
  the rate must fall in [3%, 7%] where the model's assumptions (i.i.d. errors) hold.
- Executors: the serial run itself (replicates seeded by (seed, r), chunks stacked in r
  order), bit for bit.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing

import numpy as np
import polars as pl
import pytest

import pilotdid
import pilotdid.weights as pw
from pilotdid import datasets

KW = dict(y="gtfp", unit="city", time="year", cohort="cohort")


@pytest.fixture(scope="module")
def yrd():
    return datasets.yrd()


@pytest.fixture(scope="module")
def W():
    c = datasets.yrd_cities()
    return pw.knn(c["lat"], c["lon"], k=4, ids=c["city_en"])


def _rng(seed: int, r: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, r])))


def _pseudo_panel(yrd: pl.DataFrame, seed: int, rep: int):
    """sample="earlier" by hand: the years before 2013, the schedule 5 years earlier,
    permuted across the 41 cities with replicate rep's stream; D the pseudo-treatment."""
    per_unit = yrd.group_by("city", maintain_order=True).agg(pl.col("cohort").first())
    sched = per_unit["cohort"].to_numpy()
    moved = np.where(sched > 0, sched - 5, 0)
    rng = _rng(seed, rep)
    g = dict(zip(per_unit["city"], rng.choice(moved, size=41, replace=False)))
    d = yrd.filter(pl.col("year") < 2013)
    d = d.with_columns(pl.col("city").replace_strict(g, return_dtype=pl.Int64).alias("g"))
    d = d.with_columns(
        ((pl.col("g") > 0) & (pl.col("year") >= pl.col("g"))).cast(pl.Float64).alias("D")
    )
    return d, rng


def _by_period(d: pl.DataFrame, W, v: np.ndarray, fn) -> np.ndarray:
    """Apply fn (N x T grid in W's unit order, one column per year -> same) to v, per row.
    All years in one call: the ML fits react to a last-bit change of y (rho moves by ~1e-9
    for a 1e-15 relative change, the optimiser's tolerance), so the grid is solved the way
    the power run solves it, not year by year, to compare at 1e-12."""
    pos = np.array([list(W.ids).index(c) for c in d["city"].to_list()])
    years, tcode = np.unique(d["year"].to_numpy(), return_inverse=True)
    grid = np.zeros((W.n, years.size))
    grid[pos, tcode] = v
    return fn(grid)[pos, tcode]


def _multiplier(W, rho):
    a = np.eye(W.n) - rho * W.to_dense()
    return lambda x: np.linalg.solve(a, x)


def test_sar_coefficient_replicates_equal_hand_built_fits(yrd, W):
    """SAR, target "coef": replicate r at effect 0 is the SAR of gtfp on D (pre-2013 years,
    placebo schedule); at effect 0.03 the outcome gets (I - rho0 W)^-1 0.03 D with rho0 the
    effect-0 fit's rho. Estimates and s.e. equal the hand-built fits to 1e-12."""
    r = pilotdid.power(yrd, **KW, estimator="sar", W=W, effects=[0.0, 0.03], reps=3, seed=5)
    assert r.target == "coef" and r.sample == "earlier" and r.shift == 5 and r.nobs == 41 * 7
    assert (r.n_valid == 3).all() and np.isnan(r.analytic_power).all()
    for rep in range(3):
        d, _ = _pseudo_panel(yrd, 5, rep)
        f0 = pilotdid.sar("gtfp ~ D", d, W=W, unit="city", time="year")
        np.testing.assert_allclose(r.estimates[rep, 0], f0.coef()["D"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(r.std_errors[rep, 0], f0.se()["D"], rtol=1e-12)
        lift = _by_period(d, W, d["D"].to_numpy(), _multiplier(W, f0.rho))
        d1 = d.with_columns(pl.Series("gtfp", d["gtfp"].to_numpy() + 0.03 * lift))
        f1 = pilotdid.sar("gtfp ~ D", d1, W=W, unit="city", time="year")
        np.testing.assert_allclose(r.estimates[rep, 1], f1.coef()["D"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(r.std_errors[rep, 1], f1.se()["D"], rtol=1e-12)


def test_sdm_indirect_effect_replicates_equal_hand_built_fits(yrd, W):
    """SDM, target "indirect", a fixed multiplier rho = 0.2 and spillover 0.5: the outcome
    gets (I - 0.2 W)^-1 (delta D + 0.5 delta W D); the replicate's indirect effect of D and
    its delta-method s.e. equal the LeSage-Pace effects of the hand-built SDM fit (1e-12)."""
    r = pilotdid.power(
        yrd,
        **KW,
        estimator="sdm",
        W=W,
        target="indirect",
        rho=0.2,
        spillover=0.5,
        effects=[0.0, 0.04],
        reps=2,
        seed=8,
    )
    assert r.target == "indirect" and r.rho == 0.2 and r.spillover == 0.5
    for rep in range(2):
        d, _ = _pseudo_panel(yrd, 8, rep)
        dv = d["D"].to_numpy()
        wd = _by_period(d, W, dv, lambda x: W.to_dense() @ x)
        lift = _by_period(d, W, dv + 0.5 * wd, _multiplier(W, 0.2))
        for j, delta in enumerate([0.0, 0.04]):
            dj = d.with_columns(pl.Series("gtfp", d["gtfp"].to_numpy() + delta * lift))
            f = pilotdid.sdm("gtfp ~ D", dj, W=W, unit="city", time="year")
            imp = f.impacts(reps=0)
            want, want_se = imp.coef()["indirect:D"], imp.se()["indirect:D"]
            np.testing.assert_allclose(r.estimates[rep, j], want, rtol=0, atol=1e-12)
            np.testing.assert_allclose(r.std_errors[rep, j], want_se, rtol=1e-12)
    # the injected W*D coefficient is recovered on average (truth 0.5 x 0.04 = 0.02)
    assert "spillover 0.5 x effect, multiplier rho 0.2" in r.summary()


def test_rho_replicates_equal_the_simulation_from_the_fitted_reduced_form(yrd, W):
    """SAR, target "rho": u = (I - rho_hat W) y0 with rho_hat the replicate's fit on the
    observed outcomes, e_hat the two-way within residuals of u on D (feols), rescaled by
    sqrt(n / (n - N - T + 1 - 1)), e* drawn i.i.d. from them by the replicate's stream after
    its schedule, y = (I - rho W)^-1 (u - e_hat + e*). rho and its s.e. equal the SAR fit
    on that y (1e-12)."""
    rhos = [0.0, 0.3]
    r = pilotdid.power(yrd, **KW, estimator="sar", W=W, target="rho", effects=rhos, reps=2, seed=3)
    assert r.effects.tolist() == rhos
    for rep in range(2):
        d, rng = _pseudo_panel(yrd, 3, rep)
        y0 = d["gtfp"].to_numpy()
        f0 = pilotdid.sar("gtfp ~ D", d, W=W, unit="city", time="year")
        u = y0 - f0.rho * _by_period(d, W, y0, lambda x: W.to_dense() @ x)
        aux = d.with_columns(pl.Series("u", u))
        e = pilotdid.feols("u ~ D | city + year", aux, vcov="iid").resid()
        n = e.size
        shock = (e * np.sqrt(n / (n - 41 - 7 + 1 - 1)))[rng.integers(0, n, size=n)]
        for j, rho in enumerate(rhos):
            ys = _by_period(d, W, u - e + shock, _multiplier(W, rho))
            f = pilotdid.sar("gtfp ~ D", d.with_columns(pl.Series("gtfp", ys)), W=W,
                             unit="city", time="year")  # fmt: skip
            np.testing.assert_allclose(r.estimates[rep, j], f.rho, rtol=0, atol=1e-12)
            np.testing.assert_allclose(r.std_errors[rep, j], f.se()["rho"], rtol=1e-12)


def test_spatial_options_refused_with_their_allowed_values(yrd, W):
    bad = [
        (dict(estimator="sar"), "option 'W'.*needs the spatial weights"),
        (dict(estimator="twfe", W=W), "option 'W'.*spatial models"),
        (dict(estimator="cs", target="rho"), "option 'target'.*'att'"),
        (dict(estimator="sar", W=W, target="theta"), "option 'target'"),
        (dict(estimator="sar", W=W, spillover=0.5), "option 'spillover'.*SAR has no W\\*D"),
        (dict(estimator="sar", W=W, sample="never"), "option 'sample'.*spillovers"),
        (dict(estimator="sar", W=W, target="rho", rho=0.2), "option 'rho'"),
        (dict(estimator="sar", W=W, target="rho", effects=[0.0, 1.5]), "admissible interval"),
        (dict(estimator="sar", W=W, rho=-3.0), "option 'rho'.*admissible"),
    ]
    for kw, msg in bad:
        with pytest.raises(pilotdid.PilotdidError, match=msg):
            pilotdid.power(yrd, **KW, reps=2, **kw)
    # a W without some of the panel's units, and an unbalanced panel
    sub = W.subset(list(W.ids[:40]))
    with pytest.raises(pilotdid.PilotdidError, match="not in W's ids"):
        pilotdid.power(yrd, **KW, estimator="sar", W=sub, reps=2)
    holes = yrd.filter(~((pl.col("city") == "Wuxi") & (pl.col("year") == 2008)))
    with pytest.raises(pilotdid.PilotdidError, match="balanced panel over W's 41 units"):
        pilotdid.power(holes, **KW, estimator="sar", W=W, reps=2)


def test_spatial_power_identical_on_every_executor(yrd, W):
    """SDM, target "total": serial == spawned ProcessPoolExecutor == 2-process dask
    LocalCluster, chunks 1/3/7."""
    distributed = pytest.importorskip("distributed")
    kw = dict(KW, estimator="sdm", W=W, target="total", effects=[0.0, 0.03], reps=7, seed=2)
    serial = pilotdid.power(yrd, **kw)
    assert np.isfinite(serial.estimates).all()
    with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        for chunks in (1, 3, 7):
            par = pilotdid.power(yrd, **kw, executor=pool, chunks=chunks)
            np.testing.assert_array_equal(par.estimates, serial.estimates)
            np.testing.assert_array_equal(par.std_errors, serial.std_errors)
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    )
    with distributed.Client(cluster) as client:
        for chunks in (1, 3, 7):
            par = pilotdid.power(yrd, **kw, executor=client, chunks=chunks)
            np.testing.assert_array_equal(par.estimates, serial.estimates)
            np.testing.assert_array_equal(par.rejection, serial.rejection)
    cluster.close()


def _sar_panel(W, seed: int = 0, t: int = 10, rho: float = 0.3) -> pl.DataFrame:
    """A SAR panel with i.i.d. errors on W's units: y_t = (I - rho W)^-1 (a + g_t + e_t),
    and a cohort column (12 units from period 6): a pre-policy panel (no effect anywhere)."""
    rng = np.random.default_rng(seed)
    a, g = rng.normal(size=W.n), rng.normal(size=t)
    m = np.linalg.inv(np.eye(W.n) - rho * W.to_dense())
    y = np.concatenate([m @ (a + g[s] + rng.normal(size=W.n)) for s in range(t)])
    cohort = np.where(np.arange(W.n) < 12, 6, 0)
    return pl.DataFrame(
        {
            "city": np.tile(W.ids, t),
            "year": np.repeat(np.arange(t), W.n),
            "gtfp": y,
            "cohort": np.tile(cohort, t),
        }
    )


_INDIRECT_XFAIL = (
    "delta-method Wald test of a nonlinear effect: measured size (1,000 placebo adoptions, "
    "seed 2026) SAR indirect 0.1%, SDM indirect 7.1% (MC s.e. 0.8%). The SAR indirect "
    "effect is beta x c(rho); its delta s.e. adds |beta| c'(rho) se(rho), which is large "
    "exactly when |beta| / se(beta) is, so the test rejects only when |t_beta| > ~2.6 "
    "(rho's s.e. is wide at N = 41, T = 10): conservative, a property of the delta method "
    "here, not of the simulation (the coefficient tests on the same draws are in range)"
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("estimator", "target"),
    [
        ("sar", "coef"),
        ("sdm", "coef"),
        pytest.param("sar", "indirect", marks=pytest.mark.xfail(reason=_INDIRECT_XFAIL)),
        pytest.param("sdm", "indirect", marks=pytest.mark.xfail(reason=_INDIRECT_XFAIL)),
    ],
)
def test_size_under_no_effect_on_a_sar_panel(W, estimator, target):
    """Size at 5%: 1,000 placebo adoptions (sample="all") on a SAR panel with i.i.d. errors
    (the spatial ML's assumptions hold), in [3%, 7%]. Measured: SAR coef 3.5%, SDM coef 3.2%;
    the indirect-effect tests are xfail with their numbers (see _INDIRECT_XFAIL)."""
    df = _sar_panel(W)
    r = pilotdid.power(df, **KW, estimator=estimator, W=W, target=target, sample="all",
                       effects=[0.0], reps=1000, seed=2026)  # fmt: skip
    print(estimator, target, "size", r.size, "MC s.e.", r.rejection_se[0], r.n_valid[0])
    assert r.n_valid[0] >= 990
    assert 0.03 <= r.size <= 0.07


@pytest.mark.slow
def test_size_of_the_rho_test_on_yrd(yrd, W):
    """Size at 5% of H0: rho = 0 over 1,000 simulations from the fitted reduced form of
    YRD's pre-2013 years (SAR, rho injected 0) in [3%, 7%]; the curve rises with rho."""
    r = pilotdid.power(yrd, **KW, estimator="sar", W=W, target="rho", effects=[0.0, 0.2],
                       reps=1000, seed=2026)  # fmt: skip
    print("rho size", r.size, "MC s.e.", r.rejection_se[0], "power at 0.2", r.rejection[1])
    assert r.n_valid[0] >= 990
    assert 0.03 <= r.size <= 0.07
    assert r.rejection[1] > 0.3

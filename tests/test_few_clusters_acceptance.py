"""Few-cluster inference, acceptance (issue 16, part 3): the did2s restricted wild cluster
bootstrap against a direct re-implementation of its scheme (both stages re-run on every
draw), its bootstrap variance against the Butts & Gardner GMM variance, thread invariance of
seeded results, the size of the SA and did2s WCR tests with 20 clusters, and a Monte Carlo with
few treated clusters where the analytic interval under-covers and WCR does not.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import polars as pl
import pytest

import pilotdid as pdid
from pilotdid._core import PilotdidError
from pilotdid.results.event_study import FewClustersWarning
from pilotdid.results.feols import WildBootResult


def panel(
    n_units: int = 12,
    n_periods: int = 8,
    seed: int = 5,
    effect: float = 0.3,
    cohorts: tuple[int, ...] = (4, 6),
    n_treated: int | None = None,
    cluster_sd: float = 0.0,
) -> pl.DataFrame:
    """Staggered panel: ``n_treated`` units (default two thirds) split over ``cohorts``, the
    rest never treated; unit effects, a common trend, effects effect + 0.1 e after treatment,
    N(0, 1) noise plus an AR-free unit-level shock of s.d. ``cluster_sd`` per period block."""
    rng = np.random.default_rng(seed)
    n_tr = 2 * n_units // 3 if n_treated is None else n_treated
    cohort = np.array([cohorts[i % len(cohorts)] for i in range(n_tr)] + [0] * (n_units - n_tr))
    alpha = rng.normal(size=n_units)
    rows = []
    for u in range(n_units):
        g = int(cohort[u])
        shock = rng.normal(scale=cluster_sd, size=2)
        for t in range(1, n_periods + 1):
            eff = 0.0 if (g == 0 or t < g) else effect + 0.1 * (t - g)
            common = shock[int(t > n_periods // 2)]
            rows.append((u, t, g, alpha[u] + 0.2 * t + eff + common + rng.normal()))
    return pl.DataFrame(rows, schema=["unit", "time", "g", "y"], orient="row")


def fit_did2s(df: pl.DataFrame, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewClustersWarning)
        return pdid.did2s(df, y="y", unit="unit", time="time", cohort="g", **kw)


# --- a direct implementation of the did2s wild bootstrap --------------------------------------
def direct_did2s(y, unit, time, g, event_times, static=False):
    """Gardner's two stages and the Butts-Gardner GMM variance with explicit dummies:
    (beta, V, X2, Z, untreated, ytil)."""
    untreated = (g == 0) | (time < g)
    units, times = np.unique(unit), np.unique(time)
    z = np.column_stack(
        [(unit == v).astype(float) for v in units] + [(time == v).astype(float) for v in times[1:]]
    )
    z0 = z * untreated[:, None]
    a0 = np.linalg.pinv(z0.T @ z0)
    theta = a0 @ z0.T @ y
    ytil = y - z @ theta
    if static:
        x2 = ((g > 0) & (time >= g)).astype(float)[:, None]
    else:
        e = time - g
        x2 = np.column_stack([((g > 0) & (e == k)).astype(float) for k in event_times])
    d = x2.T @ x2
    beta = np.linalg.solve(d, x2.T @ ytil)
    e1 = ytil * untreated
    e2 = ytil - x2 @ beta
    corr = x2.T @ z @ a0  # k x q
    w = []
    for c in np.unique(unit):
        m = unit == c
        w.append(x2[m].T @ e2[m] - corr @ (z0[m].T @ e1[m]))
    w = np.array(w)
    di = np.linalg.inv(d)
    return beta, di @ (w.T @ w) @ di, x2, z, untreated, ytil


def direct_wcr(df, a, r, draws, cluster_ids, event_times, static=False):
    """The scheme of Did2s::wild_bootstrap, computed the long way: restricted second stage
    (b = M'a), Y* = Y - u~ + v_c u~, both stages and the GMM SE re-run on every Y*."""
    y, unit, time = (df.get_column(c).to_numpy().astype(float) for c in ("y", "unit", "time"))
    unit = unit.astype(np.int64)
    time = time.astype(np.int64)
    g = df.get_column("g").to_numpy().astype(np.int64)
    beta, v, x2, z, untreated, ytil = direct_did2s(y, unit, time, g, event_times, static)
    z0 = z * untreated[:, None]
    p1x2 = z @ np.linalg.pinv(z0.T @ z0) @ z0.T @ x2
    d = x2.T @ x2
    m = np.linalg.solve(d, x2.T @ (x2 - p1x2))
    b = m.T @ a
    di_b = np.linalg.solve(d, b)
    tilde = beta - di_b * (b @ beta - r) / (b @ di_b)
    u = ytil - x2 @ tilde
    t0 = (a @ beta - r) / np.sqrt(a @ v @ a)
    col = {cid: j for j, cid in enumerate(cluster_ids)}
    idx = np.array([col[c] for c in unit])
    coefs, ts = [], []
    for row in draws:
        ystar = y - u + row[idx] * u
        bs, vs, *_ = direct_did2s(ystar, unit, time, g, event_times, static)
        coefs.append(a @ bs)
        ts.append(t0 if np.all(row == 1.0) else (a @ bs - r) / np.sqrt(a @ vs @ a))
    return np.array(coefs), np.array(ts), t0


@pytest.mark.parametrize(
    ("param", "r"), [("e=0", 0.0), ("average post", 0.25), ("e=-3", 0.0), ("static", 0.1)]
)
def test_did2s_wcr_equals_direct_scheme(param, r):
    """Identity: the same cluster weights (Rademacher, 64 draws incl. all +1 and all -1)
    through the core's precomputed bootstrap and through the direct re-implementation above
    (first stage, second stage and GMM SE re-run on each Y*) give a'b* and t* equal to 1e-10.
    Leads are in the second stage (M != I) for the event-time cases."""
    df = panel(n_units=12, seed=7)
    static = param == "static"
    res = fit_did2s(df, event=not static)
    core = res.extra["_did2s_core"]
    et = [int(e) for e in res.event_time]
    if static:
        a = np.ones(1)
    elif param == "average post":
        a = (np.array(et) >= 0) / np.sum(np.array(et) >= 0)
    else:
        a = (np.array(et) == int(param[2:])).astype(float)
    ids = list(core.cluster_ids)
    rng = np.random.default_rng(1)
    draws = rng.choice([-1.0, 1.0], size=(64, len(ids)))
    draws[0] = 1.0
    draws[1] = -1.0
    coef, t = core.wild_bootstrap_draws(list(a), r, draws)
    coef_d, t_d, t0 = direct_wcr(df, a, r, draws, ids, et, static)
    np.testing.assert_allclose(coef, coef_d, rtol=0, atol=1e-10)
    np.testing.assert_allclose(t, t_d, rtol=1e-10, atol=1e-10)
    wb = res.wild_bootstrap(param if not static else "att", r=r, reps=199, seed=2)
    assert isinstance(wb, WildBootResult)
    assert wb.t_stat == pytest.approx(t0, rel=1e-10)
    assert wb.estimate == pytest.approx(float(a @ res.estimate), abs=1e-12)


def test_did2s_bootstrap_variance_is_the_gmm_variance():
    """Butts & Gardner GMM variance: with the null at the estimate (u~ = unrestricted
    residuals) and no leads (static model), the bootstrap variance of a'b* over the weights,
    sum_c s_c^2 (s_c: the response to cluster c's weight alone), equals the analytic GMM
    variance exactly; and the SE of 4,000 Rademacher draws is within Monte Carlo error of the
    GMM SE (60 clusters)."""
    df = panel(n_units=60, seed=3)
    res = fit_did2s(df, event=False)
    core = res.extra["_did2s_core"]
    est, se = float(res.estimate[0]), float(res.std_error[0])
    g = len(core.cluster_ids)
    basis = np.vstack([np.zeros(g), np.eye(g)])
    coef, _ = core.wild_bootstrap_draws([1.0], est, basis)
    s = coef[1:] - coef[0]
    assert coef[0] == pytest.approx(est, abs=1e-12)
    assert np.sqrt(np.sum(s**2)) == pytest.approx(se, rel=1e-10)
    draws = np.random.default_rng(4).choice([-1.0, 1.0], size=(4000, g))
    coef, _ = core.wild_bootstrap_draws([1.0], est, draws)
    sd = np.std(coef, ddof=1)
    # s.e. of a sample s.d. over 4,000 draws: about se / sqrt(2 * 4000)
    assert abs(sd - se) < 4 * se / np.sqrt(2 * 4000), (sd, se)


def test_did2s_wcr_api_and_event_study_delegate():
    """Seeded results repeat; event_study(estimator="did2s") delegates; the CI contains the
    estimate and inverts the test (p at an end ~ 1 - level); bad input names the problem."""
    df = panel(n_units=14, seed=9)
    res = fit_did2s(df)
    a = res.wild_bootstrap("average post", reps=999, seed=5, weight_type="webb")
    b = res.wild_bootstrap("average post", reps=999, seed=5, weight_type="webb")
    assert a.p_value == b.p_value and a.conf_int == b.conf_int
    assert np.array_equal(a.t_boot, b.t_boot)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewClustersWarning)
        es = pdid.event_study(df, y="y", unit="unit", time="time", cohort="g", estimator="did2s")
    c = es.wild_bootstrap("average post", reps=999, seed=5, weights="webb")
    assert c.p_value == a.p_value and c.conf_int == a.conf_int
    lo, hi = a.conf_int
    assert lo < a.estimate < hi
    p_lo = res.wild_bootstrap("average post", r=lo, reps=999, seed=5, weight_type="webb")
    assert abs(p_lo.p_value - 0.05) <= 0.01
    with pytest.raises(PilotdidError, match="event time 42"):
        res.wild_bootstrap(42, reps=99)
    with pytest.raises(PilotdidError, match="weight_type"):
        res.wild_bootstrap(0, reps=99, weight_type="mammen")


def test_did2s_warns_once_with_few_clusters():
    """MacKinnon & Webb (2017): fewer than 42 clusters -> one FewClustersWarning per did2s fit
    naming the wild bootstrap; none inside a placebo loop's refits (registry fits are quiet)."""
    df = panel(n_units=14)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdid.did2s(df, y="y", unit="unit", time="time", cohort="g")
    few = [w for w in caught if issubclass(w.category, FewClustersWarning)]
    assert len(few) == 1 and "wild_bootstrap" in str(few[0].message)
    from pilotdid.registry import overall_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("error", FewClustersWarning)
        for code in ("cs", "sa", "bjs", "did2s"):
            overall_estimator(code).fit(
                df, y="y", unit="unit", time="time", cohort="g", controls=None
            )


_THREADS_SCRIPT = textwrap.dedent(
    """
    import warnings, numpy as np, polars as pl, pilotdid as pdid
    from pilotdid.results.event_study import FewClustersWarning
    warnings.simplefilter("ignore", FewClustersWarning)
    rng = np.random.default_rng(2)
    rows = []
    for u in range(16):
        g = (4, 6, 0, 0)[u % 4]
        a = rng.normal()
        for t in range(1, 9):
            rows.append((u, t, g, a + 0.2 * t + (0.3 if g and t >= g else 0.0) + rng.normal()))
    df = pl.DataFrame(rows, schema=["unit", "time", "g", "y"], orient="row")
    kw = dict(y="y", unit="unit", time="time", cohort="g")
    out = []
    for res in (pdid.sunab(df, **kw), pdid.did2s(df, **kw)):
        for wt in ("rademacher", "webb"):
            w = res.wild_bootstrap("average post", reps=2999, seed=7, weight_type=wt)
            out.append([w.p_value, *w.conf_int, *w.t_boot.tolist()])
    for wt in ("mammen", "webb"):
        b = pdid.imputation(df, **kw, bstrap=True, reps=999, weight_type=wt, seed=7)
        out.append([*b.std_error, *b.band_low, *b.extra["bootstrap"]["p_value"]])
    print(repr(np.concatenate([np.asarray(o) for o in out]).tobytes().hex()))
    """
)


def test_seeded_wcr_is_thread_invariant():
    """Seeded SA and did2s WCR results (p-value, interval, every t*) and BJS multiplier
    bootstrap results (SEs, band, p-values) are bit-identical with RAYON_NUM_THREADS=1 and 2
    (replicates seeded per (seed, b), collected in order)."""
    outs = []
    for n in ("1", "2"):
        env = dict(os.environ, RAYON_NUM_THREADS=n)
        proc = subprocess.run(
            [sys.executable, "-c", _THREADS_SCRIPT],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        outs.append(proc.stdout.strip())
    assert outs[0] == outs[1] and len(outs[0]) > 100


# --- BJS: cluster multiplier bootstrap and the joint pre/post covariance ------------------------
def fit_bjs(df: pl.DataFrame, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewClustersWarning)
        return pdid.imputation(df, y="y", unit="unit", time="time", cohort="g", **kw)


def test_bjs_cluster_scores_are_the_analytic_variance():
    """Identity (BJS Theorem 3 variance = sum_c s_c s_c'): the cluster scores the multiplier
    bootstrap draws from reproduce the analytic covariance and the ATT's SE (also with
    small_sample's G/(G-1))."""
    df = panel(n_units=30, seed=4)
    for small in (False, True):
        res = fit_bjs(df, small_sample=small)
        core_scores = res.extra["_bjs_core"].cluster_scores
        v = core_scores.T @ core_scores
        np.testing.assert_allclose(v[1:, 1:], res.extra["horizon_vcov"], rtol=1e-12, atol=1e-15)
        assert np.sqrt(v[0, 0]) == pytest.approx(res.att_se, rel=1e-12)


@pytest.mark.parametrize("weight_type", ["mammen", "rademacher", "webb"])
def test_bjs_multiplier_bootstrap_se_band_and_pvalues(weight_type):
    """R did mboot semantics: bootstrap SEs (IQR-based) within Monte Carlo error of the
    analytic BJS SEs with 80 clusters; the uniform (sup-t) band contains the pointwise
    intervals; bootstrap p-values near the normal ones; seeded results repeat; the horizon
    estimates themselves are unchanged."""
    df = panel(n_units=80, seed=6)
    analytic = fit_bjs(df)
    kw = dict(bstrap=True, reps=2999, weight_type=weight_type, seed=3)
    res = fit_bjs(df, **kw)
    again = fit_bjs(df, **kw)
    assert np.array_equal(res.std_error, again.std_error)
    assert np.array_equal(res.band_low, again.band_low)
    np.testing.assert_array_equal(res.estimate, analytic.estimate)
    np.testing.assert_allclose(res.std_error, analytic.std_error, rtol=0.1)
    assert res.att_se == pytest.approx(analytic.att_se, rel=0.1)
    boot = res.extra["bootstrap"]
    assert boot["crit_val"] > 1.959 and boot["crit_val"] < 4.0
    assert np.all(res.band_low <= res.conf_low + 1e-12)
    assert np.all(res.band_high >= res.conf_high - 1e-12)
    z = np.abs(np.asarray(analytic.estimate) / np.asarray(analytic.std_error))
    from scipy.stats import norm

    p_normal = 2 * norm.sf(z)
    np.testing.assert_allclose(boot["p_value"], p_normal, atol=0.03)
    other = fit_bjs(df, **{**kw, "seed": 4})
    assert not np.array_equal(other.std_error, res.std_error)


def test_bjs_bootstrap_options_via_event_study_and_errors():
    """event_study(estimator="bjs") passes bstrap/reps/weight_type/seed through; bad options
    name themselves; the analytic fit with few clusters warns once naming the bootstrap."""
    df = panel(n_units=14, seed=2)
    direct = fit_bjs(df, bstrap=True, reps=499, weight_type="webb", seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewClustersWarning)
        es = pdid.event_study(
            df,
            y="y",
            unit="unit",
            time="time",
            cohort="g",
            estimator="bjs",
            bstrap=True,
            reps=499,
            weight_type="webb",
            seed=1,
        )
    assert np.array_equal(es.std_error, direct.std_error)
    with pytest.raises(PilotdidError, match="weight_type"):
        fit_bjs(df, bstrap=True, weight_type="normal")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdid.imputation(df, y="y", unit="unit", time="time", cohort="g")
    few = [w for w in caught if issubclass(w.category, FewClustersWarning)]
    assert len(few) == 1 and "bstrap=True" in str(few[0].message)


def direct_pretrend_scores(df, leads):
    """BJS Test 1 by hand: OLS on untreated rows of y on lead dummies + unit and period
    dummies; per-cluster scores (X'X)^-1 X_c'u_c of the lead coefficients (unscaled)."""
    y, unit, time, g = (df.get_column(c).to_numpy() for c in ("y", "unit", "time", "g"))
    keep = (g == 0) | (time < g)
    y, unit, time, g = y[keep], unit[keep], time[keep], g[keep]
    e = time - g
    x = np.column_stack(
        [((g > 0) & (e == h)).astype(float) for h in leads]
        + [(unit == v).astype(float) for v in np.unique(unit)]
        + [(time == v).astype(float) for v in np.unique(time)[1:]]
    )
    a = np.linalg.pinv(x.T @ x)
    beta = a @ x.T @ y
    u = y - x @ beta
    ids = np.unique(unit)
    s = np.array([(a @ (x[unit == c].T @ u[unit == c]))[: len(leads)] for c in ids])
    return beta[: len(leads)], s, ids


def test_bjs_joint_covariance_of_leads_and_horizons():
    """joint_vcov() with pretrends covers leads AND horizons (HonestDiD needs both): its diagonal is
    the pre-trend regression's CR1 variance and the BJS horizon variance; the cross block
    equals the direct formula sum_c s_c^pre s_c^post' (pre scores from an explicit-dummy OLS,
    CR1-scaled; post scores the BJS cluster scores) to 1e-8."""
    df = panel(n_units=24, seed=8)
    res = fit_bjs(df, pretrends=True)
    with pytest.raises(PilotdidError, match="joint covariance"):
        res.vcov()  # unchanged (tests/golden records None)
    v = res.joint_vcov()
    assert v is not None and v.shape == (len(res.event_time),) * 2
    np.testing.assert_allclose(np.sqrt(np.diag(v)), res.std_error, rtol=1e-9)
    pre = np.asarray(res.extra["pretrend_event_time"])
    n_pre = len(pre)
    beta, s_pre, ids = direct_pretrend_scores(df, pre)
    np.testing.assert_allclose(beta, res.estimate[:n_pre], atol=1e-8)
    se_pre = np.asarray(res.std_error[:n_pre])
    s_pre = s_pre * (se_pre / np.sqrt(np.sum(s_pre**2, axis=0)))
    core = res.extra["_bjs_core"]
    s_post = core.cluster_scores[:, 1:]
    # cluster order: the core's rows are clusters by first appearance (unit order here)
    order = [int(u) for u in pl.Series(df.get_column("unit")).unique(maintain_order=True)]
    s_pre = s_pre[[list(ids).index(u) for u in order]]
    np.testing.assert_allclose(v[:n_pre, n_pre:], s_pre.T @ s_post, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(v[:n_pre, :n_pre], s_pre.T @ s_pre, rtol=1e-7, atol=1e-10)


def test_bjs_joint_covariance_cross_term_monte_carlo():
    """Monte Carlo: over 1,000 outcome draws on a fixed design (a mean inside the model:
    unit effects, trend, effects 0.3 + 0.1 e; iid N(0, 1) errors; 40 unit clusters), the
    empirical covariance of the lead e = -2 estimate and the e = 0 estimate is within 4 Monte
    Carlo s.e. of the average cross term of joint_vcov(), and each variance within 20%."""
    base = panel(n_units=40, seed=1)
    rng = np.random.default_rng(12)
    u, t, g = (base.get_column(c).to_numpy() for c in ("unit", "time", "g"))
    mean = rng.normal(size=40)[u] + 0.2 * t + np.where((g > 0) & (t >= g), 0.3 + 0.1 * (t - g), 0)
    ests, vs = [], []
    for _ in range(1000):
        df = base.with_columns(pl.Series("y", mean + rng.normal(size=base.height)))
        res = fit_bjs(df, pretrends=[-2])
        ests.append(res.estimate[:2])
        vs.append(res.joint_vcov()[:2, :2])
    ests = np.array(ests)
    emp = np.cov(ests.T)
    v = np.mean(vs, axis=0)
    sd = np.sqrt((emp[0, 0] * emp[1, 1] + emp[0, 1] ** 2) / len(ests))
    print(
        f"cross covariance: empirical {emp[0, 1]:.5f} (MC s.e. {sd:.5f}) | joint_vcov {v[0, 1]:.5f}"
    )
    print(f"variances: empirical {np.diag(emp).round(5)} | joint_vcov {np.diag(v).round(5)}")
    assert abs(emp[0, 1] - v[0, 1]) < 4 * sd
    np.testing.assert_allclose(np.diag(v), np.diag(emp), rtol=0.2)


# --- size and coverage Monte Carlos ---------------------------------------------------------
def _size_panel(rng, n_units=20, n_periods=6):
    """20 clusters (units), cohorts 3 and 5 and never treated; effects 0.3 + 0.1 e, so the
    e = 0 effect is 0.3 in every cohort (both SA and did2s are unbiased for it)."""
    cohort = np.array([3, 5, 0, 0, 3, 5, 0, 0, 3, 5, 0, 0, 3, 5, 0, 0, 3, 5, 0, 0])[:n_units]
    u = np.repeat(np.arange(n_units), n_periods)
    t = np.tile(np.arange(1, n_periods + 1), n_units)
    g = cohort[u]
    eff = np.where((g > 0) & (t >= g), 0.3 + 0.1 * (t - g), 0.0)
    y = rng.normal(size=n_units)[u] + 0.2 * t + eff + rng.normal(size=u.size)
    return pl.DataFrame({"unit": u, "time": t, "g": g, "y": y})


@pytest.mark.parametrize("estimator", ["sa", "did2s"])
def test_wcr_size_with_20_clusters(estimator):
    """Size of the WCR test of H0: beta_0 = 0.3 (true) at 5% with 20 clusters over 500
    simulated panels (199 Rademacher draws each): rejection rate in [3%, 7%]."""
    rng = np.random.default_rng(2026)
    rejections, n_sims = 0, 500
    for s in range(n_sims):
        df = _size_panel(rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FewClustersWarning)
            kw = dict(y="y", unit="unit", time="time", cohort="g")
            res = pdid.sunab(df, **kw) if estimator == "sa" else pdid.did2s(df, **kw)
        wb = res.wild_bootstrap(0, r=0.3, reps=199, seed=s)
        rejections += wb.p_value <= 0.05
    rate = rejections / n_sims
    print(f"{estimator}: WCR rejection rate at 5% = {rate:.3f} ({n_sims} panels, G = 20)")
    assert 0.03 <= rate <= 0.07


def test_wcr_beats_analytic_with_few_treated_clusters():
    """12 clusters, 3 treated (one cohort), noisier treated clusters: the analytic did2s
    interval (t(G-1), GMM SE) under-covers the true effect (0.87 here), the WCR interval
    (Webb weights, test inversion, i.e. p(true) > 5%) does not: it over-covers (1.00), the
    conservative side MacKinnon & Webb (2017, J. Applied Econometrics 32(2)) document for
    WCR with few treated clusters (with 6 of 12 treated both are near 0.93-0.96); 400 panels."""
    rng = np.random.default_rng(7)
    n_units, n_periods, n_sims = 12, 6, 400
    from scipy.stats import t as student

    cover_a = cover_w = 0
    for s in range(n_sims):
        u = np.repeat(np.arange(n_units), n_periods)
        t = np.tile(np.arange(1, n_periods + 1), n_units)
        g = np.where(u < 3, 4, 0)
        scale = np.where(u < 3, 2.0, 0.5)[u]  # treated clusters noisier
        y = rng.normal(size=n_units)[u] + 0.2 * t + np.where((g > 0) & (t >= g), 0.3, 0.0)
        y = y + scale * (rng.normal(size=n_units)[u] * 0.5 + rng.normal(size=u.size))
        df = pl.DataFrame({"unit": u, "time": t, "g": g, "y": y})
        res = fit_did2s(df, event=False)
        est, se = float(res.estimate[0]), float(res.std_error[0])
        q = student.ppf(0.975, n_units - 1)
        cover_a += abs(est - 0.3) <= q * se
        wb = res.wild_bootstrap("att", r=0.3, reps=399, seed=s, weight_type="webb")
        cover_w += wb.p_value > 0.05
    ca, cw = cover_a / n_sims, cover_w / n_sims
    print(f"coverage of 95% intervals, 12 clusters / 3 treated: analytic {ca:.3f} | WCR {cw:.3f}")
    assert ca < 0.92 and cw >= 0.92 and cw > ca


@pytest.mark.parametrize("estimator", ["sa", "did2s"])
def test_wild_bootstrap_sup_t_band(estimator):
    """Sup-t band (Montiel Olea & Plagborg-Moller 2019 style, from the WCR draws): the
    critical value lies between the pointwise normal quantile and the Bonferroni one for the
    number of event times, so the band contains the pointwise intervals; the t scale is the
    fit's SE (t at r = 0 equals estimate / SE); seeded bands repeat."""
    df = panel(n_units=30, seed=12)
    kw = dict(y="y", unit="unit", time="time", cohort="g")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewClustersWarning)
        res = pdid.sunab(df, **kw) if estimator == "sa" else pdid.did2s(df, **kw)
    es = res.to_event_study() if estimator == "sa" else res
    band = res.wild_bootstrap_band(reps=1999, seed=4, weight_type="webb")
    again = res.wild_bootstrap_band(reps=1999, seed=4, weight_type="webb")
    assert band.equals(again)
    from scipy.stats import norm

    k = band.height
    crit = band["crit_val"][0]
    assert norm.ppf(0.975) < crit < norm.ppf(1 - 0.025 / k) + 0.5
    np.testing.assert_allclose(band["estimate"].to_numpy(), es.estimate)
    e0 = int(es.event_time[0])
    wb = res.wild_bootstrap(e0, r=0.0, reps=99, seed=1)
    assert wb.t_stat == pytest.approx(es.estimate[0] / es.std_error[0], rel=1e-9)

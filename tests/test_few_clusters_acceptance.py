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
    print(repr(np.concatenate([np.asarray(o) for o in out]).tobytes().hex()))
    """
)


def test_seeded_wcr_is_thread_invariant():
    """Seeded SA and did2s WCR results (p-value, interval, every t*) are bit-identical with
    RAYON_NUM_THREADS=1 and 2 (replicates seeded per (seed, b), collected in order)."""
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

"""Spatial DID (SDM with D and W*D, two-way FE, Lee-Yu) and Monte Carlo checks of the
two-way-FE SDM.

References: the known parameters of data simulated here from an SDM (independent numpy
DGP), and the truth file of the bundled synthetic YRD panel (pilotdid.datasets.yrd_truth).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import pilotdid.datasets as ds
import pilotdid.weights as pw
from pilotdid.spatial.did import spatial_did
from pilotdid.spatial.models import sdm


def _sdm_panel(rng, Wd, rho, b, th, T, treat=False):
    n = Wd.shape[0]
    A = np.linalg.inv(np.eye(n) - rho * Wd)
    al, ga = rng.normal(size=n), rng.normal(size=T)
    X = rng.normal(size=(T, n, 2))
    if treat:
        start = rng.integers(4, T + 4, size=n)  # staggered adoption; some never in-sample
        X[:, :, 0] = (np.arange(T)[:, None] >= start[None, :]).astype(float)
    Y = np.empty((T, n))
    for t in range(T):
        u = X[t] @ b + (Wd @ X[t]) @ th + al + ga[t] + rng.normal(size=n)
        Y[t] = A @ u
    return pl.DataFrame(
        {
            "u": np.tile(np.arange(n), T),
            "t": np.repeat(np.arange(T), n),
            "y": Y.ravel(),
            "x1": X[:, :, 0].ravel(),
            "x2": X[:, :, 1].ravel(),
        }
    )


def _knn_w():
    c = ds.yrd_cities()
    return pw.knn(c["lat"], c["lon"], k=5, ids=np.arange(41))


def test_monte_carlo_twoways_lee_yu_recovers_rho():
    """N=41 (YRD cities, 5-NN W), T=16, rho=0.4, two-way FE, Lee-Yu: over 1000 replications
    |bias(rho)| < 0.01 and the 95% Wald interval covers in [93%, 97%]."""
    W = _knn_w()
    Wd = W.to_dense()
    rng = np.random.default_rng(5)
    rho, b, th = 0.4, np.array([1.0, -0.5]), np.array([0.5, 0.3])
    est = []
    for _ in range(1000):
        df = _sdm_panel(rng, Wd, rho, b, th, 16)
        f = sdm("y ~ x1 + x2", df, W=W, unit="u", time="t", effects="twoways", lee_yu=True)
        est.append((f.rho, f.se()["rho"]))
    a = np.array(est)
    bias = a[:, 0].mean() - rho
    cover = np.mean(np.abs(a[:, 0] - rho) < 1.96 * a[:, 1])
    assert abs(bias) < 0.01, bias
    assert 0.93 <= cover <= 0.97, cover


def test_spatial_did_recovers_direct_and_spillover():
    """Staggered binary D with a spillover theta*W*D: over 200 replications the mean direct
    and indirect effects are within 3 Monte Carlo SEs of the analytic LeSage-Pace truth."""
    W = _knn_w()
    Wd = W.to_dense()
    rng = np.random.default_rng(9)
    rho, b, th = 0.3, np.array([0.5, 1.0]), np.array([0.4, 0.2])
    A = np.linalg.inv(np.eye(41) - rho * Wd)
    S = A @ (b[0] * np.eye(41) + th[0] * Wd)
    true_dir = np.trace(S) / 41
    true_ind = S.sum() / 41 - true_dir
    out = []
    for _ in range(200):
        df = _sdm_panel(rng, Wd, rho, b, th, 16, treat=True)
        _, tab = spatial_did(
            df, y="y", treatment="x1", unit="u", time="t", W=W, controls=["x2"], reps=0
        )
        out.append(tab["estimate"].to_numpy()[:2])
    o = np.array(out)
    mc_se = o.std(axis=0) / np.sqrt(len(o))
    assert abs(o[:, 0].mean() - true_dir) < 3 * mc_se[0]
    assert abs(o[:, 1].mean() - true_ind) < 3 * mc_se[1] + 0.01


def test_spatial_did_on_yrd_synthetic():
    """Bundled synthetic YRD panel: the direct effect of the pilot is within 3 SEs of the
    truth's LeSage-Pace direct effect (yrd_truth()['spatial_effects']['direct'], for the
    structural average effect); the DGP has AR(1) errors and effects that grow over time, so
    the constant-effect SDM is only approximately right and the check is deliberately loose."""
    d = ds.yrd()
    c = ds.yrd_cities()
    W = pw.inverse_distance(c["lat"], c["lon"], ids=c["city_en"])
    covs = ["ln_gdp_pc", "pop_density", "urbanization", "gov_exp_share", "fdi_share"]
    fit, tab = spatial_did(
        d,
        y="gtfp",
        treatment="did",
        unit="city",
        time="year",
        W=W,
        controls=covs,
        reps=500,
        seed=1,
    )
    truth = ds.yrd_truth()["spatial_effects"]
    row = tab.filter(pl.col("effect") == "direct")
    assert abs(row["estimate"][0] - truth["direct"]) < 3 * row["std_error"][0]
    assert row["p_value"][0] < 0.001
    assert fit.model == "sdm" and fit.effects == "twoways" and fit.lee_yu


@pytest.mark.parametrize("draws", [0, 200])
def test_spatial_did_table_columns(draws):
    """The treatment table has direct / indirect / total rows with delta and simulation
    columns; simulation columns are NaN when draws=0 (reported, not silently filled)."""
    W = _knn_w()
    df = _sdm_panel(np.random.default_rng(1), W.to_dense(), 0.3, np.ones(2), np.ones(2), 10, True)
    _, tab = spatial_did(df, y="y", treatment="x1", unit="u", time="t", W=W, reps=draws)
    assert tab["effect"].to_list() == ["direct", "indirect", "total"]
    assert np.isnan(tab["sim_sd"].to_numpy()).all() == (draws == 0)


def test_spatial_event_study_recovers_flat_effects():
    """Event-time SDM on data with a constant effect from adoption on and no anticipation:
    over 100 replications the mean direct effect is ~0 before adoption and ~ the analytic
    direct effect after (within 4 Monte Carlo SEs)."""
    from pilotdid.spatial.did import spatial_event_study

    W = _knn_w()
    Wd = W.to_dense()
    rng = np.random.default_rng(3)
    rho, b, th = 0.3, np.array([0.5, 1.0]), np.array([0.4, 0.2])
    S = np.linalg.inv(np.eye(41) - rho * Wd) @ (b[0] * np.eye(41) + th[0] * Wd)
    true_dir = np.trace(S) / 41
    res = []
    for _ in range(100):
        df = _sdm_panel(rng, Wd, rho, b, th, 16, treat=True)
        _, tab = spatial_event_study(
            df,
            y="y",
            treatment="x1",
            unit="u",
            time="t",
            W=W,
            window=(-3, 3),
            controls=["x2"],
            reps=0,
        )
        direct = tab.filter(pl.col("effect") == "direct").sort("event_time")
        res.append(direct["estimate"].to_numpy())
    r = np.array(res)
    ev = direct["event_time"].to_numpy()
    mc = r.std(axis=0) / np.sqrt(len(r))
    target = np.where(ev < 0, 0.0, true_dir)
    assert np.all(np.abs(r.mean(axis=0) - target) < 4 * mc + 0.01), (r.mean(axis=0), target)

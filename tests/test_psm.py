"""PSM-DID (pilotdid.psm_did).

References: statsmodels 0.15 Logit (coefficients and SEs, 1e-8); a brute-force Python
implementation of nearest-neighbour and kernel matching written here (exact equality of
weights and pairs); hand computations of the balance table (standardised bias, t-tests via
statsmodels WLS); identity of the re-estimated DID with pilotdid.feols on the matched sample.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import pilotdid as pdid
from pilotdid._core import PilotdidError
from pilotdid.robust.psm import psm_did

COVS = ["x1", "x2", "x3"]


def panel(seed: int = 0, n_units: int = 60, n_years: int = 6) -> pl.DataFrame:
    """Units with a time-invariant group (treat) related to covariates; DID from 2004."""
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), n_years)
    year = np.tile(np.arange(2001, 2001 + n_years), n_units)
    z = rng.normal(size=n_units)
    treat_u = (z + rng.normal(size=n_units) > 0.3).astype(float)
    treat = treat_u[unit]
    x1 = 0.8 * z[unit] + rng.normal(size=unit.size)
    x2 = rng.normal(size=unit.size)
    x3 = np.round(rng.uniform(0, 3, unit.size), 1)  # coarse: creates ties in scores
    did = treat * (year >= 2004)
    y = z[unit] + 0.1 * (year - 2000) + 0.5 * did + 0.3 * x1 + rng.normal(size=unit.size)
    return pl.DataFrame(
        {
            "unit": unit,
            "year": year,
            "treat": treat,
            "did": did,
            "x1": x1,
            "x2": x2,
            "x3": x3,
            "y": y,
        }
    )


def test_logit_matches_statsmodels():
    """Logit coefficients and standard errors equal statsmodels Logit (1e-8)."""
    sm = pytest.importorskip("statsmodels.api")
    df = panel(1)
    res = psm_did(df, treatment="treat", controls=COVS)
    X = sm.add_constant(df.select(COVS).to_numpy())
    ref = sm.Logit(df.get_column("treat").to_numpy(), X).fit(disp=0, tol=1e-12, maxiter=100)
    np.testing.assert_allclose(res.logit.get_column("estimate").to_numpy(), ref.params, rtol=1e-8)
    np.testing.assert_allclose(res.logit.get_column("std_error").to_numpy(), ref.bse, rtol=1e-8)
    np.testing.assert_allclose(res.pscore, ref.predict(X), rtol=1e-8)


def test_perfect_separation_is_a_clear_error():
    """x1 > 0 exactly predicts treatment: no MLE, PilotdidError naming x1."""
    df = panel(2)
    df = df.with_columns((pl.col("x1") > 0).cast(pl.Float64).alias("treat"))
    with pytest.raises(PilotdidError, match="separation.*'x1'"):
        psm_did(df, treatment="treat", controls=COVS)


def brute_nearest(ps, tr, group, k, replace, caliper, common):
    """Independent implementation: loops over treated rows in data order; distance ties go
    to the control earlier in the data."""
    n = len(ps)
    w = np.zeros(n)
    pairs = []
    groups = [None] if group is None else list(dict.fromkeys(group.tolist()))
    for gv in groups:
        rows = [i for i in range(n) if group is None or group[i] == gv]
        ctrl = [i for i in rows if tr[i] == 0]
        used = set()
        if not ctrl:
            continue
        lo, hi = min(ps[c] for c in ctrl), max(ps[c] for c in ctrl)
        for t in [i for i in rows if tr[i] == 1]:
            if common and not (lo <= ps[t] <= hi):
                continue
            cand = [c for c in ctrl if replace or c not in used]
            cand = [c for c in cand if caliper is None or abs(ps[c] - ps[t]) <= caliper]
            cand.sort(key=lambda c: (abs(ps[c] - ps[t]), c))
            chosen = cand[:k]
            if not chosen:
                continue
            w[t] = 1.0
            for c in chosen:
                w[c] += 1.0 / len(chosen)
                pairs.append((t, c))
                if not replace:
                    used.add(c)
    return w, pairs


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("replace", [True, False])
@pytest.mark.parametrize("caliper", [None, 0.02])
@pytest.mark.parametrize("by", [None, "year"])
def test_nearest_matches_brute_force(k, replace, caliper, by):
    """Weights and (treated, control) pairs equal the brute-force implementation."""
    df = panel(3)
    res = psm_did(
        df, treatment="treat", controls=COVS, k=k, replace=replace, caliper=caliper, by=by
    )
    group = None if by is None else df.get_column(by).to_numpy()
    w, pairs = brute_nearest(
        res.pscore, df.get_column("treat").to_numpy(), group, k, replace, caliper, True
    )
    np.testing.assert_allclose(res.weights, w, rtol=0, atol=1e-14)
    assert res.pairs == pairs


def test_common_support_trimming():
    """Treated rows outside [min, max] of the controls' scores are dropped (counted) with
    common_support=True and matched with common_support=False (brute force)."""
    df = panel(9)
    on = psm_did(df, treatment="treat", controls=COVS)
    off = psm_did(df, treatment="treat", controls=COVS, common_support=False)
    ps, tr = on.pscore, df.get_column("treat").to_numpy()
    lo, hi = ps[tr == 0].min(), ps[tr == 0].max()
    outside = int(np.sum((tr == 1) & ((ps < lo) | (ps > hi))))
    assert outside > 0 and on.n_off_support == outside and off.n_off_support == 0
    w, _ = brute_nearest(ps, tr, None, 1, True, None, False)
    np.testing.assert_allclose(off.weights, w, atol=1e-14)


def test_ties_rule_first_control_in_data_wins():
    """Two controls at the same distance: the one earlier in the data is matched."""
    df = panel(4)
    res = psm_did(df, treatment="treat", controls=["x3"])  # x3 coarse -> exact score ties
    ps, tr = res.pscore, df.get_column("treat").to_numpy()
    for t, c in res.pairs:
        d = abs(ps[c] - ps[t])
        earlier = [j for j in range(c) if tr[j] == 0 and abs(ps[j] - ps[t]) <= d]
        assert not earlier


@pytest.mark.parametrize("kernel", ["epanechnikov", "gaussian"])
def test_kernel_weights_match_hand_computation(kernel):
    """Control weight = sum over treated of K(u)/sum K, u = (ps_c - ps_t)/h."""
    df = panel(5)
    h = 0.05
    res = psm_did(df, treatment="treat", controls=COVS, method="kernel", kernel=kernel, bandwidth=h)
    ps, tr = res.pscore, df.get_column("treat").to_numpy()
    c = np.flatnonzero(tr == 0)
    lo, hi = ps[c].min(), ps[c].max()
    w = np.zeros(ps.size)
    for t in np.flatnonzero(tr == 1):
        if not lo <= ps[t] <= hi:
            continue
        u = (ps[c] - ps[t]) / h
        kv = (
            np.where(np.abs(u) < 1, 0.75 * (1 - u**2), 0.0)
            if kernel[0] == "e"
            else np.exp(-0.5 * u**2)
        )
        if kv.sum() > 0:
            w[t] = 1.0
            w[c] += kv / kv.sum()
    np.testing.assert_allclose(res.weights, w, rtol=1e-12, atol=1e-15)


def test_balance_table_hand_computation():
    """Standardised bias 100 (m_t - m_c)/sqrt((s2_t + s2_c)/2) with unmatched variances;
    t before = OLS of x on treat; t after = WLS with the matching weights (statsmodels)."""
    sm = pytest.importorskip("statsmodels.api")
    df = panel(6)
    res = psm_did(df, treatment="treat", controls=COVS, k=2)
    tr = df.get_column("treat").to_numpy()
    w = res.weights
    for row in res.balance.iter_rows(named=True):
        x = df.get_column(row["covariate"]).to_numpy()
        xt, xc = x[tr == 1], x[tr == 0]
        sd = np.sqrt((xt.var(ddof=1) + xc.var(ddof=1)) / 2)
        assert row["bias_before"] == pytest.approx(100 * (xt.mean() - xc.mean()) / sd, rel=1e-10)
        mt = np.average(x[(tr == 1) & (w > 0)], weights=w[(tr == 1) & (w > 0)])
        mc = np.average(x[(tr == 0) & (w > 0)], weights=w[(tr == 0) & (w > 0)])
        assert row["bias_after"] == pytest.approx(100 * (mt - mc) / sd, rel=1e-10)
        ols = sm.OLS(x, sm.add_constant(tr)).fit()
        assert row["t_before"] == pytest.approx(ols.tvalues[1], rel=1e-10)
        assert row["p_before"] == pytest.approx(ols.pvalues[1], rel=1e-8)
        m = w > 0
        wls = sm.WLS(x[m], sm.add_constant(tr[m]), weights=w[m]).fit()
        assert row["t_after"] == pytest.approx(wls.tvalues[1], rel=1e-10)
        assert row["p_after"] == pytest.approx(wls.pvalues[1], rel=1e-8)


def test_did_on_matched_sample_and_with_weights():
    """The DID re-estimated equals pilotdid.feols on the matched rows / with the weights."""
    df = panel(7)
    fml = "y ~ did + x1 | unit + year"
    res = psm_did(df, treatment="treat", controls=COVS, fml=fml, by="year")
    keep = pl.Series(res.weights > 0)
    ref = pdid.feols(fml, df.filter(keep))
    assert res.did.coef()["did"] == pytest.approx(ref.coef()["did"], rel=1e-12)
    assert res.did.se()["did"] == pytest.approx(ref.se()["did"], rel=1e-12)
    res_w = psm_did(df, treatment="treat", controls=COVS, fml=fml, did_sample="weights")
    refw = pdid.feols(fml, df.with_columns(pl.Series("ww", res_w.weights)), weights="ww")
    assert res_w.did.coef()["did"] == pytest.approx(refw.coef()["did"], rel=1e-12)
    assert "PSM-DID" in res.summary()


def test_bad_input_messages():
    """Caliper with no match, unknown method, non-binary treat: clear PilotdidErrors."""
    df = panel(8)
    with pytest.raises(PilotdidError, match="caliper"):
        psm_did(df, treatment="treat", controls=COVS, caliper=1e-12)
    with pytest.raises(PilotdidError, match="method"):
        psm_did(df, treatment="treat", controls=COVS, method="radius")
    with pytest.raises(PilotdidError, match="0 or 1"):
        psm_did(df, treatment="x3", controls=["x1"])
    with pytest.raises(PilotdidError, match="not found"):
        psm_did(df, treatment="treat", controls=["nope"])

"""Few-cluster inference for the robust event-study estimators (issue 16, part 3).

References: the ``wildboottest`` package (0.3, WildboottestCL, WCR11, two-tailed p) on the
same saturated Sun-Abraham regression (cohort x relative-period dummies plus unit and period
dummies); MacKinnon & Webb (2017) for the rule that cluster-robust t tests over-reject with few
clusters (the FewClustersWarning threshold of 42).
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

import pilotdid as pdid
from pilotdid._core import PilotdidError
from pilotdid.results.event_study import FewClustersWarning
from pilotdid.results.feols import WildBootResult


def staggered_panel(
    n_units: int = 14, n_periods: int = 8, seed: int = 5, effect: float = 0.3
) -> pl.DataFrame:
    """Two treated cohorts (periods 4 and 6) and never-treated units; unit effects, a common
    trend, dynamic effects effect + 0.1 e after treatment, N(0, 1) noise."""
    rng = np.random.default_rng(seed)
    third = n_units // 3
    cohort = np.array([4] * third + [6] * third + [0] * (n_units - 2 * third))
    alpha = rng.normal(size=n_units)
    rows = []
    for u in range(n_units):
        g = int(cohort[u])
        for t in range(1, n_periods + 1):
            eff = 0.0 if (g == 0 or t < g) else effect + 0.1 * (t - g)
            rows.append((u, t, g, alpha[u] + 0.2 * t + eff + rng.normal()))
    return pl.DataFrame(rows, schema=["unit", "time", "g", "y"], orient="row")


def fit_sa(df: pl.DataFrame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewClustersWarning)
        return pdid.sunab(df, y="y", unit="unit", time="time", cohort="g")


def saturated_design(df: pl.DataFrame, res) -> tuple[np.ndarray, int]:
    """The Sun-Abraham regression with every fixed effect as dummies (wildboottest's input):
    the cohort x relative-period dummies first, in cohort_tidy() order."""
    u, t, g = (df.get_column(c).to_numpy() for c in ("unit", "time", "g"))
    ct = res.cohort_tidy()
    cols = [
        ((g == c) & (t - g == e)).astype(float)
        for c, e in zip(ct.get_column("cohort"), ct.get_column("rel_period"))
    ]
    cols += [(u == v).astype(float) for v in np.unique(u)]
    cols += [(t == v).astype(float) for v in np.unique(t)[1:]]
    return np.column_stack(cols), ct.height


@pytest.mark.parametrize(
    ("param", "weight_type"), [("e=0", "webb"), ("average post", "webb"), ("att", "rademacher")]
)
def test_sa_wcr_matches_wildboottest(param, weight_type):
    """wildboottest 0.3 WildboottestCL (bootstrap_type "11", impose_null=True, two-tailed) on
    the saturated SA regression, restriction (W'a) on the cells: our p-value (9,999 draws)
    within 4 Monte Carlo s.d. of its p-value (99,999 draws), G = 16 clusters (2^16 > B, so it
    draws at random too)."""
    from wildboottest.wildboottest import WildboottestCL

    df = staggered_panel(n_units=16, seed=11)
    res = fit_sa(df)
    reps = 9999
    wb = res.wild_bootstrap(param, reps=reps, seed=1, weight_type=weight_type)
    assert isinstance(wb, WildBootResult)
    x, m = saturated_design(df, res)
    if param == "att":
        rc = np.asarray(res._out.att_weights)
        assert wb.estimate == pytest.approx(res.att, abs=1e-10)
    else:
        a = np.zeros(len(res.event_time))
        if param == "e=0":
            a[list(res.event_time).index(0)] = 1.0
        else:
            a[res.event_time >= 0] = 1.0 / np.sum(res.event_time >= 0)
        rc = a @ res.weight_matrix()
        assert wb.estimate == pytest.approx(
            float(a @ np.asarray(res._out.event.estimate)), abs=1e-10
        )
    big_r = np.concatenate([rc, np.zeros(x.shape[1] - m)])
    b = WildboottestCL(
        X=x,
        Y=df.get_column("y").to_numpy(),
        cluster=df.get_column("unit").to_numpy(),
        R=big_r,
        B=99_999,
        seed=1,
    )
    b.get_scores(bootstrap_type="11", impose_null=True)
    b.get_weights(weights_type=weight_type)
    b.get_numer()
    b.get_denom()
    b.get_tboot()
    b.get_vcov()
    b.get_tstat()
    b.get_pvalue()
    p_ref = float(b.pvalue)
    sd = np.sqrt(p_ref * (1 - p_ref) / reps + p_ref * (1 - p_ref) / 99_999)
    assert abs(wb.p_value - p_ref) < 4 * sd + 1e-12, (wb.p_value, p_ref)
    lo, hi = wb.conf_int
    assert lo < wb.estimate < hi


def test_sa_wcr_seeded_and_via_event_study():
    """Seeded: the same call twice is bit-identical; event_study(estimator="sa") delegates to
    the same bootstrap; bad params name the problem."""
    df = staggered_panel()
    res = fit_sa(df)
    a = res.wild_bootstrap(1, reps=499, seed=3)
    b = res.wild_bootstrap("rel::1", reps=499, seed=3)
    assert a.p_value == b.p_value and a.conf_int == b.conf_int
    assert np.array_equal(a.t_boot, b.t_boot)
    es = res.to_event_study()
    c = es.wild_bootstrap(1, reps=499, seed=3)
    assert c.p_value == a.p_value and c.conf_int == a.conf_int
    with pytest.raises(PilotdidError, match="event time 99"):
        res.wild_bootstrap(99, reps=99)
    with pytest.raises(PilotdidError, match="param"):
        res.wild_bootstrap([1.0, 2.0], reps=99)


def test_cs_multiplier_weight_types():
    """R did semantics: Mammen stays the default (the same draws as before: bit-identical to
    an explicit weight_type="mammen"); Rademacher and Webb multipliers give bootstrap SEs
    close to the analytic influence-function SEs (mpdta-like design, 500 units) and differ
    from Mammen's draws; aggte inherits att_gt's weight_type."""
    rng = np.random.default_rng(3)
    n_units, periods = 300, [1, 2, 3, 4]
    g = rng.choice([0, 2, 3], size=n_units)
    rows = []
    for u in range(n_units):
        a = rng.normal()
        for t in periods:
            eff = 0.5 if (g[u] and t >= g[u]) else 0.0
            rows.append((u, t, int(g[u]), a + 0.1 * t + eff + rng.normal()))
    df = pl.DataFrame(rows, schema=["unit", "time", "g", "y"], orient="row")
    kw = dict(y="y", unit="unit", time="time", cohort="g", bstrap=True, reps=999, seed=2)
    analytic = pdid.att_gt(df, y="y", unit="unit", time="time", cohort="g")
    default = pdid.att_gt(df, **kw)
    mammen = pdid.att_gt(df, **kw, weight_type="mammen")
    assert np.array_equal(default.tidy()["std_error"], mammen.tidy()["std_error"])
    se0 = analytic.tidy()["std_error"].to_numpy()
    for wt in ("rademacher", "webb"):
        res = pdid.att_gt(df, **kw, weight_type=wt)
        se = res.tidy()["std_error"].to_numpy()
        assert not np.array_equal(se, mammen.tidy()["std_error"].to_numpy())
        assert np.allclose(se, se0, rtol=0.15), (wt, se, se0)
        agg = pdid.aggte(res, type="dynamic")
        again = pdid.aggte(res, type="dynamic", weight_type=wt)
        assert np.array_equal(agg.tidy()["std_error"], again.tidy()["std_error"])
    with pytest.raises(PilotdidError, match="weight_type"):
        pdid.att_gt(df, **kw, weight_type="normal")


def test_analytic_se_with_few_clusters_warns_once():
    """MacKinnon & Webb (2017): fewer than 42 clusters -> one FewClustersWarning per fit,
    naming the bootstrap to use; silent with 42 or more; suppressible by the standard
    filter."""
    small = staggered_panel(n_units=14)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdid.sunab(small, y="y", unit="unit", time="time", cohort="g")
    few = [w for w in caught if issubclass(w.category, FewClustersWarning)]
    assert len(few) == 1
    assert "14 clusters" in str(few[0].message) and "wild_bootstrap" in str(few[0].message)
    big = staggered_panel(n_units=42)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FewClustersWarning)
        pdid.sunab(big, y="y", unit="unit", time="time", cohort="g")
        pdid.att_gt(big, y="y", unit="unit", time="time", cohort="g")
    with pytest.warns(FewClustersWarning, match="bstrap=True"):
        pdid.att_gt(small, y="y", unit="unit", time="time", cohort="g")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", FewClustersWarning)  # the later filter wins
        pdid.sunab(small, y="y", unit="unit", time="time", cohort="g")

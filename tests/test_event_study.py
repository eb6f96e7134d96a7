"""TWFE event study and the `event_study` dispatcher.

References: pyfixest 0.60 `feols("y ~ d_e... | unit + year")` on the same dummies built in
pandas (coefficients and CR1 SEs to 1e-8); the Wald pre-trend statistic recomputed with numpy
from pyfixest's clustered vcov and pyfixest's own `wald_test`.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import polars as pl
import pytest

import pilotdid as pdid
from pilotdid.did.event_studies import event_study, twfe_event_study

pf = pytest.importorskip("pyfixest")
scipy_stats = pytest.importorskip("scipy.stats")


@pytest.fixture(scope="module")
def df_het() -> pd.DataFrame:
    """pyfixest's bundled staggered panel (1,500 units, 1990-2020, cohorts 2000/2010 + never)."""
    path = os.path.join(os.path.dirname(pf.__file__), "did", "data", "df_het.csv")
    return pd.read_csv(path)


def _dummies(df: pd.DataFrame, refs=(-1,), bin_lo=None, bin_hi=None, window=None):
    """Event-time dummies as in the module docs, built independently in pandas."""
    d = df.copy()
    treated = d["g"] > 0
    e = (d["year"] - d["g"]).where(treated)
    if window is not None:
        d = d[~treated | ((e >= window[0]) & (e <= window[1]))].copy()
        treated = d["g"] > 0
        e = (d["year"] - d["g"]).where(treated)
    if bin_lo is not None:
        e = e.clip(lower=bin_lo)
    if bin_hi is not None:
        e = e.clip(upper=bin_hi)
    names = []
    for v in sorted(e.dropna().unique()):
        if int(v) in refs:
            continue
        name = f"d_{'m' if v < 0 else 'p'}{abs(int(v))}"
        d[name] = (e == v).astype(float).fillna(0.0)
        names.append((int(v), name))
    return d, names


@pytest.mark.parametrize(
    "opts",
    [
        {},
        {"ref_period": [-1, -5]},
        {"bin_lo": -6, "bin_hi": 8},
        {"window": (-5, 5)},
        {"window": (-8, 10), "bin_lo": -6},
    ],
)
def test_twfe_matches_pyfixest(df_het, opts):
    """pyfixest feols on hand-built dummies | unit + year, CR1 by unit: coef, SE to 1e-8."""
    refs = opts.get("ref_period", -1)
    refs_l = [refs] if isinstance(refs, int) else list(refs)
    d, names = _dummies(
        df_het, tuple(refs_l), opts.get("bin_lo"), opts.get("bin_hi"), opts.get("window")
    )
    fml = "dep_var ~ " + " + ".join(n for _, n in names) + " | unit + year"
    fit = pf.feols(fml, data=d, vcov={"CRV1": "unit"}, fixef_tol=1e-13)
    res = twfe_event_study(df_het, y="dep_var", time="year", unit="unit", cohort="g", **opts)
    assert list(res.event_time) == [e for e, _ in names]
    np.testing.assert_allclose(res.estimate, fit.coef().to_numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(res.std_error, fit.se().to_numpy(), rtol=1e-8, atol=1e-12)
    if "window" in opts:
        assert res.extra["n_outside_window"] == len(df_het) - len(d)
    # Wald test of the leads: numpy on pyfixest's vcov, and pyfixest's wald_test.
    lead = [i for i, (e, _) in enumerate(names) if e < 0]
    b = fit.coef().to_numpy()[lead]
    v = fit._vcov[np.ix_(lead, lead)]
    w = float(b @ np.linalg.solve(v, b))
    pt = res.pretrend
    assert pt["chi2"] == pytest.approx(w, rel=1e-8)
    assert pt["f"] == pytest.approx(w / len(lead), rel=1e-8)
    assert pt["df2"] == df_het["unit"].nunique() - 1
    assert pt["p_f"] == pytest.approx(
        scipy_stats.f.sf(w / len(lead), len(lead), pt["df2"]), rel=1e-6, abs=1e-12
    )
    assert pt["p_chi2"] == pytest.approx(scipy_stats.chi2.sf(w, len(lead)), rel=1e-6, abs=1e-12)
    R = np.zeros((len(lead), len(names)))
    R[np.arange(len(lead)), lead] = 1.0
    with pytest.warns(UserWarning, match="chi2"):
        wt = fit.wald_test(R=R)  # pyfixest reports the chi2 form W when R is not identity
    assert float(wt["statistic"]) == pytest.approx(w, rel=1e-8)


def test_twfe_controls_iid_and_pretrend_on_polars(df_het):
    """With a control and iid errors: pyfixest feols, same formula (1e-8)."""
    d, names = _dummies(df_het, bin_lo=-5, bin_hi=5)
    d["x"] = np.sin(np.arange(len(d)) * 0.37)
    fml = "dep_var ~ " + " + ".join(n for _, n in names) + " + x | unit + year"
    fit = pf.feols(fml, data=d, vcov="iid")
    res = event_study(
        pl.DataFrame({c: d[c].to_numpy() for c in ["dep_var", "year", "unit", "g", "x"]}),
        y="dep_var",
        time="year",
        unit="unit",
        cohort="g",
        controls=["x"],
        vcov="iid",
        bin_lo=-5,
        bin_hi=5,
    )
    k = len(names)
    np.testing.assert_allclose(res.estimate, fit.coef().to_numpy()[:k], rtol=1e-8)
    np.testing.assert_allclose(res.std_error, fit.se().to_numpy()[:k], rtol=1e-8)
    assert res.extra["coef_all"][k] == pytest.approx(fit.coef()["x"], rel=1e-8)
    assert res.estimator == "TWFE"
    assert res.tidy().height == k


def test_twfe_wild_bootstrap_runs_and_is_seeded(df_het):
    """WCR of one coefficient: same seed, same p-value; estimate = the coefficient (identity)."""
    sub = df_het[df_het["unit"] <= 300]
    res = twfe_event_study(
        sub, y="dep_var", time="year", unit="unit", cohort="g", bin_lo=-5, bin_hi=5
    )
    a = res.wild_bootstrap(2, reps=199, seed=3)
    b = res.wild_bootstrap(2, reps=199, seed=3)
    assert a["p_value"] == b["p_value"]
    j = list(res.event_time).index(2)
    assert a["estimate"] == pytest.approx(res.estimate[j], rel=1e-9)
    assert a["conf_int"][0] < res.estimate[j] < a["conf_int"][1]


def test_caller_frame_untouched_and_bad_input(df_het):
    """The frame is not modified; bad options raise PilotdidError naming the option."""
    d = df_het.copy()
    twfe_event_study(d, y="dep_var", time="year", unit="unit", cohort="g")
    pd.testing.assert_frame_equal(d, df_het)
    with pytest.raises(pdid.PilotdidError, match="estimator"):
        event_study(d, y="dep_var", time="year", unit="unit", cohort="g", estimator="ols")
    with pytest.raises(pdid.PilotdidError, match="bin_lo"):
        twfe_event_study(d, y="dep_var", time="year", unit="unit", cohort="g", bin_lo=3, bin_hi=1)
    with pytest.raises(pdid.PilotdidError, match="nope"):
        twfe_event_study(d, y="dep_var", time="year", unit="unit", cohort="nope")
    d2 = d.assign(g=0)
    with pytest.raises(pdid.PilotdidError, match="never treated|no unit is ever treated"):
        twfe_event_study(d2, y="dep_var", time="year", unit="unit", cohort="g")


def test_dispatch_twfe_bjs_did2s(df_het):
    """event_study(estimator=...) returns the same numbers as the direct calls (identity)."""
    from pilotdid.did.event_studies import did2s, imputation

    sub = df_het[df_het["unit"] <= 400]
    for est, fn in [("twfe", twfe_event_study), ("did2s", did2s)]:
        r = event_study(
            sub, y="dep_var", time="year", unit="unit", cohort="g", estimator=est, window=(-5, 5)
        )
        assert isinstance(r, pdid.results.EventStudyResult)
        assert min(r.event_time) == -5 and max(r.event_time) == 5
        r2 = fn(sub, y="dep_var", time="year", unit="unit", cohort="g", window=(-5, 5))
        np.testing.assert_array_equal(r.estimate, r2.estimate)
        np.testing.assert_array_equal(r.std_error, r2.std_error)
    r = event_study(
        sub, y="dep_var", time="year", unit="unit", cohort="g", estimator="bjs", window=(-4, 6)
    )
    assert list(r.event_time) == [-4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6]
    assert r.pretrend is not None and r.pretrend["df1"] == 4
    r2 = imputation(
        sub,
        y="dep_var",
        time="year",
        unit="unit",
        cohort="g",
        horizons=range(7),
        pretrends=[-4, -3, -2, -1],
    )
    np.testing.assert_array_equal(r.estimate, r2.estimate)


def test_dispatch_cs_and_sa(df_het):
    """CS and SA dispatch to the other helpers' modules (skipped until they exist)."""
    import importlib.util

    sub = df_het[df_het["unit"] <= 300]
    if importlib.util.find_spec("pilotdid.did.staggered") is None:
        pytest.skip("pilotdid.did.staggered not in this tree yet")
    r = event_study(
        sub, y="dep_var", time="year", unit="unit", cohort="g", estimator="cs", window=(-5, 5)
    )
    assert isinstance(r, pdid.results.EventStudyResult)
    if importlib.util.find_spec("pilotdid.did.sun_abraham") is None:
        pytest.skip("pilotdid.did.sun_abraham not in this tree yet")
    r = event_study(sub, y="dep_var", time="year", unit="unit", cohort="g", estimator="sa")
    assert isinstance(r, pdid.results.EventStudyResult)


def test_plot_overlay(df_het):
    """plot and plot_event_studies return an Axes with one series per result."""
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    sub = df_het[df_het["unit"] <= 300]
    a = twfe_event_study(sub, y="dep_var", time="year", unit="unit", cohort="g", window=(-5, 5))
    b = event_study(
        sub, y="dep_var", time="year", unit="unit", cohort="g", estimator="did2s", window=(-5, 5)
    )
    ax = pdid.results.plot_event_studies([a, b], labels=["TWFE", "did2s"])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["TWFE", "did2s"]
    assert a.plot() is not None
    text = a.summary()
    assert "pre-trend test" in text


def test_missing_values_and_string_ids_are_identities(df_het):
    """Rows with a missing outcome are dropped and counted; string unit ids and NaN cohorts
    for never-treated units give the same numbers as the cleaned integer-coded frame."""
    from pilotdid.did.event_studies import did2s, imputation

    sub = df_het[df_het["unit"] <= 200].reset_index(drop=True)
    dirty = sub.copy()
    dirty.loc[[3, 50, 700], "dep_var"] = np.nan
    dirty["uid"] = "u" + dirty["unit"].astype(str)
    dirty["gg"] = dirty["g"].where(dirty["g"] > 0)  # never treated: NaN
    clean = sub.drop(index=[3, 50, 700])
    for fn in (twfe_event_study, did2s, imputation):
        a = fn(dirty, y="dep_var", time="year", unit="uid", cohort="gg")
        b = fn(clean, y="dep_var", time="year", unit="unit", cohort="g")
        np.testing.assert_allclose(a.estimate, b.estimate, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(a.std_error, b.std_error, rtol=1e-10)
        assert a.extra["n_missing"] == 3

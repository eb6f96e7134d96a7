"""Sun & Abraham (2021) interaction-weighted event study.

References: (a) pyfixest 0.60 ``feols`` on the same cohort × relative-period indicators built by
hand (coefficients and CR1 SEs); (b) the aggregation done by hand in numpy from pyfixest's
coefficients and vcov (cohort-share weights, delta-method W V Wᵀ); (c) pyfixest's
``SaturatedEventStudy`` (``i(rel_time, cohort, ref=-1, ref2=0)``, its share-weighted aggregation);
(d) the identity SA = TWFE event study with one treated cohort and never-treated controls;
(e) mpdta (R ``did``) runs checked by (a)/(b); a seeded Monte Carlo with a known truth.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import pilotdid as pdid
from pilotdid.did.sun_abraham import sunab

TOL = 1e-8


def hand_dummies(df, idname, tname, gname, ref=(-1,), control="never"):
    """Cohort × relative-period indicators in pilotdid's order (by e, then cohort).
    Returns (frame with d0, d1, ... added and the sample restricted, [(g, e)] per dummy)."""
    g = df[gname].fillna(0).astype(int)
    first, last = df[tname].min(), df[tname].max()
    keep = ~((g > 0) & (g <= first))  # always treated dropped
    ctrl = None
    if control == "last":
        ctrl = int(g[(g > 0) & (g <= last)].max())
        keep &= df[tname] < ctrl
    out = df[keep].copy()
    g = g[keep]
    rel = out[tname] - g
    treated = (g > 0) & (g <= last) & (g != (ctrl if ctrl is not None else -1))
    cells = sorted(
        {(int(gg), int(e)) for gg, e, tr in zip(g, rel, treated) if tr and e not in ref},
        key=lambda c: (c[1], c[0]),
    )
    names = []
    for j, (gg, e) in enumerate(cells):
        out[f"d{j}"] = ((g == gg) & (rel == e)).astype(float)
        names.append(f"d{j}")
    return out, cells, names


def hand_aggregate(df_sample, cells, names, beta, vcov):
    """Event-time estimates and vcov by hand: weights = cell observation shares per e."""
    counts = np.array([df_sample[n].sum() for n in names])
    ev = sorted({e for _, e in cells})
    w = np.zeros((len(ev), len(cells)))
    for r, e in enumerate(ev):
        idx = [j for j, (_, ee) in enumerate(cells) if ee == e]
        w[r, idx] = counts[idx] / counts[idx].sum()
    return np.array(ev), w @ beta, w @ vcov @ w.T, w


@pytest.fixture(scope="module")
def mp(mpdta):
    d = mpdta.rename(columns={"first.treat": "g"}).copy()
    rng = np.random.default_rng(7)
    d["x"] = rng.normal(size=len(d)) + 0.1 * (d["year"] - 2005) * d["lpop"]
    return d


def check_against_pyfixest(
    res,
    data,
    idname,
    tname,
    gname,
    yname,
    pyfixest_reference,
    controls=(),
    control="never",
    vcov=None,
    ref=(-1,),
):
    sample, cells, names = hand_dummies(data, idname, tname, gname, ref=ref, control=control)
    rhs = " + ".join(names + list(controls))
    vcov = {"CR1": idname} if vcov is None else vcov
    ref = pyfixest_reference(f"{yname} ~ {rhs} | {idname} + {tname}", sample, vcov)
    ct = res.cohort_tidy()
    assert list(zip(ct["cohort"], ct["rel_period"])) == cells
    b = ref.coef()[names].to_numpy()
    V = pd.DataFrame(ref._vcov, index=ref._coefnames, columns=ref._coefnames).loc[names, names]
    np.testing.assert_allclose(ct["estimate"], b, rtol=TOL, atol=1e-10)
    np.testing.assert_allclose(ct["std_error"], ref.se()[names].to_numpy(), rtol=TOL, atol=1e-12)
    np.testing.assert_allclose(res.cohort_vcov(), V.to_numpy(), rtol=1e-7, atol=1e-14)
    ev, est, vc, w = hand_aggregate(sample, cells, names, b, V.to_numpy())
    t = res.tidy()
    np.testing.assert_array_equal(t["event_time"].to_numpy(), ev)
    np.testing.assert_allclose(t["estimate"], est, rtol=TOL, atol=1e-10)
    np.testing.assert_allclose(t["std_error"], np.sqrt(np.diag(vc)), rtol=TOL, atol=1e-12)
    np.testing.assert_allclose(res.vcov(), vc, rtol=1e-7, atol=1e-14)
    np.testing.assert_allclose(res.weight_matrix(), w, rtol=0, atol=1e-14)
    assert res.nobs == len(sample)
    return ref


def test_mpdta_matches_pyfixest_cells_and_hand_aggregation(mp, pyfixest_reference):
    """(a)+(b)+(e): mpdta, never-treated controls, CR1 by county."""
    res = sunab(mp, y="lemp", time="year", unit="countyreal", cohort="g")
    check_against_pyfixest(res, mp, "countyreal", "year", "g", "lemp", pyfixest_reference)
    # balanced panel: weights are cohort unit shares among cohorts observed at e
    w = res.weights()
    e0 = w.filter(w["event_time"] == 0)
    n = mp.groupby("g")["countyreal"].nunique()
    np.testing.assert_allclose(
        e0["weight"].to_numpy(), (n[[2004, 2006, 2007]] / n[[2004, 2006, 2007]].sum()).to_numpy()
    )
    assert res.tidy()["event_time"].to_list() == [-4, -3, -2, 0, 1, 2, 3]
    assert res.n_clusters == [500]


def test_mpdta_with_control_variable(mp, pyfixest_reference):
    """(a)+(b) with a time-varying control."""
    res = sunab(mp, y="lemp", time="year", unit="countyreal", cohort="g", controls=["x"])
    ref = check_against_pyfixest(
        res, mp, "countyreal", "year", "g", "lemp", pyfixest_reference, controls=["x"]
    )
    ctl = res.controls_tidy()
    assert ctl["estimate"][0] == pytest.approx(ref.coef()["x"], rel=TOL)
    assert ctl["std_error"][0] == pytest.approx(ref.se()["x"], rel=TOL)


def test_mpdta_last_treated_control(mp, pyfixest_reference):
    """(a)+(b): no never treated; the 2007 cohort is the control, 2007 rows dropped."""
    sub = mp[mp["g"] > 0]
    with pytest.raises(pdid.PilotdidError, match="never"):
        sunab(sub, y="lemp", time="year", unit="countyreal", cohort="g")
    res = sunab(sub, y="lemp", time="year", unit="countyreal", cohort="g", control_group="last")
    assert res.control_cohort == 2007
    assert res.dropped_rows["control_cohort_treated"] == int((sub["year"] >= 2007).sum())
    check_against_pyfixest(
        res, sub, "countyreal", "year", "g", "lemp", pyfixest_reference, control="last"
    )


@pytest.mark.parametrize("vcov", ["iid", "hetero", {"CR1": "countyreal+year"}])
def test_unbalanced_and_other_vcov(mp, pyfixest_reference, vcov):
    """(a)+(b) on an unbalanced mpdta (10% of rows dropped, seed 3): weights are observation
    shares per cell; iid, HC1 and two-way CR1 variances as pyfixest's."""
    rng = np.random.default_rng(3)
    sub = mp[rng.random(len(mp)) > 0.1]
    res = sunab(sub, y="lemp", time="year", unit="countyreal", cohort="g", vcov=vcov)
    check_against_pyfixest(
        res, sub, "countyreal", "year", "g", "lemp", pyfixest_reference, vcov=vcov
    )


def test_two_reference_periods_and_summary(mp, pyfixest_reference, capsys):
    """(a)+(b) with ref_period=[-1, -4] (a second normalised lead, as often done with fixest);
    print(summary()) prints the event-time table."""
    res = sunab(mp, y="lemp", time="year", unit="countyreal", cohort="g", ref_period=[-1, -4])
    check_against_pyfixest(
        res, mp, "countyreal", "year", "g", "lemp", pyfixest_reference, ref=(-1, -4)
    )
    assert -4 not in res.event_time.tolist()
    print(res.summary())
    assert "interaction-weighted" in capsys.readouterr().out
    assert res.tidy().height == len(res.event_time)


def test_mpdta_matches_pyfixest_saturated_event_study(mp):
    """(c) pyfixest 0.60 ``event_study(estimator="saturated")``: cohort × period coefficients and
    SEs, and its share-weighted period aggregation (estimates and SEs; its p-values are
    normal-based). pyfixest's default demeaning tolerance limits the agreement to ~1e-6."""
    pf = pytest.importorskip("pyfixest")
    res = sunab(mp, y="lemp", time="year", unit="countyreal", cohort="g")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.event_study(
            mp,
            yname="lemp",
            idname="countyreal",
            tname="year",
            gname="g",
            estimator="saturated",
            cluster="countyreal",
        )
        agg = fit.aggregate()
    tidy = fit.tidy().reset_index()
    parsed = tidy["Coefficient"].str.extract(r".+::(?P<e>-?[\d.]+):.+::(?P<g>[\d.]+)$")
    ref = {
        (int(float(g)), int(float(e))): (est, se)
        for g, e, est, se in zip(parsed["g"], parsed["e"], tidy["Estimate"], tidy["Std. Error"])
    }
    ct = res.cohort_tidy()
    assert len(ref) == ct.height
    for row in ct.iter_rows(named=True):
        est, se = ref[(row["cohort"], row["rel_period"])]
        assert row["estimate"] == pytest.approx(est, abs=1e-6)
        assert row["std_error"] == pytest.approx(se, rel=1e-5)
    for row in res.tidy().iter_rows(named=True):
        e = float(row["event_time"])
        assert row["estimate"] == pytest.approx(float(agg.loc[e, "Estimate"]), abs=1e-6)
        assert row["std_error"] == pytest.approx(float(agg.loc[e, "Std. Error"]), rel=1e-5)


def test_mpdta_post_periods_equal_r_did_dynamic(mp, reference_dir):
    """Published R did 2.5 (``mpdta_r_did_aggte.csv``, scenario mpdta_nev_dr, dynamic): without
    covariates, with never-treated controls and a balanced panel, SA's CATT(g, e) for e >= 0 is
    the 2×2 DID against period g-1 = CS's ATT(g, g+e), and both weight cohorts by size, so the
    post-treatment event-time estimates coincide (1e-8). (SEs differ: CR1 vs influence
    function; pre-periods differ: CS uses the varying base period.)"""
    ref = pd.read_csv(reference_dir / "mpdta_r_did_aggte.csv")
    ref = ref[(ref["scenario"] == "mpdta_nev_dr") & (ref["type"] == "dynamic") & (ref["egt"] >= 0)]
    res = sunab(mp, y="lemp", time="year", unit="countyreal", cohort="g")
    coef = res.coef()
    for e, att in zip(ref["egt"], ref["att_egt"]):
        assert coef[f"rel::{int(e)}"] == pytest.approx(att, abs=1e-8)
    assert coef["rel::0"] == pytest.approx(-0.0199318, abs=1e-7)


def test_one_cohort_equals_twfe_event_study(castle, pyfixest_reference):
    """(d) Identity: one treated cohort (castle 2006) + never treated: SA = the TWFE event study
    y ~ i(rel, treated, ref=-1) | state + year (pyfixest), coefficients and CR1 SEs to 1e-8."""
    sub = castle[(castle["effyear"] == 2006) | castle["effyear"].isna()].copy()
    sub["g"] = sub["effyear"].fillna(0)
    sub["rel"] = np.where(sub["g"] > 0, sub["year"] - sub["g"], -1).astype(int)
    sub["ever"] = (sub["g"] > 0).astype(float)
    res = sunab(sub, y="l_homicide", time="year", unit="sid", cohort="g")
    ref = pyfixest_reference("l_homicide ~ i(rel, ever, ref=-1) | sid + year", sub, {"CR1": "sid"})
    t = res.tidy()
    names = [n for n in ref._coefnames]
    rel_of = {n: int(float(n.split("::")[1].split(":")[0])) for n in names}
    by_e = {rel_of[n]: (ref.coef()[n], ref.se()[n]) for n in names}
    assert sorted(by_e) == t["event_time"].to_list()
    for row in t.iter_rows(named=True):
        est, se = by_e[row["event_time"]]
        assert row["estimate"] == pytest.approx(est, rel=TOL, abs=1e-10)
        assert row["std_error"] == pytest.approx(se, rel=TOL)


def test_to_event_study_and_plot(mp):
    """The shared EventStudyResult carries the same numbers and the vcov (identity)."""
    import matplotlib

    matplotlib.use("Agg")
    res = sunab(mp, y="lemp", time="year", unit="countyreal", cohort="g")
    es = res.to_event_study()
    assert isinstance(es, pdid.results.EventStudyResult)
    assert es.estimator == "sa"
    np.testing.assert_array_equal(es.estimate, res.tidy()["estimate"].to_numpy())
    np.testing.assert_array_equal(es.vcov(), res.vcov())
    assert tuple(es.reference) == (-1,)
    assert es.tidy().height == len(res.event_time)
    assert res.plot() is not None
    # ATT over post cells = observation-weighted mean of post CATT(g, e)
    ct = res.cohort_tidy().filter(res.cohort_tidy()["rel_period"] >= 0)
    att = float((ct["estimate"] * ct["n_obs"]).sum() / ct["n_obs"].sum())
    assert res.att == pytest.approx(att, rel=1e-12)


def test_binning(mp, pyfixest_reference):
    """bin=(-2, 2): leads before -2 pooled into -2, lags after 2 into 2; equals pyfixest on the
    binned indicators built by hand."""
    res = sunab(mp, y="lemp", time="year", unit="countyreal", cohort="g", bin_lo=-2, bin_hi=2)
    assert res.tidy()["event_time"].to_list() == [-2, 0, 1, 2]
    d = mp.copy()
    g = d["g"]
    rel = (d["year"] - g).clip(-2, 2)
    cells = sorted(
        {(int(a), int(b)) for a, b in zip(g[g > 0], rel[g > 0]) if b != -1},
        key=lambda c: (c[1], c[0]),
    )
    names = []
    for j, (gg, e) in enumerate(cells):
        d[f"d{j}"] = ((g == gg) & (rel == e)).astype(float)
        names.append(f"d{j}")
    ref = pyfixest_reference(
        f"lemp ~ {' + '.join(names)} | countyreal + year", d, {"CR1": "countyreal"}
    )
    np.testing.assert_allclose(res.cohort_tidy()["estimate"], ref.coef()[names], rtol=TOL)
    np.testing.assert_allclose(res.cohort_tidy()["std_error"], ref.se()[names], rtol=TOL)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"control_group": "first"}, "'control_group'"),
        ({"y": "nope"}, "'nope'"),
        ({"bin_lo": 0, "bin_hi": 3}, "'bin_lo'"),
        ({"vcov": "bootstrap"}, "'vcov'"),
    ],
)
def test_bad_options(mp, kwargs, fragment):
    args = {"y": "lemp", "time": "year", "unit": "countyreal", "cohort": "g"} | kwargs
    with pytest.raises(pdid.PilotdidError, match=fragment):
        sunab(mp, **args)


def test_bad_cohort_column(mp):
    d = mp.assign(g=np.where(mp["countyreal"] == mp["countyreal"].iloc[0], 2004.5, mp["g"]))
    with pytest.raises(pdid.PilotdidError, match="'g'"):
        sunab(d, y="lemp", time="year", unit="countyreal", cohort="g")


def _simulate(rng, n_per=(60, 80, 60, 40), cohorts=(0, 3, 5, 7), t_max=8):
    """Staggered adoption, heterogeneous dynamic effects tau_g(e) = slope_g * (e + 1)."""
    slope = {3: 1.0, 5: 0.5, 7: 0.25}
    ids, ts, gs = [], [], []
    uid = 0
    for g, n in zip(cohorts, n_per):
        for _ in range(n):
            ids += [uid] * t_max
            ts += list(range(1, t_max + 1))
            gs += [g] * t_max
            uid += 1
    ids, ts, gs = map(np.asarray, (ids, ts, gs))
    alpha = rng.normal(size=uid)[ids]
    lam = np.sin(ts) * 0.5
    e = ts - gs
    tau = np.where((gs > 0) & (e >= 0), np.vectorize(lambda g: slope.get(g, 0.0))(gs) * (e + 1), 0)
    y = alpha + lam + tau + rng.normal(size=len(ids))
    df = pd.DataFrame({"id": ids, "t": ts, "g": gs, "y": y, "d": ((gs > 0) & (e >= 0)) * 1.0})
    return df, tau


def test_monte_carlo_sa_unbiased_twfe_biased():
    """Simulated truth (own DGP, seed 2024, 200 reps): SA event-time estimates are within 3 Monte
    Carlo SEs of the true share-weighted dynamic effects; static TWFE misses the true ATT by more
    than 10 MC SEs (negative weights on late-vs-early comparisons), while SA's ATT over the
    post-treatment cells is within 3."""
    rng = np.random.default_rng(2024)
    reps = 200
    est, twfe, att = [], [], []
    for _ in range(reps):
        df, tau = _simulate(rng)
        r = sunab(df, y="y", time="t", unit="id", cohort="g", vcov="iid")
        est.append(r.tidy()["estimate"].to_numpy())
        att.append(r.att)
        twfe.append(pdid.feols("y ~ d | id + t", df, vcov="iid").coef()["d"])
        ev = r.event_time
    df, tau = _simulate(np.random.default_rng(0))
    rel = df["t"] - df["g"]
    truth = np.array([tau[(df["g"] > 0) & (rel == e)].mean() if e >= 0 else 0.0 for e in ev])
    est = np.asarray(est)
    mc_se = est.std(axis=0, ddof=1) / np.sqrt(reps)
    assert np.all(np.abs(est.mean(axis=0) - truth) < 3 * mc_se), (est.mean(axis=0), truth)
    post = (df["g"] > 0) & (rel >= 0)
    att_truth = tau[post].mean()
    att = np.asarray(att)
    assert abs(att.mean() - att_truth) < 3 * att.std(ddof=1) / np.sqrt(reps)
    twfe = np.asarray(twfe)
    assert abs(twfe.mean() - att_truth) > 10 * twfe.std(ddof=1) / np.sqrt(reps)


def test_never_treated_coded_missing_and_frame_untouched(castle):
    """Identity: never treated coded as missing (NaN) or 0 give the same fit; the caller's frame
    is not modified."""
    before = castle.copy()
    a = sunab(castle, y="l_homicide", time="year", unit="sid", cohort="effyear")
    b = sunab(
        castle.assign(effyear=castle["effyear"].fillna(0)),
        y="l_homicide",
        time="year",
        unit="sid",
        cohort="effyear",
    )
    np.testing.assert_array_equal(a.tidy()["estimate"], b.tidy()["estimate"])
    np.testing.assert_array_equal(a.vcov(), b.vcov())
    pd.testing.assert_frame_equal(castle, before)
    assert a.dropped_rows == {"missing": 0, "always_treated": 0, "control_cohort_treated": 0}


def test_always_treated_units_dropped(castle, pyfixest_reference):
    """Castle from 2005 on: the 2005 cohort has no pre-period; its rows are dropped and counted,
    and the fit equals pyfixest on the hand-built indicators without it (a)+(b)."""
    sub = castle[castle["year"] >= 2005].assign(g=lambda d: d["effyear"].fillna(0))
    res = sunab(sub, y="l_homicide", time="year", unit="sid", cohort="g")
    assert res.dropped_rows["always_treated"] == int((sub["g"] == 2005).sum())
    check_against_pyfixest(res, sub, "sid", "year", "g", "l_homicide", pyfixest_reference)


def test_event_study_sa_window_drops_rows_outside_like_twfe():
    """event_study(estimator="sa", window=(lo, hi)) = sunab on the data without treated rows
    whose event time is outside the window (as TWFE/did2s); the dropped rows are counted."""
    import polars as pl

    import pilotdid as pdid
    from pilotdid import datasets

    df = datasets.yrd()
    res = pdid.event_study(
        df, y="gtfp", time="year", unit="city", cohort="cohort", estimator="sa", window=(-4, 3)
    )
    e = pl.col("year") - pl.col("cohort")
    outside = (pl.col("cohort") > 0) & ((e < -4) | (e > 3))
    ref = pdid.sunab(
        df.filter(~outside), y="gtfp", time="year", unit="city", cohort="cohort"
    ).to_event_study()
    assert list(res.event_time) == [-4, -3, -2, 0, 1, 2, 3]
    np.testing.assert_allclose(res.estimate, ref.estimate, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.std_error, ref.std_error, rtol=0, atol=1e-12)
    assert res.extra["n_outside_window"] == df.filter(outside).height > 0
    # the option lives on sunab itself; counted among its dropped rows
    direct = pdid.sunab(df, y="gtfp", time="year", unit="city", cohort="cohort", window=(-4, 3))
    np.testing.assert_allclose(direct.to_event_study().estimate, ref.estimate, rtol=0, atol=1e-12)
    assert direct.dropped_rows["outside_window"] == df.filter(outside).height
    # a cohort after the last period counts as never treated and keeps all its rows
    late = df.with_columns(
        pl.when(pl.col("city") == "Shanghai").then(2030).otherwise(pl.col("cohort")).alias("cohort")
    )
    moved = pdid.sunab(late, y="gtfp", time="year", unit="city", cohort="cohort", window=(-4, 3))
    unwindowed_rows = pdid.sunab(late, y="gtfp", time="year", unit="city", cohort="cohort").nobs
    assert moved.nobs + moved.dropped_rows["outside_window"] == unwindowed_rows
    assert (
        moved.dropped_rows["outside_window"]
        == late.filter(
            (pl.col("cohort") > 0) & (pl.col("cohort") <= 2021) & ((e < -4) | (e > 3))
        ).height
    )

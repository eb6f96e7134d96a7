"""Aggregations of ATT(g,t) (pilotdid.aggte) against R `did` 2.5 `aggte`.

Reference: /work/shared/reference/mpdta_r_did_aggte.csv (simple, group, dynamic, calendar with
analytic SEs for three scenarios); identities for min_e/max_e/balance_e and the event-study
conversion.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pilotdid._core import PilotdidError
from pilotdid.did.staggered import aggte, att_gt
from pilotdid.results import EventStudyResult

_CANDIDATES = [
    Path(__file__).resolve().parent.parent / ".." / "shared" / "reference",
    Path("/work/shared/reference"),
]
REF = next((p.resolve() for p in _CANDIDATES if (p / "mpdta.csv").exists()), None)
pytestmark = pytest.mark.skipif(REF is None, reason="shared/reference not found")

SCENARIOS = {
    "mpdta_nev_dr": dict(control_group="nevertreated", est_method="dr"),
    "mpdta_nyt_dr": dict(control_group="notyettreated", est_method="dr"),
    "mpdta_nev_ipw": dict(control_group="nevertreated", est_method="ipw"),
}
_FITS: dict = {}


def _mpdta() -> pl.DataFrame:
    return pl.read_csv(REF / "mpdta.csv")


def _res(sc: str):
    if sc not in _FITS:
        _FITS[sc] = att_gt(
            _mpdta(),
            y="lemp",
            time="year",
            unit="countyreal",
            cohort="first.treat",
            **SCENARIOS[sc],
        )
    return _FITS[sc]


def _rows():
    if REF is None:
        return []
    return list(pl.read_csv(REF / "mpdta_r_did_aggte.csv").iter_rows(named=True))


@pytest.mark.parametrize("row", _rows(), ids=lambda r: f"{r['scenario']}-{r['type']}-{r['egt']}")
def test_aggte_matches_r_did(row):
    """Each aggregate (1e-8) and analytic SE (1e-6), and the overall ATT / SE, of R did 2.5."""
    a = aggte(_res(row["scenario"]), type=row["type"])
    assert abs(a.overall_att - row["overall_att"]) < 1e-8
    assert abs(a.overall_se - row["overall_se"]) < 1e-6
    if row["egt"] is not None and not (isinstance(row["egt"], float) and math.isnan(row["egt"])):
        tb = a.tidy().filter(pl.col("egt") == int(row["egt"]))
        assert tb.height == 1
        assert abs(tb["estimate"][0] - row["att_egt"]) < 1e-8
        assert abs(tb["std_error"][0] - row["se_egt"]) < 1e-6


def test_egt_sets_match_r():
    """The set of groups / event times / periods equals R's for every type and scenario."""
    ref = pl.read_csv(REF / "mpdta_r_did_aggte.csv")
    for (sc, ty), part in ref.group_by(["scenario", "type"]):
        if ty == "simple":
            continue
        a = aggte(_res(sc), type=ty)
        assert sorted(a.egt.tolist()) == sorted(int(e) for e in part["egt"].to_list())


def test_min_max_e_window_is_a_subset():
    """Identity: min_e/max_e keep the same event-time estimates, only fewer of them."""
    full = aggte(_res("mpdta_nev_dr"), type="dynamic").tidy()
    win = aggte(_res("mpdta_nev_dr"), type="dynamic", min_e=-1, max_e=1).tidy()
    assert win["egt"].to_list() == [-1, 0, 1]
    j = win.join(full, on="egt")
    np.testing.assert_allclose(j["estimate"], j["estimate_right"], atol=1e-15)
    np.testing.assert_allclose(j["std_error"], j["std_error_right"], atol=1e-15)


def test_balance_e_uses_only_cohorts_observed_long_enough():
    """balance_e=1: cohorts with max_t - g >= 1 (2004, 2006); e=0 is then the pg-weighted
    average of ATT(2004,2004) and ATT(2006,2006) and e ranges over [balance_e - 3, 1]."""
    r = _res("mpdta_nev_dr")
    a = aggte(r, type="dynamic", balance_e=1)
    assert a.egt.tolist() == [-2, -1, 0, 1]
    g = _mpdta().filter(pl.col("year") == 2003)["first.treat"]
    p4, p6 = (g == 2004).sum(), (g == 2006).sum()
    e0 = (p4 * r.att(2004, 2004) + p6 * r.att(2006, 2006)) / (p4 + p6)
    assert abs(a.att_egt[a.egt.tolist().index(0)] - e0) < 1e-14


def test_to_event_study():
    """type='dynamic' converts to the shared EventStudyResult (estimator 'cs')."""
    a = aggte(_res("mpdta_nev_dr"), type="dynamic")
    es = a.to_event_study()
    assert isinstance(es, EventStudyResult) and es.estimator == "cs"
    np.testing.assert_array_equal(es.event_time, a.egt)
    np.testing.assert_array_equal(es.estimate, a.att_egt)
    assert es.tidy().height == len(a.egt)
    # analytic vcov from the influence functions: its diagonal gives the SEs
    np.testing.assert_allclose(np.sqrt(np.diag(es.vcov())), es.std_error, rtol=1e-12)
    with pytest.raises(PilotdidError):
        aggte(_res("mpdta_nev_dr"), type="group").to_event_study()


def test_universal_base_reference_in_event_study():
    """Universal base: e=-1 is the reference (ATT 0, no SE) and is listed as such."""
    r = att_gt(
        _mpdta(),
        y="lemp",
        time="year",
        unit="countyreal",
        cohort="first.treat",
        base_period="universal",
    )
    es = aggte(r, type="dynamic").to_event_study()
    assert list(es.reference) == [-1] and -1 not in es.event_time.tolist()


def test_bootstrap_aggte_close_to_analytic_with_band():
    """Bootstrap SEs of the event study within 10% of analytic; cband widens the band."""
    d = _mpdta()
    r = att_gt(
        d,
        y="lemp",
        time="year",
        unit="countyreal",
        cohort="first.treat",
        bstrap=True,
        reps=999,
        cband=True,
        seed=3,
    )
    an = aggte(_res("mpdta_nev_dr"), type="dynamic")
    bs = aggte(r, type="dynamic")
    assert np.all(np.abs(bs.se_egt / an.se_egt - 1) < 0.10)
    assert abs(bs.overall_se / an.overall_se - 1) < 0.10
    assert bs.crit_val > 1.96
    es = bs.to_event_study()
    assert es.band_low is not None and np.all(es.band_low <= es.conf_low + 1e-15)
    s = aggte(r, type="simple", seed=5)
    assert abs(s.overall_se / aggte(_res("mpdta_nev_dr"), type="simple").overall_se - 1) < 0.10


def test_bad_type():
    with pytest.raises(PilotdidError, match="type"):
        aggte(_res("mpdta_nev_dr"), type="cohort")
    with pytest.raises(PilotdidError, match="cband"):
        aggte(_res("mpdta_nev_dr"), type="dynamic", cband=True)


def test_summary_runs_and_shows_overall():
    s = aggte(_res("mpdta_nev_dr"), type="group").summary()
    assert "Overall ATT" in s and "2004" in s


@pytest.mark.parametrize("est_method", ["dr", "ipw", "reg"])
@pytest.mark.parametrize("control_group", ["nevertreated", "notyettreated"])
def test_covariates_weights_match_csdid(est_method, control_group):
    """Independent implementation: csdid 0.4 (Python port of R did) with xformla='~ lpop' and
    sampling weights: every ATT(g,t), SE and the four aggregations agree to 1e-8."""
    csdid_att_gt = pytest.importorskip("csdid.att_gt")
    import warnings

    import pandas as pd

    pdf = pd.read_csv(REF / "mpdta.csv")
    pdf["w"] = 1 + (pdf["countyreal"] % 7) / 3
    d = pl.from_dict({c: pdf[c].to_numpy() for c in pdf.columns})
    r = att_gt(
        d,
        y="lemp",
        time="year",
        unit="countyreal",
        cohort="first.treat",
        controls=["lpop"],
        weights="w",
        control_group=control_group,
        est_method=est_method,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = csdid_att_gt.ATTgt(
            yname="lemp",
            gname="first.treat",
            idname="countyreal",
            tname="year",
            data=pdf,
            control_group=[control_group],
            xformla="lemp~lpop",
            weights_name="w",
        )
        m.fit(est_method=est_method, bstrap=False)
    t = r.tidy()
    np.testing.assert_array_equal(t["group"], np.asarray(m.results["group"]))
    np.testing.assert_array_equal(t["t"], np.asarray(m.results["year"]))
    np.testing.assert_allclose(t["estimate"], np.asarray(m.results["att"]), rtol=0, atol=1e-8)
    np.testing.assert_allclose(t["std_error"], np.asarray(m.results["se"]), rtol=0, atol=1e-8)
    for ty in ("simple", "group", "dynamic", "calendar"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.aggte(typec=ty, bstrap=False)
        a = aggte(r, type=ty)
        assert abs(a.overall_att - float(m.atte["overall_att"])) < 1e-8, ty
        assert abs(a.overall_se - float(m.atte["overall_se"])) < 1e-8, ty
        if ty != "simple":
            np.testing.assert_array_equal(a.egt, np.asarray(m.atte["egt"], dtype=np.int64))
            np.testing.assert_allclose(a.att_egt, np.asarray(m.atte["att_egt"]), atol=1e-8)
            np.testing.assert_allclose(a.se_egt, np.asarray(m.atte["se_egt"]), atol=1e-8)


def _fixed_share_influence(res, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """The influence functions of the ``kind`` aggregates and of the overall one with the
    cohort shares held fixed: Callaway & Sant'Anna (2021, Sec. 4) weights P(G = g) over the
    cells of each aggregate, applied to the cells' influence functions, without R did's
    ``wif`` term (R ``compute.aggte``: ``inf.func = get_agg_inf_func(..., wif = NULL)``)."""
    c = res._cells
    g = np.asarray(c.group)
    t = np.asarray(c.t)
    kept = np.asarray(c.status) != "skipped"
    psi = np.asarray(res._core.influence, dtype=float)
    cohort = _mpdta().filter(pl.col("year") == 2003)["first.treat"].to_numpy()
    pg = np.array([np.mean(cohort == gi) for gi in g])
    post = kept & (t >= g)

    def weighted(mask: np.ndarray) -> np.ndarray:
        w = np.where(mask, pg, 0.0)
        return psi @ (w / w.sum())

    if kind == "simple":
        return np.empty((psi.shape[0], 0)), weighted(post)
    if kind == "group":
        gs = sorted(set(g[post].tolist()))
        cols = np.column_stack([weighted(post & (g == gi)) for gi in gs])
        share = np.array([np.mean(cohort == gi) for gi in gs])
        return cols, cols @ (share / share.sum())
    if kind == "dynamic":
        es = sorted(set((t - g)[kept].tolist()))
        cols = np.column_stack([weighted(kept & (t - g == e)) for e in es])
        return cols, cols[:, np.array(es) >= 0].mean(axis=1)
    ts = sorted(set(t[post].tolist()))
    cols = np.column_stack([weighted(post & (t == ti)) for ti in ts])
    return cols, cols.mean(axis=1)


@pytest.mark.parametrize("kind", ["simple", "group", "dynamic", "calendar"])
def test_fixed_cohort_shares_drop_the_share_influence(kind):
    """cohort_shares="fixed": SEs equal sqrt(sum psi^2)/n of the influence function without
    the estimated-share term, computed here in numpy from the cells' influence functions
    (1e-10); the estimates are those of the default, which stays R did's (test above)."""
    r = _res("mpdta_nev_dr")
    est = aggte(r, type=kind)
    fixed = aggte(r, type=kind, cohort_shares="fixed")
    n = r.n_units
    cols, overall = _fixed_share_influence(r, kind)
    assert fixed.overall_att == est.overall_att
    np.testing.assert_array_equal(fixed.att_egt, est.att_egt)
    assert fixed.overall_se == pytest.approx(np.sqrt(np.sum(overall**2)) / n, abs=1e-10)
    if kind != "simple":
        se = np.sqrt(np.sum(cols**2, axis=0)) / n
        np.testing.assert_allclose(fixed.se_egt, se, rtol=0, atol=1e-10)
        np.testing.assert_allclose(fixed._vcov, cols.T @ cols / n**2, rtol=0, atol=1e-12)
    if kind == "group":  # per-group aggregates have no estimated weights in R either
        np.testing.assert_array_equal(fixed.se_egt, est.se_egt)
    # the share term adds variance here, so the conditional SE of the overall ATT is smaller
    assert fixed.overall_se < est.overall_se


def test_fixed_cohort_shares_multiplier_bootstrap():
    """The multiplier bootstrap draws the same influence function as the analytic SE, so with
    "fixed" its SEs agree with the fixed analytic ones (within 10%, 999 draws, as the default's
    bootstrap test above), and the same seed gives the same draws for both choices."""
    r = _res("mpdta_nev_dr")
    an = aggte(r, type="dynamic", cohort_shares="fixed")
    bs = aggte(r, type="dynamic", bstrap=True, reps=999, seed=3, cohort_shares="fixed")
    assert np.all(np.abs(bs.se_egt / an.se_egt - 1) < 0.10)
    assert abs(bs.overall_se / an.overall_se - 1) < 0.10
    # same seed, same multipliers: the share term (2.4% of the analytic SE of the simple
    # aggregate here) is what separates the two bootstrap SEs
    simple = {s: aggte(r, type="simple", cohort_shares=s) for s in ("estimated", "fixed")}
    boot = {
        s: aggte(r, type="simple", bstrap=True, reps=999, seed=3, cohort_shares=s)
        for s in ("estimated", "fixed")
    }
    assert abs(boot["fixed"].overall_se / simple["fixed"].overall_se - 1) < 0.10
    assert boot["fixed"].overall_se < boot["estimated"].overall_se
    with pytest.raises(PilotdidError, match="cohort_shares"):
        aggte(r, type="simple", cohort_shares="sample")
    assert "cohort_shares='fixed'" in simple["fixed"].summary()
    assert "cohort_shares" not in simple["estimated"].summary()

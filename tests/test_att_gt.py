"""Callaway & Sant'Anna ATT(g,t): pilotdid.att_gt against R `did` 2.5.

References: /work/shared/reference/mpdta_r_did_attgt.csv and mpdta_r_did_pretest.csv (R did 2.5,
att_gt(..., bstrap=FALSE)); a hand-coded numpy DRDID (Sant'Anna & Zhao 2020) for covariates;
exact identities (reg = ipw = dr without covariates, constant weights, balanced subsets).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pilotdid._core import PilotdidError
from pilotdid.did.staggered import att_gt

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


def _mpdta() -> pl.DataFrame:
    return pl.read_csv(REF / "mpdta.csv")


def _fit(scenario: str, **kw):
    return att_gt(
        _mpdta(),
        y="lemp",
        time="year",
        unit="countyreal",
        cohort="first.treat",
        **SCENARIOS[scenario],
        **kw,
    )


_FITS: dict[str, object] = {}


def _cached(scenario: str):
    if scenario not in _FITS:
        _FITS[scenario] = _fit(scenario)
    return _FITS[scenario]


def _attgt_rows():
    if REF is None:
        return []
    return list(pl.read_csv(REF / "mpdta_r_did_attgt.csv").iter_rows(named=True))


def _pretest_rows():
    if REF is None:
        return []
    return list(pl.read_csv(REF / "mpdta_r_did_pretest.csv").iter_rows(named=True))


@pytest.mark.parametrize(
    "row", _attgt_rows(), ids=lambda r: f"{r['scenario']}-{r['group']}-{r['t']}"
)
def test_attgt_matches_r_did(row):
    """Every ATT(g,t) (1e-8) and analytic SE (1e-6) of R did 2.5 on mpdta."""
    res = _cached(row["scenario"])
    tb = res.tidy().filter((pl.col("group") == row["group"]) & (pl.col("t") == row["t"]))
    assert tb.height == 1
    assert abs(tb["estimate"][0] - row["att"]) < 1e-8
    assert abs(tb["std_error"][0] - row["se"]) < 1e-6
    assert abs(res.att(row["group"], row["t"]) - row["att"]) < 1e-8


def test_cell_count_matches_r():
    """R reports 12 cells per scenario (3 cohorts x 4 periods with a varying base)."""
    for sc in SCENARIOS:
        assert _cached(sc).tidy().height == 12
        assert _cached(sc).n_units == 500


@pytest.mark.parametrize("row", _pretest_rows(), ids=lambda r: r["scenario"])
def test_pretest_matches_r_did(row):
    """Wald pre-test W (1e-6) and p-value (R rounds to 5 digits) of R did 2.5."""
    w, p, df = _cached(row["scenario"]).pretest
    assert abs(w - row["W"]) < 1e-6
    assert round(p, 5) == pytest.approx(row["Wpval"], abs=1e-12)
    assert df == 5


def test_reg_equals_dr_without_covariates():
    """Identity: with no covariates the OR, IPW and DR estimators coincide (DRDID)."""
    a = _cached("mpdta_nev_dr").tidy()
    b = att_gt(
        _mpdta(), y="lemp", time="year", unit="countyreal", cohort="first.treat", est_method="reg"
    ).tidy()
    np.testing.assert_allclose(b["estimate"], a["estimate"], atol=1e-12)
    np.testing.assert_allclose(b["std_error"], a["std_error"], rtol=1e-10)


def test_constant_weights_are_no_weights():
    """Identity: a constant sampling weight changes nothing (weights are normalised)."""
    d = _mpdta().with_columns(pl.lit(3.0).alias("w"))
    a = _cached("mpdta_nev_dr").tidy()
    b = att_gt(
        d, y="lemp", time="year", unit="countyreal", cohort="first.treat", weights="w"
    ).tidy()
    np.testing.assert_allclose(b["estimate"], a["estimate"], atol=1e-12)
    np.testing.assert_allclose(b["std_error"], a["std_error"], rtol=1e-10)


# ---------------------------------------------------------------- hand-coded DRDID (numpy)


def _logit(X, d, w):
    b = np.zeros(X.shape[1])
    for _ in range(100):
        p = 1 / (1 + np.exp(-X @ b))
        H = (X * (w * p * (1 - p))[:, None]).T @ X
        step = np.linalg.solve(H, X.T @ (w * (d - p)))
        b += step
        if np.max(np.abs(step)) < 1e-13:
            break
    p = 1 / (1 + np.exp(-X @ b))
    H = (X * (w * p * (1 - p))[:, None]).T @ X
    return p, np.linalg.inv(H)


def _drdid_numpy(dy, d, X, w):
    """Sant'Anna & Zhao (2020) DR DiD for panel data, eqs. as in DRDID::drdid_panel."""
    n = len(d)
    w = w / w.mean()
    ps, vc = _logit(X, d, w)
    ps = np.minimum(ps, 1 - 1e-6)
    c = d == 0
    beta = np.linalg.solve((X[c] * w[c, None]).T @ X[c], (X[c] * w[c, None]).T @ dy[c])
    out = X @ beta
    wt = w * d
    wc = w * ps * (1 - d) / (1 - ps)
    eta_t = np.mean(wt * (dy - out)) / wt.mean()
    eta_c = np.mean(wc * (dy - out)) / wc.mean()
    wols = (w * (1 - d))[:, None] * X
    xpx_inv = np.linalg.inv(wols.T @ X / n)
    alr_ols = (wols * (dy - out)[:, None]) @ xpx_inv
    alr_ps = ((w * (d - ps))[:, None] * X) @ (vc * n)
    inf_t = (wt * (dy - out) - wt * eta_t - alr_ols @ (wt[:, None] * X).mean(0)) / wt.mean()
    m2 = (wc * (dy - out - eta_c))[:, None] * X
    inf_c = (
        wc * (dy - out) - wc * eta_c + alr_ps @ m2.mean(0) - alr_ols @ (wc[:, None] * X).mean(0)
    ) / wc.mean()
    return eta_t - eta_c, inf_t - inf_c


@pytest.mark.parametrize("weighted", [False, True])
def test_covariates_match_numpy_drdid(weighted):
    """xformla='~ lpop' (time-invariant): each ATT(g,t) and SE equals a hand-coded numpy DRDID
    on the cell's units (R did's recipe: dy = Y_t - Y_base, influence scaled by n/n1)."""
    d = _mpdta()
    if weighted:
        rng = np.random.default_rng(3)
        uw = {u: rng.uniform(0.5, 2.0) for u in d["countyreal"].unique().to_list()}
        d = d.with_columns(pl.col("countyreal").replace_strict(uw).alias("w"))
    res = att_gt(
        d,
        y="lemp",
        time="year",
        unit="countyreal",
        cohort="first.treat",
        controls=["lpop"],
        weights="w" if weighted else None,
    )
    wide = d.pivot(on="year", index="countyreal", values="lemp").sort("countyreal")
    units = (
        d.group_by("countyreal")
        .agg(
            pl.col("first.treat").first(),
            pl.col("lpop").first(),
            *([pl.col("w").first()] if weighted else []),
        )
        .sort("countyreal")
    )
    g_all = units["first.treat"].to_numpy()
    n = len(g_all)
    for row in res.tidy().iter_rows(named=True):
        g, t, b = row["group"], row["t"], row["base_t"]
        keep = (g_all == g) | (g_all == 0)
        dy = (wide[str(t)].to_numpy() - wide[str(b)].to_numpy())[keep]
        D = (g_all[keep] == g).astype(float)
        X = np.column_stack([np.ones(keep.sum()), units["lpop"].to_numpy()[keep]])
        w = units["w"].to_numpy()[keep] if weighted else np.ones(keep.sum())
        att, inf = _drdid_numpy(dy, D, X, w)
        inf = inf * n / keep.sum()
        se = np.sqrt(np.sum(inf**2)) / n
        assert abs(row["estimate"] - att) < 1e-8, (g, t)
        assert abs(row["std_error"] - se) < 1e-8, (g, t)


# ---------------------------------------------------------------- unbalanced panels


def test_unbalanced_cells_use_units_observed_in_both_periods():
    """Identity: on an unbalanced panel (8% of rows dropped), ATT(g,t) equals R's balanced
    estimator run on the balanced panel of the units observed in both t and the base period."""
    full = _mpdta()
    rng = np.random.default_rng(11)
    d = full.filter(pl.Series(rng.uniform(size=full.height) > 0.08))
    res = att_gt(d, y="lemp", time="year", unit="countyreal", cohort="first.treat")
    assert res.n_units == 500
    for row in res.tidy().iter_rows(named=True):
        g, t, b = row["group"], row["t"], row["base_t"]
        sub = d.filter(pl.col("year").is_in([t, b]))
        both = sub.group_by("countyreal").len().filter(pl.col("len") == 2)["countyreal"]
        bal = full.filter(pl.col("countyreal").is_in(both.implode()))
        r2 = att_gt(bal, y="lemp", time="year", unit="countyreal", cohort="first.treat")
        assert abs(r2.att(g, t) - row["estimate"]) < 1e-12
        n_t = r2.tidy().filter((pl.col("group") == g) & (pl.col("t") == t))["n_treated"][0]
        assert n_t == row["n_treated"]


def test_balanced_panel_unchanged_by_unit_order():
    """Identity: shuffling rows changes nothing (balanced panel -> R's numbers)."""
    d = _mpdta().sample(fraction=1.0, shuffle=True, seed=5)
    a = att_gt(d, y="lemp", time="year", unit="countyreal", cohort="first.treat").tidy()
    b = _cached("mpdta_nev_dr").tidy()
    np.testing.assert_allclose(a["estimate"], b["estimate"], atol=1e-13)
    np.testing.assert_allclose(a["std_error"], b["std_error"], rtol=1e-12)


# ---------------------------------------------------------------- universal base, anticipation


def test_universal_base_post_cells_equal_varying():
    """Identity: post-treatment cells use base g-1 under both base periods; the reference
    cell (t = g-1) is reported with ATT 0 and status 'reference'."""
    a = _cached("mpdta_nev_dr").tidy().filter(pl.col("post"))
    u = att_gt(
        _mpdta(),
        y="lemp",
        time="year",
        unit="countyreal",
        cohort="first.treat",
        base_period="universal",
    )
    tu = u.tidy()
    b = tu.filter(pl.col("post")).join(a, on=["group", "t"])
    np.testing.assert_allclose(b["estimate"], b["estimate_right"], atol=1e-13)
    ref = tu.filter(pl.col("status") == "reference")
    assert sorted(zip(ref["group"], ref["t"])) == [(2004, 2003), (2006, 2005), (2007, 2006)]
    assert (ref["estimate"] == 0).all()
    # universal pre-period: Y_t - Y_{g-1}, e.g. (2007, 2004) = -(sum of varying 2005..2006 pre)
    v = _cached("mpdta_nev_dr")
    assert abs(u.att(2007, 2004) + v.att(2007, 2005) + v.att(2007, 2006)) < 1e-12


def test_anticipation_shifts_base_period():
    """anticipation=1: post cells of cohort g use base g-2 (R did's tlist + anticipation < g)."""
    r = att_gt(
        _mpdta(), y="lemp", time="year", unit="countyreal", cohort="first.treat", anticipation=1
    )
    tb = r.tidy()
    assert tb.filter((pl.col("group") == 2006) & (pl.col("t") == 2006))["base_t"][0] == 2004
    # cohort 2004 is treated (with anticipation) in the first period 2003: dropped, as R
    assert 2004 not in r.groups
    assert any("already treated" in n for n in r.notes)


# ---------------------------------------------------------------- bootstrap


_BOOT_SCRIPT = """
import sys, polars as pl, numpy as np
from pilotdid.did.staggered import att_gt, aggte
d = pl.read_csv(sys.argv[1])
r = att_gt(d, y="lemp", time="year", unit="countyreal", cohort="first.treat", bstrap=True, reps=499,
           cband=True, seed=42, cluster=sys.argv[2] if len(sys.argv) > 2 else None)
a = aggte(r, type="dynamic")
se = r.tidy()["std_error"].to_list()
print(repr(se), repr(r.crit_val), repr(a.se_egt.tolist()), repr(a.crit_val))
"""


@pytest.mark.parametrize("cluster", [None, "state"])
def test_bootstrap_thread_count_invariant(tmp_path, cluster):
    """Seeded multiplier bootstrap: bit-identical output with RAYON_NUM_THREADS=1 and 2."""
    path = REF / "mpdta.csv"
    args = [str(path)]
    if cluster:
        d = _mpdta().with_columns((pl.col("countyreal") // 1000).alias("state"))
        path = tmp_path / "m.csv"
        d.write_csv(path)
        args = [str(path), "state"]
    outs = []
    for th in ("1", "2"):
        env = dict(os.environ, RAYON_NUM_THREADS=th)
        p = subprocess.run(
            [sys.executable, "-c", _BOOT_SCRIPT, *args], env=env, capture_output=True, text=True
        )
        assert p.returncode == 0, p.stderr
        outs.append(p.stdout)
    assert outs[0] == outs[1]


def test_bootstrap_se_close_to_analytic():
    """Multiplier bootstrap SEs (Mammen, biters=999) within 10% of the analytic ones; the
    uniform critical value lies between the pointwise 1.96 and a Bonferroni bound."""
    a = _cached("mpdta_nev_dr").tidy()
    b = _fit("mpdta_nev_dr", bstrap=True, reps=999, cband=True, seed=1)
    ratio = b.tidy()["std_error"].to_numpy() / a["std_error"].to_numpy()
    assert np.all(np.abs(ratio - 1) < 0.10), ratio
    assert 1.96 < b.crit_val < 3.4
    np.testing.assert_allclose(b.tidy()["estimate"], a["estimate"], atol=0)


def test_bootstrap_seed_reproducible_and_cluster_count():
    """Same seed -> same SEs; clustering on a coarser variable bootstraps over its clusters."""
    d = _mpdta().with_columns((pl.col("countyreal") // 1000).alias("state"))
    kw = dict(bstrap=True, reps=199, seed=9, cluster=["countyreal", "state"])
    r1 = att_gt(d, y="lemp", time="year", unit="countyreal", cohort="first.treat", **kw)
    r2 = att_gt(d, y="lemp", time="year", unit="countyreal", cohort="first.treat", **kw)
    assert r1.tidy()["std_error"].to_list() == r2.tidy()["std_error"].to_list()
    assert r1.n_boot_units == d["state"].n_unique()


# ---------------------------------------------------------------- bad input


def test_unknown_options_name_the_option():
    """Unknown control_group / est_method / base_period raise PilotdidError naming the option."""
    d = _mpdta()
    for kw, name in [
        (dict(control_group="nevr"), "control_group"),
        (dict(est_method="ols"), "est_method"),
        (dict(base_period="fixed"), "base_period"),
    ]:
        with pytest.raises(PilotdidError, match=name):
            att_gt(d, y="lemp", time="year", unit="countyreal", cohort="first.treat", **kw)
    with pytest.raises(PilotdidError, match="cband"):
        att_gt(d, y="lemp", time="year", unit="countyreal", cohort="first.treat", cband=True)


def test_all_treated_at_once_notyettreated_is_an_error():
    """Every unit treated in 2006 -> no comparison units: a clear error naming the option."""
    d = _mpdta().with_columns(pl.lit(2006).alias("first.treat"))
    with pytest.raises(PilotdidError, match="control_group"):
        att_gt(
            d,
            y="lemp",
            time="year",
            unit="countyreal",
            cohort="first.treat",
            control_group="notyettreated",
        )
    with pytest.raises(PilotdidError, match="control_group"):
        att_gt(d, y="lemp", time="year", unit="countyreal", cohort="first.treat")


def test_no_control_units_reported_as_skipped():
    """A (g,t) cell without comparison units is skipped with a reason naming g and t."""
    d = _mpdta()
    # never-treated units observed only in 2003-2005: cells for t >= 2006 have no controls
    d = d.filter(~((pl.col("first.treat") == 0) & (pl.col("year") >= 2006)))
    r = att_gt(d, y="lemp", time="year", unit="countyreal", cohort="first.treat")
    sk = r.skipped
    assert sk and all(t >= 2006 for _, t, _ in sk)
    assert all(f"group {g}, period {t}" in why for g, t, why in sk)
    with pytest.raises(PilotdidError, match="skipped"):
        r.att(sk[0][0], sk[0][1])
    assert "Skipped" in r.summary()


def test_single_unit_cohort_works():
    """A cohort with one unit is estimated (its ATT is that unit's change minus controls')."""
    d = _mpdta()
    one = d["countyreal"].filter(d["first.treat"] == 0)[0]
    d = d.with_columns(
        pl.when(pl.col("countyreal") == one)
        .then(2005)
        .otherwise(pl.col("first.treat"))
        .alias("first.treat")
    )
    r = att_gt(d, y="lemp", time="year", unit="countyreal", cohort="first.treat")
    tb = r.tidy().filter(pl.col("group") == 2005)
    assert tb.height == 4 and tb["estimate"].is_finite().all() and tb["std_error"].is_finite().all()


def test_caller_frame_not_modified():
    d = _mpdta()
    before = d.clone()
    att_gt(d, y="lemp", time="year", unit="countyreal", cohort="first.treat")
    assert d.equals(before)


@pytest.mark.parametrize("base_period", ["varying", "universal"])
@pytest.mark.parametrize("anticipation", [0, 1])
@pytest.mark.parametrize("control_group", ["nevertreated", "notyettreated"])
def test_base_period_anticipation_match_csdid(base_period, anticipation, control_group):
    """Independent implementation: csdid 0.4 (Python port of R did): the same (g,t) cells,
    ATT(g,t) and SEs to 1e-10 for universal/varying base periods and anticipation."""
    csdid_att_gt = pytest.importorskip("csdid.att_gt")
    import warnings

    import pandas as pd

    pdf = pd.read_csv(REF / "mpdta.csv")
    r = att_gt(
        _mpdta(),
        y="lemp",
        time="year",
        unit="countyreal",
        cohort="first.treat",
        control_group=control_group,
        base_period=base_period,
        anticipation=anticipation,
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
            anticipation=anticipation,
        )
        m.fit(est_method="dr", base_period=base_period, bstrap=False)
    t = r.tidy()
    np.testing.assert_array_equal(t["group"], np.asarray(m.results["group"]))
    np.testing.assert_array_equal(t["t"], np.asarray(m.results["year"]))
    np.testing.assert_allclose(t["estimate"], np.asarray(m.results["att"], dtype=float), atol=1e-10)
    est = (t["status"] == "estimated").to_numpy()
    se_ref = np.asarray(m.results["se"], dtype=float)
    np.testing.assert_allclose(t["std_error"].to_numpy()[est], se_ref[est], atol=1e-10)


def test_cohort_varying_within_a_unit_is_refused_naming_the_units():
    """att_gt hands its unit codes to the cohort check (no second factorisation); a cohort
    that changes within units is still refused with those units' ids, string or integer."""
    rows = [(u, t) for u in ["a", "b", "c", "d"] for t in range(2000, 2004)]
    df = pl.DataFrame({"unit": [u for u, _ in rows], "year": [t for _, t in rows]})
    df = df.with_columns(
        y=pl.Series(np.arange(len(rows), dtype=float)),
        g=pl.when(pl.col("unit") == "a")
        .then(2002)
        .when((pl.col("unit") == "c") & (pl.col("year") == 2003))
        .then(2003)
        .when(pl.col("unit") == "c")
        .then(2002)
        .otherwise(0),
    )
    for data in (df, df.with_columns(pl.col("unit").cast(pl.Categorical).to_physical() + 7)):
        label = "c" if data["unit"].dtype == pl.String else "9"
        with pytest.raises(PilotdidError, match=rf"changes within 1 unit: {label}\b"):
            att_gt(data, y="y", time="year", unit="unit", cohort="g")

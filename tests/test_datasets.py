"""pilotdid.datasets: the bundled YRD city table, the SYNTHETIC panel and its truth.

References: ``data/yrd/cities.csv`` (a copy of ``../shared/data/yrd_cities.csv``), the DGP
of ``../shared/data/DGP.md`` as documented in ``data/yrd/README.md``, and exact identities:
a 2x2 DID on a noiseless simulation equals the structural tau; re-simulating without one
cohort's treatment reproduces ATT_total(g,t); the R ``did::aggte`` aggregations; indirect =
a*b; LeSage-Pace total = direct + indirect = (tau + theta) / (1 - rho).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pilotdid.datasets import (
    DgpParams,
    simulate_cities,
    simulate_yrd,
    spatial_weights,
    yrd,
    yrd_cities,
    yrd_truth,
    yrd_weights,
)
from pilotdid.datasets._simulate import REFERENCE_VALUES, nb_expected_log1p

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_CITIES = (REPO_ROOT / ".." / "shared" / "data" / "yrd_cities.csv").resolve()
COVARIATES = (
    "ln_gdp_pc",
    "pop_density",
    "urbanization",
    "gov_exp_share",
    "fdi_share",
    "fin_dev",
    "human_capital",
)
MEDIATORS = ("ln_green_patents", "ind_upgrade", "energy_intensity")
DISTRICT_ONLY = {"Shanghai", "Suzhou_JS", "Yancheng", "Hefei", "Bengbu"}


@pytest.fixture(scope="module")
def panel() -> pl.DataFrame:
    return yrd()


@pytest.fixture(scope="module")
def truth() -> dict:
    return yrd_truth()


def assert_frame_equal(a: pl.DataFrame, b: pl.DataFrame) -> None:
    """Same columns, dtypes and values (nulls equal)."""
    assert a.schema == b.schema
    assert a.equals(b)


def _matrix(df: pl.DataFrame, col: str) -> np.ndarray:
    """(city, year) matrix of a column of a balanced panel sorted by city_id, year."""
    df = df.sort("city_id", "year")
    n = df["city_id"].n_unique()
    return df[col].to_numpy().reshape(n, -1)


def _adjusted_outcome(df: pl.DataFrame, truth: dict) -> np.ndarray:
    """gtfp minus the known covariate and mediator terms of the structural equation."""
    beta = truth["parameters"]["beta"]
    b = truth["mediation"]["b_paths"]
    y = _matrix(df, "gtfp").copy()
    for name in COVARIATES:
        y -= beta[name] * (_matrix(df, name) - REFERENCE_VALUES[name])
    for name in MEDIATORS:
        y -= b[name] * (_matrix(df, name) - REFERENCE_VALUES[name])
    return y


def _tau(truth: dict, batch: int, e: int) -> float:
    p = truth["parameters"]
    return p["tau_impact"][str(batch)] + p["tau_slope"][str(batch)] * min(e, p["tau_growth_cap"])


# ------------------------------------------------------------------ the city table


def test_cities_table():
    """cities.csv: 41 YRD cities (Shanghai 1, Jiangsu 13, Zhejiang 11, Anhui 16)."""
    c = yrd_cities()
    assert c.height == 41
    assert c["city_en"].n_unique() == 41
    counts = dict(c.group_by("province").len().iter_rows())
    assert counts == {"Shanghai": 1, "Jiangsu": 13, "Zhejiang": 11, "Anhui": 16}
    assert c["lat"].is_between(27.0, 35.5).all() and c["lon"].is_between(115.0, 123.0).all()
    district = set(c.filter(pl.col("pilot_status").str.starts_with("district-only"))["city_en"])
    assert district == DISTRICT_ONLY
    batches = dict(c.drop_nulls("pilot_batch").group_by("pilot_batch").len().iter_rows())
    assert batches == {1: 9, 2: 3, 3: 3}


def test_cities_csv_is_the_shared_table():
    """data/yrd/cities.csv is a byte copy of ../shared/data/yrd_cities.csv."""
    if not SHARED_CITIES.is_file():
        pytest.skip(f"{SHARED_CITIES} not present")
    assert (REPO_ROOT / "data" / "yrd" / "cities.csv").read_bytes() == SHARED_CITIES.read_bytes()


def test_yrd_weights_row_standardised_inverse_distance():
    w = yrd_weights()
    assert w.shape == (41, 41)
    assert np.allclose(w.sum(axis=1), 1.0, atol=1e-14)
    assert np.all(np.diag(w) == 0.0)
    # w_ij proportional to 1 / great-circle distance (spherical law of cosines, R = 6371 km).
    c = yrd_cities()
    lat, lon = np.radians(c["lat"].to_numpy()), np.radians(c["lon"].to_numpy())
    cosd = np.sin(lat[:, None]) * np.sin(lat[None, :]) + np.cos(lat[:, None]) * np.cos(
        lat[None, :]
    ) * np.cos(lon[:, None] - lon[None, :])
    d = 6371.0 * np.arccos(np.clip(cosd, -1.0, 1.0))
    names = c["city_en"].to_list()
    sh, nj = names.index("Shanghai"), names.index("Nanjing")
    assert d[sh, nj] == pytest.approx(271.46, abs=0.01)
    np.fill_diagonal(d, np.inf)
    expect = (1.0 / d) / (1.0 / d).sum(axis=1, keepdims=True)
    assert np.allclose(w, expect, rtol=1e-9, atol=0.0)


# ------------------------------------------------------------------ the panel


def test_panel_is_balanced_41_cities_2006_2021(panel):
    assert panel.shape[0] == 656
    assert panel["city"].n_unique() == 41
    assert sorted(panel["year"].unique().to_list()) == list(range(2006, 2022))
    assert panel.group_by("city").len()["len"].to_list() == [16] * 41
    assert panel.select(pl.struct("city", "year").is_unique().all()).item()
    for col in (
        "city",
        "city_zh",
        "province",
        "year",
        "pilot_batch",
        "cohort",
        "treat",
        "post",
        "did",
        *COVARIATES,
        "green_patents",
        *MEDIATORS,
        "gtfp",
    ):
        assert col in panel.columns
    assert panel.drop("pilot_batch", "event_time").null_count().sum_horizontal().item() == 0


def test_default_coding(panel):
    """Batch 1/2/3 -> 2013/2014/2015; district-only cities never treated."""
    cohort = dict(panel.select("city", "cohort").unique().iter_rows())
    batch = dict(panel.select("city", "pilot_batch").unique().iter_rows())
    for city, b in batch.items():
        assert cohort[city] == ({1: 2013, 2: 2014, 3: 2015}[b] if b is not None else 0)
    for city in DISTRICT_ONLY:
        assert cohort[city] == 0
    sizes = panel.filter(pl.col("year") == 2006).group_by("cohort").len()
    assert dict(sizes.iter_rows()) == {0: 26, 2013: 9, 2014: 3, 2015: 3}
    expect_post = (pl.col("cohort") > 0) & (pl.col("year") >= pl.col("cohort"))
    assert (panel["post"] == panel.select(expect_post.cast(pl.Int64)).to_series()).all()
    assert (panel["did"] == panel["post"]).all()
    assert (panel["treat"] == (panel["cohort"] > 0).cast(pl.Int64)).all()
    treated = panel.filter(pl.col("treat") == 1)
    assert (treated["event_time"] == treated["year"] - treated["cohort"]).all()
    assert panel.filter(pl.col("treat") == 0)["event_time"].null_count() == 26 * 16


def test_announcement_coding_shifts_cohorts_one_year_earlier(panel):
    ann, truth = simulate_yrd(coding="announcement")
    assert truth["coding"] == "announcement"
    assert truth["cohort_sizes"] == {"2012": 9, "2013": 3, "2014": 3}
    both = panel.select("city", "year", "cohort").join(
        ann.select("city", "year", pl.col("cohort").alias("cohort_ann")), on=["city", "year"]
    )
    treated = both.filter(pl.col("cohort") > 0)
    assert (treated["cohort_ann"] == treated["cohort"] - 1).all()
    assert (both.filter(pl.col("cohort") == 0)["cohort_ann"] == 0).all()
    # Same shocks: covariates do not depend on the coding.
    assert_frame_equal(panel.select(COVARIATES), ann.select(COVARIATES))


def test_district_only_drop_removes_the_five_district_only_cities(panel):
    """pilot_status starting with "district-only" marks 5 cities (the brief said 4)."""
    dropped, truth = simulate_yrd(district_only="drop")
    assert dropped.height == 36 * 16
    assert set(panel["city"]) - set(dropped["city"]) == DISTRICT_ONLY
    assert set(truth["district_only_cities"]) == DISTRICT_ONLY
    assert truth["n_cities"] == 36 and truth["n_cities_world"] == 41
    assert truth["n_never_treated"] == 21
    # "drop" is a sample choice: the simulated world is the same, the rows are identical.
    kept = panel.filter(~pl.col("city").is_in(list(DISTRICT_ONLY)))
    assert_frame_equal(kept, dropped)
    assert truth["overall_att"] == yrd_truth()["overall_att"]


def test_same_seed_same_panel_other_seed_differs():
    a, ta = simulate_yrd(seed=7)
    b, tb = simulate_yrd(seed=7)
    assert_frame_equal(a, b)
    assert ta == tb
    assert a.write_csv() == b.write_csv()
    c, _ = simulate_yrd(seed=8)
    assert not np.allclose(a["gtfp"].to_numpy(), c["gtfp"].to_numpy())


def _assert_close_json(a, b, path="truth"):
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _assert_close_json(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_close_json(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), path
    else:
        assert a == b, path


def test_bundled_panel_and_truth_equal_a_fresh_simulation(panel, truth):
    """The shipped CSV and truth.json can never drift from simulate_yrd()."""
    fresh, fresh_truth = simulate_yrd()
    assert panel.columns == fresh.columns
    assert panel.schema == fresh.schema
    floats = [c for c, t in fresh.schema.items() if t == pl.Float64]
    assert_frame_equal(panel.drop(floats), fresh.drop(floats))
    # 6-decimal rounding: allow one unit of the last digit for another BLAS / libm.
    diff = (panel.select(floats) - fresh.select(floats)).select(pl.all().abs().max())
    assert max(diff.row(0)) <= 1.01e-6
    _assert_close_json(truth, fresh_truth)
    assert truth["synthetic"] is True and truth["seed"] == 20121


def test_magnitudes_in_dgp_ranges(panel):
    """Ranges of ../shared/data/DGP.md (with the stated approximate bounds)."""
    rng = {
        "ln_gdp_pc": (10.2, 12.2),
        "pop_density": (300, 4000),
        "urbanization": (0.45, 0.90),
        "gov_exp_share": (0.08, 0.25),
        "fdi_share": (0.005, 0.06),
        "fin_dev": (0.8, 2.5),
        "human_capital": (50, 900),
        "ind_upgrade": (0.6, 2.5),
        "energy_intensity": (0.3, 1.2),
        "gtfp": (0.6, 1.6),
    }
    for col, (lo, hi) in rng.items():
        assert panel[col].min() >= lo and panel[col].max() <= hi, col
    by_year = panel.group_by("year").agg(pl.col(pl.Float64).mean()).sort("year")
    growth = np.diff(by_year["ln_gdp_pc"].to_numpy()).mean()
    assert 0.06 <= growth <= 0.08  # ~6-8 % a year
    assert np.all(np.diff(by_year["energy_intensity"].to_numpy()) < 0)  # falling
    gtfp = by_year["gtfp"].to_numpy()
    assert 0.85 < gtfp[0] < 1.05 and gtfp[-1] > gtfp[0]  # around 1, slow upward trend
    # Higher income near Shanghai than in the far north of Anhui.
    y21 = panel.filter(pl.col("year") == 2021)
    inc = dict(y21.select("city", "ln_gdp_pc").iter_rows())
    assert inc["Shanghai"] > inc["Bozhou"] and inc["Suzhou_JS"] > inc["Fuyang"]
    # Over-dispersed counts and their log.
    pat = panel["green_patents"].to_numpy()
    assert pat.min() >= 0 and pat.var() > 10 * pat.mean()
    assert np.allclose(panel["ln_green_patents"].to_numpy(), np.log1p(pat), atol=5e-7)


# ------------------------------------------------------------------ the truth


def test_truth_att_gt_matches_tau_formula(truth):
    recs = pl.DataFrame(truth["att_gt"])
    assert recs.height == 3 * 16
    for r in recs.iter_rows(named=True):
        e = r["event_time"]
        expect = _tau(truth, r["batch"], e) if e >= 0 else 0.0
        assert r["tau_direct"] == pytest.approx(expect, abs=1e-15)
        if e < 0:  # no anticipation by default: nothing before adoption
            assert r["att_structural"] == 0.0 and r["att_total"] == 0.0
        else:
            assert r["att_total"] > r["att_structural"] > r["tau_direct"] > 0
            assert r["spillover_never"] > 0
    # Heterogeneous by batch and growing with event time.
    first = recs.filter(pl.col("event_time") == 0).sort("group")["tau_direct"].to_list()
    assert first == [0.02, 0.015, 0.01]
    b1 = recs.filter((pl.col("group") == 2013) & (pl.col("event_time") >= 0)).sort("time")
    assert np.all(np.diff(b1["att_structural"].to_numpy()) > 0)


@pytest.mark.parametrize("measure", ["direct", "structural", "total"])
def test_truth_aggregations_are_r_did_aggte(truth, measure):
    """simple = n_g-weighted mean of post ATT(g,t); group, dynamic, calendar as aggte."""
    recs = pl.DataFrame(truth["att_gt"]).with_columns(
        pl.col(f"att_{measure}" if measure != "direct" else "tau_direct").alias("att")
    )
    agg = truth["aggregations"][measure]
    post = recs.filter(pl.col("event_time") >= 0)
    simple = (post["att"] * post["n_cities"]).sum() / post["n_cities"].sum()
    assert agg["simple"] == pytest.approx(simple, rel=1e-12)
    assert truth["overall_att"][measure] == agg["simple"]
    group = post.group_by("group").agg(pl.col("att").mean(), pl.col("n_cities").first())
    for g in agg["group"]:
        row = group.filter(pl.col("group") == g["group"])
        assert g["att"] == pytest.approx(row["att"].item(), rel=1e-12)
    overall = (group["att"] * group["n_cities"]).sum() / group["n_cities"].sum()
    assert agg["group_overall"] == pytest.approx(overall, rel=1e-12)
    for d in agg["dynamic"]:
        cell = recs.filter(pl.col("event_time") == d["event_time"])
        val = (cell["att"] * cell["n_cities"]).sum() / cell["n_cities"].sum()
        assert d["att"] == pytest.approx(val, rel=1e-12, abs=1e-15)
    assert [d["event_time"] for d in agg["dynamic"]] == list(range(-9, 9))
    dyn_post = [d["att"] for d in agg["dynamic"] if d["event_time"] >= 0]
    assert agg["dynamic_overall"] == pytest.approx(np.mean(dyn_post), rel=1e-12)
    assert [c["time"] for c in agg["calendar"]] == list(range(2013, 2022))


def test_truth_mediation_identities(truth):
    med = truth["mediation"]
    p = truth["parameters"]
    for k in MEDIATORS:
        assert med["indirect"][k] == pytest.approx(med["a_paths"][k] * med["b_paths"][k])
    assert med["a_paths"]["ind_upgrade"] == p["a_ind_upgrade"] == 0.08
    assert med["a_paths"]["energy_intensity"] == p["a_energy_intensity"] == -0.04
    # On the observed ln(1 + count) scale the NB log-link effect 0.2 shrinks by O(1/count).
    assert med["a_paths_structural"]["log_expected_green_patents"] == 0.2
    assert 0.19 < med["a_paths"]["ln_green_patents"] < 0.2
    assert med["indirect_total"] == pytest.approx(sum(med["indirect"].values()), rel=1e-12)
    assert med["total"] == pytest.approx(med["direct"] + med["indirect_total"], rel=1e-12)
    assert med["total"] == pytest.approx(truth["overall_att"]["structural"], rel=1e-12)
    assert med["direct"] == pytest.approx(truth["overall_att"]["direct"], rel=1e-12)


def test_truth_lesage_pace_identities(truth):
    sp = truth["spatial_effects"]
    rho, theta, tau = sp["rho"], sp["theta"], sp["tau_ref"]
    assert (rho, theta) == (0.3, 0.01)
    assert tau == truth["overall_att"]["structural"]
    assert sp["total"] == pytest.approx(sp["direct"] + sp["indirect"], rel=1e-12)
    assert sp["total"] == pytest.approx((tau + theta) / (1 - rho), rel=1e-12)
    s0 = np.linalg.inv(np.eye(41) - rho * yrd_weights())
    s = s0 @ (tau * np.eye(41) + theta * yrd_weights())
    assert sp["direct"] == pytest.approx(np.mean(np.diag(s)), rel=1e-10)
    assert sp["total"] == pytest.approx(np.mean(s.sum(axis=1)), rel=1e-10)
    assert sp["mean_diag_S0"] == pytest.approx(np.mean(np.diag(s0)), rel=1e-12)
    assert sp["direct"] == pytest.approx(
        tau * sp["mean_diag_S0"] + theta * sp["mean_diag_S0W"], rel=1e-12
    )


def test_truth_is_complete_and_says_synthetic(truth):
    for key in (
        "seed",
        "coding",
        "district_only",
        "anticipation",
        "cohort_years",
        "parameters",
        "definitions",
        "att_gt",
        "aggregations",
        "overall_att",
        "twfe_estimand",
        "mediation",
        "spatial_effects",
        "weights",
        "dose_response",
    ):
        assert key in truth
    for key in (
        "tau_direct",
        "att_structural",
        "att_total",
        "spillover_never",
        "aggregations",
        "dose_response",
    ):
        assert key in truth["definitions"]
    assert truth["synthetic"] is True and "SYNTHETIC" in truth["note"]
    assert truth["cohort_years"] == {"1": 2013, "2": 2014, "3": 2015}
    assert set(truth["columns"]) == set(yrd().columns)


def test_nb_expected_log1p_matches_pmf_summation():
    """E[ln(1+Y)], Y ~ NB(mean mu, size r): the quadrature vs a direct sum of the pmf."""
    for mu in (0.4, 7.0, 150.0, 2500.0):
        r = 4.0
        k = np.arange(int(30 * mu) + 200)
        lg = np.array([math.lgamma(x + r) - math.lgamma(x + 1) - math.lgamma(r) for x in k])
        logp = lg + r * math.log(r / (r + mu)) + k * math.log(mu / (r + mu))
        brute = float(np.sum(np.exp(logp) * np.log1p(k)))
        assert nb_expected_log1p(mu, r) == pytest.approx(brute, abs=1e-10)


# ------------------------------------------------------------------ exact recovery


def test_noiseless_2x2_recovers_tau_exactly():
    """sigma = rho = theta = 0: a 2x2 DID on the covariate/mediator-adjusted outcome is tau."""
    df, truth = simulate_yrd(sigma=0.0, rho=0.0, theta=0.0, digits=None)
    y = _adjusted_outcome(df, truth)
    cohort = _matrix(df, "cohort")[:, 0]
    years = list(range(2006, 2022))
    g, never = cohort == 2013, cohort == 0
    base = years.index(2012)
    for t, e in ((2013, 0), (2016, 3), (2021, 8)):
        j = years.index(t)
        did = (y[g, j] - y[g, base]).mean() - (y[never, j] - y[never, base]).mean()
        assert did == pytest.approx(_tau(truth, 1, e), abs=1e-12)
    # A pre-period placebo is exactly zero.
    j = years.index(2009)
    assert (y[g, j] - y[g, base]).mean() - (y[never, j] - y[never, base]).mean() == (
        pytest.approx(0.0, abs=1e-12)
    )


def test_spatial_durbin_process_is_exact():
    """sigma = 0 with rho, theta != 0: (I - rho W) y - theta W D leaves alpha + lambda + tau."""
    df, truth = simulate_yrd(sigma=0.0, digits=None)
    rho, theta = truth["parameters"]["rho"], truth["parameters"]["theta"]
    w = yrd_weights()
    y = _matrix(df, "gtfp")
    d = _matrix(df, "did").astype(float)
    u = (np.eye(41) - rho * w) @ y - theta * (w @ d)
    adj = _adjusted_outcome(df.with_columns(gtfp=pl.Series(u.ravel())), truth)
    cohort = _matrix(df, "cohort")[:, 0]
    g, never = cohort == 2014, cohort == 0
    years = list(range(2006, 2022))
    base, j = years.index(2013), years.index(2017)
    did = (adj[g, j] - adj[g, base]).mean() - (adj[never, j] - adj[never, base]).mean()
    assert did == pytest.approx(_tau(truth, 2, 3), abs=1e-12)


def test_att_total_equals_resimulation_without_the_cohort():
    """ATT_total(g,t) = mean over cohort g of y(D) - y(D without cohort g), same shocks.

    With a_patents = 0 the patent counts do not depend on D, so every shock is common and
    the difference of two simulations is exactly the defined effect.
    """
    params = replace(DgpParams(), a_patents=0.0)
    df, truth = simulate_yrd(params=params, digits=None)
    cities = yrd_cities()
    no_b2 = cities.with_columns(
        pilot_batch=pl.when(pl.col("pilot_batch") == 2).then(None).otherwise("pilot_batch")
    )
    df0, _ = simulate_yrd(params=params, cities=no_b2, digits=None)
    dy = _matrix(df, "gtfp") - _matrix(df0, "gtfp")
    cohort = _matrix(df, "cohort")[:, 0]
    recs = pl.DataFrame(truth["att_gt"]).filter(pl.col("group") == 2014).sort("time")
    assert np.allclose(dy[cohort == 2014].mean(axis=0), recs["att_total"].to_numpy(), atol=1e-12)
    never = cohort == 0
    assert np.allclose(dy[never].mean(axis=0), recs["spillover_never"].to_numpy(), atol=1e-12)


def test_twfe_estimand_is_the_noiseless_twfe_coefficient():
    """Static TWFE on the noiseless adjusted outcome equals truth['twfe_estimand']['direct']."""
    df, truth = simulate_yrd(sigma=0.0, rho=0.0, theta=0.0, digits=None)
    y = _adjusted_outcome(df, truth)
    d = _matrix(df, "did").astype(float)

    def demean(a):
        return a - a.mean(axis=1, keepdims=True) - a.mean(axis=0, keepdims=True) + a.mean()

    dd = demean(d)
    coef = float(np.sum(dd * demean(y)) / np.sum(dd * dd))
    assert coef == pytest.approx(truth["twfe_estimand"]["direct"], abs=1e-12)
    # TWFE is biased for the overall ATT under these dynamic, heterogeneous effects.
    assert truth["twfe_estimand"]["direct"] < truth["overall_att"]["direct"] - 0.003


def test_anticipation_option():
    df, truth = simulate_yrd(anticipation=1)
    recs = pl.DataFrame(truth["att_gt"])
    pre1 = recs.filter(pl.col("event_time") == -1)
    assert (pre1["tau_direct"] == truth["parameters"]["anticipation_effect"]).all()
    assert (recs.filter(pl.col("event_time") < -1)["tau_direct"] == 0.0).all()
    assert truth["anticipation"] == 1
    # The coded treatment (did, cohort) is unchanged by anticipation.
    assert_frame_equal(df.select("cohort", "did"), yrd().select("cohort", "did"))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"coding": "2012"}, "coding"),
        ({"district_only": "treated"}, "district_only"),
        ({"anticipation": 7}, "anticipation"),
        ({"rho": 1.0}, "rho"),
        ({"sigma": -1.0}, "sigma"),
    ],
)
def test_bad_options_raise_value_error_naming_the_option(kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate_yrd(**kwargs)


# ------------------------------------------------------------------ simulate_cities


def test_simulate_cities_structure():
    df, truth = simulate_cities(n_cities=290, n_years=20, seed=3)
    assert df.shape[0] == 290 * 20 and df["city"].n_unique() == 290
    assert sorted(df["year"].unique().to_list()) == list(range(2001, 2021))
    assert truth["cohort_sizes"] == {"2013": 44, "2014": 35, "2015": 29}
    assert df.columns == yrd().columns
    assert df["lat"].is_between(22, 42).all() and df["lon"].is_between(100, 122).all()
    again, truth2 = simulate_cities(n_cities=290, n_years=20, seed=3)
    assert_frame_equal(df, again)
    assert truth == truth2
    sp = truth["spatial_effects"]
    assert sp["total"] == pytest.approx(sp["direct"] + sp["indirect"], rel=1e-12)
    assert sp["total"] == pytest.approx((sp["tau_ref"] + 0.01) / 0.7, rel=1e-12)


def test_simulate_cities_weights_rebuild_from_panel():
    """The W of the DGP is spatial_weights(lat, lon) of the panel's coordinates."""
    df, truth = simulate_cities(n_cities=60, n_years=8, seed=1, sigma=0.0, digits=None)
    first = df.filter(pl.col("year") == df["year"].min()).sort("city_id")
    w = spatial_weights(first["lat"].to_numpy(), first["lon"].to_numpy())
    y = _matrix(df, "gtfp")
    d = _matrix(df, "did").astype(float)
    u = (np.eye(60) - 0.3 * w) @ y - 0.01 * (w @ d)
    adj = _adjusted_outcome(df.with_columns(gtfp=pl.Series(u.ravel())), truth)
    cohort = _matrix(df, "cohort")[:, 0]
    g0 = truth["cohort_years"]["1"]
    years = sorted(df["year"].unique().to_list())
    g, never = cohort == g0, cohort == 0
    base, j = years.index(g0 - 1), years.index(g0)
    did = (adj[g, j] - adj[g, base]).mean() - (adj[never, j] - adj[never, base]).mean()
    assert did == pytest.approx(_tau(truth, 1, 0), abs=1e-12)


def test_simulate_cities_knn_and_no_spatial_paths():
    df, truth = simulate_cities(n_cities=300, n_years=6, seed=2, W="knn", k=5)
    sp = truth["spatial_effects"]
    assert sp["direct"] is None and sp["total"] == pytest.approx(sp["total_formula"], rel=1e-12)
    assert "k=5" in truth["weights"]["type"]
    assert truth["cohort_years"] == {"1": 2004, "2": 2005, "3": 2006}
    flat, t0 = simulate_cities(n_cities=300, n_years=6, seed=2, rho=0.0, theta=0.0)
    assert t0["overall_att"]["total"] == t0["overall_att"]["structural"]
    assert t0["spatial_effects"]["indirect"] == 0.0
    # The spatial process changes only the outcomes: gtfp and gtfp_dose (its untreated part
    # goes through the same process).
    assert_frame_equal(df.drop("gtfp", "gtfp_dose"), flat.drop("gtfp", "gtfp_dose"))


@pytest.mark.slow
def test_monte_carlo_did_recovers_structural_att_without_spillovers():
    """Monte Carlo, 200 draws of 290 cities, rho = theta = 0: the cohort-size-weighted
    never-treated 2x2 DIDs (Callaway-Sant'Anna, no covariates) are unbiased for the overall
    structural ATT; static TWFE is biased downwards (dynamic, heterogeneous effects)."""
    est, twfe, att = [], [], []
    for r in range(200):
        df, truth = simulate_cities(seed=1000 + r, rho=0.0, theta=0.0)
        y = _matrix(df, "gtfp")
        cohort = _matrix(df, "cohort")[:, 0]
        years = np.sort(df["year"].unique().to_numpy())
        num = den = 0.0
        for g in np.unique(cohort[cohort > 0]):
            b = int(np.searchsorted(years, g - 1))
            gi, ni = cohort == g, cohort == 0
            for j in range(b + 1, years.size):
                cell = (y[gi, j] - y[gi, b]).mean() - (y[ni, j] - y[ni, b]).mean()
                num += cell * gi.sum()
                den += gi.sum()
        est.append(num / den)
        att.append(truth["overall_att"]["structural"])
        twfe.append(truth["twfe_estimand"]["structural"])
    bias = np.mean(np.array(est) - np.array(att))
    se = np.std(np.array(est) - np.array(att)) / math.sqrt(len(est))
    assert abs(bias) < 3 * se + 1e-4
    assert np.mean(twfe) < np.mean(att) - 0.001


# ------------------------------------------------------------------ raw green inputs

#: sha256 of panel_synthetic.csv as committed before the raw green inputs were added.
_PANEL_SHA256_BEFORE_GREEN = "0ef2d78bfdabbf52870e5ef51446ccfa27928896586cadbd1dc8f25d4987c5a4"
_GREEN_COLUMNS = ["labour", "investment", "energy", "real_gdp", "so2", "wastewater", "dust"]


def test_green_columns_leave_existing_columns_byte_identical():
    """The raw inputs/outputs come from their own stream (spawn key 1000) and are appended
    last: removing them from every line of the committed CSV gives back, byte for byte, the
    file as it was before they were added (its sha256 is pinned here)."""
    import hashlib

    import pilotdid.datasets as ds

    path = Path(ds.__file__).resolve().parent / "yrd" / "panel_synthetic.csv"
    lines = path.read_bytes().split(b"\n")
    # The green columns were appended after the first 26; later columns follow them.
    assert lines[0].split(b",")[26:33] == [c.encode() for c in _GREEN_COLUMNS]
    old = b"\n".join(b",".join(ln.split(b",")[:26]) if ln else ln for ln in lines)
    assert hashlib.sha256(old).hexdigest() == _PANEL_SHA256_BEFORE_GREEN


def test_green_columns_follow_their_dgp():
    """real_gdp = exp(ln_gdp_pc) * population / 1e4 and energy = energy_intensity * real_gdp
    (up to the 6-decimal rounding); all raw inputs/outputs strictly positive; the truth
    documents the known effects on log emission intensities and claims no GTFP effect."""
    df, truth = simulate_yrd(digits=None)
    assert (df.select(_GREEN_COLUMNS).min().row(0)) > (0,) * 7
    e = df["energy"] / (df["energy_intensity"] * df["real_gdp"])
    assert np.allclose(e.to_numpy(), 1.0, rtol=1e-12)
    g = truth["green_inputs"]
    assert {k: v["effect"] for k, v in g["bad_outputs"].items()} == {
        "so2": -0.10,
        "wastewater": -0.05,
        "dust": -0.08,
    }
    assert "No true effect on an SBM/GML-based GTFP" in g["note"]
    # SO2 per unit of energy, residualised on city and year, moves by the effect when did=1
    # (noise-free check: the log intensity is linear in did given city and year terms).
    lso2 = np.log((df["so2"] / df["energy"]).to_numpy()).reshape(41, 16)
    d = df["did"].to_numpy().reshape(41, 16).astype(float)

    def dm(a):
        return a - a.mean(axis=1, keepdims=True) - a.mean(axis=0, keepdims=True) + a.mean()

    coef = float(np.sum(dm(d) * dm(lso2)) / np.sum(dm(d) ** 2))
    assert coef == pytest.approx(-0.10, abs=0.03)  # noise sd 0.10 over 656 city-years


def test_yrd_panel_builds_gtfp():
    """The bundled panel drops into the green pipeline: PIM capital, then global GML."""
    import pilotdid as pdid

    df = yrd()
    k = pdid.green.capital_stock(df, investment="investment", unit="city", time="year")
    df2 = df.join(k.select("city", "year", "capital"), on=["city", "year"])
    g = pdid.green.gml(
        df2,
        inputs=["labour", "capital", "energy"],
        good="real_gdp",
        bad=["so2", "wastewater", "dust"],
        unit="city",
        time="year",
    )
    assert g.height == 656 and (g["status"].is_in(["ok", "base"])).all()
    assert g.filter(pl.col("year") == 2006)["gtfp"].to_list() == [1.0] * 41


# ------------------------------------------------------------------ construction intensity

#: sha256 of panel_synthetic.csv as committed before the intensity columns were added.
_PANEL_SHA256_BEFORE_INTENSITY = "ec063a2940f875ac86ae624a16b9d990983491b408e494758aa79dc0bb7055fd"
_INDICATORS = [
    "sc_invest_pc",
    "broadband_per100",
    "egov_index",
    "pilot_programmes",
    "iot_stations_km2",
]
_INTENSITY_COLUMNS = ["intensity_latent", *_INDICATORS, "gtfp_dose"]


def _dose_f(truth: dict, d):
    return truth["dose_response"]["parameters"]["dose_theta"] * np.log1p(d)


def test_intensity_columns_leave_existing_columns_byte_identical():
    """The intensity block has its own stream (spawn key 1001) and its columns come last:
    removing them from every line of the committed CSV gives back, byte for byte, the file
    as it was before they were added (its sha256 is pinned here)."""
    import hashlib

    import pilotdid.datasets as ds

    path = Path(ds.__file__).resolve().parent / "yrd" / "panel_synthetic.csv"
    lines = path.read_bytes().split(b"\n")
    k = len(_INTENSITY_COLUMNS)
    assert lines[0].split(b",")[-k:] == [c.encode() for c in _INTENSITY_COLUMNS]
    old = b"\n".join(b",".join(ln.split(b",")[:-k]) if ln else ln for ln in lines)
    assert hashlib.sha256(old).hexdigest() == _PANEL_SHA256_BEFORE_INTENSITY


def test_intensity_columns_types_ranges_and_timing(panel):
    """Dtypes as documented; the latent intensity is 0 exactly where post = 0 and > 0 where
    post = 1 (never-pilot cities build nothing); indicators positive, shares inside 0-100;
    deterministic: a second simulation gives the same columns bit for bit."""
    assert panel.schema["pilot_programmes"] == pl.Int64
    for c in ("intensity_latent", "sc_invest_pc", "broadband_per100", "egov_index"):
        assert panel.schema[c] == pl.Float64, c
    assert panel.schema["iot_stations_km2"] == pl.Float64
    assert panel.schema["gtfp_dose"] == pl.Float64
    d = panel["intensity_latent"].to_numpy()
    post = panel["post"].to_numpy() == 1
    assert np.all(d[~post] == 0.0) and np.all(d[post] > 0.0)
    assert panel.select(_INDICATORS).null_count().row(0) == (0,) * 5
    assert panel["pilot_programmes"].min() >= 0
    for c in ("sc_invest_pc", "iot_stations_km2", "broadband_per100", "egov_index"):
        assert panel[c].min() > 0, c
    for c in ("broadband_per100", "egov_index"):
        assert panel[c].max() < 100, c
    # Every indicator is higher, on average, in pilot years than before.
    for c in _INDICATORS:
        assert panel.filter(post)[c].mean() > panel.filter(~post)[c].mean(), c
    a, _ = simulate_yrd(seed=3)
    b, _ = simulate_yrd(seed=3)
    assert_frame_equal(a.select(_INTENSITY_COLUMNS), b.select(_INTENSITY_COLUMNS))
    # The intensity follows the coding: one year earlier under "announcement"; the other
    # shocks are common random numbers, so never-pilot cities' indicators do not move.
    ann, _ = simulate_yrd(coding="announcement")
    post_ann = ann["post"].to_numpy() == 1
    assert np.all(ann["intensity_latent"].to_numpy()[~post_ann] == 0.0)
    never = panel["cohort"].to_numpy() == 0
    for c in ("sc_invest_pc", "broadband_per100", "egov_index", "iot_stations_km2"):
        assert np.array_equal(ann[c].to_numpy()[never], panel[c].to_numpy()[never]), c


def test_gtfp_dose_injected_effect_is_the_truth():
    """gtfp_dose(theta) - gtfp_dose(theta = 0) = theta ln(1 + d) city-year by city-year, and
    theta changes no other column: the injected effect at dose d is f(d), so ATT(d|d) =
    f(d); the averages and ATT(g,t) of the truth are the injected effect's means."""
    df, truth = simulate_yrd(digits=None)
    df0, truth0 = simulate_yrd(digits=None, params=replace(DgpParams(), dose_theta=0.0))
    assert_frame_equal(df.drop("gtfp_dose"), df0.drop("gtfp_dose"))
    effect = (df["gtfp_dose"] - df0["gtfp_dose"]).to_numpy()
    d = df["intensity_latent"].to_numpy()
    assert np.allclose(effect, _dose_f(truth, d), rtol=0, atol=1e-13)
    dr = truth["dose_response"]
    treated = d > 0
    assert dr["average"]["att"] == pytest.approx(effect[treated].mean(), abs=1e-13)
    assert dr["average"]["n_city_years"] == int(treated.sum()) == 126
    assert dr["average"]["dose_mean"] == pytest.approx(d[treated].mean(), rel=1e-12)
    eff = _matrix(df.with_columns(pl.Series("eff", effect)), "eff")
    cohort = _matrix(df, "cohort")[:, 0]
    for rec in dr["att_gt"]:
        j = rec["time"] - 2006
        assert rec["att"] == pytest.approx(eff[cohort == rec["group"], j].mean(), abs=1e-13)
    for rec in dr["by_city"]:
        row = df.filter((pl.col("city_id") == rec["city_id"]) & (pl.col("post") == 1))
        assert rec["dose_mean"] == pytest.approx(row["intensity_latent"].mean(), rel=1e-12)
    assert truth0["dose_response"]["average"]["att"] == 0.0


def test_dose_response_truth_identities(panel, truth):
    """ATT(d|d) = theta ln(1+d) and ACRT(d|d) = its derivative (central difference) on the
    grid and at the quantiles; the averages are the means of f and f' over the treated
    city-years of the shipped panel (within its 6-decimal rounding)."""
    dr = truth["dose_response"]
    theta = dr["parameters"]["dose_theta"]
    assert theta == DgpParams().dose_theta == 0.02
    d = panel["intensity_latent"].to_numpy()
    d_tr = d[d > 0]
    h = 1e-5
    points = dr["grid"] + dr["quantiles"]
    assert dr["grid"][0]["dose"] == 0.0 and dr["grid"][-1]["dose"] >= d_tr.max()
    for rec in points:
        x = rec["dose"]
        assert rec["att"] == pytest.approx(theta * math.log1p(x), rel=1e-14, abs=1e-16)
        deriv = (theta * math.log1p(x + h) - theta * math.log1p(x - h)) / (2 * h)
        assert rec["acrt"] == pytest.approx(deriv, rel=1e-8)
    levels = [q["level"] for q in dr["quantiles"]]
    assert np.allclose([q["dose"] for q in dr["quantiles"]], np.quantile(d_tr, levels), atol=1e-6)
    assert dr["average"]["att"] == pytest.approx(_dose_f(truth, d_tr).mean(), abs=1e-7)
    assert dr["average"]["acrt"] == pytest.approx(np.mean(theta / (1 + d_tr)), abs=1e-7)
    # In the bundled panel the injected effect is gtfp_dose - y0; y0 = gtfp before any
    # city is treated (2006-2012, no anticipation): nothing else differs there.
    pre = panel.filter(pl.col("year") < 2013)
    assert (pre["gtfp_dose"] - pre["gtfp"]).abs().max() <= 1.01e-6


def test_gtfp_dose_has_no_binary_pilot_effect_or_spillover(truth):
    """rho = theta = sigma = 0 and dose_theta = 0: gtfp - gtfp_dose is exactly 0 outside the
    pilot years (no spillover onto anyone) and, in them, the binary pilot's own effect:
    tau + b_ind a_ind + b_en a_en + b_pat (ln(1+P) - ln(1+P0)), with P0 the coupled
    untreated patent count (a thinning of P, so that last term is >= 0 and averages to
    the truth's indirect patent effect)."""
    p0 = replace(DgpParams(), dose_theta=0.0, sigma=0.0, rho=0.0, theta=0.0)
    df, tr = simulate_yrd(params=p0, digits=None)
    gap = (df["gtfp"] - df["gtfp_dose"]).to_numpy()
    post = df["post"].to_numpy() == 1
    assert np.all(np.abs(gap[~post]) <= 1e-13)
    tau = np.array(
        [
            _tau(tr, b, e)
            for b, e in zip(df.filter(post)["pilot_batch"], df.filter(post)["event_time"])
        ]
    )
    med = p0.b_ind_upgrade * p0.a_ind_upgrade + p0.b_energy_intensity * p0.a_energy_intensity
    patents_term = gap[post] - tau - med
    assert patents_term.min() >= -1e-13
    assert patents_term.mean() == pytest.approx(
        tr["mediation"]["indirect"]["ln_green_patents"], abs=1e-3
    )
    # The bundled panel (rho = 0.3, theta = 0.01): the controls' gtfp carries spillovers,
    # their gtfp_dose does not, so the two differ there in the pilot years only.
    assert truth["parameters"]["theta"] == 0.01


def test_pca_index_recovers_the_latent_intensity(panel):
    """pilotdid.green.pca_index on the five indicators: one component (Kaiser), correlation
    with the true latent intensity > 0.9; to_dose(kind="path") on it is 0 before adoption and
    for never-pilot cities and tracks the latent intensity in pilot years."""
    import pilotdid as pdid

    res = pdid.green.pca_index(panel, indicators=_INDICATORS, unit="city", time="year")
    assert res.n_components == 1
    df = panel.join(res.scores, on=["city", "year"])
    assert np.corrcoef(df["pca_index"], df["intensity_latent"])[0, 1] > 0.9
    dosed = pdid.green.to_dose(df, index="pca_index", unit="city", time="year", cohort="cohort")
    before = dosed.filter(pl.col("post") == 0)
    assert (before["dose"] == 0.0).all()
    on = dosed.filter(pl.col("post") == 1)
    assert (on["dose"] > 0.0).all()
    assert np.corrcoef(on["dose"], on["intensity_latent"])[0, 1] > 0.9


def test_intensity_parameters_are_validated():
    with pytest.raises(ValueError, match="intensity_speed_median"):
        simulate_yrd(params=replace(DgpParams(), intensity_speed_median=0.0))
    with pytest.raises(ValueError, match="intensity_speed_sd"):
        simulate_yrd(params=replace(DgpParams(), intensity_speed_sd=-0.1))

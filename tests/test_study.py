"""`pilotdid run spec.toml`: spec validation, treatment coding and the bundled study end to end.

References: the generator's own coding (``datasets.simulate_yrd(coding=..., district_only=...)``
and the bundled panel's ``cohort``/``did`` columns), the city table ``cities.csv`` for counts,
and direct calls of the public API with the same arguments (exact identities).
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import pilotdid as pdid
from pilotdid import datasets
from pilotdid.cli import BASELINE, bundled_spec
from pilotdid.study.data import prepare_data, resolve_spec
from pilotdid.study.errors import SpecError, StudyError
from pilotdid.study.run import run_study
from pilotdid.study.spec import BUNDLED_CODING_COLUMNS, load_spec

SPEC = load_spec(bundled_spec())


def _spec(**changes) -> dict:
    """The bundled spec with `changes` ("table.key" -> value; value None deletes the key)."""
    s = copy.deepcopy(SPEC)
    for dotted, value in changes.items():
        *path, key = dotted.split(".")
        node = s
        for p in path:
            node = node.setdefault(p, {})
        if value is None:
            node.pop(key, None)
        else:
            node[key] = value
    return s


def _small(spec: dict) -> dict:
    """Only cheap analyses (validation and coding tests do not need the others)."""
    spec = copy.deepcopy(spec)
    spec["analyses"] = {"baseline": {"steps": "full"}}
    return spec


def _csv_spec(tmp_path: Path, **changes) -> dict:
    """The bundled spec reading the bundled panel from a CSV file in tmp_path."""
    # a user's panel has no coding columns of its own when the spec derives them (a derived
    # column may not replace a data column; the bundled loader drops them the same way)
    datasets.yrd().drop(list(BUNDLED_CODING_COLUMNS)).write_csv(tmp_path / "panel.csv")
    s = _spec(**changes)
    s["data"] = {"path": "panel.csv", "unit": "city", "time": "year", **s.get("_data", {})}
    s.pop("_data", None)
    return s


# ------------------------------------------------------------------------------------------
# validation: each error names the problem, and nothing is written
# ------------------------------------------------------------------------------------------
CASES = [
    ({"sed": 1}, "unknown key 'sed' in the top level; did you mean 'seed'?"),
    ({"model.contrls": ["x"]}, "unknown key 'contrls' in [model]; did you mean 'controls'?"),
    (
        {"analyses.placebo.rep": 10},
        "unknown key 'rep' in [analyses.placebo]; did you mean 'reps'?",
    ),
    ({"analyses.placbo": {}}, "unknown key 'placbo' in [analyses]; did you mean 'placebo'?"),
    (
        {"analyses.robustness.checks": [{"kind": "winsorize", "lowr": 0.05}]},
        "unknown key 'lowr' in [analyses.robustness.checks[0]]; did you mean 'lower'?",
    ),
    (
        {"model.controls": ["ln_gdp_pc", "urbanisation"]},
        "[model]: column 'urbanisation' not found in the bundled SYNTHETIC YRD panel; "
        "did you mean 'urbanization'?",
    ),
    (
        {"analyses.mechanisms": {"mediators": ["green_patent"]}},
        "[analyses.mechanisms] mediators: column 'green_patent' not found",
    ),
    (
        {"analyses.placebo.statistic": "ols"},
        "[analyses.placebo] statistic: 'ols' is not one of twfe, cs, sa, bjs, did2s",
    ),
    (
        {"analyses.event_study.estimators": ["cs", "twef"]},
        "[analyses.event_study] estimators: 'twef' is not one of twfe, cs, sa, bjs, did2s; "
        "did you mean 'twfe'?",
    ),
    (
        {"analyses.event_study.window": [2, 5]},
        "[analyses.event_study] window: expected [lo, hi] integers with lo < 0 <= hi",
    ),
    ({"treatment.district_only": "maybe"}, "[treatment] district_only: 'maybe' is not one of"),
    ({"seed": -1}, "seed: must be at least 0"),
    (
        {"treatment.batch_years": {"1": 2030, "2": 2031, "3": 2032}},
        "[treatment]: the coding leaves no treated units",
    ),
    (
        {"treatment.batch_years": {"1": 2013, "2": 2014}},
        "[treatment] batch_years: batch '3' of column 'pilot_batch'",
    ),
    (
        {"treatment.district_only": "treated"},
        "[treatment] district_only_year: required with district_only = 'treated'",
    ),
    (
        {
            "analyses.robustness.checks": [
                {"kind": "drop_units", "units": ["Shanghai", "Gotham"]},
            ]
        },
        "[analyses.robustness] checks[0] units: 'Gotham' is not a value of column 'city'",
    ),
    ({"data.bundled": "xyz"}, "[data] bundled: 'xyz' is not one of yrd"),
    (
        {"analyses.heterogeneity.by": ["province"]},
        "[analyses.heterogeneity] by: split = 'median' needs a numeric column; 'province'",
    ),
    (
        {"model.vcov": "hetero"},
        "[analyses.baseline] reps: the wild cluster bootstrap needs [model] vcov",
    ),
    (
        {"analyses.event_study.enabled": False},
        "[analyses.sensitivity] enabled: the sensitivity analysis needs [analyses.event_study]",
    ),
    (
        {"analyses.event_study.estimators": ["cs"], "analyses.sensitivity.estimator": "bjs"},
        "[analyses.sensitivity] estimator: 'bjs' is not among [analyses.event_study] "
        "estimators (cs)",
    ),
    ({"analyses.sensitivity.m_bar": []}, "[analyses.sensitivity] m_bar: expected a non-empty"),
    ({"analyses.sensitivity.m_bar": [-1, 1]}, "m_bar: expected a non-empty list of numbers >= 0"),
    ({"analyses.sensitivity.method": "FLCI"}, "[analyses.sensitivity] method: 'FLCI' is not one"),
    ({"analyses.sensitivity.l_vec": "last"}, "[analyses.sensitivity] l_vec: expected 'first'"),
    ({"analyses.sensitivity.level": 1.5}, "[analyses.sensitivity] level: must be in (0, 1)"),
    ({"analyses.sdid.methods": ["sdid", "scm"]}, "[analyses.sdid] methods: 'scm' is not one of"),
    ({"analyses.sdid.methods": []}, "[analyses.sdid] methods: name at least one of sdid, sc"),
    ({"analyses.sdid.vcov": "cluster"}, "[analyses.sdid] vcov: 'cluster' is not one of placebo"),
    ({"analyses.sdid.reps": 1}, "[analyses.sdid] reps: must be at least 2, got 1"),
    ({"analyses.sdid.level": 95}, "[analyses.sdid] level: must be in (0, 1), got 95"),
    ({"analyses.ddd": {}}, "[analyses.ddd] partition: required: a unit-level 0/1 eligibility"),
    (
        {"analyses.ddd.partition": "human_captal"},
        "[analyses.ddd] partition: column 'human_captal' not found",
    ),
    (
        {"analyses.ddd.partition": "province"},
        "[analyses.ddd] partition: split = 'median' needs a numeric column; 'province'",
    ),
    ({"analyses.ddd.control_group": "nyt"}, "[analyses.ddd] control_group: 'nyt' is not one of"),
    ({"analyses.ddd.est_method": "ols"}, "[analyses.ddd] est_method: 'ols' is not one of dr"),
    ({"analyses.dcdh.window": [1, 3]}, "[analyses.dcdh] window: expected [lo, hi] integers"),
    ({"analyses.dcdh.switchers": "up"}, "[analyses.dcdh] switchers: 'up' is not one of both"),
    (
        {"analyses.dcdh.treatment": "intensity"},
        "[analyses.dcdh] y/treatment: column 'intensity' not found",
    ),
    ({"analyses.dose": {}}, "[analyses.dose] dose: required: the dose (treatment intensity)"),
    ({"analyses.dose.dose_at": "first"}, "[analyses.dose] dose_at: 'first' is not one of"),
    ({"analyses.dose.degree": 0}, "[analyses.dose] degree: must be at least 1, got 0"),
    ({"analyses.dose.df": "t"}, "[analyses.dose] df: 't' is not one of normal, satterthwaite"),
    (
        {"analyses.dose.small_sample": "none"},
        "[analyses.dose] df: 'satterthwaite' needs small_sample = 'hc2' or 'hc3'",
    ),
    ({"analyses.exposure.rings_km": [100]}, "[analyses.exposure] rings_km: expected at least two"),
    (
        {"analyses.exposure.rings_km": [0, 100, 100]},
        "[analyses.exposure] rings_km: cutoffs must start at 0 or above and increase",
    ),
    ({"analyses.exposure.lat": "latitude"}, "[analyses.exposure] lat/lon: column 'latitude'"),
    ({"analyses.exposure.control_group": "all"}, "[analyses.exposure] control_group: 'all' is"),
    # old spellings name the new key (one vocabulary with the Python API)
    ({"model.vcov": "HC1"}, "[model] vcov: 'HC1' is now called 'hetero'"),
    (
        {"analyses.mechanisms.boot_reps": 10},
        "key 'boot_reps' in [analyses.mechanisms] is now called 'reps'",
    ),
    ({"analyses.spatial.draws": 10}, "key 'draws' in [analyses.spatial] is now called 'reps'"),
    ({"gtfp.kind": "global"}, "key 'kind' in [gtfp] is now called 'frontier'"),
    (
        {"analyses.robustness.checks": [{"kind": "outcome", "outcome": "ln_gtfp_gml"}]},
        "key 'outcome' in [analyses.robustness.checks[0]] is now called 'y'",
    ),
]


@pytest.mark.parametrize("changes,message", CASES)
def test_spec_errors_name_the_problem_and_write_nothing(tmp_path, changes, message):
    """Each invalid spec stops before anything runs with a message naming the key / column /
    value, and the report folder is never created."""
    out = tmp_path / "report"
    with pytest.raises(SpecError) as e:
        run_study(_spec(**changes), out=out, base_dir=tmp_path)
    assert message in str(e.value)
    assert list(tmp_path.iterdir()) == []


def test_missing_column_in_a_data_file_names_column_and_file(tmp_path):
    """A CSV without a named column: the message names the column and the file."""
    s = _csv_spec(tmp_path)
    s["model"]["y"] = "tfp"
    with pytest.raises(SpecError, match=r"\[model\]: column 'tfp' not found in 'panel.csv'"):
        run_study(s, out=tmp_path / "report", base_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["panel.csv"]


def test_missing_data_file_and_bad_toml(tmp_path):
    """A data path that does not exist, and a spec that is not TOML."""
    s = _spec()
    s["data"] = {"path": "nope.csv", "unit": "city", "time": "year"}
    with pytest.raises(SpecError, match="nope.csv' not found"):
        resolve_spec(s, base_dir=tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text("seed = = 1\n")
    with pytest.raises(SpecError, match="is not valid TOML"):
        resolve_spec(bad)


def test_no_controls_left_is_an_error(tmp_path):
    """Every unit treated from the first period: no never- or not-yet-treated controls."""
    df = datasets.yrd().drop(BUNDLED_CODING_COLUMNS).with_columns(pl.lit(1).alias("always"))
    df.write_csv(tmp_path / "panel.csv")
    s = _small(_spec())
    s["data"] = {"path": "panel.csv", "unit": "city", "time": "year"}
    s["treatment"] = {"column": "always"}
    with pytest.raises(SpecError, match="leaves no never-treated or not-yet-treated controls"):
        run_study(s, out=tmp_path / "report", base_dir=tmp_path)
    assert not (tmp_path / "report").exists()


def test_treatment_column_must_be_absorbing(tmp_path):
    """A 0/1 column that switches off names the unit and year."""
    df = (
        datasets.yrd()
        .drop("cohort")
        .with_columns(
            pl.when((pl.col("city") == "Wuxi") & (pl.col("year") == 2020))
            .then(0)
            .otherwise(pl.col("did"))
            .alias("did")
        )
    )
    df.write_csv(tmp_path / "panel.csv")
    s = _small(_spec())
    s["data"] = {"path": "panel.csv", "unit": "city", "time": "year"}
    s["treatment"] = {"column": "did"}
    with pytest.raises(SpecError, match="switches off for unit 'Wuxi' in 2020"):
        resolve_spec(s, base_dir=tmp_path)


def test_resolve_spec_fills_defaults(tmp_path):
    """The resolved spec holds every default (it goes to provenance.json)."""
    s = {
        "data": {"bundled": "yrd"},
        "treatment": {"batch_column": "pilot_batch", "batch_years": {"1": 2013, "2": 2014}},
        "model": {"y": "gtfp"},
        "analyses": {"placebo": {}, "spatial": {"enabled": False}},
    }
    s["treatment"]["batch_years"]["3"] = 2015
    r = resolve_spec(s)
    assert r["seed"] == 20121
    assert r["data"] == {"path": None, "bundled": "yrd", "unit": "city", "time": "year"}
    assert r["model"] == {
        "y": "gtfp",
        "controls": [],
        "fixed_effects": ["city", "year"],
        "vcov": "CR1",
        "cluster": "city",
    }
    assert r["treatment"]["district_only"] == "untreated"
    assert r["treatment"]["name"] == "did" and r["treatment"]["cohort_name"] == "cohort"
    assert r["analyses"]["placebo"] == {
        "enabled": True,
        "reps": 500,
        "statistic": "twfe",
        "scheme": "units",
        "seed": 20121,
    }
    assert r["analyses"]["spatial"]["enabled"] is False
    assert r["analyses"]["spatial"]["reps"] == 500


# ------------------------------------------------------------------------------------------
# treatment coding
# ------------------------------------------------------------------------------------------
def _per_unit(df: pl.DataFrame) -> dict:
    return dict(df.select("city", "cohort").unique().iter_rows())


def test_default_coding_reproduces_the_bundled_panel():
    """Batch years 2013/2014/2015 with district-only pilots untreated is the generator's
    "default" coding: cohort and did equal the panel's own columns row by row."""
    df, info = prepare_data(_small(SPEC))
    panel = datasets.yrd()
    assert df["cohort"].to_list() == panel["cohort"].to_list()
    assert df["did"].to_list() == panel["did"].to_list()
    assert info["coding"]["cohorts"] == {"2013": 9, "2014": 3, "2015": 3}
    assert info["coding"]["n_never_treated"] == 26


def test_shifted_batch_years_and_dropped_district_pilots_match_the_generator():
    """Announcement coding (2012/2013/2014) with district-only pilots dropped equals
    simulate_yrd(coding="announcement", district_only="drop")'s cohorts; N falls by the five
    district-only cities x 16 years."""
    s = _small(
        _spec(
            **{
                "treatment.batch_years": {"1": 2012, "2": 2013, "3": 2014},
                "treatment.district_only": "drop",
            }
        )
    )
    df, info = prepare_data(s)
    ref, truth = datasets.simulate_yrd(coding="announcement", district_only="drop")
    assert _per_unit(df) == _per_unit(ref)
    assert df.height == 656 - 5 * 16 == ref.height
    assert info["coding"]["cohorts"] == {"2012": 9, "2013": 3, "2014": 3}
    assert set(info["coding"]["dropped_units"]) == set(truth["district_only_cities"])
    fit = pdid.feols(BASELINE, df, vcov={"CR1": "city"})
    assert fit.nobs == 576


def test_district_only_treated_and_status_filter_change_counts():
    """district_only="treated" adds the five district-only cities as treated in the given
    year; drop_status=["unverified"] drops the pilots whose cities.csv status starts with
    "unverified" (counted from cities.csv)."""
    df, info = prepare_data(
        _small(
            _spec(**{"treatment.district_only": "treated", "treatment.district_only_year": 2014})
        )
    )
    assert info["coding"]["n_treated"] == 20
    assert info["coding"]["cohorts"]["2014"] == 3 + 5
    assert info["coding"]["n_never_treated"] == 21
    assert _per_unit(df)["Shanghai"] == 2014

    cities = datasets.yrd_cities()
    unverified = cities.filter(
        pl.col("pilot_batch").is_not_null() & pl.col("pilot_status").str.starts_with("unverified")
    )["city_en"].to_list()
    assert len(unverified) > 0
    df, info = prepare_data(_small(_spec(**{"treatment.drop_status": ["unverified"]})))
    assert info["coding"]["n_treated"] == 15 - len(unverified)
    assert df.height == 656 - 16 * len(unverified)
    assert not set(unverified) & set(df["city"].to_list())


def test_existing_treatment_column_derives_the_cohorts(tmp_path):
    """treatment.column = "did" on a CSV: the derived cohorts equal the panel's."""
    s = _small(_csv_spec(tmp_path))
    datasets.yrd().write_csv(tmp_path / "panel.csv")  # with its own "did" (and "cohort")
    s["treatment"] = {"column": "did", "cohort_name": "g"}
    df, _ = prepare_data(s, base_dir=tmp_path)
    assert df["g"].to_list() == datasets.yrd()["cohort"].to_list()


# ------------------------------------------------------------------------------------------
# the bundled study end to end
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    out = tmp_path_factory.mktemp("study") / "report"
    study = run_study(bundled_spec(), out=out)
    return study, out


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-12, atol=0)


def test_bundled_report_numbers_equal_direct_api_calls(bundled):
    """Every CSV in results/ equals the public API called directly with the spec's arguments
    on datasets.yrd()."""
    study, out = bundled
    df = datasets.yrd()
    res = out / "results"
    vcov = {"CR1": "city"}
    ctrls = ["ln_gdp_pc", "urbanization", "gov_exp_share", "fdi_share", "fin_dev"]

    fit = pdid.feols(BASELINE, df, vcov=vcov)
    base = pl.read_csv(res / "baseline.csv").filter(pl.col("model") == "(6)")
    _close(base["estimate"], fit.tidy()["estimate"])
    _close(base["std_error"], fit.tidy()["std_error"])
    boot = pl.read_csv(res / "baseline_wildboot.csv")
    ref = fit.wildboottest("did", reps=9999, seed=20121)
    _close(boot["p_value"], [ref.p_value])
    _close(boot["conf_low"], [ref.conf_int[0]])

    es = pl.read_csv(res / "event_study.csv")
    for est in ("twfe", "cs", "sa", "bjs", "did2s"):
        kw = {"controls": ctrls, "window": [-5, 5]}
        if est != "cs":
            kw["vcov"] = vcov
        if est in ("twfe", "did2s", "sa"):
            kw["ref_period"] = -1
        r = pdid.event_study(
            df,
            y="gtfp",
            time="year",
            unit="city",
            cohort="cohort",
            estimator=est,
            **kw,
        )
        got = es.filter(pl.col("method") == est)
        assert set(got["estimator"]) == {r.estimator}
        assert got["event_time"].to_list() == r.event_time.tolist()
        _close(got["estimate"], r.estimate)
        _close(got["std_error"], r.std_error)

        if est == "cs":
            # [analyses.sensitivity]: HonestDiD on this event study with the spec's options
            h = pdid.honest_did(r, delta="rm", m_bar=[0, 0.5, 1, 1.5, 2], seed=20121)
            sens = pl.read_csv(res / "sensitivity.csv")
            _close(sens["lb"], h.tidy()["lb"])
            _close(sens["ub"], h.tidy()["ub"])
            assert sens["M"].to_list()[:-1] == [0, 0.5, 1, 1.5, 2]

    b = pdid.bacon(df, y="gtfp", time="year", unit="city", treatment="did")
    _close(pl.read_csv(res / "bacon.csv")["estimate"], b.tidy()["estimate"])

    p = pdid.placebo(fit, data=df, reps=1000, seed=20121)
    _close(pl.read_csv(res / "placebo_draws.csv")["estimate"], p.estimates)
    _close(pl.read_csv(res / "placebo.csv")["p_value"], [p.p_value_ri])

    psm = pdid.psm_did(
        df.with_columns(_ever_treated=(pl.col("cohort") > 0).cast(pl.Int64)),
        treatment="_ever_treated",
        controls=ctrls,
        fml=BASELINE,
        by="year",
        vcov=vcov,
    )
    _close(pl.read_csv(res / "psm_did.csv")["estimate"], psm.did.tidy()["estimate"])

    rob = pdid.robustness(
        fit,
        checks=[
            pdid.Check("winsorize", lower=0.01, upper=0.99),
            pdid.Check("drop_units", units=["Shanghai", "Nanjing", "Hangzhou", "Hefei"]),
            pdid.Check("window", start=2008, end=2019),
            pdid.Check("controls", controls=["pop_density", "human_capital"]),
            pdid.Check("outcome", y="ln_gtfp_gml"),
        ],
        data=prepare_data(SPEC)[0],
    )
    _close(pl.read_csv(res / "robustness.csv")["estimate"], rob.table["estimate"])

    med = pdid.mediation(
        df,
        y="gtfp",
        treatment="did",
        mediators=["ln_green_patents", "ind_upgrade", "energy_intensity"],
        controls=ctrls,
        fixef="city + year",
        vcov=vcov,
        reps=500,
        seed=20121,
    )
    got = pl.read_csv(res / "mechanisms.csv")
    for col in ("a", "b", "ci_low", "ci_high"):
        _close(got[col], med.table[col])

    cities = datasets.yrd_cities()
    W = pdid.weights.inverse_distance(cities["lat"], cities["lon"], ids=cities["city_en"])
    sdm = pdid.sdm(
        "gtfp ~ did + ln_gdp_pc + urbanization",
        df,
        W=W,
        unit="city",
        time="year",
        effects="twoways",
        lee_yu=True,
    )
    imp = sdm.impacts(reps=1000, seed=20121).tidy()
    got = pl.read_csv(res / "spatial_impacts.csv")
    _close(got["estimate"], imp["estimate"])
    _close(got["sim_mean"], imp["sim_mean"])
    # [analyses.spatial] compare: a GNS and a dynamic SDM (dlag = 1) on the same W
    sp = {"W": W, "unit": "city", "time": "year", "effects": "twoways"}
    gns = pdid.gns("gtfp ~ did + ln_gdp_pc + urbanization", df, lee_yu=True, **sp)
    dyn = pdid.sdm("gtfp ~ did + ln_gdp_pc + urbanization", df, dlag=1, **sp)
    got = pl.read_csv(res / "spatial_compare.csv")
    _close(got.filter(pl.col("model") == "GNS")["estimate"], gns.tidy()["estimate"])
    _close(got.filter(pl.col("model") == "Dynamic SDM")["std_error"], dyn.tidy()["std_error"])
    got = pl.read_csv(res / "spatial_compare_impacts.csv")
    _close(got["estimate"], gns.impacts(reps=1000, seed=20121).tidy()["estimate"])
    got = pl.read_csv(res / "spatial_dynamic_impacts.csv")
    for h in ("short", "long"):
        want = dyn.impacts(horizon=h, reps=1000, seed=20121).tidy()
        _close(got.filter(pl.col("horizon") == h)["estimate"], want["estimate"])
        _close(got.filter(pl.col("horizon") == h)["sim_high"], want["sim_high"])

    # [analyses.sdid]: SDID, SC and DID of each cohort against the never-treated cities
    got = pl.read_csv(res / "sdid.csv")
    for method in ("sdid", "sc", "did"):
        direct = pdid.synthdid(
            df,
            y="gtfp",
            unit="city",
            time="year",
            cohort="cohort",
            method=method,
            vcov="placebo",
            reps=200,
            seed=20121,
        )
        part = got.filter(pl.col("method") == method)
        assert part["term"].to_list() == direct.tidy()["term"].to_list()
        _close(part["estimate"], direct.tidy()["estimate"])
        _close(part["std_error"], direct.tidy()["std_error"])
    # [analyses.ddd]: eligibility = first-year human capital above the median of cities
    first = (
        df.sort("year").group_by("city", maintain_order=True).agg(pl.col("human_capital").first())
    )
    med = first["human_capital"].median()
    elig = dict(zip(first["city"], (first["human_capital"] > med).cast(pl.Int64)))
    dd = df.with_columns(pl.col("city").replace_strict(elig).alias("eligible"))
    direct = pdid.ddd(dd, y="gtfp", unit="city", time="year", partition="eligible", cohort="cohort")
    dyn = direct.aggregate(type="dynamic", min_e=-5, max_e=5).tidy()
    got = pl.read_csv(res / "ddd_dynamic.csv")
    assert got["term"].to_list() == dyn["term"].to_list()
    _close(got["estimate"], dyn["estimate"])
    _close(got["std_error"], dyn["std_error"])
    # [analyses.dcdh]: DID_l of the construction intensity on the dose outcome
    direct = pdid.dcdh(
        df,
        y="gtfp_dose",
        unit="city",
        time="year",
        treatment="intensity_latent",
        window=(-3, 5),
        cluster="city",
    )
    got = pl.read_csv(res / "dcdh.csv")
    assert got["term"].to_list() == direct.tidy()["term"].to_list()
    _close(got["estimate"], direct.tidy()["estimate"])
    _close(got["std_error"], direct.tidy()["std_error"])
    # [analyses.dose]: each pilot's intensity in its first pilot year as its dose
    dosed = df.with_columns(
        pl.when(pl.col("year") == pl.col("cohort"))
        .then(pl.col("intensity_latent"))
        .otherwise(None)
        .max()
        .over("city")
        .fill_null(0.0)
        .alias("dose")
    )
    direct = pdid.cont_did(
        dosed,
        y="gtfp_dose",
        unit="city",
        time="year",
        dose="dose",
        cohort="cohort",
        degree=1,
        small_sample="hc2",
        df="satterthwaite",
        reps=999,
        seed=20121,
        cluster="city",
    )
    got = pl.read_csv(res / "dose.csv")
    assert got["term"].to_list()[:2] == ["ATT^o", "ACRT^o"]
    for col in ("estimate", "std_error", "df", "conf_low", "conf_high", "p_value"):
        _close(got[col], direct.tidy()[col])
    # [analyses.exposure]: Butts (2023) exposure DID with rings 0-100-200 km
    direct = pdid.exposure_did(
        df,
        y="gtfp",
        unit="city",
        time="year",
        cohort="cohort",
        lat="lat",
        lon="lon",
        rings_km=(0, 100, 200),
        control_group="never",
    )
    got = pl.read_csv(res / "exposure.csv")
    assert got["term"].to_list() == direct.tidy()["term"].to_list()
    _close(got["estimate"], direct.tidy()["estimate"])
    _close(got["std_error"], direct.tidy()["std_error"])
    assert study.seeds == {
        "baseline.wildboot": 20121,
        "dose": 20121,
        "sdid": 20121,
        "heterogeneity.permutation": 20121,
        "mechanisms.bootstrap": 20121,
        "placebo": 20121,
        "sensitivity": 20121,
        "spatial.impacts": 20121,
    }


def test_same_spec_twice_gives_identical_tables_and_provenance(bundled, tmp_path):
    """Determinism: a second run gives byte-identical tables/*.tex, results/*.csv and
    provenance.json."""
    _, first = bundled
    second = tmp_path / "again"
    run_study(bundled_spec(), out=second)
    tex = sorted(p.name for p in (first / "tables").glob("*.tex"))
    assert len(tex) >= 10
    assert tex == sorted(p.name for p in (second / "tables").glob("*.tex"))
    for name in tex:
        assert (first / "tables" / name).read_bytes() == (second / "tables" / name).read_bytes()
    for p in (first / "results").glob("*.csv"):
        assert p.read_bytes() == (second / "results" / p.name).read_bytes()
    assert (first / "provenance.json").read_bytes() == (second / "provenance.json").read_bytes()


def test_existing_target_needs_overwrite_and_only_a_report_is_replaced(tmp_path):
    """An existing folder is an error without overwrite (left untouched); with overwrite a
    folder that is not a previous report is refused too (tests/test_report_safety.py has the
    rest); a previous report is replaced as a whole; no temporary folders remain."""
    out = tmp_path / "report"
    out.mkdir()
    (out / "old.txt").write_text("keep me")
    s = _small(SPEC)
    with pytest.raises(SpecError, match="already exists; pass --overwrite"):
        run_study(s, out=out)
    with pytest.raises(SpecError, match="is not a pilotdid report"):
        run_study(s, out=out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["old.txt"]
    assert (out / "old.txt").read_text() == "keep me"
    (out / "old.txt").unlink()
    out.rmdir()
    run_study(s, out=out)
    (out / "tables" / "baseline.tex").write_text("stale")
    run_study(s, out=out, overwrite=True)
    assert (out / "tables" / "baseline.tex").read_text() != "stale"
    assert (out / "index.html").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_a_failing_analysis_writes_nothing_when_strict(tmp_path, monkeypatch):
    """strict=True: an analysis that fails mid-run raises StudyError naming it; no folder, no
    leftovers."""
    from pilotdid.study import analyses as study_mod

    def boom(*args, **kwargs):
        raise pdid.PilotdidError("synthetic failure")

    monkeypatch.setitem(study_mod._RUNNERS, "bacon", boom)
    s = _spec(analyses={"baseline": {"steps": "full"}, "bacon": {}})
    with pytest.raises(StudyError, match=r"\[analyses.bacon\] failed: synthetic failure"):
        run_study(s, out=tmp_path / "report", strict=True)
    assert list(tmp_path.iterdir()) == []


def test_a_failing_analysis_is_reported_and_its_partial_output_discarded(tmp_path, monkeypatch):
    """Default: the failing analysis's half-made results and figures are dropped, its error
    (a bug's type included) is kept on study.failures and in the report; the others stay."""
    from pilotdid.study import analyses as study_mod

    def half_then_boom(study, sub, progress):
        study.results["bacon"] = "half made"
        study.figures["bacon"] = object()
        raise ZeroDivisionError("division by zero")

    monkeypatch.setitem(study_mod._RUNNERS, "bacon", half_then_boom)
    s = _spec(analyses={"baseline": {"steps": "full"}, "bacon": {}})
    with pytest.warns(pdid.StudyWarning, match="1 analysis failed"):
        study = run_study(s, out=tmp_path / "report")
    assert "bacon" not in study.results and "bacon" not in study.figures
    assert study.failures["bacon"].startswith("internal error ZeroDivisionError: division by zero")
    assert "baseline" in study.results
    page = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert 'data-failed="bacon"' in page and "ZeroDivisionError" in page
    assert "Traceback" in (tmp_path / "report" / "run.log").read_text(encoding="utf-8")


def test_disabled_analyses_do_not_run():
    """enabled = false: the analysis is resolved (and validated) but not run."""
    s = _spec(analyses={"baseline": {"steps": "full"}, "placebo": {"enabled": False}})
    study = run_study(s)
    assert "placebo" not in study.results and "baseline" in study.results


def test_progress_bars_stay_off_when_stderr_is_not_a_terminal(capsys):
    """quiet=False shows tqdm bars only on a terminal: under pytest (stderr captured, not a
    TTY) nothing is printed, and the numbers equal a quiet run's."""
    s = _spec(analyses={"baseline": {"steps": "full"}, "placebo": {"reps": 50}})
    loud = run_study(s, quiet=False)
    err = capsys.readouterr().err
    assert "placebo" not in err and "it/s" not in err
    quiet = run_study(s, quiet=True)
    np.testing.assert_array_equal(
        loud.results["placebo"].estimates, quiet.results["placebo"].estimates
    )


def test_data_path_is_relative_to_the_spec_file_csv_and_parquet(tmp_path, monkeypatch):
    """[data] path is read relative to the spec file (not the cwd), as CSV or Parquet; both
    give the same baseline coefficient as feols on datasets.yrd(), and provenance hashes the
    file that was read."""
    import hashlib

    sub = tmp_path / "project"
    sub.mkdir()
    panel = datasets.yrd().drop("cohort")  # the spec derives the cohort from "did"
    panel.write_csv(sub / "panel.csv")
    panel.write_parquet(sub / "panel.parquet")
    monkeypatch.chdir(tmp_path)
    want = pdid.feols(BASELINE, panel, vcov={"CR1": "city"}).coef()["did"]
    for name in ("panel.csv", "panel.parquet"):
        spec = sub / f"{name}.toml"
        spec.write_text(
            f'[data]\npath = "{name}"\nunit = "city"\ntime = "year"\n'
            '[treatment]\ncolumn = "did"\n'
            '[model]\ny = "gtfp"\n'
            'controls = ["ln_gdp_pc", "urbanization", "gov_exp_share", "fdi_share", "fin_dev"]\n'
            '[analyses.baseline]\nsteps = "full"\n',
            encoding="utf-8",
        )
        study = run_study(spec)
        assert study.results["baseline_model"].coef()["did"] == want
        assert study.info["hashes"] == {name: hashlib.sha256((sub / name).read_bytes()).hexdigest()}


# ------------------------------------------------------------------------------------------
# [gtfp]: green TFP built from the raw columns before the analyses
# ------------------------------------------------------------------------------------------
def test_gtfp_columns_equal_direct_green_calls():
    """Reference: pilotdid.green.capital_stock then pilotdid.green.gml with the same
    arguments (exact identity); the built log column is the log of the cumulative index."""
    df, info = prepare_data(_small(SPEC))
    panel = datasets.yrd()
    k = pdid.green.capital_stock(
        panel,
        investment="investment",
        unit="city",
        time="year",
        delta=0.096,
    )
    raw = panel.join(k.select("city", "year", "capital"), on=["city", "year"])
    ref = pdid.green.gml(
        raw,
        inputs=["labour", "energy", "capital"],
        good=["real_gdp"],
        bad=["so2", "wastewater", "dust"],
        unit="city",
        time="year",
    )
    got = df.select("city", "year", "gtfp_gml", "ln_gtfp_gml", "capital").join(
        ref.select("city", "year", "gtfp"), on=["city", "year"]
    )
    assert got.height == panel.height
    np.testing.assert_array_equal(got["gtfp_gml"].to_numpy(), got["gtfp"].to_numpy())
    np.testing.assert_allclose(got["ln_gtfp_gml"].to_numpy(), np.log(got["gtfp"].to_numpy()))
    assert info["gtfp"]["status"] == {"base": 41, "ok": 41 * 15}
    assert info["gtfp"]["inputs"] == ["labour", "energy", "capital"]


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"gtfp.bads": ["so2"]}, "unknown key 'bads' in [gtfp]; did you mean 'bad'?"),
        ({"gtfp.good": ["real_gpd"]}, "[gtfp]: column 'real_gpd' not found"),
        ({"gtfp.name": "gtfp"}, "[gtfp] name = 'gtfp' collides with the data column 'gtfp'"),
        ({"gtfp.delta": 1.5}, "[gtfp] delta: 1.5 is not a depreciation rate in (0, 1)"),
        ({"gtfp.good": None}, "[gtfp]: 'good' (outputs) and 'inputs' (or 'investment')"),
    ],
)
def test_gtfp_spec_errors_stop_before_anything_runs(tmp_path, changes, message):
    out = tmp_path / "report"
    with pytest.raises(SpecError) as err:
        run_study(_small(_spec(**changes)), out=out)
    assert message in str(err.value)
    assert not out.exists()


def test_gtfp_non_positive_data_is_a_spec_error_naming_the_column(tmp_path):
    """SBM divides by every input and output: a zero SO2 value stops the study (nothing
    written) with the message of pilotdid.green naming the column."""
    panel = (
        datasets.yrd()
        .drop(BUNDLED_CODING_COLUMNS)
        .with_columns(
            pl.when((pl.col("city") == "Wuxi") & (pl.col("year") == 2010))
            .then(0.0)
            .otherwise(pl.col("so2"))
            .alias("so2")
        )
    )
    panel.write_csv(tmp_path / "panel.csv")
    spec = _small(SPEC)
    spec["data"] = {"path": "panel.csv", "unit": "city", "time": "year"}
    out = tmp_path / "report"
    with pytest.raises(SpecError) as err:
        run_study(spec, out=out, base_dir=tmp_path)
    assert str(err.value).startswith("[gtfp]: ") and "so2" in str(err.value)
    assert not out.exists()


def test_dcdh_bootstrap_keys_reach_the_estimator(tmp_path):
    """[analyses.dcdh] bstrap / reps / seed: the report's bootstrap SEs equal pdid.dcdh called
    directly with bstrap=True and the same reps and seed (did_multiplegt_dyn's bootstrap(reps,
    seed)); the seed is recorded in provenance."""
    s = _small(SPEC)
    s["analyses"]["dcdh"] = {
        **SPEC["analyses"]["dcdh"],
        "bstrap": True,
        "reps": 60,
        "seed": 7,
    }
    out = tmp_path / "report"
    study = run_study(s, out=out, base_dir=tmp_path)
    direct = pdid.dcdh(
        datasets.yrd(),
        y="gtfp_dose",
        unit="city",
        time="year",
        treatment="intensity_latent",
        window=(-3, 5),
        cluster="city",
        bstrap=True,
        reps=60,
        seed=7,
    )
    got = pl.read_csv(out / "results" / "dcdh.csv")
    assert got["term"].to_list() == direct.tidy()["term"].to_list()
    _close(got["estimate"], direct.tidy()["estimate"])
    _close(got["std_error"], direct.tidy()["std_error"])
    ifse = pdid.dcdh(
        datasets.yrd(),
        y="gtfp_dose",
        unit="city",
        time="year",
        treatment="intensity_latent",
        window=(-3, 5),
        cluster="city",
    )
    assert not np.allclose(got["std_error"], ifse.tidy()["std_error"])
    assert study.seeds["dcdh"] == 7

"""Own data (issue 15): a researcher's panel as it usually arrives, with string city ids,
units missing single years, missing outcomes and a 0/1 treatment column with staggered
adoption, run through every DID family with ``treatment=``.

Reference: the counts are made by the test itself from the frame it builds (rows with a
missing outcome, rows never created); estimates are checked for finiteness and, for did2s,
for exact equality between the 0/1-treatment call and the cohort call on the same data.
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

import pilotdid as pdid
from pilotdid._core import PilotdidError

N_CITIES = 30
YEARS = list(range(2005, 2017))
#: adoption years of the staggered rollout (0 = never treated); no city is treated in 2005
COHORTS = (0, 2009, 2011, 2013)
ESTIMATORS = ("twfe", "cs", "sa", "bjs", "did2s")


def own_panel(seed: int = 15, *, holes: bool = True) -> pl.DataFrame:
    """30 cities "city_00".."city_29" x 2005-2016, cohorts cycling through COHORTS; 12
    city-years never recorded (gaps: never a city's first or last year, nor its adoption
    year, where a 0/1 column could not tell when treatment started), 9 outcomes missing
    (NaN, on rows that exist, in years after 2007); a mediator ``m`` and the first-treated
    year ``g`` (0 = never) kept for the cohort call. ``holes=False``: the complete panel."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(N_CITIES):
        g = COHORTS[i % len(COHORTS)]
        alpha = rng.normal()
        for t in YEARS:
            d = int(g > 0 and t >= g)
            m = 0.5 * d + rng.normal(scale=0.5)
            y = alpha + 0.1 * (t - 2005) + 0.8 * d + 0.6 * m + rng.normal(scale=0.5)
            rows.append({"city": f"city_{i:02d}", "year": t, "treat": d, "g": g, "m": m, "y": y})
    df = pl.DataFrame(rows)
    if not holes:
        return df
    # gaps: 12 distinct cities each lose one interior year other than their adoption year
    gap_cities = rng.choice(N_CITIES, size=12, replace=False)
    gaps = set()
    for c in gap_cities:
        g = COHORTS[c % len(COHORTS)]
        year = int(rng.choice([t for t in YEARS[1:-1] if t != g]))
        gaps.add((f"city_{c:02d}", year))
    df = df.filter(
        ~pl.struct("city", "year").map_elements(
            lambda r: (r["city"], r["year"]) in gaps, return_dtype=pl.Boolean
        )
    )
    # missing outcomes on 9 other cities' rows, in years after 2007 (every treated city keeps
    # at least two untreated years with an outcome, so every treated row is imputable)
    nan_cities = [c for c in range(N_CITIES) if c not in set(gap_cities)][:9]
    nan_rows = {(f"city_{c:02d}", int(rng.integers(2008, 2017))) for c in nan_cities}
    df = df.with_columns(
        pl.when(
            pl.struct("city", "year").map_elements(
                lambda r: (r["city"], r["year"]) in nan_rows, return_dtype=pl.Boolean
            )
        )
        .then(None)
        .otherwise(pl.col("y"))
        .alias("y")
    )
    return df


@pytest.fixture(scope="module")
def panel() -> pl.DataFrame:
    return own_panel()


def n_missing_outcome(df: pl.DataFrame) -> int:
    """Independent count: rows whose outcome is missing."""
    return int(df.get_column("y").is_null().sum())


def test_the_panel_is_what_it_claims(panel):
    """The fixture itself: 12 gaps, 9 missing outcomes, string ids, an absorbing 0/1."""
    assert panel.height == N_CITIES * len(YEARS) - 12
    assert n_missing_outcome(panel) == 9
    assert panel.get_column("city").dtype == pl.String
    first = panel.group_by("city").agg(pl.col("year").min()).get_column("year")
    assert (first == YEARS[0]).all()
    assert (
        not panel.select(pl.col("treat").diff().over("city", order_by="year") < 0).to_series().any()
    )


def test_feols(panel):
    """TWFE DID on the 0/1 column: the missing outcomes are the dropped rows."""
    fit = pdid.feols("y ~ treat | city + year", panel)
    assert fit.dropped_rows["missing"] == n_missing_outcome(panel)
    assert fit.nobs == panel.height - n_missing_outcome(panel)
    assert np.isfinite(fit.coef()["treat"]) and np.isfinite(fit.se()["treat"])


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_every_event_study_takes_the_treatment(panel, estimator):
    """event_study(treatment=) for each estimator: cohorts derived for all 30 cities, the
    dropped rows are exactly the missing outcomes (gaps are not rows), estimates finite."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pdid.results.event_study.FewClustersWarning)
        res = pdid.event_study(
            panel, y="y", unit="city", time="year", treatment="treat", estimator=estimator
        )
    assert res.cohort_derived == N_CITIES
    assert res.dropped_rows["missing"] == n_missing_outcome(panel)
    assert sum(res.dropped_rows.values()) == n_missing_outcome(panel)
    assert np.all(np.isfinite(res.estimate)) and np.all(np.isfinite(res.std_error))


def test_treatment_and_cohort_calls_agree(panel):
    """did2s with treatment='treat' equals did2s with cohort='g' (the first treated year
    written by hand) bit for bit."""
    a = pdid.event_study(
        panel, y="y", unit="city", time="year", treatment="treat", estimator="did2s"
    )
    b = pdid.event_study(panel, y="y", unit="city", time="year", cohort="g", estimator="did2s")
    assert np.array_equal(a.event_time, b.event_time)
    assert np.array_equal(a.estimate, b.estimate) and np.array_equal(a.std_error, b.std_error)
    assert a.dropped_rows == b.dropped_rows and b.cohort_derived == 0


def test_att_gt_and_aggte(panel):
    """Callaway & Sant'Anna with treatment=: dropped rows counted (missing outcomes; no city
    treated in the first year), carried to aggte; the overall ATT is finite."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pdid.results.event_study.FewClustersWarning)
        res = pdid.att_gt(panel, y="y", unit="city", time="year", treatment="treat")
    assert res.dropped_rows == {"missing": n_missing_outcome(panel), "already_treated": 0}
    agg = pdid.aggte(res, type="simple")
    assert agg.dropped_rows == res.dropped_rows
    assert np.isfinite(agg.overall_att) and np.isfinite(agg.overall_se)


def test_cs_pretest_warns_with_few_clusters():
    """30 cities, 15 pre-period ATT(g,t) (complete panel; with the holes the pre-test's
    covariance is singular and there is no test): more than 30/3 restrictions, so the
    pre-test warns (FewClustersWarning) and says so in summary()."""
    full = own_panel(holes=False)
    with pytest.warns(pdid.results.event_study.FewClustersWarning, match="30 clusters"):
        res = pdid.att_gt(full, y="y", unit="city", time="year", treatment="treat")
    assert res.pretest[2] > 10
    assert "Warning: Wald pre-test of parallel trends" in res.summary()


def test_placebo(panel):
    """Placebo on the TWFE fit: the sample is the fit's (missing outcomes out), the
    replicates are finite and p = (1 + k) / (1 + R)."""
    fit = pdid.feols("y ~ treat | city + year", panel)
    res = pdid.placebo(fit, data=panel, reps=199, seed=3)
    assert res.nobs == panel.height - n_missing_outcome(panel)
    assert res.n_valid == 199 and np.all(np.isfinite(res.estimates))
    k = int(np.sum(np.abs(res.estimates) >= abs(res.actual)))
    assert res.p_value_ri == (1 + k) / 200


def test_mediation(panel):
    """Three-step mediation on the 0/1 treatment: the missing outcomes are dropped rows."""
    res = pdid.mediation(
        panel, y="y", treatment="treat", mediators="m", fixef="city + year", reps=99, seed=1
    )
    assert sum(res.dropped_rows.values()) == n_missing_outcome(panel)
    assert np.all(np.isfinite(list(res.coef().values())))
    assert np.isfinite(res.table.get_column("indirect")[0])


def test_mechanism_effects_with_a_robust_estimator(panel):
    """Two-step mechanism effect by Callaway & Sant'Anna: cohorts from the 0/1 treatment."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pdid.results.event_study.FewClustersWarning)
        res = pdid.mechanism_effects(
            panel, treatment="treat", mediators="m", estimator="cs", unit="city", time="year"
        )
    assert np.isfinite(res.table.get_column("estimate")[0])


def test_errors_name_the_fix(panel):
    """A 0/1 column passed as cohort says to pass treatment=; a treatment that switches off
    names the units (count and ids) and what is supported."""
    with pytest.raises(PilotdidError, match="looks like a 0/1 treatment.*pass treatment='treat'"):
        pdid.event_study(panel, y="y", unit="city", time="year", cohort="treat", estimator="cs")
    off = panel.with_columns(
        pl.when(pl.col("city").is_in(["city_01", "city_02"]) & (pl.col("year") == 2016))
        .then(0)
        .otherwise(pl.col("treat"))
        .alias("treat")
    )
    with pytest.raises(PilotdidError, match=r"in 2 units: city_01, city_02 .*feols"):
        pdid.event_study(off, y="y", unit="city", time="year", treatment="treat", estimator="sa")


def test_gap_before_adoption_warns_and_names_the_unit():
    """A unit missing the year before its first observed treated year could have adopted
    earlier: the derived cohort is the first observed treated year and a warning names the
    unit (a gap elsewhere does not warn)."""
    full = own_panel(holes=False)
    # city_01 adopts in 2009 (COHORTS cycle); drop its 2008 row; city_02 loses 2006 only
    gappy = full.filter(
        ~((pl.col("city") == "city_01") & (pl.col("year") == 2008))
        & ~((pl.col("city") == "city_02") & (pl.col("year") == 2006))
    )
    with pytest.warns(
        UserWarning, match=r"uncertain for 1 unit: city_01 \(first observed treated in 2009\)"
    ):
        res = pdid.event_study(
            gappy, y="y", unit="city", time="year", treatment="treat", estimator="bjs"
        )
    ref = pdid.event_study(gappy, y="y", unit="city", time="year", cohort="g", estimator="bjs")
    assert np.array_equal(res.estimate, ref.estimate)


# --- the study runner on the same panel ---------------------------------------------------

OWN_SPEC = """
title = "own 30-city panel with gaps"
seed = 1
[data]
path = "panel.csv"
unit = "city"
time = "year"
[treatment]
column = "treat"
[model]
y = "y"
controls = ["x1"]
fixed_effects = ["city", "year"]
vcov = "CR1"
cluster = "city"
[analyses.baseline]
reps = 99
[analyses.event_study]
estimators = ["twfe", "cs", "sa", "bjs", "did2s"]
window = [-3, 3]
[analyses.placebo]
reps = 99
[analyses.mechanisms]
mediators = ["m"]
reps = 49
[analyses.moderation]
# a moderator with one level passes validation (the column exists and is numeric) and fails
# while running: the deliberately failing analysis
moderator = "const"
[analyses.spatial]
model = "sdm"
W = "knn"
k = 4
reps = 50
controls = ["x1"]
"""


def _own_study_folder(tmp_path, spec_text: str = OWN_SPEC):
    """The 30-city panel as CSV with coordinates, a control and a constant column, and a
    spec next to it."""
    df = own_panel()
    rng = np.random.default_rng(3)
    cities = sorted(df.get_column("city").unique().to_list())
    xy = pl.DataFrame(
        {
            "city": cities,
            "lat": 28 + 6 * rng.random(len(cities)),
            "lon": 116 + 6 * rng.random(len(cities)),
        }
    )
    df = df.join(xy, on="city").with_columns(
        pl.lit(1.0).alias("const"),
        (pl.col("m") * 2 + pl.Series(rng.normal(size=df.height))).alias("x1"),
    )
    df.write_csv(tmp_path / "panel.csv")
    (tmp_path / "study.toml").write_text(spec_text, encoding="utf-8")
    return tmp_path / "study.toml"


def test_validate_names_the_incomplete_units_for_the_spatial_model(tmp_path, capsys):
    """`pilotdid validate` checks what the spatial analysis needs: the panel with gaps is
    refused (exit 2) with how many units and which, and the option that drops them."""
    from pilotdid.cli import main

    spec = _own_study_folder(tmp_path)
    assert main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "21 of 30 units are incomplete" in err
    assert "12 miss periods" in err and "9 have a missing value" in err
    assert "city_00" in err and 'incomplete = "drop_units"' in err
    assert not (tmp_path / "pilotdid-report").exists()


def test_run_keeps_going_past_a_failed_analysis(tmp_path, capsys):
    """A failing analysis (moderation by a constant) gets a failed section naming it and its
    error; every other analysis is in the report; exit status 1. --strict writes nothing."""
    import json

    from pilotdid.cli import main

    spec = _own_study_folder(
        tmp_path,
        OWN_SPEC.replace("[analyses.spatial]", '[analyses.spatial]\nincomplete = "drop_units"'),
    )
    assert main(["validate", str(spec)]) == 0
    out = tmp_path / "report"
    assert main(["run", str(spec), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "[analyses.moderation] failed: column 'const'" in err
    page = (out / "index.html").read_text(encoding="utf-8")
    assert 'data-failed="moderation"' in page and "single level" in page
    assert 'id="failed-analyses"' in page
    for name, table in (
        ("baseline", "baseline"),
        ("event_study", "event_study"),
        ("placebo", "placebo_summary"),
        ("mechanisms", "mechanisms"),
        ("spatial", "spatial"),
    ):
        assert f'<section id="{name}">' in page
        assert (out / "tables" / f"{table}.tex").exists()
    assert not (out / "tables" / "moderation.tex").exists()
    # the spatial note counts and names the units dropped for the balanced panel
    assert "incomplete = &quot;drop_units&quot;: 21 units dropped (city_00" in page
    assert "LR 95% interval for rho" in page
    assert not (out / "figures" / "moderation.png").exists()
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert list(prov["analyses_failed"]) == ["moderation"]
    assert "moderation" not in prov["analyses_run"] and "baseline" in prov["analyses_run"]

    strict_out = tmp_path / "strict"
    assert main(["run", str(spec), "--out", str(strict_out), "--quiet", "--strict"]) == 1
    assert "--strict: nothing was written" in capsys.readouterr().err
    assert not strict_out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["panel.csv", "report", "study.toml"]


def test_run_study_warns_and_keeps_the_error():
    """The Python API: run_study returns the study with .failures and a StudyWarning."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        spec = _own_study_folder(
            Path(d),
            OWN_SPEC.replace("[analyses.spatial]", '[analyses.spatial]\nincomplete = "drop_units"'),
        )
        with pytest.warns(pdid.StudyWarning, match=r"1 analysis failed: \[analyses.moderation\]"):
            study = pdid.run_study(spec)
    assert list(study.failures) == ["moderation"]
    assert "moderation" not in study.results and "moderation" not in study.tables
    assert "baseline_model" in study.results
    with pytest.raises(pdid.StudyError, match=r"\[analyses.moderation\] failed"):
        with tempfile.TemporaryDirectory() as d:
            spec = _own_study_folder(
                Path(d),
                OWN_SPEC.replace(
                    "[analyses.spatial]", '[analyses.spatial]\nincomplete = "drop_units"'
                ),
            )
            pdid.run_study(spec, strict=True)


def test_sdm_drops_incomplete_units_and_counts_them(panel):
    """SDM with incomplete="drop_units" on the panel with gaps: exactly the units with a
    missing year or a missing outcome are dropped (counted here independently), with all
    their rows; W is subset to the others and row-standardised again."""
    from pilotdid import weights

    rng = np.random.default_rng(3)
    cities = sorted(panel.get_column("city").unique().to_list())
    lat, lon = 28 + 6 * rng.random(len(cities)), 116 + 6 * rng.random(len(cities))
    W = weights.knn(lat, lon, k=4, ids=cities)
    counts = panel.group_by("city").agg(
        pl.len().alias("n"), pl.col("y").is_null().sum().alias("na")
    )
    bad = counts.filter((pl.col("n") < len(YEARS)) | (pl.col("na") > 0)).get_column("city")
    expected_units = sorted(bad.to_list())
    expected_rows = panel.filter(pl.col("city").is_in(expected_units)).height
    with pytest.raises(PilotdidError, match=r"incomplete='drop_units'|incomplete=\"drop_units\""):
        pdid.sdm("y ~ treat", panel, W=W, unit="city", time="year")
    fit = pdid.sdm("y ~ treat", panel, W=W, unit="city", time="year", incomplete="drop_units")
    assert sorted(fit.dropped_units) == expected_units
    assert sum(fit.dropped_rows.values()) == expected_rows
    assert fit.nobs == (len(cities) - len(expected_units)) * len(YEARS)
    assert np.isfinite(fit.coef()["treat"]) and fit.effects == "twoways" and fit.lee_yu

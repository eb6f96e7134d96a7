"""[analyses.spatial] in the study spec: GNS and time-space dynamic SDM / SAR models (``model``,
``dlag``, ``compare``), their validation, and the report's numbers.

References: the public API called directly with the spec's arguments on ``datasets.yrd()``
(:func:`pilotdid.sdm`, :func:`pilotdid.sar` with ``dlag=``, :func:`pilotdid.gns`, and their
``impacts(horizon=, reps=, seed=)``): every report CSV equals the direct call to 1e-12
(relative). The models themselves are checked against their references in
``tests/test_gns.py`` and ``tests/test_spatial_dynamic.py``.
"""

from __future__ import annotations

import copy
import json
import warnings

import numpy as np
import polars as pl
import pytest

import pilotdid as pdid
from pilotdid import datasets
from pilotdid.cli import bundled_spec
from pilotdid.study.data import resolve_spec
from pilotdid.study.errors import SpecError
from pilotdid.study.run import run_study
from pilotdid.study.spec import load_spec

SPEC = load_spec(bundled_spec())
FML = "gtfp ~ did + ln_gdp_pc + urbanization"
REPS = 200  # effect draws in these tests (the bundled spec has 1000)


def _spatial_only(**spatial) -> dict:
    """The bundled spec with only [analyses.spatial] (its keys updated by ``spatial``; a value
    None deletes the key)."""
    s = copy.deepcopy(SPEC)
    sub = {**s["analyses"]["spatial"], "reps": REPS}
    for k, v in spatial.items():
        if v is None:
            sub.pop(k, None)
        else:
            sub[k] = v
    s["analyses"] = {"spatial": sub}
    return s


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-12, atol=0)


def _W():
    cities = datasets.yrd_cities()
    return pdid.weights.inverse_distance(cities["lat"], cities["lon"], ids=cities["city_en"])


def _direct(fn, **kw):
    # the fits warn (weak identification; GNS lambda at its bound) as the study's notes record
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(FML, datasets.yrd(), W=_W(), unit="city", time="year", effects="twoways", **kw)


def _same_frame(got: pl.DataFrame, want: pl.DataFrame) -> None:
    """A CSV read back equals a tidy frame: the same labels, the numbers to 1e-12."""
    assert got.columns == want.columns
    for col in want.columns:
        if want.schema[col] == pl.String:
            assert got[col].to_list() == want[col].to_list()
        else:
            _close(got[col], want[col])


# ------------------------------------------------------------------------------------------
# validation: each error names the key and the allowed values; nothing is written
# ------------------------------------------------------------------------------------------
CASES = [
    ({"model": "sem"}, "[analyses.spatial] model: 'sem' is not one of sdm, sar, gns"),
    (
        {"dlag": 4},
        "[analyses.spatial] dlag: 4 is not one of 0 (static), 1 or 'time' (y(t-1)), 2 or "
        "'spacetime' (W y(t-1)), 3 or 'both'",
    ),
    ({"dlag": True}, "[analyses.spatial] dlag: True is not one of 0 (static)"),
    ({"dlag": "lag"}, "[analyses.spatial] dlag: 'lag' is not one of 0 (static)"),
    (
        {"model": "gns", "dlag": 1},
        "[analyses.spatial] dlag: model = 'gns' has no dynamic form (dlag = 1); a dynamic "
        "model is a 'sdm' or 'sar'",
    ),
    (
        {"dlag": "time", "effects": "time"},
        "[analyses.spatial] dlag: a dynamic model (dlag = 'time') needs unit effects: "
        "[analyses.spatial] effects = 'twoways' (Lee & Yu 2010) or 'individual' (Yu, de Jong & "
        "Lee 2008), not 'time'",
    ),
    ({"compare": {"model": "gns"}}, "[analyses.spatial] compare: expected a list of tables"),
    (
        {"compare": [{"modle": "gns"}]},
        "unknown key 'modle' in [analyses.spatial.compare[0]]; did you mean 'model'? "
        "(allowed: model, dlag, label)",
    ),
    ({"compare": [{"dlag": 1}]}, "[analyses.spatial.compare[0]] model: required: one of sdm"),
    (
        {"compare": [{"model": "sac"}]},
        "[analyses.spatial.compare[0]] model: 'sac' is not one of sdm, sar, gns",
    ),
    (
        {"compare": [{"model": "gns", "dlag": 2}]},
        "[analyses.spatial.compare[0]] dlag: model = 'gns' has no dynamic form",
    ),
    (
        {"compare": [{"model": "gns"}, {"model": "sdm"}]},
        "[analyses.spatial.compare[1]] model/dlag: model = 'sdm', dlag = 0 is already fitted "
        "as the main model",
    ),
    (
        {"compare": [{"model": "sdm", "dlag": 1}, {"model": "sdm", "dlag": "time"}]},
        "[analyses.spatial.compare[1]] model/dlag: model = 'sdm', dlag = 1 is already fitted "
        "as compare[0]",
    ),
    (
        {"compare": [{"model": "gns", "label": "SDM"}]},
        "[analyses.spatial.compare[0]] label: 'SDM' is already the title of another model",
    ),
    (
        {"effects": "none", "compare": [{"model": "sar", "dlag": 1}]},
        "[analyses.spatial.compare[0]] dlag: a dynamic model (dlag = 1) needs unit effects",
    ),
]


@pytest.mark.parametrize("changes,message", CASES)
def test_spatial_spec_errors_name_the_key_and_write_nothing(tmp_path, changes, message):
    """Each invalid [analyses.spatial] stops before anything runs with a message naming the
    key, the value and what is allowed; the report folder is never created."""
    out = tmp_path / "report"
    with pytest.raises(SpecError) as e:
        run_study(_spatial_only(**changes), out=out, base_dir=tmp_path)
    assert message in str(e.value)
    assert list(tmp_path.iterdir()) == []


def test_dynamic_model_needs_three_periods(tmp_path):
    """A dynamic model on a two-year panel is refused by validation (the lag uses one period
    and the fixed effects two more), naming the key and the number of periods."""
    panel = datasets.yrd().filter(pl.col("year").is_between(2013, 2014))
    panel.drop("cohort", "treat", "post", "event_time").write_csv(tmp_path / "panel.csv")
    s = _spatial_only(dlag=1, compare=None)
    s["data"] = {"path": "panel.csv", "unit": "city", "time": "year"}
    s.pop("gtfp")
    s["treatment"] = {"column": "did"}
    with pytest.raises(SpecError, match=r"\[analyses.spatial\] in .*: dlag: a dynamic spatial "):
        resolve_spec(s, base_dir=tmp_path)
    s = _spatial_only(compare=[{"model": "sar", "dlag": 2}])
    s["data"] = {"path": "panel.csv", "unit": "city", "time": "year"}
    s.pop("gtfp")
    s["treatment"] = {"column": "did"}
    with pytest.raises(SpecError, match=r"compare\[\.\.\.\] dlag: .* the data have 2"):
        resolve_spec(s, base_dir=tmp_path)


def test_resolved_spec_holds_the_model_keys():
    """Defaults: a static model (dlag 0) and no compared models; xsmle's dlag names resolve to
    their codes and compared models get their column titles (recorded in provenance)."""
    r = resolve_spec(_spatial_only(compare=None))["analyses"]["spatial"]
    assert (r["model"], r["dlag"], r["compare"]) == ("sdm", 0, [])
    r = resolve_spec(
        _spatial_only(
            model="sar",
            dlag="both",
            compare=[{"model": "gns"}, {"model": "sdm", "dlag": "spacetime", "label": "DSDM"}],
        )
    )["analyses"]["spatial"]
    assert (r["model"], r["dlag"]) == ("sar", 3)
    assert r["compare"] == [
        {"model": "gns", "dlag": 0, "label": "GNS"},
        {"model": "sdm", "dlag": 2, "label": "DSDM"},
    ]


# ------------------------------------------------------------------------------------------
# the report's numbers are the direct calls'
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """The bundled [analyses.spatial] (SDM, with a GNS and a dynamic SDM beside it)."""
    out = tmp_path_factory.mktemp("spatial") / "report"
    study = run_study(_spatial_only(), out=out)
    return study, out


def test_bundled_spatial_keys_are_a_gns_and_a_dynamic_sdm():
    """The bundled spec asks for both models (the notebook and the README describe them)."""
    sub = SPEC["analyses"]["spatial"]
    assert sub["compare"] == [{"model": "gns"}, {"model": "sdm", "dlag": 1}]


def test_compared_models_equal_direct_calls(compared):
    """spatial_compare.csv, spatial_compare_impacts.csv and spatial_dynamic_impacts.csv equal
    pdid.gns / pdid.sdm(dlag=1) and their impacts (short and long run) with the spec's reps
    and seed; the main SDM's frames are unchanged by the compared models."""
    study, out = compared
    res = out / "results"
    seed = SPEC["seed"]
    sdm = _direct(pdid.sdm, lee_yu=True)
    gns = _direct(pdid.gns, lee_yu=True)
    dyn = _direct(pdid.sdm, dlag=1)

    _same_frame(pl.read_csv(res / "spatial.csv"), sdm.tidy())
    _same_frame(pl.read_csv(res / "spatial_impacts.csv"), sdm.impacts(reps=REPS, seed=seed).tidy())
    want = pl.concat(
        [
            gns.tidy().select(pl.lit("GNS").alias("model"), pl.all()),
            dyn.tidy().select(pl.lit("Dynamic SDM").alias("model"), pl.all()),
        ]
    )
    _same_frame(pl.read_csv(res / "spatial_compare.csv"), want)
    want = gns.impacts(reps=REPS, seed=seed).tidy().select(pl.lit("GNS").alias("model"), pl.all())
    _same_frame(pl.read_csv(res / "spatial_compare_impacts.csv"), want)
    want = pl.concat(
        [
            dyn.impacts(horizon=h, reps=REPS, seed=seed)
            .tidy()
            .select(pl.lit("Dynamic SDM").alias("model"), pl.lit(h).alias("horizon"), pl.all())
            for h in ("short", "long")
        ]
    )
    got = pl.read_csv(res / "spatial_dynamic_impacts.csv")
    _same_frame(got, want)
    # the long run is not the short run: tau = 0.42 on this panel scales it by about 1/(1-tau)
    d = got.filter((pl.col("effect") == "direct") & (pl.col("term") == "did"))
    assert d["horizon"].to_list() == ["short", "long"]
    assert d["estimate"][1] > 1.5 * d["estimate"][0]
    assert study.seeds == {"spatial.impacts": seed}


def test_compared_models_share_one_table_and_the_report_shows_both_horizons(compared):
    """tables/spatial: one column per model (SDM, GNS, Dynamic SDM), with the lagged outcome's
    row and the fits' own numbers and observation counts; tables/spatial_dynamic_impacts: the
    short- and long-run effects of the frame, formatted as the effects table."""
    study, out = compared
    md = (out / "tables" / "spatial.md").read_text(encoding="utf-8")
    assert "| SDM | GNS | Dynamic SDM |" in md
    dyn = study.results["spatial"]["fits"]["Dynamic SDM"]
    gns = study.results["spatial"]["fits"]["GNS"]
    row = next(line for line in md.splitlines() if line.startswith("| Green TFP (t-1) |"))
    assert row == f"| Green TFP (t-1) |  |  | {dyn.coef()['tau']:.3f}*** |"
    lam = next(line for line in md.splitlines() if line.startswith("| λ |"))
    assert lam == f"| λ |  | {gns.coef()['lambda']:.3f} |  |"
    assert "| Observations | 656 | 656 | 615 |" in md
    assert "Gibbons & Overman 2012" in md and "Lee & Yu 2010" in md
    eff = (out / "tables" / "spatial_dynamic_impacts.md").read_text(encoding="utf-8")
    frame = study.frames["spatial_dynamic_impacts"].filter(
        (pl.col("term") == "did") & (pl.col("effect") == "direct")
    )
    for horizon, value in zip(frame["horizon"], frame["estimate"]):
        line = next(x for x in eff.splitlines() if f"(DID), {horizon} run |" in x)
        assert line.split("|")[2].strip().rstrip("*") == f"{value:.3f}"
    page = (out / "index.html").read_text(encoding="utf-8")
    assert 'data-table="spatial_dynamic_impacts"' in page
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert prov["resolved_spec"]["analyses"]["spatial"]["compare"][1] == {
        "model": "sdm",
        "dlag": 1,
        "label": "Dynamic SDM",
    }


def test_dynamic_main_model_equals_direct_call(tmp_path):
    """model = "sar", dlag = "both" (xsmle's dlag(3)) with individual effects as the main model:
    spatial.csv is pdid.sar(dlag=3).tidy(), spatial_impacts.csv its short-run effects (the
    figure's), spatial_dynamic_impacts.csv both horizons; the table titles the model."""
    out = tmp_path / "report"
    study = run_study(
        _spatial_only(model="sar", dlag="both", effects="individual", compare=None), out=out
    )
    res = out / "results"
    fit = pdid.sar(
        FML, datasets.yrd(), W=_W(), unit="city", time="year", effects="individual", dlag=3
    )
    seed = SPEC["seed"]
    _same_frame(pl.read_csv(res / "spatial.csv"), fit.tidy())
    short = fit.impacts(horizon="short", reps=REPS, seed=seed).tidy()
    _same_frame(pl.read_csv(res / "spatial_impacts.csv"), short)
    got = pl.read_csv(res / "spatial_dynamic_impacts.csv")
    assert got["model"].unique().to_list() == ["Dynamic SAR (y(t-1), W y(t-1))"]
    long = fit.impacts(horizon="long", reps=REPS, seed=seed).tidy()
    _close(got.filter(pl.col("horizon") == "long")["estimate"], long["estimate"])
    _close(got.filter(pl.col("horizon") == "long")["std_error"], long["std_error"])
    assert not (res / "spatial_compare.csv").exists()
    md = (out / "tables" / "spatial.md").read_text(encoding="utf-8")
    assert "Time-space dynamic spatial model (Dynamic SAR (y(t-1), W y(t-1)))" in md
    assert "Yu, de Jong & Lee 2008" in md
    assert study.figures["spatial"] is not None


def test_chinese_report_titles_the_models_and_horizons(tmp_path):
    """[report] lang = "zh": the compared models' table and the short-/long-run effects table
    carry Chinese titles and row words; the numbers are those of the English run's frames."""
    s = _spatial_only(compare=[{"model": "sdm", "dlag": 1}])
    s["report"] = {**s["report"], "lang": "zh"}
    out = tmp_path / "report"
    study = run_study(s, out=out)
    md = (out / "tables" / "spatial.md").read_text(encoding="utf-8")
    assert "空间面板模型" in md and "| SDM | 动态SDM |" in md
    eff = (out / "tables" / "spatial_dynamic_impacts.md").read_text(encoding="utf-8")
    assert "动态空间模型的短期与长期效应" in eff and "短期" in eff and "长期" in eff
    dyn = _direct(pdid.sdm, dlag=1)
    want = dyn.impacts(horizon="long", reps=REPS, seed=SPEC["seed"]).tidy()
    got = study.frames["spatial_dynamic_impacts"].filter(pl.col("horizon") == "long")
    _close(got["estimate"], want["estimate"])


def test_non_stationary_dynamic_fit_reports_no_long_run(monkeypatch):
    """A dynamic estimate with spectral radius >= 1 has no long-run effects (the long-run
    multiplier ((1 - tau) I - (rho + eta) W)^-1 does not exist as a limit): the study keeps the
    short run, leaves out the long run and says why in the notes and the table note."""
    from pilotdid.results.spatial_dynamic import DynamicSpatialResult

    monkeypatch.setattr(DynamicSpatialResult, "spectral_radius", property(lambda self: 1.25))
    study = run_study(_spatial_only(compare=[{"model": "sdm", "dlag": 1}]))
    got = study.frames["spatial_dynamic_impacts"]
    assert got["horizon"].unique().to_list() == ["short"]
    assert (
        "Dynamic SDM: no long-run effects, the estimate is not stationary (spectral radius "
        "1.2500 >= 1)" in study.notes["spatial"]
    )
    assert "NOT stationary (spectral radius 1.250)" in study.tables["spatial"].to_markdown()

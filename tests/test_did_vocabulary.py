"""The one vocabulary and result protocol of the staggered-DID family (issue 14).

References: identities only. Old spellings raise TypeError naming the new one; R did's names
are aliases of att_gt/aggte giving bit-identical numbers; a 0/1 treatment gives the same fit as
the cohort derived from it; bad option values raise PilotdidError naming the option before any
work; every result class answers the protocol (coef/se/pvalue, confint/tidy, summary, repr).
"""

from __future__ import annotations

import time

import numpy as np
import polars as pl
import pytest

import pilotdid as pdid
from pilotdid import (
    PilotdidError,
    aggte,
    att_gt,
    bacon,
    did2s,
    event_study,
    imputation,
    sunab,
    twfe_event_study,
)
from pilotdid.results._protocol import TIDY_COLUMNS

MP = dict(y="lemp", time="year", unit="countyreal")


@pytest.fixture(scope="module")
def mp(mpdta) -> pl.DataFrame:
    """mpdta (R did) with a 0/1 treatment column d = 1{year >= first.treat > 0}."""
    d = pl.from_dict({c: mpdta[c].to_numpy() for c in mpdta.columns})
    g = pl.col("first.treat")
    return d.with_columns(((pl.col("year") >= g) & (g > 0)).cast(pl.Int64).alias("d"))


@pytest.fixture(scope="module")
def cs(mp):
    return att_gt(mp, **MP, cohort="first.treat")


# ------------------------------------------------------------------------ (a) old spellings
@pytest.mark.parametrize(
    ("fn", "old", "new"),
    [
        (twfe_event_study, "yname", "y"),
        (twfe_event_study, "tname", "time"),
        (imputation, "idname", "unit"),
        (did2s, "gname", "cohort"),
        (event_study, "idname", "unit"),
        (sunab, "control", "control_group"),
        (sunab, "bin", "bin_lo"),
        (sunab, "gname", "cohort"),
        (bacon, "treat", "treatment"),
        (bacon, "formula", "fml"),
        (bacon, "yname", "y"),
    ],
)
def test_old_keyword_raises_naming_new(mp, fn, old, new):
    with pytest.raises(TypeError, match=f"'{old}' is now called '{new}"):
        fn(mp, **{old: "x"})


@pytest.mark.parametrize("fn", [att_gt, twfe_event_study, imputation, did2s, sunab, event_study])
def test_old_positional_order_fails_loudly(mp, fn):
    """(data, yname, tname, idname, gname) positionally is refused, never reinterpreted."""
    with pytest.raises(TypeError, match="keyword-only"):
        fn(mp, "lemp", "year", "countyreal", "first.treat")


def test_bacon_formula_first_is_refused(castle):
    with pytest.raises(TypeError, match="fml="):
        bacon("l_homicide ~ post", unit="sid", time="year")


def test_r_did_aliases_give_identical_numbers(mp, cs):
    """yname/tname/idname/gname/alp/control_group='nevertreated' = the package's names."""
    r = att_gt(
        mp,
        yname="lemp",
        tname="year",
        idname="countyreal",
        gname="first.treat",
        control_group="nevertreated",
        alp=0.05,
    )
    assert r.tidy().equals(cs.tidy())
    assert r.crit_val == cs.crit_val
    assert r.params["alp"] == 0.05 and cs.params["alp"] == 0.05  # level 0.95 -> exactly 0.05
    a = aggte(r, type="group", alp=0.1)
    b = aggte(cs, type="group", level=0.9)
    assert a.tidy().equals(b.tidy()) and a.alp == b.alp == 0.1


def test_r_did_xformla_and_bootstrap_aliases(mp):
    a = att_gt(mp, **MP, cohort="first.treat", xformla="~ lpop", bstrap=True, biters=99)
    b = att_gt(mp, **MP, cohort="first.treat", controls=["lpop"], bstrap=True, reps=99)
    assert a.tidy().equals(b.tidy())


def test_alias_and_canonical_together_raise(mp):
    with pytest.raises(TypeError, match="'yname' and 'y'"):
        att_gt(mp, **MP, yname="lemp", cohort="first.treat")
    with pytest.raises(TypeError, match="'biters' and 'reps'"):
        att_gt(mp, **MP, cohort="first.treat", reps=10, biters=10)


def test_default_seed_is_zero(mp):
    """seed defaults to 0 (was OS entropy): the bootstrap is reproducible without a seed."""
    kw = dict(**MP, cohort="first.treat", bstrap=True, reps=99)
    a = att_gt(mp, **kw)
    b = att_gt(mp, **kw, seed=0)
    assert a.params["seed"] == 0
    assert a.tidy().equals(b.tidy())
    assert aggte(a, type="dynamic").tidy().equals(aggte(b, type="dynamic", seed=0).tidy())


# ------------------------------------------------------------------------ cohort or treatment
def test_att_gt_treatment_gives_the_cohort_fit(mp, cs):
    r = att_gt(mp, **MP, treatment="d")
    assert r.cohort_derived == 500 and cs.cohort_derived == 0
    assert r.tidy().equals(cs.tidy())
    a = aggte(r, type="dynamic")
    assert a.cohort_derived == 500
    assert "derived" in r.summary()


@pytest.mark.parametrize("estimator", ["twfe", "did2s", "bjs", "sa", "cs"])
def test_event_study_treatment_gives_the_cohort_fit(mp, estimator):
    a = event_study(mp, **MP, cohort="first.treat", estimator=estimator)
    b = event_study(mp, **MP, treatment="d", estimator=estimator)
    np.testing.assert_array_equal(a.estimate, b.estimate)
    np.testing.assert_array_equal(a.std_error, b.std_error)
    assert b.cohort_derived == 500 and a.cohort_derived == 0


def test_cohort_and_treatment_errors(mp):
    with pytest.raises(PilotdidError, match="'cohort' and 'treatment'"):
        att_gt(mp, **MP, cohort="first.treat", treatment="d")
    with pytest.raises(PilotdidError, match="'cohort' and 'treatment'"):
        twfe_event_study(mp, **MP)
    off = mp.with_columns(
        pl.when((pl.col("countyreal") == 17005) & (pl.col("year") == 2006))
        .then(0)
        .otherwise(pl.col("d"))
        .alias("d")
    )
    with pytest.raises(PilotdidError, match="unit '17005' at time 2006"):
        att_gt(off, **MP, treatment="d")
    with pytest.raises(PilotdidError, match="'treatment'"):
        sunab(mp.with_columns(pl.col("d") * 2), **MP, treatment="d")


# ------------------------------------------------------------------------ (b) bad values
def test_aggte_negative_alp_is_a_clear_error(cs):
    with pytest.raises(PilotdidError, match="'alp'"):
        aggte(cs, alp=-0.5)
    with pytest.raises(PilotdidError, match="'level'"):
        aggte(cs, level=float("nan"))


def test_absurd_bootstrap_draws_refused_up_front(mp, cs, monkeypatch):
    boot = att_gt(mp, **MP, cohort="first.treat", bstrap=True, reps=9)
    start = time.perf_counter()
    with pytest.raises(PilotdidError, match="'reps'"):
        aggte(boot, bstrap=True, biters=2**63)
    with pytest.raises(PilotdidError, match="'reps'.*out of range"):
        att_gt(mp, **MP, cohort="first.treat", bstrap=True, biters=2**63)
    # within MAX_REPS but beyond memory: 10**7 draws x 12 cells x 8 bytes = 0.96 GB
    monkeypatch.setattr("pilotdid._args.available_memory", lambda: 10**9)
    with pytest.raises(PilotdidError, match="'reps'.*memory"):
        att_gt(mp, **MP, cohort="first.treat", bstrap=True, reps=10**7)
    with pytest.raises(PilotdidError, match="'reps'.*memory"):
        aggte(boot, reps=10**7)
    with pytest.raises(PilotdidError, match="'reps'"):
        att_gt(mp, **MP, cohort="first.treat", bstrap=True, reps=1.5)
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(level=1.5), "level"),
        (dict(level=float("nan")), "level"),
        (dict(seed=-1), "seed"),
        (dict(seed=None), "seed"),
        (dict(anticipation=-1), "anticipation"),
        (dict(anticipation=0.5), "anticipation"),
        (dict(control_group="last"), "control_group"),
        (dict(est_method="ols"), "est_method"),
        (dict(bstrap="yes"), "bstrap"),
        (dict(controls=3), "controls"),
    ],
)
def test_att_gt_bad_values_name_the_option(mp, kwargs, name):
    with pytest.raises(PilotdidError, match=f"'{name}'"):
        att_gt(mp, **MP, cohort="first.treat", **kwargs)


@pytest.mark.parametrize("estimator", ["twfe", "did2s", "sa", "cs", "bjs"])
def test_fractional_window_refused(mp, estimator):
    with pytest.raises(PilotdidError, match="window"):
        event_study(mp, **MP, cohort="first.treat", estimator=estimator, window=(1.5, 2))
    with pytest.raises(PilotdidError, match="window"):
        event_study(mp, **MP, cohort="first.treat", estimator=estimator, window=(2, -2))


@pytest.mark.parametrize("estimator", ["twfe", "did2s", "sa"])
def test_reference_outside_the_data_raises(mp, estimator):
    with pytest.raises(PilotdidError, match="'ref_period': -99"):
        event_study(mp, **MP, cohort="first.treat", estimator=estimator, ref_period=-99)


@pytest.mark.parametrize("estimator", ["cs", "bjs"])
def test_reference_for_estimators_without_one_raises(mp, estimator):
    with pytest.raises(PilotdidError, match="'ref_period'.*" + estimator):
        event_study(mp, **MP, cohort="first.treat", estimator=estimator, ref_period=-1)


def test_unknown_estimator_option_is_a_type_error(mp):
    with pytest.raises(TypeError, match="estimator='twfe'.*'horizons'.*bin_lo"):
        event_study(mp, **MP, cohort="first.treat", estimator="twfe", horizons=[0])
    with pytest.raises(TypeError, match="estimator='cs'.*'bin'"):
        event_study(mp, **MP, cohort="first.treat", estimator="cs", bin=(0, 1))


def test_cs_vcov_and_cluster(mp):
    """CS: vcov other than a cluster is refused naming vcov and cs; cluster= is att_gt's."""
    with pytest.raises(PilotdidError, match="'vcov'.*'cs'"):
        event_study(mp, **MP, cohort="first.treat", estimator="cs", vcov="iid")
    d = mp.with_columns((pl.col("countyreal") // 1000).alias("state"))
    a = event_study(
        d, **MP, cohort="first.treat", estimator="cs", cluster="state", bstrap=True, reps=99
    )
    b = aggte(
        att_gt(d, **MP, cohort="first.treat", cluster="state", bstrap=True, reps=99),
        type="dynamic",
    ).to_event_study()
    np.testing.assert_array_equal(a.std_error, b.std_error)
    c = event_study(
        d,
        **MP,
        cohort="first.treat",
        estimator="cs",
        vcov={"CR1": "state"},
        bstrap=True,
        reps=99,
    )
    np.testing.assert_array_equal(a.std_error, c.std_error)


def test_vcov_and_cluster_together_raise(mp):
    with pytest.raises(PilotdidError, match="'vcov' and 'cluster'"):
        twfe_event_study(mp, **MP, cohort="first.treat", vcov="iid", cluster="countyreal")


def test_cluster_shortcut_equals_vcov_dict(mp):
    d = mp.with_columns((pl.col("countyreal") // 1000).alias("state"))
    for fn in (twfe_event_study, did2s, imputation, sunab):
        a = fn(d, **MP, cohort="first.treat", cluster="state")
        b = fn(d, **MP, cohort="first.treat", vcov={"CR1": "state"})
        assert a.tidy().equals(b.tidy())


def test_sunab_one_sided_binning_matches_twfe_option_names(mp):
    """bin_lo alone bins the leads only; (bin_lo, bin_hi) equals the old bin=(lo, hi)."""
    a = sunab(mp, **MP, cohort="first.treat", bin_lo=-2)
    assert min(a.event_time) == -2 and max(a.event_time) == 3
    with pytest.raises(PilotdidError, match="'bin_hi'"):
        sunab(mp, **MP, cohort="first.treat", bin_hi=-1)


# ------------------------------------------------------------------------ (c) the protocol
def _results(mp, castle):
    sa = sunab(mp, **MP, cohort="first.treat")
    return {
        "AttGtResult": att_gt(mp, **MP, cohort="first.treat"),
        "AggteResult simple": aggte(att_gt(mp, **MP, cohort="first.treat"), type="simple"),
        "AggteResult dynamic": aggte(att_gt(mp, **MP, cohort="first.treat"), type="dynamic"),
        "EventStudyResult twfe": twfe_event_study(mp, **MP, cohort="first.treat"),
        "EventStudyResult did2s": did2s(mp, **MP, cohort="first.treat"),
        "EventStudyResult bjs": imputation(mp, **MP, cohort="first.treat", pretrends=True),
        "EventStudyResult cs": event_study(mp, **MP, cohort="first.treat", estimator="cs"),
        "EventStudyResult sa": sa.to_event_study(),
        "SunAbrahamResult": sa,
        "BaconResult": bacon(castle, y="l_homicide", treatment="post", unit="sid", time="year"),
    }


@pytest.fixture(scope="module")
def results(mp, castle):
    return _results(mp, castle)


@pytest.mark.parametrize(
    "name",
    [
        "AttGtResult",
        "AggteResult simple",
        "AggteResult dynamic",
        "EventStudyResult twfe",
        "EventStudyResult did2s",
        "EventStudyResult bjs",
        "EventStudyResult cs",
        "EventStudyResult sa",
        "SunAbrahamResult",
        "BaconResult",
    ],
)
def test_result_protocol(results, name, capsys):
    res = results[name]
    t = res.tidy()
    assert isinstance(t, pl.DataFrame) and t.columns[: len(TIDY_COLUMNS)] == list(TIDY_COLUMNS)
    assert t.height > 0
    coef, se, p = res.coef(), res.se(), res.pvalue()
    assert list(coef) == t["term"].to_list() == list(se) == list(p)
    assert all(isinstance(k, str) for k in coef)
    ci = res.confint(level=0.9)
    assert ci.columns == ["term", "conf_low", "conf_high"]
    pdf = res.tidy(as_pandas=True)
    assert list(pdf.columns[: len(TIDY_COLUMNS)]) == list(TIDY_COLUMNS)
    s = res.summary()
    assert isinstance(s, str) and len(s) > 0
    assert capsys.readouterr().out == ""
    text = repr(res)
    assert len(text) < 500 and len(str(res)) < 500
    assert isinstance(res._repr_html_(), str)
    finite = np.isfinite(t["std_error"].to_numpy())
    if finite.any():  # intervals at 0.9 are narrower than at 0.95 where there are SEs
        w90 = (ci["conf_high"] - ci["conf_low"]).to_numpy()[finite]
        w95 = (t["conf_high"] - t["conf_low"]).to_numpy()[finite]
        assert np.all(w90 <= w95 + 1e-15)
    with pytest.raises(PilotdidError, match="level"):
        res.tidy(level=1.5)


def test_vcov_methods(results):
    for name in ("EventStudyResult twfe", "EventStudyResult did2s", "SunAbrahamResult"):
        res = results[name]
        v = res.vcov()
        np.testing.assert_allclose(np.sqrt(np.diag(v)), list(res.se().values()), rtol=1e-12)
    with pytest.raises(PilotdidError, match="vcov"):
        results["EventStudyResult bjs"].vcov()  # leads from a separate test regression
    agg = results["AggteResult dynamic"]
    np.testing.assert_allclose(np.sqrt(np.diag(agg.vcov())), agg.se_egt, rtol=1e-12)


def test_event_study_print_and_summary(results):
    """print() is short; the summary names overall ATT, pre-trend test, band, dropped rows."""
    twfe = results["EventStudyResult twfe"]
    assert len(str(twfe)) < 500
    s = twfe.summary()
    assert "pre-trend test (leads = 0)" in s
    assert "pointwise intervals" in s and "dropped rows" in s
    for name in ("EventStudyResult cs", "EventStudyResult sa", "EventStudyResult bjs"):
        assert "overall ATT" in results[name].summary(), name
    cs = results["EventStudyResult cs"]
    assert cs.pretrend is not None and "chi2" in cs.summary()
    assert cs.att == pytest.approx(aggte(results["AttGtResult"], type="dynamic").overall_att)


def test_event_study_tidy_keeps_estimator_columns(results):
    """tidy(): the protocol's columns, then estimator and event_time (study frames use them)."""
    t = results["EventStudyResult twfe"].tidy()
    assert {"estimator", "event_time"} <= set(t.columns)
    assert t["term"].to_list() == [f"rel::{e}" for e in t["event_time"].to_list()]


def test_uniform_band_reported(mp):
    r = att_gt(mp, **MP, cohort="first.treat", bstrap=True, reps=199, cband=True)
    es = aggte(r, type="dynamic").to_event_study()
    assert es.band == "uniform" and "uniform band" in es.summary()
    assert {"band_low", "band_high"} <= set(es.tidy().columns)


def test_panel_is_keyword_only(mp):
    with pytest.raises(TypeError):
        pdid.Panel(mp, "countyreal", "year")
    p = pdid.Panel(mp, unit="countyreal", time="year", treatment="d")
    assert p.n_units == 500
    with pytest.raises(PilotdidError, match="'allow_switch_off'"):
        pdid.Panel(mp, unit="countyreal", time="year", treatment="d", allow_switch_off="no")

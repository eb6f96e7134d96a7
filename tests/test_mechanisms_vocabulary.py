"""The one vocabulary and the one result protocol for the mechanisms and robustness families
(issue 14): old spellings raise a TypeError naming the new one, every option is checked before
any work with an error naming it, and every result class offers the protocol."""

from __future__ import annotations

import math
import time

import numpy as np
import polars as pl
import pytest

import pilotdid._args as args
from pilotdid._core import PilotdidError, linear_combinations, mediation_ci
from pilotdid.mechanisms.baron_kenny import mediation
from pilotdid.mechanisms.interaction import moderation
from pilotdid.mechanisms.subgroups import heterogeneity
from pilotdid.mechanisms.two_step import mechanism_effects
from pilotdid.regression import feols
from pilotdid.results._protocol import TIDY_COLUMNS
from pilotdid.robust.battery import Check, robustness
from pilotdid.robust.psm import psm_did
from pilotdid.robust.randomization import placebo
from pilotdid.robust.sample import (
    add_controls,
    drop_units,
    exclude_units,
    restrict_window,
    swap_outcome,
    winsorize,
)

FML = "y ~ d + x | unit + year"


def _panel(seed: int = 0, g: int = 30, t: int = 8) -> pl.DataFrame:
    """Staggered 0/1 treatment (cohorts 3 and 5, a third never treated), a mediator m, a
    continuous moderator z, a unit-level group and an ever-treated flag."""
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(g), t)
    year = np.tile(np.arange(t), g)
    cohort = np.array([3, 5, 0])[np.arange(g) % 3][unit]
    d = ((cohort > 0) & (year >= cohort)).astype(float)
    x = rng.normal(size=g * t)
    z = rng.normal(size=g)[unit]
    m = 0.5 * d + 0.2 * x + rng.normal(size=g * t)
    y = 0.4 * m + 0.3 * d * (1 + z) + 0.1 * x + rng.normal(size=g)[unit] + rng.normal(size=g * t)
    grp = np.where(unit < g // 2, "east", "west")
    return pl.DataFrame(
        {
            "unit": unit,
            "year": year,
            "d": d,
            "x": x,
            "z": z,
            "m": m,
            "y": y,
            "grp": grp,
            "ever": (cohort > 0).astype(float),
        }
    )


@pytest.fixture(scope="module")
def df() -> pl.DataFrame:
    return _panel()


@pytest.fixture(scope="module")
def fit(df):
    return feols(FML, df, vcov={"CR1": "unit"})


# ------------------------------------------------------------------------------------------
# (a) old spellings name the new ones
# ------------------------------------------------------------------------------------------
def test_old_spellings_raise_type_error_naming_the_new(df, fit):
    """Every renamed option raises TypeError naming its new name (CHANGELOG table)."""
    cases = [
        (lambda: mediation(df, y="y", treatment="d", mediators="m", boot_reps=10), "'reps'"),
        (lambda: heterogeneity(df, y="y", treatment="d", by="grp", perm_reps=10), "'reps'"),
        (lambda: psm_did(df, treat="ever", controls=["x"]), "'treatment'"),
        (lambda: psm_did(df, treatment="ever", covariates=["x"]), "'controls'"),
        (lambda: psm_did(df, treatment="ever", controls=["x"], formula=FML), "'fml'"),
        (lambda: robustness(base_model=fit, checks=[]), "'model'"),
        (lambda: swap_outcome(formula=FML, y="m"), "'fml'"),
        (lambda: swap_outcome(FML, outcome="m"), "'y'"),
        (lambda: add_controls(formula=FML, controls="z"), "'fml'"),
        (lambda: Check("psm", treat="ever", controls=["x"]), "'treatment'"),
        (lambda: Check("psm", treatment="ever", covariates=["x"]), "'controls'"),
        (lambda: Check("psm", treatment="ever", controls=["x"], formula=FML), "'fml'"),
        (lambda: Check("outcome", outcome="m"), "'y'"),
    ]
    for call, new in cases:
        with pytest.raises(TypeError, match=new):
            call()


def test_keyword_only_after_data_or_model(df, fit):
    """Positional options beyond data / model / formula are refused with the keywords to use;
    the formula helpers keep their second argument positional (formula-first rule)."""
    for call in (
        lambda: mediation(df, "y", "d", "m"),
        lambda: mechanism_effects(df, "d", "m"),
        lambda: moderation(df, "y", "d", "z"),
        lambda: heterogeneity(df, "y", "d", "grp"),
        lambda: placebo(fit, df),
        lambda: psm_did(df, "ever", ["x"]),
        lambda: robustness(fit, []),
        lambda: winsorize(df, "y"),
        lambda: drop_units(df, "unit", [1]),
        lambda: exclude_units(df, "unit"),
        lambda: restrict_window(df, "year", 1, 2),
    ):
        with pytest.raises(TypeError, match="keyword-only"):
            call()
    assert swap_outcome(FML, "m") == "m ~ d + x | unit + year"
    assert add_controls(FML, "z") == "y ~ d + x + z | unit + year"


# ------------------------------------------------------------------------------------------
# (b) bad option values name the option, before any work
# ------------------------------------------------------------------------------------------
def _refused(call, option: str) -> None:
    with pytest.raises(PilotdidError, match=f"'{option}'"):
        call()


def test_mediation_options_checked(df):
    """Types, ranges, NaN/inf; a cluster given twice; non-numeric columns."""
    kw = {"y": "y", "treatment": "d", "mediators": "m"}
    nan, inf = float("nan"), float("inf")
    for option, value in [
        ("reps", -1),
        ("reps", 2.5),
        ("reps", nan),
        ("reps", "100"),
        ("reps", None),
        ("seed", -1),
        ("seed", None),
        ("seed", 1.5),
        ("level", 1.5),
        ("level", nan),
        ("level", 0),
        ("ci", "bca"),
        ("method", "four_step"),
        ("joint", "yes"),
        ("fixef_tol", 0.0),
        ("fixef_tol", inf),
        ("fixef_maxiter", 0),
        ("mediators", []),
        ("mediators", [1]),
        ("controls", 5),
        ("fixef", ["unit"]),
        ("estimator", "ols"),
    ]:
        with pytest.raises(PilotdidError, match=f"'{option}'"):
            mediation(df, **{**kw, option: value})
    _refused(lambda: mediation(df, **kw, vcov={"CR1": "unit"}, cluster="unit"), "vcov")
    text = df.with_columns(pl.col("m").cast(pl.String))
    _refused(lambda: mediation(text, **kw, reps=0), "m")


def test_absurd_replicate_counts_refused_quickly(df, fit, monkeypatch):
    """2**63 replicates exceed MAX_REPS (2**40); a count whose draws do not fit in half the
    memory is refused with the memory it would need (bytes per replicate from what each
    stores)."""
    for call in (
        lambda r: mediation(df, y="y", treatment="d", mediators="m", reps=r),
        lambda r: heterogeneity(df, y="y", treatment="d", by="grp", fixef="unit", reps=r),
        lambda r: placebo(fit, reps=r),
    ):
        t0 = time.perf_counter()
        with pytest.raises(PilotdidError, match="'reps'.*out of range"):
            call(2**63)
        assert time.perf_counter() - t0 < 1.0
    monkeypatch.setattr(args, "available_memory", lambda: 2 * 10**9)
    # mediation: 32 bytes per mediator + 80 per replicate; 10**7 x 112 B = 1.12 GB > 1 GB
    with pytest.raises(PilotdidError, match="'reps'.*memory.*use at most 8928571"):
        mediation(df, y="y", treatment="d", mediators="m", reps=10**7)
    with pytest.raises(PilotdidError, match="'reps'.*memory"):
        heterogeneity(df, y="y", treatment="d", by="grp", fixef="unit", reps=10**8)
    with pytest.raises(PilotdidError, match="'reps'.*memory"):
        placebo(fit, reps=10**8)


def test_moderation_at_checked(df):
    """at=[nan] used to surface as an internal error of the core; now it names 'at'."""
    kw = {"y": "y", "treatment": "d", "moderator": "z", "fixef": "unit + year"}
    for at in ([float("nan")], [0.0, float("inf")], ["high"], [None]):
        with pytest.raises(PilotdidError, match="'at\\[\\d\\]'"):
            moderation(df, **kw, at=at)
    for at in ("x", 3.0, []):
        with pytest.raises(PilotdidError, match="'at'"):
            moderation(df, **kw, at=at)
    _refused(lambda: moderation(df, **kw, level=95), "level")
    _refused(lambda: moderation(df, **kw, categorical="no"), "categorical")


def test_heterogeneity_columns_checked_up_front(df):
    """A pandas object column of arbitrary Python objects (which used to reach polars and
    panic) or of text where numbers are needed gives an error naming the column."""
    pd = pytest.importorskip("pandas")
    pdf = pd.DataFrame({c: df[c].to_numpy() for c in df.columns})
    kw = {"y": "y", "treatment": "d", "fixef": "unit + year", "reps": 0}
    objects = pdf.assign(grp=pd.Series([frozenset([g]) for g in pdf["grp"]], dtype=object))
    with pytest.raises(PilotdidError, match="column 'grp'"):
        heterogeneity(objects, by="grp", **kw)
    fractional = pdf.assign(grp=np.where(pdf["grp"] == "east", 0.5, 1.5))
    with pytest.raises(PilotdidError, match="column 'grp' \\(option 'by'\\).*fractional"):
        heterogeneity(fractional, by="grp", **kw)
    text_y = pdf.assign(y=pdf["y"].astype(str).astype(object))
    with pytest.raises(PilotdidError, match="column 'y' \\(option 'y'\\)"):
        heterogeneity(text_y, by="grp", **kw)
    # object columns holding plain labels or numbers are converted and work as before
    plain = pdf.assign(grp=pdf["grp"].astype(object), d=pdf["d"].astype(object))
    a = heterogeneity(plain, by="grp", **kw)
    b = heterogeneity(df, by="grp", **kw)
    assert a.table["estimate"].to_list() == b.table["estimate"].to_list()
    _refused(lambda: heterogeneity(df, by="grp", **{**kw, "reps": -2}), "reps")
    _refused(lambda: heterogeneity(df, by="grp", **{**kw, "seed": -2}), "seed")
    _refused(lambda: heterogeneity(df, by=3, **kw), "by")


def test_placebo_options_checked(df, fit):
    for option, value in [
        ("reps", None),
        ("reps", 0),
        ("reps", 1.5),
        ("reps", float("inf")),
        ("scheme", "cities"),
        ("seed", -1),
        ("seed", None),
        ("progress", "yes"),
        ("statistic", "lasso"),
        ("statistic", 3),
        ("treatment", 1),
    ]:
        with pytest.raises(PilotdidError, match=f"'{option}'"):
            placebo(fit, **{option: value})
    _refused(lambda: placebo("not a fit", data=df), "model")


def test_psm_options_checked(df):
    kw = {"treatment": "ever", "controls": ["x"]}
    for option, value in [
        ("k", 0),
        ("k", 1.5),
        ("caliper", -0.1),
        ("caliper", float("nan")),
        ("bandwidth", 0),
        ("method", "radius"),
        ("kernel", "triangular"),
        ("replace", "no"),
        ("common_support", 1),
        ("did_sample", "all"),
        ("controls", []),
        ("fml", 3),
    ]:
        with pytest.raises(PilotdidError, match=f"'{option}'"):
            psm_did(df, **{**kw, option: value})


def test_helpers_and_checks_validated(df, fit):
    """Helpers name the option; a Check is validated when it is built."""
    _refused(lambda: winsorize(df, columns="y", lower=float("nan")), "lower")
    _refused(lambda: winsorize(df, columns=5), "columns")
    _refused(lambda: winsorize(df, columns="y", lower=0.9, upper=0.1), "lower'/'upper")
    _refused(lambda: drop_units(df, unit="unit", units="Shanghai"), "units")
    _refused(lambda: restrict_window(df, time="year", start="x"), "start")
    _refused(lambda: restrict_window(df, time="year", end=float("nan")), "end")
    _refused(lambda: restrict_window(df, time="year", start=5, end=2), "start'/'end")
    _refused(lambda: exclude_units(df, unit="unit", flags="ever", mode="x"), "mode")
    _refused(lambda: swap_outcome("y d", "m"), "fml")
    _refused(lambda: Check("window", start="x"), "start")
    _refused(lambda: Check("placebo", reps=None), "reps")
    _refused(lambda: Check("placebo", scheme="cities"), "scheme")
    _refused(lambda: Check("winsorize", lower=2), "lower")
    _refused(lambda: Check("bootstrap"), "kind")
    _refused(lambda: Check("drop_units"), "units")
    _refused(lambda: Check("psm", treatment="ever"), "controls")
    _refused(lambda: Check("psm", treatment="ever", controls=["x"], k=0), "k")
    _refused(lambda: Check("outcome", y="m", label=""), "label")
    with pytest.raises(TypeError, match="unknown option 'unitz'"):
        Check("drop_units", unitz=[1])
    _refused(lambda: robustness(fit, checks=Check("drop_units", units=[1])), "checks")
    _refused(lambda: robustness(fit, checks=[{"units": [1]}]), "checks")


# ------------------------------------------------------------------------------------------
# level is honoured; numbers unchanged
# ------------------------------------------------------------------------------------------
def test_mediation_intervals_follow_level(df):
    """The indirect effect's interval is the core's bootstrap interval at the level asked
    (mediation_ci on the stored draws); at the fit's level it is the table's; Sobel z and p do
    not depend on the level; a- and b-paths are the feols fits' rows."""
    r = mediation(
        df, y="y", treatment="d", mediators="m", fixef="unit + year", cluster="unit", reps=99
    )
    t95, t80 = r.tidy(), r.tidy(level=0.8)
    ind95 = t95.filter(pl.col("term") == "indirect:m").row(0, named=True)
    ind80 = t80.filter(pl.col("term") == "indirect:m").row(0, named=True)
    row = r.table.row(0, named=True)
    assert (ind95["conf_low"], ind95["conf_high"]) == (row["ci_low"], row["ci_high"])
    draws = np.ascontiguousarray(r.boot_draws[0][:, 0] * r.boot_draws[1][:, 0])
    assert (ind80["conf_low"], ind80["conf_high"]) == mediation_ci(
        draws, row["indirect"], 0.8, "percentile"
    )
    assert ind95["conf_low"] < ind80["conf_low"] < ind80["conf_high"] < ind95["conf_high"]
    assert ind80["statistic"] == ind95["statistic"] == row["sobel_z"]
    assert ind80["p_value"] == row["sobel_p"]
    r80 = mediation(
        df,
        y="y",
        treatment="d",
        mediators="m",
        fixef="unit + year",
        vcov={"CR1": "unit"},
        reps=99,
        level=0.8,
    )
    assert r80.table["ci_low"][0] == ind80["conf_low"]
    a = feols("m ~ d | unit + year", df, vcov={"CR1": "unit"}).tidy(0.8)
    a_row = t80.filter(pl.col("term") == "a:m").row(0, named=True)
    assert a_row["conf_low"] == a.filter(pl.col("term") == "d")["conf_low"][0]
    none = mediation(df, y="y", treatment="d", mediators="m", reps=0)
    assert math.isnan(none.tidy().filter(pl.col("term") == "indirect:m")["conf_low"][0])


def test_moderation_tidy_at_other_level_equals_refit(df):
    """tidy(level) recomputes the delta-method interval in the core: equal to
    moderation(level=...) itself, bit for bit."""
    kw = {"y": "y", "treatment": "d", "moderator": "z", "fixef": "unit + year", "at": [-1, 1]}
    r95, r90 = moderation(df, **kw), moderation(df, **kw, level=0.9)
    assert r95.tidy(level=0.9)["conf_low"].to_list() == r90.marginal_effects["conf_low"].to_list()
    assert r95.tidy()["conf_high"].to_list() == r95.marginal_effects["conf_high"].to_list()
    assert r95.tidy()["term"].to_list() == ["z=-1.0", "z=1.0"]
    beta, vcov, lmat, dof = r95._combinations
    out = linear_combinations(beta, vcov, lmat, dof, 0.9)
    assert r95.tidy(level=0.9)["conf_high"].to_list() == out[:, 5].tolist()


def test_placebo_pvalue_is_the_randomization_p(fit):
    res = placebo(fit, reps=50, seed=2)
    assert res.pvalue() == {"d": res.p_value_ri}
    assert res.coef() == {"d": res.actual}
    assert res.placebo_stats()["p_value"][0] == res.p_value_ri


# ------------------------------------------------------------------------------------------
# (c) the result protocol
# ------------------------------------------------------------------------------------------
def _results(df, fit):
    checks = [
        Check("drop_units", units=[0, 1]),
        Check("outcome", y="m"),
        Check("psm", treatment="ever", controls=["x"]),
        Check("placebo", reps=20, seed=1),
    ]
    return {
        "MediationResult": mediation(
            df, y="y", treatment="d", mediators="m", fixef="unit + year", reps=30
        ),
        "MechanismEffects": mechanism_effects(
            df, treatment="d", mediators="m", fixef="unit + year"
        ),
        "MechanismEffects(sa)": mechanism_effects(
            df, treatment="d", mediators="m", fixef="unit + year", estimator="sa"
        ),
        "ModerationResult": moderation(
            df, y="y", treatment="d", moderator="z", fixef="unit + year"
        ),
        "HeterogeneityResult": heterogeneity(
            df, y="y", treatment="d", by="grp", fixef="unit + year", reps=10
        ),
        "PlaceboResult": placebo(fit, reps=30, seed=1),
        "PsmDidResult": psm_did(df, treatment="ever", controls=["x"], fml=FML),
        "RobustnessResult": robustness(fit, checks=checks),
    }


def test_result_classes_follow_the_protocol(df, fit, capsys):
    for name, res in _results(df, fit).items():
        t = res.tidy()
        assert isinstance(t, pl.DataFrame) and t.columns == list(TIDY_COLUMNS), name
        assert t.height >= 1, name
        terms = t["term"].to_list()
        for method in (res.coef, res.se, res.pvalue):
            d = method()
            assert isinstance(d, dict) and list(d) == terms, name
        ci = res.confint(level=0.9)
        assert ci.columns == ["term", "conf_low", "conf_high"], name
        pdt = res.tidy(as_pandas=True)
        assert list(pdt.columns) == list(TIDY_COLUMNS), name
        capsys.readouterr()
        s = res.summary()
        assert isinstance(s, str) and len(s) > 0, name
        assert capsys.readouterr().out == "", name
        assert isinstance(res.summary(level=0.9), str)
        assert len(repr(res)) < 500, name
        assert isinstance(res._repr_html_(), str), name
        with pytest.raises(PilotdidError, match="'level'"):
            res.tidy(level=1.5)
    psm = psm_did(df, treatment="ever", controls=["x"])
    with pytest.raises(PilotdidError, match="fml"):
        psm.tidy()
    assert "PSM-DID" in psm.summary()


def test_protocol_numbers_are_the_results_numbers(df, fit):
    """tidy reads what was computed: robustness rows equal the table, heterogeneity rows the
    group fits, PSM-DID the re-estimated DID."""
    res = _results(df, fit)
    rob = res["RobustnessResult"]
    assert rob.coef() == dict(zip(rob.table["check"], rob.table["estimate"]))
    assert rob.pvalue() == dict(zip(rob.table["check"], rob.table["p_value"]))
    het = res["HeterogeneityResult"]
    assert het.coef() == {f"grp={g}": f.coef()["d"] for g, f in het.fits.items()}
    psm = res["PsmDidResult"]
    assert psm.coef() == psm.did.coef()
    np.testing.assert_array_equal(psm.vcov(), psm.did.vcov())
    med = res["MediationResult"]
    assert med.coef()["total"] == med.total[0]
    assert med.coef()["indirect:m"] == med.table["indirect"][0]
    assert med.boot_reps == med.reps == 30

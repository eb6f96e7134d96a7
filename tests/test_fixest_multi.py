"""feols multiple estimation (sw, sw0, csw, csw0, several outcomes, split, fsplit) and fixest's
i() interactions.

Reference: pyfixest 0.60 ``feols`` (multiple estimation and ``i()``; its ``all_fitted_models``
names and order), run with fixef_tol 1e-13 and with vcov and fixef_rm given explicitly (its
defaults differ from fixest's, which pilotdid follows: CR1 by the first fixed effect, no
singleton removal). Exact identities: every model of a multiple estimation is the single
fit of its formula (on its split sample), bit for bit; i() equals hand-made dummy columns.
Data: the bundled YRD panel, which is SYNTHETIC (pilotdid.datasets.yrd).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest

import pilotdid as pdid
from pilotdid._core import PilotdidError
from pilotdid._formula import expand_formula

RTOL = 1e-8
ATOL = 1e-12
CL = {"CRV1": "city"}


@pytest.fixture(scope="module")
def yrd_pl() -> pl.DataFrame:
    return pdid.datasets.yrd()


@pytest.fixture(scope="module")
def yrd(yrd_pl) -> pd.DataFrame:
    """The SYNTHETIC YRD panel as pandas (pilot_batch: float with NaN for never-pilot cities),
    given to both packages so that split values print alike."""
    return pd.DataFrame({c: yrd_pl.get_column(c).to_numpy() for c in yrd_pl.columns})


# (formula, options): each runs in pilotdid and in pyfixest.
CASES = [
    ("gtfp ~ csw0(ln_gdp_pc, fdi_share)", {"vcov": "iid"}),
    ("gtfp ~ did + csw(ln_gdp_pc, fdi_share) | city + year", {"vcov": CL}),
    ("gtfp ~ sw0(ln_gdp_pc, fdi_share) + did", {"vcov": "hetero"}),
    ("gtfp ~ did + ln_gdp_pc | sw(city, year)", {"vcov": "hetero"}),
    ("gtfp ~ did | csw(city, year)", {"vcov": CL}),
    ("gtfp ~ did + ln_gdp_pc | csw0(city, year)", {"vcov": CL}),
    ("gtfp + ln_green_patents ~ did + sw(ln_gdp_pc, fdi_share) | city + year", {"vcov": CL}),
    ("sw(gtfp, ind_upgrade) ~ did + ln_gdp_pc | city", {"vcov": CL, "weights": "labour"}),
    ("gtfp ~ did + ln_gdp_pc | city + year", {"vcov": "hetero", "split": "pilot_batch"}),
    ("gtfp ~ ln_gdp_pc + fdi_share | year", {"vcov": "hetero", "fsplit": "pilot_batch"}),
    ("gtfp ~ sw(ln_gdp_pc, fdi_share) | city", {"vcov": "hetero", "split": "district_only"}),
    ("gtfp ~ i(year, treat, ref=2013) | city + year", {"vcov": CL}),
    (
        "gtfp ~ i(year, treat, ref=2013) + ln_gdp_pc | city + year",
        {"vcov": CL, "weights": "labour"},
    ),
    ("gtfp ~ i(year, ref=2013) + ln_gdp_pc | city", {"vcov": CL}),
    ("gtfp ~ i(province, ref='Zhejiang') + ln_gdp_pc | year", {"vcov": CL}),
    ("gtfp ~ i(year) + did", {"vcov": "iid"}),
    ("gtfp ~ did + csw(ln_gdp_pc, i(year, treat, ref=2013)) | city", {"vcov": CL}),
    ("gtfp ~ i(year, treat, ref=2013) | city", {"vcov": "hetero", "fsplit": "pilot_batch"}),
    # the zero step with fixed effects: 'gtfp ~ 1 | city + year', fixed effects only
    ("gtfp ~ csw0(ln_gdp_pc, fdi_share) | city + year", {"vcov": CL}),
    ("gtfp ~ sw0(ln_gdp_pc, did) | city", {"vcov": "hetero", "weights": "labour"}),
    ("gtfp ~ csw0(did, ln_gdp_pc) | csw0(city, year)", {"vcov": "iid"}),
]


def _pyfixest_models(fml: str, data: pd.DataFrame, opts: dict) -> dict:
    pf = pytest.importorskip("pyfixest")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols(fml, data, fixef_rm="none", fixef_tol=1e-13, **opts)
    if hasattr(fit, "all_fitted_models"):
        return dict(fit.all_fitted_models)
    return {fml: fit}


@pytest.mark.filterwarnings("ignore:Empty variance-covariance")  # pyfixest, 'y ~ 1 | fe'
@pytest.mark.parametrize("fml,opts", CASES, ids=[c[0] for c in CASES])
def test_matches_pyfixest(yrd, fml, opts):
    """pyfixest 0.60: same models (names, order), coefficient names, nobs, coef and SE."""
    ours = pdid.feols(fml, yrd, **opts)
    theirs = _pyfixest_models(fml, yrd, opts)
    models = ours.models if isinstance(ours, pdid.FeolsMulti) else {fml: ours}
    assert list(models) == list(theirs)
    for name, fit in models.items():
        ref = theirs[name]
        assert fit.coefnames == [str(c) for c in ref._coefnames], name
        assert fit.nobs == ref._N, name
        np.testing.assert_allclose(fit._beta, np.asarray(ref.coef()), rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(fit._se, np.asarray(ref.se()), rtol=RTOL, atol=ATOL)


def _same_fit(a, b) -> None:
    assert a.coefnames == b.coefnames
    assert a._beta.tobytes() == b._beta.tobytes()
    assert a._se.tobytes() == b._se.tobytes()
    assert a.nobs == b.nobs


@pytest.mark.parametrize(
    "fml,opts",
    [c for c in CASES if "split" not in c[1] and "fsplit" not in c[1] and expand_formula(c[0])],
)
def test_each_model_is_its_single_fit(yrd_pl, fml, opts):
    """Identity: every model equals feols(its name, data), bit for bit."""
    multi = pdid.feols(fml, yrd_pl, **opts)
    for name, fit in multi.items():
        assert fit.formula == name
        _same_fit(fit, pdid.feols(name, yrd_pl, **opts))


def test_split_models_are_fits_on_the_samples(yrd_pl):
    """Identity: split= fits equal single fits on each sample (sorted values; null split values
    belong to no sample); fsplit's full sample equals the fit on the rows with a split value
    and counts the others as missing."""
    fml = "gtfp ~ did + sw(ln_gdp_pc, fdi_share) | year"
    multi = pdid.feols(fml, yrd_pl, vcov="hetero", fsplit="pilot_batch")
    batches = [1, 2, 3]
    singles = ["gtfp ~ did + ln_gdp_pc | year", "gtfp ~ did + fdi_share | year"]
    expected = [f"{s} (Sample: pilot_batch = all)" for s in singles] + [
        f"{s} (Sample: pilot_batch = {b})" for b in batches for s in singles
    ]
    assert multi.keys() == expected
    assert multi.split == "pilot_batch"
    has_batch = yrd_pl.filter(pl.col("pilot_batch").is_not_null())
    for s in singles:
        full = multi[f"{s} (Sample: pilot_batch = all)"]
        _same_fit(full, pdid.feols(s, has_batch, vcov="hetero"))
        assert full.dropped_rows["missing"] == yrd_pl.height - has_batch.height
        for b in batches:
            sub = yrd_pl.filter(pl.col("pilot_batch") == b)
            _same_fit(multi[f"{s} (Sample: pilot_batch = {b})"], pdid.feols(s, sub, vcov="hetero"))
    only_split = pdid.feols(fml, yrd_pl, vcov="hetero", split="pilot_batch")
    assert only_split.keys() == expected[2:]


def test_i_equals_hand_made_dummies(yrd_pl):
    """Identity: i(year, treat, ref=[2012, 2013]) is the columns 1{year = k} * treat for every
    other year, in year order, named year::k:treat (fixest / pyfixest)."""
    years = [y for y in sorted(yrd_pl["year"].unique().to_list()) if y not in (2012, 2013)]
    hand = yrd_pl.with_columns(
        [((pl.col("year") == y).cast(pl.Float64) * pl.col("treat")).alias(f"d{y}") for y in years]
    )
    fml = "gtfp ~ i(year, treat, ref=[2012, 2013]) + ln_gdp_pc | city + year"
    fit = pdid.feols(fml, yrd_pl, weights="labour", cluster="city")
    dummies = pdid.feols(
        "gtfp ~ " + " + ".join(f"d{y}" for y in years) + " + ln_gdp_pc | city + year",
        hand,
        weights="labour",
        cluster="city",
    )
    assert fit.coefnames == [f"year::{y}:treat" for y in years] + ["ln_gdp_pc"]
    assert fit._beta.tobytes() == dummies._beta.tobytes()
    assert fit._se.tobytes() == dummies._se.tobytes()
    # R's c() spelling of a list, and fixest's positional ref
    same = pdid.feols(
        fml.replace("[2012, 2013]", "c(2012, 2013)"), yrd_pl, cluster="city", weights="labour"
    )
    assert same._beta.tobytes() == fit._beta.tobytes()
    pos = pdid.feols("gtfp ~ i(year, treat, 2013) | city", yrd_pl)
    kw = pdid.feols("gtfp ~ i(year, treat, ref=2013) | city", yrd_pl)
    assert pos._beta.tobytes() == kw._beta.tobytes()


def test_cluster_shortcut_is_crv1(yrd_pl):
    """cluster='city' is vcov={'CRV1': 'city'} (and the default with city the first FE)."""
    fml = "gtfp ~ did + ln_gdp_pc | city + year"
    a = pdid.feols(fml, yrd_pl, cluster="city")
    b = pdid.feols(fml, yrd_pl, vcov={"CRV1": "city"})
    c = pdid.feols(fml, yrd_pl)
    for other in (b, c):
        _same_fit(a, other)
        assert other.vcov_type == a.vcov_type == "CR1 by city"
    multi = pdid.feols("gtfp ~ did | sw(city, year)", yrd_pl, cluster="city")
    assert [m.vcov_type for m in multi] == ["CR1 by city", "CR1 by city"]


def test_single_formula_returns_a_feols_result(yrd_pl):
    fit = pdid.feols("gtfp ~ did + ln_gdp_pc | city + year", yrd_pl)
    assert type(fit) is pdid.FeolsResult
    assert type(pdid.feols("gtfp ~ i(year, treat, ref=2013) | city", yrd_pl)) is pdid.FeolsResult


def test_container_protocol(yrd_pl):
    """len, int/name indexing, iteration over fits, models, tidy with a model column,
    summary, repr, html, and etable with one column per model titled by its name."""
    m = pdid.feols("gtfp ~ did + csw0(ln_gdp_pc, fdi_share)", yrd_pl, vcov="hetero")
    # the zero step keeps pyfixest's name: the call replaced by "1"
    names = ["gtfp ~ did + 1", "gtfp ~ did + ln_gdp_pc", "gtfp ~ did + ln_gdp_pc + fdi_share"]
    assert len(m) == 3 and m.keys() == names
    assert list(m.models) == names and list(dict(m)) == names
    assert [f.formula for f in m] == names
    assert all(isinstance(f, pdid.FeolsResult) for f in m)
    assert m[0] is m[names[0]] and m[-1] is m[names[2]] and m[1:] == m.values()[1:]
    assert names[1] in m and m[1] in m
    with pytest.raises(KeyError, match="no model named"):
        m["gtfp ~ x"]
    with pytest.raises(IndexError):
        m[3]
    t = m.tidy()
    assert t.columns[0] == "model" and t.height == 1 + 2 + 3 + 3
    assert t.filter(pl.col("model") == names[2])["term"].to_list() == m[2].coefnames
    assert m.coef()[names[1]] == m[1].coef() and m.nobs[names[0]] == m[0].nobs
    text = str(m.summary())
    assert all(f"Model {i + 1} of 3: {n}" in text for i, n in enumerate(names))
    assert len(repr(m)) <= 500 and repr(m).startswith("<FeolsMulti: 3 models")
    assert "<pre" in m._repr_html_()
    table = pdid.etable(m)
    assert table.frame.width == 1 + 3
    md = table.to_markdown()
    # untitled columns as in fixest's etable: the rows tell the models apart
    assert not any(n in md for n in names) and "| (1) | (2) | (3) |" in md
    split = pdid.feols("gtfp ~ ln_gdp_pc", yrd_pl, fsplit="province")
    md = pdid.etable(split).to_markdown()
    assert "| Full sample | province = " in md and "(Sample:" not in md


@pytest.mark.parametrize(
    "fml,opts,message",
    [
        (
            "gtfp ~ sw(did, ln_gdp_pc) + csw(fdi_share, fin_dev)",
            {},
            "not supported: more than one multiple-estimation operator on the right-hand side",
        ),
        (
            "gtfp ~ did | sw(city, year) + csw(province, year)",
            {},
            "not supported: more than one multiple-estimation operator on the fixed-effect part",
        ),
        ("gtfp ~ mvsw(did, ln_gdp_pc)", {}, "not supported: 'mvsw()'"),
        ("csw0(gtfp, ind_upgrade) ~ did", {}, "not supported: 'csw0()' on the left-hand side"),
        ("gtfp ~ log(sw(did, ln_gdp_pc))", {}, "not supported: 'sw()' inside another term"),
        (
            "gtfp ~ i(year, treat, ref=2013) + I(ln_gdp_pc ** 2) | city",
            {},
            "not supported: i() together with the transformed term",
        ),
        ("gtfp ~ i(year, treat, keep=2013) | city", {}, "not supported: i() option 'keep'"),
        ("gtfp ~ i(year, province) | city", {}, "not supported: i(var, treat) with a non-numeric"),
        ("gtfp ~ i(year, treat, ref=2030) | city", {}, "ref=2030 is not a value of 'year'"),
        ("gtfp ~ i(year, treat, ref=twenty) | city", {}, "must be a number, a quoted string"),
        (
            "gtfp ~ did | city",
            {"split": "province", "fsplit": "province"},
            "'split' and 'fsplit' are exclusive",
        ),
        ("gtfp ~ did | city", {"split": "nope"}, "column 'nope' not found"),
        (
            "gtfp ~ did + ln_gdp_pc | city + year",
            {"split": "province"},
            "model 'gtfp ~ did + ln_gdp_pc | city + year (Sample: province = Shanghai)': all "
            "regressors are collinear",
        ),
    ],
)
def test_errors_name_the_construct(yrd_pl, fml, opts, message):
    with pytest.raises(PilotdidError, match=None) as err:
        pdid.feols(fml, yrd_pl, **opts)
    assert message in str(err.value)
    if "not supported" in message:
        assert str(err.value).startswith(f"formula '{fml}'")


def test_other_functions_say_one_model(yrd_pl):
    """parse_formula (used outside feols) refuses multiple estimation with a clear message."""
    from pilotdid._formula import parse_formula

    with pytest.raises(PilotdidError, match="expanded by feols only"):
        parse_formula("gtfp ~ csw0(did, ln_gdp_pc)")


# --- fixed effects only: 'y ~ 1 | fe' (the zero step of sw0/csw0 with fixed effects) -------

FE_ONLY = [
    ("gtfp ~ 1 | city + year", {"vcov": CL}),
    ("gtfp ~ 1 | city", {"vcov": "hetero", "weights": "labour"}),
    ("ln_green_patents ~ 1 | province^year", {"vcov": "iid"}),
    ("gtfp ~ 1 | city + year", {"vcov": {"CRV1": "city+year"}}),
]


def _check_fixef_only(fit, ref) -> None:
    """pyfixest 0.60 fits a fixed-effects-only model without coefficients and leaves R² and
    RMSE NaN; they are checked against its residuals: RMSE = sqrt(sum(u_hat^2) / N) (its
    formula, u_hat the weighted residuals), R² = 1 - sum(u_hat^2) / weighted TSS."""
    assert fit.coefnames == [] and list(ref._coefnames) == []
    assert fit.nobs == ref._N
    u_hat = np.asarray(ref._u_hat, dtype=float).ravel()
    np.testing.assert_allclose(fit.resid(), np.asarray(ref.resid()), rtol=RTOL, atol=1e-10)
    rmse = float(np.sqrt(np.sum(u_hat**2) / ref._N))
    assert fit.rmse == pytest.approx(rmse, rel=RTOL)
    y = np.asarray(ref._Y_untransformed, dtype=float).ravel()
    w = np.asarray(ref._weights, dtype=float).ravel()
    tss = float(np.sum(w * (y - np.average(y, weights=w)) ** 2))
    assert fit.r2 == pytest.approx(1.0 - np.sum(u_hat**2) / tss, rel=RTOL)
    assert fit.r2_within is not None and np.isnan(fit.r2_within)  # pyfixest: NaN too
    assert np.isnan(ref._r2_within)


@pytest.mark.parametrize("fml,opts", FE_ONLY, ids=[c[0] + str(c[1]) for c in FE_ONLY])
def test_fixef_only_matches_pyfixest(yrd, fml, opts):
    """pyfixest 0.60 'y ~ 1 | fe': no coefficients; nobs, residuals (1e-8), RMSE and R² from
    its residuals, within R² NaN; the protocol is empty but typed."""
    fit = pdid.feols(fml, yrd, **opts)
    assert type(fit) is pdid.FeolsResult and fit.is_fixef_only
    _check_fixef_only(fit, _pyfixest_models(fml, yrd, opts)[fml])
    assert fit.coef() == {} and fit.se() == {} and fit.pvalue() == {}
    assert fit.vcov().shape == (0, 0)
    t = fit.tidy()
    assert t.height == 0
    protocol = "term estimate std_error statistic p_value conf_low conf_high"
    assert t.columns == protocol.split()
    assert t.schema["term"] == pl.String and t.schema["estimate"] == pl.Float64
    assert fit.confint().height == 0
    assert fit.resid().shape == (fit.nobs,)
    text = str(fit.summary())
    assert "No coefficients (fixed effects only)" in text
    assert f"Observations: {fit.nobs}" in text and "RMSE: " in text and "R2: " in text
    assert "0 terms" in repr(fit)


# sw0/csw0 on the right-hand side of a model with fixed effects
ZERO_STEP_FE = [c for c in CASES if "|" in c[0] and "0(" in c[0].split("~")[1].split("|")[0]]


@pytest.mark.parametrize("fml,opts", ZERO_STEP_FE, ids=[c[0] for c in ZERO_STEP_FE])
def test_zero_step_with_fixed_effects_matches_pyfixest(yrd, fml, opts):
    """The zero steps of csw0/sw0 with fixed effects ('gtfp ~ 1 | ...') against pyfixest
    0.60: nobs, residuals, RMSE, R²; without fixed effects the zero step keeps its intercept.
    The other models' coef and SE are test_matches_pyfixest's."""
    ours = pdid.feols(fml, yrd, **opts)
    theirs = _pyfixest_models(fml, yrd, opts)
    assert list(ours.models) == list(theirs)
    zero = [name for name in ours.keys() if name.split("|")[0].strip().endswith("~ 1")]
    assert any(ours[name].fixef for name in zero)
    for name in zero:
        fit = ours[name]
        if fit.fixef:
            assert fit.is_fixef_only
            _check_fixef_only(fit, theirs[name])
        else:
            assert fit.coefnames == ["Intercept"] == list(theirs[name]._coefnames)


def test_fixef_only_is_the_residual_of_a_one_way_demeaning(yrd_pl):
    """Identity: 'y ~ 1 | city' residuals are y minus its city mean; R² = 1 - RSS/TSS; the
    fit equals the zero step of csw0 bit for bit; residuals (unlike coefficients) of a
    model with regressors are y - X b - fixed effects, checked against pyfixest above."""
    fit = pdid.feols("gtfp ~ 1 | city", yrd_pl)
    means = yrd_pl.select(pl.col("gtfp") - pl.col("gtfp").mean().over("city"))["gtfp"]
    np.testing.assert_allclose(fit.resid(), means.to_numpy(), rtol=0, atol=1e-13)
    y = yrd_pl["gtfp"].to_numpy()
    assert fit.r2 == pytest.approx(1 - np.sum(fit.resid() ** 2) / np.sum((y - y.mean()) ** 2))
    assert fit.fixef_levels == {"city": yrd_pl["city"].n_unique()}
    assert fit.dropped_rows == {"missing": 0, "singletons": 0}
    zero = pdid.feols("gtfp ~ csw0(did, ln_gdp_pc) | city", yrd_pl)[0]
    assert zero.formula == "gtfp ~ 1 | city"
    assert zero.resid().tobytes() == fit.resid().tobytes() and zero.r2 == fit.r2


def test_fixef_only_in_etable(yrd_pl):
    """etable lays a fixed-effects-only model out as a column with FE and statistic rows
    only (no coefficient cell, within R² left blank), also when it is the only column."""
    m = pdid.feols("gtfp ~ csw0(ln_gdp_pc, fdi_share) | city + year", yrd_pl)
    table = pdid.etable(m)
    assert table.frame.width == 1 + 3
    md = table.to_markdown()
    rows = {line.split("|")[1].strip(): line for line in md.splitlines() if line.count("|") > 4}
    first = [c.strip() for c in rows["ln_gdp_pc"].split("|")[2:5]]
    assert first[0] == "" and first[1] and first[2]
    for fe_row in ("city FE", "year FE"):
        assert [c.strip() for c in rows[fe_row].split("|")[2:5]] == ["Yes"] * 3
    assert [c.strip() for c in rows["Observations"].split("|")[2:5]] == ["656"] * 3
    assert [c.strip() for c in rows["Within R²"].split("|")[2:5]][0] == ""
    alone = pdid.etable(pdid.feols("gtfp ~ 1 | city + year", yrd_pl))
    md = alone.to_markdown()
    assert "city FE" in md and "Observations" in md and "656" in md
    assert "\\begin{tabular}" in alone.to_latex() or "begin{tabular}" in alone.to_latex()


@pytest.mark.parametrize(
    "fml,message",
    [
        ("gtfp ~ 0", "no regressors on the right of '~'"),
        ("gtfp ~ 1 | city^year", "no residual degrees of freedom"),
    ],
)
def test_fixef_only_errors(yrd_pl, fml, message):
    """No regressor and no fixed effect (and no intercept) stays an error; a fixed effect with
    one row per level leaves no degrees of freedom."""
    with pytest.raises(PilotdidError) as err:
        pdid.feols(fml, yrd_pl)
    assert message in str(err.value)


def test_all_collinear_regressors_stay_an_error_with_fixed_effects(yrd_pl):
    """A regressor absorbed by the fixed effects is not silently turned into an empty model."""
    with pytest.raises(PilotdidError, match="all regressors are collinear"):
        pdid.feols("gtfp ~ treat | city", yrd_pl)

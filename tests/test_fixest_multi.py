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
]


def _pyfixest_models(fml: str, data: pd.DataFrame, opts: dict) -> dict:
    pf = pytest.importorskip("pyfixest")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols(fml, data, fixef_rm="none", fixef_tol=1e-13, **opts)
    if hasattr(fit, "all_fitted_models"):
        return dict(fit.all_fitted_models)
    return {fml: fit}


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
    md = table.to_markdown() if hasattr(table, "to_markdown") else str(table)
    for n in names:
        assert n in md


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
            "gtfp ~ csw0(ln_gdp_pc, fdi_share) | city",
            {},
            "not supported: a model with fixed effects and no regressor",
        ),
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

"""pilotdid.feols against pyfixest 0.60 on generated designs.

Reference: pyfixest 0.60 ``feols`` (an independent implementation of fixest), run with a
demeaning tolerance of 1e-13 (``conftest.PYFIXEST_FIXEF_TOL``) so that it is converged far
beyond the 1e-8 we assert; ``test_reference_is_converged`` proves that against an exact
dummy-variable (LSDV) solve. pyfixest is a test-only dependency.

Behaviours of pyfixest that pilotdid is held to here (see also the hand-off notes):
* coefficient names: regressors as written (formulaic names for transforms, e.g.
  ``I(x1 ** 2)``, ``np.log(xp)``), plus a leading ``Intercept`` only without fixed effects;
* collinearity: sequential Cholesky on X'X of the (demeaned, weighted) design, in formula order,
  so of an exactly collinear set the *later* column is dropped;
* singletons: detected iteratively on the rows left after dropping missing values;
* nobs: rows with a missing (or non-finite) value in any used column are dropped before
  anything else; ``nobs`` is the number of rows actually used.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import polars as pl
import pytest

import pilotdid as pdid

RTOL = 1e-8
ATOL = 1e-12  # for values that are (near) zero


@dataclass(frozen=True)
class Design:
    id: str
    fml: str
    vcov: object
    panel: dict = field(default_factory=dict)
    weights: str | None = None
    fixef_rm: str = "none"

    @property
    def fes(self) -> list[str]:
        if "|" not in self.fml:
            return []
        return [t.strip() for t in self.fml.split("|")[1].split("+")]

    @property
    def cluster_vars(self) -> list[str]:
        if isinstance(self.vcov, dict):
            return [c.strip() for c in next(iter(self.vcov.values())).split("+")]
        return []


BAL: dict = {}
UNB = {"drop_frac": 0.12}
X3 = "y ~ x1 + x2 + x3"
CR1_UNIT = {"CR1": "unit"}
CR1_2WAY = {"CR1": "unit+year"}

DESIGNS = [
    # --- no fixed effects (Intercept) ---------------------------------------------------
    Design("fe0-bal-iid", X3, "iid", BAL),
    Design("fe0-unb-hetero", X3, "hetero", UNB),
    Design("fe0-bal-HC1", X3, "HC1", BAL),
    Design("fe0-unb-cr1", X3, CR1_UNIT, UNB),
    Design("fe0-bal-cr1-twoway", X3, CR1_2WAY, BAL),
    # --- one fixed effect ---------------------------------------------------------------
    Design("fe1-bal-iid", X3 + " | unit", "iid", BAL),
    Design("fe1-unb-hetero", X3 + " | unit", "hetero", UNB),
    Design("fe1-unb-cr1", X3 + " | unit", CR1_UNIT, UNB),
    Design("fe1-year-bal-cr1-unit", X3 + " | year", CR1_UNIT, BAL),  # FE not nested in cluster
    # --- two fixed effects --------------------------------------------------------------
    Design("fe2-bal-iid", X3 + " | unit + year", "iid", BAL),
    Design("fe2-unb-iid", X3 + " | unit + year", "iid", UNB),
    Design("fe2-unb-hetero", X3 + " | unit + year", "hetero", UNB),
    Design("fe2-bal-cr1", X3 + " | unit + year", CR1_UNIT, BAL),
    Design("fe2-unb-cr1", X3 + " | unit + year", CR1_UNIT, UNB),
    Design("fe2-unb-cr1-twoway", X3 + " | unit + year", CR1_2WAY, UNB),
    Design("fe2-unb-cr1-prov", X3 + " | unit + year", {"CR1": "prov"}, UNB),  # unit nested in prov
    Design("fe2-year-first-unb-cr1", X3 + " | year + unit", CR1_UNIT, UNB),
    # --- three fixed effects ------------------------------------------------------------
    Design("fe3-bal-iid", X3 + " | unit + year + ind", "iid", BAL),
    Design("fe3-unb-cr1", X3 + " | unit + year + ind", CR1_UNIT, UNB),
    Design("fe3-unb-cr1-twoway", X3 + " | unit + year + ind", CR1_2WAY, UNB),
    # --- interacted fixed effect prov^year ----------------------------------------------
    Design("fe-interacted-bal-cr1", X3 + " | unit + prov^year", CR1_UNIT, BAL),
    Design("fe-interacted3-unb-iid", X3 + " | unit + year + prov^year", "iid", UNB),
    Design("fe-interacted-unb-cr1-prov", X3 + " | unit + prov^year", {"CR1": "prov"}, UNB),
    # --- analytic weights ---------------------------------------------------------------
    Design("w-fe0-unb-hetero", X3, "hetero", UNB, weights="w"),
    Design("w-fe2-bal-iid", X3 + " | unit + year", "iid", BAL, weights="w"),
    Design("w-fe2-unb-cr1", X3 + " | unit + year", CR1_UNIT, UNB, weights="w"),
    Design("w-fe3-unb-cr1-twoway", X3 + " | unit + year + ind", CR1_2WAY, UNB, weights="w"),
    # --- collinear regressors (the later column of a collinear set is dropped) ----------
    Design("collin-fe0-bal", "y ~ x1 + x2 + x3 + xlin", "iid", BAL),
    Design("collin-fe2-unb-order", "y ~ x1 + xlin + x2 + x3 | unit + year", CR1_UNIT, UNB),
    Design("collin-with-unit-fe", "y ~ x1 + xu + x2 | unit + year", CR1_UNIT, UNB),
    # --- singletons -----------------------------------------------------------------------
    Design(
        "singletons-none", X3 + " | unit + year", CR1_UNIT, {"n_singletons": 7}, fixef_rm="none"
    ),
    Design(
        "singletons-rm", X3 + " | unit + year", CR1_UNIT, {"n_singletons": 7}, fixef_rm="singleton"
    ),
    Design(
        "singletons-cascade-none",
        X3 + " | unit + year",
        "iid",
        {"n_singletons": 3, "cascade_singleton": True, "drop_frac": 0.1},
        fixef_rm="none",
    ),
    Design(
        "singletons-cascade-rm",
        X3 + " | unit + year",
        "iid",
        {"n_singletons": 3, "cascade_singleton": True, "drop_frac": 0.1},
        fixef_rm="singleton",
    ),
    Design(
        "singletons-rm-twoway",
        X3 + " | unit + year",
        CR1_2WAY,
        {"n_singletons": 4, "cascade_singleton": True},
        fixef_rm="singleton",
    ),
    # --- string ids -----------------------------------------------------------------------
    Design("str-fe2-unb-cr1", X3 + " | unit + year", CR1_UNIT, {**UNB, "string_ids": True}),
    Design("str-fe2-bal-cr1-twoway", X3 + " | unit + year", CR1_2WAY, {"string_ids": True}),
    Design(
        "str-interacted-unb-cr1", X3 + " | unit + prov^year", CR1_UNIT, {**UNB, "string_ids": True}
    ),
    # --- missing values -------------------------------------------------------------------
    Design("missing-x2-fe2-cr1", X3 + " | unit + year", CR1_UNIT, {**UNB, "missing_x2": 15}),
    Design("missing-y-x2-fe0-hetero", X3, "hetero", {"missing_x2": 11, "missing_y": 9}),
    Design(
        "missing-singletons-rm",
        X3 + " | unit + year",
        CR1_UNIT,
        {"missing_x2": 10, "n_singletons": 5},
        fixef_rm="singleton",
    ),
    # --- formulaic transforms -------------------------------------------------------------
    Design("transforms-fe2-cr1", "y ~ x1 + I(x1 ** 2) + np.log(xp) | unit + year", CR1_UNIT, UNB),
]


def _design_id(d: Design) -> str:
    return d.id


def _used_columns(d: Design, df: pd.DataFrame) -> list[str]:
    """Every frame column the model uses (formula identifiers, FE parts, clusters, weights)."""
    cols = set(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", d.fml)) & set(df.columns)
    cols.update(d.cluster_vars)
    if d.weights:
        cols.add(d.weights)
    return sorted(cols)


def _as_array(dct: dict, names) -> np.ndarray:
    return np.array([dct[n] for n in names], dtype=float)


def _fit_both(d: Design, df, pyfixest_reference):
    ours = pdid.feols(d.fml, df, vcov=d.vcov, weights=d.weights, fixef_rm=d.fixef_rm)
    ref = pyfixest_reference(d.fml, df, d.vcov, weights=d.weights, fixef_rm=d.fixef_rm)
    return ours, ref


def _assert_matches(ours, ref, d: Design | None = None):
    names = [str(n) for n in ref._coefnames]
    assert list(ours.coefnames) == names
    assert list(ours.coef().keys()) == names
    assert list(ours.se().keys()) == names
    np.testing.assert_allclose(
        _as_array(ours.coef(), names), ref.coef().to_numpy(), rtol=RTOL, atol=ATOL
    )
    np.testing.assert_allclose(
        _as_array(ours.se(), names), ref.se().to_numpy(), rtol=RTOL, atol=ATOL
    )
    np.testing.assert_allclose(np.asarray(ours.vcov()), ref._vcov, rtol=RTOL, atol=ATOL)
    assert ours.nobs == ref._N
    assert ours.r2 == pytest.approx(ref._r2, rel=RTOL, abs=ATOL)
    if ref._has_fixef:
        assert ours.r2_within == pytest.approx(ref._r2_within, rel=RTOL, abs=ATOL)
    else:
        assert ours.r2_within is None


@pytest.mark.parametrize("d", DESIGNS, ids=_design_id)
def test_feols_matches_pyfixest(d, panel_factory, pyfixest_reference):
    """pyfixest 0.60 feols (fixef_tol 1e-13) on the same data/formula/vcov/weights/fixef_rm:
    coefficients, SEs and the vcov matrix to 1e-8 relative; r2, r2_within to 1e-8; nobs,
    collinear set, cluster counts, singleton and missing-row counts exactly."""
    df = panel_factory(seed=DESIGNS.index(d), **d.panel)
    ours, ref = _fit_both(d, df, pyfixest_reference)
    _assert_matches(ours, ref, d)

    # collinear regressors: the same names dropped, in formula order
    assert list(ours.collinear) == [str(v) for v in ref._collin_vars]

    # clusters in the estimation sample
    if d.cluster_vars:
        used = ref._data
        assert list(ours.n_clusters) == [int(used[c].nunique()) for c in d.cluster_vars]
    else:
        assert ours.n_clusters is None

    # missing rows: counted independently from the frame and against pyfixest's N
    n_missing = int(df[_used_columns(d, df)].isna().any(axis=1).sum())
    assert ours.dropped_rows["missing"] == n_missing

    # singletons: pyfixest's count = N(fixef_rm="none") - N(fixef_rm="singleton")
    if d.fes:
        ref_none = pyfixest_reference(d.fml, df, d.vcov, weights=d.weights, fixef_rm="none")
        ref_rm = pyfixest_reference(d.fml, df, d.vcov, weights=d.weights, fixef_rm="singleton")
        n_single = ref_none._N - ref_rm._N
        assert ours.n_singletons == n_single
        expected_dropped = n_single if d.fixef_rm == "singleton" else 0
        assert ours.dropped_rows["singletons"] == expected_dropped
        assert ours.nobs == len(df) - n_missing - expected_dropped
    else:
        assert ours.n_singletons == 0
        assert ours.dropped_rows["singletons"] == 0
        assert ours.nobs == len(df) - n_missing


def test_singleton_counts_are_iterative(panel_factory, pyfixest_reference):
    """pyfixest 0.60 singleton detection (iterative, as fixest/reghdfe): the cascade design
    has 3 unit singletons + 1 period singleton whose removal creates 1 more unit singleton."""
    df = panel_factory(seed=5, n_singletons=3, cascade_singleton=True)
    fml = X3 + " | unit + year"
    ref_none = pyfixest_reference(fml, df, "iid", fixef_rm="none")
    ref_rm = pyfixest_reference(fml, df, "iid", fixef_rm="singleton")
    assert ref_none._N - ref_rm._N == 5
    for rm in ("none", "singleton"):
        fit = pdid.feols(fml, df, vcov="iid", fixef_rm=rm)
        assert fit.n_singletons == 5
        assert fit.dropped_rows["singletons"] == (5 if rm == "singleton" else 0)
    # point estimates do not depend on singleton removal; nobs and SEs do
    a = pdid.feols(fml, df, vcov="iid", fixef_rm="none")
    b = pdid.feols(fml, df, vcov="iid", fixef_rm="singleton")
    np.testing.assert_allclose(
        _as_array(a.coef(), a.coefnames), _as_array(b.coef(), b.coefnames), rtol=1e-9
    )
    assert a.nobs - b.nobs == 5


# --------------------------------------------------------------------------------------------
# the reference itself is converged (so that 1e-8 is a meaningful tolerance)
# --------------------------------------------------------------------------------------------
def _lsdv(df, d: Design) -> np.ndarray:
    """Exact least-squares-dummy-variables solve (numpy lstsq), the slopes only."""
    from formulaic import model_matrix

    rhs = d.fml.split("~")[1].split("|")[0]
    data = df.dropna(subset=_used_columns(d, df)).reset_index(drop=True)
    X = model_matrix(rhs, data, na_action="raise")
    names = list(X.columns)
    cols = [np.asarray(X, dtype=float)]
    for fe in d.fes:
        key = data[fe.split("^")[0]].astype(str)
        for part in fe.split("^")[1:]:
            key = key + "_" + data[part].astype(str)
        cols.append(pd.get_dummies(key).to_numpy(float))
    Z = np.column_stack(cols)
    yv = data["y"].to_numpy(float)
    if d.weights:
        s = np.sqrt(data[d.weights].to_numpy(float))
        Z, yv = Z * s[:, None], yv * s
    beta = np.linalg.lstsq(Z, yv, rcond=None)[0]
    return pd.Series(beta[: len(names)], index=names)


FE_DESIGNS = [d for d in DESIGNS if d.fes and not d.id.startswith("collin")]


@pytest.mark.parametrize("d", FE_DESIGNS, ids=_design_id)
def test_reference_is_converged(d, panel_factory, pyfixest_reference):
    """Exact LSDV (numpy lstsq on explicit dummies) vs pyfixest at fixef_tol=1e-13: the
    reference must agree to 1e-10 for the 1e-8 comparisons above to mean anything."""
    df = panel_factory(seed=DESIGNS.index(d), **d.panel)
    ref = pyfixest_reference(d.fml, df, d.vcov, weights=d.weights, fixef_rm="none")
    exact = _lsdv(df, d)
    names = [str(n) for n in ref._coefnames]
    np.testing.assert_allclose(ref.coef().to_numpy(), exact[names].to_numpy(), rtol=1e-10)


# --------------------------------------------------------------------------------------------
# defaults, inference tables, frame handling
# --------------------------------------------------------------------------------------------
def test_default_vcov_is_cr1_first_fe(panel_factory, pyfixest_reference):
    """api.md: default vcov = {"CR1": first FE} with FE (fixest default; NB pyfixest 0.60
    defaults to iid, so the reference is called with the explicit spec), "iid" without FE;
    default fixef_rm = "none" (pyfixest's default is "singleton")."""
    df = panel_factory(seed=11, drop_frac=0.1, n_singletons=4)
    fit = pdid.feols(X3 + " | year + unit", df)
    ref = pyfixest_reference(X3 + " | year + unit", df, {"CR1": "year"}, fixef_rm="none")
    _assert_matches(fit, ref)
    assert fit.n_clusters == [df["year"].nunique()]
    assert fit.dropped_rows["singletons"] == 0

    fit0 = pdid.feols(X3, df)
    ref0 = pyfixest_reference(X3, df, "iid")
    _assert_matches(fit0, ref0)
    assert fit0.coefnames[0] == "Intercept"
    assert fit0.n_clusters is None


@pytest.mark.parametrize(
    "d",
    [
        d
        for d in DESIGNS
        if d.id
        in {"fe0-bal-iid", "fe2-unb-hetero", "fe2-unb-cr1", "fe3-unb-cr1-twoway", "w-fe2-unb-cr1"}
    ],
    ids=_design_id,
)
@pytest.mark.parametrize("level", [0.95, 0.90])
def test_tidy_and_confint_match_pyfixest(d, level, panel_factory, pyfixest_reference):
    """pyfixest 0.60 tidy()/confint(): t statistics to 1e-8; p-values and confidence bounds
    use t(df) with df = N - df_k (iid/hetero) or G - 1 (clustered; min G for two-way).
    Bounds to 1e-7 relative (the critical value comes from a different special-function
    library than scipy); p-values to 1e-6 relative or 1e-12 absolute (pyfixest computes
    1 - cdf, which underflows to 0 for large |t|)."""
    df = panel_factory(seed=DESIGNS.index(d), **d.panel)
    ours, ref = _fit_both(d, df, pyfixest_reference)
    names = [str(n) for n in ref._coefnames]
    alpha = 1.0 - level

    ci = ours.confint(level=level)
    assert isinstance(ci, pl.DataFrame)
    assert ci.columns == ["term", "conf_low", "conf_high"]
    assert ci["term"].to_list() == names
    ref_ci = ref.confint(alpha=alpha)
    np.testing.assert_allclose(ci["conf_low"].to_numpy(), ref_ci.iloc[:, 0].to_numpy(), rtol=1e-7)
    np.testing.assert_allclose(ci["conf_high"].to_numpy(), ref_ci.iloc[:, 1].to_numpy(), rtol=1e-7)

    if level == 0.95:
        tidy = ours.tidy()
        assert isinstance(tidy, pl.DataFrame)
        assert tidy.columns == [
            "term",
            "estimate",
            "std_error",
            "statistic",
            "p_value",
            "conf_low",
            "conf_high",
        ]
        rt = ref.tidy(alpha=alpha)
        assert tidy["term"].to_list() == names
        np.testing.assert_allclose(
            tidy["estimate"].to_numpy(), rt["Estimate"].to_numpy(), rtol=RTOL, atol=ATOL
        )
        np.testing.assert_allclose(
            tidy["std_error"].to_numpy(), rt["Std. Error"].to_numpy(), rtol=RTOL, atol=ATOL
        )
        np.testing.assert_allclose(
            tidy["statistic"].to_numpy(), rt["t value"].to_numpy(), rtol=RTOL, atol=ATOL
        )
        np.testing.assert_allclose(
            tidy["p_value"].to_numpy(), rt["Pr(>|t|)"].to_numpy(), rtol=1e-6, atol=1e-12
        )
        np.testing.assert_allclose(tidy["conf_low"].to_numpy(), rt["2.5%"].to_numpy(), rtol=1e-7)
        np.testing.assert_allclose(tidy["conf_high"].to_numpy(), rt["97.5%"].to_numpy(), rtol=1e-7)
        text = ours.summary()
        assert isinstance(text, str)
        for n in names:
            assert n in text


def _fit_arrays(fit):
    names = list(fit.coefnames)
    return (
        names,
        _as_array(fit.coef(), names),
        _as_array(fit.se(), names),
        np.asarray(fit.vcov()),
        fit.nobs,
        fit.r2,
        fit.r2_within,
    )


@pytest.mark.parametrize("string_ids", [False, True], ids=["int-ids", "str-ids"])
@pytest.mark.parametrize("weights", [None, "w"], ids=["unweighted", "weighted"])
def test_polars_and_pandas_give_identical_results(string_ids, weights, panel_factory, polars_frame):
    """Identity: the same rows as a pandas and as a polars frame give the same numbers
    (bit-identical with integer ids; 1e-13 with string ids, where the two front-ends may
    factorise the ids in a different order and so sum in a different order)."""
    df = panel_factory(seed=21, drop_frac=0.1, missing_x2=6, string_ids=string_ids)
    fml = X3 + " | unit + year"
    a = pdid.feols(fml, df, vcov=CR1_2WAY, weights=weights)
    b = pdid.feols(fml, polars_frame(df), vcov=CR1_2WAY, weights=weights)
    na, ca, sa, va, *rest_a = _fit_arrays(a)
    nb, cb, sb, vb, *rest_b = _fit_arrays(b)
    assert na == nb
    assert rest_a[0] == rest_b[0]  # nobs
    assert a.dropped_rows == b.dropped_rows
    assert a.n_clusters == b.n_clusters
    if string_ids:
        for x, y in ((ca, cb), (sa, sb), (va, vb)):
            np.testing.assert_allclose(x, y, rtol=1e-13, atol=0)
        assert rest_a[1] == pytest.approx(rest_b[1], rel=1e-13)
    else:
        np.testing.assert_array_equal(ca, cb)
        np.testing.assert_array_equal(sa, sb)
        np.testing.assert_array_equal(va, vb)
        assert rest_a[1:] == rest_b[1:]


def test_callers_frame_is_unchanged(panel_factory, polars_frame):
    """DESIGN.md 'the caller's frame is never mutated': deep copies taken before the call
    equal the frames afterwards (values, dtypes, column order, index), pandas and polars,
    including a frame with NaNs, string ids and a non-default index."""
    df = panel_factory(
        seed=31, drop_frac=0.1, missing_x2=5, missing_y=3, string_ids=True, n_singletons=2
    )
    df.index = pd.Index(np.arange(len(df)) * 3 + 1000, name="row")
    before = df.copy(deep=True)
    for rm in ("none", "singleton"):
        pdid.feols(X3 + " | unit + prov^year", df, vcov={"CR1": "unit"}, weights="w", fixef_rm=rm)
    pd.testing.assert_frame_equal(df, before, check_exact=True)
    assert list(df.columns) == list(before.columns)

    pdf = polars_frame(df.reset_index())
    pbefore = pdf.clone()
    pdid.feols(X3 + " | unit + year", pdf, vcov=CR1_2WAY, weights="w", fixef_rm="singleton")
    assert pdf.equals(pbefore, null_equal=True)
    assert pdf.columns == pbefore.columns
    assert pdf.schema == pbefore.schema


def test_column_order_row_order_and_index_do_not_matter(
    panel_factory, pyfixest_reference, polars_frame
):
    """pyfixest 0.60 on the canonical frame vs pilotdid on a frame with permuted columns,
    shuffled rows and a non-default (string) index, with string FE ids:
    numbers to 1e-8 (row order changes summation order only)."""
    df = panel_factory(seed=41, drop_frac=0.1, string_ids=True)
    fml = X3 + " | unit + year"
    ref = pyfixest_reference(fml, df, CR1_UNIT)
    rng = np.random.default_rng(0)
    cols = list(df.columns)
    rng.shuffle(cols)
    shuffled = df.iloc[rng.permutation(len(df))][cols]
    shuffled.index = pd.Index([f"r{i}" for i in range(len(shuffled))])
    fit = pdid.feols(fml, shuffled, vcov=CR1_UNIT)
    _assert_matches(fit, ref)
    fit_pl = pdid.feols(fml, polars_frame(shuffled), vcov=CR1_UNIT)
    _assert_matches(fit_pl, ref)


def test_hetero_and_hc1_are_the_same(panel_factory):
    """api.md: "hetero" and "HC1" name the same estimator (as in pyfixest/fixest)."""
    df = panel_factory(seed=51, drop_frac=0.1)
    a = pdid.feols(X3 + " | unit + year", df, vcov="hetero")
    b = pdid.feols(X3 + " | unit + year", df, vcov="HC1")
    np.testing.assert_array_equal(_as_array(a.se(), a.coefnames), _as_array(b.se(), b.coefnames))


def test_coef_se_consistent_with_vcov(panel_factory):
    """Identity: se == sqrt(diag(vcov)) and coef/se is the tidy statistic."""
    df = panel_factory(seed=61, drop_frac=0.1)
    fit = pdid.feols(X3 + " | unit + year", df, vcov=CR1_2WAY)
    names = fit.coefnames
    np.testing.assert_allclose(_as_array(fit.se(), names), np.sqrt(np.diag(fit.vcov())), rtol=1e-14)
    stat = fit.tidy()["statistic"].to_numpy()
    np.testing.assert_allclose(
        stat, _as_array(fit.coef(), names) / _as_array(fit.se(), names), rtol=1e-12
    )
    assert all(math.isfinite(v) for v in stat)


def _exact_twfe_slopes(df: pd.DataFrame, fe1: str, fe2: str, y: str, xs: list[str]) -> np.ndarray:
    """Exact FWL slopes for two fixed effects by a sparse direct solve of the normal equations,
    dropping one fe2 dummy per connected component of the fe1/fe2 graph (so D'D is regular)."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components
    from scipy.sparse.linalg import spsolve

    n = len(df)
    u = pd.factorize(df[fe1])[0]
    f = pd.factorize(df[fe2])[0]
    nu, nf = u.max() + 1, f.max() + 1
    graph = sp.csr_matrix((np.ones(n), (u, nu + f)), shape=(nu + nf, nu + nf))
    _, label = connected_components(graph, directed=False)
    _, first = np.unique(label[nu:], return_index=True)
    keep = np.setdiff1d(np.arange(nf), first)
    rows = np.arange(n)
    D = sp.hstack(
        [sp.csr_matrix((np.ones(n), (rows, u))), sp.csr_matrix((np.ones(n), (rows, f)))[:, keep]]
    ).tocsc()
    V = df[[y, *xs]].to_numpy(float)
    R = V - D @ spsolve((D.T @ D).tocsc(), D.T @ V)
    return np.linalg.lstsq(R[:, 1:], R[:, 0], rcond=None)[0]


@pytest.mark.slow
def test_slow_mixing_mover_design(mover_panel_factory, pyfixest_reference):
    """Hard case for an iterative solver (AKM-style worker + firm FE, 5% movers, 52 connected
    components, 100k rows): slopes vs an exact sparse direct solve to 1e-8 relative, and
    coefficients/SEs (CR1 by worker), r2, r2_within vs pyfixest 0.60 (fixef_tol 1e-13) to 1e-8."""
    df = mover_panel_factory()
    fml = "y ~ x1 + x2 | worker + firm"
    exact = _exact_twfe_slopes(df, "worker", "firm", "y", ["x1", "x2"])
    ref = pyfixest_reference(fml, df, {"CR1": "worker"})
    np.testing.assert_allclose(ref.coef().to_numpy(), exact, rtol=1e-10)
    fit = pdid.feols(fml, df, vcov={"CR1": "worker"})
    np.testing.assert_allclose(_as_array(fit.coef(), ["x1", "x2"]), exact, rtol=RTOL)
    _assert_matches(fit, ref)

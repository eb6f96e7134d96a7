"""Principal-components index (pilotdid.green.pca_index) and the index -> dose path (to_dose).

References: a numpy SVD computation of the same principal components (scores, eigenvectors,
eigenvalues to 1e-10, compared under pca_index's sign convention: each eigenvector's
largest-|.| entry positive, ties within 1e-12 going to the first indicator); the hand
formulas of the KMO measure (Kaiser 1974; partial correlations from the inverse correlation
matrix) and of Bartlett's (1951) sphericity test, chi2 = -(n - 1 - (2p + 5)/6) ln|R| on
p(p - 1)/2 df; and factor_analyzer 0.5.1's calculate_kmo / calculate_bartlett_sphericity.
"""

from __future__ import annotations

import contextlib

import numpy as np
import polars as pl
import pytest
from scipy import stats

from pilotdid import PilotdidError
from pilotdid.green import pca_index, to_dose
from pilotdid.results import PcaResult

TOL = 1e-10


def _design(seed: int, n: int, p: int, n_factors: int = 2) -> pl.DataFrame:
    """Indicators driven by a few common factors plus noise, on different scales."""
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, n_factors))
    load = rng.uniform(-1.0, 1.0, size=(n_factors, p))
    x = f @ load + rng.normal(scale=0.6, size=(n, p))
    x = x * rng.uniform(0.1, 50.0, size=p) + rng.uniform(-10.0, 100.0, size=p)
    cols = {f"x{j}": x[:, j] for j in range(p)}
    units = n // 5 + 1
    return pl.DataFrame(
        {
            "city": np.repeat(np.arange(units), 5)[:n],
            "year": np.tile(np.arange(2010, 2015), units)[:n],
            **cols,
        }
    )


def numpy_pca(x: np.ndarray, signs: np.ndarray, standardize: bool):
    """Eigenvalues, signed eigenvectors (columns) and scores by numpy's SVD."""
    n = x.shape[0]
    xs = x * signs
    zc = xs - xs.mean(axis=0)
    z = zc / zc.std(axis=0, ddof=1) if standardize else zc
    _, s, vt = np.linalg.svd(z, full_matrices=False)
    v = vt.T.copy()
    for k in range(v.shape[1]):
        top = np.abs(v[:, k]).max()
        lead = int(np.argmax(np.abs(v[:, k]) >= top * (1 - 1e-12)))
        if v[lead, k] < 0:
            v[:, k] *= -1
    return s**2 / (n - 1), v, z @ v


def hand_kmo_bartlett(x: np.ndarray):
    n, p = x.shape
    r = np.corrcoef(x, rowvar=False)
    inv = np.linalg.inv(r)
    q = -inv / np.sqrt(np.outer(np.diag(inv), np.diag(inv)))
    r0, q0 = r.copy(), q.copy()
    np.fill_diagonal(r0, 0.0)
    np.fill_diagonal(q0, 0.0)
    r2, q2 = (r0**2).sum(axis=0), (q0**2).sum(axis=0)
    kmo_j = r2 / (r2 + q2)
    kmo = r2.sum() / (r2.sum() + q2.sum())
    chi2 = -(n - 1 - (2 * p + 5) / 6) * np.log(np.linalg.det(r))
    df = p * (p - 1) // 2
    return kmo, kmo_j, chi2, df, stats.chi2.sf(chi2, df)


DESIGNS = [
    (seed, n, p, standardize)
    for seed, (n, p) in enumerate([(40, 3), (60, 4), (200, 6), (500, 8), (25, 5), (1000, 3)])
    for standardize in (True, False)
]


@pytest.mark.parametrize(("seed", "n", "p", "standardize"), DESIGNS)
def test_matches_numpy_svd(seed, n, p, standardize):
    """numpy SVD of the (standardised) data matrix, sign convention applied."""
    df = _design(seed, n, p)
    inds = [f"x{j}" for j in range(p)]
    negative = [inds[-1]] if seed % 2 else []
    res = pca_index(
        df,
        indicators=inds,
        negative=negative,
        unit="city",
        time="year",
        n_components=p,
        standardize=standardize,
    )
    signs = np.array([-1.0 if c in negative else 1.0 for c in inds])
    lam, v, scores = numpy_pca(df.select(inds).to_numpy(), signs, standardize)
    np.testing.assert_allclose(res.eigenvalues, lam, rtol=0, atol=TOL * max(1.0, lam[0]))
    np.testing.assert_allclose(res.eigenvectors, v, rtol=0, atol=TOL)
    got = res.scores.select([f"PC{k + 1}" for k in range(p)]).to_numpy()
    np.testing.assert_allclose(got, scores, rtol=0, atol=TOL * max(1.0, np.abs(scores).max()))
    np.testing.assert_allclose(res.explained, lam / lam.sum(), rtol=0, atol=TOL)
    # the index: explained-variance weights over the kept (here: all) components
    w = lam / lam.sum()
    np.testing.assert_allclose(
        res.scores["pca_index"].to_numpy(),
        scores @ w,
        rtol=0,
        atol=TOL * max(1.0, np.abs(scores).max()),
    )
    loadings = res.loadings.filter(pl.col("component") == "PC1")["loading"].to_numpy()
    np.testing.assert_allclose(loadings, v[:, 0] * np.sqrt(lam[0]), rtol=0, atol=TOL * 10)
    assert res.scores.columns[:2] == ["city", "year"] and res.nobs == n


@pytest.mark.parametrize(("seed", "n", "p", "standardize"), DESIGNS[::2])
def test_kmo_and_bartlett_equal_the_hand_formulas(seed, n, p, standardize):
    """KMO via partial correlations of the inverse correlation matrix; Bartlett's chi2."""
    df = _design(seed, n, p)
    inds = [f"x{j}" for j in range(p)]
    res = pca_index(df, indicators=inds, standardize=standardize)
    kmo, kmo_j, chi2, dof, pval = hand_kmo_bartlett(df.select(inds).to_numpy())
    assert res.kmo == pytest.approx(kmo, abs=TOL)
    np.testing.assert_allclose(list(res.kmo_per_variable.values()), kmo_j, rtol=0, atol=TOL)
    assert res.bartlett["chi2"] == pytest.approx(chi2, rel=TOL, abs=TOL)
    assert res.bartlett["df"] == dof
    assert res.bartlett["p_value"] == pytest.approx(pval, rel=1e-8, abs=TOL)


@pytest.mark.parametrize(("seed", "n", "p"), [(s, n, p) for s, n, p, _ in DESIGNS[::2]])
def test_kmo_and_bartlett_equal_factor_analyzer(seed, n, p):
    """factor_analyzer 0.5.1 calculate_kmo / calculate_bartlett_sphericity."""
    fa = pytest.importorskip("factor_analyzer.factor_analyzer")
    pd = pytest.importorskip("pandas")
    df = _design(seed, n, p)
    inds = [f"x{j}" for j in range(p)]
    frame = pd.DataFrame({c: df[c].to_numpy() for c in inds})
    kmo_j, kmo = fa.calculate_kmo(frame)
    chi2, pval = fa.calculate_bartlett_sphericity(frame)
    res = pca_index(df, indicators=inds)
    assert res.kmo == pytest.approx(kmo, abs=TOL)
    np.testing.assert_allclose(list(res.kmo_per_variable.values()), kmo_j, rtol=0, atol=TOL)
    assert res.bartlett["chi2"] == pytest.approx(chi2, rel=TOL, abs=TOL)
    assert res.bartlett["p_value"] == pytest.approx(pval, rel=1e-8, abs=TOL)


@pytest.mark.parametrize("standardize", [True, False])
def test_component_choice_rules(standardize):
    """Kaiser (eigenvalue above the mean eigenvalue: 1 when standardised) and cumulative share."""
    df = _design(7, 300, 6, n_factors=3)
    inds = [f"x{j}" for j in range(6)]
    lam, _, scores = numpy_pca(df.select(inds).to_numpy(), np.ones(6), standardize)
    res = pca_index(df, indicators=inds, standardize=standardize)
    m = max(1, int((lam > lam.mean()).sum()))
    assert res.n_components == m
    w = lam[:m] / lam[:m].sum()
    np.testing.assert_allclose(res.component_weights, w, rtol=0, atol=TOL)
    np.testing.assert_allclose(
        res.scores["pca_index"].to_numpy(),
        scores[:, :m] @ w,
        rtol=0,
        atol=TOL * max(1.0, np.abs(scores).max()),
    )
    cum = np.cumsum(lam) / lam.sum()
    for t in (0.5, 0.85, 0.99, 1.0):
        res = pca_index(
            df, indicators=inds, select="share", share_threshold=t, standardize=standardize
        )
        assert res.n_components == min(6, int(np.argmax(cum >= t - 1e-15)) + 1)
    res = pca_index(df, indicators=inds, n_components=2, select="share", component_weights="equal")
    assert res.n_components == 2 and list(res.component_weights) == [0.5, 0.5]
    assert res.scores.columns == ["pca_index", "PC1", "PC2"]


def test_standardised_eigenvalues_sum_to_p_and_kaiser_is_one():
    df = _design(3, 100, 5)
    res = pca_index(df, indicators=[f"x{j}" for j in range(5)])
    assert res.eigenvalues.sum() == pytest.approx(5.0, abs=1e-12)
    assert res.n_components == int((res.eigenvalues > 1.0).sum())


def test_sign_convention_with_two_standardised_indicators():
    """Both eigenvectors have entries of modulus 1/sqrt(2): the first indicator's is positive."""
    df = _design(11, 80, 2, n_factors=1)
    res = pca_index(df, indicators=["x0", "x1"], n_components=2)
    v = res.eigenvectors
    assert np.all(v[0] > 0)
    np.testing.assert_allclose(np.abs(v), np.sqrt(0.5), atol=1e-12)
    lam, vv, _ = numpy_pca(df.select("x0", "x1").to_numpy(), np.ones(2), True)
    np.testing.assert_allclose(v, vv, atol=TOL)


def test_result_protocol_and_display():
    df = _design(5, 60, 4)
    res = pca_index(df, indicators=["x0", "x1", "x2", "x3"], unit="city", time="year")
    assert isinstance(res, PcaResult)
    t = res.tidy()
    assert t.columns[:7] == [
        "term",
        "estimate",
        "std_error",
        "statistic",
        "p_value",
        "conf_low",
        "conf_high",
    ]
    assert t["term"].to_list() == ["PC1", "PC2", "PC3", "PC4"]
    assert res.coef()["PC1"] == pytest.approx(res.eigenvalues[0])
    text = str(res.summary())
    assert "KMO" in text and "Bartlett" in text and "x3" in text
    assert "<pre" in res._repr_html_()
    assert len(repr(res)) < 500
    assert res.dropped_rows == {}
    assert res.loadings.height == 16 and res.components.height == 4


def test_missing_rows_are_counted_not_silently_dropped():
    df = _design(2, 50, 3).with_columns(
        pl.when(pl.int_range(pl.len()) < 3).then(None).otherwise(pl.col("x1")).alias("x1"),
        pl.when(pl.int_range(pl.len()) == 10)
        .then(float("nan"))
        .otherwise(pl.col("x2"))
        .alias("x2"),
    )
    with pytest.warns(UserWarning, match="dropped 4 row"):
        res = pca_index(df, indicators=["x0", "x1", "x2"], unit="city", time="year")
    assert res.dropped_rows == {"missing indicator or id": 4}
    assert res.nobs == 46
    keep = df.filter(pl.col("x1").is_not_null() & ~pl.col("x2").is_nan())
    lam, _, _ = numpy_pca(keep.select("x0", "x1", "x2").to_numpy(), np.ones(3), True)
    np.testing.assert_allclose(res.eigenvalues, lam, atol=TOL)


@pytest.mark.parametrize(
    ("change", "kwargs", "words"),
    [
        ("constant", {}, ["'x1'", "constant"]),
        ("inf", {}, ["'x2'", "non-finite"]),
        ("huge", {}, ["'x0'", "overflow"]),
        ("all_nan", {}, ["no complete rows"]),
        ("short", {}, ["3 complete row", "4 indicators", "more rows"]),
        (None, {"indicators": ["x0"]}, ["indicators", "at least two"]),
        (None, {"n_components": 0}, ["n_components", "1", "4"]),
        (None, {"n_components": 5}, ["n_components", "out of range", "4"]),
        (None, {"select": "kaiser"}, ["select", "'eigenvalue'", "'share'"]),
        (None, {"share_threshold": 1.5}, ["share_threshold", "out of range"]),
        (None, {"share_threshold": 0.0}, ["share_threshold"]),
        (None, {"component_weights": "first"}, ["component_weights", "'variance'"]),
        (None, {"negative": ["zz"]}, ["negative", "'zz'"]),
        (None, {"indicators": ["x0", "x0", "x1"]}, ["indicators", "'x0'", "twice"]),
        (None, {"standardize": 1}, ["standardize"]),
        (None, {"indicators": 5}, ["indicators"]),
        (None, {"indicators": []}, ["indicators"]),
        (None, {"negative": 3}, ["negative"]),
    ],
)
def test_bad_input_is_a_clear_error(change, kwargs, words):
    df = _design(4, 40, 4)
    if change == "constant":
        df = df.with_columns(pl.lit(3.5).alias("x1"))
    elif change == "inf":
        df = df.with_columns(
            pl.when(pl.int_range(pl.len()) == 7)
            .then(float("inf"))
            .otherwise(pl.col("x2"))
            .alias("x2")
        )
    elif change == "huge":
        df = df.with_columns(pl.col("x0") * 1e306)
    elif change == "all_nan":
        df = df.with_columns(pl.lit(float("nan")).alias("x3"))
    elif change == "short":
        df = df.head(3)
    opts = {"indicators": ["x0", "x1", "x2", "x3"], **kwargs}
    warned = pytest.warns(UserWarning) if change == "all_nan" else contextlib.nullcontext()
    with pytest.raises(PilotdidError) as err, warned:
        pca_index(df, **opts)
    msg = str(err.value)
    for w in words:
        assert w in msg, msg


def test_old_option_names_point_to_the_new_ones():
    df = _design(4, 40, 3)
    with pytest.raises(TypeError, match="indicators"):
        pca_index(df, columns=["x0", "x1"])
    with pytest.raises(TypeError, match="component_weights"):
        pca_index(df, indicators=["x0", "x1"], weights="variance")


def test_collinear_indicators_leave_kmo_undefined_with_a_note():
    df = _design(6, 50, 3).with_columns((2.0 * pl.col("x0") + 1.0).alias("x3"))
    res = pca_index(df, indicators=["x0", "x1", "x2", "x3"])
    assert np.isnan(res.kmo) and np.isnan(res.bartlett["chi2"])
    assert res.notes and "singular" in res.notes[0]
    assert "singular" in str(res.summary())
    assert res.eigenvalues[-1] == pytest.approx(0.0, abs=1e-10)


def test_callers_frame_is_unchanged():
    pd = pytest.importorskip("pandas")
    df = _design(8, 40, 3).with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise(pl.col("x0")).alias("x0"),
        pl.when(pl.col("city") % 2 == 1).then(2012).otherwise(0).alias("cohort"),
    )
    before = df.clone()
    with pytest.warns(UserWarning):
        res = pca_index(df, indicators=["x0", "x1", "x2"], unit="city", time="year")
    assert df.equals(before)
    pdf = pd.DataFrame({c: df[c].to_numpy() for c in df.columns})
    pbefore = pdf.copy()
    with pytest.warns(UserWarning):
        res_pd = pca_index(pdf, indicators=["x0", "x1", "x2"], unit="city", time="year")
    assert pdf.equals(pbefore)
    np.testing.assert_array_equal(res.eigenvalues, res_pd.eigenvalues)
    panel = df.join(res.scores, on=["city", "year"], how="left")
    before = panel.clone()
    to_dose(panel, index="pca_index", unit="city", time="year", cohort="cohort")
    assert panel.equals(before)


# --- to_dose ------------------------------------------------------------------------------
def _dose_panel() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "city": ["a"] * 4 + ["b"] * 4 + ["c"] * 4,
            "year": [2010, 2011, 2012, 2013] * 3,
            "cohort": [2012] * 4 + [0] * 4 + [2011] * 4,
            "idx": [1.0, 2.0, 5.0, 4.0, 3.0, 9.0, 1.0, 2.0, 0.5, 1.5, 2.5, 4.5],
        }
    )


def test_to_dose_path_is_the_change_since_the_pre_pilot_year():
    out = to_dose(_dose_panel(), index="idx", unit="city", time="year", cohort="cohort")
    # a: base 2011 = 2.0 -> 0, 0, 3, 2;  b never: 0;  c: base 2010 = 0.5 -> 0, 1, 2, 4
    assert out["dose"].to_list() == [0, 0, 3, 2, 0, 0, 0, 0, 0, 1, 2, 4]
    assert out.columns == ["city", "year", "cohort", "idx", "dose"]


def test_to_dose_unit_is_the_mean_post_pilot_change_on_every_row():
    out = to_dose(
        _dose_panel(), index="idx", unit="city", time="year", cohort="cohort", kind="unit", name="D"
    )
    assert out["D"].to_list() == [2.5] * 4 + [0.0] * 4 + [7 / 3] * 4


def test_to_dose_gaps_unsorted_rows_and_null_cohorts():
    df = _dose_panel().with_columns(
        pl.when(pl.col("cohort") == 0).then(None).otherwise(pl.col("cohort")).alias("cohort")
    )
    df = df.filter(~((pl.col("city") == "a") & (pl.col("year") == 2011))).reverse()
    out = to_dose(df, index="idx", unit="city", time="year", cohort="cohort")
    got = dict(zip(zip(out["city"], out["year"]), out["dose"]))
    # a's last pre-pilot value is now 2010's (1.0)
    assert got[("a", 2012)] == 4.0 and got[("a", 2013)] == 3.0 and got[("b", 2011)] == 0.0


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("no_base", ["unit 'c'", "before its pilot"]),
        ("varying", ["cohort", "varies within unit"]),
        ("dup", ["appears twice"]),
        ("name", ["option 'name'"]),
        ("kind", ["kind", "'path'"]),
    ],
)
def test_to_dose_bad_input(change, words):
    df = _dose_panel()
    kw = {"index": "idx", "unit": "city", "time": "year", "cohort": "cohort"}
    if change == "no_base":
        df = df.filter(~((pl.col("city") == "c") & (pl.col("year") == 2010)))
    elif change == "varying":
        df = df.with_columns(
            pl.when((pl.col("city") == "a") & (pl.col("year") == 2013))
            .then(2013)
            .otherwise(pl.col("cohort"))
            .alias("cohort")
        )
    elif change == "dup":
        df = pl.concat([df, df.head(1)])
    elif change == "name":
        kw["name"] = "idx"
    elif change == "kind":
        kw["kind"] = "level"
    with pytest.raises(PilotdidError) as err:
        to_dose(df, **kw)
    for w in words:
        assert w in str(err.value), str(err.value)


def test_pca_index_to_dose_round_trip_on_the_synthetic_panel():
    """The documented path: index -> join -> dose, zero before the pilot and for controls."""
    from pilotdid import datasets

    panel = datasets.yrd()
    res = pca_index(
        panel,
        indicators=["urbanization", "fin_dev", "human_capital", "ln_gdp_pc"],
        unit="city",
        time="year",
    )
    joined = panel.join(res.scores.select("city", "year", "pca_index"), on=["city", "year"])
    out = to_dose(joined, index="pca_index", unit="city", time="year", cohort="cohort")
    pre = out.filter((pl.col("cohort") == 0) | (pl.col("year") < pl.col("cohort")))
    assert (pre["dose"] == 0).all()
    assert out.filter(pl.col("year") >= pl.col("cohort"))["dose"].null_count() == 0

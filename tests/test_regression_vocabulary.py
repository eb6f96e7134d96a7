"""The one vocabulary for the regression family and the output layer (issue 14).

Reference: the contract of issue 14 (common brief, rules 1-8): old spellings raise TypeError
naming the new one; every option is checked before any work (PilotdidError naming the
option); FeolsResult and WildBootResult follow the result protocol; the data checks of
``_frame`` (one message for non-frames, repeated pandas names, infinite ids, mixed object
columns) hold for every family; etable reads results only through the protocol.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import polars as pl
import pytest

import pilotdid as pdid
from pilotdid import figures as F
from pilotdid.results._protocol import TIDY_COLUMNS, ResultProtocol

FML = "y ~ x1 + x2 | unit + year"


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    from conftest import make_panel

    return make_panel(seed=11, n_units=40, n_periods=6)


@pytest.fixture(scope="module")
def fit(df):
    return pdid.feols(FML, df, vcov={"CR1": "unit"})


@pytest.fixture(scope="module")
def boot(fit):
    return fit.wildboottest("x1", reps=199, seed=3)


def _raises(fn, *fragments, exc=pdid.PilotdidError):
    with pytest.raises(exc) as info:
        fn()
    msg = str(info.value)
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in {msg!r}"
    return msg


# ------------------------------------------------------------------------------------------
# (a) old spellings and positional options
# ------------------------------------------------------------------------------------------
def test_wildboottest_weights_is_now_weight_type(fit):
    """rule 3: 'weights' (the regression weights' name) -> 'weight_type' for the bootstrap."""
    _raises(lambda: fit.wildboottest("x1", weights="webb"), "weight_type", exc=TypeError)


def test_positional_options_are_refused(df, fit):
    """rule 1: everything after (fml, data) / data / the first input is keyword-only."""
    _raises(lambda: pdid.feols(FML, df, {"CR1": "unit"}), "keyword-only", exc=TypeError)
    _raises(lambda: fit.wildboottest("x1", 99), "keyword-only", exc=TypeError)
    _raises(lambda: pdid.describe(df, ["y"]), "keyword-only", exc=TypeError)
    _raises(lambda: F.weights_figure(np.eye(2), [0, 1], [0, 1]), "keyword-only", exc=TypeError)
    _raises(lambda: F.save_figure(None, "x", ("png",)), "keyword-only", exc=TypeError)


def test_unknown_keywords_suggest_the_name(df):
    _raises(lambda: pdid.feols(FML, df, clustr="unit"), "cluster", exc=TypeError)


# ------------------------------------------------------------------------------------------
# vcov vocabulary: synonyms give the same numbers
# ------------------------------------------------------------------------------------------
def test_vcov_synonyms_give_identical_fits(df):
    """'HC1' is an accepted synonym of 'hetero' (the TOML spec writes it); 'CRV1' of 'CR1';
    cluster='a' and cluster='a+b' are pyfixest's shortcut for vcov={'CR1': ...}."""
    pairs = [
        (dict(vcov="hetero"), dict(vcov="HC1")),
        (dict(vcov={"CR1": "unit"}), dict(vcov={"CRV1": "unit"})),
        (dict(vcov={"CR1": "unit"}), dict(cluster="unit")),
        (dict(vcov={"CR1": "unit+year"}), dict(cluster="unit+year")),
        (dict(vcov={"CR1": "unit+year"}), dict(cluster=["unit", "year"])),
        (dict(vcov={"CR1": "unit"}), dict(vcov="CR1", cluster="unit")),
        (dict(vcov={"CR1": "unit"}), dict(vcov={"CR1": "unit"}, cluster="unit")),
    ]
    for a, b in pairs:
        fa, fb = pdid.feols(FML, df, **a), pdid.feols(FML, df, **b)
        assert fa.se() == fb.se(), (a, b)
        assert fa.vcov_type == fb.vcov_type
        assert fa.clusters == fb.clusters


def test_vcov_and_cluster_must_agree(df):
    _raises(lambda: pdid.feols(FML, df, vcov="hetero", cluster="unit"), "'vcov'", "'cluster'")
    _raises(lambda: pdid.feols(FML, df, vcov={"CR1": "year"}, cluster="unit"), "disagree")
    _raises(lambda: pdid.feols(FML, df, vcov="CR1"), "'vcov'", "cluster")
    _raises(lambda: pdid.feols(FML, df, cluster="a+b+c"), "'cluster'")
    _raises(lambda: pdid.feols(FML, df, cluster=3), "'cluster'")
    _raises(lambda: pdid.feols(FML, df, vcov={"HC3": "unit"}), "'vcov'", "HC3")


# ------------------------------------------------------------------------------------------
# (b) bad option values
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kw", "name"),
    [
        (dict(fixef_rm="singletons"), "fixef_rm"),
        (dict(fixef_tol=float("nan")), "fixef_tol"),
        (dict(fixef_tol=0.0), "fixef_tol"),
        (dict(fixef_maxiter=0), "fixef_maxiter"),
        (dict(fixef_maxiter=2.5), "fixef_maxiter"),
        (dict(weights=3), "weights"),
        (dict(vcov=3), "vcov"),
    ],
)
def test_feols_bad_options_name_the_option(df, kw, name):
    _raises(lambda: pdid.feols(FML, df, **kw), f"'{name}'")


def test_formula_must_be_a_string(df):
    _raises(lambda: pdid.feols(None, df), "'fml'", "formula")


@pytest.mark.parametrize(
    ("kw", "name"),
    [
        (dict(reps=0), "reps"),
        (dict(reps=1.5), "reps"),
        (dict(reps=float("inf")), "reps"),
        (dict(seed=-1), "seed"),
        (dict(seed=None), "seed"),
        (dict(seed=2**64), "seed"),
        (dict(weight_type="normal"), "weight_type"),
        (dict(level=1.0), "level"),
        (dict(level=float("nan")), "level"),
        (dict(r=float("inf")), "r"),
    ],
)
def test_wildboottest_bad_options_name_the_option(fit, kw, name):
    _raises(lambda: fit.wildboottest("x1", **kw), f"'{name}'")


def test_wildboottest_absurd_reps_refused_quickly(fit):
    """reps = 10**9 would need 64 GB (64 bytes per replicate, wild_bootstrap.rs): refused
    before any draw, in well under a second."""
    start = time.perf_counter()
    msg = _raises(lambda: fit.wildboottest("x1", reps=10**9), "'reps'")
    assert "memory" in msg or "100000000" in msg
    assert time.perf_counter() - start < 1.0
    _raises(lambda: fit.wildboottest("x1", reps=10**12), "'reps'")


def test_wildboottest_bad_param(fit):
    _raises(lambda: fit.wildboottest({"x1": float("nan")}), "param")
    _raises(lambda: fit.wildboottest(3), "'param'")
    _raises(lambda: fit.wildboottest("nope"), "'param'", "nope")


def test_wildboottest_weight_type_is_case_insensitive(fit):
    a = fit.wildboottest("x1", reps=99, seed=1, weight_type="Webb")
    b = fit.wildboottest("x1", reps=99, seed=1, weight_type="webb")
    assert a.weight_type == "webb"
    np.testing.assert_array_equal(a.t_boot, b.t_boot)


@pytest.mark.parametrize(
    ("kw", "name"),
    [
        (dict(digits=-1), "digits"),
        (dict(digits=2.5), "digits"),
        (dict(stars=(0.1, 2.0)), "stars[1]"),
        (dict(stars=(float("nan"),)), "stars[0]"),
        (dict(stars="***"), "stars"),
        (dict(stat="z"), "stat"),
        (dict(lang="fr"), "lang"),
        (dict(fe_rows="yes"), "fe_rows"),
        (dict(labels=["x1"]), "labels"),
        (dict(controls=3), "controls"),
        (dict(model_names="a"), "model_names"),
        (dict(title=3), "title"),
    ],
)
def test_etable_bad_options_name_the_option(fit, kw, name):
    _raises(lambda: pdid.etable([fit], **kw), f"'{name}'")


@pytest.mark.parametrize(
    ("kw", "name"),
    [
        (dict(digits=-1), "digits"),
        (dict(stats="N"), "stats"),
        (dict(stats=("N", "kurtosis")), "stats"),
        (dict(columns=3), "columns"),
        (dict(lang="de"), "lang"),
    ],
)
def test_describe_bad_options_name_the_option(df, kw, name):
    _raises(lambda: pdid.describe(df, **kw), f"'{name}'")


def test_figure_bad_options_name_the_option(fit):
    W = np.array([[0.0, 1.0], [1.0, 0.0]])
    _raises(lambda: F.weights_figure(W, lat=[30, 31], lon=[120, 121], lang="fr"), "'lang'")
    _raises(lambda: F.weights_figure(W, lat=[30, 31], lon=[120, 121], max_edges=-1), "max_edges")
    _raises(lambda: F.weights_figure(W, lat=[30, 31], lon=[120, 121], figsize=(0, 3)), "figsize")
    _raises(lambda: F.save_figure(None, "x", dpi=0), "'dpi'")


# ------------------------------------------------------------------------------------------
# data checks, once for every family (_frame)
# ------------------------------------------------------------------------------------------
def test_data_none_and_non_frames_one_message():
    cases = [(None, "NoneType"), ([1, 2], "list"), ("y", "str"), (pd.Series([1.0]), "Series")]
    for bad, kind in cases:
        _raises(
            lambda bad=bad: pdid.feols("y ~ x", bad),
            f"data: expected a polars or pandas DataFrame or a dict of numpy arrays, got {kind}",
        )
    _raises(lambda: pdid.describe(None), "got NoneType")


def test_pandas_repeated_column_names_are_refused(df):
    dup = df[["y", "x1", "x2", "unit", "year"]].copy()
    dup.columns = ["y", "x1", "x1", "unit", "year"]
    _raises(lambda: pdid.feols("y ~ x1 | unit", dup), "repeated column names", "'x1'")
    # a repeated name the call does not use is no obstacle
    dup.columns = ["y", "x1", "unit", "z", "z"]
    assert pdid.feols("y ~ x1", dup).nobs == len(dup)


def test_infinite_ids_are_refused(df):
    """+inf and -inf would both be cast to one integer and merge two units."""
    bad = df.copy()
    u = bad["unit"].to_numpy(dtype=float)
    u[u == u.max()] = np.inf
    u[u == u.min()] = -np.inf
    bad["unit"] = u
    _raises(lambda: pdid.feols(FML, bad), "column 'unit'", "infinite")
    # NaN is missing, not infinite: counted and dropped as before
    ok = df.copy()
    ok["unit"] = np.where(ok["unit"] == ok["unit"].max(), np.nan, ok["unit"].astype(float))
    assert pdid.feols(FML, ok).dropped_rows["missing"] == int(np.isnan(ok["unit"]).sum())


def test_object_columns_converted_or_refused_clearly(df):
    base = df[["y", "x1", "unit", "year"]].copy()
    # numbers in an object column (pandas, and numpy object arrays in a dict) are numbers
    num = base.copy()
    num["x1"] = num["x1"].astype(object)
    ref = pdid.feols("y ~ x1 | unit", base).coef()
    assert pdid.feols("y ~ x1 | unit", num).coef() == ref
    as_dict = {c: base[c].to_numpy() for c in base.columns}
    as_dict["x1"] = as_dict["x1"].astype(object)
    assert pdid.feols("y ~ x1 | unit", as_dict).coef() == ref
    # strings and numbers mixed: refused (1 and "1" would otherwise become one id)
    mixed = base.copy()
    mixed["unit"] = [str(u) if i % 2 else int(u) for i, u in enumerate(mixed["unit"])]
    _raises(lambda: pdid.feols("y ~ x1 | unit", mixed), "column 'unit'", "mixes strings")
    # unreadable Python objects: refused naming the column and the type
    odd = base.copy()
    odd["x1"] = [object() for _ in range(len(odd))]
    _raises(lambda: pdid.feols("y ~ x1 | unit", odd), "column 'x1'", "object")


def test_dict_columns_of_different_lengths():
    _raises(lambda: pdid.feols("y ~ x", {"y": np.ones(5), "x": np.ones(4)}), "lengths")


# ------------------------------------------------------------------------------------------
# (c) the result protocol
# ------------------------------------------------------------------------------------------
def _check_protocol(res, capsys):
    assert isinstance(res, ResultProtocol)
    for getter in (res.coef, res.se, res.pvalue):
        d = getter()
        assert isinstance(d, dict) and d
    t = res.tidy()
    assert isinstance(t, pl.DataFrame) and tuple(t.columns) == TIDY_COLUMNS
    assert tuple(res.confint().columns) == ("term", "conf_low", "conf_high")
    p = res.tidy(as_pandas=True)
    assert isinstance(p, pd.DataFrame) and tuple(p.columns) == TIDY_COLUMNS
    capsys.readouterr()
    s = res.summary()
    assert isinstance(s, str) and s
    assert capsys.readouterr().out == ""
    assert len(repr(res)) < 500
    assert isinstance(res._repr_html_(), str)
    return t


def test_feols_result_follows_the_protocol(fit, capsys):
    t = _check_protocol(fit, capsys)
    assert t["term"].to_list() == fit.coefnames
    assert fit.pvalue() == dict(zip(t["term"].to_list(), t["p_value"].to_list()))
    assert fit.vcov().shape == (len(fit.coefnames), len(fit.coefnames))
    assert "Fixed-effects OLS" in fit.summary() and "x1" in fit.summary()
    assert fit.tidy(0.9)["conf_low"][0] > fit.tidy(0.95)["conf_low"][0]
    assert fit.nobs > 0 and isinstance(fit.dropped_rows, dict)
    with pytest.raises(TypeError):
        fit.summary(print_=False)


def test_wildboot_result_follows_the_protocol(boot, capsys):
    """One term, the hypothesis; its p-value is the bootstrap p; std_error NaN (as
    fwildclusterboot's tidy, which has none)."""
    t = _check_protocol(boot, capsys)
    assert t.height == 1 and t["term"][0] == boot.hypothesis == "x1 = 0"
    assert boot.pvalue() == {"x1 = 0": boot.p_value}
    assert boot.coef() == {"x1 = 0": boot.estimate}
    assert t["statistic"][0] == boot.t_stat
    assert (t["conf_low"][0], t["conf_high"][0]) == boot.conf_int
    assert np.isnan(t["std_error"][0])
    assert "Wild cluster bootstrap (WCR, rademacher, 199 reps, seed 3)" in boot.summary()


def test_wildboot_interval_only_at_its_level(fit):
    b90 = fit.wildboottest("x1", reps=199, seed=3, level=0.9)
    assert (b90.tidy()["conf_low"][0], b90.tidy()["conf_high"][0]) == b90.conf_int
    assert b90.confint(0.9)["conf_low"][0] == b90.conf_int[0]
    _raises(lambda: b90.confint(0.95), "'level'", "0.9")
    assert b90.pvalue() == {"x1 = 0": b90.p_value}  # coef/se/pvalue need no interval


def test_etable_reads_any_protocol_result(fit, boot):
    """A result etable has no dedicated adapter for is read through tidy() and nobs."""
    tab = pdid.etable([fit, boot], stat="p")
    frame = tab.frame
    row = frame.filter(pl.col("variable") == "x1 = 0")
    assert row["(2)"][0].startswith(f"{boot.estimate:.3f}")


@pytest.mark.parametrize("estimator", ["twfe", "did2s", "cs", "sa"])
def test_etable_event_study_pvalues_are_the_estimators_own(estimator):
    """etable's p-value under each event time equals the one scipy gives from the estimate
    and SE (Student t on the estimator's df_t where its intervals use one, normal
    otherwise), i.e. etable reads the result's own inference and adds none."""
    from scipy import stats as st

    from pilotdid import datasets

    es = pdid.event_study(
        datasets.yrd(),
        y="gtfp",
        time="year",
        unit="city",
        cohort="cohort",
        estimator=estimator,
        window=(-3, 3),
    )
    t = es.tidy(es.level)
    df_t = es.extra.get("df_t")
    frame = pdid.etable([es], stat="p", digits=12).frame
    checked = 0
    for r in t.iter_rows(named=True):
        if not (np.isfinite(r["std_error"]) and r["std_error"] > 0):
            continue
        z = r["estimate"] / r["std_error"]
        want = 2 * (st.t.sf(abs(z), df_t) if df_t else st.norm.sf(abs(z)))
        rows = frame["variable"].to_list()
        k = rows.index(f"e = {int(r['event_time'])}")
        shown = float(frame["(1)"][k + 1].strip("()"))
        assert shown == pytest.approx(want, abs=1e-11)
        checked += 1
    assert checked >= 5


def test_ci_note_names_the_intervals_level(fit):
    text = pdid.etable([fit], stat="ci").to_markdown()
    assert "95% confidence intervals" in text

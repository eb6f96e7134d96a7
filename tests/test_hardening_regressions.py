"""Every bad input listed in issue 13 as a named regression test.

Reference: the issue's own list (crashes, hangs, panics, silent wrong answers, unhelpful
errors) and the contract of ../shared/STYLE.md: a clear error that names the option, column or
value; never a panic, an abort or a silent NaN. The acceptance cases that need a subprocess
(SIGINT during 10**9 Moran permutations, MemoryError under a 3 GB address-space limit) are in
tests/test_interrupts_memory.py; report safety in tests/test_report_safety.py.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import pilotdid as pdid
from pilotdid import PilotdidError, datasets


@pytest.fixture(scope="module")
def df() -> pl.DataFrame:
    return datasets.yrd()


@pytest.fixture(scope="module")
def fit(df):
    return pdid.feols("gtfp ~ did + ln_gdp_pc | city + year", df, cluster="city")


@pytest.fixture(scope="module")
def W():
    c = datasets.yrd_cities()
    return pdid.weights.knn(c["lat"].to_numpy(), c["lon"].to_numpy(), k=4, ids=c["city_en"])


def _err(call, *fragments, kind=PilotdidError):
    with pytest.raises(kind) as e:
        call()
    msg = str(e.value)
    assert "PanicException" not in type(e.value).__name__
    assert "internal error" not in msg
    for f in fragments:
        assert f in msg, (f, msg)
    return msg


# --- 3. crashes and hangs: absurd replicate counts are refused before any work ---------------
def test_wildboottest_reps_1e9_refused(fit):
    _err(lambda: fit.wildboottest("did", reps=10**9), "option 'reps'", "GB")


def test_impacts_reps_1e9_refused(df, W):
    sdm = pdid.sdm("gtfp ~ did + ln_gdp_pc", df, W=W, unit="city", time="year")
    _err(lambda: sdm.impacts(reps=10**12), "option 'reps'")


def test_spatial_did_reps_1e9_refused(df, W):
    _err(
        lambda: pdid.spatial_did(
            df, y="gtfp", treatment="did", unit="city", time="year", W=W, reps=10**12
        ),
        "option 'reps'",
    )


def test_mediation_reps_1e9_refused(df):
    _err(
        lambda: pdid.mediation(
            df,
            y="gtfp",
            treatment="did",
            mediators=["ind_upgrade"],
            fixef="city + year",
            reps=10**9,
        ),
        "option 'reps'",
        "GB",
    )


def test_aggte_biters_2_63_refused(df):
    cs = pdid.att_gt(df, y="gtfp", time="year", unit="city", cohort="cohort")
    _err(lambda: pdid.aggte(cs, bstrap=True, biters=2**63), "option 'reps'")


def test_att_gt_bootstrap_reps_1e9_refused(df):
    _err(
        lambda: pdid.att_gt(
            df, y="gtfp", time="year", unit="city", cohort="cohort", bstrap=True, reps=10**9
        ),
        "option 'reps'",
    )


def test_from_sparse_n_1e12_refused():
    _err(lambda: pdid.weights.from_sparse(rows=[0, 1], cols=[1, 0], n=10**12), "option 'n'")


def test_moran_local_reps_2_63_refused(df, W):
    y = np.arange(41, dtype=float)
    _err(lambda: pdid.moran_local(y, W=W, reps=2**63), "option 'reps'")


# --- 4. panics ------------------------------------------------------------------------------
def test_aggte_alp_negative_names_alp(df):
    cs = pdid.att_gt(df, y="gtfp", time="year", unit="city", cohort="cohort")
    _err(lambda: pdid.aggte(cs, alp=-0.5), "'alp'")


def test_event_study_wild_bootstrap_reps_2_63(df):
    es = pdid.twfe_event_study(df, y="gtfp", unit="city", time="year", cohort="cohort")
    _err(lambda: es.wild_bootstrap(0, reps=2**63), "'reps'")


def test_heterogeneity_object_column_names_it(df):
    pd = pytest.importorskip("pandas")
    p = pd.DataFrame({c: df[c].to_numpy() for c in ("gtfp", "did", "city", "year")})
    p["grp"] = pd.Series([frozenset([i % 2]) for i in range(len(p))], dtype=object)
    _err(
        lambda: pdid.heterogeneity(p, y="gtfp", treatment="did", by="grp", fixef="city + year"),
        "column 'grp'",
    )


def test_moderation_at_nan_names_at(df):
    _err(
        lambda: pdid.moderation(
            df,
            y="gtfp",
            treatment="did",
            moderator="human_capital",
            fixef="city + year",
            at=[float("nan")],
        ),
        "'at",
    )


# --- 5. silent wrong answers ----------------------------------------------------------------
def test_infinite_unit_ids_refused(df):
    d = df.with_columns(
        pl.when(pl.col("city") == "Shanghai")
        .then(np.inf)
        .when(pl.col("city") == "Nanjing")
        .then(-np.inf)
        .otherwise(pl.col("city_id").cast(pl.Float64))
        .alias("uid")
    )
    _err(lambda: pdid.feols("gtfp ~ did | uid + year", d), "column 'uid'", "infinite")


def test_moran_on_a_constant_variable_raises(W):
    _err(lambda: pdid.moran(np.ones(41), W=W, reps=99), "constant")


def test_cs_cells_emptied_by_trimming_are_skipped_with_the_reason():
    """One never-treated unit among 260 treated: DRDID's propensity-score trimming (>= 0.995)
    removes the only comparison unit. The cell is skipped with that reason (it was
    'estimated' with ATT = SE = NaN) and aggte refuses instead of returning NaN (with some
    cells left, its notes say how many it left out)."""
    rng = np.random.default_rng(3)
    n, periods = 261, [1, 2, 3]
    unit = np.repeat(np.arange(n), len(periods))
    time = np.tile(periods, n)
    cohort = np.where(unit == 0, 0, 3)
    y = rng.normal(size=unit.size) + (time >= cohort) * (cohort > 0)
    d = pl.DataFrame({"u": unit, "t": time, "g": cohort, "y": y})
    for method in ("dr", "ipw"):
        res = pdid.att_gt(d, y="y", time="t", unit="u", cohort="g", est_method=method)
        skipped = res.skipped
        assert skipped and all("trimmed" in reason for _, _, reason in skipped), skipped
        # every cell was trimmed away: the aggregation refuses (it returned NaN before)
        with pytest.raises(PilotdidError, match="no estimated ATT"):
            pdid.aggte(res, type="simple")


def test_lm_tests_with_inf_in_y_refused(df, W):
    d = df.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(np.inf).otherwise(pl.col("gtfp")).alias("gtfp")
    )
    _err(lambda: pdid.lm_tests("gtfp ~ did", d, W=W, unit="city", time="year"), "'gtfp'")


def test_sa_ref_period_outside_the_data_refused(df):
    _err(
        lambda: pdid.event_study(
            df,
            y="gtfp",
            unit="city",
            time="year",
            cohort="cohort",
            estimator="sa",
            ref_period=-99,
        ),
        "option 'ref_period'",
        "-99",
    )


def test_fractional_window_refused(df):
    _err(
        lambda: pdid.event_study(
            df, y="gtfp", unit="city", time="year", cohort="cohort", window=(1.5, 2)
        ),
        "option 'window",
    )


def test_fractional_sparse_indices_refused():
    _err(lambda: pdid.weights.from_sparse(rows=[0.5, 1.7, 2.2], cols=[1, 2, 0], n=3), "'rows'")


@pytest.mark.parametrize(
    "build",
    [
        lambda: pdid.weights.from_adjacency({}),
        lambda: pdid.weights.economic([]),
        lambda: pdid.weights.from_dense(np.zeros((0, 0))),
    ],
    ids=["from_adjacency({})", "economic([])", "from_dense(0x0)"],
)
def test_empty_weights_refused(build):
    _err(build, "no units")


# --- 6. unhelpful errors ----------------------------------------------------------------------
def test_placebo_reps_none_names_reps(fit):
    _err(lambda: pdid.placebo(fit, reps=None), "option 'reps'")


def test_window_string_names_window(df):
    _err(
        lambda: pdid.event_study(
            df, y="gtfp", unit="city", time="year", cohort="cohort", window="x"
        ),
        "option 'window'",
    )


def test_negative_seed_names_seed(fit):
    _err(lambda: pdid.placebo(fit, reps=9, seed=-1), "option 'seed'")


def test_duplicate_pandas_column_names_are_named(df):
    pd = pytest.importorskip("pandas")
    p = pd.DataFrame({c: df[c].to_numpy() for c in ("gtfp", "did", "city", "year")})
    p = pd.concat([p, p[["gtfp"]]], axis=1)
    _err(lambda: pdid.feols("gtfp ~ did | city + year", p), "'gtfp'")


def test_data_none_one_clear_message():
    _err(lambda: pdid.feols("y ~ x", None), "data", "NoneType")

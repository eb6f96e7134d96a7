"""Three-step mediation (pilotdid.mediation) and two-step mechanism effects."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import polars as pl
import pytest

from pilotdid._core import PilotdidError, mediation_ci
from pilotdid.datasets import yrd
from pilotdid.mechanisms.baron_kenny import mediation
from pilotdid.mechanisms.two_step import mechanism_effects
from pilotdid.regression import feols


def _sim(seed: int = 1, g: int = 30, t: int = 8) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(g), t)
    year = np.tile(np.arange(t), g)
    d = ((year >= 4) & (unit < g // 2)).astype(float)
    x = rng.normal(size=g * t)
    m1 = 0.5 * d + 0.2 * x + rng.normal(size=g)[unit] + rng.normal(size=g * t)
    m2 = -0.3 * d + rng.normal(size=g * t)
    y = 0.4 * m1 + 0.2 * m2 + 0.3 * d + 0.1 * x + rng.normal(size=g)[unit] + rng.normal(size=g * t)
    return pl.DataFrame({"unit": unit, "year": year, "d": d, "x": x, "m1": m1, "m2": m2, "y": y})


def _pd(df: pl.DataFrame):
    import pandas as pd

    return pd.DataFrame({c: df[c].to_numpy() for c in df.columns})


def test_no_fe_matches_statsmodels_ols():
    """Reference: statsmodels OLS by hand (a, b, c', c and iid se) and the Sobel / Aroian /
    Goodman formulas of MacKinnon et al. (2002) applied to them; tolerance 1e-10."""
    sm = pytest.importorskip("statsmodels.api")
    df = _sim()
    r = mediation(
        df, y="y", treatment="d", mediators=["m1", "m2"], controls=["x"], vcov="iid", reps=0
    )
    pdf = _pd(df)
    tot = sm.OLS(pdf["y"], sm.add_constant(pdf[["d", "x"]])).fit()
    assert abs(r.total[0] - tot.params["d"]) < 1e-10
    assert abs(r.total[1] - tot.bse["d"]) < 1e-10
    for m in ["m1", "m2"]:
        fa = sm.OLS(pdf[m], sm.add_constant(pdf[["d", "x"]])).fit()
        fb = sm.OLS(pdf["y"], sm.add_constant(pdf[["d", m, "x"]])).fit()
        a, sa, b, sb = fa.params["d"], fa.bse["d"], fb.params[m], fb.bse[m]
        row = r.table.filter(pl.col("mediator") == m).row(0, named=True)
        for key, ref in [
            ("a", a),
            ("se_a", sa),
            ("b", b),
            ("se_b", sb),
            ("direct", fb.params["d"]),
            ("se_direct", fb.bse["d"]),
            ("indirect", a * b),
        ]:
            assert abs(row[key] - ref) < 1e-10, key
        sobel = a * b / np.sqrt(b**2 * sa**2 + a**2 * sb**2)
        aroian = a * b / np.sqrt(b**2 * sa**2 + a**2 * sb**2 + sa**2 * sb**2)
        goodman = a * b / np.sqrt(b**2 * sa**2 + a**2 * sb**2 - sa**2 * sb**2)
        assert abs(row["sobel_z"] - sobel) < 1e-10
        assert abs(row["aroian_z"] - aroian) < 1e-10
        assert abs(row["goodman_z"] - goodman) < 1e-10
        from scipy.stats import norm

        assert abs(row["sobel_p"] - 2 * norm.sf(abs(sobel))) < 1e-10
        assert abs(row["prop_mediated"] - a * b / tot.params["d"]) < 1e-10


def test_joint_no_fe_matches_statsmodels():
    """Reference: statsmodels OLS of y on d, m1, m2, x (joint b-paths); tolerance 1e-10."""
    sm = pytest.importorskip("statsmodels.api")
    df = _sim(2)
    r = mediation(
        df,
        y="y",
        treatment="d",
        mediators=["m1", "m2"],
        controls="x",
        vcov="iid",
        reps=0,
        joint=True,
    )
    pdf = _pd(df)
    fb = sm.OLS(pdf["y"], sm.add_constant(pdf[["d", "m1", "m2", "x"]])).fit()
    for m in ["m1", "m2"]:
        row = r.table.filter(pl.col("mediator") == m).row(0, named=True)
        assert abs(row["b"] - fb.params[m]) < 1e-10
        assert abs(row["se_b"] - fb.bse[m]) < 1e-10
        assert abs(row["direct"] - fb.params["d"]) < 1e-10


def test_fe_matches_feols():
    """Reference: the foundation's feols fits with the same FE, controls and CR1 clustering
    (identity, 1e-10)."""
    df = _sim(3)
    r = mediation(
        df,
        y="y",
        treatment="d",
        mediators=["m1"],
        controls=["x"],
        fixef="unit + year",
        vcov={"CR1": "unit"},
        reps=0,
    )
    fa = feols("m1 ~ d + x | unit + year", df, vcov={"CR1": "unit"})
    fb = feols("y ~ d + m1 + x | unit + year", df, vcov={"CR1": "unit"})
    fc = feols("y ~ d + x | unit + year", df, vcov={"CR1": "unit"})
    row = r.table.row(0, named=True)
    assert abs(row["a"] - fa.coef()["d"]) < 1e-10
    assert abs(row["se_a"] - fa.se()["d"]) < 1e-10
    assert abs(row["b"] - fb.coef()["m1"]) < 1e-10
    assert abs(row["se_b"] - fb.se()["m1"]) < 1e-10
    assert abs(row["direct"] - fb.coef()["d"]) < 1e-10
    assert abs(r.total[0] - fc.coef()["d"]) < 1e-10


def test_fe_matches_pyfixest():
    """Reference: pyfixest feols (independent implementation) for the a- and b-paths, 1e-8."""
    pf = pytest.importorskip("pyfixest")
    df = _sim(4)
    r = mediation(
        df,
        y="y",
        treatment="d",
        mediators=["m1"],
        fixef="unit + year",
        vcov={"CR1": "unit"},
        reps=0,
    )
    pdf = _pd(df)
    fa = pf.feols("m1 ~ d | unit + year", pdf, vcov={"CRV1": "unit"})
    fb = pf.feols("y ~ d + m1 | unit + year", pdf, vcov={"CRV1": "unit"})
    row = r.table.row(0, named=True)
    assert abs(row["a"] - fa.coef()["d"]) < 1e-8
    assert abs(row["se_a"] - fa.se()["d"]) < 1e-8
    assert abs(row["b"] - fb.coef()["m1"]) < 1e-8
    assert abs(row["se_b"] - fb.se()["m1"]) < 1e-8


def test_bootstrap_seeded_and_thread_invariant():
    """Identity: same seed -> identical draws; RAYON_NUM_THREADS=1 gives the same CI as the
    default pool (replicates collected in index order)."""
    df = _sim(5)
    kw = {"fixef": "unit + year", "vcov": {"CR1": "unit"}, "reps": 60, "seed": 7}
    r1 = mediation(df, y="y", treatment="d", mediators=["m1"], **kw)
    r2 = mediation(df, y="y", treatment="d", mediators=["m1"], **kw)
    np.testing.assert_array_equal(r1.boot_draws[0], r2.boot_draws[0])
    assert r1.boot_failed == 0
    code = (
        "import numpy as np, polars as pl, sys; sys.path.insert(0, 'tests');"
        "from test_mediation import _sim; from pilotdid.mechanisms import mediation;"
        "r = mediation(_sim(5), y='y', treatment='d', mediators=['m1'], fixef='unit + year',"
        " vcov={'CR1': 'unit'}, reps=60, seed=7); print(repr(float(r.table['ci_low'][0])))"
    )
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=here, capture_output=True, text=True, check=True
    )
    assert float(out.stdout.strip()) == r1.table["ci_low"][0]
    # different seed, different draws
    r3 = mediation(df, y="y", treatment="d", mediators=["m1"], **{**kw, "seed": 8})
    assert not np.array_equal(r1.boot_draws[0], r3.boot_draws[0])


def test_bootstrap_se_close_to_delta():
    """Reference: with a large cluster count the bootstrap se of a*b is close to the Sobel
    (delta-method, CR1) se (within 35%), and the CI contains the estimate."""
    df = _sim(6, g=80)
    r = mediation(
        df,
        y="y",
        treatment="d",
        mediators=["m1"],
        fixef="unit + year",
        vcov={"CR1": "unit"},
        reps=300,
        seed=1,
    )
    row = r.table.row(0, named=True)
    assert 0.65 < row["boot_se"] / row["sobel_se"] < 1.35
    assert row["ci_low"] < row["indirect"] < row["ci_high"]


def test_ci_percentile_and_bc_identities():
    """Identity: percentile CI of 0..100 at 90% is (5, 95) (type-7 quantiles); bias-corrected
    with the estimate at the median equals it; shifting the estimate shifts BC bounds up."""
    d = np.arange(101, dtype=float)
    assert mediation_ci(d, 50.0, 0.9, "percentile") == pytest.approx((5.0, 95.0), abs=1e-12)
    assert mediation_ci(d, 50.0, 0.9, "bc") == pytest.approx((5.0, 95.0), abs=1e-9)
    lo, hi = mediation_ci(d, 70.0, 0.9, "bc")
    assert lo > 5.0 and hi > 95.0
    with pytest.raises(PilotdidError, match="ci"):
        mediation_ci(d, 50.0, 0.9, "bca")


def test_yrd_three_channels_side_by_side():
    """Reference: yrd_truth()['mediation'] a-paths of the synthetic panel; the estimated a-paths
    have the true sign and lie within 4 CR1 se of the truth; one column per channel."""
    from pilotdid.datasets import yrd_truth

    meds = ["ln_green_patents", "ind_upgrade", "energy_intensity"]
    r = mediation(
        yrd(),
        y="gtfp",
        treatment="did",
        mediators=meds,
        controls=["ln_gdp_pc", "urbanization", "gov_exp_share", "fdi_share", "fin_dev"],
        fixef="city + year",
        vcov={"CR1": "city"},
        reps=99,
        seed=0,
    )
    ch = r.channels()
    assert ch.columns == ["statistic", *meds]
    truth = yrd_truth()["mediation"]["a_paths"]
    for row in r.table.iter_rows(named=True):
        assert abs(row["a"] - truth[row["mediator"]]) < 4 * row["se_a"]
    assert "Jiang" in r.summary()


def test_two_step_equals_feols():
    """Identity: two-step mechanism effects are feols(m ~ did + controls | city + year)."""
    df = yrd()
    r = mediation(
        df,
        y="gtfp",
        treatment="did",
        mediators=["ind_upgrade"],
        fixef="city + year",
        vcov={"CR1": "city"},
        method="two_step",
    )
    f = feols("ind_upgrade ~ did | city + year", df, vcov={"CR1": "city"})
    assert abs(r.table["estimate"][0] - f.coef()["did"]) < 1e-12
    assert abs(r.table["std_error"][0] - f.se()["did"]) < 1e-12
    assert "Jiang" in r.summary()
    e = mechanism_effects(
        df,
        treatment="did",
        mediators=["ind_upgrade", "energy_intensity"],
        fixef="city + year",
        vcov={"CR1": "city"},
    )
    assert e.channels().columns == ["statistic", "ind_upgrade", "energy_intensity"]


def test_bad_input():
    """Clear PilotdidError: constant mediator, unknown column, bad ci / method options."""
    df = _sim(7).with_columns(pl.lit(1.0).alias("const"))
    with pytest.raises(PilotdidError, match="'const'.*constant"):
        mediation(df, y="y", treatment="d", mediators=["const"], reps=0)
    with pytest.raises(PilotdidError, match="nope"):
        mediation(df, y="y", treatment="d", mediators=["nope"], reps=0)
    with pytest.raises(PilotdidError, match="ci"):
        mediation(df, y="y", treatment="d", mediators=["m1"], ci="bca")
    with pytest.raises(PilotdidError, match="method"):
        mediation(df, y="y", treatment="d", mediators=["m1"], method="four_step")
    with pytest.raises(PilotdidError, match="mediators"):
        mediation(df, y="y", treatment="d", mediators=[])


def test_monte_carlo_coverage_and_sobel_size():
    """Reference: known truth of simulated clustered panels (scripts/mc_mediation.py design).
    300 datasets, 299 cluster-bootstrap replicates: the 95% percentile CI of a*b covers 0.2
    in 93-97% of datasets; with a = 0 (b = 0.4) Sobel rejects at 5% in 2-8% of datasets."""
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "mc_mediation.py"
    spec = importlib.util.spec_from_file_location("mc_mediation", path)
    mc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mc)
    cov, _ = mc.run(300, 299, 0.5, 0.4, seed=12345)
    assert 0.93 <= cov <= 0.97
    _, rej = mc.run(300, 99, 0.0, 0.4, seed=999)
    assert 0.02 <= rej <= 0.08


@pytest.mark.parametrize("estimator", ["cs", "sa", "bjs", "did2s"])
def test_mechanism_effects_robust_estimators_equal_direct_calls(estimator):
    """Two-step reporting with a heterogeneity-robust estimator equals the estimator called
    directly with the mediator as the outcome (identity, 1e-12)."""
    import pilotdid as pdid
    from pilotdid.datasets import yrd

    df = yrd()
    res = pdid.mechanism_effects(
        df, treatment="did", mediators=["ind_upgrade"], fixef="city + year", estimator=estimator
    )
    row = res.table.row(0, named=True)
    if estimator == "cs":
        direct = pdid.aggte(
            pdid.att_gt(
                df,
                y="ind_upgrade",
                time="year",
                unit="city",
                cohort="cohort",
            ),
            type="simple",
        )
        est, se = direct.overall_att, direct.overall_se
    elif estimator == "sa":
        direct = pdid.sunab(df, y="ind_upgrade", time="year", unit="city", cohort="cohort")
        est, se = direct.att, direct.att_se
    elif estimator == "bjs":
        direct = pdid.imputation(df, y="ind_upgrade", time="year", unit="city", cohort="cohort")
        est, se = direct.extra["att"], direct.extra["att_se"]
    else:
        direct = pdid.did2s(
            df,
            y="ind_upgrade",
            time="year",
            unit="city",
            cohort="cohort",
            event=False,
        )
        est, se = direct.estimate[0], direct.std_error[0]
    assert row["estimate"] == pytest.approx(est, abs=1e-12)
    assert row["std_error"] == pytest.approx(se, abs=1e-12)
    with pytest.raises(PilotdidError, match="estimator"):
        pdid.mechanism_effects(
            df, treatment="did", mediators=["ind_upgrade"], fixef="city + year", estimator="x"
        )

"""Synthetic DID (Arkhangelsky, Athey, Hirshberg, Imbens & Wager 2021): `pilotdid.synthdid`.

References: the published California Proposition 99 estimates (AER 111(12), Table 1; the R
`synthdid` README: SDID -15.6, SC -19.6, DID -27.3) and `synthdid-py` 0.1.0, a port of R
`synthdid` 0.0.9 (installed for tests only), on the same panels: estimates and weights to 1e-6,
jackknife SEs to 1e-8, placebo/bootstrap SEs within Monte Carlo error.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import pilotdid as pdid
from pilotdid import PilotdidError

ACCEPTANCE = Path(__file__).resolve().parents[2] / "shared" / "acceptance-data"
PROP99 = ACCEPTANCE / "california_prop99.csv"

synthdid_oracle = pytest.importorskip("synthdid", reason="synthdid-py (test extra) not installed")


@pytest.fixture(scope="module")
def prop99() -> pl.DataFrame:
    if not PROP99.exists():
        pytest.skip(f"{PROP99} not available")
    return pl.read_csv(PROP99, separator=";")


def _pd(df: pl.DataFrame):
    """pandas without pyarrow (the oracle takes pandas)."""
    import pandas as pd

    return pd.DataFrame({c: df.get_column(c).to_numpy() for c in df.columns})


def _fit(df, **kw):
    return pdid.synthdid(
        df, y="PacksPerCapita", unit="State", time="Year", treatment="treated", **kw
    )


@pytest.fixture(scope="module")
def oracle_prop99(prop99):
    panel = synthdid_oracle.panel_matrices(
        _pd(prop99),
        unit="State",
        time="Year",
        outcome="PacksPerCapita",
        treatment="treated",
    )
    return panel


@pytest.mark.parametrize("method, published", [("sdid", -15.6), ("sc", -19.6), ("did", -27.3)])
def test_prop99_matches_published_estimates(prop99, method, published):
    """Arkhangelsky et al. (2021) Table 1 / R synthdid README, California Prop 99."""
    res = _fit(prop99, method=method, vcov="placebo", reps=50)
    assert res.estimate == pytest.approx(published, abs=0.05)


@pytest.mark.parametrize("method", ["sdid", "sc", "did"])
def test_prop99_matches_synthdid_py(prop99, oracle_prop99, method):
    """synthdid-py 0.1.0 (R synthdid 0.0.9 port): estimate, omega and lambda to 1e-6."""
    p = oracle_prop99
    fn = {
        "sdid": synthdid_oracle.synthdid_estimate,
        "sc": synthdid_oracle.sc_estimate,
        "did": synthdid_oracle.did_estimate,
    }[method]
    ref = fn(p.Y, p.N0, p.T0)
    res = _fit(prop99, method=method, vcov="placebo", reps=2)
    assert res.estimate == pytest.approx(float(ref), abs=1e-6)
    ow = res.unit_weights()
    got = dict(zip(ow["State"].to_list(), ow["weight"].to_list()))
    names = [str(u) for u in p.units[: p.N0]]
    omega = np.asarray(ref.weights.omega)
    np.testing.assert_allclose([got[n] for n in names], omega, atol=1e-6)
    lam = res.time_weights()["weight"].to_numpy()
    np.testing.assert_allclose(lam, np.asarray(ref.weights.lambda_), atol=1e-6)


@pytest.mark.parametrize("method", ["sdid", "did"])
def test_prop99_jackknife_fails_with_one_treated_unit(prop99, method):
    """R jackknife_se returns NA with one treated unit; pilotdid says why."""
    with pytest.raises(PilotdidError, match="two treated units"):
        _fit(prop99, method=method, vcov="jackknife")


def _panel(
    seed: int,
    n_units=40,
    n_times=12,
    n_treated=6,
    adopt=8,
    effect=2.0,
    cohorts: dict[int, int] | None = None,
    cov=False,
):
    """Low-rank factor panel: y = unit fe + time fe + loading * factor + noise + effect * D."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n_units)
    b = rng.normal(size=n_times)
    load = rng.normal(size=n_units)
    fac = np.cumsum(rng.normal(size=n_times)) * 0.5
    adoption = np.full(n_units, 0)
    if cohorts is None:
        cohorts = {adopt: n_treated}
    start = n_units - sum(cohorts.values())
    for g, k in sorted(cohorts.items()):
        adoption[start : start + k] = g
        start += k
    rows = []
    x = rng.normal(size=(n_units, n_times))
    for i in range(n_units):
        for t in range(n_times):
            d = 1 if adoption[i] and t + 1 >= adoption[i] else 0
            y = a[i] + b[t] + load[i] * fac[t] + rng.normal() + effect * d
            if cov:
                y += 1.5 * x[i, t]
            rows.append((f"u{i:03d}", t + 1, y, d, x[i, t], adoption[i]))
    return pl.DataFrame(rows, schema=["id", "t", "y", "d", "x", "g"], orient="row")


def _oracle(df: pl.DataFrame, method="sdid", covariates=None):
    p = synthdid_oracle.panel_matrices(
        _pd(df), unit="id", time="t", outcome="y", treatment="d", covariates=covariates
    )
    fn = {
        "sdid": synthdid_oracle.synthdid_estimate,
        "sc": synthdid_oracle.sc_estimate,
        "did": synthdid_oracle.did_estimate,
    }[method]
    kw = {} if covariates is None else {"X": p.X}
    return p, fn(p.Y, p.N0, p.T0, **kw)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("method", ["sdid", "sc", "did"])
def test_generated_panels_match_synthdid_py(seed, method):
    """synthdid-py 0.1.0: estimate, unit and time weights to 1e-6; jackknife SE to 1e-8."""
    df = _panel(seed)
    p, ref = _oracle(df, method)
    res = pdid.synthdid(
        df, y="y", unit="id", time="t", treatment="d", method=method, vcov="jackknife"
    )
    assert res.estimate == pytest.approx(float(ref), abs=1e-6)
    ow = res.unit_weights()
    got = dict(zip(ow["id"].to_list(), ow["weight"].to_list()))
    np.testing.assert_allclose(
        [got[str(u)] for u in p.units[: p.N0]], np.asarray(ref.weights.omega), atol=1e-6
    )
    np.testing.assert_allclose(
        res.time_weights()["weight"].to_numpy(), np.asarray(ref.weights.lambda_), atol=1e-6
    )
    if method != "sc":
        jk = synthdid_oracle.jackknife_se(ref)
        assert res.std_error == pytest.approx(jk, abs=1e-8)


@pytest.mark.parametrize("seed", range(3))
def test_covariates_match_synthdid_py(seed):
    """synthdid-py 0.1.0 with X (R's sc.weight.fw.covariates): estimate, weights, beta."""
    df = _panel(seed, cov=True)
    p, ref = _oracle(df, "sdid", covariates=["x"])
    res = pdid.synthdid(
        df, y="y", unit="id", time="t", treatment="d", controls="x", vcov="jackknife"
    )
    assert res.estimate == pytest.approx(float(ref), abs=1e-6)
    np.testing.assert_allclose(res.beta["x"], np.asarray(ref.weights.beta)[0], atol=1e-6)
    np.testing.assert_allclose(
        res.time_weights()["weight"].to_numpy(), np.asarray(ref.weights.lambda_), atol=1e-6
    )
    assert res.std_error == pytest.approx(synthdid_oracle.jackknife_se(ref), abs=1e-8)


@pytest.mark.parametrize("vcov", ["placebo", "bootstrap"])
def test_replicate_se_within_mc_error_of_synthdid_py(vcov):
    """synthdid-py placebo_se / bootstrap_se, 200 draws each: the two SEs agree within
    Monte Carlo error (the sd of an SE from B draws is about SE / sqrt(2B))."""
    df = _panel(11, n_units=30, n_treated=4)
    p, ref = _oracle(df)
    fn = {"placebo": synthdid_oracle.placebo_se, "bootstrap": synthdid_oracle.bootstrap_se}[vcov]
    se_ref = fn(ref, 200, random_state=1)
    res = pdid.synthdid(df, y="y", unit="id", time="t", treatment="d", vcov=vcov, reps=200)
    tol = 4 * np.hypot(se_ref, res.std_error) / np.sqrt(2 * 200)
    assert abs(res.std_error - se_ref) < tol


def test_thread_count_and_seed_determinism():
    """Replicates seeded per (seed, r): the same seed gives the same SE, another seed another."""
    df = _panel(3)
    a = pdid.synthdid(df, y="y", unit="id", time="t", treatment="d", reps=50, seed=7)
    b = pdid.synthdid(df, y="y", unit="id", time="t", treatment="d", reps=50, seed=7)
    c = pdid.synthdid(df, y="y", unit="id", time="t", treatment="d", reps=50, seed=8)
    assert a.std_error == b.std_error
    np.testing.assert_array_equal(a.replicates, b.replicates)
    assert a.std_error != c.std_error


_THREADS_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
import test_synthdid as t
import pilotdid as pdid
df = t._panel(3, cohorts={8: 4, 10: 3})
for vcov in ("placebo", "bootstrap"):
    r = pdid.synthdid(df, y="y", unit="id", time="t", treatment="d", vcov=vcov, reps=40, seed=3)
    print(repr(r.std_error), list(map(repr, r.replicates)))
"""


def test_thread_count_never_changes_a_number():
    """Replicates seeded per (seed, r): RAYON_NUM_THREADS=1 and 2 give bit-identical SEs."""
    import os
    import subprocess
    import sys

    outs = []
    for th in ("1", "2"):
        env = dict(os.environ, RAYON_NUM_THREADS=th)
        p = subprocess.run(
            [sys.executable, "-c", _THREADS_SCRIPT, str(Path(__file__).parent)],
            env=env,
            capture_output=True,
            text=True,
        )
        assert p.returncode == 0, p.stderr
        outs.append(p.stdout)
    assert outs[0] == outs[1] and outs[0]


def test_staggered_matches_synthdid_py_cohorts():
    """synthdid-py staggered_synthdid_estimate (never-treated pool): cohort estimates and the
    N_tr x T_post-weighted ATT to 1e-6; the fixed-weight jackknife to 1e-8."""
    df = _panel(5, n_units=45, n_times=14, cohorts={8: 4, 11: 3})
    ref = synthdid_oracle.staggered_synthdid_estimate(
        _pd(df), unit="id", time="t", outcome="y", treatment="d"
    )
    res = pdid.synthdid(df, y="y", unit="id", time="t", treatment="d", vcov="jackknife")
    assert res.estimate == pytest.approx(ref.att, abs=1e-6)
    by = ref.by_cohort.sort_values("adoption_time")
    coh = res.cohorts()
    np.testing.assert_allclose(coh["estimate"].to_numpy(), by["tau"].to_numpy(), atol=1e-6)
    np.testing.assert_allclose(coh["weight"].to_numpy(), by["weight"].to_numpy(), atol=1e-12)
    assert res.std_error == pytest.approx(ref.se(method="jackknife"), abs=1e-8)
    tab = res.tidy()
    assert tab["term"].to_list() == ["ATT", "cohort 8", "cohort 11"]
    # cohort= gives the same as the derived treatment
    res2 = pdid.synthdid(df, y="y", unit="id", time="t", cohort="g", vcov="jackknife")
    assert res2.estimate == res.estimate


def test_event_effects_average_the_effect_curves():
    """Identity: with one cohort, the ATT is the mean of the event-time effects (R's
    synthdid_effect_curve), and the curve matches synthdid-py's to 1e-6."""
    df = _panel(2)
    p, ref = _oracle(df)
    res = pdid.synthdid(df, y="y", unit="id", time="t", treatment="d", vcov="jackknife")
    ev = res.event_effects()
    np.testing.assert_allclose(
        ev["estimate"].to_numpy(), np.ravel(synthdid_oracle.synthdid_effect_curve(ref)), atol=1e-6
    )
    assert ev["estimate"].mean() == pytest.approx(res.estimate, abs=1e-12)


def test_result_protocol(tmp_path):
    df = _panel(4)
    res = pdid.synthdid(df, y="y", unit="id", time="t", treatment="d", reps=20)
    assert set(res.coef()) == {"ATT"}
    assert res.se()["ATT"] == res.std_error
    assert res.vcov().shape == (1, 1)
    assert res.confint(level=0.9).columns == ["term", "conf_low", "conf_high"]
    assert res.tidy().columns[:7] == [
        "term",
        "estimate",
        "std_error",
        "statistic",
        "p_value",
        "conf_low",
        "conf_high",
    ]
    assert "synthetic DID" in repr(res) and "<" in res._repr_html_() or res._repr_html_()
    assert "ATT" in str(res.summary())
    assert res.nobs == 40 * 12 and res.dropped_rows == {}
    assert res.unit_weights()["weight"].sum() == pytest.approx(1.0)
    assert res.time_weights()["weight"].sum() == pytest.approx(1.0)
    import matplotlib

    matplotlib.use("Agg")
    assert res.plot(kind="trajectories") is not None
    assert res.plot(kind="weights") is not None
    with pytest.raises(PilotdidError, match="kind"):
        res.plot(kind="bars")


# --- bad input --------------------------------------------------------------------------
def test_no_never_treated_units():
    df = _panel(1, n_units=10, cohorts={8: 4, 10: 6})
    with pytest.raises(PilotdidError, match="no never-treated units"):
        pdid.synthdid(df, y="y", unit="id", time="t", treatment="d")


def test_bootstrap_with_one_treated_unit():
    """R bootstrap_se returns NA with one treated unit; pilotdid refuses and names placebo."""
    df = _panel(1, n_treated=1)
    with pytest.raises(PilotdidError, match="at least two treated units"):
        pdid.synthdid(df, y="y", unit="id", time="t", treatment="d", vcov="bootstrap")


def test_no_pre_period():
    df = _panel(1).with_columns(d=pl.when(pl.col("id") == "u039").then(1).otherwise(pl.col("d")))
    with pytest.raises(PilotdidError, match="pre-treatment period"):
        pdid.synthdid(df, y="y", unit="id", time="t", treatment="d")


def test_one_pre_period_for_sdid():
    df = _panel(1, adopt=2)
    with pytest.raises(PilotdidError, match="at least 2"):
        pdid.synthdid(df, y="y", unit="id", time="t", treatment="d")


def test_unbalanced_panel_and_missing_outcome():
    df = _panel(1)
    with pytest.raises(PilotdidError, match="balanced panel"):
        pdid.synthdid(df.slice(1), y="y", unit="id", time="t", treatment="d")
    bad = df.with_columns(y=pl.when(pl.col("t") == 3).then(None).otherwise(pl.col("y")))
    with pytest.raises(PilotdidError, match="missing or non-finite"):
        pdid.synthdid(bad, y="y", unit="id", time="t", treatment="d")


def test_placebo_needs_more_controls_than_treated():
    df = _panel(1, n_units=10, n_treated=5)
    with pytest.raises(PilotdidError, match="more never-treated units"):
        pdid.synthdid(df, y="y", unit="id", time="t", treatment="d", vcov="placebo")


# --- Monte Carlo ------------------------------------------------------------------------
def _mc(draws: int, reps: int):
    est, cover = [], []
    for s in range(draws):
        df = _panel(1000 + s, n_units=30, n_times=10, n_treated=3, adopt=7, effect=1.0)
        r = pdid.synthdid(df, y="y", unit="id", time="t", treatment="d", reps=reps, seed=s)
        est.append(r.estimate)
        lo, hi = r.confint().row(0)[1:]
        cover.append(lo <= 1.0 <= hi)
    return np.asarray(est), np.asarray(cover)


def test_monte_carlo_bias_and_placebo_coverage_small():
    """Known effect 1.0 on a factor-model panel (noise sd 1): 100 draws, 50 placebo reps."""
    t0 = time.perf_counter()
    est, cover = _mc(100, 50)
    print(
        f"SDID MC (100 draws): bias {est.mean() - 1:.4f}, sd {est.std():.4f}, "
        f"coverage {cover.mean():.3f}, {time.perf_counter() - t0:.1f} s"
    )
    assert abs(est.mean() - 1.0) < 4 * est.std() / np.sqrt(len(est)) + 0.05
    assert 0.85 <= cover.mean() <= 1.0


@pytest.mark.slow
def test_monte_carlo_bias_and_placebo_coverage_500():
    """500 draws, 200 placebo reps: |bias| < 0.05 sd-units of the estimate, coverage in
    [0.93, 0.97] up to its binomial error (sd 0.01)."""
    t0 = time.perf_counter()
    est, cover = _mc(500, 200)
    print(
        f"SDID MC (500 draws): bias {est.mean() - 1:.4f}, sd {est.std():.4f}, "
        f"coverage {cover.mean():.3f}, {time.perf_counter() - t0:.1f} s"
    )
    assert abs(est.mean() - 1.0) < 0.05 + 3 * est.std() / np.sqrt(len(est))
    assert 0.92 <= cover.mean() <= 0.98


def test_prop99_matches_diff_diff_synthetic_did(prop99):
    """diff-diff 3.13 SyntheticDiD (R synthdid's regularisation and solver): the same ATT
    to 1e-6 on California Prop 99."""
    import warnings

    dd = pytest.importorskip("diff_diff")
    pdf = _pd(prop99)
    pdf["treated_unit"] = (pdf["State"] == "California").astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = dd.SyntheticDiD(variance_method="jackknife", seed=1).fit(
            pdf,
            outcome="PacksPerCapita",
            treatment="treated_unit",
            unit="State",
            time="Year",
            post_periods=list(range(1989, 2001)),
        )
    res = _fit(prop99, vcov="placebo", reps=2)
    assert res.estimate == pytest.approx(float(ref.att), abs=1e-6)


def test_jackknife_fixed_design_equals_r_jackknife_with_one_cohort():
    """Identity: with one cohort the aggregation weight is 1 whatever the leave-one-out
    cohort size, so the fixed-design jackknife equals R's jackknife_se (and so synthdid-py's,
    checked above) to 1e-12; with staggered cohorts it holds the N_tr x T_post weights at the
    full sample's (Arkhangelsky et al. 2021, Appendix A) and so differs from R's, which
    recomputes them per replicate (coverage of each in tests/test_designs_mc.py)."""
    df = _panel(2)
    a = pdid.synthdid(df, y="y", unit="id", time="t", treatment="d", vcov="jackknife")
    b = pdid.synthdid(df, y="y", unit="id", time="t", treatment="d", vcov="jackknife_fixed")
    assert b.estimate == a.estimate
    assert b.std_error == pytest.approx(a.std_error, abs=1e-12)
    df = _panel(5, n_units=45, n_times=14, cohorts={8: 4, 11: 3})
    a = pdid.synthdid(df, y="y", unit="id", time="t", treatment="d", vcov="jackknife")
    b = pdid.synthdid(df, y="y", unit="id", time="t", treatment="d", vcov="jackknife_fixed")
    assert b.estimate == a.estimate
    assert np.isfinite(b.std_error) and abs(b.std_error - a.std_error) > 1e-10
    # per-cohort SEs do not depend on the aggregation weights
    np.testing.assert_allclose(
        b.cohorts()["std_error"].to_numpy(), a.cohorts()["std_error"].to_numpy(), atol=1e-12
    )

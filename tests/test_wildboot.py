"""Restricted wild cluster bootstrap (WCR11) of pilotdid against ``wildboottest`` 0.3.2.

Reference: the ``wildboottest`` package (Python port of fwildclusterboot / boottest, Roodman
et al. 2019), driven through pyfixest 0.60's ``Feols.wildboottest`` (which hands it the design
with the fixed effects as explicit dummies) or directly through ``WildboottestCL`` for a linear
combination. Both are test-only dependencies.

Tolerances
----------
p-values: pilotdid and wildboottest draw independent bootstrap weights, so each p-value is a
Monte Carlo estimate with variance p(1-p)/B; their difference has sd sqrt(2 p(1-p)/B). We allow
4 sd (two-sided false-alarm rate ~6e-5 per comparison), plus 2/B for the p-value convention
(count/B as wildboottest vs (1+count)/(B+1)). At p = 0.1 and B = 9999 that is |dp| <= 0.017.
With 40 similar clusters every sensible bootstrap gives nearly the analytic p, so those
comparisons mainly catch gross errors; the few-treated-clusters designs (16 clusters, 4 treated,
heteroskedastic) are where the restricted (WCR) p-value is several tolerances away from the
unrestricted (WCU) one (seed 3) or from the analytic one (seed 9), so they pin down WCR.

t statistics: WCR t is the analytic CR1 t, which does not depend on the draws. Without fixed
effects wildboottest uses the same small-sample factor as pyfixest/fixest,
(N-1)/(N-k) * G/(G-1), so the two t's agree to 1e-6. With fixed effects wildboottest counts
every dummy in k, while pyfixest/fixest (k_fixef="nonnested") do not count the FE nested in the
cluster; pilotdid's t_stat is held to the fit's own CR1 t (as its summary() shows), i.e.
t_wildboottest * sqrt(ssc_wildboottest / ssc_pyfixest). The p-value is invariant to that
common scalar, so it is compared directly.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest

import pilotdid as pdid

REPS = 9999
FML_FE = "y ~ x1 + x2 | unit + year"
FML_NOFE = "y ~ x1 + x2"
CR1 = {"CR1": "unit"}


def wb_design(seed: int = 8, G: int = 40, T: int = 10, beta: float = 0.12) -> pd.DataFrame:
    """G clusters (units) x T years; x1 has a modest effect so that the CR1 p-value is
    around 0.05-0.1 for seed 8 (with and without FE); errors are cluster-correlated and
    heteroskedastic."""
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(G), T)
    year = np.tile(np.arange(2001, 2001 + T), G)
    a = rng.normal(0.0, 1.0, G)[unit]
    g = rng.normal(0.0, 0.5, T)[year - 2001]
    x1 = 0.5 * rng.normal(0.0, 1.0, G)[unit] + rng.normal(0.0, 1.0, G * T)
    x2 = rng.normal(0.0, 1.0, G * T)
    e = rng.normal(0.0, 0.8, G)[unit] * 1.5 + rng.normal(0.0, 1.0, G * T) * (1 + 0.5 * np.abs(x1))
    y = a + g + beta * x1 - 0.3 * x2 + e
    return pd.DataFrame({"unit": unit, "year": year, "x1": x1, "x2": x2, "y": y})


def _mc_tol(p_ref: float, reps: int = REPS) -> float:
    p = min(max(p_ref, 1.0 / reps), 1.0 - 1.0 / reps)
    return 4.0 * np.sqrt(2.0 * p * (1.0 - p) / reps) + 2.0 / reps


def _pyfixest_wild(ref, param, weights, seed=20240601):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = ref.wildboottest(param=param, reps=REPS, seed=seed, weights_type=weights)
    ssc = np.asarray(r["ssc"], dtype=float).ravel()[0]
    return float(np.asarray(r["t value"]).ravel()[0]), float(r["Pr(>|t|)"]), ssc


@pytest.fixture(scope="module")
def design() -> pd.DataFrame:
    return wb_design()


@pytest.mark.parametrize("weights", ["rademacher", "webb"])
@pytest.mark.parametrize("fml", [FML_NOFE, FML_FE], ids=["no-fe", "twfe"])
def test_wild_p_value_matches_wildboottest(design, fml, weights, pyfixest_reference):
    """wildboottest 0.3.2 via pyfixest 0.60 Feols.wildboottest (WCR11, B=9999; FE as dummies):
    p-value within 4 Monte Carlo sd; t statistic to 1e-6 (after the documented ssc rescaling
    with FE)."""
    ref = pyfixest_reference(fml, design, CR1)
    t_wb, p_wb, ssc_wb = _pyfixest_wild(ref, "x1", weights)
    assert 0.02 < p_wb < 0.3, "design drifted: the comparison is meant for a mid-range p"

    fit = pdid.feols(fml, design, vcov=CR1)
    res = fit.wildboottest(param="x1", reps=REPS, seed=7, weight_type=weights)

    t_fit = fit.coef()["x1"] / fit.se()["x1"]
    assert res.t_stat == pytest.approx(t_fit, rel=1e-6)
    ssc_pf = float(np.asarray(ref._ssc).ravel()[0])
    assert res.t_stat == pytest.approx(t_wb * np.sqrt(ssc_wb / ssc_pf), rel=1e-6)
    if "|" not in fml:
        assert res.t_stat == pytest.approx(t_wb, rel=1e-6)  # identical ssc without FE

    assert abs(res.p_value - p_wb) <= _mc_tol(p_wb), (res.p_value, p_wb, _mc_tol(p_wb))
    assert res.reps == REPS
    t_boot = np.asarray(res.t_boot)
    assert t_boot.shape == (REPS,)
    assert np.all(np.isfinite(t_boot))
    # the p-value is the share of |t*| beyond |t| (either count/B or (1+count)/(B+1))
    share = np.mean(np.abs(t_boot) > abs(res.t_stat))
    assert res.p_value == pytest.approx(share, abs=1.5 / REPS)


def few_treated_design(
    seed: int, G: int = 16, T: int = 8, n_treat: int = 4, beta: float = 0.6
) -> pd.DataFrame:
    """G clusters (= units) x T years; d = 1 for the first n_treat units in the second half
    of the years; treated units have 3x noisier errors. Few treated clusters is the case the
    restricted wild bootstrap exists for (MacKinnon & Webb 2017)."""
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(G), T)
    year = np.tile(np.arange(T), G)
    treated = unit < n_treat
    d = (treated & (year >= T // 2)).astype(float)
    x2 = rng.normal(size=G * T)
    e = rng.normal(0.0, 1.0, G)[unit] + rng.normal(0.0, 1.0, G * T) * (1 + 2 * treated)
    y = rng.normal(0.0, 1.0, G)[unit] + 0.3 * year + beta * d - 0.3 * x2 + e
    return pd.DataFrame({"unit": unit, "year": year, "d": d, "x2": x2, "y": y})


@pytest.mark.parametrize("weights", ["rademacher", "webb"])
@pytest.mark.parametrize(
    "seed, rival", [(3, "wcu"), (9, "analytic")], ids=["vs-wcu", "vs-analytic"]
)
def test_wild_few_treated_clusters_matches_wildboottest(seed, rival, weights, pyfixest_reference):
    """wildboottest 0.3.2 via pyfixest 0.60 (WCR11, B=9999, 16 clusters so no full
    enumeration: 2^16 > B): p-value within 4 Monte Carlo sd, on designs where the WCR p-value
    is several tolerances away from a rival - the unrestricted (WCU) bootstrap p-value for
    seed 3 (~0.09 vs ~0.21), the analytic t(G-1) p-value for seed 9 (~0.13 vs ~0.05)."""
    fml = "y ~ d + x2 | unit + year"
    df = few_treated_design(seed)
    ref = pyfixest_reference(fml, df, CR1)
    _, p_wb, _ = _pyfixest_wild(ref, "d", weights)
    tol = _mc_tol(p_wb)
    if rival == "wcu":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p_rival = float(
                ref.wildboottest(
                    param="d", reps=REPS, seed=5, impose_null=False, weights_type=weights
                )["Pr(>|t|)"]
            )
    else:
        p_rival = float(ref.pvalue()["d"])
    assert abs(p_wb - p_rival) > 2.5 * tol, "design drifted: it no longer separates WCR"

    fit = pdid.feols(fml, df, vcov=CR1)
    res = fit.wildboottest(param="d", reps=REPS, seed=2024, weight_type=weights)
    assert res.t_stat == pytest.approx(fit.coef()["d"] / fit.se()["d"], rel=1e-6)
    assert abs(res.p_value - p_wb) <= tol, (res.p_value, p_wb, tol)


def test_wild_linear_combination_matches_wildboottest(design):
    """wildboottest 0.3.2 WildboottestCL with R = e_x1 - e_x2 on the dummy-expanded TWFE design
    (WCR11, rademacher, B=9999): p-value within 4 Monte Carlo sd; t to 1e-6 after ssc rescaling."""
    from formulaic import model_matrix
    from wildboottest.wildboottest import WildboottestCL

    X = model_matrix("x1 + x2 + C(unit) + C(year)", design)
    names = list(X.columns)
    X = np.asarray(X, dtype=float)
    R = np.zeros(X.shape[1])
    R[names.index("x1")], R[names.index("x2")] = 1.0, -1.0
    boot = WildboottestCL(
        X=X,
        Y=design["y"].to_numpy(),
        cluster=design["unit"].to_numpy(),
        R=R,
        B=REPS,
        seed=99,
        parallel=False,
    )
    boot.get_scores(bootstrap_type="11", impose_null=True, adj=True, cluster_adj=True)
    boot.get_weights(weights_type="rademacher")
    boot.get_numer()
    boot.get_denom()
    boot.get_tboot()
    boot.get_vcov()
    boot.get_tstat()
    boot.get_pvalue(pval_type="two-tailed")
    p_wb = float(boot.pvalue)
    t_wb = float(np.asarray(boot.t_stat).ravel()[0])

    fit = pdid.feols(FML_FE, design, vcov=CR1)
    res = fit.wildboottest(param={"x1": 1.0, "x2": -1.0}, reps=REPS, seed=7)
    V = np.asarray(fit.vcov())
    i1, i2 = fit.coefnames.index("x1"), fit.coefnames.index("x2")
    est = fit.coef()["x1"] - fit.coef()["x2"]
    se = np.sqrt(V[i1, i1] + V[i2, i2] - 2 * V[i1, i2])
    assert res.t_stat == pytest.approx(est / se, rel=1e-6)
    # wildboottest counts all dummies in k: rescale its t to the fit's nonnested ssc
    N, G, k_wb = X.shape[0], design["unit"].nunique(), X.shape[1]
    k_fit = 2 + design["year"].nunique()  # x1, x2 + year FE (unit FE nested in the cluster)
    ssc_wb = (N - 1) / (N - k_wb) * G / (G - 1)
    ssc_fit = (N - 1) / (N - k_fit) * G / (G - 1)
    assert res.t_stat == pytest.approx(t_wb * np.sqrt(ssc_wb / ssc_fit), rel=1e-6)
    assert abs(res.p_value - p_wb) <= _mc_tol(p_wb), (res.p_value, p_wb)


def test_wild_nonzero_null_matches_shifted_outcome(design, pyfixest_reference):
    """wildboottest 0.3.2 (via pyfixest) on y - r*x1 tests b1 = 0, which is the same
    hypothesis as b1 = r on y (same residuals, same restricted model): p within 4 MC sd."""
    r0 = 0.3
    shifted = design.assign(y=design["y"] - r0 * design["x1"])
    ref = pyfixest_reference(FML_FE, shifted, CR1)
    t_wb, p_wb, ssc_wb = _pyfixest_wild(ref, "x1", "rademacher")
    fit = pdid.feols(FML_FE, design, vcov=CR1)
    res = fit.wildboottest(param="x1", reps=REPS, seed=7, r=r0)
    assert res.t_stat == pytest.approx((fit.coef()["x1"] - r0) / fit.se()["x1"], rel=1e-6)
    assert abs(res.p_value - p_wb) <= _mc_tol(p_wb), (res.p_value, p_wb)


def test_wild_seeded_reproducible_and_seed_sensitive(design):
    """DESIGN.md (every random procedure takes a seed): same seed -> identical result, bit for
    bit; a different seed -> different draws (t_boot), same t_stat."""
    fit = pdid.feols(FML_FE, design, vcov=CR1)
    a = fit.wildboottest(param="x1", reps=999, seed=123)
    b = fit.wildboottest(param="x1", reps=999, seed=123)
    c = fit.wildboottest(param="x1", reps=999, seed=124)
    np.testing.assert_array_equal(np.asarray(a.t_boot), np.asarray(b.t_boot))
    assert a.p_value == b.p_value
    assert tuple(a.conf_int) == tuple(b.conf_int)
    assert not np.array_equal(np.asarray(a.t_boot), np.asarray(c.t_boot))
    assert a.t_stat == c.t_stat
    # webb draws differ from rademacher draws under the same seed
    d = fit.wildboottest(param="x1", reps=999, seed=123, weight_type="webb")
    assert not np.array_equal(np.asarray(a.t_boot), np.asarray(d.t_boot))


def test_wild_ci_contains_estimate_and_is_close_to_analytic_for_large_g(pyfixest_reference):
    """Large G (200 clusters): the WCR bootstrap-t is close to t(G-1), so the inverted 95% CI
    contains the estimate and each endpoint is within 10% of the analytic CR1 half-width of
    the analytic CI (pyfixest 0.60 confint for the same fit); the 90% CI is nested inside."""
    df = wb_design(seed=3, G=200, T=5, beta=0.1)
    fit = pdid.feols(FML_FE, df, vcov=CR1)
    ref = pyfixest_reference(FML_FE, df, CR1)
    lo_a, hi_a = ref.confint().loc["x1"].to_numpy()
    half = (hi_a - lo_a) / 2
    est = fit.coef()["x1"]
    res = fit.wildboottest(param="x1", reps=REPS, seed=11)
    lo, hi = res.conf_int
    assert lo < est < hi
    assert abs(lo - lo_a) <= 0.1 * half, (lo, lo_a)
    assert abs(hi - hi_a) <= 0.1 * half, (hi, hi_a)
    lo90, hi90 = fit.wildboottest(param="x1", reps=REPS, seed=11, level=0.90).conf_int
    assert lo < lo90 < est < hi90 < hi


def test_wild_ci_contains_estimate_small_g(design):
    """Identity (test inversion): the estimate lies inside the bootstrap CI, and the CI
    excludes 0 exactly when the bootstrap p-value is below 5% (up to Monte Carlo ties)."""
    fit = pdid.feols(FML_FE, design, vcov=CR1)
    res = fit.wildboottest(param="x1", reps=REPS, seed=5)
    lo, hi = res.conf_int
    assert lo < fit.coef()["x1"] < hi
    if abs(res.p_value - 0.05) > 0.005:
        assert (lo > 0 or hi < 0) == (res.p_value < 0.05)


_THREAD_SCRIPT = """
import hashlib
import numpy as np
import pandas as pd
import pilotdid as pdid

{design_src}

df = wb_design(seed=8, G=40, T=10)
fit = pdid.feols("y ~ x1 + x2 | unit + year", df, vcov={{"CR1": "unit"}})
print(repr([float(v) for v in fit.coef().values()]), repr([float(v) for v in fit.se().values()]))
for w in ("rademacher", "webb"):
    r = fit.wildboottest(param="x1", reps=4999, seed=42, weight_type=w)
    tb = np.ascontiguousarray(np.asarray(r.t_boot, dtype=np.float64))
    print(w, repr(float(r.p_value)), repr(tuple(float(v) for v in r.conf_int)),
          hashlib.sha256(tb.tobytes()).hexdigest())
"""


def test_wild_bit_identical_across_thread_counts(tmp_path):
    """DESIGN.md: replicate r draws from a stream derived from (seed, r), so numbers do not
    depend on the number of threads: two fresh interpreters with RAYON_NUM_THREADS=1 and =2
    print identical p-values, CIs and t_boot hashes (and identical coefficients/SEs)."""
    script = tmp_path / "wild_threads.py"
    script.write_text(
        _THREAD_SCRIPT.format(design_src=textwrap.dedent(inspect.getsource(wb_design)))
    )
    outs = []
    for n in ("1", "2"):
        env = dict(os.environ, RAYON_NUM_THREADS=n)
        proc = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stderr
        outs.append(proc.stdout)
    one, two = (o.strip().splitlines() for o in outs)
    assert len(one) == len(two) == 3
    assert one[1:] == two[1:], "wild bootstrap p-value / CI / t_boot depend on the thread count"
    assert one[0] == two[0], (
        "feols coef/se depend on the thread count (parallel reductions must combine in a "
        "fixed order); the bootstrap inherits any such difference"
    )

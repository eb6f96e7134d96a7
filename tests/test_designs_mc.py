"""Issue 17 Monte Carlo on the synthetic YRD generator (slow): synthetic DID and staggered
triple differences recover the truth of ``simulate_yrd`` with SUTVA (rho = theta = 0, so the
DID estimand is ``truth["aggregations"]["structural"]``).

What the generator implies for the standard errors (measured, 1,000 draws each):
- SDID on R's block design (the 2013 cohort against the 26 never-treated cities): placebo
  coverage is nominal.
- SDID on the staggered design (3 cohorts, 15 pilots, 26 never-treated): unbiased; the
  jackknife with fixed cohort weights (``vcov="jackknife_fixed"``) is nominal (0.942), the
  reference variance estimators are conservative (placebo ~0.98, R jackknife 0.970): the
  placebo re-runs SDID with 15 of the 26 controls pseudo-treated, i.e. on 11 controls, a
  noisier estimator than the one on 26 (R's placebo assumes N_co >> N_tr); R's jackknife and
  the bootstrap drop or resample treated units and recompute the cohort weights, adding the
  variance of the cohort mix (cohort effects differ, 0.082 / 0.057 / 0.04), which a fixed
  design does not have (Stata sdid's staggered replicates recompute the cohort weights too).
- Staggered DDD: each city enters twice, an eligible sector (the observed gtfp) and an
  ineligible one (the city's untreated path ``gtfp_dose - dose_theta ln(1 + d)`` plus its own
  level and noise), clustered by city; the truth is the structural ATT. Unbiased; the simple
  aggregate's analytic SE (as moderndid) includes the influence of the estimated cohort
  shares, which a fixed design does not have, so it is conservative (0.984); the SE
  conditional on the cohort sizes (the IF without that term) is nominal (0.932).

Measured (1,000 draws; bias in sd of the estimate, its MC s.e. 0.032):
- SDID block: bias 0.080 sd, coverage 0.952 (mean SE 0.0111 vs sd 0.0104);
- SDID staggered: bias 0.036 sd, placebo coverage 0.981 (mean SE 0.0109 vs sd 0.0087),
  R jackknife 0.970 (0.00943), fixed-design jackknife 0.942 (0.00858);
- staggered DDD: bias 0.016 sd, coverage 0.984 with the package SE (mean SE 0.0073 vs sd
  0.0059), 0.932 conditional on the cohort sizes (0.00559; ``cohort_shares="fixed"``).
The bias criterion (|bias| < 0.05 sd) is about the true bias, estimated here with MC error:
each test rejects when the estimate exceeds 0.05 sd by more than two MC standard errors. The
SDID block design's 0.080 at 1,000 draws is noise: 4,000 draws (seeds 1000-4999) give 0.021 sd
(MC s.e. 0.016), below 0.05 (jackknife coverage there 0.924, placebo 0.952 above).
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

import pilotdid as pdid
from pilotdid.datasets._simulate import simulate_yrd

pytestmark = pytest.mark.slow

DRAWS = 1000
Z = 1.959963984540054


def _draw(i: int):
    return simulate_yrd(seed=1000 + i, rho=0.0, theta=0.0, digits=None)


def _report(name: str, err: np.ndarray, se: np.ndarray) -> tuple[float, float]:
    bias_sd = float(err.mean() / err.std())
    cover = float(np.mean(np.abs(err) <= Z * se))
    print(
        f"{name}: {err.size} draws, bias {err.mean():.5f} = {bias_sd:.3f} sd (MC s.e. "
        f"{1 / np.sqrt(err.size):.3f} sd), sd {err.std():.5f}, mean SE {se.mean():.5f}, "
        f"95% coverage {cover:.3f}"
    )
    return bias_sd, cover


def test_sdid_block_design_bias_and_placebo_coverage():
    err, se = [], []
    for i in range(DRAWS):
        df, truth = _draw(i)
        block = df.filter(pl.col("cohort").is_in([0, 2013]))
        att = {g["group"]: g["att"] for g in truth["aggregations"]["structural"]["group"]}
        r = pdid.synthdid(
            block, y="gtfp", unit="city", time="year", cohort="cohort", reps=200, seed=i
        )
        err.append(r.estimate - att[2013])
        se.append(r.std_error)
    bias_sd, cover = _report("SDID block (2013 cohort)", np.array(err), np.array(se))
    assert abs(bias_sd) < 0.05 + 2 / np.sqrt(DRAWS)
    assert 0.93 <= cover <= 0.97


def test_sdid_staggered_bias_and_fixed_design_jackknife_coverage():
    """The truth is ``structural.simple``, the N_tr x T_post-weighted mean of the cohort ATTs
    with the generator's fixed cohorts (Arkhangelsky et al. 2021, Appendix A, whose estimand
    conditions on the adoption design). Its variance is estimated by the jackknife with the
    cohort weights held at the full sample's (``vcov="jackknife_fixed"``): measured at 1,000
    draws, coverage 0.942 (mean SE 0.00858 vs sd 0.00866). R's jackknife (``"jackknife"``,
    as synthdid-py) recomputes the weights from the leave-one-out cohort sizes, adding the
    variance of the cohort mix (cohort effects 0.082 / 0.057 / 0.04): 0.970 (mean SE
    0.00943), printed. The placebo (0.981, mean SE 0.0109, module docstring) re-runs SDID on
    11 of the 26 controls, a noisier estimator than the one on 26; its band is not tested."""
    err, se_fixed, se_r = [], [], []
    for i in range(DRAWS):
        df, truth = _draw(i)
        kw = dict(y="gtfp", unit="city", time="year", cohort="cohort")
        r = pdid.synthdid(df, vcov="jackknife_fixed", **kw)
        r_jk = pdid.synthdid(df, vcov="jackknife", **kw)
        assert r.estimate == r_jk.estimate
        err.append(r.estimate - truth["aggregations"]["structural"]["simple"])
        se_fixed.append(r.std_error)
        se_r.append(r_jk.std_error)
    err_a = np.array(err)
    bias_sd, cover = _report("SDID staggered (jackknife, fixed design)", err_a, np.array(se_fixed))
    _, cover_r = _report("SDID staggered (R jackknife)", err_a, np.array(se_r))
    assert abs(bias_sd) < 0.05 + 2 / np.sqrt(DRAWS)
    assert 0.93 <= cover <= 0.97
    assert cover_r >= cover


def _ddd_panel(df: pl.DataFrame, truth: dict, rng: np.random.Generator) -> pl.DataFrame:
    y0 = df["gtfp_dose"] - truth["parameters"]["dose_theta"] * np.log1p(df["intensity_latent"])
    base = df.select("city", "year", "cohort")
    cities = df["city"].unique(maintain_order=True).to_list()
    level = dict(zip(cities, 0.05 * rng.normal(size=len(cities))))
    eligible = base.with_columns(
        y=df["gtfp"], eligible=pl.lit(1), unit=pl.col("city") + ":eligible"
    )
    other = base.with_columns(
        y=y0 + df["city"].replace_strict(level) + 0.02 * rng.normal(size=df.height),
        eligible=pl.lit(0),
        unit=pl.col("city") + ":other",
    )
    return pl.concat([eligible, other])


def test_staggered_ddd_bias_and_coverage():
    """The truth is ``structural.simple``: the cohort-size weighted mean of ATT(g,t) over
    post cells with the generator's fixed cohorts (the same 15 pilot cities in every draw),
    i.e. the estimand conditional on the cohort sizes. Its variance has no share term, so
    coverage is judged with the conditional SE (``aggregate(cohort_shares="fixed")``, the IF
    without R's ``wif`` term; tests/test_ddd.py checks it against numpy): measured at 1,000
    draws, 0.932 (mean SE 0.00559 vs sd 0.00589; 41 clusters make the cluster-robust SE a
    little small). The package's aggregate SE (as moderndid, for the population-weighted
    ATT with cohort membership sampled) adds the variance of the estimated shares, which
    this design does not have: coverage 0.984 (mean SE 0.00734); it is printed, and only
    required to be at least as large."""
    err, se, se_pkg = [], [], []
    for i in range(DRAWS):
        df, truth = _draw(i)
        panel = _ddd_panel(df, truth, np.random.default_rng(i))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = pdid.ddd(
                panel,
                y="y",
                unit="unit",
                time="year",
                partition="eligible",
                cohort="cohort",
                cluster="city",
            )
        agg = r.aggregate(type="simple")
        fixed = r.aggregate(type="simple", cohort_shares="fixed")
        assert fixed.overall_att == agg.overall_att
        err.append(agg.overall_att - truth["aggregations"]["structural"]["simple"])
        se.append(fixed.overall_se)
        se_pkg.append(agg.overall_se)
    err_a = np.array(err)
    bias_sd, cover = _report("staggered DDD (simple, conditional SE)", err_a, np.array(se))
    _, cover_pkg = _report("staggered DDD (simple, package SE)", err_a, np.array(se_pkg))
    assert abs(bias_sd) < 0.05 + 2 / np.sqrt(DRAWS)
    assert 0.93 <= cover <= 0.97
    assert cover_pkg >= cover

"""Golden calls, regression family: ``feols`` (iid, HC1, CR1, two-way CR1, weights, several
and interacted fixed effects, singletons, missing values, collinearity, formula transforms),
its wild cluster bootstrap (draws, p-value, interval) and ``describe``.

Each call runs one fixed call on fixed data and returns a flat dict of the numbers the result
exposes today (see _golden.py for how they are stored)."""

from __future__ import annotations

from typing import Any

import _data as D
from _golden import frame, named

import pilotdid as pdid


def _feols(res: pdid.FeolsResult, level: float = 0.95) -> dict[str, Any]:
    """Everything a FeolsResult exposes as numbers."""
    out: dict[str, Any] = {"coefnames": list(res.coefnames)}
    out.update(named(res.coef(), "coef"))
    out.update(named(res.se(), "se"))
    out.update(named(res.tstat(), "tstat"))
    out.update(named(res.pvalue(), "pvalue"))
    out["vcov"] = res.vcov()
    out.update(frame(res.tidy(level), "tidy"))
    out.update(frame(res.confint(0.9), "confint90"))
    out.update(
        {
            "nobs": res.nobs,
            "r2": res.r2,
            "r2_within": res.r2_within,
            "collinear": res.collinear,
            "n_singletons": res.n_singletons,
            "n_clusters": res.n_clusters,
            "df_t": res.df_t,
            "vcov_type": res.vcov_type,
        }
    )
    out.update(named(res.dropped_rows, "dropped_rows"))
    out.update(named(res.fixef_levels, "fixef_levels"))
    return out


def _wild(w: pdid.WildBootResult) -> dict[str, Any]:
    return {
        "wb.hypothesis": w.hypothesis,
        "wb.estimate": w.estimate,
        "wb.t_stat": w.t_stat,
        "wb.p_value": w.p_value,
        "wb.conf_int": w.conf_int,
        "wb.reps": w.reps,
        "wb.t_boot": w.t_boot,
        "wb.fe_as_dummies": w.fe_as_dummies,
        "wb.fe_exact": w.fe_exact,
    }


BASELINE = "gtfp ~ did + " + " + ".join(D.CONTROLS) + " | city + year"


def feols_iid_intercept():
    return _feols(pdid.feols("y ~ x1 + x2", D.panel(), vcov="iid"))


def feols_hetero():
    return _feols(pdid.feols("y ~ x1 + x2 + x3", D.panel(), vcov="hetero"))


def feols_fe_default_cr1():
    """Default variance with fixed effects: CR1 by the first fixed effect."""
    return _feols(pdid.feols("y ~ x1 + x2 + x3 + d | unit + year", D.panel()))


def feols_cr1_prov_level90():
    res = pdid.feols("y ~ x1 + x2 + d | unit + year", D.panel(), vcov={"CR1": "prov"})
    return _feols(res, level=0.9)


def feols_twoway_cluster():
    return _feols(pdid.feols("y ~ x1 + x2 + d | unit + year", D.panel(), vcov={"CR1": "unit+year"}))


def feols_weights():
    res = pdid.feols("y ~ x1 + x2 + d | unit + year", D.panel(), vcov={"CR1": "unit"}, weights="w")
    return _feols(res)


def feols_three_fe():
    return _feols(pdid.feols("y ~ x1 + x2 + x3 | unit + year + ind", D.panel(), vcov="hetero"))


def feols_interacted_fe():
    res = pdid.feols("y ~ x1 + x2 + x3 | unit + prov^year", D.panel(), vcov={"CR1": "unit"})
    return _feols(res)


def feols_collinear():
    return _feols(pdid.feols("y ~ x1 + xlin + x2 + x3 | unit + year", D.panel(), vcov="iid"))


def feols_transforms():
    # np.sqrt, not np.log: sqrt is correctly rounded (IEEE 754) on every CPU, while numpy's
    # SIMD log differs in the last bits between AVX2 and AVX-512 machines (the recording
    # would then be a property of the machine, not of pilotdid).
    res = pdid.feols("y ~ x1 + I(x1 ** 2) + np.sqrt(xp) | unit + year", D.panel())
    return _feols(res)


def feols_singletons_missing_kept():
    return _feols(pdid.feols("y ~ x1 + x2 | unit + year", D.panel_singletons()))


def feols_singletons_removed():
    res = pdid.feols("y ~ x1 + x2 | unit + year", D.panel_singletons(), fixef_rm="singleton")
    return _feols(res)


def feols_yrd_baseline():
    return _feols(pdid.feols(BASELINE, D.yrd(), vcov={"CR1": "city"}))


def wildboot_rademacher_yrd():
    res = pdid.feols(BASELINE, D.yrd(), vcov={"CR1": "city"})
    return _wild(res.wildboottest("did", reps=199, seed=1))


def wildboot_webb_r_level90():
    res = pdid.feols("y ~ x1 + x2 + d | unit + year", D.panel(), vcov={"CR1": "unit"})
    return _wild(res.wildboottest("d", reps=149, seed=7, weight_type="webb", r=0.5, level=0.9))


def wildboot_combination():
    res = pdid.feols("y ~ x1 + x2 + d | unit + year", D.panel(), vcov={"CR1": "prov"})
    return _wild(res.wildboottest({"x1": 1.0, "x2": -1.0}, reps=99, seed=3))


def wildboot_fe_as_dummies():
    """Year effects are not nested in the unit clusters: they enter the bootstrap as dummies."""
    res = pdid.feols("y ~ x1 + d | year", D.panel(), vcov={"CR1": "unit"})
    return _wild(res.wildboottest("d", reps=99, seed=5, weight_type="webb"))


def describe_yrd():
    cols = ["gtfp", "did", *D.CONTROLS]
    t = pdid.describe(
        D.yrd(),
        columns=cols,
        digits=10,
        stats=("N", "mean", "sd", "min", "p25", "p50", "p75", "max"),
    )
    return frame(t.frame, "describe")


CALLS = {
    f.__name__: f
    for f in (
        feols_iid_intercept,
        feols_hetero,
        feols_fe_default_cr1,
        feols_cr1_prov_level90,
        feols_twoway_cluster,
        feols_weights,
        feols_three_fe,
        feols_interacted_fe,
        feols_collinear,
        feols_transforms,
        feols_singletons_missing_kept,
        feols_singletons_removed,
        feols_yrd_baseline,
        wildboot_rademacher_yrd,
        wildboot_webb_r_level90,
        wildboot_combination,
        wildboot_fe_as_dummies,
        describe_yrd,
    )
}

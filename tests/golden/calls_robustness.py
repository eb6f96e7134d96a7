"""Golden calls, robustness family: ``placebo`` (every scheme, with a seed, its draws and
assignments; heterogeneity-robust statistics; exact enumeration), ``psm_did`` (nearest with
and without replacement, caliper, by year, kernel, weighted DID), ``winsorize`` and the
``robustness`` battery with every kind of check.

Each call runs one fixed call on fixed data and returns a flat dict of the numbers the result
exposes today (see _golden.py for how they are stored)."""

from __future__ import annotations

import warnings
from typing import Any

import _data as D
from _golden import frame

import pilotdid as pdid

BASELINE = "gtfp ~ did + " + " + ".join(D.CONTROLS) + " | city + year"


def _baseline() -> pdid.FeolsResult:
    return pdid.feols(BASELINE, D.yrd(), vcov={"CR1": "city"})


def _placebo(res: pdid.PlaceboResult, draws: tuple[int, ...] = (0, 1)) -> dict[str, Any]:
    out: dict[str, Any] = {
        "treatment": res.treatment,
        "actual": res.actual,
        "estimates": res.estimates,
        "pvalue": res.p_value_ri,
        "pvalue_plus_one": res.pvalue_plus_one,
        "n_valid": res.n_valid,
        "n_degenerate": res.n_degenerate,
        "scheme": res.scheme,
        "reps": res.reps,
        "seed": res.seed,
        "enumerated": res.enumerated,
        "model_coef": res.model_coef,
    }
    out.update(frame(res.placebo_stats(), "tidy"))
    for r in draws:
        a = res.assignment(r)
        out[f"assignment{r}.units"] = [str(u) for u in a]
        out[f"assignment{r}.cohorts"] = list(a.values())
    return out


def placebo_units():
    return _placebo(pdid.placebo(_baseline(), data=D.yrd(), reps=199, scheme="units", seed=5))


def placebo_times():
    return _placebo(pdid.placebo(_baseline(), data=D.yrd(), reps=149, scheme="times", seed=6))


def placebo_both():
    return _placebo(pdid.placebo(_baseline(), data=D.yrd(), reps=149, scheme="both", seed=7))


def placebo_weighted_generated():
    fit = pdid.feols("y ~ d + x1 | unit + year", D.panel(), vcov={"CR1": "unit"}, weights="w")
    res = pdid.placebo(fit, data=D.panel(), reps=99, scheme="units", seed=8)
    out = _placebo(res)
    out["placebo_data0.d"] = res.placebo_data(0).get_column("d")
    return out


def placebo_statistic_did2s():
    fit = pdid.feols("gtfp ~ did | city + year", D.yrd(), vcov={"CR1": "city"})
    return _placebo(pdid.placebo(fit, data=D.yrd(), reps=19, seed=9, statistic="did2s"))


def placebo_statistic_cs():
    fit = pdid.feols("y ~ d | unit + year", D.panel(), vcov={"CR1": "unit"})
    return _placebo(pdid.placebo(fit, data=D.panel(), reps=19, seed=10, statistic="cs"))


def placebo_enumerated():
    """15 distinct assignments < reps: every one is evaluated once (exact p-value)."""
    fit = pdid.feols("y ~ d | unit + year", D.tiny_placebo(), vcov="iid")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = pdid.placebo(fit, data=D.tiny_placebo(), reps=100, scheme="units", seed=0)
    return _placebo(res, draws=(0, 14))


def _psm(res: pdid.PsmDidResult) -> dict[str, Any]:
    out: dict[str, Any] = frame(res.logit, "logit")
    out.update(frame(res.balance, "balance"))
    out.update(
        {
            "pscore": res.pscore,
            "weights": res.weights,
            "method": res.method,
            "n_off_support": res.n_off_support,
            "n_unmatched": res.n_unmatched,
            "n_dropped_missing": res.n_dropped_missing,
            "pairs": res.pairs,
            "matched_rows": res.matched_data.height,
        }
    )
    if res.did is not None:
        out.update(frame(res.did.tidy(), "did"))
        out["did.nobs"] = res.did.nobs
    return out


def _yrd_treat():
    return D.yrd().with_columns(treat_group=(D.yrd()["cohort"] > 0).cast(float))


def psm_nearest_by_year():
    res = pdid.psm_did(
        _yrd_treat(),
        treatment="treat_group",
        controls=D.CONTROLS,
        fml=BASELINE,
        by="year",
        vcov={"CR1": "city"},
    )  # fmt: skip
    return _psm(res)


def psm_nearest_k2_caliper_no_replace():
    res = pdid.psm_did(
        _yrd_treat(),
        treatment="treat_group",
        controls=D.CONTROLS[:3],
        fml=BASELINE,
        k=2,
        caliper=0.05,
        replace=False,
        common_support=False,
    )  # fmt: skip
    return _psm(res)


def psm_kernel_weights():
    res = pdid.psm_did(
        _yrd_treat(),
        treatment="treat_group",
        controls=D.CONTROLS,
        fml=BASELINE,
        method="kernel",
        kernel="gaussian",
        bandwidth=0.08,
        did_sample="weights",
        vcov={"CR1": "city"},
    )  # fmt: skip
    return _psm(res)


def winsorize_by_year():
    w = pdid.winsorize(D.yrd(), columns=["gtfp", "ln_gdp_pc"], lower=0.05, upper=0.9, by="year")
    p = pdid.winsorize(D.yrd(), columns="fdi_share")
    return {"gtfp": w["gtfp"], "ln_gdp_pc": w["ln_gdp_pc"], "fdi_share": p["fdi_share"]}


def robustness_battery():
    df = _yrd_treat().with_columns(
        other_pilot=((D.yrd()["city_id"] % 7 == 0) & (D.yrd()["year"] >= 2012)).cast(float)
    )
    base = pdid.feols(BASELINE, df, vcov={"CR1": "city"})
    checks = [
        {"kind": "winsorize", "lower": 0.01, "upper": 0.99},
        {"kind": "winsorize", "columns": ["gtfp"], "lower": 0.05, "upper": 0.95, "by": "year"},
        {"kind": "drop_units", "units": ["Shanghai", "Nanjing", "Hangzhou", "Hefei"]},
        {"kind": "window", "start": 2008, "end": 2019},
        {"kind": "controls", "controls": ["pop_density", "human_capital"]},
        {"kind": "outcome", "y": "ln_green_patents"},
        {"kind": "exclude_units", "flags": "other_pilot"},
        {"kind": "exclude_units", "flags": "other_pilot", "mode": "control", "label": "ctrl"},
        pdid.Check("psm", treatment="treat_group", controls=D.CONTROLS[:2], by="year"),
        pdid.Check("placebo", reps=49, seed=12, scheme="times"),
    ]
    res = pdid.robustness(base, checks=checks, data=df)
    out: dict[str, Any] = frame(res.table, "table")
    out["models"] = list(res.models)
    return out


CALLS = {
    f.__name__: f
    for f in (
        placebo_units,
        placebo_times,
        placebo_both,
        placebo_weighted_generated,
        placebo_statistic_did2s,
        placebo_statistic_cs,
        placebo_enumerated,
        psm_nearest_by_year,
        psm_nearest_k2_caliper_no_replace,
        psm_kernel_weights,
        winsorize_by_year,
        robustness_battery,
    )
}
